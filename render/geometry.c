/* geometry.c -- where each part of a map picture goes, one function for the
 * drawing and for whoever reads a pixel back (the tests).
 *
 *   rows = ceil(cells / 512);  px = 4 up to 64 rows, 2 up to 256, else 1
 *   cell i at (left + (i % 512) * px, top + (i / 512) * px), px square
 *   bin j of the strip at kva_x + kva_w * j / bins, kva_w / bins wide
 */
#include "vmrender.h"

#define LEFT_MARGIN   150.0  /* zone labels and the pfn scale */
#define TOP_MARGIN    44.0   /* the title and the top scale */
#define STRIP_GAP     52.0   /* between the physical map and the strip */
#define STRIP_H       28.0
#define LABEL_ROOM    40.0   /* area labels and the address axis */
#define LEGEND_H      150.0

void vr_geometry(const struct vr_map *m, struct vr_geom *g)
{
	uint64_t rows = (m->nr_cells + VR_ROW_CELLS - 1) / VR_ROW_CELLS;

	g->rows = (unsigned)rows;
	g->px = rows <= 64 ? 4 : rows <= 256 ? 2 : 1;
	g->left = LEFT_MARGIN;
	g->top = TOP_MARGIN;
	g->map_w = (double)VR_ROW_CELLS * g->px;
	g->map_h = (double)rows * g->px;
	g->kva_x = g->left;
	g->kva_y = g->top + g->map_h + STRIP_GAP;
	g->kva_w = g->map_w;
	g->kva_h = STRIP_H;
	g->width = g->left + g->map_w + 40.0;
	if (g->width < 900.0)
		g->width = 900.0;
	g->height = g->kva_y + g->kva_h + LABEL_ROOM + LEGEND_H;
}

bool vr_pfn_xy(const struct vr_map *m, uint64_t pfn, double *x, double *y)
{
	struct vr_geom g;
	uint64_t cell;

	if (pfn < m->start_pfn || pfn >= m->end_pfn || !m->frames_per_cell)
		return false;
	vr_geometry(m, &g);
	cell = (pfn - m->start_pfn) / m->frames_per_cell;
	*x = g.left + (double)(cell % VR_ROW_CELLS) * g.px + g.px / 2.0;
	*y = g.top + (double)(cell / VR_ROW_CELLS) * g.px + g.px / 2.0;
	return true;
}

bool vr_kva_xy(const struct vr_map *m, uint64_t addr, double *x, double *y)
{
	struct vr_geom g;
	uint64_t width, bin;

	if (addr < m->kva_start || addr >= m->kva_end || !m->nr_bins)
		return false;
	vr_geometry(m, &g);
	width = (m->kva_end - m->kva_start) / m->nr_bins;
	bin = (addr - m->kva_start) / width;
	if (bin >= m->nr_bins)
		bin = m->nr_bins - 1;
	*x = g.kva_x + g.kva_w * ((double)bin + 0.5) / (double)m->nr_bins;
	*y = g.kva_y + g.kva_h / 2.0;
	return true;
}
