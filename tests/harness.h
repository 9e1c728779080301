/* harness.h -- start a real vmallocd for integration tests: a private
 * temporary directory, its socket there, and a NOTIFY_SOCKET the test itself
 * listens on, so readiness, STATUS= and WATCHDOG=1 are seen as systemd
 * would see them.
 *
 * The daemon binary comes from $VMALLOCD_BIN (set by meson), and
 * $VMALLOCD_WRAPPER (e.g. "valgrind --error-exitcode=99") is put in front
 * of it when set.
 */
#ifndef VMD_TEST_HARNESS_H
#define VMD_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vmd_notify;

struct vmd_proc {
	pid_t pid;
	struct vmd_notify *nt;  /* the reader thread that drains NOTIFY_SOCKET */
	unsigned long cursor;   /* notify lines already consumed by vmd_wait_notify */
	char dir[128];          /* private temp dir (mode 0755) */
	char sock[192];         /* the daemon's socket (mode 0666) */
	char notify[192];       /* our NOTIFY_SOCKET */
	int notify_fd;
	char log[192];          /* the daemon's stderr, if started by vmd_start_logged */
	char status[256];       /* last STATUS= seen */
	int watchdogs;          /* WATCHDOG=1 seen */
	long long watchdog_max_gap_ms; /* the longest time between two, see vmd_watchdog_gap */
	bool ready, stopping, reloading;
};

/* Listen on a NOTIFY_SOCKET at p->notify (p->dir must be set): binds the
 * socket and starts the reader thread.  0 or negative errno. */
int vmd_notify_open(struct vmd_proc *p);
void vmd_notify_close(struct vmd_proc *p);

/* Start vmallocd with --socket in a fresh dir plus the NULL-terminated
 * extra arguments; env entries ("K=V", NULL-terminated, may be NULL) are
 * added.  Waits up to 20 s for READY=1.  0 or negative errno. */
int vmd_start(struct vmd_proc *p, const char *const *args, const char *const *env);

/* vmd_start, with the daemon's stderr (its log) going to a file in p->dir
 * instead of the test's own; vmd_read_log() returns what it holds so far
 * (malloc'd, NUL-terminated; NULL if it cannot be read). */
int vmd_start_logged(struct vmd_proc *p, const char *const *args, const char *const *env);
char *vmd_read_log(const struct vmd_proc *p);

/* Wait up to timeout_ms for a notify line equal to want (e.g. "READY=1"),
 * or starting with want if want ends in '=', among the lines not consumed
 * by an earlier call (the match and the lines before it are consumed);
 * want NULL just waits, consuming everything.  Updates p's fields from what the reader thread saw.  A thread
 * drains the socket all the time, as systemd does, so the daemon never
 * blocks on a full notify queue. */
bool vmd_wait_notify(struct vmd_proc *p, const char *want, int timeout_ms);

/* The longest gap between two WATCHDOG=1 since the last reset, into
 * p->watchdog_max_gap_ms (the time since the last one counting as a gap);
 * reset starts over from now. */
void vmd_watchdog_gap(struct vmd_proc *p, bool reset);

/* SIGTERM, then wait up to timeout_ms: the exit status (0..255), 128+signal
 * if it died of one, or -ETIMEDOUT (then it is SIGKILLed).  Removes the dir. */
int vmd_stop(struct vmd_proc *p, int timeout_ms);

/* Milliseconds on the monotonic clock. */
long long vmd_now_ms(void);

/* fork(), with the child remembered: every child of a test that is still
 * running when the test program ends, however it ends (a CU_ASSERT_FATAL
 * that leaves a case half done, exit(), SIGTERM from meson's timeout, a
 * crash), is SIGKILLed and reaped, so that none outlives the test holding
 * its stdout (meson waits for that to close).  In the child, nothing is
 * remembered.  The same result as fork(). */
pid_t vmd_fork(void);

/* vmc_connect(), with a timeout on every call of the connection (60 s,
 * four times that under $VMALLOCD_WRAPPER): a wedged daemon fails the
 * call with -ETIMEDOUT instead of hanging the test until meson's timeout. */
struct vmc_client;
int vmd_connect(const char *socket_path, struct vmc_client **ret);

/* Run fn(arg) in a child that has become uid (and gid); its exit status,
 * 200 if it did not exit normally, -1 if it could not be started. */
int as_uid(uint32_t uid, int (*fn)(void *), void *arg);

/* Run argv (argv[0] a path), feeding stdin_data (may be NULL), capturing up
 * to outlen-1 bytes of stdout (NUL-terminated) and stderr likewise (either
 * buffer may be NULL).  Returns the exit status, or negative errno. */
int vmd_run(const char *const *argv, const char *stdin_data, size_t stdin_len,
	    char *out, size_t outlen, char *err, size_t errlen);

#endif
