/*-------------------------------------------------------------------------
 *
 * fuzz_backend.h
 *	  What the fuzz harnesses get from the backend emulation in
 *	  fuzz/support/: one call per input, run as a transaction.
 *
 * tde_fuzz_run runs one input the way the server runs one statement: in
 * a transaction whose memory context is deleted at its end, an
 * ereport(ERROR) caught by the outermost PG_TRY (a clean rejection), the
 * transaction and resource-owner callbacks called at commit or abort, and
 * transient files closed at abort.  What the server would never do
 * quietly is a finding: it aborts the process, so libFuzzer records the
 * input as a crash (see doc/reliability.md, "Fuzzing").
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_FUZZ_BACKEND_H
#define TDE_FUZZ_BACKEND_H

#include <stddef.h>
#include <stdint.h>

typedef void (*TdeFuzzInput) (const uint8_t *data, size_t size);

/* once, from LLVMFuzzerInitialize */
extern void tde_fuzz_init(void);

/* one input, as one transaction */
extern void tde_fuzz_run(TdeFuzzInput fn, const uint8_t *data, size_t size);

/* the SQLSTATE of the error that ended the last run, or 0 */
extern int	tde_fuzz_last_sqlstate;

/* a scratch directory of this process: the wallet root of the harnesses */
extern const char *tde_fuzz_root;

/* write a whole file (the input, as the file a reader opens) */
extern void tde_fuzz_write_file(const char *path, const void *data, size_t size);

/*
 * Seed generation: if TDE_FUZZ_SEEDS names a directory, the harness writes
 * its seeds there (tde_fuzz_seed) and exits instead of fuzzing.
 */
extern const char *tde_fuzz_seed_dir(void);
extern void tde_fuzz_seed(const char *name, const void *data, size_t size);

/* a finding: print it and abort (libFuzzer then saves the input) */
extern void tde_fuzz_fail(const char *fmt,...)
			pg_attribute_printf(1, 2) pg_attribute_noreturn();

/* memory.c */
extern void tde_fuzz_memory_init(void);

/* errors.c */
extern void tde_fuzz_errors_reset(void);
extern int	tde_fuzz_error_depth(void);
extern int	tde_fuzz_caught_error(const char **message);

#endif							/* TDE_FUZZ_BACKEND_H */
