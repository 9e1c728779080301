/* hostile.h -- shared scaffolding of the hostile-client tests: raw frames
 * on a socket (no libvmclient in the way), a bystander process that keeps
 * using the daemon while a test attacks it, running code as another uid,
 * and sizes scaled down under $VMALLOCD_WRAPPER (valgrind).
 */
#ifndef VMD_HOSTILE_H
#define VMD_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmalloc.pb-c.h"

typedef Vmallocd__V1__Request Request;
typedef Vmallocd__V1__Reply Reply;

/* A blocking connection to path, or -1. */
int raw_connect(const char *path);
/* Write all of p (MSG_NOSIGNAL); 0 or -1. */
int send_all(int fd, const void *p, size_t n);
/* A frame: the 4-byte length, then n bytes of payload. */
int send_frame(int fd, const void *payload, uint32_t n);
/* Pack q and send it as one frame. */
int send_request(int fd, const Request *q);
/* The next reply, or NULL if the connection closed, timed out or sent a
 * frame that does not parse.  Free with reply_free(). */
Reply *read_reply(int fd, int timeout_ms);
void reply_free(Reply *r);
/* true if the peer closes fd within timeout_ms (anything it still sends
 * first is read and dropped). */
bool closed_by_peer(int fd, int timeout_ms);

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

/* Run fn(arg) in a child that has become uid (and gid); its exit status,
 * or 200 if it did not exit normally. */
int as_uid(uint32_t uid, int (*fn)(void *), void *arg);

/* Under $VMALLOCD_WRAPPER (valgrind) the daemon is ~30x slower: counts and
 * timing checks scale down with this. */
bool under_wrapper(void);
/* $name as an unsigned number, or def. */
unsigned long env_ulong(const char *name, unsigned long def);

/* A protobuf varint of v at p: its length.  varint_len: the length alone. */
size_t put_varint(uint8_t *p, uint64_t v);
size_t varint_len(uint64_t v);

/* The xorshift generator the tests use for patterns and choices. */
uint64_t xrand(uint64_t *s);
/* Fill buf with the pattern of seed; check it: index of the first
 * mismatch, or n. */
void pattern_fill(uint8_t *buf, size_t n, uint64_t seed);
size_t pattern_check(const uint8_t *buf, size_t n, uint64_t seed);

#endif
