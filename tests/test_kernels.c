/* test_kernels.c -- SPEC 3.7 through the service: a real vmallocd started
 * with --kernel 6.18 and with --kernel 4.19 (two CPUs each) says which
 * kernel it follows (Hello, vmctl stat), and does what that kernel does:
 * the order freed stacks come back in after a purge, when a purge over the
 * lazy limit runs (seen by pipelining a vfree and a stat in one write) and
 * that PageTables does not fall after it, the
 * page array's own vmallocinfo line, the meminfo values, the i386 zones
 * of __vmalloc and vrealloc, and the failure message in the daemon's log.
 */
#include <CUnit/Basic.h>
#include <errno.h>
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

static const char *const kernel_names[] = { "6.18", "4.19" };

static bool start(struct vmd_proc *p, const char *kernel, const char *layout, const char *memory,
		  const char *lazy_max)
{
	const char *args[] = { "--kernel", kernel, "--cpus", "2", "--layout", layout,
			       "--memory", memory, "--lazy-max", lazy_max, NULL };

	return vmd_start(p, args, NULL) == 0;
}

/* ---- the machine says which kernel it follows ------------------------------------- */

static void test_hello_and_stat(void)
{
	const char *vmctl = getenv("VMCTL_BIN");

	for (unsigned k = 0; k < 2; k++) {
		struct vmd_proc p;
		struct vmc_client *c;
		struct vmc_hello h;
		struct vmc_stat st;
		char out[4096], want[64];

		CU_ASSERT_FATAL(start(&p, kernel_names[k], "x86_64", "256M", "32M"));
		CU_ASSERT_FATAL(vmd_connect(p.sock, &c) == 0);
		CU_ASSERT_EQUAL(vmc_hello(c, &h), 0);
		CU_ASSERT_STRING_EQUAL(h.kernel, kernel_names[k]);
		CU_ASSERT_EQUAL(h.nr_cpus, 2);
		CU_ASSERT_EQUAL(vmc_stat(c, &st), 0);
		CU_ASSERT_STRING_EQUAL(st.kernel, kernel_names[k]);
		CU_ASSERT_EQUAL(st.nr_cpus, 2);
		CU_ASSERT_EQUAL(st.nr_vmap_nodes, k == 0 ? 2 : 0);
		CU_ASSERT_EQUAL(st.lazy_max_pages, 8192);
		if (vmctl) {
			const char *argv[] = { vmctl, "--socket", p.sock, "stat", NULL };

			CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, out, sizeof(out), NULL, 0), 0);
			snprintf(want, sizeof(want), "\nkernel               %s\n", kernel_names[k]);
			T_ASSERT_MSG(strstr(out, want) != NULL, "vmctl stat says:\n%s", out);
			CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nnr_cpus              2\n"));
		} else {
			CU_FAIL("VMCTL_BIN is not set");
		}
		vmc_close(c);
		CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 0);
	}
}

/* ---- freed stacks after a purge -------------------------------------------------------- */

static void test_reuse_order(void)
{
	enum { N = 32 };

	for (unsigned k = 0; k < 2; k++) {
		struct vmc_alloc_opts o = { .align = 16 << 10, .node = VMC_NO_NODE,
					    .caller = "kernel_clone+0x94/0x3e0" };
		struct vmd_proc p;
		struct vmc_client *c;
		uint64_t first[N], again[N];

		CU_ASSERT_FATAL(start(&p, kernel_names[k], "x86_64", "256M", "32M"));
		CU_ASSERT_FATAL(vmd_connect(p.sock, &c) == 0);
		for (unsigned i = 0; i < N; i++)
			CU_ASSERT_FATAL(vmc_vmalloc_node_range(c, 16 << 10, &o, &first[i]) == 0);
		for (unsigned i = 0; i < N; i++)
			CU_ASSERT_EQUAL(vmc_vfree(c, first[i]), 0);
		CU_ASSERT_EQUAL(vmc_purge(c), 0);
		for (unsigned i = 0; i < N; i++)
			CU_ASSERT_FATAL(vmc_vmalloc_node_range(c, 16 << 10, &o, &again[i]) == 0);
		/* 6.18: from the connection's CPU's vmap node pool, highest
		 * first; 4.19: first fit, lowest first. */
		for (unsigned i = 0; i < N; i++) {
			uint64_t want = k == 0 ? first[N - 1 - i] : first[i];

			T_ASSERT_MSG(again[i] == want, "%s: stack %u at %#llx, want %#llx",
				     kernel_names[k], i, (unsigned long long)again[i],
				     (unsigned long long)want);
		}
		for (unsigned i = 0; i < N; i++)
			CU_ASSERT_EQUAL(vmc_vfree(c, again[i]), 0);
		vmc_close(c);
		CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 0);
	}
}

/* ---- when the purge runs -------------------------------------------------------------- */

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(sa.sun_path)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static size_t put_frame(uint8_t *buf, const Vmallocd__V1__Request *req)
{
	size_t n = vmallocd__v1__request__pack(req, buf + VMD_FRAME_HDR);

	vmd_put_n32(buf, (uint32_t)n);
	return VMD_FRAME_HDR + n;
}

static Vmallocd__V1__Reply *get_reply(int fd)
{
	static uint8_t buf[1 << 16];
	uint32_t n;
	size_t got = 0;

	while (got < VMD_FRAME_HDR) {
		ssize_t r = read(fd, buf + got, VMD_FRAME_HDR - got);

		if (r <= 0)
			return NULL;
		got += (size_t)r;
	}
	n = vmd_get_n32(buf);
	if (n > sizeof(buf))
		return NULL;
	for (got = 0; got < n;) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r <= 0)
			return NULL;
		got += (size_t)r;
	}
	return vmallocd__v1__reply__unpack(NULL, n, buf);
}

/* The freeing request that takes the lazy pages over --lazy-max and a
 * stat, written together: they are served in one pass.  4.19 purged
 * inside the vfree; 6.18 queued drain_vmap_work, which runs after the
 * pass's replies are out, so the stat still sees the pages lazy. */
static void test_purge_timing(void)
{
	for (unsigned k = 0; k < 2; k++) {
		Vmallocd__V1__Request fr = VMALLOCD__V1__REQUEST__INIT, qr = VMALLOCD__V1__REQUEST__INIT;
		Vmallocd__V1__FreeRequest f = VMALLOCD__V1__FREE_REQUEST__INIT;
		Vmallocd__V1__QueryRequest q = VMALLOCD__V1__QUERY_REQUEST__INIT;
		Vmallocd__V1__Reply *r1, *r2;
		struct vmd_proc p;
		struct vmc_client *c;
		struct vmc_stat st;
		struct vmc_meminfo m0, m1;
		uint8_t buf[512];
		uint64_t a[5];
		size_t n;
		int fd;

		/* 8 lazy pages allowed: four 1-page areas (8 pages of KVA) reach
		 * the limit, a fifth takes it over. */
		CU_ASSERT_FATAL(start(&p, kernel_names[k], "x86_64", "64M", "32K"));
		CU_ASSERT_FATAL(vmd_connect(p.sock, &c) == 0);
		for (unsigned i = 0; i < 5; i++)
			CU_ASSERT_FATAL(vmc_vmalloc(c, 4096, &a[i]) == 0);
		CU_ASSERT_EQUAL(vmc_meminfo(c, &m0), 0);
		for (unsigned i = 0; i < 4; i++)
			CU_ASSERT_EQUAL(vmc_vfree(c, a[i]), 0);
		fd = raw_connect(p.sock);
		CU_ASSERT_FATAL(fd >= 0);
		fr.id = 1;
		fr.op_case = VMALLOCD__V1__REQUEST__OP_FREE;
		fr.free = &f;
		f.addr = a[4];
		qr.id = 2;
		qr.op_case = VMALLOCD__V1__REQUEST__OP_QUERY;
		qr.query = &q;
		q.kind = VMALLOCD__V1__QUERY_KIND__QUERY_STAT;
		n = put_frame(buf, &fr);
		n += put_frame(buf + n, &qr);
		CU_ASSERT_EQUAL(write(fd, buf, n), (ssize_t)n);
		r1 = get_reply(fd);
		r2 = get_reply(fd);
		CU_ASSERT_FATAL(r1 && r2 && r2->query && r2->query->stats);
		CU_ASSERT_EQUAL(r1->status, 0);
		if (k == 0) {
			T_ASSERT_MSG(r2->query->stats->lazy_pages == 10 && r2->query->stats->work_pending &&
				     r2->query->stats->nr_purges == 0,
				     "6.18: beside the vfree: %llu lazy pages, %llu purges, work %d",
				     (unsigned long long)r2->query->stats->lazy_pages,
				     (unsigned long long)r2->query->stats->nr_purges,
				     (int)r2->query->stats->work_pending);
		} else {
			T_ASSERT_MSG(r2->query->stats->lazy_pages == 0 && !r2->query->stats->work_pending &&
				     r2->query->stats->nr_purges == 1,
				     "4.19: beside the vfree: %llu lazy pages, %llu purges",
				     (unsigned long long)r2->query->stats->lazy_pages,
				     (unsigned long long)r2->query->stats->nr_purges);
		}
		vmallocd__v1__reply__free_unpacked(r1, NULL);
		vmallocd__v1__reply__free_unpacked(r2, NULL);
		close(fd);
		/* Either way the purge has run by the next request. */
		CU_ASSERT_EQUAL(vmc_stat(c, &st), 0);
		CU_ASSERT(st.lazy_pages == 0 && st.nr_purges == 1 && !st.work_pending);
		/* Neither tree frees the range's page-table pages when it unmaps
		 * (vunmap_page_range() in 4.19, vunmap_range_noflush() in 6.18):
		 * PageTables stays where the mappings took it. */
		CU_ASSERT_EQUAL(vmc_meminfo(c, &m1), 0);
		T_ASSERT_MSG(m0.page_tables > 0 && m1.page_tables == m0.page_tables,
			     "%s: PageTables %llu before the purge, %llu after", kernel_names[k],
			     (unsigned long long)m0.page_tables, (unsigned long long)m1.page_tables);
		vmc_close(c);
		CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 0);
	}
}

/* ---- formats -------------------------------------------------------------------------- */

static void test_formats(void)
{
	for (unsigned k = 0; k < 2; k++) {
		struct vmc_alloc_opts o = { .node = VMC_NO_NODE, .caller = "bpf_prog_alloc+0x39/0x230" };
		struct vmd_proc p;
		struct vmc_client *c;
		struct vmc_meminfo m;
		struct vmc_stat st;
		char *text = NULL, want[256];
		uint64_t a;

		CU_ASSERT_FATAL(start(&p, kernel_names[k], "x86_64", "256M", "32M"));
		CU_ASSERT_FATAL(vmd_connect(p.sock, &c) == 0);
		CU_ASSERT_FATAL(vmc_vmalloc_node_range(c, 600 * 4096, &o, &a) == 0);
		/* The page array (600 pointers, 2 pages) has its own line. */
		CU_ASSERT_EQUAL(vmc_query_text(c, VMC_VMALLOCINFO, &text), 0);
		snprintf(want, sizeof(want),
			 "0x%016llx-0x%016llx 2461696 bpf_prog_alloc+0x39/0x230 pages=600 vmalloc vpages N0=600\n"
			 "0x%016llx-0x%016llx   12288 bpf_prog_alloc+0x39/0x230 pages=2 vmalloc N0=2\n",
			 (unsigned long long)a, (unsigned long long)(a + 601 * 4096),
			 (unsigned long long)(a + 601 * 4096), (unsigned long long)(a + 604 * 4096));
		T_TEXT_EQ(text, want);
		free(text);
		/* It is charged with its area. */
		CU_ASSERT_EQUAL(vmc_stat(c, &st), 0);
		CU_ASSERT_EQUAL(st.vmalloc_pages, 602);
		CU_ASSERT_EQUAL(st.your_pages, 602);
		CU_ASSERT_EQUAL(vmc_meminfo(c, &m), 0);
		CU_ASSERT_EQUAL(m.vmalloc_used, k == 0 ? 602 * 4 : 0);
		CU_ASSERT_EQUAL(m.vmalloc_chunk, 0);
		CU_ASSERT_EQUAL(vmc_query_text(c, VMC_MEMINFO, &text), 0);
		CU_ASSERT_PTR_NULL(text ? strstr(text, "HighTotal:") : "");
		free(text);
		/* Not freed by itself; freed with its area. */
		CU_ASSERT_EQUAL(vmc_vfree(c, a + 601 * 4096), -EINVAL);
		CU_ASSERT_EQUAL(vmc_vfree(c, a), 0);
		CU_ASSERT_EQUAL(vmc_stat(c, &st), 0);
		CU_ASSERT_EQUAL(st.your_pages, 0);
		CU_ASSERT_EQUAL(st.nr_lazy_areas, 2);
		/* Left by a process that is gone (vmctl records its parent, the
		 * shell, which exits), the area is a leak, and its page array
		 * goes with it, not a leak of its own. */
		if (getenv("VMCTL_BIN")) {
			const char *argv[] = { "/bin/sh", "-c", "\"$VMCTL_BIN\" --socket \"$1\" alloc 2400K",
					       "sh", p.sock, NULL };
			unsigned long long la = 0;
			char out[256];

			CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, out, sizeof(out), NULL, 0), 0);
			CU_ASSERT_EQUAL_FATAL(vmc_query_text(c, VMC_LEAKS, &text), 0);
			T_ASSERT_MSG(text && strstr(text, "pages=600 ") && !strstr(text, "pages=2 "),
				     "leaks:\n%s", text ? text : "(none)");
			CU_ASSERT(text && sscanf(text, "0x%llx-", &la) == 1);
			CU_ASSERT_EQUAL(vmc_vfree(c, la), 0);
			free(text);
			text = NULL;
		}
		vmc_close(c);
		CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 0);
	}
}

/* i386: __vmalloc(GFP_KERNEL) and vrealloc's move get __GFP_HIGHMEM added
 * in __vmalloc_area_node(); vmalloc_32 stays in Normal. */
static void test_i386_zones(void)
{
	for (unsigned k = 0; k < 2; k++) {
		struct vmd_proc p;
		struct vmc_client *c;
		struct vmc_translation t;
		struct vmc_meminfo m;
		uint64_t a, b, d;

		CU_ASSERT_FATAL(start(&p, kernel_names[k], "i386", "2G", "32M"));
		CU_ASSERT_FATAL(vmd_connect(p.sock, &c) == 0);
		CU_ASSERT_FATAL(vmc___vmalloc(c, 8 * 4096, GFP_KERNEL, &a) == 0);
		CU_ASSERT_EQUAL(vmc_translate(c, a, &t), 0);
		CU_ASSERT_STRING_EQUAL(t.zone, "HighMem");
		CU_ASSERT_FATAL(vmc_vrealloc(c, a, 64 * 4096, GFP_KERNEL, &b) == 0);
		CU_ASSERT(b != a);
		CU_ASSERT_EQUAL(vmc_translate(c, b + 63 * 4096, &t), 0);
		CU_ASSERT_STRING_EQUAL(t.zone, "HighMem");
		CU_ASSERT_FATAL(vmc_vmalloc_32(c, 4 * 4096, &d) == 0);
		CU_ASSERT_EQUAL(vmc_translate(c, d, &t), 0);
		CU_ASSERT_STRING_EQUAL(t.zone, "Normal");
		/* CONFIG_HIGHMEM: the High and Low lines are there. */
		CU_ASSERT_EQUAL(vmc_meminfo(c, &m), 0);
		CU_ASSERT_EQUAL(m.high_total, 1152 * 1024);
		vmc_close(c);
		CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 0);
	}
}

/* A kernel the daemon does not know, or too many CPUs, stop it at once. */
static void test_bad_options(void)
{
	const char *bin = getenv("VMALLOCD_BIN");
	static const char *const bad[][4] = {
		{ "--kernel", "5.4", NULL }, { "--kernel", "", NULL }, { "--cpus", "0", NULL },
		{ "--cpus", "8193", NULL }, { "--cpus", "two", NULL },
	};

	if (!bin) {
		CU_FAIL("VMALLOCD_BIN is not set");
		return;
	}
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = { bin, "--socket", "/nonexistent/x.sock", bad[i][0], bad[i][1], NULL };
		char err[1024] = "";

		T_ASSERT_MSG(vmd_run(argv, NULL, 0, NULL, 0, err, sizeof(err)) == 2,
			     "vmallocd %s '%s' did not stop with status 2: %s", bad[i][0], bad[i][1], err);
		T_ASSERT_MSG(strstr(err, bad[i][0] + 2) != NULL, "no word of %s in: %s", bad[i][0], err);
	}
	/* 65 CPUs on i386: the machine cannot be built. */
	{
		const char *argv[] = { bin, "--socket", "/nonexistent/x.sock", "--layout", "i386",
				       "--cpus", "65", NULL };
		char err[1024] = "";

		CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, NULL, 0, err, sizeof(err)), 1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "65 CPU(s)"));
	}
}

/* ---- the failure message, in the daemon's log ------------------------------------ */

/* Each tree's words for a vmalloc larger than the machine: 6.18's
 * __vmalloc_node_range_noprof() "vmalloc error: size %lu, exceeds total
 * pages" (warn_alloc), 4.19's __vmalloc_node_range() "vmalloc: allocation
 * failure: %lu bytes"; warnings at the log's warning priority. */
static void test_failure_message(void)
{
	for (unsigned k = 0; k < 2; k++) {
		const char *args[] = { "--kernel", kernel_names[k], "--memory", "64M", NULL };
		struct vmd_proc p;
		struct vmc_client *c;
		char *log;
		uint64_t a;
		int rc;

		CU_ASSERT_FATAL(vmd_start_logged(&p, args, NULL) == 0);
		CU_ASSERT_FATAL(vmc_connect(p.sock, &c) == 0);
		CU_ASSERT_EQUAL(vmc_vmalloc(c, (64 << 20) + 1, &a), -ENOMEM);
		/* A round trip more: the log line is written before the reply. */
		CU_ASSERT_EQUAL(vmc_vmalloc(c, 4096, &a), 0);
		log = vmd_read_log(&p);
		CU_ASSERT_FATAL(log != NULL);
		T_ASSERT_MSG(strstr(log, k == 0 ? "<4>vmalloc error: size 67108865, exceeds total pages\n" :
					      "<4>vmalloc: allocation failure: 67108865 bytes\n") &&
			     !strstr(log, k == 0 ? "allocation failure" : "vmalloc error"),
			     "%s's log:\n%s", kernel_names[k], log);
		vmc_close(c);
		rc = vmd_stop(&p, 5000);
		CU_ASSERT_EQUAL(rc, 0);
		if (rc)
			fprintf(stderr, "%s", log);
		free(log);
	}
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "hello_and_stat", test_hello_and_stat },
		{ "reuse_order", test_reuse_order },
		{ "purge_timing", test_purge_timing },
		{ "formats", test_formats },
		{ "i386_zones", test_i386_zones },
		{ "failure_message", test_failure_message },
		{ "bad_options", test_bad_options },
		{ NULL, NULL },
	};

	return t_main("kernels", cases, argc, argv);
}
