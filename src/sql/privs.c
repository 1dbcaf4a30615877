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

#include "tde/tde.h"

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
 * A location outside tde.wallet_root is a file the server writes on the
 * caller's behalf, so it needs what COPY TO a file needs.
 */
void
tde_require_location_access(const char *path)
{
	size_t		rootlen;

	if (tde_wallet_root != NULL && tde_wallet_root[0] != '\0')
	{
		rootlen = strlen(tde_wallet_root);
		if (strncmp(path, tde_wallet_root, rootlen) == 0 &&
			(path[rootlen] == '\0' || path[rootlen] == '/') &&
			strstr(path + rootlen, "/..") == NULL)
			return;
	}
	if (!has_privs_of_role(GetUserId(), ROLE_PG_WRITE_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to write keystore files outside tde.wallet_root"),
				 errhint("Only superusers and members of \"pg_write_server_files\" may name another location.")));
}
