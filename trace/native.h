/* native.h -- vmallocd's own trace format: any trace converted once (vmreplay
 * --save) replays without parsing text.
 *
 * Layout (docs/trace-formats.md has the full description), little-endian:
 *   header, 96 bytes: magic "VMTRACE\n", u32 version (1), u32 header size
 *     (96), u32 cpus, u32 source format (enum vt_format), char kernel[64]
 *     (NUL-padded), u64 reserved (0)
 *   records, each starting with a tag byte:
 *     0x01 event   u8 op, varint flags, varint field mask, then for each
 *                  field whose bit is set, zigzag varint of (value - the
 *                  same field's value in the previous event); a field
 *                  whose bit is clear keeps the previous event's value
 *     0x02 string  varint kind (0 caller, 1 comm), varint id (1..4096),
 *                  varint length (<= 255), bytes: defines or redefines id
 *     0x03 end     varint number of events; nothing may follow
 * A file without its end record is truncated, and an error.  Fields, in
 * mask bit order: line, ts_ns, cpu, pid, tgid, node, size, align, vstart,
 * vend, addr, new_addr, nr_lazy, nr_lazy_max, count, pfn, gfp, vm_flags,
 * order, migratetype, caller id, comm id (0: none).
 */
#ifndef VT_NATIVE_H
#define VT_NATIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "reader.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_NATIVE_MAGIC       "VMTRACE\n"
#define VT_NATIVE_VERSION     1
#define VT_NATIVE_HEADER_SIZE 96
#define VT_NATIVE_MAX_STRINGS 4096   /* ids per kind; the writer starts over when full */

struct vt_writer;

/* Create path (truncating it) for writing.  info is read when the header
 * is written, on the first vt_writer_write() or at vt_writer_close(), so a
 * reader's live info (vt_reader_info()) can be passed before the trace's
 * header was read.  -errno from open(2), message in ret_msg (VT_MSG_MAX). */
int vt_writer_open(const char *path, const struct vt_trace_info *info,
		   struct vt_writer **ret_writer, char *ret_msg);

/* Append one event.  0 or -errno of a failed write (the writer is then
 * unusable; vt_writer_close() reports the same error). */
int vt_writer_write(struct vt_writer *w, const struct vt_event *ev);

/* Write the end record (unless complete is false: a trace cut short by an
 * error or a signal is left without one, so readers refuse it as
 * truncated), flush, close and free.  0, or the first error of any write
 * (the file is then incomplete, and readers refuse it).  NULL is fine. */
int vt_writer_close(struct vt_writer *w, bool complete);

/* The message of the last error ("FILE: reason"). */
const char *vt_writer_error(const struct vt_writer *w);

/* For the reader: its state (string tables, previous event). */
struct vti_native_state;
void vti_native_state_free(struct vti_native_state *s);

#ifdef __cplusplus
}
#endif

#endif /* VT_NATIVE_H */
