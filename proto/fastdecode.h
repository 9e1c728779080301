/* fastdecode.h -- decoding of the two hottest requests (a plain alloc and a
 * free) without protobuf-c's generic unpacker.
 *
 * It accepts only a strict subset of encodings: each known field at most
 * once, in any order, with its proper wire type, values in range; anything
 * else (a caller string, an unknown field, a repeated field, another
 * operation) makes it decline, and the caller unpacks with protobuf-c as
 * usual.  Where it accepts, the result equals protobuf-c's (tests/
 * test_fastdecode.c checks this against protobuf-c as the oracle).
 */
#ifndef VMD_FASTDECODE_H
#define VMD_FASTDECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmalloc.pb-c.h"

struct vmd_fast_req {
	uint64_t id;
	Vmallocd__V1__Request__OpCase op;   /* OP_ALLOC or OP_FREE */
	Vmallocd__V1__AllocRequest alloc;   /* OP_ALLOC (caller is "") */
	Vmallocd__V1__FreeRequest free;     /* OP_FREE */
};

/* Read a varint of up to 10 bytes at *p (not past end) into *v and move *p
 * past it: false if it does not end in time.  For code that only scans
 * (ids, skipping fields); the decoder below applies protobuf-c's stricter
 * limits. */
static inline bool vmd_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* Request.id (field 1; the last one wins, as in protobuf) from a payload
 * that could not be unpacked, so that an error reply still answers the
 * request it belongs to; 0 if the top level does not scan.  Can't fail. */
uint64_t vmd_peek_id(const uint8_t *p, size_t len);

/* true and *out filled if p[0..len) is a Request this decoder handles. */
bool vmd_fast_decode(const uint8_t *p, size_t len, struct vmd_fast_req *out);

/* The plainest replies, as a client decodes them: Reply { id, status }
 * with no message, or with an AllocReply { addr } or AllocPagesReply
 * { pfn } (fastencode.h's vmd_fast_pack_reply() writes these).  result is
 * the oneof member set: VMALLOCD__V1__REPLY__RESULT__NOT_SET,
 * _RESULT_ALLOC or _RESULT_ALLOC_PAGES; value its one field. */
struct vmd_fast_reply {
	uint64_t id;
	int32_t status;
	Vmallocd__V1__Reply__ResultCase result;
	uint64_t value;
};

/* true and *out filled if p[0..len) is such a Reply, each field at most
 * once, in any order; false for anything else (a message, another result,
 * an unknown field), which the caller unpacks with protobuf-c.  Where it
 * accepts, the result equals protobuf-c's. */
bool vmd_fast_decode_reply(const uint8_t *p, size_t len, struct vmd_fast_reply *out);

#endif
