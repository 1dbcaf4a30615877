/*-------------------------------------------------------------------------
 *
 * secure.c
 *	  Memory for secrets that is wiped when its memory context goes away.
 *
 * See secure.h.  The callback and the secret share one palloc chunk, so the
 * callback is always valid when the context resets it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/memutils.h"

#include "tde/secure.h"
#include "tde/tde.h"

typedef struct SecureChunk
{
	MemoryContextCallback cb;
	Size		size;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} SecureChunk;

static void
secure_chunk_wipe(void *arg)
{
	SecureChunk *chunk = (SecureChunk *) arg;

	explicit_bzero(chunk->data, chunk->size);
}

void *
tde_secure_alloc(Size size)
{
	SecureChunk *chunk;

	chunk = palloc0(offsetof(SecureChunk, data) + size);
	chunk->size = size;
	chunk->cb.func = secure_chunk_wipe;
	chunk->cb.arg = chunk;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &chunk->cb);
	return chunk->data;
}

char *
tde_secure_text_to_cstring(const text *t)
{
	text	   *detoasted = pg_detoast_datum_packed((text *) t);
	Size		len = VARSIZE_ANY_EXHDR(detoasted);
	char	   *copy = tde_secure_alloc(len + 1);

	memcpy(copy, VARDATA_ANY(detoasted), len);
	copy[len] = '\0';
	/* a secret arrived: keep it and this statement out of the log */
	tde_redact_secret(copy);
	if (detoasted != t)
	{
		explicit_bzero(VARDATA_ANY(detoasted), len);
		pfree(detoasted);
	}
	return copy;
}

void
tde_wipe(void *p, Size len)
{
	if (p != NULL)
		explicit_bzero(p, len);
}
