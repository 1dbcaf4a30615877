/*-------------------------------------------------------------------------
 *
 * relkey_row.c
 *	  The rows of tde.relation_key: catalog access, the database identity,
 *	  and wrapping a relation key under a master key.
 *
 * See keys/relkey_row.h.  The associated data of the wrapping binds a row
 * to its database (the id in tde.database_identity, which pg_dump carries
 * over), its relation key id, version and MKID, so a wrapped key cannot be
 * moved to another row or replayed.
 *
 * Catalog access runs through SPI as the bootstrap superuser, with
 * schema-qualified names and operators, so the caller needs no privilege
 * on tde.relation_key and cannot redirect the queries.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/parallel.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid_d.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"

#include "tde/crypto/cipher.h"
#include "tde/keys/relkey_row.h"
#include "tde/keystore/keyset.h"
#include "tde/keystore/keystore.h"
#include "tde/util/keyid.h"
#include "tde/util/secure.h"

#define AAD_LABEL		"TDE-RK1"
#define AAD_LEN			(7 + 16 + TDE_RELKEY_ID_LEN + 4 + TDE_MKID_LEN)
#define WRAPPED_MAX		(TDE_RELKEY_LEN + TDE_WRAP_MAX_OVERHEAD)

/* This database's identity, kept once committed: see tde_database_identity() */
static Oid	identity_db = InvalidOid;
static Oid	identity_rel = InvalidOid;
static uint8 identity[16];
static bool identity_pending = false;
static SubTransactionId identity_subid = InvalidSubTransactionId;
static uint8 pending_identity[16];
static Oid	pending_identity_rel = InvalidOid;
static bool callbacks_registered = false;

/* ---------------------------------------------------------------------
 * Catalog access
 * ---------------------------------------------------------------------
 */

/*
 * Run catalog queries as the bootstrap superuser with search_path fixed to
 * pg_catalog, as a SECURITY DEFINER function with SET would: the caller's
 * search_path cannot redirect an operator or a function.
 */
void
tde_catalog_begin(TdeCatalogAccess *ca)
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

void
tde_catalog_end(TdeCatalogAccess *ca)
{
	SPI_finish();
	AtEOXact_GUC(true, ca->save_nestlevel);
	SetUserIdAndSecContext(ca->save_userid, ca->save_sec);
}

/* A plan prepared once per backend and kept (catalog queries on hot paths). */
SPIPlanPtr
tde_kept_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
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

Oid
tde_relation_key_table(void)
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
Datum
tde_spi_value(int col)
{
	bool		isnull;

	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);
}

bytea *
tde_spi_bytea(int col)
{
	return DatumGetByteaPP(tde_spi_value(col));
}

void
tde_spi_uuid(int col, uint8 *out)
{
	memcpy(out, DatumGetUUIDP(tde_spi_value(col))->data, UUID_LEN);
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

void
tde_forget_database_identity(void)
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

/*
 * An identity this transaction inserted becomes the kept one when it
 * commits, and is forgotten when the transaction, or the subtransaction
 * that inserted it, aborts.
 */
static void
identity_xact_callback(XactEvent event, void *arg)
{
	if (!identity_pending)
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		memcpy(identity, pending_identity, 16);
		identity_db = MyDatabaseId;
		identity_rel = pending_identity_rel;
		identity_pending = false;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE)
		tde_forget_database_identity();
}

static void
identity_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	if (identity_pending && identity_subid == mySubid)
	{
		if (event == SUBXACT_EVENT_ABORT_SUB)
			tde_forget_database_identity();
		else if (event == SUBXACT_EVENT_COMMIT_SUB)
			identity_subid = parentSubid;
	}
}

static void
register_callbacks(void)
{
	if (!callbacks_registered)
	{
		RegisterXactCallback(identity_xact_callback, NULL);
		RegisterSubXactCallback(identity_subxact_callback, NULL);
		callbacks_registered = true;
	}
}

/*
 * Direct reads, without SPI: under the active snapshot, as a read-only
 * query would read (and so also in a parallel worker, which shares the
 * leader's snapshot).  No privilege is checked: the caller is tde's C code.
 */
static Snapshot
direct_snapshot(void)
{
	return ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;
}

/* The identity row under the active snapshot; false if none is seen */
static bool
identity_direct(Oid relid, uint8 *out)
{
	Snapshot	snap = direct_snapshot();
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	if (snap == NULL || !OidIsValid(relid))
		return false;
	rel = table_open(relid, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, snap, 0, NULL);
	if ((tup = systable_getnext(scan)) != NULL)
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, 1, RelationGetDescr(rel), &isnull);

		if (!isnull)
		{
			memcpy(out, DatumGetUUIDP(d)->data, UUID_LEN);
			found = true;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The row of one relation key version, by its primary key, under the
 * active snapshot; false if none is seen.  The values are copied into the
 * current memory context.
 */
bool
tde_relkey_row_fetch(const uint8 *key_id, int32 version, Oid *relid,
					 bytea **mkid, bytea **wrapped)
{
	Snapshot	snap = direct_snapshot();
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData skey[2];
	HeapTuple	tup;
	pg_uuid_t	id;
	bool		found = false;

	if (snap == NULL)
		return false;
	memcpy(id.data, key_id, UUID_LEN);
	rel = table_open(tde_relation_key_table(), AccessShareLock);
	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_UUID_EQ,
				UUIDPGetDatum(&id));
	ScanKeyInit(&skey[1], 2, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(version));
	scan = systable_beginscan(rel, RelationGetPrimaryKeyIndex(rel), true,
							  snap, 2, skey);
	if ((tup = systable_getnext(scan)) != NULL)
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		null1,
					null2,
					null3;
		Datum		r = heap_getattr(tup, 3, desc, &null1);
		Datum		m = heap_getattr(tup, 4, desc, &null2);
		Datum		w = heap_getattr(tup, 5, desc, &null3);

		if (null1 || null2 || null3)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("a row of tde.relation_key is malformed")));
		*relid = DatumGetObjectId(r);
		*mkid = DatumGetByteaPCopy(m);
		*wrapped = DatumGetByteaPCopy(w);
		found = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* The kept identity, if it is still this database's; no query. */
bool
tde_kept_database_identity(uint8 *out)
{
	return kept_identity(identity_table(), out);
}

/*
 * The identity, kept or read directly under the active snapshot (then
 * kept, unless this is a parallel worker); no SPI.  False if none is seen.
 */
bool
tde_database_identity_direct(uint8 *out)
{
	Oid			rel = identity_table();

	if (kept_identity(rel, out))
		return true;
	if (!identity_direct(rel, out))
		return false;
	if (!IsParallelWorker())
	{
		/* not pending (kept_identity would have said): committed */
		tde_forget_database_identity();
		memcpy(identity, out, 16);
		identity_db = MyDatabaseId;
		identity_rel = rel;
	}
	return true;
}

bool
tde_database_identity(bool create, uint8 *out)
{
	Oid			rel = identity_table();

	if (kept_identity(rel, out))
		return true;
	tde_forget_database_identity();
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
			tde_spi_uuid(1, out);
			memcpy(pending_identity, out, 16);
			pending_identity_rel = rel;
			identity_pending = true;
			identity_subid = GetCurrentSubTransactionId();
			register_callbacks();
			return true;
		}
	}
	if (identity_direct(rel, out))
		;
	else if (IsInParallelMode())
		return false;			/* SPI would read the same snapshot */
	else
	{
		/* a fresh snapshot: an identity committed since this statement began */
		if (SPI_execute_plan(tde_kept_plan(&identity_plan, "SELECT id FROM tde.database_identity", 0, NULL),
							 NULL, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the database identity");
		if (SPI_processed != 1)
			return false;
		tde_spi_uuid(1, out);
	}
	/* not inserted by this transaction (that would be pending): committed */
	memcpy(identity, out, 16);
	identity_db = MyDatabaseId;
	identity_rel = rel;
	return true;
}

void
tde_require_database_identity(uint8 *out)
{
	if (!tde_database_identity(false, out))
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

void
tde_missing_master_key(const uint8 *mkid)
{
	char		key_id[TDE_KEY_ID_LEN + 1];

	tde_mkid_to_key_id(mkid, key_id);
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("master key \"%s\" is not in the open keystore", key_id),
			 errdetail("ORA-28374: typed master key not found in wallet"),
			 errhint("Open the keystore that holds this key, or restore it from the backup that does.")));
}

void
tde_relkey_unwrap_row(const uint8 *dbident, const uint8 *key_id, int32 version,
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
		tde_missing_master_key((const uint8 *) VARDATA_ANY(mkid));
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

bytea *
tde_relkey_wrap(const TdeMasterKey *mk, const uint8 *dbident, const uint8 *key_id,
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

/*
 * A row's wrapped key from one held master key to another (a re-wrap
 * statement): unwrapped and wrapped again without a lookup or a copy of
 * either master key; the key is cleansed.
 */
bytea *
tde_relkey_rewrap_with(TdeMkCipher *from, TdeMkCipher *to, const uint8 *dbident,
					   const uint8 *key_id, int32 version, const bytea *wrapped)
{
	uint8		aad[AAD_LEN];
	uint8		key[WRAPPED_MAX];
	int			keylen = 0;
	bytea	   *out;
	int			len;

	if (VARSIZE_ANY_EXHDR(wrapped) > WRAPPED_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a row of tde.relation_key is malformed")));
	build_aad(aad, dbident, key_id, version, from->mk->mkid);
	if (!tde_mk_cipher_unwrap(from, aad, AAD_LEN, (const uint8 *) VARDATA_ANY(wrapped),
							  VARSIZE_ANY_EXHDR(wrapped), key, &keylen) ||
		keylen != TDE_RELKEY_LEN)
	{
		explicit_bzero(key, sizeof(key));
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("relation key could not be unwrapped"),
				 errdetail("The wrapped key does not authenticate under its master key: the row was altered or moved.")));
	}
	build_aad(aad, dbident, key_id, version, to->mk->mkid);
	out = palloc(VARHDRSZ + WRAPPED_MAX);
	len = tde_mk_cipher_wrap(to, aad, AAD_LEN, key, TDE_RELKEY_LEN, (uint8 *) VARDATA(out));
	explicit_bzero(key, sizeof(key));
	SET_VARSIZE(out, VARHDRSZ + len);
	return out;
}

bytea *
tde_mkid_bytea(const uint8 *mkid)
{
	bytea	   *b = palloc(VARHDRSZ + TDE_MKID_LEN);

	SET_VARSIZE(b, VARHDRSZ + TDE_MKID_LEN);
	memcpy(VARDATA(b), mkid, TDE_MKID_LEN);
	return b;
}

Datum
tde_uuid_datum(const uint8 *id)
{
	pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

	memcpy(u->data, id, UUID_LEN);
	return UUIDPGetDatum(u);
}

void
tde_require_active_key(TdeMasterKey *mk)
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
