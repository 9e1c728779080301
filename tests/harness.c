/* harness.c -- see harness.h.  Test-only code: it may block and it may
 * allocate freely, but it never leaves a daemon, a child or a temp dir
 * behind. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "vmclient.h"

long long vmd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- children ------------------------------------------------------------------ */

#define MAX_CHILDREN 256

/* The children forked through vmd_fork(); 0: a free slot.  Read from a
 * signal handler, hence volatile sig_atomic_t-sized entries. */
static volatile pid_t children[MAX_CHILDREN];
static bool guard_installed;

static bool running(pid_t pid);

/* SIGKILL every child still ours and running, and reap it.  A child
 * already reaped is no longer ours (waitid says ECHILD), so a recycled
 * pid is never hit.  Async-signal-safe. */
static void kill_children(void)
{
	for (unsigned i = 0; i < MAX_CHILDREN; i++) {
		pid_t pid = children[i];
		int st;

		children[i] = 0;
		if (pid <= 0)
			continue;
		if (running(pid)) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		} else {
			waitpid(pid, &st, WNOHANG);   /* a zombie nobody reaped */
		}
	}
}

static void on_fatal_signal(int sig)
{
	kill_children();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_guard(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGALRM, SIGABRT, SIGSEGV, SIGBUS };

	if (guard_installed)
		return;
	guard_installed = true;
	atexit(kill_children);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa = { .sa_handler = on_fatal_signal };

		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESETHAND;
		sigaction(sigs[i], &sa, NULL);
	}
}

/* Whether pid is a child of ours that has not exited, without reaping it
 * (the test still wants its status). */
static bool running(pid_t pid)
{
	siginfo_t info = { .si_pid = 0 };

	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

pid_t vmd_fork(void)
{
	pid_t pid;

	install_guard();
	pid = fork();
	if (pid == 0) {
		/* The child's own exit must not kill its siblings. */
		for (unsigned i = 0; i < MAX_CHILDREN; i++)
			children[i] = 0;
		return 0;
	}
	if (pid > 0) {
		unsigned i;

		for (i = 0; i < MAX_CHILDREN && children[i] > 0 && running(children[i]); i++)
			;
		if (i < MAX_CHILDREN)
			children[i] = pid;
	}
	return pid;
}

int vmd_connect(const char *socket_path, struct vmc_client **ret)
{
	const char *wrap = getenv("VMALLOCD_WRAPPER");
	int r = vmc_connect(socket_path, ret);

	if (r == 0)
		vmc_set_timeout(*ret, wrap && *wrap ? 240000 : 60000);
	return r;
}

int as_uid(uint32_t uid, int (*fn)(void *), void *arg)
{
	pid_t pid = vmd_fork();
	int st;

	if (pid == 0) {
		if (setgid(uid) < 0 || setuid(uid) < 0)
			_exit(100);
		_exit(fn(arg));
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

/* ---- the notify socket ----------------------------------------------------------- */

struct vmd_notify {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int fd;
	bool stop;
	unsigned long seq;           /* lines received so far */
	char status[256];
	int watchdogs;
	long long watchdog_at, watchdog_max_gap; /* ms: the last ping, the longest gap */
	bool ready, stopping, reloading;
	char last[64][128];          /* the most recent lines, by seq % 64 */
};

static void *notify_reader(void *arg)
{
	struct vmd_notify *n = arg;

	for (;;) {
		struct pollfd pfd = { .fd = n->fd, .events = POLLIN };
		char buf[4096], *save = NULL;
		ssize_t len;

		pthread_mutex_lock(&n->lock);
		if (n->stop) {
			pthread_mutex_unlock(&n->lock);
			return NULL;
		}
		pthread_mutex_unlock(&n->lock);
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		len = recv(n->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		pthread_mutex_lock(&n->lock);
		for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (strcmp(line, "READY=1") == 0)
				n->ready = true;
			else if (strcmp(line, "STOPPING=1") == 0)
				n->stopping = true;
			else if (strcmp(line, "RELOADING=1") == 0)
				n->reloading = true;
			else if (strcmp(line, "WATCHDOG=1") == 0) {
				long long now = vmd_now_ms();

				if (n->watchdog_at && now - n->watchdog_at > n->watchdog_max_gap)
					n->watchdog_max_gap = now - n->watchdog_at;
				n->watchdog_at = now;
				n->watchdogs++;
			}
			else if (strncmp(line, "STATUS=", 7) == 0)
				snprintf(n->status, sizeof(n->status), "%s", line + 7);
			snprintf(n->last[n->seq % 64], sizeof(n->last[0]), "%s", line);
			n->seq++;
		}
		pthread_cond_broadcast(&n->cond);
		pthread_mutex_unlock(&n->lock);
	}
}

int vmd_notify_open(struct vmd_proc *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vmd_notify *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memcpy(sa.sun_path, p->notify, strlen(p->notify) + 1);
	if (n->fd < 0 || bind(n->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (n->fd >= 0)
			close(n->fd);
		free(n);
		return -errno;
	}
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	if (pthread_create(&n->thread, NULL, notify_reader, n) != 0) {
		close(n->fd);
		free(n);
		return -EAGAIN;
	}
	p->nt = n;
	p->notify_fd = n->fd;
	return 0;
}

void vmd_notify_close(struct vmd_proc *p)
{
	struct vmd_notify *n = p->nt;

	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	close(n->fd);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	free(n);
	p->nt = NULL;
	p->notify_fd = -1;
}

static void copy_state(struct vmd_proc *p, const struct vmd_notify *n)
{
	snprintf(p->status, sizeof(p->status), "%s", n->status);
	p->watchdogs = n->watchdogs;
	p->watchdog_max_gap_ms = n->watchdog_max_gap;
	p->ready = n->ready;
	p->stopping = n->stopping;
	p->reloading = n->reloading;
}

void vmd_watchdog_gap(struct vmd_proc *p, bool reset)
{
	struct vmd_notify *n = p->nt;

	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	if (reset) {
		n->watchdog_max_gap = 0;
		n->watchdog_at = vmd_now_ms();
	} else if (n->watchdog_at && vmd_now_ms() - n->watchdog_at > n->watchdog_max_gap) {
		/* A ping still awaited counts too. */
		n->watchdog_max_gap = vmd_now_ms() - n->watchdog_at;
	}
	copy_state(p, n);
	pthread_mutex_unlock(&n->lock);
}

static bool line_matches(const char *line, const char *want)
{
	size_t k = strlen(want);

	return k && want[k - 1] == '=' ? strncmp(line, want, k) == 0 : strcmp(line, want) == 0;
}

bool vmd_wait_notify(struct vmd_proc *p, const char *want, int timeout_ms)
{
	struct vmd_notify *n = p->nt;
	long long end = vmd_now_ms() + timeout_ms;
	unsigned long from;
	bool seen = false;

	if (!n)
		return false;
	pthread_mutex_lock(&n->lock);
	from = p->cursor;
	while (!seen) {
		struct timespec ts;
		long long left = end - vmd_now_ms();

		if (n->seq - from > 64)
			from = n->seq - 64;   /* older lines are gone */
		for (; want && !seen && from < n->seq; from++) {
			if (line_matches(n->last[from % 64], want)) {
				seen = true;
				p->cursor = from + 1;
			}
		}
		if (seen || left <= 0)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(left / 1000);
		ts.tv_nsec += (long)(left % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&n->cond, &n->lock, &ts);
	}
	if (!want)
		p->cursor = n->seq;
	copy_state(p, n);
	pthread_mutex_unlock(&n->lock);
	return seen;
}

static int start(struct vmd_proc *p, const char *const *args, const char *const *env, bool logged)
{
	const char *bin = getenv("VMALLOCD_BIN");
	const char *wrap = getenv("VMALLOCD_WRAPPER");
	char tmpl[] = "/tmp/vmd-test.XXXXXX";

	memset(p, 0, sizeof(*p));
	p->notify_fd = -1;
	if (!bin)
		bin = "vmallocd";
	if (!mkdtemp(tmpl))
		return -errno;
	chmod(tmpl, 0755);
	snprintf(p->dir, sizeof(p->dir), "%s", tmpl);
	snprintf(p->sock, sizeof(p->sock), "%s/vmallocd.sock", tmpl);
	snprintf(p->notify, sizeof(p->notify), "%s/notify.sock", tmpl);
	if (logged)
		snprintf(p->log, sizeof(p->log), "%s/stderr.log", tmpl);
	if (vmd_notify_open(p) < 0)
		return -errno;

	p->pid = vmd_fork();
	if (p->pid < 0)
		return -errno;
	if (p->pid == 0) {
		const char *argv[64];
		char wbuf[512];
		int n = 0;

		if (wrap && *wrap) {
			snprintf(wbuf, sizeof(wbuf), "%s", wrap);
			for (char *t = strtok(wbuf, " "); t && n < 16; t = strtok(NULL, " "))
				argv[n++] = t;
		}
		argv[n++] = bin;
		argv[n++] = "--socket";
		argv[n++] = p->sock;
		argv[n++] = "--socket-mode";
		argv[n++] = "0666";
		argv[n++] = "--config";
		argv[n++] = "/dev/null";
		for (int i = 0; args && args[i] && n < 62; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		if (logged) {
			int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

			if (fd < 0 || dup2(fd, 2) < 0)
				_exit(127);
		}
		setenv("NOTIFY_SOCKET", p->notify, 1);
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (!vmd_wait_notify(p, "READY=1", 20000)) {
		vmd_stop(p, 2000);
		return -ETIMEDOUT;
	}
	return 0;
}

int vmd_start(struct vmd_proc *p, const char *const *args, const char *const *env)
{
	return start(p, args, env, false);
}

int vmd_start_logged(struct vmd_proc *p, const char *const *args, const char *const *env)
{
	return start(p, args, env, true);
}

char *vmd_read_log(const struct vmd_proc *p)
{
	FILE *f = p->log[0] ? fopen(p->log, "r") : NULL;
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	char buf[4096];

	if (!f)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (len + n + 1 > cap) {
			char *t = realloc(text, cap = (len + n + 1) * 2);

			if (!t) {
				free(text);
				fclose(f);
				return NULL;
			}
			text = t;
		}
		memcpy(text + len, buf, n);
		len += n;
	}
	fclose(f);
	if (!text)
		text = calloc(1, 1);
	else
		text[len] = 0;
	return text;
}

int vmd_stop(struct vmd_proc *p, int timeout_ms)
{
	long long end = vmd_now_ms() + timeout_ms;
	int status, r = -ETIMEDOUT;

	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		for (;;) {
			pid_t w = waitpid(p->pid, &status, WNOHANG);

			if (w == p->pid) {
				r = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
				break;
			}
			if (vmd_now_ms() > end) {
				kill(p->pid, SIGKILL);
				waitpid(p->pid, &status, 0);
				break;
			}
			usleep(2000);
		}
		p->pid = 0;
	}
	if (p->nt) {
		/* Take in what the daemon said on the way out (STOPPING=1). */
		vmd_wait_notify(p, "STOPPING=1", 200);
		vmd_notify_close(p);
	}
	if (p->dir[0]) {
		unlink(p->sock);
		unlink(p->notify);
		rmdir(p->dir);
		p->dir[0] = '\0';
	}
	return r;
}

/* Read once from fd into buf; returns read()'s result (0 at EOF). */
static ssize_t drain_into(int fd, char *buf, size_t len, size_t *used)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n > 0 && buf && *used + 1 < len) {
		size_t k = (size_t)n < len - 1 - *used ? (size_t)n : len - 1 - *used;

		memcpy(buf + *used, tmp, k);
		*used += k;
		buf[*used] = '\0';
	}
	return n;
}

int vmd_run(const char *const *argv, const char *stdin_data, size_t stdin_len,
	    char *out, size_t outlen, char *err, size_t errlen)
{
	int in[2], o[2], e[2], status;
	size_t ou = 0, eu = 0, iu = 0;
	pid_t pid;

	if (out && outlen)
		out[0] = '\0';
	if (err && errlen)
		err[0] = '\0';
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0)
		return -errno;
	pid = vmd_fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(o[1], 1);
		dup2(e[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	close(e[1]);
	signal(SIGPIPE, SIG_IGN);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	if (!stdin_data || !stdin_len) {
		close(in[1]);
		in[1] = -1;
	}
	while (o[0] >= 0 || e[0] >= 0) {
		struct pollfd pf[3] = {
			{ .fd = o[0], .events = POLLIN }, { .fd = e[0], .events = POLLIN },
			{ .fd = in[1], .events = POLLOUT },
		};

		/* No time limit of our own: a slow child (a sanitizer build on a
		 * busy machine) is still read to its end; meson's timeout
		 * catches a hung one. */
		if (poll(pf, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents && drain_into(o[0], out, outlen, &ou) <= 0) {
			close(o[0]);
			o[0] = -1;
		}
		if (pf[1].revents && drain_into(e[0], err, errlen, &eu) <= 0) {
			close(e[0]);
			e[0] = -1;
		}
		if (in[1] >= 0 && pf[2].revents) {
			ssize_t n = write(in[1], stdin_data + iu, stdin_len - iu);

			if (n > 0)
				iu += (size_t)n;
			if ((n < 0 && errno != EAGAIN) || iu == stdin_len) {
				close(in[1]);
				in[1] = -1;
			}
		}
	}
	if (o[0] >= 0)
		close(o[0]);
	if (e[0] >= 0)
		close(e[0]);
	if (in[1] >= 0)
		close(in[1]);
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
