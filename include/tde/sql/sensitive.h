/*-------------------------------------------------------------------------
 *
 * sensitive.h
 *	  Does a statement's text manage keys?  See sql/sensitive.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_SQL_SENSITIVE_H
#define TDE_SQL_SENSITIVE_H

#include "commands/prepare.h"

/* s names a key-management word (s NULL: false) */
extern bool tde_text_is_sensitive(const char *s);

/* call fn for each prepared statement s EXECUTEs by name */
extern void tde_for_each_executed(const char *s,
								  void (*fn) (PreparedStatement *ps));

#endif							/* TDE_SQL_SENSITIVE_H */
