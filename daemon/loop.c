/* loop.c -- the event loop: libevent's base, the signals (SIGTERM and
 * SIGINT stop, SIGHUP reloads, SIGPIPE is ignored), systemd's watchdog
 * ping, a one-second tick, and running with or without busy polling.
 *
 * Reloads coalesce: SIGHUPs that arrive while one is pending, or within
 * RELOAD_MIN_USEC of the last reload, make one reload when that time is
 * up, so a storm of signals costs at most a few reloads a second.
 *
 * It knows no sockets and no frames: listeners and connections add their
 * own events to l->base, and what a reload or a tick means is the daemon's
 * (l->on_reload, l->on_tick).
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "vmallocd.h"

#define RELOAD_MIN_USEC 200000ull

uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct loop *l = arg;

	(void)what;
	vmd_log(VM_LOG_INFO, "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	notify_stopping();
	event_base_loopbreak(l->base);
}

static void on_reload_due(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;

	(void)fd;
	(void)what;
	l->reload_pending = false;
	l->reload_last = now_usec();
	/* Listen again: a SIGHUP that came while the reload was due is still
	 * pending in the kernel and asks for the next one. */
	if (event_add(l->sig_hup, NULL) < 0)
		vmd_log(VM_LOG_ERR, "cannot watch for SIGHUP again: reloads stop");
	if (l->on_reload)
		l->on_reload(l->ctx);
}

static void on_hup(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	uint64_t now = now_usec(), wait = 0;
	struct signalfd_siginfo si[16];
	struct timeval tv;
	ssize_t n;

	(void)what;
	/* One read takes what is pending: the kernel keeps one SIGHUP however
	 * many were sent.  Not a loop: a sender that never stops would re-raise
	 * it between reads and keep the loop here; one sent after this read
	 * makes the descriptor readable again for a later turn, after the
	 * clients that are waiting. */
	n = read(fd, si, sizeof(si));   /* -1 (EAGAIN): nothing left */
	(void)n;
	if (l->reload_pending) {
		l->reloads_coalesced++;
		return;
	}
	if (l->reload_last && now - l->reload_last < RELOAD_MIN_USEC)
		wait = RELOAD_MIN_USEC - (now - l->reload_last);
	tv.tv_sec = (time_t)(wait / 1000000);
	tv.tv_usec = (suseconds_t)(wait % 1000000);
	if (evtimer_add(l->reload_ev, &tv) < 0) {
		/* No timer: reload now rather than not at all. */
		on_reload_due(-1, 0, l);
		return;
	}
	l->reload_pending = true;
	/* Until the reload runs, more SIGHUPs change nothing: stop reading
	 * them, so a storm wakes the loop twice per reload, not per signal. */
	event_del(l->sig_hup);
}

static void on_ignore(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;

	(void)fd;
	(void)what;
	l->watchdog_last = now_usec();
	notify_watchdog();
}

void loop_keepalive(struct loop *l)
{
	uint64_t now;

	if (!l->watchdog_usec)
		return;
	now = now_usec();
	if (now - l->watchdog_last >= l->watchdog_usec / 4) {
		l->watchdog_last = now;
		notify_watchdog();
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;

	(void)fd;
	(void)what;
	if (l->on_tick)
		l->on_tick(l->ctx);
}

int loop_init(struct loop *l)
{
	sigset_t hup;
	struct timeval tv;

	l->base = event_base_new();
	if (!l->base)
		return -ENOMEM;
	l->sig_term = evsignal_new(l->base, SIGTERM, on_stop_signal, l);
	l->sig_int = evsignal_new(l->base, SIGINT, on_stop_signal, l);
	/* SIGHUP through a signalfd, blocked otherwise: a storm of them then
	 * costs the daemon one readable descriptor, not an interrupted
	 * system call and a handler per signal. */
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &hup, NULL) < 0)
		return -errno;
	l->hup_fd = signalfd(-1, &hup, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->hup_fd < 0)
		return -errno;
	l->sig_hup = event_new(l->base, l->hup_fd, EV_READ | EV_PERSIST, on_hup, l);
	l->sig_pipe = evsignal_new(l->base, SIGPIPE, on_ignore, l);
	l->tick_ev = event_new(l->base, -1, EV_PERSIST, on_tick, l);
	l->reload_ev = evtimer_new(l->base, on_reload_due, l);
	if (!l->sig_term || !l->sig_int || !l->sig_hup || !l->sig_pipe || !l->tick_ev ||
	    !l->reload_ev)
		return -ENOMEM;
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	/* A signal left to its default action would kill us uncleanly. */
	if (evsignal_add(l->sig_term, NULL) < 0 || evsignal_add(l->sig_int, NULL) < 0 ||
	    event_add(l->sig_hup, NULL) < 0 || evsignal_add(l->sig_pipe, NULL) < 0 ||
	    event_add(l->tick_ev, &tv) < 0)
		return -ENOMEM;

	l->watchdog_usec = notify_watchdog_usec();
	if (l->watchdog_usec) {
		/* Ping at a quarter of the interval, as loop_keepalive() does
		 * inside a long request: the timer is not re-armed by those
		 * pings, so at half (sd_watchdog_enabled(3)'s advice) the first
		 * idle gap after a long request could reach half the interval
		 * plus the scheduler's delay; at a quarter every gap, idle or
		 * busy, stays under half with room for that delay. */
		l->watchdog_ev = event_new(l->base, -1, EV_PERSIST, on_watchdog, l);
		if (!l->watchdog_ev)
			return -ENOMEM;
		tv.tv_sec = (time_t)(l->watchdog_usec / 4 / 1000000);
		tv.tv_usec = (suseconds_t)(l->watchdog_usec / 4 % 1000000);
		if (event_add(l->watchdog_ev, &tv) < 0)
			return -ENOMEM;
		notify_watchdog();
	}
	return 0;
}

void loop_done(struct loop *l)
{
	struct event **evs[] = { &l->sig_term, &l->sig_int, &l->sig_hup, &l->sig_pipe,
				 &l->watchdog_ev, &l->tick_ev, &l->reload_ev };

	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		if (*evs[i])
			event_free(*evs[i]);
		*evs[i] = NULL;
	}
	if (l->base)
		event_base_free(l->base);
	l->base = NULL;
	if (l->hup_fd > 0)
		close(l->hup_fd);
	l->hup_fd = -1;
}

static uint64_t progress(const struct loop *l)
{
	return l->progress ? *l->progress : 0;
}

/*
 * With busy_poll_us set, a turn that did work (l->progress moved) is
 * followed by polling without sleeping for that long, renewed by every
 * turn that does more, so the next request of a chatty client is picked
 * up without the wake-up latency of an idle CPU; an idle daemon sleeps as
 * usual.
 */
int loop_run(struct loop *l)
{
	while (!event_base_got_break(l->base) && !event_base_got_exit(l->base)) {
		uint64_t seen = progress(l), until;

		if (event_base_loop(l->base, EVLOOP_ONCE) < 0)
			return -EIO;
		if (!l->busy_poll_us || progress(l) == seen)
			continue;
		until = now_usec() + l->busy_poll_us;
		while (now_usec() < until && !event_base_got_break(l->base)) {
			seen = progress(l);
			if (event_base_loop(l->base, EVLOOP_NONBLOCK) < 0)
				return -EIO;
			if (progress(l) != seen)
				until = now_usec() + l->busy_poll_us;
		}
	}
	return 0;
}
