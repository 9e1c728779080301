/* replay.h -- replaying a trace's events on a vmalloc implementation.
 *
 * The replay turns each event into a call on a machine reached through a
 * table of operations (struct vt_backend): the engine in process (vmreplay)
 * or vmallocd through its protocol.  Everything the report says is counted
 * here, from the calls and their results, or asked of the backend in
 * backend-neutral terms (struct vt_machine_state), so two tools replaying
 * the same trace on the same machine print the same report.  Nothing here
 * includes lib/: a client that never links the engine can use it.
 *
 * Keys.  An event names objects by the trace's keys (addresses, pfns, block
 * ids); the replay keeps key -> (its own address, pages) for each live
 * object, in memory that follows the live objects, not the trace.
 *   - a free of a key the replay does not hold is "unmatched" (an area from
 *     before the capture): counted, not replayed, not an error; the free of
 *     an object whose allocation failed in the replay is counted apart;
 *   - an allocation at a key still live means the trace missed its free:
 *     the replay frees the old object first and counts an "implicit free";
 *   - alloc_vmap_area attempts that failed (failed=1: the kernel purges and
 *     retries, and the retry is its own event) and calls that failed in the
 *     trace are counted, not replayed.
 *
 * Placement.  For each allocation with a trace address that the replay also
 * satisfied, the difference from the previous such allocation is compared
 * in the trace and in the replay: "placement: N of M consecutive deltas
 * agree".
 *
 * The start state.  With opts.start (prestate.h), the replay first builds
 * the state the traced kernel was in when its capture began: the plan's
 * calls come out of prepare (or are made by vt_replay_event) before the
 * first event's, marked start; the areas from before that the trace frees
 * are then held under their trace keys like any other.
 *
 * CPUs.  The trace's CPU c runs on the machine's CPU c % nr_cpus.
 *
 * Two ways to drive it:
 *   vt_replay_event()   the event's calls, one after the other, through
 *                       the backend's functions (in process);
 *   vt_replay_prepare() + vt_replay_complete()   the caller makes the calls
 *                       itself, e.g. pipelined over a socket: prepare gives
 *                       the next call, complete records its result, in the
 *                       order prepared.  -EBUSY from prepare means the event
 *                       needs the result of a call still in flight: complete
 *                       those first, then prepare the same event again.
 */
#ifndef VT_REPLAY_H
#define VT_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "keymap.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_PAGE_SIZE     4096ull
#define VT_NR_ORDERS     11            /* MAX_PAGE_ORDER 10 */
#define VT_MAX_ZONES     320           /* 64 nodes x 5 zones */
#define VT_KEEP_FAILURES 5             /* failures described in the report */
#define VT_KEEP_ERRNOS   8             /* distinct errors counted */

/* One area to make: __vmalloc_node_range's arguments. */
struct vt_alloc_req {
	uint64_t size;          /* bytes, the guard page not included */
	uint64_t align;         /* bytes, a power of two; 0: a page */
	uint64_t start, end;    /* the KVA window [start, end); 0, 0: the whole range */
	uint32_t gfp;           /* vmallocd's gfp flags (vmclient.h) */
	uint32_t vm_flags;      /* VM_* (the backend keeps those it may pass) */
	int node;               /* -1: any */
	const char *caller;     /* NULL: none */
};

struct vt_zone_state {
	int node;
	char name[12];                  /* "DMA", "DMA32", "Normal", "HighMem", "Movable" */
	uint64_t managed, free;         /* pages */
	uint64_t nr_free[VT_NR_ORDERS]; /* free blocks per order, as buddyinfo */
	int unusable[VT_NR_ORDERS];     /* unusable_index, thousandths */
	int extfrag[VT_NR_ORDERS];      /* extfrag_index, thousandths (-1000: n/a) */
};

/* The machine, as a backend reports it. */
struct vt_machine_state {
	uint64_t vmalloc_start, vmalloc_end;   /* [start, end) */
	uint64_t total_pages, free_pages;
	uint64_t vmalloc_pages;         /* pages mapped by vmalloc areas (VmallocUsed) */
	uint64_t pagetable_pages;
	uint64_t largest_free_kva;      /* bytes */
	uint64_t kva_extent;            /* bytes from vmalloc_start to the end of the highest area */
	uint64_t lazy_pages, lazy_max_pages;
	uint64_t pooled_pages;          /* 6.18: KVA pages in the vmap nodes' pools */
	uint64_t nr_purges, nr_tlb_flushes;
	unsigned nr_cpus;               /* simulated CPUs (0: unknown, taken as 1) */
	unsigned nr_vmap_nodes;         /* 6.18's vmap nodes; more than one: size pools */
	unsigned nr_zones;              /* zones[] filled only when asked for */
	struct vt_zone_state zones[VT_MAX_ZONES];
};

/* Every function returns 0 or a negative errno, like the engine's. */
struct vt_backend {
	void *ctx;
	int (*alloc)(void *ctx, const struct vt_alloc_req *req, uint64_t *ret_addr);
	int (*free)(void *ctx, uint64_t addr);
	/* vrealloc: addr 0 allocates; size 0 frees (and gives 0). */
	int (*realloc)(void *ctx, uint64_t addr, uint64_t size, uint32_t gfp, uint64_t *ret_addr);
	int (*alloc_pages)(void *ctx, uint32_t gfp, unsigned order, int node, uint64_t *ret_pfn);
	int (*free_pages)(void *ctx, uint64_t pfn, unsigned order);
	/* Leave pages of KVA lazily freed (--warm), where first fit looks last
	 * (the top of the range), so that only the purge timing changes. */
	int (*seed_lazy)(void *ctx, uint64_t pages);
	/* The machine now; zones[] too if with_zones. */
	int (*state)(void *ctx, bool with_zones, struct vt_machine_state *ret_state);
	/* Optional (NULL: the machine has no notion of CPUs): the CPU the
	 * next call runs on, the traced event's, called before each call of
	 * an event that names its CPU. */
	int (*set_cpu)(void *ctx, unsigned cpu);
	/* Optional, for the start state (NULL: it cannot be built): purge the
	 * lazily freed ranges now (vm_unmap_aliases); hold kva_pages of KVA,
	 * guard included (2 to 65536), at the lowest fit of the whole range
	 * without pages of its own (a vmap of one shared frame), and give it
	 * back (vunmap). */
	int (*purge)(void *ctx);
	int (*reserve)(void *ctx, uint64_t kva_pages, uint64_t *ret_addr);
	int (*unreserve)(void *ctx, uint64_t addr);
};

enum vt_call_kind {
	VT_CALL_ALLOC,
	VT_CALL_FREE,
	VT_CALL_REALLOC,
	VT_CALL_ALLOC_PAGES,
	VT_CALL_FREE_PAGES,
	VT_CALL_SEED_LAZY,
	VT_CALL_RESERVE,        /* start state: addr = KVA pages */
	VT_CALL_UNRESERVE,      /* addr: the hold */
	VT_CALL_PURGE,
};

/* One call of the backend, prepared from an event, and what completing it
 * needs to know. */
struct vt_call {
	enum vt_call_kind kind;
	struct vt_alloc_req req;        /* ALLOC; REALLOC: size, gfp */
	uint64_t addr;                  /* FREE, REALLOC: the replay's address; FREE_PAGES: pfn;
					 * SEED_LAZY: pages */
	unsigned order;                 /* *_PAGES */
	bool implicit;                  /* a free the trace missed, before event i */
	bool start;                     /* a call of the start state (prestate.h) */
	uint32_t range;                 /* start: the plan's range */
	/* The event's part. */
	uint64_t i;                     /* index of the event in the trace, from 0 */
	uint64_t line;
	int32_t cpu;                    /* the machine's CPU for the trace's, -1 unknown */
	enum vt_op op;
	uint32_t ev_flags;
	uint64_t key, new_key;          /* the trace's keys (new_key: REALLOC result) */
	uint64_t size, align;           /* as the trace gave them */
	uint64_t pages;                 /* FREE, REALLOC: pages the old object held */
	uint32_t kva_pages;             /* ALLOC: KVA pages the trace says it took */
};

struct vt_failure {
	uint64_t i, line;
	enum vt_op op;
	uint64_t size;
	int err;                        /* negative errno */
	char caller[64];
};

struct vt_replay_stats {
	uint64_t events;                /* consumed */
	uint64_t by_op[VT_NR_OPS];      /* consumed, by kind */
	uint64_t calls;                 /* backend calls made */
	uint64_t failures;              /* calls that failed */
	struct { int err; uint64_t count; } errnos[VT_KEEP_ERRNOS];
	unsigned nr_errnos;
	struct vt_failure first[VT_KEEP_FAILURES];
	unsigned nr_first;
	uint64_t failed_attempts;       /* alloc_vmap_area failed=1, not replayed */
	uint64_t trace_failed;          /* calls that failed in the trace, not replayed */
	uint64_t unmatched_frees;       /* free, realloc or page free of an unknown key */
	uint64_t failed_frees;          /* frees of objects the replay failed to make */
	uint64_t implicit_frees;
	uint64_t outside_window;        /* windows outside the machine's range (the whole range used) */
	uint64_t placement_pairs, placement_agree;
	uint64_t live_areas, peak_areas;
	uint64_t live_pages, peak_pages;        /* pages of the replay's vmalloc areas */
	uint64_t live_page_blocks, page_block_pages; /* alloc_pages blocks held, their pages */
	uint64_t warm_pages;            /* lazy pages seeded by --warm */
	uint64_t warm_wanted;           /* lazy pages --warm tried to seed */
	int warm_err;                   /* why seeding failed, or 0 */
	bool warmed;
	uint64_t trace_nr_lazy_max;     /* from the first event that had it */
	/* The start state (opts.start). */
	bool started;                   /* its plan has been run */
	uint64_t start_calls, start_failures;
	int start_err;                  /* the first failure's error */
	uint64_t start_misplaced;       /* ranges not where the plan put them */
	uint64_t start_frees;           /* frees of areas from before that it placed */
	uint64_t start_purges, start_flushes;   /* the machine's once it was built */
};

struct vt_prestate;

struct vt_replay_opts {
	bool warm;                      /* seed the lazy backlog from the first free's nr_lazy */
	const struct vt_prestate *start;/* build this start state first (it must outlive the
					 * replay); the backlog is its, so warm is ignored */
};

struct vt_replay;

/* Hook called for each completed call that replays an event (not seeds,
 * start-state calls or implicit frees), in order; status 0 or negative errno, result the address
 * or pfn the call gave (0 if none). */
typedef void vt_result_fn(void *ctx, const struct vt_call *call, int status, uint64_t result);

/* A replay on backend b (which must outlive it).  Asks b for its state to
 * learn the vmalloc range.  -ENOMEM, or the backend's error. */
int vt_replay_new(const struct vt_backend *b, const struct vt_replay_opts *opts,
		  struct vt_replay **ret_replay);
void vt_replay_free(struct vt_replay *rp);

void vt_replay_set_hook(struct vt_replay *rp, vt_result_fn *fn, void *ctx);

/* Replay one event in process: 0, or -ENOMEM (the replay's own memory; the
 * event is then not replayed).  Failed calls are counted, not returned. */
int vt_replay_event(struct vt_replay *rp, const struct vt_event *ev);

/* The next call for ev: 1 a call in *ret_call, then prepare ev again;
 * 2 a call in *ret_call, the event's last; 0 nothing to call (the event
 * is accounted for); -EBUSY (see above); -ENOMEM.  ev must stay the same
 * event until prepare gives 0 or 2. */
int vt_replay_prepare(struct vt_replay *rp, const struct vt_event *ev, struct vt_call *ret_call);
/* The result of a prepared call.  Can't fail. */
void vt_replay_complete(struct vt_replay *rp, const struct vt_call *call, int status,
			uint64_t result);

/* Build the start state now (opts.start), in process: 0 once it is built
 * (failed calls are counted, not returned), or the backend's error from
 * asking for its state.  Does nothing without a start state or once built. */
int vt_replay_build_start(struct vt_replay *rp);
/* The same for a pipelined caller: 1 with the next call of the start
 * state in *ret_call (complete it with vt_replay_complete), 0 once it is
 * built, -EBUSY while a call it needs is in flight, or the backend's error
 * from asking for its state (the plan's last step, with nothing in flight). */
int vt_replay_prepare_start(struct vt_replay *rp, struct vt_call *ret_call);

/* Take what building the start state did off the machine's counters (its
 * purges and TLB flushes), so that m says what the replay did.  Can't
 * fail. */
void vt_replay_own_counts(const struct vt_replay *rp, struct vt_machine_state *m);

/* The seed of lazily freed KVA (--warm, the start state's backlog), as
 * every backend makes it: vmallocs in the window of the top `total` pages
 * of the range [vmalloc_start, vmalloc_end), each of at most VT_SEED_CHUNK
 * pages of KVA (its page array fits a page, so it is one area), each freed
 * at once.  *left starts at total: 1 with the next allocation in *ret_req
 * (the backend then frees it), 0 when done, -ERANGE if total exceeds the
 * range. */
#define VT_SEED_CHUNK 512
int vt_seed_next(uint64_t vmalloc_start, uint64_t vmalloc_end, uint64_t total, uint64_t *left,
		 struct vt_alloc_req *ret_req);

const struct vt_replay_stats *vt_replay_stats(const struct vt_replay *rp);
const struct vt_machine_state *vt_replay_initial(const struct vt_replay *rp);

#ifdef __cplusplus
}
#endif

#endif /* VT_REPLAY_H */
