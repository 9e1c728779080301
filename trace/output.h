/* output.h -- what a replay writes as it goes: the event log (--events, one
 * JSON object per replayed event) and the time series (--series, CSV).
 * Both are shared by the tools that replay, so their files have one form.
 */
#ifndef VT_OUTPUT_H
#define VT_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "replay.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One line of JSON for a completed call (a vt_result_fn's arguments):
 *   {"i": 12, "line": 40, "op": "alloc", "size": 16384, "align": 16384,
 *    "trace_addr": "0xffffc90000134000", "addr": "0xffffc90000010000",
 *    "status": 0}
 * size and align as the trace gave them (a free: the bytes of the pages
 * the freed area held, align 0); "id" instead of "trace_addr" for the
 * malloc lab's block ids;
 * "trace_new_addr" for a realloc's traced result; "order", "trace_pfn" and
 * "pfn" for page blocks; "error" (e.g. "ENOMEM") when status is not 0.
 * 0, -EIO, -ENOMEM. */
int vt_eventlog_write(FILE *out, const struct vt_call *call, int status, uint64_t result);

/* The CSV header line, and one row for the state after event i:
 *   event,free_o0,...,free_o10,vmalloc_kb,lazy_pages,kva_extent_kb,pooled_pages,purges
 * free_oN is the number of free blocks of order N over all zones (the
 * columns of buddyinfo added up); pooled_pages the KVA in 6.18's vmap-node
 * pools; purges the machine's so far.  m must have its zones.  0 or -EIO. */
int vt_series_header(FILE *out);
int vt_series_row(FILE *out, uint64_t i, const struct vt_machine_state *m);

#ifdef __cplusplus
}
#endif

#endif /* VT_OUTPUT_H */
