/* test_tv_smoke.c -- vmctl test-vmalloc against a live vmallocd: the kernel
 * script's smoke mode passes every case (align_shift_alloc_test fails, as
 * it must) and prints the kernel's Summary lines; nr_threads gives one set
 * of lines per worker; a case whose operations fail is counted as failed
 * and makes vmctl exit 1; nothing is left allocated afterwards.
 *
 * Timings are printed, never checked: this is a test, not a benchmark
 * (bench/run measures).
 */
#include <CUnit/Basic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcase.h"

static struct vmd_proc daemon_proc;
static const char *vmctl;
static char out[1 << 16], err[1 << 14];

static const char *const cases[] = {
	"fix_size_alloc_test", "full_fit_alloc_test", "long_busy_list_alloc_test",
	"random_size_alloc_test", "fix_align_alloc_test", "random_size_align_alloc_test",
	"align_shift_alloc_test", "vm_map_ram_test",
};
#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

static int suite_init(void)
{
	/* full_fit takes fls(CPUs) x 2 x 8192 pages: room for a big host. */
	static const char *const args[] = { "--memory", "2G", NULL };

	vmctl = getenv("VMCTL_BIN");
	if (!vmctl)
		return -1;
	return vmd_start(&daemon_proc, args, NULL) < 0 ? -1 : 0;
}

static int suite_clean(void)
{
	return vmd_stop(&daemon_proc, 10000) == 0 ? 0 : -1;
}

/* vmctl --socket SOCK [extra...]; returns the exit status. */
static int run(const char *const *extra)
{
	const char *argv[24] = { vmctl, "--socket", daemon_proc.sock };
	int n = 3;

	for (; extra && *extra && n < 23; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	out[0] = err[0] = 0;
	return vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err));
}

struct summary {
	char name[64];
	unsigned passed, failed, repeat;
	unsigned long long loops, avg;
};

/* The Summary lines of out, in order; returns how many (at most max). */
static unsigned parse_summaries(struct summary *s, unsigned max)
{
	unsigned n = 0;

	for (const char *l = out; l && *l && n < max; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, "Summary: ", 9) != 0)
			continue;
		if (sscanf(l, "Summary: %63s passed: %u failed: %u repeat: %u loops: %llu avg: %llu usec",
			   s[n].name, &s[n].passed, &s[n].failed, &s[n].repeat, &s[n].loops,
			   &s[n].avg) == 6)
			n++;
	}
	return n;
}

/* No area, page or mapping left behind, and the engine consistent. */
static void check_clean(void)
{
	static const char *const stat[] = { "stat", NULL };
	static const char *const check[] = { "check", NULL };

	CU_ASSERT_EQUAL(run(stat), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "vmalloc_pages        0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "vmap_pages           0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "alloc_pages_pages    0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "nr_areas             0\n"));
	CU_ASSERT_EQUAL(run(check), 0);
}

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
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "test_loop_count=10000 test_repeat_count=10"));
	n = parse_summaries(s, 16);
	CU_ASSERT_EQUAL_FATAL(n, NR_CASES);
	for (unsigned i = 0; i < n; i++) {
		bool xfail = strcmp(cases[i], "align_shift_alloc_test") == 0;

		/* The kernel's order (the table's), whatever order they ran in. */
		CU_ASSERT_STRING_EQUAL(s[i].name, cases[i]);
		CU_ASSERT_EQUAL(s[i].repeat, 10);
		CU_ASSERT_EQUAL(s[i].loops, 10000);
		CU_ASSERT_EQUAL(s[i].passed, xfail ? 0 : 10);
		CU_ASSERT_EQUAL(s[i].failed, xfail ? 10 : 0);
		CU_ASSERT_TRUE(s[i].avg > 0);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "All test took worker0="));
	check_clean();
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
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"failed\": 2"));
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
		{ NULL, NULL },
	};

	return t_main_suite("test-vmalloc", suite_init, suite_clean, tests, argc, argv);
}
