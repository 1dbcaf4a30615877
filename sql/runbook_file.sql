--
-- runbook_file: the rekey runbook (spec 000, "Rekey", steps 1-4) on the
-- file keystore, its statements verbatim through ADMINISTER KEY MANAGEMENT:
-- open the keystore with the password from the external store, look at the
-- keys, SET KEY FORCE KEYSTORE ... WITH BACKUP USING 'new_mek_wallet', look
-- again.
--
-- Expects: encryption has run: the password keystore closed, with master
--          keys and relation keys; the external store without a secret.
-- Leaves:  the keystore open with one more key, active; the secret of
--          TDE_WALLET in the external store.
--
\set SHOW_CONTEXT never

-- Configure the external store (the runbook's prerequisite): the
-- keystore password for client TDE_WALLET
SET ROLE regress_keyadm;
SELECT tde_test.akm(format('ADMINISTER KEY MANAGEMENT ADD SECRET ''regress_pw1'' FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE %L',
					 current_setting('tde.wallet_root') || '/tde_seps'));
SELECT * FROM kt.wallet;

--
-- Step 1: open the keystore
--
SELECT tde.administer_key_management('ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE;');
SELECT * FROM kt.wallet;
-- opening starts re-wrap workers for every database: let them finish
-- before the next rekey (a worker that read the active key before a rekey
-- and ran after it would re-wrap under the older key)
SELECT kt.wait_rewrap() AS settled;

--
-- Step 2: the keys.  The runbook's query, with USER quoted (unquoted it is
-- SQL's CURRENT_USER); a view runs it so that the output can be masked:
-- times and key ids differ from run to run.
--
CREATE TEMP VIEW step_query AS
SELECT key_id, tag, creation_time, activation_time, creator, "user", key_use, backed_up, creator_dbname FROM v$encryption_keys;

CREATE TEMP VIEW step_masked AS
SELECT row_number() OVER (ORDER BY creation_time DESC) AS age_rank,
	   length(key_id) AS key_id_len, key_id ~ '^A[A-Za-z0-9+/]{23}A{28}$' AS key_id_shape,
	   key_id = kt.active_key() AS active,
	   tag, creation_time IS NOT NULL AS has_creation_time,
	   activation_time IS NOT NULL AS has_activation_time,
	   creator, "user", key_use, backed_up, creator_dbname
FROM step_query;

SELECT count(*) AS keys, count(*) FILTER (WHERE active) AS active_keys,
	   count(*) FILTER (WHERE key_id_len = 52 AND key_id_shape) AS well_formed,
	   count(DISTINCT key_use) AS key_uses, min(creator_dbname) AS creator_dbname
FROM step_masked;
-- the active key (the one in use before the rekey)
SELECT * FROM step_masked WHERE active;
SELECT count(*) AS keys_before, kt.active_key() AS active_before FROM step_query \gset
SELECT tde_test.md5('tde/ewallet.p12') AS ewallet_before \gset

--
-- Step 3: a new master key, with a backup named new_mek_wallet
--
SELECT tde.administer_key_management('ADMINISTER KEY MANAGEMENT SET KEY FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP USING ''new_mek_wallet'';');

--
-- Step 4: the query again: one more key, the newest, and it is the active
-- one; the keystore was backed up first
--
SELECT count(*) - :keys_before AS new_keys FROM step_query;
SELECT * FROM step_masked WHERE age_rank <= 2 ORDER BY age_rank;
SELECT key_id <> :'active_before' AS changed, key_id = kt.newest_key() AS newest
FROM step_query WHERE key_id = kt.active_key();
SELECT * FROM kt.wallet;
SELECT * FROM tde_test.ls('tde') AS f WHERE f LIKE '%new_mek_wallet%';
-- the backup is the keystore as it was before the new key
RESET ROLE;
SELECT f ~ '^ewallet_[0-9]{16}_new_mek_wallet\.p12$' AS oracle_name,
	   abs(extract(epoch FROM to_timestamp(substr(f, 9, 14), 'YYYYMMDDHH24MISS')::timestamp
				   - (now() AT TIME ZONE 'UTC'))) < 300 AS utc_timestamp,
	   tde_test.md5('tde/' || f) = :'ewallet_before' AS is_previous_keystore,
	   tde_test.md5('tde/ewallet.p12') <> :'ewallet_before' AS keystore_changed
FROM pg_ls_dir(current_setting('tde.wallet_root') || '/tde') AS f
WHERE f LIKE '%new_mek_wallet%';
SET ROLE regress_keyadm;

-- the relation keys follow the new key, and the data decrypts
SELECT count(*) AS relation_keys,
	   count(*) FILTER (WHERE master_key_id = kt.active_key()) AS wrapped_by_active
FROM tde.relation_keys;
SELECT count(*) FILTER (WHERE tde.decrypt_text('kt.e', v) = 'row ' || id) AS decrypted FROM kt.e;
RESET ROLE;
