/* test_malformed.c -- raw bytes at a live vmallocd: a zero-length frame, a
 * frame that is not a protobuf, an unknown message type, unknown enum
 * values, lengths over the limit (2^32-1 and just over).  Each gets an
 * error reply where one can be framed (else the connection is closed), the
 * daemon keeps serving, a well-behaved client is not held up by a stalled
 * one, and the invariant checker stays clean.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "harness.h"
#include "tcase.h"
#include "vmalloc.pb-c.h"
#include "vmclient.h"
#include "wire.h"

static struct vmd_proc daemon_proc;

static int suite_init(void)
{
	static const char *const args[] = { "--memory", "64M", "--stall-timeout", "1s", NULL };

	return vmd_start(&daemon_proc, args, NULL) < 0 ? -1 : 0;
}

static int suite_clean(void)
{
	return vmd_stop(&daemon_proc, 5000) == 0 ? 0 : -1;
}

static void expect_alive(void)
{
	struct vmc_client *c;
	uint64_t a;
	char msg[256];

	CU_ASSERT_EQUAL_FATAL(vmd_connect(daemon_proc.sock, &c), 0);
	CU_ASSERT_EQUAL(vmc_vmalloc(c, 4096, &a), 0);
	CU_ASSERT_EQUAL(vmc_vfree(c, a), 0);
	CU_ASSERT_EQUAL(vmc_check(c, msg, sizeof(msg)), 0);
	vmc_close(c);
}

static void test_zero_length(void)
{
	int fd = raw_connect(daemon_proc.sock);
	Vmallocd__V1__Reply *r;

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(send_frame(fd, NULL, 0), 0);
	r = read_reply(fd, 3000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, -EOPNOTSUPP);
	CU_ASSERT_TRUE(strlen(r->message) > 0);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	close(fd);
	expect_alive();
}

static void test_garbage(void)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x80 };
	int fd = raw_connect(daemon_proc.sock);
	Vmallocd__V1__Reply *r;

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(send_frame(fd, junk, sizeof(junk)), 0);
	r = read_reply(fd, 3000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, -EBADMSG);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	/* The stream stays in step: a good request on the same socket works. */
	{
		Vmallocd__V1__Request q = VMALLOCD__V1__REQUEST__INIT;
		Vmallocd__V1__HelloRequest h = VMALLOCD__V1__HELLO_REQUEST__INIT;
		uint8_t buf[64];
		size_t n;

		q.id = 42;
		q.op_case = VMALLOCD__V1__REQUEST__OP_HELLO;
		q.hello = &h;
		h.version = 1;
		n = vmallocd__v1__request__pack(&q, buf);
		CU_ASSERT_EQUAL(send_frame(fd, buf, (uint32_t)n), 0);
		r = read_reply(fd, 3000);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(r->id, 42);
		CU_ASSERT_EQUAL(r->status, 0);
		CU_ASSERT_EQUAL(r->result_case, VMALLOCD__V1__REPLY__RESULT_HELLO);
		CU_ASSERT_EQUAL(r->hello->uid, getuid());
		vmallocd__v1__reply__free_unpacked(r, NULL);
	}
	close(fd);
	expect_alive();
}

static void test_unknown_type_and_enum(void)
{
	/* id=7, then field 99 (a message type this daemon does not know). */
	static const uint8_t unknown_op[] = { 0x08, 0x07, 0x9a, 0x06, 0x00 };
	Vmallocd__V1__Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__QueryRequest qq = VMALLOCD__V1__QUERY_REQUEST__INIT;
	Vmallocd__V1__AllocRequest aq = VMALLOCD__V1__ALLOC_REQUEST__INIT;
	Vmallocd__V1__Reply *r;
	uint8_t buf[64];
	size_t n;
	int fd = raw_connect(daemon_proc.sock);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(send_frame(fd, unknown_op, sizeof(unknown_op)), 0);
	r = read_reply(fd, 3000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->id, 7);
	CU_ASSERT_EQUAL(r->status, -EOPNOTSUPP);
	vmallocd__v1__reply__free_unpacked(r, NULL);

	q.id = 8;
	q.op_case = VMALLOCD__V1__REQUEST__OP_QUERY;
	q.query = &qq;
	qq.kind = (Vmallocd__V1__QueryKind)77;
	n = vmallocd__v1__request__pack(&q, buf);
	CU_ASSERT_EQUAL(send_frame(fd, buf, (uint32_t)n), 0);
	r = read_reply(fd, 3000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, -EINVAL);
	vmallocd__v1__reply__free_unpacked(r, NULL);

	q.id = 9;
	q.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC;
	q.alloc = &aq;
	aq.kind = (Vmallocd__V1__AllocKind)1234;
	aq.size = 4096;
	n = vmallocd__v1__request__pack(&q, buf);
	CU_ASSERT_EQUAL(send_frame(fd, buf, (uint32_t)n), 0);
	r = read_reply(fd, 3000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->id, 9);
	CU_ASSERT_EQUAL(r->status, -EINVAL);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	close(fd);
	expect_alive();
}

static void over_limit(uint32_t len)
{
	int fd = raw_connect(daemon_proc.sock);
	Vmallocd__V1__Reply *r;
	uint8_t hdr[4];

	CU_ASSERT_FATAL(fd >= 0);
	vmd_put_n32(hdr, len);
	CU_ASSERT_EQUAL(write(fd, hdr, 4), 4);
	r = read_reply(fd, 3000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->status, -EMSGSIZE);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	CU_ASSERT_TRUE(closed_by_peer(fd, 3000));
	close(fd);
	expect_alive();
}

static void test_length_limits(void)
{
	over_limit(UINT32_MAX);
	over_limit(VMD_MAX_FRAME + 1);
}

/* A client that sent half a frame does not hold up another, and is closed
 * after the stall timeout (1 s here). */
static void test_stalled_client(void)
{
	static const uint8_t half[] = { 0, 0, 0, 50, 0x08, 0x01 };
	struct vmc_client *c;
	long long t0, worst = 0;
	int fd = raw_connect(daemon_proc.sock);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, half, sizeof(half)), (ssize_t)sizeof(half));
	CU_ASSERT_EQUAL_FATAL(vmd_connect(daemon_proc.sock, &c), 0);
	for (int i = 0; i < 200; i++) {
		uint64_t a;
		long long t = vmd_now_ms();

		CU_ASSERT_EQUAL(vmc_vmalloc(c, 4096, &a), 0);
		CU_ASSERT_EQUAL(vmc_vfree(c, a), 0);
		if (vmd_now_ms() - t > worst)
			worst = vmd_now_ms() - t;
	}
	CU_ASSERT_TRUE(worst < 500);
	vmc_close(c);
	t0 = vmd_now_ms();
	CU_ASSERT_TRUE(closed_by_peer(fd, 3000));
	CU_ASSERT_TRUE(vmd_now_ms() - t0 < 2500);
	close(fd);
	expect_alive();
}

/* Append to buf the frame of request id: every tenth a scoped
 * vmalloc(4096), the others a vfree of an address nothing can hold. */
static size_t put_request(uint8_t *buf, uint64_t id)
{
	Vmallocd__V1__Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__AllocRequest a = VMALLOCD__V1__ALLOC_REQUEST__INIT;
	Vmallocd__V1__FreeRequest f = VMALLOCD__V1__FREE_REQUEST__INIT;
	size_t n;

	q.id = id;
	if (id % 10 == 0) {
		a.size = 4096;
		a.scoped = true;
		q.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC;
		q.alloc = &a;
	} else {
		f.addr = 1;
		q.op_case = VMALLOCD__V1__REQUEST__OP_FREE;
		q.free = &f;
	}
	n = vmallocd__v1__request__pack(&q, buf + 4);
	vmd_put_n32(buf, (uint32_t)n);
	return 4 + n;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * A deep pipeline, larger than one read takes, with a frame split across
 * writes in the middle and one byte at a time at the end, then a half
 * close: every frame is answered, in order, before the daemon closes.
 */
static void test_pipeline_then_half_close(void)
{
	enum { N = 30000 };
	size_t cap = (size_t)N * 32, len = 0, cut;
	uint8_t *buf = malloc(cap);
	int fd = raw_connect(daemon_proc.sock);
	uint64_t last = 0;
	bool in_order = true;
	int answered = 0;

	CU_ASSERT_FATAL(fd >= 0 && buf);
	for (uint64_t id = 1; id <= N; id++)
		len += put_request(buf + len, id);
	cut = len / 2 + 3;      /* inside a frame */
	CU_ASSERT_EQUAL_FATAL(write_all(fd, buf, cut), 0);
	usleep(50 * 1000);
	CU_ASSERT_EQUAL_FATAL(write_all(fd, buf + cut, len - cut - 10), 0);
	usleep(50 * 1000);
	for (size_t i = len - 10; i < len; i++)
		CU_ASSERT_EQUAL(write(fd, buf + i, 1), 1);
	CU_ASSERT_EQUAL(shutdown(fd, SHUT_WR), 0);
	for (;;) {
		Vmallocd__V1__Reply *r = read_reply(fd, 3000);

		if (!r)
			break;
		if (r->id != last + 1 || (r->id % 10 == 0 ? r->status != 0 || !r->alloc :
							     r->status != -EINVAL))
			in_order = false;
		last = r->id;
		answered++;
		vmallocd__v1__reply__free_unpacked(r, NULL);
	}
	CU_ASSERT_TRUE(in_order);
	CU_ASSERT_EQUAL(answered, N);
	close(fd);
	free(buf);
	expect_alive();
}

/* With --idle-timeout 1s a silent connection is closed after about a
 * second, while one that sends a request every 300 ms stays open well past
 * it. */
static void test_idle_timeout(void)
{
	static const char *const args[] = { "--memory", "64M", "--idle-timeout", "1s", NULL };
	struct vmd_proc p;
	struct vmc_client *busy;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long long t0;
	int quiet;

	CU_ASSERT_FATAL(vmd_start(&p, args, NULL) == 0);
	memcpy(sa.sun_path, p.sock, strlen(p.sock) + 1);
	quiet = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(quiet >= 0 && connect(quiet, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_EQUAL_FATAL(vmd_connect(p.sock, &busy), 0);
	t0 = vmd_now_ms();
	for (int i = 0; i < 8; i++) {
		uint64_t a;

		usleep(300 * 1000);
		CU_ASSERT_EQUAL(vmc_vmalloc(busy, 4096, &a), 0);
		CU_ASSERT_EQUAL(vmc_vfree(busy, a), 0);
	}
	/* 2.4 s have passed: the quiet one is gone, the busy one is not. */
	CU_ASSERT_TRUE(closed_by_peer(quiet, 3000));
	CU_ASSERT_TRUE(vmd_now_ms() - t0 >= 2400);
	close(quiet);
	quiet = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(quiet >= 0 && connect(quiet, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	t0 = vmd_now_ms();
	CU_ASSERT_TRUE(closed_by_peer(quiet, 3000));
	CU_ASSERT_TRUE(vmd_now_ms() - t0 >= 900 && vmd_now_ms() - t0 < 2500);
	close(quiet);
	vmc_close(busy);
	CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 0);
}

static const struct t_case cases[] = {
	{ "zero_length", test_zero_length },
	{ "garbage", test_garbage },
	{ "unknown_type_and_enum", test_unknown_type_and_enum },
	{ "length_limits", test_length_limits },
	{ "stalled_client", test_stalled_client },
	{ "pipeline_then_half_close", test_pipeline_then_half_close },
	{ "idle_timeout", test_idle_timeout },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return t_main_suite("malformed", suite_init, suite_clean, cases, argc, argv);
}
