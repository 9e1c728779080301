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
#include <unistd.h>

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

/* SIGHUP: the keys that may change at run time, from the file and argv. */
static void reload(void *ctx)
{
	struct daemon *d = ctx;

	notify_reloading();
	if (options_reload(&d->opt, d->argc, d->argv) < 0) {
		vmd_log(VM_LOG_ERR, "reload failed, keeping the old configuration");
	} else {
		log_set_level(d->opt.log_level);
		if (dispatch_rules_changed(&d->dp) < 0)
			vmd_log(VM_LOG_ERR, "reload: the new quota rules could not be journaled: a "
				"recovery would replay under the old ones");
		d->loop.busy_poll_us = d->opt.busy_poll_us;
		clients_apply_timeouts(&d->clients);
		vmd_log(VM_LOG_INFO, "configuration reloaded");
	}
	notify_ready(d);
}

/* The engine inside a long call: the watchdog must not starve. */
static void resched(void *ctx)
{
	struct daemon *d = ctx;

	loop_keepalive(&d->loop);
}

static void tick(void *ctx)
{
	struct daemon *d = ctx;

	dispatch_tick(&d->dp);
	notify_status(d);
}

/* The protocol socket: systemd's, or one we bind; and the HTTP window's,
 * if systemd passed one named http or the configuration asks for one. */
static int listen_protocol(struct daemon *d)
{
	struct http_sources src = { d->engine, &d->dp, &d->clients, &d->opt };
	char *bound = NULL;
	int fd = -1, http_fd = -1, r;
	bool from_systemd;

	r = listener_activated_unix(&fd, &http_fd);
	if (r == 0)
		r = listener_bind_unix(d->opt.socket_path, d->opt.socket_mode, &fd, &bound);
	if (r < 0)
		return r;
	r = listener_new(d->loop.base, fd, bound, clients_accept, &d->clients, &d->listener);
	if (r < 0) {
		if (http_fd >= 0)
			close(http_fd);
		return r;
	}
	d->clients.listener = d->listener;
	from_systemd = http_fd >= 0;
	if (!from_systemd && d->opt.http && (r = http_bind(d->opt.http, &http_fd)) < 0)
		return r;
	if (http_fd >= 0) {
		r = http_open(d->loop.base, http_fd, &src, &d->http);
		if (r < 0) {
			vmd_log(VM_LOG_ERR, "http: %s", strerror(-r));
			return r;
		}
		vmd_log(VM_LOG_INFO, "http: serving /, /metrics and /map.json%s%s",
			from_systemd ? " on the socket systemd passed" : " on ",
			from_systemd ? "" : d->opt.http);
	}
	return 0;
}

static int build_machine(struct daemon *d)
{
	struct vm_config cfg;
	int r;

	vm_config_init(&cfg);
	cfg.memory_bytes = d->opt.memory;
	cfg.nr_nodes = d->opt.nodes;
	cfg.layout = d->opt.layout;
	cfg.kernel = d->opt.kernel;
	cfg.nr_cpus = d->opt.cpus;
	cfg.movable_bytes = d->opt.movable;
	cfg.lazy_max_pages = d->opt.lazy_max_pages;
	cfg.page_policy = d->opt.page_policy;
	cfg.init_on_free = d->opt.scrub;
	cfg.max_resident_pages = hostmem_budget(d->opt.max_resident, d->dp.resident_why,
						sizeof(d->dp.resident_why));
	cfg.log = log_engine;
	cfg.resched = resched;
	cfg.resched_ctx = d;
	d->machine = cfg;
	r = state_start(d);
	if (r < 0 && !d->engine)
		vmd_log(VM_LOG_ERR, "cannot build a %llu MiB %s machine with %u node(s) and %u CPU(s) "
			"running Linux %s: %s", (unsigned long long)(d->opt.memory >> 20),
			vm_layout_name(d->opt.layout), d->opt.nodes, d->opt.cpus,
			vm_kernel_name(d->opt.kernel), strerror(-r));
	return r;
}

int main(int argc, char **argv)
{
	struct daemon d;
	int r;

	fault_init();
	memset(&d, 0, sizeof(d));
	d.argc = argc;
	d.argv = argv;
	options_init(&d.opt);
	r = options_parse(&d.opt, argc, argv);
	if (r != 0) {
		options_free(&d.opt);
		return r > 0 ? 0 : 2;
	}
	log_set_level(d.opt.log_level);
	raise_nofile(d.opt.max_clients);
	d.dp.opt = &d.opt;
	d.dp.start_usec = now_usec();
	account_init(&d.dp.acct);
	objects_init(&d.dp.objs);

	r = build_machine(&d);
	if (r < 0)
		goto out;
	d.dp.engine = d.engine;
	d.loop.busy_poll_us = d.opt.busy_poll_us;
	d.loop.progress = &d.dp.nr_requests;
	d.loop.on_reload = reload;
	d.loop.on_tick = tick;
	d.loop.ctx = &d;
	r = loop_init(&d.loop);
	if (r == 0)
		r = clients_init(&d.clients, d.loop.base, &d.opt, &d.dp);
	if (r < 0) {
		vmd_log(VM_LOG_ERR, "cannot set up the event loop: %s", strerror(-r));
		goto out;
	}
	r = listen_protocol(&d);
	if (r < 0)
		goto out;
	vmd_log(VM_LOG_INFO, "vmallocd %s ready: Linux %s, %llu MiB, %u node(s), %u CPU(s), %s layout%s; "
		"%s", VMALLOCD_VERSION, vm_kernel_name(d.opt.kernel),
		(unsigned long long)(d.opt.memory >> 20), d.opt.nodes, d.opt.cpus,
		vm_layout_name(d.opt.layout), d.loop.watchdog_usec ? ", watchdog armed" : "",
		d.dp.resident_why);
	notify_ready(&d);
	fault_serving();
	r = loop_run(&d.loop);
	if (r < 0)
		vmd_log(VM_LOG_ERR, "event loop failed");
out:
	/* Connections first: closing one tells the listener a descriptor came free. */
	d.http = http_close(d.http);
	clients_done(&d.clients);
	d.listener = listener_free(d.listener);
	/* What the closed connections released is in the journal; a checkpoint
	 * makes the next start quick. */
	if (d.state && d.engine && state_checkpoint(d.state, &d.dp) == 0)
		state_release_journal(d.state);
	state_close(d.state);
	loop_done(&d.loop);
	vm_engine_destroy(d.engine);
	account_done(&d.dp.acct);
	objects_done(&d.dp.objs);
	options_free(&d.opt);
	return r < 0 ? 1 : 0;
}
