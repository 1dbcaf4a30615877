--
-- keystore: the password keystore, through ADMINISTER KEY MANAGEMENT and
-- through the typed functions: create, open, close, back up, change the
-- password, FORCE KEYSTORE.
--
-- Expects: setup has run; no keystore file exists; the keystore is closed.
-- Leaves:  <root>/tde/ewallet.p12 with password regress_pw1, backups beside
--          it and one in <root>; no auto-login wallet; the keystore closed.
--
\set SHOW_CONTEXT never

--
-- No keystore yet: ORA-28367, and nothing is created
--
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.open_keystore('regress_pw1', force_keystore => true)$$);
SELECT tde_test.akm('SET KEYSTORE CLOSE');
SELECT tde_test.akm('BACKUP KEYSTORE FORCE KEYSTORE IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD FORCE KEYSTORE IDENTIFIED BY regress_pw1 SET regress_pw2 WITH BACKUP');
SELECT tde_test.akm('CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY regress_pw1');
SELECT * FROM tde_test.ls('');

--
-- CREATE KEYSTORE
--
-- arguments are checked before anything is written
SELECT tde_test.try($$SELECT tde.create_keystore('')$$);
SELECT tde_test.try($$SELECT tde.create_keystore(NULL)$$);
SELECT tde_test.akm('CREATE KEYSTORE IDENTIFIED BY ""');
SELECT tde_test.try($$SELECT tde.create_keystore(repeat('x', 1025))$$);
-- the location: <root>/tde, or another directory (not the wallet root itself
-- nor tde_seps); <root>/other gets a keystore of its own
SELECT tde_test.try(format('SELECT tde.create_keystore(%L, %L)', 'regress_pw1',
						   current_setting('tde.wallet_root')));
SELECT tde_test.akm(format('CREATE KEYSTORE %L IDENTIFIED BY regress_pw1',
						   current_setting('tde.wallet_root') || '/other'));
SELECT tde_test.akm(format('CREATE KEYSTORE %L IDENTIFIED BY regress_pw1',
						   current_setting('tde.wallet_root') || '/tde/..'));
SELECT tde_test.akm('CREATE KEYSTORE ''/../tde'' IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('CREATE KEYSTORE ''tde'' IDENTIFIED BY regress_pw1');
-- none of that created anything
SELECT * FROM tde_test.ls('');
SELECT status, wallet_type FROM v$encryption_wallet;

-- create, naming the location (a trailing slash is fine)
SELECT tde_test.akm(format('ADMINISTER KEY MANAGEMENT CREATE KEYSTORE %L IDENTIFIED BY regress_pw1',
						   current_setting('tde.wallet_root') || '/tde/'));
SELECT * FROM tde_test.ls('');
SELECT * FROM tde_test.ls('tde');
SELECT status, wallet_type, fully_backed_up FROM v$encryption_wallet;
SELECT tde_test.md5('tde/ewallet.p12') AS ewallet_v1 \gset

-- an existing keystore is never overwritten, whichever way it is asked for
SELECT tde_test.try($$SELECT tde.create_keystore('regress_other')$$);
SELECT tde_test.try(format('SELECT tde.create_keystore(%L, %L)', 'regress_other',
						   current_setting('tde.wallet_root') || '/tde'));
SELECT tde_test.akm('CREATE KEYSTORE IDENTIFIED BY regress_other');
SELECT tde_test.md5('tde/ewallet.p12') = :'ewallet_v1' AS unchanged;

--
-- SET KEYSTORE OPEN / CLOSE
--
-- a wrong password opens nothing
SELECT tde_test.try($$SELECT tde.open_keystore('regress_wrong')$$);
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_wrong');
SELECT status, wallet_type FROM v$encryption_wallet;
-- a password is required, and only one kind of credential
SELECT tde_test.try($$SELECT tde.open_keystore()$$);
SELECT tde_test.try($$SELECT tde.open_keystore('')$$);
SELECT tde_test.try($$SELECT tde.open_keystore('regress_pw1', external_store => true)$$);
SELECT tde_test.akm('SET KEYSTORE OPEN');

-- open through the statement
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT * FROM tde_test.wallet;
-- open twice: ORA-28354, and the keystore stays open
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.open_keystore('regress_pw1')$$);
SELECT tde_test.try($$SELECT tde.open_keystore('regress_pw1', force_keystore => true)$$);
-- close with a wrong password: ORA-28391, still open
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_wrong');
SELECT tde_test.try($$SELECT tde.close_keystore('regress_wrong')$$);
SELECT status, wallet_type FROM v$encryption_wallet;
-- close with the password
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw1');
SELECT status, wallet_type FROM v$encryption_wallet;
-- close when closed: ORA-28365
SELECT tde_test.akm('SET KEYSTORE CLOSE');
SELECT tde_test.try($$SELECT tde.close_keystore()$$);
SELECT tde_test.try($$SELECT tde.close_keystore('regress_pw1')$$);
-- the typed functions: open with the password, close without one
SELECT tde_test.try($$SELECT tde.open_keystore('regress_pw1')$$);
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT tde_test.try($$SELECT tde.close_keystore()$$);
SELECT status, wallet_type FROM v$encryption_wallet;
-- open and close again: statement open, typed close with the password,
-- then statement close without one
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.close_keystore(password => 'regress_pw1')$$);
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('SET KEYSTORE CLOSE');
SELECT status, wallet_type FROM v$encryption_wallet;
-- opening and closing leave the file alone
SELECT tde_test.md5('tde/ewallet.p12') = :'ewallet_v1' AS unchanged;

--
-- BACKUP KEYSTORE
--
-- closed: only with FORCE KEYSTORE
SELECT tde_test.akm('BACKUP KEYSTORE USING ''closed'' IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.backup_keystore('regress_pw1', backup_identifier => 'closed')$$);
SELECT tde_test.akm('BACKUP KEYSTORE USING ''forced1'' FORCE KEYSTORE IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.backup_keystore(password => 'regress_pw1',
	backup_identifier => 'forced2', force_keystore => true)$$);
-- FORCE KEYSTORE with a wrong password writes nothing
SELECT tde_test.akm('BACKUP KEYSTORE USING ''forced3'' FORCE KEYSTORE IDENTIFIED BY regress_wrong');
-- FORCE KEYSTORE does not leave the keystore open
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT * FROM tde_test.ls('tde');
-- a backup is a wallet like the keystore
SELECT tde_test.like_ewallet(tde_test.backup('tde', 'forced1')) AS forced1_is_wallet,
	   tde_test.like_ewallet(tde_test.backup('tde', 'forced2')) AS forced2_is_wallet;

-- open: no FORCE needed
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
-- the typed function returns the backup's path: <root>/tde/ewallet_<TS>.p12
SELECT tde.backup_keystore('regress_pw1') AS backup_path \gset
SELECT tde_test.mask(:'backup_path') AS backup_path,
	   tde_test.like_ewallet(substr(:'backup_path', length(current_setting('tde.wallet_root')) + 2)) AS is_wallet;
SELECT tde_test.akm('BACKUP KEYSTORE USING ''stmt1'' IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.backup_keystore('regress_pw1', backup_identifier => 'typed1')$$);
-- a wrong password, even with the keystore open
SELECT tde_test.akm('BACKUP KEYSTORE USING ''wrong'' IDENTIFIED BY regress_wrong');
SELECT tde_test.try($$SELECT tde.backup_keystore('regress_wrong', backup_identifier => 'wrong')$$);
SELECT tde_test.try($$SELECT tde.backup_keystore(backup_identifier => 'nopass')$$);
-- TO another directory: tde.wallet_root itself exists and is allowed
SELECT tde_test.akm(format('BACKUP KEYSTORE USING ''to_root'' IDENTIFIED BY regress_pw1 TO %L',
						   current_setting('tde.wallet_root')));
SELECT tde_test.try(format('SELECT tde.backup_keystore(%L, backup_identifier => %L, location => %L)',
						   'regress_pw1', 'typed_to_tde', current_setting('tde.wallet_root') || '/tde/'));
SELECT tde_test.like_ewallet(tde_test.backup('', 'to_root')) AS to_root_is_wallet;
-- a location that is not a directory, or relative; ".." is resolved lexically
SELECT tde_test.akm(format('BACKUP KEYSTORE USING ''nodir'' IDENTIFIED BY regress_pw1 TO %L',
						   current_setting('tde.wallet_root') || '/nosuchdir'));
SELECT tde_test.akm(format('BACKUP KEYSTORE USING ''file'' IDENTIFIED BY regress_pw1 TO %L',
						   current_setting('tde.wallet_root') || '/tde/ewallet.p12'));
SELECT tde_test.try($$SELECT tde.backup_keystore('regress_pw1', backup_identifier => 'rel', location => 'tde')$$);
SELECT tde_test.try(format('SELECT tde.backup_keystore(%L, backup_identifier => %L, location => %L)',
						   'regress_pw1', 'dotdot', current_setting('tde.wallet_root') || '/tde/../tde'));
-- identifiers that are not a file name part
SELECT tde_test.akm('BACKUP KEYSTORE USING ''a/b'' IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('BACKUP KEYSTORE USING '''' IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.backup_keystore('regress_pw1', backup_identifier => '.hidden')$$);
SELECT tde_test.try($$SELECT tde.backup_keystore('regress_pw1', backup_identifier => 'a\b')$$);
SELECT tde_test.try($$SELECT tde.backup_keystore('regress_pw1', backup_identifier => E'a\nb')$$);
SELECT tde_test.try($$SELECT tde.backup_keystore('regress_pw1', backup_identifier => repeat('i', 129))$$);
SELECT tde_test.try($$SELECT tde.backup_keystore('regress_pw1', backup_identifier => repeat('i', 128))$$) ~ '^ok: <root>/tde/ewallet_<TS>_i{128}\.p12$' AS long_id_ok;
-- the failures wrote nothing: the backups so far
SELECT regexp_replace(f, 'i{128}', '<128 x i>') AS f FROM tde_test.ls('tde') AS f;
SELECT * FROM tde_test.ls('');
-- the keystore is still open, and its password unchanged
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');

--
-- ALTER KEYSTORE PASSWORD (the keystore is open)
--
-- (a backup rewrites the keystore too, recording that its keys are
-- backed up: take its checksum again)
SELECT tde_test.md5('tde/ewallet.p12') AS ewallet_v1 \gset
-- WITH BACKUP is required: ORA-46631
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY regress_pw1 SET regress_pw2');
SELECT tde_test.try($$SELECT tde.alter_keystore_password('regress_pw1', 'regress_pw2')$$);
SELECT tde_test.try($$SELECT tde.alter_keystore_password('regress_pw1', 'regress_pw2', with_backup => false)$$);
-- empty or missing passwords, a bad identifier
SELECT tde_test.try($$SELECT tde.alter_keystore_password('regress_pw1', '', with_backup => true)$$);
SELECT tde_test.try($$SELECT tde.alter_keystore_password('', 'regress_pw2', with_backup => true)$$);
SELECT tde_test.try($$SELECT tde.alter_keystore_password('regress_pw1', NULL, with_backup => true)$$);
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY regress_pw1 SET regress_pw2 WITH BACKUP USING ''x/y''');
-- a wrong old password changes nothing and writes no backup
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY regress_wrong SET regress_pw2 WITH BACKUP USING ''bad1''');
SELECT tde_test.try($$SELECT tde.alter_keystore_password('regress_wrong', 'regress_pw2', true, 'bad2')$$);
SELECT tde_test.md5('tde/ewallet.p12') = :'ewallet_v1' AS unchanged;
SELECT count(*) AS bad_backups FROM tde_test.ls('tde') AS f WHERE f ~ '_bad[12]\.p12$';
-- the old password still opens it
SELECT tde_test.akm('SET KEYSTORE CLOSE');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');

-- change it, through the statement
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY regress_pw1 SET regress_pw2 WITH BACKUP USING ''pw1to2''');
SELECT tde_test.md5('tde/ewallet.p12') <> :'ewallet_v1' AS rewritten;
-- the backup is the wallet as it was, under the old password
SELECT tde_test.md5(tde_test.backup('tde', 'pw1to2')) = :'ewallet_v1' AS backup_is_old_wallet;
-- the keystore stays open
SELECT status, wallet_type FROM v$encryption_wallet;
-- the new password opens it, the old one no longer does
SELECT tde_test.akm('SET KEYSTORE CLOSE');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw2');
SELECT status, wallet_type FROM v$encryption_wallet;
-- and closing checks the new password
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw2');

-- change it, through the typed function; WITH BACKUP without USING
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw2');
SELECT tde_test.md5('tde/ewallet.p12') AS ewallet_v2 \gset
SELECT tde_test.try($$SELECT tde.alter_keystore_password('regress_pw2', 'regress_pw3', with_backup => true)$$);
SELECT count(*) AS plain_backups FROM tde_test.ls('tde') AS f WHERE f = 'ewallet_<TS>.p12';
-- one of them is the wallet as it was under regress_pw2
SELECT count(*) AS old_wallet_backups
FROM pg_ls_dir(current_setting('tde.wallet_root') || '/tde') AS f
WHERE f ~ '^ewallet_[0-9]{16}\.p12$' AND tde_test.md5('tde/' || f) = :'ewallet_v2';
SELECT tde_test.try($$SELECT tde.close_keystore('regress_pw2')$$);
SELECT tde_test.try($$SELECT tde.close_keystore('regress_pw3')$$);

-- closed: only with FORCE KEYSTORE (ORA-28365 otherwise)
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY regress_pw3 SET regress_pw4 WITH BACKUP USING ''closed''');
SELECT tde_test.try($$SELECT tde.alter_keystore_password('regress_pw3', 'regress_pw4', true, 'closed')$$);
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD FORCE KEYSTORE IDENTIFIED BY regress_wrong SET regress_pw4 WITH BACKUP USING ''bad3''');
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD FORCE KEYSTORE IDENTIFIED BY regress_pw3 SET "regress pw 4" WITH BACKUP USING ''pw3to4''');
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT tde_test.try($$SELECT tde.alter_keystore_password('regress pw 4', 'regress_pw1',
	with_backup => true, backup_identifier => 'pw4to1', force_keystore => true)$$);
SELECT status, wallet_type FROM v$encryption_wallet;
-- back to regress_pw1, which opens it
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY "regress pw 4"');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw1');
SELECT * FROM tde_test.wallet;
SELECT regexp_replace(f, 'i{128}', '<128 x i>') AS f FROM tde_test.ls('tde') AS f;
SELECT * FROM tde_test.ls('');
