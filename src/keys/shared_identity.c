/*-------------------------------------------------------------------------
 *
 * shared_identity.c
 *	  Database identities shared by every backend, so that a new backend's
 *	  first relation key does not read tde.database_identity.
 *
 * A database's identity (keys/relkey_row.c) is made once, with its first
 * relation key, and never changes while its table exists.  DROP EXTENSION
 * drops the table; CREATE EXTENSION makes a new one, with a new OID, and
 * later a new identity.  So an entry names the database and the OID of
 * the identity table it was read from, as the identity a backend keeps for
 * itself does, and a lookup must name the table the caller sees: an entry
 * of a dropped table is never taken for its successor.  DROP EXTENSION
 * also removes the database's entry at once.
 *
 * Only committed identities are published: relkey_row.c publishes exactly
 * what it keeps for its own backend, never an identity its transaction
 * inserted (pending until commit), and never from a parallel worker.  An
 * identity is not key material: it is the associated data that binds a
 * wrapped relation key to its database, and is readable by anyone who may
 * read tde.database_identity.
 *
 * The table is a cache of TDE_SHARED_IDENTITIES entries; when it is full
 * a new entry replaces the oldest.  Its LWLock is held only to scan or
 * change entries.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "tde/keys/shared_identity.h"

#define TDE_SHARED_IDENTITIES	1024
#define IDENTITY_LWLOCK_TRANCHE "tde_identity"

typedef struct SharedIdentity
{
	Oid			dboid;			/* InvalidOid: a free entry */
	Oid			relid;			/* the tde.database_identity it came from */
	uint8		id[16];
} SharedIdentity;

typedef struct SharedIdentities
{
	LWLock	   *lock;
	int			next;			/* the entry a full table replaces next */
	SharedIdentity entries[TDE_SHARED_IDENTITIES];
} SharedIdentities;

static SharedIdentities *si = NULL;

void
tde_shared_identity_shmem_request(void)
{
	RequestAddinShmemSpace(sizeof(SharedIdentities));
	RequestNamedLWLockTranche(IDENTITY_LWLOCK_TRANCHE, 1);
}

/* From shmem_startup_hook; the caller holds AddinShmemInitLock. */
void
tde_shared_identity_shmem_startup(void)
{
	bool		found;

	si = ShmemInitStruct("tde_identity", sizeof(SharedIdentities), &found);
	if (!found)
	{
		memset(si, 0, sizeof(SharedIdentities));
		si->lock = &GetNamedLWLockTranche(IDENTITY_LWLOCK_TRANCHE)->lock;
	}
}

/* The entry of dboid, or -1; under si->lock. */
static int
find_locked(Oid dboid)
{
	int			i;

	for (i = 0; i < TDE_SHARED_IDENTITIES; i++)
		if (si->entries[i].dboid == dboid)
			return i;
	return -1;
}

/* The identity of dboid read from table relid, if one is published. */
bool
tde_shared_identity_get(Oid dboid, Oid relid, uint8 *out)
{
	int			i;
	bool		found = false;

	if (si == NULL || !OidIsValid(dboid) || !OidIsValid(relid))
		return false;
	LWLockAcquire(si->lock, LW_SHARED);
	i = find_locked(dboid);
	if (i >= 0 && si->entries[i].relid == relid)
	{
		memcpy(out, si->entries[i].id, 16);
		found = true;
	}
	LWLockRelease(si->lock);
	return found;
}

/* Publish a committed identity of dboid, read from table relid. */
void
tde_shared_identity_put(Oid dboid, Oid relid, const uint8 *id)
{
	int			i;

	if (si == NULL || !OidIsValid(dboid) || !OidIsValid(relid))
		return;
	LWLockAcquire(si->lock, LW_EXCLUSIVE);
	i = find_locked(dboid);
	if (i < 0)
		i = find_locked(InvalidOid);
	if (i < 0)
	{
		i = si->next;
		si->next = (si->next + 1) % TDE_SHARED_IDENTITIES;
	}
	si->entries[i].dboid = dboid;
	si->entries[i].relid = relid;
	memcpy(si->entries[i].id, id, 16);
	LWLockRelease(si->lock);
}

/* DROP EXTENSION in dboid: its identity table goes. */
void
tde_shared_identity_forget(Oid dboid)
{
	int			i;

	if (si == NULL)
		return;
	LWLockAcquire(si->lock, LW_EXCLUSIVE);
	i = find_locked(dboid);
	if (i >= 0)
		memset(&si->entries[i], 0, sizeof(SharedIdentity));
	LWLockRelease(si->lock);
}
