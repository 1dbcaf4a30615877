--
-- privileges: who may run key operations (superusers and tde_admin), who
-- may read v$encryption_wallet (also pg_monitor), and that PUBLIC has
-- nothing; the checks are made in C, so a stray GRANT does not widen them.
--
-- Expects: <root>/tde/ewallet.p12 with password regress_pw1, the external
--          store holding regress_pw1 for TDE_WALLET, no auto-login wallet,
--          the keystore closed.
-- Leaves:  the same (a few more backups); the roles made here are dropped.
--
\set SHOW_CONTEXT never

CREATE ROLE regress_tde_plain;
CREATE ROLE regress_tde_keyadmin IN ROLE tde_admin;
CREATE ROLE regress_tde_monitor IN ROLE pg_monitor;
CREATE ROLE regress_tde_keywriter IN ROLE tde_admin, pg_write_server_files;

--
-- The grants: nothing for PUBLIC
--
-- no function in schema tde is executable by PUBLIC; tde_admin may run
-- them all
SELECT count(*) FILTER (WHERE has_function_privilege('public', p.oid, 'EXECUTE')) AS public_may_run,
	   count(*) FILTER (WHERE NOT has_function_privilege('tde_admin', p.oid, 'EXECUTE')) AS tde_admin_may_not_run
FROM pg_proc p
WHERE p.pronamespace = 'tde'::regnamespace;
-- pg_monitor may run only the monitoring functions
SELECT p.oid::regprocedure AS pg_monitor_may_run
FROM pg_proc p
WHERE p.pronamespace = 'tde'::regnamespace
  AND has_function_privilege('pg_monitor', p.oid, 'EXECUTE')
ORDER BY p.oid::regprocedure::text COLLATE "C";
SELECT r AS grantee,
	   has_schema_privilege(r, 'tde', 'USAGE') AS schema_usage,
	   has_table_privilege(r, 'v$encryption_wallet', 'SELECT') AS view_select,
	   has_table_privilege(r, 'v$encryption_wallet', 'INSERT,UPDATE,DELETE') AS view_write
FROM unnest(ARRAY['public', 'tde_admin', 'pg_monitor']) AS r;

-- Every entry point, for the tables below
CREATE TEMP TABLE entry_points (id serial, name text, stmt text);
INSERT INTO entry_points (name, stmt) VALUES
	('administer_key_management', $$SELECT tde.administer_key_management('SET KEYSTORE CLOSE')$$),
	('create_keystore', $$SELECT tde.create_keystore('regress_pw1')$$),
	('create_auto_login_keystore', $$SELECT tde.create_auto_login_keystore('regress_pw1')$$),
	('open_keystore', $$SELECT tde.open_keystore('regress_pw1')$$),
	('close_keystore', $$SELECT tde.close_keystore()$$),
	('alter_keystore_password', $$SELECT tde.alter_keystore_password('regress_pw1', 'regress_pw2', true)$$),
	('backup_keystore', $$SELECT tde.backup_keystore('regress_pw1', force_keystore => true)$$),
	('add_external_store_secret', $$SELECT tde.add_external_store_secret('x', 'TDE_WALLET')$$),
	('update_external_store_secret', $$SELECT tde.update_external_store_secret('x', 'TDE_WALLET')$$),
	('delete_external_store_secret', $$SELECT tde.delete_external_store_secret('TDE_WALLET')$$),
	('encryption_wallet', $$SELECT status FROM tde.encryption_wallet()$$),
	('v$encryption_wallet', $$SELECT status FROM v$encryption_wallet$$);
GRANT SELECT ON entry_points TO PUBLIC;

--
-- A plain role: 42501 everywhere
--
SET ROLE regress_tde_plain;
SELECT name, tde_test.try(stmt) AS result FROM entry_points ORDER BY id;
RESET ROLE;

-- Even with every grant it could be given, the C checks refuse it
GRANT USAGE ON SCHEMA tde TO regress_tde_plain;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tde TO regress_tde_plain;
GRANT SELECT ON v$encryption_wallet TO regress_tde_plain;
SET ROLE regress_tde_plain;
SELECT name, split_part(tde_test.try(stmt), E'\n', 1) AS result FROM entry_points ORDER BY id;
-- in full, once for an operation and once for the view
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT * FROM v$encryption_wallet$$);
RESET ROLE;
REVOKE USAGE ON SCHEMA tde FROM regress_tde_plain;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA tde FROM regress_tde_plain;
REVOKE SELECT ON v$encryption_wallet FROM regress_tde_plain;
-- a view owned by a superuser lends it nothing (tde_test.wallet is
-- readable by PUBLIC; the function under it is not)
SET ROLE regress_tde_plain;
SELECT tde_test.try($$SELECT status FROM tde_test.wallet$$);
RESET ROLE;
-- nothing happened
SELECT status, wallet_type FROM v$encryption_wallet;

--
-- pg_monitor: reads the view, runs nothing
--
SET ROLE regress_tde_monitor;
SELECT name, split_part(tde_test.try(stmt), E'\n', 1) AS result FROM entry_points ORDER BY id;
SELECT wrl_type, status, wallet_type, con_id FROM v$encryption_wallet;
RESET ROLE;
-- with EXECUTE granted by mistake, still nothing
GRANT EXECUTE ON FUNCTION tde.open_keystore(text, boolean, boolean) TO regress_tde_monitor;
SET ROLE regress_tde_monitor;
SELECT tde_test.try($$SELECT tde.open_keystore('regress_pw1')$$);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION tde.open_keystore(text, boolean, boolean) FROM regress_tde_monitor;
SELECT status, wallet_type FROM v$encryption_wallet;

--
-- tde_admin: every operation, without being a superuser
--
SELECT format('BACKUP KEYSTORE USING ''outside'' FORCE KEYSTORE IDENTIFIED BY regress_pw1 TO %L',
			  current_setting('data_directory')) AS backup_to_datadir \gset
SET ROLE regress_tde_keyadmin;
SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user;
SELECT * FROM tde_test.wallet;
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT status, wallet_type FROM v$encryption_wallet;
SELECT status, wallet_type FROM tde.encryption_wallet();
SELECT tde_test.try($$SELECT tde.backup_keystore('regress_pw1', backup_identifier => 'priv1')$$);
SELECT tde_test.akm(format('BACKUP KEYSTORE USING ''priv2'' IDENTIFIED BY regress_pw1 TO %L',
						   current_setting('tde.wallet_root') || '/tde_seps'));
-- a location outside tde.wallet_root needs pg_write_server_files
SELECT tde_test.akm(:'backup_to_datadir');
SELECT tde_test.akm('BACKUP KEYSTORE USING ''outside'' IDENTIFIED BY regress_pw1 TO ''/tmp''');
SELECT tde_test.try(format('SELECT tde.backup_keystore(%L, backup_identifier => %L, location => %L)',
						   'regress_pw1', 'outside', current_setting('tde.wallet_root') || '_other'));
SELECT tde_test.try(format('SELECT tde.backup_keystore(%L, backup_identifier => %L, location => %L)',
						   'regress_pw1', 'outside', current_setting('tde.wallet_root') || '/tde/../..'));
-- password change, both ways, and back
SELECT tde_test.akm('ALTER KEYSTORE PASSWORD IDENTIFIED BY regress_pw1 SET regress_pw2 WITH BACKUP USING ''priv3''');
SELECT tde_test.try($$SELECT tde.alter_keystore_password('regress_pw2', 'regress_pw1', true, 'priv4')$$);
SELECT tde_test.try($$SELECT tde.close_keystore('regress_pw1')$$);
-- the external store
SELECT tde_test.try($$SELECT tde.update_external_store_secret('regress_pw1', 'TDE_WALLET')$$);
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE');
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY EXTERNAL STORE');
-- creating reaches the check for an existing keystore
SELECT tde_test.try($$SELECT tde.create_keystore('regress_pw1')$$);
SELECT status, wallet_type FROM v$encryption_wallet;
RESET ROLE;

-- tde_admin with pg_write_server_files may name another directory
SET ROLE regress_tde_keywriter;
SELECT tde_test.akm(:'backup_to_datadir');
SELECT tde_test.akm('BACKUP KEYSTORE USING ''outside'' FORCE KEYSTORE IDENTIFIED BY regress_pw1 TO ''/nonexistent''');
RESET ROLE;
SELECT f ~ '^ewallet_[0-9]{16}_outside\.p12$' AS outside_backup
FROM pg_ls_dir(current_setting('data_directory')) AS f WHERE f LIKE 'ewallet%';
SELECT count(*) AS outside_backups FROM tde_test.ls('') AS f WHERE f ~ 'outside';
SELECT * FROM tde_test.ls('tde') AS f WHERE f ~ 'priv';

DROP TABLE entry_points;
DROP ROLE regress_tde_plain, regress_tde_keyadmin, regress_tde_monitor, regress_tde_keywriter;
SELECT * FROM tde_test.wallet;
