/* listener.c -- listening and activation: the socket systemd passes
 * (sd_listen_fds) or the UNIX socket vmallocd binds itself, and the events
 * that accept on it.
 *
 * A listener knows nothing of what its connections speak: each accepted
 * descriptor goes to the accept function it was made with, which owns it
 * from then on.  So a second socket speaking another protocol (HTTP) is
 * one more listener_new() with another accept function.
 *
 * Back-off: when accept() fails for want of descriptors or memory, the
 * pending connection stays in the backlog and the socket stays readable,
 * so accepting again at once would spin.  The listener pauses for
 * ACCEPT_RETRY_MS (or until listener_fd_freed() says a descriptor came
 * free).  Invariant: the listener is enabled unless failing is set, and
 * then retry_ev is pending.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "socketpath.h"
#include "vmallocd.h"

#define ACCEPT_RETRY_MS 100

struct listener {
	struct evconnlistener *evl;
	struct event *retry_ev;    /* re-enables accepting after a failure */
	bool failing;              /* accept() is failing: backing off */
	char *bound_path;          /* a socket we created and must unlink, or NULL */
	listener_accept_fn *accept_fn;
	void *ctx;
};

/* ---- where the socket comes from ------------------------------------------------ */

int listener_activated_unix(int *ret_fd, int *ret_http_fd)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), fd = -1, r = 0, nr_state = 0;

	*ret_http_fd = -1;
	/* $LISTEN_FDS unset, or not ours: bind our own socket. */
	if (n <= 0)
		return 0;
	/* The protocol socket, and the HTTP window's if vmallocd-http.socket
	 * (FileDescriptorName=http) passed one too. */
	for (int i = 0; i < n && r == 0; i++) {
		int f = SD_LISTEN_FDS_START + i;
		bool http = names && names[i] && strcmp(names[i], "http") == 0;

		/* The machine's state from the fd store is state.c's. */
		if (names && names[i] && strncmp(names[i], "vmallocd-", 9) == 0) {
			nr_state++;
			continue;
		}
		if (http ? *ret_http_fd >= 0 : fd >= 0) {
			vmd_log(VM_LOG_ERR, "systemd passed %d sockets, expected the protocol's and at "
				"most one named http", n);
			r = -EINVAL;
		} else if (http ? sd_is_socket(f, AF_UNSPEC, SOCK_STREAM, 1) <= 0 :
			   sd_is_socket_unix(f, SOCK_STREAM, 1, NULL, 0) <= 0) {
			vmd_log(VM_LOG_ERR, http ? "the inherited http socket is not a listening stream socket" :
				"the inherited socket is not a listening UNIX stream socket");
			r = -EINVAL;
		} else if (evutil_make_socket_nonblocking(f) < 0 || evutil_make_socket_closeonexec(f) < 0) {
			/* Activated sockets arrive blocking; the loop needs otherwise. */
			r = -errno;
		} else if (http) {
			*ret_http_fd = f;
		} else {
			fd = f;
		}
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (r == 0 && fd < 0 && *ret_http_fd < 0 && nr_state == n)
		return 0;   /* only the state: bind our own socket */
	if (r == 0 && fd < 0) {
		vmd_log(VM_LOG_ERR, "systemd passed no protocol socket, only the http one");
		r = -EINVAL;
	}
	if (r < 0) {
		if (*ret_http_fd >= 0)
			*ret_http_fd = -1;
		return r;
	}
	vmd_log(VM_LOG_INFO, "using the socket%s passed by systemd", *ret_http_fd >= 0 ? "s" : "");
	*ret_fd = fd;
	return 1;
}

/* Create the socket's directory if it is missing, so that a first start on
 * a fresh machine (an empty /run) works without tmpfiles or the socket
 * unit: one level only, so a mistyped path fails instead of growing a
 * tree.  Mode 0755 whatever the umask: the socket's own mode
 * (socket-mode) decides who may connect. */
static int make_socket_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash || slash == path)
		return 0;
	n = (size_t)(slash - path);
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (mkdir(dir, 0755) < 0) {
		int err = errno;

		if (err == EEXIST)
			return 0;   /* a file there makes bind() fail with ENOTDIR */
		vmd_log(VM_LOG_ERR, "cannot create %s, the directory of the socket %s: %s", dir, path,
			strerror(err));
		return -err;
	}
	if (chmod(dir, 0755) < 0)
		vmd_log(VM_LOG_WARNING, "chmod %s: %s, ignoring", dir, strerror(errno));
	vmd_log(VM_LOG_INFO, "created %s for the socket", dir);
	return 0;
}

int listener_bind_unix(const char *want, unsigned mode, int *ret_fd, char **ret_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[sizeof(sa.sun_path)], *copy;
	int fd, r;

	if (want)
		r = snprintf(path, sizeof(path), "%s", want) >= (int)sizeof(path) ? -ENAMETOOLONG : 0;
	else
		r = cv_socket_path(path, sizeof(path), false);
	if (r < 0) {
		vmd_log(VM_LOG_ERR, "socket path too long");
		return r;
	}
	r = make_socket_dir(path);
	if (r < 0)
		return r;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int probe;

		if (errno != EADDRINUSE)
			goto fail;
		/* A stale socket from a dead daemon, or a live one? Ask it. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			close(fd);
			vmd_log(VM_LOG_ERR, "%s: another vmallocd is listening there", path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto fail;
	}
	if (chmod(path, mode) < 0)
		vmd_log(VM_LOG_WARNING, "chmod %s: %s, ignoring", path, strerror(errno));
	if (listen(fd, SOMAXCONN) < 0)
		goto fail;
	copy = strdup(path);
	if (!copy) {
		/* Without the path we could not unlink the socket at exit. */
		unlink(path);
		close(fd);
		vmd_log(VM_LOG_ERR, "cannot listen on %s: out of memory", path);
		return -ENOMEM;
	}
	*ret_fd = fd;
	*ret_path = copy;
	vmd_log(VM_LOG_INFO, "listening on %s", path);
	return 0;
fail:
	r = -errno;
	vmd_log(VM_LOG_ERR, "cannot listen on %s: %s", path, strerror(-r));
	close(fd);
	return r;
}

/* ---- accepting ---------------------------------------------------------------------- */

/* Enable accepting; if libevent cannot (out of memory), try again in a
 * moment rather than go deaf. */
static void resume(struct listener *l)
{
	struct timeval tv = { 0, ACCEPT_RETRY_MS * 1000 };

	if (evconnlistener_enable(l->evl) == 0)
		return;
	vmd_log(VM_LOG_ERR, "cannot resume accepting; retrying in %d ms", ACCEPT_RETRY_MS);
	if (evtimer_add(l->retry_ev, &tv) < 0)
		vmd_log(VM_LOG_ERR, "cannot arm the accept retry timer");
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct listener *l = arg;

	(void)evl;
	(void)sa;
	(void)socklen;
	l->failing = false;
	l->accept_fn(l->ctx, fd);
}

static void on_accept_error(struct evconnlistener *evl, void *arg)
{
	struct listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, ACCEPT_RETRY_MS * 1000 };

	/* Say so once per episode. */
	if (!l->failing)
		vmd_log(VM_LOG_WARNING, "accept failed: %s; retrying every %d ms", strerror(err),
			ACCEPT_RETRY_MS);
	l->failing = true;
	evconnlistener_disable(evl);
	if (evtimer_add(l->retry_ev, &tv) < 0) {
		vmd_log(VM_LOG_ERR, "cannot arm the accept retry timer; accepting at once");
		evconnlistener_enable(evl);
	}
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	resume(arg);
}

void listener_fd_freed(struct listener *l)
{
	if (l && l->failing)
		resume(l);
}

int listener_new(struct event_base *base, int fd, char *bound_path, listener_accept_fn *fn,
		 void *ctx, struct listener **ret)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (!l) {
		close(fd);
		if (bound_path)
			unlink(bound_path);
		free(bound_path);
		vmd_log(VM_LOG_ERR, "cannot listen: out of memory");
		return -ENOMEM;
	}
	l->bound_path = bound_path;
	l->accept_fn = fn;
	l->ctx = ctx;
	/* Created disabled and enabled by hand: evconnlistener_new() would
	 * ignore a failure to enable, leaving a daemon that never accepts. */
	l->evl = evconnlistener_new(base, on_accept, l,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED,
				    -1, fd);
	if (!l->evl)
		close(fd);
	l->retry_ev = evtimer_new(base, on_retry, l);
	if (!l->evl || !l->retry_ev)
		goto oom;
	evconnlistener_set_error_cb(l->evl, on_accept_error);
	if (evconnlistener_enable(l->evl) < 0)
		goto oom;
	*ret = l;
	return 0;
oom:
	listener_free(l);
	vmd_log(VM_LOG_ERR, "cannot listen: out of memory");
	return -ENOMEM;
}

struct listener *listener_free(struct listener *l)
{
	if (!l)
		return NULL;
	if (l->evl)
		evconnlistener_free(l->evl);
	if (l->retry_ev)
		event_free(l->retry_ev);
	if (l->bound_path) {
		unlink(l->bound_path);
		free(l->bound_path);
	}
	free(l);
	return NULL;
}
