/*-------------------------------------------------------------------------
 *
 * key_use.h
 *	  Which master keys the relation keys of every database of the cluster
 *	  are wrapped by (see key_use.c), for MOVE KEYS.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYS_KEY_USE_H
#define TDE_KEYS_KEY_USE_H

#include "tde/util/keyid.h"

/* nkeys relation keys of database dboid are wrapped by master key mkid */
typedef struct TdeKeyUse
{
	Oid			dboid;
	uint8		mkid[TDE_MKID_LEN];
	int64		nkeys;
} TdeKeyUse;

/*
 * Every (database, master key) pair in use, read from committed rows
 * after the writers of relation keys in flight have finished; *n is set to
 * the number of pairs.  Runs a background worker for each database but the
 * current one, one at a time, and waits for it (cancellable).
 */
extern TdeKeyUse *tde_cluster_key_use(int *n);

#endif							/* TDE_KEYS_KEY_USE_H */
