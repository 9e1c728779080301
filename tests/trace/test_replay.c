/* test_replay.c -- the replay (trace/replay.c) on the engine in process:
 * the CS:APP trace whose final buddyinfo is the same on every run, the
 * committed real captures of this machine's kernel, and each rule of
 * replay.h on events made by hand (unmatched and implicit frees, failed
 * attempts, realloc, placement, --warm, windows, page blocks, the
 * pipelined prepare/complete use).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gfp.h"
#include "reader.h"
#include "replay.h"
#include "replay_engine.h"
#include "tracetest.h"
#include "vmtest.h"

struct rig {
	struct vm_engine *e;
	struct vt_backend b;
	struct vr_engine x;
	struct vt_replay *rp;
};

static bool rig_make(struct rig *g, enum vm_layout layout, bool warm)
{
	struct vt_replay_opts o = { .warm = warm };

	memset(g, 0, sizeof(*g));
	g->e = t_machine(1 * GIB, 1, layout);
	if (!g->e)
		return false;
	vr_backend_engine(&g->b, &g->x, g->e);
	if (vt_replay_new(&g->b, &o, &g->rp) < 0) {
		vm_engine_destroy(g->e);
		return false;
	}
	return true;
}

static void rig_free(struct rig *g)
{
	vt_replay_free(g->rp);
	vm_engine_destroy(g->e);
}

/* Replay a whole file; the reader's result (0 at the end). */
static int rig_file(struct rig *g, const char *path, struct vt_trace_info *ret_info)
{
	struct vt_reader_opts o = { 0 };
	struct vt_reader *r;
	struct vt_event ev;
	char msg[VT_MSG_MAX];
	int k;

	if (vt_reader_open(path, &o, &r, msg) < 0)
		return -ENOENT;
	while ((k = vt_reader_next(r, &ev)) == 1)
		if (vt_replay_event(g->rp, &ev) < 0)
			break;
	if (ret_info)
		*ret_info = *vt_reader_info(r);
	vt_reader_close(r);
	return k;
}

static const struct vt_replay_stats *S(const struct rig *g)
{
	return vt_replay_stats(g->rp);
}

/* ---- the CS:APP trace: the same buddyinfo every time ------------------- */

static void test_malloclab_determinism(void)
{
	char *buddy[3] = { NULL, NULL, NULL };
	struct vt_machine_state *m[3];

	for (int run = 0; run < 3; run++) {
		struct rig g;

		m[run] = calloc(1, sizeof(*m[run]));
		CU_ASSERT_FATAL(m[run] != NULL);
		CU_ASSERT_FATAL(rig_make(&g, VM_LAYOUT_X86_64, false));
		CU_ASSERT_EQUAL(rig_file(&g, TT_FIXTURE("trace/malloclab-determinism.rep"), NULL), 0);
		CU_ASSERT_EQUAL(S(&g)->events, 421);
		CU_ASSERT_EQUAL(S(&g)->failures, 0);
		CU_ASSERT_EQUAL(S(&g)->unmatched_frees, 0);
		CU_ASSERT_EQUAL(S(&g)->implicit_frees, 0);
		/* 221 allocations, 160 frees, 40 reallocs (in place or moved). */
		CU_ASSERT_EQUAL(S(&g)->by_op[VT_OP_ALLOC], 221);
		CU_ASSERT_EQUAL(S(&g)->by_op[VT_OP_REALLOC], 40);
		CU_ASSERT_EQUAL(S(&g)->live_areas, 221 - 160);
		CU_ASSERT_EQUAL(g.b.state(g.b.ctx, true, m[run]), 0);
		/* The replay's own count of pages is the machine's. */
		CU_ASSERT_EQUAL(S(&g)->live_pages, m[run]->vmalloc_pages);
		buddy[run] = t_buddyinfo(g.e);
		T_CHECK(g.e);
		rig_free(&g);
	}
	CU_ASSERT_FATAL(buddy[0] && buddy[1] && buddy[2]);
	T_TEXT_EQ(buddy[1], buddy[0]);
	T_TEXT_EQ(buddy[2], buddy[0]);
	for (int run = 1; run < 3; run++) {
		CU_ASSERT_EQUAL(m[run]->nr_zones, m[0]->nr_zones);
		CU_ASSERT(!memcmp(m[run]->zones, m[0]->zones,
				  m[0]->nr_zones * sizeof(m[0]->zones[0])));
		CU_ASSERT_EQUAL(m[run]->free_pages, m[0]->free_pages);
		CU_ASSERT_EQUAL(m[run]->largest_free_kva, m[0]->largest_free_kva);
	}
	printf("\n%s", buddy[0]);
	for (int run = 0; run < 3; run++) {
		free(buddy[run]);
		free(m[run]);
	}
}

/* ---- the real captures ------------------------------------------------------ */

static void test_captures(void)
{
	static const struct {
		const char *file;
		unsigned cpus;
		uint64_t events, unmatched;
	} caps[] = {
		{ "captures/fork-2000.trace", 2, 2927, 12 },
		{ "captures/fork-4000-purge.trace", 2, 5882, 14 },
		{ "captures/fork-20-kmem.trace", 2, 4552, 54 },
		{ "captures/fork-600.trace-cmd", 2, 911, 3 },
		{ "captures/fork-1500.bpftrace", 2, 1669, 8 },
		{ "captures/fork-300-pool-bottom-a.bpftrace", 2, 508, 7 },
		{ "captures/fork-300-pool-bottom-b.bpftrace", 2, 362, 7 },
	};

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		struct vt_trace_info info = { 0 };
		struct rig g;
		uint64_t sum = 0;
		char path[512];

		snprintf(path, sizeof(path), "%s/%s", TRACE_FIXTURES, caps[i].file);
		CU_ASSERT_FATAL(rig_make(&g, VM_LAYOUT_X86_64, false));
		CU_ASSERT_EQUAL(rig_file(&g, path, &info), 0);
		T_ASSERT_MSG(info.cpus == caps[i].cpus, "%s: %u CPUs", caps[i].file, info.cpus);
		T_ASSERT_MSG(S(&g)->events == caps[i].events, "%s: %llu events", caps[i].file,
			     (unsigned long long)S(&g)->events);
		for (int op = 0; op < VT_NR_OPS; op++)
			sum += S(&g)->by_op[op];
		CU_ASSERT_EQUAL(sum, S(&g)->events);
		T_ASSERT_MSG(S(&g)->failures == 0, "%s: %llu failures", caps[i].file,
			     (unsigned long long)S(&g)->failures);
		T_ASSERT_MSG(S(&g)->unmatched_frees == caps[i].unmatched, "%s: %llu unmatched",
			     caps[i].file, (unsigned long long)S(&g)->unmatched_frees);
		CU_ASSERT_EQUAL(S(&g)->implicit_frees, 0);
		CU_ASSERT_EQUAL(info.bad_lines, 0);
		CU_ASSERT(S(&g)->placement_pairs > 0);
		T_CHECK(g.e);
		printf("\n  %s: placement %llu of %llu consecutive deltas agree", caps[i].file,
		       (unsigned long long)S(&g)->placement_agree,
		       (unsigned long long)S(&g)->placement_pairs);
		rig_free(&g);
	}
	printf("\n");
}

/* ---- the rules, event by event ----------------------------------------------- */

static struct vt_event ev_alloc(uint64_t addr, uint64_t kva, uint64_t align)
{
	struct vt_event ev;

	vt_event_init(&ev, VT_OP_ALLOC);
	ev.flags = VT_EV_ADDR | VT_EV_KVA_SIZE | VT_EV_ALIGN | VT_EV_WINDOW;
	ev.addr = addr;
	ev.size = kva;
	ev.align = align;
	ev.vstart = 0xffffc90000000000ull;
	ev.vend = 0xffffe8ffffffffffull;
	return ev;
}

static struct vt_event ev_free(uint64_t addr, uint64_t nr_lazy)
{
	struct vt_event ev;

	vt_event_init(&ev, VT_OP_FREE);
	ev.flags = VT_EV_ADDR | (nr_lazy ? VT_EV_LAZY : 0);
	ev.addr = addr;
	ev.nr_lazy = nr_lazy;
	ev.nr_lazy_max = 16384;
	return ev;
}

#define REPLAY(g, ev) do { struct vt_event e_ = (ev); \
	CU_ASSERT_EQUAL(vt_replay_event((g)->rp, &e_), 0); } while (0)

static void test_unmatched_implicit_attempts(void)
{
	struct rig g;
	struct vt_event ev;

	CU_ASSERT_FATAL(rig_make(&g, VM_LAYOUT_X86_64, false));
	REPLAY(&g, ev_free(0xffffc90000abc000ull, 5));     /* from before the trace */
	CU_ASSERT_EQUAL(S(&g)->unmatched_frees, 1);
	CU_ASSERT_EQUAL(S(&g)->calls, 0);
	CU_ASSERT_EQUAL(S(&g)->trace_nr_lazy_max, 16384);

	REPLAY(&g, ev_alloc(0xffffc90000100000ull, 20480, 16384));
	REPLAY(&g, ev_alloc(0xffffc90000100000ull, 20480, 16384)); /* its free was missed */
	CU_ASSERT_EQUAL(S(&g)->implicit_frees, 1);
	CU_ASSERT_EQUAL(S(&g)->live_areas, 1);
	CU_ASSERT_EQUAL(S(&g)->live_pages, 4);
	CU_ASSERT_EQUAL(S(&g)->calls, 3);

	ev = ev_alloc(0xfffffffffffffff4ull, 1ull << 40, 4096);
	ev.flags = (ev.flags & ~VT_EV_ADDR) | VT_EV_FAILED;  /* failed=1: an attempt */
	REPLAY(&g, ev);
	CU_ASSERT_EQUAL(S(&g)->failed_attempts, 1);
	ev.flags &= ~VT_EV_KVA_SIZE;                          /* a call that failed */
	REPLAY(&g, ev);
	CU_ASSERT_EQUAL(S(&g)->trace_failed, 1);
	CU_ASSERT_EQUAL(S(&g)->calls, 3);
	CU_ASSERT_EQUAL(S(&g)->failures, 0);

	REPLAY(&g, ev_free(0xffffc90000100000ull, 10));
	CU_ASSERT_EQUAL(S(&g)->live_areas, 0);
	CU_ASSERT_EQUAL(S(&g)->live_pages, 0);
	CU_ASSERT_EQUAL(S(&g)->peak_areas, 1);
	CU_ASSERT_EQUAL(S(&g)->events, 6);
	CU_ASSERT_EQUAL(S(&g)->by_op[VT_OP_ALLOC], 4);
	CU_ASSERT_EQUAL(S(&g)->by_op[VT_OP_FREE], 2);
	T_CHECK(g.e);
	rig_free(&g);
}

static void test_failures(void)
{
	struct rig g;
	struct vt_event ev;

	CU_ASSERT_FATAL(rig_make(&g, VM_LAYOUT_X86_64, false));
	/* 64 GiB of pages on a 1 GiB machine. */
	vt_event_init(&ev, VT_OP_ALLOC);
	ev.flags = VT_EV_ADDR;
	ev.addr = 0x5000;
	ev.size = 64 * GIB;
	ev.line = 7;
	ev.caller = "big_table_init+0x10/0x80";
	for (int i = 0; i < 7; i++) {
		ev.addr += 0x1000;
		REPLAY(&g, ev);
	}
	CU_ASSERT_EQUAL(S(&g)->failures, 7);
	CU_ASSERT_EQUAL(S(&g)->nr_first, VT_KEEP_FAILURES);
	CU_ASSERT_EQUAL(S(&g)->nr_errnos, 1);
	CU_ASSERT_EQUAL(S(&g)->errnos[0].count, 7);
	CU_ASSERT(S(&g)->errnos[0].err == -ENOMEM || S(&g)->errnos[0].err == -EINVAL);
	CU_ASSERT_EQUAL(S(&g)->first[0].i, 0);
	CU_ASSERT_EQUAL(S(&g)->first[0].line, 7);
	CU_ASSERT_EQUAL(S(&g)->first[0].op, VT_OP_ALLOC);
	CU_ASSERT_EQUAL(S(&g)->first[0].size, 64 * GIB);
	CU_ASSERT_STRING_EQUAL(S(&g)->first[0].caller, "big_table_init+0x10/0x80");
	CU_ASSERT_EQUAL(S(&g)->first[4].i, 4);
	CU_ASSERT_EQUAL(S(&g)->live_areas, 0);
	/* A free of what failed here is not unmatched: the trace made it. */
	REPLAY(&g, ev_free(ev.addr, 0));
	CU_ASSERT_EQUAL(S(&g)->unmatched_frees, 0);
	CU_ASSERT_EQUAL(S(&g)->failed_frees, 1);
	REPLAY(&g, ev_free(ev.addr, 0));            /* once only */
	CU_ASSERT_EQUAL(S(&g)->unmatched_frees, 1);
	CU_ASSERT_EQUAL(S(&g)->failed_frees, 1);
	T_CHECK(g.e);
	rig_free(&g);
}

static void test_realloc(void)
{
	struct rig g;
	struct vt_event ev;
	uint64_t grown;

	CU_ASSERT_FATAL(rig_make(&g, VM_LAYOUT_X86_64, false));
	vt_event_init(&ev, VT_OP_ALLOC);
	ev.flags = VT_EV_ID;
	ev.addr = 3;
	ev.size = 5 * PAGE;
	REPLAY(&g, ev);
	CU_ASSERT_EQUAL(S(&g)->live_pages, 5);
	/* Shrinking stays in place and keeps the pages. */
	vt_event_init(&ev, VT_OP_REALLOC);
	ev.flags = VT_EV_ID | VT_EV_NEW_ADDR;
	ev.addr = ev.new_addr = 3;
	ev.size = 2 * PAGE;
	REPLAY(&g, ev);
	CU_ASSERT_EQUAL(S(&g)->live_pages, 5);
	CU_ASSERT_EQUAL(S(&g)->live_areas, 1);
	/* Growing past them moves it. */
	ev.size = 9 * PAGE;
	REPLAY(&g, ev);
	CU_ASSERT_EQUAL(S(&g)->live_pages, 9);
	CU_ASSERT_EQUAL(S(&g)->live_areas, 1);
	grown = S(&g)->peak_pages;
	CU_ASSERT(grown >= 9);
	/* A realloc that fails leaves the old block: its free matches. */
	ev.size = 64 * GIB;
	REPLAY(&g, ev);
	CU_ASSERT_EQUAL(S(&g)->failures, 1);
	CU_ASSERT_EQUAL(S(&g)->live_areas, 1);
	CU_ASSERT_EQUAL(S(&g)->live_pages, 9);
	/* realloc to 0 frees. */
	ev.size = 0;
	REPLAY(&g, ev);
	CU_ASSERT_EQUAL(S(&g)->live_areas, 0);
	CU_ASSERT_EQUAL(S(&g)->live_pages, 0);
	/* realloc of an id never allocated is an allocation (realloc(NULL)). */
	ev.addr = ev.new_addr = 4;
	ev.size = PAGE;
	REPLAY(&g, ev);
	CU_ASSERT_EQUAL(S(&g)->live_areas, 1);
	CU_ASSERT_EQUAL(S(&g)->unmatched_frees, 0);
	/* ... but of an address never allocated, unmatched (then allocated). */
	ev.flags = VT_EV_ADDR | VT_EV_NEW_ADDR;
	ev.addr = 0x7000;
	ev.new_addr = 0x9000;
	REPLAY(&g, ev);
	CU_ASSERT_EQUAL(S(&g)->unmatched_frees, 1);
	CU_ASSERT_EQUAL(S(&g)->live_areas, 2);
	REPLAY(&g, ev_free(0x9000, 0));
	CU_ASSERT_EQUAL(S(&g)->live_areas, 1);
	CU_ASSERT_EQUAL(S(&g)->failures, 1);
	T_CHECK(g.e);
	rig_free(&g);
}

static void test_placement(void)
{
	struct rig g;

	/* Thread stacks (KVA 20480, aligned 16 KiB) one after the other take
	 * 32 KiB steps on a fresh machine, as a kernel's fresh range does. */
	CU_ASSERT_FATAL(rig_make(&g, VM_LAYOUT_X86_64, false));
	for (int i = 0; i < 50; i++)
		REPLAY(&g, ev_alloc(0xffffc90001000000ull + 32768ull * i, 20480, 16384));
	CU_ASSERT_EQUAL(S(&g)->placement_pairs, 49);
	CU_ASSERT_EQUAL(S(&g)->placement_agree, 49);
	/* Going down (the kernel reusing freed ranges last-in-first-out) is a
	 * different delta. */
	for (int i = 0; i < 10; i++)
		REPLAY(&g, ev_alloc(0xffffc90000f00000ull - 32768ull * i, 20480, 16384));
	CU_ASSERT_EQUAL(S(&g)->placement_pairs, 59);
	CU_ASSERT_EQUAL(S(&g)->placement_agree, 49);
	rig_free(&g);
}

static void test_warm(void)
{
	struct rig g;
	struct vm_stats s;

	CU_ASSERT_FATAL(rig_make(&g, VM_LAYOUT_X86_64, true));
	REPLAY(&g, ev_alloc(0xffffc90000100000ull, 20480, 16384));
	/* The traced kernel had 1000 lazy pages before this free's 5. */
	REPLAY(&g, ev_free(0xffffc90000100000ull, 1005));
	CU_ASSERT(S(&g)->warmed);
	CU_ASSERT_EQUAL(S(&g)->warm_pages, 1000);
	CU_ASSERT_EQUAL(S(&g)->warm_err, 0);
	vm_get_stats(g.e, &s);
	CU_ASSERT_EQUAL(s.lazy_pages, 1005);
	CU_ASSERT_EQUAL(s.nr_purges, 0);
	/* Seeded once only. */
	REPLAY(&g, ev_alloc(0xffffc90000200000ull, 20480, 16384));
	REPLAY(&g, ev_free(0xffffc90000200000ull, 9000));
	vm_get_stats(g.e, &s);
	CU_ASSERT_EQUAL(s.lazy_pages, 1010);
	CU_ASSERT_EQUAL(S(&g)->warm_pages, 1000);
	T_CHECK(g.e);
	rig_free(&g);

	/* Past lazy_max (8192 pages on one CPU), the seed queues a purge (6.18
	 * runs it as deferred work), which runs before the next call. */
	CU_ASSERT_FATAL(rig_make(&g, VM_LAYOUT_X86_64, true));
	REPLAY(&g, ev_free(0xffffc90000100000ull, 9000));
	CU_ASSERT_EQUAL(S(&g)->unmatched_frees, 1);
	CU_ASSERT_EQUAL(S(&g)->warm_pages, 9000);
	CU_ASSERT_EQUAL(S(&g)->warm_err, 0);
	vm_get_stats(g.e, &s);
	CU_ASSERT(s.nr_purges == 1 || vm_work_pending(g.e));
	vm_run_deferred_work(g.e);
	vm_get_stats(g.e, &s);
	CU_ASSERT_EQUAL(s.nr_purges, 1);
	/* What was seeded after the purge ran waits for the next one. */
	CU_ASSERT(s.lazy_pages < s.lazy_max_pages);
	T_CHECK(g.e);
	rig_free(&g);
}

static void test_windows(void)
{
	struct rig g;
	struct vt_event ev;
	struct vt_call c;

	CU_ASSERT_FATAL(rig_make(&g, VM_LAYOUT_X86_64, false));
	ev = ev_alloc(0xffffd00000000000ull, 8192, 4096);
	ev.vstart = 0xffffd00000000000ull;
	ev.vend = 0xffffd00001000000ull;
	CU_ASSERT_EQUAL(vt_replay_prepare(g.rp, &ev, &c), 2);
	CU_ASSERT_EQUAL(c.req.start, 0xffffd00000000000ull);
	CU_ASSERT_EQUAL(c.req.end, 0xffffd00001000000ull);
	CU_ASSERT_EQUAL(c.req.size, 4096);
	vt_replay_complete(g.rp, &c, 0, 0xffffd00000000000ull);
	/* The whole range: no window. */
	ev = ev_alloc(0xffffc90000000000ull, 8192, 4096);
	CU_ASSERT_EQUAL(vt_replay_prepare(g.rp, &ev, &c), 2);
	CU_ASSERT_EQUAL(c.req.start, 0);
	CU_ASSERT_EQUAL(c.req.end, 0);
	CU_ASSERT_EQUAL(c.req.gfp, GFP_KERNEL | __GFP_HIGHMEM);
	CU_ASSERT_EQUAL(c.req.align, 0);
	CU_ASSERT_EQUAL(c.req.node, -1);
	vt_replay_complete(g.rp, &c, -ENOMEM, 0);
	rig_free(&g);

	/* An x86_64 trace on the i386 layout: windows it does not have. */
	CU_ASSERT_FATAL(rig_make(&g, VM_LAYOUT_I386, false));
	ev = ev_alloc(0xffffc90000000000ull, 8192, 4096);
	ev.vstart = 0xffffffffa0000000ull;         /* the module range */
	ev.vend = 0xffffffffff000000ull;
	REPLAY(&g, ev);
	CU_ASSERT_EQUAL(S(&g)->outside_window, 1);
	CU_ASSERT_EQUAL(S(&g)->failures, 0);
	CU_ASSERT_EQUAL(S(&g)->live_areas, 1);
	rig_free(&g);
}

static void test_pages(void)
{
	struct rig g;
	struct vt_event ev;

	CU_ASSERT_FATAL(rig_make(&g, VM_LAYOUT_X86_64, false));
	vt_event_init(&ev, VT_OP_PAGE_ALLOC);
	ev.flags = VT_EV_ADDR | VT_EV_GFP;
	ev.gfp = GFP_KERNEL;
	ev.pfn = 0x160d64;
	ev.order = 2;
	REPLAY(&g, ev);
	CU_ASSERT_EQUAL(S(&g)->live_page_blocks, 1);
	CU_ASSERT_EQUAL(S(&g)->page_block_pages, 4);
	vt_event_init(&ev, VT_OP_PAGE_FREE);
	ev.flags = VT_EV_ADDR;
	ev.pfn = 0x160d65;                          /* not a block the trace made */
	REPLAY(&g, ev);
	CU_ASSERT_EQUAL(S(&g)->unmatched_frees, 1);
	ev.pfn = 0x160d64;
	ev.order = 0;                               /* split by the kernel: the block goes */
	REPLAY(&g, ev);
	CU_ASSERT_EQUAL(S(&g)->live_page_blocks, 0);
	CU_ASSERT_EQUAL(S(&g)->page_block_pages, 0);
	CU_ASSERT_EQUAL(S(&g)->failures, 0);
	T_CHECK(g.e);
	rig_free(&g);
}

/* The pipelined use: a free waits for its allocation's result. */
static void test_prepare_complete(void)
{
	struct rig g;
	struct vt_event a = ev_alloc(0xffffc90000100000ull, 20480, 16384);
	struct vt_event f = ev_free(0xffffc90000100000ull, 0);
	struct vt_call ca, cf;
	uint64_t addr;

	CU_ASSERT_FATAL(rig_make(&g, VM_LAYOUT_X86_64, false));
	CU_ASSERT_EQUAL(vt_replay_prepare(g.rp, &a, &ca), 2);
	CU_ASSERT_EQUAL(ca.kind, VT_CALL_ALLOC);
	CU_ASSERT_EQUAL(ca.i, 0);
	CU_ASSERT_EQUAL(vt_replay_prepare(g.rp, &f, &cf), -EBUSY);
	CU_ASSERT_EQUAL(S(&g)->events, 1);          /* the free is not counted yet */
	CU_ASSERT_FATAL(g.b.alloc(g.b.ctx, &ca.req, &addr) == 0);
	vt_replay_complete(g.rp, &ca, 0, addr);
	CU_ASSERT_EQUAL(vt_replay_prepare(g.rp, &f, &cf), 2);
	CU_ASSERT_EQUAL(cf.kind, VT_CALL_FREE);
	CU_ASSERT_EQUAL(cf.addr, addr);
	CU_ASSERT_EQUAL(cf.i, 1);
	CU_ASSERT_EQUAL(g.b.free(g.b.ctx, cf.addr), 0);
	vt_replay_complete(g.rp, &cf, 0, 0);
	CU_ASSERT_EQUAL(S(&g)->live_areas, 0);
	CU_ASSERT_EQUAL(S(&g)->calls, 2);
	T_CHECK(g.e);
	rig_free(&g);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "malloclab_determinism", test_malloclab_determinism },
		{ "captures", test_captures },
		{ "unmatched_implicit_attempts", test_unmatched_implicit_attempts },
		{ "failures", test_failures },
		{ "realloc", test_realloc },
		{ "placement", test_placement },
		{ "warm", test_warm },
		{ "windows", test_windows },
		{ "pages", test_pages },
		{ "prepare_complete", test_prepare_complete },
		{ NULL, NULL },
	};

	return t_main("replay", cases, argc, argv);
}
