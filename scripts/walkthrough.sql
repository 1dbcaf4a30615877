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

--
-- Later versions extend the walkthrough here, with the keystore open:
--   master keys: ADMINISTER KEY MANAGEMENT SET KEY ... WITH BACKUP, then
--                v$encryption_keys (status OPEN, a KEY_ID per key);
--   encryption:  tde.encrypt(regclass, bytea) / tde.decrypt(regclass, bytea)
--                with per-relation keys wrapped by the master key;
--   rekey:       SET KEY again (relation keys re-wrapped, data untouched),
--                and USE KEY / data rekey;
--   HSM:         tde.keystore_configuration = 'HSM|FILE' with SoftHSM2.
--

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
\echo 'so the view shows OPEN_NO_MASTER_KEY with WALLET_TYPE AUTOLOGIN.'
SELECT tde.administer_key_management(
  $$SET KEYSTORE CLOSE IDENTIFIED BY "Demo_Pass2"$$);
SELECT * FROM v$encryption_wallet;

\echo
\echo '=== Done ==='
