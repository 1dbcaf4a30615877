/*-------------------------------------------------------------------------
 *
 * state.c
 *	  The shared-memory struct of tde: its size, its set-up, and the
 *	  generation of the open keys.  See keystore/state.h for the struct
 *	  and which lock guards what.
 *
 * The struct is sized in shmem_request_hook and set up in
 * shmem_startup_hook under AddinShmemInitLock (tde.c's hooks call in
 * here), as pg_stat_statements does.  After a restart (or a crash and
 * reinitialisation) the struct starts zeroed: every keystore is closed,
 * and an auto-login wallet opens again on first use.
 *
 * The struct holds master keys, so it starts on a page boundary and spans
 * whole pages (the request has a page more than it needs, for the
 * alignment), and the postmaster, which creates it, locks those pages in
 * RAM and leaves them out of core dumps (tde_secure_protect_shared): the
 * mapping is shared, so the pages locked by the postmaster stay resident
 * for every backend, and fork passes MADV_DONTDUMP on.  Where the kernel
 * refuses (RLIMIT_MEMLOCK, huge pages), the server runs with a WARNING.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include <openssl/crypto.h>

#include "tde/keystore/state.h"
#include "tde/util/secure.h"

#define TDE_LWLOCK_TRANCHE "tde"

/* The struct: its locking note is in keystore/state.h. */
typedef struct TdeSharedState
{
	LWLock	   *state_lock;
	pg_atomic_uint64 generation;
	/* the file wallet */
	TdeOpenKind open_kind;
	bool		fully_backed_up;	/* every wallet key is in a backup */
	TdeKeySet	file_keys;
	/* the HSM: its credential is here so every backend can log in */
	bool		hsm_open;
	uint64		hsm_cred_generation;
	char		hsm_credential[TDE_HSM_CREDENTIAL_MAX];
	TdeKeySet	hsm_keys;
} TdeSharedState;


static TdeSharedState *tde_shared = NULL;

/* The key area: whole pages, and one more to align its start */
Size
tde_state_key_area_size(void)
{
	return TYPEALIGN(tde_secure_page_size(), sizeof(TdeSharedState));
}

static Size
shared_state_request(void)
{
	return tde_state_key_area_size() + tde_secure_page_size();
}

/* From shmem_request_hook */
void
tde_state_shmem_request(void)
{
	RequestAddinShmemSpace(shared_state_request());
	RequestNamedLWLockTranche(TDE_LWLOCK_TRANCHE, 1);
}

/* From shmem_startup_hook; the caller holds AddinShmemInitLock. */
void
tde_state_shmem_startup(void)
{
	bool		found;
	void	   *base;

	base = ShmemInitStruct("tde", shared_state_request(), &found);
	tde_shared = (TdeSharedState *) TYPEALIGN(tde_secure_page_size(), base);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche(TDE_LWLOCK_TRANCHE);

		memset(tde_shared, 0, tde_state_key_area_size());
		/* the postmaster (or a standalone backend) creates the struct */
		(void) tde_secure_protect_shared(tde_shared, tde_state_key_area_size());
		tde_shared->state_lock = &locks[0].lock;
		tde_shared->open_kind = TDE_OPEN_NONE;
		tde_shared->file_keys.active = -1;
		tde_shared->hsm_keys.active = -1;
		pg_atomic_init_u64(&tde_shared->generation, 1);
	}
}

/*
 * SQL functions call this first; it only fails if shared memory is missing,
 * which _PG_init already prevents, but it keeps the invariant visible.
 */
void
tde_require_loaded(void)
{
	if (tde_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tde must be loaded via shared_preload_libraries")));
}

/* The generation of the open keys; see TdeSharedState. */
uint64
tde_generation(void)
{
	return pg_atomic_read_u64(&tde_shared->generation);
}

/* ---------------------------------------------------------------------
 * The open key sets (see state.h); each function holds state_lock only
 * for its copy.
 * ---------------------------------------------------------------------
 */

static TdeKeySet *
key_set(TdeKeySetId id)
{
	return id == TDE_HSM_KEYS ? &tde_shared->hsm_keys : &tde_shared->file_keys;
}

/* state_lock held */
static bool
set_open(TdeKeySetId id)
{
	return id == TDE_HSM_KEYS ? tde_shared->hsm_open
		: tde_shared->open_kind != TDE_OPEN_NONE;
}

void
tde_state_key_set_status(TdeKeySetId id, TdeKeySetStatus *out)
{
	LWLockAcquire(tde_shared->state_lock, LW_SHARED);
	out->open = set_open(id);
	out->open_kind = id == TDE_FILE_KEYS ? tde_shared->open_kind : TDE_OPEN_NONE;
	out->nkeys = key_set(id)->nkeys;
	out->has_active = key_set(id)->active >= 0;
	out->fully_backed_up = id == TDE_FILE_KEYS && tde_shared->fully_backed_up;
	LWLockRelease(tde_shared->state_lock);
}

bool
tde_state_is_open(TdeKeySetId id)
{
	bool		open;

	LWLockAcquire(tde_shared->state_lock, LW_SHARED);
	open = set_open(id);
	LWLockRelease(tde_shared->state_lock);
	return open;
}

TdeOpenKind
tde_state_file_open_kind(void)
{
	TdeOpenKind kind;

	LWLockAcquire(tde_shared->state_lock, LW_SHARED);
	kind = tde_shared->open_kind;
	LWLockRelease(tde_shared->state_lock);
	return kind;
}

/* The file wallet's keys become set (kind NONE: closed, set empty). */
void
tde_state_publish_file(const TdeKeySet *set, TdeOpenKind kind, bool fully_backed_up)
{
	LWLockAcquire(tde_shared->state_lock, LW_EXCLUSIVE);
	tde_keyset_install(&tde_shared->file_keys, set);
	tde_shared->open_kind = kind;
	tde_shared->fully_backed_up = fully_backed_up;
	pg_atomic_fetch_add_u64(&tde_shared->generation, 1);
	LWLockRelease(tde_shared->state_lock);
}

/*
 * The HSM's keys become set, opened with credential (NULL: closed, the
 * credential wiped).  A new credential bumps hsm_cred_generation, so that
 * every backend logs in again.
 */
void
tde_state_publish_hsm(const TdeKeySet *set, const char *credential)
{
	LWLockAcquire(tde_shared->state_lock, LW_EXCLUSIVE);
	tde_keyset_install(&tde_shared->hsm_keys, set);
	if (credential == NULL)
	{
		explicit_bzero(tde_shared->hsm_credential, sizeof(tde_shared->hsm_credential));
		tde_shared->hsm_open = false;
	}
	else if (!tde_shared->hsm_open ||
			 strcmp(tde_shared->hsm_credential, credential) != 0)
	{
		strlcpy(tde_shared->hsm_credential, credential,
				sizeof(tde_shared->hsm_credential));
		tde_shared->hsm_open = true;
		tde_shared->hsm_cred_generation++;
	}
	pg_atomic_fetch_add_u64(&tde_shared->generation, 1);
	LWLockRelease(tde_shared->state_lock);
}

/* Is the HSM open with this credential?  (constant time) */
bool
tde_state_hsm_credential_matches(const char *credential)
{
	bool		match;
	size_t		len = strlen(credential);

	LWLockAcquire(tde_shared->state_lock, LW_SHARED);
	match = tde_shared->hsm_open &&
		strlen(tde_shared->hsm_credential) == len &&
		CRYPTO_memcmp(tde_shared->hsm_credential, credential, len) == 0;
	LWLockRelease(tde_shared->state_lock);
	return match;
}

/*
 * Copy the HSM's credential into buf (secure memory of buflen bytes) with
 * its generation; returns whether the HSM is open.
 */
bool
tde_state_hsm_credential(char *buf, Size buflen, uint64 *generation)
{
	bool		open;

	LWLockAcquire(tde_shared->state_lock, LW_SHARED);
	open = tde_shared->hsm_open;
	*generation = tde_shared->hsm_cred_generation;
	strlcpy(buf, tde_shared->hsm_credential, buflen);
	LWLockRelease(tde_shared->state_lock);
	return open;
}

/* Copy the key mkid of an open key set into out (secure memory). */
bool
tde_state_find_key(TdeKeySetId id, const uint8 *mkid, TdeMasterKey *out)
{
	bool		found = false;
	int			i;

	LWLockAcquire(tde_shared->state_lock, LW_SHARED);
	if (set_open(id))
		for (i = 0; i < key_set(id)->nkeys; i++)
			if (memcmp(key_set(id)->keys[i].mkid, mkid, TDE_MKID_LEN) == 0)
			{
				memcpy(out, &key_set(id)->keys[i], sizeof(TdeMasterKey));
				found = true;
				break;
			}
	LWLockRelease(tde_shared->state_lock);
	return found;
}

/* Copy the active key of an open key set into out (secure memory). */
bool
tde_state_active_key(TdeKeySetId id, TdeMasterKey *out)
{
	bool		found = false;
	TdeKeySet  *set;

	LWLockAcquire(tde_shared->state_lock, LW_SHARED);
	set = key_set(id);
	if (set_open(id) && set->active >= 0)
	{
		memcpy(out, &set->keys[set->active], sizeof(TdeMasterKey));
		found = true;
	}
	LWLockRelease(tde_shared->state_lock);
	return found;
}

/*
 * The keys of the open keystores without their key bytes, the HSM's
 * first, for v$encryption_keys; returns how many (at most max).
 */
int
tde_state_copy_key_metadata(TdeMasterKey *out, int max)
{
	static const TdeKeySetId order[] = {TDE_HSM_KEYS, TDE_FILE_KEYS};
	int			n = 0;
	int			j,
				i;

	LWLockAcquire(tde_shared->state_lock, LW_SHARED);
	for (j = 0; j < (int) lengthof(order); j++)
		if (set_open(order[j]))
			for (i = 0; i < key_set(order[j])->nkeys && n < max; i++)
				tde_masterkey_copy_metadata(&out[n++], &key_set(order[j])->keys[i]);
	LWLockRelease(tde_shared->state_lock);
	return n;
}

/* The client secrets of the open keystores, without their values. */
int
tde_state_copy_secret_metadata(TdeSecretMeta *out, int max)
{
	int			n = 0;
	int			i;

	static const TdeKeySetId order[] = {TDE_HSM_KEYS, TDE_FILE_KEYS};
	int			j;

	LWLockAcquire(tde_shared->state_lock, LW_SHARED);
	for (j = 0; j < (int) lengthof(order); j++)
		if (set_open(order[j]))
			for (i = 0; i < key_set(order[j])->nsecrets && n < max; i++)
				out[n++] = key_set(order[j])->secrets[i];
	LWLockRelease(tde_shared->state_lock);
	return n;
}

void
tde_state_bump_generation(void)
{
	if (tde_shared != NULL)
		pg_atomic_fetch_add_u64(&tde_shared->generation, 1);
}
