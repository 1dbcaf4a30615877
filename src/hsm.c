/*-------------------------------------------------------------------------
 *
 * hsm.c
 *	  A PKCS#11 hardware security module as a master-key store.
 *
 * See hsm.h.  Functions used, and no others: C_GetFunctionList,
 * C_Initialize, C_Finalize, C_GetSlotList, C_GetTokenInfo, C_OpenSession,
 * C_CloseSession, C_Login, C_FindObjectsInit, C_FindObjects,
 * C_FindObjectsFinal, C_GenerateKey, C_EncryptInit, C_Encrypt,
 * C_DecryptInit, C_Decrypt.
 *
 * Wrapped relation keys are nonce (12) || ciphertext || tag (16), AES-GCM
 * with the caller's associated data; the nonce comes from OpenSSL's RNG.
 *
 * Errors: a module that cannot be loaded, a token label that matches no
 * token, a wrong PIN, and an HSM that stops answering each raise their own
 * SQLSTATE; the PKCS#11 return value's name is in the detail.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dlfcn.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "miscadmin.h"
#include "utils/builtins.h"

#include "tde/crypto.h"
#include "tde/hsm.h"
#include "tde/secure.h"
#include "tde/tde.h"

#define GCM_IV_LEN	12
#define GCM_TAG_LEN 16
#define MAX_SLOTS	64
#define HANDLE_CACHE 64

/* Per-process PKCS#11 state */
static pid_t hsm_pid = 0;
static void *hsm_dl = NULL;
static char hsm_dl_path[MAXPGPATH];
static CK_FUNCTION_LIST_PTR p11 = NULL;
static bool hsm_initialized = false;
static CK_SESSION_HANDLE hsm_session = CK_INVALID_HANDLE;
static bool hsm_logged_in = false;
static uint64 hsm_cred_generation = 0;

/* The last credential, kept to rebuild a dead session once. */
static char hsm_credential[TDE_HSM_CREDENTIAL_MAX];

/* MKID -> object handle, valid for the current session */
static struct
{
	uint8		mkid[TDE_MKID_LEN];
	CK_OBJECT_HANDLE handle;
}			handle_cache[HANDLE_CACHE];
static int	nhandles = 0;

static const char *
ckr_name(CK_RV rv)
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
	}
	return psprintf("CKR 0x%08lx", (unsigned long) rv);
}

/* Return values that mean the session or the device went away. */
static bool
is_session_failure(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
		rv == CKR_DEVICE_ERROR || rv == CKR_DEVICE_REMOVED ||
		rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_USER_NOT_LOGGED_IN ||
		rv == CKR_CRYPTOKI_NOT_INITIALIZED || rv == CKR_GENERAL_ERROR ||
		rv == CKR_FUNCTION_FAILED || rv == CKR_DEVICE_MEMORY;
}

static void
hsm_unavailable(const char *what, CK_RV rv)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("HSM is not available: %s failed", what),
			 errdetail("The PKCS#11 module returned %s.", ckr_name(rv)),
			 errhint("Check the HSM and its connection; tde reconnects on the next call.")));
}

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
	nhandles = 0;
}

void
tde_hsm_reset(void)
{
	hsm_teardown(true);
	explicit_bzero(hsm_credential, sizeof(hsm_credential));
	hsm_cred_generation = 0;
}

static void
load_module(void)
{
	CK_C_GetFunctionList get_list;
	CK_RV		rv;
	const char *path = tde_pkcs11_library;

	if (path == NULL || path[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tde.pkcs11_library is not set"),
				 errhint("Set it to the path of the HSM vendor's PKCS#11 module.")));

	if (hsm_dl != NULL && strcmp(hsm_dl_path, path) == 0)
		return;
	if (hsm_dl != NULL)
	{
		hsm_teardown(true);
		dlclose(hsm_dl);
		hsm_dl = NULL;
		p11 = NULL;
	}

	hsm_dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (hsm_dl == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("could not load PKCS#11 library \"%s\"", path),
				 errdetail("%s", dlerror())));
	get_list = (CK_C_GetFunctionList) dlsym(hsm_dl, "C_GetFunctionList");
	if (get_list == NULL)
	{
		dlclose(hsm_dl);
		hsm_dl = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not load PKCS#11 library \"%s\"", path),
				 errdetail("The library has no C_GetFunctionList.")));
	}
	rv = get_list(&p11);
	if (rv != CKR_OK || p11 == NULL)
	{
		dlclose(hsm_dl);
		hsm_dl = NULL;
		p11 = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not load PKCS#11 library \"%s\"", path),
				 errdetail("C_GetFunctionList returned %s.", ckr_name(rv))));
	}
	strlcpy(hsm_dl_path, path, sizeof(hsm_dl_path));
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

static CK_RV
login_with(const char *pin)
{
	return p11->C_Login(hsm_session, CKU_USER, (CK_UTF8CHAR_PTR) pin, strlen(pin));
}

/*
 * Set up a logged-in session; returns the failing call's value (CKR_OK on
 * success) and its name in *what.  Errors that are not the HSM's fault
 * (no library, no token, wrong PIN) are raised here.
 */
static CK_RV
connect_and_login(const char *credential, const char **what, bool token_known)
{
	CK_SLOT_ID	slot;
	bool		found;
	CK_RV		rv;
	const char *colon = strchr(credential, ':');

	if (!IsUnderPostmaster && IsPostmasterEnvironment)
		elog(ERROR, "PKCS#11 must not be initialised in the postmaster");
	if (hsm_pid != getpid())
	{
		/* inherited state belongs to the parent: start afresh */
		hsm_initialized = false;
		hsm_session = CK_INVALID_HANDLE;
		hsm_logged_in = false;
		nhandles = 0;
		hsm_pid = getpid();
	}
	load_module();

	*what = "C_Initialize";
	if ((rv = initialize()) != CKR_OK)
		return rv;
	*what = "C_GetSlotList";
	if ((rv = find_slot(&slot, &found)) != CKR_OK)
		return rv;
	if (!found)
	{
		/* forget the module's view of the slots: it may come back */
		hsm_teardown(true);
		/* a token that was there before and is gone is an outage */
		if (token_known)
			return CKR_TOKEN_NOT_PRESENT;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("could not get slot: no PKCS#11 token is labelled \"%s\"",
						tde_pkcs11_token_label ? tde_pkcs11_token_label : ""),
				 errhint("Check tde.pkcs11_token_label against the labels the module reports (pkcs11-tool --list-slots).")));
	}
	if (hsm_session != CK_INVALID_HANDLE)
		(void) p11->C_CloseSession(hsm_session);
	hsm_session = CK_INVALID_HANDLE;
	*what = "C_OpenSession";
	if ((rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
								 NULL, NULL, &hsm_session)) != CKR_OK)
		return rv;
	/*
	 * The credential is the PIN, or Oracle's "user:pin": some modules take
	 * the whole "user:password" as their PIN, others only the part after
	 * the colon, so that part is tried when the whole is refused.
	 */
	*what = "C_Login";
	rv = login_with(credential);
	if ((rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE) &&
		colon != NULL)
		rv = login_with(colon + 1);
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE)
	{
		hsm_teardown(false);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PASSWORD),
				 errmsg("incorrect HSM credential for token \"%s\"", tde_pkcs11_token_label),
				 errdetail("ORA-28353: failed to open wallet (C_Login returned %s)", ckr_name(rv))));
	}
	if (rv == CKR_PIN_LOCKED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the HSM user PIN is locked"),
				 errdetail("C_Login returned CKR_PIN_LOCKED.")));
	if (rv != CKR_OK)
		return rv;
	hsm_logged_in = true;
	nhandles = 0;
	return CKR_OK;
}

/*
 * A logged-in session for this credential, rebuilding the module state
 * once if the HSM went away.
 */
void
tde_hsm_login(const char *credential, uint64 credential_generation)
{
	const char *what = NULL;
	CK_RV		rv;

	if (hsm_logged_in && hsm_pid == getpid() &&
		hsm_cred_generation == credential_generation &&
		credential_generation != 0 &&
		strcmp(hsm_credential, credential) == 0)
		return;

	/* a credential already in use (generation set) found its token before */
	rv = connect_and_login(credential, &what, credential_generation != 0);
	if (rv != CKR_OK && is_session_failure(rv))
	{
		hsm_teardown(true);
		rv = connect_and_login(credential, &what, credential_generation != 0);
	}
	if (rv != CKR_OK)
	{
		hsm_teardown(true);
		hsm_unavailable(what, rv);
	}
	strlcpy(hsm_credential, credential, sizeof(hsm_credential));
	hsm_cred_generation = credential_generation;
}

/* Rebuild the session after a failure, once; false if that fails too. */
static bool
reconnect(void)
{
	const char *what;
	CK_RV		rv;

	hsm_teardown(true);
	rv = connect_and_login(hsm_credential, &what, true);
	if (rv != CKR_OK)
	{
		hsm_teardown(true);
		return false;
	}
	return true;
}

static CK_RV
find_handle(const uint8 *mkid, CK_OBJECT_HANDLE *handle, bool *found)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_ID, (void *) mkid, TDE_MKID_LEN},
	};
	CK_ULONG	n = 0;
	CK_RV		rv;
	int			i;

	*found = false;
	for (i = 0; i < nhandles; i++)
		if (memcmp(handle_cache[i].mkid, mkid, TDE_MKID_LEN) == 0)
		{
			*handle = handle_cache[i].handle;
			*found = true;
			return CKR_OK;
		}

	rv = p11->C_FindObjectsInit(hsm_session, tmpl, lengthof(tmpl));
	if (rv != CKR_OK)
		return rv;
	rv = p11->C_FindObjects(hsm_session, handle, 1, &n);
	(void) p11->C_FindObjectsFinal(hsm_session);
	if (rv != CKR_OK)
		return rv;
	if (n == 1)
	{
		*found = true;
		if (nhandles < HANDLE_CACHE)
		{
			memcpy(handle_cache[nhandles].mkid, mkid, TDE_MKID_LEN);
			handle_cache[nhandles++].handle = *handle;
		}
	}
	return CKR_OK;
}

static void
require_session(void)
{
	if (!hsm_logged_in || hsm_pid != getpid())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("HSM keystore is not open")));
}

static void
hex_label(const uint8 *mkid, char *out)
{
	strcpy(out, "TDE_MEK_");
	hex_encode((const char *) mkid, TDE_MKID_LEN, out + 8);
	out[8 + TDE_MKID_LEN * 2] = '\0';
}

void
tde_hsm_generate_key(const uint8 *mkid)
{
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_ULONG	len = 32;
	CK_BBOOL	yes = CK_TRUE;
	CK_BBOOL	no = CK_FALSE;
	char		label[8 + TDE_MKID_LEN * 2 + 1];
	CK_OBJECT_HANDLE handle;
	CK_RV		rv;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_KEY_TYPE, &type, sizeof(type)},
		{CKA_VALUE_LEN, &len, sizeof(len)},
		{CKA_TOKEN, &yes, sizeof(yes)},
		{CKA_PRIVATE, &yes, sizeof(yes)},
		{CKA_SENSITIVE, &yes, sizeof(yes)},
		{CKA_EXTRACTABLE, &no, sizeof(no)},
		{CKA_ENCRYPT, &yes, sizeof(yes)},
		{CKA_DECRYPT, &yes, sizeof(yes)},
		{CKA_WRAP, &no, sizeof(no)},
		{CKA_UNWRAP, &no, sizeof(no)},
		{CKA_SIGN, &no, sizeof(no)},
		{CKA_VERIFY, &no, sizeof(no)},
		{CKA_DERIVE, &no, sizeof(no)},
		{CKA_ID, (void *) mkid, TDE_MKID_LEN},
		{CKA_LABEL, label, 0},
	};

	require_session();
	hex_label(mkid, label);
	tmpl[lengthof(tmpl) - 1].ulValueLen = strlen(label);

	rv = p11->C_GenerateKey(hsm_session, &mech, tmpl, lengthof(tmpl), &handle);
	if (rv != CKR_OK && is_session_failure(rv) && reconnect())
		rv = p11->C_GenerateKey(hsm_session, &mech, tmpl, lengthof(tmpl), &handle);
	if (rv != CKR_OK)
	{
		if (is_session_failure(rv))
			hsm_unavailable("C_GenerateKey", rv);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("the HSM could not generate a master key"),
				 errdetail("C_GenerateKey returned %s.", ckr_name(rv))));
	}
	if (nhandles < HANDLE_CACHE)
	{
		memcpy(handle_cache[nhandles].mkid, mkid, TDE_MKID_LEN);
		handle_cache[nhandles++].handle = handle;
	}
}

/* Look a key up, reconnecting once if the session died. */
static bool
lookup(const uint8 *mkid, CK_OBJECT_HANDLE *handle)
{
	bool		found;
	CK_RV		rv;

	require_session();
	rv = find_handle(mkid, handle, &found);
	if (rv != CKR_OK && is_session_failure(rv) && reconnect())
		rv = find_handle(mkid, handle, &found);
	if (rv != CKR_OK)
		hsm_unavailable("C_FindObjects", rv);
	return found;
}

bool
tde_hsm_has_key(const uint8 *mkid)
{
	CK_OBJECT_HANDLE handle;

	return lookup(mkid, &handle);
}

static void
missing_key(const uint8 *mkid)
{
	char		key_id[TDE_KEY_ID_LEN + 1];

	tde_mkid_to_key_id(mkid, key_id);
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("master key \"%s\" is not in the HSM", key_id),
			 errdetail("ORA-28374: typed master key not found in wallet")));
}

static CK_RV
gcm_call(bool encrypt, CK_OBJECT_HANDLE key, uint8 *iv, const uint8 *aad, int aadlen,
		 const uint8 *in, CK_ULONG inlen, uint8 *out, CK_ULONG *outlen,
		 const char **what)
{
	CK_GCM_PARAMS params;
	CK_MECHANISM mech;
	CK_RV		rv;

	memset(&params, 0, sizeof(params));
	params.pIv = iv;
	params.ulIvLen = GCM_IV_LEN;
	params.ulIvBits = GCM_IV_LEN * 8;
	params.pAAD = (CK_BYTE_PTR) aad;
	params.ulAADLen = aadlen;
	params.ulTagBits = GCM_TAG_LEN * 8;
	mech.mechanism = CKM_AES_GCM;
	mech.pParameter = &params;
	mech.ulParameterLen = sizeof(params);

	if (encrypt)
	{
		*what = "C_EncryptInit";
		rv = p11->C_EncryptInit(hsm_session, &mech, key);
		if (rv == CKR_OK)
		{
			*what = "C_Encrypt";
			rv = p11->C_Encrypt(hsm_session, (CK_BYTE_PTR) in, inlen, out, outlen);
		}
	}
	else
	{
		*what = "C_DecryptInit";
		rv = p11->C_DecryptInit(hsm_session, &mech, key);
		if (rv == CKR_OK)
		{
			*what = "C_Decrypt";
			rv = p11->C_Decrypt(hsm_session, (CK_BYTE_PTR) in, inlen, out, outlen);
		}
	}
	return rv;
}

int
tde_hsm_wrap(const uint8 *mkid, const uint8 *aad, int aadlen,
			 const uint8 *in, int inlen, uint8 *out)
{
	CK_OBJECT_HANDLE key;
	CK_ULONG	outlen = inlen + GCM_TAG_LEN;
	CK_RV		rv;
	const char *what = NULL;

	if (!lookup(mkid, &key))
		missing_key(mkid);
	tde_random_bytes(out, GCM_IV_LEN);
	rv = gcm_call(true, key, out, aad, aadlen, in, inlen, out + GCM_IV_LEN, &outlen, &what);
	if (rv != CKR_OK && is_session_failure(rv) && reconnect() && lookup(mkid, &key))
	{
		outlen = inlen + GCM_TAG_LEN;
		rv = gcm_call(true, key, out, aad, aadlen, in, inlen, out + GCM_IV_LEN, &outlen, &what);
	}
	if (rv != CKR_OK)
	{
		if (is_session_failure(rv))
			hsm_unavailable(what, rv);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("the HSM could not wrap a relation key"),
				 errdetail("%s returned %s.", what, ckr_name(rv))));
	}
	return GCM_IV_LEN + outlen;
}

bool
tde_hsm_unwrap(const uint8 *mkid, const uint8 *aad, int aadlen,
			   const uint8 *in, int inlen, uint8 *out, int *outlen)
{
	CK_OBJECT_HANDLE key;
	CK_ULONG	len;
	CK_RV		rv;
	uint8		iv[GCM_IV_LEN];
	const char *what = NULL;

	if (inlen <= GCM_IV_LEN + GCM_TAG_LEN)
		return false;
	if (!lookup(mkid, &key))
		missing_key(mkid);
	memcpy(iv, in, GCM_IV_LEN);
	len = inlen - GCM_IV_LEN;
	rv = gcm_call(false, key, iv, aad, aadlen, in + GCM_IV_LEN, inlen - GCM_IV_LEN, out, &len, &what);
	if (rv != CKR_OK && is_session_failure(rv) && reconnect() && lookup(mkid, &key))
	{
		len = inlen - GCM_IV_LEN;
		rv = gcm_call(false, key, iv, aad, aadlen, in + GCM_IV_LEN, inlen - GCM_IV_LEN, out, &len, &what);
	}
	if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE)
		return false;
	if (rv != CKR_OK)
	{
		if (is_session_failure(rv))
			hsm_unavailable(what, rv);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("the HSM could not unwrap a relation key"),
				 errdetail("%s returned %s.", what, ckr_name(rv))));
	}
	*outlen = len;
	return true;
}

/* Forget cached object handles (DROP EXTENSION); the session stays. */
void
tde_hsm_forget_handles(void)
{
	nhandles = 0;
}
