/* frame_map.c -- the physical map: what holds each frame, cell by cell, the
 * picture page-types draws from /proc/kpageflags and the anti-fragmentation
 * work drew one pixel per frame.
 *
 * The walk goes zone by zone in pfn order and steps a whole buddy block (or
 * a whole deferred run) at a time, so a machine of a terabyte with little in
 * use costs a few thousand steps and never reads the memmap it has not
 * touched.  Invariant of every cell it writes:
 *   Σ_class count[class] == frames of the cell,  free256 == 255 * free / frames
 * rounded down, 255 only when every frame is free.
 * Only reads the engine.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"

struct cell_walk {
	uint64_t start, end, fpc;
	uint8_t *class, *free256;
	uint64_t cur;                    /* the cell being counted */
	uint64_t next;                   /* first cell not yet written */
	uint64_t count[VM_NR_FRAME_CLASSES];
	const uint32_t *pa;              /* page-array pfns, sorted */
	size_t npa, ipa;
};

static void write_cell(struct cell_walk *w, uint64_t cell)
{
	uint64_t total = 0, free = 0;
	unsigned best = 0;

	for (unsigned c = 0; c < VM_NR_FRAME_CLASSES; c++) {
		total += w->count[c];
		if (c < VM_NR_ORDERS)
			free += w->count[c];
		if (w->count[c] > w->count[best])
			best = c;
	}
	w->class[cell] = (uint8_t)best;
	w->free256[cell] = total == 0 ? 0 : free == total ? 255 : (uint8_t)(free * 255 / total);
	memset(w->count, 0, sizeof(w->count));
}

/* Close every cell before 'cell': the one counted, and any the walk skipped
 * (none on a machine whose zones tile its nodes; written as empty). */
static void advance_to(struct cell_walk *w, uint64_t cell)
{
	while (w->next < cell) {
		write_cell(w, w->next);
		w->next++;
	}
	w->cur = cell;
}

/* Count [pfn, pfn + len) as class, clipped to the span. */
static void add_run(struct cell_walk *w, uint64_t pfn, uint64_t len, unsigned cls)
{
	uint64_t end = pfn + len;

	if (pfn < w->start)
		pfn = w->start;
	if (end > w->end)
		end = w->end;
	while (pfn < end) {
		uint64_t cell = (pfn - w->start) / w->fpc;
		uint64_t cell_end = w->start + (cell + 1) * w->fpc;
		uint64_t take = (end < cell_end ? end : cell_end) - pfn;

		if (cell != w->cur)
			advance_to(w, cell);
		w->count[cls] += take;
		pfn += take;
	}
}

static unsigned vmalloc_class(struct cell_walk *w, uint64_t pfn)
{
	while (w->ipa < w->npa && w->pa[w->ipa] < pfn)
		w->ipa++;
	return w->ipa < w->npa && w->pa[w->ipa] == pfn ? VM_FC_PAGE_ARRAY : VM_FC_VMALLOC;
}

/* The free block holding pfn, if the walk starts inside one. */
static bool block_around(const struct vm_engine *e, const struct zone *z, uint64_t pfn,
			 uint64_t *ret_head, unsigned *ret_order)
{
	for (unsigned k = 1; k <= VM_MAX_PAGE_ORDER; k++) {
		uint64_t head = pfn & ~((1ull << k) - 1);
		const struct page *p;

		if (head < z->start_pfn)
			break;
		p = pfn_to_page(e, head);
		if ((p->flags & PG_buddy) && p->order >= k && head + (1ull << p->order) > pfn) {
			*ret_head = head;
			*ret_order = p->order;
			return true;
		}
	}
	return false;
}

static void walk_zone(const struct vm_engine *e, const struct zone *z, struct cell_walk *w)
{
	uint64_t pfn = z->start_pfn > w->start ? z->start_pfn : w->start;
	uint64_t end = z->end_pfn < w->end ? z->end_pfn : w->end;
	uint64_t head;
	unsigned order;

	if (pfn >= end)
		return;
	if (block_around(e, z, pfn, &head, &order)) {
		add_run(w, pfn, head + (1ull << order) - pfn, VM_FC_FREE + order);
		pfn = head + (1ull << order);
	}
	while (pfn < end) {
		const struct page *p;

		if (pfn >= z->deferred_pfn && pfn < z->deferred_end) {
			add_run(w, pfn, z->deferred_end - pfn, VM_FC_FREE + VM_MAX_PAGE_ORDER);
			pfn = z->deferred_end;
			continue;
		}
		p = pfn_to_page(e, pfn);
		if (p->flags & PG_buddy) {
			add_run(w, pfn, 1ull << p->order, VM_FC_FREE + p->order);
			pfn += 1ull << p->order;
			continue;
		}
		if (p->flags & PG_vmalloc)
			add_run(w, pfn, 1, vmalloc_class(w, pfn));
		else if (p->flags & PG_pgtable)
			add_run(w, pfn, 1, VM_FC_PGTABLE);
		else
			add_run(w, pfn, 1, VM_FC_ALLOC_PAGES);
		pfn++;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The frames of every page-array area, sorted, so the walk can tell them
 * from the vmalloc pages they look like in the memmap. */
static int page_array_pfns(const struct vm_engine *e, uint32_t **ret, size_t *ret_n)
{
	size_t n = 0, cap = 0;
	uint32_t *v = NULL;

	for (const struct list_node *l = e->busy_list.next; l != &e->busy_list; l = l->next) {
		const struct vmap_area *va = list_entry(l, struct vmap_area, list);
		const struct vm_struct *vm = (va->flags & VA_LAZY) ? NULL : va->vm;

		if (!vm || !(vm->flags & VM_PAGE_ARRAY))
			continue;
		if (n + vm->nr_pages > cap) {
			size_t ncap = (n + vm->nr_pages) * 2;
			uint32_t *nv = realloc(v, ncap * sizeof(*v));

			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			cap = ncap;
		}
		memcpy(v + n, vm->pages, vm->nr_pages * sizeof(*v));
		n += vm->nr_pages;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_u32);
	*ret = v;
	*ret_n = n;
	return 0;
}

uint64_t vm_frame_map_scale(uint64_t nr_frames, uint64_t max_cells)
{
	uint64_t fpc = 1;

	if (!max_cells)
		return 1;
	while (fpc < (1ull << 40) && (nr_frames + fpc - 1) / fpc > max_cells)
		fpc <<= 1;
	return fpc;
}

int vm_frame_map(const struct vm_engine *e, uint64_t start_pfn, uint64_t end_pfn,
		 uint64_t frames_per_cell, uint8_t *class, uint8_t *free256)
{
	struct cell_walk w = { .start = start_pfn, .end = end_pfn, .fpc = frames_per_cell,
			       .class = class, .free256 = free256 };
	uint32_t *pa = NULL;
	uint64_t ncells;
	int r;

	if (!e || !class || !free256 || !frames_per_cell || start_pfn >= end_pfn ||
	    end_pfn > e->nr_pages)
		return -EINVAL;
	r = page_array_pfns(e, &pa, &w.npa);
	if (r)
		return r;
	w.pa = pa;
	ncells = (end_pfn - start_pfn + frames_per_cell - 1) / frames_per_cell;
	for (unsigned n = 0; n < e->nr_nodes; n++)
		for (int t = 0; t < VM_NR_ZONES; t++)
			if (e->zones[n][t].managed)
				walk_zone(e, &e->zones[n][t], &w);
	advance_to(&w, ncells);
	free(pa);
	return 0;
}
