/*-------------------------------------------------------------------------
 *
 * export_file.c (fuzz harness)
 *	  The export file reader of IMPORT KEYS (keystore/export_file.c
 *	  tde_export_file_read): a PKCS#12 file under the export secret, its
 *	  marker entry and its key records.
 *
 * The input is the file's bytes at <root>/import.exp; the secret is the
 * regression tests' (FUZZ_EXPORT_SECRET).  An export file comes from
 * elsewhere by design, so this is the reader most exposed of all: a
 * wrong secret, a wallet given as an export file and a damaged file are
 * each an ERROR; the keys returned must be usable.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "harness.h"
#include "tde/keystore/config.h"
#include "tde/keystore/export_file.h"
#include "tde/util/secure.h"

static void
one_input(const uint8_t *data, size_t size)
{
	char	   *path = fuzz_path("import.exp");
	TdeMasterKey *keys = tde_secure_alloc(sizeof(TdeMasterKey) * TDE_MAX_MASTER_KEYS);
	int			n;
	int			i;

	tde_fuzz_write_file(path, data, size);
	n = tde_export_file_read(path, FUZZ_EXPORT_SECRET, keys);
	if (n < 0 || n > TDE_MAX_MASTER_KEYS)
		tde_fuzz_fail("tde_export_file_read returned %d keys", n);
	for (i = 0; i < n; i++)
		fuzz_check_exported_key(&keys[i]);
}

/* The marker and records EXPORT KEYS writes (tde_export_file_write's) */
static void
export_seed(const char *name, int nkeys)
{
	TdeWallet  *w = tde_wallet_create(TDE_WALLET_PASSWORD);
	char	   *marker = psprintf("format=tde-export\nversion=%d\nkeys=%d\n",
								  TDE_EXPORT_FORMAT_VERSION, nkeys);
	int			i;

	tde_wallet_put(w, "TDE.EXPORT", marker, strlen(marker));
	for (i = 0; i < nkeys; i++)
		fuzz_add_master_key(w, i, i == 2 ? TDE_ALG_ARIA256 : TDE_ALG_AES256,
							false, false);
	fuzz_seed_wallet(name, w, FUZZ_EXPORT_SECRET);
}

static void
write_seeds(const uint8_t *data, size_t size)
{
	export_seed("gen-no-keys.exp", 0);
	export_seed("gen-one-key.exp", 1);
	export_seed("gen-three-keys.exp", 3);
}

static void
init(void)
{
	tde_wallet_root = (char *) tde_fuzz_root;
	fuzz_write_seeds(write_seeds);
}

TDE_FUZZ_TARGET(init, one_input)
