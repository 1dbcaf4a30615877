--
-- parser: the lexical and grammatical rules of ADMINISTER KEY MANAGEMENT
-- statements, their syntax errors, the statements of later versions,
-- Oracle's templates and examples (spec 001), and the parser's limits.
--
-- Expects: <root>/tde/ewallet.p12 with password regress_pw1, no auto-login
--          wallet, the keystore closed (as keystore leaves it).
-- Leaves:  the same: password regress_pw1, keystore closed.
--
\set SHOW_CONTEXT never

-- What a statement parses to, without running it.  The library has
-- tde_describe_statement for this test; the extension does not declare it.
-- Passwords, secrets and user-supplied keys show only as given.
CREATE FUNCTION tde_test.describe(statement text) RETURNS text
LANGUAGE C STRICT AS '$libdir/tde', 'tde_describe_statement';
CREATE FUNCTION tde_test.parsed(statement text) RETURNS text
LANGUAGE sql AS $$
	SELECT tde_test.try(format('SELECT tde_test.describe(%L)', statement))
$$;

--
-- Accepted forms
--
-- keywords in any case; the leading ADMINISTER KEY MANAGEMENT is optional
SELECT tde_test.akm('set keystore open identified by regress_pw1');
SELECT tde_test.akm('Administer Key Management Set KeyStore Close');
SELECT tde_test.akm('ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT status, wallet_type FROM v$encryption_wallet;
-- a trailing semicolon, CONTAINER = ALL or CURRENT (one container here)
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw1 CONTAINER = ALL;');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1 CONTAINER=CURRENT');
SELECT tde_test.akm('SET KEYSTORE CLOSE ;');
-- any white space between words, before and after
SELECT tde_test.akm(E'  \tSET\nKEYSTORE\r\n  OPEN   IDENTIFIED\tBY\n\nregress_pw1 \n');
SELECT tde_test.akm(E'set keystore close\n;\n');
SELECT status, wallet_type FROM v$encryption_wallet;
-- passwords are case-sensitive, unlike keywords
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY REGRESS_PW1');
-- a password that is a keyword is still a password
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY KEYSTORE');
-- a double-quoted password is taken as written
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY "regress_pw1"');
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY "REGRESS_PW1"');
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY "regress_pw1";');
-- spaces, punctuation and doubled double quotes inside double quotes
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD FORCE KEYSTORE IDENTIFIED BY regress_pw1 SET "a ""quoted"" pass; word, = ''x''" WITH BACKUP USING ''parser1''');
-- the typed function sees the same password without the quoting
SELECT tde_test.try($$SELECT tde.open_keystore('a "quoted" pass; word, = ''x''')$$);
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY "a ""quoted"" pass; word, = ''x''"');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY "a "quoted" pass; word, = ''x''"');
-- a bare word ends at white space, a quote or punctuation
SELECT tde_test.try($$SELECT tde.alter_keystore_password('a "quoted" pass; word, = ''x''', 'pw#1$x.y/z@',
	with_backup => true, backup_identifier => 'parser2', force_keystore => true)$$);
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY pw#1$x.y/z@;');
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY pw#1$x.y/z@');
-- back to regress_pw1, USING before FORCE KEYSTORE in BACKUP
SELECT tde_test.akm('alter keystore password force keystore identified by pw#1$x.y/z@ set regress_pw1 with backup using ''parser3'' container = all;');
SELECT tde_test.akm('BACKUP KEYSTORE USING ''parser4'' FORCE KEYSTORE IDENTIFIED BY regress_pw1 CONTAINER = CURRENT;');
-- a single quote inside an identifier is doubled
SELECT tde_test.akm('BACKUP KEYSTORE USING ''it''''s'' FORCE KEYSTORE IDENTIFIED BY regress_pw1');
SELECT * FROM tde_test.ls('tde') AS f WHERE f ~ '_(parser[0-9]|it''s)\.p12$';
-- NULL in, NULL out (the function is strict)
SELECT tde.administer_key_management(NULL) IS NULL AS is_null;

--
-- Syntax errors: SQLSTATE 42601, naming the word and its position, or the
-- end of the statement
--
SELECT tde_test.akm('');
SELECT tde_test.akm('   ');
SELECT tde_test.akm(';');
SELECT tde_test.akm('KEYSTORE OPEN');
SELECT tde_test.akm('ADMINISTER KEY');
SELECT tde_test.akm('ADMINISTER KEY MANAGMENT SET KEYSTORE CLOSE');
SELECT tde_test.akm('SET KEYSTORE OPN IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('SET KEYSTORE');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY');
SELECT tde_test.akm('SET KEYSTORE CLOSE CONTAINER ALL');
SELECT tde_test.akm('SET KEYSTORE CLOSE CONTAINER = SOME');
SELECT tde_test.akm('SET KEYSTORE CLOSE;;');
SELECT tde_test.akm('SET KEYSTORE CLOSE (');
SELECT tde_test.akm('CREATE KEYSTORES IDENTIFIED BY x');
SELECT tde_test.akm('CREATE LOCAL KEYSTORE IDENTIFIED BY x');
SELECT tde_test.akm('CREATE AUTO_LOGIN KEYSTORE IDENTIFIED BY x');
SELECT tde_test.akm('CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE');
SELECT tde_test.akm('ALTER KEYSTORE IDENTIFIED BY x SET y WITH BACKUP');
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('BACKUP KEYSTORE USING id IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('BACKUP KEYSTORE IDENTIFIED BY regress_pw1 TO');
SELECT tde_test.akm('ADD SECRET FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE ''/x''');
SELECT tde_test.akm('DELETE SECRET FOR CLIENT TDE_WALLET FROM AUTO_LOGIN KEYSTORE ''/x''');
SELECT tde_test.akm('DELETE SECRET FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE ''/x''');
-- EXTERNAL STORE is no password for a new keystore or a new password
SELECT tde_test.akm('CREATE KEYSTORE IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.akm('CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY EXTERNAL STORE SET x WITH BACKUP');

--
-- A word that may be a password is never shown
--
-- where a password may stand (the user left out IDENTIFIED or BY)
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED hunter2');
SELECT tde_test.akm('SET KEYSTORE OPEN hunter2');
SELECT tde_test.akm('CREATE KEYSTORE IDENTIFIED hunter2');
-- after a password, only keywords of the grammar are named
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1 hunter2');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress pw1');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1 FORCE KEYSTORE');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY "regress pw1" CONTAINER = hunter2');
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY old_pw SET new_pw WITH BACKUP USING hunter2');
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY old_pw SET new_pw hunter2');
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY old_pw new_pw');
SELECT tde_test.akm('BACKUP KEYSTORE IDENTIFIED BY regress_pw1 TO hunter2');
-- a password in single quotes is a syntax error that does not show it
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY ''hunter2''');
-- a bare-word secret is read as the secret (this one then runs, and its
-- location is refused); a double-quoted one is a syntax error
SELECT tde_test.akm('ADD SECRET hunter2 FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE ''/x''');
SELECT tde_test.akm('ADD SECRET "hunter2" FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE ''/x''');
SELECT tde_test.akm('ADD SECRET ''hunter2'' FOR CLIENT TDE_WALLET TO AUTO_LOGIN KEYSTORE ''/x''');
-- an unterminated quote, in any position
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY "hunter2');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY "hunter2""');
SELECT tde_test.akm('BACKUP KEYSTORE USING ''hunter2 IDENTIFIED BY x');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY "');
-- none of these errors contains the password
SELECT count(*) AS leaks
FROM (VALUES
	(tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY hunter2 hunter2')),
	(tde_test.akm('SET KEYSTORE OPEN IDENTIFIED hunter2')),
	(tde_test.akm('SET KEYSTORE OPEN FORCE KEYSTORE hunter2')),
	(tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY ''hunter2''')),
	(tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY "hunter2')),
	(tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY x SET hunter2 hunter2')),
	(tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY hunter2 SET ''hunter2''')),
	(tde_test.akm('ADD SECRET ''hunter2'' FOR CLIENT hunter2')),
	(tde_test.akm('ADD SECRET hunter2 FOR CLIENT ''x''')),
	(tde_test.akm('ADD SECRET hunter2 hunter2')),
	(tde_test.akm('UPDATE SECRET hunter2 FOR hunter2')),
	(tde_test.akm('UPDATE SECRET hunter2 FOR CLIENT ''x'' TO AUTO_LOGIN KEYSTORE hunter2')),
	(tde_test.akm('UPDATE SECRET "hunter2" FOR CLIENT ''x'' TO AUTO_LOGIN KEYSTORE ''/x''')),
	(tde_test.akm('ADD SECRET hunter2 FOR CLIENT ''x'' TO AUTO_LOGIN KEYSTORE ''/x'' hunter2')),
	(tde_test.akm('SET KEY ''hunter2'' FORCE KEYSTORE FORCE KEYSTORE IDENTIFIED BY x')),
	(tde_test.akm('SET KEY FORCE KEYSTORE USING TAG ''t'' IDENTIFIED BY hunter2 USING TAG ''t''')),
	(tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY hunter2' || repeat(' ', 70000))),
	(tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY hunter2 ' || repeat(',', 65000)))
) AS t(err)
WHERE err ~ 'hunter2' OR err !~ '^(42601|54000)';

--
-- Statements of later versions: recognised, and refused with 0A000 before
-- anything runs (SET/CREATE/USE KEY and SET TAG are the keys suite's);
-- EXPORT, IMPORT and MOVE KEYS run (the keystore is closed here, the file
-- missing, MOVE stops at its checks): they are the transfer file's and
-- t/040_move_keys.pl's
--
SELECT tde_test.akm('EXPORT KEYS WITH SECRET "s" TO ''/tmp/x.exp'' IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('EXPORT ENCRYPTION KEYS WITH SECRET "s" TO ''/tmp/x.exp'' IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('IMPORT KEYS WITH SECRET "s" FROM ''/tmp/x.exp'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.akm('IMPORT ENCRYPTION KEYS WITH SECRET "s" FROM ''/tmp/x.exp'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.akm('MERGE KEYSTORE ''/a'' AND KEYSTORE ''/b'' IDENTIFIED BY x INTO NEW KEYSTORE ''/c'' IDENTIFIED BY y');
SELECT tde_test.akm('MOVE KEYS TO NEW KEYSTORE ''x'' IDENTIFIED BY y FROM FORCE KEYSTORE IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.akm('MOVE ENCRYPTION KEYS TO NEW KEYSTORE ''/x'' IDENTIFIED BY y FROM KEYSTORE IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('ISOLATE KEYSTORE IDENTIFIED BY x FROM ROOT KEYSTORE IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.akm('UNITE KEYSTORE IDENTIFIED BY x WITH ROOT KEYSTORE IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.akm('ADD SECRET ''s'' FOR CLIENT ''c'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.akm('ADD SECRET ''s'' FOR CLIENT ''c'' USING TAG ''t'' FORCE KEYSTORE IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.akm('UPDATE SECRET ''s'' FOR CLIENT ''c'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.akm('DELETE SECRET FOR CLIENT ''c'' IDENTIFIED BY regress_pw1 WITH BACKUP');
-- migration between a keystore and an HSM: parsed, then refused under
-- tde.keystore_configuration = FILE
SELECT tde_test.akm('SET ENCRYPTION KEY IDENTIFIED BY "hsm_pw" MIGRATE USING regress_pw1 WITH BACKUP');
SELECT tde_test.akm('SET KEY FORCE KEYSTORE IDENTIFIED BY regress_pw1 REVERSE MIGRATE USING "hsm_pw"');
-- a misspelt later statement is a syntax error, not 0A000
SELECT tde_test.akm('EXPORT KEY WITH SECRET "s" TO ''/tmp/x.exp'' IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('MERGE KEYSTORES');

--
-- Oracle's templates and examples (spec 001), each in every clause order
-- its templates show, as parsed (tde_test.parsed runs nothing).  Typing
-- slips in the examples are corrected; those kept at the end stay errors.
--
-- §4.1.2.2, §4.1.11.1.1, §4.1.11.2.3: ALTER KEYSTORE PASSWORD
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT ALTER KEYSTORE PASSWORD FORCE KEYSTORE IDENTIFIED BY old_password SET new_password WITH BACKUP USING ''pwd_change'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT ALTER KEYSTORE PASSWORD FORCE KEYSTORE IDENTIFIED BY TDE_wallet_password SET "external_key_manager_password" WITH BACKUP');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT ALTER KEYSTORE PASSWORD IDENTIFIED BY old_TDE_wallet_password SET new_TDE_wallet_password WITH BACKUP USING ''before_password_was_changed'';');
-- §4.1.3, §4.1.4.3, §4.1.9, §4.1.14.2, §4.1.14.3: SET KEYSTORE OPEN and CLOSE
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY Oracle_Key_Vault_password CONTAINER = ALL;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY EXTERNAL STORE CONTAINER = ALL;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE CONTAINER = ALL;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY TDE_wallet_password;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY "external_key_manager_password";');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY new_Oracle_Key_Vault_pwd CONTAINER =ALL;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE CONTAINER = ALL;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE;');
-- §4.1.5.2, §4.1.5.3, §4.1.9: BACKUP KEYSTORE
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT BACKUP KEYSTORE USING ''Monthly-backup-2013-04'' FORCE KEYSTORE IDENTIFIED BY TDE_wallet_password;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT BACKUP KEYSTORE USING ''Monthly-backup-2013-04'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT BACKUP KEYSTORE USING ''hr.emp_wallet'' FORCE KEYSTORE IDENTIFIED BY TDE_wallet_password TO ''/etc/ORACLE/KEYSTORE/DB1/'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT BACKUP KEYSTORE IDENTIFIED BY EXTERNAL STORE');
-- §4.1.10, §4.1.11.1.1: CREATE KEYSTORE, CREATE [LOCAL] AUTO_LOGIN KEYSTORE
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT CREATE KEYSTORE ''/etc/ORACLE/KEYSTORE/DB1/'' IDENTIFIED BY "target_TDE_wallet_password";');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE ''keystore_location'' IDENTIFIED BY TDE_wallet_password;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT CREATE LOCAL AUTO_LOGIN KEYSTORE FROM KEYSTORE ''keystore_location'' IDENTIFIED BY TDE_wallet_password;');
-- §4.1.11.1.3, §4.1.11.2.3: MIGRATE and REVERSE MIGRATE
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "external_key_manager_password" MIGRATE USING TDE_wallet_password WITH BACKUP USING ''backup_identifier'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "external_key_manager_password" MIGRATE USING TDE_wallet_password;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY TDE_wallet_password REVERSE MIGRATE USING "external_key_manager_password" WITH BACKUP;');
-- §4.2.1.2: SET | CREATE [ENCRYPTION] KEY 'mkid:mk' | 'mk'
-- [USING ALGORITHM] [FORCE KEYSTORE], and the other order
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY ''f24ce8cdae39742b5da7293da206fbd05a28b1e44c4781f801768cfdc3dbb6e2'' USING ALGORITHM ''ARIA256'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP USING ''backup_identifier'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY ''f24ce8cdae39742b5da7293da206fbd05a28b1e44c4781f801768cfdc3dbb6e2'' USING ALGORITHM ''ARIA256'' FORCE KEYSTORE IDENTIFIED BY keystore_password WITH BACKUP;');
SELECT tde_test.parsed('SET KEY ''f24ce8cdae39742b5da7293da206fbd05a28b1e44c4781f801768cfdc3dbb6e2'' FORCE KEYSTORE USING ALGORITHM ''ARIA256'' IDENTIFIED BY keystore_password WITH BACKUP');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT CREATE ENCRYPTION KEY ''D20765EB721AF44D054B30FE87F8E49A:5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11'' IDENTIFIED BY EXTERNAL STORE WITH BACKUP;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT CREATE ENCRYPTION KEY ''D20765EB721AF44D054B30FE87F8E49A:5a089c8ea6ee21cba774f61e58d102665df4a979a34757836b3d066a3eb3db11'' IDENTIFIED BY software_keystore_password WITH BACKUP;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT USE KEY ''AdIHZetyGvRNBUsw/of45JoAAAAAAAAAAAAAAAAAAAAAAAAAAAA'' USING TAG ''CDB$ROOT 2026-12-02 07:00:00Z'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP;');
-- §4.2.2.2, §4.2.2.3: CREATE KEY [USING TAG] [FORCE KEYSTORE], and the
-- other order; USE KEY
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT CREATE KEY USING TAG ''tag'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP USING ''backup_identifier'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT CREATE KEY FORCE KEYSTORE USING TAG ''tag'' IDENTIFIED BY keystore_password WITH BACKUP;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT CREATE KEY USING TAG ''source:admin@source;target:db1@target'' IDENTIFIED BY password WITH BACKUP;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT USE KEY ''AWsHwVYC2U+Nv3RVphn/yAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'' USING TAG ''quarter:second;description:Activate Key on standby'' IDENTIFIED BY password WITH BACKUP;');
-- §4.2.3.2, §4.2.3.3: USE KEY [USING TAG] [FORCE KEYSTORE], and the other order
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT USE KEY ''ARaHD762tUkkvyLgPzAi6hMAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'' USING TAG ''quarter:second;description:Activate Key on standby'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT USE KEY ''ARaHD762tUkkvyLgPzAi6hMAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'' FORCE KEYSTORE USING TAG ''t'' IDENTIFIED BY keystore_password WITH BACKUP USING ''b'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT USE KEY ''ARaHD762tUkkvyLgPzAi6hMAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'' IDENTIFIED BY keystore_password;');
-- §4.2.5.2: SET TAG; its example is a SET ENCRYPTION KEY
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET TAG ''tag'' FOR ''ARaHD762tUkkvyLgPzAi6hMAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP USING ''backup_identifier'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET TAG ''tag'' FOR ''ARaHD762tUkkvyLgPzAi6hMAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'' IDENTIFIED BY keystore_password;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY USING TAG ''sessionid=3205062574:terminal=xcvt'' IDENTIFIED BY keystore_password WITH BACKUP;');
-- §4.2.6.2: SET ENCRYPTION KEY [USING TAG] [FORCE KEYSTORE]
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY USING TAG ''tag'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP USING ''backup_identifier'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY USING TAG ''backups'' IDENTIFIED BY password WITH BACKUP USING ''hr.emp_key_backup'';');
-- §4.2.6.4: SET [ENCRYPTION] KEY [FORCE KEYSTORE] [USING TAG]
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY FORCE KEYSTORE USING TAG ''tag_name'' IDENTIFIED BY EXTERNAL STORE WITH BACKUP USING ''backup_identifier'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET KEY FORCE KEYSTORE USING TAG ''tag_name'' IDENTIFIED BY keystore_password;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT SET KEY FORCE KEYSTORE IDENTIFIED BY keystore_password WITH BACKUP USING ''emp_key_backup'';');
SELECT tde_test.parsed('SET KEY FORCE KEYSTORE USING TAG ''t'' USING ALGORITHM ''AES256'' IDENTIFIED BY "p w" MIGRATE USING x');
-- §4.3.2, §4.3.6: the secret statements.  An AUTO_LOGIN keystore location
-- without IDENTIFIED BY is the external store; the secret is quoted or a
-- bare word
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT ADD SECRET ''keystore_password'' FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE ''WALLET_ROOT/tde_seps'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT ADD SECRET keystore_password FOR CLIENT ''TDE_WALLET'' TO LOCAL AUTO_LOGIN KEYSTORE ''WALLET_ROOT/tde_seps'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT UPDATE SECRET ''secret'' FOR CLIENT ''HSM_PASSWORD'' USING TAG ''tag'' TO AUTO_LOGIN KEYSTORE ''WALLET_ROOT/tde_seps''');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT UPDATE SECRET s3cr3t#1 FOR CLIENT ''HSM_PASSWORD'' USING TAG ''tag'' TO LOCAL AUTO_LOGIN KEYSTORE ''WALLET_ROOT/tde_seps''');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT DELETE SECRET FOR CLIENT ''TDE_WALLET'' FROM LOCAL AUTO_LOGIN KEYSTORE ''WALLET_ROOT/tde_seps''');
-- a secret that is a keyword is still a secret
SELECT tde_test.parsed('ADD SECRET KEYSTORE FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE ''WALLET_ROOT/tde_seps''');
-- §4.3.3: INTO for TO; §4.3.10.2: WITH BACKUP after the location
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT ADD SECRET ''external_keystore_password'' FOR CLIENT ''OKV_PASSWORD'' INTO LOCAL AUTO_LOGIN KEYSTORE ''WALLET_ROOT/tde'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT ADD SECRET ''external_key_manager_password'' FOR CLIENT ''OKV_PASSWORD'' TO LOCAL AUTO_LOGIN KEYSTORE ''TDE_wallet_location'' WITH BACKUP;');
SELECT tde_test.parsed('DELETE SECRET FOR CLIENT ''TDE_WALLET'' FROM AUTO_LOGIN KEYSTORE ''WALLET_ROOT/tde_seps'' WITH BACKUP USING ''b''');
-- those run: OKV_PASSWORD is no client of the external store (0A000), and
-- the location is checked (WITH BACKUP does nothing: external_store shows
-- its NOTICE)
SELECT tde_test.akm('ADMINISTER KEY MANAGEMENT ADD SECRET ''external_keystore_password'' FOR CLIENT ''OKV_PASSWORD'' INTO LOCAL AUTO_LOGIN KEYSTORE ''WALLET_ROOT/tde'';');
SELECT tde_test.akm('ADD SECRET regress_pw1 FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE ''WALLET_ROOT/tde'' WITH BACKUP');
-- a secret in the keystore itself (FORCE KEYSTORE, IDENTIFIED BY, or a
-- KEYSTORE location without AUTO_LOGIN) is a statement of a later version:
-- §4.3.2 and §4.3.6 templates, examples 4-7 to 4-12
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT ADD SECRET ''secret'' FOR CLIENT ''client_identifier'' USING TAG ''tag'' TO LOCAL AUTO_LOGIN KEYSTORE ''keystore_location'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP USING ''backup_id'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT ADD SECRET ''secret'' FOR CLIENT ''client_identifier'' TO KEYSTORE ''keystore_location'' IDENTIFIED BY keystore_password');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT UPDATE SECRET ''secret'' FOR CLIENT ''client_identifier'' USING TAG ''tag'' TO AUTO_LOGIN KEYSTORE ''keystore_location'' IDENTIFIED BY "external_key_manager_password" WITH BACKUP;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT DELETE SECRET FOR CLIENT ''client_identifier'' FROM KEYSTORE ''keystore_location'' FORCE KEYSTORE IDENTIFIED BY keystore_password WITH BACKUP USING ''backup_id'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT ADD SECRET ''external_key_manager_password'' FOR CLIENT ''OKV_PASSWORD'' IDENTIFIED BY software_keystore_password WITH BACKUP;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT UPDATE SECRET admin_password FOR CLIENT ''admin@myhost'' USING TAG ''new_host_credentials'' FORCE KEYSTORE IDENTIFIED BY software_keytore_password;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT UPDATE SECRET admin_password FOR CLIENT ''admin@myhost'' USING TAG ''new_host_credentials'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT DELETE SECRET FOR CLIENT ''OKV_PASSWORD'' FORCE KEYSTORE IDENTIFIED BY password WITH BACKUP;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT DELETE SECRET FOR CLIENT ''OKV_PASSWORD'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE WITH BACKUP;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT ADD SECRET ''password'' FOR CLIENT ''admin@myhost'' USING TAG ''myhost admin credentials'' IDENTIFIED BY "external_key_manager_password";');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT ADD SECRET ''password'' FOR CLIENT ''admin@myhost'' USING TAG ''myhost admin credentials'' IDENTIFIED BY EXTERNAL STORE;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT UPDATE SECRET ''password2'' FOR CLIENT ''admin@myhost'' USING TAG ''New host credentials'' IDENTIFIED BY "external_key_manager_password";');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT DELETE SECRET FOR CLIENT ''admin@myhost'' IDENTIFIED BY "external_key_manager_password";');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT DELETE SECRET FOR CLIENT ''admin@myhost'' IDENTIFIED BY EXTERNAL STORE;');
-- and they run as such, with 0A000, the unquoted secret included
SELECT tde_test.akm('ADMINISTER KEY MANAGEMENT UPDATE SECRET admin_password FOR CLIENT ''admin@myhost'' USING TAG ''new_host_credentials'' FORCE KEYSTORE IDENTIFIED BY software_keytore_password;');
SELECT tde_test.akm('ADMINISTER KEY MANAGEMENT ADD SECRET ''secret'' FOR CLIENT ''client_identifier'' TO KEYSTORE ''keystore_location'' IDENTIFIED BY keystore_password');
-- §4.1.8, §4.1.10, §4.2.7, §4.2.8: MERGE, EXPORT, IMPORT, MOVE (the paths quoted)
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT MERGE KEYSTORE ''/etc/ORACLE/KEYSTORE/DB1'' AND KEYSTORE ''/etc/ORACLE/KEYSTORE/DB2'' IDENTIFIED BY existing_password_for_keystore_2 INTO NEW KEYSTORE ''/etc/ORACLE/KEYSTORE/DB3'' IDENTIFIED BY new_password_for_keystore_3;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT MERGE KEYSTORE ''/etc/ORACLE/KEYSTORE/DB1'' INTO EXISTING KEYSTORE ''/etc/ORACLE/KEYSTORE/DB2'' IDENTIFIED BY password WITH BACKUP USING "merge1";');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT EXPORT ENCRYPTION KEYS WITH SECRET "my_secret" TO ''/TDE/export.exp'' FORCE KEYSTORE IDENTIFIED BY password WITH IDENTIFIER IN ''AdoxnJ0uH08cv7xkz83ovwsAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'', ''AW5z3CoyKE/yv3cNT5CWCXUAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'';');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT EXPORT ENCRYPTION KEYS WITH SECRET "my_secret" TO ''/etc/TDE/export.exp'' FORCE KEYSTORE IDENTIFIED BY password WITH IDENTIFIER IN (SELECT KEY_ID FROM V$ENCRYPTION_KEYS WHERE ROWNUM <3);');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT IMPORT KEYS WITH SECRET "my_secret" FROM ''/etc/TDE/export.exp'' FORCE KEYSTORE IDENTIFIED BY password WITH BACKUP;');
SELECT tde_test.parsed('ADMINISTER KEY MANAGEMENT MOVE KEYS TO NEW KEYSTORE ''/u01/app/oracle/admin/orcl/wallet'' IDENTIFIED BY keystore_password FROM FORCE KEYSTORE IDENTIFIED BY keystore_password WITH IDENTIFIER IN (SELECT KEY_ID FROM V$ENCRYPTION_KEYS WHERE ROWNUM < 2);');
-- the examples' typing slips stay syntax errors
SELECT tde_test.akm('ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY ''f24ce8cdae39742b5da7293da206fbd05a28b1e44c4781f801768cfdc3dbb6e2'' USING ALGORITHM ''ARIA256'' FORCE KEYSTORE IIDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.akm('ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY USING TAG ''backups" IDENTIFIED BY password WITH BACKUP USING ''hr.emp_key_backup'';');
SELECT tde_test.akm('ADMINISTER KEY MANAGEMENT MANAGEMENT UPDATE SECRET ''password2'' FOR CLIENT ''admin@myhost'' USING TAG ''New host credentials'' IDENTIFIED BY EXTERNAL STORE;');
SELECT tde_test.akm('DMINISTER KEY MANAGEMENT UPDATE SECRET admin_password FOR CLIENT ''admin@myhost'' USING TAG ''new_host_credentials'' FORCE KEYSTORE IDENTIFIED BY EXTERNAL STORE;');

--
-- Wrong clauses around the new orders and the bare-word secret: the word,
-- its position and what was expected
--
-- each optional clause at most once
SELECT tde_test.akm('SET KEY FORCE KEYSTORE USING TAG ''t'' FORCE KEYSTORE IDENTIFIED BY x');
SELECT tde_test.akm('SET KEY USING TAG ''a'' FORCE KEYSTORE USING TAG ''b'' IDENTIFIED BY x');
SELECT tde_test.akm('CREATE KEY USING ALGORITHM ''AES256'' USING ALGORITHM ''ARIA256'' IDENTIFIED BY x');
SELECT tde_test.akm('USE KEY ''k'' USING TAG ''a'' FORCE KEYSTORE FORCE KEYSTORE IDENTIFIED BY x');
-- what each clause allows
SELECT tde_test.akm('USE KEY ''k'' USING ALGORITHM ''AES256'' IDENTIFIED BY x');
SELECT tde_test.akm('SET KEY USING KEYSTORE IDENTIFIED BY x');
SELECT tde_test.akm('SET KEY FORCE IDENTIFIED BY x');
SELECT tde_test.akm('SET KEY FORCE KEYSTORE');
SELECT tde_test.akm('SET TAG ''t'' FOR ''k'' USING TAG ''u'' IDENTIFIED BY x');
SELECT tde_test.akm('SET KEY IDENTIFIED BY x FORCE KEYSTORE');
-- the secret statements
SELECT tde_test.akm('ADD SECRET FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE ''/x''');
SELECT tde_test.akm('UPDATE SECRET');
SELECT tde_test.akm('ADD SECRET s FOR CLIENT ''TDE_WALLET''');
SELECT tde_test.akm('DELETE SECRET FOR CLIENT ''TDE_WALLET'' USING TAG ''t''');
SELECT tde_test.akm('ADD SECRET s FOR CLIENT ''TDE_WALLET'' TO LOCAL KEYSTORE ''/x''');
SELECT tde_test.akm('ADD SECRET s FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN ''/x''');
SELECT tde_test.akm('ADD SECRET s FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE');
SELECT tde_test.akm('DELETE SECRET FOR CLIENT ''TDE_WALLET'' INTO AUTO_LOGIN KEYSTORE ''/x''');
SELECT tde_test.akm('DELETE SECRET FOR CLIENT ''TDE_WALLET'' FROM AUTO_LOGIN KEYSTORE ''/x'' WITH BACKUP USING bkp');
SELECT tde_test.akm('ADD SECRET s FOR CLIENT ''TDE_WALLET'' TO AUTO_LOGIN KEYSTORE ''/x'' CONTAINER = ALL WITH BACKUP');

--
-- Limits: a statement is at most 65536 bytes (54000 beyond, before it is
-- read, and the text is not shown); up to that, any number of tokens parses
-- in linear time and can be cancelled
--
SELECT octet_length(s), tde_test.parsed(s)
FROM (SELECT 'SET KEYSTORE CLOSE' || repeat(' ', 65536 - 18) AS s) AS t;
SELECT octet_length(s), tde_test.parsed(s)
FROM (SELECT 'SET KEYSTORE CLOSE' || repeat(' ', 65536 - 17) AS s) AS t;
SELECT tde_test.akm('SET KEYSTORE CLOSE' || repeat(' ', 65536 - 17));
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY hunter2' || repeat(';', 1024 * 1024));
-- a long quoted string, a long bare word
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY "' || repeat('x', 65000) || '" extra');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY ' || repeat('x', 65000) || ' extra');
SELECT tde_test.akm('BACKUP KEYSTORE USING ''' || repeat('''''', 32000) || ' IDENTIFIED BY x');
-- the most tokens: none of these comes near a 2 s statement_timeout
SET statement_timeout = '2s';
SELECT tde_test.akm('SET KEYSTORE CLOSE ' || repeat(',', 65536 - 19));
SELECT tde_test.akm('SET KEYSTORE CLOSE' || repeat(' a', (65536 - 18) / 2));
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY "x"' || repeat(' ''''', (65536 - 35) / 3));
RESET statement_timeout;
-- Positions count characters, not bytes: a database in UTF8 shows it
SELECT current_database() AS regress_db \gset
CREATE DATABASE regress_tde_utf8 TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C';
\c regress_tde_utf8
\set SHOW_CONTEXT never
CREATE EXTENSION tde;
-- BX is the 37th character (the 39th byte)
SELECT tde.administer_key_management(E'CREATE KEYSTORE \'/x/t\u00e9\u00e9\' IDENTIFIED BX pw');
-- the hidden word starts at the 40th character (the 41st byte)
SELECT tde.administer_key_management(E'SET KEYSTORE OPEN IDENTIFIED BY "p\u00e4ss" extra');
-- counted across tokens of multibyte characters: four of 100 two-byte
-- characters each, then the hidden word at character 512 (byte 912)
SELECT tde.administer_key_management(format($$SET KEY USING TAG '%s' USING ALGORITHM '%s' FORCE KEYSTORE IDENTIFIED BY "%s" WITH BACKUP USING '%s' CONTAINER = ALL ; x$$,
	repeat(E'\u00e9', 100), repeat(E'\u00e9', 100), repeat(E'\u00e9', 100), repeat(E'\u00e9', 100)));
-- and the limit is in bytes: with 32,760 such characters the statement
-- is 65,554 bytes long
SELECT tde.administer_key_management(E'SET KEYSTORE OPEN IDENTIFIED BY "' || repeat(E'\u00e9', 32760) || '"');
\c :regress_db
\set SHOW_CONTEXT never
DROP DATABASE regress_tde_utf8 WITH (FORCE);

-- none of that changed the keystore
SELECT * FROM tde_test.wallet;
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('SET KEYSTORE CLOSE');
