/* svcscale.c -- how vmallocd scales, measured from outside, as systemd and a
 * client see it.
 *
 *   svcscale --vmallocd PATH [--reps N] [--loops N] [--quick] [SECTION...]
 *
 *   ready   time from exec to the READY=1 datagram on a NOTIFY_SOCKET this
 *           program listens on, and the daemon's VmRSS then, at 1 GiB,
 *           64 GiB and 1 TiB of simulated memory (a new daemon each rep)
 *   busy    a 1-page vmalloc + vfree through the service with 0, 10^4 and
 *           10^6 busy 1-page areas (three daemons of 8 GiB taking turns every
 *           1024 pairs, all of them and this client on one CPU, the daemons
 *           without busy polling): one pair per two round trips, and pipelined
 *           (16 vmallocs in one batch, then their 16 vfrees); the ratio to 0
 *   perarea the daemon's VmRSS growth per live 1-page area, over the 10^4
 *           and 10^6 areas of the busy section (runs with it)
 *   all     every section (the default)
 *
 * Every figure is the median of --reps repetitions (default 5), with the min
 * and max; lines starting with TARGET compare a median with its goal.
 * Timing is CLOCK_MONOTONIC.  Exit status 0, or 1 if something failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchstat.h"
#include "vmclient.h"

extern char **environ;

#define SLICE 1024      /* pairs per turn of one daemon in the busy section */

static const char *vmallocd;
static unsigned reps = 5;
static uint64_t opt_loops;
static bool quick;
static int failures;


/* ---- a daemon of our own ------------------------------------------------------------ */

struct daemon {
	pid_t pid;
	char dir[64], sock[96], notify[96];
	int nfd;
	double ready_ms;
};

static uint64_t rss_kb(pid_t pid)
{
	char path[64], line[256];
	uint64_t kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %" SCNu64 " kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Start vmallocd with --memory mem, timing exec to READY=1. */
static int daemon_start(struct daemon *d, const char *mem, const char *busy_poll)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char env_notify[128], **envp;
	const char *argv[16];
	size_t nenv = 0, k = 0;
	uint64_t t0;
	int r;

	memset(d, 0, sizeof(*d));
	d->nfd = -1;
	snprintf(d->dir, sizeof(d->dir), "/tmp/svcscale.XXXXXX");
	if (!mkdtemp(d->dir))
		return -errno;
	snprintf(d->sock, sizeof(d->sock), "%s/vmd.sock", d->dir);
	snprintf(d->notify, sizeof(d->notify), "%s/notify", d->dir);
	d->nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memcpy(sa.sun_path, d->notify, strlen(d->notify) + 1);
	if (d->nfd < 0 || bind(d->nfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;

	while (environ[nenv])
		nenv++;
	envp = calloc(nenv + 2, sizeof(*envp));
	if (!envp)
		return -ENOMEM;
	for (size_t i = 0; i < nenv; i++)
		if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0)
			envp[k++] = environ[i];
	snprintf(env_notify, sizeof(env_notify), "NOTIFY_SOCKET=%s", d->notify);
	envp[k++] = env_notify;
	envp[k] = NULL;
	k = 0;
	argv[k++] = vmallocd;
	argv[k++] = "--config";
	argv[k++] = "/dev/null";
	argv[k++] = "--socket";
	argv[k++] = d->sock;
	argv[k++] = "--memory";
	argv[k++] = mem;
	argv[k++] = "--log-level";
	argv[k++] = "warning";
	if (busy_poll) {
		argv[k++] = "--busy-poll";
		argv[k++] = busy_poll;
	}
	argv[k] = NULL;

	t0 = bench_now_ns();
	r = posix_spawn(&d->pid, vmallocd, NULL, NULL, (char *const *)argv, envp);
	free(envp);
	if (r) {
		d->pid = 0;
		return -r;
	}
	for (;;) {
		struct pollfd pfd = { .fd = d->nfd, .events = POLLIN };
		char buf[1024];
		ssize_t n;

		if (poll(&pfd, 1, 20000) <= 0)
			return -ETIMEDOUT;
		n = recv(d->nfd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			return -errno;
		buf[n] = 0;
		if (!strncmp(buf, "READY=1\n", 8) || !strcmp(buf, "READY=1") ||
		    strstr(buf, "\nREADY=1\n")) {
			d->ready_ms = (double)(bench_now_ns() - t0) / 1e6;
			/* Nobody reads STATUS= from now on: go away, so the
			 * daemon's later notifications fail at once instead of
			 * blocking on a full queue. */
			close(d->nfd);
			d->nfd = -1;
			unlink(d->notify);
			return 0;
		}
	}
}

static void daemon_stop(struct daemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		waitpid(d->pid, NULL, 0);
	}
	if (d->nfd >= 0)
		close(d->nfd);
	unlink(d->sock);
	unlink(d->notify);
	rmdir(d->dir);
	d->pid = 0;
	d->nfd = -1;
}

static void fail(const char *what, int r)
{
	fprintf(stderr, "svcscale: %s: %s\n", what, vmc_strerror(r));
	failures++;
}

/* ---- ready --------------------------------------------------------------------------- */

static void bench_ready(void)
{
	static const char *const sizes[3] = { "1G", "64G", "1T" };
	unsigned n = quick ? 1 : 3;

	printf("ready: exec of vmallocd to READY=1 on our NOTIFY_SOCKET, and its VmRSS then;\n"
	       "  a new daemon each rep\n");
	for (unsigned k = 0; k < n; k++) {
		double ms[BENCH_MAX_REPS], rss[BENCH_MAX_REPS];
		char what[64];

		for (unsigned i = 0; i < reps; i++) {
			struct daemon d;
			int r = daemon_start(&d, sizes[k], NULL);

			if (r < 0) {
				fail("starting vmallocd", r);
				daemon_stop(&d);
				return;
			}
			ms[i] = d.ready_ms;
			rss[i] = (double)rss_kb(d.pid) / 1024.0;
			daemon_stop(&d);
		}
		snprintf(what, sizeof(what), "%s: exec to READY=1", sizes[k]);
		bench_print_stat(what, 40, 3, "ms", bench_stats(ms, reps));
		snprintf(what, sizeof(what), "%s: VmRSS at READY=1", sizes[k]);
		bench_print_stat(what, 40, 3, "MiB", bench_stats(rss, reps));
		if (k == 2) {
			bench_print_target("1 TiB: exec to READY=1", bench_stats(ms, reps).median, "<=", 500, "ms");
			bench_print_target("1 TiB: VmRSS at READY=1", bench_stats(rss, reps).median, "<=", 64, "MiB");
		}
	}
}

/* ---- busy ---------------------------------------------------------------------------- */

/* n more busy 1-page areas, 4096 requests per batch. */
static int fill(struct vmc_client *c, uint64_t n)
{
	static uint64_t addrs[4096];
	static int st[4096];
	struct vmc_batch *b;
	int r = vmc_batch_new(c, &b);

	for (uint64_t i = 0; r == 0 && i < n; i += 4096) {
		uint64_t k = n - i < 4096 ? n - i : 4096;

		vmc_batch_clear(b);
		for (uint64_t j = 0; r == 0 && j < k; j++)
			r = vmc_batch_vmalloc(b, 4096, &addrs[j], &st[j]);
		if (r == 0)
			r = vmc_batch_run(b);
		for (uint64_t j = 0; r == 0 && j < k; j++)
			r = st[j];
	}
	vmc_batch_free(b);
	return r;
}

/* loops 1-page pairs, each vmalloc waiting for its reply before the vfree;
 * µs per pair. */
static double time_pairs(struct vmc_client *c, uint64_t loops)
{
	uint64_t t0 = bench_now_ns(), addr;

	for (uint64_t i = 0; i < loops; i++) {
		int r = vmc_vmalloc(c, 4096, &addr);

		if (r == 0)
			r = vmc_vfree(c, addr);
		if (r < 0) {
			fail("pair", r);
			return 0;
		}
	}
	return (double)(bench_now_ns() - t0) / 1e3 / (double)loops;
}

/* The same pairs 16 at a time: one batch of 16 vmallocs, one of their
 * vfrees; µs per pair. */
static double time_pairs_pipelined(struct vmc_client *c, uint64_t loops)
{
	uint64_t addrs[16], t0;
	int st[32], r = 0;
	struct vmc_batch *a, *f;

	if (vmc_batch_new(c, &a) < 0 || vmc_batch_new(c, &f) < 0) {
		fail("batch", -ENOMEM);
		return 0;
	}
	for (unsigned j = 0; r == 0 && j < 16; j++)
		r = vmc_batch_vmalloc(a, 4096, &addrs[j], &st[j]);
	t0 = bench_now_ns();
	for (uint64_t i = 0; r == 0 && i < loops; i += 16) {
		r = vmc_batch_run(a);
		vmc_batch_clear(f);
		for (unsigned j = 0; r == 0 && j < 16; j++)
			r = st[j] < 0 ? st[j] : vmc_batch_vfree(f, addrs[j], &st[16 + j]);
		if (r == 0)
			r = vmc_batch_run(f);
		for (unsigned j = 0; r == 0 && j < 16; j++)
			r = st[16 + j];
	}
	t0 = bench_now_ns() - t0;
	vmc_batch_free(a);
	vmc_batch_free(f);
	if (r < 0) {
		fail("pipelined pair", r);
		return 0;
	}
	return (double)t0 / 1e3 / (double)((loops + 15) / 16 * 16);
}

/* Run on CPU cpu only (and what is spawned from now on too); false if the
 * machine has no such CPU or will not. */
static bool pin_to(int cpu)
{
	cpu_set_t set;

	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return false;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

static void bench_busy(void)
{
	static const uint64_t full[3] = { 0, 10000, 1000000 };
	static const uint64_t small[3] = { 0, 100, 1000 };
	const uint64_t *counts = quick ? small : full;
	uint64_t loops = opt_loops ? opt_loops : quick ? 200 : 20000;
	double seq[3][BENCH_MAX_REPS], pip[3][BENCH_MAX_REPS], rseq[3][BENCH_MAX_REPS], rpip[3][BENCH_MAX_REPS];
	struct vmc_client *c[3] = { NULL };
	struct daemon d[3];
	uint64_t rss0[3], rss1[3];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
	cpu_set_t all;
	bool pinned = false;
	int r;

	/* The daemons and this client share one CPU, and the daemons do not
	 * busy-poll: every round trip is the same pair of context switches
	 * for each daemon, whatever the scheduler would otherwise decide. */
	sched_getaffinity(0, sizeof(all), &all);
	pinned = pin_to((int)ncpu - 1);

	printf("busy: 1-page vmalloc + vfree through the service with N busy 1-page areas,\n"
	       "  three daemons of 8 GiB taking turns every %u pairs, %" PRIu64 " pairs each per rep\n",
	       SLICE, loops);
	for (int k = 0; k < 3; k++) {
		uint64_t t0;

		r = daemon_start(&d[k], "8G", "0");
		if (r == 0)
			r = vmc_connect(d[k].sock, &c[k]);
		if (r < 0) {
			fail("starting vmallocd", r);
			goto out;
		}
		/* Settle the connection's Hello, then the baseline. */
		vmc_hello(c[k], NULL);
		rss0[k] = rss_kb(d[k].pid);
		t0 = bench_now_ns();
		r = fill(c[k], counts[k]);
		if (r < 0) {
			fail("busy areas", r);
			goto out;
		}
		rss1[k] = rss_kb(d[k].pid);
		printf("  set up %7" PRIu64 " busy areas in %.3f s; VmRSS %.1f -> %.1f MiB\n",
		       counts[k], (double)(bench_now_ns() - t0) / 1e9, (double)rss0[k] / 1024.0,
		       (double)rss1[k] / 1024.0);
		time_pairs(c[k], loops / 4 + 1);
		time_pairs_pipelined(c[k], loops / 4 + 1);
	}
	for (unsigned i = 0; i < reps; i++) {
		/* The three daemons take turns every SLICE pairs, so a change in
		 * the machine's load falls on all three alike. */
		uint64_t slices = loops / SLICE ? loops / SLICE : 1, per = loops / slices;

		for (int k = 0; k < 3; k++)
			seq[k][i] = pip[k][i] = 0;
		for (uint64_t j = 0; j < slices; j++) {
			for (int kk = 0; kk < 3; kk++) {
				int k = (int)((j + (uint64_t)kk) % 3);   /* each goes first in turn */

				seq[k][i] += time_pairs(c[k], per) / (double)slices;
				pip[k][i] += time_pairs_pipelined(c[k], per) / (double)slices;
			}
		}
		for (int k = 0; k < 3; k++) {
			rseq[k][i] = seq[k][i] / seq[0][i];
			rpip[k][i] = pip[k][i] / pip[0][i];
		}
	}
	for (int k = 0; k < 3; k++) {
		char what[64];

		snprintf(what, sizeof(what), "us per pair, %" PRIu64 " busy", counts[k]);
		bench_print_stat(what, 40, 3, "us", bench_stats(seq[k], reps));
		snprintf(what, sizeof(what), "us per pair pipelined, %" PRIu64 " busy", counts[k]);
		bench_print_stat(what, 40, 3, "us", bench_stats(pip[k], reps));
	}
	for (int k = 1; k < 3; k++) {
		char what[80];

		snprintf(what, sizeof(what), "ratio %" PRIu64 " busy / 0 busy", counts[k]);
		bench_print_stat(what, 40, 3, "x", bench_stats(rseq[k], reps));
		snprintf(what, sizeof(what), "ratio %" PRIu64 " busy / 0 busy, pipelined", counts[k]);
		bench_print_stat(what, 40, 3, "x", bench_stats(rpip[k], reps));
		if (k == 2) {
			snprintf(what, sizeof(what), "service pair at %" PRIu64 " busy", counts[k]);
			bench_print_target(what, bench_stats(rseq[k], reps).median, "<=", 1.5, "x");
			snprintf(what, sizeof(what), "service pair pipelined at %" PRIu64 " busy",
				 counts[k]);
			bench_print_target(what, bench_stats(rpip[k], reps).median, "<=", 1.5, "x");
		}
	}
	if (pinned)
		printf("  (the daemons, with --busy-poll 0, and this client all ran on CPU %ld)\n",
		       ncpu - 1);
	printf("perarea: VmRSS growth of the daemon per live 1-page area\n");
	for (int k = 1; k < 3; k++) {
		double per = (double)(rss1[k] - rss0[k]) * 1024.0 / (double)counts[k];

		printf("  %-40s %10.0f bytes  (%.1f MiB for %" PRIu64 " areas)\n",
		       k == 1 ? "per area, over 10^4 areas" : "per area, over 10^6 areas", per,
		       (double)(rss1[k] - rss0[k]) / 1024.0, counts[k]);
	}
out:
	for (int k = 0; k < 3; k++) {
		vmc_close(c[k]);
		daemon_stop(&d[k]);
	}
	sched_setaffinity(0, sizeof(all), &all);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: svcscale --vmallocd PATH [--reps N] [--loops N] [--quick]\n"
		"                [ready|busy|all ...]\n");
}

int main(int argc, char **argv)
{
	enum { S_READY = 1, S_BUSY = 2, S_ALL = 3 };
	unsigned sections = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--vmallocd") && i + 1 < argc) {
			vmallocd = argv[++i];
		} else if (!strcmp(a, "--reps") && i + 1 < argc) {
			reps = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--loops") && i + 1 < argc) {
			opt_loops = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--quick")) {
			quick = true;
		} else if (!strcmp(a, "ready")) {
			sections |= S_READY;
		} else if (!strcmp(a, "busy") || !strcmp(a, "perarea")) {
			sections |= S_BUSY;
		} else if (!strcmp(a, "all")) {
			sections |= S_ALL;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!vmallocd || reps < 1 || reps > BENCH_MAX_REPS) {
		usage(stderr);
		return 2;
	}
	if (!sections)
		sections = S_ALL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (sections & S_READY)
		bench_ready();
	if (sections & S_BUSY)
		bench_busy();
	return failures ? 1 : 0;
}
