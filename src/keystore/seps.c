/*-------------------------------------------------------------------------
 *
 * seps.c
 *	  The external password store (Oracle's SEPS):
 *	  <wallet_root>/tde_seps/cwallet.sso.
 *
 * An auto-login (or local auto-login) wallet whose entries are the
 * passwords of clients: TDE_WALLET, the password wallet's password, which
 * makes IDENTIFIED BY EXTERNAL STORE work; HSM_PASSWORD, the HSM's
 * credential.  Changes are serialized by the keystore admin lock and a
 * flock on the directory, and written atomically.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "tde/keystore/config.h"
#include "tde/keystore/report.h"
#include "tde/keystore/seps.h"
#include "tde/store/wallet.h"
#include "tde/util/fileio.h"
#include "tde/util/secure.h"

#define CLIENT_PREFIX "CLIENT."

static const char *
normalize_client(const char *client)
{
	if (pg_strcasecmp(client, TDE_CLIENT_TDE_WALLET) == 0)
		return TDE_CLIENT_TDE_WALLET;
	if (pg_strcasecmp(client, TDE_CLIENT_HSM_PASSWORD) == 0)
		return TDE_CLIENT_HSM_PASSWORD;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("client is not supported in the external password store"),
			 errdetail("The external store holds the clients TDE_WALLET and HSM_PASSWORD.")));
	return NULL;				/* keep compiler quiet */
}

static char *
seps_file(void)
{
	return tde_join_path(tde_seps_dir(), TDE_CWALLET_FILE);
}

void
tde_seps_change(TdeSecretOp op, const char *location, const char *client,
				const char *secret, bool local)
{
	char	   *dir = tde_seps_dir();
	char	   *path = seps_file();
	const char *cname = normalize_client(client);
	char	   *entry = psprintf(CLIENT_PREFIX "%s", cname);
	TdeWallet  *w = NULL;
	TdeWalletResult res;
	int			lockfd;

	if (location != NULL)
	{
		char	   *loc = tde_canonical_location(location, "external store location");

		if (strcmp(loc, dir) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the external password store must be \"%s\"", dir),
					 errdetail("IDENTIFIED BY EXTERNAL STORE reads the store in <tde.wallet_root>/%s only.",
							   TDE_SEPS_DIR)));
	}
	if (op != TDE_SECRET_DELETE)
		tde_check_password(secret, "secret");

	lockfd = tde_keystore_lock(dir, true, NULL);

	res = tde_wallet_load(path, true, NULL, &w);
	if (res == TDE_WALLET_MISSING)
	{
		if (op != TDE_SECRET_ADD)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("the external password store \"%s\" does not exist", path)));
		w = tde_wallet_create(local ? TDE_WALLET_LOCAL_AUTOLOGIN : TDE_WALLET_AUTOLOGIN);
	}
	else
		tde_wallet_report(res, path, ERROR);

	switch (op)
	{
		case TDE_SECRET_ADD:
			if (tde_wallet_get(w, entry) != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_OBJECT),
						 errmsg("the external password store already has a secret for client \"%s\"", cname),
						 errdetail("ORA-46670: client secret keystore operation failed"),
						 errhint("Use UPDATE SECRET to change it.")));
			tde_wallet_put(w, entry, secret, strlen(secret));
			break;
		case TDE_SECRET_UPDATE:
			if (tde_wallet_get(w, entry) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("the external password store has no secret for client \"%s\"", cname),
						 errdetail("ORA-46667: client not found in the keystore"),
						 errhint("Use ADD SECRET to add it.")));
			tde_wallet_put(w, entry, secret, strlen(secret));
			break;
		case TDE_SECRET_DELETE:
			if (!tde_wallet_remove(w, entry))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("the external password store has no secret for client \"%s\"", cname),
						 errdetail("ORA-46667: client not found in the keystore")));
			break;
	}

	/* TO [LOCAL] AUTO_LOGIN KEYSTORE decides the kind the store is written as */
	w->kind = local ? TDE_WALLET_LOCAL_AUTOLOGIN : TDE_WALLET_AUTOLOGIN;
	tde_wallet_write(path, w, NULL, 0);

	tde_keystore_unlock(lockfd);
}

/* The secret of a client, in secure memory; a clear error if absent. */
char *
tde_seps_get(const char *client)
{
	char	   *path = seps_file();
	char	   *entry = psprintf(CLIENT_PREFIX "%s", client);
	TdeWallet  *w = NULL;
	TdeWalletResult res;
	const TdeWalletEntry *e;
	char	   *secret;

	res = tde_wallet_load(path, true, NULL, &w);
	if (res == TDE_WALLET_MISSING)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the external password store is not configured"),
				 errdetail("\"%s\" does not exist.", path),
				 errhint("Add the password with ADMINISTER KEY MANAGEMENT ADD SECRET ... FOR CLIENT '%s' TO AUTO_LOGIN KEYSTORE '%s'.",
						 client, tde_seps_dir())));
	tde_wallet_report(res, path, ERROR);

	e = tde_wallet_get(w, entry);
	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the external password store has no secret for client \"%s\"", client)));
	secret = tde_secure_alloc(e->len + 1);
	memcpy(secret, e->value, e->len);
	secret[e->len] = '\0';
	return secret;
}

/* The password a credential stands for: given, or from the external store. */
const char *
tde_credential_password(const TdeCredential *cred, const char *client)
{
	if (cred->external_store)
		return tde_seps_get(client);
	tde_check_password(cred->password, "password");
	return cred->password;
}

/* The secret of a client, or NULL if the store or the client is absent. */
char *
tde_seps_get_optional(const char *client)
{
	char	   *path;
	char	   *entry = psprintf(CLIENT_PREFIX "%s", client);
	TdeWallet  *w = NULL;
	const TdeWalletEntry *e;
	char	   *secret;

	if (tde_wallet_root == NULL || tde_wallet_root[0] == '\0')
		return NULL;
	path = seps_file();
	if (tde_wallet_load(path, true, NULL, &w) != TDE_WALLET_OK)
		return NULL;
	e = tde_wallet_get(w, entry);
	if (e == NULL)
		return NULL;
	secret = tde_secure_alloc(e->len + 1);
	memcpy(secret, e->value, e->len);
	secret[e->len] = '\0';
	return secret;
}

/*
 * The clients the external store holds a secret for (names only), into
 * out[] (palloc'd); 0 if there is no store.
 */
int
tde_seps_clients(char **out, int max)
{
	TdeWallet  *w = NULL;
	int			n = 0;
	int			i;

	if (tde_wallet_root == NULL || tde_wallet_root[0] == '\0' ||
		tde_wallet_load(seps_file(), true, NULL, &w) != TDE_WALLET_OK)
		return 0;
	for (i = 0; i < w->nentries && n < max; i++)
		if (strncmp(w->entries[i].name, CLIENT_PREFIX, strlen(CLIENT_PREFIX)) == 0)
			out[n++] = pstrdup(w->entries[i].name + strlen(CLIENT_PREFIX));
	return n;
}
