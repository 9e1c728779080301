/* strbuf.c -- a growable string for the /proc-style text outputs.
 *
 * Errors are sticky: after the first failed growth every append is a no-op
 * and vmi_strbuf_end() reports -ENOMEM, so formatting code needs no error checks
 * per line.  Invariant: buf[len] == '\0' whenever buf != NULL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"

void vmi_strbuf_begin(struct strbuf *sb)
{
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	sb->err = 0;
}

static int strbuf_reserve(struct strbuf *sb, size_t more)
{
	size_t cap;
	char *p;

	if (sb->len + more + 1 <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + more + 1)
		cap *= 2;
	p = realloc(sb->buf, cap);
	if (!p) {
		sb->err = -ENOMEM;
		return -ENOMEM;
	}
	sb->buf = p;
	sb->cap = cap;
	return 0;
}

void vmi_strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || strbuf_reserve(sb, (size_t)n) < 0) {
		sb->err = -ENOMEM;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

int vmi_strbuf_end(struct strbuf *sb, char **buf, size_t *len)
{
	size_t old = *buf ? *len : 0;
	char *p;

	if (sb->err) {
		free(sb->buf);
		return sb->err;
	}
	p = realloc(*buf, old + sb->len + 1);
	if (!p) {
		free(sb->buf);
		return -ENOMEM;
	}
	if (sb->len)
		memcpy(p + old, sb->buf, sb->len);
	p[old + sb->len] = '\0';
	*buf = p;
	*len = old + sb->len;
	free(sb->buf);
	return 0;
}
