/*-------------------------------------------------------------------------
 *
 * cipher.h
 *	  Symmetric cryptography for tde, on OpenSSL.
 *
 * Wrapping a relation key under a master key uses the master key's
 * algorithm: AES-256-GCM (AES256), ARIA-256-GCM (ARIA256), or SEED-128-CBC
 * with HMAC-SHA-256, encrypt-then-MAC (SEED128, from OpenSSL's legacy
 * provider).  Data is always AES-256-GCM under the relation key.
 *
 * The context that wraps under master keys is reused within an operation
 * and freed, cleansing its key schedule, whenever a resource owner is
 * released (end of portal, subtransaction, transaction; commit or abort);
 * a TdeGcmKey lives as long as its owner's cache.  Every buffer that held a
 * key is cleansed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_CRYPTO_H
#define TDE_CRYPTO_H

/* Master-key algorithms (Oracle's names: tde_algorithm_name) */
typedef enum TdeAlgorithm
{
	TDE_ALG_AES256,
	TDE_ALG_ARIA256,
	TDE_ALG_SEED128,
	TDE_ALG_GOST256
} TdeAlgorithm;

#define TDE_GCM_IV_LEN		12
#define TDE_GCM_TAG_LEN		16
#define TDE_WRAP_MAX_OVERHEAD 64

extern void tde_random_bytes(void *buf, int len);
extern bool tde_algorithm_available(TdeAlgorithm alg);
extern int	tde_key_length(TdeAlgorithm alg);
extern const char *tde_algorithm_name(TdeAlgorithm alg);
extern bool tde_algorithm_from_name(const char *name, TdeAlgorithm *alg);

/*
 * Wrapping under a master key given as its algorithm and key bytes; out
 * must hold inlen + TDE_WRAP_MAX_OVERHEAD bytes.
 */
extern int	tde_wrap(TdeAlgorithm alg, const uint8 *key, int keylen,
					 const uint8 *aad, int aadlen, const uint8 *in, int inlen,
					 uint8 *out);
extern bool tde_unwrap(TdeAlgorithm alg, const uint8 *key, int keylen,
					   const uint8 *aad, int aadlen, const uint8 *in, int inlen,
					   uint8 *out, int *outlen);

/*
 * AES-256-GCM under one key, with the key schedule set up once: the
 * contexts of a cached relation key.  Freeing them cleanses them.
 */
typedef struct TdeGcmKey
{
	void	   *enc;			/* EVP_CIPHER_CTX * */
	void	   *dec;			/* EVP_CIPHER_CTX * */
} TdeGcmKey;

/* 96-bit nonces: a random 64-bit prefix and a 32-bit counter */
typedef struct TdeNonceCounter
{
	uint8		prefix[8];
	uint32		counter;
} TdeNonceCounter;

extern void tde_counter_nonce(TdeNonceCounter *n, uint8 *nonce);

extern void tde_gcm_key_init(TdeGcmKey *k, const uint8 *key);
extern void tde_gcm_key_free(TdeGcmKey *k);
extern void tde_gcm_seal(TdeGcmKey *k, const uint8 *iv, const uint8 *aad,
						 int aadlen, const uint8 *in, int inlen, uint8 *out,
						 uint8 *tag);
extern bool tde_gcm_open(TdeGcmKey *k, const uint8 *iv, const uint8 *aad,
						 int aadlen, const uint8 *in, int inlen,
						 const uint8 *tag, uint8 *out);

/*
 * One master key set up for many wraps and unwraps (a re-wrap statement):
 * GCM algorithms only (tde_wrapctx_init returns false for the others: use
 * tde_wrap).  Same output as tde_wrap; freeing cleanses it.
 */
typedef struct TdeWrapCtx
{
	void	   *enc;			/* EVP_CIPHER_CTX * */
	void	   *dec;			/* EVP_CIPHER_CTX * */
	TdeNonceCounter nonces;
} TdeWrapCtx;

extern bool tde_wrapctx_init(TdeWrapCtx *w, TdeAlgorithm alg,
							 const uint8 *key, int keylen);
extern void tde_wrapctx_free(TdeWrapCtx *w);
extern int	tde_wrapctx_wrap(TdeWrapCtx *w, const uint8 *aad, int aadlen,
							 const uint8 *in, int inlen, uint8 *out);
extern bool tde_wrapctx_unwrap(TdeWrapCtx *w, const uint8 *aad, int aadlen,
							   const uint8 *in, int inlen, uint8 *out,
							   int *outlen);

#endif							/* TDE_CRYPTO_H */
