/* test_trace.c -- the trace formats: each parser against hand-written
 * fixtures (tests/fixtures/trace), field by field; every error message,
 * exactly; --skip-bad; format detection; the native format's round trip
 * and its refusals; streaming through a pipe across buffer boundaries; and
 * the replay's key map against a plain array as its oracle.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gfp.h"
#include "keymap.h"
#include "native.h"
#include "tracetest.h"
#include "vmtest.h"

#define EV(t, i) (&(t)->ev[i])

static bool msg_is(const struct tt_trace *t, const char *want)
{
	if (!strcmp(t->err, want))
		return true;
	fprintf(stderr, "\n    message: \"%s\"\n    expected \"%s\"\n", t->err, want);
	return false;
}

/* ---- ftrace ---------------------------------------------------------------- */

static void test_ftrace_sample(void)
{
	struct tt_trace *t = tt_read_file(TT_FIXTURE("trace/ftrace-sample.trace"), VT_FMT_AUTO,
					  false);
	const struct vt_event *e;

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->rc, 0);
	CU_ASSERT_EQUAL(t->info.format, VT_FMT_FTRACE);
	CU_ASSERT_EQUAL(t->info.cpus, 4);
	CU_ASSERT_EQUAL(t->info.other_events, 1);
	CU_ASSERT_EQUAL(t->info.lost_events, 7);
	CU_ASSERT_EQUAL(t->info.lines, 28);
	CU_ASSERT_FATAL(t->n == 13);

	e = EV(t, 0);                           /* a thread stack */
	CU_ASSERT_EQUAL(e->op, VT_OP_ALLOC);
	CU_ASSERT_EQUAL(e->line, 13);
	CU_ASSERT_STRING_EQUAL(e->comm, "bash");
	CU_ASSERT_EQUAL(e->pid, 1234);
	CU_ASSERT_EQUAL(e->tgid, -1);
	CU_ASSERT_EQUAL(e->cpu, 2);
	CU_ASSERT_EQUAL(e->ts_ns, 100000001000ull);
	CU_ASSERT_EQUAL(e->addr, 18446683600570023936ull);
	CU_ASSERT_EQUAL(e->addr, 0xffffc90000000000ull);
	CU_ASSERT_EQUAL(e->size, 20480);
	CU_ASSERT_EQUAL(e->align, 16384);
	CU_ASSERT_EQUAL(e->vstart, 0xffffc90000000000ull);
	CU_ASSERT_EQUAL(e->vend, 0xffffe8ffffffffffull);
	CU_ASSERT_EQUAL(e->flags, VT_EV_ADDR | VT_EV_KVA_SIZE | VT_EV_ALIGN | VT_EV_WINDOW);
	CU_ASSERT_PTR_NULL(e->caller);

	e = EV(t, 1);                           /* 5-character flags "d..1." */
	CU_ASSERT_EQUAL(e->op, VT_OP_FREE);
	CU_ASSERT_STRING_EQUAL(e->comm, "kworker/0:1");
	CU_ASSERT_EQUAL(e->pid, 11);
	CU_ASSERT_EQUAL(e->addr, 0xffffc90000000000ull);
	CU_ASSERT_EQUAL(e->nr_lazy, 5);
	CU_ASSERT_EQUAL(e->nr_lazy_max, 32768);
	CU_ASSERT_EQUAL(e->flags, VT_EV_ADDR | VT_EV_LAZY);

	e = EV(t, 2);                           /* a comm with a space, 4-character flags */
	CU_ASSERT_STRING_EQUAL(e->comm, "Web Content");
	CU_ASSERT_EQUAL(e->pid, 4242);
	CU_ASSERT_EQUAL(e->size, 8192);
	CU_ASSERT_EQUAL(e->align, 1);
	CU_ASSERT_EQUAL(e->ts_ns, 100000020000ull);

	e = EV(t, 3);                           /* failed=1, with a (tgid) column */
	CU_ASSERT_EQUAL(e->op, VT_OP_ALLOC);
	CU_ASSERT_EQUAL(e->line, 17);
	CU_ASSERT_EQUAL(e->tgid, 1230);
	CU_ASSERT_EQUAL(e->flags & (VT_EV_FAILED | VT_EV_ADDR), VT_EV_FAILED);
	CU_ASSERT_EQUAL(e->size, 1073745920);

	e = EV(t, 4);                           /* "(-------)": tgid unknown */
	CU_ASSERT_EQUAL(e->op, VT_OP_PAGE_ALLOC);
	CU_ASSERT_EQUAL(e->tgid, -1);
	CU_ASSERT_EQUAL(e->pfn, 0x160d64);
	CU_ASSERT_EQUAL(e->order, 2);
	CU_ASSERT_EQUAL(e->migratetype, 0);
	CU_ASSERT_EQUAL(e->gfp, GFP_KERNEL | __GFP_ZERO);

	e = EV(t, 5);                           /* a decimal pfn, as older kernels print */
	CU_ASSERT_EQUAL(e->pfn, 1234);
	CU_ASSERT_EQUAL(e->migratetype, 1);
	CU_ASSERT_EQUAL(e->gfp, GFP_HIGHUSER | __GFP_MOVABLE);

	e = EV(t, 6);                           /* a failed page allocation */
	CU_ASSERT_EQUAL(e->op, VT_OP_PAGE_ALLOC);
	CU_ASSERT_EQUAL(e->flags & (VT_EV_FAILED | VT_EV_ADDR), VT_EV_FAILED);
	CU_ASSERT_EQUAL(e->order, 3);
	CU_ASSERT_EQUAL(e->gfp, GFP_ATOMIC | __GFP_NOWARN);

	e = EV(t, 7);
	CU_ASSERT_EQUAL(e->op, VT_OP_PAGE_FREE);
	CU_ASSERT_EQUAL(e->pfn, 0x160d64);
	CU_ASSERT_EQUAL(e->order, 2);

	e = EV(t, 8);                           /* mm_page_free_batched */
	CU_ASSERT_EQUAL(e->op, VT_OP_PAGE_FREE);
	CU_ASSERT_EQUAL(e->pfn, 0x4d2);
	CU_ASSERT_EQUAL(e->order, 0);

	e = EV(t, 9);
	CU_ASSERT_EQUAL(e->op, VT_OP_PURGE);
	CU_ASSERT_EQUAL(e->vstart, 0xffffc90000000000ull);
	CU_ASSERT_EQUAL(e->vend, 0xffffc90000008000ull);
	CU_ASSERT_EQUAL(e->count, 1);
	CU_ASSERT_STRING_EQUAL(e->comm, "kworker/u8:0");

	e = EV(t, 10);                          /* "vmalloc:" prefix; "[1]" in the comm */
	CU_ASSERT_EQUAL(e->op, VT_OP_ALLOC);
	CU_ASSERT_STRING_EQUAL(e->comm, "my-prog-[1]");
	CU_ASSERT_EQUAL(e->pid, 99);
	CU_ASSERT_EQUAL(e->cpu, 1);
	CU_ASSERT_EQUAL(e->size, 1052672);
	free(t);
}

static void test_ftrace_tracecmd_and_pipe(void)
{
	struct tt_trace *t = tt_read_file(TT_FIXTURE("trace/ftrace-tracecmd.txt"), VT_FMT_AUTO,
					  false);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->rc, 0);
	CU_ASSERT_EQUAL(t->info.format, VT_FMT_FTRACE);
	CU_ASSERT_EQUAL(t->info.cpus, 2);
	CU_ASSERT_FATAL(t->n == 4);
	CU_ASSERT_STRING_EQUAL(EV(t, 0)->comm, "bash");
	CU_ASSERT_EQUAL(EV(t, 0)->pid, 32154);
	CU_ASSERT_EQUAL(EV(t, 0)->ts_ns, 2953735825000ull);
	/* An instance's line: "tcmd-7017:" is not part of the comm. */
	CU_ASSERT_STRING_EQUAL(EV(t, 1)->comm, "bash");
	CU_ASSERT_EQUAL(EV(t, 1)->pid, 31773);
	CU_ASSERT_EQUAL(EV(t, 1)->addr, 18446683600666558464ull);
	CU_ASSERT_EQUAL(EV(t, 2)->nr_lazy, 12416);
	/* trace-cmd prints the page as its pfn. */
	CU_ASSERT_EQUAL(EV(t, 3)->pfn, 0x154969);
	free(t);

	t = tt_read_file(TT_FIXTURE("trace/ftrace-pipe.txt"), VT_FMT_AUTO, false);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->rc, 0);
	CU_ASSERT_EQUAL(t->info.format, VT_FMT_FTRACE);
	CU_ASSERT_EQUAL(t->info.cpus, 0);       /* trace_pipe has no header */
	CU_ASSERT_EQUAL(t->n, 2);
	free(t);
}

static const struct {
	const char *text;
	const char *msg;
} ftrace_bad[] = {
	{ "garbage\n", "f.trace:1: not an ftrace event line" },
	{ "# tracer: nop\n#\n bash-1 [000] ..... 1.0: alloc_vmap_area: va_start: 1 align=1 "
	  "vstart=0x0 vend=0x1 failed=0\n",
	  "f.trace:3: alloc_vmap_area: no size field" },
	{ " bash-1 [000] ..... 1.0: alloc_vmap_area: va_start: 1 size=12x align=1 vstart=0x0 "
	  "vend=0x1 failed=0\n",
	  "f.trace:1: alloc_vmap_area: bad size '12x'" },
	{ " bash-1 [000] ..... 1.0: alloc_vmap_area: va_start: 99999999999999999999 size=1 "
	  "align=1 vstart=0x0 vend=0x1 failed=0\n",
	  "f.trace:1: alloc_vmap_area: bad va_start '99999999999999999999'" },
	{ " bash-1 [000] ..... 1.0: alloc_vmap_area: va_start: 1 size=8192 align=1 "
	  "vstart=0x0 vend=0x1\n",
	  "f.trace:1: alloc_vmap_area: no failed field" },
	{ " kworker/0:1-11 [000] ..... 1.0: free_vmap_area_noflush: va_start=0x1000 nr_lazy=5\n",
	  "f.trace:1: free_vmap_area_noflush: no nr_lazy_max field" },
	{ " kworker/0:1-11 [000] ..... 1.0: free_vmap_area_noflush: va_start=0x10000000000000000 "
	  "nr_lazy=5 nr_lazy_max=6\n",
	  "f.trace:1: free_vmap_area_noflush: bad va_start '0x10000000000000000'" },
	{ " k-12 [000] ..... 1.0: purge_vmap_area_lazy: start=0x1 end=0x2 num_purged=-1\n",
	  "f.trace:1: purge_vmap_area_lazy: bad num_purged '-1'" },
	{ " b-1 [000] ..... 1.0: mm_page_alloc: page=0000000000001 pfn=0x10 order=0 "
	  "migratetype=0 gfp_flags=GFP_KERNEL|bogus\n",
	  "f.trace:1: mm_page_alloc: bad gfp_flags 'GFP_KERNEL|bogus'" },
	{ " b-1 [000] ..... 1.0: mm_page_alloc: pfn=0x10 order=0 migratetype=0 "
	  "gfp_flags=GFP_KERNEL\n",
	  "f.trace:1: mm_page_alloc: no page field" },
	{ " b-1 [000] ..... 1.0: mm_page_alloc: page=00000001 pfn=0x10 order=0 "
	  "migratetype=0\n",
	  "f.trace:1: mm_page_alloc: no gfp_flags field" },
	{ " b-1 [000] ..... 1.0: mm_page_free: page=00000001 pfn=0x10 order=99\n",
	  "f.trace:1: mm_page_free: bad order '99'" },
	{ " b-1 [000] ..... 1.0: mm_page_free: page=00000001 pfn=zz order=1\n",
	  "f.trace:1: mm_page_free: bad pfn 'zz'" },
};

static void test_ftrace_errors(void)
{
	for (size_t i = 0; i < sizeof(ftrace_bad) / sizeof(ftrace_bad[0]); i++) {
		struct tt_trace *t = tt_read_text("f.trace", ftrace_bad[i].text, VT_FMT_FTRACE,
						  false);

		CU_ASSERT_FATAL(t != NULL);
		T_ASSERT_MSG(t->rc == -EBADMSG, "case %zu: rc %d", i, t->rc);
		T_ASSERT_MSG(msg_is(t, ftrace_bad[i].msg), "case %zu", i);
		CU_ASSERT_EQUAL(t->n, 0);
		free(t);
	}
}

static void test_long_line(void)
{
	size_t n = VT_LINE_MAX + 100;
	char *text = malloc(n + 200);
	struct tt_trace *t;

	CU_ASSERT_FATAL(text != NULL);
	strcpy(text, " b-1 [000] ..... 1.0: x: ");
	memset(text + strlen(text), 'a', n);
	strcpy(text + n, "\n b-1 [000] ..... 1.0: purge_vmap_area_lazy: start=0x1 end=0x2 "
	       "num_purged=1\n");
	t = tt_read_text("long.trace", text, VT_FMT_FTRACE, false);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->rc, -EBADMSG);
	CU_ASSERT(msg_is(t, "long.trace:1: line longer than 65536 bytes"));
	free(t);
	/* Skipped, the line after it is read. */
	t = tt_read_text("long.trace", text, VT_FMT_FTRACE, true);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->rc, 0);
	CU_ASSERT_EQUAL(t->info.bad_lines, 1);
	CU_ASSERT_STRING_EQUAL(t->info.bad_first, "long.trace:1: line longer than 65536 bytes");
	CU_ASSERT_EQUAL(t->n, 1);
	CU_ASSERT_EQUAL(EV(t, 0)->op, VT_OP_PURGE);
	CU_ASSERT_EQUAL(EV(t, 0)->line, 2);
	free(t);
	free(text);
}

static void test_skip_bad(void)
{
	static const char text[] =
		"# tracer: nop\n"
		" b-1 [000] ..... 1.0: purge_vmap_area_lazy: start=0x1 end=0x2 num_purged=1\n"
		"this is not a trace line\n"
		" b-1 [000] ..... 1.0: mm_page_free: page=00000001 pfn=0x10 order=x\n"
		" b-1 [000] ..... 1.0: purge_vmap_area_lazy: start=0x1 end=0x2 num_purged=2\n";
	struct tt_trace *t = tt_read_text("s.trace", text, VT_FMT_AUTO, false);

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->rc, -EBADMSG);
	CU_ASSERT(msg_is(t, "s.trace:3: not an ftrace event line"));
	CU_ASSERT_EQUAL(t->n, 1);
	free(t);
	t = tt_read_text("s.trace", text, VT_FMT_AUTO, true);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->rc, 0);
	CU_ASSERT_EQUAL(t->n, 2);
	CU_ASSERT_EQUAL(t->info.bad_lines, 2);
	CU_ASSERT_STRING_EQUAL(t->info.bad_first, "s.trace:3: not an ftrace event line");
	CU_ASSERT_EQUAL(EV(t, 1)->count, 2);
	CU_ASSERT_EQUAL(EV(t, 1)->line, 5);
	free(t);
}

/* ---- malloc lab -------------------------------------------------------------- */

static void test_malloclab_sample(void)
{
	struct tt_trace *t = tt_read_file(TT_FIXTURE("trace/malloclab-sample.rep"), VT_FMT_AUTO,
					  false);
	static const struct { enum vt_op op; uint64_t id, size; } want[] = {
		{ VT_OP_ALLOC, 0, 2040 }, { VT_OP_ALLOC, 1, 4072 }, { VT_OP_REALLOC, 0, 5000 },
		{ VT_OP_FREE, 1, 0 }, { VT_OP_ALLOC, 2, 16 }, { VT_OP_ALLOC, 3, 12288 },
		{ VT_OP_REALLOC, 2, 0 }, { VT_OP_FREE, 0, 0 }, { VT_OP_FREE, 3, 0 },
	};

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->rc, 0);
	CU_ASSERT_EQUAL(t->info.format, VT_FMT_MALLOCLAB);
	CU_ASSERT_FATAL(t->n == 9);
	for (unsigned i = 0; i < 9; i++) {
		const struct vt_event *e = EV(t, i);

		CU_ASSERT_EQUAL(e->op, want[i].op);
		CU_ASSERT_EQUAL(e->addr, want[i].id);
		CU_ASSERT_EQUAL(e->size, want[i].size);
		CU_ASSERT(e->flags & VT_EV_ID);
		CU_ASSERT(!(e->flags & VT_EV_ADDR));
		CU_ASSERT_EQUAL(e->line, 5 + i);
	}
	CU_ASSERT_EQUAL(EV(t, 2)->new_addr, 0);
	CU_ASSERT(EV(t, 2)->flags & VT_EV_NEW_ADDR);
	free(t);
}

static const struct {
	const char *text;
	const char *msg;
} malloclab_bad[] = {
	{ "20000\n4\nx\n1\n", "m.rep:3: header: bad number 'x'" },
	{ "20000 4 3 1 7\n", "m.rep:1: header: more than 4 numbers" },
	{ "20000\n4\n", "m.rep:2: header: expected 4 numbers, found 2" },
	{ "1 2 3 1\nx 0 10\n", "m.rep:2: unknown operation 'x'" },
	{ "1 2 3 1\nalloc 0 10\n", "m.rep:2: unknown operation 'alloc'" },
	{ "1 2 3 1\na 1\n", "m.rep:2: expected 'a ID BYTES'" },
	{ "1 2 3 1\nr 1 x\n", "m.rep:2: expected 'r ID BYTES'" },
	{ "1 2 3 1\nf 1 2\n", "m.rep:2: expected 'f ID'" },
	{ "1 2 3 1\na 2 10\n", "m.rep:2: id 2 out of range (the header declares 2 ids)" },
	{ "1 2 1 1\na 0 10\nf 0\n", "m.rep:3: more operations than the header declares (1)" },
	{ "1 2 3 1\na 0 10\nf 0\n\n", "m.rep:4: the header declares 3 operations, the trace has 2" },
};

static void test_malloclab_errors(void)
{
	for (size_t i = 0; i < sizeof(malloclab_bad) / sizeof(malloclab_bad[0]); i++) {
		struct tt_trace *t = tt_read_text("m.rep", malloclab_bad[i].text, VT_FMT_MALLOCLAB,
						  false);

		CU_ASSERT_FATAL(t != NULL);
		T_ASSERT_MSG(t->rc == -EBADMSG, "case %zu: rc %d", i, t->rc);
		T_ASSERT_MSG(msg_is(t, malloclab_bad[i].msg), "case %zu", i);
		free(t);
	}
}

/* ---- mtrace ------------------------------------------------------------------ */

static void test_mtrace_sample(void)
{
	struct tt_trace *t = tt_read_file(TT_FIXTURE("trace/mtrace-sample.log"), VT_FMT_AUTO,
					  false);
	const struct vt_event *e;

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->rc, 0);
	CU_ASSERT_EQUAL(t->info.format, VT_FMT_MTRACE);
	CU_ASSERT_FATAL(t->n == 15);
	e = EV(t, 0);
	CU_ASSERT_EQUAL(e->op, VT_OP_ALLOC);
	CU_ASSERT_EQUAL(e->addr, 0x55b6635a94a0ull);
	CU_ASSERT_EQUAL(e->size, 100);
	CU_ASSERT_STRING_EQUAL(e->caller, "./p:[0x11b0]");
	CU_ASSERT_EQUAL(e->flags, VT_EV_ADDR);
	e = EV(t, 2);                           /* "<" and ">": one realloc */
	CU_ASSERT_EQUAL(e->op, VT_OP_REALLOC);
	CU_ASSERT_EQUAL(e->line, 5);
	CU_ASSERT_EQUAL(e->addr, 0x55b6635a94a0ull);
	CU_ASSERT_EQUAL(e->new_addr, 0x55b6635a9590ull);
	CU_ASSERT_EQUAL(e->size, 5000);
	CU_ASSERT_EQUAL(e->flags, VT_EV_ADDR | VT_EV_NEW_ADDR);
	e = EV(t, 4);
	CU_ASSERT_EQUAL(e->op, VT_OP_FREE);
	CU_ASSERT_EQUAL(e->addr, 0x55b6635aa920ull);
	e = EV(t, 9);                           /* malloc(-1): "+ (nil)" */
	CU_ASSERT_EQUAL(e->op, VT_OP_ALLOC);
	CU_ASSERT_EQUAL(e->flags, VT_EV_FAILED);
	CU_ASSERT_EQUAL(e->size, UINT64_MAX);
	e = EV(t, 11);                          /* "!": a failed realloc */
	CU_ASSERT_EQUAL(e->op, VT_OP_REALLOC);
	CU_ASSERT_EQUAL(e->flags, VT_EV_ADDR | VT_EV_FAILED);
	CU_ASSERT_EQUAL(e->addr, 0x55b6635a92a0ull);
	e = EV(t, 12);                          /* a caller with a symbol */
	CU_ASSERT_STRING_EQUAL(e->caller ? e->caller : "",
			       "/lib/x86_64-linux-gnu/libc.so.6:(clone+0x3f)[0x7f1c2d8e]");
	CU_ASSERT_EQUAL(e->size, 0x2000);
	CU_ASSERT_PTR_NULL(EV(t, 13)->caller);  /* no "@" */
	CU_ASSERT_EQUAL(EV(t, 13)->op, VT_OP_FREE);
	e = EV(t, 14);                          /* a decimal size, the last line */
	CU_ASSERT_EQUAL(e->line, 17);
	CU_ASSERT_EQUAL(e->addr, 0x55b6635ac000ull);
	CU_ASSERT_EQUAL(e->size, 100);
	free(t);
}

static const struct {
	const char *text;
	const char *msg;
} mtrace_bad[] = {
	{ "= Start\nhello\n", "t.log:2: not an mtrace line" },
	{ "= Start\n@ ./p:[0x1] > 0x10 0x20\n", "t.log:2: '>' without a '<' before it" },
	{ "@ ./p:[0x1] < 0x10\n@ ./p:[0x2] + 0x30 0x8\n",
	  "t.log:2: expected '>' after the '<' of line 1" },
	{ "@ ./p:[0x1] < 0x10\n", "t.log:1: expected '>' after the '<' of line 1" },
	{ "+ 0xzz 0x10\n", "t.log:1: bad address '0xzz'" },
	{ "+ 0x10 size\n", "t.log:1: bad size 'size'" },
	{ "- 0x10 0x20\n", "t.log:1: trailing text '0x20'" },
	{ "@ ./p:[0x1] < (nil)\n", "t.log:1: '<' of a null pointer" },
};

static void test_mtrace_errors(void)
{
	for (size_t i = 0; i < sizeof(mtrace_bad) / sizeof(mtrace_bad[0]); i++) {
		struct tt_trace *t = tt_read_text("t.log", mtrace_bad[i].text, VT_FMT_MTRACE, false);

		CU_ASSERT_FATAL(t != NULL);
		T_ASSERT_MSG(t->rc == -EBADMSG, "case %zu: rc %d", i, t->rc);
		T_ASSERT_MSG(msg_is(t, mtrace_bad[i].msg), "case %zu", i);
		free(t);
	}
}

/* ---- bpftrace ---------------------------------------------------------------- */

static void test_bpftrace_sample(void)
{
	struct tt_trace *t = tt_read_file(TT_FIXTURE("trace/bpftrace-sample.cap"), VT_FMT_AUTO,
					  false);
	const struct vt_event *e;

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->rc, 0);
	CU_ASSERT_EQUAL(t->info.format, VT_FMT_BPFTRACE);
	CU_ASSERT_EQUAL(t->info.cpus, 2);
	CU_ASSERT_STRING_EQUAL(t->info.kernel, "6.18.44-fc-v1147");
	CU_ASSERT_EQUAL(t->info.other_events, 1);       /* "kfree": a newer capture's op */
	CU_ASSERT_FATAL(t->n == 8);

	e = EV(t, 0);
	CU_ASSERT_EQUAL(e->op, VT_OP_ALLOC);
	CU_ASSERT_EQUAL(e->ts_ns, 1000);
	CU_ASSERT_EQUAL(e->cpu, 0);
	CU_ASSERT_EQUAL(e->pid, 100);
	CU_ASSERT_EQUAL(e->size, 16384);
	CU_ASSERT(!(e->flags & VT_EV_KVA_SIZE));
	CU_ASSERT_EQUAL(e->align, 16384);
	CU_ASSERT_EQUAL(e->gfp, GFP_KERNEL);            /* 0xcc0 in 6.x bits */
	CU_ASSERT_EQUAL(e->vm_flags, 0x22);
	CU_ASSERT(e->flags & VT_EV_GFP);
	CU_ASSERT(e->flags & VT_EV_VM_FLAGS);
	CU_ASSERT(!(e->flags & VT_EV_NODE));            /* node=-1 */
	CU_ASSERT_STRING_EQUAL(e->caller, "copy_process+0xd60/0x1de0");
	CU_ASSERT_EQUAL(e->addr, 0xffffc90000010000ull);
	CU_ASSERT_STRING_EQUAL(e->comm, "bash");

	e = EV(t, 1);
	CU_ASSERT_EQUAL(e->node, 0);
	CU_ASSERT(e->flags & VT_EV_NODE);
	CU_ASSERT_EQUAL(e->gfp, GFP_KERNEL | __GFP_HIGHMEM | __GFP_ZERO); /* 0xdc2 */
	CU_ASSERT_STRING_EQUAL(e->comm, "a comm with spaces");

	e = EV(t, 2);
	CU_ASSERT_EQUAL(e->op, VT_OP_REALLOC);
	CU_ASSERT_EQUAL(e->addr, 0xffffc90000020000ull);
	CU_ASSERT_EQUAL(e->new_addr, 0xffffc90000030000ull);
	CU_ASSERT_EQUAL(e->size, 65536);
	CU_ASSERT_PTR_NULL(e->caller);                  /* caller=- */

	e = EV(t, 3);
	CU_ASSERT_EQUAL(e->op, VT_OP_FREE);
	CU_ASSERT(e->flags & VT_EV_ATOMIC);
	CU_ASSERT(!(e->flags & VT_EV_LAZY));

	e = EV(t, 4);
	CU_ASSERT_EQUAL(e->op, VT_OP_FREE);
	CU_ASSERT(!(e->flags & VT_EV_ATOMIC));
	CU_ASSERT_EQUAL(e->nr_lazy, 24);
	CU_ASSERT_EQUAL(e->nr_lazy_max, 16384);

	e = EV(t, 5);
	CU_ASSERT_EQUAL(e->op, VT_OP_PURGE);
	CU_ASSERT_EQUAL(e->count, 2);

	e = EV(t, 6);                           /* tracepoint probes: the KVA size */
	CU_ASSERT_EQUAL(e->op, VT_OP_ALLOC);
	CU_ASSERT_EQUAL(e->size, 8192);
	CU_ASSERT(e->flags & VT_EV_KVA_SIZE);

	e = EV(t, 7);                           /* addr=0x0: the call failed */
	CU_ASSERT_EQUAL(e->flags & (VT_EV_FAILED | VT_EV_ADDR), VT_EV_FAILED);
	free(t);
}

static const struct {
	const char *text;
	const char *msg;
} bpftrace_bad[] = {
	{ "# vmallocd-bpftrace 1\nhello\n", "b.cap:2: expected 'TS CPU PID OP ...'" },
	{ "1 0 1\n", "b.cap:1: expected 'TS CPU PID OP ...'" },
	{ "1 0 1 vmalloc size=10 comm=x\n", "b.cap:1: vmalloc: no addr field" },
	{ "1 0 1 vmalloc addr=0x10 comm=x\n", "b.cap:1: vmalloc: no size field" },
	{ "1 0 1 vmalloc size=1O addr=0x10 comm=x\n", "b.cap:1: vmalloc: bad size '1O'" },
	{ "1 0 1 vfree 0x10 comm=x\n", "b.cap:1: vfree: '0x10' is not key=value" },
	{ "1 0 1 vrealloc addr=0x10 size=5 comm=x\n", "b.cap:1: vrealloc: no new field" },
	{ "1 0 1 purge start=0x10 comm=x\n", "b.cap:1: purge: no end field" },
	{ "1 0 1 vmalloc size=1 node=x addr=0x1\n", "b.cap:1: vmalloc: bad node 'x'" },
};

static void test_bpftrace_errors(void)
{
	for (size_t i = 0; i < sizeof(bpftrace_bad) / sizeof(bpftrace_bad[0]); i++) {
		struct tt_trace *t = tt_read_text("b.cap", bpftrace_bad[i].text, VT_FMT_BPFTRACE,
						  false);

		CU_ASSERT_FATAL(t != NULL);
		T_ASSERT_MSG(t->rc == -EBADMSG, "case %zu: rc %d", i, t->rc);
		T_ASSERT_MSG(msg_is(t, bpftrace_bad[i].msg), "case %zu", i);
		free(t);
	}
}

/* ---- detection ----------------------------------------------------------------- */

static void test_detection(void)
{
	static const struct { const char *text; enum vt_format f; } cases[] = {
		{ "# tracer: nop\n", VT_FMT_FTRACE },
		{ "cpus=4\n", VT_FMT_FTRACE },
		{ "  b-1 [000] ..... 1.0: x: y\n", VT_FMT_FTRACE },
		{ "# vmallocd-bpftrace 1\n", VT_FMT_BPFTRACE },
		{ "= Start\n", VT_FMT_MTRACE },
		{ "+ 0x10 0x20\n", VT_FMT_MTRACE },
		{ "\n\n20000\n2\n0\n1\n", VT_FMT_MALLOCLAB },
		{ "", VT_FMT_FTRACE },
	};
	struct tt_trace *t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = tt_read_text("d", cases[i].text, VT_FMT_AUTO, true);
		CU_ASSERT_FATAL(t != NULL);
		T_ASSERT_MSG(t->info.format == cases[i].f, "case %zu: %s", i,
			     vt_format_name(t->info.format));
		free(t);
	}
	t = tt_read_text("what.txt", "hello world\n", VT_FMT_AUTO, false);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->rc, -EBADMSG);
	CU_ASSERT(msg_is(t, "what.txt:1: cannot tell the trace's format (use --format)"));
	free(t);
	t = tt_read_file("/nonexistent/trace", VT_FMT_AUTO, false);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(t->rc, -ENOENT);
	CU_ASSERT(msg_is(t, "/nonexistent/trace: No such file or directory"));
	free(t);
}

/* ---- native ------------------------------------------------------------------ */

/* Convert path to the native format and compare every event of the two
 * readings; returns the native file's path (malloc'd). */
static char *round_trip(const char *path, const char *native_name)
{
	struct vt_reader_opts o = { 0 };
	struct vt_reader *r, *n;
	struct vt_writer *w;
	struct vt_event ev, nev;
	char msg[VT_MSG_MAX], *out = tt_temp_file(native_name, "", 0);
	uint64_t count = 0;
	char callers[2][VT_STR_MAX + 1], comms[2][VT_STR_MAX + 1];
	int k;

	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_FATAL(vt_reader_open(path, &o, &r, msg) == 0);
	CU_ASSERT_FATAL(vt_writer_open(out, vt_reader_info(r), &w, msg) == 0);
	while ((k = vt_reader_next(r, &ev)) == 1)
		CU_ASSERT_FATAL(vt_writer_write(w, &ev) == 0);
	CU_ASSERT_EQUAL(k, 0);
	CU_ASSERT_EQUAL(vt_writer_close(w, true), 0);
	vt_reader_close(r);

	CU_ASSERT_FATAL(vt_reader_open(path, &o, &r, msg) == 0);
	CU_ASSERT_FATAL(vt_reader_open(out, &o, &n, msg) == 0);
	for (;;) {
		int a = vt_reader_next(r, &ev), b;

		/* The strings of ev live until r's next call: keep copies. */
		if (a == 1) {
			if (ev.caller)
				ev.caller = strcpy(callers[0], ev.caller);
			if (ev.comm)
				ev.comm = strcpy(comms[0], ev.comm);
		}
		b = vt_reader_next(n, &nev);
		CU_ASSERT_EQUAL_FATAL(a, b);
		if (a != 1)
			break;
		(void)callers[1];
		(void)comms[1];
		T_ASSERT_MSG(vt_event_equal(&ev, &nev), "%s: event %llu differs", path,
			     (unsigned long long)count);
		count++;
	}
	CU_ASSERT(count > 0);
	CU_ASSERT_EQUAL(vt_reader_info(n)->format, VT_FMT_NATIVE);
	CU_ASSERT_EQUAL(vt_reader_info(n)->source, vt_reader_info(r)->format);
	CU_ASSERT_EQUAL(vt_reader_info(n)->cpus, vt_reader_info(r)->cpus);
	CU_ASSERT_STRING_EQUAL(vt_reader_info(n)->kernel, vt_reader_info(r)->kernel);
	vt_reader_close(r);
	vt_reader_close(n);
	return out;
}

static void test_native_round_trip(void)
{
	static const char *const fixtures[] = {
		"trace/ftrace-sample.trace", "trace/ftrace-tracecmd.txt",
		"trace/malloclab-sample.rep", "trace/mtrace-sample.log",
		"trace/bpftrace-sample.cap", "captures/fork-2000.trace",
		"captures/fork-20-kmem.trace", "captures/fork-1500.bpftrace",
		"captures/fork-600.trace-cmd",
	};

	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		char path[512], name[32];

		snprintf(path, sizeof(path), "%s/%s", TRACE_FIXTURES, fixtures[i]);
		snprintf(name, sizeof(name), "rt%zu.vmt", i);
		free(round_trip(path, name));
	}
}

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 65536 > cap) {
			cap = cap ? 2 * cap : 1 << 20;
			buf = realloc(buf, cap);
			if (!buf)
				break;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	*ret_len = len;
	return buf;
}

static void expect_native_error(const char *name, const void *data, size_t len, const char *msg)
{
	char *path = tt_temp_file(name, data, len), want[1024];
	struct tt_trace *t;

	CU_ASSERT_FATAL(path != NULL);
	t = tt_read_file(path, VT_FMT_NATIVE, false);
	CU_ASSERT_FATAL(t != NULL);
	snprintf(want, sizeof(want), "%s:%s", path, msg);
	T_ASSERT_MSG(t->rc == -EBADMSG, "%s: rc %d", name, t->rc);
	T_ASSERT_MSG(msg_is(t, want), "%s", name);
	free(t);
	free(path);
}

static void test_native_errors(void)
{
	char *good = round_trip(TT_FIXTURE("trace/ftrace-sample.trace"), "good.vmt");
	size_t len;
	char *data = slurp(good, &len);
	struct vt_writer *w;
	struct vt_event ev;
	char msg[VT_MSG_MAX], *p;

	CU_ASSERT_FATAL(data != NULL && len > VT_NATIVE_HEADER_SIZE + 20);
	expect_native_error("magic.vmt", "VMTRACE?", 8, "0: not a native trace (bad magic)");
	expect_native_error("short.vmt", data, 40, "0: truncated header");
	data[8] = 2;
	expect_native_error("version.vmt", data, len, "0: native trace version 2 (this reader knows 1)");
	data[8] = 1;
	/* Records are numbered from 1, string definitions included: the 13
	 * events and 6 comms of the fixture are records 1..19, the end record
	 * (tag and count, 2 bytes) is 20. */
	expect_native_error("noend.vmt", data, len - 2, "20: truncated: no end record");
	expect_native_error("cut.vmt", data, len - 1, "20: truncated record");
	expect_native_error("cut2.vmt", data, len - 6, "19: truncated record");
	/* Something after the end record. */
	p = malloc(len + 1);
	CU_ASSERT_FATAL(p != NULL);
	memcpy(p, data, len);
	p[len] = 0x01;
	expect_native_error("after.vmt", p, len + 1, "21: data after the end record");
	/* An unknown tag. */
	memcpy(p, data, len);
	p[VT_NATIVE_HEADER_SIZE] = 0x7f;
	expect_native_error("tag.vmt", p, len, "1: bad record tag 0x7f");
	free(p);
	/* A writer closed as incomplete (Ctrl-C, a malformed line). */
	free(good);
	good = tt_temp_file("incomplete.vmt", "", 0);
	CU_ASSERT_FATAL(vt_writer_open(good, NULL, &w, msg) == 0);
	vt_event_init(&ev, VT_OP_FREE);
	ev.addr = 0x1000;
	CU_ASSERT_EQUAL(vt_writer_write(w, &ev), 0);
	CU_ASSERT_EQUAL(vt_writer_close(w, false), 0);
	{
		struct tt_trace *t = tt_read_file(good, VT_FMT_AUTO, false);
		char want[600];

		CU_ASSERT_FATAL(t != NULL);
		CU_ASSERT_EQUAL(t->info.format, VT_FMT_NATIVE);
		CU_ASSERT_EQUAL(t->n, 1);
		snprintf(want, sizeof(want), "%s:2: truncated: no end record", good);
		CU_ASSERT(msg_is(t, want));
		free(t);
	}
	free(good);
	free(data);
}

/* Many distinct callers: the writer's table starts over, the ids are
 * redefined, and every event still reads back with its own caller. */
static void test_native_many_strings(void)
{
	char *path = tt_temp_file("strings.vmt", "", 0), msg[VT_MSG_MAX], want[64];
	struct vt_reader_opts o = { 0 };
	struct vt_reader *r;
	struct vt_writer *w;
	struct vt_event ev;
	unsigned n = 3 * VT_NATIVE_MAX_STRINGS + 7, i;

	CU_ASSERT_FATAL(path && vt_writer_open(path, NULL, &w, msg) == 0);
	for (i = 0; i < n; i++) {
		char caller[64];

		vt_event_init(&ev, VT_OP_ALLOC);
		snprintf(caller, sizeof(caller), "fn_%u+0x%x/0x100", i % (n / 2), i);
		ev.caller = caller;
		ev.comm = i % 3 ? "a" : "b";
		ev.addr = 0x1000ull * i;
		ev.flags = VT_EV_ADDR;
		CU_ASSERT_FATAL(vt_writer_write(w, &ev) == 0);
	}
	CU_ASSERT_EQUAL(vt_writer_close(w, true), 0);
	CU_ASSERT_FATAL(vt_reader_open(path, &o, &r, msg) == 0);
	for (i = 0; vt_reader_next(r, &ev) == 1; i++) {
		snprintf(want, sizeof(want), "fn_%u+0x%x/0x100", i % (n / 2), i);
		if (!ev.caller || strcmp(ev.caller, want) || strcmp(ev.comm, i % 3 ? "a" : "b") ||
		    ev.addr != 0x1000ull * i) {
			CU_FAIL("event read back differs");
			break;
		}
	}
	CU_ASSERT_EQUAL(i, n);
	CU_ASSERT_STRING_EQUAL(vt_reader_error(r), "");
	vt_reader_close(r);
	free(path);
}

/* ---- streaming ---------------------------------------------------------------- */

/* 300,000 lines of varying length through a pipe, written in odd-sized
 * pieces: lines cross every buffer boundary, and all arrive in order. */
static void test_pipe_streaming(void)
{
	enum { LINES = 300000 };
	struct vt_reader_opts o = { .format = VT_FMT_FTRACE };
	struct vt_reader *r;
	struct vt_event ev;
	uint64_t n = 0, sum = 0, want = 0;
	int fds[2], status;
	pid_t pid;

	CU_ASSERT_FATAL(pipe(fds) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		static char buf[1 << 16];
		size_t len = 0;

		close(fds[0]);
		for (unsigned i = 0; i < LINES; i++) {
			char line[512];
			int m = snprintf(line, sizeof(line),
					 "%*s-%u [001] ..... %u.%06u: free_vmap_area_noflush: "
					 "va_start=0x%x nr_lazy=%u nr_lazy_max=16384\n",
					 (int)(1 + i % 200), "k", i, i / 1000, i % 1000000,
					 0x1000 * i, i);

			if (len + (size_t)m > sizeof(buf) - 1 || (i % 97) == 0) {
				size_t off = 0;

				while (off < len) {
					ssize_t w = write(fds[1], buf + off,
							  len - off > 4093 ? 4093 : len - off);

					if (w <= 0)
						_exit(1);
					off += (size_t)w;
				}
				len = 0;
			}
			memcpy(buf + len, line, (size_t)m);
			len += (size_t)m;
		}
		if (len && write(fds[1], buf, len) != (ssize_t)len)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	CU_ASSERT_FATAL(vt_reader_open_fd(fds[0], "pipe", &o, &r) == 0);
	while (vt_reader_next(r, &ev) == 1) {
		sum += ev.addr ^ ev.nr_lazy;
		if (ev.line != n + 1)
			break;
		n++;
	}
	for (unsigned i = 0; i < LINES; i++)
		want += (0x1000ull * i) ^ i;
	CU_ASSERT_EQUAL(n, LINES);
	CU_ASSERT_EQUAL(sum, want);
	CU_ASSERT_STRING_EQUAL(vt_reader_error(r), "");
	CU_ASSERT_EQUAL(vt_reader_size(r), 0);
	vt_reader_close(r);
	CU_ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- the key map ---------------------------------------------------------------- */

/* Random inserts and removals against a plain array of flags (the
 * oracle), with keys shaped like the replay's: 16 KiB-aligned addresses
 * side by side, and small ids from 0. */
static void keymap_run(uint64_t base, unsigned shift, uint64_t seed)
{
	enum { N = 20000 };
	struct vt_keymap m;
	struct t_rng rng;
	uint64_t *vals = calloc(N, sizeof(*vals));
	bool *live = calloc(N, sizeof(*live));
	uint64_t nr_live = 0;
	unsigned min_slots, max_slots = 0;

	CU_ASSERT_FATAL(vals && live);
	CU_ASSERT_FATAL(vt_keymap_init(&m) == 0);
	min_slots = (unsigned)(m.mask + 1);
	t_rng_seed(&rng, seed);
	for (unsigned step = 0; step < 400000; step++) {
		/* Phases: mostly inserting, then mostly removing. */
		unsigned i = (unsigned)t_rand_below(&rng, N);
		uint64_t key = base + ((uint64_t)i << shift);
		struct vt_keymap_entry *e = vt_keymap_find(&m, key);
		bool removing = (step / 50000) % 2;

		if ((e != NULL) != live[i]) {
			CU_FAIL("the map and the oracle disagree");
			break;
		}
		if (live[i] && (removing || t_rand_below(&rng, 4) == 0)) {
			if (e->addr != vals[i]) {
				CU_FAIL("a value changed in the map");
				break;
			}
			vt_keymap_remove(&m, e);
			live[i] = false;
			nr_live--;
		} else if (!live[i] && (!removing || t_rand_below(&rng, 4) == 0)) {
			CU_ASSERT_FATAL(vt_keymap_insert(&m, key, &e) == 0);
			CU_ASSERT_EQUAL(e->used, VT_KEY_LIVE);
			vals[i] = e->addr = t_rand(&rng);
			live[i] = true;
			nr_live++;
		}
		CU_ASSERT_EQUAL_FATAL(m.nr, nr_live);
		if (m.mask + 1 > max_slots)
			max_slots = (unsigned)(m.mask + 1);
	}
	/* Its size follows the live keys: at most 1/0.7 of the most live,
	 * rounded up to a power of two. */
	CU_ASSERT(max_slots <= 2 * (unsigned)(N / 0.7));
	for (unsigned i = 0; i < N; i++) {
		struct vt_keymap_entry *e = vt_keymap_find(&m, base + ((uint64_t)i << shift));

		CU_ASSERT_EQUAL_FATAL(e != NULL, live[i]);
		if (e) {
			CU_ASSERT_EQUAL(e->addr, vals[i]);
			vt_keymap_remove(&m, e);
		}
	}
	/* Everything out again: the map is back to its first size. */
	CU_ASSERT_EQUAL(m.nr, 0);
	CU_ASSERT_EQUAL(m.mask + 1, min_slots);
	vt_keymap_done(&m);
	free(vals);
	free(live);
}

static void test_keymap_oracle(void)
{
	uint64_t seed = t_env_u64("VMTEST_SEED", 14);

	keymap_run(0xffffc90000000000ull, 14, seed);
	keymap_run(0, 0, seed + 1);
}

static int suite_clean(void)
{
	tt_cleanup();
	return 0;
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "ftrace_sample", test_ftrace_sample },
		{ "ftrace_tracecmd_and_pipe", test_ftrace_tracecmd_and_pipe },
		{ "ftrace_errors", test_ftrace_errors },
		{ "long_line", test_long_line },
		{ "skip_bad", test_skip_bad },
		{ "malloclab_sample", test_malloclab_sample },
		{ "malloclab_errors", test_malloclab_errors },
		{ "mtrace_sample", test_mtrace_sample },
		{ "mtrace_errors", test_mtrace_errors },
		{ "bpftrace_sample", test_bpftrace_sample },
		{ "bpftrace_errors", test_bpftrace_errors },
		{ "detection", test_detection },
		{ "native_round_trip", test_native_round_trip },
		{ "native_errors", test_native_errors },
		{ "native_many_strings", test_native_many_strings },
		{ "pipe_streaming", test_pipe_streaming },
		{ "keymap_oracle", test_keymap_oracle },
		{ NULL, NULL },
	};

	return t_main_suite("trace", NULL, suite_clean, cases, argc, argv);
}
