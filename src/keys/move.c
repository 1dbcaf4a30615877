/*-------------------------------------------------------------------------
 *
 * move.c
 *	  MOVE KEYS.  See keys/move.h.
 *
 * The keys named (every key but the active one if none is named) leave
 * the password wallet for a new password keystore at another location.
 * Two keys are never moved: the active one (Oracle's rule: the database
 * uses it), and, beyond Oracle, one that still wraps a relation key in any
 * database of the cluster, rows not yet re-wrapped included
 * (keys/key_use.c): without it that data could not be read.
 *
 * Order: the wallet is read first, under the keystore lock, as it is; the
 * lock is given back while the databases are read (their workers wait for
 * the writers of relation keys, and a rekey in another database may hold
 * its table lock while it waits for the keystore lock); then the lock is
 * taken again and the wallet must be byte for byte as it was, else nothing
 * is moved (SQLSTATE 40001: run it again).  A changed active key would
 * show there, so the active key the databases were read against is the
 * one the keys are checked against.
 *
 * Files: the new keystore, the backup (WITH BACKUP is required, as for
 * every change of the password wallet) and the wallet without the moved
 * keys are one file set (util/fileio.h), the new keystore put in place
 * and made durable before the wallet is replaced: a failure leaves every
 * file as it was, and no instant has a moved key in neither file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "commands/dbcommands.h"

#include "tde/keys/key_use.h"
#include "tde/keys/masterkey.h"
#include "tde/keys/move.h"
#include "tde/keys/transfer.h"
#include "tde/keystore/config.h"
#include "tde/keystore/file_backup.h"
#include "tde/keystore/file_keystore.h"
#include "tde/keystore/keyrecord.h"
#include "tde/keystore/keyset.h"
#include "tde/keystore/keystore.h"
#include "tde/store/wallet.h"
#include "tde/util/fileio.h"
#include "tde/util/secure.h"

#define ALL_KEYS_SIZE	(sizeof(TdeMasterKey) * TDE_MAX_MASTER_KEYS)

typedef struct MoveArg
{
	const TdeMoveRequest *req;
	const char *dir;			/* the new keystore's */
	const TdeKeyUse *uses;
	int			nuses;
	TdeWallet  *moved;			/* the new keystore's contents */
	int			nmoved;
} MoveArg;

/* A key that must stay: the active one, or one a relation key needs */
static void
require_movable(const MoveArg *arg, const TdeMasterKey *mk, bool active)
{
	char		key_id[TDE_KEY_ID_LEN + 1];
	int			i;

	tde_mkid_to_key_id(mk->mkid, key_id);
	if (active)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot move the active master key \"%s\"", key_id),
				 errdetail("No key was moved."),
				 errhint("Make another key active first (SET KEY or USE KEY), then move this one.")));
	for (i = 0; i < arg->nuses; i++)
	{
		char	   *db;

		if (memcmp(arg->uses[i].mkid, mk->mkid, TDE_MKID_LEN) != 0)
			continue;
		db = get_database_name(arg->uses[i].dboid);
		/* the database first: the log hides a KEY_ID the statement quoted, to the end */
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("database \"%s\" still has relation keys wrapped by master key \"%s\"",
						db ? db : "?", key_id),
				 errdetail_plural("ORA-46696: a master key is required by another pluggable database; %lld relation key there is wrapped by it. No key was moved.",
								  "ORA-46696: a master key is required by another pluggable database; %lld relation keys there are wrapped by it. No key was moved.",
								  (unsigned long) arg->uses[i].nkeys,
								  (long long) arg->uses[i].nkeys),
				 errhint("Wait until tde.rewrap_progress shows that database re-wrapped under the active key (the keystore must be open), then move the key.")));
	}
}

/* The change of MOVE KEYS: the keys leave w for arg->moved, or nothing changes. */
static void
move_change(TdeWallet *w, void *varg)
{
	MoveArg    *arg = varg;
	TdeMasterKey *all = tde_secure_alloc(ALL_KEYS_SIZE);
	TdeMasterKey *chosen = tde_secure_alloc(ALL_KEYS_SIZE);
	int			active;
	int			n = tde_masterkeys_from_wallet(w, all, TDE_MAX_MASTER_KEYS, &active);
	int			nchosen;
	int			i;

	nchosen = tde_masterkeys_select(arg->req->key_ids, arg->req->nkey_ids,
									all, n, chosen);
	arg->moved = tde_keystore_new_wallet();
	arg->nmoved = 0;
	for (i = 0; i < nchosen; i++)
	{
		bool		is_active = active >= 0 &&
			memcmp(chosen[i].mkid, all[active].mkid, TDE_MKID_LEN) == 0;

		/* every key: every one but the active key */
		if (is_active && arg->req->key_ids == NULL)
			continue;
		require_movable(arg, &chosen[i], is_active);
		chosen[i].backed_up = false;
		tde_masterkey_store(arg->moved, &chosen[i]);
		(void) tde_masterkey_remove(w, chosen[i].mkid);
		arg->nmoved++;
	}
	tde_wipe(all, ALL_KEYS_SIZE);
	tde_wipe(chosen, ALL_KEYS_SIZE);
	if (arg->nmoved == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no master key to move"),
				 errdetail(arg->req->key_ids != NULL ? "WITH IDENTIFIER IN named no key." :
						   "The keystore holds no master key but the active one.")));
}

/* The new keystore, first in the change's file set */
static void
add_new_keystore(TdeFileSet *fs, void *varg)
{
	MoveArg    *arg = varg;
	size_t		len;
	char	   *bytes = tde_wallet_encode(arg->moved, arg->req->password,
										  tde_wallet_kdf_iterations, &len);

	tde_fileset_add(fs, tde_join_path(arg->dir, TDE_EWALLET_FILE), bytes, len,
					TDE_FILE_NEW);
	pfree(bytes);
}

/*
 * The wallet file's bytes, read under the keystore lock; NULL if there is
 * none (the change says why that is an error).
 */
static char *
wallet_bytes(const char *ewallet, size_t *len)
{
	int			lockfd = tde_keystore_lock(tde_wallet_dir(), false, NULL);
	char	   *bytes = tde_file_read_all(ewallet, len, true);

	if (bytes == NULL)
		*len = 0;
	if (lockfd >= 0)
		tde_keystore_unlock(lockfd);
	return bytes;
}

static void
check_request(const TdeMoveRequest *req)
{
	tde_require_primary_server();
	tde_keystore_require_file_primary("MOVE KEYS",
									  "Master keys never leave the HSM; to move keys, reverse migrate to a software keystore first.");
	if (req->location == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the new keystore's location must not be null")));
	tde_check_password(req->password, "keystore password");
	tde_check_backup_id(req->backup_id);
	tde_require_backup_clause(req->with_backup);
}

int
tde_masterkey_move(const TdeMoveRequest *req)
{
	char	   *wdir = tde_wallet_dir();
	char	   *ewallet = tde_join_path(wdir, TDE_EWALLET_FILE);
	MoveArg		arg = {0};
	TdeChangeRequest chg = {0};
	char	   *before;
	char	   *now;
	size_t		before_len;
	size_t		now_len;
	int			lockfd;
	int			newfd;

	check_request(req);
	arg.req = req;
	arg.dir = tde_keystore_location_dir(req->location);
	if (strcmp(arg.dir, wdir) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot move keys into the keystore they are in"),
				 errhint("Name a new location for the keystore the keys go to.")));

	before = wallet_bytes(ewallet, &before_len);
	arg.uses = tde_cluster_key_use(&arg.nuses);

	lockfd = tde_keystore_lock(wdir, false, ewallet);
	now = wallet_bytes(ewallet, &now_len);
	if ((now == NULL) != (before == NULL) || now_len != before_len ||
		(now != NULL && memcmp(now, before, now_len) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("the keystore changed while MOVE KEYS read the databases"),
				 errdetail("No key was moved."),
				 errhint("Run the statement again.")));
	newfd = tde_keystore_lock(arg.dir, true, NULL);
	if (tde_file_exists(tde_join_path(arg.dir, TDE_EWALLET_FILE)) ||
		tde_file_exists(tde_join_path(arg.dir, TDE_CWALLET_FILE)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_FILE),
				 errmsg("keystore \"%s\" already exists", arg.dir),
				 errdetail("ORA-46630: keystore cannot be created at the specified location"),
				 errhint("MOVE KEYS makes a new keystore: name a location that holds none.")));

	chg.cred = req->cred;
	chg.force = req->force_keystore;
	chg.with_backup = req->with_backup;
	chg.backup_required = true;
	chg.backup_id = req->backup_id;
	chg.add_files = add_new_keystore;
	chg.files_arg = &arg;
	tde_keystore_change(&chg, move_change, &arg);
	tde_masterkey_pop_temporary();

	tde_keystore_unlock(newfd);
	tde_keystore_unlock(lockfd);
	return arg.nmoved;
}
