/*-------------------------------------------------------------------------
 *
 * parse_transfer.h
 *	  The grammar of the statements that move keys between keystores:
 *	  EXPORT KEYS, IMPORT KEYS, MERGE KEYSTORE.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_SQL_PARSE_TRANSFER_H
#define TDE_SQL_PARSE_TRANSFER_H

#include "tde/sql/grammar.h"

/* After the leading EXPORT or IMPORT */
extern TdeStatement *tde_parse_export(TdeParser *p, TdeStatement *stmt);
extern TdeStatement *tde_parse_import(TdeParser *p, TdeStatement *stmt);
/* After the leading MERGE */
extern TdeStatement *tde_parse_merge(TdeParser *p, TdeStatement *stmt);
extern TdeStatement *tde_parse_move(TdeParser *p, TdeStatement *stmt);

#endif							/* TDE_SQL_PARSE_TRANSFER_H */
