/* test_stress.c -- 32 client processes × 10,000 random operations each
 * against one live vmallocd.  Every area gets a pattern written into it and
 * verified before it is freed; at the end the invariant checker is clean and
 * meminfo and buddyinfo are back where they started.
 *
 * STRESS_CLIENTS and STRESS_OPS override the counts (for quick local runs);
 * the suite runs the full 32 × 10,000.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tcase.h"
#include "vmclient.h"

#define MAX_LIVE 64

static struct vmd_proc daemon_proc;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill(uint8_t *buf, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)((seed >> ((i & 7) * 8)) + i);
}

struct live {
	uint64_t addr, size, seed;
};

/* One client: returns 0, or the number of the check that failed. */
static int client(unsigned id, unsigned ops)
{
	struct vmc_client *c;
	struct live live[MAX_LIVE];
	unsigned n = 0;
	uint64_t s = 0x9e3779b97f4a7c15ull * (id + 1);
	static uint8_t wbuf[256 * 1024], rbuf[256 * 1024];

	if (vmd_connect(daemon_proc.sock, &c) < 0)
		return 1;
	for (unsigned op = 0; op < ops; op++) {
		uint64_t r = rnd(&s);

		if (n < MAX_LIVE && (n == 0 || r % 3 != 0)) {
			struct live *l = &live[n];
			/* Mostly small, sometimes up to 256 KiB. */
			uint64_t size = (r >> 8) % 8 ? 1 + (r >> 16) % 16384 : 1 + (r >> 16) % sizeof(wbuf);
			int ret = (r >> 4) & 1 ? vmc_vzalloc(c, size, &l->addr) : vmc_vmalloc(c, size, &l->addr);

			if (ret < 0)
				return 2;
			l->size = size;
			l->seed = rnd(&s);
			fill(wbuf, size, l->seed);
			if (vmc_write(c, l->addr, wbuf, size) < 0)
				return 3;
			n++;
		} else {
			unsigned k = (unsigned)((r >> 8) % n);
			struct live *l = &live[k];

			fill(wbuf, l->size, l->seed);
			if (vmc_read(c, l->addr, rbuf, l->size) < 0)
				return 4;
			if (memcmp(wbuf, rbuf, l->size) != 0)
				return 5;
			if (vmc_vfree(c, l->addr) < 0)
				return 6;
			live[k] = live[--n];
		}
	}
	while (n) {
		struct live *l = &live[--n];

		fill(wbuf, l->size, l->seed);
		if (vmc_read(c, l->addr, rbuf, l->size) < 0 || memcmp(wbuf, rbuf, l->size) != 0)
			return 7;
		if (vmc_vfree(c, l->addr) < 0)
			return 8;
	}
	vmc_close(c);
	return 0;
}

static unsigned env_uint(const char *name, unsigned def)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned)strtoul(v, NULL, 10) : def;
}

static void test_concurrent_clients(void)
{
	static const char *const args[] = { "--memory", "1G", NULL };
	unsigned nclients = env_uint("STRESS_CLIENTS", 32), ops = env_uint("STRESS_OPS", 10000);
	char *mem0 = NULL, *buddy0 = NULL, *mem1 = NULL, *buddy1 = NULL, msg[256];
	struct vmc_client *c;
	pid_t pids[256];
	long long t0;

	if (nclients > 256)
		nclients = 256;
	CU_ASSERT_FATAL(vmd_start(&daemon_proc, args, NULL) == 0);
	CU_ASSERT_FATAL(vmd_connect(daemon_proc.sock, &c) == 0);
	CU_ASSERT_EQUAL(vmc_query_text(c, VMC_MEMINFO, &mem0), 0);
	CU_ASSERT_EQUAL(vmc_query_text(c, VMC_BUDDYINFO, &buddy0), 0);

	t0 = vmd_now_ms();
	for (unsigned i = 0; i < nclients; i++) {
		pids[i] = vmd_fork();
		if (pids[i] == 0)
			_exit(client(i, ops));
	}
	for (unsigned i = 0; i < nclients; i++) {
		int st = -1;

		waitpid(pids[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fprintf(stderr, "client %u failed: status %#x\n", i, st);
		CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	fprintf(stderr, "%u clients x %u ops in %lld ms\n", nclients, ops, vmd_now_ms() - t0);

	CU_ASSERT_EQUAL(vmc_check(c, msg, sizeof(msg)), 0);
	CU_ASSERT_EQUAL(vmc_purge(c), 0);
	CU_ASSERT_EQUAL(vmc_query_text(c, VMC_MEMINFO, &mem1), 0);
	CU_ASSERT_EQUAL(vmc_query_text(c, VMC_BUDDYINFO, &buddy1), 0);
	/* Every frame back, but the page tables the kernel keeps. */
	T_RESTORED(mem0, buddy0, mem1, buddy1);
	CU_ASSERT_EQUAL(vmc_check(c, msg, sizeof(msg)), 0);
	free(mem0);
	free(mem1);
	free(buddy0);
	free(buddy1);
	vmc_close(c);
	CU_ASSERT_EQUAL(vmd_stop(&daemon_proc, 5000), 0);
}

static const struct t_case cases[] = {
	{ "concurrent_clients", test_concurrent_clients },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return t_main_suite("stress", NULL, NULL, cases, argc, argv);
}
