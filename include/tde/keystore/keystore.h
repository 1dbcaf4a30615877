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

/* tde.keystore_configuration (Oracle's TDE_CONFIGURATION) */
typedef enum TdeConfig
{
	TDE_CONFIG_FILE,
	TDE_CONFIG_HSM,
	TDE_CONFIG_HSM_FILE,		/* HSM primary, wallet secondary */
	TDE_CONFIG_FILE_HSM			/* wallet primary, HSM secondary */
} TdeConfig;

extern TdeConfig tde_config(void);
extern bool tde_config_primary_hsm(void);
extern bool tde_keystore_is_open(void);
extern void tde_reject_for_hsm(const char *operation, const char *instead);

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
extern int	tde_keystore_get_status(TdeWalletStatus *rows);
extern void tde_require_keystore_open(void);

struct TdeWallet;
typedef void (*TdeWalletChange) (struct TdeWallet *w, void *arg);
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

/* keystore_hsm.c: the HSM as a keystore */
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
extern char *tde_seps_get_optional(const char *client);
extern const char *tde_credential_password(const TdeCredential *cred,
										   const char *client);

/* paths, palloc'd; they fail clearly if tde.wallet_root is not set */
extern int	tde_keystore_lock(const char *dir, bool create, const char *missing_file);
extern void tde_keystore_unlock(int fd);
extern char *tde_wallet_dir(void);
extern char *tde_seps_dir(void);
extern char *tde_join_path(const char *dir, const char *file);
extern char *tde_canonical_location(const char *location, const char *what);
extern void tde_check_password(const char *password, const char *what);

#endif							/* TDE_KEYSTORE_H */
