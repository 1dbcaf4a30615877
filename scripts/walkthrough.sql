-- scripts/walkthrough.sql: the tde keystore lifecycle, step by step.
--
-- Run by scripts/demo.sh against a fresh server with
--   shared_preload_libraries = 'tde' and tde.wallet_root set,
-- as a superuser, with psql -X -v ON_ERROR_STOP=1 -e (so each statement is
-- shown before its result).  Every step runs an Oracle ADMINISTER KEY
-- MANAGEMENT statement verbatim through tde.administer_key_management(), or
-- its typed equivalent, then shows v$encryption_wallet.
--
-- The passwords are written here in clear because this is a demonstration
-- on a throwaway server; tde keeps them out of the server log.

\set ON_ERROR_STOP on
\set QUIET on
\pset null '-'
\pset footer off
\set QUIET off

\echo
\echo '=== 1. Install the extension ==='
\echo 'Before any keystore exists the wallet is NOT_AVAILABLE.'
CREATE EXTENSION tde;
SHOW tde.wallet_root;
SELECT * FROM v$encryption_wallet;

\echo
\echo '=== 2. Create the password-protected keystore ==='
\echo 'It is written to <wallet_root>/tde/ewallet.p12 (PKCS#12) and stays CLOSED.'
SELECT tde.administer_key_management(
  $$ADMINISTER KEY MANAGEMENT CREATE KEYSTORE IDENTIFIED BY "Demo_Pass1"$$);
SELECT * FROM v$encryption_wallet;

\echo
\echo '=== 3. A wrong password is refused, with the Oracle error in the detail ==='
\echo '(This error is expected; the walkthrough goes on.)'
\set ON_ERROR_STOP off
SELECT tde.administer_key_management(
  $$SET KEYSTORE OPEN IDENTIFIED BY "not_the_password"$$);
\set ON_ERROR_STOP on
SELECT status FROM v$encryption_wallet;

\echo
\echo '=== 4. Open it ==='
\echo 'Opening is instance-wide.  No master key exists yet: OPEN_NO_MASTER_KEY.'
SELECT tde.administer_key_management(
  $$ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "Demo_Pass1"$$);
SELECT * FROM v$encryption_wallet;

\echo
\echo '=== 5. Back it up ==='
\echo 'The typed function returns the backup file name, Oracle style:'
\echo 'ewallet_<UTC timestamp>_<identifier>.p12 beside the keystore.'
SELECT tde.backup_keystore(password => 'Demo_Pass1',
                           backup_identifier => 'demo') AS backup_file;
\echo 'The same through the Oracle statement (the leading words are optional):'
SELECT tde.administer_key_management(
  $$BACKUP KEYSTORE USING 'before_password_change' IDENTIFIED BY "Demo_Pass1"$$);
SELECT * FROM v$encryption_wallet;

\echo
\echo '=== 6. Change the keystore password, keeping a backup of the old one ==='
SELECT tde.administer_key_management(
  $$ALTER KEYSTORE PASSWORD IDENTIFIED BY "Demo_Pass1" SET "Demo_Pass2"
    WITH BACKUP USING 'password_change'$$);
SELECT * FROM v$encryption_wallet;

\echo
\echo '=== 7. Store the keystore password in the external store ==='
\echo 'Client TDE_WALLET in <wallet_root>/tde_seps/cwallet.sso lets'
\echo 'IDENTIFIED BY EXTERNAL STORE stand in for the password.'
SELECT current_setting('tde.wallet_root') || '/tde_seps' AS seps \gset
SELECT tde.administer_key_management(format(
  $$ADD SECRET 'Demo_Pass2' FOR CLIENT 'TDE_WALLET' TO AUTO_LOGIN KEYSTORE %L$$,
  :'seps'));

\echo
\echo '=== 8. Close, then reopen with the password from the external store ==='
SELECT tde.administer_key_management(
  $$SET KEYSTORE CLOSE IDENTIFIED BY EXTERNAL STORE$$);
SELECT * FROM v$encryption_wallet;
SELECT tde.administer_key_management(
  $$SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE$$);
SELECT * FROM v$encryption_wallet;
\echo 'The typed functions do the same:'
SELECT tde.close_keystore(external_store => true);
SELECT tde.open_keystore(external_store => true);
SELECT status, wallet_type FROM v$encryption_wallet;

\echo
\echo '=== 8a. Set the first master key (SET KEY: create and activate) ==='
\echo 'Every change to a password keystore needs WITH BACKUP (ORA-46631).'
SELECT tde.administer_key_management(
  $$SET KEY USING TAG 'first' IDENTIFIED BY EXTERNAL STORE WITH BACKUP USING 'first_key'$$);
SELECT * FROM v$encryption_wallet;
SELECT key_id, tag, activation_time IS NOT NULL AS active, "user", key_use,
       keystore_type, origin, backed_up
  FROM v$encryption_keys ORDER BY creation_time;

\echo
\echo '=== 8b. Encrypt data: a relation key per table, wrapped by the master key ==='
CREATE TABLE demo_card (id int PRIMARY KEY, holder text, number_enc bytea);
INSERT INTO demo_card
  SELECT g, 'holder ' || g, tde.encrypt('demo_card', format('4000-0000-0000-%s', lpad(g::text, 4, '0')))
  FROM generate_series(1, 5) g;
SELECT id, holder, length(number_enc) AS ciphertext_bytes,
       tde.decrypt_text('demo_card', number_enc) AS number
  FROM demo_card ORDER BY id;
SELECT relid, key_version, master_key_id, rewrapped_at FROM tde.relation_keys;

\echo
\echo '=== 8c. Rekey: a new master key; relation keys re-wrapped, data untouched ==='
SELECT tde.set_key(tag => 'rekey', external_store => true, with_backup => true,
                   backup_identifier => 'rekey') AS new_key_id \gset
SELECT key_id, tag, activation_time IS NOT NULL AS activated, backed_up
  FROM v$encryption_keys ORDER BY creation_time;
SELECT relid, key_version, master_key_id = :'new_key_id' AS wrapped_by_new_key,
       rewrapped_at IS NOT NULL AS rewrapped
  FROM tde.relation_keys;
SELECT count(*) FILTER (WHERE tde.decrypt_text('demo_card', number_enc) LIKE '4000-%')
       AS still_decrypts FROM demo_card;
SELECT * FROM v$encryption_wallet;

\echo
\echo '=== 8d. A user-supplied key for later use, activated by USE KEY ==='
SELECT tde.administer_key_management(
  $$CREATE KEY 'D20765EB721AF44D054B30FE87F8E49A:5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11'
    IDENTIFIED BY EXTERNAL STORE WITH BACKUP$$);
SELECT key_id, activation_time IS NULL AS not_yet_used FROM v$encryption_keys
  WHERE key_id = 'AdIHZetyGvRNBUsw/of45JoAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
SELECT tde.administer_key_management(
  $$USE KEY 'AdIHZetyGvRNBUsw/of45JoAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' USING TAG 'supplied'
    IDENTIFIED BY EXTERNAL STORE WITH BACKUP$$);
SELECT relid, master_key_id FROM tde.relation_keys;

\echo
\echo '=== 8e. A closed keystore stops decryption; reopening restores it ==='
SELECT tde.close_keystore(external_store => true);
\set ON_ERROR_STOP off
SELECT tde.decrypt_text('demo_card', number_enc) FROM demo_card LIMIT 1;
\set ON_ERROR_STOP on
SELECT tde.open_keystore(external_store => true);
SELECT tde.decrypt_text('demo_card', number_enc) FROM demo_card ORDER BY id LIMIT 1;

\echo
\echo '=== 9. Create an auto-login keystore from the password keystore ==='
\echo '<wallet_root>/tde/cwallet.sso opens without a password (LOCAL would bind it'
\echo 'to this host).  Its protection is the file mode: keep wallet_root private.'
SELECT tde.administer_key_management(
  $$CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY "Demo_Pass2"$$);
SELECT * FROM v$encryption_wallet;

\echo
\echo '=== 10. Close, and let the auto-login keystore open on first use ==='
\echo 'Reading the view is a use: the auto-login keystore opens by itself,'
\echo 'so the view shows OPEN with WALLET_TYPE AUTOLOGIN.'
SELECT tde.administer_key_management(
  $$SET KEYSTORE CLOSE IDENTIFIED BY "Demo_Pass2"$$);
SELECT * FROM v$encryption_wallet;
SELECT count(*) AS rows_decrypting_after_auto_open
  FROM demo_card WHERE tde.decrypt_text('demo_card', number_enc) LIKE '4000-%';

\echo
\echo '=== 11. Migrate the master key into an HSM (SoftHSM2, token "tde") ==='
\echo 'With tde.keystore_configuration = HSM|FILE the HSM is primary and the'
\echo 'wallet secondary: MIGRATE makes a master key inside the HSM (it never'
\echo 'leaves it) and re-wraps every relation key under it.'
ALTER SYSTEM SET tde.keystore_configuration = 'HSM|FILE';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SELECT tde.administer_key_management(
  $$SET ENCRYPTION KEY IDENTIFIED BY "demo-pin" MIGRATE USING "Demo_Pass2" WITH BACKUP USING 'to_hsm'$$);
SELECT * FROM v$encryption_wallet;
SELECT key_id, keystore_type, activation_time IS NOT NULL AS activated
  FROM v$encryption_keys ORDER BY creation_time;
SELECT r.relid, k.keystore_type AS wrapped_by
  FROM tde.relation_keys r JOIN v$encryption_keys k ON k.key_id = r.master_key_id;
SELECT count(*) FILTER (WHERE tde.decrypt_text('demo_card', number_enc) LIKE '4000-%')
       AS still_decrypts FROM demo_card;

\echo
\echo '=== 12. The HSM runbook: open by EXTERNAL STORE, rekey inside the HSM ==='
SELECT tde.administer_key_management(format(
  $$ADD SECRET 'demo-pin' FOR CLIENT 'HSM_PASSWORD' TO AUTO_LOGIN KEYSTORE %L$$,
  :'seps'));
SELECT tde.administer_key_management($$SET KEYSTORE CLOSE$$);
SELECT tde.administer_key_management($$SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE$$);
SELECT tde.administer_key_management(
  $$ADMINISTER KEY MANAGEMENT SET KEY FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP USING 'new_mek_wallet';$$);
SELECT key_id, keystore_type, activation_time IS NOT NULL AS activated
  FROM v$encryption_keys WHERE keystore_type = 'HSM' ORDER BY creation_time;
\echo 'An HSM keystore cannot be backed up or exported from the database:'
\set ON_ERROR_STOP off
SELECT tde.administer_key_management(
  $$BACKUP KEYSTORE USING 'new_mek' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE$$);
\set ON_ERROR_STOP on

\echo
\echo '=== 13. Reverse migrate: the wallet is primary again, the HSM secondary ==='
ALTER SYSTEM SET tde.keystore_configuration = 'FILE|HSM';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SELECT tde.administer_key_management(
  $$SET ENCRYPTION KEY IDENTIFIED BY "Demo_Pass2" REVERSE MIGRATE USING "demo-pin" WITH BACKUP USING 'from_hsm'$$);
SELECT * FROM v$encryption_wallet;
SELECT r.relid, k.keystore_type AS wrapped_by
  FROM tde.relation_keys r JOIN v$encryption_keys k ON k.key_id = r.master_key_id;
SELECT count(*) FILTER (WHERE tde.decrypt_text('demo_card', number_enc) LIKE '4000-%')
       AS still_decrypts FROM demo_card;
ALTER SYSTEM RESET tde.keystore_configuration;
SELECT pg_reload_conf();

\echo
\echo '=== Done ==='
