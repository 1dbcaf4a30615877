--
-- test/regress_helpers.sql: the helpers of both pg_regress suites (REGRESS
-- and REGRESS_KEYS), in schema tde_test.  Read with \i by sql/setup.sql
-- and sql/keys_setup.sql, each on its own server; any other file may read
-- it too, as
--
--     \set ECHO none
--     \i test/regress_helpers.sql
--     \set ECHO all
--
-- It is idempotent (IF NOT EXISTS, CREATE OR REPLACE) and prints nothing,
-- so reading it again changes no expected output.  Needs a superuser and
-- extension tde.
--
-- Paths differ from machine to machine, so no absolute path is ever
-- printed: tde_test.mask() writes tde.wallet_root as <root> and a backup's
-- timestamp as <TS>.
--
SET client_min_messages = warning;

CREATE SCHEMA IF NOT EXISTS tde_test;
GRANT USAGE ON SCHEMA tde_test TO PUBLIC;

-- Machine-independent text: tde.wallet_root as <root>, backup timestamps as
-- <TS> (UTC YYYYMMDDHHMISSFF).
CREATE OR REPLACE FUNCTION tde_test.mask(t text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT regexp_replace(replace(t, current_setting('tde.wallet_root'), '<root>'),
						  'ewallet_[0-9]{16}', 'ewallet_<TS>', 'g')
$$;

-- Run one statement; answer "ok" (with its first result column, if it has
-- one) or the error: SQLSTATE, message, then its detail (the ORA- number)
-- and hint on lines of their own, masked.
CREATE OR REPLACE FUNCTION tde_test.try(stmt text) RETURNS text
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
CREATE OR REPLACE FUNCTION tde_test.akm(statement text) RETURNS text
LANGUAGE sql AS $$
	SELECT tde_test.try(format('SELECT tde.administer_key_management(%L)', statement))
$$;

-- The files of a directory under tde.wallet_root, masked and sorted
-- (nothing if the directory does not exist).  SECURITY DEFINER: pg_ls_dir
-- needs a superuser, and the master-key suite runs as regress_keyadm.
CREATE OR REPLACE FUNCTION tde_test.ls(subdir text) RETURNS SETOF text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT tde_test.mask(f)
	FROM pg_ls_dir(current_setting('tde.wallet_root') || '/' || subdir, true, false) AS f
	ORDER BY tde_test.mask(f) COLLATE "C"
$$;

-- md5 of a file under tde.wallet_root (NULL if it does not exist).
-- SECURITY DEFINER, as ls().
CREATE OR REPLACE FUNCTION tde_test.md5(file text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT md5(pg_read_binary_file(current_setting('tde.wallet_root') || '/' || file,
								   0, 64 * 1024 * 1024, true))
$$;

-- The one backup file in <root>/<subdir> whose identifier is id, as a path
-- relative to tde.wallet_root (an error if there is not exactly one).
CREATE OR REPLACE FUNCTION tde_test.backup(subdir text, id text) RETURNS text
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
CREATE OR REPLACE FUNCTION tde_test.like_ewallet(file text) RETURNS boolean
LANGUAGE sql AS $$
	SELECT substr(pg_read_binary_file(current_setting('tde.wallet_root') || '/' || file), 1, 1) = '\x30'::bytea
	   AND (pg_stat_file(current_setting('tde.wallet_root') || '/' || file)).size
		 = (pg_stat_file(current_setting('tde.wallet_root') || '/tde/ewallet.p12')).size
$$;

-- v$encryption_wallet with the path masked.
CREATE OR REPLACE VIEW tde_test.wallet AS
	SELECT wrl_type, tde_test.mask(wrl_parameter) AS wrl_parameter, status,
		   wallet_type, wallet_order, keystore_mode, fully_backed_up, con_id
	FROM v$encryption_wallet;
-- (the C check still applies to whoever reads it: see privileges)
GRANT SELECT ON tde_test.wallet TO PUBLIC;

RESET client_min_messages;
