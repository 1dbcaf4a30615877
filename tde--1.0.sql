/* tde--1.0.sql */

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

/*
 * Privileges: nothing for PUBLIC.  The C functions check again, so a stray
 * GRANT cannot widen access.
 */
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA tde FROM PUBLIC;
REVOKE ALL ON public."v$encryption_wallet" FROM PUBLIC;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tde TO tde_admin;
GRANT EXECUTE ON FUNCTION tde.encryption_wallet() TO pg_monitor;
GRANT SELECT ON public."v$encryption_wallet" TO tde_admin, pg_monitor;
