/* test_persist.c -- the machine kept across restarts outside systemd
 * (--state-dir): a kill -9 at a random instant of a storm of writes from
 * clients of several uids loses nothing a client was told was done, and
 * the restarted machine passes the checker; a clean stop and start gives
 * back byte-identical /proc views and every byte; a corrupted state is
 * refused with a log line and kept as it was, and --discard-state starts
 * empty with the refused files moved aside.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include "harness.h"
#include "tcase.h"
#include "vmclient.h"

#define NR_CLIENTS   4
#define NR_SLOTS     48
#define MAX_SIZE     (24u << 10)

static const uint32_t client_uid[NR_CLIENTS] = { 0, 1000, 1001, 0 };

/* What each client was told: one slot per area it may hold.  Shared with
 * the clients (forked, other uids), written by them as replies come. */
enum { S_FREE = 0, S_ALLOCING, S_LIVE, S_FREEING };
struct slot {
	int state;
	uint64_t addr, size;
	uint32_t done_ver;         /* contents acknowledged: pattern of this version */
	uint32_t pend_ver;         /* a write of this version is in flight (!= done_ver) */
};
struct ledger {
	struct slot s[NR_CLIENTS][NR_SLOTS];
	uint64_t acked[NR_CLIENTS];
};

static uint8_t pattern(int client, int slot, uint32_t ver, uint64_t i)
{
	if (ver == 0)
		return 0;   /* vzalloc's zeros */
	return (uint8_t)((i * 131u) ^ (ver * 7u) ^ ((unsigned)client << 5) ^ (unsigned)slot);
}

static void fill(uint8_t *buf, int client, int slot, uint32_t ver, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		buf[i] = pattern(client, slot, ver, i);
}

static char *make_dir(void)
{
	char tmpl[] = "/tmp/vmd-state.XXXXXX";

	if (!mkdtemp(tmpl))
		return NULL;
	chmod(tmpl, 0755);   /* the socket of clean_restart is there, for uid 1000 too */
	return strdup(tmpl);
}

static void remove_dir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	free(dir);
}

/* One client's storm: allocate (vzalloc), write whole areas, free, until
 * the daemon goes away.  Every state change of a slot is recorded before
 * the request goes (in flight) and after its reply (done). */
static void storm(struct ledger *lg, int k, const char *sock, unsigned seed)
{
	struct vmc_client *c;
	static uint8_t buf[MAX_SIZE];
	char caller[32];

	if (client_uid[k] && (setgid(client_uid[k]) < 0 || setuid(client_uid[k]) < 0))
		_exit(100);
	if (vmc_connect(sock, &c) < 0)
		_exit(0);
	snprintf(caller, sizeof(caller), "persist_client_%d", k);
	vmc_set_caller(c, caller);
	srand(seed);
	for (;;) {
		int i = rand() % NR_SLOTS, r;
		struct slot *s = &lg->s[k][i];

		if (s->state == S_FREE) {
			uint64_t size = 1 + (uint64_t)(rand() % MAX_SIZE), addr;

			s->size = size;
			__atomic_store_n(&s->state, S_ALLOCING, __ATOMIC_SEQ_CST);
			r = vmc_vzalloc(c, size, &addr);
			if (r < 0)
				break;
			s->addr = addr;
			s->done_ver = s->pend_ver = 0;
			__atomic_store_n(&s->state, S_LIVE, __ATOMIC_SEQ_CST);
		} else if (s->state == S_LIVE && rand() % 4 == 0) {
			__atomic_store_n(&s->state, S_FREEING, __ATOMIC_SEQ_CST);
			if (vmc_vfree(c, s->addr) < 0)
				break;
			__atomic_store_n(&s->state, S_FREE, __ATOMIC_SEQ_CST);
		} else if (s->state == S_LIVE) {
			uint32_t v = s->done_ver + 1;

			fill(buf, k, i, v, s->size);
			__atomic_store_n(&s->pend_ver, v, __ATOMIC_SEQ_CST);
			if (vmc_write(c, s->addr, buf, s->size) < 0)
				break;
			__atomic_store_n(&s->done_ver, v, __ATOMIC_SEQ_CST);
		}
		__atomic_add_fetch(&lg->acked[k], 1, __ATOMIC_SEQ_CST);
	}
	_exit(0);
}

/* After a restart: every slot's acknowledged state is there, and the
 * ledger is brought to what the machine holds (in-flight changes decided
 * one way or the other). */
static int verify(struct ledger *lg, struct vmc_client *root, uint64_t *ret_checked)
{
	static uint8_t got[MAX_SIZE];
	int bad = 0;

	for (int k = 0; k < NR_CLIENTS; k++) {
		for (int i = 0; i < NR_SLOTS; i++) {
			struct slot *s = &lg->s[k][i];
			struct vmc_area a;
			char caller[32];
			int r;

			if (s->state == S_ALLOCING || s->state == S_FREE) {
				s->state = S_FREE;   /* an unanswered alloc may have left an area: a leak */
				continue;
			}
			r = vmc_area_info(root, s->addr, &a);
			if (s->state == S_FREEING && r == -ENOENT) {
				s->state = S_FREE;
				continue;
			}
			if (r != 0 || a.addr != s->addr || a.uid != client_uid[k]) {
				fprintf(stderr, "client %d slot %d: area 0x%llx: %d (uid %u)\n", k, i,
					(unsigned long long)s->addr, r, r == 0 ? a.uid : 0);
				bad++;
				continue;
			}
			snprintf(caller, sizeof(caller), "persist_client_%d", k);
			if (strcmp(a.caller, caller) != 0) {
				fprintf(stderr, "client %d slot %d: caller '%s'\n", k, i, a.caller);
				bad++;
			}
			s->state = S_LIVE;
			if (vmc_read(root, s->addr, got, s->size) != 0) {
				bad++;
				continue;
			}
			for (uint64_t b = 0; b < s->size; b++) {
				uint8_t want = pattern(k, i, s->done_ver, b);

				/* A write in flight may have landed, wholly or in part. */
				if (got[b] != want && !(s->pend_ver != s->done_ver &&
							got[b] == pattern(k, i, s->pend_ver, b))) {
					fprintf(stderr, "client %d slot %d: byte %llu of 0x%llx is 0x%02x, "
						"acknowledged 0x%02x (version %u, in flight %u)\n", k, i,
						(unsigned long long)b, (unsigned long long)s->addr, got[b],
						want, s->done_ver, s->pend_ver);
					bad++;
					break;
				}
			}
			(*ret_checked)++;
			/* Make the contents known again for the next round. */
			if (s->pend_ver != s->done_ver) {
				fill(got, k, i, s->done_ver, s->size);
				if (vmc_write(root, s->addr, got, s->size) != 0)
					bad++;
				s->pend_ver = s->done_ver;
			}
		}
	}
	return bad;
}

static void test_kill_during_storm(void)
{
	struct ledger *lg = mmap(NULL, sizeof(*lg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				 -1, 0);
	char *dir = make_dir();
	const char *args[] = { "--memory", "256M", "--cpus", "2", "--state-dir", NULL, NULL };
	uint64_t checked = 0, acked = 0;
	unsigned seed = (unsigned)getpid() ^ (unsigned)vmd_now_ms();

	CU_ASSERT_FATAL(lg != MAP_FAILED && dir != NULL);
	memset(lg, 0, sizeof(*lg));
	args[5] = dir;
	fprintf(stderr, "seed %u\n", seed);
	srand(seed);
	for (int round = 0; round < 4; round++) {
		struct vmd_proc p;
		struct vmc_client *root;
		pid_t kids[NR_CLIENTS];
		char msg[512];
		int st;

		CU_ASSERT_EQUAL_FATAL(vmd_start(&p, args, NULL), 0);
		chmod(p.dir, 0755);
		/* The ledger from the round before holds against this daemon. */
		CU_ASSERT_EQUAL_FATAL(vmd_connect(p.sock, &root), 0);
		if (round > 0) {
			CU_ASSERT_EQUAL(verify(lg, root, &checked), 0);
			CU_ASSERT_EQUAL(vmc_check(root, msg, sizeof(msg)), 0);
		}
		vmc_close(root);
		for (int k = 0; k < NR_CLIENTS; k++) {
			kids[k] = vmd_fork();
			if (kids[k] == 0)
				storm(lg, k, p.sock, seed + (unsigned)round * 17 + (unsigned)k);
		}
		/* A random instant of the storm. */
		usleep(150000 + (useconds_t)(rand() % 400000));
		kill(p.pid, SIGKILL);
		st = vmd_stop(&p, 5000);
		CU_ASSERT_EQUAL(st, 128 + SIGKILL);
		for (int k = 0; k < NR_CLIENTS; k++)
			waitpid(kids[k], NULL, 0);
	}
	for (int k = 0; k < NR_CLIENTS; k++)
		acked += lg->acked[k];
	/* The last round's kill, checked by one more start. */
	{
		struct vmd_proc p;
		struct vmc_client *root;
		char msg[512];

		CU_ASSERT_EQUAL_FATAL(vmd_start(&p, args, NULL), 0);
		CU_ASSERT_EQUAL_FATAL(vmd_connect(p.sock, &root), 0);
		CU_ASSERT_EQUAL(verify(lg, root, &checked), 0);
		CU_ASSERT_EQUAL(vmc_check(root, msg, sizeof(msg)), 0);
		vmc_close(root);
		CU_ASSERT_EQUAL(vmd_stop(&p, 10000), 0);
	}
	fprintf(stderr, "%llu requests acknowledged, %llu areas checked after 4 kills\n",
		(unsigned long long)acked, (unsigned long long)checked);
	CU_ASSERT(acked > 400);
	CU_ASSERT(checked > 0);
	munmap(lg, sizeof(*lg));
	remove_dir(dir);
}

/* ---- a clean stop and start ----------------------------------------------------------- */

struct owned {
	uint64_t addr, size;
};

static int make_areas(void *arg)
{
	const char *sock = arg;
	struct vmc_client *c;
	static uint8_t buf[40000];

	if (vmc_connect(sock, &c) < 0)
		return 1;
	vmc_set_caller(c, "persist_uid_owner");
	for (int i = 0; i < 20; i++) {
		uint64_t addr, size = 1000 + (uint64_t)i * 1500;

		if (vmc_vmalloc(c, size, &addr) < 0)
			return 2;
		memset(buf, 0x40 + i, size);
		if (vmc_write(c, addr, buf, size) < 0)
			return 3;
		if (i % 3 == 0 && vmc_vfree(c, addr) < 0)
			return 4;
	}
	vmc_close(c);
	return 0;
}

static char *text(struct vmc_client *c, enum vmc_query q)
{
	char *t = NULL;

	CU_ASSERT_EQUAL(vmc_query_text(c, q, &t), 0);
	return t;
}

static void test_clean_restart(void)
{
	char *dir = make_dir();
	const char *args[] = { "--memory", "128M", "--state-dir", NULL, "--kernel", "4.19",
			       "--socket", NULL, NULL };
	char sock[256];
	struct vmc_client *keep;
	struct vmc_identity id1, id2;
	struct vmd_proc p;
	struct vmc_client *c;
	struct vmc_hello h1, h2;
	struct owned mine[30];
	uint64_t pfn, pcpu;
	char *vi1, *bi1, *mi1, *vi2, *bi2, *mi2, msg[512];
	static uint8_t buf[70000], got[70000];

	CU_ASSERT_FATAL(dir != NULL);
	args[3] = dir;
	/* One socket path for both daemons, so that a client may reconnect. */
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	args[7] = sock;
	CU_ASSERT_EQUAL_FATAL(vmd_start(&p, args, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(vmd_connect(sock, &c), 0);
	CU_ASSERT_EQUAL_FATAL(vmd_connect(sock, &keep), 0);
	vmc_set_caller(c, "persist_root_owner");
	for (int i = 0; i < 30; i++) {
		mine[i].size = 4096 * (uint64_t)(1 + i % 13) + (uint64_t)i;
		CU_ASSERT_EQUAL_FATAL(vmc_vmalloc(c, mine[i].size, &mine[i].addr), 0);
		for (uint64_t b = 0; b < mine[i].size; b++)
			buf[b] = (uint8_t)(b * 7 + (uint64_t)i);
		CU_ASSERT_EQUAL(vmc_write(c, mine[i].addr, buf, mine[i].size), 0);
	}
	for (int i = 0; i < 30; i += 4) {
		CU_ASSERT_EQUAL(vmc_vfree(c, mine[i].addr), 0);
		mine[i].addr = 0;
	}
	CU_ASSERT_EQUAL(vmc_alloc_pages(c, 0, 3, -1, &pfn), 0);
	CU_ASSERT_EQUAL(vmc_phys_write(c, pfn, 100, "alloc_pages bytes", 17), 0);
	CU_ASSERT_EQUAL(vmc_alloc_percpu(c, 256, 8, &pcpu), 0);
	CU_ASSERT_EQUAL(as_uid(1000, make_areas, sock), 0);
	/* A scoped area goes with its connection, here and after a restart alike. */
	CU_ASSERT_EQUAL(vmc_hello(c, &h1), 0);
	CU_ASSERT_EQUAL(vmc_identity(keep, &id1), 0);
	vi1 = text(c, VMC_VMALLOCINFO);
	bi1 = text(c, VMC_BUDDYINFO);
	mi1 = text(c, VMC_MEMINFO);
	vmc_close(c);
	CU_ASSERT_EQUAL(vmd_stop(&p, 10000), 0);

	CU_ASSERT_EQUAL_FATAL(vmd_start(&p, args, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(vmd_connect(sock, &c), 0);
	CU_ASSERT_EQUAL(vmc_hello(c, &h2), 0);
	/* The connection kept from before: a read goes through on a new one,
	 * the same machine (state generation) behind another daemon (boot id). */
	{
		uint64_t a = mine[1].addr;

		CU_ASSERT_EQUAL(vmc_read(keep, a, got, 64), 0);
		CU_ASSERT_EQUAL(vmc_reconnects(keep), 1);
		CU_ASSERT_EQUAL(vmc_identity(keep, &id2), 0);
		CU_ASSERT_NOT_EQUAL(id1.boot_id, id2.boot_id);
		CU_ASSERT_EQUAL(id1.state_generation, id2.state_generation);
		CU_ASSERT_NOT_EQUAL(id2.state_generation, 0);
	}
	vmc_close(keep);
	vi2 = text(c, VMC_VMALLOCINFO);
	bi2 = text(c, VMC_BUDDYINFO);
	mi2 = text(c, VMC_MEMINFO);
	CU_ASSERT_STRING_EQUAL(vi1, vi2);
	CU_ASSERT_STRING_EQUAL(bi1, bi2);
	CU_ASSERT_STRING_EQUAL(mi1, mi2);
	CU_ASSERT_PTR_NOT_NULL(strstr(vi2, "persist_uid_owner"));
	for (int i = 0; i < 30; i++) {
		if (!mine[i].addr)
			continue;
		for (uint64_t b = 0; b < mine[i].size; b++)
			buf[b] = (uint8_t)(b * 7 + (uint64_t)i);
		CU_ASSERT_EQUAL(vmc_read(c, mine[i].addr, got, mine[i].size), 0);
		CU_ASSERT_EQUAL(memcmp(buf, got, mine[i].size), 0);
	}
	CU_ASSERT_EQUAL(vmc_phys_read(c, pfn, 100, got, 17), 0);
	CU_ASSERT_EQUAL(memcmp(got, "alloc_pages bytes", 17), 0);
	CU_ASSERT_EQUAL(vmc_free_pages(c, pfn, 3), 0);
	CU_ASSERT_EQUAL(vmc_free_percpu(c, pcpu), 0);
	CU_ASSERT_EQUAL(vmc_check(c, msg, sizeof(msg)), 0);
	vmc_close(c);
	CU_ASSERT_EQUAL(vmd_stop(&p, 10000), 0);
	free(vi1); free(bi1); free(mi1); free(vi2); free(bi2); free(mi2);
	remove_dir(dir);
}

/* ---- a refusal of host memory, replayed ------------------------------------------------ */

/* A vmalloc refused because the frames reached --max-resident (its page
 * tables found no room) must stay refused after a kill -9: the journal's
 * replay keeps no residency of its own and would grant it. */
static void test_refusal_replayed(void)
{
	char *dir = make_dir();
	const char *args[] = { "--memory", "64M", "--max-resident", "1M", "--state-dir", NULL, NULL };
	static uint8_t page[4096];
	struct vmd_proc p;
	struct vmc_client *c;
	uint64_t big, addr = 0, written = 0;
	char *vi1, *mi1, *vi2, *mi2, msg[512];
	int r;

	CU_ASSERT_FATAL(dir != NULL);
	args[5] = dir;
	memset(page, 0x5a, sizeof(page));
	CU_ASSERT_EQUAL_FATAL(vmd_start(&p, args, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(vmd_connect(p.sock, &c), 0);
	/* Fill the budget with written pages, page by page, to the limit. */
	CU_ASSERT_EQUAL_FATAL(vmc_vmalloc(c, 2u << 20, &big), 0);
	while ((r = vmc_write(c, big + written, page, sizeof(page))) == 0 && written < (2u << 20))
		written += sizeof(page);
	CU_ASSERT_EQUAL(r, -ENOMEM);
	CU_ASSERT(written > 0 && written < (1u << 20));
	/* 8 MiB further on needs page tables of its own: refused. */
	r = vmc_vmalloc(c, 8u << 20, &addr);
	CU_ASSERT_EQUAL(r, -ENOMEM);
	CU_ASSERT_PTR_NOT_NULL(strstr(vmc_last_message(c), "host memory"));
	vi1 = text(c, VMC_VMALLOCINFO);
	mi1 = text(c, VMC_MEMINFO);
	vmc_close(c);
	kill(p.pid, SIGKILL);
	CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 128 + SIGKILL);

	CU_ASSERT_EQUAL_FATAL(vmd_start(&p, args, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(vmd_connect(p.sock, &c), 0);
	vi2 = text(c, VMC_VMALLOCINFO);
	mi2 = text(c, VMC_MEMINFO);
	CU_ASSERT_STRING_EQUAL(vi1, vi2);
	CU_ASSERT_STRING_EQUAL(mi1, mi2);
	CU_ASSERT_EQUAL(vmc_check(c, msg, sizeof(msg)), 0);
	/* The written pages are back; the budget still holds. */
	{
		static uint8_t got[4096];

		CU_ASSERT_EQUAL(vmc_read(c, big + written - sizeof(got), got, sizeof(got)), 0);
		CU_ASSERT_EQUAL(memcmp(got, page, sizeof(got)), 0);
	}
	CU_ASSERT_EQUAL(vmc_vmalloc(c, 8u << 20, &addr), -ENOMEM);
	vmc_close(c);
	CU_ASSERT_EQUAL(vmd_stop(&p, 10000), 0);
	free(vi1); free(mi1); free(vi2); free(mi2);
	remove_dir(dir);
}

/* ---- a corrupted state ---------------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat sb;
	char *p;

	if (fd < 0 || fstat(fd, &sb) < 0)
		return NULL;
	p = malloc((size_t)sb.st_size + 1);
	if (p && read(fd, p, (size_t)sb.st_size) != sb.st_size) {
		free(p);
		p = NULL;
	}
	close(fd);
	*len = (size_t)sb.st_size;
	return p;
}

static void test_corrupt_state(void)
{
	char *dir = make_dir(), sp[512], log[16384];
	const char *args[] = { "--memory", "64M", "--journal-size", "1M", "--state-dir", NULL, NULL };
	const char *bin = getenv("VMALLOCD_BIN");
	struct vmd_proc p;
	struct vmc_client *c;
	uint64_t addr;
	size_t len1, len2;
	char *before, *after;
	int fd, st;
	off_t flip;

	CU_ASSERT_FATAL(dir != NULL && bin != NULL);
	args[5] = dir;
	snprintf(sp, sizeof(sp), "%s/state", dir);
	CU_ASSERT_EQUAL_FATAL(vmd_start(&p, args, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(vmd_connect(p.sock, &c), 0);
	CU_ASSERT_EQUAL(vmc_vmalloc(c, 12345, &addr), 0);
	vmc_close(c);
	CU_ASSERT_EQUAL(vmd_stop(&p, 10000), 0);

	/* One byte in the middle of the current checkpoint flipped: the
	 * descriptors ({ gen, off, len, ... }) are at 512 and 1024. */
	before = slurp(sp, &len1);
	CU_ASSERT_FATAL(before != NULL && len1 > 8192);
	{
		uint64_t d0[3], d1[3], *cur;

		memcpy(d0, before + 512, sizeof(d0));
		memcpy(d1, before + 1024, sizeof(d1));
		cur = d0[0] > d1[0] ? d0 : d1;
		CU_ASSERT_FATAL(cur[1] + cur[2] <= len1 && cur[2] > 100);
		flip = (off_t)(cur[1] + cur[2] / 2);
	}
	fd = open(sp, O_WRONLY);
	CU_ASSERT_FATAL(fd >= 0);
	before[flip] ^= 0x5a;
	CU_ASSERT_EQUAL(pwrite(fd, before + flip, 1, flip), 1);
	close(fd);
	{
		const char *argv[] = { bin, "--config", "/dev/null", "--socket", "/tmp/vmd-never.sock",
				       "--memory", "64M", "--state-dir", dir, NULL };

		st = vmd_run(argv, NULL, 0, NULL, 0, log, sizeof(log));
	}
	CU_ASSERT_NOT_EQUAL(st, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "fails its checksum: refused"));
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "--discard-state"));
	after = slurp(sp, &len2);
	CU_ASSERT_FATAL(after != NULL);
	CU_ASSERT(len1 == len2 && memcmp(before, after, len1) == 0);
	free(after);

	/* Another machine than the state's: refused too, and named. */
	{
		const char *argv[] = { bin, "--config", "/dev/null", "--socket", "/tmp/vmd-never.sock",
				       "--memory", "128M", "--state-dir", dir, NULL };

		before[flip] ^= 0x5a;   /* the good state back */
		fd = open(sp, O_WRONLY);
		CU_ASSERT(pwrite(fd, before + flip, 1, flip) == 1);
		close(fd);
		st = vmd_run(argv, NULL, 0, NULL, 0, log, sizeof(log));
		CU_ASSERT_NOT_EQUAL(st, 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(log, "holds another machine"));
		CU_ASSERT_PTR_NOT_NULL(strstr(log, "128 MiB"));
		before[flip] ^= 0x5a;
		fd = open(sp, O_WRONLY);
		CU_ASSERT(pwrite(fd, before + flip, 1, flip) == 1);
		close(fd);
	}

	/* --discard-state: an empty machine, the refused files kept aside. */
	{
		const char *dargs[] = { "--memory", "64M", "--journal-size", "1M", "--state-dir", dir,
					"--discard-state", NULL };
		char *moved = NULL;
		DIR *d;
		struct dirent *e;
		struct vmc_area a;

		CU_ASSERT_EQUAL_FATAL(vmd_start(&p, dargs, NULL), 0);
		CU_ASSERT_EQUAL_FATAL(vmd_connect(p.sock, &c), 0);
		CU_ASSERT_EQUAL(vmc_area_info(c, addr, &a), -ENOENT);
		vmc_close(c);
		CU_ASSERT_EQUAL(vmd_stop(&p, 10000), 0);
		d = opendir(dir);
		while (d && (e = readdir(d)))
			if (strncmp(e->d_name, "state.refused-", 14) == 0 &&
			    asprintf(&moved, "%s/%s", dir, e->d_name) < 0)
				moved = NULL;
		if (d)
			closedir(d);
		CU_ASSERT_PTR_NOT_NULL_FATAL(moved);
		after = slurp(moved, &len2);
		CU_ASSERT(after && len1 == len2 && memcmp(before, after, len1) == 0);
		free(after);
		free(moved);
	}
	free(before);
	remove_dir(dir);
}

/* ---- snapshots ---------------------------------------------------------------------------- */

static void test_snapshot_round_trip(void)
{
	const char *args[] = { "--memory", "96M", "--cpus", "2", NULL };
	const char *bin = getenv("VMALLOCD_BIN");
	char file[] = "/tmp/vmd-snap.XXXXXX", *vi1, *bi1, *mi1, *vi2, *bi2, *mi2, msg[512], log[8192];
	struct vmd_proc p;
	struct vmc_client *c;
	struct owned a[40];
	uint64_t len = 0, pfn;
	static uint8_t buf[50000], got[50000];
	int fd;

	CU_ASSERT_FATAL(bin != NULL);
	fd = mkstemp(file);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(vmd_start(&p, args, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(vmd_connect(p.sock, &c), 0);
	vmc_set_caller(c, "snapshot_owner");
	for (int i = 0; i < 40; i++) {
		a[i].size = 3000 + (uint64_t)i * 1111;
		CU_ASSERT_EQUAL_FATAL(vmc_vmalloc(c, a[i].size, &a[i].addr), 0);
		for (uint64_t b = 0; b < a[i].size; b++)
			buf[b] = (uint8_t)(b ^ (uint64_t)i * 29);
		CU_ASSERT_EQUAL(vmc_write(c, a[i].addr, buf, a[i].size), 0);
	}
	for (int i = 1; i < 40; i += 3) {
		CU_ASSERT_EQUAL(vmc_vfree(c, a[i].addr), 0);
		a[i].addr = 0;
	}
	CU_ASSERT_EQUAL(vmc_alloc_pages(c, 0, 2, -1, &pfn), 0);
	CU_ASSERT_EQUAL(as_uid(1000, make_areas, p.sock), 0);
	CU_ASSERT_EQUAL(vmc_snapshot_save(c, fd, &len), 0);
	close(fd);
	CU_ASSERT(len > 4096);
	vi1 = text(c, VMC_VMALLOCINFO);
	bi1 = text(c, VMC_BUDDYINFO);
	mi1 = text(c, VMC_MEMINFO);
	vmc_close(c);
	CU_ASSERT_EQUAL(vmd_stop(&p, 10000), 0);

	/* Another daemon, from the file. */
	{
		const char *rargs[] = { "--memory", "96M", "--cpus", "2", "--restore", file, NULL };

		CU_ASSERT_EQUAL_FATAL(vmd_start(&p, rargs, NULL), 0);
	}
	CU_ASSERT_EQUAL_FATAL(vmd_connect(p.sock, &c), 0);
	vi2 = text(c, VMC_VMALLOCINFO);
	bi2 = text(c, VMC_BUDDYINFO);
	mi2 = text(c, VMC_MEMINFO);
	T_TEXT_EQ(vi2, vi1);
	T_TEXT_EQ(bi2, bi1);
	T_TEXT_EQ(mi2, mi1);
	for (int i = 0; i < 40; i++) {
		if (!a[i].addr)
			continue;
		for (uint64_t b = 0; b < a[i].size; b++)
			buf[b] = (uint8_t)(b ^ (uint64_t)i * 29);
		CU_ASSERT_EQUAL(vmc_read(c, a[i].addr, got, a[i].size), 0);
		CU_ASSERT_EQUAL(memcmp(buf, got, a[i].size), 0);
	}
	CU_ASSERT_EQUAL(vmc_check(c, msg, sizeof(msg)), 0);
	vmc_close(c);
	CU_ASSERT_EQUAL(vmd_stop(&p, 10000), 0);

	/* A snapshot of another machine than the command line asks for. */
	{
		const char *argv[] = { bin, "--config", "/dev/null", "--socket", "/tmp/vmd-never.sock",
				       "--memory", "96M", "--cpus", "2", "--kernel", "4.19",
				       "--restore", file, NULL };

		CU_ASSERT_NOT_EQUAL(vmd_run(argv, NULL, 0, NULL, 0, log, sizeof(log)), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(log, "holds another machine"));
		CU_ASSERT_PTR_NOT_NULL(strstr(log, "Linux 6.18"));
	}
	/* A snapshot cut short. */
	{
		const char *argv[] = { bin, "--config", "/dev/null", "--socket", "/tmp/vmd-never.sock",
				       "--memory", "96M", "--cpus", "2", "--restore", file, NULL };

		CU_ASSERT_EQUAL(truncate(file, (off_t)len - 1), 0);
		CU_ASSERT_NOT_EQUAL(vmd_run(argv, NULL, 0, NULL, 0, log, sizeof(log)), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(log, "cut short"));
	}
	unlink(file);
	free(vi1); free(bi1); free(mi1); free(vi2); free(bi2); free(mi2);
}

static const struct t_case cases[] = {
	{ "snapshot_round_trip", test_snapshot_round_trip },
	{ "clean_restart", test_clean_restart },
	{ "kill_during_storm", test_kill_during_storm },
	{ "corrupt_state", test_corrupt_state },
	{ "refusal_replayed", test_refusal_replayed },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return t_main_suite("persist", NULL, NULL, cases, argc, argv);
}
