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

#include "port/atomics.h"
#include "storage/lwlock.h"

#include "tde/keys/masterkey.h"
#include "tde/store/hsm.h"

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

/* Progress of re-wrapping one database's relation keys in the background */
typedef enum TdeRewrapState
{
	TDE_REWRAP_PENDING,
	TDE_REWRAP_RUNNING,
	TDE_REWRAP_DONE,
	TDE_REWRAP_SKIPPED,			/* the database has no tde extension */
	TDE_REWRAP_WAITING,			/* the keystore is closed */
	TDE_REWRAP_FAILED
} TdeRewrapState;

#define TDE_MAX_DATABASES 128

typedef struct TdeRewrapProgress
{
	Oid			dboid;
	TdeRewrapState state;
	uint8		target_mkid[TDE_MKID_LEN];
	int64		total;
	int64		done;
	TimestampTz started;
	TimestampTz finished;
	char		error[256];
} TdeRewrapProgress;

/*
 * Shared state.  state_lock guards every field and is held only briefly;
 * admin_lock serializes the operations that read, change and write keystore
 * files (they take seconds at the default KDF cost) so that two writers
 * never interleave, without blocking readers of the status.  generation is
 * an atomic counter bumped whenever the open keys change (open, close,
 * rekey); backends compare it to drop their caches without taking a lock.
 *
 * Master keys of the open keystore are kept here with their metadata: key
 * material in shared memory, as Oracle keeps it in the SGA.  No password is
 * ever kept: every operation that needs one is given it and checks it
 * against the file.
 */
/* The master keys of one keystore (the file wallet, or the HSM) */
typedef struct TdeKeySet
{
	int			nkeys;
	int			active;			/* index of this keystore's active key, or -1 */
	TdeMasterKey keys[TDE_MAX_MASTER_KEYS];
} TdeKeySet;

typedef struct TdeSharedState
{
	LWLock	   *state_lock;
	LWLock	   *admin_lock;
	pg_atomic_uint64 generation;
	/* the file wallet */
	TdeOpenKind open_kind;
	bool		fully_backed_up;	/* every wallet key is in a backup */
	TdeKeySet	file_keys;
	/* the HSM: its credential is here so every backend can log in */
	bool		hsm_open;
	uint64		hsm_cred_generation;
	char		hsm_credential[TDE_HSM_CREDENTIAL_MAX];
	TdeKeySet	hsm_keys;
	/* background re-wrap */
	int			nprogress;		/* rewrap progress entries in use */
	TdeRewrapProgress progress[TDE_MAX_DATABASES];
} TdeSharedState;

extern TdeSharedState *tde_shared;

/* GUCs (guc.c) */
extern char *tde_wallet_root;
extern char *tde_keystore_configuration;
extern int	tde_wallet_kdf_iterations;

extern void tde_define_gucs(void);

/* tde.c */
extern void tde_require_loaded(void);
extern uint64 tde_generation(void);

/* privs.c */
extern void tde_require_admin(void);
extern void tde_require_monitor(void);
extern void tde_require_location_access(const char *path);

/* redact.c */
extern void tde_install_log_redaction(void);
extern void tde_mark_statement_sensitive(void);
/* a secret the running statement carries: no message may show it */
extern void tde_redact_secret(const char *secret);

#endif							/* TDE_TDE_H */
