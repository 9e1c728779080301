/* cairo_map.c -- a map as a PNG or SVG picture (cairo): the physical map
 * one cell a frame (or a run of frames, downsampled), zones and nodes
 * marked and labelled on the left with a pfn and byte scale, the vmalloc
 * range as a strip with its wide areas labelled by caller, and a legend.
 *
 * The cells are written into an image at their final size and painted 1:1,
 * so no filter blurs a cell into its neighbour, in PNG or in the SVG's
 * embedded image; a million cells cost 4 MiB of pixels at most.
 */
#include <cairo.h>
#include <cairo-svg.h>
#include <fontconfig/fontconfig.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "size.h"
#include "vmrender.h"

static void set_rgb(cairo_t *cr, struct vr_rgb c)
{
	cairo_set_source_rgb(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0);
}

static void text_at(cairo_t *cr, double x, double y, double size, const char *s)
{
	cairo_set_font_size(cr, size);
	cairo_move_to(cr, x, y);
	cairo_show_text(cr, s);
}

static double text_width(cairo_t *cr, double size, const char *s)
{
	cairo_text_extents_t te;

	cairo_set_font_size(cr, size);
	cairo_text_extents(cr, s, &te);
	return te.x_advance;
}

/* The physical map's cells as an image px pixels a cell. */
static cairo_surface_t *cells_image(const struct vr_map *m, const struct vr_geom *g)
{
	int w = (int)g->map_w, h = (int)g->map_h;
	cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h ? h : 1);
	uint32_t colour[256];
	unsigned char *data;
	int stride;

	if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS)
		return img;
	for (unsigned c = 0; c < 256; c++) {
		struct vr_rgb rgb = vr_frame_colour(c);

		colour[c] = (uint32_t)rgb.r << 16 | (uint32_t)rgb.g << 8 | rgb.b;
	}
	cairo_surface_flush(img);
	data = cairo_image_surface_get_data(img);
	stride = cairo_image_surface_get_stride(img);
	/* Past the last cell the row is background. */
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			((uint32_t *)(data + (size_t)y * stride))[x] = 0xffffff;
	for (uint64_t i = 0; i < m->nr_cells; i++) {
		uint32_t c = colour[m->frame_class[i]];
		size_t x0 = (size_t)(i % VR_ROW_CELLS) * g->px, y0 = (size_t)(i / VR_ROW_CELLS) * g->px;

		for (unsigned dy = 0; dy < g->px; dy++) {
			uint32_t *row = (uint32_t *)(data + (y0 + dy) * (size_t)stride);

			for (unsigned dx = 0; dx < g->px; dx++)
				row[x0 + dx] = c;
		}
	}
	cairo_surface_mark_dirty(img);
	return img;
}

static double row_y(const struct vr_map *m, const struct vr_geom *g, uint64_t pfn)
{
	uint64_t cell = (pfn - m->start_pfn) / m->frames_per_cell;

	return g->top + (double)(cell / VR_ROW_CELLS) * g->px;
}

static void draw_zones(cairo_t *cr, const struct vr_map *m, const struct vr_geom *g)
{
	int last_node = -1;
	double last_label = -1e9;

	for (size_t i = 0; i < m->nr_zones; i++) {
		const struct vr_zone *z = &m->zones[i];
		uint64_t s = z->start_pfn < m->start_pfn ? m->start_pfn : z->start_pfn;
		double y;
		char label[64];

		if (z->end_pfn <= m->start_pfn || z->start_pfn >= m->end_pfn)
			continue;
		y = row_y(m, g, s);
		cairo_set_source_rgb(cr, 0, 0, 0);
		cairo_set_line_width(cr, z->node != last_node ? 2.0 : 1.0);
		cairo_move_to(cr, g->left - 70, y);
		cairo_line_to(cr, g->left + g->map_w + 6, y);
		cairo_stroke(cr);
		if (y - last_label >= 11) {
			snprintf(label, sizeof(label), "node %d %s", z->node, z->name ? z->name : "?");
			text_at(cr, 4, y + 10, 10, label);
			last_label = y;
		}
		last_node = z->node;
	}
	/* The map's bottom edge. */
	cairo_set_line_width(cr, 1.0);
	cairo_rectangle(cr, g->left - 0.5, g->top - 0.5, g->map_w + 1, g->map_h + 1);
	cairo_stroke(cr);
}

/* A pfn and byte scale every few rows. */
static void draw_scale(cairo_t *cr, const struct vr_map *m, const struct vr_geom *g)
{
	unsigned step = 1;
	char label[80], sz[CV_SIZE_STR];

	while (g->rows / step > 16 || step * g->px < 12)
		step *= 2;
	cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
	for (unsigned r = 0; r <= g->rows; r += step) {
		uint64_t pfn = m->start_pfn + (uint64_t)r * VR_ROW_CELLS * m->frames_per_cell;
		double y = g->top + (double)r * g->px;

		if (g->rows - r < step / 2 && r != g->rows && r)
			continue;
		if (r == g->rows)
			pfn = m->end_pfn;
		cv_format_size(pfn << 12, sz, sizeof(sz));
		snprintf(label, sizeof(label), "%" PRIu64 " (%s)", pfn, sz);
		text_at(cr, g->left - 4 - text_width(cr, 9, label), y + 3, 9, label);
		cairo_move_to(cr, g->left - 3, y);
		cairo_line_to(cr, g->left, y);
		cairo_stroke(cr);
	}
}

static void draw_strip(cairo_t *cr, const struct vr_map *m, const struct vr_geom *g)
{
	char label[128];
	double last_end = -1e9;

	for (uint64_t j = 0; j < m->nr_bins;) {
		uint64_t k = j + 1;
		double x0, x1;

		while (k < m->nr_bins && m->kva_class[k] == m->kva_class[j])
			k++;
		x0 = g->kva_x + g->kva_w * (double)j / (double)m->nr_bins;
		x1 = g->kva_x + g->kva_w * (double)k / (double)m->nr_bins;
		set_rgb(cr, vr_kva_colour(m->kva_class[j]));
		cairo_rectangle(cr, x0, g->kva_y, x1 - x0, g->kva_h);
		cairo_fill(cr);
		j = k;
	}
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_set_line_width(cr, 1.0);
	cairo_rectangle(cr, g->kva_x - 0.5, g->kva_y - 0.5, g->kva_w + 1, g->kva_h + 1);
	cairo_stroke(cr);
	snprintf(label, sizeof(label), "vmalloc range 0x%016" PRIx64, m->kva_start);
	text_at(cr, g->kva_x, g->kva_y - 6, 10, label);
	snprintf(label, sizeof(label), "0x%016" PRIx64, m->kva_end);
	text_at(cr, g->kva_x + g->kva_w - text_width(cr, 10, label), g->kva_y - 6, 10, label);
	/* Callers under the areas wide enough for them, left to right. */
	for (size_t i = 0; i < m->nr_areas; i++) {
		const struct vr_area *a = &m->areas[i];
		double span = (double)(m->kva_end - m->kva_start);
		double x0, x1, w;

		if (!a->caller || !*a->caller || a->addr >= m->kva_end || a->addr + a->size <= m->kva_start)
			continue;
		x0 = g->kva_x + g->kva_w * (double)(a->addr > m->kva_start ? a->addr - m->kva_start : 0) / span;
		x1 = g->kva_x + g->kva_w * (double)((a->addr + a->size < m->kva_end ? a->addr + a->size : m->kva_end) - m->kva_start) / span;
		w = text_width(cr, 9, a->caller);
		if (w + 4 > x1 - x0 || x0 < last_end)
			continue;
		cairo_move_to(cr, x0, g->kva_y + g->kva_h);
		cairo_line_to(cr, x0, g->kva_y + g->kva_h + 6);
		cairo_stroke(cr);
		text_at(cr, x0 + 2, g->kva_y + g->kva_h + 14, 9, a->caller);
		last_end = x0 + w + 8;
	}
}

static void swatch(cairo_t *cr, double x, double y, struct vr_rgb c, const char *name)
{
	set_rgb(cr, c);
	cairo_rectangle(cr, x, y - 9, 12, 12);
	cairo_fill_preserve(cr);
	cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
	cairo_set_line_width(cr, 0.5);
	cairo_stroke(cr);
	cairo_set_source_rgb(cr, 0, 0, 0);
	text_at(cr, x + 16, y + 1, 10, name);
}

static void draw_legend(cairo_t *cr, const struct vr_map *m, const struct vr_geom *g)
{
	double y0 = g->kva_y + g->kva_h + 40, col = 160;
	char line[256], sz[CV_SIZE_STR], rowsz[CV_SIZE_STR];

	for (unsigned c = 0; c < VR_NR_FRAME_CLASSES; c++)
		swatch(cr, 10 + col * (c / 4), y0 + 16 * (c % 4), vr_frame_colour(c), vr_frame_name(c));
	for (unsigned c = 0; c < VR_NR_KVA_CLASSES; c++)
		swatch(cr, 10 + col * (4 + c / 4), y0 + 16 * (c % 4), vr_kva_colour(c), vr_kva_name(c));
	cv_format_size(m->frames_per_cell << 12, sz, sizeof(sz));
	cv_format_size((m->frames_per_cell * VR_ROW_CELLS) << 12, rowsz, sizeof(rowsz));
	if (m->frames_per_cell == 1)
		snprintf(line, sizeof(line), "1 cell = 1 frame (4 KiB); 1 row = 512 frames, a pageblock (%s)",
			 rowsz);
	else
		snprintf(line, sizeof(line), "downsampled: 1 cell = %" PRIu64 " frames (%s), coloured by the "
			 "class holding most of its frames; 1 row = %s", m->frames_per_cell, sz, rowsz);
	text_at(cr, 10, y0 + 74, 10, line);
	cv_format_size((m->kva_end - m->kva_start) / (m->nr_bins ? m->nr_bins : 1), sz, sizeof(sz));
	snprintf(line, sizeof(line), "vmalloc strip: %" PRIu64 " bins of %s, each coloured by the state "
		 "holding most of its bytes", m->nr_bins, sz);
	text_at(cr, 10, y0 + 90, 10, line);
}

static void draw(cairo_t *cr, const struct vr_map *m, const struct vr_geom *g)
{
	cairo_surface_t *img;

	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_source_rgb(cr, 0, 0, 0);
	text_at(cr, 10, 20, 14, m->title ? m->title : "vmallocd memory map");
	text_at(cr, g->left, g->top - 6, 10, "physical memory: pfn (bytes) at the start of each row");
	img = cells_image(m, g);
	cairo_set_source_surface(cr, img, g->left, g->top);
	cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
	cairo_paint(cr);
	cairo_surface_destroy(img);
	cairo_set_source_rgb(cr, 0, 0, 0);
	draw_zones(cr, m, g);
	draw_scale(cr, m, g);
	draw_strip(cr, m, g);
	draw_legend(cr, m, g);
}

static bool map_ok(const struct vr_map *m)
{
	return m && m->frames_per_cell && m->end_pfn > m->start_pfn &&
	       m->nr_cells == (m->end_pfn - m->start_pfn + m->frames_per_cell - 1) / m->frames_per_cell &&
	       m->frame_class && m->nr_cells <= (1u << 22) &&
	       (!m->nr_bins || (m->kva_class && m->kva_end > m->kva_start));
}

void vr_done(void)
{
	cairo_debug_reset_static_data();
	FcFini();
}

int vr_format_of(const char *path, enum vr_format *ret)
{
	size_t n = path ? strlen(path) : 0;

	if (n > 4 && !strcasecmp(path + n - 4, ".png"))
		*ret = VR_PNG;
	else if (n > 4 && !strcasecmp(path + n - 4, ".svg"))
		*ret = VR_SVG;
	else
		return -EINVAL;
	return 0;
}

int vr_draw_file(const struct vr_map *m, enum vr_format fmt, const char *path)
{
	struct vr_geom g;
	cairo_surface_t *s;
	cairo_t *cr;
	cairo_status_t st;

	if (!map_ok(m) || !path)
		return -EINVAL;
	vr_geometry(m, &g);
	if (fmt == VR_SVG)
		s = cairo_svg_surface_create(path, g.width, g.height);
	else
		s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)g.width, (int)g.height);
	if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(s);
		return fmt == VR_SVG ? -EIO : -ENOMEM;
	}
	cr = cairo_create(s);
	draw(cr, m, &g);
	st = cairo_status(cr);
	cairo_destroy(cr);
	if (st == CAIRO_STATUS_SUCCESS && fmt == VR_PNG)
		st = cairo_surface_write_to_png(s, path);
	cairo_surface_finish(s);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(s);
	cairo_surface_destroy(s);
	if (st == CAIRO_STATUS_NO_MEMORY)
		return -ENOMEM;
	return st == CAIRO_STATUS_SUCCESS ? 0 : -EIO;
}
