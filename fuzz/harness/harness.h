/*-------------------------------------------------------------------------
 *
 * harness.h
 *	  What the harnesses share: the libFuzzer entry points, the checks on
 *	  what a reader returned, and the fixed credentials of the seeds.
 *
 * A reader that accepts its input must return something the code above it
 * can use safely: counts within their arrays, strings terminated inside
 * their buffers, key lengths within the key buffer.  The checks below read
 * every field (so the sanitizers see any uninitialised or freed byte) and
 * abort on a broken invariant: a finding, as a crash is.  What an export
 * file returns is checked against what IMPORT KEYS does with it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_FUZZ_HARNESS_H
#define TDE_FUZZ_HARNESS_H

#include "fuzz_backend.h"
#include "tde/keystore/keyrecord.h"
#include "tde/store/wallet.h"

/* The passwords of the seeds (those of the regression tests) */
#define FUZZ_WALLET_PASSWORD	"regress_pw1"
#define FUZZ_EXPORT_SECRET		"my_secret"

/* The seed wallets are written with this many KDF iterations: cheap runs */
#define FUZZ_SEED_ITERATIONS	1

/*
 * Define the entry points: init() once (it writes the harness's seeds if
 * asked, see tde_fuzz_seed_dir; a harness without generated seeds writes
 * none, and then too the process ends there), one_input() per input
 * inside tde_fuzz_run.
 */
#define TDE_FUZZ_TARGET(init, one_input) \
	int LLVMFuzzerInitialize(int *argc, char ***argv); \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); \
	int \
	LLVMFuzzerInitialize(int *argc, char ***argv) \
	{ \
		tde_fuzz_init(); \
		init(); \
		if (tde_fuzz_seed_dir() != NULL) \
			exit(0); \
		return 0; \
	} \
	int \
	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) \
	{ \
		tde_fuzz_run(one_input, data, size); \
		return 0; \
	}

/* common.c */
extern void fuzz_check_string(const char *s, size_t size, const char *what);
extern void fuzz_check_master_key(const TdeMasterKey *mk);
extern void fuzz_check_exported_key(const TdeMasterKey *mk);
extern void fuzz_check_keyset(const TdeKeySet *set);
extern void fuzz_check_wallet(const TdeWallet *w);
extern char *fuzz_path(const char *relative);
extern void fuzz_seed_wallet(const char *name, const TdeWallet *w,
							 const char *password);
extern void fuzz_add_master_key(TdeWallet *w, int i, TdeAlgorithm alg,
								bool in_hsm, bool active);
extern void fuzz_add_secret(TdeWallet *w, const char *client,
							const char *secret);
extern void fuzz_write_seeds(TdeFuzzInput write_seeds);

#endif							/* TDE_FUZZ_HARNESS_H */
