/* test_vmctl.c -- every vmctl subcommand against a live vmallocd, with its
 * output and its error paths (exit status and the "vmctl: CMD ARG: error"
 * line), including EPERM from a client of another uid.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tcase.h"

static struct vmd_proc daemon_proc;
static const char *vmctl;
static char out[1 << 20], err[8192];

static int suite_init(void)
{
	static const char *const args[] = { "--memory", "128M", "--quota-uid", "65534=1M", NULL };

	vmctl = getenv("VMCTL_BIN");
	if (!vmctl)
		return -1;
	return vmd_start(&daemon_proc, args, NULL) < 0 ? -1 : 0;
}

static int suite_clean(void)
{
	return vmd_stop(&daemon_proc, 5000) == 0 ? 0 : -1;
}

/* vmctl --socket SOCK args...; returns the exit status. */
static int run(const char *stdin_data, size_t stdin_len, const char *a1, const char *a2,
	       const char *a3, const char *a4, const char *a5)
{
	const char *argv[12] = { vmctl, "--socket", daemon_proc.sock };
	int n = 3;

	if (a1)
		argv[n++] = a1;
	if (a2)
		argv[n++] = a2;
	if (a3)
		argv[n++] = a3;
	if (a4)
		argv[n++] = a4;
	if (a5)
		argv[n++] = a5;
	argv[n] = NULL;
	return vmd_run(argv, stdin_data, stdin_len, out, sizeof(out), err, sizeof(err));
}

#define RUN(...) run(NULL, 0, __VA_ARGS__)

static uint64_t alloc(const char *size, const char *flag)
{
	CU_ASSERT_EQUAL(run(NULL, 0, "alloc", size, flag, NULL, NULL), 0);
	CU_ASSERT_EQUAL(strncmp(out, "0x", 2), 0);
	return strtoull(out, NULL, 16);
}

static void test_alloc_free(void)
{
	char addr[32];
	uint64_t a = alloc("64K", NULL);

	CU_ASSERT_TRUE(a >= 0xffffc90000000000ull);
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)a);
	CU_ASSERT_EQUAL(RUN("info", addr, NULL, NULL, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "16"));
	CU_ASSERT_EQUAL(RUN("free", addr, NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(RUN("free", addr, NULL, NULL, NULL), 1);
	{
		char want[96];

		snprintf(want, sizeof(want), "vmctl: free %s: Invalid argument", addr);
		CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
	}
	/* Flags. */
	a = alloc("8K", "--zero");
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)a);
	CU_ASSERT_EQUAL(RUN("free", addr, NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(run(NULL, 0, "alloc", "1M", "--align", "2M", NULL), 0);
	a = strtoull(out, NULL, 16);
	CU_ASSERT_EQUAL(a & ((2u << 20) - 1), 0);
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)a);
	CU_ASSERT_EQUAL(RUN("free", addr, NULL, NULL, NULL), 0);
	a = alloc("8K", "--user");
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)a);
	CU_ASSERT_EQUAL(RUN("free", addr, NULL, NULL, NULL), 0);
	a = alloc("8K", "--dma32");
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)a);
	CU_ASSERT_EQUAL(RUN("free", addr, NULL, NULL, NULL), 0);
	a = alloc("8K", "--node=0");
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)a);
	CU_ASSERT_EQUAL(RUN("free", addr, NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(run(NULL, 0, "alloc", "8K", "--node", "3", NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Invalid argument"));
	CU_ASSERT_EQUAL(RUN("alloc", "0", NULL, NULL, NULL), 1);
	CU_ASSERT_EQUAL(RUN("alloc", "1T", NULL, NULL, NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Cannot allocate memory"));
	CU_ASSERT_EQUAL(RUN("alloc", "12Q", NULL, NULL, NULL), 2);
	CU_ASSERT_EQUAL(RUN("frobnicate", NULL, NULL, NULL, NULL), 2);
}

static void test_read_write_translate(void)
{
	static const char msg[] = "hello through the page tables, across a page boundary";
	char addr[32], at[32], len[16];
	uint64_t a = alloc("16K", NULL);

	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)a);
	snprintf(at, sizeof(at), "0x%llx", (unsigned long long)(a + 4096 - 10));
	snprintf(len, sizeof(len), "%zu", sizeof(msg) - 1);
	CU_ASSERT_EQUAL(run(msg, sizeof(msg) - 1, "write", at, NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(RUN("read", at, len, NULL, NULL), 0);
	CU_ASSERT_EQUAL(memcmp(out, msg, sizeof(msg) - 1), 0);
	CU_ASSERT_EQUAL(RUN("read", at, "16", "--hex", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "68 65 6c 6c"));
	CU_ASSERT_EQUAL(RUN("read", addr, "20000", NULL, NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Bad address"));
	CU_ASSERT_EQUAL(RUN("translate", at, NULL, NULL, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "pfn"));
	CU_ASSERT_EQUAL(RUN("--json", "translate", at, NULL, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"pfn\""));
	CU_ASSERT_EQUAL(RUN("realloc", addr, "64K", NULL, NULL), 0);
	a = strtoull(out, NULL, 16);
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)a);
	CU_ASSERT_EQUAL(RUN("free", addr, NULL, NULL, NULL), 0);
}

static void test_queries(void)
{
	CU_ASSERT_EQUAL(RUN("meminfo", NULL, NULL, NULL, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "MemTotal:         131072 kB\n"));
	CU_ASSERT_EQUAL(RUN("--json", "meminfo", NULL, NULL, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "131072"));
	CU_ASSERT_EQUAL(RUN("buddyinfo", NULL, NULL, NULL, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Node 0, zone    DMA32 "));
	CU_ASSERT_EQUAL(RUN("--json", "buddyinfo", NULL, NULL, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "DMA32"));
	CU_ASSERT_EQUAL(RUN("frag", NULL, NULL, NULL, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Node 0, zone"));
	CU_ASSERT_EQUAL(RUN("--json", "frag", NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(RUN("vmallocinfo", NULL, NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(RUN("--json", "vmallocinfo", NULL, NULL, NULL), 0);
	CU_ASSERT_TRUE(out[0] == '[' || out[0] == '{');
	CU_ASSERT_EQUAL(RUN("stat", NULL, NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(RUN("--json", "stat", NULL, NULL, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "x86_64"));
	CU_ASSERT_EQUAL(RUN("leaks", NULL, NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(RUN("--json", "leaks", NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(RUN("check", NULL, NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(RUN("purge", NULL, NULL, NULL, NULL), 0);
}

static void test_pages_and_vmap(void)
{
	char pfn[32], addr[32];

	CU_ASSERT_EQUAL(RUN("alloc-pages", "1", NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(strncmp(out, "0x", 2), 0);
	snprintf(pfn, sizeof(pfn), "%.*s", (int)strcspn(out, " \n"), out);
	CU_ASSERT_EQUAL(RUN("vmap", pfn, NULL, NULL, NULL), 0);
	snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(out, " \n"), out);
	CU_ASSERT_EQUAL(RUN("free-pages", pfn, "1", NULL, NULL), 1);
	CU_ASSERT_EQUAL(RUN("vunmap", addr, NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(RUN("free-pages", pfn, "1", NULL, NULL), 0);
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), dst;
	ssize_t n;

	if (in < 0)
		return -1;
	dst = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (dst < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(dst, buf, (size_t)n) != n)
			n = -1;
	close(in);
	close(dst);
	return n < 0 ? -1 : 0;
}

static void test_other_user(void)
{
	uint64_t a = alloc("4K", NULL);
	char addr[32], want[96], lib[512], bin[256], libcopy[256];
	const char *slash = strrchr(vmctl, '/');
	pid_t pid;
	int st;

	/* The build tree may sit under a directory another uid cannot enter
	 * (mktemp -d is 0700): run copies from the daemon's 0755 temp dir. */
	snprintf(lib, sizeof(lib), "%.*s/libvmclient.so.0", slash ? (int)(slash - vmctl) : 1,
		 slash ? vmctl : ".");
	snprintf(bin, sizeof(bin), "%s/vmctl", daemon_proc.dir);
	snprintf(libcopy, sizeof(libcopy), "%s/libvmclient.so.0", daemon_proc.dir);
	CU_ASSERT_EQUAL_FATAL(copy_file(vmctl, bin), 0);
	CU_ASSERT_EQUAL_FATAL(copy_file(lib, libcopy), 0);

	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)a);
	pid = fork();
	if (pid == 0) {
		int fails = 0;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(100);
		vmctl = bin;
		setenv("LD_LIBRARY_PATH", daemon_proc.dir, 1);
		fails += RUN("free", addr, NULL, NULL, NULL) != 1;
		snprintf(want, sizeof(want), "vmctl: free %s: Operation not permitted", addr);
		fails += strncmp(err, want, strlen(want)) != 0;
		fails += RUN("read", addr, "8", NULL, NULL) != 1;
		fails += RUN("vmallocinfo", NULL, NULL, NULL, NULL) != 0;
		fails += strstr(out, addr + 2) != NULL;
		fails += RUN("alloc", "2M", NULL, NULL, NULL) != 1;
		fails += strstr(err, "quota") == NULL && strstr(err, "Disk quota exceeded") == NULL;
		_exit(fails);
	}
	CU_ASSERT_FATAL(pid > 0);
	waitpid(pid, &st, 0);
	CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_EQUAL(RUN("free", addr, NULL, NULL, NULL), 0);
	unlink(bin);
	unlink(libcopy);
}

static const struct t_case cases[] = {
	{ "alloc_free", test_alloc_free },
	{ "read_write_translate", test_read_write_translate },
	{ "queries", test_queries },
	{ "pages_and_vmap", test_pages_and_vmap },
	{ "other_user", test_other_user },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	if (getuid() != 0) {
		fprintf(stderr, "test_vmctl: needs root; skipped\n");
		return 77;
	}
	return t_main_suite("vmctl", suite_init, suite_clean, cases, argc, argv);
}
