/*-------------------------------------------------------------------------
 *
 * hsm_keystore.c
 *	  The HSM as a keystore: open, close, status, and changes to its keys.
 *
 * The master keys are token objects (store/hsm.c); what Oracle shows about them
 * (tag, creator, times, origin, which one is active) is kept beside the
 * wallet in <wallet_root>/tde/hsm_keys.sso, an auto-login file in the
 * wallet format holding key records without key bytes, so it survives
 * restarts and needs no password.  It holds nothing secret.
 *
 * Opening the HSM keystore logs in with the credential, which proves it,
 * and stores the credential in shared memory: every backend logs in with
 * it on first use (PKCS#11 state is per process).  Closing wipes it.
 *
 * Locking as in keystore/keystore.c: the keystore lock (the wallet
 * directory's flock) around every open, close and change of the metadata
 * file; state_lock only for the shared status.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>

#include "miscadmin.h"

#include "tde/crypto/cipher.h"
#include "tde/keystore/config.h"
#include "tde/keystore/hsm_keystore.h"
#include "tde/keystore/keyrecord.h"
#include "tde/keystore/report.h"
#include "tde/keystore/seps.h"
#include "tde/keystore/state.h"
#include "tde/store/hsm.h"
#include "tde/store/hsm_session.h"
#include "tde/store/wallet.h"
#include "tde/util/fileio.h"
#include "tde/util/opmem.h"
#include "tde/util/secure.h"

#define HSM_METADATA_FILE "hsm_keys.sso"

static char *
metadata_path(void)
{
	return tde_join_path(tde_wallet_dir(), HSM_METADATA_FILE);
}

/* The metadata wallet; an empty one if there is none yet. */
static TdeWallet *
read_metadata(void)
{
	char	   *path = metadata_path();
	TdeWallet  *w = NULL;
	TdeWalletResult res = tde_wallet_load(path, true, NULL, &w);

	if (res == TDE_WALLET_MISSING)
		return tde_wallet_create(TDE_WALLET_AUTOLOGIN);
	tde_wallet_report(res, path, ERROR);
	return w;
}

/*
 * Make the HSM's key set the open one (credential NULL: close).  The
 * caller holds the keystore lock.
 */
static void
publish_hsm(const TdeWallet *meta, const char *credential)
{
	TdeKeySetPrepared keys;

	tde_keyset_prepare(&keys, credential ? meta : NULL, true, "tde publish HSM keys");
	tde_state_publish_hsm(keys.set, credential);
	tde_keyset_prepared_end(&keys);
}

/* A logged-in session for the credential; generation 0: a fresh C_Login. */
static void
login(const char *credential, uint64 generation)
{
	TdeHsmError err;

	(void) tde_hsm_login(credential, generation, &err);
	tde_hsm_report(&err);
}

bool
tde_hsm_keystore_is_open(void)
{
	return tde_state_is_open(TDE_HSM_KEYS);
}

/* An open HSM's credential must be this one; detail names Oracle's error. */
static void
require_open_credential(const char *credential, const char *detail)
{
	if (tde_hsm_keystore_is_open() && !tde_hsm_keystore_credential_matches(credential))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PASSWORD),
				 errmsg("incorrect HSM credential"),
				 errdetail("%s", detail)));
}

static void
check_credential(const char *credential)
{
	tde_check_password(credential, "HSM credential");
	if (strlen(credential) >= TDE_HSM_CREDENTIAL_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("HSM credential is longer than %d bytes", TDE_HSM_CREDENTIAL_MAX - 1)));
}

/* Log in (which proves the credential) and publish; keystore lock held. */
static void
open_locked(const char *credential)
{
	TdeWallet  *meta;

	/* a fresh login, not the session of an earlier credential */
	login(credential, 0);
	meta = read_metadata();
	publish_hsm(meta, credential);
	/* align this backend's session with the shared credential */
	tde_hsm_keystore_session();
}

void
tde_hsm_keystore_open(const char *credential, bool force)
{
	int			lock;

	check_credential(credential);
	lock = tde_keystore_lock(tde_wallet_dir(), false, NULL);
	if (tde_hsm_keystore_is_open() && !force)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("HSM keystore is already open"),
				 errdetail("ORA-28354: Encryption wallet, auto login wallet, or HSM is already open")));
	open_locked(credential);
	tde_keystore_unlock(lock);
}

/*
 * In a PG_CATCH block of an open that may fail and be reported instead:
 * the error, copied into cxt, with the state the open left behind undone
 * (LWLocks, keystore locks taken since depth).  A cancel or a
 * statement_timeout is not caught: it ends the statement.
 */
static ErrorData *
caught_error(MemoryContext cxt, int depth)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		PG_RE_THROW();
	FlushErrorState();
	LWLockReleaseAll();
	tde_keystore_unlock_to(depth);
	return edata;
}

/*
 * After a reverse migration the HSM is secondary: it opens with its
 * password from the external store (client HSM_PASSWORD), or with the
 * wallet's password; failing that it stays closed, with a notice.
 */
void
tde_hsm_keystore_open_secondary(const char *wallet_password)
{
	char	   *stored = tde_seps_get_optional(TDE_CLIENT_HSM_PASSWORD);
	const char *credential = stored ? stored : wallet_password;
	MemoryContext cxt = CurrentMemoryContext;
	int			depth = tde_keystore_lock_depth();

	if (tde_hsm_keystore_is_open() || credential == NULL)
		return;
	PG_TRY();
	{
		tde_hsm_keystore_open(credential, false);
	}
	PG_CATCH();
	{
		ErrorData  *edata = caught_error(cxt, depth);

		ereport(NOTICE,
				(errcode(edata->sqlerrcode),
				 errmsg("the secondary HSM keystore stays closed: %s", edata->message),
				 errhint("Store its password in the external store as client HSM_PASSWORD.")));
	}
	PG_END_TRY();
}

/*
 * Auto-open (HSM|FILE, FILE|HSM): with the HSM's password in the external
 * store, the HSM opens on first use, as an auto-login wallet does.
 * Returns whether it opened now.
 */
bool
tde_hsm_keystore_autoopen(int elevel)
{
	char	   *credential = tde_seps_get_optional(TDE_CLIENT_HSM_PASSWORD);
	MemoryContext cxt = CurrentMemoryContext;
	bool		opened = false;
	int			depth = tde_keystore_lock_depth();

	if (credential == NULL)
		return false;
	PG_TRY();
	{
		int			lock = tde_keystore_lock(tde_wallet_dir(), false, NULL);

		if (!tde_hsm_keystore_is_open())
		{
			open_locked(credential);
			opened = true;
		}
		tde_keystore_unlock(lock);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		if (elevel >= ERROR)
			PG_RE_THROW();
		edata = caught_error(cxt, depth);
		ereport(elevel,
				(errcode(edata->sqlerrcode),
				 errmsg("the HSM keystore could not be opened automatically: %s", edata->message)));
	}
	PG_END_TRY();
	return opened;
}

/* The caller holds the keystore lock. */
void
tde_hsm_keystore_close(void)
{
	if (tde_hsm_keystore_is_open())
		publish_hsm(NULL, NULL);
	tde_hsm_reset();
}

bool
tde_hsm_keystore_credential_matches(const char *credential)
{
	return tde_state_hsm_credential_matches(credential);
}

/* A logged-in PKCS#11 session in this backend, with the shared credential. */
void
tde_hsm_keystore_session(void)
{
	TdeOpMem	op;
	char	   *credential;
	uint64		gen;
	bool		open;

	/* one call per wrap or unwrap: the copy goes at once, not with the statement */
	tde_opmem_begin(&op, "tde HSM session", NULL);
	credential = tde_secure_alloc(TDE_HSM_CREDENTIAL_MAX);
	open = tde_state_hsm_credential(credential, TDE_HSM_CREDENTIAL_MAX, &gen);
	if (!open)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("HSM keystore is not open"),
				 errdetail("ORA-28365: wallet is not open"),
				 errhint("Open it with ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"credential\".")));
	login(credential, gen);
	tde_opmem_end(&op);
}

void
tde_hsm_keystore_status(TdeWalletStatus *row, bool primary)
{
	TdeKeySetStatus st;

	tde_state_key_set_status(TDE_HSM_KEYS, &st);
	row->wrl_type = "HSM";
	row->wrl_parameter = NULL;
	row->wallet_type = "HSM";
	row->fully_backed_up = "UNDEFINED";
	if (!st.open)
		row->status = "CLOSED";
	else
		row->status = (primary ? st.has_active : st.nkeys > 0) ? "OPEN" : "OPEN_NO_MASTER_KEY";
}

/*
 * Change the HSM's keys: the frame of SET KEY, CREATE KEY, USE KEY and
 * SET TAG on an HSM.  The credential must be the open keystore's (FORCE
 * KEYSTORE opens a closed one with it).  change() may generate token keys
 * through store/hsm.c; the metadata file is written last.
 */
void
tde_hsm_keystore_change(const TdeCredential *cred, bool force, bool with_backup,
						TdeWalletChange change, void *arg)
{
	const char *credential = tde_credential_password(cred, TDE_CLIENT_HSM_PASSWORD);
	char	   *dir = tde_wallet_dir();
	TdeWallet  *meta;
	TdeKeySetPrepared keys;
	int			lockfd;

	check_credential(credential);
	if (with_backup)
		ereport(NOTICE,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("WITH BACKUP has no effect on an HSM keystore"),
				 errhint("Back up the HSM with the vendor's tools.")));

	lockfd = tde_keystore_lock(dir, true, NULL);
	if (!tde_hsm_keystore_is_open())
	{
		if (!force)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("HSM keystore is not open"),
					 errdetail("ORA-28365: wallet is not open"),
					 errhint("Open it with SET KEYSTORE OPEN, or add FORCE KEYSTORE to the statement.")));
		open_locked(credential);
	}
	else
		require_open_credential(credential, "ORA-28353: failed to open wallet");
	tde_hsm_keystore_session();

	meta = read_metadata();
	change(meta, arg);
	/* the new set is read before the file is written: it reads, or nothing changes */
	tde_keyset_prepare(&keys, meta, true, "tde publish HSM keys");
	tde_wallet_write(metadata_path(), meta, NULL, 0);
	tde_state_publish_hsm(keys.set, credential);
	tde_keyset_prepared_end(&keys);
	tde_keystore_unlock(lockfd);
}

/* ---------------------------------------------------------------------
 * The HSM as a keystore kind (keystore/ops.h)
 * ---------------------------------------------------------------------
 */

static bool
hsm_autoopen(int elevel)
{
	if (tde_hsm_keystore_is_open())
		return false;
	return tde_hsm_keystore_autoopen(elevel);
}

static void
hsm_check_close(const char *credential)
{
	require_open_credential(credential,
							"ORA-28391: cannot close wallet or HSM, password mismatch");
}

static void
hsm_change(const TdeChangeRequest *req, TdeWalletChange change, void *arg)
{
	if (req->add_files != NULL)
		elog(ERROR, "an HSM keystore change puts no file in place");
	tde_hsm_keystore_change(req->cred, req->force, req->with_backup, change, arg);
}

/* The credential must be the open HSM's; a fresh login proves it. */
static void
hsm_prove(const char *credential)
{
	require_open_credential(credential, "ORA-28353: failed to open wallet");
	login(credential, 0);
}

static char *
hsm_open_for_migration(const char *credential, bool with_backup,
					   const char *backup_id)
{
	if (!tde_hsm_keystore_is_open())
		tde_hsm_keystore_open(credential, false);
	else
		require_open_credential(credential, "ORA-28353: failed to open wallet");
	return NULL;				/* an HSM has no backup */
}

/* A token key whose metadata was lost still unwraps: ask the HSM. */
static bool
hsm_find_device(const uint8 *mkid, TdeMasterKey *out)
{
	TdeHsmError err;
	bool		found;

	if (!tde_hsm_keystore_is_open())
		return false;
	tde_hsm_keystore_session();
	(void) tde_hsm_has_key(mkid, &found, &err);
	tde_hsm_report(&err);
	if (!found)
		return false;
	memset(out, 0, sizeof(TdeMasterKey));
	memcpy(out->mkid, mkid, TDE_MKID_LEN);
	out->in_hsm = true;
	out->algorithm = TDE_ALG_AES256;
	return true;
}

static void
hsm_generate(const TdeMasterKey *mk)
{
	TdeHsmError err;

	(void) tde_hsm_generate_key(mk->mkid, &err);
	tde_hsm_report(&err);
}

static int
hsm_wrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
		 const uint8 *in, int inlen, uint8 *out)
{
	TdeHsmError err;
	int			outlen = 0;

	tde_hsm_keystore_session();
	(void) tde_hsm_wrap(mk->mkid, aad, aadlen, in, inlen, out, &outlen, &err);
	tde_hsm_report(&err);
	return outlen;
}

/* false: the blob does not authenticate under this key */
static bool
hsm_unwrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
		   const uint8 *in, int inlen, uint8 *out, int *outlen)
{
	TdeHsmError err;

	tde_hsm_keystore_session();
	if (tde_hsm_unwrap(mk->mkid, aad, aadlen, in, inlen, out, outlen, &err) ==
		TDE_HSM_NOT_AUTHENTIC)
		return false;
	tde_hsm_report(&err);
	return true;
}

const TdeKeystoreOps tde_hsm_keystore_ops = {
	.name = "HSM",
	.seps_client = TDE_CLIENT_HSM_PASSWORD,
	.generates_keys = true,
	.opens_alone = false,
	.open = tde_hsm_keystore_open,
	.open_secondary = tde_hsm_keystore_open_secondary,
	.autoopen = hsm_autoopen,
	.is_open = tde_hsm_keystore_is_open,
	.check_close = hsm_check_close,
	.close = tde_hsm_keystore_close,
	.change = hsm_change,
	.prove = hsm_prove,
	.open_for_migration = hsm_open_for_migration,
	.status = tde_hsm_keystore_status,
	.generate = hsm_generate,
	.key_set = TDE_HSM_KEYS,
	.find_device = hsm_find_device,
	.wrap = hsm_wrap,
	.unwrap = hsm_unwrap,
};
