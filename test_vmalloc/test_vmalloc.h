/* test_vmalloc.h -- the workloads of the kernel's lib/test_vmalloc.c, ported
 * to run against any vmalloc implementation reachable through a small table
 * of operations (struct tv_backend): the in-process engine (vmbench) or
 * vmallocd through libvmclient (vmctl test-vmalloc).  It includes nothing of
 * either side: the backend brings the flag values, and the kernel's module
 * (which cases it has, which are expected to fail, the Summary line) comes
 * as a struct tv_kernel from whoever knows the machine.
 *
 * Cases (the bit in run_test_mask is the kernel's, so masks carry over):
 *   1    fix_size_alloc_test           vmalloc(nr_pages) + touch + vfree (use_huge: vmalloc_huge)
 *   2    full_fit_alloc_test           1-page allocations into exact 1-page holes
 *   4    long_busy_list_alloc_test     15000 busy areas, then 100-page + 1-page pairs
 *   8    random_size_alloc_test        vmalloc of 1..100 pages + touch + vfree
 *   16   fix_align_alloc_test          5 pages aligned to 32 KiB (THREAD_ALIGN << 1)
 *   32   random_size_align_alloc_test  1..10 pages, alignment 2^0..2^22
 *   64   align_shift_alloc_test        1 page, alignment 2^0..2^63: fails by design
 *   128  pcpu_alloc_test               nr_pcpu_objects __alloc_percpu of 1..1024 bytes,
 *                                      aligned 2^1..2^11, then free_percpu of each
 *   256  kvfree_rcu_1_arg_vmalloc_test vmalloc(1 page) + touch + kvfree_rcu_mightsleep
 *   512  kvfree_rcu_2_arg_vmalloc_test vmalloc(1 page) + touch + kvfree_rcu(p, rcu)
 *   1024 vm_map_ram_test               vm_map_ram + touch + vm_unmap_ram of nr_pages own pages
 * A case the kernel's module lacks (struct tv_kernel) is neither run nor
 * printed, whatever the mask says, as the module loops over its own cases.
 *
 * Every backend operation returns 0 or a negative errno.  A case fails when
 * one of its operations fails or one of its own checks does (a misaligned
 * address, a touch that cannot be stored), as the kernel case fails on a
 * NULL pointer.  tv_run() is one worker running the cases one after the
 * other; tv_run_workers() runs nr_threads of them at once, each on its own
 * backend, as the kernel runs one kthread per worker.
 */
#ifndef TV_TEST_VMALLOC_H
#define TV_TEST_VMALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TV_PAGE_SIZE 4096ull

struct tv_backend {
	void *ctx;
	/* vmalloc(size): GFP_KERNEL | __GFP_HIGHMEM, any node. */
	int (*vmalloc)(void *ctx, uint64_t size, uint64_t *ret_addr);
	/* __vmalloc_node(size, align, GFP_KERNEL | __GFP_ZERO, node): zeroed,
	 * aligned, anywhere in the vmalloc range.  The only gfp the kernel's
	 * cases pass, so the backend supplies it and this header needs no
	 * flag definitions (it is built into clients and the engine alike). */
	int (*vzalloc_node_align)(void *ctx, uint64_t size, uint64_t align, int node,
				  uint64_t *ret_addr);
	/* vmalloc_huge(size, GFP_KERNEL): where the layout maps PMDs (x86_64)
	 * an area of 2 MiB or more is aligned to and rounded up to 2 MiB; the
	 * backend knows its layout.  NULL: the plain vmalloc. */
	int (*vmalloc_huge)(void *ctx, uint64_t size, uint64_t *ret_addr);
	int (*vfree)(void *ctx, uint64_t addr);
	/* One order-0 frame (GFP_KERNEL), and its release. */
	int (*alloc_page)(void *ctx, uint64_t *ret_pfn);
	int (*free_page)(void *ctx, uint64_t pfn);
	/* vm_map_ram(pfns, n, NUMA_NO_NODE) and vm_unmap_ram(addr, n). */
	int (*vm_map_ram)(void *ctx, const uint64_t *pfns, uint64_t n, uint64_t *ret_addr);
	int (*vm_unmap_ram)(void *ctx, uint64_t addr, uint64_t n);
	/* __alloc_percpu(size, align) (CPU 0's copy) and free_percpu(). */
	int (*alloc_percpu)(void *ctx, uint64_t size, uint64_t align, uint64_t *ret_ptr);
	int (*free_percpu)(void *ctx, uint64_t ptr);
	/* kvfree_rcu(addr, rcu) (head) or kvfree_rcu_mightsleep(addr). */
	int (*kvfree_rcu)(void *ctx, uint64_t addr, bool head);
	/* Store one byte at addr: the kernel's *((u8 *)p) = val. */
	int (*touch)(void *ctx, uint64_t addr, uint8_t val);

	/* Optional pipelined forms; NULL means the plain operations above, one
	 * at a time.  The allocator sees the same operations in the same order
	 * either way: a backend with a round trip per operation uses them to
	 * send operations that do not wait for each other's results together.
	 * Each returns the first error and does all its operations even after
	 * one failed. */
	/* n vmallocs, of sizes[i] bytes (sizes NULL: size each); addrs[i] is 0
	 * where one failed. */
	int (*vmalloc_bulk)(void *ctx, const uint64_t *sizes, uint64_t size, uint64_t n,
			    uint64_t *addrs);
	/* vfree of every non-zero addrs[i]. */
	int (*vfree_bulk)(void *ctx, const uint64_t *addrs, uint64_t n);
	/* Store vals[i] at addrs[i] for each i, then vfree each addrs[i]. */
	int (*touch_vfree)(void *ctx, const uint64_t *addrs, const uint8_t *vals, unsigned n);
	/* Store val at addr, then kvfree_rcu(addr, head). */
	int (*touch_kvfree_rcu)(void *ctx, uint64_t addr, uint8_t val, bool head);
	/* Store val at addr, then vm_unmap_ram(addr, n). */
	int (*touch_unmap_ram)(void *ctx, uint64_t addr, uint64_t n, uint8_t val);
	/* n __alloc_percpu (ptrs[i] 0 where one failed); n free_percpu of the
	 * non-zero ptrs[i]. */
	int (*alloc_percpu_bulk)(void *ctx, const uint64_t *sizes, const uint64_t *aligns,
				 uint64_t n, uint64_t *ptrs);
	int (*free_percpu_bulk)(void *ctx, const uint64_t *ptrs, uint64_t n);
};

/* What the kernel's module has (the machine's kernel says): its cases (bits
 * of run_test_mask), run_test_mask's default, the cases expected to fail,
 * and whether it counts those apart ("xfailed: N" in the Summary line,
 * 6.17+) or as plain failures (the first module's, 5.1). */
struct tv_kernel {
	uint32_t cases;
	uint32_t default_mask;
	uint32_t xfail;
	bool summary_xfailed;
};
/* Linux 6.18's: every case, mask 7, align_shift_alloc_test xfailed. */
#define TV_KERNEL_6_18 { 0x7ffu, 7u, 1u << 6, true }

struct tv_params {
	struct tv_kernel kernel;       /* the module: its cases and its Summary line */
	uint64_t test_loop_count;      /* kernel default 1000000 */
	uint64_t nr_pages;             /* fix_size and vm_map_ram size; 0 means 1 */
	uint64_t nr_pcpu_objects;      /* pcpu_alloc_test's objects; default 35000 */
	bool use_huge;                 /* fix_size_alloc_test with vmalloc_huge() */
	unsigned test_repeat_count;    /* kernel default 1 */
	uint32_t run_test_mask;        /* the kernel's default (6.18: 7, the first three) */
	bool sequential_test_order;    /* false: shuffled, as the kernel */
	unsigned nr_threads;           /* workers; the kernel clamps to 1..USHRT_MAX */
	unsigned nr_cpus;              /* full_fit's num_online_cpus(); default: this host's */
	uint64_t seed;                 /* the random sizes, alignments and order */
	/* Told, in the worker's own thread, as each run of a case begins
	 * (run 0 .. repeat-1) and once when the case is over (run == repeat),
	 * so a front end can show progress; NULL: nothing.  tv_run_workers()
	 * sets worker to each worker's index. */
	void (*progress)(void *ctx, unsigned worker, unsigned case_index, unsigned run,
			 unsigned repeat);
	void *progress_ctx;
	unsigned worker;
};

#define TV_NR_CASES 11
#define TV_MAX_THREADS 65535u      /* USHRT_MAX, the kernel's limit */

struct tv_result {
	const char *name;
	uint32_t mask_bit;
	bool ran;                      /* the module has it and run_test_mask selects it */
	bool xfail;                    /* the kernel expects this case to fail */
	bool summary_xfailed;          /* ... and counts such failures apart (6.17+) */
	unsigned passed, failed, xfailed;
	uint64_t avg_usec;             /* mean time of one run (all its loops), as the kernel */
	double avg_nsec;               /* the same, unrounded */
	int first_error;               /* first negative errno a failed run saw, or 0 */
};

/* One worker of tv_run_workers(). */
struct tv_worker {
	struct tv_result results[TV_NR_CASES];
	uint64_t elapsed_ns;           /* all its cases, as the kernel's "All test took" */
	unsigned failed;               /* failed runs, expected failures included */
};

/* Fill p with the defaults of the kernel k's module (NULL: 6.18's); the
 * seed from the clock. */
void tv_params_init(struct tv_params *p, const struct tv_kernel *k);

/* Apply one "key=value" setting (the module parameter names: nr_threads,
 * sequential_test_order, test_repeat_count, test_loop_count, nr_pages,
 * use_huge, run_test_mask, nr_pcpu_objects, single_cpu_test; plus nr_cpus
 * and seed); -EINVAL for an unknown key or a bad value. */
int tv_params_set(struct tv_params *p, const char *kv);

/* Apply the settings of one of test_vmalloc.sh's modes: "performance"
 * (sequential_test_order=1 test_repeat_count=3), "smoke"
 * (test_loop_count=10000 test_repeat_count=10) or "stress"
 * (nr_threads=<online CPUs> test_repeat_count=20).  -EINVAL for another
 * name, p unchanged. */
int tv_params_mode(struct tv_params *p, const char *mode);

/* The "key=value ..." string of a mode (stress: nr_threads=NUM_CPUS
 * written as is), or NULL. */
const char *tv_mode_params(const char *mode);

/* Name and mask bit of case i (0 <= i < TV_NR_CASES). */
const char *tv_case_name(unsigned i);
uint32_t tv_case_bit(unsigned i);

/* Run the selected cases.  results[i] is filled for case i in the table
 * order above (as the kernel prints them), whatever order they ran in.
 * Returns the total number of failed runs (expected failures included). */
unsigned tv_run(const struct tv_backend *b, const struct tv_params *p,
		struct tv_result results[TV_NR_CASES]);

/* Run p->nr_threads workers at once (threads released together once all
 * exist), worker i on backends[i] with the seed p->seed + i.  One worker
 * runs in the calling thread.  0, or a negative errno if the threads
 * could not be started (nothing ran then). */
int tv_run_workers(const struct tv_backend *const *backends, const struct tv_params *p,
		   struct tv_worker *workers);

/* Failed runs that the kernel does not expect: those of any case but the
 * expected failures (align_shift_alloc_test), which on 6.18 count as
 * failed when they pass. */
unsigned tv_unexpected_failures(const struct tv_result results[TV_NR_CASES]);

/* The kernel's lines, one per case that ran, 6.18's
 * "Summary: <test> passed: N failed: N xfailed: N repeat: N loops: N avg: N usec"
 * or, for the first module, the same without "xfailed: N". */
void tv_print_summary(FILE *f, const struct tv_params *p,
		      const struct tv_result results[TV_NR_CASES]);

#ifdef __cplusplus
}
#endif

#endif /* TV_TEST_VMALLOC_H */
