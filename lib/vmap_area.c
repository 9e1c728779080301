/* vmap_area.c -- the kernel virtual address (KVA) allocator of the vmalloc range.
 *
 * Free ranges live in a red-black tree sorted by address and augmented with
 * the largest free size in each subtree (subtree_max_size), which makes the
 * lowest-address first fit an O(log n) descent; the same ranges are chained
 * in address order (free_list) for O(1) neighbours when merging.  Busy ranges
 * live in their own address-ordered tree.  Freed ranges are lazy: they wait
 * on lazy_list until a purge returns them all to the free tree with one
 * simulated TLB flush.
 *
 * Invariants: free ranges never overlap and never touch (a freed range is
 * merged with its neighbours); subtree_max_size of a node is the max of its
 * own size and its children's values; free ∪ busy ∪ lazy is exactly the
 * vmalloc range.
 */
#include <errno.h>
#include <stdlib.h>

#include "vm-internal.h"

static inline uint64_t va_size(const struct vmap_area *va)
{
	return va->va_end - va->va_start;
}

static inline struct vmap_area *rb_va(struct rb_node *n)
{
	return n ? rb_entry(n, struct vmap_area, rb) : NULL;
}

static inline uint64_t subtree_max(const struct rb_node *n)
{
	return n ? rb_entry(n, struct vmap_area, rb)->subtree_max_size : 0;
}

static void va_augment(struct rb_node *n)
{
	struct vmap_area *va = rb_va(n);
	uint64_t m = va_size(va), l = subtree_max(n->left), r = subtree_max(n->right);

	if (l > m)
		m = l;
	if (r > m)
		m = r;
	va->subtree_max_size = m;
}

uint64_t vmi_largest_free(const struct vm_engine *e)
{
	return subtree_max(e->free_root.node);
}

/* ---- fitting ---------------------------------------------------------------
 *
 * Where [nva_start, nva_start + size) sits inside a free range decides how
 * the range is cut:
 */
enum fit_type {
	NOTHING_FIT,
	FL_FIT,  /* full fit:      |<------- va ------->|  all of it     */
	LE_FIT,  /* left edge:     |<-- nva -->|.........|  start moves   */
	RE_FIT,  /* right edge:    |.........|<-- nva -->|  end moves     */
	NE_FIT,  /* no edge:       |....|<-- nva -->|....|  split in two  */
};

static enum fit_type classify_fit(const struct vmap_area *va, uint64_t nva_start, uint64_t size)
{
	uint64_t nva_end = nva_start + size;

	if (nva_start < va->va_start || nva_end > va->va_end)
		return NOTHING_FIT;
	if (nva_start == va->va_start)
		return nva_end == va->va_end ? FL_FIT : LE_FIT;
	return nva_end == va->va_end ? RE_FIT : NE_FIT;
}

/* The aligned start of a fit of size in va at or above vstart, or 0 if none
 * (0 is never inside a vmalloc range). */
static uint64_t fit_in_va(const struct vmap_area *va, uint64_t size, uint64_t align,
			  uint64_t vstart)
{
	uint64_t s = va->va_start > vstart ? va->va_start : vstart;

	/* Can overflow for a big alignment near the top of the space. */
	if (s > UINT64_MAX - (align - 1))
		return 0;
	s = (s + align - 1) & ~(align - 1);
	if (s >= va->va_end || va->va_end - s < size)
		return 0;
	return s;
}

/*
 * Lowest-address free range with an aligned fit inside [vstart, vend).
 * In-order descent that skips subtrees too small for size (their maximum
 * says so) and subtrees wholly below vstart or above vend.  With page
 * alignment every range big enough is a fit, so this visits O(log n) nodes;
 * a large alignment may also visit ranges that are big enough but cannot
 * hold an aligned fit (the cost of an exact first fit).
 */
static struct vmap_area *lowest_match(struct rb_node *n, uint64_t size, uint64_t align,
				      uint64_t vstart, uint64_t vend)
{
	while (n && subtree_max(n) >= size) {
		struct vmap_area *va = rb_va(n), *found;
		uint64_t s;

		if (va->va_start > vstart && subtree_max(n->left) >= size) {
			found = lowest_match(n->left, size, align, vstart, vend);
			if (found)
				return found;
		}
		if (va->va_start >= vend)
			return NULL;
		s = fit_in_va(va, size, align, vstart);
		if (s && s + size <= vend)
			return va;
		if (s)	/* the lowest fit here already passes vend */
			return NULL;
		n = n->right;
	}
	return NULL;
}

struct vmap_area *vmi_find_lowest(const struct vm_engine *e, uint64_t size, uint64_t align,
				  uint64_t vstart, uint64_t vend)
{
	return lowest_match(e->free_root.node, size, align, vstart, vend);
}

/* The same answer by walking the address-ordered list: the oracle the tests
 * compare the tree search against. */
struct vmap_area *vmi_find_lowest_linear(const struct vm_engine *e, uint64_t size,
					 uint64_t align, uint64_t vstart, uint64_t vend)
{
	for (struct list_node *l = e->free_list.next; l != &e->free_list; l = l->next) {
		struct vmap_area *va = list_entry(l, struct vmap_area, list);
		uint64_t s;

		if (va->va_end <= vstart)
			continue;
		if (va->va_start >= vend)
			return NULL;
		s = fit_in_va(va, size, align, vstart);
		if (s)
			return s + size <= vend ? va : NULL;
	}
	return NULL;
}

/* ---- free tree maintenance ----------------------------------------------- */

static void free_tree_unlink(struct vm_engine *e, struct vmap_area *va)
{
	vmi_rb_erase(&e->free_root, &va->rb, va_augment);
	list_del(&va->list);
}

/* Insert [va_start, va_end) into the free tree, merging with the neighbours
 * it touches.  va is consumed: linked, or returned to the cache if merged. */
static void free_tree_insert(struct vm_engine *e, struct vmap_area *va)
{
	struct rb_node **link = &e->free_root.node, *parent = NULL;
	struct vmap_area *prev = NULL, *next = NULL;
	struct list_node *pos;

	while (*link) {
		struct vmap_area *t = rb_va(*link);

		parent = *link;
		if (va->va_start < t->va_start) {
			next = t;
			link = &(*link)->left;
		} else {
			prev = t;
			link = &(*link)->right;
		}
	}
	/*
	 *  |<--prev-->|<----va---->|<--next-->|
	 * Merge into next first, then prev swallows next if they now touch.
	 */
	if (next && next->va_start == va->va_end) {
		next->va_start = va->va_start;
		vmi_cache_free(&e->va_cache, va);
		if (prev && prev->va_end == next->va_start) {
			prev->va_end = next->va_end;
			free_tree_unlink(e, next);
			vmi_cache_free(&e->va_cache, next);
			vmi_rb_propagate(&prev->rb, va_augment);
		} else {
			vmi_rb_propagate(&next->rb, va_augment);
		}
		return;
	}
	if (prev && prev->va_end == va->va_start) {
		prev->va_end = va->va_end;
		vmi_cache_free(&e->va_cache, va);
		vmi_rb_propagate(&prev->rb, va_augment);
		return;
	}
	pos = prev ? &prev->list : &e->free_list;
	list_add_after(&va->list, pos);
	vmi_rb_insert(&e->free_root, &va->rb, parent, link, va_augment);
}

/* ---- busy tree --------------------------------------------------------------- */

static inline uint64_t busy_hash_idx(const struct vm_engine *e, uint64_t addr)
{
	return ((addr >> VM_PAGE_SHIFT) * 0x9E3779B97F4A7C15ull >> 32) & e->busy_hash_mask;
}

static void busy_hash_grow(struct vm_engine *e)
{
	uint64_t nb = (e->busy_hash_mask + 1) * 2;
	struct vmap_area **t = calloc(nb, sizeof(*t)), **old = e->busy_hash;
	uint64_t ob = e->busy_hash_mask + 1;

	if (!t)
		return;         /* longer chains, still correct */
	e->busy_hash = t;
	e->busy_hash_mask = nb - 1;
	for (uint64_t i = 0; i < ob; i++) {
		for (struct vmap_area *va = old[i], *nx; va; va = nx) {
			uint64_t k = busy_hash_idx(e, va->va_start);

			nx = va->hnext;
			va->hnext = t[k];
			t[k] = va;
		}
	}
	free(old);
}

static void busy_insert(struct vm_engine *e, struct vmap_area *va)
{
	struct rb_node **link = &e->busy_root.node, *parent = NULL;
	struct vmap_area *h = e->busy_hint, *prev = NULL;
	uint64_t k;

	if (h && h->va_start < va->va_start &&
	    (h->list.next == &e->busy_list ||
	     va->va_start < list_entry(h->list.next, struct vmap_area, list)->va_start)) {
		/* va goes right after the hint: no descent. */
		prev = h;
		if (!h->rb.right) {
			parent = &h->rb;
			link = &h->rb.right;
		} else {
			struct vmap_area *nx = list_entry(h->list.next, struct vmap_area, list);

			parent = &nx->rb;
			link = &nx->rb.left;
		}
	} else {
		while (*link) {
			parent = *link;
			if (va->va_start < rb_va(*link)->va_start) {
				link = &(*link)->left;
			} else {
				prev = rb_va(*link);
				link = &(*link)->right;
			}
		}
	}
	vmi_rb_insert(&e->busy_root, &va->rb, parent, link, NULL);
	list_add_after(&va->list, prev ? &prev->list : &e->busy_list);
	e->busy_hint = va;
	e->nr_busy++;
	if (e->nr_busy > e->busy_hash_mask + 1)
		busy_hash_grow(e);
	k = busy_hash_idx(e, va->va_start);
	va->hnext = e->busy_hash[k];
	e->busy_hash[k] = va;
}

static void busy_erase(struct vm_engine *e, struct vmap_area *va)
{
	struct vmap_area **pp = &e->busy_hash[busy_hash_idx(e, va->va_start)];

	while (*pp != va)
		pp = &(*pp)->hnext;
	*pp = va->hnext;
	if (e->busy_hint == va)
		e->busy_hint = va->list.prev == &e->busy_list ? NULL :
			list_entry(va->list.prev, struct vmap_area, list);
	vmi_rb_erase(&e->busy_root, &va->rb, NULL);
	list_del(&va->list);
	e->nr_busy--;
}

struct vmap_area *vmi_find_busy_va(const struct vm_engine *e, uint64_t addr)
{
	struct vmap_area *h = e->busy_hint;
	struct rb_node *n = e->busy_root.node;

	/* No descent for the area made last (a new area being filled) or for
	 * an area's start (the usual address of a free or an info query). */
	if (h && addr >= h->va_start && addr < h->va_end)
		return h;
	h = vmi_find_busy_va_start(e, addr);
	if (h)
		return h;

	while (n) {
		struct vmap_area *va = rb_va(n);

		if (addr < va->va_start)
			n = n->left;
		else if (addr >= va->va_end)
			n = n->right;
		else
			return va;
	}
	return NULL;
}

struct vmap_area *vmi_find_busy_va_start(const struct vm_engine *e, uint64_t addr)
{
	struct vmap_area *va = e->busy_hash[busy_hash_idx(e, addr)];

	while (va && va->va_start != addr)
		va = va->hnext;
	return va;
}

/* ---- allocation and free ----------------------------------------------------- */

static void purge_lazy(struct vm_engine *e);

/* Cut [s, s + size) out of the free range va; spare is a preallocated node
 * for the right remainder of a no-edge fit.  Returns whether spare was used. */
static bool va_clip(struct vm_engine *e, struct vmap_area *va, uint64_t s, uint64_t size,
		    struct vmap_area *spare)
{
	switch (classify_fit(va, s, size)) {
	case FL_FIT:
		free_tree_unlink(e, va);
		vmi_cache_free(&e->va_cache, va);
		break;
	case LE_FIT:
		va->va_start += size;
		vmi_rb_propagate(&va->rb, va_augment);
		break;
	case RE_FIT:
		va->va_end = s;
		vmi_rb_propagate(&va->rb, va_augment);
		break;
	case NE_FIT:
		spare->va_start = s + size;
		spare->va_end = va->va_end;
		va->va_end = s;
		vmi_rb_propagate(&va->rb, va_augment);
		free_tree_insert(e, spare);
		return true;
	case NOTHING_FIT:
		break;
	}
	return false;
}

int vmi_alloc_vmap_area(struct vm_engine *e, uint64_t size, uint64_t align,
			uint64_t vstart, uint64_t vend, gfp_t gfp,
			struct vmap_area **ret_va)
{
	struct vmap_area *va, *busy, *spare;
	bool purged = false;
	uint64_t s;

	busy = vmi_cache_alloc(&e->va_cache);
	spare = vmi_cache_alloc(&e->va_cache);
	if (!busy || !spare) {
		vmi_cache_free(&e->va_cache, busy);
		vmi_cache_free(&e->va_cache, spare);
		return -ENOMEM;
	}
	for (;;) {
		va = vmi_find_lowest(e, size, align, vstart, vend);
		if (va)
			break;
		/* No hole: lazily freed ranges may make one.  Purge once. */
		if (purged || (gfp & __GFP_NORETRY) || !e->nr_lazy) {
			vmi_cache_free(&e->va_cache, busy);
			vmi_cache_free(&e->va_cache, spare);
			return -ENOMEM;
		}
		purge_lazy(e);
		purged = true;
	}
	s = fit_in_va(va, size, align, vstart);
	if (!va_clip(e, va, s, size, spare))
		vmi_cache_free(&e->va_cache, spare);
	busy->va_start = s;
	busy->va_end = s + size;
	busy->vm = NULL;
	list_init(&busy->list);
	busy_insert(e, busy);
	*ret_va = busy;
	return 0;
}

/* Return a busy range straight to the free tree (a failed allocation that
 * never mapped anything needs no flush). */
void vmi_free_vmap_area(struct vm_engine *e, struct vmap_area *va)
{
	busy_erase(e, va);
	va->vm = NULL;
	free_tree_insert(e, va);
}

void vmi_free_vmap_area_lazy(struct vm_engine *e, struct vmap_area *va)
{
	busy_erase(e, va);
	va->vm = NULL;
	list_add_tail(&va->list, &e->lazy_list);
	e->nr_lazy++;
	e->lazy_pages += va_size(va) >> VM_PAGE_SHIFT;
	if (e->lazy_pages > e->cfg.lazy_max_pages)
		purge_lazy(e);
}

static void purge_lazy(struct vm_engine *e)
{
	bool walk_ranges;

	if (list_empty(&e->lazy_list))
		return;
	/* Page tables are freed only now, after the (simulated) flush point,
	 * as no stale TLB entry can reach them any more: those the unmaps
	 * emptied, or, if their list is incomplete, every empty one under the
	 * ranges purged. */
	walk_ranges = !vmi_free_emptied_tables(e);
	while (!list_empty(&e->lazy_list)) {
		struct vmap_area *va = list_entry(e->lazy_list.next, struct vmap_area, list);
		uint64_t start = va->va_start, end = va->va_end;

		list_del(&va->list);
		free_tree_insert(e, va);
		if (walk_ranges)
			vmi_free_empty_tables(e, start, end);
	}
	e->nr_lazy = 0;
	e->lazy_pages = 0;
	e->nr_purges++;
	e->nr_tlb_flushes++;
}

void vm_purge(struct vm_engine *e)
{
	if (e)
		purge_lazy(e);
}

int vmi_kva_init(struct vm_engine *e)
{
	struct vmap_area *va;

	e->free_root.node = NULL;
	e->busy_root.node = NULL;
	list_init(&e->free_list);
	list_init(&e->lazy_list);
	list_init(&e->busy_list);
	e->busy_hint = NULL;
	e->busy_hash_mask = 1023;
	e->busy_hash = calloc(e->busy_hash_mask + 1, sizeof(*e->busy_hash));
	if (!e->busy_hash)
		return -ENOMEM;
	va = vmi_cache_alloc(&e->va_cache);
	if (!va)
		return -ENOMEM;
	va->va_start = e->layout->vmalloc_start;
	va->va_end = e->layout->vmalloc_end;
	free_tree_insert(e, va);
	return 0;
}

void vmi_kva_destroy(struct vm_engine *e)
{
	/* The nodes belong to va_cache, which the engine destroys whole. */
	e->free_root.node = NULL;
	e->busy_root.node = NULL;
	list_init(&e->free_list);
	list_init(&e->lazy_list);
	list_init(&e->busy_list);
	free(e->busy_hash);
	e->busy_hash = NULL;
	e->busy_hint = NULL;
}
