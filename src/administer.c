/*-------------------------------------------------------------------------
 *
 * administer.c
 *	  administer_key_management(statement text): Oracle's statements,
 *	  verbatim.
 *
 * Parses the statement (parser.c) and runs the same keystore operation the
 * typed function runs.  Returns Oracle's feedback line ("keystore
 * altered.").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "tde/keystore.h"
#include "tde/masterkey.h"
#include "tde/parser.h"
#include "tde/secure.h"
#include "tde/tde.h"

PG_FUNCTION_INFO_V1(tde_administer_key_management);

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
			tde_seps_change(TDE_SECRET_ADD, stmt->location, stmt->client,
							stmt->secret, stmt->local);
			return "keystore altered.";
		case TDE_STMT_UPDATE_SECRET:
			tde_seps_change(TDE_SECRET_UPDATE, stmt->location, stmt->client,
							stmt->secret, stmt->local);
			return "keystore altered.";
		case TDE_STMT_DELETE_SECRET:
			tde_seps_change(TDE_SECRET_DELETE, stmt->location, stmt->client,
							NULL, stmt->local);
			return "keystore altered.";
		case TDE_STMT_UNSUPPORTED:
			/* with an HSM, say why these cannot be, not only that they are not */
			if (strcmp(stmt->feature, "EXPORT KEYS") == 0)
				tde_reject_for_hsm("EXPORT KEYS",
								   "Master keys never leave the HSM; to move keys, reverse migrate to a software keystore first.");
			if (strcmp(stmt->feature, "MERGE KEYSTORE") == 0)
				tde_reject_for_hsm("MERGE KEYSTORE",
								   "An HSM keystore is not a file; merge software keystores before migrating them to the HSM.");
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("ADMINISTER KEY MANAGEMENT %s is not supported by this version of tde",
							stmt->feature)));
	}
	return NULL;				/* keep compiler quiet */
}

Datum
tde_administer_key_management(PG_FUNCTION_ARGS)
{
	char	   *statement = tde_secure_text_to_cstring(PG_GETARG_TEXT_PP(0));
	TdeStatement *stmt;

	tde_require_loaded();
	tde_require_admin();

	stmt = tde_parse_statement(statement);
	/* no message may show a secret the statement carries */
	tde_redact_secret(stmt->cred.password);
	tde_redact_secret(stmt->new_password);
	tde_redact_secret(stmt->secret);
	tde_redact_secret(stmt->user_key);
	tde_redact_secret(stmt->migrate_password);
	PG_RETURN_TEXT_P(cstring_to_text(run_statement(stmt)));
}
