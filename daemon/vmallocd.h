/* vmallocd.h -- the daemon's parts and how they fit, one section per file.
 *
 *   main.c      struct daemon: builds the parts below and runs them
 *   loop.c      the event loop: signals, the watchdog, timers, run (it knows
 *               no sockets and no frames)
 *   listener.c  listening and activation: the socket systemd passes or the
 *               one we bind, accepting with back-off
 *   conn.c      a client connection: its I/O, framing, fairness, back
 *               pressure, timeouts, close
 *   dispatch.c  one request frame in, one reply out: the table of operations
 *   reply.c     packing replies into a connection's output
 *   account.c   per-uid pages for quotas, and the alloc_pages blocks
 *   memmap.c    a snapshot of the physical and vmalloc-range maps, bounded
 *   http.c      the HTTP window: /metrics, the live page and its JSON
 *   objects.c   the vm_map_ram mappings and per-CPU objects, by address
 *   notify.c    the sd_notify conversation (READY, STATUS, WATCHDOG, ...)
 *   config.c, log.c, iobuf.c, fault.c, uapi_check.c
 *
 * Calls run one way: loop -> listener -> conn -> dispatch -> engine and
 * account.  What dispatch needs to know of a connection (who, the time, how
 * many clients) it is given as arguments; what it decides for the
 * connection (close it) it returns.
 *
 * Ownership: struct daemon owns the engine, the listener, every connection
 * and the dispatcher's tables (accounts, objects); a connection owns its socket, events, buffers and its
 * session (the arena).  Only the event loop thread touches any of it.
 */
#ifndef VMALLOCD_H
#define VMALLOCD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"
#include "iobuf.h"
#include "vmcore.h"

/* The graded checks (meson -Ddebug_checks, docs/design.md): 0 none, 1 the
 * cheap ones (bugs of the daemon's own bookkeeping are reported), 2 the
 * same for the daemon (the engine's level 2 is a test build's). */
#ifndef VMD_DEBUG
#define VMD_DEBUG 0
#endif

struct event_base;
struct event;
struct Vmallocd__V1__Reply;

/* ---- options (config.c) ------------------------------------------------------ */

struct quota_rule {
	uint32_t uid;
	uint64_t pages;
};

struct options {
	char *config_file;
	char *socket_path;        /* NULL: the default for our uid */
	unsigned socket_mode;     /* for a socket we bind ourselves */
	uint64_t memory;          /* bytes */
	unsigned nodes;
	enum vm_layout layout;
	enum vm_kernel kernel;    /* the kernel the machine follows */
	unsigned cpus;            /* simulated online CPUs */
	uint64_t movable;         /* bytes per node */
	uint64_t lazy_max_pages;  /* 0: engine default */
	enum vm_page_policy page_policy;
	bool scrub;               /* zero frames on free */
	unsigned max_clients;
	uint32_t max_frame;       /* bytes */
	uint64_t output_limit;    /* bytes buffered for one client before we stop reading it */
	unsigned stall_timeout_ms;/* a partial frame older than this closes the connection */
	unsigned idle_timeout_ms; /* 0: idle connections may stay */
	unsigned busy_poll_us;    /* poll this long after serving before sleeping, 0: never */
	uint64_t default_quota;   /* pages per non-root uid, 0: none */
	uint64_t max_resident;    /* bytes the frames may occupy on the host, 0: derived */
	unsigned max_areas;       /* areas and objects per non-root uid (vmalloc, vmap,
				   * vm_map_ram, per-CPU), 0: no limit */
	unsigned max_clients_uid; /* connections per non-root uid, 0: no limit */
	struct quota_rule *quotas;
	unsigned nr_quotas;
	int log_level;            /* VM_LOG_* */
	char *http;               /* "ADDR:PORT" of the HTTP window, NULL: off */
	char *state_dir;          /* the state kept in files there, NULL: not on disk */
	bool fd_store;            /* hand the state's descriptors to systemd's fd store */
	bool discard_state;       /* a state that fails validation is moved aside, start empty */
	char *restore;            /* start from this snapshot file, NULL: none */
	uint64_t journal_size;    /* bytes of journal that trigger a checkpoint */
};

void options_init(struct options *o);
void options_free(struct options *o);
/* Parse argv (and the config file it names, read first so the command line
 * wins).  Returns 0, 1 if the program should exit successfully (--help,
 * --version), or a negative errno after printing why to stderr. */
int options_parse(struct options *o, int argc, char **argv);
/* For SIGHUP: parse the file and argv again and apply the keys that can
 * change at run time (limits, timeouts, quotas, log level) to o.
 * 0 or negative errno, o unchanged on error. */
int options_reload(struct options *o, int argc, char **argv);
/* The quota in pages for uid (0: none). */
uint64_t options_quota(const struct options *o, uint32_t uid);

/* ---- the host's memory (hostmem.c) ------------------------------------------------- */

/* The frames' budget in pages: configured bytes if not 0, else 3/4 of the
 * tightest of the host's MemTotal and the cgroup v2 memory.max of ours and
 * our ancestors (0 if none is known).  why says which, for messages.
 * Can't fail. */
uint64_t hostmem_budget(uint64_t configured, char *why, size_t whylen);

/* ---- logging (log.c) ------------------------------------------------------------ */

void log_set_level(int level);
void vmd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A rate limit for lines a client can cause at will (the kernel's struct
 * ratelimit_state): 10 per 5 s, then "NAME: N callbacks suppressed" before
 * the first line let through afterwards.  Zero-initialised but for name. */
struct ratelimit {
	const char *name;
	uint64_t begin;            /* now_usec() the interval began, 0: none yet */
	unsigned printed, missed;
};
/* true if a line may go out now (counting it); false if suppressed. */
bool log_ratelimit(struct ratelimit *rs);
void vmd_log_ratelimited(struct ratelimit *rs, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The engine's log callback: its warnings, rate limited as "vmalloc". */
void log_engine(void *ctx, int level, const char *msg);

/* ---- accounting (account.c) -------------------------------------------------------- */

struct uid_account {
	uint32_t uid;
	uint64_t pages;           /* charged: vmalloc pages + alloc_pages frames */
	uint64_t kva_pages;       /* KVA of its vmap areas (guard pages included) and
				   * vm_map_ram mappings */
	uint64_t pt_pages;        /* page tables its mappings made (they stay, as the
				   * kernel's do, and so does the charge) */
	uint64_t areas;           /* its areas, vm_map_ram mappings and per-CPU objects */
};

_Static_assert(VM_MAX_PAGE_ORDER <= UINT8_MAX, "orders do not fit page_block.order");

struct page_block {              /* one alloc_pages block, by head pfn */
	uint64_t pfn;             /* UINT64_MAX: empty slot */
	uint32_t uid, pid;
	uint64_t cookie;          /* connection id */
	uint8_t order;
	bool scoped;
	bool tomb;                /* deleted slot */
};

struct account {
	struct uid_account *uids;
	size_t nr_uids, cap_uids;
	struct page_block *blocks;
	size_t nr_blocks, nr_tombs, cap_blocks;  /* cap is a power of two */
};

/* Can't fail. */
void account_init(struct account *a);
void account_done(struct account *a);
/* The pages charged to uid (0 for a uid never charged). */
uint64_t account_pages(const struct account *a, uint32_t uid);
/* What counts against uid's quota: pages + kva_pages + pt_pages. */
uint64_t account_used(const struct account *a, uint32_t uid);
/* uid's entry, made if missing: NULL only when out of memory. */
struct uid_account *account_uid(struct account *a, uint32_t uid);
/* Charge pages to uid if its use (account_used) stays within quota (0: no
 * quota): 0, -EDQUOT or -ENOMEM, nothing charged on error. */
int account_charge(struct account *a, uint32_t uid, uint64_t pages, uint64_t quota);
/* The same for the KVA of a vmap area. */
int account_charge_kva(struct account *a, uint32_t uid, uint64_t pages, uint64_t quota);
void account_uncharge_kva(struct account *a, uint32_t uid, uint64_t pages);
/* Give back pages charged to uid.  More than was charged is a bug of the
 * daemon's: reported (at debug level 1 and up) and the charge stops at 0. */
void account_uncharge(struct account *a, uint32_t uid, uint64_t pages);
/* Each uid charged, in no particular order: fn's non-zero return stops the
 * walk and is returned; 0 otherwise. */
int account_for_each_uid(const struct account *a,
			 int (*fn)(void *ctx, uint32_t uid, uint64_t pages), void *ctx);
/* 0 or -ENOMEM (the table unchanged). */
int account_add_block(struct account *a, const struct page_block *b);
/* The block whose frames include pfn, or NULL. */
struct page_block *account_find_block(struct account *a, uint64_t pfn);
struct page_block *account_get_block(struct account *a, uint64_t head_pfn);
/* Can't fail; b is no longer valid afterwards. */
void account_del_block(struct account *a, struct page_block *b);
/* Iteration over the live blocks: first, then next after b; NULL at the
 * end.  Deleting the block at hand (account_del_block) does not disturb
 * the walk; adding one may. */
struct page_block *account_first_block(struct account *a);
struct page_block *account_next_block(struct account *a, struct page_block *b);

/* ---- objects (objects.c) ------------------------------------------------------------ */

/* What the daemon records of the objects that carry no vm_struct and so no
 * owner in the engine, by address. */
enum vmd_object_kind {
	VMD_OBJ_MAP_RAM = 1,
	VMD_OBJ_PERCPU = 2,
};

struct vmd_object {
	uint64_t addr;            /* the mapping's start, the object's CPU 0 copy; UINT64_MAX: empty */
	uint64_t count;           /* pages mapped, or bytes asked for */
	uint64_t charged;         /* pages charged to uid for it */
	uint64_t cookie;          /* session id */
	uint32_t uid, pid;
	uint8_t kind;             /* enum vmd_object_kind */
	bool scoped;
	bool tomb;                /* deleted slot */
};

struct objects {
	struct vmd_object *v;
	size_t nr, nr_tombs, cap;  /* cap is a power of two */
};

/* Can't fail; a zeroed struct objects is an empty table too. */
void objects_init(struct objects *o);
void objects_done(struct objects *o);
/* 0 or -ENOMEM, nothing added. */
int objects_add(struct objects *o, const struct vmd_object *x);
/* The live object of that kind starting at addr, or NULL. */
struct vmd_object *objects_get(struct objects *o, uint64_t addr, enum vmd_object_kind kind);
/* Can't fail; x is no longer valid afterwards. */
void objects_del(struct objects *o, struct vmd_object *x);

/* ---- the event loop (loop.c) ---------------------------------------------------- */

/* CLOCK_MONOTONIC in microseconds.  Can't fail. */
uint64_t now_usec(void);

struct loop {
	struct event_base *base;
	struct event *sig_term, *sig_int, *sig_hup, *sig_pipe;
	int hup_fd;                /* SIGHUP's signalfd (SIGHUP blocked), -1 or 0: none */
	struct event *watchdog_ev, *tick_ev, *reload_ev;
	bool reload_pending;       /* a SIGHUP's reload is due (reload_ev armed) */
	uint64_t reload_last;      /* now_usec() of the last reload, 0: none */
	uint64_t reloads_coalesced;/* SIGHUPs folded into a pending reload */
	uint64_t watchdog_usec;    /* systemd's WatchdogSec=, 0: none */
	uint64_t watchdog_last;    /* now_usec() of the last ping */
	unsigned busy_poll_us;     /* poll this long after work before sleeping */
	const uint64_t *progress;  /* moves when work was done (busy polling), may be NULL */
	void (*on_reload)(void *ctx);   /* SIGHUP */
	void (*on_tick)(void *ctx);     /* once a second */
	void *ctx;
};

/* The base, signal handlers (SIGTERM and SIGINT stop the loop, SIGHUP calls
 * on_reload, coalesced: at most one reload per 200 ms, SIGHUPs meanwhile
 * folded into the one pending; SIGPIPE is ignored), the one-second tick and, when systemd asks
 * for it, the watchdog ping.  0 or -ENOMEM; loop_done() cleans up either way. */
int loop_init(struct loop *l);
void loop_done(struct loop *l);
/* Inside a long request (the engine's resched callback): ping the watchdog
 * if a quarter of its interval has passed since the last ping, so no
 * request starves it.  Can't fail. */
void loop_keepalive(struct loop *l);
/* Run until a stop signal: 0, or -EIO if libevent fails. */
int loop_run(struct loop *l);

/* ---- listening and activation (listener.c) ------------------------------------------ */

/* A listening socket and the events that accept on it.  Protocol-blind:
 * each accepted descriptor goes to accept_fn, which owns it from then on. */
typedef void listener_accept_fn(void *ctx, int fd);
struct listener;

/* The sockets systemd passed (made non-blocking and close-on-exec), if any:
 * 1 with the protocol's in *ret_fd and, if one named "http" came too
 * (vmallocd-http.socket), that one in *ret_http_fd (else -1); 0 if none
 * was passed; or a negative errno after saying why (two of a kind, a
 * protocol socket that is not a listening UNIX stream socket, ...). */
int listener_activated_unix(int *ret_fd, int *ret_http_fd);
/* Bind and listen on a UNIX socket at path (NULL: the default for our uid,
 * conventions/socketpath.h), creating its directory if missing and taking
 * over a stale socket left by a dead daemon.  0 with *ret_fd and the path
 * bound in *ret_path (malloc'd: unlink it at exit), or a negative errno
 * after saying why. */
int listener_bind_unix(const char *path, unsigned mode, int *ret_fd, char **ret_path);
/* Accept on fd, which the listener owns from now on (closed on error too);
 * bound_path (may be NULL) is unlinked and freed with it.  0 with *ret, or
 * -ENOMEM after saying why. */
int listener_new(struct event_base *base, int fd, char *bound_path, listener_accept_fn *fn,
		 void *ctx, struct listener **ret);
/* A descriptor came free: accept again now if accept() was failing.  Can't fail. */
void listener_fd_freed(struct listener *l);
/* Close the socket (unlinking one we bound).  NULL-safe; returns NULL. */
struct listener *listener_free(struct listener *l);

/* ---- dispatch (dispatch.c) ----------------------------------------------------------- */

/* What dispatch knows of one client: who it is and where its protocol
 * conversation stands.  The connection that carries it owns it. */
struct session {
	uint64_t id;               /* the cookie stamped on the client's areas */
	uint32_t uid, pid;         /* SO_PEERCRED at accept */
	uint32_t proto_version;    /* from its Hello; 0: none yet, version 1's rules */
	uint64_t nr_scoped;        /* scoped areas, blocks and objects it made (an upper bound) */
	struct vmd_arena arena;    /* the request being handled is unpacked here */
	uint8_t *scratch;          /* vread target, up to VMD_MAX_IO */
	size_t scratch_cap;
	bool big_pass;             /* this pass needed large buffers: keep them */
	int snap_fd;               /* a snapshot being read (op_snapshot), -1: none */
	uint64_t snap_len;
};

/* What handling a journaled request reads besides its frame and the
 * machine: who sent it, and what the host said about its processes.  Live,
 * dispatch fills it before the request runs and the journal records it;
 * in replay it comes from the record, so the request runs identically. */
struct dispatch_inputs {
	uint64_t session;          /* the session's id (its cookie, its CPU) */
	uint32_t uid, pid, proto_version;
	int32_t parent_r;          /* parent_of(pid)'s result when parent_pid was given */
	uint32_t ppid;             /* the parent it found */
	uint32_t parent_gone;      /* kill(parent_pid, 0) said ESRCH */
};

/* The journal's records (state.c writes them, dispatch replays them). */
enum jrec_kind {
	JREC_FRAME = 1,            /* a request frame that may change the machine */
	JREC_WORK_DUE = 2,         /* vm_run_due_work() at a pass's end */
	JREC_WORK_DEFERRED = 3,    /* vm_run_deferred_work() at a tick */
	JREC_SESSION_END = 4,      /* a session's scoped areas released */
	JREC_RULES = 5,            /* the quota rules changed (a reload) */
	JREC_REFUSED = 6,          /* the frame before was refused host memory: which
				    * reservations (uint32_t each, vm_resident_refusals) */
};
struct state;
struct daemon;

/* Requests counted by operation (the Request's op case; 0: none, a frame
 * that did not decode) and status (-errno, 0 success; larger ones in the
 * last), and, while timing is on, their durations in buckets whose upper
 * bounds are dispatch_lat_bounds (seconds; the last bucket is +Inf). */
#define DISPATCH_NR_OPS      25   /* Request's op cases + 1: dispatch.c checks */
#define DISPATCH_NR_STATUS   134
#define DISPATCH_LAT_BUCKETS 13
extern const double dispatch_lat_bounds[DISPATCH_LAT_BUCKETS];
struct dispatch_stats {
	bool timing;               /* the HTTP window is on: time every request */
	uint64_t mark_ns;          /* while timing: when the request being handled
				    * began, the end of the one before it in the
				    * pass or the pass's start */
	uint64_t by_op[DISPATCH_NR_OPS][DISPATCH_NR_STATUS];
	uint64_t lat[DISPATCH_LAT_BUCKETS + 1];
	uint64_t lat_sum_ns;
};
/* The protocol's name of op ("alloc", "free", ...; "none" for 0). */
const char *dispatch_op_name(unsigned op);

/* The request-serving state shared by every session. */
struct dispatch {
	struct vm_engine *engine;
	const struct options *opt;
	struct account acct;
	struct objects objs;       /* vm_map_ram mappings and per-CPU objects */
	uint64_t nr_requests, nr_errors;
	uint64_t start_usec;       /* now_usec() at start, for the uptime */
	char resident_why[400];    /* where max-resident comes from, for -ENOMEM messages */
	struct dispatch_stats st;
	unsigned delayed_ticks;    /* ticks delayed work has waited (kvfree_rcu's 5 s) */
	struct dispatch_inputs in; /* of the request being handled */
	bool replaying;            /* in: comes from a journal record */
	struct state *journal;     /* every change is journaled there first, NULL: none */
	uint64_t boot_id;          /* random per process start, in HelloReply */
	uint64_t state_generation; /* the machine's lineage, new when it does not continue */
};


/* The facts of the moment a frame is handled, from the connection layer. */
struct dispatch_env {
	uint64_t now_usec;         /* now_usec() of this pass */
	unsigned clients;          /* connections open */
	uint64_t connections_total;/* connections accepted since start */
};

/* Can't fail (the arena allocates on first use). */
void session_init(struct session *s, uint64_t id, uint32_t uid, uint32_t pid);
/* The client is gone: free what it scoped (areas first, then vm_map_ram
 * mappings and per-CPU objects, then blocks), run the deferred work that
 * is due, and free the session's memory.  Can't fail. */
void dispatch_session_end(struct dispatch *dp, struct session *s);
/* A pass over one connection's whole frames begins.  While timing, the
 * clock is read here and once at the end of each request, which is also
 * the next one's start: n + 1 reads for a pass of n requests, not 2n, as
 * the clock read is a measurable part of a 4 KiB vmalloc/vfree.  Can't fail. */
void dispatch_pass_begin(struct dispatch *dp);
/* Handle one frame's payload for s and queue exactly one reply frame in
 * out.  Returns 0, or -ENOMEM when the reply could not be queued (out is
 * then as it was): the connection cannot be answered in order and must
 * close. */
int dispatch_frame(struct dispatch *dp, struct session *s, const struct dispatch_env *env,
		   const uint8_t *payload, size_t len, struct iobuf *out);
/* An error about the stream rather than a request (an oversize frame, no
 * memory for one): counted, and queued as a reply with id 0.  0 or -ENOMEM. */
int dispatch_error(struct dispatch *dp, struct iobuf *out, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Between passes: buffers a large request grew (the read scratch, the
 * decoding arena) shrink back.  Can't fail. */
void session_trim(struct session *s);
/* The end of a pass over a connection's frames, once its replies are
 * out: the engine's deferred work that is due (6.18's purge) runs now;
 * delayed work waits for dispatch_tick().  Can't fail. */
void dispatch_pass_done(struct dispatch *dp);
/* Once a second: delayed work (kvfree_rcu's batch) that has waited its
 * five seconds runs.  Can't fail. */
void dispatch_tick(struct dispatch *dp);

/* Re-run one journal record (state.c, at recovery): the machine and the
 * tables change as they did when it was first handled.  Can't fail (a
 * request's own failure is part of what it did). */
void dispatch_replay(struct dispatch *dp, enum jrec_kind kind, const struct dispatch_inputs *in,
		     const uint8_t *payload, size_t len);
/* The same for a JREC_FRAME whose run was refused host memory at the
 * reservations numbered in refused[0..nr) (its JREC_REFUSED record). */
void dispatch_replay_refused(struct dispatch *dp, const struct dispatch_inputs *in,
			     const uint8_t *payload, size_t len, const uint32_t *refused,
			     uint32_t nr);
/* The quota rules as a journal payload (JREC_RULES, checkpoints): 0 or
 * -ENOMEM, *ret malloc'd. */
int dispatch_rules_encode(const struct options *o, uint8_t **ret, size_t *ret_len);
/* Back from such a payload into o's default_quota, max_areas and quotas:
 * 0 or -EBADMSG / -ENOMEM (o unchanged). */
int dispatch_rules_decode(struct options *o, const uint8_t *p, size_t len);
/* Release the scoped areas, objects and blocks of every session: after a
 * restart no connection survives.  Can't fail. */
void dispatch_release_all_scoped(struct dispatch *dp);
/* The reload changed the rules: journal them.  0 or negative errno. */
int dispatch_rules_changed(struct dispatch *dp);

/* ---- the machine kept across restarts (state.c) ---------------------------------------------- */

/* Find the state (systemd's fd store, then --state-dir), validate it,
 * load the newest checkpoint and replay its journal, or build a fresh
 * machine where there is none; then checkpoint and start journaling.
 * Builds d->engine.  0, or a negative errno after saying why (a state
 * refused is kept as it was). */
int state_start(struct daemon *d);
/* A checkpoint (clean shutdown; the journal grew past journal-size).
 * 0 or negative errno after saying why; the previous one stays current. */
int state_checkpoint(struct state *st, struct dispatch *dp);
/* What the kept state has done since the daemon started, for /metrics. */
struct state_stats {
	uint64_t generation;          /* of the current checkpoint */
	uint64_t checkpoints;         /* written since the start */
	uint64_t records;             /* journal records appended since the start */
	uint64_t journal_bytes;       /* of records since the current checkpoint */
	uint64_t journal_size;        /* the journal's capacity */
	uint64_t last_checkpoint_us, last_checkpoint_bytes;
};
/* Fill *ret from st.  Can't fail. */
void state_stats(const struct state *st, struct state_stats *ret);
/* Give the pages of the journal past its live records back to the host:
 * for a daemon about to exit after its last checkpoint (between
 * checkpoints they stay, up to journal_size, for the next records). */
void state_release_journal(struct state *st);
/* At a pass's end and once a second: a checkpoint if the journal passed
 * journal_size. */
void state_tick(struct state *st, struct dispatch *dp);
/* Append a record before what it describes happens: 0, or a negative
 * errno (the change must then not happen). */
int state_journal(struct state *st, struct dispatch *dp, enum jrec_kind kind,
		  const struct dispatch_inputs *in, const uint8_t *payload, size_t len);
/* The whole machine as one stream (config and engine image, the daemon's
 * tables, the frames that hold bytes) in a new memfd: 0 with *ret_fd and
 * its length, or a negative errno. */
int state_snapshot(struct dispatch *dp, int *ret_fd, uint64_t *ret_len);
/* Close the files (the state stays in them).  NULL-safe. */
void state_close(struct state *st);

/* ---- maps (memmap.c) ------------------------------------------------------------------ */

#define MEMMAP_DEFAULT_CELLS  (256u * 1024)   /* 512 rows of a pageblock */
#define MEMMAP_MAX_CELLS      (1u << 20)
#define MEMMAP_DEFAULT_BINS   1024u
#define MEMMAP_MAX_BINS       65536u

struct memmap_req {
	uint64_t start_pfn, end_pfn;   /* 0, 0: every frame */
	uint64_t max_cells;            /* 0: MEMMAP_DEFAULT_CELLS */
	uint64_t kva_start, kva_end;   /* 0, 0: the whole vmalloc range */
	uint64_t kva_bins;             /* 0: MEMMAP_DEFAULT_BINS (fewer if the range is short) */
};

struct memmap {
	uint64_t start_pfn, end_pfn, fpc, ncells;   /* fpc: frames per cell */
	uint8_t *fclass, *ffree;                    /* ncells each: vm_frame_map() */
	uint64_t kva_start, kva_end, nbins;
	uint8_t *kclass, *kbusy;                    /* nbins each: vm_kva_map() */
};

/* Take both maps within rq's bounds: 0 with *ret (memmap_free() it),
 * -EINVAL for a span outside the machine or the range, -E2BIG for more
 * cells or bins than the limits, -ENOMEM. */
int memmap_take(struct vm_engine *e, const struct memmap_req *rq, struct memmap *ret);
void memmap_free(struct memmap *m);

/* ---- the HTTP window (http.c, metrics.c) ----------------------------------------------------- */

struct evbuffer;
struct clients;
struct http_window;

/* What the window shows, read when a request comes. */
struct http_sources {
	struct vm_engine *engine;
	struct dispatch *dp;
	const struct clients *cs;
	const struct options *opt;
};

/* Listen on addr_port ("127.0.0.1:9848", "[::1]:9848"), warning if it is
 * not a loopback address.  0 with *ret_fd, or a negative errno after saying
 * why. */
int http_bind(const char *addr_port, int *ret_fd);
/* Serve /, /metrics and /map.json on the listening fd (owned from now on,
 * closed on error too), and time requests for the latency histogram.
 * 0 with *ret, or -ENOMEM. */
int http_open(struct event_base *base, int fd, const struct http_sources *src,
	      struct http_window **ret);
/* Close the socket and every HTTP connection.  NULL-safe; returns NULL. */
struct http_window *http_close(struct http_window *w);
/* The Prometheus text (format 0.0.4) of the moment, appended to b.  0 or
 * -ENOMEM. */
int metrics_render(struct evbuffer *b, const struct http_sources *src);

/* ---- replies (reply.c) ------------------------------------------------------------------ */

/* Pack rep as one frame at the end of out: the hot shapes by fastencode,
 * the rest by protobuf-c; a reply over VMD_MAX_REPLY becomes -E2BIG.
 * 0, or -ENOMEM with out unchanged. */
int reply_queue(struct iobuf *out, const struct Vmallocd__V1__Reply *rep);
/* The one error packer: a reply of id, status (negative errno) and msg.
 * 0, or -ENOMEM with out unchanged. */
int reply_queue_error(struct iobuf *out, uint64_t id, int status, const char *msg);

/* ---- connections (conn.c) ----------------------------------------------------------------- */

struct conn {
	struct clients *cs;
	int fd;
	struct event *read_ev;     /* persistent EV_READ, off while paused or closing */
	struct event *write_ev;    /* persistent EV_WRITE, on only while output waits */
	struct event *resume_ev;   /* more complete frames wait: run again next iteration */
	struct event *stall_ev;    /* partial frame timer; the last flush when closing */
	struct event *idle_ev;     /* idle timer, checked against last_read_usec */
	struct iobuf in;           /* bytes read and not yet handled (often empty) */
	struct iobuf out;          /* replies not yet written */
	struct conn *prev, *next;
	uint64_t last_read_usec;   /* now_usec() of the last bytes read */
	bool closing;              /* flush the output, then close */
	bool read_paused;          /* output over the limit */
	bool writing;              /* write_ev is added */
	bool eof;                  /* the peer sends no more */
	bool close_armed;          /* the closing timer runs */
	struct session s;
};

/* Every connection of the protocol socket. */
struct clients {
	struct event_base *base;
	const struct options *opt;
	struct dispatch *dp;
	struct listener *listener; /* told when a descriptor comes free; may be NULL */
	struct conn *head;
	unsigned nr;               /* open */
	uint64_t nr_total;         /* accepted since start */
	uint64_t next_id;
	uint8_t *rbuf;             /* shared first landing place of every read */
	size_t rbuf_cap;
	struct dispatch_env env;   /* clients == nr, connections_total == nr_total,
				    * now_usec: of the pass under way */
};

/* 0 or -ENOMEM (clients_done() cleans up either way). */
int clients_init(struct clients *cs, struct event_base *base, const struct options *opt,
		 struct dispatch *dp);
/* Close every connection (their scoped areas go) and free the buffers. */
void clients_done(struct clients *cs);
/* listener_accept_fn: a new connection with its peer's credentials, or
 * refused (too many clients, no credentials, no memory) after saying why. */
void clients_accept(void *ctx, int fd);
/* After a reload: the idle timeout again for every connection.  Can't fail. */
void clients_apply_timeouts(struct clients *cs);
/* Close c now: its scoped areas go, its descriptor is closed.  Can't fail. */
void conn_close(struct conn *c);

/* ---- the daemon (main.c) --------------------------------------------------------------------- */

struct daemon {
	struct options opt;
	int argc;                  /* argv kept for reloads */
	char **argv;
	struct vm_engine *engine;
	struct loop loop;
	struct listener *listener;
	struct clients clients;
	struct dispatch dp;
	struct http_window *http;  /* NULL: the window is off */
	struct state *state;       /* NULL: nothing persists */
	struct vm_config machine;  /* what the options ask the machine to be */
	char last_status[256];     /* the STATUS= line last sent */
};

/* ---- notify.c --------------------------------------------------------------------------------- */

/* READY=1 with the STATUS= line.  Every notify_* call is a no-op without
 * $NOTIFY_SOCKET, and none can fail. */
void notify_ready(struct daemon *d);
/* STATUS= if the one-line usage summary changed since the last one sent. */
void notify_status(struct daemon *d);
void notify_stopping(void);
void notify_reloading(void);
void notify_watchdog(void);
/* systemd's watchdog interval in microseconds, 0 if none. */
uint64_t notify_watchdog_usec(void);

#endif /* VMALLOCD_H */
