/*-------------------------------------------------------------------------
 *
 * hsm_cipher.h
 *	  Wrapping relation keys with a master key inside a PKCS#11 module.
 *
 * The formats of an HSM-wrapped key and the choice of mechanism, for
 * store/hsm.c: AES-GCM in the module, or AES key wrap with padding
 * (RFC 5649) and GCM computed by OpenSSL on the module's AES block
 * function (CKM_AES_ECB), so the key never leaves the token.  These
 * functions return the failing call's CK_RV and name; store/hsm.c handles
 * object handles, retries and results.  What the module answered about
 * GCM is kept for the session's epoch.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_HSM_CIPHER_H
#define TDE_HSM_CIPHER_H

#include "tde/crypto/cipher.h"
#include "tde/store/hsm_session.h"

/* The lengths of a blob worth unwrapping (IV and tag, up to a 64-byte key) */
#define TDE_HSM_BLOB_MIN	(12 + 16 + 1)
#define TDE_HSM_BLOB_MAX	(TDE_WRAP_MAX_OVERHEAD + 64 + 8)

/* Forget what the module answered about GCM (DROP EXTENSION). */
extern void tde_hsm_cipher_forget(void);

/* The module does not do this mechanism, or not with these parameters. */
extern bool tde_hsm_is_mechanism_refusal(CK_RV rv);

/*
 * Wrap in (at most 64 bytes) into out (room for inlen +
 * TDE_WRAP_MAX_OVERHEAD) with the module's best mechanism; the result is
 * unwrapped once before it is returned.  *gcm_abandoned is set when the
 * module's GCM output did not decrypt and KWP is used from now on.
 */
extern CK_RV tde_hsm_cipher_wrap(const TdeHsmSession *s, CK_OBJECT_HANDLE key,
								 const uint8 *aad, int aadlen,
								 const uint8 *in, int inlen,
								 uint8 *out, int *outlen,
								 const char **what, bool *gcm_abandoned);

/*
 * Unwrap a blob of any format into out (room for TDE_HSM_BLOB_MAX bytes);
 * *ok false if it does not authenticate.  Returns the first PKCS#11
 * failure.
 */
extern CK_RV tde_hsm_cipher_unwrap(const TdeHsmSession *s, CK_OBJECT_HANDLE key,
								   const uint8 *aad, int aadlen,
								   const uint8 *in, int inlen,
								   uint8 *out, int *outlen, bool *ok,
								   const char **what);

#endif							/* TDE_HSM_CIPHER_H */
