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
#include "utils/inval.h"
#include "utils/syscache.h"

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

/*
 * A counter that changes whenever a privilege check might give another
 * answer: a pg_class row changed (GRANT, REVOKE, ALTER, DROP, an OID
 * reused), a role or a role membership changed.  PostgreSQL delivers these
 * invalidations when a transaction starts or takes a lock, as it does for
 * its own checks at the start of a query; a privilege check kept across
 * calls (data_sql.c) is valid while the counter is unchanged.
 */
static uint64 acl_epoch = 1;
static bool acl_callbacks_registered = false;

static void
acl_invalidated(Datum arg, int cacheid, uint32 hashvalue)
{
	acl_epoch++;
}

uint64
tde_acl_epoch(void)
{
	if (!acl_callbacks_registered)
	{
		CacheRegisterSyscacheCallback(RELOID, acl_invalidated, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, acl_invalidated, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, acl_invalidated, (Datum) 0);
		acl_callbacks_registered = true;
		acl_epoch++;
	}
	return acl_epoch;
}
