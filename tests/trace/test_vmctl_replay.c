/* test_vmctl_replay.c -- `vmctl replay` through a real vmallocd against
 * `vmreplay` in process: the CS:APP trace's final buddyinfo the same on
 * every run and through both tools (and as the daemon prints it after the
 * replay); a real capture of this machine's kernel reported alike by both,
 * on 6.18 with two CPUs (each event on its CPU's connection, the start
 * state built through the protocol) and on 4.19; the same machine at any
 * pipeline depth; a trace on standard input; a malformed line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcase.h"
#include "tracetest.h"

static const char *vmctl_bin, *vmreplay_bin;
static char out[1 << 20], err[1 << 16];

static int suite_init(void)
{
	vmctl_bin = getenv("VMCTL_BIN");
	vmreplay_bin = getenv("VMREPLAY_BIN");
	return vmctl_bin && vmreplay_bin ? 0 : -1;
}

/* A fresh daemon with the NULL-terminated extra arguments. */
static bool daemon_start(struct vmd_proc *p, const char *const *args)
{
	memset(p, 0, sizeof(*p));
	return vmd_start(p, args, NULL) == 0;
}

/* Run argv (NULL-terminated after a0) with stdin_data: the exit status,
 * stdout in out, stderr in err. */
static int run(const char *stdin_data, const char *a0, ...)
{
	const char *argv[32] = { a0 };
	va_list ap;
	int n = 1;

	va_start(ap, a0);
	for (const char *a = va_arg(ap, const char *); a && n < 31; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return vmd_run(argv, stdin_data, stdin_data ? strlen(stdin_data) : 0, out, sizeof(out),
		       err, sizeof(err));
}

/* The report without the lines that differ by tool or by run: the timing
 * (events, the start state's reading), the trace line, the machine line
 * (the daemon's machine "(the daemon's)", vmreplay's "(the trace's)"). */
static char *comparable(const char *report)
{
	char *s = strdup(report), *p;

	for (p = s; p && *p;) {
		char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl + 1 - p) : strlen(p);

		if (!strncmp(p, "events: ", 8) || !strncmp(p, "trace: ", 7) ||
		    !strncmp(p, "machine: ", 9) || !strncmp(p, "start state: ", 13))
			memmove(p, p + len, strlen(p + len) + 1);
		else
			p += len;
	}
	return s;
}

/* The buddyinfo block of a report. */
static char *buddyinfo_of(const char *report)
{
	const char *b = strstr(report, "buddyinfo:\n"), *e;

	if (!b)
		return strdup("");
	b += strlen("buddyinfo:\n");
	e = strstr(b, "unusable_index:");
	return strndup(b, e ? (size_t)(e - b) : strlen(b));
}

/* ---- the CS:APP trace -------------------------------------------------------------- */

static void test_malloclab_buddyinfo(void)
{
	const char *trace = TT_FIXTURE("trace/malloclab-determinism.rep");
	static const char *const args[] = { NULL };
	char *want, *got;

	CU_ASSERT_EQUAL_FATAL(run(NULL, vmreplay_bin, "--no-progress", trace, NULL), 0);
	want = buddyinfo_of(out);
	CU_ASSERT(strstr(want, "Node 0, zone    DMA32") != NULL);
	for (int i = 0; i < 3; i++) {
		struct vmd_proc d;

		/* vmreplay again: the same in process on every run. */
		CU_ASSERT_EQUAL(run(NULL, vmreplay_bin, "--no-progress", trace, NULL), 0);
		got = buddyinfo_of(out);
		T_TEXT_EQ(got, want);
		free(got);
		CU_ASSERT_FATAL(daemon_start(&d, args));
		CU_ASSERT_EQUAL(run(NULL, vmctl_bin, "--socket", d.sock, "replay", trace, NULL), 0);
		got = buddyinfo_of(out);
		T_TEXT_EQ(got, want);
		T_ASSERT_MSG(strstr(out, "start state: none (the trace records no addresses)"),
			     "%s", out);
		free(got);
		/* And the daemon's own /proc/buddyinfo after the replay. */
		CU_ASSERT_EQUAL(run(NULL, vmctl_bin, "--socket", d.sock, "buddyinfo", NULL), 0);
		T_TEXT_EQ(out, want);
		CU_ASSERT_EQUAL(vmd_stop(&d, 5000), 0);
	}
	printf("\n%s", want);
	free(want);
}

/* ---- a real capture, both tools ----------------------------------------------------- */

static void same_report(const char *kernel, const char *cpus, const char *fixture,
			const char *depth)
{
	const char *const args[] = { "--kernel", kernel, "--cpus", cpus, NULL };
	char *a, *b;
	struct vmd_proc d;

	CU_ASSERT_EQUAL_FATAL(run(NULL, vmreplay_bin, "--no-progress", "--kernel", kernel,
				  "--cpus", cpus, fixture, NULL), 0);
	a = comparable(out);
	CU_ASSERT_FATAL(daemon_start(&d, args));
	CU_ASSERT_EQUAL(run(NULL, vmctl_bin, "--socket", d.sock, "replay", "--depth", depth,
			    fixture, NULL), 0);
	T_ASSERT_MSG(strstr(out, "start state: inferred from the whole trace") != NULL, "%s%s",
		     out, err);
	T_ASSERT_MSG(strstr(out, ", 0 failed, 0 ranges misplaced\n") != NULL, "%s", out);
	b = comparable(out);
	T_TEXT_EQ(b, a);
	CU_ASSERT_EQUAL(vmd_stop(&d, 5000), 0);
	free(a);
	free(b);
}

static void test_capture_618(void)
{
	same_report("6.18", "2", TT_FIXTURE("captures/fork-2000.trace"), "64");
}

static void test_capture_419(void)
{
	same_report("4.19", "2", TT_FIXTURE("captures/fork-600.trace-cmd"), "64");
}

static void test_depth(void)
{
	/* One call at a time, and a pipeline deeper than the events. */
	same_report("6.18", "2", TT_FIXTURE("captures/fork-1500.bpftrace"), "1");
	same_report("6.18", "2", TT_FIXTURE("captures/fork-1500.bpftrace"), "4096");
}

/* The JSON report, the event log and the series, through the daemon. */
static void test_json_events(void)
{
	static const char *const args[] = { "--cpus", "2", NULL };
	char *events = tt_temp_file("ev.json", "", 0), *series = tt_temp_file("s.csv", "", 0);
	struct vmd_proc d;
	FILE *f;
	char line[4096];
	unsigned n = 0;

	CU_ASSERT_FATAL(events && series && daemon_start(&d, args));
	CU_ASSERT_EQUAL(run(NULL, vmctl_bin, "--socket", d.sock, "--json", "replay", "--events",
			    events, "--series", series, "--series-every", "500",
			    TT_FIXTURE("captures/fork-2000.trace"), NULL), 0);
	CU_ASSERT(strstr(out, "\"unmatched_frees\": 0") != NULL);
	CU_ASSERT(strstr(out, "\"areas_before\": 12") != NULL);
	CU_ASSERT(strstr(out, "\"agree\": 1462") != NULL);
	f = fopen(events, "re");
	CU_ASSERT_FATAL(f != NULL);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "\"status\":0}") != NULL;
	fclose(f);
	CU_ASSERT_EQUAL(n, 1463 + 1464);
	f = fopen(series, "re");
	CU_ASSERT_FATAL(f != NULL);
	n = 0;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	CU_ASSERT_EQUAL(n, 1 + 1 + 2927 / 500 + 1);
	CU_ASSERT_EQUAL(vmd_stop(&d, 5000), 0);
	free(events);
	free(series);
}

/* Standard input (no start state: it cannot be read twice), and a
 * malformed line: FILE:LINE, status 1, the report so far. */
static void test_stdin_and_malformed(void)
{
	static const char *const args[] = { NULL };
	static const char bad[] = "20 3 3 1\na 0 100\na 1 twenty\nf 0\n";
	char *text = NULL, *path = tt_temp_file("bad.rep", bad, strlen(bad));
	struct vmd_proc d;
	FILE *f = fopen(TT_FIXTURE("trace/malloclab-sample.rep"), "re");
	size_t len = 0;

	CU_ASSERT_FATAL(f != NULL && path != NULL);
	text = calloc(1, 1 << 20);
	CU_ASSERT_FATAL(text != NULL);
	len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	CU_ASSERT(len > 0);
	CU_ASSERT_FATAL(daemon_start(&d, args));
	CU_ASSERT_EQUAL(run(text, vmctl_bin, "--socket", d.sock, "replay", "-", NULL), 0);
	CU_ASSERT(strstr(out, "trace: - (malloclab)") != NULL);
	CU_ASSERT(strstr(out, "failures: 0\n") != NULL);
	CU_ASSERT_EQUAL(run(NULL, vmctl_bin, "--socket", d.sock, "replay", path, NULL), 1);
	T_ASSERT_MSG(strstr(err, "bad.rep:3: ") != NULL, "stderr: %s", err);
	CU_ASSERT(strstr(out, "stopped: ") != NULL);
	CU_ASSERT(strstr(out, "  alloc                 1\n") != NULL);
	CU_ASSERT_EQUAL(run(NULL, vmctl_bin, "--socket", d.sock, "replay", "--depth", "0", path,
			    NULL), 2);
	CU_ASSERT_EQUAL(vmd_stop(&d, 5000), 0);
	free(text);
	free(path);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "malloclab_buddyinfo", test_malloclab_buddyinfo },
		{ "capture_618", test_capture_618 },
		{ "capture_419", test_capture_419 },
		{ "depth", test_depth },
		{ "json_events", test_json_events },
		{ "stdin_and_malformed", test_stdin_and_malformed },
		{ NULL, NULL },
	};
	int rc;

	if (suite_init() < 0) {
		fprintf(stderr, "VMCTL_BIN and VMREPLAY_BIN must be set (meson does)\n");
		return 1;
	}
	rc = t_main("vmctl_replay", cases, argc, argv);
	tt_cleanup();
	return rc;
}
