/*-------------------------------------------------------------------------
 *
 * redact.c
 *	  Keep passwords and secrets out of the server log.
 *
 * Statements that manage keys carry passwords in their text, and the server
 * logs statement text in several places: log_statement ("statement: ..."),
 * log_min_duration_statement ("duration: ... statement: ..."), the
 * extended protocol's "execute ..." lines and their "parameters: ..."
 * detail, and the STATEMENT line that follows an error.  An emit_log_hook
 * sees every message before it is written; when the current statement is
 * one that may carry a secret, it replaces the statement text and the
 * parameters with a marker and suppresses the STATEMENT line.
 *
 * The test is deliberately broad: any statement naming a key-management
 * word is redacted, whether or not it reached tde.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "tcop/tcopprot.h"
#include "utils/elog.h"

#include "tde/tde.h"

#define REDACTED "<redacted by tde>"

static emit_log_hook_type prev_emit_log_hook = NULL;

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
	"migrate",
	NULL
};

static bool
text_is_sensitive(const char *s)
{
	const char *const *w;

	if (s == NULL)
		return false;
	for (w = sensitive_words; *w; w++)
	{
		const char *p;
		size_t		wl = strlen(*w);

		for (p = s; *p; p++)
			if (pg_strncasecmp(p, *w, wl) == 0)
				return true;
	}
	return false;
}

/* Messages the server builds around a statement's text. */
static bool
is_statement_message(const char *msg)
{
	return msg != NULL &&
		(strncmp(msg, "statement: ", 11) == 0 ||
		 strncmp(msg, "execute ", 8) == 0 ||
		 strncmp(msg, "parse ", 6) == 0 ||
		 strncmp(msg, "bind ", 5) == 0 ||
		 strncmp(msg, "duration: ", 10) == 0);
}

/*
 * Cut a statement message after its label, e.g. "statement: <redacted>" or
 * "duration: 1.2 ms  execute S_1: <redacted>".  A bare "duration: 1.2 ms"
 * carries no text and is kept.
 */
static char *
redact_statement_message(const char *msg)
{
	const char *cut = NULL;
	const char *p;

	if ((p = strstr(msg, "statement: ")) != NULL)
		cut = p + 11;
	else
	{
		const char *label = msg;

		if (strncmp(msg, "duration: ", 10) == 0)
		{
			/* "duration: x ms  execute|parse|bind <name>: text" */
			label = strstr(msg, " ms  ");
			if (label == NULL)
				return pstrdup(msg);
			label += 5;
		}
		if ((p = strstr(label, ": ")) != NULL)
			cut = p + 2;
	}
	if (cut == NULL)
		return pstrdup(msg);
	return psprintf("%.*s%s", (int) (cut - msg), msg, REDACTED);
}

/*
 * A tde entry point that receives a secret marks the statement running it,
 * so that errors raised while it runs never show the statement, even when
 * its text names no key-management word (EXECUTE of a prepared statement,
 * a wrapper function).
 */
static const char *marked_query = NULL;
static TimestampTz marked_start = 0;

void
tde_mark_statement_sensitive(void)
{
	marked_query = debug_query_string;
	marked_start = GetCurrentStatementStartTimestamp();
}

static bool
statement_is_marked(void)
{
	return marked_query != NULL && marked_query == debug_query_string &&
		marked_start == GetCurrentStatementStartTimestamp();
}

static bool
starts_with(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
tde_emit_log_hook(ErrorData *edata)
{
	bool		sensitive;

	sensitive = statement_is_marked() ||
		text_is_sensitive(debug_query_string) ||
		(is_statement_message(edata->message) && text_is_sensitive(edata->message)) ||
		/* EXECUTE of a prepared statement names it in a "prepare:" detail */
		(starts_with(edata->detail, "prepare: ") && text_is_sensitive(edata->detail));

	if (sensitive)
	{
		edata->hide_stmt = true;
		if (is_statement_message(edata->message))
			edata->message = redact_statement_message(edata->message);
		if (starts_with(edata->detail, "parameters: "))
			edata->detail = pstrdup("parameters: " REDACTED);
		else if (starts_with(edata->detail, "prepare: "))
			edata->detail = pstrdup("prepare: " REDACTED);
		if (starts_with(edata->detail_log, "parameters: "))
			edata->detail_log = pstrdup("parameters: " REDACTED);
		else if (starts_with(edata->detail_log, "prepare: "))
			edata->detail_log = pstrdup("prepare: " REDACTED);
		/* "... portal with parameters: $1 = '...'" and any named secret */
		if (edata->context &&
			(strstr(edata->context, "parameters: ") != NULL ||
			 text_is_sensitive(edata->context)))
			edata->context = pstrdup(REDACTED);
		if (edata->internalquery && text_is_sensitive(edata->internalquery))
			edata->internalquery = NULL;
	}

	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
tde_install_log_redaction(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = tde_emit_log_hook;
}
