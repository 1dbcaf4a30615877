/*-------------------------------------------------------------------------
 *
 * keys_sql.c
 *	  Typed SQL functions for master keys: set_key, create_key, use_key,
 *	  set_tag.
 *
 * Each unpacks its named arguments, checks privileges and runs what the
 * matching ADMINISTER KEY MANAGEMENT statement runs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "tde/keystore.h"
#include "tde/masterkey.h"
#include "tde/secure.h"
#include "tde/tde.h"

PG_FUNCTION_INFO_V1(tde_set_key_sql);
PG_FUNCTION_INFO_V1(tde_create_key_sql);
PG_FUNCTION_INFO_V1(tde_use_key_sql);
PG_FUNCTION_INFO_V1(tde_set_tag_sql);

static char *
opt_text(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static bool
opt_bool(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? false : PG_GETARG_BOOL(n);
}

/*
 * The trailing arguments every key function shares, from position first:
 * password, external_store, force_keystore, with_backup, backup_identifier.
 */
static void
common_args(FunctionCallInfo fcinfo, int first, TdeKeyRequest *req)
{
	TdeCredential *cred = palloc0(sizeof(TdeCredential));
	bool		has_password = !PG_ARGISNULL(first);

	cred->external_store = opt_bool(fcinfo, first + 1);
	if (has_password == cred->external_store)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("give either password or external_store => true")));
	if (has_password)
		cred->password = tde_secure_text_to_cstring(PG_GETARG_TEXT_PP(first));
	req->cred = cred;
	req->force_keystore = opt_bool(fcinfo, first + 2);
	req->with_backup = opt_bool(fcinfo, first + 3);
	req->backup_id = opt_text(fcinfo, first + 4);
}

/* (key, tag, algorithm, password, external_store, force_keystore, with_backup, backup_identifier) */
static Datum
add_key(FunctionCallInfo fcinfo, bool activate)
{
	TdeKeyRequest req = {0};

	tde_require_loaded();
	tde_require_admin();
	req.activate = activate;
	req.user_key = PG_ARGISNULL(0) ? NULL :
		tde_secure_text_to_cstring(PG_GETARG_TEXT_PP(0));
	req.tag = opt_text(fcinfo, 1);
	req.algorithm = opt_text(fcinfo, 2);
	common_args(fcinfo, 3, &req);
	PG_RETURN_TEXT_P(cstring_to_text(tde_masterkey_add(&req)));
}

Datum
tde_set_key_sql(PG_FUNCTION_ARGS)
{
	return add_key(fcinfo, true);
}

Datum
tde_create_key_sql(PG_FUNCTION_ARGS)
{
	return add_key(fcinfo, false);
}

/* (key_id, tag, password, external_store, force_keystore, with_backup, backup_identifier) */
Datum
tde_use_key_sql(PG_FUNCTION_ARGS)
{
	TdeKeyRequest req = {0};

	tde_require_loaded();
	tde_require_admin();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key_id must not be null")));
	req.tag = opt_text(fcinfo, 1);
	common_args(fcinfo, 2, &req);
	tde_masterkey_use(opt_text(fcinfo, 0), &req);
	PG_RETURN_VOID();
}

Datum
tde_set_tag_sql(PG_FUNCTION_ARGS)
{
	TdeKeyRequest req = {0};

	tde_require_loaded();
	tde_require_admin();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key_id must not be null")));
	req.tag = opt_text(fcinfo, 1);
	common_args(fcinfo, 2, &req);
	tde_masterkey_set_tag(opt_text(fcinfo, 0), &req);
	PG_RETURN_VOID();
}

/*
 * tde.migrate_keystore(hsm_credential, wallet_password, with_backup,
 * backup_identifier): Oracle's SET ENCRYPTION KEY IDENTIFIED BY
 * "hsm_credential" MIGRATE USING wallet_password [WITH BACKUP ...]
 */
PG_FUNCTION_INFO_V1(tde_migrate_keystore_sql);

Datum
tde_migrate_keystore_sql(PG_FUNCTION_ARGS)
{
	TdeKeyRequest req = {0};
	TdeCredential *cred = palloc0(sizeof(TdeCredential));

	tde_require_loaded();
	tde_require_admin();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hsm_credential and wallet_password must not be null")));
	cred->password = tde_secure_text_to_cstring(PG_GETARG_TEXT_PP(0));
	req.cred = cred;
	req.activate = true;
	req.with_backup = opt_bool(fcinfo, 2);
	req.backup_id = opt_text(fcinfo, 3);
	PG_RETURN_TEXT_P(cstring_to_text(
		tde_masterkey_migrate(&req, tde_secure_text_to_cstring(PG_GETARG_TEXT_PP(1)))));
}

/*
 * tde.reverse_migrate_keystore(wallet_password, hsm_credential,
 * with_backup, backup_identifier): Oracle's SET ENCRYPTION KEY IDENTIFIED
 * BY wallet_password REVERSE MIGRATE USING "hsm_credential" [WITH BACKUP]
 */
PG_FUNCTION_INFO_V1(tde_reverse_migrate_keystore_sql);

Datum
tde_reverse_migrate_keystore_sql(PG_FUNCTION_ARGS)
{
	TdeKeyRequest req = {0};
	TdeCredential *cred = palloc0(sizeof(TdeCredential));

	tde_require_loaded();
	tde_require_admin();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("wallet_password and hsm_credential must not be null")));
	cred->password = tde_secure_text_to_cstring(PG_GETARG_TEXT_PP(0));
	req.cred = cred;
	req.activate = true;
	req.with_backup = opt_bool(fcinfo, 2);
	req.backup_id = opt_text(fcinfo, 3);
	PG_RETURN_TEXT_P(cstring_to_text(
		tde_masterkey_reverse_migrate(&req, tde_secure_text_to_cstring(PG_GETARG_TEXT_PP(1)))));
}
