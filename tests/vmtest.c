/* vmtest.c -- scaffolding shared by the engine's CUnit tests (see vmtest.h). */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmtest.h"

#ifndef VMTEST_FIXTURES
#error "VMTEST_FIXTURES must name the fixtures directory"
#endif

bool t_assert_msg(bool ok, const char *expr, const char *file, int line, const char *fmt, ...)
{
	if (!ok) {
		va_list ap;

		fprintf(stderr, "\n%s:%d: assertion failed: %s\n  ", file, line, expr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, expr, file, "", CU_FALSE);
	return ok;
}

struct vm_engine *t_machine_cfg(const struct vm_config *cfg)
{
	struct vm_engine *e = NULL;
	int r = vm_engine_create(cfg, &e);

	T_ASSERT_MSG(r == 0, "vm_engine_create(%llu bytes, %u nodes, %s) = %d",
		     (unsigned long long)cfg->memory_bytes, cfg->nr_nodes,
		     vm_layout_name(cfg->layout), r);
	return r == 0 ? e : NULL;
}

struct vm_engine *t_machine(uint64_t memory, unsigned nodes, enum vm_layout layout)
{
	struct vm_config cfg;

	vm_config_init(&cfg);
	cfg.memory_bytes = memory;
	cfg.nr_nodes = nodes;
	cfg.layout = layout;
	return t_machine_cfg(&cfg);
}

struct vm_stats t_stats(const struct vm_engine *e)
{
	struct vm_stats st;

	vm_get_stats(e, &st);
	return st;
}

bool t_stats_same(const struct vm_stats *a, const struct vm_stats *b)
{
	return a->free_pages == b->free_pages && a->pagetable_pages == b->pagetable_pages &&
	       a->vmalloc_pages == b->vmalloc_pages && a->vmap_pages == b->vmap_pages &&
	       a->largest_free_kva == b->largest_free_kva && a->nr_areas == b->nr_areas &&
	       a->nr_lazy_areas == b->nr_lazy_areas && a->lazy_pages == b->lazy_pages &&
	       a->nr_purges == b->nr_purges && a->alloc_pages_pages == b->alloc_pages_pages;
}

uint64_t *t_frame_array(const struct vm_engine *e)
{
	uint64_t *held = malloc(t_stats(e).total_pages * sizeof(*held));

	T_ASSERT_MSG(held != NULL, "no host memory for a frame array");
	return held;
}

uint64_t t_take_frames(struct vm_engine *e, gfp_t gfp, int node, uint64_t *held)
{
	uint64_t n = 0, pfn;

	while (vm_alloc_pages(e, gfp | __GFP_NOWARN, 0, node, &pfn) == 0)
		held[n++] = pfn;
	return n;
}

void t_free_frames(struct vm_engine *e, const uint64_t *held, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int r = vm_free_pages(e, held[i], 0);

		if (!T_ASSERT_MSG(r == 0, "vm_free_pages(%#llx, 0) = %d", (unsigned long long)held[i], r))
			break;
	}
}

void t_log_fn(void *ctx, int level, const char *msg)
{
	struct t_log *log = ctx;

	log->count++;
	log->last_level = level;
	snprintf(log->last, sizeof(log->last), "%s", msg);
}

bool t_check(struct vm_engine *e, const char *file, int line)
{
	char msg[512];
	int r = vm_check(e, msg, sizeof(msg));

	if (r != 0)
		fprintf(stderr, "\n%s:%d: vm_check: %d: %s\n", file, line, r, msg);
	CU_assertImplementation(r == 0 ? CU_TRUE : CU_FALSE, (unsigned)line, "vm_check(e) == 0",
				file, "", CU_FALSE);
	return r == 0;
}

static char *text_of(int r, char *buf, const char *what)
{
	T_ASSERT_MSG(r == 0 && buf, "%s failed: %d", what, r);
	if (r != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *t_vmallocinfo(struct vm_engine *e)
{
	char *buf = NULL;
	size_t len = 0;
	int r = vm_show_vmallocinfo(e, false, 0, &buf, &len);

	/* An engine without areas prints nothing at all. */
	if (r == 0 && !buf)
		buf = calloc(1, 1);
	return text_of(r, buf, "vm_show_vmallocinfo");
}

char *t_meminfo(const struct vm_engine *e)
{
	char *buf = NULL;
	size_t len = 0;
	int r = vm_show_meminfo(e, &buf, &len);

	return text_of(r, buf, "vm_show_meminfo");
}

char *t_buddyinfo(const struct vm_engine *e)
{
	char *buf = NULL;
	size_t len = 0;
	int r = vm_show_buddyinfo(e, &buf, &len);

	return text_of(r, buf, "vm_show_buddyinfo");
}

void t_snap_take(struct vm_engine *e, struct t_snap *s)
{
	s->vmallocinfo = t_vmallocinfo(e);
	s->meminfo = t_meminfo(e);
	s->buddyinfo = t_buddyinfo(e);
}

void t_snap_free(struct t_snap *s)
{
	free(s->vmallocinfo);
	free(s->meminfo);
	free(s->buddyinfo);
	memset(s, 0, sizeof(*s));
}

/* Print the first line where two texts part. */
static void print_first_difference(const char *got, const char *want)
{
	const char *g = got, *w = want;
	unsigned line = 1;

	while (*g && *g == *w) {
		if (*g == '\n')
			line++;
		g++;
		w++;
	}
	while (g > got && g[-1] != '\n') {
		g--;
		w--;
	}
	fprintf(stderr, "  line %u differs:\n    got:  %.*s\n    want: %.*s\n", line,
		(int)strcspn(g, "\n"), g, (int)strcspn(w, "\n"), w);
}

bool t_text_eq(const char *got, const char *want, const char *what, const char *file, int line)
{
	bool ok = got && want && strcmp(got, want) == 0;

	if (!ok) {
		fprintf(stderr, "\n%s:%d: %s is not as expected\n", file, line, what);
		if (got && want)
			print_first_difference(got, want);
	}
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, what, file, "", CU_FALSE);
	return ok;
}

bool t_snap_same(struct vm_engine *e, const struct t_snap *s, const char *file, int line)
{
	struct t_snap now;
	bool ok;

	t_snap_take(e, &now);
	ok = t_text_eq(now.vmallocinfo, s->vmallocinfo, "vmallocinfo", file, line);
	ok &= t_text_eq(now.meminfo, s->meminfo, "meminfo", file, line);
	ok &= t_text_eq(now.buddyinfo, s->buddyinfo, "buddyinfo", file, line);
	t_snap_free(&now);
	return ok;
}

/* The kB value of a meminfo line, or -1. */
static long long meminfo_kb(const char *text, const char *label)
{
	char *l = t_line_starting(text, label);
	long long v = -1;

	if (l) {
		v = strtoll(l + strlen(label), NULL, 10);
		free(l);
	}
	return v;
}

/* Free frames in a buddyinfo text: Σ count << order over every line. */
static uint64_t buddyinfo_frames(const char *text)
{
	uint64_t total = 0;

	for (const char *l = text; l && *l;) {
		const char *p = strstr(l, "zone");
		const char *nl = strchr(l, '\n');

		if (p) {
			p += 4;
			while (*p == ' ')
				p++;
			p += strcspn(p, " ");	/* the zone name */
			for (unsigned o = 0; o < VM_NR_ORDERS; o++) {
				char *end;
				unsigned long long c = strtoull(p, &end, 10);

				if (end == p)
					break;
				total += c << o;
				p = end;
			}
		}
		l = nl ? nl + 1 : NULL;
	}
	return total;
}

/* meminfo without the lines that page-table pages move. */
static char *meminfo_sans_frames(const char *text)
{
	static const char *const moved[] = { "MemFree:", "LowFree:", "PageTables:" };
	char *out = text ? malloc(strlen(text) + 1) : NULL;
	size_t n = 0;

	if (!out)
		return NULL;
	for (const char *l = text; *l;) {
		size_t len = strcspn(l, "\n") + (l[strcspn(l, "\n")] ? 1 : 0);
		bool skip = false;

		for (unsigned i = 0; i < 3; i++)
			skip |= strncmp(l, moved[i], strlen(moved[i])) == 0;
		if (!skip) {
			memcpy(out + n, l, len);
			n += len;
		}
		l += len;
	}
	out[n] = '\0';
	return out;
}

bool t_restored(const char *mem_then, const char *buddy_then, const char *mem_now,
		const char *buddy_now, const char *file, int line)
{
	long long tables, then, free_now, free_then;
	char *a, *b;
	bool ok;

	if (!mem_then || !buddy_then || !mem_now || !buddy_now)
		return t_assert_msg(false, "restored", file, line, "a text is missing");
	then = meminfo_kb(mem_then, "PageTables:");
	tables = meminfo_kb(mem_now, "PageTables:") - then;
	if (tables == 0) {
		ok = t_text_eq(mem_now, mem_then, "meminfo", file, line);
		ok &= t_text_eq(buddy_now, buddy_then, "buddyinfo", file, line);
		return ok;
	}
	a = meminfo_sans_frames(mem_now);
	b = meminfo_sans_frames(mem_then);
	ok = t_text_eq(a, b, "meminfo (but for MemFree, LowFree, PageTables)", file, line);
	free(a);
	free(b);
	free_now = meminfo_kb(mem_now, "MemFree:");
	free_then = meminfo_kb(mem_then, "MemFree:");
	ok &= t_assert_msg(then >= 0 && tables > 0 && free_now + tables == free_then, "restored",
			   file, line, "PageTables %+lld kB, MemFree %lld kB, was %lld kB: the frames "
			   "that left are not the page tables kept", tables, free_now, free_then);
	ok &= t_assert_msg(buddyinfo_frames(buddy_now) + (uint64_t)tables / 4 ==
			   buddyinfo_frames(buddy_then), "restored", file, line,
			   "buddyinfo holds %llu free frames, %llu before, %lld kB of page tables kept",
			   (unsigned long long)buddyinfo_frames(buddy_now),
			   (unsigned long long)buddyinfo_frames(buddy_then), tables);
	return ok;
}

bool t_snap_restored(struct vm_engine *e, const struct t_snap *s, const char *file, int line)
{
	struct t_snap now;
	bool ok;

	t_snap_take(e, &now);
	ok = t_text_eq(now.vmallocinfo, s->vmallocinfo, "vmallocinfo", file, line);
	ok &= t_restored(s->meminfo, s->buddyinfo, now.meminfo, now.buddyinfo, file, line);
	t_snap_free(&now);
	return ok;
}

static int add_zone(void *ctx, const struct vm_zone_info *z)
{
	struct t_zones *zs = ctx;

	zs->z[zs->n++] = *z;
	return 0;
}

void t_zones(const struct vm_engine *e, struct t_zones *zs)
{
	int r;

	zs->n = 0;
	r = vm_for_each_zone(e, add_zone, zs);
	T_ASSERT_MSG(r == 0 && zs->n > 0, "vm_for_each_zone = %d, %u zones", r, zs->n);
}

const struct vm_zone_info *t_pfn_zone(const struct t_zones *zs, uint64_t pfn)
{
	for (unsigned i = 0; i < zs->n; i++)
		if (pfn >= zs->z[i].start_pfn && pfn < zs->z[i].end_pfn)
			return &zs->z[i];
	return NULL;
}

const struct vm_zone_info *t_zone(const struct t_zones *zs, int node, enum vm_zone_type type)
{
	for (unsigned i = 0; i < zs->n; i++)
		if (zs->z[i].node == node && zs->z[i].type == type)
			return &zs->z[i];
	return NULL;
}

uint64_t *t_area_pfns(struct vm_engine *e, uint64_t addr, uint64_t nr)
{
	uint64_t *pfns = malloc((nr ? nr : 1) * sizeof(*pfns));

	if (!T_ASSERT_MSG(pfns != NULL, "out of host memory for %llu pfns", (unsigned long long)nr))
		return NULL;
	for (uint64_t i = 0; i < nr; i++) {
		int r = vm_vmalloc_to_pfn(e, addr + i * PAGE, &pfns[i]);

		if (!T_ASSERT_MSG(r == 0, "vm_vmalloc_to_pfn(%#llx) = %d",
				  (unsigned long long)(addr + i * PAGE), r)) {
			free(pfns);
			return NULL;
		}
	}
	return pfns;
}

/* ---- PRNG ---------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void t_rng_seed(struct t_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t t_rand(struct t_rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

uint64_t t_rand_below(struct t_rng *r, uint64_t n)
{
	/* The modulo bias is irrelevant at the sizes the tests draw. */
	return t_rand(r) % n;
}

uint64_t t_rand_range(struct t_rng *r, uint64_t lo, uint64_t hi)
{
	if (hi - lo == UINT64_MAX)
		return t_rand(r);
	return lo + t_rand_below(r, hi - lo + 1);
}

void t_pattern(uint8_t *buf, uint64_t len, uint64_t seed, uint64_t pos)
{
	for (uint64_t i = 0; i < len; i++) {
		uint64_t x = seed ^ ((pos + i) * 0x9e3779b97f4a7c15ull);

		x ^= x >> 29;
		x *= 0xbf58476d1ce4e5b9ull;
		buf[i] = (uint8_t)(x >> 56);
	}
}

uint64_t t_env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "ignoring %s=%s: not a number\n", name, s);
		return def;
	}
	return v;
}

/* ---- fixtures and text ------------------------------------------------------ */

char *t_fixture(const char *name)
{
	char path[4096];
	char *buf = NULL;
	long n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", VMTEST_FIXTURES, name);
	f = fopen(path, "rb");
	if (!T_ASSERT_MSG(f != NULL, "cannot open fixture %s: %s", path, strerror(errno)))
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	T_ASSERT_MSG(buf != NULL, "cannot read fixture %s", path);
	return buf;
}

char *t_line_starting(const char *text, const char *prefix)
{
	size_t plen = strlen(prefix);

	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);

		if (len >= plen && memcmp(l, prefix, plen) == 0)
			return strndup(l, len);
		l = nl ? nl + 1 : NULL;
	}
	return NULL;
}

unsigned t_count_lines(const char *text)
{
	unsigned n = 0;

	for (; text && *text; text++)
		n += *text == '\n';
	return n;
}

/* ---- runner --------------------------------------------------------------------- */

int t_main(const char *suite, const struct t_case *cases, int argc, char **argv)
{
	return t_main_suite(suite, NULL, NULL, cases, argc, argv);
}

int t_main_suite(const char *suite, CU_InitializeFunc init, CU_CleanupFunc clean,
		 const struct t_case *cases, int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	unsigned failed_asserts, failed_tests, failed_suites, run = 0;
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite(suite, init, clean);
	if (!s)
		goto fail;
	for (const struct t_case *c = cases; c->name; c++) {
		if (only && strcmp(only, c->name) != 0)
			continue;
		if (!CU_add_test(s, c->name, c->fn))
			goto fail;
		run++;
	}
	if (!run) {
		fprintf(stderr, "%s: no test named '%s'\n", suite, only);
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto fail;
	failed_asserts = CU_get_number_of_failures();
	failed_tests = CU_get_number_of_tests_failed();
	failed_suites = CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed_asserts || failed_tests || failed_suites ? 1 : 0;
fail:
	fprintf(stderr, "%s: CUnit error: %s\n", suite, CU_get_error_msg());
	CU_cleanup_registry();
	return 2;
}
