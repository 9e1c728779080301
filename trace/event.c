/* event.c -- the event's defaults and names. */
#include <string.h>

#include "event.h"

void vt_event_init(struct vt_event *ev, enum vt_op op)
{
	memset(ev, 0, sizeof(*ev));
	ev->op = op;
	ev->ts_ns = VT_TS_NONE;
	ev->cpu = -1;
	ev->pid = -1;
	ev->tgid = -1;
	ev->node = -1;
	ev->migratetype = -1;
}

const char *vt_op_name(enum vt_op op)
{
	static const char *const names[VT_NR_OPS] = {
		[VT_OP_ALLOC] = "alloc",
		[VT_OP_FREE] = "free",
		[VT_OP_REALLOC] = "realloc",
		[VT_OP_PURGE] = "purge",
		[VT_OP_PAGE_ALLOC] = "page_alloc",
		[VT_OP_PAGE_FREE] = "page_free",
	};

	return (unsigned)op < VT_NR_OPS ? names[op] : NULL;
}

static bool same_str(const char *a, const char *b)
{
	return !a == !b && (!a || !strcmp(a, b));
}

bool vt_event_equal(const struct vt_event *a, const struct vt_event *b)
{
	return a->op == b->op && a->flags == b->flags && a->line == b->line &&
	       a->ts_ns == b->ts_ns && a->cpu == b->cpu && a->pid == b->pid &&
	       a->tgid == b->tgid && a->node == b->node && a->size == b->size &&
	       a->align == b->align && a->vstart == b->vstart && a->vend == b->vend &&
	       a->addr == b->addr && a->new_addr == b->new_addr && a->nr_lazy == b->nr_lazy &&
	       a->nr_lazy_max == b->nr_lazy_max && a->count == b->count && a->pfn == b->pfn &&
	       a->gfp == b->gfp && a->vm_flags == b->vm_flags && a->order == b->order &&
	       a->migratetype == b->migratetype && same_str(a->caller, b->caller) &&
	       same_str(a->comm, b->comm);
}
