/*-------------------------------------------------------------------------
 *
 * memory.c
 *	  Memory contexts for the fuzz harnesses, on malloc.
 *
 * The harnesses run tde's own units outside the server, so palloc and the
 * memory contexts are provided here.  Every chunk is a malloc block of its
 * own, so AddressSanitizer sees its exact bounds (a read past a palloc'd
 * string is a report, not a read of the next chunk as in aset.c) and a
 * chunk used after its context is deleted is a use-after-free.
 *
 * The semantics kept are the ones tde relies on: a chunk belongs to the
 * context current at allocation; deleting or resetting a context frees its
 * chunks and its children's and runs its reset callbacks first (as
 * mcxt.c does); pfree and repalloc find the context through the pointer
 * stored just before the chunk (GetMemoryChunkContext's layout); sizes
 * over MaxAllocSize are an elog(ERROR), as in the server.
 *
 * tde_secure_alloc (util/secure.c) is replaced here: the real one carves
 * blocks from an mmap'd arena, inside which ASan cannot see a block's end.
 * Here a secure block is a chunk of the current context marked secure,
 * zeroed, wiped when its context goes, as the real one is; pfree or
 * repalloc of it (never allowed, see secure.h) aborts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/memnodes.h"
#include "utils/memutils.h"

#include "fuzz_backend.h"

#define CHUNK_MAGIC		0x7de0c4a1
#define CHUNK_SECURE	0x1

/*
 * A chunk's header.  The context pointer must be the last field, right
 * before the chunk (GetMemoryChunkContext reads it there); the padding
 * keeps the chunk MAXALIGNed.
 */
typedef struct FuzzChunk
{
	struct FuzzChunk *prev;
	struct FuzzChunk *next;
	Size		size;
	uint32		magic;
	uint32		flags;
	MemoryContext context;
} FuzzChunk;

typedef struct FuzzContext
{
	MemoryContextData hdr;
	FuzzChunk  *chunks;
} FuzzContext;

MemoryContext CurrentMemoryContext = NULL;
MemoryContext TopMemoryContext = NULL;
MemoryContext ErrorContext = NULL;
MemoryContext CacheMemoryContext = NULL;
MemoryContext MessageContext = NULL;
MemoryContext TopTransactionContext = NULL;
MemoryContext CurTransactionContext = NULL;
MemoryContext PortalContext = NULL;
MemoryContext PostmasterContext = NULL;

static FuzzChunk *
chunk_of(const void *pointer)
{
	FuzzChunk  *c = (FuzzChunk *) ((char *) pointer - sizeof(FuzzChunk));

	if (c->magic != CHUNK_MAGIC)
		tde_fuzz_fail("pfree/repalloc of a pointer that is not a palloc'd chunk");
	return c;
}

static void *
chunk_alloc(MemoryContext context, Size size, int flags, uint32 chunkflags)
{
	FuzzContext *cxt = (FuzzContext *) context;
	FuzzChunk  *c;

	if (context == NULL || !MemoryContextIsValid(context))
		tde_fuzz_fail("palloc in an invalid memory context");
	if (!((flags & MCXT_ALLOC_HUGE) ? AllocHugeSizeIsValid(size) :
		  AllocSizeIsValid(size)))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	c = malloc(sizeof(FuzzChunk) + size);
	if (c == NULL)
	{
		if (flags & MCXT_ALLOC_NO_OOM)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	c->size = size;
	c->magic = CHUNK_MAGIC;
	c->flags = chunkflags;
	c->context = context;
	c->prev = NULL;
	c->next = cxt->chunks;
	if (cxt->chunks)
		cxt->chunks->prev = c;
	cxt->chunks = c;
	context->isReset = false;
	context->mem_allocated += size;
	if (flags & MCXT_ALLOC_ZERO)
		memset(c + 1, 0, size);
	return c + 1;
}

static void
chunk_unlink(FuzzChunk *c)
{
	FuzzContext *cxt = (FuzzContext *) c->context;

	if (c->prev)
		c->prev->next = c->next;
	else
		cxt->chunks = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->context->mem_allocated -= c->size;
}

static void
chunk_free(FuzzChunk *c)
{
	chunk_unlink(c);
	/* a secure block is wiped when its context goes, as in secure.c */
	if (c->flags & CHUNK_SECURE)
		explicit_bzero(c + 1, c->size);
	c->magic = 0;
	free(c);
}

/* ---------------------------------------------------------------------
 * Contexts
 * ---------------------------------------------------------------------
 */

MemoryContext
AllocSetContextCreateInternal(MemoryContext parent, const char *name,
							  Size minContextSize, Size initBlockSize,
							  Size maxBlockSize)
{
	FuzzContext *cxt = calloc(1, sizeof(FuzzContext));
	MemoryContext node = &cxt->hdr;

	if (cxt == NULL)
		tde_fuzz_fail("out of memory creating a memory context");
	node->type = T_AllocSetContext;
	node->isReset = true;
	node->name = name;
	node->parent = parent;
	if (parent)
	{
		node->nextchild = parent->firstchild;
		if (parent->firstchild)
			parent->firstchild->prevchild = node;
		parent->firstchild = node;
	}
	return node;
}

void
MemoryContextSetIdentifier(MemoryContext context, const char *id)
{
	context->ident = id;
}

MemoryContext
MemoryContextGetParent(MemoryContext context)
{
	return context->parent;
}

void
MemoryContextSetParent(MemoryContext context, MemoryContext new_parent)
{
	MemoryContext parent = context->parent;

	if (parent == new_parent)
		return;
	if (parent)
	{
		if (context->prevchild)
			context->prevchild->nextchild = context->nextchild;
		else
			parent->firstchild = context->nextchild;
		if (context->nextchild)
			context->nextchild->prevchild = context->prevchild;
	}
	context->parent = new_parent;
	context->prevchild = NULL;
	context->nextchild = NULL;
	if (new_parent)
	{
		context->nextchild = new_parent->firstchild;
		if (new_parent->firstchild)
			new_parent->firstchild->prevchild = context;
		new_parent->firstchild = context;
	}
}

void
MemoryContextRegisterResetCallback(MemoryContext context,
								   MemoryContextCallback *cb)
{
	cb->next = context->reset_cbs;
	context->reset_cbs = cb;
	context->isReset = false;
}

/* As mcxt.c: each callback is unlinked before it runs. */
static void
call_reset_callbacks(MemoryContext context)
{
	MemoryContextCallback *cb;

	while ((cb = context->reset_cbs) != NULL)
	{
		context->reset_cbs = cb->next;
		cb->func(cb->arg);
	}
}

static void
free_chunks(MemoryContext context)
{
	FuzzContext *cxt = (FuzzContext *) context;

	while (cxt->chunks)
		chunk_free(cxt->chunks);
	context->isReset = true;
}

void
MemoryContextDeleteChildren(MemoryContext context)
{
	while (context->firstchild != NULL)
		MemoryContextDelete(context->firstchild);
}

void
MemoryContextDelete(MemoryContext context)
{
	if (context == NULL || !MemoryContextIsValid(context))
		tde_fuzz_fail("MemoryContextDelete of an invalid context");
	/* mcxt.c asserts both: a dangling CurrentMemoryContext is a bug */
	if (context == TopMemoryContext)
		tde_fuzz_fail("MemoryContextDelete(TopMemoryContext)");
	if (context == CurrentMemoryContext)
		tde_fuzz_fail("MemoryContextDelete of CurrentMemoryContext \"%s\"",
					  context->name);
	MemoryContextDeleteChildren(context);
	call_reset_callbacks(context);
	MemoryContextSetParent(context, NULL);
	free_chunks(context);
	context->type = T_Invalid;
	free(context);
}

void
MemoryContextResetOnly(MemoryContext context)
{
	call_reset_callbacks(context);
	free_chunks(context);
}

void
MemoryContextReset(MemoryContext context)
{
	MemoryContextDeleteChildren(context);
	MemoryContextResetOnly(context);
}

bool
MemoryContextIsEmpty(MemoryContext context)
{
	return ((FuzzContext *) context)->chunks == NULL &&
		context->firstchild == NULL;
}

Size
MemoryContextMemAllocated(MemoryContext context, bool recurse)
{
	Size		total = context->mem_allocated;
	MemoryContext child;

	if (recurse)
		for (child = context->firstchild; child; child = child->nextchild)
			total += MemoryContextMemAllocated(child, true);
	return total;
}

/* ---------------------------------------------------------------------
 * Chunks
 * ---------------------------------------------------------------------
 */

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	return chunk_alloc(context, size, 0, 0);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	return chunk_alloc(context, size, MCXT_ALLOC_ZERO, 0);
}

void *
MemoryContextAllocZeroAligned(MemoryContext context, Size size)
{
	return chunk_alloc(context, size, MCXT_ALLOC_ZERO, 0);
}

void *
MemoryContextAllocExtended(MemoryContext context, Size size, int flags)
{
	return chunk_alloc(context, size, flags, 0);
}

void *
MemoryContextAllocHuge(MemoryContext context, Size size)
{
	return chunk_alloc(context, size, MCXT_ALLOC_HUGE, 0);
}

void *
palloc(Size size)
{
	return chunk_alloc(CurrentMemoryContext, size, 0, 0);
}

void *
palloc0(Size size)
{
	return chunk_alloc(CurrentMemoryContext, size, MCXT_ALLOC_ZERO, 0);
}

void *
palloc_extended(Size size, int flags)
{
	return chunk_alloc(CurrentMemoryContext, size, flags, 0);
}

void
pfree(void *pointer)
{
	FuzzChunk  *c = chunk_of(pointer);

	if (c->flags & CHUNK_SECURE)
		tde_fuzz_fail("pfree of a secure chunk (secure.h forbids it)");
	chunk_free(c);
}

static void *
realloc_chunk(void *pointer, Size size, int flags)
{
	FuzzChunk  *c = chunk_of(pointer);
	MemoryContext context = c->context;
	void	   *n;

	if (c->flags & CHUNK_SECURE)
		tde_fuzz_fail("repalloc of a secure chunk (secure.h forbids it)");
	/* a new block every time, so a stale pointer to the old one is caught */
	n = chunk_alloc(context, size, flags, 0);
	memcpy(n, pointer, Min(size, c->size));
	chunk_free(c);
	return n;
}

void *
repalloc(void *pointer, Size size)
{
	return realloc_chunk(pointer, size, 0);
}

void *
repalloc_huge(void *pointer, Size size)
{
	return realloc_chunk(pointer, size, MCXT_ALLOC_HUGE);
}

Size
GetMemoryChunkSpace(void *pointer)
{
	return chunk_of(pointer)->size + sizeof(FuzzChunk);
}

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	Size		len = strlen(string) + 1;
	char	   *s = MemoryContextAlloc(context, len);

	memcpy(s, string, len);
	return s;
}

char *
pstrdup(const char *in)
{
	return MemoryContextStrdup(CurrentMemoryContext, in);
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

/* ---------------------------------------------------------------------
 * Secure memory (replaces util/secure.c, see the file header)
 * ---------------------------------------------------------------------
 */

void *
tde_secure_alloc(Size size)
{
	return chunk_alloc(CurrentMemoryContext, size, MCXT_ALLOC_ZERO,
					   CHUNK_SECURE);
}

void
tde_wipe(void *p, Size len)
{
	explicit_bzero(p, len);
}

char *
tde_secure_text_to_cstring(const text *t)
{
	Size		len = VARSIZE_ANY_EXHDR(t);
	char	   *s = tde_secure_alloc(len + 1);

	memcpy(s, VARDATA_ANY(t), len);
	return s;
}

/* ---------------------------------------------------------------------
 * Start-up
 * ---------------------------------------------------------------------
 */

void
tde_fuzz_memory_init(void)
{
	TopMemoryContext = AllocSetContextCreateInternal(NULL, "TopMemoryContext",
													 ALLOCSET_DEFAULT_SIZES);
	ErrorContext = AllocSetContextCreateInternal(TopMemoryContext, "ErrorContext",
												 ALLOCSET_DEFAULT_SIZES);
	CacheMemoryContext = AllocSetContextCreateInternal(TopMemoryContext,
													   "CacheMemoryContext",
													   ALLOCSET_DEFAULT_SIZES);
	CurrentMemoryContext = TopMemoryContext;
}
