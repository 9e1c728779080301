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
 *   vmap_area      one KVA range: busy (in busy_root, vm set), lazy (freed,
 *                  waiting for a purge), and on 6.18 also free (in the
 *                  augmented free tree) or pooled (in a vmap node's pool).
 *   vm_struct      the area's descriptor: pages, flags, owner, caller.
 *   vmap node      6.18's per-CPU slice of the KVA bookkeeping: a lazy list
 *                  and size-segregated pools of purged ranges.
 *   kernel         struct kernel_table (kernel.h): the table of policies and
 *                  formats of the kernel the machine follows.
 *
 * Invariants (checked by vm_check())
 *   per zone: free_pages == Σ_o (nr_free[o] << o) + deferred blocks << MAX_ORDER
 *   Σ_zones free_pages + vmalloc_pages + pagetable_pages + user_pages == nr_pages
 *   6.18: [vmalloc_start, vmalloc_end) == free ∪ busy ∪ lazy ∪ pooled, disjoint;
 *         free ranges are never adjacent (they are merged on insertion)
 *   4.19: busy ∪ lazy are disjoint, in one address-ordered tree; the gaps
 *         between them are the free KVA
 *   lazy_pages == Σ over lazy ranges of their size in pages
 */
#ifndef VMCORE_INTERNAL_H
#define VMCORE_INTERNAL_H

#include <errno.h>
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
#define PG_dirty    0x20u  /* resident: the host holds the frame's bytes, which may
			    * be non-zero; a clean frame is a hole reading as zeros */
#define PG_percpu   0x40u  /* a page of a per-CPU chunk (percpu.c) */
#define PG_OWNED    (PG_user | PG_vmalloc | PG_pgtable | PG_percpu)

struct page {
	uint32_t next, prev;   /* free_area list links (pfn), PFN_NONE terminated */
	uint32_t private;      /* page-table pages: number of present entries */
	uint8_t flags;         /* PG_* */
	uint8_t order;         /* block order when PG_buddy or PG_head */
	uint16_t mapcount;     /* PG_user frames: live vmap mappings of this frame */
};
_Static_assert(sizeof(struct page) == 16, "frame metadata must stay 16 bytes");

/* Limits the types above take on trust, checked by the compiler. */
/* A pfn is 32 bits wide in struct page's links, free_area.head and
 * vm_struct.pages, and PFN_NONE is not one: every frame of the largest
 * machine of any layout must number below it. */
_Static_assert((VM_MAX_MEMORY >> VM_PAGE_SHIFT) <= PFN_NONE,
	       "VM_MAX_MEMORY has pfns that do not fit 32 bits below PFN_NONE");
_Static_assert((VM_MAX_MEMORY_I386 >> VM_PAGE_SHIFT) <= PFN_NONE,
	       "VM_MAX_MEMORY_I386 has pfns that do not fit 32 bits below PFN_NONE");
_Static_assert(VM_MAX_MEMORY % VM_PAGE_SIZE == 0 && VM_MIN_MEMORY % VM_PAGE_SIZE == 0,
	       "memory limits are whole pages");
/* Every node holds at least one max-order block of the smallest machine. */
_Static_assert((VM_MIN_MEMORY >> VM_PAGE_SHIFT) >= (1ull << VM_MAX_PAGE_ORDER),
	       "VM_MIN_MEMORY holds no max-order block");
/* An order is a uint8_t (struct page.order). */
_Static_assert(VM_MAX_PAGE_ORDER <= UINT8_MAX, "orders do not fit struct page.order");

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

/* vmap_area flags (va->flags, as the kernel's). */
#define VA_LAZY       0x1u  /* 4.19: freed, still in the busy tree until purged (VM_LAZY_FREE) */
#define VA_FROM_POOL  0x2u  /* 6.18: came from a vmap node pool (undoing the call puts it back) */
#define VA_VMAP_RAM   0x4u  /* vm_map_ram(): busy without a vm_struct (the kernel's VMAP_RAM) */
#define VA_VMAP_BLOCK 0x8u  /* ... and a per-CPU vmap block's whole range (VMAP_BLOCK) */
#define VA_VN_SHIFT   8     /* 6.18: bits 8..: id + 1 of the vmap node that asked for it,
			     * 0 for none (the kernel's encode_vn_id()) */

struct vmap_area {
	struct rb_node rb;
	uint64_t va_start, va_end;      /* [start, end) */
	union {
		uint64_t subtree_max_size; /* free: largest free size in this subtree */
		struct vm_struct *vm;      /* busy: the descriptor; NULL once freed */
	};
	struct list_node list;          /* free, busy: address order (4.19: lazy ones too);
					 * 6.18 lazy: its node's lazy list; pooled: its pool */
	struct vmap_area *hnext;        /* busy: busy_hash chain; 4.19 lazy: vmap_purge_list */
	uint32_t flags;                 /* VA_* */
};

/* 6.18's vmap nodes (mm/vmalloc.c, 6.9+).  Pools hold purged ranges of up to
 * MAX_VA_SIZE_PAGES pages (guard included), pool[i] those of i + 1 pages,
 * most recently purged first. */
#define MAX_VA_SIZE_PAGES 256

struct vmap_pool {
	struct list_node head;
	uint64_t len;
};

struct vmap_node {
	struct list_node lazy;          /* lazily freed ranges tagged for this node, in free order */
	uint64_t nr_lazy;
	struct vmap_pool *pool;         /* MAX_VA_SIZE_PAGES pools; NULL when the machine has one node */
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
	struct vm_struct *array_vm;     /* the vmalloc area holding the page array (the kernel's
					 * is_vmalloc_addr(pages)), or NULL when it fits a page */
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
	unsigned ptr_size;                       /* bytes in a pointer (struct page *, %p) */
	unsigned max_cpus;                       /* CONFIG_NR_CPUS's upper bound */
	bool has_highmem;                        /* CONFIG_HIGHMEM */
};

struct kernel_table;

/* Page tables created, each with the entry of its parent that points at it,
 * so that a failure can undo exactly them. */
struct new_tables {
	struct { uint64_t pfn, parent; unsigned idx; } *v;
	size_t n, cap;
};

struct vm_engine {
	struct vm_config cfg;
	const struct layout_desc *layout;
	const struct kernel_table *k;      /* the kernel's table */
	uint64_t lazy_max_pages;        /* cfg's, or the kernel's lazy_max_pages() */

	/* Physical memory. */
	uint64_t nr_pages;
	uint8_t *mem;                   /* backing store: frame pfn at mem + pfn * 4096 */
	int memfd;                      /* -1 for an anonymous mapping */
	struct page *memmap;
	size_t memmap_bytes;
	unsigned nr_nodes;
	uint64_t node_start[VM_MAX_NODES + 1]; /* pfn; node n is [start[n], start[n+1]) */
	struct zone zones[VM_MAX_NODES][VM_NR_ZONES];
	uint8_t node_order[VM_MAX_NODES][VM_MAX_NODES]; /* fallback order by distance (node ids) */
	uint64_t user_pages;            /* frames held through vm_alloc_pages */
	uint64_t vmalloc_pages;
	uint64_t vmap_pages;
	uint64_t pagetable_pages;
	uint64_t resident_pages;        /* frames with PG_dirty */
	struct {                        /* frames released but not yet punched out of the
					 * backing store: [start, start + len) */
		uint64_t start, len;
	} punch;

	/* KVA. */
	struct rb_root free_root;       /* 6.18: free ranges by address, augmented */
	struct list_node free_list;     /* the same ranges in address order, O(1) neighbours */
	struct rb_root busy_root;       /* busy ranges by address (4.19: and lazy ones) */
	struct list_node busy_list;     /* the same, address order (4.19's vmap_area_list) */
	struct vmap_area *busy_hint;    /* last range inserted into the busy tree */
	struct vmap_area **busy_hash;   /* busy ranges (vm set) by va_start */
	uint64_t busy_hash_mask;
	uint64_t nr_busy, nr_lazy;      /* areas with a vm_struct; lazily freed ranges */
	uint64_t lazy_pages;            /* the kernel's vmap_lazy_nr */
	uint64_t nr_purges, nr_tlb_flushes;
	uint64_t nr_alloc_failures;
	unsigned nr_cpus, cur_cpu;
	/* 6.18: vmap nodes (one, without pools, on a machine of one node). */
	struct vmap_node *vn;
	unsigned nr_vmap_nodes;
	uint64_t nr_pooled, pooled_pages;
	/* 4.19: the free_vmap_cache hint, and the lazy ranges (vmap_purge_list,
	 * newest first, linked through hnext). */
	struct vmap_area *free_vmap_cache;
	uint64_t cached_hole_size, cached_vstart, cached_align;
	struct vmap_area *purge_llist;

	/* vm_map_ram (vmap_block.c): per-CPU queues of the vmap blocks that
	 * still have room, every block by its index, and what they map. */
	struct vmap_block_queue *vbq;   /* nr_cpus of them */
	struct vmap_block **vb_hash;    /* chained by addr_to_vb_idx() */
	uint64_t vb_hash_mask;
	uint64_t nr_vmap_blocks;
	unsigned vb_bits;               /* VMAP_BBMAP_BITS: pages in a block */
	unsigned vmap_max_alloc;        /* VMAP_MAX_ALLOC: the most pages one block serves */
	uint64_t map_ram_pages;         /* frames mapped by vm_map_ram() */
	uint64_t nr_map_ram;            /* busy ranges with no vm_struct: blocks and big mappings */

	/* Per-CPU chunks (percpu.c). */
	struct pcpu *pcpu;
	uint64_t percpu_pages;          /* frames populated in per-CPU chunks */

	/* kvfree_rcu() (kvfree_rcu.c): areas waiting for a grace period. */
	struct kfree_rcu_cpu *krc;      /* nr_cpus of them */
	uint64_t nr_kvfree_rcu;         /* areas queued, every CPU */

	/* Deferred work (workqueue.c): VM_WORK_* bits queued; delayed ones
	 * wait for their timer (vm_run_deferred_work). */
	unsigned work_pending;
	unsigned work_delayed;
	/* The graded checks (debug.c). */
	uint64_t nr_bugs;               /* findings reported as "vmalloc bug: ..." */
	unsigned call_depth;            /* VM_DEBUG 2: public calls under way (nesting) */
	unsigned warned_once;           /* WARN_ON_ONCE sites that fired (WARN_*) */

	/* Page tables. */
	uint32_t pgd_pfn;
	struct new_tables pt_log;       /* tables made since vmi_pgtable_log_begin() */
	bool pt_logging;

	struct kmem_cache va_cache;
	struct kmem_cache vm_cache;
	struct caller_table callers;

	/* current */
	uint32_t cur_uid, cur_pid;
	uint64_t cur_cookie;
	const char *cur_caller;
	uint32_t cur_vm_flags;

	/* Replay mode (state.c): the frames' bytes are not touched, nothing is
	 * counted as resident; what the page tables made meanwhile held. */
	bool replay;
	struct replay_stash *stash;

	/* Host-memory refusals (physmem.c), so that a replay refuses what the
	 * run refused: the reservations asked since vm_resident_mark() are
	 * numbered from 0; at run time the numbers of those refused are kept
	 * (refused_lost: more than VM_REFUSALS_MAX), in replay mode exactly
	 * those listed in replay_refuse are refused. */
	uint32_t reserves;
	uint32_t refused[VM_REFUSALS_MAX], nr_refused;
	bool refused_lost;
	const uint32_t *replay_refuse;
	uint32_t nr_replay_refuse, replay_refuse_pos;
};

_Static_assert(VM_MAX_NODES - 1 <= UINT8_MAX, "node ids do not fit vm_engine.node_order");

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
/* frames_fd >= 0: the frames are that file's (a dup of it is kept), which
 * must be at least the machine's size (-EBADF otherwise). */
int vmi_physmem_init(struct vm_engine *e, int frames_fd);
void vmi_physmem_destroy(struct vm_engine *e);
struct zone *vmi_pfn_zone(struct vm_engine *e, uint64_t pfn);
int vmi_pfn_node(const struct vm_engine *e, uint64_t pfn);
void vmi_clear_frame(struct vm_engine *e, uint64_t pfn);
void vmi_punch_flush(struct vm_engine *e);
/* Room for frames more resident frames: 0, or -ENOMEM past the limit (a
 * numbered reservation: see vm_resident_mark). */
int vmi_resident_reserve(struct vm_engine *e, uint64_t frames);
/* The same test, neither numbered nor remembered: a probe whose refusal
 * is followed by a precise reservation. */
bool vmi_resident_fits(const struct vm_engine *e, uint64_t frames);

/* A long loop passed another stretch of frames (vm_config.resched). */
static inline void vmi_cond_resched(struct vm_engine *e)
{
	if (e->cfg.resched)
		e->cfg.resched(e->cfg.resched_ctx);
}

/* The frame is about to be written: it becomes resident.  A pending punch
 * run is flushed first, so the hole is made before, never after, new bytes
 * land (the frame may be in it). */
static inline void vmi_frame_dirty(struct vm_engine *e, uint64_t pfn)
{
	struct page *p = pfn_to_page(e, pfn);

	if (e->replay)
		return;
	if (e->punch.len)
		vmi_punch_flush(e);
	if (!(p->flags & PG_dirty)) {
		p->flags |= PG_dirty;
		e->resident_pages++;
	}
}

/* Whether reading the frame through the mapping finds bytes rather than
 * a hole (which the read would populate): PG_dirty, or in replay mode,
 * where the flags are not kept, the memfd's own answer. */
bool vmi_frame_has_bytes(const struct vm_engine *e, uint64_t pfn);

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

static inline uint64_t va_size(const struct vmap_area *va)
{
	return va->va_end - va->va_start;
}

/* vmap_area.c: busy areas (every kernel) and the calls into the kernel's
 * KVA allocator (e->k->kva). */
int vmi_kva_init(struct vm_engine *e);
void vmi_kva_destroy(struct vm_engine *e);
/* vmi_alloc_vmap_area(), vmi_free_vmap_area(), vmi_free_vmap_area_lazy():
 * kernel.h, into the kernel's KVA allocator. */
/* The busy tree, its list and hash: vmap_busy.h.  The busy area holding
 * addr (a lazy one on 4.19: vm NULL), or NULL. */
struct vmap_area *vmi_find_busy_va(const struct vm_engine *e, uint64_t addr);
uint64_t vmi_largest_free(const struct vm_engine *e);

/* free_vmap_area.c: the augmented free tree (free_vmap_area_root). */
int vmi_free_tree_init(struct vm_engine *e);
struct vmap_area *vmi_find_lowest(const struct vm_engine *e, uint64_t size,
				  uint64_t align, uint64_t vstart, uint64_t vend);
struct vmap_area *vmi_find_lowest_linear(const struct vm_engine *e, uint64_t size,
					 uint64_t align, uint64_t vstart, uint64_t vend);
/* __alloc_vmap_area(): cut the lowest aligned fit of size inside [vstart,
 * vend) out of the free ranges and return its start; 0 if there is none
 * (nothing changed).  *spare is a node for the right remainder of a split
 * range: set to NULL if it was used. */
uint64_t vmi_free_tree_alloc(struct vm_engine *e, uint64_t size, uint64_t align, uint64_t vstart,
			     uint64_t vend, struct vmap_area **spare);
/* pcpu_get_vm_areas()'s search: the highest aligned fit, cut out as above. */
uint64_t vmi_free_tree_alloc_top(struct vm_engine *e, uint64_t size, uint64_t align,
				 uint64_t vstart, uint64_t vend, struct vmap_area **spare);
/* merge_or_add_vmap_area_augment(): va is consumed. */
void vmi_free_tree_insert(struct vm_engine *e, struct vmap_area *va);
uint64_t vmi_free_tree_largest(const struct vm_engine *e);
/* Its structure (red-black, maxima, list order, no touching ranges); each
 * free range to fn (kind 'f').  0 or -EUCLEAN with msg. */
int vmi_free_tree_check(struct vm_engine *e, int (*fn)(void *ctx, uint64_t start, uint64_t end,
							 char kind),
			void *ctx, char *msg, size_t msglen);

/* vmap_node.c and vmap_area_list.c: the two KVA allocators. */
struct kva_ops;
extern const struct kva_ops vmi_kva_vmap_nodes;   /* augmented free tree + vmap nodes (6.9+) */
extern const struct kva_ops vmi_kva_list;         /* vmap_area_list first fit (up to 5.1) */
/* addr_to_node_id(): which node's busy tree an address is kept in. */
unsigned vmi_addr_to_node(const struct vm_engine *e, uint64_t addr);

/* workqueue.c */
#define VM_WORK_DRAIN_VMAP   0x1u   /* 6.18's drain_vmap_work: a purge */
#define VM_WORK_PCPU_BALANCE 0x2u   /* pcpu_balance_work: spare chunks, populated pages */
#define VM_WORK_KFREE_RCU    0x4u   /* kfree_rcu_monitor, a grace period, kfree_rcu_work */
/* schedule_delayed_work() of an item: it runs once its timer expires,
 * which the engine (keeping no clock) leaves to vm_run_deferred_work(). */
void vmi_schedule_delayed_work(struct vm_engine *e, unsigned work);
/* schedule_work(): queue work (already queued: nothing more). */
void vmi_schedule_work(struct vm_engine *e, unsigned work);
/* At the start of every allocator call: the worker ran before it. */
static inline void vmi_run_due_work(struct vm_engine *e)
{
	if (e->work_pending)
		vm_run_due_work(e);
}

/* WARN_ON_ONCE sites (bits of e->warned_once). */
#define WARN_VMALLOC_ZERO_SIZE  0x1u
#define WARN_VMAP_NO_GUARD      0x2u
/* True the first time a site fires on this machine. */
bool vmi_warn_once(struct vm_engine *e, unsigned site);

/* vmalloc.c: a vmalloc area the machine owns (for the per-CPU allocator's
 * maps): the current identity, caller given, mark (VM_PERCPU) stamped on it
 * and its page array; no deferred work run, no failure counted.  -ENOMEM,
 * nothing left behind. */
int vmi_vmalloc_internal(struct vm_engine *e, uint64_t size, gfp_t gfp, const char *caller,
			 uint32_t mark, struct vm_struct **ret_vm);
/* vfree() of an area: KVA lazy, frames back, page array with it. */
void vmi_vfree_vm(struct vm_engine *e, struct vm_struct *vm);
/* The same undone at once, KVA straight back (a failing call's). */
void vmi_vfree_now(struct vm_engine *e, struct vm_struct *vm);

/* vmap_block.c: vm_map_ram's per-CPU vmap blocks. */
int vmi_vmap_block_init(struct vm_engine *e);
void vmi_vmap_block_destroy(struct vm_engine *e);
/* purge_fragmented_blocks_allcpus(): blocks with nothing mapped go (their
 * ranges lazily freed): the allocation-failure purge does this first. */
void vmi_purge_fragmented_blocks(struct vm_engine *e);
/* The blocks' part of vm_unmap_aliases(); true if a flush is owed. */
bool vmi_vmap_block_unmap_aliases(struct vm_engine *e);
/* Blocks and big mappings against the page tables; the pages they map. */
int vmi_vmap_block_check(struct vm_engine *e, uint64_t *ret_mapped, char *msg, size_t msglen);

/* percpu.c: the per-CPU chunk allocator. */
int vmi_percpu_init(struct vm_engine *e);                   /* the unit size, the slots */
void vmi_pcpu_balance(struct vm_engine *e);                 /* pcpu_balance_workfn */
void vmi_percpu_destroy(struct vm_engine *e);
void vmi_percpu_stats(const struct vm_engine *e, uint64_t *ret_chunks, uint64_t *ret_objects,
		      uint64_t *ret_unit_size);
int vmi_percpu_check(struct vm_engine *e, uint64_t *ret_mapped, char *msg, size_t msglen);

/* kvfree_rcu.c: deferred frees after a grace period. */
int vmi_kvfree_rcu_init(struct vm_engine *e);
void vmi_kvfree_rcu_destroy(struct vm_engine *e);
void vmi_kvfree_rcu_drain(struct vm_engine *e);              /* the monitor + GP + kfree_rcu_work */
int vmi_kvfree_rcu_check(struct vm_engine *e, char *msg, size_t msglen);

/* pgtable.c */
int vmi_pgtable_init(struct vm_engine *e);
void vmi_pgtable_destroy(struct vm_engine *e);
int vmi_map_pages(struct vm_engine *e, uint64_t addr, const uint32_t *pfns,
		  uint64_t nr, uint32_t prot);
void vmi_unmap_range(struct vm_engine *e, uint64_t addr, uint64_t nr);
/* Record the tables every mapping makes from now on; at the end, with undo,
 * free them again (they must be empty then: a vmalloc call that mapped its
 * page array's area and then failed, unmapped everything it mapped).  The
 * kernel keeps such tables; here a failed call leaves none behind. */
void vmi_pgtable_log_begin(struct vm_engine *e);
void vmi_pgtable_log_end(struct vm_engine *e, bool undo);
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
/* The shared copy of s (NULL for NULL), with one more holder: 0, -EINVAL
 * (longer than VM_CALLER_MAX) or -ENOMEM. */
int vmi_caller_intern(struct caller_table *t, const char *s, const char **ret);
/* One more holder of an interned string, one fewer (the last frees it);
 * NULL is fine. */
void vmi_caller_get(const char *s);
void vmi_caller_put(struct caller_table *t, const char *s);
void vmi_caller_destroy(struct caller_table *t);

/* engine.c */
int vmi_check_config(const struct vm_config *cfg);
/* An engine with every structure empty and no page tables yet (the loader
 * of a state image fills it in); frames_fd as vmi_physmem_init's. */
int vmi_engine_alloc(const struct vm_config *cfg, int frames_fd, struct vm_engine **ret_engine);
void vmi_log(struct vm_engine *e, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* check.c: what a structure's own checker returns when it finds a broken
 * invariant: -EUCLEAN, with the description in msg (may be NULL). */
int vmi_check_fail(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* debug.c: the graded checks (VM_DEBUG 0, 1 or 2, from meson -Ddebug_checks). */
#ifndef VM_DEBUG
#define VM_DEBUG 0
#endif
/* Report a bug of the engine's: "vmalloc bug: <fmt>" to the log, counted. */
void vmi_bug(struct vm_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3), cold));
void vmi_sub_bug(struct vm_engine *e, const char *what, uint64_t have, uint64_t sub)
	__attribute__((cold));

/* counter -= n.  At VM_DEBUG >= 1 an underflow is reported (and the
 * counter stops at 0) instead of wrapping to a huge count. */
static inline void vmi_sub(struct vm_engine *e, uint64_t *counter, uint64_t n, const char *what)
{
	if (VM_DEBUG >= 1 && __builtin_expect(*counter < n, 0)) {
		vmi_sub_bug(e, what, *counter, n);
		*counter = 0;
		return;
	}
	*counter -= n;
}
#define VMI_SUB(e, counter, n) vmi_sub((e), &(counter), (n), #counter)

/* VMI_CALL(e) opens every public function that takes a writable engine: at
 * VM_DEBUG 2, when the outermost such call returns (whichever return),
 * vm_check() runs and a failure is reported as a bug "after <function>". */
struct vmi_call {
	struct vm_engine *e;
	const char *fn;
};
static inline struct vmi_call vmi_call_begin(struct vm_engine *e, const char *fn)
{
	if (e)
		e->call_depth++;
	return (struct vmi_call){ e, fn };
}
void vmi_call_end(struct vmi_call *call);
#if VM_DEBUG >= 2
#define VMI_CALL(eng) \
	struct vmi_call vmi_call_ __attribute__((cleanup(vmi_call_end))) = vmi_call_begin((eng), __func__)
#else
#define VMI_CALL(eng) ((void)0)
#endif

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

/* state.c: the state image's codec, which each structure's own part of
 * the image (percpu.c, vmap_block.c, kvfree_rcu.c) writes and reads.
 * Integers are LEB128 varints; errors are sticky: after one, writes do
 * nothing and reads return 0. */
struct vmi_out {
	uint8_t *buf;
	size_t len, cap;
	int err;                /* -ENOMEM */
};
struct vmi_in {
	const uint8_t *p, *end;
	int err;                /* -EBADMSG: short, overlong or out of range */
};
void vmi_out_u64(struct vmi_out *o, uint64_t v);
/* The set bits of map[0, nbits) as runs. */
void vmi_out_bitmap(struct vmi_out *o, const uint64_t *map, uint64_t nbits);
uint64_t vmi_in_u64(struct vmi_in *in);
/* A value that must not pass max (else corrupt, 0 returned). */
uint64_t vmi_in_max(struct vmi_in *in, uint64_t max);
/* Into map (nbits, cleared first). */
void vmi_in_bitmap(struct vmi_in *in, uint64_t *map, uint64_t nbits);
static inline int vmi_in_fail(struct vmi_in *in)
{
	if (!in->err)
		in->err = -EBADMSG;
	return in->err;
}
/* The structures' parts: save cannot fail but for o->err; load returns 0,
 * -EBADMSG or -ENOMEM, and leaves what it made linked where the engine's
 * destroy finds it. */
void vmi_percpu_save(const struct vm_engine *e, struct vmi_out *o);
int vmi_percpu_load(struct vm_engine *e, struct vmi_in *in);
void vmi_vmap_block_save(const struct vm_engine *e, struct vmi_out *o);
int vmi_vmap_block_load(struct vm_engine *e, struct vmi_in *in);
/* Replay mode: a frame about to become a page table keeps what it held
 * (as a hole, or its bytes) until the replay ends; a table freed again
 * gets it back.  A stash that fails (no memory) keeps nothing. */
void vmi_replay_stash(struct vm_engine *e, uint64_t pfn);
void vmi_replay_unstash(struct vm_engine *e, uint64_t pfn);
/* The page tables' entries, from the root down; load reads them (and
 * writes them into the table frames when write is set). */
void vmi_pgtable_save(const struct vm_engine *e, struct vmi_out *o);
int vmi_pgtable_load(struct vm_engine *e, struct vmi_in *in, bool write);
void vmi_kvfree_rcu_save(const struct vm_engine *e, struct vmi_out *o);
int vmi_kvfree_rcu_load(struct vm_engine *e, struct vmi_in *in);

#include "kernel.h"

#endif /* VMCORE_INTERNAL_H */
