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

#include "tde/keystore/state.h"
#include "tde/util/secure.h"

#define TDE_LWLOCK_TRANCHE "tde"

TdeSharedState *tde_shared = NULL;

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
