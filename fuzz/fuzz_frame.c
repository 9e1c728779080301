/* fuzz_frame.c -- libFuzzer target: the request decoder, as the daemon runs
 * it on bytes from a socket.
 *
 * Input: one byte choosing the frame limit, then a byte stream cut into
 * frames the way daemon/loop.c cuts it (vmd_frame_parse_hdr against the
 * limit; a length over it ends the stream, as it ends a connection).  Each
 * payload goes through the fast decoder (proto/fastdecode.c), protobuf-c's
 * unpacker into a bump arena (proto/frame.c, reset between frames as a
 * connection does) and protobuf-c's unpacker with malloc, and these must
 * agree:
 *   - the arena and malloc unpackers accept the same payloads, unless the
 *     arena refused an allocation over its limit;
 *   - whatever the fast decoder accepts, protobuf-c accepts with the same
 *     id, operation and fields;
 *   - an accepted Request without unknown fields packs to bytes that
 *     unpack and pack to the same bytes again (the encoding round-trips).
 * The same payload is also read as a Reply: if it parses and is of the
 * shape the daemon packs by hand (no message, no result or an address or
 * pfn), proto/fastencode.c must write exactly protobuf-c's bytes for it.
 * A disagreement aborts (a crash for libFuzzer).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastdecode.h"
#include "fastencode.h"
#include "frame.h"
#include "vmalloc.pb-c.h"

typedef Vmallocd__V1__Request Request;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "fuzz_frame: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                      \
		}                                                                     \
	} while (0)

/* Small enough that an absurd repeated field reaches it inside libFuzzer's
 * default input sizes, as VMD_MAX_FRAME-sized frames reach the daemon's. */
#define ARENA_LIMIT (64u << 10)

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static void compare_fast(const struct vmd_fast_req *f, const Request *h)
{
	CHECK(h->id == f->id);
	CHECK(h->op_case == f->op);
	if (f->op == VMALLOCD__V1__REQUEST__OP_ALLOC) {
		const Vmallocd__V1__AllocRequest *a = h->alloc, *b = &f->alloc;

		CHECK(a->kind == b->kind && a->size == b->size && a->align == b->align);
		CHECK(a->start == b->start && a->end == b->end && a->gfp == b->gfp);
		CHECK(a->prot == b->prot && a->vm_flags == b->vm_flags && a->node == b->node);
		CHECK(a->scoped == b->scoped && str_eq(a->caller, b->caller));
	} else {
		CHECK(f->op == VMALLOCD__V1__REQUEST__OP_FREE);
		CHECK(h->free->addr == f->free.addr);
	}
}

/* Unknown fields anywhere in m.  protobuf-c keeps them to pack again as
 * they came, and accepts some it cannot read back (a field number 0 with
 * an overlong tag), so a message with any is exempt from the round trip. */
static bool has_unknown(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (m->n_unknown_fields)
		return true;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const ProtobufCMessage *sub;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
			continue;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t qcase = *(const uint32_t *)((const char *)m + f->quantifier_offset);

			if (qcase != f->id)
				continue;
		}
		sub = *(ProtobufCMessage *const *)((const char *)m + f->offset);
		if (sub && has_unknown(sub))
			return true;
	}
	return false;
}

static void round_trip(const Request *h)
{
	size_t n = vmallocd__v1__request__get_packed_size(h), n2;
	uint8_t *buf = malloc(n ? n : 1), *buf2;
	Request *again;

	CHECK(buf);
	CHECK(vmallocd__v1__request__pack(h, buf) == n);
	again = vmallocd__v1__request__unpack(NULL, n, buf);
	CHECK(again);
	n2 = vmallocd__v1__request__get_packed_size(again);
	CHECK(n2 == n);
	buf2 = malloc(n2 ? n2 : 1);
	CHECK(buf2);
	CHECK(vmallocd__v1__request__pack(again, buf2) == n2);
	CHECK(memcmp(buf, buf2, n) == 0);
	free(buf2);
	free(buf);
	vmallocd__v1__request__free_unpacked(again, NULL);
}

/* The payload as a Reply, packed by fastencode and by protobuf-c. */
static void reply_oracle(const uint8_t *p, size_t len)
{
	Vmallocd__V1__Reply *r = vmallocd__v1__reply__unpack(NULL, len, p);
	enum vmd_fast_result res = VMD_FAST_NONE;
	uint64_t value = 0;
	uint8_t *want, fast[VMD_FAST_REPLY_MAX];
	size_t n;

	if (!r)
		return;
	if ((r->message && *r->message) || has_unknown(&r->base))
		goto out;
	switch (r->result_case) {
	case VMALLOCD__V1__REPLY__RESULT__NOT_SET:
		break;
	case VMALLOCD__V1__REPLY__RESULT_ALLOC:
		res = VMD_FAST_ALLOC;
		value = r->alloc->addr;
		break;
	case VMALLOCD__V1__REPLY__RESULT_ALLOC_PAGES:
		res = VMD_FAST_ALLOC_PAGES;
		value = r->alloc_pages->pfn;
		break;
	default:
		goto out;
	}
	n = vmallocd__v1__reply__get_packed_size(r);
	want = malloc(n ? n : 1);
	CHECK(want);
	CHECK(vmallocd__v1__reply__pack(r, want) == n);
	CHECK(vmd_fast_pack_reply(fast, r->id, r->status, res, value) == n);
	CHECK(memcmp(fast, want, n) == 0);
	free(want);
out:
	vmallocd__v1__reply__free_unpacked(r, NULL);
}

static void one_payload(struct vmd_arena *arena, const uint8_t *p, size_t len)
{
	struct vmd_fast_req fast;
	bool fast_ok = vmd_fast_decode(p, len, &fast);
	Request *a, *h;

	vmd_arena_reset(arena);
	a = vmallocd__v1__request__unpack(&arena->pb, len, p);
	h = vmallocd__v1__request__unpack(NULL, len, p);
	if (!a && h)
		CHECK(arena->refused);
	if (a && !h)
		CHECK(!"the arena accepted what malloc did not");
	if (fast_ok) {
		CHECK(h);
		compare_fast(&fast, h);
		if (a)
			compare_fast(&fast, a);
	}
	if (h) {
		if (!has_unknown(&h->base))
			round_trip(h);
		vmallocd__v1__request__free_unpacked(h, NULL);
	}
	reply_oracle(p, len);
	/* The arena's memory goes at the next reset, never piece by piece. */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t limits[] = { 64, 100, 4096, VMD_MAX_FRAME };
	struct vmd_arena arena;
	uint32_t limit;

	if (size < 1)
		return 0;
	limit = limits[data[0] % 4];
	data++;
	size--;
	vmd_arena_init(&arena, ARENA_LIMIT);
	while (size >= VMD_FRAME_HDR) {
		uint32_t len;

		if (vmd_frame_parse_hdr(data, limit, &len) < 0) {
			CHECK(vmd_get_n32(data) > limit);
			break;
		}
		CHECK(len <= limit);
		if (size - VMD_FRAME_HDR < len) {
			/* A partial frame: the daemon waits for the rest (or the stall
			 * timeout); decode what there is as a truncated payload. */
			one_payload(&arena, data + VMD_FRAME_HDR, size - VMD_FRAME_HDR);
			break;
		}
		one_payload(&arena, data + VMD_FRAME_HDR, len);
		data += VMD_FRAME_HDR + len;
		size -= VMD_FRAME_HDR + len;
	}
	vmd_arena_done(&arena);
	return 0;
}
