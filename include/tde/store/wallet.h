/*-------------------------------------------------------------------------
 *
 * wallet.h
 *	  PKCS#12 wallet files: a named list of secret entries.
 *
 * wallet.c knows PKCS#12 (RFC 7292) and nothing of keys or SQL: a wallet is
 * a list of (name, bytes) entries.  The callers decide what the entries
 * mean (master keys, metadata, client secrets).
 *
 * Entry values are secure memory (secure.h): they are wiped when the memory
 * context that holds the wallet goes away.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_WALLET_H
#define TDE_WALLET_H

typedef enum TdeWalletKind
{
	TDE_WALLET_PASSWORD,		/* ewallet.p12: opened with a password */
	TDE_WALLET_AUTOLOGIN,		/* cwallet.sso: opens without one */
	TDE_WALLET_LOCAL_AUTOLOGIN	/* cwallet.sso bound to this host and user */
} TdeWalletKind;

typedef enum TdeWalletResult
{
	TDE_WALLET_OK,
	TDE_WALLET_MISSING,			/* no such file */
	TDE_WALLET_BAD_PASSWORD,	/* the MAC does not verify with this password */
	TDE_WALLET_CORRUPT,			/* not a wallet, or damaged */
	TDE_WALLET_WRONG_KIND,		/* a wallet, but not of the kind asked for */
	TDE_WALLET_OTHER_HOST		/* a local auto-login wallet from elsewhere */
} TdeWalletResult;

typedef struct TdeWalletEntry
{
	char	   *name;
	unsigned char *value;		/* secure memory */
	int			len;
} TdeWalletEntry;

typedef struct TdeWallet
{
	TdeWalletKind kind;
	int			nentries;
	int			maxentries;
	TdeWalletEntry *entries;
} TdeWallet;

extern TdeWallet *tde_wallet_create(TdeWalletKind kind);
extern TdeWallet *tde_wallet_copy(const TdeWallet *src, TdeWalletKind kind);
extern void tde_wallet_put(TdeWallet *w, const char *name,
						   const void *value, int len);
extern const TdeWalletEntry *tde_wallet_get(const TdeWallet *w, const char *name);
extern bool tde_wallet_remove(TdeWallet *w, const char *name);

/*
 * Load a wallet file.  For a password wallet give the password; for an
 * auto-login wallet give NULL and the password is derived from the file's
 * kind (and, for a local one, from this host).
 */
extern TdeWalletResult tde_wallet_load(const char *path, bool autologin,
									   const char *password, TdeWallet **result);

/* Write atomically; password is ignored (derived) for auto-login kinds. */
extern char *tde_wallet_encode(const TdeWallet *w, const char *password,
							   int iterations, size_t *len);
extern void tde_wallet_write(const char *path, const TdeWallet *w,
							 const char *password, int iterations);

extern const char *tde_wallet_kind_name(TdeWalletKind kind);

#endif							/* TDE_WALLET_H */
