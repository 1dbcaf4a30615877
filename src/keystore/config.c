/*-------------------------------------------------------------------------
 *
 * config.c
 *	  Where the keystores are and which are in use.  See keystore/config.h.
 *
 * The GUC variables live here, in the lowest unit that reads them; guc.c
 * registers them (check hooks there validate the values).  The keystore
 * lock is the directory's flock: its wait can be cancelled, an LWLock's
 * cannot (see tde_keystore_lock).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid_d.h"
#include "miscadmin.h"
#include "utils/acl.h"

#include "tde/keystore/config.h"
#include "tde/keystore/report.h"
#include "tde/keystore/state.h"
#include "tde/store/wallet.h"
#include "tde/util/fileio.h"

#define MAX_PASSWORD_LEN	1024

/* GUCs (keystore/config.h) */
char	   *tde_wallet_root = NULL;
char	   *tde_keystore_configuration = NULL;
int			tde_wallet_kdf_iterations = 600000;

/* ---------------------------------------------------------------------
 * Paths and argument checks
 * ---------------------------------------------------------------------
 */

static const char *
wallet_root(void)
{
	if (tde_wallet_root == NULL || tde_wallet_root[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tde.wallet_root is not set"),
				 errhint("Set tde.wallet_root in postgresql.conf to a directory owned by the server's operating system user, and restart.")));
	if (!tde_dir_exists(tde_wallet_root))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("tde.wallet_root \"%s\" is not a directory", tde_wallet_root),
				 errhint("Create it, owned by the server's operating system user, with mode 0700.")));
	return tde_wallet_root;
}

char *
tde_join_path(const char *dir, const char *file)
{
	return psprintf("%s/%s", dir, file);
}

char *
tde_wallet_dir(void)
{
	return tde_join_path(wallet_root(), TDE_WALLET_DIR);
}

char *
tde_seps_dir(void)
{
	return tde_join_path(wallet_root(), TDE_SEPS_DIR);
}

/*
 * A location or file path as given: absolute, canonical, without "..", and
 * short enough that every file tde names in it (a backup's name with its
 * 128-byte identifier, a temporary file's suffix) and its directory stay
 * within MAXPGPATH.  Neither the value nor a name of it is shown in an
 * error: it may be a password given in the wrong argument.
 */
char *
tde_canonical_location(const char *location, const char *what)
{
	char	   *loc;
	const char *p;
	size_t		name = 0;

	if (strlen(location) > TDE_MAX_LOCATION_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is longer than %d bytes", what, TDE_MAX_LOCATION_LEN)));
	for (p = location; *p; p++)
	{
		name = (*p == '/') ? 0 : name + 1;
		if (name > TDE_MAX_NAME_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s has a name longer than %d bytes", what, TDE_MAX_NAME_LEN)));
	}
	loc = pstrdup(location);
	if (!is_absolute_path(loc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is not an absolute path", what)));
	canonicalize_path(loc);
	if (path_contains_parent_reference(loc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not contain \"..\"", what)));
	return loc;
}

void
tde_check_password(const char *password, const char *what)
{
	if (password == NULL || password[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	if (strlen(password) > MAX_PASSWORD_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is longer than %d bytes", what, MAX_PASSWORD_LEN)));
}

/* A tag or client identifier: bounded, without control characters. */
void
tde_check_label(const char *s, int max, const char *what)
{
	const char *p;

	if ((int) strlen(s) >= max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is longer than %d bytes", what, max - 1)));
	for (p = s; *p; p++)
		if ((unsigned char) *p < 0x20)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain control characters", what)));
}

/* Is path tde.wallet_root or under it? */
static bool
under_wallet_root(const char *path)
{
	size_t		rootlen;

	if (tde_wallet_root == NULL || tde_wallet_root[0] == '\0')
		return false;
	rootlen = strlen(tde_wallet_root);
	return strncmp(path, tde_wallet_root, rootlen) == 0 &&
		(path[rootlen] == '\0' || path[rootlen] == '/') &&
		strstr(path + rootlen, "/..") == NULL;
}

/*
 * A location outside tde.wallet_root is a file the server writes on the
 * caller's behalf, so it needs what COPY TO a file needs.
 */
void
tde_require_location_access(const char *path)
{
	if (under_wallet_root(path))
		return;
	if (!has_privs_of_role(GetUserId(), ROLE_PG_WRITE_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to write keystore files outside tde.wallet_root"),
				 errhint("Only superusers and members of \"pg_write_server_files\" may name another location.")));
}

/* ... and one it reads needs what COPY FROM a file needs. */
void
tde_require_location_read_access(const char *path)
{
	if (under_wallet_root(path))
		return;
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read keystore files outside tde.wallet_root"),
				 errhint("Only superusers and members of \"pg_read_server_files\" may name another location.")));
}

/*
 * The directory of a keystore to create or write: the wallet directory, or
 * another one (a keystore to merge, move keys to, or keep secrets in),
 * which under tde.wallet_root any tde_admin may name and elsewhere only
 * who may write server files.  Neither tde.wallet_root itself nor tde_seps
 * is a keystore's.  Only <wallet_root>/tde is opened and used for the
 * server's own keys.
 */
char *
tde_keystore_location_dir(const char *location)
{
	char	   *dir = tde_wallet_dir();
	char	   *loc;

	if (location == NULL)
		return dir;
	loc = tde_canonical_location(location, "keystore location");
	if (strcmp(loc, dir) == 0)
		return dir;
	if ((tde_wallet_root != NULL && strcmp(loc, tde_wallet_root) == 0) ||
		strcmp(loc, tde_seps_dir()) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a keystore cannot be created in \"%s\"", loc),
				 errdetail("tde.wallet_root holds the keystores' directories, and tde_seps is the external password store."),
				 errhint("Name <tde.wallet_root>/tde, or another directory.")));
	tde_require_location_access(loc);
	return loc;
}

/*
 * The keystore lock: an flock on the keystore directory, taken by every
 * operation that reads and then changes keystore files or the open
 * keystore (open, close, auto-open and every change), for its whole
 * duration.  No LWLock is held meanwhile: the KDF, fsync and PKCS#11 calls
 * of these operations take seconds, and the wait for the flock polls with
 * CHECK_FOR_INTERRUPTS (tde_dir_lock), so a waiter can be cancelled and
 * its statement_timeout fires.  Tools outside the server that take the
 * same flock serialize with it.
 *
 * The lock is re-entrant within a backend (an operation may call another
 * that takes it, as a change that opens the keystore with FORCE KEYSTORE
 * does): a second flock on a new descriptor of the same directory would
 * wait for this backend itself.  The descriptor is a transient file,
 * closed (and so the flock released) when the (sub)transaction that took
 * it aborts; the callbacks below forget it then.  Each take remembers its
 * subtransaction, so that one aborted while nested gives back its takes
 * too: the lock is held no longer than the outermost take's holder wants.
 */
#define MAX_LOCK_DEPTH 16

typedef struct HeldLock
{
	char		dir[MAXPGPATH];
	int			fd;				/* -1: the directory did not exist */
	int			depth;			/* takes not yet given back; 0: free slot */
	SubTransactionId taken[MAX_LOCK_DEPTH];	/* each take's; [0] opened fd */
} HeldLock;

#define MAX_HELD_LOCKS 4		/* the wallet and the external store */

static HeldLock held[MAX_HELD_LOCKS];
static int	nheld = 0;
static bool lock_callbacks_registered = false;

/* A slot is free when its depth is 0; handles are slot numbers. */
static void
free_slot(int i)
{
	held[i].depth = 0;
	held[i].dir[0] = '\0';
	while (nheld > 0 && held[nheld - 1].depth == 0)
		nheld--;
}

/*
 * The takes of subid (Invalid: the transaction's, all) end with it; a
 * descriptor it opened is closed by now.
 */
static void
forget_locks(SubTransactionId subid)
{
	int			i;

	for (i = nheld - 1; i >= 0; i--)
	{
		HeldLock   *h = &held[i];

		while (h->depth > 0 &&
			   (subid == InvalidSubTransactionId || h->taken[h->depth - 1] == subid))
			h->depth--;
		if (h->depth == 0 && h->dir[0] != '\0')
			free_slot(i);
	}
}

static void
lock_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		forget_locks(InvalidSubTransactionId);
}

static void
lock_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	int			i;

	if (event == SUBXACT_EVENT_ABORT_SUB)
		forget_locks(mySubid);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		for (i = 0; i < nheld; i++)
		{
			int			d;

			for (d = 0; d < held[i].depth; d++)
				if (held[i].taken[d] == mySubid)
					held[i].taken[d] = parentSubid;
		}
}

/*
 * Take the keystore lock on dir (create: make the directory first).  A
 * missing directory is reported with missing_file; with missing_file NULL
 * and create false, a missing directory is locked by nothing (no file
 * there to change) and -1 is returned.  Returns a handle for
 * tde_keystore_unlock.
 */
int
tde_keystore_lock(const char *dir, bool create, const char *missing_file)
{
	int			i;
	HeldLock   *h;

	for (i = 0; i < nheld; i++)
		if (held[i].depth > 0 && strcmp(held[i].dir, dir) == 0)
		{
			if (held[i].depth >= MAX_LOCK_DEPTH)
				elog(ERROR, "keystore lock taken too many times");
			held[i].taken[held[i].depth++] = GetCurrentSubTransactionId();
			return i;
		}
	for (i = 0; i < nheld && held[i].depth > 0; i++)
		;
	if (i >= MAX_HELD_LOCKS)
		elog(ERROR, "too many keystore locks held");
	if (!lock_callbacks_registered)
	{
		RegisterXactCallback(lock_xact_callback, NULL);
		RegisterSubXactCallback(lock_subxact_callback, NULL);
		lock_callbacks_registered = true;
	}
	if (create)
		tde_ensure_dir(dir);
	else if (!tde_dir_exists(dir) && missing_file != NULL)
		tde_wallet_report(TDE_WALLET_MISSING, missing_file, ERROR);

	h = &held[i];
	h->fd = tde_dir_exists(dir) ? tde_dir_lock(dir) : -1;
	strlcpy(h->dir, dir, sizeof(h->dir));
	h->taken[0] = GetCurrentSubTransactionId();
	h->depth = 1;
	if (i == nheld)
		nheld++;
	return i;
}

void
tde_keystore_unlock(int handle)
{
	HeldLock   *h;

	Assert(handle >= 0 && handle < nheld && held[handle].depth > 0);
	h = &held[handle];
	if (--h->depth > 0)
		return;
	tde_dir_unlock(h->fd);
	free_slot(handle);
}

/*
 * For a caller that catches an error and goes on: the locks held now, to
 * give back to tde_keystore_unlock_to after the catch.
 */
int
tde_keystore_lock_depth(void)
{
	int			i,
				n = 0;

	for (i = 0; i < nheld; i++)
		n += held[i].depth;
	return n;
}

/* Release locks taken since tde_keystore_lock_depth returned depth. */
void
tde_keystore_unlock_to(int depth)
{
	int			i;

	for (i = nheld - 1; i >= 0 && tde_keystore_lock_depth() > depth; i--)
		while (held[i].depth > 0 && tde_keystore_lock_depth() > depth)
			tde_keystore_unlock(i);
}

/* ---------------------------------------------------------------------
 * Configuration: which keystores, in which order
 * ---------------------------------------------------------------------
 */

TdeConfig
tde_config(void)
{
	const char *c = tde_keystore_configuration ? tde_keystore_configuration : "FILE";

	if (strcmp(c, "HSM") == 0)
		return TDE_CONFIG_HSM;
	if (strcmp(c, "HSM|FILE") == 0)
		return TDE_CONFIG_HSM_FILE;
	if (strcmp(c, "FILE|HSM") == 0)
		return TDE_CONFIG_FILE_HSM;
	return TDE_CONFIG_FILE;
}

