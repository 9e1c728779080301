/* map.c -- vmctl map: the daemon's two maps (vmc_map()) drawn by
 * libvmrender as PNG, SVG or on the terminal; the conversion from the
 * client's structures to the renderer's is here, shared with the demo.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmctl.h"
#include "vmrender.h"

struct map_args {
	const char *out;
	bool term;
	struct vmc_map_request rq;
};

static int parse_span(const struct cmd *cmd, const char *what, const char *s, uint64_t *a, uint64_t *b)
{
	const char *dash = strchr(s, '-');
	char first[64];
	int r;

	if (!dash || (size_t)(dash - s) >= sizeof(first))
		return usage_err(cmd, "invalid %s '%s': START-END expected", what, s);
	memcpy(first, s, (size_t)(dash - s));
	first[dash - s] = '\0';
	if ((r = arg_u64(cmd, what, first, a)) || (r = arg_u64(cmd, what, dash + 1, b)))
		return r;
	if (*a >= *b)
		return usage_err(cmd, "invalid %s '%s': START must be below END", what, s);
	return 0;
}

static int map_opt(const struct cmd *cmd, int ch, const char *optarg, void *ctx)
{
	struct map_args *a = ctx;
	long v;
	int r;

	switch (ch) {
	case 'o':
	case OPT_OUT: {
		enum vr_format f;

		if (vr_format_of(optarg, &f) < 0)
			return usage_err(cmd, "invalid output '%s': a .png or .svg file", optarg);
		a->out = optarg;
		return 0;
	}
	case OPT_TERM: a->term = true; return 0;
	case OPT_RANGE:
		return parse_span(cmd, "range", optarg, &a->rq.kva_start, &a->rq.kva_end);
	case OPT_PFNS:
		return parse_span(cmd, "pfns", optarg, &a->rq.start_pfn, &a->rq.end_pfn);
	case OPT_CELLS:
		if ((r = arg_long(cmd, "cells", optarg, 1, 1 << 20, &v)))
			return r;
		a->rq.max_cells = (unsigned)v;
		return 0;
	case OPT_BINS:
		if ((r = arg_long(cmd, "bins", optarg, 1, 65536, &v)))
			return r;
		a->rq.kva_bins = (unsigned)v;
		return 0;
	}
	return -1;
}

int map_draw(const struct vmc_map *m, const char *title, const char *path)
{
	struct vr_zone *zones = calloc(m->nr_zones ? m->nr_zones : 1, sizeof(*zones));
	struct vr_area *areas = calloc(m->nr_areas ? m->nr_areas : 1, sizeof(*areas));
	struct vr_map v = {
		.title = title, .start_pfn = m->start_pfn, .end_pfn = m->end_pfn,
		.frames_per_cell = m->frames_per_cell, .nr_cells = m->nr_cells,
		.frame_class = m->frame_class, .zones = zones, .nr_zones = m->nr_zones,
		.kva_start = m->kva_start, .kva_end = m->kva_end, .nr_bins = m->nr_bins,
		.kva_class = m->kva_class, .areas = areas, .nr_areas = m->nr_areas,
	};
	int r;

	if (!zones || !areas) {
		free(zones);
		free(areas);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->nr_zones; i++)
		zones[i] = (struct vr_zone){ m->zones[i].node, m->zones[i].name,
					     m->zones[i].start_pfn, m->zones[i].end_pfn };
	for (size_t i = 0; i < m->nr_areas; i++)
		areas[i] = (struct vr_area){ m->areas[i].addr, m->areas[i].size, m->areas[i].caller };
	if (path) {
		enum vr_format f;

		r = vr_format_of(path, &f);
		if (r == 0)
			r = vr_draw_file(&v, f, path);
		/* vmctl draws a picture or two and exits: no font cache to keep. */
		vr_done();
	} else {
		struct winsize ws;
		unsigned cols = 80;

		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col)
			cols = ws.ws_col;
		r = vr_draw_term(&v, stdout, cols);
	}
	free(zones);
	free(areas);
	return r;
}

static json_object *map_json(const struct vmc_map *m)
{
	json_object *o = json_object_new_object(), *fc = json_object_new_object();
	json_object *kc = json_object_new_object();
	uint64_t nf[VMC_NR_FRAME_CLASSES] = { 0 }, nk[VMC_NR_KVA_CLASSES] = { 0 };

	for (uint64_t i = 0; i < m->nr_cells; i++)
		if (m->frame_class[i] < VMC_NR_FRAME_CLASSES)
			nf[m->frame_class[i]]++;
	for (uint64_t i = 0; i < m->nr_bins; i++)
		if (m->kva_class[i] < VMC_NR_KVA_CLASSES)
			nk[m->kva_class[i]]++;
	jput(o, "start_pfn", json_object_new_uint64(m->start_pfn));
	jput(o, "end_pfn", json_object_new_uint64(m->end_pfn));
	jput(o, "frames_per_cell", json_object_new_uint64(m->frames_per_cell));
	jput(o, "cells", json_object_new_uint64(m->nr_cells));
	for (unsigned c = 0; c < VMC_NR_FRAME_CLASSES; c++)
		jput(fc, vr_frame_name(c), json_object_new_uint64(nf[c]));
	jput(o, "cells_by_class", fc);
	jput(o, "kva_start", jhex(m->kva_start));
	jput(o, "kva_end", jhex(m->kva_end));
	jput(o, "bins", json_object_new_uint64(m->nr_bins));
	for (unsigned c = 0; c < VMC_NR_KVA_CLASSES; c++)
		jput(kc, vr_kva_name(c), json_object_new_uint64(nk[c]));
	jput(o, "bins_by_class", kc);
	return o;
}

int cmd_map(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, OPT_OUT },
		{ "term", no_argument, NULL, OPT_TERM },
		{ "range", required_argument, NULL, OPT_RANGE },
		{ "pfns", required_argument, NULL, OPT_PFNS },
		{ "cells", required_argument, NULL, OPT_CELLS },
		{ "bins", required_argument, NULL, OPT_BINS },
		COMMON_OPTS
	};
	struct map_args a = { 0 };
	struct vmc_map m;
	int r;

	positional(cmd, argc, argv, opts, map_opt, &a, NULL, 0, 0);
	if (a.out && a.term)
		return usage_err(cmd, "-o and --term: one picture at a time");
	if (!a.out && !a.term && !arg_json && !isatty(STDOUT_FILENO))
		return usage_err(cmd, "stdout is not a terminal: give -o FILE.png|FILE.svg, or --term");
	r = vmc_map(client(cmd), &a.rq, &m);
	if (r < 0)
		return fail(cmd, NULL, r);
	if (arg_json) {
		jprint(map_json(&m));
		r = 0;
	} else {
		r = map_draw(&m, "vmallocd memory map", a.out);
	}
	vmc_map_free(&m);
	if (r < 0)
		return fail(cmd, a.out, r);
	if (a.out && !arg_json)
		printf("%s\n", a.out);
	return VMCTL_EXIT_OK;
}
