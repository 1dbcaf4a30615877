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

/* Mark every database but exclude_db for a re-wrap and start the first. */
extern void tde_rewrap_launch(Oid exclude_db);

#endif							/* TDE_KEYS_REWRAP_WORKER_H */
