/*-------------------------------------------------------------------------
 *
 * tde.c
 *	  Module load of the tde extension: _PG_init, the shared-memory hooks,
 *	  and the wiring of the layers.
 *
 * tde keeps the keystore's status instance-wide, in shared memory, so the
 * library must be loaded through shared_preload_libraries; loading it any
 * other way fails with an error and a hint.  The shared struct is owned by
 * keystore/state.c; this file only calls it from shmem_request_hook and
 * shmem_startup_hook (under AddinShmemInitLock), as pg_stat_statements
 * does.
 *
 * This is the top of the layers (doc/code-map.md): what a lower unit needs
 * from a higher one it is given here, once, at start-up: util/secure the
 * log redaction of sql/redact and the size of the shared key area;
 * keystore the re-wrap launcher of keys/rewrap_worker, run after a
 * keystore opens.
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
#include "tde/keys/rewrap_worker.h"
#include "tde/keystore/config.h"
#include "tde/keystore/keystore.h"
#include "tde/keystore/state.h"
#include "tde/sql/redact.h"
#include "tde/tde.h"
#include "tde/util/fileio.h"
#include "tde/util/secure.h"

PG_MODULE_MAGIC;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);
static void tde_shmem_request(void);
static void tde_shmem_startup(void);

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
	tde_secure_configure(tde_state_key_area_size(), tde_redact_secret);
	tde_keystore_set_opened_hook(tde_rewrap_launch);
	tde_relkey_init();
}

static void
tde_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	tde_state_shmem_request();
	tde_rewrap_shmem_request();
	RequestAddinShmemSpace(tde_secure_shmem_size());
}

static void
tde_shmem_startup(void)
{
	bool		found;
	void	   *area;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	area = ShmemInitStruct("tde secure memory", tde_secure_shmem_size(), &found);
	tde_secure_shmem_init(area, found);
	tde_state_shmem_startup();
	tde_rewrap_shmem_startup();
	LWLockRelease(AddinShmemInitLock);

	/*
	 * In the postmaster, at start and at each reinitialization after a
	 * crash, no backend runs: a keystore file's temporary file left now was
	 * left by a killed writer.
	 */
	if (!IsUnderPostmaster)
		tde_remove_stale_temps(tde_wallet_root);
}
