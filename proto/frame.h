/* frame.h -- framing of the vmallocd protocol, shared by daemon and client.
 *
 * A frame is a 4-byte unsigned big-endian length N followed by N bytes of
 * one protobuf message (vmalloc.proto).  The "_n32" in a name means network
 * (big-endian) byte order.
 */
#ifndef VMD_FRAME_H
#define VMD_FRAME_H

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
	size_t limit;            /* most bytes one arena may hold, 0: no limit */
};

void vmd_arena_init(struct vmd_arena *a, size_t limit);
void vmd_arena_reset(struct vmd_arena *a);
void vmd_arena_done(struct vmd_arena *a);

#endif /* VMD_FRAME_H */
