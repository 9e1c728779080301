/* buddy.c -- the buddy page allocator: free_area[0..MAX_PAGE_ORDER] per zone,
 * split on allocation (expand), merge with the buddy pfn ^ (1 << order) on
 * free, GFP zone selection, zonelist fallback across zones and nodes, and
 * min/low/high watermarks with lowmem reserves.
 *
 * Invariants: a free block of order k starts at a pfn aligned to 2^k, lies
 * inside one zone, and only its head frame carries PG_buddy (with order k);
 * a block and its buddy are never both free at the same order below the
 * maximum (they would have merged); deferred blocks are max-order, free,
 * untouched and counted in nr_free[MAX_ORDER] by vmi_zone_nr_free().
 */
#include <errno.h>
#include <string.h>

#include "vm-internal.h"

#define MAX_ORDER_NR_PAGES (1ull << VM_MAX_PAGE_ORDER)

/* ---- free lists ----------------------------------------------------------- */

static void add_to_free_list(struct vm_engine *e, struct zone *z, uint64_t pfn, unsigned order)
{
	struct free_area *area = &z->free_area[order];
	struct page *p = pfn_to_page(e, pfn);

	p->prev = PFN_NONE;
	p->next = area->head;
	if (area->head != PFN_NONE)
		pfn_to_page(e, area->head)->prev = (uint32_t)pfn;
	area->head = (uint32_t)pfn;
	p->flags = (uint8_t)((p->flags & PG_dirty) | PG_buddy);
	p->order = (uint8_t)order;
	area->nr_free++;
}

static void del_from_free_list(struct vm_engine *e, struct zone *z, uint64_t pfn, unsigned order)
{
	struct free_area *area = &z->free_area[order];
	struct page *p = pfn_to_page(e, pfn);

	if (p->prev != PFN_NONE)
		pfn_to_page(e, p->prev)->next = p->next;
	else
		area->head = p->next;
	if (p->next != PFN_NONE)
		pfn_to_page(e, p->next)->prev = p->prev;
	p->next = p->prev = 0;
	p->flags &= (uint8_t)~PG_buddy;
	p->order = 0;
	VMI_SUB(e, area->nr_free, 1);
}

/* Free [start, end) as the largest aligned blocks that fit: they cannot
 * merge with each other, so no merge pass is needed. */
static void free_range_eager(struct vm_engine *e, struct zone *z, uint64_t start, uint64_t end)
{
	while (start < end) {
		unsigned order = VM_MAX_PAGE_ORDER;

		while (order > 0 && ((start & ((1ull << order) - 1)) || start + (1ull << order) > end))
			order--;
		add_to_free_list(e, z, start, order);
		start += 1ull << order;
	}
}

void vmi_buddy_init_zone(struct vm_engine *e, struct zone *z)
{
	uint64_t astart, aend;

	z->free_pages = z->managed;
	z->deferred_pfn = z->deferred_end = z->start_pfn;
	if (!z->managed)
		return;
	astart = (z->start_pfn + MAX_ORDER_NR_PAGES - 1) & ~(MAX_ORDER_NR_PAGES - 1);
	aend = z->end_pfn & ~(MAX_ORDER_NR_PAGES - 1);
	if (astart >= aend) {
		free_range_eager(e, z, z->start_pfn, z->end_pfn);
		return;
	}
	/* Only the unaligned edges are touched now; the aligned middle stays
	 * deferred until allocations reach it. */
	free_range_eager(e, z, z->start_pfn, astart);
	free_range_eager(e, z, aend, z->end_pfn);
	z->deferred_pfn = astart;
	z->deferred_end = aend;
}

uint64_t vmi_zone_nr_free(const struct zone *z, unsigned order)
{
	uint64_t n = z->free_area[order].nr_free;

	if (order == VM_MAX_PAGE_ORDER)
		n += (z->deferred_end - z->deferred_pfn) >> VM_MAX_PAGE_ORDER;
	return n;
}

/* ---- watermarks --------------------------------------------------------- */

static uint64_t isqrt(uint64_t x)
{
	uint64_t r = 0, bit = 1ull << 62;

	while (bit > x)
		bit >>= 2;
	while (bit) {
		if (x >= r + bit) {
			x -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	return r;
}

static bool layout_has(const struct vm_engine *e, enum vm_zone_type t)
{
	for (unsigned n = 0; n < e->nr_nodes; n++)
		if (e->zones[n][t].managed)
			return true;
	return false;
}

/* Zones the watermark split treats as HighMem: HighMem itself, and
 * ZONE_MOVABLE where the kernel caps it like HighMem (6.18 always; 4.19 when
 * it is carved out of HighMem, is_highmem_idx()). */
static bool wmark_highmem(const struct vm_engine *e, int t, bool has_highmem)
{
	if (t == VM_ZONE_HIGHMEM)
		return true;
	return t == VM_ZONE_MOVABLE && (!e->k->movable_is_lowmem || has_highmem);
}

/*
 * init_per_zone_wmark_min() and __setup_per_zone_wmarks():
 *   min_free_kbytes = sqrt(lowmem_kbytes * 16), lowmem being the zones up
 *   to Normal, clamped to [128, the kernel's maximum];
 *   each lowmem zone's min is its share of that by size; a HighMem-like
 *   zone's min is managed / 1024 clamped to [32, 128] (nothing atomic can
 *   use it), but its low/high distance still comes from its uncapped share:
 *   delta = max(share / 4, managed * watermark_scale_factor (10) / 10000);
 *   low = min + delta, high = min + 2 * delta.
 * The lowmem reserve keeps allocations that could have used a higher zone
 * from draining a lower one (ratios 256 for DMA and DMA32, 32 for Normal).
 */
void vmi_setup_watermarks(struct vm_engine *e)
{
	static const unsigned ratio[VM_NR_ZONES] = { 256, 256, 32, 0, 0 };
	uint64_t lowmem_kb = 0, lowmem_pages = 0, min_kb, pages_min;
	bool has_highmem = layout_has(e, VM_ZONE_HIGHMEM);

	for (unsigned n = 0; n < e->nr_nodes; n++) {
		for (int t = 0; t < VM_NR_ZONES; t++) {
			uint64_t managed = e->zones[n][t].managed;

			if (t <= VM_ZONE_NORMAL)
				lowmem_kb += managed << (VM_PAGE_SHIFT - 10);
			if (!wmark_highmem(e, t, has_highmem))
				lowmem_pages += managed;
		}
	}
	min_kb = isqrt(lowmem_kb * 16);
	if (min_kb < 128)
		min_kb = 128;
	if (min_kb > e->k->min_free_kbytes_max)
		min_kb = e->k->min_free_kbytes_max;
	pages_min = min_kb >> (VM_PAGE_SHIFT - 10);

	for (unsigned n = 0; n < e->nr_nodes; n++) {
		for (int t = 0; t < VM_NR_ZONES; t++) {
			struct zone *z = &e->zones[n][t];
			uint64_t share, min, delta;

			if (!z->managed)
				continue;
			share = lowmem_pages ? pages_min * z->managed / lowmem_pages : 0;
			if (wmark_highmem(e, t, has_highmem)) {
				min = z->managed / 1024;
				min = min < 32 ? 32 : min > 128 ? 128 : min;
			} else {
				min = share;
			}
			delta = z->managed * 10 / 10000;
			if (delta < share / 4)
				delta = share / 4;
			z->wmark_min = min;
			z->wmark_low = min + delta;
			z->wmark_high = min + 2 * delta;

			for (int j = 0; j < VM_NR_ZONES; j++) {
				uint64_t above = 0;

				z->lowmem_reserve[j] = 0;
				if (j <= t || !ratio[t])
					continue;
				for (int k = t + 1; k <= j; k++)
					above += e->zones[n][k].managed;
				z->lowmem_reserve[j] = above / ratio[t];
			}
		}
	}
}

/*
 * __zone_watermark_ok(): a zone serves a request while its free pages stay
 * above min (plus the lowmem reserve against the request's highest zone).
 * __GFP_HIGH may use half of min (ALLOC_MIN_RESERVE), a request that cannot
 * sleep a quarter of the rest on top (ALLOC_NON_BLOCK).  __GFP_NOFAIL has no
 * reserve of its own: its last attempt (__alloc_pages_cpuset_fallback) uses
 * the kernel's nofail flags, min >> nofail_reserve_shift of min, and with
 * no reclaim to wait for here, it fails after that.  __GFP_MEMALLOC ignores
 * the watermarks (ALLOC_NO_WATERMARKS), as reclaim itself does.
 */
static bool zone_watermark_ok(const struct vm_engine *e, const struct zone *z, unsigned order,
			      int highest, gfp_t gfp)
{
	int64_t min = (int64_t)z->wmark_min, m = min;
	int64_t free = (int64_t)z->free_pages - (int64_t)((1ull << order) - 1);

	if (gfp & __GFP_MEMALLOC)
		return free > 0;
	if (gfp & __GFP_HIGH) {
		m -= m / 2;
		if (!(gfp & __GFP_DIRECT_RECLAIM))
			m -= m / 4;
	}
	if ((gfp & (__GFP_NOFAIL | __GFP_DIRECT_RECLAIM)) == (__GFP_NOFAIL | __GFP_DIRECT_RECLAIM)) {
		int64_t nofail = min - (min >> e->k->nofail_reserve_shift);

		if (nofail < m)
			m = nofail;
	}
	return free > m + (int64_t)z->lowmem_reserve[highest];
}

/* ---- allocation ----------------------------------------------------------- */

/* The highest zone a request may use, as the kernel's gfp_zone(). */
static int gfp_zone(const struct vm_engine *e, gfp_t gfp)
{
	if (gfp & __GFP_DMA)
		return VM_ZONE_DMA;
	if (gfp & __GFP_DMA32)
		return e->layout->dma32_end > e->layout->dma_end ? VM_ZONE_DMA32 : VM_ZONE_NORMAL;
	if ((gfp & (__GFP_HIGHMEM | __GFP_MOVABLE)) == (__GFP_HIGHMEM | __GFP_MOVABLE) &&
	    layout_has(e, VM_ZONE_MOVABLE))
		return VM_ZONE_MOVABLE;
	if (gfp & __GFP_HIGHMEM)
		return VM_ZONE_HIGHMEM;
	return VM_ZONE_NORMAL;
}

int vmi_check_gfp(const struct vm_engine *e, gfp_t gfp, int node)
{
	unsigned zbits = !!(gfp & __GFP_DMA) + !!(gfp & __GFP_DMA32) + !!(gfp & __GFP_HIGHMEM);

	if (gfp & ~GFP_VALID_MASK)
		return -EINVAL;
	if (zbits > 1)
		return -EINVAL;
	if (node != NUMA_NO_NODE && (node < 0 || (unsigned)node >= e->nr_nodes))
		return -EINVAL;
	return 0;
}

/* Take a block of exactly this order from the smallest free block that can
 * supply it, splitting the rest back onto the lower lists. */
static uint64_t rmqueue_smallest(struct vm_engine *e, struct zone *z, unsigned order)
{
	for (unsigned o = order; o < VM_NR_ORDERS; o++) {
		uint64_t pfn;

		if (z->free_area[o].head != PFN_NONE) {
			pfn = z->free_area[o].head;
			del_from_free_list(e, z, pfn, o);
		} else if (o == VM_MAX_PAGE_ORDER && z->deferred_pfn < z->deferred_end) {
			pfn = z->deferred_pfn;
			z->deferred_pfn += MAX_ORDER_NR_PAGES;
		} else {
			continue;
		}
		/* expand: keep the lower half, free the upper halves. */
		while (o > order) {
			o--;
			add_to_free_list(e, z, pfn + (1ull << o), o);
		}
		VMI_SUB(e, z->free_pages, 1ull << order);
		return pfn;
	}
	return PFN_NONE;
}

static void prep_new_page(struct vm_engine *e, uint64_t pfn, unsigned order,
			  uint8_t owner, gfp_t gfp)
{
	uint64_t n = 1ull << order;

	for (uint64_t i = 0; i < n; i++) {
		struct page *p = pfn_to_page(e, pfn + i);

		p->flags = (uint8_t)((p->flags & PG_dirty) | owner);
		p->order = 0;
		p->private = 0;
		if (gfp & __GFP_ZERO)
			vmi_clear_frame(e, pfn + i);
	}
	pfn_to_page(e, pfn)->flags |= PG_head;
	pfn_to_page(e, pfn)->order = (uint8_t)order;
}

int vmi_alloc_pages(struct vm_engine *e, gfp_t gfp, unsigned order, int node,
		    uint8_t owner, uint64_t *ret_pfn)
{
	int highest = gfp_zone(e, gfp);
	unsigned pref = node == NUMA_NO_NODE ? 0 : (unsigned)node;
	unsigned nr = (gfp & __GFP_THISNODE) ? 1 : e->nr_nodes;

	for (unsigned i = 0; i < nr; i++) {
		unsigned nid = e->node_order[pref][i];

		for (int t = highest; t >= 0; t--) {
			struct zone *z = &e->zones[nid][t];
			uint64_t pfn;

			if (!z->managed || !zone_watermark_ok(e, z, order, highest, gfp))
				continue;
			pfn = rmqueue_smallest(e, z, order);
			if (pfn == PFN_NONE)
				continue;
			prep_new_page(e, pfn, order, owner, gfp);
			*ret_pfn = pfn;
			return 0;
		}
	}
	return -ENOMEM;
}

/*
 * nr order-0 frames into pfns, exactly as nr calls of vmi_alloc_pages(gfp, 0,
 * node) would take them, but walking the zonelist once (the kernel's
 * alloc_pages_bulk): nothing is freed meanwhile, so a zone that fails its
 * watermark or runs dry would fail every later call too.  Returns how many
 * were taken (fewer than nr only when the next single call would fail).
 */
uint64_t vmi_alloc_pages_bulk(struct vm_engine *e, gfp_t gfp, int node, uint8_t owner,
			      uint64_t nr, uint32_t *pfns)
{
	int highest = gfp_zone(e, gfp);
	unsigned pref = node == NUMA_NO_NODE ? 0 : (unsigned)node;
	unsigned nn = (gfp & __GFP_THISNODE) ? 1 : e->nr_nodes;
	uint64_t got = 0;

	for (unsigned i = 0; i < nn && got < nr; i++) {
		unsigned nid = e->node_order[pref][i];

		for (int t = highest; t >= 0 && got < nr; t--) {
			struct zone *z = &e->zones[nid][t];

			if (!z->managed)
				continue;
			while (got < nr && zone_watermark_ok(e, z, 0, highest, gfp)) {
				uint64_t pfn = rmqueue_smallest(e, z, 0);

				if (pfn == PFN_NONE)
					break;
				prep_new_page(e, pfn, 0, owner, gfp);
				pfns[got++] = (uint32_t)pfn;
				if (!(got & 0xffff))
					vmi_cond_resched(e);
			}
		}
	}
	return got;
}

/* ---- free ------------------------------------------------------------------ */

static bool page_is_buddy(struct vm_engine *e, const struct zone *z, uint64_t pfn, unsigned order)
{
	const struct page *p;

	if (pfn < z->start_pfn || pfn >= z->end_pfn)
		return false;
	p = pfn_to_page(e, pfn);
	return (p->flags & PG_buddy) && p->order == order;
}

static void free_pages_zone(struct vm_engine *e, struct zone *z, uint64_t pfn, unsigned order)
{
	uint64_t n = 1ull << order;

	for (uint64_t i = 0; i < n; i++) {
		struct page *p = pfn_to_page(e, pfn + i);

		p->flags &= PG_dirty;
		p->order = 0;
		p->private = 0;
		if (e->cfg.init_on_free)
			vmi_clear_frame(e, pfn + i);
	}
	z->free_pages += n;

	while (order < VM_MAX_PAGE_ORDER) {
		uint64_t buddy = pfn ^ (1ull << order);

		if (!page_is_buddy(e, z, buddy, order))
			break;
		del_from_free_list(e, z, buddy, order);
		pfn &= buddy;
		order++;
	}
	add_to_free_list(e, z, pfn, order);
}

void vmi_free_pages(struct vm_engine *e, uint64_t pfn, unsigned order)
{
	free_pages_zone(e, vmi_pfn_zone(e, pfn), pfn, order);
}

/* Order-0 frames back, in array order, the zone looked up again only when
 * a frame lies outside the last one (zones never overlap). */
void vmi_free_pages_bulk(struct vm_engine *e, const uint32_t *pfns, uint64_t nr)
{
	struct zone *z = NULL;

	for (uint64_t i = 0; i < nr; i++) {
		if (!z || pfns[i] < z->start_pfn || pfns[i] >= z->end_pfn)
			z = vmi_pfn_zone(e, pfns[i]);
		free_pages_zone(e, z, pfns[i], 0);
		if (!((i + 1) & 0xffff))
			vmi_cond_resched(e);
	}
}

/* ---- public entry points ---------------------------------------------------- */

int vm_alloc_pages(struct vm_engine *e, gfp_t gfp, unsigned order, int node, uint64_t *ret_pfn)
{
	uint64_t pfn;
	int r;

	VMI_CALL(e);
	if (!e || !ret_pfn || order > VM_MAX_PAGE_ORDER)
		return -EINVAL;
	r = vmi_check_gfp(e, gfp, node);
	if (r < 0)
		return r;
	r = vmi_alloc_pages(e, gfp, order, node, PG_user, &pfn);
	if (r < 0) {
		e->nr_alloc_failures++;
		if (!(gfp & __GFP_NOWARN))
			vmi_log(e, VM_LOG_WARNING, "page allocation failure: order:%u, mode:%#x",
				order, gfp);
		return r;
	}
	e->user_pages += 1ull << order;
	/* __GFP_ZERO's holes are made before the call returns: nothing of a
	 * frame's old bytes outlives the call in the frames memfd. */
	vmi_punch_flush(e);
	*ret_pfn = pfn;
	return 0;
}

static int check_user_block(const struct vm_engine *e, uint64_t pfn, unsigned *ret_order)
{
	const struct page *p;

	if (pfn >= e->nr_pages)
		return -EINVAL;
	p = pfn_to_page(e, pfn);
	if ((p->flags & (PG_head | PG_user)) != (PG_head | PG_user))
		return -EINVAL;
	*ret_order = p->order;
	return 0;
}

int vm_free_pages(struct vm_engine *e, uint64_t pfn, unsigned order)
{
	unsigned have;

	VMI_CALL(e);
	if (!e || order > VM_MAX_PAGE_ORDER || check_user_block(e, pfn, &have) < 0 || have != order)
		return -EINVAL;
	/* A frame still mapped by a vmap area cannot go back to the allocator. */
	for (uint64_t i = 0; i < (1ull << order); i++)
		if (pfn_to_page(e, pfn + i)->mapcount)
			return -EBUSY;
	vmi_free_pages(e, pfn, order);
	VMI_SUB(e, e->user_pages, 1ull << order);
	vmi_punch_flush(e);
	return 0;
}

static int phys_range(const struct vm_engine *e, uint64_t pfn, uint64_t offset, uint64_t len)
{
	unsigned order;

	if (check_user_block(e, pfn, &order) < 0)
		return -EINVAL;
	if (offset > (VM_PAGE_SIZE << order) || len > (VM_PAGE_SIZE << order) - offset)
		return -EINVAL;
	return 0;
}

/* Frame by frame: a clean frame is a hole and reads as zeros untouched. */
static void phys_copy_out(const struct vm_engine *e, uint64_t pfn, uint64_t offset, uint8_t *buf,
			  uint64_t len)
{
	while (len) {
		uint64_t f = pfn + (offset >> VM_PAGE_SHIFT), off = offset & (VM_PAGE_SIZE - 1);
		uint64_t n = VM_PAGE_SIZE - off < len ? VM_PAGE_SIZE - off : len;

		if (pfn_to_page(e, f)->flags & PG_dirty)
			memcpy(buf, pfn_to_virt(e, f) + off, n);
		else
			memset(buf, 0, n);
		buf += n;
		offset += n;
		len -= n;
	}
}

int vm_phys_read(struct vm_engine *e, uint64_t pfn, uint64_t offset, void *buf, uint64_t len)
{
	if (!e || (!buf && len) || phys_range(e, pfn, offset, len) < 0)
		return -EINVAL;
	if (len)
		phys_copy_out(e, pfn, offset, buf, len);
	return 0;
}

int vm_phys_write(struct vm_engine *e, uint64_t pfn, uint64_t offset, const void *buf, uint64_t len)
{
	uint64_t first, last, clean = 0;

	VMI_CALL(e);
	if (!e || (!buf && len) || phys_range(e, pfn, offset, len) < 0)
		return -EINVAL;
	if (!len)
		return 0;
	first = offset >> VM_PAGE_SHIFT;
	last = (offset + len - 1) >> VM_PAGE_SHIFT;
	for (uint64_t f = first; f <= last; f++)
		clean += !(pfn_to_page(e, pfn + f)->flags & PG_dirty);
	if (vmi_resident_reserve(e, clean) < 0)
		return -ENOMEM;
	for (uint64_t f = first; f <= last; f++)
		vmi_frame_dirty(e, pfn + f);
	if (!e->replay)
		memcpy(pfn_to_virt(e, pfn) + offset, buf, len);
	return 0;
}
