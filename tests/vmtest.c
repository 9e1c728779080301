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
	uint64_t bugs = t_stats(e).nr_bugs;

	/* A graded check (lib/debug.c) that fired is a failed check too. */
	if (r == 0 && bugs) {
		snprintf(msg, sizeof(msg), "%llu bug(s) reported by the graded checks",
			 (unsigned long long)bugs);
		r = -EUCLEAN;
	}
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


unsigned t_count_lines(const char *text)
{
	unsigned n = 0;

	for (; text && *text; text++)
		n += *text == '\n';
	return n;
}
