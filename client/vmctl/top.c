/* top.c -- `vmctl top`: the machine on one screen, refreshed, the way free
 * -h, numactl --hardware and slabtop show a kernel's: memory and vmalloc
 * totals, every zone of every node (free, used, the largest free block,
 * fragmentation at one order), the lazy list, purges and TLB flushes,
 * clients and request rate, and the callers holding the most pages.
 *
 * A frame is built as lines of text once, then either drawn with ncurses
 * (interactive: q quits, the terminal is restored) or printed (--batch, or
 * when stdout is not a terminal).  With --json a frame is one object.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <ncurses.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "size.h"
#include "vmctl.h"

#define TOP_LINES 256          /* lines a frame may have */
#define TOP_COLS  160          /* characters kept per line */
#define TOP_DEFAULT_ORDER 9    /* pageblock_order on x86_64 */

struct caller_sum {
	const char *caller;        /* points into the areas array */
	uint64_t pages, bytes, areas;
};

struct top {
	struct repeat rp;
	bool batch;
	bool stream;               /* several frames: JSON ones one per line */
	long order;
	char server[64];
	struct vmc_stat prev;
	bool have_prev;
	/* the frame */
	char lines[TOP_LINES][TOP_COLS];
	int nr_lines;
	unsigned header_lines;     /* the first lines, before the tables */
	unsigned callers_line;     /* the callers table's heading */
};

static void __attribute__((format(printf, 2, 3))) line(struct top *t, const char *fmt, ...)
{
	va_list ap;

	if (t->nr_lines == TOP_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(t->lines[t->nr_lines++], TOP_COLS, fmt, ap);
	va_end(ap);
}

static const char *hsize(uint64_t bytes, char *buf)
{
	cv_format_size(bytes, buf, CV_SIZE_STR);
	return buf;
}

static const char *milli(int v, char *buf)
{
	unsigned a = v < 0 ? (unsigned)-(long)v : (unsigned)v;

	snprintf(buf, 16, "%s%u.%03u", v < 0 ? "-" : "", a / 1000, a % 1000);
	return buf;
}

static int largest_order(const struct vmc_zone *z)
{
	for (int k = VMC_NR_ORDERS - 1; k >= 0; k--)
		if (z->nr_free[k])
			return k;
	return -1;
}

static int by_caller(const void *a, const void *b)
{
	const struct vmc_area *x = a, *y = b;

	return strcmp(x->caller, y->caller);
}

static int by_pages(const void *a, const void *b)
{
	const struct caller_sum *x = a, *y = b;

	if (x->pages != y->pages)
		return x->pages < y->pages ? 1 : -1;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->caller, y->caller);
}

/* Sum the areas by caller string, most pages first.  *ret is malloc'd. */
static size_t sum_callers(struct vmc_area *as, size_t n, struct caller_sum **ret)
{
	struct caller_sum *s;
	size_t m = 0;

	*ret = NULL;
	if (!n)
		return 0;
	s = calloc(n, sizeof(*s));
	if (!s)
		return 0;
	qsort(as, n, sizeof(*as), by_caller);
	for (size_t i = 0; i < n; i++) {
		if (!m || strcmp(s[m - 1].caller, as[i].caller) != 0)
			s[m++].caller = as[i].caller;
		s[m - 1].pages += as[i].nr_pages;
		s[m - 1].bytes += as[i].size;
		s[m - 1].areas++;
	}
	qsort(s, m, sizeof(*s), by_pages);
	*ret = s;
	return m;
}

struct sample {
	struct vmc_stat st;
	struct vmc_zone *zones;
	size_t nr_zones;
	struct vmc_area *areas;
	size_t nr_areas;
	struct caller_sum *callers;
	size_t nr_callers;
};

static void sample_free(struct sample *s)
{
	free(s->zones);
	free(s->areas);
	free(s->callers);
	memset(s, 0, sizeof(*s));
}

static int take_sample(const struct cmd *cmd, struct sample *s)
{
	struct vmc_client *c = client(cmd);
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = vmc_stat(c, &s->st)) < 0 || (r = vmc_zones(c, &s->zones, &s->nr_zones)) < 0 ||
	    (r = vmc_areas(c, false, &s->areas, &s->nr_areas)) < 0) {
		sample_free(s);
		return r;
	}
	s->nr_callers = sum_callers(s->areas, s->nr_areas, &s->callers);
	return 0;
}

static uint64_t rate(uint64_t now, uint64_t before, uint64_t ms)
{
	return ms && now >= before ? (now - before) * 1000 / ms : 0;
}

static void build_frame(struct top *t, const struct sample *s, int max_callers)
{
	const struct vmc_stat *st = &s->st;
	uint64_t ms = t->have_prev ? st->uptime_ms - t->prev.uptime_ms : st->uptime_ms;
	uint64_t reqs = rate(st->requests, t->have_prev ? t->prev.requests : 0, ms);
	uint64_t used = st->total_pages - st->free_pages, up = st->uptime_ms / 1000;
	char a[CV_SIZE_STR], b[CV_SIZE_STR], c[CV_SIZE_STR], d[CV_SIZE_STR], m1[16], m2[16];

	t->nr_lines = 0;
	/* Every line fits in 80 columns. */
	line(t, "%s, %s, %u node%s, up %" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ", %u client%s, "
	     "%" PRIu64 " req/s, %" PRIu64 " errors", t->server[0] ? t->server : "vmallocd",
	     st->layout, st->nr_nodes, st->nr_nodes == 1 ? "" : "s", up / 3600, up / 60 % 60,
	     up % 60, st->clients, st->clients == 1 ? "" : "s", reqs, st->errors);
	line(t, "Mem:     %7s total, %7s free, %7s used, %7s page tables",
	     hsize(st->total_pages * VMC_PAGE_SIZE, a), hsize(st->free_pages * VMC_PAGE_SIZE, b),
	     hsize(used * VMC_PAGE_SIZE, c), hsize(st->pagetable_pages * VMC_PAGE_SIZE, d));
	line(t, "Used:    %7s vmalloc, %7s vmap, %7s alloc_pages, %7s resident",
	     hsize(st->vmalloc_pages * VMC_PAGE_SIZE, a), hsize(st->vmap_pages * VMC_PAGE_SIZE, b),
	     hsize(st->alloc_pages_pages * VMC_PAGE_SIZE, c),
	     hsize(st->resident_pages * VMC_PAGE_SIZE, d));
	line(t, "Vmalloc: %7" PRIu64 " area%s, %7s lazy in %" PRIu64 " area%s (purged over %s)",
	     st->nr_areas, st->nr_areas == 1 ? "" : "s", hsize(st->lazy_pages * VMC_PAGE_SIZE, a),
	     st->nr_lazy_areas, st->nr_lazy_areas == 1 ? "" : "s",
	     hsize(st->lazy_max_pages * VMC_PAGE_SIZE, b));
	line(t, "Purges:  %7" PRIu64 ", TLB flushes %" PRIu64 ", allocation failures %" PRIu64,
	     st->nr_purges, st->nr_tlb_flushes, st->nr_alloc_failures);
	line(t, "KVA:     %7s from 0x%" PRIx64 ", largest hole %s",
	     hsize(st->vmalloc_end - st->vmalloc_start, a), st->vmalloc_start,
	     hsize(st->largest_free_kva, b));
	t->header_lines = (unsigned)t->nr_lines;
	line(t, "%s", "");
	line(t, "NODE ZONE       MANAGED     FREE     USED  LARGEST  UNUSABLE@%ld  EXTFRAG@%ld",
	     t->order, t->order);
	for (size_t i = 0, first = 0; i < s->nr_zones; i++) {
		const struct vmc_zone *z = &s->zones[i];
		int k = largest_order(z);

		line(t, "%4d %-8s %9s %8s %8s %8s %11s %10s", z->node, z->name,
		     hsize(z->managed * VMC_PAGE_SIZE, a), hsize(z->free * VMC_PAGE_SIZE, b),
		     hsize((z->managed - (z->free < z->managed ? z->free : z->managed)) *
			   VMC_PAGE_SIZE, c),
		     k < 0 ? "-" : hsize((uint64_t)VMC_PAGE_SIZE << k, d),
		     milli(z->unusable_index[t->order], m1), milli(z->extfrag_index[t->order], m2));
		/* With several nodes, each node's total after its zones, as
		 * numactl --hardware gives a node's size and free memory. */
		if (st->nr_nodes > 1 && (i + 1 == s->nr_zones || s->zones[i + 1].node != z->node)) {
			uint64_t managed = 0, free = 0;
			int big = -1;

			for (size_t j = first; j <= i; j++) {
				managed += s->zones[j].managed;
				free += s->zones[j].free;
				if (largest_order(&s->zones[j]) > big)
					big = largest_order(&s->zones[j]);
			}
			line(t, "%4d %-8s %9s %8s %8s %8s", z->node, "all",
			     hsize(managed * VMC_PAGE_SIZE, a), hsize(free * VMC_PAGE_SIZE, b),
			     hsize((managed - (free < managed ? free : managed)) * VMC_PAGE_SIZE, c),
			     big < 0 ? "-" : hsize((uint64_t)VMC_PAGE_SIZE << big, d));
			first = i + 1;
		}
	}
	line(t, "%s", "");
	t->callers_line = (unsigned)t->nr_lines;
	line(t, "   PAGES     SIZE   AREAS  CALLER (by pages; %zu area%s, %zu caller%s)",
	     s->nr_areas, s->nr_areas == 1 ? "" : "s", s->nr_callers,
	     s->nr_callers == 1 ? "" : "s");
	for (size_t i = 0; i < s->nr_callers && (max_callers < 0 || (int)i < max_callers); i++)
		line(t, "%8" PRIu64 " %8s %7" PRIu64 "  %s", s->callers[i].pages,
		     hsize(s->callers[i].bytes, a), s->callers[i].areas,
		     s->callers[i].caller[0] ? s->callers[i].caller : "(none)");
}

static json_object *frame_json(const struct top *t, const struct sample *s)
{
	json_object *o = json_object_new_object(), *zs = json_object_new_array();
	json_object *cs = json_object_new_array(), *st = json_object_new_object();

	jput(st, "total_pages", json_object_new_uint64(s->st.total_pages));
	jput(st, "free_pages", json_object_new_uint64(s->st.free_pages));
	jput(st, "vmalloc_pages", json_object_new_uint64(s->st.vmalloc_pages));
	jput(st, "vmap_pages", json_object_new_uint64(s->st.vmap_pages));
	jput(st, "alloc_pages_pages", json_object_new_uint64(s->st.alloc_pages_pages));
	jput(st, "pagetable_pages", json_object_new_uint64(s->st.pagetable_pages));
	jput(st, "resident_pages", json_object_new_uint64(s->st.resident_pages));
	jput(st, "max_resident_pages", json_object_new_uint64(s->st.max_resident_pages));
	jput(st, "nr_areas", json_object_new_uint64(s->st.nr_areas));
	jput(st, "nr_lazy_areas", json_object_new_uint64(s->st.nr_lazy_areas));
	jput(st, "lazy_pages", json_object_new_uint64(s->st.lazy_pages));
	jput(st, "nr_purges", json_object_new_uint64(s->st.nr_purges));
	jput(st, "nr_tlb_flushes", json_object_new_uint64(s->st.nr_tlb_flushes));
	jput(st, "nr_alloc_failures", json_object_new_uint64(s->st.nr_alloc_failures));
	jput(st, "largest_free_kva_bytes", json_object_new_uint64(s->st.largest_free_kva));
	jput(st, "clients", json_object_new_uint64(s->st.clients));
	jput(st, "requests", json_object_new_uint64(s->st.requests));
	jput(st, "uptime_ms", json_object_new_uint64(s->st.uptime_ms));
	jput(o, "stats", st);
	jput(o, "order", json_object_new_int((int)t->order));
	for (size_t i = 0; i < s->nr_zones; i++) {
		const struct vmc_zone *z = &s->zones[i];
		json_object *jz = json_object_new_object();
		int k = largest_order(z);

		jput(jz, "node", json_object_new_int(z->node));
		jput(jz, "zone", json_object_new_string(z->name));
		jput(jz, "managed_pages", json_object_new_uint64(z->managed));
		jput(jz, "free_pages", json_object_new_uint64(z->free));
		jput(jz, "largest_free_block_bytes",
		     json_object_new_uint64(k < 0 ? 0 : (uint64_t)VMC_PAGE_SIZE << k));
		jput(jz, "unusable_index", jmilli(z->unusable_index[t->order]));
		jput(jz, "extfrag_index", jmilli(z->extfrag_index[t->order]));
		json_object_array_add(zs, jz);
	}
	jput(o, "zones", zs);
	for (size_t i = 0; i < s->nr_callers; i++) {
		json_object *jc = json_object_new_object();

		jput(jc, "caller", json_object_new_string(s->callers[i].caller));
		jput(jc, "pages", json_object_new_uint64(s->callers[i].pages));
		jput(jc, "size_bytes", json_object_new_uint64(s->callers[i].bytes));
		jput(jc, "areas", json_object_new_uint64(s->callers[i].areas));
		json_object_array_add(cs, jc);
	}
	jput(o, "callers", cs);
	return o;
}

/* ---- batch ------------------------------------------------------------------------------ */

static int batch_sample(const struct cmd *cmd, long i, void *ctx)
{
	struct top *t = ctx;
	struct sample s;
	int r = take_sample(cmd, &s);

	if (r < 0)
		return fail(cmd, NULL, r);
	if (arg_json) {
		json_object *o = frame_json(t, &s);

		if (t->stream)
			jprint_line(o);
		else
			jprint(o);
	} else {
		build_frame(t, &s, -1);
		if (i > 0)
			putchar('\n');
		for (int k = 0; k < t->nr_lines; k++)
			puts(t->lines[k]);
	}
	t->prev = s.st;
	t->have_prev = true;
	sample_free(&s);
	return VMCTL_EXIT_OK;
}

/* ---- interactive ---------------------------------------------------------------------- */

static void draw(struct top *t)
{
	erase();
	for (int k = 0; k < t->nr_lines && k < LINES - 1; k++) {
		if (k == 0 || (unsigned)k == t->header_lines + 1 || (unsigned)k == t->callers_line)
			attron(A_BOLD);
		mvaddnstr(k, 0, t->lines[k], COLS);
		attroff(A_BOLD);
	}
	attron(A_REVERSE);
	mvaddnstr(LINES - 1, 0, " q: quit", COLS);
	attroff(A_REVERSE);
	refresh();
}

static int interactive(const struct cmd *cmd, struct top *t)
{
	unsigned interval = t->rp.interval_ms ? t->rp.interval_ms : 2000;
	SCREEN *scr;
	struct sample s;
	int r = 0, ch;

	scr = newterm(NULL, stdout, stdin);
	if (!scr)
		return usage_err(cmd, "cannot drive this terminal (TERM=%s): use --batch",
				 getenv("TERM") ? getenv("TERM") : "");
	/* raw: ^C arrives as a key, so the terminal is always restored. */
	raw();
	noecho();
	curs_set(0);
	keypad(stdscr, TRUE);
	for (;;) {
		r = take_sample(cmd, &s);
		if (r < 0)
			break;
		/* The callers fill what the screen has left below the tables. */
		build_frame(t, &s, -1);
		t->prev = s.st;
		t->have_prev = true;
		sample_free(&s);
		draw(t);
		timeout((int)interval);
		ch = getch();
		while (ch == KEY_RESIZE) {
			draw(t);
			ch = getch();
		}
		if (ch == 'q' || ch == 'Q' || ch == 3 /* ^C */)
			break;
	}
	endwin();
	delscreen(scr);
	return r < 0 ? fail(cmd, NULL, r) : VMCTL_EXIT_OK;
}

/* ---- the command ------------------------------------------------------------------------ */

static int top_opt(const struct cmd *cmd, int ch, const char *optarg, void *ctx)
{
	struct top *t = ctx;

	switch (ch) {
	case OPT_BATCH:
		t->batch = true;
		return 0;
	case OPT_ORDER:
		return arg_long(cmd, "order", optarg, 0, VMC_MAX_PAGE_ORDER, &t->order);
	}
	return repeat_opt(cmd, ch, optarg, &t->rp);
}

int cmd_top(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "batch", no_argument, NULL, OPT_BATCH },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "order", required_argument, NULL, OPT_ORDER },
		COMMON_OPTS
	};
	struct top *t = calloc(1, sizeof(*t));
	struct vmc_hello h;
	int r;

	if (!t)
		return fail(cmd, NULL, -ENOMEM);
	t->order = TOP_DEFAULT_ORDER;
	positional(cmd, argc, argv, opts, top_opt, t, NULL, 0, 0);
	if (vmc_hello(client(cmd), &h) == 0)
		snprintf(t->server, sizeof(t->server), "%s", h.server);
	if (t->batch || arg_json || !isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
		/* One frame unless told otherwise, as top -b -n 1. */
		t->stream = t->rp.count > 1 || (t->rp.interval_ms && !t->rp.count);
		if (!t->rp.count && !t->rp.interval_ms)
			t->rp.count = 1;
		if (!t->rp.interval_ms)
			t->rp.interval_ms = 2000;
		r = repeat_run(&t->rp, batch_sample, cmd, t);
	} else {
		if (t->rp.count)
			r = usage_err(cmd, "--count goes with --batch");
		else
			r = interactive(cmd, t);
	}
	free(t);
	return r;
}
