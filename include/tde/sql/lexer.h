/*-------------------------------------------------------------------------
 *
 * lexer.h
 *	  The tokens of an ADMINISTER KEY MANAGEMENT statement.  See
 *	  sql/lexer.c.
 *
 * Lexical rules, as in Oracle: a bare word runs up to white space, a
 * quote or punctuation (; , = ( )); a single- or double-quoted string has
 * its quote doubled inside.  Keywords are matched by the parser.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_SQL_LEXER_H
#define TDE_SQL_LEXER_H

typedef enum TdeTokKind
{
	TDE_TOK_WORD,
	TDE_TOK_DQUOTED,
	TDE_TOK_SQUOTED,
	TDE_TOK_PUNCT,
	TDE_TOK_END
} TdeTokKind;

typedef struct TdeToken
{
	TdeTokKind	kind;
	char	   *text;			/* in secure memory: it may be a password */
	int			pos;			/* 1-based character position */
	int			off;			/* 0-based byte offset in the statement */
} TdeToken;

/* The tokens of s (len bytes), the last one TDE_TOK_END; palloc'd. */
extern void tde_lex(const char *s, Size len, TdeToken **toks, int *ntoks);

#endif							/* TDE_SQL_LEXER_H */
