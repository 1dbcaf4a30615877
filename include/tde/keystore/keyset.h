/*-------------------------------------------------------------------------
 *
 * keyset.h
 *	  Lookups of master keys in the open keystores, the temporary keys of
 *	  an operation under FORCE KEYSTORE, and wrapping under a master key.
 *
 * Lookups go first to the keys of a wallet read for this one operation
 * (FORCE KEYSTORE on a closed keystore: Oracle "temporarily opens" it),
 * then to the open keystores in shared memory, primary first, then
 * secondary: a copy of the key under state_lock (shared), per call.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_KEYSET_H
#define TDE_KEYSTORE_KEYSET_H

#include "tde/keystore/keyrecord.h"

extern bool tde_masterkey_find(const uint8 *mkid, TdeMasterKey *out);
extern bool tde_masterkey_active(TdeMasterKey *out);
extern void tde_masterkey_push_temporary(const TdeWallet *w);
extern void tde_masterkey_pop_temporary(void);

/* Wrapping under a master key, wherever it lives (crypto/cipher or store/hsm) */
extern int	tde_mk_wrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
						const uint8 *in, int inlen, uint8 *out);
extern bool tde_mk_unwrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
						  const uint8 *in, int inlen, uint8 *out, int *outlen);

#endif							/* TDE_KEYSTORE_KEYSET_H */
