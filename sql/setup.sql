--
-- setup: the extension, its objects and configuration, and the helpers the
-- later files use.
--
-- Expects: a fresh instance started by pg_regress with tde preloaded and
--          tde.wallet_root pointing at an empty directory (make installcheck
--          empties it first); tde.wallet_kdf_iterations = 1000.
-- Leaves:  extension tde created; schema tde_test with the helpers below;
--          no keystore file exists; the keystore is closed (NOT_AVAILABLE).
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
-- Helpers for the tests
--
CREATE SCHEMA tde_test;
GRANT USAGE ON SCHEMA tde_test TO PUBLIC;

-- Machine-independent text: tde.wallet_root as <root>, backup timestamps as
-- <TS> (UTC YYYYMMDDHHMISSFF).
CREATE FUNCTION tde_test.mask(t text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT regexp_replace(replace(t, current_setting('tde.wallet_root'), '<root>'),
						  'ewallet_[0-9]{16}', 'ewallet_<TS>', 'g')
$$;

-- Run one statement; answer "ok" (with its first result column, if it has
-- one) or the error: SQLSTATE, message, detail and hint, masked.
CREATE FUNCTION tde_test.try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r text;
	st text;
	msg text;
	det text;
	hnt text;
BEGIN
	EXECUTE stmt INTO r;
	RETURN 'ok' || coalesce(': ' || tde_test.mask(nullif(r, '')), '');
EXCEPTION WHEN others THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
	RETURN st || ': ' || tde_test.mask(msg)
		|| coalesce(E'\nDETAIL: ' || tde_test.mask(nullif(det, '')), '')
		|| coalesce(E'\nHINT: ' || tde_test.mask(nullif(hnt, '')), '');
END
$$;

-- Run an ADMINISTER KEY MANAGEMENT statement through try().
CREATE FUNCTION tde_test.akm(statement text) RETURNS text
LANGUAGE sql AS $$
	SELECT tde_test.try(format('SELECT tde.administer_key_management(%L)', statement))
$$;

-- The files of a directory under tde.wallet_root, masked and sorted
-- (nothing if the directory does not exist).  Needs a superuser.
CREATE FUNCTION tde_test.ls(subdir text) RETURNS SETOF text
LANGUAGE sql AS $$
	SELECT tde_test.mask(f)
	FROM pg_ls_dir(current_setting('tde.wallet_root') || '/' || subdir, true, false) AS f
	ORDER BY tde_test.mask(f) COLLATE "C"
$$;

-- md5 of a file under tde.wallet_root (NULL if it does not exist).
CREATE FUNCTION tde_test.md5(file text) RETURNS text
LANGUAGE sql AS $$
	SELECT md5(pg_read_binary_file(current_setting('tde.wallet_root') || '/' || file,
								   0, 64 * 1024 * 1024, true))
$$;

-- The one backup file in <root>/<subdir> whose identifier is id, as a path
-- relative to tde.wallet_root (an error if there is not exactly one).
CREATE FUNCTION tde_test.backup(subdir text, id text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	files text[];
BEGIN
	SELECT array_agg(f) INTO files
	FROM pg_ls_dir(current_setting('tde.wallet_root') || '/' || subdir) AS f
	WHERE f ~ ('^ewallet_[0-9]{16}_' || id || '\.p12$');
	IF coalesce(array_length(files, 1), 0) <> 1 THEN
		RAISE EXCEPTION 'expected one backup "%" in %, found %', id, subdir,
			coalesce(array_length(files, 1), 0);
	END IF;
	RETURN subdir || '/' || files[1];
END
$$;

-- Whether a file under tde.wallet_root looks like a PKCS#12 wallet of the
-- same size as <root>/tde/ewallet.p12: a DER SEQUENCE with the same length
-- (wallets written from the same contents have the same size).
CREATE FUNCTION tde_test.like_ewallet(file text) RETURNS boolean
LANGUAGE sql AS $$
	SELECT substr(pg_read_binary_file(current_setting('tde.wallet_root') || '/' || file), 1, 1) = '\x30'::bytea
	   AND (pg_stat_file(current_setting('tde.wallet_root') || '/' || file)).size
		 = (pg_stat_file(current_setting('tde.wallet_root') || '/tde/ewallet.p12')).size
$$;

-- v$encryption_wallet with the path masked.
CREATE VIEW tde_test.wallet AS
	SELECT wrl_type, tde_test.mask(wrl_parameter) AS wrl_parameter, status,
		   wallet_type, wallet_order, keystore_mode, fully_backed_up, con_id
	FROM v$encryption_wallet;
-- (the C check still applies to whoever reads it: see privileges)
GRANT SELECT ON tde_test.wallet TO PUBLIC;

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
