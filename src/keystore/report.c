/*-------------------------------------------------------------------------
 *
 * report.c
 *	  The errors a user sees for what a store unit returned.
 *
 * See keystore/report.h.  Every message, SQLSTATE and ORA- number of a
 * wallet file or a PKCS#11 module is here, so the store units stay free
 * of SQL and of Oracle.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "tde/keystore/report.h"
#include "tde/store/hsm_session.h"
#include "tde/store/wallet.h"
#include "tde/util/keyid.h"

/* ---------------------------------------------------------------------
 * Wallet files
 * ---------------------------------------------------------------------
 */

void
tde_wallet_report(TdeWalletResult result, const char *path, int elevel)
{
	switch (result)
	{
		case TDE_WALLET_OK:
			return;
		case TDE_WALLET_MISSING:
			ereport(elevel,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("keystore \"%s\" does not exist", path),
					 errdetail("ORA-28367: wallet does not exist"),
					 errhint("Create it with ADMINISTER KEY MANAGEMENT CREATE KEYSTORE.")));
			break;
		case TDE_WALLET_BAD_PASSWORD:
			ereport(elevel,
					(errcode(ERRCODE_INVALID_PASSWORD),
					 errmsg("incorrect password for keystore \"%s\"", path),
					 errdetail("ORA-28353: failed to open wallet")));
			break;
		case TDE_WALLET_CORRUPT:
			ereport(elevel,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("keystore file \"%s\" is damaged", path),
					 errdetail("The file is not a tde wallet, or its contents do not match their checksum."),
					 errhint("Restore the keystore from a backup.")));
			break;
		case TDE_WALLET_WRONG_KIND:
			ereport(elevel,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("keystore file \"%s\" is not of the expected kind", path),
					 errdetail("A password wallet is named ewallet.p12 and an auto-login wallet cwallet.sso.")));
			break;
		case TDE_WALLET_OTHER_HOST:
			ereport(elevel,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("local auto-login keystore \"%s\" cannot be opened on this host", path),
					 errdetail("A local auto-login wallet opens only on the host and as the operating system user that created it."),
					 errhint("Create it again on this host with CREATE LOCAL AUTO_LOGIN KEYSTORE FROM KEYSTORE, which needs the password keystore's password.")));
			break;
	}
}

TdeWallet *
tde_wallet_read(const char *path, bool autologin, const char *password)
{
	TdeWallet  *w;

	tde_wallet_report(tde_wallet_load(path, autologin, password, &w), path, ERROR);
	return w;
}

/* ---------------------------------------------------------------------
 * The HSM
 * ---------------------------------------------------------------------
 */

static const char *
token_label(void)
{
	return tde_pkcs11_token_label ? tde_pkcs11_token_label : "";
}

/* Loading the module, finding the token, logging in. */
static void
report_setup(const TdeHsmError *err)
{
	const char *library = tde_pkcs11_library ? tde_pkcs11_library : "";

	switch (err->result)
	{
		case TDE_HSM_NO_LIBRARY:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("tde.pkcs11_library is not set"),
					 errhint("Set it to the path of the HSM vendor's PKCS#11 module.")));
			break;
		case TDE_HSM_LOAD_FAILED:
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("could not load PKCS#11 library \"%s\"", library),
					 errdetail("%s", err->text)));
			break;
		case TDE_HSM_NO_ENTRY_POINT:
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("could not load PKCS#11 library \"%s\"", library),
					 errdetail("The library has no C_GetFunctionList.")));
			break;
		case TDE_HSM_MODULE_FAILED:
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("could not load PKCS#11 library \"%s\"", library),
					 errdetail("C_GetFunctionList returned %s.", tde_hsm_rv_name(err->rv))));
			break;
		case TDE_HSM_NO_TOKEN:
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("could not get slot: no PKCS#11 token is labelled \"%s\"",
							token_label()),
					 errhint("Check tde.pkcs11_token_label against the labels the module reports (pkcs11-tool --list-slots).")));
			break;
		case TDE_HSM_BAD_PIN:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PASSWORD),
					 errmsg("incorrect HSM credential for token \"%s\"", token_label()),
					 errdetail("ORA-28353: failed to open wallet (C_Login returned %s)",
							   tde_hsm_rv_name(err->rv))));
			break;
		case TDE_HSM_PIN_LOCKED:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("the HSM user PIN is locked"),
					 errdetail("C_Login returned CKR_PIN_LOCKED.")));
			break;
		default:
			break;
	}
}

/* What the operation was, for a call the module refused. */
static const char *
refused_message(TdeHsmOperation operation)
{
	switch (operation)
	{
		case TDE_HSM_OP_GENERATE:
			return "the HSM could not generate a master key";
		case TDE_HSM_OP_WRAP:
			return "the HSM could not wrap a relation key";
		case TDE_HSM_OP_UNWRAP:
			return "the HSM could not unwrap a relation key";
		case TDE_HSM_OP_LOGIN:
		case TDE_HSM_OP_FIND:
			break;
	}
	return "the HSM refused a call";
}

/* The session, the keys and the calls on them. */
static void
report_use(const TdeHsmError *err)
{
	const char *call = err->call ? err->call : "PKCS#11";
	char		key_id[TDE_KEY_ID_LEN + 1];

	switch (err->result)
	{
		case TDE_HSM_UNAVAILABLE:
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("HSM is not available: %s failed", call),
					 errdetail("The PKCS#11 module returned %s.", tde_hsm_rv_name(err->rv)),
					 errhint("Check the HSM and its connection; tde reconnects on the next call.")));
			break;
		case TDE_HSM_NOT_LOGGED_IN:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("HSM keystore is not open")));
			break;
		case TDE_HSM_KEY_MISSING:
			tde_mkid_to_key_id(err->mkid, key_id);
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("master key \"%s\" is not in the HSM", key_id),
					 errdetail("ORA-28374: typed master key not found in wallet")));
			break;
		case TDE_HSM_DEVICE_ERROR:
		case TDE_HSM_MECHANISM_REFUSED:
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("%s", refused_message(err->operation)),
					 errdetail("%s returned %s.", call, tde_hsm_rv_name(err->rv)),
					 err->result == TDE_HSM_MECHANISM_REFUSED ?
					 errhint("The module must offer CKM_AES_GCM or CKM_AES_ECB (encrypt and decrypt) with the master key.") : 0));
			break;
		case TDE_HSM_NOT_AUTHENTIC:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("a wrapped key does not authenticate under its master key in the HSM")));
			break;
		default:
			break;
	}
}

void
tde_hsm_report(const TdeHsmError *err)
{
	if (err->result == TDE_HSM_OK)
	{
		if (err->gcm_abandoned)
			ereport(LOG,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("the HSM's AES-GCM result does not decrypt; wrapping relation keys with AES key wrap (RFC 5649) instead")));
		return;
	}
	report_setup(err);
	report_use(err);
	elog(ERROR, "unexpected HSM result %d", (int) err->result);
}
