/* vmreplay.c -- replay an allocation trace in process, on a fresh simulated
 * machine, and report what happened (vmreplay(1)).
 *
 * The machine is made once the trace's header is read, because the trace
 * says how many CPUs it came from and lazy_max_pages follows from that, as
 * in the kernel.  Reading, replaying and the report are libvmtrace's; this
 * file owns the options, the machine, the files written along the way, the
 * progress line and Ctrl-C.
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
#include <time.h>
#include <unistd.h>

#include "native.h"
#include "output.h"
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

/* The machine, as the options and the trace choose it.  The simulated
 * kernel and its CPU count are chosen here too once the engine models more
 * than one kernel: cpus comes from the trace today. */
struct machine_opts {
	uint64_t memory;
	enum vm_layout layout;
	unsigned nodes;
	uint64_t lazy_max_pages;        /* 0: from the CPU count */
	unsigned cpus;                  /* the trace's, else 1 */
	char cpus_from[64];
	char lazy_max_from[64];
};

static struct machine_opts arg_machine = {
	.memory = 1ull << 30,
	.layout = VM_LAYOUT_X86_64,
	.nodes = 1,
};
static struct vt_reader_opts arg_reader;
static struct vt_replay_opts arg_replay;
static bool arg_json;
static const char *arg_events;
static const char *arg_series;
static uint64_t arg_series_every = SERIES_EVERY_DEFAULT;
static const char *arg_save;
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
		"  --memory SIZE        simulated RAM (1G)\n"
		"  --layout NAME        x86_64 or i386 (x86_64)\n"
		"  --nodes N            NUMA nodes (1)\n"
		"  --lazy-max SIZE      lazily freed KVA before a purge (fls(CPUs) x 32M)\n"
		"  --warm               seed the lazy backlog from the first free's nr_lazy\n"
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
};

static void progress_update(struct progress *p, struct vt_reader *r, uint64_t events, bool final)
{
	double t = now_s(), rate;
	uint64_t off = vt_reader_offset(r), size = vt_reader_size(r);

	if (!p->on || (!final && t - p->last < 0.25))
		return;
	p->last = t;
	if (final) {
		if (p->shown)
			fprintf(stderr, "\r\033[K");
		return;
	}
	rate = t > p->start ? (double)events / (t - p->start) : 0;
	fprintf(stderr, "\r\033[Kvmreplay: %" PRIu64 " events, %.0f events/s", events, rate);
	if (size && off <= size && off > 0) {
		double frac = (double)off / (double)size;

		fprintf(stderr, ", %.0f %%, about %.0f s left", frac * 100,
			(t - p->start) * (1 - frac) / frac);
	}
	p->shown = true;
}

/* ---- the event log -------------------------------------------------------- */

struct outputs {
	FILE *events;
	int err;
};

static void log_result(void *ctx, const struct vt_call *c, int status, uint64_t result)
{
	struct outputs *o = ctx;

	if (o->events && !o->err)
		o->err = vt_eventlog_write(o->events, c, status, result);
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

/* ---- the machine ---------------------------------------------------------- */

static void log_engine(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;          /* allocation failures are in the report */
}

static int make_machine(const struct vt_trace_info *info, struct vm_engine **ret_engine)
{
	struct machine_opts *mo = &arg_machine;
	struct vm_config cfg;
	int r;

	if (info->cpus) {
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
	vm_config_init(&cfg);
	cfg.memory_bytes = mo->memory;
	cfg.layout = mo->layout;
	cfg.nr_nodes = mo->nodes;
	cfg.lazy_max_pages = mo->lazy_max_pages;
	cfg.log = log_engine;
	r = vm_engine_create(&cfg, ret_engine);
	if (r < 0)
		fprintf(stderr, "vmreplay: cannot make the machine (--memory, --layout, --nodes): %s\n",
			strerror(-r));
	return r;
}

/* ---- main ----------------------------------------------------------------- */

enum {
	OPT_FORMAT = 256, OPT_MEMORY, OPT_LAYOUT, OPT_NODES, OPT_LAZY_MAX, OPT_WARM, OPT_SKIP_BAD,
	OPT_JSON, OPT_EVENTS, OPT_SERIES, OPT_SERIES_EVERY, OPT_SAVE, OPT_PARSE_ONLY,
	OPT_PROGRESS, OPT_NO_PROGRESS, OPT_VERSION,
};

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "layout", required_argument, NULL, OPT_LAYOUT },
		{ "nodes", required_argument, NULL, OPT_NODES },
		{ "lazy-max", required_argument, NULL, OPT_LAZY_MAX },
		{ "warm", no_argument, NULL, OPT_WARM },
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
	if (arg_parse_only && (arg_events || arg_series || arg_replay.warm)) {
		fprintf(stderr, "vmreplay: --parse-only replays nothing: no --events, --series "
			"or --warm\n");
		return -1;
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

int main(int argc, char **argv)
{
	struct vt_reader *reader = NULL;
	struct vt_writer *writer = NULL;
	struct vm_engine *engine = NULL;
	struct vt_replay *replay = NULL;
	struct vt_machine_state *final = NULL;
	struct vt_backend backend;
	struct outputs outs = { 0 };
	FILE *series = NULL;
	struct progress prog = { 0 };
	struct sigaction sa;
	char msg[VT_MSG_MAX] = "";
	const char *input, *stopped = NULL;
	uint64_t by_op[VT_NR_OPS] = { 0 }, events = 0;
	bool have_event = false;
	struct vt_event ev;
	double start;
	int status = 0, r;

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
	start = prog.start = prog.last = now_s();

	/* The first event, so that the header (the CPU count) is known. */
	for (;;) {
		r = vt_reader_next(reader, &ev);
		if (r == -EINTR && !g_stop)
			continue;
		break;
	}
	if (r == 1)
		have_event = true;
	else if (r < 0 && r != -EINTR)
		stopped = vt_reader_error(reader)[0] ? vt_reader_error(reader) : strerror(-r);

	if (!arg_parse_only) {
		if (make_machine(vt_reader_info(reader), &engine) < 0) {
			status = 1;
			goto out;
		}
		vr_backend_engine(&backend, engine);
		r = vt_replay_new(&backend, &arg_replay, &replay);
		if (r < 0) {
			fprintf(stderr, "vmreplay: %s\n", strerror(-r));
			status = 1;
			goto out;
		}
		if (arg_events && !(outs.events = open_out(arg_events))) {
			status = 1;
			goto out;
		}
		vt_replay_set_hook(replay, log_result, &outs);
		final = calloc(1, sizeof(*final));
		if (!final) {
			fprintf(stderr, "vmreplay: %s\n", strerror(ENOMEM));
			status = 1;
			goto out;
		}
		if (arg_series) {
			if (!(series = open_out(arg_series))) {
				status = 1;
				goto out;
			}
			vt_series_header(series);
			backend.state(backend.ctx, true, final);
			vt_series_row(series, 0, final);
		}
	}

	while (have_event && !g_stop) {
		if (writer && vt_writer_write(writer, &ev) < 0) {
			stopped = vt_writer_error(writer);
			break;
		}
		if (replay) {
			r = vt_replay_event(replay, &ev);
			if (r < 0) {
				stopped = strerror(-r);
				break;
			}
		}
		by_op[ev.op]++;
		events++;
		if (series && events % arg_series_every == 0) {
			backend.state(backend.ctx, true, final);
			vt_series_row(series, events, final);
		}
		if ((events & 4095) == 0)
			progress_update(&prog, reader, events, false);
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
	progress_update(&prog, reader, events, true);
	if (stopped) {
		fprintf(stderr, "vmreplay: %s\n", stopped);
		status = 1;
	}
	if (g_stop)
		status = 130;

	if (arg_parse_only) {
		print_parsed(input, vt_reader_info(reader), by_op, events, now_s() - start);
	} else {
		struct vt_report rep = {
			.input = input,
			.info = vt_reader_info(reader),
			.stats = vt_replay_stats(replay),
			.final = final,
			.machine = {
				.kernel = NULL,
				.cpus = arg_machine.cpus,
				.cpus_from = arg_machine.cpus_from,
				.memory_bytes = arg_machine.memory,
				.layout = vm_layout_name(arg_machine.layout),
				.nodes = arg_machine.nodes,
				.lazy_max_pages = arg_machine.lazy_max_pages,
				.lazy_max_from = arg_machine.lazy_max_from,
			},
			.elapsed_s = now_s() - start,
			.interrupted = g_stop != 0,
			.stopped = stopped,
		};

		/* What the kernel would have run by now (a purge a vfree queued):
		 * the daemon runs it after each pass too. */
		vm_run_deferred_work(engine);
		backend.state(backend.ctx, true, final);
		if (series && events % arg_series_every)
			vt_series_row(series, events, final);
		r = arg_json ? vt_report_json(stdout, &rep) : vt_report_text(stdout, &rep);
		if (r < 0 && !status)
			status = 1;
		if (outs.err) {
			fprintf(stderr, "vmreplay: %s: %s\n", arg_events, strerror(-outs.err));
			if (!status)
				status = 1;
		}
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
	free(final);
	vt_replay_free(replay);
	vm_engine_destroy(engine);
	vt_reader_close(reader);
	return status;
}
