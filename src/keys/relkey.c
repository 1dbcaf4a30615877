/*-------------------------------------------------------------------------
 *
 * relkey.c
 *	  Relation keys: stored wrapped in tde.relation_key, cached unwrapped.
 *
 * Each relation has a random 128-bit relation key id and one or more
 * versions, each a 256-bit AES key.  A row of tde.relation_key holds one
 * version wrapped by a master key, the MKID of that master key, and the
 * times it was created and last re-wrapped (the row, its catalog access
 * and its wrapping: keys/relkey_row.c; re-wrapping: keys/relkey_rewrap.c).
 *
 * Unwrapped keys are cached per backend in a hash table in a long-lived
 * memory context.  The cache is dropped, and the keys in it wiped, when the
 * shared generation changes (the keystore opened, closed or rekeyed, or a
 * relation key rotated), so no HSM or unwrap call is made per row.
 *
 * Locking: a new relation key takes RowExclusiveLock on tde.relation_key
 * before it reads the active master key; a rekey takes ShareRowExclusiveLock
 * before it changes the active master key and holds it to commit.  So a key
 * created concurrently with a rekey is either seen and re-wrapped by it, or
 * created under the new master key.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_extension_d.h"
#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "tde/crypto/cipher.h"
#include "tde/keys/relkey.h"
#include "tde/keys/relkey_row.h"
#include "tde/keystore/keyset.h"
#include "tde/keystore/keystore.h"
#include "tde/store/hsm.h"
#include "tde/util/secure.h"

/* ---------------------------------------------------------------------
 * The cache
 * ---------------------------------------------------------------------
 */

typedef struct CacheKey
{
	uint8		key_id[TDE_RELKEY_ID_LEN];
	int32		version;
} CacheKey;

typedef struct CurrentEntry
{
	Oid			relid;			/* hash key */
	CacheKey	current;
} CurrentEntry;

static MemoryContext cache_cxt = NULL;
static HTAB *key_cache = NULL;	/* CacheKey -> TdeRelKey */
static HTAB *current_cache = NULL;	/* relid -> CurrentEntry */
static uint64 cache_generation = 0;
static uint64 cache_epoch = 1;	/* counts drops: see tde_relkey_still_cached */
static bool rotated_in_xact = false;
static bool created_in_xact = false;	/* a key row inserted, not yet committed */
static bool dropped_in_xact = false;	/* DROP EXTENSION tde ran */
static bool xact_callback_registered = false;


static SPIPlanPtr current_plan = NULL;
static SPIPlanPtr by_id_plan = NULL;

static void
drop_cache(void)
{
	if (key_cache != NULL)
	{
		HASH_SEQ_STATUS seq;
		TdeRelKey  *e;

		hash_seq_init(&seq, key_cache);
		while ((e = hash_seq_search(&seq)) != NULL)
			tde_gcm_key_free(&e->gcm);
	}
	if (cache_cxt != NULL)
		MemoryContextReset(cache_cxt);
	cache_epoch++;
	key_cache = NULL;
	current_cache = NULL;
}

static void
check_cache(void)
{
	uint64		gen = tde_generation();
	HASHCTL		ctl;

	if (gen != cache_generation)
	{
		drop_cache();
		cache_generation = gen;
	}
	if (key_cache != NULL)
		return;
	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext,
										  "tde relation key cache",
										  ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(CacheKey);
	ctl.entrysize = sizeof(TdeRelKey);
	ctl.hcxt = cache_cxt;
	key_cache = hash_create("tde relation keys", 256, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(CurrentEntry);
	ctl.hcxt = cache_cxt;
	current_cache = hash_create("tde current relation keys", 256, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static TdeRelKey *
cache_put(const uint8 *key_id, int32 version, Oid relid, const uint8 *key)
{
	CacheKey	ck;
	TdeRelKey  *e;
	bool		found;
	TdeGcmKey	gcm;

	memset(&ck, 0, sizeof(ck));
	memcpy(ck.key_id, key_id, TDE_RELKEY_ID_LEN);
	ck.version = version;
	e = hash_search(key_cache, &ck, HASH_FIND, &found);
	if (e != NULL)
		return e;
	/* set the key up before the entry exists, so an error leaves none */
	memset(&gcm, 0, sizeof(gcm));
	tde_gcm_key_init(&gcm, key);
	PG_TRY();
	{
		e = hash_search(key_cache, &ck, HASH_ENTER, &found);
	}
	PG_CATCH();
	{
		tde_gcm_key_free(&gcm);
		PG_RE_THROW();
	}
	PG_END_TRY();
	e->relid = relid;
	e->gcm = gcm;
	tde_random_bytes(e->nonces.prefix, sizeof(e->nonces.prefix));
	e->nonces.counter = 0;
	return e;
}

static TdeRelKey *
cache_get(const uint8 *key_id, int32 version)
{
	CacheKey	ck;

	memset(&ck, 0, sizeof(ck));
	memcpy(ck.key_id, key_id, TDE_RELKEY_ID_LEN);
	ck.version = version;
	return hash_search(key_cache, &ck, HASH_FIND, NULL);
}

/*
 * A rotated key becomes everyone's current version once it commits.  A key
 * created in a transaction that aborts must not stay cached: its row is
 * gone, and data encrypted under it could never be decrypted.
 */
static void
relkey_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && (rotated_in_xact || dropped_in_xact))
		tde_state_bump_generation();
	if (event == XACT_EVENT_ABORT && (created_in_xact || dropped_in_xact))
		drop_cache();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		rotated_in_xact = false;
		created_in_xact = false;
		dropped_in_xact = false;
	}
}

static void
relkey_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	/* conservative: any key made in this transaction may be the one lost */
	if (event == SUBXACT_EVENT_ABORT_SUB && created_in_xact)
		drop_cache();
}

static void
note_key_created(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(relkey_xact_callback, NULL);
		RegisterSubXactCallback(relkey_subxact_callback, NULL);
		xact_callback_registered = true;
	}
	created_in_xact = true;
}


/* ---------------------------------------------------------------------
 * DROP EXTENSION, and temporary relations at session end
 * ---------------------------------------------------------------------
 */

static object_access_hook_type prev_object_access_hook = NULL;

/*
 * DROP EXTENSION tde drops tde.relation_key and tde.database_identity: a
 * CREATE EXTENSION after it starts from empty tables.  This backend forgets
 * its kept identity and keys at once, and every backend drops its cache
 * when the drop commits (a drop that aborts changed nothing, and only this
 * backend's cache was dropped in vain).
 */
static void
relkey_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					 int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access == OAT_DROP && classId == ExtensionRelationId &&
		objectId == get_extension_oid("tde", true))
	{
		note_key_created();		/* registers the transaction callbacks */
		dropped_in_xact = true;
		drop_cache();
		tde_forget_database_identity();
		tde_hsm_forget_handles();
	}
}

void
tde_relkey_init(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = relkey_object_access;
}

/*
 * Keys of this session's temporary relations.  Temporary relations are
 * dropped at session end without any event trigger, so their rows in
 * tde.relation_key are deleted here, just before PostgreSQL removes the
 * relations (before_shmem_exit callbacks run in reverse order, and this
 * one is registered after the temporary namespace's).  Only rows of
 * relations still in this session's temporary namespace, or of relations
 * gone altogether, are deleted: an OID may have been reused meanwhile.
 */
static List *temp_relids = NIL;
static bool temp_cleanup_registered = false;

static void
drop_temp_relation_keys(int code, Datum arg)
{
	Oid			tempnsp = InvalidOid;
	Oid			temptoast = InvalidOid;
	Datum	   *elems;
	ArrayType  *arr;
	ListCell   *lc;
	int			i = 0;

	if (temp_relids == NIL || !OidIsValid(MyDatabaseId))
		return;
	GetTempNamespaceState(&tempnsp, &temptoast);

	AbortOutOfAnyTransaction();
	StartTransactionCommand();
	PG_TRY();
	{
		if (OidIsValid(get_extension_oid("tde", true)))
		{
			TdeCatalogAccess ca;
			Oid			argtypes[2] = {OIDARRAYOID, OIDOID};
			Datum		values[2];

			elems = palloc(sizeof(Datum) * list_length(temp_relids));
			foreach(lc, temp_relids)
				elems[i++] = ObjectIdGetDatum(lfirst_oid(lc));
			arr = construct_array(elems, i, OIDOID, sizeof(Oid), true, TYPALIGN_INT);
			values[0] = PointerGetDatum(arr);
			values[1] = ObjectIdGetDatum(tempnsp);
			PushActiveSnapshot(GetTransactionSnapshot());
			tde_catalog_begin(&ca);
			if (SPI_execute_with_args("DELETE FROM tde.relation_key k "
									  "WHERE k.relid::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1) "
									  "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c "
									  "  WHERE c.oid OPERATOR(pg_catalog.=) k.relid::pg_catalog.oid "
									  "  AND c.relnamespace OPERATOR(pg_catalog.<>) $2)",
									  2, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
				elog(ERROR, "could not delete the keys of temporary relations");
			tde_catalog_end(&ca);
			PopActiveSnapshot();
		}
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
	}
	PG_END_TRY();
	temp_relids = NIL;
}

static void
remember_temp_relation(Oid relid)
{
	MemoryContext old;

	if (get_rel_persistence(relid) != RELPERSISTENCE_TEMP)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	temp_relids = list_append_unique_oid(temp_relids, relid);
	MemoryContextSwitchTo(old);
	if (!temp_cleanup_registered)
	{
		before_shmem_exit(drop_temp_relation_keys, (Datum) 0);
		temp_cleanup_registered = true;
	}
}

/* ---------------------------------------------------------------------
 * Creating and finding relation keys (inside catalog access)
 * ---------------------------------------------------------------------
 */

/* Insert a new version; returns false if another session created it first. */
static bool
insert_key(Oid relid, const uint8 *key_id, int32 version, uint8 *key_out)
{
	TdeMasterKey *mk = tde_secure_alloc(sizeof(TdeMasterKey));
	uint8		dbident[16];
	uint8	   *key = tde_secure_alloc(TDE_RELKEY_LEN);
	Oid			argtypes[5] = {UUIDOID, INT4OID, REGCLASSOID, BYTEAOID, BYTEAOID};
	Datum		values[5];
	bool		inserted;

	/* before reading the active key: see the locking rules above */
	LockRelationOid(tde_relation_key_table(), RowExclusiveLock);
	tde_require_active_key(mk);
	(void) tde_database_identity(true, dbident);
	tde_random_bytes(key, TDE_RELKEY_LEN);

	values[0] = tde_uuid_datum(key_id);
	values[1] = Int32GetDatum(version);
	values[2] = ObjectIdGetDatum(relid);
	values[3] = PointerGetDatum(tde_mkid_bytea(mk->mkid));
	values[4] = PointerGetDatum(tde_relkey_wrap(mk, dbident, key_id, version, key));
	if (SPI_execute_with_args("INSERT INTO tde.relation_key "
							  "(key_id, key_version, relid, master_key_id, wrapped_key) "
							  "VALUES ($1, $2, $3, $4, $5) "
							  "ON CONFLICT (relid, key_version) DO NOTHING",
							  5, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert a relation key");
	inserted = SPI_processed == 1;
	if (inserted)
	{
		memcpy(key_out, key, TDE_RELKEY_LEN);
		note_key_created();
		remember_temp_relation(relid);
	}
	tde_wipe(key, TDE_RELKEY_LEN);
	tde_wipe(mk, sizeof(TdeMasterKey));
	return inserted;
}

/*
 * The newest version of a relation's key, from the table; false if none.
 * key NULL: only its id and version are wanted (no unwrap).
 */
static bool
load_current(Oid relid, uint8 *key_id, int32 *version, uint8 *key)
{
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	uint8		dbident[16];

	/* no identity, no keys; read it first: it replaces SPI_tuptable */
	if (!tde_database_identity(false, dbident))
		return false;
	if (SPI_execute_plan(tde_kept_plan(&current_plan,
								   "SELECT key_id, key_version, master_key_id, wrapped_key "
								   "FROM tde.relation_key WHERE relid = $1 "
								   "ORDER BY key_version DESC LIMIT 1",
								   1, argtypes),
						 values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read tde.relation_key");
	if (SPI_processed == 0)
		return false;
	tde_spi_uuid(1, key_id);
	*version = DatumGetInt32(tde_spi_value(2));
	if (key != NULL)
		tde_relkey_unwrap_row(dbident, key_id, *version, tde_spi_bytea(3), tde_spi_bytea(4), key);
	return true;
}

/* The next data nonce of a cached key: prefix || counter. */
void
tde_relkey_next_nonce(TdeRelKey *k, uint8 *nonce)
{
	tde_counter_nonce(&k->nonces, nonce);
}

TdeRelKey *
tde_relkey_for_encrypt(Oid relid)
{
	CurrentEntry *cur;
	TdeRelKey  *e;
	bool		found;
	TdeCatalogAccess ca;
	uint8		key_id[TDE_RELKEY_ID_LEN];
	int32		version = 0;
	uint8	   *key;

	check_cache();
	cur = hash_search(current_cache, &relid, HASH_FIND, NULL);
	if (cur != NULL && (e = cache_get(cur->current.key_id, cur->current.version)) != NULL)
		return e;

	tde_require_keystore_open();
	key = tde_secure_alloc(TDE_RELKEY_LEN);
	tde_catalog_begin(&ca);
	if (!load_current(relid, key_id, &version, key))
	{
		tde_random_bytes(key_id, TDE_RELKEY_ID_LEN);
		/* uuid version 4 bits, so the id reads as a proper uuid */
		key_id[6] = (key_id[6] & 0x0f) | 0x40;
		key_id[8] = (key_id[8] & 0x3f) | 0x80;
		version = 1;
		if (!insert_key(relid, key_id, version, key) &&
			!load_current(relid, key_id, &version, key))
			elog(ERROR, "relation key vanished after a concurrent insert");
	}
	tde_catalog_end(&ca);

	/* the cache may have been dropped by an open inside the calls above */
	check_cache();
	e = cache_put(key_id, version, relid, key);
	tde_wipe(key, TDE_RELKEY_LEN);
	cur = hash_search(current_cache, &relid, HASH_ENTER, &found);
	memset(&cur->current, 0, sizeof(cur->current));
	memcpy(cur->current.key_id, key_id, TDE_RELKEY_ID_LEN);
	cur->current.version = version;
	return e;
}

static void
foreign_ciphertext(Oid relid)
{
	char	   *name = get_rel_name(relid);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("ciphertext was not encrypted for relation \"%s\"",
					name ? name : "?"),
			 errdetail("Its relation key belongs to another relation or database.")));
}

/*
 * A relation key version for decrypting, read directly under the active
 * snapshot (no SPI: the common first use, and the only one in a parallel
 * worker).  Returns false if the identity or the row is not seen.
 */
static bool
load_by_id_direct(Oid relid, const uint8 *key_id, int32 version, uint8 *key)
{
	uint8		dbident[16];
	Oid			rowrel;
	bytea	   *mkid;
	bytea	   *wrapped;

	if (!tde_database_identity_direct(dbident) ||
		!tde_relkey_row_fetch(key_id, version, &rowrel, &mkid, &wrapped))
		return false;
	if (rowrel != relid)
		foreign_ciphertext(relid);
	tde_relkey_unwrap_row(dbident, key_id, version, mkid, wrapped, key);
	return true;
}

/*
 * The same through SPI with a fresh snapshot, as a statement of this
 * transaction sees it: a key created by an earlier command of this
 * statement, or committed by another since it began.
 */
static void
load_by_id_spi(Oid relid, const uint8 *key_id, int32 version, uint8 *key)
{
	TdeCatalogAccess ca;
	Oid			argtypes[2] = {UUIDOID, INT4OID};
	Datum		values[2];
	uint8		dbident[16];

	tde_catalog_begin(&ca);
	/* read the identity first: it replaces SPI_tuptable */
	if (!tde_database_identity(false, dbident))
		foreign_ciphertext(relid);
	values[0] = tde_uuid_datum(key_id);
	values[1] = Int32GetDatum(version);
	if (SPI_execute_plan(tde_kept_plan(&by_id_plan,
								   "SELECT relid, master_key_id, wrapped_key "
								   "FROM tde.relation_key "
								   "WHERE key_id = $1 AND key_version = $2",
								   2, argtypes),
						 values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read tde.relation_key");
	if (SPI_processed == 0 ||
		DatumGetObjectId(tde_spi_value(1)) != relid)
		foreign_ciphertext(relid);
	tde_relkey_unwrap_row(dbident, key_id, version, tde_spi_bytea(2), tde_spi_bytea(3), key);
	tde_catalog_end(&ca);
}

TdeRelKey *
tde_relkey_for_decrypt(Oid relid, const uint8 *key_id, int32 version)
{
	TdeRelKey  *e;
	uint8	   *key;

	check_cache();
	e = cache_get(key_id, version);
	if (e != NULL)
	{
		if (e->relid != relid)
			foreign_ciphertext(relid);
		return e;
	}

	tde_require_keystore_open();
	key = tde_secure_alloc(TDE_RELKEY_LEN);
	if (!load_by_id_direct(relid, key_id, version, key))
	{
		/* a parallel worker sees the leader's snapshot only: nothing more */
		if (IsInParallelMode())
			foreign_ciphertext(relid);
		load_by_id_spi(relid, key_id, version, key);
	}

	check_cache();
	e = cache_put(key_id, version, relid, key);
	tde_wipe(key, TDE_RELKEY_LEN);
	return e;
}

/*
 * A key the cache returned stays valid until the cache is dropped: a
 * caller may keep the pointer with tde_relkey_epoch() and use it again
 * while tde_relkey_still_cached() says so (it also notices a change of the
 * shared generation, as the next lookup would).
 */
uint64
tde_relkey_epoch(void)
{
	return cache_epoch;
}

bool
tde_relkey_still_cached(uint64 epoch)
{
	return epoch == cache_epoch && key_cache != NULL &&
		tde_generation() == cache_generation;
}

/* Every backend's cache is dropped when this transaction commits. */
void
tde_relkey_invalidate_at_commit(void)
{
	note_key_created();
	rotated_in_xact = true;
}

/* A new version of a relation's key; later encryptions use it. */
int32
tde_relkey_rotate(Oid relid)
{
	TdeCatalogAccess ca;
	uint8		key_id[TDE_RELKEY_ID_LEN];
	int32		version = 0;
	uint8	   *key = tde_secure_alloc(TDE_RELKEY_LEN);

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot rotate a relation key during recovery"),
				 errhint("Rotate it on the primary server.")));
	tde_require_keystore_open();
	tde_catalog_begin(&ca);
	LockRelationOid(tde_relation_key_table(), ShareRowExclusiveLock);
	if (!load_current(relid, key_id, &version, NULL))
	{
		tde_random_bytes(key_id, TDE_RELKEY_ID_LEN);
		key_id[6] = (key_id[6] & 0x0f) | 0x40;
		key_id[8] = (key_id[8] & 0x3f) | 0x80;
	}
	version++;
	if (!insert_key(relid, key_id, version, key))
		elog(ERROR, "could not create relation key version %d", version);
	tde_catalog_end(&ca);
	tde_wipe(key, TDE_RELKEY_LEN);

	note_key_created();
	rotated_in_xact = true;
	return version;
}
