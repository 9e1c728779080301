/* hexdump.c -- `read --hex`: the layout of hexdump -C, streamed, so a read
 * of any length needs one line of memory.
 */
#include <inttypes.h>
#include <string.h>

#include "vmctl.h"

static void hd_emit(struct hexdump *h)
{
	char asc[17];

	if (h->fill == 16 && h->have_prev && memcmp(h->line, h->prev, 16) == 0) {
		if (!h->starred)
			puts("*");
		h->starred = true;
	} else {
		printf("%08" PRIx64 " ", h->off);
		for (size_t i = 0; i < 16; i++) {
			if (i % 8 == 0)
				putchar(' ');
			if (i < h->fill)
				printf("%02x ", h->line[i]);
			else
				fputs("   ", stdout);
			asc[i] = h->line[i] >= 0x20 && h->line[i] < 0x7f ? (char)h->line[i] : '.';
		}
		asc[h->fill] = '\0';
		printf(" |%s|\n", asc);
		h->starred = false;
	}
	memcpy(h->prev, h->line, 16);
	h->have_prev = h->fill == 16;
	h->off += h->fill;
	h->fill = 0;
}

void hd_feed(struct hexdump *h, const uint8_t *p, size_t n)
{
	while (n) {
		size_t k = 16 - h->fill < n ? 16 - h->fill : n;

		memcpy(h->line + h->fill, p, k);
		h->fill += k;
		p += k;
		n -= k;
		if (h->fill == 16)
			hd_emit(h);
	}
}

void hd_end(struct hexdump *h)
{
	if (h->fill)
		hd_emit(h);
	if (h->off)
		printf("%08" PRIx64 "\n", h->off);
}
