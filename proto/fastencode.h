/* fastencode.h -- packing of the hottest messages without protobuf-c's
 * generic packer: the daemon's plainest replies (a status, an id and at
 * most an address or a pfn) and a client's allocations and frees.
 *
 * The bytes are exactly those vmallocd__v1__reply__pack() and
 * vmallocd__v1__request__pack() write for the same message
 * (tests/test_fastencode.c checks this against protobuf-c as the oracle),
 * so the other side cannot tell which path packed it.
 */
#ifndef VMD_FASTENCODE_H
#define VMD_FASTENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "vmalloc.pb-c.h"

/* The most vmd_fast_pack_reply() writes: id (a tag and a varint of up to
 * 10 bytes), status (a tag and a zigzag sint32, up to 5), and a result
 * message (a tag, a one-byte length, and its value field: a tag and up
 * to 10 bytes). */
#define VMD_FAST_REPLY_MAX 30
_Static_assert(VMD_FAST_REPLY_MAX == (1 + 10) + (1 + 5) + (1 + 1 + (1 + 10)),
	       "VMD_FAST_REPLY_MAX is not the largest fast reply");

/* Which result a fast reply carries: the Reply oneof's field numbers. */
enum vmd_fast_result {
	VMD_FAST_NONE = 0,
	VMD_FAST_ALLOC = 5,        /* AllocReply { addr = value } */
	VMD_FAST_ALLOC_PAGES = 6,  /* AllocPagesReply { pfn = value } */
};

/* Write v as a protobuf varint at p (room for 10 bytes); returns its
 * length.  Can't fail. */
static inline size_t vmd_put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Pack Reply { id, status, result { value } } with no message into buf
 * (at least VMD_FAST_REPLY_MAX bytes); returns the bytes written.  value is
 * ignored with VMD_FAST_NONE.  Can't fail. */
size_t vmd_fast_pack_reply(uint8_t *buf, uint64_t id, int32_t status,
			   enum vmd_fast_result result, uint64_t value);

/* The most vmd_fast_pack_request() writes: an id, and an AllocRequest with
 * every field at its longest and a caller of VMD_FAST_CALLER_MAX bytes. */
#define VMD_FAST_CALLER_MAX  255
#define VMD_FAST_REQUEST_MAX (11 + 3 + 2 + 4 * 11 + 4 * 6 + 2 + 3 + VMD_FAST_CALLER_MAX + 6)

/* Pack req into buf (at least VMD_FAST_REQUEST_MAX bytes) if it is an
 * alloc or a free with no unknown fields and a caller of at most
 * VMD_FAST_CALLER_MAX bytes: the bytes written.  0 for any other request,
 * which the caller packs with protobuf-c.  Can't fail. */
size_t vmd_fast_pack_request(uint8_t *buf, const Vmallocd__V1__Request *req);

#endif /* VMD_FASTENCODE_H */
