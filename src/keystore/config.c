/*-------------------------------------------------------------------------
 *
 * config.c
 *	  Where the keystores are and which are in use.  See keystore/config.h.
 *
 * The GUC variables live here, in the lowest unit that reads them; guc.c
 * registers them (check hooks there validate the values).  The keystore
 * lock takes the directory's flock first, because its wait can be
 * cancelled (an LWLock's cannot), then admin_lock (keystore/state.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid_d.h"
#include "miscadmin.h"
#include "utils/acl.h"

#include "tde/keystore/config.h"
#include "tde/keystore/state.h"
#include "tde/store/wallet.h"
#include "tde/util/fileio.h"

#define MAX_PASSWORD_LEN	1024

/* GUCs (keystore/config.h) */
char	   *tde_wallet_root = NULL;
char	   *tde_keystore_configuration = NULL;
int			tde_wallet_kdf_iterations = 600000;

/* ---------------------------------------------------------------------
 * Paths and argument checks
 * ---------------------------------------------------------------------
 */

static const char *
wallet_root(void)
{
	if (tde_wallet_root == NULL || tde_wallet_root[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tde.wallet_root is not set"),
				 errhint("Set tde.wallet_root in postgresql.conf to a directory owned by the server's operating system user, and restart.")));
	if (!tde_dir_exists(tde_wallet_root))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("tde.wallet_root \"%s\" is not a directory", tde_wallet_root),
				 errhint("Create it, owned by the server's operating system user, with mode 0700.")));
	return tde_wallet_root;
}

char *
tde_join_path(const char *dir, const char *file)
{
	return psprintf("%s/%s", dir, file);
}

char *
tde_wallet_dir(void)
{
	return tde_join_path(wallet_root(), TDE_WALLET_DIR);
}

char *
tde_seps_dir(void)
{
	return tde_join_path(wallet_root(), TDE_SEPS_DIR);
}

char *
tde_canonical_location(const char *location, const char *what)
{
	char	   *loc = pstrdup(location);

	if (!is_absolute_path(loc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is not an absolute path", what)));
	canonicalize_path(loc);
	if (path_contains_parent_reference(loc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not contain \"..\"", what)));
	return loc;
}

void
tde_check_password(const char *password, const char *what)
{
	if (password == NULL || password[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	if (strlen(password) > MAX_PASSWORD_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is longer than %d bytes", what, MAX_PASSWORD_LEN)));
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

/*
 * Serialize a change of the files in dir.  The directory's flock comes
 * first, because its wait can be cancelled (an LWLock's cannot); then
 * admin_lock, which also serializes against opening and closing.  Every
 * caller takes them in this order.
 */
int
tde_keystore_lock(const char *dir, bool create, const char *missing_file)
{
	int			fd;

	if (create)
		tde_ensure_dir(dir);
	else if (!tde_dir_exists(dir))
		tde_wallet_report(TDE_WALLET_MISSING, missing_file, ERROR);
	fd = tde_dir_lock(dir);
	LWLockAcquire(tde_shared->admin_lock, LW_EXCLUSIVE);
	return fd;
}

void
tde_keystore_unlock(int fd)
{
	LWLockRelease(tde_shared->admin_lock);
	tde_dir_unlock(fd);
}

/* ---------------------------------------------------------------------
 * Configuration: which keystores, in which order
 * ---------------------------------------------------------------------
 */

TdeConfig
tde_config(void)
{
	const char *c = tde_keystore_configuration ? tde_keystore_configuration : "FILE";

	if (strcmp(c, "HSM") == 0)
		return TDE_CONFIG_HSM;
	if (strcmp(c, "HSM|FILE") == 0)
		return TDE_CONFIG_HSM_FILE;
	if (strcmp(c, "FILE|HSM") == 0)
		return TDE_CONFIG_FILE_HSM;
	return TDE_CONFIG_FILE;
}

bool
tde_config_primary_hsm(void)
{
	TdeConfig	c = tde_config();

	return c == TDE_CONFIG_HSM || c == TDE_CONFIG_HSM_FILE;
}

/* Operations a software wallet has and an HSM keystore has not. */
void
tde_reject_for_hsm(const char *operation, const char *instead)
{
	if (tde_config_primary_hsm())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s is not supported for an HSM keystore", operation),
				 errdetail("The master keys live in the HSM and never leave it."),
				 errhint("%s", instead)));
}
