/*-------------------------------------------------------------------------
 *
 * unwrap.c (fuzz harness)
 *	  The wrapped relation key of a tde.relation_key row, as
 *	  keys/relkey_row.c reads it: tde_relkey_unwrap_row (first use of a
 *	  key) and tde_relkey_rewrap_with (a re-wrap statement), down to the
 *	  unwrap formats of crypto/cipher.c (AES-256-GCM, ARIA-256-GCM,
 *	  SEED-128-CBC with HMAC-SHA-256, and the scheduled GCM context).
 *
 * The keystore is stood in for: tde_masterkey_find knows three software
 * master keys, one per algorithm, and tde_mk_unwrap, tde_mk_wrap and
 * tde_mk_cipher_{wrap,unwrap} do what keystore/keystore.c does for a
 * software key (file_keystore.c's tde_wrap/tde_unwrap; a scheduled
 * TdeWrapCtx for GCM).  The input's first byte chooses the row's master
 * key (three known, then an unknown one: 42704) and the path (a first
 * use, or a re-wrap to the next key), the second its version; the rest is
 * the wrapped key.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "harness.h"
#include "tde/keys/relkey_row.h"
#include "tde/keystore/keystore.h"

#define NKEYS 3

static const TdeAlgorithm algorithms[NKEYS] = {
	TDE_ALG_AES256, TDE_ALG_ARIA256, TDE_ALG_SEED128
};
static TdeMasterKey master_keys[NKEYS];
static const uint8 dbident[16] = "fuzz database id";
static const uint8 key_id[TDE_RELKEY_ID_LEN] = "fuzz rel key id!";

/* ---------------------------------------------------------------------
 * The keystore, as keystore/keystore.c answers for software keys
 * ---------------------------------------------------------------------
 */

bool
tde_masterkey_find(const uint8 *mkid, TdeMasterKey *out)
{
	int			i;

	for (i = 0; i < NKEYS; i++)
		if (memcmp(master_keys[i].mkid, mkid, TDE_MKID_LEN) == 0)
		{
			memcpy(out, &master_keys[i], sizeof(TdeMasterKey));
			return true;
		}
	return false;
}

bool
tde_mk_unwrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
			  const uint8 *in, int inlen, uint8 *out, int *outlen)
{
	return tde_unwrap(mk->algorithm, mk->key, mk->keylen, aad, aadlen,
					  in, inlen, out, outlen);
}

int
tde_mk_wrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
			const uint8 *in, int inlen, uint8 *out)
{
	return tde_wrap(mk->algorithm, mk->key, mk->keylen, aad, aadlen,
					in, inlen, out);
}

bool
tde_mk_cipher_unwrap(TdeMkCipher *c, const uint8 *aad, int aadlen,
					 const uint8 *in, int inlen, uint8 *out, int *outlen)
{
	if (c->keyed)
		return tde_wrapctx_unwrap(&c->ctx, aad, aadlen, in, inlen, out, outlen);
	return tde_mk_unwrap(c->mk, aad, aadlen, in, inlen, out, outlen);
}

int
tde_mk_cipher_wrap(TdeMkCipher *c, const uint8 *aad, int aadlen,
				   const uint8 *in, int inlen, uint8 *out)
{
	if (c->keyed)
		return tde_wrapctx_wrap(&c->ctx, aad, aadlen, in, inlen, out);
	return tde_mk_wrap(c->mk, aad, aadlen, in, inlen, out);
}

static void
setup_keys(void)
{
	int			i;
	int			b;

	for (i = 0; i < NKEYS; i++)
	{
		TdeMasterKey *mk = &master_keys[i];

		for (b = 0; b < TDE_MKID_LEN; b++)
			mk->mkid[b] = (uint8) (0x70 + i * 16 + b);
		mk->algorithm = algorithms[i];
		mk->keylen = tde_key_length(mk->algorithm);
		for (b = 0; b < mk->keylen; b++)
			mk->key[b] = (uint8) (0x11 * (i + 1) + b);
	}
}

/* ---------------------------------------------------------------------
 * The harness
 * ---------------------------------------------------------------------
 */

static bytea *
to_bytea(const void *data, size_t size)
{
	bytea	   *b = palloc(VARHDRSZ + size);

	SET_VARSIZE(b, VARHDRSZ + size);
	memcpy(VARDATA(b), data, size);
	return b;
}

/* A re-wrap's cipher for master key i, as tde_mk_cipher_open makes it */
static TdeMkCipher *
cipher_of(int i)
{
	TdeMkCipher *c = palloc0(sizeof(TdeMkCipher));

	c->mk = &master_keys[i];
	c->keyed = tde_wrapctx_init(&c->ctx, c->mk->algorithm, c->mk->key,
								c->mk->keylen);
	return c;
}

static void
rewrap(int which, int32 version, const bytea *wrapped)
{
	TdeMkCipher *from = cipher_of(which);
	TdeMkCipher *to = cipher_of((which + 1) % NKEYS);

	PG_TRY();
	{
		(void) tde_relkey_rewrap_with(from, to, dbident, key_id, version,
									  wrapped);
	}
	PG_FINALLY();
	{
		tde_wrapctx_free(&from->ctx);
		tde_wrapctx_free(&to->ctx);
	}
	PG_END_TRY();
}

/* byte 0: the master key (bits 0-1) and the path (bit 2: a re-wrap) */
static void
one_input(const uint8_t *data, size_t size)
{
	int			which;
	int32		version;
	uint8		mkid[TDE_MKID_LEN];
	uint8		out[TDE_RELKEY_LEN];
	bytea	   *wrapped;

	if (size < 2)
		return;
	which = (data[0] & 3) % (NKEYS + 1);
	version = data[1];
	wrapped = to_bytea(data + 2, size - 2);
	if ((data[0] & 4) && which < NKEYS)
	{
		rewrap(which, version, wrapped);
		return;
	}
	if (which < NKEYS)
		memcpy(mkid, master_keys[which].mkid, TDE_MKID_LEN);
	else
		memset(mkid, 0xEE, TDE_MKID_LEN);
	tde_relkey_unwrap_row(dbident, key_id, version, to_bytea(mkid, TDE_MKID_LEN),
						  wrapped, out);
}

/* tde_relkey_wrap's rows, for a first use and for a re-wrap */
static void
write_seeds(const uint8_t *data, size_t size)
{
	uint8		relkey[TDE_RELKEY_LEN];
	int			i;
	int			rewrap;

	memset(relkey, 0x42, sizeof(relkey));
	for (i = 0; i < NKEYS; i++)
	{
		bytea	   *w = tde_relkey_wrap(&master_keys[i], dbident, key_id, 1, relkey);
		Size		len = VARSIZE(w) - VARHDRSZ;
		uint8	   *seed = palloc(2 + len);

		for (rewrap = 0; rewrap <= 1; rewrap++)
		{
			seed[0] = (uint8) (i | (rewrap ? 4 : 0));
			seed[1] = 1;
			memcpy(seed + 2, VARDATA(w), len);
			tde_fuzz_seed(psprintf("gen-%s%s", tde_algorithm_name(algorithms[i]),
								   rewrap ? "-rewrap" : ""), seed, 2 + len);
		}
	}
}

static void
init(void)
{
	setup_keys();
	fuzz_write_seeds(write_seeds);
}

TDE_FUZZ_TARGET(init, one_input)
