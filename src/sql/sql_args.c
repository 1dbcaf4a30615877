/*-------------------------------------------------------------------------
 *
 * sql_args.c
 *	  Unpacking the named arguments of tde's typed SQL functions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "tde/util/secure.h"
#include "tde/sql/sql_args.h"

char *
tde_arg_text(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

char *
tde_arg_secret(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : tde_secure_text_to_cstring(PG_GETARG_TEXT_PP(n));
}

bool
tde_arg_bool(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? false : PG_GETARG_BOOL(n);
}

void
tde_arg_require(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
}

/*
 * Oracle's IDENTIFIED BY as arguments: password => ..., or
 * external_store => true; exactly one, or neither when optional (NULL).
 */
TdeCredential *
tde_arg_credential(FunctionCallInfo fcinfo, int pwarg, int extarg, bool optional)
{
	TdeCredential *cred = palloc0(sizeof(TdeCredential));
	bool		has_password = !PG_ARGISNULL(pwarg);

	cred->external_store = tde_arg_bool(fcinfo, extarg);
	if (has_password && cred->external_store)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("give either password or external_store => true, not both")));
	if (!has_password && !cred->external_store)
	{
		if (optional)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a password or external_store => true is required")));
	}
	cred->password = tde_arg_secret(fcinfo, pwarg);
	return cred;
}
