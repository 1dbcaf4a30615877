/*-------------------------------------------------------------------------
 *
 * relkey.c
 *	  Relation keys: stored wrapped in tde.relation_key, cached unwrapped.
 *
 * Each relation has a random 128-bit relation key id and one or more
 * versions, each a 256-bit AES key.  A row of tde.relation_key holds one
 * version wrapped by a master key, the MKID of that master key, and the
 * times it was created and last re-wrapped.  The associated data of the
 * wrapping binds the row to its database (the id in tde.database_identity,
 * which pg_dump carries over), its relation key id, version and MKID, so a
 * wrapped key cannot be moved to another row or replayed.
 *
 * Unwrapped keys are cached per backend in a hash table in a long-lived
 * memory context.  The cache is dropped, and the keys in it wiped, when the
 * shared generation changes (the keystore opened, closed or rekeyed, or a
 * relation key rotated), so no HSM or unwrap call is made per row.
 *
 * Catalog access runs through SPI as the bootstrap superuser, with
 * schema-qualified names and operators, so the caller needs no privilege
 * on tde.relation_key and cannot redirect the queries.
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
#include "catalog/pg_authid_d.h"
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
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"

#include "tde/crypto/cipher.h"
#include "tde/keys/relkey.h"
#include "tde/keystore/keyset.h"
#include "tde/keystore/keystore.h"
#include "tde/store/hsm.h"
#include "tde/util/secure.h"

#define AAD_LABEL		"TDE-RK1"
#define AAD_LEN			(7 + 16 + TDE_RELKEY_ID_LEN + 4 + TDE_MKID_LEN)
#define WRAPPED_MAX		(TDE_RELKEY_LEN + TDE_WRAP_MAX_OVERHEAD)

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
static bool rotated_in_xact = false;
static bool created_in_xact = false;	/* a key row inserted, not yet committed */
static bool dropped_in_xact = false;	/* DROP EXTENSION tde ran */
static bool xact_callback_registered = false;

/* This database's identity, kept once committed: see database_identity() */
static Oid	identity_db = InvalidOid;
static Oid	identity_rel = InvalidOid;
static uint8 identity[16];
static bool identity_pending = false;
static SubTransactionId identity_subid = InvalidSubTransactionId;
static uint8 pending_identity[16];
static Oid	pending_identity_rel = InvalidOid;

static void forget_identity(void);

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
	tde_random_bytes(e->nonce_prefix, sizeof(e->nonce_prefix));
	e->nonce_counter = 0;
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
	if (event == XACT_EVENT_COMMIT && identity_pending)
	{
		memcpy(identity, pending_identity, 16);
		identity_db = MyDatabaseId;
		identity_rel = pending_identity_rel;
		identity_pending = false;
	}
	if ((event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE) && identity_pending)
		forget_identity();
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
	if (identity_pending && identity_subid == mySubid)
	{
		if (event == SUBXACT_EVENT_ABORT_SUB)
			forget_identity();
		else if (event == SUBXACT_EVENT_COMMIT_SUB)
			identity_subid = parentSubid;
	}
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
 * Catalog access
 * ---------------------------------------------------------------------
 */

typedef struct CatalogAccess
{
	Oid			save_userid;
	int			save_sec;
	int			save_nestlevel;
} CatalogAccess;

/*
 * Run catalog queries as the bootstrap superuser with search_path fixed to
 * pg_catalog, as a SECURITY DEFINER function with SET would: the caller's
 * search_path cannot redirect an operator or a function.
 */
static void
catalog_begin(CatalogAccess *ca)
{
	GetUserIdAndSecContext(&ca->save_userid, &ca->save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   ca->save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	ca->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

static void
catalog_end(CatalogAccess *ca)
{
	SPI_finish();
	AtEOXact_GUC(true, ca->save_nestlevel);
	SetUserIdAndSecContext(ca->save_userid, ca->save_sec);
}

/* A plan prepared once per backend and kept (catalog queries on hot paths). */
static SPIPlanPtr
kept_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare \"%s\"", sql);
		*slot = plan;
	}
	return *slot;
}

static SPIPlanPtr identity_plan = NULL;
static SPIPlanPtr current_plan = NULL;
static SPIPlanPtr by_id_plan = NULL;

static Oid
relation_key_table(void)
{
	Oid			nsp = get_namespace_oid("tde", false);
	Oid			rel = get_relname_relid("relation_key", nsp);

	if (!OidIsValid(rel))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table tde.relation_key does not exist"),
				 errhint("Run CREATE EXTENSION tde in this database.")));
	return rel;
}

/* Columns of the first row of the last SPI result (none is NULL here) */
static Datum
spi_value(int col)
{
	bool		isnull;

	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);
}

static bytea *
spi_bytea(int col)
{
	return DatumGetByteaPP(spi_value(col));
}

static void
spi_uuid(int col, uint8 *out)
{
	memcpy(out, DatumGetUUIDP(spi_value(col))->data, UUID_LEN);
}

/*
 * This database's identity, created on first use; called inside catalog
 * access.  Without create, returns false if there is none yet (then there
 * are no relation keys either).
 *
 * The identity is kept for the backend only once it is committed data: an
 * identity this transaction inserted is "pending" until it commits, and
 * forgotten if it (or the subtransaction that inserted it) aborts, since
 * the row is then gone and keys wrapped with it could never be unwrapped.
 * The kept identity names the table it came from, so a DROP EXTENSION and
 * CREATE EXTENSION (here or in any session) is noticed.
 */

static Oid
identity_table(void)
{
	Oid			nsp = get_namespace_oid("tde", true);

	return OidIsValid(nsp) ? get_relname_relid("database_identity", nsp) : InvalidOid;
}

static void
forget_identity(void)
{
	identity_db = InvalidOid;
	identity_rel = InvalidOid;
	identity_pending = false;
	identity_subid = InvalidSubTransactionId;
}

/* The kept identity, if it is still this database's; no query */
static bool
kept_identity(Oid rel, uint8 *out)
{
	if (identity_pending && pending_identity_rel == rel)
	{
		memcpy(out, pending_identity, 16);
		return true;
	}
	if (!identity_pending && identity_db == MyDatabaseId &&
		identity_rel == rel && OidIsValid(rel))
	{
		memcpy(out, identity, 16);
		return true;
	}
	return false;
}

static bool
database_identity(bool create, uint8 *out)
{
	Oid			rel = identity_table();

	if (kept_identity(rel, out))
		return true;
	forget_identity();
	if (create)
	{
		if (SPI_execute("INSERT INTO tde.database_identity (id) "
						"VALUES (pg_catalog.gen_random_uuid()) ON CONFLICT DO NOTHING "
						"RETURNING id",
						false, 0) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "could not create the database identity");
		if (SPI_processed == 1)
		{
			/* ours, not yet committed: kept only until this transaction ends */
			spi_uuid(1, out);
			memcpy(pending_identity, out, 16);
			pending_identity_rel = rel;
			identity_pending = true;
			identity_subid = GetCurrentSubTransactionId();
			note_key_created();
			return true;
		}
	}
	if (SPI_execute_plan(kept_plan(&identity_plan, "SELECT id FROM tde.database_identity", 0, NULL),
						 NULL, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the database identity");
	if (SPI_processed != 1)
		return false;
	spi_uuid(1, out);
	/* not inserted by this transaction (that would be pending): committed */
	memcpy(identity, out, 16);
	identity_db = MyDatabaseId;
	identity_rel = rel;
	return true;
}

static void
require_database_identity(uint8 *out)
{
	if (!database_identity(false, out))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("tde.database_identity has no row, but relation keys exist"),
				 errhint("Restore the extension's tables together: tde.database_identity and tde.relation_key.")));
}

static void
build_aad(uint8 *aad, const uint8 *dbident, const uint8 *key_id, int32 version,
		  const uint8 *mkid)
{
	uint8	   *p = aad;
	uint32		v = pg_hton32((uint32) version);

	memcpy(p, AAD_LABEL, 7);
	p += 7;
	memcpy(p, dbident, 16);
	p += 16;
	memcpy(p, key_id, TDE_RELKEY_ID_LEN);
	p += TDE_RELKEY_ID_LEN;
	memcpy(p, &v, 4);
	p += 4;
	memcpy(p, mkid, TDE_MKID_LEN);
}

/* ---------------------------------------------------------------------
 * Wrapping
 * ---------------------------------------------------------------------
 */

static void
missing_master_key(const uint8 *mkid)
{
	char		key_id[TDE_KEY_ID_LEN + 1];

	tde_mkid_to_key_id(mkid, key_id);
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("master key \"%s\" is not in the open keystore", key_id),
			 errdetail("ORA-28374: typed master key not found in wallet"),
			 errhint("Open the keystore that holds this key, or restore it from the backup that does.")));
}

static void
unwrap_row(const uint8 *dbident, const uint8 *key_id, int32 version,
		   const bytea *mkid, const bytea *wrapped, uint8 *out)
{
	TdeMasterKey *mk = tde_secure_alloc(sizeof(TdeMasterKey));
	uint8		aad[AAD_LEN];
	int			outlen = 0;
	uint8		buf[WRAPPED_MAX];

	if (VARSIZE_ANY_EXHDR(mkid) != TDE_MKID_LEN ||
		VARSIZE_ANY_EXHDR(wrapped) > WRAPPED_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a row of tde.relation_key is malformed")));
	if (!tde_masterkey_find((const uint8 *) VARDATA_ANY(mkid), mk))
		missing_master_key((const uint8 *) VARDATA_ANY(mkid));
	build_aad(aad, dbident, key_id, version, mk->mkid);
	if (!tde_mk_unwrap(mk, aad, AAD_LEN, (const uint8 *) VARDATA_ANY(wrapped),
					VARSIZE_ANY_EXHDR(wrapped), buf, &outlen) ||
		outlen != TDE_RELKEY_LEN)
	{
		explicit_bzero(buf, sizeof(buf));
		tde_wipe(mk, sizeof(TdeMasterKey));
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("relation key could not be unwrapped"),
				 errdetail("The wrapped key does not authenticate under its master key: the row was altered or moved.")));
	}
	memcpy(out, buf, TDE_RELKEY_LEN);
	explicit_bzero(buf, sizeof(buf));
	tde_wipe(mk, sizeof(TdeMasterKey));
}

static bytea *
wrap_key(const TdeMasterKey *mk, const uint8 *dbident, const uint8 *key_id,
		 int32 version, const uint8 *key)
{
	uint8		aad[AAD_LEN];
	bytea	   *out = palloc(VARHDRSZ + WRAPPED_MAX);
	int			len;

	build_aad(aad, dbident, key_id, version, mk->mkid);
	len = tde_mk_wrap(mk, aad, AAD_LEN, key, TDE_RELKEY_LEN, (uint8 *) VARDATA(out));
	SET_VARSIZE(out, VARHDRSZ + len);
	return out;
}

static bytea *
mkid_bytea(const uint8 *mkid)
{
	bytea	   *b = palloc(VARHDRSZ + TDE_MKID_LEN);

	SET_VARSIZE(b, VARHDRSZ + TDE_MKID_LEN);
	memcpy(VARDATA(b), mkid, TDE_MKID_LEN);
	return b;
}

static Datum
uuid_datum(const uint8 *id)
{
	pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

	memcpy(u->data, id, UUID_LEN);
	return UUIDPGetDatum(u);
}

static void
require_active_key(TdeMasterKey *mk)
{
	if (tde_masterkey_active(mk))
		return;
	/* only a secondary keystore open: say that, not "no key" */
	if (!tde_keystore_is_open())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the primary keystore is not open"),
				 errdetail("ORA-28365: wallet is not open"),
				 errhint("Open it with ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN; an open secondary keystore only decrypts.")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("no master key is set"),
			 errdetail("ORA-28361: master key not yet set"),
			 errhint("Set one with ADMINISTER KEY MANAGEMENT SET KEY.")));
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
		forget_identity();
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
			CatalogAccess ca;
			Oid			argtypes[2] = {OIDARRAYOID, OIDOID};
			Datum		values[2];

			elems = palloc(sizeof(Datum) * list_length(temp_relids));
			foreach(lc, temp_relids)
				elems[i++] = ObjectIdGetDatum(lfirst_oid(lc));
			arr = construct_array(elems, i, OIDOID, sizeof(Oid), true, TYPALIGN_INT);
			values[0] = PointerGetDatum(arr);
			values[1] = ObjectIdGetDatum(tempnsp);
			PushActiveSnapshot(GetTransactionSnapshot());
			catalog_begin(&ca);
			if (SPI_execute_with_args("DELETE FROM tde.relation_key k "
									  "WHERE k.relid::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1) "
									  "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c "
									  "  WHERE c.oid OPERATOR(pg_catalog.=) k.relid::pg_catalog.oid "
									  "  AND c.relnamespace OPERATOR(pg_catalog.<>) $2)",
									  2, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
				elog(ERROR, "could not delete the keys of temporary relations");
			catalog_end(&ca);
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
	LockRelationOid(relation_key_table(), RowExclusiveLock);
	require_active_key(mk);
	(void) database_identity(true, dbident);
	tde_random_bytes(key, TDE_RELKEY_LEN);

	values[0] = uuid_datum(key_id);
	values[1] = Int32GetDatum(version);
	values[2] = ObjectIdGetDatum(relid);
	values[3] = PointerGetDatum(mkid_bytea(mk->mkid));
	values[4] = PointerGetDatum(wrap_key(mk, dbident, key_id, version, key));
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
	if (!database_identity(false, dbident))
		return false;
	if (SPI_execute_plan(kept_plan(&current_plan,
								   "SELECT key_id, key_version, master_key_id, wrapped_key "
								   "FROM tde.relation_key WHERE relid = $1 "
								   "ORDER BY key_version DESC LIMIT 1",
								   1, argtypes),
						 values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read tde.relation_key");
	if (SPI_processed == 0)
		return false;
	spi_uuid(1, key_id);
	*version = DatumGetInt32(spi_value(2));
	if (key != NULL)
		unwrap_row(dbident, key_id, *version, spi_bytea(3), spi_bytea(4), key);
	return true;
}

/* The next data nonce of a cached key: prefix || counter. */
void
tde_relkey_next_nonce(TdeRelKey *k, uint8 *nonce)
{
	uint32		c;

	if (k->nonce_counter == PG_UINT32_MAX)
	{
		tde_random_bytes(k->nonce_prefix, sizeof(k->nonce_prefix));
		k->nonce_counter = 0;
	}
	c = pg_hton32(k->nonce_counter++);
	memcpy(nonce, k->nonce_prefix, 8);
	memcpy(nonce + 8, &c, 4);
}

TdeRelKey *
tde_relkey_for_encrypt(Oid relid)
{
	CurrentEntry *cur;
	TdeRelKey  *e;
	bool		found;
	CatalogAccess ca;
	uint8		key_id[TDE_RELKEY_ID_LEN];
	int32		version = 0;
	uint8	   *key;

	check_cache();
	cur = hash_search(current_cache, &relid, HASH_FIND, NULL);
	if (cur != NULL && (e = cache_get(cur->current.key_id, cur->current.version)) != NULL)
		return e;

	tde_require_keystore_open();
	key = tde_secure_alloc(TDE_RELKEY_LEN);
	catalog_begin(&ca);
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
	catalog_end(&ca);

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

TdeRelKey *
tde_relkey_for_decrypt(Oid relid, const uint8 *key_id, int32 version)
{
	TdeRelKey  *e;
	CatalogAccess ca;
	Oid			argtypes[2] = {UUIDOID, INT4OID};
	Datum		values[2];
	uint8		dbident[16];
	uint8	   *key;
	Oid			rowrel;

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
	catalog_begin(&ca);
	/* read the identity first: it replaces SPI_tuptable */
	if (!database_identity(false, dbident))
		foreign_ciphertext(relid);
	values[0] = uuid_datum(key_id);
	values[1] = Int32GetDatum(version);
	if (SPI_execute_plan(kept_plan(&by_id_plan,
								   "SELECT relid, master_key_id, wrapped_key "
								   "FROM tde.relation_key "
								   "WHERE key_id = $1 AND key_version = $2",
								   2, argtypes),
						 values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read tde.relation_key");
	if (SPI_processed == 0)
		foreign_ciphertext(relid);
	rowrel = DatumGetObjectId(spi_value(1));
	if (rowrel != relid)
		foreign_ciphertext(relid);
	unwrap_row(dbident, key_id, version, spi_bytea(2), spi_bytea(3), key);
	catalog_end(&ca);

	check_cache();
	e = cache_put(key_id, version, relid, key);
	tde_wipe(key, TDE_RELKEY_LEN);
	return e;
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
	CatalogAccess ca;
	uint8		key_id[TDE_RELKEY_ID_LEN];
	int32		version = 0;
	uint8	   *key = tde_secure_alloc(TDE_RELKEY_LEN);

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot rotate a relation key during recovery"),
				 errhint("Rotate it on the primary server.")));
	tde_require_keystore_open();
	catalog_begin(&ca);
	LockRelationOid(relation_key_table(), ShareRowExclusiveLock);
	if (!load_current(relid, key_id, &version, NULL))
	{
		tde_random_bytes(key_id, TDE_RELKEY_ID_LEN);
		key_id[6] = (key_id[6] & 0x0f) | 0x40;
		key_id[8] = (key_id[8] & 0x3f) | 0x80;
	}
	version++;
	if (!insert_key(relid, key_id, version, key))
		elog(ERROR, "could not create relation key version %d", version);
	catalog_end(&ca);
	tde_wipe(key, TDE_RELKEY_LEN);

	note_key_created();
	rotated_in_xact = true;
	return version;
}

/* ---------------------------------------------------------------------
 * Re-wrapping
 * ---------------------------------------------------------------------
 */

void
tde_relkey_lock_for_rekey(void)
{
	LockRelationOid(relation_key_table(), ShareRowExclusiveLock);
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

/* Re-wrap every relation key of this database under the active key. */
int64
tde_relkey_rewrap_database(void)
{
	TdeMasterKey *mk = tde_secure_alloc(sizeof(TdeMasterKey));
	CatalogAccess ca;
	Oid			argtypes[1] = {BYTEAOID};
	Datum		values[1];
	uint8		dbident[16];
	int64		n;

	require_active_key(mk);
	values[0] = PointerGetDatum(mkid_bytea(mk->mkid));
	tde_wipe(mk, sizeof(TdeMasterKey));

	catalog_begin(&ca);
	if (!database_identity(false, dbident))
	{
		catalog_end(&ca);
		return 0;				/* no relation key was ever made here */
	}
	if (SPI_execute_with_args(rewrap_sql, 1, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not re-wrap relation keys");
	n = SPI_processed;
	catalog_end(&ca);
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
	TdeMasterKey *mk = tde_secure_alloc(sizeof(TdeMasterKey));
	CatalogAccess ca;
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
	LockRelationOid(relation_key_table(), RowExclusiveLock);
	require_active_key(mk);
	values[0] = PointerGetDatum(mkid_bytea(mk->mkid));
	tde_wipe(mk, sizeof(TdeMasterKey));

	catalog_begin(&ca);
	if (!database_identity(false, dbident))
	{
		catalog_end(&ca);
		*pass_done = true;
		return 0;
	}

	page_values[0] = uuid_datum(cursor->key_id);
	page_values[1] = Int32GetDatum(cursor->version);
	page_values[2] = Int32GetDatum(limit - 1);
	if (SPI_execute_with_args(page_end_sql, 3, page_types, page_values, NULL,
							  false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not page through tde.relation_key");
	*pass_done = SPI_processed == 0;
	if (!*pass_done)
	{
		spi_uuid(1, end_id);
		end_version = DatumGetInt32(spi_value(2));
	}

	values[1] = page_values[0];
	values[2] = page_values[1];
	values[3] = BoolGetDatum(*pass_done);
	values[4] = uuid_datum(*pass_done ? cursor->key_id : end_id);
	values[5] = Int32GetDatum(end_version);
	if (SPI_execute_with_args(rewrap_page_sql, 6, argtypes, values, NULL,
							  false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not re-wrap relation keys");
	n = SPI_processed;
	catalog_end(&ca);

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
	TdeMasterKey *mk = tde_secure_alloc(sizeof(TdeMasterKey));
	CatalogAccess ca;
	Oid			argtypes[1] = {BYTEAOID};
	Datum		values[1];
	int64		n;

	require_active_key(mk);
	values[0] = PointerGetDatum(mkid_bytea(mk->mkid));
	tde_wipe(mk, sizeof(TdeMasterKey));

	catalog_begin(&ca);
	if (SPI_execute_with_args("SELECT count(*) FROM tde.relation_key WHERE master_key_id <> $1",
							  1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not count relation keys");
	n = DatumGetInt64(spi_value(1));
	catalog_end(&ca);
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
	TdeMasterKey *mk = tde_secure_alloc(sizeof(TdeMasterKey));
	uint8	   *key = tde_secure_alloc(TDE_RELKEY_LEN);
	uint8		dbident[16];
	bytea	   *result;

	if (VARSIZE_ANY_EXHDR(new_mkid) != TDE_MKID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a master key id is 16 bytes")));

	/* kept by the re-wrap; a direct call reads it through its own SPI */
	if (!kept_identity(identity_table(), dbident))
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		require_database_identity(dbident);
		SPI_finish();
	}
	unwrap_row(dbident, key_id, version, old_mkid, wrapped, key);
	if (!tde_masterkey_find((const uint8 *) VARDATA_ANY(new_mkid), mk))
		missing_master_key((const uint8 *) VARDATA_ANY(new_mkid));
	result = wrap_key(mk, dbident, key_id, version, key);
	tde_wipe(key, TDE_RELKEY_LEN);
	tde_wipe(mk, sizeof(TdeMasterKey));
	return result;
}
