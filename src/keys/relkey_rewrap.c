/*-------------------------------------------------------------------------
 *
 * relkey_rewrap.c
 *	  Re-wrapping this database's relation keys under the active master key.
 *
 * See keys/relkey_rewrap.h.  SET KEY re-wraps the current database in its
 * own transaction (tde_relkey_rewrap_database); the background workers
 * (keys/rewrap_worker.c) re-wrap the others in pages
 * (tde_relkey_rewrap_batch); both run UPDATEs that call
 * tde.rewrap_relation_key (tde_relkey_rewrap_one) per row, so a row is
 * re-wrapped in the statement that changes it, transactionally.
 *
 * Locking: a new relation key takes RowExclusiveLock on tde.relation_key
 * before it reads the active master key; a rekey takes
 * ShareRowExclusiveLock (tde_relkey_lock_for_rekey) before it changes the
 * active master key and holds it to commit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "lib/stringinfo.h"
#include "executor/spi.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "tde/keys/relkey_rewrap.h"
#include "tde/keys/relkey_row.h"
#include "tde/keystore/keyset.h"
#include "tde/keystore/keystore.h"
#include "tde/util/keyid.h"
#include "tde/util/secure.h"

void
tde_relkey_lock_for_rekey(void)
{
	LockRelationOid(tde_relation_key_table(), ShareRowExclusiveLock);
}

static const char *const rewrap_sql =
"UPDATE tde.relation_key "
"SET wrapped_key = tde.rewrap_relation_key(key_id, key_version, master_key_id, wrapped_key, $1), "
"    master_key_id = $1, rewrapped_at = pg_catalog.now() "
"WHERE master_key_id OPERATOR(pg_catalog.<>) $1";

/*
 * The background re-wrap walks the primary key in pages, so each batch
 * costs the same however far it has come: find the page's last key, then
 * re-wrap the stale rows up to it.
 */
static const char *const page_end_sql =
"SELECT key_id, key_version FROM tde.relation_key "
"WHERE (key_id, key_version) > ($1, $2) "
"ORDER BY key_id, key_version OFFSET $3 LIMIT 1";

static const char *const rewrap_page_sql =
"UPDATE tde.relation_key "
"SET wrapped_key = tde.rewrap_relation_key(key_id, key_version, master_key_id, wrapped_key, $1), "
"    master_key_id = $1, rewrapped_at = now() "
"WHERE master_key_id <> $1 AND (key_id, key_version) > ($2, $3) "
"  AND ($4 OR (key_id, key_version) <= ($5, $6))";

/*
 * The statement in progress.  While tde's own re-wrap UPDATE runs (the
 * only statement that calls tde.rewrap_relation_key with this run's new
 * MKID, issued as the bootstrap superuser with search_path pg_catalog, so
 * no user code runs inside it), every row is re-wrapped with master keys
 * looked up and set up once per statement, and the caller's privilege is
 * the one checked before the statement (tde_relkey_rewrap_running).
 */
#define RUN_MAX_FROM 16

typedef struct RewrapRun
{
	MemoryContext cxt;			/* the held keys; rows run in shorter ones */
	uint8		dbident[16];
	TdeMkCipher *to;
	int			nfrom;
	TdeMkCipher *from[RUN_MAX_FROM];
} RewrapRun;

static RewrapRun *run = NULL;

static void
run_begin(RewrapRun *r, const uint8 *dbident, Datum new_mkid)
{
	bytea	   *mkid = DatumGetByteaPP(new_mkid);

	MemoryContext old;

	memset(r, 0, sizeof(*r));
	memcpy(r->dbident, dbident, 16);
	r->cxt = AllocSetContextCreate(CurrentMemoryContext, "tde re-wrap keys",
								   ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(r->cxt);
	r->to = tde_mk_cipher_open((const uint8 *) VARDATA_ANY(mkid));
	MemoryContextSwitchTo(old);
	if (r->to == NULL)
		tde_missing_master_key((const uint8 *) VARDATA_ANY(mkid));
	run = r;
}

static void
run_end(RewrapRun *r)
{
	int			i;

	run = NULL;
	tde_mk_cipher_close(r->to);
	for (i = 0; i < r->nfrom; i++)
		tde_mk_cipher_close(r->from[i]);
	if (r->cxt != NULL)
		MemoryContextDelete(r->cxt);
	memset(r, 0, sizeof(*r));
}

/* The held key a row is wrapped by, opened on first need; NULL if full */
static TdeMkCipher *
run_from(RewrapRun *r, const uint8 *mkid)
{
	MemoryContext old;
	int			i;

	for (i = 0; i < r->nfrom; i++)
		if (memcmp(r->from[i]->mk->mkid, mkid, TDE_MKID_LEN) == 0)
			return r->from[i];
	if (r->nfrom == RUN_MAX_FROM)
		return NULL;
	old = MemoryContextSwitchTo(r->cxt);
	r->from[r->nfrom] = tde_mk_cipher_open(mkid);
	MemoryContextSwitchTo(old);
	if (r->from[r->nfrom] == NULL)
		tde_missing_master_key(mkid);
	return r->from[r->nfrom++];
}

/* Run one of tde's re-wrap statements with the master keys held */
static int64
run_update(const uint8 *dbident, const char *sql, int nargs, Oid *argtypes,
		   Datum *values)
{
	RewrapRun	r;
	volatile int64 n = 0;		/* set in PG_TRY */

	run_begin(&r, dbident, values[0]);
	PG_TRY();
	{
		if (SPI_execute_with_args(sql, nargs, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not re-wrap relation keys");
		n = SPI_processed;
	}
	PG_FINALLY();
	{
		run_end(&r);
	}
	PG_END_TRY();
	return n;
}

/* True while tde's own re-wrap statement runs (see RewrapRun) */
bool
tde_relkey_rewrap_running(void)
{
	return run != NULL;
}

/* The active master key's MKID as a bytea Datum, or a clear error. */
static Datum
active_mkid(void)
{
	TdeMasterKey *mk = tde_secure_alloc(sizeof(TdeMasterKey));
	bytea	   *mkid;

	tde_require_active_key(mk);
	mkid = tde_mkid_bytea(mk->mkid);
	tde_wipe(mk, sizeof(TdeMasterKey));
	return PointerGetDatum(mkid);
}

/* Re-wrap every relation key of this database under the active key. */
int64
tde_relkey_rewrap_database(void)
{
	TdeCatalogAccess ca;
	Oid			argtypes[1] = {BYTEAOID};
	Datum		values[1];
	uint8		dbident[16];
	int64		n;

	values[0] = active_mkid();

	tde_catalog_begin(&ca);
	if (!tde_database_identity(false, dbident))
	{
		tde_catalog_end(&ca);
		return 0;				/* no relation key was ever made here */
	}
	n = run_update(dbident, rewrap_sql, 1, argtypes, values);
	tde_catalog_end(&ca);
	return n;
}

/*
 * One page for the background worker: re-wraps the stale keys among the
 * next `limit` keys after the cursor and moves the cursor past them.
 * *pass_done is set when the page reached the end of the table.
 */
int64
tde_relkey_rewrap_batch(int limit, TdeRewrapCursor *cursor, bool *pass_done)
{
	TdeCatalogAccess ca;
	Oid			page_types[3] = {UUIDOID, INT4OID, INT4OID};
	Datum		page_values[3];
	Oid			argtypes[6] = {BYTEAOID, UUIDOID, INT4OID, BOOLOID, UUIDOID, INT4OID};
	Datum		values[6];
	uint8		dbident[16];
	uint8		end_id[TDE_RELKEY_ID_LEN];
	int32		end_version = 0;
	int64		n;

	/*
	 * Lock before reading the active key, so that a rekey committing
	 * meanwhile is either waited for or waits: never re-wrap back to a key
	 * that has just been replaced.
	 */
	LockRelationOid(tde_relation_key_table(), RowExclusiveLock);
	values[0] = active_mkid();

	tde_catalog_begin(&ca);
	if (!tde_database_identity(false, dbident))
	{
		tde_catalog_end(&ca);
		*pass_done = true;
		return 0;
	}

	page_values[0] = tde_uuid_datum(cursor->key_id);
	page_values[1] = Int32GetDatum(cursor->version);
	page_values[2] = Int32GetDatum(limit - 1);
	if (SPI_execute_with_args(page_end_sql, 3, page_types, page_values, NULL,
							  false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not page through tde.relation_key");
	*pass_done = SPI_processed == 0;
	if (!*pass_done)
	{
		tde_spi_uuid(1, end_id);
		end_version = DatumGetInt32(tde_spi_value(2));
	}

	values[1] = page_values[0];
	values[2] = page_values[1];
	values[3] = BoolGetDatum(*pass_done);
	values[4] = tde_uuid_datum(*pass_done ? cursor->key_id : end_id);
	values[5] = Int32GetDatum(end_version);
	n = run_update(dbident, rewrap_page_sql, 6, argtypes, values);
	tde_catalog_end(&ca);

	if (!*pass_done)
	{
		memcpy(cursor->key_id, end_id, TDE_RELKEY_ID_LEN);
		cursor->version = end_version;
	}
	return n;
}

/* Relation keys of this database not wrapped by the active key. */
int64
tde_relkey_count_stale(void)
{
	TdeCatalogAccess ca;
	Oid			argtypes[1] = {BYTEAOID};
	Datum		values[1];
	int64		n;

	values[0] = active_mkid();

	tde_catalog_begin(&ca);
	if (SPI_execute_with_args("SELECT count(*) FROM tde.relation_key WHERE master_key_id <> $1",
							  1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not count relation keys");
	n = DatumGetInt64(tde_spi_value(1));
	tde_catalog_end(&ca);
	return n;
}

/*
 * tde.rewrap_relation_key (sql/data_sql.c) after its privilege check: the
 * wrapped key under the new master key.  It returns ciphertext, never a
 * key.
 */
bytea *
tde_relkey_rewrap_one(const uint8 *key_id, int32 version, bytea *old_mkid,
					  bytea *wrapped, bytea *new_mkid)
{
	TdeMasterKey *mk;
	uint8	   *key;
	uint8		dbident[16];
	bytea	   *result;

	if (VARSIZE_ANY_EXHDR(new_mkid) != TDE_MKID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a master key id is 16 bytes")));

	/* a row of tde's own re-wrap statement: the keys are held */
	if (run != NULL && VARSIZE_ANY_EXHDR(old_mkid) == TDE_MKID_LEN &&
		memcmp(VARDATA_ANY(new_mkid), run->to->mk->mkid, TDE_MKID_LEN) == 0)
	{
		TdeMkCipher *from = run_from(run, (const uint8 *) VARDATA_ANY(old_mkid));

		if (from != NULL)
			return tde_relkey_rewrap_with(from, run->to, run->dbident, key_id,
										  version, wrapped);
	}

	/* kept by the re-wrap; a direct call reads it through its own SPI */
	if (!tde_kept_database_identity(dbident))
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		tde_require_database_identity(dbident);
		SPI_finish();
	}
	mk = tde_secure_alloc(sizeof(TdeMasterKey));
	key = tde_secure_alloc(TDE_RELKEY_LEN);
	tde_relkey_unwrap_row(dbident, key_id, version, old_mkid, wrapped, key);
	if (!tde_masterkey_find((const uint8 *) VARDATA_ANY(new_mkid), mk))
		tde_missing_master_key((const uint8 *) VARDATA_ANY(new_mkid));
	result = tde_relkey_wrap(mk, dbident, key_id, version, key);
	tde_wipe(key, TDE_RELKEY_LEN);
	tde_wipe(mk, sizeof(TdeMasterKey));
	return result;
}

/*
 * After SET KEYSTORE OPEN: a WARNING naming the master keys that relation
 * keys of this database need and the open keystores lack, as after a
 * wallet restored from a backup older than a key in use.  Other databases
 * are checked by their background re-wrap (tde.rewrap_progress).
 */
void
tde_relkey_warn_missing_master_keys(void)
{
	Oid			nsp = get_namespace_oid("tde", true);
	TdeMasterKey *mk;
	TdeCatalogAccess ca;
	StringInfoData ids;
	uint8		dbident[16];
	int			nmissing = 0;
	uint64		i;

	/* a database without the extension has no relation keys */
	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("relation_key", nsp)))
		return;
	mk = tde_secure_alloc(sizeof(TdeMasterKey));
	initStringInfo(&ids);
	tde_catalog_begin(&ca);
	if (tde_database_identity(false, dbident) &&
		SPI_execute("SELECT DISTINCT master_key_id FROM tde.relation_key ORDER BY 1",
					true, 0) == SPI_OK_SELECT)
	{
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			bytea	   *mkid = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i],
															 SPI_tuptable->tupdesc, 1, &isnull));
			char		key_id[TDE_KEY_ID_LEN + 1];

			if (VARSIZE_ANY_EXHDR(mkid) != TDE_MKID_LEN ||
				tde_masterkey_find((const uint8 *) VARDATA_ANY(mkid), mk))
				continue;
			tde_mkid_to_key_id((const uint8 *) VARDATA_ANY(mkid), key_id);
			if (nmissing++ < 10)
				appendStringInfo(&ids, "%s%s", ids.len ? ", " : "", key_id);
		}
	}
	tde_catalog_end(&ca);
	tde_wipe(mk, sizeof(TdeMasterKey));
	if (nmissing > 0)
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg_plural("the open keystore lacks %d master key that relation keys of this database need",
							   "the open keystore lacks %d master keys that relation keys of this database need",
							   nmissing, nmissing),
				 errdetail("Missing: %s%s.", ids.data, nmissing > 10 ? ", ..." : ""),
				 errhint("The keystore may have been restored from a backup older than these keys: restore one that holds them, or import them.")));
}
