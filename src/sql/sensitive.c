/*-------------------------------------------------------------------------
 *
 * sensitive.c
 *	  Does a statement's text manage keys?  See sql/sensitive.h.
 *
 * The test is deliberately broad (see sql/redact.c): a text naming any of
 * the words below, in any case and anywhere (in a string literal too), is
 * sensitive, and so is a text that EXECUTEs a prepared statement whose
 * text is.  A false match only hides more from the log.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "commands/prepare.h"

#include "tde/sql/sensitive.h"

static const char *const sensitive_words[] = {
	"administer_key_management",
	"keystore",
	"secret",
	"password",
	"identified",
	"set_key",
	"create_key",
	"use_key",
	"set_tag",
	"export_keys",
	"import_keys",
	"move_keys",
	"migrate",
	NULL
};

bool
tde_text_is_sensitive(const char *s)
{
	const char *p;

	if (s == NULL)
		return false;
	for (p = s; *p; p++)
	{
		char		c = pg_ascii_tolower((unsigned char) *p);
		const char *const *w;

		if (c != 'a' && c != 'k' && c != 's' && c != 'p' && c != 'i' &&
			c != 'c' && c != 'u' && c != 'e' && c != 'm')
			continue;
		for (w = sensitive_words; *w; w++)
			if ((*w)[0] == c && pg_strncasecmp(p, *w, strlen(*w)) == 0)
				return true;
	}
	return false;
}

static bool
is_ident_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
}

/*
 * For each word EXECUTE in s followed by a name, the prepared statement of
 * that name, if there is one; call fn for it.  A false match (the word in
 * a string literal) can only make more statements sensitive.
 */
void
tde_for_each_executed(const char *s, void (*fn) (PreparedStatement *ps))
{
	const char *p;

	if (s == NULL)
		return;
	for (p = s; *p; p++)
	{
		char		name[NAMEDATALEN];
		int			n = 0;
		const char *q;
		PreparedStatement *ps;

		if (pg_strncasecmp(p, "execute", 7) != 0 ||
			(p > s && is_ident_char((unsigned char) p[-1])) ||
			!isspace((unsigned char) p[7]))
			continue;
		for (q = p + 7; isspace((unsigned char) *q); q++)
			;
		if (*q == '"')
		{
			for (q++; *q && n < NAMEDATALEN - 1; q++)
			{
				if (*q == '"' && q[1] == '"')
					q++;
				else if (*q == '"')
					break;
				name[n++] = *q;
			}
		}
		else
			for (; is_ident_char((unsigned char) *q) && n < NAMEDATALEN - 1; q++)
				name[n++] = pg_ascii_tolower((unsigned char) *q);
		name[n] = '\0';
		if (n > 0 && (ps = FetchPreparedStatement(name, false)) != NULL)
			fn(ps);
	}
}
