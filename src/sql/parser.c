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

#include "tde/sql/grammar.h"
#include "tde/sql/lexer.h"
#include "tde/sql/parse_transfer.h"
#include "tde/sql/parser.h"
#include "tde/util/secure.h"


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
key_options(TdeParser *p, TdeStatement *stmt, bool algorithm_ok)
{
	for (;;)
	{
		int			at = p->cur;

		if (tde_gram_peek_word(p, "FORCE"))
			tde_gram_force_keystore(p, stmt);
		else if (tde_gram_accept(p, "USING"))
		{
			if (tde_gram_accept(p, "TAG"))
			{
				if (stmt->tag)
					tde_gram_duplicate_clause(p, at, "USING TAG");
				stmt->tag = tde_gram_single_quoted(p, "a tag");
			}
			else if (algorithm_ok && tde_gram_accept(p, "ALGORITHM"))
			{
				if (stmt->algorithm)
					tde_gram_duplicate_clause(p, at, "USING ALGORITHM");
				stmt->algorithm = tde_gram_single_quoted(p, "an algorithm name");
			}
			else
				tde_gram_syntax_error_at(p, p->cur, algorithm_ok ? "TAG or ALGORITHM" : "TAG");
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
key_statement_tail(TdeParser *p, TdeStatement *stmt)
{
	tde_gram_identified_by(p, stmt);
	if (stmt->kind == TDE_STMT_SET_KEY &&
		(tde_gram_peek_word(p, "MIGRATE") || tde_gram_peek_word(p, "REVERSE")))
	{
		/* SET KEY IDENTIFIED BY x [REVERSE] MIGRATE USING y */
		stmt->kind = tde_gram_accept(p, "REVERSE") ? TDE_STMT_REVERSE_MIGRATE : TDE_STMT_MIGRATE;
		tde_gram_expect(p, "MIGRATE");
		tde_gram_expect(p, "USING");
		stmt->migrate_password = tde_gram_password(p);
		if (stmt->cred.external_store)
			tde_gram_syntax_error_at(p, p->cur - 1, "a password after IDENTIFIED BY");
	}
	tde_gram_with_backup(p, stmt);
	return stmt;
}

/*
 * {SET | CREATE} [ENCRYPTION] KEY ['mkid:mk' | 'mk'] <key_options> <tail>
 */
static TdeStatement *
parse_key(TdeParser *p, TdeStatement *stmt, TdeStmtKind kind)
{
	stmt->kind = kind;
	if (tde_gram_peek(p)->kind == TDE_TOK_SQUOTED)
	{
		p->secret_seen = true;	/* a user-supplied key is a secret */
		stmt->user_key = tde_gram_single_quoted(p, "a master key");
	}
	key_options(p, stmt, true);
	return key_statement_tail(p, stmt);
}

/* CREATE ... */
static TdeStatement *
parse_create(TdeParser *p, TdeStatement *stmt)
{
	if (tde_gram_accept(p, "KEYSTORE"))
	{
		stmt->kind = TDE_STMT_CREATE_KEYSTORE;
		stmt->location = tde_gram_optional_single_quoted(p);
		tde_gram_identified_by(p, stmt);
		if (stmt->cred.external_store)
			tde_gram_syntax_error_at(p, p->cur - 2, "a password");
		return stmt;
	}
	if (tde_gram_accept(p, "LOCAL"))
	{
		stmt->local = true;
		if (!tde_gram_peek_word(p, "AUTO_LOGIN"))
			tde_gram_syntax_error_at(p, p->cur, "AUTO_LOGIN");
	}
	if (tde_gram_accept(p, "AUTO_LOGIN"))
	{
		stmt->kind = TDE_STMT_CREATE_AUTOLOGIN;
		tde_gram_expect(p, "KEYSTORE");
		tde_gram_expect(p, "FROM");
		tde_gram_expect(p, "KEYSTORE");
		stmt->location = tde_gram_optional_single_quoted(p);
		tde_gram_identified_by(p, stmt);
		if (stmt->cred.external_store)
			tde_gram_syntax_error_at(p, p->cur - 2, "a password");
		return stmt;
	}
	(void) tde_gram_accept(p, "ENCRYPTION");
	if (tde_gram_accept(p, "KEY"))
		return parse_key(p, stmt, TDE_STMT_CREATE_KEY);
	tde_gram_syntax_error_at(p, p->cur, "KEYSTORE, AUTO_LOGIN or KEY");
	return NULL;
}

/* SET ... */
static TdeStatement *
parse_set(TdeParser *p, TdeStatement *stmt)
{
	if (tde_gram_accept(p, "KEYSTORE"))
	{
		if (tde_gram_accept(p, "OPEN"))
		{
			stmt->kind = TDE_STMT_OPEN;
			tde_gram_force_keystore(p, stmt);
			tde_gram_identified_by(p, stmt);
			return stmt;
		}
		if (tde_gram_accept(p, "CLOSE"))
		{
			stmt->kind = TDE_STMT_CLOSE;
			if (tde_gram_peek_word(p, "IDENTIFIED"))
				tde_gram_identified_by(p, stmt);
			return stmt;
		}
		tde_gram_syntax_error_at(p, p->cur, "OPEN or CLOSE");
	}
	if (tde_gram_accept(p, "TAG"))
	{
		/* SET TAG 'tag' FOR 'key_id' [FORCE KEYSTORE] <tail> */
		stmt->kind = TDE_STMT_SET_TAG;
		stmt->tag = tde_gram_single_quoted(p, "a tag");
		tde_gram_expect(p, "FOR");
		stmt->key_id = tde_gram_single_quoted(p, "a key identifier");
		tde_gram_force_keystore(p, stmt);
		return key_statement_tail(p, stmt);
	}
	(void) tde_gram_accept(p, "ENCRYPTION");
	if (tde_gram_accept(p, "KEY"))
		return parse_key(p, stmt, TDE_STMT_SET_KEY);
	tde_gram_syntax_error_at(p, p->cur, "KEYSTORE, KEY or TAG");
	return NULL;
}

/* ALTER KEYSTORE PASSWORD [FORCE KEYSTORE] IDENTIFIED BY old SET new WITH BACKUP [USING 'id'] */
static TdeStatement *
parse_alter(TdeParser *p, TdeStatement *stmt)
{
	tde_gram_expect(p, "KEYSTORE");
	tde_gram_expect(p, "PASSWORD");
	stmt->kind = TDE_STMT_ALTER_PASSWORD;
	tde_gram_force_keystore(p, stmt);
	tde_gram_identified_by(p, stmt);
	if (stmt->cred.external_store)
		tde_gram_syntax_error_at(p, p->cur - 2, "the keystore password");
	tde_gram_expect(p, "SET");
	stmt->new_password = tde_gram_password(p);
	tde_gram_with_backup(p, stmt);
	return stmt;
}

/* BACKUP KEYSTORE [USING 'id'] [FORCE KEYSTORE] IDENTIFIED BY ... [TO 'location'] */
static TdeStatement *
parse_backup(TdeParser *p, TdeStatement *stmt)
{
	tde_gram_expect(p, "KEYSTORE");
	stmt->kind = TDE_STMT_BACKUP;
	if (tde_gram_accept(p, "USING"))
		stmt->backup_id = tde_gram_single_quoted(p, "a backup identifier");
	tde_gram_force_keystore(p, stmt);
	tde_gram_identified_by(p, stmt);
	if (tde_gram_accept(p, "TO"))
		stmt->location = tde_gram_single_quoted(p, "a backup location");
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
 * With an AUTO_LOGIN keystore location and no IDENTIFIED BY, the secret is
 * the external password store's (keystore/seps.h).  With IDENTIFIED BY
 * (and optionally FORCE KEYSTORE, or TO KEYSTORE '<wallet_root>/tde') it
 * is the password keystore's (keystore/client_secret.h).  INTO is the word
 * of §4.3.3's example.
 */
static TdeStatement *
parse_secret(TdeParser *p, TdeStatement *stmt, TdeStmtKind kind)
{
	const char *in_keystore = kind == TDE_STMT_ADD_SECRET ? "ADD SECRET to the keystore" :
		kind == TDE_STMT_UPDATE_SECRET ? "UPDATE SECRET in the keystore" :
		"DELETE SECRET from the keystore";
	bool		has_location = false;
	bool		auto_login = false;

	stmt->kind = kind;
	tde_gram_expect(p, "SECRET");
	if (kind != TDE_STMT_DELETE_SECRET)
		stmt->secret = tde_gram_client_secret(p);
	tde_gram_expect(p, "FOR");
	tde_gram_expect(p, "CLIENT");
	stmt->client = tde_gram_single_quoted(p, "a client identifier");
	if (kind != TDE_STMT_DELETE_SECRET && tde_gram_accept(p, "USING"))
	{
		tde_gram_expect(p, "TAG");
		stmt->tag = tde_gram_single_quoted(p, "a tag");
	}
	if (kind == TDE_STMT_DELETE_SECRET ? tde_gram_accept(p, "FROM") :
		(tde_gram_accept(p, "TO") || tde_gram_accept(p, "INTO")))
	{
		if (tde_gram_accept(p, "LOCAL"))
		{
			stmt->local = true;
			if (!tde_gram_peek_word(p, "AUTO_LOGIN"))
				tde_gram_syntax_error_at(p, p->cur, "AUTO_LOGIN");
		}
		auto_login = tde_gram_accept(p, "AUTO_LOGIN");
		tde_gram_expect(p, "KEYSTORE");
		stmt->location = tde_gram_single_quoted(p, "a keystore location");
		has_location = true;
	}
	if (!auto_login && (tde_gram_peek_word(p, "FORCE") || tde_gram_peek_word(p, "IDENTIFIED")))
	{
		/* the password keystore's secret */
		tde_gram_force_keystore(p, stmt);
		tde_gram_identified_by(p, stmt);
	}
	else if (!has_location || !auto_login)
		tde_gram_syntax_error_at(p, p->cur,
								 kind == TDE_STMT_DELETE_SECRET ?
								 "FROM, FORCE KEYSTORE or IDENTIFIED BY" :
								 "TO, FORCE KEYSTORE or IDENTIFIED BY");
	else if (tde_gram_peek_word(p, "FORCE") || tde_gram_peek_word(p, "IDENTIFIED"))
		return tde_gram_unsupported(stmt, in_keystore);
	tde_gram_with_backup(p, stmt);
	return stmt;
}

/*
 * Statements of a later version, recognised by their leading words only
 * (they fail as not supported, with a reason); NULL if none begins here.
 */
static TdeStatement *
parse_later(TdeParser *p, TdeStatement *stmt)
{
	/* verb KEYSTORE (multitenant: one PostgreSQL cluster has no PDBs) */
	static const struct
	{
		const char *verb;
		const char *feature;
	}			later[] = {
		{"ISOLATE", "ISOLATE KEYSTORE"},
		{"UNITE", "UNITE KEYSTORE"},
	};
	int			i;

	for (i = 0; i < (int) lengthof(later); i++)
	{
		if (!tde_gram_accept(p, later[i].verb))
			continue;
		tde_gram_expect(p, "KEYSTORE");
		return tde_gram_unsupported(stmt, later[i].feature);
	}
	return NULL;
}

TdeStatement *
tde_parse_statement(const char *text)
{
	TdeParser	p = {0};
	TdeStatement *stmt;
	TdeStatement *result = NULL;
	Size		len = strlen(text);

	tde_check_statement_length(len);
	stmt = palloc0(sizeof(TdeStatement));
	p.src = text;
	tde_lex(text, len, &p.toks, &p.ntoks);

	if (tde_gram_accept(&p, "ADMINISTER"))
	{
		tde_gram_expect(&p, "KEY");
		tde_gram_expect(&p, "MANAGEMENT");
	}

	if (tde_gram_accept(&p, "CREATE"))
		result = parse_create(&p, stmt);
	else if (tde_gram_accept(&p, "SET"))
		result = parse_set(&p, stmt);
	else if (tde_gram_accept(&p, "ALTER"))
		result = parse_alter(&p, stmt);
	else if (tde_gram_accept(&p, "BACKUP"))
		result = parse_backup(&p, stmt);
	else if (tde_gram_accept(&p, "ADD"))
		result = parse_secret(&p, stmt, TDE_STMT_ADD_SECRET);
	else if (tde_gram_accept(&p, "UPDATE"))
		result = parse_secret(&p, stmt, TDE_STMT_UPDATE_SECRET);
	else if (tde_gram_accept(&p, "DELETE"))
		result = parse_secret(&p, stmt, TDE_STMT_DELETE_SECRET);
	else if (tde_gram_accept(&p, "EXPORT"))
		result = tde_parse_export(&p, stmt);
	else if (tde_gram_accept(&p, "IMPORT"))
		result = tde_parse_import(&p, stmt);
	else if (tde_gram_accept(&p, "MERGE"))
		result = tde_parse_merge(&p, stmt);
	else if (tde_gram_accept(&p, "MOVE"))
		result = tde_parse_move(&p, stmt);
	else if (tde_gram_accept(&p, "USE"))
	{
		/* USE [ENCRYPTION] KEY 'key_id' <key_options without ALGORITHM> <tail> */
		(void) tde_gram_accept(&p, "ENCRYPTION");
		tde_gram_expect(&p, "KEY");
		stmt->kind = TDE_STMT_USE_KEY;
		stmt->key_id = tde_gram_single_quoted(&p, "a key identifier");
		key_options(&p, stmt, false);
		result = key_statement_tail(&p, stmt);
	}
	else if ((result = parse_later(&p, stmt)) == NULL)
		tde_gram_syntax_error_at(&p, p.cur, "a key management statement");

	/* a later version's statement is recognised by its leading words only */
	if (result->kind != TDE_STMT_UNSUPPORTED)
		tde_gram_end_of_statement(&p);
	return result;
}
