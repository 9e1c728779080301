/* plot.h -- vmreplay --plot: what each replay did over the trace, sampled
 * as it runs and drawn as a PNG by gnuplot.
 *
 * Samples are kept in memory, at most VR_PLOT_ROWS machine rows and
 * VR_PLOT_POINTS allocation points per replay: when either is full, every
 * other sample is dropped and the interval between samples doubles, so a
 * trace of any length gives a plot of the same size, evenly sampled.
 */
#ifndef VMREPLAY_PLOT_H
#define VMREPLAY_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VR_PLOT_ROWS   2048
#define VR_PLOT_POINTS 16384

struct vr_plot_row {
	uint64_t event;             /* events replayed */
	uint64_t vmalloc_kb;        /* mapped by vmalloc areas */
	uint64_t lazy_pages, pooled_pages;
	uint64_t purges;            /* the replay's so far */
	uint64_t agree, pairs;      /* placement so far */
};

struct vr_plot_point {
	uint64_t event;             /* the allocation's index in the trace */
	uint64_t trace_off;         /* the trace's address, from the vmalloc range's start */
	uint64_t off;               /* the replay's */
};

/* One replay's samples. */
struct vr_plot_series {
	const char *label;          /* the kernel */
	struct vr_plot_row *rows;
	size_t nr_rows;
	uint64_t row_every;         /* events between rows (a power of two) */
	struct vr_plot_point *points;
	size_t nr_points;
	uint64_t point_every, points_seen;
};

/* An empty series labelled label.  -ENOMEM. */
int vr_plot_series_init(struct vr_plot_series *s, const char *label);
void vr_plot_series_done(struct vr_plot_series *s);
/* True when a row is due after event `event`. */
bool vr_plot_row_due(const struct vr_plot_series *s, uint64_t event);
/* Add a row (due or the last one).  Can't fail. */
void vr_plot_add_row(struct vr_plot_series *s, const struct vr_plot_row *r);
/* Offer an allocation's addresses; kept one in point_every.  Can't fail. */
void vr_plot_add_point(struct vr_plot_series *s, const struct vr_plot_point *p);

/* Draw png: four panels (where each allocation went, against the trace;
 * placement agreement so far; lazily freed and pooled KVA; vmalloc use),
 * one colour per series, titled title.  The samples go to temporary CSV
 * files for gnuplot, removed afterwards.  0, or -ENOENT when gnuplot
 * cannot be run, -EIO when it failed (what it said goes to stderr), or an
 * errno of writing the files. */
int vr_plot(const char *png, const char *title, const struct vr_plot_series *s, unsigned n);

#endif /* VMREPLAY_PLOT_H */
