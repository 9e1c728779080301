/* percpu.c -- __alloc_percpu() and free_percpu(): the kernel's per-CPU
 * allocator (mm/percpu.c, mm/percpu-vm.c) where it meets vmalloc: its
 * chunks are vmalloc areas.
 *
 * A chunk is one unit of unit_size bytes per CPU, side by side in one KVA
 * range that pcpu_get_vm_areas() takes from the top of the vmalloc range,
 * aligned to the atom (PMD_SIZE on x86_64, a page on i386), with no guard
 * page and no pages of its own (vmallocinfo: "pcpu_get_vm_areas+0x0/0x1060
 * vmalloc", no pages=).  An object is the same offset in every unit; the
 * pointer handed out is its address in CPU 0's unit, and CPU c's copy is
 * unit_size * c above it.  Its bytes are 4-byte units of an allocation
 * bitmap (PCPU_MIN_ALLOC_SIZE) with a bound bitmap marking where objects
 * start; a page of a unit gets a frame (every CPU's at once, __GFP_HIGHMEM,
 * mapped into the chunk) the first time an object touches it.  The chunk's
 * own maps are vmalloc'd when longer than a page (pcpu_mem_zalloc): the
 * allocation and bound bitmaps, the block metadata, and on 6.18 the memcg
 * object extensions, each a line "pcpu_create_chunk+0x.../0x230" in
 * vmallocinfo, as on a real 6.18 kernel.
 *
 * The unit size is pcpu_build_alloc_info()'s: the first chunk's static,
 * reserved and dynamic sizes (those a 6.18 x86_64 kernel printed at boot on
 * this project's machine: "Embedded 57 pages/cpu s202520 r0 d30952"),
 * rounded up to the atom and shared by as many units per atom as waste no
 * more than a third of the CPUs' units (2 CPUs: 1 MiB units, 2 MiB chunks).
 *
 * Chunks wait in slots by their largest free run (6.18) or free bytes
 * (4.19); an allocation tries the slots from its size's upwards, each in
 * list order, and takes the lowest aligned fit in the first chunk that has
 * one; with none it makes a chunk.  Deferred work (pcpu_balance_workfn,
 * VM_WORK_PCPU_BALANCE) destroys every wholly free chunk but one and keeps
 * PCPU_EMPTY_POP_PAGES_HIGH empty pages populated for atomic allocations,
 * populating (or making a chunk) when there are fewer; it is queued when an
 * allocation leaves fewer than PCPU_EMPTY_POP_PAGES_LOW, or a free leaves a
 * second wholly free chunk.
 *
 * Not modelled, said here so nobody relies on it: the first chunk (in the
 * kernel image, outside the vmalloc range) is taken to be full, so every
 * object comes from a vmalloc chunk; the reserved chunk; pcpu_find_block_fit()'s
 * hint-driven skipping (the fit taken is the true lowest one, which the
 * kernel's hints find except when an alignment makes them pass a block
 * over); isolating chunks and depopulating their empty pages
 * (pcpu_reclaim_populated): a populated page stays until its chunk goes;
 * and the bulk arrays' pages of memcg accounting.
 *
 * Invariants (vmi_percpu_check): per chunk, free_bytes == 4 * zero bits of
 * the allocation map; every object is [bound bit, next bound bit) of set
 * bits (free runs may keep stale bounds, as the kernel's); a page index is populated iff every CPU's page is mapped to its own
 * PG_percpu frame; nr_empty_pop_pages counts the populated pages without a
 * set bit; each page's hints (free bits at its left and right ends, its
 * largest free run) and the chunk's contig_bits and first_free are those
 * of its bits; percpu_pages == Σ populated pages * CPUs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"
#include "vmap_busy.h"

#define PCPU_MIN_ALLOC_SHIFT   2
#define PCPU_MIN_ALLOC_SIZE    (1u << PCPU_MIN_ALLOC_SHIFT)   /* 4 bytes: a bit */
#define PCPU_MIN_UNIT_SIZE     (32u << 10)                    /* the largest object */
#define PCPU_SLOT_BASE_SHIFT   5
#define PCPU_SLOT_FAIL_THRESHOLD 3
#define PCPU_EMPTY_POP_PAGES_LOW  2
#define PCPU_EMPTY_POP_PAGES_HIGH 4
#define PCPU_BITS_PER_PAGE     (VM_PAGE_SIZE >> PCPU_MIN_ALLOC_SHIFT)   /* 1024 */
#define PCPU_WARN_LIMIT        10
/* The first chunk's static + reserved + dynamic bytes per CPU. */
#define PCPU_FIRST_CHUNK_SIZE  (202520u + 0u + 30952u)

struct pcpu_chunk {
	struct list_node list;          /* its slot's list */
	int slot;
	struct vm_struct *vm;           /* the chunk's area: base == vm->addr */
	struct vm_struct *maps[4];      /* its maps' vmalloc areas, NULL when kmalloc'd */
	uint64_t *alloc_map;            /* a bit per 4 bytes of a unit */
	uint64_t *bound_map;            /* object starts, and the end of the last */
	uint64_t *populated;            /* a bit per page of a unit */
	uint32_t *pfns;                 /* [unit * nr_pages + page], PFN_NONE unpopulated */
	uint32_t *block_used;           /* set bits per page (1024 bits each) */
	struct pcpu_block_md *md;       /* per page: its free runs (the kernel's md_blocks) */
	uint32_t free_bytes;
	uint32_t contig_bits;           /* the largest free run (the contig hint) */
	uint32_t first_free;            /* no clear bit below it */
	uint32_t nr_populated;
	uint32_t nr_empty_pop_pages;
};

/* A page's worth of the allocation map: its free run at the start, at
 * the end, and the longest inside (bits). */
struct pcpu_block_md {
	uint16_t left_free, right_free, contig;
};

struct pcpu {
	uint64_t unit_size;             /* bytes per CPU per chunk */
	uint64_t atom;                  /* the chunk's alignment */
	unsigned nr_units;              /* units per chunk (CPUs, and any wasted to the atom) */
	unsigned nr_pages;              /* pages per unit */
	unsigned map_bits;              /* bits per unit */
	int free_slot, nr_slots;
	struct list_node *slots;
	uint64_t nr_chunks;
	uint64_t nr_empty_pop_pages;    /* every chunk's, in page indices */
	uint64_t nr_objects;
	bool atomic_alloc_failed;
	unsigned warnings;              /* pcpu_warn_limit */
};

typedef unsigned long long ull;

/* ---- bitmaps ------------------------------------------------------------------------ */

static inline bool tbit(const uint64_t *m, uint64_t i)
{
	return m[i / 64] & (1ull << (i % 64));
}

static inline void sbit(uint64_t *m, uint64_t i)
{
	m[i / 64] |= 1ull << (i % 64);
}

static inline void cbit(uint64_t *m, uint64_t i)
{
	m[i / 64] &= ~(1ull << (i % 64));
}

/* Bits [from, from + n) set or cleared, a word at a time. */
static void set_range(uint64_t *m, uint64_t from, uint64_t n, bool on)
{
	uint64_t i = from, end = from + n;

	while (i < end) {
		uint64_t b = i % 64, k = end - i < 64 - b ? end - i : 64 - b;
		uint64_t mask = (k == 64 ? ~0ull : ((1ull << k) - 1)) << b;

		if (on)
			m[i / 64] |= mask;
		else
			m[i / 64] &= ~mask;
		i += k;
	}
}

/* The first clear bit at or after i, or n. */
static uint64_t next_zero(const uint64_t *m, uint64_t i, uint64_t n)
{
	while (i < n) {
		uint64_t w = ~m[i / 64] >> (i % 64);

		if (w)
			return i + (uint64_t)__builtin_ctzll(w) < n ? i + (uint64_t)__builtin_ctzll(w) : n;
		i = (i / 64 + 1) * 64;
	}
	return n;
}

/* The last set bit in [lo, hi), or hi if none. */
static uint64_t last_one(const uint64_t *m, uint64_t lo, uint64_t hi)
{
	uint64_t i = hi;

	while (i > lo) {
		uint64_t top = (i - 1) / 64 * 64, w = m[top / 64];

		if (i - top < 64)
			w &= (1ull << (i - top)) - 1;
		if (top < lo)
			w &= ~0ull << (lo - top);
		if (w)
			return top + 63 - (uint64_t)__builtin_clzll(w);
		i = top;
	}
	return hi;
}

/* The first set bit at or after i, or n. */
static uint64_t next_one(const uint64_t *m, uint64_t i, uint64_t n)
{
	while (i < n) {
		uint64_t w = m[i / 64] >> (i % 64);

		if (w)
			return i + (uint64_t)__builtin_ctzll(w) < n ? i + (uint64_t)__builtin_ctzll(w) : n;
		i = (i / 64 + 1) * 64;
	}
	return n;
}

/* ---- sizes and slots ------------------------------------------------------------------- */

static int fls64(uint64_t x)
{
	return x ? 64 - __builtin_clzll(x) : 0;
}

/* __pcpu_size_to_slot() */
static int size_to_slot_raw(uint64_t size)
{
	int s = fls64(size) - PCPU_SLOT_BASE_SHIFT + 2;

	return s > 1 ? s : 1;
}

static int size_to_slot(const struct pcpu *p, uint64_t size)
{
	return size == p->unit_size ? p->free_slot : size_to_slot_raw(size);
}

/* pcpu_chunk_slot(): 6.18 by the largest free run, 4.19 by free bytes. */
static int chunk_slot(const struct vm_engine *e, const struct pcpu_chunk *c)
{
	if (c->free_bytes < PCPU_MIN_ALLOC_SIZE || c->contig_bits == 0)
		return 0;
	return size_to_slot(e->pcpu, e->k->pcpu_slot_by_contig ?
			    (uint64_t)c->contig_bits * PCPU_MIN_ALLOC_SIZE : c->free_bytes);
}

/* pcpu_chunk_relocate(): a chunk moving up goes to the head of its new
 * slot, one moving down to the tail. */
static void chunk_relocate(struct vm_engine *e, struct pcpu_chunk *c, int oslot)
{
	int nslot = chunk_slot(e, c);

	if (oslot == nslot)
		return;
	if (oslot >= 0)
		list_del(&c->list);
	if (oslot < nslot)
		list_add_after(&c->list, &e->pcpu->slots[nslot]);
	else
		list_add_tail(&c->list, &e->pcpu->slots[nslot]);
	c->slot = nslot;
}

/* The largest run of clear bits in [from, to) (O(words)). */
static uint64_t largest_run_in(const uint64_t *m, uint64_t from, uint64_t to)
{
	uint64_t best = 0, i = from;

	while (i < to) {
		uint64_t z = next_zero(m, i, to), o;

		if (z == to)
			break;
		o = next_one(m, z, to);
		if (o - z > best)
			best = o - z;
		i = o;
	}
	return best;
}

/* pcpu_block_refresh_hint(): page pg's runs, from its 16 words. */
static void block_refresh(struct pcpu_chunk *c, uint64_t pg)
{
	uint64_t lo = pg * PCPU_BITS_PER_PAGE, hi = lo + PCPU_BITS_PER_PAGE;
	struct pcpu_block_md *b = &c->md[pg];
	uint64_t first = next_one(c->alloc_map, lo, hi);

	b->left_free = (uint16_t)(first - lo);
	if (first == hi) {
		b->right_free = b->contig = (uint16_t)PCPU_BITS_PER_PAGE;
		return;
	}
	b->right_free = (uint16_t)(hi - last_one(c->alloc_map, lo, hi) - 1);
	b->contig = (uint16_t)largest_run_in(c->alloc_map, lo, hi);
}

/* pcpu_chunk_refresh_hint(): the chunk's largest free run, from its pages'
 * (a run may cross pages), O(pages). */
static uint32_t chunk_contig(const struct pcpu *p, const struct pcpu_chunk *c)
{
	uint64_t best = 0, cur = 0;

	for (uint64_t pg = 0; pg < p->nr_pages; pg++) {
		const struct pcpu_block_md *b = &c->md[pg];

		if (b->contig == PCPU_BITS_PER_PAGE) {
			cur += PCPU_BITS_PER_PAGE;
			continue;
		}
		cur += b->left_free;
		if (cur > best)
			best = cur;
		if (b->contig > best)
			best = b->contig;
		cur = b->right_free;
	}
	return (uint32_t)(cur > best ? cur : best);
}

/* ---- set-up ---------------------------------------------------------------------------- */

/* pcpu_build_alloc_info() for one group of CPUs: the unit size, and the
 * units per chunk. */
static void build_alloc_info(struct vm_engine *e, struct pcpu *p)
{
	uint64_t min_unit = PCPU_FIRST_CHUNK_SIZE > PCPU_MIN_UNIT_SIZE ? PCPU_FIRST_CHUNK_SIZE :
			    PCPU_MIN_UNIT_SIZE;
	uint64_t alloc_size = (min_unit + p->atom - 1) / p->atom * p->atom;
	unsigned cpus = e->nr_cpus, upa = (unsigned)(alloc_size / min_unit), best = 1;
	unsigned last_allocs = ~0u;

	while (alloc_size % upa || ((alloc_size / upa) & (VM_PAGE_SIZE - 1)))
		upa--;
	for (unsigned u = upa; u; u--) {
		unsigned allocs, wasted;

		if (alloc_size % u || ((alloc_size / u) & (VM_PAGE_SIZE - 1)))
			continue;
		allocs = (cpus + u - 1) / u;
		wasted = allocs * u - cpus;
		if (wasted > cpus / 3)
			continue;
		if (allocs > last_allocs)
			break;
		last_allocs = allocs;
		best = u;
	}
	p->unit_size = alloc_size / best;
	p->nr_units = (cpus + best - 1) / best * best;
}

int vmi_percpu_init(struct vm_engine *e)
{
	struct pcpu *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->atom = e->layout->ptr_size == 8 ? (2ull << 20) : VM_PAGE_SIZE;
	build_alloc_info(e, p);
	p->nr_pages = (unsigned)(p->unit_size >> VM_PAGE_SHIFT);
	p->map_bits = (unsigned)(p->unit_size >> PCPU_MIN_ALLOC_SHIFT);
	p->free_slot = size_to_slot_raw(p->unit_size) + 1;
	p->nr_slots = p->free_slot + 1;
	p->slots = calloc((size_t)p->nr_slots, sizeof(*p->slots));
	if (!p->slots) {
		free(p);
		return -ENOMEM;
	}
	for (int i = 0; i < p->nr_slots; i++)
		list_init(&p->slots[i]);
	e->pcpu = p;
	return 0;
}

/* ---- the chunk's vmalloc areas ---------------------------------------------------------- */

/* The per-CPU allocator's areas belong to the machine, not to whoever
 * asked for the object that needed them. */
struct kernel_ctx {
	uint32_t uid, pid, vm_flags;
	uint64_t cookie;
	const char *caller;
};

static void enter_kernel(struct vm_engine *e, struct kernel_ctx *k)
{
	*k = (struct kernel_ctx){ e->cur_uid, e->cur_pid, e->cur_vm_flags, e->cur_cookie,
				  e->cur_caller };
	e->cur_uid = e->cur_pid = 0;
	e->cur_cookie = 0;
	e->cur_vm_flags = 0;
	e->cur_caller = NULL;
}

static void leave_kernel(struct vm_engine *e, const struct kernel_ctx *k)
{
	e->cur_uid = k->uid;
	e->cur_pid = k->pid;
	e->cur_vm_flags = k->vm_flags;
	e->cur_cookie = k->cookie;
	e->cur_caller = k->caller;
}

/* pcpu_mem_zalloc(): a map longer than a page is vmalloc'd, the
 * machine's own (uid 0, no cookie). */
static int map_area(struct vm_engine *e, uint64_t bytes, const char *caller, struct vm_struct **ret)
{
	*ret = NULL;
	if (bytes <= VM_PAGE_SIZE)
		return 0;
	return vmi_vmalloc_internal(e, bytes, GFP_KERNEL | __GFP_ZERO, caller, VM_PERCPU, ret);
}

/* The chunk's host memory, and its maps' areas: freed (now: a call that
 * fails undoes itself) or vfree'd (pcpu_free_chunk's pcpu_mem_free()). */
static void chunk_free_maps(struct vm_engine *e, struct pcpu_chunk *c, bool now)
{
	for (int i = 0; i < 4; i++) {
		if (!c->maps[i])
			continue;
		for (struct vm_struct *a = c->maps[i]; a; a = a->array_vm)
			a->flags &= ~VM_PERCPU;
		if (now)
			vmi_vfree_now(e, c->maps[i]);
		else
			vmi_vfree_vm(e, c->maps[i]);
	}
	free(c->alloc_map);
	free(c->bound_map);
	free(c->populated);
	free(c->pfns);
	free(c->block_used);
	free(c->md);
	free(c);
}

/* pcpu_create_chunk(): its maps (pcpu_alloc_chunk), then its KVA
 * (pcpu_get_vm_areas).  -ENOMEM with nothing left behind (but what the
 * KVA allocator's purge-and-retry purged). */
static int create_chunk(struct vm_engine *e, struct pcpu_chunk **ret)
{
	struct pcpu *p = e->pcpu;
	uint64_t words = (p->map_bits + 63) / 64, bwords = (p->map_bits + 1 + 63) / 64;
	uint64_t sizes[4] = {
		words * 8, bwords * 8, (uint64_t)p->nr_pages * e->k->pcpu_md_block_bytes,
		(uint64_t)p->map_bits * e->k->pcpu_obj_ext_bytes,
	};
	struct pcpu_chunk *c = calloc(1, sizeof(*c));
	struct kernel_ctx k;
	struct vmap_area *va;
	struct vm_struct *vm;
	int r = 0;

	if (!c)
		return -ENOMEM;
	c->alloc_map = calloc(words, 8);
	c->bound_map = calloc(bwords, 8);
	c->populated = calloc((p->nr_pages + 63) / 64, 8);
	c->pfns = malloc((size_t)p->nr_units * p->nr_pages * sizeof(*c->pfns));
	c->block_used = calloc(p->nr_pages, sizeof(*c->block_used));
	c->md = malloc(p->nr_pages * sizeof(*c->md));
	vm = vmi_cache_alloc(&e->vm_cache);
	if (!c->alloc_map || !c->bound_map || !c->populated || !c->pfns || !c->block_used ||
	    !c->md || !vm) {
		if (vm)
			vmi_cache_free(&e->vm_cache, vm);
		chunk_free_maps(e, c, true);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < (uint64_t)p->nr_units * p->nr_pages; i++)
		c->pfns[i] = PFN_NONE;
	for (uint64_t i = 0; i < p->nr_pages; i++)
		c->md[i] = (struct pcpu_block_md){ PCPU_BITS_PER_PAGE, PCPU_BITS_PER_PAGE,
						   PCPU_BITS_PER_PAGE };
	enter_kernel(e, &k);
	for (int i = 0; i < 4 && r == 0; i++)
		r = map_area(e, sizes[i], e->k->pcpu_map_callers[i], &c->maps[i]);
	if (r == 0)
		r = e->k->kva->alloc_top(e, (uint64_t)p->nr_units * p->unit_size, p->atom, &va);
	leave_kernel(e, &k);
	if (r < 0) {
		vmi_cache_free(&e->vm_cache, vm);
		chunk_free_maps(e, c, true);
		return r;
	}
	/* The bound map's last bit marks the end of the unit. */
	sbit(c->bound_map, p->map_bits);
	memset(vm, 0, sizeof(*vm));
	vm->pages = &vm->page_inline;
	vm->addr = va->va_start;
	vm->size = va_size(va);
	vm->requested_size = vm->size;
	vm->flags = VM_ALLOC | VM_PERCPU;
	vm->prot = PAGE_KERNEL;
	vm->caller = e->k->pcpu_vm_caller;
	vm->va = va;
	va->vm = vm;
	c->vm = vm;
	c->free_bytes = (uint32_t)p->unit_size;
	c->contig_bits = p->map_bits;
	c->slot = -1;
	p->nr_chunks++;
	chunk_relocate(e, c, -1);
	*ret = c;
	return 0;
}

/* ---- population -------------------------------------------------------------------------- */

static uint64_t unit_addr(const struct pcpu *p, const struct pcpu_chunk *c, unsigned unit,
			  uint64_t page)
{
	return c->vm->addr + unit * p->unit_size + (page << VM_PAGE_SHIFT);
}

/* Whether page i of every unit is free of objects (counts as empty). */
static inline bool page_empty(const struct pcpu_chunk *c, uint64_t i)
{
	return c->block_used[i] == 0;
}

/* Unmap and free pages [rs, re) of every unit of a chunk (they are
 * populated, and no object uses them or the chunk is going). */
static void depopulate(struct vm_engine *e, struct pcpu_chunk *c, uint64_t rs, uint64_t re)
{
	struct pcpu *p = e->pcpu;

	for (unsigned u = 0; u < p->nr_units; u++) {
		for (uint64_t i = rs; i < re; i++) {
			uint32_t *pfn = &c->pfns[(uint64_t)u * p->nr_pages + i];

			if (*pfn == PFN_NONE)
				continue;
			vmi_unmap_range(e, unit_addr(p, c, u, i), 1);
			vmi_free_pages(e, *pfn, 0);
			*pfn = PFN_NONE;
			VMI_SUB(e, e->percpu_pages, 1);
		}
	}
	for (uint64_t i = rs; i < re; i++) {
		if (!tbit(c->populated, i))
			continue;
		cbit(c->populated, i);
		c->nr_populated--;
		if (page_empty(c, i)) {
			c->nr_empty_pop_pages--;
			p->nr_empty_pop_pages--;
		}
	}
}

/* pcpu_populate_chunk(): a frame for page [rs, re) of each CPU's unit,
 * mapped.  -ENOMEM with nothing changed. */
static int populate(struct vm_engine *e, struct pcpu_chunk *c, uint64_t rs, uint64_t re)
{
	struct pcpu *p = e->pcpu;

	for (unsigned u = 0; u < e->nr_cpus; u++) {
		for (uint64_t i = rs; i < re; i++) {
			uint32_t *slot = &c->pfns[(uint64_t)u * p->nr_pages + i];
			uint64_t pfn;

			if (vmi_alloc_pages(e, GFP_KERNEL | __GFP_HIGHMEM | __GFP_NOWARN, 0, NUMA_NO_NODE,
					    PG_percpu, &pfn) < 0)
				goto fail;
			*slot = (uint32_t)pfn;
			e->percpu_pages++;
			if (vmi_map_pages(e, unit_addr(p, c, u, i), slot, 1, PAGE_KERNEL) < 0) {
				vmi_free_pages(e, pfn, 0);
				*slot = PFN_NONE;
				VMI_SUB(e, e->percpu_pages, 1);
				goto fail;
			}
		}
	}
	for (uint64_t i = rs; i < re; i++) {
		sbit(c->populated, i);
		c->nr_populated++;
		if (page_empty(c, i)) {
			c->nr_empty_pop_pages++;
			p->nr_empty_pop_pages++;
		}
	}
	return 0;
fail:
	/* What this call mapped: every slot of [rs, re) that is set now
	 * (none was before). */
	for (unsigned u = 0; u < e->nr_cpus; u++) {
		for (uint64_t i = rs; i < re; i++) {
			uint32_t *slot = &c->pfns[(uint64_t)u * p->nr_pages + i];

			if (*slot == PFN_NONE)
				continue;
			vmi_unmap_range(e, unit_addr(p, c, u, i), 1);
			vmi_free_pages(e, *slot, 0);
			*slot = PFN_NONE;
			VMI_SUB(e, e->percpu_pages, 1);
		}
	}
	return -ENOMEM;
}

/* pcpu_destroy_chunk(): pages, then the range (pcpu_free_vm_areas():
 * lazily freed like any vfree), then the maps.  now: a failing call undoes
 * the chunk it made, everything straight back. */
static void destroy_chunk(struct vm_engine *e, struct pcpu_chunk *c, bool now)
{
	struct pcpu *p = e->pcpu;
	struct vm_struct *vm = c->vm;
	struct vmap_area *va = vm->va;

	depopulate(e, c, 0, p->nr_pages);
	list_del(&c->list);
	VMI_SUB(e, p->nr_chunks, 1);
	va->vm = NULL;
	if (now)
		vmi_free_vmap_area(e, va);
	else
		vmi_free_vmap_area_lazy(e, va);
	vmi_cache_free(&e->vm_cache, vm);
	chunk_free_maps(e, c, now);
}

/* ---- objects ------------------------------------------------------------------------------- */

/* An aligned run of bits clear bits inside [lo, hi), the lowest, or -1. */
static int64_t fit_in(const uint64_t *m, uint64_t lo, uint64_t hi, uint64_t bits, uint64_t bit_align)
{
	uint64_t i = lo;

	while (i < hi) {
		uint64_t z = next_zero(m, i, hi), s, o;

		if (z == hi)
			return -1;
		s = (z + bit_align - 1) & ~(bit_align - 1);
		if (s + bits > hi)
			return -1;
		o = next_one(m, s, s + bits);
		if (o == s + bits)
			return (int64_t)s;
		i = o + 1;
	}
	return -1;
}

/* The lowest aligned fit of bits clear bits, or -1: page by page, the
 * pages' runs saying where one may be (pcpu_for_each_fit_region(), which
 * the kernel uses to pick where to look; here every candidate is checked,
 * so the fit is the true lowest one). */
static int64_t find_fit(const struct pcpu *p, const struct pcpu_chunk *c, uint64_t bits,
			uint64_t bit_align)
{
	uint64_t carry = UINT64_MAX;    /* start of a free run reaching this page's start */

	if (c->contig_bits < bits)
		return -1;
	for (uint64_t pg = c->first_free / PCPU_BITS_PER_PAGE; pg < p->nr_pages; pg++) {
		const struct pcpu_block_md *b = &c->md[pg];
		uint64_t lo = pg * PCPU_BITS_PER_PAGE, hi = lo + PCPU_BITS_PER_PAGE;

		if (carry != UINT64_MAX) {
			uint64_t s = (carry + bit_align - 1) & ~(bit_align - 1);

			if (s + bits <= lo + b->left_free)
				return (int64_t)s;
			if (b->contig == PCPU_BITS_PER_PAGE)
				continue;       /* the run goes on */
			carry = UINT64_MAX;
		}
		if (b->contig >= bits) {
			int64_t f = fit_in(c->alloc_map, lo, hi, bits, bit_align);

			if (f >= 0)
				return f;
		}
		if (b->right_free)
			carry = hi - b->right_free;
	}
	return -1;
}

/* Account bits [s, s + n) turning used (on) or free in each page. */
static void pages_account(struct pcpu *p, struct pcpu_chunk *c, uint64_t s, uint64_t n, bool on)
{
	for (uint64_t pg = s / PCPU_BITS_PER_PAGE; pg <= (s + n - 1) / PCPU_BITS_PER_PAGE; pg++) {
		uint64_t lo = s > pg * PCPU_BITS_PER_PAGE ? s : pg * PCPU_BITS_PER_PAGE;
		uint64_t hi = s + n < (pg + 1) * PCPU_BITS_PER_PAGE ? s + n : (pg + 1) * PCPU_BITS_PER_PAGE;
		bool was_empty = page_empty(c, pg);

		c->block_used[pg] = on ? c->block_used[pg] + (uint32_t)(hi - lo) :
					 c->block_used[pg] - (uint32_t)(hi - lo);
		if (tbit(c->populated, pg) && was_empty != page_empty(c, pg)) {
			if (was_empty) {
				c->nr_empty_pop_pages--;
				p->nr_empty_pop_pages--;
			} else {
				c->nr_empty_pop_pages++;
				p->nr_empty_pop_pages++;
			}
		}
	}
}

static void area_set(struct vm_engine *e, struct pcpu_chunk *c, uint64_t s, uint64_t bits, bool on)
{
	struct pcpu *p = e->pcpu;
	int oslot = c->slot;

	set_range(c->alloc_map, s, bits, on);
	if (on) {
		/* pcpu_alloc_area(): bounds at both ends, none inside; a free
		 * leaves them (pcpu_free_area() finds an object's end by the
		 * next bound). */
		sbit(c->bound_map, s);
		set_range(c->bound_map, s + 1, bits - 1, false);
		sbit(c->bound_map, s + bits);
		c->free_bytes -= (uint32_t)(bits * PCPU_MIN_ALLOC_SIZE);
	} else {
		c->free_bytes += (uint32_t)(bits * PCPU_MIN_ALLOC_SIZE);
	}
	pages_account(p, c, s, bits, on);
	for (uint64_t pg = s / PCPU_BITS_PER_PAGE; pg <= (s + bits - 1) / PCPU_BITS_PER_PAGE; pg++)
		block_refresh(c, pg);
	c->contig_bits = chunk_contig(p, c);
	if (!on && s < c->first_free)
		c->first_free = (uint32_t)s;
	else if (on && s == c->first_free)
		c->first_free = (uint32_t)next_zero(c->alloc_map, s + bits, p->map_bits);
	chunk_relocate(e, c, oslot);
}

static void warn_fail(struct vm_engine *e, uint64_t size, uint64_t align, const char *why)
{
	struct pcpu *p = e->pcpu;

	if (p->warnings >= PCPU_WARN_LIMIT)
		return;
	vmi_log(e, VM_LOG_WARNING, "percpu: allocation failed, size=%llu align=%llu atomic=0, %s",
		(ull)size, (ull)align, why);
	if (++p->warnings == PCPU_WARN_LIMIT)
		vmi_log(e, VM_LOG_WARNING, "percpu: limit reached, disable warning");
}

int vm_alloc_percpu(struct vm_engine *e, uint64_t size, uint64_t align, uint64_t *ret_ptr)
{
	struct pcpu *p;
	struct pcpu_chunk *c = NULL, *made = NULL;
	uint64_t bits, bit_align, off = 0, rs, re, was_populated[1] = { 0 };
	bool created = false;
	int r;

	VMI_CALL(e);
	if (!e || !ret_ptr)
		return -EINVAL;
	/* __alloc_percpu(): sizes and alignments in 4-byte units. */
	if (align < PCPU_MIN_ALLOC_SIZE)
		align = PCPU_MIN_ALLOC_SIZE;
	if (size > PCPU_MIN_UNIT_SIZE) {
		if (!(e->pcpu && e->pcpu->warnings >= PCPU_WARN_LIMIT))
			vmi_log(e, VM_LOG_WARNING, "illegal size (%llu) or align (%llu) for percpu "
				"allocation", (ull)size, (ull)align);
		return -EINVAL;
	}
	size = (size + PCPU_MIN_ALLOC_SIZE - 1) & ~(uint64_t)(PCPU_MIN_ALLOC_SIZE - 1);
	if (!size || align > VM_PAGE_SIZE || (align & (align - 1))) {
		vmi_log(e, VM_LOG_WARNING, "illegal size (%llu) or align (%llu) for percpu allocation",
			(ull)size, (ull)align);
		return -EINVAL;
	}
	vmi_run_due_work(e);
	p = e->pcpu;
	bits = size >> PCPU_MIN_ALLOC_SHIFT;
	bit_align = align >> PCPU_MIN_ALLOC_SHIFT;
	for (;;) {
		for (int slot = size_to_slot(p, size); slot < p->nr_slots && !c; slot++) {
			struct list_node *l = p->slots[slot].next;

			while (l != &p->slots[slot]) {
				struct pcpu_chunk *t = list_entry(l, struct pcpu_chunk, list);
				int64_t fit = find_fit(p, t, bits, bit_align);

				l = l->next;
				if (fit < 0) {
					/* 6.x: a chunk that keeps failing small
					 * requests sinks to slot 0. */
					if (e->k->pcpu_fail_move && slot < PCPU_SLOT_FAIL_THRESHOLD &&
					    t->slot != 0) {
						list_del(&t->list);
						list_add_tail(&t->list, &p->slots[0]);
						t->slot = 0;
					}
					continue;
				}
				c = t;
				off = (uint64_t)fit;
				break;
			}
		}
		if (c)
			break;
		/* No room: a chunk (only if none is wholly free already,
		 * which then would have had room). */
		if (!list_empty(&p->slots[p->free_slot]) || created) {
			warn_fail(e, size, align, "failed to allocate new chunk");
			return -ENOMEM;
		}
		r = create_chunk(e, &made);
		if (r < 0) {
			warn_fail(e, size, align, "failed to allocate new chunk");
			return r;
		}
		created = true;
	}
	created = created && c == made;
	rs = (off << PCPU_MIN_ALLOC_SHIFT) >> VM_PAGE_SHIFT;
	re = (((off + bits) << PCPU_MIN_ALLOC_SHIFT) + VM_PAGE_SIZE - 1) >> VM_PAGE_SHIFT;
	for (uint64_t i = rs; i < re; i++)
		if (tbit(c->populated, i))
			was_populated[(i - rs) / 64] |= 1ull << ((i - rs) % 64);
	area_set(e, c, off, bits, true);
	/* pcpu_populate_chunk() for the pages it touches that have none. */
	for (uint64_t i = rs; i < re; i++) {
		uint64_t j = i;

		if (tbit(c->populated, i))
			continue;
		while (j < re && !tbit(c->populated, j))
			j++;
		r = populate(e, c, i, j);
		if (r < 0) {
			/* The kernel keeps what it populated and the chunk it
			 * made; a failed call here leaves the machine as it
			 * was: the pages this call populated, and its chunk,
			 * go again. */
			area_set(e, c, off, bits, false);
			for (uint64_t k = rs; k < i; k++)
				if (!(was_populated[(k - rs) / 64] & (1ull << ((k - rs) % 64))))
					depopulate(e, c, k, k + 1);
			if (created)
				destroy_chunk(e, c, true);
			warn_fail(e, size, align, "failed to populate");
			return r;
		}
		i = j - 1;
	}
	/* Every CPU's copy zeroed.  A clean frame is a hole that reads as
	 * zeros already; writing to it would make the host populate it. */
	for (unsigned u = 0; u < e->nr_cpus; u++) {
		uint64_t a = unit_addr(p, c, u, 0) + (off << PCPU_MIN_ALLOC_SHIFT);

		for (uint64_t done = 0; done < size;) {
			uint64_t pg = (a + done - unit_addr(p, c, u, 0)) >> VM_PAGE_SHIFT;
			uint64_t in = (a + done) & (VM_PAGE_SIZE - 1), n = VM_PAGE_SIZE - in;
			uint32_t pfn = c->pfns[(uint64_t)u * p->nr_pages + pg];

			if (n > size - done)
				n = size - done;
			if (!e->replay && (pfn_to_page(e, pfn)->flags & PG_dirty))
				memset(pfn_to_virt(e, pfn) + in, 0, n);
			done += n;
		}
	}
	p->nr_objects++;
	if (p->nr_empty_pop_pages < PCPU_EMPTY_POP_PAGES_LOW)
		vmi_schedule_work(e, VM_WORK_PCPU_BALANCE);
	vmi_punch_flush(e);
	*ret_ptr = unit_addr(p, c, 0, 0) + (off << PCPU_MIN_ALLOC_SHIFT);
	return 0;
}

/* The chunk holding ptr in its unit 0 and the object's bit offset, if ptr
 * is the start of a live object. */
static struct pcpu_chunk *find_object(const struct vm_engine *e, uint64_t ptr, uint64_t *ret_off)
{
	const struct pcpu *p = e->pcpu;
	struct vmap_area *va;
	struct pcpu_chunk *c = NULL;
	uint64_t off;

	if (!p || (ptr & (PCPU_MIN_ALLOC_SIZE - 1)))
		return NULL;
	va = vmi_find_busy_va(e, ptr);
	if (!va || !va->vm || (va->vm->flags & (VM_PERCPU | VM_ALLOC)) != (VM_PERCPU | VM_ALLOC) ||
	    va->vm->nr_pages)
		return NULL;
	off = ptr - va->va_start;
	if (off >= p->unit_size)
		return NULL;
	for (int s = 0; s < p->nr_slots && !c; s++)
		for (struct list_node *l = p->slots[s].next; l != &p->slots[s]; l = l->next)
			if (list_entry(l, struct pcpu_chunk, list)->vm == va->vm) {
				c = list_entry(l, struct pcpu_chunk, list);
				break;
			}
	off >>= PCPU_MIN_ALLOC_SHIFT;
	if (!c || !tbit(c->bound_map, off) || !tbit(c->alloc_map, off))
		return NULL;
	*ret_off = off;
	return c;
}

int vm_free_percpu(struct vm_engine *e, uint64_t ptr)
{
	struct pcpu_chunk *c;
	struct pcpu *p;
	uint64_t off, end;

	VMI_CALL(e);
	if (!e)
		return -EINVAL;
	if (!ptr)
		return 0;
	c = find_object(e, ptr, &off);
	if (!c)
		return -EINVAL;
	vmi_run_due_work(e);
	p = e->pcpu;
	end = next_one(c->bound_map, off + 1, p->map_bits + 1);
	area_set(e, c, off, end - off, false);
	VMI_SUB(e, p->nr_objects, 1);
	/* A second wholly free chunk wakes the grim reaper. */
	if (c->free_bytes == p->unit_size)
		for (struct list_node *l = p->slots[p->free_slot].next; l != &p->slots[p->free_slot];
		     l = l->next)
			if (list_entry(l, struct pcpu_chunk, list) != c) {
				vmi_schedule_work(e, VM_WORK_PCPU_BALANCE);
				break;
			}
	return 0;
}

int vm_per_cpu_ptr(struct vm_engine *e, uint64_t ptr, unsigned cpu, uint64_t *ret_addr)
{
	uint64_t off;

	if (!e || !ret_addr || cpu >= e->nr_cpus || !find_object(e, ptr, &off))
		return -EINVAL;
	*ret_addr = ptr + cpu * e->pcpu->unit_size;
	return 0;
}

int vm_percpu_size(struct vm_engine *e, uint64_t ptr, uint64_t *ret_size)
{
	struct pcpu_chunk *c;
	uint64_t off;

	if (!e || !ret_size || !(c = find_object(e, ptr, &off)))
		return -EINVAL;
	*ret_size = (next_one(c->bound_map, off + 1, e->pcpu->map_bits + 1) - off) <<
		    PCPU_MIN_ALLOC_SHIFT;
	return 0;
}

/* ---- pcpu_balance_workfn ------------------------------------------------------------------ */

void vmi_pcpu_balance(struct vm_engine *e)
{
	struct pcpu *p = e->pcpu;
	struct list_node *h;
	unsigned nr_to_pop;
	bool made = false;

	if (!p)
		return;
	/* pcpu_balance_free(): every wholly free chunk but the first. */
	h = &p->slots[p->free_slot];
	if (!list_empty(h)) {
		struct list_node *l = h->next->next;

		while (l != h) {
			struct pcpu_chunk *c = list_entry(l, struct pcpu_chunk, list);

			l = l->next;
			destroy_chunk(e, c, false);
		}
	}
	/* pcpu_balance_populated(): PCPU_EMPTY_POP_PAGES_HIGH empty pages,
	 * filled from the fullest chunks, a new chunk if they have none. */
retry:
	if (p->atomic_alloc_failed) {
		nr_to_pop = PCPU_EMPTY_POP_PAGES_HIGH;
		p->atomic_alloc_failed = false;
	} else {
		nr_to_pop = p->nr_empty_pop_pages >= PCPU_EMPTY_POP_PAGES_HIGH ? 0 :
			    (unsigned)(PCPU_EMPTY_POP_PAGES_HIGH - p->nr_empty_pop_pages);
	}
	for (int slot = size_to_slot_raw(VM_PAGE_SIZE); slot <= p->free_slot && nr_to_pop; slot++) {
		for (struct list_node *l = p->slots[slot].next; l != &p->slots[slot] && nr_to_pop;
		     l = l->next) {
			struct pcpu_chunk *c = list_entry(l, struct pcpu_chunk, list);

			for (uint64_t i = 0; i < p->nr_pages && nr_to_pop;) {
				uint64_t j;

				if (tbit(c->populated, i)) {
					i++;
					continue;
				}
				for (j = i; j < p->nr_pages && !tbit(c->populated, j) &&
					    j - i < nr_to_pop; j++)
					;
				if (populate(e, c, i, j) < 0)
					return;
				nr_to_pop -= (unsigned)(j - i);
				i = j;
			}
		}
	}
	if (nr_to_pop && !made) {
		struct pcpu_chunk *c;

		if (create_chunk(e, &c) == 0) {
			made = true;
			goto retry;
		}
	}
}

/* ---- statistics, destroy, check --------------------------------------------------------------- */

void vmi_percpu_stats(const struct vm_engine *e, uint64_t *ret_chunks, uint64_t *ret_objects,
		      uint64_t *ret_unit_size)
{
	*ret_chunks = e->pcpu ? e->pcpu->nr_chunks : 0;
	*ret_objects = e->pcpu ? e->pcpu->nr_objects : 0;
	*ret_unit_size = e->pcpu ? e->pcpu->unit_size : 0;
}

void vmi_percpu_destroy(struct vm_engine *e)
{
	struct pcpu *p = e->pcpu;

	if (!p)
		return;
	/* The engine goes whole: only host memory to give back. */
	for (int s = 0; s < p->nr_slots; s++) {
		struct list_node *l = p->slots[s].next;

		while (l != &p->slots[s]) {
			struct pcpu_chunk *c = list_entry(l, struct pcpu_chunk, list);

			l = l->next;
			free(c->alloc_map);
			free(c->bound_map);
			free(c->populated);
			free(c->pfns);
			free(c->block_used);
			free(c->md);
			free(c);
		}
	}
	free(p->slots);
	free(p);
	e->pcpu = NULL;
}

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

int vmi_percpu_check(struct vm_engine *e, uint64_t *ret_mapped, char *msg, size_t msglen)
{
	struct pcpu *p = e->pcpu;
	uint64_t chunks = 0, objects = 0, pages = 0, empty = 0;

	*ret_mapped = 0;
	if (!p)
		return e->percpu_pages ? fail(msg, msglen, "%llu per-CPU pages and no per-CPU "
					      "allocator", (ull)e->percpu_pages) : 0;
	for (int s = 0; s < p->nr_slots; s++) {
		for (struct list_node *l = p->slots[s].next; l != &p->slots[s]; l = l->next) {
			struct pcpu_chunk *c = list_entry(l, struct pcpu_chunk, list);
			uint64_t zeros = 0, cempty = 0, cpop = 0;

			if (++chunks > p->nr_chunks)
				return fail(msg, msglen, "more chunks listed than nr_chunks (%llu)",
					    (ull)p->nr_chunks);
			if (c->slot != s || chunk_slot(e, c) != s)
				return fail(msg, msglen, "chunk %#llx in slot %d, belongs in %d",
					    (ull)c->vm->addr, s, chunk_slot(e, c));
			if (!c->vm->va || c->vm->va->vm != c->vm ||
			    vmi_find_busy_va_start(e, c->vm->addr) != c->vm->va ||
			    c->vm->size != p->nr_units * p->unit_size || (c->vm->addr & (p->atom - 1)))
				return fail(msg, msglen, "chunk %#llx: its area is not a busy, aligned "
					    "range of %u units", (ull)c->vm->addr, p->nr_units);
			/* Run by run: a clear run counts free, an allocated one starts
			 * at a bound and holds objects up to bounds inside it. */
			for (uint64_t i = 0, end; i < p->map_bits; i = end) {
				if (!tbit(c->alloc_map, i)) {
					end = next_one(c->alloc_map, i, p->map_bits);
					zeros += end - i;
					continue;
				}
				if (!tbit(c->bound_map, i))
					return fail(msg, msglen, "chunk %#llx: object at bit %llu without "
						    "a bound", (ull)c->vm->addr, (ull)i);
				/* An object ends at the next bound, inside its run. */
				end = next_one(c->bound_map, i + 1, p->map_bits + 1);
				if (!tbit(c->bound_map, end) || next_zero(c->alloc_map, i, p->map_bits) < end)
					return fail(msg, msglen, "chunk %#llx: object at bit %llu runs past "
						    "its allocation", (ull)c->vm->addr, (ull)i);
				objects++;
			}
			if (zeros * PCPU_MIN_ALLOC_SIZE != c->free_bytes ||
			    c->contig_bits != largest_run_in(c->alloc_map, 0, p->map_bits) ||
			    c->first_free != next_zero(c->alloc_map, 0, p->map_bits))
				return fail(msg, msglen, "chunk %#llx: free_bytes %u, contig %u for %llu "
					    "free units", (ull)c->vm->addr, c->free_bytes, c->contig_bits,
					    (ull)zeros);
			for (uint64_t i = 0; i < p->nr_pages; i++) {
				uint64_t lo = i * PCPU_BITS_PER_PAGE, hi = lo + PCPU_BITS_PER_PAGE;
				bool pop = tbit(c->populated, i);
				uint32_t used = 0, left, right;

				/* The page's runs as block_refresh() keeps them, from its
				 * words: set bits counted, the free run at each end. */
				for (uint64_t w = lo / 64; w < hi / 64; w++)
					used += (uint32_t)__builtin_popcountll(c->alloc_map[w]);
				left = (uint32_t)(next_one(c->alloc_map, lo, hi) - lo);
				right = used ? (uint32_t)(hi - 1 - last_one(c->alloc_map, lo, hi)) :
					PCPU_BITS_PER_PAGE;
				if (used != c->block_used[i] || (used && !pop))
					return fail(msg, msglen, "chunk %#llx page %llu: %u units used, "
						    "counted %u, populated %d", (ull)c->vm->addr, (ull)i,
						    used, c->block_used[i], pop);
				if (c->md[i].left_free != left || c->md[i].right_free != right ||
				    c->md[i].contig != largest_run_in(c->alloc_map, i * PCPU_BITS_PER_PAGE,
								      (i + 1) * PCPU_BITS_PER_PAGE))
					return fail(msg, msglen, "chunk %#llx page %llu: hints left %u right "
						    "%u contig %u, its bits say %u, %u", (ull)c->vm->addr,
						    (ull)i, c->md[i].left_free, c->md[i].right_free,
						    c->md[i].contig, left, right);
				cpop += pop;
				cempty += pop && !used;
				for (unsigned u = 0; u < p->nr_units; u++) {
					uint32_t want = c->pfns[(uint64_t)u * p->nr_pages + i];
					uint64_t pfn;
					bool mapped = vmi_walk(e, unit_addr(p, c, u, i), &pfn) == 0;

					if (mapped != (pop && u < e->nr_cpus) || (mapped && pfn != want) ||
					    (mapped && !(pfn_to_page(e, pfn)->flags & PG_percpu)))
						return fail(msg, msglen, "chunk %#llx unit %u page %llu: "
							    "mapping does not match", (ull)c->vm->addr,
							    u, (ull)i);
					pages += mapped;
				}
			}
			if (cpop != c->nr_populated || cempty != c->nr_empty_pop_pages)
				return fail(msg, msglen, "chunk %#llx: %llu populated, %llu empty; counted "
					    "%u and %u", (ull)c->vm->addr, (ull)cpop, (ull)cempty,
					    c->nr_populated, c->nr_empty_pop_pages);
			empty += cempty;
		}
	}
	if (chunks != p->nr_chunks || objects != p->nr_objects || empty != p->nr_empty_pop_pages ||
	    pages != e->percpu_pages)
		return fail(msg, msglen, "per-CPU allocator: %llu chunks, %llu objects, %llu empty "
			    "pages, %llu frames; counters say %llu, %llu, %llu, %llu", (ull)chunks,
			    (ull)objects, (ull)empty, (ull)pages, (ull)p->nr_chunks, (ull)p->nr_objects,
			    (ull)p->nr_empty_pop_pages, (ull)e->percpu_pages);
	*ret_mapped = pages;
	return 0;
}

/* ---- the state image (state.c) ----------------------------------------------------------- */

/* The allocator's counters, then each slot's chunks in list order: the
 * chunk's and its maps' areas by their starts, its counters and bitmaps,
 * and its populated pages' frames.  The per-page hints are recomputed from
 * the allocation map on load, as they are after every change. */
void vmi_percpu_save(const struct vm_engine *e, struct vmi_out *o)
{
	const struct pcpu *p = e->pcpu;
	uint64_t vs = e->layout->vmalloc_start;

	vmi_out_u64(o, p->nr_chunks);
	vmi_out_u64(o, p->nr_empty_pop_pages);
	vmi_out_u64(o, p->nr_objects);
	vmi_out_u64(o, p->atomic_alloc_failed);
	vmi_out_u64(o, p->warnings);
	for (int s = 0; s < p->nr_slots; s++) {
		const struct list_node *h = &p->slots[s];
		uint64_t n = 0;

		for (const struct list_node *l = h->next; l != h; l = l->next)
			n++;
		vmi_out_u64(o, n);
		for (const struct list_node *l = h->next; l != h; l = l->next) {
			const struct pcpu_chunk *c = list_entry(l, struct pcpu_chunk, list);

			vmi_out_u64(o, c->vm->addr - vs);
			for (int i = 0; i < 4; i++)
				vmi_out_u64(o, c->maps[i] ? c->maps[i]->addr - vs + 1 : 0);
			vmi_out_u64(o, c->free_bytes);
			vmi_out_u64(o, c->contig_bits);
			vmi_out_u64(o, c->first_free);
			vmi_out_u64(o, c->nr_populated);
			vmi_out_u64(o, c->nr_empty_pop_pages);
			vmi_out_bitmap(o, c->alloc_map, p->map_bits);
			vmi_out_bitmap(o, c->bound_map, p->map_bits + 1);
			vmi_out_bitmap(o, c->populated, p->nr_pages);
			for (uint64_t pg = 0; pg < p->nr_pages; pg++)
				if (tbit(c->populated, pg))
					for (unsigned u = 0; u < p->nr_units; u++)
					{
						uint32_t f = c->pfns[(uint64_t)u * p->nr_pages + pg];

						/* Units past the CPUs (wasted to the atom)
						 * are never populated. */
						vmi_out_u64(o, f == PFN_NONE ? 0 : (uint64_t)f + 1);
					}
		}
	}
}

/* An area of the allocator's own, by its start (0: none). */
static int pcpu_area(struct vm_engine *e, uint64_t ref, bool chunk, struct vm_struct **ret)
{
	struct vmap_area *va;

	*ret = NULL;
	if (!ref)
		return chunk ? -EBADMSG : 0;
	va = vmi_find_busy_va_start(e, e->layout->vmalloc_start + ref - !chunk);
	if (!va || !va->vm || !(va->vm->flags & VM_PERCPU))
		return -EBADMSG;
	if (chunk && (va->vm->nr_pages || va->vm->caller != e->k->pcpu_vm_caller ||
		      va_size(va) != (uint64_t)e->pcpu->nr_units * e->pcpu->unit_size))
		return -EBADMSG;
	*ret = va->vm;
	return 0;
}

int vmi_percpu_load(struct vm_engine *e, struct vmi_in *in)
{
	struct pcpu *p = e->pcpu;
	uint64_t words = (p->map_bits + 63) / 64, bwords = (p->map_bits + 1 + 63) / 64;
	uint64_t span = e->layout->vmalloc_end - e->layout->vmalloc_start, total = 0;

	p->nr_chunks = vmi_in_max(in, (uint64_t)(in->end - in->p));
	p->nr_empty_pop_pages = vmi_in_u64(in);
	p->nr_objects = vmi_in_u64(in);
	p->atomic_alloc_failed = vmi_in_max(in, 1);
	p->warnings = (unsigned)vmi_in_max(in, PCPU_WARN_LIMIT);
	for (int s = 0; s < p->nr_slots; s++) {
		uint64_t n = vmi_in_max(in, p->nr_chunks);

		if (in->err)
			return in->err;
		for (uint64_t i = 0; i < n; i++) {
			struct pcpu_chunk *c = calloc(1, sizeof(*c));
			int r;

			if (!c)
				return -ENOMEM;
			/* Linked at once: the engine's destroy frees it. */
			list_add_tail(&c->list, &p->slots[s]);
			c->slot = s;
			c->alloc_map = calloc(words, 8);
			c->bound_map = calloc(bwords, 8);
			c->populated = calloc((p->nr_pages + 63) / 64, 8);
			c->pfns = malloc((size_t)p->nr_units * p->nr_pages * sizeof(*c->pfns));
			c->block_used = calloc(p->nr_pages, sizeof(*c->block_used));
			c->md = malloc(p->nr_pages * sizeof(*c->md));
			if (!c->alloc_map || !c->bound_map || !c->populated || !c->pfns ||
			    !c->block_used || !c->md)
				return -ENOMEM;
			if ((r = pcpu_area(e, vmi_in_max(in, span), true, &c->vm)) < 0)
				return r;
			for (int m = 0; m < 4; m++)
				if ((r = pcpu_area(e, vmi_in_max(in, span + 1), false, &c->maps[m])) < 0)
					return r;
			c->free_bytes = (uint32_t)vmi_in_max(in, p->unit_size);
			c->contig_bits = (uint32_t)vmi_in_max(in, p->map_bits);
			c->first_free = (uint32_t)vmi_in_max(in, p->map_bits);
			c->nr_populated = (uint32_t)vmi_in_max(in, p->nr_pages);
			c->nr_empty_pop_pages = (uint32_t)vmi_in_max(in, p->nr_pages);
			vmi_in_bitmap(in, c->alloc_map, p->map_bits);
			vmi_in_bitmap(in, c->bound_map, p->map_bits + 1);
			vmi_in_bitmap(in, c->populated, p->nr_pages);
			for (uint64_t k = 0; k < (uint64_t)p->nr_units * p->nr_pages; k++)
				c->pfns[k] = PFN_NONE;
			for (uint64_t pg = 0; pg < p->nr_pages && !in->err; pg++) {
				uint64_t used = 0;

				if (tbit(c->populated, pg))
					for (unsigned u = 0; u < p->nr_units; u++) {
						uint64_t f = vmi_in_max(in, e->nr_pages);

						c->pfns[(uint64_t)u * p->nr_pages + pg] =
							f ? (uint32_t)(f - 1) : PFN_NONE;
					}
				for (uint64_t b = pg * PCPU_BITS_PER_PAGE;
				     b < (pg + 1) * PCPU_BITS_PER_PAGE; b += 64)
					used += (uint64_t)__builtin_popcountll(c->alloc_map[b / 64]);
				c->block_used[pg] = (uint32_t)used;
				block_refresh(c, pg);
			}
			if (in->err)
				return in->err;
			total++;
		}
	}
	return total == p->nr_chunks ? 0 : -EBADMSG;
}
