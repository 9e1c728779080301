/* iobuf.h -- a connection's byte queue: one contiguous, growable buffer with
 * the unread bytes at [head, head + len).
 *
 * Frames are cut from, and replies packed into, plain contiguous memory, so
 * the request path does no per-frame copying, no pullup and no callbacks.
 * The buffer is allocated on first use and may be released when empty, so
 * an idle connection holds no buffer memory.
 */
#ifndef VMD_IOBUF_H
#define VMD_IOBUF_H

#include <stddef.h>
#include <stdint.h>

struct iobuf {
	uint8_t *data;
	size_t head, len, cap;
};

/* A pointer to at least n writable bytes just past the queued ones, moving
 * the queued bytes to the front or growing the buffer as needed; NULL if out
 * of memory (b unchanged).  iobuf_commit() then queues what was written. */
uint8_t *iobuf_reserve(struct iobuf *b, size_t n);
/* Free bytes after the queued ones without moving or growing anything. */
static inline size_t iobuf_room(const struct iobuf *b)
{
	return b->cap - b->head - b->len;
}
static inline uint8_t *iobuf_tail(struct iobuf *b)
{
	return b->data + b->head + b->len;
}
static inline void iobuf_commit(struct iobuf *b, size_t n)
{
	b->len += n;
}
/* Drop n <= len bytes from the front. */
static inline void iobuf_consume(struct iobuf *b, size_t n)
{
	b->len -= n;
	b->head = b->len ? b->head + n : 0;
}
/* Queue n bytes copied from p: 0 or -ENOMEM (b unchanged). */
int iobuf_append(struct iobuf *b, const void *p, size_t n);
/* Release the memory of an empty buffer larger than keep bytes. */
void iobuf_trim(struct iobuf *b, size_t keep);
void iobuf_free(struct iobuf *b);

#endif /* VMD_IOBUF_H */
