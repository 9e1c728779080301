/* log.c -- logging to stderr with sd-daemon priority prefixes ("<4>..."),
 * which journald turns into priorities; the daemon's only log sink.
 */
#include <stdarg.h>
#include <stdio.h>

#include "vmallocd.h"

static int max_level = VM_LOG_INFO;

void log_set_level(int level)
{
	max_level = level;
}

void vmd_log(int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "<%d>%s\n", level, msg);
}

void log_engine(void *ctx, int level, const char *msg)
{
	(void)ctx;
	vmd_log(level, "%s", msg);
}
