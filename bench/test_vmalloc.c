/* test_vmalloc.c -- the kernel's lib/test_vmalloc.c workloads over a
 * struct tv_backend (see test_vmalloc.h for the cases and their mask bits).
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
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* x86_64: THREAD_SIZE is 16 KiB, the kernel case asks for THREAD_ALIGN << 1. */
#define TV_FIX_ALIGN       (32u * 1024u)
#define TV_BUSY_AREAS      15000u
#define TV_GFP_ZERO_KERNEL (GFP_KERNEL | __GFP_ZERO)

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

/* ---- the cases --------------------------------------------------------------- */

static int fix_size_alloc_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	uint64_t size = case_pages(c) * TV_PAGE_SIZE, n = loops(c), addr;

	for (uint64_t i = 0; i < n; i++) {
		int r = b->vmalloc(b->ctx, size, &addr);

		if (r < 0)
			return r;
		r = b->touch(b->ctx, addr, 0);
		if (r < 0) {
			b->vfree(b->ctx, addr);
			return r;
		}
		r = b->vfree(b->ctx, addr);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Fill the low KVA with 1-page areas, every other one freed again: the
 * holes are exactly one page plus guard, so each loop's allocation is a
 * full fit that removes a whole free range (and its vfree puts it back). */
static int full_fit_alloc_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	unsigned cpus = c->p->nr_cpus ? c->p->nr_cpus : 1, fls = 0;
	uint64_t junk_length, ptr_area = 0, junk_area = 0, n = loops(c), tmp;
	uint64_t *ptr = NULL, *junk = NULL;
	int r, rv;

	while (cpus >> fls)
		fls++;
	junk_length = (uint64_t)fls * ((32ull << 20) / TV_PAGE_SIZE);
	ptr = calloc(junk_length, sizeof(*ptr));
	junk = calloc(junk_length, sizeof(*junk));
	if (!ptr || !junk) {
		rv = -ENOMEM;
		goto out;
	}
	rv = b->vmalloc(b->ctx, junk_length * sizeof(void *), &ptr_area);
	if (rv == 0)
		rv = b->vmalloc(b->ctx, junk_length * sizeof(void *), &junk_area);
	for (uint64_t i = 0; rv == 0 && i < junk_length; i++) {
		rv = b->vmalloc(b->ctx, TV_PAGE_SIZE, &ptr[i]);
		if (rv == 0)
			rv = b->vmalloc(b->ctx, TV_PAGE_SIZE, &junk[i]);
	}
	for (uint64_t i = 0; i < junk_length; i++) {
		if (junk[i]) {
			r = b->vfree(b->ctx, junk[i]);
			if (r < 0 && rv == 0)
				rv = r;
			junk[i] = 0;
		}
	}
	for (uint64_t i = 0; rv == 0 && i < n; i++) {
		rv = b->vmalloc(b->ctx, TV_PAGE_SIZE, &tmp);
		if (rv < 0)
			break;
		rv = b->touch(b->ctx, tmp, 1);
		r = b->vfree(b->ctx, tmp);
		if (rv == 0)
			rv = r;
	}
out:
	for (uint64_t i = 0; ptr && i < junk_length; i++) {
		if (ptr[i]) {
			r = b->vfree(b->ctx, ptr[i]);
			if (r < 0 && rv == 0)
				rv = r;
		}
	}
	if (ptr_area)
		b->vfree(b->ctx, ptr_area);
	if (junk_area)
		b->vfree(b->ctx, junk_area);
	free(ptr);
	free(junk);
	return rv;
}

/* 15000 busy 1-page areas below, then a 100-page and a 1-page area per
 * loop, both touched and freed. */
static int long_busy_list_alloc_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	uint64_t *ptr, area = 0, n = loops(c), p1, p2;
	int r, rv;

	ptr = calloc(TV_BUSY_AREAS, sizeof(*ptr));
	if (!ptr)
		return -ENOMEM;
	rv = b->vmalloc(b->ctx, TV_BUSY_AREAS * sizeof(void *), &area);
	for (unsigned i = 0; rv == 0 && i < TV_BUSY_AREAS; i++)
		rv = b->vmalloc(b->ctx, TV_PAGE_SIZE, &ptr[i]);

	for (uint64_t i = 0; rv == 0 && i < n; i++) {
		rv = b->vmalloc(b->ctx, 100 * TV_PAGE_SIZE, &p1);
		if (rv < 0)
			break;
		rv = b->vmalloc(b->ctx, TV_PAGE_SIZE, &p2);
		if (rv < 0) {
			b->vfree(b->ctx, p1);
			break;
		}
		rv = b->touch(b->ctx, p1, 0);
		if (rv == 0)
			rv = b->touch(b->ctx, p2, 1);
		r = b->vfree(b->ctx, p1);
		if (rv == 0)
			rv = r;
		r = b->vfree(b->ctx, p2);
		if (rv == 0)
			rv = r;
	}

	for (unsigned i = 0; i < TV_BUSY_AREAS; i++) {
		if (ptr[i]) {
			r = b->vfree(b->ctx, ptr[i]);
			if (r < 0 && rv == 0)
				rv = r;
		}
	}
	if (area)
		b->vfree(b->ctx, area);
	free(ptr);
	return rv;
}

static int random_size_alloc_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	uint64_t n = loops(c), addr;

	for (uint64_t i = 0; i < n; i++) {
		uint32_t pages = tv_rand_between(c, 1, 100);
		int r = b->vmalloc(b->ctx, pages * TV_PAGE_SIZE, &addr), r2;

		if (r < 0)
			return r;
		r = b->touch(b->ctx, addr, 1);
		r2 = b->vfree(b->ctx, addr);
		if (r < 0)
			return r;
		if (r2 < 0)
			return r2;
	}
	return 0;
}

static int fix_align_alloc_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	uint64_t n = loops(c), addr;

	for (uint64_t i = 0; i < n; i++) {
		int r = b->vmalloc_node_range(b->ctx, 5 * TV_PAGE_SIZE, TV_FIX_ALIGN,
					      TV_GFP_ZERO_KERNEL, 0, &addr);

		if (r < 0)
			return r;
		if (addr & (TV_FIX_ALIGN - 1)) {
			b->vfree(b->ctx, addr);
			return -EFAULT;       /* misaligned: the engine broke its promise */
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
		int r = b->vmalloc_node_range(b->ctx, size, align, TV_GFP_ZERO_KERNEL, 0, &addr);

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
		int r = b->vmalloc_node_range(b->ctx, TV_PAGE_SIZE, 1ull << i,
					      TV_GFP_ZERO_KERNEL, 0, &addr);

		if (r < 0)
			return r;
		r = b->vfree(b->ctx, addr);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The kernel maps pre-allocated pages with vm_map_ram; here the backend's
 * vmap/vunmap do that job. */
static int vm_map_ram_test(struct tv_ctx *c)
{
	const struct tv_backend *b = c->b;
	uint64_t map_nr = case_pages(c), got = 0, n = loops(c), addr;
	uint64_t *pfns = calloc(map_nr, sizeof(*pfns));
	int r = 0, r2;

	if (!pfns)
		return -ENOMEM;
	for (; got < map_nr; got++) {
		r = b->alloc_page(b->ctx, &pfns[got]);
		if (r < 0)
			goto cleanup;
	}
	for (uint64_t i = 0; i < n; i++) {
		r = b->vmap(b->ctx, pfns, map_nr, &addr);
		if (r < 0)
			break;
		r = b->touch(b->ctx, addr, 'a');
		r2 = b->vunmap(b->ctx, addr);
		if (r == 0)
			r = r2;
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

void tv_params_init(struct tv_params *p)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(p, 0, sizeof(*p));
	p->test_loop_count = 1000000;
	p->nr_pages = 0;
	p->test_repeat_count = 1;
	p->run_test_mask = 0x7fffffffu;   /* INT_MAX */
	p->sequential_test_order = false;
	p->nr_cpus = cpus > 0 ? (unsigned)cpus : 1;
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
	if (KEY("sequential_test_order") || KEY("single_cpu_test")) {
		if (parse_bool(eq, &bv) < 0)
			return -EINVAL;
		if (KEY("sequential_test_order"))
			p->sequential_test_order = bv;
		return 0;   /* single_cpu_test: there is only ever one worker here */
	}
	if (parse_u64(eq, &v) < 0)
		return -EINVAL;
	if (KEY("test_loop_count"))
		p->test_loop_count = v;
	else if (KEY("nr_pages"))
		p->nr_pages = v;
	else if (KEY("test_repeat_count") && v <= UINT32_MAX)
		p->test_repeat_count = (unsigned)v;
	else if (KEY("run_test_mask") && v <= UINT32_MAX)
		p->run_test_mask = (uint32_t)v;
	else if (KEY("nr_cpus") && v <= UINT32_MAX)
		p->nr_cpus = (unsigned)v;
	else if (KEY("seed"))
		p->seed = v;
	else if (KEY("nr_threads") && v <= 1)
		;   /* one worker; run tv_run in threads for more */
	else
		return -EINVAL;
#undef KEY
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
	}
	if (!p->sequential_test_order) {
		for (unsigned i = TV_NR_CASES - 1; i > 0; i--) {
			unsigned j = tv_rand_between(&c, 0, i), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
	}
	for (unsigned k = 0; k < TV_NR_CASES; k++) {
		unsigned i = order[k];
		struct tv_result *res = &results[i];
		uint64_t t0, dt;

		if (!(p->run_test_mask & cases[i].bit))
			continue;
		res->ran = true;
		t0 = now_ns();
		for (unsigned j = 0; j < repeat; j++) {
			int r = cases[i].fn(&c);

			if (r == 0) {
				res->passed++;
			} else {
				res->failed++;
				if (!res->first_error)
					res->first_error = r;
			}
		}
		dt = now_ns() - t0;
		res->avg_nsec = (double)dt / repeat;
		res->avg_usec = dt / 1000 / repeat;
		total_failed += res->failed;
	}
	return total_failed;
}

void tv_print_summary(FILE *f, const struct tv_params *p,
		      const struct tv_result results[TV_NR_CASES])
{
	unsigned repeat = p->test_repeat_count ? p->test_repeat_count : 1;
	uint64_t n = p->test_loop_count ? p->test_loop_count : 1;

	for (unsigned i = 0; i < TV_NR_CASES; i++) {
		if (!results[i].ran)
			continue;
		fprintf(f, "Summary: %s passed: %u failed: %u repeat: %u loops: %" PRIu64
			" avg: %" PRIu64 " usec\n", results[i].name, results[i].passed,
			results[i].failed, repeat, n, results[i].avg_usec);
	}
}
