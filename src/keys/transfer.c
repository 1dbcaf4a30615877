/*-------------------------------------------------------------------------
 *
 * transfer.c
 *	  EXPORT KEYS and IMPORT KEYS.  See keys/transfer.h.
 *
 * EXPORT reads the password wallet with the password given (which proves
 * it), picks the keys asked for and writes them to a new export file; the
 * wallet is not changed.  IMPORT reads the export file with the secret,
 * then changes the password wallet as every key operation does
 * (keystore/keystore.h: WITH BACKUP, the wallet and its auto-login copy
 * replaced atomically, the open key set published): the keys keep their
 * KEY_IDs, tags, times and creators, ORIGIN becomes IMPORTED, none
 * becomes active.  A key the wallet holds already stops the import before
 * any file is written, as do a wrong secret and a damaged file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "tde/keys/masterkey.h"
#include "tde/keys/transfer.h"
#include "tde/keystore/config.h"
#include "tde/keystore/export_file.h"
#include "tde/keystore/file_keystore.h"
#include "tde/keystore/keyrecord.h"
#include "tde/keystore/keyset.h"
#include "tde/keystore/keystore.h"
#include "tde/util/keyid.h"
#include "tde/util/secure.h"

#define ALL_KEYS_SIZE	(sizeof(TdeMasterKey) * TDE_MAX_MASTER_KEYS)
#define MAX_KEY_IDS		(16 * TDE_MAX_MASTER_KEYS)

static void
check_request(const TdeTransferRequest *req, const char *operation,
			  const char *hsm_hint)
{
	tde_keystore_require_file_primary(operation, hsm_hint);
	if (req->path == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the export file's path must not be null")));
	tde_check_password(req->secret, "export secret");
}

/* keys[] with the given MKID, or -1 */
static int
find(const TdeMasterKey *keys, int n, const uint8 *mkid)
{
	int			i;

	for (i = 0; i < n; i++)
		if (memcmp(keys[i].mkid, mkid, TDE_MKID_LEN) == 0)
			return i;
	return -1;
}

/*
 * The keys of all[0..n) that key_ids[0..nkey_ids) name (every one if
 * key_ids is NULL) into out[], each once; returns how many.
 */
int
tde_masterkeys_select(char **key_ids, int nkey_ids, const TdeMasterKey *all,
					  int n, TdeMasterKey *out)
{
	int			nout = 0;
	int			i;

	if (key_ids == NULL)
	{
		memcpy(out, all, sizeof(TdeMasterKey) * n);
		return n;
	}
	/* more names than a keystore can hold keys is a mistake, not a list */
	if (nkey_ids > MAX_KEY_IDS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("at most %d key identifiers can be named", MAX_KEY_IDS)));
	for (i = 0; i < nkey_ids; i++)
	{
		uint8		mkid[TDE_MKID_LEN];
		int			k;

		CHECK_FOR_INTERRUPTS();
		if (key_ids[i] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a key identifier is null")));
		if (!tde_key_id_to_mkid(key_ids[i], mkid))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid master key identifier \"%s\"", key_ids[i]),
					 errhint("A KEY_ID is the 52-character identifier v$encryption_keys shows.")));
		if ((k = find(all, n, mkid)) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("master key \"%s\" is not in the keystore", key_ids[i]),
					 errdetail("ORA-28374: typed master key not found in wallet")));
		if (find(out, nout, mkid) < 0)
			out[nout++] = all[k];
	}
	return nout;
}

int
tde_masterkey_export(const TdeTransferRequest *req)
{
	TdeMasterKey *all;
	TdeMasterKey *chosen;
	char	   *path;
	int			n;
	int			nchosen;

	check_request(req, "EXPORT KEYS",
				  "Master keys never leave the HSM; to move keys, reverse migrate to a software keystore first.");
	path = tde_canonical_location(req->path, "export file path");
	tde_require_location_access(path);

	all = tde_secure_alloc(ALL_KEYS_SIZE);
	chosen = tde_secure_alloc(ALL_KEYS_SIZE);
	n = tde_file_keystore_keys(req->cred, req->force_keystore, all);
	nchosen = tde_masterkeys_select(req->key_ids, req->nkey_ids, all, n, chosen);
	tde_wipe(all, ALL_KEYS_SIZE);
	if (nchosen == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no master key to export"),
				 errdetail(req->key_ids != NULL ?
						   "WITH IDENTIFIER IN named no key." :
						   "The keystore holds no master key.")));
	tde_export_file_write(path, req->secret, chosen, nchosen);
	tde_wipe(chosen, ALL_KEYS_SIZE);
	return nchosen;
}

typedef struct ImportArg
{
	TdeMasterKey *keys;
	int			nkeys;
} ImportArg;

/* The change of IMPORT: every key is new to the wallet, or nothing changes. */
static void
import_change(TdeWallet *w, void *varg)
{
	ImportArg  *arg = varg;
	int			i;

	for (i = 0; i < arg->nkeys; i++)
		if (tde_masterkey_entry(w, arg->keys[i].mkid) != NULL)
		{
			char		key_id[TDE_KEY_ID_LEN + 1];

			tde_mkid_to_key_id(arg->keys[i].mkid, key_id);
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("master key \"%s\" is already in the keystore", key_id),
					 errdetail("ORA-46684: master key identifier exists in the keystore; no key was imported."),
					 errhint("A key is imported once. Export the keys that are missing only, with WITH IDENTIFIER IN.")));
		}
	if (tde_masterkey_count(w) + arg->nkeys > TDE_MAX_MASTER_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("keystore would hold more than %d master keys", TDE_MAX_MASTER_KEYS)));
	for (i = 0; i < arg->nkeys; i++)
	{
		TdeMasterKey *k = &arg->keys[i];

		strlcpy(k->origin, "IMPORTED", sizeof(k->origin));
		k->backed_up = false;
		k->in_hsm = false;
		tde_masterkey_store(w, k);
	}
}

int
tde_masterkey_import(const TdeTransferRequest *req)
{
	ImportArg	arg;
	char	   *path;
	TdeChangeRequest chg = {0};

	tde_require_primary_server();
	check_request(req, "IMPORT KEYS",
				  "Keys from outside cannot be put into an HSM; import them into a software keystore.");
	path = tde_canonical_location(req->path, "export file path");
	tde_require_location_read_access(path);

	/* the file first: a wrong secret or damage stops before the wallet is read */
	arg.keys = tde_secure_alloc(ALL_KEYS_SIZE);
	arg.nkeys = tde_export_file_read(path, req->secret, arg.keys);
	if (arg.nkeys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("export file \"%s\" holds no master key", path)));

	chg.cred = req->cred;
	chg.force = req->force_keystore;
	chg.with_backup = req->with_backup;
	chg.backup_required = true;
	chg.backup_id = req->backup_id;
	tde_keystore_change(&chg, import_change, &arg);
	tde_masterkey_pop_temporary();
	tde_wipe(arg.keys, ALL_KEYS_SIZE);
	return arg.nkeys;
}
