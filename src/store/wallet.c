/*-------------------------------------------------------------------------
 *
 * wallet.c
 *	  PKCS#12 wallet files, written and read with OpenSSL.
 *
 * A wallet file is a PKCS#12 PFX (RFC 7292) that `openssl pkcs12 -info`
 * reads with the wallet's password.  Its AuthenticatedSafe holds two
 * ContentInfos:
 *
 *	 1. plain data: one secret bag "TDE.WALLETINFO" with the format version,
 *		the wallet's kind and the SHA-256 of the second ContentInfo;
 *	 2. encrypted data (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC): one secret
 *		bag per entry, its friendlyName the entry's name, its value an
 *		OCTET STRING.
 *
 * The whole is protected by a SHA-256 MAC keyed from the password.  The
 * digest in the plain part tells a damaged encrypted part from a wrong
 * password: a digest that does not match means damage.  It reveals
 * nothing, being a hash of ciphertext.  The MAC is keyed by the password,
 * so it cannot tell a wrong password from damage to the MAC data (digest,
 * salt, iterations) by itself; the encrypted part, intact by its digest,
 * decides: it is decrypted first, and if the password does not decrypt it
 * into well-formed bags the password is wrong; if it does and only the MAC
 * then fails, the file is damaged.  (A wrong password that decrypts into
 * well-formed bags by chance needs a valid CBC padding and a valid DER
 * SafeContents at once; the file is then reported damaged, never opened.)
 * A wrong password costs one KDF run, as before; a right one two.
 *
 * Auto-login wallets (cwallet.sso) are the same format under a password the
 * code derives (store/autologin.c): a fixed one for AUTO_LOGIN, one bound
 * to this host's name, machine id and the server's OS user for LOCAL
 * AUTO_LOGIN.  Their
 * protection is the file's mode, as in Oracle.  Without /etc/machine-id
 * the local binding is to the host name and user id only, which another
 * host can share: each process that derives such a password says so once,
 * in a WARNING.
 *
 * OpenSSL objects are freed and decrypted bytes cleansed on every path: the
 * OpenSSL work runs inside PG_TRY blocks whose PG_FINALLY cleanses every
 * decrypted bag (an error while copying them, out of memory for instance,
 * included) and frees it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/sha.h>

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "miscadmin.h"

#include "tde/store/autologin.h"
#include "tde/store/wallet.h"
#include "tde/util/fileio.h"
#include "tde/util/secure.h"

#define WALLET_INFO_NAME	"TDE.WALLETINFO"
#define WALLET_FORMAT		1
/* Auto-login wallets have a password anyone can derive: no KDF cost. */
#define AUTOLOGIN_ITERATIONS 2048

const char *
tde_wallet_kind_name(TdeWalletKind kind)
{
	switch (kind)
	{
		case TDE_WALLET_PASSWORD:
			return "password";
		case TDE_WALLET_AUTOLOGIN:
			return "autologin";
		case TDE_WALLET_LOCAL_AUTOLOGIN:
			return "local_autologin";
	}
	return "unknown";
}

static bool
kind_from_name(const char *s, TdeWalletKind *kind)
{
	if (strcmp(s, "password") == 0)
		*kind = TDE_WALLET_PASSWORD;
	else if (strcmp(s, "autologin") == 0)
		*kind = TDE_WALLET_AUTOLOGIN;
	else if (strcmp(s, "local_autologin") == 0)
		*kind = TDE_WALLET_LOCAL_AUTOLOGIN;
	else
		return false;
	return true;
}

/* ---------------------------------------------------------------------
 * In-memory wallets
 * ---------------------------------------------------------------------
 */

TdeWallet *
tde_wallet_create(TdeWalletKind kind)
{
	TdeWallet  *w = palloc0(sizeof(TdeWallet));

	w->kind = kind;
	w->maxentries = 8;
	w->entries = palloc0(sizeof(TdeWalletEntry) * w->maxentries);
	return w;
}

TdeWallet *
tde_wallet_copy(const TdeWallet *src, TdeWalletKind kind)
{
	TdeWallet  *w = tde_wallet_create(kind);
	int			i;

	for (i = 0; i < src->nentries; i++)
		tde_wallet_put(w, src->entries[i].name, src->entries[i].value,
					   src->entries[i].len);
	return w;
}

const TdeWalletEntry *
tde_wallet_get(const TdeWallet *w, const char *name)
{
	int			i;

	for (i = 0; i < w->nentries; i++)
		if (strcmp(w->entries[i].name, name) == 0)
			return &w->entries[i];
	return NULL;
}

void
tde_wallet_put(TdeWallet *w, const char *name, const void *value, int len)
{
	TdeWalletEntry *e = (TdeWalletEntry *) tde_wallet_get(w, name);

	if (e == NULL)
	{
		if (w->nentries == w->maxentries)
		{
			w->maxentries *= 2;
			w->entries = repalloc(w->entries,
								  sizeof(TdeWalletEntry) * w->maxentries);
		}
		e = &w->entries[w->nentries++];
		e->name = pstrdup(name);
	}
	else
		tde_wipe(e->value, e->len);
	e->value = tde_secure_alloc(len > 0 ? len : 1);
	memcpy(e->value, value, len);
	e->len = len;
}

bool
tde_wallet_remove(TdeWallet *w, const char *name)
{
	int			i;

	for (i = 0; i < w->nentries; i++)
	{
		if (strcmp(w->entries[i].name, name) == 0)
		{
			tde_wipe(w->entries[i].value, w->entries[i].len);
			memmove(&w->entries[i], &w->entries[i + 1],
					sizeof(TdeWalletEntry) * (w->nentries - i - 1));
			w->nentries--;
			return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------
 */

static PKCS12_SAFEBAG *
make_secret_bag(const char *name, const unsigned char *value, int len)
{
	PKCS12_SAFEBAG *bag;

	bag = PKCS12_SAFEBAG_create_secret(NID_pkcs7_data, V_ASN1_OCTET_STRING,
									   value, len);
	if (bag == NULL)
		return NULL;
	if (!PKCS12_add_friendlyname_asc(bag, name, -1))
	{
		PKCS12_SAFEBAG_free(bag);
		return NULL;
	}
	return bag;
}

static void
sha256_hex(const unsigned char *data, int len, char *out)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];

	SHA256(data, len, digest);
	hex_encode((char *) digest, SHA256_DIGEST_LENGTH, out);
	out[SHA256_DIGEST_LENGTH * 2] = '\0';
}

/*
 * Encode a wallet as DER.  Returns an OpenSSL-allocated buffer (ciphertext
 * only) or NULL on failure.
 */
/* Cleanse the values of decrypted bags and free them. */
static void
free_bags_cleansed(STACK_OF(PKCS12_SAFEBAG) *bags)
{
	int			i;

	for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++)
	{
		const ASN1_TYPE *obj =
			PKCS12_SAFEBAG_get0_bag_obj(sk_PKCS12_SAFEBAG_value(bags, i));

		if (obj && obj->type == V_ASN1_OCTET_STRING)
			OPENSSL_cleanse(obj->value.octet_string->data,
							obj->value.octet_string->length);
	}
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
}

/* Push a secret bag onto bags; false (nothing pushed) on failure. */
static bool
push_secret_bag(STACK_OF(PKCS12_SAFEBAG) *bags, const char *name,
				const unsigned char *value, int len)
{
	PKCS12_SAFEBAG *bag = make_secret_bag(name, value, len);

	if (bag == NULL || !sk_PKCS12_SAFEBAG_push(bags, bag))
	{
		PKCS12_SAFEBAG_free(bag);
		return false;
	}
	return true;
}

/*
 * The plain part: the info bag, naming the format, the kind and the
 * digest of the encrypted part enc.  NULL on failure.
 */
static PKCS7 *
info_safe(TdeWalletKind kind, PKCS7 *enc)
{
	STACK_OF(PKCS12_SAFEBAG) *infobags = sk_PKCS12_SAFEBAG_new_null();
	unsigned char *encder = NULL;
	int			enclen;
	char		digest_hex[SHA256_DIGEST_LENGTH * 2 + 1];
	char		info[256];
	PKCS7	   *plain = NULL;

	enclen = i2d_PKCS7(enc, &encder);
	if (infobags != NULL && enclen > 0)
	{
		sha256_hex(encder, enclen, digest_hex);
		snprintf(info, sizeof(info), "format=%d\nkind=%s\nsha256=%s\n",
				 WALLET_FORMAT, tde_wallet_kind_name(kind), digest_hex);
		if (push_secret_bag(infobags, WALLET_INFO_NAME,
							(unsigned char *) info, strlen(info)))
			plain = PKCS12_pack_p7data(infobags);
	}
	if (infobags)
		sk_PKCS12_SAFEBAG_pop_free(infobags, PKCS12_SAFEBAG_free);
	OPENSSL_free(encder);
	return plain;
}

static unsigned char *
wallet_to_der(const TdeWallet *w, const char *pass, int iter, int *derlen)
{
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	PKCS7	   *enc = NULL;
	PKCS7	   *plain = NULL;
	PKCS12	   *p12 = NULL;
	unsigned char *der = NULL;
	int			i;
	bool		ok = false;

	*derlen = 0;
	bags = sk_PKCS12_SAFEBAG_new_null();
	safes = sk_PKCS7_new_null();
	if (!bags || !safes)
		goto done;

	for (i = 0; i < w->nentries; i++)
		if (!push_secret_bag(bags, w->entries[i].name, w->entries[i].value,
							 w->entries[i].len))
			goto done;

	enc = PKCS12_pack_p7encdata_ex(NID_aes_256_cbc, pass, -1, NULL, 0, iter,
								   bags, NULL, NULL);
	if (enc == NULL)
		goto done;
	plain = info_safe(w->kind, enc);
	if (plain == NULL)
		goto done;

	if (!sk_PKCS7_push(safes, plain))
		goto done;
	plain = NULL;
	if (!sk_PKCS7_push(safes, enc))
		goto done;
	enc = NULL;

	p12 = PKCS12_add_safes_ex(safes, 0, NULL, NULL);
	if (p12 == NULL)
		goto done;
	if (!PKCS12_set_mac(p12, pass, -1, NULL, 0, iter, EVP_sha256()))
		goto done;
	*derlen = i2d_PKCS12(p12, &der);
	ok = *derlen > 0;

done:
	/* the plaintext bags: cleanse the values before freeing */
	if (bags)
		free_bags_cleansed(bags);
	if (safes)
		sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS7_free(enc);
	PKCS7_free(plain);
	PKCS12_free(p12);
	if (!ok)
	{
		OPENSSL_free(der);
		return NULL;
	}
	return der;
}

/*
 * The file contents of a wallet, palloc'd: PKCS#12 under the password (an
 * auto-login kind uses its own).  The file is encrypted; its bytes are
 * not secret in memory, but they are what the file would be.
 */
char *
tde_wallet_encode(const TdeWallet *w, const char *password, int iterations,
				  size_t *len)
{
	unsigned char *der;
	int			derlen = 0;
	char	   *out;

	if (w->kind != TDE_WALLET_PASSWORD)
	{
		password = tde_autologin_password(w->kind == TDE_WALLET_LOCAL_AUTOLOGIN);
		iterations = AUTOLOGIN_ITERATIONS;
	}
	Assert(password != NULL && password[0] != '\0');

	der = wallet_to_der(w, password, iterations, &derlen);
	if (der == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not encode keystore"),
				 errdetail("OpenSSL could not build the PKCS#12 structure.")));
	out = palloc(derlen);
	memcpy(out, der, derlen);
	OPENSSL_free(der);
	*len = derlen;
	return out;
}

void
tde_wallet_write(const char *path, const TdeWallet *w, const char *password,
				 int iterations)
{
	size_t		len;
	char	   *data = tde_wallet_encode(w, password, iterations, &len);

	tde_file_write_atomic(path, data, len);
	pfree(data);
}

/* ---------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------
 */

/* Parse the plain info bag: "format=1\nkind=...\nsha256=...\n". */
static bool
parse_info(const ASN1_OCTET_STRING *os, TdeWalletKind *kind, char *digest_hex)
{
	char		buf[256];
	char	   *line;
	char	   *save = NULL;
	bool		have_kind = false;
	bool		have_digest = false;
	bool		have_format = false;

	if (os->length <= 0 || os->length >= (int) sizeof(buf))
		return false;
	memcpy(buf, os->data, os->length);
	buf[os->length] = '\0';

	for (line = strtok_r(buf, "\n", &save); line;
		 line = strtok_r(NULL, "\n", &save))
	{
		if (strncmp(line, "format=", 7) == 0)
			have_format = atoi(line + 7) == WALLET_FORMAT;
		else if (strncmp(line, "kind=", 5) == 0)
			have_kind = kind_from_name(line + 5, kind);
		else if (strncmp(line, "sha256=", 7) == 0 &&
				 strlen(line + 7) == SHA256_DIGEST_LENGTH * 2)
		{
			strcpy(digest_hex, line + 7);
			have_digest = true;
		}
	}
	return have_format && have_kind && have_digest;
}

static TdeWalletResult
find_info(PKCS7 *plain, TdeWalletKind *kind, char *digest_hex)
{
	STACK_OF(PKCS12_SAFEBAG) *bags;
	TdeWalletResult result = TDE_WALLET_CORRUPT;
	int			i;

	if (OBJ_obj2nid(plain->type) != NID_pkcs7_data)
		return TDE_WALLET_CORRUPT;
	bags = PKCS12_unpack_p7data(plain);
	if (bags == NULL)
		return TDE_WALLET_CORRUPT;
	for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++)
	{
		PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
		char	   *name = PKCS12_get_friendlyname(bag);
		const ASN1_TYPE *obj = PKCS12_SAFEBAG_get0_bag_obj(bag);

		if (name && strcmp(name, WALLET_INFO_NAME) == 0 &&
			PKCS12_SAFEBAG_get_nid(bag) == NID_secretBag &&
			obj && obj->type == V_ASN1_OCTET_STRING &&
			parse_info(obj->value.octet_string, kind, digest_hex))
			result = TDE_WALLET_OK;
		OPENSSL_free(name);
	}
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	return result;
}

/* Is every bag a named secret bag holding an OCTET STRING? */
static bool
bags_well_formed(STACK_OF(PKCS12_SAFEBAG) *bags)
{
	int			i;

	for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++)
	{
		PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
		const ASN1_TYPE *obj = PKCS12_SAFEBAG_get0_bag_obj(bag);
		char	   *name = PKCS12_get_friendlyname(bag);
		bool		ok;

		ok = PKCS12_SAFEBAG_get_nid(bag) == NID_secretBag && name != NULL &&
			obj != NULL && obj->type == V_ASN1_OCTET_STRING;
		OPENSSL_free(name);
		if (!ok)
			return false;
	}
	return true;
}

/*
 * Copy well-formed decrypted bags into the wallet.  tde_wallet_put may
 * throw (out of memory): the caller's PG_FINALLY cleanses the bags, and
 * the entries copied so far are secure memory.
 */
static void
copy_bags(STACK_OF(PKCS12_SAFEBAG) *bags, TdeWallet *w)
{
	int			i;

	for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++)
	{
		PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
		const ASN1_TYPE *obj = PKCS12_SAFEBAG_get0_bag_obj(bag);
		char	   *name = PKCS12_get_friendlyname(bag);
		char	   *copy;

		/* the name in palloc'd memory, so that OpenSSL's is freed now */
		copy = pstrdup(name);
		OPENSSL_free(name);
		tde_wallet_put(w, copy, obj->value.octet_string->data,
					   obj->value.octet_string->length);
		pfree(copy);
	}
}

/*
 * bags, decrypted from the intact encrypted part with pass (NULL if that
 * failed): a wrong password, damage, or a wallet.
 */
static TdeWalletResult
check_decrypted(PKCS12 *p12, STACK_OF(PKCS12_SAFEBAG) *bags, const char *pass,
				TdeWalletKind kind)
{
	TdeWalletResult wrong = (kind == TDE_WALLET_LOCAL_AUTOLOGIN) ?
		TDE_WALLET_OTHER_HOST : TDE_WALLET_BAD_PASSWORD;

	if (bags == NULL)
		return wrong;
	if (!PKCS12_verify_mac(p12, pass, -1))
		return bags_well_formed(bags) ? TDE_WALLET_CORRUPT : wrong;
	if (!bags_well_formed(bags))
		return TDE_WALLET_CORRUPT;	/* a PKCS#12 file, not a wallet */
	return TDE_WALLET_OK;
}

/* Is enc, the encrypted part, the one whose digest the info bag gives? */
static TdeWalletResult
check_encrypted_digest(PKCS7 *enc, const char *digest_hex)
{
	char		actual_hex[SHA256_DIGEST_LENGTH * 2 + 1];
	unsigned char *encder = NULL;
	int			enclen = i2d_PKCS7(enc, &encder);
	TdeWalletResult res = TDE_WALLET_OK;

	if (OBJ_obj2nid(enc->type) != NID_pkcs7_encrypted || enclen <= 0)
		res = TDE_WALLET_CORRUPT;
	else
	{
		sha256_hex(encder, enclen, actual_hex);
		if (strcmp(actual_hex, digest_hex) != 0)
			res = TDE_WALLET_CORRUPT;
	}
	OPENSSL_free(encder);
	return res;
}

TdeWalletResult
tde_wallet_load(const char *path, bool autologin, const char *password,
				TdeWallet **result)
{
	char	   *file;
	size_t		filelen;
	PKCS12	   *volatile p12 = NULL;
	STACK_OF(PKCS7) *volatile safes = NULL;
	STACK_OF(PKCS12_SAFEBAG) *volatile bags = NULL;
	volatile TdeWalletResult res = TDE_WALLET_OK;
	TdeWallet  *volatile w = NULL;

	*result = NULL;
	file = tde_file_read_all(path, &filelen, true);
	if (file == NULL)
		return TDE_WALLET_MISSING;

	PG_TRY();
	{
		const unsigned char *p = (const unsigned char *) file;
		TdeWalletKind kind = TDE_WALLET_PASSWORD;
		char		digest_hex[SHA256_DIGEST_LENGTH * 2 + 1];

		p12 = d2i_PKCS12(NULL, &p, filelen);
		if (p12 == NULL || p != (const unsigned char *) file + filelen)
			res = TDE_WALLET_CORRUPT;
		if (res == TDE_WALLET_OK)
		{
			safes = PKCS12_unpack_authsafes(p12);
			if (safes == NULL || sk_PKCS7_num(safes) != 2)
				res = TDE_WALLET_CORRUPT;
		}
		if (res == TDE_WALLET_OK)
			res = find_info(sk_PKCS7_value(safes, 0), &kind, digest_hex);

		/* The encrypted part must be the one the info bag describes. */
		if (res == TDE_WALLET_OK)
			res = check_encrypted_digest(sk_PKCS7_value(safes, 1), digest_hex);

		if (res == TDE_WALLET_OK &&
			autologin != (kind != TDE_WALLET_PASSWORD))
			res = TDE_WALLET_WRONG_KIND;

		/*
		 * The encrypted part is intact (its digest matched): the password
		 * is right if and only if it decrypts it into well-formed bags.
		 * Only then does a failing MAC mean damage (see the file header).
		 */
		if (res == TDE_WALLET_OK)
		{
			const char *pass = autologin ? tde_autologin_password(kind == TDE_WALLET_LOCAL_AUTOLOGIN) : password;

			bags = PKCS12_unpack_p7encdata(sk_PKCS7_value(safes, 1), pass, -1);
			res = check_decrypted(p12, bags, pass, kind);
			if (res == TDE_WALLET_OK)
			{
				w = tde_wallet_create(kind);
				copy_bags(bags, w);
			}
			ERR_clear_error();
		}
	}
	PG_FINALLY();
	{
		if (bags)
			free_bags_cleansed(bags);
		if (safes)
			sk_PKCS7_pop_free(safes, PKCS7_free);
		PKCS12_free(p12);
		pfree(file);
	}
	PG_END_TRY();

	if (res == TDE_WALLET_OK)
		*result = w;
	return res;
}

