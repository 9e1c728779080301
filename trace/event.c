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
