/* conn.c -- libvmclient's transport: connecting, framing, and the pump that
 * pipelines requests and replies over one UNIX stream socket.
 *
 * The socket stays in blocking mode; each send or recv that must not block
 * says MSG_DONTWAIT, and every send says MSG_NOSIGNAL so a dead daemon is
 * -EPIPE rather than SIGPIPE.  While requests are left to send, the pump
 * polls for both directions and drains replies as it writes, so a long
 * pipeline cannot deadlock with both socket buffers full.  With nothing left
 * to send and no timeout set it simply blocks in recv: the common round trip
 * costs one send and one recv.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fastdecode.h"
#include "fastencode.h"
#include "socketpath.h"
#include "vmclient-internal.h"

#define RBUF_MIN     (64u << 10)      /* first receive buffer */
#define BUF_KEEP     (4u << 20)       /* bigger buffers are freed after the call */
#define ARENA_LIMIT  VMD_MAX_REPLY    /* largest single unpack allocation */
#define WRITE_OVERHEAD 48u            /* frame bytes of a (phys) write besides its data */

#ifndef VMC_VERSION
#define VMC_VERSION "0"
#endif

/* ---------------------------------------------------------------------------
 * Messages
 */

void vmci_set_msg(struct vmc_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	c->msg_kept = true;
}

/* The daemon's text, with control characters made harmless for a terminal. */
static void set_daemon_msg(struct vmc_client *c, const char *s)
{
	size_t i;

	for (i = 0; s && s[i] && i < sizeof(c->msg) - 1; i++) {
		unsigned char ch = (unsigned char)s[i];

		c->msg[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	c->msg[i] = '\0';
}

int vmci_reply_status(struct vmc_client *c, const Vmallocd__V1__Reply *rep,
		      Vmallocd__V1__Reply__ResultCase want, int *ret_status)
{
	if (rep->status > 0 || rep->status < -4095) {
		vmci_set_msg(c, "reply status %" PRId32 " is neither 0 nor a negative errno",
			     rep->status);
		return -EPROTO;
	}
	if (rep->status < 0) {
		/* A pipelined call reports its first failure: keep its text. */
		if (!c->msg_kept)
			set_daemon_msg(c, rep->message);
		c->msg_kept = true;
		*ret_status = rep->status;
		return 0;
	}
	if (want != VMALLOCD__V1__REPLY__RESULT__NOT_SET && rep->result_case != want) {
		vmci_set_msg(c, "reply carries result %d, expected %d",
			     (int)rep->result_case, (int)want);
		return -EPROTO;
	}
	*ret_status = 0;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Connecting
 */

VMC_EXPORT int vmc_default_socket(char *buf, size_t len)
{
	/* The daemon's rule (conventions/socketpath.c), plus: a user with no
	 * daemon of their own most likely means the system one (as a member
	 * of the vmalloc group). */
	return cv_socket_path(buf, len, true);
}

static int sock_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd;

	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		if (e == EISCONN)   /* an interrupted attempt completed after all */
			break;
		close(fd);
		return -e;
	}
	*ret_fd = fd;
	return 0;
}

static int wbuf_flush(struct vmc_client *c);
static int rbuf_fill(struct vmc_client *c, size_t need, bool block);
static bool is_conn_error(const Vmallocd__V1__Reply *rep);

/* The daemon closed the connection as we wrote (err): if it said why first
 * (an id-0 error reply such as "too many clients"), return that instead. */
static int closed_reason(struct vmc_client *c, int err)
{
	Vmallocd__V1__Reply *rep;
	uint32_t len;

	if (rbuf_fill(c, RBUF_MIN, false) < 0 || c->rlen - c->rpos < VMD_FRAME_HDR ||
	    vmd_frame_parse_hdr(c->rbuf + c->rpos, VMD_MAX_FRAME, &len) < 0 ||
	    c->rlen - c->rpos - VMD_FRAME_HDR < len)
		return err;
	rep = vmallocd__v1__reply__unpack(&c->arena.pb, len, c->rbuf + c->rpos + VMD_FRAME_HDR);
	if (rep && is_conn_error(rep)) {
		set_daemon_msg(c, rep->message);
		err = rep->status;
	}
	vmd_arena_reset(&c->arena);
	return err;
}

/* Queue the Hello that opens every connection and push it out; its reply is
 * taken by the pump ahead of the first call's. */
static int send_hello(struct vmc_client *c)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__HelloRequest h = VMALLOCD__V1__HELLO_REQUEST__INIT;
	int r;

	h.version = VMC_PROTO_VERSION;
	h.client = (char *)"libvmclient " VMC_VERSION;
	req.id = c->next_id++;
	req.op_case = VMALLOCD__V1__REQUEST__OP_HELLO;
	req.hello = &h;
	r = vmci_pack(c, &req);
	if (r < 0)
		return r;
	c->hello_pending = true;
	c->hello_id = req.id;
	r = wbuf_flush(c);
	if (r == -EAGAIN)
		return 0;
	return r < 0 ? closed_reason(c, r) : 0;
}

VMC_EXPORT int vmc_connect(const char *socket_path, struct vmc_client **out)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct vmc_client *c;
	int r;

	if (!out)
		return -EINVAL;
	if (!socket_path) {
		r = vmc_default_socket(path, sizeof(path));
		if (r < 0)
			return r;
		socket_path = path;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->next_id = 1;
	c->max_io = VMC_MAX_IO;
	c->max_frame = VMD_MAX_FRAME;
	vmd_arena_init(&c->arena, ARENA_LIMIT);
	snprintf(c->path, sizeof(c->path), "%s", socket_path);
	r = sock_connect(socket_path, &c->fd);
	if (r < 0)
		goto fail;
	r = send_hello(c);
	if (r < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	vmc_close(c);
	return r;
}

VMC_EXPORT void vmc_close(struct vmc_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->wbuf);
	free(c->rbuf);
	vmd_arena_done(&c->arena);
	free(c->caller);
	vmci_caller_free(c);
	free(c);
}

int vmci_reconnect(struct vmc_client *c)
{
	struct vmc_identity before = c->id;
	struct timespec pause = { 0, 50 * 1000000L };
	int r;

	vmci_disconnect(c);
	/* A daemon that binds its own socket takes a moment to come back;
	 * systemd's socket is there all along. */
	for (int i = 0; i < 100; i++) {
		r = sock_connect(c->path, &c->fd);
		if (r != -ENOENT && r != -ECONNREFUSED)
			break;
		nanosleep(&pause, NULL);
	}
	if (r < 0)
		return r;
	if ((r = send_hello(c)) < 0 || (r = vmci_settle(c)) < 0)
		return r;
	c->nr_reconnects++;
	if (before.state_generation && c->id.state_generation != before.state_generation) {
		snprintf(c->msg, sizeof(c->msg), "the connection dropped and the daemon now serves "
			 "another machine (state generation %016llx, was %016llx): addresses from "
			 "before mean nothing there", (unsigned long long)c->id.state_generation,
			 (unsigned long long)before.state_generation);
		c->msg_kept = true;
		return -ESTALE;
	}
	return 0;
}

void vmci_disconnect(struct vmc_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->wpos = c->wlen = 0;
	c->rpos = c->rlen = 0;
	c->hello_pending = false;
	vmd_arena_reset(&c->arena);
}

VMC_EXPORT void vmc_set_timeout(struct vmc_client *c, int ms)
{
	if (c)
		c->timeout_ms = ms > 0 ? ms : 0;
}

/* ---------------------------------------------------------------------------
 * Buffers
 */

/* Room for need more bytes after wlen, moving unsent bytes down first. */
static int wbuf_reserve(struct vmc_client *c, size_t need)
{
	size_t cap;
	uint8_t *nb;

	if (c->wpos == c->wlen)
		c->wpos = c->wlen = 0;
	if (c->wcap - c->wlen >= need)
		return 0;
	if (c->wpos) {
		memmove(c->wbuf, c->wbuf + c->wpos, c->wlen - c->wpos);
		c->wlen -= c->wpos;
		c->wpos = 0;
		if (c->wcap - c->wlen >= need)
			return 0;
	}
	cap = c->wcap ? c->wcap : 4096;
	while (cap - c->wlen < need) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	nb = realloc(c->wbuf, cap);
	if (!nb)
		return -ENOMEM;
	c->wbuf = nb;
	c->wcap = cap;
	return 0;
}

int vmci_pack(struct vmc_client *c, const Vmallocd__V1__Request *req)
{
	size_t len;
	int r;

	/* Allocations and frees, the calls a pipeline is made of, without
	 * protobuf-c's generic packer (the same bytes). */
	if (c->max_frame >= VMD_FAST_REQUEST_MAX &&
	    wbuf_reserve(c, VMD_FRAME_HDR + VMD_FAST_REQUEST_MAX) == 0 &&
	    (len = vmd_fast_pack_request(c->wbuf + c->wlen + VMD_FRAME_HDR, req)) != 0) {
		vmd_put_n32(c->wbuf + c->wlen, (uint32_t)len);
		c->wlen += VMD_FRAME_HDR + len;
		return 0;
	}
	len = vmallocd__v1__request__get_packed_size(req);
	if (len > c->max_frame)
		return -EMSGSIZE;
	r = wbuf_reserve(c, VMD_FRAME_HDR + len);
	if (r < 0)
		return r;
	vmd_put_n32(c->wbuf + c->wlen, (uint32_t)len);
	vmallocd__v1__request__pack(req, c->wbuf + c->wlen + VMD_FRAME_HDR);
	c->wlen += VMD_FRAME_HDR + len;
	return 0;
}

/* Send what the socket takes without blocking: 0 once the buffer is empty,
 * -EAGAIN if the socket is full first, else the transport error. */
static int wbuf_flush(struct vmc_client *c)
{
	while (c->wpos < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->wpos, c->wlen - c->wpos,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS is transient too: try again when writable. */
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
				return -EAGAIN;
			return -errno;
		}
		c->wpos += (size_t)n;
	}
	c->wpos = c->wlen = 0;
	return 0;
}

int vmci_flush(struct vmc_client *c)
{
	int r;

	if (c->fd < 0) {
		vmci_set_msg(c, "not connected: an earlier error closed the connection");
		return -ENOTCONN;
	}
	r = wbuf_flush(c);
	if (r < 0 && r != -EAGAIN) {
		vmci_disconnect(c);
		vmci_set_msg(c, "%s", vmc_strerror(r));
	}
	return r;
}

/* Make room for a frame of need bytes (header included) starting at rpos. */
static int rbuf_reserve(struct vmc_client *c, size_t need)
{
	size_t have, cap;
	uint8_t *nb;

	if (c->rpos == c->rlen)
		c->rpos = c->rlen = 0;
	if (c->rcap - c->rpos >= need && c->rlen < c->rcap)
		return 0;
	have = c->rlen - c->rpos;
	if (c->rpos) {
		memmove(c->rbuf, c->rbuf + c->rpos, have);
		c->rpos = 0;
		c->rlen = have;
	}
	if (c->rcap >= need && c->rlen < c->rcap)
		return 0;
	cap = c->rcap ? c->rcap : RBUF_MIN;
	while (cap < need || cap <= c->rlen)
		cap *= 2;
	nb = realloc(c->rbuf, cap);
	if (!nb)
		return -ENOMEM;
	c->rbuf = nb;
	c->rcap = cap;
	return 0;
}

/* Receive what is there (or, with block, wait for something): 0 when bytes
 * arrived, -EAGAIN if none were ready, -ECONNRESET at end of stream. */
static int rbuf_fill(struct vmc_client *c, size_t need, bool block)
{
	int r = rbuf_reserve(c, need);

	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen,
				 block ? 0 : MSG_DONTWAIT);

		if (n > 0) {
			c->rlen += (size_t)n;
			return 0;
		}
		if (n == 0) {
			vmci_set_msg(c, "connection closed by the daemon");
			return -ECONNRESET;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		return -errno;
	}
}

/* ---------------------------------------------------------------------------
 * The pump
 */

static void deadline_set(const struct vmc_client *c, struct timespec *d)
{
	if (c->timeout_ms <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, d);
	d->tv_sec += c->timeout_ms / 1000;
	d->tv_nsec += (long)(c->timeout_ms % 1000) * 1000000L;
	if (d->tv_nsec >= 1000000000L) {
		d->tv_sec++;
		d->tv_nsec -= 1000000000L;
	}
}

/* Milliseconds left before d (rounded up), -1 without a timeout. */
static int deadline_left(const struct vmc_client *c, const struct timespec *d)
{
	struct timespec now;
	int64_t ms;

	if (c->timeout_ms <= 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = ((int64_t)d->tv_sec - now.tv_sec) * 1000 +
	     (d->tv_nsec - now.tv_nsec + 999999L) / 1000000L;
	return ms < 0 ? 0 : (int)ms;
}

/* Wait until the socket is readable (then read) or, with want_out,
 * writable (then return for the caller to flush). */
static int wait_io(struct vmc_client *c, bool want_out, size_t need, const struct timespec *d)
{
	if (!want_out && c->timeout_ms <= 0)
		return rbuf_fill(c, need, true);
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int k, r;

		if (want_out)
			p.events |= POLLOUT;
		k = poll(&p, 1, deadline_left(c, d));
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0) {
			vmci_set_msg(c, "no reply within %d ms", c->timeout_ms);
			return -ETIMEDOUT;
		}
		if (p.revents & POLLNVAL)
			return -EBADF;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = rbuf_fill(c, need, false);
			if (r != -EAGAIN)
				return r;
		}
		if (p.revents & POLLOUT)
			return 0;
	}
}

static void store_hello(struct vmc_client *c, const Vmallocd__V1__HelloReply *h)
{
	c->hello.version = h->version;
	snprintf(c->hello.server, sizeof(c->hello.server), "%s", h->server ? h->server : "");
	c->hello.max_frame = h->max_frame;
	c->hello.max_io = h->max_io;
	c->hello.uid = h->uid;
	c->hello.pid = h->pid;
	snprintf(c->hello.kernel, sizeof(c->hello.kernel), "%s", h->kernel ? h->kernel : "");
	c->hello.nr_cpus = h->cpus;
	c->id = (struct vmc_identity){ h->boot_id, h->state_generation };
	if (h->test_vmalloc)
		c->tv = (struct vmc_test_vmalloc){ h->test_vmalloc->cases, h->test_vmalloc->default_mask,
						   h->test_vmalloc->xfail,
						   h->test_vmalloc->summary_xfailed };
	/* A daemon may accept less than the protocol's limits, never more. */
	if (h->max_io && h->max_io < c->max_io)
		c->max_io = h->max_io;
	if (h->max_frame && h->max_frame < c->max_frame)
		c->max_frame = h->max_frame;
}

/* The reply to the Hello sent by vmc_connect.  Any failure is fatal. */
static int take_connect_hello(struct vmc_client *c, const Vmallocd__V1__Reply *rep)
{
	int r, st;

	if (rep->id != c->hello_id) {
		vmci_set_msg(c, "reply id %" PRIu64 ", expected %" PRIu64 " (Hello)",
			     rep->id, c->hello_id);
		return -EPROTO;
	}
	r = vmci_reply_status(c, rep, VMALLOCD__V1__REPLY__RESULT_HELLO, &st);
	if (r < 0 || st < 0)
		return r < 0 ? r : st;
	if (rep->hello->version != VMC_PROTO_VERSION) {
		vmci_set_msg(c, "the daemon answered with protocol version %" PRIu32
			     "; this libvmclient speaks %d", rep->hello->version, VMC_PROTO_VERSION);
		return -EPROTONOSUPPORT;
	}
	store_hello(c, rep->hello);
	c->hello_pending = false;
	return 0;
}

/* A reply with id 0 and an error status that is not the one expected: the
 * daemon's verdict on the connection itself (too many clients, a frame it
 * could not take), sent before it closes. */
static bool is_conn_error(const Vmallocd__V1__Reply *rep)
{
	return rep->id == 0 && rep->status < 0 && rep->status >= -4095;
}

/* Hand every complete reply in rbuf to x until n are done (and the Hello
 * of vmc_connect, if still pending).  *need gets the size of the frame
 * still incomplete; *progress is set if a reply of x was handled. */
static int take_replies(struct vmci_xfer *x, uint64_t base, size_t n, size_t *nd,
			size_t *need, bool *progress)
{
	struct vmc_client *c = x->c;

	while (*nd < n || c->hello_pending) {
		size_t have = c->rlen - c->rpos;
		Vmallocd__V1__Reply *rep, fast_rep = VMALLOCD__V1__REPLY__INIT;
		Vmallocd__V1__AllocReply fast_alloc = VMALLOCD__V1__ALLOC_REPLY__INIT;
		Vmallocd__V1__AllocPagesReply fast_pages = VMALLOCD__V1__ALLOC_PAGES_REPLY__INIT;
		struct vmd_fast_reply fast;
		uint32_t len;
		int r;

		if (have < VMD_FRAME_HDR) {
			*need = VMD_FRAME_HDR;
			return 0;
		}
		if (vmd_frame_parse_hdr(c->rbuf + c->rpos, VMD_MAX_REPLY, &len) < 0) {
			vmci_set_msg(c, "reply frame of %" PRIu32 " bytes is over the limit (%u)",
				     vmd_get_n32(c->rbuf + c->rpos), VMD_MAX_REPLY);
			return -EPROTO;
		}
		if (have - VMD_FRAME_HDR < len) {
			*need = VMD_FRAME_HDR + (size_t)len;
			return 0;
		}
		/* The plainest replies without protobuf-c's generic unpacker
		 * (the same result), the rest with it. */
		if (vmd_fast_decode_reply(c->rbuf + c->rpos + VMD_FRAME_HDR, len, &fast)) {
			fast_rep.id = fast.id;
			fast_rep.status = fast.status;
			fast_rep.result_case = fast.result;
			fast_rep.alloc = NULL;
			fast_rep.alloc_pages = NULL;
			if (fast.result == VMALLOCD__V1__REPLY__RESULT_ALLOC) {
				fast_alloc.addr = fast.value;
				fast_rep.alloc = &fast_alloc;
			} else if (fast.result == VMALLOCD__V1__REPLY__RESULT_ALLOC_PAGES) {
				fast_pages.pfn = fast.value;
				fast_rep.alloc_pages = &fast_pages;
			}
			rep = &fast_rep;
		} else {
			rep = vmallocd__v1__reply__unpack(&c->arena.pb, len,
							  c->rbuf + c->rpos + VMD_FRAME_HDR);
		}
		c->rpos += VMD_FRAME_HDR + (size_t)len;
		if (!rep) {
			vmci_set_msg(c, "a reply of %" PRIu32 " bytes does not parse", len);
			r = -EPROTO;
		} else if (is_conn_error(rep) &&
			   rep->id != (c->hello_pending ? c->hello_id : base + *nd)) {
			set_daemon_msg(c, rep->message);
			r = rep->status;
		} else if (c->hello_pending) {
			r = take_connect_hello(c, rep);
		} else if (rep->id != base + *nd) {
			vmci_set_msg(c, "reply id %" PRIu64 ", expected %" PRIu64,
				     rep->id, base + *nd);
			r = -EPROTO;
		} else {
			r = x->done(x, *nd, rep);
			if (r == 0) {
				(*nd)++;
				*progress = true;
			}
		}
		vmd_arena_reset(&c->arena);
		if (r < 0)
			return r;
	}
	return 0;
}

/* After a call that needed big buffers, give them back. */
static void release_big(struct vmc_client *c)
{
	if (c->wcap > BUF_KEEP && c->wpos == c->wlen) {
		free(c->wbuf);
		c->wbuf = NULL;
		c->wcap = c->wpos = c->wlen = 0;
	}
	if (c->rcap > BUF_KEEP && c->rpos == c->rlen) {
		free(c->rbuf);
		c->rbuf = NULL;
		c->rcap = c->rpos = c->rlen = 0;
	}
	if (c->arena.cap > BUF_KEEP)
		vmd_arena_done(&c->arena);   /* stays usable: the next use regrows it */
}

static int build_and_pack(struct vmci_xfer *x, size_t i, uint64_t id)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	union vmci_sub sub;
	int r;

	r = x->build(x, i, &req, &sub);
	if (r < 0)
		return r;
	req.id = id;
	return vmci_pack(x->c, &req);
}

int vmci_xfer_run(struct vmci_xfer *x, size_t *ret_done)
{
	struct vmc_client *c = x->c;
	size_t n = x->n, nb = 0, nd = 0, need = VMD_FRAME_HDR;
	struct timespec deadline = { 0, 0 };
	int r = 0, berr = 0, werr = 0;
	uint64_t base;

	if (ret_done)
		*ret_done = 0;
	if (c->fd < 0) {
		vmci_set_msg(c, "not connected: an earlier error closed the connection");
		return -ENOTCONN;
	}
	if (n == 0 && !c->hello_pending)
		return 0;
	base = c->next_id;
	c->msg_kept = false;
	deadline_set(c, &deadline);
	for (;;) {
		bool progress = false, want_out;

		/* Queue requests, up to the window ahead of the socket. */
		while (nb < n && !werr && (!x->window || c->wlen - c->wpos < x->window)) {
			r = build_and_pack(x, nb, base + nb);
			if (r < 0) {
				/* Finish what was sent; report the error after. */
				berr = r;
				n = nb;
				break;
			}
			nb++;
		}
		r = take_replies(x, base, n, &nd, &need, &progress);
		if (r < 0)
			goto fail;
		if (nd == n && !c->hello_pending)
			break;
		if (progress)
			deadline_set(c, &deadline);
		if (werr && nd == nb) {
			r = werr;
			goto fail;
		}
		if (c->wpos < c->wlen && !werr) {
			r = wbuf_flush(c);
			if (r == 0 && nb < n)
				continue;   /* all out: room for more requests */
			if (r < 0 && r != -EAGAIN) {
				/* Stop writing, but read on: the daemon may have
				 * said why it closed before it did. */
				werr = r;
				c->wpos = c->wlen = 0;
			}
		}
		want_out = c->wpos < c->wlen && !werr;
		r = wait_io(c, want_out, need, &deadline);
		if (r < 0 && r != -EAGAIN) {
			if (werr && r == -ECONNRESET)
				r = werr;
			goto fail;
		}
	}
	c->next_id = base + nb;
	release_big(c);
	if (ret_done)
		*ret_done = nd;
	if (berr && !c->msg_kept)
		vmci_set_msg(c, "%s", vmc_strerror(berr));
	return berr;
fail:
	vmci_disconnect(c);
	if (!c->msg_kept)
		vmci_set_msg(c, "%s", vmc_strerror(r));
	if (ret_done)
		*ret_done = nd;
	return r;
}

int vmci_xfer_pump(struct vmci_xfer *x, uint64_t base, size_t n, size_t min, size_t *nd)
{
	struct vmc_client *c = x->c;
	struct timespec deadline = { 0, 0 };
	size_t need = VMD_FRAME_HDR;
	bool tried_read = false;
	int r;

	if (c->fd < 0) {
		vmci_set_msg(c, "not connected: an earlier error closed the connection");
		return -ENOTCONN;
	}
	if (min > n)
		min = n;
	c->msg_kept = false;
	deadline_set(c, &deadline);
	for (;;) {
		bool progress = false;

		if (c->wpos < c->wlen) {
			r = wbuf_flush(c);
			if (r < 0 && r != -EAGAIN)
				goto fail;
		}
		r = take_replies(x, base, n, nd, &need, &progress);
		if (r < 0)
			goto fail;
		if (*nd >= min && (min || tried_read))
			return 0;
		if (!min) {
			/* Only what has arrived: one read that does not wait. */
			tried_read = true;
			r = rbuf_fill(c, need, false);
			if (r == -EAGAIN)
				return 0;
			if (r < 0)
				goto fail;
			continue;
		}
		if (progress)
			deadline_set(c, &deadline);
		r = wait_io(c, c->wpos < c->wlen, need, &deadline);
		if (r < 0 && r != -EAGAIN)
			goto fail;
	}
fail:
	vmci_disconnect(c);
	if (!c->msg_kept)
		vmci_set_msg(c, "%s", vmc_strerror(r));
	return r;
}

/* ---------------------------------------------------------------------------
 * Hello
 */

struct hello_ctx {
	struct vmc_hello *out;
	int status;
};

static int hello_build(struct vmci_xfer *x, size_t i, Vmallocd__V1__Request *req,
		       union vmci_sub *sub)
{
	vmallocd__v1__hello_request__init(&sub->hello);
	sub->hello.version = VMC_PROTO_VERSION;
	sub->hello.client = (char *)"libvmclient " VMC_VERSION;
	req->op_case = VMALLOCD__V1__REQUEST__OP_HELLO;
	req->hello = &sub->hello;
	return 0;
}

static int hello_done(struct vmci_xfer *x, size_t i, const Vmallocd__V1__Reply *rep)
{
	struct hello_ctx *h = x->ctx;
	int r;

	r = vmci_reply_status(x->c, rep, VMALLOCD__V1__REPLY__RESULT_HELLO, &h->status);
	if (r < 0 || h->status < 0)
		return r;
	store_hello(x->c, rep->hello);
	if (h->out)
		*h->out = x->c->hello;
	return 0;
}

VMC_EXPORT int vmc_hello(struct vmc_client *c, struct vmc_hello *out)
{
	struct hello_ctx h = { out, 0 };
	struct vmci_xfer x = { .n = 1, .build = hello_build, .done = hello_done,
			       .c = c, .ctx = &h };
	int r;

	if (!c)
		return -EINVAL;
	r = vmci_xfer_run(&x, NULL);
	return r < 0 ? r : h.status;
}

int vmci_settle(struct vmc_client *c)
{
	struct vmci_xfer x = { .n = 0, .c = c };

	return vmci_xfer_run(&x, NULL);
}

uint32_t vmci_chunk(const struct vmc_client *c)
{
	uint32_t room = c->max_frame > WRITE_OVERHEAD + 16 ? c->max_frame - WRITE_OVERHEAD : 16;

	return room < c->max_io ? room : c->max_io;
}
