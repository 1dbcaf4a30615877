/*-------------------------------------------------------------------------
 *
 * file_keystore.h
 *	  The file keystore: the PKCS#12 password wallet and its auto-login
 *	  copies under <tde.wallet_root>/tde.  See keystore/file_keystore.c.
 *
 * Open, close, auto-open, changes and status go through its entry in the
 * table of keystore kinds, tde_file_keystore_ops (keystore/ops.h); the
 * operations below exist for the file keystore only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_FILE_KEYSTORE_H
#define TDE_KEYSTORE_FILE_KEYSTORE_H

#include "tde/keystore/config.h"
#include "tde/keystore/keyrecord.h"
#include "tde/keystore/ops.h"
#include "tde/keystore/seps.h"
#include "tde/keystore/state.h"
#include "tde/util/fileio.h"

extern const TdeKeystoreOps tde_file_keystore_ops;

extern void tde_keystore_create(const char *location, const char *password);
extern TdeWallet *tde_keystore_new_wallet(void);
extern void tde_keystore_create_autologin(const char *location,
										  const char *password, bool local);
extern void tde_file_keystore_alter_password(const char *old_password,
											 const char *new_password,
											 bool with_backup,
											 const char *backup_id, bool force);
extern char *tde_file_keystore_backup(const TdeCredential *cred,
									  const char *backup_id,
									  const char *location, bool force);
extern TdeOpenKind tde_keystore_open_kind(void);
extern int	tde_file_keystore_keys(const TdeCredential *cred, bool force,
								   TdeMasterKey *keys);

#endif							/* TDE_KEYSTORE_FILE_KEYSTORE_H */
