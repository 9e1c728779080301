/* test_activation.c -- vmallocd started the way systemd starts it: the
 * listening socket inherited through systemd-socket-activate (LISTEN_FDS),
 * readiness, STATUS= and WATCHDOG=1 seen on a NOTIFY_SOCKET this test
 * listens on, SIGHUP answered with RELOADING=1 then READY=1, and SIGTERM
 * ending it with exit status 0 within a second.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tcase.h"
#include "vmclient.h"

static const char *activate_bin(void)
{
	static const char *const paths[] = { "/usr/bin/systemd-socket-activate",
					     "/bin/systemd-socket-activate", NULL };

	for (int i = 0; paths[i]; i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

static void test_socket_activation(void)
{
	const char *act = activate_bin(), *bin = getenv("VMALLOCD_BIN");
	struct vmd_proc p;
	char tmpl[] = "/tmp/vmd-act.XXXXXX", env_notify[256], listen_arg[256];
	struct vmc_client *c;
	struct vmc_meminfo mi;
	long long t0;
	int st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(bin);
	if (!act) {
		fprintf(stderr, "systemd-socket-activate is not installed: skipped\n");
		return;
	}
	memset(&p, 0, sizeof(p));
	CU_ASSERT_FATAL(mkdtemp(tmpl) != NULL);
	snprintf(p.dir, sizeof(p.dir), "%s", tmpl);
	snprintf(p.sock, sizeof(p.sock), "%s/vmallocd.sock", tmpl);
	snprintf(p.notify, sizeof(p.notify), "%s/notify.sock", tmpl);
	CU_ASSERT_FATAL(vmd_notify_open(&p) == 0);

	snprintf(env_notify, sizeof(env_notify), "NOTIFY_SOCKET=%s", p.notify);
	snprintf(listen_arg, sizeof(listen_arg), "--listen=%s", p.sock);
	p.pid = vmd_fork();
	if (p.pid == 0) {
		/* systemd-socket-activate execs vmallocd in its own process
		 * (same pid) on the first connection. */
		execl(act, act, listen_arg, "-E", env_notify, "-E", "WATCHDOG_USEC=200000",
		      bin, "--config", "/dev/null", "--memory", "64M", (char *)NULL);
		_exit(127);
	}
	/* Wait for the activator's socket, then connect: that starts vmallocd. */
	for (int i = 0; i < 500 && access(p.sock, F_OK) != 0; i++)
		usleep(10000);
	CU_ASSERT_FATAL(access(p.sock, F_OK) == 0);
	CU_ASSERT_EQUAL_FATAL(vmd_connect(p.sock, &c), 0);
	CU_ASSERT_EQUAL(vmc_meminfo(c, &mi), 0);
	CU_ASSERT_EQUAL(mi.mem_total, 65536);
	CU_ASSERT_TRUE(vmd_wait_notify(&p, "READY=1", 5000));
	CU_ASSERT_PTR_NOT_NULL(strstr(p.status, "clients"));
	/* 200 ms watchdog: pings every 100 ms. */
	vmd_wait_notify(&p, NULL, 600);
	CU_ASSERT_TRUE(p.watchdogs >= 3);
	/* STATUS follows the load: our connection is counted. */
	vmd_wait_notify(&p, NULL, 1200);
	CU_ASSERT_PTR_NOT_NULL(strstr(p.status, "1 clients"));

	kill(p.pid, SIGHUP);
	CU_ASSERT_TRUE(vmd_wait_notify(&p, "RELOADING=1", 3000));
	CU_ASSERT_TRUE(vmd_wait_notify(&p, "READY=1", 3000));
	CU_ASSERT_TRUE(p.reloading);
	CU_ASSERT_EQUAL(vmc_meminfo(c, &mi), 0);
	vmc_close(c);

	t0 = vmd_now_ms();
	kill(p.pid, SIGTERM);
	while (waitpid(p.pid, &st, WNOHANG) == 0 && vmd_now_ms() - t0 < 3000)
		usleep(1000);
	CU_ASSERT_TRUE(vmd_now_ms() - t0 < 1000);
	CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	vmd_wait_notify(&p, "STOPPING=1", 500);
	CU_ASSERT_TRUE(p.stopping);
	vmd_notify_close(&p);
	unlink(p.sock);
	unlink(p.notify);
	rmdir(p.dir);
}

/* The same through the harness (the daemon binds the socket itself). */
static void test_own_socket_and_sigterm(void)
{
	static const char *const args[] = { "--memory", "64M", NULL };
	struct vmd_proc p;
	long long t0;
	int st;

	CU_ASSERT_EQUAL_FATAL(vmd_start(&p, args, NULL), 0);
	CU_ASSERT_TRUE(p.ready);
	t0 = vmd_now_ms();
	st = vmd_stop(&p, 3000);
	CU_ASSERT_EQUAL(st, 0);
	CU_ASSERT_TRUE(vmd_now_ms() - t0 < 1000);
}

static const struct t_case cases[] = {
	{ "socket_activation", test_socket_activation },
	{ "own_socket_and_sigterm", test_own_socket_and_sigterm },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return t_main_suite("activation", NULL, NULL, cases, argc, argv);
}
