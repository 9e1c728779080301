/* kernel.h -- the kernels a machine can follow: one table (struct kernel_table)
 * per kernel, holding every policy and format in which their mm/ differs.
 * Where the table says nothing, the kernels behave alike and the code is
 * shared.  Adding a kernel is a file, lib/kernel_X_Y.c, holding its table
 * and its warning texts, listed in kernel.c.
 *
 *   kva            the KVA allocator (struct kva_ops): the search, what a
 *                  vfree does with the range, what a purge does, the
 *                  checker of its structures and its /proc/vmallocinfo order
 *   vmap_nodes     6.9+: per-CPU vmap nodes, min(CPUs, 128) on 64-bit
 *   purge_timing   a vfree that takes the lazy pages over the limit purges
 *                  in the call (4.19) or queues drain_vmap_work (5.9+)
 *   pages          alloc_page() one at a time (4.19) or the bulk order-0
 *                  allocator (5.13+)
 *   nofail_...     how deep __GFP_NOFAIL digs into the min reserve, and how
 *                  the watermarks split min_free_kbytes
 *   warn           the warning texts, each with its own rules (warn_alloc
 *                  honours __GFP_NOWARN, WARN_ON_ONCE fires once)
 *   vb_*, pcpu_*,  vm_map_ram's blocks, the per-CPU allocator and kvfree_rcu
 *   kvfree_rcu     where they differ
 *   test_vmalloc   what the kernel's lib/test_vmalloc.c has
 */
#ifndef VMCORE_KERNEL_H
#define VMCORE_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "vmcore.h"

struct vm_engine;
struct vmap_area;

/* A range held outside the busy tree: 'f' free, 'l' lazy, 'p' pooled. */
typedef int kva_range_fn(void *ctx, uint64_t start, uint64_t end, char kind);
/* One line of /proc/vmallocinfo: a busy area (va->vm set) or a lazy one. */
typedef int kva_show_fn(void *ctx, const struct vmap_area *va);

struct kva_ops {
	/* The structures of an empty vmalloc range; -ENOMEM. */
	int (*init)(struct vm_engine *e);
	void (*destroy)(struct vm_engine *e);
	/* alloc_vmap_area(): a range of size aligned inside [vstart, vend),
	 * linked into the busy tree (vm NULL).  Purges once and retries if
	 * there is no room, as the kernel does; -ENOMEM after the kernel's
	 * warning if there is still none (or if the host has no memory). */
	int (*alloc)(struct vm_engine *e, uint64_t size, uint64_t align, uint64_t vstart,
		     uint64_t vend, gfp_t gfp, struct vmap_area **ret_va);
	/* pcpu_get_vm_areas(): the highest range of size inside the vmalloc
	 * range with its start and end aligned to align, linked into the busy
	 * tree (vm NULL, no vmap node tag).  Purges once and retries, as
	 * alloc_vmap_area(); -ENOMEM. */
	int (*alloc_top)(struct vm_engine *e, uint64_t size, uint64_t align,
			 struct vmap_area **ret_va);
	/* A fresh busy range back where it came from, now (a failed call). */
	void (*unalloc)(struct vm_engine *e, struct vmap_area *va);
	/* free_vmap_area_noflush(): va, unmapped and no longer findable,
	 * becomes lazy; over the limit this purges or queues the purge. */
	void (*free_lazy)(struct vm_engine *e, struct vmap_area *va);
	/* __purge_vmap_area_lazy(): full is the allocation-failure purge
	 * (reclaim_and_purge_vmap_areas), which also empties 6.18's pools. */
	void (*purge)(struct vm_engine *e, bool full);
	/* The largest free range (for statistics; may walk the whole list). */
	uint64_t (*largest_free)(const struct vm_engine *e);
	/* Check the allocator's own structures and counters, and hand every
	 * range it holds outside the busy tree to fn.  0 or -EUCLEAN (msg). */
	int (*check)(struct vm_engine *e, kva_range_fn *fn, void *ctx, char *msg, size_t msglen);
	/* Busy and lazy ranges in the kernel's /proc/vmallocinfo order; a
	 * non-zero return from fn stops the walk and is returned; -ENOMEM. */
	int (*show)(struct vm_engine *e, kva_show_fn *fn, void *ctx);
	/* Free ranges are explicit: free ∪ busy ∪ lazy ∪ pooled tiles the
	 * vmalloc range.  Otherwise the gaps between busy and lazy are free. */
	bool tiles;
};

enum purge_timing {
	PURGE_IN_CALLER,   /* try_purge_vmap_area_lazy() inside the vfree */
	PURGE_DEFERRED,    /* schedule_work(&drain_vmap_work): after the vfree returns */
};

enum page_source {
	PAGES_ONE_AT_A_TIME,  /* alloc_page() per page */
	PAGES_BULK,           /* alloc_pages_bulk(), then single pages */
};

/* Why a vmalloc-family call failed, for the kernel's warnings. */
enum vmalloc_fail {
	VMF_ZERO,          /* size 0 */
	VMF_TOO_BIG,       /* more pages than the machine has */
	VMF_KVA,           /* alloc_vmap_area() found no room, even after its purge */
	VMF_VM_STRUCT,     /* __get_vm_area_node() failed (no room, or bad arguments) */
	VMF_PAGE_ARRAY,    /* the page array could not be allocated */
	VMF_PAGES,         /* the pages could not be allocated */
	VMF_MAP,           /* the page tables could not be allocated */
	VMF_VMAP_NO_GUARD, /* vmap() asked for VM_NO_GUARD */
};

struct vmalloc_fail_info {
	gfp_t gfp;
	uint64_t size;         /* bytes asked for */
	uint64_t nr_pages;     /* pages of the area */
	uint64_t kva_size;     /* VMF_KVA: bytes of KVA, guard page included */
	uint64_t vstart, vend; /* VMF_KVA: the window */
	uint64_t array_size;   /* VMF_PAGE_ARRAY: bytes */
	uint64_t done;         /* VMF_PAGES: pages taken before it failed */
};

struct kernel_table {
	enum vm_kernel id;
	const char *name;                /* "6.18" */
	const struct kva_ops *kva;
	bool vmap_nodes;                 /* nodes (and pools) per CPU on a 64-bit layout */
	enum purge_timing purge_timing;
	bool purge_nonblocking;          /* alloc_vmap_area() purges for a gfp that cannot sleep */
	enum page_source pages;
	/* The page allocator. */
	unsigned nofail_reserve_shift;   /* __GFP_NOFAIL's last attempt may use min >> this of
					  * a zone's min watermark (the kernel's alloc flags) */
	bool movable_is_lowmem;          /* __setup_per_zone_wmarks() counts ZONE_MOVABLE in
					  * lowmem_pages and gives it a share of min */
	uint64_t min_free_kbytes_max;    /* init_per_zone_wmark_min()'s clamp */
	/* vmap and the vm_struct flags a caller may pass. */
	bool vmap_drops_no_guard;
	uint32_t vm_flags_mask;
	/* Formats. */
	bool meminfo_vmalloc_used;       /* VmallocUsed is the vmalloc pages (else 0) */
	bool vmallocinfo_dma_coherent;   /* the flag and its word exist */
	bool vmallocinfo_unpurged;       /* busy ranges without a vm_struct print: lazily freed
					  * ones as "unpurged vm_area", vm_map_ram's as
					  * "vm_map_ram" (one branch of s_show) */
	/* vm_map_ram's vmap blocks: vm_unmap_aliases() looks at every block
	 * and purges a fragmented one only with less than a quarter free
	 * (6.5+), or at the queued ones and purges every fragmented one. */
	bool vb_unmap_aliases_every_block;
	/* kvfree_rcu() of vmalloc'd memory exists (5.9+). */
	bool kvfree_rcu;
	/* The per-CPU allocator: chunks slotted by their largest free run
	 * (else by free bytes); a chunk that fails a small request sinks to
	 * slot 0 (PCPU_SLOT_FAIL_THRESHOLD); sizeof(struct pcpu_block_md) and
	 * of the memcg object extension (0: none) per page and per 4 bytes of
	 * a unit, which decide the sizes of a chunk's vmalloc'd maps; the
	 * caller strings of those maps (alloc_map, bound_map, md_blocks,
	 * obj_exts) and of the chunk's range in vmallocinfo. */
	bool pcpu_slot_by_contig;
	bool pcpu_fail_move;
	unsigned pcpu_md_block_bytes;
	unsigned pcpu_obj_ext_bytes;
	const char *pcpu_map_callers[4];
	const char *pcpu_vm_caller;
	/* The warning for a failure, with the kernel's text and rules. */
	void (*warn)(struct vm_engine *e, enum vmalloc_fail why, const struct vmalloc_fail_info *f);
	struct vm_test_vmalloc_desc test_vmalloc;
};

extern const struct kernel_table vmi_kernel_6_18;
extern const struct kernel_table vmi_kernel_4_19;

/* The table of a kernel, NULL if unknown. */
const struct kernel_table *vmi_kernel(enum vm_kernel id);

/* ---- into the machine's KVA allocator (called on every vmalloc and vfree) ---- */

static inline int vmi_alloc_vmap_area(struct vm_engine *e, uint64_t size, uint64_t align,
				      uint64_t vstart, uint64_t vend, gfp_t gfp,
				      struct vmap_area **ret_va)
{
	return e->k->kva->alloc(e, size, align, vstart, vend, gfp, ret_va);
}

/* Undo vmi_alloc_vmap_area() of a call that fails: the range goes back
 * where it came from at once (nothing was mapped, nothing to flush). */
static inline void vmi_free_vmap_area(struct vm_engine *e, struct vmap_area *va)
{
	va->vm = NULL;
	e->k->kva->unalloc(e, va);
}

/* free_vmap_area_noflush(): an unmapped busy range becomes lazy. */
static inline void vmi_free_vmap_area_lazy(struct vm_engine *e, struct vmap_area *va)
{
	e->k->kva->free_lazy(e, va);
}

#endif /* VMCORE_KERNEL_H */
