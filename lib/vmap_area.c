/* vmap_area.c -- busy KVA ranges, which every kernel keeps alike, and the
 * calls into the kernel's own KVA allocator (e->k->kva: vmap_node.c for
 * 6.18, vmap_area_list.c for 4.19).
 *
 * Busy ranges live in an address-ordered red-black tree, the same ranges in
 * an address-ordered list (O(1) neighbours), and a hash by start address
 * (the usual lookup: an area's own start).  4.19 also keeps its lazily freed
 * ranges in the tree and list, as its vmap_area_root does; they are never in
 * the hash.  6.18 spreads its busy trees over the vmap nodes only to spread
 * lock contention: one tree holds the same ranges, and /proc/vmallocinfo
 * prints them node by node as the kernel does.
 *
 * Invariants: tree, list and hint hold the same ranges in the same order,
 * never overlapping; the hash holds exactly those with a vm_struct (nr_busy
 * of them); busy_hint is NULL or one of them.
 */
#include <errno.h>
#include <stdlib.h>

#include "vm-internal.h"

static inline struct vmap_area *rb_va(struct rb_node *n)
{
	return n ? rb_entry(n, struct vmap_area, rb) : NULL;
}

/* ---- the hash by start address -------------------------------------------- */

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

void vmi_busy_hash_del(struct vm_engine *e, struct vmap_area *va)
{
	struct vmap_area **pp = &e->busy_hash[busy_hash_idx(e, va->va_start)];

	while (*pp != va)
		pp = &(*pp)->hnext;
	*pp = va->hnext;
	va->hnext = NULL;
	e->nr_busy--;
}

/* ---- the tree and its list -------------------------------------------------- */

void vmi_busy_insert(struct vm_engine *e, struct vmap_area *va)
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

void vmi_busy_tree_erase(struct vm_engine *e, struct vmap_area *va)
{
	if (e->busy_hint == va)
		e->busy_hint = va->list.prev == &e->busy_list ? NULL :
			list_entry(va->list.prev, struct vmap_area, list);
	vmi_rb_erase(&e->busy_root, &va->rb, NULL);
	list_del(&va->list);
}

void vmi_busy_erase(struct vm_engine *e, struct vmap_area *va)
{
	vmi_busy_hash_del(e, va);
	vmi_busy_tree_erase(e, va);
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

/* ---- into the kernel's allocator ---------------------------------------------- */

struct vmap_area *vmi_va_alloc(struct vm_engine *e)
{
	return vmi_cache_alloc(&e->va_cache);
}

int vmi_alloc_vmap_area(struct vm_engine *e, uint64_t size, uint64_t align,
			uint64_t vstart, uint64_t vend, gfp_t gfp,
			struct vmap_area **ret_va)
{
	struct vmap_area *va = vmi_va_alloc(e);
	int r;

	if (!va)
		return -ENOMEM;
	va->vm = NULL;
	va->flags = 0;
	va->hnext = NULL;
	r = e->k->kva->alloc(e, va, size, align, vstart, vend, gfp);
	if (r < 0) {
		vmi_cache_free(&e->va_cache, va);
		return r;
	}
	*ret_va = va;
	return 0;
}

void vmi_free_vmap_area(struct vm_engine *e, struct vmap_area *va)
{
	va->vm = NULL;
	e->k->kva->unalloc(e, va);
}

void vmi_free_vmap_area_lazy(struct vm_engine *e, struct vmap_area *va)
{
	e->k->kva->free_lazy(e, va);
}

uint64_t vmi_largest_free(const struct vm_engine *e)
{
	return e->k->kva->largest_free(e);
}

void vm_purge(struct vm_engine *e)
{
	if (!e)
		return;
	vmi_run_due_work(e);
	e->k->kva->purge(e, false);
}

int vmi_kva_init(struct vm_engine *e)
{
	e->free_root.node = NULL;
	e->busy_root.node = NULL;
	list_init(&e->free_list);
	list_init(&e->busy_list);
	e->busy_hint = NULL;
	e->busy_hash_mask = 1023;
	e->busy_hash = calloc(e->busy_hash_mask + 1, sizeof(*e->busy_hash));
	if (!e->busy_hash)
		return -ENOMEM;
	return e->k->kva->init(e);
}

void vmi_kva_destroy(struct vm_engine *e)
{
	/* The nodes belong to va_cache, which the engine destroys whole. */
	if (e->k)
		e->k->kva->destroy(e);
	e->free_root.node = NULL;
	e->busy_root.node = NULL;
	list_init(&e->free_list);
	list_init(&e->busy_list);
	free(e->busy_hash);
	e->busy_hash = NULL;
	e->busy_hint = NULL;
}
