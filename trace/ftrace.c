/* ftrace.c -- ftrace text: what `trace`, `trace_pipe` and `trace-cmd report`
 * print for the vmalloc events (Linux 6.2+) and kmem's page events.
 *
 * A line is
 *     COMM-PID [(TGID)] [CPU] [FLAGS] SECS.USECS: [SUBSYS:]EVENT: FIELDS
 * where COMM may hold spaces and dashes, TGID shows with the record-tgid
 * option, FLAGS has 4 or 5 characters (absent in trace-cmd report, which
 * also puts "INSTANCE:" before the lines of a tracing instance), and the
 * fields are the event's TP_printk, as 6.18 prints them:
 *     alloc_vmap_area: va_start: %lu size=%lu align=%lu vstart=0x%lx vend=0x%lx failed=%d
 *     free_vmap_area_noflush: va_start=0x%lx nr_lazy=%lu nr_lazy_max=%lu
 *     purge_vmap_area_lazy: start=0x%lx end=0x%lx num_purged=%u
 *     mm_page_alloc: page=%p pfn=0x%lx order=%d migratetype=%d gfp_flags=%s
 *     mm_page_free: page=%p pfn=0x%lx order=%d
 *     mm_page_free_batched: page=%p pfn=0x%lx order=%d
 * (older kernels print the pfn in decimal; both are read).  The header's
 * "#P:N" (trace) or "cpus=N" (trace-cmd report) is the CPU count, and
 * "[LOST N EVENTS]" lines count events the kernel dropped.  Lines of any
 * other event are counted in other_events and skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "format.h"

static bool is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* After the CPU column: "[FLAGS] TS: NAME:".  On a match, the timestamp in
 * *ts, the name in [*name, *name + *name_len), the subsystem (or NULL), and
 * the fields' start is returned; NULL if the text does not have that shape. */
static const char *after_cpu(const char *q, uint64_t *ts, const char **name, size_t *name_len,
			     const char **subsys, size_t *subsys_len)
{
	const char *t, *s;
	uint64_t secs, frac = 0;

	q = vti_skip_spaces(q);
	/* A token not ending in ':' before the timestamp is the flags column. */
	t = q;
	while (*t && *t != ' ' && *t != ':')
		t++;
	if (*t == ' ') {
		if (t - q > 8)
			return NULL;
		q = vti_skip_spaces(t);
	}
	/* SECS[.FRAC]: */
	if (!is_digit(*q))
		return NULL;
	if (vti_u64(&q, &secs) < 0)
		return NULL;
	if (*q == '.') {
		unsigned digits = 0;

		q++;
		while (is_digit(*q)) {
			if (digits < 9) {
				frac = frac * 10 + (uint64_t)(*q - '0');
				digits++;
			}
			q++;
		}
		while (digits++ < 9)
			frac *= 10;
		*ts = secs * 1000000000ull + frac;
	} else {
		*ts = secs;          /* a counter clock: raw units */
	}
	if (*q != ':')
		return NULL;
	q = vti_skip_spaces(q + 1);
	/* [SUBSYS:]NAME: */
	s = q;
	while (is_ident(*q))
		q++;
	if (q == s || *q != ':')
		return NULL;
	*subsys = NULL;
	*subsys_len = 0;
	if (is_ident(q[1])) {
		*subsys = s;
		*subsys_len = (size_t)(q - s);
		s = ++q;
		while (is_ident(*q))
			q++;
		if (q == s || *q != ':')
			return NULL;
	}
	*name = s;
	*name_len = (size_t)(q - s);
	return q + 1;
}

/* The event line's prefix, up to the fields; NULL if the line is not one. */
static const char *parse_prefix(struct vt_reader *r, char *line, struct vt_event *ev,
				const char **name, size_t *name_len, const char **subsys,
				size_t *subsys_len)
{
	/* The CPU column is the first "[digits]" after a space that is
	 * followed by the rest of the shape; a comm holding such text is
	 * passed over because the rest does not follow it. */
	for (char *b = strchr(line, '['); b; b = strchr(b + 1, '[')) {
		char *q = b + 1, *e;
		const char *fields;
		uint64_t cpu, pid, ts;

		if (b == line || b[-1] != ' ' || !is_digit(*q))
			continue;
		while (is_digit(*q))
			q++;
		if (*q != ']')
			continue;
		fields = after_cpu(q + 1, &ts, name, name_len, subsys, subsys_len);
		if (!fields)
			continue;
		cpu = 0;
		{
			const char *c = b + 1;

			if (vti_u64(&c, &cpu) < 0 || cpu > INT32_MAX)
				return NULL;
		}
		/* Backwards over "COMM-PID [(TGID)] ". */
		e = b;
		while (e > line && e[-1] == ' ')
			e--;
		ev->tgid = -1;
		if (e > line && e[-1] == ')') {
			char *o = e - 1;
			const char *t;
			uint64_t tgid;

			while (o > line && *o != '(')
				o--;
			if (*o != '(')
				return NULL;
			t = vti_skip_spaces(o + 1);
			if (vti_u64(&t, &tgid) == 0 && tgid <= INT32_MAX)
				ev->tgid = (int32_t)tgid;
			e = o;
			while (e > line && e[-1] == ' ')
				e--;
		}
		{
			char *d = e;
			const char *pp;

			while (d > line && is_digit(d[-1]))
				d--;
			if (d == e || d == line || d[-1] != '-')
				return NULL;
			pp = d;
			if (vti_u64(&pp, &pid) < 0 || pid > INT32_MAX)
				return NULL;
			{
				char *c = (char *)vti_skip_spaces(line), *t;

				/* trace-cmd report puts "INSTANCE:" before the
				 * lines of an instance's buffer. */
				t = strchr(c, ' ');
				if (c == line && t && t > c && t[-1] == ':' && t[1] == ' ' &&
				    t < d - 1)
					c = (char *)vti_skip_spaces(t);
				/* The comm is used where it stands: the line is
				 * ours until the next event. */
				if (d - 1 - c > VT_STR_MAX)
					c = d - 1 - VT_STR_MAX;
				d[-1] = '\0';
				ev->comm = c;
			}
		}
		ev->cpu = (int32_t)cpu;
		ev->pid = (int32_t)pid;
		ev->ts_ns = ts;
		return fields;
	}
	return NULL;
}

/* A header or marker line: 0 if understood, -1 if not. */
static int special_line(struct vt_reader *r, const char *p)
{
	const char *q;
	uint64_t n;

	if (*p == '#') {
		/* "# entries-in-buffer/entries-written: 67/67   #P:2" */
		q = strstr(p, "#P:");
		if (q) {
			q += 3;
			if (vti_u64(&q, &n) == 0 && n > 0 && n <= 65536)
				r->info.cpus = (unsigned)n;
		}
		return 0;
	}
	if (!strncmp(p, "cpus=", 5)) {         /* trace-cmd report */
		q = p + 5;
		if (vti_u64(&q, &n) == 0 && n > 0 && n <= 65536)
			r->info.cpus = (unsigned)n;
		return 0;
	}
	if (!strncmp(p, "version =", 9))
		return 0;
	if (!strncmp(p, "CPU", 3)) {
		/* "CPU:1 [LOST 12 EVENTS]" (trace, trace_pipe), "CPU 0 is empty",
		 * "CPU:1 [12 EVENTS DROPPED]" (trace-cmd). */
		q = strstr(p, "[LOST ");
		if (q) {
			q += 6;
			if (vti_u64(&q, &n) == 0)
				r->info.lost_events += n;
			return 0;
		}
		q = strchr(p, '[');
		if (q && strstr(q, "EVENTS DROPPED")) {
			q++;
			if (vti_u64(&q, &n) == 0)
				r->info.lost_events += n;
			return 0;
		}
		if (strstr(p, "is empty"))
			return 0;
	}
	return -1;
}

static int need(struct vt_reader *r, const char **p, const char *event, const char *key,
		uint64_t *v)
{
	const char *start = *p;
	int k = vti_field(p, key, v);

	if (k == VTI_NOKEY)
		return vti_bad(r, "%s: no %s field", event, key);
	if (k == VTI_BADVAL) {
		const char *q = strstr(start, key) + strlen(key) + 1;

		q = vti_skip_spaces(q);
		return vti_bad(r, "%s: bad %s '%.*s'", event, key, vti_toklen(q), q);
	}
	return 0;
}

static int need_s(struct vt_reader *r, const char **p, const char *event, const char *key,
		  int64_t *v)
{
	const char *start = *p;
	int k = vti_field_s(p, key, v);

	if (k == VTI_NOKEY)
		return vti_bad(r, "%s: no %s field", event, key);
	if (k == VTI_BADVAL) {
		const char *q = strstr(start, key) + strlen(key) + 1;

		q = vti_skip_spaces(q);
		return vti_bad(r, "%s: bad %s '%.*s'", event, key, vti_toklen(q), q);
	}
	return 0;
}

#define NEED(key, v) do { int k_ = need(r, &p, event, key, v); if (k_ < 0) return k_; } while (0)
#define NEED_S(key, v) do { int k_ = need_s(r, &p, event, key, v); if (k_ < 0) return k_; } while (0)

static int alloc_vmap_area(struct vt_reader *r, const char *p, struct vt_event *ev)
{
	static const char event[] = "alloc_vmap_area";
	uint64_t addr, size, align, vstart, vend;
	int64_t failed;

	NEED("va_start", &addr);
	NEED("size", &size);
	NEED("align", &align);
	NEED("vstart", &vstart);
	NEED("vend", &vend);
	NEED_S("failed", &failed);
	ev->op = VT_OP_ALLOC;
	ev->flags |= VT_EV_KVA_SIZE | VT_EV_ALIGN | VT_EV_WINDOW;
	ev->size = size;
	ev->align = align;
	ev->vstart = vstart;
	ev->vend = vend;
	if (failed) {
		ev->flags |= VT_EV_FAILED;
	} else {
		ev->flags |= VT_EV_ADDR;
		ev->addr = addr;
	}
	return 1;
}

static int free_vmap_area_noflush(struct vt_reader *r, const char *p, struct vt_event *ev)
{
	static const char event[] = "free_vmap_area_noflush";
	uint64_t addr, nr_lazy, nr_lazy_max;

	NEED("va_start", &addr);
	NEED("nr_lazy", &nr_lazy);
	NEED("nr_lazy_max", &nr_lazy_max);
	ev->op = VT_OP_FREE;
	ev->flags |= VT_EV_ADDR | VT_EV_LAZY;
	ev->addr = addr;
	ev->nr_lazy = nr_lazy;
	ev->nr_lazy_max = nr_lazy_max;
	return 1;
}

static int purge_vmap_area_lazy(struct vt_reader *r, const char *p, struct vt_event *ev)
{
	static const char event[] = "purge_vmap_area_lazy";
	uint64_t start, end, n;

	NEED("start", &start);
	NEED("end", &end);
	NEED("num_purged", &n);
	ev->op = VT_OP_PURGE;
	ev->flags |= VT_EV_WINDOW;
	ev->vstart = start;
	ev->vend = end;
	ev->count = n;
	return 1;
}

/* "page=%p": a hashed pointer, "(null)", or (trace-cmd) the pfn; only
 * whether it is null matters. */
static int skip_page(struct vt_reader *r, const char **p, const char *event, bool *ret_null)
{
	const char *q = vti_skip_spaces(*p);
	bool null = true;

	if (strncmp(q, "page=", 5))
		return vti_bad(r, "%s: no page field", event);
	q += 5;
	if (!strncmp(q, "(null)", 6) || !strncmp(q, "(nil)", 5)) {
		q += vti_toklen(q);
	} else {
		for (; *q && *q != ' '; q++)
			if (*q != '0' && *q != 'x')
				null = false;
	}
	*p = q;
	*ret_null = null;
	return 0;
}

static int mm_page_alloc(struct vt_reader *r, const char *p, struct vt_event *ev)
{
	static const char event[] = "mm_page_alloc";
	uint64_t pfn, order;
	int64_t mt;
	bool null;
	const char *g;
	size_t glen;
	uint32_t gfp;
	int k;

	k = skip_page(r, &p, event, &null);
	if (k < 0)
		return k;
	NEED("pfn", &pfn);
	NEED("order", &order);
	NEED_S("migratetype", &mt);
	g = vti_skip_spaces(p);
	if (strncmp(g, "gfp_flags=", 10))
		return vti_bad(r, "%s: no gfp_flags field", event);
	g += 10;
	glen = strcspn(g, " \t");
	if (vti_gfp_from_names(g, glen, &gfp) < 0)
		return vti_bad(r, "%s: bad gfp_flags '%.*s'", event, vti_toklen(g), g);
	if (order > 63)
		return vti_bad(r, "%s: bad order '%llu'", event, (unsigned long long)order);
	ev->op = VT_OP_PAGE_ALLOC;
	ev->flags |= VT_EV_GFP;
	ev->order = (uint8_t)order;
	ev->migratetype = (int8_t)(mt < -1 || mt > 127 ? -1 : mt);
	ev->gfp = gfp;
	if (null && pfn == 0) {
		ev->flags |= VT_EV_FAILED;
	} else {
		ev->flags |= VT_EV_ADDR;
		ev->pfn = pfn;
	}
	return 1;
}

static int mm_page_free(struct vt_reader *r, const char *p, struct vt_event *ev, bool batched)
{
	const char *event = batched ? "mm_page_free_batched" : "mm_page_free";
	uint64_t pfn, order = 0;
	bool null;
	int k;

	k = skip_page(r, &p, event, &null);
	if (k < 0)
		return k;
	NEED("pfn", &pfn);
	if (!batched || *vti_skip_spaces(p))
		NEED("order", &order);
	if (order > 63)
		return vti_bad(r, "%s: bad order '%llu'", event, (unsigned long long)order);
	ev->op = VT_OP_PAGE_FREE;
	ev->flags |= VT_EV_ADDR;
	ev->pfn = pfn;
	ev->order = (uint8_t)order;
	return 1;
}

static bool name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && !memcmp(name, want, len);
}

static int ftrace_line(struct vt_reader *r, char *line, size_t len, struct vt_event *ev)
{
	const char *p = vti_skip_spaces(line), *fields, *name, *subsys;
	size_t name_len, subsys_len;

	(void)len;
	if (!*p)
		return 0;
	if (*p == '#')
		return special_line(r, p);
	vt_event_init(ev, VT_OP_ALLOC);
	fields = parse_prefix(r, line, ev, &name, &name_len, &subsys, &subsys_len);
	if (!fields) {
		if (special_line(r, p) == 0)
			return 0;
		return vti_bad(r, "not an ftrace event line");
	}
	if (subsys && !name_is(subsys, subsys_len, "vmalloc") && !name_is(subsys, subsys_len, "kmem"))
		goto other;
	switch (name_len) {
	case 15:
		if (name_is(name, name_len, "alloc_vmap_area"))
			return alloc_vmap_area(r, fields, ev);
		break;
	case 22:
		if (name_is(name, name_len, "free_vmap_area_noflush"))
			return free_vmap_area_noflush(r, fields, ev);
		break;
	case 20:
		if (name_is(name, name_len, "purge_vmap_area_lazy"))
			return purge_vmap_area_lazy(r, fields, ev);
		if (name_is(name, name_len, "mm_page_free_batched"))
			return mm_page_free(r, fields, ev, true);
		break;
	case 13:
		if (name_is(name, name_len, "mm_page_alloc"))
			return mm_page_alloc(r, fields, ev);
		break;
	case 12:
		if (name_is(name, name_len, "mm_page_free"))
			return mm_page_free(r, fields, ev, false);
		break;
	}
other:
	r->info.other_events++;
	return 0;
}

const struct vti_format vti_ftrace_format = {
	.id = VT_FMT_FTRACE,
	.line = ftrace_line,
};
