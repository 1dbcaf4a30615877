/*-------------------------------------------------------------------------
 *
 * file_merge.h
 *	  MERGE KEYSTORE: the keys of software keystores combined into a new
 *	  password wallet or an existing one (Oracle's §4.1.8).
 *
 * A source is a keystore directory: its ewallet.p12 with a password, or
 * its cwallet.sso (auto-login or local auto-login) without one.  The
 * result is always a password wallet.  Into a new keystore, the first
 * source's record of a key both sources hold is the one kept; into an
 * existing keystore, the existing record is kept.  No key record is
 * changed otherwise, and the sources are never written.  The configured
 * keystore's open key set is not changed: a merge into
 * <wallet_root>/tde is seen once the keystore is opened again.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_FILE_MERGE_H
#define TDE_KEYSTORE_FILE_MERGE_H

#include "tde/keystore/seps.h"

typedef struct TdeMergeRequest
{
	const char *from[2];		/* source keystore directories */
	const char *from_password[2];	/* NULL: its auto-login wallet */
	int			nfrom;			/* 2 into a new keystore, 1 into an existing one */
	const char *into;			/* the target keystore directory */
	const TdeCredential *into_cred;
	bool		into_new;
	bool		with_backup;	/* into an existing keystore */
	const char *backup_id;
} TdeMergeRequest;

/* Returns the number of keys the target gained. */
extern int	tde_keystore_merge(const TdeMergeRequest *req);

#endif							/* TDE_KEYSTORE_FILE_MERGE_H */
