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
 * Workers run one at a time: tde_rewrap_launch() marks the databases
 * PENDING in shared memory (tde_shared->progress, under state_lock) and
 * starts a worker for the first; each worker, when it exits for any
 * reason, starts the next PENDING one.  A worker commits every batch, so
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
#include "tcop/tcopprot.h"
#include "commands/dbcommands.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "tde/keys/relkey.h"
#include "tde/keys/rewrap_worker.h"
#include "tde/keystore/keyset.h"
#include "tde/keystore/keystore.h"
#include "tde/util/secure.h"

#define REWRAP_BATCH 1000

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

/* The first PENDING slot if no worker is running, else -1; under state_lock. */
static int
next_pending_locked(void)
{
	int			i;
	int			pending = -1;

	for (i = 0; i < tde_shared->nprogress; i++)
	{
		if (tde_shared->progress[i].state == TDE_REWRAP_RUNNING)
			return -1;
		if (pending < 0 && OidIsValid(tde_shared->progress[i].dboid) &&
			tde_shared->progress[i].state == TDE_REWRAP_PENDING)
			pending = i;
	}
	return pending;
}

static void
start_next(void)
{
	int			slot;

	LWLockAcquire(tde_shared->state_lock, LW_EXCLUSIVE);
	slot = next_pending_locked();
	if (slot >= 0)
		/* claim it before starting, so two launchers do not both start it */
		tde_shared->progress[slot].state = TDE_REWRAP_RUNNING;
	LWLockRelease(tde_shared->state_lock);

	if (slot >= 0 && !start_worker(slot))
	{
		/* left pending for the next launch */
		LWLockAcquire(tde_shared->state_lock, LW_EXCLUSIVE);
		tde_shared->progress[slot].state = TDE_REWRAP_PENDING;
		LWLockRelease(tde_shared->state_lock);
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
 * slots serve new ones; under state_lock.  An entry never moves: a worker
 * holds its slot number for as long as it runs.  A free slot has no
 * database; only free slots at the end are given back.
 */
static void
free_finished_slots(const Oid *dbs, int ndbs)
{
	int			i;

	for (i = 0; i < tde_shared->nprogress; i++)
	{
		TdeRewrapProgress *p = &tde_shared->progress[i];
		bool		active = p->state == TDE_REWRAP_PENDING ||
			p->state == TDE_REWRAP_RUNNING;

		if (OidIsValid(p->dboid) && !active && !db_listed(p->dboid, dbs, ndbs))
		{
			memset(p, 0, sizeof(*p));
			p->dboid = InvalidOid;
			p->state = TDE_REWRAP_DONE;
		}
	}
	while (tde_shared->nprogress > 0 &&
		   !OidIsValid(tde_shared->progress[tde_shared->nprogress - 1].dboid))
		tde_shared->nprogress--;
}

static void
mark_pending(Oid dboid, const uint8 *target)
{
	int			i;
	TdeRewrapProgress *p = NULL;
	TdeRewrapProgress *free_slot = NULL;

	for (i = 0; i < tde_shared->nprogress; i++)
	{
		if (tde_shared->progress[i].dboid == dboid)
			p = &tde_shared->progress[i];
		else if (free_slot == NULL && !OidIsValid(tde_shared->progress[i].dboid))
			free_slot = &tde_shared->progress[i];
	}
	if (p == NULL)
	{
		if (free_slot != NULL)
			p = free_slot;
		else if (tde_shared->nprogress < TDE_MAX_DATABASES)
			p = &tde_shared->progress[tde_shared->nprogress++];
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

	LWLockAcquire(tde_shared->state_lock, LW_EXCLUSIVE);
	free_finished_slots(dbs, ndbs);
	for (i = 0; i < ndbs; i++)
		if (dbs[i] != exclude_db)
			mark_pending(dbs[i], target);
	LWLockRelease(tde_shared->state_lock);

	/* a worker launching more work leaves the starting to the chain */
	if (my_slot < 0)
		start_next();
}

static void
set_state(TdeRewrapState state, const char *error)
{
	TdeRewrapProgress *p = &tde_shared->progress[my_slot];

	LWLockAcquire(tde_shared->state_lock, LW_EXCLUSIVE);
	p->state = state;
	if (error)
		strlcpy(p->error, error, sizeof(p->error));
	if (state != TDE_REWRAP_RUNNING)
		p->finished = GetCurrentTimestamp();
	LWLockRelease(tde_shared->state_lock);
}

static void
worker_exit(int code, Datum arg)
{
	if (my_slot < 0)
		return;
	LWLockAcquire(tde_shared->state_lock, LW_EXCLUSIVE);
	if (tde_shared->progress[my_slot].dboid == MyDatabaseId &&
		tde_shared->progress[my_slot].state == TDE_REWRAP_RUNNING)
	{
		tde_shared->progress[my_slot].state = TDE_REWRAP_FAILED;
		tde_shared->progress[my_slot].finished = GetCurrentTimestamp();
	}
	LWLockRelease(tde_shared->state_lock);
	my_slot = -1;
	start_next();
}

void
tde_rewrap_worker_main(Datum arg)
{
	int			slot = DatumGetInt32(arg);
	Oid			dboid;
	TdeRewrapCursor cursor;
	int64		stale = 0;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	my_slot = slot;
	before_shmem_exit(worker_exit, (Datum) 0);
	dboid = tde_shared->progress[slot].dboid;
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("tde rewrap worker");

	LWLockAcquire(tde_shared->state_lock, LW_EXCLUSIVE);
	tde_shared->progress[slot].started = GetCurrentTimestamp();
	LWLockRelease(tde_shared->state_lock);

	PG_TRY();
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
			PushActiveSnapshot(GetTransactionSnapshot());
			stale = tde_relkey_count_stale();
			PopActiveSnapshot();
			LWLockAcquire(tde_shared->state_lock, LW_EXCLUSIVE);
			tde_shared->progress[slot].total = stale;
			LWLockRelease(tde_shared->state_lock);
			skip = stale == 0;
			if (skip)
				set_state(TDE_REWRAP_DONE, NULL);
		}
		CommitTransactionCommand();

		/*
		 * Passes over the primary key, a committed page at a time; a pass
		 * that ends with keys still stale (a rekey came meanwhile) is
		 * followed by another.
		 */
		memset(&cursor, 0, sizeof(cursor));
		while (!skip)
		{
			int64		n;
			bool		pass_done;

			CHECK_FOR_INTERRUPTS();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			n = tde_relkey_rewrap_batch(REWRAP_BATCH, &cursor, &pass_done);
			stale = pass_done ? tde_relkey_count_stale() : -1;
			PopActiveSnapshot();
			CommitTransactionCommand();

			LWLockAcquire(tde_shared->state_lock, LW_EXCLUSIVE);
			tde_shared->progress[slot].done += n;
			if (stale >= 0)
				tde_shared->progress[slot].total =
					tde_shared->progress[slot].done + stale;
			else if (tde_shared->progress[slot].done > tde_shared->progress[slot].total)
				tde_shared->progress[slot].total = tde_shared->progress[slot].done;
			LWLockRelease(tde_shared->state_lock);

			if (pass_done)
			{
				if (stale == 0)
					break;
				memset(&cursor, 0, sizeof(cursor));
			}
		}
		if (!skip)
			set_state(TDE_REWRAP_DONE, NULL);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		set_state(TDE_REWRAP_FAILED, edata->message);
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();

	proc_exit(0);
}
