--
-- parser: the lexical and grammatical rules of ADMINISTER KEY MANAGEMENT
-- statements, their syntax errors, and the statements of later versions.
--
-- Expects: <root>/tde/ewallet.p12 with password regress_pw1, no auto-login
--          wallet, the keystore closed (as keystore leaves it).
-- Leaves:  the same: password regress_pw1, keystore closed.
--
\set SHOW_CONTEXT never

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
-- nor a secret that is not in single quotes
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
	(tde_test.akm('ADD SECRET hunter2 FOR CLIENT ''x'''))
) AS t(err)
WHERE err ~ 'hunter2' OR err !~ '^42601';

--
-- Statements of later versions: recognised, and refused with 0A000 before
-- anything runs (SET/CREATE/USE KEY and SET TAG are the keys suite's)
--
SELECT tde_test.akm('EXPORT KEYS WITH SECRET "s" TO ''/tmp/x.exp'' IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('EXPORT ENCRYPTION KEYS WITH SECRET "s" TO ''/tmp/x.exp'' IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('IMPORT KEYS WITH SECRET "s" FROM ''/tmp/x.exp'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.akm('IMPORT ENCRYPTION KEYS WITH SECRET "s" FROM ''/tmp/x.exp'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT tde_test.akm('MERGE KEYSTORE ''/a'' AND KEYSTORE ''/b'' IDENTIFIED BY x INTO NEW KEYSTORE ''/c'' IDENTIFIED BY y');
SELECT tde_test.akm('MOVE KEYS TO NEW KEYSTORE ''/x'' IDENTIFIED BY y FROM FORCE KEYSTORE IDENTIFIED BY regress_pw1 WITH BACKUP');
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
\c :regress_db
\set SHOW_CONTEXT never
DROP DATABASE regress_tde_utf8 WITH (FORCE);

-- none of that changed the keystore
SELECT * FROM tde_test.wallet;
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('SET KEYSTORE CLOSE');
