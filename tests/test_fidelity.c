/* test_fidelity.c -- each kernel does what its mm/ does: one case per
 * behaviour in which Linux 6.18 and 4.19 differ (or in which the engine used
 * to differ from both), each run on both kernels and naming the kernel
 * function it follows.  The facts come from mm/vmalloc.c and mm/page_alloc.c
 * of the two trees; the figures in the watermark case are worked out by hand
 * below, not by the engine's own code.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_engine.h"
#include "test_vmalloc.h"
#include "vmtest.h"

#define K618 VM_KERNEL_6_18
#define K419 VM_KERNEL_4_19
static const enum vm_kernel kernels[] = { K618, K419 };
#define NK (sizeof(kernels) / sizeof(kernels[0]))

/* Every warning a machine logs, in order. */
struct wlog {
	unsigned n;
	char line[16][256];
};

static void wlog_fn(void *ctx, int level, const char *msg)
{
	struct wlog *w = ctx;

	(void)level;
	if (w->n < 16)
		snprintf(w->line[w->n], sizeof(w->line[0]), "%s", msg);
	w->n++;
}

static struct vm_engine *machine(enum vm_kernel k, unsigned cpus, enum vm_layout layout,
				 uint64_t memory, struct wlog *log)
{
	struct vm_config cfg;

	vm_config_init(&cfg);
	cfg.kernel = k;
	cfg.nr_cpus = cpus;
	cfg.layout = layout;
	cfg.memory_bytes = memory;
	if (log) {
		memset(log, 0, sizeof(*log));
		cfg.log = wlog_fn;
		cfg.log_ctx = log;
	}
	return t_machine_cfg(&cfg);
}

/* A thread stack as kernel_clone makes it: alloc_thread_stack_node() asks
 * __vmalloc_node_range() for THREAD_SIZE (16 KiB) aligned to THREAD_ALIGN
 * (16 KiB) over the whole vmalloc range: 20480 bytes of KVA with the guard. */
static int stack(struct vm_engine *e, uint64_t *ret)
{
	struct vm_alloc_req req = {
		.size = 16 * KIB, .align = 16 * KIB, .gfp = GFP_KERNEL, .prot = PAGE_KERNEL,
		.node = NUMA_NO_NODE, .caller = "kernel_clone+0x94/0x3e0",
	};

	return vm___vmalloc_node_range(e, &req, ret);
}

/* ---- the lazy purge -------------------------------------------------------------- */

/* lazy_max_pages(): fls(num_online_cpus()) * 32 MiB / PAGE_SIZE, the same
 * formula in both trees. */
static void test_lazy_max_pages(void)
{
	static const struct { unsigned cpus; uint64_t pages; } want[] = {
		{ 1, 8192 }, { 2, 16384 }, { 3, 16384 }, { 4, 24576 }, { 7, 24576 }, { 8, 32768 },
		{ 64, 57344 }, { 8192, 114688 },
	};

	for (unsigned k = 0; k < NK; k++) {
		for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			struct vm_engine *e = machine(kernels[k], want[i].cpus, VM_LAYOUT_X86_64,
						      64 * MIB, NULL);

			if (!e)
				continue;
			T_ASSERT_MSG(t_stats(e).lazy_max_pages == want[i].pages,
				     "%s, %u CPUs: lazy_max_pages %llu, want %llu",
				     vm_kernel_name(kernels[k]), want[i].cpus,
				     (unsigned long long)t_stats(e).lazy_max_pages,
				     (unsigned long long)want[i].pages);
			vm_engine_destroy(e);
		}
	}
}

/* When the purge runs.  4.19's free_vmap_area_noflush() calls
 * try_purge_vmap_area_lazy() once vmap_lazy_nr exceeds lazy_max_pages():
 * the vfree returns with the lazy list empty.  6.18's schedules
 * drain_vmap_work: the vfree returns with the pages still lazy, and the
 * purge (drain_vmap_area_work()) runs afterwards. */
static void test_purge_timing(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_X86_64, 256 * MIB, NULL);
		uint64_t a[17], x;
		struct vm_stats st;

		if (!e)
			continue;
		/* 16 areas of 511 pages + guard (their page arrays fit a page):
		 * 8192 lazy pages, the limit. */
		for (unsigned i = 0; i < 17; i++)
			CU_ASSERT_FATAL(vm_vmalloc(e, 511 * PAGE, &a[i]) == 0);
		for (unsigned i = 0; i < 16; i++)
			CU_ASSERT_EQUAL(vm_vfree(e, a[i]), 0);
		st = t_stats(e);
		CU_ASSERT(st.lazy_pages == 8192 && st.nr_purges == 0 && !st.work_pending);
		/* The 17th takes it over. */
		CU_ASSERT_EQUAL(vm_vfree(e, a[16]), 0);
		st = t_stats(e);
		if (kernels[k] == K419) {
			T_ASSERT_MSG(st.lazy_pages == 0 && st.nr_purges == 1 && !st.work_pending,
				     "4.19: after the vfree over the limit: %llu lazy pages, %llu purges",
				     (unsigned long long)st.lazy_pages, (unsigned long long)st.nr_purges);
		} else {
			T_ASSERT_MSG(st.lazy_pages == 8704 && st.nr_purges == 0 && st.work_pending,
				     "6.18: the vfree over the limit purged in the call (%llu lazy pages, "
				     "%llu purges)", (unsigned long long)st.lazy_pages,
				     (unsigned long long)st.nr_purges);
			/* The checker sees a consistent machine with work queued. */
			T_CHECK(e);
			/* The worker runs before the next allocator call. */
			CU_ASSERT_EQUAL(vm_vmalloc(e, PAGE, &x), 0);
			st = t_stats(e);
			CU_ASSERT(st.lazy_pages == 0 && st.nr_purges == 1 && !st.work_pending);
			CU_ASSERT_EQUAL(vm_vfree(e, x), 0);
			/* ...or when its owner runs it (the 2 lazy pages of x and
			 * 16 areas: over the limit). */
			for (unsigned i = 0; i < 16; i++)
				CU_ASSERT_FATAL(vm_vmalloc(e, 511 * PAGE, &a[i]) == 0);
			for (unsigned i = 0; i < 16; i++)
				CU_ASSERT_EQUAL(vm_vfree(e, a[i]), 0);
			CU_ASSERT_TRUE(vm_work_pending(e));
			vm_run_deferred_work(e);
			st = t_stats(e);
			CU_ASSERT(st.lazy_pages == 0 && st.nr_purges == 2 && !st.work_pending);
		}
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* alloc_vmap_area()'s overflow path.  6.18: a request that may block
 * purges once (reclaim_and_purge_vmap_areas(), which also empties the
 * pools) and retries, __GFP_NORETRY or not; one that may not block fails at
 * once.  4.19: it purges once whatever the gfp. */
static void test_purge_on_failure(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_X86_64, 64 * MIB, NULL);
		struct vm_alloc_req req = {
			.size = PAGE, .align = PAGE, .prot = PAGE_KERNEL, .node = NUMA_NO_NODE,
		};
		uint64_t a, b;

		if (!e)
			continue;
		/* A window with room for one 1-page area, lazily freed. */
		req.start = t_stats(e).vmalloc_start + GIB;
		req.end = req.start + 2 * PAGE;
		req.gfp = GFP_KERNEL;
		CU_ASSERT_FATAL(vm___vmalloc_node_range(e, &req, &a) == 0);
		CU_ASSERT_EQUAL(vm_vfree(e, a), 0);
		/* GFP_NOWAIT: 6.18 fails without a purge; 4.19 purges. */
		req.gfp = GFP_NOWAIT | __GFP_NOWARN;
		if (kernels[k] == K618) {
			CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &b), -ENOMEM);
			CU_ASSERT_EQUAL(t_stats(e).nr_purges, 0);
			CU_ASSERT_EQUAL(t_stats(e).nr_lazy_areas, 1);
			req.gfp = GFP_KERNEL | __GFP_NORETRY;
		}
		CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &b), 0);
		CU_ASSERT_EQUAL(b, a);
		CU_ASSERT_EQUAL(t_stats(e).nr_purges, 1);
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* ---- 6.18's vmap nodes and pools ------------------------------------------------------- */

/* vmap_init_nodes(): a 64-bit kernel has one vmap node per possible CPU,
 * at most 128; a 32-bit one a single node.  4.19 has none. */
static void test_vmap_nodes(void)
{
	static const struct { enum vm_kernel k; enum vm_layout l; unsigned cpus, nodes; } want[] = {
		{ K618, VM_LAYOUT_X86_64, 1, 1 }, { K618, VM_LAYOUT_X86_64, 2, 2 },
		{ K618, VM_LAYOUT_X86_64, 200, 128 }, { K618, VM_LAYOUT_I386, 4, 1 },
		{ K419, VM_LAYOUT_X86_64, 4, 0 }, { K419, VM_LAYOUT_I386, 4, 0 },
	};

	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct vm_engine *e = machine(want[i].k, want[i].cpus, want[i].l, 64 * MIB, NULL);

		if (!e)
			continue;
		T_ASSERT_MSG(t_stats(e).nr_vmap_nodes == want[i].nodes,
			     "%s %s, %u CPUs: %u vmap nodes, want %u", vm_kernel_name(want[i].k),
			     vm_layout_name(want[i].l), want[i].cpus, t_stats(e).nr_vmap_nodes,
			     want[i].nodes);
		vm_engine_destroy(e);
	}
}

/* The order in which freed KVA comes back after a purge.  6.18 with two
 * CPUs: purge_vmap_node() pushes each purged range (in address order) on
 * the head of its node's pool of its size, and node_alloc() /
 * node_pool_del_va() hand out the head: the highest address first (a real
 * 2-CPU 6.18 kernel's stacks step by -32768).  6.18 with one CPU (no pools)
 * and 4.19 (alloc_vmap_area()'s first fit): the lowest first. */
static void check_reuse(enum vm_kernel k, unsigned cpus, bool descending)
{
	enum { N = 64 };
	struct vm_engine *e = machine(k, cpus, VM_LAYOUT_X86_64, 256 * MIB, NULL);
	uint64_t first[N], again[N];

	if (!e)
		return;
	for (unsigned i = 0; i < N; i++)
		CU_ASSERT_FATAL(stack(e, &first[i]) == 0);
	for (unsigned i = 1; i < N; i++)
		CU_ASSERT_EQUAL(first[i] - first[i - 1], 32768);
	for (unsigned i = 0; i < N; i++)
		CU_ASSERT_EQUAL(vm_vfree(e, first[i]), 0);
	vm_purge(e);
	CU_ASSERT_EQUAL(t_stats(e).nr_pooled_areas, descending ? N : 0);
	for (unsigned i = 0; i < N; i++)
		CU_ASSERT_FATAL(stack(e, &again[i]) == 0);
	for (unsigned i = 0; i < N; i++) {
		uint64_t want = descending ? first[N - 1 - i] : first[i];

		T_ASSERT_MSG(again[i] == want, "%s, %u CPUs: stack %u after the purge at %#llx, want %#llx",
			     vm_kernel_name(k), cpus, i, (unsigned long long)again[i],
			     (unsigned long long)want);
	}
	T_CHECK(e);
	vm_engine_destroy(e);
}

static void test_reuse_order_after_purge(void)
{
	check_reuse(K618, 2, true);
	check_reuse(K618, 1, false);
	check_reuse(K419, 2, false);
}

/* decay_va_pool_node(): every purge first returns a quarter (len >> 2) of
 * each pool, its most recent ranges, to the free tree; the purge after a
 * failed allocation returns all of it.  vm_purge() is vm_unmap_aliases(),
 * an ordinary purge. */
static void test_pool_decay(void)
{
	struct vm_engine *e = machine(K618, 2, VM_LAYOUT_X86_64, 256 * MIB, NULL);
	struct vm_alloc_req req = {
		.size = PAGE, .align = PAGE, .gfp = GFP_KERNEL | __GFP_NOWARN, .prot = PAGE_KERNEL,
		.node = NUMA_NO_NODE,
	};
	static const uint64_t left[] = { 64, 48, 36, 27, 21, 16 };
	uint64_t a[64], x;

	if (!e)
		return;
	for (unsigned i = 0; i < 64; i++)
		CU_ASSERT_FATAL(stack(e, &a[i]) == 0);
	for (unsigned i = 0; i < 64; i++)
		CU_ASSERT_EQUAL(vm_vfree(e, a[i]), 0);
	for (unsigned p = 0; p < 6; p++) {
		vm_purge(e);
		T_ASSERT_MSG(t_stats(e).nr_pooled_areas == left[p], "after purge %u: %llu pooled, want %llu",
			     p + 1, (unsigned long long)t_stats(e).nr_pooled_areas,
			     (unsigned long long)left[p]);
	}
	/* The first decays took the highest ranges: the head is now the
	 * 16th stack from the bottom. */
	CU_ASSERT_FATAL(stack(e, &x) == 0);
	CU_ASSERT_EQUAL(x, a[15]);
	/* No room in a window: the purge before the retry empties the pools. */
	req.start = t_stats(e).vmalloc_start + GIB;
	req.end = req.start + PAGE;
	CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &x), -ENOMEM);
	CU_ASSERT_EQUAL(t_stats(e).nr_pooled_areas, 0);
	T_CHECK(e);
	vm_engine_destroy(e);
}

/* node_alloc() serves only requests over the whole vmalloc range, and the
 * pools hold ranges of at most MAX_VA_SIZE_PAGES (256) pages: anything else
 * goes back to the free tree at the purge. */
static void test_pools_whole_range_only(void)
{
	struct vm_engine *e = machine(K618, 2, VM_LAYOUT_X86_64, 256 * MIB, NULL);
	struct vm_alloc_req req = {
		.size = PAGE, .align = PAGE, .gfp = GFP_KERNEL, .prot = PAGE_KERNEL,
		.node = NUMA_NO_NODE,
	};
	uint64_t w, big, s;

	if (!e)
		return;
	req.start = t_stats(e).vmalloc_start;
	req.end = req.start + GIB;
	CU_ASSERT_FATAL(vm___vmalloc_node_range(e, &req, &w) == 0);   /* a window */
	CU_ASSERT_FATAL(vm_vmalloc(e, 256 * PAGE, &big) == 0);        /* 257 pages with the guard */
	CU_ASSERT_FATAL(vm_vmalloc(e, 255 * PAGE, &s) == 0);          /* 256 pages: pooled */
	CU_ASSERT_EQUAL(vm_vfree(e, w), 0);
	CU_ASSERT_EQUAL(vm_vfree(e, big), 0);
	CU_ASSERT_EQUAL(vm_vfree(e, s), 0);
	vm_purge(e);
	CU_ASSERT_EQUAL(t_stats(e).nr_pooled_areas, 1);
	CU_ASSERT_EQUAL(t_stats(e).pooled_pages, 256);
	T_CHECK(e);
	vm_engine_destroy(e);
}

/* ---- /proc/vmallocinfo ---------------------------------------------------------------- */

/* 6.18's vmalloc_info_show() walks the vmap nodes in turn, each node's busy
 * areas in address order (a range belongs to node (addr / 64 KiB) % nodes),
 * then show_purge_info() each node's lazy ranges (the node the range was
 * allocated for).  4.19's s_show() walks vmap_area_list: address order,
 * busy areas only (the seeds' tree prints no lazily freed range). */
static void test_vmallocinfo_order(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 2, VM_LAYOUT_X86_64, 64 * MIB, NULL);
		uint64_t b, a[4];
		char want[1024];
		size_t n = 0;
		char *text;

		if (!e)
			continue;
		/* 15 pages and a guard: one 64 KiB stripe each.  b on CPU 1 in
		 * stripe 0 (node 0's by address), a1..a3 on CPU 0. */
		CU_ASSERT_EQUAL(vm_set_current(e, 0, 1, 0, "b+0x1/0x10"), 0);
		CU_ASSERT_EQUAL(vm_set_current_cpu(e, 1), 0);
		CU_ASSERT_FATAL(vm_vmalloc(e, 15 * PAGE, &b) == 0);
		CU_ASSERT_EQUAL(vm_set_current(e, 0, 1, 0, "a+0x1/0x10"), 0);
		CU_ASSERT_EQUAL(vm_set_current_cpu(e, 0), 0);
		for (unsigned i = 1; i < 4; i++)
			CU_ASSERT_FATAL(vm_vmalloc(e, 15 * PAGE, &a[i]) == 0);
		CU_ASSERT_EQUAL(a[1] - b, 65536);
		CU_ASSERT_EQUAL(vm_vfree(e, b), 0);
		CU_ASSERT_EQUAL(vm_vfree(e, a[3]), 0);
		text = t_vmallocinfo(e);
#define LINE(x, who) n += (size_t)snprintf(want + n, sizeof(want) - n, \
		"0x%016llx-0x%016llx   65536 " who "+0x1/0x10 pages=15 vmalloc N0=15\n", \
		(unsigned long long)(x), (unsigned long long)((x) + 65536))
#define LAZY(x) n += (size_t)snprintf(want + n, sizeof(want) - n, \
		"0x%016llx-0x%016llx   65536 unpurged vm_area\n", \
		(unsigned long long)(x), (unsigned long long)((x) + 65536))
		if (kernels[k] == K618) {
			LINE(a[2], "a");        /* node 0: stripes 0 (lazy now) and 2 */
			LINE(a[1], "a");        /* node 1: stripes 1 and 3 (lazy) */
			LAZY(a[3]);             /* node 0's lazy list: a3 was asked for on CPU 0 */
			LAZY(b);                /* node 1's: b, on CPU 1 */
		} else {        /* address order, busy areas only */
			LINE(a[1], "a");
			LINE(a[2], "a");
		}
#undef LINE
#undef LAZY
		T_TEXT_EQ(text, want);
		free(text);
		vm_engine_destroy(e);
	}
}

/* %pK prints a pointer's width: 8 hex digits on i386. */
static void test_pointer_width(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_I386, 64 * MIB, NULL);
		uint64_t a;
		char want[128];
		char *text;

		if (!e)
			continue;
		CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &a) == 0);
		CU_ASSERT_EQUAL(vm_vfree(e, a), 0);
		CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &a) == 0);
		text = t_vmallocinfo(e);
		snprintf(want, sizeof(want), "0x%08llx-0x%08llx    8192 pages=1 vmalloc N0=1\n"
			 "0x%08llx-0x%08llx    8192 unpurged vm_area\n",
			 (unsigned long long)a, (unsigned long long)(a + 8192),
			 (unsigned long long)(a - 8192), (unsigned long long)a);
		if (kernels[k] == K419)  /* no lazy line (s_show of the seeds' tree) */
			snprintf(want, sizeof(want), "0x%08llx-0x%08llx    8192 pages=1 vmalloc N0=1\n",
				 (unsigned long long)a, (unsigned long long)(a + 8192));
		T_TEXT_EQ(text, want);
		free(text);
		vm_engine_destroy(e);
	}
}

/* __vmalloc_area_node() (both trees): a page array longer than a page is
 * vmalloc'd with the area's caller, an area of its own (its own line, its
 * KVA, its pages in VmallocUsed, "vpages" on the area's line); the length
 * is nr_pages * sizeof(struct page *): 8 bytes on x86_64, 4 on i386. */
static void test_nested_page_array(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_X86_64, 64 * MIB, NULL);
		uint64_t a, b, used;
		char want[512];
		char *text, *line;

		if (!e)
			continue;
		CU_ASSERT_EQUAL(vm_set_current(e, 0, 1, 0, "bpf_prog_alloc+0x39/0x230"), 0);
		CU_ASSERT_FATAL(vm_vmalloc(e, 600 * PAGE, &a) == 0);
		text = t_vmallocinfo(e);
		/* 600 pointers: 4800 bytes, a 2-page area right above. */
		snprintf(want, sizeof(want),
			 "0x%016llx-0x%016llx 2461696 bpf_prog_alloc+0x39/0x230 pages=600 vmalloc vpages N0=600\n"
			 "0x%016llx-0x%016llx   12288 bpf_prog_alloc+0x39/0x230 pages=2 vmalloc N0=2\n",
			 (unsigned long long)a, (unsigned long long)(a + 601 * PAGE),
			 (unsigned long long)(a + 601 * PAGE), (unsigned long long)(a + 604 * PAGE));
		T_TEXT_EQ(text, want);
		free(text);
		CU_ASSERT_EQUAL(t_stats(e).vmalloc_pages, 602);
		CU_ASSERT_EQUAL(vm_page_array_pages(e, 600), 2);
		text = t_meminfo(e);
		line = t_line_starting(text, "VmallocUsed:");
		used = kernels[k] == K618 ? 602 * 4 : 0;
		snprintf(want, sizeof(want), "VmallocUsed:    %8llu kB", (unsigned long long)used);
		CU_ASSERT_STRING_EQUAL(line ? line : "?", want);
		free(line);
		free(text);
		/* It is freed with its area, not by itself. */
		CU_ASSERT_EQUAL(vm_vfree(e, a + 601 * PAGE), -EINVAL);
		CU_ASSERT_EQUAL(vm_vfree(e, a), 0);
		CU_ASSERT_EQUAL(t_stats(e).vmalloc_pages, 0);
		CU_ASSERT_EQUAL(t_stats(e).nr_lazy_areas, 2);
		/* 512 pointers fit a page: no area of their own. */
		CU_ASSERT_FATAL(vm_vmalloc(e, 512 * PAGE, &b) == 0);
		CU_ASSERT_EQUAL(t_stats(e).vmalloc_pages, 512);
		T_CHECK(e);
		vm_engine_destroy(e);

		/* i386: 1024 4-byte pointers fit a page, 1025 do not. */
		e = machine(kernels[k], 1, VM_LAYOUT_I386, 64 * MIB, NULL);
		if (!e)
			continue;
		CU_ASSERT_FATAL(vm_vmalloc(e, 1024 * PAGE, &a) == 0);
		CU_ASSERT_EQUAL(t_stats(e).vmalloc_pages, 1024);
		CU_ASSERT_FATAL(vm_vmalloc(e, 1025 * PAGE, &b) == 0);
		CU_ASSERT_EQUAL(t_stats(e).vmalloc_pages, 1024 + 1025 + 2);
		text = t_vmallocinfo(e);
		CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, " pages=1025 vmalloc vpages N0=1025\n") : NULL);
		CU_ASSERT_PTR_NULL(text ? strstr(text, " pages=1024 vmalloc vpages") : "");
		free(text);
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* ---- page tables, zones, meminfo -------------------------------------------------------- */

/* vunmap_range_noflush(): unmapping clears entries; no tree frees the page
 * tables of the vmalloc range, so PageTables does not fall after a purge. */
static void test_page_tables_stay(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_X86_64, 64 * MIB, NULL);
		uint64_t a, tables;

		if (!e)
			continue;
		CU_ASSERT_EQUAL(t_stats(e).pagetable_pages, 1);
		CU_ASSERT_FATAL(vm_vmalloc(e, 8 * MIB, &a) == 0);
		tables = t_stats(e).pagetable_pages;
		CU_ASSERT_EQUAL(tables, 1 + 1 + 1 + 5);   /* PUD, PMD, 5 PTE tables (with the page array's) */
		CU_ASSERT_EQUAL(vm_vfree(e, a), 0);
		vm_purge(e);
		CU_ASSERT_EQUAL(t_stats(e).nr_purges, 1);
		CU_ASSERT_EQUAL(t_stats(e).pagetable_pages, tables);
		/* The same range again needs no new table. */
		CU_ASSERT_FATAL(vm_vmalloc(e, 8 * MIB, &a) == 0);
		CU_ASSERT_EQUAL(t_stats(e).pagetable_pages, tables);
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

static enum vm_zone_type zone_of(struct vm_engine *e, uint64_t addr)
{
	struct t_zones zs;
	const struct vm_zone_info *z;
	uint64_t pfn = 0;

	t_zones(e, &zs);
	if (vm_vmalloc_to_pfn(e, addr, &pfn) < 0)
		return VM_NR_ZONES;
	z = t_pfn_zone(&zs, pfn);
	return z ? z->type : VM_NR_ZONES;
}

/* __vmalloc_area_node() adds __GFP_HIGHMEM unless the request asks for
 * GFP_DMA or GFP_DMA32 (both trees), so on i386 __vmalloc(GFP_KERNEL) and
 * vrealloc's move (__vmalloc_node_noprof) land in HighMem; vmalloc_32
 * (GFP_DMA32, Normal on i386) and GFP_DMA stay low. */
static void test_i386_zones(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_I386, 2 * GIB, NULL);
		uint64_t a, b, c, d;

		if (!e)
			continue;
		CU_ASSERT_FATAL(vm___vmalloc(e, 8 * PAGE, GFP_KERNEL, &a) == 0);
		CU_ASSERT_EQUAL(zone_of(e, a), VM_ZONE_HIGHMEM);
		CU_ASSERT_FATAL(vm_vrealloc(e, a, 64 * PAGE, GFP_KERNEL, &b) == 0);
		CU_ASSERT(b != a);
		CU_ASSERT_EQUAL(zone_of(e, b), VM_ZONE_HIGHMEM);
		CU_ASSERT_EQUAL(zone_of(e, b + 63 * PAGE), VM_ZONE_HIGHMEM);
		CU_ASSERT_FATAL(vm_vrealloc(e, 0, 4 * PAGE, GFP_KERNEL, &c) == 0);
		CU_ASSERT_EQUAL(zone_of(e, c), VM_ZONE_HIGHMEM);
		CU_ASSERT_FATAL(vm_vmalloc_32(e, 4 * PAGE, &d) == 0);
		CU_ASSERT_EQUAL(zone_of(e, d), VM_ZONE_NORMAL);
		CU_ASSERT_FATAL(vm___vmalloc(e, 4 * PAGE, GFP_KERNEL | GFP_DMA, &d) == 0);
		CU_ASSERT_EQUAL(zone_of(e, d), VM_ZONE_DMA);
		CU_ASSERT_FATAL(vm_vmalloc(e, 4 * PAGE, &d) == 0);
		CU_ASSERT_EQUAL(zone_of(e, d), VM_ZONE_HIGHMEM);
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* meminfo_proc_show(): HighTotal, HighFree, LowTotal and LowFree exist
 * with CONFIG_HIGHMEM only (i386 here); VmallocChunk is 0 since 4.4;
 * VmallocUsed is 0 in 4.19 (4.4 dropped get_vmalloc_info()) and
 * vmalloc_nr_pages() in 6.18 (5.3 brought it back). */
static void test_meminfo_lines(void)
{
	for (unsigned k = 0; k < NK; k++) {
		for (unsigned l = 0; l < 2; l++) {
			enum vm_layout layout = l ? VM_LAYOUT_I386 : VM_LAYOUT_X86_64;
			struct vm_engine *e = machine(kernels[k], 1, layout, 64 * MIB, NULL);
			static const char *const x86[] = { "MemTotal:", "MemFree:", "PageTables:",
				"VmallocTotal:", "VmallocUsed:", "VmallocChunk:", NULL };
			static const char *const i386[] = { "MemTotal:", "MemFree:", "HighTotal:",
				"HighFree:", "LowTotal:", "LowFree:", "PageTables:", "VmallocTotal:",
				"VmallocUsed:", "VmallocChunk:", NULL };
			const char *const *want = l ? i386 : x86;
			char *text, *p, kb[64];
			unsigned i = 0;
			uint64_t a;

			if (!e)
				continue;
			CU_ASSERT_FATAL(vm_vmalloc(e, 10 * PAGE, &a) == 0);
			text = t_meminfo(e);
			for (p = text; p && *p; p = strchr(p, '\n') + 1, i++) {
				T_ASSERT_MSG(want[i] && strncmp(p, want[i], strlen(want[i])) == 0,
					     "%s %s: meminfo line %u is '%.20s', want %s",
					     vm_kernel_name(kernels[k]), vm_layout_name(layout), i, p,
					     want[i] ? want[i] : "none");
			}
			CU_ASSERT_PTR_NULL(want[i]);
			p = t_line_starting(text, "VmallocChunk:");
			CU_ASSERT_STRING_EQUAL(p ? p : "?", "VmallocChunk:          0 kB");
			free(p);
			p = t_line_starting(text, "VmallocUsed:");
			snprintf(kb, sizeof(kb), "VmallocUsed:    %8u kB", kernels[k] == K618 ? 40 : 0);
			CU_ASSERT_STRING_EQUAL(p ? p : "?", kb);
			free(p);
			free(text);
			vm_engine_destroy(e);
		}
	}
}

/* ---- vmap, flags, the page allocator ------------------------------------------------------ */

/* 6.18's vmap(): WARN_ON_ONCE(flags & VM_NO_GUARD), then drops it: "your top
 * guard is someone else's bottom guard".  4.19 maps without a guard.  And
 * VM_DMA_COHERENT (5.6+) does not exist in 4.19. */
static void test_vmap_no_guard(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct wlog log;
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_X86_64, 64 * MIB, &log);
		struct vm_alloc_req req = {
			.size = PAGE, .align = PAGE, .gfp = GFP_KERNEL, .prot = PAGE_KERNEL,
			.node = NUMA_NO_NODE, .vm_flags = VM_DMA_COHERENT,
		};
		struct vm_area_info info;
		uint64_t pfn, v, w, x;

		if (!e)
			continue;
		CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 0, NUMA_NO_NODE, &pfn) == 0);
		CU_ASSERT_FATAL(vm_vmap(e, &pfn, 1, VM_NO_GUARD, PAGE_KERNEL, &v) == 0);
		CU_ASSERT_FATAL(vm_vmap(e, &pfn, 1, VM_NO_GUARD, PAGE_KERNEL, &w) == 0);
		CU_ASSERT_EQUAL(vm_find_vm_area(e, v, &info), 0);
		if (kernels[k] == K618) {
			CU_ASSERT_EQUAL(info.size, 2 * PAGE);
			CU_ASSERT_EQUAL(w - v, 2 * PAGE);
			CU_ASSERT_EQUAL(log.n, 1);   /* once */
			CU_ASSERT_PTR_NOT_NULL(strstr(log.line[0], "vmap"));
			CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &x), 0);
		} else {
			CU_ASSERT_EQUAL(info.size, PAGE);
			CU_ASSERT_EQUAL(w - v, PAGE);
			CU_ASSERT_EQUAL(log.n, 0);
			CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &x), -EINVAL);
		}
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* __GFP_NOFAIL's last attempt, __alloc_pages_cpuset_fallback(): 6.18 passes
 * ALLOC_MIN_RESERVE (half of min, __zone_watermark_ok()), 4.19
 * ALLOC_HARDER (a quarter of min).  Not all of it: ALLOC_NO_WATERMARKS is
 * __GFP_MEMALLOC's. */
static void test_nofail_reserve(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_X86_64, 64 * MIB, NULL);
		uint64_t *held, n;
		struct t_zones zs;
		const struct vm_zone_info *z;
		uint64_t min;

		if (!e)
			continue;
		held = t_frame_array(e);
		CU_ASSERT_FATAL(held != NULL);
		n = t_take_frames(e, GFP_KERNEL | __GFP_NOFAIL, NUMA_NO_NODE, held);
		t_zones(e, &zs);
		z = t_zone(&zs, 0, VM_ZONE_DMA32);
		CU_ASSERT_FATAL(z != NULL);
		min = z->wmark_min;
		T_ASSERT_MSG(z->free == (kernels[k] == K618 ? min - min / 2 : min - min / 4),
			     "%s: __GFP_NOFAIL left %llu frames of a min of %llu",
			     vm_kernel_name(kernels[k]), (unsigned long long)z->free,
			     (unsigned long long)min);
		n += t_take_frames(e, __GFP_MEMALLOC, NUMA_NO_NODE, held + n);
		CU_ASSERT_EQUAL(t_stats(e).free_pages, 0);
		t_free_frames(e, held, n);
		free(held);
		vm_engine_destroy(e);
	}
}

/* __setup_per_zone_wmarks(), worked by hand (min_free_kbytes =
 * int_sqrt(lowmem_kbytes * 16), the zones up to Normal):
 *   i386, 2 GiB: DMA 4096, Normal 225280, HighMem 294912 frames.
 *     lowmem 917504 kB -> min_free_kbytes 3831 -> pages_min 957;
 *     shares (of 229376 lowmem frames) 17, 939, 1230;
 *     HighMem min = clamp(294912 / 1024, 32, 128) = 128, and its distance
 *     is from its uncapped share: max(1230 / 4, 294912 * 10 / 10000) = 307.
 *   x86_64, 1 GiB, 256 MiB movable: DMA 4096, DMA32 192512, Movable 65536.
 *     lowmem 786432 kB -> 3547 kB -> pages_min 886.  6.18 caps Movable as
 *     HighMem and leaves it out of lowmem_pages; 4.19 gives it a share. */
static void test_watermarks(void)
{
	static const struct {
		enum vm_kernel k;
		enum vm_layout l;
		uint64_t memory, movable;
		enum vm_zone_type t;
		uint64_t min, low, high;
	} want[] = {
		{ K618, VM_LAYOUT_I386, 2 * GIB, 0, VM_ZONE_DMA, 17, 21, 25 },
		{ K618, VM_LAYOUT_I386, 2 * GIB, 0, VM_ZONE_NORMAL, 939, 1173, 1407 },
		{ K618, VM_LAYOUT_I386, 2 * GIB, 0, VM_ZONE_HIGHMEM, 128, 435, 742 },
		{ K419, VM_LAYOUT_I386, 2 * GIB, 0, VM_ZONE_HIGHMEM, 128, 435, 742 },
		{ K618, VM_LAYOUT_X86_64, 1 * GIB, 256 * MIB, VM_ZONE_DMA, 18, 22, 26 },
		{ K618, VM_LAYOUT_X86_64, 1 * GIB, 256 * MIB, VM_ZONE_DMA32, 867, 1083, 1299 },
		{ K618, VM_LAYOUT_X86_64, 1 * GIB, 256 * MIB, VM_ZONE_MOVABLE, 64, 137, 210 },
		{ K419, VM_LAYOUT_X86_64, 1 * GIB, 256 * MIB, VM_ZONE_DMA, 13, 17, 21 },
		{ K419, VM_LAYOUT_X86_64, 1 * GIB, 256 * MIB, VM_ZONE_DMA32, 650, 842, 1034 },
		{ K419, VM_LAYOUT_X86_64, 1 * GIB, 256 * MIB, VM_ZONE_MOVABLE, 221, 286, 351 },
	};

	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct vm_config cfg;
		struct vm_engine *e;
		struct t_zones zs;
		const struct vm_zone_info *z;

		vm_config_init(&cfg);
		cfg.kernel = want[i].k;
		cfg.layout = want[i].l;
		cfg.memory_bytes = want[i].memory;
		cfg.movable_bytes = want[i].movable;
		e = t_machine_cfg(&cfg);
		if (!e)
			continue;
		t_zones(e, &zs);
		z = t_zone(&zs, 0, want[i].t);
		CU_ASSERT_FATAL(z != NULL);
		T_ASSERT_MSG(z->wmark_min == want[i].min && z->wmark_low == want[i].low &&
			     z->wmark_high == want[i].high,
			     "%s %s %s: min %llu low %llu high %llu, want %llu %llu %llu",
			     vm_kernel_name(want[i].k), vm_layout_name(want[i].l), z->name,
			     (unsigned long long)z->wmark_min, (unsigned long long)z->wmark_low,
			     (unsigned long long)z->wmark_high, (unsigned long long)want[i].min,
			     (unsigned long long)want[i].low, (unsigned long long)want[i].high);
		vm_engine_destroy(e);
	}
}

/* ---- the warnings ------------------------------------------------------------------------ */

/* Each tree's words.  6.18: WARN_ON_ONCE(!size), then warn_alloc()'s
 * "vmalloc error: size %lu, ..." (__vmalloc_node_range_noprof(),
 * __vmalloc_area_node()) and alloc_vmap_area()'s "vmalloc_node_range for
 * size %lu failed: ...".  4.19: "vmalloc: allocation failure: %lu bytes"
 * (__vmalloc_node_range()), "vmap allocation for size %lu failed: ..."
 * (alloc_vmap_area()), "vmalloc: allocation failure, allocated %ld of %ld
 * bytes" (__vmalloc_area_node()).  __GFP_NOWARN silences warn_alloc(). */
static void test_failure_warnings(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct wlog log;
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_X86_64, 64 * MIB, &log);
		struct vm_alloc_req req = {
			.size = PAGE, .align = PAGE, .gfp = GFP_KERNEL, .prot = PAGE_KERNEL,
			.node = NUMA_NO_NODE,
		};
		bool k618 = kernels[k] == K618;
		char want[2][256];
		uint64_t a, *held, n, big;

		if (!e)
			continue;
		CU_ASSERT_EQUAL(vm_vmalloc(e, 0, &a), -EINVAL);
		CU_ASSERT_EQUAL(vm_vmalloc(e, 0, &a), -EINVAL);
		CU_ASSERT_EQUAL(log.n, k618 ? 1 : 2);     /* WARN_ON_ONCE: once */
		CU_ASSERT_STRING_EQUAL(log.line[0], k618 ?
			"WARNING: CPU: 0 PID: 0 at mm/vmalloc.c __vmalloc_node_range_noprof: !size" :
			"vmalloc: allocation failure: 0 bytes");

		log.n = 0;
		CU_ASSERT_EQUAL(vm_vmalloc(e, 64 * MIB + 1, &a), -ENOMEM);
		CU_ASSERT_EQUAL(log.n, 1);
		CU_ASSERT_STRING_EQUAL(log.line[0], k618 ?
			"vmalloc error: size 67108865, exceeds total pages" :
			"vmalloc: allocation failure: 67108865 bytes");

		/* No room in a window. */
		log.n = 0;
		req.start = t_stats(e).vmalloc_start + GIB;
		req.end = req.start + PAGE;
		CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &a), -ENOMEM);
		if (k618)
			snprintf(want[0], sizeof(want[0]), "vmalloc_node_range for size 8192 failed: "
				 "Address range restricted to %#llx - %#llx",
				 (unsigned long long)req.start, (unsigned long long)req.end);
		else
			snprintf(want[0], sizeof(want[0]), "vmap allocation for size 8192 failed: "
				 "use vmalloc=<size> to increase size");
		snprintf(want[1], sizeof(want[1]), k618 ? "vmalloc error: size 4096, vm_struct allocation failed" :
			 "vmalloc: allocation failure: 4096 bytes");
		CU_ASSERT_EQUAL(log.n, 2);
		CU_ASSERT_STRING_EQUAL(log.line[0], want[0]);
		CU_ASSERT_STRING_EQUAL(log.line[1], want[1]);
		log.n = 0;
		req.gfp |= __GFP_NOWARN;
		CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &a), -ENOMEM);
		CU_ASSERT_EQUAL(log.n, 0);

		/* Out of frames part way. */
		held = t_frame_array(e);
		CU_ASSERT_FATAL(held != NULL);
		n = t_take_frames(e, GFP_KERNEL, NUMA_NO_NODE, held);
		CU_ASSERT(n > 1000);
		t_free_frames(e, held, 100);
		log.n = 0;
		big = 400 * PAGE;
		CU_ASSERT_EQUAL(vm_vmalloc(e, big, &a), -ENOMEM);
		CU_ASSERT_EQUAL(log.n, 1);
		if (k618) {
			CU_ASSERT_STRING_EQUAL(log.line[0], "vmalloc error: size 1638400, failed to allocate pages");
		} else {
			snprintf(want[0], sizeof(want[0]), " of %llu bytes", (unsigned long long)(big + PAGE));
			CU_ASSERT_EQUAL(strncmp(log.line[0], "vmalloc: allocation failure, allocated ", 39), 0);
			CU_ASSERT_PTR_NOT_NULL(strstr(log.line[0], want[0]));
		}
		t_free_frames(e, held + 100, n - 100);
		free(held);
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* ---- 4.19's search ------------------------------------------------------------------------ */

/* alloc_vmap_area() in 4.19 starts at free_vmap_cache unless the request
 * is smaller than cached_hole_size, the largest hole it walked past below
 * the cache: a request of exactly that hole's size does not reset the
 * hint and lands above, where 6.18's lowest match fills the hole. */
static void test_free_vmap_cache_hint(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_X86_64, 64 * MIB, NULL);
		uint64_t a, b, c, d, x;

		if (!e)
			continue;
		CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &a) == 0);      /* [0, 2) pages */
		CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &b) == 0);      /* [2, 4) */
		CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &c) == 0);      /* [4, 6) */
		CU_ASSERT_EQUAL(vm_vfree(e, b), 0);
		vm_purge(e);                                         /* hole [2, 4) */
		/* 2 pages + guard: walks past the hole (cached_hole_size = 2 pages). */
		CU_ASSERT_FATAL(vm_vmalloc(e, 2 * PAGE, &d) == 0);
		CU_ASSERT_EQUAL(d, c + 2 * PAGE);
		/* 1 page + guard fits the hole exactly. */
		CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &x) == 0);
		T_ASSERT_MSG(x == (kernels[k] == K419 ? d + 3 * PAGE : b),
			     "%s: a 2-page request with a 2-page hole below went to %#llx (hole %#llx, "
			     "above %#llx)", vm_kernel_name(kernels[k]), (unsigned long long)x,
			     (unsigned long long)b, (unsigned long long)(d + 3 * PAGE));
		(void)a;
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* ---- vm_map_ram: per-CPU vmap blocks ---------------------------------------------------------- */

/* n frames of order-0 blocks from alloc_pages. */
static void frames(struct vm_engine *e, uint64_t *pfn, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 0, NUMA_NO_NODE, &pfn[i]) == 0);
}

/* VMAP_BBMAP_BITS = min(1024, max(2 * BITS_PER_LONG, 128 GiB (64-bit) or
 * 128 MiB (32-bit) / PAGE_SIZE / roundup_pow_of_two(NR_CPUS) / 16)):
 * 256 pages on x86_64 (NR_CPUS 8192), 64 on i386 (NR_CPUS 64). */
static void test_vmap_block_size(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_X86_64, 64 * MIB, NULL);
		struct vm_engine *f = machine(kernels[k], 1, VM_LAYOUT_I386, 64 * MIB, NULL);

		if (e)
			CU_ASSERT_EQUAL(t_stats(e).vmap_block_pages, 256);
		if (f)
			CU_ASSERT_EQUAL(t_stats(f).vmap_block_pages, 64);
		vm_engine_destroy(e);
		vm_engine_destroy(f);
	}
}

/* vb_alloc(): a mapping of up to VMAP_MAX_ALLOC pages is bumped off the tail
 * of a block of the calling CPU, its size rounded up to a power of two and
 * no guard page; the block's range has no vm_struct (find_vm_area finds
 * nothing) and shows in 6.18's vmallocinfo as one "vm_map_ram" line (4.19,
 * as the seeds' tree: no such line).  A block is freed, lazily, only when
 * all of it is dirty (vb_free()). */
static void test_vm_map_ram_block(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_X86_64, 64 * MIB, NULL);
		uint64_t pfn[64], a, b, c, m[4], x;
		char *vmi, want[128];
		struct vm_stats st;

		if (!e)
			continue;
		frames(e, pfn, 64);
		CU_ASSERT_FATAL(vm_map_ram(e, pfn, 1, NUMA_NO_NODE, &a) == 0);
		CU_ASSERT_FATAL(vm_map_ram(e, pfn + 1, 3, NUMA_NO_NODE, &b) == 0);
		CU_ASSERT_FATAL(vm_map_ram(e, pfn + 4, 1, NUMA_NO_NODE, &c) == 0);
		/* The block is aligned to its size; no guard page between, and
		 * 3 pages take 4 of the block. */
		CU_ASSERT_EQUAL(a & (MIB - 1), 0);
		CU_ASSERT_EQUAL(b, a + PAGE);
		CU_ASSERT_EQUAL(c, a + 5 * PAGE);
		CU_ASSERT(vm_vmalloc_to_pfn(e, b + 2 * PAGE, &x) == 0 && x == pfn[3]);
		CU_ASSERT_EQUAL(vm_vmalloc_to_pfn(e, b + 3 * PAGE, &x), -ENXIO);
		CU_ASSERT_EQUAL(vm_find_vm_area(e, a, NULL), -ENOENT);
		st = t_stats(e);
		CU_ASSERT(st.nr_vmap_blocks == 1 && st.map_ram_pages == 5 && st.nr_areas == 0);
		vmi = t_vmallocinfo(e);
		snprintf(want, sizeof(want), "0x%016llx-0x%016llx 1048576 vm_map_ram\n",
			 (unsigned long long)a, (unsigned long long)(a + MIB));
		if (kernels[k] == K618) {
			T_TEXT_EQ(vmi, want);
		} else {
			T_TEXT_EQ(vmi, "");
		}
		free(vmi);
		/* Exactly what vm_map_ram returned, or nothing. */
		CU_ASSERT_EQUAL(vm_unmap_ram(e, b, 4), -EINVAL);
		CU_ASSERT_EQUAL(vm_unmap_ram(e, b + PAGE, 1), -EINVAL);
		CU_ASSERT_EQUAL(vm_unmap_ram(e, a, 1), 0);
		CU_ASSERT_EQUAL(vm_unmap_ram(e, a, 1), -EINVAL);
		CU_ASSERT_EQUAL(vm_unmap_ram(e, b, 3), 0);
		/* The dirty pages are not handed out again: the next mapping
		 * still comes off the tail. */
		CU_ASSERT_FATAL(vm_map_ram(e, pfn, 1, NUMA_NO_NODE, &x) == 0);
		CU_ASSERT_EQUAL(x, a + 6 * PAGE);
		CU_ASSERT_EQUAL(vm_unmap_ram(e, x, 1), 0);
		CU_ASSERT_EQUAL(vm_unmap_ram(e, c, 1), 0);
		st = t_stats(e);
		CU_ASSERT(st.nr_vmap_blocks == 1 && st.nr_lazy_areas == 0 && st.map_ram_pages == 0);
		/* Three 64-page mappings off the tail, unaligned inside the
		 * block (vb_alloc() aligns nothing but the block). */
		for (unsigned i = 0; i < 3; i++) {
			CU_ASSERT_FATAL(vm_map_ram(e, pfn, 64, NUMA_NO_NODE, &m[i]) == 0);
			CU_ASSERT_EQUAL(m[i], a + (7 + 64 * i) * PAGE);
		}
		/* 57 pages remain: a fourth 64-page mapping needs a new block. */
		CU_ASSERT_FATAL(vm_map_ram(e, pfn, 64, NUMA_NO_NODE, &m[3]) == 0);
		CU_ASSERT_EQUAL(t_stats(e).nr_vmap_blocks, 2);
		CU_ASSERT_EQUAL(vm_unmap_ram(e, m[3], 64), 0);
		for (unsigned i = 0; i < 3; i++)
			CU_ASSERT_EQUAL(vm_unmap_ram(e, m[i], 64), 0);
		/* The first block: 7 + 192 dirty pages, 57 never used: not freed. */
		st = t_stats(e);
		CU_ASSERT(st.nr_vmap_blocks == 2 && st.nr_lazy_areas == 0);
		/* Fill its tail and let it go dirty: then it goes, lazily. */
		for (unsigned i = 0; i < 57; i++) {
			CU_ASSERT_FATAL(vm_map_ram(e, pfn, 1, NUMA_NO_NODE, &x) == 0);
			CU_ASSERT_EQUAL(x, a + (199 + i) * PAGE);
			CU_ASSERT_EQUAL(vm_unmap_ram(e, x, 1), 0);
		}
		st = t_stats(e);
		T_ASSERT_MSG(st.nr_vmap_blocks == 1 && st.nr_lazy_areas == 1 && st.lazy_pages == 256,
			     "%s: a wholly dirty block: %llu blocks, %llu lazy ranges of %llu pages",
			     vm_kernel_name(kernels[k]), (unsigned long long)st.nr_vmap_blocks,
			     (unsigned long long)st.nr_lazy_areas, (unsigned long long)st.lazy_pages);
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* vm_map_ram() of more than VMAP_MAX_ALLOC pages: a range of its own from
 * alloc_vmap_area() (VMAP_RAM), no guard page; vm_unmap_ram() frees it
 * lazily (free_unmap_vmap_area()).  i386's BITS_PER_LONG is 32. */
static void test_vm_map_ram_big(void)
{
	for (unsigned k = 0; k < NK; k++) {
		static const enum vm_layout layouts[] = { VM_LAYOUT_X86_64, VM_LAYOUT_I386 };

		for (unsigned l = 0; l < 2; l++) {
			struct vm_engine *e = machine(kernels[k], 1, layouts[l], 64 * MIB, NULL);
			uint64_t max = layouts[l] == VM_LAYOUT_X86_64 ? 64 : 32, pfn[65], a, b;
			char *vmi, want[128];
			struct vm_stats st;

			if (!e)
				continue;
			frames(e, pfn, (unsigned)max + 1);
			CU_ASSERT_FATAL(vm_map_ram(e, pfn, max + 1, NUMA_NO_NODE, &a) == 0);
			CU_ASSERT_FATAL(vm_map_ram(e, pfn, max, NUMA_NO_NODE, &b) == 0);
			st = t_stats(e);
			CU_ASSERT(st.nr_vmap_blocks == 1 && st.map_ram_pages == 2 * max + 1);
			/* The next range starts right after it: no guard. */
			CU_ASSERT(vm_is_map_ram_addr(e, a + max * PAGE, NULL, NULL));
			CU_ASSERT_FALSE(vm_is_map_ram_addr(e, a + (max + 1) * PAGE, NULL, NULL));
			vmi = t_vmallocinfo(e);
			if (layouts[l] == VM_LAYOUT_X86_64)
				snprintf(want, sizeof(want), "0x%016llx-0x%016llx %7llu vm_map_ram\n",
					 (unsigned long long)a, (unsigned long long)(a + (max + 1) * PAGE),
					 (unsigned long long)((max + 1) * PAGE));
			else
				snprintf(want, sizeof(want), "0x%08llx-0x%08llx %7llu vm_map_ram\n",
					 (unsigned long long)a, (unsigned long long)(a + (max + 1) * PAGE),
					 (unsigned long long)((max + 1) * PAGE));
			if (kernels[k] == K618) {
				CU_ASSERT(vmi && strstr(vmi, want));
			} else {
				T_TEXT_EQ(vmi, "");
			}
			free(vmi);
			CU_ASSERT_EQUAL(vm_unmap_ram(e, a, max), -EINVAL);
			CU_ASSERT_EQUAL(vm_unmap_ram(e, a, max + 2), -EINVAL);
			CU_ASSERT_EQUAL(vm_unmap_ram(e, a, max + 1), 0);
			st = t_stats(e);
			CU_ASSERT(st.nr_lazy_areas == 1 && st.lazy_pages == max + 1);
			/* A mapped frame cannot be freed. */
			CU_ASSERT_EQUAL(vm_free_pages(e, pfn[0], 0), -EBUSY);
			CU_ASSERT_EQUAL(vm_unmap_ram(e, b, max), 0);
			CU_ASSERT_EQUAL(vm_free_pages(e, pfn[0], 0), 0);
			T_CHECK(e);
			vm_engine_destroy(e);
		}
	}
}

/* The block a mapping comes from is the calling CPU's (vb_alloc() walks
 * raw_cpu_ptr(&vmap_block_queue)); a block made on one CPU serves only it. */
static void test_vm_map_ram_per_cpu(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 2, VM_LAYOUT_X86_64, 64 * MIB, NULL);
		uint64_t pfn, a0, a1, b0;

		if (!e)
			continue;
		frames(e, &pfn, 1);
		CU_ASSERT_FATAL(vm_map_ram(e, &pfn, 1, NUMA_NO_NODE, &a0) == 0);
		CU_ASSERT_EQUAL(vm_set_current_cpu(e, 1), 0);
		CU_ASSERT_FATAL(vm_map_ram(e, &pfn, 1, NUMA_NO_NODE, &a1) == 0);
		CU_ASSERT_EQUAL(vm_set_current_cpu(e, 0), 0);
		CU_ASSERT_FATAL(vm_map_ram(e, &pfn, 1, NUMA_NO_NODE, &b0) == 0);
		CU_ASSERT_EQUAL(a1 & (MIB - 1), 0);
		CU_ASSERT_NOT_EQUAL(a1 & ~(MIB - 1), a0 & ~(MIB - 1));
		CU_ASSERT_EQUAL(b0, a0 + PAGE);
		CU_ASSERT_EQUAL(t_stats(e).nr_vmap_blocks, 2);
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* vm_unmap_aliases() and fragmented blocks (nothing mapped, not wholly
 * dirty): 6.5+ purges one only when less than a quarter of it is free
 * (VMAP_PURGE_THRESHOLD); 4.19 purges every one.  Either way its range is
 * freed lazily and purged by the same call. */
static void test_vm_unmap_aliases_blocks(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_X86_64, 64 * MIB, NULL);
		uint64_t pfn[64], a, m[3];
		struct vm_stats st;

		if (!e)
			continue;
		frames(e, pfn, 64);
		/* 1 page used and unmapped: 255 of 256 free. */
		CU_ASSERT_FATAL(vm_map_ram(e, pfn, 1, NUMA_NO_NODE, &a) == 0);
		CU_ASSERT_EQUAL(vm_unmap_ram(e, a, 1), 0);
		vm_purge(e);
		st = t_stats(e);
		CU_ASSERT_EQUAL(st.nr_vmap_blocks, kernels[k] == K618 ? 1 : 0);
		CU_ASSERT_EQUAL(st.nr_purges, kernels[k] == K618 ? 0 : 1);
		/* 6.18: fill it to 1 + 192 pages, nothing mapped: 63 free, under
		 * a quarter: now it goes. */
		if (kernels[k] == K618) {
			for (unsigned i = 0; i < 3; i++)
				CU_ASSERT_FATAL(vm_map_ram(e, pfn, 64, NUMA_NO_NODE, &m[i]) == 0);
			for (unsigned i = 0; i < 3; i++)
				CU_ASSERT_EQUAL(vm_unmap_ram(e, m[i], 64), 0);
			vm_purge(e);
			st = t_stats(e);
			CU_ASSERT(st.nr_vmap_blocks == 0 && st.nr_purges == 1 && st.nr_lazy_areas == 0);
		}
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* ---- the per-CPU allocator on vmalloc areas ------------------------------------------------- */

/* pcpu_build_alloc_info(): units of 2 MiB (the x86_64 atom) shared by as
 * many CPUs as waste at most a third of a chunk's units, from the first
 * chunk's 57 pages (s202520 r0 d30952 on the 6.18 machine this project
 * runs on: "u1048576 alloc=1*2097152" with 2 CPUs).  i386's atom is a page. */
static void test_pcpu_unit_size(void)
{
	static const struct { enum vm_layout l; unsigned cpus; uint64_t unit, chunk; } want[] = {
		{ VM_LAYOUT_X86_64, 1, 2 * MIB, 2 * MIB }, { VM_LAYOUT_X86_64, 2, 1 * MIB, 2 * MIB },
		{ VM_LAYOUT_X86_64, 3, 512 * KIB, 2 * MIB }, { VM_LAYOUT_X86_64, 4, 512 * KIB, 2 * MIB },
		{ VM_LAYOUT_X86_64, 16, 256 * KIB, 4 * MIB }, { VM_LAYOUT_I386, 2, 57 * PAGE, 114 * PAGE },
	};

	for (unsigned k = 0; k < NK; k++) {
		for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			struct vm_engine *e = machine(kernels[k], want[i].cpus, want[i].l, 64 * MIB, NULL);
			struct vm_area_info info;
			uint64_t ptr;

			if (!e)
				continue;
			CU_ASSERT_EQUAL(t_stats(e).pcpu_unit_size, want[i].unit);
			CU_ASSERT_FATAL(vm_alloc_percpu(e, 8, 8, &ptr) == 0);
			CU_ASSERT_FATAL(vm_find_vm_area(e, ptr, &info) == 0);
			T_ASSERT_MSG(info.size == want[i].chunk && info.nr_pages == 0 &&
				     (info.flags & VM_PERCPU) && info.addr == ptr,
				     "%u CPUs: the chunk is %#llx bytes at %#llx, the object at %#llx",
				     want[i].cpus, (unsigned long long)info.size,
				     (unsigned long long)info.addr, (unsigned long long)ptr);
			T_CHECK(e);
			vm_engine_destroy(e);
		}
	}
}

/* pcpu_create_chunk(): the chunk's range from the top of the vmalloc range
 * (pcpu_get_vm_areas()), aligned to the atom, no guard page; its maps
 * vmalloc'd when longer than a page.  On 6.18 x86_64 with 2 CPUs that is
 * what /proc/vmallocinfo shows: alloc_map pages=8, bound_map pages=9,
 * md_blocks pages=2, obj_exts pages=512, and the 2 MiB range; 4.19 has 20
 * bytes of block metadata a page and no obj_exts. */
static void test_pcpu_chunk(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 2, VM_LAYOUT_X86_64, 64 * MIB, NULL);
		uint64_t ptr, top, c1, v;
		char *vmi, want[160];
		struct vm_stats st;
		uint8_t byte;

		if (!e)
			continue;
		top = t_stats(e).vmalloc_end & ~(2 * MIB - 1);
		CU_ASSERT_FATAL(vm_alloc_percpu(e, 100, 4, &ptr) == 0);
		CU_ASSERT_EQUAL(ptr, top - 2 * MIB);
		vmi = t_vmallocinfo(e);
		snprintf(want, sizeof(want), "0x%016llx-0x%016llx 2097152 pcpu_get_vm_areas+0x0/0x1060 vmalloc\n",
			 (unsigned long long)(top - 2 * MIB), (unsigned long long)top);
		CU_ASSERT(vmi && strstr(vmi, want));
		CU_ASSERT(vmi && strstr(vmi, " 36864 pcpu_create_chunk+0x56/0x230 pages=8 vmalloc N0=8\n"));
		CU_ASSERT(vmi && strstr(vmi, " 40960 pcpu_create_chunk+0x80/0x230 pages=9 vmalloc N0=9\n"));
		CU_ASSERT(vmi && strstr(vmi, " 12288 pcpu_create_chunk+0xa0/0x230 pages=2 vmalloc N0=2\n"));
		CU_ASSERT((vmi && strstr(vmi, " 2101248 pcpu_create_chunk+0x217/0x230 pages=512 vmalloc N0=512\n")) ==
			  (kernels[k] == K618));
		free(vmi);
		/* Both CPUs' copies are mapped and zeroed; CPU 1's is a unit up. */
		CU_ASSERT_FATAL(vm_per_cpu_ptr(e, ptr, 1, &c1) == 0);
		CU_ASSERT_EQUAL(c1, ptr + MIB);
		CU_ASSERT_EQUAL(vm_per_cpu_ptr(e, ptr, 2, &c1), -EINVAL);
		CU_ASSERT(vm_vread(e, c1 + 99, &byte, 1) == 0 && byte == 0);
		byte = 0x5a;
		CU_ASSERT_EQUAL(vm_vwrite(e, c1, &byte, 1), 0);
		CU_ASSERT(vm_vread(e, ptr, &byte, 1) == 0 && byte == 0);
		/* One page per CPU populated; the balance work then tops the
		 * empty populated pages up to PCPU_EMPTY_POP_PAGES_HIGH (4). */
		st = t_stats(e);
		CU_ASSERT(st.percpu_pages == 2 && st.work_pending);
		vm_run_due_work(e);
		CU_ASSERT_EQUAL(t_stats(e).percpu_pages, 2 * 5);
		/* The chunk is the machine's: vfree refuses it, and its
		 * unpopulated pages fault. */
		CU_ASSERT_EQUAL(vm_vfree(e, ptr), -EINVAL);
		CU_ASSERT_EQUAL(vm_vread(e, ptr + 512 * KIB, &byte, 1), -EFAULT);
		CU_ASSERT_EQUAL(vm_free_percpu(e, ptr + 4), -EINVAL);
		CU_ASSERT_EQUAL(vm_free_percpu(e, ptr), 0);
		CU_ASSERT_EQUAL(vm_free_percpu(e, ptr), -EINVAL);
		/* A wholly free chunk stays (the spare); its pages too. */
		vm_run_deferred_work(e);
		st = t_stats(e);
		CU_ASSERT(st.nr_pcpu_chunks == 1 && st.percpu_pages == 10);
		CU_ASSERT(vm_alloc_percpu(e, 8, 8, &v) == 0 && v == ptr);
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* __alloc_percpu()'s arguments: sizes up to PCPU_MIN_UNIT_SIZE (32 KiB),
 * in 4-byte units, aligned to a power of two up to a page; first fit. */
static void test_pcpu_objects(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct t_log log = { 0 };
		struct vm_config cfg;
		struct vm_engine *e;
		uint64_t a, b, c, d, sz;

		vm_config_init(&cfg);
		cfg.kernel = kernels[k];
		cfg.nr_cpus = 2;
		cfg.memory_bytes = 64 * MIB;
		cfg.log = t_log_fn;
		cfg.log_ctx = &log;
		e = t_machine_cfg(&cfg);
		if (!e)
			continue;
		CU_ASSERT_EQUAL(vm_alloc_percpu(e, 0, 4, &a), -EINVAL);
		CU_ASSERT_EQUAL(vm_alloc_percpu(e, 32 * KIB + 1, 4, &a), -EINVAL);
		CU_ASSERT_EQUAL(vm_alloc_percpu(e, 8, 8192, &a), -EINVAL);
		CU_ASSERT_EQUAL(vm_alloc_percpu(e, 8, 24, &a), -EINVAL);
		CU_ASSERT_STRING_EQUAL(log.last, "illegal size (8) or align (24) for percpu allocation");
		CU_ASSERT_FATAL(vm_alloc_percpu(e, 5, 1, &a) == 0);
		CU_ASSERT(vm_percpu_size(e, a, &sz) == 0 && sz == 8);
		CU_ASSERT_FATAL(vm_alloc_percpu(e, 4, 64, &b) == 0);
		CU_ASSERT_EQUAL(b, a + 64);
		CU_ASSERT_FATAL(vm_alloc_percpu(e, 4, 4, &c) == 0);
		CU_ASSERT_EQUAL(c, a + 8);
		CU_ASSERT_FATAL(vm_alloc_percpu(e, 32 * KIB, 4096, &d) == 0);
		CU_ASSERT_EQUAL(d, a + PAGE);
		CU_ASSERT_EQUAL(vm_free_percpu(e, c), 0);
		CU_ASSERT_FATAL(vm_alloc_percpu(e, 8, 4, &c) == 0);
		CU_ASSERT_EQUAL(c, a + 8);
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* pcpu_balance_free(): of the wholly free chunks, every one but the first
 * goes, from the deferred balance work a free queues; its range lazily. */
static void test_pcpu_balance_free(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 2, VM_LAYOUT_X86_64, 128 * MIB, NULL);
		static uint64_t p[80];
		struct vm_stats st;

		if (!e)
			continue;
		/* 1 MiB units: 80 objects of 32 KiB (and the alignment a page
		 * gives them) take three chunks. */
		for (unsigned i = 0; i < 80; i++)
			CU_ASSERT_FATAL(vm_alloc_percpu(e, 32 * KIB, PAGE, &p[i]) == 0);
		vm_run_deferred_work(e);
		CU_ASSERT_EQUAL(t_stats(e).nr_pcpu_chunks, 3);
		/* The 64th free leaves two wholly free chunks: the work is
		 * queued, and runs before the 65th. */
		for (unsigned i = 0; i < 64; i++)
			CU_ASSERT_EQUAL(vm_free_percpu(e, p[i]), 0);
		st = t_stats(e);
		CU_ASSERT(st.nr_pcpu_chunks == 3 && st.work_pending);
		for (unsigned i = 64; i < 80; i++)
			CU_ASSERT_EQUAL(vm_free_percpu(e, p[i]), 0);
		st = t_stats(e);
		CU_ASSERT(st.nr_pcpu_chunks == 2 && st.work_pending && st.nr_pcpu_objects == 0);
		vm_run_due_work(e);
		st = t_stats(e);
		T_ASSERT_MSG(st.nr_pcpu_chunks == 1, "%s: %llu chunks left", vm_kernel_name(kernels[k]),
			     (unsigned long long)st.nr_pcpu_chunks);
		CU_ASSERT(st.nr_purges == 0 && st.nr_lazy_areas > 0);
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* ---- kvfree_rcu ---------------------------------------------------------------------------------- */

/* kvfree_rcu(): 5.9+.  The area stays until a grace period after the
 * batch drains: a jiffy after its CPU's batch holds KVFREE_BULK_MAX_ENTR
 * (507) pointers, else KFREE_DRAIN_JIFFIES (5 s) after. */
static void test_kvfree_rcu(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 2, VM_LAYOUT_X86_64, 64 * MIB, NULL);
		static uint64_t v[507];
		uint64_t a, x;
		struct vm_stats st;

		if (!e)
			continue;
		CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &a) == 0);
		if (kernels[k] == K419) {
			CU_ASSERT_EQUAL(vm_kvfree_rcu(e, a, true), -EOPNOTSUPP);
			vm_engine_destroy(e);
			continue;
		}
		CU_ASSERT_EQUAL(vm_kvfree_rcu(e, a, false), 0);
		CU_ASSERT_EQUAL(vm_kvfree_rcu(e, a, false), -EINVAL);
		CU_ASSERT_EQUAL(vm_vfree(e, a), -EINVAL);
		CU_ASSERT_EQUAL(vm_find_vm_area(e, a, NULL), 0);
		st = t_stats(e);
		CU_ASSERT(st.nr_kvfree_rcu == 1 && st.work_delayed && !st.work_pending);
		/* Due work leaves the 5-second timer alone. */
		CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &x) == 0);
		CU_ASSERT_EQUAL(vm_find_vm_area(e, a, NULL), 0);
		T_CHECK(e);
		vm_run_deferred_work(e);
		CU_ASSERT_EQUAL(vm_find_vm_area(e, a, NULL), -ENOENT);
		st = t_stats(e);
		CU_ASSERT(st.nr_kvfree_rcu == 0 && st.nr_lazy_areas == 1 && !st.work_delayed);
		/* A full batch on CPU 1 drains a jiffy later: before the next
		 * call. */
		CU_ASSERT_EQUAL(vm_set_current_cpu(e, 1), 0);
		for (unsigned i = 0; i < 507; i++)
			CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &v[i]) == 0);
		for (unsigned i = 0; i < 506; i++)
			CU_ASSERT_EQUAL(vm_kvfree_rcu(e, v[i], true), 0);
		CU_ASSERT_FALSE(t_stats(e).work_pending);
		CU_ASSERT_EQUAL(vm_kvfree_rcu(e, v[506], true), 0);
		st = t_stats(e);
		CU_ASSERT(st.work_pending && st.nr_kvfree_rcu == 507);
		T_CHECK(e);
		CU_ASSERT_EQUAL(vm_vfree(e, x), 0);
		CU_ASSERT_EQUAL(t_stats(e).nr_kvfree_rcu, 0);
		CU_ASSERT_EQUAL(vm_find_vm_area(e, v[0], NULL), -ENOENT);
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

/* ---- the kernel table's test_vmalloc slot ---------------------------------------------------- */

static void test_test_vmalloc_slot(void)
{
	const struct vm_test_vmalloc_desc *d618 = vm_kernel_test_vmalloc(K618);
	const struct vm_test_vmalloc_desc *d419 = vm_kernel_test_vmalloc(K419);

	CU_ASSERT_FATAL(d618 && d419);
	CU_ASSERT_EQUAL(d618->default_mask, 7);
	CU_ASSERT_EQUAL(d618->xfail, 64);
	CU_ASSERT_TRUE(d618->summary_xfailed);
	CU_ASSERT_EQUAL(d419->default_mask, 0x7fffffff);
	CU_ASSERT_FALSE(d419->summary_xfailed);
	CU_ASSERT_PTR_NULL(vm_kernel_test_vmalloc(VM_NR_KERNELS));
}

/* The Summary lines as each module prints them after its runs
 * (do_concurrent_test() in lib/test_vmalloc.c): 6.18 counts the expected
 * failure, align_shift_alloc_test, under "xfailed:" (6.17+); the first
 * module, which the 4.19 machine runs, has no such field and counts it as
 * failed.  The port runs in process on each kernel's machine. */
static void test_test_vmalloc_summary(void)
{
	for (unsigned k = 0; k < NK; k++) {
		struct vm_engine *e = machine(kernels[k], 1, VM_LAYOUT_X86_64, 256 << 20, NULL);
		struct tv_kernel tk = tv_kernel_of(kernels[k]);
		struct tv_result res[TV_NR_CASES];
		struct tv_params p;
		struct tv_backend b;
		unsigned long long avg[2];
		char *text = NULL, name[2][64], tail[2][8];
		unsigned v[2][4];
		size_t len = 0;
		unsigned lines = 0;
		FILE *f;

		tv_params_init(&p, &tk);
		p.run_test_mask = 1u << 0 | 1u << 6;  /* fix_size, align_shift */
		p.test_loop_count = 50;
		p.test_repeat_count = 2;
		p.seed = 42;
		tv_backend_engine(&b, e);
		tv_run(&b, &p, res);
		CU_ASSERT_EQUAL(tv_unexpected_failures(res), 0);
		f = open_memstream(&text, &len);
		CU_ASSERT_FATAL(f != NULL);
		tv_print_summary(f, &p, res);
		fclose(f);
		if (kernels[k] == K618) {
			CU_ASSERT_EQUAL(sscanf(text, "Summary: %63s passed: %u failed: %u xfailed: %u repeat: "
					       "%u loops: 50 avg: %llu %7s\nSummary: %63s passed: %u "
					       "failed: %u xfailed: %u repeat: %u loops: 50 avg: %llu %7s",
					       name[0], &v[0][0], &v[0][1], &v[0][2], &v[0][3], &avg[0],
					       tail[0], name[1], &v[1][0], &v[1][1], &v[1][2], &v[1][3],
					       &avg[1], tail[1]), 14);
			CU_ASSERT(v[0][0] == 2 && v[0][1] == 0 && v[0][2] == 0 && v[0][3] == 2);
			CU_ASSERT(v[1][0] == 0 && v[1][1] == 0 && v[1][2] == 2 && v[1][3] == 2);
		} else {
			CU_ASSERT_PTR_NULL(strstr(text, "xfailed"));
			CU_ASSERT_EQUAL(sscanf(text, "Summary: %63s passed: %u failed: %u repeat: %u loops: "
					       "50 avg: %llu %7s\nSummary: %63s passed: %u failed: %u repeat: "
					       "%u loops: 50 avg: %llu %7s",
					       name[0], &v[0][0], &v[0][1], &v[0][3], &avg[0], tail[0],
					       name[1], &v[1][0], &v[1][1], &v[1][3], &avg[1], tail[1]), 12);
			CU_ASSERT(v[0][0] == 2 && v[0][1] == 0 && v[0][3] == 2);
			CU_ASSERT(v[1][0] == 0 && v[1][1] == 2 && v[1][3] == 2);
		}
		CU_ASSERT_STRING_EQUAL(name[0], "fix_size_alloc_test");
		CU_ASSERT_STRING_EQUAL(name[1], "align_shift_alloc_test");
		CU_ASSERT_STRING_EQUAL(tail[0], "usec");
		CU_ASSERT_STRING_EQUAL(tail[1], "usec");
		/* Two lines and nothing else. */
		for (size_t i = 0; i < len; i++)
			lines += text[i] == '\n';
		CU_ASSERT(lines == 2 && len && text[len - 1] == '\n');
		free(text);
		vm_engine_destroy(e);
	}
}

/* A machine names its kernel; an unknown one, or more CPUs than the
 * layout's CONFIG_NR_CPUS allows, is refused. */
static void test_choosing(void)
{
	struct vm_config cfg;
	struct vm_engine *e = NULL;
	enum vm_kernel k;

	CU_ASSERT_EQUAL(vm_kernel_from_name("6.18", &k), 0);
	CU_ASSERT_EQUAL(k, K618);
	CU_ASSERT_EQUAL(vm_kernel_from_name("4.19", &k), 0);
	CU_ASSERT_EQUAL(k, K419);
	CU_ASSERT_EQUAL(vm_kernel_from_name("5.10", &k), -EINVAL);
	CU_ASSERT_EQUAL(vm_kernel_from_name(NULL, &k), -EINVAL);
	CU_ASSERT_STRING_EQUAL(vm_kernel_name(K618), "6.18");
	CU_ASSERT_STRING_EQUAL(vm_kernel_name(VM_NR_KERNELS), "?");
	vm_config_init(&cfg);
	CU_ASSERT_EQUAL(cfg.kernel, K618);
	CU_ASSERT_EQUAL(cfg.nr_cpus, 1);
	cfg.memory_bytes = 64 * MIB;
	cfg.kernel = VM_NR_KERNELS;
	CU_ASSERT_EQUAL(vm_engine_create(&cfg, &e), -EINVAL);
	cfg.kernel = K419;
	cfg.nr_cpus = 0;
	CU_ASSERT_EQUAL(vm_engine_create(&cfg, &e), -EINVAL);
	cfg.layout = VM_LAYOUT_I386;
	cfg.nr_cpus = 65;
	CU_ASSERT_EQUAL(vm_engine_create(&cfg, &e), -EINVAL);
	cfg.nr_cpus = 64;
	CU_ASSERT_EQUAL(vm_engine_create(&cfg, &e), 0);
	if (e) {
		CU_ASSERT_EQUAL(t_stats(e).kernel, K419);
		CU_ASSERT_EQUAL(t_stats(e).nr_cpus, 64);
		CU_ASSERT_EQUAL(vm_set_current_cpu(e, 63), 0);
		CU_ASSERT_EQUAL(vm_set_current_cpu(e, 64), -EINVAL);
	}
	vm_engine_destroy(e);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "lazy_max_pages", test_lazy_max_pages },
		{ "purge_timing", test_purge_timing },
		{ "purge_on_failure", test_purge_on_failure },
		{ "vmap_nodes", test_vmap_nodes },
		{ "reuse_order_after_purge", test_reuse_order_after_purge },
		{ "pool_decay", test_pool_decay },
		{ "pools_whole_range_only", test_pools_whole_range_only },
		{ "vmallocinfo_order", test_vmallocinfo_order },
		{ "pointer_width", test_pointer_width },
		{ "nested_page_array", test_nested_page_array },
		{ "page_tables_stay", test_page_tables_stay },
		{ "i386_zones", test_i386_zones },
		{ "meminfo_lines", test_meminfo_lines },
		{ "vmap_no_guard", test_vmap_no_guard },
		{ "nofail_reserve", test_nofail_reserve },
		{ "watermarks", test_watermarks },
		{ "failure_warnings", test_failure_warnings },
		{ "free_vmap_cache_hint", test_free_vmap_cache_hint },
		{ "vmap_block_size", test_vmap_block_size },
		{ "vm_map_ram_block", test_vm_map_ram_block },
		{ "vm_map_ram_big", test_vm_map_ram_big },
		{ "vm_map_ram_per_cpu", test_vm_map_ram_per_cpu },
		{ "vm_unmap_aliases_blocks", test_vm_unmap_aliases_blocks },
		{ "pcpu_unit_size", test_pcpu_unit_size },
		{ "pcpu_chunk", test_pcpu_chunk },
		{ "pcpu_objects", test_pcpu_objects },
		{ "pcpu_balance_free", test_pcpu_balance_free },
		{ "kvfree_rcu", test_kvfree_rcu },
		{ "test_vmalloc_slot", test_test_vmalloc_slot },
		{ "test_vmalloc_summary", test_test_vmalloc_summary },
		{ "choosing", test_choosing },
		{ NULL, NULL },
	};

	return t_main("fidelity", cases, argc, argv);
}
