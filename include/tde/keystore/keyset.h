/*-------------------------------------------------------------------------
 *
 * keyset.h
 *	  The temporary keys of an operation under FORCE KEYSTORE.
 *
 * FORCE KEYSTORE on a closed keystore reads the wallet for this one
 * operation (Oracle "temporarily opens" it): its keys are kept here, in
 * the transaction's secure memory, and lookups (keystore/keystore.c) go
 * to them before the open keystores in shared memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_KEYSET_H
#define TDE_KEYSTORE_KEYSET_H

#include "tde/keystore/keyrecord.h"

extern void tde_masterkey_push_temporary(const TdeWallet *w);
extern void tde_masterkey_pop_temporary(void);

/* Lookups in the temporary keys: whether there are any, and the key */
extern bool tde_temp_keys_present(void);
extern bool tde_temp_key_find(const uint8 *mkid, TdeMasterKey *out);
extern bool tde_temp_key_active(TdeMasterKey *out);

#endif							/* TDE_KEYSTORE_KEYSET_H */
