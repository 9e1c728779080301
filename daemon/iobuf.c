/* iobuf.c -- the contiguous byte queue behind each connection's input and
 * output (see iobuf.h).  Invariant: head + len <= cap; data is NULL only
 * when cap is 0.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iobuf.h"

#define IOBUF_MIN 4096

uint8_t *iobuf_reserve(struct iobuf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (iobuf_room(b) >= n)
		return iobuf_tail(b);
	if (b->cap - b->len >= n && b->len <= b->cap / 2) {
		/* Enough room once the queued bytes move to the front, and
		 * they are few enough that moving beats growing. */
		memmove(b->data, b->data + b->head, b->len);
		b->head = 0;
		return iobuf_tail(b);
	}
	if (n > SIZE_MAX / 2 - b->len)
		return NULL;
	cap = b->cap ? b->cap : IOBUF_MIN;
	while (cap < b->len + n)
		cap *= 2;
	if (b->head) {
		/* Compact into a fresh buffer rather than realloc and move. */
		p = malloc(cap);
		if (!p)
			return NULL;
		memcpy(p, b->data + b->head, b->len);
		free(b->data);
		b->head = 0;
	} else {
		p = realloc(b->data, cap);
		if (!p)
			return NULL;
	}
	b->data = p;
	b->cap = cap;
	return iobuf_tail(b);
}

int iobuf_append(struct iobuf *b, const void *p, size_t n)
{
	uint8_t *t = iobuf_reserve(b, n);

	if (!t)
		return -ENOMEM;
	memcpy(t, p, n);
	iobuf_commit(b, n);
	return 0;
}

void iobuf_trim(struct iobuf *b, size_t keep)
{
	if (b->len || b->cap <= keep)
		return;
	free(b->data);
	b->data = NULL;
	b->head = b->cap = 0;
}

void iobuf_free(struct iobuf *b)
{
	free(b->data);
	b->data = NULL;
	b->head = b->len = b->cap = 0;
}
