/*-------------------------------------------------------------------------
 *
 * keystore.c
 *	  The keystores in use, and the operations above them: open, close,
 *	  auto-open, status, changes of the primary's keys, and the lookups and
 *	  wrapping of master keys wherever they live.
 *
 * tde.keystore_configuration names a primary keystore and, after a
 * migration, a secondary one (Oracle's HSM|FILE and FILE|HSM).
 * configured() is the one place that turns it into kinds (keystore/ops.h:
 * tde_file_keystore_ops, tde_hsm_keystore_ops); everything else here, and
 * the master-key lifecycle above, works through the table.
 *
 * Close and the lookups consider every kind, configured or not: a keystore
 * left open by an earlier configuration is closed by CLOSE, and its keys
 * still unwrap what they wrapped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "tde/keystore/file_keystore.h"
#include "tde/keystore/hsm_keystore.h"
#include "tde/keystore/keyset.h"
#include "tde/keystore/keystore.h"
#include "tde/util/secure.h"

/* Every kind, in the order a lookup tries those that are not primary */
static const TdeKeystoreOps *const all_kinds[] = {
	&tde_file_keystore_ops,
	&tde_hsm_keystore_ops,
};

#define NKINDS ((int) lengthof(all_kinds))

static TdeKeystoreOpenedHook opened_hook = NULL;

void
tde_keystore_set_opened_hook(TdeKeystoreOpenedHook hook)
{
	opened_hook = hook;
}

/* A keystore opened: let the keys layer finish an undone re-wrap. */
static void
keystore_opened(void)
{
	if (opened_hook != NULL)
		opened_hook(InvalidOid);
}

/* ---------------------------------------------------------------------
 * The configuration
 * ---------------------------------------------------------------------
 */

static void
configured(const TdeKeystoreOps **primary, const TdeKeystoreOps **secondary)
{
	switch (tde_config())
	{
		case TDE_CONFIG_HSM:
			*primary = &tde_hsm_keystore_ops;
			*secondary = NULL;
			return;
		case TDE_CONFIG_HSM_FILE:
			*primary = &tde_hsm_keystore_ops;
			*secondary = &tde_file_keystore_ops;
			return;
		case TDE_CONFIG_FILE_HSM:
			*primary = &tde_file_keystore_ops;
			*secondary = &tde_hsm_keystore_ops;
			return;
		case TDE_CONFIG_FILE:
			break;
	}
	*primary = &tde_file_keystore_ops;
	*secondary = NULL;
}

const TdeKeystoreOps *
tde_keystore_primary(void)
{
	const TdeKeystoreOps *primary;
	const TdeKeystoreOps *secondary;

	configured(&primary, &secondary);
	return primary;
}

const TdeKeystoreOps *
tde_keystore_secondary(void)
{
	const TdeKeystoreOps *primary;
	const TdeKeystoreOps *secondary;

	configured(&primary, &secondary);
	return secondary;
}

/* A statement that needs this order of keystores (a migration). */
void
tde_keystore_require_order(const TdeKeystoreOps *primary,
						   const TdeKeystoreOps *secondary,
						   const char *value, const char *statement)
{
	if (tde_keystore_primary() != primary || tde_keystore_secondary() != secondary)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s needs tde.keystore_configuration = '%s'", statement, value),
				 errhint("Set it with ALTER SYSTEM SET tde.keystore_configuration = '%s' and reload.", value)));
}

/* Operations of the file keystore: not for an HSM as primary. */
void
tde_keystore_require_file_primary(const char *operation, const char *instead)
{
	if (tde_keystore_primary() != &tde_file_keystore_ops)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s is not supported for an HSM keystore", operation),
				 errdetail("The master keys live in the HSM and never leave it."),
				 errhint("%s", instead)));
}

/* ---------------------------------------------------------------------
 * Open, close, auto-open, status
 * ---------------------------------------------------------------------
 */

/* Is the primary keystore open? */
bool
tde_keystore_is_open(void)
{
	return tde_keystore_primary()->is_open();
}

void
tde_keystore_open(const TdeCredential *cred, bool force)
{
	const TdeKeystoreOps *primary;
	const TdeKeystoreOps *secondary;
	const char *password;

	configured(&primary, &secondary);
	password = tde_credential_password(cred, primary->seps_client);
	primary->open(password, force);
	/* a secondary opens with the primary's password, or stays closed */
	if (secondary != NULL)
		secondary->open_secondary(password);
	/* finish any re-wrap a crash or a closed keystore left undone */
	keystore_opened();
}

void
tde_keystore_close(const TdeCredential *cred)
{
	const TdeKeystoreOps *primary = tde_keystore_primary();
	bool		any_open = false;
	int			lock;
	int			i;

	lock = tde_keystore_lock(tde_wallet_dir(), false, NULL);
	for (i = 0; i < NKINDS; i++)
		any_open = any_open || all_kinds[i]->is_open();
	if (!any_open)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("keystore is not open"),
				 errdetail("ORA-28365: wallet is not open")));
	/* a password given to close must be the primary keystore's */
	if (cred != NULL)
		primary->check_close(tde_credential_password(cred, primary->seps_client));
	for (i = 0; i < NKINDS; i++)
		all_kinds[i]->close();
	tde_keystore_unlock(lock);
}

/*
 * Open what can open without a password (an auto-login wallet; an HSM
 * beside a wallet, with its password in the external store), as Oracle
 * does when a key is first needed.  Returns whether the primary keystore
 * is open afterwards; a keystore that cannot be opened is reported at
 * elevel.
 */
bool
tde_keystore_autoopen(int elevel)
{
	const TdeKeystoreOps *kinds[2];
	int			n = 0;
	bool		launch = false;
	int			i;

	if (tde_wallet_root == NULL || tde_wallet_root[0] == '\0')
		return tde_keystore_is_open();
	configured(&kinds[0], &kinds[1]);
	n = kinds[1] != NULL ? 2 : 1;
	for (i = 0; i < n; i++)
		if (n > 1 || kinds[i]->opens_alone)
			launch |= kinds[i]->autoopen(elevel);
	/* finish any re-wrap a crash left undone (outside the keystore lock) */
	if (launch)
		keystore_opened();
	return tde_keystore_is_open();
}

/*
 * Data operations need the keys: open the auto-login wallet if there is
 * one, otherwise fail as Oracle does with a closed wallet.
 */
void
tde_require_keystore_open(void)
{
	int			i;

	if (tde_keystore_is_open() || tde_keystore_autoopen(ERROR))
		return;

	/*
	 * With the primary closed, an open secondary keystore still unwraps the
	 * keys it wrapped (before a migration, say); making new relation keys
	 * needs the primary's active key and fails there.
	 */
	for (i = 0; i < NKINDS; i++)
		if (all_kinds[i]->is_open())
			return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("keystore is not open"),
			 errdetail("ORA-28365: wallet is not open"),
			 errhint("Open it with ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN.")));
}

/*
 * The rows of v$encryption_wallet: one per configured keystore, with
 * WALLET_ORDER SINGLE, or PRIMARY and SECONDARY after a migration
 * (Oracle's table 4-1).  Returns the number of rows.
 */
int
tde_keystore_get_status(TdeWalletStatus *rows)
{
	const TdeKeystoreOps *primary;
	const TdeKeystoreOps *secondary;
	int			n = 0;
	int			i;

	/* Querying the view is a use: an auto-login keystore opens now. */
	if (tde_wallet_root != NULL && tde_wallet_root[0] != '\0')
		(void) tde_keystore_autoopen(WARNING);

	configured(&primary, &secondary);
	memset(rows, 0, sizeof(TdeWalletStatus) * 2);
	primary->status(&rows[n++], true);
	if (secondary != NULL)
		secondary->status(&rows[n++], false);
	for (i = 0; i < n; i++)
	{
		rows[i].wallet_order = n == 1 ? "SINGLE" : (i == 0 ? "PRIMARY" : "SECONDARY");
		rows[i].keystore_mode = "NONE";
		rows[i].con_id = 0;
	}
	return n;
}

/* ---------------------------------------------------------------------
 * Changes
 * ---------------------------------------------------------------------
 */

void
tde_keystore_change(const TdeChangeRequest *req, TdeWalletChange change, void *arg)
{
	tde_keystore_primary()->change(req, change, arg);
}

void
tde_keystore_alter_password(const char *old_password, const char *new_password,
							bool with_backup, const char *backup_id, bool force)
{
	tde_keystore_require_file_primary("ALTER KEYSTORE PASSWORD",
						 "Change the HSM's credential with the vendor's tools, then UPDATE SECRET for client HSM_PASSWORD in the external store.");
	tde_file_keystore_alter_password(old_password, new_password, with_backup,
									 backup_id, force);
}

char *
tde_keystore_backup(const TdeCredential *cred, const char *backup_id,
					const char *location, bool force)
{
	tde_keystore_require_file_primary("BACKUP KEYSTORE",
						 "Back up the HSM with the vendor's tools; for a copy of the keys outside the HSM, reverse migrate to a software keystore.");
	return tde_file_keystore_backup(cred, backup_id, location, force);
}

/* ---------------------------------------------------------------------
 * The open master keys
 * ---------------------------------------------------------------------
 */

/*
 * A master key by MKID: the temporary keys of this operation first, then
 * the open keystores' keys in shared memory, the primary's first, then
 * the devices (an HSM key whose metadata is lost still unwraps).
 */
bool
tde_masterkey_find(const uint8 *mkid, TdeMasterKey *out)
{
	const TdeKeystoreOps *primary = tde_keystore_primary();
	int			i;

	if (tde_temp_key_find(mkid, out))
		return true;
	if (tde_state_find_key(primary->key_set, mkid, out))
		return true;
	for (i = 0; i < NKINDS; i++)
		if (all_kinds[i] != primary &&
			tde_state_find_key(all_kinds[i]->key_set, mkid, out))
			return true;
	for (i = 0; i < NKINDS; i++)
		if (all_kinds[i]->find_device != NULL &&
			all_kinds[i]->find_device(mkid, out))
			return true;
	return false;
}

/* The active key: the temporary keys' if any, else the open primary's. */
bool
tde_masterkey_active(TdeMasterKey *out)
{
	if (tde_temp_keys_present())
		return tde_temp_key_active(out);
	return tde_state_active_key(tde_keystore_primary()->key_set, out);
}

/* The kind a master key lives in */
const TdeKeystoreOps *
tde_keystore_kind_of(const TdeMasterKey *mk)
{
	return mk->in_hsm ? &tde_hsm_keystore_ops : &tde_file_keystore_ops;
}

int
tde_mk_wrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
			const uint8 *in, int inlen, uint8 *out)
{
	return tde_keystore_kind_of(mk)->wrap(mk, aad, aadlen, in, inlen, out);
}

bool
tde_mk_unwrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
			  const uint8 *in, int inlen, uint8 *out, int *outlen)
{
	return tde_keystore_kind_of(mk)->unwrap(mk, aad, aadlen, in, inlen, out, outlen);
}

/*
 * A master key held for many wraps and unwraps in one statement (a
 * re-wrap): found once, its copy in secure memory, and for a software key
 * of a GCM algorithm its schedule set up once.  An HSM key, or SEED128,
 * goes through tde_mk_wrap per call with the copy.  Close it on every
 * path: it cleanses the copy and the schedule.
 */
TdeMkCipher *
tde_mk_cipher_open(const uint8 *mkid)
{
	TdeMkCipher *c = palloc0(sizeof(TdeMkCipher));

	c->mk = tde_secure_alloc(sizeof(TdeMasterKey));
	if (!tde_masterkey_find(mkid, c->mk))
	{
		tde_wipe(c->mk, sizeof(TdeMasterKey));
		pfree(c);
		return NULL;
	}
	c->keyed = !c->mk->in_hsm &&
		tde_wrapctx_init(&c->ctx, c->mk->algorithm, c->mk->key, c->mk->keylen);
	return c;
}

void
tde_mk_cipher_close(TdeMkCipher *c)
{
	if (c == NULL)
		return;
	if (c->keyed)
		tde_wrapctx_free(&c->ctx);
	tde_wipe(c->mk, sizeof(TdeMasterKey));
	pfree(c);
}

int
tde_mk_cipher_wrap(TdeMkCipher *c, const uint8 *aad, int aadlen,
				   const uint8 *in, int inlen, uint8 *out)
{
	if (c->keyed)
		return tde_wrapctx_wrap(&c->ctx, aad, aadlen, in, inlen, out);
	return tde_mk_wrap(c->mk, aad, aadlen, in, inlen, out);
}

bool
tde_mk_cipher_unwrap(TdeMkCipher *c, const uint8 *aad, int aadlen,
					 const uint8 *in, int inlen, uint8 *out, int *outlen)
{
	if (c->keyed)
		return tde_wrapctx_unwrap(&c->ctx, aad, aadlen, in, inlen, out, outlen);
	return tde_mk_unwrap(c->mk, aad, aadlen, in, inlen, out, outlen);
}
