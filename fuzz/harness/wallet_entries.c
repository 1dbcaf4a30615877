/*-------------------------------------------------------------------------
 *
 * wallet_entries.c (fuzz harness)
 *	  What the wallet readers parse behind the MAC: the entries of a
 *	  wallet that opened (key records, client secret records, the active
 *	  key, the export marker).
 *
 * A mutated wallet file fails its digest or MAC long before its entries
 * are read, so the byte-level harnesses (wallet, autologin, seps,
 * hsm_meta, export_file) rarely reach keystore/keyrecord.c.  Here the
 * input is the entries themselves; the harness writes them as a real
 * wallet file with the extension's encoder (tde_wallet_encode) and runs
 * the reader on that file.  That is the case of an export file made by
 * someone who knows the secret (IMPORT KEYS reads files from elsewhere),
 * or a wallet written by another version.
 *
 * Input: byte 0 chooses the reader (even: the password wallet as the file
 * keystore opens it, odd: an export file); the rest is entries separated
 * by NUL bytes, each "name" 0x1F "value".  The external store's entries
 * are not fuzzed here: its reader only looks two names up (the seps
 * harness reaches that whenever its file opens), and its auto-login KDF
 * (2048 iterations, fixed) would cut this harness's speed by three.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "harness.h"
#include "tde/keystore/config.h"
#include "tde/keystore/export_file.h"
#include "tde/keystore/report.h"
#include "tde/util/secure.h"

#define FIELD_SEP	0x1F
#define MAX_ENTRIES 600			/* more than TDE_MAX_MASTER_KEYS */

enum
{
	TARGET_WALLET,
	TARGET_EXPORT,
	NTARGETS
};

/* The entries of the input, into w */
static void
parse_entries(const uint8_t *data, size_t size, TdeWallet *w)
{
	const char *p = (const char *) data;
	const char *end = p + size;
	int			n = 0;

	while (p < end && n < MAX_ENTRIES)
	{
		const char *e = memchr(p, '\0', end - p);
		const char *sep;
		char	   *name;

		if (e == NULL)
			e = end;
		sep = memchr(p, FIELD_SEP, e - p);
		name = pnstrdup(p, (sep ? sep : e) - p);
		if (name[0] != '\0')
		{
			const char *value = sep ? sep + 1 : e;

			tde_wallet_put(w, name, value, (int) (e - value));
			n++;
		}
		p = e + 1;
	}
}

static void
read_wallet(const char *path)
{
	TdeWallet  *w = tde_wallet_read(path, false, FUZZ_WALLET_PASSWORD);

	fuzz_check_wallet(w);
	fuzz_check_keyset(tde_keyset_read(w, false));
}

static void
read_export(const char *path)
{
	TdeMasterKey *keys = tde_secure_alloc(sizeof(TdeMasterKey) * TDE_MAX_MASTER_KEYS);
	int			n = tde_export_file_read(path, FUZZ_EXPORT_SECRET, keys);
	int			i;

	if (n < 0 || n > TDE_MAX_MASTER_KEYS)
		tde_fuzz_fail("tde_export_file_read returned %d keys", n);
	for (i = 0; i < n; i++)
		fuzz_check_exported_key(&keys[i]);
}

static void
one_input(const uint8_t *data, size_t size)
{
	int			target;
	TdeWallet  *w;
	char	   *path;
	const char *password;
	size_t		len;
	char	   *bytes;

	if (size < 1)
		return;
	target = data[0] % NTARGETS;
	w = tde_wallet_create(TDE_WALLET_PASSWORD);
	parse_entries(data + 1, size - 1, w);
	path = fuzz_path(target == TARGET_WALLET ? "tde/ewallet.p12" : "import.exp");
	password = target == TARGET_EXPORT ? FUZZ_EXPORT_SECRET : FUZZ_WALLET_PASSWORD;
	bytes = tde_wallet_encode(w, password, FUZZ_SEED_ITERATIONS, &len);
	tde_fuzz_write_file(path, bytes, len);

	if (target == TARGET_WALLET)
		read_wallet(path);
	else
		read_export(path);
}

/* ---------------------------------------------------------------------
 * Seeds: the entries the extension writes, in this harness's format
 * ---------------------------------------------------------------------
 */

static void
seed_entries(const char *name, int target, const TdeWallet *w)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, (char) target);
	for (i = 0; i < w->nentries; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, '\0');
		appendStringInfoString(&buf, w->entries[i].name);
		appendStringInfoChar(&buf, FIELD_SEP);
		appendBinaryStringInfo(&buf, (const char *) w->entries[i].value,
							   w->entries[i].len);
	}
	tde_fuzz_seed(name, buf.data, buf.len);
}

static void
write_seeds(const uint8_t *data, size_t size)
{
	TdeWallet  *w = tde_wallet_create(TDE_WALLET_PASSWORD);
	char	   *marker = psprintf("format=tde-export\nversion=%d\nkeys=2\n",
								  TDE_EXPORT_FORMAT_VERSION);

	fuzz_add_master_key(w, 0, TDE_ALG_AES256, false, false);
	fuzz_add_master_key(w, 1, TDE_ALG_SEED128, false, true);
	fuzz_add_master_key(w, 2, TDE_ALG_AES256, true, false);
	fuzz_add_secret(w, "OKV_CLIENT", "client secret 1");
	seed_entries("gen-wallet", TARGET_WALLET, w);

	w = tde_wallet_create(TDE_WALLET_PASSWORD);
	tde_wallet_put(w, "TDE.EXPORT", marker, strlen(marker));
	fuzz_add_master_key(w, 0, TDE_ALG_AES256, false, false);
	fuzz_add_master_key(w, 1, TDE_ALG_ARIA256, false, false);
	seed_entries("gen-export", TARGET_EXPORT, w);
}

static void
init(void)
{
	tde_wallet_root = (char *) tde_fuzz_root;
	fuzz_write_seeds(write_seeds);
}

TDE_FUZZ_TARGET(init, one_input)
