/*-------------------------------------------------------------------------
 *
 * tde.h
 *	  The module layer of tde: tde.c (_PG_init, shared-memory hooks) and
 *	  guc.c (the configuration parameters).
 *
 * Nothing below the module layer includes this file.  Each GUC variable
 * is defined in the lowest unit that reads it (keystore/config.h,
 * store/hsm.h); guc.c registers the parameters on those variables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_TDE_H
#define TDE_TDE_H

/* guc.c */
extern void tde_define_gucs(void);

#endif							/* TDE_TDE_H */
