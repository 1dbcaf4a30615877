/*-------------------------------------------------------------------------
 *
 * keyrecord.c
 *	  Master-key records in a wallet, and key sets.  See keystore/keyrecord.h.
 *
 * A key record is a wallet entry "TDE.MK.<hex mkid>" holding "name=value"
 * lines (values escaped: \\ and \n).  The active key's MKID is the entry
 * "TDE.ACTIVE".  Keys are never removed by any operation: old keys must
 * unwrap what they wrapped, in old backups and in rows not yet re-wrapped.
 * Serialized records hold the key, so they are in secure memory.
 *
 * Memory: the work on records (a serialized record, the parse buffer of
 * each record read, the keys marked backed up) is done in an operation's
 * context (util/opmem.h) deleted before the function returns, so its
 * secure chunks are wiped then and not when the caller's context goes.
 * What a function hands back (keys[], a key set, wallet entries) is in the
 * caller's context: tde_keyset_read's set is there, and its callers build
 * and install it in an operation's context of their own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "commands/dbcommands.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/builtins.h"

#include "tde/keystore/keyrecord.h"
#include "tde/util/opmem.h"
#include "tde/util/secure.h"

#define MK_PREFIX		"TDE.MK."
#define ACTIVE_ENTRY	"TDE.ACTIVE"
#define SECRET_PREFIX	"TDE.SECRET."

/* ---------------------------------------------------------------------
 * Names
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
 * metadata is formatted in palloc'd memory; the key is hex-encoded straight
 * into the secure result, so no copy of it is ever in plain memory (a
 * StringInfo that grows is repalloc'd, and the old buffer would keep it).
 */
static char *
serialize(const TdeMasterKey *mk, int *len)
{
	StringInfoData buf;
	char	   *out;
	int			n;

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

	/* room for "key=" + hex + "\n" and the terminator */
	out = tde_secure_alloc(buf.len + (mk->in_hsm ? 0 : 4 + mk->keylen * 2 + 1) + 1);
	memcpy(out, buf.data, buf.len);
	n = buf.len;
	if (!mk->in_hsm)
	{
		memcpy(out + n, "key=", 4);
		n += 4;
		hex_encode((const char *) mk->key, mk->keylen, out + n);
		n += mk->keylen * 2;
		out[n++] = '\n';
	}
	out[n] = '\0';
	*len = n;
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

bool
tde_masterkey_deserialize(const uint8 *data, int len, TdeMasterKey *mk)
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
			have_mkid = tde_parse_hex(v, strlen(v), mk->mkid, TDE_MKID_LEN);
		else if (strcmp(line, "key") == 0)
		{
			int			n = strlen(v) / 2;

			have_key = (n == 16 || n == 32) && tde_parse_hex(v, strlen(v), mk->key, n);
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
	TdeOpMem	op;

	/* the parse buffers go when this returns; keys[] is the caller's */
	tde_opmem_begin(&op, "tde read key records", NULL);
	if (act != NULL)
		have_active = tde_parse_hex((const char *) act->value, act->len,
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
		if (!tde_masterkey_deserialize(w->entries[i].value, w->entries[i].len, &keys[n]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("master key entry \"%s\" in the keystore is damaged",
							w->entries[i].name)));
		if (have_active && memcmp(keys[n].mkid, active_mkid, TDE_MKID_LEN) == 0)
			*active = n;
		n++;
	}
	tde_opmem_end(&op);
	return n;
}

/* Write a key's record into a wallet (the entry in the caller's context) */
void
tde_masterkey_store(TdeWallet *w, const TdeMasterKey *mk)
{
	TdeOpMem	op;
	int			len;
	char	   *rec;
	char	   *name;

	tde_opmem_begin(&op, "tde write key record", NULL);
	rec = serialize(mk, &len);
	name = entry_name(mk->mkid);
	MemoryContextSwitchTo(op.caller);
	tde_wallet_put(w, name, rec, len);
	/* wipes rec */
	tde_opmem_end(&op);
}

/*
 * A wallet's keys in secure memory, read outside any lock, ready for
 * tde_keyset_install (w NULL: an empty set).  The set (about 460 kB) is in
 * the current context: the caller reads and installs it in an operation's
 * context (util/opmem.h) and ends it once installed.
 */
TdeKeySet *
tde_keyset_read(const TdeWallet *w, bool in_hsm)
{
	TdeKeySet  *set = tde_secure_alloc(sizeof(TdeKeySet));
	int			i;

	/* an empty set when w is NULL (a close), whatever the memory held */
	set->nkeys = 0;
	set->nsecrets = 0;
	set->active = -1;
	if (w != NULL)
		set->nkeys = tde_masterkeys_from_wallet(w, set->keys, TDE_MAX_MASTER_KEYS,
												&set->active);
	for (i = 0; i < set->nkeys; i++)
		set->keys[i].in_hsm = set->keys[i].in_hsm || in_hsm;
	if (w != NULL)
		set->nsecrets = tde_secrets_from_wallet(w, set->secrets, TDE_MAX_CLIENT_SECRETS);
	return set;
}

/* Read w's key set (w NULL: an empty one) into p; back in the caller's context. */
void
tde_keyset_prepare(TdeKeySetPrepared *p, const TdeWallet *w, bool in_hsm,
				   const char *name)
{
	tde_opmem_begin(&p->op, name, NULL);
	p->set = tde_keyset_read(w, in_hsm);
	MemoryContextSwitchTo(p->op.caller);
}

void
tde_keyset_prepared_end(TdeKeySetPrepared *p)
{
	tde_opmem_end(&p->op);
	p->set = NULL;
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
	memcpy(dst->secrets, src->secrets, sizeof(TdeSecretMeta) * src->nsecrets);
	dst->nsecrets = src->nsecrets;
}

/*
 * Every key and client secret now in the wallet is in the backup being
 * written.  Returns whether any was not marked so before.
 */
bool
tde_masterkeys_mark_backed_up(TdeWallet *w)
{
	TdeOpMem	op;
	TdeMasterKey *keys;
	int			active;
	int			n;
	int			i;
	bool		changed = false;

	tde_opmem_begin(&op, "tde mark keys backed up", NULL);
	keys = tde_secure_alloc(sizeof(TdeMasterKey) * TDE_MAX_MASTER_KEYS);
	n = tde_masterkeys_from_wallet(w, keys, TDE_MAX_MASTER_KEYS, &active);
	/* the wallet's entries are the caller's */
	MemoryContextSwitchTo(op.caller);
	for (i = 0; i < n; i++)
	{
		if (keys[i].backed_up)
			continue;
		keys[i].backed_up = true;
		tde_masterkey_store(w, &keys[i]);
		changed = true;
	}
	tde_opmem_end(&op);
	/* client secrets: the flag's digit, changed in place */
	for (i = 0; i < w->nentries; i++)
	{
		TdeWalletEntry *e = &w->entries[i];
		char	   *flag;

		if (strncmp(e->name, SECRET_PREFIX, strlen(SECRET_PREFIX)) != 0 ||
			(flag = memmem(e->value, e->len, "\nbacked_up=0\n", 13)) == NULL)
			continue;
		flag[11] = '1';
		changed = true;
	}
	return changed;
}

/* The entry of a key in a wallet, or NULL */
const TdeWalletEntry *
tde_masterkey_entry(const TdeWallet *w, const uint8 *mkid)
{
	return tde_wallet_get(w, entry_name(mkid));
}

/* Take a key's record out of a wallet; false if it holds none */
bool
tde_masterkey_remove(TdeWallet *w, const uint8 *mkid)
{
	return tde_wallet_remove(w, entry_name(mkid));
}

/* How many key records a wallet holds */
int
tde_masterkey_count(const TdeWallet *w)
{
	int			i;
	int			n = 0;

	for (i = 0; i < w->nentries; i++)
		if (strncmp(w->entries[i].name, MK_PREFIX, strlen(MK_PREFIX)) == 0)
			n++;
	return n;
}

/* Make a key the wallet's active one */
void
tde_masterkey_set_active(TdeWallet *w, const uint8 *mkid)
{
	char	   *hex = mkid_hex(mkid);

	tde_wallet_put(w, ACTIVE_ENTRY, hex, TDE_MKID_LEN * 2);
}

/* ---------------------------------------------------------------------
 * Client secrets
 * ---------------------------------------------------------------------
 */

char *
tde_secret_entry_name(const char *client)
{
	size_t		len = strlen(client);
	char	   *name = palloc(strlen(SECRET_PREFIX) + 2 * len + 1);

	strcpy(name, SECRET_PREFIX);
	hex_encode(client, len, name + strlen(SECRET_PREFIX));
	name[strlen(SECRET_PREFIX) + 2 * len] = '\0';
	return name;
}

/* Write a secret's record (its value hex-encoded in secure memory). */
void
tde_secret_store(TdeWallet *w, const TdeSecretMeta *meta, const char *secret)
{
	TdeOpMem	op;
	size_t		slen = strlen(secret);
	char	   *hex;
	char	   *rec;
	char	   *name;

	tde_opmem_begin(&op, "tde write secret record", NULL);
	hex = tde_secure_alloc(2 * slen + 1);
	hex_encode(secret, slen, hex);
	hex[2 * slen] = '\0';
	rec = tde_secure_alloc(2 * slen + TDE_CLIENT_MAX + TDE_TAG_MAX + 8 * TDE_META_NAME_MAX + 256);
	sprintf(rec, "format=1\nclient=%s\ntag=%s\ncreated=" INT64_FORMAT
			"\nactivated=" INT64_FORMAT "\nbacked_up=%d\n%s"
			"owner=%s\nowner_id=%u\nowner_dbname=%s\nowner_dbid=" UINT64_FORMAT
			"\nowner_instance=%s\nowner_pdbname=%s\nowner_pdbid=%u\nsecret=%s\n",
			meta->client, meta->tag, (int64) meta->created,
			(int64) meta->activated, meta->backed_up ? 1 : 0,
			meta->in_hsm ? "store=hsm\n" : "",
			meta->owner, meta->owner_id, meta->owner_at.dbname, meta->owner_at.dbid,
			meta->owner_at.instance_name, meta->owner_at.pdbname, meta->owner_at.pdbid,
			hex);
	name = tde_secret_entry_name(meta->client);
	MemoryContextSwitchTo(op.caller);
	tde_wallet_put(w, name, rec, strlen(rec));
	tde_opmem_end(&op);
}

/* The value of line "name=" in a record, up to its newline, or NULL. */
static char *
record_field(const char *rec, const char *name)
{
	size_t		nlen = strlen(name);
	const char *p = rec;

	while (p && *p)
	{
		const char *nl = strchr(p, '\n');

		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=')
			return nl ? pnstrdup(p + nlen + 1, nl - p - nlen - 1) : pstrdup(p + nlen + 1);
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

/* The owner lines of a secret record (absent in none but damaged ones). */
static void
secret_owner_fields(const char *rec, TdeSecretMeta *meta)
{
	char	   *v;

	if ((v = record_field(rec, "owner")) != NULL)
		strlcpy(meta->owner, v, sizeof(meta->owner));
	if ((v = record_field(rec, "owner_id")) != NULL)
		meta->owner_id = (Oid) strtoul(v, NULL, 10);
	if ((v = record_field(rec, "owner_dbname")) != NULL)
		strlcpy(meta->owner_at.dbname, v, sizeof(meta->owner_at.dbname));
	if ((v = record_field(rec, "owner_dbid")) != NULL)
		meta->owner_at.dbid = strtoull(v, NULL, 10);
	if ((v = record_field(rec, "owner_instance")) != NULL)
		strlcpy(meta->owner_at.instance_name, v, sizeof(meta->owner_at.instance_name));
	meta->owner_at.instance_number = 1;
	if ((v = record_field(rec, "owner_pdbname")) != NULL)
		strlcpy(meta->owner_at.pdbname, v, sizeof(meta->owner_at.pdbname));
	if ((v = record_field(rec, "owner_pdbid")) != NULL)
		meta->owner_at.pdbid = (Oid) strtoul(v, NULL, 10);
}

/* A secret record's metadata (never its value); false if it is damaged. */
bool
tde_secret_meta(const TdeWalletEntry *e, TdeSecretMeta *meta)
{
	char	   *rec = pnstrdup((const char *) e->value, e->len);
	char	   *client = record_field(rec, "client");
	char	   *tag = record_field(rec, "tag");
	char	   *created = record_field(rec, "created");
	char	   *activated = record_field(rec, "activated");
	char	   *backed_up = record_field(rec, "backed_up");
	char	   *store = record_field(rec, "store");
	bool		ok = client && tag && created && activated && backed_up &&
		strlen(client) < TDE_CLIENT_MAX && strlen(tag) < TDE_TAG_MAX;

	memset(meta, 0, sizeof(*meta));
	if (ok)
	{
		strlcpy(meta->client, client, sizeof(meta->client));
		strlcpy(meta->tag, tag, sizeof(meta->tag));
		meta->created = (TimestampTz) strtoll(created, NULL, 10);
		meta->activated = (TimestampTz) strtoll(activated, NULL, 10);
		meta->backed_up = strcmp(backed_up, "1") == 0;
		meta->in_hsm = store != NULL && strcmp(store, "hsm") == 0;
		secret_owner_fields(rec, meta);
	}
	/* the record holds the secret: wiped before it is freed */
	explicit_bzero(rec, e->len);
	pfree(rec);
	return ok;
}

int
tde_secrets_from_wallet(const TdeWallet *w, TdeSecretMeta *out, int max)
{
	int			n = 0;
	int			i;

	for (i = 0; i < w->nentries && n < max; i++)
	{
		if (strncmp(w->entries[i].name, SECRET_PREFIX, strlen(SECRET_PREFIX)) != 0)
			continue;
		if (!tde_secret_meta(&w->entries[i], &out[n]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("client secret entry \"%s\" in the keystore is damaged",
							w->entries[i].name)));
		n++;
	}
	return n;
}

/* Where this session runs: Oracle's *_DBNAME, *_DBID, ... columns. */
void
tde_key_place_here(TdeKeyPlace *p)
{
	char	   *dbname = get_database_name(MyDatabaseId);
	const char *cluster = (cluster_name && cluster_name[0]) ? cluster_name : "postgres";

	memset(p, 0, sizeof(*p));
	strlcpy(p->dbname, cluster, sizeof(p->dbname));
	p->dbid = GetSystemIdentifier();
	strlcpy(p->instance_name, cluster, sizeof(p->instance_name));
	p->instance_number = 1;
	strlcpy(p->pdbname, dbname ? dbname : "", sizeof(p->pdbname));
	p->pdbid = MyDatabaseId;
}
