/*-------------------------------------------------------------------------
 *
 * export_file.c
 *	  The file of EXPORT KEYS and IMPORT KEYS.  See keystore/export_file.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "tde/keystore/config.h"
#include "tde/keystore/export_file.h"
#include "tde/keystore/keyrecord.h"
#include "tde/store/wallet.h"
#include "tde/util/fileio.h"
#include "tde/util/opmem.h"
#include "tde/util/secure.h"

#define EXPORT_ENTRY "TDE.EXPORT"

void
tde_export_file_write(const char *path, const char *secret,
					  const TdeMasterKey *keys, int nkeys)
{
	TdeOpMem	op;
	TdeWallet  *w;
	TdeFileSet *fs;
	char	   *marker;
	char	   *bytes;
	size_t		len;
	int			i;

	{
		char	   *dir = pstrdup(path);

		get_parent_directory(dir);
		if (!tde_dir_exists(dir))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("directory \"%s\" of the export file does not exist", dir)));
	}
	if (tde_file_exists(path))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_FILE),
				 errmsg("export file \"%s\" already exists", path),
				 errhint("Name a new file; an export never overwrites one.")));
	/* the keys' copies in the wallet are wiped when this returns */
	tde_opmem_begin(&op, "tde write export file", NULL);
	w = tde_wallet_create(TDE_WALLET_PASSWORD);
	marker = psprintf("format=tde-export\nversion=%d\nkeys=%d\n",
					  TDE_EXPORT_FORMAT_VERSION, nkeys);
	tde_wallet_put(w, EXPORT_ENTRY, marker, strlen(marker));
	for (i = 0; i < nkeys; i++)
		tde_masterkey_store(w, &keys[i]);
	bytes = tde_wallet_encode(w, secret, tde_wallet_kdf_iterations, &len);

	fs = tde_fileset_begin();
	tde_fileset_add(fs, path, bytes, len, TDE_FILE_NEW);
	tde_fileset_commit(fs);
	tde_opmem_end(&op);
}

/* The marker's version, or 0 if w is no export file. */
static int
export_version(const TdeWallet *w)
{
	const TdeWalletEntry *e = tde_wallet_get(w, EXPORT_ENTRY);
	char	   *text;
	char	   *v;
	int			version = 0;

	if (e == NULL)
		return 0;
	text = pnstrdup((const char *) e->value, e->len);
	if (strncmp(text, "format=tde-export\n", 18) == 0 &&
		(v = strstr(text, "\nversion=")) != NULL)
		version = atoi(v + 9);
	pfree(text);
	return version;
}

static void
report_load(TdeWalletResult res, const char *path)
{
	switch (res)
	{
		case TDE_WALLET_OK:
			return;
		case TDE_WALLET_MISSING:
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("export file \"%s\" does not exist", path)));
			break;
		case TDE_WALLET_BAD_PASSWORD:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PASSWORD),
					 errmsg("incorrect secret for export file \"%s\"", path),
					 errdetail("ORA-28353: failed to open wallet"),
					 errhint("Give the secret the keys were exported WITH.")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("file \"%s\" is not a tde export file, or it is damaged", path),
					 errhint("Export the keys again with EXPORT KEYS.")));
	}
}

int
tde_export_file_read(const char *path, const char *secret, TdeMasterKey *keys)
{
	TdeWallet  *w = NULL;
	TdeOpMem	op;
	int			version;
	int			active;
	int			n;
	int			i;

	/* the decrypted file goes when this returns; keys[] is the caller's */
	tde_opmem_begin(&op, "tde read export file", NULL);
	report_load(tde_wallet_load(path, false, secret, &w), path);
	version = export_version(w);
	if (version == 0)
		report_load(TDE_WALLET_CORRUPT, path);
	if (version > TDE_EXPORT_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("export file \"%s\" is of format version %d", path, version),
				 errdetail("This version of tde reads export files up to version %d.",
						   TDE_EXPORT_FORMAT_VERSION)));
	n = tde_masterkeys_from_wallet(w, keys, TDE_MAX_MASTER_KEYS, &active);

	/*
	 * EXPORT KEYS writes software keys only, each of its algorithm's
	 * length.  A record of an HSM key (which needs no key bytes) or of a
	 * key of another length would be imported as a software key it is not,
	 * into a wallet that then no longer opens: refuse the file.
	 */
	for (i = 0; i < n; i++)
		if (keys[i].in_hsm || keys[i].keylen != tde_key_length(keys[i].algorithm))
			report_load(TDE_WALLET_CORRUPT, path);
	tde_opmem_end(&op);
	return n;
}
