/* loop.c -- connects libevent to vmallocd's connections: the listening socket
 * (inherited from systemd or bound here), accepting with peer credentials,
 * cutting each connection's byte stream into frames, fairness between
 * clients, back-pressure on slow readers, stall and idle timeouts, signals
 * and the watchdog.  What a frame means is dispatch.c's business.
 *
 * A connection is its socket and plain events, not a bufferevent: one
 * read() per readable event lands in the daemon's shared read buffer and
 * the frames are handled where they lie; only what is left over (a partial
 * frame, or frames beyond the budget) is copied into the connection's own
 * c->in.  The replies of a pass collect in c->out and leave with one send();
 * EV_WRITE is added only while some are left.  Invariants: c->in is empty
 * or starts at a frame boundary; read_ev is added iff the connection is
 * neither paused, closing nor at end of stream; write_ev iff c->writing.
 *
 * Fairness: one pass handles at most FRAME_BUDGET frames, then yields to
 * the loop (resume_ev) so a client with a deep pipeline cannot starve the
 * others.
 *
 * Deferred work: what the engine's kernel hands to a workqueue (6.18's
 * drain_vmap_work) runs at the end of the pass that queued it, after the
 * pass's replies are sent (finish_pass), or at the engine's next call.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "socketpath.h"
#include "vmalloc.pb-c.h"
#include "vmallocd.h"

#define FRAME_BUDGET 64
#define ACCEPT_RETRY_MS 100
#define RBUF_SIZE (256u << 10)  /* the most one read takes */
#define IN_MIN 4096             /* the least room a read into c->in asks for */
#define IN_KEEP (64u << 10)     /* emptied buffers up to this size are kept */
#define OUT_KEEP (64u << 10)

uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- connections ------------------------------------------------------------ */

/* Enable the listener; if libevent cannot (out of memory), try again in a
 * moment rather than go deaf. */
static void listener_resume(struct daemon *d)
{
	struct timeval tv = { 0, ACCEPT_RETRY_MS * 1000 };

	if (evconnlistener_enable(d->listener) == 0)
		return;
	vmd_log(VM_LOG_ERR, "cannot resume accepting; retrying in %d ms", ACCEPT_RETRY_MS);
	if (evtimer_add(d->accept_retry_ev, &tv) < 0)
		vmd_log(VM_LOG_ERR, "cannot arm the accept retry timer");
}

void conn_close(struct conn *c)
{
	struct daemon *d = c->d;

	dispatch_release_scoped(c);
	/* Work the releases queued (a purge) runs now, as the kernel's worker
	 * would right after them. */
	vm_run_due_work(d->engine);
	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->nr_conns--;
	if (c->read_ev)
		event_free(c->read_ev);
	if (c->write_ev)
		event_free(c->write_ev);
	if (c->resume_ev)
		event_free(c->resume_ev);
	if (c->stall_ev)
		event_free(c->stall_ev);
	if (c->idle_ev)
		event_free(c->idle_ev);
	if (c->fd >= 0)
		close(c->fd);
	iobuf_free(&c->in);
	iobuf_free(&c->out);
	vmd_arena_done(&c->arena);
	free(c->scratch);
	vmd_log(VM_LOG_DEBUG, "connection %llu (uid %u pid %u) closed",
		(unsigned long long)c->id, c->uid, c->pid);
	free(c);
	/* A descriptor came free: accept again now if we were backing off. */
	if (d->listener && d->accept_failing)
		listener_resume(d);
}

static struct timeval ms_to_tv(unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

/* A partial frame left in the input starts the stall clock; finishing a
 * frame restarts it for the next one, but more bytes of the same frame do
 * not: a client dribbling one frame byte by byte stalls all the same. */
static void set_stall_timer(struct conn *c, bool partial, bool progressed)
{
	struct timeval tv;

	if (!partial || !c->d->opt.stall_timeout_ms) {
		if (evtimer_pending(c->stall_ev, NULL))
			evtimer_del(c->stall_ev);
		return;
	}
	if (evtimer_pending(c->stall_ev, NULL) && !progressed)
		return;
	tv = ms_to_tv(c->d->opt.stall_timeout_ms);
	/* A stall nobody would time out is not allowed to hold the slot. */
	if (evtimer_add(c->stall_ev, &tv) < 0) {
		vmd_log(VM_LOG_ERR, "connection %llu: cannot arm the stall timer, closing",
			(unsigned long long)c->id);
		c->closing = true;
	}
}

static void stop_reading(struct conn *c)
{
	if (c->read_ev)
		event_del(c->read_ev);
}

static void pause_if_backlogged(struct conn *c)
{
	if (!c->read_paused && c->out.len > c->d->opt.output_limit) {
		stop_reading(c);
		c->read_paused = true;
	}
}

/* After a read() or send() on c's socket failed: false for the errors
 * that only mean "not now", else true (said at debug level): close c. */
static bool io_failed(const struct conn *c)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return false;
	vmd_log(VM_LOG_DEBUG, "connection %llu: %s", (unsigned long long)c->id, strerror(errno));
	return true;
}

/* Write the replies gathered in this pass at once, straight from the read
 * path: EV_WRITE is added only for what the socket does not take, so a
 * client that keeps up costs no epoll_ctl and no extra loop turn.  False if
 * the peer is gone or the rest could never be written: close c. */
static bool flush_output(struct conn *c)
{
	ssize_t n;

	if (!c->out.len || c->writing || c->fd < 0)
		return true;
	n = send(c->fd, c->out.data + c->out.head, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && io_failed(c))
		return false;
	if (n > 0)
		iobuf_consume(&c->out, (size_t)n);
	if (!c->out.len) {
		iobuf_trim(&c->out, OUT_KEEP);
		return true;
	}
	if (event_add(c->write_ev, NULL) < 0) {
		vmd_log(VM_LOG_ERR, "connection %llu: cannot wait for writability, closing",
			(unsigned long long)c->id);
		return false;
	}
	c->writing = true;
	return true;
}

/* The connection is done for but has replies to flush: give the peer the
 * stall timeout to take them, then close anyway. */
static void set_closing_timeout(struct conn *c)
{
	struct timeval tv = ms_to_tv(c->d->opt.stall_timeout_ms ? c->d->opt.stall_timeout_ms :
				     10000);

	if (c->close_armed)
		return;
	if (evtimer_add(c->stall_ev, &tv) < 0)
		vmd_log(VM_LOG_ERR, "connection %llu: cannot arm the closing timer",
			(unsigned long long)c->id);
	c->close_armed = true;
}

/* Handle the whole frames at the front of p[0..len), at most FRAME_BUDGET
 * of them; returns the bytes handled.  *more: whole frames are left for
 * the next turn. */
static size_t handle_frames(struct conn *c, const uint8_t *p, size_t len, bool *more)
{
	unsigned budget = FRAME_BUDGET;
	size_t off = 0;

	*more = false;
	while (!c->closing && !c->read_paused && len - off >= VMD_FRAME_HDR) {
		uint32_t n;

		if (vmd_frame_parse_hdr(p + off, c->d->opt.max_frame, &n) < 0) {
			/* The stream cannot be resynchronised: reply, then close. */
			reply_error(c, 0, -EMSGSIZE, "frame of %u bytes exceeds the limit of %u",
				    vmd_get_n32(p + off), c->d->opt.max_frame);
			c->closing = true;
			break;
		}
		if (len - off - VMD_FRAME_HDR < n)
			break;
		if (!budget--) {
			*more = true;
			break;
		}
		if (dispatch_frame(c, p + off + VMD_FRAME_HDR, n) == -EPIPE)
			c->closing = true;
		off += VMD_FRAME_HDR + n;
		pause_if_backlogged(c);
	}
	return off;
}

/* What every pass over the input ends with: timers, the one write of the
 * pass's replies, the engine's deferred work, closing.  Returns false if c
 * was freed. */
static bool finish_pass(struct conn *c, bool progressed, bool more)
{
	bool sent;

	if (more && !c->closing)
		event_active(c->resume_ev, EV_READ, 0);
	if (c->eof && !more && !c->read_paused)
		c->closing = true;  /* the peer sends no more: what is whole is answered */
	/* Once closing, stall_ev is the closing timer: leave it be. */
	if (!c->close_armed)
		set_stall_timer(c, !c->closing && !c->eof && c->in.len > 0, progressed);
	sent = flush_output(c);
	/* Work the pass's requests queued for later (6.18's purge after a
	 * vfree over the lazy limit) runs once their replies are out: a flag
	 * test, no system call or timer. */
	vm_run_due_work(c->d->engine);
	if (!sent) {
		conn_close(c);
		return false;
	}
	if (c->closing) {
		stop_reading(c);
		if (!c->out.len) {
			conn_close(c);
			return false;
		}
		set_closing_timeout(c);
	}
	return true;
}

static bool whole_frame_queued(const struct conn *c)
{
	return c->in.len >= VMD_FRAME_HDR &&
	       c->in.len - VMD_FRAME_HDR >= vmd_get_n32(c->in.data + c->in.head);
}

/* Handle what waits in c->in (after a pause, a budget or a resume). */
static void process_queued(struct conn *c)
{
	size_t done;
	bool more;

	done = handle_frames(c, c->in.data + c->in.head, c->in.len, &more);
	iobuf_consume(&c->in, done);
	if (!c->in.len)
		iobuf_trim(&c->in, IN_KEEP);
	finish_pass(c, done > 0, more);
}

/* Room in c->in for the rest of the frame being assembled (at least
 * IN_MIN bytes); NULL if out of memory. */
static uint8_t *in_room(struct conn *c, size_t *room)
{
	size_t want = IN_MIN;
	uint8_t *p;

	if (c->in.len >= VMD_FRAME_HDR) {
		uint32_t n = vmd_get_n32(c->in.data + c->in.head);

		if (n <= c->d->opt.max_frame && VMD_FRAME_HDR + (size_t)n - c->in.len > want)
			want = VMD_FRAME_HDR + (size_t)n - c->in.len;
	}
	p = iobuf_reserve(&c->in, want);
	*room = p ? iobuf_room(&c->in) : 0;
	return p;
}

/*
 * Readable.  With nothing queued, the bytes land in the daemon's shared
 * buffer and the frames are handled from there; only a trailing partial
 * frame (or frames left for the next turn) is copied into c->in.  So an
 * idle or well-behaved connection keeps no input buffer, and one read
 * system call takes a whole pipeline.  With a partial frame queued, the
 * read goes into c->in behind it.  Whole frames still queued are handled
 * before anything more is read, which bounds c->in.
 */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct daemon *d = c->d;
	bool shared = c->in.len == 0, more = false;
	size_t room, done = 0;
	uint8_t *p;
	ssize_t n;

	(void)what;
	if (whole_frame_queued(c)) {
		process_queued(c);
		return;
	}
	if (shared) {
		p = d->rbuf;
		room = d->rbuf_cap;
	} else if (!(p = in_room(c, &room))) {
		reply_error(c, 0, -ENOMEM, "out of memory reading a frame");
		c->closing = true;
		finish_pass(c, false, false);
		return;
	}
	n = read(fd, p, room);
	if (n < 0) {
		if (io_failed(c))
			conn_close(c);
		return;
	}
	if (n == 0) {
		c->eof = true;
		stop_reading(c);
	} else {
		c->last_read_usec = now_usec();
	}
	if (!shared) {
		iobuf_commit(&c->in, (size_t)n);
		process_queued(c);
		return;
	}
	done = handle_frames(c, p, (size_t)n, &more);
	if (done < (size_t)n && !c->closing && iobuf_append(&c->in, p + done, (size_t)n - done) < 0) {
		reply_error(c, 0, -ENOMEM, "out of memory reading a frame");
		c->closing = true;
	}
	finish_pass(c, done > 0, more);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	process_queued(arg);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	ssize_t n;

	(void)what;
	n = send(fd, c->out.data + c->out.head, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0) {
		if (io_failed(c))
			conn_close(c);
		return;
	}
	iobuf_consume(&c->out, (size_t)n);
	if (c->out.len == 0) {
		if (c->closing) {
			conn_close(c);
			return;
		}
		event_del(c->write_ev);
		c->writing = false;
		iobuf_trim(&c->out, OUT_KEEP);
	}
	if (c->read_paused && !c->closing && c->out.len <= c->d->opt.output_limit / 2) {
		c->read_paused = false;
		if (!c->eof && event_add(c->read_ev, NULL) < 0) {
			vmd_log(VM_LOG_ERR, "connection %llu: cannot resume reading, closing",
				(unsigned long long)c->id);
			conn_close(c);
			return;
		}
		process_queued(c);
	}
}

static void on_stall(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->closing)
		vmd_log(VM_LOG_INFO, "connection %llu (uid %u pid %u) took no replies for %u ms, closed",
			(unsigned long long)c->id, c->uid, c->pid, c->d->opt.stall_timeout_ms);
	else
		vmd_log(VM_LOG_INFO, "connection %llu (uid %u pid %u) stalled in a frame for %u ms, closed",
			(unsigned long long)c->id, c->uid, c->pid, c->d->opt.stall_timeout_ms);
	conn_close(c);
}

/* The idle timer is armed once per timeout rather than on every read: when
 * it fires, a connection that read since sleeps again for the rest. */
static void arm_idle(struct conn *c, uint64_t usec)
{
	struct timeval tv = { .tv_sec = (time_t)(usec / 1000000),
			      .tv_usec = (suseconds_t)(usec % 1000000) };

	if (evtimer_add(c->idle_ev, &tv) < 0)
		vmd_log(VM_LOG_ERR, "connection %llu: cannot arm the idle timer",
			(unsigned long long)c->id);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	uint64_t limit = (uint64_t)c->d->opt.idle_timeout_ms * 1000, now = now_usec();

	(void)fd;
	(void)what;
	if (!limit || c->closing)
		return;
	/* A paused connection is waiting for us, not idle. */
	if (c->read_paused || c->writing)
		c->last_read_usec = now;
	if (now - c->last_read_usec < limit) {
		arm_idle(c, limit - (now - c->last_read_usec));
		return;
	}
	vmd_log(VM_LOG_INFO, "connection %llu (uid %u pid %u) idle, closed",
		(unsigned long long)c->id, c->uid, c->pid);
	conn_close(c);
}

static void apply_idle_timeout(struct conn *c)
{
	evtimer_del(c->idle_ev);
	if (c->d->opt.idle_timeout_ms)
		arm_idle(c, (uint64_t)c->d->opt.idle_timeout_ms * 1000);
}

static void reject(evutil_socket_t fd)
{
	Vmallocd__V1__Reply reply = VMALLOCD__V1__REPLY__INIT;
	uint8_t frame[128];
	size_t n;

	/* A best-effort error frame, then close: never block the loop on it. */
	reply.status = -EUSERS;
	reply.message = (char *)"too many clients";
	n = vmallocd__v1__reply__pack(&reply, frame + VMD_FRAME_HDR);
	vmd_put_n32(frame, (uint32_t)n);
	(void)!send(fd, frame, VMD_FRAME_HDR + n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

struct conn *conn_new(struct daemon *d, int fd, uint32_t uid, uint32_t pid)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	c->d = d;
	c->fd = fd;
	c->id = ++d->next_conn_id;
	c->uid = uid;
	c->pid = pid;
	c->last_read_usec = now_usec();
	vmd_arena_init(&c->arena, 4 * (size_t)VMD_MAX_FRAME);
	if (fd >= 0) {
		c->read_ev = event_new(d->base, fd, EV_READ | EV_PERSIST, on_readable, c);
		c->write_ev = event_new(d->base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
	}
	c->resume_ev = event_new(d->base, -1, 0, on_resume, c);
	c->stall_ev = evtimer_new(d->base, on_stall, c);
	c->idle_ev = evtimer_new(d->base, on_idle, c);
	c->next = d->conns;
	if (d->conns)
		d->conns->prev = c;
	d->conns = c;
	d->nr_conns++;
	d->nr_connections++;
	if ((fd >= 0 && (!c->read_ev || !c->write_ev)) || !c->resume_ev || !c->stall_ev ||
	    !c->idle_ev) {
		conn_close(c);
		return NULL;
	}
	return c;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct daemon *d = arg;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct conn *c;

	(void)l;
	(void)sa;
	(void)socklen;
	d->accept_failing = false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		vmd_log(VM_LOG_WARNING, "SO_PEERCRED failed, refusing connection: %s", strerror(errno));
		close(fd);
		return;
	}
	/* The listener stays enabled at the limit, so a client over it hears
	 * why at once instead of waiting in the backlog. */
	if (d->nr_conns >= d->opt.max_clients) {
		vmd_log(VM_LOG_WARNING, "refusing uid %u pid %d: %u clients already", cred.uid, cred.pid,
			d->nr_conns);
		reject(fd);
		return;
	}
	c = conn_new(d, fd, cred.uid, (uint32_t)cred.pid);
	if (!c) {
		vmd_log(VM_LOG_ERR, "out of memory accepting a connection from uid %u pid %d",
			cred.uid, cred.pid);
		return;
	}
	apply_idle_timeout(c);
	if (event_add(c->read_ev, NULL) < 0) {
		vmd_log(VM_LOG_ERR, "out of memory accepting a connection from uid %u pid %d",
			cred.uid, cred.pid);
		conn_close(c);
		return;
	}
	vmd_log(VM_LOG_DEBUG, "connection %llu from uid %u pid %u", (unsigned long long)c->id, c->uid,
		c->pid);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (d->listener)
		listener_resume(d);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct daemon *d = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, ACCEPT_RETRY_MS * 1000 };

	/* Out of descriptors or memory: the pending connection stays in the
	 * backlog and the listener stays readable, so retrying at once would
	 * spin.  Pause accepting for a moment (a closing connection resumes it
	 * sooner), and say so once per episode. */
	if (!d->accept_failing)
		vmd_log(VM_LOG_WARNING, "accept failed: %s; retrying every %d ms", strerror(err),
			ACCEPT_RETRY_MS);
	d->accept_failing = true;
	evconnlistener_disable(l);
	if (evtimer_add(d->accept_retry_ev, &tv) < 0) {
		vmd_log(VM_LOG_ERR, "cannot arm the accept retry timer; accepting at once");
		evconnlistener_enable(l);
	}
}

/* ---- the listening socket ----------------------------------------------------------- */

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

static int bind_socket(struct daemon *d, evutil_socket_t *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[sizeof(sa.sun_path)];
	int fd, r;

	if (d->opt.socket_path)
		r = snprintf(path, sizeof(path), "%s", d->opt.socket_path) >= (int)sizeof(path) ?
			-ENAMETOOLONG : 0;
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
	if (chmod(path, d->opt.socket_mode) < 0)
		vmd_log(VM_LOG_WARNING, "chmod %s: %s, ignoring", path, strerror(errno));
	if (listen(fd, SOMAXCONN) < 0)
		goto fail;
	d->bound_path = strdup(path);
	if (!d->bound_path) {
		/* Without the path we could not unlink the socket at exit. */
		unlink(path);
		close(fd);
		vmd_log(VM_LOG_ERR, "cannot listen on %s: out of memory", path);
		return -ENOMEM;
	}
	*ret_fd = fd;
	vmd_log(VM_LOG_INFO, "listening on %s", path);
	return 0;
fail:
	r = -errno;
	vmd_log(VM_LOG_ERR, "cannot listen on %s: %s", path, strerror(errno));
	close(fd);
	return r;
}

int daemon_listen(struct daemon *d)
{
	evutil_socket_t fd = -1;
	int n = sd_listen_fds(1), r;

	if (n > 1) {
		vmd_log(VM_LOG_ERR, "systemd passed %d sockets, expected one", n);
		return -EINVAL;
	}
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			vmd_log(VM_LOG_ERR, "the inherited socket is not a listening UNIX stream socket");
			return -EINVAL;
		}
		/* Activated sockets arrive blocking; the loop needs otherwise. */
		if (evutil_make_socket_nonblocking(fd) < 0 || evutil_make_socket_closeonexec(fd) < 0)
			return -errno;
		vmd_log(VM_LOG_INFO, "using the socket passed by systemd");
	} else {
		r = bind_socket(d, &fd);
		if (r < 0)
			return r;
	}
	/* Created disabled and enabled by hand: evconnlistener_new() would
	 * ignore a failure to enable, leaving a daemon that never accepts. */
	d->listener = evconnlistener_new(d->base, on_accept, d,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED,
					 -1, fd);
	if (!d->listener) {
		close(fd);
		vmd_log(VM_LOG_ERR, "cannot listen: out of memory");
		return -ENOMEM;
	}
	evconnlistener_set_error_cb(d->listener, on_accept_error);
	if (evconnlistener_enable(d->listener) < 0) {
		vmd_log(VM_LOG_ERR, "cannot listen: out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* ---- signals, watchdog, status ------------------------------------------------------------- */

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	vmd_log(VM_LOG_INFO, "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	notify_stopping();
	event_base_loopbreak(d->base);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	int r;

	(void)sig;
	(void)what;
	notify_reloading();
	r = options_reload(&d->opt, d->argc, d->argv);
	if (r < 0) {
		vmd_log(VM_LOG_ERR, "reload failed, keeping the old configuration");
	} else {
		log_set_level(d->opt.log_level);
		for (struct conn *c = d->conns; c; c = c->next)
			apply_idle_timeout(c);
		vmd_log(VM_LOG_INFO, "configuration reloaded");
	}
	notify_ready(d);
}

static void on_ignore(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify_watchdog();
}

static void on_status(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	/* Delayed work (kvfree_rcu's batch: KFREE_DRAIN_JIFFIES, 5 s) runs
	 * once it has waited that long, counted on this one-second tick. */
	if (!vm_work_delayed(d->engine))
		d->delayed_ticks = 0;
	else if (++d->delayed_ticks >= 5) {
		vm_run_deferred_work(d->engine);
		d->delayed_ticks = 0;
	}
	notify_status(d);
}

int daemon_loop_init(struct daemon *d)
{
	struct timeval tv;

	d->base = event_base_new();
	d->rbuf_cap = RBUF_SIZE;
	d->rbuf = malloc(d->rbuf_cap);
	if (!d->base || !d->rbuf)
		return -ENOMEM;
	d->sig_term = evsignal_new(d->base, SIGTERM, on_stop_signal, d);
	d->sig_int = evsignal_new(d->base, SIGINT, on_stop_signal, d);
	d->sig_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	d->sig_pipe = evsignal_new(d->base, SIGPIPE, on_ignore, d);
	d->status_ev = event_new(d->base, -1, EV_PERSIST, on_status, d);
	d->accept_retry_ev = evtimer_new(d->base, on_accept_retry, d);
	if (!d->sig_term || !d->sig_int || !d->sig_hup || !d->sig_pipe || !d->status_ev ||
	    !d->accept_retry_ev)
		return -ENOMEM;
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	/* A signal left to its default action would kill us uncleanly. */
	if (evsignal_add(d->sig_term, NULL) < 0 || evsignal_add(d->sig_int, NULL) < 0 ||
	    evsignal_add(d->sig_hup, NULL) < 0 || evsignal_add(d->sig_pipe, NULL) < 0 ||
	    event_add(d->status_ev, &tv) < 0)
		return -ENOMEM;

	d->watchdog_usec = notify_watchdog_usec();
	if (d->watchdog_usec) {
		/* Ping at half the interval, as sd_watchdog_enabled(3) advises. */
		d->watchdog_ev = event_new(d->base, -1, EV_PERSIST, on_watchdog, d);
		if (!d->watchdog_ev)
			return -ENOMEM;
		tv.tv_sec = (time_t)(d->watchdog_usec / 2 / 1000000);
		tv.tv_usec = (suseconds_t)(d->watchdog_usec / 2 % 1000000);
		if (event_add(d->watchdog_ev, &tv) < 0)
			return -ENOMEM;
		notify_watchdog();
	}
	return 0;
}

void daemon_loop_done(struct daemon *d)
{
	while (d->conns)
		conn_close(d->conns);
	if (d->listener)
		evconnlistener_free(d->listener);
	d->listener = NULL;
	if (d->bound_path) {
		unlink(d->bound_path);
		free(d->bound_path);
		d->bound_path = NULL;
	}
	if (d->sig_term)
		event_free(d->sig_term);
	if (d->sig_int)
		event_free(d->sig_int);
	if (d->sig_hup)
		event_free(d->sig_hup);
	if (d->sig_pipe)
		event_free(d->sig_pipe);
	if (d->watchdog_ev)
		event_free(d->watchdog_ev);
	if (d->status_ev)
		event_free(d->status_ev);
	if (d->accept_retry_ev)
		event_free(d->accept_retry_ev);
	if (d->base)
		event_base_free(d->base);
	d->base = NULL;
	free(d->rbuf);
	d->rbuf = NULL;
}

/*
 * The loop.  With busy_poll set, a turn that served requests is followed by
 * polling without sleeping for that long (renewed by every request served),
 * so the next request of a chatty client is picked up without the wake-up
 * latency of an idle CPU; an idle daemon sleeps as usual.
 */
int daemon_run(struct daemon *d)
{
	while (!event_base_got_break(d->base) && !event_base_got_exit(d->base)) {
		uint64_t seen = d->nr_requests, until;

		if (event_base_loop(d->base, EVLOOP_ONCE) < 0)
			return -EIO;
		if (!d->opt.busy_poll_us || d->nr_requests == seen)
			continue;
		until = now_usec() + d->opt.busy_poll_us;
		while (now_usec() < until && !event_base_got_break(d->base)) {
			seen = d->nr_requests;
			if (event_base_loop(d->base, EVLOOP_NONBLOCK) < 0)
				return -EIO;
			if (d->nr_requests != seen)
				until = now_usec() + d->opt.busy_poll_us;
		}
	}
	return 0;
}
