/* vmcore.h -- the engine: a simulated machine with a buddy page allocator,
 * a kernel virtual address (KVA) allocator, page tables and the vmalloc family.
 *
 * Glossary
 *   pfn        page frame number: physical address >> VM_PAGE_SHIFT.
 *   order      a buddy block of order k is 2^k frames, aligned to 2^k.
 *   frame      4 KiB of simulated physical memory; it really holds bytes.
 *   KVA        simulated kernel virtual address inside [VMALLOC_START, VMALLOC_END).
 *   area       a vm_struct: KVA range + the frames mapped into it (+ one guard page).
 *   lazy       a freed area whose KVA is not reusable until the next purge.
 *   kernel     the Linux release whose mm/vmalloc.c (and page allocator
 *              policy) a machine follows: 6.18 by default, or 4.19.
 *   CPU        the machine's simulated online CPUs: the kernel's formulas
 *              use their number (lazy threshold, vmap nodes), and each call
 *              runs on one of them (vm_set_current_cpu).
 *
 * Conventions
 *   Every function returning int returns 0 or a negative errno; results come
 *   back through out-parameters named ret_*, which are written only on success.
 *   A failed call leaves every area, frame, page table and KVA range as it
 *   found them; it may count itself (nr_alloc_failures), run the purges the
 *   kernel would (deferred work due, a purge before retrying a KVA search),
 *   print a once-only warning and keep the caller string it interned
 *   (lib/vmalloc.c says exactly what).  An engine is not
 *   thread-safe: callers serialise access (the daemon runs one event loop).
 *   The library does no I/O and keeps no global state.
 */
#ifndef VMCORE_H
#define VMCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gfp.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VM_PAGE_SHIFT     12
#define VM_PAGE_SIZE      (1ull << VM_PAGE_SHIFT)
#define VM_MAX_PAGE_ORDER 10                 /* largest buddy block: 4 MiB */
#define VM_NR_ORDERS      (VM_MAX_PAGE_ORDER + 1)
#define VM_MAX_NODES      64
#define NUMA_NO_NODE      (-1)

/* Memory limits: at least one max-order block per node, at most 2^32 frames. */
#define VM_MIN_MEMORY     (4ull << 20)
#define VM_MAX_MEMORY     ((1ull << 32) * VM_PAGE_SIZE - VM_PAGE_SIZE)
#define VM_MAX_MEMORY_I386 (4ull << 30)

enum vm_layout {
	VM_LAYOUT_X86_64 = 0,  /* DMA < 16M, DMA32 < 4G, Normal; 4-level tables */
	VM_LAYOUT_I386   = 1,  /* DMA < 16M, Normal < 896M, HighMem; 2-level tables */
	VM_NR_LAYOUTS
};

enum vm_zone_type {
	VM_ZONE_DMA = 0,
	VM_ZONE_DMA32,
	VM_ZONE_NORMAL,
	VM_ZONE_HIGHMEM,
	VM_ZONE_MOVABLE,
	VM_NR_ZONES
};

/* vm_struct flags, as in include/linux/vmalloc.h. */
#define VM_IOREMAP        0x00000001u
#define VM_ALLOC          0x00000002u  /* vmalloc(): pages owned by the area */
#define VM_MAP            0x00000004u  /* vmap(): pages owned by the caller */
#define VM_USERMAP        0x00000008u  /* suitable for remap_vmalloc_range */
#define VM_DMA_COHERENT   0x00000010u
#define VM_UNINITIALIZED  0x00000020u  /* set until the pages are mapped */
#define VM_NO_GUARD       0x00000040u  /* no guard page after the area */
/* The only vm_struct flags a caller may pass in a request. */
#define VM_FLAGS_CALLER_MASK (VM_USERMAP | VM_NO_GUARD | VM_DMA_COHERENT)
/* vmallocd's own mark (freed when the owner disconnects): not a kernel flag
 * and not in VM_FLAGS_CALLER_MASK, so no request can carry it; only
 * vm_set_current_flags() stamps it. */
#define VM_SCOPED         0x00010000u
/* vmallocd's own mark on the vmalloc area that holds another area's page
 * array (the kernel vmallocs an array larger than a page, with the same
 * caller).  It is freed with its area and cannot be freed, resized or
 * unmapped by itself. */
#define VM_PAGE_ARRAY     0x00020000u

/* vmallocd's own mark on the areas of the per-CPU allocator: its chunks'
 * ranges (no pages of their own) and its maps.  vfree refuses them. */
#define VM_PERCPU         0x00040000u
/* vmallocd's own mark on an area handed to kvfree_rcu(): freed after a
 * grace period, refused by vfree, vrealloc and kvfree_rcu meanwhile. */
#define VM_KVFREE_RCU     0x00080000u

/* Protection bits accepted in the prot argument (pgprot_t). */
#define VM_PROT_READ      0x1u
#define VM_PROT_WRITE     0x2u
#define VM_PROT_EXEC      0x4u
#define PAGE_KERNEL       (VM_PROT_READ | VM_PROT_WRITE)
#define PAGE_KERNEL_RO    (VM_PROT_READ)
#define PAGE_KERNEL_EXEC  (VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXEC)

/* The kernels a machine can follow.  Where they differ (KVA search, what a
 * purge does and when, page sourcing, watermarks, messages, /proc formats)
 * each is one table in lib/kernel_*.c. */
enum vm_kernel {
	VM_KERNEL_6_18 = 0,   /* the default */
	VM_KERNEL_4_19 = 1,   /* the seeds' vmalloc: list-walk first fit, synchronous purge */
	VM_NR_KERNELS
};

/* Simulated CPUs: at most CONFIG_NR_CPUS's upper bound on each layout. */
#define VM_MAX_CPUS       8192
#define VM_MAX_CPUS_I386  64

/* How vmalloc takes its pages.  ORDER0 is the kernel's documented behaviour
 * and the default; HIGH_ORDER_FIRST is offered only for comparison. */
enum vm_page_policy {
	VM_POLICY_ORDER0 = 0,
	VM_POLICY_HIGH_ORDER_FIRST = 1,
};

struct vm_engine;

/* Log levels, as sd-daemon's <N> prefixes. */
#define VM_LOG_ERR     3
#define VM_LOG_WARNING 4
#define VM_LOG_INFO    6
#define VM_LOG_DEBUG   7

typedef void vm_log_fn(void *ctx, int level, const char *msg);

struct vm_config {
	uint64_t memory_bytes;     /* simulated RAM; rounded down to whole pages */
	unsigned nr_nodes;         /* 1..VM_MAX_NODES; memory is split evenly */
	enum vm_layout layout;
	uint64_t movable_bytes;    /* per node, carved from the top as ZONE_MOVABLE (0: none) */
	enum vm_kernel kernel;     /* the kernel the machine follows (VM_KERNEL_6_18) */
	unsigned nr_cpus;          /* simulated online CPUs, 1..VM_MAX_CPUS (1) */
	uint64_t lazy_max_pages;   /* lazily freed pages before a purge (0: the kernel's
				    * lazy_max_pages(), fls(nr_cpus) * 32 MiB worth) */
	enum vm_page_policy page_policy;
	bool init_on_free;         /* zero frames as they are freed (no owner sees another's bytes);
				    * a freed frame is given back to the host, not overwritten */
	uint64_t max_resident_pages; /* frames that may hold bytes in host memory at once
				    * (0: no limit): a write or a table that would pass it
				    * is -ENOMEM */
	vm_log_fn *log;            /* warnings such as "vmalloc: allocation failure" */
	void *log_ctx;
	/* Called every few tens of thousands of frames inside a long call
	 * (a huge vmalloc, vfree or vm_check), as the kernel's loops call
	 * cond_resched(): the caller may do what must not wait (a watchdog
	 * ping), but must not call into the engine.  NULL: never. */
	void (*resched)(void *ctx);
	void *resched_ctx;
};

/* Fill cfg with the defaults: 1 GiB, 1 node, x86_64, Linux 6.18, 1 CPU, the
 * kernel's lazy limit.  Can't fail. */
void vm_config_init(struct vm_config *cfg);

/* Build a machine.  Validates every field (-EINVAL), maps the backing store
 * (-ENOMEM if the host refuses).  The frames and their metadata are populated
 * lazily, so this is quick and cheap even for a terabyte. */
int vm_engine_create(const struct vm_config *cfg, struct vm_engine **ret_engine);

/* Release everything, including all areas still allocated.  NULL is fine. */
void vm_engine_destroy(struct vm_engine *e);

/* The identity recorded in areas allocated from now on, like the kernel's
 * `current` plus __builtin_return_address: owner uid and pid, a free-form
 * cookie (the daemon's connection id) and the caller string printed in
 * vmallocinfo (NULL: none).  The string is copied (interned); -ENOMEM if the
 * copy fails, -EINVAL if it is longer than VM_CALLER_MAX. */
#define VM_CALLER_MAX 255
int vm_set_current(struct vm_engine *e, uint32_t uid, uint32_t pid,
		   uint64_t cookie, const char *caller);
/* Extra vm_struct flags stamped on areas made from now on: only VM_SCOPED
 * (-EINVAL otherwise).  The engine gives the flag no meaning of its own. */
int vm_set_current_flags(struct vm_engine *e, uint32_t vm_flags);
/* The CPU the following calls run on (raw_smp_processor_id()): 6.18 takes
 * and tags KVA through that CPU's vmap node.  -EINVAL if cpu >= nr_cpus,
 * nothing changed.  CPU 0 until set. */
int vm_set_current_cpu(struct vm_engine *e, unsigned cpu);

/* ------------------------------------------------------------------------
 * Deferred work: what the kernel hands to a workqueue (6.18's purge,
 * drain_vmap_work, scheduled by a vfree that takes the lazy pages over
 * lazy_max_pages) runs after the call that queued it has returned: at the
 * start of the engine's next allocator call (vmalloc family, vfree, vmap,
 * vunmap, vrealloc, alloc_pages, free_pages, purge), or when the owner
 * calls vm_run_deferred_work() (the daemon does once a pass's replies are
 * out).  Queries and vm_check() see the machine as it is, work pending.
 * Queueing is a bit in the engine: no thread, timer or system call.
 */
bool vm_work_pending(const struct vm_engine *e);
/* Delayed work waits for a timer of seconds (kvfree_rcu's batch, 5 s after
 * its first area): the engine keeps no clock, so it runs only when its
 * owner runs vm_run_deferred_work().  Can't fail. */
bool vm_work_delayed(const struct vm_engine *e);
/* Run what is due now, delayed work left waiting.  Can't fail; NULL is
 * fine. */
void vm_run_due_work(struct vm_engine *e);
/* Run everything queued, delayed work too (its timers have expired).
 * Can't fail; NULL is fine. */
void vm_run_deferred_work(struct vm_engine *e);

/* ------------------------------------------------------------------------
 * The vmalloc family.  Sizes are in bytes and rounded up to pages; the KVA
 * taken is size + one guard page.  On success *ret_addr is the area's start.
 *   -EINVAL    size 0, size + guard overflows, bad flags, unknown node,
 *              alignment not a power of two, empty or out-of-range [start, end)
 *   -ENOMEM    no frames (after watermarks) or no KVA hole, even after a purge
 * A failure logs the machine's kernel's warning (6.18: "vmalloc error: size
 * N, ...", 4.19: "vmalloc: allocation failure: N bytes") unless __GFP_NOWARN.
 * As in the kernel, __GFP_HIGHMEM is added to the pages' gfp unless the
 * request asks for __GFP_DMA or __GFP_DMA32, and a page array longer than
 * a page is itself a vmalloc area with the same caller (VM_PAGE_ARRAY).
 */
int vm_vmalloc(struct vm_engine *e, uint64_t size, uint64_t *ret_addr);
int vm_vzalloc(struct vm_engine *e, uint64_t size, uint64_t *ret_addr);
int vm_vmalloc_node(struct vm_engine *e, uint64_t size, int node, uint64_t *ret_addr);
int vm_vzalloc_node(struct vm_engine *e, uint64_t size, int node, uint64_t *ret_addr);
int vm_vmalloc_32(struct vm_engine *e, uint64_t size, uint64_t *ret_addr);
int vm_vmalloc_user(struct vm_engine *e, uint64_t size, uint64_t *ret_addr);
int vm_vmalloc_32_user(struct vm_engine *e, uint64_t size, uint64_t *ret_addr);
int vm___vmalloc(struct vm_engine *e, uint64_t size, gfp_t gfp, uint64_t *ret_addr);

/* The full form.  align: a power of two (0 or anything below a page means a
 * page); [start, end): the KVA window (0, 0 means the whole vmalloc range);
 * vm_flags: VM_FLAGS_CALLER_MASK bits; node: NUMA_NO_NODE or 0..nr_nodes-1;
 * caller: overrides the current caller string for this area (NULL: keep). */
struct vm_alloc_req {
	uint64_t size;
	uint64_t align;
	uint64_t start, end;
	gfp_t gfp;
	uint32_t prot;
	uint32_t vm_flags;
	int node;
	const char *caller;
};
int vm___vmalloc_node_range(struct vm_engine *e, const struct vm_alloc_req *req,
			    uint64_t *ret_addr);

/* Resize an area, kernel vrealloc semantics: addr 0 behaves as __vmalloc,
 * size 0 frees and returns 0; shrinking or growing inside the pages already
 * mapped keeps the address; otherwise a new area is made, the old contents
 * copied and the old area freed.  gfp __GFP_ZERO zeroes any grown tail.
 * -EINVAL if addr is not the start of a vmalloc area. */
int vm_vrealloc(struct vm_engine *e, uint64_t addr, uint64_t size, gfp_t gfp,
		uint64_t *ret_addr);

/* Free a vmalloc area: its frames go back to the buddy allocator now, its
 * PTEs are cleared now, its KVA waits on the lazy list (and its page array's
 * area with it).  Taking the lazy pages over the limit purges now (4.19) or
 * queues the purge (6.18, see vm_run_deferred_work).  addr 0 is a no-op.
 * -EINVAL if addr is not the start of a live vmalloc (VM_ALLOC) area, or is
 * a VM_PAGE_ARRAY area, which includes a double free. */
int vm_vfree(struct vm_engine *e, uint64_t addr);

/* Map count caller-owned frames (from vm_alloc_pages) contiguously.  Each pfn
 * must be an allocated frame (-EINVAL otherwise); flags: VM_FLAGS_CALLER_MASK.
 * 6.18 drops VM_NO_GUARD with a warning (once), as its vmap() does. */
int vm_vmap(struct vm_engine *e, const uint64_t *pfns, uint64_t count,
	    uint32_t flags, uint32_t prot, uint64_t *ret_addr);
/* Unmap a vmap area; the frames stay with their owner.  -EINVAL if addr is
 * not the start of a live VM_MAP area. */
int vm_vunmap(struct vm_engine *e, uint64_t addr);

/* vm_map_ram(): map count caller-owned frames (as vm_vmap) for a short
 * while, without a vm_struct and without a guard page.  Up to
 * VMAP_MAX_ALLOC pages (64 on x86_64, 32 on i386) come from a per-CPU vmap
 * block of the current CPU (vm_set_current_cpu), rounded up to a power of
 * two inside it; more take a range of their own.  -EINVAL for a bad pfn
 * (not from vm_alloc_pages) or node, -EBUSY if a frame has no map count
 * left, -ENOMEM without KVA.  vm_unmap_ram() takes exactly what one
 * vm_map_ram() returned (its address and count; -EINVAL otherwise): the
 * pages are unmapped now; a block's range is freed (lazily) once all of it
 * has been mapped and unmapped, a big mapping's at once (lazily). */
int vm_map_ram(struct vm_engine *e, const uint64_t *pfns, uint64_t count, int node,
	       uint64_t *ret_addr);
int vm_unmap_ram(struct vm_engine *e, uint64_t addr, uint64_t count);
/* True if addr lies in a live vm_map_ram mapping; its start and page count
 * (either pointer may be NULL).  Can't fail. */
bool vm_is_map_ram_addr(const struct vm_engine *e, uint64_t addr, uint64_t *ret_start,
			uint64_t *ret_count);

/* __alloc_percpu(size, align): a zeroed object in every CPU's unit of a
 * per-CPU chunk, a vmalloc area of the machine's own (percpu.c).  *ret_ptr
 * is CPU 0's copy; vm_per_cpu_ptr() gives CPU cpu's.  Both are KVA that
 * vm_vread/vm_vwrite reach through the page tables.  -EINVAL for a size of
 * 0 or over 32 KiB or an alignment over a page or not a power of two (the
 * kernel's warning logged), -ENOMEM (no frames or KVA for a chunk: the
 * kernel's "percpu: allocation failed" logged, ten times at most).
 * free_percpu(): -EINVAL unless ptr is a live object's; 0 is a no-op. */
int vm_alloc_percpu(struct vm_engine *e, uint64_t size, uint64_t align, uint64_t *ret_ptr);
int vm_free_percpu(struct vm_engine *e, uint64_t ptr);
int vm_per_cpu_ptr(struct vm_engine *e, uint64_t ptr, unsigned cpu, uint64_t *ret_addr);
/* The object's size as allocated (rounded up to 4 bytes). */
int vm_percpu_size(struct vm_engine *e, uint64_t ptr, uint64_t *ret_size);

/* kvfree_rcu() (head set: kvfree_rcu(ptr, rhf)) and kvfree_rcu_mightsleep()
 * of a vmalloc area: queued on the current CPU's batch and vfree'd after a
 * grace period (kvfree_rcu.c: when the batch is full, as deferred work, or
 * when its 5-second timer expires).  Until then the area stays mapped and
 * owned; vfree, vrealloc and kvfree_rcu refuse it (-EINVAL, as for vfree).
 * -EOPNOTSUPP on a kernel without kvfree_rcu (4.19); addr 0 is a no-op. */
int vm_kvfree_rcu(struct vm_engine *e, uint64_t addr, bool head);
uint64_t vm_kvfree_rcu_pending(const struct vm_engine *e);

/* The buddy allocator directly: 2^order contiguous frames. node may be
 * NUMA_NO_NODE.  -EINVAL for a bad order, node or gfp; -ENOMEM if no block. */
int vm_alloc_pages(struct vm_engine *e, gfp_t gfp, unsigned order, int node,
		   uint64_t *ret_pfn);
/* -EINVAL unless pfn is the first frame of a block allocated with exactly
 * this order and not yet freed (a double free is -EINVAL); -EBUSY while a
 * vmap area still maps one of its frames.  The block unchanged on error. */
int vm_free_pages(struct vm_engine *e, uint64_t pfn, unsigned order);

/* Read or write frames handed out by vm_alloc_pages (physical access, e.g.
 * to fill pages before vmap).  -EINVAL if the range leaves one block. */
int vm_phys_read(struct vm_engine *e, uint64_t pfn, uint64_t offset, void *buf, uint64_t len);
int vm_phys_write(struct vm_engine *e, uint64_t pfn, uint64_t offset, const void *buf, uint64_t len);

/* Everything known about one area, copied out. */
struct vm_area_info {
	uint64_t addr;         /* start */
	uint64_t size;         /* KVA taken, guard page included (as vmallocinfo) */
	uint32_t flags;        /* VM_* */
	uint32_t prot;
	uint64_t nr_pages;
	uint64_t phys_addr;    /* VM_IOREMAP only */
	uint32_t uid, pid;     /* owner, from vm_set_current at allocation */
	uint64_t cookie;
	const char *caller;    /* interned; valid while the engine lives; may be NULL */
	uint32_t nr_per_node[VM_MAX_NODES];
	uint64_t nr_array_pages; /* pages of the vmalloc'd page array (recursively) freed
				  * with this area; 0 when the array fits a page */
};

/* Area containing addr (any byte of it, guard page included).  -ENOENT if
 * none.  With ret_info NULL this is an existence test. */
int vm_find_vm_area(struct vm_engine *e, uint64_t addr, struct vm_area_info *ret_info);

/* Walk every live area in address order; a non-zero return from fn stops the
 * walk and is returned.  The engine must not be changed from inside fn. */
typedef int vm_area_fn(void *ctx, const struct vm_area_info *info);
int vm_for_each_area(struct vm_engine *e, vm_area_fn *fn, void *ctx);

/* The frame behind a mapped KVA address, by walking the page tables.
 * -EINVAL outside the vmalloc range, -ENXIO if nothing is mapped there. */
int vm_vmalloc_to_pfn(struct vm_engine *e, uint64_t addr, uint64_t *ret_pfn);

/* True if addr lies in the vmalloc range (mapped or not).  Can't fail. */
bool vm_is_vmalloc_addr(const struct vm_engine *e, uint64_t addr);

/* Copy bytes through the page tables, page by page.  The whole range must
 * lie inside the mapped pages of one live area (or vm_map_ram mapping, or
 * the populated pages of a per-CPU chunk): -EFAULT otherwise (past the
 * end, into the guard page, unmapped), -EINVAL for len overflow. */
int vm_vread(struct vm_engine *e, uint64_t addr, void *buf, uint64_t len);
int vm_vwrite(struct vm_engine *e, uint64_t addr, const void *buf, uint64_t len);

/* vm_unmap_aliases(): purge the lazily freed ranges now, with one simulated
 * TLB flush if there are any, as the machine's kernel purges them (6.18:
 * ranges of up to 256 pages that a vmap node asked for go to its pools,
 * a quarter of each pool decaying back to the free tree).  Page-table pages
 * stay: no kernel frees those of the vmalloc range. */
void vm_purge(struct vm_engine *e);

/* Pages the kernel vmallocs for the page array of an area of nr_pages
 * (nr_pages pointers of the layout's size; the array's own array too, if
 * that is longer than a page), 0 when the array fits a page.  Can't fail. */
uint64_t vm_page_array_pages(const struct vm_engine *e, uint64_t nr_pages);

/* ------------------------------------------------------------------------
 * Introspection.
 */
struct vm_zone_info {
	int node;
	enum vm_zone_type type;
	const char *name;            /* "DMA", "DMA32", "Normal", "HighMem", "Movable" */
	uint64_t start_pfn, end_pfn; /* [start, end) */
	uint64_t managed;            /* frames */
	uint64_t free;
	uint64_t wmark_min, wmark_low, wmark_high;
	uint64_t nr_free[VM_NR_ORDERS]; /* blocks per order */
};

struct vm_stats {
	uint64_t total_pages, free_pages;
	uint64_t high_total, high_free;     /* HighMem zones */
	uint64_t pagetable_pages;
	uint64_t vmalloc_start, vmalloc_end;
	uint64_t vmalloc_pages;             /* frames mapped by vmalloc areas */
	uint64_t vmap_pages;                /* frames mapped by vmap areas */
	uint64_t largest_free_kva;          /* bytes (VmallocChunk) */
	uint64_t nr_areas, nr_lazy_areas;
	uint64_t lazy_pages, lazy_max_pages;
	uint64_t nr_purges, nr_tlb_flushes;
	uint64_t nr_alloc_failures;
	uint64_t alloc_pages_pages;         /* frames held through vm_alloc_pages */
	unsigned nr_nodes;
	enum vm_layout layout;
	unsigned pt_levels;
	enum vm_kernel kernel;
	unsigned nr_cpus;
	unsigned nr_vmap_nodes;             /* 6.18: min(cpus, 128) on x86_64, else 1 */
	uint64_t nr_pooled_areas, pooled_pages; /* 6.18: KVA held in the vmap node pools */
	bool work_pending;                  /* deferred work (a purge) is queued */
	bool work_delayed;                  /* delayed work (kvfree_rcu's timer) is queued */
	uint64_t nr_vmap_blocks;            /* vm_map_ram's per-CPU vmap blocks */
	uint64_t vmap_block_pages;          /* VMAP_BBMAP_BITS: pages a block spans */
	uint64_t map_ram_pages;             /* frames mapped by vm_map_ram */
	uint64_t nr_pcpu_chunks, nr_pcpu_objects;
	uint64_t pcpu_unit_size;            /* bytes per CPU per chunk */
	uint64_t percpu_pages;              /* frames populated in per-CPU chunks */
	uint64_t nr_kvfree_rcu;             /* areas waiting for kvfree_rcu's grace period */
	uint64_t nr_bugs;                   /* the graded checks' findings (vm_debug_level) */
	uint64_t resident_pages;            /* frames holding bytes in host memory */
	uint64_t max_resident_pages;        /* the config's limit on them, 0: none */
};

void vm_get_stats(const struct vm_engine *e, struct vm_stats *ret_stats);
/* The page-table frames alone (vm_stats.pagetable_pages), cheaply: for
 * charging the tables a call made to whoever made it. */
uint64_t vm_pagetable_pages(const struct vm_engine *e);

/* Zones with frames, node by node, lowest zone first; fn as vm_for_each_area. */
typedef int vm_zone_fn(void *ctx, const struct vm_zone_info *zone);
int vm_for_each_zone(const struct vm_engine *e, vm_zone_fn *fn, void *ctx);

/* The physical map (lib/frame_map.c): what holds each frame, as page-types
 * reads /proc/kpageflags.  A free frame is classed by the order of the buddy
 * block it sits in (never-touched deferred blocks are order-10 blocks, as
 * buddyinfo counts them); a used one by its holder. */
enum vm_frame_class {
	VM_FC_FREE = 0,              /* VM_FC_FREE + order, order 0..VM_MAX_PAGE_ORDER */
	VM_FC_VMALLOC = VM_NR_ORDERS, /* a page of a vmalloc area */
	VM_FC_PGTABLE,               /* a page-table page */
	VM_FC_ALLOC_PAGES,           /* part of an alloc_pages block */
	VM_FC_PAGE_ARRAY,            /* a page of a vmalloc'd page array (VM_PAGE_ARRAY) */
	VM_NR_FRAME_CLASSES
};

/* Frames per cell so that [start_pfn, end_pfn) takes at most max_cells cells:
 * the smallest power of two that does (1 if max_cells is 0 or enough). */
uint64_t vm_frame_map_scale(uint64_t nr_frames, uint64_t max_cells);

/* Classify [start_pfn, end_pfn) in cells of frames_per_cell frames (the last
 * may be short): class[i] is the class holding most frames of cell i (ties:
 * the lower class), free256[i] its free frames in 256ths (0..255, 255 only
 * when all are free).  Cells number ceil((end - start) / frames_per_cell)
 * and both arrays must hold that many.  Cost: one step per free block and per
 * used frame of the range, plus one per page-array page of the machine;
 * never-touched memmap is not read.  -EINVAL for an empty or out-of-range
 * span or frames_per_cell 0, -ENOMEM if a scratch list cannot be had. */
int vm_frame_map(const struct vm_engine *e, uint64_t start_pfn, uint64_t end_pfn,
		 uint64_t frames_per_cell, uint8_t *class, uint8_t *free256);

/* The vmalloc range's map (lib/kva_map.c): every byte of it is in one
 * state. */
enum vm_kva_class {
	VM_KC_FREE = 0,   /* a hole: free KVA */
	VM_KC_VMALLOC,    /* a busy area's mapped pages (vmalloc, vrealloc) */
	VM_KC_VMAP,       /* a busy vmap area (or one without pages) */
	VM_KC_GUARD,      /* a busy area's guard page */
	VM_KC_LAZY,       /* freed, waiting for a purge */
	VM_KC_POOL,       /* 6.18: purged, held in a vmap node's pool */
	VM_NR_KVA_CLASSES
};

/* Classify [start, end) (inside the vmalloc range) in nbins
 * equal bins (the last takes the rest): class[i] the state holding most
 * bytes of bin i (ties: the lower), busy256[i] its non-free bytes in 256ths.
 * Cost: O(ranges log ranges + nbins).  -EINVAL for a bad span or nbins 0
 * or more bins than pages, -ENOMEM. */
int vm_kva_map(const struct vm_engine *e, uint64_t start, uint64_t end, uint64_t nbins,
	       uint8_t *class, uint8_t *busy256);

/* Text in the kernel's own formats.  Each call appends to *buf (a malloc'd,
 * NUL-terminated string, *buf NULL to start), *len tracking its length.
 * -ENOMEM leaves *buf as it was.  vmallocinfo with filter_uid set shows only
 * areas whose owner uid equals uid (the daemon's per-client view). */
int vm_show_vmallocinfo(struct vm_engine *e, bool filter_uid, uint32_t uid,
			char **buf, size_t *len);
int vm_show_meminfo(const struct vm_engine *e, char **buf, size_t *len);

/* The values of vm_show_meminfo(), in kB, as the machine's kernel computes
 * them (VmallocUsed is 0 on 4.19, VmallocChunk 0 on both); has_highmem says
 * whether the kernel prints the High and Low lines (CONFIG_HIGHMEM: i386). */
struct vm_meminfo {
	uint64_t mem_total, mem_free;
	bool has_highmem;
	uint64_t high_total, high_free, low_total, low_free;
	uint64_t page_tables, vmalloc_total, vmalloc_used, vmalloc_chunk;
};
void vm_get_meminfo(const struct vm_engine *e, struct vm_meminfo *ret);
int vm_show_buddyinfo(const struct vm_engine *e, char **buf, size_t *len);
int vm_show_unusable_index(const struct vm_engine *e, char **buf, size_t *len);
int vm_show_extfrag_index(const struct vm_engine *e, char **buf, size_t *len);

/* The kernel's fragmentation indices, in thousandths (1000 = 1.000), in
 * *ret_index: unusable_index in [0, 1000], extfrag_index in [-1000, 1000]
 * (-1000: a block of the order is free, so a failure would not be
 * fragmentation's).  -EINVAL for a NULL argument or an order above
 * VM_MAX_PAGE_ORDER, *ret_index untouched. */
int vm_unusable_index(const struct vm_zone_info *z, unsigned order, int *ret_index);
int vm_extfrag_index(const struct vm_zone_info *z, unsigned order, int *ret_index);

/* Walk every structure and check it: each frame free in exactly one buddy
 * block or owned; buddy blocks aligned and in their zone; every area's PTEs
 * match its pages, and its page array (a page-array area of its own when
 * larger than a page) is there and charged; the page tables; the counters;
 * and the kernel's own KVA structures (6.18: the augmented free tree, the
 * vmap nodes' pools and lazy lists; 4.19: the address-ordered list, the
 * free_vmap_cache hint), which with the busy ranges must tile the vmalloc
 * range.  0 if all holds, else -EUCLEAN with a description in msg.
 * O(frames + areas). */
int vm_check(struct vm_engine *e, char *msg, size_t msglen);

/* The graded checks this library was built with (meson -Ddebug_checks):
 * 0 none, 1 the cheap ones, 2 also vm_check() after every call that takes
 * a writable engine.  A finding is logged as "vmalloc bug: ..." at
 * VM_LOG_ERR and counted in vm_stats.nr_bugs.  Can't fail. */
unsigned vm_debug_level(void);

/* ------------------------------------------------------------------------
 * The state image (lib/state.c): the machine's whole metadata, saved and
 * loaded exactly, so that a restarted owner carries on with the same
 * machine.  The frames' bytes are not in it: they stay in the frames memfd,
 * which outlives the process when its owner keeps it (an fd store, a file).
 */

/* A writer for vm_engine_save: take len bytes; 0 or a negative errno (which
 * ends the save). */
typedef int vm_save_fn(void *ctx, const void *buf, size_t len);

/* Write the machine's whole metadata (not the frames' bytes: they stay in
 * the frames memfd) as a state image: magic, format version, the machine's
 * config (kernel, layout, memory, nodes, cpus, movable, lazy limit, page
 * policy, init_on_free), then sections each with its length and a CRC-32C.
 * Its size is proportional to what is used (areas, touched frames), not to
 * the machine's size.  Does not change the engine (frames released but
 * not yet punched out of the memfd are punched first, so that memfd and
 * image agree).  0, the writer's error, or -ENOMEM. */
int vm_engine_save(struct vm_engine *e, vm_save_fn *write, void *ctx);

/* The config recorded in an image (callbacks and max_resident_pages left as
 * in *ret_cfg), after checking magic, version and the header's checksum:
 * 0, -EBADMSG (not an image / corrupt), -EPROTONOSUPPORT (another format
 * version). */
int vm_state_config(const void *buf, size_t len, struct vm_config *ret_cfg);

/* Build a machine from an image and the memfd holding its frames' bytes
 * (frames_fd: the engine takes its own dup; the caller keeps its
 * descriptor).  cfg supplies the callbacks (log, resched) and
 * max_resident_pages; its machine fields must equal the image's, else
 * -EINVAL.  Every section is checked (lengths, checksums, every index and
 * pfn in range, lists well-formed) before it is trusted: a corrupt or
 * truncated image is -EBADMSG (logged through cfg->log, naming the
 * section), never a crash, and nothing is leaked.  The loaded engine passes
 * vm_check (run by the load itself on machines up to 2^25 frames) and
 * behaves exactly as the saved one would from then on.  The page tables
 * are written from the image into their frames once every section has
 * passed its checks (the same bytes unless the memfd has moved on since
 * the image).  -ENOMEM if the host refuses memory, -EBADF for a frames_fd
 * that is not a regular file of the machine's size or more, -EMFILE if it
 * cannot be duplicated. */
int vm_engine_load(const struct vm_config *cfg, int frames_fd, const void *buf, size_t len,
		   struct vm_engine **ret_engine);

/* CRC-32C (Castagnoli) of len bytes, continuing crc (0 to start):
 * vm_crc32c(vm_crc32c(0, a), b) is the CRC of a followed by b.  The state
 * image's checksum, offered for anything stored beside it.  Can't fail. */
uint32_t vm_crc32c(uint32_t crc, const void *buf, size_t len);

/* The memfd of the machine's frames (the engine keeps owning it; dup it to
 * keep it). */
int vm_engine_frames_fd(const struct vm_engine *e);

/* Replay mode: while on, the engine does not touch the frames' bytes (no
 * zeroing on allocation, scrubbing on free, hole punching, vrealloc copy,
 * per-CPU zeroing) and does no resident accounting; page-table frames are
 * still written.  Used to re-run journaled calls on top of a frames memfd
 * that already holds their outcome.  A frame that becomes a page table is
 * zeroed, what it held kept until the replay ends and given back if a
 * failing call frees the table again.  Reads ask the memfd which frames
 * hold bytes.  Can't fail; NULL is fine. */
void vm_set_replay(struct vm_engine *e, bool on);

/* Host-memory refusals, made the same in a replay.  Whether a call finds
 * room for resident frames (max_resident_pages) depends on the frames'
 * bytes, which replay mode does not track; so the run tells which of a
 * call's reservations were refused, and the replay of that call refuses
 * exactly those.  vm_resident_mark() starts numbering the reservations of
 * the calls that follow from 0 (and forgets a replay list).
 * vm_resident_refusals(): the numbers of those refused since, ascending,
 * in *ret_list (the engine's, valid until the next call) and *ret_nr; 0, or
 * -E2BIG when more than VM_REFUSALS_MAX were refused (the first ones are
 * listed), -EINVAL for NULL.  vm_replay_refusals(): in replay mode, the
 * reservations numbered in list (ascending; kept by reference until the
 * next mark) are refused and the others granted, numbered from 0 again;
 * 0 or -EINVAL (NULL, too many, not ascending). */
#define VM_REFUSALS_MAX 16
void vm_resident_mark(struct vm_engine *e);
int vm_resident_refusals(const struct vm_engine *e, const uint32_t **ret_list, uint32_t *ret_nr);
int vm_replay_refusals(struct vm_engine *e, const uint32_t *list, uint32_t nr);

/* After a replay: each frame's PG_dirty and resident_pages re-derived from
 * the memfd's data extents (lseek SEEK_DATA/SEEK_HOLE, or for a memfd
 * without holes support every owned frame resident).  Bytes in a frame
 * never handed out (still deferred), or with init_on_free in a frame that
 * nothing owns, are punched; without init_on_free a free frame keeps its
 * bytes (and stays resident), as before the restart.  0, -EINVAL, or the
 * negative errno of lseek. */
int vm_reconcile_resident(struct vm_engine *e);

/* Names for printing. */
const char *vm_layout_name(enum vm_layout layout);
int vm_layout_from_name(const char *name, enum vm_layout *ret_layout);
const char *vm_kernel_name(enum vm_kernel kernel);       /* "6.18", "4.19", "?" */
int vm_kernel_from_name(const char *name, enum vm_kernel *ret_kernel);

/* What the kernel's lib/test_vmalloc.c has (bits of run_test_mask), for the
 * ports of it: the cases, run_test_mask's default, the cases expected to
 * fail, and whether its Summary line prints "xfailed:".  4.19 had no such
 * module; its entry is the first module's (5.1), which measured the same
 * allocator.  NULL for an unknown kernel. */
struct vm_test_vmalloc_desc {
	uint32_t cases;
	uint32_t default_mask;
	uint32_t xfail;
	bool summary_xfailed;
};
const struct vm_test_vmalloc_desc *vm_kernel_test_vmalloc(enum vm_kernel kernel);
const char *vm_zone_name(enum vm_zone_type type);

#ifdef __cplusplus
}
#endif

#endif /* VMCORE_H */
