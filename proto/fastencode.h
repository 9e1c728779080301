/* fastencode.h -- packing of the hottest replies (a status, an id and at
 * most an address or a pfn) without protobuf-c's generic packer.
 *
 * The bytes are exactly those vmallocd__v1__reply__pack() writes for the
 * same Reply (tests/test_fastencode.c checks this against protobuf-c as the
 * oracle), so a client cannot tell which path packed a reply.
 */
#ifndef VMD_FASTENCODE_H
#define VMD_FASTENCODE_H

#include <stddef.h>
#include <stdint.h>

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

#endif /* VMD_FASTENCODE_H */
