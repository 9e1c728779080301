/* test_vmctl.c -- vmctl against a live vmallocd, as a person and a script
 * use it: every command's output, text and JSON; each error line exactly,
 * with its exit status (1 refused, 2 usage); human sizes and fractions;
 * -i/--count; a `top --batch` frame; the leak rule and `free --leaked`;
 * what realloc 0 and alloc --scoped say; test-vmalloc's progress on a
 * pseudo-terminal; EPERM for a client of another uid.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pty.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

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

/* vmctl --socket SOCK args... (NULL-terminated) with stdin_data; the exit
 * status, stdout in out, stderr in err. */
static int vrun(const char *stdin_data, size_t stdin_len, const char *a, va_list ap)
{
	const char *argv[40] = { vmctl, "--socket", daemon_proc.sock };
	int n = 3;

	for (; a && n < 39; a = va_arg(ap, const char *))
		argv[n++] = a;
	argv[n] = NULL;
	return vmd_run(argv, stdin_data, stdin_len, out, sizeof(out), err, sizeof(err));
}

static int run_in(const char *stdin_data, size_t stdin_len, const char *a, ...)
{
	va_list ap;
	int r;

	va_start(ap, a);
	r = vrun(stdin_data, stdin_len, a, ap);
	va_end(ap);
	return r;
}

#define RUN(...) run_in(NULL, 0, __VA_ARGS__, NULL)

static uint64_t alloc(const char *size, const char *flag)
{
	CU_ASSERT_EQUAL(RUN("alloc", size, flag), 0);
	CU_ASSERT_EQUAL(strncmp(out, "0x", 2), 0);
	return strtoull(out, NULL, 16);
}

static const char *hex(uint64_t v, char *buf)
{
	sprintf(buf, "0x%" PRIx64, v);
	return buf;
}

/* stderr is exactly want (one line). */
#define ERR_IS(want) T_ASSERT_MSG(strcmp(err, want) == 0, "stderr \"%s\", want \"%s\"", err, want)

static void test_alloc_free(void)
{
	char addr[32];
	uint64_t a = alloc("64K", NULL);

	CU_ASSERT_TRUE(a >= 0xffffc90000000000ull);
	hex(a, addr);
	CU_ASSERT_EQUAL(RUN("info", addr), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "pages:     16\n"));
	CU_ASSERT_EQUAL(RUN("free", addr), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
	CU_ASSERT_EQUAL(RUN("free", addr), 1);
	/* Flags. */
	a = alloc("8K", "--zero");
	CU_ASSERT_EQUAL(RUN("free", hex(a, addr)), 0);
	CU_ASSERT_EQUAL(RUN("alloc", "1M", "--align", "2M"), 0);
	a = strtoull(out, NULL, 16);
	CU_ASSERT_EQUAL(a & ((2u << 20) - 1), 0);
	CU_ASSERT_EQUAL(RUN("free", hex(a, addr)), 0);
	a = alloc("8K", "--user");
	CU_ASSERT_EQUAL(RUN("info", hex(a, addr)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "vmalloc user"));
	CU_ASSERT_EQUAL(RUN("free", addr), 0);
	a = alloc("8K", "--dma32");
	CU_ASSERT_EQUAL(RUN("free", hex(a, addr)), 0);
	a = alloc("8K", "--node=0");
	CU_ASSERT_EQUAL(RUN("free", hex(a, addr)), 0);
	CU_ASSERT_EQUAL(RUN("alloc", "8K", "--gfp", "GFP_KERNEL|__GFP_ZERO", "--no-guard"), 0);
	a = strtoull(out, NULL, 16);
	CU_ASSERT_EQUAL(RUN("info", hex(a, addr)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "size:      8192\n"));
	CU_ASSERT_EQUAL(RUN("free", addr), 0);
	/* Fractions. */
	a = alloc("1.5M", NULL);
	CU_ASSERT_EQUAL(RUN("info", hex(a, addr)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "size:      1576960\n"));   /* 1.5M + the guard */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "pages:     384\n"));
	CU_ASSERT_EQUAL(RUN("-h", "info", addr), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "size:      1.5Mi\n"));
	CU_ASSERT_EQUAL(RUN("free", addr), 0);
}

/* Each failure: one line, the daemon's reason, the documented status. */
static void test_error_lines(void)
{
	char want[512];

	CU_ASSERT_EQUAL(RUN("free", "0x1234"), 1);
	ERR_IS("vmctl: free 0x1234: no area there: Invalid argument\n");
	CU_ASSERT_STRING_EQUAL(out, "");
	CU_ASSERT_EQUAL(RUN("alloc", "8K", "--align", "3"), 1);
	ERR_IS("vmctl: alloc 8192 bytes: alignment 3 is not a power of two: Invalid argument\n");
	CU_ASSERT_EQUAL(RUN("alloc", "8K", "--node", "3"), 1);
	ERR_IS("vmctl: alloc 8192 bytes: node 3: the machine has 1 node (0..0, or -1 for any): "
	       "Invalid argument\n");
	CU_ASSERT_EQUAL(RUN("alloc", "1T"), 1);
	ERR_IS("vmctl: alloc 1099511627776 bytes: Cannot allocate memory\n");
	CU_ASSERT_EQUAL(RUN("alloc", "0"), 1);
	ERR_IS("vmctl: alloc 0 bytes: size 0: Invalid argument\n");
	CU_ASSERT_EQUAL(RUN("free-pages", "0x10", "0"), 1);
	ERR_IS("vmctl: free_pages 0x10: not a block from alloc_pages: Invalid argument\n");
	CU_ASSERT_EQUAL(RUN("translate", "0x1000"), 1);
	CU_ASSERT_EQUAL(strchr(err, '\n'), err + strlen(err) - 1);
	/* Arguments: about the argument, exit 2, nothing sent. */
	CU_ASSERT_EQUAL(RUN("free", "-1"), 2);
	ERR_IS("vmctl: free: invalid address '-1': must not be negative\n");
	CU_ASSERT_EQUAL(RUN("alloc", "-5M"), 2);
	ERR_IS("vmctl: alloc: invalid size '-5M': must not be negative\n");
	CU_ASSERT_EQUAL(RUN("alloc", "99999999999999999999"), 2);
	ERR_IS("vmctl: alloc: invalid size '99999999999999999999': larger than 64 bits of bytes\n");
	CU_ASSERT_EQUAL(RUN("free", "0x10000000000000000"), 2);
	ERR_IS("vmctl: free: invalid address '0x10000000000000000': larger than 64 bits\n");
	CU_ASSERT_EQUAL(RUN("alloc", "12Q"), 2);
	ERR_IS("vmctl: alloc: invalid size '12Q': not a size (bytes, or with a K, M, G or T "
	       "suffix: 4096, 64K, 1.5M)\n");
	CU_ASSERT_EQUAL(RUN("read", "0xzz", "8"), 2);
	ERR_IS("vmctl: read: invalid address '0xzz': not a number (0x hex or decimal)\n");
	CU_ASSERT_EQUAL(RUN("alloc-pages", "11"), 2);
	ERR_IS("vmctl: alloc-pages: invalid order '11': not in 0..10\n");
	CU_ASSERT_EQUAL(RUN("alloc", "8K", "--gfp", "GFP_BOGUS"), 2);
	ERR_IS("vmctl: alloc: invalid gfp flags 'GFP_BOGUS': names such as GFP_KERNEL|__GFP_ZERO, "
	       "or a number\n");
	CU_ASSERT_EQUAL(RUN("frobnicate"), 2);
	ERR_IS("vmctl: unknown command 'frobnicate' (try 'vmctl --help')\n");
	CU_ASSERT_EQUAL(RUN("meminfo", "--frob"), 2);
	ERR_IS("vmctl: meminfo: unknown option '--frob' (try 'vmctl meminfo --help')\n");
	CU_ASSERT_EQUAL(RUN("free"), 2);
	ERR_IS("vmctl: free: missing argument: vmctl free ADDR | --leaked\n");
	CU_ASSERT_EQUAL(RUN("meminfo", "-i", "0"), 2);
	ERR_IS("vmctl: meminfo: invalid interval '0': between 0.001 and 86400 seconds\n");
	CU_ASSERT_EQUAL(RUN("vmallocinfo", "-i", "1"), 2);
	ERR_IS("vmctl: vmallocinfo: option '-i' does not apply to vmallocinfo (try 'vmctl "
	       "vmallocinfo --help')\n");
	/* No daemon there: which socket, and what to check. */
	{
		const char *argv[] = { vmctl, "--socket", "/nonexistent/vmallocd.sock", "meminfo",
				       NULL };

		CU_ASSERT_EQUAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 1);
	}
	snprintf(want, sizeof(want), "vmctl: cannot connect to /nonexistent/vmallocd.sock: No such "
		 "file or directory (is vmallocd running? scripts/run-daemon or 'systemctl start "
		 "vmallocd.socket' starts it; --socket or $VMALLOCD_SOCKET names another)\n");
	ERR_IS(want);
}

static void test_read_write_translate(void)
{
	static const char msg[] = "hello through the page tables, across a page boundary";
	char addr[32], at[32], len[16];
	uint64_t a = alloc("16K", NULL);

	hex(a, addr);
	hex(a + 4096 - 10, at);
	snprintf(len, sizeof(len), "%zu", sizeof(msg) - 1);
	CU_ASSERT_EQUAL(run_in(msg, sizeof(msg) - 1, "write", at, NULL), 0);
	CU_ASSERT_EQUAL(RUN("read", at, len), 0);
	CU_ASSERT_EQUAL(memcmp(out, msg, sizeof(msg) - 1), 0);
	CU_ASSERT_EQUAL(RUN("read", at, "16", "--hex"), 0);
	CU_ASSERT_STRING_EQUAL(out, "00000000  68 65 6c 6c 6f 20 74 68  72 6f 75 67 68 20 74 68  "
			       "|hello through th|\n00000010\n");
	CU_ASSERT_EQUAL(RUN("read", addr, "20000"), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Bad address\n"));
	CU_ASSERT_EQUAL(RUN("translate", at), 0);
	CU_ASSERT_EQUAL(strncmp(out, "pfn:       0x", 13), 0);
	CU_ASSERT_EQUAL(RUN("realloc", addr, "64K"), 0);
	a = strtoull(out, NULL, 16);
	CU_ASSERT_EQUAL(RUN("free", hex(a, addr)), 0);
}

/* realloc to 0 frees and says so; a scoped alloc says it is gone at exit. */
static void test_realloc_zero_and_scoped(void)
{
	char addr[32], want[96];
	uint64_t a = alloc("8K", NULL);

	hex(a, addr);
	CU_ASSERT_EQUAL(RUN("realloc", addr, "0"), 0);
	snprintf(want, sizeof(want), "freed %s\n", addr);
	CU_ASSERT_STRING_EQUAL(out, want);
	CU_ASSERT_EQUAL(RUN("info", addr), 1);
	CU_ASSERT_EQUAL(RUN("--json", "realloc", hex(alloc("8K", NULL), addr), "0"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"freed\": true"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"new_addr\": \"0x0\""));

	CU_ASSERT_EQUAL(RUN("alloc", "8K", "--scoped"), 0);
	a = strtoull(out, NULL, 16);
	snprintf(want, sizeof(want), "vmctl: %s is scoped: freed when vmctl exits, that is now\n",
		 hex(a, addr));
	ERR_IS(want);
	CU_ASSERT_EQUAL(RUN("info", addr), 1);   /* gone with vmctl's connection */
	CU_ASSERT_EQUAL(RUN("--json", "alloc", "8K", "--scoped"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"freed_at_exit\": true"));
	CU_ASSERT_STRING_EQUAL(err, "");
}

static json_object *parse(const char *text)
{
	json_object *o = json_tokener_parse(text);

	T_ASSERT_MSG(o != NULL, "not JSON: %s", text);
	return o;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

/* --json: every command prints one JSON document, errors included, and
 * nothing on stderr; sizes say their unit, pfns are "0x..." as in text. */
static void test_json_everywhere(void)
{
	char addr[32], pfn[32], pfn_text[32], vaddr[32];
	json_object *o, *e;
	uint64_t a;

	CU_ASSERT_EQUAL(RUN("--json", "alloc", "64K"), 0);
	o = parse(out);
	{
		const char *s = jstr(o, "addr");

		CU_ASSERT_PTR_NOT_NULL(s);
		snprintf(addr, sizeof(addr), "%s", s ? s : "0x0");
	}
	CU_ASSERT_STRING_EQUAL(jstr(o, "size_bytes"), "65536");
	json_object_put(o);
	CU_ASSERT_EQUAL(run_in("hi", 2, "--json", "write", addr, NULL), 0);
	o = parse(out);
	CU_ASSERT_STRING_EQUAL(jstr(o, "written_bytes"), "2");
	json_object_put(o);
	{
		static const char *const cmds[][4] = {
			{ "read", NULL, "2", NULL }, { "translate", NULL, NULL, NULL },
			{ "info", NULL, NULL, NULL }, { "vmallocinfo", NULL, NULL, NULL },
			{ "leaks", NULL, NULL, NULL }, { "meminfo", NULL, NULL, NULL },
			{ "buddyinfo", NULL, NULL, NULL }, { "frag", NULL, NULL, NULL },
			{ "stat", NULL, NULL, NULL }, { "check", NULL, NULL, NULL },
			{ "purge", NULL, NULL, NULL }, { "hello", NULL, NULL, NULL },
			{ "top", "--batch", NULL, NULL },
		};

		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			const char *a1 = cmds[i][1] ? cmds[i][1] :
					 i < 3 ? addr : NULL;
			int rc = RUN("--json", cmds[i][0], a1, cmds[i][2]);

			T_ASSERT_MSG(rc == 0 && err[0] == '\0', "--json %s: exit %d, stderr %s",
				     cmds[i][0], rc, err);
			json_object_put(parse(out));
		}
	}
	CU_ASSERT_EQUAL(RUN("--json", "meminfo"), 0);
	o = parse(out);
	CU_ASSERT_STRING_EQUAL(jstr(o, "mem_total_kb"), "131072");
	json_object_put(o);
	CU_ASSERT_EQUAL(RUN("--json", "info", addr), 0);
	o = parse(out);
	CU_ASSERT_STRING_EQUAL(jstr(o, "size_bytes"), "69632");
	json_object_put(o);
	CU_ASSERT_EQUAL(RUN("--json", "purge"), 0);
	o = parse(out);
	CU_ASSERT_PTR_NOT_NULL(jstr(o, "purged_areas"));
	CU_ASSERT_PTR_NOT_NULL(jstr(o, "tlb_flushes"));
	json_object_put(o);
	/* ping keeps every sample. */
	CU_ASSERT_EQUAL(RUN("ping", "--json", "--count", "3"), 0);
	o = parse(out);
	CU_ASSERT(o && json_object_object_get_ex(o, "rtt_us", &e) &&
		  json_object_array_length(e) == 3);
	json_object_put(o);
	/* One pfn form: the text and JSON of alloc-pages, translate's. */
	CU_ASSERT_EQUAL(RUN("alloc-pages", "0"), 0);
	snprintf(pfn_text, sizeof(pfn_text), "%.*s", (int)strcspn(out, "\n"), out);
	CU_ASSERT_EQUAL(RUN("--json", "alloc-pages", "0"), 0);
	o = parse(out);
	{
		const char *s = jstr(o, "pfn");

		snprintf(pfn, sizeof(pfn), "%s", s ? s : "");
	}
	CU_ASSERT_EQUAL(strncmp(pfn, "0x", 2), 0);
	CU_ASSERT_STRING_EQUAL(jstr(o, "size_bytes"), "4096");
	json_object_put(o);
	CU_ASSERT_EQUAL(RUN("--json", "vmap", pfn), 0);
	o = parse(out);
	{
		const char *s = jstr(o, "addr");

		snprintf(vaddr, sizeof(vaddr), "%s", s ? s : "");
	}
	json_object_put(o);
	CU_ASSERT_EQUAL(RUN("--json", "translate", vaddr), 0);
	o = parse(out);
	CU_ASSERT_STRING_EQUAL(jstr(o, "pfn"), pfn);
	json_object_put(o);
	CU_ASSERT_EQUAL(RUN("translate", vaddr), 0);
	{
		char want[64];

		snprintf(want, sizeof(want), "pfn:       %s\n", pfn);
		CU_ASSERT_EQUAL(strncmp(out, want, strlen(want)), 0);
	}
	CU_ASSERT_EQUAL(RUN("--json", "phys-read", pfn, "0", "4"), 0);
	json_object_put(parse(out));
	CU_ASSERT_EQUAL(run_in("ab", 2, "--json", "phys-write", pfn, "0", NULL), 0);
	json_object_put(parse(out));
	CU_ASSERT_EQUAL(RUN("--json", "vunmap", vaddr), 0);
	json_object_put(parse(out));
	CU_ASSERT_EQUAL(RUN("--json", "free-pages", pfn, "0"), 0);
	json_object_put(parse(out));
	CU_ASSERT_EQUAL(RUN("free-pages", pfn_text, "0"), 0);
	/* Errors: JSON on stdout, nothing on stderr, the same exit status. */
	CU_ASSERT_EQUAL(RUN("--json", "free", "0x1234"), 1);
	CU_ASSERT_STRING_EQUAL(err, "");
	o = parse(out);
	e = NULL;
	CU_ASSERT(o && json_object_object_get_ex(o, "error", &e));
	CU_ASSERT_STRING_EQUAL(jstr(e, "code"), "EINVAL");
	CU_ASSERT_STRING_EQUAL(jstr(e, "errno"), "22");
	CU_ASSERT_STRING_EQUAL(jstr(e, "message"), "free 0x1234: no area there: Invalid argument");
	CU_ASSERT_STRING_EQUAL(jstr(e, "usage"), "false");
	json_object_put(o);
	CU_ASSERT_EQUAL(RUN("alloc", "12Q", "--json"), 2);
	CU_ASSERT_STRING_EQUAL(err, "");
	o = parse(out);
	CU_ASSERT(o && json_object_object_get_ex(o, "error", &e) &&
		  strcmp(jstr(e, "usage"), "true") == 0);
	json_object_put(o);
	CU_ASSERT_EQUAL(RUN("--json", "frobnicate"), 2);
	json_object_put(parse(out));
	a = strtoull(addr, NULL, 16);
	CU_ASSERT_EQUAL(RUN("free", hex(a, addr)), 0);
}

static void test_queries(void)
{
	CU_ASSERT_EQUAL(RUN("meminfo"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "MemTotal:         131072 kB\n"));
	CU_ASSERT_EQUAL(RUN("-h", "meminfo"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "MemTotal:          128Mi\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "VmallocTotal:       32Ti\n"));
	CU_ASSERT_EQUAL(RUN("meminfo", "--human"), 0);   /* after the command too */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "MemTotal:          128Mi\n"));
	CU_ASSERT_EQUAL(RUN("buddyinfo"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Node 0, zone    DMA32 "));
	/* frag: two tables, each named as the kernel's debugfs file is. */
	CU_ASSERT_EQUAL(RUN("frag"), 0);
	CU_ASSERT_EQUAL(strncmp(out, "unusable_index:\nNode 0, zone      DMA ", 38), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n\nextfrag_index:\nNode 0, zone      DMA "));
	CU_ASSERT_EQUAL(RUN("vmallocinfo"), 0);
	CU_ASSERT_EQUAL(RUN("stat"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "layout               x86_64\n"));
	CU_ASSERT_EQUAL(RUN("-h", "stat"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "total_pages          32768 (128Mi)\n"));
	CU_ASSERT_EQUAL(RUN("check"), 0);
	CU_ASSERT_STRING_EQUAL(out, "ok\n");
	CU_ASSERT_EQUAL(RUN("purge"), 0);
	CU_ASSERT_EQUAL(strncmp(out, "purged ", 7), 0);
	CU_ASSERT_EQUAL(RUN("hello"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "version:   2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "max_io:    1048576\n"));
	CU_ASSERT_EQUAL(RUN("-h", "hello"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "max_frame: 2.0Mi\nmax_io:    1.0Mi\n"));
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static unsigned count(const char *text, const char *needle)
{
	unsigned n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* -i SECONDS --count N: N samples, SECONDS apart. */
static void test_interval(void)
{
	long long t0 = now_ms(), dt;

	CU_ASSERT_EQUAL(RUN("meminfo", "-i", "0.2", "--count", "3"), 0);
	dt = now_ms() - t0;
	CU_ASSERT_EQUAL(count(out, "MemTotal:"), 3);
	CU_ASSERT_EQUAL(count(out, "\n\nMemTotal:"), 2);   /* a blank line between samples */
	T_ASSERT_MSG(dt >= 400, "3 samples 0.2 s apart took %lld ms", dt);
	CU_ASSERT_EQUAL(RUN("buddyinfo", "--interval", "0.1", "--count", "3"), 0);
	CU_ASSERT_EQUAL(count(out, "Node 0, zone    DMA32"), 3);
	CU_ASSERT_EQUAL(RUN("frag", "-i", "0.1", "--count", "3"), 0);
	CU_ASSERT_EQUAL(count(out, "unusable_index:\n"), 3);
	CU_ASSERT_EQUAL(count(out, "extfrag_index:\n"), 3);
	/* stat: one line per sample under one header, as vmstat. */
	CU_ASSERT_EQUAL(RUN("stat", "-i", "0.1", "--count", "3"), 0);
	CU_ASSERT_EQUAL(strncmp(out, "    free  vmalloc     vmap  allocpg  pgtable     lazy  areas "
				"purges flushes fails   req/s clients\n", 93), 0);
	CU_ASSERT_EQUAL(count(out, "\n"), 4);
	/* JSON: one object per line, each with its time. */
	CU_ASSERT_EQUAL(RUN("--json", "stat", "-i", "0.1", "--count", "3"), 0);
	CU_ASSERT_EQUAL(count(out, "\n"), 3);
	CU_ASSERT_EQUAL(count(out, "\"time\":"), 3);
	for (const char *p = out; *p; p = strchr(p, '\n') + 1) {
		char line[4096];

		snprintf(line, sizeof(line), "%.*s", (int)strcspn(p, "\n"), p);
		json_object_put(parse(line));
	}
}

/* A top frame, without terminal control. */
static void test_top_batch(void)
{
	char a1[32], a2[32], a3[32];

	CU_ASSERT_EQUAL(RUN("alloc", "256K", "--caller", "big_probe+0x10/0x80"), 0);
	snprintf(a1, sizeof(a1), "%.*s", (int)strcspn(out, "\n"), out);
	CU_ASSERT_EQUAL(RUN("alloc", "8K", "--caller", "small_probe+0x8/0x40"), 0);
	snprintf(a2, sizeof(a2), "%.*s", (int)strcspn(out, "\n"), out);
	CU_ASSERT_EQUAL(RUN("alloc", "8K", "--caller", "small_probe+0x8/0x40"), 0);
	snprintf(a3, sizeof(a3), "%.*s", (int)strcspn(out, "\n"), out);
	CU_ASSERT_EQUAL(RUN("top", "--batch"), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_EQUAL(strncmp(out, "vmallocd 0.1.0, x86_64, 1 node, up ", 35), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nMem:       128Mi total, "));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nUsed:    "));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nVmalloc: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nPurges:  "));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nKVA:        32Ti from 0xffffc90000000000, largest hole "));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nNODE ZONE       MANAGED     FREE     USED  LARGEST  "
				      "UNUSABLE@9  EXTFRAG@9\n   0 DMA   "));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n   0 DMA32 "));
	/* The callers by pages: 64 pages (256K), then 4 pages in two areas. */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "      64    260Ki       1  big_probe+0x10/0x80\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "       4     24Ki       2  small_probe+0x8/0x40\n"));
	T_ASSERT_MSG(strstr(out, "big_probe") < strstr(out, "small_probe"), "%s", out);
	for (const char *p = out; *p; p = strchr(p, '\n') + 1)
		T_ASSERT_MSG(strcspn(p, "\n") <= 80, "line over 80 columns: %.*s",
			     (int)strcspn(p, "\n"), p);
	CU_ASSERT_PTR_NULL(strchr(out, '\033'));   /* no terminal control */
	CU_ASSERT_EQUAL(RUN("top", "--batch", "--count", "2", "-i", "0.1"), 0);
	CU_ASSERT_EQUAL(count(out, "NODE ZONE"), 2);
	CU_ASSERT_EQUAL(RUN("top", "--batch", "--order", "3"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "UNUSABLE@3  EXTFRAG@3"));
	CU_ASSERT_EQUAL(RUN("--json", "top", "--batch"), 0);
	json_object_put(parse(out));
	CU_ASSERT_EQUAL(RUN("free", a1), 0);
	CU_ASSERT_EQUAL(RUN("free", a2), 0);
	CU_ASSERT_EQUAL(RUN("free", a3), 0);
}

/* The leak rule: vmctl's areas belong to its parent (here: this test, alive;
 * then a shell that exits at once); free --leaked frees what is leaked. */
static void test_leaks(void)
{
	char addr[32], leaked[32], want[256], line[256];
	char cmd[512];
	uint64_t a = alloc("8K", NULL);

	hex(a, addr);
	CU_ASSERT_EQUAL(RUN("leaks"), 0);
	CU_ASSERT_PTR_NULL(strstr(out, addr + 2));
	CU_ASSERT_EQUAL(RUN("info", addr), 0);
	snprintf(want, sizeof(want), "pid:       %d\n", (int)getpid());
	CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "leaked:    no\n"));
	/* A shell that makes an area and exits: leaked from then on. */
	snprintf(cmd, sizeof(cmd), "%s --socket %s alloc 4K --caller leak_me+0x1/0x2; true", vmctl,
		 daemon_proc.sock);
	{
		const char *argv[] = { "/bin/sh", "-c", cmd, NULL };

		CU_ASSERT_EQUAL_FATAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 0);
	}
	snprintf(leaked, sizeof(leaked), "%.*s", (int)strcspn(out, "\n"), out);
	CU_ASSERT_EQUAL(RUN("leaks"), 0);
	snprintf(want, sizeof(want), "0x%016" PRIx64 "-0x%016" PRIx64 "    8192 leak_me+0x1/0x2 "
		 "pages=1 vmalloc uid=0 pid=", (uint64_t)strtoull(leaked, NULL, 16),
		 (uint64_t)strtoull(leaked, NULL, 16) + 8192);
	T_ASSERT_MSG(strncmp(out, want, strlen(want)) == 0, "leaks: %s", out);
	CU_ASSERT_EQUAL(count(out, "\n"), 1);
	CU_ASSERT_EQUAL(RUN("info", leaked), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "leaked:    yes\n"));
	/* free --leaked: each freed area, then the sum; ours stays. */
	CU_ASSERT_EQUAL(RUN("free", "--leaked"), 0);
	snprintf(line, sizeof(line), "freed 0x%016" PRIx64 "-0x%016" PRIx64 "    8192 "
		 "leak_me+0x1/0x2 pages=1 vmalloc uid=0 pid=", (uint64_t)strtoull(leaked, NULL, 16),
		 (uint64_t)strtoull(leaked, NULL, 16) + 8192);
	T_ASSERT_MSG(strncmp(out, line, strlen(line)) == 0, "free --leaked: %s", out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\nfreed 1 leaked area, 1 page\n"));
	CU_ASSERT_EQUAL(RUN("info", leaked), 1);
	CU_ASSERT_EQUAL(RUN("info", addr), 0);
	CU_ASSERT_EQUAL(RUN("free", "--leaked"), 0);
	CU_ASSERT_STRING_EQUAL(out, "freed 0 leaked areas, 0 pages\n");
	CU_ASSERT_EQUAL(RUN("--json", "free", "--leaked"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"freed_areas\": 0"));
	CU_ASSERT_EQUAL(RUN("free", "--leaked", addr), 2);
	CU_ASSERT_EQUAL(RUN("free", addr), 0);
}

/* test-vmalloc: on a terminal, progress and an estimate on stderr; the
 * results on stdout as without one; --quiet: no progress. */
static int run_on_pty(bool quiet, char *res, size_t reslen, char *tty, size_t ttylen)
{
	int master, slave, pipefd[2], st;
	size_t nres = 0, ntty = 0;
	bool open_res = true, open_tty = true;
	pid_t pid;

	if (openpty(&master, &slave, NULL, NULL, NULL) < 0 || pipe(pipefd) < 0)
		return -1;
	pid = vmd_fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(slave, 2);
		close(master);
		close(pipefd[0]);
		execl(vmctl, vmctl, "--socket", daemon_proc.sock, "test-vmalloc",
		      "run_test_mask=1", "test_loop_count=3000", "test_repeat_count=4",
		      quiet ? "--quiet" : NULL, NULL);
		_exit(127);
	}
	close(slave);
	close(pipefd[1]);
	while (open_res || open_tty) {
		struct pollfd pf[2] = { { .fd = open_res ? pipefd[0] : -1, .events = POLLIN },
					{ .fd = open_tty ? master : -1, .events = POLLIN } };
		ssize_t n;

		if (poll(pf, 2, 60000) <= 0)
			break;
		if (pf[0].revents) {
			n = read(pipefd[0], res + nres, reslen - 1 - nres);
			if (n <= 0)
				open_res = false;
			else
				nres += (size_t)n;
		}
		if (pf[1].revents) {
			n = read(master, tty + ntty, ttylen - 1 - ntty);
			if (n <= 0)      /* EIO once the last slave fd is closed */
				open_tty = false;
			else
				ntty += (size_t)n;
		}
	}
	res[nres] = '\0';
	tty[ntty] = '\0';
	close(master);
	close(pipefd[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_progress_on_pty(void)
{
	static char res[65536], tty[65536];

	CU_ASSERT_EQUAL(run_on_pty(false, res, sizeof(res), tty, sizeof(tty)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(res, "Summary: fix_size_alloc_test passed: 4 failed: 0 "));
	CU_ASSERT_PTR_NULL(strstr(res, "\033"));   /* stdout untouched */
	T_ASSERT_MSG(strstr(tty, "\r\033[Ktest-vmalloc: case 1/1 fix_size_alloc_test run 1/4 | 0% | "
			    "0:00 elapsed, estimating") != NULL, "tty: %s", tty);
	T_ASSERT_MSG(strstr(tty, "\r\033[Ktest-vmalloc: case 1/1 fix_size_alloc_test run 4/4 | 75% "
			    "| ") != NULL && strstr(tty, " left") != NULL, "tty: %s", tty);
	CU_ASSERT_EQUAL(strcmp(tty + strlen(tty) - 4, "\r\033[K"), 0);   /* erased at the end */
	CU_ASSERT_EQUAL(run_on_pty(true, res, sizeof(res), tty, sizeof(tty)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(res, "Summary: fix_size_alloc_test passed: 4 "));
	CU_ASSERT_STRING_EQUAL(tty, "");
	/* Not a terminal: no progress either. */
	CU_ASSERT_EQUAL(RUN("test-vmalloc", "run_test_mask=1", "test_loop_count=100"), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
}

static void test_pages_and_vmap(void)
{
	char pfn[32], addr[32];

	CU_ASSERT_EQUAL(RUN("alloc-pages", "1"), 0);
	CU_ASSERT_EQUAL(strncmp(out, "0x", 2), 0);
	snprintf(pfn, sizeof(pfn), "%.*s", (int)strcspn(out, " \n"), out);
	CU_ASSERT_EQUAL(RUN("vmap", pfn), 0);
	snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(out, " \n"), out);
	CU_ASSERT_EQUAL(RUN("free-pages", pfn, "1"), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "(still vmapped)"));
	CU_ASSERT_EQUAL(RUN("vunmap", addr), 0);
	CU_ASSERT_EQUAL(RUN("free-pages", pfn, "1"), 0);
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
	char addr[32], want[400], lib[512], bin[256], libcopy[256], cmd[640], priv[200];
	int privfd = -1;
	const char *slash = strrchr(vmctl, '/');
	pid_t pid;
	int st;

	/* The build tree may sit under a directory another uid cannot enter
	 * (mktemp -d is 0700): run copies from the daemon's 0755 temp dir. */
	snprintf(lib, sizeof(lib), "%.*s/libvmclient.so.1", slash ? (int)(slash - vmctl) : 1,
		 slash ? vmctl : ".");
	snprintf(bin, sizeof(bin), "%s/vmctl", daemon_proc.dir);
	snprintf(libcopy, sizeof(libcopy), "%s/libvmclient.so.1", daemon_proc.dir);
	CU_ASSERT_EQUAL_FATAL(copy_file(vmctl, bin), 0);
	CU_ASSERT_EQUAL_FATAL(copy_file(lib, libcopy), 0);

	hex(a, addr);
	/* A leaked area of root's: nobody's free --leaked must leave it. */
	snprintf(cmd, sizeof(cmd), "%s --socket %s alloc 4K --caller roots_leak; true", vmctl,
		 daemon_proc.sock);
	{
		const char *argv[] = { "/bin/sh", "-c", cmd, NULL };

		CU_ASSERT_EQUAL_FATAL(vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)), 0);
	}
	/* A socket only root may use: what nobody is told. */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		snprintf(priv, sizeof(priv), "%s/private.sock", daemon_proc.dir);
		CU_ASSERT_FATAL(strlen(priv) < sizeof(sa.sun_path));
		memcpy(sa.sun_path, priv, strlen(priv) + 1);
		CU_ASSERT_FATAL(l >= 0 && bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
				listen(l, 4) == 0 && chmod(priv, 0600) == 0);
		privfd = l;
	}
	pid = vmd_fork();
	if (pid == 0) {
		int fails = 0;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(100);
		{
			const char *argv[] = { bin, "--socket", priv, "meminfo", NULL };

			setenv("LD_LIBRARY_PATH", daemon_proc.dir, 1);
			fails += vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)) != 1;
			snprintf(want, sizeof(want), "vmctl: cannot connect to %s: Permission denied "
				 "(connecting needs write permission on the socket)\n", priv);
			fails += strcmp(err, want) != 0;
		}
		vmctl = bin;
		setenv("LD_LIBRARY_PATH", daemon_proc.dir, 1);
		fails += RUN("free", addr) != 1;
		snprintf(want, sizeof(want), "vmctl: free %s: area of uid 0: Operation not permitted\n",
			 addr);
		fails += strcmp(err, want) != 0;
		fails += RUN("read", addr, "8") != 1;
		fails += RUN("vmallocinfo") != 0;
		fails += strstr(out, addr + 2) != NULL;
		fails += RUN("alloc", "2M") != 1;
		fails += strstr(err, "quota") == NULL;
		/* Its own leaked area goes; root's stays. */
		snprintf(cmd, sizeof(cmd), "%s --socket %s alloc 4K --caller nobodys_leak; true", bin,
			 daemon_proc.sock);
		{
			const char *argv[] = { "/bin/sh", "-c", cmd, NULL };

			fails += vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err)) != 0;
		}
		fails += RUN("free", "--leaked") != 0;
		fails += strstr(out, "nobodys_leak") == NULL || strstr(out, "roots_leak") != NULL;
		fails += strstr(out, "\nfreed 1 leaked area, 1 page\n") == NULL;
		_exit(fails);
	}
	CU_ASSERT_FATAL(pid > 0);
	waitpid(pid, &st, 0);
	CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Root's free --leaked takes root's. */
	CU_ASSERT_EQUAL(RUN("free", "--leaked"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "roots_leak"));
	CU_ASSERT_EQUAL(RUN("free", addr), 0);
	unlink(bin);
	unlink(libcopy);
	close(privfd);
	unlink(priv);
}

static const struct t_case cases[] = {
	{ "alloc_free", test_alloc_free },
	{ "error_lines", test_error_lines },
	{ "read_write_translate", test_read_write_translate },
	{ "realloc_zero_and_scoped", test_realloc_zero_and_scoped },
	{ "json_everywhere", test_json_everywhere },
	{ "queries", test_queries },
	{ "interval", test_interval },
	{ "top_batch", test_top_batch },
	{ "leaks", test_leaks },
	{ "progress_on_pty", test_progress_on_pty },
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
