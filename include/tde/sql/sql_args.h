/*-------------------------------------------------------------------------
 *
 * sql_args.h
 *	  Unpacking the named arguments of tde's typed SQL functions.
 *
 * Secrets are copied into secure memory (secure.h) and mark the running
 * statement as one the server log must not show.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_SQL_ARGS_H
#define TDE_SQL_ARGS_H

#include "fmgr.h"

#include "tde/keystore/seps.h"

extern char *tde_arg_text(FunctionCallInfo fcinfo, int n);
extern char *tde_arg_secret(FunctionCallInfo fcinfo, int n);
extern bool tde_arg_bool(FunctionCallInfo fcinfo, int n);
extern void tde_arg_require(FunctionCallInfo fcinfo, int n, const char *name);
extern TdeCredential *tde_arg_credential(FunctionCallInfo fcinfo, int pwarg,
										 int extarg, bool optional);

#endif							/* TDE_SQL_ARGS_H */
