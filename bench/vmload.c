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
 * vmalloc(4 KiB) and vfree).  Requests are encoded and replies decoded by
 * hand (the bytes checked against protobuf-c's at start), as cheaply as
 * redis-benchmark treats its commands and replies; every reply is checked
 * and any error stops the run.  Prints requests per second, each request
 * one round trip.
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

#include "benchstat.h"
#include "fastdecode.h"
#include "fastencode.h"
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
static uint8_t *wbuf;
static size_t wcap;


/* Requests and replies are encoded and decoded by hand, as cheaply as
 * redis-benchmark handles its commands and "+OK" replies, so the client
 * side costs little; check_codec() proves the bytes are protobuf-c's. */

/* Request{id, free{addr}} (addr 0: alloc{size 4096}) as one frame. */
static size_t put_request(uint8_t *p, uint64_t id, uint64_t free_addr)
{
	uint8_t sub[16];
	size_t n = VMD_FRAME_HDR, k = 0;

	if (id) {
		p[n++] = 0x08;                          /* id */
		n += vmd_put_varint(p + n, id);
	}
	if (free_addr) {
		sub[k++] = 0x08;                        /* FreeRequest.addr */
		k += vmd_put_varint(sub + k, free_addr);
		p[n++] = 0x22;                          /* Request.free */
	} else {
		sub[k++] = 0x10;                        /* AllocRequest.size */
		k += vmd_put_varint(sub + k, 4096);
		p[n++] = 0x1a;                          /* Request.alloc */
	}
	p[n++] = (uint8_t)k;
	memcpy(p + n, sub, k);
	n += k;
	vmd_put_n32(p, (uint32_t)(n - VMD_FRAME_HDR));
	return n;
}

struct reply {
	uint64_t id, addr;
	int32_t status;
	bool alloc;
	char message[128];
};

/* Reply{id, status, message, alloc{addr}}; other fields are skipped. */
static bool get_reply(const uint8_t *p, size_t len, struct reply *r)
{
	const uint8_t *end = p + len;

	memset(r, 0, sizeof(*r));
	while (p < end) {
		uint64_t key, v;

		if (!vmd_get_varint(&p, end, &key))
			return false;
		if ((key & 7) == 0) {
			if (!vmd_get_varint(&p, end, &v))
				return false;
			if (key >> 3 == 1)
				r->id = v;
			else if (key >> 3 == 2)
				r->status = (int32_t)((uint32_t)(v >> 1) ^ -(uint32_t)(v & 1));
		} else if ((key & 7) == 2) {
			const uint8_t *q;

			if (!vmd_get_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return false;
			q = p;
			p += v;
			if (key >> 3 == 3) {
				size_t m = v < sizeof(r->message) ? v : sizeof(r->message) - 1;

				memcpy(r->message, q, m);
				r->message[m] = 0;
			} else if (key >> 3 == 5) {
				r->alloc = true;
				while (q < p) {
					uint64_t k2, x;

					if (!vmd_get_varint(&q, p, &k2) || (k2 & 7) != 0 ||
					    !vmd_get_varint(&q, p, &x))
						return false;
					if (k2 >> 3 == 1)
						r->addr = x;
				}
			}
		} else {
			return false;
		}
	}
	return true;
}

/* The hand-made codec against protobuf-c, once at start. */
static bool check_codec(void)
{
	static const uint64_t vals[] = { 0, 1, 127, 128, 300000, 0xffffc90000001000ull };
	uint8_t mine[64], ref[256];

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		Vmallocd__V1__Request q = VMALLOCD__V1__REQUEST__INIT;
		Vmallocd__V1__AllocRequest a = VMALLOCD__V1__ALLOC_REQUEST__INIT;
		Vmallocd__V1__FreeRequest f = VMALLOCD__V1__FREE_REQUEST__INIT;
		Vmallocd__V1__Reply rep = VMALLOCD__V1__REPLY__INIT;
		Vmallocd__V1__AllocReply ar = VMALLOCD__V1__ALLOC_REPLY__INIT;
		struct reply r;
		size_t n, m;

		q.id = vals[i];
		a.size = 4096;
		q.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC;
		q.alloc = &a;
		n = put_request(mine, vals[i], 0);
		m = vmallocd__v1__request__pack(&q, ref);
		if (n != VMD_FRAME_HDR + m || memcmp(mine + VMD_FRAME_HDR, ref, m))
			return false;
		f.addr = vals[i] ? vals[i] : 1;
		q.op_case = VMALLOCD__V1__REQUEST__OP_FREE;
		q.free = &f;
		n = put_request(mine, vals[i], f.addr);
		m = vmallocd__v1__request__pack(&q, ref);
		if (n != VMD_FRAME_HDR + m || memcmp(mine + VMD_FRAME_HDR, ref, m))
			return false;

		rep.id = vals[i];
		rep.status = i % 2 ? -12 : 0;
		rep.message = (char *)(i % 2 ? "no memory" : "");
		ar.addr = vals[i];
		rep.result_case = VMALLOCD__V1__REPLY__RESULT_ALLOC;
		rep.alloc = &ar;
		m = vmallocd__v1__reply__pack(&rep, ref);
		if (!get_reply(ref, m, &r) || r.id != rep.id || r.status != rep.status ||
		    !r.alloc || r.addr != ar.addr || strcmp(r.message, rep.message))
			return false;
	}
	return true;
}

/* The next batch: frees of what the last one allocated, then allocations
 * (none when only_free, to leave nothing behind at the end). */
static int send_batch(struct lconn *c, bool only_free)
{
	unsigned nfree = c->naddrs, nalloc = depth == 1 ? !c->naddrs : depth - nfree;

	if (only_free)
		nalloc = 0;
	size_t len = 0, off = 0;

	for (unsigned i = 0; i < nfree; i++)
		len += put_request(wbuf + len, c->next_id++, c->addrs[i]);
	for (unsigned i = 0; i < nalloc; i++)
		len += put_request(wbuf + len, c->next_id++, 0);
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
		struct reply r;

		if (c->rlen - off < VMD_FRAME_HDR + (size_t)n)
			break;
		if (!get_reply(c->rbuf + off + VMD_FRAME_HDR, n, &r))
			return -EPROTO;
		if (r.status < 0) {
			fprintf(stderr, "vmload: request %llu: %s\n", (unsigned long long)r.id, r.message);
			return r.status;
		}
		if (r.alloc) {
			if (c->naddrs == depth)
				return -EPROTO;
			c->addrs[c->naddrs++] = r.addr;
		}
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
	if (!check_codec()) {
		fprintf(stderr, "vmload: hand-made frames differ from protobuf-c's\n");
		return 1;
	}
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
	start = bench_now_s();
	end = start + seconds;
	for (unsigned i = 0; i < nconn; i++)
		if (send_batch(&conns[i], false) < 0)
			return 1;
	while (bench_now_s() < end) {
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
	       bench_now_s() - start, (double)total / (bench_now_s() - start));
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
