/* memmap.c -- one snapshot of the machine's two maps (lib/frame_map.c and
 * lib/kva_map.c) with the request's bounds applied, for the protocol's
 * QUERY_MAP and the HTTP window's JSON alike.
 *
 * Bounds: at most MEMMAP_MAX_CELLS frame cells and MEMMAP_MAX_BINS KVA bins,
 * so a snapshot costs at most ~2 bytes a cell whatever the machine's size;
 * the time is one step per free block and used frame (lib/frame_map.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmallocd.h"

int memmap_take(struct vm_engine *e, const struct memmap_req *rq, struct memmap *ret)
{
	struct vm_stats s;
	struct memmap m = { 0 };
	uint64_t cells = rq->max_cells ? rq->max_cells : MEMMAP_DEFAULT_CELLS;
	int r;

	vm_get_stats(e, &s);
	m.start_pfn = rq->start_pfn;
	m.end_pfn = rq->end_pfn;
	if (!m.start_pfn && !m.end_pfn)
		m.end_pfn = s.total_pages;
	if (m.start_pfn >= m.end_pfn || m.end_pfn > s.total_pages)
		return -EINVAL;
	if (cells > MEMMAP_MAX_CELLS)
		return -E2BIG;
	m.kva_start = rq->kva_start;
	m.kva_end = rq->kva_end;
	if (!m.kva_start && !m.kva_end) {
		m.kva_start = s.vmalloc_start;
		m.kva_end = s.vmalloc_end;
	}
	m.nbins = rq->kva_bins ? rq->kva_bins : MEMMAP_DEFAULT_BINS;
	if (m.nbins > MEMMAP_MAX_BINS)
		return -E2BIG;
	if (m.kva_end > m.kva_start && m.nbins > (m.kva_end - m.kva_start) / 4096)
		m.nbins = (m.kva_end - m.kva_start) / 4096;
	m.fpc = vm_frame_map_scale(m.end_pfn - m.start_pfn, cells);
	m.ncells = (m.end_pfn - m.start_pfn + m.fpc - 1) / m.fpc;
	m.fclass = malloc(m.ncells);
	m.ffree = malloc(m.ncells);
	m.kclass = malloc(m.nbins ? m.nbins : 1);
	m.kbusy = malloc(m.nbins ? m.nbins : 1);
	if (!m.fclass || !m.ffree || !m.kclass || !m.kbusy) {
		memmap_free(&m);
		return -ENOMEM;
	}
	r = vm_frame_map(e, m.start_pfn, m.end_pfn, m.fpc, m.fclass, m.ffree);
	if (r == 0)
		r = vm_kva_map(e, m.kva_start, m.kva_end, m.nbins, m.kclass, m.kbusy);
	if (r) {
		memmap_free(&m);
		return r;
	}
	*ret = m;
	return 0;
}

void memmap_free(struct memmap *m)
{
	free(m->fclass);
	free(m->ffree);
	free(m->kclass);
	free(m->kbusy);
	memset(m, 0, sizeof(*m));
}
