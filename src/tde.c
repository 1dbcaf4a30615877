/*-------------------------------------------------------------------------
 *
 * tde.c
 *	  Module load, shared memory and configuration of the tde extension.
 *
 * tde keeps the keystore's status instance-wide, in shared memory, so the
 * library must be loaded through shared_preload_libraries; loading it any
 * other way fails with an error and a hint.  The shared struct is sized in
 * shmem_request_hook and set up in shmem_startup_hook under
 * AddinShmemInitLock, as pg_stat_statements does.  After a restart (or a
 * crash and reinitialisation) the struct starts zeroed: every keystore is
 * closed, and an auto-login wallet opens again on first use.
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

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "tde/keys/relkey.h"
#include "tde/util/secure.h"
#include "tde/tde.h"

PG_MODULE_MAGIC;

#define TDE_LWLOCK_TRANCHE "tde"

TdeSharedState *tde_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);
static void tde_shmem_request(void);
static void tde_shmem_startup(void);
static Size shared_state_span(void);

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tde can only be loaded via shared_preload_libraries"),
				 errhint("Add tde to the shared_preload_libraries configuration variable in postgresql.conf and restart the server.")));

	tde_define_gucs();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = tde_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = tde_shmem_startup;

	tde_install_log_redaction();
	tde_secure_configure(shared_state_span(), tde_redact_secret);
	tde_relkey_init();
}

/* The key area: whole pages, and one more to align its start */
static Size
shared_state_span(void)
{
	return TYPEALIGN(tde_secure_page_size(), sizeof(TdeSharedState));
}

static Size
shared_state_request(void)
{
	return shared_state_span() + tde_secure_page_size();
}

static void
tde_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(shared_state_request());
	RequestAddinShmemSpace(tde_secure_shmem_size());
	RequestNamedLWLockTranche(TDE_LWLOCK_TRANCHE, 2);
}

static void
tde_shmem_startup(void)
{
	bool		found;
	void	   *base;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	base = ShmemInitStruct("tde secure memory", tde_secure_shmem_size(), &found);
	tde_secure_shmem_init(base, found);
	base = ShmemInitStruct("tde", shared_state_request(), &found);
	tde_shared = (TdeSharedState *) TYPEALIGN(tde_secure_page_size(), base);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche(TDE_LWLOCK_TRANCHE);

		memset(tde_shared, 0, shared_state_span());
		/* the postmaster (or a standalone backend) creates the struct */
		(void) tde_secure_protect_shared(tde_shared, shared_state_span());
		tde_shared->state_lock = &locks[0].lock;
		tde_shared->admin_lock = &locks[1].lock;
		tde_shared->open_kind = TDE_OPEN_NONE;
		tde_shared->file_keys.active = -1;
		tde_shared->hsm_keys.active = -1;
		pg_atomic_init_u64(&tde_shared->generation, 1);
	}
	LWLockRelease(AddinShmemInitLock);
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
