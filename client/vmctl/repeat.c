/* repeat.c -- `-i SECONDS [--count N]`, as vmstat 1 and free -s: take a
 * sample, sleep, take another, on a fixed cadence (a slow sample does not
 * push the next one later), until --count samples or an interrupt.
 */
#include <errno.h>
#include <time.h>

#include "vmctl.h"

int repeat_opt(const struct cmd *cmd, int opt, const char *optarg, void *ctx)
{
	struct repeat *rp = ctx;

	switch (opt) {
	case 'i':
	case OPT_INTERVAL:
		return arg_seconds(cmd, "interval", optarg, &rp->interval_ms);
	case OPT_COUNT:
		return arg_long(cmd, "count", optarg, 1, 1000000000L, &rp->count);
	}
	return -1;
}

static void add_ms(struct timespec *t, unsigned ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

int repeat_run(const struct repeat *rp, int (*sample)(const struct cmd *cmd, long i, void *ctx),
	       const struct cmd *cmd, void *ctx)
{
	/* --count alone samples once a second, as free -c does. */
	unsigned interval = rp->interval_ms ? rp->interval_ms : 1000;
	long n = rp->count ? rp->count : rp->interval_ms ? 0 : 1;
	struct timespec next;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long i = 0; n == 0 || i < n; i++) {
		if (i > 0) {
			add_ms(&next, interval);
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
				;
		}
		r = sample(cmd, i, ctx);
		if (r)
			return r;
		fflush(stdout);
	}
	return VMCTL_EXIT_OK;
}
