/* tde--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION tde UPDATE TO '1.1'" to load this file. \quit

-- Version 1.0 is released: every SQL change since goes here, and the same
-- change goes into tde--1.1.sql, so that an updated database and a new one
-- end up with the same objects (t/007_upgrade.pl compares them).

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

REVOKE ALL ON FUNCTION tde.export_keys(text, text, text, boolean, boolean, text[]),
	tde.import_keys(text, text, text, boolean, boolean, boolean, text),
	tde.move_keys(text, text, text, boolean, boolean, text[], boolean, text),
	tde.merge_into_new_keystore(text, text, text, text, text, text),
	tde.merge_into_existing_keystore(text, text, text, text, boolean, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tde.export_keys(text, text, text, boolean, boolean, text[]),
	tde.import_keys(text, text, text, boolean, boolean, boolean, text),
	tde.move_keys(text, text, text, boolean, boolean, text[], boolean, text),
	tde.merge_into_new_keystore(text, text, text, text, text, text),
	tde.merge_into_existing_keystore(text, text, text, text, boolean, boolean, text) TO tde_admin;
REVOKE ALL ON FUNCTION tde.add_secret(text, text, text, text, boolean, boolean, boolean, text),
	tde.update_secret(text, text, text, text, boolean, boolean, boolean, text),
	tde.delete_secret(text, text, boolean, boolean, boolean, text),
	tde.client_secrets() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tde.add_secret(text, text, text, text, boolean, boolean, boolean, text),
	tde.update_secret(text, text, text, text, boolean, boolean, boolean, text),
	tde.delete_secret(text, text, boolean, boolean, boolean, text),
	tde.client_secrets() TO tde_admin;
REVOKE ALL ON public."v$client_secrets" FROM PUBLIC;
GRANT SELECT ON public."v$client_secrets" TO tde_admin;

-- Decryption runs in parallel workers (issue 10): the functions read only,
-- and a worker reads the relation key under the leader's snapshot.
ALTER FUNCTION tde.decrypt(regclass, bytea) STABLE PARALLEL SAFE;
ALTER FUNCTION tde.decrypt_text(regclass, bytea) STABLE PARALLEL SAFE;
