/*-------------------------------------------------------------------------
 *
 * parser.h
 *	  Oracle's ADMINISTER KEY MANAGEMENT statements, parsed.
 *
 * The parser turns a statement into a TdeStatement; it runs nothing.
 * Passwords and secrets are copied into secure memory (secure.h) and never
 * appear in an error message.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_PARSER_H
#define TDE_PARSER_H

#include "tde/keystore.h"

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

extern TdeStatement *tde_parse_statement(const char *text);

#endif							/* TDE_PARSER_H */
