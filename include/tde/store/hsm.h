/*-------------------------------------------------------------------------
 *
 * hsm.h
 *	  A PKCS#11 hardware security module as a master-key store.
 *
 * hsm.c knows PKCS#11 and nothing of wallets or SQL.  It loads the
 * vendor's module itself (dlopen + C_GetFunctionList) and uses only the
 * functions a key-vault root of trust must provide (DESIGN §4).  Master
 * keys are AES-256 token objects, sensitive and not extractable, named by
 * CKA_ID = MKID; relation keys are wrapped with the key in the HSM, by
 * AES-GCM or, where the module has none, AES key wrap (RFC 5649); each
 * wrapped key records its mechanism (see hsm.c).
 *
 * PKCS#11 state is per process and never set up in the postmaster: each
 * backend initialises the module and logs in on first use with the
 * credential the keystore layer hands it, and does so again if the process
 * changed (fork) or the credential changed.  A dead session is rebuilt
 * once; then the call fails cleanly.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_HSM_H
#define TDE_HSM_H

#include "tde/util/keyid.h"

/*
 * The module, the token and C_Initialize's argument: the GUCs
 * tde.pkcs11_library, tde.pkcs11_token_label and tde.pkcs11_init_args,
 * registered on these variables by guc.c and read here only.
 */
extern char *tde_pkcs11_library;
extern char *tde_pkcs11_token_label;
extern char *tde_pkcs11_init_args;

/* the longest credential ("pin" or "user:pin"), with its terminator */
#define TDE_HSM_CREDENTIAL_MAX 256

/* Log in with a credential ("pin" or "user:pin"); errors are clear. */
extern void tde_hsm_login(const char *credential, uint64 credential_generation);
extern void tde_hsm_reset(void);

/*
 * Forget this process's object handles and mechanism choices (the session
 * stays).  Aborts do it by themselves; call it on DROP EXTENSION tde.
 */
extern void tde_hsm_forget_handles(void);

extern void tde_hsm_generate_key(const uint8 *mkid);
extern bool tde_hsm_has_key(const uint8 *mkid);
extern int	tde_hsm_wrap(const uint8 *mkid, const uint8 *aad, int aadlen,
						 const uint8 *in, int inlen, uint8 *out);
extern bool tde_hsm_unwrap(const uint8 *mkid, const uint8 *aad, int aadlen,
						   const uint8 *in, int inlen, uint8 *out, int *outlen);

#endif							/* TDE_HSM_H */
