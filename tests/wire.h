/* wire.h -- the protocol by hand, for the integration tests that speak it
 * without libvmclient in the way: raw frames on a UNIX socket, replies
 * read with a timeout, varints.  One copy for every suite.
 */
#ifndef VMD_TEST_WIRE_H
#define VMD_TEST_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmalloc.pb-c.h"

typedef Vmallocd__V1__Request Request;
typedef Vmallocd__V1__Reply Reply;

/* A blocking connection to path, or -1. */
int raw_connect(const char *path);
/* Write all of p (MSG_NOSIGNAL, EINTR retried); 0 or -1. */
int send_all(int fd, const void *p, size_t n);
/* A frame: the 4-byte length, then n bytes of payload.  0 or -1. */
int send_frame(int fd, const void *payload, uint32_t n);
/* Pack q and send it as one frame.  0 or -1. */
int send_request(int fd, const Request *q);
/* Exactly n bytes into buf, each wait for more at most timeout_ms: false
 * on a timeout, an error or the end of the stream. */
bool read_full(int fd, uint8_t *buf, size_t n, int timeout_ms);
/* The next reply, or NULL if the connection closed, timed out or sent a
 * frame that does not parse.  Free with reply_free(). */
Reply *read_reply(int fd, int timeout_ms);
void reply_free(Reply *r);
/* true if the peer closes fd within timeout_ms (anything it still sends
 * first is read and dropped). */
bool closed_by_peer(int fd, int timeout_ms);

/* A protobuf varint of v at p: its length.  varint_len: the length alone. */
size_t put_varint(uint8_t *p, uint64_t v);
size_t varint_len(uint64_t v);

#endif
