/*-------------------------------------------------------------------------
 *
 * transfer_sql.c
 *	  EXPORT KEYS and IMPORT KEYS from SQL.  See sql/transfer_sql.h.
 *
 * tde.export_keys(secret, path, password, external_store, force_keystore,
 *				   key_ids) returns integer
 * tde.import_keys(secret, path, password, external_store, force_keystore,
 *				   with_backup, backup_identifier) returns integer
 *
 * tde.move_keys(new_location, new_password, password, external_store,
 *				   force_keystore, key_ids, with_backup, backup_identifier)
 *				   returns integer
 *
 * tde.merge_into_new_keystore(location1, location2, new_location,
 *				   new_password, password1, password2) returns integer
 * tde.merge_into_existing_keystore(location, existing_location, password,
 *				   existing_password, external_store, with_backup,
 *				   backup_identifier) returns integer
 *
 * All return the number of keys exported, imported, moved or merged in.  The subquery of
 * WITH IDENTIFIER IN runs as the caller, read-only: it must be one SELECT
 * returning one column of type text or varchar.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "tde/keys/move.h"
#include "tde/keys/transfer.h"
#include "tde/keystore/file_merge.h"
#include "tde/keystore/state.h"
#include "tde/sql/privs.h"
#include "tde/sql/sql_args.h"
#include "tde/sql/transfer_sql.h"

PG_FUNCTION_INFO_V1(tde_export_keys_sql);
PG_FUNCTION_INFO_V1(tde_import_keys_sql);
PG_FUNCTION_INFO_V1(tde_move_keys_sql);
PG_FUNCTION_INFO_V1(tde_merge_into_new_keystore_sql);
PG_FUNCTION_INFO_V1(tde_merge_into_existing_keystore_sql);

/* more rows than a keystore can hold keys is a mistake, not a list */
#define MAX_QUERY_ROWS	(16 * 512)

static void
bad_subquery(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("the subquery of WITH IDENTIFIER IN %s", why),
			 errhint("Give one SELECT that returns the KEY_IDs as text, such as (SELECT key_id FROM v$encryption_keys WHERE tag = 'x').")));
}

/* The KEY_IDs the subquery returns, as the caller, in the caller's context. */
static char **
key_ids_from_query(const char *query, int *n)
{
	MemoryContext caller = CurrentMemoryContext;
	List	   *raw = raw_parser(query, RAW_PARSE_DEFAULT);
	char	  **ids;
	Oid			type;
	uint64		i;
	bool		was_read_only;
	volatile int rc = 0;

	if (list_length(raw) != 1 ||
		!IsA(((RawStmt *) linitial(raw))->stmt, SelectStmt))
		bad_subquery("must be one SELECT");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * Read-only all the way down: SPI's flag refuses a plan that writes,
	 * but not a volatile function that writes or nextval called from it;
	 * a read-only transaction refuses those too (25006).  What the caller
	 * may write anyway, a temporary table of its own, stays possible.
	 */
	was_read_only = XactReadOnly;
	XactReadOnly = true;
	PG_TRY();
	{
		rc = SPI_execute(query, true, MAX_QUERY_ROWS + 1);
	}
	PG_FINALLY();
	{
		XactReadOnly = was_read_only;
	}
	PG_END_TRY();
	if (rc != SPI_OK_SELECT)
		bad_subquery("must be one SELECT");
	if (SPI_tuptable->tupdesc->natts != 1)
		bad_subquery("must return one column");
	type = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
	if (type != TEXTOID && type != VARCHAROID)
		bad_subquery(psprintf("must return text, not %s", format_type_be(type)));
	if (SPI_processed > MAX_QUERY_ROWS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the subquery of WITH IDENTIFIER IN returned more than %d rows",
						MAX_QUERY_ROWS),
				 errhint("A statement names at most %d key identifiers.", MAX_QUERY_ROWS)));
	ids = MemoryContextAlloc(caller, sizeof(char *) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		if (v == NULL)
			bad_subquery("returned a null KEY_ID");
		ids[i] = MemoryContextStrdup(caller, v);
	}
	*n = (int) SPI_processed;
	SPI_finish();
	return ids;
}

TdeTransferRequest *
tde_transfer_request(const TdeStatement *stmt)
{
	TdeTransferRequest *req = palloc0(sizeof(TdeTransferRequest));

	req->cred = &stmt->cred;
	req->force_keystore = stmt->force_keystore;
	req->with_backup = stmt->with_backup;
	req->backup_id = stmt->backup_id;
	req->path = stmt->location;
	req->secret = stmt->secret;
	req->key_ids = stmt->key_ids;
	req->nkey_ids = stmt->nkey_ids;
	if (stmt->key_query != NULL)
		req->key_ids = key_ids_from_query(stmt->key_query, &req->nkey_ids);
	return req;
}

/* (secret, path, password, external_store, force_keystore, ...) */
static TdeTransferRequest *
typed_request(FunctionCallInfo fcinfo)
{
	TdeTransferRequest *req = palloc0(sizeof(TdeTransferRequest));

	tde_require_loaded();
	tde_require_admin();
	tde_arg_require(fcinfo, 0, "secret");
	tde_arg_require(fcinfo, 1, "path");
	req->secret = tde_arg_secret(fcinfo, 0);
	req->path = tde_arg_text(fcinfo, 1);
	req->cred = tde_arg_credential(fcinfo, 2, 3, false);
	req->force_keystore = tde_arg_bool(fcinfo, 4);
	return req;
}

/* A text[] argument as strings (its NULLs as NULL); NULL if the argument is */
static char **
key_ids_arg(FunctionCallInfo fcinfo, int n, int *count)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **ids;
	int			i;

	*count = 0;
	if (PG_ARGISNULL(n))
		return NULL;
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(n), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, &nulls, count);
	ids = palloc(sizeof(char *) * (*count + 1));
	for (i = 0; i < *count; i++)
		ids[i] = nulls[i] ? NULL : TextDatumGetCString(elems[i]);
	return ids;
}

/* tde.export_keys(..., key_ids text[] DEFAULT NULL): every key if NULL */
Datum
tde_export_keys_sql(PG_FUNCTION_ARGS)
{
	TdeTransferRequest *req = typed_request(fcinfo);

	req->key_ids = key_ids_arg(fcinfo, 5, &req->nkey_ids);
	PG_RETURN_INT32(tde_masterkey_export(req));
}

/* tde.import_keys(..., with_backup, backup_identifier) */
Datum
tde_import_keys_sql(PG_FUNCTION_ARGS)
{
	TdeTransferRequest *req = typed_request(fcinfo);

	req->with_backup = tde_arg_bool(fcinfo, 5);
	req->backup_id = tde_arg_text(fcinfo, 6);
	PG_RETURN_INT32(tde_masterkey_import(req));
}

/* The move of a parsed MOVE KEYS statement. */
int
tde_move_statement(const TdeStatement *stmt)
{
	TdeMoveRequest req = {0};

	req.location = stmt->location;
	req.password = stmt->new_password;
	req.cred = &stmt->cred;
	req.force_keystore = stmt->force_keystore;
	req.with_backup = stmt->with_backup;
	req.backup_id = stmt->backup_id;
	req.key_ids = stmt->key_ids;
	req.nkey_ids = stmt->nkey_ids;
	if (stmt->key_query != NULL)
		req.key_ids = key_ids_from_query(stmt->key_query, &req.nkey_ids);
	return tde_masterkey_move(&req);
}

/* tde.move_keys(new_location, new_password, password, external_store, ...) */
Datum
tde_move_keys_sql(PG_FUNCTION_ARGS)
{
	TdeMoveRequest req = {0};

	tde_require_loaded();
	tde_require_admin();
	tde_arg_require(fcinfo, 0, "new_location");
	tde_arg_require(fcinfo, 1, "new_password");
	req.location = tde_arg_text(fcinfo, 0);
	req.password = tde_arg_secret(fcinfo, 1);
	req.cred = tde_arg_credential(fcinfo, 2, 3, false);
	req.force_keystore = tde_arg_bool(fcinfo, 4);
	req.key_ids = key_ids_arg(fcinfo, 5, &req.nkey_ids);
	req.with_backup = tde_arg_bool(fcinfo, 6);
	req.backup_id = tde_arg_text(fcinfo, 7);
	PG_RETURN_INT32(tde_masterkey_move(&req));
}

/* The merge of a parsed MERGE KEYSTORE statement. */
int
tde_merge_statement(const TdeStatement *stmt)
{
	TdeMergeRequest req = {0};
	int			i;

	req.nfrom = stmt->nmerge_from;
	for (i = 0; i < req.nfrom; i++)
	{
		req.from[i] = stmt->merge_from[i];
		req.from_password[i] = stmt->merge_from_password[i];
	}
	req.into = stmt->location;
	req.into_cred = &stmt->cred;
	req.into_new = stmt->merge_into_new;
	req.with_backup = stmt->with_backup;
	req.backup_id = stmt->backup_id;
	return tde_keystore_merge(&req);
}

Datum
tde_merge_into_new_keystore_sql(PG_FUNCTION_ARGS)
{
	TdeMergeRequest req = {0};
	TdeCredential *cred = palloc0(sizeof(TdeCredential));

	tde_require_loaded();
	tde_require_admin();
	tde_arg_require(fcinfo, 0, "location1");
	tde_arg_require(fcinfo, 1, "location2");
	tde_arg_require(fcinfo, 2, "new_location");
	tde_arg_require(fcinfo, 3, "new_password");
	req.nfrom = 2;
	req.from[0] = tde_arg_text(fcinfo, 0);
	req.from[1] = tde_arg_text(fcinfo, 1);
	req.into = tde_arg_text(fcinfo, 2);
	cred->password = tde_arg_secret(fcinfo, 3);
	req.into_cred = cred;
	req.from_password[0] = tde_arg_secret(fcinfo, 4);
	req.from_password[1] = tde_arg_secret(fcinfo, 5);
	req.into_new = true;
	PG_RETURN_INT32(tde_keystore_merge(&req));
}

Datum
tde_merge_into_existing_keystore_sql(PG_FUNCTION_ARGS)
{
	TdeMergeRequest req = {0};

	tde_require_loaded();
	tde_require_admin();
	tde_arg_require(fcinfo, 0, "location");
	tde_arg_require(fcinfo, 1, "existing_location");
	req.nfrom = 1;
	req.from[0] = tde_arg_text(fcinfo, 0);
	req.into = tde_arg_text(fcinfo, 1);
	req.from_password[0] = tde_arg_secret(fcinfo, 2);
	req.into_cred = tde_arg_credential(fcinfo, 3, 4, false);
	req.with_backup = tde_arg_bool(fcinfo, 5);
	req.backup_id = tde_arg_text(fcinfo, 6);
	PG_RETURN_INT32(tde_keystore_merge(&req));
}
