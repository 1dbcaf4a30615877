/*-------------------------------------------------------------------------
 *
 * fileio.c
 *	  Durable, atomic keystore file I/O.  See fileio.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"

#include "tde/fileio.h"

/* No keystore file is anywhere near this; a larger one is not ours. */
#define TDE_MAX_FILE_SIZE	(64 * 1024 * 1024)

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

static void
fsync_dir_of(const char *path)
{
	char		dir[MAXPGPATH];
	int			fd;

	strlcpy(dir, path, sizeof(dir));
	get_parent_directory(dir);
	fd = OpenTransientFile(dir, O_RDONLY | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open directory \"%s\": %m", dir)));
	if (pg_fsync(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync directory \"%s\": %m", dir)));
	CloseTransientFile(fd);
}

void
tde_file_write_atomic(const char *path, const void *data, size_t len)
{
	char		tmp[MAXPGPATH];
	int			fd;
	size_t		done = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, MyProcPid);
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
			int			save_errno = errno ? errno : ENOSPC;

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
	CloseTransientFile(fd);

	if (rename(tmp, path) != 0)
	{
		int			save_errno = errno;

		(void) unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rename file \"%s\" to \"%s\": %m", tmp, path)));
	}
	fsync_dir_of(path);
}

void
tde_file_copy_atomic(const char *from, const char *to)
{
	size_t		len;
	char	   *buf = tde_file_read_all(from, &len, false);

	tde_file_write_atomic(to, buf, len);
	pfree(buf);
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
