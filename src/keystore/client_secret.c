/*-------------------------------------------------------------------------
 *
 * client_secret.c
 *	  Client secrets in the password keystore.  See keystore/client_secret.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "tde/crypto/cipher.h"
#include "tde/keystore/client_secret.h"
#include "tde/keystore/config.h"
#include "tde/keystore/keyrecord.h"
#include "tde/keystore/keyset.h"
#include "tde/keystore/keystore.h"
#include "tde/keystore/report.h"
#include "tde/store/wallet.h"
#include "tde/util/fileio.h"
#include "tde/util/keyid.h"
#include "tde/util/secure.h"

typedef struct SecretArg
{
	TdeSecretOp op;
	const char *client;
	const char *secret;
	const char *tag;
	bool		in_hsm;			/* the HSM's metadata file: seal the secret */
} SecretArg;

static void
check_text(const char *s, int max, const char *what)
{
	if (s == NULL || s[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	tde_check_label(s, max, what);
}

#define SEAL_AAD_LABEL "TDE-CS1"
#define SEAL_DEK_LEN	32

/*
 * An HSM keystore's secret, sealed so that only the HSM opens it: a random
 * data key encrypts the secret (AES-256-GCM, crypto/cipher.h) and is
 * itself wrapped by the HSM's active master key (C_Encrypt inside the
 * HSM, store/hsm.h).  The text kept is "<mkid>:<wrapped key>:<sealed
 * secret>" in hexadecimal; the associated data binds both to the client.
 */
static char *
seal_in_hsm(const char *client, const char *secret)
{
	TdeMasterKey *mk = tde_secure_alloc(sizeof(TdeMasterKey));
	uint8	   *dek = tde_secure_alloc(SEAL_DEK_LEN);
	int			slen = strlen(secret);
	char	   *aad = psprintf(SEAL_AAD_LABEL "%s", client);
	uint8		wrapped[SEAL_DEK_LEN + TDE_WRAP_MAX_OVERHEAD];
	uint8	   *ct = palloc(slen + TDE_WRAP_MAX_OVERHEAD);
	int			wlen;
	int			clen;
	char	   *out;
	char	   *p;

	if (!tde_masterkey_active(mk) || !mk->in_hsm)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no master key is set in the HSM to seal the secret with"),
				 errdetail("ORA-28361: master key not yet set"),
				 errhint("Set one with ADMINISTER KEY MANAGEMENT SET KEY.")));
	tde_random_bytes(dek, SEAL_DEK_LEN);
	wlen = tde_mk_wrap(mk, (const uint8 *) aad, strlen(aad), dek, SEAL_DEK_LEN, wrapped);
	clen = tde_wrap(TDE_ALG_AES256, dek, SEAL_DEK_LEN, (const uint8 *) aad, strlen(aad),
					(const uint8 *) secret, slen, ct);
	tde_wipe(dek, SEAL_DEK_LEN);
	out = tde_secure_alloc(2 * (TDE_MKID_LEN + wlen + clen) + 3);
	p = out;
	p += hex_encode((const char *) mk->mkid, TDE_MKID_LEN, p);
	*p++ = ':';
	p += hex_encode((const char *) wrapped, wlen, p);
	*p++ = ':';
	p += hex_encode((const char *) ct, clen, p);
	*p = '\0';
	tde_wipe(mk, sizeof(TdeMasterKey));
	return out;
}

static void
secret_change(TdeWallet *w, void *varg)
{
	SecretArg  *arg = varg;
	char	   *name = tde_secret_entry_name(arg->client);
	const TdeWalletEntry *e = tde_wallet_get(w, name);
	TdeSecretMeta meta;

	if (arg->op == TDE_SECRET_ADD && e != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("the keystore already has a secret for client \"%s\"", arg->client),
				 errdetail("ORA-46670: client secret keystore operation failed"),
				 errhint("Use UPDATE SECRET to change it.")));
	if (arg->op != TDE_SECRET_ADD && e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the keystore has no secret for client \"%s\"", arg->client),
				 errdetail("ORA-46667: client not found in the keystore")));
	if (arg->op == TDE_SECRET_ADD &&
		tde_secrets_from_wallet(w, palloc(sizeof(TdeSecretMeta) * TDE_MAX_CLIENT_SECRETS),
								TDE_MAX_CLIENT_SECRETS) >= TDE_MAX_CLIENT_SECRETS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the keystore holds %d client secrets, the most it can", TDE_MAX_CLIENT_SECRETS)));
	if (arg->op == TDE_SECRET_DELETE)
	{
		(void) tde_wallet_remove(w, name);
		return;
	}
	memset(&meta, 0, sizeof(meta));
	if (e != NULL && !tde_secret_meta(tde_wallet_get(w, name), &meta))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("client secret entry \"%s\" in the keystore is damaged", name)));
	strlcpy(meta.client, arg->client, sizeof(meta.client));
	if (arg->tag != NULL || arg->op == TDE_SECRET_ADD)
		strlcpy(meta.tag, arg->tag ? arg->tag : "", sizeof(meta.tag));
	if (arg->op == TDE_SECRET_ADD)
	{
		meta.created = GetCurrentTimestamp();
		strlcpy(meta.owner, GetUserNameFromId(GetUserId(), false), sizeof(meta.owner));
		meta.owner_id = GetUserId();
		tde_key_place_here(&meta.owner_at);
	}
	meta.activated = GetCurrentTimestamp();
	meta.backed_up = false;
	meta.in_hsm = arg->in_hsm;
	tde_secret_store(w, &meta, arg->in_hsm ? seal_in_hsm(arg->client, arg->secret) : arg->secret);
}

static void
check_arguments(TdeSecretOp op, const char *client, const char *secret,
				const char *tag)
{
	check_text(client, TDE_CLIENT_MAX, "client identifier");
	if (op != TDE_SECRET_DELETE)
		tde_check_password(secret, "secret");
	if (tag != NULL && tag[0] != '\0')
		check_text(tag, TDE_TAG_MAX, "tag");
}

void
tde_client_secret_change(TdeSecretOp op, const char *client, const char *secret,
						 const char *tag, const TdeChangeRequest *req)
{
	bool		in_hsm = tde_keystore_primary()->generates_keys;
	SecretArg	arg = {op, client, secret, tag, in_hsm};

	check_arguments(op, client, secret, tag);
	tde_keystore_change(req, secret_change, &arg);
	tde_masterkey_pop_temporary();
}

/*
 * ADD / UPDATE / DELETE SECRET ... {TO | INTO | FROM} [LOCAL] AUTO_LOGIN
 * KEYSTORE 'dir' for a directory other than the external store: the
 * secret in dir/cwallet.sso, an auto-login keystore of secrets (Oracle's
 * example of 4.3.3, for a keystore without a password wallet).  A
 * directory that holds an ewallet.p12 is refused: its cwallet.sso is that
 * wallet's copy, and the secret belongs in the wallet (IDENTIFIED BY).
 */
void
tde_autologin_secret_change(TdeSecretOp op, const char *location,
							const char *client, const char *secret,
							const char *tag, bool local)
{
	char	   *dir = tde_canonical_location(location, "keystore location");
	char	   *path = tde_join_path(dir, TDE_CWALLET_FILE);
	SecretArg	arg = {op, client, secret, tag, false};
	TdeWallet  *w = NULL;
	TdeWalletResult res;
	int			lockfd;

	if (tde_wallet_root != NULL && strcmp(dir, tde_wallet_root) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a keystore cannot be created in \"%s\"", dir),
				 errhint("Name a directory under it.")));
	tde_require_location_access(dir);
	check_arguments(op, client, secret, tag);

	lockfd = tde_keystore_lock(dir, op == TDE_SECRET_ADD, path);
	if (tde_file_exists(tde_join_path(dir, TDE_EWALLET_FILE)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("keystore \"%s\" has a password wallet", dir),
				 errdetail("Its cwallet.sso is the password wallet's auto-login copy."),
				 errhint("Keep the secret in the password wallet with IDENTIFIED BY: the copy follows.")));
	res = tde_wallet_load(path, true, NULL, &w);
	if (res == TDE_WALLET_MISSING && op == TDE_SECRET_ADD)
		w = tde_wallet_create(local ? TDE_WALLET_LOCAL_AUTOLOGIN : TDE_WALLET_AUTOLOGIN);
	else
		tde_wallet_report(res, path, ERROR);
	secret_change(w, &arg);
	/* [LOCAL] decides the kind the keystore is written as */
	w->kind = local ? TDE_WALLET_LOCAL_AUTOLOGIN : TDE_WALLET_AUTOLOGIN;
	tde_wallet_write(path, w, NULL, 0);
	tde_keystore_unlock(lockfd);
}
