/* test_frames.c -- vmreplay --frames DIR --every K on a real capture of
 * this machine's kernel: one PNG every K events and one at the end, each a
 * picture libpng decodes, the sequence numbered from 0, and a machine that
 * changed drawing differently; the options' usage errors.
 */
#include <CUnit/Basic.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tcase.h"

static const char *vmreplay;

static int run(const char *args)
{
	char cmd[4096];
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s >/dev/null 2>&1", vmreplay, args);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Width and height of a PNG, or 0 if libpng cannot read it. */
static unsigned png_size(const char *path, unsigned *h)
{
	FILE *f = fopen(path, "rb");
	png_structp p;
	png_infop info;
	unsigned w = 0;

	*h = 0;
	if (!f)
		return 0;
	p = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png_create_info_struct(p);
	if (!setjmp(png_jmpbuf(p))) {
		png_init_io(p, f);
		png_read_png(p, info, PNG_TRANSFORM_IDENTITY, NULL);
		w = png_get_image_width(p, info);
		*h = png_get_image_height(p, info);
	}
	png_destroy_read_struct(&p, &info, NULL);
	fclose(f);
	return w;
}

static long file_bytes(const char *path, char **ret)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	*ret = malloc((size_t)n);
	if (fread(*ret, 1, (size_t)n, f) != (size_t)n)
		n = -1;
	fclose(f);
	return n;
}

static void test_frames(void)
{
	char dir[] = "/tmp/vmreplay-frames.XXXXXX", args[1024], path[1200];
	char *first = NULL, *last = NULL;
	long n1, n2;
	unsigned w, h;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	/* 5882 events: frames after 1000 ... 5000, and the last after 5882. */
	snprintf(args, sizeof(args), "--memory 256M --frames %s/seq --every 1000 %s/captures/"
		 "fork-4000-purge.trace", dir, TRACE_FIXTURES);
	CU_ASSERT_EQUAL_FATAL(run(args), 0);
	for (int i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "%s/seq/frame-%06d.png", dir, i);
		w = png_size(path, &h);
		T_ASSERT_MSG(w >= 600 && h >= 400, "%s: %ux%u", path, w, h);
	}
	snprintf(path, sizeof(path), "%s/seq/frame-000006.png", dir);
	CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/seq/frame-000000.png", dir);
	n1 = file_bytes(path, &first);
	snprintf(path, sizeof(path), "%s/seq/frame-000005.png", dir);
	n2 = file_bytes(path, &last);
	CU_ASSERT_TRUE(n1 > 0 && n2 > 0 && (n1 != n2 || memcmp(first, last, (size_t)n1) != 0));
	free(first);
	free(last);
	snprintf(args, sizeof(args), "rm -rf '%s'", dir);
	CU_ASSERT_EQUAL(system(args), 0);
}

static void test_usage(void)
{
	char args[1024];

	snprintf(args, sizeof(args), "--frames /tmp --every 0 %s/captures/fork-600.trace-cmd",
		 TRACE_FIXTURES);
	CU_ASSERT_EQUAL(run(args), 2);
	snprintf(args, sizeof(args), "--frames /tmp --parse-only %s/captures/fork-600.trace-cmd",
		 TRACE_FIXTURES);
	CU_ASSERT_EQUAL(run(args), 2);
	snprintf(args, sizeof(args), "--frames /proc/nonexistent/x %s/captures/fork-600.trace-cmd",
		 TRACE_FIXTURES);
	CU_ASSERT_EQUAL(run(args), 1);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "frames", test_frames },
		{ "usage", test_usage },
		{ NULL, NULL },
	};

	vmreplay = getenv("VMREPLAY_BIN");
	if (!vmreplay)
		return 77;
	return t_main("frames", cases, argc, argv);
}
