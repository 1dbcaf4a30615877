/*-------------------------------------------------------------------------
 *
 * config.h
 *	  Where the keystores are and which are in use: tde.wallet_root,
 *	  tde.keystore_configuration, tde.wallet_kdf_iterations; the paths
 *	  under the wallet root and the lock that serializes their changes.
 *
 * The GUC variables are defined here, the lowest unit that reads them;
 * guc.c registers the parameters on them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_CONFIG_H
#define TDE_KEYSTORE_CONFIG_H

/* GUCs, registered by guc.c */
extern char *tde_wallet_root;
extern char *tde_keystore_configuration;
extern int	tde_wallet_kdf_iterations;

/* Files and directories under tde.wallet_root (Oracle's WALLET_ROOT). */
#define TDE_WALLET_DIR		"tde"
#define TDE_SEPS_DIR		"tde_seps"
#define TDE_EWALLET_FILE	"ewallet.p12"
#define TDE_CWALLET_FILE	"cwallet.sso"

/*
 * The longest location or file path a statement may name, and the longest
 * name in it: NAME_MAX (255) less the suffix of the temporary file a write
 * makes beside it (".tmp.<pid>").
 */
#define TDE_MAX_LOCATION_LEN	768
#define TDE_MAX_NAME_LEN		240

/* tde.keystore_configuration (Oracle's TDE_CONFIGURATION) */
typedef enum TdeConfig
{
	TDE_CONFIG_FILE,
	TDE_CONFIG_HSM,
	TDE_CONFIG_HSM_FILE,		/* HSM primary, wallet secondary */
	TDE_CONFIG_FILE_HSM			/* wallet primary, HSM secondary */
} TdeConfig;

extern TdeConfig tde_config(void);

/* paths, palloc'd; they fail clearly if tde.wallet_root is not set */
extern char *tde_wallet_dir(void);
extern char *tde_seps_dir(void);
extern char *tde_join_path(const char *dir, const char *file);
extern char *tde_canonical_location(const char *location, const char *what);
extern void tde_require_location_access(const char *path);
extern void tde_require_location_read_access(const char *path);
extern char *tde_keystore_location_dir(const char *location);
extern void tde_check_password(const char *password, const char *what);
extern void tde_check_label(const char *s, int max, const char *what);

/* the keystore lock: a re-entrant, cancellable flock on the directory */
extern int	tde_keystore_lock(const char *dir, bool create, const char *missing_file);
extern void tde_keystore_unlock(int handle);
extern int	tde_keystore_lock_depth(void);
extern void tde_keystore_unlock_to(int depth);

#endif							/* TDE_KEYSTORE_CONFIG_H */
