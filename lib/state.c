/* state.c -- the engine's state image: the machine's whole metadata written
 * out and read back exactly (vm_engine_save, vm_engine_load), replay mode
 * and the re-derivation of residency from the frames memfd.
 *
 * The image is
 *   header    "VMSTATE\0", u32 version, u32 length H of the header, the
 *             machine's config (varints), u32 CRC-32C of bytes [0, H)
 *   sections  u32 tag, u64 length, u32 CRC-32C of the payload, payload;
 *             in a fixed order, the last one END (empty), nothing after it
 * fixed-width fields little-endian, the rest LEB128 varints.  Sections:
 *   ENGINE    counters, the current identity and CPU, work bits, the
 *             page-table root, 4.19's hint values
 *   CALLERS   the interned caller strings in use
 *   ZONES     per zone: free_pages, its deferred range, per order the free
 *             list's head and length
 *   MEMMAP    runs of non-zero struct pages, found in each zone's touched
 *             part only (outside its deferred range: never-touched memmap
 *             is never read, so a 16 TiB machine saves what it used)
 *   KVA       busy ranges in address order (4.19: lazy ones too) with their
 *             vm_structs; 6.18: free ranges, each vmap node's lazy list and
 *             pools in list order; 4.19: vmap_purge_list in order, the hint
 *   PERCPU, VMAP_BLOCK, KVFREE_RCU   those structures' own parts (their files)
 *   PGTABLE   the page tables' entries (pgtable.c): they are in the frames
 *             memfd too, but a memfd that has moved on since the image (a
 *             replay's) holds later ones, so loading writes them back
 * Pointers are addresses (a vm_struct is named by its area's start) or
 * indices (callers); the trees are rebuilt from the ranges, which gives the
 * same answers to every lookup (the free tree's search is lowest- or
 * highest-address first, whatever the shape); lists whose order decides
 * later placements (buddy free lists, pools, purge list, per-CPU slots,
 * vmap block queues, kvfree_rcu batches) keep their order exactly.  Hints
 * that decide nothing (the busy hint) start empty.
 *
 * Loading trusts nothing before it is checked: every section's length and
 * checksum, every varint's range, every pfn, index and address, each free
 * list walked against its count; then, where the machine is small enough
 * for it to be quick, the whole invariant checker (vm_check).  Anything
 * wrong is -EBADMSG, and the half-built engine is destroyed whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm-internal.h"
#include "vmap_busy.h"

#define STATE_MAGIC    "VMSTATE"        /* 8 bytes with its NUL */
#define STATE_VERSION  1u
#define HDR_FIXED      16u              /* magic, version, header length */
#define SEC_HDR        16u              /* tag, length, checksum */
/* The largest image section accepted (a machine of 2^32 frames, all
 * touched, fits). */
#define SEC_MAX        (1ull << 40)
/* Machines up to this many frames are checked whole on load (vm_check is
 * O(frames)). */
#define LOAD_CHECK_MAX_PAGES (1ull << 25)

enum {
	SEC_END = 0, SEC_ENGINE, SEC_CALLERS, SEC_ZONES, SEC_MEMMAP, SEC_KVA,
	SEC_PERCPU, SEC_VMAP_BLOCK, SEC_KVFREE_RCU, SEC_PGTABLE, NR_SECTIONS
};

/* Caller references: 0 none, 1 the per-CPU chunks' static string, 2 + i
 * the interned string i. */
#define CALLER_NONE  0u
#define CALLER_PCPU  1u
#define CALLER_BASE  2u

/* ---- the codec ------------------------------------------------------------------------- */

static void out_bytes(struct vmi_out *o, const void *p, size_t n)
{
	if (o->err)
		return;
	if (n > o->cap - o->len) {
		size_t cap = o->cap ? o->cap : 4096;
		uint8_t *b;

		while (cap - o->len < n)
			cap *= 2;
		b = realloc(o->buf, cap);
		if (!b) {
			o->err = -ENOMEM;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

void vmi_out_u64(struct vmi_out *o, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	do {
		b[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	if (!o->err && o->cap - o->len >= n) {
		memcpy(o->buf + o->len, b, n);
		o->len += n;
		return;
	}
	out_bytes(o, b, n);
}

static void out_le(struct vmi_out *o, uint64_t v, unsigned bytes)
{
	uint8_t b[8];

	for (unsigned i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	out_bytes(o, b, bytes);
}

void vmi_out_bitmap(struct vmi_out *o, const uint64_t *map, uint64_t nbits)
{
	uint64_t i = 0, last = 0;

	/* (gap, length) of each run of set bits; a zero length ends it. */
	while (i < nbits) {
		uint64_t s, w = map[i / 64] >> (i % 64);

		if (!w) {
			i = (i / 64 + 1) * 64;
			continue;
		}
		i += (uint64_t)__builtin_ctzll(w);
		if (i >= nbits)
			break;
		s = i;
		while (i < nbits && (map[i / 64] & (1ull << (i % 64))))
			i++;
		vmi_out_u64(o, s - last);
		vmi_out_u64(o, i - s);
		last = i;
	}
	vmi_out_u64(o, 0);
	vmi_out_u64(o, 0);
}

uint64_t vmi_in_u64(struct vmi_in *in)
{
	uint64_t v = 0;

	if (in->err)
		return 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (in->p == in->end) {
			vmi_in_fail(in);
			return 0;
		}
		b = *in->p++;
		/* The tenth byte may carry one bit only. */
		if (shift == 63 && b > 1) {
			vmi_in_fail(in);
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	vmi_in_fail(in);
	return 0;
}

uint64_t vmi_in_max(struct vmi_in *in, uint64_t max)
{
	uint64_t v = vmi_in_u64(in);

	if (v > max) {
		vmi_in_fail(in);
		return 0;
	}
	return v;
}

void vmi_in_bitmap(struct vmi_in *in, uint64_t *map, uint64_t nbits)
{
	uint64_t at = 0;

	memset(map, 0, (nbits + 63) / 64 * 8);
	for (;;) {
		uint64_t gap = vmi_in_u64(in), len = vmi_in_u64(in);

		if (in->err)
			return;
		if (!len) {
			if (gap)
				vmi_in_fail(in);
			return;
		}
		if (gap > nbits - at || len > nbits - at - gap || (at && !gap)) {
			vmi_in_fail(in);
			return;
		}
		at += gap;
		for (uint64_t i = at; i < at + len; i++)
			map[i / 64] |= 1ull << (i % 64);
		at += len;
	}
}

static uint64_t in_le(struct vmi_in *in, unsigned bytes)
{
	uint64_t v = 0;

	if (in->err)
		return 0;
	if ((size_t)(in->end - in->p) < bytes) {
		vmi_in_fail(in);
		return 0;
	}
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)in->p[i] << (8 * i);
	in->p += bytes;
	return v;
}

static uint64_t le_at(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- the header ------------------------------------------------------------------------ */

static void out_config(struct vmi_out *o, const struct vm_config *c)
{
	vmi_out_u64(o, (uint64_t)c->kernel);
	vmi_out_u64(o, (uint64_t)c->layout);
	vmi_out_u64(o, c->memory_bytes);
	vmi_out_u64(o, c->nr_nodes);
	vmi_out_u64(o, c->nr_cpus);
	vmi_out_u64(o, c->movable_bytes);
	vmi_out_u64(o, c->lazy_max_pages);
	vmi_out_u64(o, (uint64_t)c->page_policy);
	vmi_out_u64(o, c->init_on_free);
}

int vm_state_config(const void *buf, size_t len, struct vm_config *ret_cfg)
{
	const uint8_t *p = buf;
	struct vm_config c;
	struct vmi_in in;
	uint64_t hlen;

	if (!buf || !ret_cfg)
		return -EINVAL;
	if (len < HDR_FIXED + 4 || memcmp(p, STATE_MAGIC, 8) != 0)
		return -EBADMSG;
	hlen = le_at(p + 12, 4);
	if (hlen < HDR_FIXED || hlen > len - 4 || hlen > 256)
		return -EBADMSG;
	if (vm_crc32c(0, p, hlen) != (uint32_t)le_at(p + hlen, 4))
		return -EBADMSG;
	/* The version after the checksum: a flipped bit is corruption, a
	 * well-formed header of another version is another format. */
	if (le_at(p + 8, 4) != STATE_VERSION)
		return -EPROTONOSUPPORT;
	in = (struct vmi_in){ p + HDR_FIXED, p + hlen, 0 };
	c = *ret_cfg;
	c.kernel = (enum vm_kernel)vmi_in_max(&in, VM_NR_KERNELS - 1);
	c.layout = (enum vm_layout)vmi_in_max(&in, VM_NR_LAYOUTS - 1);
	c.memory_bytes = vmi_in_u64(&in);
	c.nr_nodes = (unsigned)vmi_in_max(&in, VM_MAX_NODES);
	c.nr_cpus = (unsigned)vmi_in_max(&in, VM_MAX_CPUS);
	c.movable_bytes = vmi_in_u64(&in);
	c.lazy_max_pages = vmi_in_u64(&in);
	c.page_policy = (enum vm_page_policy)vmi_in_max(&in, VM_POLICY_HIGH_ORDER_FIRST);
	c.init_on_free = vmi_in_max(&in, 1) != 0;
	if (in.err || in.p != in.end || vmi_check_config(&c) < 0)
		return -EBADMSG;
	*ret_cfg = c;
	return 0;
}

/* ---- saving ---------------------------------------------------------------------------- */

struct caller_index {
	const char *s;
	size_t idx;
};

struct saver {
	struct vm_engine *e;
	vm_save_fn *write;
	void *ctx;
	struct vmi_out o;
	/* Interned strings in use, in content order (their indices), and
	 * the same by address for the look-up. */
	const char **callers;
	struct caller_index *by_addr;
	size_t nr_callers;
	int err;
};

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct caller_index *)a)->s;
	uintptr_t y = (uintptr_t)((const struct caller_index *)b)->s;

	return x < y ? -1 : x > y;
}

static uint64_t caller_ref(const struct saver *s, const char *c)
{
	size_t lo = 0, hi = s->nr_callers;

	if (!c)
		return CALLER_NONE;
	if (c == s->e->k->pcpu_vm_caller)
		return CALLER_PCPU;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if ((uintptr_t)s->by_addr[mid].s < (uintptr_t)c)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Every area's string is interned or the per-CPU one. */
	return CALLER_BASE + (lo < s->nr_callers ? s->by_addr[lo].idx : 0);
}

/* Emit the section built in s->o and start the next. */
static void flush_section(struct saver *s, uint32_t tag)
{
	uint8_t h[SEC_HDR];
	int r;

	if (s->err)
		return;
	if (s->o.err) {
		s->err = s->o.err;
		return;
	}
	for (unsigned i = 0; i < 4; i++)
		h[i] = (uint8_t)(tag >> (8 * i));
	for (unsigned i = 0; i < 8; i++)
		h[4 + i] = (uint8_t)((uint64_t)s->o.len >> (8 * i));
	{
		uint32_t crc = vm_crc32c(0, s->o.buf ? s->o.buf : h, s->o.len);

		for (unsigned i = 0; i < 4; i++)
			h[12 + i] = (uint8_t)(crc >> (8 * i));
	}
	r = s->write(s->ctx, h, sizeof(h));
	if (r == 0 && s->o.len)
		r = s->write(s->ctx, s->o.buf, s->o.len);
	if (r < 0)
		s->err = r;
	s->o.len = 0;
}

static void save_engine(struct saver *s)
{
	const struct vm_engine *e = s->e;
	struct vmi_out *o = &s->o;

	vmi_out_u64(o, e->pgd_pfn);
	vmi_out_u64(o, e->user_pages);
	vmi_out_u64(o, e->vmalloc_pages);
	vmi_out_u64(o, e->vmap_pages);
	vmi_out_u64(o, e->pagetable_pages);
	vmi_out_u64(o, e->resident_pages);
	vmi_out_u64(o, e->lazy_pages);
	vmi_out_u64(o, e->nr_purges);
	vmi_out_u64(o, e->nr_tlb_flushes);
	vmi_out_u64(o, e->nr_alloc_failures);
	vmi_out_u64(o, e->cur_cpu);
	vmi_out_u64(o, e->work_pending);
	vmi_out_u64(o, e->work_delayed);
	vmi_out_u64(o, e->nr_bugs);
	vmi_out_u64(o, e->warned_once);
	vmi_out_u64(o, e->cur_uid);
	vmi_out_u64(o, e->cur_pid);
	vmi_out_u64(o, e->cur_cookie);
	vmi_out_u64(o, caller_ref(s, e->cur_caller));
	vmi_out_u64(o, e->cur_vm_flags);
	vmi_out_u64(o, e->cached_hole_size);
	vmi_out_u64(o, e->cached_vstart);
	vmi_out_u64(o, e->cached_align);
	vmi_out_u64(o, e->map_ram_pages);
	vmi_out_u64(o, e->percpu_pages);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int collect_callers(struct saver *s)
{
	const struct caller_table *t = &s->e->callers;
	size_t n = 0;

	if (t->nr_used) {
		s->callers = malloc(t->nr_used * sizeof(*s->callers));
		s->by_addr = malloc(t->nr_used * sizeof(*s->by_addr));
		if (!s->callers || !s->by_addr)
			return -ENOMEM;
	}
	for (size_t i = 0; i < t->nr_slots; i++)
		if (t->slots[i] && n < t->nr_used)
			s->callers[n++] = t->slots[i];
	s->nr_callers = n;
	/* Indices by content, so that equal machines write equal images;
	 * looked up by address. */
	if (!n)
		return 0;
	qsort(s->callers, n, sizeof(*s->callers), cmp_str);
	for (size_t i = 0; i < n; i++)
		s->by_addr[i] = (struct caller_index){ s->callers[i], i };
	qsort(s->by_addr, n, sizeof(*s->by_addr), cmp_ptr);
	return 0;
}

static void save_callers(struct saver *s)
{
	vmi_out_u64(&s->o, s->nr_callers);
	for (size_t i = 0; i < s->nr_callers; i++) {
		size_t n = strlen(s->callers[i]);

		vmi_out_u64(&s->o, n);
		out_bytes(&s->o, s->callers[i], n);
	}
}

static void save_zones(struct saver *s)
{
	const struct vm_engine *e = s->e;

	for (unsigned n = 0; n < e->nr_nodes; n++) {
		for (int t = 0; t < VM_NR_ZONES; t++) {
			const struct zone *z = &e->zones[n][t];

			vmi_out_u64(&s->o, z->free_pages);
			vmi_out_u64(&s->o, z->deferred_pfn);
			vmi_out_u64(&s->o, z->deferred_end);
			for (int o = 0; o < VM_NR_ORDERS; o++) {
				vmi_out_u64(&s->o, z->free_area[o].head == PFN_NONE ? 0 :
						   (uint64_t)z->free_area[o].head + 1);
				vmi_out_u64(&s->o, z->free_area[o].nr_free);
			}
		}
	}
}

static inline bool page_zero(const struct page *p)
{
	uint64_t w[2];

	memcpy(w, p, sizeof(w));
	return !(w[0] | w[1]);
}

/* Which fields of a struct page follow its first varint. */
#define PE_LINKS    0x100u
#define PE_PRIVATE  0x200u
#define PE_MAPCOUNT 0x400u
#define PE_ORDER    0x800u

static void out_page(struct vmi_out *o, const struct page *p)
{
	uint64_t h = p->flags;

	if (p->next || p->prev)
		h |= PE_LINKS;
	if (p->private)
		h |= PE_PRIVATE;
	if (p->mapcount)
		h |= PE_MAPCOUNT;
	if (p->order)
		h |= PE_ORDER;
	vmi_out_u64(o, h);
	if (h & PE_ORDER)
		vmi_out_u64(o, p->order);
	if (h & PE_LINKS) {
		vmi_out_u64(o, p->next == PFN_NONE ? 0 : (uint64_t)p->next + 1);
		vmi_out_u64(o, p->prev == PFN_NONE ? 0 : (uint64_t)p->prev + 1);
	}
	if (h & PE_PRIVATE)
		vmi_out_u64(o, p->private);
	if (h & PE_MAPCOUNT)
		vmi_out_u64(o, p->mapcount);
}

/* The runs of non-zero struct pages of [lo, hi): (gap from the previous
 * run's end, length, entries). */
static void save_memmap_range(struct saver *s, uint64_t lo, uint64_t hi, uint64_t *cursor)
{
	const struct page *mm = s->e->memmap;
	uint64_t pfn = lo;

	while (pfn < hi) {
		uint64_t start;

		while (pfn < hi && page_zero(&mm[pfn]))
			pfn++;
		if (pfn == hi)
			break;
		start = pfn;
		while (pfn < hi && !page_zero(&mm[pfn]))
			pfn++;
		vmi_out_u64(&s->o, start - *cursor);
		vmi_out_u64(&s->o, pfn - start);
		for (uint64_t i = start; i < pfn; i++)
			out_page(&s->o, &mm[i]);
		*cursor = pfn;
		if (s->o.err)
			return;
	}
}

static void save_memmap(struct saver *s)
{
	const struct vm_engine *e = s->e;
	uint64_t cursor = 0;

	/* Zones are in pfn order, node by node; a zone's deferred middle was
	 * never touched. */
	for (unsigned n = 0; n < e->nr_nodes; n++) {
		for (int t = 0; t < VM_NR_ZONES; t++) {
			const struct zone *z = &e->zones[n][t];

			if (z->end_pfn == z->start_pfn)
				continue;
			save_memmap_range(s, z->start_pfn, z->deferred_pfn, &cursor);
			save_memmap_range(s, z->deferred_end, z->end_pfn, &cursor);
		}
	}
	vmi_out_u64(&s->o, 0);
	vmi_out_u64(&s->o, 0);
}

static inline uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void out_vm(struct saver *s, const struct vm_struct *vm)
{
	struct vmi_out *o = &s->o;
	uint64_t prev = 0;

	vmi_out_u64(o, vm->addr - vm->va->va_start);
	vmi_out_u64(o, vm->size);
	vmi_out_u64(o, vm->flags);
	vmi_out_u64(o, vm->prot);
	vmi_out_u64(o, vm->nr_pages);
	for (uint64_t i = 0; i < vm->nr_pages; i++) {
		vmi_out_u64(o, zigzag((int64_t)vm->pages[i] - (int64_t)prev));
		prev = vm->pages[i];
	}
	vmi_out_u64(o, vm->phys_addr);
	vmi_out_u64(o, vm->requested_size);
	vmi_out_u64(o, caller_ref(s, vm->caller));
	vmi_out_u64(o, vm->uid);
	vmi_out_u64(o, vm->pid);
	vmi_out_u64(o, vm->cookie);
	vmi_out_u64(o, vm->array_vm ? vm->array_vm->va->va_start + 1 - vm->va->va_start : 0);
}

/* A range outside the busy tree: start (from the previous one's end),
 * size, flags. */
static void out_range(struct vmi_out *o, const struct vmap_area *va, uint64_t *prev_end)
{
	vmi_out_u64(o, zigzag((int64_t)(va->va_start - *prev_end)));
	vmi_out_u64(o, va_size(va));
	vmi_out_u64(o, va->flags);
	*prev_end = va->va_end;
}

static void out_list(struct vmi_out *o, const struct list_node *h)
{
	uint64_t n = 0, prev = 0;

	for (const struct list_node *l = h->next; l != h; l = l->next)
		n++;
	vmi_out_u64(o, n);
	for (const struct list_node *l = h->next; l != h; l = l->next)
		out_range(o, list_entry(l, struct vmap_area, list), &prev);
}

static void save_kva(struct saver *s)
{
	const struct vm_engine *e = s->e;
	struct vmi_out *o = &s->o;
	uint64_t n = 0, prev = e->layout->vmalloc_start;

	for (const struct list_node *l = e->busy_list.next; l != &e->busy_list; l = l->next)
		n++;
	vmi_out_u64(o, n);
	for (const struct list_node *l = e->busy_list.next; l != &e->busy_list; l = l->next) {
		const struct vmap_area *va = list_entry(l, struct vmap_area, list);

		vmi_out_u64(o, va->va_start - prev);
		vmi_out_u64(o, va_size(va));
		vmi_out_u64(o, va->flags);
		vmi_out_u64(o, va->vm != NULL);
		if (va->vm)
			out_vm(s, va->vm);
		prev = va->va_end;
		if (o->err)
			return;
	}
	if (e->k->kva->tiles) {
		/* 6.18: free ranges, then each node's lazy list and pools. */
		out_list(o, &e->free_list);
		for (unsigned i = 0; i < e->nr_vmap_nodes; i++) {
			const struct vmap_node *vn = &e->vn[i];

			out_list(o, &vn->lazy);
			if (!vn->pool)
				continue;
			for (unsigned p = 0; p < MAX_VA_SIZE_PAGES; p++) {
				if (list_empty(&vn->pool[p].head))
					continue;
				vmi_out_u64(o, p + 1);
				out_list(o, &vn->pool[p].head);
			}
			vmi_out_u64(o, 0);
		}
	} else {
		/* 4.19: the purge list, newest first, and the hint. */
		n = 0;
		for (const struct vmap_area *va = e->purge_llist; va; va = va->hnext)
			n++;
		vmi_out_u64(o, n);
		for (const struct vmap_area *va = e->purge_llist; va; va = va->hnext)
			vmi_out_u64(o, va->va_start - e->layout->vmalloc_start);
		vmi_out_u64(o, e->free_vmap_cache ?
			    e->free_vmap_cache->va_start - e->layout->vmalloc_start + 1 : 0);
	}
}

int vm_engine_save(struct vm_engine *e, vm_save_fn *write, void *ctx)
{
	struct saver s = { .e = e, .write = write, .ctx = ctx };
	struct vmi_out *o = &s.o;
	size_t hlen;
	int r;

	if (!e || !write)
		return -EINVAL;
	/* Frames released but not yet punched: punched now, so that the
	 * memfd and the image agree on which frames hold bytes (nothing of
	 * the metadata changes). */
	vmi_punch_flush(e);
	r = collect_callers(&s);
	if (r < 0) {
		free(s.callers);
		free(s.by_addr);
		return r;
	}

	out_bytes(o, STATE_MAGIC, 8);
	out_le(o, STATE_VERSION, 4);
	out_le(o, 0, 4);
	out_config(o, &e->cfg);
	if (!o->err) {
		hlen = o->len;
		for (unsigned i = 0; i < 4; i++)
			o->buf[12 + i] = (uint8_t)(hlen >> (8 * i));
		out_le(o, vm_crc32c(0, o->buf, hlen), 4);
	}
	if (o->err) {
		s.err = o->err;
	} else {
		r = write(ctx, o->buf, o->len);
		if (r < 0)
			s.err = r;
		o->len = 0;
	}

	save_engine(&s);
	flush_section(&s, SEC_ENGINE);
	save_callers(&s);
	flush_section(&s, SEC_CALLERS);
	save_zones(&s);
	flush_section(&s, SEC_ZONES);
	if (!s.err)
		save_memmap(&s);
	flush_section(&s, SEC_MEMMAP);
	if (!s.err)
		save_kva(&s);
	flush_section(&s, SEC_KVA);
	vmi_percpu_save(e, o);
	flush_section(&s, SEC_PERCPU);
	vmi_vmap_block_save(e, o);
	flush_section(&s, SEC_VMAP_BLOCK);
	vmi_kvfree_rcu_save(e, o);
	flush_section(&s, SEC_KVFREE_RCU);
	vmi_pgtable_save(e, o);
	flush_section(&s, SEC_PGTABLE);
	flush_section(&s, SEC_END);

	free(o->buf);
	free(s.callers);
	free(s.by_addr);
	return s.err;
}

/* ---- loading --------------------------------------------------------------------------- */

struct loader {
	struct vm_engine *e;
	const char *what;              /* the part being read, for the log */
	struct vmi_in img;             /* the sections still to read */
	const char **callers;          /* interned, one reference each */
	uint64_t nr_callers;
	uint64_t nr_buddy;             /* PG_buddy entries read */
};

/* The next section, which must be tag: its payload as a reader. */
static int next_section(struct loader *ld, uint32_t tag, struct vmi_in *ret)
{
	struct vmi_in *in = &ld->img;
	uint64_t t = in_le(in, 4), len = in_le(in, 8), crc = in_le(in, 4);

	static const char *const names[NR_SECTIONS] = {
		"end", "engine", "callers", "zones", "memmap", "kva", "percpu", "vmap_block",
		"kvfree_rcu", "pgtable",
	};

	ld->what = names[tag];
	if (in->err || t != tag || len > SEC_MAX || len > (uint64_t)(in->end - in->p))
		return -EBADMSG;
	if (vm_crc32c(0, in->p, len) != crc) {
		ld->what = "checksum";
		return -EBADMSG;
	}
	*ret = (struct vmi_in){ in->p, in->p + len, 0 };
	in->p += len;
	return 0;
}

/* A section read to its exact end without error. */
static int section_done(const struct vmi_in *in)
{
	if (in->err)
		return in->err;
	return in->p == in->end ? 0 : -EBADMSG;
}

static int caller_at(struct loader *ld, uint64_t ref, const char **ret)
{
	if (ref == CALLER_NONE)
		*ret = NULL;
	else if (ref == CALLER_PCPU)
		*ret = ld->e->k->pcpu_vm_caller;
	else if (ref - CALLER_BASE < ld->nr_callers)
		*ret = ld->callers[ref - CALLER_BASE];
	else
		return -EBADMSG;
	return 0;
}

static int load_callers(struct loader *ld, struct vmi_in *in)
{
	uint64_t n = vmi_in_max(in, (uint64_t)(in->end - in->p));
	char buf[VM_CALLER_MAX + 1];

	if (in->err)
		return in->err;
	ld->callers = calloc(n ? n : 1, sizeof(*ld->callers));
	if (!ld->callers)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t len = vmi_in_max(in, VM_CALLER_MAX);
		int r;

		if (in->err || len > (uint64_t)(in->end - in->p))
			return -EBADMSG;
		memcpy(buf, in->p, len);
		buf[len] = 0;
		in->p += len;
		if (strlen(buf) != len)
			return -EBADMSG;
		size_t used = ld->e->callers.nr_used;

		r = vmi_caller_intern(&ld->e->callers, buf, &ld->callers[i]);
		if (r < 0)
			return r == -ENOMEM ? r : -EBADMSG;
		ld->nr_callers = i + 1;
		/* Each entry a new string: two would share one reference. */
		if (ld->e->callers.nr_used != used + 1)
			return -EBADMSG;
	}
	return section_done(in);
}

static int load_engine(struct loader *ld, struct vmi_in *in)
{
	struct vm_engine *e = ld->e;
	uint64_t n = e->nr_pages;
	uint64_t ref;
	int r;

	e->pgd_pfn = (uint32_t)vmi_in_max(in, n - 1);
	e->user_pages = vmi_in_max(in, n);
	e->vmalloc_pages = vmi_in_max(in, n);
	e->vmap_pages = vmi_in_max(in, UINT64_MAX);
	e->pagetable_pages = vmi_in_max(in, n);
	e->resident_pages = vmi_in_max(in, n);
	e->lazy_pages = vmi_in_u64(in);
	e->nr_purges = vmi_in_u64(in);
	e->nr_tlb_flushes = vmi_in_u64(in);
	e->nr_alloc_failures = vmi_in_u64(in);
	e->cur_cpu = (unsigned)vmi_in_max(in, e->nr_cpus - 1);
	e->work_pending = (unsigned)vmi_in_max(in, VM_WORK_DRAIN_VMAP | VM_WORK_PCPU_BALANCE |
					       VM_WORK_KFREE_RCU);
	e->work_delayed = (unsigned)vmi_in_max(in, VM_WORK_DRAIN_VMAP | VM_WORK_PCPU_BALANCE |
					       VM_WORK_KFREE_RCU);
	e->nr_bugs = vmi_in_u64(in);
	e->warned_once = (unsigned)vmi_in_max(in, UINT32_MAX);
	e->cur_uid = (uint32_t)vmi_in_max(in, UINT32_MAX);
	e->cur_pid = (uint32_t)vmi_in_max(in, UINT32_MAX);
	e->cur_cookie = vmi_in_u64(in);
	ref = vmi_in_u64(in);
	e->cur_vm_flags = (uint32_t)vmi_in_max(in, VM_SCOPED);
	e->cached_hole_size = vmi_in_u64(in);
	e->cached_vstart = vmi_in_u64(in);
	e->cached_align = vmi_in_u64(in);
	e->map_ram_pages = vmi_in_max(in, n);
	e->percpu_pages = vmi_in_max(in, n);
	if (e->cur_vm_flags & ~VM_SCOPED)
		return -EBADMSG;
	if ((r = section_done(in)) < 0)
		return r;
	if ((r = caller_at(ld, ref, &e->cur_caller)) < 0 || e->cur_caller == e->k->pcpu_vm_caller)
		return -EBADMSG;
	vmi_caller_get(e->cur_caller);
	return 0;
}

static int load_zones(struct loader *ld, struct vmi_in *in)
{
	struct vm_engine *e = ld->e;

	for (unsigned n = 0; n < e->nr_nodes; n++) {
		for (int t = 0; t < VM_NR_ZONES; t++) {
			struct zone *z = &e->zones[n][t];
			/* Until the image's values are in: the touched part the
			 * machine's own set-up wrote, to be cleared. */
			uint64_t init_lo = z->deferred_pfn, init_hi = z->deferred_end;

			z->free_pages = vmi_in_max(in, z->managed);
			z->deferred_pfn = vmi_in_u64(in);
			z->deferred_end = vmi_in_u64(in);
			/* The deferred part only shrinks from its bottom. */
			if (z->deferred_pfn > z->deferred_end || z->deferred_pfn < init_lo ||
			    z->deferred_end != init_hi ||
			    ((z->deferred_pfn - init_lo) & ((1ull << VM_MAX_PAGE_ORDER) - 1)))
				return vmi_in_fail(in);
			if (z->end_pfn > z->start_pfn) {
				memset(&e->memmap[z->start_pfn], 0,
				       (init_lo - z->start_pfn) * sizeof(struct page));
				memset(&e->memmap[init_hi], 0, (z->end_pfn - init_hi) * sizeof(struct page));
			}
			for (int o = 0; o < VM_NR_ORDERS; o++) {
				uint64_t h = vmi_in_max(in, z->end_pfn);

				if (h && (h - 1 < z->start_pfn))
					return vmi_in_fail(in);
				z->free_area[o].head = h ? (uint32_t)(h - 1) : PFN_NONE;
				z->free_area[o].nr_free = vmi_in_max(in, z->managed >> o);
			}
			if (in->err)
				return in->err;
		}
	}
	return section_done(in);
}

/* Whether [lo, hi) lies in a zone's touched part (outside its deferred
 * range, inside the zone). */
static bool touched(const struct vm_engine *e, uint64_t lo, uint64_t hi)
{
	int node = vmi_pfn_node(e, lo);

	for (int t = 0; t < VM_NR_ZONES; t++) {
		const struct zone *z = &e->zones[node][t];

		if (lo < z->start_pfn || lo >= z->end_pfn)
			continue;
		if (hi > z->end_pfn)
			return false;
		return hi <= z->deferred_pfn || lo >= z->deferred_end ||
		       z->deferred_pfn == z->deferred_end;
	}
	return false;
}

static int load_memmap(struct loader *ld, struct vmi_in *in)
{
	struct vm_engine *e = ld->e;
	uint64_t cursor = 0, n = e->nr_pages;

	for (;;) {
		uint64_t gap = vmi_in_u64(in), len = vmi_in_u64(in);

		if (in->err)
			return in->err;
		if (!len)
			return gap ? -EBADMSG : section_done(in);
		/* Runs ascend; two may touch where a zone or its deferred
		 * range ends and the next part begins. */
		if (gap > n - cursor || len > n - cursor - gap)
			return -EBADMSG;
		cursor += gap;
		/* Each frame must be in a touched part. */
		for (uint64_t pfn = cursor; pfn < cursor + len; pfn++) {
			struct page *p = &e->memmap[pfn];
			uint64_t h = vmi_in_max(in, 0xfffu), v;

			if ((pfn == cursor || !((pfn - cursor) & 1023)) &&
			    !touched(e, pfn, pfn + 1))
				return -EBADMSG;
			if (h & 0x80u)
				return -EBADMSG;
			p->flags = (uint8_t)h;
			if (h & PE_ORDER)
				p->order = (uint8_t)vmi_in_max(in, VM_MAX_PAGE_ORDER);
			if (h & PE_LINKS) {
				v = vmi_in_max(in, n);
				p->next = v ? (uint32_t)(v - 1) : PFN_NONE;
				v = vmi_in_max(in, n);
				p->prev = v ? (uint32_t)(v - 1) : PFN_NONE;
			} else {
				p->next = p->prev = 0;
			}
			if (h & PE_PRIVATE)
				p->private = (uint32_t)vmi_in_max(in, UINT32_MAX);
			if (h & PE_MAPCOUNT)
				p->mapcount = (uint16_t)vmi_in_max(in, UINT16_MAX);
			if (page_zero(p))
				return -EBADMSG;
			if (p->flags & PG_buddy)
				ld->nr_buddy++;
			if (in->err)
				return in->err;
		}
		/* The check above samples the run; its last frame too. */
		if (!touched(e, cursor + len - 1, cursor + len))
			return -EBADMSG;
		cursor += len;
	}
}

/* Each free list walked against its count: in the zone, aligned, PG_buddy
 * of its order, back links right; and every PG_buddy entry on a list. */
static int check_free_lists(struct loader *ld)
{
	struct vm_engine *e = ld->e;
	uint64_t listed = 0;

	for (unsigned n = 0; n < e->nr_nodes; n++) {
		for (int t = 0; t < VM_NR_ZONES; t++) {
			struct zone *z = &e->zones[n][t];

			for (unsigned o = 0; o < VM_NR_ORDERS; o++) {
				uint64_t pfn = z->free_area[o].head, prev = PFN_NONE, k = 0;

				for (; pfn != PFN_NONE; k++) {
					const struct page *p;

					if (k >= z->free_area[o].nr_free || pfn < z->start_pfn ||
					    pfn + (1ull << o) > z->end_pfn || (pfn & ((1ull << o) - 1)))
						return -EBADMSG;
					p = &e->memmap[pfn];
					if (!(p->flags & PG_buddy) || p->order != o || p->prev != prev)
						return -EBADMSG;
					prev = pfn;
					pfn = p->next;
				}
				if (k != z->free_area[o].nr_free)
					return -EBADMSG;
				listed += k;
			}
		}
	}
	return listed == ld->nr_buddy ? 0 : -EBADMSG;
}

static int load_vm(struct loader *ld, struct vmi_in *in, struct vmap_area *va)
{
	struct vm_engine *e = ld->e;
	struct vm_struct *vm = vmi_cache_alloc(&e->vm_cache);
	uint64_t nr, prev = 0, ref;
	int r;

	if (!vm)
		return -ENOMEM;
	memset(vm, 0, sizeof(*vm));
	vm->pages = &vm->page_inline;
	vm->va = va;
	va->vm = vm;
	vm->addr = va->va_start + vmi_in_max(in, va_size(va));
	vm->size = vmi_in_max(in, va_size(va));
	vm->flags = (uint32_t)vmi_in_max(in, UINT32_MAX);
	vm->prot = (uint32_t)vmi_in_max(in, VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXEC);
	nr = vmi_in_max(in, va_size(va) >> VM_PAGE_SHIFT);
	if (in->err)
		return in->err;
	/* Each page costs at least a byte of the image. */
	if (nr > (uint64_t)(in->end - in->p))
		return -EBADMSG;
	if (nr > 1) {
		vm->pages = malloc(nr * sizeof(*vm->pages));
		if (!vm->pages) {
			vm->pages = &vm->page_inline;
			return -ENOMEM;
		}
	}
	vm->nr_pages = nr;
	for (uint64_t i = 0; i < nr; i++) {
		int64_t v = (int64_t)prev + unzigzag(vmi_in_u64(in));

		if (in->err || v < 0 || (uint64_t)v >= e->nr_pages) {
			vm->nr_pages = i;
			return -EBADMSG;
		}
		vm->pages[i] = (uint32_t)v;
		prev = (uint64_t)v;
	}
	vm->phys_addr = vmi_in_u64(in);
	vm->requested_size = vmi_in_u64(in);
	ref = vmi_in_u64(in);
	vm->uid = (uint32_t)vmi_in_max(in, UINT32_MAX);
	vm->pid = (uint32_t)vmi_in_max(in, UINT32_MAX);
	vm->cookie = vmi_in_u64(in);
	/* The page array's area, resolved once every area is in: kept in
	 * array_vm as an address for now (array_pending). */
	vm->next = (struct vm_struct *)(uintptr_t)vmi_in_u64(in);
	if (in->err)
		return in->err;
	if ((r = caller_at(ld, ref, &vm->caller)) < 0)
		return r;
	if (vm->caller != e->k->pcpu_vm_caller)
		vmi_caller_get(vm->caller);
	return 0;
}

static struct vmap_area *new_va(struct vm_engine *e, uint64_t start, uint64_t size, uint64_t flags)
{
	struct vmap_area *va = vmi_va_alloc(e);

	if (!va)
		return NULL;
	memset(va, 0, sizeof(*va));
	va->va_start = start;
	va->va_end = start + size;
	va->flags = (uint32_t)flags;
	list_init(&va->list);
	return va;
}

/* A range outside the busy tree, in [vmalloc_start, vmalloc_end). */
static struct vmap_area *in_range(struct loader *ld, struct vmi_in *in, uint64_t *prev_end,
				  int *err)
{
	const struct layout_desc *l = ld->e->layout;
	int64_t d = unzigzag(vmi_in_u64(in));
	uint64_t size = vmi_in_u64(in), flags = vmi_in_max(in, UINT32_MAX), start;
	struct vmap_area *va;

	*err = -EBADMSG;
	start = *prev_end + (uint64_t)d;
	/* The last free range ends where the vmalloc range does, which is
	 * not page-aligned on every layout. */
	if (in->err || !size || (start & (VM_PAGE_SIZE - 1)) ||
	    start < l->vmalloc_start || start >= l->vmalloc_end || size > l->vmalloc_end - start)
		return NULL;
	va = new_va(ld->e, start, size, flags);
	if (!va)
		*err = -ENOMEM;
	else
		*prev_end = va->va_end;
	return va;
}

/* A list of ranges (as out_list) onto h, in order: their count. */
static int load_list(struct loader *ld, struct vmi_in *in, struct list_node *h, uint64_t *ret_n)
{
	uint64_t n = vmi_in_max(in, (uint64_t)(in->end - in->p) / 3), prev = 0;
	int r;

	if (in->err)
		return in->err;
	for (uint64_t i = 0; i < n; i++) {
		struct vmap_area *va = in_range(ld, in, &prev, &r);

		if (!va)
			return r;
		list_add_tail(&va->list, h);
	}
	*ret_n = n;
	return 0;
}

/* 6.18: the free tree starts as one range over everything; the image's
 * ranges replace it. */
static int load_free(struct loader *ld, struct vmi_in *in)
{
	struct vm_engine *e = ld->e;
	struct list_node tmp;
	uint64_t n, prev_end = 0;
	int r;

	while (!list_empty(&e->free_list)) {
		struct vmap_area *va = list_entry(e->free_list.next, struct vmap_area, list);

		list_del(&va->list);
		vmi_cache_free(&e->va_cache, va);
	}
	e->free_root.node = NULL;
	list_init(&tmp);
	r = load_list(ld, in, &tmp, &n);
	/* In address order, never touching (they would have merged), never
	 * overlapping a busy range (the checker's tiling says so). */
	while (!list_empty(&tmp)) {
		struct vmap_area *va = list_entry(tmp.next, struct vmap_area, list);

		list_del(&va->list);
		if (r == 0 && prev_end && va->va_start <= prev_end)
			r = -EBADMSG;
		if (r < 0) {
			vmi_cache_free(&e->va_cache, va);
			continue;
		}
		prev_end = va->va_end;
		vmi_free_tree_insert(e, va);
	}
	return r;
}

static int load_vmap_nodes(struct loader *ld, struct vmi_in *in)
{
	struct vm_engine *e = ld->e;
	int r;

	for (unsigned i = 0; i < e->nr_vmap_nodes; i++) {
		struct vmap_node *vn = &e->vn[i];
		uint64_t n;

		if ((r = load_list(ld, in, &vn->lazy, &n)) < 0)
			return r;
		vn->nr_lazy = n;
		e->nr_lazy += n;
		if (!vn->pool)
			continue;
		for (uint64_t last = 0;;) {
			uint64_t p = vmi_in_max(in, MAX_VA_SIZE_PAGES);

			if (in->err)
				return in->err;
			if (!p)
				break;
			if (p <= last)
				return -EBADMSG;
			last = p;
			if ((r = load_list(ld, in, &vn->pool[p - 1].head, &n)) < 0)
				return r;
			vn->pool[p - 1].len = n;
			e->nr_pooled += n;
			for (struct list_node *l = vn->pool[p - 1].head.next;
			     l != &vn->pool[p - 1].head; l = l->next)
				e->pooled_pages += va_size(list_entry(l, struct vmap_area, list)) >>
						   VM_PAGE_SHIFT;
		}
	}
	return 0;
}

static int load_purge_list(struct loader *ld, struct vmi_in *in)
{
	struct vm_engine *e = ld->e;
	const struct layout_desc *l = e->layout;
	uint64_t n = vmi_in_max(in, e->nr_lazy), hint;
	struct vmap_area *tail = NULL;

	if (in->err || n != e->nr_lazy)
		return -EBADMSG;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t off = vmi_in_max(in, l->vmalloc_end - l->vmalloc_start);
		struct vmap_area *va;

		if (in->err)
			return in->err;
		va = vmi_find_busy_va(e, l->vmalloc_start + off);
		if (!va || va->va_start != l->vmalloc_start + off || !(va->flags & VA_LAZY) ||
		    va->hnext || va == tail)
			return -EBADMSG;
		if (tail)
			tail->hnext = va;
		else
			e->purge_llist = va;
		tail = va;
	}
	hint = vmi_in_max(in, l->vmalloc_end - l->vmalloc_start);
	if (in->err)
		return in->err;
	if (hint) {
		struct vmap_area *va = vmi_find_busy_va(e, l->vmalloc_start + hint - 1);

		if (!va || va->va_start != l->vmalloc_start + hint - 1)
			return -EBADMSG;
		e->free_vmap_cache = va;
	}
	return 0;
}

static int load_kva(struct loader *ld, struct vmi_in *in)
{
	struct vm_engine *e = ld->e;
	const struct layout_desc *l = e->layout;
	uint64_t n = vmi_in_max(in, (uint64_t)(in->end - in->p) / 4), prev = l->vmalloc_start;
	int r;

	if (in->err)
		return in->err;
	/* The hash at its final size first, not doubled n times on the way. */
	while (e->busy_hash_mask + 1 < n) {
		uint64_t mask = e->busy_hash_mask;

		vmi_busy_hash_grow(e);
		if (e->busy_hash_mask == mask)
			break;          /* no memory: longer chains, still right */
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t gap = vmi_in_u64(in), size = vmi_in_u64(in);
		uint64_t flags = vmi_in_max(in, UINT32_MAX), has_vm = vmi_in_max(in, 1);
		struct vmap_area *va;

		if (in->err)
			return in->err;
		/* In address order, disjoint, page-aligned, inside the range. */
		if (gap > l->vmalloc_end - prev || !size || size > l->vmalloc_end - prev - gap ||
		    ((prev + gap) & (VM_PAGE_SIZE - 1)))
			return -EBADMSG;
		va = new_va(e, prev + gap, size, flags);
		if (!va)
			return -ENOMEM;
		/* Linked first, so that a failure below leaves it where the
		 * engine's destroy finds it. */
		vmi_busy_insert(e, va);
		if (has_vm) {
			if ((flags & VA_LAZY) || (r = load_vm(ld, in, va)) < 0)
				return (flags & VA_LAZY) ? -EBADMSG : r;
		} else if (flags & VA_LAZY) {
			if (e->k->kva->tiles)
				return -EBADMSG;
			vmi_busy_hash_del(e, va);
			e->nr_lazy++;
		} else if (flags & VA_VMAP_RAM) {
			e->nr_map_ram++;
		} else {
			return -EBADMSG;
		}
		prev = va->va_end;
	}
	/* The page arrays' areas, by their addresses. */
	for (struct list_node *ln = e->busy_list.next; ln != &e->busy_list; ln = ln->next) {
		struct vmap_area *va = list_entry(ln, struct vmap_area, list);
		uint64_t rel;

		if (!va->vm)
			continue;
		rel = (uint64_t)(uintptr_t)va->vm->next;
		va->vm->next = NULL;
		if (rel) {
			struct vmap_area *a = vmi_find_busy_va_start(e, va->va_start + rel - 1);

			if (!a || !a->vm || a == va || !(a->vm->flags & VM_PAGE_ARRAY))
				return -EBADMSG;
			va->vm->array_vm = a->vm;
		}
	}
	if (e->k->kva->tiles) {
		if ((r = load_free(ld, in)) < 0)
			return r;
		if ((r = load_vmap_nodes(ld, in)) < 0)
			return r;
	} else if ((r = load_purge_list(ld, in)) < 0) {
		return r;
	}
	return section_done(in);
}

/* Cheap consistency the structures are built on: what the checker would
 * otherwise walk off.  Page arrays form chains, never cycles. */
static int check_kva(struct loader *ld)
{
	struct vm_engine *e = ld->e;

	for (struct list_node *ln = e->busy_list.next; ln != &e->busy_list; ln = ln->next) {
		struct vmap_area *va = list_entry(ln, struct vmap_area, list);
		uint64_t depth = 0;

		if (!va->vm)
			continue;
		for (struct vm_struct *a = va->vm->array_vm; a; a = a->array_vm)
			if (++depth > 64)
				return -EBADMSG;
	}
	return 0;
}

int vm_engine_load(const struct vm_config *cfg, int frames_fd, const void *buf, size_t len,
		   struct vm_engine **ret_engine)
{
	struct loader ld = { 0 };
	char msg[256];
	struct vm_config c;
	struct vmi_in sec;
	uint64_t hlen;
	int r;

	if (!cfg || !buf || !ret_engine || frames_fd < 0)
		return -EINVAL;
	c = *cfg;
	r = vm_state_config(buf, len, &c);
	if (r < 0)
		return r;
	if (c.kernel != cfg->kernel || c.layout != cfg->layout ||
	    c.memory_bytes != cfg->memory_bytes || c.nr_nodes != cfg->nr_nodes ||
	    c.nr_cpus != cfg->nr_cpus || c.movable_bytes != cfg->movable_bytes ||
	    c.lazy_max_pages != cfg->lazy_max_pages || c.page_policy != cfg->page_policy ||
	    c.init_on_free != cfg->init_on_free)
		return -EINVAL;
	r = vmi_engine_alloc(cfg, frames_fd, &ld.e);
	if (r < 0)
		return r;
	hlen = le_at((const uint8_t *)buf + 12, 4);
	ld.img = (struct vmi_in){ (const uint8_t *)buf + hlen + 4, (const uint8_t *)buf + len, 0 };

	if ((r = next_section(&ld, SEC_ENGINE, &sec)) < 0)
		goto fail;
	/* The callers first: the engine's current one names one. */
	{
		struct vmi_in eng = sec;

		if ((r = next_section(&ld, SEC_CALLERS, &sec)) < 0 ||
		    (r = load_callers(&ld, &sec)) < 0 || (r = load_engine(&ld, &eng)) < 0)
			goto fail;
	}
	if ((r = next_section(&ld, SEC_ZONES, &sec)) < 0 || (r = load_zones(&ld, &sec)) < 0)
		goto fail;
	if ((r = next_section(&ld, SEC_MEMMAP, &sec)) < 0 || (r = load_memmap(&ld, &sec)) < 0)
		goto fail;
	ld.what = "free lists";
	if ((r = check_free_lists(&ld)) < 0)
		goto fail;
	if (!(ld.e->memmap[ld.e->pgd_pfn].flags & PG_pgtable)) {
		r = -EBADMSG;
		goto fail;
	}
	if ((r = next_section(&ld, SEC_KVA, &sec)) < 0 || (r = load_kva(&ld, &sec)) < 0 ||
	    (r = check_kva(&ld)) < 0)
		goto fail;
	if ((r = next_section(&ld, SEC_PERCPU, &sec)) < 0 ||
	    (r = vmi_percpu_load(ld.e, &sec)) < 0 || (r = section_done(&sec)) < 0)
		goto fail;
	if ((r = next_section(&ld, SEC_VMAP_BLOCK, &sec)) < 0 ||
	    (r = vmi_vmap_block_load(ld.e, &sec)) < 0 || (r = section_done(&sec)) < 0)
		goto fail;
	if ((r = next_section(&ld, SEC_KVFREE_RCU, &sec)) < 0 ||
	    (r = vmi_kvfree_rcu_load(ld.e, &sec)) < 0 || (r = section_done(&sec)) < 0)
		goto fail;
	if ((r = next_section(&ld, SEC_PGTABLE, &sec)) < 0)
		goto fail;
	{
		struct vmi_in tables = sec;

		if ((r = vmi_pgtable_load(ld.e, &sec, false)) < 0 || (r = section_done(&sec)) < 0)
			goto fail;
		if ((r = next_section(&ld, SEC_END, &sec)) < 0)
			goto fail;
		if (sec.p != sec.end || ld.img.p != ld.img.end) {
			r = -EBADMSG;
			goto fail;
		}
		/* Everything read and in range: the tables go into their
		 * frames (the same bytes, unless the memfd has moved on). */
		if ((r = vmi_pgtable_load(ld.e, &tables, true)) < 0)
			goto fail;
	}
	if (ld.e->nr_pages <= LOAD_CHECK_MAX_PAGES && vm_check(ld.e, msg, sizeof(msg)) < 0) {
		vmi_log(ld.e, VM_LOG_ERR, "state image refused: %s", msg);
		r = -EBADMSG;
		ld.what = NULL;
		goto fail;
	}
	for (uint64_t i = 0; i < ld.nr_callers; i++)
		vmi_caller_put(&ld.e->callers, ld.callers[i]);
	free(ld.callers);
	*ret_engine = ld.e;
	return 0;
fail:
	/* Nothing of the frames memfd is touched on the way; the engine goes
	 * whole, interned strings with it. */
	if (ld.what)
		vmi_log(ld.e, VM_LOG_ERR, "state image refused: its %s section is %s", ld.what,
			r == -ENOMEM ? "too big for the host's memory" : "corrupt");
	ld.e->punch.len = 0;
	vm_engine_destroy(ld.e);
	free(ld.callers);
	return r == -ENOMEM ? r : (r == -EMFILE ? r : -EBADMSG);
}

int vm_engine_frames_fd(const struct vm_engine *e)
{
	return e ? e->memfd : -EINVAL;
}

/* ---- replay ------------------------------------------------------------------------------ */

bool vmi_frame_has_bytes(const struct vm_engine *e, uint64_t pfn)
{
	off_t off = (off_t)(pfn << VM_PAGE_SHIFT);

	if (!e->replay)
		return e->memmap[pfn].flags & PG_dirty;
	return e->memfd < 0 || lseek(e->memfd, off, SEEK_DATA) == off;
}

struct replay_stash {
	struct replay_stash *next;
	uint64_t pfn;
	bool hole;
	uint8_t bytes[VM_PAGE_SIZE];
};

void vmi_replay_stash(struct vm_engine *e, uint64_t pfn)
{
	struct replay_stash *s = malloc(sizeof(*s));
	off_t off = (off_t)(pfn << VM_PAGE_SHIFT), d;

	if (!s)
		return;
	s->pfn = pfn;
	d = e->memfd >= 0 ? lseek(e->memfd, off, SEEK_DATA) : off;
	s->hole = d < 0 || d >= off + (off_t)VM_PAGE_SIZE;
	if (!s->hole)
		memcpy(s->bytes, pfn_to_virt(e, pfn), VM_PAGE_SIZE);
	s->next = e->stash;
	e->stash = s;
}

void vmi_replay_unstash(struct vm_engine *e, uint64_t pfn)
{
	for (struct replay_stash **pp = &e->stash; *pp; pp = &(*pp)->next) {
		struct replay_stash *s = *pp;

		if (s->pfn != pfn)
			continue;
		if (s->hole && e->memfd >= 0)
			fallocate(e->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  (off_t)(pfn << VM_PAGE_SHIFT), (off_t)VM_PAGE_SIZE);
		else if (s->hole)
			memset(pfn_to_virt(e, pfn), 0, VM_PAGE_SIZE);
		else
			memcpy(pfn_to_virt(e, pfn), s->bytes, VM_PAGE_SIZE);
		*pp = s->next;
		free(s);
		return;
	}
}

static void stash_drop(struct vm_engine *e)
{
	while (e->stash) {
		struct replay_stash *s = e->stash;

		e->stash = s->next;
		free(s);
	}
}

void vm_set_replay(struct vm_engine *e, bool on)
{
	if (!e)
		return;
	/* A punch owed from before is the normal run's: made now. */
	if (on && e->punch.len)
		vmi_punch_flush(e);
	if (!on)
		stash_drop(e);
	e->replay = on;
}

/* The frames' flags cleared of PG_dirty over each zone's touched part. */
static void clear_dirty(struct vm_engine *e)
{
	for (unsigned n = 0; n < e->nr_nodes; n++) {
		for (int t = 0; t < VM_NR_ZONES; t++) {
			const struct zone *z = &e->zones[n][t];
			uint64_t r[2][2] = { { z->start_pfn, z->deferred_pfn },
					     { z->deferred_end, z->end_pfn } };

			if (z->end_pfn == z->start_pfn)
				continue;
			for (int k = 0; k < 2; k++)
				for (uint64_t pfn = r[k][0]; pfn < r[k][1]; pfn++)
					e->memmap[pfn].flags &= (uint8_t)~PG_dirty;
		}
	}
}

/* Frame pfn holds data: resident, unless init_on_free says a frame that
 * nothing owns must hold none (then punched). */
static void reconcile_frame(struct vm_engine *e, uint64_t pfn)
{
	struct page *p = &e->memmap[pfn];

	/* A frame still deferred was never handed out: whatever it holds is
	 * no one's, and its struct page must stay untouched. */
	if (!touched(e, pfn, pfn + 1) || (e->cfg.init_on_free && !(p->flags & PG_OWNED))) {
		p->flags |= PG_dirty;
		e->resident_pages++;
		vmi_clear_frame(e, pfn);
		return;
	}
	p->flags |= PG_dirty;
	e->resident_pages++;
}

int vm_reconcile_resident(struct vm_engine *e)
{
	uint64_t bytes, off = 0;
	bool replay;
	int r = 0;

	VMI_CALL(e);
	if (!e)
		return -EINVAL;
	bytes = e->nr_pages << VM_PAGE_SHIFT;
	replay = e->replay;
	e->replay = false;
	e->punch.len = 0;
	clear_dirty(e);
	e->resident_pages = 0;
	if (e->memfd < 0 || lseek(e->memfd, 0, SEEK_DATA) < 0) {
		bool any = e->memfd >= 0 && errno == ENXIO;

		/* ENXIO: no data at all.  Otherwise no holes support: every
		 * owned frame is taken as resident. */
		if (!any) {
			for (unsigned n = 0; n < e->nr_nodes; n++)
				for (int t = 0; t < VM_NR_ZONES; t++) {
					const struct zone *z = &e->zones[n][t];
					uint64_t part[2][2] = { { z->start_pfn, z->deferred_pfn },
								{ z->deferred_end, z->end_pfn } };

					for (int k = 0; k < 2 && z->end_pfn > z->start_pfn; k++)
						for (uint64_t pfn = part[k][0]; pfn < part[k][1]; pfn++)
							if (e->memmap[pfn].flags & PG_OWNED)
								reconcile_frame(e, pfn);
				}
		}
		vmi_punch_flush(e);
		e->replay = replay;
		return 0;
	}
	while (off < bytes) {
		off_t d = lseek(e->memfd, (off_t)off, SEEK_DATA), h;

		if (d < 0) {
			if (errno != ENXIO)
				r = -errno;
			break;
		}
		h = lseek(e->memfd, d, SEEK_HOLE);
		if (h < 0) {
			r = -errno;
			break;
		}
		if ((uint64_t)h > bytes)
			h = (off_t)bytes;
		for (uint64_t pfn = (uint64_t)d >> VM_PAGE_SHIFT;
		     pfn < ((uint64_t)h + VM_PAGE_SIZE - 1) >> VM_PAGE_SHIFT; pfn++) {
			if (!(e->memmap[pfn].flags & PG_dirty))
				reconcile_frame(e, pfn);
			if (!(pfn & 0xffff))
				vmi_cond_resched(e);
		}
		off = (uint64_t)h;
	}
	vmi_punch_flush(e);
	e->replay = replay;
	return r;
}
