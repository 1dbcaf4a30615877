/*-------------------------------------------------------------------------
 *
 * common.c
 *	  The checks every wallet-reading harness makes on what it got, and
 *	  the seed wallets, written by the extension's own writers.
 *
 * Seeds: the wallets are built with tde_masterkey_store and
 * tde_secret_store and encoded by tde_wallet_encode, as the extension
 * writes them, at FUZZ_SEED_ITERATIONS KDF iterations so that a run spends
 * its time in the readers, not in PBKDF2.  The key bytes are a fixed
 * pattern: nothing in a seed is secret.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "harness.h"

/*
 * store/hsm_session.c's GUC variables, read by units the wallet harnesses
 * link (where the HSM is configured); no harness links hsm_session.c.
 */
char	   *tde_pkcs11_library = NULL;
char	   *tde_pkcs11_token_label = NULL;

void
fuzz_check_string(const char *s, size_t size, const char *what)
{
	if (strnlen(s, size) >= size)
		tde_fuzz_fail("%s is not terminated inside its %zu bytes", what, size);
}

static void
check_place(const TdeKeyPlace *p)
{
	fuzz_check_string(p->dbname, sizeof(p->dbname), "place dbname");
	fuzz_check_string(p->instance_name, sizeof(p->instance_name), "place instance_name");
	fuzz_check_string(p->pdbname, sizeof(p->pdbname), "place pdbname");
}

/*
 * A record read from a file: its strings terminated, and a software key's
 * length one the ciphers take (an HSM key's bytes and length are never
 * used: the token holds the key).
 */
void
fuzz_check_master_key(const TdeMasterKey *mk)
{
	if (!mk->in_hsm && mk->keylen != 16 && mk->keylen != 32)
		tde_fuzz_fail("software key accepted with keylen %d", mk->keylen);
	fuzz_check_string(mk->tag, sizeof(mk->tag), "tag");
	fuzz_check_string(mk->creator, sizeof(mk->creator), "creator");
	fuzz_check_string(mk->user, sizeof(mk->user), "user");
	fuzz_check_string(mk->origin, sizeof(mk->origin), "origin");
	check_place(&mk->created_at);
	check_place(&mk->activated_at);
	(void) tde_algorithm_name(mk->algorithm);
}

/*
 * A key of an export file: IMPORT KEYS stores it as a software key
 * (keys/transfer.c sets in_hsm false), so it must be one, of its
 * algorithm's length, or the wallet it goes into no longer opens.
 */
void
fuzz_check_exported_key(const TdeMasterKey *mk)
{
	fuzz_check_master_key(mk);
	if (mk->in_hsm || mk->keylen != tde_key_length(mk->algorithm))
		tde_fuzz_fail("export file reader returned a key IMPORT KEYS cannot store "
					  "(in_hsm %d, keylen %d, algorithm %s)", mk->in_hsm,
					  mk->keylen, tde_algorithm_name(mk->algorithm));
}

void
fuzz_check_keyset(const TdeKeySet *set)
{
	int			i;

	if (set->nkeys < 0 || set->nkeys > TDE_MAX_MASTER_KEYS)
		tde_fuzz_fail("key set with %d keys", set->nkeys);
	if (set->active < -1 || set->active >= set->nkeys)
		tde_fuzz_fail("key set with active index %d of %d", set->active, set->nkeys);
	if (set->nsecrets < 0 || set->nsecrets > TDE_MAX_CLIENT_SECRETS)
		tde_fuzz_fail("key set with %d secrets", set->nsecrets);
	for (i = 0; i < set->nkeys; i++)
		fuzz_check_master_key(&set->keys[i]);
	for (i = 0; i < set->nsecrets; i++)
	{
		const TdeSecretMeta *s = &set->secrets[i];

		fuzz_check_string(s->client, sizeof(s->client), "secret client");
		fuzz_check_string(s->tag, sizeof(s->tag), "secret tag");
		fuzz_check_string(s->owner, sizeof(s->owner), "secret owner");
		check_place(&s->owner_at);
	}
}

/* Every entry readable: its name terminated, its value len bytes long. */
void
fuzz_check_wallet(const TdeWallet *w)
{
	unsigned char sum = 0;
	int			i;
	int			j;

	if (w->nentries < 0 || w->nentries > w->maxentries)
		tde_fuzz_fail("wallet with %d entries of %d", w->nentries, w->maxentries);
	for (i = 0; i < w->nentries; i++)
	{
		(void) strlen(w->entries[i].name);
		if (w->entries[i].len < 0)
			tde_fuzz_fail("wallet entry of length %d", w->entries[i].len);
		for (j = 0; j < w->entries[i].len; j++)
			sum += w->entries[i].value[j];
	}
	/* so that the reads are not optimised away */
	__asm__ volatile("" : : "r"(sum));
}

char *
fuzz_path(const char *relative)
{
	return psprintf("%s/%s", tde_fuzz_root, relative);
}

/* ---------------------------------------------------------------------
 * Seeds
 * ---------------------------------------------------------------------
 */

void
fuzz_seed_wallet(const char *name, const TdeWallet *w, const char *password)
{
	size_t		len;
	char	   *bytes = tde_wallet_encode(w, password, FUZZ_SEED_ITERATIONS, &len);

	tde_fuzz_seed(name, bytes, len);
}

static void
seed_place(TdeKeyPlace *p)
{
	strlcpy(p->dbname, "postgres", sizeof(p->dbname));
	p->dbid = UINT64CONST(7309486572384901234);
	strlcpy(p->instance_name, "postgres", sizeof(p->instance_name));
	p->instance_number = 1;
	strlcpy(p->pdbname, "regression", sizeof(p->pdbname));
	p->pdbid = 16384;
}

/* Key i of a seed: a fixed MKID and key pattern, real record fields. */
void
fuzz_add_master_key(TdeWallet *w, int i, TdeAlgorithm alg, bool in_hsm,
					bool active)
{
	TdeMasterKey mk;
	int			b;

	memset(&mk, 0, sizeof(mk));
	for (b = 0; b < TDE_MKID_LEN; b++)
		mk.mkid[b] = (uint8) (0x40 + i * 16 + b);
	mk.algorithm = alg;
	mk.keylen = tde_key_length(alg);
	for (b = 0; b < mk.keylen; b++)
		mk.key[b] = (uint8) (0xA0 ^ (i * 31 + b));
	snprintf(mk.tag, sizeof(mk.tag), "seed key %d: a tag\nwith \\ escapes", i);
	mk.created = INT64CONST(817000000000000) + i;
	mk.activated = active ? mk.created + 1 : 0;
	strlcpy(mk.creator, "tde_admin", sizeof(mk.creator));
	mk.creator_id = 16385;
	strlcpy(mk.user, active ? "tde_admin" : "", sizeof(mk.user));
	mk.user_id = active ? 16385 : 0;
	strlcpy(mk.origin, i % 2 ? "IMPORTED" : "LOCAL", sizeof(mk.origin));
	mk.backed_up = i % 2 == 0;
	mk.in_hsm = in_hsm;
	seed_place(&mk.created_at);
	if (active)
		seed_place(&mk.activated_at);
	tde_masterkey_store(w, &mk);
	if (active)
		tde_masterkey_set_active(w, mk.mkid);
}

void
fuzz_add_secret(TdeWallet *w, const char *client, const char *secret)
{
	TdeSecretMeta meta;

	memset(&meta, 0, sizeof(meta));
	strlcpy(meta.client, client, sizeof(meta.client));
	strlcpy(meta.tag, "seed secret", sizeof(meta.tag));
	meta.created = INT64CONST(817000000000000);
	meta.activated = meta.created;
	strlcpy(meta.owner, "tde_admin", sizeof(meta.owner));
	meta.owner_id = 16385;
	seed_place(&meta.owner_at);
	tde_secret_store(w, &meta, secret);
}

/*
 * In seed mode (tde_fuzz_seed_dir set), write the harness's seeds with
 * write_seeds, as one input, and exit; otherwise return.
 */
void
fuzz_write_seeds(TdeFuzzInput write_seeds)
{
	if (tde_fuzz_seed_dir() == NULL)
		return;
	tde_fuzz_run(write_seeds, NULL, 0);
	if (tde_fuzz_last_sqlstate != 0)
		tde_fuzz_fail("writing the seeds failed with SQLSTATE %s",
					  unpack_sql_state(tde_fuzz_last_sqlstate));
	exit(0);
}
