/*-------------------------------------------------------------------------
 *
 * errors.c
 *	  ereport and elog for the fuzz harnesses.
 *
 * The ereport macros of elog.h call errstart, the err* functions and
 * errfinish; those are provided here.  Every message is formatted, at every
 * level, so that a bad argument (a dangling string, a wrong conversion) is
 * seen by the sanitizers even where the server would filter the message
 * out.  errfinish runs the error context callbacks as the server does; at
 * ERROR it jumps to the innermost PG_TRY through PG_exception_stack, with
 * the error left on the stack for CopyErrorData, geterrcode and
 * FlushErrorState, as elog.c leaves it.  FATAL and PANIC abort (a finding),
 * and so does an ERROR with no PG_TRY to catch it.
 *
 * The messages live in ErrorContext, reset by FlushErrorState.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>

#include "utils/memutils.h"

#include "fuzz_backend.h"

#define ERRORDATA_STACK_SIZE 5

ErrorContextCallback *error_context_stack = NULL;
sigjmp_buf *PG_exception_stack = NULL;
emit_log_hook_type emit_log_hook = NULL;

static ErrorData errordata[ERRORDATA_STACK_SIZE];
static int	errordata_stack_depth = -1;

static ErrorData *
top(void)
{
	if (errordata_stack_depth < 0)
		tde_fuzz_fail("err* called outside an ereport");
	return &errordata[errordata_stack_depth];
}

/* A message formatted into ErrorContext, %m naming the saved errno. */
static char *
format_va(ErrorData *edata, const char *fmt, va_list args)
{
	MemoryContext old = MemoryContextSwitchTo(ErrorContext);
	size_t		len = 128;
	char	   *buf;

	for (;;)
	{
		va_list		copy;
		size_t		need;

		buf = palloc(len);
		va_copy(copy, args);
		errno = edata->saved_errno;
		need = pvsnprintf(buf, len, fmt, copy);
		va_end(copy);
		if (need < len)
			break;
		pfree(buf);
		len = need + 1;
	}
	MemoryContextSwitchTo(old);
	return buf;
}

#define SET_FIELD(field) \
	do { \
		ErrorData  *edata_ = top(); \
		va_list		args_; \
		va_start(args_, fmt); \
		edata_->field = format_va(edata_, fmt, args_); \
		va_end(args_); \
	} while (0)

bool
errstart(int elevel, const char *domain)
{
	ErrorData  *edata;

	if (++errordata_stack_depth >= ERRORDATA_STACK_SIZE)
		tde_fuzz_fail("ERRORDATA_STACK_SIZE exceeded: errors inside error reports");
	edata = &errordata[errordata_stack_depth];
	memset(edata, 0, sizeof(*edata));
	edata->elevel = elevel;
	edata->domain = domain;
	edata->saved_errno = errno;
	edata->assoc_context = ErrorContext;
	if (elevel >= ERROR)
		edata->sqlerrcode = ERRCODE_INTERNAL_ERROR;
	else if (elevel >= WARNING)
		edata->sqlerrcode = ERRCODE_WARNING;
	else
		edata->sqlerrcode = ERRCODE_SUCCESSFUL_COMPLETION;
	/* always true: every message is formatted (see the file header) */
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	ErrorData  *edata = top();
	ErrorContextCallback *econtext;

	edata->filename = filename;
	edata->lineno = lineno;
	edata->funcname = funcname;
	for (econtext = error_context_stack; econtext; econtext = econtext->previous)
		econtext->callback(econtext->arg);

	if (edata->elevel >= FATAL)
		tde_fuzz_fail("%s at %s:%d: %s",
					  edata->elevel == FATAL ? "FATAL" : "PANIC",
					  filename, lineno, edata->message ? edata->message : "");
	if (edata->elevel >= ERROR)
		pg_re_throw();

	if (emit_log_hook)
		emit_log_hook(edata);
	if (getenv("TDE_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz: elevel %d at %s:%d: %s\n", edata->elevel,
				filename, lineno, edata->message ? edata->message : "");
	errordata_stack_depth--;
}

void
pg_re_throw(void)
{
	if (PG_exception_stack == NULL)
		tde_fuzz_fail("ERROR with no PG_TRY to catch it");
	siglongjmp(*PG_exception_stack, 1);
}

int
errcode(int sqlerrcode)
{
	top()->sqlerrcode = sqlerrcode;
	return 0;
}

/* As elog.c maps errno to a SQLSTATE */
int
errcode_for_file_access(void)
{
	ErrorData  *edata = top();

	switch (edata->saved_errno)
	{
		case EPERM:
		case EACCES:
#ifdef EROFS
		case EROFS:
#endif
			edata->sqlerrcode = ERRCODE_INSUFFICIENT_PRIVILEGE;
			break;
		case ENOENT:
			edata->sqlerrcode = ERRCODE_UNDEFINED_FILE;
			break;
		case EEXIST:
			edata->sqlerrcode = ERRCODE_DUPLICATE_FILE;
			break;
		case ENOTDIR:
		case EISDIR:
		case ENOTEMPTY:
			edata->sqlerrcode = ERRCODE_WRONG_OBJECT_TYPE;
			break;
		case ENOSPC:
			edata->sqlerrcode = ERRCODE_DISK_FULL;
			break;
		case ENFILE:
		case EMFILE:
			edata->sqlerrcode = ERRCODE_INSUFFICIENT_RESOURCES;
			break;
		case EIO:
			edata->sqlerrcode = ERRCODE_IO_ERROR;
			break;
		default:
			edata->sqlerrcode = ERRCODE_INTERNAL_ERROR;
			break;
	}
	return 0;
}

int
errmsg(const char *fmt,...)
{
	SET_FIELD(message);
	top()->message_id = fmt;
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	SET_FIELD(message);
	top()->message_id = fmt;
	return 0;
}

int
errdetail(const char *fmt,...)
{
	SET_FIELD(detail);
	return 0;
}

int
errdetail_internal(const char *fmt,...)
{
	SET_FIELD(detail);
	return 0;
}

int
errdetail_log(const char *fmt,...)
{
	SET_FIELD(detail_log);
	return 0;
}

int
errhint(const char *fmt,...)
{
	SET_FIELD(hint);
	return 0;
}

/* Context lines are appended, one per callback, as elog.c does. */
int
errcontext_msg(const char *fmt,...)
{
	ErrorData  *edata = top();
	char	   *old = edata->context;
	va_list		args;

	va_start(args, fmt);
	edata->context = format_va(edata, fmt, args);
	va_end(args);
	if (old)
	{
		MemoryContext cxt = MemoryContextSwitchTo(ErrorContext);
		char	   *both = psprintf("%s\n%s", old, edata->context);

		MemoryContextSwitchTo(cxt);
		edata->context = both;
	}
	return 0;
}

int
set_errcontext_domain(const char *domain)
{
	top()->context_domain = domain;
	return 0;
}

int
errhidestmt(bool hide_stmt)
{
	top()->hide_stmt = hide_stmt;
	return 0;
}

int
errhidecontext(bool hide_ctx)
{
	top()->hide_ctx = hide_ctx;
	return 0;
}

int
errposition(int cursorpos)
{
	top()->cursorpos = cursorpos;
	return 0;
}

int
geterrcode(void)
{
	return top()->sqlerrcode;
}

static char *
copy_string(const char *s)
{
	return s ? pstrdup(s) : NULL;
}

/* The top error, copied into the current context (not ErrorContext). */
ErrorData *
CopyErrorData(void)
{
	ErrorData  *edata = top();
	ErrorData  *copy;

	if (CurrentMemoryContext == ErrorContext)
		tde_fuzz_fail("CopyErrorData in ErrorContext");
	copy = palloc(sizeof(ErrorData));
	memcpy(copy, edata, sizeof(ErrorData));
	copy->message = copy_string(edata->message);
	copy->detail = copy_string(edata->detail);
	copy->detail_log = copy_string(edata->detail_log);
	copy->hint = copy_string(edata->hint);
	copy->context = copy_string(edata->context);
	copy->internalquery = copy_string(edata->internalquery);
	copy->assoc_context = CurrentMemoryContext;
	return copy;
}

void
FreeErrorData(ErrorData *edata)
{
	if (edata->message)
		pfree(edata->message);
	if (edata->detail)
		pfree(edata->detail);
	if (edata->detail_log)
		pfree(edata->detail_log);
	if (edata->hint)
		pfree(edata->hint);
	if (edata->context)
		pfree(edata->context);
	if (edata->internalquery)
		pfree(edata->internalquery);
	pfree(edata);
}

void
FlushErrorState(void)
{
	errordata_stack_depth = -1;
	MemoryContextReset(ErrorContext);
}

/* Push a copied error back and throw it again, as elog.c does. */
void
ReThrowError(ErrorData *edata)
{
	ErrorData  *newedata;
	MemoryContext old;

	if (++errordata_stack_depth >= ERRORDATA_STACK_SIZE)
		tde_fuzz_fail("ERRORDATA_STACK_SIZE exceeded in ReThrowError");
	newedata = &errordata[errordata_stack_depth];
	old = MemoryContextSwitchTo(ErrorContext);
	memcpy(newedata, edata, sizeof(ErrorData));
	newedata->message = copy_string(edata->message);
	newedata->detail = copy_string(edata->detail);
	newedata->detail_log = copy_string(edata->detail_log);
	newedata->hint = copy_string(edata->hint);
	newedata->context = copy_string(edata->context);
	newedata->internalquery = copy_string(edata->internalquery);
	newedata->assoc_context = ErrorContext;
	MemoryContextSwitchTo(old);
	pg_re_throw();
}

/* A message of any level that was built elsewhere, as elog.c's. */
void
ThrowErrorData(ErrorData *edata)
{
	if (edata->elevel >= ERROR)
		ReThrowError(edata);
	if (getenv("TDE_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz: elevel %d: %s\n", edata->elevel,
				edata->message ? edata->message : "");
}

void
EmitErrorReport(void)
{
	ErrorData  *edata = top();

	if (emit_log_hook)
		emit_log_hook(edata);
	if (getenv("TDE_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz: report: %s\n", edata->message ? edata->message : "");
}

bool
in_error_recursion_trouble(void)
{
	return errordata_stack_depth >= ERRORDATA_STACK_SIZE - 2;
}

void
ExceptionalCondition(const char *conditionName, const char *errorType,
					 const char *fileName, int lineNumber)
{
	tde_fuzz_fail("%s(\"%s\") at %s:%d", errorType, conditionName,
				  fileName, lineNumber);
}

/* ---------------------------------------------------------------------
 * For tde_fuzz_run
 * ---------------------------------------------------------------------
 */

int
tde_fuzz_error_depth(void)
{
	return errordata_stack_depth + 1;
}

/* The SQLSTATE and message of the error being caught; 0 if none. */
int
tde_fuzz_caught_error(const char **message)
{
	ErrorData  *edata;

	if (errordata_stack_depth < 0)
		return 0;
	edata = &errordata[errordata_stack_depth];
	*message = edata->message ? edata->message : "";
	return edata->sqlerrcode;
}

void
tde_fuzz_errors_reset(void)
{
	FlushErrorState();
	error_context_stack = NULL;
	PG_exception_stack = NULL;
}
