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

#include "vmallocd.h"

int main(int argc, char **argv)
{
	struct daemon d;
	struct vm_config cfg;
	int r;

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
	account_init(&d.acct);

	vm_config_init(&cfg);
	cfg.memory_bytes = d.opt.memory;
	cfg.nr_nodes = d.opt.nodes;
	cfg.layout = d.opt.layout;
	cfg.movable_bytes = d.opt.movable;
	cfg.lazy_max_pages = d.opt.lazy_max_pages;
	cfg.page_policy = d.opt.page_policy;
	cfg.init_on_free = d.opt.scrub;
	cfg.log = log_engine;
	r = vm_engine_create(&cfg, &d.engine);
	if (r < 0) {
		vmd_log(VM_LOG_ERR, "cannot build a %llu MiB %s machine with %u node(s): %s",
			(unsigned long long)(d.opt.memory >> 20), vm_layout_name(d.opt.layout),
			d.opt.nodes, strerror(-r));
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
	vmd_log(VM_LOG_INFO, "vmallocd %s ready: %llu MiB, %u node(s), %s layout%s",
		VMALLOCD_VERSION, (unsigned long long)(d.opt.memory >> 20), d.opt.nodes,
		vm_layout_name(d.opt.layout), d.watchdog_usec ? ", watchdog armed" : "");
	notify_ready(&d);
	r = daemon_run(&d);
	if (r < 0)
		vmd_log(VM_LOG_ERR, "event loop failed");
out:
	daemon_loop_done(&d);
	vm_engine_destroy(d.engine);
	account_done(&d.acct);
	options_free(&d.opt);
	return r < 0 ? 1 : 0;
}
