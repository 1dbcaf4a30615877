/*-------------------------------------------------------------------------
 *
 * file_backup.h
 *	  Backups of the password wallet and its auto-login follower.  See
 *	  keystore/file_backup.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_FILE_BACKUP_H
#define TDE_KEYSTORE_FILE_BACKUP_H

#include "tde/store/wallet.h"
#include "tde/util/fileio.h"

extern void tde_check_backup_id(const char *id);
extern void tde_require_backup_clause(bool with_backup);
/* a free name for a new backup in location (NULL: the wallet directory) */
extern char *tde_backup_path(const char *backup_id, const char *location);
/* add a backup of the file ewallet as it is now to fs, beside it; returns its path */
extern char *tde_add_backup_of(TdeFileSet *fs, const char *ewallet,
							   const char *backup_id);
/* add the new cwallet.sso of the keystore in dir following w, if it has one */
extern void tde_file_add_autologin(TdeFileSet *fs, const char *dir,
								   const TdeWallet *w);

#endif							/* TDE_KEYSTORE_FILE_BACKUP_H */
