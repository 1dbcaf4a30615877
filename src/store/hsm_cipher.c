/*-------------------------------------------------------------------------
 *
 * hsm_cipher.c
 *	  Wrapping relation keys with a master key inside a PKCS#11 module.
 *
 * See store/hsm_cipher.h.  PKCS#11 functions used: C_EncryptInit,
 * C_Encrypt, C_DecryptInit, C_Decrypt.
 *
 * Wrapped relation keys, and how each is told apart (the first byte names
 * the mechanism, so every key records the one that wrapped it):
 *
 *	 0x01 || IV (12) || ciphertext || tag (16)	CKM_AES_GCM with the caller's
 *		associated data; the IV is the one the module left in the
 *		parameters after C_Encrypt: ours (random, from OpenSSL), or its
 *		own where it generates IVs itself (FIPS mode)
 *	 0x02 || RFC 5649 (key || SHA-256 (associated data))	AES key wrap with
 *		padding (KWP), for modules without a usable CKM_AES_GCM; KWP has no
 *		associated data, so its hash is wrapped with the key and checked
 *		on unwrap
 *	 IV (12) || ciphertext || tag (16)	written before version 1.1: GCM,
 *		no header
 *
 * A blob whose first byte looks like a header but does not authenticate is
 * tried as an old one too: an old blob's first byte is a random IV byte.
 *
 * KWP is computed here, by OpenSSL's RFC 5649 code (CRYPTO_128_wrap_pad),
 * on the AES block function of the master key in the HSM: CKM_AES_ECB,
 * one block per C_Encrypt/C_Decrypt, so the key never leaves the token and
 * no further PKCS#11 function is needed.  Modules name KWP differently
 * (SoftHSM2 offers it as CKM_AES_KEY_WRAP_PAD, 0x210A, only through
 * C_WrapKey/C_UnwrapKey on a key object; PKCS#11 2.40 defines that value
 * with PKCS#7 padding, 3.0 adds CKM_AES_KEY_WRAP_KWP, 0x210B) and p11-kit
 * 0.24's RPC forwards neither, nor GCM: of the AES mechanisms it passes
 * only CKM_AES_KEY_GEN and CKM_AES_ECB.  Where the module has no GCM
 * either, GCM blobs written elsewhere are opened the same way (OpenSSL's
 * CRYPTO_gcm128 on the HSM's block function), so keys still unwrap after
 * a change of module.
 *
 * The mechanism is chosen by what the module answers: GCM first; a
 * C_EncryptInit that answers CKR_MECHANISM_PARAM_INVALID to our IV is
 * asked again with a zeroed IV for the module to fill in (an IV still zero
 * afterwards is refused); CKR_MECHANISM_INVALID, or a GCM wrap that does
 * not unwrap again, selects KWP for the rest of the session.  Every wrap
 * is unwrapped once before it is returned: a key is never stored wrapped
 * in a way that cannot be undone.
 *
 * OpenSSL failing us (no memory for a GCM context, no SHA-256) is
 * returned as CKR_HOST_MEMORY with the OpenSSL function's name.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/modes.h>

#include "tde/crypto/cipher.h"
#include "tde/store/hsm_cipher.h"

#define GCM_IV_LEN	12
#define GCM_TAG_LEN 16

/* first byte of a wrapped key: its mechanism */
#define WRAP_HDR_GCM	0x01
#define WRAP_HDR_KWP	0x02
#define AAD_HASH_LEN	32		/* SHA-256 */
#define AES_BLOCK		16
#define KWP_MAX_IN		(TDE_WRAP_MAX_OVERHEAD + 64)

StaticAssertDecl(TDE_HSM_BLOB_MAX == KWP_MAX_IN + 8, "unwrap buffer");
StaticAssertDecl(TDE_HSM_BLOB_MIN == GCM_IV_LEN + GCM_TAG_LEN + 1, "shortest blob");

/* what the module answered for GCM in this session */
typedef enum
{
	MECH_UNKNOWN = 0,
	MECH_YES,
	MECH_NO
} MechState;

static MechState gcm_wrap = MECH_UNKNOWN;	/* GCM for wrapping */
static MechState gcm_unwrap = MECH_UNKNOWN;	/* GCM for unwrapping */
static uint64 mech_epoch = 0;	/* the session they were learnt in */

void
tde_hsm_cipher_forget(void)
{
	gcm_wrap = MECH_UNKNOWN;
	gcm_unwrap = MECH_UNKNOWN;
}

/* A new session may be a new module: ask again. */
static void
same_session(const TdeHsmSession *s)
{
	if (s->epoch != mech_epoch)
	{
		tde_hsm_cipher_forget();
		mech_epoch = s->epoch;
	}
}

bool
tde_hsm_is_mechanism_refusal(CK_RV rv)
{
	return rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID;
}

static void
gcm_params(CK_GCM_PARAMS *params, CK_MECHANISM *mech, uint8 *iv,
		   const uint8 *aad, int aadlen)
{
	memset(params, 0, sizeof(*params));
	params->pIv = iv;
	params->ulIvLen = GCM_IV_LEN;
	params->ulIvBits = GCM_IV_LEN * 8;
	params->pAAD = (CK_BYTE_PTR) aad;
	params->ulAADLen = aadlen;
	params->ulTagBits = GCM_TAG_LEN * 8;
	mech->mechanism = CKM_AES_GCM;
	mech->pParameter = params;
	mech->ulParameterLen = sizeof(*params);
}

static bool
all_zero(const uint8 *p, int len)
{
	uint8		acc = 0;

	while (len-- > 0)
		acc |= *p++;
	return acc == 0;
}

/*
 * GCM encryption in the HSM into out = IV || ciphertext || tag, with the
 * IV the module used: ours, or, where it refuses ours, its own.
 */
static CK_RV
gcm_encrypt(const TdeHsmSession *s, CK_OBJECT_HANDLE key, const uint8 *aad, int aadlen,
			const uint8 *in, int inlen, uint8 *out, int *outlen,
			const char **what)
{
	CK_GCM_PARAMS params;
	CK_MECHANISM mech;
	uint8		iv[GCM_IV_LEN];
	CK_ULONG	len = inlen + GCM_TAG_LEN;
	bool		module_iv = false;
	CK_RV		rv;

	tde_random_bytes(iv, GCM_IV_LEN);
	gcm_params(&params, &mech, iv, aad, aadlen);
	*what = "C_EncryptInit";
	rv = s->p11->C_EncryptInit(s->session, &mech, key);
	if (rv == CKR_MECHANISM_PARAM_INVALID)
	{
		/* a module that generates IVs itself: it fills the buffer in */
		memset(iv, 0, GCM_IV_LEN);
		gcm_params(&params, &mech, iv, aad, aadlen);
		module_iv = true;
		rv = s->p11->C_EncryptInit(s->session, &mech, key);
	}
	if (rv != CKR_OK)
		return rv;
	*what = "C_Encrypt";
	rv = s->p11->C_Encrypt(s->session, (CK_BYTE_PTR) in, inlen,
						out + GCM_IV_LEN, &len);
	if (rv != CKR_OK)
		return rv;
	/* the IV as the module left it in the parameters */
	memcpy(out, params.pIv != NULL ? params.pIv : iv, GCM_IV_LEN);
	/* a zero IV the module did not replace would be used again: refuse */
	if (module_iv && all_zero(out, GCM_IV_LEN))
		return CKR_MECHANISM_PARAM_INVALID;
	*outlen = GCM_IV_LEN + len;
	return CKR_OK;
}

/* The AES block function of a key in the HSM (CKM_AES_ECB), for OpenSSL. */
typedef struct HsmBlock
{
	const TdeHsmSession *s;
	CK_OBJECT_HANDLE key;
	bool		encrypt;
	CK_RV		rv;				/* the first failure; then no more calls */
	const char *what;
} HsmBlock;

static void
hsm_block(const unsigned char in[16], unsigned char out[16], const void *arg)
{
	HsmBlock   *b = (HsmBlock *) arg;
	const TdeHsmSession *s = b->s;
	CK_MECHANISM mech = {CKM_AES_ECB, NULL, 0};
	uint8		buf[AES_BLOCK];
	CK_ULONG	len = AES_BLOCK;
	CK_RV		rv;

	if (b->rv != CKR_OK)
	{
		memset(out, 0, AES_BLOCK);
		return;
	}
	memcpy(buf, in, AES_BLOCK); /* OpenSSL may pass in == out */
	if (b->encrypt)
	{
		b->what = "C_EncryptInit";
		rv = s->p11->C_EncryptInit(s->session, &mech, b->key);
		if (rv == CKR_OK)
		{
			b->what = "C_Encrypt";
			rv = s->p11->C_Encrypt(s->session, buf, AES_BLOCK, out, &len);
		}
	}
	else
	{
		b->what = "C_DecryptInit";
		rv = s->p11->C_DecryptInit(s->session, &mech, b->key);
		if (rv == CKR_OK)
		{
			b->what = "C_Decrypt";
			rv = s->p11->C_Decrypt(s->session, buf, AES_BLOCK, out, &len);
		}
	}
	if (rv == CKR_OK && len != AES_BLOCK)
		rv = CKR_DATA_LEN_RANGE;
	if (rv != CKR_OK)
	{
		b->rv = rv;
		memset(out, 0, AES_BLOCK);
	}
	explicit_bzero(buf, sizeof(buf));
}

/*
 * GCM decryption of IV || ciphertext || tag (inlen bytes) into out: in the
 * HSM, or, if it has no GCM, by OpenSSL on its block function.  *ok says
 * whether the tag was right.
 */
static CK_RV
gcm_decrypt(const TdeHsmSession *s, CK_OBJECT_HANDLE key, const uint8 *aad, int aadlen,
			const uint8 *in, int inlen, uint8 *out, int *outlen, bool *ok,
			const char **what)
{
	const uint8 *ct = in + GCM_IV_LEN;
	int			ctlen = inlen - GCM_IV_LEN - GCM_TAG_LEN;
	CK_RV		rv = CKR_MECHANISM_INVALID;

	*ok = false;
	if (gcm_unwrap != MECH_NO)
	{
		CK_GCM_PARAMS params;
		CK_MECHANISM mech;
		uint8		iv[GCM_IV_LEN];
		CK_ULONG	len = inlen - GCM_IV_LEN;

		memcpy(iv, in, GCM_IV_LEN);
		gcm_params(&params, &mech, iv, aad, aadlen);
		*what = "C_DecryptInit";
		rv = s->p11->C_DecryptInit(s->session, &mech, key);
		if (rv == CKR_OK)
		{
			gcm_unwrap = MECH_YES;
			*what = "C_Decrypt";
			rv = s->p11->C_Decrypt(s->session, (CK_BYTE_PTR) ct,
								inlen - GCM_IV_LEN, out, &len);
			if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE)
				return CKR_OK;
			if (rv == CKR_OK)
			{
				*ok = true;
				*outlen = len;
			}
			return rv;
		}
		if (!tde_hsm_is_mechanism_refusal(rv))
			return rv;
		gcm_unwrap = MECH_NO;
	}

	/* no GCM in the module: GCM on its AES block function */
	{
		HsmBlock	b = {s, key, true, CKR_OK, NULL};
		GCM128_CONTEXT *gcm = CRYPTO_gcm128_new(&b, hsm_block);
		int			res;

		if (gcm == NULL)
		{
			*what = "CRYPTO_gcm128_new";
			return CKR_HOST_MEMORY;
		}
		CRYPTO_gcm128_setiv(gcm, in, GCM_IV_LEN);
		res = CRYPTO_gcm128_aad(gcm, aad, aadlen);
		if (res == 0)
			res = CRYPTO_gcm128_decrypt(gcm, ct, out, ctlen);
		if (res == 0)
			res = CRYPTO_gcm128_finish(gcm, ct + ctlen, GCM_TAG_LEN);
		CRYPTO_gcm128_release(gcm);		/* cleansed */
		if (b.rv != CKR_OK)
		{
			explicit_bzero(out, ctlen);
			*what = b.what;
			return b.rv;
		}
		if (res != 0)
		{
			explicit_bzero(out, ctlen);
			return CKR_OK;
		}
		*ok = true;
		*outlen = ctlen;
		return CKR_OK;
	}
}

static bool
aad_hash(const uint8 *aad, int aadlen, uint8 *out, const char **what)
{
	unsigned int len = AAD_HASH_LEN;

	if (EVP_Digest(aad, aadlen, out, &len, EVP_sha256(), NULL) == 1 &&
		len == AAD_HASH_LEN)
		return true;
	*what = "EVP_Digest";
	return false;
}

/* KWP (RFC 5649) of key || SHA-256(aad) into out. */
static CK_RV
kwp_wrap(const TdeHsmSession *s, CK_OBJECT_HANDLE key, const uint8 *aad, int aadlen,
		 const uint8 *in, int inlen, uint8 *out, int *outlen, const char **what)
{
	uint8		plain[KWP_MAX_IN];
	HsmBlock	b = {s, key, true, CKR_OK, NULL};
	size_t		len;

	Assert(inlen + AAD_HASH_LEN <= KWP_MAX_IN);
	memcpy(plain, in, inlen);
	if (!aad_hash(aad, aadlen, plain + inlen, what))
	{
		explicit_bzero(plain, sizeof(plain));
		return CKR_HOST_MEMORY;
	}
	len = CRYPTO_128_wrap_pad(&b, NULL, out, plain, inlen + AAD_HASH_LEN, hsm_block);
	explicit_bzero(plain, sizeof(plain));
	if (b.rv != CKR_OK)
	{
		*what = b.what;
		return b.rv;
	}
	if (len == 0)
	{
		*what = "RFC 5649 key wrap";
		return CKR_DATA_INVALID;
	}
	*outlen = (int) len;
	return CKR_OK;
}

static CK_RV
kwp_unwrap(const TdeHsmSession *s, CK_OBJECT_HANDLE key, const uint8 *aad, int aadlen,
		   const uint8 *in, int inlen, uint8 *out, int *outlen, bool *ok,
		   const char **what)
{
	uint8		plain[KWP_MAX_IN + 8];
	uint8		hash[AAD_HASH_LEN];
	HsmBlock	b = {s, key, false, CKR_OK, NULL};
	size_t		len;

	*ok = false;
	if (inlen < 16 || inlen % 8 != 0 || inlen - 8 > (int) sizeof(plain))
		return CKR_OK;
	len = CRYPTO_128_unwrap_pad(&b, NULL, plain, in, inlen, hsm_block);
	if (b.rv != CKR_OK)
	{
		explicit_bzero(plain, sizeof(plain));
		*what = b.what;
		return b.rv;
	}
	if (!aad_hash(aad, aadlen, hash, what))
	{
		explicit_bzero(plain, sizeof(plain));
		return CKR_HOST_MEMORY;
	}
	if (len > AAD_HASH_LEN &&
		CRYPTO_memcmp(plain + len - AAD_HASH_LEN, hash, AAD_HASH_LEN) == 0)
	{
		memcpy(out, plain, len - AAD_HASH_LEN);
		*outlen = (int) len - AAD_HASH_LEN;
		*ok = true;
	}
	explicit_bzero(plain, sizeof(plain));
	return CKR_OK;
}

/* Unwrap one blob in any format (store/hsm_cipher.h). */
CK_RV
tde_hsm_cipher_unwrap(const TdeHsmSession *s, CK_OBJECT_HANDLE key,
					  const uint8 *aad, int aadlen,
					  const uint8 *in, int inlen,
					  uint8 *out, int *outlen, bool *ok,
					  const char **what)
{
	CK_RV		rv;

	same_session(s);
	*ok = false;
	if (inlen > 1 + GCM_IV_LEN + GCM_TAG_LEN && in[0] == WRAP_HDR_GCM)
	{
		rv = gcm_decrypt(s, key, aad, aadlen, in + 1, inlen - 1, out, outlen, ok, what);
		if (rv != CKR_OK || *ok)
			return rv;
	}
	else if (inlen > 1 && in[0] == WRAP_HDR_KWP)
	{
		rv = kwp_unwrap(s, key, aad, aadlen, in + 1, inlen - 1, out, outlen, ok, what);
		if (rv != CKR_OK || *ok)
			return rv;
	}
	/* written before 1.1: IV || ciphertext || tag, no header */
	if (inlen > GCM_IV_LEN + GCM_TAG_LEN)
		return gcm_decrypt(s, key, aad, aadlen, in, inlen, out, outlen, ok, what);
	return CKR_OK;
}

/*
 * Wrap with the module's best mechanism; the result unwraps, or this
 * returns a failure.
 */
CK_RV
tde_hsm_cipher_wrap(const TdeHsmSession *s, CK_OBJECT_HANDLE key,
					const uint8 *aad, int aadlen,
					const uint8 *in, int inlen,
					uint8 *out, int *outlen,
					const char **what, bool *gcm_abandoned)
{
	uint8		check[TDE_WRAP_MAX_OVERHEAD + 64];
	int			checklen = 0;
	int			len = 0;
	bool		ok;
	CK_RV		rv;

	Assert(inlen <= 64);
	same_session(s);
	if (gcm_wrap != MECH_NO)
	{
		out[0] = WRAP_HDR_GCM;
		rv = gcm_encrypt(s, key, aad, aadlen, in, inlen, out + 1, &len, what);
		if (rv == CKR_OK)
		{
			rv = tde_hsm_cipher_unwrap(s, key, aad, aadlen, out, 1 + len, check, &checklen, &ok, what);
			ok = ok && checklen == inlen && CRYPTO_memcmp(check, in, inlen) == 0;
			explicit_bzero(check, sizeof(check));
			if (rv != CKR_OK)
				return rv;
			if (ok)
			{
				gcm_wrap = MECH_YES;
				*outlen = 1 + len;
				return CKR_OK;
			}
			/* an IV the module used but did not return: not GCM, then */
			*gcm_abandoned = true;
		}
		else if (!tde_hsm_is_mechanism_refusal(rv))
			return rv;
		gcm_wrap = MECH_NO;
	}

	out[0] = WRAP_HDR_KWP;
	rv = kwp_wrap(s, key, aad, aadlen, in, inlen, out + 1, &len, what);
	if (rv != CKR_OK)
		return rv;
	rv = tde_hsm_cipher_unwrap(s, key, aad, aadlen, out, 1 + len, check, &checklen, &ok, what);
	ok = ok && checklen == inlen && CRYPTO_memcmp(check, in, inlen) == 0;
	explicit_bzero(check, sizeof(check));
	if (rv != CKR_OK)
		return rv;
	if (!ok)
	{
		*what = "RFC 5649 key wrap";
		return CKR_DATA_INVALID;
	}
	*outlen = 1 + len;
	return CKR_OK;
}

