/*-------------------------------------------------------------------------
 *
 * privs.c
 *	  Privilege checks, made in C so that a stray GRANT cannot widen them.
 *
 * tde_admin is Oracle's SYSKM: it may run every key-management operation.
 * Monitoring (pg_monitor or tde_admin) may read the views.  Superusers may
 * do everything.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid_d.h"
#include "miscadmin.h"
#include "utils/acl.h"

#include "tde/sql/privs.h"

#define TDE_ADMIN_ROLE "tde_admin"

static bool
has_tde_admin(Oid roleid)
{
	Oid			admin = get_role_oid(TDE_ADMIN_ROLE, true);

	if (superuser_arg(roleid))
		return true;
	return OidIsValid(admin) && has_privs_of_role(roleid, admin);
}

void
tde_require_admin(void)
{
	if (!has_tde_admin(GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for key management"),
				 errdetail("ORA-01031: insufficient privileges"),
				 errhint("Only superusers and members of the \"%s\" role may manage keys.",
						 TDE_ADMIN_ROLE)));
}

void
tde_require_monitor(void)
{
	Oid			roleid = GetUserId();

	if (!has_tde_admin(roleid) && !has_privs_of_role(roleid, ROLE_PG_MONITOR))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for key management views"),
				 errdetail("ORA-01031: insufficient privileges"),
				 errhint("Only members of \"pg_monitor\" or \"%s\" may read them.",
						 TDE_ADMIN_ROLE)));
}
