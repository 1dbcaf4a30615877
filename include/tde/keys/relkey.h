/*-------------------------------------------------------------------------
 *
 * relkey.h
 *	  Relation keys: per-relation data keys, wrapped by the master key in
 *	  the table tde.relation_key of each database, and cached unwrapped
 *	  per backend.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_RELKEY_H
#define TDE_RELKEY_H

#include "tde/crypto/cipher.h"

#define TDE_RELKEY_ID_LEN	16	/* a uuid */
#define TDE_RELKEY_LEN		32	/* AES-256 */

/*
 * An unwrapped relation key in a backend's cache.  Data nonces are this
 * entry's random 64-bit prefix and a 32-bit counter: unique per key as
 * long as no two cache entries (in any backend) draw the same prefix; the
 * prefix is drawn again when the counter wraps.
 */
typedef struct TdeRelKey
{
	uint8		key_id[TDE_RELKEY_ID_LEN];	/* hash key, with version */
	int32		version;
	Oid			relid;
	TdeGcmKey	gcm;			/* the key, set up for AES-256-GCM */
	uint8		nonce_prefix[8];
	uint32		nonce_counter;
} TdeRelKey;

extern void tde_relkey_init(void);
extern void tde_relkey_next_nonce(TdeRelKey *k, uint8 *nonce);

extern TdeRelKey *tde_relkey_for_encrypt(Oid relid);
extern TdeRelKey *tde_relkey_for_decrypt(Oid relid, const uint8 *key_id,
										 int32 version);
extern int32 tde_relkey_rotate(Oid relid);
extern void tde_relkey_invalidate_at_commit(void);
extern void tde_relkey_lock_for_rekey(void);
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

#endif							/* TDE_RELKEY_H */
