--
-- autologin: CREATE [LOCAL] AUTO_LOGIN KEYSTORE, the auto-login keystore
-- opening on first use, and what it allows without FORCE KEYSTORE.
--
-- Once <root>/tde/cwallet.sso exists, every use of a closed keystore opens
-- it, and nothing in SQL can remove the file: this file runs last.
--
-- Expects: <root>/tde/ewallet.p12 with password regress_pw1, the external
--          store holding regress_pw1 for TDE_WALLET, no auto-login wallet,
--          the keystore closed.
-- Leaves:  <root>/tde/cwallet.sso (a LOCAL auto-login wallet), password
--          regress_pw1, the keystore open with its password.
--
\set SHOW_CONTEXT never

SELECT tde_test.md5('tde/ewallet.p12') AS ewallet_before \gset

--
-- Refused: nothing is written
--
SELECT tde_test.akm('CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY regress_wrong');
SELECT tde_test.try($$SELECT tde.create_auto_login_keystore('regress_wrong', local => true)$$);
SELECT tde_test.try($$SELECT tde.create_auto_login_keystore('')$$);
SELECT tde_test.try($$SELECT tde.create_auto_login_keystore(NULL)$$);
SELECT tde_test.akm(format('CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE %L IDENTIFIED BY regress_pw1',
						   current_setting('tde.wallet_root') || '/tde_seps'));
SELECT tde_test.try(format('SELECT tde.create_auto_login_keystore(%L, location => %L)',
						   'regress_pw1', current_setting('tde.wallet_root')));
SELECT * FROM tde_test.ls('tde') AS f WHERE f !~ '^ewallet_';
SELECT status, wallet_type FROM v$encryption_wallet;

--
-- CREATE AUTO_LOGIN KEYSTORE
--
SELECT tde_test.akm(format('ADMINISTER KEY MANAGEMENT CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE %L IDENTIFIED BY regress_pw1',
						   current_setting('tde.wallet_root') || '/tde'));
SELECT * FROM tde_test.ls('tde') AS f WHERE f !~ '^ewallet_';
-- the password wallet is not touched
SELECT tde_test.md5('tde/ewallet.p12') = :'ewallet_before' AS ewallet_unchanged;
-- reading the view is a use: the auto-login keystore opens
SELECT * FROM tde_test.wallet;

-- operations on the password keystore need FORCE KEYSTORE: ORA-28417
SELECT tde_test.akm('BACKUP KEYSTORE USING ''al_no'' IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.backup_keystore('regress_pw1', backup_identifier => 'al_no')$$);
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY regress_pw1 SET regress_pw2 WITH BACKUP USING ''al_no''');
SELECT tde_test.try($$SELECT tde.alter_keystore_password('regress_pw1', 'regress_pw2', true, 'al_no')$$);
SELECT tde_test.akm('BACKUP KEYSTORE USING ''al_no'' IDENTIFIED BY EXTERNAL STORE');
-- opening the password keystore: ORA-28354, unless FORCE KEYSTORE
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.open_keystore('regress_pw1')$$);
SELECT tde_test.akm('SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY regress_wrong');
SELECT status, wallet_type FROM v$encryption_wallet;
-- FORCE KEYSTORE: backups and password changes while the auto-login
-- keystore stays open
SELECT tde_test.akm('BACKUP KEYSTORE USING ''al1'' FORCE KEYSTORE IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.backup_keystore(external_store => true, backup_identifier => 'al2', force_keystore => true)$$);
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD FORCE KEYSTORE IDENTIFIED BY regress_pw1 SET regress_pw2 WITH BACKUP USING ''al3''');
SELECT tde_test.try($$SELECT tde.alter_keystore_password('regress_pw2', 'regress_pw1', true, 'al4', force_keystore => true)$$);
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT count(*) AS al_backups FROM tde_test.ls('tde') AS f WHERE f ~ '_al[0-9]\.p12$';
SELECT count(*) AS refused_backups FROM tde_test.ls('tde') AS f WHERE f ~ '_al_no\.p12$';

-- OPEN FORCE KEYSTORE switches to the password keystore
SELECT tde_test.akm('SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY regress_pw1');
SELECT * FROM tde_test.wallet;
SELECT tde_test.akm('SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('BACKUP KEYSTORE USING ''al5'' IDENTIFIED BY regress_pw1');
-- closed, it opens again as auto-login on the next use
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw1');
SELECT status, wallet_type FROM v$encryption_wallet;
-- closing the auto-login keystore takes no password
SELECT tde_test.akm('SET KEYSTORE CLOSE');
-- (anything that needs the keystore opens it again, even a background
-- worker, so FORCE KEYSTORE is the way to the password keystore now)
SELECT tde_test.try($$SELECT tde.open_keystore('regress_pw1', force_keystore => true)$$);
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT tde_test.try($$SELECT tde.close_keystore()$$);
SELECT status, wallet_type FROM v$encryption_wallet;
-- the external store, with FORCE KEYSTORE
SELECT tde_test.akm('SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE');
SELECT status, wallet_type FROM v$encryption_wallet;

--
-- LOCAL AUTO_LOGIN: bound to this host, and it opens here
--
SELECT tde_test.md5('tde/cwallet.sso') AS cwallet_v1 \gset
SELECT tde_test.try($$SELECT tde.create_auto_login_keystore('regress_pw1', local => true)$$);
SELECT tde_test.md5('tde/cwallet.sso') <> :'cwallet_v1' AS rewritten;
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY EXTERNAL STORE');
SELECT * FROM tde_test.wallet;
-- replaced by an ordinary one, then a LOCAL one again, through statements
-- (an open auto-login keystore becomes the new one at once)
SELECT tde_test.akm('CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY regress_pw1');
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT tde_test.akm('SET KEYSTORE CLOSE');
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT tde_test.akm('CREATE LOCAL AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY regress_pw1 CONTAINER = ALL;');
SELECT tde_test.akm('SET KEYSTORE CLOSE');
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT tde_test.akm('BACKUP KEYSTORE USING ''al6'' IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('BACKUP KEYSTORE USING ''al6'' FORCE KEYSTORE IDENTIFIED BY regress_pw1');
-- the password keystore, to finish
SELECT tde_test.akm('SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY regress_pw1');
SELECT * FROM tde_test.wallet;
SELECT * FROM tde_test.ls('tde') AS f WHERE f !~ '^ewallet_';
