--
-- encryption: tde.encrypt, tde.decrypt and tde.decrypt_text: round trips,
-- the ciphertext format, tampering, the keystore closed, privileges.
--
-- Expects: relation_keys has run: the keystore open with an active key.
-- Leaves:  the keystore CLOSED (runbook_file opens it); no external store.
--
\set SHOW_CONTEXT never
SET ROLE regress_keyadm;

CREATE TABLE kt.e (id int PRIMARY KEY, v bytea);
CREATE TABLE kt.f (id int PRIMARY KEY, v bytea);

--
-- Round trips
--
SELECT tde.decrypt('kt.e', tde.encrypt('kt.e', '\xdeadbeef'::bytea));
SELECT tde.decrypt_text('kt.e', tde.encrypt('kt.e'::regclass, 'grüße, 世界'::text));
-- an untyped literal is text
SELECT tde.decrypt_text('kt.e', tde.encrypt('kt.e', 'plain'));
-- text and bytea of the same bytes give interchangeable ciphertexts
SELECT tde.decrypt('kt.e', tde.encrypt('kt.e', 'abc'::text)) AS as_bytea,
	   tde.decrypt_text('kt.e', tde.encrypt('kt.e', '\x616263'::bytea)) AS as_text;
-- empty values
SELECT length(c) AS len, tde.decrypt('kt.e', c) = '\x'::bytea AS empty_bytea,
	   tde.decrypt_text('kt.e', c) = '' AS empty_text
FROM (SELECT tde.encrypt('kt.e', '\x'::bytea) AS c) s;
SELECT length(tde.encrypt('kt.e', ''::text)) AS len;
-- 1 MB
SELECT length(c) AS len, length(c) - 1048576 AS overhead,
	   md5(tde.decrypt('kt.e', c)) = md5(p) AS same
FROM (SELECT p, tde.encrypt('kt.e', p) AS c
	  FROM (SELECT decode(repeat('0123456789abcdef', 131072), 'hex') AS p) q) s;
SELECT length(c) AS len, tde.decrypt_text('kt.e', c) = repeat('x', 1048576) AS same
FROM (SELECT tde.encrypt('kt.e', repeat('x', 1048576)) AS c) s;
-- strict: NULL in, NULL out
SELECT tde.encrypt('kt.e', NULL::bytea) IS NULL AS a, tde.encrypt('kt.e', NULL::text) IS NULL AS b,
	   tde.encrypt(NULL, '\x00'::bytea) IS NULL AS c, tde.decrypt('kt.e', NULL) IS NULL AS d,
	   tde.decrypt(NULL, '\x00'::bytea) IS NULL AS e, tde.decrypt_text('kt.e', NULL) IS NULL AS f;
-- the ciphertext is the plaintext plus 49 bytes, whatever the length
SELECT n, length(tde.encrypt('kt.e', decode(repeat('ab', n), 'hex'))) - n AS overhead
FROM unnest(ARRAY[0, 1, 15, 16, 17, 100, 4096]) n;
-- in a table
INSERT INTO kt.e SELECT i, tde.encrypt('kt.e', 'row ' || i) FROM generate_series(1, 100) i;
SELECT count(*) FILTER (WHERE tde.decrypt_text('kt.e', v) = 'row ' || id) AS decrypted FROM kt.e;
SELECT count(DISTINCT v) AS distinct_ciphertexts, count(DISTINCT substr(v, 22, 12)) AS distinct_nonces
FROM kt.e;

--
-- The same value twice: different ciphertexts (a random nonce), the same
-- header otherwise
--
SELECT tde.encrypt('kt.e', '\x00'::bytea) AS c1, tde.encrypt('kt.e', '\x00'::bytea) AS c2 \gset
SELECT :'c1'::bytea <> :'c2'::bytea AS differ,
	   substr(:'c1'::bytea, 1, 21) = substr(:'c2'::bytea, 1, 21) AS same_key_and_version,
	   substr(:'c1'::bytea, 22, 12) <> substr(:'c2'::bytea, 22, 12) AS nonces_differ,
	   tde.decrypt('kt.e', :'c1') = tde.decrypt('kt.e', :'c2') AS same_plaintext;

--
-- Altered ciphertexts
--
CREATE FUNCTION kt.flip(c bytea, pos int) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$ SELECT set_byte(c, pos, get_byte(c, pos) # 1) $$;
SELECT tde.encrypt('kt.e', 'secret'::text) AS c \gset
SELECT length(:'c'::bytea) AS len;
SELECT tde.decrypt_text('kt.e', :'c');
-- the nonce, a byte of the body, the last byte (the tag): authentication fails
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', kt.flip(:'c', 21)));
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', kt.flip(:'c', 32)));
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', kt.flip(:'c', 33)));
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', kt.flip(:'c', 38)));
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', kt.flip(:'c', 39)));
SELECT tde_test.try(format('SELECT tde.decrypt_text(%L, %L)', 'kt.e', kt.flip(:'c', 54)));
-- the version, to one that the relation has: authentication fails too (the
-- header is associated data)
SELECT tde.rotate_relation_key('kt.e');
SELECT tde.encrypt('kt.e', 'secret'::text) AS c2 \gset
SELECT kt.ct_version(:'c'::bytea) AS v_c, kt.ct_version(:'c2'::bytea) AS v_c2;
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', set_byte(:'c2'::bytea, 20, 1)));
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', set_byte(:'c'::bytea, 20, 2)));
-- both versions decrypt unaltered
SELECT tde.decrypt_text('kt.e', :'c') AS v1, tde.decrypt_text('kt.e', :'c2') AS v2;
-- the key id or the version altered to name no key of the relation: 22023
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', kt.flip(:'c', 1)));
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', kt.flip(:'c', 16)));
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', set_byte(:'c'::bytea, 20, 3)));
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', set_byte(:'c'::bytea, 17, 128)));
-- the format byte: not a tde ciphertext
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', set_byte(:'c'::bytea, 0, 2)));
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', set_byte(:'c'::bytea, 0, 0)));
-- truncated: shorter than 49 bytes (header and tag) is not a ciphertext
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', substr(:'c'::bytea, 1, 48)));
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', substr(:'c'::bytea, 1, 33)));
SELECT tde_test.try($$SELECT tde.decrypt('kt.e', '\x'::bytea)$$);
SELECT tde_test.try($$SELECT tde.decrypt_text('kt.e', '\x01'::bytea)$$);
-- one byte shorter, but still long enough: authentication fails
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', substr(:'c'::bytea, 1, length(:'c'::bytea) - 1)));
-- a byte added at the end
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', :'c'::bytea || '\x00'::bytea));
-- plaintext given to decrypt
SELECT tde_test.try($$SELECT tde.decrypt('kt.e', convert_to(repeat('not a ciphertext ', 4), 'UTF8'))$$);

--
-- The ciphertext of another relation (22023), and of no relation at all
--
INSERT INTO kt.f VALUES (1, tde.encrypt('kt.f', 'f1'::text));
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.f', :'c'));
SELECT tde_test.try($$SELECT tde.decrypt('kt.e', v) FROM kt.f$$);
SELECT tde_test.try($$SELECT tde.decrypt_text('kt.f', v) FROM kt.f$$);
-- the relation key of a dropped relation is gone with it
SELECT v AS fct FROM kt.f \gset
SELECT 'kt.f'::regclass::oid AS f_oid \gset
DROP TABLE kt.f;
SELECT count(*) AS f_keys FROM tde.relation_keys WHERE relid = :f_oid;
SELECT regexp_replace(tde_test.try(format('SELECT tde.decrypt(%s, %L)', :f_oid, :'fct')), 'OID [0-9]+', 'OID <f>');
SELECT regexp_replace(tde_test.try(format('SELECT tde.encrypt(%s, %L::bytea)', :f_oid, '\x00')), 'OID [0-9]+', 'OID <f>');
SELECT tde_test.try($$SELECT tde.decrypt('kt.nonexistent', '\x00'::bytea)$$);
-- decrypt_text checks the encoding
SELECT tde_test.try(format('SELECT tde.decrypt_text(%L, %L)', 'kt.e', tde.encrypt('kt.e', '\xff00fe'::bytea)));
SELECT tde.decrypt('kt.e', tde.encrypt('kt.e', '\xff00fe'::bytea));

--
-- The keystore closed: no data operation (ORA-28365); opened again: all
-- works as before
--
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw1');
SELECT tde_test.try($$SELECT tde.encrypt('kt.e', '\x00'::bytea)$$);
SELECT tde_test.try($$SELECT tde.encrypt('kt.e', 'x'::text)$$);
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', :'c'));
SELECT tde_test.try(format('SELECT tde.decrypt_text(%L, %L)', 'kt.e', :'c'));
SELECT tde_test.try($$SELECT count(*) FROM kt.e WHERE tde.decrypt_text('kt.e', v) IS NOT NULL$$);
-- a new relation gets no key either
CREATE TABLE kt.g (v bytea);
SELECT tde_test.try($$SELECT tde.encrypt('kt.g', '\x00'::bytea)$$);
SELECT count(*) AS g_keys FROM tde.relation_keys WHERE relid = 'kt.g'::regclass;
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT tde.decrypt_text('kt.e', :'c');
SELECT count(*) FILTER (WHERE tde.decrypt_text('kt.e', v) = 'row ' || id) AS decrypted FROM kt.e;
SELECT length(tde.encrypt('kt.g', '\x00'::bytea)) AS len;
DROP TABLE kt.g;

--
-- Privileges: EXECUTE on the function, then INSERT or UPDATE on the
-- relation to encrypt and SELECT to decrypt
--
RESET ROLE;
CREATE ROLE regress_data NOLOGIN;
GRANT USAGE ON SCHEMA tde, kt TO regress_data;
SET ROLE regress_data;
-- no EXECUTE (PUBLIC has none)
SELECT tde_test.try($$SELECT tde.encrypt('kt.e', '\x00'::bytea)$$);
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', :'c'));
RESET ROLE;
GRANT EXECUTE ON FUNCTION tde.encrypt(regclass, bytea), tde.encrypt(regclass, text),
	tde.decrypt(regclass, bytea), tde.decrypt_text(regclass, bytea) TO regress_data;
SET ROLE regress_data;
-- EXECUTE but no privilege on the table
SELECT tde_test.try($$SELECT tde.encrypt('kt.e', '\x00'::bytea)$$);
SELECT tde_test.try($$SELECT tde.encrypt('kt.e', 'x'::text)$$);
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', :'c'));
SELECT tde_test.try(format('SELECT tde.decrypt_text(%L, %L)', 'kt.e', :'c'));
RESET ROLE;
GRANT SELECT ON kt.e TO regress_data;
SET ROLE regress_data;
-- SELECT: decrypt, not encrypt
SELECT tde.decrypt_text('kt.e', :'c');
SELECT tde_test.try($$SELECT tde.encrypt('kt.e', '\x00'::bytea)$$);
RESET ROLE;
REVOKE SELECT ON kt.e FROM regress_data;
GRANT INSERT ON kt.e TO regress_data;
SET ROLE regress_data;
-- INSERT: encrypt, not decrypt
SELECT length(tde.encrypt('kt.e', '\x00'::bytea)) AS len;
INSERT INTO kt.e VALUES (1000, tde.encrypt('kt.e', 'by regress_data'::text));
SELECT tde_test.try(format('SELECT tde.decrypt(%L, %L)', 'kt.e', :'c'));
RESET ROLE;
REVOKE INSERT ON kt.e FROM regress_data;
GRANT UPDATE ON kt.e TO regress_data;
SET ROLE regress_data;
-- UPDATE: encrypt
SELECT length(tde.encrypt('kt.e', 'x'::text)) AS len;
-- rotating needs tde_admin
SELECT tde_test.try($$SELECT tde.rotate_relation_key('kt.e')$$);
RESET ROLE;
SET ROLE regress_keyadm;
SELECT tde.decrypt_text('kt.e', v) FROM kt.e WHERE id = 1000;
RESET ROLE;
REVOKE ALL ON kt.e FROM regress_data;
REVOKE ALL ON FUNCTION tde.encrypt(regclass, bytea), tde.encrypt(regclass, text),
	tde.decrypt(regclass, bytea), tde.decrypt_text(regclass, bytea) FROM regress_data;
REVOKE USAGE ON SCHEMA tde, kt FROM regress_data;
DROP ROLE regress_data;

-- leave the keystore closed for runbook_file
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw1');
SELECT status FROM kt.wallet;
