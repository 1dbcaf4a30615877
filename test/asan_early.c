/*
 * asan_early.c: initialize AddressSanitizer before any other library.
 *
 * test.sh preloads ASan's runtime into PostgreSQL's uninstrumented
 * programs for TDE_SANITIZE runs.  Preloaded, the runtime initializes at
 * the first malloc.  In PostgreSQL 15 on Debian 12 that first malloc comes
 * from libgpg-error's constructor, inside bindtextdomain() with glibc's
 * gettext lock held; ASan's initialization calls dlerror(), which takes the
 * same lock, and every later bindtextdomain() (postgres's own, in main())
 * waits for ever.  Marked initfirst (-Wl,-z,initfirst), this object's
 * constructor runs before every other library's, so ASan initializes here,
 * with no lock held.
 */
#include <stdlib.h>

__attribute__((constructor))
static void
asan_init_early(void)
{
	free(malloc(1));
}
