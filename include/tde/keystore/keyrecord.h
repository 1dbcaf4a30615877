/*-------------------------------------------------------------------------
 *
 * keyrecord.h
 *	  Master-key records: the record, its format in a wallet, key sets.
 *
 * Each master key is one wallet entry "TDE.MK.<hex mkid>" holding
 * "name=value" lines; the active key's MKID is the entry "TDE.ACTIVE".
 * While a keystore is open its keys are also in shared memory, as a
 * TdeKeySet (keystore/state.h), so that v$encryption_keys and unwrapping
 * need no password.  This unit knows the format only: it reads and writes
 * entries of a wallet it is given, and copies key sets; it takes no lock.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_KEYRECORD_H
#define TDE_KEYSTORE_KEYRECORD_H

#include "datatype/timestamp.h"

#include "tde/crypto/cipher.h"
#include "tde/store/wallet.h"
#include "tde/util/keyid.h"
#include "tde/util/opmem.h"

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

/*
 * A client secret kept in a keystore (ADD SECRET ... IDENTIFIED BY): entry
 * "TDE.SECRET.<client in hex>" holding "name=value" lines, the secret in
 * hexadecimal -- in a wallet, the secret itself; in the HSM's metadata
 * file, the secret sealed by an HSM key (meta.in_hsm, line "store=hsm").
 * What v$client_secrets shows is this, without the secret.
 */
#define TDE_CLIENT_MAX			128 /* bytes, with the terminator */
#define TDE_MAX_CLIENT_SECRETS	64

typedef struct TdeSecretMeta
{
	char		client[TDE_CLIENT_MAX];
	char		tag[TDE_TAG_MAX];
	TimestampTz created;
	TimestampTz activated;		/* the last ADD or UPDATE */
	bool		backed_up;
	bool		in_hsm;			/* sealed by an HSM key, in hsm_keys.sso */
	char		owner[TDE_META_NAME_MAX];	/* who added it */
	Oid			owner_id;
	TdeKeyPlace owner_at;		/* where it was added */
} TdeSecretMeta;

/* The master keys of one keystore (the file wallet, or the HSM) */
typedef struct TdeKeySet
{
	int			nkeys;
	int			active;			/* index of this keystore's active key, or -1 */
	TdeMasterKey keys[TDE_MAX_MASTER_KEYS];
	int			nsecrets;		/* the client secrets it holds: metadata only */
	TdeSecretMeta secrets[TDE_MAX_CLIENT_SECRETS];
} TdeKeySet;

/* A change to a wallet's entries, applied by the keystore that holds it */
typedef void (*TdeWalletChange) (TdeWallet *w, void *arg);

/* Wallet <-> records */
extern int	tde_masterkeys_from_wallet(const TdeWallet *w, TdeMasterKey *keys,
									   int maxkeys, int *active);
extern void tde_masterkey_store(TdeWallet *w, const TdeMasterKey *mk);
extern const TdeWalletEntry *tde_masterkey_entry(const TdeWallet *w,
												 const uint8 *mkid);
extern bool tde_masterkey_deserialize(const uint8 *data, int len,
									  TdeMasterKey *mk);
extern bool tde_masterkey_remove(TdeWallet *w, const uint8 *mkid);
extern int	tde_masterkey_count(const TdeWallet *w);
extern void tde_masterkey_set_active(TdeWallet *w, const uint8 *mkid);
extern void tde_masterkey_copy_metadata(TdeMasterKey *dst, const TdeMasterKey *src);
extern void tde_key_place_here(TdeKeyPlace *p);
/* every key and secret record marked backed up; false if all were */
extern bool tde_masterkeys_mark_backed_up(TdeWallet *w);

/* Client secrets <-> records */
extern char *tde_secret_entry_name(const char *client);
extern void tde_secret_store(TdeWallet *w, const TdeSecretMeta *meta,
							 const char *secret);
extern bool tde_secret_meta(const TdeWalletEntry *e, TdeSecretMeta *meta);
extern int	tde_secrets_from_wallet(const TdeWallet *w, TdeSecretMeta *out, int max);

/* Key sets: read from a wallet outside any lock, then installed under state_lock */
extern TdeKeySet *tde_keyset_read(const TdeWallet *w, bool in_hsm);
extern void tde_keyset_install(TdeKeySet *dst, const TdeKeySet *src);

/*
 * A key set read ahead of a change's point of no return, in an operation's
 * context of its own: a record that does not read, or memory that runs
 * out, then fails while every file is as it was.  tde_keyset_prepared_end
 * wipes it (an error before that: the context's parent goes away).
 */
typedef struct TdeKeySetPrepared
{
	TdeOpMem	op;
	TdeKeySet  *set;
} TdeKeySetPrepared;

extern void tde_keyset_prepare(TdeKeySetPrepared *p, const TdeWallet *w,
							   bool in_hsm, const char *name);
extern void tde_keyset_prepared_end(TdeKeySetPrepared *p);

#endif							/* TDE_KEYSTORE_KEYRECORD_H */
