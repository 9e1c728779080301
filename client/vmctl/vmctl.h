/* vmctl.h -- what the files of vmctl share: the command table entry, the
 * global options, argument parsing, reporting (results and errors, in text
 * or JSON) and the one connection.
 *
 * Exit status, for every command: 0 success; 1 the daemon refused the call
 * or could not be reached (VMCTL_EXIT_FAILED); 2 a usage error, nothing was
 * sent (VMCTL_EXIT_USAGE).  A failure is one line on stderr, "vmctl: ",
 * then the daemon's reason; with --json it is a JSON object on stdout
 * instead, as every result is.
 */
#ifndef VMCTL_H
#define VMCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "vmclient.h"

#ifndef VMC_VERSION
#define VMC_VERSION "0"
#endif

#define VMCTL_EXIT_OK     0
#define VMCTL_EXIT_FAILED 1
#define VMCTL_EXIT_USAGE  2

struct cmd {
	const char *name;
	int (*fn)(const struct cmd *cmd, int argc, char **argv);
	const char *args;          /* usage after the name */
	const char *help;          /* one line */
	const char *details;       /* options, or NULL */
};

/* ---- global options (main.c) --------------------------------------------------- */

extern const char *arg_socket;     /* --socket, NULL: the default */
extern bool arg_json;              /* --json */
extern bool arg_human;             /* -h, --human */
extern int arg_timeout_ms;         /* --timeout */

/* ---- arguments (args.c) ----------------------------------------------------------- */

/* Ids of the options the commands take (getopt's val). */
enum {
	OPT_JSON = 0x100, OPT_SOCKET, OPT_TIMEOUT, OPT_HUMAN, OPT_HELP,
	OPT_ZERO, OPT_NODE, OPT_ALIGN, OPT_USER, OPT_DMA32, OPT_SCOPED, OPT_GFP,
	OPT_NO_GUARD, OPT_CALLER, OPT_HEX, OPT_PROT, OPT_COUNT, OPT_INTERVAL,
	OPT_LEAKED, OPT_BATCH, OPT_QUIET, OPT_ORDER, OPT_HEAD,
	OPT_OUT, OPT_TERM, OPT_RANGE, OPT_PFNS, OPT_CELLS, OPT_BINS,
};

/* The options every command takes, to end each command's table. */
#define COMMON_OPTS \
	{ "json", no_argument, NULL, OPT_JSON }, \
	{ "socket", required_argument, NULL, OPT_SOCKET }, \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT }, \
	{ "human", no_argument, NULL, OPT_HUMAN }, \
	{ "help", no_argument, NULL, OPT_HELP }, \
	{ NULL, 0, NULL, 0 }

extern const struct option common_only[];

/* A command's own option: 0 if taken, -1 if it is not one of the command's
 * (reported here as a usage error), or an exit status to leave with (the
 * function reported why). */
typedef int opt_fn(const struct cmd *cmd, int opt, const char *optarg, void *ctx);

/* Parse a command's arguments: options (its own through opt_fn, the common
 * ones here, anywhere on the line) and between min and max positional
 * arguments into pos[].  A negative number is an argument, not an option.
 * Returns the number of positional arguments; a usage error or --help
 * exits. */
int positional(const struct cmd *cmd, int argc, char **argv, const struct option *opts,
	       opt_fn *fn, void *ctx, char **pos, int min, int max);

/* Argument parsers: 0, or a usage error (message naming the argument as
 * what, exit status 2) that the caller returns.  An address or pfn is 0x
 * hex or decimal; a size takes K/M/G/T suffixes and fractions ("1.5M"). */
int arg_u64(const struct cmd *cmd, const char *what, const char *s, uint64_t *ret);
int arg_size(const struct cmd *cmd, const char *what, const char *s, uint64_t *ret);
int arg_long(const struct cmd *cmd, const char *what, const char *s, long min, long max,
	     long *ret);
/* Seconds with a fraction ("0.5"), more than 0 and at most a day, in ms. */
int arg_seconds(const struct cmd *cmd, const char *what, const char *s, unsigned *ret_ms);

/* ---- results and errors (report.c) ------------------------------------------------- */

/* A usage error: one line (or a JSON error object), exit status 2. */
int usage_err(const struct cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A refused or failed call of cmd on arg (NULL: none): one line with the
 * daemon's reason, or a JSON error object.  Returns the exit status 1. */
int fail(const struct cmd *cmd, const char *arg, int err);
/* The same for a call on another connection than client()'s. */
int fail_with(const struct cmd *cmd, struct vmc_client *c, const char *arg, int err);
/* Connecting failed with err: one line naming the socket tried and what to
 * check (is vmallocd running, the vmalloc group).  Returns 1. */
int connect_failed(const struct cmd *cmd, int err);

/* The connection, made on first use.  If it cannot be made, says what to
 * check and exits 1. */
struct vmc_client *client(const struct cmd *cmd);
/* The connection, if one was made. */
struct vmc_client *client_if_open(void);
void client_close(void);

/* JSON building: "0x..." strings for addresses and pfns (one form in text
 * and JSON), thousandths as numbers with three decimals. */
json_object *jhex(uint64_t v);
json_object *jmilli(int v);
void jput(json_object *o, const char *k, json_object *v);
/* Print o (pretty, or compact on one line for streams) and drop it. */
void jprint(json_object *o);
void jprint_line(json_object *o);

/* bytes for a person: "1.5Mi" with --human, else the plain number.
 * buf holds at least 24 bytes. */
const char *size_text(uint64_t bytes, char *buf);

/* A struct vmc_area as JSON. */
json_object *area_json(const struct vmc_area *a);

/* ---- hexdump.c ----------------------------------------------------------------------- */

/* hexdump -C, streamed: identical full lines collapse into "*". */
struct hexdump {
	uint64_t off;              /* offset of line[0] */
	uint8_t line[16], prev[16];
	size_t fill;
	bool have_prev, starred;
};
void hd_feed(struct hexdump *h, const uint8_t *p, size_t n);
void hd_end(struct hexdump *h);

/* ---- repeat.c -------------------------------------------------------------------------- */

/* -i/--interval and --count for a query command. */
struct repeat {
	unsigned interval_ms;      /* 0: once */
	long count;                /* samples; 0: until interrupted */
};
/* Take the option if it is -i/--interval or --count (opt_fn). */
int repeat_opt(const struct cmd *cmd, int opt, const char *optarg, void *ctx);
/* Call sample(i) count times (forever if 0), interval_ms apart; a blank
 * line between text samples.  Stops at the first failure: its status. */
int repeat_run(const struct repeat *rp, int (*sample)(const struct cmd *cmd, long i, void *ctx),
	       const struct cmd *cmd, void *ctx);

/* ---- the commands ------------------------------------------------------------------ */

/* family.c */
int cmd_alloc(const struct cmd *cmd, int argc, char **argv);
int cmd_free(const struct cmd *cmd, int argc, char **argv);
int cmd_vunmap(const struct cmd *cmd, int argc, char **argv);
int cmd_realloc(const struct cmd *cmd, int argc, char **argv);
int cmd_vmap(const struct cmd *cmd, int argc, char **argv);
/* objects.c */
int cmd_map_ram(const struct cmd *cmd, int argc, char **argv);
int cmd_unmap_ram(const struct cmd *cmd, int argc, char **argv);
int cmd_percpu_alloc(const struct cmd *cmd, int argc, char **argv);
int cmd_percpu_free(const struct cmd *cmd, int argc, char **argv);
int cmd_kvfree_rcu(const struct cmd *cmd, int argc, char **argv);
int cmd_alloc_pages(const struct cmd *cmd, int argc, char **argv);
int cmd_free_pages(const struct cmd *cmd, int argc, char **argv);
/* data.c */
int cmd_read(const struct cmd *cmd, int argc, char **argv);
int cmd_write(const struct cmd *cmd, int argc, char **argv);
int cmd_translate(const struct cmd *cmd, int argc, char **argv);
/* areas.c */
int cmd_info(const struct cmd *cmd, int argc, char **argv);
int cmd_vmallocinfo(const struct cmd *cmd, int argc, char **argv);
int cmd_leaks(const struct cmd *cmd, int argc, char **argv);
/* Free every leaked area the caller may free (free --leaked). */
int free_leaked(const struct cmd *cmd);
/* queries.c */
int cmd_meminfo(const struct cmd *cmd, int argc, char **argv);
int cmd_buddyinfo(const struct cmd *cmd, int argc, char **argv);
int cmd_frag(const struct cmd *cmd, int argc, char **argv);
int cmd_stat(const struct cmd *cmd, int argc, char **argv);
int cmd_check(const struct cmd *cmd, int argc, char **argv);
int cmd_purge(const struct cmd *cmd, int argc, char **argv);
int cmd_snapshot(const struct cmd *cmd, int argc, char **argv);
/* top.c */
int cmd_top(const struct cmd *cmd, int argc, char **argv);
/* hello.c */
int cmd_hello(const struct cmd *cmd, int argc, char **argv);
int cmd_ping(const struct cmd *cmd, int argc, char **argv);
/* map.c */
int cmd_map(const struct cmd *cmd, int argc, char **argv);
/* Draw m to path (.png, .svg) or, path NULL, to stdout as a terminal
 * picture; title may be NULL.  0 or a negative errno. */
int map_draw(const struct vmc_map *m, const char *title, const char *path);
/* demo.c */
int cmd_demo(const struct cmd *cmd, int argc, char **argv);
/* test_vmalloc.c */
int cmd_test_vmalloc(const struct cmd *cmd, int argc, char **argv);
/* replay.c */
int cmd_replay(const struct cmd *cmd, int argc, char **argv);

#endif /* VMCTL_H */
