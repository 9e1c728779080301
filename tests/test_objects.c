/* test_objects.c -- what has no vm_struct, through the service: vm_map_ram
 * and vm_unmap_ram on vmap blocks, __alloc_percpu and free_percpu, and
 * kvfree_rcu, against real vmallocds of both kernels (two CPUs), through
 * libvmclient and vmctl: the owner rules (another uid gets -EPERM), scope,
 * quota, exact unmapping, the statistics, and what each kernel has (Hello's
 * test_vmalloc module; 4.19 has no kvfree_rcu).
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

#define NOBODY 65534u

static const char *const kernel_names[] = { "6.18", "4.19" };

static bool start(struct vmd_proc *p, const char *kernel, const char *extra)
{
	const char *args[] = { "--kernel", kernel, "--cpus", "2", "--memory", "256M",
			       extra ? "--quota-uid" : NULL, extra, NULL };

	return vmd_start(p, args, NULL) == 0;
}

static void expect_clean(struct vmc_client *c)
{
	char msg[256];

	CU_ASSERT_EQUAL(vmc_check(c, msg, sizeof(msg)), 0);
}

/* ---- what the machine's kernel has ------------------------------------------------ */

static void test_hello_module(void)
{
	for (unsigned k = 0; k < 2; k++) {
		struct vmd_proc p;
		struct vmc_client *c;
		struct vmc_test_vmalloc tv;

		CU_ASSERT_FATAL(start(&p, kernel_names[k], NULL));
		CU_ASSERT_FATAL(vmc_connect(p.sock, &c) == 0);
		CU_ASSERT_EQUAL(vmc_test_vmalloc_desc(c, &tv), 0);
		CU_ASSERT(k == 0 ? tv.cases == 0x7ff && tv.default_mask == 7 && tv.xfail == 64 &&
				   tv.summary_xfailed
				 : tv.cases == 0xff && tv.default_mask == 0x7fffffff && tv.xfail == 64 &&
				   !tv.summary_xfailed);
		vmc_close(c);
		CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 0);
	}
}

/* ---- vm_map_ram --------------------------------------------------------------------- */

struct perm_arg {
	const char *sock;
	uint64_t map, pfn, percpu;
};

static int perm_child(void *ctx)
{
	const struct perm_arg *a = ctx;
	struct vmc_client *c;
	uint64_t addr;
	char b;
	int fails = 0;

	if (vmc_connect(a->sock, &c) < 0)
		return 50;
	fails += vmc_vm_unmap_ram(c, a->map, 2) != -EPERM;
	fails += vmc_read(c, a->map, &b, 1) != -EPERM;
	fails += vmc_write(c, a->map + 4096, "x", 1) != -EPERM;
	fails += vmc_vm_map_ram(c, &a->pfn, 1, VMC_NO_NODE, &addr) != -EPERM;
	fails += vmc_free_percpu(c, a->percpu) != -EPERM;
	fails += vmc_read(c, a->percpu, &b, 1) != -EPERM;
	vmc_close(c);
	return fails;
}

static void test_vm_map_ram(void)
{
	for (unsigned k = 0; k < 2; k++) {
		struct vmd_proc p;
		struct vmc_client *c;
		struct vmc_area info;
		struct vmc_stat st;
		struct perm_arg pa;
		uint64_t pfn[3], addr, big, ptr;
		char buf[8] = { 0 }, *vmi = NULL;

		CU_ASSERT_FATAL(start(&p, kernel_names[k], NULL));
		CU_ASSERT_FATAL(vmc_connect(p.sock, &c) == 0);
		for (unsigned i = 0; i < 3; i++)
			CU_ASSERT_FATAL(vmc_alloc_pages(c, GFP_KERNEL, 0, VMC_NO_NODE, &pfn[i]) == 0);
		CU_ASSERT_FATAL(vmc_vm_map_ram(c, pfn, 2, VMC_NO_NODE, &addr) == 0);
		/* Written through the mapping, found in the frame. */
		CU_ASSERT_EQUAL(vmc_write(c, addr + 4096 + 10, "mapped", 6), 0);
		CU_ASSERT_EQUAL(vmc_phys_read(c, pfn[1], 10, buf, 6), 0);
		CU_ASSERT_STRING_EQUAL(buf, "mapped");
		/* No guard page, no vm_struct. */
		CU_ASSERT_EQUAL(vmc_write(c, addr + 2 * 4096, "x", 1), -EFAULT);
		CU_ASSERT_EQUAL(vmc_area_info(c, addr, &info), -ENOENT);
		CU_ASSERT_EQUAL(vmc_query_text(c, VMC_VMALLOCINFO, &vmi), 0);
		CU_ASSERT_EQUAL(vmi && strstr(vmi, " 1048576 vm_map_ram\n") != NULL, k == 0);
		free(vmi);
		CU_ASSERT_EQUAL(vmc_stat(c, &st), 0);
		CU_ASSERT(st.nr_vmap_blocks == 1 && st.map_ram_pages == 2 && st.vmap_block_pages == 256);
		/* More than 64 pages: a range of its own. */
		{
			uint64_t many[65];

			for (unsigned i = 0; i < 65; i++)
				many[i] = pfn[2];
			CU_ASSERT_FATAL(vmc_vm_map_ram(c, many, 65, VMC_NO_NODE, &big) == 0);
		}
		/* Others may not touch it, nor map root's frames; root's
		 * per-CPU object neither. */
		CU_ASSERT_FATAL(vmc_alloc_percpu(c, 64, 8, &ptr) == 0);
		pa = (struct perm_arg){ .sock = p.sock, .map = addr, .pfn = pfn[0], .percpu = ptr };
		CU_ASSERT_EQUAL(as_uid(NOBODY, perm_child, &pa), 0);
		/* Exactly what was mapped. */
		CU_ASSERT_EQUAL(vmc_vm_unmap_ram(c, addr, 1), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(vmc_last_message(c), "it maps 2"));
		CU_ASSERT_EQUAL(vmc_vm_unmap_ram(c, addr + 4096, 1), -EINVAL);
		CU_ASSERT_EQUAL(vmc_free_pages(c, pfn[0], 0), -EBUSY);
		CU_ASSERT_EQUAL(vmc_vm_unmap_ram(c, addr, 2), 0);
		CU_ASSERT_EQUAL(vmc_vm_unmap_ram(c, addr, 2), -EINVAL);
		CU_ASSERT_EQUAL(vmc_vm_unmap_ram(c, big, 65), 0);
		CU_ASSERT_EQUAL(vmc_free_percpu(c, ptr), 0);
		for (unsigned i = 0; i < 3; i++)
			CU_ASSERT_EQUAL(vmc_free_pages(c, pfn[i], 0), 0);
		expect_clean(c);
		vmc_close(c);
		CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 0);
	}
}

/* A scoped block may be mapped only by a scoped mapping of its connection;
 * scoped mappings and per-CPU objects go with their connection. */
static void test_scope(void)
{
	struct vmd_proc p;
	struct vmc_client *c, *d;
	struct vmc_stat st;
	uint64_t pfn, addr, ptr;

	CU_ASSERT_FATAL(start(&p, "6.18", NULL));
	CU_ASSERT_FATAL(vmc_connect(p.sock, &c) == 0);
	CU_ASSERT_FATAL(vmc_connect(p.sock, &d) == 0);
	vmc_set_scoped(c, true);
	CU_ASSERT_FATAL(vmc_alloc_pages(c, GFP_KERNEL, 0, VMC_NO_NODE, &pfn) == 0);
	CU_ASSERT_EQUAL(vmc_vm_map_ram(d, &pfn, 1, VMC_NO_NODE, &addr), -EINVAL);
	CU_ASSERT_FATAL(vmc_vm_map_ram(c, &pfn, 1, VMC_NO_NODE, &addr) == 0);
	CU_ASSERT_FATAL(vmc_alloc_percpu(c, 100, 4, &ptr) == 0);
	CU_ASSERT_EQUAL(vmc_stat(d, &st), 0);
	CU_ASSERT(st.map_ram_pages == 1 && st.nr_pcpu_objects == 1);
	vmc_close(c);
	/* The daemon sees the close in its own time. */
	for (int i = 0; i < 100; i++) {
		CU_ASSERT_EQUAL(vmc_stat(d, &st), 0);
		if (st.alloc_pages_pages == 0)
			break;
		usleep(20 * 1000);
	}
	CU_ASSERT(st.map_ram_pages == 0 && st.nr_pcpu_objects == 0 && st.alloc_pages_pages == 0);
	expect_clean(d);
	vmc_close(d);
	CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 0);
}

/* ---- per-CPU objects ---------------------------------------------------------------------- */

static int quota_child(void *ctx)
{
	const char *sock = ctx;
	struct vmc_client *c;
	uint64_t ptr[8];
	int fails = 0, r = 0;
	unsigned n = 0;

	if (vmc_connect(sock, &c) < 0)
		return 50;
	/* A 64 KiB quota (16 pages), 2 CPUs: a 32 KiB object aligned to a
	 * page spans 8 pages a CPU, so the second one does not fit. */
	while (n < 8 && (r = vmc_alloc_percpu(c, 32768, 4096, &ptr[n])) == 0)
		n++;
	fails += r != -EDQUOT || n != 1;
	while (n)
		fails += vmc_free_percpu(c, ptr[--n]) != 0;
	vmc_close(c);
	return fails;
}

static void test_percpu(void)
{
	struct vmd_proc p;
	struct vmc_client *c;
	struct vmc_stat st, st2;
	uint64_t a, b;
	char buf[16];

	CU_ASSERT_FATAL(start(&p, "6.18", "65534=64K"));
	CU_ASSERT_FATAL(vmc_connect(p.sock, &c) == 0);
	CU_ASSERT_EQUAL(vmc_alloc_percpu(c, 0, 4, &a), -EINVAL);
	CU_ASSERT_EQUAL(vmc_alloc_percpu(c, 32769, 4, &a), -EINVAL);
	CU_ASSERT_EQUAL(vmc_alloc_percpu(c, 8, 3, &a), -EINVAL);
	CU_ASSERT_EQUAL(vmc_stat(c, &st), 0);
	CU_ASSERT_FATAL(vmc_alloc_percpu(c, 100, 64, &a) == 0);
	CU_ASSERT_FATAL(vmc_alloc_percpu(c, 100, 64, &b) == 0);
	CU_ASSERT_EQUAL(b, a + 128);
	CU_ASSERT_EQUAL(vmc_stat(c, &st2), 0);
	CU_ASSERT(st2.nr_pcpu_chunks == 1 && st2.nr_pcpu_objects == 2 &&
		  st2.pcpu_unit_size == 1048576 && st2.percpu_pages >= 2);
	/* The same counters in stat's text, which libvmclient renders. */
	{
		char *t = NULL;

		CU_ASSERT_FATAL(vmc_query_text(c, VMC_STAT, &t) == 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(t, "\npcpu_chunks:         1\n"));
		CU_ASSERT_PTR_NOT_NULL(strstr(t, "\npcpu_objects:        2\n"));
		CU_ASSERT_PTR_NOT_NULL(strstr(t, "\npcpu_unit_size:      1048576\n"));
		CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nkvfree_rcu_pending:  0\n"));
		free(t);
	}
	/* Root reads both CPUs' copies: zeroed. */
	CU_ASSERT_EQUAL(vmc_read(c, a + st2.pcpu_unit_size, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(buf[0] | buf[15], 0);
	/* Each object is charged its pages on each CPU: one page twice. */
	CU_ASSERT_EQUAL(st2.your_pages, st.your_pages + 4);
	/* The chunk's areas are the machine's: no leaks, no plain vfree, no
	 * internal marks in their flags. */
	{
		struct vmc_area *v, info;
		size_t n;

		CU_ASSERT_FATAL(vmc_areas(c, true, &v, &n) == 0);
		CU_ASSERT_EQUAL(n, 0);
		free(v);
		CU_ASSERT_FATAL(vmc_area_info(c, a, &info) == 0);
		CU_ASSERT(!info.leaked && info.flags == VM_ALLOC);
		CU_ASSERT_EQUAL(vmc_vfree(c, info.addr), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(vmc_last_message(c), "use free_percpu"));
	}
	CU_ASSERT_EQUAL(vmc_free_percpu(c, a + 4), -EINVAL);
	CU_ASSERT_EQUAL(vmc_free_percpu(c, a), 0);
	CU_ASSERT_EQUAL(vmc_free_percpu(c, a), -EINVAL);
	CU_ASSERT_EQUAL(vmc_free_percpu(c, b), 0);
	CU_ASSERT_EQUAL(vmc_stat(c, &st2), 0);
	CU_ASSERT_EQUAL(st2.your_pages, st.your_pages);
	/* A quota bounds them. */
	CU_ASSERT_EQUAL(as_uid(NOBODY, quota_child, (void *)p.sock), 0);
	expect_clean(c);
	vmc_close(c);
	CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 0);
}

/* ---- kvfree_rcu ----------------------------------------------------------------------------- */

/* 6.18: the area stays until the batch's timer (5 s) runs out; 4.19 has
 * no kvfree_rcu. */
static void test_kvfree_rcu(void)
{
	for (unsigned k = 0; k < 2; k++) {
		struct vmd_proc p;
		struct vmc_client *c;
		struct vmc_area info;
		struct vmc_stat st;
		uint64_t a;
		long long t0;

		CU_ASSERT_FATAL(start(&p, kernel_names[k], NULL));
		CU_ASSERT_FATAL(vmc_connect(p.sock, &c) == 0);
		CU_ASSERT_FATAL(vmc_vmalloc(c, 8192, &a) == 0);
		if (k == 1) {
			CU_ASSERT_EQUAL(vmc_kvfree_rcu(c, a, false), -EOPNOTSUPP);
			CU_ASSERT_PTR_NOT_NULL(strstr(vmc_last_message(c), "Linux 4.19 has none"));
			CU_ASSERT_EQUAL(vmc_vfree(c, a), 0);
		} else {
			CU_ASSERT_EQUAL(vmc_kvfree_rcu(c, a + 4096, true), -EINVAL);
			CU_ASSERT_EQUAL(vmc_kvfree_rcu(c, a, true), 0);
			CU_ASSERT_EQUAL(vmc_kvfree_rcu(c, a, true), -EINVAL);
			CU_ASSERT_PTR_NOT_NULL(strstr(vmc_last_message(c), "already waiting"));
			CU_ASSERT_EQUAL(vmc_vfree(c, a), -EINVAL);
			CU_ASSERT_PTR_NOT_NULL(strstr(vmc_last_message(c), "grace period"));
			CU_ASSERT_EQUAL(vmc_area_info(c, a, &info), 0);
			CU_ASSERT(info.flags == VM_ALLOC && !info.leaked);
			CU_ASSERT_EQUAL(vmc_stat(c, &st), 0);
			CU_ASSERT(st.nr_kvfree_rcu == 1 && st.work_delayed && st.your_pages == 0);
			t0 = vmd_now_ms();
			while (vmc_area_info(c, a, &info) == 0 && vmd_now_ms() - t0 < 10000)
				usleep(100 * 1000);
			T_ASSERT_MSG(vmd_now_ms() - t0 >= 3000 && vmd_now_ms() - t0 < 8000,
				     "the batch went after %lld ms (its timer is 5 s)", vmd_now_ms() - t0);
			CU_ASSERT_EQUAL(vmc_stat(c, &st), 0);
			CU_ASSERT(st.nr_kvfree_rcu == 0 && st.vmalloc_pages == 0);
		}
		expect_clean(c);
		vmc_close(c);
		CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 0);
	}
}

/* ---- vmctl ----------------------------------------------------------------------------- */

static void test_vmctl(void)
{
	const char *vmctl = getenv("VMCTL_BIN");
	char out[4096], err[1024], pfn[32], addr[32], cmdline[64];
	struct vmd_proc p;
	const char *argv[12];

	if (!vmctl)
		return;
	CU_ASSERT_FATAL(start(&p, "6.18", NULL));
#define VMCTL(...) do { \
		const char *v_[] = { vmctl, "--socket", p.sock, __VA_ARGS__, NULL }; \
		memcpy(argv, v_, sizeof(v_)); \
	} while (0)
	VMCTL("alloc-pages", "0");
	CU_ASSERT_EQUAL_FATAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 0);
	snprintf(pfn, sizeof(pfn), "%.*s", (int)strcspn(out, "\n"), out);
	VMCTL("--json", "map-ram", pfn);
	CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"pages\": 1"));
	CU_ASSERT_FATAL(sscanf(strstr(out, "\"addr\": \"") + 9, "%31[0-9a-fx]", addr) == 1);
	VMCTL("unmap-ram", addr, "2");
	CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "it maps 1"));
	VMCTL("unmap-ram", addr, "1");
	CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 0);
	VMCTL("free-pages", pfn, "0");
	CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 0);
	VMCTL("percpu-alloc", "24", "--align", "8");
	CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 0);
	snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(out, "\n"), out);
	VMCTL("percpu-free", addr);
	CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 0);
	VMCTL("percpu-free", addr);
	CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a per-CPU object"));
	VMCTL("alloc", "4096");
	CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 0);
	snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(out, "\n"), out);
	VMCTL("--json", "kvfree-rcu", addr, "--head");
	CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"queued\""));
	VMCTL("stat");
	CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 0);
	snprintf(cmdline, sizeof(cmdline), "nr_kvfree_rcu        1\n");
	CU_ASSERT_PTR_NOT_NULL(strstr(out, cmdline));
#undef VMCTL
	CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 0);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "hello_module", test_hello_module },
		{ "vm_map_ram", test_vm_map_ram },
		{ "scope", test_scope },
		{ "percpu", test_percpu },
		{ "kvfree_rcu", test_kvfree_rcu },
		{ "vmctl", test_vmctl },
		{ NULL, NULL },
	};

	return t_main("objects", cases, argc, argv);
}
