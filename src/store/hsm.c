/*-------------------------------------------------------------------------
 *
 * hsm.c
 *	  A PKCS#11 hardware security module as a master-key store.
 *
 * See store/hsm.h.  Functions used, and no others: C_GetFunctionList,
 * C_Initialize, C_Finalize, C_GetSlotList, C_GetTokenInfo, C_OpenSession,
 * C_CloseSession, C_Login, C_FindObjectsInit, C_FindObjects,
 * C_FindObjectsFinal, C_GenerateKey, C_EncryptInit, C_Encrypt,
 * C_DecryptInit, C_Decrypt.
 *
 * Wrapped relation keys, and how each is told apart (the first byte names
 * the mechanism, so every key records the one that wrapped it):
 *
 *	 0x01 || IV (12) || ciphertext || tag (16)	CKM_AES_GCM with the caller's
 *		associated data; the IV is the one the module left in the
 *		parameters after C_Encrypt: ours (random, from OpenSSL), or its
 *		own where it generates IVs itself (FIPS mode)
 *	 0x02 || RFC 5649 (key || SHA-256 (associated data))	AES key wrap with
 *		padding (KWP), for modules without a usable CKM_AES_GCM; KWP has no
 *		associated data, so its hash is wrapped with the key and checked
 *		on unwrap
 *	 IV (12) || ciphertext || tag (16)	written before version 1.1: GCM,
 *		no header
 *
 * A blob whose first byte looks like a header but does not authenticate is
 * tried as an old one too: an old blob's first byte is a random IV byte.
 *
 * KWP is computed here, by OpenSSL's RFC 5649 code (CRYPTO_128_wrap_pad),
 * on the AES block function of the master key in the HSM: CKM_AES_ECB,
 * one block per C_Encrypt/C_Decrypt, so the key never leaves the token and
 * no further PKCS#11 function is needed.  Modules name KWP differently
 * (SoftHSM2 offers it as CKM_AES_KEY_WRAP_PAD, 0x210A, only through
 * C_WrapKey/C_UnwrapKey on a key object; PKCS#11 2.40 defines that value
 * with PKCS#7 padding, 3.0 adds CKM_AES_KEY_WRAP_KWP, 0x210B) and p11-kit
 * 0.24's RPC forwards neither, nor GCM: of the AES mechanisms it passes
 * only CKM_AES_KEY_GEN and CKM_AES_ECB.  Where the module has no GCM
 * either, GCM blobs written elsewhere are opened the same way (OpenSSL's
 * CRYPTO_gcm128 on the HSM's block function), so keys still unwrap after
 * a change of module.
 *
 * The mechanism is chosen by what the module answers: GCM first; a
 * C_EncryptInit that answers CKR_MECHANISM_PARAM_INVALID to our IV is
 * asked again with a zeroed IV for the module to fill in (an IV still zero
 * afterwards is refused); CKR_MECHANISM_INVALID, or a GCM wrap that does
 * not unwrap again, selects KWP for the rest of the session.  Every wrap
 * is unwrapped once before it is returned: a key is never stored wrapped
 * in a way that cannot be undone.
 *
 * Caches, all per process: the session, the module's mechanism choice and
 * the MKID -> object handle map.  An object handle names a token object
 * only as long as the module says so: the handle map is emptied when a
 * transaction or subtransaction aborts (a key generated in it may be
 * destroyed by an administrator who sees no metadata for it), by
 * tde_hsm_forget_handles() (DROP EXTENSION), and whenever the session is
 * rebuilt; a handle the module calls invalid is looked up again once.
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

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/modes.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "tde/crypto/cipher.h"
#include "tde/store/hsm.h"
#include "tde/util/keyid.h"
#include "tde/util/secure.h"

/* GUCs (store/hsm.h) */
char	   *tde_pkcs11_library = NULL;
char	   *tde_pkcs11_token_label = NULL;
char	   *tde_pkcs11_init_args = NULL;

#define GCM_IV_LEN	12
#define GCM_TAG_LEN 16
#define MAX_SLOTS	64
#define HANDLE_CACHE 64

/* first byte of a wrapped key: its mechanism */
#define WRAP_HDR_GCM	0x01
#define WRAP_HDR_KWP	0x02
#define AAD_HASH_LEN	32		/* SHA-256 */
#define AES_BLOCK		16
#define KWP_MAX_IN		(TDE_WRAP_MAX_OVERHEAD + 64)

/* what the module answered for GCM in this session */
typedef enum
{
	MECH_UNKNOWN = 0,
	MECH_YES,
	MECH_NO
} MechState;

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
static MechState gcm_wrap = MECH_UNKNOWN;	/* GCM for wrapping */
static MechState gcm_unwrap = MECH_UNKNOWN;	/* GCM for unwrapping */
static bool xact_callback_registered = false;

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
	tde_hsm_forget_handles();
}

/*
 * Forget every object handle and what the module answered about its
 * mechanisms; the session stays.  Called when the session is rebuilt and
 * on DROP EXTENSION (an abort empties only the handle map).
 */
void
tde_hsm_forget_handles(void)
{
	nhandles = 0;
	gcm_wrap = MECH_UNKNOWN;
	gcm_unwrap = MECH_UNKNOWN;
}

/*
 * A handle found or generated in a transaction that aborts is not trusted
 * afterwards: the key it names may exist in no metadata, and the
 * administrator may destroy it.  The whole map goes: afterwards each key
 * costs one C_FindObjects again, once.
 */
static void
hsm_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		nhandles = 0;
}

static void
hsm_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
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

	if (!IsUnderPostmaster && IsPostmasterEnvironment)
		elog(ERROR, "PKCS#11 must not be initialised in the postmaster");
	if (hsm_pid != getpid())
	{
		/* inherited state belongs to the parent: start afresh */
		hsm_initialized = false;
		hsm_session = CK_INVALID_HANDLE;
		hsm_logged_in = false;
		tde_hsm_forget_handles();
		hsm_pid = getpid();
	}
	if (!xact_callback_registered)
	{
		RegisterXactCallback(hsm_xact_callback, NULL);
		RegisterSubXactCallback(hsm_subxact_callback, NULL);
		xact_callback_registered = true;
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
	*what = "C_Login";
	rv = login_with(credential_pin(credential));
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
	strlcpy(hsm_label, tde_pkcs11_token_label ? tde_pkcs11_token_label : "",
			sizeof(hsm_label));
	tde_hsm_forget_handles();
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

	/*
	 * The session serves if it is this process's, logged in with this
	 * credential, to the configured module and token (a reload may have
	 * changed them), and either of this generation or freshly proven
	 * (generation 0: the login of SET KEYSTORE OPEN, which then publishes
	 * the credential) -- a second C_Login would only cost time.
	 */
	if (hsm_logged_in && hsm_pid == getpid() &&
		credential_generation != 0 &&
		(hsm_cred_generation == credential_generation || hsm_cred_generation == 0) &&
		strcmp(hsm_credential, credential) == 0 &&
		strcmp(hsm_label, tde_pkcs11_token_label ? tde_pkcs11_token_label : "") == 0 &&
		tde_pkcs11_library != NULL && strcmp(hsm_dl_path, tde_pkcs11_library) == 0)
	{
		hsm_cred_generation = credential_generation;
		return;
	}

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

/* ---------------------------------------------------------------------
 * Wrapping
 * ---------------------------------------------------------------------
 */

/* Return values that say the module does not do this mechanism so. */
static bool
is_mechanism_refusal(CK_RV rv)
{
	return rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID;
}

static bool
is_handle_failure(CK_RV rv)
{
	return rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID;
}

static void
gcm_params(CK_GCM_PARAMS *params, CK_MECHANISM *mech, uint8 *iv,
		   const uint8 *aad, int aadlen)
{
	memset(params, 0, sizeof(*params));
	params->pIv = iv;
	params->ulIvLen = GCM_IV_LEN;
	params->ulIvBits = GCM_IV_LEN * 8;
	params->pAAD = (CK_BYTE_PTR) aad;
	params->ulAADLen = aadlen;
	params->ulTagBits = GCM_TAG_LEN * 8;
	mech->mechanism = CKM_AES_GCM;
	mech->pParameter = params;
	mech->ulParameterLen = sizeof(*params);
}

static bool
all_zero(const uint8 *p, int len)
{
	uint8		acc = 0;

	while (len-- > 0)
		acc |= *p++;
	return acc == 0;
}

/*
 * GCM encryption in the HSM into out = IV || ciphertext || tag, with the
 * IV the module used: ours, or, where it refuses ours, its own.
 */
static CK_RV
gcm_encrypt(CK_OBJECT_HANDLE key, const uint8 *aad, int aadlen,
			const uint8 *in, int inlen, uint8 *out, int *outlen,
			const char **what)
{
	CK_GCM_PARAMS params;
	CK_MECHANISM mech;
	uint8		iv[GCM_IV_LEN];
	CK_ULONG	len = inlen + GCM_TAG_LEN;
	bool		module_iv = false;
	CK_RV		rv;

	tde_random_bytes(iv, GCM_IV_LEN);
	gcm_params(&params, &mech, iv, aad, aadlen);
	*what = "C_EncryptInit";
	rv = p11->C_EncryptInit(hsm_session, &mech, key);
	if (rv == CKR_MECHANISM_PARAM_INVALID)
	{
		/* a module that generates IVs itself: it fills the buffer in */
		memset(iv, 0, GCM_IV_LEN);
		gcm_params(&params, &mech, iv, aad, aadlen);
		module_iv = true;
		rv = p11->C_EncryptInit(hsm_session, &mech, key);
	}
	if (rv != CKR_OK)
		return rv;
	*what = "C_Encrypt";
	rv = p11->C_Encrypt(hsm_session, (CK_BYTE_PTR) in, inlen,
						out + GCM_IV_LEN, &len);
	if (rv != CKR_OK)
		return rv;
	/* the IV as the module left it in the parameters */
	memcpy(out, params.pIv != NULL ? params.pIv : iv, GCM_IV_LEN);
	/* a zero IV the module did not replace would be used again: refuse */
	if (module_iv && all_zero(out, GCM_IV_LEN))
		return CKR_MECHANISM_PARAM_INVALID;
	*outlen = GCM_IV_LEN + len;
	return CKR_OK;
}

/* The AES block function of a key in the HSM (CKM_AES_ECB), for OpenSSL. */
typedef struct HsmBlock
{
	CK_OBJECT_HANDLE key;
	bool		encrypt;
	CK_RV		rv;				/* the first failure; then no more calls */
	const char *what;
} HsmBlock;

static void
hsm_block(const unsigned char in[16], unsigned char out[16], const void *arg)
{
	HsmBlock   *b = (HsmBlock *) arg;
	CK_MECHANISM mech = {CKM_AES_ECB, NULL, 0};
	uint8		buf[AES_BLOCK];
	CK_ULONG	len = AES_BLOCK;
	CK_RV		rv;

	if (b->rv != CKR_OK)
	{
		memset(out, 0, AES_BLOCK);
		return;
	}
	memcpy(buf, in, AES_BLOCK); /* OpenSSL may pass in == out */
	if (b->encrypt)
	{
		b->what = "C_EncryptInit";
		rv = p11->C_EncryptInit(hsm_session, &mech, b->key);
		if (rv == CKR_OK)
		{
			b->what = "C_Encrypt";
			rv = p11->C_Encrypt(hsm_session, buf, AES_BLOCK, out, &len);
		}
	}
	else
	{
		b->what = "C_DecryptInit";
		rv = p11->C_DecryptInit(hsm_session, &mech, b->key);
		if (rv == CKR_OK)
		{
			b->what = "C_Decrypt";
			rv = p11->C_Decrypt(hsm_session, buf, AES_BLOCK, out, &len);
		}
	}
	if (rv == CKR_OK && len != AES_BLOCK)
		rv = CKR_DATA_LEN_RANGE;
	if (rv != CKR_OK)
	{
		b->rv = rv;
		memset(out, 0, AES_BLOCK);
	}
	explicit_bzero(buf, sizeof(buf));
}

/*
 * GCM decryption of IV || ciphertext || tag (inlen bytes) into out: in the
 * HSM, or, if it has no GCM, by OpenSSL on its block function.  *ok says
 * whether the tag was right.
 */
static CK_RV
gcm_decrypt(CK_OBJECT_HANDLE key, const uint8 *aad, int aadlen,
			const uint8 *in, int inlen, uint8 *out, int *outlen, bool *ok,
			const char **what)
{
	const uint8 *ct = in + GCM_IV_LEN;
	int			ctlen = inlen - GCM_IV_LEN - GCM_TAG_LEN;
	CK_RV		rv = CKR_MECHANISM_INVALID;

	*ok = false;
	if (gcm_unwrap != MECH_NO)
	{
		CK_GCM_PARAMS params;
		CK_MECHANISM mech;
		uint8		iv[GCM_IV_LEN];
		CK_ULONG	len = inlen - GCM_IV_LEN;

		memcpy(iv, in, GCM_IV_LEN);
		gcm_params(&params, &mech, iv, aad, aadlen);
		*what = "C_DecryptInit";
		rv = p11->C_DecryptInit(hsm_session, &mech, key);
		if (rv == CKR_OK)
		{
			gcm_unwrap = MECH_YES;
			*what = "C_Decrypt";
			rv = p11->C_Decrypt(hsm_session, (CK_BYTE_PTR) ct,
								inlen - GCM_IV_LEN, out, &len);
			if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE)
				return CKR_OK;
			if (rv == CKR_OK)
			{
				*ok = true;
				*outlen = len;
			}
			return rv;
		}
		if (!is_mechanism_refusal(rv))
			return rv;
		gcm_unwrap = MECH_NO;
	}

	/* no GCM in the module: GCM on its AES block function */
	{
		HsmBlock	b = {key, true, CKR_OK, NULL};
		GCM128_CONTEXT *gcm = CRYPTO_gcm128_new(&b, hsm_block);
		int			res;

		if (gcm == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		CRYPTO_gcm128_setiv(gcm, in, GCM_IV_LEN);
		res = CRYPTO_gcm128_aad(gcm, aad, aadlen);
		if (res == 0)
			res = CRYPTO_gcm128_decrypt(gcm, ct, out, ctlen);
		if (res == 0)
			res = CRYPTO_gcm128_finish(gcm, ct + ctlen, GCM_TAG_LEN);
		CRYPTO_gcm128_release(gcm);		/* cleansed */
		if (b.rv != CKR_OK)
		{
			explicit_bzero(out, ctlen);
			*what = b.what;
			return b.rv;
		}
		if (res != 0)
		{
			explicit_bzero(out, ctlen);
			return CKR_OK;
		}
		*ok = true;
		*outlen = ctlen;
		return CKR_OK;
	}
}

static void
aad_hash(const uint8 *aad, int aadlen, uint8 *out)
{
	unsigned int len = AAD_HASH_LEN;

	if (EVP_Digest(aad, aadlen, out, &len, EVP_sha256(), NULL) != 1 ||
		len != AAD_HASH_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not compute SHA-256")));
}

/* KWP (RFC 5649) of key || SHA-256(aad) into out. */
static CK_RV
kwp_wrap(CK_OBJECT_HANDLE key, const uint8 *aad, int aadlen,
		 const uint8 *in, int inlen, uint8 *out, int *outlen, const char **what)
{
	uint8		plain[KWP_MAX_IN];
	HsmBlock	b = {key, true, CKR_OK, NULL};
	size_t		len;

	Assert(inlen + AAD_HASH_LEN <= KWP_MAX_IN);
	memcpy(plain, in, inlen);
	aad_hash(aad, aadlen, plain + inlen);
	len = CRYPTO_128_wrap_pad(&b, NULL, out, plain, inlen + AAD_HASH_LEN, hsm_block);
	explicit_bzero(plain, sizeof(plain));
	if (b.rv != CKR_OK)
	{
		*what = b.what;
		return b.rv;
	}
	if (len == 0)
	{
		*what = "RFC 5649 key wrap";
		return CKR_DATA_INVALID;
	}
	*outlen = (int) len;
	return CKR_OK;
}

static CK_RV
kwp_unwrap(CK_OBJECT_HANDLE key, const uint8 *aad, int aadlen,
		   const uint8 *in, int inlen, uint8 *out, int *outlen, bool *ok,
		   const char **what)
{
	uint8		plain[KWP_MAX_IN + 8];
	uint8		hash[AAD_HASH_LEN];
	HsmBlock	b = {key, false, CKR_OK, NULL};
	size_t		len;

	*ok = false;
	if (inlen < 16 || inlen % 8 != 0 || inlen - 8 > (int) sizeof(plain))
		return CKR_OK;
	len = CRYPTO_128_unwrap_pad(&b, NULL, plain, in, inlen, hsm_block);
	if (b.rv != CKR_OK)
	{
		explicit_bzero(plain, sizeof(plain));
		*what = b.what;
		return b.rv;
	}
	aad_hash(aad, aadlen, hash);
	if (len > AAD_HASH_LEN &&
		CRYPTO_memcmp(plain + len - AAD_HASH_LEN, hash, AAD_HASH_LEN) == 0)
	{
		memcpy(out, plain, len - AAD_HASH_LEN);
		*outlen = (int) len - AAD_HASH_LEN;
		*ok = true;
	}
	explicit_bzero(plain, sizeof(plain));
	return CKR_OK;
}

/*
 * Unwrap one blob in any format; *ok false if it does not authenticate.
 * Returns the first PKCS#11 failure.
 */
static CK_RV
unwrap_any(CK_OBJECT_HANDLE key, const uint8 *aad, int aadlen,
		   const uint8 *in, int inlen, uint8 *out, int *outlen, bool *ok,
		   const char **what)
{
	CK_RV		rv;

	*ok = false;
	if (inlen > 1 + GCM_IV_LEN + GCM_TAG_LEN && in[0] == WRAP_HDR_GCM)
	{
		rv = gcm_decrypt(key, aad, aadlen, in + 1, inlen - 1, out, outlen, ok, what);
		if (rv != CKR_OK || *ok)
			return rv;
	}
	else if (inlen > 1 && in[0] == WRAP_HDR_KWP)
	{
		rv = kwp_unwrap(key, aad, aadlen, in + 1, inlen - 1, out, outlen, ok, what);
		if (rv != CKR_OK || *ok)
			return rv;
	}
	/* written before 1.1: IV || ciphertext || tag, no header */
	if (inlen > GCM_IV_LEN + GCM_TAG_LEN)
		return gcm_decrypt(key, aad, aadlen, in, inlen, out, outlen, ok, what);
	return CKR_OK;
}

/*
 * Wrap with the module's best mechanism; the result unwraps, or this
 * returns a failure.
 */
static CK_RV
wrap_any(CK_OBJECT_HANDLE key, const uint8 *aad, int aadlen,
		 const uint8 *in, int inlen, uint8 *out, int *outlen, const char **what)
{
	uint8		check[TDE_WRAP_MAX_OVERHEAD + 64];
	int			checklen = 0;
	int			len = 0;
	bool		ok;
	CK_RV		rv;

	Assert(inlen <= 64);
	if (gcm_wrap != MECH_NO)
	{
		out[0] = WRAP_HDR_GCM;
		rv = gcm_encrypt(key, aad, aadlen, in, inlen, out + 1, &len, what);
		if (rv == CKR_OK)
		{
			rv = unwrap_any(key, aad, aadlen, out, 1 + len, check, &checklen, &ok, what);
			ok = ok && checklen == inlen && CRYPTO_memcmp(check, in, inlen) == 0;
			explicit_bzero(check, sizeof(check));
			if (rv != CKR_OK)
				return rv;
			if (ok)
			{
				gcm_wrap = MECH_YES;
				*outlen = 1 + len;
				return CKR_OK;
			}
			/* an IV the module used but did not return: not GCM, then */
			ereport(LOG,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("the HSM's AES-GCM result does not decrypt; wrapping relation keys with AES key wrap (RFC 5649) instead")));
		}
		else if (!is_mechanism_refusal(rv))
			return rv;
		gcm_wrap = MECH_NO;
	}

	out[0] = WRAP_HDR_KWP;
	rv = kwp_wrap(key, aad, aadlen, in, inlen, out + 1, &len, what);
	if (rv != CKR_OK)
		return rv;
	rv = unwrap_any(key, aad, aadlen, out, 1 + len, check, &checklen, &ok, what);
	ok = ok && checklen == inlen && CRYPTO_memcmp(check, in, inlen) == 0;
	explicit_bzero(check, sizeof(check));
	if (rv != CKR_OK)
		return rv;
	if (!ok)
	{
		*what = "RFC 5649 key wrap";
		return CKR_DATA_INVALID;
	}
	*outlen = 1 + len;
	return CKR_OK;
}

/* Forget one MKID's handle: the module called it invalid. */
static void
forget_handle(const uint8 *mkid)
{
	int			i;

	for (i = 0; i < nhandles; i++)
		if (memcmp(handle_cache[i].mkid, mkid, TDE_MKID_LEN) == 0)
		{
			handle_cache[i] = handle_cache[--nhandles];
			return;
		}
}

/*
 * After a failed call: rebuild a dead session, or look a handle the module
 * called invalid up again, and say whether to try once more.
 */
static bool
recover(CK_RV rv, const uint8 *mkid, CK_OBJECT_HANDLE *key)
{
	if (is_session_failure(rv))
		return reconnect() && lookup(mkid, key);
	if (is_handle_failure(rv))
	{
		forget_handle(mkid);
		if (!lookup(mkid, key))
			missing_key(mkid);
		return true;
	}
	return false;
}

int
tde_hsm_wrap(const uint8 *mkid, const uint8 *aad, int aadlen,
			 const uint8 *in, int inlen, uint8 *out)
{
	CK_OBJECT_HANDLE key;
	int			outlen = 0;
	CK_RV		rv;
	const char *what = NULL;

	if (inlen <= 0 || inlen > 64)
		elog(ERROR, "cannot wrap a key of %d bytes", inlen);
	if (!lookup(mkid, &key))
		missing_key(mkid);
	rv = wrap_any(key, aad, aadlen, in, inlen, out, &outlen, &what);
	if (rv != CKR_OK && recover(rv, mkid, &key))
		rv = wrap_any(key, aad, aadlen, in, inlen, out, &outlen, &what);
	if (rv != CKR_OK)
	{
		explicit_bzero(out, inlen + TDE_WRAP_MAX_OVERHEAD);
		if (is_session_failure(rv))
			hsm_unavailable(what, rv);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("the HSM could not wrap a relation key"),
				 errdetail("%s returned %s.", what, ckr_name(rv)),
				 is_mechanism_refusal(rv) ?
				 errhint("The module must offer CKM_AES_GCM or CKM_AES_ECB (encrypt and decrypt) with the master key.") : 0));
	}
	Assert(outlen <= inlen + TDE_WRAP_MAX_OVERHEAD);
	return outlen;
}

bool
tde_hsm_unwrap(const uint8 *mkid, const uint8 *aad, int aadlen,
			   const uint8 *in, int inlen, uint8 *out, int *outlen)
{
	CK_OBJECT_HANDLE key;
	uint8		buf[KWP_MAX_IN + 8];
	int			len = 0;
	bool		ok = false;
	CK_RV		rv;
	const char *what = NULL;

	if (inlen <= GCM_IV_LEN + GCM_TAG_LEN || inlen > (int) sizeof(buf))
		return false;
	if (!lookup(mkid, &key))
		missing_key(mkid);
	rv = unwrap_any(key, aad, aadlen, in, inlen, buf, &len, &ok, &what);
	if (rv != CKR_OK && recover(rv, mkid, &key))
		rv = unwrap_any(key, aad, aadlen, in, inlen, buf, &len, &ok, &what);
	if (rv != CKR_OK)
	{
		explicit_bzero(buf, sizeof(buf));
		if (is_session_failure(rv))
			hsm_unavailable(what, rv);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("the HSM could not unwrap a relation key"),
				 errdetail("%s returned %s.", what, ckr_name(rv)),
				 is_mechanism_refusal(rv) ?
				 errhint("The module must offer CKM_AES_GCM or CKM_AES_ECB (encrypt and decrypt) with the master key.") : 0));
	}
	if (ok)
	{
		memcpy(out, buf, len);
		*outlen = len;
	}
	explicit_bzero(buf, sizeof(buf));
	return ok;
}
