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
extern void tde_dir_unlock(int fd);

#endif							/* TDE_FILEIO_H */
