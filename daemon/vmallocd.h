/* vmallocd.h -- the daemon's shared types: options, the daemon object, a
 * connection, per-uid accounting and the table of alloc_pages blocks.
 *
 * Ownership: struct daemon owns the engine, the listener, every connection
 * and the two tables; a connection owns its socket, events, buffers and arena.
 * Only the event loop thread touches any of it.
 */
#ifndef VMALLOCD_H
#define VMALLOCD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"
#include "iobuf.h"
#include "vmcore.h"

struct event_base;
struct event;
struct evconnlistener;

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
	struct quota_rule *quotas;
	unsigned nr_quotas;
	int log_level;            /* VM_LOG_* */
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

/* ---- logging (log.c) ------------------------------------------------------------ */

void log_set_level(int level);
void vmd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_engine(void *ctx, int level, const char *msg);

/* ---- accounting (account.c) -------------------------------------------------------- */

struct uid_account {
	uint32_t uid;
	uint64_t pages;           /* charged: vmalloc pages + alloc_pages frames */
};

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

void account_init(struct account *a);
void account_done(struct account *a);
uint64_t account_pages(const struct account *a, uint32_t uid);
/* Charge pages to uid if within quota (0: no quota): -EDQUOT, -ENOMEM. */
int account_charge(struct account *a, uint32_t uid, uint64_t pages, uint64_t quota);
void account_uncharge(struct account *a, uint32_t uid, uint64_t pages);
int account_add_block(struct account *a, const struct page_block *b);
/* The block whose frames include pfn, or NULL. */
struct page_block *account_find_block(struct account *a, uint64_t pfn);
struct page_block *account_get_block(struct account *a, uint64_t head_pfn);
void account_del_block(struct account *a, struct page_block *b);

/* objects.c: vm_map_ram mappings and per-CPU objects, by address. */
enum vmd_object_kind {
	VMD_OBJ_MAP_RAM = 1,
	VMD_OBJ_PERCPU = 2,
};

struct vmd_object {
	uint64_t addr;            /* the mapping's start, the object's CPU 0 copy; UINT64_MAX: empty */
	uint64_t count;           /* pages mapped, or bytes asked for */
	uint64_t charged;         /* pages charged to uid for it */
	uint64_t cookie;          /* connection id */
	uint32_t uid, pid;
	uint8_t kind;             /* enum vmd_object_kind */
	bool scoped;
	bool tomb;                /* deleted slot */
};

struct objects {
	struct vmd_object *v;
	size_t nr, nr_tombs, cap;  /* cap is a power of two */
};

void objects_init(struct objects *o);
void objects_done(struct objects *o);
/* -ENOMEM, nothing added. */
int objects_add(struct objects *o, const struct vmd_object *x);
/* The live object of that kind starting at addr, or NULL. */
struct vmd_object *objects_get(struct objects *o, uint64_t addr, enum vmd_object_kind kind);
void objects_del(struct objects *o, struct vmd_object *x);

/* ---- the daemon ------------------------------------------------------------------- */

struct conn {
	struct daemon *d;
	int fd;                    /* -1: none (tests drive dispatch directly) */
	struct event *read_ev;     /* persistent EV_READ, off while paused or closing */
	struct event *write_ev;    /* persistent EV_WRITE, on only while output waits */
	struct event *resume_ev;   /* more complete frames wait: run again next iteration */
	struct event *stall_ev;    /* partial frame timer; the last flush when closing */
	struct event *idle_ev;     /* idle timer, checked against last_read_usec */
	struct iobuf in;           /* bytes read and not yet handled (often empty) */
	struct iobuf out;          /* replies not yet written */
	struct conn *prev, *next;
	uint64_t id;               /* cookie stamped on this connection's areas */
	uint64_t last_read_usec;   /* now_usec() of the last bytes read */
	uint32_t uid, pid;
	uint32_t proto_version;    /* from its Hello; 0: none yet, version 1's rules */
	uint64_t nr_scoped;        /* scoped areas and blocks it made (an upper bound) */
	bool closing;              /* flush the output, then close */
	bool read_paused;          /* output over the limit */
	bool writing;              /* write_ev is added */
	bool eof;                  /* the peer sends no more */
	bool close_armed;          /* the closing timer runs */
	struct vmd_arena arena;
	uint8_t *scratch;          /* vread target, up to VMD_MAX_IO */
	size_t scratch_cap;
};

struct daemon {
	struct options opt;
	int argc;                  /* argv kept for reloads */
	char **argv;
	struct vm_engine *engine;
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *sig_term, *sig_int, *sig_hup, *sig_pipe;
	struct event *watchdog_ev, *status_ev;
	struct event *accept_retry_ev; /* re-enables the listener after EMFILE */
	bool accept_failing;       /* accept() is failing: backing off */
	uint64_t watchdog_usec;
	char *bound_path;          /* a socket we created and must unlink */
	struct conn *conns;
	unsigned nr_conns;
	uint8_t *rbuf;             /* shared first landing place of every read */
	size_t rbuf_cap;
	uint64_t next_conn_id;
	uint64_t nr_requests, nr_errors, nr_connections;
	uint64_t start_usec;
	struct account acct;
	struct objects objs;       /* vm_map_ram mappings and per-CPU objects */
	unsigned delayed_ticks;    /* seconds delayed work has waited (kvfree_rcu's 5 s) */
	char last_status[256];
	int exit_code;
};

/* loop.c */
/* A connection for fd (-1: none, for tests) from uid/pid, linked into d;
 * events created, nothing enabled.  NULL if out of memory (fd is closed).
 * Replies to the frames given to dispatch_frame() queue in c->out. */
struct conn *conn_new(struct daemon *d, int fd, uint32_t uid, uint32_t pid);
int daemon_listen(struct daemon *d);
int daemon_loop_init(struct daemon *d);
void daemon_loop_done(struct daemon *d);
int daemon_run(struct daemon *d);
void conn_close(struct conn *c);

/* dispatch.c: handle one frame's payload; the reply goes to c's output.
 * Returns 0, or -EPIPE when the connection must close after flushing. */
int dispatch_frame(struct conn *c, const uint8_t *payload, size_t len);
/* Send an error reply with id 0 (no request could be parsed). */
void reply_error(struct conn *c, uint64_t id, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Free what a closing connection scoped. */
void dispatch_release_scoped(struct conn *c);
/* One-line usage summary for STATUS=. */
void daemon_status_line(struct daemon *d, char *buf, size_t len);
uint64_t now_usec(void);

/* notify.c */
void notify_ready(struct daemon *d);
void notify_status(struct daemon *d);
void notify_stopping(void);
void notify_reloading(void);
void notify_watchdog(void);
uint64_t notify_watchdog_usec(void);

#endif /* VMALLOCD_H */
