/* caller.c -- the default caller string of new areas: the return address of
 * the public call, printed like the kernel's %pS ("symbol+0xoff/0xsize").
 *
 * dladdr1() searches the symbol tables of the loaded objects, microseconds
 * per call.  A program calls vmc_vmalloc() from a handful of places, often
 * millions of times, so each client keeps a small direct-mapped cache keyed
 * by return address and the hot path is one hash and one compare.  dladdr
 * sees only dynamic symbols: an executable's own functions resolve only if
 * it is linked with -rdynamic; otherwise the string is "0x<addr>".
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmclient-internal.h"

#define CALLER_SLOTS_SHIFT 5
#define CALLER_SLOTS       (1u << CALLER_SLOTS_SHIFT)

struct caller_slot {
	const void *ra;                   /* NULL: empty */
	char str[VMC_CALLER_MAX + 1];
};

/* "+0x<off>/0x<size>" of two pointer-sized numbers fits caller_format's
 * tail, and leaves room for a symbol name in a caller string. */
#define CALLER_TAIL_MAX (sizeof("+0x/0x") - 1 + 2 * 2 * sizeof(uintptr_t))
_Static_assert(CALLER_TAIL_MAX < VMC_CALLER_MAX, "no room for a symbol in a caller string");

struct vmci_caller_cache {
	struct caller_slot slot[CALLER_SLOTS];
};

static void caller_format(const void *ra, char *buf, size_t len)
{
	const ElfW(Sym) *sym = NULL;
	Dl_info info;

	if (dladdr1(ra, &info, (void **)&sym, RTLD_DL_SYMENT) && info.dli_sname &&
	    info.dli_saddr && (uintptr_t)ra >= (uintptr_t)info.dli_saddr) {
		uintptr_t off = (uintptr_t)ra - (uintptr_t)info.dli_saddr;
		uintptr_t size = sym ? (uintptr_t)sym->st_size : 0;
		char tail[CALLER_TAIL_MAX + 1];
		int tl;

		/* "0x%lx", not "%#lx": the kernel prints 0 as 0x0 too. */
		tl = snprintf(tail, sizeof(tail), "+0x%" PRIxPTR "/0x%" PRIxPTR, off, size);
		if (tl > 0 && (size_t)tl < len) {
			snprintf(buf, len, "%.*s%s", (int)(len - 1 - (size_t)tl),
				 info.dli_sname, tail);
			return;
		}
	}
	snprintf(buf, len, "0x%" PRIxPTR, (uintptr_t)ra);
}

const char *vmci_caller(struct vmc_client *c, const void *ra)
{
	struct caller_slot *s;
	uint64_t h;

	if (c->caller)
		return c->caller;
	if (!c->callers)
		c->callers = calloc(1, sizeof(*c->callers));
	if (!c->callers) {
		caller_format(ra, c->caller_tmp, sizeof(c->caller_tmp));
		return c->caller_tmp;
	}
	h = (uint64_t)(uintptr_t)ra * 0x9e3779b97f4a7c15ull;
	s = &c->callers->slot[h >> (64 - CALLER_SLOTS_SHIFT)];
	if (s->ra != ra) {
		caller_format(ra, s->str, sizeof(s->str));
		s->ra = ra;
	}
	return s->str;
}

void vmci_caller_free(struct vmc_client *c)
{
	free(c->callers);
	c->callers = NULL;
}
