/*-------------------------------------------------------------------------
 *
 * keystore.c
 *	  The file keystore: create, open, close, change password, back up.
 *
 * The status is instance-wide (tde_shared, under state_lock).  Every
 * operation that reads, changes and writes keystore files holds admin_lock
 * and an flock on the wallet directory for its whole duration, so two
 * changes never interleave and tools outside the server can serialize
 * with it.  An operation that fails leaves the files as they were: the only
 * writes are atomic replacements (fileio.c), made last.
 *
 * No password is kept: an operation that needs one is given it (or reads
 * it from the external store) and proves it by decrypting the wallet.
 *
 * FORCE KEYSTORE, as in Oracle, lets an operation that needs the password
 * wallet open run while it is closed (or while the auto-login wallet is
 * open): it reads the wallet with the given password for that operation
 * only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/time.h>
#include <time.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "tde/fileio.h"
#include "tde/keystore.h"
#include "tde/masterkey.h"
#include "tde/relkey.h"
#include "tde/secure.h"
#include "tde/wallet.h"

#define KEYSTORE_INFO_ENTRY "TDE.KEYSTORE"
#define MAX_PASSWORD_LEN	1024
#define MAX_BACKUP_ID_LEN	128

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

char *
tde_canonical_location(const char *location, const char *what)
{
	char	   *loc = pstrdup(location);

	if (!is_absolute_path(loc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" is not an absolute path", what, location)));
	canonicalize_path(loc);
	if (path_contains_parent_reference(loc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" must not contain \"..\"", what, location)));
	return loc;
}

/* An optional location must be the wallet directory itself. */
static void
check_wallet_location(const char *location)
{
	char	   *dir = tde_wallet_dir();

	if (location != NULL && strcmp(tde_canonical_location(location, "keystore location"), dir) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("keystore location must be \"%s\"", dir),
				 errdetail("With tde.wallet_root set, the keystore lives in <tde.wallet_root>/%s.",
						   TDE_WALLET_DIR)));
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

static void
check_backup_id(const char *id)
{
	const char *p;

	if (id == NULL)
		return;
	if (id[0] == '\0' || strlen(id) > MAX_BACKUP_ID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("backup identifier must be 1 to %d characters long", MAX_BACKUP_ID_LEN)));
	for (p = id; *p; p++)
		if (*p == '/' || *p == '\\' || (unsigned char) *p < 0x20 ||
			(p == id && *p == '.'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("backup identifier \"%s\" is not a valid file name part", id),
					 errdetail("It must not contain \"/\", control characters, or start with \".\".")));
}

/* ---------------------------------------------------------------------
 * Shared status
 * ---------------------------------------------------------------------
 */

TdeOpenKind
tde_keystore_open_kind(void)
{
	TdeOpenKind kind;

	LWLockAcquire(tde_shared->state_lock, LW_SHARED);
	kind = tde_shared->open_kind;
	LWLockRelease(tde_shared->state_lock);
	return kind;
}

/*
 * Make a wallet's contents the open keystore (w NULL and kind NONE: close).
 * Key material is copied into shared memory; closing wipes it there.
 */
static void
publish(const TdeWallet *w, TdeOpenKind kind)
{
	TdeMasterKey *keys = NULL;
	int			nkeys = 0;
	int			active = -1;
	bool		fully = false;
	int			i;

	if (w != NULL)
	{
		keys = tde_secure_alloc(sizeof(TdeMasterKey) * TDE_MAX_MASTER_KEYS);
		nkeys = tde_masterkeys_from_wallet(w, keys, TDE_MAX_MASTER_KEYS, &active);
		fully = nkeys > 0;
		for (i = 0; i < nkeys; i++)
			fully = fully && keys[i].backed_up;
	}

	LWLockAcquire(tde_shared->state_lock, LW_EXCLUSIVE);
	explicit_bzero(tde_shared->keys, sizeof(tde_shared->keys));
	if (nkeys > 0)
		memcpy(tde_shared->keys, keys, sizeof(TdeMasterKey) * nkeys);
	tde_shared->open_kind = kind;
	tde_shared->nmasterkeys = nkeys;
	tde_shared->active_key = active;
	tde_shared->fully_backed_up = fully;
	pg_atomic_fetch_add_u64(&tde_shared->generation, 1);
	LWLockRelease(tde_shared->state_lock);
}

static TdeOpenKind
open_kind_of(TdeWalletKind kind)
{
	switch (kind)
	{
		case TDE_WALLET_PASSWORD:
			return TDE_OPEN_PASSWORD;
		case TDE_WALLET_AUTOLOGIN:
			return TDE_OPEN_AUTOLOGIN;
		case TDE_WALLET_LOCAL_AUTOLOGIN:
			return TDE_OPEN_LOCAL_AUTOLOGIN;
	}
	return TDE_OPEN_NONE;
}

/*
 * Operations that change the password wallet need it open with its
 * password, or FORCE KEYSTORE.
 */
static void
require_password_keystore(bool force)
{
	TdeOpenKind kind = tde_keystore_open_kind();

	if (kind == TDE_OPEN_PASSWORD || force)
		return;
	if (kind == TDE_OPEN_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("keystore is not open"),
				 errdetail("ORA-28365: wallet is not open"),
				 errhint("Open it with SET KEYSTORE OPEN, or add FORCE KEYSTORE to the statement.")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("password keystore is not open"),
			 errdetail("ORA-28417: password-based keystore is not open"),
			 errhint("The auto-login keystore is open; add FORCE KEYSTORE to the statement, or close it and open the password keystore.")));
}

/* ---------------------------------------------------------------------
 * Helpers shared by the operations
 * ---------------------------------------------------------------------
 */

/* UTC YYYYMMDDHHMISSFF, as in Oracle's backup file names */
static char *
backup_timestamp(void)
{
	struct timeval tv;
	struct tm	tm;
	char		buf[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02d%02d",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (tv.tv_usec / 10000));
	return pstrdup(buf);
}

/*
 * Write the current password wallet file, byte for byte, to a new backup
 * file; returns its path.  The caller holds the locks.
 */
static char *
write_backup(const char *ewallet, const char *backup_id, const char *location)
{
	char	   *dir;
	char	   *name;
	char	   *path;

	check_backup_id(backup_id);
	if (location != NULL)
	{
		dir = tde_canonical_location(location, "backup location");
		tde_require_location_access(dir);
		if (!tde_dir_exists(dir))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("backup location \"%s\" is not a directory", dir)));
	}
	else
		dir = tde_wallet_dir();

	/* Names resolve to 1/100 s: wait for the next hundredth if taken. */
	for (;;)
	{
		if (backup_id)
			name = psprintf("ewallet_%s_%s.p12", backup_timestamp(), backup_id);
		else
			name = psprintf("ewallet_%s.p12", backup_timestamp());
		path = tde_join_path(dir, name);
		if (!tde_file_exists(path))
			break;
		pg_usleep(10000L);
	}
	if (ewallet != NULL)
		tde_file_copy_atomic(ewallet, path);
	return path;
}

/* Auto-login wallets follow the password wallet's contents. */
static void
refresh_autologin(const TdeWallet *w)
{
	char	   *cwallet = tde_join_path(tde_wallet_dir(), TDE_CWALLET_FILE);
	TdeWallet  *old;
	TdeWalletResult res;

	res = tde_wallet_load(cwallet, true, NULL, &old);
	if (res == TDE_WALLET_MISSING)
		return;
	if (res != TDE_WALLET_OK)
	{
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("auto-login keystore \"%s\" was not updated", cwallet),
				 errhint("Create it again with CREATE AUTO_LOGIN KEYSTORE.")));
		return;
	}
	tde_wallet_write(cwallet, tde_wallet_copy(w, old->kind), NULL, 0);
}

static void
require_backup_clause(bool with_backup)
{
	if (!with_backup)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("keystore needs to be backed up"),
				 errdetail("ORA-46631: keystore needs to be backed up"),
				 errhint("Add WITH BACKUP to the statement.")));
}

/* ---------------------------------------------------------------------
 * Operations
 * ---------------------------------------------------------------------
 */

void
tde_keystore_create(const char *location, const char *password)
{
	char	   *dir;
	char	   *ewallet;
	TdeWallet  *w;
	char	   *info;
	int			lockfd;

	tde_check_password(password, "keystore password");
	dir = tde_wallet_dir();
	check_wallet_location(location);
	ewallet = tde_join_path(dir, TDE_EWALLET_FILE);

	LWLockAcquire(tde_shared->admin_lock, LW_EXCLUSIVE);
	tde_ensure_dir(dir);
	lockfd = tde_dir_lock(dir);

	if (tde_file_exists(ewallet))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_FILE),
				 errmsg("keystore \"%s\" already exists", ewallet),
				 errdetail("ORA-46630: keystore cannot be created at the specified location")));

	w = tde_wallet_create(TDE_WALLET_PASSWORD);
	info = psprintf("format=1\ncreated=%s\ncreator=%s\n",
					timestamptz_to_str(GetCurrentTimestamp()),
					GetUserNameFromId(GetUserId(), false));
	tde_wallet_put(w, KEYSTORE_INFO_ENTRY, info, strlen(info));
	tde_wallet_write(ewallet, w, password, tde_wallet_kdf_iterations);

	tde_dir_unlock(lockfd);
	LWLockRelease(tde_shared->admin_lock);
}

void
tde_keystore_create_autologin(const char *location, const char *password,
							  bool local)
{
	char	   *dir;
	TdeWallet  *w;
	int			lockfd;

	tde_check_password(password, "keystore password");
	dir = tde_wallet_dir();
	check_wallet_location(location);

	LWLockAcquire(tde_shared->admin_lock, LW_EXCLUSIVE);
	if (!tde_dir_exists(dir))
		tde_wallet_report(TDE_WALLET_MISSING,
						  tde_join_path(dir, TDE_EWALLET_FILE), ERROR);
	lockfd = tde_dir_lock(dir);

	w = tde_wallet_read(tde_join_path(dir, TDE_EWALLET_FILE), false, password);
	tde_wallet_write(tde_join_path(dir, TDE_CWALLET_FILE),
					 tde_wallet_copy(w, local ? TDE_WALLET_LOCAL_AUTOLOGIN
									 : TDE_WALLET_AUTOLOGIN),
					 NULL, 0);

	tde_dir_unlock(lockfd);
	LWLockRelease(tde_shared->admin_lock);
}

void
tde_keystore_open(const TdeCredential *cred, bool force)
{
	const char *password;
	char	   *ewallet;
	TdeOpenKind kind;
	TdeWallet  *w;

	ewallet = tde_join_path(tde_wallet_dir(), TDE_EWALLET_FILE);
	password = tde_credential_password(cred, TDE_CLIENT_TDE_WALLET);

	LWLockAcquire(tde_shared->admin_lock, LW_EXCLUSIVE);
	kind = tde_keystore_open_kind();
	if (kind == TDE_OPEN_PASSWORD || (kind != TDE_OPEN_NONE && !force))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("keystore is already open"),
				 errdetail("ORA-28354: Encryption wallet, auto login wallet, or HSM is already open"),
				 kind != TDE_OPEN_PASSWORD ?
				 errhint("The auto-login keystore is open; add FORCE KEYSTORE to open the password keystore instead.") : 0));

	w = tde_wallet_read(ewallet, false, password);
	publish(w, TDE_OPEN_PASSWORD);
	LWLockRelease(tde_shared->admin_lock);

	/* finish any re-wrap a crash or a closed keystore left undone */
	tde_rewrap_launch(InvalidOid);
}

void
tde_keystore_close(const TdeCredential *cred)
{
	TdeOpenKind kind;
	char	   *ewallet;

	ewallet = tde_join_path(tde_wallet_dir(), TDE_EWALLET_FILE);

	LWLockAcquire(tde_shared->admin_lock, LW_EXCLUSIVE);
	kind = tde_keystore_open_kind();
	if (kind == TDE_OPEN_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("keystore is not open"),
				 errdetail("ORA-28365: wallet is not open")));

	/* A password given to close must be the wallet's password. */
	if (cred != NULL && (kind == TDE_OPEN_PASSWORD || tde_file_exists(ewallet)))
	{
		const char *password = tde_credential_password(cred, TDE_CLIENT_TDE_WALLET);
		TdeWallet  *w;
		TdeWalletResult res = tde_wallet_load(ewallet, false, password, &w);

		if (res == TDE_WALLET_BAD_PASSWORD)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PASSWORD),
					 errmsg("incorrect password for keystore \"%s\"", ewallet),
					 errdetail("ORA-28391: cannot close wallet or HSM, password mismatch")));
		tde_wallet_report(res, ewallet, ERROR);
	}

	publish(NULL, TDE_OPEN_NONE);
	LWLockRelease(tde_shared->admin_lock);
}

void
tde_keystore_alter_password(const char *old_password, const char *new_password,
							bool with_backup, const char *backup_id, bool force)
{
	char	   *dir = tde_wallet_dir();
	char	   *ewallet = tde_join_path(dir, TDE_EWALLET_FILE);
	TdeWallet  *w;
	int			lockfd;

	tde_check_password(old_password, "old keystore password");
	tde_check_password(new_password, "new keystore password");
	require_backup_clause(with_backup);
	check_backup_id(backup_id);
	require_password_keystore(force);

	LWLockAcquire(tde_shared->admin_lock, LW_EXCLUSIVE);
	if (!tde_dir_exists(dir))
		tde_wallet_report(TDE_WALLET_MISSING, ewallet, ERROR);
	lockfd = tde_dir_lock(dir);

	w = tde_wallet_read(ewallet, false, old_password);
	/* The backup is the wallet as it was, under the old password. */
	(void) write_backup(ewallet, backup_id, NULL);
	tde_wallet_write(ewallet, w, new_password, tde_wallet_kdf_iterations);

	tde_dir_unlock(lockfd);
	LWLockRelease(tde_shared->admin_lock);
}

/*
 * Change the password wallet: the common frame of every key operation.
 * Checks the state and the backup clause, reads the wallet with the
 * password, lets change() modify it, writes the backup (the file as it
 * was) and then the new wallet, refreshes the auto-login wallet, and makes
 * the new contents the open keystore.  If the keystore is closed (FORCE
 * KEYSTORE), the new keys are available to this transaction only.
 */
void
tde_keystore_change(const TdeCredential *cred, bool force, bool with_backup,
					const char *backup_id, TdeWalletChange change, void *arg)
{
	char	   *dir = tde_wallet_dir();
	char	   *ewallet = tde_join_path(dir, TDE_EWALLET_FILE);
	const char *password;
	TdeWallet  *w;
	TdeOpenKind kind;
	int			lockfd;

	check_backup_id(backup_id);
	require_password_keystore(force);
	require_backup_clause(with_backup);
	password = tde_credential_password(cred, TDE_CLIENT_TDE_WALLET);

	LWLockAcquire(tde_shared->admin_lock, LW_EXCLUSIVE);
	if (!tde_dir_exists(dir))
		tde_wallet_report(TDE_WALLET_MISSING, ewallet, ERROR);
	lockfd = tde_dir_lock(dir);

	w = tde_wallet_read(ewallet, false, password);
	/* the keys there now are in the backup about to be written */
	tde_masterkeys_mark_backed_up(w);
	change(w, arg);

	(void) write_backup(ewallet, backup_id, NULL);
	tde_wallet_write(ewallet, w, password, tde_wallet_kdf_iterations);
	refresh_autologin(w);

	kind = tde_keystore_open_kind();
	if (kind != TDE_OPEN_NONE)
		publish(w, kind);
	else
		tde_masterkey_push_temporary(w);

	tde_dir_unlock(lockfd);
	LWLockRelease(tde_shared->admin_lock);
}

char *
tde_keystore_backup(const TdeCredential *cred, const char *backup_id,
					const char *location, bool force)
{
	char	   *dir = tde_wallet_dir();
	char	   *ewallet = tde_join_path(dir, TDE_EWALLET_FILE);
	const char *password;
	char	   *path;
	TdeWallet  *w;
	int			lockfd;

	check_backup_id(backup_id);
	require_password_keystore(force);
	password = tde_credential_password(cred, TDE_CLIENT_TDE_WALLET);

	LWLockAcquire(tde_shared->admin_lock, LW_EXCLUSIVE);
	if (!tde_dir_exists(dir))
		tde_wallet_report(TDE_WALLET_MISSING, ewallet, ERROR);
	lockfd = tde_dir_lock(dir);

	/* proves the password before anything is written */
	w = tde_wallet_read(ewallet, false, password);
	tde_masterkeys_mark_backed_up(w);
	path = write_backup(NULL, backup_id, location);
	tde_wallet_write(path, w, password, tde_wallet_kdf_iterations);
	tde_wallet_write(ewallet, w, password, tde_wallet_kdf_iterations);
	refresh_autologin(w);
	if (tde_keystore_open_kind() != TDE_OPEN_NONE)
		publish(w, tde_keystore_open_kind());

	tde_dir_unlock(lockfd);
	LWLockRelease(tde_shared->admin_lock);
	return path;
}

/*
 * Open the auto-login wallet if the keystore is closed and one exists, as
 * Oracle does when a key is first needed.  Returns whether the keystore is
 * open afterwards; a wallet that cannot be opened is reported at elevel.
 */
bool
tde_keystore_autoopen(int elevel)
{
	char	   *cwallet;
	TdeWallet  *w = NULL;
	TdeWalletResult res;
	bool		opened = false;
	bool		launch = false;

	if (tde_keystore_open_kind() != TDE_OPEN_NONE)
		return true;
	if (tde_wallet_root == NULL || tde_wallet_root[0] == '\0')
		return false;

	cwallet = psprintf("%s/%s/%s", tde_wallet_root, TDE_WALLET_DIR, TDE_CWALLET_FILE);
	if (!tde_file_exists(cwallet))
		return false;

	LWLockAcquire(tde_shared->admin_lock, LW_EXCLUSIVE);
	if (tde_keystore_open_kind() != TDE_OPEN_NONE)
		opened = true;
	else
	{
		res = tde_wallet_load(cwallet, true, NULL, &w);
		if (res == TDE_WALLET_OK)
		{
			publish(w, open_kind_of(w->kind));
			opened = true;
			launch = true;
		}
		else if (res != TDE_WALLET_MISSING)
		{
			LWLockRelease(tde_shared->admin_lock);
			tde_wallet_report(res, cwallet, elevel);
			return false;
		}
	}
	LWLockRelease(tde_shared->admin_lock);

	/* finish any re-wrap a crash left undone (outside the LWLock) */
	if (launch)
		tde_rewrap_launch(InvalidOid);
	return opened;
}

void
tde_keystore_get_status(TdeWalletStatus *row)
{
	TdeOpenKind kind;
	int			nkeys;
	bool		has_active;
	bool		backed_up;

	memset(row, 0, sizeof(*row));
	row->wrl_type = "FILE";
	row->wallet_order = "SINGLE";
	row->keystore_mode = "NONE";
	row->con_id = 0;

	if (tde_wallet_root == NULL || tde_wallet_root[0] == '\0')
	{
		row->status = "NOT_AVAILABLE";
		row->wallet_type = "UNKNOWN";
		row->fully_backed_up = "UNDEFINED";
		return;
	}
	row->wrl_parameter = psprintf("%s/%s/", tde_wallet_root, TDE_WALLET_DIR);

	/* Querying the view is a use: an auto-login wallet opens now. */
	(void) tde_keystore_autoopen(WARNING);

	LWLockAcquire(tde_shared->state_lock, LW_SHARED);
	kind = tde_shared->open_kind;
	nkeys = tde_shared->nmasterkeys;
	has_active = tde_shared->active_key >= 0;
	backed_up = tde_shared->fully_backed_up;
	LWLockRelease(tde_shared->state_lock);

	switch (kind)
	{
		case TDE_OPEN_NONE:
			{
				char	   *ewallet = psprintf("%s%s", row->wrl_parameter, TDE_EWALLET_FILE);
				char	   *cwallet = psprintf("%s%s", row->wrl_parameter, TDE_CWALLET_FILE);

				row->status = (tde_file_exists(ewallet) || tde_file_exists(cwallet))
					? "CLOSED" : "NOT_AVAILABLE";
				row->wallet_type = "UNKNOWN";
			}
			break;
		case TDE_OPEN_PASSWORD:
			row->wallet_type = "PASSWORD";
			break;
		case TDE_OPEN_AUTOLOGIN:
			row->wallet_type = "AUTOLOGIN";
			break;
		case TDE_OPEN_LOCAL_AUTOLOGIN:
			row->wallet_type = "LOCAL_AUTOLOGIN";
			break;
	}
	if (kind != TDE_OPEN_NONE)
		row->status = has_active ? "OPEN" : "OPEN_NO_MASTER_KEY";
	if (kind == TDE_OPEN_NONE || nkeys == 0)
		row->fully_backed_up = "UNDEFINED";
	else
		row->fully_backed_up = backed_up ? "YES" : "NO";
}

/*
 * Data operations need the keys: open the auto-login wallet if there is
 * one, otherwise fail as Oracle does with a closed wallet.
 */
void
tde_require_keystore_open(void)
{
	if (tde_keystore_open_kind() != TDE_OPEN_NONE || tde_keystore_autoopen(ERROR))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("keystore is not open"),
			 errdetail("ORA-28365: wallet is not open"),
			 errhint("Open it with ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN.")));
}
