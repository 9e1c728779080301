/* fastdecode.c -- see fastdecode.h.  A few dozen lines of varint reading
 * that replace protobuf-c's generic unpack on the request path the
 * benchmarks hammer; it declines whatever it is not sure about. */
#include <limits.h>

#include "fastdecode.h"

struct cursor {
	const uint8_t *p, *end;
};

/* A varint of at most max_bytes bytes (10: the 10th holding only bit 63). */
static inline bool get_varint_n(struct cursor *c, uint64_t *v, unsigned max_bytes)
{
	uint64_t x = 0;

	/* Tags and most small values are one byte. */
	if (c->p < c->end && !(*c->p & 0x80)) {
		*v = *c->p++;
		return true;
	}

	for (unsigned shift = 0; shift < 7 * max_bytes; shift += 7) {
		uint8_t b;

		if (c->p == c->end)
			return false;
		b = *c->p++;
		if (shift == 63 && b > 1)
			return false;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

static inline bool get_varint(struct cursor *c, uint64_t *v)
{
	return get_varint_n(c, v, 10);
}

/* protobuf-c reads a tag, and the length before a sub-message, from at most
 * five bytes (and a length up to INT_MAX): the same here, so that nothing
 * it rejects is accepted (an overlong "80 80 ... 00" length, say). */
static inline bool get_tag(struct cursor *c, uint64_t *v)
{
	return get_varint_n(c, v, 5);
}

static inline bool get_length(struct cursor *c, uint64_t *v)
{
	return get_varint_n(c, v, 5) && *v <= INT_MAX;
}

static bool decode_alloc(const uint8_t *p, size_t len, Vmallocd__V1__AllocRequest *a)
{
	struct cursor c = { p, p + len };
	uint32_t seen = 0;

	/* The macro, not the _init() call: a few stores instead of a
	 * function call and a copy of the whole message. */
	*a = (Vmallocd__V1__AllocRequest)VMALLOCD__V1__ALLOC_REQUEST__INIT;
	while (c.p < c.end) {
		uint64_t key, v;
		unsigned field;

		if (!get_tag(&c, &key) || (key & 7) != 0 || key >> 3 > 10)
			return false;   /* only varint fields 1..10 here */
		field = (unsigned)(key >> 3);
		if (!field || (seen & (1u << field)) || !get_varint(&c, &v))
			return false;
		seen |= 1u << field;
		switch (field) {
		case 1:
			if (v > INT32_MAX)
				return false;
			a->kind = (Vmallocd__V1__AllocKind)v;
			break;
		case 2: a->size = v; break;
		case 3: a->align = v; break;
		case 4: a->start = v; break;
		case 5: a->end = v; break;
		case 6:
		case 7:
		case 8:
			if (v > UINT32_MAX)
				return false;
			if (field == 6)
				a->gfp = (uint32_t)v;
			else if (field == 7)
				a->prot = (uint32_t)v;
			else
				a->vm_flags = (uint32_t)v;
			break;
		case 9:
			if (v > UINT32_MAX)
				return false;
			/* sint32: zigzag */
			a->node = (int32_t)((uint32_t)v >> 1) ^ -(int32_t)((uint32_t)v & 1);
			break;
		case 10:
			if (v > 1)
				return false;
			a->scoped = v != 0;
			break;
		}
	}
	return true;
}

static bool decode_free(const uint8_t *p, size_t len, Vmallocd__V1__FreeRequest *f)
{
	struct cursor c = { p, p + len };
	bool seen = false;

	*f = (Vmallocd__V1__FreeRequest)VMALLOCD__V1__FREE_REQUEST__INIT;
	while (c.p < c.end) {
		uint64_t key, v;

		if (!get_tag(&c, &key) || key != (1 << 3) || seen || !get_varint(&c, &v))
			return false;
		seen = true;
		f->addr = v;
	}
	return true;
}

bool vmd_fast_decode(const uint8_t *p, size_t len, struct vmd_fast_req *out)
{
	struct cursor c = { p, p + len };
	bool have_id = false;

	out->id = 0;
	out->op = VMALLOCD__V1__REQUEST__OP__NOT_SET;
	while (c.p < c.end) {
		uint64_t key, v;

		if (!get_tag(&c, &key))
			return false;
		if (key == (1 << 3)) {                  /* id, varint */
			if (have_id || !get_varint(&c, &v))
				return false;
			have_id = true;
			out->id = v;
			continue;
		}
		if ((key & 7) != 2 || out->op != VMALLOCD__V1__REQUEST__OP__NOT_SET)
			return false;
		if (!get_length(&c, &v) || v > (uint64_t)(c.end - c.p))
			return false;
		if (key >> 3 == VMALLOCD__V1__REQUEST__OP_ALLOC) {
			if (!decode_alloc(c.p, (size_t)v, &out->alloc))
				return false;
			out->op = VMALLOCD__V1__REQUEST__OP_ALLOC;
		} else if (key >> 3 == VMALLOCD__V1__REQUEST__OP_FREE) {
			if (!decode_free(c.p, (size_t)v, &out->free))
				return false;
			out->op = VMALLOCD__V1__REQUEST__OP_FREE;
		} else {
			return false;
		}
		c.p += v;
	}
	return out->op != VMALLOCD__V1__REQUEST__OP__NOT_SET;
}

uint64_t vmd_peek_id(const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	uint64_t id = 0, tag, v;

	while (p < end) {
		if (!vmd_get_varint(&p, end, &tag))
			return 0;
		switch (tag & 7) {
		case 0:
			if (!vmd_get_varint(&p, end, &v))
				return 0;
			if (tag >> 3 == 1)
				id = v;
			break;
		case 1:
			if (end - p < 8)
				return 0;
			p += 8;
			break;
		case 2:
			if (!vmd_get_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return 0;
			p += v;
			break;
		case 5:
			if (end - p < 4)
				return 0;
			p += 4;
			break;
		default:
			return 0;
		}
	}
	return id;
}

/* A result sub-message of one varint field 1 (or none: 0). */
static bool decode_value(struct cursor *c, uint64_t *value)
{
	uint64_t len, key;
	struct cursor s;

	if (!get_length(c, &len) || len > (uint64_t)(c->end - c->p))
		return false;
	s = (struct cursor){ c->p, c->p + len };
	c->p += len;
	*value = 0;
	if (s.p == s.end)
		return true;
	if (!get_tag(&s, &key) || key != (1 << 3) || !get_varint(&s, value))
		return false;
	return s.p == s.end;
}

bool vmd_fast_decode_reply(const uint8_t *p, size_t len, struct vmd_fast_reply *out)
{
	struct cursor c = { p, p + len };
	uint32_t seen = 0;

	*out = (struct vmd_fast_reply){ .result = VMALLOCD__V1__REPLY__RESULT__NOT_SET };
	while (c.p < c.end) {
		uint64_t key, v;
		unsigned field;

		if (!get_tag(&c, &key))
			return false;
		field = (unsigned)(key >> 3);
		if (field > 31 || (seen & (1u << field)))
			return false;
		seen |= 1u << field;
		switch (key) {
		case 1 << 3:                    /* id */
			if (!get_varint(&c, &out->id))
				return false;
			break;
		case 2 << 3:                    /* status, sint32 */
			if (!get_varint(&c, &v) || v > UINT32_MAX)
				return false;
			out->status = (int32_t)((uint32_t)v >> 1) ^ -(int32_t)((uint32_t)v & 1);
			break;
		case 5 << 3 | 2:                /* alloc */
		case 6 << 3 | 2:                /* alloc_pages */
			if (seen & (1u << 5 | 1u << 6) & ~(1u << field))
				return false;   /* a second member of the oneof */
			if (!decode_value(&c, &out->value))
				return false;
			out->result = field == 5 ? VMALLOCD__V1__REPLY__RESULT_ALLOC
						 : VMALLOCD__V1__REPLY__RESULT_ALLOC_PAGES;
			break;
		default:
			return false;
		}
	}
	return true;
}
