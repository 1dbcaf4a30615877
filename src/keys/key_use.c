/*-------------------------------------------------------------------------
 *
 * key_use.c
 *	  Which master keys the relation keys of every database are wrapped by.
 *
 * See keys/key_use.h.  MOVE KEYS must not take from the wallet a master
 * key that still wraps a relation key anywhere in the cluster, and each
 * database's tde.relation_key can only be read from inside it: the current
 * database is read here, every other one by a background worker that
 * connects to it (even one that allows no connections) and leaves its
 * answer in a dynamic shared memory segment.  The workers run one at a
 * time; the caller waits for each, and a cancel stops the wait and the
 * worker.  A database being dropped (invalid) is skipped.
 *
 * Locking: a new relation key takes RowExclusiveLock on tde.relation_key
 * before it reads the active master key (keys/relkey.c).  The count here
 * takes ShareLock first, so it waits for every writer in flight, and reads
 * with a fresh snapshot; it gives the lock back as soon as it has counted.
 * A relation key made after that is wrapped by the active key as it is
 * then; MOVE KEYS never moves the active key and refuses to go on if the
 * wallet changed meanwhile (keys/move.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "tde/keys/key_use.h"
#include "tde/keys/relkey_row.h"
#include "tde/keys/rewrap_worker.h"

/* distinct master keys one database may use; more is refused, not guessed */
#define MAX_USES_PER_DB	2048

typedef enum KeyUseStatus
{
	KEY_USE_NOT_RUN = 0,		/* the worker ended before answering */
	KEY_USE_DONE,
	KEY_USE_TOO_MANY,
	KEY_USE_FAILED
} KeyUseStatus;

typedef struct KeyUseCount
{
	uint8		mkid[TDE_MKID_LEN];
	int64		nkeys;
} KeyUseCount;

/* The segment a worker answers in */
typedef struct KeyUseShared
{
	Oid			dboid;
	int			status;			/* KeyUseStatus, set last */
	int			n;
	char		error[256];
	KeyUseCount uses[MAX_USES_PER_DB];
} KeyUseShared;

PGDLLEXPORT void tde_key_use_worker_main(Datum arg);

/*
 * The master keys this database's relation keys use, into out[0..max);
 * returns how many, or max + 1 if there are more.  Needs a transaction.
 */
static int
count_here(KeyUseCount *out, int max)
{
	Oid			nsp = get_namespace_oid("tde", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid("relation_key", nsp) : InvalidOid;
	TdeCatalogAccess ca;
	SPIPlanPtr	plan;
	int			n;
	uint64		i;

	/* a database without the extension has no relation keys */
	if (!OidIsValid(rel))
		return 0;
	/* waits for the writers in flight: see the locking note above */
	LockRelationOid(rel, ShareLock);
	tde_catalog_begin(&ca);
	plan = SPI_prepare("SELECT master_key_id, count(*) FROM tde.relation_key GROUP BY 1",
					   0, NULL);
	if (plan == NULL ||
		SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(),
							 InvalidSnapshot, true, false, max + 1) != SPI_OK_SELECT)
		elog(ERROR, "could not count the relation keys by master key");
	n = (int) SPI_processed;
	for (i = 0; i < SPI_processed && i < (uint64) max; i++)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[i];
		bytea	   *mkid = DatumGetByteaPP(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));

		/* the table's CHECK keeps it 16 bytes */
		memcpy(out[i].mkid, VARDATA_ANY(mkid), TDE_MKID_LEN);
		out[i].nkeys = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
	}
	tde_catalog_end(&ca);
	UnlockRelationOid(rel, ShareLock);
	return n;
}

void
tde_key_use_worker_main(Datum arg)
{
	dsm_segment *seg;
	KeyUseShared *ks;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* gone: the caller stopped waiting */
	if ((seg = dsm_attach(DatumGetUInt32(arg))) == NULL)
		proc_exit(0);
	ks = dsm_segment_address(seg);
	BackgroundWorkerInitializeConnectionByOid(ks->dboid, InvalidOid,
											  BGWORKER_BYPASS_ALLOWCONN);
	pgstat_report_appname("tde key use worker");

	PG_TRY();
	{
		int			n;

		StartTransactionCommand();
		n = count_here(ks->uses, MAX_USES_PER_DB);
		CommitTransactionCommand();
		ks->n = Min(n, MAX_USES_PER_DB);
		pg_write_barrier();
		ks->status = n > MAX_USES_PER_DB ? KEY_USE_TOO_MANY : KEY_USE_DONE;
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		strlcpy(ks->error, tde_worker_end_error()->message, sizeof(ks->error));
		pg_write_barrier();
		ks->status = KEY_USE_FAILED;
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();

	dsm_detach(seg);
	proc_exit(0);
}

static void
cannot_check(Oid dboid, const char *why)
{
	char	   *name = get_database_name(dboid);

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("could not find out which master keys the relation keys of database \"%s\" use",
					name ? name : "?"),
			 errdetail("%s", why)));
}

/* Run a worker in dboid and wait for its answer in ks. */
static void
run_worker(Oid dboid, dsm_segment *seg, KeyUseShared *ks)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;

	memset(ks, 0, offsetof(KeyUseShared, uses));
	ks->dboid = dboid;
	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(bgw.bgw_library_name, "tde", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "tde_key_use_worker_main", BGW_MAXLEN);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "tde key use worker");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "tde key use worker");
	bgw.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	bgw.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("tde could not start a background worker to read the relation keys of other databases"),
				 errhint("Raise max_worker_processes, or try again when fewer background workers run.")));
	PG_TRY();
	{
		if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
			ereport(FATAL,
					(errcode(ERRCODE_ADMIN_SHUTDOWN),
					 errmsg("postmaster exited while tde waited for a background worker")));
	}
	PG_CATCH();
	{
		TerminateBackgroundWorker(handle);
		PG_RE_THROW();
	}
	PG_END_TRY();
	pg_read_barrier();
}

/* The databases to look in: every one but those being dropped */
static Oid *
list_databases(int *n)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			max = 64;
	Oid		   *dbs = palloc(sizeof(Oid) * max);

	*n = 0;
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (database_is_invalid_form(db))
			continue;
		if (*n == max)
		{
			max *= 2;
			dbs = repalloc(dbs, sizeof(Oid) * max);
		}
		dbs[(*n)++] = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return dbs;
}

static void
append_uses(TdeKeyUse **out, int *n, int *max, Oid dboid,
			const KeyUseCount *uses, int nuses)
{
	int			i;

	for (i = 0; i < nuses; i++)
	{
		if (*n == *max)
		{
			*max *= 2;
			*out = repalloc(*out, sizeof(TdeKeyUse) * *max);
		}
		(*out)[*n].dboid = dboid;
		memcpy((*out)[*n].mkid, uses[i].mkid, TDE_MKID_LEN);
		(*out)[*n].nkeys = uses[i].nkeys;
		(*n)++;
	}
}

TdeKeyUse *
tde_cluster_key_use(int *n)
{
	int			ndbs;
	Oid		   *dbs = list_databases(&ndbs);
	dsm_segment *seg = dsm_create(sizeof(KeyUseShared), 0);
	KeyUseShared *ks = dsm_segment_address(seg);
	int			max = 64;
	TdeKeyUse  *out = palloc(sizeof(TdeKeyUse) * max);
	int			i;

	*n = 0;
	for (i = 0; i < ndbs; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (dbs[i] == MyDatabaseId)
		{
			ks->n = count_here(ks->uses, MAX_USES_PER_DB);
			ks->status = ks->n > MAX_USES_PER_DB ? KEY_USE_TOO_MANY : KEY_USE_DONE;
		}
		else
			run_worker(dbs[i], seg, ks);

		if (ks->status == KEY_USE_NOT_RUN &&
			!SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dbs[i])))
			continue;			/* dropped meanwhile */
		if (ks->status == KEY_USE_NOT_RUN)
			cannot_check(dbs[i], "The background worker ended without an answer; the server log says why.");
		if (ks->status == KEY_USE_FAILED)
			cannot_check(dbs[i], ks->error);
		if (ks->status == KEY_USE_TOO_MANY)
			cannot_check(dbs[i], psprintf("Its relation keys are wrapped by more than %d master keys.",
										  MAX_USES_PER_DB));
		append_uses(&out, n, &max, dbs[i], ks->uses, ks->n);
	}
	dsm_detach(seg);
	return out;
}
