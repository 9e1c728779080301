/* pageset.c -- a sparse set of pages: 512-bit chunks in an open-addressing
 * table (pageset.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pageset.h"

#define CHUNK_PAGES (1ull << VT_PAGESET_CHUNK_BITS)

static uint64_t hash(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

void vt_pageset_init(struct vt_pageset *s)
{
	memset(s, 0, sizeof(*s));
}

void vt_pageset_done(struct vt_pageset *s)
{
	free(s->slots);
	vt_pageset_init(s);
}

static struct vt_pageset_chunk *find(const struct vt_pageset *s, uint64_t chunk)
{
	uint64_t i;

	if (!s->slots)
		return NULL;
	for (i = hash(chunk) & s->mask; s->slots[i].used; i = (i + 1) & s->mask)
		if (s->slots[i].chunk == chunk)
			return &s->slots[i];
	return NULL;
}

static int grow(struct vt_pageset *s)
{
	uint64_t n = s->slots ? (s->mask + 1) * 2 : 64, i, j;
	struct vt_pageset_chunk *t = calloc(n, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (i = 0; s->slots && i <= s->mask; i++) {
		if (!s->slots[i].used)
			continue;
		for (j = hash(s->slots[i].chunk) & (n - 1); t[j].used; j = (j + 1) & (n - 1))
			;
		t[j] = s->slots[i];
	}
	free(s->slots);
	s->slots = t;
	s->mask = n - 1;
	return 0;
}

/* The chunk, made if absent; NULL without memory. */
static struct vt_pageset_chunk *get(struct vt_pageset *s, uint64_t chunk)
{
	struct vt_pageset_chunk *c = find(s, chunk);
	uint64_t i;

	if (c)
		return c;
	if ((!s->slots || (s->nr + 1) * 10 > (s->mask + 1) * 7) && grow(s) < 0)
		return NULL;
	for (i = hash(chunk) & s->mask; s->slots[i].used; i = (i + 1) & s->mask)
		;
	c = &s->slots[i];
	c->used = true;
	c->chunk = chunk;
	s->nr++;
	return c;
}

/* The bits of [from, to) within one 64-bit word w of a chunk. */
static uint64_t word_mask(unsigned w, uint64_t from, uint64_t to)
{
	uint64_t lo = w * 64ull, hi = lo + 64;

	if (from < lo)
		from = lo;
	if (to > hi)
		to = hi;
	if (from >= to)
		return 0;
	if (to - from == 64)
		return ~0ull;
	return ((1ull << (to - from)) - 1) << (from - lo);
}

int vt_pageset_add(struct vt_pageset *s, uint64_t page, uint64_t n)
{
	uint64_t end = page + n;

	if (end < page)
		end = UINT64_MAX;
	while (page < end) {
		uint64_t chunk = page >> VT_PAGESET_CHUNK_BITS, base = chunk << VT_PAGESET_CHUNK_BITS;
		uint64_t to = end - base > CHUNK_PAGES ? CHUNK_PAGES : end - base;
		struct vt_pageset_chunk *c = get(s, chunk);

		if (!c)
			return -ENOMEM;
		for (unsigned w = 0; w < 8; w++)
			c->bits[w] |= word_mask(w, page - base, to);
		page = base + to;
		if (page == 0)
			break;          /* wrapped at the top of the address space */
	}
	return 0;
}

bool vt_pageset_any(const struct vt_pageset *s, uint64_t page, uint64_t n)
{
	uint64_t end = page + n;

	if (end < page)
		end = UINT64_MAX;
	while (page < end) {
		uint64_t chunk = page >> VT_PAGESET_CHUNK_BITS, base = chunk << VT_PAGESET_CHUNK_BITS;
		uint64_t to = end - base > CHUNK_PAGES ? CHUNK_PAGES : end - base;
		const struct vt_pageset_chunk *c = find(s, chunk);

		if (c)
			for (unsigned w = 0; w < 8; w++)
				if (c->bits[w] & word_mask(w, page - base, to))
					return true;
		page = base + to;
		if (page == 0)
			break;
	}
	return false;
}
