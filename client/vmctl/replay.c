/* replay.c -- vmctl replay: an allocation trace replayed through vmallocd,
 * pipelined, with the report vmreplay(1) prints for the same machine.
 *
 * The trace is read and replayed by libvmtrace (trace/: the formats, the
 * start state, the replay and its report) against a backend that speaks
 * the protocol: the calls an event needs are queued on a libvmclient batch
 * (vmc_batch_send / vmc_batch_reap) in whole windows of --depth calls.
 * One window is in flight while the next is prepared (vt_replay_prepare);
 * once every reply of the first is in, the prepared window goes out in one
 * write and the answers are completed in order (vt_replay_complete), so
 * the daemon gets --depth calls per read, as from bench/vmload at the same
 * depth, and works while the client completes and prepares; at most
 * --depth calls are in flight.  A call that needs the result of one queued
 * (a free of an area whose allocation is unanswered) waits for replies
 * until that one is in (sending the prepared window first if it is there);
 * the calls after it stay in flight.  The daemon's
 * machine is the one replayed on: its kernel, CPUs, memory and lazy limit.
 *
 * CPUs.  vmallocd runs each connection's requests on CPU id % cpus (the id
 * counts connections from 1, and the STAT reply's connections_total is the
 * last one given).  A connection whose STAT shows exactly one more than the
 * STAT asked just before it was opened has that id; one is kept per CPU the
 * trace needs, and the calls of an event go to its CPU's connection.  When
 * the CPU changes, the calls queued on the other connection are completed
 * first, so the daemon sees them in the trace's order.  Only the calls that
 * take KVA depend on the CPU (6.18 takes it through the CPU's vmap node);
 * frees, page frees and purges go to whichever connection is queueing, so
 * a trace whose frees come from another CPU's worker keeps its pipeline.
 *
 * Deferred work: the daemon runs a queued purge at the start of its next
 * allocator call and once each pass's replies are out, so before the
 * machine is looked at (a series row, the report) every reply is read.
 *
 * What the replay makes stays on the machine, as `vmctl alloc` does: start
 * vmallocd afresh for a replay to compare with another.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "prestate.h"
#include "reader.h"
#include "replay.h"
#include "report.h"
#include "vmctl.h"

#define DEPTH_DEFAULT 64
#define DEPTH_MAX 4096
#define FRAME_MAPS 65535u       /* a frame's map count is 16 bits (as vmreplay's holds) */
#define CONNECT_TRIES 8         /* per CPU, when other clients connect meanwhile */

struct replay_args {
	struct vt_reader_opts reader;
	struct vt_replay_opts replay;
	bool start_state;
	const char *events, *series;
	long series_every, depth;
	int progress;           /* -1: on a terminal */
};

/* One queued call and where its results land. */
struct pending {
	struct vt_call call;
	uint64_t result;
	int status;
	uint64_t *pfns;         /* a hold's pfn list, freed once run */
	char caller[VMC_CALLER_MAX + 1];
};

struct conn {
	struct vmc_client *c;
	struct vmc_batch *b;
};

struct backend {
	const struct cmd *cmd;
	struct vmc_client *main;        /* queries */
	struct vmc_stat st;             /* at the start */
	struct conn *conn;              /* per CPU, opened when first needed */
	unsigned cur;                   /* the CPU calls go to now */
	uint64_t frame, frame_maps;     /* the shared frame of KVA holds */
	struct pending *q;              /* a ring of cap = 2 depth calls */
	size_t qh, nq, cap;             /* oldest, how many: in flight, then prepared */
	size_t depth;                   /* calls in flight at most: one window */
	size_t unsent;                  /* of the nq the prepared ones, not yet sent */
	struct conn *qconn;             /* where the queued calls go */
	struct vt_replay *rp;
	int err;                        /* a transport error: the replay stops */
	struct vt_machine_state *scratch;
};

static volatile sig_atomic_t g_stop;

static void on_sigint(int sig)
{
	(void)sig;
	g_stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- connections per CPU ---------------------------------------------------------- */

/* A connection for the replay's calls.  Its areas belong to vmctl itself,
 * not to the shell (no parent pid is sent): once vmctl has exited, `vmctl
 * leaks` lists what the replay left and `vmctl free --leaked` frees it.
 * With no parent pid, and no caller string for an event whose trace names
 * none, an allocation is the plain request vmallocd decodes on its fast
 * path. */
static int open_conn(struct vmc_client **ret)
{
	int r = vmc_connect(arg_socket, ret);

	if (r < 0)
		return r;
	vmc_set_timeout(*ret, arg_timeout_ms);
	vmc_set_attribute_to_parent(*ret, false);
	return 0;
}

/* The connection of CPU cpu, opened (with those of other CPUs on the way)
 * if need be; NULL if none could be had (err set). */
static struct conn *conn_of(struct backend *bk, unsigned cpu)
{
	unsigned tries = 0, cpus = bk->st.nr_cpus ? bk->st.nr_cpus : 1;

	if (bk->conn[cpu].c)
		return &bk->conn[cpu];
	while (!bk->conn[cpu].c && tries++ < CONNECT_TRIES * cpus) {
		struct vmc_stat before, after;
		struct vmc_client *c;
		unsigned got;
		int r;

		r = vmc_stat(bk->main, &before);
		if (r == 0)
			r = open_conn(&c);
		if (r < 0) {
			bk->err = r;
			return NULL;
		}
		r = vmc_stat(c, &after);
		if (r < 0) {
			vmc_close(c);
			bk->err = r;
			return NULL;
		}
		if (after.connections_total != before.connections_total + 1) {
			vmc_close(c);           /* someone else connected too: its id is unsure */
			continue;
		}
		got = (unsigned)(after.connections_total % cpus);
		if (bk->conn[got].c || vmc_batch_new(c, &bk->conn[got].b) < 0) {
			vmc_close(c);
			continue;
		}
		bk->conn[got].c = c;
	}
	if (!bk->conn[cpu].c) {
		bk->err = -EAGAIN;
		return NULL;
	}
	return &bk->conn[cpu];
}

/* ---- the pipeline ------------------------------------------------------------------ */

/* Complete the n oldest calls, in order. */
static void complete(struct backend *bk, size_t n)
{
	for (size_t i = 0; i < n && bk->nq; i++) {
		struct pending *p = &bk->q[bk->qh];

		vt_replay_complete(bk->rp, &p->call, p->status, p->status < 0 ? 0 : p->result);
		free(p->pfns);
		p->pfns = NULL;
		bk->qh = (bk->qh + 1) % bk->cap;
		bk->nq--;
	}
}

/* A transport error: every call left is completed with it (libvmclient
 * has made it their status) and the replay stops. */
static int broken(struct backend *bk, int r)
{
	complete(bk, bk->nq);
	bk->unsent = 0;
	if (!bk->err)
		bk->err = r;
	return r;
}

/* Send the prepared window: the calls queued since the last send. */
static int send_window(struct backend *bk)
{
	int r;

	if (!bk->unsent)
		return 0;
	r = vmc_batch_send(bk->qconn->b);
	bk->unsent = 0;
	return r < 0 ? broken(bk, r) : 0;
}

/* Wait until at least min of the calls in flight are answered (all, with
 * min SIZE_MAX); if that empties the window in flight, send the prepared
 * one before completing the answers, so the daemon has work while they
 * are completed.  0 or the transport error. */
static int turn(struct backend *bk, size_t min)
{
	size_t inflight = bk->nq - bk->unsent, done = 0;
	int r;

	if (!inflight)
		return send_window(bk);
	r = vmc_batch_reap(bk->qconn->b, min < inflight ? min : inflight, &done);
	if (r < 0)
		return broken(bk, r);
	if (done == inflight && (r = send_window(bk)) < 0)
		return r;
	complete(bk, done);
	return 0;
}

/* Every call sent, answered and completed. */
static int flush(struct backend *bk)
{
	int r = 0;

	while (bk->nq && r == 0)
		r = turn(bk, SIZE_MAX);
	return r;
}

/* A call prepared next needs the answer of one queued: take the replies
 * of the window in flight as they come (the one needed may be early in
 * it), or send the prepared window if nothing is in flight. */
static int wait_some(struct backend *bk)
{
	if (!bk->nq)
		return broken(bk, -EIO);        /* nothing to wait for: cannot happen */
	return turn(bk, 1);
}

static int node_of(const struct backend *bk, int node)
{
	/* A node the traced machine had and this one lacks: any node. */
	return node >= 0 && (unsigned)node < bk->st.nr_nodes ? node : VMC_NO_NODE;
}

/* Queue p's call on the current CPU's connection. */
static int queue(struct backend *bk, struct pending *p)
{
	struct vmc_batch *b = bk->qconn->b;
	const struct vt_call *c = &p->call;

	p->status = 0;
	p->result = 0;
	switch (c->kind) {
	case VT_CALL_ALLOC: {
		struct vmc_alloc_opts o = VMC_ALLOC_OPTS_INIT;

		o.align = c->req.align;
		o.start = c->req.start;
		o.end = c->req.end;
		o.gfp = c->req.gfp;
		o.vm_flags = c->req.vm_flags & VMC_VM_REQUEST_FLAGS;
		o.node = node_of(bk, c->req.node);
		/* The trace's caller (copied: the event's string changes with the
		 * next event), or none (the empty string is not sent), as the
		 * engine in process records none. */
		if (c->req.caller) {
			snprintf(p->caller, sizeof(p->caller), "%s", c->req.caller);
			o.caller = p->caller;
		} else {
			o.caller = "";
		}
		return vmc_batch_vmalloc_node_range(b, c->req.size, &o, &p->result, &p->status);
	}
	case VT_CALL_FREE:
		return vmc_batch_vfree(b, c->addr, &p->status);
	case VT_CALL_REALLOC:
		return vmc_batch_vrealloc(b, c->addr, c->req.size, c->req.gfp, &p->result,
					  &p->status);
	case VT_CALL_ALLOC_PAGES:
		return vmc_batch_alloc_pages(b, c->req.gfp, c->order, node_of(bk, c->req.node),
					     &p->result, &p->status);
	case VT_CALL_FREE_PAGES:
		return vmc_batch_free_pages(b, c->addr, c->order, &p->status);
	case VT_CALL_UNRESERVE:
		return vmc_batch_vunmap(b, c->addr, &p->status);
	case VT_CALL_PURGE:
		return vmc_batch_purge(b, &p->status);
	case VT_CALL_RESERVE: {
		uint64_t n = c->addr - 1;

		p->pfns = malloc(n * sizeof(*p->pfns));
		if (!p->pfns)
			return -ENOMEM;
		for (uint64_t i = 0; i < n; i++)
			p->pfns[i] = bk->frame;
		bk->frame_maps += n;
		return vmc_batch_vmap(b, p->pfns, n, 0, 0, &p->result, &p->status);
	}
	case VT_CALL_SEED_LAZY:
		break;          /* made by seed() */
	}
	return -EINVAL;
}

/* The seed of lazily freed KVA, call by call (each free needs its
 * allocation's address): the same calls as vmreplay's backend makes. */
static int seed(struct backend *bk, uint64_t pages)
{
	struct vt_alloc_req q;
	uint64_t left = pages, addr;
	int r;

	while ((r = vt_seed_next(bk->st.vmalloc_start, bk->st.vmalloc_end, pages, &left, &q)) == 1) {
		struct vmc_alloc_opts o = VMC_ALLOC_OPTS_INIT;

		o.start = q.start;
		o.end = q.end;
		o.gfp = q.gfp;
		o.caller = q.caller;
		r = vmc_vmalloc_node_range(bk->qconn->c, q.size, &o, &addr);
		if (r == 0)
			r = vmc_vfree(bk->qconn->c, addr);
		if (r < 0)
			return r;
	}
	return r;
}

/* Hand a prepared call to the pipeline (or make it now, when it cannot
 * wait in one: a hold that needs a new frame, a seed). */
static int submit(struct backend *bk, const struct vt_call *c)
{
	unsigned cpus = bk->st.nr_cpus ? bk->st.nr_cpus : 1;
	struct conn *cn;
	int r;

	if (c->cpu >= 0 && c->kind != VT_CALL_SEED_LAZY)
		bk->cur = (unsigned)c->cpu % cpus;
	switch (c->kind) {
	case VT_CALL_FREE:
	case VT_CALL_FREE_PAGES:
	case VT_CALL_UNRESERVE:
	case VT_CALL_PURGE:
		cn = bk->qconn;         /* no CPU of its own */
		break;
	default:
		cn = conn_of(bk, bk->cur);
		if (!cn)
			return bk->err;
		break;
	}
	if (cn != bk->qconn) {
		r = flush(bk);
		if (r < 0)
			return r;
		bk->qconn = cn;
	}
	if (c->kind == VT_CALL_SEED_LAZY) {
		r = flush(bk);
		if (r < 0)
			return r;
		r = seed(bk, c->addr);
		vt_replay_complete(bk->rp, c, r, 0);
		return 0;
	}
	if (c->kind == VT_CALL_RESERVE &&
	    (!bk->frame_maps || bk->frame_maps + c->addr - 1 > FRAME_MAPS)) {
		r = flush(bk);
		if (r == 0)
			r = vmc_alloc_pages(cn->c, GFP_KERNEL, 0, VMC_NO_NODE, &bk->frame);
		if (r < 0) {
			vt_replay_complete(bk->rp, c, r, 0);
			return 0;
		}
		bk->frame_maps = 0;
	}
	{
		struct pending *p = &bk->q[(bk->qh + bk->nq) % bk->cap];

		p->call = *c;
		r = queue(bk, p);
		if (r < 0) {
			/* Not queued: complete what is before it, then it. */
			if ((r = flush(bk)) < 0)
				return r;
			vt_replay_complete(bk->rp, c, -ENOMEM, 0);
			return 0;
		}
	}
	bk->nq++;
	/* A full window prepared: it goes out, in one write, once the
	 * window in flight is answered (read in one go, mostly). */
	if (++bk->unsent == bk->depth)
		return turn(bk, SIZE_MAX);
	return 0;
}

/* ---- the machine ------------------------------------------------------------------- */

static int be_state(void *ctx, bool with_zones, struct vt_machine_state *m)
{
	struct backend *bk = ctx;
	struct vmc_stat s;
	struct vmc_zone *z = NULL;
	struct vmc_area *a = NULL;
	size_t nz = 0, na = 0;
	int r;

	if (bk->rp && (r = flush(bk)) < 0)
		return r;
	r = vmc_stat(bk->main, &s);
	if (r < 0)
		return r;
	memset(m, 0, sizeof(*m));
	m->vmalloc_start = s.vmalloc_start;
	m->vmalloc_end = s.vmalloc_end;
	m->total_pages = s.total_pages;
	m->free_pages = s.free_pages;
	m->vmalloc_pages = s.vmalloc_pages;
	m->pagetable_pages = s.pagetable_pages;
	m->largest_free_kva = s.largest_free_kva;
	m->lazy_pages = s.lazy_pages;
	m->lazy_max_pages = s.lazy_max_pages;
	m->pooled_pages = s.pooled_pages;
	m->nr_purges = s.nr_purges;
	m->nr_tlb_flushes = s.nr_tlb_flushes;
	m->nr_cpus = s.nr_cpus;
	m->nr_vmap_nodes = s.nr_vmap_nodes;
	if (!with_zones)
		return 0;
	r = vmc_areas(bk->main, false, &a, &na);
	if (r < 0)
		return r;
	for (size_t i = 0; i < na; i++)
		if (a[i].addr + a[i].size - s.vmalloc_start > m->kva_extent)
			m->kva_extent = a[i].addr + a[i].size - s.vmalloc_start;
	free(a);
	r = vmc_zones(bk->main, &z, &nz);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nz && m->nr_zones < VT_MAX_ZONES; i++) {
		struct vt_zone_state *zs = &m->zones[m->nr_zones++];

		zs->node = z[i].node;
		snprintf(zs->name, sizeof(zs->name), "%.11s", z[i].name);
		zs->managed = z[i].managed;
		zs->free = z[i].free;
		for (unsigned o = 0; o < VT_NR_ORDERS && o < VMC_NR_ORDERS; o++) {
			zs->nr_free[o] = z[i].nr_free[o];
			zs->unusable[o] = z[i].unusable_index[o];
			zs->extfrag[o] = z[i].extfrag_index[o];
		}
	}
	free(z);
	return 0;
}

/* The machine now: every reply read first (the daemon has then run its
 * deferred work), the start state's purges taken off. */
static int machine_now(struct backend *bk, struct vt_machine_state *m)
{
	int r = be_state(bk, true, m);

	if (r == 0)
		vt_replay_own_counts(bk->rp, m);
	return r;
}

/* ---- options --------------------------------------------------------------------- */

enum {
	RO_FORMAT = 0x200, RO_SKIP_BAD, RO_EVENTS, RO_SERIES, RO_SERIES_EVERY, RO_DEPTH,
	RO_WARM, RO_NO_START_STATE, RO_PROGRESS, RO_NO_PROGRESS,
};

static int replay_opt(const struct cmd *cmd, int ch, const char *optarg, void *ctx)
{
	struct replay_args *a = ctx;

	switch (ch) {
	case RO_FORMAT:
		if (vt_format_from_name(optarg, &a->reader.format) < 0)
			return usage_err(cmd, "unknown format '%s' (ftrace, bpftrace, malloclab, "
					 "mtrace, native)", optarg);
		return 0;
	case RO_SKIP_BAD: a->reader.skip_bad = true; return 0;
	case RO_EVENTS: a->events = optarg; return 0;
	case RO_SERIES: a->series = optarg; return 0;
	case RO_SERIES_EVERY:
		return arg_long(cmd, "series-every", optarg, 1, INT64_MAX, &a->series_every);
	case RO_DEPTH:
		return arg_long(cmd, "depth", optarg, 1, DEPTH_MAX, &a->depth);
	case RO_WARM: a->replay.warm = true; return 0;
	case RO_NO_START_STATE: a->start_state = false; return 0;
	case RO_PROGRESS: a->progress = 1; return 0;
	case RO_NO_PROGRESS: a->progress = 0; return 0;
	}
	return -1;
}

static FILE *open_out(const struct cmd *cmd, const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		usage_err(cmd, "cannot write %s: %s", path, strerror(errno));
	return f;
}

static void on_result(void *ctx, const struct vt_call *c, int status, uint64_t result)
{
	FILE **ev = ctx;

	if (*ev && vt_eventlog_write(*ev, c, status, result) < 0) {
		fclose(*ev);
		*ev = NULL;
	}
}

/* Infer the start state for the daemon's machine (a second reading of the
 * file).  NULL with *why set when there is none. */
static struct vt_prestate *infer(const char *input, const struct replay_args *a,
				 const struct vt_machine_state *m, const char **why)
{
	struct vt_prestate_machine pm;
	struct vt_prestate *ps = NULL;
	struct vt_reader *rd;
	struct stat stbuf;
	uint64_t n;

	if (!a->start_state) {
		*why = "--no-start-state";
		return NULL;
	}
	if (strcmp(input, "-") == 0 || stat(input, &stbuf) < 0 || !S_ISREG(stbuf.st_mode)) {
		*why = "the trace is not a file that can be read twice: --save it first";
		return NULL;
	}
	if (vt_reader_open(input, &a->reader, &rd, NULL) < 0) {
		*why = "the trace could not be opened again";
		return NULL;
	}
	vt_prestate_machine_of(m, &pm);
	if (vt_prestate_scan(rd, &pm, NULL, NULL, &ps) < 0) {
		*why = "out of memory";
		ps = NULL;
	}
	vt_reader_close(rd);
	if (ps) {
		vt_prestate_ranges(ps, &n);
		if (!n && !vt_prestate_stats(ps)->backlog_pages) {
			*why = vt_prestate_stats(ps)->outside ?
				"the trace's addresses are outside the machine's vmalloc range" :
				"the trace records no addresses";
			vt_prestate_free(ps);
			ps = NULL;
		}
	}
	return ps;
}

int cmd_replay(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, RO_FORMAT },
		{ "skip-bad", no_argument, NULL, RO_SKIP_BAD },
		{ "events", required_argument, NULL, RO_EVENTS },
		{ "series", required_argument, NULL, RO_SERIES },
		{ "series-every", required_argument, NULL, RO_SERIES_EVERY },
		{ "depth", required_argument, NULL, RO_DEPTH },
		{ "warm", no_argument, NULL, RO_WARM },
		{ "no-start-state", no_argument, NULL, RO_NO_START_STATE },
		{ "progress", no_argument, NULL, RO_PROGRESS },
		{ "no-progress", no_argument, NULL, RO_NO_PROGRESS },
		COMMON_OPTS
	};
	struct replay_args a = { .start_state = true, .series_every = 1000,
				 .depth = DEPTH_DEFAULT, .progress = -1 };
	struct backend bk = { .cmd = cmd };
	struct vt_backend b = { 0 };
	struct vt_reader *reader = NULL;
	struct vt_prestate *ps = NULL;
	struct vt_machine_state *final = NULL;
	FILE *events = NULL, *series = NULL;
	struct sigaction sa;
	char *pos[1], msg[VT_MSG_MAX] = "", cpus_from[64], lazy_from[64];
	const char *stopped = NULL, *start_off = NULL;
	double start, start_s = 0, last_progress = 0;
	uint64_t nev = 0;
	struct vt_event ev;
	int r, status = VMCTL_EXIT_OK;
	bool have = false;

	positional(cmd, argc, argv, opts, replay_opt, &a, pos, 1, 1);
	if (a.replay.warm && a.start_state)
		a.replay.warm = false;          /* the start state seeds the backlog itself */

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = vt_reader_open(pos[0], &a.reader, &reader, msg);
	if (r < 0) {
		fprintf(stderr, "vmctl: replay: %s\n", msg[0] ? msg : strerror(-r));
		return VMCTL_EXIT_FAILED;
	}
	bk.main = client(cmd);
	r = vmc_stat(bk.main, &bk.st);
	if (r < 0) {
		vt_reader_close(reader);
		return fail(cmd, "stat", r);
	}
	bk.depth = (size_t)a.depth;
	bk.cap = 2 * bk.depth;
	bk.q = calloc(bk.cap, sizeof(*bk.q));
	bk.conn = calloc(bk.st.nr_cpus ? bk.st.nr_cpus : 1, sizeof(*bk.conn));
	final = calloc(1, sizeof(*final));
	if (!bk.q || !bk.conn || !final) {
		r = -ENOMEM;
		goto fatal;
	}
	b.ctx = &bk;
	b.state = be_state;
	start = now_s();

	/* The machine first (the start state is planned for it), then the
	 * first event, so that the header is read. */
	r = be_state(&bk, false, final);
	if (r < 0)
		goto fatal;
	{
		double t0 = now_s();

		ps = infer(pos[0], &a, final, &start_off);
		start_s = now_s() - t0;
	}
	a.replay.start = ps;
	r = vt_replay_new(&b, &a.replay, &bk.rp);
	if (r < 0)
		goto fatal;
	if (a.events && !(events = open_out(cmd, a.events))) {
		status = VMCTL_EXIT_USAGE;
		goto out;
	}
	vt_replay_set_hook(bk.rp, on_result, &events);
	bk.qconn = conn_of(&bk, 0);
	if (!bk.qconn) {
		r = bk.err;
		goto fatal;
	}
	/* The start state, pipelined. */
	for (;;) {
		struct vt_call c;
		int k = vt_replay_prepare_start(bk.rp, &c);

		if (k == -EBUSY)
			r = wait_some(&bk);
		else if (k == 1)
			r = submit(&bk, &c);
		else
			r = k;
		if (r < 0 || k == 0)
			break;
	}
	if (r < 0)
		goto fatal;
	if (a.series) {
		if (!(series = open_out(cmd, a.series))) {
			status = VMCTL_EXIT_USAGE;
			goto out;
		}
		vt_series_header(series);
		if ((r = machine_now(&bk, final)) < 0)
			goto fatal;
		vt_series_row(series, 0, final);
	}

	for (;;) {
		r = vt_reader_next(reader, &ev);
		if (r == -EINTR && !g_stop)
			continue;
		break;
	}
	have = r == 1;
	if (r < 0 && r != -EINTR)
		stopped = vt_reader_error(reader)[0] ? vt_reader_error(reader) : strerror(-r);
	while (have && !g_stop && !bk.err) {
		for (;;) {
			struct vt_call c;
			int k = vt_replay_prepare(bk.rp, &ev, &c);

			if (k == -EBUSY) {
				/* Replies come in order: wait only until the call it
				 * needs is answered, so the daemon keeps the rest. */
				if (wait_some(&bk) < 0)
					break;
				continue;
			}
			if (k < 0) {
				stopped = strerror(-k);
				break;
			}
			if (k == 0)
				break;
			if (submit(&bk, &c) < 0 || k == 2)
				break;
		}
		if (stopped || bk.err)
			break;
		nev++;
		if (series && nev % (uint64_t)a.series_every == 0) {
			if ((r = machine_now(&bk, final)) < 0)
				goto fatal;
			vt_series_row(series, nev, final);
		}
		if (a.progress == 1 || (a.progress == -1 && isatty(2))) {
			double t = now_s();

			if ((nev & 4095) == 0 && t - last_progress >= 0.25) {
				last_progress = t;
				fprintf(stderr, "\r\033[Kvmctl replay: %" PRIu64 " events, %.0f events/s",
					nev, (double)nev / (t - start));
			}
		}
		for (;;) {
			r = vt_reader_next(reader, &ev);
			if (r == -EINTR && !g_stop)
				continue;
			break;
		}
		if (r == 1)
			continue;
		if (r < 0 && r != -EINTR)
			stopped = vt_reader_error(reader)[0] ? vt_reader_error(reader) : strerror(-r);
		break;
	}
	if (last_progress > 0)
		fprintf(stderr, "\r\033[K");
	if (flush(&bk) < 0 || bk.err) {
		r = bk.err;
		goto fatal;
	}
	if (stopped) {
		fprintf(stderr, "vmctl: replay: %s\n", stopped);
		status = VMCTL_EXIT_FAILED;
	}
	if (g_stop)
		status = 130;
	r = machine_now(&bk, final);
	if (r < 0)
		goto fatal;
	if (series && nev % (uint64_t)a.series_every)
		vt_series_row(series, nev, final);
	snprintf(cpus_from, sizeof(cpus_from), "the daemon's");
	snprintf(lazy_from, sizeof(lazy_from), "the daemon's");
	{
		struct vt_report rep = {
			.input = pos[0],
			.info = vt_reader_info(reader),
			.stats = vt_replay_stats(bk.rp),
			.final = final,
			.machine = {
				.kernel = bk.st.kernel,
				.cpus = bk.st.nr_cpus,
				.cpus_from = cpus_from,
				.memory_bytes = bk.st.total_pages * 4096,
				.layout = bk.st.layout,
				.nodes = bk.st.nr_nodes,
				.lazy_max_pages = bk.st.lazy_max_pages,
				.lazy_max_from = lazy_from,
			},
			.elapsed_s = now_s() - start,
			.start_s = start_s,
			.interrupted = g_stop != 0,
			.stopped = stopped,
			.start = ps ? vt_prestate_stats(ps) : NULL,
			.start_off = start_off,
		};

		r = arg_json ? vt_report_json(stdout, &rep) : vt_report_text(stdout, &rep);
		if (r < 0 && status == VMCTL_EXIT_OK)
			status = VMCTL_EXIT_FAILED;
	}
	goto out;
fatal:
	status = fail(cmd, "replay", r ? r : -EIO);
out:
	if (events && fclose(events) != 0 && status == VMCTL_EXIT_OK)
		status = VMCTL_EXIT_FAILED;
	if (series && fclose(series) != 0 && status == VMCTL_EXIT_OK)
		status = VMCTL_EXIT_FAILED;
	for (size_t i = 0; bk.q && i < bk.cap; i++)
		free(bk.q[i].pfns);
	for (unsigned i = 0; bk.conn && i < (bk.st.nr_cpus ? bk.st.nr_cpus : 1); i++) {
		vmc_batch_free(bk.conn[i].b);
		vmc_close(bk.conn[i].c);
	}
	free(bk.conn);
	free(bk.q);
	free(final);
	vt_replay_free(bk.rp);
	vt_prestate_free(ps);
	vt_reader_close(reader);
	return status;
}
