/* notify.c -- the sd_notify conversation with systemd: READY=1, STATUS=
 * (the one-line usage summary is made here), WATCHDOG=1, STOPPING=1,
 * RELOADING=1.  All of it is a no-op when $NOTIFY_SOCKET is unset, so the
 * daemon runs the same by hand.
 */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "vmallocd.h"

static void status_line(const struct daemon *d, char *buf, size_t len)
{
	struct vm_stats s;

	vm_get_stats(d->engine, &s);
	snprintf(buf, len, "Linux %s, %u CPU(s): %u clients, %llu areas, %llu of %llu MiB free, "
		 "%llu MiB vmalloc'd", vm_kernel_name(s.kernel), s.nr_cpus,
		 d->clients.nr, (unsigned long long)s.nr_areas,
		 (unsigned long long)(s.free_pages >> (20 - VM_PAGE_SHIFT)),
		 (unsigned long long)(s.total_pages >> (20 - VM_PAGE_SHIFT)),
		 (unsigned long long)(s.vmalloc_pages >> (20 - VM_PAGE_SHIFT)));
}

void notify_ready(struct daemon *d)
{
	status_line(d, d->last_status, sizeof(d->last_status));
	sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%lu", d->last_status, (unsigned long)getpid());
}

void notify_status(struct daemon *d)
{
	char line[sizeof(d->last_status)];

	status_line(d, line, sizeof(line));
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
