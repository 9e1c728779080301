/* hostile.c -- see hostile.h.  Test-only code. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "hostile.h"
#include "vmclient.h"

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

static bool read_full(int fd, uint8_t *buf, size_t n, int timeout_ms)
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

Reply *expect(int fd, Request *q, int want)
{
	static uint64_t next_id = 1000;
	Reply *r;

	if (!q->id)
		q->id = ++next_id;
	if (send_request(fd, q) < 0) {
		CU_FAIL("could not send the request");
		return NULL;
	}
	r = read_reply(fd, 10000);
	if (!r) {
		CU_FAIL("no reply (connection closed or timed out)");
		return NULL;
	}
	CU_ASSERT_EQUAL(r->id, q->id);
	if (r->status != want) {
		fprintf(stderr, "  request %llu (op %d): status %d (%s), wanted %d\n",
			(unsigned long long)q->id, (int)q->op_case, r->status,
			r->message ? r->message : "", want);
		CU_FAIL("unexpected status");
		reply_free(r);
		return NULL;
	}
	if (want < 0) {
		CU_ASSERT_PTR_NOT_NULL(r->message);
		CU_ASSERT_TRUE(r->message && strlen(r->message) > 0);
		CU_ASSERT_EQUAL(r->result_case, VMALLOCD__V1__REPLY__RESULT__NOT_SET);
	}
	return r;
}

bool expect_status(int fd, Request *q, int want)
{
	Reply *r = expect(fd, q, want);

	reply_free(r);
	return r != NULL;
}

void rq_alloc(Request *q, Vmallocd__V1__AllocRequest *m, uint64_t size)
{
	vmallocd__v1__request__init(q);
	vmallocd__v1__alloc_request__init(m);
	q->op_case = VMALLOCD__V1__REQUEST__OP_ALLOC;
	q->alloc = m;
	m->size = size;
	m->node = -1;
}

void rq_free(Request *q, Vmallocd__V1__FreeRequest *m, uint64_t addr)
{
	vmallocd__v1__request__init(q);
	vmallocd__v1__free_request__init(m);
	q->op_case = VMALLOCD__V1__REQUEST__OP_FREE;
	q->free = m;
	m->addr = addr;
}

void rq_read(Request *q, Vmallocd__V1__ReadRequest *m, uint64_t addr, uint64_t len)
{
	vmallocd__v1__request__init(q);
	vmallocd__v1__read_request__init(m);
	q->op_case = VMALLOCD__V1__REQUEST__OP_READ;
	q->read = m;
	m->addr = addr;
	m->len = len;
}

void rq_write(Request *q, Vmallocd__V1__WriteRequest *m, uint64_t addr, const void *p, size_t n)
{
	vmallocd__v1__request__init(q);
	vmallocd__v1__write_request__init(m);
	q->op_case = VMALLOCD__V1__REQUEST__OP_WRITE;
	q->write = m;
	m->addr = addr;
	m->data.data = (uint8_t *)p;
	m->data.len = n;
}

void rq_check(Request *q, Vmallocd__V1__CheckRequest *m)
{
	vmallocd__v1__request__init(q);
	vmallocd__v1__check_request__init(m);
	q->op_case = VMALLOCD__V1__REQUEST__OP_CHECK;
	q->check = m;
}

uint64_t raw_alloc(int fd, uint64_t size)
{
	Request q;
	Vmallocd__V1__AllocRequest m;
	Reply *r;
	uint64_t addr = 0;

	rq_alloc(&q, &m, size);
	r = expect(fd, &q, 0);
	if (r && r->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC)
		addr = r->alloc->addr;
	reply_free(r);
	return addr;
}

bool raw_check(int fd)
{
	Request q;
	Vmallocd__V1__CheckRequest m;

	rq_check(&q, &m);
	return expect_status(fd, &q, 0);
}

/* ---- the bystander ------------------------------------------------------------ */

static int bystander_main(const char *path, int ctl)
{
	static uint8_t w[65536], r[65536];
	struct vmc_client *c = NULL;
	unsigned long ops = 0, fails = 0;
	uint64_t s = 0x2545f4914f6cdd1dull ^ (uint64_t)getpid();
	char line[64];

	if (vmc_connect(path, &c) < 0)
		fails++;
	else
		vmc_set_timeout(c, 10000);
	while (c) {
		struct pollfd pfd = { .fd = ctl, .events = POLLIN };
		uint64_t size = 1 + xrand(&s) % sizeof(w), seed = xrand(&s), a;

		/* A stop waits for a few rounds, so a suite that runs faster
		 * than the first round still sees the daemon serve. */
		if (ops >= 50 && poll(&pfd, 1, 0) > 0)
			break;
		pattern_fill(w, size, seed);
		if (vmc_vmalloc(c, size, &a) < 0 || vmc_write(c, a, w, size) < 0 ||
		    vmc_read(c, a, r, size) < 0 || memcmp(w, r, size) != 0 || vmc_vfree(c, a) < 0) {
			fprintf(stderr, "bystander: round %lu failed: %s\n", ops, vmc_last_message(c));
			fails++;
			break;
		}
		ops++;
	}
	vmc_close(c);
	snprintf(line, sizeof(line), "%lu %lu\n", ops, fails);
	return write(ctl, line, strlen(line)) > 0 ? 0 : 1;
}

int bystander_start(struct bystander *b, const char *path)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	b->pid = fork();
	if (b->pid < 0)
		return -1;
	if (b->pid == 0) {
		close(sv[0]);
		_exit(bystander_main(path, sv[1]));
	}
	close(sv[1]);
	b->pipe_fd = sv[0];
	return 0;
}

int bystander_stop(struct bystander *b, unsigned long *ops)
{
	char line[64] = "";
	unsigned long o = 0, f = 1;
	ssize_t n;
	int st;

	(void)!write(b->pipe_fd, "x", 1);
	n = read(b->pipe_fd, line, sizeof(line) - 1);
	if (n > 0) {
		line[n] = '\0';
		sscanf(line, "%lu %lu", &o, &f);
	}
	close(b->pipe_fd);
	if (waitpid(b->pid, &st, 0) < 0)
		return -1;
	if (ops)
		*ops = o;
	return (int)f;
}

/* ---- misc ----------------------------------------------------------------------- */

int as_uid(uint32_t uid, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
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

bool under_wrapper(void)
{
	const char *w = getenv("VMALLOCD_WRAPPER");

	return w && *w;
}

unsigned long env_ulong(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 10) : def;
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

uint64_t xrand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

void pattern_fill(uint8_t *buf, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)((seed >> ((i & 7) * 8)) + i * 131);
}

size_t pattern_check(const uint8_t *buf, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (buf[i] != (uint8_t)((seed >> ((i & 7) * 8)) + i * 131))
			return i;
	return n;
}
