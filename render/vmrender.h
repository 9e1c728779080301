/* vmrender.h -- drawing the memory maps: PNG and SVG through cairo, and a
 * terminal rendering in Unicode half blocks and 256 colours.
 *
 * libvmrender is an internal static library shared by vmctl (maps from the
 * daemon) and vmreplay (maps from its own engine); it includes neither
 * side's headers: a map is handed over as struct vr_map, whose class values
 * are the protocol's (docs/protocol.md, "Maps").
 *
 * Picture geometry (vr_geometry): 512 cells a row, a cell px pixels square,
 * the physical map's top left at (left, top); the vmalloc strip below it,
 * the legend under that.  Rows grow down in pfn order.
 */
#ifndef VMRENDER_H
#define VMRENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VR_ROW_CELLS 512          /* a pageblock of order 9 a row */
#define VR_NR_ORDERS 11
#define VR_FC_VMALLOC 11
#define VR_FC_PGTABLE 12
#define VR_FC_ALLOC_PAGES 13
#define VR_FC_PAGE_ARRAY 14
#define VR_NR_FRAME_CLASSES 15
enum { VR_KC_FREE, VR_KC_VMALLOC, VR_KC_VMAP, VR_KC_GUARD, VR_KC_LAZY, VR_KC_POOL,
       VR_NR_KVA_CLASSES };

struct vr_zone {
	int node;
	const char *name;
	uint64_t start_pfn, end_pfn;
};

struct vr_area {
	uint64_t addr, size;
	const char *caller;           /* "" or NULL: unlabelled */
};

struct vr_map {
	const char *title;            /* first line of the picture, may be NULL */
	uint64_t start_pfn, end_pfn, frames_per_cell, nr_cells;
	const uint8_t *frame_class;   /* nr_cells */
	const struct vr_zone *zones;
	size_t nr_zones;
	uint64_t kva_start, kva_end, nr_bins;
	const uint8_t *kva_class;     /* nr_bins */
	const struct vr_area *areas;
	size_t nr_areas;
};

struct vr_rgb { uint8_t r, g, b; };

/* The colour and legend name of each class.  Can't fail. */
struct vr_rgb vr_frame_colour(unsigned cls);
struct vr_rgb vr_kva_colour(unsigned cls);
const char *vr_frame_name(unsigned cls);
const char *vr_kva_name(unsigned cls);

struct vr_geom {
	unsigned px;                  /* pixels a cell side */
	unsigned rows;
	double left, top;             /* the physical map's corner */
	double map_w, map_h;
	double kva_x, kva_y, kva_w, kva_h;   /* the vmalloc strip */
	double width, height;         /* the whole picture */
};
void vr_geometry(const struct vr_map *m, struct vr_geom *g);
/* The centre of the cell holding pfn / the bin holding addr: false if
 * outside the map. */
bool vr_pfn_xy(const struct vr_map *m, uint64_t pfn, double *x, double *y);
bool vr_kva_xy(const struct vr_map *m, uint64_t addr, double *x, double *y);

enum vr_format { VR_PNG, VR_SVG };
/* Draw m to path.  0, -EINVAL (an inconsistent map), -ENOMEM, or -EIO
 * (cairo could not write the file; errno is not kept by cairo). */
int vr_draw_file(const struct vr_map *m, enum vr_format fmt, const char *path);
/* The format a file name asks for: .png or .svg (case-insensitive). */
int vr_format_of(const char *path, enum vr_format *ret);

/* Release what cairo and fontconfig keep for the life of the process (font
 * caches), so that a leak checker sees nothing at exit; call it last,
 * after the last drawing.  Can't fail. */
void vr_done(void);

/* Draw m on a terminal of cols columns (at least 40) in upper-half blocks,
 * 256-colour escapes, zones marked on the left and a legend.  0 or -EIO. */
int vr_draw_term(const struct vr_map *m, FILE *out, unsigned cols);

#endif /* VMRENDER_H */
