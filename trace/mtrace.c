/* mtrace.c -- glibc mtrace(3) logs (MALLOC_TRACE=FILE, with glibc 2.34+
 * LD_PRELOAD=libc_malloc_debug.so.0).
 *
 * Lines, as glibc 2.36 writes them:
 *     = Start | = End                    framing
 *     [@ WHERE] + ADDR SIZE              malloc, calloc, memalign ...; ADDR "(nil)" if it failed
 *     [@ WHERE] - ADDR                   free, or realloc(ADDR, 0)
 *     [@ WHERE] < OLD                    realloc, always followed by
 *     [@ WHERE] > NEW SIZE               its result
 *     [@ WHERE] ! OLD SIZE               a realloc that failed
 * WHERE is the caller, "prog:[0xaddr]" or "lib.so:(sym+0xoff)[0xaddr]"; it
 * becomes the event's caller.  ADDR and SIZE are hex ("%p", "%#lx"); older
 * glibc printed SIZE in decimal, which is read too.
 */
#include <string.h>

#include "format.h"

static bool is_op(char c)
{
	return c == '+' || c == '-' || c == '<' || c == '>' || c == '!';
}

/* "(nil)" or a number; 1 for a null pointer, 0 for an address, -1 bad. */
static int mt_addr(const char **p, uint64_t *ret)
{
	const char *q = vti_skip_spaces(*p);

	if (!strncmp(q, "(nil)", 5)) {
		*p = q + 5;
		*ret = 0;
		return 1;
	}
	if (vti_u64(&q, ret) < 0 || (*q && *q != ' ' && *q != '\t'))
		return -1;
	*p = q;
	return *ret == 0;
}

static int mt_line(struct vt_reader *r, char *line, size_t len, struct vt_event *ev)
{
	struct vti_mtrace *mt = &r->mt;
	const char *p = vti_skip_spaces(line), *where = NULL, *q;
	size_t where_len = 0;
	uint64_t addr, size = 0;
	int null;
	char op;

	(void)len;
	if (!*p)
		return 0;
	if (*p == '=' && (!strcmp(p, "= Start") || !strcmp(p, "= End")))
		return 0;
	if (p[0] == '@' && p[1] == ' ') {
		/* The caller ends at the first "] " or ") " that an operation
		 * follows. */
		where = p + 2;
		for (q = where; (q = strchr(q, ' ')); q++) {
			if (is_op(q[1]) && (q[2] == ' ' || q[2] == '\0'))
				break;
		}
		if (!q)
			return vti_bad(r, "not an mtrace line");
		where_len = (size_t)(q - where);
		p = q + 1;
	}
	op = *p;
	if (!is_op(op) || (p[1] != ' ' && p[1] != '\t'))
		return vti_bad(r, "not an mtrace line");
	if (mt->pending && op != '>')
		return vti_bad(r, "expected '>' after the '<' of line %llu",
			       (unsigned long long)mt->pending_line);
	q = p + 1;
	null = mt_addr(&q, &addr);
	if (null < 0) {
		q = vti_skip_spaces(p + 1);
		return vti_bad(r, "bad address '%.*s'", vti_toklen(q), q);
	}
	if (op == '+' || op == '>' || op == '!') {
		const char *s = vti_skip_spaces(q);

		if (vti_u64(&s, &size) < 0 || (*s && *s != ' ' && *s != '\t'))
			return vti_bad(r, "bad size '%.*s'", vti_toklen(s), s);
		q = s;
	}
	if (*vti_skip_spaces(q))
		return vti_bad(r, "trailing text '%.*s'", vti_toklen(vti_skip_spaces(q)),
			       vti_skip_spaces(q));

	switch (op) {
	case '<':
		if (null)
			return vti_bad(r, "'<' of a null pointer");
		mt->pending = true;
		mt->old_addr = addr;
		mt->pending_line = r->line;
		return 0;
	case '>':
		if (!mt->pending)
			return vti_bad(r, "'>' without a '<' before it");
		mt->pending = false;
		vt_event_init(ev, VT_OP_REALLOC);
		ev->flags = VT_EV_ADDR;
		ev->addr = mt->old_addr;
		ev->size = size;
		if (null) {
			ev->flags |= VT_EV_FAILED;
		} else {
			ev->flags |= VT_EV_NEW_ADDR;
			ev->new_addr = addr;
		}
		break;
	case '!':
		vt_event_init(ev, VT_OP_REALLOC);
		ev->flags = VT_EV_ADDR | VT_EV_FAILED;
		ev->addr = addr;
		ev->size = size;
		break;
	case '+':
		vt_event_init(ev, VT_OP_ALLOC);
		ev->size = size;
		if (null) {
			ev->flags = VT_EV_FAILED;
		} else {
			ev->flags = VT_EV_ADDR;
			ev->addr = addr;
		}
		break;
	default: /* '-' */
		if (null)
			return 0;        /* free(NULL) */
		vt_event_init(ev, VT_OP_FREE);
		ev->flags = VT_EV_ADDR;
		ev->addr = addr;
		break;
	}
	if (where)
		ev->caller = vti_strcpy(r->caller, where, where_len);
	return 1;
}

static int mt_end(struct vt_reader *r)
{
	if (r->mt.pending)
		return vti_bad(r, "expected '>' after the '<' of line %llu",
			       (unsigned long long)r->mt.pending_line);
	return 0;
}

const struct vti_format vti_mtrace_format = {
	.id = VT_FMT_MTRACE,
	.line = mt_line,
	.end = mt_end,
};
