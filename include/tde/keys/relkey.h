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
#include "tde/keys/relkey_row.h"

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
	TdeNonceCounter nonces;		/* the data nonces of this session */
} TdeRelKey;

extern void tde_relkey_init(void);
extern void tde_relkey_next_nonce(TdeRelKey *k, uint8 *nonce);

extern TdeRelKey *tde_relkey_for_encrypt(Oid relid);
extern TdeRelKey *tde_relkey_for_decrypt(Oid relid, const uint8 *key_id,
										 int32 version);
extern int32 tde_relkey_rotate(Oid relid);

/* Keeping a returned key across calls (a function's fn_extra) */
extern uint64 tde_relkey_epoch(void);
extern bool tde_relkey_still_cached(uint64 epoch);
extern void tde_relkey_invalidate_at_commit(void);

#endif							/* TDE_RELKEY_H */
