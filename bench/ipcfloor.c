/* ipcfloor.c -- the IPC floor under vmallocd: a server that speaks the same
 * framing over the same kind of socket (AF_UNIX stream, a 4-byte big-endian
 * length, then one protobuf Request) and answers every request with the
 * reply vmallocd would send for it, byte for byte the same size, without
 * doing anything else.  vmload driven against it measures what round trips
 * cost with no allocator behind them; against vmallocd, what they cost with
 * one (bench/run puts the two side by side).
 *
 *   ipcfloor --socket PATH [--busy-poll USEC]
 *
 * The loop is shaped like vmallocd's: one thread, epoll, every complete
 * frame of a read answered, the replies of a read written with one send().
 * --busy-poll has vmallocd's meaning: after a turn that served requests,
 * poll without sleeping for that long, renewed by each request served.
 *
 * A reply is id (field 1), then for an alloc request an AllocReply (field
 * 5) holding one vmalloc-range address (whose varint is 10 bytes long, as
 * every real one is); status 0 is not sent, as protobuf omits zero fields.
 * Runs until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fastdecode.h"
#include "fastencode.h"
#include "frame.h"
#include "vmalloc.pb-c.h"

#define FLOOR_ADDR 0xffffc90000001000ull
#define OP_ALLOC 3            /* Request.alloc's field number */
#define RBUF 65536

struct fconn {
	int fd;
	uint8_t rbuf[RBUF];
	size_t rlen;
	uint8_t *wbuf;
	size_t wlen, wcap;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The request's id and the field number of its op (0 if none). */
static bool scan_request(const uint8_t *p, size_t len, uint64_t *id, unsigned *op)
{
	const uint8_t *end = p + len;

	*id = 0;
	*op = 0;
	while (p < end) {
		uint64_t key, v;

		if (!vmd_get_varint(&p, end, &key))
			return false;
		switch (key & 7) {
		case 0:
			if (!vmd_get_varint(&p, end, &v))
				return false;
			if (key >> 3 == 1)
				*id = v;
			break;
		case 2:
			if (!vmd_get_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return false;
			p += v;
			*op = (unsigned)(key >> 3);
			break;
		default:
			return false;
		}
	}
	return true;
}

/* The reply vmallocd sends to a successful request of this op; returns its
 * frame length (header included).  p has room for 32 bytes. */
static size_t put_reply(uint8_t *p, uint64_t id, unsigned op)
{
	size_t n = VMD_FRAME_HDR;

	if (id) {
		p[n++] = 0x08;                    /* field 1, varint */
		n += vmd_put_varint(p + n, id);
	}
	if (op == OP_ALLOC) {
		uint8_t sub[16];
		size_t k = 0;

		sub[k++] = 0x08;                  /* AllocReply.addr */
		k += vmd_put_varint(sub + k, FLOOR_ADDR);
		p[n++] = 0x2a;                    /* field 5, length-delimited */
		p[n++] = (uint8_t)k;
		memcpy(p + n, sub, k);
		n += k;
	}
	vmd_put_n32(p, (uint32_t)(n - VMD_FRAME_HDR));
	return n;
}

/* The same reply through protobuf-c, to check the hand-made bytes once. */
static bool self_check(void)
{
	static const uint64_t ids[] = { 0, 1, 127, 128, 300000, UINT64_MAX };
	uint8_t mine[32], ref[64];

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		for (unsigned op = 3; op <= 4; op++) {
			Vmallocd__V1__Reply r = VMALLOCD__V1__REPLY__INIT;
			Vmallocd__V1__AllocReply a = VMALLOCD__V1__ALLOC_REPLY__INIT;
			size_t n = put_reply(mine, ids[i], op), m;

			r.id = ids[i];
			if (op == OP_ALLOC) {
				a.addr = FLOOR_ADDR;
				r.result_case = VMALLOCD__V1__REPLY__RESULT_ALLOC;
				r.alloc = &a;
			}
			m = vmallocd__v1__reply__pack(&r, ref);
			if (n != VMD_FRAME_HDR + m || memcmp(mine + VMD_FRAME_HDR, ref, m) != 0)
				return false;
		}
	}
	return true;
}

static int flush_out(struct fconn *c)
{
	size_t off = 0;

	while (off < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + off, c->wlen - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	memmove(c->wbuf, c->wbuf + off, c->wlen - off);
	c->wlen -= off;
	return 0;
}

/* Read what is there, answer every whole frame, write the answers once.
 * Returns requests served, or -1 to close the connection. */
static long serve(struct fconn *c)
{
	long served = 0;
	size_t off = 0;
	ssize_t got;

	got = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
	if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (got < 0)
		return 0;
	c->rlen += (size_t)got;
	while (c->rlen - off >= VMD_FRAME_HDR) {
		uint32_t len = vmd_get_n32(c->rbuf + off);
		uint64_t id;
		unsigned op;

		if (len > sizeof(c->rbuf) - VMD_FRAME_HDR)
			return -1;
		if (c->rlen - off < VMD_FRAME_HDR + (size_t)len)
			break;
		if (!scan_request(c->rbuf + off + VMD_FRAME_HDR, len, &id, &op))
			return -1;
		if (c->wcap - c->wlen < 32) {
			size_t cap = c->wcap ? c->wcap * 2 : 65536;
			uint8_t *w = realloc(c->wbuf, cap);

			if (!w)
				return -1;
			c->wbuf = w;
			c->wcap = cap;
		}
		c->wlen += put_reply(c->wbuf + c->wlen, id, op);
		off += VMD_FRAME_HDR + len;
		served++;
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	return flush_out(c) < 0 ? -1 : served;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One turn of the loop: wait up to timeout_ms; returns requests served. */
static long turn(int ep, int lfd, int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(ep, evs, 256, timeout_ms);
	long served = 0;

	for (int k = 0; k < n; k++) {
		struct fconn *c = evs[k].data.ptr;

		if (!c) {
			int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			struct epoll_event ev = { .events = EPOLLIN };

			if (fd < 0)
				continue;
			c = calloc(1, sizeof(*c));
			ev.data.ptr = c;
			if (!c || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
				free(c);
				close(fd);
				continue;
			}
			c->fd = fd;
			continue;
		}
		if (evs[k].events & EPOLLOUT) {
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

			if (flush_out(c) == 0 && !c->wlen)
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
		if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			long s = serve(c);

			if (s < 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				free(c->wbuf);
				free(c);
				continue;
			}
			served += s;
			if (c->wlen) {
				struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };

				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			}
		}
	}
	return served;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "busy-poll", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	const char *path = NULL;
	uint64_t busy_us = 0;
	int lfd, ep, o;

	while ((o = getopt_long(argc, argv, "s:b:", opts, NULL)) != -1) {
		switch (o) {
		case 's': path = optarg; break;
		case 'b': busy_us = strtoull(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: ipcfloor --socket PATH [--busy-poll USEC]\n");
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "usage: ipcfloor --socket PATH [--busy-poll USEC]\n");
		return 2;
	}
	if (!self_check()) {
		fprintf(stderr, "ipcfloor: hand-packed replies differ from protobuf-c's\n");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(path);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
		fprintf(stderr, "ipcfloor: cannot listen on %s: %s\n", path, strerror(errno));
		return 1;
	}
	while (!stop) {
		uint64_t until;

		if (turn(ep, lfd, 1000) <= 0 || !busy_us)
			continue;
		until = now_usec() + busy_us;
		while (!stop && now_usec() < until)
			if (turn(ep, lfd, 0) > 0)
				until = now_usec() + busy_us;
	}
	unlink(path);
	return 0;
}
