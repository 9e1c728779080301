/* test_vmreplay.c -- the vmreplay program from outside: its exit statuses,
 * the FILE:LINE message of a malformed line, --skip-bad, --json, --events,
 * --series, --save and the replay of what it saved, standard input, the
 * progress line, and Ctrl-C stopping with the report so far.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "tracetest.h"
#include "vmtest.h"

static const char *bin(void)
{
	const char *b = getenv("VMREPLAY_BIN");

	return b ? b : "vmreplay";
}

struct run {
	int status;             /* exit status, or 128 + signal */
	char *out, *err;        /* malloc'd, NUL-terminated */
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Read fd to the end into a malloc'd string. */
static char *drain(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	while (buf && (n = read(fd, buf + len, cap - len - 1)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

static pid_t spawn(char *const argv[], int *ret_in, int *ret_out, int *ret_err)
{
	int in[2], out[2], err[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	*ret_in = in[1];
	*ret_out = out[0];
	*ret_err = err[0];
	return pid;
}

static int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run vmreplay with up to 12 arguments (NULL-terminated) and no input.
 * Stdout and stderr are read one after the other: enough for reports of a
 * few hundred KiB, which is all these tests make. */
static struct run vmreplay(const char *a0, ...)
{
	char *argv[16] = { (char *)bin() };
	struct run r = { 0 };
	va_list ap;
	int in, out, err, n = 1;
	pid_t pid;

	va_start(ap, a0);
	for (const char *a = a0; a && n < 15; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	pid = spawn(argv, &in, &out, &err);
	if (pid < 0) {
		r.status = -1;
		return r;
	}
	close(in);
	r.out = drain(out);
	r.err = drain(err);
	close(out);
	close(err);
	r.status = wait_status(pid);
	return r;
}

static bool has(const char *text, const char *want)
{
	if (text && strstr(text, want))
		return true;
	fprintf(stderr, "\n    missing \"%s\" in:\n%s\n", want, text ? text : "(null)");
	return false;
}

/* ---- statuses and messages ------------------------------------------------- */

static void test_usage_and_errors(void)
{
	struct run r = vmreplay("--help", NULL);

	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(has(r.out, "usage: vmreplay"));
	run_free(&r);
	r = vmreplay("--frobnicate", "x", NULL);
	CU_ASSERT_EQUAL(r.status, 2);
	run_free(&r);
	r = vmreplay(NULL, NULL);
	CU_ASSERT_EQUAL(r.status, 2);
	CU_ASSERT(has(r.err, "expected one trace file"));
	run_free(&r);
	r = vmreplay("--memory", "lots", "x", NULL);
	CU_ASSERT_EQUAL(r.status, 2);
	CU_ASSERT(has(r.err, "vmreplay: --memory: bad size 'lots'"));
	run_free(&r);
	r = vmreplay("--format", "csv", "x", NULL);
	CU_ASSERT_EQUAL(r.status, 2);
	CU_ASSERT(has(r.err, "vmreplay: --format: unknown format 'csv'"));
	run_free(&r);
	r = vmreplay("/nonexistent/trace", NULL);
	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT(has(r.err, "vmreplay: /nonexistent/trace: No such file or directory"));
	run_free(&r);
	r = vmreplay("--memory", "1M", TT_FIXTURE("trace/ftrace-pipe.txt"), NULL);
	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT(has(r.err, "vmreplay: cannot make the machine"));
	run_free(&r);
}

static void test_malformed(void)
{
	static const char text[] =
		"# tracer: nop\n"
		"            bash-1    [000] .....   1.000001: alloc_vmap_area: va_start: "
		"18446683600570023936 size=20480 align=16384 vstart=0xffffc90000000000 "
		"vend=0xffffe8ffffffffff failed=0\n"
		"            bash-1    [000] .....   1.000002: alloc_vmap_area: va_start: "
		"18446683600570056704 size=20k align=16384 vstart=0xffffc90000000000 "
		"vend=0xffffe8ffffffffff failed=0\n"
		"     kworker/0:1-11   [000] .....   1.000003: free_vmap_area_noflush: "
		"va_start=0xffffc90000000000 nr_lazy=5 nr_lazy_max=8192\n";
	char *path = tt_temp_file("bad.trace", text, strlen(text)), want[600];
	struct run r;

	CU_ASSERT_FATAL(path != NULL);
	r = vmreplay(path, NULL);
	CU_ASSERT_EQUAL(r.status, 1);
	snprintf(want, sizeof(want), "vmreplay: %s:3: alloc_vmap_area: bad size '20k'\n", path);
	CU_ASSERT(has(r.err, want));
	/* The report so far: the first event only. */
	CU_ASSERT(has(r.out, "stopped: "));
	CU_ASSERT(has(r.out, "events: 1 in"));
	run_free(&r);

	r = vmreplay("--skip-bad", path, NULL);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(has(r.out, "skipped: 0 lines of other events, 1 bad lines, 0 lost events"));
	snprintf(want, sizeof(want), "  first bad line: %s:3: alloc_vmap_area: bad size '20k'", path);
	CU_ASSERT(has(r.out, want));
	CU_ASSERT(has(r.out, "events: 2 in"));
	CU_ASSERT(has(r.out, "unmatched frees: 0"));
	run_free(&r);
	free(path);
}

/* ---- the report and the files written along -------------------------------- */

static json_object *field(json_object *o, const char *path)
{
	char buf[128], *save, *k;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, k, &o))
			return NULL;
	return o;
}

static uint64_t u(json_object *o, const char *path)
{
	json_object *f = field(o, path);

	if (!f) {
		fprintf(stderr, "\n    no %s in the JSON report\n", path);
		CU_FAIL("field missing");
		return UINT64_MAX;
	}
	return json_object_get_uint64(f);
}

static unsigned count_lines(const char *path)
{
	FILE *f = fopen(path, "re");
	unsigned n = 0;
	int c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void test_json_events_series(void)
{
	char *events = tt_temp_file("events.json", "", 0), *series = tt_temp_file("s.csv", "", 0);
	struct run r = vmreplay("--json", "--events", events, "--series", series,
				"--series-every", "500", TT_FIXTURE("captures/fork-2000.trace"), NULL);
	json_object *o, *line;
	FILE *f;
	char buf[4096];
	unsigned n = 0, ok = 0;

	CU_ASSERT_EQUAL(r.status, 0);
	o = json_tokener_parse(r.out);
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT_EQUAL(u(o, "events.total"), 2927);
	CU_ASSERT_EQUAL(u(o, "events.alloc"), 1463);
	CU_ASSERT_EQUAL(u(o, "events.free"), 1464);
	CU_ASSERT_EQUAL(u(o, "failures.total"), 0);
	/* The 12 areas from before the capture that it frees are placed by the
	 * start state (their sizes from the nr_lazy steps), so none is
	 * unmatched and each free is replayed. */
	CU_ASSERT_EQUAL(u(o, "unmatched_frees"), 0);
	CU_ASSERT_EQUAL(u(o, "start_state.areas_before"), 12);
	CU_ASSERT_EQUAL(u(o, "start_state.frees_of_areas_before"), 12);
	CU_ASSERT_EQUAL(u(o, "start_state.misplaced"), 0);
	CU_ASSERT_EQUAL(u(o, "start_state.failed"), 0);
	CU_ASSERT_EQUAL(u(o, "machine.cpus"), 2);
	CU_ASSERT_EQUAL(u(o, "machine.lazy_max_pages"), 16384);
	CU_ASSERT_EQUAL(u(o, "trace_nr_lazy_max"), 16384);
	CU_ASSERT_EQUAL(u(o, "placement.pairs"), 1462);
	CU_ASSERT(u(o, "placement.agree") <= 1462);
	CU_ASSERT(json_object_array_length(field(o, "zones")) >= 2);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(field(o, "format")), "ftrace");
	json_object_put(o);

	/* One line per replayed event: every allocation and every free. */
	f = fopen(events, "re");
	CU_ASSERT_FATAL(f != NULL);
	while (fgets(buf, sizeof(buf), f)) {
		line = json_tokener_parse(buf);
		n++;
		if (line && field(line, "i") && field(line, "op") && field(line, "status") &&
		    field(line, "trace_addr") && field(line, "addr") &&
		    json_object_get_int(field(line, "status")) == 0)
			ok++;
		json_object_put(line);
	}
	fclose(f);
	CU_ASSERT_EQUAL(n, 1463 + 1464);
	CU_ASSERT_EQUAL(ok, n);

	/* A header, the start, every 500 events, and the end. */
	CU_ASSERT_EQUAL(count_lines(series), 1 + 1 + 2927 / 500 + 1);
	f = fopen(series, "re");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT(fgets(buf, sizeof(buf), f) != NULL);
	CU_ASSERT(has(buf, "event,free_o0,free_o1,"));
	CU_ASSERT(has(buf, ",free_o10,vmalloc_kb,lazy_pages,kva_extent_kb,pooled_pages,purges\n"));
	fclose(f);
	run_free(&r);
	free(events);
	free(series);
}

/* The report without its timing lines, for comparing two runs. */
static char *untimed(const char *report)
{
	char *s = strdup(report), *p;

	for (p = s; p && *p;) {
		char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl + 1 - p) : strlen(p);

		if (!strncmp(p, "events: ", 8) || !strncmp(p, "trace: ", 7) ||
		    !strncmp(p, "start state: ", 13))
			memmove(p, p + len, strlen(p + len) + 1);
		else
			p += len;
	}
	return s;
}

static void test_save_and_native(void)
{
	static const char *const traces[] = {
		"captures/fork-4000-purge.trace", "captures/fork-1500.bpftrace",
		"trace/malloclab-determinism.rep", "trace/mtrace-sample.log",
	};

	for (size_t i = 0; i < sizeof(traces) / sizeof(traces[0]); i++) {
		char path[512], name[32], *saved, *a, *b;
		struct run r1, r2;

		snprintf(path, sizeof(path), "%s/%s", TRACE_FIXTURES, traces[i]);
		snprintf(name, sizeof(name), "saved%zu.vmt", i);
		saved = tt_temp_file(name, "", 0);
		CU_ASSERT_FATAL(saved != NULL);
		r1 = vmreplay("--warm", "--save", saved, path, NULL);
		CU_ASSERT_EQUAL(r1.status, 0);
		r2 = vmreplay("--warm", saved, NULL);
		CU_ASSERT_EQUAL(r2.status, 0);
		CU_ASSERT(has(r2.out, "(native, converted from "));
		a = untimed(r1.out);
		b = untimed(r2.out);
		T_ASSERT_MSG(a && b && !strcmp(a, b), "%s: the native replay reports differently",
			     traces[i]);
		free(a);
		free(b);
		run_free(&r1);
		run_free(&r2);
		free(saved);
	}
}

static void test_stdin_and_progress(void)
{
	char *argv[] = { (char *)bin(), "--progress", "-", NULL };
	char *trace, *chunk;
	size_t len, half;
	int in, out, err;
	struct run r;
	pid_t pid;
	FILE *f = fopen(TT_FIXTURE("captures/fork-4000-purge.trace"), "re");

	CU_ASSERT_FATAL(f != NULL);
	trace = malloc(4 << 20);
	CU_ASSERT_FATAL(trace != NULL);
	len = fread(trace, 1, 4 << 20, f);
	fclose(f);
	pid = spawn(argv, &in, &out, &err);
	CU_ASSERT_FATAL(pid > 0);
	/* Half, a pause longer than the progress interval, the rest. */
	half = len / 2;
	chunk = memchr(trace + half, '\n', len - half);
	half = (size_t)(chunk + 1 - trace);
	CU_ASSERT(write(in, trace, half) == (ssize_t)half);
	usleep(600 * 1000);
	CU_ASSERT(write(in, trace + half, len - half) == (ssize_t)(len - half));
	close(in);
	r.out = drain(out);
	r.err = drain(err);
	close(out);
	close(err);
	r.status = wait_status(pid);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(has(r.out, "trace: - (ftrace)"));
	CU_ASSERT(has(r.out, "events: 5882 in"));
	CU_ASSERT(has(r.err, "vmreplay: "));
	CU_ASSERT(has(r.err, " events/s"));
	run_free(&r);
	free(trace);
}

static void test_interrupt(void)
{
	char *argv[] = { (char *)bin(), "-", NULL };
	int in, out, err;
	struct run r;
	pid_t pid;
	FILE *f = fopen(TT_FIXTURE("captures/fork-2000.trace"), "re");
	char buf[65536];
	size_t n;

	CU_ASSERT_FATAL(f != NULL);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	/* Whole lines only. */
	while (n && buf[n - 1] != '\n')
		n--;
	pid = spawn(argv, &in, &out, &err);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT(write(in, buf, n) == (ssize_t)n);
	/* vmreplay now waits for more input; Ctrl-C stops it. */
	usleep(500 * 1000);
	kill(pid, SIGINT);
	r.out = drain(out);
	r.err = drain(err);
	r.status = wait_status(pid);
	close(in);
	close(out);
	close(err);
	CU_ASSERT_EQUAL(r.status, 130);
	CU_ASSERT(has(r.out, "interrupted: the report covers the events replayed so far"));
	CU_ASSERT(has(r.out, "buddyinfo:"));
	{
		/* Every event of what was written was replayed before the signal. */
		const char *e = r.out ? strstr(r.out, "\nevents: ") : NULL;
		unsigned long long events = e ? strtoull(e + 9, NULL, 10) : 0;
		unsigned lines = 0;

		for (size_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
		/* 12 header lines; the rest are events. */
		CU_ASSERT_EQUAL(events, lines - 12);
	}
	run_free(&r);
}

static void test_parse_only(void)
{
	struct run r = vmreplay("--parse-only", TT_FIXTURE("trace/ftrace-sample.trace"), NULL);

	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(has(r.out, "trace: "));
	CU_ASSERT(has(r.out, "(ftrace), 28 lines, 4 CPUs"));
	CU_ASSERT(has(r.out, "  page_alloc            3\n"));
	CU_ASSERT(has(r.out, "skipped: 1 lines of other events, 0 bad lines, 7 lost events"));
	run_free(&r);
	r = vmreplay("--parse-only", "--warm", TT_FIXTURE("trace/ftrace-sample.trace"), NULL);
	CU_ASSERT_EQUAL(r.status, 2);
	run_free(&r);
}

static int suite_clean(void)
{
	tt_cleanup();
	return 0;
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "usage_and_errors", test_usage_and_errors },
		{ "malformed", test_malformed },
		{ "json_events_series", test_json_events_series },
		{ "save_and_native", test_save_and_native },
		{ "stdin_and_progress", test_stdin_and_progress },
		{ "interrupt", test_interrupt },
		{ "parse_only", test_parse_only },
		{ NULL, NULL },
	};

	signal(SIGPIPE, SIG_IGN);
	return t_main_suite("vmreplay", NULL, suite_clean, cases, argc, argv);
}
