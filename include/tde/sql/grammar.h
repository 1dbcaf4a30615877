/*-------------------------------------------------------------------------
 *
 * grammar.h
 *	  The pieces of the ADMINISTER KEY MANAGEMENT grammar that every
 *	  statement uses: tokens, keywords, clauses, syntax errors.
 *
 * For sql/parser.c and the units that parse a family of statements
 * (sql/parse_transfer.c).  A syntax error names the offending word and
 * its position, except where the word may be a secret: after a password
 * or secret has begun (secret_seen) only keywords of the grammar are
 * shown.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_SQL_GRAMMAR_H
#define TDE_SQL_GRAMMAR_H

#include "tde/sql/lexer.h"
#include "tde/sql/statement.h"

typedef struct TdeParser
{
	const char *src;			/* the statement, for a subquery's text */
	TdeToken   *toks;
	int			ntoks;
	int			cur;
	bool		secret_seen;	/* a secret has been (or is being) read */
} TdeParser;

/* Syntax errors at token tokidx; detail is a full sentence or NULL */
extern void tde_gram_syntax_error_detail(TdeParser *p, int tokidx,
										 const char *detail) pg_attribute_noreturn();
extern void tde_gram_syntax_error_at(TdeParser *p, int tokidx,
									 const char *expected) pg_attribute_noreturn();
extern void tde_gram_duplicate_clause(TdeParser *p, int tokidx,
									  const char *clause) pg_attribute_noreturn();

/* Tokens */
extern TdeToken *tde_gram_peek(TdeParser *p);
extern bool tde_gram_word_is(TdeToken *t, const char *w);
extern bool tde_gram_peek_word(TdeParser *p, const char *w);
extern bool tde_gram_peek_second_word(TdeParser *p, const char *w);
extern bool tde_gram_accept(TdeParser *p, const char *w);
extern void tde_gram_expect(TdeParser *p, const char *w);
extern bool tde_gram_accept_punct(TdeParser *p, char c);
extern char *tde_gram_single_quoted(TdeParser *p, const char *what);
extern char *tde_gram_optional_single_quoted(TdeParser *p);
/* a password: a bare word or a double-quoted string */
extern char *tde_gram_password(TdeParser *p);
/* a client secret: single-quoted or a bare word */
extern char *tde_gram_client_secret(TdeParser *p);

/* Clauses */
extern void tde_gram_identified_by(TdeParser *p, TdeStatement *stmt);
extern void tde_gram_force_keystore(TdeParser *p, TdeStatement *stmt);
extern void tde_gram_container_clause(TdeParser *p);
extern void tde_gram_with_backup(TdeParser *p, TdeStatement *stmt);
extern void tde_gram_end_of_statement(TdeParser *p);
extern TdeStatement *tde_gram_unsupported(TdeStatement *stmt, const char *feature);

#endif							/* TDE_SQL_GRAMMAR_H */
