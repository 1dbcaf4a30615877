--
-- redaction: statements that carry passwords are kept out of the server
-- log, and the client still sees its results and errors as usual.
--
-- The server log of pg_regress's temporary instance is <build tree>/log/
-- postmaster.log, and tde.wallet_root is <build tree>/tmp_wallet_root, so
-- the log is read from there (as a superuser).  The server runs with
-- log_statement = all.  The markers searched for are never written whole
-- in a checking query (they are concatenated), so the check cannot find
-- itself.
--
-- Expects: <root>/tde/ewallet.p12 with password regress_pw1, no auto-login
--          wallet, the keystore closed.
-- Leaves:  the same, keystore closed.
--
\set SHOW_CONTEXT never

-- lines of the server log that contain a string
CREATE FUNCTION tde_test.log_lines(s text) RETURNS SETOF text
LANGUAGE sql AS $$
	SELECT l
	FROM regexp_split_to_table(
		pg_read_file(current_setting('tde.wallet_root') || '/../log/postmaster.log'),
		E'\n') AS l
	WHERE strpos(l, s) > 0
$$;
-- the same, from the message level on (time, process and application cut)
CREATE FUNCTION tde_test.log_messages(s text) RETURNS SETOF text
LANGUAGE sql AS $$
	SELECT substring(l FROM '(?:LOG|ERROR|DETAIL|HINT|CONTEXT|STATEMENT):  .*$')
	FROM tde_test.log_lines(s) AS l
$$;

-- The check works: an ordinary statement is logged as written
SELECT 'regress_visible_1' AS probe;
SELECT * FROM tde_test.log_messages('regress_' || 'visible_1');

-- Statements with passwords, run at top level so that the server logs them
SELECT tde.administer_key_management('ALTER KEYSTORE PASSWORD FORCE KEYSTORE IDENTIFIED BY regress_pw1 SET regress_logpw_1 WITH BACKUP USING ''redact1''');
SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY regress_logpw_1');
SELECT tde.close_keystore('regress_logpw_1');
SELECT tde.alter_keystore_password('regress_logpw_1', 'regress_pw1', true, 'redact2', force_keystore => true) IS NOT NULL AS changed_back;
-- an error: the client sees it in full
SELECT tde.administer_key_management('SET KEYSTORE CLOSE IDENTIFIED BY regress_logpw_2');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- an error inside a function: its CONTEXT line would quote the statement
DO $$ BEGIN PERFORM tde.close_keystore(password => 'regress_logpw_3'); END $$;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a syntax error where the password stands
SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED regress_logpw_4');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the match is broad: any statement that names a password is redacted
SELECT 'regress_logpw_5' AS "password";

-- log_min_duration_statement logs the statement text with the duration
SET log_statement = 'none';
SET log_min_duration_statement = 0;
SELECT 'regress_visible_2' AS probe;
SELECT 'regress_logpw_6' AS secret;
RESET log_min_duration_statement;
RESET log_statement;

-- the server's messages in another language (setup generates de_DE.UTF-8):
-- redaction does not depend on their wording
SET lc_messages = 'de_DE.UTF-8';
SELECT 'regress_logpw_7' AS "password";
PREPARE regress_close(text) AS SELECT tde.close_keystore($1);
\set VERBOSITY sqlstate
EXECUTE regress_close('regress_logpw_8');
\set VERBOSITY default
DEALLOCATE regress_close;
RESET lc_messages;
SELECT count(*) AS german_statement_lines
FROM tde_test.log_messages('Anwei' || 'sung: ') AS m
WHERE m = 'LOG:  Anweisung: <redacted by tde>';
SELECT m AS german_prepare_detail
FROM tde_test.log_messages('Vorbe' || 'reiten: ') AS m;

-- none of the passwords is in the log ...
SELECT n, count(l) AS lines
FROM generate_series(1, 8) AS n
	 LEFT JOIN LATERAL tde_test.log_lines('regress_' || 'logpw_' || n) AS l ON true
GROUP BY n ORDER BY n;
-- ... nor the initial one, from any of the tests so far
SELECT count(*) AS lines FROM tde_test.log_lines('regress_' || 'pw1');
SELECT count(*) AS lines FROM tde_test.log_lines('hunter' || '2');
-- the statements are there, redacted
SELECT count(*) > 5 AS redacted FROM tde_test.log_lines('statement: ' || '<redacted by tde>');
SELECT count(*) AS duration_lines
FROM tde_test.log_messages('dura' || 'tion: ') AS m
WHERE m ~ '^LOG:  duration: [0-9.]+ ms  statement: <redacted by tde>$';
SELECT regexp_replace(m, '[0-9.]+ ms', 'N ms') AS visible
FROM tde_test.log_messages('regress_' || 'visible_2') AS m;
-- the errors are there, without a STATEMENT line
SELECT m AS error, count(*)
FROM tde_test.log_messages('ERROR:  ' || 'keystore is not open') AS m GROUP BY m;
SELECT count(*) AS statement_lines
FROM tde_test.log_lines('STATE' || 'MENT:  ') AS l WHERE l ~* ('key' || 'store');
-- the CONTEXT of the error in the DO block
SELECT m AS context FROM tde_test.log_messages('CONT' || 'EXT:  ') AS m;

-- the keystore works as before
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('SET KEYSTORE CLOSE');
SELECT * FROM tde_test.wallet;
