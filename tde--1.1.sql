/* tde--1.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION tde" to load this file. \quit

-- Oracle's SYSKM: the role that may run key-management operations.  Roles
-- are cluster-wide, so a second database that creates the extension finds
-- it already there.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tde_admin') THEN
		CREATE ROLE tde_admin NOLOGIN;
	END IF;
END
$$;

CREATE SCHEMA tde;
GRANT USAGE ON SCHEMA tde TO tde_admin, pg_monitor;

/*
 * Oracle's statements, verbatim.
 */
CREATE FUNCTION tde.administer_key_management(statement text)
RETURNS text
AS 'MODULE_PATHNAME', 'tde_administer_key_management'
LANGUAGE C STRICT VOLATILE;

/*
 * Keystore operations.  A password is given either as "password" or as
 * external_store => true (Oracle's IDENTIFIED BY EXTERNAL STORE).
 */
CREATE FUNCTION tde.create_keystore(password text, location text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'tde_create_keystore_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.create_auto_login_keystore(password text,
											   local boolean DEFAULT false,
											   location text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'tde_create_auto_login_keystore_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.open_keystore(password text DEFAULT NULL,
								  external_store boolean DEFAULT false,
								  force_keystore boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'tde_open_keystore_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.close_keystore(password text DEFAULT NULL,
								   external_store boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'tde_close_keystore_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.alter_keystore_password(old_password text,
											new_password text,
											with_backup boolean DEFAULT false,
											backup_identifier text DEFAULT NULL,
											force_keystore boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'tde_alter_keystore_password_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.backup_keystore(password text DEFAULT NULL,
									external_store boolean DEFAULT false,
									backup_identifier text DEFAULT NULL,
									location text DEFAULT NULL,
									force_keystore boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'tde_backup_keystore_sql'
LANGUAGE C VOLATILE;

/*
 * Master keys between keystores and clusters (Oracle's EXPORT KEYS and
 * IMPORT KEYS): an export file under a secret.  Both return the number of
 * keys; export_keys exports every key when key_ids is NULL.
 */
CREATE FUNCTION tde.export_keys(secret text, path text,
								password text DEFAULT NULL,
								external_store boolean DEFAULT false,
								force_keystore boolean DEFAULT false,
								key_ids text[] DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'tde_export_keys_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.import_keys(secret text, path text,
								password text DEFAULT NULL,
								external_store boolean DEFAULT false,
								force_keystore boolean DEFAULT false,
								with_backup boolean DEFAULT false,
								backup_identifier text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'tde_import_keys_sql'
LANGUAGE C VOLATILE;

/*
 * MOVE KEYS: keys out of the password wallet into a new keystore; never
 * the active key, nor one that still wraps a relation key in any database.
 * Every key but the active one when key_ids is NULL; returns how many.
 */
CREATE FUNCTION tde.move_keys(new_location text, new_password text,
							  password text DEFAULT NULL,
							  external_store boolean DEFAULT false,
							  force_keystore boolean DEFAULT false,
							  key_ids text[] DEFAULT NULL,
							  with_backup boolean DEFAULT false,
							  backup_identifier text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'tde_move_keys_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.merge_into_new_keystore(location1 text, location2 text,
											new_location text, new_password text,
											password1 text DEFAULT NULL,
											password2 text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'tde_merge_into_new_keystore_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.merge_into_existing_keystore(location text, existing_location text,
												 password text DEFAULT NULL,
												 existing_password text DEFAULT NULL,
												 external_store boolean DEFAULT false,
												 with_backup boolean DEFAULT false,
												 backup_identifier text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'tde_merge_into_existing_keystore_sql'
LANGUAGE C VOLATILE;

/*
 * Client secrets in the password keystore (ADD / UPDATE / DELETE SECRET
 * ... IDENTIFIED BY), and v$client_secrets, for tde_admin only.
 */
CREATE FUNCTION tde.add_secret(secret text, client text, tag text DEFAULT NULL,
							   password text DEFAULT NULL,
							   external_store boolean DEFAULT false,
							   force_keystore boolean DEFAULT false,
							   with_backup boolean DEFAULT false,
							   backup_identifier text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'tde_add_secret_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.update_secret(secret text, client text, tag text DEFAULT NULL,
								  password text DEFAULT NULL,
								  external_store boolean DEFAULT false,
								  force_keystore boolean DEFAULT false,
								  with_backup boolean DEFAULT false,
								  backup_identifier text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'tde_update_secret_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.delete_secret(client text,
								  password text DEFAULT NULL,
								  external_store boolean DEFAULT false,
								  force_keystore boolean DEFAULT false,
								  with_backup boolean DEFAULT false,
								  backup_identifier text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'tde_delete_secret_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.client_secrets(
	OUT client text,
	OUT secret_tag text,
	OUT creation_time timestamptz,
	OUT activation_time timestamptz,
	OUT owner text,
	OUT owner_id bigint,
	OUT keystore_type text,
	OUT backed_up text,
	OUT owner_dbname text,
	OUT owner_dbid numeric,
	OUT owner_instance_name text,
	OUT owner_instance_number integer,
	OUT owner_instance_serial integer,
	OUT owner_pdbname text,
	OUT owner_pdbid bigint,
	OUT owner_pdbuid bigint,
	OUT owner_pdbguid text,
	OUT con_id integer,
	OUT keystore_location text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'tde_client_secrets'
LANGUAGE C STRICT VOLATILE;

CREATE VIEW public."v$client_secrets" AS
	SELECT * FROM tde.client_secrets();

/*
 * The external password store: <wallet_root>/tde_seps/cwallet.sso.
 */
CREATE FUNCTION tde.add_external_store_secret(secret text, client text,
											  location text DEFAULT NULL,
											  local boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'tde_add_external_store_secret_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.update_external_store_secret(secret text, client text,
												 location text DEFAULT NULL,
												 local boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'tde_update_external_store_secret_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.delete_external_store_secret(client text,
												 location text DEFAULT NULL,
												 local boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'tde_delete_external_store_secret_sql'
LANGUAGE C VOLATILE;


/*
 * Master keys.  key is Oracle's 'mkid:mk' or 'mk' (hex); the trailing
 * arguments are those of IDENTIFIED BY, FORCE KEYSTORE and WITH BACKUP.
 * set_key and create_key return the new key's KEY_ID.
 */
CREATE FUNCTION tde.set_key(key text DEFAULT NULL,
							tag text DEFAULT NULL,
							algorithm text DEFAULT NULL,
							password text DEFAULT NULL,
							external_store boolean DEFAULT false,
							force_keystore boolean DEFAULT false,
							with_backup boolean DEFAULT false,
							backup_identifier text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'tde_set_key_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.create_key(key text DEFAULT NULL,
							   tag text DEFAULT NULL,
							   algorithm text DEFAULT NULL,
							   password text DEFAULT NULL,
							   external_store boolean DEFAULT false,
							   force_keystore boolean DEFAULT false,
							   with_backup boolean DEFAULT false,
							   backup_identifier text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'tde_create_key_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.use_key(key_id text,
							tag text DEFAULT NULL,
							password text DEFAULT NULL,
							external_store boolean DEFAULT false,
							force_keystore boolean DEFAULT false,
							with_backup boolean DEFAULT false,
							backup_identifier text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'tde_use_key_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.set_tag(key_id text,
							tag text,
							password text DEFAULT NULL,
							external_store boolean DEFAULT false,
							force_keystore boolean DEFAULT false,
							with_backup boolean DEFAULT false,
							backup_identifier text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'tde_set_tag_sql'
LANGUAGE C VOLATILE;

/* Migration between the wallet and the HSM; both return the new KEY_ID. */
CREATE FUNCTION tde.migrate_keystore(hsm_credential text,
									 wallet_password text,
									 with_backup boolean DEFAULT false,
									 backup_identifier text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'tde_migrate_keystore_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.reverse_migrate_keystore(wallet_password text,
											 hsm_credential text,
											 with_backup boolean DEFAULT false,
											 backup_identifier text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'tde_reverse_migrate_keystore_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION tde.key_id(master_key_id bytea)
RETURNS text
AS 'MODULE_PATHNAME', 'tde_key_id'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

/*
 * Relation keys, wrapped by master keys.  Both tables are extension
 * configuration tables, so pg_dump keeps their rows: a restored database
 * keeps its identity (bound into every wrapped key) and its keys.
 */
CREATE TABLE tde.database_identity (
	id uuid NOT NULL,
	singleton boolean NOT NULL DEFAULT true PRIMARY KEY CHECK (singleton)
);

CREATE TABLE tde.relation_key (
	key_id uuid NOT NULL,
	key_version integer NOT NULL CHECK (key_version > 0),
	relid regclass NOT NULL,
	master_key_id bytea NOT NULL CHECK (length(master_key_id) = 16),
	wrapped_key bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	rewrapped_at timestamptz,
	PRIMARY KEY (key_id, key_version),
	UNIQUE (relid, key_version)
) WITH (fillfactor = 50);	-- a re-wrap rewrites every row: room for HOT updates

SELECT pg_catalog.pg_extension_config_dump('tde.database_identity', '');
SELECT pg_catalog.pg_extension_config_dump('tde.relation_key', '');

-- the monitoring view: never key material
CREATE VIEW tde.relation_keys AS
	SELECT k.relid, k.key_version, k.key_id,
		   tde.key_id(k.master_key_id) AS master_key_id,
		   k.created_at, k.rewrapped_at
	FROM tde.relation_key k;

CREATE FUNCTION tde.rewrap_relation_key(key_id uuid, key_version integer,
										master_key_id bytea, wrapped_key bytea,
										new_master_key_id bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'tde_rewrap_relation_key'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION tde.rotate_relation_key(relation regclass)
RETURNS integer
AS 'MODULE_PATHNAME', 'tde_rotate_relation_key'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION tde.rewrap_progress(
	OUT datid oid,
	OUT datname text,
	OUT state text,
	OUT target_key_id text,
	OUT keys_done bigint,
	OUT keys_total bigint,
	OUT started timestamptz,
	OUT finished timestamptz,
	OUT error text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'tde_rewrap_progress'
LANGUAGE C STRICT VOLATILE;

CREATE VIEW tde.rewrap_progress AS SELECT * FROM tde.rewrap_progress();

CREATE FUNCTION tde.invalidate_key_caches()
RETURNS void
AS 'MODULE_PATHNAME', 'tde_invalidate_key_caches'
LANGUAGE C STRICT VOLATILE;

-- dropping a relation drops its keys
CREATE FUNCTION tde.drop_relation_keys()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM tde.relation_key k
	USING pg_event_trigger_dropped_objects() d
	WHERE d.classid = 'pg_catalog.pg_class'::regclass
	  AND d.objsubid = 0
	  AND k.relid::oid = d.objid;
	-- a later relation could reuse the OID: no backend may keep the old key
	IF FOUND THEN
		PERFORM tde.invalidate_key_caches();
	END IF;
END
$$;

CREATE EVENT TRIGGER tde_drop_relation_keys ON sql_drop
	EXECUTE FUNCTION tde.drop_relation_keys();

/*
 * Data.  Callers need EXECUTE (granted by an administrator) and, checked
 * in C, INSERT or UPDATE on the relation to encrypt, SELECT to decrypt.
 */
CREATE FUNCTION tde.encrypt(relation regclass, data bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'tde_encrypt'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION tde.decrypt(relation regclass, data bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'tde_decrypt'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

CREATE FUNCTION tde.encrypt(relation regclass, data text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'tde_encrypt_text'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION tde.decrypt_text(relation regclass, data bytea)
RETURNS text
AS 'MODULE_PATHNAME', 'tde_decrypt_text'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

/*
 * Data rekey: after tde.rotate_relation_key, re-encrypt a column under the
 * relation's newest key version, batch by batch, each batch committed.  An
 * interrupted run loses at most the batch in flight; running it again
 * resumes where it stopped, because every ciphertext names its version.
 * Meanwhile both versions decrypt.  CALL it outside a transaction block.
 */
CREATE FUNCTION tde.ciphertext_key_version(data bytea)
RETURNS integer
AS 'MODULE_PATHNAME', 'tde_ciphertext_key_version'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION tde.relation_key_version(relation regclass)
RETURNS integer
AS 'MODULE_PATHNAME', 'tde_relation_key_version'
LANGUAGE C STRICT VOLATILE;

-- (no SET clause: a procedure with one cannot COMMIT; it runs as the caller)
CREATE PROCEDURE tde.reencrypt(relation regclass, column_name name,
							   batch_size integer DEFAULT 1000)
LANGUAGE plpgsql
AS $$
DECLARE
	target integer := tde.relation_key_version(relation);
	done bigint := 0;
	n bigint;
BEGIN
	IF batch_size < 1 THEN
		RAISE EXCEPTION 'batch_size must be positive' USING ERRCODE = '22023';
	END IF;
	COMMIT;
	LOOP
		EXECUTE pg_catalog.format(
			'UPDATE %s SET %I = tde.encrypt(%L::regclass, tde.decrypt(%L::regclass, %I)) '
			'WHERE ctid = ANY (ARRAY(SELECT ctid FROM %s '
			'WHERE tde.ciphertext_key_version(%I) < %s LIMIT %s))',
			relation, column_name, relation, relation, column_name,
			relation, column_name, target, batch_size);
		GET DIAGNOSTICS n = ROW_COUNT;
		COMMIT;
		done := done + n;
		EXIT WHEN n = 0;
		RAISE NOTICE 're-encrypted % values of %.% under key version %',
			done, relation, column_name, target;
	END LOOP;
END
$$;

/*
 * Monitoring.
 */
CREATE FUNCTION tde.encryption_wallet(
	OUT wrl_type text,
	OUT wrl_parameter text,
	OUT status text,
	OUT wallet_type text,
	OUT wallet_order text,
	OUT keystore_mode text,
	OUT fully_backed_up text,
	OUT con_id integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'tde_encryption_wallet'
LANGUAGE C STRICT VOLATILE;

-- Oracle's view names resolve without a schema under the default
-- search_path ("$user", public), so the views live in public.
CREATE VIEW public."v$encryption_wallet" AS
	SELECT * FROM tde.encryption_wallet();


CREATE FUNCTION tde.encryption_keys(
	OUT key_id text,
	OUT tag text,
	OUT creation_time timestamptz,
	OUT activation_time timestamptz,
	OUT creator text,
	OUT creator_id bigint,
	OUT "user" text,
	OUT user_id bigint,
	OUT key_use text,
	OUT keystore_type text,
	OUT origin text,
	OUT backed_up text,
	OUT creator_dbname text,
	OUT creator_dbid numeric,
	OUT creator_instance_name text,
	OUT creator_instance_number integer,
	OUT creator_instance_serial integer,
	OUT creator_pdbname text,
	OUT creator_pdbid bigint,
	OUT creator_pdbuid bigint,
	OUT creator_pdbguid text,
	OUT activating_dbname text,
	OUT activating_dbid numeric,
	OUT activating_instance_name text,
	OUT activating_instance_number integer,
	OUT activating_instance_serial integer,
	OUT activating_pdbname text,
	OUT activating_pdbid bigint,
	OUT activating_pdbuid bigint,
	OUT activating_pdbguid text,
	OUT con_id integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'tde_encryption_keys'
LANGUAGE C STRICT VOLATILE;

CREATE VIEW public."v$encryption_keys" AS
	SELECT * FROM tde.encryption_keys();

/*
 * Privileges: nothing for PUBLIC.  The C functions check again, so a stray
 * GRANT cannot widen access.
 */
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA tde FROM PUBLIC;
REVOKE ALL ON PROCEDURE tde.reencrypt(regclass, name, integer) FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA tde FROM PUBLIC;
REVOKE ALL ON public."v$encryption_wallet", public."v$encryption_keys" FROM PUBLIC;
REVOKE ALL ON public."v$client_secrets" FROM PUBLIC;
GRANT SELECT ON public."v$client_secrets" TO tde_admin;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tde TO tde_admin;
GRANT EXECUTE ON PROCEDURE tde.reencrypt(regclass, name, integer) TO tde_admin;
GRANT EXECUTE ON FUNCTION tde.encryption_wallet(), tde.encryption_keys(),
	tde.rewrap_progress(), tde.key_id(bytea) TO pg_monitor;
GRANT SELECT ON public."v$encryption_wallet", public."v$encryption_keys"
	TO tde_admin, pg_monitor;
GRANT SELECT ON tde.relation_keys, tde.rewrap_progress TO tde_admin, pg_monitor;
