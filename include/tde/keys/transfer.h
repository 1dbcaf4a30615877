/*-------------------------------------------------------------------------
 *
 * transfer.h
 *	  Master keys between keystores and clusters: EXPORT KEYS and
 *	  IMPORT KEYS (Oracle's §4.2.7).
 *
 * Keys travel only in an export file under a secret
 * (keystore/export_file.h), never in clear.  Both need a software
 * keystore as the primary: an HSM's keys never leave it, and keys from
 * outside cannot be put into it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYS_TRANSFER_H
#define TDE_KEYS_TRANSFER_H

#include "tde/keystore/keyrecord.h"
#include "tde/keystore/seps.h"

typedef struct TdeTransferRequest
{
	const TdeCredential *cred;	/* IDENTIFIED BY: the wallet's password */
	bool		force_keystore;
	bool		with_backup;	/* IMPORT: WITH BACKUP [USING backup_id] */
	const char *backup_id;
	const char *path;			/* the export file */
	const char *secret;			/* WITH SECRET */
	char	  **key_ids;		/* EXPORT: these KEY_IDs; NULL: every key */
	int			nkey_ids;
} TdeTransferRequest;

/*
 * The keys of all[0..n) that key_ids[0..nkey_ids) name (KEY_IDs; every
 * key if key_ids is NULL) into out[], each once; returns how many.
 */
extern int	tde_masterkeys_select(char **key_ids, int nkey_ids,
								  const TdeMasterKey *all, int n,
								  TdeMasterKey *out);

/* Both return the number of keys exported or imported. */
extern int	tde_masterkey_export(const TdeTransferRequest *req);
extern int	tde_masterkey_import(const TdeTransferRequest *req);

#endif							/* TDE_KEYS_TRANSFER_H */
