/*-------------------------------------------------------------------------
 *
 * redact.c
 *	  Keep passwords and secrets out of the server log, the statistics
 *	  and the activity view.
 *
 * Statements that manage keys carry passwords in their text, and many
 * things copy statement text: the server's log_statement,
 * log_min_duration_statement, extended-protocol and STATEMENT lines (in
 * whatever language lc_messages chooses), debug_print_parse/rewritten/plan,
 * audit extensions that log the statement in their own format,
 * pg_stat_statements, and pg_stat_activity.
 *
 * A statement is sensitive while it runs when
 *	 - its text (debug_query_string) names a key-management word, or
 *	 - it EXECUTEs a prepared statement whose text does, or
 *	 - a statement it runs names one (post_parse_analyze sees every nested
 *	   statement), or
 *	 - a tde entry point received a secret in it
 *	   (tde_mark_statement_sensitive, tde_redact_secret).
 * The test is deliberately broad: a statement naming a key-management word
 * is sensitive whether or not it reaches tde.
 *
 * While a sensitive statement runs, the emit_log_hook looks at the content
 * of every field of every message (message, detail, detail_log, context,
 * hint), never at its wording, so that translated server messages and
 * other extensions' formats are covered alike:
 *	 1. each copy of the statement text (and of an EXECUTEd prepared
 *		statement's text) is replaced by the marker, which keeps the
 *		message's own label ("statement: ", "Anweisung: ", "AUDIT: ...");
 *	 2. each secret a tde entry point registered for the statement is
 *		replaced by the marker (1 and 2 at once, on the field as it is, so
 *		that a secret is never looked for inside a marker: util/mask.c; a
 *		field with more than MAX_HITS of them is replaced whole);
 *	 3. a bind-parameter list ("$1 = '...'", built by BuildParamLogString
 *		and never translated) is cut off at its start;
 *	 4. a field that still holds a printed node tree ("{QUERY",
 *		":constvalue", ...) is replaced whole;
 *	 5. a field that still holds three of the 12-byte chunks found at
 *		multiples of 12 in a statement text (so any copy of 47 or more bytes
 *		of it, however the rest was quoted or escaped: pgaudit's CSV,
 *		auto_explain, a PL/pgSQL QUERY or CONTEXT line) is cut from a word
 *		start at least 24 bytes before the first such chunk to its end;
 *	 6. the STATEMENT line is suppressed (hide_stmt), and so is the
 *		QUERY line of a statement it runs (internalquery).
 * The untranslated format string (message_id) serves as a second signal:
 * a message built around a statement's text that still carries no marker
 * is replaced whole.
 *
 * pg_stat_statements keeps no statement whose queryId is 0; the
 * post_parse_analyze_hook sets it to 0 for a sensitive statement both
 * before and after calling the previous hook, so that neither its
 * normalized entry (made in its own post_parse_analyze_hook) nor its
 * executor and utility entries are made, whichever order the libraries are
 * loaded in.  It also replaces the statement's text in pg_stat_activity.
 *
 * The string-typed bound parameters of a sensitive statement are registered
 * as secrets when its executor starts, for those that log them in their
 * own format (pgaudit.log_parameter).
 *
 * Limits (see doc/admin-guide.md, "Security"): an emit_log_hook of a
 * library loaded after tde runs before tde's and sees the message as it
 * was; a statement whose text names no key-management word (a wrapper
 * function) is known to be sensitive only once tde runs, after
 * log_statement and pg_stat_activity have seen its text.
 *
 * Memory: the state of the current statement (copies of its texts, the
 * registered secrets, the chunk index) lives in a child of TopMemoryContext
 * and is wiped and reset when the next statement is seen.  Those copies
 * are allocated without an error on failure (without memory, every field
 * is replaced instead); the scrubbed fields are built in ErrorContext, as
 * the server builds the message itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/prepare.h"
#include "executor/executor.h"
#include "parser/analyze.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/elog.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "tde/sql/redact.h"
#include "tde/sql/sensitive.h"
#include "tde/util/mask.h"

#define REDACTED "<redacted by tde>"

/*
 * A copy of a statement's text is recognised by CHUNKS_FOR_COPY of its
 * CHUNK_LEN-byte chunks (those at multiples of CHUNK_LEN): any copy of
 * (CHUNKS_FOR_COPY + 1) * CHUNK_LEN - 1 bytes holds that many.  Shorter
 * quotations (an identifier in an error message) are left alone.
 */
#define CHUNK_LEN 12
#define CHUNKS_FOR_COPY 3
#define MAX_TEXTS 8
#define MAX_SECRETS 64
#define MAX_SECRET_LEN 8192
/* a field holding more copies than this is hidden whole */
#define MAX_HITS 4096

static emit_log_hook_type prev_emit_log_hook = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;


/* Formats (untranslated) of the server's messages around a statement's text. */
static const char *const statement_formats[] = {
	"statement: %s",
	"duration: %s ms  statement: %s",
	"execute %s%s%s%s: %s",
	"duration: %s ms  execute %s%s%s%s: %s",
	"duration: %s ms  parse %s: %s",
	"duration: %s ms  bind %s%s%s: %s",
	"duration: %.3f ms  plan:\n%s",	/* auto_explain */
	NULL
};

/* Printed node trees (debug_print_*): constants appear as bytes there. */
static const char *const node_tree_marks[] = {
	"{QUERY",
	"{PLANNEDSTMT",
	":constvalue",
	":utilityStmt",
	NULL
};

typedef struct ChunkSlot
{
	const char *chunk;			/* CHUNK_LEN bytes in a text; NULL if empty */
	uint64		hash;
} ChunkSlot;

/* What is known about the statement now running. */
typedef struct RedactState
{
	bool		valid;
	const char *query;			/* the debug_query_string it is about */
	TimestampTz start;			/* and its start, as pointers are reused */
	bool		sensitive;		/* by its text or a prepared statement's */
	bool		marked;			/* by tde or a nested statement */
	bool		activity_hidden;	/* pg_stat_activity shows the marker */
	bool		everything;		/* out of room or memory: scrub every field */
	bool		texts_taken;
	int			ntexts;
	char	   *texts[MAX_TEXTS];	/* statement texts (copies) */
	Size		text_len[MAX_TEXTS];
	int			nsecrets;
	char	   *secrets[MAX_SECRETS];	/* registered secrets (copies) */
	Size		secret_len[MAX_SECRETS];
	ChunkSlot  *chunks;			/* open addressing over the texts' chunks */
	uint32		chunk_mask;
	int			chunks_needed;	/* chunks that make a copy */
	bool		chunks_built;
} RedactState;

static RedactState st;
static MemoryContext redact_cxt = NULL;
static uint64 chunk_pow;		/* HASH_BASE ^ (CHUNK_LEN - 1) */

#define HASH_BASE UINT64CONST(1099511628211)

static bool found_sensitive_prepared;

static void
note_if_sensitive(PreparedStatement *ps)
{
	if (tde_text_is_sensitive(ps->plansource->query_string))
		found_sensitive_prepared = true;
}

/* ---------------------------------------------------------------------
 * State of the current statement
 * ---------------------------------------------------------------------
 */

static void
reset_state(void)
{
	int			i;

	for (i = 0; i < st.ntexts; i++)
		explicit_bzero(st.texts[i], st.text_len[i]);
	for (i = 0; i < st.nsecrets; i++)
		explicit_bzero(st.secrets[i], st.secret_len[i]);
	if (st.chunks)
		explicit_bzero(st.chunks, sizeof(ChunkSlot) * (st.chunk_mask + 1));
	if (redact_cxt)
		MemoryContextReset(redact_cxt);
	memset(&st, 0, sizeof(st));
}

/*
 * Make st describe the statement now running.  A message while no
 * statement text is set belongs to the end of the last statement: with
 * the extended protocol, its portal ends at Sync, where the main loop has
 * cleared debug_query_string, and auto_explain logs its plan (with the
 * bound parameters folded in) then.  So the last statement's state stays
 * until the next statement is seen.
 */
static void
sync_statement(void)
{
	TimestampTz start = GetCurrentStatementStartTimestamp();

	if (st.valid && (debug_query_string == NULL ||
					 (st.query == debug_query_string && st.start == start)))
		return;
	reset_state();
	st.valid = true;
	st.query = debug_query_string;
	st.start = start;
	st.sensitive = tde_text_is_sensitive(debug_query_string);
	if (!st.sensitive)
	{
		found_sensitive_prepared = false;
		tde_for_each_executed(debug_query_string, note_if_sensitive);
		st.sensitive = found_sensitive_prepared;
	}
}

static bool
statement_is_sensitive(void)
{
	sync_statement();
	return st.sensitive || st.marked;
}

/* A copy in redact_cxt, or NULL without memory (then scrub everything). */
static char *
keep_copy(const char *s, Size len)
{
	char	   *copy;

	if (redact_cxt == NULL)
		return NULL;
	copy = MemoryContextAllocExtended(redact_cxt, len + 1, MCXT_ALLOC_NO_OOM);
	if (copy == NULL)
	{
		st.everything = true;
		return NULL;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

static void
add_text(const char *s)
{
	Size		len = strlen(s);
	int			i;

	for (i = 0; i < st.ntexts; i++)
		if (st.text_len[i] == len && memcmp(st.texts[i], s, len) == 0)
			return;
	if (st.ntexts == MAX_TEXTS)
	{
		st.everything = true;
		return;
	}
	if ((st.texts[st.ntexts] = keep_copy(s, len)) != NULL)
		st.text_len[st.ntexts++] = len;
}

static void
add_prepared_text(PreparedStatement *ps)
{
	add_text(ps->plansource->query_string);
}

/* The texts a message of this statement may copy, taken once. */
static void
take_texts(void)
{
	if (st.texts_taken)
		return;
	st.texts_taken = true;
	if (debug_query_string != NULL)
	{
		add_text(debug_query_string);
		tde_for_each_executed(debug_query_string, add_prepared_text);
	}
}

/* Show the marker instead of the statement in pg_stat_activity. */
static void
hide_activity(void)
{
	if (st.activity_hidden || debug_query_string == NULL)
		return;
	st.activity_hidden = true;
	pgstat_report_activity(STATE_RUNNING, REDACTED);
}

void
tde_mark_statement_sensitive(void)
{
	sync_statement();
	st.marked = true;
	hide_activity();
}

void
tde_redact_secret(const char *secret)
{
	Size		len;
	int			i;

	tde_mark_statement_sensitive();
	if (secret == NULL || (len = strlen(secret)) == 0)
		return;
	if (len > MAX_SECRET_LEN)
	{
		/* no copy of a huge value: scrub every field instead */
		st.everything = true;
		return;
	}
	for (i = 0; i < st.nsecrets; i++)
		if (st.secret_len[i] == len && memcmp(st.secrets[i], secret, len) == 0)
			return;
	if (st.nsecrets == MAX_SECRETS)
	{
		st.everything = true;
		return;
	}
	if ((st.secrets[st.nsecrets] = keep_copy(secret, len)) != NULL)
		st.secret_len[st.nsecrets++] = len;
}

/* ---------------------------------------------------------------------
 * Chunks of the statement texts, to find copies however they were quoted
 * ---------------------------------------------------------------------
 */

static uint64
chunk_hash(const char *p)
{
	uint64		h = 0;
	int			i;

	for (i = 0; i < CHUNK_LEN; i++)
		h = h * HASH_BASE + (unsigned char) p[i];
	return h;
}

/* A chunk of blanks or punctuation says nothing about the statement. */
static bool
chunk_is_telling(const char *p)
{
	int			i,
				n = 0;

	for (i = 0; i < CHUNK_LEN; i++)
		if (isalnum((unsigned char) p[i]))
			n++;
	return n >= 4;
}

static void
build_chunks(void)
{
	Size		total = 0;
	Size		size = 16;
	int			nchunks = 0;
	int			t;

	if (st.chunks_built)
		return;
	st.chunks_built = true;
	take_texts();
	for (t = 0; t < st.ntexts; t++)
		total += st.text_len[t] / CHUNK_LEN;
	if (total == 0)
		return;
	while (size < total * 2)
		size *= 2;
	st.chunks = MemoryContextAllocExtended(redact_cxt, sizeof(ChunkSlot) * size,
										   MCXT_ALLOC_NO_OOM | MCXT_ALLOC_ZERO |
										   MCXT_ALLOC_HUGE);
	if (st.chunks == NULL)
	{
		st.everything = true;
		return;
	}
	st.chunk_mask = size - 1;
	for (t = 0; t < st.ntexts; t++)
	{
		Size		off;

		for (off = 0; off + CHUNK_LEN <= st.text_len[t]; off += CHUNK_LEN)
		{
			const char *p = st.texts[t] + off;
			uint64		h;
			uint32		i;

			if (!chunk_is_telling(p))
				continue;
			h = chunk_hash(p);
			nchunks++;
			/*
			 * A chunk already in the table is not added again: find_copy
			 * only asks whether a chunk is there, and copies of one chunk
			 * would all probe the same cluster, which made a statement of
			 * one repeated text quadratic (seconds for 2 MB, with no
			 * interrupt check in the log hook).
			 */
			for (i = (uint32) h & st.chunk_mask; st.chunks[i].chunk != NULL;
				 i = (i + 1) & st.chunk_mask)
				if (st.chunks[i].hash == h &&
					memcmp(st.chunks[i].chunk, p, CHUNK_LEN) == 0)
					break;
			if (st.chunks[i].chunk != NULL)
				continue;		/* a copy of a chunk in the table */
			st.chunks[i].chunk = p;
			st.chunks[i].hash = h;
		}
	}
	st.chunks_needed = Min(nchunks, CHUNKS_FOR_COPY);
	if (st.chunks_needed == 0)
		st.chunks_needed = 1;
}

/*
 * Where s holds a copy of part of a statement text: the offset of the first
 * of at least st.chunks_needed chunks found in s, or -1.  Linear in
 * strlen(s).
 */
static ssize_t
find_copy(const char *s)
{
	Size		len = strlen(s);
	Size		i;
	uint64		h;
	ssize_t		first = -1;
	int			found = 0;

	if (st.chunks == NULL || len < CHUNK_LEN)
		return -1;
	h = chunk_hash(s);
	for (i = 0;; i++)
	{
		uint32		j;

		for (j = (uint32) h & st.chunk_mask; st.chunks[j].chunk != NULL;
			 j = (j + 1) & st.chunk_mask)
			if (st.chunks[j].hash == h &&
				memcmp(st.chunks[j].chunk, s + i, CHUNK_LEN) == 0)
			{
				if (first < 0)
					first = (ssize_t) i;
				if (++found >= st.chunks_needed)
					return first;
				break;
			}
		if (i + CHUNK_LEN >= len)
			return -1;
		h = (h - (unsigned char) s[i] * chunk_pow) * HASH_BASE +
			(unsigned char) s[i + CHUNK_LEN];
	}
}

/* ---------------------------------------------------------------------
 * Scrubbing a message
 * ---------------------------------------------------------------------
 */

/* Where a bind-parameter list "$1 = '...'" / "$1 = NULL" starts, or NULL. */
static const char *
parameter_list(const char *s)
{
	const char *p;

	for (p = strchr(s, '$'); p != NULL; p = strchr(p + 1, '$'))
	{
		const char *q = p + 1;

		if (!isdigit((unsigned char) *q))
			continue;
		while (isdigit((unsigned char) *q))
			q++;
		if (strncmp(q, " = '", 4) == 0 || strncmp(q, " = NULL", 7) == 0)
			return p;
	}
	return NULL;
}

static bool
holds_node_tree(const char *s)
{
	const char *const *m;

	for (m = node_tree_marks; *m; m++)
		if (strstr(s, *m) != NULL)
			return true;
	return false;
}

/* The field with everything that may come from the statement removed. */
static char *
scrub(char *field)
{
	const char *s = field;
	const char *params;
	const char *needles[MAX_TEXTS + MAX_SECRETS];
	Size		lens[MAX_TEXTS + MAX_SECRETS];
	ssize_t		at;
	int			i,
				n = 0;

	if (field == NULL || field[0] == '\0')
		return field;
	if (st.everything)
		return pstrdup(REDACTED);
	/* the texts (of 4 bytes or more) and the secrets, all at once */
	for (i = 0; i < st.ntexts; i++)
		if (st.text_len[i] >= 4)
		{
			needles[n] = st.texts[i];
			lens[n++] = st.text_len[i];
		}
	for (i = 0; i < st.nsecrets; i++)
	{
		needles[n] = st.secrets[i];
		lens[n++] = st.secret_len[i];
	}
	if ((s = tde_mask_occurrences(s, needles, lens, n, REDACTED, MAX_HITS)) == NULL)
		return pstrdup(REDACTED);
	if ((params = parameter_list(s)) != NULL)
		s = psprintf("%.*s%s", (int) (params - s), s, REDACTED);
	if (holds_node_tree(s))
		return pstrdup(REDACTED);
	if ((at = find_copy(s)) >= 0)
	{
		/*
		 * A copy of the statement, quoted or escaped differently.  Up to
		 * 2 * CHUNK_LEN - 2 bytes of it may come before the first chunk
		 * found: cut from before those, at the start of a word, to the end.
		 */
		at = at > 2 * CHUNK_LEN ? at - 2 * CHUNK_LEN : 0;
		while (at > 0 && strchr(" ,\"'(:\n", s[at - 1]) == NULL)
			at--;
		s = psprintf("%.*s%s", (int) at, s, REDACTED);
	}
	return (char *) s;
}

static bool
is_statement_format(const char *id)
{
	const char *const *f;

	if (id == NULL)
		return false;
	for (f = statement_formats; *f; f++)
		if (strcmp(id, *f) == 0)
			return true;
	return false;
}

static void
tde_emit_log_hook(ErrorData *edata)
{
	if (statement_is_sensitive())
	{
		edata->hide_stmt = true;
		build_chunks();
		edata->message = scrub(edata->message);
		edata->detail = scrub(edata->detail);
		edata->detail_log = scrub(edata->detail_log);
		edata->hint = scrub(edata->hint);
		edata->context = scrub(edata->context);
		/* the text of a statement it runs: it may carry the same secret */
		edata->internalquery = NULL;
		edata->internalpos = 0;
		if (is_statement_format(edata->message_id) && edata->message &&
			strstr(edata->message, REDACTED) == NULL)
			edata->message = pstrdup(REDACTED);
	}

	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* ---------------------------------------------------------------------
 * Statistics: no queryId, no pg_stat_statements entry
 * ---------------------------------------------------------------------
 */

static void
tde_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	bool		sensitive = statement_is_sensitive();

	/* a nested statement naming a key-management word marks its caller */
	if (!sensitive && pstate != NULL && tde_text_is_sensitive(pstate->p_sourcetext))
	{
		st.marked = true;
		sensitive = true;
	}
	if (sensitive)
	{
		query->queryId = UINT64CONST(0);
		hide_activity();
	}

	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);

	/* in case a hook called before set it again */
	if (sensitive)
		query->queryId = UINT64CONST(0);
}

/* ---------------------------------------------------------------------
 * Bound parameters: audit extensions log their values in their own format
 * ---------------------------------------------------------------------
 */

/*
 * The string-typed parameter values of a sensitive statement (a password
 * bound as $1, an EXECUTE's arguments) are registered as secrets before
 * the executor starts, so that a message showing them (pgaudit's
 * log_parameter) has them replaced even before tde itself is called.
 */
static void
register_parameters(ParamListInfo params)
{
	int			i;

	if (params == NULL || params->paramFetch != NULL)
		return;
	for (i = 0; i < params->numParams; i++)
	{
		ParamExternData *prm = &params->params[i];
		Oid			typoutput;
		bool		isvarlena;
		char		category = TYPCATEGORY_UNKNOWN;
		bool		preferred;
		char	   *value;

		if (prm->isnull || !OidIsValid(prm->ptype))
			continue;
		get_type_category_preferred(prm->ptype, &category, &preferred);
		if (category != TYPCATEGORY_STRING && category != TYPCATEGORY_UNKNOWN &&
			category != TYPCATEGORY_USER)
			continue;
		getTypeOutputInfo(prm->ptype, &typoutput, &isvarlena);
		value = OidOutputFunctionCall(typoutput, prm->value);
		tde_redact_secret(value);
		explicit_bzero(value, strlen(value));
		pfree(value);
	}
}

static void
tde_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (queryDesc->params != NULL && statement_is_sensitive())
		register_parameters(queryDesc->params);

	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

void
tde_install_log_redaction(void)
{
	int			i;

	redact_cxt = AllocSetContextCreate(TopMemoryContext, "tde redaction",
									   ALLOCSET_SMALL_SIZES);
	chunk_pow = 1;
	for (i = 1; i < CHUNK_LEN; i++)
		chunk_pow *= HASH_BASE;

	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = tde_emit_log_hook;
	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = tde_post_parse_analyze;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = tde_ExecutorStart;
}
