/*-------------------------------------------------------------------------
 *
 * hsm.h
 *	  A PKCS#11 hardware security module as a master-key store: its keys.
 *
 * hsm.c knows PKCS#11 and nothing of wallets or SQL.  It uses only the
 * functions a key-vault root of trust must provide (DESIGN §4).  Master
 * keys are AES-256 token objects, sensitive and not extractable, named by
 * CKA_ID = MKID; relation keys are wrapped with the key in the HSM, by
 * AES-GCM or, where the module has none, AES key wrap (RFC 5649); each
 * wrapped key records its mechanism (store/hsm_cipher.c).  The module and
 * the logged-in session are store/hsm_session's.
 *
 * Every function returns a TdeHsmResult with a TdeHsmError filled in; a
 * dead session is rebuilt once, then the call fails with
 * TDE_HSM_UNAVAILABLE.  keystore/report.c turns results into errors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_HSM_H
#define TDE_HSM_H

#include "tde/store/hsm_session.h"
#include "tde/util/keyid.h"

/*
 * Forget this process's object handles and mechanism choices (the session
 * stays).  Aborts do it by themselves; call it on DROP EXTENSION tde.
 */
extern void tde_hsm_forget_handles(void);

extern TdeHsmResult tde_hsm_generate_key(const uint8 *mkid, TdeHsmError *err);
extern TdeHsmResult tde_hsm_has_key(const uint8 *mkid, bool *found,
									TdeHsmError *err);
/* out has room for inlen + TDE_WRAP_MAX_OVERHEAD bytes */
extern TdeHsmResult tde_hsm_wrap(const uint8 *mkid, const uint8 *aad, int aadlen,
								 const uint8 *in, int inlen, uint8 *out,
								 int *outlen, TdeHsmError *err);
extern TdeHsmResult tde_hsm_unwrap(const uint8 *mkid, const uint8 *aad, int aadlen,
								   const uint8 *in, int inlen, uint8 *out,
								   int *outlen, TdeHsmError *err);

#endif							/* TDE_HSM_H */
