/* test_vmalloc.c -- the vmalloc family end to end: a failure half way leaves
 * the machine exactly as it was; data goes through the page tables across
 * page boundaries; zeroing really zeroes reused frames; vrealloc, vmap,
 * the flag variants, the owner identity, and a 1 TiB machine.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmtest.h"

static bool all_zero(const uint8_t *p, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Read len bytes at addr and compare them with t_pattern(seed, pos). */
static bool area_has_pattern(struct vm_engine *e, uint64_t addr, uint64_t len, uint64_t seed,
			     uint64_t pos)
{
	uint8_t *got = malloc(len), *want = malloc(len);
	bool ok = got && want && vm_vread(e, addr, got, len) == 0;

	if (ok) {
		t_pattern(want, len, seed, pos);
		ok = memcmp(got, want, len) == 0;
	}
	free(got);
	free(want);
	return ok;
}

static bool area_is_zero(struct vm_engine *e, uint64_t addr, uint64_t len)
{
	uint8_t *got = malloc(len);
	bool ok = got && vm_vread(e, addr, got, len) == 0 && all_zero(got, len);

	free(got);
	return ok;
}

static int write_pattern(struct vm_engine *e, uint64_t addr, uint64_t len, uint64_t seed, uint64_t pos)
{
	uint8_t *buf = malloc(len);
	int r = -ENOMEM;

	if (buf) {
		t_pattern(buf, len, seed, pos);
		r = vm_vwrite(e, addr, buf, len);
		free(buf);
	}
	return r;
}

/* ---- out of memory half way --------------------------------------------------- */

/* A machine with some of everything: areas, a vmap, a lazy range, a block. */
static void populate(struct vm_engine *e, uint64_t *ret_block)
{
	uint64_t a, lazy, v, pfns[2];

	CU_ASSERT_FATAL(vm_vmalloc(e, 1 * MIB, &a) == 0);
	CU_ASSERT_FATAL(vm_vmalloc_user(e, 64 * KIB, &a) == 0);
	CU_ASSERT_FATAL(vm_vmalloc(e, 3 * PAGE, &lazy) == 0);
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 1, NUMA_NO_NODE, ret_block) == 0);
	pfns[0] = *ret_block + 1;
	pfns[1] = *ret_block;
	CU_ASSERT_FATAL(vm_vmap(e, pfns, 2, 0, PAGE_KERNEL, &v) == 0);
	CU_ASSERT_EQUAL(vm_vfree(e, lazy), 0);
}

static void test_oom_in_page_allocation(void)
{
	static const enum vm_page_policy policies[] = { VM_POLICY_ORDER0, VM_POLICY_HIGH_ORDER_FIRST };

	for (unsigned p = 0; p < 2; p++) {
		struct t_log log = { 0 };
		struct vm_stats before, after;
		struct vm_config cfg;
		struct vm_engine *e;
		struct t_snap snap;
		uint64_t block, size, addr = 0xdead;
		char want[128];
		int r;

		vm_config_init(&cfg);
		cfg.memory_bytes = 32 * MIB;
		cfg.page_policy = policies[p];
		cfg.log = t_log_fn;
		cfg.log_ctx = &log;
		e = t_machine_cfg(&cfg);
		if (!e)
			return;
		populate(e, &block);
		before = t_stats(e);
		t_snap_take(e, &snap);

		/* As many pages as are free: fewer than the machine has, room
		 * in the KVA, but the watermarks stop it part way. */
		size = before.free_pages * PAGE;
		r = vm_vmalloc(e, size, &addr);
		CU_ASSERT_EQUAL(r, -ENOMEM);
		CU_ASSERT_EQUAL(addr, 0xdead);
		after = t_stats(e);
		CU_ASSERT(t_stats_same(&before, &after));
		CU_ASSERT_EQUAL(after.nr_alloc_failures, before.nr_alloc_failures + 1);
		snprintf(want, sizeof(want), "vmalloc error: size %llu, failed to allocate pages",
			 (unsigned long long)size);
		CU_ASSERT_STRING_EQUAL(log.last, want);
		T_CHECK(e);
		T_SNAP_SAME(e, &snap);

		/* It really had many pages to take before failing: half of
		 * them is a success. */
		CU_ASSERT_EQUAL(vm_vmalloc(e, size / 2, &addr), 0);
		CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
		t_snap_free(&snap);
		vm_engine_destroy(e);
	}
}

/* i386: HighMem has frames for the pages, lowmem none for the page table. */
static void test_oom_in_page_tables_i386(void)
{
	struct vm_engine *e = t_machine(960 * MIB, 1, VM_LAYOUT_I386);
	uint64_t *held, n, pfn, addr = 0xdead, block;
	struct vm_stats before;
	struct t_snap snap;

	if (!e)
		return;
	populate(e, &block);
	vm_purge(e);
	held = t_frame_array(e);
	CU_ASSERT_FATAL(held != NULL);
	n = t_take_frames(e, __GFP_NOFAIL, NUMA_NO_NODE, held);	/* every lowmem frame */
	CU_ASSERT(n > 0);
	CU_ASSERT_FATAL(vm_alloc_pages(e, __GFP_HIGHMEM, 0, NUMA_NO_NODE, &pfn) == 0);
	CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 0), 0);

	before = t_stats(e);
	t_snap_take(e, &snap);
	/* 8 MiB runs from the first 4 MiB region (its table exists) into
	 * regions without one: mapped part way, then undone. */
	CU_ASSERT_EQUAL(vm_vmalloc(e, 8 * MIB, &addr), -ENOMEM);
	CU_ASSERT_EQUAL(addr, 0xdead);
	{
		struct vm_stats after = t_stats(e);

		CU_ASSERT(t_stats_same(&before, &after));
	}
	T_CHECK(e);
	T_SNAP_SAME(e, &snap);
	t_snap_free(&snap);

	t_free_frames(e, held, n);
	CU_ASSERT_EQUAL(vm_vmalloc(e, 8 * MIB, &addr), 0);
	T_CHECK(e);
	free(held);
	vm_engine_destroy(e);
}

/* x86_64: the pages come (GFP_DMA | __GFP_NOFAIL digs into DMA's reserve),
 * the first new table too, the second does not; the first is given back. */
static void test_oom_in_second_page_table(void)
{
	struct vm_engine *e = t_machine(32 * MIB, 1, VM_LAYOUT_X86_64);
	struct vm_alloc_req req = {
		.size = 4 * PAGE, .align = PAGE, .gfp = GFP_KERNEL | GFP_DMA | __GFP_NOFAIL | __GFP_NOWARN,
		.prot = PAGE_KERNEL, .node = NUMA_NO_NODE,
	};
	uint64_t *held, n, first, addr = 0xdead;
	const struct vm_zone_info *z;
	struct vm_stats before;
	struct t_snap snap;
	struct t_zones zs;

	if (!e)
		return;
	t_zones(e, &zs);
	/* The first area builds the PUD, PMD and PTE tables of the first
	 * 2 MiB; an area 1 GiB higher needs a new PMD and a new PTE table. */
	CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &first) == 0);
	held = t_frame_array(e);
	CU_ASSERT_FATAL(held != NULL);
	n = t_take_frames(e, GFP_KERNEL, NUMA_NO_NODE, held);
	CU_ASSERT_FATAL(n > 1);
	/* Room for one table: give back one DMA32 frame (tables come from
	 * DMA32 first; DMA keeps a lowmem reserve). */
	for (uint64_t i = 0; i < n; i++) {
		z = t_pfn_zone(&zs, held[i]);
		if (z && z->type == VM_ZONE_DMA32) {
			CU_ASSERT_EQUAL(vm_free_pages(e, held[i], 0), 0);
			held[i] = held[--n];
			break;
		}
	}

	req.start = first + GIB;
	req.end = first + 2 * GIB;
	before = t_stats(e);
	t_snap_take(e, &snap);
	CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &addr), -ENOMEM);
	CU_ASSERT_EQUAL(addr, 0xdead);
	{
		struct vm_stats after = t_stats(e);

		CU_ASSERT(t_stats_same(&before, &after));
	}
	T_CHECK(e);
	T_SNAP_SAME(e, &snap);
	t_snap_free(&snap);

	/* Where the tables exist, the same request succeeds. */
	req.start = req.end = 0;
	CU_ASSERT_EQUAL(vm___vmalloc_node_range(e, &req, &addr), 0);
	CU_ASSERT_EQUAL(addr, first + 2 * PAGE);
	T_CHECK(e);
	t_free_frames(e, held, n);
	free(held);
	vm_engine_destroy(e);
}

static void test_oom_in_vmap(void)
{
	struct vm_engine *e = t_machine(32 * MIB, 1, VM_LAYOUT_X86_64);
	uint64_t *held, n, pfns[4], addr = 0xdead;
	struct t_snap snap;

	if (!e)
		return;
	for (unsigned i = 0; i < 4; i++)
		CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 0, NUMA_NO_NODE, &pfns[i]) == 0);
	held = t_frame_array(e);
	CU_ASSERT_FATAL(held != NULL);
	n = t_take_frames(e, GFP_KERNEL, NUMA_NO_NODE, held);
	t_snap_take(e, &snap);
	CU_ASSERT_EQUAL(vm_vmap(e, pfns, 4, 0, PAGE_KERNEL, &addr), -ENOMEM);
	CU_ASSERT_EQUAL(addr, 0xdead);
	T_CHECK(e);
	T_SNAP_SAME(e, &snap);
	t_snap_free(&snap);
	/* No map count was left behind: the frames can be freed. */
	for (unsigned i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(vm_free_pages(e, pfns[i], 0), 0);
	t_free_frames(e, held, n);
	T_CHECK(e);
	free(held);
	vm_engine_destroy(e);
}

/* ---- data ------------------------------------------------------------------------ */

static void check_data_paths(enum vm_layout layout)
{
	struct vm_engine *e = t_machine(64 * MIB, 1, layout);
	const uint64_t size = 5 * PAGE + 100, mapped = 6 * PAGE;
	uint64_t a, b;
	uint8_t small[16];

	if (!e)
		return;
	CU_ASSERT_FATAL(vm_vmalloc(e, size, &a) == 0);
	CU_ASSERT_FATAL(vm_vmalloc(e, 3 * PAGE, &b) == 0);
	CU_ASSERT_EQUAL(write_pattern(e, b, 3 * PAGE, 99, 0), 0);

	/* One write across three page boundaries, read back whole... */
	CU_ASSERT_EQUAL(write_pattern(e, a + PAGE - 6, 3 * PAGE + 20, 1, PAGE - 6), 0);
	CU_ASSERT(area_has_pattern(e, a + PAGE - 6, 3 * PAGE + 20, 1, PAGE - 6));
	/* ...and in small pieces straddling each boundary. */
	for (uint64_t boundary = PAGE; boundary <= 4 * PAGE; boundary += PAGE) {
		CU_ASSERT(area_has_pattern(e, a + boundary - 3, 7, 1, boundary - 3));
		CU_ASSERT(area_has_pattern(e, a + boundary - 1, 1, 1, boundary - 1));
		CU_ASSERT(area_has_pattern(e, a + boundary, 1, 1, boundary));
	}
	/* The whole mapped size, to the last byte before the guard page. */
	CU_ASSERT_EQUAL(write_pattern(e, a, mapped, 2, 0), 0);
	CU_ASSERT(area_has_pattern(e, a, mapped, 2, 0));
	CU_ASSERT(area_has_pattern(e, a + mapped - 10, 10, 2, mapped - 10));
	CU_ASSERT_EQUAL(vm_vread(e, a + mapped - 10, small, 11), -EFAULT);
	CU_ASSERT_EQUAL(vm_vwrite(e, a + mapped, small, 1), -EFAULT);
	/* The neighbour was not touched. */
	CU_ASSERT(area_has_pattern(e, b, 3 * PAGE, 99, 0));
	/* Each page of a is a different frame. */
	{
		uint64_t *pfns = t_area_pfns(e, a, 6);

		for (unsigned i = 0; pfns && i < 6; i++)
			for (unsigned j = i + 1; j < 6; j++)
				CU_ASSERT(pfns[i] != pfns[j]);
		free(pfns);
	}
	T_CHECK(e);
	vm_engine_destroy(e);
}

static void test_data_across_pages(void)
{
	check_data_paths(VM_LAYOUT_X86_64);
	check_data_paths(VM_LAYOUT_I386);
}

typedef int zalloc_fn(struct vm_engine *e, uint64_t size, uint64_t *ret_addr);

static int vzalloc_node0(struct vm_engine *e, uint64_t size, uint64_t *ret_addr)
{
	return vm_vzalloc_node(e, size, 0, ret_addr);
}

static int vmalloc_gfp_zero(struct vm_engine *e, uint64_t size, uint64_t *ret_addr)
{
	return vm___vmalloc(e, size, GFP_KERNEL | __GFP_HIGHMEM | __GFP_ZERO, ret_addr);
}

static int node_range_zero(struct vm_engine *e, uint64_t size, uint64_t *ret_addr)
{
	struct vm_alloc_req req = {
		.size = size, .align = 64 * KIB, .gfp = GFP_KERNEL | __GFP_ZERO,
		.prot = PAGE_KERNEL, .node = NUMA_NO_NODE,
	};

	return vm___vmalloc_node_range(e, &req, ret_addr);
}

/* A small machine, so a second large area must reuse the first's frames. */
static void test_zeroed_on_reused_frames(void)
{
	static const struct {
		const char *name;
		zalloc_fn *fn;
	} variants[] = {
		{ "vzalloc", vm_vzalloc },
		{ "vzalloc_node", vzalloc_node0 },
		{ "vmalloc_user", vm_vmalloc_user },
		{ "vmalloc_32_user", vm_vmalloc_32_user },
		{ "__vmalloc(__GFP_ZERO)", vmalloc_gfp_zero },
		{ "__vmalloc_node_range(__GFP_ZERO)", node_range_zero },
	};
	const uint64_t nr = 2048, size = nr * PAGE;	/* 8 MiB of a 16 MiB machine */
	struct vm_engine *e = t_machine(16 * MIB, 1, VM_LAYOUT_X86_64);

	if (!e)
		return;
	for (unsigned v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		uint64_t dirty, zeroed, *p1, *p2, reused = 0;

		CU_ASSERT_FATAL(vm_vmalloc(e, size, &dirty) == 0);
		CU_ASSERT_EQUAL(write_pattern(e, dirty, size, v + 1, 0), 0);
		p1 = t_area_pfns(e, dirty, nr);
		CU_ASSERT_EQUAL(vm_vfree(e, dirty), 0);
		vm_purge(e);

		CU_ASSERT_FATAL(variants[v].fn(e, size, &zeroed) == 0);
		p2 = t_area_pfns(e, zeroed, nr);
		if (p1 && p2) {
			/* Count frames of the new area that held the pattern. */
			for (uint64_t i = 0; i < nr; i++)
				for (uint64_t j = 0; j < nr; j++)
					if (p2[i] == p1[j]) {
						reused++;
						break;
					}
		}
		T_ASSERT_MSG(reused > 0, "%s: no frame was reused, the test proves nothing",
			     variants[v].name);
		T_ASSERT_MSG(area_is_zero(e, zeroed, size), "%s returned non-zero bytes over %llu reused frames",
			     variants[v].name, (unsigned long long)reused);
		free(p1);
		free(p2);
		CU_ASSERT_EQUAL(vm_vfree(e, zeroed), 0);
	}
	T_CHECK(e);
	vm_engine_destroy(e);
}

/* init_on_free: even plain vmalloc never sees another area's bytes. */
static void test_init_on_free(void)
{
	const uint64_t size = 8 * MIB;
	struct vm_config cfg;
	struct vm_engine *e;
	uint64_t a;

	vm_config_init(&cfg);
	cfg.memory_bytes = 16 * MIB;
	cfg.init_on_free = true;
	e = t_machine_cfg(&cfg);
	if (!e)
		return;
	CU_ASSERT_FATAL(vm_vmalloc(e, size, &a) == 0);
	CU_ASSERT_EQUAL(write_pattern(e, a, size, 5, 0), 0);
	CU_ASSERT_EQUAL(vm_vfree(e, a), 0);
	CU_ASSERT_FATAL(vm_vmalloc(e, size, &a) == 0);
	CU_ASSERT(area_is_zero(e, a, size));
	T_CHECK(e);
	vm_engine_destroy(e);
}

/* ---- host memory ------------------------------------------------------------------------ */

/* This process's RssShmem in KiB: the frames' memfd as the host counts it. */
static long rss_shmem_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssShmem: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static uint64_t resident(struct vm_engine *e)
{
	struct vm_stats st;

	vm_get_stats(e, &st);
	return st.resident_pages;
}

/* The frames cost the host exactly what holds bytes: a read of a
 * never-written area populates nothing, a free gives written frames back
 * (the counter and the host's own RssShmem agree), and the limit turns a
 * write or an allocation that would pass it into -ENOMEM with nothing
 * changed. */
static void test_host_memory(void)
{
	const uint64_t size = 64 * MIB;
	struct vm_config cfg;
	struct vm_engine *e;
	uint8_t *buf = malloc(size);
	uint64_t a, b, base, pfn;
	long rss0, rss;

	CU_ASSERT_FATAL(buf != NULL);
	vm_config_init(&cfg);
	cfg.memory_bytes = 256 * MIB;
	cfg.init_on_free = true;
	e = t_machine_cfg(&cfg);
	if (!e) {
		free(buf);
		return;
	}
	base = resident(e);
	rss0 = rss_shmem_kib();
	CU_ASSERT_FATAL(vm_vmalloc(e, size, &a) == 0);
	CU_ASSERT_EQUAL(vm_vread(e, a, buf, size), 0);
	CU_ASSERT(all_zero(buf, size));
	rss = rss_shmem_kib();
	T_ASSERT_MSG(rss - rss0 < 1024, "reading 64 MiB never written: RssShmem %ld -> %ld kB",
		     rss0, rss);
	CU_ASSERT(resident(e) - base < 64);   /* the area's page tables only */

	memset(buf, 0x5a, size);
	CU_ASSERT_EQUAL(vm_vwrite(e, a, buf, size), 0);
	T_ASSERT_MSG(resident(e) - base >= size / PAGE, "resident %llu after a 64 MiB write",
		     (unsigned long long)resident(e));
	rss = rss_shmem_kib();
	T_ASSERT_MSG(rss - rss0 >= 60 * 1024, "RssShmem %ld -> %ld kB after a 64 MiB write", rss0, rss);
	CU_ASSERT_EQUAL(vm_vfree(e, a), 0);
	vm_purge(e);
	rss = rss_shmem_kib();
	T_ASSERT_MSG(rss - rss0 < 1024, "RssShmem %ld -> %ld kB after the free", rss0, rss);
	CU_ASSERT(resident(e) - base < 64);
	T_CHECK(e);

	/* alloc_pages blocks: phys_read of a fresh block touches nothing,
	 * free_pages gives written frames back. */
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 10, NUMA_NO_NODE, &pfn) == 0);
	CU_ASSERT_EQUAL(vm_phys_read(e, pfn, 0, buf, 4 * MIB), 0);
	CU_ASSERT(all_zero(buf, 4 * MIB));
	CU_ASSERT(resident(e) - base < 64);
	CU_ASSERT_EQUAL(vm_phys_write(e, pfn, 0, buf + 4 * MIB, 4 * MIB), 0);
	CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 10), 0);
	CU_ASSERT(resident(e) - base < 64);
	T_CHECK(e);
	vm_engine_destroy(e);

	/* The limit: 4 MiB of frames beyond what the empty machine holds. */
	cfg.init_on_free = true;
	cfg.max_resident_pages = 1024 + 16;
	e = t_machine_cfg(&cfg);
	if (!e) {
		free(buf);
		return;
	}
	base = resident(e);
	cfg.max_resident_pages += base;
	vm_engine_destroy(e);
	e = t_machine_cfg(&cfg);
	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_FATAL(vm_vmalloc(e, 8 * MIB, &a) == 0);
	CU_ASSERT_EQUAL(vm_vwrite(e, a, buf, 2 * MIB), 0);
	/* 3 MiB more would pass 4: refused before a byte is written. */
	memset(buf, 0x33, 3 * MIB);
	CU_ASSERT_EQUAL(vm_vwrite(e, a + 2 * MIB, buf, 3 * MIB), -ENOMEM);
	CU_ASSERT(area_is_zero(e, a + 2 * MIB, 3 * MIB));
	/* Overwriting what is resident costs nothing. */
	CU_ASSERT_EQUAL(vm_vwrite(e, a, buf, 2 * MIB), 0);
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 9, NUMA_NO_NODE, &pfn) == 0);
	CU_ASSERT_EQUAL(vm_phys_write(e, pfn, 0, buf, 2 * MIB + PAGE), -EINVAL);
	CU_ASSERT_EQUAL(vm_phys_write(e, pfn, 0, buf, 2 * MIB), 0);
	CU_ASSERT_EQUAL(vm_phys_write(e, pfn, 0, buf, PAGE), 0);
	/* Filled to the frame: one more is refused; freeing gives room back. */
	{
		uint64_t room = cfg.max_resident_pages - resident(e);

		T_ASSERT_MSG(room < 64, "%llu frames of room left", (unsigned long long)room);
		CU_ASSERT_EQUAL(vm_vwrite(e, a + 2 * MIB, buf, room * PAGE), 0);
		CU_ASSERT_EQUAL(resident(e), cfg.max_resident_pages);
		CU_ASSERT_EQUAL(vm_vwrite(e, a + 6 * MIB, buf, 1), -ENOMEM);
		CU_ASSERT_EQUAL(vm_phys_write(e, pfn, PAGE, buf, 1), 0);   /* resident already */
	}
	CU_ASSERT_EQUAL(vm_vfree(e, a), 0);
	CU_ASSERT_EQUAL(vm_vmalloc(e, 16 * MIB, &b), 0);
	CU_ASSERT_EQUAL(vm_vwrite(e, b, buf, 2 * MIB), 0);
	CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 9), 0);
	CU_ASSERT_EQUAL(vm_vfree(e, b), 0);
	T_CHECK(e);
	vm_engine_destroy(e);
	free(buf);
}

/* ---- vrealloc ------------------------------------------------------------------------ */

static void test_vrealloc(void)
{
	struct vm_engine *e = t_machine(64 * MIB, 1, VM_LAYOUT_X86_64);
	uint64_t a, b, c, old;
	char *text;

	if (!e)
		return;
	CU_ASSERT_FATAL(vm_vmalloc(e, 10000, &a) == 0);
	CU_ASSERT_EQUAL(write_pattern(e, a, 10000, 3, 0), 0);

	/* Inside the pages already mapped: same address, same bytes. */
	CU_ASSERT_EQUAL(vm_vrealloc(e, a, 5000, GFP_KERNEL, &b), 0);
	CU_ASSERT_EQUAL(b, a);
	CU_ASSERT(area_has_pattern(e, a, 5000, 3, 0));
	CU_ASSERT_EQUAL(vm_vrealloc(e, a, 3 * PAGE, GFP_KERNEL, &b), 0);
	CU_ASSERT_EQUAL(b, a);
	CU_ASSERT(area_has_pattern(e, a, 5000, 3, 0));

	/* Growing past them: a new area, the contents copied, the old area
	 * freed (lazily), the new tail zeroed on request. */
	CU_ASSERT_EQUAL(vm_vrealloc(e, a, 100000, GFP_KERNEL | __GFP_ZERO, &c), 0);
	CU_ASSERT(c != a);
	CU_ASSERT(area_has_pattern(e, c, 5000, 3, 0));
	CU_ASSERT(area_is_zero(e, c + 3 * PAGE, 100000 - 3 * PAGE));
	CU_ASSERT_EQUAL(vm_find_vm_area(e, a, NULL), -ENOENT);
	CU_ASSERT_EQUAL(t_stats(e).nr_lazy_areas, 1);

	/* Shrinking with __GFP_ZERO clears what a later grow would expose. */
	CU_ASSERT_EQUAL(write_pattern(e, c, 100000, 4, 0), 0);
	CU_ASSERT_EQUAL(vm_vrealloc(e, c, 100, GFP_KERNEL | __GFP_ZERO, &b), 0);
	CU_ASSERT_EQUAL(b, c);
	CU_ASSERT_EQUAL(vm_vrealloc(e, c, 100000, GFP_KERNEL, &b), 0);
	CU_ASSERT_EQUAL(b, c);
	CU_ASSERT(area_has_pattern(e, c, 100, 4, 0));
	CU_ASSERT(area_is_zero(e, c + 100, 100000 - 100));

	/* A failed grow keeps the old area and its bytes. */
	old = c;
	b = 0xdead;
	CU_ASSERT_EQUAL(vm_vrealloc(e, c, 63 * MIB, GFP_KERNEL | __GFP_NOWARN, &b), -ENOMEM);
	CU_ASSERT_EQUAL(b, 0xdead);
	CU_ASSERT(area_has_pattern(e, old, 100, 4, 0));

	/* Address 0 allocates; size 0 frees. */
	CU_ASSERT_EQUAL(vm_vrealloc(e, 0, 4096, GFP_KERNEL, &b), 0);
	CU_ASSERT_EQUAL(vm_find_vm_area(e, b, NULL), 0);
	CU_ASSERT_EQUAL(vm_vrealloc(e, b, 0, GFP_KERNEL, &a), 0);
	CU_ASSERT_EQUAL(a, 0);
	CU_ASSERT_EQUAL(vm_find_vm_area(e, b, NULL), -ENOENT);
	CU_ASSERT_EQUAL(vm_vfree(e, c), 0);
	vm_purge(e);
	text = t_vmallocinfo(e);
	CU_ASSERT_STRING_EQUAL(text ? text : "?", "");
	free(text);
	T_CHECK(e);
	vm_engine_destroy(e);
}

/* ---- vmap ---------------------------------------------------------------------------- */

static void test_vmap(void)
{
	struct vm_engine *e = t_machine(64 * MIB, 1, VM_LAYOUT_X86_64);
	uint64_t p0, p1, p2, list[4], v, v2, v3, pfn, vm_addr;
	uint8_t frames[4][PAGE], got[4 * PAGE];
	struct vm_area_info info;
	struct t_snap start;

	if (!e)
		return;
	t_snap_take(e, &start);
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 0, NUMA_NO_NODE, &p0) == 0);
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 1, NUMA_NO_NODE, &p1) == 0);
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 0, NUMA_NO_NODE, &p2) == 0);
	list[0] = p2;
	list[1] = p0;
	list[2] = p1 + 1;
	list[3] = p1;
	for (unsigned i = 0; i < 4; i++)
		t_pattern(frames[i], PAGE, 10 + i, 0);
	CU_ASSERT_EQUAL(vm_phys_write(e, p2, 0, frames[0], PAGE), 0);
	CU_ASSERT_EQUAL(vm_phys_write(e, p0, 0, frames[1], PAGE), 0);
	CU_ASSERT_EQUAL(vm_phys_write(e, p1, PAGE, frames[2], PAGE), 0);
	CU_ASSERT_EQUAL(vm_phys_write(e, p1, 0, frames[3], PAGE), 0);

	/* The frames appear in the order given, through the page tables. */
	CU_ASSERT_FATAL(vm_vmap(e, list, 4, 0, PAGE_KERNEL, &v) == 0);
	for (unsigned i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(vm_vmalloc_to_pfn(e, v + i * PAGE, &pfn), 0);
		CU_ASSERT_EQUAL(pfn, list[i]);
	}
	CU_ASSERT_EQUAL(vm_vread(e, v, got, 4 * PAGE), 0);
	for (unsigned i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(memcmp(got + i * PAGE, frames[i], PAGE), 0);
	CU_ASSERT_EQUAL(vm_vwrite(e, v + PAGE + 10, "hello", 5), 0);
	CU_ASSERT_EQUAL(vm_phys_read(e, p0, 10, got, 5), 0);
	CU_ASSERT_EQUAL(memcmp(got, "hello", 5), 0);
	CU_ASSERT_FATAL(vm_find_vm_area(e, v, &info) == 0);
	CU_ASSERT_EQUAL(info.flags & (VM_MAP | VM_ALLOC), VM_MAP);
	CU_ASSERT_EQUAL(info.nr_pages, 4);
	CU_ASSERT_EQUAL(info.size, 5 * PAGE);
	CU_ASSERT_EQUAL(t_stats(e).vmap_pages, 4);
	CU_ASSERT_EQUAL(t_stats(e).vmalloc_pages, 0);

	/* Mapped frames stay with their owner and cannot be freed. */
	CU_ASSERT_EQUAL(vm_free_pages(e, p0, 0), -EBUSY);
	CU_ASSERT_EQUAL(vm_free_pages(e, p1, 1), -EBUSY);
	CU_ASSERT_EQUAL(vm_vfree(e, v), -EINVAL);

	/* The same frame twice, and in a second area; read-only.  6.18's
	 * vmap() drops VM_NO_GUARD ("your top guard is someone else's bottom
	 * guard"): the area keeps its guard page. */
	list[1] = p0;
	list[2] = p0;
	CU_ASSERT_FATAL(vm_vmap(e, list + 1, 2, VM_NO_GUARD, PAGE_KERNEL_RO, &v2) == 0);
	CU_ASSERT_FATAL(vm_find_vm_area(e, v2, &info) == 0);
	CU_ASSERT_EQUAL(info.size, 3 * PAGE);
	CU_ASSERT_FALSE(info.flags & VM_NO_GUARD);
	CU_ASSERT_EQUAL(vm_vread(e, v2 + PAGE + 10, got, 5), 0);
	CU_ASSERT_EQUAL(memcmp(got, "hello", 5), 0);
	CU_ASSERT_EQUAL(vm_vwrite(e, v2, "x", 1), -EACCES);
	CU_ASSERT_EQUAL(vm_vunmap(e, v), 0);
	CU_ASSERT_EQUAL(vm_vunmap(e, v), -EINVAL);
	CU_ASSERT_EQUAL(vm_free_pages(e, p0, 0), -EBUSY);
	CU_ASSERT_EQUAL(vm_free_pages(e, p1, 1), 0);
	CU_ASSERT_EQUAL(vm_vunmap(e, v2), 0);
	CU_ASSERT_EQUAL(vm_free_pages(e, p0, 0), 0);

	/* Only vm_alloc_pages frames can be mapped. */
	CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &vm_addr) == 0);
	CU_ASSERT_EQUAL(vm_vmalloc_to_pfn(e, vm_addr, &pfn), 0);
	CU_ASSERT_EQUAL(vm_vmap(e, &pfn, 1, 0, PAGE_KERNEL, &v3), -EINVAL);
	CU_ASSERT_EQUAL(vm_vmap(e, &p0, 1, 0, PAGE_KERNEL, &v3), -EINVAL);	/* freed */
	CU_ASSERT_EQUAL(vm_vunmap(e, vm_addr), -EINVAL);
	CU_ASSERT_EQUAL(vm_vfree(e, vm_addr), 0);
	CU_ASSERT_EQUAL(vm_free_pages(e, p2, 0), 0);
	vm_purge(e);
	T_CHECK(e);
	T_SNAP_RESTORED(e, &start);
	t_snap_free(&start);
	vm_engine_destroy(e);
}

/* A frame's map count is 16 bits: the vmap that would overflow it fails
 * part way through taking the counts, and gives back the ones it took. */
static void test_vmap_mapcount_overflow(void)
{
	struct vm_engine *e = t_machine(64 * MIB, 1, VM_LAYOUT_X86_64);
	const uint64_t per = 16383;	/* 4 x 16383 = 65532 of 65535 */
	uint64_t pfn, other, v[4], addr = 0xdead, *list;
	struct t_snap snap;

	if (!e)
		return;
	list = malloc(per * sizeof(*list));
	CU_ASSERT_FATAL(list != NULL);
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 0, NUMA_NO_NODE, &pfn) == 0);
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 0, NUMA_NO_NODE, &other) == 0);
	for (uint64_t i = 0; i < per; i++)
		list[i] = pfn;
	for (unsigned k = 0; k < 4; k++)
		CU_ASSERT_FATAL(vm_vmap(e, list, per, 0, PAGE_KERNEL, &v[k]) == 0);
	/* Three more fit (65535); the last of these four would not. */
	list[0] = other;
	list[1] = other;
	for (unsigned i = 2; i < 6; i++)
		list[i] = pfn;
	t_snap_take(e, &snap);
	CU_ASSERT_EQUAL(vm_vmap(e, list, 6, 0, PAGE_KERNEL, &addr), -EBUSY);
	CU_ASSERT_EQUAL(addr, 0xdead);
	T_CHECK(e);
	T_SNAP_SAME(e, &snap);
	t_snap_free(&snap);
	/* Exactly at the limit is fine. */
	CU_ASSERT_FATAL(vm_vmap(e, list + 2, 3, 0, PAGE_KERNEL, &addr) == 0);
	CU_ASSERT_EQUAL(vm_vunmap(e, addr), 0);
	/* other's counts were given back: it can be freed. */
	CU_ASSERT_EQUAL(vm_free_pages(e, other, 0), 0);
	CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 0), -EBUSY);
	for (unsigned k = 0; k < 4; k++)
		CU_ASSERT_EQUAL(vm_vunmap(e, v[k]), 0);
	CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 0), 0);
	T_CHECK(e);
	free(list);
	vm_engine_destroy(e);
}

/* ---- the family's flags, lookups and identity ---------------------------------------------- */

static int count_area(void *ctx, const struct vm_area_info *info)
{
	uint64_t *last = ctx;

	/* Address order. */
	if (info->addr <= last[0])
		return -1;
	last[0] = info->addr;
	last[1]++;
	return last[1] == last[2] ? 42 : 0;
}

static void test_family_and_lookups(void)
{
	struct vm_engine *e = t_machine(4 * GIB + 64 * MIB, 1, VM_LAYOUT_X86_64);
	struct vm_alloc_req req = {
		.size = 3 * PAGE, .align = PAGE, .gfp = GFP_KERNEL, .prot = PAGE_KERNEL_RO,
		.node = NUMA_NO_NODE, .caller = "module_alloc+0x2f/0x80",
	};
	uint64_t u, u32, ro, plain, vs, ve, walk[3];
	struct vm_area_info info;
	uint64_t *pfns;
	char *text;

	if (!e)
		return;
	vs = t_stats(e).vmalloc_start;
	ve = t_stats(e).vmalloc_end;
	CU_ASSERT_EQUAL(vm_set_current(e, 1000, 4242, 7, "vmalloc_user_test+0x10/0x20"), 0);
	CU_ASSERT_FATAL(vm_vmalloc_user(e, 5 * PAGE, &u) == 0);
	CU_ASSERT_FATAL(vm_find_vm_area(e, u, &info) == 0);
	CU_ASSERT_EQUAL(info.flags, VM_ALLOC | VM_USERMAP);
	CU_ASSERT_EQUAL(info.uid, 1000);
	CU_ASSERT_EQUAL(info.pid, 4242);
	CU_ASSERT_EQUAL(info.cookie, 7);
	CU_ASSERT_STRING_EQUAL(info.caller, "vmalloc_user_test+0x10/0x20");
	CU_ASSERT(area_is_zero(e, u, 5 * PAGE));

	CU_ASSERT_EQUAL(vm_set_current(e, 0, 1, 0, NULL), 0);
	CU_ASSERT_FATAL(vm_vmalloc_32_user(e, 64 * PAGE, &u32) == 0);
	CU_ASSERT_FATAL(vm_find_vm_area(e, u32, &info) == 0);
	CU_ASSERT_EQUAL(info.flags, VM_ALLOC | VM_USERMAP);
	CU_ASSERT_PTR_NULL(info.caller);
	pfns = t_area_pfns(e, u32, 64);
	for (unsigned i = 0; pfns && i < 64; i++)
		CU_ASSERT(pfns[i] < (4 * GIB) / PAGE);
	free(pfns);

	/* A read-only area with its own caller string. */
	CU_ASSERT_FATAL(vm___vmalloc_node_range(e, &req, &ro) == 0);
	CU_ASSERT_FATAL(vm_find_vm_area(e, ro, &info) == 0);
	CU_ASSERT_STRING_EQUAL(info.caller, "module_alloc+0x2f/0x80");
	CU_ASSERT_EQUAL(info.prot, PAGE_KERNEL_RO);
	CU_ASSERT_EQUAL(vm_vwrite(e, ro, "x", 1), -EACCES);
	CU_ASSERT_EQUAL(vm_vread(e, ro, walk, 8), 0);
	CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &plain) == 0);
	CU_ASSERT_FATAL(vm_find_vm_area(e, plain, &info) == 0);
	CU_ASSERT_EQUAL(info.flags, VM_ALLOC);
	CU_ASSERT_PTR_NULL(info.caller);

	/* Flags stamped on areas from now on: VM_SCOPED only, then none. */
	{
		uint64_t scoped, pfn, v;

		CU_ASSERT_EQUAL(vm_set_current_flags(e, VM_SCOPED), 0);
		CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &scoped) == 0);
		CU_ASSERT_FATAL(vm_find_vm_area(e, scoped, &info) == 0);
		CU_ASSERT_EQUAL(info.flags, VM_ALLOC | VM_SCOPED);
		CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 0, NUMA_NO_NODE, &pfn) == 0);
		CU_ASSERT_FATAL(vm_vmap(e, &pfn, 1, 0, PAGE_KERNEL, &v) == 0);
		CU_ASSERT_FATAL(vm_find_vm_area(e, v, &info) == 0);
		CU_ASSERT_EQUAL(info.flags, VM_MAP | VM_SCOPED);
		CU_ASSERT_EQUAL(vm_set_current_flags(e, 0), 0);
		CU_ASSERT_EQUAL(vm_vunmap(e, v), 0);
		CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 0), 0);
		CU_ASSERT_EQUAL(vm_vfree(e, scoped), 0);
		CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &scoped) == 0);
		CU_ASSERT_FATAL(vm_find_vm_area(e, scoped, &info) == 0);
		CU_ASSERT_EQUAL(info.flags, VM_ALLOC);
		CU_ASSERT_EQUAL(vm_vfree(e, scoped), 0);
		vm_purge(e);
	}

	/* The owner's view shows its own areas only, without lazy ranges. */
	CU_ASSERT_EQUAL(vm_vfree(e, plain), 0);
	{
		char *mine = NULL;
		size_t len = 0;

		CU_ASSERT_EQUAL(vm_show_vmallocinfo(e, true, 1000, &mine, &len), 0);
		CU_ASSERT_EQUAL(t_count_lines(mine), 1);
		CU_ASSERT_PTR_NOT_NULL(mine ? strstr(mine, "vmalloc_user_test+0x10/0x20 pages=5 vmalloc user N0=5\n") : NULL);
		free(mine);
	}
	text = t_vmallocinfo(e);
	CU_ASSERT_EQUAL(t_count_lines(text), 4);
	CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, " pages=64 vmalloc user N0=64\n") : NULL);
	CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, " module_alloc+0x2f/0x80 pages=3 vmalloc N0=3\n") : NULL);
	CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, " unpurged vm_area\n") : NULL);
	free(text);

	/* Lookups. */
	CU_ASSERT(vm_is_vmalloc_addr(e, vs));
	CU_ASSERT(vm_is_vmalloc_addr(e, ve - 1));
	CU_ASSERT(!vm_is_vmalloc_addr(e, vs - 1));
	CU_ASSERT(!vm_is_vmalloc_addr(e, ve));
	CU_ASSERT(!vm_is_vmalloc_addr(e, 0));
	CU_ASSERT(!vm_is_vmalloc_addr(NULL, vs));
	CU_ASSERT_EQUAL(vm_find_vm_area(e, u32 + 64 * PAGE, &info), 0);	/* its guard */
	CU_ASSERT_EQUAL(info.addr, u32);
	CU_ASSERT_EQUAL(vm_find_vm_area(e, plain, &info), -ENOENT);
	walk[0] = 0;
	walk[1] = 0;
	walk[2] = 100;
	CU_ASSERT_EQUAL(vm_for_each_area(e, count_area, walk), 0);
	CU_ASSERT_EQUAL(walk[1], 3);
	CU_ASSERT_EQUAL(walk[1], t_stats(e).nr_areas);
	walk[0] = 0;
	walk[1] = 0;
	walk[2] = 2;
	CU_ASSERT_EQUAL(vm_for_each_area(e, count_area, walk), 42);
	CU_ASSERT_EQUAL(walk[1], 2);
	T_CHECK(e);
	vm_engine_destroy(e);
}

/* ---- a terabyte ---------------------------------------------------------------------------- */

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_one_terabyte(void)
{
	struct vm_config cfg;
	struct vm_engine *e;
	struct t_zones zs;
	uint64_t a;
	double t0, dt;
	char *mem, *line;

	vm_config_init(&cfg);
	cfg.memory_bytes = 1 * TIB;
	t0 = seconds();
	e = t_machine_cfg(&cfg);
	dt = seconds() - t0;
	if (!e)
		return;
	/* Frames and their metadata are populated lazily: creating the
	 * machine must not touch a terabyte (generous bound for sanitizers). */
	T_ASSERT_MSG(dt < 2.0, "creating a 1 TiB machine took %.3f s", dt);
	t_zones(e, &zs);
	CU_ASSERT_EQUAL(zs.n, 3);
	CU_ASSERT_PTR_NOT_NULL(t_zone(&zs, 0, VM_ZONE_NORMAL));
	if (t_zone(&zs, 0, VM_ZONE_NORMAL))
		CU_ASSERT_EQUAL(t_zone(&zs, 0, VM_ZONE_NORMAL)->end_pfn, TIB / PAGE);
	mem = t_meminfo(e);
	line = t_line_starting(mem, "MemTotal:");
	CU_ASSERT_STRING_EQUAL(line ? line : "?", "MemTotal:       1073741824 kB");
	free(line);
	free(mem);

	CU_ASSERT_FATAL(vm_vmalloc(e, 64 * MIB, &a) == 0);
	CU_ASSERT_EQUAL(write_pattern(e, a + 64 * MIB - 3 * PAGE, 3 * PAGE, 8, 0), 0);
	CU_ASSERT(area_has_pattern(e, a + 64 * MIB - 3 * PAGE, 3 * PAGE, 8, 0));
	/* The pages and their 32-page page array, an area of its own. */
	CU_ASSERT_EQUAL(t_stats(e).vmalloc_pages, (64 * MIB) / PAGE + 32);
	CU_ASSERT_EQUAL(vm_vfree(e, a), 0);
	vm_purge(e);
	/* Every frame back but the page tables, which the kernel keeps. */
	CU_ASSERT_EQUAL(t_stats(e).free_pages + t_stats(e).pagetable_pages, TIB / PAGE);
	vm_engine_destroy(e);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "oom_in_page_allocation", test_oom_in_page_allocation },
		{ "oom_in_page_tables_i386", test_oom_in_page_tables_i386 },
		{ "oom_in_second_page_table", test_oom_in_second_page_table },
		{ "oom_in_vmap", test_oom_in_vmap },
		{ "data_across_pages", test_data_across_pages },
		{ "zeroed_on_reused_frames", test_zeroed_on_reused_frames },
		{ "init_on_free", test_init_on_free },
		{ "host_memory", test_host_memory },
		{ "vrealloc", test_vrealloc },
		{ "vmap", test_vmap },
		{ "vmap_mapcount_overflow", test_vmap_mapcount_overflow },
		{ "family_and_lookups", test_family_and_lookups },
		{ "one_terabyte", test_one_terabyte },
		{ NULL, NULL },
	};

	return t_main("vmalloc", cases, argc, argv);
}
