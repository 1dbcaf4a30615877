/*-------------------------------------------------------------------------
 *
 * keystore.h
 *	  The keystores in use: the one place tde.keystore_configuration is
 *	  turned into a primary and an optional secondary keystore kind
 *	  (keystore/ops.h), and the operations above them.  See
 *	  keystore/keystore.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_KEYSTORE_H
#define TDE_KEYSTORE_KEYSTORE_H

#include "tde/keystore/config.h"
#include "tde/keystore/file_keystore.h"
#include "tde/keystore/keyrecord.h"
#include "tde/keystore/ops.h"
#include "tde/keystore/seps.h"
#include "tde/keystore/state.h"

/* The configured keystores; the secondary is NULL for FILE and HSM */
extern const TdeKeystoreOps *tde_keystore_primary(void);
extern const TdeKeystoreOps *tde_keystore_secondary(void);
extern void tde_keystore_require_order(const TdeKeystoreOps *primary,
									   const TdeKeystoreOps *secondary,
									   const char *value, const char *statement);

extern bool tde_keystore_is_open(void);
extern void tde_keystore_open(const TdeCredential *cred, bool force);
extern void tde_keystore_close(const TdeCredential *cred);
extern bool tde_keystore_autoopen(int elevel);
extern void tde_require_keystore_open(void);
extern int	tde_keystore_get_status(TdeWalletStatus *rows);

/* A change of the primary keystore's keys */
extern void tde_keystore_change(const TdeChangeRequest *req,
								TdeWalletChange change, void *arg);

/* Operations of the file keystore that an HSM has not */
extern void tde_keystore_require_file_primary(const char *operation,
											  const char *instead);
extern void tde_keystore_alter_password(const char *old_password,
										const char *new_password,
										bool with_backup,
										const char *backup_id, bool force);
extern char *tde_keystore_backup(const TdeCredential *cred,
								 const char *backup_id,
								 const char *location, bool force);

/* The open master keys, wherever they live */
extern const TdeKeystoreOps *tde_keystore_kind_of(const TdeMasterKey *mk);
extern bool tde_masterkey_find(const uint8 *mkid, TdeMasterKey *out);
extern bool tde_masterkey_active(TdeMasterKey *out);
extern int	tde_mk_wrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
						const uint8 *in, int inlen, uint8 *out);
extern bool tde_mk_unwrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
						  const uint8 *in, int inlen, uint8 *out, int *outlen);

/* A master key held for one statement's many wraps (keystore.c) */
typedef struct TdeMkCipher
{
	TdeMasterKey *mk;			/* secure copy */
	bool		keyed;			/* ctx is set up: a software GCM key */
	TdeWrapCtx	ctx;
} TdeMkCipher;

extern TdeMkCipher *tde_mk_cipher_open(const uint8 *mkid);
extern void tde_mk_cipher_close(TdeMkCipher *c);
extern int	tde_mk_cipher_wrap(TdeMkCipher *c, const uint8 *aad, int aadlen,
							   const uint8 *in, int inlen, uint8 *out);
extern bool tde_mk_cipher_unwrap(TdeMkCipher *c, const uint8 *aad, int aadlen,
								 const uint8 *in, int inlen, uint8 *out,
								 int *outlen);

typedef void (*TdeKeystoreOpenedHook) (Oid exclude_db);
extern void tde_keystore_set_opened_hook(TdeKeystoreOpenedHook hook);

#endif							/* TDE_KEYSTORE_KEYSTORE_H */
