/* vmbench.c -- micro-benchmarks of the engine, in process.
 *
 * usage: vmbench [--kernel 6.18|4.19|4.19,6.18] [--reps N] [--loops N] [--quick]
 *                [--memory SIZE] [--busy N] [--data FILE] [SECTION...] [key=value...]
 *   --kernel        the kernel(s) the machines follow (default 6.18): eras and
 *                   busy_cost measure every kernel of a list side by side, the
 *                   other sections the first (scale always builds the default)
 *   host            vm_vmalloc + a vm_vwrite per page + vm_vfree against the
 *                   host's mmap + a store per page + munmap, at 1, 100 and
 *                   1024 pages, and the ratio
 *   pair            1-page vm_vmalloc + vm_vfree, ns per pair (--memory and
 *                   --busy set its machine and busy areas: for profiling)
 *   long_busy_list  15000 busy 1-page areas, then vmalloc(100 pages) +
 *                   vmalloc(1 page) + free both, ns per loop
 *   busy_scaling    the pair with 0, 10^4, 10^6 busy 1-page areas (8 GiB
 *                   machines, measured interleaved), and the ratio to 0
 *   scale           frame metadata per frame; create time and resident
 *                   memory of 1 GiB, 64 GiB and 1 TiB machines
 *   test_vmalloc    the ported lib/test_vmalloc.c cases (performance mode:
 *                   sequential_test_order=1 test_repeat_count=3), with the
 *                   kernel's published per-loop figures beside them
 *   all             every section above (the default)
 *   eras            fix_size, long_busy_list and random_size of the port per
 *                   loop under each kernel of --kernel, and their ratio beside
 *                   the augmented-tree RFC's (not in all)
 *   busy_cost       the cost of one vmalloc against 0..10^5 busy areas under
 *                   each kernel of --kernel, the free_vmap_cache hint missing
 *                   and hitting; --data writes the table bench/plot-busy-cost
 *                   draws (not in all)
 * key=value pairs are test_vmalloc parameters (test_loop_count=, nr_pages=,
 * run_test_mask=, test_repeat_count=, sequential_test_order=, seed=, nr_cpus=).
 *
 * Every figure is the median of --reps repetitions, with the min and max.
 * Timing is CLOCK_MONOTONIC.  Exit status: 0, or 1 if an engine call failed
 * where it should not (targets missed do not change the status).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend_engine.h"
#include "benchstat.h"
#include "size.h"
#include "test_vmalloc.h"
#include "vm-internal.h"
#include "vmcore.h"

#ifndef VMBENCH_BUILDTYPE
#define VMBENCH_BUILDTYPE "unknown"
#endif

#define KIB (1ull << 10)
#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define TIB (1ull << 40)

/* The kernels the machines follow (--kernel LIST): the single-kernel
 * sections use the first, eras and busy_cost every one, side by side. */
static enum vm_kernel bench_kernels[VM_NR_KERNELS] = { VM_KERNEL_6_18 };
static unsigned nr_bench_kernels = 1;
#define bench_kernel (bench_kernels[0])

struct opts {
	unsigned reps;
	uint64_t loops;        /* 0: each section's default */
	uint64_t memory;       /* pair: the machine (default 1 GiB) */
	uint64_t busy;         /* pair: busy 1-page areas made first (default 0) */
	bool quick;
	const char *data;      /* busy_cost: its medians as a table for the plot */
	struct tv_params tv;
};

static int failures;


/* ---- engines --------------------------------------------------------------------- */

static struct vm_engine *make_engine_k(uint64_t bytes, enum vm_kernel kernel)
{
	struct vm_config cfg;
	struct vm_engine *e;
	int r;

	vm_config_init(&cfg);
	cfg.memory_bytes = bytes;
	cfg.kernel = kernel;
	r = vm_engine_create(&cfg, &e);
	if (r < 0) {
		fprintf(stderr, "vmbench: vm_engine_create(%" PRIu64 " bytes): %s\n", bytes,
			strerror(-r));
		exit(1);
	}
	return e;
}

static void die_op(const char *op, int r)
{
	fprintf(stderr, "vmbench: %s: %s\n", op, strerror(-r));
	exit(1);
}

static struct vm_engine *make_engine(uint64_t bytes)
{
	return make_engine_k(bytes, bench_kernel);
}

/* loops 1-page vmalloc + vfree pairs; ns per pair. */
static double time_pairs(struct vm_engine *e, uint64_t loops)
{
	uint64_t t0 = bench_now_ns(), addr;

	for (uint64_t i = 0; i < loops; i++) {
		int r = vm_vmalloc(e, VM_PAGE_SIZE, &addr);

		if (r < 0)
			die_op("vm_vmalloc", r);
		r = vm_vfree(e, addr);
		if (r < 0)
			die_op("vm_vfree", r);
	}
	return (double)(bench_now_ns() - t0) / (double)loops;
}

static uint64_t *make_busy(struct vm_engine *e, uint64_t n)
{
	uint64_t *a = calloc(n ? n : 1, sizeof(*a));

	if (!a)
		die_op("calloc", -ENOMEM);
	for (uint64_t i = 0; i < n; i++) {
		int r = vm_vmalloc(e, VM_PAGE_SIZE, &a[i]);

		if (r < 0)
			die_op("vm_vmalloc (busy area)", r);
	}
	return a;
}

static void free_busy(struct vm_engine *e, uint64_t *a, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		vm_vfree(e, a[i]);
	free(a);
}

/* ---- pair -------------------------------------------------------------------------- */

static void bench_pair(const struct opts *o)
{
	uint64_t loops = o->loops ? o->loops : o->quick ? 2000 : 1000000;
	uint64_t mem = o->memory ? o->memory : GIB;
	struct vm_engine *e = make_engine(mem);
	uint64_t *busy = make_busy(e, o->busy);
	double v[BENCH_MAX_REPS];
	struct bench_stat s;

	printf("pair: 1-page vm_vmalloc + vm_vfree, %" PRIu64 " MiB machine, %" PRIu64
	       " busy areas, %" PRIu64 " pairs per rep\n", (uint64_t)(mem / MIB), o->busy, loops);
	time_pairs(e, loops / 4 + 1);   /* warm up: caches, page tables, memmap */
	for (unsigned i = 0; i < o->reps; i++)
		v[i] = time_pairs(e, loops);
	s = bench_stats(v, o->reps);
	bench_print_stat("ns per pair", 36, 1, "ns", s);
	if (!o->busy)
		bench_print_target("pair (kernel 450-580 ns)", s.median, "<=", 150, "ns");
	free_busy(e, busy, o->busy);
	vm_engine_destroy(e);
}

/* ---- long_busy_list --------------------------------------------------------------- */

static double time_long_busy(struct vm_engine *e, uint64_t loops, bool touch)
{
	uint64_t t0 = bench_now_ns(), p1, p2;
	uint8_t one = 1;
	int r;

	for (uint64_t i = 0; i < loops; i++) {
		r = vm_vmalloc(e, 100 * VM_PAGE_SIZE, &p1);
		if (r < 0)
			die_op("vm_vmalloc(100 pages)", r);
		r = vm_vmalloc(e, VM_PAGE_SIZE, &p2);
		if (r < 0)
			die_op("vm_vmalloc(1 page)", r);
		if (touch) {
			r = vm_vwrite(e, p1, &one, 1);
			if (r == 0)
				r = vm_vwrite(e, p2, &one, 1);
			if (r < 0)
				die_op("vm_vwrite", r);
		}
		vm_vfree(e, p1);
		vm_vfree(e, p2);
	}
	return (double)(bench_now_ns() - t0) / (double)loops;
}

static void bench_long_busy(const struct opts *o)
{
	uint64_t loops = o->loops ? o->loops : o->quick ? 200 : 100000;
	struct vm_engine *e = make_engine(GIB);
	uint64_t *busy = make_busy(e, 15000);
	double plain[BENCH_MAX_REPS], touched[BENCH_MAX_REPS];
	struct bench_stat s;

	printf("long_busy_list: 15000 busy 1-page areas; per loop vmalloc(100 pages) + "
	       "vmalloc(1 page) + vfree both;\n  1 GiB machine, %" PRIu64 " loops per rep, "
	       "variants interleaved\n", loops);
	time_long_busy(e, loops / 4 + 1, true);
	for (unsigned i = 0; i < o->reps; i++) {
		plain[i] = time_long_busy(e, loops, false);
		touched[i] = time_long_busy(e, loops, true);
	}
	s = bench_stats(plain, o->reps);
	bench_print_stat("ns per loop", 36, 1, "ns", s);
	bench_print_target("long_busy_list (kernel 5200 ns)", s.median, "<=", 3000, "ns");
	s = bench_stats(touched, o->reps);
	bench_print_stat("ns per loop, with the 2 vm_vwrite", 36, 1, "ns", s);
	bench_print_target("long_busy_list with the writes", s.median, "<=", 3000, "ns");
	free_busy(e, busy, 15000);
	vm_engine_destroy(e);
}

/* ---- busy_scaling ----------------------------------------------------------------- */

static void bench_busy_scaling(const struct opts *o)
{
	static const uint64_t full[3] = { 0, 10000, 1000000 };
	static const uint64_t small[3] = { 0, 100, 1000 };
	const uint64_t *counts = o->quick ? small : full;
	uint64_t loops = o->loops ? o->loops : o->quick ? 2000 : 500000;
	uint64_t mem = o->quick ? GIB : 8 * GIB;
	struct vm_engine *e[3];
	uint64_t *busy[3];
	double v[3][BENCH_MAX_REPS], ratio[3][BENCH_MAX_REPS];

	printf("busy_scaling: 1-page pair with N busy 1-page areas, %" PRIu64 " GiB machines, "
	       "%" PRIu64 " pairs per rep,\n  the three machines measured in turn within each rep\n",
	       (uint64_t)(mem / GIB), loops);
	for (int k = 0; k < 3; k++) {
		uint64_t t0 = bench_now_ns();

		e[k] = make_engine(mem);
		busy[k] = make_busy(e[k], counts[k]);
		printf("  set up %7" PRIu64 " busy areas in %.3f s\n", counts[k],
		       (double)(bench_now_ns() - t0) / 1e9);
		time_pairs(e[k], loops / 4 + 1);
	}
	for (unsigned i = 0; i < o->reps; i++) {
		for (int k = 0; k < 3; k++)
			v[k][i] = time_pairs(e[k], loops);
		for (int k = 0; k < 3; k++)
			ratio[k][i] = v[k][i] / v[0][i];
	}
	for (int k = 0; k < 3; k++) {
		char what[64];

		snprintf(what, sizeof(what), "ns per pair, %" PRIu64 " busy", counts[k]);
		bench_print_stat(what, 36, 1, "ns", bench_stats(v[k], o->reps));
	}
	for (int k = 1; k < 3; k++) {
		char what[64];
		struct bench_stat s = bench_stats(ratio[k], o->reps);

		snprintf(what, sizeof(what), "ratio %" PRIu64 " busy / 0 busy", counts[k]);
		printf("  %-36s median %10.3f x   (min %.3f, max %.3f, n=%u)\n", what, s.median,
		       s.min, s.max, o->reps);
		if (k == 2) {
			snprintf(what, sizeof(what), "ratio at %" PRIu64 " busy", counts[k]);
			bench_print_target(what, s.median, "<=", 1.5, "x");
		}
	}
	for (int k = 0; k < 3; k++) {
		free_busy(e[k], busy[k], counts[k]);
		vm_engine_destroy(e[k]);
	}
}

/* ---- host ---------------------------------------------------------------------------- */

/* The engine doing what the host kernel does for mmap + touch + munmap:
 * vmalloc nr pages, store one byte in each page (a vm_vwrite per page, each
 * a walk of the tables), vfree.  ns per round. */
static double time_engine_round(struct vm_engine *e, uint64_t nr, uint64_t loops)
{
	uint64_t t0 = bench_now_ns(), addr;
	uint8_t one = 1;

	for (uint64_t i = 0; i < loops; i++) {
		int r = vm_vmalloc(e, nr * VM_PAGE_SIZE, &addr);

		if (r < 0)
			die_op("vm_vmalloc", r);
		for (uint64_t k = 0; k < nr; k++) {
			r = vm_vwrite(e, addr + k * VM_PAGE_SIZE, &one, 1);
			if (r < 0)
				die_op("vm_vwrite", r);
		}
		r = vm_vfree(e, addr);
		if (r < 0)
			die_op("vm_vfree", r);
	}
	return (double)(bench_now_ns() - t0) / (double)loops;
}

/* The same job by the host: anonymous mmap, a byte stored in each page
 * (each a page fault), munmap. */
static double time_host_round(uint64_t nr, uint64_t loops)
{
	size_t len = nr * VM_PAGE_SIZE;
	uint64_t t0 = bench_now_ns();

	for (uint64_t i = 0; i < loops; i++) {
		volatile uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			die_op("mmap", -errno);
		for (uint64_t k = 0; k < nr; k++)
			p[k * VM_PAGE_SIZE] = 1;
		munmap((void *)p, len);
	}
	return (double)(bench_now_ns() - t0) / (double)loops;
}

static void bench_host(const struct opts *o)
{
	static const uint64_t pages[3] = { 1, 100, 1024 };
	static const uint64_t full_loops[3] = { 100000, 2000, 200 };
	static const double target[3] = { 0.05, 0.1, 0.1 };
	struct vm_engine *e = make_engine(GIB);
	double eng[3][BENCH_MAX_REPS], host[3][BENCH_MAX_REPS], ratio[3][BENCH_MAX_REPS];

	printf("host: engine vm_vmalloc + a 1-byte vm_vwrite per page + vm_vfree against the\n"
	       "  host's mmap + a 1-byte store per page + munmap, same size, same process;\n"
	       "  1 GiB machine, the two measured in turn within each rep\n");
	for (int k = 0; k < 3; k++) {
		uint64_t loops = o->loops ? o->loops : o->quick ? 20 : full_loops[k];

		/* Warm up both: the engine's frames and tables, the host's caches. */
		time_engine_round(e, pages[k], loops / 4 + 1);
		time_host_round(pages[k], loops / 4 + 1);
		for (unsigned i = 0; i < o->reps; i++) {
			eng[k][i] = time_engine_round(e, pages[k], loops);
			host[k][i] = time_host_round(pages[k], loops);
			ratio[k][i] = eng[k][i] / host[k][i];
		}
	}
	for (int k = 0; k < 3; k++) {
		struct bench_stat r = bench_stats(ratio[k], o->reps);
		char what[64];

		snprintf(what, sizeof(what), "%" PRIu64 " page(s): engine", pages[k]);
		bench_print_stat(what, 36, 1, "ns", bench_stats(eng[k], o->reps));
		snprintf(what, sizeof(what), "%" PRIu64 " page(s): host mmap", pages[k]);
		bench_print_stat(what, 36, 1, "ns", bench_stats(host[k], o->reps));
		snprintf(what, sizeof(what), "%" PRIu64 " page(s): engine / host", pages[k]);
		printf("  %-36s median %10.3f x   (min %.3f, max %.3f, n=%u)\n", what, r.median,
		       r.min, r.max, o->reps);
		snprintf(what, sizeof(what), "ratio at %" PRIu64 " page(s)", pages[k]);
		bench_print_target(what, r.median, "<=", target[k], "x");
	}
	vm_engine_destroy(e);
}

/* ---- scale --------------------------------------------------------------------------- */

struct scale_sample {
	int err;
	double create_ns, first_ns;
	uint64_t rss_before, rss_after;
};

static uint64_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size, resident;
	uint64_t r = 0;

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) == 2)
			r = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	return r;
}

/* The child side: build one machine in this (freshly exec'd) process and
 * write the sample to fd. */
static int scale_child(const char *bytes_arg, const char *fd_arg)
{
	struct scale_sample s = { .err = 0 };
	uint64_t bytes = strtoull(bytes_arg, NULL, 0), t0, addr;
	int fd = (int)strtol(fd_arg, NULL, 0);
	struct vm_engine *e = NULL;
	struct vm_config cfg;

	vm_config_init(&cfg);
	cfg.memory_bytes = bytes;
	s.rss_before = rss_bytes();
	t0 = bench_now_ns();
	s.err = vm_engine_create(&cfg, &e);
	s.create_ns = (double)(bench_now_ns() - t0);
	s.rss_after = rss_bytes();
	if (s.err == 0) {
		/* The machine works: one allocation and free. */
		t0 = bench_now_ns();
		s.err = vm_vmalloc(e, VM_PAGE_SIZE, &addr);
		if (s.err == 0)
			s.err = vm_vfree(e, addr);
		s.first_ns = (double)(bench_now_ns() - t0);
	}
	return write(fd, &s, sizeof(s)) == (ssize_t)sizeof(s) ? 0 : 1;
}

/* One creation in a new process (fork + exec of this program), so its
 * resident memory is the machine's plus the bare program's, with nothing
 * inherited from the sections that ran before. */
static struct scale_sample scale_once(uint64_t bytes)
{
	struct scale_sample s = { .err = -ECHILD };
	char bytes_arg[32], fd_arg[16];
	int fd[2], status;
	pid_t pid;

	if (pipe(fd) < 0)
		return s;
	snprintf(bytes_arg, sizeof(bytes_arg), "%" PRIu64, bytes);
	snprintf(fd_arg, sizeof(fd_arg), "%d", fd[1]);
	pid = fork();
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return s;
	}
	if (pid == 0) {
		close(fd[0]);
		execl("/proc/self/exe", "vmbench", "--scale-child", bytes_arg, fd_arg, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	if (read(fd[0], &s, sizeof(s)) != (ssize_t)sizeof(s))
		s.err = -EPIPE;
	close(fd[0]);
	waitpid(pid, &status, 0);
	return s;
}

static void bench_scale(const struct opts *o)
{
	static const uint64_t full[3] = { GIB, 64 * GIB, TIB };
	unsigned nsizes = o->quick ? 1 : 3;   /* quick: no huge mappings */

	printf("scale: struct page is %zu bytes per %llu-byte frame "
	       "(memmap of a 1 TiB machine: %llu GiB of address space, populated on touch)\n",
	       sizeof(struct page), (unsigned long long)VM_PAGE_SIZE,
	       (unsigned long long)((TIB >> VM_PAGE_SHIFT) * sizeof(struct page) / GIB));
	bench_print_target("frame metadata bytes", (double)sizeof(struct page), "<=", 16, "B");
	for (unsigned k = 0; k < nsizes; k++) {
		double create[BENCH_MAX_REPS], rss[BENCH_MAX_REPS], delta[BENCH_MAX_REPS], first[BENCH_MAX_REPS];
		const char *name = k == 0 ? "1 GiB" : k == 1 ? "64 GiB" : "1 TiB";
		for (unsigned i = 0; i < o->reps; i++) {
			struct scale_sample s = scale_once(full[k]);

			if (s.err < 0) {
				fprintf(stderr, "vmbench: %s machine: %s\n", name, strerror(-s.err));
				failures++;
				return;
			}
			create[i] = s.create_ns / 1e3;
			rss[i] = (double)s.rss_after / (double)MIB;
			delta[i] = (double)(s.rss_after - s.rss_before) / (double)MIB;
			first[i] = s.first_ns / 1e3;
		}
		printf("  %s machine (each rep in a new process):\n", name);
		bench_print_stat("vm_engine_create", 36, 1, "us", bench_stats(create, o->reps));
		bench_print_stat("resident memory after create", 36, 1, "MiB", bench_stats(rss, o->reps));
		bench_print_stat("  of which the engine's", 36, 1, "MiB", bench_stats(delta, o->reps));
		bench_print_stat("first 1-page vmalloc + vfree", 36, 1, "us", bench_stats(first, o->reps));
		if (k == 2) {
			bench_print_target("1 TiB create time", bench_stats(create, o->reps).median / 1e3, "<=",
				     500, "ms");
			bench_print_target("1 TiB resident memory", bench_stats(rss, o->reps).median, "<=", 64,
				     "MiB");
		}
	}
}

/* ---- test_vmalloc ------------------------------------------------------------------ */

/* Published per-loop averages (µs) of the kernel module, 2021 hardware. */
static double kernel_usec(const char *name)
{
	if (!strcmp(name, "fix_size_alloc_test"))
		return 0.45;
	if (!strcmp(name, "long_busy_list_alloc_test"))
		return 5.2;
	if (!strcmp(name, "random_size_alloc_test"))
		return 2.6;
	if (!strcmp(name, "fix_align_alloc_test"))
		return 1.37;
	return 0;
}

static void bench_test_vmalloc(const struct opts *o)
{
	double per_loop[TV_NR_CASES][BENCH_MAX_REPS];
	struct tv_result res[TV_NR_CASES];
	bool ran[TV_NR_CASES] = { false };
	const struct tv_params *p = &o->tv;

	printf("test_vmalloc: ported lib/test_vmalloc.c cases, in process, 1 GiB machine "
	       "(fresh each rep),\n  test_loop_count=%" PRIu64 " test_repeat_count=%u "
	       "sequential_test_order=%d nr_pages=%" PRIu64 " run_test_mask=%#x nr_cpus=%u "
	       "seed=%" PRIu64 "\n", p->test_loop_count, p->test_repeat_count,
	       p->sequential_test_order, p->nr_pages, p->run_test_mask, p->nr_cpus, p->seed);
	for (unsigned i = 0; i < o->reps; i++) {
		struct vm_engine *e = make_engine(GIB);
		struct tv_backend b;

		tv_backend_engine(&b, e);
		tv_run(&b, p, res);
		tv_print_summary(stdout, p, res);
		for (unsigned c = 0; c < TV_NR_CASES; c++) {
			uint64_t n = p->test_loop_count ? p->test_loop_count : 1;
			bool expected_fail = res[c].xfail;

			if (!res[c].ran)
				continue;
			ran[c] = true;
			if (expected_fail)
				n = 64;   /* its loop is the 64 alignments */
			if (!strcmp(res[c].name, "pcpu_alloc_test"))
				n = p->nr_pcpu_objects ? p->nr_pcpu_objects : 1;
			per_loop[c][i] = res[c].avg_nsec / (double)n / 1e3;
			if (res[c].failed && !expected_fail) {
				fprintf(stderr, "vmbench: %s failed %u time(s): %s\n", res[c].name,
					res[c].failed, strerror(-res[c].first_error));
				failures++;
			}
			if (expected_fail && (res[c].passed || (res[c].failed && res[c].summary_xfailed))) {
				fprintf(stderr, "vmbench: %s passed but should fail\n", res[c].name);
				failures++;
			}
		}
		vm_engine_destroy(e);
	}
	printf("  %-30s %12s %10s %10s %12s %9s\n", "per loop (us)", "median", "min", "max",
	       "kernel 2021", "kernel/ours");
	for (unsigned c = 0; c < TV_NR_CASES; c++) {
		struct bench_stat s;
		double k;

		if (!ran[c])
			continue;
		s = bench_stats(per_loop[c], o->reps);
		k = kernel_usec(tv_case_name(c));
		if (k > 0)
			printf("  %-30s %12.3f %10.3f %10.3f %12.2f %8.1fx\n", tv_case_name(c),
			       s.median, s.min, s.max, k, k / s.median);
		else
			printf("  %-30s %12.3f %10.3f %10.3f %12s %9s\n", tv_case_name(c),
			       s.median, s.min, s.max, "-", "-");
	}
	printf("  (full_fit's per-loop time includes building its 2 x %u areas; "
	       "align_shift's is per alignment tried, and it fails by design)\n",
	       (p->nr_cpus ? (unsigned)(32 - __builtin_clz(p->nr_cpus)) : 1) * 8192u);
}

/* ---- eras: the test_vmalloc cases under each kernel ------------------------------------ */

/* What the augmented-tree RFC (Uladzislau Rezki, "[RFC PATCH 0/3] improve
 * vmalloc allocation", October 2018) measured for long_busy_list_alloc_test,
 * seconds per million loops: the list walk, then the tree. */
#define RFC_LIST_S 55.9
#define RFC_TREE_S 15.0

/* One run of the port on a fresh machine of kernel: the cases of mask in
 * the module's order, per loop (us) into per[case index]. */
static void eras_run(enum vm_kernel kernel, uint32_t mask, uint64_t loops, double *per)
{
	struct tv_kernel tk = tv_kernel_of(kernel);
	struct vm_engine *e = make_engine_k(GIB, kernel);
	struct tv_result res[TV_NR_CASES];
	struct tv_params p;
	struct tv_backend b;

	tv_params_init(&p, &tk);
	p.run_test_mask = mask;
	p.test_loop_count = loops;
	p.sequential_test_order = true;
	p.seed = 42;
	tv_backend_engine(&b, e);
	tv_run(&b, &p, res);
	for (unsigned r = 0; r < TV_NR_CASES; r++) {
		if (!res[r].ran)
			continue;
		if (res[r].failed) {
			fprintf(stderr, "vmbench: %s failed on %s\n", res[r].name, vm_kernel_name(kernel));
			failures++;
		}
		per[r] = res[r].avg_nsec / (double)loops / 1e3;
	}
	vm_engine_destroy(e);
}

static void bench_eras(const struct opts *o)
{
	/* The module's first four cases in its order, one machine, as
	 * test_vmalloc.sh runs them (sequential_test_order=1); then
	 * long_busy_list alone on a machine that has run nothing. */
	static const struct { const char *label; uint32_t mask; unsigned index; } rows[] = {
		{ "fix_size_alloc_test", 15, 0 }, { "full_fit_alloc_test", 15, 1 },
		{ "long_busy_list_alloc_test", 15, 2 }, { "random_size_alloc_test", 15, 3 },
		{ "long_busy_list, alone", 4, 2 },
	};
	enum { NR = sizeof(rows) / sizeof(rows[0]) };
	uint64_t loops = o->loops ? o->loops : o->quick ? 200 : 20000;
	double v[NR][VM_NR_KERNELS][BENCH_MAX_REPS], ratio[NR][BENCH_MAX_REPS];

	printf("eras: lib/test_vmalloc.c's first four cases per loop, in process, as the module\n"
	       "  runs them (sequential_test_order=1 run_test_mask=15 test_repeat_count=1, one\n"
	       "  1 GiB machine), then long_busy_list alone on a fresh machine; each kernel's\n"
	       "  machines in turn within each rep; test_loop_count=%" PRIu64 " seed=42\n", loops);
	for (unsigned i = 0; i < o->reps; i++) {
		for (unsigned k = 0; k < nr_bench_kernels; k++) {
			double per[TV_NR_CASES] = { 0 }, alone[TV_NR_CASES] = { 0 };

			eras_run(bench_kernels[k], 15, loops, per);
			eras_run(bench_kernels[k], 4, loops, alone);
			for (unsigned r = 0; r < NR; r++)
				v[r][k][i] = rows[r].mask == 15 ? per[rows[r].index] : alone[rows[r].index];
		}
		for (unsigned r = 0; r < NR && nr_bench_kernels > 1; r++)
			ratio[r][i] = v[r][0][i] / v[r][1][i];
	}
	printf("  %-30s %-6s %12s %10s %10s\n", "per loop (us)", "kernel", "median", "min", "max");
	for (unsigned r = 0; r < NR; r++) {
		for (unsigned k = 0; k < nr_bench_kernels; k++) {
			struct bench_stat st = bench_stats(v[r][k], o->reps);

			printf("  %-30s %-6s %12.3f %10.3f %10.3f\n", rows[r].label,
			       vm_kernel_name(bench_kernels[k]), st.median, st.min, st.max);
		}
		if (nr_bench_kernels > 1) {
			struct bench_stat st = bench_stats(ratio[r], o->reps);

			printf("  %-30s %s / %s %8.2f x   (min %.2f, max %.2f, n=%u)\n", rows[r].label,
			       vm_kernel_name(bench_kernels[0]), vm_kernel_name(bench_kernels[1]),
			       st.median, st.min, st.max, o->reps);
		}
	}
	if (nr_bench_kernels > 1)
		printf("  the RFC, long_busy_list_alloc_test per 10^6 loops: %.1f s -> %.1f s, %.2f x\n",
		       RFC_LIST_S, RFC_TREE_S, RFC_LIST_S / RFC_TREE_S);
}

/* ---- busy_cost: one vmalloc against the busy areas -------------------------------------- */

/* A thread stack as kernel_clone() asks for it: 16 KiB aligned to 16 KiB. */
static int stack_alloc(struct vm_engine *e, uint64_t *ret)
{
	struct vm_alloc_req req = {
		.size = 16 * KIB, .align = 16 * KIB, .gfp = GFP_KERNEL, .prot = PAGE_KERNEL,
		.node = NUMA_NO_NODE,
	};

	return vm___vmalloc_node_range(e, &req, ret);
}

/* loops of the pattern; ns per loop.  miss: a stack (align 16 KiB), then a
 * 1-page vmalloc (page-aligned: more permissive, so 4.19's free_vmap_cache
 * hint is dropped and its walk starts over at VMALLOC_START), both freed;
 * hit: a 1-page vmalloc and its vfree (the hint serves). */
static double time_busy_pattern(struct vm_engine *e, bool miss, uint64_t loops)
{
	uint64_t t0 = bench_now_ns(), a, b;
	int r;

	for (uint64_t i = 0; i < loops; i++) {
		if (miss && (r = stack_alloc(e, &a)) < 0)
			die_op("stack vmalloc", r);
		if ((r = vm_vmalloc(e, VM_PAGE_SIZE, &b)) < 0)
			die_op("vm_vmalloc", r);
		if (miss)
			vm_vfree(e, a);
		vm_vfree(e, b);
	}
	return (double)(bench_now_ns() - t0) / (double)loops;
}

/* As many loops as take about ms milliseconds (at least 20). */
static uint64_t calibrate(struct vm_engine *e, bool miss, double ms)
{
	uint64_t n = 20;
	double per = time_busy_pattern(e, miss, n);

	n = (uint64_t)(ms * 1e6 / per);
	return n < 20 ? 20 : n;
}

static void bench_busy_cost(const struct opts *o)
{
	static const uint64_t full[] = { 0, 300, 1000, 3000, 10000, 30000, 100000 };
	static const uint64_t small[] = { 0, 100, 1000 };
	const uint64_t *counts = o->quick ? small : full;
	unsigned nn = o->quick ? 3 : sizeof(full) / sizeof(full[0]);
	double ms = o->quick ? 2 : 25;
	double lo_miss[VM_NR_KERNELS] = { 0 }, hi_miss[VM_NR_KERNELS] = { 0 };
	FILE *data = NULL;

	printf("busy_cost: one vmalloc against N busy 1-page areas, per kernel, 1 GiB machines;\n"
	       "  miss: a 16 KiB stack aligned to 16 KiB, then a 1-page vmalloc (its smaller\n"
	       "  alignment drops 4.19's free_vmap_cache hint), both vfree'd; hit: a 1-page\n"
	       "  vmalloc + vfree; ns per loop, about %.0f ms of loops per measurement, the\n"
	       "  kernels' machines measured in turn within each rep\n", ms);
	if (o->data && !(data = fopen(o->data, "w"))) {
		fprintf(stderr, "vmbench: %s: %s\n", o->data, strerror(errno));
		failures++;
		return;
	}
	if (data)
		fprintf(data, "# busy\tkernel\tpattern\tmedian_ns\tmin_ns\tmax_ns\n");
	printf("  %8s %-6s %-5s %12s %10s %10s\n", "busy", "kernel", "", "median ns", "min", "max");
	for (unsigned n = 0; n < nn; n++) {
		struct vm_engine *e[VM_NR_KERNELS];
		uint64_t *busy[VM_NR_KERNELS], loops[VM_NR_KERNELS][2];
		double v[VM_NR_KERNELS][2][BENCH_MAX_REPS];

		for (unsigned k = 0; k < nr_bench_kernels; k++) {
			e[k] = make_engine_k(GIB, bench_kernels[k]);
			busy[k] = make_busy(e[k], counts[n]);
			/* Warm: caches, page tables, the lazy list's steady state. */
			for (int m = 0; m < 2; m++) {
				loops[k][m] = calibrate(e[k], m == 0, ms);
				time_busy_pattern(e[k], m == 0, loops[k][m]);
			}
		}
		for (unsigned i = 0; i < o->reps; i++)
			for (unsigned k = 0; k < nr_bench_kernels; k++)
				for (int m = 0; m < 2; m++)
					v[k][m][i] = time_busy_pattern(e[k], m == 0, loops[k][m]);
		for (unsigned k = 0; k < nr_bench_kernels; k++) {
			for (int m = 0; m < 2; m++) {
				struct bench_stat st = bench_stats(v[k][m], o->reps);

				printf("  %8" PRIu64 " %-6s %-5s %12.1f %10.1f %10.1f\n", counts[n],
				       vm_kernel_name(bench_kernels[k]), m == 0 ? "miss" : "hit", st.median,
				       st.min, st.max);
				if (data)
					fprintf(data, "%" PRIu64 "\t%s\t%s\t%.1f\t%.1f\t%.1f\n", counts[n],
						vm_kernel_name(bench_kernels[k]), m == 0 ? "miss" : "hit",
						st.median, st.min, st.max);
				if (m == 0 && counts[n] == 1000)
					lo_miss[k] = st.median;
				if (m == 0 && n == nn - 1)
					hi_miss[k] = st.median;
			}
			free_busy(e[k], busy[k], counts[n]);
			vm_engine_destroy(e[k]);
		}
	}
	if (data)
		fclose(data);
	/* 6.18's search does not look at the busy areas; 4.19's walk passes
	 * every one of them (and the lazy ranges) once its hint is dropped:
	 * 100 times the areas should cost at least 10 times as much. */
	for (unsigned k = 0; k < nr_bench_kernels && lo_miss[k] > 0 && counts[nn - 1] >= 100000; k++) {
		char what[96];
		bool list = bench_kernels[k] == VM_KERNEL_4_19;

		snprintf(what, sizeof(what), "%s hint missed, %" PRIu64 " busy / 1000 busy",
			 vm_kernel_name(bench_kernels[k]), counts[nn - 1]);
		bench_print_target(what, hi_miss[k] / lo_miss[k], list ? ">=" : "<=", list ? 10 : 1.5, "x");
	}
}

/* ---- main ------------------------------------------------------------------------------ */

static void print_machine(void)
{
	char line[256], model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "model name", 10)) {
				char *c = strchr(line, ':');

				if (c) {
					snprintf(model, sizeof(model), "%s", c + 2);
					model[strcspn(model, "\n")] = 0;
				}
				break;
			}
		}
		fclose(f);
	}
	printf("vmbench: %ld online CPUs, %s; buildtype %s; cc %s; machines follow Linux %s",
	       sysconf(_SC_NPROCESSORS_ONLN), model, VMBENCH_BUILDTYPE, __VERSION__,
	       vm_kernel_name(bench_kernels[0]));
	for (unsigned k = 1; k < nr_bench_kernels; k++)
		printf(" and %s", vm_kernel_name(bench_kernels[k]));
	printf("\n");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vmbench [--kernel 6.18|4.19|4.19,6.18] [--reps N] [--loops N] [--quick]\n"
		"               [--memory SIZE] [--busy N] [--data FILE]\n"
		"               [host|pair|long_busy_list|busy_scaling|scale|test_vmalloc|all|\n"
		"                eras|busy_cost ...] [key=value ...]\n"
		"  --kernel: the kernel(s) the machines follow (default 6.18); eras and\n"
		"            busy_cost measure each of a list side by side, the other\n"
		"            sections the first\n"
		"  --data FILE: busy_cost's medians as a tab-separated table (bench/plot-busy-cost)\n"
		"  --memory, --busy: the machine and busy 1-page areas of the pair section\n"
		"  key=value: test_vmalloc parameters (test_loop_count, nr_pages, run_test_mask,\n"
		"             test_repeat_count, sequential_test_order, nr_cpus, seed)\n");
}

/* "6.18", "4.19" or a comma-separated list of distinct kernels. */
static int parse_kernels(const char *list)
{
	char buf[64], *save = NULL;
	unsigned n = 0;

	if (strlen(list) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		enum vm_kernel k;

		if (n == VM_NR_KERNELS || vm_kernel_from_name(t, &k) < 0)
			return -EINVAL;
		for (unsigned i = 0; i < n; i++)
			if (bench_kernels[i] == k)
				return -EINVAL;
		bench_kernels[n++] = k;
	}
	if (!n)
		return -EINVAL;
	nr_bench_kernels = n;
	return 0;
}

int main(int argc, char **argv)
{
	enum { S_PAIR = 1, S_LBL = 2, S_BUSY = 4, S_SCALE = 8, S_TV = 16, S_HOST = 32, S_ALL = 63,
	       S_ERAS = 64, S_COST = 128 };
	struct opts o = { .reps = 9 };
	unsigned sections = 0;

	if (argc == 4 && !strcmp(argv[1], "--scale-child"))
		return scale_child(argv[2], argv[3]);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			o.quick = true;
		if (!strcmp(argv[i], "--kernel") && i + 1 < argc &&
		    parse_kernels(argv[i + 1]) < 0) {
			fprintf(stderr, "vmbench: bad kernel list '%s' (6.18, 4.19, or both: "
				"4.19,6.18)\n", argv[i + 1]);
			return 2;
		}
	}
	/* The machine's kernel's module: its cases and mask. */
	{
		struct tv_kernel k = tv_kernel_of(bench_kernel);

		tv_params_init(&o.tv, &k);
	}
	/* The kernel's performance mode, with a fixed seed and fewer loops;
	 * --quick: a few of everything, to see that it runs. */
	o.tv.sequential_test_order = true;
	o.tv.test_repeat_count = o.quick ? 1 : 3;
	o.tv.test_loop_count = o.quick ? 100 : 100000;
	o.tv.seed = 42;
	if (o.quick)
		o.reps = 3;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--reps") && i + 1 < argc) {
			o.reps = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--loops") && i + 1 < argc) {
			o.loops = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--memory") && i + 1 < argc) {
			if (cv_parse_size(argv[++i], &o.memory) < 0) {
				fprintf(stderr, "vmbench: bad size '%s'\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(a, "--kernel") && i + 1 < argc) {
			i++;   /* seen above */
		} else if (!strcmp(a, "--busy") && i + 1 < argc) {
			o.busy = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--quick")) {
			/* seen above */
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "host")) {
			sections |= S_HOST;
		} else if (!strcmp(a, "pair")) {
			sections |= S_PAIR;
		} else if (!strcmp(a, "long_busy_list")) {
			sections |= S_LBL;
		} else if (!strcmp(a, "busy_scaling")) {
			sections |= S_BUSY;
		} else if (!strcmp(a, "scale")) {
			sections |= S_SCALE;
		} else if (!strcmp(a, "test_vmalloc")) {
			sections |= S_TV;
		} else if (!strcmp(a, "all")) {
			sections |= S_ALL;
		} else if (!strcmp(a, "eras")) {
			sections |= S_ERAS;
		} else if (!strcmp(a, "busy_cost")) {
			sections |= S_COST;
		} else if (!strcmp(a, "--data") && i + 1 < argc) {
			o.data = argv[++i];
		} else if (strchr(a, '=')) {
			if (tv_params_set(&o.tv, a) < 0) {
				fprintf(stderr, "vmbench: bad test_vmalloc parameter '%s'\n", a);
				return 2;
			}
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!sections)
		sections = S_ALL;
	if (o.reps < 1 || o.reps > BENCH_MAX_REPS) {
		fprintf(stderr, "vmbench: --reps must be 1..%d\n", BENCH_MAX_REPS);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	print_machine();
	if (sections & S_HOST)
		bench_host(&o);
	if (sections & S_PAIR)
		bench_pair(&o);
	if (sections & S_LBL)
		bench_long_busy(&o);
	if (sections & S_BUSY)
		bench_busy_scaling(&o);
	if (sections & S_SCALE)
		bench_scale(&o);
	if (sections & S_TV)
		bench_test_vmalloc(&o);
	if (sections & S_ERAS)
		bench_eras(&o);
	if (sections & S_COST)
		bench_busy_cost(&o);
	return failures ? 1 : 0;
}
