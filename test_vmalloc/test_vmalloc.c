/* test_vmalloc.c -- the kernel's lib/test_vmalloc.c workloads over a
 * struct tv_backend (see test_vmalloc.h for the cases and their mask bits),
 * shared by vmbench (the engine in process) and vmctl test-vmalloc (the
 * service through libvmclient).
 *
 * Written from the description of what each kernel case does; the kernel's
 * module is one worker per thread around the same loop bodies.  Where the
 * kernel keeps its bookkeeping arrays in vmalloc memory, so does this port
 * (an area of the same size is allocated through the backend, so the KVA
 * layout matches), while the pointers themselves live in host memory.
 */
#include "test_vmalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* x86_64: THREAD_SIZE is 16 KiB, the kernel case asks for THREAD_ALIGN << 1. */
#define TV_FIX_ALIGN       (32u * 1024u)
#define TV_BUSY_AREAS      15000u

struct tv_ctx {
	const struct tv_backend *b;
	const struct tv_params *p;
	uint64_t rng;
};

/* xorshift64*: cheap, reproducible from the seed. */
static uint64_t tv_rand(struct tv_ctx *c)
{
	uint64_t x = c->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [lo, hi]. */
static uint32_t tv_rand_between(struct tv_ctx *c, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)((tv_rand(c) >> 32) % ((uint64_t)hi - lo + 1));
}

static uint64_t loops(const struct tv_ctx *c)
{
	return c->p->test_loop_count ? c->p->test_loop_count : 1;
}

static uint64_t case_pages(const struct tv_ctx *c)
{
	return c->p->nr_pages ? c->p->nr_pages : 1;
}

/* ---- pipelined forms, or their plain equivalents -------------------------------- */

static int vmalloc_bulk(const struct tv_backend *b, const uint64_t *sizes, uint64_t size,
			uint64_t n, uint64_t *addrs)
{
	int rv = 0;

	if (b->vmalloc_bulk)
		return b->vmalloc_bulk(b->ctx, sizes, size, n, addrs);
	for (uint64_t i = 0; i < n; i++) {
		int r = b->vmalloc(b->ctx, sizes ? sizes[i] : size, &addrs[i]);

		if (r < 0) {
			addrs[i] = 0;
			if (rv == 0)
				rv = r;
		}
	}
	return rv;
}

static int vfree_bulk(const struct tv_backend *b, const uint64_t *addrs, uint64_t n)
{
	int rv = 0;

	if (b->vfree_bulk)
		return b->vfree_bulk(b->ctx, addrs, n);
	for (uint64_t i = 0; i < n; i++) {
		int r = addrs[i] ? b->vfree(b->ctx, addrs[i]) : 0;

		if (r < 0 && rv == 0)
			rv = r;
	}
	return rv;
}

static int touch_vfree(const struct tv_backend *b, const uint64_t *addrs, const uint8_t *vals,
		       unsigned n)
{
	int rv = 0, r;

	if (b->touch_vfree)
		return b->touch_vfree(b->ctx, addrs, vals, n);
	for (unsigned i = 0; i < n; i++) {
		r = b->touch(b->ctx, addrs[i], vals[i]);
		if (r < 0 && rv == 0)
			rv = r;
	}
	for (unsigned i = 0; i < n; i++) {
		r = b->vfree(b->ctx, addrs[i]);
		if (r < 0 && rv == 0)
			rv = r;
	}
	return rv;
}

/* ---- the cases --------------------------------------------------------------- */

static int fix_size_alloc_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	uint64_t size = case_pages(c) * TV_PAGE_SIZE, n = loops(c), addr;
	static const uint8_t zero = 0;
	bool huge = c->p->use_huge && b->vmalloc_huge;

	for (uint64_t i = 0; i < n; i++) {
		int r = huge ? b->vmalloc_huge(b->ctx, size, &addr) : b->vmalloc(b->ctx, size, &addr);

		if (r < 0)
			return r;
		r = touch_vfree(b, &addr, &zero, 1);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Fill the low KVA with 1-page areas, every other one freed again: the
 * holes are exactly one page plus guard, so each loop's allocation is a
 * full fit that removes a whole free range (and its vfree puts it back).
 * The kernel does not check the junk allocations; a failed one counts
 * here, as the holes would not be what the case measures. */
static int full_fit_alloc_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	unsigned cpus = c->p->nr_cpus ? c->p->nr_cpus : 1, fls = 0;
	uint64_t junk_length, ptr_area = 0, junk_area = 0, n = loops(c), tmp;
	uint64_t *both = NULL, *ptr = NULL, *junk = NULL;
	static const uint8_t one = 1;
	int r, rv;

	while (cpus >> fls)
		fls++;
	junk_length = (uint64_t)fls * ((32ull << 20) / TV_PAGE_SIZE);
	both = calloc(2 * junk_length, sizeof(*both));
	ptr = calloc(junk_length, sizeof(*ptr));
	junk = calloc(junk_length, sizeof(*junk));
	if (!both || !ptr || !junk) {
		rv = -ENOMEM;
		goto out;
	}
	rv = b->vmalloc(b->ctx, junk_length * sizeof(void *), &ptr_area);
	if (rv == 0)
		rv = b->vmalloc(b->ctx, junk_length * sizeof(void *), &junk_area);
	if (rv < 0)
		goto out;
	/* ptr[0], junk[0], ptr[1], junk[1], ... as the kernel's loop takes them. */
	rv = vmalloc_bulk(b, NULL, TV_PAGE_SIZE, 2 * junk_length, both);
	for (uint64_t i = 0; i < junk_length; i++) {
		ptr[i] = both[2 * i];
		junk[i] = both[2 * i + 1];
	}
	r = vfree_bulk(b, junk, junk_length);
	if (rv == 0)
		rv = r;
	for (uint64_t i = 0; rv == 0 && i < n; i++) {
		rv = b->vmalloc(b->ctx, TV_PAGE_SIZE, &tmp);
		if (rv == 0)
			rv = touch_vfree(b, &tmp, &one, 1);
	}
	r = vfree_bulk(b, ptr, junk_length);
	if (rv == 0)
		rv = r;
out:
	if (ptr_area) {
		r = b->vfree(b->ctx, ptr_area);
		if (rv == 0)
			rv = r;
	}
	if (junk_area) {
		r = b->vfree(b->ctx, junk_area);
		if (rv == 0)
			rv = r;
	}
	free(both);
	free(ptr);
	free(junk);
	return rv;
}

/* 15000 busy 1-page areas below, then a 100-page and a 1-page area per
 * loop, both touched and freed. */
static int long_busy_list_alloc_test(struct tv_ctx *c)
{
	static const uint64_t sizes[2] = { 100 * TV_PAGE_SIZE, TV_PAGE_SIZE };
	static const uint8_t vals[2] = { 0, 1 };
	const struct tv_backend *b = c->b;
	uint64_t *ptr, area = 0, n = loops(c), p[2];
	int r, rv;

	ptr = calloc(TV_BUSY_AREAS, sizeof(*ptr));
	if (!ptr)
		return -ENOMEM;
	rv = b->vmalloc(b->ctx, TV_BUSY_AREAS * sizeof(void *), &area);
	if (rv < 0) {
		free(ptr);
		return rv;
	}
	rv = vmalloc_bulk(b, NULL, TV_PAGE_SIZE, TV_BUSY_AREAS, ptr);

	for (uint64_t i = 0; rv == 0 && i < n; i++) {
		rv = vmalloc_bulk(b, sizes, 0, 2, p);
		if (rv < 0) {
			vfree_bulk(b, p, 2);
			break;
		}
		rv = touch_vfree(b, p, vals, 2);
	}

	r = vfree_bulk(b, ptr, TV_BUSY_AREAS);
	if (rv == 0)
		rv = r;
	r = b->vfree(b->ctx, area);
	if (rv == 0)
		rv = r;
	free(ptr);
	return rv;
}

static int random_size_alloc_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	uint64_t n = loops(c), addr;
	static const uint8_t one = 1;

	for (uint64_t i = 0; i < n; i++) {
		uint32_t pages = tv_rand_between(c, 1, 100);
		int r = b->vmalloc(b->ctx, pages * TV_PAGE_SIZE, &addr);

		if (r < 0)
			return r;
		r = touch_vfree(b, &addr, &one, 1);
		if (r < 0)
			return r;
	}
	return 0;
}

static int fix_align_alloc_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	uint64_t n = loops(c), addr;

	for (uint64_t i = 0; i < n; i++) {
		int r = b->vzalloc_node_align(b->ctx, 5 * TV_PAGE_SIZE, TV_FIX_ALIGN, 0,
					      &addr);

		if (r < 0)
			return r;
		if (addr & (TV_FIX_ALIGN - 1)) {
			b->vfree(b->ctx, addr);
			return -EFAULT;       /* misaligned: the allocator broke its promise */
		}
		r = b->vfree(b->ctx, addr);
		if (r < 0)
			return r;
	}
	return 0;
}

static int random_size_align_alloc_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	uint64_t n = loops(c), addr;

	for (uint64_t i = 0; i < n; i++) {
		unsigned rnd = (unsigned)(tv_rand(c) >> 56);   /* one random byte */
		uint64_t align = 1ull << (rnd % 23);          /* up to 4 MiB */
		uint64_t size = ((rnd % 10) + 1) * TV_PAGE_SIZE;
		int r = b->vzalloc_node_align(b->ctx, size, align, 0, &addr);

		if (r < 0)
			return r;
		if (align >= TV_PAGE_SIZE && (addr & (align - 1))) {
			b->vfree(b->ctx, addr);
			return -EFAULT;
		}
		r = b->vfree(b->ctx, addr);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Alignments up to 2^63: the large ones cannot be met in any vmalloc
 * range, so this case fails by design (as in the kernel); it measures how
 * quickly the allocator says no. */
static int align_shift_alloc_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	uint64_t addr;

	for (unsigned i = 0; i < 64; i++) {
		int r = b->vzalloc_node_align(b->ctx, TV_PAGE_SIZE, 1ull << i, 0,
					      &addr);

		if (r < 0)
			return r;
		r = b->vfree(b->ctx, addr);
		if (r < 0)
			return r;
	}
	return 0;
}

/* nr_pcpu_objects per-CPU objects of 1..PAGE_SIZE/4 bytes aligned to
 * 2^1..2^11, their pointers in a vmalloc'd array as the kernel keeps them;
 * a failed allocation fails the case but the others go on. */
static int pcpu_alloc_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	uint64_t n = c->p->nr_pcpu_objects, area = 0, *sizes, *aligns, *ptrs;
	int r, rv;

	if (!b->alloc_percpu || !b->free_percpu)
		return -EOPNOTSUPP;
	sizes = calloc(n ? n : 1, sizeof(*sizes));
	aligns = calloc(n ? n : 1, sizeof(*aligns));
	ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	if (!sizes || !aligns || !ptrs) {
		rv = -ENOMEM;
		goto out;
	}
	rv = b->vmalloc(b->ctx, (n ? n : 1) * sizeof(void *), &area);
	if (rv < 0)
		goto out;
	for (uint64_t i = 0; i < n; i++) {
		sizes[i] = tv_rand_between(c, 1, (uint32_t)TV_PAGE_SIZE / 4);
		aligns[i] = 1ull << tv_rand_between(c, 1, 11);
	}
	if (b->alloc_percpu_bulk) {
		rv = b->alloc_percpu_bulk(b->ctx, sizes, aligns, n, ptrs);
	} else {
		for (uint64_t i = 0; i < n; i++) {
			r = b->alloc_percpu(b->ctx, sizes[i], aligns[i], &ptrs[i]);
			if (r < 0) {
				ptrs[i] = 0;
				if (rv == 0)
					rv = r;
			}
		}
	}
	if (b->free_percpu_bulk) {
		r = b->free_percpu_bulk(b->ctx, ptrs, n);
	} else {
		r = 0;
		for (uint64_t i = 0; i < n; i++) {
			int r2 = ptrs[i] ? b->free_percpu(b->ctx, ptrs[i]) : 0;

			if (r2 < 0 && r == 0)
				r = r2;
		}
	}
	if (rv == 0)
		rv = r;
	r = b->vfree(b->ctx, area);
	if (rv == 0)
		rv = r;
out:
	free(sizes);
	free(aligns);
	free(ptrs);
	return rv;
}

/* vmalloc(1 page), touch, kvfree_rcu: the memory goes back after a grace
 * period, in batches (head: the two-argument kvfree_rcu(p, rcu), else
 * kvfree_rcu_mightsleep(p)). */
static int kvfree_rcu_vmalloc_test(struct tv_ctx *c, bool head)
{
	const struct tv_backend *b = c->b;
	uint64_t n = loops(c), p;

	if (!b->kvfree_rcu)
		return -EOPNOTSUPP;
	for (uint64_t i = 0; i < n; i++) {
		int r = b->vmalloc(b->ctx, TV_PAGE_SIZE, &p);

		if (r < 0)
			return r;
		if (b->touch_kvfree_rcu) {
			r = b->touch_kvfree_rcu(b->ctx, p, 'a', head);
		} else {
			r = b->touch(b->ctx, p, 'a');
			if (r == 0)
				r = b->kvfree_rcu(b->ctx, p, head);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int kvfree_rcu_1_arg_vmalloc_test(struct tv_ctx *c)
{
	return kvfree_rcu_vmalloc_test(c, false);
}

static int kvfree_rcu_2_arg_vmalloc_test(struct tv_ctx *c)
{
	return kvfree_rcu_vmalloc_test(c, true);
}

/* vm_map_ram() of nr_pages frames of its own (alloc_pages_bulk), touch,
 * vm_unmap_ram(): per-CPU vmap blocks up to 64 pages. */
static int vm_map_ram_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	uint64_t map_nr = case_pages(c), got = 0, n = loops(c), addr;
	uint64_t *pfns = calloc(map_nr, sizeof(*pfns));
	int r = 0, r2;

	if (!pfns)
		return -ENOMEM;
	if (!b->vm_map_ram || !b->vm_unmap_ram) {
		free(pfns);
		return -EOPNOTSUPP;
	}
	for (; got < map_nr; got++) {
		r = b->alloc_page(b->ctx, &pfns[got]);
		if (r < 0)
			goto cleanup;
	}
	for (uint64_t i = 0; i < n; i++) {
		r = b->vm_map_ram(b->ctx, pfns, map_nr, &addr);
		if (r < 0)
			break;
		if (b->touch_unmap_ram) {
			r = b->touch_unmap_ram(b->ctx, addr, map_nr, 'a');
		} else {
			r = b->touch(b->ctx, addr, 'a');
			r2 = b->vm_unmap_ram(b->ctx, addr, map_nr);
			if (r == 0)
				r = r2;
		}
		if (r < 0)
			break;
	}
cleanup:
	for (uint64_t i = 0; i < got; i++) {
		r2 = b->free_page(b->ctx, pfns[i]);
		if (r == 0)
			r = r2;
	}
	free(pfns);
	return r;
}

/* ---- the driver -------------------------------------------------------------- */

struct tv_case {
	const char *name;
	uint32_t bit;
	int (*fn)(struct tv_ctx *c);
};

static const struct tv_case cases[TV_NR_CASES] = {
	{ "fix_size_alloc_test", 1u << 0, fix_size_alloc_test },
	{ "full_fit_alloc_test", 1u << 1, full_fit_alloc_test },
	{ "long_busy_list_alloc_test", 1u << 2, long_busy_list_alloc_test },
	{ "random_size_alloc_test", 1u << 3, random_size_alloc_test },
	{ "fix_align_alloc_test", 1u << 4, fix_align_alloc_test },
	{ "random_size_align_alloc_test", 1u << 5, random_size_align_alloc_test },
	{ "align_shift_alloc_test", 1u << 6, align_shift_alloc_test },
	{ "pcpu_alloc_test", 1u << 7, pcpu_alloc_test },
	{ "kvfree_rcu_1_arg_vmalloc_test", 1u << 8, kvfree_rcu_1_arg_vmalloc_test },
	{ "kvfree_rcu_2_arg_vmalloc_test", 1u << 9, kvfree_rcu_2_arg_vmalloc_test },
	{ "vm_map_ram_test", 1u << 10, vm_map_ram_test },
};

const char *tv_case_name(unsigned i)
{
	return i < TV_NR_CASES ? cases[i].name : NULL;
}

uint32_t tv_case_bit(unsigned i)
{
	return i < TV_NR_CASES ? cases[i].bit : 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned online_cpus(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus > 0 ? (unsigned)cpus : 1;
}

void tv_params_init(struct tv_params *p, const struct tv_kernel *k)
{
	static const struct tv_kernel k618 = TV_KERNEL_6_18;

	memset(p, 0, sizeof(*p));
	p->kernel = k ? *k : k618;
	p->test_loop_count = 1000000;
	p->nr_pages = 0;
	p->nr_pcpu_objects = 35000;
	p->test_repeat_count = 1;
	p->run_test_mask = p->kernel.default_mask;
	p->sequential_test_order = false;
	p->nr_threads = 1;
	p->nr_cpus = online_cpus();
	p->seed = now_ns() | 1;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	if (!strcmp(s, "1") || !strcasecmp(s, "y") || !strcasecmp(s, "yes") ||
	    !strcasecmp(s, "true") || !strcasecmp(s, "on")) {
		*ret = true;
		return 0;
	}
	if (!strcmp(s, "0") || !strcasecmp(s, "n") || !strcasecmp(s, "no") ||
	    !strcasecmp(s, "false") || !strcasecmp(s, "off")) {
		*ret = false;
		return 0;
	}
	return -EINVAL;
}

int tv_params_set(struct tv_params *p, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen;
	uint64_t v;
	bool bv;

	if (!eq)
		return -EINVAL;
	klen = (size_t)(eq - kv);
	eq++;
#define KEY(k) (klen == sizeof(k) - 1 && !strncmp(kv, k, klen))
	if (KEY("sequential_test_order") || KEY("single_cpu_test") || KEY("use_huge")) {
		if (parse_bool(eq, &bv) < 0)
			return -EINVAL;
		if (KEY("sequential_test_order"))
			p->sequential_test_order = bv;
		else if (KEY("use_huge"))
			p->use_huge = bv;
		return 0;   /* single_cpu_test (older kernels): workers are threads here */
	}
	if (parse_u64(eq, &v) < 0)
		return -EINVAL;
	if (KEY("test_loop_count") && v <= INT32_MAX)
		p->test_loop_count = v;
	else if (KEY("nr_pages") && v <= INT32_MAX)
		p->nr_pages = v;
	else if (KEY("nr_pcpu_objects") && v <= INT32_MAX)
		p->nr_pcpu_objects = v;
	else if (KEY("test_repeat_count") && v <= INT32_MAX)
		p->test_repeat_count = (unsigned)v;
	else if (KEY("run_test_mask") && v <= UINT32_MAX)
		p->run_test_mask = (uint32_t)v;
	else if (KEY("nr_threads") && v <= INT32_MAX)
		/* As the kernel: clamp(nr_threads, 1, USHRT_MAX). */
		p->nr_threads = v < 1 ? 1 : v > TV_MAX_THREADS ? TV_MAX_THREADS : (unsigned)v;
	else if (KEY("nr_cpus") && v >= 1 && v <= UINT32_MAX)
		p->nr_cpus = (unsigned)v;
	else if (KEY("seed"))
		p->seed = v;
	else
		return -EINVAL;
#undef KEY
	return 0;
}

/* tools/testing/selftests/mm/test_vmalloc.sh's PERF_PARAM, SMOKE_PARAM and
 * STRESS_PARAM. */
static const struct {
	const char *name, *params;
} modes[] = {
	{ "performance", "sequential_test_order=1 test_repeat_count=3" },
	{ "smoke", "test_loop_count=10000 test_repeat_count=10" },
	{ "stress", "nr_threads=NUM_CPUS test_repeat_count=20" },
};

const char *tv_mode_params(const char *mode)
{
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(mode, modes[i].name))
			return modes[i].params;
	return NULL;
}

int tv_params_mode(struct tv_params *p, const char *mode)
{
	const char *s = tv_mode_params(mode);
	struct tv_params q = *p;
	char kv[64];

	if (!s)
		return -EINVAL;
	while (*s) {
		size_t n = strcspn(s, " ");

		if (n >= sizeof(kv))
			return -EINVAL;
		memcpy(kv, s, n);
		kv[n] = 0;
		if (!strcmp(kv, "nr_threads=NUM_CPUS"))
			snprintf(kv, sizeof(kv), "nr_threads=%u", online_cpus());
		if (tv_params_set(&q, kv) < 0)
			return -EINVAL;
		s += n;
		s += strspn(s, " ");
	}
	*p = q;
	return 0;
}

unsigned tv_run(const struct tv_backend *b, const struct tv_params *p,
		struct tv_result results[TV_NR_CASES])
{
	unsigned order[TV_NR_CASES], repeat = p->test_repeat_count ? p->test_repeat_count : 1;
	unsigned total_failed = 0;
	struct tv_ctx c = { .b = b, .p = p, .rng = p->seed ? p->seed : 1 };

	for (unsigned i = 0; i < TV_NR_CASES; i++) {
		order[i] = i;
		memset(&results[i], 0, sizeof(results[i]));
		results[i].name = cases[i].name;
		results[i].mask_bit = cases[i].bit;
		results[i].xfail = (p->kernel.xfail & cases[i].bit) != 0;
		results[i].summary_xfailed = p->kernel.summary_xfailed;
	}
	/* shuffle_array(): j below i, never i itself (the module's). */
	if (!p->sequential_test_order) {
		for (unsigned i = TV_NR_CASES - 1; i > 0; i--) {
			unsigned j = tv_rand_between(&c, 0, i - 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
	}
	for (unsigned k = 0; k < TV_NR_CASES; k++) {
		unsigned i = order[k];
		struct tv_result *res = &results[i];
		uint64_t t0, dt;

		if (!(p->run_test_mask & cases[i].bit) || !(p->kernel.cases & cases[i].bit))
			continue;
		res->ran = true;
		t0 = now_ns();
		for (unsigned j = 0; j < repeat; j++) {
			int r;

			if (p->progress)
				p->progress(p->progress_ctx, p->worker, i, j, repeat);
			r = cases[i].fn(&c);

			/* 6.17+: a pass counts only if not expected to fail, a
			 * failure apart if it is; the first module knew no
			 * expected failures. */
			if (r == 0 && !(res->xfail && p->kernel.summary_xfailed)) {
				res->passed++;
			} else if (r < 0 && res->xfail && p->kernel.summary_xfailed) {
				res->xfailed++;
			} else {
				res->failed++;
				if (!res->first_error)
					res->first_error = r ? r : -EPROTO;
			}
		}
		dt = now_ns() - t0;
		if (p->progress)
			p->progress(p->progress_ctx, p->worker, i, repeat, repeat);
		res->avg_nsec = (double)dt / repeat;
		res->avg_usec = dt / 1000 / repeat;
		total_failed += res->failed;
	}
	return total_failed;
}

unsigned tv_unexpected_failures(const struct tv_result results[TV_NR_CASES])
{
	unsigned n = 0;

	/* With "xfailed" (6.18) the failed count of an expected failure is
	 * the runs that passed, which the kernel does not expect; the first
	 * module counted an expected failure's failures as failed. */
	for (unsigned i = 0; i < TV_NR_CASES; i++)
		if (results[i].ran && (!results[i].xfail || results[i].summary_xfailed))
			n += results[i].failed;
	return n;
}

/* ---- workers ------------------------------------------------------------------ */

struct tv_start {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int state;                 /* 0 wait, 1 go, -1 give up */
};

struct tv_thread {
	pthread_t tid;
	struct tv_start *start;
	const struct tv_backend *b;
	struct tv_params p;
	struct tv_worker *w;
};

static void worker_run(struct tv_thread *t)
{
	uint64_t t0 = now_ns();

	t->w->failed = tv_run(t->b, &t->p, t->w->results);
	t->w->elapsed_ns = now_ns() - t0;
}

static void *worker_main(void *arg)
{
	struct tv_thread *t = arg;
	int state;

	/* Wait until every worker exists, as the kernel's workers wait on
	 * prepare_for_test_rwsem. */
	pthread_mutex_lock(&t->start->lock);
	while (t->start->state == 0)
		pthread_cond_wait(&t->start->cond, &t->start->lock);
	state = t->start->state;
	pthread_mutex_unlock(&t->start->lock);
	if (state > 0)
		worker_run(t);
	return NULL;
}

int tv_run_workers(const struct tv_backend *const *backends, const struct tv_params *p,
		   struct tv_worker *workers)
{
	unsigned n = p->nr_threads ? p->nr_threads : 1, made = 0;
	struct tv_start start = { .state = 0 };
	struct tv_thread *t;
	int r = 0;

	t = calloc(n, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		t[i].start = &start;
		t[i].b = backends[i];
		t[i].p = *p;
		t[i].p.seed = p->seed + i;
		t[i].p.worker = i;
		t[i].w = &workers[i];
		memset(&workers[i], 0, sizeof(workers[i]));
	}
	if (n == 1) {
		worker_run(&t[0]);
		free(t);
		return 0;
	}
	pthread_mutex_init(&start.lock, NULL);
	pthread_cond_init(&start.cond, NULL);
	for (; made < n; made++) {
		r = -pthread_create(&t[made].tid, NULL, worker_main, &t[made]);
		if (r < 0)
			break;
	}
	pthread_mutex_lock(&start.lock);
	start.state = r < 0 ? -1 : 1;
	pthread_cond_broadcast(&start.cond);
	pthread_mutex_unlock(&start.lock);
	for (unsigned i = 0; i < made; i++)
		pthread_join(t[i].tid, NULL);
	pthread_cond_destroy(&start.cond);
	pthread_mutex_destroy(&start.lock);
	free(t);
	return r;
}

void tv_print_summary(FILE *f, const struct tv_params *p,
		      const struct tv_result results[TV_NR_CASES])
{
	unsigned repeat = p->test_repeat_count ? p->test_repeat_count : 1;
	uint64_t n = p->test_loop_count ? p->test_loop_count : 1;

	for (unsigned i = 0; i < TV_NR_CASES; i++) {
		if (!results[i].ran)
			continue;
		if (p->kernel.summary_xfailed)
			fprintf(f, "Summary: %s passed: %u failed: %u xfailed: %u repeat: %u loops: %"
				PRIu64 " avg: %" PRIu64 " usec\n", results[i].name, results[i].passed,
				results[i].failed, results[i].xfailed, repeat, n, results[i].avg_usec);
		else
			fprintf(f, "Summary: %s passed: %u failed: %u repeat: %u loops: %" PRIu64
				" avg: %" PRIu64 " usec\n", results[i].name, results[i].passed,
				results[i].failed, repeat, n, results[i].avg_usec);
	}
}
