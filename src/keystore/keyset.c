/*-------------------------------------------------------------------------
 *
 * keyset.c
 *	  The temporary keys of one operation (FORCE KEYSTORE on a closed
 *	  keystore).  See keystore/keyset.h.
 *
 * The temporary keys live in an operation's context (util/opmem.h) below
 * TopTransactionContext: it is deleted, and the keys wiped, when the
 * operation pops them, when the subtransaction that read them aborts, and
 * at the latest with the transaction.  Lookups copy a key into the
 * caller's buffer, which is secure memory at every call site.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"

#include "tde/keystore/keyset.h"
#include "tde/util/opmem.h"
#include "tde/util/secure.h"

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

bool
tde_temp_keys_present(void)
{
	return temp_keys != NULL;
}

bool
tde_temp_key_find(const uint8 *mkid, TdeMasterKey *out)
{
	int			i;

	for (i = 0; i < ntemp_keys; i++)
		if (memcmp(temp_keys[i].mkid, mkid, TDE_MKID_LEN) == 0)
		{
			memcpy(out, &temp_keys[i], sizeof(TdeMasterKey));
			return true;
		}
	return false;
}

bool
tde_temp_key_active(TdeMasterKey *out)
{
	if (temp_keys == NULL || temp_active < 0)
		return false;
	memcpy(out, &temp_keys[temp_active], sizeof(TdeMasterKey));
	return true;
}
