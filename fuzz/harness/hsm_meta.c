/*-------------------------------------------------------------------------
 *
 * hsm_meta.c (fuzz harness)
 *	  The HSM metadata file reader: <wallet_root>/tde/hsm_keys.sso, the
 *	  auto-login wallet of key records without key bytes that
 *	  keystore/hsm_keystore.c reads when the HSM keystore opens.
 *
 * The reader, read_metadata(), is static in hsm_keystore.c, so this file
 * #includes that unit (the real source, compiled here) and calls it, then
 * tde_keyset_read(meta, true) as publish_hsm does.  The PKCS#11 calls of
 * the rest of the unit are stubs that abort: opening the HSM itself is
 * not fuzzed, only the file.
 *
 *-------------------------------------------------------------------------
 */
#include "keystore/hsm_keystore.c"

#include "harness.h"

static void
one_input(const uint8_t *data, size_t size)
{
	TdeWallet  *meta;

	tde_fuzz_write_file(metadata_path(), data, size);
	meta = read_metadata();
	fuzz_check_wallet(meta);
	fuzz_check_keyset(tde_keyset_read(meta, true));
}

/* What SET KEY and ADD SECRET leave in the HSM's metadata file */
static void
write_seeds(const uint8_t *data, size_t size)
{
	TdeWallet  *w = tde_wallet_create(TDE_WALLET_AUTOLOGIN);

	fuzz_add_master_key(w, 0, TDE_ALG_AES256, true, false);
	fuzz_seed_wallet("gen-one-key.sso", w, NULL);
	fuzz_add_master_key(w, 1, TDE_ALG_AES256, true, true);
	fuzz_add_secret(w, "OKV_CLIENT", "sealed secret bytes");
	fuzz_seed_wallet("gen-keys-secret.sso", w, NULL);
}

static void
init(void)
{
	tde_wallet_root = (char *) tde_fuzz_root;
	fuzz_write_seeds(write_seeds);
}

TDE_FUZZ_TARGET(init, one_input)
