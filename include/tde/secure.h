/*-------------------------------------------------------------------------
 *
 * secure.h
 *	  Memory for secrets: passwords and key bytes.
 *
 * A secure chunk is palloc'd in the current memory context and registers a
 * reset callback that wipes it when the context is reset or deleted, so a
 * secret is wiped on every path, errors included, without PG_TRY blocks at
 * every caller.  Secure chunks are never pfree'd individually.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_SECURE_H
#define TDE_SECURE_H

extern void *tde_secure_alloc(Size size);
extern char *tde_secure_text_to_cstring(const text *t);
extern void tde_wipe(void *p, Size len);

#endif							/* TDE_SECURE_H */
