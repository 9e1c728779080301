/* vmreplay.c -- replay an allocation trace in process, on a fresh simulated
 * machine (or one per kernel, side by side), and report what happened
 * (vmreplay(1)).
 *
 * A machine is made once the trace's header is read, because the trace
 * says how many CPUs it came from, and the CPU count sets lazy_max_pages
 * and, on 6.18, the vmap nodes.  Where the trace records addresses, the
 * trace is read once more first to infer the state its kernel was in when
 * the capture began (prestate.h), which the replay builds before the first
 * event.  Reading, the inference, the replay and the report are libvmtrace's;
 * this file owns the options, the machines, the files written along the
 * way, the progress line, Ctrl-C and the plot.
 *
 * Deferred work (6.18's purge) runs where vmallocd runs it: at the start of
 * the machine's next allocator call, and before the machine is looked at
 * (a series row, the report), as the daemon runs it once a pass's replies
 * are out.  So vmctl replay, through the daemon, reports the same.
 *
 * Exit status: 0 when the whole trace was replayed (failed calls are part of
 * the report, not errors), 1 when a malformed line or an I/O error stopped
 * it (the report so far is printed), 2 for a usage error, 130 after SIGINT
 * (the report so far is printed).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "native.h"
#include "output.h"
#include "plot.h"
#include "prestate.h"
#include "reader.h"
#include "replay.h"
#include "replay_engine.h"
#include "report.h"
#include "size.h"
#include "vmcore.h"

#ifndef VMREPLAY_VERSION
#define VMREPLAY_VERSION "0"
#endif

#define SERIES_EVERY_DEFAULT 1000
#define MAX_KERNELS 2

/* The machine, as the options and the trace choose it. */
struct machine_opts {
	uint64_t memory;
	enum vm_layout layout;
	unsigned nodes;
	uint64_t lazy_max_pages;        /* 0: from the CPU count */
	unsigned cpus;                  /* --cpus, else the trace's, else 1 */
	char cpus_from[64];
	char lazy_max_from[64];
};

/* --events: the log file, and its first write error. */
struct outputs {
	FILE *events;
	int err;
};

/* One machine replaying the trace. */
struct run {
	enum vm_kernel kernel;
	struct machine_opts mo;
	struct vm_engine *engine;
	struct vr_engine ctx;
	struct vt_backend backend;
	struct vt_replay *replay;
	struct vt_prestate *start;
	struct vt_machine_state *final;
	struct vr_plot_series plot;     /* --plot: its samples */
	bool plotting;
	struct outputs *outs;           /* --events: the log (the first replay's) */
	double replay_s, start_s;       /* time in its replay; reading for its start state */
};

static struct machine_opts arg_machine = {
	.memory = 1ull << 30,
	.layout = VM_LAYOUT_X86_64,
	.nodes = 1,
};
static enum vm_kernel arg_kernels[MAX_KERNELS] = { VM_KERNEL_6_18 };
static unsigned arg_nr_kernels = 1;
static bool arg_compare;
static struct vt_reader_opts arg_reader;
static struct vt_replay_opts arg_replay;
static bool arg_start_state = true;
static bool arg_json;
static const char *arg_events;
static const char *arg_series;
static uint64_t arg_series_every = SERIES_EVERY_DEFAULT;
static const char *arg_save;
static const char *arg_plot;
static bool arg_parse_only;
static int arg_progress = -1;           /* -1: on a terminal */

static volatile sig_atomic_t g_stop;

static void on_sigint(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vmreplay [OPTIONS] FILE|-\n"
		"Replay an allocation trace on a fresh simulated machine, in process, and\n"
		"report what the machine did.\n"
		"\n"
		"Options:\n"
		"  --format NAME        ftrace, bpftrace, malloclab, mtrace or native (auto)\n"
		"  --kernel VERSION     the machine's kernel: 6.18 or 4.19 (6.18)\n"
		"  --cpus N             simulated CPUs (the trace's #P:, else 1)\n"
		"  --memory SIZE        simulated RAM (1G)\n"
		"  --layout NAME        x86_64 or i386 (x86_64)\n"
		"  --nodes N            NUMA nodes (1)\n"
		"  --lazy-max SIZE      lazily freed KVA before a purge (fls(CPUs) x 32M)\n"
		"  --no-start-state     start from an empty machine, not from the state the\n"
		"                       trace's kernel was in when the capture began\n"
		"  --warm               with --no-start-state: seed the lazy backlog from the\n"
		"                       first free's nr_lazy\n"
		"  --compare K1,K2      replay on each kernel and report side by side\n"
		"  --plot FILE.png      draw the series of each replay (gnuplot)\n"
		"  --skip-bad           count and skip malformed lines instead of stopping\n"
		"  --json               print the report as JSON\n"
		"  --events FILE        write one JSON object per replayed event\n"
		"  --series FILE        write a CSV time series of the machine\n"
		"  --series-every K     events between two rows of the series (1000)\n"
		"  --save FILE          write the events in the native format\n"
		"  --parse-only         read (and --save) the trace without replaying it\n"
		"  --progress           show progress on stderr (on a terminal)\n"
		"  --no-progress        never show progress\n"
		"  --help               show this help and exit\n"
		"  --version            show the version and exit\n");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned fls_u(unsigned v)
{
	unsigned n = 0;

	while (v) {
		n++;
		v >>= 1;
	}
	return n;
}

/* ---- progress ------------------------------------------------------------- */

struct progress {
	bool on;
	double start, last;
	bool shown;
	const char *what;               /* "" while replaying, else the pass's name */
	struct vt_reader *reader;
};

static void progress_update(struct progress *p, uint64_t events, bool final)
{
	double t = now_s(), rate;
	uint64_t off = p->reader ? vt_reader_offset(p->reader) : 0;
	uint64_t size = p->reader ? vt_reader_size(p->reader) : 0;

	if (!p->on || (!final && t - p->last < 0.25))
		return;
	p->last = t;
	if (final) {
		if (p->shown)
			fprintf(stderr, "\r\033[K");
		return;
	}
	rate = t > p->start ? (double)events / (t - p->start) : 0;
	fprintf(stderr, "\r\033[Kvmreplay: %s%" PRIu64 " events, %.0f events/s", p->what, events,
		rate);
	if (size && off <= size && off > 0) {
		double frac = (double)off / (double)size;

		fprintf(stderr, ", %.0f %%, about %.0f s left", frac * 100,
			(t - p->start) * (1 - frac) / frac);
	}
	p->shown = true;
}

static void scan_progress(void *ctx, uint64_t events)
{
	progress_update(ctx, events, false);
}

/* ---- the event log and the plot's points ------------------------------------ */

static void on_result(void *ctx, const struct vt_call *c, int status, uint64_t result)
{
	struct run *rn = ctx;
	struct outputs *o = rn->outs;

	if (o && o->events && !o->err)
		o->err = vt_eventlog_write(o->events, c, status, result);
	if (rn->plotting && c->kind == VT_CALL_ALLOC && status == 0 &&
	    (c->ev_flags & VT_EV_ADDR) && c->key >= rn->final->vmalloc_start &&
	    c->key < rn->final->vmalloc_end)
		vr_plot_add_point(&rn->plot, &(struct vr_plot_point){
			.event = c->i, .trace_off = c->key - rn->final->vmalloc_start,
			.off = result - rn->final->vmalloc_start });
}

static FILE *open_out(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		fprintf(stderr, "vmreplay: %s: %s\n", path, strerror(errno));
	return f;
}

static int close_out(FILE *f, const char *path)
{
	if (!f)
		return 0;
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, "vmreplay: %s: write error\n", path);
		return -EIO;
	}
	return 0;
}

/* ---- the machines --------------------------------------------------------- */

static void log_engine(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;          /* allocation failures are in the report */
}

static void machine_opts_for(const struct vt_trace_info *info, struct machine_opts *mo)
{
	*mo = arg_machine;
	if (mo->cpus) {
		snprintf(mo->cpus_from, sizeof(mo->cpus_from), "--cpus");
	} else if (info->cpus) {
		mo->cpus = info->cpus;
		snprintf(mo->cpus_from, sizeof(mo->cpus_from), "the trace's");
	} else {
		mo->cpus = 1;
		snprintf(mo->cpus_from, sizeof(mo->cpus_from), "the trace does not say");
	}
	if (!mo->lazy_max_pages) {
		/* The kernel's lazy_max_pages(): fls(num_online_cpus()) * 32 MiB. */
		mo->lazy_max_pages = (uint64_t)fls_u(mo->cpus) * ((32ull << 20) >> VM_PAGE_SHIFT);
		snprintf(mo->lazy_max_from, sizeof(mo->lazy_max_from), "fls(%u) x 32 MiB", mo->cpus);
	} else {
		snprintf(mo->lazy_max_from, sizeof(mo->lazy_max_from), "--lazy-max");
	}
}

static int make_machine(struct run *rn, const struct vt_trace_info *info)
{
	struct vm_config cfg;
	int r;

	machine_opts_for(info, &rn->mo);
	vm_config_init(&cfg);
	cfg.memory_bytes = rn->mo.memory;
	cfg.layout = rn->mo.layout;
	cfg.nr_nodes = rn->mo.nodes;
	cfg.kernel = rn->kernel;
	cfg.nr_cpus = rn->mo.cpus;
	cfg.lazy_max_pages = rn->mo.lazy_max_pages;
	cfg.log = log_engine;
	r = vm_engine_create(&cfg, &rn->engine);
	if (r < 0) {
		fprintf(stderr, "vmreplay: cannot make the machine (kernel %s; --memory, --layout, "
			"--nodes, --cpus): %s\n", vm_kernel_name(rn->kernel), strerror(-r));
		return r;
	}
	vr_backend_engine(&rn->backend, &rn->ctx, rn->engine);
	return 0;
}

/* The machine now, with its deferred work run first, as the daemon runs it
 * before anyone can look. */
static void machine_state(struct run *rn)
{
	vm_run_deferred_work(rn->engine);
	rn->backend.state(rn->backend.ctx, true, rn->final);
	vt_replay_own_counts(rn->replay, rn->final);
}

/* Why the start state cannot be built from this input, or NULL. */
static const char *start_state_impossible(const char *input)
{
	struct stat st;

	if (!arg_start_state)
		return "--no-start-state";
	if (strcmp(input, "-") == 0 || stat(input, &st) < 0 || !S_ISREG(st.st_mode))
		return "the trace is not a file that can be read twice: --save it first";
	return NULL;
}

/* Read the trace once more and infer its start state for rn's machine.
 * 0, or the reader's error (message printed). */
static int infer_start(struct run *rn, const char *input, struct progress *prog)
{
	struct vt_prestate_machine pm;
	struct vt_machine_state *m = calloc(1, sizeof(*m));
	struct vt_reader *rd = NULL;
	char msg[VT_MSG_MAX] = "";
	double t0 = now_s();
	int r;

	if (!m)
		return -ENOMEM;
	rn->backend.state(rn->backend.ctx, false, m);
	vt_prestate_machine_of(m, &pm);
	free(m);
	r = vt_reader_open(input, &arg_reader, &rd, msg);
	if (r < 0) {
		fprintf(stderr, "vmreplay: %s\n", msg[0] ? msg : strerror(-r));
		return r;
	}
	prog->what = "start state: ";
	prog->reader = rd;
	prog->start = now_s();
	r = vt_prestate_scan(rd, &pm, scan_progress, prog, &rn->start);
	if (r < 0)
		fprintf(stderr, "vmreplay: start state: %s\n", strerror(-r));
	progress_update(prog, 0, true);
	prog->what = "";
	prog->reader = NULL;
	vt_reader_close(rd);
	rn->start_s = now_s() - t0;
	return r;
}

/* Why an inferred start state is empty, or NULL if it is not. */
static const char *start_state_empty(const struct vt_prestate *ps)
{
	const struct vt_prestate_stats *st = vt_prestate_stats(ps);
	uint64_t n;

	vt_prestate_ranges(ps, &n);
	if (n || st->backlog_pages)
		return NULL;
	return st->outside ? "the trace's addresses are outside the machine's vmalloc range"
			   : "the trace records no addresses";
}

static void run_done(struct run *rn)
{
	vr_plot_series_done(&rn->plot);
	free(rn->final);
	vt_replay_free(rn->replay);
	vt_prestate_free(rn->start);
	vm_engine_destroy(rn->engine);
}

/* ---- options ---------------------------------------------------------------- */

enum {
	OPT_FORMAT = 256, OPT_MEMORY, OPT_LAYOUT, OPT_NODES, OPT_LAZY_MAX, OPT_WARM, OPT_SKIP_BAD,
	OPT_JSON, OPT_EVENTS, OPT_SERIES, OPT_SERIES_EVERY, OPT_SAVE, OPT_PARSE_ONLY,
	OPT_PROGRESS, OPT_NO_PROGRESS, OPT_VERSION, OPT_KERNEL, OPT_CPUS, OPT_COMPARE, OPT_PLOT,
	OPT_NO_START_STATE,
};

static int parse_kernels(const char *s)
{
	char buf[64], *save = NULL, *tok;
	unsigned n = 0;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == MAX_KERNELS || vm_kernel_from_name(tok, &arg_kernels[n]) < 0)
			return -1;
		for (unsigned i = 0; i < n; i++)
			if (arg_kernels[i] == arg_kernels[n])
				return -1;
		n++;
	}
	if (n != MAX_KERNELS)
		return -1;
	arg_nr_kernels = n;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "layout", required_argument, NULL, OPT_LAYOUT },
		{ "nodes", required_argument, NULL, OPT_NODES },
		{ "lazy-max", required_argument, NULL, OPT_LAZY_MAX },
		{ "no-start-state", no_argument, NULL, OPT_NO_START_STATE },
		{ "warm", no_argument, NULL, OPT_WARM },
		{ "compare", required_argument, NULL, OPT_COMPARE },
		{ "plot", required_argument, NULL, OPT_PLOT },
		{ "skip-bad", no_argument, NULL, OPT_SKIP_BAD },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "events", required_argument, NULL, OPT_EVENTS },
		{ "series", required_argument, NULL, OPT_SERIES },
		{ "series-every", required_argument, NULL, OPT_SERIES_EVERY },
		{ "save", required_argument, NULL, OPT_SAVE },
		{ "parse-only", no_argument, NULL, OPT_PARSE_ONLY },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	bool have_kernel = false;
	uint64_t v;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_FORMAT:
			if (vt_format_from_name(optarg, &arg_reader.format) < 0) {
				fprintf(stderr, "vmreplay: --format: unknown format '%s'\n", optarg);
				return -1;
			}
			break;
		case OPT_KERNEL:
			if (vm_kernel_from_name(optarg, &arg_kernels[0]) < 0) {
				fprintf(stderr, "vmreplay: --kernel: expected 6.18 or 4.19, got '%s'\n",
					optarg);
				return -1;
			}
			have_kernel = true;
			break;
		case OPT_CPUS:
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || v < 1 || v > VM_MAX_CPUS) {
				fprintf(stderr, "vmreplay: --cpus: expected 1..%d, got '%s'\n",
					VM_MAX_CPUS, optarg);
				return -1;
			}
			arg_machine.cpus = (unsigned)v;
			break;
		case OPT_COMPARE:
			if (parse_kernels(optarg) < 0) {
				fprintf(stderr, "vmreplay: --compare: expected two different kernels, "
					"e.g. 4.19,6.18, got '%s'\n", optarg);
				return -1;
			}
			arg_compare = true;
			break;
		case OPT_PLOT:
			arg_plot = optarg;
			break;
		case OPT_NO_START_STATE:
			arg_start_state = false;
			break;
		case OPT_MEMORY:
			if (cv_parse_size(optarg, &arg_machine.memory) < 0) {
				fprintf(stderr, "vmreplay: --memory: bad size '%s'\n", optarg);
				return -1;
			}
			break;
		case OPT_LAYOUT:
			if (vm_layout_from_name(optarg, &arg_machine.layout) < 0) {
				fprintf(stderr, "vmreplay: --layout: unknown layout '%s'\n", optarg);
				return -1;
			}
			break;
		case OPT_NODES:
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || v < 1 || v > VM_MAX_NODES) {
				fprintf(stderr, "vmreplay: --nodes: expected 1..%d, got '%s'\n",
					VM_MAX_NODES, optarg);
				return -1;
			}
			arg_machine.nodes = (unsigned)v;
			break;
		case OPT_LAZY_MAX:
			if (cv_parse_size(optarg, &v) < 0 || v < VM_PAGE_SIZE) {
				fprintf(stderr, "vmreplay: --lazy-max: bad size '%s'\n", optarg);
				return -1;
			}
			arg_machine.lazy_max_pages = v >> VM_PAGE_SHIFT;
			break;
		case OPT_WARM:
			arg_replay.warm = true;
			break;
		case OPT_SKIP_BAD:
			arg_reader.skip_bad = true;
			break;
		case OPT_JSON:
			arg_json = true;
			break;
		case OPT_EVENTS:
			arg_events = optarg;
			break;
		case OPT_SERIES:
			arg_series = optarg;
			break;
		case OPT_SERIES_EVERY:
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || v < 1) {
				fprintf(stderr, "vmreplay: --series-every: expected a positive number, "
					"got '%s'\n", optarg);
				return -1;
			}
			arg_series_every = v;
			break;
		case OPT_SAVE:
			arg_save = optarg;
			break;
		case OPT_PARSE_ONLY:
			arg_parse_only = true;
			break;
		case OPT_PROGRESS:
			arg_progress = 1;
			break;
		case OPT_NO_PROGRESS:
			arg_progress = 0;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("vmreplay %s\n", VMREPLAY_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vmreplay: expected one trace file (or - for stdin)\n");
		usage(stderr);
		return -1;
	}
	if (arg_parse_only && (arg_events || arg_series || arg_replay.warm || arg_compare ||
			       arg_plot)) {
		fprintf(stderr, "vmreplay: --parse-only replays nothing: no --events, --series, "
			"--warm, --compare or --plot\n");
		return -1;
	}
	if (arg_compare && have_kernel) {
		fprintf(stderr, "vmreplay: --compare names the kernels: no --kernel with it\n");
		return -1;
	}
	if (arg_compare && arg_events) {
		fprintf(stderr, "vmreplay: --events logs one replay: not with --compare\n");
		return -1;
	}
	if (arg_replay.warm && arg_start_state) {
		/* The start state seeds the backlog itself. */
		arg_replay.warm = false;
	}
	return 0;
}

/* The summary of --parse-only: what the trace holds. */
static void print_parsed(const char *input, const struct vt_trace_info *info,
			 const uint64_t *by_op, uint64_t events, double elapsed)
{
	printf("trace: %s (%s", input, vt_format_name(info->format));
	if (info->kernel[0])
		printf(", kernel %s", info->kernel);
	printf("), %" PRIu64 " %s, %u CPUs\n", info->lines,
	       info->format == VT_FMT_NATIVE ? "records" : "lines", info->cpus);
	printf("events: %" PRIu64 " in %.3f s (%.0f events/s)\n", events, elapsed,
	       elapsed > 0 ? (double)events / elapsed : 0);
	for (unsigned op = 0; op < VT_NR_OPS; op++)
		printf("  %-12s %10" PRIu64 "\n", vt_op_name((enum vt_op)op), by_op[op]);
	printf("skipped: %" PRIu64 " lines of other events, %" PRIu64 " bad lines, %" PRIu64
	       " lost events\n", info->other_events, info->bad_lines, info->lost_events);
	if (info->bad_lines)
		printf("  first bad line: %s\n", info->bad_first);
}

/* ---- series and plot ------------------------------------------------------------- */

static int series_row(FILE *f, const struct run *rn, uint64_t events)
{
	if (arg_compare)
		fprintf(f, "%s,", vm_kernel_name(rn->kernel));
	return vt_series_row(f, events, rn->final);
}

static int series_header(FILE *f)
{
	if (arg_compare)
		fprintf(f, "kernel,");
	return vt_series_header(f);
}

static void plot_row(struct run *rn, uint64_t events)
{
	const struct vt_replay_stats *st = vt_replay_stats(rn->replay);

	vr_plot_add_row(&rn->plot, &(struct vr_plot_row){
		.event = events, .vmalloc_kb = rn->final->vmalloc_pages * 4,
		.lazy_pages = rn->final->lazy_pages, .pooled_pages = rn->final->pooled_pages,
		.purges = rn->final->nr_purges, .agree = st->placement_agree,
		.pairs = st->placement_pairs });
}

static int draw(const char *input, struct run *runs, unsigned n, bool started)
{
	struct vr_plot_series s[MAX_KERNELS];
	char title[512];
	const char *base = strrchr(input, '/');
	int r;

	for (unsigned i = 0; i < n; i++)
		s[i] = runs[i].plot;
	snprintf(title, sizeof(title), "vmreplay %s: kernel %s%s, %u CPU%s, %s",
		 base ? base + 1 : input, vm_kernel_name(runs[0].kernel),
		 n > 1 ? " against 6.18" : "", runs[0].mo.cpus, runs[0].mo.cpus == 1 ? "" : "s",
		 started ? "from the start state inferred from the trace" : "from an empty machine");
	if (n > 1)
		snprintf(title, sizeof(title), "vmreplay %s: kernels %s and %s, %u CPU%s, %s",
			 base ? base + 1 : input, vm_kernel_name(runs[0].kernel),
			 vm_kernel_name(runs[1].kernel), runs[0].mo.cpus,
			 runs[0].mo.cpus == 1 ? "" : "s",
			 started ? "each from the start state inferred from the trace"
				 : "each from an empty machine");
	r = vr_plot(arg_plot, title, s, n);
	if (r == -ENOENT)
		fprintf(stderr, "vmreplay: --plot: cannot run gnuplot (Debian: apt install "
			"gnuplot-nox)\n");
	else if (r < 0)
		fprintf(stderr, "vmreplay: --plot: gnuplot failed to draw %s: %s\n", arg_plot,
			strerror(-r));
	return r;
}

/* ---- main ----------------------------------------------------------------- */

static int read_next(struct vt_reader *reader, struct vt_event *ev)
{
	int r;

	for (;;) {
		r = vt_reader_next(reader, ev);
		if (r == -EINTR && !g_stop)
			continue;
		return r;
	}
}

int main(int argc, char **argv)
{
	struct vt_reader *reader = NULL;
	struct vt_writer *writer = NULL;
	struct run runs[MAX_KERNELS];
	unsigned nr_runs = 0;
	struct outputs outs = { 0 };
	FILE *series = NULL;
	struct progress prog = { 0 };
	struct sigaction sa;
	char msg[VT_MSG_MAX] = "";
	const char *input, *stopped = NULL, *start_off = NULL;
	uint64_t by_op[VT_NR_OPS] = { 0 }, events = 0;
	bool have_event = false;
	struct vt_event ev;
	double start;
	int status = 0, r;

	memset(runs, 0, sizeof(runs));
	if (parse_args(argc, argv) < 0)
		return 2;
	input = argv[optind];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;      /* no SA_RESTART: a blocked read returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = vt_reader_open(input, &arg_reader, &reader, msg);
	if (r < 0) {
		fprintf(stderr, "vmreplay: %s\n", msg[0] ? msg : strerror(-r));
		return 1;
	}
	if (arg_save && vt_writer_open(arg_save, vt_reader_info(reader), &writer, msg) < 0) {
		fprintf(stderr, "vmreplay: --save: %s\n", msg);
		vt_reader_close(reader);
		return 1;
	}
	prog.on = arg_progress == 1 || (arg_progress == -1 && isatty(2));
	prog.what = "";
	start = prog.start = prog.last = now_s();

	/* The first event, so that the header (the CPU count) is known. */
	r = read_next(reader, &ev);
	if (r == 1)
		have_event = true;
	else if (r < 0 && r != -EINTR)
		stopped = vt_reader_error(reader)[0] ? vt_reader_error(reader) : strerror(-r);

	if (!arg_parse_only) {
		start_off = start_state_impossible(input);
		for (nr_runs = 0; nr_runs < arg_nr_kernels; nr_runs++) {
			struct run *rn = &runs[nr_runs];
			struct vt_replay_opts ro = arg_replay;

			rn->kernel = arg_kernels[nr_runs];
			rn->final = calloc(1, sizeof(*rn->final));
			if (!rn->final) {
				fprintf(stderr, "vmreplay: %s\n", strerror(ENOMEM));
				status = 1;
				goto out;
			}
			if (make_machine(rn, vt_reader_info(reader)) < 0) {
				status = 1;
				nr_runs++;
				goto out;
			}
			if (!start_off && infer_start(rn, input, &prog) < 0) {
				status = 1;
				nr_runs++;
				goto out;
			}
			if (rn->start && (start_off = start_state_empty(rn->start))) {
				vt_prestate_free(rn->start);
				rn->start = NULL;
			}
			ro.start = rn->start;
			r = vt_replay_new(&rn->backend, &ro, &rn->replay);
			if (r == 0 && rn->start) {
				double t0 = now_s();

				r = vt_replay_build_start(rn->replay);
				rn->start_s += now_s() - t0;
			}
			if (r < 0) {
				fprintf(stderr, "vmreplay: %s\n", strerror(-r));
				status = 1;
				nr_runs++;
				goto out;
			}
			if (arg_plot) {
				if (vr_plot_series_init(&rn->plot, vm_kernel_name(rn->kernel)) < 0) {
					fprintf(stderr, "vmreplay: %s\n", strerror(ENOMEM));
					status = 1;
					nr_runs++;
					goto out;
				}
				rn->plotting = true;
			}
			vt_replay_set_hook(rn->replay, on_result, rn);
		}
		if (arg_events && !(outs.events = open_out(arg_events))) {
			status = 1;
			goto out;
		}
		runs[0].outs = &outs;
		if (arg_series) {
			if (!(series = open_out(arg_series))) {
				status = 1;
				goto out;
			}
			series_header(series);
		}
		for (unsigned i = 0; i < nr_runs; i++) {
			/* The machine as the first event finds it (the plot's
			 * points need its vmalloc range). */
			machine_state(&runs[i]);
			if (series)
				series_row(series, &runs[i], 0);
			if (runs[i].plotting)
				plot_row(&runs[i], 0);
		}
		prog.start = now_s();
	}

	prog.reader = reader;
	while (have_event && !g_stop) {
		if (writer && vt_writer_write(writer, &ev) < 0) {
			stopped = vt_writer_error(writer);
			break;
		}
		for (unsigned i = 0; i < nr_runs; i++) {
			double t0 = nr_runs > 1 ? now_s() : 0;

			r = vt_replay_event(runs[i].replay, &ev);
			if (nr_runs > 1)
				runs[i].replay_s += now_s() - t0;
			if (r < 0) {
				stopped = strerror(-r);
				break;
			}
		}
		if (stopped)
			break;
		by_op[ev.op]++;
		events++;
		for (unsigned i = 0; i < nr_runs; i++) {
			bool row = series && events % arg_series_every == 0;
			bool prow = runs[i].plotting && vr_plot_row_due(&runs[i].plot, events);

			if (!row && !prow)
				continue;
			machine_state(&runs[i]);
			if (row)
				series_row(series, &runs[i], events);
			if (prow)
				plot_row(&runs[i], events);
		}
		if ((events & 4095) == 0)
			progress_update(&prog, events, false);
		r = read_next(reader, &ev);
		if (r == 1)
			continue;
		if (r < 0 && r != -EINTR)
			stopped = vt_reader_error(reader)[0] ? vt_reader_error(reader) : strerror(-r);
		break;
	}
	progress_update(&prog, events, true);
	if (stopped) {
		fprintf(stderr, "vmreplay: %s\n", stopped);
		status = 1;
	}
	if (g_stop)
		status = 130;

	if (arg_parse_only) {
		print_parsed(input, vt_reader_info(reader), by_op, events, now_s() - start);
	} else {
		struct vt_report reps[MAX_KERNELS];
		double elapsed = now_s() - start;

		for (unsigned i = 0; i < nr_runs; i++) {
			struct run *rn = &runs[i];

			machine_state(rn);
			if (series && events % arg_series_every)
				series_row(series, rn, events);
			if (rn->plotting)
				plot_row(rn, events);
			reps[i] = (struct vt_report){
				.input = input,
				.info = vt_reader_info(reader),
				.stats = vt_replay_stats(rn->replay),
				.final = rn->final,
				.machine = {
					.kernel = vm_kernel_name(rn->kernel),
					.cpus = rn->mo.cpus,
					.cpus_from = rn->mo.cpus_from,
					.memory_bytes = rn->mo.memory,
					.layout = vm_layout_name(rn->mo.layout),
					.nodes = rn->mo.nodes,
					.lazy_max_pages = rn->mo.lazy_max_pages,
					.lazy_max_from = rn->mo.lazy_max_from,
				},
				.elapsed_s = nr_runs > 1 ? rn->replay_s + rn->start_s : elapsed,
				.start_s = rn->start_s,
				.interrupted = g_stop != 0,
				.stopped = stopped,
				.start = rn->start ? vt_prestate_stats(rn->start) : NULL,
				.start_off = start_off,
			};
		}
		if (nr_runs > 1)
			r = arg_json ? vt_report_compare_json(stdout, reps, nr_runs)
				     : vt_report_compare_text(stdout, reps, nr_runs);
		else
			r = arg_json ? vt_report_json(stdout, &reps[0]) : vt_report_text(stdout, &reps[0]);
		if (r < 0 && !status)
			status = 1;
		if (outs.err) {
			fprintf(stderr, "vmreplay: %s: %s\n", arg_events, strerror(-outs.err));
			if (!status)
				status = 1;
		}
		if (arg_plot && nr_runs && draw(input, runs, nr_runs, runs[0].start != NULL) < 0 &&
		    !status)
			status = 1;
	}
out:
	if (close_out(outs.events, arg_events) < 0 && !status)
		status = 1;
	if (close_out(series, arg_series) < 0 && !status)
		status = 1;
	if (writer && vt_writer_close(writer, !stopped && !g_stop && !status) < 0) {
		fprintf(stderr, "vmreplay: --save: %s\n", arg_save);
		if (!status)
			status = 1;
	}
	if (fflush(stdout) != 0 && !status)
		status = 1;
	for (unsigned i = 0; i < nr_runs; i++)
		run_done(&runs[i]);
	vt_reader_close(reader);
	return status;
}
