/* free_vmap_area.c -- the free KVA ranges of 6.18 (the kernel's
 * free_vmap_area_root and free_vmap_area_list, 5.2+).
 *
 * Free ranges live in a red-black tree sorted by address and augmented with
 * the largest free size in each subtree (subtree_max_size), which makes the
 * lowest-address first fit an O(log n) descent; the same ranges are chained
 * in address order (free_list) for O(1) neighbours when merging.
 *
 * Invariants: free ranges never overlap and never touch (a freed range is
 * merged with its neighbours); subtree_max_size of a node is the max of its
 * own size and its children's values; tree order == list order.
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

uint64_t vmi_free_tree_largest(const struct vm_engine *e)
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
static inline uint64_t fit_start(const struct vmap_area *va, uint64_t size, uint64_t align,
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
		s = fit_start(va, size, align, vstart);
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
		s = fit_start(va, size, align, vstart);
		if (s)
			return s + size <= vend ? va : NULL;
	}
	return NULL;
}

/* ---- maintenance ------------------------------------------------------------- */

static void free_tree_unlink(struct vm_engine *e, struct vmap_area *va)
{
	vmi_rb_erase(&e->free_root, &va->rb, va_augment);
	list_del(&va->list);
}

/* Insert [va_start, va_end) into the free tree, merging with the neighbours
 * it touches.  va is consumed: linked, or returned to the cache if merged.
 * A range that overlaps a free neighbour is a bug (a double free of KVA):
 * at VM_DEBUG >= 1 it is reported and refused (va returned to the cache,
 * the tree unchanged), as the kernel's find_va_links() refuses it. */
void vmi_free_tree_insert(struct vm_engine *e, struct vmap_area *va)
{
	struct rb_node **link = &e->free_root.node, *parent = NULL;
	struct vmap_area *prev = NULL, *next = NULL;
	struct list_node *pos;

	va->flags = 0;
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
	if (VM_DEBUG >= 1 && ((prev && prev->va_end > va->va_start) ||
			      (next && next->va_start < va->va_end))) {
		struct vmap_area *o = prev && prev->va_end > va->va_start ? prev : next;

		vmi_bug(e, "free KVA 0x%llx-0x%llx overlaps with free 0x%llx-0x%llx",
			(unsigned long long)va->va_start, (unsigned long long)va->va_end,
			(unsigned long long)o->va_start, (unsigned long long)o->va_end);
		vmi_cache_free(&e->va_cache, va);
		return;
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

/* Cut [s, s + size) out of the free range va (va_clip); spare is a node
 * for the right remainder of a no-edge fit.  Returns whether it used spare. */
static inline __attribute__((always_inline))
bool clip(struct vm_engine *e, struct vmap_area *va, uint64_t s, uint64_t size,
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
		vmi_free_tree_insert(e, spare);
		return true;
	case NOTHING_FIT:
		break;
	}
	return false;
}

uint64_t vmi_free_tree_alloc(struct vm_engine *e, uint64_t size, uint64_t align, uint64_t vstart,
			     uint64_t vend, struct vmap_area **spare)
{
	struct vmap_area *va = lowest_match(e->free_root.node, size, align, vstart, vend);
	uint64_t s;

	if (!va)
		return 0;
	s = fit_start(va, size, align, vstart);
	if (clip(e, va, s, size, *spare))
		*spare = NULL;
	return s;
}

/* The highest aligned fit of size inside [vstart, vend): what
 * pcpu_get_vm_areas() takes, walking the free list down from the top
 * (pvm_find_va_enclose_addr(), pvm_determine_end_from_reverse()).  O(n) in
 * the free ranges it passes, as the kernel's walk; 0 if none. */
uint64_t vmi_free_tree_alloc_top(struct vm_engine *e, uint64_t size, uint64_t align,
				 uint64_t vstart, uint64_t vend, struct vmap_area **spare)
{
	for (struct list_node *l = e->free_list.prev; l != &e->free_list; l = l->prev) {
		struct vmap_area *va = list_entry(l, struct vmap_area, list);
		uint64_t end = (va->va_end < vend ? va->va_end : vend) & ~(align - 1), s;

		if (va->va_end <= vstart)
			break;
		if (end < size || end <= va->va_start)
			continue;
		s = (end - size) & ~(align - 1);
		if (s < va->va_start || s < vstart)
			continue;
		if (clip(e, va, s, size, *spare))
			*spare = NULL;
		return s;
	}
	return 0;
}

/* The whole vmalloc range, free. */
int vmi_free_tree_init(struct vm_engine *e)
{
	struct vmap_area *va = vmi_va_alloc(e);

	if (!va)
		return -ENOMEM;
	va->va_start = e->layout->vmalloc_start;
	va->va_end = e->layout->vmalloc_end;
	vmi_free_tree_insert(e, va);
	return 0;
}

/* ---- checking ------------------------------------------------------------------- */

static uint64_t recompute_max(const struct rb_node *n, bool *ok)
{
	const struct vmap_area *va;
	uint64_t m, l, r;

	if (!n)
		return 0;
	va = rb_entry(n, struct vmap_area, rb);
	l = recompute_max(n->left, ok);
	r = recompute_max(n->right, ok);
	m = va->va_end - va->va_start;
	if (l > m)
		m = l;
	if (r > m)
		m = r;
	if (m != va->subtree_max_size)
		*ok = false;
	return m;
}

int vmi_free_tree_check(struct vm_engine *e, kva_range_fn *fn, void *ctx, char *msg, size_t msglen)
{
	struct rb_node *n = vmi_rb_first(&e->free_root);
	bool ok = true;
	int r;

	if (vmi_rb_check(&e->free_root) < 0)
		return vmi_check_fail(msg, msglen, "the free KVA tree breaks the red-black rules");
	recompute_max(e->free_root.node, &ok);
	if (!ok)
		return vmi_check_fail(msg, msglen, "free KVA tree: a subtree_max_size is stale");
	/* The tree's order must be the list's order. */
	for (struct list_node *l = e->free_list.next; l != &e->free_list; l = l->next, n = vmi_rb_next(n)) {
		struct vmap_area *va = list_entry(l, struct vmap_area, list);

		if (&va->rb != n)
			return vmi_check_fail(msg, msglen, "free list and free tree disagree at %#llx",
				    (unsigned long long)va->va_start);
		if (va->va_end <= va->va_start)
			return vmi_check_fail(msg, msglen, "empty free range at %#llx",
				    (unsigned long long)va->va_start);
		if (l->next != &e->free_list &&
		    list_entry(l->next, struct vmap_area, list)->va_start <= va->va_end)
			return vmi_check_fail(msg, msglen, "free ranges at %#llx and after touch or overlap",
				    (unsigned long long)va->va_start);
		r = fn(ctx, va->va_start, va->va_end, 'f');
		if (r)
			return r;
	}
	if (n)
		return vmi_check_fail(msg, msglen, "free tree has more ranges than the free list");
	return 0;
}
