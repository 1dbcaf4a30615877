/*-------------------------------------------------------------------------
 *
 * opmem.h
 *	  A memory context per operation: key sets, key records and view rows
 *	  are built in it, and it is deleted at a known point.
 *
 * tde_opmem_begin creates a child context, named after the operation, of
 * the parent the caller names (NULL: CurrentMemoryContext) and switches to
 * it; tde_opmem_end switches back to the context that was current at begin
 * (if the operation's context is still the current one) and deletes it.
 * Secrets inside it come from tde_secure_alloc (util/secure.h), whose
 * blocks are wiped by a reset callback when the context goes away; palloc'd
 * bookkeeping goes with it.  Whatever must outlive the operation is
 * allocated in op->caller (or copied there) before the end.
 *
 * Invariant, for the error path: the parent is a context of the current
 * statement or transaction (MessageContext, a portal's context, an
 * executor or expression context, TopTransactionContext or one of its
 * children), so an error between begin and end deletes the operation's
 * context, and wipes its secrets, when the transaction aborts or, at the
 * latest, before the backend reads its next command.  tde_opmem_begin
 * checks this inside a transaction and refuses (elog ERROR) a parent that
 * lives longer, such as TopMemoryContext or CacheMemoryContext, where a
 * failed operation would leave its context behind.  Outside a transaction
 * (the postmaster, a background worker between transactions) any parent is
 * accepted: there an error ends the process or the caller cleans up.
 * An error caught by a PG_CATCH that carries on leaves the context (wiped
 * or not yet) until its parent goes, at the latest at the end of the
 * statement; the catcher restores CurrentMemoryContext, as it must anyway.
 *
 * The name must be a string constant (it is not copied); every name starts
 * with "tde ", and every such context has the identifier TDE_OPMEM_IDENT,
 * so that pg_backend_memory_contexts (ident = 'tde operation') shows any
 * left behind.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TDE_UTIL_OPMEM_H
#define TDE_UTIL_OPMEM_H

#define TDE_OPMEM_IDENT "tde operation"

typedef struct TdeOpMem
{
	MemoryContext context;		/* the operation's, NULL once ended */
	MemoryContext caller;		/* current at begin, current again at end */
} TdeOpMem;

extern void tde_opmem_begin(TdeOpMem *op, const char *name, MemoryContext parent);
extern void tde_opmem_end(TdeOpMem *op);

#endif							/* TDE_UTIL_OPMEM_H */
