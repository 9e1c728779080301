/* vmap_busy.h -- the busy KVA ranges, which every kernel keeps alike: an
 * address-ordered red-black tree, the same ranges in an address-ordered
 * list (O(1) neighbours), and a hash by start address (the usual lookup: an
 * area's own start).  4.19 also keeps its lazily freed ranges in the tree
 * and list, as its vmap_area_root does; they are never in the hash.  6.18
 * spreads its busy trees over the vmap nodes only to spread lock
 * contention: one tree holds the same ranges here, and /proc/vmallocinfo
 * prints them node by node as the kernel does.
 *
 * These run on every vmalloc and vfree, from each kernel's KVA allocator,
 * so they are inline; the rest (lookups inside an area, growing the hash)
 * is in vmap_area.c.
 *
 * Invariants: tree, list and hint hold the same ranges in the same order,
 * never overlapping; the hash holds exactly those with a vm_struct (nr_busy
 * of them); busy_hint is NULL or one of them.
 */
#ifndef VMCORE_VMAP_BUSY_H
#define VMCORE_VMAP_BUSY_H

#include "vm-internal.h"

static inline uint64_t vmi_busy_hash_idx(const struct vm_engine *e, uint64_t addr)
{
	return ((addr >> VM_PAGE_SHIFT) * 0x9E3779B97F4A7C15ull >> 32) & e->busy_hash_mask;
}

void vmi_busy_hash_grow(struct vm_engine *e);

/* va (its range set) into the tree, list and hash. */
static inline void vmi_busy_insert(struct vm_engine *e, struct vmap_area *va)
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
			if (va->va_start < rb_entry(*link, struct vmap_area, rb)->va_start) {
				link = &(*link)->left;
			} else {
				prev = rb_entry(*link, struct vmap_area, rb);
				link = &(*link)->right;
			}
		}
	}
	vmi_rb_insert(&e->busy_root, &va->rb, parent, link, NULL);
	list_add_after(&va->list, prev ? &prev->list : &e->busy_list);
	e->busy_hint = va;
	e->nr_busy++;
	if (e->nr_busy > e->busy_hash_mask + 1)
		vmi_busy_hash_grow(e);
	k = vmi_busy_hash_idx(e, va->va_start);
	va->hnext = e->busy_hash[k];
	e->busy_hash[k] = va;
}

/* Out of the hash only (4.19's lazy ranges stay in the tree).  An area
 * missing from its chain is a bug: at VM_DEBUG >= 1 reported (nothing is
 * unlinked) instead of walking off the chain's end. */
static inline void vmi_busy_hash_del(struct vm_engine *e, struct vmap_area *va)
{
	struct vmap_area **pp = &e->busy_hash[vmi_busy_hash_idx(e, va->va_start)];

	while (*pp != va) {
		if (VM_DEBUG >= 1 && !*pp) {
			vmi_bug(e, "busy area 0x%llx-0x%llx is not in its hash chain",
				(unsigned long long)va->va_start, (unsigned long long)va->va_end);
			return;
		}
		pp = &(*pp)->hnext;
	}
	*pp = va->hnext;
	va->hnext = NULL;
	VMI_SUB(e, e->nr_busy, 1);
}

/* Out of the tree and list. */
static inline void vmi_busy_tree_erase(struct vm_engine *e, struct vmap_area *va)
{
	if (e->busy_hint == va)
		e->busy_hint = va->list.prev == &e->busy_list ? NULL :
			list_entry(va->list.prev, struct vmap_area, list);
	vmi_rb_erase(&e->busy_root, &va->rb, NULL);
	list_del(&va->list);
}

static inline void vmi_busy_erase(struct vm_engine *e, struct vmap_area *va)
{
	vmi_busy_hash_del(e, va);
	vmi_busy_tree_erase(e, va);
}

/* The busy area starting at addr, or NULL. */
static inline struct vmap_area *vmi_find_busy_va_start(const struct vm_engine *e, uint64_t addr)
{
	struct vmap_area *va = e->busy_hash[vmi_busy_hash_idx(e, addr)];

	while (va && va->va_start != addr)
		va = va->hnext;
	return va;
}

static inline struct vmap_area *vmi_va_alloc(struct vm_engine *e)
{
	return vmi_cache_alloc(&e->va_cache);
}

#endif /* VMCORE_VMAP_BUSY_H */
