/*-------------------------------------------------------------------------
 *
 * fileio.h
 *	  Durable, atomic keystore file I/O.
 *
 * Every keystore file is written as a temporary file in the same directory,
 * fsync'd, renamed over the old one, and the directory fsync'd: a crash at
 * any instant leaves the old file or the new one, never a torn one.  Files
 * are created 0600 and directories 0700.  File descriptors are transient
 * files, so an error closes them (and releases any flock) at abort.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_FILEIO_H
#define TDE_FILEIO_H

extern bool tde_file_exists(const char *path);
extern bool tde_dir_exists(const char *path);
extern void tde_ensure_dir(const char *path);
extern char *tde_file_read_all(const char *path, size_t *len, bool missing_ok);
extern void tde_file_write_atomic(const char *path, const void *data, size_t len);
extern void tde_file_copy_atomic(const char *from, const char *to);
extern int	tde_dir_lock(const char *dir);

/*
 * Remove a file this statement made (a backup) because the statement then
 * failed; never an ERROR, so that it can run in a PG_CATCH.
 */
extern void tde_file_discard(const char *path);

/*
 * At server start (and restart after a crash), before any backend runs:
 * remove the temporary files of killed writers below root (fileio.c).
 */
extern void tde_remove_stale_temps(const char *root);

/*
 * A change that replaces several files at once (a wallet, its auto-login
 * copy, a backup): every file is prepared first, as a temporary file
 * written and fsync'd beside it; commit then renames the new files
 * (backups) into place, then the primary file, which is the point of no
 * return, then the followers.  Before that point a failure removes what
 * was placed and is an ERROR, leaving every old file as it was; after it,
 * a failure is a WARNING.  An error anywhere between begin and commit
 * removes the set's files at (sub)transaction abort.
 */
typedef enum TdeFileRole
{
	TDE_FILE_NEW,				/* a file that must not exist yet: a backup */
	TDE_FILE_PRIMARY,			/* the file whose replacement makes the change */
	TDE_FILE_FOLLOWER			/* a copy kept in step after the change */
} TdeFileRole;

#define TDE_FILESET_MAX 8

typedef struct TdeFileSetEntry
{
	char	   *path;
	char	   *tmp;
	TdeFileRole role;
	bool		placed;
} TdeFileSetEntry;

typedef struct TdeFileSet
{
	SubTransactionId subid;		/* where it began */
	int			nfiles;
	TdeFileSetEntry files[TDE_FILESET_MAX];
} TdeFileSet;

extern TdeFileSet *tde_fileset_begin(void);
extern void tde_fileset_add(TdeFileSet *fs, const char *path, const void *data,
							size_t len, TdeFileRole role);
extern void tde_fileset_commit(TdeFileSet *fs);
extern void tde_fileset_abort(TdeFileSet *fs);
extern void tde_dir_unlock(int fd);

#endif							/* TDE_FILEIO_H */
