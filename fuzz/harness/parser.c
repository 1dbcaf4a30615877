/*-------------------------------------------------------------------------
 *
 * parser.c (fuzz harness)
 *	  The ADMINISTER KEY MANAGEMENT parser: sql/lexer.c, sql/grammar.c,
 *	  sql/parser.c, sql/parse_transfer.c; and the statement-text scans of
 *	  sql/sensitive.c that every statement's text passes through.
 *
 * The input is a statement's text.  What reaches the parser is a text
 * argument: valid in the database encoding (UTF8 here) and free of NUL
 * bytes, which the server guarantees; other inputs are skipped, as the
 * server never passes them.  A parsed statement must be usable: every
 * string it names terminated, every count within its array, a credential
 * either a password or the external store.
 *
 * FetchPreparedStatement has no prepared statements here (NULL): what
 * tde_for_each_executed reads is the text, the lookup is the server's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/prepare.h"
#include "mb/pg_wchar.h"

#include "harness.h"
#include "tde/sql/parser.h"
#include "tde/sql/sensitive.h"

PreparedStatement *
FetchPreparedStatement(const char *stmt_name, bool throwError)
{
	if (strlen(stmt_name) >= NAMEDATALEN)
		tde_fuzz_fail("prepared statement name longer than NAMEDATALEN - 1");
	return NULL;
}

static void
executed(PreparedStatement *ps)
{
}

static void
check_opt(const char *s)
{
	if (s != NULL)
		(void) strlen(s);
}

static void
check_statement(const TdeStatement *stmt)
{
	int			i;

	if (stmt == NULL)
		tde_fuzz_fail("tde_parse_statement returned NULL");
	if (stmt->kind < TDE_STMT_CREATE_KEYSTORE || stmt->kind > TDE_STMT_UNSUPPORTED)
		tde_fuzz_fail("statement kind %d", (int) stmt->kind);
	if (stmt->has_cred && stmt->cred.external_store != (stmt->cred.password == NULL))
		tde_fuzz_fail("a credential that is neither a password nor the external store");
	check_opt(stmt->feature);
	check_opt(stmt->cred.password);
	check_opt(stmt->new_password);
	check_opt(stmt->backup_id);
	check_opt(stmt->location);
	check_opt(stmt->secret);
	check_opt(stmt->client);
	check_opt(stmt->tag);
	check_opt(stmt->user_key);
	check_opt(stmt->algorithm);
	check_opt(stmt->key_id);
	check_opt(stmt->migrate_password);
	check_opt(stmt->key_query);
	if (stmt->nkey_ids < 0 || (stmt->nkey_ids > 0 && stmt->key_ids == NULL))
		tde_fuzz_fail("%d key identifiers", stmt->nkey_ids);
	for (i = 0; i < stmt->nkey_ids; i++)
		(void) strlen(stmt->key_ids[i]);
	if (stmt->nmerge_from < 0 || stmt->nmerge_from > 2)
		tde_fuzz_fail("%d merge sources", stmt->nmerge_from);
	if (stmt->kind == TDE_STMT_MERGE && stmt->nmerge_from == 0)
		tde_fuzz_fail("MERGE without a source");
	for (i = 0; i < stmt->nmerge_from; i++)
	{
		(void) strlen(stmt->merge_from[i]);
		check_opt(stmt->merge_from_password[i]);
	}
}

static void
one_input(const uint8_t *data, size_t size)
{
	char	   *text;

	if (memchr(data, '\0', size) != NULL ||
		pg_encoding_verifymbstr(PG_UTF8, (const char *) data, (int) size) != (int) size)
		return;
	text = pnstrdup((const char *) data, size);
	(void) tde_text_is_sensitive(text);
	tde_for_each_executed(text, executed);
	check_statement(tde_parse_statement(text));
}

static void
init(void)
{
	/* no generated seeds: they are statements of the tests and doc/reference.md */
}

TDE_FUZZ_TARGET(init, one_input)
