/*-------------------------------------------------------------------------
 *
 * file_backup.c
 *	  The files a change of the password wallet adds beside it: backups
 *	  (their names, Oracle's ewallet_<UTC timestamp>[_<id>].p12, their
 *	  place, and the checks of WITH BACKUP [USING 'id']) and the auto-login
 *	  wallet that follows its contents.  See keystore/file_backup.h.
 *
 * A backup is added to a file set (util/fileio.h) as a new file, so it is
 * put in place with the change it belongs to, or not at all.  The caller
 * holds the keystore lock, so the free name it is given stays free.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/time.h>
#include <time.h>

#include "miscadmin.h"

#include "tde/keystore/config.h"
#include "tde/keystore/file_backup.h"
#include "tde/store/wallet.h"
#include "tde/util/fileio.h"

#define MAX_BACKUP_ID_LEN	128

void
tde_check_backup_id(const char *id)
{
	const char *p;

	if (id == NULL)
		return;
	if (id[0] == '\0' || strlen(id) > MAX_BACKUP_ID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("backup identifier must be 1 to %d characters long", MAX_BACKUP_ID_LEN)));
	for (p = id; *p; p++)
		if (*p == '/' || *p == '\\' || (unsigned char) *p < 0x20 ||
			(p == id && *p == '.'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("backup identifier is not a valid file name part"),
					 errdetail("It must not contain \"/\", control characters, or start with \".\".")));
}

/* UTC YYYYMMDDHHMISSFF, as in Oracle's backup file names */
static char *
backup_timestamp(void)
{
	struct timeval tv;
	struct tm	tm;
	char		buf[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02d%02d",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (tv.tv_usec / 10000));
	return pstrdup(buf);
}

/*
 * A free name for a new backup file, in location or the wallet directory;
 * the caller holds the locks and writes the file (TDE_FILE_NEW).
 */
char *
tde_backup_path(const char *backup_id, const char *location)
{
	char	   *dir;
	char	   *name;
	char	   *path;

	tde_check_backup_id(backup_id);
	if (location != NULL)
	{
		dir = tde_canonical_location(location, "backup location");
		tde_require_location_access(dir);
		if (!tde_dir_exists(dir))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("backup location \"%s\" is not a directory", dir)));
	}
	else
		dir = tde_wallet_dir();

	/* Names resolve to 1/100 s: wait for the next hundredth if taken. */
	for (;;)
	{
		if (backup_id)
			name = psprintf("ewallet_%s_%s.p12", backup_timestamp(), backup_id);
		else
			name = psprintf("ewallet_%s.p12", backup_timestamp());
		path = tde_join_path(dir, name);
		if (!tde_file_exists(path))
			break;
		pg_usleep(10000L);
	}
	return path;
}

/* Add a backup of the password wallet as it is now, byte for byte. */
char *
tde_add_backup_of(TdeFileSet *fs, const char *ewallet, const char *backup_id)
{
	char	   *dir = pstrdup(ewallet);
	char	   *path;
	size_t		len;
	char	   *bytes;

	/* beside the wallet it copies: the wallet directory, or a merge target */
	get_parent_directory(dir);
	path = tde_backup_path(backup_id, strcmp(dir, tde_wallet_dir()) == 0 ? NULL : dir);
	bytes = tde_file_read_all(ewallet, &len, false);
	tde_fileset_add(fs, path, bytes, len, TDE_FILE_NEW);
	pfree(bytes);
	return path;
}

void
tde_require_backup_clause(bool with_backup)
{
	if (!with_backup)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("keystore needs to be backed up"),
				 errdetail("ORA-46631: keystore needs to be backed up"),
				 errhint("Add WITH BACKUP to the statement.")));
}

/*
 * Auto-login wallets follow the password wallet's contents: add the new
 * cwallet.sso of the keystore in dir, of the kind the old one is, if there
 * is one.  An unreadable one is left as it is, with a WARNING.
 */
void
tde_file_add_autologin(TdeFileSet *fs, const char *dir, const TdeWallet *w)
{
	char	   *cwallet = tde_join_path(dir, TDE_CWALLET_FILE);
	TdeWallet  *old;
	TdeWalletResult res;
	size_t		len;
	char	   *bytes;

	res = tde_wallet_load(cwallet, true, NULL, &old);
	if (res == TDE_WALLET_MISSING)
		return;
	if (res != TDE_WALLET_OK)
	{
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("auto-login keystore \"%s\" was not updated", cwallet),
				 errhint("Create it again with CREATE AUTO_LOGIN KEYSTORE.")));
		return;
	}
	bytes = tde_wallet_encode(tde_wallet_copy(w, old->kind), NULL, 0, &len);
	tde_fileset_add(fs, cwallet, bytes, len, TDE_FILE_FOLLOWER);
	pfree(bytes);
}
