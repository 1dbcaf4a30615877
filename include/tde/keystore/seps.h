/*-------------------------------------------------------------------------
 *
 * seps.h
 *	  Credentials: IDENTIFIED BY { password | EXTERNAL STORE }, and the
 *	  external password store, <wallet_root>/tde_seps/cwallet.sso.
 *
 * The store is a wallet (store/wallet) under the wallet root, changed
 * under the keystore lock (keystore/config.h), so it is a keystore-layer
 * unit, not a store format of its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_SEPS_H
#define TDE_KEYSTORE_SEPS_H

/* Oracle's IDENTIFIED BY { password | EXTERNAL STORE } */
typedef struct TdeCredential
{
	bool		external_store;
	const char *password;		/* secure memory; NULL with external_store */
} TdeCredential;

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

/* the clients of the external store, by name */
extern int	tde_seps_clients(char **out, int max);

#endif							/* TDE_KEYSTORE_SEPS_H */
