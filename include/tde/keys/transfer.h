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

/* Both return the number of keys exported or imported. */
extern int	tde_masterkey_export(const TdeTransferRequest *req);
extern int	tde_masterkey_import(const TdeTransferRequest *req);

#endif							/* TDE_KEYS_TRANSFER_H */
