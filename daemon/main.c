/* main.c -- vmallocd: read the options, build the simulated machine, take the
 * listening socket, tell systemd we are ready, run the event loop, and stop
 * cleanly on SIGTERM/SIGINT with exit status 0.
 *
 * The daemon stays in the foreground (no fork, no pid file) and logs to
 * stderr with sd-daemon priority prefixes.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fault.h"
#include "vmallocd.h"

/* Every client is a descriptor: take the hard limit on open files as our
 * soft one (systemd's default soft limit is 1024, the hard one far higher),
 * and say so if max-clients still cannot be met. */
static void raise_nofile(unsigned max_clients)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;

		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* The listener, the memfd, epoll, signals and notify need a few more. */
	if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)max_clients + 32 > rl.rlim_cur)
		vmd_log(VM_LOG_WARNING,
			"max-clients is %u but only %llu files may be open: connections beyond "
			"that wait in the backlog", max_clients, (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct vm_config cfg;
	int r;

	fault_init();
	memset(&d, 0, sizeof(d));
	d.argc = argc;
	d.argv = argv;
	d.start_usec = now_usec();
	options_init(&d.opt);
	r = options_parse(&d.opt, argc, argv);
	if (r != 0) {
		options_free(&d.opt);
		return r > 0 ? 0 : 2;
	}
	log_set_level(d.opt.log_level);
	raise_nofile(d.opt.max_clients);
	account_init(&d.acct);
	objects_init(&d.objs);

	vm_config_init(&cfg);
	cfg.memory_bytes = d.opt.memory;
	cfg.nr_nodes = d.opt.nodes;
	cfg.layout = d.opt.layout;
	cfg.kernel = d.opt.kernel;
	cfg.nr_cpus = d.opt.cpus;
	cfg.movable_bytes = d.opt.movable;
	cfg.lazy_max_pages = d.opt.lazy_max_pages;
	cfg.page_policy = d.opt.page_policy;
	cfg.init_on_free = d.opt.scrub;
	cfg.log = log_engine;
	r = vm_engine_create(&cfg, &d.engine);
	if (r < 0) {
		vmd_log(VM_LOG_ERR, "cannot build a %llu MiB %s machine with %u node(s) and %u CPU(s) "
			"running Linux %s: %s", (unsigned long long)(d.opt.memory >> 20),
			vm_layout_name(d.opt.layout), d.opt.nodes, d.opt.cpus,
			vm_kernel_name(d.opt.kernel), strerror(-r));
		goto out;
	}
	r = daemon_loop_init(&d);
	if (r < 0) {
		vmd_log(VM_LOG_ERR, "cannot set up the event loop: %s", strerror(-r));
		goto out;
	}
	r = daemon_listen(&d);
	if (r < 0)
		goto out;
	vmd_log(VM_LOG_INFO, "vmallocd %s ready: Linux %s, %llu MiB, %u node(s), %u CPU(s), %s layout%s",
		VMALLOCD_VERSION, vm_kernel_name(d.opt.kernel), (unsigned long long)(d.opt.memory >> 20),
		d.opt.nodes, d.opt.cpus, vm_layout_name(d.opt.layout),
		d.watchdog_usec ? ", watchdog armed" : "");
	notify_ready(&d);
	fault_serving();
	r = daemon_run(&d);
	if (r < 0)
		vmd_log(VM_LOG_ERR, "event loop failed");
out:
	daemon_loop_done(&d);
	vm_engine_destroy(d.engine);
	account_done(&d.acct);
	objects_done(&d.objs);
	options_free(&d.opt);
	return r < 0 ? 1 : 0;
}
