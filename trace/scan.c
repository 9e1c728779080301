/* scan.c -- numbers and key=value fields out of trace lines, by hand and
 * without locale or errno, because the ftrace parser runs once per event on
 * the replay's hot path (docs/benchmarks.md: >= 1,000,000 events/s).
 */
#include <stdint.h>

#include "format.h"

/* Hex digit values plus one, 0 for anything else (a table: the ftrace
 * lines carry two 16-digit hex numbers per event). */
static const uint8_t hex_digit1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
	['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static inline int hexval(char c)
{
	return (int)hex_digit1[(unsigned char)c] - 1;
}

static int scan_hex_digits(const char **p, const char *s, uint64_t *ret)
{
	uint64_t v = 0;
	const char *q = s;
	int d;

	while ((d = hexval(*q)) >= 0) {
		if (v >> 60)
			return -1;          /* a 17th significant digit */
		v = v << 4 | (uint64_t)d;
		q++;
	}
	if (q == s)
		return -1;
	*p = q;
	*ret = v;
	return 0;
}

int vti_hex(const char **p, uint64_t *ret)
{
	const char *s = *p;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	return scan_hex_digits(p, s, ret);
}

int vti_u64(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;
	int n;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return scan_hex_digits(p, s + 2, ret);
	/* 19 digits always fit; only a 20th needs the overflow check. */
	for (n = 0; n < 19 && s[n] >= '0' && s[n] <= '9'; n++)
		v = v * 10 + (uint64_t)(s[n] - '0');
	if (n == 0)
		return -1;
	if (s[n] >= '0' && s[n] <= '9') {
		uint64_t d = (uint64_t)(s[n] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		n++;
		if (s[n] >= '0' && s[n] <= '9')
			return -1;
	}
	*p = s + n;
	*ret = v;
	return 0;
}

int vti_s64(const char **p, int64_t *ret)
{
	const char *s = *p;
	bool neg = *s == '-';
	uint64_t v;

	if (neg)
		s++;
	if (vti_u64(&s, &v) < 0 || v > (uint64_t)INT64_MAX + neg)
		return -1;
	*p = s;
	*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* Match "key" then '=' or ':' at *p; returns the value's start or NULL. */
static const char *match_key(const char *p, const char *key)
{
	p = vti_skip_spaces(p);
	while (*key && *p == *key) {
		p++;
		key++;
	}
	if (*key || (*p != '=' && *p != ':'))
		return NULL;
	return vti_skip_spaces(p + 1);
}

static inline bool at_token_end(const char *p)
{
	return *p == ' ' || *p == '\t' || *p == '\0';
}

int vti_field(const char **p, const char *key, uint64_t *ret)
{
	const char *v = match_key(*p, key);

	if (!v)
		return VTI_NOKEY;
	if (vti_u64(&v, ret) < 0 || !at_token_end(v))
		return VTI_BADVAL;
	*p = v;
	return 0;
}

int vti_field_s(const char **p, const char *key, int64_t *ret)
{
	const char *v = match_key(*p, key);

	if (!v)
		return VTI_NOKEY;
	if (vti_s64(&v, ret) < 0 || !at_token_end(v))
		return VTI_BADVAL;
	*p = v;
	return 0;
}

int vti_toklen(const char *p)
{
	int n = 0;

	while (!at_token_end(p + n) && n < 40)
		n++;
	return n;
}
