/* tracetest.h -- scaffolding shared by the trace tests: a trace from a
 * string or a fixture, read whole into an array of events. */
#ifndef TRACETEST_H
#define TRACETEST_H

#include <stdbool.h>

#include "event.h"
#include "reader.h"

#define TT_MAX_EVENTS 256

/* A fixture of tests/fixtures, by its path below that directory. */
#define TT_FIXTURE(name) TRACE_FIXTURES "/" name

struct tt_trace {
	unsigned n;                             /* events read (at most TT_MAX_EVENTS kept) */
	uint64_t total;                         /* events read in all */
	struct vt_event ev[TT_MAX_EVENTS];
	char caller[TT_MAX_EVENTS][VT_STR_MAX + 1];
	char comm[TT_MAX_EVENTS][VT_STR_MAX + 1];
	struct vt_trace_info info;
	int rc;                                 /* 0 at the end, or the error */
	char err[VT_MSG_MAX];
};

/* Read the whole of path (a struct the size of the arrays: malloc'd, free
 * it with free()).  NULL only if memory runs out. */
struct tt_trace *tt_read_file(const char *path, enum vt_format fmt, bool skip_bad);
/* The same from text, as a file named name (for the messages). */
struct tt_trace *tt_read_text(const char *name, const char *text, enum vt_format fmt,
			      bool skip_bad);
/* Write text to a new file in a fresh temporary directory; the path is
 * malloc'd.  tt_cleanup() removes what was made. */
char *tt_temp_file(const char *name, const void *data, size_t len);
void tt_cleanup(void);

#endif /* TRACETEST_H */
