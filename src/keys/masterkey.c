/*-------------------------------------------------------------------------
 *
 * masterkey.c
 *	  Master encryption keys: the lifecycle (SET KEY, CREATE KEY, USE KEY,
 *	  SET TAG) and migration between the wallet and the HSM.
 *
 * The key records and their format are keystore/keyrecord.c, the lookups
 * and the temporary keys of FORCE KEYSTORE keystore/keyset.c.  Keys are
 * never removed by any operation here: old keys must unwrap what they
 * wrapped, in old backups and in rows not yet re-wrapped.
 *
 * Activating a key (SET KEY, USE KEY) locks tde.relation_key against new
 * relation keys before it switches the active key, re-wraps every relation
 * key of the current database in the statement's transaction, and starts
 * background workers for the other databases.  The wallet is written, and
 * fsync'd, before any row names the new key, so at every instant every row
 * names a key the wallet holds.  Once the wallet is written the change
 * cannot be taken back: a re-wrap that fails then is a WARNING (in a
 * subtransaction), and the background re-wrap takes that database too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "tde/crypto/cipher.h"
#include "tde/keys/masterkey.h"
#include "tde/keys/relkey.h"
#include "tde/keys/relkey_rewrap.h"
#include "tde/keys/rewrap_worker.h"
#include "tde/keystore/config.h"
#include "tde/keystore/file_keystore.h"
#include "tde/keystore/hsm_keystore.h"
#include "tde/keystore/keyset.h"
#include "tde/keystore/keystore.h"
#include "tde/store/wallet.h"
#include "tde/util/fileio.h"
#include "tde/util/secure.h"

/* ---------------------------------------------------------------------
 * Lifecycle
 * ---------------------------------------------------------------------
 */

static void
check_tag(const char *tag)
{
	if (tag != NULL)
		tde_check_label(tag, TDE_TAG_MAX, "tag");
}

static void
bad_user_key(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid master key identifier or master key value"),
			 errdetail("ORA-46685: invalid master key identifier or master key value"),
			 errhint("%s", why)));
}

/* Build a new key from the request: algorithm, user-supplied mkid and key. */
static void
build_key(const TdeKeyRequest *req, TdeMasterKey *mk)
{
	TdeAlgorithm alg = TDE_ALG_AES256;
	int			keylen;
	static const uint8 zeros[TDE_MKID_LEN] = {0};

	memset(mk, 0, sizeof(*mk));
	if (req->algorithm != NULL && !tde_algorithm_from_name(req->algorithm, &alg))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid master key algorithm"),
				 errdetail("ORA-46679: missing or invalid master key encryption algorithm"),
				 errhint("Valid algorithms are AES256, ARIA256, SEED128 and GOST256.")));
	if (!tde_algorithm_available(alg))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("master key algorithm %s is not available on this platform",
						tde_algorithm_name(alg)),
				 errdetail("OpenSSL on this system provides no %s cipher.",
						   tde_algorithm_name(alg))));
	keylen = tde_key_length(alg);
	mk->algorithm = alg;
	mk->keylen = keylen;

	if (tde_keystore_primary()->generates_keys)
	{
		/* the HSM generates its keys: none is brought in from outside */
		if (alg != TDE_ALG_AES256)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("master key algorithm %s is not supported in an HSM keystore",
							tde_algorithm_name(alg)),
					 errdetail("tde generates AES-256 keys in the HSM.")));
		if (req->user_key != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a user-supplied master key cannot be set in an HSM keystore"),
					 errdetail("Master keys are generated inside the HSM and never leave it.")));
		mk->in_hsm = true;
	}

	if (req->user_key != NULL)
	{
		const char *colon = strchr(req->user_key, ':');
		const char *keyhex = colon ? colon + 1 : req->user_key;

		if (colon)
		{
			if (!tde_parse_hex(req->user_key, colon - req->user_key, mk->mkid, TDE_MKID_LEN))
				bad_user_key("The master key identifier must be 16 bytes in hexadecimal (32 digits).");
			if (memcmp(mk->mkid, zeros, TDE_MKID_LEN) == 0)
				bad_user_key("The master key identifier must not be zero.");
		}
		if (!tde_parse_hex(keyhex, strlen(keyhex), mk->key, keylen))
			bad_user_key(keylen == 32 ?
						 "The master key must be 32 bytes in hexadecimal (64 digits) for this algorithm." :
						 "The master key must be 16 bytes in hexadecimal (32 digits) for SEED128.");
		if (!colon)
			tde_random_bytes(mk->mkid, TDE_MKID_LEN);
	}
	else
	{
		tde_random_bytes(mk->mkid, TDE_MKID_LEN);
		if (!mk->in_hsm)
			tde_random_bytes(mk->key, keylen);
	}
	/* a random all-zero MKID is impossible in practice, but not allowed */
	if (memcmp(mk->mkid, zeros, TDE_MKID_LEN) == 0)
		mk->mkid[TDE_MKID_LEN - 1] = 1;

	check_tag(req->tag);
	if (req->tag)
		strlcpy(mk->tag, req->tag, sizeof(mk->tag));
	mk->created = GetCurrentTimestamp();
	strlcpy(mk->creator, GetUserNameFromId(GetUserId(), false), sizeof(mk->creator));
	mk->creator_id = GetUserId();
	strlcpy(mk->origin, "LOCAL", sizeof(mk->origin));
	tde_key_place_here(&mk->created_at);
}

static void
mark_activated(TdeMasterKey *mk)
{
	mk->activated = GetCurrentTimestamp();
	strlcpy(mk->user, GetUserNameFromId(GetUserId(), false), sizeof(mk->user));
	mk->user_id = GetUserId();
	tde_key_place_here(&mk->activated_at);
}

/* Changes applied to the keys inside a keystore's change() */
typedef struct AddKeyArg
{
	TdeMasterKey *mk;
	bool		activate;
} AddKeyArg;

static void
add_key_change(TdeWallet *w, void *arg)
{
	AddKeyArg  *a = (AddKeyArg *) arg;

	/* refuse before anything is written: a fuller wallet could not be opened */
	if (tde_masterkey_count(w) >= TDE_MAX_MASTER_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("keystore already holds %d master keys, the most tde supports",
						TDE_MAX_MASTER_KEYS),
				 errhint("Activate an existing key with USE KEY instead of creating another.")));

	if (tde_masterkey_entry(w, a->mk->mkid) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("master key identifier already exists in the keystore"),
				 errdetail("ORA-46684: master key identifier exists in the keystore")));
	if (tde_keystore_kind_of(a->mk)->generate != NULL)
		tde_keystore_kind_of(a->mk)->generate(a->mk);
	if (a->activate)
	{
		mark_activated(a->mk);
		tde_masterkey_set_active(w, a->mk->mkid);
	}
	a->mk->backed_up = false;
	tde_masterkey_store(w, a->mk);
}

typedef struct UseKeyArg
{
	uint8		mkid[TDE_MKID_LEN];
	const char *tag;			/* NULL: keep */
	bool		activate;
} UseKeyArg;

static void
use_key_change(TdeWallet *w, void *arg)
{
	UseKeyArg  *a = (UseKeyArg *) arg;
	const TdeWalletEntry *e = tde_masterkey_entry(w, a->mkid);
	TdeMasterKey *mk = tde_secure_alloc(sizeof(TdeMasterKey));
	char		key_id[TDE_KEY_ID_LEN + 1];

	if (e == NULL)
	{
		tde_mkid_to_key_id(a->mkid, key_id);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("master key \"%s\" does not exist in the keystore", key_id),
				 errdetail("ORA-46649: master key with the specified identifier does not exist")));
	}
	if (!tde_masterkey_deserialize(e->value, e->len, mk))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("master key entry \"%s\" in the keystore is damaged", e->name)));
	if (a->tag != NULL && strcmp(mk->tag, a->tag) != 0)
	{
		strlcpy(mk->tag, a->tag, sizeof(mk->tag));
		/* the backups hold the old tag: this key is no longer backed up */
		mk->backed_up = false;
	}
	if (a->activate)
	{
		mark_activated(mk);
		tde_masterkey_set_active(w, mk->mkid);
		/* its activation is not in any backup yet (spec 4.1.6) */
		mk->backed_up = false;
	}
	tde_masterkey_store(w, mk);
}

static void
parse_key_id_arg(const char *key_id, uint8 *mkid)
{
	if (key_id == NULL || !tde_key_id_to_mkid(key_id, mkid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid master key identifier"),
				 errdetail("A KEY_ID is the 52-character value shown in v$encryption_keys.")));
}

/*
 * Master keys change on the primary server only: a standby's wallet is a
 * copy of the primary's, and its relation keys arrive through WAL.
 */
void
tde_require_primary_server(void)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot change master keys during recovery"),
				 errhint("Run key operations on the primary server, then copy its wallet to the standby.")));
}

/* The frame of a change asked for by req */
static TdeChangeRequest
change_request(const TdeKeyRequest *req, bool force, bool backup_required)
{
	TdeChangeRequest chg;

	chg.cred = (const TdeCredential *) req->cred;
	chg.force = force;
	chg.with_backup = req->with_backup;
	chg.backup_required = backup_required;
	chg.backup_id = req->backup_id;
	return chg;
}

/* Apply a change to the primary keystore, whichever kind it is. */
static void
change_primary(const TdeKeyRequest *req, TdeWalletChange change, void *arg)
{
	TdeChangeRequest chg = change_request(req, req->force_keystore, true);

	tde_keystore_change(&chg, change, arg);
}

/*
 * Re-wrap this database's relation keys under the new active key, then
 * start the others'.  The key is set and the wallet written by now: a
 * failure here must not fail the statement (the change is made and cannot
 * be taken back), so it is a WARNING, and the background re-wrap takes
 * this database too.  No row is lost either way: every row names a key
 * the wallet holds.
 */
static void
after_activation(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		rewrapped = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		(void) tde_relkey_rewrap_database();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		rewrapped = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("the relation keys of this database were not re-wrapped now: %s",
						edata->message),
				 errdetail("The new master key is active and every relation key still unwraps under the key that wraps it."),
				 errhint("The background re-wrap finishes it; see tde.rewrap_progress.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	tde_rewrap_launch(rewrapped ? MyDatabaseId : InvalidOid);
}

char *
tde_masterkey_add(const TdeKeyRequest *req)
{
	TdeMasterKey *mk = tde_secure_alloc(sizeof(TdeMasterKey));
	AddKeyArg	arg;
	char	   *key_id = palloc(TDE_KEY_ID_LEN + 1);

	tde_require_primary_server();
	build_key(req, mk);
	arg.mk = mk;
	arg.activate = req->activate;

	if (req->activate)
		tde_relkey_lock_for_rekey();
	change_primary(req, add_key_change, &arg);
	if (req->activate)
		after_activation();
	tde_masterkey_pop_temporary();

	tde_mkid_to_key_id(mk->mkid, key_id);
	return key_id;
}

void
tde_masterkey_use(const char *key_id, const TdeKeyRequest *req)
{
	UseKeyArg	arg;

	tde_require_primary_server();
	parse_key_id_arg(key_id, arg.mkid);
	check_tag(req->tag);
	arg.tag = req->tag;
	arg.activate = true;

	tde_relkey_lock_for_rekey();
	change_primary(req, use_key_change, &arg);
	after_activation();
	tde_masterkey_pop_temporary();
}

void
tde_masterkey_set_tag(const char *key_id, const TdeKeyRequest *req)
{
	UseKeyArg	arg;

	tde_require_primary_server();
	parse_key_id_arg(key_id, arg.mkid);
	if (req->tag == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tag must not be null")));
	check_tag(req->tag);
	arg.tag = req->tag;
	arg.activate = false;

	change_primary(req, use_key_change, &arg);
	tde_masterkey_pop_temporary();
}

/* ---------------------------------------------------------------------
 * Migration between the wallet and the HSM (Oracle 4.1.11)
 * ---------------------------------------------------------------------
 */

/*
 * SET ENCRYPTION KEY IDENTIFIED BY hsm_credential MIGRATE USING
 * wallet_password [WITH BACKUP [USING 'id']]: a new master key in the HSM,
 * every relation key re-wrapped under it; the wallet stays, secondary, and
 * its keys still unwrap what they wrapped.
 */
char *
tde_masterkey_migrate(const TdeKeyRequest *req, const char *wallet_password)
{
	TdeMasterKey *mk = tde_secure_alloc(sizeof(TdeMasterKey));
	TdeCredential wallet_cred = {false, wallet_password};
	TdeKeyRequest hsm_req = *req;
	AddKeyArg	arg;
	char	   *key_id = palloc(TDE_KEY_ID_LEN + 1);
	const TdeKeystoreOps *target = &tde_hsm_keystore_ops;
	const TdeKeystoreOps *source = &tde_file_keystore_ops;
	TdeChangeRequest chg;
	char	   *backup;

	tde_require_primary_server();
	tde_keystore_require_order(target, source, "HSM|FILE", "MIGRATE");
	tde_relkey_lock_for_rekey();

	/* prove the HSM credential before anything is written */
	target->prove(tde_credential_password((const TdeCredential *) req->cred,
										  target->seps_client));

	/* the wallet: proven by its password, backed up if asked, open */
	backup = source->open_for_migration(tde_credential_password(&wallet_cred,
																source->seps_client),
										req->with_backup, req->backup_id);

	hsm_req.user_key = NULL;
	hsm_req.force_keystore = true;
	hsm_req.with_backup = false;
	hsm_req.activate = true;
	/*
	 * The backup is written before the HSM step, which needs the wallet
	 * open; a statement that fails leaves every file as it was, so a
	 * failure from here on takes the new backup away again.
	 */
	PG_TRY();
	{
		build_key(&hsm_req, mk);
		arg.mk = mk;
		arg.activate = true;
		chg = change_request(&hsm_req, true, false);
		target->change(&chg, add_key_change, &arg);
		after_activation();
	}
	PG_CATCH();
	{
		if (backup != NULL)
			tde_file_discard(backup);
		PG_RE_THROW();
	}
	PG_END_TRY();

	tde_mkid_to_key_id(mk->mkid, key_id);
	return key_id;
}

/*
 * SET ENCRYPTION KEY IDENTIFIED BY wallet_password REVERSE MIGRATE USING
 * hsm_credential [WITH BACKUP [USING 'id']]: a new master key in the
 * wallet, every relation key re-wrapped under it; the HSM stays,
 * secondary.
 */
char *
tde_masterkey_reverse_migrate(const TdeKeyRequest *req, const char *hsm_credential)
{
	TdeMasterKey *mk = tde_secure_alloc(sizeof(TdeMasterKey));
	TdeKeyRequest wallet_req = *req;
	AddKeyArg	arg;
	char	   *key_id = palloc(TDE_KEY_ID_LEN + 1);
	const TdeKeystoreOps *target = &tde_file_keystore_ops;
	const TdeKeystoreOps *source = &tde_hsm_keystore_ops;
	TdeChangeRequest chg;

	tde_require_primary_server();
	tde_keystore_require_order(target, source, "FILE|HSM", "REVERSE MIGRATE");
	tde_relkey_lock_for_rekey();

	/* the HSM: proven by logging in, open as the secondary keystore */
	(void) source->open_for_migration(hsm_credential, false, NULL);

	wallet_req.user_key = NULL;
	wallet_req.activate = true;
	build_key(&wallet_req, mk);
	arg.mk = mk;
	arg.activate = true;
	/* the wallet becomes primary and open with its password */
	(void) target->open_for_migration(tde_credential_password((const TdeCredential *) req->cred,
													   target->seps_client),
							   false, NULL);
	chg = change_request(req, true, false);
	target->change(&chg, add_key_change, &arg);
	after_activation();
	tde_masterkey_pop_temporary();

	tde_mkid_to_key_id(mk->mkid, key_id);
	return key_id;
}
