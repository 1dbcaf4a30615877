/*-------------------------------------------------------------------------
 *
 * transfer_sql.h
 *	  EXPORT KEYS, IMPORT KEYS and MERGE KEYSTORE from SQL: the typed
 *	  functions, and the requests of parsed statements.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_SQL_TRANSFER_SQL_H
#define TDE_SQL_TRANSFER_SQL_H

#include "tde/keys/transfer.h"
#include "tde/sql/statement.h"

/*
 * The request of an EXPORT or IMPORT statement; WITH IDENTIFIER IN
 * (subquery) is run here, with the caller's rights.
 */
extern TdeTransferRequest *tde_transfer_request(const TdeStatement *stmt);

/* MERGE KEYSTORE: the number of keys merged in */
extern int	tde_merge_statement(const TdeStatement *stmt);
/* MOVE KEYS; the subquery of WITH IDENTIFIER IN as for EXPORT */
extern int	tde_move_statement(const TdeStatement *stmt);

#endif							/* TDE_SQL_TRANSFER_SQL_H */
