/*-------------------------------------------------------------------------
 *
 * hsm_session.h
 *	  The PKCS#11 module and this process's logged-in session.
 *
 * The module is loaded here (dlopen + C_GetFunctionList).  PKCS#11 state
 * is per process and never set up in the postmaster: each backend
 * initialises the module and logs in on first use with the credential the
 * keystore layer hands it, and does so again if the process changed
 * (fork) or the credential changed.
 *
 * Nothing here raises an error a user sees: each function returns a
 * TdeHsmResult and fills in a TdeHsmError, which keystore/report.c turns
 * into the SQLSTATE, message and Oracle number.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_HSM_SESSION_H
#define TDE_HSM_SESSION_H

#include <p11-kit/pkcs11.h>

#include "tde/util/keyid.h"

/*
 * The module, the token and C_Initialize's argument: the GUCs
 * tde.pkcs11_library, tde.pkcs11_token_label and tde.pkcs11_init_args,
 * registered on these variables by guc.c and read here only.
 */
extern char *tde_pkcs11_library;
extern char *tde_pkcs11_token_label;
extern char *tde_pkcs11_init_args;

/* the longest credential ("pin" or "user:pin"), with its terminator */
#define TDE_HSM_CREDENTIAL_MAX 256

/*
 * What a call into the HSM came to.  store/hsm* raise no error of their own
 * (only elog for a broken caller): each public function returns one of
 * these with a TdeHsmError filled in, and keystore/report.c turns it into
 * the SQLSTATE, message and Oracle number the user sees.
 */
typedef enum TdeHsmResult
{
	TDE_HSM_OK = 0,
	TDE_HSM_NO_LIBRARY,			/* tde.pkcs11_library is empty */
	TDE_HSM_LOAD_FAILED,		/* dlopen failed; text = dlerror() */
	TDE_HSM_NO_ENTRY_POINT,		/* the library has no C_GetFunctionList */
	TDE_HSM_MODULE_FAILED,		/* C_GetFunctionList failed */
	TDE_HSM_NO_TOKEN,			/* no token has the configured label */
	TDE_HSM_BAD_PIN,			/* C_Login refused the PIN */
	TDE_HSM_PIN_LOCKED,			/* C_Login: CKR_PIN_LOCKED */
	TDE_HSM_UNAVAILABLE,		/* the session or the device went away */
	TDE_HSM_NOT_LOGGED_IN,		/* no session in this process */
	TDE_HSM_KEY_MISSING,		/* no token key has this MKID */
	TDE_HSM_DEVICE_ERROR,		/* the module refused the call */
	TDE_HSM_MECHANISM_REFUSED,	/* ... for want of GCM or AES-ECB */
	TDE_HSM_NOT_AUTHENTIC		/* unwrap: the blob does not authenticate */
} TdeHsmResult;

/* The operation a TdeHsmError belongs to, for its message. */
typedef enum TdeHsmOperation
{
	TDE_HSM_OP_LOGIN,
	TDE_HSM_OP_GENERATE,
	TDE_HSM_OP_FIND,
	TDE_HSM_OP_WRAP,
	TDE_HSM_OP_UNWRAP
} TdeHsmOperation;

typedef struct TdeHsmError
{
	TdeHsmResult result;
	TdeHsmOperation operation;
	unsigned long rv;			/* the failing call's CK_RV (0: none) */
	const char *call;			/* the failing call ("C_Login"), or NULL */
	uint8		mkid[TDE_MKID_LEN]; /* the key of KEY_MISSING */
	bool		gcm_abandoned;	/* wrap: the module's GCM did not round-trip,
								 * KWP from now on (worth a LOG line) */
	char		text[256];		/* dlerror() of LOAD_FAILED */
} TdeHsmError;

/* The name of a PKCS#11 return value ("CKR_PIN_INCORRECT"). */
extern const char *tde_hsm_rv_name(unsigned long rv);

/*
 * A logged-in session for a credential ("pin" or "user:pin"); generation
 * 0 asks for a fresh C_Login (which proves the credential).
 */
extern TdeHsmResult tde_hsm_login(const char *credential,
								  uint64 credential_generation,
								  TdeHsmError *err);
extern void tde_hsm_reset(void);

/*
 * The logged-in session of this process, or NULL.  epoch changes whenever
 * the session is rebuilt or the module changes: object handles and the
 * module's answers about mechanisms are kept only for one epoch.
 */
typedef struct TdeHsmSession
{
	CK_FUNCTION_LIST_PTR p11;
	CK_SESSION_HANDLE session;
	uint64		epoch;
} TdeHsmSession;

extern const TdeHsmSession *tde_hsm_session(void);

/*
 * Rebuild the session after a failure (in *err), once: TDE_HSM_OK; or
 * TDE_HSM_UNAVAILABLE with *err as it was (the first failure is the one
 * to report); or what else stopped the login.
 */
extern TdeHsmResult tde_hsm_reconnect(TdeHsmError *err);

/* For the units of store/hsm*: filling in a TdeHsmError */
extern void tde_hsm_begin(TdeHsmError *err, TdeHsmOperation operation);
extern TdeHsmResult tde_hsm_fail(TdeHsmError *err, TdeHsmResult result,
								 const char *call, unsigned long rv);
extern bool tde_hsm_is_session_failure(unsigned long rv);

#endif							/* TDE_HSM_SESSION_H */
