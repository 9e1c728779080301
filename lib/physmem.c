/* physmem.c -- simulated physical memory: the backing store that holds the
 * frames' bytes, the per-frame metadata array (memmap), and the split of the
 * frames into nodes and zones according to a layout profile.
 *
 * Invariants: both big mappings are populated by the host on first touch
 * only, so creating a machine costs two mmap calls whatever its size; a
 * frame occupies host memory exactly when it has PG_dirty (resident_pages
 * counts them), up to the one run of released frames not yet punched; node n
 * owns the pfns [node_start[n], node_start[n+1]); each node's zones are
 * consecutive, non-overlapping pfn ranges in zone-type order.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm-internal.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static const struct layout_desc layouts[VM_NR_LAYOUTS] = {
	[VM_LAYOUT_X86_64] = {
		.name = "x86_64",
		.vmalloc_start = 0xffffc90000000000ull,
		.vmalloc_end = 0xffffe8ffffffffffull,
		.dma_end = 16 * MIB, .dma32_end = 4 * GIB, .normal_end = UINT64_MAX,
		.max_memory = VM_MAX_MEMORY,
		.pt_levels = 4, .pt_shift = { 39, 30, 21, 12 }, .pt_index_bits = 9,
		.pte_size = 8, .ptr_size = 8, .max_cpus = VM_MAX_CPUS, .has_highmem = false,
	},
	[VM_LAYOUT_I386] = {
		.name = "i386",
		/* VMALLOC_START = PAGE_OFFSET + 896 MiB of lowmem + the 8 MiB gap */
		.vmalloc_start = 0xc0000000ull + 896 * MIB + 8 * MIB,
		.vmalloc_end = 0xff7fe000ull,
		.dma_end = 16 * MIB, .dma32_end = 16 * MIB, .normal_end = 896 * MIB,
		.max_memory = VM_MAX_MEMORY_I386,
		.pt_levels = 2, .pt_shift = { 22, 12 }, .pt_index_bits = 10,
		.pte_size = 4, .ptr_size = 4, .max_cpus = VM_MAX_CPUS_I386, .has_highmem = true,
	},
};

const struct layout_desc *vmi_layout(enum vm_layout l)
{
	return &layouts[l];
}

const char *vm_layout_name(enum vm_layout layout)
{
	return (unsigned)layout < VM_NR_LAYOUTS ? layouts[layout].name : "?";
}

int vm_layout_from_name(const char *name, enum vm_layout *ret_layout)
{
	/* A known name would otherwise be written through a NULL result. */
	if (!name || !ret_layout)
		return -EINVAL;
	for (unsigned i = 0; i < VM_NR_LAYOUTS; i++) {
		if (strcmp(name, layouts[i].name) == 0) {
			*ret_layout = (enum vm_layout)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *vm_zone_name(enum vm_zone_type type)
{
	static const char *const names[VM_NR_ZONES] = {
		"DMA", "DMA32", "Normal", "HighMem", "Movable",
	};

	return (unsigned)type < VM_NR_ZONES ? names[type] : "?";
}

int vmi_pfn_node(const struct vm_engine *e, uint64_t pfn)
{
	unsigned lo = 0, hi = e->nr_nodes;

	/* Nodes are few (≤ 64): a binary search over node_start. */
	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;

		if (pfn >= e->node_start[mid])
			lo = mid;
		else
			hi = mid;
	}
	return (int)lo;
}

struct zone *vmi_pfn_zone(struct vm_engine *e, uint64_t pfn)
{
	struct zone *zs = e->zones[vmi_pfn_node(e, pfn)];

	for (int t = VM_NR_ZONES - 1; t >= 0; t--) {
		if (zs[t].end_pfn > zs[t].start_pfn && pfn >= zs[t].start_pfn)
			return &zs[t];
	}
	return NULL;
}

/* Give a frame's bytes back to the host: it then reads as zeros and costs
 * nothing.  Frames released one after another at consecutive pfns (a block,
 * the pages of an area taken in one bulk) make one run, punched with one
 * call when the run breaks, when any frame is written (vmi_frame_dirty) or
 * when a public call that frees ends. */
void vmi_clear_frame(struct vm_engine *e, uint64_t pfn)
{
	struct page *p = pfn_to_page(e, pfn);

	/* A never-written frame is a hole already; touching it would make the
	 * host populate it.  A replay leaves the bytes as its outcome left
	 * them (vm_set_replay). */
	if (e->replay || !(p->flags & PG_dirty))
		return;
	p->flags &= (uint8_t)~PG_dirty;
	VMI_SUB(e, e->resident_pages, 1);
	if (e->punch.len && pfn == e->punch.start + e->punch.len) {
		e->punch.len++;
		return;
	}
	if (e->punch.len && pfn + 1 == e->punch.start) {
		e->punch.start--;
		e->punch.len++;
		return;
	}
	vmi_punch_flush(e);
	e->punch.start = pfn;
	e->punch.len = 1;
}

void vmi_punch_flush(struct vm_engine *e)
{
	uint64_t off = e->punch.start << VM_PAGE_SHIFT, len = e->punch.len << VM_PAGE_SHIFT;
	int r;

	if (!len)
		return;
	e->punch.len = 0;
	if (e->memfd >= 0)
		r = fallocate(e->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			      (off_t)len);
	else
		r = madvise(e->mem + off, len, MADV_DONTNEED);
	/* Only an old kernel refuses; the bytes must read as zeros anyway. */
	if (r < 0)
		memset(e->mem + off, 0, len);
}

/* Room for frames more frames to become resident: 0, or -ENOMEM when they
 * would pass the configured limit. */
int vmi_resident_reserve(struct vm_engine *e, uint64_t frames)
{
	uint32_t n = e->reserves++;

	/* A replay counts no residency: it refuses where the run did. */
	if (e->replay) {
		if (e->replay_refuse_pos < e->nr_replay_refuse &&
		    e->replay_refuse[e->replay_refuse_pos] == n) {
			e->replay_refuse_pos++;
			return -ENOMEM;
		}
		return 0;
	}
	if (vmi_resident_fits(e, frames))
		return 0;
	if (e->nr_refused < VM_REFUSALS_MAX)
		e->refused[e->nr_refused++] = n;
	else
		e->refused_lost = true;
	return -ENOMEM;
}

bool vmi_resident_fits(const struct vm_engine *e, uint64_t frames)
{
	uint64_t max = e->cfg.max_resident_pages;

	return e->replay || !max || (e->resident_pages <= max && frames <= max - e->resident_pages);
}

void vm_resident_mark(struct vm_engine *e)
{
	if (!e)
		return;
	e->reserves = 0;
	e->nr_refused = 0;
	e->refused_lost = false;
	e->replay_refuse = NULL;
	e->nr_replay_refuse = e->replay_refuse_pos = 0;
}

int vm_resident_refusals(const struct vm_engine *e, const uint32_t **ret_list, uint32_t *ret_nr)
{
	if (!e || !ret_list || !ret_nr)
		return -EINVAL;
	*ret_list = e->refused;
	*ret_nr = e->nr_refused;
	return e->refused_lost ? -E2BIG : 0;
}

int vm_replay_refusals(struct vm_engine *e, const uint32_t *list, uint32_t nr)
{
	if (!e || (!list && nr) || nr > VM_REFUSALS_MAX)
		return -EINVAL;
	for (uint32_t i = 1; i < nr; i++)
		if (list[i] <= list[i - 1])
			return -EINVAL;
	e->reserves = 0;
	e->replay_refuse = list;
	e->nr_replay_refuse = nr;
	e->replay_refuse_pos = 0;
	return 0;
}

/* Zone boundaries of one node, as byte limits of the layout. */
static void setup_node_zones(struct vm_engine *e, unsigned nid)
{
	const struct layout_desc *l = e->layout;
	uint64_t ns = e->node_start[nid], ne = e->node_start[nid + 1];
	uint64_t limit[VM_NR_ZONES];
	uint64_t movable_pages = e->cfg.movable_bytes >> VM_PAGE_SHIFT;
	uint64_t top = ne, cur = ns;

	limit[VM_ZONE_DMA] = l->dma_end >> VM_PAGE_SHIFT;
	limit[VM_ZONE_DMA32] = l->dma32_end >> VM_PAGE_SHIFT;
	limit[VM_ZONE_NORMAL] = l->normal_end == UINT64_MAX ? UINT64_MAX : l->normal_end >> VM_PAGE_SHIFT;
	limit[VM_ZONE_HIGHMEM] = UINT64_MAX;
	limit[VM_ZONE_MOVABLE] = UINT64_MAX;

	if (movable_pages && movable_pages < ne - ns)
		top = ne - movable_pages;

	for (int t = 0; t < VM_NR_ZONES; t++) {
		struct zone *z = &e->zones[nid][t];
		uint64_t zs, ze;

		memset(z, 0, sizeof(*z));
		z->node = (int)nid;
		z->type = (enum vm_zone_type)t;
		if (t == VM_ZONE_MOVABLE) {
			zs = top;
			ze = ne;
		} else {
			/* Each zone runs from where the one below stopped to its
			 * own limit, clipped to the non-movable part of the node. */
			zs = cur;
			ze = limit[t] < top ? limit[t] : top;
			if (ze < zs)
				ze = zs;
			cur = ze;
		}
		z->start_pfn = z->end_pfn = zs;
		if (ze > zs) {
			z->end_pfn = ze;
			z->managed = ze - zs;
		}
		for (int o = 0; o < VM_NR_ORDERS; o++)
			z->free_area[o].head = PFN_NONE;
		vmi_buddy_init_zone(e, z);
	}
}

/* Fallback order for each node: by distance (10 local, +10 per hop on a
 * ring of nodes, as a simple SLIT would say), ties by node id. */
static void setup_node_order(struct vm_engine *e)
{
	unsigned n = e->nr_nodes;

	for (unsigned a = 0; a < n; a++) {
		unsigned k = 0;

		for (unsigned hop = 0; hop <= n / 2; hop++) {
			for (unsigned b = 0; b < n; b++) {
				unsigned d = a > b ? a - b : b - a;

				if (n - d < d)
					d = n - d;
				if (d == hop)
					e->node_order[a][k++] = (uint8_t)b;
			}
		}
	}
}

int vmi_physmem_init(struct vm_engine *e, int frames_fd)
{
	uint64_t bytes = e->nr_pages << VM_PAGE_SHIFT;
	uint64_t per_node;
	struct stat st;
	void *mem;

	if (frames_fd >= 0) {
		/* Someone else's frames (a state image's): used as they are. */
		if (fstat(frames_fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (uint64_t)st.st_size < bytes)
			return -EBADF;
		e->memfd = fcntl(frames_fd, F_DUPFD_CLOEXEC, 0);
		if (e->memfd < 0)
			return errno == EMFILE || errno == ENFILE ? -EMFILE : -EBADF;
	} else {
		e->memfd = memfd_create("vmallocd-physmem", MFD_CLOEXEC);
	}
	if (e->memfd >= 0 && frames_fd < 0) {
		if (ftruncate(e->memfd, (off_t)bytes) < 0) {
			close(e->memfd);
			e->memfd = -1;
		}
	}
	if (e->memfd >= 0)
		mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_NORESERVE, e->memfd, 0);
	else
		mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		if (e->memfd >= 0)
			close(e->memfd);
		e->memfd = -1;
		return -ENOMEM;
	}
	e->mem = mem;

	e->memmap_bytes = e->nr_pages * sizeof(struct page);
	mem = mmap(NULL, e->memmap_bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		vmi_physmem_destroy(e);
		return -ENOMEM;
	}
	e->memmap = mem;

	/* Even split; node sizes are whole max-order blocks, the last node
	 * takes the remainder. */
	per_node = (e->nr_pages / e->nr_nodes) & ~((1ull << VM_MAX_PAGE_ORDER) - 1);
	for (unsigned n = 0; n < e->nr_nodes; n++)
		e->node_start[n] = per_node * n;
	e->node_start[e->nr_nodes] = e->nr_pages;
	for (unsigned n = 0; n < e->nr_nodes; n++)
		setup_node_zones(e, n);
	setup_node_order(e);
	vmi_setup_watermarks(e);
	return 0;
}

void vmi_physmem_destroy(struct vm_engine *e)
{
	if (e->memmap)
		munmap(e->memmap, e->memmap_bytes);
	if (e->mem)
		munmap(e->mem, e->nr_pages << VM_PAGE_SHIFT);
	if (e->memfd >= 0)
		close(e->memfd);
	e->memmap = NULL;
	e->mem = NULL;
	e->punch.len = 0;
	e->memfd = -1;
}
