/* crc32c.c -- CRC-32C (Castagnoli), the checksum of the engine's state
 * image and of the daemon's journal records and checkpoints.
 *
 * One definition for all of them, so that what one side writes the other
 * checks the same way: vm_crc32c(vm_crc32c(0, a), b) == vm_crc32c(0, a
 * followed by b).  The CPU's instruction where there is one (SSE 4.2: the
 * journal takes one checksum per request), else bit by bit; both give the
 * same value.
 */
#include <string.h>

#include "vmcore.h"

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c = crc;

	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
	}
	crc = (uint32_t)c;
	if (n >= 4) {           /* a journal record's checksummed bytes end in 4 of them */
		uint32_t w;

		memcpy(&w, p, 4);
		crc = __builtin_ia32_crc32si(crc, w);
		n -= 4;
		p += 4;
	}
	for (; n; n--, p++)
		crc = __builtin_ia32_crc32qi(crc, *p);
	return crc;
}
#endif

uint32_t vm_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_hw(crc, p, len);
#endif
	for (; len; len--, p++) {
		crc ^= *p;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return ~crc;
}
