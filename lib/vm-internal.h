/* vm-internal.h -- the engine's structures, shared by the files of lib/ only.
 *
 * Glossary (see also vmcore.h)
 *   struct page    16 bytes of metadata per frame, in one lazily populated
 *                  array (memmap): all-zero bytes mean "no flags", which is
 *                  the right state for a frame that has never been touched.
 *   free_area      per zone and order, a doubly linked list of free blocks
 *                  threaded through their head frames' struct page by pfn.
 *   deferred       per zone, a run of max-order blocks never yet touched:
 *                  free, counted in nr_free[MAX_ORDER], handed to the free
 *                  list one block at a time (like deferred struct page init).
 *   vmap_area      one KVA range: free (in free_root and the address list),
 *                  busy (in busy_root, vm set) or lazy (on the purge list).
 *   vm_struct      the area's descriptor: pages, flags, owner, caller.
 *
 * Invariants (checked by vm_check())
 *   per zone: free_pages == Σ_o (nr_free[o] << o) + deferred blocks << MAX_ORDER
 *   Σ_zones free_pages + vmalloc_pages + pagetable_pages + user_pages == nr_pages
 *   [vmalloc_start, vmalloc_end) == free ∪ busy ∪ lazy, pairwise disjoint
 *   free ranges are never adjacent (they are merged on insertion)
 *   lazy_pages == Σ over lazy ranges of their size in pages
 */
#ifndef VMCORE_INTERNAL_H
#define VMCORE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "rbtree.h"
#include "vmcore.h"

#define PFN_NONE UINT32_MAX

/* struct page flags. */
#define PG_buddy    0x01u  /* head of a free block; order valid */
#define PG_head     0x02u  /* head of an allocated block; order valid */
#define PG_user     0x04u  /* part of a vm_alloc_pages block */
#define PG_vmalloc  0x08u  /* a page of a vmalloc area */
#define PG_pgtable  0x10u  /* a page-table page; private = present entries */
#define PG_dirty    0x20u  /* may hold non-zero bytes */
#define PG_OWNED    (PG_user | PG_vmalloc | PG_pgtable)

struct page {
	uint32_t next, prev;   /* free_area list links (pfn), PFN_NONE terminated */
	uint32_t private;      /* page-table pages: number of present entries */
	uint8_t flags;         /* PG_* */
	uint8_t order;         /* block order when PG_buddy or PG_head */
	uint16_t mapcount;     /* PG_user frames: live vmap mappings of this frame */
};
_Static_assert(sizeof(struct page) == 16, "frame metadata must stay 16 bytes");

struct free_area {
	uint32_t head;         /* first free block's head pfn, or PFN_NONE */
	uint64_t nr_free;      /* blocks on the list (deferred ones not included) */
};

struct zone {
	int node;
	enum vm_zone_type type;
	uint64_t start_pfn, end_pfn;    /* [start, end); empty zone if equal */
	uint64_t managed;               /* frames */
	uint64_t free_pages;            /* frames, deferred ones included */
	uint64_t wmark_min, wmark_low, wmark_high;
	uint64_t lowmem_reserve[VM_NR_ZONES];
	uint64_t deferred_pfn, deferred_end; /* untouched max-order blocks [pfn, end) */
	struct free_area free_area[VM_NR_ORDERS];
};

struct list_node {
	struct list_node *prev, *next;
};

struct vm_struct;

struct vmap_area {
	struct rb_node rb;
	uint64_t va_start, va_end;      /* [start, end) */
	union {
		uint64_t subtree_max_size; /* free: largest free size in this subtree */
		struct vm_struct *vm;      /* busy: the descriptor */
	};
	struct list_node list;          /* free, busy: address order; lazy: purge list */
	struct vmap_area *hnext;        /* busy: busy_hash chain */
};

struct vm_struct {
	struct vm_struct *next;         /* pool free list while unused */
	uint64_t addr;
	uint64_t size;                  /* guard page included */
	uint32_t flags;                 /* VM_* */
	uint32_t prot;
	uint32_t *pages;                /* pfns, nr_pages of them */
	uint64_t nr_pages;
	uint64_t phys_addr;
	uint64_t requested_size;        /* bytes asked for (vrealloc works from it) */
	const char *caller;             /* interned, may be NULL */
	uint32_t uid, pid;
	uint64_t cookie;
	struct vmap_area *va;
	uint32_t page_inline;           /* pages points here for 1-page areas */
};

/* A fixed-size object cache (the kernel's kmem_cache, much simplified). */
struct kmem_cache {
	size_t obj_size;
	size_t objs_per_slab;
	void *free;          /* free objects, linked through their first word */
	void *slabs;         /* slab chunks, linked through their first word */
	uint64_t nr_slabs;
	uint64_t nr_active;
};

/* Interned caller strings. */
struct caller_table {
	char **slots;
	size_t nr_slots, nr_used;
	size_t bytes;
};

struct layout_desc {
	const char *name;
	uint64_t vmalloc_start, vmalloc_end;     /* [start, end) */
	uint64_t dma_end, dma32_end, normal_end; /* byte limits; UINT64_MAX: none */
	uint64_t max_memory;
	unsigned pt_levels;
	unsigned pt_shift[4];                    /* top level first */
	unsigned pt_index_bits;
	unsigned pte_size;                       /* bytes per entry */
};

struct vm_engine {
	struct vm_config cfg;
	const struct layout_desc *layout;

	/* Physical memory. */
	uint64_t nr_pages;
	uint8_t *mem;                   /* backing store: frame pfn at mem + pfn * 4096 */
	int memfd;                      /* -1 for an anonymous mapping */
	struct page *memmap;
	size_t memmap_bytes;
	unsigned nr_nodes;
	uint64_t node_start[VM_MAX_NODES + 1]; /* pfn; node n is [start[n], start[n+1]) */
	struct zone zones[VM_MAX_NODES][VM_NR_ZONES];
	uint8_t node_order[VM_MAX_NODES][VM_MAX_NODES]; /* fallback order by distance */
	uint64_t user_pages;            /* frames held through vm_alloc_pages */
	uint64_t vmalloc_pages;
	uint64_t vmap_pages;
	uint64_t pagetable_pages;

	/* KVA. */
	struct rb_root free_root;       /* free ranges by address, augmented */
	struct list_node free_list;     /* the same ranges in address order, O(1) neighbours */
	struct rb_root busy_root;       /* busy ranges by address */
	struct list_node busy_list;     /* the same, address order */
	struct vmap_area *busy_hint;    /* last busy range inserted */
	struct vmap_area **busy_hash;   /* busy ranges by va_start */
	uint64_t busy_hash_mask;
	struct list_node lazy_list;     /* lazily freed ranges, purge order */
	uint64_t nr_busy, nr_lazy;
	uint64_t lazy_pages;
	uint64_t nr_purges, nr_tlb_flushes;
	uint64_t nr_alloc_failures;

	/* Page tables. */
	uint32_t pgd_pfn;
	uint64_t *emptied;              /* an address under each leaf table emptied since the
					 * last purge (repeats possible) */
	size_t nr_emptied, emptied_cap;
	bool emptied_lost;              /* the list could not grow: purge walks every range */

	struct kmem_cache va_cache;
	struct kmem_cache vm_cache;
	struct caller_table callers;

	/* current */
	uint32_t cur_uid, cur_pid;
	uint64_t cur_cookie;
	const char *cur_caller;
	uint32_t cur_vm_flags;
};

/* ---- helpers ---------------------------------------------------------- */

static inline struct page *pfn_to_page(const struct vm_engine *e, uint64_t pfn)
{
	return &e->memmap[pfn];
}

static inline uint8_t *pfn_to_virt(const struct vm_engine *e, uint64_t pfn)
{
	return e->mem + (pfn << VM_PAGE_SHIFT);
}

static inline void list_init(struct list_node *h)
{
	h->prev = h->next = h;
}

static inline bool list_empty(const struct list_node *h)
{
	return h->next == h;
}

static inline void list_add_after(struct list_node *n, struct list_node *pos)
{
	n->prev = pos;
	n->next = pos->next;
	pos->next->prev = n;
	pos->next = n;
}

static inline void list_add_tail(struct list_node *n, struct list_node *h)
{
	list_add_after(n, h->prev);
}

static inline void list_del(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

#define list_entry(ptr, type, member) rb_entry(ptr, type, member)

/* physmem.c */
const struct layout_desc *vmi_layout(enum vm_layout l);
int vmi_physmem_init(struct vm_engine *e);
void vmi_physmem_destroy(struct vm_engine *e);
struct zone *vmi_pfn_zone(struct vm_engine *e, uint64_t pfn);
int vmi_pfn_node(const struct vm_engine *e, uint64_t pfn);
void vmi_clear_frame(struct vm_engine *e, uint64_t pfn);

/* buddy.c */
void vmi_buddy_init_zone(struct vm_engine *e, struct zone *z);
void vmi_setup_watermarks(struct vm_engine *e);
int vmi_alloc_pages(struct vm_engine *e, gfp_t gfp, unsigned order, int node,
		    uint8_t owner_flag, uint64_t *ret_pfn);
void vmi_free_pages(struct vm_engine *e, uint64_t pfn, unsigned order);
uint64_t vmi_alloc_pages_bulk(struct vm_engine *e, gfp_t gfp, int node, uint8_t owner_flag,
			      uint64_t nr, uint32_t *pfns);
void vmi_free_pages_bulk(struct vm_engine *e, const uint32_t *pfns, uint64_t nr);
uint64_t vmi_zone_nr_free(const struct zone *z, unsigned order);
int vmi_check_gfp(const struct vm_engine *e, gfp_t gfp, int node);

/* vmap_area.c */
int vmi_kva_init(struct vm_engine *e);
void vmi_kva_destroy(struct vm_engine *e);
int vmi_alloc_vmap_area(struct vm_engine *e, uint64_t size, uint64_t align,
			uint64_t vstart, uint64_t vend, gfp_t gfp,
			struct vmap_area **ret_va);
void vmi_free_vmap_area(struct vm_engine *e, struct vmap_area *va);
void vmi_free_vmap_area_lazy(struct vm_engine *e, struct vmap_area *va);
struct vmap_area *vmi_find_busy_va(const struct vm_engine *e, uint64_t addr);
struct vmap_area *vmi_find_busy_va_start(const struct vm_engine *e, uint64_t addr);
struct vmap_area *vmi_find_lowest_linear(const struct vm_engine *e, uint64_t size,
					 uint64_t align, uint64_t vstart, uint64_t vend);
struct vmap_area *vmi_find_lowest(const struct vm_engine *e, uint64_t size,
				  uint64_t align, uint64_t vstart, uint64_t vend);
uint64_t vmi_largest_free(const struct vm_engine *e);

/* pgtable.c */
int vmi_pgtable_init(struct vm_engine *e);
void vmi_pgtable_destroy(struct vm_engine *e);
int vmi_map_pages(struct vm_engine *e, uint64_t addr, const uint32_t *pfns,
		  uint64_t nr, uint32_t prot);
void vmi_unmap_range(struct vm_engine *e, uint64_t addr, uint64_t nr);
void vmi_free_empty_tables(struct vm_engine *e, uint64_t start, uint64_t end);
/* At a purge: free the tables emptied since the last one (false: their
 * list was incomplete, the caller must use vmi_free_empty_tables()). */
bool vmi_free_emptied_tables(struct vm_engine *e);
int vmi_walk(const struct vm_engine *e, uint64_t addr, uint64_t *ret_pfn);
/* The same walk, also telling whether the PTE allows writes (may be NULL). */
int vmi_walk_pte(const struct vm_engine *e, uint64_t addr, uint64_t *ret_pfn, bool *ret_writable);
bool vmi_pte_writable(const struct vm_engine *e, uint64_t addr);
int vmi_pgtable_check(struct vm_engine *e, uint64_t *ret_present, uint64_t *ret_tables,
		      char *msg, size_t msglen);

/* kmem_cache.c */
void vmi_cache_init(struct kmem_cache *c, size_t obj_size);
void *vmi_cache_alloc(struct kmem_cache *c);
void vmi_cache_free(struct kmem_cache *c, void *obj);
void vmi_cache_destroy(struct kmem_cache *c);

/* caller.c */
int vmi_caller_intern(struct caller_table *t, const char *s, const char **ret);
void vmi_caller_destroy(struct caller_table *t);

/* engine.c */
void vmi_log(struct vm_engine *e, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* strbuf.c */
struct strbuf {
	char *buf;
	size_t len, cap;
	int err;               /* sticky -ENOMEM */
};
void vmi_strbuf_begin(struct strbuf *sb);
void vmi_strbuf_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append what was built to *buf (malloc'd, NUL-terminated, NULL to start);
 * on -ENOMEM *buf and *len are left as they were. Frees sb's own buffer. */
int vmi_strbuf_end(struct strbuf *sb, char **buf, size_t *len);

#endif /* VMCORE_INTERNAL_H */
