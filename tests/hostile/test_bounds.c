/* test_bounds.c -- every resource a client controls is bounded
 * (docs/reliability.md, section 10), one case per attack:
 *   - long requests: an unprivileged check on a 16 TiB machine is refused
 *     at once and another client's ping is not delayed beyond 100 ms; the
 *     longest request an unprivileged client can send (a 64 GiB vmalloc
 *     and its vfree) keeps the watchdog's gap under half of WatchdogSec;
 *   - ...
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hostile.h"
#include "tcase.h"
#include "vmclient.h"

#define NOBODY 65534u
#define OTHER  65533u
#define GIB (1ull << 30)

/* fork a child that becomes uid and runs fn(arg); its pid, or -1. */
static pid_t spawn_as(uint32_t uid, int (*fn)(void *), void *arg)
{
	pid_t pid = vmd_fork();

	if (pid == 0) {
		if (setgid(uid) < 0 || setuid(uid) < 0)
			_exit(100);
		_exit(fn(arg));
	}
	return pid;
}

/* Round trips on c until the child pid has exited: the longest, in µs. */
static long long ping_until_exit(struct vmc_client *c, pid_t pid, int *ret_status,
				 unsigned *ret_pings)
{
	long long worst = 0;
	unsigned n = 0;
	int st;

	for (;;) {
		struct timespec t0, t1;
		struct vmc_hello h;
		long long us;
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid) {
			*ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 200;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (vmc_hello(c, &h) < 0) {
			*ret_status = -1;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		us = (t1.tv_sec - t0.tv_sec) * 1000000ll + (t1.tv_nsec - t0.tv_nsec) / 1000;
		if (us > worst)
			worst = us;
		n++;
		usleep(2000);
	}
	*ret_pings = n;
	return worst;
}

/* ---- long requests ------------------------------------------------------------------------ */

static const char *sock_path;

/* 20 checks back to back: each must be refused. */
static int checks(void *arg)
{
	struct vmc_client *c;
	char msg[256];
	int bad = 0;

	(void)arg;
	if (vmd_connect(sock_path, &c) < 0)
		return 1;
	for (int i = 0; i < 20; i++)
		bad += vmc_check(c, msg, sizeof(msg)) != -EPERM;
	vmc_close(c);
	return bad ? 2 : 0;
}

static uint64_t big_size;

static int big_alloc(void *arg)
{
	struct vmc_client *c;
	uint64_t a;
	int r;

	(void)arg;
	if (vmd_connect(sock_path, &c) < 0)
		return 1;
	r = vmc_vmalloc(c, big_size, &a);
	if (r == 0)
		r = vmc_vfree(c, a);
	vmc_close(c);
	return r == 0 ? 0 : 3;
}

static void test_long_requests(void)
{
	/* 16 TiB less a page: the largest machine x86_64 takes. */
	const char *args[] = { "--memory", under_wrapper() ? "1T" : "16383G", NULL };
	const char *env[] = { "WATCHDOG_USEC=1000000", NULL };
	struct vmd_proc p;
	struct vmc_client *c;
	unsigned pings;
	long long worst;
	int st;

	CU_ASSERT_FATAL(vmd_start(&p, args, env) == 0);
	sock_path = p.sock;
	CU_ASSERT_FATAL(vmd_connect(p.sock, &c) == 0);

	worst = ping_until_exit(c, spawn_as(NOBODY, checks, NULL), &st, &pings);
	fprintf(stderr, "  20 unprivileged checks: exit %d; %u pings beside them, the slowest %lld us\n",
		st, pings, worst);
	CU_ASSERT_EQUAL(st, 0);
	T_ASSERT_MSG(worst < 100000, "a ping took %lld us beside an unprivileged check", worst);

	/* The longest request a client without a quota can make: every
	 * page of the area allocated, mapped, then freed and unmapped. */
	big_size = under_wrapper() ? 1 * GIB : 64 * GIB;
	vmd_watchdog_gap(&p, true);
	worst = ping_until_exit(c, spawn_as(NOBODY, big_alloc, NULL), &st, &pings);
	vmd_watchdog_gap(&p, false);
	fprintf(stderr, "  vmalloc + vfree of %llu GiB: exit %d; slowest ping %lld us; "
		"watchdog gap at most %lld ms (WatchdogSec 1 s)\n",
		(unsigned long long)(big_size / GIB), st, worst, p.watchdog_max_gap_ms);
	CU_ASSERT_EQUAL(st, 0);
	T_ASSERT_MSG(p.watchdog_max_gap_ms < 500, "watchdog gap %lld ms", p.watchdog_max_gap_ms);
	vmc_close(c);
	CU_ASSERT_EQUAL(vmd_stop(&p, 60000), 0);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "long_requests", test_long_requests },
		{ NULL, NULL },
	};

	return t_main("bounds", cases, argc, argv);
}
