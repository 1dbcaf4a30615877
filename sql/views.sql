--
-- views: v$encryption_wallet — its columns, where it resolves, its values,
-- and that the status it shows is instance-wide.
--
-- Expects: <root>/tde/ewallet.p12 with password regress_pw1, no auto-login
--          wallet, the keystore closed.
-- Leaves:  the same, keystore closed.
--
\set SHOW_CONTEXT never

-- Oracle's columns, in Oracle's order
SELECT ordinal_position, column_name, data_type
FROM information_schema.columns
WHERE table_schema = 'public' AND table_name = 'v$encryption_wallet'
ORDER BY ordinal_position;
SELECT table_schema, table_name, is_updatable, is_insertable_into
FROM information_schema.views WHERE table_name = 'v$encryption_wallet';

-- it resolves without a schema under the default search_path, also when
-- written in Oracle's upper case
SHOW search_path;
SELECT 'v$encryption_wallet'::regclass;
SELECT count(*) FROM v$encryption_wallet;
SELECT STATUS, WALLET_TYPE FROM V$ENCRYPTION_WALLET;

-- it cannot be written
SELECT tde_test.try($$INSERT INTO v$encryption_wallet (status) VALUES ('OPEN')$$);
SELECT tde_test.try($$UPDATE v$encryption_wallet SET status = 'OPEN'$$);
SELECT tde_test.try($$DELETE FROM v$encryption_wallet$$);

-- closed: one row; a PostgreSQL instance is a non-CDB database, so CON_ID
-- is 0 and KEYSTORE_MODE NONE; one keystore, so WALLET_ORDER SINGLE
SELECT * FROM tde_test.wallet;
-- the view is the function
SELECT (SELECT row(v.*)::text FROM v$encryption_wallet v)
	 = (SELECT row(f.*)::text FROM tde.encryption_wallet() f) AS same;

-- open: no master key yet, so OPEN_NO_MASTER_KEY and FULLY_BACKED_UP
-- UNDEFINED, even after a backup
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT * FROM tde_test.wallet;
SELECT tde_test.akm('BACKUP KEYSTORE USING ''views1'' IDENTIFIED BY regress_pw1');
SELECT * FROM tde_test.wallet;
SELECT (SELECT row(v.*)::text FROM v$encryption_wallet v)
	 = (SELECT row(f.*)::text FROM tde.encryption_wallet() f) AS same;

-- the status is the instance's, not the session's: a new session sees it
\c
\set SHOW_CONTEXT never
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT tde_test.try($$SELECT tde.close_keystore()$$);
\c
\set SHOW_CONTEXT never
SELECT status, wallet_type FROM v$encryption_wallet;
-- and a session in another database
SELECT current_database() AS regress_db \gset
CREATE DATABASE regress_tde_other TEMPLATE template0;
\c regress_tde_other
\set SHOW_CONTEXT never
-- the extension is not created here, but the keystore is the same
SELECT count(*) AS tde_functions FROM pg_proc WHERE proname = 'administer_key_management';
CREATE EXTENSION tde;
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT tde.administer_key_management('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
\c :regress_db
\set SHOW_CONTEXT never
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT tde_test.akm('SET KEYSTORE CLOSE');
DROP DATABASE regress_tde_other WITH (FORCE);
SELECT * FROM tde_test.wallet;
