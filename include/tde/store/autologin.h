/*-------------------------------------------------------------------------
 *
 * autologin.h
 *	  The passwords of auto-login wallets.  See store/autologin.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_STORE_AUTOLOGIN_H
#define TDE_STORE_AUTOLOGIN_H

/* the password, in secure memory; local: bound to this host and user */
extern char *tde_autologin_password(bool local);

#endif							/* TDE_STORE_AUTOLOGIN_H */
