/* test_hostmem.c -- the host's memory as a budget (docs/reliability.md,
 * section 10):
 *   - a daemon in a small memory cgroup (256 MiB) serving a 1 GiB machine:
 *     writes, frees and writes again more than the cgroup holds in all; at
 *     its derived max-resident a write gets -ENOMEM naming the cgroup's
 *     limit, the daemon lives (no OOM kill, no SIGBUS) and what was written
 *     earlier reads back intact;
 *   - reading 512 MiB of a never-written area leaves the daemon's RssShmem
 *     flat; free and purge bring it back near its starting value.
 * The cgroup is a child of the test's own memory cgroup, v2 (memory.max)
 * where the unified hierarchy has the memory controller, else v1
 * (memory.limit_in_bytes); the test exits 77 only where neither can be
 * made.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "hostile.h"
#include "tcase.h"
#include "vmclient.h"

#define MIB (1ull << 20)

static char cg_dir[512];      /* the cgroup made for the daemon, "" if none */
static char cg_procs[600], cg_parent_procs[600];

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	int r = 0;

	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		r = -EIO;
	if (fclose(f) != 0 && !r)
		r = -errno;
	return r;
}

/* Our cgroup under the hierarchy that has the memory controller: v2 first. */
static int make_cgroup(uint64_t limit, char *why, size_t whylen)
{
	static const char *const v2_roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[512], v2[512] = "", v1[512] = "", ctl[600], val[32];
	const char *dir = NULL, *file = NULL;
	int r;

	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::", 3) == 0)
			snprintf(v2, sizeof(v2), "%s", line + 3);
		else if (strstr(line, ":memory:"))
			snprintf(v1, sizeof(v1), "%s", strstr(line, ":memory:") + 8);
	}
	if (f)
		fclose(f);
	for (size_t i = 0; i < 2 && !dir && *v2; i++) {
		FILE *c;
		char buf[256] = "";

		snprintf(ctl, sizeof(ctl), "%s%s/cgroup.controllers", v2_roots[i],
			 strcmp(v2, "/") ? v2 : "");
		c = fopen(ctl, "re");
		if (c) {
			if (fgets(buf, sizeof(buf), c) && strstr(buf, "memory")) {
				snprintf(cg_dir, sizeof(cg_dir), "%s%s/vmallocd-test-%d", v2_roots[i],
					 strcmp(v2, "/") ? v2 : "", (int)getpid());
				dir = cg_dir;
				file = "memory.max";
			}
			fclose(c);
		}
	}
	if (!dir && *v1) {
		snprintf(cg_dir, sizeof(cg_dir), "/sys/fs/cgroup/memory%s/vmallocd-test-%d",
			 strcmp(v1, "/") ? v1 : "", (int)getpid());
		dir = cg_dir;
		file = "memory.limit_in_bytes";
	}
	if (!dir) {
		snprintf(why, whylen, "no memory cgroup controller (v1 or v2) here");
		return -ENOENT;
	}
	if (mkdir(dir, 0755) < 0) {
		snprintf(why, whylen, "cannot make %s: %s", dir, strerror(errno));
		cg_dir[0] = '\0';
		return -errno;
	}
	snprintf(ctl, sizeof(ctl), "%s/%s", dir, file);
	snprintf(val, sizeof(val), "%llu", (unsigned long long)limit);
	if ((r = write_file(ctl, val)) < 0) {
		snprintf(why, whylen, "cannot write %s: %s", ctl, strerror(-r));
		rmdir(dir);
		cg_dir[0] = '\0';
		return r;
	}
	/* No swap for the daemon's frames: the limit is the memory it has. */
	snprintf(ctl, sizeof(ctl), "%s/%s", dir,
		 strcmp(file, "memory.max") == 0 ? "memory.swap.max" : "memory.swappiness");
	(void)write_file(ctl, "0");
	snprintf(cg_procs, sizeof(cg_procs), "%s/cgroup.procs", dir);
	snprintf(cg_parent_procs, sizeof(cg_parent_procs), "%.*s/cgroup.procs",
		 (int)(strrchr(dir, '/') - dir), dir);
	return 0;
}

static void remove_cgroup(void)
{
	if (!cg_dir[0])
		return;
	/* The daemon has stopped; the cgroup is empty now. */
	for (int i = 0; i < 50 && rmdir(cg_dir) < 0 && errno == EBUSY; i++)
		usleep(20000);
	cg_dir[0] = '\0';
}

/* The daemon's RssShmem in KiB (its frames in the host's memory). */
static long rss_shmem_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssShmem: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* Write len bytes of the pattern of seed at addr, 1 MiB per call. */
static int write_area(struct vmc_client *c, uint64_t addr, uint64_t len, uint64_t seed,
		      uint8_t *buf)
{
	for (uint64_t off = 0; off < len; off += MIB) {
		int r;

		pattern_fill(buf, MIB, seed + off);
		if ((r = vmc_write(c, addr + off, buf, MIB)) < 0)
			return r;
	}
	return 0;
}

static bool area_intact(struct vmc_client *c, uint64_t addr, uint64_t len, uint64_t seed,
			uint8_t *buf)
{
	for (uint64_t off = 0; off < len; off += MIB)
		if (vmc_read(c, addr + off, buf, MIB) < 0 || pattern_check(buf, MIB, seed + off) != MIB)
			return false;
	return true;
}

/* In a 256 MiB cgroup the daemon's derived budget is 192 MiB.  150 MiB
 * written, freed, and 150 MiB written elsewhere: without the frames going
 * back that is 300 MiB and the cgroup's OOM killer ends the daemon.  Then
 * writes go on until the budget refuses one: -ENOMEM naming the cgroup, the
 * daemon alive, the 150 MiB intact. */
static void test_cgroup(void)
{
	const char *args[] = { "--memory", "1G", NULL };
	uint8_t *buf = malloc(MIB);
	struct vmd_proc p;
	struct vmc_client *c;
	struct vmc_stat st;
	uint64_t a, b, big, off;
	char why[700];
	int r;

	CU_ASSERT_FATAL(buf != NULL);
	/* Under valgrind its own shadow memory is charged to the cgroup too:
	 * the budget derived from the limit cannot leave it room. */
#if defined(__SANITIZE_ADDRESS__)
	fprintf(stderr, "  not under ASan: its shadow memory and quarantine count in the cgroup\n");
	free(buf);
	return;
#endif
	if (under_wrapper()) {
		fprintf(stderr, "  not under $VMALLOCD_WRAPPER: the wrapper's memory counts in the cgroup\n");
		free(buf);
		return;
	}
	if (make_cgroup(256 * MIB, why, sizeof(why)) < 0) {
		fprintf(stderr, "  skipped: %s\n", why);
		free(buf);
		exit(77);
	}
	/* The daemon is started from inside the cgroup (its budget is derived
	 * at start), then the test leaves it. */
	CU_ASSERT_FATAL(write_file(cg_procs, "0") == 0);
	r = vmd_start(&p, args, NULL);
	CU_ASSERT_FATAL(write_file(cg_parent_procs, "0") == 0);
	CU_ASSERT_FATAL(r == 0);
	CU_ASSERT_FATAL(vmd_connect(p.sock, &c) == 0);
	CU_ASSERT_EQUAL_FATAL(vmc_stat(c, &st), 0);
	fprintf(stderr, "  max_resident_pages %llu (%llu MiB)\n",
		(unsigned long long)st.max_resident_pages,
		(unsigned long long)(st.max_resident_pages >> 8));
	CU_ASSERT(st.max_resident_pages > 0 && st.max_resident_pages <= (256 * MIB / 4096));

	CU_ASSERT_FATAL(vmc_vmalloc(c, 150 * MIB, &a) == 0);
	CU_ASSERT_EQUAL(write_area(c, a, 150 * MIB, 1, buf), 0);
	CU_ASSERT_EQUAL(vmc_vfree(c, a), 0);
	CU_ASSERT_FATAL(vmc_vmalloc(c, 150 * MIB, &b) == 0);
	CU_ASSERT_EQUAL(write_area(c, b, 150 * MIB, 2, buf), 0);
	CU_ASSERT_FATAL(kill(p.pid, 0) == 0);

	/* Past the budget: -ENOMEM with the reason, nothing killed. */
	CU_ASSERT_FATAL(vmc_vmalloc(c, 512 * MIB, &big) == 0);
	for (off = 0, r = 0; off < 512 * MIB && r == 0; off += MIB) {
		pattern_fill(buf, MIB, 3 + off);
		r = vmc_write(c, big + off, buf, MIB);
	}
	fprintf(stderr, "  refused after %llu MiB more: %s\n", (unsigned long long)(off / MIB) - 1,
		vmc_last_message(c));
	CU_ASSERT_EQUAL(r, -ENOMEM);
	CU_ASSERT(strstr(vmc_last_message(c), "max-resident") != NULL);
	CU_ASSERT(strstr(vmc_last_message(c), "memory cgroup") != NULL);
	CU_ASSERT(kill(p.pid, 0) == 0);
	CU_ASSERT(area_intact(c, b, 150 * MIB, 2, buf));
	/* Reading what was never written costs nothing either. */
	CU_ASSERT_EQUAL(vmc_read(c, big + 500 * MIB, buf, MIB), 0);
	/* And freeing makes room again. */
	CU_ASSERT_EQUAL(vmc_vfree(c, big), 0);
	CU_ASSERT_FATAL(vmc_vmalloc(c, 32 * MIB, &a) == 0);
	CU_ASSERT_EQUAL(write_area(c, a, 32 * MIB, 4, buf), 0);
	CU_ASSERT(area_intact(c, b, 150 * MIB, 2, buf));
	CU_ASSERT(area_intact(c, a, 32 * MIB, 4, buf));
	CU_ASSERT_EQUAL(vmc_check(c, why, sizeof(why)), 0);
	vmc_close(c);
	CU_ASSERT_EQUAL(vmd_stop(&p, 20000), 0);
	remove_cgroup();
	free(buf);
}

/* Reading 512 MiB never written leaves RssShmem flat; 256 MiB written
 * then freed and purged brings it back near where it started. */
static void test_rss(void)
{
	const char *args[] = { "--memory", "2G", NULL };
	uint8_t *buf = malloc(MIB);
	struct vmd_proc p;
	struct vmc_client *c;
	uint64_t a;
	long rss0, rss;

	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_FATAL(vmd_start(&p, args, NULL) == 0);
	CU_ASSERT_FATAL(vmd_connect(p.sock, &c) == 0);
	rss0 = rss_shmem_kib(p.pid);
	CU_ASSERT_FATAL(vmc_vmalloc(c, 512 * MIB, &a) == 0);
	for (uint64_t off = 0; off < 512 * MIB; off += MIB)
		CU_ASSERT_EQUAL_FATAL(vmc_read(c, a + off, buf, MIB), 0);
	rss = rss_shmem_kib(p.pid);
	fprintf(stderr, "  RssShmem %ld kB, after reading 512 MiB never written %ld kB\n", rss0, rss);
	/* The area's page tables (1 MiB for 512 MiB) and nothing else. */
	T_ASSERT_MSG(rss - rss0 < 4096, "RssShmem %ld -> %ld kB", rss0, rss);
	CU_ASSERT_EQUAL(write_area(c, a, 256 * MIB, 5, buf), 0);
	rss = rss_shmem_kib(p.pid);
	fprintf(stderr, "  after writing 256 MiB %ld kB\n", rss);
	CU_ASSERT(rss - rss0 > 250 * 1024);
	CU_ASSERT_EQUAL(vmc_vfree(c, a), 0);
	CU_ASSERT_EQUAL(vmc_purge(c), 0);
	rss = rss_shmem_kib(p.pid);
	fprintf(stderr, "  after free and purge %ld kB\n", rss);
	T_ASSERT_MSG(rss - rss0 < 4096, "RssShmem %ld -> %ld kB after free + purge", rss0, rss);
	vmc_close(c);
	CU_ASSERT_EQUAL(vmd_stop(&p, 20000), 0);
	free(buf);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "cgroup", test_cgroup },
		{ "rss", test_rss },
		{ NULL, NULL },
	};
	int r = t_main("hostmem", cases, argc, argv);

	remove_cgroup();
	return r;
}
