/*-------------------------------------------------------------------------
 *
 * statement.h
 *	  An ADMINISTER KEY MANAGEMENT statement, parsed (header only).
 *
 * sql/parser.c and the grammar units fill it in; sql/administer.c runs
 * it.  Passwords and secrets are in secure memory (util/secure.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_SQL_STATEMENT_H
#define TDE_SQL_STATEMENT_H

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
	TDE_STMT_EXPORT_KEYS,
	TDE_STMT_IMPORT_KEYS,
	TDE_STMT_MERGE,				/* MERGE KEYSTORE ... INTO {NEW | EXISTING} KEYSTORE */
	TDE_STMT_MOVE_KEYS,			/* MOVE KEYS TO NEW KEYSTORE 'location' IDENTIFIED BY new_password */
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
	/* EXPORT, MOVE: WITH IDENTIFIER IN 'id', ... (key_ids) or (subquery) */
	char	  **key_ids;
	int			nkey_ids;
	char	   *key_query;		/* the subquery's text, without parentheses */
	/* MERGE: the sources; the target is location, identified by cred */
	char	   *merge_from[2];
	char	   *merge_from_password[2];	/* NULL: an auto-login source */
	int			nmerge_from;
	bool		merge_into_new;
} TdeStatement;

#endif							/* TDE_SQL_STATEMENT_H */
