/*-------------------------------------------------------------------------
 *
 * tde.h
 *	  Instance-wide state of the tde extension: shared memory, GUCs, and the
 *	  names of the files it keeps under tde.wallet_root.
 *
 * The keystore is instance-wide, as in Oracle: opening it in one session
 * opens it for every session of every database.  Its status lives in one
 * struct in shared memory, so the library must be in
 * shared_preload_libraries.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_TDE_H
#define TDE_TDE_H

#include "storage/lwlock.h"

/* Files and directories under tde.wallet_root (Oracle's WALLET_ROOT). */
#define TDE_WALLET_DIR		"tde"
#define TDE_SEPS_DIR		"tde_seps"
#define TDE_EWALLET_FILE	"ewallet.p12"
#define TDE_CWALLET_FILE	"cwallet.sso"

/* How the keystore currently in memory was opened. */
typedef enum TdeOpenKind
{
	TDE_OPEN_NONE = 0,			/* closed */
	TDE_OPEN_PASSWORD,			/* ewallet.p12 with its password */
	TDE_OPEN_AUTOLOGIN,			/* cwallet.sso */
	TDE_OPEN_LOCAL_AUTOLOGIN	/* cwallet.sso bound to this host */
} TdeOpenKind;

/*
 * Shared state.  state_lock guards every field and is held only briefly;
 * admin_lock serializes the operations that read, change and write keystore
 * files (they take seconds at the default KDF cost) so that two writers
 * never interleave, without blocking readers of the status.
 *
 * No password is ever kept here: every operation that needs one is given it
 * and checks it against the file.
 */
typedef struct TdeSharedState
{
	LWLock	   *state_lock;
	LWLock	   *admin_lock;
	TdeOpenKind open_kind;
	int			nmasterkeys;	/* master keys in the open keystore */
	bool		fully_backed_up;	/* every master key is in a backup */
	uint64		generation;		/* bumped whenever open keys change */
} TdeSharedState;

extern TdeSharedState *tde_shared;

/* GUCs (guc.c) */
extern char *tde_wallet_root;
extern char *tde_keystore_configuration;
extern int	tde_wallet_kdf_iterations;

extern void tde_define_gucs(void);

/* tde.c */
extern void tde_require_loaded(void);

/* privs.c */
extern void tde_require_admin(void);
extern void tde_require_monitor(void);
extern void tde_require_location_access(const char *path);

/* redact.c */
extern void tde_install_log_redaction(void);

#endif							/* TDE_TDE_H */
