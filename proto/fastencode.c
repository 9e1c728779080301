/* fastencode.c -- see fastencode.h.  proto3 rules, as protobuf-c applies
 * them: a scalar field is written only when it is not zero, a set oneof
 * member always (an empty sub-message is the two bytes tag, 0), fields in
 * field-number order, status as a zigzag varint (sint32).
 */
#include "fastencode.h"

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
		n += vmd_put_varint(buf + n, ((uint32_t)status << 1) ^ (uint32_t)(status >> 31));
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
