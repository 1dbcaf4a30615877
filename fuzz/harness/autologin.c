/*-------------------------------------------------------------------------
 *
 * autologin.c (fuzz harness)
 *	  The auto-login wallet reader: cwallet.sso, as the file keystore's
 *	  auto-open reads it (store/wallet.c tde_wallet_load with the password
 *	  store/autologin.c derives from the file's kind, AUTO_LOGIN or LOCAL
 *	  AUTO_LOGIN on this host; then tde_keyset_read).
 *
 * The input is the file's bytes, read from <root>/tde/cwallet.sso.  A
 * password wallet, a local wallet of another host and a damaged file are
 * each an ERROR (keystore/report.c), as the auto-open reports them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "harness.h"
#include "tde/keystore/report.h"

static void
one_input(const uint8_t *data, size_t size)
{
	char	   *path = fuzz_path("tde/cwallet.sso");
	TdeWallet  *w = NULL;

	tde_fuzz_write_file(path, data, size);
	tde_wallet_report(tde_wallet_load(path, true, NULL, &w), path, ERROR);
	fuzz_check_wallet(w);
	fuzz_check_keyset(tde_keyset_read(w, false));
}

/* CREATE [LOCAL] AUTO_LOGIN KEYSTORE's copies of a wallet with two keys */
static void
write_seeds(const uint8_t *data, size_t size)
{
	TdeWallet  *w = tde_wallet_create(TDE_WALLET_PASSWORD);

	fuzz_add_master_key(w, 0, TDE_ALG_AES256, false, false);
	fuzz_add_master_key(w, 1, TDE_ALG_AES256, false, true);
	fuzz_seed_wallet("gen-autologin.sso",
					 tde_wallet_copy(w, TDE_WALLET_AUTOLOGIN), NULL);
	fuzz_seed_wallet("gen-local-autologin.sso",
					 tde_wallet_copy(w, TDE_WALLET_LOCAL_AUTOLOGIN), NULL);
}

static void
init(void)
{
	fuzz_write_seeds(write_seeds);
}

TDE_FUZZ_TARGET(init, one_input)
