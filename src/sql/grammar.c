/*-------------------------------------------------------------------------
 *
 * grammar.c
 *	  The pieces of the ADMINISTER KEY MANAGEMENT grammar that every
 *	  statement uses.  See sql/grammar.h; the statements are in
 *	  sql/parser.c and sql/parse_transfer.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "tde/sql/grammar.h"
#include "tde/util/secure.h"

static const char *const keywords[] = {
	"ADMINISTER", "KEY", "MANAGEMENT", "CREATE", "KEYSTORE", "IDENTIFIED",
	"BY", "LOCAL", "AUTO_LOGIN", "FROM", "SET", "OPEN", "CLOSE", "FORCE",
	"EXTERNAL", "STORE", "CONTAINER", "ALL", "CURRENT", "ALTER", "PASSWORD",
	"WITH", "BACKUP", "USING", "TO", "ADD", "UPDATE", "DELETE", "SECRET",
	"FOR", "CLIENT", "TAG", "ENCRYPTION", "USE", "EXPORT", "IMPORT",
	"KEYS", "MERGE", "MOVE", "MIGRATE", "REVERSE", "ISOLATE", "UNITE",
	"ALGORITHM", "INTO", "IDENTIFIER", "IN", "AND", "NEW", "EXISTING", NULL
};

static bool
tde_gram_is_keyword(const char *w)
{
	const char *const *k;

	for (k = keywords; *k; k++)
		if (pg_strcasecmp(w, *k) == 0)
			return true;
	return false;
}

/*
 * A syntax error at token tokidx; detail is a full sentence or NULL.  The
 * word is named unless it may be a password (see the file header).
 */
void
tde_gram_syntax_error_detail(TdeParser *p, int tokidx, const char *detail)
{
	TdeToken	   *t = &p->toks[tokidx];

	if (t->kind == TDE_TOK_END)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("syntax error at end of key management statement"),
				 detail ? errdetail_internal("%s", detail) : 0));
	else if (p->secret_seen &&
			 !(t->kind == TDE_TOK_WORD && tde_gram_is_keyword(t->text)) &&
			 t->kind != TDE_TOK_PUNCT)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("syntax error at position %d of key management statement", t->pos),
				 errdetail_internal("%s%sThe word is not shown because it may be a password.",
									detail ? detail : "", detail ? " " : "")));
	else
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("syntax error at or near \"%s\" at position %d of key management statement",
						t->text, t->pos),
				 detail ? errdetail_internal("%s", detail) : 0));
}

void
tde_gram_syntax_error_at(TdeParser *p, int tokidx, const char *expected)
{
	tde_gram_syntax_error_detail(p, tokidx,
						expected ? psprintf("Expected %s.", expected) : NULL);
}

TdeToken *
tde_gram_peek(TdeParser *p)
{
	return &p->toks[p->cur];
}

bool
tde_gram_word_is(TdeToken *t, const char *w)
{
	return t->kind == TDE_TOK_WORD && pg_strcasecmp(t->text, w) == 0;
}

bool
tde_gram_peek_word(TdeParser *p, const char *w)
{
	return tde_gram_word_is(tde_gram_peek(p), w);
}

/* The token after the next one is the word w (the END token stops it). */
bool
tde_gram_peek_second_word(TdeParser *p, const char *w)
{
	return tde_gram_peek(p)->kind != TDE_TOK_END && tde_gram_word_is(&p->toks[p->cur + 1], w);
}

bool
tde_gram_accept(TdeParser *p, const char *w)
{
	if (!tde_gram_peek_word(p, w))
		return false;
	p->cur++;
	return true;
}

void
tde_gram_expect(TdeParser *p, const char *w)
{
	if (!tde_gram_accept(p, w))
		tde_gram_syntax_error_at(p, p->cur, w);
}

bool
tde_gram_accept_punct(TdeParser *p, char c)
{
	TdeToken	   *t = tde_gram_peek(p);

	if (t->kind != TDE_TOK_PUNCT || t->text[0] != c)
		return false;
	p->cur++;
	return true;
}

/* A clause given a second time, at token tokidx. */
void
tde_gram_duplicate_clause(TdeParser *p, int tokidx, const char *clause)
{
	tde_gram_syntax_error_detail(p, tokidx, psprintf("%s is given twice.", clause));
}

char *
tde_gram_single_quoted(TdeParser *p, const char *what)
{
	TdeToken	   *t = tde_gram_peek(p);

	if (t->kind != TDE_TOK_SQUOTED)
		tde_gram_syntax_error_at(p, p->cur, psprintf("%s in single quotes", what));
	p->cur++;
	return t->text;
}

char *
tde_gram_optional_single_quoted(TdeParser *p)
{
	TdeToken	   *t = tde_gram_peek(p);

	if (t->kind != TDE_TOK_SQUOTED)
		return NULL;
	p->cur++;
	return t->text;
}

/* A password: a bare word or a double-quoted string. */
char *
tde_gram_password(TdeParser *p)
{
	TdeToken	   *t = tde_gram_peek(p);

	p->secret_seen = true;
	if (t->kind != TDE_TOK_WORD && t->kind != TDE_TOK_DQUOTED)
		tde_gram_syntax_error_at(p, p->cur, "a password");
	if (t->kind == TDE_TOK_WORD && t->text[0] == '\0')
		tde_gram_syntax_error_at(p, p->cur, "a password");
	p->cur++;
	return t->text;
}

/*
 * A client secret: single-quoted, or a bare word if it has no white space
 * (Oracle's §4.3.2, e.g. UPDATE SECRET admin_password FOR CLIENT ...).  A
 * bare FOR followed by CLIENT is the next clause: the secret is missing.
 */
char *
tde_gram_client_secret(TdeParser *p)
{
	TdeToken	   *t = tde_gram_peek(p);

	p->secret_seen = true;
	if ((t->kind != TDE_TOK_SQUOTED && t->kind != TDE_TOK_WORD) ||
		(tde_gram_word_is(t, "FOR") && tde_gram_peek_second_word(p, "CLIENT")))
		tde_gram_syntax_error_at(p, p->cur, "the secret, in single quotes or as a bare word");
	p->cur++;
	return t->text;
}

/* IDENTIFIED BY { password | EXTERNAL STORE } */
void
tde_gram_identified_by(TdeParser *p, TdeStatement *stmt)
{
	/* from here on a stray word may be the password itself */
	p->secret_seen = true;
	tde_gram_expect(p, "IDENTIFIED");
	tde_gram_expect(p, "BY");
	stmt->has_cred = true;
	if (tde_gram_peek_word(p, "EXTERNAL") && tde_gram_peek_second_word(p, "STORE"))
	{
		p->cur += 2;
		stmt->cred.external_store = true;
		stmt->cred.password = NULL;
	}
	else
		stmt->cred.password = tde_gram_password(p);
}

void
tde_gram_force_keystore(TdeParser *p, TdeStatement *stmt)
{
	if (tde_gram_peek_word(p, "FORCE"))
	{
		if (stmt->force_keystore)
			tde_gram_duplicate_clause(p, p->cur, "FORCE KEYSTORE");
		p->cur++;
		tde_gram_expect(p, "KEYSTORE");
		stmt->force_keystore = true;
	}
}

/* [CONTAINER = {ALL | CURRENT}] */
void
tde_gram_container_clause(TdeParser *p)
{
	if (!tde_gram_accept(p, "CONTAINER"))
		return;
	if (!tde_gram_accept_punct(p, '='))
		tde_gram_syntax_error_at(p, p->cur, "\"=\"");
	if (!tde_gram_accept(p, "ALL") && !tde_gram_accept(p, "CURRENT"))
		tde_gram_syntax_error_at(p, p->cur, "ALL or CURRENT");
}

/* [WITH BACKUP [USING 'id']]; the identifier single- or double-quoted */
void
tde_gram_with_backup(TdeParser *p, TdeStatement *stmt)
{
	if (!tde_gram_accept(p, "WITH"))
		return;
	tde_gram_expect(p, "BACKUP");
	stmt->with_backup = true;
	if (!tde_gram_accept(p, "USING"))
		return;
	/* Oracle's example of 4.1.8.5 double-quotes it: USING "merge1" */
	if (tde_gram_peek(p)->kind == TDE_TOK_DQUOTED)
	{
		stmt->backup_id = tde_gram_peek(p)->text;
		p->cur++;
	}
	else
		stmt->backup_id = tde_gram_single_quoted(p, "a backup identifier");
}

void
tde_gram_end_of_statement(TdeParser *p)
{
	tde_gram_container_clause(p);
	(void) tde_gram_accept_punct(p, ';');
	if (tde_gram_peek(p)->kind != TDE_TOK_END)
		tde_gram_syntax_error_at(p, p->cur, "end of statement");
}

TdeStatement *
tde_gram_unsupported(TdeStatement *stmt, const char *feature)
{
	stmt->kind = TDE_STMT_UNSUPPORTED;
	stmt->feature = feature;
	return stmt;
}
