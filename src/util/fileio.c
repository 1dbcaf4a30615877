/*-------------------------------------------------------------------------
 *
 * fileio.c
 *	  Durable, atomic keystore file I/O.  See util/fileio.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "tde/util/fileio.h"

/* No keystore file is anywhere near this; a larger one is not ours. */
#define TDE_MAX_FILE_SIZE	(64 * 1024 * 1024)

/* How deep below tde.wallet_root the start-up sweep looks. */
#define TDE_STALE_SWEEP_DEPTH	4

static void remove_stale_in_dir(const char *dir, const char *base,
								bool at_start, int depth);

/*
 * dir (MAXPGPATH bytes) = the directory path is in.  Callers' locations are
 * bounded (TDE_MAX_LOCATION_LEN, tde.wallet_root's check) so that it fits.
 */
static void
parent_of(const char *path, char *dir)
{
	const char *slash = strrchr(path, '/');

	if (slash != NULL && slash - path >= MAXPGPATH)
		elog(ERROR, "directory of a keystore file is longer than %d bytes", MAXPGPATH - 1);
	strlcpy(dir, path, MAXPGPATH);
	get_parent_directory(dir);
}

bool
tde_file_exists(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0)
		return S_ISREG(st.st_mode);
	if (errno != ENOENT && errno != ENOTDIR)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	return false;
}

bool
tde_dir_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void
tde_ensure_dir(const char *path)
{
	if (tde_dir_exists(path))
		return;
	if (mkdir(path, S_IRWXU) != 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", path)));
}

char *
tde_file_read_all(const char *path, size_t *len, bool missing_ok)
{
	int			fd;
	struct stat st;
	char	   *buf;
	size_t		done = 0;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (missing_ok && errno == ENOENT)
			return NULL;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	}
	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	if (st.st_size > TDE_MAX_FILE_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("file \"%s\" is too large to be a keystore", path)));

	buf = palloc(st.st_size + 1);
	while (done < (size_t) st.st_size)
	{
		ssize_t		n = read(fd, buf + done, st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", path)));
		if (n == 0)
			break;
		done += n;
	}
	CloseTransientFile(fd);
	buf[done] = '\0';
	*len = done;
	return buf;
}

/* fsync a directory; false with errno set on failure */
static bool
fsync_dir_quiet(const char *dir)
{
	int			fd;
	int			save_errno;

	fd = OpenTransientFile(dir, O_RDONLY | PG_BINARY);
	if (fd < 0)
		return false;
	if (pg_fsync(fd) != 0)
	{
		save_errno = errno;
		CloseTransientFile(fd);
		errno = save_errno;
		return false;
	}
	CloseTransientFile(fd);
	return true;
}

/*
 * Write data to a new temporary file beside path and fsync it; returns the
 * temporary file's name.  On failure nothing is left behind.
 */
static char *
write_temp(const char *path, const void *data, size_t len)
{
	char	   *tmp = psprintf("%s.tmp.%d", path, MyProcPid);
	char		dir[MAXPGPATH];
	const char *base = last_dir_separator(path);
	int			fd;
	size_t		done = 0;

	/* what a killed writer of this same file left beside it */
	parent_of(path, dir);
	remove_stale_in_dir(dir[0] != '\0' ? dir : ".", base ? base + 1 : path,
						false, 0);
	(void) unlink(tmp);

	fd = OpenTransientFilePerm(tmp, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY,
							   S_IRUSR | S_IWUSR);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmp)));

	while (done < len)
	{
		ssize_t		n = write(fd, (const char *) data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			int			save_errno = (n < 0 && errno) ? errno : ENOSPC;

			CloseTransientFile(fd);
			(void) unlink(tmp);
			errno = save_errno;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write file \"%s\": %m", tmp)));
		}
		done += n;
	}
	if (pg_fsync(fd) != 0)
	{
		int			save_errno = errno;

		CloseTransientFile(fd);
		(void) unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync file \"%s\": %m", tmp)));
	}
	if (CloseTransientFile(fd) != 0)
	{
		int			save_errno = errno;

		(void) unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", tmp)));
	}
	return tmp;
}

void
tde_file_write_atomic(const char *path, const void *data, size_t len)
{
	char	   *tmp = write_temp(path, data, len);
	char		dir[MAXPGPATH];

	if (rename(tmp, path) != 0)
	{
		int			save_errno = errno;

		(void) unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rename file \"%s\" to \"%s\": %m", tmp, path)));
	}
	/*
	 * The file is replaced: a failure from here on is a WARNING, as after a
	 * file set's point of no return, since the statement has made its
	 * change and an ERROR would say it had not.
	 */
	parent_of(path, dir);
	if (!fsync_dir_quiet(dir))
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not fsync directory \"%s\": %m", dir),
				 errdetail("The change is made, but a crash now could undo it.")));
	pfree(tmp);
}

/* ---------------------------------------------------------------------
 * File sets: several files replaced as one change
 * ---------------------------------------------------------------------
 */

/*
 * The set being prepared, if any: an error anywhere between begin and
 * commit (not only in this file's calls) removes its temporary files and
 * the new files it placed, at (sub)transaction abort.
 */
static TdeFileSet *pending_set = NULL;
static bool fileset_callbacks_registered = false;

static void
fileset_xact_callback(XactEvent event, void *arg)
{
	if (pending_set != NULL &&
		(event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT))
		tde_fileset_abort(pending_set);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		pending_set = NULL;
}

static void
fileset_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && pending_set != NULL &&
		pending_set->subid == mySubid)
		tde_fileset_abort(pending_set);
}

TdeFileSet *
tde_fileset_begin(void)
{
	TdeFileSet *fs;

	if (!fileset_callbacks_registered)
	{
		RegisterXactCallback(fileset_xact_callback, NULL);
		RegisterSubXactCallback(fileset_subxact_callback, NULL);
		fileset_callbacks_registered = true;
	}
	if (pending_set != NULL)
		elog(ERROR, "a keystore file change is already in progress");
	fs = MemoryContextAllocZero(TopTransactionContext, sizeof(TdeFileSet));
	fs->subid = GetCurrentSubTransactionId();
	pending_set = fs;
	return fs;
}

/*
 * Prepare one file of the set: its new contents are written and fsync'd
 * to a temporary file now; the file itself is replaced by
 * tde_fileset_commit.  A file added before the set's point of no return
 * (TDE_FILE_PRIMARY and TDE_FILE_NEW) makes commit fail if it cannot be
 * put in place; a TDE_FILE_FOLLOWER is put in place after it, and a
 * failure there is a WARNING.
 */
void
tde_fileset_add(TdeFileSet *fs, const char *path, const void *data, size_t len,
				TdeFileRole role)
{
	TdeFileSetEntry *e;

	if (fs->nfiles >= TDE_FILESET_MAX)
		elog(ERROR, "too many files in one keystore change");
	e = &fs->files[fs->nfiles];
	e->path = MemoryContextStrdup(TopTransactionContext, path);
	e->role = role;
	e->tmp = write_temp(path, data, len);
	{
		char	   *t = MemoryContextStrdup(TopTransactionContext, e->tmp);

		pfree(e->tmp);
		e->tmp = t;
	}
	e->placed = false;
	fs->nfiles++;
}

/* Remove what a failed set left: temporary files, and new files placed. */
void
tde_fileset_abort(TdeFileSet *fs)
{
	int			i;

	for (i = 0; i < fs->nfiles; i++)
	{
		TdeFileSetEntry *e = &fs->files[i];

		if (!e->placed)
			(void) unlink(e->tmp);
		else if (e->role == TDE_FILE_NEW)
			(void) unlink(e->path);
	}
	fs->nfiles = 0;
	if (pending_set == fs)
		pending_set = NULL;
}

static bool
place(TdeFileSetEntry *e)
{
	if (rename(e->tmp, e->path) != 0)
		return false;
	e->placed = true;
	return true;
}

static bool
same_dir(const char *a, const char *b)
{
	char		da[MAXPGPATH];
	char		db[MAXPGPATH];

	parent_of(a, da);
	parent_of(b, db);
	return strcmp(da, db) == 0;
}

/*
 * Give up a set that cannot be put in place: an ERROR, no old file
 * changed; e is the file that could not be renamed, or NULL if dir could
 * not be fsync'd.
 */
static pg_attribute_noreturn() void
fail_set(TdeFileSet *fs, const TdeFileSetEntry *e, const char *dir)
{
	int			save_errno = errno;
	char	   *tmp = e ? pstrdup(e->tmp) : NULL;
	char	   *path = e ? pstrdup(e->path) : pstrdup(dir);

	tde_fileset_abort(fs);
	errno = save_errno;
	if (tmp != NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rename file \"%s\" to \"%s\": %m", tmp, path),
				 errdetail("No keystore file was changed.")));
	ereport(ERROR,
			(errcode_for_file_access(),
			 errmsg("could not fsync directory \"%s\": %m", path),
			 errdetail("No keystore file was changed.")));
}

/*
 * A new file outside the primary's directory is made durable before the
 * primary is replaced (MOVE KEYS' new keystore: no crash may leave a key
 * in neither file).
 */
static void
sync_new_dirs(TdeFileSet *fs)
{
	int			i,
				j;

	for (i = 0; i < fs->nfiles; i++)
	{
		TdeFileSetEntry *e = &fs->files[i];
		bool		beside_primary = false;
		char		dir[MAXPGPATH];

		if (e->role != TDE_FILE_NEW || !e->placed)
			continue;
		for (j = 0; j < fs->nfiles; j++)
			if (fs->files[j].role == TDE_FILE_PRIMARY &&
				same_dir(e->path, fs->files[j].path))
				beside_primary = true;
		if (beside_primary)
			continue;
		parent_of(e->path, dir);
		if (!fsync_dir_quiet(dir))
			fail_set(fs, NULL, dir);
	}
}

/*
 * Put every prepared file in place: first the new files (backups, a new
 * keystore), then the primary file, which is the point of no return;
 * until then a failure removes what the set had placed and is an ERROR,
 * and the old files are as they were.  After it, a follower that cannot
 * be replaced, or a directory that cannot be fsync'd, is a WARNING: the
 * change has been made.
 */
void
tde_fileset_commit(TdeFileSet *fs)
{
	int			pass;
	int			i;

	for (pass = 0; pass < 2; pass++)
	{
		TdeFileRole want = pass == 0 ? TDE_FILE_NEW : TDE_FILE_PRIMARY;

		if (pass == 1)
			sync_new_dirs(fs);
		for (i = 0; i < fs->nfiles; i++)
		{
			TdeFileSetEntry *e = &fs->files[i];

			if (e->role != want)
				continue;
			if (e->role == TDE_FILE_NEW && access(e->path, F_OK) == 0)
				errno = EEXIST;
			else if (place(e))
				continue;
			fail_set(fs, e, NULL);
		}
	}
	/* the point of no return is behind us: the change is made */
	for (i = 0; i < fs->nfiles; i++)
	{
		TdeFileSetEntry *e = &fs->files[i];

		if (e->role != TDE_FILE_FOLLOWER)
			continue;
		if (!place(e))
		{
			int			save_errno = errno;

			(void) unlink(e->tmp);
			errno = save_errno;
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not replace file \"%s\": %m", e->path),
					 errdetail("The change is made in the keystore; this file still holds the previous contents."),
					 errhint("Create the file again (for an auto-login keystore: CREATE AUTO_LOGIN KEYSTORE).")));
		}
	}
	for (i = 0; i < fs->nfiles; i++)
	{
		TdeFileSetEntry *e = &fs->files[i];
		int			j;
		bool		seen = false;
		char		dir[MAXPGPATH];

		if (!e->placed)
			continue;
		/* each directory once */
		parent_of(e->path, dir);
		for (j = 0; j < i && !seen; j++)
		{
			char		other[MAXPGPATH];

			parent_of(fs->files[j].path, other);
			seen = fs->files[j].placed && strcmp(dir, other) == 0;
		}
		if (!seen && !fsync_dir_quiet(dir))
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not fsync directory \"%s\": %m", dir),
					 errdetail("The change is made, but a crash now could undo it.")));
	}
	fs->nfiles = 0;
	if (pending_set == fs)
		pending_set = NULL;
}

void
tde_file_copy_atomic(const char *from, const char *to)
{
	size_t		len;
	char	   *buf = tde_file_read_all(from, &len, false);

	tde_file_write_atomic(to, buf, len);
	pfree(buf);
}

void
tde_file_discard(const char *path)
{
	char		dir[MAXPGPATH];

	if (unlink(path) != 0)
		return;
	parent_of(path, dir);
	(void) fsync_dir_quiet(dir);
}

/*
 * Serialize against tools outside the server that follow the same
 * convention (flock on the keystore directory).  The wait polls, so that a
 * statement timeout or a cancel ends it.
 */
int
tde_dir_lock(const char *dir)
{
	int			fd = OpenTransientFile(dir, O_RDONLY | PG_BINARY);

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open directory \"%s\": %m", dir)));
	while (flock(fd, LOCK_EX | LOCK_NB) != 0)
	{
		if (errno != EWOULDBLOCK && errno != EINTR)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not lock directory \"%s\": %m", dir)));
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000L);
	}
	return fd;
}

void
tde_dir_unlock(int fd)
{
	if (fd >= 0)
		CloseTransientFile(fd);
}

/* ---------------------------------------------------------------------
 * Stale temporary files
 *
 * A writer killed between write_temp and the rename (a crash, kill -9 of a
 * backend, a power cut) leaves "<file>.tmp.<pid>".  Nothing reads it, but
 * it holds a copy of what was being written (a wallet is encrypted; an
 * export file is under its secret), so it is removed: by the next writer
 * of the same file, and at each start of the server (and each restart
 * after a backend crash) everywhere below tde.wallet_root.  A file is
 * removed only if its writer is gone: its pid names no process, or, at
 * start-up, before any backend runs, the postmaster itself.  A live
 * writer's file (another session, a tool outside the server) is kept.
 * This never raises an ERROR: the postmaster calls it, and a write goes
 * on whether the clean-up worked or not.
 * ---------------------------------------------------------------------
 */

/*
 * The writer's pid in a temporary file's name "<base>.tmp.<pid>" (base
 * NULL: any base), or 0 if name is not such a name.
 */
static pid_t
temp_file_pid(const char *name, const char *base)
{
	const char *p = NULL;
	const char *q;
	long		pid = 0;

	if (base != NULL)
	{
		size_t		blen = strlen(base);

		if (strncmp(name, base, blen) == 0 && strncmp(name + blen, ".tmp.", 5) == 0)
			p = name + blen + 5;
	}
	else
		for (q = strstr(name, ".tmp."); q != NULL; q = strstr(q + 1, ".tmp."))
			p = q + 5;
	if (p == NULL || *p == '\0' || p == name + 5)
		return 0;
	for (q = p; *q != '\0'; q++)
	{
		if (*q < '0' || *q > '9' || pid > INT_MAX / 10)
			return 0;
		pid = pid * 10 + (*q - '0');
	}
	return (pid_t) pid;
}

static bool
writer_gone(pid_t pid, bool at_start)
{
	if (pid == MyProcPid)
		return at_start;
	return kill(pid, 0) != 0 && errno == ESRCH;
}

static void
remove_stale_in_dir(const char *dir, const char *base, bool at_start, int depth)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
	{
		char		path[MAXPGPATH];
		struct stat st;
		pid_t		pid;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int) sizeof(path) ||
			lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
		{
			if (depth > 0)
				remove_stale_in_dir(path, NULL, at_start, depth - 1);
			continue;
		}
		pid = temp_file_pid(de->d_name, base);
		if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || pid <= 0 ||
			!writer_gone(pid, at_start))
			continue;
		if (unlink(path) == 0)
			ereport(LOG,
					(errcode(ERRCODE_SUCCESSFUL_COMPLETION),
					 errmsg("removed stale temporary file \"%s\"", path),
					 errdetail("Process %d, which was writing it, is gone.", (int) pid)));
		else if (errno != ENOENT)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not remove stale temporary file \"%s\": %m", path)));
	}
	closedir(d);
}

void
tde_remove_stale_temps(const char *root)
{
	if (root != NULL && root[0] != '\0')
		remove_stale_in_dir(root, NULL, true, TDE_STALE_SWEEP_DEPTH);
}
