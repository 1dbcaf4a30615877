/*-------------------------------------------------------------------------
 *
 * rewrap_worker.h
 *	  Re-wrapping the relation keys of other databases in the background
 *	  (see rewrap_worker.c); its progress is in keystore/state.h and shown
 *	  by tde.rewrap_progress (sql/views.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYS_REWRAP_WORKER_H
#define TDE_KEYS_REWRAP_WORKER_H

#include "datatype/timestamp.h"
#include "utils/elog.h"

#include "tde/util/keyid.h"

/* Progress of re-wrapping one database's relation keys in the background */
typedef enum TdeRewrapState
{
	TDE_REWRAP_PENDING,
	TDE_REWRAP_RUNNING,
	TDE_REWRAP_DONE,
	TDE_REWRAP_SKIPPED,			/* the database has no tde extension */
	TDE_REWRAP_WAITING,			/* the keystore is closed */
	TDE_REWRAP_FAILED
} TdeRewrapState;

#define TDE_MAX_DATABASES 4096

typedef struct TdeRewrapProgress
{
	Oid			dboid;
	TdeRewrapState state;
	uint8		target_mkid[TDE_MKID_LEN];
	int64		total;
	int64		done;
	TimestampTz started;
	TimestampTz finished;
	char		error[256];
} TdeRewrapProgress;

/* tde.rewrap_workers: how many databases are re-wrapped at once */
extern int	tde_rewrap_workers;

/* Shared memory for the progress table, from tde.c's hooks */
extern void tde_rewrap_shmem_request(void);
extern void tde_rewrap_shmem_startup(void);

/* A copy of the progress entries, for tde.rewrap_progress; returns how many */
extern int	tde_rewrap_copy_progress(TdeRewrapProgress *out, int max);

/* In a background worker's PG_CATCH: log, clear and end the error */
extern ErrorData *tde_worker_end_error(void);

/* Mark every database but exclude_db for a re-wrap and start the first. */
extern void tde_rewrap_launch(Oid exclude_db);

#endif							/* TDE_KEYS_REWRAP_WORKER_H */
