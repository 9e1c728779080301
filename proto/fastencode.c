/* fastencode.c -- see fastencode.h.  proto3 rules, as protobuf-c applies
 * them: a scalar field is written only when it is not zero (a string only
 * when it is not empty), a set oneof member always (an empty sub-message is
 * the two bytes tag, 0), fields in field-number order, sint32 as a zigzag
 * varint, enums and other int32 as varints.
 */
#include <string.h>

#include "fastencode.h"

static uint32_t zigzag32(int32_t v)
{
	return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}

/* A varint field (wire type 0) unless v is 0. */
static size_t put_field(uint8_t *p, unsigned field, uint64_t v)
{
	size_t n = 0;

	if (!v)
		return 0;
	p[n++] = (uint8_t)(field << 3);
	return n + vmd_put_varint(p + n, v);
}

size_t vmd_fast_pack_reply(uint8_t *buf, uint64_t id, int32_t status,
			   enum vmd_fast_result result, uint64_t value)
{
	size_t n = 0;

	if (id) {
		buf[n++] = 1 << 3;              /* id = 1, varint */
		n += vmd_put_varint(buf + n, id);
	}
	if (status) {
		buf[n++] = 2 << 3;              /* status = 2, zigzag varint */
		n += vmd_put_varint(buf + n, zigzag32(status));
	}
	if (result != VMD_FAST_NONE) {
		buf[n++] = (uint8_t)(result << 3 | 2);  /* length-delimited */
		if (value) {
			/* The sub-message is field 1 and a varint of at
			 * most 10 bytes, so its length fits one byte. */
			size_t m = vmd_put_varint(buf + n + 2, value);

			buf[n] = (uint8_t)(m + 1);
			buf[n + 1] = 1 << 3;
			n += 2 + m;
		} else {
			buf[n++] = 0;
		}
	}
	return n;
}

/* AllocRequest's fields into p; its length. */
static size_t pack_alloc(uint8_t *p, const Vmallocd__V1__AllocRequest *a, size_t caller_len)
{
	size_t n = 0;

	/* An enum is an int32: a negative one is ten bytes, as protobuf-c
	 * writes it. */
	n += put_field(p + n, 1, (uint64_t)(int64_t)(int32_t)a->kind);
	n += put_field(p + n, 2, a->size);
	n += put_field(p + n, 3, a->align);
	n += put_field(p + n, 4, a->start);
	n += put_field(p + n, 5, a->end);
	n += put_field(p + n, 6, a->gfp);
	n += put_field(p + n, 7, a->prot);
	n += put_field(p + n, 8, a->vm_flags);
	n += put_field(p + n, 9, zigzag32(a->node));
	n += put_field(p + n, 10, a->scoped ? 1 : 0);
	if (caller_len) {
		p[n++] = 11 << 3 | 2;
		n += vmd_put_varint(p + n, caller_len);
		memcpy(p + n, a->caller, caller_len);
		n += caller_len;
	}
	n += put_field(p + n, 12, a->parent_pid);
	return n;
}

size_t vmd_fast_pack_request(uint8_t *buf, const Vmallocd__V1__Request *req)
{
	uint8_t sub[VMD_FAST_REQUEST_MAX];
	size_t n = 0, m, caller_len = 0;
	unsigned field;

	if (req->base.n_unknown_fields)
		return 0;
	if (req->op_case == VMALLOCD__V1__REQUEST__OP_ALLOC && req->alloc &&
	    !req->alloc->base.n_unknown_fields) {
		if (req->alloc->caller) {
			caller_len = strnlen(req->alloc->caller, VMD_FAST_CALLER_MAX + 1);
			if (caller_len > VMD_FAST_CALLER_MAX)
				return 0;
		}
		m = pack_alloc(sub, req->alloc, caller_len);
		field = 3;
	} else if (req->op_case == VMALLOCD__V1__REQUEST__OP_FREE && req->free &&
		   !req->free->base.n_unknown_fields) {
		m = put_field(sub, 1, req->free->addr);
		field = 4;
	} else {
		return 0;
	}
	n += put_field(buf + n, 1, req->id);
	buf[n++] = (uint8_t)(field << 3 | 2);
	n += vmd_put_varint(buf + n, m);
	memcpy(buf + n, sub, m);
	return n + m;
}
