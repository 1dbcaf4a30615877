--
-- encrypt_kinds: which relations have relation keys.  Only tables whose
-- rows users write do: ordinary and partitioned tables, permanent,
-- unlogged or temporary.  Every function that takes a relation refuses
-- every other kind (42809) before it looks at a key, and creates no
-- relation key for it.
--
-- Expects: runbook_file has run: the keystore open with an active key.
-- Leaves:  the keystore open.  (Values at the size limit: see
--          t/030_encrypt_limits.pl.)
--
\set SHOW_CONTEXT never

CREATE TABLE kt.k_plain (v bytea);
CREATE UNLOGGED TABLE kt.k_unlogged (v bytea);
CREATE TEMPORARY TABLE k_temp (v bytea);
CREATE TABLE kt.k_parted (id int, v bytea) PARTITION BY RANGE (id);
CREATE TABLE kt.k_part1 PARTITION OF kt.k_parted FOR VALUES FROM (0) TO (100);
CREATE VIEW kt.k_view AS SELECT * FROM kt.k_plain;
CREATE MATERIALIZED VIEW kt.k_matview AS SELECT 1 AS a;
CREATE SEQUENCE kt.k_seq;
CREATE INDEX k_index ON kt.k_parted (id);
CREATE INDEX k_plain_index ON kt.k_plain (v);
CREATE TYPE kt.k_type AS (a int);
CREATE FOREIGN DATA WRAPPER k_fdw;
CREATE SERVER k_server FOREIGN DATA WRAPPER k_fdw;
CREATE FOREIGN TABLE kt.k_foreign (a int) SERVER k_server;
CREATE TABLE kt.k_toasted (v text);

SELECT count(*) AS relation_keys_before FROM tde.relation_key \gset

--
-- Accepted: a round trip and a key version for each
--
SELECT r AS relation,
	   tde.decrypt_text(r, tde.encrypt(r, 'x')) AS text_round_trip,
	   tde.decrypt(r, tde.encrypt(r, '\x01'::bytea)) AS bytea_round_trip,
	   tde.relation_key_version(r) AS version
FROM unnest('{kt.k_plain,kt.k_unlogged,k_temp,kt.k_parted,kt.k_part1}'::regclass[]) r;
SELECT tde.rotate_relation_key('kt.k_plain') AS rotated;
-- through the partitioned table, into a partition
INSERT INTO kt.k_parted VALUES (1, tde.encrypt('kt.k_parted', 'in a partition'));
SELECT tde.decrypt_text('kt.k_parted', v) FROM kt.k_part1;
SELECT count(*) - :relation_keys_before AS new_relation_keys FROM tde.relation_key;
SELECT count(*) AS relation_keys_now FROM tde.relation_key \gset

--
-- Refused: each kind, with each function
--
SELECT tde.encrypt('kt.k_view', '\x01'::bytea);
SELECT tde.encrypt('kt.k_view', 'x'::text);
SELECT tde.decrypt('kt.k_view', tde.encrypt('kt.k_plain', 'x'));
SELECT tde.decrypt_text('kt.k_view', tde.encrypt('kt.k_plain', 'x'));
SELECT tde.relation_key_version('kt.k_view');
SELECT tde.rotate_relation_key('kt.k_view');
SELECT tde.encrypt('kt.k_matview', 'x');
SELECT tde.decrypt('kt.k_matview', tde.encrypt('kt.k_plain', 'x'));
SELECT tde.relation_key_version('kt.k_matview');
SELECT tde.rotate_relation_key('kt.k_matview');
SELECT tde.encrypt('kt.k_seq', 'x');
SELECT tde.decrypt_text('kt.k_seq', tde.encrypt('kt.k_plain', 'x'));
SELECT tde.relation_key_version('kt.k_seq');
SELECT tde.rotate_relation_key('kt.k_seq');
SELECT tde.encrypt('kt.k_index', 'x');
SELECT tde.encrypt('kt.k_plain_index', '\x01'::bytea);
SELECT tde.decrypt('kt.k_plain_index', tde.encrypt('kt.k_plain', 'x'));
SELECT tde.relation_key_version('kt.k_index');
SELECT tde.rotate_relation_key('kt.k_plain_index');
SELECT tde.encrypt('kt.k_type', 'x');
SELECT tde.decrypt('kt.k_type', tde.encrypt('kt.k_plain', 'x'));
SELECT tde.relation_key_version('kt.k_type');
SELECT tde.rotate_relation_key('kt.k_type');
SELECT tde.encrypt('kt.k_foreign', 'x');
SELECT tde.decrypt('kt.k_foreign', tde.encrypt('kt.k_plain', 'x'));
SELECT tde.relation_key_version('kt.k_foreign');
SELECT tde.rotate_relation_key('kt.k_foreign');
-- system catalogs, information_schema, the extension's own tables
SELECT tde.encrypt('pg_class', 'x');
SELECT tde.decrypt('pg_class', tde.encrypt('kt.k_plain', 'x'));
SELECT tde.relation_key_version('pg_class');
SELECT tde.rotate_relation_key('pg_class');
SELECT tde.encrypt('pg_catalog.pg_authid', '\x01'::bytea);
SELECT tde.encrypt('information_schema.sql_features', 'x');
SELECT tde.encrypt('tde.relation_key', 'x');
SELECT tde.decrypt_text('tde.relation_key', tde.encrypt('kt.k_plain', 'x'));
SELECT tde.relation_key_version('tde.relation_key');
SELECT tde.rotate_relation_key('tde.relation_key');
SELECT tde.encrypt('tde.database_identity', 'x');
SELECT tde.encrypt('tde.relation_keys', 'x');
-- TOAST tables (their names hold an OID: only the SQLSTATE is shown)
\set VERBOSITY sqlstate
SELECT tde.encrypt(reltoastrelid::regclass, 'x') FROM pg_class WHERE oid = 'kt.k_toasted'::regclass;
SELECT tde.decrypt(reltoastrelid::regclass, tde.encrypt('kt.k_plain', 'x')) FROM pg_class WHERE oid = 'kt.k_toasted'::regclass;
SELECT tde.relation_key_version(reltoastrelid::regclass) FROM pg_class WHERE oid = 'kt.k_toasted'::regclass;
SELECT tde.rotate_relation_key(reltoastrelid::regclass) FROM pg_class WHERE oid = 'kt.k_toasted'::regclass;
SELECT tde.encrypt(reltoastrelid::regclass, 'x') FROM pg_class WHERE oid = 'pg_proc'::regclass;
\set VERBOSITY default
-- a relation that does not exist (any more)
SELECT tde.encrypt(4294967295::oid::regclass, 'x');
-- no relation key was made for any of them
SELECT count(*) - :relation_keys_now AS new_relation_keys FROM tde.relation_key;

DROP TABLE kt.k_plain, kt.k_unlogged, k_temp, kt.k_parted, kt.k_toasted CASCADE;
DROP MATERIALIZED VIEW kt.k_matview;
DROP SEQUENCE kt.k_seq;
DROP TYPE kt.k_type;
DROP FOREIGN TABLE kt.k_foreign;
DROP SERVER k_server;
DROP FOREIGN DATA WRAPPER k_fdw;
