/* reader.h -- a trace file (or stdin) as a stream of events.
 *
 * A reader streams: it holds one input buffer (VT_READ_CHUNK bytes) and a
 * few small tables, never the trace, so a trace of any length is read in
 * the same memory.  Lines are at most VT_LINE_MAX bytes.
 *
 * Formats (vt_format_name() gives the names the tools accept):
 *   ftrace     `trace`, `trace_pipe` and `trace-cmd report` text: the
 *              vmalloc events, kmem:mm_page_alloc and mm_page_free(_batched);
 *              lines of other events are counted and skipped
 *   bpftrace   the capture of tools/vmalloc-bpftrace (docs/trace-formats.md)
 *   malloclab  CS:APP malloc lab traces
 *   mtrace     glibc mtrace(3) logs
 *   native     vmallocd's own binary format (native.h), the fastest to read
 * VT_FMT_AUTO looks at the first bytes and lines to decide.
 *
 * Errors: a malformed line stops the stream with -EBADMSG and the message
 * "FILE:LINE: reason" (vt_reader_error()); with skip_bad set, the line is
 * counted in vt_trace_info.bad_lines, its message kept in bad_first (the
 * first one), and reading goes on.  I/O errors are returned as -errno with
 * "FILE: strerror" as the message.
 */
#ifndef VT_READER_H
#define VT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_READ_CHUNK (1u << 20)   /* bytes read at a time */
#define VT_LINE_MAX   (64u << 10)  /* longest line accepted */
#define VT_MSG_MAX    512          /* longest error message kept */

enum vt_format {
	VT_FMT_AUTO = 0,
	VT_FMT_FTRACE,
	VT_FMT_BPFTRACE,
	VT_FMT_MALLOCLAB,
	VT_FMT_MTRACE,
	VT_FMT_NATIVE,
	VT_NR_FORMATS
};

/* What the trace says about itself, and what the reader skipped. */
struct vt_trace_info {
	enum vt_format format;      /* the one detected or asked for */
	enum vt_format source;      /* the events' first format (native: converted from) */
	unsigned cpus;              /* from "#P:N", "cpus=N" or a header; 0: unknown */
	char kernel[64];            /* the traced kernel's release, if the trace says */
	uint64_t lines;             /* lines (native: records) read so far */
	uint64_t events;            /* events returned so far */
	uint64_t other_events;      /* lines of events the replay does not use */
	uint64_t lost_events;       /* "[LOST N EVENTS]": the tracer dropped them */
	uint64_t bad_lines;         /* malformed lines skipped (skip_bad) */
	char bad_first[VT_MSG_MAX]; /* the first of them, "FILE:LINE: reason" */
};

struct vt_reader_opts {
	enum vt_format format;      /* VT_FMT_AUTO: detect */
	bool skip_bad;              /* count and skip malformed lines */
};

struct vt_reader;

/* Open path ("-": standard input).  -ENOENT etc. from open(2) with the
 * message in *ret_msg if ret_msg is not NULL (VT_MSG_MAX bytes); -ENOMEM.
 * The format is detected on the first vt_reader_next(). */
int vt_reader_open(const char *path, const struct vt_reader_opts *opts,
		   struct vt_reader **ret_reader, char *ret_msg);
/* The same over an open descriptor, read from where it stands; name is
 * used in messages.  The reader closes fd unless it is 0 (stdin). */
int vt_reader_open_fd(int fd, const char *name, const struct vt_reader_opts *opts,
		      struct vt_reader **ret_reader);

/* The next event into *ret_ev: 1 for an event, 0 at the end of the trace,
 * -EBADMSG for a malformed line (see above), -EINTR if a signal interrupted
 * a read (call again to go on), other -errno for I/O errors.  String fields
 * of the event stay valid until the next call. */
int vt_reader_next(struct vt_reader *r, struct vt_event *ret_ev);

/* The message of the last error ("" if none). */
const char *vt_reader_error(const struct vt_reader *r);
const struct vt_trace_info *vt_reader_info(const struct vt_reader *r);
/* Bytes consumed, and the input's size (0 if not a regular file), for
 * progress estimates. */
uint64_t vt_reader_offset(const struct vt_reader *r);
uint64_t vt_reader_size(const struct vt_reader *r);

/* Close and free.  NULL is fine. */
void vt_reader_close(struct vt_reader *r);

/* "ftrace", "bpftrace", "malloclab", "mtrace", "native" ("auto" for
 * VT_FMT_AUTO); NULL for anything else. */
const char *vt_format_name(enum vt_format f);
/* The reverse; -EINVAL for an unknown name. */
int vt_format_from_name(const char *name, enum vt_format *ret_format);

#ifdef __cplusplus
}
#endif

#endif /* VT_READER_H */
