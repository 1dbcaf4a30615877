/*-------------------------------------------------------------------------
 *
 * administer.c
 *	  administer_key_management(statement text): Oracle's statements,
 *	  verbatim.
 *
 * Parses the statement (sql/parser.c) and runs the same keystore operation the
 * typed function runs.  Returns Oracle's feedback line ("keystore
 * altered.").  A statement over TDE_STATEMENT_MAX_BYTES is refused before
 * it is copied or read.
 *
 * tde_describe_statement(statement text) returns text is the parser's
 * result in words, for the regression tests (sql/parser.sql declares it;
 * the extension's scripts do not).  It shows whether a password, secret or
 * user-supplied key was given, never its text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "tde/keys/masterkey.h"
#include "tde/keys/relkey_rewrap.h"
#include "tde/keystore/client_secret.h"
#include "tde/keystore/config.h"
#include "tde/keystore/keystore.h"
#include "tde/sql/parser.h"
#include "tde/sql/privs.h"
#include "tde/sql/redact.h"
#include "tde/sql/transfer_sql.h"
#include "tde/util/secure.h"

PG_FUNCTION_INFO_V1(tde_administer_key_management);
PG_FUNCTION_INFO_V1(tde_describe_statement);

static TdeKeyRequest *
key_request(TdeStatement *stmt, bool activate)
{
	TdeKeyRequest *req = palloc0(sizeof(TdeKeyRequest));

	req->activate = activate;
	req->user_key = stmt->user_key;
	req->tag = stmt->tag;
	req->algorithm = stmt->algorithm;
	req->force_keystore = stmt->force_keystore;
	req->cred = &stmt->cred;
	req->with_backup = stmt->with_backup;
	req->backup_id = stmt->backup_id;
	return req;
}

/* The external password store is an auto-login wallet: nothing to back up. */
static void
secret_change(TdeSecretOp op, TdeStatement *stmt)
{
	if (stmt->has_cred)
	{
		/* the password keystore's: IDENTIFIED BY, maybe TO KEYSTORE its location */
		TdeChangeRequest req = {0};

		if (stmt->location != NULL &&
			strcmp(tde_canonical_location(stmt->location, "keystore location"),
				   tde_wallet_dir()) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a client secret can be kept only in the configured keystore or an auto-login keystore"),
					 errhint("Name <tde.wallet_root>/tde, or leave out TO KEYSTORE.")));
		req.cred = &stmt->cred;
		req.force = stmt->force_keystore;
		req.with_backup = stmt->with_backup;
		req.backup_required = true;
		req.backup_id = stmt->backup_id;
		tde_client_secret_change(op, stmt->client,
								 op == TDE_SECRET_DELETE ? NULL : stmt->secret,
								 stmt->tag, &req);
		return;
	}
	if (strcmp(tde_canonical_location(stmt->location, "keystore location"),
			   tde_seps_dir()) != 0)
	{
		/* an auto-login keystore of secrets elsewhere */
		tde_autologin_secret_change(op, stmt->location, stmt->client,
									op == TDE_SECRET_DELETE ? NULL : stmt->secret,
									stmt->tag, stmt->local);
		return;
	}
	tde_seps_change(op, stmt->location, stmt->client,
					op == TDE_SECRET_DELETE ? NULL : stmt->secret, stmt->local);
	if (stmt->with_backup)
		ereport(NOTICE,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("WITH BACKUP has no effect on the external password store"),
				 errdetail("An auto-login keystore is not backed up.")));
}

static const char *
run_statement(TdeStatement *stmt)
{
	switch (stmt->kind)
	{
		case TDE_STMT_SET_KEY:
			(void) tde_masterkey_add(key_request(stmt, true));
			return "keystore altered.";
		case TDE_STMT_CREATE_KEY:
			(void) tde_masterkey_add(key_request(stmt, false));
			return "keystore altered.";
		case TDE_STMT_USE_KEY:
			tde_masterkey_use(stmt->key_id, key_request(stmt, true));
			return "keystore altered.";
		case TDE_STMT_SET_TAG:
			tde_masterkey_set_tag(stmt->key_id, key_request(stmt, false));
			return "keystore altered.";
		case TDE_STMT_MIGRATE:
			(void) tde_masterkey_migrate(key_request(stmt, true), stmt->migrate_password);
			return "keystore altered.";
		case TDE_STMT_REVERSE_MIGRATE:
			(void) tde_masterkey_reverse_migrate(key_request(stmt, true),
												 stmt->migrate_password);
			return "keystore altered.";
		case TDE_STMT_CREATE_KEYSTORE:
			tde_keystore_create(stmt->location, stmt->cred.password);
			return "keystore created.";
		case TDE_STMT_CREATE_AUTOLOGIN:
			tde_keystore_create_autologin(stmt->location, stmt->cred.password,
										  stmt->local);
			return "keystore created.";
		case TDE_STMT_OPEN:
			tde_keystore_open(&stmt->cred, stmt->force_keystore);
			tde_relkey_warn_missing_master_keys();
			return "keystore altered.";
		case TDE_STMT_CLOSE:
			tde_keystore_close(stmt->has_cred ? &stmt->cred : NULL);
			return "keystore altered.";
		case TDE_STMT_ALTER_PASSWORD:
			tde_keystore_alter_password(stmt->cred.password, stmt->new_password,
										stmt->with_backup, stmt->backup_id,
										stmt->force_keystore);
			return "keystore altered.";
		case TDE_STMT_BACKUP:
			(void) tde_keystore_backup(&stmt->cred, stmt->backup_id,
									   stmt->location, stmt->force_keystore);
			return "keystore altered.";
		case TDE_STMT_ADD_SECRET:
			secret_change(TDE_SECRET_ADD, stmt);
			return "keystore altered.";
		case TDE_STMT_UPDATE_SECRET:
			secret_change(TDE_SECRET_UPDATE, stmt);
			return "keystore altered.";
		case TDE_STMT_DELETE_SECRET:
			secret_change(TDE_SECRET_DELETE, stmt);
			return "keystore altered.";
		case TDE_STMT_EXPORT_KEYS:
			(void) tde_masterkey_export(tde_transfer_request(stmt));
			return "keystore altered.";
		case TDE_STMT_IMPORT_KEYS:
			(void) tde_masterkey_import(tde_transfer_request(stmt));
			return "keystore altered.";
		case TDE_STMT_MERGE:
			(void) tde_merge_statement(stmt);
			return "keystore altered.";
		case TDE_STMT_MOVE_KEYS:
			(void) tde_move_statement(stmt);
			return "keystore altered.";
		case TDE_STMT_UNSUPPORTED:
			/* with an HSM, say why these cannot be, not only that they are not */
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("ADMINISTER KEY MANAGEMENT %s is not supported by this version of tde",
							stmt->feature)));
	}
	return NULL;				/* keep compiler quiet */
}

/*
 * The statement argument, in secure memory, after the length check: a
 * statement over the limit is neither detoasted nor copied.
 */
static char *
statement_arg(FunctionCallInfo fcinfo)
{
	Size		len = toast_raw_datum_size(PG_GETARG_DATUM(0)) - VARHDRSZ;

	if (len > TDE_STATEMENT_MAX_BYTES)
	{
		/* it may carry a secret: keep it out of the log all the same */
		tde_mark_statement_sensitive();
		tde_check_statement_length(len);
	}
	return tde_secure_text_to_cstring(PG_GETARG_TEXT_PP(0));
}

Datum
tde_administer_key_management(PG_FUNCTION_ARGS)
{
	char	   *statement;
	TdeStatement *stmt;

	tde_require_loaded();
	tde_require_admin();

	statement = statement_arg(fcinfo);
	stmt = tde_parse_statement(statement);
	/* no message may show a secret the statement carries */
	tde_redact_secret(stmt->cred.password);
	tde_redact_secret(stmt->new_password);
	tde_redact_secret(stmt->secret);
	tde_redact_secret(stmt->user_key);
	tde_redact_secret(stmt->migrate_password);
	tde_redact_secret(stmt->merge_from_password[0]);
	tde_redact_secret(stmt->merge_from_password[1]);
	PG_RETURN_TEXT_P(cstring_to_text(run_statement(stmt)));
}

static const char *const kind_names[] = {
	[TDE_STMT_CREATE_KEYSTORE] = "CREATE KEYSTORE",
	[TDE_STMT_CREATE_AUTOLOGIN] = "CREATE AUTO_LOGIN KEYSTORE",
	[TDE_STMT_OPEN] = "SET KEYSTORE OPEN",
	[TDE_STMT_CLOSE] = "SET KEYSTORE CLOSE",
	[TDE_STMT_ALTER_PASSWORD] = "ALTER KEYSTORE PASSWORD",
	[TDE_STMT_BACKUP] = "BACKUP KEYSTORE",
	[TDE_STMT_ADD_SECRET] = "ADD SECRET",
	[TDE_STMT_UPDATE_SECRET] = "UPDATE SECRET",
	[TDE_STMT_DELETE_SECRET] = "DELETE SECRET",
	[TDE_STMT_SET_KEY] = "SET KEY",
	[TDE_STMT_CREATE_KEY] = "CREATE KEY",
	[TDE_STMT_USE_KEY] = "USE KEY",
	[TDE_STMT_SET_TAG] = "SET TAG",
	[TDE_STMT_MIGRATE] = "SET KEY ... MIGRATE",
	[TDE_STMT_REVERSE_MIGRATE] = "SET KEY ... REVERSE MIGRATE",
	[TDE_STMT_EXPORT_KEYS] = "EXPORT KEYS",
	[TDE_STMT_IMPORT_KEYS] = "IMPORT KEYS",
	[TDE_STMT_MERGE] = "MERGE KEYSTORE",
	[TDE_STMT_MOVE_KEYS] = "MOVE KEYS",
	[TDE_STMT_UNSUPPORTED] = "not supported",
};

static void
describe_string(StringInfo buf, const char *name, const char *value)
{
	if (value != NULL)
		appendStringInfo(buf, " %s=%s", name, quote_literal_cstr(value));
}

static void
describe_flag(StringInfo buf, const char *name, bool value)
{
	if (value)
		appendStringInfo(buf, " %s", name);
}

Datum
tde_describe_statement(PG_FUNCTION_ARGS)
{
	char	   *statement;
	TdeStatement *stmt;
	StringInfoData buf;

	tde_require_admin();

	statement = statement_arg(fcinfo);
	stmt = tde_parse_statement(statement);

	initStringInfo(&buf);
	appendStringInfoString(&buf, kind_names[stmt->kind]);
	if (stmt->kind == TDE_STMT_UNSUPPORTED)
		appendStringInfo(&buf, ": %s", stmt->feature);
	/* the secrets: only whether they were given */
	describe_flag(&buf, "user_key", stmt->user_key != NULL);
	describe_flag(&buf, "secret", stmt->secret != NULL);
	/* the rest, in a fixed order */
	describe_string(&buf, "key_id", stmt->key_id);
	describe_string(&buf, "client", stmt->client);
	describe_string(&buf, "tag", stmt->tag);
	describe_string(&buf, "algorithm", stmt->algorithm);
	describe_flag(&buf, "local", stmt->local);
	describe_string(&buf, "location", stmt->location);
	describe_flag(&buf, "force_keystore", stmt->force_keystore);
	if (stmt->has_cred)
		appendStringInfoString(&buf, stmt->cred.external_store ?
							   " identified_by=EXTERNAL_STORE" : " identified_by=password");
	describe_flag(&buf, "new_password", stmt->new_password != NULL);
	describe_flag(&buf, "migrate_password", stmt->migrate_password != NULL);
	describe_flag(&buf, "with_backup", stmt->with_backup);
	describe_string(&buf, "backup_id", stmt->backup_id);
	for (int i = 0; i < stmt->nkey_ids; i++)
		describe_string(&buf, "key_id", stmt->key_ids[i]);
	describe_string(&buf, "key_query", stmt->key_query);
	for (int i = 0; i < stmt->nmerge_from; i++)
	{
		describe_string(&buf, "merge_from", stmt->merge_from[i]);
		describe_flag(&buf, "with_password", stmt->merge_from_password[i] != NULL);
	}
	describe_flag(&buf, "into_new", stmt->merge_into_new);
	PG_RETURN_TEXT_P(cstring_to_text(buf.data));
}
