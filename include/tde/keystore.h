/*-------------------------------------------------------------------------
 *
 * keystore.h
 *	  The keystore: which wallet is open, and the operations on it.
 *
 * keystore.c chooses between the password wallet (ewallet.p12), the
 * auto-login wallet (cwallet.sso) and the external password store, keeps
 * the instance-wide status in shared memory, and serializes every change.
 * It knows nothing of SQL: the SQL entry points unpack arguments, check
 * privileges and call in here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_H
#define TDE_KEYSTORE_H

#include "tde/tde.h"

/* Oracle's IDENTIFIED BY { password | EXTERNAL STORE } */
typedef struct TdeCredential
{
	bool		external_store;
	const char *password;		/* secure memory; NULL with external_store */
} TdeCredential;

/* One row of v$encryption_wallet. */
typedef struct TdeWalletStatus
{
	const char *wrl_type;
	char	   *wrl_parameter;	/* NULL when tde.wallet_root is not set */
	const char *status;
	const char *wallet_type;
	const char *wallet_order;
	const char *keystore_mode;
	const char *fully_backed_up;
	int			con_id;
} TdeWalletStatus;

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
extern void tde_require_keystore_open(void);

struct TdeWallet;
typedef void (*TdeWalletChange) (struct TdeWallet *w, void *arg);
extern void tde_keystore_change(const TdeCredential *cred, bool force,
								bool with_backup, const char *backup_id,
								TdeWalletChange change, void *arg);
extern void tde_keystore_get_status(TdeWalletStatus *row);

/* seps.c: the external password store, <wallet_root>/tde_seps/cwallet.sso */
typedef enum TdeSecretOp
{
	TDE_SECRET_ADD,
	TDE_SECRET_UPDATE,
	TDE_SECRET_DELETE
} TdeSecretOp;

#define TDE_CLIENT_TDE_WALLET	"TDE_WALLET"
#define TDE_CLIENT_HSM_PASSWORD "HSM_PASSWORD"

extern void tde_seps_change(TdeSecretOp op, const char *location,
							const char *client, const char *secret,
							bool local);
extern char *tde_seps_get(const char *client);
extern const char *tde_credential_password(const TdeCredential *cred,
										   const char *client);

/* paths, palloc'd; they fail clearly if tde.wallet_root is not set */
extern char *tde_wallet_dir(void);
extern char *tde_seps_dir(void);
extern char *tde_join_path(const char *dir, const char *file);
extern char *tde_canonical_location(const char *location, const char *what);
extern void tde_check_password(const char *password, const char *what);

#endif							/* TDE_KEYSTORE_H */
