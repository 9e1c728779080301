/* frame.c -- frame headers and the protobuf-c bump arena.
 *
 * Invariant: arena memory handed out stays valid until the next reset; the
 * arena's own buffer is reused across resets, so a connection that keeps
 * sending requests of similar size stops allocating after its first few.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "frame.h"

void vmd_put_n32(uint8_t hdr[VMD_FRAME_HDR], uint32_t len)
{
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
}

uint32_t vmd_get_n32(const uint8_t hdr[VMD_FRAME_HDR])
{
	return (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
}

int vmd_frame_parse_hdr(const uint8_t hdr[VMD_FRAME_HDR], uint32_t maxsize, uint32_t *ret_len)
{
	uint32_t len = vmd_get_n32(hdr);

	if (len > maxsize)
		return -ERANGE;
	*ret_len = len;
	return 0;
}

struct vmd_chunk {
	struct vmd_chunk *next;
	max_align_t data[];
};

static void *arena_alloc(void *ctx, size_t size)
{
	struct vmd_arena *a = ctx;
	size_t need = (size + 15) & ~(size_t)15;
	struct vmd_chunk *c;

	if (need < size) {
		a->refused = true;
		return NULL;
	}
	/* used passes cap once something was served on the side (below);
	 * from then on until the reset, everything goes on the side too. */
	if (a->buf && a->used <= a->cap && a->cap - a->used >= need) {
		void *p = a->buf + a->used;

		a->used += need;
		return p;
	}
	if (a->limit && need > a->limit) {
		a->refused = true;
		return NULL;
	}
	/* Rare: a request bigger than what is left.  Serve it on the side; the
	 * next reset folds the total into a bigger main buffer. */
	c = malloc(sizeof(*c) + need);
	if (!c) {
		a->refused = true;
		return NULL;
	}
	c->next = a->big;
	a->big = c;
	a->used += need;   /* counts toward the next buffer size */
	return c->data;
}

static void arena_free(void *ctx, void *p)
{
	/* Everything goes at reset. */
	(void)ctx;
	(void)p;
}

void vmd_arena_init(struct vmd_arena *a, size_t limit)
{
	a->pb.alloc = arena_alloc;
	a->pb.free = arena_free;
	a->pb.allocator_data = a;
	a->buf = NULL;
	a->used = a->cap = 0;
	a->big = NULL;
	a->limit = limit;
	a->refused = false;
}

void vmd_arena_reset(struct vmd_arena *a)
{
	bool grow = a->big != NULL;
	size_t want = a->used;

	while (a->big) {
		struct vmd_chunk *n = a->big->next;

		free(a->big);
		a->big = n;
	}
	if (grow) {
		size_t cap = a->cap ? a->cap : 1024;

		while (cap < want)
			cap *= 2;
		/* Past the limit, keep serving oversize requests on the side
		 * instead of holding a huge buffer for the connection's life. */
		if (!a->limit || cap <= a->limit / 4) {
			uint8_t *nb = malloc(cap);

			if (nb) {
				free(a->buf);
				a->buf = nb;
				a->cap = cap;
			}
		}
	}
	a->used = 0;
	a->refused = false;
}

void vmd_arena_done(struct vmd_arena *a)
{
	vmd_arena_reset(a);
	free(a->buf);
	a->buf = NULL;
	a->cap = 0;
}
