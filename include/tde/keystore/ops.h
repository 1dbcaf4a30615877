/*-------------------------------------------------------------------------
 *
 * ops.h
 *	  What a keystore kind does: the operations table of a keystore.
 *
 * There are two kinds, the file wallet (keystore/file_keystore.c) and the
 * HSM (keystore/hsm_keystore.c).  keystore/keystore.c turns
 * tde.keystore_configuration into a primary and an optional secondary
 * keystore, in that one place, and every caller above works through the
 * table: the master-key lifecycle never asks which kind it has.
 *
 * Locking: open, open_secondary, autoopen and change take the keystore
 * lock (keystore/config.h) themselves; check_close and close are called
 * with it held.  The others read the shared state only (keystore/state.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_OPS_H
#define TDE_KEYSTORE_OPS_H

#include "tde/keystore/keyrecord.h"
#include "tde/keystore/seps.h"
#include "tde/keystore/state.h"
#include "tde/util/fileio.h"

/* How a change is asked for: the frame of every key operation */
typedef struct TdeChangeRequest
{
	const TdeCredential *cred;
	bool		force;			/* FORCE KEYSTORE */
	bool		with_backup;
	bool		backup_required;	/* the file wallet: WITH BACKUP is required */
	const char *backup_id;
	/* the file wallet: files put in place before it, from the same file set */
	void		(*add_files) (TdeFileSet *fs, void *arg);
	void	   *files_arg;
} TdeChangeRequest;

typedef struct TdeKeystoreOps
{
	const char *name;			/* WRL_TYPE: "FILE" or "HSM" */
	const char *seps_client;	/* its password's client in the external store */
	bool		generates_keys; /* keys are made inside: AES-256, no user key */
	bool		opens_alone;	/* auto-opens when it is the only keystore */

	/* open as the primary (force: FORCE KEYSTORE); errors as Oracle's */
	void		(*open) (const char *password, bool force);
	/* open as the secondary with the primary's password; never fails */
	void		(*open_secondary) (const char *password);
	/* open without a password if it can; returns whether it opened now */
	bool		(*autoopen) (int elevel);
	bool		(*is_open) (void);
	/* a password given to CLOSE must be this keystore's (ORA-28391) */
	void		(*check_close) (const char *password);
	void		(*close) (void);
	/* read, change() and write its keys, and publish them */
	void		(*change) (const TdeChangeRequest *req, TdeWalletChange change,
						   void *arg);
	/* a migration: prove the password without opening (or changing) it */
	void		(*prove) (const char *password);
	/*
	 * a migration: open with the password, whatever its state; back up.
	 * Returns the backup's path (NULL: none), which the caller discards if
	 * the migration then fails.
	 */
	char	   *(*open_for_migration) (const char *password, bool with_backup,
									   const char *backup_id);
	/* its row of v$encryption_wallet */
	void		(*status) (TdeWalletStatus *row, bool primary);

	/* make a new key's bytes inside (NULL: the caller made them) */
	void		(*generate) (const TdeMasterKey *mk);

	/* the open keys: lookups in shared memory, then (optional) the device */
	TdeKeySetId key_set;
	bool		(*find_device) (const uint8 *mkid, TdeMasterKey *out);
	int			(*wrap) (const TdeMasterKey *mk, const uint8 *aad, int aadlen,
						 const uint8 *in, int inlen, uint8 *out);
	bool		(*unwrap) (const TdeMasterKey *mk, const uint8 *aad, int aadlen,
						   const uint8 *in, int inlen, uint8 *out, int *outlen);
} TdeKeystoreOps;

#endif							/* TDE_KEYSTORE_OPS_H */
