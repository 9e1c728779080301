/* hostile.h -- shared scaffolding of the hostile-client tests: checked
 * requests on raw frames (wire.h), a bystander process that keeps using
 * the daemon while a test attacks it, and sizes scaled down under
 * $VMALLOCD_WRAPPER (valgrind).  Running code as another uid and killing
 * children on every exit path are the harness's (harness.h).
 */
#ifndef VMD_HOSTILE_H
#define VMD_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "wire.h"

/* Send q on fd and check the reply: its id is q's, its status want (0 or a
 * negative errno) and, on error, it carries a message and no result.
 * Returns the reply (for its result) or NULL after a CUnit failure. */
Reply *expect(int fd, Request *q, int want);
/* The same, dropping the reply; returns true if it was as expected. */
bool expect_status(int fd, Request *q, int want);

/* Request builders: fill *q (zeroed) and the op message *m. */
void rq_alloc(Request *q, Vmallocd__V1__AllocRequest *m, uint64_t size);
void rq_free(Request *q, Vmallocd__V1__FreeRequest *m, uint64_t addr);
void rq_read(Request *q, Vmallocd__V1__ReadRequest *m, uint64_t addr, uint64_t len);
void rq_write(Request *q, Vmallocd__V1__WriteRequest *m, uint64_t addr, const void *p, size_t n);
void rq_check(Request *q, Vmallocd__V1__CheckRequest *m);

/* alloc of size on fd, expecting success: the address, or 0. */
uint64_t raw_alloc(int fd, uint64_t size);
/* The invariant checker through fd: true if clean. */
bool raw_check(int fd);

/* A bystander: a child process that connects to path and loops alloc,
 * write, read back, compare, free until stopped, counting operations and
 * failures.  bystander_stop() returns the failures (any error, mismatch or
 * lost connection), or -1 if the child could not be reaped; *ops gets the
 * number of rounds it completed. */
struct bystander {
	pid_t pid;
	int pipe_fd;
};
int bystander_start(struct bystander *b, const char *path);
int bystander_stop(struct bystander *b, unsigned long *ops);

/* Under $VMALLOCD_WRAPPER (valgrind) the daemon is ~30x slower: counts and
 * timing checks scale down with this. */
bool under_wrapper(void);
/* $name as an unsigned number, or def. */
unsigned long env_ulong(const char *name, unsigned long def);

/* The xorshift generator the tests use for patterns and choices. */
uint64_t xrand(uint64_t *s);
/* Fill buf with the pattern of seed; check it: index of the first
 * mismatch, or n. */
void pattern_fill(uint8_t *buf, size_t n, uint64_t seed);
size_t pattern_check(const uint8_t *buf, size_t n, uint64_t seed);

#endif
