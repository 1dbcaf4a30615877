/*-------------------------------------------------------------------------
 *
 * masterkey.h
 *	  Master encryption keys (MEKs): records, identifiers, lifecycle.
 *
 * A master key is named by its 16-byte MKID; its KEY_ID, as Oracle shows
 * it, is base64(0x01 || MKID || 22 zero bytes): 52 characters.  Each key is
 * one wallet entry "TDE.MK.<hex mkid>"; the active key's MKID is the entry
 * "TDE.ACTIVE".  While the keystore is open every key is also in shared
 * memory (tde_shared->keys) with its metadata, so that v$encryption_keys
 * and unwrapping need no password.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_MASTERKEY_H
#define TDE_MASTERKEY_H

#include "datatype/timestamp.h"

#include "tde/crypto/cipher.h"
#include "tde/util/keyid.h"

#define TDE_MAX_KEY_LEN		32
#define TDE_TAG_MAX			256 /* bytes, with the terminator */
#define TDE_META_NAME_MAX	64
#define TDE_MAX_MASTER_KEYS 512

/* Where a key was created or activated (Oracle's CREATOR_* / ACTIVATING_*) */
typedef struct TdeKeyPlace
{
	char		dbname[TDE_META_NAME_MAX];	/* cluster_name, or "postgres" */
	uint64		dbid;			/* the cluster's system identifier */
	char		instance_name[TDE_META_NAME_MAX];
	int32		instance_number;
	char		pdbname[TDE_META_NAME_MAX]; /* the PostgreSQL database */
	Oid			pdbid;
} TdeKeyPlace;

typedef struct TdeMasterKey
{
	uint8		mkid[TDE_MKID_LEN];
	uint8		key[TDE_MAX_KEY_LEN];
	int32		keylen;
	TdeAlgorithm algorithm;
	char		tag[TDE_TAG_MAX];
	TimestampTz created;
	TimestampTz activated;		/* 0: never activated */
	char		creator[TDE_META_NAME_MAX];
	Oid			creator_id;
	char		user[TDE_META_NAME_MAX];	/* who last activated it */
	Oid			user_id;
	char		origin[16];		/* LOCAL, IMPORTED */
	bool		backed_up;
	bool		in_hsm;			/* a token object: key[] is not used */
	TdeKeyPlace created_at;
	TdeKeyPlace activated_at;
} TdeMasterKey;


/* Wallet <-> records (the wallet type is opaque here) */
struct TdeWallet;
extern int	tde_masterkeys_from_wallet(const struct TdeWallet *w, TdeMasterKey *keys,
									   int maxkeys, int *active);
extern void tde_masterkey_store(struct TdeWallet *w, const TdeMasterKey *mk);
extern void tde_masterkey_copy_metadata(TdeMasterKey *dst, const TdeMasterKey *src);
extern bool tde_masterkeys_mark_backed_up(struct TdeWallet *w);

/* The shared key sets (tde.h): read from a wallet, then installed under state_lock */
struct TdeKeySet;
extern struct TdeKeySet *tde_keyset_read(const struct TdeWallet *w, bool in_hsm);
extern void tde_keyset_install(struct TdeKeySet *dst, const struct TdeKeySet *src);

/* Wrapping under a master key, wherever it lives (crypto.c or the HSM) */
extern int	tde_mk_wrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
						const uint8 *in, int inlen, uint8 *out);
extern bool tde_mk_unwrap(const TdeMasterKey *mk, const uint8 *aad, int aadlen,
						  const uint8 *in, int inlen, uint8 *out, int *outlen);

/*
 * Lookups in the open keystores, primary first, then secondary: a copy of
 * the key under state_lock (shared), per call.
 */
extern bool tde_masterkey_find(const uint8 *mkid, TdeMasterKey *out);
extern bool tde_masterkey_active(TdeMasterKey *out);
extern void tde_masterkey_push_temporary(const struct TdeWallet *w);
extern void tde_masterkey_pop_temporary(void);

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

extern char *tde_masterkey_add(const TdeKeyRequest *req);
extern void tde_masterkey_use(const char *key_id, const TdeKeyRequest *req);
extern void tde_masterkey_set_tag(const char *key_id, const TdeKeyRequest *req);
extern char *tde_masterkey_migrate(const TdeKeyRequest *req, const char *wallet_password);
extern char *tde_masterkey_reverse_migrate(const TdeKeyRequest *req,
										   const char *hsm_credential);

#endif							/* TDE_MASTERKEY_H */
