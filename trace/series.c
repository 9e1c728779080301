/* series.c -- the replay's time series as CSV (output.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "output.h"

int vt_series_header(FILE *out)
{
	fprintf(out, "event");
	for (unsigned o = 0; o < VT_NR_ORDERS; o++)
		fprintf(out, ",free_o%u", o);
	fprintf(out, ",vmalloc_kb,lazy_pages,kva_extent_kb,pooled_pages,purges\n");
	return ferror(out) ? -EIO : 0;
}

int vt_series_row(FILE *out, uint64_t i, const struct vt_machine_state *m)
{
	fprintf(out, "%" PRIu64, i);
	for (unsigned o = 0; o < VT_NR_ORDERS; o++) {
		uint64_t n = 0;

		for (unsigned z = 0; z < m->nr_zones; z++)
			n += m->zones[z].nr_free[o];
		fprintf(out, ",%" PRIu64, n);
	}
	fprintf(out, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
		m->vmalloc_pages * 4, m->lazy_pages, m->kva_extent >> 10, m->pooled_pages,
		m->nr_purges);
	return ferror(out) ? -EIO : 0;
}
