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

	if (vmd_connect(path, &c) < 0)
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
	b->pid = vmd_fork();
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
