/*-------------------------------------------------------------------------
 *
 * parser.h
 *	  Oracle's ADMINISTER KEY MANAGEMENT statements, parsed.
 *
 * The parser turns a statement into a TdeStatement; it runs nothing.
 * Passwords and secrets are copied into secure memory (secure.h) and never
 * appear in an error message.  Parsing is linear in the statement's length,
 * which is bounded by TDE_STATEMENT_MAX_BYTES, and can be cancelled.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_PARSER_H
#define TDE_PARSER_H

#include "tde/keystore/seps.h"

typedef enum TdeStmtKind
{
	TDE_STMT_CREATE_KEYSTORE,
	TDE_STMT_CREATE_AUTOLOGIN,
	TDE_STMT_OPEN,
	TDE_STMT_CLOSE,
	TDE_STMT_ALTER_PASSWORD,
	TDE_STMT_BACKUP,
	TDE_STMT_ADD_SECRET,
	TDE_STMT_UPDATE_SECRET,
	TDE_STMT_DELETE_SECRET,
	TDE_STMT_SET_KEY,
	TDE_STMT_CREATE_KEY,
	TDE_STMT_USE_KEY,
	TDE_STMT_SET_TAG,
	TDE_STMT_MIGRATE,			/* SET KEY ... MIGRATE USING wallet_password */
	TDE_STMT_REVERSE_MIGRATE,	/* SET KEY ... REVERSE MIGRATE USING hsm_credential */
	TDE_STMT_UNSUPPORTED		/* a statement of a later version */
} TdeStmtKind;

typedef struct TdeStatement
{
	TdeStmtKind kind;
	const char *feature;		/* the statement's name, e.g. "SET KEY" */
	bool		has_cred;		/* IDENTIFIED BY was given */
	TdeCredential cred;
	char	   *new_password;	/* ALTER KEYSTORE PASSWORD ... SET new */
	bool		force_keystore;
	bool		with_backup;
	char	   *backup_id;		/* WITH BACKUP USING 'id', BACKUP ... USING 'id' */
	char	   *location;		/* 'location' or TO 'location' */
	bool		local;			/* LOCAL AUTO_LOGIN */
	char	   *secret;
	char	   *client;
	char	   *tag;
	char	   *user_key;		/* SET/CREATE KEY 'mkid:mk' | 'mk' */
	char	   *algorithm;		/* USING ALGORITHM 'alg' */
	char	   *key_id;			/* USE KEY 'key_id', SET TAG ... FOR 'key_id' */
	char	   *migrate_password;	/* [REVERSE] MIGRATE USING password */
} TdeStatement;

/*
 * The longest statement, in bytes of the server encoding.  The longest one
 * Oracle's grammar can need is a MOVE or EXPORT KEYS ... WITH IDENTIFIER IN
 * naming every key of a full keystore (512 quoted 52-character KEY_IDs with
 * commas: 28.7 kB) with its two passwords or secrets, its path and its
 * backup identifier at their limits, every quote doubled (6.4 kB): about
 * 35 kB.  64 kB leaves room for any layout, and parsing it takes about a
 * millisecond.
 */
#define TDE_STATEMENT_MAX_BYTES 65536

/* 54000 if a statement of len bytes is over the limit; never shows it. */
extern void tde_check_statement_length(Size len);

extern TdeStatement *tde_parse_statement(const char *text);

#endif							/* TDE_PARSER_H */
