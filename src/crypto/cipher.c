/*-------------------------------------------------------------------------
 *
 * cipher.c
 *	  Symmetric cryptography for tde, on OpenSSL.  See crypto/cipher.h.
 *
 * Key schedules and their lifetime.  Every EVP context here that holds a
 * key schedule is freed with EVP_CIPHER_CTX_free, which OpenSSL documents
 * as clearing the context "so sensitive information does not remain in
 * memory" (EVP_EncryptInit(3)); EVP_CIPHER_CTX_reset is documented only as
 * clearing it for reuse, so it is not relied on to cleanse.  There are
 * three kinds:
 *
 *	- the wrapping context (wrap_ctx below), keyed with a master key by
 *	  tde_wrap and tde_unwrap (GCM and SEED alike): one per backend, reused
 *	  within an operation (a re-wrap of 100,000 keys sets it up once per
 *	  master key, not per call), and freed by a resource-release callback
 *	  whenever a resource owner is released: at the end of every portal,
 *	  subtransaction and top-level transaction, on commit, abort and
 *	  PREPARE alike.  No master-key schedule outlives the statement that
 *	  used it.
 *	- TdeGcmKey (tde_gcm_key_init): the two contexts of a cached relation
 *	  key, owned by the caller's cache (keys/relkey.c), which frees them
 *	  with tde_gcm_key_free when it drops an entry (a new generation, an
 *	  abort that made a key, DROP EXTENSION).
 *	- TdeWrapCtx (tde_wrapctx_init): an AES-256 master key's GCM contexts
 *	  keyed once for a re-wrap statement, owned by the re-wrap
 *	  (keys/relkey_rewrap.c), which frees them with tde_wrapctx_free when
 *	  the statement ends, on error too.
 *	- HMAC for SEED128 (seed_mac): the one-shot HMAC(), whose context
 *	  OpenSSL allocates and frees inside the call; the derived MAC key is
 *	  cleansed here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "port/pg_bswap.h"
#include "utils/resowner.h"

#include "tde/crypto/cipher.h"

#define SEED_BLOCK	16
#define HMAC_LEN	32

/*
 * The per-backend context for wrapping under master keys, created on first
 * use after each release.  It holds the schedule of the last master key
 * used until the statement's resources are released: the resource-release
 * callback frees (and so cleanses) it at the end of every (sub)transaction
 * and portal, on success and on error alike; within one operation (a
 * re-wrap of many rows) it is reused.
 */
static EVP_CIPHER_CTX *wrap_ctx = NULL;
static const EVP_CIPHER *wrap_cipher = NULL;	/* what wrap_ctx was made for */
static bool release_callback_registered = false;
static EVP_CIPHER *aes_gcm = NULL;
static EVP_CIPHER *aria_gcm = NULL;
static EVP_CIPHER *seed_cbc = NULL;
static bool legacy_tried = false;

static void
crypto_error(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("OpenSSL failure: %s", what)));
}

void
tde_random_bytes(void *buf, int len)
{
	if (RAND_bytes(buf, len) != 1)
		crypto_error("could not generate random bytes");
}

/* Free the wrapping context: EVP_CIPHER_CTX_free cleanses the schedule */
static void
done_ctx(void)
{
	if (wrap_ctx != NULL)
	{
		EVP_CIPHER_CTX_free(wrap_ctx);
		wrap_ctx = NULL;
	}
	wrap_cipher = NULL;
}

/*
 * Called for every resource owner released, of a portal, a subtransaction
 * or the top-level transaction, committing or aborting.  The context is
 * not in use then: it is only used within one call of tde_wrap or
 * tde_unwrap, which calls nothing that releases resources.
 */
static void
crypto_release_callback(ResourceReleasePhase phase, bool isCommit,
						bool isTopLevel, void *arg)
{
	if (phase == RESOURCE_RELEASE_AFTER_LOCKS)
		done_ctx();
}

/*
 * The wrapping context, for cipher.  A context last used with another
 * cipher is freed and made anew: OpenSSL 3.0 carries state of a GCM
 * context into a CBC one (and back) that EVP_*Init_ex does not set, and
 * valgrind saw EVP_DecryptFinal_ex depend on it (a SEED128 key and an
 * ARIA256 or AES256 key unwrapped in one statement).
 */
static EVP_CIPHER_CTX *
get_ctx(const EVP_CIPHER *cipher)
{
	if (!release_callback_registered)
	{
		RegisterResourceReleaseCallback(crypto_release_callback, NULL);
		release_callback_registered = true;
	}
	if (wrap_ctx != NULL && wrap_cipher != cipher)
		done_ctx();
	wrap_cipher = cipher;
	if (wrap_ctx == NULL)
	{
		wrap_ctx = EVP_CIPHER_CTX_new();
		if (wrap_ctx == NULL)
			crypto_error("could not allocate a cipher context");
	}
	return wrap_ctx;
}

static EVP_CIPHER *
fetch_cipher(TdeAlgorithm alg)
{
	switch (alg)
	{
		case TDE_ALG_AES256:
			if (aes_gcm == NULL)
				aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
			return aes_gcm;
		case TDE_ALG_ARIA256:
			if (aria_gcm == NULL)
				aria_gcm = EVP_CIPHER_fetch(NULL, "ARIA-256-GCM", NULL);
			return aria_gcm;
		case TDE_ALG_SEED128:
			if (seed_cbc == NULL && !legacy_tried)
			{
				/* SEED lives in the legacy provider; keep default loaded */
				legacy_tried = true;
				(void) OSSL_PROVIDER_load(NULL, "default");
				(void) OSSL_PROVIDER_load(NULL, "legacy");
				seed_cbc = EVP_CIPHER_fetch(NULL, "SEED-CBC", NULL);
			}
			return seed_cbc;
		case TDE_ALG_GOST256:
			return NULL;
	}
	return NULL;
}

bool
tde_algorithm_available(TdeAlgorithm alg)
{
	return fetch_cipher(alg) != NULL;
}

int
tde_key_length(TdeAlgorithm alg)
{
	return alg == TDE_ALG_SEED128 ? 16 : 32;
}

/* ---------------------------------------------------------------------
 * GCM (AES or ARIA)
 * ---------------------------------------------------------------------
 */

/*
 * GCM on a context: with cipher and key to (re)key it, or NULL for both to
 * keep the key it has and set only the nonce.
 */
static bool
gcm_seal(EVP_CIPHER_CTX *ctx, EVP_CIPHER *cipher, const uint8 *key,
		 const uint8 *iv, const uint8 *aad, int aadlen,
		 const uint8 *in, int inlen, uint8 *out, uint8 *tag)
{
	int			len;

	return EVP_EncryptInit_ex(ctx, cipher, NULL, key, iv) &&
		(aadlen == 0 || EVP_EncryptUpdate(ctx, NULL, &len, aad, aadlen)) &&
		(inlen == 0 || EVP_EncryptUpdate(ctx, out, &len, in, inlen)) &&
		EVP_EncryptFinal_ex(ctx, out + inlen, &len) &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TDE_GCM_TAG_LEN, tag) == 1;
}

static bool
gcm_open(EVP_CIPHER_CTX *ctx, EVP_CIPHER *cipher, const uint8 *key,
		 const uint8 *iv, const uint8 *aad, int aadlen,
		 const uint8 *in, int inlen, const uint8 *tag, uint8 *out)
{
	int			len;

	return EVP_DecryptInit_ex(ctx, cipher, NULL, key, iv) &&
		(aadlen == 0 || EVP_DecryptUpdate(ctx, NULL, &len, aad, aadlen)) &&
		(inlen == 0 || EVP_DecryptUpdate(ctx, out, &len, in, inlen)) &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TDE_GCM_TAG_LEN, (void *) tag) &&
		EVP_DecryptFinal_ex(ctx, out + inlen, &len) == 1;
}

/* ---------------------------------------------------------------------
 * AES-256-GCM with a fixed key: the key schedule is set up once, each call
 * only sets the nonce.
 * ---------------------------------------------------------------------
 */

/*
 * An encryption and a decryption context keyed once with key; the IV is
 * set per message.  Raises what on failure.
 */
static void
keyed_pair(const EVP_CIPHER *cipher, const uint8 *key, void **enc_out,
		   void **dec_out, const char *what)
{
	EVP_CIPHER_CTX *enc = EVP_CIPHER_CTX_new();
	EVP_CIPHER_CTX *dec = EVP_CIPHER_CTX_new();

	if (cipher == NULL || enc == NULL || dec == NULL ||
		!EVP_EncryptInit_ex(enc, cipher, NULL, key, NULL) ||
		!EVP_DecryptInit_ex(dec, cipher, NULL, key, NULL))
	{
		EVP_CIPHER_CTX_free(enc);
		EVP_CIPHER_CTX_free(dec);
		crypto_error(what);
	}
	*enc_out = enc;
	*dec_out = dec;
}

void
tde_gcm_key_init(TdeGcmKey *k, const uint8 *key)
{
	keyed_pair(fetch_cipher(TDE_ALG_AES256), key, &k->enc, &k->dec,
			   "could not set up an AES-256-GCM key");
}

/*
 * The next 96-bit nonce of a counter under a random prefix: prefix ||
 * counter, big-endian; a new prefix is drawn when the counter wraps.
 */
void
tde_counter_nonce(TdeNonceCounter *n, uint8 *nonce)
{
	uint32		c;

	if (n->counter == PG_UINT32_MAX)
	{
		tde_random_bytes(n->prefix, sizeof(n->prefix));
		n->counter = 0;
	}
	c = pg_hton32(n->counter++);
	memcpy(nonce, n->prefix, sizeof(n->prefix));
	memcpy(nonce + sizeof(n->prefix), &c, sizeof(c));
}

void
tde_gcm_key_free(TdeGcmKey *k)
{
	/* EVP_CIPHER_CTX_free cleanses the key schedule */
	EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *) k->enc);
	EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *) k->dec);
	k->enc = k->dec = NULL;
}

void
tde_gcm_seal(TdeGcmKey *k, const uint8 *iv, const uint8 *aad, int aadlen,
			 const uint8 *in, int inlen, uint8 *out, uint8 *tag)
{
	if (!gcm_seal((EVP_CIPHER_CTX *) k->enc, NULL, NULL, iv, aad, aadlen,
				  in, inlen, out, tag))
		crypto_error("AES-256-GCM encryption failed");
}

bool
tde_gcm_open(TdeGcmKey *k, const uint8 *iv, const uint8 *aad, int aadlen,
			 const uint8 *in, int inlen, const uint8 *tag, uint8 *out)
{
	return gcm_open((EVP_CIPHER_CTX *) k->dec, NULL, NULL, iv, aad, aadlen,
					in, inlen, tag, out);
}

/* ---------------------------------------------------------------------
 * Algorithm names, as Oracle writes them
 * ---------------------------------------------------------------------
 */

const char *
tde_algorithm_name(TdeAlgorithm alg)
{
	switch (alg)
	{
		case TDE_ALG_AES256:
			return "AES256";
		case TDE_ALG_ARIA256:
			return "ARIA256";
		case TDE_ALG_SEED128:
			return "SEED128";
		case TDE_ALG_GOST256:
			return "GOST256";
	}
	return "?";
}

/* The algorithm of a name, in any case; false if there is none. */
bool
tde_algorithm_from_name(const char *name, TdeAlgorithm *alg)
{
	TdeAlgorithm a;

	for (a = TDE_ALG_AES256; a <= TDE_ALG_GOST256; a++)
		if (pg_strcasecmp(name, tde_algorithm_name(a)) == 0)
		{
			*alg = a;
			return true;
		}
	return false;
}

/* ---------------------------------------------------------------------
 * SEED-128-CBC + HMAC-SHA-256 (encrypt-then-MAC)
 * ---------------------------------------------------------------------
 */

/* The MAC key is derived from the master key, never the key itself. */
static void
seed_mac(const uint8 *key, int keylen, const uint8 *aad, int aadlen,
		 const uint8 *data, int datalen, uint8 *mac)
{
	uint8		mackey[HMAC_LEN];
	unsigned int klen = HMAC_LEN;
	unsigned int maclen = HMAC_LEN;
	uint8	   *buf = palloc(aadlen + datalen);
	bool		ok;

	memcpy(buf, aad, aadlen);
	memcpy(buf + aadlen, data, datalen);
	ok = HMAC(EVP_sha256(), key, keylen,
			  (const uint8 *) "tde seed128 mac key", 19, mackey, &klen) != NULL &&
		HMAC(EVP_sha256(), mackey, HMAC_LEN, buf, aadlen + datalen,
			 mac, &maclen) != NULL;
	OPENSSL_cleanse(mackey, sizeof(mackey));
	pfree(buf);
	if (!ok)
		crypto_error("HMAC failed");
}

static int
seed_wrap(const uint8 *key, int keylen, const uint8 *aad, int aadlen,
		  const uint8 *in, int inlen, uint8 *out)
{
	EVP_CIPHER_CTX *ctx = get_ctx(fetch_cipher(TDE_ALG_SEED128));
	int			len1 = 0,
				len2 = 0;

	tde_random_bytes(out, SEED_BLOCK);
	if (!EVP_EncryptInit_ex(ctx, fetch_cipher(TDE_ALG_SEED128), NULL, key, out) ||
		!EVP_EncryptUpdate(ctx, out + SEED_BLOCK, &len1, in, inlen) ||
		!EVP_EncryptFinal_ex(ctx, out + SEED_BLOCK + len1, &len2))
		crypto_error("SEED encryption failed");
	seed_mac(key, keylen, aad, aadlen, out, SEED_BLOCK + len1 + len2,
			 out + SEED_BLOCK + len1 + len2);
	return SEED_BLOCK + len1 + len2 + HMAC_LEN;
}

static bool
seed_unwrap(const uint8 *key, int keylen, const uint8 *aad, int aadlen,
			const uint8 *in, int inlen, uint8 *out, int *outlen)
{
	EVP_CIPHER_CTX *ctx = get_ctx(fetch_cipher(TDE_ALG_SEED128));
	uint8		mac[HMAC_LEN];
	int			ctlen = inlen - SEED_BLOCK - HMAC_LEN;
	int			len1,
				len2;

	if (ctlen <= 0 || ctlen % SEED_BLOCK != 0)
		return false;
	seed_mac(key, keylen, aad, aadlen, in, SEED_BLOCK + ctlen, mac);
	if (CRYPTO_memcmp(mac, in + SEED_BLOCK + ctlen, HMAC_LEN) != 0)
		return false;
	if (!EVP_DecryptInit_ex(ctx, fetch_cipher(TDE_ALG_SEED128), NULL, key, in) ||
		!EVP_DecryptUpdate(ctx, out, &len1, in + SEED_BLOCK, ctlen) ||
		!EVP_DecryptFinal_ex(ctx, out + len1, &len2))
	{
		/* a partial plaintext may be in out already */
		OPENSSL_cleanse(out, ctlen);
		return false;
	}
	*outlen = len1 + len2;
	return true;
}

/* ---------------------------------------------------------------------
 * Wrapping under a master key
 * ---------------------------------------------------------------------
 */

/* The cipher of alg; an error if this platform's OpenSSL has none. */
static EVP_CIPHER *
available_cipher(TdeAlgorithm alg)
{
	EVP_CIPHER *cipher = fetch_cipher(alg);

	if (cipher == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("master key algorithm %s is not available on this platform",
						tde_algorithm_name(alg))));
	return cipher;
}

int
tde_wrap(TdeAlgorithm alg, const uint8 *key, int keylen,
		 const uint8 *aad, int aadlen, const uint8 *in, int inlen, uint8 *out)
{
	EVP_CIPHER *cipher = available_cipher(alg);

	if (alg == TDE_ALG_SEED128)
		return seed_wrap(key, keylen, aad, aadlen, in, inlen, out);

	tde_random_bytes(out, TDE_GCM_IV_LEN);
	if (!gcm_seal(get_ctx(cipher), cipher, key, out, aad, aadlen, in, inlen,
				  out + TDE_GCM_IV_LEN, out + TDE_GCM_IV_LEN + inlen))
		crypto_error("key wrapping failed");
	return TDE_GCM_IV_LEN + inlen + TDE_GCM_TAG_LEN;
}

bool
tde_unwrap(TdeAlgorithm alg, const uint8 *key, int keylen,
		   const uint8 *aad, int aadlen, const uint8 *in, int inlen,
		   uint8 *out, int *outlen)
{
	EVP_CIPHER *cipher = available_cipher(alg);
	int			ctlen = inlen - TDE_GCM_IV_LEN - TDE_GCM_TAG_LEN;

	if (alg == TDE_ALG_SEED128)
		return seed_unwrap(key, keylen, aad, aadlen, in, inlen, out, outlen);
	if (ctlen <= 0)
		return false;
	if (!gcm_open(get_ctx(cipher), cipher, key, in, aad, aadlen, in + TDE_GCM_IV_LEN,
				  ctlen, in + TDE_GCM_IV_LEN + ctlen, out))
	{
		OPENSSL_cleanse(out, ctlen);
		return false;
	}
	*outlen = ctlen;
	return true;
}

/* ---------------------------------------------------------------------
 * Wrapping under one master key many times (a re-wrap statement): the
 * GCM schedules set up once, nonces from a counter under a random prefix
 * drawn per context (and again if the counter wraps), as for data keys.
 * The output is tde_wrap's: nonce, ciphertext, tag.
 * ---------------------------------------------------------------------
 */

bool
tde_wrapctx_init(TdeWrapCtx *w, TdeAlgorithm alg, const uint8 *key, int keylen)
{
	EVP_CIPHER *cipher;

	memset(w, 0, sizeof(*w));

	/*
	 * AES-256-GCM only.  An ARIA-256-GCM context keyed without its IV and
	 * given each IV later (as here) yields right results, but valgrind's
	 * memcheck (3.19, OpenSSL 3.0.19) takes its output for uninitialised:
	 * the tag, and a key it unwraps, re-wrapped and read back by the same
	 * backend, fail its checks, which would hide real reports
	 * (doc/reliability.md, "Valgrind").  ARIA keys, and SEED keys, take
	 * tde_wrap's path: key and IV set together on every call.
	 */
	if (alg != TDE_ALG_AES256)
		return false;			/* the caller uses tde_wrap */
	cipher = available_cipher(alg);
	if (keylen != EVP_CIPHER_get_key_length(cipher))
		return false;
	keyed_pair(cipher, key, &w->enc, &w->dec, "could not set up a master key");
	tde_random_bytes(w->nonces.prefix, sizeof(w->nonces.prefix));
	return true;
}

void
tde_wrapctx_free(TdeWrapCtx *w)
{
	EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *) w->enc);
	EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *) w->dec);
	w->enc = w->dec = NULL;
}

int
tde_wrapctx_wrap(TdeWrapCtx *w, const uint8 *aad, int aadlen,
				 const uint8 *in, int inlen, uint8 *out)
{
	tde_counter_nonce(&w->nonces, out);
	if (!gcm_seal((EVP_CIPHER_CTX *) w->enc, NULL, NULL, out, aad, aadlen,
				  in, inlen, out + TDE_GCM_IV_LEN, out + TDE_GCM_IV_LEN + inlen))
		crypto_error("key wrapping failed");
	return TDE_GCM_IV_LEN + inlen + TDE_GCM_TAG_LEN;
}

bool
tde_wrapctx_unwrap(TdeWrapCtx *w, const uint8 *aad, int aadlen,
				   const uint8 *in, int inlen, uint8 *out, int *outlen)
{
	int			ctlen = inlen - TDE_GCM_IV_LEN - TDE_GCM_TAG_LEN;

	if (ctlen <= 0)
		return false;
	if (!gcm_open((EVP_CIPHER_CTX *) w->dec, NULL, NULL, in, aad, aadlen,
				  in + TDE_GCM_IV_LEN, ctlen, in + TDE_GCM_IV_LEN + ctlen, out))
	{
		OPENSSL_cleanse(out, ctlen);
		return false;
	}
	*outlen = ctlen;
	return true;
}
