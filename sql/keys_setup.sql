--
-- keys_setup: the start of the master-key suite (run by make installcheck-keys
-- on a temporary server of its own, with an empty tde.wallet_root).
--
-- Expects: a fresh instance with tde preloaded, tde.wallet_root empty,
--          tde.wallet_kdf_iterations = 1000.
-- Leaves:  extension tde; schema tde_test with the helpers of
--          test/regress_helpers.sql, schema kt with the helpers below; the
--          role regress_keyadm (a member of tde_admin) that runs the key
--          operations, so creator and user columns do not depend on the
--          machine; <root>/tde/ewallet.p12 with password regress_pw1, open,
--          without master keys.
--
-- Nothing machine-dependent is printed: tde_test.mask() writes
-- tde.wallet_root as <root> and a backup's timestamp as <TS>; key ids of
-- random keys are shown only through their length, their shape and
-- comparisons.
--
\set SHOW_CONTEXT never

CREATE EXTENSION tde;

CREATE ROLE regress_keyadm NOLOGIN IN ROLE tde_admin;

CREATE SCHEMA kt;
GRANT USAGE ON SCHEMA kt TO PUBLIC;

-- The helpers shared with the keystore suite: schema tde_test (try, akm,
-- mask, ls, md5, ...; see test/regress_helpers.sql; reading it prints
-- nothing).  Schema kt holds what only this suite uses, and its tables.
\set ECHO none
\i test/regress_helpers.sql
\set ECHO all

-- The master keys, oldest first, without anything that changes from run to
-- run: n numbers them by creation time; active marks the key with the
-- latest activation time (the active key).
CREATE VIEW kt.keys AS
	SELECT row_number() OVER (ORDER BY creation_time, key_id) AS n,
		   length(key_id) AS len, tag,
		   activation_time IS NOT NULL AS activated,
		   key_id = (SELECT k2.key_id FROM v$encryption_keys k2
					 WHERE k2.activation_time IS NOT NULL
					 ORDER BY k2.activation_time DESC LIMIT 1) AS active,
		   creator, "user", key_use, keystore_type, origin, backed_up
	FROM v$encryption_keys
	ORDER BY n;

-- The KEY_ID of the active key (NULL if there is none).
CREATE FUNCTION kt.active_key() RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT key_id FROM v$encryption_keys
	WHERE activation_time IS NOT NULL
	ORDER BY activation_time DESC LIMIT 1
$$;

-- The KEY_ID of the newest key.
CREATE FUNCTION kt.newest_key() RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT key_id FROM v$encryption_keys ORDER BY creation_time DESC LIMIT 1
$$;

-- The parts of a ciphertext's header: relation key id (bytes 1-16) and
-- version (bytes 17-20, big-endian).
CREATE FUNCTION kt.ct_key_id(c bytea) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT encode(substr(c, 2, 16), 'hex')::uuid
$$;
CREATE FUNCTION kt.ct_version(c bytea) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT (get_byte(c, 17) << 24) | (get_byte(c, 18) << 16)
		 | (get_byte(c, 19) << 8) | get_byte(c, 20)
$$;

-- Wait (up to 60 s) until no background re-wrap is pending or running;
-- true if none is.
CREATE FUNCTION kt.wait_rewrap() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..1200 LOOP
		IF NOT EXISTS (SELECT 1 FROM tde.rewrap_progress
					   WHERE state IN ('pending', 'running')) THEN
			RETURN true;
		END IF;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN false;
END
$$;

-- Wallet status in short.
CREATE VIEW kt.wallet AS
	SELECT status, wallet_type, fully_backed_up FROM v$encryption_wallet;

GRANT ALL ON ALL TABLES IN SCHEMA kt TO regress_keyadm;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA kt TO regress_keyadm;
-- regress_keyadm creates the test tables in schema kt
GRANT CREATE ON SCHEMA kt TO regress_keyadm;

--
-- A password keystore, opened, without a master key
--
SET ROLE regress_keyadm;
SELECT * FROM kt.wallet;
SELECT tde_test.akm('ADMINISTER KEY MANAGEMENT CREATE KEYSTORE IDENTIFIED BY regress_pw1');
SELECT * FROM kt.wallet;
SELECT tde_test.akm('ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT wrl_type, tde_test.mask(wrl_parameter) AS wrl_parameter, status, wallet_type,
	   wallet_order, keystore_mode, fully_backed_up, con_id
FROM v$encryption_wallet;
SELECT count(*) AS keys FROM v$encryption_keys;
SELECT * FROM tde_test.ls('tde');

-- no master key yet: data cannot be encrypted (ORA-28361)
CREATE TABLE kt.nokey (v bytea);
SELECT tde_test.try($$SELECT tde.encrypt('kt.nokey', '\x00'::bytea)$$);
SELECT tde_test.try($$SELECT tde.encrypt('kt.nokey'::regclass, 'text'::text)$$);
-- and no relation key was made
SELECT count(*) AS relation_keys FROM tde.relation_keys;
DROP TABLE kt.nokey;
RESET ROLE;
