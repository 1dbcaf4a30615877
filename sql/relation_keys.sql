--
-- relation_keys: relation keys in tde.relation_key, wrapped by the active
-- master key: created on first use, rotated to new versions, re-wrapped by
-- every rekey (SET KEY, USE KEY) in this database and, in the background,
-- in the others; deleted with their relation.
--
-- Expects: masterkeys has run: the keystore open with an active AES256
--          key, among others the SEED128 key 5EED...01 and the ARIA256 key
--          A81A...01; no relation key; no external store.
-- Leaves:  the keystore open; relation keys for kt.r1 (versions 1 and 2)
--          and kt.r3; no other database.
--
\set SHOW_CONTEXT never
SET ROLE regress_keyadm;
-- no re-wrap worker started by masterkeys is still running
SELECT kt.wait_rewrap() AS settled;

CREATE TABLE kt.r1 (id int PRIMARY KEY, v bytea);
CREATE TABLE kt.r2 (id int PRIMARY KEY, v bytea);
CREATE TABLE kt.r3 (id int PRIMARY KEY, v bytea);
SELECT count(*) AS relation_keys FROM tde.relation_keys;

--
-- The first tde.encrypt of a relation creates version 1 of its key,
-- wrapped by the active master key
--
INSERT INTO kt.r1 VALUES (1, tde.encrypt('kt.r1', '\x0101'::bytea));
SELECT relid, key_version, key_id IS NOT NULL AS has_key_id,
	   master_key_id = kt.active_key() AS wrapped_by_active,
	   created_at IS NOT NULL AS created, rewrapped_at IS NULL AS not_rewrapped
FROM tde.relation_keys;
-- the relation key id is a version-4 uuid, named by the ciphertext
SELECT substr(k.key_id::text, 15, 1) AS uuid_version,
	   kt.ct_key_id(r.v) = k.key_id AS header_names_key, kt.ct_version(r.v) AS header_version,
	   get_byte(r.v, 0) AS format
FROM kt.r1 r, tde.relation_keys k WHERE r.id = 1;
-- later encryptions use the same key
INSERT INTO kt.r1 VALUES (2, tde.encrypt('kt.r1', '\x0202'::bytea));
SELECT count(*) AS relation_keys FROM tde.relation_keys;
SELECT id, kt.ct_version(v) AS version, tde.decrypt('kt.r1', v) FROM kt.r1 ORDER BY id;
-- each relation has its own key
INSERT INTO kt.r2 VALUES (1, tde.encrypt('kt.r2', '\x2121'::bytea));
SELECT relid, key_version FROM tde.relation_keys ORDER BY relid::text, key_version;
SELECT count(DISTINCT key_id) AS distinct_key_ids FROM tde.relation_keys;
-- a created_at, from the transaction that made the key
BEGIN;
INSERT INTO kt.r3 VALUES (1, tde.encrypt('kt.r3', '\x3131'::bytea));
SELECT created_at = now() AS created_now FROM tde.relation_keys WHERE relid = 'kt.r3'::regclass;
COMMIT;

--
-- tde.rotate_relation_key: a new version; later encryptions use it, every
-- version decrypts
--
SELECT tde.rotate_relation_key('kt.r1');
SELECT relid, key_version, master_key_id = kt.active_key() AS wrapped_by_active
FROM tde.relation_keys WHERE relid = 'kt.r1'::regclass ORDER BY key_version;
SELECT count(DISTINCT key_id) AS one_key_id FROM tde.relation_keys WHERE relid = 'kt.r1'::regclass;
INSERT INTO kt.r1 VALUES (3, tde.encrypt('kt.r1', '\x0303'::bytea));
SELECT id, kt.ct_version(v) AS version,
	   get_byte(v, 17) AS b17, get_byte(v, 18) AS b18, get_byte(v, 19) AS b19, get_byte(v, 20) AS b20,
	   kt.ct_key_id(v) = (SELECT DISTINCT key_id FROM tde.relation_keys WHERE relid = 'kt.r1'::regclass) AS same_key_id,
	   tde.decrypt('kt.r1', v)
FROM kt.r1 ORDER BY id;
-- a rotation rolled back leaves no version behind
BEGIN;
SELECT tde.rotate_relation_key('kt.r1');
ROLLBACK;
SELECT max(key_version) FROM tde.relation_keys WHERE relid = 'kt.r1'::regclass;
SELECT kt.ct_version(tde.encrypt('kt.r1', '\x00'::bytea)) AS version_used;
-- rotating a relation without a key gives it version 1
CREATE TABLE kt.r4 (v bytea);
SELECT tde.rotate_relation_key('kt.r4');
SELECT kt.ct_version(tde.encrypt('kt.r4', '\x04'::bytea)) AS version_used;
DROP TABLE kt.r4;
-- only tde_admin rotates keys; no such relation
RESET ROLE;
CREATE ROLE regress_rot NOLOGIN;
GRANT USAGE ON SCHEMA tde, kt TO regress_rot;
GRANT EXECUTE ON FUNCTION tde.rotate_relation_key TO regress_rot;
GRANT ALL ON kt.r1 TO regress_rot;
SET ROLE regress_rot;
SELECT tde_test.try($$SELECT tde.rotate_relation_key('kt.r1')$$);
RESET ROLE;
DROP OWNED BY regress_rot;
DROP ROLE regress_rot;
SET ROLE regress_keyadm;
SELECT tde_test.try($$SELECT tde.rotate_relation_key(1)$$);
SELECT count(*) AS relation_keys FROM tde.relation_keys;

--
-- SET KEY re-wraps every relation key of this database under the new
-- master key, in the same transaction; the data still decrypts
--
SELECT kt.active_key() AS mk_before \gset
SELECT tde_test.akm('SET KEY USING TAG ''regress rekey 1'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT kt.active_key() <> :'mk_before' AS new_active;
SELECT relid, key_version, master_key_id = kt.active_key() AS wrapped_by_active,
	   rewrapped_at IS NOT NULL AS rewrapped, rewrapped_at >= created_at AS after_creation
FROM tde.relation_keys ORDER BY relid::text, key_version;
SELECT 'kt.r1' AS rel, id, tde.decrypt('kt.r1', v) FROM kt.r1
UNION ALL SELECT 'kt.r2', id, tde.decrypt('kt.r2', v) FROM kt.r2
UNION ALL SELECT 'kt.r3', id, tde.decrypt('kt.r3', v) FROM kt.r3 ORDER BY 1, 2;

-- through the typed function; a rekey that fails re-wraps nothing
SELECT max(rewrapped_at) AS rewrapped_before FROM tde.relation_keys \gset
SELECT tde_test.try($$SELECT tde.set_key(password => 'regress_wrong', with_backup => true)$$);
SELECT max(rewrapped_at) = :'rewrapped_before' AS unchanged,
	   bool_and(master_key_id = kt.active_key()) AS wrapped_by_active
FROM tde.relation_keys;
SELECT tde.set_key(tag => 'regress rekey 2', password => 'regress_pw1', with_backup => true) AS mk2 \gset
SELECT :'mk2' = kt.active_key() AS mk2_active;
SELECT count(*) AS rows, count(*) FILTER (WHERE master_key_id = :'mk2') AS wrapped_by_mk2,
	   count(*) FILTER (WHERE rewrapped_at > :'rewrapped_before') AS rewrapped_again
FROM tde.relation_keys;
SELECT id, tde.decrypt('kt.r1', v) FROM kt.r1 ORDER BY id;

-- rolled back with its transaction: the rows name the old key again
-- (the wallet keeps the new one, active, as Oracle's would)
BEGIN;
SELECT tde_test.akm('SET KEY USING TAG ''regress rekey rolled back'' IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT bool_and(master_key_id = kt.active_key()) AS wrapped_by_new FROM tde.relation_keys;
ROLLBACK;
SELECT bool_and(master_key_id = :'mk2') AS wrapped_by_mk2 FROM tde.relation_keys;
SELECT tag FROM v$encryption_keys WHERE key_id = kt.active_key();
SELECT id, tde.decrypt('kt.r1', v) FROM kt.r1 ORDER BY id;
-- the next encryption needs no rewrap to work; the next rekey re-wraps all
SELECT tde.decrypt('kt.r2', tde.encrypt('kt.r2', '\x22'::bytea));

--
-- USE KEY of older keys re-wraps again: under the SEED128 key, then the
-- ARIA256 key, through both interfaces
--
SELECT tde.key_id('\x5EED0000000000000000000000000001') AS seed \gset
SELECT tde.key_id('\xA81A0000000000000000000000000001') AS aria \gset
SELECT tde_test.akm(format('USE KEY %L IDENTIFIED BY regress_pw1 WITH BACKUP', :'seed'));
SELECT kt.active_key() = :'seed' AS seed_active;
SELECT count(*) AS rows, count(*) FILTER (WHERE master_key_id = :'seed') AS wrapped_by_seed
FROM tde.relation_keys;
SELECT id, tde.decrypt('kt.r1', v) FROM kt.r1 ORDER BY id;
-- the keystore closed and opened again: no cached key is left, the rows
-- unwrap under SEED128
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
-- opening starts re-wrap workers for every database: let them finish
-- before the next rekey (a worker that read the active key before a rekey
-- and ran after it would re-wrap under the older key)
SELECT kt.wait_rewrap() AS settled;
SELECT id, tde.decrypt('kt.r1', v) FROM kt.r1 ORDER BY id;
SELECT tde.decrypt('kt.r3', v) FROM kt.r3;
-- a new relation key is wrapped under the active SEED128 key
CREATE TABLE kt.r5 (v bytea);
INSERT INTO kt.r5 VALUES (tde.encrypt('kt.r5', '\x55'::bytea));
SELECT master_key_id = :'seed' AS wrapped_by_seed FROM tde.relation_keys WHERE relid = 'kt.r5'::regclass;

SELECT tde.use_key(:'aria', password => 'regress_pw1', with_backup => true);
SELECT count(*) AS rows, count(*) FILTER (WHERE master_key_id = :'aria') AS wrapped_by_aria
FROM tde.relation_keys;
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.open_keystore('regress_pw1')$$);
-- opening starts re-wrap workers for every database: let them finish
-- before the next rekey (a worker that read the active key before a rekey
-- and ran after it would re-wrap under the older key)
SELECT kt.wait_rewrap() AS settled;
SELECT id, tde.decrypt('kt.r1', v) FROM kt.r1 ORDER BY id;
SELECT tde.decrypt('kt.r5', v) FROM kt.r5;

--
-- A rekey with FORCE KEYSTORE while the keystore is closed re-wraps too
--
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw1');
SELECT tde_test.akm('SET KEY USING TAG ''regress rekey forced'' FORCE KEYSTORE IDENTIFIED BY regress_pw1 WITH BACKUP');
SELECT status FROM kt.wallet;
SELECT tde_test.try($$SELECT tde.decrypt('kt.r1', v) FROM kt.r1 WHERE id = 1$$);
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
-- opening starts re-wrap workers for every database: let them finish
-- before the next rekey (a worker that read the active key before a rekey
-- and ran after it would re-wrap under the older key)
SELECT kt.wait_rewrap() AS settled;
SELECT tag FROM v$encryption_keys WHERE key_id = kt.active_key();
SELECT count(*) AS rows, count(*) FILTER (WHERE master_key_id = kt.active_key()) AS wrapped_by_active
FROM tde.relation_keys;
SELECT id, tde.decrypt('kt.r1', v) FROM kt.r1 ORDER BY id;

--
-- Other databases are re-wrapped by background workers
--
RESET ROLE;
\set regress_db :DBNAME
CREATE DATABASE regress_tde_db2;
\c regress_tde_db2
\set SHOW_CONTEXT never
CREATE EXTENSION tde;
CREATE TABLE t (v bytea);
INSERT INTO t SELECT tde.encrypt('t', int4send(i)) FROM generate_series(1, 3) i;
SELECT master_key_id AS db2_mk_before FROM tde.relation_keys \gset
\c :regress_db
\set SHOW_CONTEXT never
SET ROLE regress_keyadm;
SELECT :'db2_mk_before' = kt.active_key() AS db2_wrapped_by_active;
SELECT tde.set_key(tag => 'regress rekey db2', password => 'regress_pw1', with_backup => true) AS mk_db2 \gset
SELECT kt.wait_rewrap() AS settled;
SELECT datname, state, target_key_id = :'mk_db2' AS target_is_new, keys_done, keys_total,
	   started IS NOT NULL AS started, finished >= started AS finished, error
FROM tde.rewrap_progress WHERE datname = 'regress_tde_db2';
RESET ROLE;
\c regress_tde_db2
\set SHOW_CONTEXT never
SELECT key_version, master_key_id = :'mk_db2' AS wrapped_by_new,
	   rewrapped_at IS NOT NULL AS rewrapped
FROM tde.relation_keys;
SELECT encode(tde.decrypt('t', v), 'hex') AS plain FROM t ORDER BY 1;
\c :regress_db
\set SHOW_CONTEXT never
-- the databases without the extension are skipped
SELECT datname, state FROM tde.rewrap_progress
WHERE datname IN ('postgres', 'template1') ORDER BY datname;
DROP DATABASE regress_tde_db2 WITH (FORCE);

--
-- Dropping a relation deletes its keys
--
SET ROLE regress_keyadm;
SELECT relid, count(*) FROM tde.relation_keys GROUP BY relid ORDER BY relid::text;
DROP TABLE kt.r2;
SELECT relid, count(*) FROM tde.relation_keys GROUP BY relid ORDER BY relid::text;
-- also inside a DROP SCHEMA ... CASCADE
RESET ROLE;
CREATE SCHEMA regress_rk AUTHORIZATION regress_keyadm;
SET ROLE regress_keyadm;
CREATE TABLE regress_rk.a (v bytea);
CREATE TABLE regress_rk.b (v bytea);
SELECT length(tde.encrypt('regress_rk.a', '\x'::bytea)), length(tde.encrypt('regress_rk.b', '\x'::bytea));
SELECT count(*) FROM tde.relation_keys WHERE relid::text LIKE 'regress_rk.%';
RESET ROLE;
DROP SCHEMA regress_rk CASCADE;
SET ROLE regress_keyadm;
SELECT relid::text, key_version FROM tde.relation_keys ORDER BY 1, 2;
-- a rewrite keeps the relation (and its oid): the keys stay and work
DROP TABLE kt.r5;
VACUUM FULL kt.r1;
SELECT id, tde.decrypt('kt.r1', v) FROM kt.r1 ORDER BY id;
TRUNCATE kt.r3;
SELECT relid, key_version FROM tde.relation_keys WHERE relid = 'kt.r3'::regclass;

--
-- The tables are extension configuration tables (pg_dump keeps their rows)
--
RESET ROLE;
SELECT unnest(extconfig)::regclass AS config_table, unnest(extcondition) AS condition
FROM pg_extension WHERE extname = 'tde' ORDER BY 1::text;
SELECT count(*) AS identities FROM tde.database_identity;

--
-- No column of tde.relation_keys holds key material; the table with the
-- wrapped keys is for the extension alone
--
SELECT attname, format_type(atttypid, atttypmod) AS type
FROM pg_attribute WHERE attrelid = 'tde.relation_keys'::regclass AND attnum > 0
ORDER BY attnum;
-- who may read it (besides its owner, the bootstrap superuser)
SELECT grantee, privilege_type FROM information_schema.role_table_grants
WHERE table_schema = 'tde' AND table_name = 'relation_keys'
  AND grantee <> pg_get_userbyid(10) ORDER BY 1, 2;
SELECT relname, relacl IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM aclexplode(relacl) a
		WHERE a.grantee <> relowner) AS owner_only
FROM pg_class WHERE oid IN ('tde.relation_key'::regclass, 'tde.database_identity'::regclass)
ORDER BY relname;
SET ROLE regress_keyadm;
SELECT tde_test.try($$SELECT count(*) FROM tde.relation_key$$);
SELECT tde_test.try($$SELECT count(*) FROM tde.database_identity$$);
SELECT tde_test.try($$UPDATE tde.relation_key SET rewrapped_at = NULL$$);
-- the wrapped key is never a plain 32-byte key: IV, wrapped key and tag
RESET ROLE;
SELECT DISTINCT length(wrapped_key) AS wrapped_len FROM tde.relation_key ORDER BY 1;
