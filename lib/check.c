/* check.c -- the invariant checker: walks every structure of an engine and
 * verifies the equations of vm-internal.h.  It is the tests' oracle after
 * random operation sequences, so it trusts no counter it can recompute.
 * The busy areas, their pages, tables and page arrays are every kernel's;
 * the kernel's KVA allocator checks its own structures (e->k->kva->check:
 * the free tree, lazy lists and pools of 6.18; the purge list and hint of
 * 4.19) and hands back the ranges it holds, which must then tile the
 * vmalloc range (6.18) or at least never overlap (4.19, whose free KVA is
 * the gaps).
 *
 * Cost: O(frames + areas + mapped pages); it allocates two bitmaps of one
 * bit per frame and reads the whole memmap, so it is for tests and for the
 * daemon's explicit "check" request, never for a hot path.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"
#include "vmap_busy.h"

struct checker {
	struct vm_engine *e;
	char *msg;
	size_t msglen;
	uint64_t *free_map;     /* frames inside a free block or deferred range */
	uint64_t *area_map;     /* frames seen in a vmalloc area */
	uint64_t nr_arrays;     /* VM_PAGE_ARRAY areas seen */
	uint64_t nr_arrays_owned; /* areas pointing at their page array */
};

__attribute__((format(printf, 2, 3)))
static int fail(struct checker *c, const char *fmt, ...)
{
	va_list ap;

	if (c->msg && c->msglen) {
		va_start(ap, fmt);
		vsnprintf(c->msg, c->msglen, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

static bool test_and_set(uint64_t *map, uint64_t bit)
{
	bool was = map[bit / 64] & (1ull << (bit % 64));

	map[bit / 64] |= 1ull << (bit % 64);
	return was;
}

static bool test_bit(const uint64_t *map, uint64_t bit)
{
	return map[bit / 64] & (1ull << (bit % 64));
}

typedef unsigned long long ull;

int vmi_check_fail(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (msg && msglen) {
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

static int check_zone(struct checker *c, const struct zone *z, uint64_t *nr_buddy_heads)
{
	struct vm_engine *e = c->e;
	uint64_t pages = 0;

	for (unsigned o = 0; o < VM_NR_ORDERS; o++) {
		uint64_t count = 0, prev = PFN_NONE;

		for (uint64_t pfn = z->free_area[o].head; pfn != PFN_NONE;) {
			const struct page *p;

			if (pfn < z->start_pfn || pfn + (1ull << o) > z->end_pfn)
				return fail(c, "node %d zone %s: free block %#llx order %u outside the zone",
					    z->node, vm_zone_name(z->type), (ull)pfn, o);
			if (pfn & ((1ull << o) - 1))
				return fail(c, "free block %#llx not aligned to order %u", (ull)pfn, o);
			p = pfn_to_page(e, pfn);
			if (!(p->flags & PG_buddy) || p->order != o)
				return fail(c, "free block %#llx on list %u has flags %#x order %u",
					    (ull)pfn, o, p->flags, p->order);
			if (p->prev != prev)
				return fail(c, "free list %u broken at %#llx", o, (ull)pfn);
			for (uint64_t i = 0; i < (1ull << o); i++)
				if (test_and_set(c->free_map, pfn + i))
					return fail(c, "frame %#llx in two free blocks", (ull)(pfn + i));
			if (++count > z->managed)
				return fail(c, "free list %u of zone %s loops", o, vm_zone_name(z->type));
			prev = pfn;
			pfn = p->next;
		}
		if (count != z->free_area[o].nr_free)
			return fail(c, "zone %s order %u: %llu blocks listed, nr_free says %llu",
				    vm_zone_name(z->type), o, (ull)count, (ull)z->free_area[o].nr_free);
		pages += count << o;
		*nr_buddy_heads += count;
	}
	/* Only a non-empty deferred range holds max-order blocks that must be
	 * aligned; an empty one sits at the start of a zone that may begin
	 * off a max-order boundary (ZONE_MOVABLE cut from a node's top). */
	if (z->deferred_pfn > z->deferred_end || z->deferred_pfn < z->start_pfn ||
	    z->deferred_end > z->end_pfn ||
	    (z->deferred_pfn < z->deferred_end &&
	     (z->deferred_pfn & ((1ull << VM_MAX_PAGE_ORDER) - 1))))
		return fail(c, "zone %s: bad deferred range", vm_zone_name(z->type));
	for (uint64_t pfn = z->deferred_pfn; pfn < z->deferred_end; pfn++)
		if (test_and_set(c->free_map, pfn))
			return fail(c, "deferred frame %#llx also on a free list", (ull)pfn);
	pages += z->deferred_end - z->deferred_pfn;
	if (pages != z->free_pages)
		return fail(c, "zone %s: free blocks hold %llu frames, free_pages says %llu",
			    vm_zone_name(z->type), (ull)pages, (ull)z->free_pages);
	return 0;
}

static int check_frames(struct checker *c)
{
	struct vm_engine *e = c->e;
	uint64_t heads = 0, seen_heads = 0, user = 0, vmalloc = 0, pgtable = 0, mapcount = 0;
	uint64_t resident = 0, percpu = 0;
	int r;

	for (unsigned n = 0; n < e->nr_nodes; n++)
		for (int t = 0; t < VM_NR_ZONES; t++)
			if ((r = check_zone(c, &e->zones[n][t], &heads)) < 0)
				return r;

	for (uint64_t pfn = 0; pfn < e->nr_pages; pfn++) {
		const struct page *p = pfn_to_page(e, pfn);

		resident += !!(p->flags & PG_dirty);
		if (!(pfn & 0xfffff))
			vmi_cond_resched(e);
		unsigned owners = !!(p->flags & PG_user) + !!(p->flags & PG_vmalloc) +
				  !!(p->flags & PG_pgtable) + !!(p->flags & PG_percpu);

		if (p->flags & PG_buddy)
			seen_heads++;
		if (test_bit(c->free_map, pfn)) {
			if (owners || (p->flags & PG_head))
				return fail(c, "frame %#llx is free and owned (flags %#x)", (ull)pfn, p->flags);
			continue;
		}
		if (owners != 1)
			return fail(c, "frame %#llx is neither free nor owned by exactly one user (flags %#x)",
				    (ull)pfn, p->flags);
		user += !!(p->flags & PG_user);
		vmalloc += !!(p->flags & PG_vmalloc);
		pgtable += !!(p->flags & PG_pgtable);
		percpu += !!(p->flags & PG_percpu);
		mapcount += p->mapcount;
	}
	if (seen_heads != heads)
		return fail(c, "%llu frames marked PG_buddy, %llu free blocks listed",
			    (ull)seen_heads, (ull)heads);
	if (user != e->user_pages)
		return fail(c, "%llu alloc_pages frames, counter says %llu", (ull)user, (ull)e->user_pages);
	if (vmalloc != e->vmalloc_pages)
		return fail(c, "%llu vmalloc frames, counter says %llu", (ull)vmalloc, (ull)e->vmalloc_pages);
	if (pgtable != e->pagetable_pages)
		return fail(c, "%llu page-table frames, counter says %llu", (ull)pgtable, (ull)e->pagetable_pages);
	if (resident != e->resident_pages)
		return fail(c, "%llu resident frames, counter says %llu", (ull)resident,
			    (ull)e->resident_pages);
	if (percpu != e->percpu_pages)
		return fail(c, "%llu per-CPU frames, counter says %llu", (ull)percpu, (ull)e->percpu_pages);
	if (mapcount != e->vmap_pages + e->map_ram_pages)
		return fail(c, "map counts add up to %llu, vmap and vm_map_ram counters say %llu + %llu",
			    (ull)mapcount, (ull)e->vmap_pages, (ull)e->map_ram_pages);
	return 0;
}

struct range {
	uint64_t start, end;
	char kind;
};

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Every range of the vmalloc range the engine holds, to be sorted. */
struct ranges {
	struct range *v;
	uint64_t n, cap;
};

static int push_range(void *ctx, uint64_t start, uint64_t end, char kind)
{
	struct ranges *rs = ctx;

	if (rs->n == rs->cap) {
		uint64_t cap = rs->cap ? rs->cap * 2 : 64;
		struct range *p = realloc(rs->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		rs->v = p;
		rs->cap = cap;
	}
	rs->v[rs->n++] = (struct range){ start, end, kind };
	return 0;
}

static int check_area(struct checker *c, const struct vmap_area *va, uint64_t *vmalloc,
		      uint64_t *vmap)
{
	struct vm_engine *e = c->e;
	const struct vm_struct *vm = va->vm;
	uint64_t pfn;

	if (!vm)
		return fail(c, "busy range %#llx has no vm_struct", (ull)va->va_start);
	if (vm->va != va || vm->addr != va->va_start || vm->size != va->va_end - va->va_start)
		return fail(c, "area %#llx: vm_struct and vmap_area disagree", (ull)va->va_start);
	if ((vm->nr_pages << VM_PAGE_SHIFT) > vm->size)
		return fail(c, "area %#llx: %llu pages do not fit in %llu bytes", (ull)vm->addr,
			    (ull)vm->nr_pages, (ull)vm->size);
	if (!!(vm->flags & VM_ALLOC) + !!(vm->flags & VM_MAP) != 1 || (vm->flags & VM_UNINITIALIZED))
		return fail(c, "area %#llx: bad flags %#x", (ull)vm->addr, vm->flags);
	for (uint64_t i = 0; i < vm->nr_pages; i++) {
		uint8_t want = (vm->flags & VM_ALLOC) ? PG_vmalloc : PG_user;

		if (vmi_walk(e, vm->addr + (i << VM_PAGE_SHIFT), &pfn) < 0 || pfn != vm->pages[i])
			return fail(c, "area %#llx page %llu: PTE does not map pfn %#x", (ull)vm->addr,
				    (ull)i, vm->pages[i]);
		if (!(pfn_to_page(e, pfn)->flags & want))
			return fail(c, "area %#llx page %llu: frame %#llx has flags %#x", (ull)vm->addr,
				    (ull)i, (ull)pfn, pfn_to_page(e, pfn)->flags);
		if ((vm->flags & VM_ALLOC) && test_and_set(c->area_map, pfn))
			return fail(c, "frame %#llx mapped by two vmalloc areas", (ull)pfn);
	}
	/* A per-CPU chunk's range maps its populated pages: percpu.c checks
	 * them. */
	for (uint64_t a = vm->addr + (vm->nr_pages << VM_PAGE_SHIFT);
	     a < va->va_end && !((vm->flags & VM_PERCPU) && !vm->nr_pages); a += VM_PAGE_SIZE)
		if (vmi_walk(e, a, &pfn) == 0)
			return fail(c, "area %#llx: guard page %#llx is mapped", (ull)vm->addr, (ull)a);
	if (vm->flags & VM_ALLOC) {
		/* The page array: an area of its own iff longer than a page,
		 * with the same caller, owned by this area alone. */
		uint64_t bytes = vm->nr_pages * e->layout->ptr_size;
		uint64_t want = bytes > VM_PAGE_SIZE ? (bytes + VM_PAGE_SIZE - 1) >> VM_PAGE_SHIFT : 0;
		const struct vm_struct *a = vm->array_vm;

		if (!!a != !!want || (a && (a->nr_pages != want || !(a->flags & VM_PAGE_ARRAY) ||
					    !a->va || a->va->vm != a || a->caller != vm->caller)))
			return fail(c, "area %#llx of %llu pages: page array %s", (ull)vm->addr,
				    (ull)vm->nr_pages, a ? "is not its own area of the right size" :
				    "is missing");
		if (a)
			c->nr_arrays_owned++;
		if (vm->flags & VM_PAGE_ARRAY)
			c->nr_arrays++;
		*vmalloc += vm->nr_pages;
	} else {
		if (vm->flags & VM_PAGE_ARRAY)
			return fail(c, "vmap area %#llx marked as a page array", (ull)vm->addr);
		*vmap += vm->nr_pages;
	}
	return 0;
}

static int check_kva(struct checker *c)
{
	struct vm_engine *e = c->e;
	uint64_t vmalloc = 0, vmap = 0, busy = 0, ram = 0, present, tables, expect;
	uint64_t ram_mapped, percpu_mapped;
	struct ranges rs = { 0 };
	struct list_node *l;
	struct rb_node *n;
	int r = 0;

	if (vmi_rb_check(&e->busy_root) < 0)
		return fail(c, "the busy KVA tree breaks the red-black rules");
	l = e->busy_list.next;
	for (n = vmi_rb_first(&e->busy_root); n; n = vmi_rb_next(n), l = l->next) {
		struct vmap_area *va = rb_entry(n, struct vmap_area, rb);

		if (l == &e->busy_list || list_entry(l, struct vmap_area, list) != va) {
			r = fail(c, "busy range %#llx: tree and list disagree", (ull)va->va_start);
			goto out;
		}
		if (!va->vm && (va->flags & (VA_VMAP_RAM | VA_LAZY)) == VA_VMAP_RAM) {
			/* vm_map_ram's: busy without a vm_struct (vmap_block.c
			 * checks what they map). */
			if (vmi_find_busy_va_start(e, va->va_start) != va) {
				r = fail(c, "vm_map_ram range %#llx: not found by its start",
					 (ull)va->va_start);
				goto out;
			}
			ram++;
			if ((r = push_range(&rs, va->va_start, va->va_end, 'b')) < 0)
				goto out;
			continue;
		}
		if (!va->vm) {
			/* Only 4.19 keeps lazily freed ranges in this tree. */
			if (!(va->flags & VA_LAZY) || e->k->kva->tiles) {
				r = fail(c, "busy range %#llx has no vm_struct", (ull)va->va_start);
				goto out;
			}
			if ((r = push_range(&rs, va->va_start, va->va_end, 'l')) < 0)
				goto out;
			continue;
		}
		/* The hash must index exactly the busy areas. */
		if (vmi_find_busy_va_start(e, va->va_start) != va) {
			r = fail(c, "busy area %#llx: not found by its start", (ull)va->va_start);
			goto out;
		}
		if ((r = check_area(c, va, &vmalloc, &vmap)) < 0)
			goto out;
		busy++;
		if ((r = push_range(&rs, va->va_start, va->va_end, 'b')) < 0)
			goto out;
	}
	if (l != &e->busy_list) {
		r = fail(c, "busy list longer than the busy tree");
		goto out;
	}
	if (busy + ram != e->nr_busy || ram != e->nr_map_ram) {
		r = fail(c, "%llu busy areas and %llu vm_map_ram ranges, nr_busy and nr_map_ram say "
			 "%llu and %llu", (ull)busy, (ull)ram, (ull)e->nr_busy, (ull)e->nr_map_ram);
		goto out;
	}
	if ((r = vmi_vmap_block_check(e, &ram_mapped, c->msg, c->msglen)) < 0 ||
	    (r = vmi_percpu_check(e, &percpu_mapped, c->msg, c->msglen)) < 0 ||
	    (r = vmi_kvfree_rcu_check(e, c->msg, c->msglen)) < 0)
		goto out;
	if (c->nr_arrays != c->nr_arrays_owned) {
		r = fail(c, "%llu page-array areas, %llu areas pointing at one", (ull)c->nr_arrays,
			 (ull)c->nr_arrays_owned);
		goto out;
	}
	/* The kernel's own structures: free tree, lazy lists, pools, hints. */
	r = e->k->kva->check(e, push_range, &rs, c->msg, c->msglen);
	if (r)
		goto out;
	if (rs.n)
		qsort(rs.v, rs.n, sizeof(*rs.v), cmp_range);
	expect = e->layout->vmalloc_start;
	for (uint64_t i = 0; i < rs.n; i++) {
		if (rs.v[i].start < expect || rs.v[i].end <= rs.v[i].start) {
			r = fail(c, "KVA %#llx..%#llx claimed twice", (ull)rs.v[i].start, (ull)expect);
			goto out;
		}
		if (rs.v[i].start > expect && e->k->kva->tiles) {
			r = fail(c, "KVA %#llx..%#llx lost (neither free, busy, lazy nor pooled)",
				 (ull)expect, (ull)rs.v[i].start);
			goto out;
		}
		expect = rs.v[i].end;
	}
	if (expect > e->layout->vmalloc_end ||
	    (expect != e->layout->vmalloc_end && e->k->kva->tiles)) {
		r = fail(c, "KVA ends at %#llx, the range at %#llx", (ull)expect, (ull)e->layout->vmalloc_end);
		goto out;
	}
	if (vmalloc != e->vmalloc_pages || vmap != e->vmap_pages) {
		r = fail(c, "areas map %llu vmalloc and %llu vmap pages, counters say %llu and %llu",
			 (ull)vmalloc, (ull)vmap, (ull)e->vmalloc_pages, (ull)e->vmap_pages);
		goto out;
	}
	r = vmi_pgtable_check(e, &present, &tables, c->msg, c->msglen);
	if (r < 0)
		goto out;
	if (present != vmalloc + vmap + ram_mapped + percpu_mapped) {
		r = fail(c, "%llu PTEs present; areas map %llu pages, vm_map_ram %llu, per-CPU chunks %llu",
			 (ull)present, (ull)(vmalloc + vmap), (ull)ram_mapped, (ull)percpu_mapped);
		goto out;
	}
	if (tables != e->pagetable_pages)
		r = fail(c, "%llu page-table pages reachable, counter says %llu", (ull)tables,
			 (ull)e->pagetable_pages);
out:
	free(rs.v);
	return r;
}

int vm_check(struct vm_engine *e, char *msg, size_t msglen)
{
	struct checker c = { .e = e, .msg = msg, .msglen = msglen };
	size_t words;
	int r;

	if (!e)
		return -EINVAL;
	if (msg && msglen)
		msg[0] = '\0';
	words = (e->nr_pages + 63) / 64;
	c.free_map = calloc(words, sizeof(uint64_t));
	c.area_map = calloc(words, sizeof(uint64_t));
	if (!c.free_map || !c.area_map) {
		r = -ENOMEM;
		goto out;
	}
	r = check_frames(&c);
	if (r == 0)
		r = check_kva(&c);
out:
	free(c.free_map);
	free(c.area_map);
	return r;
}
