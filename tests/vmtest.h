/* vmtest.h -- scaffolding shared by the engine's CUnit tests: machines,
 * invariant checks, text snapshots, zone lookups, a seeded PRNG, fixtures.
 *
 * Helpers that can fail record a CUnit failure at the caller's file and line
 * (through the T_* macros) rather than aborting, so one broken expectation
 * never hides the others; the ones returning pointers return NULL then.
 */
#ifndef VMTEST_H
#define VMTEST_H

#include <CUnit/CUnit.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcase.h"
#include "vmcore.h"

#define KIB (1ull << 10)
#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define TIB (1ull << 40)
#define PAGE VM_PAGE_SIZE


/* A machine with everything else at its defaults; NULL (and a failure
 * recorded) if it cannot be made. */
struct vm_engine *t_machine(uint64_t memory, unsigned nodes, enum vm_layout layout);
struct vm_engine *t_machine_cfg(const struct vm_config *cfg);

/* The statistics, by value. */
struct vm_stats t_stats(const struct vm_engine *e);
/* Everything a refused call must leave as it was: frames, tables, areas,
 * lazy ranges, free KVA, purges. */
bool t_stats_same(const struct vm_stats *a, const struct vm_stats *b);

/* Room for one pfn per frame of the machine (malloc'd; NULL and a failure
 * recorded if the host has no memory). */
uint64_t *t_frame_array(const struct vm_engine *e);
/* vm_alloc_pages(gfp | __GFP_NOWARN, order 0, node) until it is refused;
 * the pfns go to held, the count is returned. */
uint64_t t_take_frames(struct vm_engine *e, gfp_t gfp, int node, uint64_t *held);
/* vm_free_pages each of them, each must succeed. */
void t_free_frames(struct vm_engine *e, const uint64_t *held, uint64_t n);

/* Log capture, for the "vmalloc: allocation failure" warnings. */
struct t_log {
	unsigned count;
	int last_level;
	char last[256];
};
void t_log_fn(void *ctx, int level, const char *msg);

/* vm_check() == 0, with its message printed when it is not. */
#define T_CHECK(e) t_check((e), __FILE__, __LINE__)
bool t_check(struct vm_engine *e, const char *file, int line);

/* The text views, malloc'd (NULL and a failure recorded on error). */
char *t_vmallocinfo(struct vm_engine *e);
char *t_meminfo(const struct vm_engine *e);
char *t_buddyinfo(const struct vm_engine *e);

/* vmallocinfo, meminfo and buddyinfo at one moment. */
struct t_snap {
	char *vmallocinfo, *meminfo, *buddyinfo;
};
void t_snap_take(struct vm_engine *e, struct t_snap *s);
void t_snap_free(struct t_snap *s);
/* The three views are byte for byte what s holds; prints the first line
 * that differs otherwise. */
#define T_SNAP_SAME(e, s) t_snap_same((e), (s), __FILE__, __LINE__)
bool t_snap_same(struct vm_engine *e, const struct t_snap *s, const char *file, int line);
/* After everything made since s was taken has been freed and purged: as
 * T_SNAP_SAME, but for the page-table pages made meanwhile, which no
 * kernel frees: PageTables grown by T kB, MemFree (and LowFree) down by the
 * same, buddyinfo's free frames, summed over every zone, down by T / 4,
 * everything else byte for byte as it was. */
#define T_SNAP_RESTORED(e, s) t_snap_restored((e), (s), __FILE__, __LINE__)
bool t_snap_restored(struct vm_engine *e, const struct t_snap *s, const char *file, int line);
/* (T_RESTORED, the same on texts, and T_TEXT_EQ are in tcase.h.) */

/* Every zone of a machine, for pfn -> zone lookups. */
struct t_zones {
	unsigned n;
	struct vm_zone_info z[VM_MAX_NODES * VM_NR_ZONES];
};
void t_zones(const struct vm_engine *e, struct t_zones *zs);
/* The zone holding pfn, or NULL. */
const struct vm_zone_info *t_pfn_zone(const struct t_zones *zs, uint64_t pfn);
/* One zone by node and type, or NULL if the machine lacks it. */
const struct vm_zone_info *t_zone(const struct t_zones *zs, int node, enum vm_zone_type type);

/* The frame behind each of the nr pages at addr, by vm_vmalloc_to_pfn
 * (malloc'd; NULL and a failure recorded if a page is not mapped). */
uint64_t *t_area_pfns(struct vm_engine *e, uint64_t addr, uint64_t nr);

/* xoshiro256** seeded through splitmix64. */
struct t_rng {
	uint64_t s[4];
};
void t_rng_seed(struct t_rng *r, uint64_t seed);
uint64_t t_rand(struct t_rng *r);
uint64_t t_rand_below(struct t_rng *r, uint64_t n);      /* [0, n), n > 0 */
uint64_t t_rand_range(struct t_rng *r, uint64_t lo, uint64_t hi); /* [lo, hi] */
/* A byte pattern that depends on seed and on each byte's position. */
void t_pattern(uint8_t *buf, uint64_t len, uint64_t seed, uint64_t pos);
/* The seed given in $VMTEST_SEED, else def. */
uint64_t t_env_u64(const char *name, uint64_t def);
/* A file from tests/fixtures, NUL-terminated (NULL and a failure recorded
 * if it cannot be read). */
char *t_fixture(const char *name);

unsigned t_count_lines(const char *text);

#endif /* VMTEST_H */
