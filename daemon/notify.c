/* notify.c -- the sd_notify conversation with systemd: READY=1, STATUS=,
 * WATCHDOG=1, STOPPING=1, RELOADING=1.  All of it is a no-op when
 * $NOTIFY_SOCKET is unset, so the daemon runs the same by hand.
 */
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "vmallocd.h"

void notify_ready(struct daemon *d)
{
	daemon_status_line(d, d->last_status, sizeof(d->last_status));
	sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%lu", d->last_status, (unsigned long)getpid());
}

void notify_status(struct daemon *d)
{
	char line[sizeof(d->last_status)];

	daemon_status_line(d, line, sizeof(line));
	if (strcmp(line, d->last_status) == 0)
		return;
	memcpy(d->last_status, line, sizeof(line));
	sd_notifyf(0, "STATUS=%s", line);
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void notify_reloading(void)
{
	struct timespec ts;

	/* systemd ≥ 253 wants MONOTONIC_USEC with RELOADING=1; older ones ignore it. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
}

void notify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}

uint64_t notify_watchdog_usec(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec;
}
