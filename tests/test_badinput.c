/* test_badinput.c -- every entry point given bad arguments: each returns a
 * negative errno, nothing aborts or leaks (the suite also runs under ASan and
 * UBSan), and after each refusal the checker is clean and vmallocinfo,
 * meminfo and buddyinfo read exactly as before.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmtest.h"

/* The machine the bad calls are aimed at, and what it looked like. */
struct target {
	struct vm_engine *e;
	struct t_snap snap;
	uint64_t vs, ve;
	uint64_t a;          /* 2-page vmalloc area holding a pattern */
	uint64_t a_pfn;      /* its first frame */
	uint64_t ro;         /* 1-page read-only area */
	uint64_t v;          /* vmap area over block b */
	uint64_t b;          /* order-1 block, mapped by v */
	uint64_t f;          /* order-2 block, not mapped */
	uint64_t gone_pfn;   /* a frame allocated and freed */
	uint64_t lazy;       /* a freed area, still on the lazy list */
};

static void setup(struct target *t)
{
	struct vm_alloc_req req = {
		.size = PAGE, .align = PAGE, .gfp = GFP_KERNEL, .prot = PAGE_KERNEL_RO,
		.node = NUMA_NO_NODE,
	};
	uint64_t pfns[2];
	uint8_t pattern[2 * PAGE];
	struct vm_stats st;

	memset(t, 0, sizeof(*t));
	t->e = t_machine(64 * MIB, 1, VM_LAYOUT_X86_64);
	CU_ASSERT_FATAL(t->e != NULL);
	vm_get_stats(t->e, &st);
	t->vs = st.vmalloc_start;
	t->ve = st.vmalloc_end;
	CU_ASSERT_FATAL(vm_vmalloc(t->e, 2 * PAGE, &t->a) == 0);
	t_pattern(pattern, sizeof(pattern), 77, 0);
	CU_ASSERT_FATAL(vm_vwrite(t->e, t->a, pattern, sizeof(pattern)) == 0);
	CU_ASSERT_FATAL(vm_vmalloc_to_pfn(t->e, t->a, &t->a_pfn) == 0);
	CU_ASSERT_FATAL(vm___vmalloc_node_range(t->e, &req, &t->ro) == 0);
	CU_ASSERT_FATAL(vm_alloc_pages(t->e, GFP_KERNEL, 1, NUMA_NO_NODE, &t->b) == 0);
	pfns[0] = t->b;
	pfns[1] = t->b + 1;
	CU_ASSERT_FATAL(vm_vmap(t->e, pfns, 2, 0, PAGE_KERNEL, &t->v) == 0);
	CU_ASSERT_FATAL(vm_alloc_pages(t->e, GFP_KERNEL, 2, NUMA_NO_NODE, &t->f) == 0);
	CU_ASSERT_FATAL(vm_alloc_pages(t->e, GFP_KERNEL, 0, NUMA_NO_NODE, &t->gone_pfn) == 0);
	CU_ASSERT_FATAL(vm_free_pages(t->e, t->gone_pfn, 0) == 0);
	CU_ASSERT_FATAL(vm_vmalloc(t->e, 3 * PAGE, &t->lazy) == 0);
	CU_ASSERT_FATAL(vm_vfree(t->e, t->lazy) == 0);
	T_CHECK(t->e);
	t_snap_take(t->e, &t->snap);
}

static void teardown(struct target *t)
{
	uint8_t want[2 * PAGE], got[2 * PAGE];

	/* The area's bytes survived every refused write. */
	t_pattern(want, sizeof(want), 77, 0);
	CU_ASSERT_EQUAL(vm_vread(t->e, t->a, got, sizeof(got)), 0);
	CU_ASSERT_EQUAL(memcmp(got, want, sizeof(got)), 0);
	t_snap_free(&t->snap);
	vm_engine_destroy(t->e);
}

static void refused(struct target *t, int got, int want, const char *call, int line)
{
	t_assert_msg(got == want, call, __FILE__, line, "returned %d, want %d", got, want);
	if (!t_check(t->e, __FILE__, line) || !t_snap_same(t->e, &t->snap, __FILE__, line))
		fprintf(stderr, "  after %s\n", call);
}

#define BAD(call, want) refused(&t, (call), (want), #call, __LINE__)

static void test_vmalloc_family(void)
{
	struct vm_alloc_req req;
	struct target t;
	uint64_t addr = 0xdead;
	char long_caller[VM_CALLER_MAX + 2];

	setup(&t);
	struct vm_engine *e = t.e;

	/* Sizes: zero, and sizes whose page rounding or guard overflow. */
	BAD(vm_vmalloc(e, 0, &addr), -EINVAL);
	BAD(vm_vmalloc(e, UINT64_MAX, &addr), -EINVAL);
	BAD(vm_vmalloc(e, UINT64_MAX - 4095, &addr), -EINVAL);
	BAD(vm_vmalloc(e, UINT64_MAX - 8190, &addr), -EINVAL);	/* rounds up to the last page */
	BAD(vm_vmalloc(e, UINT64_MAX - 8191, &addr), -ENOMEM);	/* no overflow, just too big */
	BAD(vm_vmalloc(e, 1ull << 40, &addr), -ENOMEM);		/* more than the machine */
	BAD(vm_vzalloc(e, 0, &addr), -EINVAL);
	BAD(vm_vmalloc_user(e, 0, &addr), -EINVAL);
	BAD(vm_vmalloc_32(e, 0, &addr), -EINVAL);
	BAD(vm_vmalloc_32_user(e, UINT64_MAX, &addr), -EINVAL);
	BAD(vm___vmalloc(e, 0, GFP_KERNEL, &addr), -EINVAL);
	BAD(vm_vzalloc_node(e, 0, 0, &addr), -EINVAL);
	/* Missing engine or result. */
	BAD(vm_vmalloc(NULL, PAGE, &addr), -EINVAL);
	BAD(vm_vmalloc_32(NULL, PAGE, &addr), -EINVAL);
	BAD(vm_vmalloc(e, PAGE, NULL), -EINVAL);
	BAD(vm___vmalloc_node_range(e, NULL, &addr), -EINVAL);
	/* Unknown nodes on a one-node machine. */
	BAD(vm_vmalloc_node(e, PAGE, 5, &addr), -EINVAL);
	BAD(vm_vmalloc_node(e, PAGE, -7, &addr), -EINVAL);
	BAD(vm_vmalloc_node(e, PAGE, 1, &addr), -EINVAL);
	BAD(vm_vzalloc_node(e, PAGE, 64, &addr), -EINVAL);
	BAD(vm_vzalloc_node(e, PAGE, INT_MIN, &addr), -EINVAL);
	/* gfp: unknown bits, two zone modifiers. */
	BAD(vm___vmalloc(e, PAGE, 0x80000000u, &addr), -EINVAL);
	BAD(vm___vmalloc(e, PAGE, GFP_KERNEL | 0x10u, &addr), -EINVAL);
	BAD(vm___vmalloc(e, PAGE, GFP_KERNEL | GFP_DMA | __GFP_HIGHMEM, &addr), -EINVAL);
	BAD(vm___vmalloc(e, PAGE, GFP_DMA | GFP_DMA32, &addr), -EINVAL);

	/* The full form. */
	memset(&req, 0, sizeof(req));
	req.size = PAGE;
	req.gfp = GFP_KERNEL;
	req.prot = PAGE_KERNEL;
	req.node = NUMA_NO_NODE;
	req.align = 3 * PAGE;
	BAD(vm___vmalloc_node_range(e, &req, &addr), -EINVAL);
	req.align = 12345;
	BAD(vm___vmalloc_node_range(e, &req, &addr), -EINVAL);
	req.align = PAGE;
	req.vm_flags = VM_ALLOC;
	BAD(vm___vmalloc_node_range(e, &req, &addr), -EINVAL);
	req.vm_flags = VM_MAP;
	BAD(vm___vmalloc_node_range(e, &req, &addr), -EINVAL);
	req.vm_flags = 0x80000000u;
	BAD(vm___vmalloc_node_range(e, &req, &addr), -EINVAL);
	req.vm_flags = VM_SCOPED;	/* the daemon's mark: only vm_set_current_flags */
	BAD(vm___vmalloc_node_range(e, &req, &addr), -EINVAL);
	req.vm_flags = 0;
	req.prot = 0x10;
	BAD(vm___vmalloc_node_range(e, &req, &addr), -EINVAL);
	req.prot = PAGE_KERNEL;
	req.node = 2;
	BAD(vm___vmalloc_node_range(e, &req, &addr), -EINVAL);
	req.node = NUMA_NO_NODE;
	req.start = t.vs + MIB;
	req.end = t.vs + MIB;
	BAD(vm___vmalloc_node_range(e, &req, &addr), -EINVAL);
	req.start = 0x1000;
	req.end = 0x100000;
	BAD(vm___vmalloc_node_range(e, &req, &addr), -EINVAL);
	req.start = t.vs;
	req.end = t.ve + PAGE;
	BAD(vm___vmalloc_node_range(e, &req, &addr), -EINVAL);
	req.start = t.vs + MIB;
	req.end = req.start + PAGE;	/* no room for the guard page */
	req.gfp = GFP_NOWAIT;		/* one that may sleep purges first, as the kernel does */
	BAD(vm___vmalloc_node_range(e, &req, &addr), -ENOMEM);
	req.gfp = GFP_KERNEL;
	req.start = req.end = 0;
	memset(long_caller, 'x', sizeof(long_caller) - 1);
	long_caller[sizeof(long_caller) - 1] = '\0';
	req.caller = long_caller;
	BAD(vm___vmalloc_node_range(e, &req, &addr), -EINVAL);
	CU_ASSERT_EQUAL(addr, 0xdead);
	teardown(&t);
}

static void test_free_and_access(void)
{
	struct target t;
	uint8_t buf[64];
	uint64_t addr = 0xdead, pfn = 0xdead;

	setup(&t);
	struct vm_engine *e = t.e;

	/* vfree: not the start of an area, not a vmalloc area, freed twice. */
	BAD(vm_vfree(e, t.a + PAGE), -EINVAL);
	BAD(vm_vfree(e, t.a + 1), -EINVAL);
	BAD(vm_vfree(e, t.a + 2 * PAGE), -EINVAL);	/* its guard page */
	BAD(vm_vfree(e, 0x1234), -EINVAL);
	BAD(vm_vfree(e, t.vs - PAGE), -EINVAL);
	BAD(vm_vfree(e, UINT64_MAX), -EINVAL);
	BAD(vm_vfree(e, t.lazy), -EINVAL);		/* double free */
	BAD(vm_vfree(e, t.v), -EINVAL);			/* a vmap area */
	BAD(vm_vfree(NULL, t.a), -EINVAL);
	BAD(vm_vfree(e, 0), 0);				/* a no-op, as in the kernel */
	/* vunmap: the mirror image. */
	BAD(vm_vunmap(e, t.a), -EINVAL);		/* a vmalloc area */
	BAD(vm_vunmap(e, t.v + PAGE), -EINVAL);
	BAD(vm_vunmap(e, t.lazy), -EINVAL);
	BAD(vm_vunmap(e, 0), -EINVAL);
	BAD(vm_vunmap(NULL, t.v), -EINVAL);
	/* vrealloc. */
	BAD(vm_vrealloc(e, t.a + PAGE, 100, GFP_KERNEL, &addr), -EINVAL);
	BAD(vm_vrealloc(e, t.v, 100, GFP_KERNEL, &addr), -EINVAL);
	BAD(vm_vrealloc(e, t.lazy, 100, GFP_KERNEL, &addr), -EINVAL);
	BAD(vm_vrealloc(e, t.a, 100, 0x80000000u, &addr), -EINVAL);
	BAD(vm_vrealloc(e, t.a, UINT64_MAX, GFP_KERNEL, &addr), -EINVAL);
	BAD(vm_vrealloc(e, t.a, 100, GFP_KERNEL, NULL), -EINVAL);
	BAD(vm_vrealloc(e, 0, 0, GFP_KERNEL, &addr), -EINVAL);
	BAD(vm_vrealloc(NULL, t.a, 100, GFP_KERNEL, &addr), -EINVAL);
	CU_ASSERT_EQUAL(addr, 0xdead);

	/* Reads and writes past the end, into the guard page, nowhere. */
	BAD(vm_vread(e, t.a + 2 * PAGE - 1, buf, 2), -EFAULT);
	BAD(vm_vread(e, t.a + 2 * PAGE, buf, 1), -EFAULT);
	BAD(vm_vwrite(e, t.a + 2 * PAGE - 3, "abcdef", 6), -EFAULT);	/* not even in part */
	BAD(vm_vwrite(e, t.a + 2 * PAGE, "a", 1), -EFAULT);
	BAD(vm_vread(e, t.lazy, buf, 1), -EFAULT);
	BAD(vm_vwrite(e, t.lazy, "a", 1), -EFAULT);
	BAD(vm_vread(e, 0x1000, buf, 1), -EFAULT);
	BAD(vm_vread(e, t.ve + PAGE, buf, 1), -EFAULT);
	BAD(vm_vread(e, t.a, buf, UINT64_MAX), -EINVAL);		/* wraps */
	BAD(vm_vread(e, t.a, NULL, 1), -EINVAL);
	BAD(vm_vwrite(e, t.a, NULL, 1), -EINVAL);
	BAD(vm_vwrite(e, t.ro, "a", 1), -EACCES);
	BAD(vm_vwrite(NULL, t.a, "a", 1), -EINVAL);
	BAD(vm_vread(NULL, t.a, buf, 1), -EINVAL);

	/* Lookups. */
	BAD(vm_vmalloc_to_pfn(e, t.vs - 1, &pfn), -EINVAL);
	BAD(vm_vmalloc_to_pfn(e, 0, &pfn), -EINVAL);
	BAD(vm_vmalloc_to_pfn(e, t.a + 2 * PAGE, &pfn), -ENXIO);
	BAD(vm_vmalloc_to_pfn(e, t.lazy, &pfn), -ENXIO);
	BAD(vm_vmalloc_to_pfn(e, t.a, NULL), -EINVAL);
	BAD(vm_vmalloc_to_pfn(NULL, t.a, &pfn), -EINVAL);
	CU_ASSERT_EQUAL(pfn, 0xdead);
	BAD(vm_find_vm_area(e, 0x1234, NULL), -ENOENT);
	BAD(vm_find_vm_area(e, t.lazy, NULL), -ENOENT);
	BAD(vm_find_vm_area(NULL, t.a, NULL), -EINVAL);
	BAD(vm_for_each_area(e, NULL, NULL), -EINVAL);
	BAD(vm_for_each_zone(e, NULL, NULL), -EINVAL);
	BAD(vm_check(NULL, NULL, 0), -EINVAL);
	BAD(vm_set_current(NULL, 0, 0, 0, NULL), -EINVAL);
	BAD(vm_set_current_flags(NULL, 0), -EINVAL);
	BAD(vm_set_current_flags(e, VM_USERMAP), -EINVAL);
	BAD(vm_set_current_flags(e, VM_SCOPED | VM_ALLOC), -EINVAL);
	{
		char *buf2 = NULL;
		size_t len = 0;

		BAD(vm_show_vmallocinfo(e, false, 0, NULL, &len), -EINVAL);
		BAD(vm_show_vmallocinfo(NULL, false, 0, &buf2, &len), -EINVAL);
		BAD(vm_show_meminfo(e, &buf2, NULL), -EINVAL);
		BAD(vm_show_buddyinfo(NULL, &buf2, &len), -EINVAL);
		BAD(vm_show_unusable_index(e, NULL, &len), -EINVAL);
		BAD(vm_show_extfrag_index(NULL, &buf2, &len), -EINVAL);
		CU_ASSERT_PTR_NULL(buf2);
	}
	teardown(&t);
}

static void test_pages_and_vmap(void)
{
	struct target t;
	uint64_t pfn = 0xdead, addr = 0xdead, list[3];
	uint8_t buf[64];

	setup(&t);
	struct vm_engine *e = t.e;
	struct vm_stats st;

	vm_get_stats(e, &st);
	/* alloc_pages: order, node, gfp. */
	BAD(vm_alloc_pages(e, GFP_KERNEL, VM_MAX_PAGE_ORDER + 1, NUMA_NO_NODE, &pfn), -EINVAL);
	BAD(vm_alloc_pages(e, GFP_KERNEL, UINT_MAX, NUMA_NO_NODE, &pfn), -EINVAL);
	BAD(vm_alloc_pages(e, GFP_KERNEL, 0, 5, &pfn), -EINVAL);
	BAD(vm_alloc_pages(e, GFP_KERNEL, 0, -7, &pfn), -EINVAL);
	BAD(vm_alloc_pages(e, 0x10u, 0, NUMA_NO_NODE, &pfn), -EINVAL);
	BAD(vm_alloc_pages(e, __GFP_DMA32 | __GFP_HIGHMEM, 0, NUMA_NO_NODE, &pfn), -EINVAL);
	BAD(vm_alloc_pages(e, GFP_KERNEL, 0, NUMA_NO_NODE, NULL), -EINVAL);
	BAD(vm_alloc_pages(NULL, GFP_KERNEL, 0, NUMA_NO_NODE, &pfn), -EINVAL);
	CU_ASSERT_EQUAL(pfn, 0xdead);
	/* free_pages: wrong order, not a head, not ours, twice, mapped. */
	BAD(vm_free_pages(e, t.f, 1), -EINVAL);
	BAD(vm_free_pages(e, t.f, 3), -EINVAL);
	BAD(vm_free_pages(e, t.f, VM_MAX_PAGE_ORDER + 1), -EINVAL);
	BAD(vm_free_pages(e, t.f + 1, 0), -EINVAL);
	BAD(vm_free_pages(e, t.a_pfn, 0), -EINVAL);		/* a vmalloc frame */
	BAD(vm_free_pages(e, t.gone_pfn, 0), -EINVAL);	/* double free */
	BAD(vm_free_pages(e, st.total_pages + 5, 0), -EINVAL);
	BAD(vm_free_pages(e, UINT64_MAX, 0), -EINVAL);
	BAD(vm_free_pages(e, t.b, 1), -EBUSY);			/* mapped by a vmap */
	BAD(vm_free_pages(NULL, t.f, 2), -EINVAL);
	/* Physical access outside the block. */
	BAD(vm_phys_read(e, t.f, 4 * PAGE - 10, buf, 11), -EINVAL);
	BAD(vm_phys_read(e, t.f, UINT64_MAX, buf, 1), -EINVAL);
	BAD(vm_phys_write(e, t.f, 10, buf, UINT64_MAX), -EINVAL);
	BAD(vm_phys_write(e, t.f + 1, 0, buf, 1), -EINVAL);
	BAD(vm_phys_write(e, t.a_pfn, 0, buf, 1), -EINVAL);
	BAD(vm_phys_read(e, t.gone_pfn, 0, buf, 1), -EINVAL);
	BAD(vm_phys_read(e, t.f, 0, NULL, 1), -EINVAL);
	/* vmap: frames that are not vm_alloc_pages frames, bad flags. */
	list[0] = t.f;
	list[1] = t.a_pfn;
	list[2] = t.f + 1;
	BAD(vm_vmap(e, list, 2, 0, PAGE_KERNEL, &addr), -EINVAL);	/* one bad of two */
	list[1] = t.gone_pfn;
	BAD(vm_vmap(e, list, 2, 0, PAGE_KERNEL, &addr), -EINVAL);
	list[1] = st.total_pages;
	BAD(vm_vmap(e, list, 2, 0, PAGE_KERNEL, &addr), -EINVAL);
	BAD(vm_vmap(e, list, 0, 0, PAGE_KERNEL, &addr), -EINVAL);
	BAD(vm_vmap(e, list, 1, VM_SCOPED, PAGE_KERNEL, &addr), -EINVAL);
	BAD(vm_vmap(e, list, UINT64_MAX, 0, PAGE_KERNEL, &addr), -EINVAL);
	BAD(vm_vmap(e, NULL, 1, 0, PAGE_KERNEL, &addr), -EINVAL);
	BAD(vm_vmap(e, &list[2], 1, VM_ALLOC, PAGE_KERNEL, &addr), -EINVAL);
	BAD(vm_vmap(e, &list[2], 1, 0, 0x10, &addr), -EINVAL);
	BAD(vm_vmap(e, &list[2], 1, 0, PAGE_KERNEL, NULL), -EINVAL);
	BAD(vm_vmap(NULL, &list[2], 1, 0, PAGE_KERNEL, &addr), -EINVAL);
	CU_ASSERT_EQUAL(addr, 0xdead);
	/* None of the refused vmaps left a map count: f can still go. */
	CU_ASSERT_EQUAL(vm_free_pages(e, t.f, 2), 0);
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 2, NUMA_NO_NODE, &t.f) == 0);
	teardown(&t);
}

static void test_identity_and_parsing(void)
{
	struct vm_engine *e = t_machine(16 * MIB, 1, VM_LAYOUT_I386);
	char long_caller[VM_CALLER_MAX + 2];
	struct vm_area_info info;
	struct vm_zone_info z;
	enum vm_layout layout = VM_LAYOUT_I386;
	uint64_t a;

	if (!e)
		return;
	/* A refused identity leaves the previous one in force. */
	memset(long_caller, 'y', sizeof(long_caller) - 1);
	long_caller[sizeof(long_caller) - 1] = '\0';
	CU_ASSERT_EQUAL(vm_set_current(e, 5, 6, 7, "good+0x1/0x2"), 0);
	CU_ASSERT_EQUAL(vm_set_current(e, 9, 9, 9, long_caller), -EINVAL);
	long_caller[VM_CALLER_MAX] = '\0';	/* exactly the limit is fine */
	CU_ASSERT_FATAL(vm_vmalloc(e, PAGE, &a) == 0);
	CU_ASSERT_FATAL(vm_find_vm_area(e, a, &info) == 0);
	CU_ASSERT_EQUAL(info.uid, 5);
	CU_ASSERT_EQUAL(info.pid, 6);
	CU_ASSERT_EQUAL(info.cookie, 7);
	CU_ASSERT_STRING_EQUAL(info.caller, "good+0x1/0x2");
	CU_ASSERT_EQUAL(vm_set_current(e, 1, 1, 1, long_caller), 0);

	CU_ASSERT_EQUAL(vm_layout_from_name("sparc", &layout), -EINVAL);
	CU_ASSERT_EQUAL(vm_layout_from_name(NULL, &layout), -EINVAL);
	CU_ASSERT_EQUAL(vm_layout_from_name("x86_64", NULL), -EINVAL);
	CU_ASSERT_EQUAL(layout, VM_LAYOUT_I386);
	CU_ASSERT_EQUAL(vm_layout_from_name("x86_64", &layout), 0);
	CU_ASSERT_EQUAL(layout, VM_LAYOUT_X86_64);
	CU_ASSERT_STRING_EQUAL(vm_layout_name((enum vm_layout)99), "?");
	CU_ASSERT_STRING_EQUAL(vm_zone_name((enum vm_zone_type)99), "?");
	memset(&z, 0, sizeof(z));
	{
		int idx = 12345;

		CU_ASSERT_EQUAL(vm_unusable_index(NULL, 0, &idx), -EINVAL);
		CU_ASSERT_EQUAL(vm_unusable_index(&z, VM_MAX_PAGE_ORDER + 1, &idx), -EINVAL);
		CU_ASSERT_EQUAL(vm_unusable_index(&z, 0, NULL), -EINVAL);
		CU_ASSERT_EQUAL(vm_extfrag_index(NULL, 0, &idx), -EINVAL);
		CU_ASSERT_EQUAL(vm_extfrag_index(&z, VM_MAX_PAGE_ORDER + 1, &idx), -EINVAL);
		CU_ASSERT_EQUAL(vm_extfrag_index(&z, 0, NULL), -EINVAL);
		CU_ASSERT_EQUAL(idx, 12345);
	}
	T_CHECK(e);
	vm_engine_destroy(e);
}

static void test_bad_config(void)
{
	struct vm_engine *const sentinel = (struct vm_engine *)(uintptr_t)0x5e17;
	struct vm_engine *e = sentinel;
	struct vm_config cfg;
	static const struct {
		const char *what;
		uint64_t memory;
		unsigned nodes;
		unsigned layout;
		uint64_t movable;
		unsigned policy;
	} bad[] = {
		{ "0 nodes", 1 * GIB, 0, VM_LAYOUT_X86_64, 0, 0 },
		{ "65 nodes", 1 * GIB, 65, VM_LAYOUT_X86_64, 0, 0 },
		{ "no memory", 0, 1, VM_LAYOUT_X86_64, 0, 0 },
		{ "1 MiB", 1 * MIB, 1, VM_LAYOUT_X86_64, 0, 0 },
		{ "just under 4 MiB", 4 * MIB - 1, 1, VM_LAYOUT_X86_64, 0, 0 },
		{ "2 MiB a node", 4 * MIB, 2, VM_LAYOUT_X86_64, 0, 0 },
		{ "1 MiB a node, 64 nodes", 64 * MIB, 64, VM_LAYOUT_X86_64, 0, 0 },
		{ "i386 with 8 GiB", 8 * GIB, 1, VM_LAYOUT_I386, 0, 0 },
		{ "i386 just over 4 GiB", 4 * GIB + PAGE, 1, VM_LAYOUT_I386, 0, 0 },
		{ "x86_64 past 2^32 frames", VM_MAX_MEMORY + PAGE, 1, VM_LAYOUT_X86_64, 0, 0 },
		{ "UINT64_MAX bytes", UINT64_MAX, 1, VM_LAYOUT_X86_64, 0, 0 },
		{ "unknown layout", 1 * GIB, 1, VM_NR_LAYOUTS, 0, 0 },
		{ "layout 7", 1 * GIB, 1, 7, 0, 0 },
		{ "movable node", 64 * MIB, 1, VM_LAYOUT_X86_64, 64 * MIB, 0 },
		{ "unknown policy", 1 * GIB, 1, VM_LAYOUT_X86_64, 0, 5 },
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r;

		vm_config_init(&cfg);
		cfg.memory_bytes = bad[i].memory;
		cfg.nr_nodes = bad[i].nodes;
		cfg.layout = (enum vm_layout)bad[i].layout;
		cfg.movable_bytes = bad[i].movable;
		cfg.page_policy = (enum vm_page_policy)bad[i].policy;
		r = vm_engine_create(&cfg, &e);
		T_ASSERT_MSG(r == -EINVAL && e == sentinel, "%s: r %d", bad[i].what, r);
		if (r == 0 && e != sentinel) {
			vm_engine_destroy(e);
			e = sentinel;
		}
	}
	vm_config_init(&cfg);
	CU_ASSERT_EQUAL(vm_engine_create(NULL, &e), -EINVAL);
	CU_ASSERT_EQUAL(vm_engine_create(&cfg, NULL), -EINVAL);
	CU_ASSERT_PTR_EQUAL(e, sentinel);
	vm_engine_destroy(NULL);

	/* The edges that are allowed. */
	cfg.memory_bytes = VM_MIN_MEMORY;
	CU_ASSERT_EQUAL(vm_engine_create(&cfg, &e), 0);
	vm_engine_destroy(e);
	cfg.memory_bytes = 64 * 4 * MIB;
	cfg.nr_nodes = VM_MAX_NODES;
	CU_ASSERT_EQUAL(vm_engine_create(&cfg, &e), 0);
	if (e != sentinel)
		T_CHECK(e);
	vm_engine_destroy(e);
	cfg.nr_nodes = 1;
	cfg.memory_bytes = 4 * GIB;
	cfg.layout = VM_LAYOUT_I386;
	cfg.movable_bytes = 1 * GIB;
	CU_ASSERT_EQUAL(vm_engine_create(&cfg, &e), 0);
	vm_engine_destroy(e);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "vmalloc_family", test_vmalloc_family },
		{ "free_and_access", test_free_and_access },
		{ "pages_and_vmap", test_pages_and_vmap },
		{ "identity_and_parsing", test_identity_and_parsing },
		{ "bad_config", test_bad_config },
		{ NULL, NULL },
	};

	return t_main("badinput", cases, argc, argv);
}
