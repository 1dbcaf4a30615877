/*-------------------------------------------------------------------------
 *
 * views.c
 *	  The views: v$encryption_wallet, v$encryption_keys, v$client_secrets and
 *	  tde.rewrap_progress.
 *
 * Column names and values are Oracle's.  A PostgreSQL instance maps onto
 * a non-CDB Oracle database: KEYSTORE_MODE is NONE and CON_ID is 0.
 *
 * Memory: each function builds its rows in an operation's context
 * (util/opmem.h), below the caller's, and ends it before it returns: the
 * copies of shared state, the status strings and the column values go
 * with it; the tuplestore (made by InitMaterializedSRF in the query's
 * memory) holds its own copy of each row.  v$encryption_keys copies key
 * metadata only (tde_masterkey_copy_metadata leaves the key bytes zero),
 * so no key byte is ever in this memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "tde/keys/rewrap_worker.h"
#include "tde/keystore/config.h"
#include "tde/keystore/keystore.h"
#include "tde/keystore/seps.h"
#include "tde/keystore/state.h"
#include "tde/sql/privs.h"
#include "tde/util/keyid.h"
#include "tde/util/opmem.h"

PG_FUNCTION_INFO_V1(tde_encryption_wallet);

#define ENCRYPTION_WALLET_COLS 8

Datum
tde_encryption_wallet(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TdeWalletStatus rows[2];
	int			n;
	int			i;
	TdeOpMem	op;

	tde_require_loaded();
	tde_require_monitor();

	InitMaterializedSRF(fcinfo, 0);
	tde_opmem_begin(&op, "tde v$encryption_wallet", NULL);
	n = tde_keystore_get_status(rows);

	for (i = 0; i < n; i++)
	{
		Datum		values[ENCRYPTION_WALLET_COLS];
		bool		nulls[ENCRYPTION_WALLET_COLS] = {0};
		TdeWalletStatus *row = &rows[i];

		values[0] = CStringGetTextDatum(row->wrl_type);
		if (row->wrl_parameter)
			values[1] = CStringGetTextDatum(row->wrl_parameter);
		else
			nulls[1] = true;
		values[2] = CStringGetTextDatum(row->status);
		values[3] = CStringGetTextDatum(row->wallet_type);
		values[4] = CStringGetTextDatum(row->wallet_order);
		values[5] = CStringGetTextDatum(row->keystore_mode);
		values[6] = CStringGetTextDatum(row->fully_backed_up);
		values[7] = Int32GetDatum(row->con_id);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	tde_opmem_end(&op);
	return (Datum) 0;
}

/*
 * v$encryption_keys: one row per master key of the open keystore, none
 * while it is closed (as in Oracle).  Oracle's database notions map onto
 * PostgreSQL as in doc/reference.md: the DB columns name the cluster
 * (cluster_name, system identifier), the PDB columns the database where
 * the statement ran.
 */
PG_FUNCTION_INFO_V1(tde_encryption_keys);

#define ENCRYPTION_KEYS_COLS 31

static void
put_place(Datum *values, bool *nulls, int first, const TdeKeyPlace *p, bool present)
{
	int			i;

	if (!present)
	{
		for (i = 0; i < 9; i++)
			nulls[first + i] = true;
		return;
	}
	values[first] = CStringGetTextDatum(p->dbname);
	values[first + 1] = DirectFunctionCall3(numeric_in,
											CStringGetDatum(psprintf(UINT64_FORMAT, p->dbid)),
											ObjectIdGetDatum(InvalidOid),
											Int32GetDatum(-1));
	values[first + 2] = CStringGetTextDatum(p->instance_name);
	values[first + 3] = Int32GetDatum(p->instance_number);
	nulls[first + 4] = true;	/* INSTANCE_SERIAL: no PostgreSQL counterpart */
	values[first + 5] = CStringGetTextDatum(p->pdbname);
	values[first + 6] = Int64GetDatum((int64) p->pdbid);
	values[first + 7] = Int64GetDatum((int64) p->pdbid);	/* PDBUID */
	nulls[first + 8] = true;	/* PDBGUID */
}

Datum
tde_encryption_keys(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TdeMasterKey *keys;
	int			n;
	int			i;
	TdeOpMem	op;

	tde_require_loaded();
	tde_require_monitor();
	InitMaterializedSRF(fcinfo, 0);

	/* querying the keys is a use: an auto-login wallet opens now */
	(void) tde_keystore_autoopen(WARNING);

	/*
	 * Both keystores' keys, the HSM's then the wallet's: metadata only, so
	 * plain memory will do.
	 */
	tde_opmem_begin(&op, "tde v$encryption_keys", NULL);
	keys = palloc(sizeof(TdeMasterKey) * TDE_MAX_MASTER_KEYS * 2);
	n = tde_state_copy_key_metadata(keys, TDE_MAX_MASTER_KEYS * 2);

	for (i = 0; i < n; i++)
	{
		Datum		values[ENCRYPTION_KEYS_COLS];
		bool		nulls[ENCRYPTION_KEYS_COLS] = {0};
		char		key_id[TDE_KEY_ID_LEN + 1];
		TdeMasterKey *k = &keys[i];

		tde_mkid_to_key_id(k->mkid, key_id);
		values[0] = CStringGetTextDatum(key_id);
		values[1] = CStringGetTextDatum(k->tag);
		nulls[1] = k->tag[0] == '\0';
		values[2] = TimestampTzGetDatum(k->created);
		values[3] = TimestampTzGetDatum(k->activated);
		nulls[3] = k->activated == 0;
		values[4] = CStringGetTextDatum(k->creator);
		values[5] = Int64GetDatum((int64) k->creator_id);
		values[6] = CStringGetTextDatum(k->user);
		nulls[6] = k->user[0] == '\0';
		values[7] = Int64GetDatum((int64) k->user_id);
		nulls[7] = k->user_id == InvalidOid;
		values[8] = CStringGetTextDatum("TDE");
		values[9] = CStringGetTextDatum(k->in_hsm ? "HSM" : "SOFTWARE KEYSTORE");
		values[10] = CStringGetTextDatum(k->origin);
		values[11] = CStringGetTextDatum(k->backed_up ? "YES" : "NO");
		put_place(values, nulls, 12, &k->created_at, true);
		/* columns 12..20 creator, 21..29 activating: 9 each, see SQL */
		put_place(values, nulls, 21, &k->activated_at, k->activated != 0);
		values[30] = Int32GetDatum(0);
		nulls[30] = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	tde_opmem_end(&op);
	return (Datum) 0;
}

/* tde.key_id(master_key_id bytea): Oracle's KEY_ID for an MKID */
PG_FUNCTION_INFO_V1(tde_key_id);

Datum
tde_key_id(PG_FUNCTION_ARGS)
{
	bytea	   *mkid = PG_GETARG_BYTEA_PP(0);
	char		key_id[TDE_KEY_ID_LEN + 1];

	if (VARSIZE_ANY_EXHDR(mkid) != TDE_MKID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a master key id is %d bytes", TDE_MKID_LEN)));
	tde_mkid_to_key_id((const uint8 *) VARDATA_ANY(mkid), key_id);
	PG_RETURN_TEXT_P(cstring_to_text(key_id));
}

static const char *
rewrap_state_name(TdeRewrapState s)
{
	switch (s)
	{
		case TDE_REWRAP_PENDING:
			return "pending";
		case TDE_REWRAP_RUNNING:
			return "running";
		case TDE_REWRAP_DONE:
			return "done";
		case TDE_REWRAP_SKIPPED:
			return "no extension";
		case TDE_REWRAP_WAITING:
			return "waiting for keystore";
		case TDE_REWRAP_FAILED:
			return "failed";
	}
	return "?";
}

/*
 * tde.rewrap_progress(): one row per database the background re-wrap
 * (keys/rewrap_worker.c) has visited
 */
PG_FUNCTION_INFO_V1(tde_rewrap_progress);

Datum
tde_rewrap_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TdeRewrapProgress *copy;
	int			n;
	int			i;
	TdeOpMem	op;

	tde_require_loaded();
	tde_require_monitor();
	InitMaterializedSRF(fcinfo, 0);

	tde_opmem_begin(&op, "tde rewrap_progress", NULL);
	copy = palloc(sizeof(TdeRewrapProgress) * TDE_MAX_DATABASES);
	n = tde_rewrap_copy_progress(copy, TDE_MAX_DATABASES);

	for (i = 0; i < n; i++)
	{
		Datum		values[9];
		bool		nulls[9] = {0};
		char	   *dbname;
		char		key_id[TDE_KEY_ID_LEN + 1];

		if (!OidIsValid(copy[i].dboid))
			continue;			/* a free slot */
		dbname = get_database_name(copy[i].dboid);
		values[0] = ObjectIdGetDatum(copy[i].dboid);
		if (dbname)
			values[1] = CStringGetTextDatum(dbname);
		else
			nulls[1] = true;
		values[2] = CStringGetTextDatum(rewrap_state_name(copy[i].state));
		tde_mkid_to_key_id(copy[i].target_mkid, key_id);
		values[3] = CStringGetTextDatum(key_id);
		values[4] = Int64GetDatum(copy[i].done);
		values[5] = Int64GetDatum(copy[i].total);
		values[6] = TimestampTzGetDatum(copy[i].started);
		nulls[6] = copy[i].started == 0;
		values[7] = TimestampTzGetDatum(copy[i].finished);
		nulls[7] = copy[i].finished == 0;
		values[8] = CStringGetTextDatum(copy[i].error);
		nulls[8] = copy[i].error[0] == '\0';
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	tde_opmem_end(&op);
	return (Datum) 0;
}

/*
 * v$client_secrets: one row per client secret of the open password
 * keystore, then one per client of the external store.  Never a secret's
 * value.  tde_admin only: client names can be sensitive.
 */
#define CLIENT_SECRETS_COLS 19
PG_FUNCTION_INFO_V1(tde_client_secrets);

/* Oracle's columns, then KEYSTORE_LOCATION; m NULL: the external store */
static void
put_secret_row(ReturnSetInfo *rsinfo, const char *client, const TdeSecretMeta *m,
			   const char *type, const char *location)
{
	Datum		values[CLIENT_SECRETS_COLS];
	bool		nulls[CLIENT_SECRETS_COLS] = {0};
	static const TdeSecretMeta none;
	const TdeSecretMeta *r = m ? m : &none;

	/* the external store keeps no tag, times, owner or place */
	values[0] = CStringGetTextDatum(client);
	values[1] = CStringGetTextDatum(r->tag);
	nulls[1] = r->tag[0] == '\0';
	values[2] = TimestampTzGetDatum(r->created);
	values[3] = TimestampTzGetDatum(r->activated);
	nulls[2] = nulls[3] = m == NULL;
	values[4] = CStringGetTextDatum(r->owner);
	nulls[4] = r->owner[0] == '\0';
	values[5] = Int64GetDatum((int64) r->owner_id);
	nulls[5] = r->owner_id == InvalidOid;
	values[6] = CStringGetTextDatum(type);
	values[7] = CStringGetTextDatum(m == NULL || m->in_hsm ? "UNDEFINED" :
									m->backed_up ? "YES" : "NO");
	/* 8..16: OWNER_DBNAME ... OWNER_PDBGUID */
	put_place(values, nulls, 8, &r->owner_at, r->owner_at.dbname[0] != '\0');
	values[17] = Int32GetDatum(0);
	values[18] = CStringGetTextDatum(location);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

Datum
tde_client_secrets(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TdeSecretMeta *secrets;
	char	   *clients[8];
	int			n;
	int			i;
	TdeOpMem	op;

	tde_require_loaded();
	tde_require_admin();
	InitMaterializedSRF(fcinfo, 0);
	(void) tde_keystore_autoopen(WARNING);

	tde_opmem_begin(&op, "tde v$client_secrets", NULL);
	secrets = palloc(sizeof(TdeSecretMeta) * TDE_MAX_CLIENT_SECRETS);
	n = tde_state_copy_secret_metadata(secrets, TDE_MAX_CLIENT_SECRETS);
	for (i = 0; i < n; i++)
		put_secret_row(rsinfo, secrets[i].client, &secrets[i],
					   secrets[i].in_hsm ? "HSM" : "SOFTWARE KEYSTORE",
					   secrets[i].in_hsm ? "HSM" : tde_wallet_dir());
	n = tde_seps_clients(clients, lengthof(clients));
	for (i = 0; i < n; i++)
		put_secret_row(rsinfo, clients[i], NULL, "EXTERNAL STORE", tde_seps_dir());
	tde_opmem_end(&op);
	return (Datum) 0;
}
