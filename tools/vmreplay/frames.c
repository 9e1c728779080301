/* frames.c -- vmreplay --frames DIR --every K: the machine's maps drawn
 * (libvmrender) as DIR/frame-NNNNNN.png every K events and once at the end,
 * so that a replay can be watched as a sequence.
 *
 * The vmalloc strip shows the used part of the range: from VMALLOC_START to
 * the highest end any frame so far has seen, rounded up to a power of two
 * of MiB, so that the axis only ever widens and frames stay comparable.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frames.h"
#include "vmrender.h"

#define FRAME_CELLS (256u * 1024)
#define FRAME_BINS  1024u

struct zones {
	struct vr_zone v[VM_MAX_NODES * VM_NR_ZONES];
	size_t n;
};

static int add_zone(void *ctx, const struct vm_zone_info *z)
{
	struct zones *zs = ctx;

	if (zs->n < sizeof(zs->v) / sizeof(zs->v[0]))
		zs->v[zs->n++] = (struct vr_zone){ z->node, z->name, z->start_pfn, z->end_pfn };
	return 0;
}

static int area_end(void *ctx, const struct vm_area_info *a)
{
	uint64_t *end = ctx;

	if (a->addr + a->size > *end)
		*end = a->addr + a->size;
	return 0;
}

int frames_open(struct frames *f, const char *dir, uint64_t every)
{
	memset(f, 0, sizeof(*f));
	if (!dir || !every)
		return -EINVAL;
	if (mkdir(dir, 0777) < 0 && errno != EEXIST)
		return -errno;
	f->dir = dir;
	f->every = every;
	return 0;
}

int frames_draw(struct frames *f, struct vm_engine *e, uint64_t events)
{
	struct vm_stats st;
	struct zones zs = { .n = 0 };
	uint64_t fpc, ncells, end = 0, span = 1ull << 20, bins;
	uint8_t *cls = NULL, *fr = NULL, kc[FRAME_BINS], kb[FRAME_BINS];
	char path[4096], title[128];
	struct vr_map m;
	int r;

	vm_get_stats(e, &st);
	vm_for_each_zone(e, add_zone, &zs);
	vm_for_each_area(e, area_end, &end);
	if (end > st.vmalloc_start && end - st.vmalloc_start > f->kva_span)
		f->kva_span = end - st.vmalloc_start;
	while (span < f->kva_span && span < st.vmalloc_end - st.vmalloc_start)
		span <<= 1;
	if (span > st.vmalloc_end - st.vmalloc_start)
		span = st.vmalloc_end - st.vmalloc_start;
	bins = span >> 12 < FRAME_BINS ? span >> 12 : FRAME_BINS;
	fpc = vm_frame_map_scale(st.total_pages, FRAME_CELLS);
	ncells = (st.total_pages + fpc - 1) / fpc;
	cls = malloc(ncells);
	fr = malloc(ncells);
	if (!cls || !fr) {
		r = -ENOMEM;
		goto out;
	}
	r = vm_frame_map(e, 0, st.total_pages, fpc, cls, fr);
	if (r == 0)
		r = vm_kva_map(e, st.vmalloc_start, st.vmalloc_start + span, bins, kc, kb);
	if (r)
		goto out;
	snprintf(title, sizeof(title), "vmreplay: after %" PRIu64 " events", events);
	m = (struct vr_map){ .title = title, .start_pfn = 0, .end_pfn = st.total_pages,
			     .frames_per_cell = fpc, .nr_cells = ncells, .frame_class = cls,
			     .zones = zs.v, .nr_zones = zs.n, .kva_start = st.vmalloc_start,
			     .kva_end = st.vmalloc_start + span, .nr_bins = bins, .kva_class = kc };
	snprintf(path, sizeof(path), "%s/frame-%06" PRIu64 ".png", f->dir, f->written);
	r = vr_draw_file(&m, VR_PNG, path);
	if (r == 0)
		f->written++;
out:
	free(cls);
	free(fr);
	return r;
}
