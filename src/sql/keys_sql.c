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

#include "tde/keystore/keystore.h"
#include "tde/keys/masterkey.h"
#include "tde/util/secure.h"
#include "tde/sql/sql_args.h"
#include "tde/sql/privs.h"

PG_FUNCTION_INFO_V1(tde_set_key_sql);
PG_FUNCTION_INFO_V1(tde_create_key_sql);
PG_FUNCTION_INFO_V1(tde_use_key_sql);
PG_FUNCTION_INFO_V1(tde_set_tag_sql);

/*
 * The trailing arguments every key function shares, from position first:
 * password, external_store, force_keystore, with_backup, backup_identifier.
 */
static void
common_args(FunctionCallInfo fcinfo, int first, TdeKeyRequest *req)
{
	req->cred = tde_arg_credential(fcinfo, first, first + 1, false);
	req->force_keystore = tde_arg_bool(fcinfo, first + 2);
	req->with_backup = tde_arg_bool(fcinfo, first + 3);
	req->backup_id = tde_arg_text(fcinfo, first + 4);
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
	req.tag = tde_arg_text(fcinfo, 1);
	req.algorithm = tde_arg_text(fcinfo, 2);
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

/*
 * (key_id, tag, password, external_store, force_keystore, with_backup,
 * backup_identifier): the arguments of use_key and set_tag
 */
static char *
key_id_request(FunctionCallInfo fcinfo, TdeKeyRequest *req)
{
	tde_require_loaded();
	tde_require_admin();
	tde_arg_require(fcinfo, 0, "key_id");
	req->tag = tde_arg_text(fcinfo, 1);
	common_args(fcinfo, 2, req);
	return tde_arg_text(fcinfo, 0);
}

Datum
tde_use_key_sql(PG_FUNCTION_ARGS)
{
	TdeKeyRequest req = {0};
	char	   *key_id = key_id_request(fcinfo, &req);

	tde_masterkey_use(key_id, &req);
	PG_RETURN_VOID();
}

Datum
tde_set_tag_sql(PG_FUNCTION_ARGS)
{
	TdeKeyRequest req = {0};
	char	   *key_id = key_id_request(fcinfo, &req);

	tde_masterkey_set_tag(key_id, &req);
	PG_RETURN_VOID();
}

/*
 * (credential, other_password, with_backup, backup_identifier): the typed
 * forms of SET ENCRYPTION KEY IDENTIFIED BY credential [REVERSE] MIGRATE
 * USING other_password [WITH BACKUP ...]
 */
static Datum
migrate(FunctionCallInfo fcinfo, bool reverse)
{
	TdeKeyRequest req = {0};
	TdeCredential *cred = palloc0(sizeof(TdeCredential));
	char	   *other;

	tde_require_loaded();
	tde_require_admin();
	tde_arg_require(fcinfo, 0, reverse ? "wallet_password" : "hsm_credential");
	tde_arg_require(fcinfo, 1, reverse ? "hsm_credential" : "wallet_password");
	cred->password = tde_arg_secret(fcinfo, 0);
	other = tde_arg_secret(fcinfo, 1);
	req.cred = cred;
	req.activate = true;
	req.with_backup = tde_arg_bool(fcinfo, 2);
	req.backup_id = tde_arg_text(fcinfo, 3);
	PG_RETURN_TEXT_P(cstring_to_text(reverse ?
									 tde_masterkey_reverse_migrate(&req, other) :
									 tde_masterkey_migrate(&req, other)));
}

/* tde.migrate_keystore(hsm_credential, wallet_password, with_backup, backup_identifier) */
PG_FUNCTION_INFO_V1(tde_migrate_keystore_sql);

Datum
tde_migrate_keystore_sql(PG_FUNCTION_ARGS)
{
	return migrate(fcinfo, false);
}

/* tde.reverse_migrate_keystore(wallet_password, hsm_credential, with_backup, backup_identifier) */
PG_FUNCTION_INFO_V1(tde_reverse_migrate_keystore_sql);

Datum
tde_reverse_migrate_keystore_sql(PG_FUNCTION_ARGS)
{
	return migrate(fcinfo, true);
}
