/*-------------------------------------------------------------------------
 *
 * secure.c
 *	  Memory for secrets: locked in RAM, left out of core dumps, and wiped
 *	  when its memory context goes away.
 *
 * See util/secure.h.  Secrets never live in palloc'd memory: they come from an
 * arena of private anonymous mappings of this process that are locked
 * (mlock, so never written to swap), excluded from core dumps
 * (MADV_DONTDUMP), zeroed in a forked child (MADV_WIPEONFORK) and, where the
 * kernel names mappings, named "tde secure" in /proc/<pid>/maps.
 *
 * The allocator is small on purpose.  A request of up to SECURE_MAX_CLASS
 * bytes takes a block of the next power of two (at least SECURE_MIN_CLASS)
 * from that size's free list, or carves one from the current region of
 * SECURE_REGION_SIZE bytes; a larger request gets a mapping of its own,
 * rounded up to whole pages.  Each block is owned by a SecureChunk, palloc'd
 * in the caller's memory context, whose reset callback wipes the block and
 * returns it (to its free list, or to the kernel for a mapping of its own)
 * when that context is reset or deleted; so a secret is wiped on every
 * path, errors included.  Regions are never unmapped: the arena is as large
 * as the most secure memory the process ever held at once.  Bookkeeping
 * (the chunks, the free-list heads) is not secret; a free block holds only
 * the link to the next one, the rest of it zero.
 *
 * Where the kernel refuses to lock (RLIMIT_MEMLOCK) or to exclude memory,
 * the memory is used anyway, and the failure is logged once per server
 * start (once per process where shared memory is not there yet), with a
 * hint on raising the limit.
 *
 * The same protection, tde_secure_protect_shared, is applied to the shared
 * key area by the postmaster at startup (keystore/state.c): locked there, the shared
 * pages stay resident for every backend, and MADV_DONTDUMP is inherited
 * by fork.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "miscadmin.h"
#include "port/atomics.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "tde/util/secure.h"

#define SECURE_MIN_CLASS	16
#define SECURE_MAX_CLASS	4096
#define SECURE_NCLASSES		9	/* 16, 32, ..., 4096 */
#define SECURE_REGION_SIZE	(64 * 1024)

typedef struct SecureChunk
{
	MemoryContextCallback cb;
	void	   *data;
	Size		size;			/* the block's size: a class, or whole pages */
	int			class;			/* free list, or -1 for a mapping of its own */
	pid_t		pid;			/* the process that allocated it */
} SecureChunk;

typedef struct SecureFree
{
	struct SecureFree *next;
} SecureFree;

/* Instance-wide: each failure is logged once per server start. */
typedef struct TdeSecureShared
{
	pg_atomic_uint32 lock_failure_logged;
	pg_atomic_uint32 dontdump_failure_logged;
} TdeSecureShared;

static TdeSecureShared *secure_shared = NULL;

/* Told at start-up, from above: see tde_secure_configure */
static Size key_area_size = 0;
static TdeSecretHook secret_hook = NULL;

/* The arena of this process */
static pid_t arena_pid = 0;
static char *region_next = NULL;
static char *region_end = NULL;
static SecureFree *free_lists[SECURE_NCLASSES];
static bool lock_failure_logged = false;
static bool dontdump_failure_logged = false;

static Size
page_size(void)
{
	static Size size = 0;

	if (size == 0)
	{
		long		n = sysconf(_SC_PAGESIZE);

		size = n > 0 ? (Size) n : 4096;
	}
	return size;
}

Size
tde_secure_page_size(void)
{
	return page_size();
}

/* ---------------------------------------------------------------------
 * Locking and excluding from core dumps
 * ---------------------------------------------------------------------
 */

static bool
first_failure(pg_atomic_uint32 *shared_flag, bool *local_flag)
{
	if (*local_flag)
		return false;
	*local_flag = true;
	if (shared_flag != NULL)
		return pg_atomic_exchange_u32(shared_flag, 1) == 0;
	return true;
}

static void
report_lock_failure(Size len, bool shared)
{
	int			save_errno = errno;

	if (!first_failure(secure_shared ? &secure_shared->lock_failure_logged : NULL,
					   &lock_failure_logged))
		return;
	errno = save_errno;
	ereport(shared ? WARNING : LOG,
			(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
			 errmsg("could not lock tde key memory of %zu bytes in RAM: %m", len),
			 errdetail("Key material may be written to swap.  The memory is used unlocked; this is logged once per server start."),
			 errhint("Raise the locked-memory limit (RLIMIT_MEMLOCK) of the server's operating system user, for example with LimitMEMLOCK= in its systemd unit or \"ulimit -l\" before pg_ctl start: the shared key area takes %zu kB, each backend some more.",
					 key_area_size / 1024)));
}

static void
report_dontdump_failure(Size len, bool shared)
{
	int			save_errno = errno;

	if (!first_failure(secure_shared ? &secure_shared->dontdump_failure_logged : NULL,
					   &dontdump_failure_logged))
		return;
	errno = save_errno;
	ereport(shared ? WARNING : LOG,
			(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
			 errmsg("could not exclude tde key memory of %zu bytes from core dumps: %m", len),
			 errdetail("A core dump of the server may contain key material.  This is logged once per server start."),
			 errhint("Where the server's shared memory is in huge pages (huge_pages), the shared key area cannot be excluded: set huge_pages = off, or disable core dumps of the server (ulimit -c 0).")));
}

/*
 * Lock a page-aligned range and leave it out of core dumps, logging (once)
 * what the kernel refuses.  Returns whether the range is locked.
 */
static bool
protect_range(void *p, Size len, bool shared)
{
	bool		locked = true;

	Assert(((uintptr_t) p) % page_size() == 0 && len % page_size() == 0);
#ifdef MADV_DONTDUMP
	if (madvise(p, len, MADV_DONTDUMP) != 0)
		report_dontdump_failure(len, shared);
#endif
	if (mlock(p, len) != 0)
	{
		report_lock_failure(len, shared);
		locked = false;
	}
	return locked;
}

bool
tde_secure_protect_shared(void *p, Size len)
{
	return protect_range(p, len, true);
}

/*
 * What this unit needs from above, told once by _PG_init: the size of the
 * shared key area (for the hint on raising the locked-memory limit), and
 * the function that keeps a secret out of the server log (sql/redact).
 */
void
tde_secure_configure(Size shared_key_area_size, TdeSecretHook hook)
{
	key_area_size = shared_key_area_size;
	secret_hook = hook;
}

/*
 * Shared memory for the once-per-start flags: tde.c requests this much and
 * hands over the area (found: it was set up before).
 */
Size
tde_secure_shmem_size(void)
{
	return MAXALIGN(sizeof(TdeSecureShared));
}

void
tde_secure_shmem_init(void *area, bool found)
{
	secure_shared = (TdeSecureShared *) area;
	if (!found)
	{
		pg_atomic_init_u32(&secure_shared->lock_failure_logged, 0);
		pg_atomic_init_u32(&secure_shared->dontdump_failure_logged, 0);
	}
}

/* ---------------------------------------------------------------------
 * The arena
 * ---------------------------------------------------------------------
 */

static void *
map_secure(Size len)
{
	void	   *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (p == MAP_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not map %zu bytes of secure memory: %m.", len)));
#ifdef MADV_WIPEONFORK
	(void) madvise(p, len, MADV_WIPEONFORK);
#endif
#if defined(PR_SET_VMA) && defined(PR_SET_VMA_ANON_NAME)
	/* a name in /proc/<pid>/maps where the kernel supports it */
	(void) prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long) p, len,
				 (unsigned long) "tde secure");
#endif
	(void) protect_range(p, len, false);
	return p;
}

static void
unmap_secure(void *p, Size len)
{
	explicit_bzero(p, len);
	(void) munlock(p, len);
	(void) munmap(p, len);
}

/* A process forked from one with an arena starts an arena of its own. */
static void
arena_check_pid(void)
{
	if (arena_pid == MyProcPid)
		return;
	arena_pid = MyProcPid;
	region_next = region_end = NULL;
	memset(free_lists, 0, sizeof(free_lists));
}

static int
size_class(Size size)
{
	int			c = 0;
	Size		s = SECURE_MIN_CLASS;

	while (s < size)
	{
		s <<= 1;
		c++;
	}
	return c;
}

static void *
arena_alloc(int class)
{
	Size		size = (Size) SECURE_MIN_CLASS << class;
	void	   *p;

	if (free_lists[class] != NULL)
	{
		p = free_lists[class];
		free_lists[class] = free_lists[class]->next;
		/* the link was the only non-zero part */
		memset(p, 0, sizeof(SecureFree));
		return p;
	}
	if (region_next == NULL || (Size) (region_end - region_next) < size)
	{
		region_next = map_secure(SECURE_REGION_SIZE);
		region_end = region_next + SECURE_REGION_SIZE;
	}
	p = region_next;
	region_next += size;
	return p;
}

static void
secure_chunk_free(void *arg)
{
	SecureChunk *chunk = (SecureChunk *) arg;

	if (chunk->class < 0)
	{
		unmap_secure(chunk->data, chunk->size);
		return;
	}
	explicit_bzero(chunk->data, chunk->size);
	/* a block inherited from a parent process is not this arena's */
	if (chunk->pid == MyProcPid && arena_pid == chunk->pid)
	{
		SecureFree *f = (SecureFree *) chunk->data;

		f->next = free_lists[chunk->class];
		free_lists[chunk->class] = f;
	}
}

void *
tde_secure_alloc(Size size)
{
	SecureChunk *chunk;

	arena_check_pid();
	/* the bookkeeping first: once the block is taken, nothing may fail */
	chunk = palloc(sizeof(SecureChunk));
	chunk->pid = arena_pid;
	if (size <= SECURE_MAX_CLASS)
	{
		chunk->class = size_class(size);
		chunk->size = (Size) SECURE_MIN_CLASS << chunk->class;
		chunk->data = arena_alloc(chunk->class);
	}
	else
	{
		if (size > MaxAllocSize)
			elog(ERROR, "invalid secure memory request size %zu", size);
		chunk->class = -1;
		chunk->size = TYPEALIGN(page_size(), size);
		chunk->data = map_secure(chunk->size);
	}
	chunk->cb.func = secure_chunk_free;
	chunk->cb.arg = chunk;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &chunk->cb);
	return chunk->data;
}

char *
tde_secure_text_to_cstring(const text *t)
{
	text	   *detoasted = pg_detoast_datum_packed((text *) t);
	Size		len = VARSIZE_ANY_EXHDR(detoasted);
	char	   *copy = tde_secure_alloc(len + 1);

	memcpy(copy, VARDATA_ANY(detoasted), len);
	copy[len] = '\0';
	/* a secret arrived: keep it and this statement out of the log */
	if (secret_hook != NULL)
		secret_hook(copy);
	if (detoasted != t)
	{
		explicit_bzero(VARDATA_ANY(detoasted), len);
		pfree(detoasted);
	}
	return copy;
}

void
tde_wipe(void *p, Size len)
{
	if (p != NULL)
		explicit_bzero(p, len);
}
