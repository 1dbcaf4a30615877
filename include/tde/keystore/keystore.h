/*-------------------------------------------------------------------------
 *
 * keystore.h
 *	  The keystore: which wallet is open, and the operations on it.
 *
 * keystore.c chooses between the password wallet (ewallet.p12), the
 * auto-login wallet (cwallet.sso), the external password store and the
 * HSM (keystore/hsm_keystore), and serializes every change.  It knows
 * nothing of SQL: the SQL entry points unpack arguments, check privileges
 * and call in here.
 *
 * This header also brings in the keystore layer's vocabulary that its
 * callers need: the configuration (keystore/config.h), the shared state
 * (keystore/state.h), credentials (keystore/seps.h) and key records
 * (keystore/keyrecord.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_KEYSTORE_H
#define TDE_KEYSTORE_KEYSTORE_H

#include "tde/keystore/config.h"
#include "tde/keystore/keyrecord.h"
#include "tde/keystore/seps.h"
#include "tde/keystore/state.h"

extern bool tde_keystore_is_open(void);

extern void tde_keystore_create(const char *location, const char *password);
extern void tde_keystore_create_autologin(const char *location,
										  const char *password, bool local);
extern void tde_keystore_open(const TdeCredential *cred, bool force);
extern void tde_keystore_close(const TdeCredential *cred);
extern void tde_keystore_alter_password(const char *old_password,
										const char *new_password,
										bool with_backup,
										const char *backup_id, bool force);
extern char *tde_keystore_backup(const TdeCredential *cred,
								 const char *backup_id,
								 const char *location, bool force);
extern bool tde_keystore_autoopen(int elevel);
extern TdeOpenKind tde_keystore_open_kind(void);
extern int	tde_keystore_get_status(TdeWalletStatus *rows);
extern void tde_require_keystore_open(void);

extern void tde_keystore_change(const TdeCredential *cred, bool force,
								bool with_backup, const char *backup_id,
								TdeWalletChange change, void *arg);
extern void tde_keystore_change_ext(const TdeCredential *cred, bool force,
									bool with_backup, bool backup_required,
									const char *backup_id,
									TdeWalletChange change, void *arg);

extern void tde_keystore_open_secondary_wallet(const TdeCredential *cred,
											   bool with_backup,
											   const char *backup_id);

/*
 * Run after a keystore opened (open, auto-open) with its keys: the keys
 * layer re-wraps what a crash or a closed keystore left undone.  Set once
 * at start-up (tde.c): the keystore layer calls up only through it.
 */
typedef void (*TdeKeystoreOpenedHook) (Oid exclude_db);
extern void tde_keystore_set_opened_hook(TdeKeystoreOpenedHook hook);

#endif							/* TDE_KEYSTORE_KEYSTORE_H */
