/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  Configuration parameters of tde.
 *
 * Check hooks validate; assign hooks do not exist, so setting a parameter
 * can never fail half way.  The "tde" prefix is reserved.  Each variable
 * is defined in the lowest unit that reads it (keystore/config.c,
 * store/hsm_session.c); this file only registers the parameters on them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "postmaster/postmaster.h"
#include "utils/guc.h"

#include "tde/keys/rewrap_worker.h"
#include "tde/keystore/config.h"
#include "tde/store/hsm_session.h"
#include "tde/tde.h"

static bool
check_wallet_root(char **newval, void **extra, GucSource source)
{
	char	   *p = *newval;

	if (p == NULL || p[0] == '\0')
		return true;			/* unset: keystore not configured */
	if (!is_absolute_path(p))
	{
		GUC_check_errdetail("tde.wallet_root must be an absolute path.");
		return false;
	}
	if (strlen(p) > MAXPGPATH - 64)
	{
		GUC_check_errdetail("tde.wallet_root is too long.");
		return false;
	}
	canonicalize_path(p);
	return true;
}

static bool
check_library_path(char **newval, void **extra, GucSource source)
{
	if (**newval != '\0' && !is_absolute_path(*newval))
	{
		GUC_check_errdetail("tde.pkcs11_library must be an absolute path.");
		return false;
	}
	return true;
}

static bool
check_keystore_configuration(char **newval, void **extra, GucSource source)
{
	char	   *p = *newval;
	char	   *c;

	/* Oracle writes these in upper case; accept any case, store upper. */
	for (c = p; *c; c++)
		*c = pg_toupper((unsigned char) *c);

	if (strcmp(p, "FILE") == 0 || strcmp(p, "HSM") == 0 ||
		strcmp(p, "HSM|FILE") == 0 || strcmp(p, "FILE|HSM") == 0)
		return true;
	GUC_check_errdetail("Valid values are FILE, HSM, HSM|FILE and FILE|HSM.");
	return false;
}

void
tde_define_gucs(void)
{
	DefineCustomStringVariable("tde.wallet_root",
							   "Directory that holds the keystores (Oracle's WALLET_ROOT).",
							   "The password wallet lives in <wallet_root>/tde, the external "
							   "password store in <wallet_root>/tde_seps.",
							   &tde_wallet_root,
							   "",
							   PGC_POSTMASTER,
							   0,
							   check_wallet_root, NULL, NULL);

	DefineCustomStringVariable("tde.keystore_configuration",
							   "Kind of keystore in use (Oracle's TDE_CONFIGURATION KEYSTORE_CONFIGURATION).",
							   NULL,
							   &tde_keystore_configuration,
							   "FILE",
							   PGC_SIGHUP,
							   0,
							   check_keystore_configuration, NULL, NULL);

	DefineCustomIntVariable("tde.wallet_kdf_iterations",
							"PBKDF2-HMAC-SHA256 iterations used when a password wallet is written.",
							"Opening a wallet costs about this many hash rounds twice (key and MAC).",
							&tde_wallet_kdf_iterations,
							600000,
							1000,
							100000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("tde.pkcs11_library",
							   "Path of the HSM vendor's PKCS#11 module.",
							   NULL,
							   &tde_pkcs11_library,
							   "",
							   PGC_SIGHUP,
							   0,
							   check_library_path, NULL, NULL);

	DefineCustomStringVariable("tde.pkcs11_token_label",
							   "Label of the PKCS#11 token that holds the master keys.",
							   "The token is found by its label, never by slot number.",
							   &tde_pkcs11_token_label,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("tde.pkcs11_init_args",
							   "String passed to the PKCS#11 module's C_Initialize (pReserved).",
							   "Some modules need one; most do not.",
							   &tde_pkcs11_init_args,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("tde.rewrap_workers",
							"Databases whose relation keys are re-wrapped at once in the background.",
							"Each is a background worker, within max_worker_processes.",
							&tde_rewrap_workers,
							2,
							1,
							MAX_BACKENDS,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("tde");
}
