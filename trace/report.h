/* report.h -- the replay's report, as text and as JSON.
 *
 * One function per form, both from the same inputs, so vmreplay and the
 * service's replay print the same report for the same replay.  The text
 * form is for people (docs/trace-formats.md shows one); the JSON form has
 * every figure of the text, with sizes in bytes or pages as its keys say,
 * addresses as "0x..." strings.
 */
#ifndef VT_REPORT_H
#define VT_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "prestate.h"
#include "reader.h"
#include "replay.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The machine the replay ran on, as the tool chose it. */
struct vt_report_machine {
	const char *kernel;         /* the simulated kernel, NULL if the tool has no choice */
	unsigned cpus;
	const char *cpus_from;      /* "the trace's #P:2", "--cpus", "default" */
	uint64_t memory_bytes;
	const char *layout;
	unsigned nodes;
	uint64_t lazy_max_pages;
	const char *lazy_max_from;  /* "--lazy-max", "fls(2) x 32 MiB" */
};

struct vt_report {
	const char *input;                      /* file name, "-" for stdin */
	const struct vt_trace_info *info;
	const struct vt_replay_stats *stats;
	const struct vt_machine_state *final;   /* with zones */
	struct vt_report_machine machine;
	double elapsed_s;                       /* reading and replaying, the start state's
						 * reading included */
	double start_s;                         /* of it, reading the trace for the start state */
	bool interrupted;                       /* stopped by a signal */
	const char *stopped;                    /* the error that stopped it, or NULL */
	const struct vt_prestate_stats *start;  /* the start state built, or NULL */
	const char *start_off;                  /* NULL, or why there is none */
};

/* Print the report.  0, or -EIO if out reports an error, -ENOMEM. */
int vt_report_text(FILE *out, const struct vt_report *rep);
int vt_report_json(FILE *out, const struct vt_report *rep);

/* Several replays of one trace (one per kernel), side by side: a table of
 * the figures, one column per replay (headed by its machine's kernel), then
 * each one's zones.  The JSON form is {"compare": [report, ...]}, each
 * report as vt_report_json prints it.  0, -EIO, -ENOMEM. */
int vt_report_compare_text(FILE *out, const struct vt_report *reps, unsigned n);
int vt_report_compare_json(FILE *out, const struct vt_report *reps, unsigned n);

/* "ENOMEM" for -ENOMEM (the error's name), "EUNKNOWN" if it has none. */
const char *vt_errno_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* VT_REPORT_H */
