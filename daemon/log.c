/* log.c -- logging to stderr with sd-daemon priority prefixes ("<4>..."),
 * which journald turns into priorities; the daemon's only log sink.  Every
 * line carries its priority.
 *
 * Lines a client can cause at will (the engine's allocation warnings, one
 * per failed request; connections refused or closed) go through a rate
 * limit, as the kernel's printk_ratelimit and warn_alloc do: a burst of 10
 * per 5 s interval, then silence, and the first line of a later interval
 * is preceded by "NAME: N callbacks suppressed".
 */
#include <stdarg.h>
#include <stdio.h>

#include "vmallocd.h"

#define RATELIMIT_INTERVAL_USEC (5 * 1000000ull)
#define RATELIMIT_BURST 10

static int max_level = VM_LOG_INFO;

void log_set_level(int level)
{
	max_level = level;
}

static void vlog(int level, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "<%d>%s\n", level, msg);
}

void vmd_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

bool log_ratelimit(struct ratelimit *rs)
{
	uint64_t now = now_usec();

	if (!rs->begin || now - rs->begin >= RATELIMIT_INTERVAL_USEC) {
		if (rs->missed)
			vmd_log(VM_LOG_WARNING, "%s: %u callbacks suppressed", rs->name, rs->missed);
		rs->begin = now;
		rs->printed = 0;
		rs->missed = 0;
	}
	if (rs->printed < RATELIMIT_BURST) {
		rs->printed++;
		return true;
	}
	rs->missed++;
	return false;
}

void vmd_log_ratelimited(struct ratelimit *rs, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > max_level || !log_ratelimit(rs))
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

void log_engine(void *ctx, int level, const char *msg)
{
	static struct ratelimit rs = { .name = "vmalloc" };

	(void)ctx;
	vmd_log_ratelimited(&rs, level, "%s", msg);
}
