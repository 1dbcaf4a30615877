/*-------------------------------------------------------------------------
 *
 * redact.c (fuzz harness)
 *	  The log redaction (sql/redact.c, over sql/sensitive.c): every message
 *	  of a statement that manages keys passes through its emit_log_hook,
 *	  which looks for the statement's text, its secrets and copies of them
 *	  in every field.  The statement's text is any user's; the messages
 *	  quote user data.
 *
 * Input: NUL-separated parts: the statement's text (debug_query_string),
 * a secret a tde entry point registers (tde_redact_secret; empty: none),
 * then a message, a detail, a hint and a context.  Each input is one
 * statement (its own start time); it emits two messages, one with a
 * format of its own and one in the server's "statement: %s" format.
 *
 * Besides memory safety, the property the unit exists for is checked: in
 * a sensitive statement no field that reaches the log still holds the
 * registered secret or the statement's text (4 bytes or more).  The
 * markers are taken out first (a secret such as "e" is in one), and inputs
 * whose secret or text hold the byte 0x01 that stands for a marker are
 * skipped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/prepare.h"
#include "executor/executor.h"
#include "parser/analyze.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"

#include "harness.h"
#include "tde/sql/redact.h"
#include "tde/sql/sensitive.h"

#define REDACTED "<redacted by tde>"
#define NPARTS 6

post_parse_analyze_hook_type post_parse_analyze_hook = NULL;
ExecutorStart_hook_type ExecutorStart_hook = NULL;

static TimestampTz statement_start = 0;
static const char *cur_secret;
static const char *cur_text;
static bool cur_sensitive;

TimestampTz
GetCurrentStatementStartTimestamp(void)
{
	return statement_start;
}

void
pgstat_report_activity(BackendState state, const char *cmd_str)
{
}

PreparedStatement *
FetchPreparedStatement(const char *stmt_name, bool throwError)
{
	return NULL;
}

/*
 * Is needle in the field once every marker is taken out?  A marker may
 * follow part of another: the cut after a copy of the statement goes back
 * to a word start, which can be a space inside a marker already put in
 * ("<redacted by <redacted by tde>"); that part is the marker's, not the
 * input's, and is taken out with it.
 */
static bool
survives(const char *field, const char *needle)
{
	StringInfoData buf;
	const char *p = field;
	const char *m;
	int			mlen = strlen(REDACTED);

	initStringInfo(&buf);
	while ((m = strstr(p, REDACTED)) != NULL)
	{
		int			l;

		appendBinaryStringInfo(&buf, p, m - p);
		for (l = mlen - 1; l > 0; l--)
			if (buf.len >= l && memcmp(buf.data + buf.len - l, REDACTED, l) == 0)
			{
				buf.len -= l;
				buf.data[buf.len] = '\0';
				break;
			}
		appendStringInfoChar(&buf, '\x01');
		p = m + mlen;
	}
	appendStringInfoString(&buf, p);
	return strstr(buf.data, needle) != NULL;
}

static void
check_field(const char *field, const char *name)
{
	if (field == NULL || !cur_sensitive)
		return;
	if (cur_secret && survives(field, cur_secret))
		tde_fuzz_fail("the registered secret reached the log in the %s%s", name,
					  getenv("TDE_FUZZ_VERBOSE") ? "" : " (TDE_FUZZ_VERBOSE=1 shows it)");
	if (cur_text && strlen(cur_text) >= 4 && survives(field, cur_text))
		tde_fuzz_fail("the statement's text reached the log in the %s: \"%s\"%s",
					  name, getenv("TDE_FUZZ_VERBOSE") ? field : "...",
					  getenv("TDE_FUZZ_VERBOSE") ? "" : " (TDE_FUZZ_VERBOSE=1 shows it)");
}

/* Called by tde's emit_log_hook with the message as it will be logged */
static void
check_hook(ErrorData *edata)
{
	check_field(edata->message, "message");
	check_field(edata->detail, "detail");
	check_field(edata->detail_log, "detail_log");
	check_field(edata->hint, "hint");
	check_field(edata->context, "context");
	if (cur_sensitive && edata->internalquery != NULL)
		tde_fuzz_fail("the internal query of a sensitive statement reached the log");
}

static void
one_input(const uint8_t *data, size_t size)
{
	const char *part[NPARTS];
	const char *p = (const char *) data;
	const char *end = p + size;
	int			n;

	/* the parts, as C strings (a field is never longer than the input) */
	for (n = 0; n < NPARTS; n++)
	{
		const char *e = p < end ? memchr(p, '\0', end - p) : NULL;

		part[n] = pnstrdup(p < end ? p : "", e ? e - p : (p < end ? end - p : 0));
		p = e ? e + 1 : end;
	}
	if (strchr(part[0], '\x01') || strchr(part[1], '\x01'))
		return;

	statement_start++;
	debug_query_string = part[0];
	cur_text = part[0];
	cur_secret = part[1][0] ? part[1] : NULL;
	if (cur_secret)
		tde_redact_secret(cur_secret);
	cur_sensitive = cur_secret != NULL || tde_text_is_sensitive(part[0]);

	ereport(LOG,
			(errmsg_internal("%s", part[2]),
			 part[3][0] ? errdetail_internal("%s", part[3]) : 0,
			 part[4][0] ? errhint("%s", part[4]) : 0,
			 part[5][0] ? errcontext_msg("%s", part[5]) : 0));
	ereport(LOG, (errmsg("statement: %s", part[2]), errhidestmt(true)));
	debug_query_string = NULL;
}

static void
init(void)
{
	/* the check runs after tde's hook: tde calls the hook it replaced */
	emit_log_hook = check_hook;
	tde_install_log_redaction();
}

TDE_FUZZ_TARGET(init, one_input)
