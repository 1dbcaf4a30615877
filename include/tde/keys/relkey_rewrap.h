/*-------------------------------------------------------------------------
 *
 * relkey_rewrap.h
 *	  Re-wrapping this database's relation keys under the active master key.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_RELKEY_REWRAP_H
#define TDE_RELKEY_REWRAP_H

#include "tde/keys/relkey_row.h"

/* Before a rekey changes the active key; held to commit. */
extern void tde_relkey_lock_for_rekey(void);

/* Every relation key of this database, in one statement. */
extern int64 tde_relkey_rewrap_database(void);

/* where the background re-wrap stands in the primary key order */
typedef struct TdeRewrapCursor
{
	uint8		key_id[TDE_RELKEY_ID_LEN];	/* all zero at the start */
	int32		version;		/* 0 at the start */
} TdeRewrapCursor;

extern int64 tde_relkey_rewrap_batch(int limit, TdeRewrapCursor *cursor,
									 bool *pass_done);
extern int64 tde_relkey_count_stale(void);

/* the work of tde.rewrap_relation_key (sql/data_sql.c) */
extern bytea *tde_relkey_rewrap_one(const uint8 *key_id, int32 version,
									 bytea *old_mkid, bytea *wrapped,
									 bytea *new_mkid);

/* true while tde's own re-wrap statement runs: its caller was checked */
extern bool tde_relkey_rewrap_running(void);

/* After SET KEYSTORE OPEN: a WARNING naming master keys this database needs and lacks */
extern void tde_relkey_warn_missing_master_keys(void);

#endif							/* TDE_RELKEY_REWRAP_H */
