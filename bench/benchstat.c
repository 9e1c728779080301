/* benchstat.c -- see benchstat.h. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchstat.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double bench_now_s(void)
{
	return (double)bench_now_ns() / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct bench_stat bench_stats(const double *v, unsigned n)
{
	double s[BENCH_MAX_REPS];
	struct bench_stat r;

	if (n > BENCH_MAX_REPS)
		n = BENCH_MAX_REPS;
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	r.min = s[0];
	r.max = s[n - 1];
	r.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	r.n = n;
	return r;
}

void bench_print_stat(const char *what, int width, int prec, const char *unit,
		      struct bench_stat s)
{
	printf("  %-*s median %10.*f %s  (min %.*f, max %.*f, n=%u)\n", width, what, prec, s.median,
	       unit, prec, s.min, prec, s.max, s.n);
}

void bench_print_target(const char *what, double value, const char *cmp, double target,
			const char *unit)
{
	bool met = strcmp(cmp, "<=") == 0 ? value <= target : value >= target;

	printf("  TARGET %s %.3f %s %s %.3f %s: %s\n", what, value, unit, cmp, target, unit,
	       met ? "MET" : "MISSED");
}
