/* tcase.c -- the CUnit driver and assertions every test program shares
 * (see tcase.h); no engine, no daemon. */
#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcase.h"

bool t_assert_msg(bool ok, const char *expr, const char *file, int line, const char *fmt, ...)
{
	if (!ok) {
		va_list ap;

		fprintf(stderr, "\n%s:%d: assertion failed: %s\n  ", file, line, expr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, expr, file, "", CU_FALSE);
	return ok;
}

/* Print the first line where two texts part. */
static void print_first_difference(const char *got, const char *want)
{
	const char *g = got, *w = want;
	unsigned line = 1;

	while (*g && *g == *w) {
		if (*g == '\n')
			line++;
		g++;
		w++;
	}
	while (g > got && g[-1] != '\n') {
		g--;
		w--;
	}
	fprintf(stderr, "  line %u differs:\n    got:  %.*s\n    want: %.*s\n", line,
		(int)strcspn(g, "\n"), g, (int)strcspn(w, "\n"), w);
}

bool t_text_eq(const char *got, const char *want, const char *what, const char *file, int line)
{
	bool ok = got && want && strcmp(got, want) == 0;

	if (!ok) {
		fprintf(stderr, "\n%s:%d: %s is not as expected\n", file, line, what);
		if (got && want)
			print_first_difference(got, want);
	}
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, what, file, "", CU_FALSE);
	return ok;
}

char *t_line_starting(const char *text, const char *prefix)
{
	size_t plen = strlen(prefix);

	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);

		if (len >= plen && memcmp(l, prefix, plen) == 0)
			return strndup(l, len);
		l = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static long long meminfo_kb(const char *text, const char *label)
{
	char *l = t_line_starting(text, label);
	long long v = -1;

	if (l) {
		v = strtoll(l + strlen(label), NULL, 10);
		free(l);
	}
	return v;
}

/* Free frames in a buddyinfo text: Σ count << order over every line. */
static uint64_t buddyinfo_frames(const char *text)
{
	uint64_t total = 0;

	for (const char *l = text; l && *l;) {
		const char *p = strstr(l, "zone");
		const char *nl = strchr(l, '\n');

		if (p) {
			p += 4;
			while (*p == ' ')
				p++;
			p += strcspn(p, " ");	/* the zone name */
			/* As many orders as the line has (11 on every kernel here). */
			for (unsigned o = 0;; o++) {
				char *end;
				unsigned long long c = strtoull(p, &end, 10);

				if (end == p)
					break;
				total += c << o;
				p = end;
			}
		}
		l = nl ? nl + 1 : NULL;
	}
	return total;
}

/* meminfo without the lines that page-table pages move. */
static char *meminfo_sans_frames(const char *text)
{
	static const char *const moved[] = { "MemFree:", "LowFree:", "PageTables:" };
	char *out = text ? malloc(strlen(text) + 1) : NULL;
	size_t n = 0;

	if (!out)
		return NULL;
	for (const char *l = text; *l;) {
		size_t len = strcspn(l, "\n") + (l[strcspn(l, "\n")] ? 1 : 0);
		bool skip = false;

		for (unsigned i = 0; i < 3; i++)
			skip |= strncmp(l, moved[i], strlen(moved[i])) == 0;
		if (!skip) {
			memcpy(out + n, l, len);
			n += len;
		}
		l += len;
	}
	out[n] = '\0';
	return out;
}

bool t_restored(const char *mem_then, const char *buddy_then, const char *mem_now,
		const char *buddy_now, const char *file, int line)
{
	long long tables, then, free_now, free_then;
	char *a, *b;
	bool ok;

	if (!mem_then || !buddy_then || !mem_now || !buddy_now)
		return t_assert_msg(false, "restored", file, line, "a text is missing");
	then = meminfo_kb(mem_then, "PageTables:");
	tables = meminfo_kb(mem_now, "PageTables:") - then;
	if (tables == 0) {
		ok = t_text_eq(mem_now, mem_then, "meminfo", file, line);
		ok &= t_text_eq(buddy_now, buddy_then, "buddyinfo", file, line);
		return ok;
	}
	a = meminfo_sans_frames(mem_now);
	b = meminfo_sans_frames(mem_then);
	ok = t_text_eq(a, b, "meminfo (but for MemFree, LowFree, PageTables)", file, line);
	free(a);
	free(b);
	free_now = meminfo_kb(mem_now, "MemFree:");
	free_then = meminfo_kb(mem_then, "MemFree:");
	ok &= t_assert_msg(then >= 0 && tables > 0 && free_now + tables == free_then, "restored",
			   file, line, "PageTables %+lld kB, MemFree %lld kB, was %lld kB: the frames "
			   "that left are not the page tables kept", tables, free_now, free_then);
	ok &= t_assert_msg(buddyinfo_frames(buddy_now) + (uint64_t)tables / 4 ==
			   buddyinfo_frames(buddy_then), "restored", file, line,
			   "buddyinfo holds %llu free frames, %llu before, %lld kB of page tables kept",
			   (unsigned long long)buddyinfo_frames(buddy_now),
			   (unsigned long long)buddyinfo_frames(buddy_then), tables);
	return ok;
}

/* ---- runner --------------------------------------------------------------------- */

int t_main(const char *suite, const struct t_case *cases, int argc, char **argv)
{
	return t_main_suite(suite, NULL, NULL, cases, argc, argv);
}

int t_main_suite(const char *suite, CU_InitializeFunc init, CU_CleanupFunc clean,
		 const struct t_case *cases, int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	unsigned failed_asserts, failed_tests, failed_suites, run = 0;
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite(suite, init, clean);
	if (!s)
		goto fail;
	for (const struct t_case *c = cases; c->name; c++) {
		if (only && strcmp(only, c->name) != 0)
			continue;
		if (!CU_add_test(s, c->name, c->fn))
			goto fail;
		run++;
	}
	if (!run) {
		fprintf(stderr, "%s: no test named '%s'\n", suite, only);
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto fail;
	failed_asserts = CU_get_number_of_failures();
	failed_tests = CU_get_number_of_tests_failed();
	failed_suites = CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed_asserts || failed_tests || failed_suites ? 1 : 0;
fail:
	fprintf(stderr, "%s: CUnit error: %s\n", suite, CU_get_error_msg());
	CU_cleanup_registry();
	return 2;
}
