/*-------------------------------------------------------------------------
 *
 * hsm_keystore.h
 *	  The HSM as a keystore: open, close, status, and changes to its keys
 *	  (see hsm_keystore.c).  The PKCS#11 device itself is store/hsm.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_HSM_KEYSTORE_H
#define TDE_KEYSTORE_HSM_KEYSTORE_H

#include "tde/keystore/keyrecord.h"
#include "tde/keystore/ops.h"
#include "tde/keystore/seps.h"
#include "tde/keystore/state.h"

extern void tde_hsm_keystore_open(const char *credential, bool force);
extern void tde_hsm_keystore_open_secondary(const char *wallet_password);
extern bool tde_hsm_keystore_autoopen(int elevel);
extern void tde_hsm_keystore_close(void);
extern bool tde_hsm_keystore_is_open(void);
extern bool tde_hsm_keystore_credential_matches(const char *credential);
extern void tde_hsm_keystore_session(void);
extern void tde_hsm_keystore_status(TdeWalletStatus *row, bool primary);
extern void tde_hsm_keystore_change(const TdeCredential *cred, bool force,
									bool with_backup, TdeWalletChange change,
									void *arg);

/* the HSM as a keystore kind */
extern const TdeKeystoreOps tde_hsm_keystore_ops;

#endif							/* TDE_KEYSTORE_HSM_KEYSTORE_H */
