/*-------------------------------------------------------------------------
 *
 * wallet.c (fuzz harness)
 *	  The password wallet reader: ewallet.p12 under its password, as the
 *	  file keystore opens it (store/wallet.c tde_wallet_load through
 *	  keystore/report.c tde_wallet_read, then keystore/keyrecord.c
 *	  tde_keyset_read: the key and secret records).
 *
 * The input is the file's bytes, read from <root>/tde/ewallet.p12 by
 * util/fileio.c as the server reads it; the password is the regression
 * tests' (FUZZ_WALLET_PASSWORD).  A bad password, a damaged file and a
 * damaged record are each an ERROR; anything else that goes wrong is a
 * finding.  Mutations of the encrypted part fail its digest before any
 * KDF runs; the records behind the MAC are reached by wallet_entries.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "harness.h"
#include "tde/keystore/report.h"

static void
one_input(const uint8_t *data, size_t size)
{
	char	   *path = fuzz_path("tde/ewallet.p12");
	TdeWallet  *w;

	tde_fuzz_write_file(path, data, size);
	w = tde_wallet_read(path, false, FUZZ_WALLET_PASSWORD);
	fuzz_check_wallet(w);
	fuzz_check_keyset(tde_keyset_read(w, false));
}

/* A wallet as SET KEY, CREATE KEY and ADD SECRET leave it */
static void
write_seeds(const uint8_t *data, size_t size)
{
	TdeWallet  *w = tde_wallet_create(TDE_WALLET_PASSWORD);

	fuzz_seed_wallet("gen-empty.p12", w, FUZZ_WALLET_PASSWORD);
	fuzz_add_master_key(w, 0, TDE_ALG_AES256, false, false);
	fuzz_add_master_key(w, 1, TDE_ALG_AES256, false, true);
	fuzz_seed_wallet("gen-two-keys.p12", w, FUZZ_WALLET_PASSWORD);
	fuzz_add_master_key(w, 2, TDE_ALG_ARIA256, false, false);
	fuzz_add_secret(w, "OKV_CLIENT", "client secret 1");
	fuzz_seed_wallet("gen-keys-secret.p12", w, FUZZ_WALLET_PASSWORD);
}

static void
init(void)
{
	fuzz_write_seeds(write_seeds);
}

TDE_FUZZ_TARGET(init, one_input)
