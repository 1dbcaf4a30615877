/*-------------------------------------------------------------------------
 *
 * parser.c
 *	  A recursive-descent parser for Oracle's ADMINISTER KEY MANAGEMENT.
 *
 * Lexical rules, as in Oracle: keywords are case-insensitive; the leading
 * ADMINISTER KEY MANAGEMENT is optional here; a password is a bare word or
 * a double-quoted string; identifiers, tags and paths are single-quoted
 * strings (a quote inside is doubled); a client secret is single-quoted or
 * a bare word (Oracle's §4.3.2); a trailing semicolon is allowed.
 * CONTAINER = {ALL | CURRENT} is accepted and has no effect: a PostgreSQL
 * instance is one container.
 *
 * A syntax error names the offending word and its character position in
 * the statement, except where the word may be a secret: a token read as a
 * password or secret is never shown, nor is any word after the statement
 * has begun to carry one unless it is a keyword of the grammar.
 *
 * Bounds: a statement is at most TDE_STATEMENT_MAX_BYTES long (54000
 * otherwise, before anything is read), and all work is linear in its
 * length.  The lexer (sql/lexer.c) makes one pass.  The grammar reads each
 * token once; a clause given twice is a syntax error, so no loop repeats
 * without consuming input.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "tde/sql/lexer.h"
#include "tde/sql/parser.h"
#include "tde/util/secure.h"

typedef struct Parser
{
	TdeToken   *toks;
	int			ntoks;
	int			cur;
	bool		secret_seen;	/* a secret has been (or is being) read */
} Parser;

static const char *const keywords[] = {
	"ADMINISTER", "KEY", "MANAGEMENT", "CREATE", "KEYSTORE", "IDENTIFIED",
	"BY", "LOCAL", "AUTO_LOGIN", "FROM", "SET", "OPEN", "CLOSE", "FORCE",
	"EXTERNAL", "STORE", "CONTAINER", "ALL", "CURRENT", "ALTER", "PASSWORD",
	"WITH", "BACKUP", "USING", "TO", "ADD", "UPDATE", "DELETE", "SECRET",
	"FOR", "CLIENT", "TAG", "ENCRYPTION", "USE", "EXPORT", "IMPORT",
	"KEYS", "MERGE", "MOVE", "MIGRATE", "REVERSE", "ISOLATE", "UNITE",
	"ALGORITHM", "INTO", NULL
};

static bool
is_keyword(const char *w)
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
static void
syntax_error_detail(Parser *p, int tokidx, const char *detail)
{
	TdeToken	   *t = &p->toks[tokidx];

	if (t->kind == TDE_TOK_END)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("syntax error at end of key management statement"),
				 detail ? errdetail_internal("%s", detail) : 0));
	else if (p->secret_seen &&
			 !(t->kind == TDE_TOK_WORD && is_keyword(t->text)) &&
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

static void
syntax_error_at(Parser *p, int tokidx, const char *expected)
{
	syntax_error_detail(p, tokidx,
						expected ? psprintf("Expected %s.", expected) : NULL);
}

/* ---------------------------------------------------------------------
 * Length
 * ---------------------------------------------------------------------
 */

void
tde_check_statement_length(Size len)
{
	if (len > TDE_STATEMENT_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("key management statement is too long"),
				 errdetail("The statement is %zu bytes long; at most %d bytes are allowed.",
						   len, TDE_STATEMENT_MAX_BYTES)));
}

/* ---------------------------------------------------------------------
 * Grammar helpers
 * ---------------------------------------------------------------------
 */

static TdeToken *
peek(Parser *p)
{
	return &p->toks[p->cur];
}

static bool
word_is(TdeToken *t, const char *w)
{
	return t->kind == TDE_TOK_WORD && pg_strcasecmp(t->text, w) == 0;
}

static bool
peek_word(Parser *p, const char *w)
{
	return word_is(peek(p), w);
}

/* The token after the next one is the word w (the END token stops it). */
static bool
peek_second_word(Parser *p, const char *w)
{
	return peek(p)->kind != TDE_TOK_END && word_is(&p->toks[p->cur + 1], w);
}

static bool
accept(Parser *p, const char *w)
{
	if (!peek_word(p, w))
		return false;
	p->cur++;
	return true;
}

static void
expect(Parser *p, const char *w)
{
	if (!accept(p, w))
		syntax_error_at(p, p->cur, w);
}

static bool
accept_punct(Parser *p, char c)
{
	TdeToken	   *t = peek(p);

	if (t->kind != TDE_TOK_PUNCT || t->text[0] != c)
		return false;
	p->cur++;
	return true;
}

/* A clause given a second time, at token tokidx. */
static void
duplicate_clause(Parser *p, int tokidx, const char *clause)
{
	syntax_error_detail(p, tokidx, psprintf("%s is given twice.", clause));
}

static char *
single_quoted(Parser *p, const char *what)
{
	TdeToken	   *t = peek(p);

	if (t->kind != TDE_TOK_SQUOTED)
		syntax_error_at(p, p->cur, psprintf("%s in single quotes", what));
	p->cur++;
	return t->text;
}

static char *
optional_single_quoted(Parser *p)
{
	TdeToken	   *t = peek(p);

	if (t->kind != TDE_TOK_SQUOTED)
		return NULL;
	p->cur++;
	return t->text;
}

/* A password: a bare word or a double-quoted string. */
static char *
password(Parser *p)
{
	TdeToken	   *t = peek(p);

	p->secret_seen = true;
	if (t->kind != TDE_TOK_WORD && t->kind != TDE_TOK_DQUOTED)
		syntax_error_at(p, p->cur, "a password");
	if (t->kind == TDE_TOK_WORD && t->text[0] == '\0')
		syntax_error_at(p, p->cur, "a password");
	p->cur++;
	return t->text;
}

/*
 * A client secret: single-quoted, or a bare word if it has no white space
 * (Oracle's §4.3.2, e.g. UPDATE SECRET admin_password FOR CLIENT ...).  A
 * bare FOR followed by CLIENT is the next clause: the secret is missing.
 */
static char *
client_secret(Parser *p)
{
	TdeToken	   *t = peek(p);

	p->secret_seen = true;
	if ((t->kind != TDE_TOK_SQUOTED && t->kind != TDE_TOK_WORD) ||
		(word_is(t, "FOR") && peek_second_word(p, "CLIENT")))
		syntax_error_at(p, p->cur, "the secret, in single quotes or as a bare word");
	p->cur++;
	return t->text;
}

/* IDENTIFIED BY { password | EXTERNAL STORE } */
static void
identified_by(Parser *p, TdeStatement *stmt)
{
	/* from here on a stray word may be the password itself */
	p->secret_seen = true;
	expect(p, "IDENTIFIED");
	expect(p, "BY");
	stmt->has_cred = true;
	if (peek_word(p, "EXTERNAL") && peek_second_word(p, "STORE"))
	{
		p->cur += 2;
		stmt->cred.external_store = true;
		stmt->cred.password = NULL;
	}
	else
		stmt->cred.password = password(p);
}

static void
force_keystore(Parser *p, TdeStatement *stmt)
{
	if (peek_word(p, "FORCE"))
	{
		if (stmt->force_keystore)
			duplicate_clause(p, p->cur, "FORCE KEYSTORE");
		p->cur++;
		expect(p, "KEYSTORE");
		stmt->force_keystore = true;
	}
}

/* [CONTAINER = {ALL | CURRENT}] */
static void
container_clause(Parser *p)
{
	if (!accept(p, "CONTAINER"))
		return;
	if (!accept_punct(p, '='))
		syntax_error_at(p, p->cur, "\"=\"");
	if (!accept(p, "ALL") && !accept(p, "CURRENT"))
		syntax_error_at(p, p->cur, "ALL or CURRENT");
}

/* [WITH BACKUP [USING 'id']] */
static void
with_backup(Parser *p, TdeStatement *stmt)
{
	if (!accept(p, "WITH"))
		return;
	expect(p, "BACKUP");
	stmt->with_backup = true;
	if (accept(p, "USING"))
		stmt->backup_id = single_quoted(p, "a backup identifier");
}

static void
end_of_statement(Parser *p)
{
	container_clause(p);
	(void) accept_punct(p, ';');
	if (peek(p)->kind != TDE_TOK_END)
		syntax_error_at(p, p->cur, "end of statement");
}

static TdeStatement *
unsupported(TdeStatement *stmt, const char *feature)
{
	stmt->kind = TDE_STMT_UNSUPPORTED;
	stmt->feature = feature;
	return stmt;
}

/* ---------------------------------------------------------------------
 * Statements
 * ---------------------------------------------------------------------
 */

/*
 * The clauses before IDENTIFIED BY in the key statements, in any order and
 * each at most once:
 *	 [USING TAG 'tag'] [USING ALGORITHM 'alg'] [FORCE KEYSTORE]
 * Oracle's templates put FORCE KEYSTORE after USING TAG (§4.2.6.2, §4.2.2.2,
 * §4.2.3.2) and before it (§4.2.6.4), and after USING ALGORITHM (§4.2.1.2).
 * USING ALGORITHM only where algorithm_ok (SET and CREATE KEY).
 */
static void
key_options(Parser *p, TdeStatement *stmt, bool algorithm_ok)
{
	for (;;)
	{
		int			at = p->cur;

		if (peek_word(p, "FORCE"))
			force_keystore(p, stmt);
		else if (accept(p, "USING"))
		{
			if (accept(p, "TAG"))
			{
				if (stmt->tag)
					duplicate_clause(p, at, "USING TAG");
				stmt->tag = single_quoted(p, "a tag");
			}
			else if (algorithm_ok && accept(p, "ALGORITHM"))
			{
				if (stmt->algorithm)
					duplicate_clause(p, at, "USING ALGORITHM");
				stmt->algorithm = single_quoted(p, "an algorithm name");
			}
			else
				syntax_error_at(p, p->cur, algorithm_ok ? "TAG or ALGORITHM" : "TAG");
		}
		else
			return;
	}
}

/*
 * The tail shared by the key statements:
 *	 IDENTIFIED BY {password | EXTERNAL STORE} [WITH BACKUP [USING 'id']]
 */
static TdeStatement *
key_statement_tail(Parser *p, TdeStatement *stmt)
{
	identified_by(p, stmt);
	if (stmt->kind == TDE_STMT_SET_KEY &&
		(peek_word(p, "MIGRATE") || peek_word(p, "REVERSE")))
	{
		/* SET KEY IDENTIFIED BY x [REVERSE] MIGRATE USING y */
		stmt->kind = accept(p, "REVERSE") ? TDE_STMT_REVERSE_MIGRATE : TDE_STMT_MIGRATE;
		expect(p, "MIGRATE");
		expect(p, "USING");
		stmt->migrate_password = password(p);
		if (stmt->cred.external_store)
			syntax_error_at(p, p->cur - 1, "a password after IDENTIFIED BY");
	}
	with_backup(p, stmt);
	return stmt;
}

/*
 * {SET | CREATE} [ENCRYPTION] KEY ['mkid:mk' | 'mk'] <key_options> <tail>
 */
static TdeStatement *
parse_key(Parser *p, TdeStatement *stmt, TdeStmtKind kind)
{
	stmt->kind = kind;
	if (peek(p)->kind == TDE_TOK_SQUOTED)
	{
		p->secret_seen = true;	/* a user-supplied key is a secret */
		stmt->user_key = single_quoted(p, "a master key");
	}
	key_options(p, stmt, true);
	return key_statement_tail(p, stmt);
}

/* CREATE ... */
static TdeStatement *
parse_create(Parser *p, TdeStatement *stmt)
{
	if (accept(p, "KEYSTORE"))
	{
		stmt->kind = TDE_STMT_CREATE_KEYSTORE;
		stmt->location = optional_single_quoted(p);
		identified_by(p, stmt);
		if (stmt->cred.external_store)
			syntax_error_at(p, p->cur - 2, "a password");
		return stmt;
	}
	if (accept(p, "LOCAL"))
	{
		stmt->local = true;
		if (!peek_word(p, "AUTO_LOGIN"))
			syntax_error_at(p, p->cur, "AUTO_LOGIN");
	}
	if (accept(p, "AUTO_LOGIN"))
	{
		stmt->kind = TDE_STMT_CREATE_AUTOLOGIN;
		expect(p, "KEYSTORE");
		expect(p, "FROM");
		expect(p, "KEYSTORE");
		stmt->location = optional_single_quoted(p);
		identified_by(p, stmt);
		if (stmt->cred.external_store)
			syntax_error_at(p, p->cur - 2, "a password");
		return stmt;
	}
	(void) accept(p, "ENCRYPTION");
	if (accept(p, "KEY"))
		return parse_key(p, stmt, TDE_STMT_CREATE_KEY);
	syntax_error_at(p, p->cur, "KEYSTORE, AUTO_LOGIN or KEY");
	return NULL;
}

/* SET ... */
static TdeStatement *
parse_set(Parser *p, TdeStatement *stmt)
{
	if (accept(p, "KEYSTORE"))
	{
		if (accept(p, "OPEN"))
		{
			stmt->kind = TDE_STMT_OPEN;
			force_keystore(p, stmt);
			identified_by(p, stmt);
			return stmt;
		}
		if (accept(p, "CLOSE"))
		{
			stmt->kind = TDE_STMT_CLOSE;
			if (peek_word(p, "IDENTIFIED"))
				identified_by(p, stmt);
			return stmt;
		}
		syntax_error_at(p, p->cur, "OPEN or CLOSE");
	}
	if (accept(p, "TAG"))
	{
		/* SET TAG 'tag' FOR 'key_id' [FORCE KEYSTORE] <tail> */
		stmt->kind = TDE_STMT_SET_TAG;
		stmt->tag = single_quoted(p, "a tag");
		expect(p, "FOR");
		stmt->key_id = single_quoted(p, "a key identifier");
		force_keystore(p, stmt);
		return key_statement_tail(p, stmt);
	}
	(void) accept(p, "ENCRYPTION");
	if (accept(p, "KEY"))
		return parse_key(p, stmt, TDE_STMT_SET_KEY);
	syntax_error_at(p, p->cur, "KEYSTORE, KEY or TAG");
	return NULL;
}

/* ALTER KEYSTORE PASSWORD [FORCE KEYSTORE] IDENTIFIED BY old SET new WITH BACKUP [USING 'id'] */
static TdeStatement *
parse_alter(Parser *p, TdeStatement *stmt)
{
	expect(p, "KEYSTORE");
	expect(p, "PASSWORD");
	stmt->kind = TDE_STMT_ALTER_PASSWORD;
	force_keystore(p, stmt);
	identified_by(p, stmt);
	if (stmt->cred.external_store)
		syntax_error_at(p, p->cur - 2, "the keystore password");
	expect(p, "SET");
	stmt->new_password = password(p);
	with_backup(p, stmt);
	return stmt;
}

/* BACKUP KEYSTORE [USING 'id'] [FORCE KEYSTORE] IDENTIFIED BY ... [TO 'location'] */
static TdeStatement *
parse_backup(Parser *p, TdeStatement *stmt)
{
	expect(p, "KEYSTORE");
	stmt->kind = TDE_STMT_BACKUP;
	if (accept(p, "USING"))
		stmt->backup_id = single_quoted(p, "a backup identifier");
	force_keystore(p, stmt);
	identified_by(p, stmt);
	if (accept(p, "TO"))
		stmt->location = single_quoted(p, "a backup location");
	return stmt;
}

/*
 * The secret statements (Oracle's §4.3.2 and §4.3.6):
 *
 * {ADD | UPDATE} SECRET secret FOR CLIENT 'client' [USING TAG 'tag']
 *		[{TO | INTO} [[LOCAL] AUTO_LOGIN] KEYSTORE 'location']
 *		[[FORCE KEYSTORE] IDENTIFIED BY ...] [WITH BACKUP [USING 'id']]
 * DELETE SECRET FOR CLIENT 'client'
 *		[FROM [[LOCAL] AUTO_LOGIN] KEYSTORE 'location'] ... likewise
 *
 * tde implements the external password store: an AUTO_LOGIN keystore
 * location and no IDENTIFIED BY.  A secret in the keystore itself (a
 * KEYSTORE location without AUTO_LOGIN, or FORCE KEYSTORE or IDENTIFIED
 * BY) is a statement of a later version.  INTO is the word of §4.3.3's
 * example.
 */
static TdeStatement *
parse_secret(Parser *p, TdeStatement *stmt, TdeStmtKind kind)
{
	const char *in_keystore = kind == TDE_STMT_ADD_SECRET ? "ADD SECRET to the keystore" :
		kind == TDE_STMT_UPDATE_SECRET ? "UPDATE SECRET in the keystore" :
		"DELETE SECRET from the keystore";
	bool		has_location = false;

	stmt->kind = kind;
	expect(p, "SECRET");
	if (kind != TDE_STMT_DELETE_SECRET)
		stmt->secret = client_secret(p);
	expect(p, "FOR");
	expect(p, "CLIENT");
	stmt->client = single_quoted(p, "a client identifier");
	if (kind != TDE_STMT_DELETE_SECRET && accept(p, "USING"))
	{
		expect(p, "TAG");
		stmt->tag = single_quoted(p, "a tag");
	}
	if (kind == TDE_STMT_DELETE_SECRET ? accept(p, "FROM") :
		(accept(p, "TO") || accept(p, "INTO")))
	{
		bool		auto_login;

		if (accept(p, "LOCAL"))
		{
			stmt->local = true;
			if (!peek_word(p, "AUTO_LOGIN"))
				syntax_error_at(p, p->cur, "AUTO_LOGIN");
		}
		auto_login = accept(p, "AUTO_LOGIN");
		expect(p, "KEYSTORE");
		stmt->location = single_quoted(p, "a keystore location");
		if (!auto_login)
			return unsupported(stmt, in_keystore);
		has_location = true;
	}
	if (peek_word(p, "FORCE") || peek_word(p, "IDENTIFIED"))
		return unsupported(stmt, in_keystore);
	if (!has_location)
		syntax_error_at(p, p->cur,
						kind == TDE_STMT_DELETE_SECRET ?
						"FROM, FORCE KEYSTORE or IDENTIFIED BY" :
						"TO, FORCE KEYSTORE or IDENTIFIED BY");
	with_backup(p, stmt);
	return stmt;
}

/*
 * Statements of a later version, recognised by their leading words only
 * (they fail as not supported, with a reason); NULL if none begins here.
 */
static TdeStatement *
parse_later(Parser *p, TdeStatement *stmt)
{
	/* verb [ENCRYPTION] KEYS, or verb KEYSTORE */
	static const struct
	{
		const char *verb;
		bool		keys;
		const char *feature;
	}			later[] = {
		{"EXPORT", true, "EXPORT KEYS"},
		{"IMPORT", true, "IMPORT KEYS"},
		{"MOVE", true, "MOVE KEYS"},
		{"MERGE", false, "MERGE KEYSTORE"},
		{"ISOLATE", false, "ISOLATE KEYSTORE"},
		{"UNITE", false, "UNITE KEYSTORE"},
	};
	int			i;

	for (i = 0; i < (int) lengthof(later); i++)
	{
		if (!accept(p, later[i].verb))
			continue;
		if (later[i].keys)
		{
			(void) accept(p, "ENCRYPTION");
			expect(p, "KEYS");
		}
		else
			expect(p, "KEYSTORE");
		return unsupported(stmt, later[i].feature);
	}
	return NULL;
}

TdeStatement *
tde_parse_statement(const char *text)
{
	Parser		p = {0};
	TdeStatement *stmt;
	TdeStatement *result = NULL;
	Size		len = strlen(text);

	tde_check_statement_length(len);
	stmt = palloc0(sizeof(TdeStatement));
	tde_lex(text, len, &p.toks, &p.ntoks);

	if (accept(&p, "ADMINISTER"))
	{
		expect(&p, "KEY");
		expect(&p, "MANAGEMENT");
	}

	if (accept(&p, "CREATE"))
		result = parse_create(&p, stmt);
	else if (accept(&p, "SET"))
		result = parse_set(&p, stmt);
	else if (accept(&p, "ALTER"))
		result = parse_alter(&p, stmt);
	else if (accept(&p, "BACKUP"))
		result = parse_backup(&p, stmt);
	else if (accept(&p, "ADD"))
		result = parse_secret(&p, stmt, TDE_STMT_ADD_SECRET);
	else if (accept(&p, "UPDATE"))
		result = parse_secret(&p, stmt, TDE_STMT_UPDATE_SECRET);
	else if (accept(&p, "DELETE"))
		result = parse_secret(&p, stmt, TDE_STMT_DELETE_SECRET);
	else if (accept(&p, "USE"))
	{
		/* USE [ENCRYPTION] KEY 'key_id' <key_options without ALGORITHM> <tail> */
		(void) accept(&p, "ENCRYPTION");
		expect(&p, "KEY");
		stmt->kind = TDE_STMT_USE_KEY;
		stmt->key_id = single_quoted(&p, "a key identifier");
		key_options(&p, stmt, false);
		result = key_statement_tail(&p, stmt);
	}
	else if ((result = parse_later(&p, stmt)) == NULL)
		syntax_error_at(&p, p.cur, "a key management statement");

	/* a later version's statement is recognised by its leading words only */
	if (result->kind != TDE_STMT_UNSUPPORTED)
		end_of_statement(&p);
	return result;
}
