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

#include "tde/keystore.h"
#include "tde/secure.h"
#include "tde/tde.h"

PG_FUNCTION_INFO_V1(tde_create_keystore_sql);
PG_FUNCTION_INFO_V1(tde_create_auto_login_keystore_sql);
PG_FUNCTION_INFO_V1(tde_open_keystore_sql);
PG_FUNCTION_INFO_V1(tde_close_keystore_sql);
PG_FUNCTION_INFO_V1(tde_alter_keystore_password_sql);
PG_FUNCTION_INFO_V1(tde_backup_keystore_sql);
PG_FUNCTION_INFO_V1(tde_add_external_store_secret_sql);
PG_FUNCTION_INFO_V1(tde_update_external_store_secret_sql);
PG_FUNCTION_INFO_V1(tde_delete_external_store_secret_sql);

static char *
secret_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : tde_secure_text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static char *
text_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static bool
bool_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? false : PG_GETARG_BOOL(n);
}

static void
require_arg(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
}

/* password => ..., or external_store => true: exactly one. */
static TdeCredential *
credential_args(FunctionCallInfo fcinfo, int pwarg, int extarg, bool optional)
{
	TdeCredential *cred = palloc0(sizeof(TdeCredential));
	bool		has_password = !PG_ARGISNULL(pwarg);

	cred->external_store = bool_arg(fcinfo, extarg);
	if (has_password && cred->external_store)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("give either password or external_store => true, not both")));
	if (!has_password && !cred->external_store)
	{
		if (optional)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a password or external_store => true is required")));
	}
	cred->password = secret_arg(fcinfo, pwarg);
	return cred;
}

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
	require_arg(fcinfo, 0, "password");
	tde_keystore_create(text_arg(fcinfo, 1), secret_arg(fcinfo, 0));
	PG_RETURN_VOID();
}

/* tde.create_auto_login_keystore(password, local, location) */
Datum
tde_create_auto_login_keystore_sql(PG_FUNCTION_ARGS)
{
	enter();
	require_arg(fcinfo, 0, "password");
	tde_keystore_create_autologin(text_arg(fcinfo, 2), secret_arg(fcinfo, 0),
								  bool_arg(fcinfo, 1));
	PG_RETURN_VOID();
}

/* tde.open_keystore(password, external_store, force_keystore) */
Datum
tde_open_keystore_sql(PG_FUNCTION_ARGS)
{
	enter();
	tde_keystore_open(credential_args(fcinfo, 0, 1, false), bool_arg(fcinfo, 2));
	PG_RETURN_VOID();
}

/* tde.close_keystore(password, external_store) */
Datum
tde_close_keystore_sql(PG_FUNCTION_ARGS)
{
	enter();
	tde_keystore_close(credential_args(fcinfo, 0, 1, true));
	PG_RETURN_VOID();
}

/* tde.alter_keystore_password(old_password, new_password, with_backup, backup_identifier, force_keystore) */
Datum
tde_alter_keystore_password_sql(PG_FUNCTION_ARGS)
{
	enter();
	require_arg(fcinfo, 0, "old_password");
	require_arg(fcinfo, 1, "new_password");
	tde_keystore_alter_password(secret_arg(fcinfo, 0), secret_arg(fcinfo, 1),
								bool_arg(fcinfo, 2), text_arg(fcinfo, 3),
								bool_arg(fcinfo, 4));
	PG_RETURN_VOID();
}

/* tde.backup_keystore(password, external_store, backup_identifier, location, force_keystore) */
Datum
tde_backup_keystore_sql(PG_FUNCTION_ARGS)
{
	char	   *path;

	enter();
	path = tde_keystore_backup(credential_args(fcinfo, 0, 1, false),
							   text_arg(fcinfo, 2), text_arg(fcinfo, 3),
							   bool_arg(fcinfo, 4));
	PG_RETURN_TEXT_P(cstring_to_text(path));
}

/* tde.{add,update}_external_store_secret(secret, client, location, local) */
static Datum
change_secret(FunctionCallInfo fcinfo, TdeSecretOp op)
{
	enter();
	require_arg(fcinfo, 0, "secret");
	require_arg(fcinfo, 1, "client");
	tde_seps_change(op, text_arg(fcinfo, 2), text_arg(fcinfo, 1),
					secret_arg(fcinfo, 0), bool_arg(fcinfo, 3));
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
	require_arg(fcinfo, 0, "client");
	tde_seps_change(TDE_SECRET_DELETE, text_arg(fcinfo, 1), text_arg(fcinfo, 0),
					NULL, bool_arg(fcinfo, 2));
	PG_RETURN_VOID();
}
