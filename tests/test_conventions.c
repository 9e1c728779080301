/* test_conventions.c -- what vmallocd and its clients agree on outside the
 * protocol (conventions/): size syntax both ways, flag names both ways,
 * the default socket path.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flagnames.h"
#include "size.h"
#include "socketpath.h"
#include "vmtest.h"

static void test_parse_size(void)
{
	static const struct {
		const char *s;
		int r;
		uint64_t bytes;
	} cases[] = {
		{ "4096", 0, 4096 }, { "64K", 0, 65536 }, { "1G", 0, 1ull << 30 },
		{ "1GiB", 0, 1ull << 30 }, { "3t", 0, 3ull << 40 }, { "2MB", 0, 2ull << 20 },
		{ "1.5M", 0, 1572864 }, { "1.5K", 0, 1536 }, { "0.5G", 0, 1ull << 29 },
		{ "0.1K", 0, 103 },            /* 102.4 rounded up */
		{ "1.5", 0, 2 }, { "100B", 0, 100 }, { "2P", 0, 2ull << 50 }, { "15E", 0, 15ull << 60 },
		{ "0x1000", 0, 4096 }, { "0x10K", 0, 16384 }, { "010", 0, 10 },  /* never octal */
		{ "0", 0, 0 }, { "18446744073709551615", 0, UINT64_MAX },
		{ "", -EINVAL, 0 }, { "abc", -EINVAL, 0 }, { "1X", -EINVAL, 0 }, { "-1", -EINVAL, 0 },
		{ "+1", -EINVAL, 0 }, { "1KB2", -EINVAL, 0 }, { " 1", -EINVAL, 0 }, { "1 ", -EINVAL, 0 },
		{ "1.", -EINVAL, 0 }, { ".5K", -EINVAL, 0 }, { "1.5.2", -EINVAL, 0 }, { "0x", -EINVAL, 0 },
		{ "0x1.5K", -EINVAL, 0 }, { "1iB", -EINVAL, 0 }, { "1Ki", -EINVAL, 0 },
		{ "99999999999999999999", -ERANGE, 0 }, { "20000000T", -ERANGE, 0 },
		{ "16E", -ERANGE, 0 }, { "15.99999999999999999999E", -ERANGE, 0 },
		{ "18446744073709551615.5", -ERANGE, 0 },
	};
	uint64_t bytes;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		bytes = 0xdead;
		r = cv_parse_size(cases[i].s, &bytes);
		T_ASSERT_MSG(r == cases[i].r && (r < 0 ? bytes == 0xdead : bytes == cases[i].bytes),
			     "cv_parse_size(\"%s\") = %d, %llu", cases[i].s, r,
			     (unsigned long long)bytes);
	}
	CU_ASSERT_EQUAL(cv_parse_size(NULL, &bytes), -EINVAL);
	CU_ASSERT_EQUAL(cv_parse_size("1K", NULL), -EINVAL);
}

static void test_format_size(void)
{
	static const struct {
		uint64_t bytes;
		const char *s;
	} cases[] = {
		{ 0, "0B" }, { 512, "512B" }, { 1023, "1023B" }, { 1024, "1.0Ki" },
		{ 65536, "64Ki" }, { 1572864, "1.5Mi" }, { 134217728, "128Mi" }, { 1ull << 30, "1.0Gi" },
		{ 10239, "10Ki" },             /* 9.999Ki: ten, not "10.0Ki" */
		{ 1048575, "1.0Mi" },          /* 1023.999Ki rounds into the next unit */
		{ 34359738367ull << 10, "32Ti" }, { UINT64_MAX, "16Ei" },
	};
	char buf[CV_SIZE_STR];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cv_format_size(cases[i].bytes, buf, sizeof(buf));
		T_ASSERT_MSG(strcmp(buf, cases[i].s) == 0, "cv_format_size(%llu) = \"%s\", want \"%s\"",
			     (unsigned long long)cases[i].bytes, buf, cases[i].s);
	}
}

static void test_gfp_names(void)
{
	char buf[128];
	uint32_t gfp = 7;

	CU_ASSERT_EQUAL(cv_parse_gfp("GFP_KERNEL|__GFP_ZERO", &gfp), 0);
	CU_ASSERT_EQUAL(gfp, 0xcc0u | 0x100000u);
	CU_ASSERT_EQUAL(cv_parse_gfp("kernel,zero", &gfp), 0);
	CU_ASSERT_EQUAL(gfp, 0xcc0u | 0x100000u);
	CU_ASSERT_EQUAL(cv_parse_gfp("GFP_DMA32+nowarn", &gfp), 0);
	CU_ASSERT_EQUAL(gfp, 0x4u | 0x2000u);
	CU_ASSERT_EQUAL(cv_parse_gfp("0x100cc0", &gfp), 0);
	CU_ASSERT_EQUAL(gfp, 0x100cc0u);
	gfp = 7;
	CU_ASSERT_EQUAL(cv_parse_gfp("GFP_KERNEL|", &gfp), -EINVAL);
	CU_ASSERT_EQUAL(cv_parse_gfp("GFP_FROB", &gfp), -EINVAL);
	CU_ASSERT_EQUAL(cv_parse_gfp("0x100000000", &gfp), -EINVAL);
	CU_ASSERT_EQUAL(cv_parse_gfp("", &gfp), -EINVAL);
	CU_ASSERT_EQUAL(gfp, 7);

	cv_gfp_text(0xcc0u | 0x2u | 0x100000u, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "GFP_HIGHUSER|__GFP_ZERO");
	cv_gfp_text(0xcc0u | 0x4u, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "GFP_KERNEL|GFP_DMA32");
	cv_gfp_text(0x820u, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "GFP_ATOMIC");
	cv_gfp_text(0x80000000u | 0x2000u, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "__GFP_NOWARN|0x80000000");
	cv_gfp_text(0, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0");
	cv_gfp_text(0xcc0u | 0x100000u, buf, 8);   /* truncated, terminated */
	CU_ASSERT_EQUAL(strlen(buf), 7);
}

static void test_vm_and_prot_names(void)
{
	char buf[64], p[4];
	uint32_t prot = 9;

	cv_vm_flags_text(0x2u | 0x8u, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "vmalloc user");
	cv_vm_flags_text(0x4u | 0x40u | 0x10000u, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "vmap no-guard");
	CU_ASSERT_EQUAL(cv_nr_vm_flags, 7);
	CU_ASSERT_EQUAL(cv_parse_prot("rw", &prot), 0);
	CU_ASSERT_EQUAL(prot, 3);
	CU_ASSERT_EQUAL(cv_parse_prot("ro", &prot), 0);
	CU_ASSERT_EQUAL(prot, 1);
	CU_ASSERT_EQUAL(cv_parse_prot("r-x", &prot), 0);
	CU_ASSERT_EQUAL(prot, 5);
	CU_ASSERT_EQUAL(cv_parse_prot("0x7", &prot), 0);
	CU_ASSERT_EQUAL(prot, 7);
	CU_ASSERT_EQUAL(cv_parse_prot("rwz", &prot), -EINVAL);
	CU_ASSERT_EQUAL(prot, 7);
	cv_prot_text(5, p);
	CU_ASSERT_STRING_EQUAL(p, "r-x");
}

static void test_socket_path(void)
{
	char buf[108], small[8];

	setenv("VMALLOCD_SOCKET", "/somewhere/v.sock", 1);
	CU_ASSERT_EQUAL(cv_socket_path(buf, sizeof(buf), true), 0);
	CU_ASSERT_STRING_EQUAL(buf, "/somewhere/v.sock");
	CU_ASSERT_EQUAL(cv_socket_path(small, sizeof(small), false), -ENAMETOOLONG);
	setenv("VMALLOCD_SOCKET", "", 1);   /* empty: not set */
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	CU_ASSERT_EQUAL(cv_socket_path(buf, sizeof(buf), false), 0);
	if (geteuid() == 0) {
		CU_ASSERT_STRING_EQUAL(buf, CV_SYSTEM_SOCKET);
	} else {
		CU_ASSERT_STRING_EQUAL(buf, "/run/user/1000/vmallocd.sock");
		unsetenv("XDG_RUNTIME_DIR");
		CU_ASSERT_EQUAL(cv_socket_path(buf, sizeof(buf), false), 0);
		CU_ASSERT_EQUAL(strncmp(buf, "/tmp/vmallocd-", 14), 0);
	}
	unsetenv("VMALLOCD_SOCKET");
	unsetenv("XDG_RUNTIME_DIR");
}

static const struct t_case cases[] = {
	{ "parse_size", test_parse_size },
	{ "format_size", test_format_size },
	{ "gfp_names", test_gfp_names },
	{ "vm_and_prot_names", test_vm_and_prot_names },
	{ "socket_path", test_socket_path },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return t_main("conventions", cases, argc, argv);
}
