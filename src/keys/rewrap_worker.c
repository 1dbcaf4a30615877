/*-------------------------------------------------------------------------
 *
 * rewrap_worker.c
 *	  Re-wrapping the relation keys of other databases in the background.
 *
 * A rekey re-wraps the current database's relation keys in its own
 * transaction; every other database is re-wrapped by a dynamic background
 * worker, without anyone connecting to it.  Opening the keystore does the
 * same for every database, which finishes a re-wrap that a crash or a
 * closed keystore left undone.
 *
 * Up to tde.rewrap_workers workers run at once: tde_rewrap_launch() marks
 * the databases PENDING in shared memory (RewrapShared below) and starts
 * workers for the first ones; each worker, when it exits for any reason,
 * starts the next PENDING ones up to that number.  A worker commits every batch, so
 * it can be interrupted and resumes where it stopped; until it reaches a
 * row, that row's key keeps working under the older master key, which the
 * keystore never drops.  Progress is visible in tde.rewrap_progress.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "commands/dbcommands.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "tde/keys/relkey.h"
#include "tde/keys/relkey_rewrap.h"
#include "tde/keys/rewrap_worker.h"
#include "tde/keystore/keyset.h"
#include "tde/keystore/keystore.h"
#include "tde/util/secure.h"

#define REWRAP_BATCH 1000
#define REWRAP_LWLOCK_TRANCHE "tde_rewrap"

/*
 * The progress table, in shared memory of its own; this unit is its only
 * reader and writer (tde.rewrap_progress gets a copy).  lock guards every
 * field; it is held only to read or change entries, never across SPI, a
 * wait or a call into another unit, and no other lock is taken under it.
 * An entry never moves: a worker holds its slot number for as long as it
 * runs.
 */
typedef struct RewrapShared
{
	LWLock	   *lock;
	int			nprogress;		/* entries in use */
	TdeRewrapProgress progress[TDE_MAX_DATABASES];
} RewrapShared;

static RewrapShared *rw = NULL;

void
tde_rewrap_shmem_request(void)
{
	RequestAddinShmemSpace(sizeof(RewrapShared));
	RequestNamedLWLockTranche(REWRAP_LWLOCK_TRANCHE, 1);
}

/* From shmem_startup_hook; the caller holds AddinShmemInitLock. */
void
tde_rewrap_shmem_startup(void)
{
	bool		found;

	rw = ShmemInitStruct("tde_rewrap", sizeof(RewrapShared), &found);
	if (!found)
	{
		memset(rw, 0, sizeof(RewrapShared));
		rw->lock = &GetNamedLWLockTranche(REWRAP_LWLOCK_TRANCHE)->lock;
	}
}

int
tde_rewrap_copy_progress(TdeRewrapProgress *out, int max)
{
	int			n;

	LWLockAcquire(rw->lock, LW_SHARED);
	n = Min(rw->nprogress, max);
	memcpy(out, rw->progress, sizeof(TdeRewrapProgress) * n);
	LWLockRelease(rw->lock);
	return n;
}

PGDLLEXPORT void tde_rewrap_worker_main(Datum arg);


static int	my_slot = -1;

static bool
start_worker(int slot)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(bgw.bgw_library_name, "tde", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "tde_rewrap_worker_main", BGW_MAXLEN);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "tde rewrap worker");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "tde rewrap worker");
	bgw.bgw_main_arg = Int32GetDatum(slot);
	bgw.bgw_notify_pid = 0;

	if (RegisterDynamicBackgroundWorker(&bgw, &handle))
		return true;
	ereport(LOG,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("tde could not start a background worker to re-wrap relation keys"),
			 errhint("Raise max_worker_processes; the re-wrap resumes the next time the keystore is opened.")));
	return false;
}

int			tde_rewrap_workers = 2;

/*
 * Claim the next PENDING slot if fewer than tde.rewrap_workers workers
 * run, else -1; under rw->lock.  Claimed before the worker starts, so two
 * launchers never start the same one.
 */
static int
claim_next_locked(void)
{
	int			i;
	int			running = 0;
	int			pending = -1;

	for (i = 0; i < rw->nprogress; i++)
	{
		if (rw->progress[i].state == TDE_REWRAP_RUNNING)
			running++;
		else if (pending < 0 && OidIsValid(rw->progress[i].dboid) &&
				 rw->progress[i].state == TDE_REWRAP_PENDING)
			pending = i;
	}
	if (pending < 0 || running >= Max(tde_rewrap_workers, 1))
		return -1;
	rw->progress[pending].state = TDE_REWRAP_RUNNING;
	return pending;
}

static void
start_next(void)
{
	for (;;)
	{
		int			slot;

		LWLockAcquire(rw->lock, LW_EXCLUSIVE);
		slot = claim_next_locked();
		LWLockRelease(rw->lock);
		if (slot < 0)
			return;
		if (!start_worker(slot))
		{
			/* left pending for the next launch or worker exit */
			LWLockAcquire(rw->lock, LW_EXCLUSIVE);
			rw->progress[slot].state = TDE_REWRAP_PENDING;
			LWLockRelease(rw->lock);
			return;
		}
	}
}

static bool
db_listed(Oid dboid, const Oid *dbs, int ndbs)
{
	int			i;

	for (i = 0; i < ndbs; i++)
		if (dbs[i] == dboid)
			return true;
	return false;
}

/*
 * Free the finished entries of databases that no longer exist, so their
 * slots serve new ones; under rw->lock.  An entry never moves: a worker
 * holds its slot number for as long as it runs.  A free slot has no
 * database; only free slots at the end are given back.
 */
static void
free_finished_slots(const Oid *dbs, int ndbs)
{
	int			i;

	for (i = 0; i < rw->nprogress; i++)
	{
		TdeRewrapProgress *p = &rw->progress[i];
		bool		active = p->state == TDE_REWRAP_PENDING ||
			p->state == TDE_REWRAP_RUNNING;

		if (OidIsValid(p->dboid) && !active && !db_listed(p->dboid, dbs, ndbs))
		{
			memset(p, 0, sizeof(*p));
			p->dboid = InvalidOid;
			p->state = TDE_REWRAP_DONE;
		}
	}
	while (rw->nprogress > 0 &&
		   !OidIsValid(rw->progress[rw->nprogress - 1].dboid))
		rw->nprogress--;
}

static void
mark_pending(Oid dboid, const uint8 *target)
{
	int			i;
	TdeRewrapProgress *p = NULL;
	TdeRewrapProgress *free_slot = NULL;

	for (i = 0; i < rw->nprogress; i++)
	{
		if (rw->progress[i].dboid == dboid)
			p = &rw->progress[i];
		else if (free_slot == NULL && !OidIsValid(rw->progress[i].dboid))
			free_slot = &rw->progress[i];
	}
	if (p == NULL)
	{
		if (free_slot != NULL)
			p = free_slot;
		else if (rw->nprogress < TDE_MAX_DATABASES)
			p = &rw->progress[rw->nprogress++];
		else
		{
			ereport(WARNING,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("tde can track the re-wrap of at most %d databases at once; database %u is not re-wrapped now",
							TDE_MAX_DATABASES, dboid),
					 errhint("It is re-wrapped the next time the keystore is opened or rekeyed.")));
			return;
		}
		memset(p, 0, sizeof(*p));
		p->dboid = dboid;
	}
	else if (p->state == TDE_REWRAP_RUNNING || p->state == TDE_REWRAP_PENDING)
		return;
	p->state = TDE_REWRAP_PENDING;
	p->total = p->done = 0;
	p->started = p->finished = 0;
	p->error[0] = '\0';
	memcpy(p->target_mkid, target, TDE_MKID_LEN);
}

/*
 * Re-wrap every connectable database but exclude_db in the background.
 * Needs a transaction (it reads pg_database).
 */
void
tde_rewrap_launch(Oid exclude_db)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	Oid		   *dbs;
	int			ndbs = 0;
	int			maxdbs = 64;
	int			i;
	TdeMasterKey *active;
	uint8		target[TDE_MKID_LEN];

	/* a standby receives the primary's re-wrap through WAL */
	if (!IsTransactionState() || RecoveryInProgress())
		return;
	/* nothing to re-wrap to without an active key in the open keystore */
	active = tde_secure_alloc(sizeof(TdeMasterKey));
	if (!tde_masterkey_active(active))
		return;
	memcpy(target, active->mkid, TDE_MKID_LEN);
	tde_wipe(active, sizeof(TdeMasterKey));
	dbs = palloc(sizeof(Oid) * maxdbs);
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (!db->datallowconn)
			continue;
		if (ndbs == maxdbs)
		{
			maxdbs *= 2;
			dbs = repalloc(dbs, sizeof(Oid) * maxdbs);
		}
		dbs[ndbs++] = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	LWLockAcquire(rw->lock, LW_EXCLUSIVE);
	free_finished_slots(dbs, ndbs);
	for (i = 0; i < ndbs; i++)
		if (dbs[i] != exclude_db)
			mark_pending(dbs[i], target);
	LWLockRelease(rw->lock);

	/* a worker launching more work leaves the starting to the chain */
	if (my_slot < 0)
		start_next();
}

static void
set_state(TdeRewrapState state, const char *error)
{
	TdeRewrapProgress *p = &rw->progress[my_slot];

	LWLockAcquire(rw->lock, LW_EXCLUSIVE);
	p->state = state;
	if (error)
		strlcpy(p->error, error, sizeof(p->error));
	if (state != TDE_REWRAP_RUNNING)
		p->finished = GetCurrentTimestamp();
	LWLockRelease(rw->lock);
}

static void
worker_exit(int code, Datum arg)
{
	if (my_slot < 0)
		return;
	LWLockAcquire(rw->lock, LW_EXCLUSIVE);
	if (rw->progress[my_slot].dboid == MyDatabaseId &&
		rw->progress[my_slot].state == TDE_REWRAP_RUNNING)
	{
		rw->progress[my_slot].state = TDE_REWRAP_FAILED;
		rw->progress[my_slot].finished = GetCurrentTimestamp();
	}
	LWLockRelease(rw->lock);
	my_slot = -1;
	start_next();
}

/*
 * The first look, in one transaction: is there anything to do here?
 * Sets the final state and returns true if not.
 */
static bool
nothing_to_do(int slot)
{
	bool		skip = false;

	StartTransactionCommand();
	if (!OidIsValid(get_extension_oid("tde", true)))
	{
		skip = true;
		set_state(TDE_REWRAP_SKIPPED, NULL);
	}
	else if (!tde_keystore_is_open())
	{
		/* never opened from here: a keystore closed by hand stays closed */
		skip = true;
		set_state(TDE_REWRAP_WAITING, "the keystore is closed");
	}
	else
	{
		int64		stale;

		PushActiveSnapshot(GetTransactionSnapshot());
		stale = tde_relkey_count_stale();
		PopActiveSnapshot();
		LWLockAcquire(rw->lock, LW_EXCLUSIVE);
		rw->progress[slot].total = stale;
		LWLockRelease(rw->lock);
		skip = stale == 0;
		if (skip)
			set_state(TDE_REWRAP_DONE, NULL);
	}
	CommitTransactionCommand();
	return skip;
}

/* n more keys done; stale (-1: not counted) are left */
static void
report_batch(int slot, int64 n, int64 stale)
{
	TdeRewrapProgress *p = &rw->progress[slot];

	LWLockAcquire(rw->lock, LW_EXCLUSIVE);
	p->done += n;
	if (stale >= 0)
		p->total = p->done + stale;
	else if (p->done > p->total)
		p->total = p->done;
	LWLockRelease(rw->lock);
}

/*
 * Passes over the primary key, a committed page at a time; a pass that
 * ends with keys still stale (a rekey came meanwhile) is followed by
 * another.
 */
static void
rewrap_all(int slot)
{
	TdeRewrapCursor cursor;

	memset(&cursor, 0, sizeof(cursor));
	for (;;)
	{
		int64		n;
		int64		stale;
		bool		pass_done;

		CHECK_FOR_INTERRUPTS();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		n = tde_relkey_rewrap_batch(REWRAP_BATCH, &cursor, &pass_done);
		stale = pass_done ? tde_relkey_count_stale() : -1;
		PopActiveSnapshot();
		CommitTransactionCommand();
		report_batch(slot, n, stale);

		if (pass_done)
		{
			if (stale == 0)
				break;
			memset(&cursor, 0, sizeof(cursor));
		}
	}
	set_state(TDE_REWRAP_DONE, NULL);
}

/*
 * In a worker's PG_CATCH, with interrupts held: the error logged and
 * cleared, the transaction ended; returns a copy of the error.
 */
ErrorData *
tde_worker_end_error(void)
{
	ErrorData  *edata = CopyErrorData();

	EmitErrorReport();
	FlushErrorState();
	AbortOutOfAnyTransaction();
	return edata;
}

void
tde_rewrap_worker_main(Datum arg)
{
	int			slot = DatumGetInt32(arg);
	Oid			dboid;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	my_slot = slot;
	before_shmem_exit(worker_exit, (Datum) 0);
	dboid = rw->progress[slot].dboid;
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("tde rewrap worker");

	LWLockAcquire(rw->lock, LW_EXCLUSIVE);
	rw->progress[slot].started = GetCurrentTimestamp();
	LWLockRelease(rw->lock);

	PG_TRY();
	{
		if (!nothing_to_do(slot))
			rewrap_all(slot);
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		set_state(TDE_REWRAP_FAILED, tde_worker_end_error()->message);
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();

	proc_exit(0);
}
