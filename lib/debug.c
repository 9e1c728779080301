/* debug.c -- the graded checks (meson -Ddebug_checks, VM_DEBUG), as
 * mimalloc grades its own: how much an engine verifies of itself is a
 * build-time choice, paid for only where it is on.
 *
 *   0  nothing beyond what every build does (release).
 *   1  cheap checks, O(1) where they stand, at the places where a broken
 *      structure would otherwise go unnoticed or crash later: a range
 *      overlapping its neighbours on free-tree insert ("vmalloc bug: ...
 *      overlaps ..."; the insert is refused, as the kernel's find_va_links
 *      refuses it), a busy area missing from its hash chain on erase (a
 *      vmap block missing from its index chain likewise), a counter given
 *      back more than it holds (an underflow).  The default
 *      of the debug and debugoptimized builds.
 *   2  also vm_check(), the whole invariant checker, after every public
 *      call that takes a writable engine, O(frames + areas) each: for
 *      the tests (libvmcore_checked, which the random suites link).
 *
 * A finding is a bug of the engine's, never of its caller's: it is
 * reported through the engine's log as "vmalloc bug: ..." at VM_LOG_ERR
 * and counted in vm_stats.nr_bugs, and the engine goes on (no abort: the
 * daemon keeps serving, a test asserts the count is 0).
 */
#include <stdarg.h>
#include <stdio.h>

#include "vm-internal.h"

unsigned vm_debug_level(void)
{
	return VM_DEBUG;
}

void vmi_bug(struct vm_engine *e, const char *fmt, ...)
{
	char msg[224];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e->nr_bugs++;
	vmi_log(e, VM_LOG_ERR, "vmalloc bug: %s", msg);
}

void vmi_sub_bug(struct vm_engine *e, const char *what, uint64_t have, uint64_t sub)
{
	vmi_bug(e, "%s underflows: %llu - %llu", what, (unsigned long long)have,
		(unsigned long long)sub);
}

void vmi_call_end(struct vmi_call *call)
{
	struct vm_engine *e = call->e;
	char msg[192];
	int r;

	if (!e || --e->call_depth)
		return;
	/* The checker's own calls into the engine are not checked again. */
	e->call_depth++;
	r = vm_check(e, msg, sizeof(msg));
	e->call_depth--;
	if (r < 0)
		vmi_bug(e, "after %s: %s", call->fn, msg);
}
