/*-------------------------------------------------------------------------
 *
 * views.c
 *	  The monitoring views: v$encryption_wallet.
 *
 * Column names and values are Oracle's.  A PostgreSQL instance maps onto
 * a non-CDB Oracle database: KEYSTORE_MODE is NONE and CON_ID is 0.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "tde/keystore.h"
#include "tde/tde.h"

PG_FUNCTION_INFO_V1(tde_encryption_wallet);

#define ENCRYPTION_WALLET_COLS 8

Datum
tde_encryption_wallet(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TdeWalletStatus row;
	Datum		values[ENCRYPTION_WALLET_COLS];
	bool		nulls[ENCRYPTION_WALLET_COLS] = {0};

	tde_require_loaded();
	tde_require_monitor();

	InitMaterializedSRF(fcinfo, 0);
	tde_keystore_get_status(&row);

	values[0] = CStringGetTextDatum(row.wrl_type);
	if (row.wrl_parameter)
		values[1] = CStringGetTextDatum(row.wrl_parameter);
	else
		nulls[1] = true;
	values[2] = CStringGetTextDatum(row.status);
	values[3] = CStringGetTextDatum(row.wallet_type);
	values[4] = CStringGetTextDatum(row.wallet_order);
	values[5] = CStringGetTextDatum(row.keystore_mode);
	values[6] = CStringGetTextDatum(row.fully_backed_up);
	values[7] = Int32GetDatum(row.con_id);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);

	return (Datum) 0;
}
