/*-------------------------------------------------------------------------
 *
 * report.h
 *	  The errors a user sees for what a store unit returned.
 *
 * store/wallet and store/hsm* return result codes and raise no error of
 * their own; these functions turn a result into the SQLSTATE, message,
 * detail with Oracle's ORA- number, and hint, in one place.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_REPORT_H
#define TDE_REPORT_H

#include "tde/store/hsm_session.h"
#include "tde/store/wallet.h"

/* Raise (at elevel) what a wallet load came to; nothing for TDE_WALLET_OK. */
extern void tde_wallet_report(TdeWalletResult result, const char *path,
							  int elevel);

/* Load a wallet, raising an error if it cannot be loaded. */
extern TdeWallet *tde_wallet_read(const char *path, bool autologin,
								  const char *password);

/*
 * Raise the error of an HSM call (TDE_HSM_OK: none; a wrap that gave up
 * the module's GCM logs that once).
 */
extern void tde_hsm_report(const TdeHsmError *err);

#endif							/* TDE_REPORT_H */
