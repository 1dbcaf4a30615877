/*-------------------------------------------------------------------------
 *
 * seps.c (fuzz harness)
 *	  The external password store reader (keystore/seps.c):
 *	  <wallet_root>/tde_seps/cwallet.sso, an auto-login wallet of client
 *	  secrets, read by IDENTIFIED BY EXTERNAL STORE, the HSM's auto-open
 *	  and v$client_secrets.
 *
 * The input is the file's bytes.  Each reader runs on it: the client list
 * (v$client_secrets), the optional lookups (auto-open), then the lookup
 * that fails clearly (IDENTIFIED BY EXTERNAL STORE).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "harness.h"
#include "tde/keystore/config.h"
#include "tde/keystore/seps.h"

static void
check_secret(const char *s)
{
	if (s != NULL)
		(void) strlen(s);
}

static void
one_input(const uint8_t *data, size_t size)
{
	char	   *clients[8];
	int			n;
	int			i;

	tde_fuzz_write_file(fuzz_path("tde_seps/cwallet.sso"), data, size);
	n = tde_seps_clients(clients, lengthof(clients));
	if (n < 0 || n > (int) lengthof(clients))
		tde_fuzz_fail("tde_seps_clients returned %d", n);
	for (i = 0; i < n; i++)
		(void) strlen(clients[i]);
	check_secret(tde_seps_get_optional(TDE_CLIENT_TDE_WALLET));
	check_secret(tde_seps_get_optional(TDE_CLIENT_HSM_PASSWORD));
	check_secret(tde_seps_get(TDE_CLIENT_TDE_WALLET));
}

/* ADD SECRET ... TO [LOCAL] AUTO_LOGIN KEYSTORE leaves these */
static void
write_seeds(const uint8_t *data, size_t size)
{
	TdeWallet  *w = tde_wallet_create(TDE_WALLET_AUTOLOGIN);
	const char *wallet_pw = FUZZ_WALLET_PASSWORD;
	const char *hsm_pw = "1234:hsm user pin";

	tde_wallet_put(w, "CLIENT." TDE_CLIENT_TDE_WALLET, wallet_pw, strlen(wallet_pw));
	fuzz_seed_wallet("gen-tde-wallet.sso", w, NULL);
	tde_wallet_put(w, "CLIENT." TDE_CLIENT_HSM_PASSWORD, hsm_pw, strlen(hsm_pw));
	fuzz_seed_wallet("gen-both-clients.sso", w, NULL);
	fuzz_seed_wallet("gen-both-clients-local.sso",
					 tde_wallet_copy(w, TDE_WALLET_LOCAL_AUTOLOGIN), NULL);
}

static void
init(void)
{
	tde_wallet_root = (char *) tde_fuzz_root;
	fuzz_write_seeds(write_seeds);
}

TDE_FUZZ_TARGET(init, one_input)
