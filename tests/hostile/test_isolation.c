/* test_isolation.c -- one uid against another (children that setuid() to
 * 65534 and 65533, forked without exec so a 0700 build tree is no
 * obstacle):
 *   - uid B can neither free, resize, read, write, translate, inspect nor
 *     vunmap uid A's areas, nor vmap, read, write or free A's alloc_pages
 *     frames (not even one among its own): -EPERM every time, and A's bytes
 *     are unchanged afterwards;
 *   - B sees none of A's areas in vmallocinfo or the leaks list (text and
 *     structured), and none of A's pages charged to it;
 *   - after A fills the machine with a marker byte (vmalloc, vrealloc,
 *     alloc_pages, scoped areas dropped by a SIGKILL) and everything of A's
 *     is gone, B allocates all the memory there is and reads every byte of
 *     it: no byte of the marker anywhere.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "hostile.h"
#include "vmclient.h"
#include "tcase.h"

#define UID_A 65534u
#define UID_B 65533u
#define MARKER 0x5a

static struct vmd_proc daemon_proc;

struct a_areas {
	uint64_t area, vmap, block, vmap_block;   /* block: order 1, vmap_block: order 0 */
	uint8_t secret[64];
};

/* ---- EPERM on everything ------------------------------------------------------------------ */

static int a_setup(void *arg)
{
	struct a_areas *x = arg;
	struct vmc_client *c;
	uint64_t pfn;

	if (vmd_connect(daemon_proc.sock, &c) < 0)
		return 101;
	pattern_fill(x->secret, sizeof(x->secret), 0xa11ce);
	if (vmc_vmalloc(c, 3 * 4096, &x->area) < 0 || vmc_write(c, x->area + 100, x->secret, 64) < 0)
		return 1;
	if (vmc_alloc_pages(c, GFP_KERNEL, 1, VMC_NO_NODE, &x->block) < 0 ||
	    vmc_phys_write(c, x->block, 4000, x->secret, 64) < 0)
		return 2;
	if (vmc_alloc_pages(c, GFP_KERNEL, 0, VMC_NO_NODE, &pfn) < 0 ||
	    vmc_phys_write(c, pfn, 0, x->secret, 64) < 0)
		return 3;
	x->vmap_block = pfn;
	if (vmc_vmap(c, &pfn, 1, 0, 0, &x->vmap) < 0)
		return 4;
	vmc_close(c);
	return 0;
}

static bool shows(const char *text, uint64_t addr)
{
	char want[32];

	snprintf(want, sizeof(want), "0x%016llx-", (unsigned long long)addr);
	return strstr(text, want) != NULL;
}

static int b_attack(void *arg)
{
	const struct a_areas *x = arg;
	struct vmc_client *c;
	struct vmc_translation t;
	struct vmc_area info, *areas;
	struct vmc_stat st;
	uint64_t out, mine, pfns[2];
	uint8_t buf[64];
	size_t n;
	char *text;
	int fails = 0;

#define EXPECT(call, want)                                                                   \
	do {                                                                                 \
		int r_ = (call);                                                             \
		if (r_ != (want)) {                                                          \
			fprintf(stderr, "  uid %u: %s: %d, wanted %d\n", UID_B, #call, r_, want); \
			fails++;                                                             \
		}                                                                            \
	} while (0)

	if (vmd_connect(daemon_proc.sock, &c) < 0)
		return 101;
	/* A's vmalloc area: at its start, inside it, in its guard page. */
	EXPECT(vmc_vfree(c, x->area), -EPERM);
	EXPECT(vmc_vrealloc(c, x->area, 8192, 0, &out), -EPERM);
	EXPECT(vmc_vrealloc(c, x->area, 0, 0, &out), -EPERM);
	EXPECT(vmc_read(c, x->area + 100, buf, 64), -EPERM);
	EXPECT(vmc_read(c, x->area + 4096, buf, 1), -EPERM);
	EXPECT(vmc_write(c, x->area + 100, "overwrite", 9), -EPERM);
	EXPECT(vmc_translate(c, x->area, &t), -EPERM);
	EXPECT(vmc_translate(c, x->area + 3 * 4096, &t), -EPERM);
	EXPECT(vmc_area_info(c, x->area + 5, &info), -EPERM);
	EXPECT(vmc_vunmap(c, x->area), -EPERM);
	/* A's vmap area. */
	EXPECT(vmc_vunmap(c, x->vmap), -EPERM);
	EXPECT(vmc_vfree(c, x->vmap), -EPERM);
	EXPECT(vmc_read(c, x->vmap, buf, 64), -EPERM);
	EXPECT(vmc_write(c, x->vmap, "x", 1), -EPERM);
	EXPECT(vmc_translate(c, x->vmap, &t), -EPERM);
	/* A's frames. */
	pfns[0] = x->block;
	EXPECT(vmc_vmap(c, pfns, 1, 0, 0, &out), -EPERM);
	pfns[0] = x->block + 1;
	EXPECT(vmc_vmap(c, pfns, 1, 0, 0, &out), -EPERM);
	EXPECT(vmc_phys_read(c, x->block, 4000, buf, 64), -EPERM);
	EXPECT(vmc_phys_write(c, x->block, 0, "x", 1), -EPERM);
	EXPECT(vmc_free_pages(c, x->block, 1), -EPERM);
	EXPECT(vmc_free_pages(c, x->vmap_block, 0), -EPERM);
	EXPECT(vmc_phys_read(c, x->vmap_block, 0, buf, 64), -EPERM);
	/* One of A's frames among B's own. */
	EXPECT(vmc_alloc_pages(c, GFP_KERNEL, 0, VMC_NO_NODE, &pfns[0]), 0);
	pfns[1] = x->block;
	EXPECT(vmc_vmap(c, pfns, 2, 0, 0, &out), -EPERM);
	EXPECT(vmc_vmap(c, pfns, 1, 0, 0, &out), 0);
	EXPECT(vmc_vunmap(c, out), 0);
	EXPECT(vmc_free_pages(c, pfns[0], 0), 0);
	EXPECT(vmc_purge(c), -EPERM);
	/* What B sees: its own area, none of A's. */
	EXPECT(vmc_vmalloc(c, 4096, &mine), 0);
	if (vmc_query_text(c, VMC_VMALLOCINFO, &text) == 0) {
		fails += shows(text, x->area) || shows(text, x->vmap) || !shows(text, mine);
		free(text);
	} else {
		fails++;
	}
	if (vmc_query_text(c, VMC_LEAKS, &text) == 0) {
		fails += shows(text, x->area) || shows(text, x->vmap);
		free(text);
	} else {
		fails++;
	}
	if (vmc_areas(c, false, &areas, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			fails += areas[i].uid != UID_B;
		fails += n != 1;
		free(areas);
	} else {
		fails++;
	}
	if (vmc_areas(c, true, &areas, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			fails += areas[i].uid != UID_B;
		free(areas);
	} else {
		fails++;
	}
	EXPECT(vmc_stat(c, &st), 0);
	fails += st.your_pages != 1;
	EXPECT(vmc_vfree(c, mine), 0);
	vmc_close(c);
#undef EXPECT
	return fails > 99 ? 99 : fails;
}

static int a_verify_and_free(void *arg)
{
	const struct a_areas *x = arg;
	struct vmc_client *c;
	uint8_t buf[64];
	int fails = 0;

	if (vmd_connect(daemon_proc.sock, &c) < 0)
		return 101;
	fails += vmc_read(c, x->area + 100, buf, 64) != 0 || memcmp(buf, x->secret, 64) != 0;
	fails += vmc_phys_read(c, x->block, 4000, buf, 64) != 0 || memcmp(buf, x->secret, 64) != 0;
	fails += vmc_read(c, x->vmap, buf, 64) != 0 || memcmp(buf, x->secret, 64) != 0;
	fails += vmc_vunmap(c, x->vmap) != 0;
	fails += vmc_free_pages(c, x->vmap_block, 0) != 0;
	fails += vmc_free_pages(c, x->block, 1) != 0;
	fails += vmc_vfree(c, x->area) != 0;
	vmc_close(c);
	return fails;
}

static void test_eperm(void)
{
	struct a_areas *x;

	if (getuid() != 0) {
		fprintf(stderr, "  skipped: needs root to run as other uids\n");
		return;
	}
	/* Shared with the children: fork copies it, so set it up first. */
	x = calloc(1, sizeof(*x));
	CU_ASSERT_FATAL(x != NULL);
	{
		/* a_setup runs as A in a child; its results come back by a pipe. */
		int pfd[2];
		pid_t pid;
		int st;

		CU_ASSERT_FATAL(pipe(pfd) == 0);
		pid = vmd_fork();
		if (pid == 0) {
			int r;

			close(pfd[0]);
			if (setgid(UID_A) < 0 || setuid(UID_A) < 0)
				_exit(100);
			r = a_setup(x);
			if (write(pfd[1], x, sizeof(*x)) != (ssize_t)sizeof(*x))
				_exit(102);
			_exit(r);
		}
		close(pfd[1]);
		CU_ASSERT_EQUAL(read(pfd[0], x, sizeof(*x)), (ssize_t)sizeof(*x));
		close(pfd[0]);
		waitpid(pid, &st, 0);
		CU_ASSERT_FATAL(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	CU_ASSERT_EQUAL(as_uid(UID_B, b_attack, x), 0);
	CU_ASSERT_EQUAL(as_uid(UID_A, a_verify_and_free, x), 0);
	free(x);
}

/* ---- no byte of the marker ----------------------------------------------------------------- */

/* A: fill the machine with MARKER every way there is; leave some of it to
 * be freed by SIGKILL (scoped), free the rest. */
static int a_fill(void *arg)
{
	static uint8_t buf[1 << 20];
	struct vmc_client *c, *sc;
	uint64_t *areas = calloc(1 << 16, sizeof(*areas)), a, pfn;
	unsigned n = 0, blocks = 0;
	uint64_t bl[4096];
	int *pipe_w = arg;

	if (!areas || vmd_connect(daemon_proc.sock, &c) < 0 || vmd_connect(daemon_proc.sock, &sc) < 0)
		return 101;
	memset(buf, MARKER, sizeof(buf));
	/* A quarter in scoped areas on a second connection, dropped below. */
	vmc_set_scoped(sc, true);
	for (int i = 0; i < 14; i++)
		if (vmc_vmalloc(sc, 1 << 20, &a) == 0 && vmc_write(sc, a, buf, 1 << 20) != 0)
			return 1;
	/* Blocks of every order through phys_write. */
	for (int order = 6; order >= 0; order--) {
		for (int k = 0; k < 8 && blocks < 4096; k++) {
			if (vmc_alloc_pages(c, GFP_KERNEL, (unsigned)order, VMC_NO_NODE, &pfn) < 0)
				break;
			if (vmc_phys_write(c, pfn, 0, buf, 4096ull << order) < 0)
				return 2;
			bl[blocks++] = pfn << 4 | (unsigned)order;
		}
	}
	/* vrealloc: a moved area leaves its old frames behind. */
	if (vmc_vmalloc(c, 4096, &a) == 0) {
		if (vmc_write(c, a, buf, 4096) < 0 || vmc_vrealloc(c, a, 1 << 20, 0, &a) < 0 ||
		    vmc_write(c, a, buf, 1 << 20) < 0)
			return 3;
		areas[n++] = a;
	}
	/* Then vmalloc until nothing is left, 1 MiB and then page by page. */
	for (uint64_t size = 1 << 20; size >= 4096; size >>= 2) {
		while (n < (1 << 16) && vmc_vmalloc(c, size, &a) == 0) {
			if (vmc_write(c, a, buf, size) < 0)
				return 4;
			areas[n++] = a;
		}
	}
	/* GFP_ATOMIC digs into the reserve: fill that too. */
	while (blocks < 4096 && vmc_alloc_pages(c, GFP_ATOMIC, 0, VMC_NO_NODE, &pfn) == 0) {
		if (vmc_phys_write(c, pfn, 0, buf, 4096) < 0)
			return 5;
		bl[blocks++] = pfn << 4;
	}
	for (unsigned i = 0; i < n; i++)
		if (vmc_vfree(c, areas[i]) < 0)
			return 6;
	for (unsigned i = 0; i < blocks; i++)
		if (vmc_free_pages(c, bl[i] >> 4, (unsigned)(bl[i] & 15)) < 0)
			return 7;
	vmc_close(c);
	free(areas);
	/* Tell the parent we are done, then wait for the SIGKILL that drops
	 * the scoped connection. */
	(void)!write(pipe_w[1], "f", 1);
	pause();
	return 0;
}

struct b_result {
	uint64_t bytes, marker_bytes, nonzero;
};

struct b_arg {
	struct b_result r;
	int pfd[2];
};

static int b_scan(void *arg)
{
	static uint8_t buf[1 << 20];
	struct b_arg *ba = arg;
	struct b_result *res = &ba->r;
	struct vmc_client *c;
	uint64_t a, pfn;
	int *pipe_w = ba->pfd;

	if (vmd_connect(daemon_proc.sock, &c) < 0)
		return 101;
	vmc_set_timeout(c, 60000);
	for (uint64_t size = 1 << 20; size >= 4096; size >>= 2) {
		while (vmc_vmalloc(c, size, &a) == 0) {
			if (vmc_read(c, a, buf, size) < 0)
				return 1;
			for (uint64_t i = 0; i < size; i++) {
				res->marker_bytes += buf[i] == MARKER;
				res->nonzero += buf[i] != 0;
			}
			res->bytes += size;
		}
	}
	while (vmc_alloc_pages(c, GFP_ATOMIC, 0, VMC_NO_NODE, &pfn) == 0) {
		if (vmc_phys_read(c, pfn, 0, buf, 4096) < 0)
			return 2;
		for (int i = 0; i < 4096; i++) {
			res->marker_bytes += buf[i] == MARKER;
			res->nonzero += buf[i] != 0;
		}
		res->bytes += 4096;
	}
	vmc_close(c);
	(void)!write(pipe_w[1], res, sizeof(*res));
	return 0;
}

static void test_no_marker(void)
{
	struct vmc_client *root;
	struct vmc_stat st;
	struct b_arg b = { { 0, 0, 0 }, { -1, -1 } };
	int pfd[2], st_a;
	pid_t a;
	char x;

	if (getuid() != 0) {
		fprintf(stderr, "  skipped: needs root to run as other uids\n");
		return;
	}
	CU_ASSERT_FATAL(vmd_connect(daemon_proc.sock, &root) == 0);
	CU_ASSERT_FATAL(pipe(pfd) == 0);
	a = vmd_fork();
	if (a == 0) {
		close(pfd[0]);
		if (setgid(UID_A) < 0 || setuid(UID_A) < 0)
			_exit(100);
		_exit(a_fill(pfd));
	}
	close(pfd[1]);
	CU_ASSERT_EQUAL_FATAL(read(pfd[0], &x, 1), 1);
	close(pfd[0]);
	kill(a, SIGKILL);
	waitpid(a, &st_a, 0);
	/* Wait until the daemon has dropped A's scoped areas. */
	for (int i = 0; i < 500; i++) {
		if (vmc_stat(root, &st) == 0 && st.nr_areas == 0)
			break;
		usleep(10000);
	}
	CU_ASSERT_EQUAL(st.nr_areas, 0);
	CU_ASSERT_EQUAL(st.alloc_pages_pages, 0);

	CU_ASSERT_FATAL(pipe(b.pfd) == 0);
	CU_ASSERT_EQUAL(as_uid(UID_B, b_scan, &b), 0);
	close(b.pfd[1]);
	CU_ASSERT_EQUAL(read(b.pfd[0], &b.r, sizeof(b.r)), (ssize_t)sizeof(b.r));
	close(b.pfd[0]);
	CU_ASSERT_EQUAL(vmc_stat(root, &st), 0);
	fprintf(stderr, "  uid %u read %llu MiB of a %llu MiB machine after uid %u filled it: "
		"%llu marker bytes, %llu non-zero bytes\n", UID_B,
		(unsigned long long)(b.r.bytes >> 20), (unsigned long long)(st.total_pages >> 8),
		UID_A, (unsigned long long)b.r.marker_bytes, (unsigned long long)b.r.nonzero);
	CU_ASSERT_EQUAL(b.r.marker_bytes, 0);
	CU_ASSERT_EQUAL(b.r.nonzero, 0);
	/* B had (nearly) all of it: everything but page tables and the
	 * frames its own areas' page tables took. */
	CU_ASSERT_TRUE(b.r.bytes + (st.pagetable_pages << 12) + (1 << 20) >= st.total_pages << 12);
	/* Clean up B's areas as root. */
	{
		struct vmc_area *areas;
		size_t n;
		char msg[256];

		CU_ASSERT_EQUAL(vmc_areas(root, false, &areas, &n), 0);
		for (size_t i = 0; i < n; i++)
			CU_ASSERT_EQUAL(vmc_vfree(root, areas[i].addr), 0);
		free(areas);
		CU_ASSERT_EQUAL(vmc_check(root, msg, sizeof(msg)), 0);
	}
	vmc_close(root);
}

static int suite_init(void)
{
	static const char *const args[] = { "--memory", "64M", NULL };

	return vmd_start(&daemon_proc, args, NULL) < 0 ? -1 : 0;
}

static int suite_clean(void)
{
	return vmd_stop(&daemon_proc, 30000) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "eperm", test_eperm },
		{ "no_marker", test_no_marker },
		{ NULL, NULL },
	};

	return t_main_suite("isolation", suite_init, suite_clean, cases, argc, argv);
}
