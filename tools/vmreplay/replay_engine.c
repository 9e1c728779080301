/* replay_engine.c -- the replay's backend over an in-process engine: each
 * call of struct vt_backend is one call of vmcore.h (a KVA hold is a vmap of
 * one shared frame), and the machine's state comes from vm_get_stats(),
 * vm_for_each_zone() and the fragmentation indices, so it says what
 * vmallocinfo, meminfo and buddyinfo would.  vmallocd's own backend in
 * vmctl makes the same calls through the protocol, so the two replays leave
 * the same machine.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
	struct vm_engine *e = ((struct vr_engine *)ctx)->e;
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
	return vm_vfree(((struct vr_engine *)ctx)->e, addr);
}

static int eng_realloc(void *ctx, uint64_t addr, uint64_t size, uint32_t gfp, uint64_t *ret_addr)
{
	return vm_vrealloc(((struct vr_engine *)ctx)->e, addr, size, gfp & GFP_VALID_MASK, ret_addr);
}

static int eng_alloc_pages(void *ctx, uint32_t gfp, unsigned order, int node, uint64_t *ret_pfn)
{
	struct vm_engine *e = ((struct vr_engine *)ctx)->e;

	return vm_alloc_pages(e, gfp & GFP_VALID_MASK, order, node_of(e, node), ret_pfn);
}

static int eng_free_pages(void *ctx, uint64_t pfn, unsigned order)
{
	return vm_free_pages(((struct vr_engine *)ctx)->e, pfn, order);
}

static int eng_set_cpu(void *ctx, unsigned cpu)
{
	return vm_set_current_cpu(((struct vr_engine *)ctx)->e, cpu);
}

static int eng_purge(void *ctx)
{
	vm_purge(((struct vr_engine *)ctx)->e);
	return 0;
}

/* KVA held without pages of its own: kva_pages - 1 mappings of the shared
 * frame (the guard page is the rest), a new frame when this one would be
 * mapped more than VR_FRAME_MAPS times. */
static int eng_reserve(void *ctx, uint64_t kva_pages, uint64_t *ret_addr)
{
	struct vr_engine *x = ctx;
	uint64_t n = kva_pages - 1, *pfns;
	int r;

	if (kva_pages < 2 || n > VR_FRAME_MAPS)
		return -EINVAL;
	if (!x->frame_maps || x->frame_maps + n > VR_FRAME_MAPS) {
		r = vm_alloc_pages(x->e, GFP_KERNEL, 0, NUMA_NO_NODE, &x->frame);
		if (r < 0)
			return r;
		x->frame_maps = 0;
	}
	pfns = malloc(n * sizeof(*pfns));
	if (!pfns)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		pfns[i] = x->frame;
	r = vm_vmap(x->e, pfns, n, 0, PAGE_KERNEL, ret_addr);
	free(pfns);
	if (r == 0)
		x->frame_maps += n;
	return r;
}

static int eng_unreserve(void *ctx, uint64_t addr)
{
	return vm_vunmap(((struct vr_engine *)ctx)->e, addr);
}

/* Lazily freed KVA at the top of the range, where first fit looks last
 * (vt_seed_next says how, for every backend alike). */
static int eng_seed_lazy(void *ctx, uint64_t pages)
{
	struct vm_engine *e = ((struct vr_engine *)ctx)->e;
	struct vt_alloc_req q;
	struct vm_stats s;
	uint64_t left = pages, addr;
	int r;

	vm_get_stats(e, &s);
	while ((r = vt_seed_next(s.vmalloc_start, s.vmalloc_end, pages, &left, &q)) == 1) {
		r = eng_alloc(ctx, &q, &addr);
		if (r == 0)
			r = vm_vfree(e, addr);
		if (r < 0)
			return r;
	}
	return r;
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
	struct vm_engine *e = ((struct vr_engine *)ctx)->e;
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
	m->pooled_pages = s.pooled_pages;
	m->nr_cpus = s.nr_cpus;
	m->nr_vmap_nodes = s.nr_vmap_nodes;
	vm_for_each_area(e, highest_end, &end);
	m->kva_extent = end > s.vmalloc_start ? end - s.vmalloc_start : 0;
	m->nr_zones = 0;
	if (with_zones) {
		struct zones_ctx zc = { m };

		vm_for_each_zone(e, add_zone, &zc);
	}
	return 0;
}

void vr_backend_engine(struct vt_backend *b, struct vr_engine *ctx, struct vm_engine *e)
{
	memset(b, 0, sizeof(*b));
	memset(ctx, 0, sizeof(*ctx));
	ctx->e = e;
	b->ctx = ctx;
	b->set_cpu = eng_set_cpu;
	b->purge = eng_purge;
	b->reserve = eng_reserve;
	b->unreserve = eng_unreserve;
	b->alloc = eng_alloc;
	b->free = eng_free;
	b->realloc = eng_realloc;
	b->alloc_pages = eng_alloc_pages;
	b->free_pages = eng_free_pages;
	b->seed_lazy = eng_seed_lazy;
	b->state = eng_state;
}
