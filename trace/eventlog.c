/* eventlog.c -- the replay's event log: one JSON object per replayed
 * event (output.h). */
#include <errno.h>
#include <stdio.h>

#include <json-c/json.h>

#include "output.h"
#include "report.h"

static json_object *hex(uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "0x%llx", (unsigned long long)v);
	return json_object_new_string(b);
}

int vt_eventlog_write(FILE *out, const struct vt_call *c, int status, uint64_t result)
{
	json_object *o = json_object_new_object();
	bool page = c->kind == VT_CALL_ALLOC_PAGES || c->kind == VT_CALL_FREE_PAGES;
	int r = 0;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "i", json_object_new_uint64(c->i));
	json_object_object_add(o, "line", json_object_new_uint64(c->line));
	json_object_object_add(o, "op", json_object_new_string(vt_op_name(c->op)));
	if (page) {
		json_object_object_add(o, "order", json_object_new_uint64(c->order));
		json_object_object_add(o, "trace_pfn", hex(c->key));
		if (c->kind == VT_CALL_ALLOC_PAGES)
			json_object_object_add(o, "pfn", status ? NULL : hex(result));
		else
			json_object_object_add(o, "pfn", hex(c->addr));
	} else {
		/* A free's trace has no size: the freed area's pages tell it. */
		json_object_object_add(o, "size", json_object_new_uint64(
			c->op == VT_OP_FREE ? c->pages * VT_PAGE_SIZE : c->size));
		json_object_object_add(o, "align", json_object_new_uint64(c->align));
		if (c->ev_flags & VT_EV_ID)
			json_object_object_add(o, "id", json_object_new_uint64(c->key));
		else if (c->ev_flags & VT_EV_ADDR)
			json_object_object_add(o, "trace_addr", hex(c->key));
		if (c->op == VT_OP_REALLOC && (c->ev_flags & VT_EV_NEW_ADDR) &&
		    !(c->ev_flags & VT_EV_ID))
			json_object_object_add(o, "trace_new_addr", hex(c->new_key));
		if (c->kind == VT_CALL_FREE)
			json_object_object_add(o, "addr", hex(c->addr));
		else
			json_object_object_add(o, "addr", status ? NULL : hex(result));
	}
	json_object_object_add(o, "status", json_object_new_int(status));
	if (status)
		json_object_object_add(o, "error", json_object_new_string(vt_errno_name(status)));
	if (fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
			JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		r = -EIO;
	json_object_put(o);
	return r;
}
