/* gentrace.c -- writes a synthetic ftrace capture of any length to stdout,
 * for the replay benchmarks (bench/run-replay): lines exactly as `trace`
 * prints the vmalloc events of Linux 6.18, from a workload shaped like the
 * committed real captures (mostly 16 KiB thread stacks, some one- and
 * two-page areas, a few larger ones), with a bounded number of live areas,
 * so the trace can grow without the replay's work per event growing.
 *
 * usage: gentrace --events N [--live L] [--seed S] [--cpus C] [--mix stacks|mixed|pages]
 *                 [--batch B]
 *   N events (allocations, frees and the purges between them); at most L
 *   areas live at once (1000).  The same seed gives the same trace.
 *   --mix stacks (the default) allocates only thread stacks, as every
 *   capture of this machine's kernel shows (tests/fixtures/captures);
 *   --mix mixed makes 30 % of the areas one to 62 pages, unaligned;
 *   --mix pages allocates only one-page areas, the request bench/vmload
 *   makes (vmalloc(4 KiB)), to compare a replay with the service's own rate.
 *   --batch B replaces the random choice between allocating and freeing by
 *   bench/vmload's order at depth B: B allocations, then those B areas
 *   freed in the order they were made, and again (at most B live).
 *
 * The traced addresses are made up (each size class reuses its freed
 * addresses last-in-first-out, new ones come from a bump pointer), but a
 * free always names a live area and every live area is unique, so the
 * replay has no unmatched frees and its map stays as large as the live set.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VSTART 0xffffc90000000000ull
#define VEND   0xffffe8ffffffffffull
#define PAGE   4096ull

struct area {
	uint64_t addr, size;
};

static uint64_t rng_state;

/* xorshift64*: quick and enough for a workload. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Freed addresses per size class, reused last-in-first-out. */
#define NR_CLASSES 66
struct pool {
	uint64_t *addr;
	size_t nr, cap;
};

static struct pool pools[NR_CLASSES];

static int size_class(uint64_t size)
{
	uint64_t pages = size / PAGE;

	return pages < NR_CLASSES - 1 ? (int)pages : NR_CLASSES - 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'n' },
		{ "live", required_argument, NULL, 'l' },
		{ "seed", required_argument, NULL, 's' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "mix", required_argument, NULL, 'm' },
		{ "batch", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t events = 0, live_max = 1000, seed = 1, cpus = 2, batch = 0;
	bool mixed = false, pages = false, freeing = false;
	size_t first = 0;       /* --batch: the oldest live area, freed next */
	uint64_t bump = VSTART, nr_lazy = 0, lazy_max, t_us = 1000000000ull;
	struct area *live;
	size_t nr_live = 0;
	static char buf[1 << 16];
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		uint64_t v;

		if (c == 'm') {
			if (strcmp(optarg, "stacks") && strcmp(optarg, "mixed") &&
			    strcmp(optarg, "pages")) {
				fprintf(stderr, "gentrace: --mix: stacks, mixed or pages\n");
				return 2;
			}
			mixed = !strcmp(optarg, "mixed");
			pages = !strcmp(optarg, "pages");
			continue;
		}
		errno = 0;
		v = optarg ? strtoull(optarg, &end, 10) : 0;
		if (errno || !optarg || *end || !*optarg) {
			fprintf(stderr, "gentrace: bad number '%s'\n", optarg ? optarg : "");
			return 2;
		}
		switch (c) {
		case 'n': events = v; break;
		case 'l': live_max = v; break;
		case 's': seed = v; break;
		case 'c': cpus = v; break;
		case 'b': batch = v; break;
		default: return 2;
		}
	}
	if (!events || live_max < 2 || !cpus || cpus > 4096 || batch > 1000000) {
		fprintf(stderr, "usage: gentrace --events N [--live L] [--seed S] [--cpus C] "
			"[--mix stacks|mixed|pages] [--batch B]\n");
		return 2;
	}
	if (batch)
		live_max = batch;
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	lazy_max = 32 * 256;                  /* fls(cpus) * 32 MiB in pages */
	for (uint64_t n = cpus; n > 1; n >>= 1)
		lazy_max += 32 * 256;
	live = calloc(live_max, sizeof(*live));
	if (!live)
		return 1;
	setvbuf(stdout, buf, _IOFBF, sizeof(buf));
	printf("# tracer: nop\n#\n# entries-in-buffer/entries-written: %" PRIu64 "/%" PRIu64
	       "   #P:%" PRIu64 "\n#\n", events, events, cpus);
	printf("#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n"
	       "#              | |         |   |||||     |         |\n");

	for (uint64_t i = 0; i < events; i++) {
		unsigned cpu = (unsigned)(rnd() % cpus);
		unsigned pid = 1000 + (unsigned)(rnd() % 5000);
		bool alloc = nr_live == 0 ||
			     (nr_live < live_max && rnd() % 1000 < 500 + 400 * (live_max - nr_live) / live_max);

		if (batch) {
			if (nr_live == batch)
				freeing = true;
			else if (nr_live == 0)
				freeing = false;
			alloc = !freeing;
		}

		t_us += 1 + rnd() % 50;
		if (nr_lazy > lazy_max) {
			/* The kernel's purge, as a worker runs it. */
			printf("     kworker/%u:1-%u     [%03u] .....  %" PRIu64 ".%06" PRIu64
			       ": purge_vmap_area_lazy: start=0x%llx end=0x%" PRIx64 " num_purged=%" PRIu64
			       "\n", cpu, 40 + cpu, cpu, t_us / 1000000, t_us % 1000000,
			       (unsigned long long)VSTART, bump, nr_lazy / 5);
			nr_lazy = 0;
			continue;
		}
		if (alloc) {
			uint64_t r = rnd() % 100, size, align = 1, addr;
			struct pool *p;

			if (pages) {
				size = PAGE;
			} else if (r < 70 || !mixed) {
				size = 4 * PAGE;
				align = 4 * PAGE;
			} else if (r < 90) {
				size = (1 + rnd() % 2) * PAGE;
			} else {
				size = (3 + rnd() % 60) * PAGE;
			}
			size += PAGE;                   /* the guard page */
			p = &pools[size_class(size)];
			if (p->nr) {
				addr = p->addr[--p->nr];
			} else {
				bump = (bump + align - 1) & ~(align - 1);
				addr = bump;
				bump += size;
			}
			live[first + nr_live].addr = addr;
			live[first + nr_live++].size = size;
			printf("            bash-%u    [%03u] .....  %" PRIu64 ".%06" PRIu64
			       ": alloc_vmap_area: va_start: %" PRIu64 " size=%" PRIu64 " align=%" PRIu64
			       " vstart=0x%llx vend=0x%llx failed=0\n", pid, cpu, t_us / 1000000,
			       t_us % 1000000, addr, size, align, (unsigned long long)VSTART,
			       (unsigned long long)VEND);
		} else {
			size_t k = batch ? first : first + (size_t)(rnd() % nr_live);
			struct area a = live[k];
			struct pool *p = &pools[size_class(a.size)];

			if (batch) {
				first = --nr_live ? first + 1 : 0;
			} else {
				live[k] = live[--nr_live];
			}
			if (p->nr == p->cap) {
				size_t cap = p->cap ? 2 * p->cap : 64;
				uint64_t *na = realloc(p->addr, cap * sizeof(*na));

				if (!na)
					return 1;
				p->addr = na;
				p->cap = cap;
			}
			p->addr[p->nr++] = a.addr;
			nr_lazy += a.size / PAGE;
			printf("     kworker/%u:1-%u     [%03u] .....  %" PRIu64 ".%06" PRIu64
			       ": free_vmap_area_noflush: va_start=0x%" PRIx64 " nr_lazy=%" PRIu64
			       " nr_lazy_max=%" PRIu64 "\n", cpu, 40 + cpu, cpu, t_us / 1000000,
			       t_us % 1000000, a.addr, nr_lazy, lazy_max);
		}
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return 1;
	return 0;
}
