/*-------------------------------------------------------------------------
 *
 * faultfs.c
 *	  An LD_PRELOAD shim that makes the k-th open, write, fsync or rename of
 *	  a keystore file fail with a chosen errno, for t/053_io_failures.pl.
 *
 * It is loaded into a test server only (LD_PRELOAD in the environment of
 * pg_ctl start; the postmaster's children inherit it).  It wraps the libc
 * calls through which PostgreSQL's fd.c and tde reach files:
 *
 *	 open	open, open64, openat, openat64, creat, creat64
 *	 write	write, pwrite, pwrite64
 *	 fsync	fsync, fdatasync
 *	 rename rename, renameat
 *
 * and makes a call fail only if it concerns a path under one of the
 * directories of TDE_FAULT_PREFIX (colon-separated absolute paths): the
 * test's wallet root and backup and export directories, never a file of
 * PostgreSQL's own, whose failure would take the server down.  A call on a
 * descriptor (write, fsync) concerns the path it was opened with: open
 * marks descriptors opened under a prefix, close unmarks them, and before
 * failing a call the mark is checked against /proc/self/fd, so that a
 * descriptor number reused by a call this shim does not see (a socket, a
 * pipe) is never failed.  A relative path, or openat with a directory
 * descriptor, is never under a prefix; tde uses absolute paths.
 *
 * What to fail is in the file named by TDE_FAULT_CTL, one line
 *
 *	 <op> <k> <errno> <generation> [<pid>]
 *
 * op: open, write, fsync, rename or none; errno: ENOSPC, EIO, EDQUOT or
 * EROFS; pid: only that process fails (0 or absent: any).  The test
 * replaces the file (rename) for each attempt with a new generation.  Each
 * process rereads it when its inode, size or mtime changed, which costs a
 * stat() per call under a prefix and nothing elsewhere.  From the first
 * call under a prefix after it saw a new generation, a process counts the
 * calls of the op and fails the k-th one, once.  It then appends
 *
 *	 <generation> <pid> <op> <errno> <function> <path>
 *
 * to the file named by TDE_FAULT_LOG, so that the test knows the fault
 * fired: when it did not, k is past the operation's last call of that
 * kind.
 *
 * Nothing here allocates: a call that fails is reported with fixed
 * buffers and the real functions, found once with dlsym(RTLD_NEXT).
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
/* fortified headers would turn open() into an inline wrapper of their own */
#undef _FORTIFY_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define FAULTFS_MAX_FD		65536
#define FAULTFS_MAX_PREFIX	8
#define FAULTFS_PATH_LEN	4096

typedef enum FaultOp
{
	FAULT_NONE,
	FAULT_OPEN,
	FAULT_WRITE,
	FAULT_FSYNC,
	FAULT_RENAME
} FaultOp;

static const char *const op_names[] = {"none", "open", "write", "fsync", "rename"};

static const struct
{
	const char *name;
	int			value;
}			errno_names[] = {
	{"ENOSPC", ENOSPC},
	{"EIO", EIO},
	{"EDQUOT", EDQUOT},
	{"EROFS", EROFS},
};

/* the real functions */
static int	(*real_open) (const char *, int, ...);
static int	(*real_open64) (const char *, int, ...);
static int	(*real_openat) (int, const char *, int, ...);
static int	(*real_openat64) (int, const char *, int, ...);
static int	(*real_creat) (const char *, mode_t);
static int	(*real_creat64) (const char *, mode_t);
static ssize_t (*real_write) (int, const void *, size_t);
static ssize_t (*real_pwrite) (int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64) (int, const void *, size_t, off64_t);
static int	(*real_fsync) (int);
static int	(*real_fdatasync) (int);
static int	(*real_rename) (const char *, const char *);
static int	(*real_renameat) (int, const char *, int, const char *);
static int	(*real_close) (int);

/* configuration, from the environment at load time */
static char ctl_path[FAULTFS_PATH_LEN];
static char log_path[FAULTFS_PATH_LEN];
static char prefixes[FAULTFS_MAX_PREFIX][FAULTFS_PATH_LEN];
static size_t prefix_len[FAULTFS_MAX_PREFIX];
static int	nprefixes;

/* descriptors opened under a prefix */
static unsigned char fd_marked[FAULTFS_MAX_FD];

/* the control file as last read, and this process's count */
static struct stat ctl_seen;
static bool ctl_seen_valid;
static FaultOp fault_op = FAULT_NONE;
static long fault_k;
static int	fault_errno;
static char fault_errno_name[16];
static long fault_generation = -1;
static long fault_pid;
static long counted_generation = -1;
static long fault_count;
static bool fault_fired;

static void
copy_env(char *dst, const char *name)
{
	const char *v = getenv(name);

	dst[0] = '\0';
	if (v != NULL && strlen(v) < FAULTFS_PATH_LEN)
		strcpy(dst, v);
}

/*
 * The real functions.  Called at load, and again by a wrapper that runs
 * before that (a library's constructor may open a file first).
 */
static void
resolve(void)
{
	real_open = dlsym(RTLD_NEXT, "open");
	real_open64 = dlsym(RTLD_NEXT, "open64");
	real_openat = dlsym(RTLD_NEXT, "openat");
	real_openat64 = dlsym(RTLD_NEXT, "openat64");
	real_creat = dlsym(RTLD_NEXT, "creat");
	real_creat64 = dlsym(RTLD_NEXT, "creat64");
	real_write = dlsym(RTLD_NEXT, "write");
	real_pwrite = dlsym(RTLD_NEXT, "pwrite");
	real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
	real_fsync = dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
	real_rename = dlsym(RTLD_NEXT, "rename");
	real_renameat = dlsym(RTLD_NEXT, "renameat");
	real_close = dlsym(RTLD_NEXT, "close");
}

#define RESOLVED(fn) do { if ((fn) == NULL) resolve(); } while (0)

/* Resolve the real functions and read the environment once, at load. */
__attribute__((constructor))
static void
faultfs_init(void)
{
	char		list[FAULTFS_PATH_LEN];
	char	   *p;

	resolve();
	copy_env(ctl_path, "TDE_FAULT_CTL");
	copy_env(log_path, "TDE_FAULT_LOG");
	copy_env(list, "TDE_FAULT_PREFIX");

	/* absolute directories only, without a trailing slash */
	for (p = strtok(list, ":"); p != NULL && nprefixes < FAULTFS_MAX_PREFIX;
		 p = strtok(NULL, ":"))
	{
		size_t		len = strlen(p);

		while (len > 1 && p[len - 1] == '/')
			len--;
		if (p[0] != '/' || len == 0)
			continue;
		memcpy(prefixes[nprefixes], p, len);
		prefixes[nprefixes][len] = '\0';
		prefix_len[nprefixes] = len;
		nprefixes++;
	}
}

static bool
under_prefix(const char *path)
{
	int			i;

	if (path == NULL || path[0] != '/')
		return false;
	for (i = 0; i < nprefixes; i++)
		if (strncmp(path, prefixes[i], prefix_len[i]) == 0 &&
			(path[prefix_len[i]] == '/' || path[prefix_len[i]] == '\0'))
			return true;
	return false;
}

/* The path a descriptor is open on, into buf; false if unknown. */
static bool
fd_path(int fd, char *buf, size_t size)
{
	char		link[64];
	ssize_t		n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* A decimal number at *s, which is moved past it; false if none. */
static bool
parse_long(const char **s, long *out)
{
	const char *p = *s;
	long		v = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	*s = p;
	*out = v;
	return true;
}

/* A word at *s, copied into buf; false if none. */
static bool
parse_word(const char **s, char *buf, size_t size)
{
	const char *p = *s;
	size_t		n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
	{
		if (n + 1 >= size)
			return false;
		buf[n++] = *p++;
	}
	buf[n] = '\0';
	*s = p;
	return n > 0;
}

/*
 * Reread the control file if it changed.  An unreadable or malformed one
 * means no fault.
 */
static void
reload_control(void)
{
	struct stat st;
	char		buf[256];
	char		opname[16];
	const char *p = buf;
	ssize_t		n;
	int			fd;
	int			i;
	long		k = 0;
	long		generation = 0;
	long		pid = 0;

	if (ctl_path[0] == '\0' || stat(ctl_path, &st) != 0)
	{
		fault_op = FAULT_NONE;
		ctl_seen_valid = false;
		return;
	}
	if (ctl_seen_valid && st.st_ino == ctl_seen.st_ino &&
		st.st_size == ctl_seen.st_size &&
		st.st_mtim.tv_sec == ctl_seen.st_mtim.tv_sec &&
		st.st_mtim.tv_nsec == ctl_seen.st_mtim.tv_nsec)
		return;
	ctl_seen = st;
	ctl_seen_valid = true;
	fault_op = FAULT_NONE;

	fd = real_open(ctl_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	real_close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';

	if (!parse_word(&p, opname, sizeof(opname)) ||
		!parse_long(&p, &k) ||
		!parse_word(&p, fault_errno_name, sizeof(fault_errno_name)) ||
		!parse_long(&p, &generation))
		return;
	if (!parse_long(&p, &pid))
		pid = 0;

	fault_errno = 0;
	for (i = 0; i < (int) (sizeof(errno_names) / sizeof(errno_names[0])); i++)
		if (strcmp(fault_errno_name, errno_names[i].name) == 0)
			fault_errno = errno_names[i].value;
	fault_generation = generation;
	fault_k = k;
	fault_pid = pid;
	if (fault_errno == 0 || k <= 0)
		return;
	for (i = FAULT_OPEN; i <= FAULT_RENAME; i++)
		if (strcmp(opname, op_names[i]) == 0)
			fault_op = (FaultOp) i;
}

static void
log_fired(const char *func, const char *path)
{
	char		line[FAULTFS_PATH_LEN + 128];
	int			len;
	int			fd;

	if (log_path[0] == '\0')
		return;
	len = snprintf(line, sizeof(line), "%ld %d %s %s %s %s\n",
				   fault_generation, (int) getpid(), op_names[fault_op],
				   fault_errno_name, func, path);
	if (len <= 0 || len >= (int) sizeof(line))
		return;
	fd = real_open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	/* one write with O_APPEND: lines of two processes never mix */
	if (real_write(fd, line, len) != len)
		(void) 0;
	real_close(fd);
}

/*
 * A call of kind op on path (under a prefix): should it fail?  If so,
 * errno is set, the firing logged, and true returned.
 */
static bool
should_fail(FaultOp op, const char *func, const char *path)
{
	int			save_errno = errno;

	reload_control();
	if (fault_generation != counted_generation)
	{
		counted_generation = fault_generation;
		fault_count = 0;
		fault_fired = false;
	}
	if (fault_op != op || fault_fired ||
		(fault_pid != 0 && fault_pid != (long) getpid()))
	{
		errno = save_errno;
		return false;
	}
	if (++fault_count != fault_k)
	{
		errno = save_errno;
		return false;
	}
	fault_fired = true;
	log_fired(func, path);
	errno = fault_errno;
	return true;
}

/* A descriptor call of kind op: fail it if it is on a file under a prefix. */
static bool
fd_should_fail(FaultOp op, const char *func, int fd)
{
	char		path[FAULTFS_PATH_LEN];

	if (fd < 0 || fd >= FAULTFS_MAX_FD || !fd_marked[fd])
		return false;
	if (!fd_path(fd, path, sizeof(path)) || !under_prefix(path))
	{
		/* closed and reused behind our back: not ours any more */
		fd_marked[fd] = 0;
		return false;
	}
	return should_fail(op, func, path);
}

static void
mark(int fd, const char *path)
{
	if (fd >= 0 && fd < FAULTFS_MAX_FD)
		fd_marked[fd] = under_prefix(path) ? 1 : 0;
}

/* open's mode argument exists only with O_CREAT or O_TMPFILE */
static bool
needs_mode(int flags)
{
	return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
}

#define MODE_ARG(flags, mode) \
	do { \
		if (needs_mode(flags)) \
		{ \
			va_list		ap; \
			va_start(ap, flags); \
			mode = (mode_t) va_arg(ap, int); \
			va_end(ap); \
		} \
	} while (0)

static int
do_open(int (*fn) (const char *, int, ...), const char *func,
		const char *path, int flags, mode_t mode)
{
	int			fd;

	if (under_prefix(path) && should_fail(FAULT_OPEN, func, path))
		return -1;
	fd = fn(path, flags, mode);
	mark(fd, path);
	return fd;
}

static int
do_openat(int (*fn) (int, const char *, int, ...), const char *func,
		  int dirfd, const char *path, int flags, mode_t mode)
{
	int			fd;
	bool		ours = under_prefix(path);	/* absolute: dirfd plays no part */

	if (ours && should_fail(FAULT_OPEN, func, path))
		return -1;
	fd = fn(dirfd, path, flags, mode);
	if (fd >= 0 && fd < FAULTFS_MAX_FD)
		fd_marked[fd] = ours ? 1 : 0;
	return fd;
}

int
open(const char *path, int flags,...)
{
	mode_t		mode = 0;

	MODE_ARG(flags, mode);
	RESOLVED(real_open);
	return do_open(real_open, "open", path, flags, mode);
}

int
open64(const char *path, int flags,...)
{
	mode_t		mode = 0;

	MODE_ARG(flags, mode);
	RESOLVED(real_open64);
	return do_open(real_open64, "open64", path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags,...)
{
	mode_t		mode = 0;

	MODE_ARG(flags, mode);
	RESOLVED(real_openat);
	return do_openat(real_openat, "openat", dirfd, path, flags, mode);
}

int
openat64(int dirfd, const char *path, int flags,...)
{
	mode_t		mode = 0;

	MODE_ARG(flags, mode);
	RESOLVED(real_openat64);
	return do_openat(real_openat64, "openat64", dirfd, path, flags, mode);
}

int
creat(const char *path, mode_t mode)
{
	int			fd;

	RESOLVED(real_creat);
	if (under_prefix(path) && should_fail(FAULT_OPEN, "creat", path))
		return -1;
	fd = real_creat(path, mode);
	mark(fd, path);
	return fd;
}

int
creat64(const char *path, mode_t mode)
{
	int			fd;

	RESOLVED(real_creat64);
	if (under_prefix(path) && should_fail(FAULT_OPEN, "creat64", path))
		return -1;
	fd = real_creat64(path, mode);
	mark(fd, path);
	return fd;
}

int
close(int fd)
{
	RESOLVED(real_close);
	if (fd >= 0 && fd < FAULTFS_MAX_FD)
		fd_marked[fd] = 0;
	return real_close(fd);
}

ssize_t
write(int fd, const void *buf, size_t count)
{
	RESOLVED(real_write);
	if (fd_should_fail(FAULT_WRITE, "write", fd))
		return -1;
	return real_write(fd, buf, count);
}

ssize_t
pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	RESOLVED(real_pwrite);
	if (fd_should_fail(FAULT_WRITE, "pwrite", fd))
		return -1;
	return real_pwrite(fd, buf, count, offset);
}

ssize_t
pwrite64(int fd, const void *buf, size_t count, off64_t offset)
{
	RESOLVED(real_pwrite64);
	if (fd_should_fail(FAULT_WRITE, "pwrite64", fd))
		return -1;
	return real_pwrite64(fd, buf, count, offset);
}

int
fsync(int fd)
{
	RESOLVED(real_fsync);
	if (fd_should_fail(FAULT_FSYNC, "fsync", fd))
		return -1;
	return real_fsync(fd);
}

int
fdatasync(int fd)
{
	RESOLVED(real_fdatasync);
	if (fd_should_fail(FAULT_FSYNC, "fdatasync", fd))
		return -1;
	return real_fdatasync(fd);
}

int
rename(const char *from, const char *to)
{
	RESOLVED(real_rename);
	if ((under_prefix(from) || under_prefix(to)) &&
		should_fail(FAULT_RENAME, "rename", to))
		return -1;
	return real_rename(from, to);
}

int
renameat(int fromdirfd, const char *from, int todirfd, const char *to)
{
	RESOLVED(real_renameat);
	if ((under_prefix(from) || under_prefix(to)) &&
		should_fail(FAULT_RENAME, "renameat", to))
		return -1;
	return real_renameat(fromdirfd, from, todirfd, to);
}
