/*-------------------------------------------------------------------------
 *
 * hsm.c
 *	  A PKCS#11 hardware security module as a master-key store: its keys.
 *
 * See store/hsm.h.  Functions used here: C_FindObjectsInit,
 * C_FindObjects, C_FindObjectsFinal, C_GenerateKey; the session is
 * store/hsm_session.c's and the formats of a wrapped key (C_Encrypt and
 * C_Decrypt) store/hsm_cipher.c's.
 *
 * The MKID -> object handle map is per process.  An object handle names a
 * token object only as long as the module says so: the map is emptied
 * when a transaction or subtransaction aborts (a key generated in it may
 * be destroyed by an administrator who sees no metadata for it), by
 * tde_hsm_forget_handles() (DROP EXTENSION), and whenever the session's
 * epoch changes; a handle the module calls invalid is looked up again
 * once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/builtins.h"

#include "tde/crypto/cipher.h"
#include "tde/store/hsm.h"
#include "tde/store/hsm_cipher.h"
#include "tde/store/hsm_session.h"
#include "tde/util/keyid.h"

#define HANDLE_CACHE 64

/* MKID -> object handle, valid for one session epoch */
static struct
{
	uint8		mkid[TDE_MKID_LEN];
	CK_OBJECT_HANDLE handle;
}			handle_cache[HANDLE_CACHE];
static int	nhandles = 0;
static uint64 handles_epoch = 0;
static bool xact_callback_registered = false;

static TdeHsmResult
succeed(TdeHsmError *err)
{
	return tde_hsm_fail(err, TDE_HSM_OK, NULL, CKR_OK);
}

static TdeHsmResult
missing(TdeHsmError *err, const uint8 *mkid)
{
	memcpy(err->mkid, mkid, TDE_MKID_LEN);
	return tde_hsm_fail(err, TDE_HSM_KEY_MISSING, NULL, CKR_OK);
}

static bool
is_handle_failure(CK_RV rv)
{
	return rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID;
}

/* A failed call of an operation on a key: what it means. */
static TdeHsmResult
call_failed(TdeHsmError *err, const char *call, CK_RV rv)
{
	if (tde_hsm_is_session_failure(rv))
		return tde_hsm_fail(err, TDE_HSM_UNAVAILABLE, call, rv);
	if (tde_hsm_is_mechanism_refusal(rv))
		return tde_hsm_fail(err, TDE_HSM_MECHANISM_REFUSED, call, rv);
	return tde_hsm_fail(err, TDE_HSM_DEVICE_ERROR, call, rv);
}

/* ---------------------------------------------------------------------
 * Object handles
 * ---------------------------------------------------------------------
 */

/*
 * Forget every object handle and what the module answered about its
 * mechanisms; the session stays.  Called on DROP EXTENSION (an abort
 * empties only the handle map, a new session both).
 */
void
tde_hsm_forget_handles(void)
{
	nhandles = 0;
	tde_hsm_cipher_forget();
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

/* This process's session, with a handle map of its epoch; NULL: none. */
static const TdeHsmSession *
session(TdeHsmError *err)
{
	const TdeHsmSession *s = tde_hsm_session();

	if (!xact_callback_registered)
	{
		RegisterXactCallback(hsm_xact_callback, NULL);
		RegisterSubXactCallback(hsm_subxact_callback, NULL);
		xact_callback_registered = true;
	}
	if (s == NULL)
	{
		tde_hsm_fail(err, TDE_HSM_NOT_LOGGED_IN, NULL, CKR_OK);
		return NULL;
	}
	if (s->epoch != handles_epoch)
	{
		nhandles = 0;
		handles_epoch = s->epoch;
	}
	return s;
}

static void
remember_handle(const uint8 *mkid, CK_OBJECT_HANDLE handle)
{
	if (nhandles < HANDLE_CACHE)
	{
		memcpy(handle_cache[nhandles].mkid, mkid, TDE_MKID_LEN);
		handle_cache[nhandles++].handle = handle;
	}
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

static CK_RV
find_handle(const TdeHsmSession *s, const uint8 *mkid,
			CK_OBJECT_HANDLE *handle, bool *found)
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

	rv = s->p11->C_FindObjectsInit(s->session, tmpl, lengthof(tmpl));
	if (rv != CKR_OK)
		return rv;
	rv = s->p11->C_FindObjects(s->session, handle, 1, &n);
	(void) s->p11->C_FindObjectsFinal(s->session);
	if (rv != CKR_OK)
		return rv;
	if (n == 1)
	{
		*found = true;
		remember_handle(mkid, *handle);
	}
	return CKR_OK;
}

static void
hex_label(const uint8 *mkid, char *out)
{
	strcpy(out, "TDE_MEK_");
	hex_encode((const char *) mkid, TDE_MKID_LEN, out + 8);
	out[8 + TDE_MKID_LEN * 2] = '\0';
}

static CK_RV
generate(const TdeHsmSession *s, const uint8 *mkid, CK_OBJECT_HANDLE *handle)
{
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_ULONG	len = 32;
	CK_BBOOL	yes = CK_TRUE;
	CK_BBOOL	no = CK_FALSE;
	char		label[8 + TDE_MKID_LEN * 2 + 1];
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

	hex_label(mkid, label);
	tmpl[lengthof(tmpl) - 1].ulValueLen = strlen(label);
	return s->p11->C_GenerateKey(s->session, &mech, tmpl, lengthof(tmpl), handle);
}

TdeHsmResult
tde_hsm_generate_key(const uint8 *mkid, TdeHsmError *err)
{
	const TdeHsmSession *s;
	CK_OBJECT_HANDLE handle;
	CK_RV		rv;

	tde_hsm_begin(err, TDE_HSM_OP_GENERATE);
	if ((s = session(err)) == NULL)
		return err->result;
	rv = generate(s, mkid, &handle);
	if (rv != CKR_OK && tde_hsm_is_session_failure(rv))
	{
		TdeHsmResult r;

		tde_hsm_fail(err, TDE_HSM_UNAVAILABLE, "C_GenerateKey", rv);
		if ((r = tde_hsm_reconnect(err)) != TDE_HSM_OK)
			return r;
		if ((s = session(err)) == NULL)
			return err->result;
		rv = generate(s, mkid, &handle);
	}
	if (rv != CKR_OK)
		return tde_hsm_fail(err, tde_hsm_is_session_failure(rv) ?
							TDE_HSM_UNAVAILABLE : TDE_HSM_DEVICE_ERROR,
							"C_GenerateKey", rv);
	remember_handle(mkid, handle);
	return succeed(err);
}

/* Look a key up, reconnecting once if the session died. */
static TdeHsmResult
lookup(const uint8 *mkid, CK_OBJECT_HANDLE *handle, bool *found,
	   TdeHsmError *err)
{
	const TdeHsmSession *s;
	CK_RV		rv;

	*found = false;
	if ((s = session(err)) == NULL)
		return err->result;
	rv = find_handle(s, mkid, handle, found);
	if (rv != CKR_OK && tde_hsm_is_session_failure(rv))
	{
		TdeHsmResult r;

		tde_hsm_fail(err, TDE_HSM_UNAVAILABLE, "C_FindObjects", rv);
		if ((r = tde_hsm_reconnect(err)) != TDE_HSM_OK)
			return r;
		if ((s = session(err)) == NULL)
			return err->result;
		rv = find_handle(s, mkid, handle, found);
	}
	if (rv != CKR_OK)
		return tde_hsm_fail(err, TDE_HSM_UNAVAILABLE, "C_FindObjects", rv);
	return TDE_HSM_OK;
}

TdeHsmResult
tde_hsm_has_key(const uint8 *mkid, bool *found, TdeHsmError *err)
{
	CK_OBJECT_HANDLE handle;

	tde_hsm_begin(err, TDE_HSM_OP_FIND);
	return lookup(mkid, &handle, found, err);
}

/* The key's handle, or KEY_MISSING. */
static TdeHsmResult
key_handle(const uint8 *mkid, CK_OBJECT_HANDLE *key, TdeHsmError *err)
{
	bool		found;
	TdeHsmResult r = lookup(mkid, key, &found, err);

	if (r == TDE_HSM_OK && !found)
		return missing(err, mkid);
	return r;
}

/*
 * After a failed call (in *err): rebuild a dead session, or look a handle
 * the module called invalid up again.  TDE_HSM_OK means try once more;
 * anything else is the result to return.
 */
static TdeHsmResult
recover(const uint8 *mkid, CK_OBJECT_HANDLE *key, TdeHsmError *err)
{
	if (tde_hsm_is_session_failure(err->rv))
	{
		TdeHsmError first = *err;
		bool		found;
		TdeHsmResult r = tde_hsm_reconnect(err);

		if (r == TDE_HSM_OK)
			r = lookup(mkid, key, &found, err);
		if (r == TDE_HSM_OK && !found)
		{
			*err = first;
			return first.result;
		}
		return r;
	}
	if (is_handle_failure(err->rv))
	{
		forget_handle(mkid);
		return key_handle(mkid, key, err);
	}
	return err->result;
}

/* ---------------------------------------------------------------------
 * Wrapping (the formats: store/hsm_cipher.c)
 * ---------------------------------------------------------------------
 */

TdeHsmResult
tde_hsm_wrap(const uint8 *mkid, const uint8 *aad, int aadlen,
			 const uint8 *in, int inlen, uint8 *out, int *outlen,
			 TdeHsmError *err)
{
	const TdeHsmSession *s;
	CK_OBJECT_HANDLE key;
	TdeHsmResult r;
	const char *what = NULL;
	CK_RV		rv;

	tde_hsm_begin(err, TDE_HSM_OP_WRAP);
	if (inlen <= 0 || inlen > 64)
		elog(ERROR, "cannot wrap a key of %d bytes", inlen);
	if ((r = key_handle(mkid, &key, err)) != TDE_HSM_OK)
		return r;
	s = session(err);
	rv = tde_hsm_cipher_wrap(s, key, aad, aadlen, in, inlen,
							 out, outlen, &what, &err->gcm_abandoned);
	if (rv != CKR_OK)
	{
		call_failed(err, what, rv);
		if (recover(mkid, &key, err) == TDE_HSM_OK &&
			(s = session(err)) != NULL)
		{
			rv = tde_hsm_cipher_wrap(s, key, aad, aadlen, in, inlen,
									 out, outlen, &what, &err->gcm_abandoned);
			if (rv != CKR_OK)
				call_failed(err, what, rv);
		}
	}
	if (rv != CKR_OK)
	{
		explicit_bzero(out, inlen + TDE_WRAP_MAX_OVERHEAD);
		return err->result;
	}
	Assert(*outlen <= inlen + TDE_WRAP_MAX_OVERHEAD);
	return succeed(err);
}

TdeHsmResult
tde_hsm_unwrap(const uint8 *mkid, const uint8 *aad, int aadlen,
			   const uint8 *in, int inlen, uint8 *out, int *outlen,
			   TdeHsmError *err)
{
	const TdeHsmSession *s;
	CK_OBJECT_HANDLE key;
	uint8		buf[TDE_HSM_BLOB_MAX];
	int			len = 0;
	bool		ok = false;
	TdeHsmResult r;
	const char *what = NULL;
	CK_RV		rv;

	tde_hsm_begin(err, TDE_HSM_OP_UNWRAP);
	if (inlen < TDE_HSM_BLOB_MIN || inlen > TDE_HSM_BLOB_MAX)
		return tde_hsm_fail(err, TDE_HSM_NOT_AUTHENTIC, NULL, CKR_OK);
	if ((r = key_handle(mkid, &key, err)) != TDE_HSM_OK)
		return r;
	s = session(err);
	rv = tde_hsm_cipher_unwrap(s, key, aad, aadlen, in, inlen,
							   buf, &len, &ok, &what);
	if (rv != CKR_OK)
	{
		call_failed(err, what, rv);
		if (recover(mkid, &key, err) == TDE_HSM_OK &&
			(s = session(err)) != NULL)
		{
			rv = tde_hsm_cipher_unwrap(s, key, aad, aadlen, in, inlen,
									   buf, &len, &ok, &what);
			if (rv != CKR_OK)
				call_failed(err, what, rv);
		}
	}
	if (rv == CKR_OK && ok)
	{
		memcpy(out, buf, len);
		*outlen = len;
	}
	explicit_bzero(buf, sizeof(buf));
	if (rv != CKR_OK)
		return err->result;
	if (!ok)
		return tde_hsm_fail(err, TDE_HSM_NOT_AUTHENTIC, NULL, CKR_OK);
	return succeed(err);
}
