/* statebench.c -- the state image's size and speed (lib/state.c).
 *
 * usage: statebench [--reps N] [--quick]
 *
 * For 10^4, 10^5 and 10^6 one-page vmalloc areas on a 64 GiB machine, and
 * for 100 areas on the largest machine (16 TiB less a page): the image's
 * bytes (and per area), vm_engine_save() into memory, vm_engine_load() on
 * the machine's own frames memfd, and vm_check() alone (which the load
 * runs on machines up to 2^25 frames: the 64 GiB ones; not measured on the
 * 16 TiB one, where it takes minutes and the load does not run it).  Times are medians of N runs (3), in milliseconds, CLOCK_MONOTONIC.
 * --quick: 10^3 and 10^4 areas, one run (a smoke test, not a measurement).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmcore.h"

struct image {
	uint8_t *buf;
	size_t len, cap;
};

static int image_write(void *ctx, const void *buf, size_t len)
{
	struct image *im = ctx;

	if (len > im->cap - im->len) {
		size_t cap = im->cap ? im->cap : 1 << 20;
		void *b;

		while (cap - im->len < len)
			cap *= 2;
		b = realloc(im->buf, cap);
		if (!b)
			return -ENOMEM;
		im->buf = b;
		im->cap = cap;
	}
	memcpy(im->buf + im->len, buf, len);
	im->len += len;
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int run(const char *label, uint64_t memory, uint64_t areas, unsigned reps)
{
	struct vm_config cfg;
	struct vm_engine *e, *l;
	struct image im = { 0 };
	double save[16], load[16], check[16];
	uint64_t a;
	int r;

	vm_config_init(&cfg);
	cfg.memory_bytes = memory;
	if ((r = vm_engine_create(&cfg, &e)) < 0) {
		fprintf(stderr, "statebench: vm_engine_create: %s\n", strerror(-r));
		return 1;
	}
	for (uint64_t i = 0; i < areas; i++) {
		if ((r = vm_vmalloc(e, VM_PAGE_SIZE, &a)) < 0) {
			fprintf(stderr, "statebench: vm_vmalloc #%" PRIu64 ": %s\n", i, strerror(-r));
			return 1;
		}
	}
	for (unsigned k = 0; k < reps; k++) {
		double t0 = now_ms(), t1, t2, t3;

		im.len = 0;
		if ((r = vm_engine_save(e, image_write, &im)) < 0) {
			fprintf(stderr, "statebench: save: %s\n", strerror(-r));
			return 1;
		}
		t1 = now_ms();
		r = vm_engine_load(&cfg, vm_engine_frames_fd(e), im.buf, im.len, &l);
		t2 = now_ms();
		if (r < 0) {
			fprintf(stderr, "statebench: load: %s\n", strerror(-r));
			return 1;
		}
		/* vm_check alone, where the load runs it (it is O(frames):
		 * minutes on 16 TiB). */
		r = memory <= (128ull << 30) ? vm_check(l, NULL, 0) : 0;
		t3 = now_ms();
		vm_engine_destroy(l);
		if (r < 0) {
			fprintf(stderr, "statebench: the loaded machine fails vm_check\n");
			return 1;
		}
		save[k] = t1 - t0;
		load[k] = t2 - t1;
		check[k] = t3 - t2;
	}
	printf("%-22s %9" PRIu64 " %12zu %10.1f %10.2f %10.2f ", label, areas, im.len,
	       areas ? (double)im.len / (double)areas : 0.0, median(save, reps), median(load, reps));
	if (memory <= (128ull << 30))
		printf("%10.2f\n", median(check, reps));
	else
		printf("%10s\n", "(not run)");
	vm_engine_destroy(e);
	free(im.buf);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned reps = 3;
	bool quick = false;
	int st = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = true;
			reps = 1;
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = (unsigned)atoi(argv[++i]);
			if (reps < 1 || reps > 16)
				reps = 3;
		} else {
			fprintf(stderr, "usage: statebench [--reps N] [--quick]\n");
			return 2;
		}
	}
	printf("%-22s %9s %12s %10s %10s %10s %10s\n", "machine", "areas", "image B", "B/area",
	       "save ms", "load ms", "check ms");
	if (quick) {
		st |= run("64 GiB", 64ull << 30, 1000, reps);
		st |= run("64 GiB", 64ull << 30, 10000, reps);
		st |= run("16 TiB", VM_MAX_MEMORY, 100, reps);
		return st;
	}
	st |= run("64 GiB", 64ull << 30, 10000, reps);
	st |= run("64 GiB", 64ull << 30, 100000, reps);
	st |= run("64 GiB", 64ull << 30, 1000000, reps);
	st |= run("16 TiB", VM_MAX_MEMORY, 100, reps);
	return st;
}
