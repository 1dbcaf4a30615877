/*-------------------------------------------------------------------------
 *
 * backend.c
 *	  One fuzz input as one transaction; transaction and resource-owner
 *	  callbacks; transient files; the scratch directory and seed files.
 *
 * tde_fuzz_run is what postgres.c and xact.c do around a statement: a
 * TopTransactionContext current while the input runs, the outermost
 * PG_TRY, then commit or abort: the transaction callbacks, the resource
 * release callbacks in their three phases (cipher.c frees its OpenSSL
 * context in one), the transient files closed (fd.c's AtEOXact_Files) and
 * the transaction's memory deleted.  A rejection is an ERROR with a
 * specific SQLSTATE.  Findings abort:
 *	 - an ERROR whose SQLSTATE is XX000, from elog or a bare ereport: the
 *	   design allows it only for what cannot happen (TDE_FUZZ_ALLOW_XX000=1
 *	   turns this off while triaging);
 *	 - at commit, an error left on the error stack (a PG_CATCH that neither
 *	   flushed nor rethrew) or a transient file left open (fd.c warns);
 *	 - memory of the session (TopMemoryContext and its children) that grows
 *	   past MAX_SESSION_MEMORY: what a backend would accumulate per call;
 *	 - FATAL, PANIC, an Assert (errors.c), misuse of memory (memory.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "fuzz_backend.h"

#define MAX_CALLBACKS	16
#define MAX_TRANSIENT	16
/* session-lifetime memory beyond this after an input is a leak */
#define MAX_SESSION_MEMORY	((Size) 64 * 1024 * 1024)

const char *tde_fuzz_root = NULL;
int			tde_fuzz_last_sqlstate = 0;

static struct
{
	XactCallback fn;
	void	   *arg;
}			xact_callbacks[MAX_CALLBACKS];
static int	nxact_callbacks = 0;

static struct
{
	SubXactCallback fn;
	void	   *arg;
}			subxact_callbacks[MAX_CALLBACKS];
static int	nsubxact_callbacks = 0;

static struct
{
	ResourceReleaseCallback fn;
	void	   *arg;
}			release_callbacks[MAX_CALLBACKS];
static int	nrelease_callbacks = 0;

static int	transient_fds[MAX_TRANSIENT];
static int	ntransient = 0;
static bool in_transaction = false;

void
tde_fuzz_fail(const char *fmt,...)
{
	va_list		args;

	fprintf(stderr, "==tde-fuzz== FINDING: ");
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fprintf(stderr, "\n");
	abort();
}

/* ---------------------------------------------------------------------
 * Transactions
 * ---------------------------------------------------------------------
 */

void
RegisterXactCallback(XactCallback callback, void *arg)
{
	if (nxact_callbacks == MAX_CALLBACKS)
		tde_fuzz_fail("too many transaction callbacks");
	xact_callbacks[nxact_callbacks].fn = callback;
	xact_callbacks[nxact_callbacks++].arg = arg;
}

void
RegisterSubXactCallback(SubXactCallback callback, void *arg)
{
	if (nsubxact_callbacks == MAX_CALLBACKS)
		tde_fuzz_fail("too many subtransaction callbacks");
	subxact_callbacks[nsubxact_callbacks].fn = callback;
	subxact_callbacks[nsubxact_callbacks++].arg = arg;
}

void
RegisterResourceReleaseCallback(ResourceReleaseCallback callback, void *arg)
{
	if (nrelease_callbacks == MAX_CALLBACKS)
		tde_fuzz_fail("too many resource release callbacks");
	release_callbacks[nrelease_callbacks].fn = callback;
	release_callbacks[nrelease_callbacks++].arg = arg;
}

bool
IsTransactionState(void)
{
	return in_transaction;
}

SubTransactionId
GetCurrentSubTransactionId(void)
{
	return TopSubTransactionId;
}

/* xact.c's order: transaction callbacks, then the resource owner's phases */
static void
end_callbacks(bool commit)
{
	int			i;
	int			phase;

	if (commit)
		for (i = 0; i < nxact_callbacks; i++)
			xact_callbacks[i].fn(XACT_EVENT_PRE_COMMIT, xact_callbacks[i].arg);
	for (i = 0; i < nxact_callbacks; i++)
		xact_callbacks[i].fn(commit ? XACT_EVENT_COMMIT : XACT_EVENT_ABORT,
							 xact_callbacks[i].arg);
	for (phase = RESOURCE_RELEASE_BEFORE_LOCKS;
		 phase <= RESOURCE_RELEASE_AFTER_LOCKS; phase++)
		for (i = 0; i < nrelease_callbacks; i++)
			release_callbacks[i].fn((ResourceReleasePhase) phase, commit, true,
									release_callbacks[i].arg);
}

/* Transient files: closed at abort; one left open at commit is a finding. */
static void
end_files(bool commit)
{
	if (commit && ntransient > 0)
		tde_fuzz_fail("%d transient files not closed at commit", ntransient);
	while (ntransient > 0)
		close(transient_fds[--ntransient]);
}

/* The error that ended the input: a rejection, or a finding. */
static void
check_caught_error(void)
{
	const char *message = NULL;
	int			sqlstate = tde_fuzz_caught_error(&message);

	if (sqlstate == 0)
		tde_fuzz_fail("longjmp to the harness without an error");
	tde_fuzz_last_sqlstate = sqlstate;
	if (sqlstate == ERRCODE_INTERNAL_ERROR && !getenv("TDE_FUZZ_ALLOW_XX000"))
		tde_fuzz_fail("ERROR with SQLSTATE XX000 (elog: cannot happen): %s",
					  message);
	if (getenv("TDE_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz: rejected (%s): %s\n",
				unpack_sql_state(sqlstate), message);
}

void
tde_fuzz_run(TdeFuzzInput fn, const uint8_t *data, size_t size)
{
	sigjmp_buf	jb;
	volatile bool commit = false;

	TopTransactionContext = AllocSetContextCreate(TopMemoryContext,
												  "TopTransactionContext",
												  ALLOCSET_DEFAULT_SIZES);
	CurTransactionContext = TopTransactionContext;
	MessageContext = TopTransactionContext;
	MemoryContextSwitchTo(TopTransactionContext);
	in_transaction = true;
	tde_fuzz_last_sqlstate = 0;
	error_context_stack = NULL;

	if (sigsetjmp(jb, 0) == 0)
	{
		PG_exception_stack = &jb;
		fn(data, size);
		commit = true;
		if (tde_fuzz_error_depth() != 0)
			tde_fuzz_fail("an error left on the error stack at commit");
	}
	else
		check_caught_error();
	PG_exception_stack = NULL;
	error_context_stack = NULL;

	/* abort processing runs in TopTransactionContext, as in xact.c */
	MemoryContextSwitchTo(TopTransactionContext);
	end_callbacks(commit);
	end_files(commit);
	tde_fuzz_errors_reset();
	in_transaction = false;
	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextDelete(TopTransactionContext);
	TopTransactionContext = CurTransactionContext = MessageContext = NULL;
	if (MemoryContextMemAllocated(TopMemoryContext, true) > MAX_SESSION_MEMORY)
		tde_fuzz_fail("session memory grew to %zu bytes",
					  MemoryContextMemAllocated(TopMemoryContext, true));
}

/* ---------------------------------------------------------------------
 * Files (storage/fd.c's transient files)
 * ---------------------------------------------------------------------
 */

int
OpenTransientFilePerm(const char *fileName, int fileFlags, mode_t fileMode)
{
	int			fd;

	if (ntransient == MAX_TRANSIENT)
		tde_fuzz_fail("too many transient files open");
	fd = open(fileName, fileFlags, fileMode);
	if (fd >= 0)
		transient_fds[ntransient++] = fd;
	return fd;
}

int
OpenTransientFile(const char *fileName, int fileFlags)
{
	return OpenTransientFilePerm(fileName, fileFlags, S_IRUSR | S_IWUSR);
}

int
CloseTransientFile(int fd)
{
	int			i;

	for (i = 0; i < ntransient; i++)
		if (transient_fds[i] == fd)
		{
			transient_fds[i] = transient_fds[--ntransient];
			return close(fd);
		}
	tde_fuzz_fail("CloseTransientFile(%d) of a file it did not open", fd);
}

int
pg_fsync(int fd)
{
	return fsync(fd);
}

void
tde_fuzz_write_file(const char *path, const void *data, size_t size)
{
	FILE	   *f = fopen(path, "wb");

	if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) ||
		fclose(f) != 0)
		tde_fuzz_fail("could not write scratch file \"%s\"", path);
}

/* ---------------------------------------------------------------------
 * Start-up, scratch directory, seeds
 * ---------------------------------------------------------------------
 */

static char root_buf[MAXPGPATH];

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* at exit: the scratch directory and what the inputs left in it */
static void
remove_root(void)
{
	if (tde_fuzz_root != NULL)
		(void) nftw(root_buf, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
make_dir(const char *parent, const char *name)
{
	char		path[MAXPGPATH];

	snprintf(path, sizeof(path), "%s/%s", parent, name);
	if (mkdir(path, S_IRWXU) != 0 && errno != EEXIST)
		tde_fuzz_fail("could not create %s: %m", path);
}

void
tde_fuzz_init(void)
{
	const char *base = getenv("TMPDIR");
	struct stat st;

	if (base == NULL && stat("/dev/shm", &st) == 0)
		base = "/dev/shm";
	if (base == NULL)
		base = "/tmp";
	MyProcPid = getpid();
	tde_fuzz_memory_init();
	snprintf(root_buf, sizeof(root_buf), "%s/tde-fuzz.%d", base, (int) MyProcPid);
	if (mkdir(root_buf, S_IRWXU) != 0 && errno != EEXIST)
		tde_fuzz_fail("could not create %s: %m", root_buf);
	make_dir(root_buf, "tde");
	make_dir(root_buf, "tde_seps");
	tde_fuzz_root = root_buf;
	atexit(remove_root);
}

const char *
tde_fuzz_seed_dir(void)
{
	const char *dir = getenv("TDE_FUZZ_SEEDS");

	return (dir && dir[0]) ? dir : NULL;
}

void
tde_fuzz_seed(const char *name, const void *data, size_t size)
{
	char		path[MAXPGPATH];

	snprintf(path, sizeof(path), "%s/%s", tde_fuzz_seed_dir(), name);
	tde_fuzz_write_file(path, data, size);
}
