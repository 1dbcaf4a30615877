/*-------------------------------------------------------------------------
 *
 * keystore_sql.c
 *	  Typed SQL functions for keystore operations.
 *
 * Each function unpacks its named arguments, checks privileges and calls
 * the keystore operation that the matching ADMINISTER KEY MANAGEMENT
 * statement runs.  Passwords are copied into secure memory at once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "tde/keys/relkey_rewrap.h"
#include "tde/keystore/client_secret.h"
#include "tde/keystore/keystore.h"
#include "tde/sql/sql_args.h"
#include "tde/sql/privs.h"

PG_FUNCTION_INFO_V1(tde_create_keystore_sql);
PG_FUNCTION_INFO_V1(tde_create_auto_login_keystore_sql);
PG_FUNCTION_INFO_V1(tde_open_keystore_sql);
PG_FUNCTION_INFO_V1(tde_close_keystore_sql);
PG_FUNCTION_INFO_V1(tde_alter_keystore_password_sql);
PG_FUNCTION_INFO_V1(tde_backup_keystore_sql);
PG_FUNCTION_INFO_V1(tde_add_external_store_secret_sql);
PG_FUNCTION_INFO_V1(tde_update_external_store_secret_sql);
PG_FUNCTION_INFO_V1(tde_delete_external_store_secret_sql);
PG_FUNCTION_INFO_V1(tde_add_secret_sql);
PG_FUNCTION_INFO_V1(tde_update_secret_sql);
PG_FUNCTION_INFO_V1(tde_delete_secret_sql);

static void
enter(void)
{
	tde_require_loaded();
	tde_require_admin();
}

/* tde.create_keystore(password, location) */
Datum
tde_create_keystore_sql(PG_FUNCTION_ARGS)
{
	enter();
	tde_arg_require(fcinfo, 0, "password");
	tde_keystore_create(tde_arg_text(fcinfo, 1), tde_arg_secret(fcinfo, 0));
	PG_RETURN_VOID();
}

/* tde.create_auto_login_keystore(password, local, location) */
Datum
tde_create_auto_login_keystore_sql(PG_FUNCTION_ARGS)
{
	enter();
	tde_arg_require(fcinfo, 0, "password");
	tde_keystore_create_autologin(tde_arg_text(fcinfo, 2), tde_arg_secret(fcinfo, 0),
								  tde_arg_bool(fcinfo, 1));
	PG_RETURN_VOID();
}

/* tde.open_keystore(password, external_store, force_keystore) */
Datum
tde_open_keystore_sql(PG_FUNCTION_ARGS)
{
	enter();
	tde_keystore_open(tde_arg_credential(fcinfo, 0, 1, false), tde_arg_bool(fcinfo, 2));
	tde_relkey_warn_missing_master_keys();
	PG_RETURN_VOID();
}

/* tde.close_keystore(password, external_store) */
Datum
tde_close_keystore_sql(PG_FUNCTION_ARGS)
{
	enter();
	tde_keystore_close(tde_arg_credential(fcinfo, 0, 1, true));
	PG_RETURN_VOID();
}

/* tde.alter_keystore_password(old_password, new_password, with_backup, backup_identifier, force_keystore) */
Datum
tde_alter_keystore_password_sql(PG_FUNCTION_ARGS)
{
	enter();
	tde_arg_require(fcinfo, 0, "old_password");
	tde_arg_require(fcinfo, 1, "new_password");
	tde_keystore_alter_password(tde_arg_secret(fcinfo, 0), tde_arg_secret(fcinfo, 1),
								tde_arg_bool(fcinfo, 2), tde_arg_text(fcinfo, 3),
								tde_arg_bool(fcinfo, 4));
	PG_RETURN_VOID();
}

/* tde.backup_keystore(password, external_store, backup_identifier, location, force_keystore) */
Datum
tde_backup_keystore_sql(PG_FUNCTION_ARGS)
{
	char	   *path;

	enter();
	path = tde_keystore_backup(tde_arg_credential(fcinfo, 0, 1, false),
							   tde_arg_text(fcinfo, 2), tde_arg_text(fcinfo, 3),
							   tde_arg_bool(fcinfo, 4));
	PG_RETURN_TEXT_P(cstring_to_text(path));
}

/* tde.{add,update}_external_store_secret(secret, client, location, local) */
static Datum
change_secret(FunctionCallInfo fcinfo, TdeSecretOp op)
{
	enter();
	tde_arg_require(fcinfo, 0, "secret");
	tde_arg_require(fcinfo, 1, "client");
	tde_seps_change(op, tde_arg_text(fcinfo, 2), tde_arg_text(fcinfo, 1),
					tde_arg_secret(fcinfo, 0), tde_arg_bool(fcinfo, 3));
	PG_RETURN_VOID();
}

Datum
tde_add_external_store_secret_sql(PG_FUNCTION_ARGS)
{
	return change_secret(fcinfo, TDE_SECRET_ADD);
}

Datum
tde_update_external_store_secret_sql(PG_FUNCTION_ARGS)
{
	return change_secret(fcinfo, TDE_SECRET_UPDATE);
}

/* tde.delete_external_store_secret(client, location, local) */
Datum
tde_delete_external_store_secret_sql(PG_FUNCTION_ARGS)
{
	enter();
	tde_arg_require(fcinfo, 0, "client");
	tde_seps_change(TDE_SECRET_DELETE, tde_arg_text(fcinfo, 1), tde_arg_text(fcinfo, 0),
					NULL, tde_arg_bool(fcinfo, 2));
	PG_RETURN_VOID();
}

/*
 * Secrets in the password keystore:
 * tde.add_secret / tde.update_secret(secret, client, tag, password,
 *		external_store, force_keystore, with_backup, backup_identifier)
 * tde.delete_secret(client, password, external_store, force_keystore,
 *		with_backup, backup_identifier)
 */
static void
keystore_secret(FunctionCallInfo fcinfo, TdeSecretOp op)
{
	int			first = op == TDE_SECRET_DELETE ? 1 : 3;
	TdeChangeRequest req = {0};

	enter();
	if (op != TDE_SECRET_DELETE)
		tde_arg_require(fcinfo, 0, "secret");
	tde_arg_require(fcinfo, op == TDE_SECRET_DELETE ? 0 : 1, "client");
	req.cred = tde_arg_credential(fcinfo, first, first + 1, false);
	req.force = tde_arg_bool(fcinfo, first + 2);
	req.with_backup = tde_arg_bool(fcinfo, first + 3);
	req.backup_required = true;
	req.backup_id = tde_arg_text(fcinfo, first + 4);
	if (op == TDE_SECRET_DELETE)
		tde_client_secret_change(op, tde_arg_text(fcinfo, 0), NULL, NULL, &req);
	else
		tde_client_secret_change(op, tde_arg_text(fcinfo, 1), tde_arg_secret(fcinfo, 0),
								 tde_arg_text(fcinfo, 2), &req);
}

Datum
tde_add_secret_sql(PG_FUNCTION_ARGS)
{
	keystore_secret(fcinfo, TDE_SECRET_ADD);
	PG_RETURN_VOID();
}

Datum
tde_update_secret_sql(PG_FUNCTION_ARGS)
{
	keystore_secret(fcinfo, TDE_SECRET_UPDATE);
	PG_RETURN_VOID();
}

Datum
tde_delete_secret_sql(PG_FUNCTION_ARGS)
{
	keystore_secret(fcinfo, TDE_SECRET_DELETE);
	PG_RETURN_VOID();
}
