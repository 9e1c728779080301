/* reader.c -- the streaming trace reader: one input buffer, lines cut out of
 * it in place, format detection, and the "FILE:LINE: reason" errors.
 *
 * Invariants: 0 <= start <= end <= VT_READ_CHUNK; bytes [start, end) of buf
 * are input not yet consumed; offset counts the bytes consumed before start.
 * A line is handed to its parser as a NUL-terminated string inside buf
 * (the '\n' replaced), so no line is ever copied.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"
#include "native.h"

static const char *const format_names[VT_NR_FORMATS] = {
	[VT_FMT_AUTO] = "auto",
	[VT_FMT_FTRACE] = "ftrace",
	[VT_FMT_BPFTRACE] = "bpftrace",
	[VT_FMT_MALLOCLAB] = "malloclab",
	[VT_FMT_MTRACE] = "mtrace",
	[VT_FMT_NATIVE] = "native",
};

const char *vt_format_name(enum vt_format f)
{
	return (unsigned)f < VT_NR_FORMATS ? format_names[f] : NULL;
}

int vt_format_from_name(const char *name, enum vt_format *ret_format)
{
	for (unsigned f = 0; f < VT_NR_FORMATS; f++) {
		if (name && !strcmp(name, format_names[f])) {
			*ret_format = (enum vt_format)f;
			return 0;
		}
	}
	return -EINVAL;
}

static const struct vti_format *format_ops(enum vt_format f)
{
	switch (f) {
	case VT_FMT_FTRACE: return &vti_ftrace_format;
	case VT_FMT_BPFTRACE: return &vti_bpftrace_format;
	case VT_FMT_MALLOCLAB: return &vti_malloclab_format;
	case VT_FMT_MTRACE: return &vti_mtrace_format;
	case VT_FMT_NATIVE: return &vti_native_format;
	default: return NULL;
	}
}

int vt_reader_open_fd(int fd, const char *name, const struct vt_reader_opts *opts,
		      struct vt_reader **ret_reader)
{
	struct vt_reader *r;
	struct stat st;

	if (fd < 0 || !name || !ret_reader)
		return -EINVAL;
	if (opts && (unsigned)opts->format >= VT_NR_FORMATS)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->buf = malloc(VT_READ_CHUNK + 1);
	if (!r->buf) {
		free(r);
		return -ENOMEM;
	}
	r->fd = fd;
	r->own_fd = fd != 0;
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (opts)
		r->opts = *opts;
	r->info.format = r->opts.format;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		r->size = (uint64_t)st.st_size;
	*ret_reader = r;
	return 0;
}

int vt_reader_open(const char *path, const struct vt_reader_opts *opts,
		   struct vt_reader **ret_reader, char *ret_msg)
{
	int fd, r;

	if (!path || !ret_reader)
		return -EINVAL;
	if (!strcmp(path, "-"))
		return vt_reader_open_fd(0, "<stdin>", opts, ret_reader);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (ret_msg)
			snprintf(ret_msg, VT_MSG_MAX, "%s: %s", path, strerror(-r));
		return r;
	}
	r = vt_reader_open_fd(fd, path, opts, ret_reader);
	if (r < 0) {
		close(fd);
		if (ret_msg)
			snprintf(ret_msg, VT_MSG_MAX, "%s: %s", path, strerror(-r));
	}
	return r;
}

void vt_reader_close(struct vt_reader *r)
{
	if (!r)
		return;
	if (r->own_fd)
		close(r->fd);
	vti_native_state_free(r->native);
	free(r->buf);
	free(r);
}

const char *vt_reader_error(const struct vt_reader *r)
{
	return r->msg;
}

const struct vt_trace_info *vt_reader_info(const struct vt_reader *r)
{
	return &r->info;
}

uint64_t vt_reader_offset(const struct vt_reader *r)
{
	return r->offset;
}

uint64_t vt_reader_size(const struct vt_reader *r)
{
	return r->size;
}

int vti_bad(struct vt_reader *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(r->msg, sizeof(r->msg), "%s:%llu: ", r->name, (unsigned long long)r->line);
	if (n < 0 || (size_t)n >= sizeof(r->msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(r->msg + n, sizeof(r->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

char *vti_strcpy(char *dst, const char *s, size_t len)
{
	if (len > VT_STR_MAX)
		len = VT_STR_MAX;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return dst;
}

/* A malformed line was skipped (skip_bad): count it, keep the first
 * message, and leave no error behind. */
static void skipped(struct vt_reader *r)
{
	r->info.bad_lines++;
	if (r->info.bad_lines == 1)
		snprintf(r->info.bad_first, sizeof(r->info.bad_first), "%s", r->msg);
	r->msg[0] = '\0';
}

/* Read once more into the free tail of buf, moving the unconsumed bytes to
 * the front first if the tail is short.  1 if bytes came, 0 at end of input,
 * -errno (-EINTR included) on error. */
static int read_more(struct vt_reader *r)
{
	ssize_t n;

	if (r->eof)
		return 0;
	if (r->start > 0 && VT_READ_CHUNK - r->end < VT_READ_CHUNK / 2) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	n = read(r->fd, r->buf + r->end, VT_READ_CHUNK - r->end);
	if (n < 0) {
		int err = -errno;

		if (err != -EINTR)
			snprintf(r->msg, sizeof(r->msg), "%s: %s", r->name, strerror(-err));
		return err;
	}
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	r->end += (size_t)n;
	return 1;
}

long vti_fill(struct vt_reader *r, size_t need)
{
	while (r->end - r->start < need) {
		int k = read_more(r);

		if (k < 0)
			return k;
		if (k == 0)
			break;
	}
	return (long)(r->end - r->start);
}

/* The next line, NUL-terminated in place: 1, or 0 at the end of input, or a
 * negative errno.  An overlong line is an error (or, with skip_bad, skipped
 * and counted). */
static int next_line(struct vt_reader *r, char **ret_line, size_t *ret_len)
{
	for (;;) {
		char *s = r->buf + r->start;
		size_t avail = r->end - r->start;
		char *nl = avail ? memchr(s, '\n', avail) : NULL;
		int k;

		if (r->discarding) {
			r->offset += nl ? (size_t)(nl - s) + 1 : avail;
			r->start = nl ? (size_t)(nl + 1 - r->buf) : r->end;
			if (nl)
				r->discarding = false;
			else if ((k = read_more(r)) <= 0)
				return k;
			continue;
		}
		if (nl || (r->eof && avail)) {
			size_t len = nl ? (size_t)(nl - s) : avail;

			if (len > VT_LINE_MAX)
				goto overlong;
			s[len] = '\0';     /* buf has one spare byte for the last line */
			if (len && s[len - 1] == '\r')
				s[--len] = '\0';
			r->start += (nl ? (size_t)(nl - s) + 1 : avail);
			r->offset += (nl ? (size_t)(nl - s) + 1 : avail);
			r->line++;
			r->info.lines = r->line;
			*ret_line = s;
			*ret_len = len;
			return 1;
		}
		if (avail > VT_LINE_MAX)
			goto overlong;
		k = read_more(r);
		if (k < 0)
			return k;
		if (k == 0 && !avail)
			return 0;
		continue;
overlong:
		r->line++;
		r->info.lines = r->line;
		k = vti_bad(r, "line longer than %u bytes", VT_LINE_MAX);
		if (!r->opts.skip_bad)
			return k;
		skipped(r);
		r->discarding = true;
	}
}

/* ---- detection ---------------------------------------------------------- */

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* A guess from one line; VT_FMT_AUTO if the line says nothing. */
static enum vt_format guess_line(const char *s)
{
	const char *p = vti_skip_spaces(s);

	if (!*p)
		return VT_FMT_AUTO;
	if (starts(p, "# vmallocd-bpftrace"))
		return VT_FMT_BPFTRACE;
	if (starts(p, "# tracer:") || starts(p, "cpus=") || starts(p, "version ="))
		return VT_FMT_FTRACE;
	if (starts(p, "= Start") || starts(p, "= End") || starts(p, "@ "))
		return VT_FMT_MTRACE;
	if ((p[0] == '+' || p[0] == '-' || p[0] == '<' || p[0] == '>' || p[0] == '!') &&
	    p[1] == ' ' && (p[2] == '0' || p[2] == '('))
		return VT_FMT_MTRACE;
	if (*p == '#')
		return VT_FMT_AUTO;
	/* "comm-pid [cpu] ... ts: event:": an ftrace line (trace_pipe has no
	 * header). */
	if (strstr(p, "] ") && strchr(p, '-') && strstr(p, ": "))
		return VT_FMT_FTRACE;
	if (*p >= '0' && *p <= '9')
		return VT_FMT_MALLOCLAB;
	return VT_FMT_AUTO;
}

/* Decide the format from the start of the input without consuming it. */
static int detect(struct vt_reader *r)
{
	long avail = vti_fill(r, 4096);
	const char *s, *end;

	if (avail < 0)
		return (int)avail;
	s = r->buf + r->start;
	end = s + avail;
	if ((size_t)avail >= sizeof(VT_NATIVE_MAGIC) - 1 &&
	    !memcmp(s, VT_NATIVE_MAGIC, sizeof(VT_NATIVE_MAGIC) - 1)) {
		r->info.format = VT_FMT_NATIVE;
		return 0;
	}
	/* Line by line through what was read, up to 64 lines. */
	for (int n = 0; s < end && n < 64; n++) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		char line[512];
		enum vt_format f;

		vti_strcpy(line, s, len < sizeof(line) - 1 ? len : sizeof(line) - 1);
		f = guess_line(line);
		if (f != VT_FMT_AUTO) {
			r->info.format = f;
			return 0;
		}
		if (!nl)
			break;
		s = nl + 1;
	}
	if (avail == 0) {
		/* An empty input is an empty trace of any format. */
		r->info.format = VT_FMT_FTRACE;
		return 0;
	}
	r->line = 1;
	return vti_bad(r, "cannot tell the trace's format (use --format)");
}

int vt_reader_next(struct vt_reader *r, struct vt_event *ret_ev)
{
	int k;

	if (!r->fmt) {
		if (r->info.format == VT_FMT_AUTO) {
			k = detect(r);
			if (k < 0)
				return k;
		}
		r->fmt = format_ops(r->info.format);
		if (!r->fmt)
			return -EINVAL;
		if (r->info.format != VT_FMT_NATIVE)
			r->info.source = r->info.format;
	}
	r->msg[0] = '\0';
	if (r->fmt->next) {
		k = r->fmt->next(r, ret_ev);
		if (k == 1)
			r->info.events++;
		return k;
	}
	for (;;) {
		char *line = NULL;
		size_t len = 0;

		k = next_line(r, &line, &len);
		if (k < 0)
			return k;
		if (k == 0)
			return r->fmt->end ? r->fmt->end(r) : 0;
		k = r->fmt->line(r, line, len, ret_ev);
		if (k == 1) {
			ret_ev->line = r->line;
			r->info.events++;
			return 1;
		}
		if (k == -EBADMSG && r->opts.skip_bad) {
			skipped(r);
			continue;
		}
		if (k < 0)
			return k;
	}
}
