/*-------------------------------------------------------------------------
 *
 * autologin.c
 *	  The passwords of auto-login wallets: fixed for an auto-login wallet,
 *	  bound to the host for a local one.  See store/autologin.h.
 *
 * An auto-login wallet is a PKCS#12 file like the password wallet, under
 * a password derived here rather than given.  For a local auto-login
 * wallet the derivation takes the host name, /etc/machine-id and the
 * server's OS user id, so a copy does not open on another host.  The
 * derivation never changes: wallets made so far must keep opening.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include <openssl/sha.h>

#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "tde/store/autologin.h"
#include "tde/util/secure.h"

#define MACHINE_ID_FILE "/etc/machine-id"

static void
read_machine_id(char *buf, size_t size)
{
	FILE	   *f = fopen(MACHINE_ID_FILE, "r");

	buf[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(buf, size, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
}

/*
 * A local auto-login wallet made or opened without a machine id is bound
 * to the host name and user id only.  The derivation cannot change (the
 * wallets made so far must keep opening), so say it, once per process.
 */
static void
warn_no_machine_id(void)
{
	static bool warned = false;

	if (warned)
		return;
	warned = true;
	ereport(WARNING,
			(errcode(ERRCODE_UNDEFINED_FILE),
			 errmsg("local auto-login keystore is not bound to a machine id"),
			 errdetail("\"%s\" is missing or empty, so the local auto-login wallet is bound to the host name and the operating system user only; a copy opens on any host with the same host name and user id.",
					   MACHINE_ID_FILE),
			 errhint("Create \"%s\" (systemd-machine-id-setup), then create the local auto-login keystore again with ADMINISTER KEY MANAGEMENT CREATE LOCAL AUTO_LOGIN KEYSTORE FROM KEYSTORE: one made without a machine id does not open once the file exists.",
					 MACHINE_ID_FILE)));
}

/*
 * The password of an auto-login wallet.  For a local one it is bound to the
 * host name, the machine id and the server's OS user id, as Oracle binds a
 * local auto-login wallet to the host and the user.
 */
char *
tde_autologin_password(bool local)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char	   *out;
	StringInfoData s;
	char		host[256];
	char		machine[128];

	initStringInfo(&s);
	if (local)
	{
		if (gethostname(host, sizeof(host)) != 0)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
		read_machine_id(machine, sizeof(machine));
		if (machine[0] == '\0')
			warn_no_machine_id();
		appendStringInfo(&s, "tde local auto-login wallet v1|%s|%s|%u",
						 host, machine, (unsigned) geteuid());
	}
	else
		appendStringInfoString(&s, "tde auto-login wallet v1");

	SHA256((unsigned char *) s.data, s.len, digest);
	pfree(s.data);

	out = tde_secure_alloc(SHA256_DIGEST_LENGTH * 2 + 1);
	hex_encode((char *) digest, SHA256_DIGEST_LENGTH, out);
	out[SHA256_DIGEST_LENGTH * 2] = '\0';
	explicit_bzero(digest, sizeof(digest));
	return out;
}
