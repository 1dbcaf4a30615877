/*-------------------------------------------------------------------------
 *
 * parser.h
 *	  Oracle's ADMINISTER KEY MANAGEMENT statements, parsed.
 *
 * The parser turns a statement into a TdeStatement; it runs nothing.
 * Passwords and secrets are copied into secure memory (secure.h) and never
 * appear in an error message.  Parsing is linear in the statement's length,
 * which is bounded by TDE_STATEMENT_MAX_BYTES, and can be cancelled.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_PARSER_H
#define TDE_PARSER_H

#include "tde/sql/statement.h"

/*
 * The longest statement, in bytes of the server encoding.  The longest one
 * Oracle's grammar can need is a MOVE or EXPORT KEYS ... WITH IDENTIFIER IN
 * naming every key of a full keystore (512 quoted 52-character KEY_IDs with
 * commas: 28.7 kB) with its two passwords or secrets, its path and its
 * backup identifier at their limits, every quote doubled (6.4 kB): about
 * 35 kB.  64 kB leaves room for any layout, and parsing it takes about a
 * millisecond.
 */
#define TDE_STATEMENT_MAX_BYTES 65536

/* 54000 if a statement of len bytes is over the limit; never shows it. */
extern void tde_check_statement_length(Size len);

extern TdeStatement *tde_parse_statement(const char *text);

#endif							/* TDE_PARSER_H */
