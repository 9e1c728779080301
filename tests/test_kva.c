/* test_kva.c -- the kernel virtual address allocator: guard pages, lowest
 * first fit (checked against a model of the busy ranges), alignment and
 * [start, end) windows, the augmented tree search against its linear oracle,
 * and lazy freeing with purge and retry.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"
#include "vmtest.h"

static uint64_t round_up(uint64_t x, uint64_t align)
{
	return (x + align - 1) & ~(align - 1);
}

static struct vm_alloc_req page_req(uint64_t size)
{
	struct vm_alloc_req req = {
		.size = size, .align = PAGE, .gfp = GFP_KERNEL | __GFP_HIGHMEM,
		.prot = PAGE_KERNEL, .node = NUMA_NO_NODE,
	};

	return req;
}

/* ---- guard pages ---------------------------------------------------------- */

static void check_guard_spacing(enum vm_layout layout)
{
	struct vm_engine *e = t_machine(64 * MIB, 1, layout);
	struct vm_alloc_req req = page_req(PAGE);
	uint64_t a, b, c, d, pfn, vs;
	struct vm_area_info info;
	char want[256];
	char *text;

	if (!e)
		return;
	vs = t_stats(e).vmalloc_start;
	CU_ASSERT_FATAL(vm_vmalloc(e, 1, &a) == 0);
	CU_ASSERT_FATAL(vm_vmalloc(e, 1, &b) == 0);
	CU_ASSERT_EQUAL(a, vs);
	T_ASSERT_MSG(b - a == 8192, "two 1-page areas are %#llx bytes apart", (unsigned long long)(b - a));

	/* Both show as 8192 bytes: the page and its guard.  %pK prints a
	 * pointer's width: 16 hex digits on x86_64, 8 on i386. */
	text = t_vmallocinfo(e);
	{
		int w = layout == VM_LAYOUT_I386 ? 8 : 16;

		snprintf(want, sizeof(want),
			 "0x%0*llx-0x%0*llx    8192 pages=1 vmalloc N0=1\n"
			 "0x%0*llx-0x%0*llx    8192 pages=1 vmalloc N0=1\n",
			 w, (unsigned long long)a, w, (unsigned long long)(a + 8192),
			 w, (unsigned long long)b, w, (unsigned long long)(b + 8192));
	}
	T_TEXT_EQ(text, want);
	free(text);
	CU_ASSERT_FATAL(vm_find_vm_area(e, a, &info) == 0);
	CU_ASSERT_EQUAL(info.size, 8192);
	CU_ASSERT_EQUAL(info.nr_pages, 1);

	/* The guard page belongs to the area but maps nothing. */
	CU_ASSERT_EQUAL(vm_vmalloc_to_pfn(e, a, &pfn), 0);
	CU_ASSERT_EQUAL(vm_vmalloc_to_pfn(e, a + PAGE, &pfn), -ENXIO);
	CU_ASSERT_EQUAL(vm_find_vm_area(e, a + PAGE, &info), 0);
	CU_ASSERT_EQUAL(info.addr, a);
	CU_ASSERT_EQUAL(vm_find_vm_area(e, b + 2 * PAGE, NULL), -ENOENT);

	/* VM_NO_GUARD areas touch. */
	req.vm_flags = VM_NO_GUARD;
	CU_ASSERT_FATAL(vm___vmalloc_node_range(e, &req, &c) == 0);
	CU_ASSERT_FATAL(vm___vmalloc_node_range(e, &req, &d) == 0);
	CU_ASSERT_EQUAL(c, b + 8192);
	CU_ASSERT_EQUAL(d, c + PAGE);
	CU_ASSERT_FATAL(vm_find_vm_area(e, c, &info) == 0);
	CU_ASSERT_EQUAL(info.size, PAGE);
	CU_ASSERT(info.flags & VM_NO_GUARD);
	T_CHECK(e);
	vm_engine_destroy(e);
}

static void test_guard_spacing(void)
{
	check_guard_spacing(VM_LAYOUT_X86_64);
	check_guard_spacing(VM_LAYOUT_I386);
}

/* ---- alignment ------------------------------------------------------------------- */

/* On a fresh machine with one page-sized area at the bottom, an aligned
 * request lands at the first aligned address above it, the next one at the
 * first aligned address above that, or fails when the range ends first. */
static void check_alignments(enum vm_layout layout, unsigned min_shift, unsigned max_shift)
{
	for (unsigned shift = min_shift; shift <= max_shift; shift++) {
		const uint64_t align = 1ull << shift;
		struct vm_engine *e = t_machine(64 * MIB, 1, layout);
		struct vm_alloc_req req = page_req(PAGE);
		uint64_t blocker, addr, want, vs, ve;
		struct vm_stats st;
		int r;

		if (!e)
			return;
		st = t_stats(e);
		vs = st.vmalloc_start;
		ve = st.vmalloc_end;
		CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &blocker) == 0);
		CU_ASSERT_EQUAL(blocker, vs);

		req.align = align;
		want = round_up(vs + 2 * PAGE, align);
		r = vm___vmalloc_node_range(e, &req, &addr);
		T_ASSERT_MSG(r == 0 && addr == want, "%s align %#llx: r %d addr %#llx, want %#llx",
			     vm_layout_name(layout), (unsigned long long)align, r,
			     (unsigned long long)addr, (unsigned long long)want);

		req.size = 3 * PAGE;
		want = round_up(want + 2 * PAGE, align);
		r = vm___vmalloc_node_range(e, &req, &addr);
		if (want + 4 * PAGE <= ve) {
			T_ASSERT_MSG(r == 0 && addr == want && addr % align == 0,
				     "%s align %#llx, 3 pages: r %d addr %#llx, want %#llx",
				     vm_layout_name(layout), (unsigned long long)align, r,
				     (unsigned long long)addr, (unsigned long long)want);
		} else {
			T_ASSERT_MSG(r == -ENOMEM, "%s align %#llx past the end: r %d",
				     vm_layout_name(layout), (unsigned long long)align, r);
		}
		T_CHECK(e);
		vm_engine_destroy(e);
	}
}

static void test_alignment(void)
{
	/* Every power of two from 4 KiB to 1 GiB on x86_64; on i386 up to
	 * 64 MiB, most of its 112 MiB range. */
	check_alignments(VM_LAYOUT_X86_64, 12, 30);
	check_alignments(VM_LAYOUT_I386, 12, 26);
}

/* ---- first fit against a model ---------------------------------------------------- */

struct model {
	struct { uint64_t start, end; } busy[1024];
	unsigned n;
	uint64_t vs, ve;
};

/* The lowest aligned [s, s + size) inside [vstart, vend) that overlaps no
 * busy range; 0 if there is none. */
static uint64_t model_fit(const struct model *m, uint64_t size, uint64_t align,
			  uint64_t vstart, uint64_t vend)
{
	uint64_t gap_start = m->vs;

	for (unsigned i = 0; i <= m->n; i++) {
		uint64_t gap_end = i < m->n ? m->busy[i].start : m->ve;
		uint64_t s = round_up(gap_start > vstart ? gap_start : vstart, align);

		if (s >= vend)
			return 0;
		if (s < gap_end && gap_end - s >= size && vend - s >= size)
			return s;
		if (i < m->n)
			gap_start = m->busy[i].end;
	}
	return 0;
}

static void model_add(struct model *m, uint64_t start, uint64_t end)
{
	unsigned i = m->n;

	while (i > 0 && m->busy[i - 1].start > start) {
		m->busy[i] = m->busy[i - 1];
		i--;
	}
	m->busy[i].start = start;
	m->busy[i].end = end;
	m->n++;
}

static void test_first_fit_model(void)
{
	const uint64_t seed = t_env_u64("VMTEST_SEED", 0x6b7661u);
	struct vm_engine *e = t_machine(128 * MIB, 1, VM_LAYOUT_X86_64);
	struct model *m = calloc(1, sizeof(*m));
	unsigned fits = 0, misses = 0;
	struct t_rng rng;

	if (!e || !m)
		goto out;
	t_rng_seed(&rng, seed);
	m->vs = t_stats(e).vmalloc_start;
	m->ve = t_stats(e).vmalloc_end;
	for (unsigned i = 0; i < 600 && m->n < 1024; i++) {
		struct vm_alloc_req req = page_req(t_rand_range(&rng, 1, 24 * PAGE));
		uint64_t kva, want, addr, vstart, vend;
		int r;

		req.align = 1ull << t_rand_range(&rng, 12, 20);
		req.gfp |= __GFP_NOWARN;
		if (t_rand_below(&rng, 4) == 0)
			req.vm_flags = VM_NO_GUARD;
		/* Mostly a window inside the first 16 MiB, so requests compete. */
		if (t_rand_below(&rng, 8) == 0) {
			vstart = m->vs;
			vend = m->ve;
		} else {
			vstart = m->vs + t_rand_below(&rng, 4096) * PAGE;
			vend = vstart + t_rand_range(&rng, 1, 4096) * PAGE;
			req.start = vstart;
			req.end = vend;
		}
		kva = round_up(req.size, PAGE) + (req.vm_flags & VM_NO_GUARD ? 0 : PAGE);
		want = model_fit(m, kva, req.align, vstart, vend);
		r = vm___vmalloc_node_range(e, &req, &addr);
		if (want) {
			fits++;
			if (!T_ASSERT_MSG(r == 0 && addr == want,
					  "seed %#llx step %u: size %#llx align %#llx [%#llx, %#llx): r %d addr %#llx, model says %#llx",
					  (unsigned long long)seed, i, (unsigned long long)kva,
					  (unsigned long long)req.align, (unsigned long long)vstart,
					  (unsigned long long)vend, r, (unsigned long long)addr,
					  (unsigned long long)want))
				break;
			model_add(m, addr, addr + kva);
		} else {
			misses++;
			if (!T_ASSERT_MSG(r == -ENOMEM, "seed %#llx step %u: model says no fit, r %d addr %#llx",
					  (unsigned long long)seed, i, r, (unsigned long long)addr))
				break;
		}
	}
	/* The sequence must have exercised both outcomes. */
	CU_ASSERT(fits > 100);
	CU_ASSERT(misses > 10);
	T_CHECK(e);
out:
	free(m);
	vm_engine_destroy(e);
}

/* ---- [start, end) windows ---------------------------------------------------------- */

static void test_range_honoured(void)
{
	struct vm_engine *e = t_machine(64 * MIB, 1, VM_LAYOUT_X86_64);
	struct vm_alloc_req req = page_req(PAGE);
	uint64_t vs, ve, addr;
	struct t_snap snap;

	if (!e)
		return;
	vs = t_stats(e).vmalloc_start;
	ve = t_stats(e).vmalloc_end;
	req.start = vs + 1 * MIB;
	req.end = req.start + 64 * KIB;
	/* Eight 1-page areas (8 KiB each with the guard) fill 64 KiB. */
	for (unsigned i = 0; i < 8; i++) {
		CU_ASSERT_FATAL(vm___vmalloc_node_range(e, &req, &addr) == 0);
		CU_ASSERT_EQUAL(addr, req.start + i * 8192);
	}
	t_snap_take(e, &snap);
	CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &addr), -ENOMEM);
	T_CHECK(e);
	T_SNAP_SAME(e, &snap);
	t_snap_free(&snap);

	/* Outside the window the space is untouched: the lowest area is
	 * still at the bottom of the vmalloc range. */
	CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &addr) == 0);
	CU_ASSERT_EQUAL(addr, vs);

	/* A window at the very top holds exactly one 4-page area. */
	req.size = 4 * PAGE;
	req.start = (ve & ~(PAGE - 1)) - 5 * PAGE;
	req.end = ve;
	CU_ASSERT_FATAL(vm___vmalloc_node_range(e, &req, &addr) == 0);
	CU_ASSERT_EQUAL(addr, req.start);
	CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &addr), -ENOMEM);
	T_CHECK(e);
	vm_engine_destroy(e);
}

/* Requests that cannot be met fail with a negative errno and change nothing.
 * A request that finds no KVA purges the lazy ranges before it gives up
 * whenever its gfp may sleep (6.18's alloc_vmap_area()), so the first pass,
 * with a lazy range about, asks with a gfp that may not; the second pass
 * purges first and asks with GFP_KERNEL. */
static void test_impossible_requests(void)
{
	struct vm_engine *e = t_machine(64 * MIB, 1, VM_LAYOUT_X86_64);
	uint64_t vs, ve, a, b, lazy, addr = 0xdead;
	struct {
		uint64_t size, align, start, end;
		int want;
		bool lazy_window;	/* fits once the lazy range is purged */
	} cases[16];
	unsigned n = 0;

	if (!e)
		return;
	vs = t_stats(e).vmalloc_start;
	ve = t_stats(e).vmalloc_end;
	CU_ASSERT_FATAL(vm_vmalloc(e, 3 * PAGE, &a) == 0);
	CU_ASSERT_FATAL(vm_vmalloc(e, 5 * PAGE, &lazy) == 0);
	CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &b) == 0);
	CU_ASSERT_EQUAL(vm_vfree(e, lazy), 0);

#define CASE(sz, al, st, en, w, lw) \
	cases[n].size = (sz); cases[n].align = (al); cases[n].start = (st); \
	cases[n].end = (en); cases[n].want = (w); cases[n].lazy_window = (lw); n++
	/* Alignments that are not powers of two. */
	CASE(PAGE, 3 * PAGE, 0, 0, -EINVAL, false);
	CASE(PAGE, PAGE + 1, 0, 0, -EINVAL, false);
	CASE(PAGE, 6, 0, 0, -EINVAL, false);
	CASE(PAGE, (1ull << 63) + PAGE, 0, 0, -EINVAL, false);
	/* Empty or out-of-range windows. */
	CASE(PAGE, PAGE, vs + MIB, vs + MIB, -EINVAL, false);
	CASE(PAGE, PAGE, vs + 2 * MIB, vs + MIB, -EINVAL, false);
	CASE(PAGE, PAGE, vs - PAGE, vs + MIB, -EINVAL, false);
	CASE(PAGE, PAGE, vs, ve + PAGE, -EINVAL, false);
	/* Windows that cannot hold the area and its guard. */
	CASE(2 * PAGE, PAGE, vs + MIB, vs + MIB + 2 * PAGE, -ENOMEM, false);
	CASE(PAGE, 2 * MIB, vs + PAGE, vs + 2 * MIB, -ENOMEM, false);
	CASE(PAGE, 1ull << 63, 0, 0, -ENOMEM, false);
	/* Windows whose room is all busy (or lazily freed). */
	CASE(PAGE, PAGE, a, a + 4 * PAGE, -ENOMEM, false);
	CASE(PAGE, PAGE, lazy, lazy + 6 * PAGE, -ENOMEM, true);
	CASE(PAGE, PAGE, a, b + 2 * PAGE, -ENOMEM, true);
#undef CASE

	for (unsigned pass = 0; pass < 2; pass++) {
		struct t_snap snap;

		if (pass == 1)
			vm_purge(e);
		t_snap_take(e, &snap);
		for (unsigned i = 0; i < n; i++) {
			struct vm_alloc_req req = page_req(cases[i].size);
			int r;

			if (pass == 1 && cases[i].lazy_window)
				continue;
			req.align = cases[i].align;
			req.start = cases[i].start;
			req.end = cases[i].end;
			req.gfp |= __GFP_NOWARN;
			if (pass == 0)
				req.gfp &= ~__GFP_DIRECT_RECLAIM;
			r = vm___vmalloc_node_range(e, &req, &addr);
			T_ASSERT_MSG(r == cases[i].want, "pass %u case %u: r %d, want %d", pass, i, r,
				     cases[i].want);
			CU_ASSERT_EQUAL(addr, 0xdead);
			T_CHECK(e);
			T_SNAP_SAME(e, &snap);
		}
		t_snap_free(&snap);
	}
	/* Only the explicit purge happened. */
	CU_ASSERT_EQUAL(t_stats(e).nr_purges, 1);
	vm_engine_destroy(e);
}

/* ---- the augmented tree search against the linear oracle ----------------------------- */

static void check_oracle(enum vm_layout layout, uint64_t seed)
{
	struct vm_engine *e = t_machine(128 * MIB, 1, layout);
	uint64_t live[512], nlive = 0, vs, ve, found = 0, none = 0, queries = 0;
	struct t_rng rng;
	bool ok = true;

	if (!e)
		return;
	t_rng_seed(&rng, seed);
	vs = t_stats(e).vmalloc_start;
	ve = t_stats(e).vmalloc_end;
	for (unsigned round = 0; round < 8 && ok; round++) {
		/* Shape the free space: allocate, free about half, purge. */
		while (nlive < 512) {
			struct vm_alloc_req req = page_req(t_rand_range(&rng, 1, 16) * PAGE);

			req.gfp |= __GFP_NOWARN;
			if (t_rand_below(&rng, 3) == 0)
				req.vm_flags = VM_NO_GUARD;
			if (t_rand_below(&rng, 4) == 0)
				req.align = 1ull << t_rand_range(&rng, 12, 22);
			if (vm___vmalloc_node_range(e, &req, &live[nlive]) < 0)
				break;
			nlive++;
		}
		for (uint64_t i = 0; i < nlive;) {
			if (t_rand_below(&rng, 2)) {
				CU_ASSERT_EQUAL(vm_vfree(e, live[i]), 0);
				live[i] = live[--nlive];
			} else {
				i++;
			}
		}
		vm_purge(e);
		T_CHECK(e);

		for (unsigned q = 0; q < 4000; q++) {
			uint64_t size = t_rand_range(&rng, 1, 64) * PAGE;
			uint64_t align = 1ull << t_rand_range(&rng, 12, 24);
			uint64_t vstart = vs, vend = ve;
			const struct vmap_area *tree, *linear;

			switch (t_rand_below(&rng, 4)) {
			case 0:
				break;
			case 1: /* a small window among the busy ranges */
				vstart = vs + t_rand_below(&rng, 1 << 13) * PAGE;
				vend = vstart + t_rand_range(&rng, 1, 1 << 9) * PAGE;
				break;
			case 2:
				vstart = vs + t_rand_below(&rng, 1 << 15) * PAGE;
				break;
			default: /* big requests, big alignments */
				size = t_rand_range(&rng, 1, 1 << 14) * PAGE;
				align = 1ull << t_rand_range(&rng, 12, 30);
				break;
			}
			if (vend > ve)
				vend = ve;
			if (vstart >= vend)
				continue;
			tree = vmi_find_lowest(e, size, align, vstart, vend);
			linear = vmi_find_lowest_linear(e, size, align, vstart, vend);
			queries++;
			found += linear != NULL;
			none += linear == NULL;
			ok = T_ASSERT_MSG(tree == linear,
					  "%s seed %#llx round %u: size %#llx align %#llx [%#llx, %#llx): tree %#llx, linear %#llx",
					  vm_layout_name(layout), (unsigned long long)seed, round,
					  (unsigned long long)size, (unsigned long long)align,
					  (unsigned long long)vstart, (unsigned long long)vend,
					  (unsigned long long)(tree ? tree->va_start : 0),
					  (unsigned long long)(linear ? linear->va_start : 0));
			if (!ok)
				break;
		}
	}
	/* Both answers must have come up often enough to mean something. */
	printf("\n%s: %llu queries, %llu found, %llu not\n", vm_layout_name(layout),
	       (unsigned long long)queries, (unsigned long long)found, (unsigned long long)none);
	T_ASSERT_MSG(found > queries / 10 && none > queries / 20,
		     "%s: %llu queries, %llu found, %llu not", vm_layout_name(layout),
		     (unsigned long long)queries, (unsigned long long)found, (unsigned long long)none);
	vm_engine_destroy(e);
}

static void test_tree_vs_linear(void)
{
	uint64_t seed = t_env_u64("VMTEST_SEED", 0x0dac1e);

	check_oracle(VM_LAYOUT_X86_64, seed);
	check_oracle(VM_LAYOUT_I386, seed + 1);
}

/* ---- lazy purge ------------------------------------------------------------------------- */

static void test_lazy_no_reuse(void)
{
	struct vm_engine *e = t_machine(64 * MIB, 1, VM_LAYOUT_X86_64);
	uint64_t a, b, c, pfn;
	struct vm_stats st;
	char line[128], buf[16];
	char *text;

	if (!e)
		return;
	CU_ASSERT_EQUAL(t_stats(e).pagetable_pages, 1);
	CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &a) == 0);
	/* PUD, PMD and PTE tables under the root for the first area. */
	CU_ASSERT_EQUAL(t_stats(e).pagetable_pages, 4);
	CU_ASSERT_EQUAL(vm_vwrite(e, a, "x", 1), 0);
	CU_ASSERT_EQUAL(vm_vfree(e, a), 0);

	/* Unmapped now, but the range is not free yet. */
	CU_ASSERT_EQUAL(vm_vmalloc_to_pfn(e, a, &pfn), -ENXIO);
	CU_ASSERT_EQUAL(vm_vread(e, a, buf, 1), -EFAULT);
	CU_ASSERT_EQUAL(vm_find_vm_area(e, a, NULL), -ENOENT);
	st = t_stats(e);
	CU_ASSERT_EQUAL(st.nr_lazy_areas, 1);
	CU_ASSERT_EQUAL(st.lazy_pages, 2);
	CU_ASSERT_EQUAL(st.nr_purges, 0);
	CU_ASSERT_EQUAL(st.pagetable_pages, 4);
	CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &b) == 0);
	T_ASSERT_MSG(b > a, "a new area at %#llx reused the lazily freed %#llx before a purge",
		     (unsigned long long)b, (unsigned long long)a);
	CU_ASSERT_EQUAL(b, a + 8192);

	text = t_vmallocinfo(e);
	snprintf(line, sizeof(line), "0x%016llx-0x%016llx    8192 unpurged vm_area\n",
		 (unsigned long long)a, (unsigned long long)(a + 8192));
	T_ASSERT_MSG(text && strstr(text, line), "no unpurged line for %#llx in:\n%s",
		     (unsigned long long)a, text ? text : "");
	free(text);

	vm_purge(e);
	st = t_stats(e);
	CU_ASSERT_EQUAL(st.nr_purges, 1);
	CU_ASSERT_EQUAL(st.nr_tlb_flushes, 1);
	CU_ASSERT_EQUAL(st.nr_lazy_areas, 0);
	CU_ASSERT_EQUAL(st.lazy_pages, 0);
	text = t_vmallocinfo(e);
	CU_ASSERT_PTR_NULL(text ? strstr(text, "unpurged") : "");
	free(text);

	/* After the purge the lowest range is the first one again. */
	CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &c) == 0);
	CU_ASSERT_EQUAL(c, a);
	/* Nothing lazy: a purge has nothing to flush. */
	vm_purge(e);
	CU_ASSERT_EQUAL(t_stats(e).nr_tlb_flushes, 1);

	/* Page tables stay, even once no area needs them: the kernel never
	 * frees those of the vmalloc range. */
	CU_ASSERT_EQUAL(vm_vfree(e, b), 0);
	CU_ASSERT_EQUAL(vm_vfree(e, c), 0);
	CU_ASSERT_EQUAL(t_stats(e).pagetable_pages, 4);
	vm_purge(e);
	CU_ASSERT_EQUAL(t_stats(e).pagetable_pages, 4);
	CU_ASSERT_EQUAL(t_stats(e).nr_purges, 2);
	T_CHECK(e);
	vm_engine_destroy(e);
}

/* The purge once the lazy pages exceed the limit: inside the vfree on 4.19
 * (try_purge_vmap_area_lazy), as deferred work on 6.18 (drain_vmap_work),
 * which runs at the engine's next allocator call. */
static void check_lazy_limit(enum vm_kernel kernel)
{
	struct vm_engine *e;
	struct vm_config cfg;
	uint64_t addr[20], lazy = 0, purges = 0;
	bool pending = false, deferred = kernel == VM_KERNEL_6_18;

	vm_config_init(&cfg);
	cfg.memory_bytes = 64 * MIB;
	cfg.lazy_max_pages = 64;
	cfg.kernel = kernel;
	e = t_machine_cfg(&cfg);
	if (!e)
		return;
	CU_ASSERT_EQUAL(t_stats(e).lazy_max_pages, 64);
	for (unsigned i = 0; i < 20; i++)
		CU_ASSERT_FATAL(vm_vmalloc(e, 7 * PAGE, &addr[i]) == 0);
	/* Each area holds 8 pages of KVA: after 8 frees the lazy pages reach
	 * the limit without exceeding it; the 9th exceeds it and purges all
	 * nine at once, with one flush (6.18: before the next call). */
	for (unsigned i = 0; i < 20; i++) {
		struct vm_stats st;

		if (pending) {
			purges++;
			lazy = 0;
			pending = false;
		}
		CU_ASSERT_EQUAL(vm_vfree(e, addr[i]), 0);
		lazy += 8;
		if (lazy > 64) {
			if (deferred) {
				pending = true;
			} else {
				purges++;
				lazy = 0;
			}
		}
		st = t_stats(e);
		T_ASSERT_MSG(st.nr_purges == purges && st.nr_tlb_flushes == purges &&
			     st.lazy_pages == lazy && st.work_pending == pending,
			     "%s, after %u frees: %llu purges, %llu flushes, %llu lazy pages, work %s; "
			     "want %llu, %llu, %llu, %s", vm_kernel_name(kernel),
			     i + 1, (unsigned long long)st.nr_purges,
			     (unsigned long long)st.nr_tlb_flushes, (unsigned long long)st.lazy_pages,
			     st.work_pending ? "pending" : "none",
			     (unsigned long long)purges, (unsigned long long)purges,
			     (unsigned long long)lazy, pending ? "pending" : "none");
		if (i == 7)
			CU_ASSERT(st.nr_purges == 0 && st.lazy_pages == 64);
	}
	vm_run_deferred_work(e);
	CU_ASSERT_FALSE(vm_work_pending(e));
	T_CHECK(e);
	vm_engine_destroy(e);
}

static void test_lazy_limit(void)
{
	check_lazy_limit(VM_KERNEL_6_18);
	check_lazy_limit(VM_KERNEL_4_19);
}

static void test_purge_on_no_room(void)
{
	struct vm_engine *e = t_machine(64 * MIB, 1, VM_LAYOUT_X86_64);
	struct vm_alloc_req req = page_req(PAGE);
	uint64_t a, addr, big;
	struct vm_config cfg;
	struct t_snap snap;
	struct vm_stats st;

	if (!e)
		return;
	/* A window with room for exactly one 1-page area. */
	req.start = t_stats(e).vmalloc_start + GIB;
	req.end = req.start + 8192;
	CU_ASSERT_FATAL(vm___vmalloc_node_range(e, &req, &a) == 0);
	CU_ASSERT_EQUAL(a, req.start);
	CU_ASSERT_EQUAL(vm_vfree(e, a), 0);
	CU_ASSERT_EQUAL(t_stats(e).nr_lazy_areas, 1);

	/* A gfp that may not sleep: no purge, no area, nothing changed. */
	t_snap_take(e, &snap);
	req.gfp = (req.gfp & ~__GFP_DIRECT_RECLAIM) | __GFP_NOWARN;
	CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &addr), -ENOMEM);
	CU_ASSERT_EQUAL(t_stats(e).nr_purges, 0);
	T_SNAP_SAME(e, &snap);
	t_snap_free(&snap);

	/* __GFP_NORETRY still purges once (6.18 does whenever it may sleep),
	 * then succeeds in the same place. */
	req.gfp = GFP_KERNEL | __GFP_NORETRY;
	CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &addr), 0);
	CU_ASSERT_EQUAL(addr, a);
	st = t_stats(e);
	CU_ASSERT_EQUAL(st.nr_purges, 1);
	CU_ASSERT_EQUAL(st.nr_lazy_areas, 0);
	T_CHECK(e);
	vm_engine_destroy(e);

	/* The small i386 range: 100 MiB twice only fits with a purge between. */
	vm_config_init(&cfg);
	cfg.memory_bytes = 512 * MIB;
	cfg.layout = VM_LAYOUT_I386;
	cfg.lazy_max_pages = 1ull << 20;
	e = t_machine_cfg(&cfg);
	if (!e)
		return;
	CU_ASSERT_FATAL(vm_vmalloc(e, 100 * MIB, &big) == 0);
	CU_ASSERT_EQUAL(vm_vfree(e, big), 0);
	st = t_stats(e);
	CU_ASSERT_EQUAL(st.nr_purges, 0);
	CU_ASSERT(st.largest_free_kva < 100 * MIB);
	CU_ASSERT_EQUAL(vm_vmalloc(e, 100 * MIB, &addr), 0);
	CU_ASSERT_EQUAL(addr, big);
	CU_ASSERT_EQUAL(t_stats(e).nr_purges, 1);
	T_CHECK(e);
	vm_engine_destroy(e);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "guard_spacing", test_guard_spacing },
		{ "alignment", test_alignment },
		{ "first_fit_model", test_first_fit_model },
		{ "range_honoured", test_range_honoured },
		{ "impossible_requests", test_impossible_requests },
		{ "tree_vs_linear", test_tree_vs_linear },
		{ "lazy_no_reuse", test_lazy_no_reuse },
		{ "lazy_limit", test_lazy_limit },
		{ "purge_on_no_room", test_purge_on_no_room },
		{ NULL, NULL },
	};

	return t_main("kva", cases, argc, argv);
}
