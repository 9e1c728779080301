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

/* true and *out filled if p[0..len) is a Request this decoder handles. */
bool vmd_fast_decode(const uint8_t *p, size_t len, struct vmd_fast_req *out);

#endif
