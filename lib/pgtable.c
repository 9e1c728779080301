/* pgtable.c -- simulated kernel page tables over the vmalloc range.
 *
 * The tables are real: each is a frame taken from the buddy allocator
 * (GFP_KERNEL, so lowmem on i386), holding little-endian entries in the
 * frame's own bytes, counted as PageTables.  x86_64 walks 4 levels of 9
 * bits with 8-byte entries; i386 walks 2 levels of 10 bits with 4-byte
 * entries.  An entry is (pfn << 12) | flags.
 *
 * Invariants: a table frame has PG_pgtable and its struct page's private
 * field equals its number of present entries.  Tables live as long as the
 * engine, empty or not: no kernel frees the page tables of the vmalloc
 * range (vunmap clears entries only), so PageTables never falls.  A table
 * made by a mapping that fails part way is freed again: that call changes
 * nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"

#define PTE_PRESENT 0x001ull
#define PTE_RW      0x002ull
#define PTE_GLOBAL  0x100ull
#define PTE_NX      (1ull << 63)
#define PTE_PFN_MASK  0x000ffffffffff000ull

static inline unsigned pt_entries(const struct vm_engine *e)
{
	return 1u << e->layout->pt_index_bits;
}

static inline unsigned pt_index(const struct vm_engine *e, uint64_t addr, unsigned level)
{
	return (unsigned)(addr >> e->layout->pt_shift[level]) & (pt_entries(e) - 1);
}

/* Entry idx of the table whose bytes start at mem, entries pte_size (4 or
 * 8) bytes wide.  The walks call it with the layout's fields already in
 * registers. */
static inline uint64_t entry_at(const uint8_t *mem, unsigned idx, unsigned pte_size)
{
	if (pte_size == 4) {
		uint32_t v;

		memcpy(&v, mem + (size_t)idx * 4, 4);
		return v;
	}
	uint64_t v;

	memcpy(&v, mem + (size_t)idx * 8, 8);
	return v;
}

static inline uint64_t read_entry(const struct vm_engine *e, uint64_t table, unsigned idx)
{
	return entry_at(pfn_to_virt(e, table), idx, e->layout->pte_size);
}

static inline void write_entry(struct vm_engine *e, uint64_t table, unsigned idx, uint64_t v)
{
	uint8_t *p = pfn_to_virt(e, table) + (size_t)idx * e->layout->pte_size;

	if (e->layout->pte_size == 4) {
		uint32_t w = (uint32_t)v;

		memcpy(p, &w, 4);
	} else {
		memcpy(p, &v, 8);
	}
}

static inline uint64_t entry_pfn(uint64_t ent)
{
	return (ent & PTE_PFN_MASK) >> VM_PAGE_SHIFT;
}

static uint64_t mk_pte(const struct vm_engine *e, uint64_t pfn, uint32_t prot)
{
	uint64_t v = (pfn << VM_PAGE_SHIFT) | PTE_PRESENT | PTE_GLOBAL;

	if (prot & VM_PROT_WRITE)
		v |= PTE_RW;
	if (!(prot & VM_PROT_EXEC) && e->layout->pte_size == 8)
		v |= PTE_NX;
	return v;
}

/* A table is written as soon as it is made: it is resident from the start,
 * so walks read only resident frames, and it counts against the limit. */
static int alloc_table(struct vm_engine *e, uint64_t *ret_pfn)
{
	int r = vmi_resident_reserve(e, 1);

	if (r == 0)
		r = vmi_alloc_pages(e, GFP_KERNEL | __GFP_ZERO, 0, NUMA_NO_NODE, PG_pgtable, ret_pfn);
	if (r == 0) {
		e->pagetable_pages++;
		vmi_frame_dirty(e, *ret_pfn);
		/* A replay keeps the bytes as they are, but a new table starts
		 * empty whatever the frame held at the end of the original run;
		 * its entries are written again as the replay maps.  What the
		 * frame held is kept until the replay ends, for a table that a
		 * failing call frees again (its frame's later owner's bytes). */
		if (e->replay) {
			struct page *p = pfn_to_page(e, *ret_pfn);

			vmi_replay_stash(e, *ret_pfn);
			memset(pfn_to_virt(e, *ret_pfn), 0, VM_PAGE_SIZE);
			/* Resident as every table is (the checker says so). */
			if (!(p->flags & PG_dirty)) {
				p->flags |= PG_dirty;
				e->resident_pages++;
			}
		}
	}
	return r;
}

static void free_table(struct vm_engine *e, uint64_t pfn)
{
	VMI_SUB(e, e->pagetable_pages, 1);
	if (e->replay)
		vmi_replay_unstash(e, pfn);
	vmi_free_pages(e, pfn, 0);
}

int vmi_pgtable_init(struct vm_engine *e)
{
	uint64_t pfn;
	int r = alloc_table(e, &pfn);

	if (r < 0)
		return r;
	e->pgd_pfn = (uint32_t)pfn;
	return 0;
}

void vmi_pgtable_destroy(struct vm_engine *e)
{
	/* Table frames vanish with the backing store. */
	e->pgd_pfn = 0;
	free(e->pt_log.v);
	memset(&e->pt_log, 0, sizeof(e->pt_log));
}

static int note_table(struct new_tables *nt, uint64_t pfn, uint64_t parent, unsigned idx)
{
	if (nt->n == nt->cap) {
		size_t cap = nt->cap ? nt->cap * 2 : 8;
		void *p = realloc(nt->v, cap * sizeof(*nt->v));

		if (!p)
			return -ENOMEM;
		nt->v = p;
		nt->cap = cap;
	}
	nt->v[nt->n].pfn = pfn;
	nt->v[nt->n].parent = parent;
	nt->v[nt->n].idx = idx;
	nt->n++;
	return 0;
}

/* The last-level table for addr, created on the way if nt is non-NULL;
 * PFN_NONE if missing (or -ENOMEM through *err). */
/* Inlined into its two callers (mapping and unmapping, on every vmalloc and
 * vfree), whatever else calls those. */
static inline __attribute__((always_inline))
uint64_t leaf_table(struct vm_engine *e, uint64_t addr, struct new_tables *nt, int *err)
{
	const struct layout_desc *l = e->layout;
	unsigned last = l->pt_levels - 1, mask = (1u << l->pt_index_bits) - 1, level;
	uint64_t table = e->pgd_pfn;

	/* The usual case first: every level there, read only, the layout
	 * held in registers. */
	for (level = 0; level < last; level++) {
		unsigned idx = (unsigned)(addr >> l->pt_shift[level]) & mask;
		uint64_t ent = entry_at(e->mem + (table << VM_PAGE_SHIFT), idx, l->pte_size);

		if (!(ent & PTE_PRESENT))
			break;
		table = entry_pfn(ent);
	}
	if (level == last)
		return table;

	for (; level < last; level++) {
		unsigned idx = pt_index(e, addr, level);
		uint64_t ent = read_entry(e, table, idx), child;

		if (!(ent & PTE_PRESENT)) {
			if (!nt)
				return PFN_NONE;
			if (alloc_table(e, &child) < 0) {
				*err = -ENOMEM;
				return PFN_NONE;
			}
			if (e->pt_logging && note_table(&e->pt_log, child, table, idx) < 0) {
				free_table(e, child);
				*err = -ENOMEM;
				return PFN_NONE;
			}
			if (note_table(nt, child, table, idx) < 0) {
				if (e->pt_logging)
					e->pt_log.n--;
				free_table(e, child);
				*err = -ENOMEM;
				return PFN_NONE;
			}
			write_entry(e, table, idx, (child << VM_PAGE_SHIFT) | PTE_PRESENT | PTE_RW);
			pfn_to_page(e, table)->private++;
			ent = child << VM_PAGE_SHIFT;
		}
		table = entry_pfn(ent);
	}
	return table;
}

void vmi_unmap_range(struct vm_engine *e, uint64_t addr, uint64_t nr)
{
	unsigned per = pt_entries(e), leaves = 0;

	while (nr) {
		unsigned idx = pt_index(e, addr, e->layout->pt_levels - 1);
		uint64_t n = per - idx;
		uint64_t leaf = leaf_table(e, addr, NULL, NULL);

		if (n > nr)
			n = nr;
		if (leaf != PFN_NONE) {
			struct page *lp = pfn_to_page(e, leaf);

			for (unsigned k = 0; k < n; k++) {
				if (read_entry(e, leaf, idx + k) & PTE_PRESENT) {
					write_entry(e, leaf, idx + k, 0);
					lp->private--;
				}
			}
		}
		addr += n << VM_PAGE_SHIFT;
		nr -= n;
		if (!(++leaves & 127))
			vmi_cond_resched(e);
	}
}

int vmi_map_pages(struct vm_engine *e, uint64_t addr, const uint32_t *pfns,
		  uint64_t nr, uint32_t prot)
{
	struct new_tables nt = { 0 };
	unsigned per = pt_entries(e), leaves = 0;
	uint64_t done = 0;
	int err = 0;

	while (done < nr) {
		uint64_t a = addr + (done << VM_PAGE_SHIFT);
		unsigned idx = pt_index(e, a, e->layout->pt_levels - 1);
		uint64_t n = per - idx, leaf;

		if (n > nr - done)
			n = nr - done;
		leaf = leaf_table(e, a, &nt, &err);
		if (leaf == PFN_NONE)
			goto fail;
		for (unsigned k = 0; k < n; k++)
			write_entry(e, leaf, idx + k, mk_pte(e, pfns[done + k], prot));
		pfn_to_page(e, leaf)->private += (uint32_t)n;
		done += n;
		if (!(++leaves & 127))
			vmi_cond_resched(e);
	}
	free(nt.v);
	return 0;

fail:
	/* Undo: clear what was mapped, then free the tables made here,
	 * children before parents (reverse creation order).  They are the
	 * last ones the call's log has. */
	vmi_unmap_range(e, addr, done);
	if (e->pt_logging)
		e->pt_log.n -= nt.n;
	for (size_t i = nt.n; i-- > 0;) {
		write_entry(e, nt.v[i].parent, nt.v[i].idx, 0);
		pfn_to_page(e, nt.v[i].parent)->private--;
		free_table(e, nt.v[i].pfn);
	}
	free(nt.v);
	return err ? err : -ENOMEM;
}

void vmi_pgtable_log_begin(struct vm_engine *e)
{
	e->pt_log.n = 0;
	e->pt_logging = true;
}

void vmi_pgtable_log_end(struct vm_engine *e, bool undo)
{
	struct new_tables *nt = &e->pt_log;

	for (size_t i = nt->n; undo && i-- > 0;) {
		write_entry(e, nt->v[i].parent, nt->v[i].idx, 0);
		pfn_to_page(e, nt->v[i].parent)->private--;
		free_table(e, nt->v[i].pfn);
	}
	nt->n = 0;
	e->pt_logging = false;
}

int vmi_walk_pte(const struct vm_engine *e, uint64_t addr, uint64_t *ret_pfn, bool *ret_writable)
{
	const struct layout_desc *l = e->layout;
	unsigned levels = l->pt_levels, mask = (1u << l->pt_index_bits) - 1;
	uint64_t table = e->pgd_pfn, ent = 0;

	for (unsigned level = 0; level < levels; level++) {
		unsigned idx = (unsigned)(addr >> l->pt_shift[level]) & mask;

		ent = entry_at(e->mem + (table << VM_PAGE_SHIFT), idx, l->pte_size);
		if (!(ent & PTE_PRESENT))
			return -ENXIO;
		table = entry_pfn(ent);
	}
	*ret_pfn = table;
	if (ret_writable)
		*ret_writable = (ent & PTE_RW) != 0;
	return 0;
}

int vmi_walk(const struct vm_engine *e, uint64_t addr, uint64_t *ret_pfn)
{
	return vmi_walk_pte(e, addr, ret_pfn, NULL);
}

/* Whether the PTE for addr allows writes (the caller knows it is present). */
bool vmi_pte_writable(const struct vm_engine *e, uint64_t addr)
{
	uint64_t pfn;
	bool w;

	return vmi_walk_pte(e, addr, &pfn, &w) == 0 && w;
}

static int check_table(struct vm_engine *e, uint64_t table, unsigned level,
		       uint64_t *present, uint64_t *tables, char *msg, size_t msglen)
{
	struct page *p;
	uint32_t count = 0;

	if (table >= e->nr_pages) {
		snprintf(msg, msglen, "page table pfn %#llx outside memory", (unsigned long long)table);
		return -EUCLEAN;
	}
	p = pfn_to_page(e, table);
	if (!(p->flags & PG_pgtable)) {
		snprintf(msg, msglen, "page table pfn %#llx lacks PG_pgtable", (unsigned long long)table);
		return -EUCLEAN;
	}
	(*tables)++;
	for (unsigned idx = 0; idx < pt_entries(e); idx++) {
		uint64_t ent = read_entry(e, table, idx);

		if (!(ent & PTE_PRESENT)) {
			if (ent) {
				snprintf(msg, msglen, "non-present entry %u of table %#llx is %#llx",
					 idx, (unsigned long long)table, (unsigned long long)ent);
				return -EUCLEAN;
			}
			continue;
		}
		count++;
		if (level + 1 == e->layout->pt_levels) {
			(*present)++;
		} else {
			int r = check_table(e, entry_pfn(ent), level + 1, present, tables, msg, msglen);

			if (r < 0)
				return r;
		}
	}
	if (count != p->private) {
		snprintf(msg, msglen, "table %#llx has %u present entries, counted %u",
			 (unsigned long long)table, count, p->private);
		return -EUCLEAN;
	}
	return 0;
}

int vmi_pgtable_check(struct vm_engine *e, uint64_t *ret_present, uint64_t *ret_tables,
		      char *msg, size_t msglen)
{
	*ret_present = 0;
	*ret_tables = 0;
	return check_table(e, e->pgd_pfn, 0, ret_present, ret_tables, msg, msglen);
}

/* ---- the state image (state.c) ----------------------------------------------------------- */

/* The tables' bytes are the frames memfd's, but an image is loaded over
 * a memfd that may have moved on (a replay's), so the tables go into the
 * image too: from the root down, each table's non-zero entries as (index
 * step << 1 | flags changed, pfn step, [flags]), its child tables after
 * it in entry order.  An entry's flags are its bits outside the pfn. */
static void save_table(const struct vm_engine *e, struct vmi_out *o, uint64_t table,
		       unsigned level)
{
	uint64_t prev_pfn = 0, prev_flags = PTE_PRESENT | PTE_GLOBAL;
	unsigned n = pt_entries(e), last = 0;
	bool leaf = level + 1 == e->layout->pt_levels;

	for (unsigned i = 0; i < n; i++) {
		uint64_t v = read_entry(e, table, i), pfn = entry_pfn(v), flags = v & ~PTE_PFN_MASK;
		int64_t d = (int64_t)pfn - (int64_t)prev_pfn;

		if (!v)
			continue;
		vmi_out_u64(o, (uint64_t)(i + 1 - last) << 1 | (flags != prev_flags));
		vmi_out_u64(o, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
		if (flags != prev_flags)
			vmi_out_u64(o, (flags & 0xfff) | (flags >> 63) << 12);
		prev_flags = flags;
		prev_pfn = pfn + 1;
		last = i + 1;
	}
	vmi_out_u64(o, 0);
	if (leaf)
		return;
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = read_entry(e, table, i);

		if (v & PTE_PRESENT)
			save_table(e, o, entry_pfn(v), level + 1);
	}
}

void vmi_pgtable_save(const struct vm_engine *e, struct vmi_out *o)
{
	save_table(e, o, e->pgd_pfn, 0);
}

/* The tables seen by a load, to find one reached twice. */
struct table_seen {
	uint64_t *v;
	uint64_t n;
};

/* Read (and with write, also write) one table and those below it:
 * entries in range, child tables PG_pgtable frames, as many tables as
 * pagetable_pages says. */
static int load_table(struct vm_engine *e, struct vmi_in *in, uint64_t table, unsigned level,
		      bool write, struct table_seen *seen)
{
	uint64_t prev_pfn = 0, prev_flags = PTE_PRESENT | PTE_GLOBAL;
	unsigned n = pt_entries(e), at = 0;
	bool leaf = level + 1 == e->layout->pt_levels;
	uint64_t *kids = NULL;
	unsigned nr_kids = 0;
	int r = 0;

	if (table >= e->nr_pages || !(pfn_to_page(e, table)->flags & PG_pgtable) ||
	    seen->n >= e->pagetable_pages)
		return vmi_in_fail(in);
	seen->v[seen->n++] = table;
	if (write)
		memset(pfn_to_virt(e, table), 0, VM_PAGE_SIZE);
	if (!leaf) {
		kids = malloc(n * sizeof(*kids));
		if (!kids)
			return -ENOMEM;
	}
	for (;;) {
		uint64_t h = vmi_in_u64(in), d, flags = prev_flags, v, pfn;

		if (in->err || !h)
			break;
		/* Every entry steps at least one index on (a step of 0 would
		 * name the entry before the table's first). */
		if (!(h >> 1) || (h >> 1) > n - at) {
			vmi_in_fail(in);
			break;
		}
		at += (unsigned)(h >> 1);
		d = vmi_in_u64(in);
		pfn = prev_pfn + (uint64_t)((int64_t)(d >> 1) ^ -(int64_t)(d & 1));
		if (h & 1) {
			uint64_t f = vmi_in_max(in, 0x1fff);

			flags = (f & 0xfff) | (f >> 12) << 63;
		}
		if (in->err || pfn >= e->nr_pages || (e->layout->pte_size == 4 && (flags >> 32))) {
			vmi_in_fail(in);
			break;
		}
		v = (pfn << VM_PAGE_SHIFT) | flags;
		if (!v) {
			vmi_in_fail(in);
			break;
		}
		if (write)
			write_entry(e, table, at - 1, v);
		if (!leaf && (v & PTE_PRESENT))
			kids[nr_kids++] = pfn;
		prev_flags = flags;
		prev_pfn = pfn + 1;
	}
	for (unsigned i = 0; i < nr_kids && !in->err && r == 0; i++)
		r = load_table(e, in, kids[i], level + 1, write, seen);
	free(kids);
	return in->err ? in->err : r;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int vmi_pgtable_load(struct vm_engine *e, struct vmi_in *in, bool write)
{
	struct table_seen seen = { malloc((e->pagetable_pages ? e->pagetable_pages : 1) *
					  sizeof(uint64_t)), 0 };
	int r;

	if (!seen.v)
		return -ENOMEM;
	r = load_table(e, in, e->pgd_pfn, 0, write, &seen);
	/* Every table once: a table reached from two entries would be
	 * written through both. */
	if (r == 0 && seen.n != e->pagetable_pages)
		r = vmi_in_fail(in);
	if (r == 0) {
		qsort(seen.v, seen.n, sizeof(*seen.v), cmp_u64);
		for (uint64_t i = 1; i < seen.n && r == 0; i++)
			if (seen.v[i] == seen.v[i - 1])
				r = vmi_in_fail(in);
	}
	free(seen.v);
	return r;
}
