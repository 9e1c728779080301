/* replay.c -- events into backend calls, and the counts the report prints
 * (replay.h says what each case means).
 *
 * Invariants, between events:
 *   stats.live_areas == live keys of areas (+ areas of keyless events)
 *   stats.live_pages == Σ pages over those areas; peak_* >= live_*
 *   every key in areas/pages is VT_KEY_LIVE, or VT_KEY_IN_FLIGHT while its
 *   call is prepared and not yet completed, or VT_KEY_FAILED for an object
 *   the replay could not make (until the trace frees it)
 *   stats.events == Σ stats.by_op[]
 *   start_inflight == start-state calls prepared and not yet completed
 *   busy_keys holds the keys of the areas from before that the start state
 *   placed and the trace has not freed yet (each is live in areas too)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmclient.h"
#include "prestate.h"
#include "replay.h"

#define VM_NO_GUARD_FLAG 0x40u          /* VM_NO_GUARD of include/linux/vmalloc.h */

struct vt_replay {
	const struct vt_backend *b;
	struct vt_replay_opts opts;
	struct vt_machine_state *initial;
	struct vt_keymap areas;         /* the trace's area keys */
	struct vt_keymap pages;         /* the trace's pfns */
	struct vt_replay_stats stats;
	bool have_prev;                 /* placement: the previous allocation */
	uint64_t prev_trace, prev_replay;
	vt_result_fn *hook;
	void *hook_ctx;
	unsigned nr_cpus;               /* the machine's: the trace's CPU c runs on c % nr_cpus */
	/* The start state's plan, and where its ranges went. */
	const struct vt_ps_step *steps;
	const struct vt_ps_range *ranges;
	uint64_t nr_steps, step, nr_ranges;
	uint64_t *start_addr;           /* per range: the address it got, 0 if not made */
	uint64_t start_inflight;
	uint64_t backlog_pages;
	struct vt_keymap busy_keys;
};

int vt_replay_new(const struct vt_backend *b, const struct vt_replay_opts *opts,
		  struct vt_replay **ret_replay)
{
	struct vt_replay *rp;
	int r;

	if (!b || !ret_replay)
		return -EINVAL;
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	rp->b = b;
	if (opts)
		rp->opts = *opts;
	rp->initial = calloc(1, sizeof(*rp->initial));
	if (!rp->initial) {
		r = -ENOMEM;
		goto fail;
	}
	r = b->state(b->ctx, false, rp->initial);
	if (r < 0)
		goto fail;
	r = vt_keymap_init(&rp->areas);
	if (r < 0)
		goto fail;
	r = vt_keymap_init(&rp->pages);
	if (r < 0)
		goto fail;
	r = vt_keymap_init(&rp->busy_keys);
	if (r < 0)
		goto fail;
	rp->nr_cpus = rp->initial->nr_cpus ? rp->initial->nr_cpus : 1;
	if (rp->opts.start) {
		rp->steps = vt_prestate_steps(rp->opts.start, &rp->nr_steps);
		rp->ranges = vt_prestate_ranges(rp->opts.start, &rp->nr_ranges);
		rp->backlog_pages = vt_prestate_stats(rp->opts.start)->backlog_pages;
		rp->start_addr = calloc(rp->nr_ranges ? rp->nr_ranges : 1, sizeof(*rp->start_addr));
		if (!rp->start_addr) {
			r = -ENOMEM;
			goto fail;
		}
		rp->opts.warm = false;
	}
	*ret_replay = rp;
	return 0;
fail:
	vt_replay_free(rp);
	return r;
}

void vt_replay_free(struct vt_replay *rp)
{
	if (!rp)
		return;
	vt_keymap_done(&rp->areas);
	vt_keymap_done(&rp->pages);
	vt_keymap_done(&rp->busy_keys);
	free(rp->start_addr);
	free(rp->initial);
	free(rp);
}

void vt_replay_set_hook(struct vt_replay *rp, vt_result_fn *fn, void *ctx)
{
	rp->hook = fn;
	rp->hook_ctx = ctx;
}

const struct vt_replay_stats *vt_replay_stats(const struct vt_replay *rp)
{
	return &rp->stats;
}

const struct vt_machine_state *vt_replay_initial(const struct vt_replay *rp)
{
	return rp->initial;
}

static inline uint64_t pages_of(uint64_t bytes)
{
	return (bytes + VT_PAGE_SIZE - 1) / VT_PAGE_SIZE;
}

static bool has_key(const struct vt_event *ev)
{
	return ev->flags & (VT_EV_ADDR | VT_EV_ID);
}

/* The event is accounted for: give it its index and count it. */
static void done(struct vt_replay *rp, const struct vt_event *ev)
{
	rp->stats.events++;
	rp->stats.by_op[ev->op]++;
}

static void call_init(struct vt_replay *rp, const struct vt_event *ev, struct vt_call *c,
		      enum vt_call_kind kind)
{
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->req.node = -1;
	c->i = rp->stats.events;
	c->line = ev->line;
	c->cpu = ev->cpu >= 0 ? (int32_t)((unsigned)ev->cpu % rp->nr_cpus) : -1;
	c->op = ev->op;
	c->ev_flags = ev->flags;
	c->key = ev->addr;
	c->new_key = ev->new_addr;
	c->size = ev->size;
	c->align = ev->align;
}

/* The trace's window, clipped to the machine's range; the whole range (0, 0)
 * if the trace asks for all of it or for a window the machine lacks. */
static void clip_window(struct vt_replay *rp, const struct vt_event *ev, struct vt_alloc_req *req)
{
	uint64_t ms = rp->initial->vmalloc_start, me = rp->initial->vmalloc_end;
	uint64_t s = ev->vstart, e = ev->vend;

	req->start = req->end = 0;
	if (!(ev->flags & VT_EV_WINDOW) || e <= s)
		return;
	/* The kernel passes VMALLOC_END, the range's last byte, as vend. */
	if (s <= ms && e >= me - 1)
		return;
	if (s < ms)
		s = ms;
	if (e > me)
		e = me;
	if (s >= e) {
		rp->stats.outside_window++;
		return;
	}
	req->start = s;
	req->end = e;
}

static int prepare_alloc(struct vt_replay *rp, const struct vt_event *ev, struct vt_call *c)
{
	struct vt_keymap_entry *e = NULL;
	uint64_t size = ev->size, kva_pages;
	int r;

	if (ev->flags & VT_EV_FAILED) {
		if (ev->flags & VT_EV_KVA_SIZE)
			rp->stats.failed_attempts++;
		else
			rp->stats.trace_failed++;
		done(rp, ev);
		return 0;
	}
	if (has_key(ev)) {
		e = vt_keymap_find(&rp->areas, ev->addr);
		if (e && e->used == VT_KEY_IN_FLIGHT)
			return -EBUSY;
		if (e && e->used == VT_KEY_LIVE) {
			/* The trace freed this key without our seeing it. */
			call_init(rp, ev, c, VT_CALL_FREE);
			c->implicit = true;
			c->addr = e->addr;
			c->pages = e->pages;
			vt_keymap_remove(&rp->areas, e);
			return 1;
		}
		if (!e) {
			r = vt_keymap_insert(&rp->areas, ev->addr, &e);
			if (r < 0)
				return r;
		}
		e->used = VT_KEY_IN_FLIGHT;
	}
	call_init(rp, ev, c, VT_CALL_ALLOC);
	if (ev->flags & VT_EV_KVA_SIZE) {
		/* alloc_vmap_area's size holds the guard page; a one-page
		 * range can only be an area without one. */
		kva_pages = pages_of(size);
		if (size > VT_PAGE_SIZE) {
			size -= VT_PAGE_SIZE;
		} else {
			c->req.vm_flags |= VM_NO_GUARD_FLAG;
		}
	} else {
		kva_pages = pages_of(size) + 1;
	}
	c->kva_pages = kva_pages > UINT32_MAX ? UINT32_MAX : (uint32_t)kva_pages;
	if (e)
		e->kva_pages = c->kva_pages;
	c->req.size = size;
	c->req.align = (ev->flags & VT_EV_ALIGN) && ev->align > VT_PAGE_SIZE ? ev->align : 0;
	clip_window(rp, ev, &c->req);
	c->req.gfp = (ev->flags & VT_EV_GFP) ? ev->gfp : (GFP_KERNEL | __GFP_HIGHMEM);
	if (ev->flags & VT_EV_VM_FLAGS)
		c->req.vm_flags |= ev->vm_flags;
	c->req.node = (ev->flags & VT_EV_NODE) ? ev->node : -1;
	c->req.caller = ev->caller;
	done(rp, ev);
	return 2;
}

static int prepare_free(struct vt_replay *rp, const struct vt_event *ev, struct vt_call *c)
{
	struct vt_keymap_entry *e = has_key(ev) ? vt_keymap_find(&rp->areas, ev->addr) : NULL;

	if (e && e->used == VT_KEY_IN_FLIGHT)
		return -EBUSY;
	if ((ev->flags & VT_EV_LAZY) && !rp->stats.trace_nr_lazy_max)
		rp->stats.trace_nr_lazy_max = ev->nr_lazy_max;
	if (rp->opts.warm && !rp->stats.warmed && (ev->flags & VT_EV_LAZY)) {
		/* nr_lazy counts this area too: seed what was there before it. */
		uint64_t own = e ? e->kva_pages : 0;

		rp->stats.warmed = true;
		if (ev->nr_lazy > own) {
			call_init(rp, ev, c, VT_CALL_SEED_LAZY);
			c->implicit = true;
			c->addr = ev->nr_lazy - own;
			return 1;
		}
	}
	if (!e) {
		rp->stats.unmatched_frees++;
		done(rp, ev);
		return 0;
	}
	if (e->used == VT_KEY_FAILED) {
		vt_keymap_remove(&rp->areas, e);
		rp->stats.failed_frees++;
		done(rp, ev);
		return 0;
	}
	/* An area from before that the start state placed: a hold without
	 * pages (pages 0) goes as it came. */
	call_init(rp, ev, c, e->pages ? VT_CALL_FREE : VT_CALL_UNRESERVE);
	c->addr = e->addr;
	c->pages = e->pages;
	vt_keymap_remove(&rp->areas, e);
	if (rp->busy_keys.nr && (e = vt_keymap_find(&rp->busy_keys, ev->addr))) {
		vt_keymap_remove(&rp->busy_keys, e);
		rp->stats.start_frees++;
	}
	done(rp, ev);
	return 2;
}

static int prepare_realloc(struct vt_replay *rp, const struct vt_event *ev, struct vt_call *c)
{
	struct vt_keymap_entry *e = has_key(ev) ? vt_keymap_find(&rp->areas, ev->addr) : NULL, *n;
	uint64_t new_key = (ev->flags & VT_EV_NEW_ADDR) ? ev->new_addr : ev->addr;
	int r;

	if (e && e->used == VT_KEY_IN_FLIGHT)
		return -EBUSY;
	if (ev->flags & VT_EV_FAILED) {
		/* The old object is untouched in the traced system too. */
		rp->stats.trace_failed++;
		done(rp, ev);
		return 0;
	}
	if (e && e->used == VT_KEY_FAILED) {
		/* Its allocation failed here: the realloc makes it afresh. */
		vt_keymap_remove(&rp->areas, e);
		e = NULL;
		rp->stats.failed_frees++;
	}
	if (ev->size && new_key != ev->addr && (n = vt_keymap_find(&rp->areas, new_key)) &&
	    n->used == VT_KEY_FAILED)
		vt_keymap_remove(&rp->areas, n);
	if (ev->size && new_key != ev->addr && (n = vt_keymap_find(&rp->areas, new_key))) {
		if (n->used == VT_KEY_IN_FLIGHT)
			return -EBUSY;
		/* The result's key is live: the trace missed its free. */
		call_init(rp, ev, c, VT_CALL_FREE);
		c->implicit = true;
		c->addr = n->addr;
		c->pages = n->pages;
		vt_keymap_remove(&rp->areas, n);
		return 1;
	}
	call_init(rp, ev, c, VT_CALL_REALLOC);
	c->new_key = new_key;
	if (e) {
		c->addr = e->addr;
		c->pages = e->pages;
	} else if ((ev->flags & VT_EV_ADDR) && ev->addr) {
		/* An area from before the capture: the new one is made fresh. */
		rp->stats.unmatched_frees++;
	}
	if (ev->size && e && new_key == ev->addr) {
		e->used = VT_KEY_IN_FLIGHT;
	} else {
		if (ev->size) {
			/* Insert first: on -ENOMEM nothing has changed. */
			r = vt_keymap_insert(&rp->areas, new_key, &n);
			if (r < 0)
				return r;
			n->used = VT_KEY_IN_FLIGHT;
		}
		if (e)
			vt_keymap_remove(&rp->areas, vt_keymap_find(&rp->areas, ev->addr));
	}
	c->req.size = ev->size;
	c->req.gfp = (ev->flags & VT_EV_GFP) ? ev->gfp : (GFP_KERNEL | __GFP_HIGHMEM);
	c->req.caller = ev->caller;
	done(rp, ev);
	return 2;
}

static int prepare_page_alloc(struct vt_replay *rp, const struct vt_event *ev, struct vt_call *c)
{
	struct vt_keymap_entry *e;
	int r;

	if ((ev->flags & VT_EV_FAILED) || !(ev->flags & VT_EV_ADDR)) {
		rp->stats.trace_failed++;
		done(rp, ev);
		return 0;
	}
	e = vt_keymap_find(&rp->pages, ev->pfn);
	if (e && e->used == VT_KEY_IN_FLIGHT)
		return -EBUSY;
	if (e && e->used == VT_KEY_LIVE) {
		call_init(rp, ev, c, VT_CALL_FREE_PAGES);
		c->implicit = true;
		c->key = ev->pfn;
		c->addr = e->addr;
		c->order = e->kva_pages;      /* the order, for page blocks */
		c->pages = e->pages;
		vt_keymap_remove(&rp->pages, e);
		return 1;
	}
	if (!e) {
		r = vt_keymap_insert(&rp->pages, ev->pfn, &e);
		if (r < 0)
			return r;
	}
	e->used = VT_KEY_IN_FLIGHT;
	call_init(rp, ev, c, VT_CALL_ALLOC_PAGES);
	c->key = ev->pfn;
	c->order = ev->order;
	c->req.gfp = (ev->flags & VT_EV_GFP) ? ev->gfp : GFP_KERNEL;
	c->req.node = (ev->flags & VT_EV_NODE) ? ev->node : -1;
	done(rp, ev);
	return 2;
}

static int prepare_page_free(struct vt_replay *rp, const struct vt_event *ev, struct vt_call *c)
{
	struct vt_keymap_entry *e = vt_keymap_find(&rp->pages, ev->pfn);

	if (e && e->used == VT_KEY_IN_FLIGHT)
		return -EBUSY;
	if (!e) {
		rp->stats.unmatched_frees++;
		done(rp, ev);
		return 0;
	}
	if (e->used == VT_KEY_FAILED) {
		vt_keymap_remove(&rp->pages, e);
		rp->stats.failed_frees++;
		done(rp, ev);
		return 0;
	}
	call_init(rp, ev, c, VT_CALL_FREE_PAGES);
	c->key = ev->pfn;
	c->addr = e->addr;
	c->order = e->kva_pages;
	c->pages = e->pages;
	vt_keymap_remove(&rp->pages, e);
	done(rp, ev);
	return 2;
}

static void area_made(struct vt_replay *rp, uint64_t pages);

/* ---- the start state ---------------------------------------------------------- */

#define START_CALLER "vmreplay_start_state"
#define BUSY_CALLER "before_the_trace"

/* The next call of the start state's plan: 1 with a call, 0 when the plan
 * is done, -EBUSY at a barrier with calls in flight. */
static int prepare_start(struct vt_replay *rp, uint64_t line, struct vt_call *c)
{
	while (rp->step < rp->nr_steps) {
		const struct vt_ps_step *s = &rp->steps[rp->step];
		const struct vt_ps_range *rg = s->op == VT_PS_PURGE || s->op == VT_PS_SEED ||
					       s->op == VT_PS_BARRIER ? NULL : &rp->ranges[s->range];

		memset(c, 0, sizeof(*c));
		c->start = true;
		c->range = s->range;
		c->cpu = -1;
		c->req.node = -1;
		c->i = rp->stats.events;
		c->line = line;
		c->op = VT_OP_ALLOC;
		switch (s->op) {
		case VT_PS_BARRIER:
			if (rp->start_inflight)
				return -EBUSY;
			rp->step++;
			continue;
		case VT_PS_ALLOC:
			c->kind = VT_CALL_ALLOC;
			if (rg->kva_pages == 1) {
				c->req.size = VT_PAGE_SIZE;
				c->req.vm_flags = VM_NO_GUARD_FLAG;
			} else {
				c->req.size = (rg->kva_pages - 1) * VT_PAGE_SIZE;
			}
			if (rg->cpu < 0) {
				c->req.start = rg->addr;
				c->req.end = rg->addr + rg->kva_pages * VT_PAGE_SIZE;
			} else {
				c->cpu = rg->cpu;
			}
			c->req.gfp = GFP_KERNEL;
			c->req.caller = rg->kind == VT_PS_BUSY ? BUSY_CALLER : START_CALLER;
			c->kva_pages = (uint32_t)rg->kva_pages;
			c->size = c->req.size;
			c->key = rg->key;
			break;
		case VT_PS_RESERVE:
			c->kind = VT_CALL_RESERVE;
			c->addr = rg->kva_pages;
			c->key = rg->key;
			break;
		case VT_PS_FREE:
		case VT_PS_UNRESERVE:
			if (!rp->start_addr[s->range]) {
				rp->step++;     /* it was not made */
				continue;
			}
			c->kind = s->op == VT_PS_FREE ? VT_CALL_FREE : VT_CALL_UNRESERVE;
			c->op = VT_OP_FREE;
			c->addr = rp->start_addr[s->range];
			break;
		case VT_PS_PURGE:
			c->kind = VT_CALL_PURGE;
			c->op = VT_OP_PURGE;
			break;
		case VT_PS_SEED:
			c->kind = VT_CALL_SEED_LAZY;
			c->op = VT_OP_FREE;
			c->addr = rp->backlog_pages;
			rp->stats.warmed = true;
			break;
		}
		rp->step++;
		rp->start_inflight++;
		return 1;
	}
	/* Built: what it cost the machine's counters, once nothing is in
	 * flight. */
	if (rp->start_inflight)
		return -EBUSY;
	{
		struct vt_machine_state *m = calloc(1, sizeof(*m));
		int r;

		if (!m)
			return -ENOMEM;
		r = rp->b->state(rp->b->ctx, false, m);
		if (r == 0) {
			rp->stats.start_purges = m->nr_purges - rp->initial->nr_purges;
			rp->stats.start_flushes = m->nr_tlb_flushes - rp->initial->nr_tlb_flushes;
		}
		free(m);
		if (r < 0)
			return r;
	}
	rp->stats.started = true;
	return 0;
}

int vt_replay_prepare_start(struct vt_replay *rp, struct vt_call *ret_call)
{
	if (!rp->start_addr || rp->stats.started)
		return 0;
	return prepare_start(rp, 0, ret_call);
}

void vt_replay_own_counts(const struct vt_replay *rp, struct vt_machine_state *m)
{
	m->nr_purges -= rp->stats.start_purges <= m->nr_purges ? rp->stats.start_purges : m->nr_purges;
	m->nr_tlb_flushes -= rp->stats.start_flushes <= m->nr_tlb_flushes ?
				     rp->stats.start_flushes : m->nr_tlb_flushes;
}

static void complete_start(struct vt_replay *rp, const struct vt_call *c, int status,
			   uint64_t result)
{
	const struct vt_ps_range *rg;
	struct vt_keymap_entry *e;
	uint64_t pages;

	rp->start_inflight--;
	rp->stats.start_calls++;
	if (c->kind == VT_CALL_SEED_LAZY) {
		rp->stats.warm_wanted = c->addr;
		if (status == 0)
			rp->stats.warm_pages = c->addr;
		else
			rp->stats.warm_err = status;
		return;
	}
	if (status < 0) {
		rp->stats.start_failures++;
		if (!rp->stats.start_err)
			rp->stats.start_err = status;
		return;
	}
	if (c->kind != VT_CALL_ALLOC && c->kind != VT_CALL_RESERVE)
		return;
	rg = &rp->ranges[c->range];
	rp->start_addr[c->range] = result;
	if (rg->addr && result != rg->addr)
		rp->stats.start_misplaced++;
	if (rg->kind != VT_PS_BUSY)
		return;
	/* An area from before: the trace's key now names it, as if the trace
	 * had allocated it. */
	pages = c->kind == VT_CALL_RESERVE ? 0 : (c->req.size + VT_PAGE_SIZE - 1) / VT_PAGE_SIZE;
	if (vt_keymap_insert(&rp->areas, rg->key, &e) < 0)
		return;         /* its free will be unmatched, as without a start state */
	e->used = VT_KEY_LIVE;
	e->addr = result;
	e->pages = pages;
	e->kva_pages = (uint32_t)rg->kva_pages;
	area_made(rp, pages);
	if (vt_keymap_insert(&rp->busy_keys, rg->key, &e) == 0)
		e->used = VT_KEY_LIVE;
}

int vt_replay_prepare(struct vt_replay *rp, const struct vt_event *ev, struct vt_call *ret_call)
{
	if (rp->start_addr && !rp->stats.started) {
		int k = prepare_start(rp, ev->line, ret_call);

		if (k != 0)
			return k;
	}
	switch (ev->op) {
	case VT_OP_ALLOC:
		return prepare_alloc(rp, ev, ret_call);
	case VT_OP_FREE:
		return prepare_free(rp, ev, ret_call);
	case VT_OP_REALLOC:
		return prepare_realloc(rp, ev, ret_call);
	case VT_OP_PAGE_ALLOC:
		return prepare_page_alloc(rp, ev, ret_call);
	case VT_OP_PAGE_FREE:
		return prepare_page_free(rp, ev, ret_call);
	case VT_OP_PURGE:
		done(rp, ev);
		return 0;
	default:
		return -EINVAL;
	}
}

static void record_failure(struct vt_replay *rp, const struct vt_call *c, int status)
{
	struct vt_replay_stats *s = &rp->stats;
	unsigned i;

	s->failures++;
	for (i = 0; i < s->nr_errnos; i++)
		if (s->errnos[i].err == status)
			break;
	if (i < s->nr_errnos) {
		s->errnos[i].count++;
	} else if (s->nr_errnos < VT_KEEP_ERRNOS) {
		s->errnos[s->nr_errnos].err = status;
		s->errnos[s->nr_errnos++].count = 1;
	}
	if (s->nr_first < VT_KEEP_FAILURES) {
		struct vt_failure *f = &s->first[s->nr_first++];

		f->i = c->i;
		f->line = c->line;
		f->op = c->op;
		f->size = c->size;
		f->err = status;
		snprintf(f->caller, sizeof(f->caller), "%s", c->req.caller ? c->req.caller : "");
	}
}

static void area_gone(struct vt_replay *rp, uint64_t pages)
{
	rp->stats.live_areas--;
	rp->stats.live_pages -= pages;
}

static void area_made(struct vt_replay *rp, uint64_t pages)
{
	struct vt_replay_stats *s = &rp->stats;

	s->live_areas++;
	s->live_pages += pages;
	if (s->live_areas > s->peak_areas)
		s->peak_areas = s->live_areas;
	if (s->live_pages > s->peak_pages)
		s->peak_pages = s->live_pages;
}

static void placement(struct vt_replay *rp, uint64_t trace_addr, uint64_t addr)
{
	if (rp->have_prev) {
		rp->stats.placement_pairs++;
		if (trace_addr - rp->prev_trace == addr - rp->prev_replay)
			rp->stats.placement_agree++;
	}
	rp->have_prev = true;
	rp->prev_trace = trace_addr;
	rp->prev_replay = addr;
}

void vt_replay_complete(struct vt_replay *rp, const struct vt_call *c, int status,
			uint64_t result)
{
	struct vt_keymap_entry *e;
	bool keyed = c->ev_flags & (VT_EV_ADDR | VT_EV_ID);

	if (c->start) {
		complete_start(rp, c, status, result);
		return;
	}
	rp->stats.calls++;
	switch (c->kind) {
	case VT_CALL_RESERVE:
	case VT_CALL_PURGE:
		return;         /* only the start state makes these */
	case VT_CALL_SEED_LAZY:
		rp->stats.warm_wanted = c->addr;
		if (status == 0)
			rp->stats.warm_pages = c->addr;
		else
			rp->stats.warm_err = status;
		return;
	case VT_CALL_ALLOC:
		e = keyed ? vt_keymap_find(&rp->areas, c->key) : NULL;
		if (status < 0) {
			if (e)
				e->used = VT_KEY_FAILED;
			record_failure(rp, c, status);
			break;
		}
		if (e) {
			e->used = VT_KEY_LIVE;
			e->addr = result;
			e->pages = pages_of(c->req.size);
			e->kva_pages = c->kva_pages;
		}
		area_made(rp, pages_of(c->req.size));
		if (c->ev_flags & VT_EV_ADDR)
			placement(rp, c->key, result);
		break;
	case VT_CALL_FREE:
	case VT_CALL_UNRESERVE:
		if (status < 0) {
			if (!c->implicit)
				record_failure(rp, c, status);
		} else {
			area_gone(rp, c->pages);
		}
		if (c->implicit) {
			rp->stats.implicit_frees++;
			return;
		}
		break;
	case VT_CALL_REALLOC: {
		bool had_old = c->addr != 0;

		e = c->size ? vt_keymap_find(&rp->areas, c->new_key) : NULL;
		if (status < 0) {
			/* vrealloc failing leaves the old area as it was. */
			if (had_old) {
				if (e)
					vt_keymap_remove(&rp->areas, e);
				if (vt_keymap_insert(&rp->areas, c->key, &e) == 0) {
					e->used = VT_KEY_LIVE;
					e->addr = c->addr;
					e->pages = c->pages;
				}
			} else if (e) {
				e->used = VT_KEY_FAILED;
			}
			record_failure(rp, c, status);
			break;
		}
		if (had_old)
			area_gone(rp, c->pages);
		if (!c->size)
			break;          /* vrealloc(p, 0) freed it */
		if (e) {
			e->used = VT_KEY_LIVE;
			e->addr = result;
			/* In place, the area keeps the pages it had. */
			e->pages = had_old && result == c->addr && pages_of(c->size) <= c->pages ?
					   c->pages : pages_of(c->size);
			e->kva_pages = (uint32_t)(e->pages + 1);
			area_made(rp, e->pages);
		} else {
			area_made(rp, pages_of(c->size));
		}
		break;
	}
	case VT_CALL_ALLOC_PAGES:
		e = vt_keymap_find(&rp->pages, c->key);
		if (status < 0) {
			if (e)
				e->used = VT_KEY_FAILED;
			record_failure(rp, c, status);
			break;
		}
		if (e) {
			e->used = VT_KEY_LIVE;
			e->addr = result;
			e->pages = 1ull << c->order;
			e->kva_pages = c->order;
		}
		rp->stats.live_page_blocks++;
		rp->stats.page_block_pages += 1ull << c->order;
		break;
	case VT_CALL_FREE_PAGES:
		if (status < 0) {
			if (!c->implicit)
				record_failure(rp, c, status);
		} else {
			rp->stats.live_page_blocks--;
			rp->stats.page_block_pages -= c->pages;
		}
		if (c->implicit) {
			rp->stats.implicit_frees++;
			return;
		}
		break;
	}
	if (rp->hook)
		rp->hook(rp->hook_ctx, c, status, status < 0 ? 0 : result);
}

static int call_backend(struct vt_replay *rp, const struct vt_call *c, uint64_t *ret)
{
	const struct vt_backend *b = rp->b;

	*ret = 0;
	if (b->set_cpu && c->cpu >= 0 && c->kind != VT_CALL_SEED_LAZY) {
		int r = b->set_cpu(b->ctx, (unsigned)c->cpu);

		if (r < 0)
			return r;
	}
	switch (c->kind) {
	case VT_CALL_ALLOC:
		return b->alloc(b->ctx, &c->req, ret);
	case VT_CALL_FREE:
		return b->free(b->ctx, c->addr);
	case VT_CALL_REALLOC:
		return b->realloc(b->ctx, c->addr, c->req.size, c->req.gfp, ret);
	case VT_CALL_ALLOC_PAGES:
		return b->alloc_pages(b->ctx, c->req.gfp, c->order, c->req.node, ret);
	case VT_CALL_FREE_PAGES:
		return b->free_pages(b->ctx, c->addr, c->order);
	case VT_CALL_SEED_LAZY:
		return b->seed_lazy ? b->seed_lazy(b->ctx, c->addr) : -EOPNOTSUPP;
	case VT_CALL_RESERVE:
		return b->reserve ? b->reserve(b->ctx, c->addr, ret) : -EOPNOTSUPP;
	case VT_CALL_UNRESERVE:
		return b->unreserve ? b->unreserve(b->ctx, c->addr) : -EOPNOTSUPP;
	case VT_CALL_PURGE:
		return b->purge ? b->purge(b->ctx) : -EOPNOTSUPP;
	}
	return -EINVAL;
}

int vt_seed_next(uint64_t vmalloc_start, uint64_t vmalloc_end, uint64_t total, uint64_t *left,
		 struct vt_alloc_req *ret_req)
{
	uint64_t n;

	if (total > (vmalloc_end - vmalloc_start) / VT_PAGE_SIZE)
		return -ERANGE;
	if (*left < 2)
		return 0;       /* a single page could not hold an area */
	n = *left < VT_SEED_CHUNK ? *left : VT_SEED_CHUNK;
	if (*left - n == 1)
		n--;            /* never leave a single page */
	memset(ret_req, 0, sizeof(*ret_req));
	ret_req->size = (n - 1) * VT_PAGE_SIZE;
	/* vmalloc_end may be the range's last byte (x86_64's 0x...ffff):
	 * the window's start is rounded down to a page. */
	ret_req->start = (vmalloc_end - total * VT_PAGE_SIZE) & ~(VT_PAGE_SIZE - 1);
	ret_req->end = vmalloc_end;
	ret_req->gfp = GFP_KERNEL | __GFP_NOWARN;
	ret_req->node = -1;
	ret_req->caller = "vmreplay_warm";
	*left -= n;
	return 1;
}

int vt_replay_build_start(struct vt_replay *rp)
{
	for (;;) {
		struct vt_call c;
		uint64_t result;
		int k = vt_replay_prepare_start(rp, &c), status;

		if (k <= 0)
			return k;
		status = call_backend(rp, &c, &result);
		vt_replay_complete(rp, &c, status, result);
	}
}

int vt_replay_event(struct vt_replay *rp, const struct vt_event *ev)
{
	for (;;) {
		struct vt_call c;
		uint64_t result;
		int k = vt_replay_prepare(rp, ev, &c), status;

		if (k <= 0)
			return k;
		status = call_backend(rp, &c, &result);
		vt_replay_complete(rp, &c, status, result);
		if (k == 2)
			return 0;
	}
}
