/*-------------------------------------------------------------------------
 *
 * redact.h
 *	  Keeping secrets out of the server log (see redact.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_SQL_REDACT_H
#define TDE_SQL_REDACT_H

extern void tde_install_log_redaction(void);
extern void tde_mark_statement_sensitive(void);
/* a secret the running statement carries: no message may show it */
extern void tde_redact_secret(const char *secret);

#endif							/* TDE_SQL_REDACT_H */
