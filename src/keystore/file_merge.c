/*-------------------------------------------------------------------------
 *
 * file_merge.c
 *	  MERGE KEYSTORE.  See keystore/file_merge.h.
 *
 * Locations: a source is read, so one outside tde.wallet_root needs what
 * COPY FROM a file needs; the target is written, so it needs what COPY TO
 * needs.  The target directory's keystore lock is held from reading it to
 * replacing it.  Every file is prepared first and put in place as one file
 * set: a failure leaves every file as it was.  Into an existing keystore,
 * WITH BACKUP is required (ORA-46631) and the backup is made beside it;
 * its auto-login copy, if it has one, is kept in step.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "tde/keystore/config.h"
#include "tde/keystore/file_backup.h"
#include "tde/keystore/file_keystore.h"
#include "tde/keystore/file_merge.h"
#include "tde/keystore/keyrecord.h"
#include "tde/keystore/keystore.h"
#include "tde/keystore/report.h"
#include "tde/store/wallet.h"
#include "tde/util/fileio.h"
#include "tde/util/opmem.h"
#include "tde/util/secure.h"

#define ALL_KEYS_SIZE	(sizeof(TdeMasterKey) * TDE_MAX_MASTER_KEYS)

/* A source keystore's keys, into keys[]; *active is the index of its active key or -1. */
static int
read_source(const char *location, const char *password, TdeMasterKey *keys,
			int *active)
{
	char	   *dir = tde_canonical_location(location, "keystore location");
	char	   *path = tde_join_path(dir, password ? TDE_EWALLET_FILE : TDE_CWALLET_FILE);
	TdeWallet  *w = NULL;
	TdeOpMem	op;
	int			n;

	tde_require_location_read_access(dir);
	if (password != NULL)
		tde_check_password(password, "keystore password");
	tde_opmem_begin(&op, "tde read merge source", NULL);
	tde_wallet_report(tde_wallet_load(path, password == NULL, password, &w), path, ERROR);
	n = tde_masterkeys_from_wallet(w, keys, TDE_MAX_MASTER_KEYS, active);
	tde_opmem_end(&op);
	return n;
}

/* Add the keys of src not in w; returns how many. */
static int
add_missing(TdeWallet *w, TdeMasterKey *src, int n)
{
	int			added = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (tde_masterkey_entry(w, src[i].mkid) != NULL)
			continue;
		if (tde_masterkey_count(w) >= TDE_MAX_MASTER_KEYS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("merged keystore would hold more than %d master keys",
							TDE_MAX_MASTER_KEYS)));
		src[i].backed_up = false;
		tde_masterkey_store(w, &src[i]);
		added++;
	}
	return added;
}

/* Put the new password wallet w in place at ewallet, as one file set. */
static void
write_wallet(const char *dir, const TdeWallet *w, const char *password,
			 const char *backup_id, bool backup, bool follower)
{
	char	   *ewallet = tde_join_path(dir, TDE_EWALLET_FILE);
	TdeFileSet *fs = tde_fileset_begin();
	size_t		len;
	char	   *bytes;

	if (backup)
		(void) tde_add_backup_of(fs, ewallet, backup_id);
	bytes = tde_wallet_encode(w, password, tde_wallet_kdf_iterations, &len);
	tde_fileset_add(fs, ewallet, bytes, len, follower ? TDE_FILE_PRIMARY : TDE_FILE_NEW);
	if (follower)
		tde_file_add_autologin(fs, dir, w);
	tde_fileset_commit(fs);
}

static int
merge_into_new(const TdeMergeRequest *req, const char *dir, TdeMasterKey *keys)
{
	const char *password = req->into_cred->password;
	TdeWallet  *w = tde_keystore_new_wallet();
	bool		have_active = false;
	uint8		active[TDE_MKID_LEN];
	int			added = 0;
	int			lockfd;
	int			i;

	if (req->into_cred->external_store)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a new keystore needs a password, not EXTERNAL STORE")));
	tde_check_password(password, "keystore password");
	/* the first source's record of a common key is the one kept */
	for (i = 0; i < req->nfrom; i++)
	{
		int			act;
		int			n = read_source(req->from[i], req->from_password[i], keys, &act);

		if (!have_active && act >= 0)
		{
			memcpy(active, keys[act].mkid, TDE_MKID_LEN);
			have_active = true;
		}
		added += add_missing(w, keys, n);
		tde_wipe(keys, ALL_KEYS_SIZE);
	}
	if (have_active)
		tde_masterkey_set_active(w, active);

	lockfd = tde_keystore_lock(dir, true, NULL);
	if (tde_file_exists(tde_join_path(dir, TDE_EWALLET_FILE)) ||
		tde_file_exists(tde_join_path(dir, TDE_CWALLET_FILE)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_FILE),
				 errmsg("keystore \"%s\" already exists", dir),
				 errdetail("ORA-46630: keystore cannot be created at the specified location"),
				 errhint("Merge INTO EXISTING KEYSTORE, or name a new location.")));
	write_wallet(dir, w, password, NULL, false, false);
	tde_keystore_unlock(lockfd);
	return added;
}

static int
merge_into_existing(const TdeMergeRequest *req, const char *dir, TdeMasterKey *keys)
{
	const char *password = tde_credential_password(req->into_cred, TDE_CLIENT_TDE_WALLET);
	char	   *ewallet = tde_join_path(dir, TDE_EWALLET_FILE);
	TdeWallet  *w;
	int			act;
	int			n;
	int			added;
	int			lockfd;

	tde_check_backup_id(req->backup_id);
	tde_require_backup_clause(req->with_backup);
	n = read_source(req->from[0], req->from_password[0], keys, &act);

	lockfd = tde_keystore_lock(dir, false, ewallet);
	/* proves the target's password before anything is written */
	w = tde_wallet_read(ewallet, false, password);
	/* the keys there now are in the backup about to be written */
	(void) tde_masterkeys_mark_backed_up(w);
	/* the existing record of a common key is not overwritten; its active key stays */
	added = add_missing(w, keys, n);
	tde_wipe(keys, ALL_KEYS_SIZE);
	write_wallet(dir, w, password, req->backup_id, true, true);
	tde_keystore_unlock(lockfd);
	return added;
}

int
tde_keystore_merge(const TdeMergeRequest *req)
{
	char	   *dir;
	TdeMasterKey *keys;
	int			i;
	int			added;

	tde_keystore_require_file_primary("MERGE KEYSTORE",
									  "An HSM keystore is not a file; merge software keystores before migrating them to the HSM.");
	for (i = 0; i < req->nfrom; i++)
		if (req->from[i] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a keystore location to merge must not be null")));
	if (req->into == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the merged keystore's location must not be null")));
	dir = tde_canonical_location(req->into, "keystore location");
	tde_require_location_access(dir);
	for (i = 0; i < req->nfrom; i++)
		if (strcmp(tde_canonical_location(req->from[i], "keystore location"), dir) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot merge keystore \"%s\" into itself", dir)));

	keys = tde_secure_alloc(ALL_KEYS_SIZE);
	added = req->into_new ? merge_into_new(req, dir, keys) :
		merge_into_existing(req, dir, keys);
	return added;
}
