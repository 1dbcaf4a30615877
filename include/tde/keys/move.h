/*-------------------------------------------------------------------------
 *
 * move.h
 *	  MOVE KEYS: master keys out of the password wallet into a new keystore
 *	  (Oracle's §4.2.8).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYS_MOVE_H
#define TDE_KEYS_MOVE_H

#include "tde/keystore/seps.h"

typedef struct TdeMoveRequest
{
	const char *location;		/* TO NEW KEYSTORE 'location' */
	const char *password;		/* its IDENTIFIED BY */
	const TdeCredential *cred;	/* FROM [FORCE] KEYSTORE IDENTIFIED BY */
	bool		force_keystore;
	bool		with_backup;
	const char *backup_id;
	char	  **key_ids;		/* these KEY_IDs; NULL: every key but the active one */
	int			nkey_ids;
} TdeMoveRequest;

/* Returns the number of keys moved. */
extern int	tde_masterkey_move(const TdeMoveRequest *req);

#endif							/* TDE_KEYS_MOVE_H */
