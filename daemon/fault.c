/* fault.c -- see fault.h.  Linked only into vmallocd-faultinj, the test
 * build of the daemon; nothing here exists in vmallocd itself.
 *
 * The wrappers are what the linker substitutes for malloc, calloc, realloc
 * and strdup in every object of the daemon (its own, libvmcore's and
 * libvmproto's): a call to malloc() there becomes __wrap_malloc(), which
 * may fail on purpose and otherwise calls the real one.  libevent is a
 * shared library the wrap does not reach; event_set_mem_functions() routes
 * its allocations through the same counter.  What glibc allocates for
 * itself (stdio, getpwnam ...) is not counted.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "vmallocd.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static struct {
	bool counting;       /* in the phase VMALLOCD_FAIL_MALLOC names */
	bool at_start;       /* start:N */
	uint64_t target;     /* 0: never fail */
	uint64_t seen;       /* allocations counted so far */
	bool fired;
	char report[256];
} fi;

/* true if this allocation is the one to fail. */
static bool fault_hit(void)
{
	if (!fi.counting)
		return false;
	if (++fi.seen != fi.target)
		return false;
	fi.fired = true;
	/* Unbuffered stderr, a fixed buffer: nothing here allocates. */
	vmd_log(VM_LOG_WARNING, "fault injection: allocation %llu fails",
		(unsigned long long)fi.seen);
	return true;
}

void *__wrap_malloc(size_t n)
{
	if (fault_hit()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (fault_hit()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	if (fault_hit()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = __wrap_malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

static void ev_free(void *p)
{
	free(p);
}

static void write_report(void)
{
	char line[96];
	int fd, n;

	if (!fi.report[0])
		return;
	n = snprintf(line, sizeof(line), "allocations=%llu failed=%d\n",
		     (unsigned long long)fi.seen, fi.fired ? 1 : 0);
	fd = open(fi.report, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	(void)!write(fd, line, (size_t)n);
	close(fd);
}

void fault_init(void)
{
	const char *v = getenv("VMALLOCD_FAIL_MALLOC"), *rep = getenv("VMALLOCD_FAULT_REPORT");

	if (rep && *rep)
		snprintf(fi.report, sizeof(fi.report), "%s", rep);
	if (v && strncmp(v, "start:", 6) == 0) {
		fi.at_start = true;
		v += 6;
	}
	if (v && *v)
		fi.target = strtoull(v, NULL, 10);
	/* Before any other libevent call, as its manual requires. */
	event_set_mem_functions(__wrap_malloc, __wrap_realloc, ev_free);
	atexit(write_report);
	fi.counting = fi.at_start;
}

void fault_serving(void)
{
	/* start:N counts the start-up only; N counts from here on. */
	fi.counting = !fi.at_start;
	fi.seen = fi.at_start ? fi.seen : 0;
}
