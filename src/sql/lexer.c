/*-------------------------------------------------------------------------
 *
 * lexer.c
 *	  The tokens of an ADMINISTER KEY MANAGEMENT statement.  See
 *	  sql/lexer.h; the grammar is in sql/parser.c.
 *
 * One pass, linear in the statement's length: character positions are
 * counted incrementally from the previous token, every token's text is
 * copied into one secure buffer of twice the statement's length (a
 * token's text is at most its source plus a terminator), since any token
 * may be a password, and every loop checks for interrupts.  An error
 * never shows a token's text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "tde/sql/lexer.h"
#include "tde/util/secure.h"

/* white space is ASCII only, so a token never starts inside a character */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
is_punct(char c)
{
	return c == ';' || c == ',' || c == '=' || c == '(' || c == ')';
}

/*
 * A quoted token starting at c (its quote): copied, quotes undoubled,
 * straight into secure memory at *out.  Returns where the text goes on.
 */
static const char *
lex_quoted(const TdeToken *t, const char *c, char **out)
{
	char		q = *c++;

	for (;;)
	{
		if (*c == '\0')
		{
			/* the text may be a password: it is not shown */
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("unterminated quoted string at position %d of key management statement",
							t->pos)));
		}
		if (*c == q && c[1] != q)
			break;
		if (*c == q)
			c++;				/* the first of a doubled quote */
		*(*out)++ = *c++;
		CHECK_FOR_INTERRUPTS();
	}
	return c + 1;
}

/*
 * One pass over s (len bytes).  Positions are counted in characters, as
 * PostgreSQL reports them, from the previous token's start on, so each
 * byte is counted once; a token always starts at a character boundary,
 * since it starts after an ASCII byte or at the start.
 */
void
tde_lex(const char *s, Size len, TdeToken **toks_out, int *ntoks_out)
{
	int			max = 16;
	const char *c = s;
	const char *mark = s;		/* where the character count stands */
	int			markpos = 1;	/* the character position of mark */
	char	   *out;
	TdeToken   *toks;
	int			ntoks;

	/* every token's text, terminated; at most 2 * len + 1 bytes */
	out = tde_secure_alloc(2 * len + 1);

	toks = palloc(sizeof(TdeToken) * max);
	ntoks = 0;

	for (;;)
	{
		TdeToken	   *t;

		while (is_space(*c))
		{
			CHECK_FOR_INTERRUPTS();
			c++;
		}
		if (ntoks + 1 >= max)
		{
			max *= 2;
			toks = repalloc(toks, sizeof(TdeToken) * max);
		}
		t = &toks[ntoks++];
		markpos += pg_mbstrlen_with_len(mark, (int) (c - mark));
		mark = c;
		t->pos = markpos;
		t->off = (int) (c - s);
		if (*c == '\0')
		{
			t->kind = TDE_TOK_END;
			t->text = "";
			*toks_out = toks;
			*ntoks_out = ntoks;
			return;
		}
		t->text = out;
		if (is_punct(*c))
		{
			t->kind = TDE_TOK_PUNCT;
			*out++ = *c++;
		}
		else if (*c == '\'' || *c == '"')
		{
			t->kind = (*c == '\'') ? TDE_TOK_SQUOTED : TDE_TOK_DQUOTED;
			c = lex_quoted(t, c, &out);
		}
		else
		{
			/* a bare word: anything up to white space, a quote or punctuation */
			t->kind = TDE_TOK_WORD;
			while (*c && !is_space(*c) && *c != '\'' &&
				   *c != '"' && !is_punct(*c))
			{
				CHECK_FOR_INTERRUPTS();
				*out++ = *c++;
			}
		}
		*out++ = '\0';
		CHECK_FOR_INTERRUPTS();
	}
}
