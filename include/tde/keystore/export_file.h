/*-------------------------------------------------------------------------
 *
 * export_file.h
 *	  The file of EXPORT KEYS and IMPORT KEYS: master keys under a secret.
 *
 * An export file is a PKCS#12 file in the wallet format (store/wallet.h):
 * `openssl pkcs12 -info -in FILE -passin pass:SECRET` opens it.  Its
 * password is the export secret, stretched by PBKDF2 with
 * tde.wallet_kdf_iterations; its bags are encrypted with AES-256-CBC and
 * the whole file is authenticated by its MAC (HMAC-SHA-256).  It holds one
 * secret bag "TDE.EXPORT" ("format=tde-export", "version=1", "keys=N")
 * and one bag per key, "TDE.MK.<hex MKID>", in the key-record format of a
 * wallet (keystore/keyrecord.h): id, key bytes, algorithm, tag, times,
 * creator and origin.  It names no active key.  A wallet is not an export
 * file and an export file is not a wallet: each reader refuses the other.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_KEYSTORE_EXPORT_FILE_H
#define TDE_KEYSTORE_EXPORT_FILE_H

#include "tde/keystore/keyrecord.h"

#define TDE_EXPORT_FORMAT_VERSION 1

/*
 * Write keys[0..nkeys) to a new file at path (absolute, not there yet),
 * 0600, atomically and durably.
 */
extern void tde_export_file_write(const char *path, const char *secret,
								  const TdeMasterKey *keys, int nkeys);

/*
 * The keys of the export file at path, into keys[] (room for
 * TDE_MAX_MASTER_KEYS, secure memory); a missing file, a wrong secret and
 * a damaged file or one that is no export file are each a clear error.
 */
extern int	tde_export_file_read(const char *path, const char *secret,
								 TdeMasterKey *keys);

#endif							/* TDE_KEYSTORE_EXPORT_FILE_H */
