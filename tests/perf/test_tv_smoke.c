/* test_tv_smoke.c -- vmctl test-vmalloc against live vmallocds of both
 * kernels: the kernel script's smoke mode runs 6.18's default cases (run_test_mask
 * 7) and prints 6.18's Summary lines with "xfailed:"; every case of the
 * module passes (align_shift_alloc_test is xfailed, as it must be); a 4.19
 * machine runs the first module's eight cases, by default all, and prints
 * its Summary lines, align_shift_alloc_test failed; nr_threads gives one
 * set of lines per worker; a case whose operations fail is counted as
 * failed and makes vmctl exit 1; nothing is left allocated afterwards but
 * the per-CPU allocator's spare chunk, which the kernel keeps too.
 *
 * Timings are printed, never checked: this is a test, not a benchmark
 * (bench/run measures).
 */
#include <CUnit/Basic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tcase.h"

static struct vmd_proc daemon_proc, daemon_419;
static const char *vmctl, *sock;
static char out[1 << 16], err[1 << 14];

static const char *const cases[] = {
	"fix_size_alloc_test", "full_fit_alloc_test", "long_busy_list_alloc_test",
	"random_size_alloc_test", "fix_align_alloc_test", "random_size_align_alloc_test",
	"align_shift_alloc_test", "pcpu_alloc_test", "kvfree_rcu_1_arg_vmalloc_test",
	"kvfree_rcu_2_arg_vmalloc_test", "vm_map_ram_test",
};
#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

static int suite_init(void)
{
	/* full_fit takes fls(CPUs) x 2 x 8192 pages: room for a big host. */
	static const char *const args[] = { "--memory", "2G", "--cpus", "2", NULL };
	static const char *const args_419[] = { "--memory", "2G", "--kernel", "4.19", NULL };

	vmctl = getenv("VMCTL_BIN");
	if (!vmctl)
		return -1;
	if (vmd_start(&daemon_proc, args, NULL) < 0)
		return -1;
	sock = daemon_proc.sock;
	return vmd_start(&daemon_419, args_419, NULL) < 0 ? -1 : 0;
}

static int suite_clean(void)
{
	int r = vmd_stop(&daemon_proc, 10000);

	return (vmd_stop(&daemon_419, 10000) == 0 && r == 0) ? 0 : -1;
}

/* vmctl --socket SOCK [extra...]; returns the exit status. */
static int run(const char *const *extra)
{
	const char *argv[24] = { vmctl, "--socket", sock };
	int n = 3;

	for (; extra && *extra && n < 23; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	out[0] = err[0] = 0;
	return vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err));
}

struct summary {
	char name[64];
	unsigned passed, failed, xfailed, repeat;
	unsigned long long loops, avg;
	bool has_xfailed;
};

/* The Summary lines of out, in order, in 6.18's format or (xfailed
 * missing) the first module's; returns how many (at most max). */
static unsigned parse_summaries(struct summary *s, unsigned max)
{
	unsigned n = 0;

	for (const char *l = out; l && *l && n < max; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, "Summary: ", 9) != 0)
			continue;
		s[n].xfailed = 0;
		s[n].has_xfailed = sscanf(l, "Summary: %63s passed: %u failed: %u xfailed: %u repeat: "
					  "%u loops: %llu avg: %llu usec", s[n].name, &s[n].passed,
					  &s[n].failed, &s[n].xfailed, &s[n].repeat, &s[n].loops,
					  &s[n].avg) == 7;
		if (s[n].has_xfailed ||
		    sscanf(l, "Summary: %63s passed: %u failed: %u repeat: %u loops: %llu avg: %llu usec",
			   s[n].name, &s[n].passed, &s[n].failed, &s[n].repeat, &s[n].loops,
			   &s[n].avg) == 6)
			n++;
	}
	return n;
}

/* A "name value" row of vmctl stat, or -1. */
static long long stat_row(const char *name)
{
	char key[48];
	const char *p;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(out, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* No area, page or mapping left behind but the per-CPU allocator's spare
 * chunk (which vmallocinfo shows as the pcpu_ lines) and vmap blocks that
 * map nothing, and the engine consistent.  kvfree_rcu's last batch goes
 * within its 5-second timer. */
static void check_clean(void)
{
	static const char *const stat[] = { "stat", NULL };
	static const char *const check[] = { "check", NULL };
	static const char *const vmi[] = { "vmallocinfo", NULL };
	static const char *const purge[] = { "purge", NULL };
	long long t0 = vmd_now_ms();

	do {
		CU_ASSERT_EQUAL_FATAL(run(stat), 0);
		if (stat_row("nr_kvfree_rcu") == 0)
			break;
		usleep(200 * 1000);
	} while (vmd_now_ms() - t0 < 10000);
	CU_ASSERT_EQUAL(stat_row("nr_kvfree_rcu"), 0);
	CU_ASSERT_EQUAL(stat_row("vmap_pages"), 0);
	CU_ASSERT_EQUAL(stat_row("alloc_pages_pages"), 0);
	CU_ASSERT_EQUAL(stat_row("map_ram_pages"), 0);
	CU_ASSERT_EQUAL(stat_row("nr_pcpu_objects"), 0);
	CU_ASSERT(stat_row("nr_pcpu_chunks") <= 1);
	/* The lazy ranges purged (root; a client that is not sees its own
	 * areas only, and no lazy range). */
	run(purge);
	CU_ASSERT_EQUAL(run(vmi), 0);
	for (const char *l = out; *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		char line[256];
		bool kept;

		snprintf(line, sizeof(line), "%.*s", (int)n, l);
		/* The spare chunk, and vmap blocks with nothing mapped that are
		 * not all dirty yet (the kernel frees a block only then). */
		kept = strstr(line, " pcpu_") || strstr(line, " vm_map_ram");
		if (!kept)
			printf("left in vmallocinfo: %s\n", line);
		CU_ASSERT_TRUE(kept);
		l += n + (nl != NULL);
	}
	CU_ASSERT_EQUAL(run(check), 0);
}

/* 6.18's smoke mode: its default run_test_mask (7), the first three. */
static void test_smoke(void)
{
	static const char *const args[] = { "test-vmalloc", "smoke", NULL };
	struct summary s[16];
	long long t0 = vmd_now_ms();
	int rc = run(args);
	unsigned n;

	printf("\n%s(smoke mode took %lld ms)\n", out, vmd_now_ms() - t0);
	if (err[0])
		printf("stderr: %s\n", err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "test_loop_count=10000 test_repeat_count=10 run_test_mask=7 "));
	n = parse_summaries(s, 16);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	for (unsigned i = 0; i < n; i++) {
		/* The kernel's order (the table's), whatever order they ran in. */
		CU_ASSERT_STRING_EQUAL(s[i].name, cases[i]);
		CU_ASSERT_TRUE(s[i].has_xfailed);
		CU_ASSERT(s[i].repeat == 10 && s[i].loops == 10000 && s[i].passed == 10 &&
			  s[i].failed == 0 && s[i].xfailed == 0 && s[i].avg > 0);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "All test took worker0="));
	check_clean();
}

/* Every case 6.18's module has, in its order: the per-CPU allocator, the
 * kvfree_rcu batches and vm_map_ram's blocks through the service;
 * align_shift_alloc_test xfailed, as the module expects. */
static void test_all_cases_6_18(void)
{
	static const char *const args[] = { "test-vmalloc", "run_test_mask=2047",
					    "test_loop_count=600", "test_repeat_count=2",
					    "nr_pcpu_objects=3000", NULL };
	struct summary s[16];
	long long t0 = vmd_now_ms();
	int rc = run(args);
	unsigned n;

	printf("\n%s(took %lld ms)\n", out, vmd_now_ms() - t0);
	if (err[0])
		printf("stderr: %s\n", err);
	CU_ASSERT_EQUAL(rc, 0);
	n = parse_summaries(s, 16);
	CU_ASSERT_EQUAL_FATAL(n, NR_CASES);
	for (unsigned i = 0; i < n; i++) {
		bool xfail = strcmp(cases[i], "align_shift_alloc_test") == 0;

		CU_ASSERT_STRING_EQUAL(s[i].name, cases[i]);
		CU_ASSERT_TRUE(s[i].has_xfailed);
		CU_ASSERT_EQUAL(s[i].passed, xfail ? 0 : 2);
		CU_ASSERT_EQUAL(s[i].failed, 0);
		CU_ASSERT_EQUAL(s[i].xfailed, xfail ? 2 : 0);
	}
	check_clean();
}

/* A 4.19 machine: the first module's eight cases, all by default, its
 * Summary line without xfailed, align_shift_alloc_test counted failed
 * (and vmctl still content: it fails by design). */
static void test_all_cases_4_19(void)
{
	static const char *const args[] = { "test-vmalloc", "sequential_test_order=1",
					    "test_loop_count=300", "nr_pcpu_objects=2000", NULL };
	struct summary s[16];
	unsigned n;
	int rc;

	sock = daemon_419.sock;
	rc = run(args);
	printf("\n%s\n", out);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "run_test_mask=2147483647 "));
	n = parse_summaries(s, 16);
	CU_ASSERT_EQUAL(n, 8);
	for (unsigned i = 0; i < n && i < 8; i++) {
		bool xfail = strcmp(cases[i], "align_shift_alloc_test") == 0;

		CU_ASSERT_STRING_EQUAL(s[i].name, cases[i]);
		CU_ASSERT_FALSE(s[i].has_xfailed);
		CU_ASSERT(s[i].passed == (xfail ? 0u : 1u) && s[i].failed == (xfail ? 1u : 0u));
	}
	CU_ASSERT_PTR_NULL(strstr(out, "xfailed"));
	check_clean();
	sock = daemon_proc.sock;
}

static void test_threads_and_mask(void)
{
	static const char *const args[] = { "test-vmalloc", "nr_threads=3", "run_test_mask=1033",
					    "test_loop_count=200", "sequential_test_order=1", NULL };
	struct summary s[16];
	unsigned n;

	CU_ASSERT_EQUAL(run(args), 0);
	/* Bits 0, 3 and 10: fix_size, random_size, vm_map_ram, for 3 workers. */
	n = parse_summaries(s, 16);
	CU_ASSERT_EQUAL_FATAL(n, 9);
	for (unsigned w = 0; w < 3; w++) {
		CU_ASSERT_STRING_EQUAL(s[3 * w].name, "fix_size_alloc_test");
		CU_ASSERT_STRING_EQUAL(s[3 * w + 1].name, "random_size_alloc_test");
		CU_ASSERT_STRING_EQUAL(s[3 * w + 2].name, "vm_map_ram_test");
		for (unsigned k = 0; k < 3; k++) {
			CU_ASSERT_EQUAL(s[3 * w + k].passed, 1);
			CU_ASSERT_EQUAL(s[3 * w + k].failed, 0);
			CU_ASSERT_EQUAL(s[3 * w + k].loops, 200);
		}
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "All test took worker2="));
	check_clean();
}

/* A case whose allocations cannot succeed counts its runs as failed. */
static void test_failures_counted(void)
{
	static const char *const args[] = { "test-vmalloc", "run_test_mask=1", "nr_pages=1048576",
					    "test_loop_count=3", "test_repeat_count=2", NULL };
	struct summary s[4];

	CU_ASSERT_EQUAL(run(args), 1);
	CU_ASSERT_EQUAL_FATAL(parse_summaries(s, 4), 1);
	CU_ASSERT_STRING_EQUAL(s[0].name, "fix_size_alloc_test");
	CU_ASSERT_EQUAL(s[0].passed, 0);
	CU_ASSERT_EQUAL(s[0].failed, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "fix_size_alloc_test failed 2 time(s)"));
	check_clean();
}

static void test_json(void)
{
	static const char *const args[] = { "--json", "test-vmalloc", "run_test_mask=64",
					    "test_repeat_count=2", NULL };

	/* align_shift alone: it fails, as expected, so the exit status is 0. */
	CU_ASSERT_EQUAL(run(args), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"test\": \"align_shift_alloc_test\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"failed\": 0"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"xfailed\": 2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"unexpected_failures\": 0"));
}

static void test_usage(void)
{
	static const char *const bad_mode[] = { "test-vmalloc", "fast", NULL };
	static const char *const bad_key[] = { "test-vmalloc", "smoke", "loops=3", NULL };
	static const char *const bad_val[] = { "test-vmalloc", "test_loop_count=-1", NULL };
	static const char *const late_mode[] = { "test-vmalloc", "nr_pages=2", "smoke", NULL };

	CU_ASSERT_EQUAL(run(bad_mode), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown mode 'fast'"));
	CU_ASSERT_EQUAL(run(bad_key), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid parameter 'loops=3'"));
	CU_ASSERT_EQUAL(run(bad_val), 2);
	CU_ASSERT_EQUAL(run(late_mode), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "must come first"));
}

int main(int argc, char **argv)
{
	static const struct t_case tests[] = {
		{ "usage", test_usage },
		{ "failures_counted", test_failures_counted },
		{ "json", test_json },
		{ "threads_and_mask", test_threads_and_mask },
		{ "smoke", test_smoke },
		{ "all_cases_6_18", test_all_cases_6_18 },
		{ "all_cases_4_19", test_all_cases_4_19 },
		{ NULL, NULL },
	};

	return t_main_suite("test-vmalloc", suite_init, suite_clean, tests, argc, argv);
}
