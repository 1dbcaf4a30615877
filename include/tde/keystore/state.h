/*-------------------------------------------------------------------------
 *
 * state.h
 *	  The instance-wide state of tde, in shared memory.
 *
 * The keystore is instance-wide, as in Oracle: opening it in one session
 * opens it for every session of every database.  Its status lives in one
 * struct in shared memory, so the library must be in
 * shared_preload_libraries.  state.c sizes and sets up the struct (tde.c
 * calls it from its shared-memory hooks).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_STATE_H
#define TDE_KEYSTORE_STATE_H

#include "port/atomics.h"
#include "storage/lwlock.h"

#include "tde/keystore/keyrecord.h"
#include "tde/store/hsm.h"
#include "tde/util/keyid.h"

/* How the keystore currently in memory was opened. */
typedef enum TdeOpenKind
{
	TDE_OPEN_NONE = 0,			/* closed */
	TDE_OPEN_PASSWORD,			/* ewallet.p12 with its password */
	TDE_OPEN_AUTOLOGIN,			/* cwallet.sso */
	TDE_OPEN_LOCAL_AUTOLOGIN	/* cwallet.sso bound to this host */
} TdeOpenKind;


/*
 * Shared state.  Locking:
 *
 * - state_lock (an LWLock) guards every field but generation.  It is held
 *   only to copy fields in or out: never across a KDF, an fsync, a PKCS#11
 *   call, SPI or any wait, and no other lock is taken while it is held.
 * - The keystore lock (keystore/config.c: the flock on the wallet
 *   directory, re-entrant within a backend, its wait cancellable)
 *   serializes every operation that opens, closes or changes a keystore:
 *   those take seconds at the default KDF cost.  It is taken before
 *   state_lock, never while holding it; readers of the status and the
 *   keys take state_lock only, so they never wait for a change.
 * - tde.relation_key's table lock (keys/relkey.c) is taken before the
 *   keystore lock by a rekey.
 * - generation is an atomic counter bumped (under state_lock) whenever the
 *   open keys change (open, close, rekey); backends compare it to drop
 *   their caches without taking a lock.
 *
 * Master keys of the open keystore are kept here with their metadata: key
 * material in shared memory, as Oracle keeps it in the SGA.  No password is
 * ever kept: every operation that needs one is given it and checks it
 * against the file.
 */
typedef struct TdeSharedState TdeSharedState;	/* in state.c only */

/* One row of v$encryption_wallet. */
typedef struct TdeWalletStatus
{
	const char *wrl_type;
	char	   *wrl_parameter;	/* NULL when tde.wallet_root is not set */
	const char *status;
	const char *wallet_type;
	const char *wallet_order;
	const char *keystore_mode;
	const char *fully_backed_up;
	int			con_id;
} TdeWalletStatus;

/*
 * The open key sets and their status.  TdeSharedState is defined in
 * state.c, and these functions are its only readers and writers: each
 * takes state_lock for the copy it makes, and nothing else.  A key set is
 * found only while its keystore is open.
 */
typedef enum TdeKeySetId
{
	TDE_FILE_KEYS,				/* the file wallet's */
	TDE_HSM_KEYS				/* the HSM's */
} TdeKeySetId;

typedef struct TdeKeySetStatus
{
	bool		open;
	TdeOpenKind open_kind;		/* the file wallet: how it was opened */
	int			nkeys;
	bool		has_active;
	bool		fully_backed_up;	/* the file wallet: every key in a backup */
} TdeKeySetStatus;

extern void tde_state_key_set_status(TdeKeySetId id, TdeKeySetStatus *out);
extern bool tde_state_is_open(TdeKeySetId id);
extern TdeOpenKind tde_state_file_open_kind(void);
extern void tde_state_publish_file(const TdeKeySet *set, TdeOpenKind kind,
								   bool fully_backed_up);
extern void tde_state_publish_hsm(const TdeKeySet *set, const char *credential);
extern bool tde_state_hsm_credential_matches(const char *credential);
extern bool tde_state_hsm_credential(char *buf, Size buflen, uint64 *generation);
extern bool tde_state_find_key(TdeKeySetId id, const uint8 *mkid, TdeMasterKey *out);
extern bool tde_state_active_key(TdeKeySetId id, TdeMasterKey *out);

/* For the views: copies of the keys without key bytes (metadata) */
extern int	tde_state_copy_key_metadata(TdeMasterKey *out, int max);
extern int	tde_state_copy_secret_metadata(TdeSecretMeta *out, int max);
/* The open keys changed in a way every backend must see (DROP EXTENSION) */
extern void tde_state_bump_generation(void);

/* Set-up, from tde.c's shared-memory hooks */
extern Size tde_state_key_area_size(void);
extern void tde_state_shmem_request(void);
extern void tde_state_shmem_startup(void);

extern void tde_require_loaded(void);
extern uint64 tde_generation(void);

#endif							/* TDE_KEYSTORE_STATE_H */
