/* vmap_area_list.c -- 4.19's KVA allocator (mm/vmalloc.c up to 5.1): first
 * fit by walking the address-ordered vmap_area_list, from a cached hint.
 *
 * There is no record of free space: busy and lazily freed ranges share one
 * rb-tree (vmap_area_root, here busy_root) and its address list (busy_list),
 * and the free KVA is the gaps between them.  alloc_vmap_area() starts its
 * walk at free_vmap_cache, the range it allocated last, unless the request
 * is more permissive than the one that set the hint (a smaller size than
 * cached_hole_size, the largest hole it saw below the hint; a lower vstart
 * than cached_vstart; a smaller alignment than cached_align), in which case
 * it descends the tree to vstart and walks from there.  The walk steps over
 * every range in its way: O(n) when the hint misses.  __free_vmap_area()
 * moves the hint below a range it frees at or under it.
 *
 * A vfree leaves the range in the tree, flagged VA_LAZY and pushed on
 * vmap_purge_list (an llist: newest first, linked through hnext); once
 * vmap_lazy_nr exceeds lazy_max_pages() the same vfree purges them all
 * (try_purge_vmap_area_lazy), newest first, each through __free_vmap_area.
 *
 * Invariants: tree and list hold the same ranges, disjoint, inside the
 * vmalloc range; a range is lazy (VA_LAZY, vm NULL, on vmap_purge_list)
 * or busy (vm set); free_vmap_cache is NULL or a range in the tree.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "vm-internal.h"
#include "vmap_busy.h"

static inline struct vmap_area *rb_va(struct rb_node *n)
{
	return n ? rb_entry(n, struct vmap_area, rb) : NULL;
}

/* ALIGN(x, align) into *ret, false where the kernel's would wrap (4.19
 * wraps and may then fit below vstart: a bug no real caller reaches, which
 * here is a plain failure). */
static inline bool align_up(uint64_t x, uint64_t align, uint64_t *ret)
{
	if (x > UINT64_MAX - (align - 1))
		return false;
	*ret = (x + align - 1) & ~(align - 1);
	return true;
}

/* __free_vmap_area(): out of the tree, the hint moved below it if needed. */
static void free_vmap_area(struct vm_engine *e, struct vmap_area *va)
{
	if (e->free_vmap_cache) {
		if (va->va_end < e->cached_vstart)
			e->free_vmap_cache = NULL;
		else if (va->va_start <= e->free_vmap_cache->va_start)
			/* We don't update cached_hole_size or cached_align:
			 * it won't go very wrong, says the kernel. */
			e->free_vmap_cache = rb_va(vmi_rb_prev(&va->rb));
	}
	vmi_busy_tree_erase(e, va);
	vmi_cache_free(&e->va_cache, va);
}

static void list_purge(struct vm_engine *e, bool full)
{
	struct vmap_area *va = e->purge_llist;

	(void)full;
	if (!va)
		return;
	e->purge_llist = NULL;
	e->nr_tlb_flushes++;
	e->nr_purges++;
	while (va) {
		struct vmap_area *next = va->hnext;

		VMI_SUB(e, e->nr_lazy, 1);
		VMI_SUB(e, e->lazy_pages, va_size(va) >> VM_PAGE_SHIFT);
		free_vmap_area(e, va);
		va = next;
	}
}

static int list_alloc(struct vm_engine *e, uint64_t size, uint64_t align, uint64_t vstart,
		      uint64_t vend, gfp_t gfp, struct vmap_area **ret_va)
{
	struct vmap_area *first, *va = vmi_va_alloc(e);
	bool purged = false;
	uint64_t addr;

	if (!va)
		return -ENOMEM;

retry:
	/* Invalidate the hint for more permissive parameters. */
	if (!e->free_vmap_cache || size < e->cached_hole_size || vstart < e->cached_vstart ||
	    align < e->cached_align) {
nocache:
		e->cached_hole_size = 0;
		e->free_vmap_cache = NULL;
	}
	/* Record less permissive parameters. */
	e->cached_vstart = vstart;
	e->cached_align = align;

	if (e->free_vmap_cache) {
		first = e->free_vmap_cache;
		if (!align_up(first->va_end, align, &addr))
			goto overflow;
		if (addr < vstart)
			goto nocache;
		if (addr + size < addr)
			goto overflow;
	} else {
		struct rb_node *n = e->busy_root.node;

		if (!align_up(vstart, align, &addr) || addr + size < addr)
			goto overflow;
		first = NULL;
		while (n) {
			struct vmap_area *tmp = rb_va(n);

			if (tmp->va_end >= addr) {
				first = tmp;
				if (tmp->va_start <= addr)
					break;
				n = n->left;
			} else {
				n = n->right;
			}
		}
		if (!first)
			goto found;
	}

	/* From the starting point, walk the ranges until a hole fits. */
	while (addr + size > first->va_start && addr + size <= vend) {
		if (addr + e->cached_hole_size < first->va_start)
			e->cached_hole_size = first->va_start - addr;
		if (!align_up(first->va_end, align, &addr) || addr + size < addr)
			goto overflow;
		if (first->list.next == &e->busy_list)
			goto found;
		first = list_entry(first->list.next, struct vmap_area, list);
	}

found:
	if (addr + size > vend)
		goto overflow;
	va->va_start = addr;
	va->va_end = addr + size;
	va->vm = NULL;
	va->flags = 0;
	vmi_busy_insert(e, va);
	e->free_vmap_cache = va;
	*ret_va = va;
	return 0;

overflow:
	if (!purged) {
		/* purge_vmap_area_lazy(), whatever the gfp: the fragmented
		 * vmap blocks first, then the lazy ranges. */
		vmi_purge_fragmented_blocks(e);
		list_purge(e, true);
		purged = true;
		goto retry;
	}
	vmi_cache_free(&e->va_cache, va);
	e->k->warn(e, VMF_KVA, &(struct vmalloc_fail_info){
		.gfp = gfp, .kva_size = size, .vstart = vstart, .vend = vend });
	return -ENOMEM;
}

/* The highest aligned gap between the ranges of the tree (lazy ones
 * included, as 4.19's pvm_determine_end() walks vmap_area_root): down the
 * list from the top, O(n) in the ranges passed. */
static uint64_t list_top_fit(const struct vm_engine *e, uint64_t size, uint64_t align)
{
	uint64_t vstart = (e->layout->vmalloc_start + align - 1) & ~(align - 1);
	uint64_t vend = e->layout->vmalloc_end & ~(align - 1);
	uint64_t gap_end = vend;

	for (struct list_node *l = e->busy_list.prev;; l = l->prev) {
		uint64_t gap_start = l == &e->busy_list ? vstart :
			list_entry(l, struct vmap_area, list)->va_end;
		uint64_t end = gap_end & ~(align - 1), s;

		if (end >= size && end > gap_start) {
			s = (end - size) & ~(align - 1);
			if (s >= gap_start && s >= vstart)
				return s;
		}
		if (l == &e->busy_list || gap_start <= vstart)
			return 0;
		gap_end = list_entry(l, struct vmap_area, list)->va_start;
	}
}

static int list_alloc_top(struct vm_engine *e, uint64_t size, uint64_t align,
			  struct vmap_area **ret_va)
{
	struct vmap_area *va = vmi_va_alloc(e);
	uint64_t s;

	if (!va)
		return -ENOMEM;
	s = list_top_fit(e, size, align);
	if (!s) {
		vmi_purge_fragmented_blocks(e);
		list_purge(e, true);
		s = list_top_fit(e, size, align);
	}
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

static void list_unalloc(struct vm_engine *e, struct vmap_area *va)
{
	vmi_busy_hash_del(e, va);
	free_vmap_area(e, va);
}

static void list_free_lazy(struct vm_engine *e, struct vmap_area *va)
{
	/* remove_vm_area(): no longer findable, VM_LAZY_FREE, still in the
	 * tree; free_vmap_area_noflush(): on vmap_purge_list. */
	vmi_busy_hash_del(e, va);
	va->vm = NULL;
	va->flags |= VA_LAZY;
	va->hnext = e->purge_llist;
	e->purge_llist = va;
	e->nr_lazy++;
	e->lazy_pages += va_size(va) >> VM_PAGE_SHIFT;
	if (e->lazy_pages > e->lazy_max_pages) {
		if (e->k->purge_timing == PURGE_DEFERRED)
			vmi_schedule_work(e, VM_WORK_DRAIN_VMAP);
		else
			list_purge(e, false);
	}
}

/* The gaps between the ranges: O(n). */
static uint64_t list_largest_free(const struct vm_engine *e)
{
	uint64_t prev_end = e->layout->vmalloc_start, best = 0;

	for (struct list_node *l = e->busy_list.next; l != &e->busy_list; l = l->next) {
		const struct vmap_area *va = list_entry(l, struct vmap_area, list);

		if (va->va_start > prev_end && va->va_start - prev_end > best)
			best = va->va_start - prev_end;
		prev_end = va->va_end;
	}
	if (e->layout->vmalloc_end - prev_end > best)
		best = e->layout->vmalloc_end - prev_end;
	return best;
}

static int list_init_kva(struct vm_engine *e)
{
	e->nr_vmap_nodes = 0;
	e->free_vmap_cache = NULL;
	e->cached_hole_size = e->cached_vstart = e->cached_align = 0;
	e->purge_llist = NULL;
	return 0;
}

static void list_destroy(struct vm_engine *e)
{
	e->free_vmap_cache = NULL;
	e->purge_llist = NULL;
}

typedef unsigned long long ull;

/* The lazy ranges are in the busy tree, which the common checker walks
 * (each seen as 'l' there); here: the purge list names exactly them, and
 * the hint is a range of the tree. */
static int list_check(struct vm_engine *e, kva_range_fn *fn, void *ctx, char *msg, size_t msglen)
{
	uint64_t n = 0, pages = 0, flagged = 0;
	bool cache_found = !e->free_vmap_cache;

	(void)fn;
	(void)ctx;
	for (struct vmap_area *va = e->purge_llist; va; va = va->hnext) {
		if (!(va->flags & VA_LAZY) || va->vm)
			return vmi_check_fail(msg, msglen, "range %#llx on vmap_purge_list is not lazy",
				    (ull)va->va_start);
		if (++n > e->nr_lazy)
			return vmi_check_fail(msg, msglen, "vmap_purge_list longer than nr_lazy (%llu)",
				    (ull)e->nr_lazy);
		pages += va_size(va) >> VM_PAGE_SHIFT;
	}
	for (struct list_node *l = e->busy_list.next; l != &e->busy_list; l = l->next) {
		struct vmap_area *va = list_entry(l, struct vmap_area, list);

		flagged += !!(va->flags & VA_LAZY);
		if (va == e->free_vmap_cache)
			cache_found = true;
	}
	if (n != e->nr_lazy || flagged != n || pages != e->lazy_pages)
		return vmi_check_fail(msg, msglen, "%llu ranges on vmap_purge_list (%llu pages), %llu flagged lazy; "
			    "counters say %llu and %llu", (ull)n, (ull)pages, (ull)flagged,
			    (ull)e->nr_lazy, (ull)e->lazy_pages);
	if (!cache_found)
		return vmi_check_fail(msg, msglen, "free_vmap_cache points at a range not in vmap_area_list");
	return 0;
}

/* s_show(): vmap_area_list in address order, lazy ranges in place. */
static int list_show(struct vm_engine *e, kva_show_fn *fn, void *ctx)
{
	int r = 0;

	for (struct list_node *l = e->busy_list.next; l != &e->busy_list && !r; l = l->next)
		r = fn(ctx, list_entry(l, struct vmap_area, list));
	return r;
}

const struct kva_ops vmi_kva_list = {
	.init = list_init_kva,
	.destroy = list_destroy,
	.alloc = list_alloc,
	.alloc_top = list_alloc_top,
	.unalloc = list_unalloc,
	.free_lazy = list_free_lazy,
	.purge = list_purge,
	.largest_free = list_largest_free,
	.check = list_check,
	.show = list_show,
	.tiles = false,
};
