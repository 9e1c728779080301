/* test_buddy.c -- the buddy allocator and where vmalloc's frames come from:
 * fragmentation that defeats contiguous allocation but not vmalloc, zone
 * order (HighMem first on i386, Normal then DMA32 on x86_64), GFP zone
 * modifiers, watermarks, NUMA placement and split/merge.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmtest.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- fragmentation: the reason vmalloc exists ------------------------------ */

static void test_fragmented_memory(void)
{
	const uint64_t nr = (64 * MIB) / PAGE;
	struct vm_engine *e = t_machine(256 * MIB, 1, VM_LAYOUT_X86_64);
	uint64_t *held, *pfns, nheld = 0, pfn, addr, adjacent = 0, odd = 0;
	struct t_snap start;
	struct t_zones zs;
	struct vm_stats st;
	int r;

	if (!e)
		return;
	/* The page tables the 64 MiB area will need, made first: no kernel
	 * frees vmalloc page tables, so they would stay after it and the
	 * machine would not be as it was. */
	CU_ASSERT_FATAL(vm_vmalloc(e, 64 * MIB, &addr) == 0);
	CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
	vm_purge(e);
	t_snap_take(e, &start);
	held = t_frame_array(e);
	CU_ASSERT_FATAL(held != NULL);

	/* Take every frame (__GFP_MEMALLOC ignores the watermarks), then give
	 * back the even ones: no two free frames are neighbours any more. */
	nheld = t_take_frames(e, __GFP_MEMALLOC, NUMA_NO_NODE, held);
	st = t_stats(e);
	CU_ASSERT_EQUAL(st.free_pages, 0);
	CU_ASSERT_EQUAL(nheld + st.pagetable_pages, st.total_pages);
	for (uint64_t i = 0; i < nheld; i++) {
		if (held[i] % 2) {
			held[odd++] = held[i];
			continue;
		}
		CU_ASSERT_EQUAL(vm_free_pages(e, held[i], 0), 0);
	}
	T_CHECK(e);

	/* Every free block is a single frame... */
	t_zones(e, &zs);
	for (unsigned i = 0; i < zs.n; i++) {
		CU_ASSERT(zs.z[i].nr_free[0] > 0);
		CU_ASSERT_EQUAL(zs.z[i].nr_free[0], zs.z[i].free);
		for (unsigned o = 1; o < VM_NR_ORDERS; o++)
			CU_ASSERT_EQUAL(zs.z[i].nr_free[o], 0);
	}
	/* ...so two contiguous frames cannot be had, whatever the flags... */
	CU_ASSERT_EQUAL(vm_alloc_pages(e, GFP_KERNEL | __GFP_NOWARN, 1, NUMA_NO_NODE, &pfn), -ENOMEM);
	CU_ASSERT_EQUAL(vm_alloc_pages(e, __GFP_MEMALLOC | __GFP_NOWARN, 1, NUMA_NO_NODE, &pfn), -ENOMEM);

	/* ...while 64 MiB of vmalloc is fine, one scattered frame at a time
	 * (and so is its 32-page page array, an area of its own). */
	r = vm_vmalloc(e, 64 * MIB, &addr);
	T_ASSERT_MSG(r == 0, "vmalloc(64 MiB) on fragmented memory = %d", r);
	if (r == 0) {
		pfns = t_area_pfns(e, addr, nr);
		if (pfns) {
			for (uint64_t i = 0; i + 1 < nr; i++) {
				if (pfns[i + 1] == pfns[i] + 1 || pfns[i] == pfns[i + 1] + 1)
					adjacent++;
			}
			T_ASSERT_MSG(adjacent == 0, "%llu pairs of neighbouring pages are physically contiguous",
				     (unsigned long long)adjacent);
			/* Only the frames given back can be in it, each once. */
			qsort(pfns, nr, sizeof(*pfns), cmp_u64);
			for (uint64_t i = 0; i < nr; i++) {
				CU_ASSERT_EQUAL(pfns[i] % 2, 0);
				if (i)
					CU_ASSERT(pfns[i] != pfns[i - 1]);
			}
			free(pfns);
		}
		T_CHECK(e);
		CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
	}

	t_free_frames(e, held, odd);
	vm_purge(e);
	T_CHECK(e);
	T_SNAP_SAME(e, &start);
	t_snap_free(&start);
	free(held);
	vm_engine_destroy(e);
}

/* ---- zones ---------------------------------------------------------------- */

struct zone_count {
	uint64_t per_type[VM_NR_ZONES];
	uint64_t unknown;
};

/* Count the area's frames per zone type; with ret_order, also require the
 * frames to come in runs of zone types in the given order (no going back). */
static void count_zones(struct vm_engine *e, const struct t_zones *zs, uint64_t addr, uint64_t nr,
			struct zone_count *c, const enum vm_zone_type *order, unsigned norder)
{
	uint64_t *pfns = t_area_pfns(e, addr, nr);
	unsigned pos = 0;

	memset(c, 0, sizeof(*c));
	if (!pfns)
		return;
	for (uint64_t i = 0; i < nr; i++) {
		const struct vm_zone_info *z = t_pfn_zone(zs, pfns[i]);

		if (!z) {
			c->unknown++;
			continue;
		}
		c->per_type[z->type]++;
		if (!order)
			continue;
		while (pos < norder && order[pos] != z->type)
			pos++;
		T_ASSERT_MSG(pos < norder, "page %llu (pfn %#llx) is in zone %s, out of order",
			     (unsigned long long)i, (unsigned long long)pfns[i], z->name);
		if (pos >= norder)
			break;
	}
	free(pfns);
	CU_ASSERT_EQUAL(c->unknown, 0);
}

static void test_i386_highmem_first(void)
{
	static const enum vm_zone_type high_then_normal[] = { VM_ZONE_HIGHMEM, VM_ZONE_NORMAL };
	/* 960 MiB: 64 MiB of HighMem above the 896 MiB of lowmem. */
	struct vm_engine *e = t_machine(960 * MIB, 1, VM_LAYOUT_I386);
	const uint64_t nr = (80 * MIB) / PAGE;
	const struct vm_zone_info *high;
	uint64_t high_free, high_min, addr, small;
	struct zone_count c;
	struct t_zones zs;

	if (!e)
		return;
	t_zones(e, &zs);
	high = t_zone(&zs, 0, VM_ZONE_HIGHMEM);
	CU_ASSERT_FATAL(high != NULL);
	CU_ASSERT_EQUAL(high->managed, (64 * MIB) / PAGE);
	high_free = high->free;
	high_min = high->wmark_min;

	/* A small vmalloc fits in HighMem entirely. */
	CU_ASSERT_FATAL(vm_vmalloc(e, 1 * MIB, &small) == 0);
	count_zones(e, &zs, small, MIB / PAGE, &c, NULL, 0);
	CU_ASSERT_EQUAL(c.per_type[VM_ZONE_HIGHMEM], MIB / PAGE);
	CU_ASSERT_EQUAL(vm_vfree(e, small), 0);

	/* 80 MiB: HighMem down to its watermark, then Normal; never DMA.
	 * Its page array (20480 4-byte pointers: 20 pages) is a vmalloc area
	 * made first, from HighMem too. */
	CU_ASSERT_FATAL(vm_vmalloc(e, 80 * MIB, &addr) == 0);
	count_zones(e, &zs, addr, nr, &c, high_then_normal, 2);
	T_ASSERT_MSG(c.per_type[VM_ZONE_HIGHMEM] == high_free - high_min - 20,
		     "%llu HighMem frames, HighMem had %llu free above its min watermark, "
		     "20 of them for the page array",
		     (unsigned long long)c.per_type[VM_ZONE_HIGHMEM],
		     (unsigned long long)(high_free - high_min));
	CU_ASSERT_EQUAL(c.per_type[VM_ZONE_NORMAL], nr - (high_free - high_min - 20));
	CU_ASSERT_EQUAL(c.per_type[VM_ZONE_DMA], 0);
	t_zones(e, &zs);
	CU_ASSERT_EQUAL(t_zone(&zs, 0, VM_ZONE_HIGHMEM)->free, high_min);

	/* HighMem is at its watermark: the next area comes from Normal. */
	CU_ASSERT_FATAL(vm_vmalloc(e, 64 * KIB, &small) == 0);
	count_zones(e, &zs, small, 16, &c, NULL, 0);
	CU_ASSERT_EQUAL(c.per_type[VM_ZONE_NORMAL], 16);
	T_CHECK(e);

	/* Freed HighMem is preferred again. */
	CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
	CU_ASSERT_FATAL(vm_vmalloc(e, 64 * KIB, &addr) == 0);
	count_zones(e, &zs, addr, 16, &c, NULL, 0);
	CU_ASSERT_EQUAL(c.per_type[VM_ZONE_HIGHMEM], 16);

	/* vmalloc_32 (GFP_DMA32: Normal on i386) stays in lowmem; __vmalloc
	 * with GFP_KERNEL gets __GFP_HIGHMEM added like any vmalloc. */
	CU_ASSERT_EQUAL(vm_vfree(e, small), 0);
	CU_ASSERT_FATAL(vm_vmalloc_32(e, 256 * KIB, &small) == 0);
	count_zones(e, &zs, small, 64, &c, NULL, 0);
	CU_ASSERT_EQUAL(c.per_type[VM_ZONE_HIGHMEM], 0);
	CU_ASSERT_EQUAL(c.per_type[VM_ZONE_NORMAL], 64);
	CU_ASSERT_EQUAL(vm_vfree(e, small), 0);
	CU_ASSERT_FATAL(vm___vmalloc(e, 256 * KIB, GFP_KERNEL, &small) == 0);
	count_zones(e, &zs, small, 64, &c, NULL, 0);
	CU_ASSERT_EQUAL(c.per_type[VM_ZONE_HIGHMEM], 64);
	T_CHECK(e);
	vm_engine_destroy(e);
}

static void test_x86_64_normal_then_dma32(void)
{
	static const enum vm_zone_type normal_then_dma32[] = { VM_ZONE_NORMAL, VM_ZONE_DMA32 };
	/* 4 GiB + 64 MiB: a 64 MiB Normal zone above 4 GiB. */
	struct vm_engine *e = t_machine(4 * GIB + 64 * MIB, 1, VM_LAYOUT_X86_64);
	const uint64_t nr = (96 * MIB) / PAGE;
	const struct vm_zone_info *normal;
	uint64_t normal_free, normal_min, addr, a32;
	struct zone_count c;
	struct t_zones zs;

	if (!e)
		return;
	t_zones(e, &zs);
	normal = t_zone(&zs, 0, VM_ZONE_NORMAL);
	CU_ASSERT_FATAL(normal != NULL);
	CU_ASSERT_EQUAL(normal->start_pfn, (4 * GIB) / PAGE);
	normal_free = normal->free;
	normal_min = normal->wmark_min;

	/* The page array (24576 pointers: 48 pages) is vmalloc'd and mapped
	 * first, its pages and its three new page tables (PUD, PMD, PTE)
	 * from Normal too. */
	CU_ASSERT_FATAL(vm_vmalloc(e, 96 * MIB, &addr) == 0);
	count_zones(e, &zs, addr, nr, &c, normal_then_dma32, 2);
	T_ASSERT_MSG(c.per_type[VM_ZONE_NORMAL] == normal_free - normal_min - 48 - 3,
		     "%llu Normal frames, Normal had %llu free above its min watermark, 48 + 3 of "
		     "them for the page array", (unsigned long long)c.per_type[VM_ZONE_NORMAL],
		     (unsigned long long)(normal_free - normal_min));
	CU_ASSERT_EQUAL(c.per_type[VM_ZONE_DMA32], nr - (normal_free - normal_min - 48 - 3));
	CU_ASSERT_EQUAL(c.per_type[VM_ZONE_DMA], 0);
	CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);

	/* With Normal free again, vmalloc_32 still keeps below 4 GiB. */
	CU_ASSERT_FATAL(vm_vmalloc_32(e, 4 * MIB, &a32) == 0);
	count_zones(e, &zs, a32, (4 * MIB) / PAGE, &c, NULL, 0);
	CU_ASSERT_EQUAL(c.per_type[VM_ZONE_DMA32], (4 * MIB) / PAGE);
	CU_ASSERT_FATAL(vm_vmalloc(e, 4 * MIB, &addr) == 0);
	count_zones(e, &zs, addr, (4 * MIB) / PAGE, &c, NULL, 0);
	CU_ASSERT_EQUAL(c.per_type[VM_ZONE_NORMAL], (4 * MIB) / PAGE);
	T_CHECK(e);
	vm_engine_destroy(e);

	/* Below 4 GiB there is no Normal zone: DMA32, never DMA. */
	e = t_machine(1 * GIB, 1, VM_LAYOUT_X86_64);
	if (!e)
		return;
	t_zones(e, &zs);
	CU_ASSERT_PTR_NULL(t_zone(&zs, 0, VM_ZONE_NORMAL));
	CU_ASSERT_FATAL(vm_vmalloc(e, 64 * MIB, &addr) == 0);
	count_zones(e, &zs, addr, (64 * MIB) / PAGE, &c, NULL, 0);
	CU_ASSERT_EQUAL(c.per_type[VM_ZONE_DMA32], (64 * MIB) / PAGE);
	vm_engine_destroy(e);
}

static void test_gfp_zone_modifiers(void)
{
	struct vm_engine *e = t_machine(4 * GIB + 64 * MIB, 1, VM_LAYOUT_X86_64);
	static const struct {
		gfp_t gfp;
		enum vm_zone_type zone;
	} cases[] = {
		{ GFP_KERNEL | GFP_DMA, VM_ZONE_DMA },
		{ GFP_KERNEL | GFP_DMA32, VM_ZONE_DMA32 },
		{ GFP_KERNEL, VM_ZONE_NORMAL },
		{ GFP_KERNEL | __GFP_HIGHMEM, VM_ZONE_NORMAL },
	};
	struct t_zones zs;

	if (!e)
		return;
	t_zones(e, &zs);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t pfn, addr;
		struct zone_count c;
		const struct vm_zone_info *z;

		CU_ASSERT_FATAL(vm_alloc_pages(e, cases[i].gfp, 2, NUMA_NO_NODE, &pfn) == 0);
		z = t_pfn_zone(&zs, pfn);
		CU_ASSERT(z && z->type == cases[i].zone);
		CU_ASSERT_EQUAL(pfn % 4, 0);
		CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 2), 0);

		CU_ASSERT_FATAL(vm___vmalloc(e, 32 * KIB, cases[i].gfp, &addr) == 0);
		count_zones(e, &zs, addr, 8, &c, NULL, 0);
		CU_ASSERT_EQUAL(c.per_type[cases[i].zone], 8);
		CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
	}
	T_CHECK(e);
	vm_engine_destroy(e);
}

/* ---- watermarks --------------------------------------------------------------- */

static void test_watermarks(void)
{
	struct vm_engine *e;
	struct vm_config cfg;
	struct t_log log = { 0 };
	uint64_t *held, n, n_kernel, n_atomic, addr;
	const struct vm_zone_info *dma32;
	struct t_snap start;
	struct t_zones zs;
	struct vm_stats st;

	vm_config_init(&cfg);
	cfg.memory_bytes = 64 * MIB;
	cfg.log = t_log_fn;
	cfg.log_ctx = &log;
	e = t_machine_cfg(&cfg);
	if (!e)
		return;
	t_snap_take(e, &start);
	held = t_frame_array(e);
	CU_ASSERT_FATAL(held != NULL);

	/* An ordinary request stops at the min watermark of the zone it
	 * prefers (and earlier in DMA, which keeps a lowmem reserve). */
	n = n_kernel = t_take_frames(e, GFP_KERNEL, NUMA_NO_NODE, held);
	t_zones(e, &zs);
	dma32 = t_zone(&zs, 0, VM_ZONE_DMA32);
	CU_ASSERT_FATAL(dma32 != NULL);
	CU_ASSERT(dma32->wmark_min > 0);
	CU_ASSERT_EQUAL(dma32->free, dma32->wmark_min);
	CU_ASSERT(t_zone(&zs, 0, VM_ZONE_DMA)->free >= t_zone(&zs, 0, VM_ZONE_DMA)->wmark_min);
	CU_ASSERT_EQUAL(log.count, 0);

	/* vmalloc fails there too, and says so in the kernel's words. */
	CU_ASSERT_EQUAL(vm_vmalloc(e, 4096, &addr), -ENOMEM);
	CU_ASSERT_EQUAL(log.count, 1);
	CU_ASSERT_STRING_EQUAL(log.last, "vmalloc error: size 4096, failed to allocate pages");
	CU_ASSERT_EQUAL(log.last_level, VM_LOG_WARNING);
	CU_ASSERT_EQUAL(vm___vmalloc(e, 4096, GFP_KERNEL | __GFP_NOWARN, &addr), -ENOMEM);
	CU_ASSERT_EQUAL(log.count, 1);

	/* __GFP_NOFAIL's last attempt may use half of min (6.18's
	 * ALLOC_MIN_RESERVE), no more. */
	n += t_take_frames(e, GFP_KERNEL | __GFP_NOFAIL, NUMA_NO_NODE, held + n);
	t_zones(e, &zs);
	dma32 = t_zone(&zs, 0, VM_ZONE_DMA32);
	CU_ASSERT_EQUAL(dma32->free, dma32->wmark_min - dma32->wmark_min / 2);

	/* GFP_ATOMIC digs deeper (half, then a quarter of the rest), but not
	 * to the bottom. */
	n_atomic = t_take_frames(e, GFP_ATOMIC, NUMA_NO_NODE, held + n);
	n += n_atomic;
	CU_ASSERT(n_atomic > 0);
	CU_ASSERT(t_stats(e).free_pages > 0);

	/* __GFP_MEMALLOC takes what is left. */
	n += t_take_frames(e, __GFP_MEMALLOC, NUMA_NO_NODE, held + n);
	st = t_stats(e);
	CU_ASSERT_EQUAL(st.free_pages, 0);
	CU_ASSERT_EQUAL(st.alloc_pages_pages, n);
	CU_ASSERT_EQUAL(n + st.pagetable_pages, st.total_pages);
	T_CHECK(e);

	t_free_frames(e, held, n);
	T_CHECK(e);
	T_SNAP_SAME(e, &start);
	t_snap_free(&start);
	free(held);
	vm_engine_destroy(e);
}

/* ---- split and merge ------------------------------------------------------------ */

static void test_split_merge(void)
{
	struct vm_engine *e = t_machine(64 * MIB, 1, VM_LAYOUT_X86_64);
	uint64_t pfn[VM_NR_ORDERS], buddy_pfn;
	const struct vm_zone_info *z;
	struct t_snap start;
	struct t_zones before, zs;

	if (!e)
		return;
	t_snap_take(e, &start);
	t_zones(e, &before);

	/* One block of each order, each aligned to its size. */
	for (unsigned o = 0; o < VM_NR_ORDERS; o++) {
		CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, o, NUMA_NO_NODE, &pfn[o]) == 0);
		CU_ASSERT_EQUAL(pfn[o] & ((1ull << o) - 1), 0);
	}
	T_CHECK(e);
	/* Blocks of different orders never overlap. */
	for (unsigned a = 0; a < VM_NR_ORDERS; a++)
		for (unsigned b = a + 1; b < VM_NR_ORDERS; b++)
			CU_ASSERT(pfn[a] + (1ull << a) <= pfn[b] || pfn[b] + (1ull << b) <= pfn[a]);

	/* Freeing in any order merges everything back. */
	for (unsigned o = 0; o < VM_NR_ORDERS; o += 2)
		CU_ASSERT_EQUAL(vm_free_pages(e, pfn[o], o), 0);
	for (unsigned o = 1; o < VM_NR_ORDERS; o += 2)
		CU_ASSERT_EQUAL(vm_free_pages(e, pfn[o], o), 0);
	T_CHECK(e);
	T_SNAP_SAME(e, &start);

	/* Split: an order-0 request from a zone holding only max-order
	 * blocks leaves one free block at every order below the maximum. */
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL | GFP_DMA, 0, NUMA_NO_NODE, &pfn[0]) == 0);
	t_zones(e, &zs);
	z = t_zone(&zs, 0, VM_ZONE_DMA);
	for (unsigned o = 0; o < VM_MAX_PAGE_ORDER; o++)
		CU_ASSERT_EQUAL(z->nr_free[o], 1);
	CU_ASSERT_EQUAL(z->nr_free[VM_MAX_PAGE_ORDER],
			t_zone(&before, 0, VM_ZONE_DMA)->nr_free[VM_MAX_PAGE_ORDER] - 1);
	/* Its buddy is free: taking it and freeing both merges to order 1 and up. */
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL | GFP_DMA, 0, NUMA_NO_NODE, &buddy_pfn) == 0);
	CU_ASSERT_EQUAL(buddy_pfn, pfn[0] ^ 1);
	CU_ASSERT_EQUAL(vm_free_pages(e, pfn[0], 0), 0);
	t_zones(e, &zs);
	CU_ASSERT_EQUAL(t_zone(&zs, 0, VM_ZONE_DMA)->nr_free[0], 1);
	CU_ASSERT_EQUAL(vm_free_pages(e, buddy_pfn, 0), 0);
	T_SNAP_SAME(e, &start);
	t_snap_free(&start);
	vm_engine_destroy(e);
}

/* ---- NUMA ------------------------------------------------------------------------- */

static void test_numa_placement(void)
{
	struct vm_engine *e = t_machine(1 * GIB, 4, VM_LAYOUT_X86_64);
	uint64_t addr, pfn, *held, n = 0;
	struct vm_area_info info;
	struct t_snap start;
	struct t_zones zs;

	if (!e)
		return;
	t_zones(e, &zs);
	t_snap_take(e, &start);
	for (int node = 0; node < 4; node++) {
		CU_ASSERT_FATAL(vm_vmalloc_node(e, 1 * MIB, node, &addr) == 0);
		CU_ASSERT_FATAL(vm_find_vm_area(e, addr, &info) == 0);
		CU_ASSERT_EQUAL(info.nr_per_node[node], MIB / PAGE);
		CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
		CU_ASSERT_FATAL(vm_vzalloc_node(e, 64 * KIB, node, &addr) == 0);
		CU_ASSERT_FATAL(vm_find_vm_area(e, addr, &info) == 0);
		CU_ASSERT_EQUAL(info.nr_per_node[node], 16);
		CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
		CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 3, node, &pfn) == 0);
		CU_ASSERT_EQUAL(t_pfn_zone(&zs, pfn)->node, node);
		CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 3), 0);
	}

	/* Empty node 1; __GFP_THISNODE then fails, while a plain request
	 * falls back to the nearest node (0 and 2 are both one hop away on
	 * the ring; the lower id wins the tie). */
	held = t_frame_array(e);
	CU_ASSERT_FATAL(held != NULL);
	n = t_take_frames(e, __GFP_MEMALLOC | __GFP_THISNODE, 1, held);
	CU_ASSERT(n > 0);
	for (uint64_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(t_pfn_zone(&zs, held[i])->node, 1);
	CU_ASSERT_EQUAL(vm_alloc_pages(e, GFP_KERNEL | __GFP_THISNODE | __GFP_NOWARN, 0, 1, &pfn), -ENOMEM);
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 0, 1, &pfn) == 0);
	CU_ASSERT_EQUAL(t_pfn_zone(&zs, pfn)->node, 0);
	CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 0), 0);
	{
		struct vm_alloc_req req = {
			.size = 8 * KIB, .gfp = GFP_KERNEL | __GFP_THISNODE | __GFP_NOWARN,
			.prot = PAGE_KERNEL, .node = 1,
		};

		CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &addr), -ENOMEM);
		req.node = 2;
		CU_ASSERT_FATAL(vm___vmalloc_node_range(e, &req, &addr) == 0);
		CU_ASSERT_FATAL(vm_find_vm_area(e, addr, &info) == 0);
		CU_ASSERT_EQUAL(info.nr_per_node[2], 2);
		CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
	}
	CU_ASSERT_FATAL(vm_vmalloc_node(e, 64 * KIB, 1, &addr) == 0);
	CU_ASSERT_FATAL(vm_find_vm_area(e, addr, &info) == 0);
	CU_ASSERT_EQUAL(info.nr_per_node[0], 16);
	CU_ASSERT_EQUAL(info.nr_per_node[1], 0);
	CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
	T_CHECK(e);

	t_free_frames(e, held, n);
	vm_purge(e);
	T_CHECK(e);
	T_SNAP_RESTORED(e, &start);
	t_snap_free(&start);
	free(held);
	vm_engine_destroy(e);
}

/* ---- ZONE_MOVABLE ------------------------------------------------------------------- */

static void check_movable(uint64_t memory, unsigned nodes, uint64_t movable)
{
	struct vm_config cfg;
	struct vm_engine *e;
	struct t_snap start;
	struct t_zones zs;
	uint64_t pfn, addr, moved = 0, *pfns;
	unsigned nr_movable = 0;
	int movable_node = -1;

	vm_config_init(&cfg);
	cfg.memory_bytes = memory;
	cfg.nr_nodes = nodes;
	cfg.movable_bytes = movable;
	e = t_machine_cfg(&cfg);
	if (!e)
		return;
	/* Fresh, whatever the zone boundaries: consistent. */
	T_CHECK(e);
	t_snap_take(e, &start);
	t_zones(e, &zs);
	for (unsigned i = 0; i < zs.n; i++) {
		if (zs.z[i].type != VM_ZONE_MOVABLE)
			continue;
		nr_movable++;
		if (movable_node < 0)
			movable_node = zs.z[i].node;
	}
	CU_ASSERT_FATAL(nr_movable >= 1);

	/* Movable user pages go to ZONE_MOVABLE (of a node that has one:
	 * elsewhere the node's own lower zones come first); vmalloc never
	 * goes there. */
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_HIGHUSER | __GFP_MOVABLE, 0, movable_node, &pfn) == 0);
	CU_ASSERT_EQUAL(t_pfn_zone(&zs, pfn)->type, VM_ZONE_MOVABLE);
	CU_ASSERT_FATAL(vm_vmalloc(e, memory / 4, &addr) == 0);
	pfns = t_area_pfns(e, addr, memory / 4 / PAGE);
	for (uint64_t i = 0; pfns && i < memory / 4 / PAGE; i++)
		moved += t_pfn_zone(&zs, pfns[i])->type == VM_ZONE_MOVABLE;
	CU_ASSERT_EQUAL(moved, 0);
	free(pfns);
	T_CHECK(e);
	CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
	CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 0), 0);
	vm_purge(e);
	T_CHECK(e);
	T_SNAP_RESTORED(e, &start);
	t_snap_free(&start);
	vm_engine_destroy(e);
}

static void test_movable_zone(void)
{
	/* Boundaries on max-order blocks... */
	check_movable(64 * MIB, 1, 16 * MIB);
	/* ...and off them: 6 MiB leaves the zones above the cut empty at an
	 * unaligned pfn; with 2 nodes of 5000 frames in all, node 0 is too
	 * small for the movable part and node 1's zones are all ragged. */
	check_movable(64 * MIB, 1, 6 * MIB);
	check_movable(5000 * PAGE, 2, 2400 * PAGE);
}

/* ---- physical access ---------------------------------------------------------------- */

static void test_phys_access(void)
{
	struct vm_engine *e = t_machine(64 * MIB, 1, VM_LAYOUT_I386);
	uint8_t *want = malloc(4 * PAGE), *got = malloc(4 * PAGE);
	uint64_t pfn;

	if (!e || !want || !got)
		goto out;
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL | __GFP_ZERO, 2, NUMA_NO_NODE, &pfn) == 0);
	CU_ASSERT_EQUAL(vm_phys_read(e, pfn, 0, got, 4 * PAGE), 0);
	for (uint64_t i = 0; i < 4 * PAGE; i++)
		if (got[i]) {
			CU_FAIL("a __GFP_ZERO block is not zero");
			break;
		}
	t_pattern(want, 4 * PAGE, 7, 0);
	CU_ASSERT_EQUAL(vm_phys_write(e, pfn, 0, want, 4 * PAGE), 0);
	memset(got, 0, 4 * PAGE);
	CU_ASSERT_EQUAL(vm_phys_read(e, pfn, 100, got, 3 * PAGE), 0);
	CU_ASSERT_EQUAL(memcmp(got, want + 100, 3 * PAGE), 0);
	/* Freed and taken again with __GFP_ZERO: zero again. */
	CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 2), 0);
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL | __GFP_ZERO, 2, NUMA_NO_NODE, &pfn) == 0);
	CU_ASSERT_EQUAL(vm_phys_read(e, pfn, 0, got, 4 * PAGE), 0);
	for (uint64_t i = 0; i < 4 * PAGE; i++)
		if (got[i]) {
			CU_FAIL("a reused __GFP_ZERO block is not zero");
			break;
		}
	CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 2), 0);
	T_CHECK(e);
out:
	free(want);
	free(got);
	vm_engine_destroy(e);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "fragmented_memory", test_fragmented_memory },
		{ "i386_highmem_first", test_i386_highmem_first },
		{ "x86_64_normal_then_dma32", test_x86_64_normal_then_dma32 },
		{ "gfp_zone_modifiers", test_gfp_zone_modifiers },
		{ "watermarks", test_watermarks },
		{ "split_merge", test_split_merge },
		{ "numa_placement", test_numa_placement },
		{ "movable_zone", test_movable_zone },
		{ "phys_access", test_phys_access },
		{ NULL, NULL },
	};

	return t_main("buddy", cases, argc, argv);
}
