/* benchstat.h -- the clock and the statistics every benchmark of bench/
 * prints with: medians of repetitions (with their spread), TARGET lines
 * that bench/run gathers into docs/benchmarks.md's summary.
 */
#ifndef VMD_BENCHSTAT_H
#define VMD_BENCHSTAT_H

#include <stdint.h>

#define BENCH_MAX_REPS 101   /* repetitions one figure may take */

/* CLOCK_MONOTONIC.  Can't fail. */
uint64_t bench_now_ns(void);
double bench_now_s(void);

struct bench_stat {
	double median, min, max;
	unsigned n;
};

/* The median (the mean of the middle two for an even n), min and max of
 * v[0..n), 1 <= n <= BENCH_MAX_REPS.  v is not reordered. */
struct bench_stat bench_stats(const double *v, unsigned n);

/* "  <what, width wide> median <value> <unit>  (min .., max .., n=..)", the
 * numbers with prec decimals. */
void bench_print_stat(const char *what, int width, int prec, const char *unit,
		      struct bench_stat s);

/* "  TARGET <what> <value> <unit> <cmp> <target> <unit>: MET|MISSED", cmp
 * "<=" or ">=". */
void bench_print_target(const char *what, double value, const char *cmp, double target,
			const char *unit);

#endif
