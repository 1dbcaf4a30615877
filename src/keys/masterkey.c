/*-------------------------------------------------------------------------
 *
 * masterkey.c
 *	  Master encryption keys: records in the wallet, identifiers, lookups
 *	  and the lifecycle (SET KEY, CREATE KEY, USE KEY, SET TAG).
 *
 * A key record is a wallet entry "TDE.MK.<hex mkid>" holding "name=value"
 * lines (values escaped: \\ and \n).  The active key's MKID is the entry
 * "TDE.ACTIVE".  Keys are never removed by any operation here: old keys
 * must unwrap what they wrapped, in old backups and in rows not yet
 * re-wrapped.
 *
 * Lookups go first to the keys of a wallet read for this one operation
 * (FORCE KEYSTORE on a closed keystore: Oracle "temporarily opens" it),
 * then to the open keystore in shared memory.  The temporary keys live in
 * the transaction's memory and are wiped when it ends.
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
#include "tde/store/hsm.h"
#include "tde/keystore/keystore.h"
#include "tde/keys/masterkey.h"
#include "tde/keys/relkey.h"
#include "tde/util/secure.h"
#include "tde/tde.h"
#include "tde/store/wallet.h"

#define MK_PREFIX		"TDE.MK."
#define ACTIVE_ENTRY	"TDE.ACTIVE"

/* ---------------------------------------------------------------------
 * Identifiers and names
 * ---------------------------------------------------------------------
 */

static char *
mkid_hex(const uint8 *mkid)
{
	char	   *s = palloc(TDE_MKID_LEN * 2 + 1);

	hex_encode((const char *) mkid, TDE_MKID_LEN, s);
	s[TDE_MKID_LEN * 2] = '\0';
	return s;
}

static char *
entry_name(const uint8 *mkid)
{
	return psprintf(MK_PREFIX "%s", mkid_hex(mkid));
}

/* Parse hex into a buffer of exactly len bytes. */
static bool
parse_hex(const char *s, int slen, uint8 *out, int len)
{
	int			i;

	if (slen != len * 2)
		return false;
	for (i = 0; i < slen; i++)
		if (!isxdigit((unsigned char) s[i]))
			return false;
	(void) hex_decode(s, slen, (char *) out);
	return true;
}

/* ---------------------------------------------------------------------
 * Records
 * ---------------------------------------------------------------------
 */

static void
append_escaped(StringInfo buf, const char *name, const char *value)
{
	const char *p;

	appendStringInfo(buf, "%s=", name);
	for (p = value; *p; p++)
	{
		if (*p == '\\')
			appendStringInfoString(buf, "\\\\");
		else if (*p == '\n')
			appendStringInfoString(buf, "\\n");
		else
			appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\n');
}

static void
unescape_into(const char *v, char *out, int size)
{
	int			n = 0;

	for (; *v && n < size - 1; v++)
	{
		if (*v == '\\' && v[1] == 'n')
		{
			out[n++] = '\n';
			v++;
		}
		else if (*v == '\\' && v[1] == '\\')
		{
			out[n++] = '\\';
			v++;
		}
		else
			out[n++] = *v;
	}
	out[n] = '\0';
}

static void
append_place(StringInfo buf, const char *prefix, const TdeKeyPlace *p)
{
	append_escaped(buf, psprintf("%s_dbname", prefix), p->dbname);
	appendStringInfo(buf, "%s_dbid=" UINT64_FORMAT "\n", prefix, p->dbid);
	append_escaped(buf, psprintf("%s_instance_name", prefix), p->instance_name);
	appendStringInfo(buf, "%s_instance_number=%d\n", prefix, p->instance_number);
	append_escaped(buf, psprintf("%s_pdbname", prefix), p->pdbname);
	appendStringInfo(buf, "%s_pdbid=%u\n", prefix, p->pdbid);
}

/*
 * Serialize a record; the result is secure memory (it holds the key).  The
 * key goes in last, into room reserved before: a StringInfo that grows is
 * repalloc'd, and the old buffer would keep the key unwiped.
 */
static char *
serialize(const TdeMasterKey *mk, int *len)
{
	StringInfoData buf;
	char	   *out;

	initStringInfo(&buf);
	appendStringInfo(&buf, "format=1\nmkid=%s\n", mkid_hex(mk->mkid));
	if (mk->in_hsm)
		appendStringInfoString(&buf, "store=hsm\n");
	appendStringInfo(&buf, "algorithm=%s\n", tde_algorithm_name(mk->algorithm));
	append_escaped(&buf, "tag", mk->tag);
	appendStringInfo(&buf, "created=" INT64_FORMAT "\nactivated=" INT64_FORMAT "\n",
					 mk->created, mk->activated);
	append_escaped(&buf, "creator", mk->creator);
	appendStringInfo(&buf, "creator_id=%u\n", mk->creator_id);
	append_escaped(&buf, "user", mk->user);
	appendStringInfo(&buf, "user_id=%u\n", mk->user_id);
	append_escaped(&buf, "origin", mk->origin);
	appendStringInfo(&buf, "backed_up=%d\n", mk->backed_up ? 1 : 0);
	append_place(&buf, "created_at", &mk->created_at);
	append_place(&buf, "activated_at", &mk->activated_at);

	if (!mk->in_hsm)
	{
		/* "key=" + hex + "\n" fits without growing the buffer */
		enlargeStringInfo(&buf, 4 + mk->keylen * 2 + 2);
		appendBinaryStringInfo(&buf, "key=", 4);
		hex_encode((const char *) mk->key, mk->keylen, buf.data + buf.len);
		buf.len += mk->keylen * 2;
		appendStringInfoChar(&buf, '\n');
	}

	out = tde_secure_alloc(buf.len + 1);
	memcpy(out, buf.data, buf.len + 1);
	*len = buf.len;
	explicit_bzero(buf.data, buf.maxlen);
	pfree(buf.data);
	return out;
}

static void
parse_place(const char *name, const char *v, const char *prefix, TdeKeyPlace *p)
{
	size_t		pl = strlen(prefix);

	if (strncmp(name, prefix, pl) != 0 || name[pl] != '_')
		return;
	name += pl + 1;
	if (strcmp(name, "dbname") == 0)
		unescape_into(v, p->dbname, sizeof(p->dbname));
	else if (strcmp(name, "dbid") == 0)
		p->dbid = strtou64(v, NULL, 10);
	else if (strcmp(name, "instance_name") == 0)
		unescape_into(v, p->instance_name, sizeof(p->instance_name));
	else if (strcmp(name, "instance_number") == 0)
		p->instance_number = atoi(v);
	else if (strcmp(name, "pdbname") == 0)
		unescape_into(v, p->pdbname, sizeof(p->pdbname));
	else if (strcmp(name, "pdbid") == 0)
		p->pdbid = (Oid) strtoul(v, NULL, 10);
}

static bool
deserialize(const uint8 *data, int len, TdeMasterKey *mk)
{
	char	   *buf = tde_secure_alloc(len + 1);
	char	   *line;
	char	   *save = NULL;
	bool		have_mkid = false;
	bool		have_key = false;

	memset(mk, 0, sizeof(*mk));
	memcpy(buf, data, len);
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
	{
		char	   *eq = strchr(line, '=');
		char	   *v;

		if (eq == NULL)
			continue;
		*eq = '\0';
		v = eq + 1;
		if (strcmp(line, "mkid") == 0)
			have_mkid = parse_hex(v, strlen(v), mk->mkid, TDE_MKID_LEN);
		else if (strcmp(line, "key") == 0)
		{
			int			n = strlen(v) / 2;

			have_key = (n == 16 || n == 32) && parse_hex(v, strlen(v), mk->key, n);
			mk->keylen = n;
		}
		else if (strcmp(line, "store") == 0)
			mk->in_hsm = strcmp(v, "hsm") == 0;
		else if (strcmp(line, "algorithm") == 0)
			(void) tde_algorithm_from_name(v, &mk->algorithm);
		else if (strcmp(line, "tag") == 0)
			unescape_into(v, mk->tag, sizeof(mk->tag));
		else if (strcmp(line, "created") == 0)
			mk->created = strtoi64(v, NULL, 10);
		else if (strcmp(line, "activated") == 0)
			mk->activated = strtoi64(v, NULL, 10);
		else if (strcmp(line, "creator") == 0)
			unescape_into(v, mk->creator, sizeof(mk->creator));
		else if (strcmp(line, "creator_id") == 0)
			mk->creator_id = (Oid) strtoul(v, NULL, 10);
		else if (strcmp(line, "user") == 0)
			unescape_into(v, mk->user, sizeof(mk->user));
		else if (strcmp(line, "user_id") == 0)
			mk->user_id = (Oid) strtoul(v, NULL, 10);
		else if (strcmp(line, "origin") == 0)
			unescape_into(v, mk->origin, sizeof(mk->origin));
		else if (strcmp(line, "backed_up") == 0)
			mk->backed_up = atoi(v) != 0;
		else
		{
			parse_place(line, v, "created_at", &mk->created_at);
			parse_place(line, v, "activated_at", &mk->activated_at);
		}
	}
	tde_wipe(buf, len);
	return have_mkid && (have_key || mk->in_hsm);
}

/*
 * Read every key record of a wallet into keys[]; returns the count and the
 * index of the active key (or -1).  A damaged record is an error: a wallet
 * that loses a key silently would lose data.
 */
int
tde_masterkeys_from_wallet(const TdeWallet *w, TdeMasterKey *keys, int maxkeys,
						   int *active)
{
	const TdeWalletEntry *act = tde_wallet_get(w, ACTIVE_ENTRY);
	uint8		active_mkid[TDE_MKID_LEN];
	bool		have_active = false;
	int			n = 0;
	int			i;

	if (act != NULL)
		have_active = parse_hex((const char *) act->value, act->len,
								active_mkid, TDE_MKID_LEN);
	*active = -1;
	for (i = 0; i < w->nentries; i++)
	{
		if (strncmp(w->entries[i].name, MK_PREFIX, strlen(MK_PREFIX)) != 0)
			continue;
		if (n >= maxkeys)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("keystore holds more than %d master keys", maxkeys)));
		if (!deserialize(w->entries[i].value, w->entries[i].len, &keys[n]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("master key entry \"%s\" in the keystore is damaged",
							w->entries[i].name)));
		if (have_active && memcmp(keys[n].mkid, active_mkid, TDE_MKID_LEN) == 0)
			*active = n;
		n++;
	}
	return n;
}

void
tde_masterkey_store(TdeWallet *w, const TdeMasterKey *mk)
{
	int			len;
	char	   *rec = serialize(mk, &len);

	tde_wallet_put(w, entry_name(mk->mkid), rec, len);
	tde_wipe(rec, len);
}

/*
 * A wallet's keys in secure memory, read outside any lock, ready for
 * tde_keyset_install (w NULL: an empty set).
 */
TdeKeySet *
tde_keyset_read(const TdeWallet *w, bool in_hsm)
{
	TdeKeySet  *set = tde_secure_alloc(sizeof(TdeKeySet));
	int			i;

	set->active = -1;
	if (w != NULL)
		set->nkeys = tde_masterkeys_from_wallet(w, set->keys, TDE_MAX_MASTER_KEYS,
												&set->active);
	for (i = 0; i < set->nkeys; i++)
		set->keys[i].in_hsm = set->keys[i].in_hsm || in_hsm;
	return set;
}

/* A key's record without its key bytes: for showing metadata. */
void
tde_masterkey_copy_metadata(TdeMasterKey *dst, const TdeMasterKey *src)
{
	memcpy(dst->mkid, src->mkid, sizeof(dst->mkid));
	memset(dst->key, 0, sizeof(dst->key));
	memcpy((char *) dst + offsetof(TdeMasterKey, keylen),
		   (const char *) src + offsetof(TdeMasterKey, keylen),
		   sizeof(TdeMasterKey) - offsetof(TdeMasterKey, keylen));
}

/* Replace a shared key set, wiping the keys it held; state_lock held. */
void
tde_keyset_install(TdeKeySet *dst, const TdeKeySet *src)
{
	explicit_bzero(dst->keys, sizeof(TdeMasterKey) * dst->nkeys);
	memcpy(dst->keys, src->keys, sizeof(TdeMasterKey) * src->nkeys);
	dst->nkeys = src->nkeys;
	dst->active = src->active;
}

/*
 * Every key now in the wallet is in the backup being written.  Returns
 * whether any key was not marked so before.
 */
bool
tde_masterkeys_mark_backed_up(TdeWallet *w)
{
	TdeMasterKey *keys = tde_secure_alloc(sizeof(TdeMasterKey) * TDE_MAX_MASTER_KEYS);
	int			active;
	int			n = tde_masterkeys_from_wallet(w, keys, TDE_MAX_MASTER_KEYS, &active);
	int			i;
	bool		changed = false;

	for (i = 0; i < n; i++)
	{
		if (keys[i].backed_up)
			continue;
		keys[i].backed_up = true;
		tde_masterkey_store(w, &keys[i]);
		changed = true;
	}
	return changed;
}

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
static TdeMasterKey *temp_keys = NULL;
static int	ntemp_keys = 0;
static int	temp_active = -1;
static SubTransactionId temp_subid = InvalidSubTransactionId;
static bool xact_callback_registered = false;

static void
forget_temp_keys(void)
{
	/* the memory itself is wiped by its context's reset callback */
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
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

	if (!xact_callback_registered)
	{
		RegisterXactCallback(temp_keys_xact_callback, NULL);
		RegisterSubXactCallback(temp_keys_subxact_callback, NULL);
		xact_callback_registered = true;
	}
	tde_masterkey_pop_temporary();
	temp_keys = tde_secure_alloc(sizeof(TdeMasterKey) * TDE_MAX_MASTER_KEYS);
	ntemp_keys = tde_masterkeys_from_wallet(w, temp_keys, TDE_MAX_MASTER_KEYS,
											&temp_active);
	temp_subid = GetCurrentSubTransactionId();
	MemoryContextSwitchTo(old);
}

void
tde_masterkey_pop_temporary(void)
{
	if (temp_keys)
		tde_wipe(temp_keys, sizeof(TdeMasterKey) * TDE_MAX_MASTER_KEYS);
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

/* ---------------------------------------------------------------------
 * Lifecycle
 * ---------------------------------------------------------------------
 */

static void
fill_place(TdeKeyPlace *p)
{
	char	   *dbname = get_database_name(MyDatabaseId);

	memset(p, 0, sizeof(*p));
	strlcpy(p->dbname, (cluster_name && cluster_name[0]) ? cluster_name : "postgres",
			sizeof(p->dbname));
	p->dbid = GetSystemIdentifier();
	strlcpy(p->instance_name, (cluster_name && cluster_name[0]) ? cluster_name : "postgres",
			sizeof(p->instance_name));
	p->instance_number = 1;
	strlcpy(p->pdbname, dbname ? dbname : "", sizeof(p->pdbname));
	p->pdbid = MyDatabaseId;
}

static void
check_tag(const char *tag)
{
	const char *p;

	if (tag == NULL)
		return;
	if (strlen(tag) >= TDE_TAG_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tag is longer than %d bytes", TDE_TAG_MAX - 1)));
	for (p = tag; *p; p++)
		if ((unsigned char) *p < 0x20)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tag must not contain control characters")));
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

	if (tde_config_primary_hsm())
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
			if (!parse_hex(req->user_key, colon - req->user_key, mk->mkid, TDE_MKID_LEN))
				bad_user_key("The master key identifier must be 16 bytes in hexadecimal (32 digits).");
			if (memcmp(mk->mkid, zeros, TDE_MKID_LEN) == 0)
				bad_user_key("The master key identifier must not be zero.");
		}
		if (!parse_hex(keyhex, strlen(keyhex), mk->key, keylen))
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
	fill_place(&mk->created_at);
}

static void
mark_activated(TdeMasterKey *mk)
{
	mk->activated = GetCurrentTimestamp();
	strlcpy(mk->user, GetUserNameFromId(GetUserId(), false), sizeof(mk->user));
	mk->user_id = GetUserId();
	fill_place(&mk->activated_at);
}

static void
set_active_entry(TdeWallet *w, const uint8 *mkid)
{
	char	   *hex = mkid_hex(mkid);

	tde_wallet_put(w, ACTIVE_ENTRY, hex, TDE_MKID_LEN * 2);
}

/* Changes applied to the wallet inside tde_keystore_change() */
typedef struct AddKeyArg
{
	TdeMasterKey *mk;
	bool		activate;
} AddKeyArg;

static int
count_key_entries(const TdeWallet *w)
{
	int			i;
	int			n = 0;

	for (i = 0; i < w->nentries; i++)
		if (strncmp(w->entries[i].name, MK_PREFIX, strlen(MK_PREFIX)) == 0)
			n++;
	return n;
}

static void
add_key_change(TdeWallet *w, void *arg)
{
	AddKeyArg  *a = (AddKeyArg *) arg;

	/* refuse before anything is written: a fuller wallet could not be opened */
	if (count_key_entries(w) >= TDE_MAX_MASTER_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("keystore already holds %d master keys, the most tde supports",
						TDE_MAX_MASTER_KEYS),
				 errhint("Activate an existing key with USE KEY instead of creating another.")));

	if (tde_wallet_get(w, entry_name(a->mk->mkid)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("master key identifier already exists in the keystore"),
				 errdetail("ORA-46684: master key identifier exists in the keystore")));
	if (a->mk->in_hsm)
		tde_hsm_generate_key(a->mk->mkid);
	if (a->activate)
	{
		mark_activated(a->mk);
		set_active_entry(w, a->mk->mkid);
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
	const TdeWalletEntry *e = tde_wallet_get(w, entry_name(a->mkid));
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
	if (!deserialize(e->value, e->len, mk))
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
		set_active_entry(w, mk->mkid);
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
static void
require_primary_server(void)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot change master keys during recovery"),
				 errhint("Run key operations on the primary server, then copy its wallet to the standby.")));
}

/* Apply a change to the primary keystore: the HSM or the password wallet. */
static void
change_primary(const TdeKeyRequest *req, TdeWalletChange change, void *arg)
{
	if (tde_config_primary_hsm())
		tde_hsm_keystore_change((const TdeCredential *) req->cred,
								req->force_keystore, req->with_backup,
								change, arg);
	else
		tde_keystore_change((const TdeCredential *) req->cred,
							req->force_keystore, req->with_backup,
							req->backup_id, change, arg);
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

	require_primary_server();
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

	require_primary_server();
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

	require_primary_server();
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

static void
require_config(TdeConfig wanted, const char *value, const char *statement)
{
	if (tde_config() != wanted)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s needs tde.keystore_configuration = '%s'", statement, value),
				 errhint("Set it with ALTER SYSTEM SET tde.keystore_configuration = '%s' and reload.", value)));
}

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

	require_primary_server();
	require_config(TDE_CONFIG_HSM_FILE, "HSM|FILE", "MIGRATE");
	tde_relkey_lock_for_rekey();

	/* prove the HSM credential before anything is written */
	{
		const char *credential =
			tde_credential_password((const TdeCredential *) req->cred,
									TDE_CLIENT_HSM_PASSWORD);

		if (tde_hsm_keystore_is_open() &&
			!tde_hsm_keystore_credential_matches(credential))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PASSWORD),
					 errmsg("incorrect HSM credential"),
					 errdetail("ORA-28353: failed to open wallet")));
		tde_hsm_login(credential, 0);
	}

	/* the wallet: proven by its password, backed up if asked, open */
	tde_keystore_open_secondary_wallet(&wallet_cred, req->with_backup, req->backup_id);

	hsm_req.user_key = NULL;
	hsm_req.force_keystore = true;
	hsm_req.with_backup = false;
	hsm_req.activate = true;
	build_key(&hsm_req, mk);
	arg.mk = mk;
	arg.activate = true;
	tde_hsm_keystore_change((const TdeCredential *) req->cred, true, false,
							add_key_change, &arg);
	after_activation();

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

	require_primary_server();
	require_config(TDE_CONFIG_FILE_HSM, "FILE|HSM", "REVERSE MIGRATE");
	tde_relkey_lock_for_rekey();

	/* the HSM: proven by logging in, open as the secondary keystore */
	if (!tde_hsm_keystore_is_open())
		tde_hsm_keystore_open(hsm_credential, false);
	else if (!tde_hsm_keystore_credential_matches(hsm_credential))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PASSWORD),
				 errmsg("incorrect HSM credential"),
				 errdetail("ORA-28353: failed to open wallet")));

	wallet_req.user_key = NULL;
	wallet_req.activate = true;
	build_key(&wallet_req, mk);
	arg.mk = mk;
	arg.activate = true;
	/* the wallet becomes primary and open with its password */
	tde_keystore_open_secondary_wallet((const TdeCredential *) req->cred, false, NULL);
	tde_keystore_change_ext((const TdeCredential *) req->cred, true,
							req->with_backup, false, req->backup_id,
							add_key_change, &arg);
	after_activation();
	tde_masterkey_pop_temporary();

	tde_mkid_to_key_id(mk->mkid, key_id);
	return key_id;
}
