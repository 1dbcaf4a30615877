--
-- setup: the extension, its objects and configuration, and the helpers the
-- later files use (test/regress_helpers.sql).
--
-- Expects: a fresh instance started by pg_regress with tde preloaded and
--          tde.wallet_root pointing at an empty directory (make installcheck
--          empties it first); tde.wallet_kdf_iterations = 1000.
-- Leaves:  extension tde created; schema tde_test with the helpers of
--          test/regress_helpers.sql; no keystore file exists; the keystore
--          is closed (NOT_AVAILABLE).
--
-- Paths differ from machine to machine, so no absolute path is ever printed:
-- tde_test.mask() writes tde.wallet_root as <root> and a backup's timestamp
-- as <TS>.
--
\set SHOW_CONTEXT never

CREATE EXTENSION tde;

-- The extension script creates tde_admin only if it is missing, so the
-- extension can be dropped and created again (roles are cluster-wide).
DROP EXTENSION tde;
CREATE EXTENSION tde;

SELECT extname, extversion, extnamespace::regnamespace AS schema, extrelocatable
FROM pg_extension WHERE extname = 'tde';

-- every object of the extension
SELECT pg_describe_object(classid, objid, objsubid) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'tde')
  AND deptype = 'e'
ORDER BY 1 COLLATE "C";

-- the signatures of the functions
SELECT p.oid::regprocedure AS function, pg_get_function_result(p.oid) AS returns
FROM pg_proc p
WHERE p.pronamespace = 'tde'::regnamespace
ORDER BY p.oid::regprocedure::text COLLATE "C";

-- the key-management role: not a login role, not a superuser
SELECT rolname, rolcanlogin, rolsuper, rolcreaterole
FROM pg_roles WHERE rolname = 'tde_admin';

--
-- Helpers for the tests: schema tde_test, shared with the master-key suite
-- (see test/regress_helpers.sql; reading it prints nothing)
--
\set ECHO none
\i test/regress_helpers.sql
\set ECHO all

--
-- No keystore yet
--
SELECT * FROM tde_test.wallet;
SELECT * FROM tde_test.ls('tde');
SELECT * FROM tde_test.ls('');

--
-- Configuration
--
SELECT name, setting = '' AS empty, context, vartype, boot_val
FROM pg_settings WHERE name LIKE 'tde.%' AND name <> 'tde.wallet_root'
ORDER BY name;
SELECT context, vartype, current_setting('tde.wallet_root') ~ '^/.*/tmp_wallet_root$' AS under_build_tree
FROM pg_settings WHERE name = 'tde.wallet_root';
SHOW tde.keystore_configuration;
SHOW tde.wallet_kdf_iterations;

-- tde.wallet_root is fixed at server start
SELECT tde_test.try($$SET tde.wallet_root = '/tmp'$$);
-- tde.keystore_configuration is reloaded, not set in a session
SELECT tde_test.try($$SET tde.keystore_configuration = 'FILE'$$);
SELECT tde_test.try($$SELECT set_config('tde.keystore_configuration', 'FILE', false)$$);
-- the KDF cost has a floor
SELECT tde_test.try($$SET tde.wallet_kdf_iterations = 999$$);
-- the prefix is reserved: a misspelt parameter is an error, not a placeholder
SELECT tde_test.try($$SET tde.wallet_rot = '/tmp'$$);
SELECT tde_test.try($$SET tde.nonexistent = 1$$);
SELECT tde_test.try($$SELECT set_config('tde.nonexistent', '1', false)$$);

-- The check hook validates tde.keystore_configuration (ALTER SYSTEM runs
-- it without changing anything when the value is rejected).
ALTER SYSTEM SET tde.keystore_configuration = 'OKV';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET tde.keystore_configuration = '';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the valid values are accepted (in any case), then removed again
ALTER SYSTEM SET tde.keystore_configuration = 'HSM';
ALTER SYSTEM SET tde.keystore_configuration = 'hsm|file';
ALTER SYSTEM SET tde.keystore_configuration = 'file|hsm';
ALTER SYSTEM SET tde.keystore_configuration = 'file';
ALTER SYSTEM RESET tde.keystore_configuration;
SHOW tde.keystore_configuration;
