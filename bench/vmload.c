/* vmload.c -- a load generator for vmallocd built the way redis-benchmark is:
 * one process, one thread, N connections driven by epoll, each keeping a
 * pipeline of requests in flight, so the client side costs little and the
 * figure measures the daemon.
 *
 *   vmload --socket PATH [--clients N] [--depth D] [--seconds S]
 *
 * Like redis-benchmark -P D, each connection sends D requests, waits for
 * the D replies, and sends the next D.  A batch frees the areas the previous
 * batch allocated and allocates as many new ones (depth 1 alternates
 * vmalloc(4 KiB) and vfree).  Every reply is decoded and checked; any error
 * stops the run.  Prints requests per second, each request one round trip.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "vmalloc.pb-c.h"

struct lconn {
	int fd;
	uint8_t *rbuf;
	size_t rlen, rcap;
	uint64_t *addrs;      /* allocated by the last batch, freed by the next */
	unsigned naddrs;
	unsigned inflight;
	uint64_t next_id;
};

static unsigned depth = 1;
static struct vmd_arena arena;
static uint8_t *wbuf;
static size_t wcap;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t put_request(uint8_t *p, const Vmallocd__V1__Request *q)
{
	size_t n = vmallocd__v1__request__pack(q, p + VMD_FRAME_HDR);

	vmd_put_n32(p, (uint32_t)n);
	return VMD_FRAME_HDR + n;
}

/* The next batch: frees of what the last one allocated, then allocations
 * (none when only_free, to leave nothing behind at the end). */
static int send_batch(struct lconn *c, bool only_free)
{
	Vmallocd__V1__Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__AllocRequest a = VMALLOCD__V1__ALLOC_REQUEST__INIT;
	Vmallocd__V1__FreeRequest f = VMALLOCD__V1__FREE_REQUEST__INIT;
	unsigned nfree = c->naddrs, nalloc = depth == 1 ? !c->naddrs : depth - nfree;

	if (only_free)
		nalloc = 0;
	size_t len = 0, off = 0;

	a.size = 4096;
	q.op_case = VMALLOCD__V1__REQUEST__OP_FREE;
	q.free = &f;
	for (unsigned i = 0; i < nfree; i++) {
		q.id = c->next_id++;
		f.addr = c->addrs[i];
		len += put_request(wbuf + len, &q);
	}
	q.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC;
	q.alloc = &a;
	for (unsigned i = 0; i < nalloc; i++) {
		q.id = c->next_id++;
		len += put_request(wbuf + len, &q);
	}
	c->naddrs = 0;
	c->inflight = nfree + nalloc;
	while (off < len) {
		ssize_t n = send(c->fd, wbuf + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

/* Consume whole reply frames; returns replies handled or negative errno. */
static long take_replies(struct lconn *c)
{
	size_t off = 0;
	long done = 0;

	while (c->rlen - off >= VMD_FRAME_HDR) {
		uint32_t n = vmd_get_n32(c->rbuf + off);
		Vmallocd__V1__Reply *r;

		if (c->rlen - off < VMD_FRAME_HDR + (size_t)n)
			break;
		vmd_arena_reset(&arena);
		r = vmallocd__v1__reply__unpack(&arena.pb, n, c->rbuf + off + VMD_FRAME_HDR);
		if (!r)
			return -EPROTO;
		if (r->status < 0) {
			fprintf(stderr, "vmload: request %llu: %s\n", (unsigned long long)r->id, r->message);
			return r->status;
		}
		if (r->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC)
			c->addrs[c->naddrs++] = r->alloc->addr;
		off += VMD_FRAME_HDR + n;
		c->inflight--;
		done++;
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	return done;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "clients", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'P' },
		{ "seconds", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	unsigned nconn = 1;
	double seconds = 3, end, start;
	long long total = 0;
	struct lconn *conns;
	int ep, o;

	while ((o = getopt_long(argc, argv, "s:c:P:t:", opts, NULL)) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'c': nconn = (unsigned)atoi(optarg); break;
		case 'P': depth = (unsigned)atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		default:
			fprintf(stderr, "usage: vmload --socket PATH [--clients N] [--depth D] [--seconds S]\n");
			return 2;
		}
	}
	if (!sock || !nconn || nconn > 4096 || !depth || depth > 4096 || (depth > 1 && depth % 2)) {
		fprintf(stderr, "vmload: --socket needed; clients 1..4096; depth 1 or even up to 4096\n");
		return 2;
	}
	vmd_arena_init(&arena, 0);
	wcap = (size_t)depth * 64;
	wbuf = malloc(wcap);
	conns = calloc(nconn, sizeof(*conns));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!wbuf || !conns || ep < 0)
		return 1;
	for (unsigned i = 0; i < nconn; i++) {
		struct lconn *c = &conns[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		c->fd = connect_to(sock);
		c->rcap = (size_t)depth * 64 + 65536;
		c->rbuf = malloc(c->rcap);
		c->addrs = calloc(depth, sizeof(*c->addrs));
		if (c->fd < 0 || !c->rbuf || !c->addrs || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
			fprintf(stderr, "vmload: cannot connect to %s: %s\n", sock, strerror(errno));
			return 1;
		}
	}
	start = now_s();
	end = start + seconds;
	for (unsigned i = 0; i < nconn; i++)
		if (send_batch(&conns[i], false) < 0)
			return 1;
	while (now_s() < end) {
		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, 1000);

		for (int k = 0; k < n; k++) {
			struct lconn *c = evs[k].data.ptr;
			ssize_t got = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
			long done;

			if (got <= 0) {
				fprintf(stderr, "vmload: connection lost\n");
				return 1;
			}
			c->rlen += (size_t)got;
			done = take_replies(c);
			if (done < 0)
				return 1;
			total += done;
			if (!c->inflight && send_batch(c, false) < 0)
				return 1;
		}
	}
	printf("clients=%u depth=%u requests=%lld seconds=%.2f rps=%.0f\n", nconn, depth, total,
	       now_s() - start, (double)total / (now_s() - start));
	/* Leave nothing allocated: take the replies in flight, then free what
	 * the last batch allocated. */
	for (unsigned i = 0; i < nconn; i++) {
		struct lconn *c = &conns[i];

		for (int round = 0; round < 2; round++) {
			while (c->inflight) {
				ssize_t got = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);

				if (got <= 0)
					return 1;
				c->rlen += (size_t)got;
				if (take_replies(c) < 0)
					return 1;
			}
			if (round == 0 && c->naddrs && send_batch(c, true) < 0)
				return 1;
		}
		close(c->fd);
	}
	return 0;
}
