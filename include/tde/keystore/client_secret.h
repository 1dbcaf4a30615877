/*-------------------------------------------------------------------------
 *
 * client_secret.h
 *	  Client secrets in the password keystore: ADD, UPDATE and DELETE
 *	  SECRET ... IDENTIFIED BY (Oracle's §4.3).
 *
 * A secret is kept in ewallet.p12 (and so in its auto-login copy, which
 * follows every change) as a record of keystore/keyrecord.h; the open
 * keystore publishes the records' metadata, never the values, for
 * v$client_secrets.  Every change is a change of the wallet as any key
 * operation is: WITH BACKUP required, atomic, the open set republished.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_CLIENT_SECRET_H
#define TDE_KEYSTORE_CLIENT_SECRET_H

#include "tde/keystore/ops.h"
#include "tde/keystore/seps.h"

/* secret NULL for DELETE; tag may be NULL */
extern void tde_client_secret_change(TdeSecretOp op, const char *client,
									 const char *secret, const char *tag,
									 const TdeChangeRequest *req);

/* The same in an auto-login keystore of secrets, dir/cwallet.sso */
extern void tde_autologin_secret_change(TdeSecretOp op, const char *location,
										const char *client, const char *secret,
										const char *tag, bool local);

#endif							/* TDE_KEYSTORE_CLIENT_SECRET_H */
