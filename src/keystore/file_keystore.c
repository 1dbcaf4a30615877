/*-------------------------------------------------------------------------
 *
 * file_keystore.c
 *	  The file keystore: create, open, close, change password, back up,
 *	  and its entry in the table of keystore kinds (keystore/ops.h).
 *
 * The status is instance-wide (keystore/state.h).  Every
 * operation that reads, changes and writes keystore files, and every open
 * and close, holds the keystore lock (the wallet directory's flock, see
 * keystore/config.c) for its whole duration, so two never interleave,
 * tools outside the server can serialize with them, and a waiter can be
 * cancelled.  An operation that fails leaves the files as they were: the only
 * writes are atomic replacements (util/fileio.c), made last.
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

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "tde/crypto/cipher.h"
#include "tde/keystore/file_backup.h"
#include "tde/keystore/file_keystore.h"
#include "tde/keystore/keyset.h"
#include "tde/keystore/report.h"
#include "tde/store/wallet.h"
#include "tde/util/fileio.h"
#include "tde/util/opmem.h"
#include "tde/util/secure.h"

#define KEYSTORE_INFO_ENTRY "TDE.KEYSTORE"

/* ---------------------------------------------------------------------
 * Shared status
 * ---------------------------------------------------------------------
 */

TdeOpenKind
tde_keystore_open_kind(void)
{
	return tde_state_file_open_kind();
}

/*
 * Read w's keys for publication (w NULL: none), before a change puts its
 * files in place (keyrecord.h, TdeKeySetPrepared).
 */
static void
prepare_keys(TdeKeySetPrepared *p, const TdeWallet *w)
{
	tde_keyset_prepare(p, w, false, "tde publish file keys");
}

/* Make prepared keys the open file keystore (kind NONE: close); wipes them. */
static void
install_keys(TdeKeySetPrepared *p, TdeOpenKind kind)
{
	bool		fully = p->set->nkeys > 0;
	int			i;

	for (i = 0; i < p->set->nkeys; i++)
		fully = fully && p->set->keys[i].backed_up;
	tde_state_publish_file(p->set, kind, fully);
	tde_keyset_prepared_end(p);
}

/*
 * Make a wallet's contents the open file keystore (w NULL and kind NONE:
 * close).  Key material is copied into shared memory; closing wipes it.
 */
static void
publish(const TdeWallet *w, TdeOpenKind kind)
{
	TdeKeySetPrepared keys;

	prepare_keys(&keys, w);
	install_keys(&keys, kind);
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

/* Add the password wallet with new contents: the change itself. */
static void
add_ewallet(TdeFileSet *fs, const char *ewallet, const TdeWallet *w,
			const char *password)
{
	size_t		len;
	char	   *bytes = tde_wallet_encode(w, password, tde_wallet_kdf_iterations, &len);

	tde_fileset_add(fs, ewallet, bytes, len, TDE_FILE_PRIMARY);
	pfree(bytes);
}

/*
 * Put a changed password wallet w in place (under password) with the files
 * already in fs and its auto-login follower, and make its keys the open
 * keystore's.  Returns false, publishing nothing, if the keystore is closed
 * (FORCE KEYSTORE).  The keys are read before the files are put in place
 * even then: every key of w reads, or nothing changes.
 */
static bool
commit_wallet(TdeFileSet *fs, const char *ewallet, const TdeWallet *w,
			  const char *password)
{
	TdeOpenKind kind = tde_keystore_open_kind();
	TdeKeySetPrepared keys;

	add_ewallet(fs, ewallet, w, password);
	tde_file_add_autologin(fs, tde_wallet_dir(), w);
	prepare_keys(&keys, w);
	tde_fileset_commit(fs);
	if (kind == TDE_OPEN_NONE)
	{
		tde_keyset_prepared_end(&keys);
		return false;
	}
	install_keys(&keys, kind);
	return true;
}

/* ---------------------------------------------------------------------
 * Operations
 * ---------------------------------------------------------------------
 */

/* A new, empty password wallet: its TDE.KEYSTORE entry only. */
TdeWallet *
tde_keystore_new_wallet(void)
{
	TdeWallet  *w = tde_wallet_create(TDE_WALLET_PASSWORD);
	char	   *info = psprintf("format=1\ncreated=%s\ncreator=%s\n",
								timestamptz_to_str(GetCurrentTimestamp()),
								GetUserNameFromId(GetUserId(), false));

	tde_wallet_put(w, KEYSTORE_INFO_ENTRY, info, strlen(info));
	return w;
}

void
tde_keystore_create(const char *location, const char *password)
{
	char	   *dir;
	char	   *ewallet;
	TdeWallet  *w;
	int			lockfd;

	tde_check_password(password, "keystore password");
	dir = tde_keystore_location_dir(location);
	ewallet = tde_join_path(dir, TDE_EWALLET_FILE);

	lockfd = tde_keystore_lock(dir, true, NULL);

	if (tde_file_exists(ewallet))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_FILE),
				 errmsg("keystore \"%s\" already exists", ewallet),
				 errdetail("ORA-46630: keystore cannot be created at the specified location")));

	w = tde_keystore_new_wallet();
	tde_wallet_write(ewallet, w, password, tde_wallet_kdf_iterations);

	tde_keystore_unlock(lockfd);
}

void
tde_keystore_create_autologin(const char *location, const char *password,
							  bool local)
{
	char	   *dir;
	TdeWallet  *w;
	TdeWallet  *sso;
	int			lockfd;

	tde_check_password(password, "keystore password");
	dir = tde_keystore_location_dir(location);

	lockfd = tde_keystore_lock(dir, false, tde_join_path(dir, TDE_EWALLET_FILE));

	w = tde_wallet_read(tde_join_path(dir, TDE_EWALLET_FILE), false, password);
	sso = tde_wallet_copy(w, local ? TDE_WALLET_LOCAL_AUTOLOGIN : TDE_WALLET_AUTOLOGIN);
	tde_wallet_write(tde_join_path(dir, TDE_CWALLET_FILE), sso, NULL, 0);
	/* an open auto-login keystore is now this one */
	if (strcmp(dir, tde_wallet_dir()) == 0 &&
		(tde_keystore_open_kind() == TDE_OPEN_AUTOLOGIN ||
		 tde_keystore_open_kind() == TDE_OPEN_LOCAL_AUTOLOGIN))
		publish(sso, open_kind_of(sso->kind));

	tde_keystore_unlock(lockfd);
}

/* Open the file wallet with its password; the caller holds the keystore lock. */
static void
open_wallet_locked(const char *ewallet, const char *password)
{
	publish(tde_wallet_read(ewallet, false, password), TDE_OPEN_PASSWORD);
}

/*
 * Open a secondary file wallet without failing: the auto-login wallet if
 * there is one, else the password wallet under the given password (Oracle
 * opens a secondary wallet that shares the HSM's password).
 */
static void
open_secondary_wallet(const char *password)
{
	char	   *dir = tde_wallet_dir();
	char	   *ewallet = tde_join_path(dir, TDE_EWALLET_FILE);
	char	   *cwallet = tde_join_path(dir, TDE_CWALLET_FILE);
	TdeWallet  *w = NULL;

	if (tde_keystore_open_kind() != TDE_OPEN_NONE)
		return;
	if (tde_wallet_load(cwallet, true, NULL, &w) == TDE_WALLET_OK)
		publish(w, open_kind_of(w->kind));
	else if (password != NULL &&
			 tde_wallet_load(ewallet, false, password, &w) == TDE_WALLET_OK)
		publish(w, TDE_OPEN_PASSWORD);
	else if (tde_file_exists(ewallet))
		ereport(NOTICE,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the secondary software keystore stays closed"),
				 errhint("Give it the HSM's password or an auto-login wallet, or open it with SET KEYSTORE OPEN under configuration FILE.")));
}

/* The kind's open: the password wallet, as the primary keystore. */
static void
file_open(const char *password, bool force)
{
	char	   *ewallet = tde_join_path(tde_wallet_dir(), TDE_EWALLET_FILE);
	TdeOpenKind kind;
	int			lock;

	lock = tde_keystore_lock(tde_wallet_dir(), false, ewallet);
	kind = tde_keystore_open_kind();
	if (kind == TDE_OPEN_PASSWORD || (kind != TDE_OPEN_NONE && !force))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("keystore is already open"),
				 errdetail("ORA-28354: Encryption wallet, auto login wallet, or HSM is already open"),
				 kind != TDE_OPEN_PASSWORD ?
				 errhint("The auto-login keystore is open; add FORCE KEYSTORE to open the password keystore instead.") : 0));
	open_wallet_locked(ewallet, password);
	tde_keystore_unlock(lock);
}

static void
file_open_secondary(const char *password)
{
	int			lock = tde_keystore_lock(tde_wallet_dir(), false, NULL);

	open_secondary_wallet(password);
	tde_keystore_unlock(lock);
}

static bool
file_is_open(void)
{
	return tde_keystore_open_kind() != TDE_OPEN_NONE;
}

/* A password given to CLOSE must be the wallet's; the lock is held. */
static void
file_check_close(const char *password)
{
	char	   *ewallet = tde_join_path(tde_wallet_dir(), TDE_EWALLET_FILE);
	TdeWallet  *w;
	TdeWalletResult res;

	if (tde_keystore_open_kind() != TDE_OPEN_PASSWORD && !tde_file_exists(ewallet))
		return;
	res = tde_wallet_load(ewallet, false, password, &w);
	if (res == TDE_WALLET_BAD_PASSWORD)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PASSWORD),
				 errmsg("incorrect password for keystore \"%s\"", ewallet),
				 errdetail("ORA-28391: cannot close wallet or HSM, password mismatch")));
	tde_wallet_report(res, ewallet, ERROR);
}

/* The lock is held. */
static void
file_close(void)
{
	publish(NULL, TDE_OPEN_NONE);
}

void
tde_file_keystore_alter_password(const char *old_password, const char *new_password,
							bool with_backup, const char *backup_id, bool force)
{
	char	   *dir = tde_wallet_dir();
	char	   *ewallet = tde_join_path(dir, TDE_EWALLET_FILE);
	TdeWallet  *w;
	TdeFileSet *fs;
	int			lockfd;

	tde_check_password(old_password, "old keystore password");
	tde_check_password(new_password, "new keystore password");
	tde_require_backup_clause(with_backup);
	tde_check_backup_id(backup_id);
	require_password_keystore(force);

	lockfd = tde_keystore_lock(dir, false, ewallet);

	w = tde_wallet_read(ewallet, false, old_password);
	/* the backup holds every key: they count as backed up (spec 4.1.6) */
	(void) tde_masterkeys_mark_backed_up(w);
	fs = tde_fileset_begin();
	/* The backup is the wallet as it was, under the old password. */
	(void) tde_add_backup_of(fs, ewallet, backup_id);
	(void) commit_wallet(fs, ewallet, w, new_password);

	tde_keystore_unlock(lockfd);
}

/*
 * Change the password wallet: the common frame of every key operation.
 * Checks the state and the backup clause, reads the wallet with the
 * password, lets change() modify it, prepares the backup (the file as it
 * was), the new wallet and the new auto-login wallet, puts them in place
 * in that order (a failure before the wallet is replaced changes nothing),
 * and makes the new contents the open keystore.  If the keystore is closed (FORCE
 * KEYSTORE), the new keys are available to this transaction only.
 */
static void
file_change(const TdeChangeRequest *req, TdeWalletChange change, void *arg)
{
	const TdeCredential *cred = req->cred;
	bool		force = req->force;
	bool		with_backup = req->with_backup;
	const char *backup_id = req->backup_id;
	char	   *dir = tde_wallet_dir();
	char	   *ewallet = tde_join_path(dir, TDE_EWALLET_FILE);
	const char *password;
	TdeWallet  *w;
	TdeFileSet *fs;
	int			lockfd;

	tde_check_backup_id(backup_id);
	require_password_keystore(force);
	if (req->backup_required)
		tde_require_backup_clause(with_backup);
	password = tde_credential_password(cred, TDE_CLIENT_TDE_WALLET);

	lockfd = tde_keystore_lock(dir, false, ewallet);

	w = tde_wallet_read(ewallet, false, password);
	/* the keys there now are in the backup about to be written */
	if (with_backup)
		(void) tde_masterkeys_mark_backed_up(w);
	change(w, arg);

	/* every file prepared first; any failure until the wallet is replaced changes nothing */
	fs = tde_fileset_begin();
	if (req->add_files != NULL)
		req->add_files(fs, req->files_arg);
	if (with_backup)
		(void) tde_add_backup_of(fs, ewallet, backup_id);
	if (!commit_wallet(fs, ewallet, w, password))
		tde_masterkey_push_temporary(w);

	tde_keystore_unlock(lockfd);
}

/*
 * The password wallet's keys, for EXPORT KEYS: the keystore must be open
 * with its password, or FORCE KEYSTORE given; reading the wallet with the
 * password proves it.  keys[] has room for TDE_MAX_MASTER_KEYS.
 */
int
tde_file_keystore_keys(const TdeCredential *cred, bool force, TdeMasterKey *keys)
{
	char	   *dir = tde_wallet_dir();
	char	   *ewallet = tde_join_path(dir, TDE_EWALLET_FILE);
	TdeOpMem	op;
	int			lockfd;
	int			active;
	int			n;

	require_password_keystore(force);
	lockfd = tde_keystore_lock(dir, false, ewallet);
	tde_opmem_begin(&op, "tde read keys", NULL);
	n = tde_masterkeys_from_wallet(tde_wallet_read(ewallet, false,
												   tde_credential_password(cred, TDE_CLIENT_TDE_WALLET)),
								   keys, TDE_MAX_MASTER_KEYS, &active);
	tde_opmem_end(&op);
	tde_keystore_unlock(lockfd);
	return n;
}

char *
tde_file_keystore_backup(const TdeCredential *cred, const char *backup_id,
					const char *location, bool force)
{
	char	   *dir = tde_wallet_dir();
	char	   *ewallet = tde_join_path(dir, TDE_EWALLET_FILE);
	const char *password;
	char	   *path;
	TdeWallet  *w;
	TdeFileSet *fs;
	bool		marked = false;
	bool		publishing;
	TdeOpenKind kind;
	TdeKeySetPrepared keys;
	int			lockfd;

	tde_check_backup_id(backup_id);
	require_password_keystore(force);
	password = tde_credential_password(cred, TDE_CLIENT_TDE_WALLET);

	lockfd = tde_keystore_lock(dir, false, ewallet);

	/* proves the password before anything is written */
	w = tde_wallet_read(ewallet, false, password);
	path = tde_backup_path(backup_id, location);
	fs = tde_fileset_begin();
	if (!tde_masterkeys_mark_backed_up(w))
	{
		/* nothing to mark: the backup is the wallet as it is */
		size_t		len;
		char	   *bytes = tde_file_read_all(ewallet, &len, false);

		tde_fileset_add(fs, path, bytes, len, TDE_FILE_NEW);
		marked = false;
	}
	else
	{
		/*
		 * The backup holds the keys marked backed up, and the wallet
		 * becomes the same bytes: one KDF for both files.  The backup is
		 * placed first, so the marks never name a backup that is not
		 * there.
		 */
		size_t		len;
		char	   *bytes = tde_wallet_encode(w, password, tde_wallet_kdf_iterations, &len);

		tde_fileset_add(fs, path, bytes, len, TDE_FILE_NEW);
		tde_fileset_add(fs, ewallet, bytes, len, TDE_FILE_PRIMARY);
		tde_file_add_autologin(fs, tde_wallet_dir(), w);
		marked = true;
	}
	kind = tde_keystore_open_kind();
	publishing = marked && kind != TDE_OPEN_NONE;
	if (publishing)
		prepare_keys(&keys, w);
	tde_fileset_commit(fs);
	if (publishing)
		install_keys(&keys, kind);

	tde_keystore_unlock(lockfd);
	return path;
}

/*
 * Open the auto-login wallet if the file keystore is closed and one
 * exists, as Oracle does when a key is first needed.  Returns whether it
 * opened now; a wallet that cannot be opened is reported at elevel.
 */
static bool
file_autoopen(int elevel)
{
	char	   *cwallet;
	TdeWallet  *w = NULL;
	TdeWalletResult res;
	bool		opened = false;
	int			lock;

	if (tde_keystore_open_kind() != TDE_OPEN_NONE)
		return false;
	cwallet = psprintf("%s/%s/%s", tde_wallet_root, TDE_WALLET_DIR, TDE_CWALLET_FILE);
	if (!tde_file_exists(cwallet))
		return false;

	lock = tde_keystore_lock(tde_wallet_dir(), false, NULL);
	if (tde_keystore_open_kind() == TDE_OPEN_NONE)
	{
		res = tde_wallet_load(cwallet, true, NULL, &w);
		if (res == TDE_WALLET_OK)
		{
			publish(w, open_kind_of(w->kind));
			opened = true;
		}
		else if (res != TDE_WALLET_MISSING)
		{
			tde_keystore_unlock(lock);
			tde_wallet_report(res, cwallet, elevel);
			return false;
		}
	}
	tde_keystore_unlock(lock);
	return opened;
}

/* The file wallet's row of v$encryption_wallet */
static void
file_status(TdeWalletStatus *row, bool primary)
{
	TdeKeySetStatus st;
	char	   *ewallet;
	char	   *cwallet;

	row->wrl_type = "FILE";
	if (tde_wallet_root == NULL || tde_wallet_root[0] == '\0')
	{
		row->status = "NOT_AVAILABLE";
		row->wallet_type = "UNKNOWN";
		row->fully_backed_up = "UNDEFINED";
		return;
	}
	row->wrl_parameter = psprintf("%s/%s/", tde_wallet_root, TDE_WALLET_DIR);
	tde_state_key_set_status(TDE_FILE_KEYS, &st);

	switch (st.open_kind)
	{
		case TDE_OPEN_NONE:
			ewallet = psprintf("%s%s", row->wrl_parameter, TDE_EWALLET_FILE);
			cwallet = psprintf("%s%s", row->wrl_parameter, TDE_CWALLET_FILE);
			row->status = (tde_file_exists(ewallet) || tde_file_exists(cwallet))
				? "CLOSED" : "NOT_AVAILABLE";
			row->wallet_type = "UNKNOWN";
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
	if (st.open_kind != TDE_OPEN_NONE)
		row->status = (primary ? st.has_active : st.nkeys > 0) ? "OPEN" : "OPEN_NO_MASTER_KEY";
	if (st.open_kind == TDE_OPEN_NONE || st.nkeys == 0)
		row->fully_backed_up = "UNDEFINED";
	else
		row->fully_backed_up = st.fully_backed_up ? "YES" : "NO";
}

/*
 * Open the password wallet with its password, whatever its state, for a
 * migration; with_backup writes a backup of it first.
 */
static char *
file_open_for_migration(const char *password, bool with_backup,
						const char *backup_id)
{
	char	   *dir = tde_wallet_dir();
	char	   *ewallet = tde_join_path(dir, TDE_EWALLET_FILE);
	char	   *backup = NULL;
	TdeWallet  *w;
	TdeKeySetPrepared keys;
	int			lockfd;

	tde_check_backup_id(backup_id);
	lockfd = tde_keystore_lock(dir, false, ewallet);
	w = tde_wallet_read(ewallet, false, password);
	prepare_keys(&keys, w);
	if (with_backup)
	{
		TdeFileSet *fs;

		fs = tde_fileset_begin();
		backup = tde_add_backup_of(fs, ewallet, backup_id);
		tde_fileset_commit(fs);
	}
	install_keys(&keys, TDE_OPEN_PASSWORD);
	tde_keystore_unlock(lockfd);
	return backup;
}

/* A migration's proof of the wallet password: the wallet decrypts. */
static void
file_prove(const char *password)
{
	(void) tde_wallet_read(tde_join_path(tde_wallet_dir(), TDE_EWALLET_FILE),
						   false, password);
}

static int
file_wrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
		  const uint8 *in, int inlen, uint8 *out)
{
	return tde_wrap(mk->algorithm, mk->key, mk->keylen, aad, aadlen,
					in, inlen, out);
}

static bool
file_unwrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
			const uint8 *in, int inlen, uint8 *out, int *outlen)
{
	return tde_unwrap(mk->algorithm, mk->key, mk->keylen, aad, aadlen,
					  in, inlen, out, outlen);
}

const TdeKeystoreOps tde_file_keystore_ops = {
	.name = "FILE",
	.seps_client = TDE_CLIENT_TDE_WALLET,
	.generates_keys = false,
	.opens_alone = true,
	.open = file_open,
	.open_secondary = file_open_secondary,
	.autoopen = file_autoopen,
	.is_open = file_is_open,
	.check_close = file_check_close,
	.close = file_close,
	.change = file_change,
	.prove = file_prove,
	.open_for_migration = file_open_for_migration,
	.status = file_status,
	.generate = NULL,
	.key_set = TDE_FILE_KEYS,
	.find_device = NULL,
	.wrap = file_wrap,
	.unwrap = file_unwrap,
};
