/* format.h -- what the reader shares with its parsers (trace/ only).
 *
 * The reader owns the input: it cuts lines out of its one buffer and hands
 * each to the format's line() as a NUL-terminated string it may modify; a
 * binary format (native) takes bytes with vti_fill() instead.  A parser keeps
 * its state in struct vt_reader (the union below), bounded whatever the
 * trace's length, and reports a malformed line with vti_bad(), which builds
 * "FILE:LINE: reason".
 */
#ifndef VT_FORMAT_H
#define VT_FORMAT_H

#include <stdarg.h>
#include <stdint.h>

#include "event.h"
#include "reader.h"

struct vti_native_state;

struct vti_format {
	enum vt_format id;
	/* One line: 1 with an event in *ev, 0 for a line without one (header,
	 * comment, other event: counted by the parser), -EBADMSG via vti_bad(). */
	int (*line)(struct vt_reader *r, char *line, size_t len, struct vt_event *ev);
	/* At the end of input: 0, or -EBADMSG for a trace cut short. May be NULL. */
	int (*end)(struct vt_reader *r);
	/* A format that is not line-oriented reads for itself (native). */
	int (*next)(struct vt_reader *r, struct vt_event *ev);
};

extern const struct vti_format vti_ftrace_format;
extern const struct vti_format vti_bpftrace_format;
extern const struct vti_format vti_malloclab_format;
extern const struct vti_format vti_mtrace_format;
extern const struct vti_format vti_native_format;

/* Per-format state. */
struct vti_malloclab {
	unsigned header_seen;       /* header integers read so far, 0..4 */
	uint64_t header[4];         /* heap size hint, ids, operations, weight */
	uint64_t ops;               /* operations read */
};

struct vti_mtrace {
	bool pending;               /* a "<" line waits for its ">" */
	uint64_t old_addr;
	uint64_t pending_line;
};

struct vti_bpftrace {
	bool header_seen;
};

struct vt_reader {
	int fd;
	bool own_fd;
	char name[256];
	struct vt_reader_opts opts;
	struct vt_trace_info info;
	const struct vti_format *fmt;

	/* Input: bytes [start, end) of buf are read and not yet consumed. */
	char *buf;
	size_t start, end;
	bool eof;
	bool discarding;            /* skipping the rest of an overlong line */
	uint64_t offset;            /* bytes consumed */
	uint64_t size;              /* of the input, 0 if not a regular file */
	uint64_t line;              /* number of the line being parsed */

	char msg[VT_MSG_MAX];
	char caller[VT_STR_MAX + 1];
	char comm[VT_STR_MAX + 1];

	union {
		struct vti_malloclab ml;
		struct vti_mtrace mt;
		struct vti_bpftrace bt;
	};
	struct vti_native_state *native;
};

/* Record "NAME:LINE: reason" as the error and return -EBADMSG. */
int vti_bad(struct vt_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Make at least need bytes available at buf + start (need <= VT_READ_CHUNK
 * / 2); returns the bytes available (fewer only at the end of input) or a
 * negative errno. */
long vti_fill(struct vt_reader *r, size_t need);

/* Copy at most VT_STR_MAX bytes of [s, s + len) into dst (VT_STR_MAX + 1
 * bytes), NUL-terminated; returns dst. */
char *vti_strcpy(char *dst, const char *s, size_t len);

/* ---- scanning (scan.c) ------------------------------------------------- */

static inline const char *vti_skip_spaces(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A number at *p: "0x" hex or decimal; *p advanced past it.  0, or -1 if
 * there are no digits or the value does not fit (then *p is left alone). */
int vti_u64(const char **p, uint64_t *ret);
/* The same with an optional leading '-'. */
int vti_s64(const char **p, int64_t *ret);
/* Only hexadecimal, "0x" optional. */
int vti_hex(const char **p, uint64_t *ret);

/* "key=value" or "key: value" at *p (spaces skipped first): the number in
 * *ret and *p past it.  VTI_NOKEY if the key is not there, VTI_BADVAL if the
 * value is not a number followed by a space or the end. */
#define VTI_NOKEY  (-1)
#define VTI_BADVAL (-2)
int vti_field(const char **p, const char *key, uint64_t *ret);
/* The same for a signed value. */
int vti_field_s(const char **p, const char *key, int64_t *ret);

/* The token at p (up to a space or the end), for messages: its length,
 * capped at 40. */
int vti_toklen(const char *p);

/* ---- kernel gfp flags (gfp_names.c) ------------------------------------- */

/* A gfp_flags=%s string of the kernel ("GFP_KERNEL|__GFP_ZERO", "none",
 * leftover bits as "0x..") to vmallocd's gfp flags.  Names vmallocd does not
 * model are dropped.  -1 if a part is neither a known name nor a number. */
int vti_gfp_from_names(const char *s, size_t len, uint32_t *ret_gfp);
/* A kernel gfp_t value of Linux 6.x (the bits of include/linux/gfp_types.h)
 * to vmallocd's gfp flags. Can't fail. */
uint32_t vti_gfp_from_kernel_bits(uint64_t kgfp);

#endif /* VT_FORMAT_H */
