/* frame.h -- framing of the vmallocd protocol, shared by daemon and client.
 *
 * A frame is a 4-byte unsigned big-endian length N followed by N bytes of
 * one protobuf message (vmalloc.proto).  The "_n32" in a name means network
 * (big-endian) byte order.
 */
#ifndef VMD_FRAME_H
#define VMD_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* The protocol versions a daemon speaks; a client says which in Hello.
 * Version 2 refuses an enum left at 0 (docs/protocol.md section 6). */
#define VMD_PROTO_VERSION     2
#define VMD_PROTO_VERSION_MIN 1
#define VMD_FRAME_HDR     4u
#define VMD_MAX_FRAME     (2u << 20)   /* largest payload N, bytes */
#define VMD_MAX_IO        (1u << 20)   /* largest data in one read or write */
#define VMD_MAX_REPLY     (256u << 20) /* largest reply payload (big query answers) */

/* The header is 32 bits; a read or write of VMD_MAX_IO bytes, with its
 * request's other fields (at most 64 bytes: id, address, tags, lengths),
 * is one frame, and its reply one reply. */
_Static_assert(VMD_MAX_FRAME <= UINT32_MAX && VMD_MAX_REPLY <= UINT32_MAX,
	       "a frame length does not fit its 32-bit header");
_Static_assert(VMD_MAX_IO + 64 <= VMD_MAX_FRAME, "a VMD_MAX_IO write does not fit one frame");
_Static_assert(VMD_MAX_IO + 64 <= VMD_MAX_REPLY, "a VMD_MAX_IO read does not fit one reply");

/* Store len as the big-endian header.  Can't fail. */
void vmd_put_n32(uint8_t hdr[VMD_FRAME_HDR], uint32_t len);
uint32_t vmd_get_n32(const uint8_t hdr[VMD_FRAME_HDR]);

/* Validate a frame header against maxsize: 0 and *ret_len on success,
 * -ERANGE if the length is over maxsize. */
int vmd_frame_parse_hdr(const uint8_t hdr[VMD_FRAME_HDR], uint32_t maxsize, uint32_t *ret_len);

/*
 * A bump allocator for protobuf-c: unpacking a request allocates only from
 * the arena's buffer (grown rarely, never shrunk), and vmd_arena_reset()
 * frees everything at once, so the steady-state request path calls no malloc.
 */
struct vmd_arena {
	ProtobufCAllocator pb;   /* pass &arena->pb to protobuf-c */
	uint8_t *buf;
	size_t used, cap;
	struct vmd_chunk *big;   /* oversize allocations, freed on reset */
	size_t limit;            /* bytes: the largest one allocation served (a bigger
				  * one is refused), 0: no limit; the main buffer
				  * never grows past limit / 4.  What one request
				  * takes in all is bounded by its frame's size. */
	bool refused;            /* an allocation failed since the last reset (the
				  * limit or malloc): protobuf-c's unpacker says only
				  * "NULL", this tells "out of memory" from "malformed" */
};

/* Can't fail: the buffer comes with the first allocation. */
void vmd_arena_init(struct vmd_arena *a, size_t limit);
/* Frees everything handed out since the last reset and clears refused. */
void vmd_arena_reset(struct vmd_arena *a);
void vmd_arena_done(struct vmd_arena *a);

#endif /* VMD_FRAME_H */
