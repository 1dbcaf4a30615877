/*-------------------------------------------------------------------------
 *
 * secure.h
 *	  Memory for secrets: passwords and key bytes.
 *
 * A secure chunk is a block of this process's secure arena: locked in RAM
 * (never swapped), left out of core dumps and zeroed in a forked child.
 * It belongs to the current memory context: a reset callback registered
 * there wipes the block and gives it back when the context is reset or
 * deleted, so a secret is wiped on every path, errors included, without
 * PG_TRY blocks at every caller.  The block starts zeroed.  It is not
 * palloc'd memory: never pfree or repalloc it (wipe it early with
 * tde_wipe if need be).  Where the kernel refuses to lock it
 * (RLIMIT_MEMLOCK) it is used unlocked, and that is logged once.
 *
 * tde_secure_protect_shared locks a page-aligned range of shared memory and
 * leaves it out of core dumps; the postmaster applies it to the shared key
 * area (keystore/state.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_SECURE_H
#define TDE_SECURE_H

extern void *tde_secure_alloc(Size size);
extern char *tde_secure_text_to_cstring(const text *t);
extern void tde_wipe(void *p, Size len);

/*
 * Called with every secret tde_secure_text_to_cstring receives: the log
 * redaction (sql/redact) registers itself here at start-up, so that this
 * bottom unit calls up only through a pointer it was given.
 */
typedef void (*TdeSecretHook) (const char *secret);
extern void tde_secure_configure(Size shared_key_area_size, TdeSecretHook hook);

extern Size tde_secure_page_size(void);
extern bool tde_secure_protect_shared(void *p, Size len);
extern Size tde_secure_shmem_size(void);
extern void tde_secure_shmem_init(void *area, bool found);

#endif							/* TDE_SECURE_H */
