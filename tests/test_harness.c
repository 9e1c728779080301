/* test_harness.c -- the harness never leaves a child behind: a test program
 * whose case fails half way (CU_ASSERT_FATAL) with a child still running,
 * or that meson's timeout stops with SIGTERM, still ends at once, its
 * children killed, so nothing holds its stdout open (meson waits for that).
 *
 * The program runs itself as the test subject: with "fatal" or "sigterm"
 * as its only argument it forks a child that would sleep for 60 s with
 * the same stdout, then fails a case or waits for SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tcase.h"

static char self[4096];

static void sleeper(void)
{
	pid_t pid = vmd_fork();

	if (pid == 0) {
		/* A child of the test that would outlive it by a minute. */
		sleep(60);
		_exit(0);
	}
	CU_ASSERT_FATAL(pid > 0);
}

static void subject_fatal(void)
{
	sleeper();
	printf("subject: child started\n");
	fflush(stdout);
	CU_ASSERT_FATAL(!"a failed fatal assertion, the child still running");
}

/* As meson's timeout ends a test: SIGTERM, here sent to itself. */
static void subject_sigterm(void)
{
	sleeper();
	printf("subject: child started\n");
	fflush(stdout);
	kill(getpid(), SIGTERM);
	pause();
}

/* Run the subject in mode; vmd_run() returns once its stdout and stderr
 * are closed by every process that holds them. */
static void run_subject(const char *mode, long long *ret_ms, int *ret_status)
{
	const char *argv[] = { self, mode, NULL };
	char out[4096];
	long long t0 = vmd_now_ms();

	*ret_status = vmd_run(argv, NULL, 0, out, sizeof(out), NULL, 0);
	*ret_ms = vmd_now_ms() - t0;
	T_ASSERT_MSG(strstr(out, "subject: child started"), "subject's output: %s", out);
}

static void test_fatal_assert(void)
{
	long long ms;
	int st;

	run_subject("fatal", &ms, &st);
	CU_ASSERT_EQUAL(st, 1);
	T_ASSERT_MSG(ms < 20000, "the subject's stdout stayed open %lld ms after it failed", ms);
}

static void test_sigterm(void)
{
	long long ms;
	int st;

	run_subject("sigterm", &ms, &st);
	CU_ASSERT_EQUAL(st, 128 + SIGTERM);
	T_ASSERT_MSG(ms < 20000, "the subject's stdout stayed open %lld ms after SIGTERM", ms);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "fatal_assert", test_fatal_assert },
		{ "sigterm", test_sigterm },
		{ NULL, NULL },
	};
	static const struct t_case fatal[] = { { "subject", subject_fatal }, { NULL, NULL } };
	static const struct t_case term[] = { { "subject", subject_sigterm }, { NULL, NULL } };
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return 2;
	self[n] = '\0';
	if (argc == 2 && strcmp(argv[1], "fatal") == 0)
		return t_main("subject", fatal, 1, argv);
	if (argc == 2 && strcmp(argv[1], "sigterm") == 0)
		return t_main("subject", term, 1, argv);
	return t_main("harness", cases, argc, argv);
}
