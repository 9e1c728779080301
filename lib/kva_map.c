/* kva_map.c -- the vmalloc range's map: every byte of [VMALLOC_START,
 * VMALLOC_END) is free, busy (pages, or a vmap), a guard page, lazy or (on
 * 6.18) pooled, and the map says which holds most of each bin.
 *
 * Invariant: for every bin, free bytes = bin bytes - Σ the other states'
 * bytes, since busy, lazy and pooled ranges are disjoint (vm_check()'s
 * invariant).  Reads the busy list, 6.18's per-node lazy lists and pools and
 * 4.19's lazy ranges (kept in the busy list), never the free tree: the holes
 * are what is left.  Only reads the engine.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"

struct bins {
	uint64_t start, end, width, n;
	uint64_t (*bytes)[VM_NR_KVA_CLASSES];
};

static void add_range(struct bins *b, uint64_t s, uint64_t e, unsigned cls)
{
	if (s < b->start)
		s = b->start;
	if (e > b->end)
		e = b->end;
	while (s < e) {
		uint64_t i = (s - b->start) / b->width;
		uint64_t bin_end;

		if (i >= b->n)
			i = b->n - 1;
		bin_end = i == b->n - 1 ? b->end : b->start + (i + 1) * b->width;
		if (bin_end > e)
			bin_end = e;
		b->bytes[i][cls] += bin_end - s;
		s = bin_end;
	}
}

static void add_busy(struct bins *b, const struct vmap_area *va)
{
	const struct vm_struct *vm = va->vm;
	uint64_t body_end = va->va_end;

	if (va->flags & VA_LAZY) {
		add_range(b, va->va_start, va->va_end, VM_KC_LAZY);
		return;
	}
	if (!vm) {
		add_range(b, va->va_start, va->va_end, VM_KC_VMAP);
		return;
	}
	if (!(vm->flags & VM_NO_GUARD) && va_size(va) >= 2 * VM_PAGE_SIZE) {
		body_end = va->va_start + vm->size - VM_PAGE_SIZE;
		if (body_end > va->va_end - VM_PAGE_SIZE)
			body_end = va->va_end - VM_PAGE_SIZE;
		add_range(b, body_end, body_end + VM_PAGE_SIZE, VM_KC_GUARD);
		if (body_end + VM_PAGE_SIZE < va->va_end)
			add_range(b, body_end + VM_PAGE_SIZE, va->va_end,
				  (vm->flags & VM_ALLOC) ? VM_KC_VMALLOC : VM_KC_VMAP);
	}
	add_range(b, va->va_start, body_end, (vm->flags & VM_ALLOC) ? VM_KC_VMALLOC : VM_KC_VMAP);
}

static void add_list(struct bins *b, const struct list_node *head, unsigned cls)
{
	for (const struct list_node *l = head->next; l != head; l = l->next) {
		const struct vmap_area *va = list_entry(l, struct vmap_area, list);

		add_range(b, va->va_start, va->va_end, cls);
	}
}

int vm_kva_map(const struct vm_engine *e, uint64_t start, uint64_t end, uint64_t nbins,
	       uint8_t *class, uint8_t *busy256)
{
	struct bins b = { .start = start, .end = end, .n = nbins };

	if (!e || !class || !busy256 || !nbins || start >= end ||
	    start < e->layout->vmalloc_start || end > e->layout->vmalloc_end ||
	    nbins > (end - start) >> VM_PAGE_SHIFT)
		return -EINVAL;
	b.width = (end - start) / nbins;
	b.bytes = calloc(nbins, sizeof(*b.bytes));
	if (!b.bytes)
		return -ENOMEM;
	for (const struct list_node *l = e->busy_list.next; l != &e->busy_list; l = l->next)
		add_busy(&b, list_entry(l, struct vmap_area, list));
	for (unsigned n = 0; n < e->nr_vmap_nodes; n++) {
		const struct vmap_node *vn = &e->vn[n];

		add_list(&b, &vn->lazy, VM_KC_LAZY);
		for (unsigned i = 0; vn->pool && i < MAX_VA_SIZE_PAGES; i++)
			add_list(&b, &vn->pool[i].head, VM_KC_POOL);
	}
	for (uint64_t i = 0; i < nbins; i++) {
		uint64_t size = (i == nbins - 1 ? end : start + (i + 1) * b.width) - (start + i * b.width);
		uint64_t used = 0;
		unsigned best = VM_KC_FREE;

		for (unsigned c = 1; c < VM_NR_KVA_CLASSES; c++)
			used += b.bytes[i][c];
		b.bytes[i][VM_KC_FREE] = size - used;
		for (unsigned c = 1; c < VM_NR_KVA_CLASSES; c++)
			if (b.bytes[i][c] > b.bytes[i][best])
				best = c;
		class[i] = (uint8_t)best;
		busy256[i] = used == size ? 255 : (uint8_t)(used * 255 / size);
	}
	free(b.bytes);
	return 0;
}
