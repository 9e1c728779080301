/* replay_engine.c -- the replay's backend over an in-process engine: each
 * call of struct vt_backend is one call of vmcore.h, and the machine's state
 * comes from vm_get_stats(), vm_for_each_zone() and the fragmentation
 * indices, so it says what vmallocinfo, meminfo and buddyinfo would.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "replay_engine.h"

static int node_of(struct vm_engine *e, int node)
{
	struct vm_stats s;

	if (node < 0)
		return NUMA_NO_NODE;
	vm_get_stats(e, &s);
	/* A node the traced machine had and this one lacks: any node. */
	return (unsigned)node < s.nr_nodes ? node : NUMA_NO_NODE;
}

static int eng_alloc(void *ctx, const struct vt_alloc_req *q, uint64_t *ret_addr)
{
	struct vm_engine *e = ctx;
	struct vm_alloc_req req = {
		.size = q->size,
		.align = q->align,
		.start = q->start,
		.end = q->end,
		.gfp = q->gfp & GFP_VALID_MASK,
		.prot = PAGE_KERNEL,
		.vm_flags = q->vm_flags & VM_FLAGS_CALLER_MASK,
		.node = q->node < 0 ? NUMA_NO_NODE : node_of(e, q->node),
		.caller = q->caller,
	};

	return vm___vmalloc_node_range(e, &req, ret_addr);
}

static int eng_free(void *ctx, uint64_t addr)
{
	return vm_vfree(ctx, addr);
}

static int eng_realloc(void *ctx, uint64_t addr, uint64_t size, uint32_t gfp, uint64_t *ret_addr)
{
	return vm_vrealloc(ctx, addr, size, gfp & GFP_VALID_MASK, ret_addr);
}

static int eng_alloc_pages(void *ctx, uint32_t gfp, unsigned order, int node, uint64_t *ret_pfn)
{
	struct vm_engine *e = ctx;

	return vm_alloc_pages(e, gfp & GFP_VALID_MASK, order, node_of(e, node), ret_pfn);
}

static int eng_free_pages(void *ctx, uint64_t pfn, unsigned order)
{
	return vm_free_pages(ctx, pfn, order);
}

/* Lazily freed KVA at the top of the range, where first fit looks last:
 * vmallocs freed at once, each of at most SEED_CHUNK pages of KVA (guard
 * included), so that its page array fits in one page and is not an area of
 * its own (6.18 vmallocs a larger one): the pages seeded are exactly the KVA
 * pages asked for. */
#define SEED_CHUNK 512

static int eng_seed_lazy(void *ctx, uint64_t pages)
{
	struct vm_engine *e = ctx;
	struct vm_stats s;
	struct vm_alloc_req req = {
		.gfp = GFP_KERNEL | __GFP_NOWARN,
		.prot = PAGE_KERNEL,
		.node = NUMA_NO_NODE,
		.caller = "vmreplay_warm",
	};
	uint64_t addr;
	int r;

	vm_get_stats(e, &s);
	if (pages > (s.vmalloc_end - s.vmalloc_start) >> VM_PAGE_SHIFT)
		return -ERANGE;
	/* vmalloc_end may be the range's last byte (x86_64's 0x...ffff): round
	 * the window's start down to a page. */
	req.start = (s.vmalloc_end - (pages << VM_PAGE_SHIFT)) & ~(VM_PAGE_SIZE - 1);
	req.end = s.vmalloc_end;
	while (pages >= 2) {
		uint64_t n = pages < SEED_CHUNK ? pages : SEED_CHUNK;

		/* Never leave a single page: it could not hold an area. */
		if (pages - n == 1)
			n--;
		req.size = (n - 1) << VM_PAGE_SHIFT;
		r = vm___vmalloc_node_range(e, &req, &addr);
		if (r < 0)
			return r;
		r = vm_vfree(e, addr);
		if (r < 0)
			return r;
		pages -= n;
	}
	return 0;
}

static int highest_end(void *ctx, const struct vm_area_info *a)
{
	uint64_t *end = ctx;

	if (a->addr + a->size > *end)
		*end = a->addr + a->size;
	return 0;
}

struct zones_ctx {
	struct vt_machine_state *m;
};

static int add_zone(void *ctx, const struct vm_zone_info *z)
{
	struct vt_machine_state *m = ((struct zones_ctx *)ctx)->m;
	struct vt_zone_state *zs;

	if (m->nr_zones == VT_MAX_ZONES)
		return 1;
	zs = &m->zones[m->nr_zones++];
	zs->node = z->node;
	snprintf(zs->name, sizeof(zs->name), "%s", z->name);
	zs->managed = z->managed;
	zs->free = z->free;
	for (unsigned o = 0; o < VT_NR_ORDERS; o++) {
		zs->nr_free[o] = z->nr_free[o];
		vm_unusable_index(z, o, &zs->unusable[o]);
		vm_extfrag_index(z, o, &zs->extfrag[o]);
	}
	return 0;
}

static int eng_state(void *ctx, bool with_zones, struct vt_machine_state *m)
{
	struct vm_engine *e = ctx;
	struct vm_stats s;
	uint64_t end = 0;

	vm_get_stats(e, &s);
	m->vmalloc_start = s.vmalloc_start;
	m->vmalloc_end = s.vmalloc_end;
	m->total_pages = s.total_pages;
	m->free_pages = s.free_pages;
	m->vmalloc_pages = s.vmalloc_pages;
	m->pagetable_pages = s.pagetable_pages;
	m->largest_free_kva = s.largest_free_kva;
	m->lazy_pages = s.lazy_pages;
	m->lazy_max_pages = s.lazy_max_pages;
	m->nr_purges = s.nr_purges;
	m->nr_tlb_flushes = s.nr_tlb_flushes;
	vm_for_each_area(e, highest_end, &end);
	m->kva_extent = end > s.vmalloc_start ? end - s.vmalloc_start : 0;
	m->nr_zones = 0;
	if (with_zones) {
		struct zones_ctx zc = { m };

		vm_for_each_zone(e, add_zone, &zc);
	}
	return 0;
}

void vr_backend_engine(struct vt_backend *b, struct vm_engine *e)
{
	memset(b, 0, sizeof(*b));
	b->ctx = e;
	b->alloc = eng_alloc;
	b->free = eng_free;
	b->realloc = eng_realloc;
	b->alloc_pages = eng_alloc_pages;
	b->free_pages = eng_free_pages;
	b->seed_lazy = eng_seed_lazy;
	b->state = eng_state;
}
