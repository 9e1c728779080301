/* restart.c -- what keeping the machine costs at a restart, measured from
 * outside as systemd sees it.
 *
 *   restart --vmallocd PATH [--areas N] [--memory SIZE] [--reps R] [--dir DIR]
 *
 * A daemon with --state-dir DIR (default: a new directory in /dev/shm, where
 * a memfd's bytes would be) gets N live 1-page areas (default 10^6; each
 * written, so each holds bytes), then:
 *   stop      SIGTERM to exit (the last checkpoint is written then)
 *   state     the state file's allocated bytes, per area
 *   ready     exec to READY=1 of a daemon recovering them from the
 *             checkpoint (R times, median)
 *   replay    after 10^5 frees and 10^5 vmallocs journaled, kill -9, then
 *             exec to READY=1 recovering checkpoint and journal
 * Exit status 0, or 1 if something failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmclient.h"

extern char **environ;

static const char *bin, *memory = "8G";
static char dir[256], sock[300], notify[300];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Start the daemon; the milliseconds from exec to READY=1, or -1. */
static double start(pid_t *ret_pid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char env_notify[400], *argv[] = { (char *)bin, "--config", "/dev/null", "--socket", sock,
		"--memory", (char *)memory, "--state-dir", dir, "--log-level", "warning", NULL };
	char *envp[] = { env_notify, NULL };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	double t0, t = -1;

	unlink(notify);
	if (strlen(notify) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, notify, strlen(notify) + 1);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	snprintf(env_notify, sizeof(env_notify), "NOTIFY_SOCKET=%s", notify);
	t0 = now_ms();
	if (posix_spawn(ret_pid, bin, NULL, NULL, argv, envp) != 0) {
		close(fd);
		return -1;
	}
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		char buf[1024];
		ssize_t n;

		if (poll(&p, 1, 600000) <= 0)
			break;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			break;
		buf[n] = '\0';
		if (strstr(buf, "READY=1")) {
			t = now_ms() - t0;
			break;
		}
	}
	close(fd);
	return t;
}

static int stop(pid_t pid, int sig)
{
	int st;

	kill(pid, sig);
	return waitpid(pid, &st, 0) == pid ? st : -1;
}

static struct vmc_client *conn(void)
{
	struct vmc_client *c;

	if (vmc_connect(sock, &c) < 0) {
		fprintf(stderr, "restart: cannot connect to %s\n", sock);
		exit(1);
	}
	return c;
}

/* n 1-page vmallocs (a byte written in each) or, with addrs set and
 * free_them, n vfrees; pipelined 512 at a time. */
static int batch(struct vmc_client *c, uint64_t *addrs, size_t n, bool free_them)
{
	struct vmc_batch *b;
	static int status[512];

	if (vmc_batch_new(c, &b) < 0)
		return -1;
	for (size_t i = 0; i < n; i += 512) {
		size_t k = n - i < 512 ? n - i : 512;

		vmc_batch_clear(b);
		for (size_t j = 0; j < k; j++)
			if (free_them)
				vmc_batch_vfree(b, addrs[i + j], &status[j]);
			else
				vmc_batch_vmalloc(b, 4096, &addrs[i + j], &status[j]);
		if (vmc_batch_run(b) < 0)
			return -1;
		for (size_t j = 0; j < k; j++)
			if (status[j] < 0)
				return -1;
		if (!free_them) {
			vmc_batch_clear(b);
			for (size_t j = 0; j < k; j++)
				vmc_batch_write(b, addrs[i + j], "x", 1, &status[j]);
			if (vmc_batch_run(b) < 0)
				return -1;
		}
	}
	vmc_batch_free(b);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vmallocd", required_argument, NULL, 'v' }, { "areas", required_argument, NULL, 'n' },
		{ "memory", required_argument, NULL, 'm' }, { "reps", required_argument, NULL, 'r' },
		{ "dir", required_argument, NULL, 'd' }, { NULL, 0, NULL, 0 },
	};
	size_t n = 1000000, extra;
	int reps = 5, o;
	uint64_t *addrs;
	struct vmc_client *c;
	struct stat sb;
	double t, ready[64], t0;
	char path[400];
	pid_t pid;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'v')
			bin = optarg;
		else if (o == 'n')
			n = strtoull(optarg, NULL, 0);
		else if (o == 'm')
			memory = optarg;
		else if (o == 'r')
			reps = atoi(optarg);
		else if (o == 'd')
			snprintf(dir, sizeof(dir), "%s", optarg);
		else
			return 2;
	}
	if (!bin || reps < 1 || reps > 64 || n < 10)
		return 2;
	if (!*dir) {
		snprintf(dir, sizeof(dir), "/dev/shm/vmd-restart.XXXXXX");
		if (!mkdtemp(dir))
			return 1;
	}
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	snprintf(notify, sizeof(notify), "%s/notify", dir);
	extra = n / 10;
	addrs = calloc(n + extra, sizeof(*addrs));
	if (!addrs)
		return 1;

	if (start(&pid) < 0)
		return 1;
	c = conn();
	t0 = now_ms();
	if (batch(c, addrs, n, false) < 0) {
		fprintf(stderr, "restart: filling failed: %s\n", vmc_last_message(c));
		return 1;
	}
	printf("fill: %zu 1-page areas, each written, in %.0f ms\n", n, now_ms() - t0);
	vmc_close(c);
	t0 = now_ms();
	if (stop(pid, SIGTERM) != 0)
		return 1;
	printf("stop: SIGTERM to exit, the last checkpoint included: %.0f ms\n", now_ms() - t0);
	snprintf(path, sizeof(path), "%s/state", dir);
	if (stat(path, &sb) < 0)
		return 1;
	printf("state: %lld bytes allocated (%lld apparent), %.1f bytes per area\n",
	       (long long)sb.st_blocks * 512, (long long)sb.st_size,
	       (double)sb.st_blocks * 512 / (double)n);

	for (int r = 0; r < reps; r++) {
		if ((ready[r] = start(&pid)) < 0)
			return 1;
		if (r + 1 < reps && stop(pid, SIGKILL) < 0)
			return 1;
	}
	/* The last one stays up for the replay case. */
	qsort(ready, (size_t)reps, sizeof(*ready), cmp);
	printf("ready: exec to READY=1 recovering %zu areas from the checkpoint: median %.0f ms "
	       "(min %.0f, max %.0f, %d runs)\n", n, ready[reps / 2], ready[0], ready[reps - 1], reps);

	c = conn();
	if (batch(c, addrs, extra, true) < 0 || batch(c, addrs + n, extra, false) < 0)
		return 1;
	vmc_close(c);
	stop(pid, SIGKILL);
	t = start(&pid);
	printf("replay: exec to READY=1 after kill -9, the checkpoint and %zu frees + %zu vmallocs "
	       "journaled (their writes are in the frames): %.0f ms\n", extra, extra, t);
	c = conn();
	{
		char msg[512];

		if (vmc_check(c, msg, sizeof(msg)) != 0) {
			fprintf(stderr, "restart: check: %s\n", msg);
			return 1;
		}
	}
	vmc_close(c);
	stop(pid, SIGTERM);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		return 1;
	return t < 0;
}
