/* test_service.c -- libvmclient against a live vmallocd on a temporary
 * socket: every call and its error paths (EINVAL, ENOMEM, EPERM from a child
 * that drops to another uid, EDQUOT), large reads and writes, batches,
 * scoped areas of a SIGKILLed client and the leaks listing.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "harness.h"
#include "tcase.h"
#include "vmclient.h"

#define NOBODY 65534u
#define OTHER  65533u

static struct vmd_proc daemon_proc;
static struct vmc_client *root;

static int suite_init(void)
{
	static const char *const args[] = {
		"--memory", "256M", "--quota-uid", "65534=8M", "--stall-timeout", "2s", NULL,
	};

	if (vmd_start(&daemon_proc, args, NULL) < 0)
		return -1;
	return vmd_connect(daemon_proc.sock, &root) < 0 ? -1 : 0;
}

static int suite_clean(void)
{
	int st;

	vmc_close(root);
	st = vmd_stop(&daemon_proc, 5000);
	return st == 0 ? 0 : -1;
}

static void expect_clean(void)
{
	char msg[256];

	CU_ASSERT_EQUAL(vmc_check(root, msg, sizeof(msg)), 0);
}

/* ---- the family, happy paths and engine errors ------------------------------ */

static void test_family(void)
{
	uint64_t a, b, c, pfn, addr;
	struct vmc_alloc_opts o = { .node = VMC_NO_NODE };
	struct vmc_translation t;
	struct vmc_area info;

	CU_ASSERT_EQUAL(vmc_vmalloc(root, 4096, &a), 0);
	CU_ASSERT_TRUE(a >= 0xffffc90000000000ull);
	CU_ASSERT_EQUAL(vmc_vzalloc(root, 10000, &b), 0);
	CU_ASSERT_EQUAL(vmc_vmalloc_node(root, 8192, 0, &c), 0);
	CU_ASSERT_EQUAL(vmc_vfree(root, c), 0);
	CU_ASSERT_EQUAL(vmc_vzalloc_node(root, 8192, 0, &c), 0);
	CU_ASSERT_EQUAL(vmc_vfree(root, c), 0);
	CU_ASSERT_EQUAL(vmc_vmalloc_32(root, 8192, &c), 0);
	CU_ASSERT_EQUAL(vmc_translate(root, c, &t), 0);
	CU_ASSERT_TRUE(t.phys_addr < (4ull << 30));
	CU_ASSERT_EQUAL(vmc_vfree(root, c), 0);
	CU_ASSERT_EQUAL(vmc_vmalloc_user(root, 8192, &c), 0);
	CU_ASSERT_EQUAL(vmc_area_info(root, c, &info), 0);
	CU_ASSERT_TRUE(info.flags & VM_USERMAP);
	CU_ASSERT_EQUAL(vmc_vfree(root, c), 0);
	CU_ASSERT_EQUAL(vmc_vmalloc_32_user(root, 8192, &c), 0);
	CU_ASSERT_EQUAL(vmc_vfree(root, c), 0);
	CU_ASSERT_EQUAL(vmc___vmalloc(root, 8192, GFP_KERNEL | __GFP_ZERO, &c), 0);
	CU_ASSERT_EQUAL(vmc_vfree(root, c), 0);

	o.align = 1ull << 21;
	CU_ASSERT_EQUAL(vmc_vmalloc_node_range(root, 4096, &o, &c), 0);
	CU_ASSERT_EQUAL(c & ((1ull << 21) - 1), 0);
	CU_ASSERT_EQUAL(vmc_vrealloc(root, c, 3 * 4096, 0, &addr), 0);
	CU_ASSERT_EQUAL(vmc_area_info(root, addr, &info), 0);
	CU_ASSERT_EQUAL(info.nr_pages, 3);
	CU_ASSERT_EQUAL(vmc_vfree(root, addr), 0);

	/* alloc_pages + phys write + vmap, then read through the mapping. */
	CU_ASSERT_EQUAL(vmc_alloc_pages(root, GFP_KERNEL, 1, VMC_NO_NODE, &pfn), 0);
	CU_ASSERT_EQUAL(vmc_phys_write(root, pfn, 4090, "vmap-data", 9), 0);
	{
		uint64_t pfns[2] = { pfn, pfn + 1 };
		char buf[10] = { 0 };

		CU_ASSERT_EQUAL(vmc_vmap(root, pfns, 2, 0, 0, &addr), 0);
		CU_ASSERT_EQUAL(vmc_read(root, addr + 4090, buf, 9), 0);
		CU_ASSERT_STRING_EQUAL(buf, "vmap-data");
		CU_ASSERT_EQUAL(vmc_translate(root, addr + 4096, &t), 0);
		CU_ASSERT_EQUAL(t.pfn, pfn + 1);
		CU_ASSERT_EQUAL(vmc_free_pages(root, pfn, 1), -EBUSY);
		CU_ASSERT_EQUAL(vmc_vfree(root, addr), -EINVAL);
		CU_ASSERT_EQUAL(vmc_vunmap(root, addr), 0);
	}
	CU_ASSERT_EQUAL(vmc_free_pages(root, pfn, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmc_free_pages(root, pfn, 1), 0);
	CU_ASSERT_EQUAL(vmc_free_pages(root, pfn, 1), -EINVAL);

	CU_ASSERT_EQUAL(vmc_vfree(root, a), 0);
	CU_ASSERT_EQUAL(vmc_vfree(root, b), 0);
	CU_ASSERT_EQUAL(vmc_purge(root), 0);
	expect_clean();
}

static void test_errors(void)
{
	struct vmc_alloc_opts o = { .node = VMC_NO_NODE };
	uint64_t a, addr;
	char buf[16];

	CU_ASSERT_EQUAL(vmc_vmalloc(root, 0, &a), -EINVAL);
	CU_ASSERT_EQUAL(vmc_vmalloc(root, UINT64_MAX, &a), -EINVAL);
	CU_ASSERT_EQUAL(vmc_vmalloc(root, 1ull << 40, &a), -ENOMEM);
	CU_ASSERT_EQUAL(vmc_vmalloc_node(root, 4096, 7, &a), -EINVAL);
	o.align = 12345;
	CU_ASSERT_EQUAL(vmc_vmalloc_node_range(root, 4096, &o, &a), -EINVAL);
	o.align = 0;
	o.start = 1;
	o.end = 2;
	CU_ASSERT_EQUAL(vmc_vmalloc_node_range(root, 4096, &o, &a), -EINVAL);
	CU_ASSERT_EQUAL(vmc_vfree(root, 0xffffc90000001000ull), -EINVAL);
	CU_ASSERT_EQUAL(vmc_vmalloc(root, 4096, &a), 0);
	CU_ASSERT_EQUAL(vmc_vfree(root, a + 4096), -EINVAL);
	CU_ASSERT_EQUAL(vmc_read(root, a + 4000, buf, 200), -EFAULT);
	CU_ASSERT_EQUAL(vmc_write(root, a + 4096, "x", 1), -EFAULT);
	CU_ASSERT_EQUAL(vmc_vrealloc(root, a + 4096, 100, 0, &addr), -EINVAL);
	CU_ASSERT_EQUAL(vmc_vfree(root, a), 0);
	CU_ASSERT_EQUAL(vmc_vfree(root, a), -EINVAL);
	CU_ASSERT_EQUAL(vmc_alloc_pages(root, GFP_KERNEL, 11, VMC_NO_NODE, &a), -EINVAL);
	CU_ASSERT_EQUAL(vmc_alloc_pages(root, 0x80000000u, 0, VMC_NO_NODE, &a), -EINVAL);
	CU_ASSERT_STRING_NOT_EQUAL(vmc_last_message(root), "");
	CU_ASSERT_EQUAL(vmc_area_info(root, 0xffffc90000000000ull, &(struct vmc_area){ 0 }), -ENOENT);
	expect_clean();
}

/* ---- data ------------------------------------------------------------------------- */

static void test_large_io(void)
{
	const uint64_t n = 3 * VMD_MAX_IO + 12345;
	uint8_t *w = malloc(n), *r = malloc(n);
	uint64_t a;

	CU_ASSERT_FATAL(w && r);
	for (uint64_t i = 0; i < n; i++)
		w[i] = (uint8_t)(i * 131 + 7);
	CU_ASSERT_EQUAL(vmc_vmalloc(root, n + 1, &a), 0);
	CU_ASSERT_EQUAL(vmc_write(root, a + 1, w, n), 0);
	memset(r, 0, n);
	CU_ASSERT_EQUAL(vmc_read(root, a + 1, r, n), 0);
	CU_ASSERT_EQUAL(memcmp(w, r, n), 0);
	CU_ASSERT_EQUAL(vmc_vfree(root, a), 0);
	/* vzalloc over frames that just held data reads zeros (scrubbed). */
	CU_ASSERT_EQUAL(vmc_vzalloc(root, n, &a), 0);
	CU_ASSERT_EQUAL(vmc_read(root, a, r, n), 0);
	for (uint64_t i = 0; i < n; i++)
		if (r[i]) {
			CU_FAIL("vzalloc memory not zero");
			break;
		}
	CU_ASSERT_EQUAL(vmc_vfree(root, a), 0);
	free(w);
	free(r);
}

static void test_batch(void)
{
	struct vmc_batch *b;
	uint64_t addr[16];
	int st[16], st2[16];

	CU_ASSERT_FATAL(vmc_batch_new(root, &b) == 0);
	for (int i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(vmc_batch_vmalloc(b, 4096, &addr[i], &st[i]), 0);
	CU_ASSERT_EQUAL(vmc_batch_size(b), 16);
	CU_ASSERT_EQUAL(vmc_batch_run(b), 0);
	for (int i = 0; i < 16; i++) {
		CU_ASSERT_EQUAL(st[i], 0);
		if (i)
			CU_ASSERT_EQUAL(addr[i], addr[i - 1] + 8192);
	}
	vmc_batch_clear(b);
	for (int i = 0; i < 16; i++)
		vmc_batch_vfree(b, addr[i], &st2[i]);
	CU_ASSERT_EQUAL(vmc_batch_run(b), 0);
	for (int i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(st2[i], 0);
	vmc_batch_free(b);
	expect_clean();
}

/* ---- queries ---------------------------------------------------------------------- */

static void test_queries(void)
{
	struct vmc_meminfo mi;
	struct vmc_zone *zones;
	struct vmc_stat s;
	struct vmc_area *areas;
	size_t n;
	char *text;
	uint64_t a;

	CU_ASSERT_EQUAL(vmc_vmalloc(root, 3 * 4096, &a), 0);
	CU_ASSERT_EQUAL_FATAL(vmc_query_text(root, VMC_VMALLOCINFO, &text), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, " pages=3 vmalloc N0=3\n"));
	free(text);
	CU_ASSERT_EQUAL_FATAL(vmc_query_text(root, VMC_MEMINFO, &text), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "MemTotal:         262144 kB\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "VmallocTotal:   34359738367 kB\n"));
	free(text);
	CU_ASSERT_EQUAL_FATAL(vmc_query_text(root, VMC_BUDDYINFO, &text), 0);
	CU_ASSERT_EQUAL(strncmp(text, "Node 0, zone      DMA ", 22), 0);
	free(text);
	CU_ASSERT_EQUAL_FATAL(vmc_query_text(root, VMC_FRAG, &text), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "Node 0, zone    DMA32"));
	free(text);
	CU_ASSERT_EQUAL(vmc_meminfo(root, &mi), 0);
	CU_ASSERT_EQUAL(mi.mem_total, 262144);
	CU_ASSERT_TRUE(mi.vmalloc_used >= 12);
	CU_ASSERT_EQUAL(vmc_zones(root, &zones, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	if (n == 2) {
		CU_ASSERT_STRING_EQUAL(zones[1].name, "DMA32");
		CU_ASSERT_TRUE(zones[1].free > 0);
	}
	free(zones);
	CU_ASSERT_EQUAL(vmc_areas(root, false, &areas, &n), 0);
	CU_ASSERT_TRUE(n >= 1);
	free(areas);
	CU_ASSERT_EQUAL(vmc_stat(root, &s), 0);
	CU_ASSERT_EQUAL(s.total_pages, 65536);
	CU_ASSERT_TRUE(s.clients >= 1);
	CU_ASSERT_STRING_EQUAL(s.layout, "x86_64");
	CU_ASSERT_EQUAL(vmc_vfree(root, a), 0);
}

/* ---- other users ------------------------------------------------------------------ */

struct perm_arg {
	const char *sock;
	uint64_t root_area;
};

static int perm_child(void *p)
{
	struct perm_arg *a = p;
	struct vmc_client *c;
	struct vmc_translation t;
	struct vmc_area info;
	uint64_t mine, x;
	char buf[8], *text;
	int fails = 0;

	if (vmd_connect(a->sock, &c) < 0)
		return 101;
	fails += vmc_vfree(c, a->root_area) != -EPERM;
	fails += vmc_read(c, a->root_area, buf, 8) != -EPERM;
	fails += vmc_write(c, a->root_area, "x", 1) != -EPERM;
	fails += vmc_translate(c, a->root_area, &t) != -EPERM;
	fails += vmc_vrealloc(c, a->root_area, 8192, 0, &x) != -EPERM;
	fails += vmc_area_info(c, a->root_area, &info) != -EPERM;
	fails += vmc_purge(c) != -EPERM;
	/* Its own area works, and its view lists only it. */
	fails += vmc_vmalloc(c, 4096, &mine) != 0;
	fails += vmc_write(c, mine, "mine", 4) != 0;
	if (vmc_query_text(c, VMC_VMALLOCINFO, &text) == 0) {
		char want[64];

		snprintf(want, sizeof(want), "0x%016llx-", (unsigned long long)a->root_area);
		fails += strstr(text, want) != NULL;
		snprintf(want, sizeof(want), "0x%016llx-", (unsigned long long)mine);
		fails += strstr(text, want) == NULL;
		free(text);
	} else {
		fails++;
	}
	/* Quota: 8 MiB for uid 65534. */
	fails += vmc_vmalloc(c, 9 << 20, &x) != -EDQUOT;
	fails += vmc_vmalloc(c, 4 << 20, &x) != 0;
	fails += vmc_vmalloc(c, 4 << 20, &x) != -EDQUOT;
	fails += vmc_vfree(c, x) != 0;
	fails += vmc_vmalloc(c, 4 << 20, &x) != 0;
	fails += vmc_vfree(c, x) != 0;
	vmc_close(c);
	/* Leave `mine` allocated: the parent frees it as root. */
	return fails > 99 ? 99 : fails;
}

static int other_child(void *p)
{
	struct perm_arg *a = p;
	struct vmc_client *c;
	int fails = 0;

	if (vmd_connect(a->sock, &c) < 0)
		return 101;
	fails += vmc_vfree(c, a->root_area) != -EPERM;
	vmc_close(c);
	return fails;
}

static void test_permissions(void)
{
	struct perm_arg arg = { .sock = daemon_proc.sock };
	struct vmc_area *areas;
	size_t n, mine = 0;

	CU_ASSERT_FATAL(vmc_vmalloc(root, 4096, &arg.root_area) == 0);
	CU_ASSERT_EQUAL(as_uid(NOBODY, perm_child, &arg), 0);
	/* Root sees nobody's area and may free it. */
	CU_ASSERT_EQUAL(vmc_areas(root, false, &areas, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (areas[i].uid == NOBODY) {
			struct perm_arg other = { .sock = daemon_proc.sock, .root_area = areas[i].addr };

			mine++;
			CU_ASSERT_EQUAL(as_uid(OTHER, other_child, &other), 0);
			CU_ASSERT_EQUAL(vmc_vfree(root, areas[i].addr), 0);
		}
	}
	free(areas);
	CU_ASSERT_EQUAL(mine, 1);
	CU_ASSERT_EQUAL(vmc_vfree(root, arg.root_area), 0);
	expect_clean();
}

/* ---- a client killed in the middle of a request ------------------------------------ */

static void test_killed_client(void)
{
	int pfd[2];
	uint64_t got[2] = { 0, 0 };
	struct vmc_area info, *leaks;
	size_t n, found = 0;
	pid_t pid;
	char *text;

	CU_ASSERT_FATAL(pipe(pfd) == 0);
	pid = vmd_fork();
	if (pid == 0) {
		struct vmc_client *c;
		uint64_t a[2];
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd;
		static const uint8_t half[] = { 0, 0, 0, 100, 8, 1, 26 };

		close(pfd[0]);
		if (vmd_connect(daemon_proc.sock, &c) < 0)
			_exit(1);
		vmc_set_scoped(c, true);
		if (vmc_vmalloc(c, 4096, &a[0]) < 0)
			_exit(2);
		vmc_set_scoped(c, false);
		if (vmc_vmalloc(c, 8192, &a[1]) < 0)
			_exit(3);
		/* The same client process also leaves a request half sent. */
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		memcpy(sa.sun_path, daemon_proc.sock, strlen(daemon_proc.sock) + 1);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    write(fd, half, sizeof(half)) != (ssize_t)sizeof(half))
			_exit(4);
		if (write(pfd[1], a, sizeof(a)) != sizeof(a))
			_exit(5);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	CU_ASSERT_EQUAL(read(pfd[0], got, sizeof(got)), (ssize_t)sizeof(got));
	close(pfd[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* The daemon notices the closed connections on its next loop turn. */
	for (int i = 0; i < 200 && vmc_area_info(root, got[0], &info) == 0; i++)
		usleep(10000);
	CU_ASSERT_EQUAL(vmc_area_info(root, got[0], &info), -ENOENT);
	CU_ASSERT_EQUAL(vmc_area_info(root, got[1], &info), 0);
	CU_ASSERT_TRUE(info.leaked);
	CU_ASSERT_EQUAL(vmc_areas(root, true, &leaks, &n), 0);
	for (size_t i = 0; i < n; i++)
		found += leaks[i].addr == got[1];
	free(leaks);
	CU_ASSERT_EQUAL(found, 1);
	CU_ASSERT_EQUAL_FATAL(vmc_query_text(root, VMC_LEAKS, &text), 0);
	{
		char want[32];

		snprintf(want, sizeof(want), "0x%016llx-", (unsigned long long)got[1]);
		CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
	}
	free(text);
	CU_ASSERT_EQUAL(vmc_vfree(root, got[1]), 0);
	expect_clean();
}

/* ---- the rest of the API: identity, caller strings, timeouts, batches ---- */

/* Not static and not inlined: the default caller string names it. */
__attribute__((noinline)) int test_caller_site(uint64_t *addr);
__attribute__((noinline)) int test_caller_site(uint64_t *addr)
{
	volatile int r = vmc_vmalloc(root, 4096, addr);  /* no tail call */

	return r;
}

static void test_misc_calls(void)
{
	struct vmc_hello h;
	struct vmc_area info;
	struct vmc_batch *b;
	char path[256], buf[8] = { 0 };
	uint64_t a, z;
	int st[4];

	CU_ASSERT_EQUAL(vmc_hello(root, &h), 0);
	CU_ASSERT_EQUAL(h.version, VMC_PROTO_VERSION);
	CU_ASSERT_EQUAL(h.uid, getuid());
	CU_ASSERT_EQUAL(h.pid, (uint32_t)getpid());
	CU_ASSERT_EQUAL(h.max_io, VMD_MAX_IO);
	CU_ASSERT_STRING_EQUAL(vmc_strerror(-EPERM), "Operation not permitted");
	CU_ASSERT_STRING_EQUAL(vmc_strerror(-EDQUOT), "Disk quota exceeded");
	setenv("VMALLOCD_SOCKET", "/tmp/elsewhere.sock", 1);
	CU_ASSERT_EQUAL(vmc_default_socket(path, sizeof(path)), 0);
	CU_ASSERT_STRING_EQUAL(path, "/tmp/elsewhere.sock");
	unsetenv("VMALLOCD_SOCKET");
	CU_ASSERT_EQUAL(vmc_default_socket(path, sizeof(path)), 0);
	CU_ASSERT_STRING_EQUAL(path, "/run/vmallocd/vmallocd.sock");
	CU_ASSERT_EQUAL(vmc_default_socket(path, 4), -ENAMETOOLONG);

	/* The default caller is resolved like %pS: symbol+0xoff/0xsize. */
	CU_ASSERT_EQUAL_FATAL(test_caller_site(&a), 0);
	CU_ASSERT_EQUAL(vmc_area_info(root, a, &info), 0);
	CU_ASSERT_EQUAL(strncmp(info.caller, "test_caller_site+0x", 19), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(info.caller, "/0x"));
	CU_ASSERT_EQUAL(vmc_vfree(root, a), 0);
	CU_ASSERT_EQUAL(vmc_set_caller(root, "my_driver_probe+0x10/0x80"), 0);
	CU_ASSERT_EQUAL(vmc_vmalloc(root, 4096, &a), 0);
	CU_ASSERT_EQUAL(vmc_area_info(root, a, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.caller, "my_driver_probe+0x10/0x80");
	CU_ASSERT_EQUAL(vmc_vfree(root, a), 0);
	{
		char longer[300];

		memset(longer, 'x', sizeof(longer) - 1);
		longer[sizeof(longer) - 1] = '\0';
		CU_ASSERT_EQUAL(vmc_set_caller(root, longer), -EINVAL);
	}
	CU_ASSERT_EQUAL(vmc_set_caller(root, NULL), 0);

	vmc_set_timeout(root, 2000);
	CU_ASSERT_EQUAL(vmc_hello(root, &h), 0);
	vmc_set_timeout(root, 0);

	/* Batched write, read and vzalloc, statuses per request. */
	CU_ASSERT_EQUAL_FATAL(vmc_vmalloc(root, 4096, &a), 0);
	CU_ASSERT_FATAL(vmc_batch_new(root, &b) == 0);
	vmc_batch_write(b, a, "batched", 7, &st[0]);
	vmc_batch_read(b, a, buf, 7, &st[1]);
	vmc_batch_vzalloc(b, 8192, &z, &st[2]);
	vmc_batch_vfree(b, a + 1, &st[3]);
	CU_ASSERT_EQUAL(vmc_batch_run(b), 0);
	CU_ASSERT_EQUAL(st[0], 0);
	CU_ASSERT_EQUAL(st[1], 0);
	CU_ASSERT_STRING_EQUAL(buf, "batched");
	CU_ASSERT_EQUAL(st[2], 0);
	CU_ASSERT_EQUAL(st[3], -EINVAL);
	vmc_batch_free(b);
	CU_ASSERT_EQUAL(vmc_vfree(root, a), 0);
	CU_ASSERT_EQUAL(vmc_vfree(root, z), 0);
	vmc_batch_free(NULL);
	expect_clean();
}

static const struct t_case cases[] = {
	{ "family", test_family },
	{ "errors", test_errors },
	{ "large_io", test_large_io },
	{ "batch", test_batch },
	{ "queries", test_queries },
	{ "permissions", test_permissions },
	{ "killed_client", test_killed_client },
	{ "misc_calls", test_misc_calls },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	if (getuid() != 0) {
		fprintf(stderr, "test_service: needs root (to drop to other uids); skipped\n");
		return 77;
	}
	return t_main_suite("service", suite_init, suite_clean, cases, argc, argv);
}
