/* tcase.h -- the CUnit driver every test program shares: a table of cases
 * run as one suite, and assertions that explain themselves.  It includes
 * nothing of the engine, so the integration tests, which are clients,
 * include the public vmclient.h beside it and nothing from lib/.
 * (Implemented in tcase.c.)
 */
#ifndef TCASE_H
#define TCASE_H

#include <CUnit/CUnit.h>
#include <stdbool.h>

/* Assert a condition with a printf-style explanation printed on failure. */
#define T_ASSERT_MSG(cond, ...) \
	t_assert_msg(!!(cond), #cond, __FILE__, __LINE__, __VA_ARGS__)
bool t_assert_msg(bool ok, const char *expr, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Two texts equal, the first differing line printed otherwise. */
#define T_TEXT_EQ(got, want) t_text_eq((got), (want), #got, __FILE__, __LINE__)
bool t_text_eq(const char *got, const char *want, const char *what, const char *file, int line);

/* /proc/meminfo and /proc/buddyinfo texts (from the daemon, say) after
 * everything made since the first pair was taken has been freed and
 * purged: the same, but for the page-table pages made meanwhile, which no
 * kernel frees (PageTables up by T kB, MemFree and LowFree down by as
 * much, buddyinfo's free frames down by T / 4). */
#define T_RESTORED(mem_then, buddy_then, mem_now, buddy_now) \
	t_restored((mem_then), (buddy_then), (mem_now), (buddy_now), __FILE__, __LINE__)
bool t_restored(const char *mem_then, const char *buddy_then, const char *mem_now,
		const char *buddy_now, const char *file, int line);

/* The line of text starting with prefix, malloc'd without its newline. */
char *t_line_starting(const char *text, const char *prefix);

/* A CUnit program: one suite of cases; argv[1], if given, runs only the
 * case of that name.  Returns the exit status (0: every assertion held). */
struct t_case {
	const char *name;
	CU_TestFunc fn;
};
int t_main(const char *suite, const struct t_case *cases, int argc, char **argv);
/* The same with a suite set-up and tear-down (either may be NULL); a
 * failing set-up or tear-down fails the program. */
int t_main_suite(const char *suite, CU_InitializeFunc init, CU_CleanupFunc clean,
		 const struct t_case *cases, int argc, char **argv);

#endif /* TCASE_H */
