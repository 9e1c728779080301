/* test_soak.c -- killed clients: for SOAK_SECONDS (60 by default) client
 * processes allocate areas (scoped and not) and alloc_pages blocks, write
 * patterns, read them back and verify them, and are SIGKILLed at random
 * moments, several at a time, while new ones take their place.
 *
 * Each client reports on a shared pipe every unscoped area it has written
 * and verified ("C addr size seed") and every one it is about to free
 * ("F addr"), so the test always knows which areas of the dead must still
 * be there and hold what was written.  Throughout, and at the end:
 *   - no client sees a verification failure or an error;
 *   - within a second of a client's death, none of its scoped areas or
 *     blocks is left;
 *   - every unscoped area of the dead that was reported is intact (checked
 *     through a separate connection, then freed to keep memory bounded);
 *   - the daemon never crashes; at the end the invariant checker is clean,
 *     and after freeing what is left (areas of clients killed between
 *     allocating and reporting, shown as leaked) memory is back exactly
 *     where it started.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "hostile.h"
#include "vmclient.h"
#include "tcase.h"

#define MAX_WORKERS 8
#define SOAK_PAUSE_US 2000
#define MAX_KNOWN 4096
#define MAX_DEAD 4096

static struct vmd_proc daemon_proc;

/* ---- the clients ------------------------------------------------------------------------ */

static void report(int out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int out, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write of less than PIPE_BUF: never interleaved with another's. */
	(void)!write(out, line, (size_t)n);
}

struct mine {
	uint64_t addr, size, seed;
	bool scoped;
};

static int client_main(unsigned id, int out)
{
	static uint8_t w[65536], r[65536];
	struct mine live[32];
	unsigned n = 0;
	uint64_t s = 0x9e3779b97f4a7c15ull * (getpid() + 1ull), pfn = 0, pfn_seed = 0;
	struct vmc_client *c;
	unsigned long ops = 0;

	if (vmd_connect(daemon_proc.sock, &c) < 0) {
		report(out, "X %d connect\n", getpid());
		return 2;
	}
	vmc_set_timeout(c, 30000);
	for (;;) {
		uint64_t x = xrand(&s);

		if (n < 32 && (n == 0 || x % 3 != 0)) {
			struct mine *m = &live[n];

			m->size = 1 + (x >> 8) % sizeof(w);
			m->seed = xrand(&s);
			m->scoped = (x >> 4) & 1;
			vmc_set_scoped(c, m->scoped);
			if (vmc_vmalloc(c, m->size, &m->addr) < 0)
				goto fail;
			pattern_fill(w, m->size, m->seed);
			if (vmc_write(c, m->addr, w, m->size) < 0 || vmc_read(c, m->addr, r, m->size) < 0)
				goto fail;
			if (pattern_check(r, m->size, m->seed) != m->size)
				goto mismatch;
			if (!m->scoped)
				report(out, "C %d %llx %llx %llx\n", getpid(), (unsigned long long)m->addr,
				       (unsigned long long)m->size, (unsigned long long)m->seed);
			n++;
		} else {
			unsigned k = (unsigned)((x >> 8) % n);
			struct mine *m = &live[k];

			if (vmc_read(c, m->addr, r, m->size) < 0)
				goto fail;
			if (pattern_check(r, m->size, m->seed) != m->size)
				goto mismatch;
			if ((x >> 20) & 1) {
				if (!m->scoped)
					report(out, "F %d %llx\n", getpid(), (unsigned long long)m->addr);
				if (vmc_vfree(c, m->addr) < 0)
					goto fail;
				live[k] = live[--n];
			}
		}
		/* A scoped alloc_pages block, written and checked by pfn. */
		if ((x >> 24) % 16 == 0) {
			uint8_t pw[64], pr[64];

			if (pfn) {
				if (vmc_phys_read(c, pfn, 100, pr, sizeof(pr)) < 0)
					goto fail;
				pattern_fill(pw, sizeof(pw), pfn_seed);
				if (memcmp(pw, pr, sizeof(pr)) != 0)
					goto mismatch;
			}
			vmc_set_scoped(c, true);
			if (vmc_alloc_pages(c, GFP_KERNEL, (unsigned)(x >> 28) % 3, VMC_NO_NODE, &pfn) < 0)
				goto fail;
			pfn_seed = xrand(&s);
			pattern_fill(pw, sizeof(pw), pfn_seed);
			if (vmc_phys_write(c, pfn, 100, pw, sizeof(pw)) < 0)
				goto fail;
		}
		if (++ops % 64 == 0)
			report(out, "V %d 64\n", getpid());
		/* Leave the machine some air: the suite runs tests side by side,
		 * and eight clients flat out would starve the other one. */
		usleep(SOAK_PAUSE_US);
		/* Some clients leave by themselves. */
		if (ops > 300 + id % 500) {
			vmc_close(c);
			report(out, "E %d\n", getpid());
			return 0;
		}
	}
fail:
	report(out, "X %d %s\n", getpid(), vmc_last_message(c));
	return 3;
mismatch:
	report(out, "X %d verification failed\n", getpid());
	return 4;
}

/* ---- the test --------------------------------------------------------------------------- */

struct known {
	uint64_t addr, size, seed;
	pid_t pid;
};

static struct known known[MAX_KNOWN];
static unsigned nknown;
static pid_t dead[MAX_DEAD];
static long long dead_at[MAX_DEAD];
static unsigned ndead;
static unsigned long verified_ops, client_failures, intact_checked, lost;

static bool is_dead(pid_t pid, long long *when)
{
	for (unsigned i = 0; i < ndead; i++)
		if (dead[i] == pid) {
			if (when)
				*when = dead_at[i];
			return true;
		}
	return false;
}

static void note_dead(pid_t pid)
{
	if (ndead < MAX_DEAD) {
		dead[ndead] = pid;
		dead_at[ndead++] = vmd_now_ms();
	}
}

static void take_line(char *line)
{
	unsigned long long a, sz, seed;
	int pid;

	if (sscanf(line, "C %d %llx %llx %llx", &pid, &a, &sz, &seed) == 4) {
		if (nknown < MAX_KNOWN)
			known[nknown++] = (struct known){ a, sz, seed, pid };
	} else if (sscanf(line, "F %d %llx", &pid, &a) == 2) {
		for (unsigned i = 0; i < nknown; i++)
			if (known[i].addr == a && known[i].pid == pid) {
				known[i] = known[--nknown];
				break;
			}
	} else if (sscanf(line, "V %d %llu", &pid, &a) == 2) {
		verified_ops += a;
	} else if (line[0] == 'X') {
		fprintf(stderr, "  client failure: %s", line);
		client_failures++;
	}
}

static void drain(int fd, char *buf, size_t *len, size_t cap)
{
	for (;;) {
		ssize_t n = read(fd, buf + *len, cap - 1 - *len);
		char *nl;

		if (n <= 0)
			return;
		*len += (size_t)n;
		buf[*len] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			take_line(buf);
			memmove(buf, nl + 1, *len - (size_t)(nl + 1 - buf) + 1);
			*len -= (size_t)(nl + 1 - buf);
		}
	}
}

/* Areas of clients dead for over a second: none scoped; the reported
 * unscoped ones intact (then freed, but a few kept for the end). */
static void audit(struct vmc_client *root, bool final)
{
	static uint8_t buf[65536];
	struct vmc_area *areas = NULL;
	size_t n = 0;
	long long now = vmd_now_ms();

	CU_ASSERT_EQUAL_FATAL(vmc_areas(root, false, &areas, &n), 0);
	for (size_t i = 0; i < n; i++) {
		long long when;

		if (areas[i].scoped && is_dead((pid_t)areas[i].pid, &when) && now - when > 1000) {
			fprintf(stderr, "  scoped area 0x%llx of pid %u outlived it by %lld ms\n",
				(unsigned long long)areas[i].addr, areas[i].pid, now - when);
			CU_FAIL("a dead client's scoped area survived");
		}
	}
	free(areas);
	for (unsigned i = 0; i < nknown;) {
		struct known *k = &known[i];

		if (!is_dead(k->pid, NULL)) {
			i++;
			continue;
		}
		if (vmc_read(root, k->addr, buf, k->size) < 0 ||
		    pattern_check(buf, k->size, k->seed) != k->size) {
			fprintf(stderr, "  area 0x%llx of dead pid %d lost its contents\n",
				(unsigned long long)k->addr, k->pid);
			lost++;
		}
		intact_checked++;
		if (final || i % 4 != 0) {
			CU_ASSERT_EQUAL(vmc_vfree(root, k->addr), 0);
			*k = known[--nknown];
		} else {
			i++;
		}
	}
}

static void test_killed_clients(void)
{
	const unsigned seconds = (unsigned)env_ulong("SOAK_SECONDS", 60);
	const char *args[] = { "--memory", "256M", NULL };
	pid_t workers[MAX_WORKERS] = { 0 };
	struct vmc_client *root;
	struct vmc_meminfo m0, m1;
	struct vmc_area *areas;
	struct vmc_stat st;
	unsigned long kills = 0, spawned = 0, exited = 0, leftovers = 0;
	uint64_t rs = 0x853c49e6748fea9bull;
	long long end, next_kill, next_audit;
	char buf[8192], msg[256];
	size_t blen = 0, n;
	int pfd[2];

	CU_ASSERT_FATAL(vmd_start(&daemon_proc, args, NULL) == 0);
	CU_ASSERT_FATAL(vmd_connect(daemon_proc.sock, &root) == 0);
	vmc_set_timeout(root, 30000);
	CU_ASSERT_EQUAL(vmc_meminfo(root, &m0), 0);
	CU_ASSERT_FATAL(pipe2(pfd, O_CLOEXEC) == 0);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);

	end = vmd_now_ms() + seconds * 1000ll;
	next_kill = vmd_now_ms() + 50;
	next_audit = vmd_now_ms() + 1000;
	while (vmd_now_ms() < end) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		pid_t w;
		int stt;

		/* Keep MAX_WORKERS clients running. */
		for (int i = 0; i < MAX_WORKERS; i++) {
			if (workers[i])
				continue;
			workers[i] = vmd_fork();
			if (workers[i] == 0) {
				close(pfd[0]);
				_exit(client_main((unsigned)spawned, pfd[1]));
			}
			spawned++;
		}
		if (poll(&p, 1, 10) > 0)
			drain(pfd[0], buf, &blen, sizeof(buf));
		/* Reap the ones that left by themselves (or failed). */
		while ((w = waitpid(-1, &stt, WNOHANG)) > 0) {
			for (int i = 0; i < MAX_WORKERS; i++)
				if (workers[i] == w)
					workers[i] = 0;
			note_dead(w);
			if (WIFSIGNALED(stt) && WTERMSIG(stt) == SIGKILL) {
				kills++;
			} else if (WIFEXITED(stt)) {
				exited++;
				if (WEXITSTATUS(stt) != 0)
					client_failures++;
			} else {
				client_failures++;
			}
		}
		/* Kill one or more at a random moment. */
		if (vmd_now_ms() >= next_kill) {
			unsigned k = 1 + (unsigned)(xrand(&rs) % 3);

			for (unsigned j = 0; j < k; j++) {
				int i = (int)(xrand(&rs) % MAX_WORKERS);

				if (workers[i])
					kill(workers[i], SIGKILL);
			}
			next_kill = vmd_now_ms() + 20 + (long long)(xrand(&rs) % 300);
		}
		if (vmd_now_ms() >= next_audit) {
			drain(pfd[0], buf, &blen, sizeof(buf));
			audit(root, false);
			next_audit = vmd_now_ms() + 1000;
		}
	}
	/* The end: kill the rest, let the daemon see every connection go. */
	for (int i = 0; i < MAX_WORKERS; i++)
		if (workers[i])
			kill(workers[i], SIGKILL);
	for (int i = 0; i < MAX_WORKERS; i++) {
		int stt;

		if (workers[i] && waitpid(workers[i], &stt, 0) == workers[i]) {
			note_dead(workers[i]);
			if (WIFSIGNALED(stt))
				kills++;
			else if (!WIFEXITED(stt) || WEXITSTATUS(stt) != 0)
				client_failures++;
		}
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, 0);
	drain(pfd[0], buf, &blen, sizeof(buf));
	close(pfd[0]);
	for (int i = 0; i < 500; i++) {
		if (vmc_stat(root, &st) == 0 && st.clients == 1)
			break;
		usleep(10000);
	}
	CU_ASSERT_EQUAL(st.clients, 1);
	usleep(1100000);
	audit(root, true);
	/* What is left: unscoped areas of clients killed before they
	 * reported them.  None scoped, every one leaked; no block left. */
	CU_ASSERT_EQUAL_FATAL(vmc_areas(root, false, &areas, &n), 0);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_FALSE(areas[i].scoped);
		CU_ASSERT_TRUE(areas[i].leaked);
		CU_ASSERT_EQUAL(vmc_vfree(root, areas[i].addr), 0);
		leftovers++;
	}
	free(areas);
	CU_ASSERT_EQUAL(vmc_stat(root, &st), 0);
	CU_ASSERT_EQUAL(st.alloc_pages_pages, 0);
	CU_ASSERT_EQUAL(st.nr_areas, 0);
	CU_ASSERT_EQUAL(vmc_check(root, msg, sizeof(msg)), 0);
	CU_ASSERT_EQUAL(vmc_purge(root), 0);
	CU_ASSERT_EQUAL(vmc_meminfo(root, &m1), 0);
	/* Every frame back, but the page tables, which no kernel frees. */
	CU_ASSERT_TRUE(m1.page_tables >= m0.page_tables);
	CU_ASSERT_EQUAL(m1.mem_free + (m1.page_tables - m0.page_tables), m0.mem_free);
	CU_ASSERT_EQUAL(m1.vmalloc_used, 0);
	CU_ASSERT_EQUAL(vmc_check(root, msg, sizeof(msg)), 0);
	fprintf(stderr, "  %u s: %lu clients started, %lu SIGKILLed, %lu left by themselves; "
		"%lu operations verified by clients, %lu areas of the dead verified intact, "
		"%lu lost, %lu client failures; %lu unreported leftovers freed\n",
		seconds, spawned, kills, exited, verified_ops, intact_checked, lost, client_failures,
		leftovers);
	CU_ASSERT_EQUAL(client_failures, 0);
	CU_ASSERT_EQUAL(lost, 0);
	CU_ASSERT_TRUE(kills > 0);
	vmc_close(root);
	CU_ASSERT_EQUAL(vmd_stop(&daemon_proc, 30000), 0);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "killed_clients", test_killed_clients },
		{ NULL, NULL },
	};

	return t_main_suite("soak", NULL, NULL, cases, argc, argv);
}
