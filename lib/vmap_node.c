/* vmap_node.c -- 6.18's KVA allocator: the augmented free tree
 * (free_vmap_area.c) behind per-CPU vmap nodes (mm/vmalloc.c, 6.9+).
 *
 * A machine of N CPUs has min(N, 128) vmap nodes on a 64-bit layout, one
 * otherwise (vmap_init_nodes()).  With more than one:
 *   - an allocation over the whole vmalloc range on CPU c first asks node
 *     c % N's pool of exactly its size (node_alloc()); a pool hands out
 *     its most recently purged range if that is aligned as asked, and
 *     otherwise sends it to the back of the pool and falls back to the
 *     free tree.  Either way the range is tagged with node c % N;
 *   - vfree puts a range on the lazy list of the node it is tagged with
 *     (else of addr_to_node(), 64 KiB stripes over the nodes);
 *   - a purge (__purge_vmap_area_lazy) first decays a quarter of every
 *     pool back to the free tree, then moves each node's lazy ranges, in
 *     address order, to the head of that node's pool of their size (up to
 *     MAX_VA_SIZE_PAGES pages, guard page included) or, when untagged or
 *     bigger, to the free tree.  The pools therefore hand back the highest
 *     address first.  The purge after a failed allocation decays the pools
 *     completely and sends every lazy range to the free tree.
 * With one node there are no pools: lazy ranges go back to the free tree.
 *
 * When a purge runs is the kernel's business (e->k->purge_timing): 6.18
 * queues drain_vmap_work from the vfree that crosses lazy_max_pages.
 *
 * Invariants: every lazy range is on exactly one node's lazy list, the one
 * its tag (or its address) names; a pooled range of i + 1 pages is in
 * pool[i] of the node it is tagged with; pool lengths, nr_pooled and
 * pooled_pages count them; free ∪ busy ∪ lazy ∪ pooled tiles the range.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "vm-internal.h"
#include "vmap_busy.h"

#define VMAP_ZONE_PAGES   16    /* vmap_zone_size: the address stripe of a node */
#define MAX_VMAP_NODES    128
/* A vmap_area's node tag (id + 1) << VA_VN_SHIFT lives in its 32-bit flags. */
_Static_assert(((uint64_t)MAX_VMAP_NODES << VA_VN_SHIFT) <= UINT32_MAX,
	       "vmap node tags do not fit vmap_area.flags");

static inline unsigned va_node_tag(const struct vmap_area *va)
{
	return va->flags >> VA_VN_SHIFT;     /* id + 1, 0 for none */
}

unsigned vmi_addr_to_node(const struct vm_engine *e, uint64_t addr)
{
	if (e->nr_vmap_nodes <= 1)
		return 0;
	return (unsigned)((addr / (VMAP_ZONE_PAGES << VM_PAGE_SHIFT)) % e->nr_vmap_nodes);
}

/* The node whose lazy list a freed range joins. */
static struct vmap_node *lazy_node(struct vm_engine *e, const struct vmap_area *va)
{
	unsigned tag = va_node_tag(va);

	if (tag && tag <= e->nr_vmap_nodes)
		return &e->vn[tag - 1];
	return &e->vn[vmi_addr_to_node(e, va->va_start)];
}

static struct vmap_pool *size_to_pool(struct vmap_node *vn, uint64_t size)
{
	uint64_t idx = (size - 1) >> VM_PAGE_SHIFT;

	return vn->pool && idx < MAX_VA_SIZE_PAGES ? &vn->pool[idx] : NULL;
}

/* ---- pools ---------------------------------------------------------------------- */

static void pool_push(struct vm_engine *e, struct vmap_pool *vp, struct vmap_area *va)
{
	list_add_after(&va->list, &vp->head);
	vp->len++;
	e->nr_pooled++;
	e->pooled_pages += va_size(va) >> VM_PAGE_SHIFT;
}

static void pool_take(struct vm_engine *e, struct vmap_pool *vp, struct vmap_area *va)
{
	list_del(&va->list);
	vp->len--;
	VMI_SUB(e, e->nr_pooled, 1);
	VMI_SUB(e, e->pooled_pages, va_size(va) >> VM_PAGE_SHIFT);
}

/* node_pool_del_va(): the head of the pool of size, if it is aligned. */
static struct vmap_area *pool_del(struct vm_engine *e, struct vmap_node *vn, uint64_t size,
				  uint64_t align)
{
	struct vmap_pool *vp = size_to_pool(vn, size);
	struct vmap_area *va;

	if (!vp || list_empty(&vp->head))
		return NULL;
	va = list_entry(vp->head.next, struct vmap_area, list);
	if (va->va_start & (align - 1)) {
		/* Not this one: to the back, and the free tree serves. */
		list_del(&va->list);
		list_add_tail(&va->list, &vp->head);
		return NULL;
	}
	pool_take(e, vp, va);
	return va;
}

/* decay_va_pool_node(): the first quarter of each pool (all of it when
 * full) back to the free tree. */
static void decay_pools(struct vm_engine *e, struct vmap_node *vn, bool full)
{
	if (!vn->pool || !e->nr_pooled)
		return;
	for (unsigned i = 0; i < MAX_VA_SIZE_PAGES; i++) {
		struct vmap_pool *vp = &vn->pool[i];
		uint64_t n = full ? vp->len : vp->len >> 2;

		while (n--) {
			struct vmap_area *va = list_entry(vp->head.next, struct vmap_area, list);

			pool_take(e, vp, va);
			vmi_free_tree_insert(e, va);
		}
	}
}

/* ---- allocation ----------------------------------------------------------------- */

static int vn_alloc(struct vm_engine *e, uint64_t size, uint64_t align, uint64_t vstart,
		    uint64_t vend, gfp_t gfp, struct vmap_area **ret_va)
{
	uint32_t tag = 0;
	struct vmap_area *va, *spare;
	bool purged = false;
	uint64_t s;

	/* node_alloc(): only requests for the whole range, on a machine of
	 * several nodes. */
	if (e->nr_vmap_nodes > 1 && vstart == e->layout->vmalloc_start &&
	    vend == e->layout->vmalloc_end) {
		unsigned id = e->cur_cpu % e->nr_vmap_nodes;
		struct vmap_area *pva = pool_del(e, &e->vn[id], size, align);

		tag = id + 1;
		if (pva) {
			/* A ready range: its node becomes the busy one. */
			pva->vm = NULL;
			pva->flags = (tag << VA_VN_SHIFT) | VA_FROM_POOL;
			vmi_busy_insert(e, pva);
			*ret_va = pva;
			return 0;
		}
	}
	/* One node for the range, one for the remainder of a split (the
	 * kernel's ne_fit_preload_node). */
	va = vmi_va_alloc(e);
	spare = vmi_va_alloc(e);
	if (!va || !spare) {
		vmi_cache_free(&e->va_cache, va);
		vmi_cache_free(&e->va_cache, spare);
		return -ENOMEM;
	}
	for (;;) {
		s = vmi_free_tree_alloc(e, size, align, vstart, vend, &spare);
		if (s)
			break;
		/* The overflow path: a request that may sleep purges once,
		 * pools and all (reclaim_and_purge_vmap_areas), and retries. */
		if (!purged && ((gfp & __GFP_DIRECT_RECLAIM) || e->k->purge_nonblocking)) {
			vmi_purge_fragmented_blocks(e);
			e->k->kva->purge(e, true);
			purged = true;
			continue;
		}
		vmi_cache_free(&e->va_cache, va);
		vmi_cache_free(&e->va_cache, spare);
		e->k->warn(e, VMF_KVA, &(struct vmalloc_fail_info){
			.gfp = gfp, .kva_size = size, .vstart = vstart, .vend = vend });
		return -ENOMEM;
	}
	vmi_cache_free(&e->va_cache, spare);	/* NULL if the split took it */
	va->va_start = s;
	va->va_end = s + size;
	va->vm = NULL;
	va->flags = tag << VA_VN_SHIFT;
	vmi_busy_insert(e, va);
	*ret_va = va;
	return 0;
}

static int vn_alloc_top(struct vm_engine *e, uint64_t size, uint64_t align,
			struct vmap_area **ret_va)
{
	struct vmap_area *va = vmi_va_alloc(e), *spare = vmi_va_alloc(e);
	uint64_t vstart = (e->layout->vmalloc_start + align - 1) & ~(align - 1);
	uint64_t vend = e->layout->vmalloc_end & ~(align - 1), s;

	if (!va || !spare) {
		vmi_cache_free(&e->va_cache, va);
		vmi_cache_free(&e->va_cache, spare);
		return -ENOMEM;
	}
	s = vmi_free_tree_alloc_top(e, size, align, vstart, vend, &spare);
	if (!s) {
		/* reclaim_and_purge_vmap_areas(), then once more. */
		vmi_purge_fragmented_blocks(e);
		e->k->kva->purge(e, true);
		s = vmi_free_tree_alloc_top(e, size, align, vstart, vend, &spare);
	}
	vmi_cache_free(&e->va_cache, spare);
	if (!s) {
		vmi_cache_free(&e->va_cache, va);
		return -ENOMEM;
	}
	va->va_start = s;
	va->va_end = s + size;
	va->vm = NULL;
	va->flags = 0;
	vmi_busy_insert(e, va);
	*ret_va = va;
	return 0;
}

static void vn_unalloc(struct vm_engine *e, struct vmap_area *va)
{
	unsigned tag = va_node_tag(va);

	vmi_busy_erase(e, va);
	if ((va->flags & VA_FROM_POOL) && tag && tag <= e->nr_vmap_nodes) {
		struct vmap_pool *vp = size_to_pool(&e->vn[tag - 1], va_size(va));

		if (vp) {
			va->flags &= ~VA_FROM_POOL;
			pool_push(e, vp, va);
			return;
		}
	}
	vmi_free_tree_insert(e, va);
}

/* ---- lazy free and purge ---------------------------------------------------------- */

static void vn_free_lazy(struct vm_engine *e, struct vmap_area *va)
{
	struct vmap_node *vn;

	vmi_busy_erase(e, va);
	va->vm = NULL;
	va->flags &= ~VA_FROM_POOL;
	vn = lazy_node(e, va);
	list_add_tail(&va->list, &vn->lazy);
	vn->nr_lazy++;
	e->nr_lazy++;
	e->lazy_pages += va_size(va) >> VM_PAGE_SHIFT;
	if (e->lazy_pages > e->lazy_max_pages) {
		if (e->k->purge_timing == PURGE_DEFERRED)
			vmi_schedule_work(e, VM_WORK_DRAIN_VMAP);
		else
			e->k->kva->purge(e, false);
	}
}

/* Sort a list by va_start (a merge sort of the list itself: a purge needs
 * no memory).  The kernel keeps each node's lazy list sorted as it inserts
 * into an rb_list; sorting once per purge gives the same order for less. */
static struct list_node *merge_sorted(struct list_node *a, struct list_node *b)
{
	struct list_node head, *t = &head;

	while (a && b) {
		struct list_node **p = list_entry(a, struct vmap_area, list)->va_start <
				       list_entry(b, struct vmap_area, list)->va_start ? &a : &b;

		t->next = *p;
		t = *p;
		*p = (*p)->next;
	}
	t->next = a ? a : b;
	return head.next;
}

static void sort_lazy(struct list_node *h)
{
	struct list_node *parts[64] = { NULL }, *l, *result = NULL, *prev;
	unsigned max = 0;

	if (list_empty(h))
		return;
	h->prev->next = NULL;
	for (l = h->next; l;) {
		struct list_node *next = l->next;
		unsigned i;

		l->next = NULL;
		for (i = 0; i < 64 && parts[i]; i++) {
			l = merge_sorted(parts[i], l);
			parts[i] = NULL;
		}
		if (i == 64)
			i = 63;
		parts[i] = l;
		if (i + 1 > max)
			max = i + 1;
		l = next;
	}
	for (unsigned i = 0; i < max; i++)
		if (parts[i])
			result = merge_sorted(parts[i], result);
	/* Relink prev pointers and the head. */
	prev = h;
	for (l = result; l; l = l->next) {
		l->prev = prev;
		prev->next = l;
		prev = l;
	}
	prev->next = h;
	h->prev = prev;
}

static void vn_purge(struct vm_engine *e, bool full)
{
	bool any = false;

	for (unsigned n = 0; n < e->nr_vmap_nodes; n++) {
		decay_pools(e, &e->vn[n], full);
		any |= !list_empty(&e->vn[n].lazy);
	}
	if (!any)
		return;
	/* One flush covers every node's lazy ranges. */
	e->nr_tlb_flushes++;
	e->nr_purges++;
	for (unsigned n = 0; n < e->nr_vmap_nodes; n++) {
		struct vmap_node *vn = &e->vn[n];
		bool populate = vn->pool && !full;

		if (populate)
			sort_lazy(&vn->lazy);
		while (!list_empty(&vn->lazy)) {
			struct vmap_area *va = list_entry(vn->lazy.next, struct vmap_area, list);
			struct vmap_pool *vp;

			list_del(&va->list);
			VMI_SUB(e, e->nr_lazy, 1);
			VMI_SUB(e, e->lazy_pages, va_size(va) >> VM_PAGE_SHIFT);
			if (populate && va_node_tag(va) && (vp = size_to_pool(vn, va_size(va)))) {
				pool_push(e, vp, va);
				continue;
			}
			vmi_free_tree_insert(e, va);
		}
		vn->nr_lazy = 0;
	}
}

/* ---- set-up, statistics, checking, /proc order --------------------------------------- */

static void vn_destroy(struct vm_engine *e)
{
	if (e->vn)
		for (unsigned n = 0; n < e->nr_vmap_nodes; n++)
			free(e->vn[n].pool);
	free(e->vn);
	e->vn = NULL;
	e->nr_vmap_nodes = 0;
}

static int vn_init(struct vm_engine *e)
{
	unsigned n = 1;

	/* vmap_init_nodes(): only a 64-bit kernel splits, into one node per
	 * possible CPU up to 128. */
	if (e->k->vmap_nodes && e->layout->ptr_size == 8)
		n = e->nr_cpus < MAX_VMAP_NODES ? e->nr_cpus : MAX_VMAP_NODES;
	e->vn = calloc(n, sizeof(*e->vn));
	if (!e->vn)
		return -ENOMEM;
	e->nr_vmap_nodes = n;
	for (unsigned i = 0; i < n; i++) {
		list_init(&e->vn[i].lazy);
		if (n == 1)
			continue;
		e->vn[i].pool = calloc(MAX_VA_SIZE_PAGES, sizeof(*e->vn[i].pool));
		if (!e->vn[i].pool)
			return -ENOMEM;
		for (unsigned p = 0; p < MAX_VA_SIZE_PAGES; p++)
			list_init(&e->vn[i].pool[p].head);
	}
	return vmi_free_tree_init(e);
}

static uint64_t vn_largest_free(const struct vm_engine *e)
{
	return vmi_free_tree_largest(e);
}

typedef unsigned long long ull;

static int vn_check(struct vm_engine *e, kva_range_fn *fn, void *ctx, char *msg, size_t msglen)
{
	uint64_t lazy = 0, lazy_pages = 0, pooled = 0, pooled_pages = 0;
	int r = vmi_free_tree_check(e, fn, ctx, msg, msglen);

	if (r)
		return r;
	for (unsigned n = 0; n < e->nr_vmap_nodes; n++) {
		struct vmap_node *vn = &e->vn[n];
		uint64_t count = 0;

		for (struct list_node *l = vn->lazy.next; l != &vn->lazy; l = l->next) {
			struct vmap_area *va = list_entry(l, struct vmap_area, list);

			if (va->vm || lazy_node(e, va) != vn)
				return vmi_check_fail(msg, msglen, "lazy range %#llx on node %u's list, tagged %u",
					    (ull)va->va_start, n, va_node_tag(va));
			count++;
			lazy_pages += va_size(va) >> VM_PAGE_SHIFT;
			if ((r = fn(ctx, va->va_start, va->va_end, 'l')))
				return r;
		}
		if (count != vn->nr_lazy)
			return vmi_check_fail(msg, msglen, "node %u: %llu lazy ranges listed, nr_lazy says %llu",
				    n, (ull)count, (ull)vn->nr_lazy);
		lazy += count;
		if (!vn->pool)
			continue;
		for (unsigned i = 0; i < MAX_VA_SIZE_PAGES; i++) {
			struct vmap_pool *vp = &vn->pool[i];

			count = 0;
			for (struct list_node *l = vp->head.next; l != &vp->head; l = l->next) {
				struct vmap_area *va = list_entry(l, struct vmap_area, list);

				if (va_size(va) != (uint64_t)(i + 1) << VM_PAGE_SHIFT ||
				    va_node_tag(va) != n + 1)
					return vmi_check_fail(msg, msglen,
						    "range %#llx of %llu bytes, tagged %u, in node %u's pool of %u pages",
						    (ull)va->va_start, (ull)va_size(va), va_node_tag(va), n, i + 1);
				count++;
				pooled_pages += i + 1;
				if ((r = fn(ctx, va->va_start, va->va_end, 'p')))
					return r;
			}
			if (count != vp->len)
				return vmi_check_fail(msg, msglen, "node %u pool %u: %llu ranges, len says %llu",
					    n, i + 1, (ull)count, (ull)vp->len);
			pooled += count;
		}
	}
	if (lazy != e->nr_lazy || lazy_pages != e->lazy_pages)
		return vmi_check_fail(msg, msglen, "%llu lazy ranges of %llu pages; counters say %llu and %llu",
			    (ull)lazy, (ull)lazy_pages, (ull)e->nr_lazy, (ull)e->lazy_pages);
	if (pooled != e->nr_pooled || pooled_pages != e->pooled_pages)
		return vmi_check_fail(msg, msglen, "%llu pooled ranges of %llu pages; counters say %llu and %llu",
			    (ull)pooled, (ull)pooled_pages, (ull)e->nr_pooled, (ull)e->pooled_pages);
	return 0;
}

static int cmp_va(const void *a, const void *b)
{
	const struct vmap_area *x = *(const struct vmap_area *const *)a;
	const struct vmap_area *y = *(const struct vmap_area *const *)b;

	return x->va_start < y->va_start ? -1 : x->va_start > y->va_start;
}

/* vmalloc_info_show(): node by node, each node's busy areas in address
 * order; then show_purge_info(): node by node, each node's lazy ranges in
 * address order. */
static int vn_show(struct vm_engine *e, kva_show_fn *fn, void *ctx)
{
	unsigned nodes = e->nr_vmap_nodes;
	uint64_t *start = NULL, nr = 0, most = 0;
	struct vmap_area **v = NULL;
	int r = 0;

	/* Busy: bucket by node in one pass (counting sort keeps address order). */
	if (nodes == 1) {
		for (struct list_node *l = e->busy_list.next; l != &e->busy_list && !r; l = l->next)
			r = fn(ctx, list_entry(l, struct vmap_area, list));
	} else if (e->nr_busy) {
		start = calloc(nodes + 1, sizeof(*start));
		v = malloc(e->nr_busy * sizeof(*v));
		if (!start || !v) {
			r = -ENOMEM;
			goto out;
		}
		for (struct list_node *l = e->busy_list.next; l != &e->busy_list; l = l->next)
			start[vmi_addr_to_node(e, list_entry(l, struct vmap_area, list)->va_start) + 1]++;
		for (unsigned n = 0; n < nodes; n++)
			start[n + 1] += start[n];
		for (struct list_node *l = e->busy_list.next; l != &e->busy_list; l = l->next) {
			struct vmap_area *va = list_entry(l, struct vmap_area, list);

			v[start[vmi_addr_to_node(e, va->va_start)]++] = va;
			nr++;
		}
		for (uint64_t i = 0; i < nr && !r; i++)
			r = fn(ctx, v[i]);
		free(v);
		v = NULL;
	}
	if (r)
		goto out;
	/* Lazy: each node's list, sorted. */
	for (unsigned n = 0; n < nodes; n++)
		if (e->vn[n].nr_lazy > most)
			most = e->vn[n].nr_lazy;
	if (!most)
		goto out;
	v = malloc(most * sizeof(*v));
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned n = 0; n < nodes && !r; n++) {
		nr = 0;
		for (struct list_node *l = e->vn[n].lazy.next; l != &e->vn[n].lazy; l = l->next)
			v[nr++] = list_entry(l, struct vmap_area, list);
		qsort(v, nr, sizeof(*v), cmp_va);
		for (uint64_t i = 0; i < nr && !r; i++)
			r = fn(ctx, v[i]);
	}
out:
	free(start);
	free(v);
	return r;
}

const struct kva_ops vmi_kva_vmap_nodes = {
	.init = vn_init,
	.destroy = vn_destroy,
	.alloc = vn_alloc,
	.alloc_top = vn_alloc_top,
	.unalloc = vn_unalloc,
	.free_lazy = vn_free_lazy,
	.purge = vn_purge,
	.largest_free = vn_largest_free,
	.check = vn_check,
	.show = vn_show,
	.tiles = true,
};
