--
-- transfer: EXPORT KEYS and IMPORT KEYS (Oracle's 4.2.7), through
-- ADMINISTER KEY MANAGEMENT and the typed functions: every key, a list, a
-- subquery; the export file; re-import refused; a wrong secret, a file
-- that is no export file; what a refused statement leaves.  A successful
-- import of keys from another keystore, and the round trip between two
-- clusters, are in t/036_export_import.pl.
--
-- Expects: the keystore open with its password (regress_pw1) and master
--          keys (masterkeys has run).
-- Leaves:  the same keystore and keys (a merged-back backup in <root>/tde);
--          export files in <root>; a merged keystore in <root>/merged.
--
\set SHOW_CONTEXT never
-- KEY_IDs of random keys, in messages, as <KEY_ID>
CREATE FUNCTION tde_test.akm_k(statement text) RETURNS text
LANGUAGE sql AS $$
	SELECT regexp_replace(tde_test.akm(statement), '"[A-Za-z0-9+/]{52}"', '"<KEY_ID>"', 'g')
$$;
CREATE FUNCTION tde_test.try_k(stmt text) RETURNS text
LANGUAGE sql AS $$
	SELECT regexp_replace(tde_test.try(stmt), '"[A-Za-z0-9+/]{52}"', '"<KEY_ID>"', 'g')
$$;
GRANT EXECUTE ON FUNCTION tde_test.akm_k(text), tde_test.try_k(text) TO PUBLIC;
SET ROLE regress_keyadm;
SELECT current_setting('tde.wallet_root') AS root \gset
SELECT count(*) > 1 AS several_keys FROM v$encryption_keys;
SELECT tde_test.md5('tde/ewallet.p12') AS ewallet_v0 \gset

--
-- The statements as parsed (Oracle's templates and examples 4-3 to 4-6)
--
RESET ROLE;
CREATE FUNCTION tde_test.describe(statement text) RETURNS text
AS 'tde', 'tde_describe_statement' LANGUAGE C STRICT;
GRANT EXECUTE ON FUNCTION tde_test.describe(text) TO regress_keyadm;
SET ROLE regress_keyadm;
SELECT tde_test.describe($$ADMINISTER KEY MANAGEMENT EXPORT ENCRYPTION KEYS
WITH SECRET "my_secret"
TO '/TDE/export.exp'
FORCE KEYSTORE
IDENTIFIED BY password
WITH IDENTIFIER IN 'AdoxnJ0uH08cv7xkz83ovwsAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
'AW5z3CoyKE/yv3cNT5CWCXUAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'$$);
SELECT tde_test.describe($$ADMINISTER KEY MANAGEMENT EXPORT ENCRYPTION KEYS
WITH SECRET "my_secret" TO '/etc/TDE/export.exp'
FORCE KEYSTORE
IDENTIFIED BY password
WITH IDENTIFIER IN (SELECT KEY_ID FROM V$ENCRYPTION_KEYS WHERE ROWNUM <3);$$);
SELECT tde_test.describe($$EXPORT KEYS WITH SECRET my_secret TO '/etc/TDE/export.exp' IDENTIFIED BY EXTERNAL STORE$$);
SELECT tde_test.describe($$ADMINISTER KEY MANAGEMENT IMPORT KEYS
WITH SECRET "my_secret"
FROM '/etc/TDE/export.exp'
FORCE KEYSTORE
IDENTIFIED BY password WITH BACKUP;$$);
SELECT tde_test.describe($$IMPORT ENCRYPTION KEYS WITH SECRET "s 1" FROM '/e.exp' IDENTIFIED BY pw WITH BACKUP USING 'before_import'$$);
-- a subquery with parentheses and quotes of its own
SELECT tde_test.describe($$EXPORT KEYS WITH SECRET s TO '/e.exp' IDENTIFIED BY pw WITH IDENTIFIER IN (SELECT key_id FROM v$encryption_keys WHERE tag IN ('a)', 'b') AND (1 = 1))$$);
-- syntax errors: the secret is never shown
SELECT tde_test.akm($$EXPORT KEYS WITH SECRET s TO '/e.exp' IDENTIFIED BY pw WITH IDENTIFIER IN (SELECT 1$$);
SELECT tde_test.akm($$EXPORT KEYS WITH SECRET s TO '/e.exp' IDENTIFIED BY pw WITH IDENTIFIER IN ()$$);
SELECT tde_test.akm($$EXPORT KEYS WITH SECRET s TO '/e.exp' IDENTIFIED BY pw WITH IDENTIFIER IN 'x',$$);
SELECT tde_test.akm($$EXPORT KEYS WITH SECRET "topsecret" '/e.exp' IDENTIFIED BY pw$$);
SELECT tde_test.akm($$EXPORT KEYS WITH SECRET s TO '/e.exp' IDENTIFIED BY pw WITH BACKUP$$);
SELECT tde_test.akm($$IMPORT KEYS WITH SECRET s TO '/e.exp' IDENTIFIED BY pw$$);
SELECT tde_test.akm($$IMPORT KEYS WITH SECRET s FROM '/e.exp' IDENTIFIED BY pw WITH IDENTIFIER IN 'x'$$);

--
-- EXPORT: every key (example 4-5)
--
SELECT tde_test.akm(format($$ADMINISTER KEY MANAGEMENT EXPORT ENCRYPTION KEYS
WITH SECRET "my_secret" TO %L
FORCE KEYSTORE
IDENTIFIED BY regress_pw1$$, :'root' || '/all.exp'));
RESET ROLE;
SELECT substr(pg_read_binary_file(:'root' || '/all.exp'), 1, 1) = '\x30'::bytea AS der_sequence,
	   (pg_stat_file(:'root' || '/all.exp')).size > 1000 AS has_content;
SET ROLE regress_keyadm;
SELECT tde_test.md5('tde/ewallet.p12') = :'ewallet_v0' AS wallet_unchanged;
-- an export never overwrites a file
SELECT tde_test.akm(format($$EXPORT KEYS WITH SECRET "my_secret" TO %L IDENTIFIED BY regress_pw1$$,
						   :'root' || '/all.exp'));
-- nor a keystore's
SELECT tde_test.akm(format($$EXPORT KEYS WITH SECRET "my_secret" TO %L IDENTIFIED BY regress_pw1$$,
						   :'root' || '/tde/ewallet.p12'));
SELECT tde_test.md5('tde/ewallet.p12') = :'ewallet_v0' AS wallet_unchanged;

--
-- EXPORT by a list (example 4-3) and by a subquery (example 4-4)
--
SELECT tde_test.akm(format($$EXPORT ENCRYPTION KEYS WITH SECRET "my_secret" TO %L
IDENTIFIED BY regress_pw1 WITH IDENTIFIER IN %L, %L$$,
	:'root' || '/list.exp', kt.active_key(), kt.newest_key()));
SELECT tde_test.akm(format($$EXPORT ENCRYPTION KEYS WITH SECRET "my_secret" TO %L
FORCE KEYSTORE IDENTIFIED BY regress_pw1
WITH IDENTIFIER IN (SELECT KEY_ID FROM V$ENCRYPTION_KEYS ORDER BY creation_time LIMIT 2)$$,
	:'root' || '/query.exp'));
-- the typed function: the number of keys
SELECT tde.export_keys('my_secret', :'root' || '/typed_all.exp', password => 'regress_pw1')
	= (SELECT count(*) FROM v$encryption_keys) AS all_keys;
SELECT tde.export_keys('my_secret', :'root' || '/typed_list.exp', password => 'regress_pw1',
					   key_ids => ARRAY[kt.active_key(), kt.active_key()]) AS one_key;

--
-- EXPORT refused, nothing written
--
SELECT tde_test.akm(format($$EXPORT KEYS WITH SECRET s TO %L IDENTIFIED BY wrong_pw$$, :'root' || '/x.exp'));
SELECT tde_test.akm(format($$EXPORT KEYS WITH SECRET s TO %L IDENTIFIED BY regress_pw1 WITH IDENTIFIER IN 'nokey'$$, :'root' || '/x.exp'));
SELECT tde_test.akm(format($$EXPORT KEYS WITH SECRET s TO %L IDENTIFIED BY regress_pw1 WITH IDENTIFIER IN 'AdoxnJ0uH08cv7xkz83ovwsAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'$$, :'root' || '/x.exp'));
SELECT tde_test.akm(format($$EXPORT KEYS WITH SECRET s TO %L IDENTIFIED BY regress_pw1 WITH IDENTIFIER IN (SELECT key_id, tag FROM v$encryption_keys)$$, :'root' || '/x.exp'));
SELECT tde_test.akm(format($$EXPORT KEYS WITH SECRET s TO %L IDENTIFIED BY regress_pw1 WITH IDENTIFIER IN (SELECT 1)$$, :'root' || '/x.exp'));
SELECT tde_test.akm(format($$EXPORT KEYS WITH SECRET s TO %L IDENTIFIED BY regress_pw1 WITH IDENTIFIER IN (SELECT NULL::text)$$, :'root' || '/x.exp'));
SELECT tde_test.akm(format($$EXPORT KEYS WITH SECRET s TO %L IDENTIFIED BY regress_pw1 WITH IDENTIFIER IN (SELECT key_id FROM v$encryption_keys WHERE false)$$, :'root' || '/x.exp'));
SELECT tde_test.akm(format($$EXPORT KEYS WITH SECRET s TO %L IDENTIFIED BY regress_pw1 WITH IDENTIFIER IN (DELETE FROM kt.k_plain RETURNING 'x'::text)$$, :'root' || '/x.exp'));
SELECT tde_test.akm(format($$EXPORT KEYS WITH SECRET s TO %L IDENTIFIED BY regress_pw1 WITH IDENTIFIER IN (SELECT 'a'::text; SELECT 'b'::text)$$, :'root' || '/x.exp'));
-- the subquery runs as the caller: a table regress_keyadm cannot read stays unread
RESET ROLE;
CREATE TABLE tde_test.hidden (key_id text);
INSERT INTO tde_test.hidden SELECT key_id FROM v$encryption_keys;
SET ROLE regress_keyadm;
SELECT tde_test.akm(format($$EXPORT KEYS WITH SECRET s TO %L IDENTIFIED BY regress_pw1 WITH IDENTIFIER IN (SELECT key_id FROM tde_test.hidden)$$, :'root' || '/x.exp'));
SELECT tde_test.try(format($$SELECT tde.export_keys('s', %L, password => 'regress_pw1', key_ids => ARRAY[NULL])$$, :'root' || '/x.exp'));
SELECT tde_test.try(format($$SELECT tde.export_keys('', %L, password => 'regress_pw1')$$, :'root' || '/x.exp'));
SELECT tde_test.try(format($$SELECT tde.export_keys('s', %L, password => 'regress_pw1', key_ids => array_fill('x'::text, ARRAY[100000]))$$, :'root' || '/x.exp'));
SELECT tde_test.try($$SELECT tde.export_keys('s', 'relative.exp', password => 'regress_pw1')$$);
SELECT tde_test.try($$SELECT tde.export_keys('s', '/tmp/outside.exp', password => 'regress_pw1')$$);
SELECT tde_test.try(format($$SELECT tde.export_keys('s', %L, password => 'regress_pw1')$$, :'root' || '/no_such_dir/x.exp'));
SELECT f FROM tde_test.ls('') AS f WHERE f LIKE '%.exp%' OR f LIKE '%.tmp%';

--
-- IMPORT: keys already in the keystore are refused (4.2.7.7), and a
-- wrong secret, a wallet or a missing file: nothing changes
--
SELECT tde_test.akm_k(format($$ADMINISTER KEY MANAGEMENT IMPORT KEYS WITH SECRET "my_secret" FROM %L
FORCE KEYSTORE IDENTIFIED BY regress_pw1 WITH BACKUP$$, :'root' || '/all.exp'));
SELECT tde_test.try_k(format($$SELECT tde.import_keys('my_secret', %L, password => 'regress_pw1', with_backup => true)$$,
						   :'root' || '/typed_list.exp'));
SELECT tde_test.akm(format($$IMPORT KEYS WITH SECRET "not_my_secret" FROM %L IDENTIFIED BY regress_pw1 WITH BACKUP$$, :'root' || '/all.exp'));
SELECT tde_test.akm(format($$IMPORT KEYS WITH SECRET "regress_pw1" FROM %L IDENTIFIED BY regress_pw1 WITH BACKUP$$, :'root' || '/tde/ewallet.p12'));
SELECT tde_test.akm(format($$IMPORT KEYS WITH SECRET "my_secret" FROM %L IDENTIFIED BY regress_pw1 WITH BACKUP$$, :'root' || '/missing.exp'));
SELECT tde_test.akm(format($$IMPORT KEYS WITH SECRET "my_secret" FROM %L IDENTIFIED BY wrong_pw WITH BACKUP$$, :'root' || '/all.exp'));
-- WITH BACKUP is required, as for every change (ORA-46631)
SELECT tde_test.akm(format($$IMPORT KEYS WITH SECRET "my_secret" FROM %L IDENTIFIED BY regress_pw1$$, :'root' || '/all.exp'));
SELECT tde_test.try($$SELECT tde.import_keys('s', '/tmp/outside.exp', password => 'regress_pw1', with_backup => true)$$);
SELECT tde_test.md5('tde/ewallet.p12') = :'ewallet_v0' AS wallet_unchanged;
SELECT * FROM kt.wallet;


--
-- MERGE KEYSTORE (4.1.8): the forms as parsed, then merges inside
-- tde.wallet_root; the two-cluster merges are in t/037_merge.pl
--
SELECT tde_test.describe($$ADMINISTER KEY MANAGEMENT MERGE KEYSTORE 'TDE_wallet1_location'
IDENTIFIED BY TDE_wallet1_password
INTO EXISTING KEYSTORE 'TDE_wallet2_location'
IDENTIFIED BY TDE_wallet2_password
WITH BACKUP USING 'backup_identifier';$$);
SELECT tde_test.describe($$ADMINISTER KEY MANAGEMENT MERGE KEYSTORE '/etc/ORACLE/KEYSTORE/DB1'
AND KEYSTORE '/etc/ORACLE/KEYSTORE/DB2'
IDENTIFIED BY existing_password_for_keystore_2
INTO NEW KEYSTORE '/etc/ORACLE/KEYSTORE/DB3'
IDENTIFIED BY new_password_for_keystore_3;$$);
SELECT tde_test.describe($$ADMINISTER KEY MANAGEMENT MERGE KEYSTORE '/etc/ORACLE/KEYSTORE/DB1'
INTO EXISTING KEYSTORE '/etc/ORACLE/KEYSTORE/DB2'
IDENTIFIED BY keystore_password WITH BACKUP$$);
SELECT tde_test.akm($$MERGE KEYSTORE '/a' INTO NEW KEYSTORE '/c' IDENTIFIED BY pw$$);
SELECT tde_test.akm($$MERGE KEYSTORE '/a' AND KEYSTORE '/b' INTO EXISTING KEYSTORE '/c' IDENTIFIED BY pw$$);
SELECT tde_test.akm($$MERGE KEYSTORE '/a' AND KEYSTORE '/b' INTO NEW KEYSTORE '/c' IDENTIFIED BY pw WITH BACKUP$$);
-- the configured keystore into a new one under the wallet root, then back
SELECT tde_test.akm(format($$MERGE KEYSTORE %L IDENTIFIED BY regress_pw1 AND KEYSTORE %L IDENTIFIED BY regress_pw1
INTO NEW KEYSTORE %L IDENTIFIED BY "merged_pw"$$, :'root' || '/tde', :'root' || '/tde', :'root' || '/merged'));
SELECT * FROM tde_test.ls('merged');
SELECT tde.merge_into_existing_keystore(location => :'root' || '/merged', password => 'merged_pw',
	existing_location => :'root' || '/tde', existing_password => 'regress_pw1',
	with_backup => true, backup_identifier => 'merge_back') AS keys_added;
SELECT count(*) AS merge_backups FROM tde_test.ls('tde') AS f WHERE f LIKE '%merge_back%';
-- refused, nothing written
SELECT tde_test.akm(format($$MERGE KEYSTORE %L IDENTIFIED BY regress_pw1 INTO EXISTING KEYSTORE %L IDENTIFIED BY regress_pw1 WITH BACKUP$$,
	:'root' || '/tde', :'root' || '/tde'));
SELECT tde_test.akm(format($$MERGE KEYSTORE %L IDENTIFIED BY merged_pw INTO EXISTING KEYSTORE %L IDENTIFIED BY regress_pw1$$,
	:'root' || '/merged', :'root' || '/tde'));
SELECT tde_test.akm(format($$MERGE KEYSTORE %L IDENTIFIED BY wrong_pw INTO EXISTING KEYSTORE %L IDENTIFIED BY regress_pw1 WITH BACKUP$$,
	:'root' || '/merged', :'root' || '/tde'));
SELECT tde_test.akm(format($$MERGE KEYSTORE %L INTO EXISTING KEYSTORE %L IDENTIFIED BY regress_pw1 WITH BACKUP$$,
	:'root' || '/merged', :'root' || '/tde'));
SELECT tde_test.akm(format($$MERGE KEYSTORE %L IDENTIFIED BY merged_pw INTO EXISTING KEYSTORE %L IDENTIFIED BY regress_pw1 WITH BACKUP$$,
	'/tmp', :'root' || '/tde'));
SELECT tde_test.akm(format($$MERGE KEYSTORE %L IDENTIFIED BY regress_pw1 AND KEYSTORE %L IDENTIFIED BY regress_pw1
INTO NEW KEYSTORE %L IDENTIFIED BY "x"$$, :'root' || '/tde', :'root' || '/tde', '/tmp/merged_outside'));
SELECT count(*) AS merge_backups FROM tde_test.ls('tde') AS f WHERE f LIKE '%merge_back%';
--
-- Privileges: a role without tde_admin is refused both ways
--
RESET ROLE;
CREATE ROLE regress_nokm NOLOGIN;
SET ROLE regress_nokm;
SELECT tde_test.try(format($$SELECT tde.administer_key_management(%L)$$,
	format('EXPORT KEYS WITH SECRET s TO %L IDENTIFIED BY regress_pw1', :'root' || '/x.exp')));
SELECT tde_test.try(format($$SELECT tde.export_keys('s', %L, password => 'regress_pw1')$$, :'root' || '/x.exp'));
SELECT tde_test.try(format($$SELECT tde.import_keys('s', %L, password => 'regress_pw1')$$, :'root' || '/all.exp'));
-- and with the GRANTs widened, by the check in C
RESET ROLE;
GRANT USAGE ON SCHEMA tde TO regress_nokm;
GRANT EXECUTE ON FUNCTION tde.administer_key_management(text),
	tde.export_keys(text, text, text, boolean, boolean, text[]),
	tde.import_keys(text, text, text, boolean, boolean, boolean, text),
	tde.merge_into_existing_keystore(text, text, text, text, boolean, boolean, text) TO regress_nokm;
SET ROLE regress_nokm;
SELECT tde_test.try(format($$SELECT tde.administer_key_management(%L)$$,
	format('EXPORT KEYS WITH SECRET s TO %L IDENTIFIED BY regress_pw1', :'root' || '/x.exp')));
SELECT tde_test.try(format($$SELECT tde.export_keys('s', %L, password => 'regress_pw1')$$, :'root' || '/x.exp'));
SELECT tde_test.try(format($$SELECT tde.import_keys('s', %L, password => 'regress_pw1')$$, :'root' || '/all.exp'));
SELECT tde_test.try(format($$SELECT tde.merge_into_existing_keystore(%L, %L, 'merged_pw', 'regress_pw1', with_backup => true)$$, :'root' || '/merged', :'root' || '/tde'));
RESET ROLE;
REVOKE ALL ON FUNCTION tde.administer_key_management(text),
	tde.export_keys(text, text, text, boolean, boolean, text[]),
	tde.import_keys(text, text, text, boolean, boolean, boolean, text),
	tde.merge_into_existing_keystore(text, text, text, text, boolean, boolean, text) FROM regress_nokm;
REVOKE USAGE ON SCHEMA tde FROM regress_nokm;
DROP ROLE regress_nokm;
DROP TABLE tde_test.hidden;
DROP FUNCTION tde_test.describe(text);
DROP FUNCTION tde_test.akm_k(text), tde_test.try_k(text);
