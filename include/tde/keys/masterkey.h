/*-------------------------------------------------------------------------
 *
 * masterkey.h
 *	  Master encryption keys (MEKs): the lifecycle (SET KEY, CREATE KEY,
 *	  USE KEY, SET TAG, migration).
 *
 * The record and its format are keystore/keyrecord.h; the lookups in the
 * open keystores, and wrapping under a key, keystore/keyset.h; the
 * identifiers util/keyid.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYS_MASTERKEY_H
#define TDE_KEYS_MASTERKEY_H

#include "tde/keystore/keyrecord.h"

/* Lifecycle: SET KEY, CREATE KEY, USE KEY, SET TAG */
typedef struct TdeKeyRequest
{
	bool		activate;		/* SET (true) or CREATE (false) */
	const char *user_key;		/* 'mkid:mk' or 'mk', secure memory */
	const char *tag;
	const char *algorithm;
	bool		force_keystore;
	const void *cred;			/* const TdeCredential * */
	bool		with_backup;
	const char *backup_id;
} TdeKeyRequest;

/* Key changes are made on the primary; a standby gets them by copying the wallet. */
extern void tde_require_primary_server(void);
extern char *tde_masterkey_add(const TdeKeyRequest *req);
extern void tde_masterkey_use(const char *key_id, const TdeKeyRequest *req);
extern void tde_masterkey_set_tag(const char *key_id, const TdeKeyRequest *req);
extern char *tde_masterkey_migrate(const TdeKeyRequest *req, const char *wallet_password);
extern char *tde_masterkey_reverse_migrate(const TdeKeyRequest *req,
										   const char *hsm_credential);

#endif							/* TDE_KEYS_MASTERKEY_H */
