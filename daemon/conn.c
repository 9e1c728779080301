/* conn.c -- a client connection: accepting it with its peer's credentials,
 * its I/O, cutting its byte stream into frames, fairness between clients,
 * back pressure on slow readers, stall and idle timeouts, and closing.
 * What a frame means is dispatch.c's business; this file hands each whole
 * frame to dispatch_frame() with the facts of the moment and sends what it
 * queued.
 *
 * A connection is its socket and plain events, not a bufferevent: one
 * read() per readable event lands in the shared read buffer (cs->rbuf) and
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
 * pass's replies are sent (finish_pass -> dispatch_pass_done), or at the
 * engine's next call.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmallocd.h"

#define FRAME_BUDGET 64
#define RBUF_SIZE (256u << 10)  /* the most one read takes */
#define IN_MIN 4096             /* the least room a read into c->in asks for */
#define IN_KEEP (64u << 10)     /* emptied buffers up to this size are kept */
#define OUT_KEEP (64u << 10)

/* ---- closing ---------------------------------------------------------------- */

void conn_close(struct conn *c)
{
	struct clients *cs = c->cs;

	dispatch_session_end(cs->dp, &c->s);
	if (c->prev)
		c->prev->next = c->next;
	else
		cs->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	cs->nr--;
	cs->env.clients = cs->nr;
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
	close(c->fd);
	iobuf_free(&c->in);
	iobuf_free(&c->out);
	vmd_log(VM_LOG_DEBUG, "connection %llu (uid %u pid %u) closed",
		(unsigned long long)c->s.id, c->s.uid, c->s.pid);
	free(c);
	/* A descriptor came free: accept again now if we were backing off. */
	listener_fd_freed(cs->listener);
}

/* ---- timers -------------------------------------------------------------------- */

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

	if (!partial || !c->cs->opt->stall_timeout_ms) {
		if (evtimer_pending(c->stall_ev, NULL))
			evtimer_del(c->stall_ev);
		return;
	}
	if (evtimer_pending(c->stall_ev, NULL) && !progressed)
		return;
	tv = ms_to_tv(c->cs->opt->stall_timeout_ms);
	/* A stall nobody would time out is not allowed to hold the slot. */
	if (evtimer_add(c->stall_ev, &tv) < 0) {
		vmd_log(VM_LOG_ERR, "connection %llu: cannot arm the stall timer, closing",
			(unsigned long long)c->s.id);
		c->closing = true;
	}
}

/* The connection is done for but has replies to flush: give the peer the
 * stall timeout to take them, then close anyway. */
static void set_closing_timeout(struct conn *c)
{
	unsigned ms = c->cs->opt->stall_timeout_ms;
	struct timeval tv = ms_to_tv(ms ? ms : 10000);

	if (c->close_armed)
		return;
	if (evtimer_add(c->stall_ev, &tv) < 0)
		vmd_log(VM_LOG_ERR, "connection %llu: cannot arm the closing timer",
			(unsigned long long)c->s.id);
	c->close_armed = true;
}

/* Closing and refusing connections: a client can cause these at will. */
static struct ratelimit close_rs = { .name = "connections closed" };
static struct ratelimit refuse_rs = { .name = "connections refused" };

static void on_stall(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->closing)
		vmd_log_ratelimited(&close_rs, VM_LOG_INFO, "connection %llu (uid %u pid %u) took no replies for %u ms, closed",
			(unsigned long long)c->s.id, c->s.uid, c->s.pid, c->cs->opt->stall_timeout_ms);
	else
		vmd_log_ratelimited(&close_rs, VM_LOG_INFO, "connection %llu (uid %u pid %u) stalled in a frame for %u ms, closed",
			(unsigned long long)c->s.id, c->s.uid, c->s.pid, c->cs->opt->stall_timeout_ms);
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
			(unsigned long long)c->s.id);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	uint64_t limit = (uint64_t)c->cs->opt->idle_timeout_ms * 1000, now = now_usec();

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
	vmd_log_ratelimited(&close_rs, VM_LOG_INFO, "connection %llu (uid %u pid %u) idle, closed",
		(unsigned long long)c->s.id, c->s.uid, c->s.pid);
	conn_close(c);
}

static void apply_idle_timeout(struct conn *c)
{
	evtimer_del(c->idle_ev);
	if (c->cs->opt->idle_timeout_ms)
		arm_idle(c, (uint64_t)c->cs->opt->idle_timeout_ms * 1000);
}

void clients_apply_timeouts(struct clients *cs)
{
	for (struct conn *c = cs->head; c; c = c->next)
		apply_idle_timeout(c);
}

/* ---- output ------------------------------------------------------------------------ */

static void stop_reading(struct conn *c)
{
	if (c->read_ev)
		event_del(c->read_ev);
}

static void pause_if_backlogged(struct conn *c, uint64_t output_limit)
{
	if (!c->read_paused && c->out.len > output_limit) {
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
	vmd_log(VM_LOG_DEBUG, "connection %llu: %s", (unsigned long long)c->s.id, strerror(errno));
	return true;
}

/* Write the replies gathered in this pass at once, straight from the read
 * path: EV_WRITE is added only for what the socket does not take, so a
 * client that keeps up costs no epoll_ctl and no extra loop turn.  False if
 * the peer is gone or the rest could never be written: close c. */
static bool flush_output(struct conn *c)
{
	ssize_t n;

	if (!c->out.len || c->writing)
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
			(unsigned long long)c->s.id);
		return false;
	}
	c->writing = true;
	return true;
}

/* ---- input --------------------------------------------------------------------------- */

/* Handle the whole frames at the front of p[0..len), at most FRAME_BUDGET
 * of them; returns the bytes handled.  *more: whole frames are left for
 * the next turn. */
static size_t handle_frames(struct conn *c, const uint8_t *p, size_t len, uint64_t now,
			    bool *more)
{
	struct clients *cs = c->cs;
	struct dispatch *dp = cs->dp;
	const struct dispatch_env *env = &cs->env;
	/* The limits stay put during a pass (a reload runs between events). */
	uint32_t max_frame = cs->opt->max_frame;
	uint64_t output_limit = cs->opt->output_limit;
	unsigned budget = FRAME_BUDGET;
	size_t off = 0;

	*more = false;
	cs->env.now_usec = now;
	dispatch_pass_begin(dp);
	while (!c->closing && !c->read_paused && len - off >= VMD_FRAME_HDR) {
		uint32_t n;

		if (vmd_frame_parse_hdr(p + off, max_frame, &n) < 0) {
			/* The stream cannot be resynchronised: reply, then close. */
			dispatch_error(dp, &c->out, -EMSGSIZE, "frame of %u bytes exceeds the limit of %u",
				       vmd_get_n32(p + off), max_frame);
			c->closing = true;
			break;
		}
		if (len - off - VMD_FRAME_HDR < n)
			break;
		if (!budget--) {
			*more = true;
			break;
		}
		if (dispatch_frame(dp, &c->s, env, p + off + VMD_FRAME_HDR, n, &c->out) < 0) {
			vmd_log(VM_LOG_ERR, "out of memory for a reply; closing connection %llu",
				(unsigned long long)c->s.id);
			c->closing = true;
		}
		off += VMD_FRAME_HDR + n;
		pause_if_backlogged(c, output_limit);
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
	dispatch_pass_done(c->cs->dp);
	session_trim(&c->s);
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
static void process_queued(struct conn *c, uint64_t now)
{
	size_t done;
	bool more;

	done = handle_frames(c, c->in.data + c->in.head, c->in.len, now, &more);
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

		if (n <= c->cs->opt->max_frame && VMD_FRAME_HDR + (size_t)n - c->in.len > want)
			want = VMD_FRAME_HDR + (size_t)n - c->in.len;
	}
	p = iobuf_reserve(&c->in, want);
	*room = p ? iobuf_room(&c->in) : 0;
	return p;
}

/*
 * Readable.  With nothing queued, the bytes land in the shared buffer and
 * the frames are handled from there; only a trailing partial frame (or
 * frames left for the next turn) is copied into c->in.  So an idle or
 * well-behaved connection keeps no input buffer, and one read system call
 * takes a whole pipeline.  With a partial frame queued, the read goes into
 * c->in behind it.  Whole frames still queued are handled before anything
 * more is read, which bounds c->in.
 */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct clients *cs = c->cs;
	bool shared = c->in.len == 0, more = false;
	size_t room, done = 0;
	uint8_t *p;
	ssize_t n;

	(void)what;
	if (whole_frame_queued(c)) {
		process_queued(c, now_usec());
		return;
	}
	if (shared) {
		p = cs->rbuf;
		room = cs->rbuf_cap;
	} else if (!(p = in_room(c, &room))) {
		dispatch_error(cs->dp, &c->out, -ENOMEM, "out of memory reading a frame");
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
		process_queued(c, c->last_read_usec);
		return;
	}
	done = handle_frames(c, p, (size_t)n, c->last_read_usec, &more);
	if (done < (size_t)n && !c->closing && iobuf_append(&c->in, p + done, (size_t)n - done) < 0) {
		dispatch_error(cs->dp, &c->out, -ENOMEM, "out of memory reading a frame");
		c->closing = true;
	}
	finish_pass(c, done > 0, more);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	process_queued(arg, now_usec());
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
	if (c->read_paused && !c->closing && c->out.len <= c->cs->opt->output_limit / 2) {
		c->read_paused = false;
		if (!c->eof && event_add(c->read_ev, NULL) < 0) {
			vmd_log(VM_LOG_ERR, "connection %llu: cannot resume reading, closing",
				(unsigned long long)c->s.id);
			conn_close(c);
			return;
		}
		process_queued(c, now_usec());
	}
}

/* ---- accepting ---------------------------------------------------------------------------- */

/* Over the client limit: a best-effort error reply, then close; never block
 * the loop on it. */
static void reject(int fd, const char *why)
{
	struct iobuf out = { 0 };

	if (reply_queue_error(&out, 0, -EUSERS, why) == 0)
		(void)!send(fd, out.data + out.head, out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	iobuf_free(&out);
	close(fd);
}

static unsigned uid_connections(const struct clients *cs, uint32_t uid)
{
	unsigned n = 0;

	for (const struct conn *c = cs->head; c; c = c->next)
		n += c->s.uid == uid;
	return n;
}

/* A connection on fd from uid/pid, linked into cs, events created and none
 * enabled; NULL if out of memory (fd is closed). */
static struct conn *conn_new(struct clients *cs, int fd, uint32_t uid, uint32_t pid)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return NULL;
	}
	c->cs = cs;
	c->fd = fd;
	c->last_read_usec = now_usec();
	session_init(&c->s, ++cs->next_id, uid, pid);
	c->read_ev = event_new(cs->base, fd, EV_READ | EV_PERSIST, on_readable, c);
	c->write_ev = event_new(cs->base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
	c->resume_ev = event_new(cs->base, -1, 0, on_resume, c);
	c->stall_ev = evtimer_new(cs->base, on_stall, c);
	c->idle_ev = evtimer_new(cs->base, on_idle, c);
	c->next = cs->head;
	if (cs->head)
		cs->head->prev = c;
	cs->head = c;
	cs->nr++;
	cs->nr_total++;
	cs->env.clients = cs->nr;
	cs->env.connections_total = cs->nr_total;
	if (!c->read_ev || !c->write_ev || !c->resume_ev || !c->stall_ev || !c->idle_ev) {
		conn_close(c);
		return NULL;
	}
	return c;
}

void clients_accept(void *ctx, int fd)
{
	struct clients *cs = ctx;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct conn *c;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		vmd_log(VM_LOG_WARNING, "SO_PEERCRED failed, refusing connection: %s", strerror(errno));
		close(fd);
		return;
	}
	/* The listener stays enabled at the limit, so a client over it hears
	 * why at once instead of waiting in the backlog. */
	if (cs->nr >= cs->opt->max_clients) {
		vmd_log_ratelimited(&refuse_rs, VM_LOG_WARNING, "refusing uid %u pid %d: %u clients already",
				    cred.uid, cred.pid, cs->nr);
		reject(fd, "too many clients");
		return;
	}
	/* The last sixteenth of the slots is root's, and no other uid takes
	 * more than its share: one user's silent connections lock nobody out. */
	if (cred.uid != 0 && cs->nr >= cs->opt->max_clients - cs->opt->max_clients / 16) {
		vmd_log_ratelimited(&refuse_rs, VM_LOG_WARNING, "refusing uid %u pid %d: %u clients "
				    "already, the rest kept for root", cred.uid, cred.pid, cs->nr);
		reject(fd, "too many clients (the remaining connections are kept for root)");
		return;
	}
	if (cred.uid != 0 && cs->opt->max_clients_uid &&
	    uid_connections(cs, cred.uid) >= cs->opt->max_clients_uid) {
		vmd_log_ratelimited(&refuse_rs, VM_LOG_WARNING, "refusing uid %u pid %d: it has %u "
				    "connections, max-clients-per-uid", cred.uid, cred.pid,
				    cs->opt->max_clients_uid);
		reject(fd, "too many connections of this user (max-clients-per-uid)");
		return;
	}
	c = conn_new(cs, fd, cred.uid, (uint32_t)cred.pid);
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
	vmd_log(VM_LOG_DEBUG, "connection %llu from uid %u pid %u", (unsigned long long)c->s.id,
		c->s.uid, c->s.pid);
}

/* ---- the set ---------------------------------------------------------------------------------- */

int clients_init(struct clients *cs, struct event_base *base, const struct options *opt,
		 struct dispatch *dp)
{
	memset(cs, 0, sizeof(*cs));
	cs->base = base;
	cs->opt = opt;
	cs->dp = dp;
	cs->rbuf_cap = RBUF_SIZE;
	cs->rbuf = malloc(cs->rbuf_cap);
	return cs->rbuf ? 0 : -ENOMEM;
}

void clients_done(struct clients *cs)
{
	while (cs->head)
		conn_close(cs->head);
	free(cs->rbuf);
	cs->rbuf = NULL;
}
