/* prestate.h -- the state the traced kernel's vmalloc space was in when the
 * capture began, inferred from the whole trace, and the plan of ordinary
 * calls that builds that state on a fresh machine before the replay.
 *
 * Why: a capture starts in the middle of a kernel's life.  Its first
 * allocations are served from vmap-node pools and free-tree holes that were
 * filled before it began, and its frees name areas made before it.  A fresh
 * simulated machine has empty pools and one free range, so without a start
 * state it places the first hundreds of allocations elsewhere, whatever the
 * algorithm.  The inference reads the trace once, before the replay, and
 * concludes (docs/trace-formats.md, "The start state", says it in full):
 *
 *   busy     an area the trace frees but never allocated was alive at the
 *            start, at that address, of the size the free's nr_lazy step
 *            says (ftrace and the bpftrace tracepoints report nr_lazy);
 *   first    a range the trace allocates before any free of it in the
 *            trace was available at the start: in the pool of the node of
 *            the CPU that took it (6.18 with several CPUs, a whole-range
 *            request of at most 256 pages), when the allocations of that
 *            node and size go down in address (a pool hands out its most
 *            recently purged range first, in descending order), or when
 *            it lies below the free tree's reach (an earlier allocation of
 *            the same epoch that the free tree served above it, and that
 *            would have fit in it: within an epoch the free tree only
 *            shrinks, and its lowest fit from VMALLOC_START would have
 *            taken it); otherwise in the free tree (lowest first fit goes
 *            up).  A range first
 *            taken after the trace's k-th purge from the batch that purge
 *            made was lazily freed at the start (tagged with its node);
 *            one taken from the free tree after a purge, below where an
 *            earlier free-tree allocation of its size went, was lazily
 *            freed too (untagged); other ranges first taken after a purge
 *            sat in the pool or the free tree from the start;
 *   blocked  every other page below the highest such range was busy (the
 *            trace shows nothing free there, and a lowest-fit search that
 *            passed over it says it was not);
 *   backlog  the first free's nr_lazy, less its own pages and the lazy
 *            ranges above, were lazily freed pages elsewhere (--warm).
 * Pool order: a pool's ranges are handed out in the order the trace took
 * them; a run that goes down is one purge's batch.  Each of the trace's
 * purges decays a quarter of a pool from its head, so before the ranges a
 * pool still hands out after its k-th purge the plan puts as many ranges
 * (above everything else) as that decay must have taken, which is the least
 * the pool can have held.
 *
 * Honesty: the state is inferred from the whole trace (as a person reading
 * it would), and built only through the machine's ordinary calls
 * (__vmalloc_node_range with and without a window on a chosen CPU, vfree,
 * a vmap of one shared frame to hold KVA without pages, vunmap, purge):
 * nothing writes the engine's structures.  Once it is built, every event
 * is replayed by the machine's own algorithm with no further help.
 *
 * The plan: (1) allocate, in address order from the bottom of the range,
 * every range below the highest one (blockers for the gaps, each range by
 * lowest fit, on its node's CPU when it must go to a pool), the areas from
 * before above that with a window, then the decay ranges above everything;
 * (2) free the free-tree ranges, then each pool's batches, last handed out
 * first, one purge per batch; (3) free the lazily freed ranges; (4) seed the
 * rest of the backlog at the top of the range.
 */
#ifndef VT_PRESTATE_H
#define VT_PRESTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "reader.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vt_machine_state;

/* What the replay needs to know of the machine to plan for it. */
struct vt_prestate_machine {
	uint64_t vmalloc_start, vmalloc_end;    /* [start, end) */
	unsigned nr_cpus;                       /* the trace's CPU c runs on c % nr_cpus */
	unsigned nr_vmap_nodes;                 /* 6.18: min(cpus, 128); more than 1: pools */
	uint64_t total_pages;                   /* frames: the largest hold maps fewer */
};

/* What the start state holds, for the report. */
struct vt_prestate_stats {
	uint64_t scanned;               /* events read by the inference */
	uint64_t busy, busy_pages;      /* areas from before that the trace frees, placed */
	uint64_t busy_unknown;          /* unmatched frees of an unknown size: not placed */
	uint64_t pooled, pooled_pages;  /* ranges put in the pools */
	uint64_t lazy, lazy_pages;      /* ranges lazily freed at the start */
	uint64_t holes, hole_pages;     /* ranges left in the free tree */
	uint64_t blocked_pages;         /* KVA held busy (no pages) below the highest range */
	uint64_t blockers;              /* the areas that hold it */
	uint64_t decay;                 /* ranges put at the pools' heads for the decays */
	unsigned batches;               /* purges the plan makes to order the pools */
	uint64_t backlog_pages;         /* lazy pages seeded at the top (the first nr_lazy's rest) */
	uint64_t conflicts;             /* ranges dropped: overlapping one already placed */
	uint64_t outside;               /* trace addresses outside the machine's vmalloc range */
	bool capped;                    /* more ranges than VT_PRESTATE_MAX_RANGES: the rest left out */
	bool partial;                   /* the trace stopped early (an error): inferred from its start */
	uint64_t top;                   /* end of the highest range placed from the bottom */
};

#define VT_PRESTATE_MAX_RANGES (1u << 20)

/* What a range of the start state is. */
enum vt_ps_kind {
	VT_PS_BLOCKER,          /* KVA busy at the start, nothing known of it: held */
	VT_PS_BUSY,             /* an area from before that the trace frees */
	VT_PS_POOL,             /* a range in a vmap node's pool */
	VT_PS_LAZY_TAGGED,      /* lazily freed at the start, of a node (a pool after a purge) */
	VT_PS_LAZY,             /* lazily freed at the start, untagged (the free tree after one) */
	VT_PS_HOLE,             /* free in the free tree */
	VT_PS_DECAY,            /* at a pool's head for one of the trace's decays */
	VT_PS_BATCH_DECAY,      /* at a pool's head for the decay of the plan's next purge */
};

/* One call of the plan. */
enum vt_ps_op {
	VT_PS_ALLOC,            /* __vmalloc_node_range: the whole range on cpu, or the window */
	VT_PS_RESERVE,          /* hold kva_pages of KVA at the lowest fit (a vmap) */
	VT_PS_FREE,             /* vfree the range's area */
	VT_PS_UNRESERVE,        /* vunmap the range's hold */
	VT_PS_PURGE,            /* purge the lazily freed ranges now */
	VT_PS_SEED,             /* seed kva_pages of lazily freed KVA at the top */
	VT_PS_BARRIER,          /* what follows needs every result so far */
};

struct vt_ps_step {
	enum vt_ps_op op;
	uint32_t range;         /* index into the ranges (not for PURGE, SEED, BARRIER) */
};

/* One range of the start state: where it goes and how it is made. */
struct vt_ps_range {
	uint64_t addr;          /* where it must land; 0 for a decay range (lowest fit) */
	uint64_t kva_pages;     /* guard page included */
	uint64_t key;           /* busy: the trace's key, registered for its free */
	int cpu;                /* the CPU to allocate on (whole range), -1: a window */
	uint8_t kind;           /* enum vt_ps_kind */
	bool reserve;           /* made with VT_PS_RESERVE: a hold without pages */
};

struct vt_prestate;

/* Read every event of r (a reader of its own, at the start of the trace)
 * and infer the start state for machine m.  A reader error (a malformed
 * line, a signal) ends the reading as the end of the trace would, and is
 * noted in the stats (partial): the replay stops there too.  0 or -ENOMEM,
 * -EINVAL for a NULL argument.  progress, if not NULL, is called every
 * 65536 events with the number read. */
int vt_prestate_scan(struct vt_reader *r, const struct vt_prestate_machine *m,
		     void (*progress)(void *ctx, uint64_t events), void *progress_ctx,
		     struct vt_prestate **ret_ps);
void vt_prestate_free(struct vt_prestate *ps);

const struct vt_prestate_stats *vt_prestate_stats(const struct vt_prestate *ps);
/* The plan: n steps over the ranges. */
const struct vt_ps_step *vt_prestate_steps(const struct vt_prestate *ps, uint64_t *ret_n);
const struct vt_ps_range *vt_prestate_ranges(const struct vt_prestate *ps, uint64_t *ret_n);

/* The machine a replay runs on, as the plan needs it. */
void vt_prestate_machine_of(const struct vt_machine_state *m, struct vt_prestate_machine *ret);

#ifdef __cplusplus
}
#endif

#endif /* VT_PRESTATE_H */
