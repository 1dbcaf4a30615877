/*-------------------------------------------------------------------------
 *
 * keyset.c
 *	  Lookups of master keys in the open keystores, the temporary keys of
 *	  one operation, and wrapping under a master key (in crypto/cipher for
 *	  a wallet key, in the HSM for a token key).  See keystore/keyset.h.
 *
 * Lookups go first to the keys of a wallet read for this one operation
 * (FORCE KEYSTORE on a closed keystore: Oracle "temporarily opens" it),
 * then to the open keystore in shared memory.  The temporary keys live in
 * an operation's context (util/opmem.h) below TopTransactionContext: it is
 * deleted, and the keys wiped, when the operation pops them, when the
 * subtransaction that read them aborts, and at the latest with the
 * transaction.  Lookups copy a key into the caller's buffer, which is
 * secure memory at every call site.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"

#include "tde/crypto/cipher.h"
#include "tde/keystore/config.h"
#include "tde/keystore/hsm_keystore.h"
#include "tde/keystore/keyset.h"
#include "tde/keystore/state.h"
#include "tde/store/hsm.h"
#include "tde/util/opmem.h"
#include "tde/util/secure.h"

/* ---------------------------------------------------------------------
 * Lookups
 * ---------------------------------------------------------------------
 */

/*
 * Keys of a wallet read for the current operation only (FORCE KEYSTORE),
 * in the transaction's memory.  They are forgotten when the operation
 * ends, when the transaction ends, and when the subtransaction that read
 * them aborts: keys of a change that failed must not serve later work.
 */
static TdeOpMem temp_mem = {NULL, NULL};
static TdeMasterKey *temp_keys = NULL;
static int	ntemp_keys = 0;
static int	temp_active = -1;
static SubTransactionId temp_subid = InvalidSubTransactionId;
static bool xact_callback_registered = false;

static void
forget_temp_keys(void)
{
	/* the context itself goes with TopTransactionContext, wiping the keys */
	temp_mem.context = NULL;
	temp_keys = NULL;
	ntemp_keys = 0;
	temp_active = -1;
	temp_subid = InvalidSubTransactionId;
}

static void
temp_keys_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		forget_temp_keys();
}

static void
temp_keys_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	if (temp_keys == NULL || temp_subid != mySubid)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		tde_masterkey_pop_temporary();
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		temp_subid = parentSubid;
}

void
tde_masterkey_push_temporary(const TdeWallet *w)
{
	TdeMasterKey *keys;
	int			n;
	int			active;

	if (!xact_callback_registered)
	{
		RegisterXactCallback(temp_keys_xact_callback, NULL);
		RegisterSubXactCallback(temp_keys_subxact_callback, NULL);
		xact_callback_registered = true;
	}
	tde_masterkey_pop_temporary();
	tde_opmem_begin(&temp_mem, "tde temporary keystore keys", TopTransactionContext);
	keys = tde_secure_alloc(sizeof(TdeMasterKey) * TDE_MAX_MASTER_KEYS);
	n = tde_masterkeys_from_wallet(w, keys, TDE_MAX_MASTER_KEYS, &active);
	/* only a complete set is used: an error above leaves none */
	temp_keys = keys;
	ntemp_keys = n;
	temp_active = active;
	temp_subid = GetCurrentSubTransactionId();
	/* the keys stay until popped: back to the caller's context, not the end */
	MemoryContextSwitchTo(temp_mem.caller);
}

void
tde_masterkey_pop_temporary(void)
{
	/* deleting the context wipes the keys */
	tde_opmem_end(&temp_mem);
	forget_temp_keys();
}

/* The open key sets in lookup order: the primary keystore first. */
static int
open_sets(TdeKeySet **sets)
{
	int			n = 0;
	bool		hsm_first = tde_config_primary_hsm();
	bool		file_open = tde_shared->open_kind != TDE_OPEN_NONE;
	bool		hsm_open = tde_shared->hsm_open;

	if (hsm_first && hsm_open)
		sets[n++] = &tde_shared->hsm_keys;
	if (file_open)
		sets[n++] = &tde_shared->file_keys;
	if (!hsm_first && hsm_open)
		sets[n++] = &tde_shared->hsm_keys;
	return n;
}

bool
tde_masterkey_find(const uint8 *mkid, TdeMasterKey *out)
{
	TdeKeySet  *sets[2];
	int			nsets;
	int			i,
				j;
	bool		found = false;
	bool		hsm_open;

	for (i = 0; i < ntemp_keys; i++)
		if (memcmp(temp_keys[i].mkid, mkid, TDE_MKID_LEN) == 0)
		{
			memcpy(out, &temp_keys[i], sizeof(TdeMasterKey));
			return true;
		}

	LWLockAcquire(tde_shared->state_lock, LW_SHARED);
	nsets = open_sets(sets);
	for (j = 0; j < nsets && !found; j++)
		for (i = 0; i < sets[j]->nkeys; i++)
			if (memcmp(sets[j]->keys[i].mkid, mkid, TDE_MKID_LEN) == 0)
			{
				memcpy(out, &sets[j]->keys[i], sizeof(TdeMasterKey));
				found = true;
				break;
			}
	hsm_open = tde_shared->hsm_open;
	LWLockRelease(tde_shared->state_lock);

	/* a token key whose metadata was lost still unwraps: ask the HSM */
	if (!found && hsm_open)
	{
		tde_hsm_keystore_session();
		if (tde_hsm_has_key(mkid))
		{
			memset(out, 0, sizeof(TdeMasterKey));
			memcpy(out->mkid, mkid, TDE_MKID_LEN);
			out->in_hsm = true;
			out->algorithm = TDE_ALG_AES256;
			found = true;
		}
	}
	return found;
}

bool
tde_masterkey_active(TdeMasterKey *out)
{
	bool		found = false;
	TdeKeySet  *primary;
	bool		primary_open;

	if (temp_keys != NULL)
	{
		if (temp_active < 0)
			return false;
		memcpy(out, &temp_keys[temp_active], sizeof(TdeMasterKey));
		return true;
	}
	LWLockAcquire(tde_shared->state_lock, LW_SHARED);
	if (tde_config_primary_hsm())
	{
		primary = &tde_shared->hsm_keys;
		primary_open = tde_shared->hsm_open;
	}
	else
	{
		primary = &tde_shared->file_keys;
		primary_open = tde_shared->open_kind != TDE_OPEN_NONE;
	}
	if (primary_open && primary->active >= 0)
	{
		memcpy(out, &primary->keys[primary->active], sizeof(TdeMasterKey));
		found = true;
	}
	LWLockRelease(tde_shared->state_lock);
	return found;
}

/* ---------------------------------------------------------------------
 * Wrapping under a master key, wherever it lives
 * ---------------------------------------------------------------------
 */

int
tde_mk_wrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
			const uint8 *in, int inlen, uint8 *out)
{
	if (!mk->in_hsm)
		return tde_wrap(mk->algorithm, mk->key, mk->keylen, aad, aadlen,
						in, inlen, out);
	tde_hsm_keystore_session();
	return tde_hsm_wrap(mk->mkid, aad, aadlen, in, inlen, out);
}

bool
tde_mk_unwrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
			  const uint8 *in, int inlen, uint8 *out, int *outlen)
{
	if (!mk->in_hsm)
		return tde_unwrap(mk->algorithm, mk->key, mk->keylen, aad, aadlen,
						  in, inlen, out, outlen);
	tde_hsm_keystore_session();
	return tde_hsm_unwrap(mk->mkid, aad, aadlen, in, inlen, out, outlen);
}
