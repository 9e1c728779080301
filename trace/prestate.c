/* prestate.c -- the start state of a capture, inferred from the whole trace
 * (the scan), and the plan of calls that builds it (prestate.h says what is
 * concluded and why).
 *
 * The scan keeps, in memory that follows the trace's live areas and the KVA
 * it touches (not its length):
 *   live     the trace's areas allocated in it and not yet freed, with
 *            their KVA pages (a free's size);
 *   freed    the pages freed in the trace so far: a range none of whose
 *            pages is in it is taken for the first time ("first");
 *   placed   the pages of the ranges kept for the start state: a range
 *            overlapping one of them is a conflict and is dropped;
 *   groups   per (node, KVA pages, epoch) the order in which the trace took
 *            ranges: where it last went down (the end of the pool's part)
 *            and first went up (the end of the purge's own batch), and the
 *            highest address taken after the last descent (the free tree's
 *            reach), an epoch being the events between two purges;
 *   takes    the current epoch's allocations that say where the free
 *            tree's lowest fit had reached, or may lie below that (pool
 *            ranges), read at the epoch's end (settle_epoch) and dropped:
 *            within an epoch every allocation takes KVA that nothing frees
 *            before the next purge, so they follow the KVA too.
 * Invariant between events: every first range kept is in placed,
 * ranges.nr == first + busy ranges kept <= VT_PRESTATE_MAX_RANGES, and
 * takes holds allocations of the current epoch only, in trace order.
 *
 * The plan (vt_ps_step over vt_ps_range) is made once the scan has read the
 * last event; the replay runs it before the first event (replay.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keymap.h"
#include "pageset.h"
#include "prestate.h"
#include "replay.h"

#define PAGE_SHIFT      12
#define POOL_MAX_PAGES  256     /* 6.18's MAX_VA_SIZE_PAGES: larger ranges skip the pools */
#define WINDOW_MAX_PAGES 512    /* KVA pages whose page array fits a page: one area */
#define RESERVE_MAX_PAGES 65536 /* KVA of one hold: a frame is mapped at most 65535 times */
#define DECAY_MAX       1024    /* decay ranges per pool, at most */
#define BATCHES_MAX     256     /* purges to order the pools, at most */
#define BATCH_DECAY_MAX 65536   /* ranges for the decays of those purges, at most (else none) */
#define NONE            UINT32_MAX


struct group {
	int node;               /* -1: not a pool's (a window, a large range, one node) */
	uint32_t epoch;
	uint64_t k;             /* KVA pages */
	uint32_t count;         /* ranges taken */
	uint32_t first_ascent;  /* index of the first step up, NONE */
	uint32_t last_desc;     /* index of the last step down, 0: none */
	uint32_t run_start;     /* index where the current run of steps up began */
	uint32_t double_ascent; /* index where two steps up in a row first began, NONE */
	uint64_t prev;          /* the last address taken */
	uint64_t max_after_desc;/* highest address taken after the last step down */
	uint64_t max_from_double; /* highest address taken from double_ascent on */
};

/* Where a group's free-tree part begins: a pool hands out descending runs
 * (each purge's batch highest first), the free tree's lowest fit climbs.
 * So the pool's part ends at the first two steps up in a row, or after the
 * last step down, whichever comes first; without a step down there is no
 * pool part at all.  The shape alone cannot tell whether the bottom of a
 * descent that a climb follows was the pool's last range or the free
 * tree's first: it counts as the free tree's here, and the free tree's
 * reach (settle_epoch) moves it to the pool where the trace says so. */
static uint32_t free_start(const struct group *g)
{
	if (g->node < 0 || g->last_desc == 0)
		return 0;
	return g->double_ascent <= g->last_desc ? g->double_ascent : g->last_desc + 1;
}

/* The highest address of a group's free-tree part (0: none). */
static uint64_t free_max(const struct group *g)
{
	if (g->node < 0 || g->last_desc == 0)
		return g->max_after_desc;
	return g->double_ascent <= g->last_desc ? g->max_from_double : g->max_after_desc;
}

struct first {
	uint32_t range;         /* its vt_ps_range */
	uint32_t group, idx;    /* its group and place in it */
	uint32_t epoch;
	bool below;             /* under the free tree's reach when taken: not in the free tree */
};

/* An area from before that the trace takes again after freeing it: its
 * first allocation after the free, by group and place. */
struct retaken {
	uint32_t range;
	uint32_t group, idx;
	bool below;             /* as a first's */
};

/* An allocation of the current epoch that may say where the free tree's
 * lowest fit had reached (a whole-range request: the search starts at
 * VMALLOC_START) or ask whether a pool's range lay below that (a first or
 * retaken range of a pool's size). */
struct take {
	uint64_t addr, k;
	uint64_t fit;           /* the pages a free range needs for this search to find it; 0: a window */
	uint32_t group, idx;
	uint32_t first, retaken;        /* index in firsts / retaken, NONE */
};

struct vt_prestate {
	struct vt_prestate_machine m;
	struct vt_prestate_stats st;
	/* The scan. */
	struct vt_keymap live;
	struct vt_pageset freed, placed;
	struct group *groups;
	uint32_t nr_groups, cap_groups;
	uint32_t *ghash;        /* group index + 1, 0 empty; 2 x cap_groups slots */
	uint32_t ghash_mask;
	struct first *firsts;
	uint32_t nr_firsts, cap_firsts;
	struct vt_keymap busy_keys;     /* address -> range + 1 of an area from before, until taken again */
	struct retaken *retaken;
	uint32_t nr_retaken, cap_retaken;
	struct take *takes;     /* this epoch's, in trace order */
	uint32_t nr_takes, cap_takes;
	bool takes_full;        /* VT_PRESTATE_MAX_RANGES of them: the rest of the epoch unread */
	uint32_t epoch;
	unsigned last_cpu;
	bool have_lazy, purge_since, first_free_seen;
	uint64_t prev_lazy, first_nr_lazy, first_own;
	/* The result. */
	struct vt_ps_range *ranges;
	uint32_t nr_ranges, cap_ranges;
	struct vt_ps_step *steps;
	uint64_t nr_steps, cap_steps;
};

/* ---- small tables ------------------------------------------------------------ */

static int grow(void **p, uint32_t *cap, size_t size, uint32_t need)
{
	uint32_t n = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, (size_t)n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

static int add_range(struct vt_prestate *ps, const struct vt_ps_range *r, uint32_t *ret)
{
	int e = grow((void **)&ps->ranges, &ps->cap_ranges, sizeof(*r), ps->nr_ranges + 1);

	if (e < 0)
		return e;
	ps->ranges[ps->nr_ranges] = *r;
	*ret = ps->nr_ranges++;
	return 0;
}

static int add_step(struct vt_prestate *ps, enum vt_ps_op op, uint32_t range)
{
	if (ps->nr_steps == ps->cap_steps) {
		uint64_t n = ps->cap_steps ? ps->cap_steps * 2 : 256;
		struct vt_ps_step *s = realloc(ps->steps, n * sizeof(*s));

		if (!s)
			return -ENOMEM;
		ps->steps = s;
		ps->cap_steps = n;
	}
	ps->steps[ps->nr_steps++] = (struct vt_ps_step){ .op = op, .range = range };
	return 0;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	x ^= x >> 27;
	return x;
}

static uint64_t group_hash(int node, uint64_t k, uint32_t epoch)
{
	return mix(((uint64_t)(uint32_t)(node + 1) << 32 | epoch) ^ mix(k));
}

/* The group of (node, k, epoch), made if new; NONE without memory. */
static uint32_t group_of(struct vt_prestate *ps, int node, uint64_t k, uint32_t epoch)
{
	uint32_t i, g;

	for (i = ps->ghash ? (uint32_t)group_hash(node, k, epoch) & ps->ghash_mask : 0;
	     ps->ghash && ps->ghash[i]; i = (i + 1) & ps->ghash_mask) {
		struct group *gr = &ps->groups[ps->ghash[i] - 1];

		if (gr->node == node && gr->k == k && gr->epoch == epoch)
			return ps->ghash[i] - 1;
	}
	if (grow((void **)&ps->groups, &ps->cap_groups, sizeof(*ps->groups), ps->nr_groups + 1) < 0)
		return NONE;
	if (!ps->ghash || (ps->nr_groups + 1) * 2 > ps->ghash_mask + 1) {
		uint32_t n = ps->ghash ? (ps->ghash_mask + 1) * 2 : 256;
		uint32_t *h = calloc(n, sizeof(*h));

		if (!h)
			return NONE;
		for (g = 0; g < ps->nr_groups; g++) {
			const struct group *gr = &ps->groups[g];

			for (i = (uint32_t)group_hash(gr->node, gr->k, gr->epoch) & (n - 1); h[i];
			     i = (i + 1) & (n - 1))
				;
			h[i] = g + 1;
		}
		free(ps->ghash);
		ps->ghash = h;
		ps->ghash_mask = n - 1;
	}
	g = ps->nr_groups++;
	ps->groups[g] = (struct group){ .node = node, .epoch = epoch, .k = k,
					 .first_ascent = NONE, .double_ascent = NONE };
	for (i = (uint32_t)group_hash(node, k, epoch) & ps->ghash_mask; ps->ghash[i];
	     i = (i + 1) & ps->ghash_mask)
		;
	ps->ghash[i] = g + 1;
	return g;
}

/* ---- the scan ------------------------------------------------------------------ */

static bool in_range(const struct vt_prestate *ps, uint64_t addr, uint64_t k)
{
	uint64_t bytes = k << PAGE_SHIFT;

	return k && k < (1ull << 40) && addr >= ps->m.vmalloc_start && addr < ps->m.vmalloc_end &&
	       ps->m.vmalloc_end - addr >= bytes;
}

static int mark_freed(struct vt_prestate *ps, uint64_t addr, uint64_t k)
{
	return vt_pageset_add(&ps->freed, addr >> PAGE_SHIFT, k ? k : 1);
}

/* The pages a free range must have for 6.18's lowest-fit search from
 * VMALLOC_START to find it for a request of k pages aligned to align bytes:
 * k, and for an alignment above a page the search asks for a block of
 * size + align - 1 (it walks past smaller ones). */
static uint64_t fit_pages(uint64_t k, uint64_t align)
{
	return align > VT_PAGE_SIZE ? k + (align - 1 + VT_PAGE_SIZE - 1) / VT_PAGE_SIZE : k;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* How many of the n ascending values v[] are at most x. */
static uint32_t count_upto(const uint64_t *v, uint32_t n, uint64_t x)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The end of the current epoch (a purge, or the end of the trace): every
 * group of it is complete, so which of its allocations came from the free
 * tree is known, and what they say of the ranges the pools handed out.
 *
 * Within an epoch nothing returns to the free tree (a free is lazy until
 * the next purge), so the free tree only shrinks.  A whole-range request
 * the free tree served at A, needing a free range of f pages, says that
 * every free range of at least f pages lay at or above A then, and so for
 * the rest of the epoch.  A range of k >= f pages that the trace takes
 * later in the epoch, ending at or below A, was therefore not in the free
 * tree: it came from its node's pool, even where the order of its group
 * alone (a descent's last range followed by a climb) would make it the
 * free tree's first.  Left there, it would take the earlier allocations
 * that the kernel served above it. */
static int settle_epoch(struct vt_prestate *ps)
{
	uint64_t *fits = NULL, *reach = NULL;
	uint32_t n = 0, i, j;
	int r = 0;

	for (i = 0; i < ps->nr_takes; i++)
		n += ps->takes[i].fit != 0;
	if (n) {
		fits = malloc(n * sizeof(*fits));
		reach = calloc(n + 1, sizeof(*reach));
		if (!fits || !reach) {
			r = -ENOMEM;
			goto out;
		}
		n = 0;
		for (i = 0; i < ps->nr_takes; i++)
			if (ps->takes[i].fit)
				fits[n++] = ps->takes[i].fit;
		qsort(fits, n, sizeof(*fits), cmp_u64);
		for (i = 1, j = 1; i < n; i++)
			if (fits[i] != fits[j - 1])
				fits[j++] = fits[i];
		n = j;
	}
	/* reach[] is a Fenwick tree over the distinct fits, ascending: its
	 * prefix maximum up to the fits of at most k pages is the highest
	 * address the free tree served so far in the epoch to a request a
	 * free range of k pages would have held (0: none). */
	for (i = 0; i < ps->nr_takes; i++) {
		const struct take *t = &ps->takes[i];
		const struct group *g = &ps->groups[t->group];

		if (g->node >= 0 && (t->first != NONE || t->retaken != NONE)) {
			uint64_t max = 0;

			for (j = count_upto(fits, n, t->k); j > 0; j -= j & -j)
				if (reach[j] > max)
					max = reach[j];
			if (max >= t->addr + (t->k << PAGE_SHIFT)) {
				if (t->first != NONE)
					ps->firsts[t->first].below = true;
				else
					ps->retaken[t->retaken].below = true;
			}
		}
		if (t->fit && (g->node < 0 || t->idx >= free_start(g))) {
			/* Served by the free tree: t->fit is fits[count - 1]. */
			for (j = count_upto(fits, n, t->fit); j <= n; j += j & -j)
				if (reach[j] < t->addr)
					reach[j] = t->addr;
		}
	}
out:
	free(fits);
	free(reach);
	ps->nr_takes = 0;
	ps->takes_full = false;
	return r;
}

static int next_epoch(struct vt_prestate *ps)
{
	int r = settle_epoch(ps);

	ps->epoch++;
	return r;
}

static int on_alloc(struct vt_prestate *ps, uint64_t a, uint64_t k, uint64_t align, bool whole)
{
	struct vt_keymap_entry *e;
	struct take take;
	struct group *g;
	uint32_t gi, idx;
	bool first, poolable = ps->m.nr_vmap_nodes > 1 && whole && k <= POOL_MAX_PAGES;
	int node = poolable ? (int)(ps->last_cpu % ps->m.nr_vmap_nodes) : -1, r;

	if (!in_range(ps, a, k)) {
		ps->st.outside++;
		return 0;
	}
	e = vt_keymap_find(&ps->live, a);
	if (e) {
		/* Allocated again while live: the trace missed its free. */
		r = mark_freed(ps, a, e->kva_pages);
		if (r < 0)
			return r;
		vt_keymap_remove(&ps->live, e);
	}
	first = !vt_pageset_any(&ps->freed, a >> PAGE_SHIFT, k);
	gi = group_of(ps, node, k, ps->epoch);
	if (gi == NONE)
		return -ENOMEM;
	g = &ps->groups[gi];
	idx = g->count++;
	take = (struct take){ .addr = a, .k = k, .fit = whole ? fit_pages(k, align) : 0,
			      .group = gi, .idx = idx, .first = NONE, .retaken = NONE };
	if (ps->busy_keys.nr && (e = vt_keymap_find(&ps->busy_keys, a))) {
		uint32_t ri = (uint32_t)e->addr;

		vt_keymap_remove(&ps->busy_keys, e);
		if (ps->ranges[ri].kva_pages == k) {
			r = grow((void **)&ps->retaken, &ps->cap_retaken, sizeof(*ps->retaken),
				 ps->nr_retaken + 1);
			if (r < 0)
				return r;
			take.retaken = ps->nr_retaken;
			ps->retaken[ps->nr_retaken++] = (struct retaken){ .range = ri, .group = gi,
									  .idx = idx };
		}
	}
	if (idx > 0 && a < g->prev && node >= 0) {
		g->last_desc = idx;
		g->max_after_desc = 0;
		g->run_start = idx;
	} else {
		if (idx > 0 && a > g->prev) {
			if (g->first_ascent == NONE)
				g->first_ascent = idx;
			if (g->double_ascent == NONE && idx - g->run_start >= 2)
				g->double_ascent = g->run_start;
		} else {
			g->run_start = idx;
		}
		if (a > g->max_after_desc)
			g->max_after_desc = a;
	}
	if (g->double_ascent != NONE && a > g->max_from_double)
		g->max_from_double = a;
	g->prev = a;
	if (first) {
		if (ps->nr_ranges >= VT_PRESTATE_MAX_RANGES) {
			ps->st.capped = true;
		} else if (vt_pageset_any(&ps->placed, a >> PAGE_SHIFT, k)) {
			ps->st.conflicts++;
		} else {
			struct vt_ps_range rg = { .addr = a, .kva_pages = k, .cpu = node,
						  .kind = VT_PS_HOLE };
			uint32_t ri;

			r = grow((void **)&ps->firsts, &ps->cap_firsts, sizeof(*ps->firsts),
				 ps->nr_firsts + 1);
			if (r == 0)
				r = add_range(ps, &rg, &ri);
			if (r == 0)
				r = vt_pageset_add(&ps->placed, a >> PAGE_SHIFT, k);
			if (r < 0)
				return r;
			take.first = ps->nr_firsts;
			ps->firsts[ps->nr_firsts++] = (struct first){
				.range = ri, .group = gi, .idx = idx, .epoch = ps->epoch };
		}
	}
	/* Kept for the epoch's end (settle_epoch) where it can tell anything:
	 * only with pools, and only what the free tree served or a pool may
	 * have. */
	if (ps->m.nr_vmap_nodes > 1 && !ps->takes_full &&
	    (take.fit || ((take.first != NONE || take.retaken != NONE) && node >= 0))) {
		if (ps->nr_takes >= VT_PRESTATE_MAX_RANGES) {
			ps->takes_full = true;
		} else {
			r = grow((void **)&ps->takes, &ps->cap_takes, sizeof(*ps->takes),
				 ps->nr_takes + 1);
			if (r < 0)
				return r;
			ps->takes[ps->nr_takes++] = take;
		}
	}
	r = vt_keymap_insert(&ps->live, a, &e);
	if (r < 0)
		return r;
	e->used = VT_KEY_LIVE;
	e->kva_pages = k > UINT32_MAX ? UINT32_MAX : (uint32_t)k;
	return 0;
}

static int on_free(struct vt_prestate *ps, uint64_t a, const struct vt_event *ev)
{
	struct vt_keymap_entry *e = vt_keymap_find(&ps->live, a);
	uint64_t k = e ? e->kva_pages : 0, delta = 0;
	int r;

	if (ev && (ev->flags & VT_EV_LAZY)) {
		/* nr_lazy counts this area's pages after the add: the step from
		 * the previous free is its size, unless a purge came between.  A
		 * fall of more than half is a purge the trace did not show; a
		 * small one is two CPUs' frees recorded out of order. */
		if (ps->have_lazy && !ps->purge_since) {
			if (ev->nr_lazy > ps->prev_lazy)
				delta = ev->nr_lazy - ps->prev_lazy;
			else if (ev->nr_lazy < ps->prev_lazy / 2 && (r = next_epoch(ps)) < 0)
				return r;
		}
		if (!ps->first_free_seen) {
			ps->first_free_seen = true;
			ps->first_nr_lazy = ev->nr_lazy;
			ps->first_own = k;
		}
		ps->prev_lazy = ev->nr_lazy;
		ps->have_lazy = true;
		ps->purge_since = false;
	}
	if (e) {
		vt_keymap_remove(&ps->live, e);
		return in_range(ps, a, k) ? mark_freed(ps, a, k) : 0;
	}
	/* An area from before the trace. */
	k = delta <= (1u << 24) ? delta : 0;
	if (!in_range(ps, a, k ? k : 1)) {
		ps->st.outside++;
		return 0;
	}
	if (!k) {
		ps->st.busy_unknown++;
	} else if (vt_pageset_any(&ps->placed, a >> PAGE_SHIFT, k) ||
		   vt_pageset_any(&ps->freed, a >> PAGE_SHIFT, k)) {
		ps->st.conflicts++;
	} else if (ps->nr_ranges >= VT_PRESTATE_MAX_RANGES) {
		ps->st.capped = true;
	} else {
		struct vt_ps_range rg = { .addr = a, .kva_pages = k, .key = a, .cpu = -1,
					  .kind = VT_PS_BUSY };
		uint32_t ri;

		r = add_range(ps, &rg, &ri);
		if (r == 0)
			r = vt_pageset_add(&ps->placed, a >> PAGE_SHIFT, k);
		if (r == 0)
			r = vt_keymap_insert(&ps->busy_keys, a, &e);
		if (r < 0)
			return r;
		e->used = VT_KEY_LIVE;
		e->addr = ri;
	}
	return mark_freed(ps, a, k);
}

static bool whole_window(const struct vt_prestate *ps, const struct vt_event *ev)
{
	/* As the replay clips windows (replay.c): the whole range when the
	 * trace asked for it (vend is VMALLOC_END, the last byte). */
	if (!(ev->flags & VT_EV_WINDOW) || ev->vend <= ev->vstart)
		return true;
	return ev->vstart <= ps->m.vmalloc_start && ev->vend >= ps->m.vmalloc_end - 1;
}

static uint64_t pages_of(uint64_t bytes)
{
	return (bytes + VT_PAGE_SIZE - 1) / VT_PAGE_SIZE;
}

static int scan_event(struct vt_prestate *ps, const struct vt_event *ev)
{
	bool addr = ev->flags & VT_EV_ADDR;

	if (ev->cpu >= 0 && ps->m.nr_cpus)
		ps->last_cpu = (unsigned)ev->cpu % ps->m.nr_cpus;
	switch (ev->op) {
	case VT_OP_ALLOC:
		if (!addr || (ev->flags & VT_EV_FAILED) || !ev->size)
			return 0;
		return on_alloc(ps, ev->addr, (ev->flags & VT_EV_KVA_SIZE) ?
				pages_of(ev->size) : pages_of(ev->size) + 1, ev->align,
				whole_window(ps, ev));
	case VT_OP_FREE:
		return addr ? on_free(ps, ev->addr, ev) : 0;
	case VT_OP_REALLOC: {
		bool moved = !(ev->flags & VT_EV_NEW_ADDR) || ev->new_addr != ev->addr;
		int r = 0;

		if (!addr || (ev->flags & VT_EV_FAILED))
			return 0;
		if (ev->addr && moved)
			r = on_free(ps, ev->addr, NULL);
		if (r == 0 && ev->size && (ev->flags & VT_EV_NEW_ADDR) && ev->new_addr && moved)
			r = on_alloc(ps, ev->new_addr, pages_of(ev->size) + 1, VT_PAGE_SIZE, true);
		return r;
	}
	case VT_OP_PURGE:
		ps->purge_since = true;
		return next_epoch(ps);
	default:
		return 0;
	}
}

/* ---- classification ------------------------------------------------------------- */

/* The highest address a free-tree allocation of at most k pages reached
 * before epoch e. */
static uint64_t free_reach(const struct vt_prestate *ps, uint32_t e, uint64_t k)
{
	uint64_t reach = 0;

	for (uint32_t g = 0; g < ps->nr_groups; g++) {
		const struct group *gr = &ps->groups[g];

		if (gr->epoch < e && gr->k <= k && free_max(gr) > reach)
			reach = free_max(gr);
	}
	return reach;
}

static void classify(struct vt_prestate *ps)
{
	/* An area from before that a pool hands out again once the trace
	 * has freed it was tagged with that pool's node: allocated on one of
	 * its CPUs, and so made by lowest fit on it. */
	for (uint32_t i = 0; i < ps->nr_retaken; i++) {
		const struct retaken *t = &ps->retaken[i];
		const struct group *g = &ps->groups[t->group];

		if (g->node >= 0 && (t->idx < free_start(g) || t->below))
			ps->ranges[t->range].cpu = g->node;
	}
	for (uint32_t i = 0; i < ps->nr_firsts; i++) {
		const struct first *f = &ps->firsts[i];
		const struct group *g = &ps->groups[f->group];
		struct vt_ps_range *r = &ps->ranges[f->range];
		bool pool = f->idx < free_start(g) || (g->node >= 0 && f->below);

		if (pool)
			r->kind = f->epoch == 0 || f->idx >= g->first_ascent ? VT_PS_POOL : VT_PS_LAZY_TAGGED;
		else if (f->epoch > 0 && r->addr < free_reach(ps, f->epoch, r->kva_pages))
			r->kind = VT_PS_LAZY;
		else
			r->kind = VT_PS_HOLE;
	}
}

/* ---- the plan --------------------------------------------------------------------- */

/* One entry of a pool, head first: a range, or a block of decay ranges. */
struct entry {
	uint32_t range;         /* NONE for a block */
	uint32_t block;         /* index of the block's first range in pool->decay, count */
	uint32_t count;
	uint32_t segment;       /* 1-based, head first */
};

struct pool {
	int node;
	uint64_t k;
	struct entry *ent;
	uint32_t nr, cap;
	uint32_t nr_segments;
	uint32_t *bd_first;     /* per plan purge t (1..m-1): its batch-decay ranges */
	uint32_t *bd_count;
};

/* The least D with D == (len + D) / 4: as many ranges at a pool's head as
 * a decay of a quarter of the pool takes, len other ranges behind them. */
static uint64_t decay_for(uint64_t len)
{
	uint64_t d = 0, n;

	while ((n = (len + d) / 4) != d)
		d = n;
	return d;
}

static int cmp_first_pool(const void *a, const void *b, void *ctx)
{
	const struct vt_prestate *ps = ctx;
	const struct first *x = a, *y = b;
	const struct group *gx = &ps->groups[x->group], *gy = &ps->groups[y->group];

	if (gx->node != gy->node)
		return gx->node < gy->node ? -1 : 1;
	if (gx->k != gy->k)
		return gx->k < gy->k ? -1 : 1;
	if (x->epoch != y->epoch)
		return x->epoch < y->epoch ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_range_addr(const void *a, const void *b, void *ctx)
{
	const struct vt_prestate *ps = ctx;
	uint64_t x = ps->ranges[*(const uint32_t *)a].addr, y = ps->ranges[*(const uint32_t *)b].addr;

	return x < y ? -1 : x > y;
}

static int push_entry(struct pool *p, struct entry en)
{
	int e = grow((void **)&p->ent, &p->cap, sizeof(en), p->nr + 1);

	if (e == 0)
		p->ent[p->nr++] = en;
	return e;
}

/* A decay range of pool p (allocated by lowest fit on its node's CPU). */
static int add_decay(struct vt_prestate *ps, const struct pool *p, uint8_t kind, uint32_t *ret)
{
	struct vt_ps_range r = { .kva_pages = p->k, .cpu = p->node, .kind = kind };

	ps->st.decay++;
	return add_range(ps, &r, ret);
}

/* The pools' sequences from the VT_PS_POOL ranges: ranges in the order the
 * trace took them, a block of decay ranges before those a pool still hands
 * out after each of the trace's purges; then the segments (each one
 * purge's batch, handed out in descending order). */
static int build_pools(struct vt_prestate *ps, struct pool **ret_pools, uint32_t *ret_n)
{
	struct first *f = NULL;
	struct pool *pools = NULL;
	uint32_t nf = 0, np = 0, cap = 0, i, j;
	int r = 0;

	for (i = 0; i < ps->nr_firsts; i++)
		if (ps->ranges[ps->firsts[i].range].kind == VT_PS_POOL)
			nf++;
	if (!nf)
		goto out;
	f = malloc(nf * sizeof(*f));
	if (!f)
		return -ENOMEM;
	for (i = 0, j = 0; i < ps->nr_firsts; i++)
		if (ps->ranges[ps->firsts[i].range].kind == VT_PS_POOL)
			f[j++] = ps->firsts[i];
	qsort_r(f, nf, sizeof(*f), cmp_first_pool, ps);
	for (i = 0; i < nf; i = j) {
		const struct group *g = &ps->groups[f[i].group];
		uint32_t last_epoch = 0, e;
		uint64_t decay_total = 0;
		uint64_t *dk;
		struct pool *p;

		for (j = i; j < nf && ps->groups[f[j].group].node == g->node &&
			    ps->groups[f[j].group].k == g->k; j++)
			last_epoch = f[j].epoch;
		if ((r = grow((void **)&pools, &cap, sizeof(*pools), np + 1)) < 0)
			goto out;
		p = &pools[np++];
		memset(p, 0, sizeof(*p));
		p->node = g->node;
		p->k = g->k;
		/* Decay counts, from the last purge back: at purge e the pool
		 * holds the ranges it hands out from epoch e on and the decay
		 * ranges of the purges after e. */
		dk = calloc(last_epoch + 1, sizeof(*dk));
		if (!dk) {
			r = -ENOMEM;
			goto out;
		}
		for (e = last_epoch; e >= 1; e--) {
			uint64_t later = 0, d;

			for (uint32_t x = i; x < j; x++)
				later += f[x].epoch >= e;
			if (!later)
				continue;
			d = decay_for(later + decay_total);
			if (decay_total + d > DECAY_MAX)
				break;
			dk[e] = d;
			decay_total += d;
		}
		for (uint32_t x = i, ep = 0; ep <= last_epoch; ep++) {
			if (ep >= 1 && dk[ep]) {
				struct entry en = { .range = NONE, .count = (uint32_t)dk[ep] };
				uint32_t first_range = NONE;

				for (uint64_t d = 0; d < dk[ep] && r == 0; d++) {
					uint32_t ri;

					r = add_decay(ps, p, VT_PS_DECAY, &ri);
					if (first_range == NONE)
						first_range = ri;
				}
				en.block = first_range;
				if (r == 0)
					r = push_entry(p, en);
			}
			for (; r == 0 && x < j && f[x].epoch == ep; x++)
				r = push_entry(p, (struct entry){ .range = f[x].range });
			if (r < 0) {
				free(dk);
				goto out;
			}
		}
		free(dk);
	}
	/* Segments: a new one wherever the next entry lies above the last.
	 * Decay blocks lie above every range (they are allocated last), the
	 * blocks of later purges lower than those of earlier ones. */
	for (i = 0; i < np; i++) {
		struct pool *p = &pools[i];
		uint32_t seg = 0;

		for (j = 0; j < p->nr; j++) {
			struct entry *en = &p->ent[j], *pv = j ? &p->ent[j - 1] : NULL;
			bool up;

			if (!pv)
				up = true;
			else if (en->range == NONE)
				up = pv->range != NONE;
			else if (pv->range == NONE)
				up = false;
			else
				up = ps->ranges[en->range].addr > ps->ranges[pv->range].addr;
			if (up && seg < BATCHES_MAX)
				seg++;
			en->segment = seg;
		}
		p->nr_segments = seg;
	}
out:
	free(f);
	if (r < 0) {
		for (i = 0; i < np; i++)
			free(pools[i].ent);
		free(pools);
		return r;
	}
	*ret_pools = pools;
	*ret_n = np;
	return 0;
}

/* Ranges [from, to) of KVA held busy: holds of at most RESERVE_MAX_PAGES
 * (never leaving one page, which a hold cannot take), a single page as a
 * one-page vmalloc without guard. */
static int block_gap(struct vt_prestate *ps, uint64_t from, uint64_t to, uint64_t max_hold)
{
	uint64_t g = (to - from) >> PAGE_SHIFT;
	int r = 0;

	while (g && r == 0) {
		struct vt_ps_range rg = { .addr = from, .cpu = -1, .kind = VT_PS_BLOCKER };
		uint32_t ri;

		if (g == 1) {
			rg.kva_pages = 1;
		} else {
			rg.kva_pages = g < max_hold ? g : max_hold;
			if (g - rg.kva_pages == 1)
				rg.kva_pages--;
			rg.reserve = true;
		}
		r = add_range(ps, &rg, &ri);
		if (r == 0)
			r = add_step(ps, rg.reserve ? VT_PS_RESERVE : VT_PS_ALLOC, ri);
		ps->st.blockers++;
		ps->st.blocked_pages += rg.kva_pages;
		from += rg.kva_pages << PAGE_SHIFT;
		g -= rg.kva_pages;
	}
	return r;
}

static int free_step(struct vt_prestate *ps, uint32_t ri)
{
	return add_step(ps, ps->ranges[ri].reserve ? VT_PS_UNRESERVE : VT_PS_FREE, ri);
}

static int plan(struct vt_prestate *ps, uint64_t total_pages)
{
	struct pool *pools = NULL;
	uint32_t np = 0, i, m = 0, nr = ps->nr_ranges, *below = NULL, nb = 0, *above = NULL, na = 0;
	uint64_t top = 0, cursor = ps->m.vmalloc_start, lazy_pages = 0, batch_decay = 0;
	uint64_t max_hold = total_pages + 1 < RESERVE_MAX_PAGES ? total_pages + 1 : RESERVE_MAX_PAGES;
	int r;

	classify(ps);
	r = build_pools(ps, &pools, &np);
	if (r < 0)
		return r;
	for (i = 0; i < nr; i++) {
		struct vt_ps_range *rg = &ps->ranges[i];

		/* Untagged areas from before go by their windows wherever they
		 * are; everything else is placed from the bottom. */
		if ((rg->kind != VT_PS_BUSY || rg->cpu >= 0) &&
		    rg->addr + (rg->kva_pages << PAGE_SHIFT) > top)
			top = rg->addr + (rg->kva_pages << PAGE_SHIFT);
	}
	below = malloc((nr + 1) * sizeof(*below));
	above = malloc((nr + 1) * sizeof(*above));
	if (!below || !above) {
		r = -ENOMEM;
		goto out;
	}
	/* How each range is made. */
	for (i = 0; i < nr; i++) {
		struct vt_ps_range *rg = &ps->ranges[i];
		bool bottom = rg->addr < top;

		if (rg->kind != VT_PS_POOL && rg->kind != VT_PS_LAZY_TAGGED &&
		    !(rg->kind == VT_PS_BUSY && rg->cpu >= 0)) {
			/* A window, unless its page array would be an area of
			 * its own: then a hold by lowest fit, from the bottom.
			 * Ranges of a pool (and tagged areas from before) go by
			 * lowest fit on their node's CPU, so that they are
			 * tagged with it. */
			rg->cpu = -1;
			rg->reserve = bottom && rg->kva_pages > WINDOW_MAX_PAGES;
		}
		if (bottom)
			below[nb++] = i;
		else
			above[na++] = i;
		switch (rg->kind) {
		case VT_PS_BUSY:
			ps->st.busy++;
			ps->st.busy_pages += rg->kva_pages;
			break;
		case VT_PS_POOL:
			ps->st.pooled++;
			ps->st.pooled_pages += rg->kva_pages;
			break;
		case VT_PS_LAZY_TAGGED:
		case VT_PS_LAZY:
			ps->st.lazy++;
			ps->st.lazy_pages += rg->kva_pages;
			lazy_pages += rg->kva_pages;
			break;
		case VT_PS_HOLE:
			ps->st.holes++;
			ps->st.hole_pages += rg->kva_pages;
			break;
		}
	}
	ps->st.top = top;

	/* (1) From the bottom: the gaps held, each range where it goes. */
	qsort_r(below, nb, sizeof(*below), cmp_range_addr, ps);
	for (i = 0; i < nb && r == 0; i++) {
		const struct vt_ps_range *rg = &ps->ranges[below[i]];
		uint64_t end = rg->addr + (rg->kva_pages << PAGE_SHIFT);

		if (rg->addr > cursor)
			r = block_gap(ps, cursor, rg->addr, max_hold);
		if (r == 0)
			r = add_step(ps, ps->ranges[below[i]].reserve ? VT_PS_RESERVE : VT_PS_ALLOC,
				     below[i]);
		cursor = end;
	}
	/* The areas from before above the highest range: each by its window. */
	qsort_r(above, na, sizeof(*above), cmp_range_addr, ps);
	for (i = 0; i < na && r == 0; i++)
		r = add_step(ps, VT_PS_ALLOC, above[i]);
	/* Decay ranges above everything.  Ranges of one size taken one after
	 * the other by lowest fit go up, so per pool: the blocks of the
	 * trace's later purges first (lowest), those of the plan's purges
	 * last (highest, at the head of their batch). */
	for (i = 0; i < np; i++)
		if (pools[i].nr_segments > m)
			m = pools[i].nr_segments;
	for (i = 0; i < np && r == 0; i++) {
		struct pool *p = &pools[i];

		for (uint32_t j = p->nr; j-- > 0 && r == 0;)
			if (p->ent[j].range == NONE)
				for (uint32_t d = 0; d < p->ent[j].count && r == 0; d++)
					r = add_step(ps, VT_PS_ALLOC, p->ent[j].block + d);
		p->bd_first = calloc(m + 1, sizeof(*p->bd_first));
		p->bd_count = calloc(m + 1, sizeof(*p->bd_count));
		if (!p->bd_first || !p->bd_count) {
			r = -ENOMEM;
			break;
		}
		/* The plan's purge t + 1 decays the ranges freed with purge t's
		 * batch: after batch t the pool holds its segments from
		 * m - t + 1 on. */
		for (uint32_t t = 1; t < m; t++) {
			uint64_t len = 0;

			for (uint32_t j = 0; j < p->nr; j++)
				if (p->ent[j].segment >= m - t + 1)
					len += p->ent[j].range == NONE ? p->ent[j].count : 1;
			p->bd_count[t] = (uint32_t)decay_for(len);
			batch_decay += p->bd_count[t];
		}
	}
	/* Beyond the bound the batches go without them: the plan's own decays
	 * then take a quarter of the ranges it put in (a trace that needs so
	 * many batches is not a kernel's pools anyway). */
	if (batch_decay > BATCH_DECAY_MAX)
		for (i = 0; i < np && r == 0; i++)
			memset(pools[i].bd_count, 0, (m + 1) * sizeof(*pools[i].bd_count));
	for (i = 0; i < np && r == 0; i++) {
		struct pool *p = &pools[i];

		for (uint32_t t = 1; t < m && r == 0; t++) {
			for (uint32_t d = 0; d < p->bd_count[t] && r == 0; d++) {
				uint32_t ri = 0;

				r = add_decay(ps, p, VT_PS_BATCH_DECAY, &ri);
				if (r == 0)
					r = add_step(ps, VT_PS_ALLOC, ri);
				if (r == 0 && d == 0)
					p->bd_first[t] = ri;
			}
		}
	}
	if (r == 0)
		r = add_step(ps, VT_PS_BARRIER, 0);

	/* (2) The free tree's ranges, then the pools' batches, the last
	 * handed out first, one purge each. */
	for (i = 0; i < nr && r == 0; i++)
		if (ps->ranges[i].kind == VT_PS_HOLE)
			r = free_step(ps, i);
	for (uint32_t t = 1; t <= m && r == 0; t++) {
		for (i = 0; i < np && r == 0; i++) {
			const struct pool *p = &pools[i];

			for (uint32_t j = 0; j < p->nr && r == 0; j++) {
				const struct entry *en = &p->ent[j];

				if (en->segment != m - t + 1)
					continue;
				if (en->range != NONE)
					r = free_step(ps, en->range);
				else
					for (uint32_t d = 0; d < en->count && r == 0; d++)
						r = free_step(ps, en->block + d);
			}
			for (uint32_t d = 0; t < m && d < p->bd_count[t] && r == 0; d++)
				r = free_step(ps, p->bd_first[t] + d);
		}
		if (r == 0)
			r = add_step(ps, VT_PS_PURGE, 0);
		ps->st.batches++;
	}
	if (m == 0 && ps->st.holes && r == 0) {
		r = add_step(ps, VT_PS_PURGE, 0);
		ps->st.batches++;
	}
	/* (3) What was lazily freed at the start. */
	for (i = 0; i < nr && r == 0; i++)
		if (ps->ranges[i].kind == VT_PS_LAZY_TAGGED || ps->ranges[i].kind == VT_PS_LAZY)
			r = free_step(ps, i);
	/* (4) The rest of the backlog, at the top. */
	if (ps->first_free_seen && ps->first_nr_lazy > ps->first_own + lazy_pages) {
		ps->st.backlog_pages = ps->first_nr_lazy - ps->first_own - lazy_pages;
		if (r == 0)
			r = add_step(ps, VT_PS_SEED, 0);
	}
out:
	for (i = 0; i < np; i++) {
		free(pools[i].ent);
		free(pools[i].bd_first);
		free(pools[i].bd_count);
	}
	free(pools);
	free(below);
	free(above);
	return r;
}

/* ---- the interface ------------------------------------------------------------------- */

void vt_prestate_machine_of(const struct vt_machine_state *m, struct vt_prestate_machine *ret)
{
	ret->vmalloc_start = m->vmalloc_start;
	ret->vmalloc_end = m->vmalloc_end;
	ret->nr_cpus = m->nr_cpus ? m->nr_cpus : 1;
	ret->nr_vmap_nodes = m->nr_vmap_nodes ? m->nr_vmap_nodes : 1;
	ret->total_pages = m->total_pages;
}

void vt_prestate_free(struct vt_prestate *ps)
{
	if (!ps)
		return;
	vt_keymap_done(&ps->live);
	vt_keymap_done(&ps->busy_keys);
	vt_pageset_done(&ps->freed);
	vt_pageset_done(&ps->placed);
	free(ps->groups);
	free(ps->ghash);
	free(ps->firsts);
	free(ps->retaken);
	free(ps->takes);
	free(ps->ranges);
	free(ps->steps);
	free(ps);
}

int vt_prestate_scan(struct vt_reader *rd, const struct vt_prestate_machine *m,
		     void (*progress)(void *ctx, uint64_t events), void *progress_ctx,
		     struct vt_prestate **ret_ps)
{
	struct vt_prestate *ps;
	struct vt_event ev;
	int r;

	if (!rd || !m || !ret_ps)
		return -EINVAL;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->m = *m;
	if (!ps->m.nr_cpus)
		ps->m.nr_cpus = 1;
	if (!ps->m.nr_vmap_nodes)
		ps->m.nr_vmap_nodes = 1;
	vt_pageset_init(&ps->freed);
	vt_pageset_init(&ps->placed);
	r = vt_keymap_init(&ps->live);
	if (r == 0)
		r = vt_keymap_init(&ps->busy_keys);
	while (r == 0 && (r = vt_reader_next(rd, &ev)) == 1) {
		ps->st.scanned++;
		r = scan_event(ps, &ev);
		if (progress && (ps->st.scanned & 65535) == 0)
			progress(progress_ctx, ps->st.scanned);
	}
	if (r < 0 && r != -ENOMEM) {
		/* The trace stops here (a malformed line, a signal, an I/O
		 * error): so will the replay, so infer from what came before. */
		ps->st.partial = true;
		r = 0;
	}
	if (r == 0)
		r = settle_epoch(ps);
	free(ps->takes);
	ps->takes = NULL;
	if (r == 0)
		r = plan(ps, m->total_pages);
	/* What only the scan needed. */
	vt_keymap_done(&ps->live);
	vt_keymap_done(&ps->busy_keys);
	free(ps->retaken);
	ps->retaken = NULL;
	vt_pageset_done(&ps->freed);
	vt_pageset_done(&ps->placed);
	free(ps->groups);
	ps->groups = NULL;
	free(ps->ghash);
	ps->ghash = NULL;
	free(ps->firsts);
	ps->firsts = NULL;
	if (r < 0) {
		vt_prestate_free(ps);
		return r;
	}
	*ret_ps = ps;
	return 0;
}

const struct vt_prestate_stats *vt_prestate_stats(const struct vt_prestate *ps)
{
	return &ps->st;
}

const struct vt_ps_step *vt_prestate_steps(const struct vt_prestate *ps, uint64_t *ret_n)
{
	*ret_n = ps->nr_steps;
	return ps->steps;
}

const struct vt_ps_range *vt_prestate_ranges(const struct vt_prestate *ps, uint64_t *ret_n)
{
	*ret_n = ps->nr_ranges;
	return ps->ranges;
}
