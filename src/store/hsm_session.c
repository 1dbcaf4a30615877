/*-------------------------------------------------------------------------
 *
 * hsm_session.c
 *	  The PKCS#11 module and this process's logged-in session.
 *
 * See store/hsm_session.h.  Functions used: C_GetFunctionList,
 * C_Initialize, C_Finalize, C_GetSlotList, C_GetTokenInfo, C_OpenSession,
 * C_CloseSession, C_Login.
 *
 * Results: a module that cannot be loaded, a token label that matches no
 * token, a wrong or locked PIN and an HSM that stops answering each have
 * their own TdeHsmResult; nothing here raises an error a user sees
 * (keystore/report.c does).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dlfcn.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "miscadmin.h"

#include "tde/store/hsm_session.h"

/* GUCs (store/hsm_session.h) */
char	   *tde_pkcs11_library = NULL;
char	   *tde_pkcs11_token_label = NULL;
char	   *tde_pkcs11_init_args = NULL;

#define MAX_SLOTS	64

/* Per-process PKCS#11 state */
static pid_t hsm_pid = 0;
static void *hsm_dl = NULL;
static char hsm_dl_path[MAXPGPATH];
static CK_FUNCTION_LIST_PTR p11 = NULL;
static bool hsm_initialized = false;
static CK_SESSION_HANDLE hsm_session = CK_INVALID_HANDLE;
static bool hsm_logged_in = false;
static uint64 hsm_cred_generation = 0;
static char hsm_label[MAXPGPATH];	/* the token label of the session */
static uint64 hsm_epoch = 1;	/* changes whenever the session does */

/* The last credential, kept to rebuild a dead session once. */
static char hsm_credential[TDE_HSM_CREDENTIAL_MAX];

const char *
tde_hsm_rv_name(unsigned long rv)
{
	switch (rv)
	{
		case CKR_OK:
			return "CKR_OK";
		case CKR_GENERAL_ERROR:
			return "CKR_GENERAL_ERROR";
		case CKR_FUNCTION_FAILED:
			return "CKR_FUNCTION_FAILED";
		case CKR_ARGUMENTS_BAD:
			return "CKR_ARGUMENTS_BAD";
		case CKR_DEVICE_ERROR:
			return "CKR_DEVICE_ERROR";
		case CKR_DEVICE_MEMORY:
			return "CKR_DEVICE_MEMORY";
		case CKR_DEVICE_REMOVED:
			return "CKR_DEVICE_REMOVED";
		case CKR_ENCRYPTED_DATA_INVALID:
			return "CKR_ENCRYPTED_DATA_INVALID";
		case CKR_KEY_HANDLE_INVALID:
			return "CKR_KEY_HANDLE_INVALID";
		case CKR_MECHANISM_INVALID:
			return "CKR_MECHANISM_INVALID";
		case CKR_MECHANISM_PARAM_INVALID:
			return "CKR_MECHANISM_PARAM_INVALID";
		case CKR_OBJECT_HANDLE_INVALID:
			return "CKR_OBJECT_HANDLE_INVALID";
		case CKR_PIN_INCORRECT:
			return "CKR_PIN_INCORRECT";
		case CKR_PIN_LOCKED:
			return "CKR_PIN_LOCKED";
		case CKR_SESSION_CLOSED:
			return "CKR_SESSION_CLOSED";
		case CKR_SESSION_HANDLE_INVALID:
			return "CKR_SESSION_HANDLE_INVALID";
		case CKR_TOKEN_NOT_PRESENT:
			return "CKR_TOKEN_NOT_PRESENT";
		case CKR_TOKEN_NOT_RECOGNIZED:
			return "CKR_TOKEN_NOT_RECOGNIZED";
		case CKR_USER_NOT_LOGGED_IN:
			return "CKR_USER_NOT_LOGGED_IN";
		case CKR_USER_PIN_NOT_INITIALIZED:
			return "CKR_USER_PIN_NOT_INITIALIZED";
		case CKR_CRYPTOKI_NOT_INITIALIZED:
			return "CKR_CRYPTOKI_NOT_INITIALIZED";
		case CKR_ENCRYPTED_DATA_LEN_RANGE:
			return "CKR_ENCRYPTED_DATA_LEN_RANGE";
		case CKR_DATA_LEN_RANGE:
			return "CKR_DATA_LEN_RANGE";
		case CKR_BUFFER_TOO_SMALL:
			return "CKR_BUFFER_TOO_SMALL";
		case CKR_TEMPLATE_INCONSISTENT:
			return "CKR_TEMPLATE_INCONSISTENT";
		case CKR_ATTRIBUTE_VALUE_INVALID:
			return "CKR_ATTRIBUTE_VALUE_INVALID";
		case CKR_DATA_INVALID:
			return "CKR_DATA_INVALID";
		case CKR_KEY_FUNCTION_NOT_PERMITTED:
			return "CKR_KEY_FUNCTION_NOT_PERMITTED";
		case CKR_KEY_TYPE_INCONSISTENT:
			return "CKR_KEY_TYPE_INCONSISTENT";
		case CKR_OPERATION_ACTIVE:
			return "CKR_OPERATION_ACTIVE";
	}
	return psprintf("CKR 0x%08lx", (unsigned long) rv);
}

/* ---------------------------------------------------------------------
 * Results
 * ---------------------------------------------------------------------
 */

void
tde_hsm_begin(TdeHsmError *err, TdeHsmOperation operation)
{
	memset(err, 0, sizeof(*err));
	err->operation = operation;
}

TdeHsmResult
tde_hsm_fail(TdeHsmError *err, TdeHsmResult result, const char *call,
			 unsigned long rv)
{
	err->result = result;
	err->call = call;
	err->rv = rv;
	return result;
}

/* Return values that mean the session or the device went away. */
bool
tde_hsm_is_session_failure(unsigned long rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
		rv == CKR_DEVICE_ERROR || rv == CKR_DEVICE_REMOVED ||
		rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_USER_NOT_LOGGED_IN ||
		rv == CKR_CRYPTOKI_NOT_INITIALIZED || rv == CKR_GENERAL_ERROR ||
		rv == CKR_FUNCTION_FAILED || rv == CKR_DEVICE_MEMORY;
}

/* ---------------------------------------------------------------------
 * The module and the session
 * ---------------------------------------------------------------------
 */

/* Forget every session and the module's state in this process. */
static void
hsm_teardown(bool finalize)
{
	if (p11 != NULL && hsm_pid == getpid())
	{
		if (hsm_session != CK_INVALID_HANDLE)
			(void) p11->C_CloseSession(hsm_session);
		if (finalize && hsm_initialized)
			(void) p11->C_Finalize(NULL);
	}
	hsm_session = CK_INVALID_HANDLE;
	hsm_logged_in = false;
	if (finalize)
		hsm_initialized = false;
	hsm_epoch++;
}

void
tde_hsm_reset(void)
{
	hsm_teardown(true);
	explicit_bzero(hsm_credential, sizeof(hsm_credential));
	hsm_cred_generation = 0;
}

static void
unload_module(void)
{
	if (hsm_dl != NULL)
		dlclose(hsm_dl);
	hsm_dl = NULL;
	p11 = NULL;
}

static TdeHsmResult
load_module(TdeHsmError *err)
{
	CK_C_GetFunctionList get_list;
	CK_RV		rv;
	const char *path = tde_pkcs11_library;

	if (path == NULL || path[0] == '\0')
		return tde_hsm_fail(err, TDE_HSM_NO_LIBRARY, NULL, CKR_OK);
	if (hsm_dl != NULL && strcmp(hsm_dl_path, path) == 0)
		return TDE_HSM_OK;
	if (hsm_dl != NULL)
	{
		hsm_teardown(true);
		unload_module();
	}

	hsm_dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (hsm_dl == NULL)
	{
		const char *why = dlerror();

		strlcpy(err->text, why ? why : "", sizeof(err->text));
		return tde_hsm_fail(err, TDE_HSM_LOAD_FAILED, "dlopen", CKR_OK);
	}
	get_list = (CK_C_GetFunctionList) dlsym(hsm_dl, "C_GetFunctionList");
	if (get_list == NULL)
	{
		unload_module();
		return tde_hsm_fail(err, TDE_HSM_NO_ENTRY_POINT, "dlsym", CKR_OK);
	}
	rv = get_list(&p11);
	if (rv != CKR_OK || p11 == NULL)
	{
		unload_module();
		return tde_hsm_fail(err, TDE_HSM_MODULE_FAILED, "C_GetFunctionList", rv);
	}
	strlcpy(hsm_dl_path, path, sizeof(hsm_dl_path));
	return TDE_HSM_OK;
}

static CK_RV
initialize(void)
{
	CK_C_INITIALIZE_ARGS args;
	CK_RV		rv;

	if (hsm_initialized)
		return CKR_OK;
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	if (tde_pkcs11_init_args != NULL && tde_pkcs11_init_args[0] != '\0')
		args.pReserved = tde_pkcs11_init_args;
	rv = p11->C_Initialize(&args);
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
		rv = CKR_OK;
	hsm_initialized = (rv == CKR_OK);
	return rv;
}

/* The slot whose token has the configured label (never a slot number). */
static CK_RV
find_slot(CK_SLOT_ID *slot, bool *found)
{
	CK_SLOT_ID	slots[MAX_SLOTS];
	CK_ULONG	n = MAX_SLOTS;
	CK_RV		rv;
	CK_ULONG	i;
	const char *label = tde_pkcs11_token_label ? tde_pkcs11_token_label : "";

	*found = false;
	rv = p11->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK)
		return rv;
	for (i = 0; i < n; i++)
	{
		CK_TOKEN_INFO info;
		int			len;

		if (p11->C_GetTokenInfo(slots[i], &info) != CKR_OK)
			continue;
		len = sizeof(info.label);
		while (len > 0 && info.label[len - 1] == ' ')
			len--;
		if (len == (int) strlen(label) && memcmp(info.label, label, len) == 0)
		{
			*slot = slots[i];
			*found = true;
			return CKR_OK;
		}
	}
	return CKR_OK;
}

/*
 * The PIN in a credential: the part after the first colon of Oracle's
 * "user:pin", else the whole credential.  One rule, so one C_Login per
 * attempt: a wrong credential costs one try of the token's lockout
 * counter, never two.
 */
static const char *
credential_pin(const char *credential)
{
	const char *colon = strchr(credential, ':');

	return colon ? colon + 1 : credential;
}

static CK_RV
login_with(const char *pin)
{
	return p11->C_Login(hsm_session, CKU_USER, (CK_UTF8CHAR_PTR) pin, strlen(pin));
}

/* This process's own module state, not one inherited over fork(). */
static void
own_process(void)
{
	if (!IsUnderPostmaster && IsPostmasterEnvironment)
		elog(ERROR, "PKCS#11 must not be initialised in the postmaster");
	if (hsm_pid != getpid())
	{
		/* inherited state belongs to the parent: start afresh */
		hsm_initialized = false;
		hsm_session = CK_INVALID_HANDLE;
		hsm_logged_in = false;
		hsm_epoch++;
		hsm_pid = getpid();
	}
}

/* A session on the configured token; a token that went away is an outage. */
static TdeHsmResult
open_session(bool token_known, TdeHsmError *err)
{
	CK_SLOT_ID	slot;
	bool		found;
	CK_RV		rv;

	if ((rv = initialize()) != CKR_OK)
		return tde_hsm_fail(err, TDE_HSM_UNAVAILABLE, "C_Initialize", rv);
	if ((rv = find_slot(&slot, &found)) != CKR_OK)
		return tde_hsm_fail(err, TDE_HSM_UNAVAILABLE, "C_GetSlotList", rv);
	if (!found)
	{
		/* forget the module's view of the slots: it may come back */
		hsm_teardown(true);
		if (token_known)
			return tde_hsm_fail(err, TDE_HSM_UNAVAILABLE, "C_GetSlotList",
						CKR_TOKEN_NOT_PRESENT);
		return tde_hsm_fail(err, TDE_HSM_NO_TOKEN, "C_GetSlotList", CKR_OK);
	}
	if (hsm_session != CK_INVALID_HANDLE)
		(void) p11->C_CloseSession(hsm_session);
	hsm_session = CK_INVALID_HANDLE;
	rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
							NULL, NULL, &hsm_session);
	if (rv != CKR_OK)
		return tde_hsm_fail(err, TDE_HSM_UNAVAILABLE, "C_OpenSession", rv);
	return TDE_HSM_OK;
}

/*
 * Set up a logged-in session.  A failing PKCS#11 call is
 * TDE_HSM_UNAVAILABLE (the caller may try once more); no library, no
 * token and a refused PIN have their own results.
 */
static TdeHsmResult
connect_and_login(const char *credential, bool token_known, TdeHsmError *err)
{
	TdeHsmResult r;
	CK_RV		rv;

	own_process();
	if ((r = load_module(err)) != TDE_HSM_OK)
		return r;
	if ((r = open_session(token_known, err)) != TDE_HSM_OK)
		return r;
	rv = login_with(credential_pin(credential));
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE)
	{
		hsm_teardown(false);
		return tde_hsm_fail(err, TDE_HSM_BAD_PIN, "C_Login", rv);
	}
	if (rv == CKR_PIN_LOCKED)
		return tde_hsm_fail(err, TDE_HSM_PIN_LOCKED, "C_Login", rv);
	if (rv != CKR_OK)
		return tde_hsm_fail(err, TDE_HSM_UNAVAILABLE, "C_Login", rv);
	hsm_logged_in = true;
	strlcpy(hsm_label, tde_pkcs11_token_label ? tde_pkcs11_token_label : "",
			sizeof(hsm_label));
	hsm_epoch++;
	return TDE_HSM_OK;
}

/* The session serves this credential of this generation as it is. */
static bool
session_serves(const char *credential, uint64 credential_generation)
{
	/*
	 * It does if it is this process's, logged in with this credential, to
	 * the configured module and token (a reload may have changed them),
	 * and either of this generation or freshly proven (generation 0: the
	 * login of SET KEYSTORE OPEN, which then publishes the credential) -- a
	 * second C_Login would only cost time.
	 */
	return hsm_logged_in && hsm_pid == getpid() &&
		credential_generation != 0 &&
		(hsm_cred_generation == credential_generation || hsm_cred_generation == 0) &&
		strcmp(hsm_credential, credential) == 0 &&
		strcmp(hsm_label, tde_pkcs11_token_label ? tde_pkcs11_token_label : "") == 0 &&
		tde_pkcs11_library != NULL && strcmp(hsm_dl_path, tde_pkcs11_library) == 0;
}

/*
 * A logged-in session for this credential, rebuilding the module state
 * once if the HSM went away.
 */
TdeHsmResult
tde_hsm_login(const char *credential, uint64 credential_generation,
			  TdeHsmError *err)
{
	/* a credential already in use (generation set) found its token before */
	bool		token_known = credential_generation != 0;
	TdeHsmResult r;

	tde_hsm_begin(err, TDE_HSM_OP_LOGIN);
	if (session_serves(credential, credential_generation))
	{
		hsm_cred_generation = credential_generation;
		return TDE_HSM_OK;
	}
	r = connect_and_login(credential, token_known, err);
	if (r == TDE_HSM_UNAVAILABLE && tde_hsm_is_session_failure(err->rv))
	{
		hsm_teardown(true);
		r = connect_and_login(credential, token_known, err);
	}
	if (r == TDE_HSM_UNAVAILABLE)
		hsm_teardown(true);
	if (r != TDE_HSM_OK)
		return r;
	strlcpy(hsm_credential, credential, sizeof(hsm_credential));
	hsm_cred_generation = credential_generation;
	return tde_hsm_fail(err, TDE_HSM_OK, NULL, CKR_OK);
}

/*
 * Rebuild the session after a failure (in *err), once.  TDE_HSM_OK; or
 * TDE_HSM_UNAVAILABLE with *err as it was (the first failure is the one to
 * report); or what else stopped the login.
 */
TdeHsmResult
tde_hsm_reconnect(TdeHsmError *err)
{
	TdeHsmError again;
	TdeHsmResult r;

	hsm_teardown(true);
	tde_hsm_begin(&again, err->operation);
	r = connect_and_login(hsm_credential, true, &again);
	if (r == TDE_HSM_UNAVAILABLE)
	{
		hsm_teardown(true);
		return TDE_HSM_UNAVAILABLE;
	}
	if (r != TDE_HSM_OK)
		*err = again;
	return r;
}

/* The logged-in session of this process, or NULL. */
const TdeHsmSession *
tde_hsm_session(void)
{
	static TdeHsmSession s;

	if (!hsm_logged_in || hsm_pid != getpid())
		return NULL;
	s.p11 = p11;
	s.session = hsm_session;
	s.epoch = hsm_epoch;
	return &s;
}
