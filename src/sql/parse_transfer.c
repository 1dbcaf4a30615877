/*-------------------------------------------------------------------------
 *
 * parse_transfer.c
 *	  The grammar of EXPORT KEYS and IMPORT KEYS (Oracle's §4.2.7), MOVE
 *	  KEYS (§4.2.8) and MERGE KEYSTORE (§4.1.8).
 *
 * EXPORT [ENCRYPTION] KEYS WITH SECRET secret TO 'file' [FORCE KEYSTORE]
 *		IDENTIFIED BY {password | EXTERNAL STORE}
 *		[WITH IDENTIFIER IN {'key_id' [, 'key_id' ...] | (subquery)}]
 * IMPORT [ENCRYPTION] KEYS WITH SECRET secret FROM 'file' [FORCE KEYSTORE]
 *		IDENTIFIED BY {password | EXTERNAL STORE}
 *		[WITH BACKUP [USING 'backup_id']]
 * MERGE KEYSTORE 'l1' [IDENTIFIED BY p1] AND KEYSTORE 'l2' [IDENTIFIED BY p2]
 *		INTO NEW KEYSTORE 'l3' IDENTIFIED BY p3
 * MERGE KEYSTORE 'l1' [IDENTIFIED BY p1] INTO EXISTING KEYSTORE 'l2'
 *		IDENTIFIED BY {p2 | EXTERNAL STORE} [WITH BACKUP [USING 'backup_id']]
 * MOVE [ENCRYPTION] KEYS TO NEW KEYSTORE 'location' IDENTIFIED BY p1
 *		FROM [FORCE] KEYSTORE IDENTIFIED BY {p | EXTERNAL STORE}
 *		[WITH IDENTIFIER IN {'key_id' [, 'key_id' ...] | (subquery)}]
 *		[WITH BACKUP [USING 'backup_id']]
 *
 * A source without IDENTIFIED BY is an auto-login keystore.  The secret is double-quoted, or a bare word if it has no white space,
 * as a password is.  The subquery is the text between the parentheses,
 * taken as it is written (the parentheses inside it balanced, outside
 * quotes): PostgreSQL's SQL, run later with the caller's rights
 * (sql/administer.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "tde/sql/grammar.h"
#include "tde/sql/parse_transfer.h"

/* WITH SECRET secret: double-quoted, bare, or single-quoted as a client secret */
static void
with_secret(TdeParser *p, TdeStatement *stmt)
{
	tde_gram_expect(p, "WITH");
	tde_gram_expect(p, "SECRET");
	if (tde_gram_peek(p)->kind == TDE_TOK_SQUOTED)
	{
		p->secret_seen = true;
		stmt->secret = tde_gram_single_quoted(p, "the secret");
	}
	else
		stmt->secret = tde_gram_password(p);
}

/* [ENCRYPTION] KEYS */
static void
keys_word(TdeParser *p)
{
	(void) tde_gram_accept(p, "ENCRYPTION");
	tde_gram_expect(p, "KEYS");
}

/* The text of a parenthesised subquery; the "(" has been read. */
static char *
subquery(TdeParser *p)
{
	int			open = p->cur - 1;
	int			depth = 1;
	int			i;

	for (i = p->cur; p->toks[i].kind != TDE_TOK_END; i++)
	{
		TdeToken   *t = &p->toks[i];

		CHECK_FOR_INTERRUPTS();
		if (t->kind != TDE_TOK_PUNCT)
			continue;
		if (t->text[0] == '(')
			depth++;
		else if (t->text[0] == ')' && --depth == 0)
			break;
	}
	if (p->toks[i].kind == TDE_TOK_END)
		tde_gram_syntax_error_at(p, i, "\")\" closing the subquery");
	if (i == p->cur)
		tde_gram_syntax_error_at(p, i, "a subquery");
	p->cur = i + 1;
	return pnstrdup(p->src + p->toks[open].off + 1,
					p->toks[i].off - p->toks[open].off - 1);
}

/* IN {'key_id' [, 'key_id' ...] | (subquery)} */
static void
key_identifiers(TdeParser *p, TdeStatement *stmt)
{
	int			max = 8;

	tde_gram_expect(p, "IN");
	if (tde_gram_accept_punct(p, '('))
	{
		stmt->key_query = subquery(p);
		return;
	}
	stmt->key_ids = palloc(sizeof(char *) * max);
	do
	{
		if (stmt->nkey_ids == max)
		{
			max *= 2;
			stmt->key_ids = repalloc(stmt->key_ids, sizeof(char *) * max);
		}
		stmt->key_ids[stmt->nkey_ids++] =
			tde_gram_single_quoted(p, "a key identifier");
	} while (tde_gram_accept_punct(p, ','));
}

TdeStatement *
tde_parse_export(TdeParser *p, TdeStatement *stmt)
{
	stmt->kind = TDE_STMT_EXPORT_KEYS;
	stmt->feature = "EXPORT KEYS";
	keys_word(p);
	with_secret(p, stmt);
	tde_gram_expect(p, "TO");
	stmt->location = tde_gram_single_quoted(p, "the export file's path");
	tde_gram_force_keystore(p, stmt);
	tde_gram_identified_by(p, stmt);
	if (tde_gram_accept(p, "WITH"))
	{
		tde_gram_expect(p, "IDENTIFIER");
		key_identifiers(p, stmt);
	}
	return stmt;
}

TdeStatement *
tde_parse_import(TdeParser *p, TdeStatement *stmt)
{
	stmt->kind = TDE_STMT_IMPORT_KEYS;
	stmt->feature = "IMPORT KEYS";
	keys_word(p);
	with_secret(p, stmt);
	tde_gram_expect(p, "FROM");
	stmt->location = tde_gram_single_quoted(p, "the export file's path");
	tde_gram_force_keystore(p, stmt);
	tde_gram_identified_by(p, stmt);
	tde_gram_with_backup(p, stmt);
	return stmt;
}

/* KEYSTORE 'location' [IDENTIFIED BY password]: a source of MERGE */
static void
merge_source(TdeParser *p, TdeStatement *stmt)
{
	int			i = stmt->nmerge_from++;

	tde_gram_expect(p, "KEYSTORE");
	stmt->merge_from[i] = tde_gram_single_quoted(p, "a keystore location");
	if (tde_gram_accept(p, "IDENTIFIED"))
	{
		tde_gram_expect(p, "BY");
		stmt->merge_from_password[i] = tde_gram_password(p);
	}
}

TdeStatement *
tde_parse_merge(TdeParser *p, TdeStatement *stmt)
{
	stmt->kind = TDE_STMT_MERGE;
	stmt->feature = "MERGE KEYSTORE";
	merge_source(p, stmt);
	if (tde_gram_accept(p, "AND"))
		merge_source(p, stmt);
	tde_gram_expect(p, "INTO");
	if (stmt->nmerge_from == 2)
	{
		tde_gram_expect(p, "NEW");
		stmt->merge_into_new = true;
	}
	else if (tde_gram_accept(p, "NEW"))
		tde_gram_syntax_error_detail(p, p->cur - 1,
									 "Merging into a new keystore takes two keystores: MERGE KEYSTORE '...' AND KEYSTORE '...' INTO NEW KEYSTORE.");
	else
		tde_gram_expect(p, "EXISTING");
	tde_gram_expect(p, "KEYSTORE");
	stmt->location = tde_gram_single_quoted(p, "a keystore location");
	tde_gram_identified_by(p, stmt);
	if (!stmt->merge_into_new)
		tde_gram_with_backup(p, stmt);
	return stmt;
}

TdeStatement *
tde_parse_move(TdeParser *p, TdeStatement *stmt)
{
	stmt->kind = TDE_STMT_MOVE_KEYS;
	stmt->feature = "MOVE KEYS";
	keys_word(p);
	tde_gram_expect(p, "TO");
	tde_gram_expect(p, "NEW");
	tde_gram_expect(p, "KEYSTORE");
	stmt->location = tde_gram_single_quoted(p, "a keystore location");
	/* from here on a stray word may be a password */
	p->secret_seen = true;
	tde_gram_expect(p, "IDENTIFIED");
	tde_gram_expect(p, "BY");
	stmt->new_password = tde_gram_password(p);
	tde_gram_expect(p, "FROM");
	stmt->force_keystore = tde_gram_accept(p, "FORCE");
	tde_gram_expect(p, "KEYSTORE");
	tde_gram_identified_by(p, stmt);
	/* WITH IDENTIFIER IN ... and WITH BACKUP share their first word */
	if (tde_gram_peek_word(p, "WITH") && tde_gram_peek_second_word(p, "IDENTIFIER"))
	{
		p->cur += 2;
		key_identifiers(p, stmt);
	}
	tde_gram_with_backup(p, stmt);
	return stmt;
}
