/* vmap_block.c -- vm_map_ram() and vm_unmap_ram(): the kernel's per-CPU
 * KVA allocator for short-lived mappings of a few pages (mm/vmalloc.c,
 * "Per cpu kva allocator"; the same in 4.19 and 6.18 but where the table
 * says otherwise).
 *
 * A mapping of at most VMAP_MAX_ALLOC pages (BITS_PER_LONG: 64 on x86_64,
 * 32 on i386) is cut from a vmap block: one KVA range of VMAP_BLOCK_SIZE,
 * aligned to its size, taken from the machine's KVA allocator like any
 * other (alloc_vmap_area(), so 6.18's vmap node pools serve it too) but
 * without a vm_struct and without a guard page.  A block serves the CPU
 * that made it: vb_alloc() walks that CPU's queue of blocks with room and
 * bumps the first one that has 2^order pages left at its tail, order the
 * mapping's size rounded up to a power of two.  Nothing is ever handed out
 * twice: an unmapped range becomes "dirty" (its PTEs are gone, a TLB may
 * still hold them) and the block is freed -- its range lazily, like a
 * vfree'd one -- only once every page of it is dirty.  Larger mappings
 * take a range of their own, again without a guard page.
 *
 *   VMAP_BBMAP_BITS = min(1024, max(2 * VMAP_MAX_ALLOC,
 *                     VMALLOC_PAGES / roundup_pow_of_two(NR_CPUS) / 16))
 * with VMALLOC_SPACE 128 GiB (64-bit) or 128 MiB (32-bit) and NR_CPUS the
 * layout's CONFIG_NR_CPUS (8192 on x86_64: 256 pages, 1 MiB blocks; 64 on
 * i386: 64 pages, 256 KiB blocks).
 *
 * The kernel keeps no record of a mapping's size: vm_unmap_ram() trusts its
 * caller.  Here every live mapping records its page count where it starts
 * (count_at), so that an unmap that does not name a live mapping exactly is
 * refused (-EINVAL) instead of tearing down someone else's pages.
 *
 * Invariants (vmi_vmap_block_check):
 *   per block: used + dirty + free == VMAP_BBMAP_BITS, where used counts
 *     the pages of live mappings rounded up to their order, free is the
 *     untouched tail [VMAP_BBMAP_BITS - free, VMAP_BBMAP_BITS), and no used
 *     page lies in it;
 *   a block is on its CPU's queue iff free > 0; dirty < VMAP_BBMAP_BITS;
 *   exactly the first count pages of each live mapping are mapped;
 *   map_ram_pages == Σ mapped pages of live mappings, blocks and big ones.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"
#include "vmap_busy.h"

#define VMAP_BBMAP_BITS_MAX 1024u
#define VMALLOC_SPACE_64    (128ull << 30)
#define VMALLOC_SPACE_32    (128ull << 20)

struct vmap_block_queue {
	struct list_node free;          /* blocks this CPU made that have room, oldest first */
};

struct vmap_block {
	struct vmap_area *va;           /* the block's range (VA_VMAP_RAM | VA_VMAP_BLOCK) */
	unsigned free;                  /* pages never handed out: the tail */
	unsigned dirty;                 /* pages unmapped since, not reusable */
	unsigned dirty_min, dirty_max;  /* the dirty range not yet flushed, [min, max) */
	unsigned cpu;                   /* whose queue lists it */
	bool queued;                    /* on that queue */
	struct list_node free_list;
	struct vmap_block *hnext;       /* e->vb_hash chain */
	uint64_t *used_map;             /* a bit per page of a live mapping (order-rounded) */
	uint8_t *count_at;              /* pages of the live mapping starting at page i, 0: none */
};

static inline uint64_t block_size(const struct vm_engine *e)
{
	return (uint64_t)e->vb_bits << VM_PAGE_SHIFT;
}

/* addr_to_vb_idx() */
static inline uint64_t vb_idx(const struct vm_engine *e, uint64_t addr)
{
	return (addr - (e->layout->vmalloc_start & ~(block_size(e) - 1))) / block_size(e);
}

static inline uint64_t vb_bucket(const struct vm_engine *e, uint64_t idx)
{
	return (idx * 0x9E3779B97F4A7C15ull >> 32) & e->vb_hash_mask;
}

/* get_order(): the smallest order holding n pages. */
static unsigned pages_order(uint64_t n)
{
	unsigned o = 0;

	while ((1ull << o) < n)
		o++;
	return o;
}

static void bits_set(uint64_t *map, unsigned from, unsigned n, bool on)
{
	for (unsigned i = from; i < from + n; i++) {
		if (on)
			map[i / 64] |= 1ull << (i % 64);
		else
			map[i / 64] &= ~(1ull << (i % 64));
	}
}

static bool bit_test(const uint64_t *map, unsigned i)
{
	return map[i / 64] & (1ull << (i % 64));
}

/* ---- set-up ----------------------------------------------------------------------- */

int vmi_vmap_block_init(struct vm_engine *e)
{
	bool wide = e->layout->ptr_size == 8;
	uint64_t pages = (wide ? VMALLOC_SPACE_64 : VMALLOC_SPACE_32) >> VM_PAGE_SHIFT;
	uint64_t nr_cpus = 1, bits;

	e->vmap_max_alloc = wide ? 64 : 32;          /* BITS_PER_LONG */
	while (nr_cpus < e->layout->max_cpus)
		nr_cpus <<= 1;
	bits = pages / nr_cpus / 16;
	if (bits < 2ull * e->vmap_max_alloc)
		bits = 2ull * e->vmap_max_alloc;
	if (bits > VMAP_BBMAP_BITS_MAX)
		bits = VMAP_BBMAP_BITS_MAX;
	e->vb_bits = (unsigned)bits;
	e->vbq = calloc(e->nr_cpus, sizeof(*e->vbq));
	e->vb_hash_mask = 63;
	e->vb_hash = calloc(e->vb_hash_mask + 1, sizeof(*e->vb_hash));
	if (!e->vbq || !e->vb_hash)
		return -ENOMEM;
	for (unsigned c = 0; c < e->nr_cpus; c++)
		list_init(&e->vbq[c].free);
	return 0;
}

void vmi_vmap_block_destroy(struct vm_engine *e)
{
	/* The blocks' ranges belong to va_cache, which goes whole. */
	if (e->vb_hash) {
		for (uint64_t i = 0; i <= e->vb_hash_mask; i++) {
			for (struct vmap_block *vb = e->vb_hash[i], *nx; vb; vb = nx) {
				nx = vb->hnext;
				free(vb);
			}
		}
	}
	free(e->vb_hash);
	free(e->vbq);
	e->vb_hash = NULL;
	e->vbq = NULL;
	e->nr_vmap_blocks = 0;
}

/* ---- the block index ------------------------------------------------------------------ */

static struct vmap_block *vb_find(const struct vm_engine *e, uint64_t addr)
{
	uint64_t idx;

	if (addr < e->layout->vmalloc_start || addr >= e->layout->vmalloc_end)
		return NULL;
	idx = vb_idx(e, addr);
	for (struct vmap_block *vb = e->vb_hash[vb_bucket(e, idx)]; vb; vb = vb->hnext)
		if (vb_idx(e, vb->va->va_start) == idx)
			return vb;
	return NULL;
}

/* More buckets once there are more blocks than buckets; a failure only
 * makes the chains longer. */
static void vb_hash_grow(struct vm_engine *e)
{
	uint64_t nb = (e->vb_hash_mask + 1) * 2, ob = e->vb_hash_mask + 1;
	struct vmap_block **t = calloc(nb, sizeof(*t)), **old = e->vb_hash;

	if (!t)
		return;
	e->vb_hash = t;
	e->vb_hash_mask = nb - 1;
	for (uint64_t i = 0; i < ob; i++) {
		for (struct vmap_block *vb = old[i], *nx; vb; vb = nx) {
			uint64_t k = vb_bucket(e, vb_idx(e, vb->va->va_start));

			nx = vb->hnext;
			vb->hnext = t[k];
			t[k] = vb;
		}
	}
	free(old);
}

static void vb_hash_del(struct vm_engine *e, struct vmap_block *vb)
{
	struct vmap_block **pp = &e->vb_hash[vb_bucket(e, vb_idx(e, vb->va->va_start))];

	while (*pp != vb) {
		if (VM_DEBUG >= 1 && !*pp) {
			vmi_bug(e, "vmap block 0x%llx is not in its index chain",
				(unsigned long long)vb->va->va_start);
			return;
		}
		pp = &(*pp)->hnext;
	}
	*pp = vb->hnext;
	VMI_SUB(e, e->nr_vmap_blocks, 1);
}

static void vb_dequeue(struct vmap_block *vb)
{
	if (vb->queued) {
		list_del(&vb->free_list);
		vb->queued = false;
	}
}

/* ---- blocks ----------------------------------------------------------------------------- */

/* new_vmap_block(): a block on this CPU's queue with its first 2^order
 * pages taken.  -ENOMEM (no KVA even after the purge, or no host memory). */
static int new_vmap_block(struct vm_engine *e, unsigned order, struct vmap_block **ret_vb)
{
	size_t words = (e->vb_bits + 63) / 64;
	struct vmap_block *vb = calloc(1, sizeof(*vb) + words * sizeof(uint64_t) + e->vb_bits);
	struct vmap_area *va;
	int r;

	if (!vb)
		return -ENOMEM;
	r = vmi_alloc_vmap_area(e, block_size(e), block_size(e), e->layout->vmalloc_start,
				e->layout->vmalloc_end, GFP_KERNEL, &va);
	if (r < 0) {
		free(vb);
		return r;
	}
	va->flags |= VA_VMAP_RAM | VA_VMAP_BLOCK;
	e->nr_map_ram++;
	vb->va = va;
	vb->used_map = (uint64_t *)(vb + 1);
	vb->count_at = (uint8_t *)(vb->used_map + words);
	vb->free = e->vb_bits - (1u << order);
	vb->dirty = 0;
	vb->dirty_min = e->vb_bits;
	vb->dirty_max = 0;
	bits_set(vb->used_map, 0, 1u << order, true);
	vb->cpu = e->cur_cpu;
	list_add_tail(&vb->free_list, &e->vbq[vb->cpu].free);
	vb->queued = true;
	if (++e->nr_vmap_blocks > e->vb_hash_mask + 1)
		vb_hash_grow(e);
	{
		uint64_t k = vb_bucket(e, vb_idx(e, va->va_start));

		vb->hnext = e->vb_hash[k];
		e->vb_hash[k] = vb;
	}
	*ret_vb = vb;
	return 0;
}

/* free_vmap_block(): out of the index, its range lazily freed. */
static void free_vmap_block(struct vm_engine *e, struct vmap_block *vb)
{
	struct vmap_area *va = vb->va;

	vb_hash_del(e, vb);
	vb_dequeue(vb);
	va->flags &= ~(VA_VMAP_RAM | VA_VMAP_BLOCK);
	VMI_SUB(e, e->nr_map_ram, 1);
	free(vb);
	vmi_free_vmap_area_lazy(e, va);
}

/* purge_fragmented_block(): a block with nothing mapped and some room
 * left (not wholly dirty, which frees itself) goes; without force only if
 * less than a quarter of it is still free (6.5+, VMAP_PURGE_THRESHOLD). */
static bool purge_fragmented_block(struct vm_engine *e, struct vmap_block *vb, bool force)
{
	if (vb->free + vb->dirty != e->vb_bits || vb->dirty == e->vb_bits)
		return false;
	if (!force && vb->free >= e->vb_bits / 4)
		return false;
	free_vmap_block(e, vb);
	return true;
}

/* purge_fragmented_blocks_allcpus(): every queue, whatever is left free. */
void vmi_purge_fragmented_blocks(struct vm_engine *e)
{
	for (unsigned c = 0; c < e->nr_cpus; c++) {
		struct list_node *l = e->vbq[c].free.next;

		while (l != &e->vbq[c].free) {
			struct vmap_block *vb = list_entry(l, struct vmap_block, free_list);

			l = l->next;
			purge_fragmented_block(e, vb, true);
		}
	}
}

/* The blocks' part of _vm_unmap_aliases(): true if a dirty range needs the
 * TLB flush (which the lazy purge that follows may already do).  4.19
 * looks at the queued blocks only and then purges every fragmented one;
 * 6.5+ looks at every block, purging a fragmented one only under the
 * threshold and flushing the others' dirty ranges once. */
bool vmi_vmap_block_unmap_aliases(struct vm_engine *e)
{
	bool flush = false;

	if (!e->k->vb_unmap_aliases_every_block) {
		for (unsigned c = 0; c < e->nr_cpus; c++) {
			for (struct list_node *l = e->vbq[c].free.next; l != &e->vbq[c].free;
			     l = l->next) {
				struct vmap_block *vb = list_entry(l, struct vmap_block, free_list);

				if (vb->dirty) {
					flush = true;
					vb->dirty_min = e->vb_bits;
					vb->dirty_max = 0;
				}
			}
		}
		vmi_purge_fragmented_blocks(e);
		return flush;
	}
	for (uint64_t i = 0; i <= e->vb_hash_mask; i++) {
		struct vmap_block *vb = e->vb_hash[i];

		while (vb) {
			struct vmap_block *nx = vb->hnext;

			if (!purge_fragmented_block(e, vb, false) && vb->dirty_max &&
			    vb->dirty != e->vb_bits) {
				vb->dirty_min = e->vb_bits;
				vb->dirty_max = 0;
				flush = true;
			}
			vb = nx;
		}
	}
	return flush;
}

/* vb_alloc(): 2^order pages off the tail of the first block of this CPU's
 * queue that has them, or of a new block. */
static int vb_alloc(struct vm_engine *e, uint64_t count, uint64_t *ret_addr,
		    struct vmap_block **ret_vb, bool *ret_new)
{
	unsigned order = pages_order(count), off;
	struct list_node *q = &e->vbq[e->cur_cpu].free;
	struct vmap_block *vb = NULL;
	int r;

	for (struct list_node *l = q->next; l != q; l = l->next) {
		struct vmap_block *b = list_entry(l, struct vmap_block, free_list);

		if (b->free >= (1u << order)) {
			vb = b;
			break;
		}
	}
	*ret_new = !vb;
	if (vb) {
		off = e->vb_bits - vb->free;
		vb->free -= 1u << order;
		bits_set(vb->used_map, off, 1u << order, true);
		if (!vb->free)
			vb_dequeue(vb);
	} else {
		r = new_vmap_block(e, order, &vb);
		if (r < 0)
			return r;
		off = 0;
	}
	vb->count_at[off] = (uint8_t)count;
	*ret_addr = vb->va->va_start + ((uint64_t)off << VM_PAGE_SHIFT);
	*ret_vb = vb;
	return 0;
}

/* Undo the vb_alloc() of a call that fails: the mapping was the last one
 * made in its block, so the tail takes its pages back. */
static void vb_unalloc(struct vm_engine *e, struct vmap_block *vb, uint64_t addr, uint64_t count,
		       bool created)
{
	unsigned off = (unsigned)((addr - vb->va->va_start) >> VM_PAGE_SHIFT);
	unsigned n = 1u << pages_order(count);

	if (created) {
		struct vmap_area *va = vb->va;

		vb_hash_del(e, vb);
		vb_dequeue(vb);
		VMI_SUB(e, e->nr_map_ram, 1);
		free(vb);
		vmi_free_vmap_area(e, va);
		return;
	}
	vb->count_at[off] = 0;
	bits_set(vb->used_map, off, n, false);
	vb->free += n;
	if (!vb->queued) {
		list_add_tail(&vb->free_list, &e->vbq[vb->cpu].free);
		vb->queued = true;
	}
}

/* The frames behind count mapped pages at addr lose a mapping. */
static void unpin(struct vm_engine *e, uint64_t addr, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++) {
		uint64_t pfn;

		if (vmi_walk(e, addr + (i << VM_PAGE_SHIFT), &pfn) == 0)
			pfn_to_page(e, pfn)->mapcount--;
	}
	VMI_SUB(e, e->map_ram_pages, count);
}

/* vb_free(): unmapped now, its pages dirty; a block wholly dirty goes. */
static void vb_free(struct vm_engine *e, struct vmap_block *vb, uint64_t addr, uint64_t count)
{
	unsigned off = (unsigned)((addr - vb->va->va_start) >> VM_PAGE_SHIFT);
	unsigned n = 1u << pages_order(count);

	unpin(e, addr, count);
	vmi_unmap_range(e, addr, count);
	vb->count_at[off] = 0;
	bits_set(vb->used_map, off, n, false);
	if (off < vb->dirty_min)
		vb->dirty_min = off;
	if (off + n > vb->dirty_max)
		vb->dirty_max = off + n;
	vb->dirty += n;
	if (vb->dirty == e->vb_bits)
		free_vmap_block(e, vb);
}

/* ---- the calls -------------------------------------------------------------------------- */

static void unpin_list(struct vm_engine *e, const uint64_t *pfns, uint64_t n)
{
	while (n-- > 0)
		pfn_to_page(e, pfns[n])->mapcount--;
}

int vm_map_ram(struct vm_engine *e, const uint64_t *pfns, uint64_t count, int node,
	       uint64_t *ret_addr)
{
	uint32_t small[64], *p32 = small;
	struct vmap_block *vb = NULL;
	struct vmap_area *va = NULL;
	bool created = false;
	uint64_t addr = 0, i;
	int r;

	VMI_CALL(e);
	if (!e || !pfns || !ret_addr || count == 0 || count > e->nr_pages)
		return -EINVAL;
	if (node != NUMA_NO_NODE && (node < 0 || (unsigned)node >= e->nr_nodes))
		return -EINVAL;
	for (i = 0; i < count; i++)
		if (pfns[i] >= e->nr_pages || !(pfn_to_page(e, pfns[i])->flags & PG_user))
			return -EINVAL;
	if (count > sizeof(small) / sizeof(small[0])) {
		p32 = malloc(count * sizeof(*p32));
		if (!p32)
			return -ENOMEM;
	}
	vmi_run_due_work(e);
	/* The frames first (as vmap): a frame listed many times may run out
	 * of map counts half way. */
	for (i = 0; i < count; i++) {
		struct page *pg = pfn_to_page(e, pfns[i]);

		if (pg->mapcount == UINT16_MAX) {
			unpin_list(e, pfns, i);
			r = -EBUSY;
			goto out;
		}
		pg->mapcount++;
		p32[i] = (uint32_t)pfns[i];
	}
	if (count <= e->vmap_max_alloc) {
		r = vb_alloc(e, count, &addr, &vb, &created);
	} else {
		r = vmi_alloc_vmap_area(e, count << VM_PAGE_SHIFT, VM_PAGE_SIZE,
					e->layout->vmalloc_start, e->layout->vmalloc_end,
					GFP_KERNEL, &va);
		if (r == 0) {
			va->flags |= VA_VMAP_RAM;
			e->nr_map_ram++;
			addr = va->va_start;
		}
	}
	if (r == 0) {
		r = vmi_map_pages(e, addr, p32, count, PAGE_KERNEL);
		if (r < 0) {
			/* The kernel unmaps again (the range turns dirty or
			 * lazy); here the call leaves nothing behind. */
			if (vb) {
				vb_unalloc(e, vb, addr, count, created);
			} else {
				va->flags &= ~VA_VMAP_RAM;
				VMI_SUB(e, e->nr_map_ram, 1);
				vmi_free_vmap_area(e, va);
			}
		}
	}
	if (r < 0) {
		unpin_list(e, pfns, count);
		goto out;
	}
	e->map_ram_pages += count;
	*ret_addr = addr;
out:
	if (p32 != small)
		free(p32);
	return r;
}

int vm_unmap_ram(struct vm_engine *e, uint64_t addr, uint64_t count)
{
	struct vmap_area *va;

	VMI_CALL(e);
	if (!e || count == 0 || (addr & (VM_PAGE_SIZE - 1)))
		return -EINVAL;
	if (count <= e->vmap_max_alloc) {
		struct vmap_block *vb = vb_find(e, addr);
		unsigned off;

		if (!vb)
			return -EINVAL;
		off = (unsigned)((addr - vb->va->va_start) >> VM_PAGE_SHIFT);
		if (vb->count_at[off] != count)
			return -EINVAL;
		vmi_run_due_work(e);
		vb_free(e, vb, addr, count);
		return 0;
	}
	va = vmi_find_busy_va_start(e, addr);
	if (!va || va->vm || (va->flags & (VA_VMAP_RAM | VA_VMAP_BLOCK)) != VA_VMAP_RAM ||
	    va_size(va) != count << VM_PAGE_SHIFT)
		return -EINVAL;
	vmi_run_due_work(e);
	/* free_unmap_vmap_area(): unmapped now, the range lazily freed. */
	unpin(e, addr, count);
	vmi_unmap_range(e, addr, count);
	va->flags &= ~VA_VMAP_RAM;
	VMI_SUB(e, e->nr_map_ram, 1);
	vmi_free_vmap_area_lazy(e, va);
	return 0;
}

bool vm_is_map_ram_addr(const struct vm_engine *e, uint64_t addr, uint64_t *ret_start,
			uint64_t *ret_count)
{
	struct vmap_area *va;
	struct vmap_block *vb;

	if (!e)
		return false;
	vb = vb_find(e, addr);
	if (vb) {
		unsigned off = (unsigned)((addr - vb->va->va_start) >> VM_PAGE_SHIFT);

		/* The live mapping holding addr starts at or below it. */
		for (unsigned i = off + 1; i-- > 0;) {
			if (vb->count_at[i]) {
				if (i + vb->count_at[i] <= off)
					return false;
				if (ret_start)
					*ret_start = vb->va->va_start + ((uint64_t)i << VM_PAGE_SHIFT);
				if (ret_count)
					*ret_count = vb->count_at[i];
				return true;
			}
		}
		return false;
	}
	va = vmi_find_busy_va(e, addr);
	if (!va || va->vm || !(va->flags & VA_VMAP_RAM) || (va->flags & VA_VMAP_BLOCK))
		return false;
	if (ret_start)
		*ret_start = va->va_start;
	if (ret_count)
		*ret_count = va_size(va) >> VM_PAGE_SHIFT;
	return true;
}

/* ---- checking ----------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static int fail(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (msg && msglen) {
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

typedef unsigned long long ull;

/* The pages [addr, addr + n) are mapped (to PG_user frames) or not. */
static int check_mapped(struct vm_engine *e, uint64_t addr, uint64_t n, bool want, char *msg,
			size_t msglen)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t pfn, a = addr + (i << VM_PAGE_SHIFT);
		bool mapped = vmi_walk(e, a, &pfn) == 0;

		if (mapped != want)
			return fail(msg, msglen, "vm_map_ram page %#llx is %smapped", (ull)a,
				    mapped ? "" : "not ");
		if (mapped && !(pfn_to_page(e, pfn)->flags & PG_user))
			return fail(msg, msglen, "vm_map_ram page %#llx maps frame %#llx, not a "
				    "user frame", (ull)a, (ull)pfn);
	}
	return 0;
}

int vmi_vmap_block_check(struct vm_engine *e, uint64_t *ret_mapped, char *msg, size_t msglen)
{
	uint64_t blocks = 0, queued = 0, mapped = 0;
	int r;

	for (uint64_t h = 0; h <= e->vb_hash_mask; h++) {
		for (struct vmap_block *vb = e->vb_hash[h]; vb; vb = vb->hnext) {
			struct vmap_area *va = vb->va;
			unsigned tail = e->vb_bits - vb->free, used = 0;

			blocks++;
			if (va->vm || (va->flags & (VA_VMAP_RAM | VA_VMAP_BLOCK)) !=
			    (VA_VMAP_RAM | VA_VMAP_BLOCK) || va_size(va) != block_size(e) ||
			    (va->va_start & (block_size(e) - 1)) || vmi_find_busy_va_start(e, va->va_start) != va)
				return fail(msg, msglen, "vmap block %#llx: its range is not a busy, "
					    "aligned block range", (ull)va->va_start);
			if (vb->free > e->vb_bits || vb->dirty >= e->vb_bits || vb->cpu >= e->nr_cpus ||
			    vb->queued != (vb->free > 0))
				return fail(msg, msglen, "vmap block %#llx: free %u dirty %u cpu %u "
					    "queued %d", (ull)va->va_start, vb->free, vb->dirty, vb->cpu,
					    vb->queued);
			for (unsigned i = 0; i < e->vb_bits; i++) {
				if (!bit_test(vb->used_map, i))
					continue;
				if (i >= tail)
					return fail(msg, msglen, "vmap block %#llx: page %u used in the "
						    "free tail", (ull)va->va_start, i);
				used++;
			}
			for (unsigned i = 0, n; i < tail; i += n) {
				uint64_t a = va->va_start + ((uint64_t)i << VM_PAGE_SHIFT);

				if (!vb->count_at[i]) {
					if (bit_test(vb->used_map, i))
						return fail(msg, msglen, "vmap block %#llx: used page %u "
							    "outside any mapping", (ull)va->va_start, i);
					if ((r = check_mapped(e, a, 1, false, msg, msglen)) < 0)
						return r;
					n = 1;
					continue;
				}
				n = 1u << pages_order(vb->count_at[i]);
				if (i + n > tail)
					return fail(msg, msglen, "vmap block %#llx: mapping at page %u "
						    "of %u pages misplaced", (ull)va->va_start, i,
						    vb->count_at[i]);
				for (unsigned k = 0; k < n; k++)
					if (!bit_test(vb->used_map, i + k) || (k && vb->count_at[i + k]))
						return fail(msg, msglen, "vmap block %#llx: mapping at "
							    "page %u overlaps", (ull)va->va_start, i);
				if ((r = check_mapped(e, a, vb->count_at[i], true, msg, msglen)) < 0 ||
				    (r = check_mapped(e, a + ((uint64_t)vb->count_at[i] << VM_PAGE_SHIFT),
						      n - vb->count_at[i], false, msg, msglen)) < 0)
					return r;
				mapped += vb->count_at[i];
			}
			if ((r = check_mapped(e, va->va_start + ((uint64_t)tail << VM_PAGE_SHIFT),
					      vb->free, false, msg, msglen)) < 0)
				return r;
			if (used + vb->dirty + vb->free != e->vb_bits)
				return fail(msg, msglen, "vmap block %#llx: used %u + dirty %u + free %u "
					    "!= %u", (ull)va->va_start, used, vb->dirty, vb->free,
					    e->vb_bits);
		}
	}
	for (unsigned c = 0; c < e->nr_cpus; c++) {
		for (struct list_node *l = e->vbq[c].free.next; l != &e->vbq[c].free; l = l->next) {
			struct vmap_block *vb = list_entry(l, struct vmap_block, free_list);

			if (vb->cpu != c || vb_find(e, vb->va->va_start) != vb)
				return fail(msg, msglen, "vmap block %#llx on CPU %u's queue, made by %u",
					    (ull)vb->va->va_start, c, vb->cpu);
			if (++queued > blocks)
				return fail(msg, msglen, "CPU %u's vmap block queue loops", c);
		}
	}
	if (blocks != e->nr_vmap_blocks)
		return fail(msg, msglen, "%llu vmap blocks indexed, nr_vmap_blocks says %llu",
			    (ull)blocks, (ull)e->nr_vmap_blocks);
	/* The big mappings: every busy range without a vm_struct that is not
	 * a block (the busy-tree walk in check.c counts them all). */
	for (struct list_node *l = e->busy_list.next; l != &e->busy_list; l = l->next) {
		struct vmap_area *va = list_entry(l, struct vmap_area, list);

		if (va->vm || (va->flags & (VA_VMAP_RAM | VA_VMAP_BLOCK)) != VA_VMAP_RAM)
			continue;
		if ((r = check_mapped(e, va->va_start, va_size(va) >> VM_PAGE_SHIFT, true, msg,
				      msglen)) < 0)
			return r;
		mapped += va_size(va) >> VM_PAGE_SHIFT;
	}
	if (mapped != e->map_ram_pages)
		return fail(msg, msglen, "vm_map_ram mappings hold %llu pages, map_ram_pages says %llu",
			    (ull)mapped, (ull)e->map_ram_pages);
	*ret_mapped = mapped;
	return 0;
}

/* ---- the state image (state.c) ----------------------------------------------------------- */

/* Every block (its range's start, counters, maps), then each CPU's queue
 * in order, by the blocks' starts. */
static int cmp_block(const void *a, const void *b)
{
	uint64_t x = (*(const struct vmap_block *const *)a)->va->va_start;
	uint64_t y = (*(const struct vmap_block *const *)b)->va->va_start;

	return x < y ? -1 : x > y;
}

void vmi_vmap_block_save(const struct vm_engine *e, struct vmi_out *o)
{
	uint64_t vs = e->layout->vmalloc_start, n = 0;
	const struct vmap_block **v = NULL;

	/* In address order: equal machines write equal images, whatever
	 * their index's history. */
	if (e->nr_vmap_blocks) {
		v = malloc(e->nr_vmap_blocks * sizeof(*v));
		if (!v) {
			o->err = -ENOMEM;
			return;
		}
	}
	for (uint64_t i = 0; i <= e->vb_hash_mask; i++)
		for (const struct vmap_block *vb = e->vb_hash[i]; vb; vb = vb->hnext)
			if (n < e->nr_vmap_blocks)
				v[n++] = vb;
	if (n)
		qsort(v, n, sizeof(*v), cmp_block);
	vmi_out_u64(o, n);
	for (uint64_t i = 0; i < n; i++) {
		const struct vmap_block *vb = v[i];
		unsigned last = 0;

		vmi_out_u64(o, vb->va->va_start - vs);
		vmi_out_u64(o, vb->free);
		vmi_out_u64(o, vb->dirty);
		vmi_out_u64(o, vb->dirty_min);
		vmi_out_u64(o, vb->dirty_max);
		vmi_out_u64(o, vb->cpu);
		vmi_out_bitmap(o, vb->used_map, e->vb_bits);
		/* The live mappings: (page from the last one + 1, count). */
		for (unsigned p = 0; p < e->vb_bits; p++) {
			if (!vb->count_at[p])
				continue;
			vmi_out_u64(o, p + 1 - last);
			vmi_out_u64(o, vb->count_at[p]);
			last = p + 1;
		}
		vmi_out_u64(o, 0);
	}
	free(v);
	for (unsigned c = 0; c < e->nr_cpus; c++) {
		const struct list_node *h = &e->vbq[c].free;
		uint64_t m = 0;

		for (const struct list_node *l = h->next; l != h; l = l->next)
			m++;
		vmi_out_u64(o, m);
		for (const struct list_node *l = h->next; l != h; l = l->next)
			vmi_out_u64(o, list_entry(l, struct vmap_block, free_list)->va->va_start - vs);
	}
}

int vmi_vmap_block_load(struct vm_engine *e, struct vmi_in *in)
{
	uint64_t vs = e->layout->vmalloc_start, span = e->layout->vmalloc_end - vs;
	uint64_t n = vmi_in_max(in, (uint64_t)(in->end - in->p) / 8);
	size_t words = (e->vb_bits + 63) / 64;

	if (in->err)
		return in->err;
	while (e->vb_hash_mask + 1 < n) {
		uint64_t nb = (e->vb_hash_mask + 1) * 2;
		struct vmap_block **t = calloc(nb, sizeof(*t));

		if (!t)
			return -ENOMEM;
		free(e->vb_hash);
		e->vb_hash = t;
		e->vb_hash_mask = nb - 1;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t off = vmi_in_max(in, span), k;
		struct vmap_block *vb;
		struct vmap_area *va;

		if (in->err)
			return in->err;
		va = vmi_find_busy_va_start(e, vs + off);
		if (!va || va->vm || (va->flags & (VA_VMAP_RAM | VA_VMAP_BLOCK)) !=
		    (VA_VMAP_RAM | VA_VMAP_BLOCK) || va_size(va) != block_size(e) || vb_find(e, vs + off))
			return -EBADMSG;
		vb = calloc(1, sizeof(*vb) + words * sizeof(uint64_t) + e->vb_bits);
		if (!vb)
			return -ENOMEM;
		vb->va = va;
		vb->used_map = (uint64_t *)(vb + 1);
		vb->count_at = (uint8_t *)(vb->used_map + words);
		list_init(&vb->free_list);
		k = vb_bucket(e, vb_idx(e, va->va_start));
		vb->hnext = e->vb_hash[k];
		e->vb_hash[k] = vb;
		e->nr_vmap_blocks++;
		vb->free = (unsigned)vmi_in_max(in, e->vb_bits);
		vb->dirty = (unsigned)vmi_in_max(in, e->vb_bits);
		vb->dirty_min = (unsigned)vmi_in_max(in, e->vb_bits);
		vb->dirty_max = (unsigned)vmi_in_max(in, e->vb_bits);
		vb->cpu = (unsigned)vmi_in_max(in, e->nr_cpus - 1);
		vmi_in_bitmap(in, vb->used_map, e->vb_bits);
		for (uint64_t p = 0;;) {
			uint64_t d = vmi_in_max(in, e->vb_bits), cnt;

			if (in->err)
				return in->err;
			if (!d)
				break;
			p += d;
			cnt = vmi_in_max(in, e->vmap_max_alloc);
			if (p > e->vb_bits || !cnt || p - 1 + cnt > e->vb_bits)
				return vmi_in_fail(in);
			vb->count_at[p - 1] = (uint8_t)cnt;
		}
		if (vb->free + vb->dirty > e->vb_bits)
			return -EBADMSG;
	}
	for (unsigned c = 0; c < e->nr_cpus; c++) {
		uint64_t m = vmi_in_max(in, n);

		for (uint64_t i = 0; i < m && !in->err; i++) {
			uint64_t off = vmi_in_max(in, span);
			struct vmap_block *vb = in->err ? NULL : vb_find(e, vs + off);

			if (!vb || vb->va->va_start != vs + off || vb->queued || vb->cpu != c)
				return vmi_in_fail(in);
			list_add_tail(&vb->free_list, &e->vbq[c].free);
			vb->queued = true;
		}
		if (in->err)
			return in->err;
	}
	return 0;
}
