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
#include "vmap_busy.h"

static inline struct vmap_area *rb_va(struct rb_node *n)
{
	return n ? rb_entry(n, struct vmap_area, rb) : NULL;
}

/* ---- the hash by start address -------------------------------------------- */

/* More buckets once there are more areas than buckets (vmi_busy_insert). */
void vmi_busy_hash_grow(struct vm_engine *e)
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
			uint64_t k = vmi_busy_hash_idx(e, va->va_start);

			nx = va->hnext;
			va->hnext = t[k];
			t[k] = va;
		}
	}
	free(old);
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

/* ---- into the kernel's allocator ---------------------------------------------- */

uint64_t vmi_largest_free(const struct vm_engine *e)
{
	return e->k->kva->largest_free(e);
}

/* _vm_unmap_aliases(): the vmap blocks' dirty ranges and fragmented
 * blocks, then the lazy purge, whose flush covers the blocks' too. */
void vm_purge(struct vm_engine *e)
{
	uint64_t purges;
	bool flush;

	VMI_CALL(e);
	if (!e)
		return;
	vmi_run_due_work(e);
	flush = vmi_vmap_block_unmap_aliases(e);
	purges = e->nr_purges;
	e->k->kva->purge(e, false);
	if (flush && e->nr_purges == purges)
		e->nr_tlb_flushes++;
	vmi_punch_flush(e);
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
