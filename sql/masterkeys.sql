--
-- masterkeys: SET KEY, CREATE KEY, USE KEY and SET TAG, each through
-- ADMINISTER KEY MANAGEMENT and through its typed function; backup flags,
-- user-supplied keys, algorithms, FORCE KEYSTORE, EXTERNAL STORE, the
-- KEY_ID format and v$encryption_keys.
--
-- Expects: keys_setup has run: <root>/tde/ewallet.p12 (password
--          regress_pw1) open, no master key; no external store.
-- Leaves:  the keystore open with the keys made here (the active one an
--          AES256 key); no external store; no relation key.
--
\set SHOW_CONTEXT never
SET ROLE regress_keyadm;

--
-- WITH BACKUP is mandatory for a password keystore (ORA-46631), and a
-- refused statement changes nothing
--
SELECT tde_test.md5('tde/ewallet.p12') AS ewallet_v0 \gset
SELECT tde_test.akm('SET KEY IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY USING TAG ''t'' IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.set_key(password => 'regress_pw1')$$);
SELECT tde_test.try($$SELECT tde.set_key(password => 'regress_pw1', with_backup => false)$$);
SELECT tde_test.akm('CREATE KEY IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.create_key(password => 'regress_pw1')$$);
SELECT count(*) AS keys FROM v$encryption_keys;
SELECT * FROM kt.wallet;
SELECT tde_test.md5('tde/ewallet.p12') = :'ewallet_v0' AS wallet_unchanged;
SELECT * FROM tde_test.ls('tde');
-- the typed functions need exactly one of password and external_store
SELECT tde_test.try($$SELECT tde.set_key(with_backup => true)$$);
SELECT tde_test.try($$SELECT tde.set_key(password => 'regress_pw1', external_store => true, with_backup => true)$$);

--
-- SET KEY ... WITH BACKUP: the first master key
--
SELECT tde_test.akm('ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT * FROM kt.wallet;
SELECT * FROM kt.keys;
SELECT creation_time IS NOT NULL AS created, activation_time IS NOT NULL AS activated,
	   activation_time >= creation_time AS activated_after_creation
FROM v$encryption_keys;
-- the backup was taken before the key existed
SELECT * FROM tde_test.ls('tde');
SELECT key_id AS k1 FROM v$encryption_keys \gset

-- The KEY_ID: base64 of 0x01 || MKID || 22 zero bytes, 52 characters
-- ending in a run of A
SELECT length(:'k1') AS len, :'k1' ~ '^A[A-Za-z0-9+/]{23}A{28}$' AS shape,
	   :'k1' ~ 'A{20,}$' AS ends_in_a,
	   length(decode(:'k1', 'base64')) AS raw_len,
	   get_byte(decode(:'k1', 'base64'), 0) AS first_byte,
	   substr(decode(:'k1', 'base64'), 18) = decode(repeat('00', 22), 'hex') AS zero_tail,
	   substr(decode(:'k1', 'base64'), 2, 16) <> decode(repeat('00', 16), 'hex') AS mkid_not_zero,
	   tde.key_id(substr(decode(:'k1', 'base64'), 2, 16)) = :'k1' AS key_id_of_mkid;

-- the other columns of v$encryption_keys
SELECT tag IS NULL AS no_tag, creator, creator_id = 'regress_keyadm'::regrole::oid AS creator_id,
	   "user", user_id = 'regress_keyadm'::regrole::oid AS user_id,
	   key_use, keystore_type, origin, backed_up,
	   creator_dbname = coalesce(nullif(current_setting('cluster_name'), ''), 'postgres') AS creator_dbname,
	   creator_dbid > 0 AS creator_dbid, creator_instance_number, creator_instance_serial,
	   creator_pdbname = current_database() AS creator_pdbname,
	   creator_pdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AS creator_pdbid,
	   creator_pdbuid = creator_pdbid AS pdbuid, creator_pdbguid,
	   activating_dbname = creator_dbname AS activating_dbname,
	   activating_dbid = creator_dbid AS activating_dbid,
	   activating_instance_number, activating_pdbname = current_database() AS activating_pdbname,
	   con_id
FROM v$encryption_keys;

-- "user" must be quoted: unquoted, user is SQL's CURRENT_USER
SELECT "user" FROM v$encryption_keys;
SELECT user = current_user AS unquoted_is_current_user FROM v$encryption_keys;

--
-- SET KEY through the typed function, with a tag and a backup identifier
--
SELECT tde.set_key(tag => 'regress t2', password => 'regress_pw1', with_backup => true,
				   backup_identifier => 'k2') AS k2 \gset
SELECT length(:'k2') AS len, :'k2' <> :'k1' AS new_key, :'k2' = kt.active_key() AS active;
SELECT * FROM kt.wallet;
-- the older key was in the backup, the new one is not
SELECT * FROM kt.keys;
SELECT * FROM tde_test.ls('tde');

-- SET KEY USING TAG, through the statement
SELECT tde_test.akm('SET ENCRYPTION KEY USING TAG ''regress t3'' IDENTIFIED BY regress_pw1 WITH BACKUP USING ''k3''');
SELECT * FROM kt.keys;
SELECT key_id AS k3 FROM v$encryption_keys WHERE tag = 'regress t3' \gset
SELECT kt.active_key() = :'k3' AS k3_active;

--
-- CREATE KEY: a key that is not activated; the active key stays
--
SELECT tde_test.akm('CREATE KEY USING TAG ''regress created4'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde.create_key(tag => 'regress created5', password => 'regress_pw1',
					  with_backup => true) AS k5 \gset
SELECT key_id AS k4 FROM v$encryption_keys WHERE tag = 'regress created4' \gset
SELECT tag, activation_time IS NULL AS not_activated, "user" IS NULL AS no_user,
	   user_id IS NULL AS no_user_id, activating_dbname IS NULL AS no_activating_db,
	   activating_pdbname IS NULL AS no_activating_pdb, backed_up
FROM v$encryption_keys WHERE key_id IN (:'k4', :'k5') ORDER BY creation_time;
SELECT kt.active_key() = :'k3' AS k3_still_active;
SELECT * FROM kt.wallet;

--
-- USE KEY: activate a created key, optionally tagging it
--
SELECT tde_test.akm(format('USE KEY %L USING TAG ''regress used4'' IDENTIFIED BY regress_pw1 WITH BACKUP', :'k4'));
SELECT kt.active_key() = :'k4' AS k4_active;
SELECT tag, activation_time IS NOT NULL AS activated, "user", backed_up
FROM v$encryption_keys WHERE key_id = :'k4';

-- typed, by another member of tde_admin: USER is who activated, CREATOR
-- who created
RESET ROLE;
CREATE ROLE regress_keyadm2 NOLOGIN IN ROLE tde_admin;
GRANT USAGE ON SCHEMA kt TO regress_keyadm2;
SET ROLE regress_keyadm2;
SELECT tde.use_key(:'k5', password => 'regress_pw1', with_backup => true);
RESET ROLE;
SET ROLE regress_keyadm;
SELECT kt.active_key() = :'k5' AS k5_active;
SELECT tag, creator, "user" FROM v$encryption_keys WHERE key_id = :'k5';
SELECT "user", count(*) FROM v$encryption_keys GROUP BY 1 ORDER BY 1;
-- the key stays active (and keeps its tag) if it is used again
SELECT tde.use_key(:'k5', password => 'regress_pw1', with_backup => true);
SELECT kt.active_key() = :'k5' AS k5_active, tag FROM v$encryption_keys WHERE key_id = :'k5';
SELECT n, len, tag, activated, active, creator, "user" FROM kt.keys;

--
-- SET TAG: the tag changes and that key is no longer backed up
--
SELECT tde_test.akm(format('SET TAG ''regress retag1'' FOR %L IDENTIFIED BY regress_pw1 WITH BACKUP', :'k1'));
SELECT key_id = :'k1' AS is_k1, tag, backed_up FROM v$encryption_keys ORDER BY creation_time;
SELECT * FROM kt.wallet;
SELECT tde.set_tag(:'k2', 'regress retag2', password => 'regress_pw1', with_backup => true);
-- k1's new tag is now in a backup, k2's is not
SELECT key_id = :'k1' AS is_k1, key_id = :'k2' AS is_k2, tag, backed_up
FROM v$encryption_keys ORDER BY creation_time;
-- tagging does not activate
SELECT kt.active_key() = :'k5' AS k5_still_active;
-- a tag is required by set_tag, and must be a line of text
SELECT tde_test.try(format('SELECT tde.set_tag(%L, NULL, password => %L, with_backup => true)', :'k2', 'regress_pw1'));
SELECT tde_test.try(format('SELECT tde.set_tag(%L, %L, password => %L, with_backup => true)', :'k2', E'a\nb', 'regress_pw1'));

--
-- BACKUP KEYSTORE: every key backed up
--
SELECT tde_test.akm('BACKUP KEYSTORE USING ''full1'' IDENTIFIED BY regress_pw1');
SELECT backed_up, count(*) FROM v$encryption_keys GROUP BY 1;
SELECT * FROM kt.wallet;
SELECT tde_test.try($$SELECT tde.backup_keystore('regress_pw1', backup_identifier => 'full2')$$);
SELECT * FROM kt.wallet;
SELECT * FROM tde_test.ls('tde');

--
-- User-supplied keys: 'mkid:mk' and 'mk'
--
SELECT tde.key_id('\xD20765EB721AF44D054B30FE87F8E49A');
SELECT tde.key_id('\x00000000000000000000000000000001');
SELECT tde_test.try($$SELECT tde.key_id('\xD20765EB721AF44D054B30FE87F8E4')$$);
SELECT tde_test.try($$SELECT tde.key_id('\xD20765EB721AF44D054B30FE87F8E49A00')$$);

SELECT count(*) AS keys_before FROM v$encryption_keys \gset
-- the example of Oracle's documentation gives Oracle's KEY_ID
SELECT tde.create_key('D20765EB721AF44D054B30FE87F8E49A:5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11',
					  password => 'regress_pw1', with_backup => true);
SELECT key_id, tag, activation_time IS NULL AS not_activated, backed_up
FROM v$encryption_keys WHERE key_id = 'AdIHZetyGvRNBUsw/of45JoAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
-- lower-case hex, through the statement, with SET (activated)
SELECT tde_test.akm('SET KEY ''0123456789abcdef0123456789abcdef:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'' USING TAG ''regress user'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT kt.active_key() = tde.key_id('\x0123456789abcdef0123456789abcdef') AS user_key_active,
	   kt.active_key();
-- 'mk' alone: the MKID is generated
SELECT tde_test.akm('CREATE ENCRYPTION KEY ''f24ce8cdae39742b5da7293da206fbd05a28b1e44c4781f801768cfdc3dbb6e2'' USING TAG ''regress mk only'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde.create_key('a24ce8cdae39742b5da7293da206fbd05a28b1e44c4781f801768cfdc3dbb6e2',
					  tag => 'regress mk only 2', password => 'regress_pw1', with_backup => true) AS kmk \gset
SELECT tag, length(key_id) AS len, key_id ~ 'A{28}$' AS shape FROM v$encryption_keys
WHERE tag LIKE 'regress mk only%' ORDER BY creation_time;
SELECT :'kmk' = (SELECT key_id FROM v$encryption_keys WHERE tag = 'regress mk only 2') AS returned_key_id;
SELECT count(*) - :keys_before AS new_keys FROM v$encryption_keys;

-- the same MKID twice: ORA-46684, whatever the key
SELECT tde_test.akm('CREATE KEY ''D20765EB721AF44D054B30FE87F8E49A:5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT tde.set_key('d20765eb721af44d054b30fe87f8e49a:1111111111111111111111111111111111111111111111111111111111111111', password => 'regress_pw1', with_backup => true)$$);

-- malformed keys: ORA-46685
-- bad hex in the key, in the MKID
SELECT tde_test.akm('CREATE KEY ''D20765EB721AF44D054B30FE87F8E49B:zz089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT tde.create_key('G20765EB721AF44D054B30FE87F8E49B:5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11', password => 'regress_pw1', with_backup => true)$$);
-- odd length
SELECT tde_test.akm('SET KEY ''5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db1'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT tde.create_key('D20765EB721AF44D054B30FE87F8E49:5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11', password => 'regress_pw1', with_backup => true)$$);
-- an all-zero MKID
SELECT tde_test.akm('CREATE KEY ''00000000000000000000000000000000:5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT tde.set_key('00000000000000000000000000000000:5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11', password => 'regress_pw1', with_backup => true)$$);
-- a 15-byte MKID, a 17-byte one
SELECT tde_test.akm('CREATE KEY ''D20765EB721AF44D054B30FE87F8E4:5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT tde.create_key('D20765EB721AF44D054B30FE87F8E49A00:5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11', password => 'regress_pw1', with_backup => true)$$);
-- a 16-byte key for AES256, an empty key, an empty MKID
SELECT tde_test.akm('CREATE KEY ''5a089c8ea6ee21cba774f61e58d10266'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT tde.create_key('', password => 'regress_pw1', with_backup => true)$$);
SELECT tde_test.try($$SELECT tde.create_key(':5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11', password => 'regress_pw1', with_backup => true)$$);
-- none of that added a key
SELECT count(*) - :keys_before AS new_keys FROM v$encryption_keys;

--
-- Algorithms
--
SELECT count(*) AS keys_before FROM v$encryption_keys \gset
SELECT tde_test.akm('CREATE KEY USING TAG ''regress aria'' USING ALGORITHM ''ARIA256'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT length(tde.create_key(tag => 'regress aria 2', algorithm => 'aria256', password => 'regress_pw1', with_backup => true))$$);
-- SEED128 takes a 16-byte key
SELECT tde_test.akm('CREATE KEY ''5EED0000000000000000000000000001:000102030405060708090a0b0c0d0e0f'' USING TAG ''regress seed'' USING ALGORITHM ''SEED128'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT length(tde.create_key(tag => 'regress seed 2', algorithm => 'SEED128', password => 'regress_pw1', with_backup => true))$$);
SELECT tde_test.try($$SELECT tde.create_key('5EED0000000000000000000000000002:000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f', algorithm => 'SEED128', password => 'regress_pw1', with_backup => true)$$);
SELECT tde_test.akm('CREATE KEY ''000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f'' USING ALGORITHM ''SEED128'' IDENTIFIED BY regress_pw1 WITH BACKUP');
-- an ARIA256 key, with a key given
SELECT tde_test.akm('CREATE KEY ''A81A0000000000000000000000000001:000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f'' USING ALGORITHM ''ARIA256'' USING TAG ''regress aria user'' IDENTIFIED BY regress_pw1 WITH BACKUP');
-- GOST256 is Oracle's, but OpenSSL here has no GOST cipher
SELECT tde_test.akm('CREATE KEY USING ALGORITHM ''GOST256'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT tde.set_key(algorithm => 'GOST256', password => 'regress_pw1', with_backup => true)$$);
-- no such algorithm: ORA-46679
SELECT tde_test.akm('SET KEY USING ALGORITHM ''AES128'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT tde.create_key(algorithm => 'DES', password => 'regress_pw1', with_backup => true)$$);
SELECT tde_test.try($$SELECT tde.create_key(algorithm => '', password => 'regress_pw1', with_backup => true)$$);
SELECT tag, activation_time IS NULL AS not_activated FROM v$encryption_keys
WHERE tag LIKE 'regress aria%' OR tag LIKE 'regress seed%' ORDER BY creation_time;
SELECT count(*) - :keys_before AS new_keys FROM v$encryption_keys;

--
-- USE KEY and SET TAG name a key that exists (ORA-46649) by a well-formed
-- KEY_ID (else 22023)
--
SELECT tde.key_id('\x0102030405060708090a0b0c0d0e0f10') AS knone \gset
SELECT tde_test.akm(format('USE KEY %L IDENTIFIED BY regress_pw1 WITH BACKUP', :'knone'));
SELECT tde_test.try(format('SELECT tde.use_key(%L, password => %L, with_backup => true)', :'knone', 'regress_pw1'));
SELECT tde_test.akm(format('SET TAG ''x'' FOR %L IDENTIFIED BY regress_pw1 WITH BACKUP', :'knone'));
SELECT tde_test.try(format('SELECT tde.set_tag(%L, %L, password => %L, with_backup => true)', :'knone', 'x', 'regress_pw1'));
-- malformed: not base64 of 39 bytes, a wrong first byte, a non-zero tail,
-- too short
SELECT tde_test.akm('USE KEY ''not a key id'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT tde.use_key('AWsHwVYC2U+Nv3RVphn/yAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAB', password => 'regress_pw1', with_backup => true)$$);
SELECT tde_test.akm('SET TAG ''x'' FOR ''AdIHZetyGvRNBUsw/of45JoAAAAAAAAAAAAAAAAAAAAAAAAAAAA'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT tde.set_tag('BdIHZetyGvRNBUsw/of45JoAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'x', password => 'regress_pw1', with_backup => true)$$);
SELECT tde_test.try($$SELECT tde.use_key(NULL, password => 'regress_pw1', with_backup => true)$$);
-- the active key did not move
SELECT kt.active_key() = tde.key_id('\x0123456789abcdef0123456789abcdef') AS user_key_active;

--
-- A wrong password changes nothing
--
SELECT count(*) AS keys_before, kt.active_key() AS active_before FROM v$encryption_keys \gset
SELECT tde_test.md5('tde/ewallet.p12') AS ewallet_before \gset
SELECT count(*) AS files_before FROM tde_test.ls('tde') \gset
SELECT tde_test.akm('SET KEY IDENTIFIED BY regress_wrong WITH BACKUP');
SELECT tde_test.try($$SELECT tde.create_key(password => 'regress_wrong', with_backup => true)$$);
SELECT tde_test.akm(format('USE KEY %L IDENTIFIED BY regress_wrong WITH BACKUP', :'k1'));
SELECT tde_test.try(format('SELECT tde.set_tag(%L, %L, password => %L, with_backup => true)', :'k1', 'x', 'regress_wrong'));
SELECT count(*) = :keys_before AS same_keys, kt.active_key() = :'active_before' AS same_active
FROM v$encryption_keys;
SELECT tag FROM v$encryption_keys WHERE key_id = :'k1';
SELECT tde_test.md5('tde/ewallet.p12') = :'ewallet_before' AS wallet_unchanged,
	   (SELECT count(*) FROM tde_test.ls('tde')) = :files_before AS no_new_backup;

--
-- Key operations need tde_admin
--
RESET ROLE;
CREATE ROLE regress_nokeys NOLOGIN;
GRANT USAGE ON SCHEMA tde, kt TO regress_nokeys;
GRANT EXECUTE ON FUNCTION tde.set_key, tde.administer_key_management TO regress_nokeys;
SET ROLE regress_nokeys;
SELECT tde_test.try($$SELECT tde.set_key(password => 'regress_pw1', with_backup => true)$$);
SELECT tde_test.try($$SELECT tde.administer_key_management('SET KEY IDENTIFIED BY regress_pw1 WITH BACKUP')$$);
SELECT tde_test.try($$SELECT tde.create_key(password => 'regress_pw1', with_backup => true)$$);
SELECT tde_test.try($$SELECT count(*) FROM v$encryption_keys$$);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION tde.set_key, tde.administer_key_management FROM regress_nokeys;
REVOKE USAGE ON SCHEMA tde, kt FROM regress_nokeys;
DROP ROLE regress_nokeys;
-- pg_monitor may look
CREATE ROLE regress_monitor NOLOGIN IN ROLE pg_monitor;
SET ROLE regress_monitor;
SELECT count(*) = :keys_before AS monitor_sees_keys FROM v$encryption_keys;
RESET ROLE;
DROP ROLE regress_monitor;
SET ROLE regress_keyadm;

--
-- The keystore closed: no key operation without FORCE KEYSTORE (ORA-28365)
--
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw1');
SELECT * FROM kt.wallet;
SELECT count(*) AS keys_while_closed FROM v$encryption_keys;
SELECT tde_test.akm('SET KEY IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT tde.set_key(password => 'regress_pw1', with_backup => true)$$);
SELECT tde_test.akm('CREATE KEY IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.try($$SELECT tde.create_key(password => 'regress_pw1', with_backup => true)$$);
SELECT tde_test.akm(format('USE KEY %L IDENTIFIED BY regress_pw1 WITH BACKUP', :'k1'));
SELECT tde_test.try(format('SELECT tde.use_key(%L, password => %L, with_backup => true)', :'k1', 'regress_pw1'));
SELECT tde_test.akm(format('SET TAG ''x'' FOR %L IDENTIFIED BY regress_pw1 WITH BACKUP', :'k1'));
SELECT tde_test.try(format('SELECT tde.set_tag(%L, %L, password => %L, with_backup => true)', :'k1', 'x', 'regress_pw1'));
SELECT tde_test.md5('tde/ewallet.p12') = :'ewallet_before' AS wallet_unchanged;

-- FORCE KEYSTORE: the operation runs, and the keystore stays closed
SELECT tde_test.akm('CREATE KEY USING TAG ''regress forced create'' FORCE KEYSTORE IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT * FROM kt.wallet;
SELECT tde_test.try($$SELECT length(tde.set_key(tag => 'regress forced set', password => 'regress_pw1', force_keystore => true, with_backup => true))$$);
SELECT * FROM kt.wallet;
SELECT tde_test.akm(format('SET TAG ''regress forced tag'' FOR %L FORCE KEYSTORE IDENTIFIED BY regress_pw1 WITH BACKUP', :'k1'));
SELECT tde_test.try(format('SELECT tde.set_tag(%L, %L, password => %L, force_keystore => true, with_backup => true)', :'k2', 'regress forced tag 2', 'regress_pw1'));
SELECT * FROM kt.wallet;
SELECT count(*) AS keys_while_closed FROM v$encryption_keys;
-- a wrong password with FORCE KEYSTORE
SELECT tde_test.akm('SET KEY FORCE KEYSTORE IDENTIFIED BY regress_wrong WITH BACKUP');
-- open: the changes are there, the forced SET KEY is active
SELECT tde_test.try($$SELECT tde.open_keystore('regress_pw1')$$);
SELECT * FROM kt.wallet;
SELECT count(*) - :keys_before AS new_keys FROM v$encryption_keys;
SELECT tag, activation_time IS NOT NULL AS activated, key_id = kt.active_key() AS active
FROM v$encryption_keys WHERE tag LIKE 'regress forced%' ORDER BY creation_time;
-- FORCE KEYSTORE with the keystore open is fine too, through both
SELECT tde_test.akm(format('USE KEY %L FORCE KEYSTORE IDENTIFIED BY regress_pw1 WITH BACKUP', :'k3'));
SELECT kt.active_key() = :'k3' AS k3_active;
SELECT tde_test.try(format('SELECT tde.use_key(%L, password => %L, force_keystore => true, with_backup => true)', :'k2', 'regress_pw1'));
SELECT kt.active_key() = :'k2' AS k2_active;
SELECT status, wallet_type FROM kt.wallet;

--
-- IDENTIFIED BY EXTERNAL STORE, once the secret is in the store
--
SELECT tde_test.akm('SET KEY USING TAG ''regress ext'' IDENTIFIED BY EXTERNAL STORE WITH BACKUP');
SELECT tde_test.akm(format('ADD SECRET ''regress_pw1'' FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE %L',
					 current_setting('tde.wallet_root') || '/tde_seps'));
SELECT * FROM tde_test.ls('tde_seps');
SELECT count(*) AS keys_before FROM v$encryption_keys \gset
SELECT tde_test.akm('SET KEY USING TAG ''regress ext 1'' IDENTIFIED BY EXTERNAL STORE WITH BACKUP USING ''ext1''');
SELECT tde.create_key(tag => 'regress ext 2', external_store => true, with_backup => true) AS kext2 \gset
SELECT tde_test.akm(format('USE KEY %L USING TAG ''regress ext 2 used'' IDENTIFIED BY EXTERNAL STORE WITH BACKUP', :'kext2'));
SELECT tde.set_tag(:'k3', 'regress ext tag', external_store => true, with_backup => true);
SELECT count(*) - :keys_before AS new_keys FROM v$encryption_keys;
SELECT tag, activation_time IS NOT NULL AS activated, key_id = kt.active_key() AS active, backed_up
FROM v$encryption_keys WHERE tag LIKE 'regress ext%' ORDER BY creation_time;
-- with the keystore closed and FORCE KEYSTORE
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.try($$SELECT tde.set_key(tag => 'regress ext forced', external_store => true, force_keystore => true, with_backup => true) IS NOT NULL$$);
SELECT * FROM kt.wallet;
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE');
SELECT tag, key_id = kt.active_key() AS active FROM v$encryption_keys WHERE tag = 'regress ext forced';
-- the secret goes again (runbook_file configures the store itself)
SELECT tde_test.akm(format('DELETE SECRET FOR CLIENT ''TDE_WALLET'' FROM AUTO_LOGIN KEYSTORE %L',
					 current_setting('tde.wallet_root') || '/tde_seps'));
SELECT tde_test.akm('SET KEY IDENTIFIED BY EXTERNAL STORE WITH BACKUP');

--
-- At the end: every key once, the active one the last activated
--
SELECT count(*) AS keys, count(DISTINCT key_id) AS distinct_ids,
	   count(*) FILTER (WHERE length(key_id) = 52 AND key_id ~ 'A{28}$') AS well_formed,
	   count(*) FILTER (WHERE key_id = kt.active_key()) AS active,
	   count(activation_time) AS ever_activated
FROM v$encryption_keys;
SELECT * FROM kt.wallet;
RESET ROLE;
