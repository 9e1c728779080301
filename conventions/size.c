/* size.c -- parsing "64K" / "1.5M" and printing "1.5Mi" (see size.h).
 *
 * The parser works in integers: the whole part, then the fraction as
 * numerator / 10^digits scaled by the unit in 128 bits, rounded up, so
 * "1.5M" is exactly 1572864 and no double ever rounds a size.
 */
#include "size.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

/* 128-bit intermediates: exact products of a 64-bit size and a unit. */
__extension__ typedef unsigned __int128 u128;

static int digit_value(char c, unsigned base)
{
	int v;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	else
		return -1;
	return (unsigned)v < base ? v : -1;
}

/* The unit at *s, as a shift (0 for none or "B"); s is moved past it.
 * false if what follows is not a unit. */
static bool parse_unit(const char **s, unsigned *ret_shift)
{
	static const char units[] = "KMGTPE";
	const char *p = *s;
	unsigned shift = 0;

	for (unsigned i = 0; units[i]; i++) {
		if (*p == units[i] || *p == units[i] + ('a' - 'A')) {
			shift = 10 * (i + 1);
			p++;
			break;
		}
	}
	if (shift && (*p == 'i' || *p == 'I') && (p[1] == 'B' || p[1] == 'b'))
		p += 2;
	else if (*p == 'B' || *p == 'b')
		p++;
	if (*p)
		return false;
	*s = p;
	*ret_shift = shift;
	return true;
}

int cv_parse_size(const char *s, uint64_t *ret_bytes)
{
	u128 whole = 0, frac = 0, denom = 1, bytes;
	unsigned base = 10, shift, digits = 0;
	bool sticky = false;   /* a non-zero fraction digit past what we keep */
	int v;

	if (!s || !ret_bytes)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (digit_value(*s, base) < 0)
		return -EINVAL;
	for (; (v = digit_value(*s, base)) >= 0; s++) {
		whole = whole * base + (unsigned)v;
		if (whole > UINT64_MAX)
			return -ERANGE;
	}
	if (*s == '.' && base == 10) {
		s++;
		if (digit_value(*s, 10) < 0)
			return -EINVAL;
		for (; (v = digit_value(*s, 10)) >= 0; s++) {
			if (digits < 19) {   /* 10^19 < 2^64: exact, with room to scale */
				frac = frac * 10 + (unsigned)v;
				denom *= 10;
				digits++;
			} else if (v) {
				sticky = true;
			}
		}
	}
	if (!parse_unit(&s, &shift))
		return -EINVAL;
	if (whole > (UINT64_MAX >> shift))
		return -ERANGE;
	bytes = whole << shift;
	/* frac < denom <= 10^19 and shift <= 60: the product fits in 128 bits. */
	frac <<= shift;
	bytes += frac / denom + (frac % denom || sticky ? 1 : 0);
	if (bytes > UINT64_MAX)
		return -ERANGE;
	*ret_bytes = (uint64_t)bytes;
	return 0;
}

void cv_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	unsigned i = 0;
	u128 unit = 1024, tenths, whole;

	if (!buf || !len)
		return;
	if (bytes < 1024) {
		snprintf(buf, len, "%uB", (unsigned)bytes);
		return;
	}
	while (i + 1 < sizeof(units) - 1 && bytes >= unit * 1024) {
		unit *= 1024;
		i++;
	}
	for (;;) {
		tenths = ((u128)bytes * 10 + unit / 2) / unit;
		if (tenths < 100) {
			snprintf(buf, len, "%u.%u%ci", (unsigned)(tenths / 10), (unsigned)(tenths % 10),
				 units[i]);
			return;
		}
		whole = (bytes + unit / 2) / unit;
		/* 1023.6Ki rounds to 1024Ki: say 1.0Mi instead. */
		if (whole >= 1024 && i + 1 < sizeof(units) - 1) {
			unit *= 1024;
			i++;
			continue;
		}
		snprintf(buf, len, "%u%ci", (unsigned)whole, units[i]);
		return;
	}
}
