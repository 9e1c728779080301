/* test_exhaustion.c -- running out of everything:
 *   - the simulated machine out of frames (vmalloc, alloc_pages, vmap's page
 *     tables): -ENOMEM to the caller, the engine exactly as before each
 *     failed call, queries still answered, GFP_ATOMIC still served from the
 *     reserve, and recovery once memory is freed;
 *   - the i386 layout's 112 MiB of KVA out of holes while frames are free:
 *     -ENOMEM after a purge-and-retry, recovery after vfree;
 *   - a uid's quota exhausted exactly at its boundary, by vmalloc,
 *     alloc_pages and vrealloc alike: -EDQUOT, nothing charged for failures;
 *   - the daemon's own malloc failing (vmallocd-faultinj, daemon/fault.h)
 *     at every allocation site in turn, once while serving a fixed request
 *     script (N = 1, 2, 3 ... until the script runs with no failure left to
 *     inject) and once during start-up: every request gets its answer or an
 *     error reply (-ENOMEM) or its connection is closed cleanly; never a
 *     crash, a hang, a broken invariant, or (under ASan/LSan or valgrind) a
 *     leak at exit.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "hostile.h"
#include "vmclient.h"
#include "tcase.h"

#define NOBODY 65534u
#define OTHER  65533u

static bool clean(struct vmc_client *c)
{
	char msg[256];
	int r = vmc_check(c, msg, sizeof(msg));

	if (r < 0)
		fprintf(stderr, "  check: %s\n", r == -EUCLEAN ? msg : vmc_strerror(r));
	return r == 0;
}

/* ---- the simulated machine --------------------------------------------------------- */

static void test_out_of_frames(void)
{
	const char *args[] = { "--memory", "64M", NULL };
	struct vmd_proc p;
	struct vmc_client *c;
	struct vmc_stat s0, s1;
	struct vmc_meminfo m0, m1;
	uint64_t *areas = calloc(4096, sizeof(*areas)), a, pfn;
	unsigned n = 0, pages = 0;
	char *text;
	int r;

	CU_ASSERT_FATAL(areas != NULL);
	CU_ASSERT_FATAL(vmd_start(&p, args, NULL) == 0);
	CU_ASSERT_FATAL(vmd_connect(p.sock, &c) == 0);
	CU_ASSERT_EQUAL(vmc_meminfo(c, &m0), 0);
	/* 1 MiB areas until the machine is full. */
	while ((r = vmc_vmalloc(c, 1 << 20, &a)) == 0 && n < 4096)
		areas[n++] = a;
	CU_ASSERT_EQUAL(r, -ENOMEM);
	CU_ASSERT_TRUE(n > 40 && n < 64);
	/* Then single pages into what is left. */
	while ((r = vmc_vmalloc(c, 4096, &a)) == 0 && n < 4096) {
		areas[n++] = a;
		pages++;
	}
	CU_ASSERT_EQUAL(r, -ENOMEM);
	fprintf(stderr, "  full after %u areas (%u of them single pages)\n", n, pages);
	/* A failed call changes nothing. */
	CU_ASSERT_EQUAL(vmc_stat(c, &s0), 0);
	CU_ASSERT_EQUAL(vmc_vmalloc(c, 4096, &a), -ENOMEM);
	CU_ASSERT_EQUAL(vmc_vzalloc(c, 1 << 20, &a), -ENOMEM);
	CU_ASSERT_EQUAL(vmc_alloc_pages(c, GFP_KERNEL, 3, VMC_NO_NODE, &pfn), -ENOMEM);
	CU_ASSERT_EQUAL(vmc_stat(c, &s1), 0);
	CU_ASSERT_EQUAL(s1.free_pages, s0.free_pages);
	CU_ASSERT_EQUAL(s1.nr_areas, s0.nr_areas);
	CU_ASSERT_EQUAL(s1.pagetable_pages, s0.pagetable_pages);
	CU_ASSERT_TRUE(s1.nr_alloc_failures > s0.nr_alloc_failures);
	CU_ASSERT_TRUE(clean(c));
	/* The daemon's own answers do not need the simulated memory. */
	CU_ASSERT_EQUAL(vmc_query_text(c, VMC_VMALLOCINFO, &text), 0);
	free(text);
	CU_ASSERT_EQUAL(vmc_query_text(c, VMC_BUDDYINFO, &text), 0);
	free(text);
	/* GFP_ATOMIC may dig into the reserve below the min watermark. */
	r = vmc_alloc_pages(c, GFP_ATOMIC, 0, VMC_NO_NODE, &pfn);
	CU_ASSERT_EQUAL(r, 0);
	if (r == 0)
		CU_ASSERT_EQUAL(vmc_free_pages(c, pfn, 0), 0);
	/* Free every other area: allocation works again, and the holes are
	 * filled page by page (vmalloc needs no contiguous frames). */
	for (unsigned i = 0; i < n; i += 2) {
		CU_ASSERT_EQUAL(vmc_vfree(c, areas[i]), 0);
		areas[i] = 0;
	}
	CU_ASSERT_EQUAL(vmc_vmalloc(c, 8 << 20, &a), 0);
	CU_ASSERT_EQUAL(vmc_vfree(c, a), 0);
	for (unsigned i = 1; i < n; i += 2)
		CU_ASSERT_EQUAL(vmc_vfree(c, areas[i]), 0);
	CU_ASSERT_EQUAL(vmc_purge(c), 0);
	CU_ASSERT_EQUAL(vmc_meminfo(c, &m1), 0);
	/* Every frame back, but the page tables, which no kernel frees. */
	CU_ASSERT_TRUE(m1.page_tables >= m0.page_tables);
	CU_ASSERT_EQUAL(m1.mem_free + (m1.page_tables - m0.page_tables), m0.mem_free);
	CU_ASSERT_TRUE(clean(c));

	/* alloc_pages of every order until none is left, then back. */
	n = 0;
	for (int order = 10; order >= 0; order--) {
		while (n < 4096 && vmc_alloc_pages(c, GFP_KERNEL, (unsigned)order, VMC_NO_NODE, &pfn) == 0)
			areas[n++] = pfn << 4 | (unsigned)order;
	}
	CU_ASSERT_EQUAL(vmc_vmalloc(c, 4096, &a), -ENOMEM);
	CU_ASSERT_TRUE(clean(c));
	for (unsigned i = 0; i < n; i++)
		CU_ASSERT_EQUAL(vmc_free_pages(c, areas[i] >> 4, (unsigned)(areas[i] & 15)), 0);
	CU_ASSERT_EQUAL(vmc_meminfo(c, &m1), 0);
	CU_ASSERT_EQUAL(m1.mem_free + (m1.page_tables - m0.page_tables), m0.mem_free);
	CU_ASSERT_TRUE(clean(c));
	free(areas);
	vmc_close(c);
	CU_ASSERT_EQUAL(vmd_stop(&p, 30000), 0);
}

static void test_out_of_kva(void)
{
	const char *args[] = { "--memory", "1G", "--layout", "i386", NULL };
	struct vmd_proc p;
	struct vmc_client *c;
	struct vmc_stat st;
	uint64_t areas[64], a;
	unsigned n = 0;
	int r;

	CU_ASSERT_FATAL(vmd_start(&p, args, NULL) == 0);
	CU_ASSERT_FATAL(vmd_connect(p.sock, &c) == 0);
	/* 8 MiB areas: the ~112 MiB window holds 13 of them, the machine far
	 * more. */
	while (n < 64 && (r = vmc_vmalloc(c, 8 << 20, &a)) == 0)
		areas[n++] = a;
	CU_ASSERT_EQUAL(r, -ENOMEM);
	CU_ASSERT_EQUAL(vmc_stat(c, &st), 0);
	fprintf(stderr, "  i386: KVA full after %u areas of 8 MiB, %llu of %llu frames free\n", n,
		(unsigned long long)st.free_pages, (unsigned long long)st.total_pages);
	CU_ASSERT_TRUE(n >= 10 && n < 16);
	CU_ASSERT_TRUE(st.free_pages > st.total_pages / 2);
	/* The freed range waits on the lazy list; the next allocation that
	 * finds no hole purges and retries. */
	CU_ASSERT_EQUAL(vmc_vfree(c, areas[n - 1]), 0);
	CU_ASSERT_EQUAL(vmc_vmalloc(c, 8 << 20, &areas[n - 1]), 0);
	CU_ASSERT_EQUAL(vmc_vmalloc(c, 4096, &a) == 0 ? vmc_vfree(c, a) : -ENOMEM, 0);
	for (unsigned i = 0; i < n; i++)
		CU_ASSERT_EQUAL(vmc_vfree(c, areas[i]), 0);
	CU_ASSERT_TRUE(clean(c));
	vmc_close(c);
	CU_ASSERT_EQUAL(vmd_stop(&p, 30000), 0);
}

/* ---- quotas -------------------------------------------------------------------------------- */

static struct vmd_proc quota_proc;

static int quota_child(void *arg)
{
	struct vmc_client *c;
	struct vmc_stat st;
	uint64_t a, b, pfn, x;
	int fails = 0;

	(void)arg;
	if (vmd_connect(quota_proc.sock, &c) < 0)
		return 101;
	/* 256 pages (1 MiB), exactly. */
	fails += vmc_vmalloc(c, 255 * 4096, &a) != 0;
	fails += vmc_vmalloc(c, 4097, &x) != -EDQUOT;         /* 2 pages: one too many */
	fails += vmc_alloc_pages(c, GFP_KERNEL, 1, VMC_NO_NODE, &pfn) != -EDQUOT;
	fails += vmc_vrealloc(c, a, 256 * 4096 + 1, 0, &x) != -EDQUOT;
	fails += vmc_vmalloc(c, 4096, &b) != 0;               /* the last page */
	fails += vmc_stat(c, &st) != 0 || st.your_pages != 256 || st.your_quota != 256;
	fails += vmc_vmalloc(c, 1, &x) != -EDQUOT;
	fails += vmc_alloc_pages(c, GFP_KERNEL, 0, VMC_NO_NODE, &pfn) != -EDQUOT;
	/* Failures charged nothing; a free gives the pages back. */
	fails += vmc_vfree(c, b) != 0;
	fails += vmc_alloc_pages(c, GFP_KERNEL, 0, VMC_NO_NODE, &pfn) != 0;
	fails += vmc_vmalloc(c, 1, &x) != -EDQUOT;
	fails += vmc_free_pages(c, pfn, 0) != 0;
	/* Shrinking keeps the charge of the pages still mapped. */
	fails += vmc_vrealloc(c, a, 4096, 0, &x) != 0;
	fails += vmc_stat(c, &st) != 0 || st.your_pages != 255;
	fails += vmc_vfree(c, x) != 0;
	fails += vmc_stat(c, &st) != 0 || st.your_pages != 0;
	/* Over the quota is refused before the machine is even asked. */
	fails += vmc_vmalloc(c, 1ull << 40, &x) != -EDQUOT;
	fails += vmc_stat(c, &st) != 0 || st.your_pages != 0;
	vmc_close(c);
	return fails;
}

#define FULL ((4u << 20) - 2 * 4096)

static int other_quota_child(void *arg)
{
	struct vmc_client *c;
	uint64_t a, x;
	int fails = 0;

	(void)arg;
	if (vmd_connect(quota_proc.sock, &c) < 0)
		return 101;
	/* The default quota (4 MiB): independent of uid 65534's.  An area
	 * of 1022 pages fills it: its page array (1022 pointers) is a
	 * 2-page vmalloc area of its own, and the quota counts it. */
	fails += vmc_vmalloc(c, FULL, &a) != 0;
	fails += vmc_vmalloc(c, 1, &x) != -EDQUOT;
	/* A scoped area counts too, and goes back when the connection does. */
	vmc_close(c);
	if (vmd_connect(quota_proc.sock, &c) < 0)
		return 102;
	fails += vmc_vfree(c, a) != 0;
	vmc_set_scoped(c, true);
	fails += vmc_vmalloc(c, FULL, &a) != 0;
	vmc_close(c);
	if (vmd_connect(quota_proc.sock, &c) < 0)
		return 103;
	for (int i = 0; i < 100; i++) {
		if (vmc_vmalloc(c, FULL, &a) == 0)
			break;
		usleep(10000);
	}
	fails += vmc_vfree(c, a) != 0;
	vmc_close(c);
	return fails;
}

static void test_quota(void)
{
	const char *args[] = { "--memory", "128M", "--quota", "4M", "--quota-uid", "65534=1M", NULL };
	struct vmc_client *root;
	uint64_t a;

	if (getuid() != 0) {
		fprintf(stderr, "  skipped: needs root to run as other uids\n");
		return;
	}
	CU_ASSERT_FATAL(vmd_start(&quota_proc, args, NULL) == 0);
	CU_ASSERT_EQUAL(as_uid(NOBODY, quota_child, NULL), 0);
	CU_ASSERT_EQUAL(as_uid(OTHER, other_quota_child, NULL), 0);
	/* Root has no quota unless a rule names uid 0. */
	CU_ASSERT_FATAL(vmd_connect(quota_proc.sock, &root) == 0);
	CU_ASSERT_EQUAL(vmc_vmalloc(root, 64 << 20, &a), 0);
	CU_ASSERT_EQUAL(vmc_vfree(root, a), 0);
	CU_ASSERT_TRUE(clean(root));
	vmc_close(root);
	CU_ASSERT_EQUAL(vmd_stop(&quota_proc, 30000), 0);
}

/* ---- the daemon's own malloc ------------------------------------------------------------------ */

struct walk {
	const char *sock;
	unsigned enomem, closed;     /* deviations seen in this run */
	unsigned bad;                /* anything else: a failure */
	char why[256];
};

/* A deviation from the expected status: fine if it is the injected
 * failure (-ENOMEM) or the connection closed because of it. */
static bool deviation(struct walk *w, struct vmc_client **c, int r, const char *what)
{
	if (r == -ENOMEM) {
		w->enomem++;
	} else if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN) {
		w->closed++;
		vmc_close(*c);
		*c = NULL;
	} else {
		if (!w->bad)
			snprintf(w->why, sizeof(w->why), "%s: %s (%s)", what, vmc_strerror(r),
				 *c ? vmc_last_message(*c) : "");
		w->bad++;
	}
	return false;
}

#define STEP(call)                                                             \
	do {                                                                   \
		int r_ = (call);                                               \
		if (r_ != 0)                                                   \
			return deviation(w, c, r_, #call);                     \
	} while (0)
#define TRUE_OR_BAD(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			if (!w->bad)                                           \
				snprintf(w->why, sizeof(w->why), "%s", #cond); \
			w->bad++;                                              \
			return false;                                          \
		}                                                              \
	} while (0)

static bool unit_vmalloc(struct walk *w, struct vmc_client **c)
{
	static uint8_t buf[50000], rd[50000];
	uint64_t a, b;

	pattern_fill(buf, sizeof(buf), 7);
	STEP(vmc_vmalloc(*c, 10000, &a));
	STEP(vmc_write(*c, a, buf, 10000));
	STEP(vmc_read(*c, a, rd, 10000));
	TRUE_OR_BAD(memcmp(buf, rd, 10000) == 0);
	STEP(vmc_vrealloc(*c, a, sizeof(buf), __GFP_ZERO, &b));
	STEP(vmc_read(*c, b, rd, 10000));
	TRUE_OR_BAD(memcmp(buf, rd, 10000) == 0);
	STEP(vmc_vfree(*c, b));
	return true;
}

static bool unit_family(struct walk *w, struct vmc_client **c)
{
	struct vmc_alloc_opts o = { .node = VMC_NO_NODE, .align = 1 << 16, .caller = "walk+0x1/0x2" };
	uint64_t a, b, d;

	vmc_set_scoped(*c, true);
	STEP(vmc_vzalloc(*c, 8192, &a));
	vmc_set_scoped(*c, false);
	STEP(vmc_vmalloc_node_range(*c, 3 * 4096, &o, &b));
	TRUE_OR_BAD((b & 0xffff) == 0);
	STEP(vmc_vmalloc_user(*c, 4096, &d));
	STEP(vmc_vfree(*c, b));
	STEP(vmc_vfree(*c, d));
	STEP(vmc_vfree(*c, a));
	return true;
}

static bool unit_pages(struct walk *w, struct vmc_client **c)
{
	struct vmc_translation t;
	struct vmc_area info;
	uint64_t pfn, pfns[4], a;
	char rd[6];

	STEP(vmc_alloc_pages(*c, GFP_KERNEL, 2, VMC_NO_NODE, &pfn));
	STEP(vmc_phys_write(*c, pfn, 3 * 4096 + 5, "pages", 5));
	for (int i = 0; i < 4; i++)
		pfns[i] = pfn + (uint64_t)(3 - i);
	STEP(vmc_vmap(*c, pfns, 4, 0, 0, &a));
	STEP(vmc_read(*c, a + 5, rd, 5));
	TRUE_OR_BAD(memcmp(rd, "pages", 5) == 0);
	STEP(vmc_translate(*c, a, &t));
	TRUE_OR_BAD(t.pfn == pfn + 3);
	STEP(vmc_area_info(*c, a, &info));
	STEP(vmc_vunmap(*c, a));
	STEP(vmc_free_pages(*c, pfn, 2));
	return true;
}

static bool unit_queries(struct walk *w, struct vmc_client **c)
{
	static const enum vmc_query kinds[] = { VMC_VMALLOCINFO, VMC_MEMINFO, VMC_BUDDYINFO, VMC_FRAG,
						VMC_LEAKS };
	struct vmc_area *areas;
	struct vmc_zone *zones;
	struct vmc_stat st;
	struct vmc_meminfo mi;
	size_t n;
	uint64_t a;
	char *text;

	STEP(vmc_vmalloc(*c, 4096, &a));   /* so vmallocinfo lists something */
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		STEP(vmc_query_text(*c, kinds[i], &text));
		free(text);
	}
	STEP(vmc_areas(*c, false, &areas, &n));
	free(areas);
	STEP(vmc_zones(*c, &zones, &n));
	free(zones);
	STEP(vmc_stat(*c, &st));
	STEP(vmc_meminfo(*c, &mi));
	STEP(vmc_vfree(*c, a));
	return true;
}

static bool unit_batch(struct walk *w, struct vmc_client **c)
{
	struct vmc_batch *b;
	uint64_t addr[16];
	int st[16], r;

	STEP(vmc_batch_new(*c, &b));
	for (int i = 0; i < 16; i++)
		vmc_batch_vmalloc(b, 4096 * (uint64_t)(i + 1), &addr[i], &st[i]);
	r = vmc_batch_run(b);
	for (int i = 0; r == 0 && i < 16; i++)
		if (st[i] != 0)
			r = st[i];
	vmc_batch_clear(b);
	for (int i = 0; r == 0 && i < 16; i++)
		vmc_batch_vfree(b, addr[i], &st[i]);
	if (r == 0)
		r = vmc_batch_run(b);
	for (int i = 0; r == 0 && i < 16; i++)
		if (st[i] != 0)
			r = st[i];
	vmc_batch_free(b);
	STEP(r);
	return true;
}

static bool unit_scoped_close(struct walk *w, struct vmc_client **c)
{
	struct vmc_client *s = NULL;
	uint64_t a, pfn;
	int r;

	(void)c;
	r = vmd_connect(w->sock, &s);
	if (r < 0)
		return deviation(w, &s, r, "connect");
	vmc_set_timeout(s, 5000);
	vmc_set_scoped(s, true);
	for (int i = 0; i < 5 && r == 0; i++)
		r = vmc_vmalloc(s, 4096 * (uint64_t)(i + 1), &a);
	if (r == 0)
		r = vmc_alloc_pages(s, GFP_KERNEL, 1, VMC_NO_NODE, &pfn);
	if (r != 0) {
		deviation(w, &s, r, "scoped allocation");
		vmc_close(s);
		return false;
	}
	vmc_close(s);
	return true;
}

static bool unit_large_io(struct walk *w, struct vmc_client **c)
{
	const size_t n = (1 << 20) + (1 << 19);   /* two write frames, two read frames */
	uint8_t *buf = malloc(n), *rd = malloc(n);
	uint64_t a;
	bool ok = false;
	int r;

	if (!buf || !rd) {
		free(buf);
		free(rd);
		return false;
	}
	pattern_fill(buf, n, 11);
	r = vmc_vmalloc(*c, n, &a);
	if (r == 0)
		r = vmc_write(*c, a, buf, n);
	if (r == 0)
		r = vmc_read(*c, a, rd, n);
	if (r == 0 && memcmp(buf, rd, n) != 0) {
		snprintf(w->why, sizeof(w->why), "large read back differs");
		w->bad++;
	} else if (r == 0) {
		r = vmc_vfree(*c, a);
		ok = r == 0;
	}
	if (r != 0)
		deviation(w, c, r, "large I/O");
	free(buf);
	free(rd);
	return ok;
}

static bool unit_check(struct walk *w, struct vmc_client **c)
{
	char msg[256];

	STEP(vmc_check(*c, msg, sizeof(msg)));
	STEP(vmc_purge(*c));
	return true;
}

typedef bool unit_fn(struct walk *w, struct vmc_client **c);

/* Run the script against the daemon at w->sock; true if every unit went
 * through as it does without faults. */
static bool run_script(struct walk *w)
{
	static unit_fn *const units[] = { unit_vmalloc, unit_family, unit_pages, unit_queries,
					  unit_batch, unit_scoped_close, unit_large_io, unit_check };
	struct vmc_client *c = NULL;
	bool all = true;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!c) {
			int r = vmd_connect(w->sock, &c);

			if (r < 0) {
				deviation(w, &c, r, "connect");
				all = false;
				continue;
			}
			vmc_set_timeout(c, 5000);
		}
		if (!units[i](w, &c))
			all = false;
	}
	vmc_close(c);
	return all;
}

static bool read_report(const char *path, unsigned long *allocs, int *fired)
{
	char buf[128] = "";
	int f = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (f < 0)
		return false;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return sscanf(buf, "allocations=%lu failed=%d", allocs, fired) == 2;
}

static void test_malloc_faults_serving(void)
{
	const char *bin = getenv("VMALLOCD_FAULTINJ_BIN"), *plain = getenv("VMALLOCD_BIN");
	const unsigned long max_n = env_ulong("FAULT_MAX", 5000);
	const char *args[] = { "--memory", "32M", NULL };
	char report[256], env_n[64], env_r[300], plain_copy[512];
	unsigned long n, allocs = 0, total_allocs = 0;
	unsigned replies = 0, closes = 0, absorbed = 0;
	bool done = false;
	long long t0 = vmd_now_ms();

	if (!bin) {
		CU_FAIL("VMALLOCD_FAULTINJ_BIN is not set");
		return;
	}
	if (under_wrapper()) {
		fprintf(stderr, "  skipped under $VMALLOCD_WRAPPER (one daemon start per allocation)\n");
		return;
	}
	snprintf(plain_copy, sizeof(plain_copy), "%s", plain ? plain : "");
	snprintf(report, sizeof(report), "/tmp/vmd-fault-report.%d", (int)getpid());
	snprintf(env_r, sizeof(env_r), "VMALLOCD_FAULT_REPORT=%s", report);
	setenv("VMALLOCD_BIN", bin, 1);
	for (n = 1; n <= max_n && !done; n++) {
		const char *env[] = { env_n, env_r, NULL };
		struct vmd_proc p;
		struct walk w = { 0 };
		struct vmc_client *c;
		bool all;
		int fired = -1, st, r = -1;

		snprintf(env_n, sizeof(env_n), "VMALLOCD_FAIL_MALLOC=%lu", n);
		unlink(report);
		if (vmd_start(&p, args, env) < 0) {
			fprintf(stderr, "  N=%lu: the daemon did not start\n", n);
			CU_FAIL("daemon did not start");
			break;
		}
		w.sock = p.sock;
		all = run_script(&w);
		/* Whatever happened, the engine is consistent.  The failure is
		 * one-shot: if it hits this connection (accepting it, say),
		 * the second try cannot meet it. */
		for (int attempt = 0; attempt < 2 && r != 0; attempt++) {
			char msg[256];

			if (vmd_connect(p.sock, &c) < 0)
				continue;
			vmc_set_timeout(c, 5000);
			r = vmc_check(c, msg, sizeof(msg));
			if (r != 0 && r != -ENOMEM && r != -EPIPE && r != -ECONNRESET)
				attempt = 2;   /* a real finding: no retry */
			if (r != 0 && attempt > 0)
				fprintf(stderr, "  N=%lu: check after the script: %s\n", n,
					r == -EUCLEAN ? msg : vmc_strerror(r));
			vmc_close(c);
		}
		st = vmd_stop(&p, 20000);
		if (!read_report(report, &allocs, &fired))
			fired = -1;
		if (w.bad || r != 0 || st != 0 || fired < 0) {
			fprintf(stderr, "  N=%lu: %s%s exit status %d, report %s\n", n,
				w.bad ? w.why : "", w.bad ? ";" : "", st, fired < 0 ? "missing" : "read");
			CU_FAIL("an injected malloc failure was not handled cleanly");
			break;
		}
		if (w.enomem)
			replies++;
		else if (w.closed)
			closes++;
		else if (fired)
			absorbed++;
		total_allocs = allocs;
		/* Done once a whole run had nothing left to fail. */
		done = !fired && all;
		if (!fired && !all) {
			fprintf(stderr, "  N=%lu: no failure injected, yet the script failed: %s\n", n,
				w.why);
			CU_FAIL("the script fails without faults");
			break;
		}
	}
	if (plain_copy[0])
		setenv("VMALLOCD_BIN", plain_copy, 1);
	unlink(report);
	fprintf(stderr, "  serving: %lu allocation sites failed in turn (the script makes %lu "
		"allocations): %u answered -ENOMEM, %u closed the connection, %u absorbed without "
		"a visible error; %lld ms\n", n - 2, total_allocs, replies, closes, absorbed,
		vmd_now_ms() - t0);
	CU_ASSERT_TRUE(done);
}

/* Start-up: VMALLOCD_FAIL_MALLOC=start:N.  The daemon either exits with
 * a message and status 1 or 2, or comes up and serves; never a signal. */
static void test_malloc_faults_startup(void)
{
	const char *bin = getenv("VMALLOCD_FAULTINJ_BIN");
	char dir[] = "/tmp/vmd-fault-start.XXXXXX", sock[256], report[256];
	unsigned long n, allocs = 0;
	unsigned exits = 0, started = 0;
	bool done = false;

	if (!bin || under_wrapper()) {
		if (!bin)
			CU_FAIL("VMALLOCD_FAULTINJ_BIN is not set");
		return;
	}
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	snprintf(report, sizeof(report), "%s/report", dir);
	for (n = 1; n <= 1000 && !done; n++) {
		char env_n[64];
		int st, fired = -1, up = 0;
		pid_t pid;

		snprintf(env_n, sizeof(env_n), "start:%lu", n);
		unlink(report);
		pid = vmd_fork();
		if (pid == 0) {
			int devnull = open("/dev/null", O_WRONLY);

			dup2(devnull, 2);
			setenv("VMALLOCD_FAIL_MALLOC", env_n, 1);
			setenv("VMALLOCD_FAULT_REPORT", report, 1);
			unsetenv("NOTIFY_SOCKET");
			execl(bin, bin, "--config", "/dev/null", "--socket", sock, "--memory", "16M",
			      (char *)NULL);
			_exit(127);
		}
		CU_ASSERT_FATAL(pid > 0);
		/* Up (answers Hello) or gone, within 20 s. */
		for (int i = 0; i < 2000; i++) {
			struct vmc_client *c;
			struct vmc_hello h;

			if (waitpid(pid, &st, WNOHANG) == pid) {
				up = -1;
				break;
			}
			if (vmd_connect(sock, &c) == 0) {
				vmc_set_timeout(c, 2000);
				up = vmc_hello(c, &h) == 0;
				vmc_close(c);
				if (up)
					break;
			}
			usleep(10000);
		}
		if (up == 1) {
			kill(pid, SIGTERM);
			for (int i = 0; i < 1000 && waitpid(pid, &st, WNOHANG) != pid; i++)
				usleep(10000);
			if (kill(pid, 0) == 0) {
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				fprintf(stderr, "  start:%lu: SIGTERM did not stop it\n", n);
				CU_FAIL("daemon ignored SIGTERM");
				break;
			}
			started++;
		} else if (up == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			fprintf(stderr, "  start:%lu: neither up nor gone\n", n);
			CU_FAIL("daemon hung at start-up");
			break;
		} else {
			exits++;
		}
		if (!read_report(report, &allocs, &fired))
			fired = -1;
		if (!WIFEXITED(st) || (up == 1 && WEXITSTATUS(st) != 0) ||
		    (up == -1 && WEXITSTATUS(st) != 1 && WEXITSTATUS(st) != 2) || fired < 0) {
			fprintf(stderr, "  start:%lu: %s %d, report %s\n", n,
				WIFEXITED(st) ? "exit status" : "signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), fired < 0 ? "missing" : "read");
			CU_FAIL("a start-up malloc failure was not handled cleanly");
			break;
		}
		done = up == 1 && !fired;
	}
	unlink(report);
	unlink(sock);
	rmdir(dir);
	fprintf(stderr, "  start-up: %lu allocation sites failed in turn: %u refused to start "
		"with a message, %u started regardless\n", n - 2, exits, started - 1);
	CU_ASSERT_TRUE(done);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "out_of_frames", test_out_of_frames },
		{ "out_of_kva", test_out_of_kva },
		{ "quota", test_quota },
		{ "malloc_faults_startup", test_malloc_faults_startup },
		{ "malloc_faults_serving", test_malloc_faults_serving },
		{ NULL, NULL },
	};

	return t_main_suite("exhaustion", NULL, NULL, cases, argc, argv);
}
