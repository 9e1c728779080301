/* malloclab.c -- CS:APP malloc lab traces (the mdriver's *.rep files).
 *
 * The file starts with four integers, one per line or together: a heap size
 * hint, the number of block ids, the number of operations, and a weight;
 * then one operation per line:
 *     a ID BYTES     allocate BYTES as block ID
 *     r ID BYTES     reallocate block ID to BYTES
 *     f ID           free block ID
 * Ids are dense from 0 and below the declared count.  Events carry the id
 * as their key (VT_EV_ID); the replay maps ids to the addresses it got.
 * Blank lines and lines starting with '#' are skipped.
 */
#include <stdio.h>
#include <string.h>

#include "format.h"

static int ml_header(struct vt_reader *r, const char *p)
{
	struct vti_malloclab *ml = &r->ml;

	while (*(p = vti_skip_spaces(p))) {
		uint64_t v;

		if (ml->header_seen == 4)
			return vti_bad(r, "header: more than 4 numbers");
		if (vti_u64(&p, &v) < 0 || (*p && *p != ' ' && *p != '\t'))
			return vti_bad(r, "header: bad number '%.*s'", vti_toklen(p), p);
		ml->header[ml->header_seen++] = v;
	}
	if (ml->header_seen == 4 && ml->header[1] > UINT32_MAX)
		return vti_bad(r, "header: %llu ids is more than this reader takes (%u)",
			       (unsigned long long)ml->header[1], UINT32_MAX);
	return 0;
}

static int ml_line(struct vt_reader *r, char *line, size_t len, struct vt_event *ev)
{
	struct vti_malloclab *ml = &r->ml;
	const char *p = vti_skip_spaces(line), *args;
	uint64_t id, bytes = 0;
	char op;

	(void)len;
	if (!*p || *p == '#')
		return 0;
	if (ml->header_seen < 4)
		return ml_header(r, p);
	op = *p;
	if ((op != 'a' && op != 'r' && op != 'f') || (p[1] != ' ' && p[1] != '\t'))
		return vti_bad(r, "unknown operation '%.*s'", vti_toklen(p), p);
	args = vti_skip_spaces(p + 1);
	if (vti_u64(&args, &id) < 0 || (*args != ' ' && *args != '\t' && *args))
		goto usage;
	if (op != 'f') {
		args = vti_skip_spaces(args);
		if (vti_u64(&args, &bytes) < 0)
			goto usage;
	}
	if (*vti_skip_spaces(args))
		goto usage;
	if (id >= ml->header[1])
		return vti_bad(r, "id %llu out of range (the header declares %llu ids)",
			       (unsigned long long)id, (unsigned long long)ml->header[1]);
	if (ml->ops == ml->header[2])
		return vti_bad(r, "more operations than the header declares (%llu)",
			       (unsigned long long)ml->header[2]);
	ml->ops++;
	vt_event_init(ev, op == 'a' ? VT_OP_ALLOC : op == 'r' ? VT_OP_REALLOC : VT_OP_FREE);
	ev->flags = VT_EV_ID;
	ev->addr = id;
	ev->size = bytes;
	if (op == 'r') {
		ev->flags |= VT_EV_NEW_ADDR;
		ev->new_addr = id;
	}
	return 1;
usage:
	if (op == 'f')
		return vti_bad(r, "expected 'f ID'");
	return vti_bad(r, "expected '%c ID BYTES'", op);
}

static int ml_end(struct vt_reader *r)
{
	struct vti_malloclab *ml = &r->ml;

	if (ml->header_seen < 4)
		return vti_bad(r, "header: expected 4 numbers, found %u", ml->header_seen);
	if (ml->ops != ml->header[2])
		return vti_bad(r, "the header declares %llu operations, the trace has %llu",
			       (unsigned long long)ml->header[2], (unsigned long long)ml->ops);
	return 0;
}

const struct vti_format vti_malloclab_format = {
	.id = VT_FMT_MALLOCLAB,
	.line = ml_line,
	.end = ml_end,
};
