--
-- secrets: client secrets in the password keystore (Oracle's 4.3, the
-- GoldenGate examples of 4.4.3) through ADMINISTER KEY MANAGEMENT and the
-- typed functions, and v$client_secrets: its rows, the external store's
-- clients, who may read it; no secret's value anywhere.
--
-- Expects: the keystore open with its password (regress_pw1); the
--          external store holding TDE_WALLET (regress_pw1).
-- Leaves:  the keystore without client secrets; the external store as it
--          was.
--
\set SHOW_CONTEXT never
SET ROLE regress_keyadm;
SELECT current_setting('tde.wallet_root') AS root \gset
CREATE VIEW kt.secrets AS
	SELECT client, secret_tag, creation_time IS NOT NULL AS created,
		   activation_time IS NOT NULL AS activated, keystore_type,
		   tde_test.mask(keystore_location) AS location, backed_up, con_id
	FROM v$client_secrets ORDER BY keystore_type DESC, client;
SELECT * FROM kt.secrets;

--
-- ADD, UPDATE, DELETE SECRET ... IDENTIFIED BY
--
SELECT tde_test.akm($$ADMINISTER KEY MANAGEMENT ADD SECRET 'GG_Secret_1' FOR CLIENT 'Oracle_GoldenGate' USING TAG 'gg admin' IDENTIFIED BY regress_pw1 WITH BACKUP$$);
SELECT tde_test.akm($$ADD SECRET GG_Secret_2 FOR CLIENT 'OGG2' FORCE KEYSTORE IDENTIFIED BY regress_pw1 WITH BACKUP USING 'secret2'$$);
SELECT tde_test.akm(format($$ADD SECRET 'GG_Secret_3' FOR CLIENT 'OGG3' TO KEYSTORE %L IDENTIFIED BY regress_pw1 WITH BACKUP$$, :'root' || '/tde'));
SELECT * FROM kt.secrets;
-- Oracle's owner columns: who added it, and where
SELECT client, owner, owner_id IS NOT NULL AS has_owner_id, owner_dbname IS NOT NULL AS has_dbname,
	   owner_dbid > 0 AS has_dbid, owner_instance_number, owner_instance_serial,
	   owner_pdbname, owner_pdbid > 0 AS has_pdbid, owner_pdbguid
FROM v$client_secrets WHERE keystore_type = 'SOFTWARE KEYSTORE' ORDER BY client;
-- an existing client, a missing one, no backup, another keystore: refused, nothing changes
SELECT tde_test.md5('tde/ewallet.p12') AS ewallet_v1 \gset
SELECT tde_test.akm($$ADD SECRET 'x' FOR CLIENT 'Oracle_GoldenGate' IDENTIFIED BY regress_pw1 WITH BACKUP$$);
SELECT tde_test.akm($$UPDATE SECRET 'x' FOR CLIENT 'nobody' IDENTIFIED BY regress_pw1 WITH BACKUP$$);
SELECT tde_test.akm($$DELETE SECRET FOR CLIENT 'nobody' IDENTIFIED BY regress_pw1 WITH BACKUP$$);
SELECT tde_test.akm($$UPDATE SECRET 'x' FOR CLIENT 'OGG2' IDENTIFIED BY regress_pw1$$);
SELECT tde_test.akm($$UPDATE SECRET 'x' FOR CLIENT 'OGG2' IDENTIFIED BY wrong_pw WITH BACKUP$$);
SELECT tde_test.akm($$ADD SECRET 'x' FOR CLIENT 'elsewhere' TO KEYSTORE '/tmp' IDENTIFIED BY regress_pw1 WITH BACKUP$$);
SELECT tde_test.akm($$ADD SECRET 'x' FOR CLIENT 'OGG' TO AUTO_LOGIN KEYSTORE '/tmp' IDENTIFIED BY regress_pw1$$);
SELECT tde_test.akm($$ADD SECRET 'x' FOR CLIENT 'OGG'$$);
SELECT tde_test.try($$SELECT tde.add_secret('x', E'bad\nclient', password => 'regress_pw1', with_backup => true)$$);
SELECT tde_test.try($$SELECT tde.add_secret('', 'empty', password => 'regress_pw1', with_backup => true)$$);
SELECT tde_test.md5('tde/ewallet.p12') = :'ewallet_v1' AS wallet_unchanged;
-- UPDATE keeps the tag unless one is given, and the creation time
SELECT creation_time AS ogg2_created FROM v$client_secrets WHERE client = 'OGG2' \gset
SELECT tde_test.akm($$UPDATE SECRET 'GG_Secret_2b' FOR CLIENT 'OGG2' USING TAG 'rotated' IDENTIFIED BY regress_pw1 WITH BACKUP$$);
SELECT tde.update_secret('GG_Secret_1b', 'Oracle_GoldenGate', password => 'regress_pw1', with_backup => true);
SELECT client, secret_tag, creation_time = :'ogg2_created' AS same_creation FROM v$client_secrets
WHERE keystore_type = 'SOFTWARE KEYSTORE' ORDER BY client;
SELECT * FROM kt.secrets;
-- no secret's value in the view or the describe of a statement
SELECT count(*) AS rows_with_a_value FROM v$client_secrets v
WHERE v::text ~ 'GG_Secret';
-- the secrets stay through a close and an open
SELECT tde_test.akm('SET KEYSTORE CLOSE IDENTIFIED BY regress_pw1');
SELECT count(*) AS while_closed FROM v$client_secrets WHERE keystore_type = 'SOFTWARE KEYSTORE';
SELECT tde_test.akm('SET KEYSTORE OPEN IDENTIFIED BY regress_pw1');
SELECT count(*) AS after_open FROM v$client_secrets WHERE keystore_type = 'SOFTWARE KEYSTORE';

--
-- The external store's clients are listed too
--
-- (TDE_WALLET, without tag or times: the external store keeps none), and
-- IDENTIFIED BY EXTERNAL STORE works for the keystore's secrets
SELECT * FROM kt.secrets WHERE keystore_type = 'EXTERNAL STORE';
SELECT tde_test.akm($$DELETE SECRET FOR CLIENT 'OGG3' IDENTIFIED BY EXTERNAL STORE WITH BACKUP$$);

--
-- An auto-login keystore of secrets in another directory (Oracle's
-- example of 4.3.3, INTO [LOCAL] AUTO_LOGIN KEYSTORE)
--
SELECT tde_test.akm(format($$ADMINISTER KEY MANAGEMENT ADD SECRET 'okv_Secret_1' FOR CLIENT 'OKV_PASSWORD' INTO LOCAL AUTO_LOGIN KEYSTORE %L$$, :'root' || '/okv'));
SELECT * FROM tde_test.ls('okv');
SELECT tde_test.akm(format($$ADD SECRET 'x' FOR CLIENT 'OKV_PASSWORD' TO LOCAL AUTO_LOGIN KEYSTORE %L$$, :'root' || '/okv'));
SELECT tde_test.akm(format($$UPDATE SECRET okv_Secret_2 FOR CLIENT 'OKV_PASSWORD' USING TAG 'okv' TO LOCAL AUTO_LOGIN KEYSTORE %L$$, :'root' || '/okv'));
SELECT tde_test.akm(format($$DELETE SECRET FOR CLIENT 'nobody' FROM LOCAL AUTO_LOGIN KEYSTORE %L$$, :'root' || '/okv'));
SELECT tde_test.akm(format($$DELETE SECRET FOR CLIENT 'OKV_PASSWORD' FROM LOCAL AUTO_LOGIN KEYSTORE %L$$, :'root' || '/okv'));
SELECT tde_test.akm(format($$UPDATE SECRET 'x' FOR CLIENT 'c' TO AUTO_LOGIN KEYSTORE %L$$, :'root' || '/nothing_here'));
-- a directory with a password wallet: the secret belongs in the wallet
SELECT tde_test.akm(format($$ADD SECRET 'x' FOR CLIENT 'c' TO AUTO_LOGIN KEYSTORE %L$$, :'root' || '/tde'));
SELECT tde_test.akm($$ADD SECRET 'x' FOR CLIENT 'c' TO AUTO_LOGIN KEYSTORE '/tmp/okv'$$);

--
-- Who may read v$client_secrets: tde_admin, not pg_monitor
--
RESET ROLE;
CREATE ROLE regress_mon NOLOGIN IN ROLE pg_monitor;
SET ROLE regress_mon;
SELECT tde_test.try($$SELECT count(*) FROM v$client_secrets$$);
SELECT tde_test.try($$SELECT count(*) FROM tde.client_secrets()$$);
SELECT tde_test.try($$SELECT count(*) FROM v$encryption_keys$$) LIKE 'ok%' AS monitor_reads_keys;
RESET ROLE;
GRANT SELECT ON v$client_secrets TO regress_mon;
GRANT EXECUTE ON FUNCTION tde.client_secrets(), tde.delete_secret(text, text, boolean, boolean, boolean, text) TO regress_mon;
SET ROLE regress_mon;
SELECT tde_test.try($$SELECT count(*) FROM v$client_secrets$$);
SELECT tde_test.try($$SELECT tde.delete_secret('OGG2', password => 'regress_pw1', with_backup => true)$$);
RESET ROLE;
REVOKE ALL ON v$client_secrets FROM regress_mon;
REVOKE ALL ON FUNCTION tde.client_secrets(), tde.delete_secret(text, text, boolean, boolean, boolean, text) FROM regress_mon;
DROP ROLE regress_mon;

--
-- DELETE SECRET: the rest
--
SET ROLE regress_keyadm;
SELECT tde_test.akm($$DELETE SECRET FOR CLIENT 'Oracle_GoldenGate' IDENTIFIED BY regress_pw1 WITH BACKUP$$);
SELECT tde.delete_secret('OGG2', password => 'regress_pw1', with_backup => true);
SELECT * FROM kt.secrets;
DROP VIEW kt.secrets;
