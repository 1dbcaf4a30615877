/*-------------------------------------------------------------------------
 *
 * privs.h
 *	  Privilege checks of the SQL entry points (see privs.c).
 *
 * The check on a location outside tde.wallet_root, made where the
 * keystore resolves the location, is keystore/config.h's
 * tde_require_location_access.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_SQL_PRIVS_H
#define TDE_SQL_PRIVS_H

extern void tde_require_admin(void);
extern void tde_require_monitor(void);

/* changes whenever a kept privilege check may be stale */
extern uint64 tde_acl_epoch(void);

#endif							/* TDE_SQL_PRIVS_H */
