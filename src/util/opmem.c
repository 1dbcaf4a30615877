/*-------------------------------------------------------------------------
 *
 * opmem.c
 *	  A memory context per operation, deleted at a known point.  See
 *	  util/opmem.h.
 *
 * The context is an AllocSet child of the parent the caller names.  Its
 * secrets are secure chunks (util/secure.c), wiped by their reset
 * callbacks when tde_opmem_end deletes it, or when its parent goes away on
 * an error.  For that second path the parent must be a context that an
 * abort or the next command deletes: begin checks that inside a
 * transaction, by walking up from the parent to a context known to be
 * statement- or transaction-scoped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"

#include "tde/util/opmem.h"

/* Is cxt ancestor itself or one of its descendants? */
static bool
context_within(MemoryContext cxt, MemoryContext ancestor)
{
	for (; cxt != NULL; cxt = cxt->parent)
		if (cxt == ancestor)
			return true;
	return false;
}

/*
 * Will an abort, or the backend's next command, delete this context?  The
 * contexts of a statement and of a transaction all hang below one of
 * these: TopTransactionContext, MessageContext, or the portals' parent
 * (static in portalmem.c, so known by its name; PortalContext, the running
 * portal's, is below it).  TopMemoryContext, CacheMemoryContext and the
 * like are not.
 */
static bool
short_lived(MemoryContext cxt)
{
	for (; cxt != NULL; cxt = cxt->parent)
		if (cxt == TopTransactionContext || cxt == MessageContext ||
			cxt == PortalContext ||
			(cxt->parent == TopMemoryContext &&
			 strcmp(cxt->name, "TopPortalContext") == 0))
			return true;
	return false;
}

void
tde_opmem_begin(TdeOpMem *op, const char *name, MemoryContext parent)
{
	if (parent == NULL)
		parent = CurrentMemoryContext;
	if (IsTransactionState() && !short_lived(parent))
		elog(ERROR, "operation context \"%s\" would outlive its transaction: parent \"%s\"",
			 name, parent->name);
	op->caller = CurrentMemoryContext;
	/* name is a constant, as AllocSetContextCreate asks */
	op->context = AllocSetContextCreateInternal(parent, name,
												ALLOCSET_DEFAULT_SIZES);
	/* pg_backend_memory_contexts shows it as one: ident "tde operation" */
	MemoryContextSetIdentifier(op->context, TDE_OPMEM_IDENT);
	MemoryContextSwitchTo(op->context);
}

void
tde_opmem_end(TdeOpMem *op)
{
	if (op->context == NULL)
		return;
	if (context_within(CurrentMemoryContext, op->context))
		MemoryContextSwitchTo(op->caller);
	/* the reset callbacks of its secure chunks wipe them */
	MemoryContextDelete(op->context);
	op->context = NULL;
}
