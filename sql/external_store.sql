--
-- external_store: the external password store <root>/tde_seps/cwallet.sso
-- (ADD / UPDATE / DELETE SECRET ... FOR CLIENT 'TDE_WALLET') and
-- IDENTIFIED BY EXTERNAL STORE.
--
-- Expects: <root>/tde/ewallet.p12 with password regress_pw1, no auto-login
--          wallet, no external store, the keystore closed.
-- Leaves:  the same keystore, closed; <root>/tde_seps/cwallet.sso holding
--          the secret regress_pw1 for client TDE_WALLET (and nothing else),
--          and beside it a backup of the keystore.
--
\set SHOW_CONTEXT never

-- no store yet
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.try($$SELECT tde.open_keystore(external_store => true)$$);
SELECT tde_test.akm('BACKUP KEYSTORE USING ''ext0'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.try(format('SELECT tde.update_external_store_secret(%L, %L, %L)',
						   'regress_pw1', 'TDE_WALLET', current_setting('tde.wallet_root') || '/tde_seps'));
SELECT tde_test.akm(format('DELETE SECRET FOR CLIENT ''TDE_WALLET'' FROM AUTO_LOGIN KEYSTORE %L',
						   current_setting('tde.wallet_root') || '/tde_seps'));
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT * FROM tde_test.ls('tde_seps');

--
-- Argument checks, before anything is written
--
-- the store is <root>/tde_seps and nowhere else
SELECT tde_test.akm(format('ADD SECRET ''regress_pw1'' FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE %L',
						   current_setting('tde.wallet_root') || '/tde'));
SELECT tde_test.try(format('SELECT tde.add_external_store_secret(%L, %L, %L)',
						   'regress_pw1', 'TDE_WALLET', current_setting('tde.wallet_root')));
SELECT tde_test.akm('ADD SECRET ''regress_pw1'' FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE ''tde_seps''');
-- only the clients tde knows
SELECT tde_test.akm(format('ADD SECRET ''regress_pw1'' FOR CLIENT ''OKV_PASSWORD'' TO AUTO_LOGIN KEYSTORE %L',
						   current_setting('tde.wallet_root') || '/tde_seps'));
SELECT tde_test.try($$SELECT tde.add_external_store_secret('regress_pw1', 'SOMETHING')$$);
SELECT tde_test.try($$SELECT tde.delete_external_store_secret('')$$);
-- a secret must not be empty or null; neither may the client
SELECT tde_test.akm(format('ADD SECRET '''' FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE %L',
						   current_setting('tde.wallet_root') || '/tde_seps'));
SELECT tde_test.try($$SELECT tde.add_external_store_secret(NULL, 'TDE_WALLET')$$);
SELECT tde_test.try($$SELECT tde.add_external_store_secret('regress_pw1', NULL)$$);
SELECT tde_test.try($$SELECT tde.delete_external_store_secret(NULL)$$);
SELECT * FROM tde_test.ls('tde_seps');

--
-- ADD SECRET: a wrong secret first
--
SELECT tde_test.akm(format('ADMINISTER KEY MANAGEMENT ADD SECRET ''regress_wrong'' FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE %L',
						   current_setting('tde.wallet_root') || '/tde_seps'));
SELECT * FROM tde_test.ls('tde_seps');
SELECT * FROM tde_test.ls('');
SELECT tde_test.md5('tde_seps/cwallet.sso') AS seps_v1 \gset
-- a second ADD for the same client is refused, by any spelling of it
SELECT tde_test.akm(format('ADD SECRET ''regress_pw1'' FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE %L',
						   current_setting('tde.wallet_root') || '/tde_seps/'));
SELECT tde_test.try($$SELECT tde.add_external_store_secret('regress_pw1', 'tde_wallet')$$);
SELECT tde_test.md5('tde_seps/cwallet.sso') = :'seps_v1' AS unchanged;

-- the stored secret is wrong: ORA-28353, as with a wrong password
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.try($$SELECT tde.open_keystore(external_store => true)$$);
SELECT tde_test.akm('BACKUP KEYSTORE USING ''ext_wrong'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.akm('SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE');
SELECT status, wallet_type FROM v$encryption_wallet;

--
-- UPDATE SECRET: the right one
--
SELECT tde_test.try($$SELECT tde.update_external_store_secret('regress_pw1', 'tde_wallet')$$);
SELECT tde_test.md5('tde_seps/cwallet.sso') <> :'seps_v1' AS rewritten;
SELECT * FROM tde_test.ls('tde_seps');

-- SET KEYSTORE OPEN / CLOSE IDENTIFIED BY EXTERNAL STORE
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE');
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE');
-- BACKUP KEYSTORE ... IDENTIFIED BY EXTERNAL STORE
SELECT tde_test.akm('BACKUP KEYSTORE USING ''ext1'' IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.try($$SELECT tde.backup_keystore(external_store => true, backup_identifier => 'ext2')$$);
SELECT tde_test.akm(format('BACKUP KEYSTORE USING ''ext3'' IDENTIFIED BY EXTERNAL STORE TO %L',
						   current_setting('tde.wallet_root') || '/tde_seps'));
SELECT * FROM tde_test.ls('tde') AS f WHERE f ~ '_ext';
SELECT * FROM tde_test.ls('tde_seps');
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY EXTERNAL STORE');
SELECT status, wallet_type FROM v$encryption_wallet;
-- the typed functions
SELECT tde_test.try($$SELECT tde.open_keystore(external_store => true)$$);
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT tde_test.try($$SELECT tde.close_keystore(external_store => true)$$);
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT tde_test.try($$SELECT tde.close_keystore(external_store => true)$$);
-- FORCE KEYSTORE with the external store, keystore closed
SELECT tde_test.akm('BACKUP KEYSTORE USING ''ext4'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.try($$SELECT tde.backup_keystore(external_store => true, backup_identifier => 'ext5', force_keystore => true)$$);
SELECT tde_test.like_ewallet(tde_test.backup('tde', 'ext4')) AS ext4_is_wallet;
SELECT tde_test.try($$SELECT tde.backup_keystore('regress_pw1', external_store => true, backup_identifier => 'both')$$);
-- open with the password, close with the external store
SELECT tde_test.akm('SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY EXTERNAL STORE');
SELECT status, wallet_type FROM v$encryption_wallet;

--
-- The other client, HSM_PASSWORD; USING TAG; LOCAL
--
SELECT tde_test.try($$SELECT tde.add_external_store_secret('regress_hsm', 'HSM_PASSWORD')$$);
SELECT tde_test.akm(format('UPDATE SECRET ''regress_hsm2'' FOR CLIENT ''HSM_PASSWORD'' USING TAG ''hsm'' TO AUTO_LOGIN KEYSTORE %L',
						   current_setting('tde.wallet_root') || '/tde_seps'));
SELECT tde_test.akm(format('DELETE SECRET FOR CLIENT ''hsm_password'' FROM AUTO_LOGIN KEYSTORE %L',
						   current_setting('tde.wallet_root') || '/tde_seps'));
-- update or delete a client that has no secret
SELECT tde_test.try($$SELECT tde.delete_external_store_secret('HSM_PASSWORD')$$);
SELECT tde_test.akm(format('DELETE SECRET FOR CLIENT ''HSM_PASSWORD'' FROM AUTO_LOGIN KEYSTORE %L',
						   current_setting('tde.wallet_root') || '/tde_seps'));
SELECT tde_test.try($$SELECT tde.update_external_store_secret('regress_hsm', 'HSM_PASSWORD')$$);
SELECT tde_test.akm(format('UPDATE SECRET ''regress_hsm'' FOR CLIENT ''HSM_PASSWORD'' TO AUTO_LOGIN KEYSTORE %L',
						   current_setting('tde.wallet_root') || '/tde_seps'));
-- the TDE_WALLET secret is untouched by all that
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.akm('SET KEYSTORE CLOSE');
-- the store rewritten as a LOCAL auto-login wallet still opens here (a
-- bare-word secret, as Oracle's section 4.3.2 allows)
SELECT tde_test.akm(format('UPDATE SECRET regress_pw1 FOR CLIENT ''TDE_WALLET'' TO LOCAL AUTO_LOGIN KEYSTORE %L',
						   current_setting('tde.wallet_root') || '/tde_seps'));
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.try(format('SELECT tde.update_external_store_secret(%L, %L, %L, local => false)',
						   'regress_pw1', 'TDE_WALLET', current_setting('tde.wallet_root') || '/tde_seps'));

--
-- The secret missing from an existing store
--
SELECT tde_test.try($$SELECT tde.delete_external_store_secret('TDE_WALLET')$$);
SELECT * FROM tde_test.ls('tde_seps');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.try($$SELECT tde.open_keystore(external_store => true)$$);
SELECT tde_test.akm('BACKUP KEYSTORE USING ''ext_missing'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.akm('SET KEYSTORE CLOSE');
SELECT count(*) AS failed_backups FROM tde_test.ls('tde') AS f WHERE f ~ '_ext_(wrong|missing)\.p12$';

-- leave the right secret in the store (WITH BACKUP, as in Oracle's section
-- 4.3.10.2, does nothing here)
SELECT tde_test.akm(format('ADD SECRET ''regress_pw1'' FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE %L WITH BACKUP',
						   current_setting('tde.wallet_root') || '/tde_seps'));
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY EXTERNAL STORE');
SELECT * FROM tde_test.wallet;
SELECT * FROM tde_test.ls('tde_seps');
