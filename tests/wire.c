/* wire.c -- see wire.h.  Test-only code. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "wire.h"

int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int send_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int send_frame(int fd, const void *payload, uint32_t n)
{
	uint8_t hdr[VMD_FRAME_HDR];

	vmd_put_n32(hdr, n);
	if (send_all(fd, hdr, sizeof(hdr)) < 0)
		return -1;
	return n ? send_all(fd, payload, n) : 0;
}

int send_request(int fd, const Request *q)
{
	size_t n = vmallocd__v1__request__get_packed_size(q);
	uint8_t *buf = malloc(n + VMD_FRAME_HDR);
	int r;

	if (!buf)
		return -1;
	vmd_put_n32(buf, (uint32_t)n);
	vmallocd__v1__request__pack(q, buf + VMD_FRAME_HDR);
	r = send_all(fd, buf, n + VMD_FRAME_HDR);
	free(buf);
	return r;
}

bool read_full(int fd, uint8_t *buf, size_t n, int timeout_ms)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return false;
		r = read(fd, buf + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

Reply *read_reply(int fd, int timeout_ms)
{
	uint8_t hdr[VMD_FRAME_HDR], *buf;
	uint32_t len;
	Reply *r;

	if (!read_full(fd, hdr, sizeof(hdr), timeout_ms))
		return NULL;
	len = vmd_get_n32(hdr);
	if (len > VMD_MAX_REPLY)
		return NULL;
	buf = malloc(len ? len : 1);
	if (!buf || !read_full(fd, buf, len, timeout_ms)) {
		free(buf);
		return NULL;
	}
	r = vmallocd__v1__reply__unpack(NULL, len, buf);
	free(buf);
	return r;
}

void reply_free(Reply *r)
{
	if (r)
		vmallocd__v1__reply__free_unpacked(r, NULL);
}

bool closed_by_peer(int fd, int timeout_ms)
{
	long long end = 0;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + timeout_ms;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char buf[4096];
		long long now;
		ssize_t r;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (now >= end || poll(&pfd, 1, (int)(end - now)) <= 0)
			return false;
		r = read(fd, buf, sizeof(buf));
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return true;
		if (r < 0 && errno != EINTR && errno != EAGAIN)
			return false;
	}
}

size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v > 0x7f) {
		v >>= 7;
		n++;
	}
	return n;
}
