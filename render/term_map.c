/* term_map.c -- a map on a terminal: two map rows a text line in upper
 * half blocks (U+2580, foreground the upper row, background the lower),
 * 256-colour escapes (which tmux and every xterm-like terminal pass), the
 * zones named on the left, the vmalloc range as one line of full blocks and
 * a legend.  The map is regrouped to fit: a column is a power of two of
 * cells, a line at most 48 text lines high, each group coloured by the
 * class holding most of its cells.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "size.h"
#include "vmrender.h"

#define LABEL_COLS 14
#define MAX_LINES  48

static const unsigned char cube[6] = { 0, 95, 135, 175, 215, 255 };

static unsigned near_level(unsigned v)
{
	unsigned best = 0;

	for (unsigned i = 1; i < 6; i++)
		if ((v > cube[i] ? v - cube[i] : cube[i] - v) < (v > cube[best] ? v - cube[best] : cube[best] - v))
			best = i;
	return best;
}

/* The xterm 256-colour index nearest to c: the 6x6x6 cube or the grey ramp. */
static unsigned xterm256(struct vr_rgb c)
{
	unsigned r = near_level(c.r), g = near_level(c.g), b = near_level(c.b);
	long dr = (long)c.r - cube[r], dg = (long)c.g - cube[g], db = (long)c.b - cube[b];
	long dcube = dr * dr + dg * dg + db * db;
	unsigned avg = (c.r + c.g + c.b) / 3u, k = avg < 8 ? 0 : (avg - 8) / 10;
	long grey, dgrey;

	if (k > 23)
		k = 23;
	grey = 8 + 10 * (long)k;
	dgrey = (c.r - grey) * (c.r - grey) + (c.g - grey) * (c.g - grey) + (c.b - grey) * (c.b - grey);
	return dgrey < dcube ? 232 + k : 16 + 36 * r + 6 * g + b;
}

/* The class holding most cells of rows [r0, r1) x columns [c0, c1). */
static int group_class(const struct vr_map *m, uint64_t r0, uint64_t r1, unsigned c0, unsigned c1)
{
	uint64_t count[VR_NR_FRAME_CLASSES] = { 0 };
	int best = -1;

	for (uint64_t r = r0; r < r1; r++)
		for (unsigned c = c0; c < c1; c++) {
			uint64_t i = r * VR_ROW_CELLS + c;

			if (i < m->nr_cells && m->frame_class[i] < VR_NR_FRAME_CLASSES)
				count[m->frame_class[i]]++;
		}
	for (int k = 0; k < VR_NR_FRAME_CLASSES; k++)
		if (count[k] && (best < 0 || count[k] > count[best]))
			best = k;
	return best;
}

static void zone_label(const struct vr_map *m, uint64_t pfn0, uint64_t pfn1, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < m->nr_zones; i++) {
		const struct vr_zone *z = &m->zones[i];
		uint64_t s = z->start_pfn < m->start_pfn ? m->start_pfn : z->start_pfn;

		if (s >= pfn0 && s < pfn1 && z->end_pfn > m->start_pfn) {
			snprintf(buf, len, "n%d %s", z->node, z->name ? z->name : "?");
			return;
		}
	}
}

int vr_draw_term(const struct vr_map *m, FILE *out, unsigned cols)
{
	uint64_t rows = (m->nr_cells + VR_ROW_CELLS - 1) / VR_ROW_CELLS, vg, lines;
	unsigned width = VR_ROW_CELLS, hg;
	char label[64], sz[CV_SIZE_STR];

	if (!m->frames_per_cell || !m->frame_class)
		return -EINVAL;
	if (cols < 40)
		cols = 40;
	while (width > 16 && width + LABEL_COLS > cols)
		width /= 2;
	hg = VR_ROW_CELLS / width;
	vg = (rows + 2 * MAX_LINES - 1) / (2 * MAX_LINES);
	if (vg < 1)
		vg = 1;
	lines = (rows + 2 * vg - 1) / (2 * vg);
	cv_format_size((m->frames_per_cell * hg) << 12, sz, sizeof(sz));
	fprintf(out, "%s\n", m->title ? m->title : "vmallocd memory map");
	fprintf(out, "physical: %" PRIu64 "-%" PRIu64 ", a column %u cells (%s), a half line %" PRIu64
		" rows of 512 cells\n", m->start_pfn, m->end_pfn, hg, sz, vg);
	for (uint64_t l = 0; l < lines; l++) {
		uint64_t r0 = l * 2 * vg, r1 = r0 + vg, r2 = r1 + vg;
		uint64_t pfn0 = m->start_pfn + r0 * VR_ROW_CELLS * m->frames_per_cell;
		uint64_t pfn1 = m->start_pfn + r2 * VR_ROW_CELLS * m->frames_per_cell;
		int last_fg = -2, last_bg = -2;

		if (r1 > rows)
			r1 = rows;
		if (r2 > rows)
			r2 = rows;
		zone_label(m, pfn0, pfn1, label, sizeof(label));
		fprintf(out, "%-*.*s", LABEL_COLS, LABEL_COLS - 1, label);
		for (unsigned c = 0; c < width; c++) {
			int top = group_class(m, r0, r1, c * hg, (c + 1) * hg);
			int bot = r1 < r2 ? group_class(m, r1, r2, c * hg, (c + 1) * hg) : -1;
			int fg = top < 0 ? -1 : (int)xterm256(vr_frame_colour((unsigned)top));
			int bg = bot < 0 ? -1 : (int)xterm256(vr_frame_colour((unsigned)bot));

			if (fg != last_fg)
				fg < 0 ? fputs("\033[39m", out) : fprintf(out, "\033[38;5;%dm", fg);
			if (bg != last_bg)
				bg < 0 ? fputs("\033[49m", out) : fprintf(out, "\033[48;5;%dm", bg);
			last_fg = fg;
			last_bg = bg;
			fputs(top < 0 ? " " : "\u2580", out);
		}
		fputs("\033[0m\n", out);
	}
	if (m->nr_bins && m->kva_class) {
		fprintf(out, "vmalloc range 0x%016" PRIx64 "-0x%016" PRIx64 "\n", m->kva_start, m->kva_end);
		fprintf(out, "%-*s", LABEL_COLS, "KVA");
		for (unsigned c = 0; c < width; c++) {
			uint64_t b0 = m->nr_bins * c / width, b1 = m->nr_bins * (c + 1) / width;
			uint64_t count[VR_NR_KVA_CLASSES] = { 0 };
			unsigned best = 0;

			if (b1 == b0)
				b1 = b0 + 1;
			for (uint64_t b = b0; b < b1 && b < m->nr_bins; b++)
				if (m->kva_class[b] < VR_NR_KVA_CLASSES)
					count[m->kva_class[b]]++;
			/* Anything not free in the column shows: a strip of holes
			 * with one area is not all hole. */
			for (unsigned k = 1; k < VR_NR_KVA_CLASSES; k++)
				if (count[k] > count[best] || (best == 0 && count[k]))
					best = k;
			fprintf(out, "\033[38;5;%um\u2588", xterm256(vr_kva_colour(best)));
		}
		fputs("\033[0m\n", out);
	}
	for (unsigned c = 0; c < VR_NR_FRAME_CLASSES; c++)
		fprintf(out, "\033[38;5;%um\u2588\033[0m %-18s%s", xterm256(vr_frame_colour(c)),
			vr_frame_name(c), c % 4 == 3 ? "\n" : "");
	fputs("\n", out);
	for (unsigned c = 0; c < VR_NR_KVA_CLASSES; c++)
		fprintf(out, "\033[38;5;%um\u2588\033[0m %-18s%s", xterm256(vr_kva_colour(c)),
			vr_kva_name(c), c % 4 == 3 ? "\n" : "");
	fputs("\n", out);
	return ferror(out) ? -EIO : 0;
}
