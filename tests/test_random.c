/* test_random.c -- long seeded random sequences over the whole API.
 *
 * Each configuration (a machine: kernel, CPUs, layout, nodes, memory, policy) runs a
 * sequence of operations drawn from the vmalloc family, vrealloc, vfree,
 * vmap/vunmap, alloc_pages/free_pages, vread/vwrite and purges, with sizes
 * from 1 byte to 8 MiB, in cycles that fill the machine until it refuses
 * requests and then drain it.  The suite links the engine at debug level
 * 2, so vm_check() runs after every engine call and must find nothing
 * (below level 2 the test runs it after every step, or every check_every
 * steps on the big HighMem machine); every result is checked against what
 * the call promises; a failed call must change nothing; the last bytes written to each area are read back
 * at random and at the end.  Freeing everything and purging must give back
 * buddyinfo and meminfo as they were at the start, but for the page tables
 * made meanwhile, which the kernel keeps.
 *
 * usage: test_random [CONFIG]      ($VMTEST_SEED, $VMTEST_OPS override)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmtest.h"

#define MAX_HANDLES 32
#define MAX_BLOCKS 48
#define MAX_VMAP_PAGES 8

struct rcfg {
	const char *name;
	enum vm_kernel kernel;
	unsigned cpus;
	enum vm_layout layout;
	unsigned nodes;
	uint64_t memory;
	uint64_t lazy_max_pages;        /* 0: the default */
	enum vm_page_policy policy;
	bool init_on_free;
	uint64_t ops;
	unsigned check_every;
	uint64_t seed;
	bool objects;                   /* also vm_map_ram, per-CPU objects, kvfree_rcu */
};

#define K618 VM_KERNEL_6_18
#define K419 VM_KERNEL_4_19
static const struct rcfg configs[] = {
	/* 24 MiB: DMA and one zone above it; with 4 nodes, three 4 MiB DMA
	 * nodes and a 12 MiB one across the 16 MiB line.  Small, so that a
	 * check after every step stays cheap and 8 MiB requests run short.
	 * Each machine runs under both kernels; the 6.18 ones with several
	 * CPUs have vmap nodes and pools (x86_64) or a larger lazy limit. */
	{ "x86_64-1node", K618, 1, VM_LAYOUT_X86_64, 1, 24 * MIB, 0, VM_POLICY_ORDER0, false, 100000, 1, 0x5eed0001, false },
	{ "x86_64-4nodes", K618, 4, VM_LAYOUT_X86_64, 4, 24 * MIB, 512, VM_POLICY_ORDER0, false, 100000, 1, 0x5eed0002, false },
	{ "i386-1node", K618, 1, VM_LAYOUT_I386, 1, 24 * MIB, 512, VM_POLICY_ORDER0, true, 100000, 1, 0x5eed0003, false },
	{ "i386-4nodes", K618, 2, VM_LAYOUT_I386, 4, 24 * MIB, 0, VM_POLICY_ORDER0, false, 100000, 1, 0x5eed0004, false },
	/* HighMem needs more than 896 MiB, where one vm_check() walks 262144
	 * frames: fewer steps (5000, a dozen fill/drain cycles, each filling
	 * HighMem to a refusal), checked every 64 below debug level 2; at level
	 * 2 the engine checks after every call and this is as long as the
	 * small machines' runs. */
	{ "i386-highmem", K618, 1, VM_LAYOUT_I386, 2, 1 * GIB, 2048, VM_POLICY_HIGH_ORDER_FIRST, false, 5000, 64, 0x5eed0005, false },
	{ "4.19-x86_64-1node", K419, 1, VM_LAYOUT_X86_64, 1, 24 * MIB, 0, VM_POLICY_ORDER0, false, 100000, 1, 0x5eed0011, false },
	{ "4.19-x86_64-4nodes", K419, 4, VM_LAYOUT_X86_64, 4, 24 * MIB, 512, VM_POLICY_ORDER0, false, 100000, 1, 0x5eed0012, false },
	{ "4.19-i386-1node", K419, 1, VM_LAYOUT_I386, 1, 24 * MIB, 512, VM_POLICY_ORDER0, true, 100000, 1, 0x5eed0013, false },
	{ "4.19-i386-4nodes", K419, 2, VM_LAYOUT_I386, 4, 24 * MIB, 0, VM_POLICY_ORDER0, false, 100000, 1, 0x5eed0014, false },
	{ "4.19-i386-highmem", K419, 1, VM_LAYOUT_I386, 2, 1 * GIB, 2048, VM_POLICY_HIGH_ORDER_FIRST, false, 5000, 64, 0x5eed0015, false },
	/* The same mix with vm_map_ram's vmap blocks, per-CPU chunks and
	 * kvfree_rcu beside it, on machines of two CPUs (48 MiB: room for a
	 * few 2 MiB chunks of maps and pages; i386's chunks are 456 KiB).
	 * 20,000 steps (10 to 28 fill/drain cycles): checked after every call
	 * at debug level 2, a step here costs about twice a small machine's,
	 * and 40,000 took 2 to 3 minutes each under ASan. */
	{ "objects-x86_64", K618, 2, VM_LAYOUT_X86_64, 1, 48 * MIB, 0, VM_POLICY_ORDER0, false, 20000, 8, 0x5eed0021, true },
	{ "objects-i386", K618, 2, VM_LAYOUT_I386, 2, 48 * MIB, 512, VM_POLICY_ORDER0, false, 20000, 8, 0x5eed0022, true },
	{ "4.19-objects-x86_64", K419, 2, VM_LAYOUT_X86_64, 1, 48 * MIB, 0, VM_POLICY_ORDER0, false, 20000, 8, 0x5eed0031, true },
	{ "4.19-objects-i386", K419, 2, VM_LAYOUT_I386, 2, 48 * MIB, 512, VM_POLICY_ORDER0, false, 20000, 8, 0x5eed0032, true },
};

enum hkind { H_VMALLOC, H_VMAP, H_MAPRAM, H_PERCPU };

struct handle {
	enum hkind kind;
	uint64_t addr;
	uint64_t req;           /* bytes asked for (vmalloc) */
	uint64_t nr_pages;
	uint32_t prot;
	/* vmalloc: the last bytes written, t_pattern(w_seed, w_off) */
	uint64_t w_off, w_len, w_seed;
	/* vmap, vm_map_ram: the frames, in order (vm_map_ram's big mappings:
	 * nr_pages copies of pfns[0]) */
	uint64_t pfns[MAX_VMAP_PAGES];
	unsigned block[MAX_VMAP_PAGES];
	bool repeat;
	/* per-CPU: the object's size, and the seed of what each CPU's copy holds */
	uint64_t pcpu_size;
};

struct block {
	uint64_t pfn;
	unsigned order;
	unsigned maps;          /* vmap entries pointing into it */
};

struct run {
	const struct rcfg *cfg;
	struct vm_engine *e;
	struct t_rng rng;
	struct t_zones zones;
	uint64_t seed, step;
	const char *op;
	bool failed;
	struct handle h[MAX_HANDLES];
	unsigned nh;
	struct block b[MAX_BLOCKS];
	unsigned nb;
	uint64_t vs, ve;
	uint8_t *buf, *want;    /* scratch, 4 pages each */
	uint64_t nr_ok, nr_enomem;
	char caller[64];        /* what vm_set_current was last given ("" none) */
	bool draining;          /* phase: fill until refused, then drain */
	uint64_t phase_enomem;  /* refusals in this fill phase */
	uint64_t nr_phases;
	uint64_t max_pooled;    /* 6.18: most ranges seen in the vmap node pools */
	char bug[256];          /* the first "vmalloc bug" the engine logged */
};

#define SCRATCH (4 * PAGE)

/* Record a failure with the seed and step, once; the run stops after it. */
#define R_ASSERT(r, cond, ...) \
	r_assert((r), !!(cond), #cond, __LINE__, __VA_ARGS__)

__attribute__((format(printf, 5, 6)))
static bool r_assert(struct run *r, bool ok, const char *expr, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ok || r->failed)
		return ok;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->failed = true;
	fprintf(stderr, "\n%s: seed %#" PRIx64 " step %" PRIu64 " (%s): %s\n"
		"  rerun: VMTEST_SEED=%#" PRIx64 " test_random %s\n",
		r->cfg->name, r->seed, r->step, r->op, msg, r->seed, r->cfg->name);
	return t_assert_msg(false, expr, __FILE__, line, "see above");
}

static uint64_t page_align(uint64_t x)
{
	return (x + PAGE - 1) & ~(PAGE - 1);
}

/* 1 byte .. 8 MiB, uniform in the logarithm. */
static uint64_t random_size(struct run *r)
{
	unsigned bits = (unsigned)t_rand_below(&r->rng, 24);
	uint64_t lo = 1ull << bits, size = lo + t_rand_below(&r->rng, lo);

	return size > 8 * MIB ? 8 * MIB : size;
}

static int random_node(struct run *r)
{
	return (int)t_rand_below(&r->rng, r->cfg->nodes);
}

static const gfp_t gfps[] = {
	GFP_KERNEL, GFP_KERNEL | __GFP_HIGHMEM, GFP_ATOMIC, GFP_NOWAIT,
	GFP_KERNEL | __GFP_ZERO, GFP_KERNEL | GFP_DMA, GFP_KERNEL | GFP_DMA32,
	GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY, GFP_KERNEL | __GFP_THISNODE,
	GFP_KERNEL | __GFP_ACCOUNT | __GFP_RETRY_MAYFAIL, GFP_HIGHUSER | __GFP_ZERO,
	GFP_KERNEL | __GFP_NOFAIL,
};

static gfp_t random_gfp(struct run *r)
{
	return gfps[t_rand_below(&r->rng, sizeof(gfps) / sizeof(gfps[0]))];
}

/* The highest zone a gfp may reach, as the kernel's gfp_zone() says. */
static enum vm_zone_type gfp_max_zone(const struct run *r, gfp_t gfp)
{
	if (gfp & __GFP_DMA)
		return VM_ZONE_DMA;
	if (gfp & __GFP_DMA32)
		return r->cfg->layout == VM_LAYOUT_X86_64 ? VM_ZONE_DMA32 : VM_ZONE_NORMAL;
	if (gfp & __GFP_HIGHMEM)
		return VM_ZONE_HIGHMEM;
	return VM_ZONE_NORMAL;
}

/* The same for a vmalloc area's pages: both kernels add __GFP_HIGHMEM
 * unless the request is DMA or DMA32 (__vmalloc_area_node()). */
static enum vm_zone_type vmalloc_max_zone(const struct run *r, gfp_t gfp)
{
	if (gfp & __GFP_DMA)
		return VM_ZONE_DMA;
	if (gfp & __GFP_DMA32)
		return r->cfg->layout == VM_LAYOUT_X86_64 ? VM_ZONE_DMA32 : VM_ZONE_NORMAL;
	return VM_ZONE_HIGHMEM;
}

/* A failed call leaves everything as it was, unless it purged (which an
 * allocation may do before giving up, and the deferred purge a call runs
 * first; on 6.18 a purge may also only decay the pools). */
static void expect_unchanged(struct run *r, const struct vm_stats *a, int rc)
{
	struct vm_stats b = t_stats(r->e);

	R_ASSERT(r, rc == -ENOMEM, "failed with %d", rc);
	r->nr_enomem++;
	r->phase_enomem++;
	if (b.nr_purges != a->nr_purges || b.nr_pooled_areas != a->nr_pooled_areas)
		return;
	R_ASSERT(r, t_stats_same(a, &b),
		 "a failed call changed the machine: free %llu->%llu tables %llu->%llu areas %llu->%llu",
		 (unsigned long long)a->free_pages, (unsigned long long)b.free_pages,
		 (unsigned long long)a->pagetable_pages, (unsigned long long)b.pagetable_pages,
		 (unsigned long long)a->nr_areas, (unsigned long long)b.nr_areas);
}

/* Every frame of the area in a zone the gfp allows. */
static void check_zones(struct run *r, uint64_t addr, uint64_t nr, gfp_t gfp)
{
	enum vm_zone_type max = vmalloc_max_zone(r, gfp);

	for (uint64_t i = 0; i < nr && !r->failed; i++) {
		const struct vm_zone_info *z;
		uint64_t pfn;
		int rc = vm_vmalloc_to_pfn(r->e, addr + i * PAGE, &pfn);

		z = rc == 0 ? t_pfn_zone(&r->zones, pfn) : NULL;
		R_ASSERT(r, z && z->type <= max, "page %llu: rc %d, zone %s above %s",
			 (unsigned long long)i, rc, z ? z->name : "none", vm_zone_name(max));
	}
}

/* Zero bytes where the call promised them: small areas whole, big ones
 * in four random pages and at the end. */
static void check_zeroed(struct run *r, uint64_t addr, uint64_t len)
{
	uint64_t off[5], n = 0;

	if (len <= SCRATCH) {
		off[n++] = 0;
	} else {
		for (unsigned i = 0; i < 4; i++)
			off[n++] = t_rand_below(&r->rng, len / PAGE) * PAGE;
		off[n++] = len - PAGE;
	}
	for (uint64_t i = 0; i < n && !r->failed; i++) {
		uint64_t l = len - off[i] < SCRATCH ? len - off[i] : SCRATCH;
		int rc = vm_vread(r->e, addr + off[i], r->buf, l);
		uint64_t nz = 0;

		for (uint64_t k = 0; rc == 0 && k < l; k++)
			nz += r->buf[k] != 0;
		R_ASSERT(r, rc == 0 && nz == 0, "zeroed area %#llx: read at +%#llx rc %d, %llu non-zero bytes",
			 (unsigned long long)addr, (unsigned long long)off[i], rc, (unsigned long long)nz);
	}
}

/* The area as vm_find_vm_area reports it. */
static void check_area(struct run *r, uint64_t addr, uint64_t nr_pages, uint64_t kva, uint32_t flags,
		       const char *caller)
{
	struct vm_area_info info;
	uint64_t sum = 0;
	int rc = vm_find_vm_area(r->e, addr, &info);

	if (!R_ASSERT(r, rc == 0, "find_vm_area(%#llx) = %d", (unsigned long long)addr, rc))
		return;
	for (unsigned n = 0; n < r->cfg->nodes; n++)
		sum += info.nr_per_node[n];
	R_ASSERT(r, info.addr == addr && info.nr_pages == nr_pages && info.size == kva &&
		 info.flags == flags && sum == nr_pages,
		 "area %#llx: pages %llu/%llu size %#llx/%#llx flags %#x/%#x node sum %llu",
		 (unsigned long long)addr, (unsigned long long)info.nr_pages,
		 (unsigned long long)nr_pages, (unsigned long long)info.size,
		 (unsigned long long)kva, info.flags, flags, (unsigned long long)sum);
	R_ASSERT(r, caller[0] ? info.caller && strcmp(info.caller, caller) == 0 : !info.caller,
		 "area %#llx: caller '%s', want '%s'", (unsigned long long)addr,
		 info.caller ? info.caller : "(none)", caller);
}

/* Now and then a new identity: up to 300 distinct caller strings, so the
 * interning table grows several times. */
static void maybe_set_current(struct run *r)
{
	int rc;

	if (t_rand_below(&r->rng, 8))
		return;
	if (t_rand_below(&r->rng, 8) == 0) {
		r->caller[0] = '\0';
		rc = vm_set_current(r->e, 0, 1, 0, NULL);
	} else {
		snprintf(r->caller, sizeof(r->caller), "caller_%u+0x%x/0x200",
			 (unsigned)t_rand_below(&r->rng, 300), (unsigned)t_rand_below(&r->rng, 0x200));
		rc = vm_set_current(r->e, (uint32_t)t_rand_below(&r->rng, 4), 1, 0, r->caller);
	}
	R_ASSERT(r, rc == 0, "vm_set_current = %d", rc);
}

static void add_vmalloc(struct run *r, uint64_t addr, uint64_t size, uint32_t prot)
{
	struct handle *h = &r->h[r->nh++];

	memset(h, 0, sizeof(*h));
	h->kind = H_VMALLOC;
	h->addr = addr;
	h->req = size;
	h->nr_pages = page_align(size) / PAGE;
	h->prot = prot;
}

/* ---- operations ------------------------------------------------------------ */

static void op_alloc(struct run *r)
{
	struct vm_alloc_req req = { .align = PAGE, .prot = PAGE_KERNEL, .node = NUMA_NO_NODE };
	uint64_t size = random_size(r), addr = 0, vstart = r->vs, vend = r->ve, align = PAGE;
	uint32_t flags = VM_ALLOC;
	gfp_t gfp = GFP_KERNEL | __GFP_HIGHMEM;
	bool zeroed = false, guard = true;
	struct vm_stats before;
	int rc, node;

	const char *caller = r->caller;

	if (r->nh == MAX_HANDLES)
		return;
	maybe_set_current(r);
	if (r->cfg->cpus > 1)
		R_ASSERT(r, vm_set_current_cpu(r->e, (unsigned)t_rand_below(&r->rng, r->cfg->cpus)) == 0,
			 "vm_set_current_cpu");
	before = t_stats(r->e);
	switch (t_rand_below(&r->rng, 9)) {
	case 0:
		r->op = "vmalloc";
		rc = vm_vmalloc(r->e, size, &addr);
		break;
	case 1:
		r->op = "vzalloc";
		zeroed = true;
		rc = vm_vzalloc(r->e, size, &addr);
		break;
	case 2:
		r->op = "vmalloc_node";
		rc = vm_vmalloc_node(r->e, size, random_node(r), &addr);
		break;
	case 3:
		r->op = "vzalloc_node";
		zeroed = true;
		rc = vm_vzalloc_node(r->e, size, random_node(r), &addr);
		break;
	case 4:
		r->op = "vmalloc_32";
		gfp = GFP_KERNEL | GFP_DMA32;
		rc = vm_vmalloc_32(r->e, size, &addr);
		break;
	case 5:
		r->op = "vmalloc_user";
		zeroed = true;
		flags |= VM_USERMAP;
		rc = vm_vmalloc_user(r->e, size, &addr);
		break;
	case 6:
		r->op = "vmalloc_32_user";
		zeroed = true;
		gfp = GFP_KERNEL | GFP_DMA32;
		flags |= VM_USERMAP;
		rc = vm_vmalloc_32_user(r->e, size, &addr);
		break;
	case 7:
		r->op = "__vmalloc";
		gfp = random_gfp(r);
		zeroed = gfp & __GFP_ZERO;
		rc = vm___vmalloc(r->e, size, gfp, &addr);
		break;
	default:
		r->op = "__vmalloc_node_range";
		gfp = random_gfp(r);
		zeroed = gfp & __GFP_ZERO;
		req.size = size;
		req.gfp = gfp;
		switch (t_rand_below(&r->rng, 4)) {
		case 0:
			req.align = 0;
			break;
		case 1:
			req.align = 1ull << t_rand_range(&r->rng, 12, 22);
			align = req.align;
			break;
		default:
			break;
		}
		if (t_rand_below(&r->rng, 2)) {
			/* A window of up to 32 MiB, low in the range. */
			vstart = r->vs + t_rand_below(&r->rng, 8192) * PAGE;
			vend = vstart + t_rand_range(&r->rng, 1, 8192) * PAGE;
			if (vend > r->ve)
				vend = r->ve;
			req.start = vstart;
			req.end = vend;
		}
		if (t_rand_below(&r->rng, 4) == 0) {
			req.vm_flags = VM_NO_GUARD;
			flags |= VM_NO_GUARD;
			guard = false;
		}
		if (t_rand_below(&r->rng, 4) == 0) {
			req.vm_flags |= VM_USERMAP;
			flags |= VM_USERMAP;
		}
		req.prot = t_rand_below(&r->rng, 5) == 0 ? PAGE_KERNEL_RO : PAGE_KERNEL;
		if (t_rand_below(&r->rng, 4) == 0) {
			req.caller = "module_alloc+0x2f/0x80";
			caller = req.caller;
		}
		node = (int)t_rand_below(&r->rng, r->cfg->nodes + 1) - 1;
		req.node = node;
		rc = vm___vmalloc_node_range(r->e, &req, &addr);
		break;
	}
	if (rc < 0) {
		expect_unchanged(r, &before, rc);
		return;
	}
	r->nr_ok++;
	{
		uint64_t kva = page_align(size) + (guard ? PAGE : 0);

		R_ASSERT(r, addr % align == 0 && addr >= vstart && addr + kva <= vend,
			 "%#llx bytes at %#llx: align %#llx, window [%#llx, %#llx)",
			 (unsigned long long)kva, (unsigned long long)addr, (unsigned long long)align,
			 (unsigned long long)vstart, (unsigned long long)vend);
		check_area(r, addr, page_align(size) / PAGE, kva, flags, caller);
	}
	check_zones(r, addr, page_align(size) / PAGE, gfp);
	if (zeroed)
		check_zeroed(r, addr, size);
	add_vmalloc(r, addr, size, req.prot);
}

static struct handle *pick(struct run *r, enum hkind kind)
{
	unsigned n = 0, k;

	for (unsigned i = 0; i < r->nh; i++)
		n += r->h[i].kind == kind;
	if (!n)
		return NULL;
	k = (unsigned)t_rand_below(&r->rng, n);
	for (unsigned i = 0; i < r->nh; i++)
		if (r->h[i].kind == kind && k-- == 0)
			return &r->h[i];
	return NULL;
}

static void drop(struct run *r, struct handle *h)
{
	*h = r->h[--r->nh];
}

/* The last bytes written to a vmalloc area are still there. */
static void verify_written(struct run *r, const struct handle *h)
{
	int rc;

	if (h->kind != H_VMALLOC || !h->w_len)
		return;
	rc = vm_vread(r->e, h->addr + h->w_off, r->buf, h->w_len);
	t_pattern(r->want, h->w_len, h->w_seed, h->w_off);
	R_ASSERT(r, rc == 0 && memcmp(r->buf, r->want, h->w_len) == 0,
		 "area %#llx: %llu bytes at +%#llx read back wrong (rc %d)", (unsigned long long)h->addr,
		 (unsigned long long)h->w_len, (unsigned long long)h->w_off, rc);
}

/* The page array of an area of nr pages: the areas it takes (the area's own
 * included) and their pages beyond nr. */
static void array_chain(const struct run *r, uint64_t nr, unsigned *ret_areas, uint64_t *ret_pages)
{
	uint64_t ptr = r->cfg->layout == VM_LAYOUT_I386 ? 4 : 8, pages = 0;
	unsigned areas = 1;

	while (nr * ptr > PAGE) {
		nr = (nr * ptr + PAGE - 1) / PAGE;
		pages += nr;
		areas++;
	}
	*ret_areas = areas;
	*ret_pages = pages;
}

static void op_vfree(struct run *r)
{
	struct handle *h = pick(r, H_VMALLOC);
	struct vm_stats before, after;
	uint64_t array_pages, pages;
	unsigned areas;
	int rc;

	r->op = "vfree";
	if (!h)
		return;
	verify_written(r, h);
	array_chain(r, h->nr_pages, &areas, &array_pages);
	R_ASSERT(r, vm_page_array_pages(r->e, h->nr_pages) == array_pages,
		 "the page array of %llu pages takes %llu pages, not %llu",
		 (unsigned long long)h->nr_pages,
		 (unsigned long long)vm_page_array_pages(r->e, h->nr_pages),
		 (unsigned long long)array_pages);
	pages = h->nr_pages + array_pages;
	before = t_stats(r->e);
	rc = vm_vfree(r->e, h->addr);
	after = t_stats(r->e);
	R_ASSERT(r, rc == 0, "vfree(%#llx) = %d", (unsigned long long)h->addr, rc);
	/* The area and its page array's areas go lazy, unless a purge ran
	 * (4.19: in the call; 6.18: one queued earlier, at its start). */
	R_ASSERT(r, after.vmalloc_pages == before.vmalloc_pages - pages &&
		 after.free_pages == before.free_pages + pages + (before.pagetable_pages - after.pagetable_pages) &&
		 (after.nr_lazy_areas == before.nr_lazy_areas + areas || after.nr_purges > before.nr_purges),
		 "vfree of %llu pages: vmalloc %llu->%llu free %llu->%llu lazy %llu->%llu",
		 (unsigned long long)pages, (unsigned long long)before.vmalloc_pages,
		 (unsigned long long)after.vmalloc_pages, (unsigned long long)before.free_pages,
		 (unsigned long long)after.free_pages, (unsigned long long)before.nr_lazy_areas,
		 (unsigned long long)after.nr_lazy_areas);
	R_ASSERT(r, vm_find_vm_area(r->e, h->addr, NULL) == -ENOENT, "freed area still found");
	drop(r, h);
}

static void op_vrealloc(struct run *r)
{
	struct handle *h = pick(r, H_VMALLOC);
	uint64_t size = random_size(r), naddr = 0;
	gfp_t gfp = t_rand_below(&r->rng, 2) ? GFP_KERNEL | __GFP_ZERO : GFP_KERNEL | __GFP_HIGHMEM;
	struct vm_stats before;
	int rc;

	r->op = "vrealloc";
	if (!h)
		return;
	before = t_stats(r->e);
	rc = vm_vrealloc(r->e, h->addr, size, gfp, &naddr);
	if (rc < 0) {
		expect_unchanged(r, &before, rc);
		verify_written(r, h);
		return;
	}
	r->nr_ok++;
	if (size <= h->nr_pages * PAGE) {
		R_ASSERT(r, naddr == h->addr, "vrealloc within the pages moved %#llx to %#llx",
			 (unsigned long long)h->addr, (unsigned long long)naddr);
		if (size > h->req && (gfp & __GFP_ZERO))
			check_zeroed(r, h->addr + h->req, size - h->req);
	} else {
		uint64_t old = h->req;

		R_ASSERT(r, vm_find_vm_area(r->e, h->addr, NULL) == -ENOENT, "old area still there");
		check_area(r, naddr, page_align(size) / PAGE, page_align(size) + PAGE, VM_ALLOC, r->caller);
		if (gfp & __GFP_ZERO)
			check_zeroed(r, naddr + old, size - old);
		h->addr = naddr;
		h->nr_pages = page_align(size) / PAGE;
		h->prot = PAGE_KERNEL;
	}
	/* Bytes past the smaller of the two sizes are not kept. */
	if (h->w_len && h->w_off + h->w_len > (size < h->req ? size : h->req))
		h->w_len = 0;
	h->req = size;
	verify_written(r, h);
}

static void op_vwrite(struct run *r)
{
	struct handle *h = r->nh ? &r->h[t_rand_below(&r->rng, r->nh)] : NULL;
	uint64_t span, off, len, seed = t_rand(&r->rng);
	int rc;

	r->op = "vwrite";
	if (!h || h->kind == H_PERCPU)
		return;
	span = h->kind == H_VMALLOC ? h->req : h->nr_pages * PAGE;
	len = t_rand_range(&r->rng, 1, span < SCRATCH ? span : SCRATCH);
	off = t_rand_below(&r->rng, span - len + 1);
	t_pattern(r->want, len, seed, off);
	rc = vm_vwrite(r->e, h->addr + off, r->want, len);
	if (!(h->prot & VM_PROT_WRITE)) {
		R_ASSERT(r, rc == -EACCES, "write to a read-only area = %d", rc);
		return;
	}
	if (!R_ASSERT(r, rc == 0, "vwrite(%#llx, %llu) = %d", (unsigned long long)(h->addr + off),
		      (unsigned long long)len, rc))
		return;
	if (h->kind == H_VMALLOC) {
		h->w_off = off;
		h->w_len = len;
		h->w_seed = seed;
		verify_written(r, h);
		return;
	}
	/* vmap, vm_map_ram: the bytes are in the caller's frames; look at
	 * them there (a frame mapped many times holds the last page's). */
	if (h->repeat)
		return;
	for (uint64_t done = 0; done < len && !r->failed;) {
		uint64_t pos = off + done, page = pos / PAGE, in = pos % PAGE;
		uint64_t n = PAGE - in < len - done ? PAGE - in : len - done;
		const struct block *b = &r->b[h->block[page]];

		rc = vm_phys_read(r->e, b->pfn, (h->pfns[page] - b->pfn) * PAGE + in, r->buf, n);
		R_ASSERT(r, rc == 0 && memcmp(r->buf, r->want + done, n) == 0,
			 "vmap page %llu: frame %#llx does not hold what was written (rc %d)",
			 (unsigned long long)page, (unsigned long long)h->pfns[page], rc);
		done += n;
	}
}

static void op_vread(struct run *r)
{
	struct handle *h = pick(r, H_VMALLOC);
	uint8_t byte;
	int rc;

	r->op = "vread";
	if (!h)
		return;
	verify_written(r, h);
	/* One byte past the mapped pages is refused. */
	rc = vm_vread(r->e, h->addr + h->nr_pages * PAGE - 1, &byte, 2);
	R_ASSERT(r, rc == -EFAULT, "read across the end = %d", rc);
}

static void op_alloc_pages(struct run *r)
{
	static const gfp_t pgfps[] = {
		GFP_KERNEL, GFP_KERNEL | __GFP_HIGHMEM, GFP_ATOMIC, GFP_KERNEL | GFP_DMA,
		GFP_KERNEL | __GFP_ZERO, GFP_KERNEL | GFP_DMA32 | __GFP_NOWARN,
	};
	unsigned order = t_rand_below(&r->rng, 8) == 0 ? (unsigned)t_rand_range(&r->rng, 4, 10)
						      : (unsigned)t_rand_below(&r->rng, 4);
	gfp_t gfp = pgfps[t_rand_below(&r->rng, sizeof(pgfps) / sizeof(pgfps[0]))];
	int node = (int)t_rand_below(&r->rng, r->cfg->nodes + 1) - 1;
	struct vm_stats before;
	uint64_t pfn;
	int rc;

	r->op = "alloc_pages";
	if (r->nb == MAX_BLOCKS)
		return;
	before = t_stats(r->e);
	rc = vm_alloc_pages(r->e, gfp, order, node, &pfn);
	if (rc < 0) {
		expect_unchanged(r, &before, rc);
		return;
	}
	r->nr_ok++;
	{
		const struct vm_zone_info *z = t_pfn_zone(&r->zones, pfn);

		R_ASSERT(r, pfn % (1ull << order) == 0 && z && z->type <= gfp_max_zone(r, gfp) &&
			 z->end_pfn - pfn >= (1ull << order),
			 "order %u block at %#llx, zone %s", order, (unsigned long long)pfn,
			 z ? z->name : "none");
	}
	r->b[r->nb].pfn = pfn;
	r->b[r->nb].order = order;
	r->b[r->nb].maps = 0;
	r->nb++;
}

static void op_free_pages(struct run *r)
{
	unsigned i;
	struct block *b;
	int rc;

	r->op = "free_pages";
	if (!r->nb)
		return;
	i = (unsigned)t_rand_below(&r->rng, r->nb);
	b = &r->b[i];
	if (t_rand_below(&r->rng, 8) == 0) {
		/* The wrong order is refused. */
		rc = vm_free_pages(r->e, b->pfn, b->order == 0 ? 1 : b->order - 1);
		R_ASSERT(r, rc == -EINVAL, "free_pages with the wrong order = %d", rc);
		return;
	}
	rc = vm_free_pages(r->e, b->pfn, b->order);
	if (b->maps) {
		R_ASSERT(r, rc == -EBUSY, "free_pages of a block mapped %u times = %d", b->maps, rc);
		return;
	}
	R_ASSERT(r, rc == 0, "free_pages(%#llx, %u) = %d", (unsigned long long)b->pfn, b->order, rc);
	/* Keep the handles' block indices right: move the last block here. */
	*b = r->b[--r->nb];
	for (unsigned k = 0; k < r->nh; k++)
		if (r->h[k].kind == H_VMAP || r->h[k].kind == H_MAPRAM)
			for (unsigned p = 0; p < (r->h[k].repeat ? 1 : r->h[k].nr_pages); p++)
				if (r->h[k].block[p] == r->nb)
					r->h[k].block[p] = i;
}

static void op_vmap(struct run *r)
{
	struct handle *h;
	uint64_t count = t_rand_range(&r->rng, 1, MAX_VMAP_PAGES), addr = 0;
	uint32_t flags = 0, prot = t_rand_below(&r->rng, 4) == 0 ? PAGE_KERNEL_RO : PAGE_KERNEL;
	struct vm_stats before;
	int rc;

	r->op = "vmap";
	if (!r->nb || r->nh == MAX_HANDLES)
		return;
	h = &r->h[r->nh];
	memset(h, 0, sizeof(*h));
	/* Distinct frames, so each page's bytes have one place to be. */
	for (uint64_t i = 0; i < count; i++) {
		unsigned bi = 0, tries;
		uint64_t pfn = 0;
		bool dup = true;

		for (tries = 0; tries < 8 && dup; tries++) {
			bi = (unsigned)t_rand_below(&r->rng, r->nb);
			pfn = r->b[bi].pfn + t_rand_below(&r->rng, 1ull << r->b[bi].order);
			dup = false;
			for (uint64_t k = 0; k < i; k++)
				dup |= h->pfns[k] == pfn;
		}
		if (dup) {
			count = i;
			break;
		}
		h->block[i] = bi;
		h->pfns[i] = pfn;
	}
	if (!count)
		return;
	if (t_rand_below(&r->rng, 4) == 0)
		flags |= VM_NO_GUARD;
	if (t_rand_below(&r->rng, 4) == 0)
		flags |= VM_USERMAP;
	before = t_stats(r->e);
	rc = vm_vmap(r->e, h->pfns, count, flags, prot, &addr);
	if (rc < 0) {
		expect_unchanged(r, &before, rc);
		return;
	}
	/* 6.18's vmap() drops VM_NO_GUARD. */
	if (r->cfg->kernel == VM_KERNEL_6_18)
		flags &= ~VM_NO_GUARD;
	r->nr_ok++;
	check_area(r, addr, count, count * PAGE + (flags & VM_NO_GUARD ? 0 : PAGE), VM_MAP | flags,
		   r->caller);
	for (uint64_t i = 0; i < count && !r->failed; i++) {
		uint64_t pfn;

		rc = vm_vmalloc_to_pfn(r->e, addr + i * PAGE, &pfn);
		R_ASSERT(r, rc == 0 && pfn == h->pfns[i], "vmap page %llu maps %#llx, not %#llx",
			 (unsigned long long)i, (unsigned long long)pfn, (unsigned long long)h->pfns[i]);
		r->b[h->block[i]].maps++;
	}
	h->kind = H_VMAP;
	h->addr = addr;
	h->nr_pages = count;
	h->prot = prot;
	r->nh++;
}

static void op_vunmap(struct run *r)
{
	struct handle *h = pick(r, H_VMAP);
	int rc;

	r->op = "vunmap";
	if (!h)
		return;
	rc = vm_vunmap(r->e, h->addr);
	R_ASSERT(r, rc == 0, "vunmap(%#llx) = %d", (unsigned long long)h->addr, rc);
	for (unsigned p = 0; p < h->nr_pages; p++)
		r->b[h->block[p]].maps--;
	drop(r, h);
}

static void op_purge(struct run *r)
{
	struct vm_stats st;

	r->op = "purge";
	vm_purge(r->e);
	st = t_stats(r->e);
	R_ASSERT(r, st.nr_lazy_areas == 0 && st.lazy_pages == 0, "%llu lazy areas after a purge",
		 (unsigned long long)st.nr_lazy_areas);
}

/* ---- vm_map_ram, per-CPU objects, kvfree_rcu (the objects configurations) ------------------ */

static void op_map_ram(struct run *r)
{
	uint64_t max = r->cfg->layout == VM_LAYOUT_I386 ? 32 : 64, count, addr = 0, start, n;
	uint64_t pfns[72];
	struct vm_stats before;
	struct handle *h;
	int rc;

	r->op = "vm_map_ram";
	if (!r->nb || r->nh == MAX_HANDLES)
		return;
	h = &r->h[r->nh];
	memset(h, 0, sizeof(*h));
	if (t_rand_below(&r->rng, 6) == 0) {
		/* More than a block serves: one frame, many times. */
		unsigned bi = (unsigned)t_rand_below(&r->rng, r->nb);

		count = t_rand_range(&r->rng, max + 1, max + 8);
		h->repeat = true;
		h->block[0] = bi;
		h->pfns[0] = r->b[bi].pfn + t_rand_below(&r->rng, 1ull << r->b[bi].order);
		for (uint64_t i = 0; i < count; i++)
			pfns[i] = h->pfns[0];
	} else {
		/* Distinct frames, so each page's bytes have one place to be. */
		count = t_rand_range(&r->rng, 1, MAX_VMAP_PAGES);
		for (uint64_t i = 0; i < count; i++) {
			unsigned bi = 0;
			bool dup = true;

			for (unsigned tries = 0; tries < 8 && dup; tries++) {
				bi = (unsigned)t_rand_below(&r->rng, r->nb);
				pfns[i] = r->b[bi].pfn + t_rand_below(&r->rng, 1ull << r->b[bi].order);
				dup = false;
				for (uint64_t k = 0; k < i; k++)
					dup |= pfns[k] == pfns[i];
			}
			if (dup) {
				count = i;
				break;
			}
			h->block[i] = bi;
			h->pfns[i] = pfns[i];
		}
		if (!count)
			return;
	}
	before = t_stats(r->e);
	rc = vm_map_ram(r->e, pfns, count, NUMA_NO_NODE, &addr);
	if (rc < 0) {
		expect_unchanged(r, &before, rc);
		return;
	}
	r->nr_ok++;
	R_ASSERT(r, vm_is_map_ram_addr(r->e, addr + (count - 1) * PAGE, &start, &n) && start == addr &&
		 n == count, "vm_map_ram %#llx of %llu pages: not found as such",
		 (unsigned long long)addr, (unsigned long long)count);
	R_ASSERT(r, vm_find_vm_area(r->e, addr, NULL) == -ENOENT, "vm_map_ram %#llx has a vm_struct",
		 (unsigned long long)addr);
	for (uint64_t i = 0; i < count && !r->failed; i++) {
		uint64_t pfn;

		rc = vm_vmalloc_to_pfn(r->e, addr + i * PAGE, &pfn);
		R_ASSERT(r, rc == 0 && pfn == pfns[i], "vm_map_ram page %llu maps %#llx, not %#llx",
			 (unsigned long long)i, (unsigned long long)pfn, (unsigned long long)pfns[i]);
	}
	if (h->repeat)
		r->b[h->block[0]].maps += (unsigned)count;
	else
		for (uint64_t i = 0; i < count; i++)
			r->b[h->block[i]].maps++;
	h->kind = H_MAPRAM;
	h->addr = addr;
	h->nr_pages = count;
	h->prot = PAGE_KERNEL;
	r->nh++;
}

static void unmap_ram(struct run *r, struct handle *h)
{
	int rc = vm_unmap_ram(r->e, h->addr, h->nr_pages);

	R_ASSERT(r, rc == 0, "vm_unmap_ram(%#llx, %llu) = %d", (unsigned long long)h->addr,
		 (unsigned long long)h->nr_pages, rc);
	if (h->repeat)
		r->b[h->block[0]].maps -= (unsigned)h->nr_pages;
	else
		for (unsigned p = 0; p < h->nr_pages; p++)
			r->b[h->block[p]].maps--;
}

static void op_unmap_ram(struct run *r)
{
	struct handle *h = pick(r, H_MAPRAM);
	int rc;

	r->op = "vm_unmap_ram";
	if (!h)
		return;
	/* Another count names no mapping. */
	rc = vm_unmap_ram(r->e, h->addr, h->nr_pages + 1 + t_rand_below(&r->rng, 3));
	R_ASSERT(r, rc == -EINVAL, "vm_unmap_ram with a wrong count = %d", rc);
	unmap_ram(r, h);
	drop(r, h);
}

/* Each CPU's copy of a per-CPU object holds t_pattern(seed + cpu). */
static void pcpu_pattern(struct run *r, const struct handle *h, bool write)
{
	for (unsigned cpu = 0; cpu < r->cfg->cpus && !r->failed; cpu++) {
		uint64_t at;
		int rc = vm_per_cpu_ptr(r->e, h->addr, cpu, &at);

		if (!R_ASSERT(r, rc == 0, "per_cpu_ptr(%#llx, %u) = %d", (unsigned long long)h->addr,
			      cpu, rc))
			return;
		t_pattern(r->want, h->pcpu_size, h->w_seed + cpu, 0);
		if (write) {
			rc = vm_vwrite(r->e, at, r->want, h->pcpu_size);
			R_ASSERT(r, rc == 0, "writing CPU %u's copy = %d", cpu, rc);
			continue;
		}
		rc = vm_vread(r->e, at, r->buf, h->pcpu_size);
		R_ASSERT(r, rc == 0 && memcmp(r->buf, r->want, h->pcpu_size) == 0,
			 "per-CPU object %#llx: CPU %u's copy read back wrong (rc %d)",
			 (unsigned long long)h->addr, cpu, rc);
	}
}

static void op_alloc_percpu(struct run *r)
{
	uint64_t size = t_rand_below(&r->rng, 8) == 0 ? t_rand_range(&r->rng, 4096, SCRATCH) :
			t_rand_range(&r->rng, 1, 1024);
	uint64_t align = 1ull << t_rand_range(&r->rng, 1, 12), ptr = 0, sz;
	struct vm_stats before;
	struct handle *h;
	int rc;

	r->op = "alloc_percpu";
	if (r->nh == MAX_HANDLES)
		return;
	before = t_stats(r->e);
	rc = vm_alloc_percpu(r->e, size, align, &ptr);
	if (rc < 0) {
		expect_unchanged(r, &before, rc);
		return;
	}
	r->nr_ok++;
	R_ASSERT(r, ptr % align == 0 && vm_percpu_size(r->e, ptr, &sz) == 0 && sz == ((size + 3) & ~3ull),
		 "per-CPU object %#llx of %llu bytes aligned to %llu", (unsigned long long)ptr,
		 (unsigned long long)size, (unsigned long long)align);
	h = &r->h[r->nh++];
	memset(h, 0, sizeof(*h));
	h->kind = H_PERCPU;
	h->addr = ptr;
	h->pcpu_size = size;
	/* Zeroed in every CPU's copy. */
	for (unsigned cpu = 0; cpu < r->cfg->cpus && !r->failed; cpu++) {
		uint64_t at, nz = 0;

		rc = vm_per_cpu_ptr(r->e, ptr, cpu, &at);
		if (rc == 0)
			rc = vm_vread(r->e, at, r->buf, size);
		for (uint64_t k = 0; rc == 0 && k < size; k++)
			nz += r->buf[k] != 0;
		R_ASSERT(r, rc == 0 && nz == 0, "per-CPU object %#llx, CPU %u: rc %d, %llu non-zero bytes",
			 (unsigned long long)ptr, cpu, rc, (unsigned long long)nz);
	}
	h->w_seed = t_rand(&r->rng);
	pcpu_pattern(r, h, true);
}

static void op_free_percpu(struct run *r)
{
	struct handle *h = pick(r, H_PERCPU);
	int rc;

	r->op = "free_percpu";
	if (!h)
		return;
	pcpu_pattern(r, h, false);
	rc = vm_free_percpu(r->e, h->addr);
	R_ASSERT(r, rc == 0, "free_percpu(%#llx) = %d", (unsigned long long)h->addr, rc);
	rc = vm_free_percpu(r->e, h->addr);
	R_ASSERT(r, rc == -EINVAL, "free_percpu twice = %d", rc);
	drop(r, h);
}

static void op_kvfree_rcu(struct run *r)
{
	struct handle *h = pick(r, H_VMALLOC);
	int rc;

	r->op = "kvfree_rcu";
	if (!h)
		return;
	verify_written(r, h);
	rc = vm_kvfree_rcu(r->e, h->addr, t_rand_below(&r->rng, 2));
	if (r->cfg->kernel == K419) {
		R_ASSERT(r, rc == -EOPNOTSUPP, "4.19 kvfree_rcu = %d", rc);
		return;
	}
	R_ASSERT(r, rc == 0, "kvfree_rcu(%#llx) = %d", (unsigned long long)h->addr, rc);
	rc = vm_vfree(r->e, h->addr);
	R_ASSERT(r, rc == -EINVAL || !vm_find_vm_area(r->e, h->addr, NULL),
		 "vfree after kvfree_rcu = %d", rc);
	drop(r, h);
}

static void op_objects(struct run *r)
{
	unsigned x = (unsigned)t_rand_below(&r->rng, 100);

	if (x < (r->draining ? 10 : 22))
		op_map_ram(r);
	else if (x < 40)
		op_unmap_ram(r);
	else if (x < (r->draining ? 48 : 60))
		op_alloc_percpu(r);
	else if (x < 80)
		op_free_percpu(r);
	else if (x < 92)
		op_kvfree_rcu(r);
	else {
		r->op = "deferred work";
		vm_run_deferred_work(r->e);
	}
}

/* ---- the run ------------------------------------------------------------------------- */

static void step(struct run *r)
{
	/* Phases: fill until the machine refuses a few requests (or the
	 * handle table is full), then drain to a few areas, and again.  Each
	 * cycle runs out of memory and merges everything back, while keeping
	 * fewer pages mapped on average than a machine kept full would. */
	unsigned x = (unsigned)t_rand_below(&r->rng, 100);
	unsigned alloc = r->draining ? 14 : 34;

	/* The per-CPU balance and kvfree_rcu's drain change frames and areas
	 * as they run (at the start of the next call): let them run first,
	 * so that each call's own effect is what the checks see. */
	if (r->cfg->objects)
		vm_run_due_work(r->e);

	if (!r->draining && (r->phase_enomem >= 4 || r->nh == MAX_HANDLES)) {
		r->draining = true;
		r->nr_phases++;
	} else if (r->draining && r->nh <= 2) {
		r->draining = false;
		r->phase_enomem = 0;
	}
	if (r->nh == MAX_HANDLES) {
		/* Full: free something, whichever kind there is. */
		unsigned before = r->nh;

		if (x < 50)
			op_vfree(r);
		if (r->nh == before)
			op_vunmap(r);
		if (r->nh == before)
			op_unmap_ram(r);
		if (r->nh == before)
			op_free_percpu(r);
		if (r->nh == before)
			op_vfree(r);
		return;
	}
	if (r->cfg->objects && t_rand_below(&r->rng, 4) == 0)
		op_objects(r);
	else if (x < alloc || r->nh == 0)
		op_alloc(r);
	else if (x < 48)
		op_vfree(r);
	else if (x < 54)
		op_vrealloc(r);
	else if (x < 59)
		op_vmap(r);
	else if (x < 64)
		op_vunmap(r);
	else if (x < 72)
		op_alloc_pages(r);
	else if (x < 80)
		op_free_pages(r);
	else if (x < 89)
		op_vwrite(r);
	else if (x < 98)
		op_vread(r);
	else
		op_purge(r);
}

/* Everything the objects' allocators still hold once their objects are
 * gone: the kvfree_rcu batches (the timer), the vmap blocks with nothing
 * mapped (the purge of a KVA search that fails: a 1-page request in a
 * 1-page window), the lazy ranges. */
static void objects_teardown(struct run *r)
{
	struct vm_alloc_req req = {
		.size = PAGE, .align = PAGE, .gfp = GFP_KERNEL | __GFP_NOWARN, .prot = PAGE_KERNEL,
		.node = NUMA_NO_NODE, .start = r->vs, .end = r->vs + PAGE,
	};
	uint64_t addr;

	r->op = "objects teardown";
	vm_run_deferred_work(r->e);
	R_ASSERT(r, vm___vmalloc_node_range(r->e, &req, &addr) == -ENOMEM,
		 "a 1-page vmalloc fitted a 1-page window");
	vm_run_deferred_work(r->e);
}

static int sum_percpu_areas(void *ctx, const struct vm_area_info *info)
{
	if (info->flags & VM_PERCPU)
		*(uint64_t *)ctx += info->nr_pages + info->nr_array_pages;
	return 0;
}

/* Freed and purged, the machine is as it was but for the page tables made
 * meanwhile and the one spare per-CPU chunk the kernel keeps: its pages
 * and the vmalloc'd maps, which vmallocinfo lists and nothing else. */
static void objects_restored(struct run *r, const struct vm_stats *a)
{
	struct vm_stats b = t_stats(r->e);
	uint64_t maps = 0;
	char *vmi = t_vmallocinfo(r->e);
	unsigned other = 0;

	vm_for_each_area(r->e, sum_percpu_areas, &maps);
	for (const char *l = vmi; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		bool ours = false;

		for (const char *p = l; p + 6 <= l + n && !ours; p++)
			ours = memcmp(p, " pcpu_", 6) == 0;
		other += !ours;
		l += n + (nl != NULL);
	}
	free(vmi);
	R_ASSERT(r, other == 0, "%u vmallocinfo lines besides the per-CPU allocator's", other);
	R_ASSERT(r, b.nr_pcpu_objects == 0 && b.nr_pcpu_chunks <= 1 && b.nr_vmap_blocks == 0 &&
		 b.map_ram_pages == 0 && b.nr_kvfree_rcu == 0 && b.nr_lazy_areas == 0 &&
		 b.vmap_pages == 0 && b.vmalloc_pages == maps,
		 "left: %llu per-CPU objects, %llu chunks, %llu blocks, %llu mapped, %llu kvfree_rcu, "
		 "%llu lazy, %llu vmalloc pages (%llu of maps)", (unsigned long long)b.nr_pcpu_objects,
		 (unsigned long long)b.nr_pcpu_chunks, (unsigned long long)b.nr_vmap_blocks,
		 (unsigned long long)b.map_ram_pages, (unsigned long long)b.nr_kvfree_rcu,
		 (unsigned long long)b.nr_lazy_areas, (unsigned long long)b.vmalloc_pages,
		 (unsigned long long)maps);
	R_ASSERT(r, b.free_pages + (b.pagetable_pages - a->pagetable_pages) + b.percpu_pages + maps ==
		 a->free_pages, "free pages %llu, then %llu: %llu page-table, %llu per-CPU and %llu map "
		 "pages between", (unsigned long long)a->free_pages, (unsigned long long)b.free_pages,
		 (unsigned long long)(b.pagetable_pages - a->pagetable_pages),
		 (unsigned long long)b.percpu_pages, (unsigned long long)maps);
}

/* The engine's log: the first "vmalloc bug: ..." it reported, which names
 * the call after which the checker failed (debug level 2). */
static void random_log(void *ctx, int level, const char *msg)
{
	struct run *r = ctx;

	if (level == VM_LOG_ERR && !r->bug[0] && strncmp(msg, "vmalloc bug", 11) == 0)
		snprintf(r->bug, sizeof(r->bug), "%s", msg);
}

/* The engine is whole.  At debug level 2 (how this suite is linked) the
 * engine ran vm_check() after every call of the step and counted what it
 * found in nr_bugs, so running it here again would only double the cost;
 * it runs here too at a lower level, and at the end (full). */
static void check_now(struct run *r, bool full)
{
	char msg[512];

	R_ASSERT(r, t_stats(r->e).nr_bugs == 0, "%llu bug(s) reported by the graded checks, the first: %s",
		 (unsigned long long)t_stats(r->e).nr_bugs, r->bug);
	if (full || vm_debug_level() < 2) {
		int rc = vm_check(r->e, msg, sizeof(msg));

		R_ASSERT(r, rc == 0, "vm_check: %s", msg);
	}
}

static void run_config(const struct rcfg *cfg)
{
	struct run *r = calloc(1, sizeof(*r));
	struct vm_config vc;
	struct vm_stats start_stats;
	struct t_snap start;
	uint64_t ops;
	char *vmi;

	CU_ASSERT_FATAL(r != NULL);
	r->cfg = cfg;
	r->seed = t_env_u64("VMTEST_SEED", cfg->seed);
	ops = t_env_u64("VMTEST_OPS", cfg->ops);
	r->buf = malloc(SCRATCH);
	r->want = malloc(SCRATCH);
	CU_ASSERT_FATAL(r->buf && r->want);
	t_rng_seed(&r->rng, r->seed);
	vm_config_init(&vc);
	vc.memory_bytes = cfg->memory;
	vc.kernel = cfg->kernel;
	vc.nr_cpus = cfg->cpus;
	vc.nr_nodes = cfg->nodes;
	vc.layout = cfg->layout;
	vc.lazy_max_pages = cfg->lazy_max_pages;
	vc.page_policy = cfg->policy;
	vc.init_on_free = cfg->init_on_free;
	vc.log = random_log;
	vc.log_ctx = r;
	r->e = t_machine_cfg(&vc);
	if (!r->e)
		goto out;
	t_zones(r->e, &r->zones);
	{
		struct vm_stats st;

		st = t_stats(r->e);
		r->vs = st.vmalloc_start;
		r->ve = st.vmalloc_end;
	}
	t_snap_take(r->e, &start);
	start_stats = t_stats(r->e);
	printf("\n%s: %llu steps, seed %#llx\n", cfg->name, (unsigned long long)ops,
	       (unsigned long long)r->seed);

	for (r->step = 0; r->step < ops && !r->failed; r->step++) {
		step(r);
		if (t_stats(r->e).nr_pooled_areas > r->max_pooled)
			r->max_pooled = t_stats(r->e).nr_pooled_areas;
		if (vm_debug_level() >= 2 || r->step % cfg->check_every == 0 || r->failed)
			check_now(r, false);
		if (r->step % 1024 == 0)
			for (unsigned i = 0; i < r->nh; i++)
				verify_written(r, &r->h[i]);
	}
	/* Enough of both outcomes to have tested something. */
	R_ASSERT(r, r->failed || (r->nr_ok > ops / 10 && r->nr_enomem > 0),
		 "%llu successes and %llu ENOMEM failures in %llu steps", (unsigned long long)r->nr_ok,
		 (unsigned long long)r->nr_enomem, (unsigned long long)ops);
	printf("%s: %llu successful allocations, %llu refused for want of memory or space, %llu fill/drain cycles, "
	       "at most %llu ranges pooled\n", cfg->name, (unsigned long long)r->nr_ok,
	       (unsigned long long)r->nr_enomem, (unsigned long long)r->nr_phases,
	       (unsigned long long)r->max_pooled);

	/* Give everything back: the machine is as it was. */
	r->op = "teardown";
	for (unsigned i = 0; i < r->nh; i++)
		verify_written(r, &r->h[i]);
	while (r->nh && !r->failed) {
		struct handle *h = &r->h[r->nh - 1];
		int rc = 0;

		if (h->kind == H_MAPRAM) {
			unmap_ram(r, h);
		} else if (h->kind == H_PERCPU) {
			pcpu_pattern(r, h, false);
			rc = vm_free_percpu(r->e, h->addr);
		} else {
			rc = h->kind == H_VMALLOC ? vm_vfree(r->e, h->addr) : vm_vunmap(r->e, h->addr);
		}
		R_ASSERT(r, rc == 0, "freeing %#llx = %d", (unsigned long long)h->addr, rc);
		if (h->kind == H_VMAP)
			for (unsigned p = 0; p < h->nr_pages; p++)
				r->b[h->block[p]].maps--;
		r->nh--;
	}
	while (r->nb && !r->failed) {
		int rc = vm_free_pages(r->e, r->b[r->nb - 1].pfn, r->b[r->nb - 1].order);

		R_ASSERT(r, rc == 0, "free_pages at teardown = %d", rc);
		r->nb--;
	}
	if (cfg->objects)
		objects_teardown(r);
	vm_purge(r->e);
	if (!r->failed && cfg->objects) {
		check_now(r, true);
		objects_restored(r, &start_stats);
	} else if (!r->failed) {
		check_now(r, true);
		vmi = t_vmallocinfo(r->e);
		CU_ASSERT_STRING_EQUAL(vmi ? vmi : "?", "");
		free(vmi);
		T_SNAP_RESTORED(r->e, &start);
	}
	t_snap_free(&start);
	vm_engine_destroy(r->e);
out:
	free(r->buf);
	free(r->want);
	free(r);
}

static const char *only;

static void test_random(void)
{
	for (unsigned i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
		if (!only || strcmp(only, configs[i].name) == 0)
			run_config(&configs[i]);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "random", test_random },
		{ NULL, NULL },
	};
	char *args[] = { argv[0], NULL };

	if (argc > 1) {
		for (unsigned i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
			if (strcmp(argv[1], configs[i].name) == 0)
				only = configs[i].name;
		if (!only) {
			fprintf(stderr, "test_random: no configuration '%s'\n", argv[1]);
			return 2;
		}
	}
	return t_main("random", cases, 1, args);
}
