/* procfs.c -- introspection in the kernel's own text formats:
 * /proc/vmallocinfo, /proc/meminfo, /proc/buddyinfo and the debugfs
 * extfrag/unusable_index and extfrag/extfrag_index files, plus the zone walk
 * the structured (JSON) views are built from.
 *
 * Everything here only reads the engine.  Where kernels print differently
 * (pointer width is the layout's; which lines and flags exist, and the
 * order of vmallocinfo, are the kernel's) the table says which.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"

static void zone_info(const struct vm_engine *e, const struct zone *z, struct vm_zone_info *zi)
{
	memset(zi, 0, sizeof(*zi));
	zi->node = z->node;
	zi->type = z->type;
	zi->name = vm_zone_name(z->type);
	zi->start_pfn = z->start_pfn;
	zi->end_pfn = z->end_pfn;
	zi->managed = z->managed;
	zi->free = z->free_pages;
	zi->wmark_min = z->wmark_min;
	zi->wmark_low = z->wmark_low;
	zi->wmark_high = z->wmark_high;
	for (unsigned o = 0; o < VM_NR_ORDERS; o++)
		zi->nr_free[o] = vmi_zone_nr_free(z, o);
	(void)e;
}

int vm_for_each_zone(const struct vm_engine *e, vm_zone_fn *fn, void *ctx)
{
	struct vm_zone_info zi;

	if (!e || !fn)
		return -EINVAL;
	for (unsigned n = 0; n < e->nr_nodes; n++) {
		for (int t = 0; t < VM_NR_ZONES; t++) {
			const struct zone *z = &e->zones[n][t];
			int r;

			if (!z->managed)
				continue;
			zone_info(e, z, &zi);
			r = fn(ctx, &zi);
			if (r)
				return r;
		}
	}
	return 0;
}

/* ---- vmallocinfo ------------------------------------------------------------ */

struct show_vmi {
	struct strbuf sb;
	const struct vm_engine *e;
	bool filter_uid;
	uint32_t uid;
	int w;                  /* hex digits of a pointer: %pK on the layout */
};

typedef unsigned long long ull;

static void show_area(struct show_vmi *c, const struct vm_struct *vm)
{
	const struct vm_engine *e = c->e;
	uint32_t per_node[VM_MAX_NODES] = { 0 };
	/* The kernel's vmap() keeps no page array in the vm_struct (pages
	 * NULL, nr_pages 0), so a vmap line shows neither pages= nor node
	 * counts; ours keeps one for its own bookkeeping, not for display. */
	uint64_t nr_pages = (vm->flags & VM_ALLOC) ? vm->nr_pages : 0;
	struct strbuf *sb = &c->sb;

	vmi_strbuf_printf(sb, "0x%0*llx-0x%0*llx %7llu", c->w, (ull)vm->addr, c->w,
			  (ull)(vm->addr + vm->size), (ull)vm->size);
	if (vm->caller)
		vmi_strbuf_printf(sb, " %s", vm->caller);
	if (nr_pages)
		vmi_strbuf_printf(sb, " pages=%llu", (ull)nr_pages);
	if (vm->phys_addr)
		vmi_strbuf_printf(sb, " phys=0x%0*llx", c->w, (ull)vm->phys_addr);
	if (vm->flags & VM_IOREMAP)
		vmi_strbuf_printf(sb, " ioremap");
	if (vm->flags & VM_ALLOC)
		vmi_strbuf_printf(sb, " vmalloc");
	if (vm->flags & VM_MAP)
		vmi_strbuf_printf(sb, " vmap");
	if (vm->flags & VM_USERMAP)
		vmi_strbuf_printf(sb, " user");
	if ((vm->flags & VM_DMA_COHERENT) && e->k->vmallocinfo_dma_coherent)
		vmi_strbuf_printf(sb, " dma-coherent");
	/* is_vmalloc_addr(v->pages): the page array is an area of its own. */
	if (vm->array_vm)
		vmi_strbuf_printf(sb, " vpages");
	for (uint64_t i = 0; i < nr_pages; i++)
		per_node[vmi_pfn_node(e, vm->pages[i])]++;
	for (unsigned n = 0; n < e->nr_nodes; n++)
		if (per_node[n])
			vmi_strbuf_printf(sb, " N%u=%u", n, per_node[n]);
	vmi_strbuf_printf(sb, "\n");
}

static int show_va(void *ctx, const struct vmap_area *va)
{
	struct show_vmi *c = ctx;

	if (va->vm) {
		if (!(va->vm->flags & VM_UNINITIALIZED) && (!c->filter_uid || va->vm->uid == c->uid))
			show_area(c, va->vm);
	} else if (!c->filter_uid && c->e->k->vmallocinfo_unpurged) {
		/* Lazily freed ranges and vm_map_ram's have no vm_struct and
		 * so no owner: only the full view has them.  A vmap block is
		 * one line, however many mappings it holds. */
		bool ram = (va->flags & (VA_VMAP_RAM | VA_LAZY)) == VA_VMAP_RAM;

		vmi_strbuf_printf(&c->sb, "0x%0*llx-0x%0*llx %7llu %s\n", c->w,
				  (ull)va->va_start, c->w, (ull)va->va_end, (ull)va_size(va),
				  ram ? "vm_map_ram" : "unpurged vm_area");
	}
	return c->sb.err;
}

int vm_show_vmallocinfo(struct vm_engine *e, bool filter_uid, uint32_t uid, char **buf, size_t *len)
{
	struct show_vmi c = { .e = e, .filter_uid = filter_uid, .uid = uid };
	int r;

	if (!e || !buf || !len)
		return -EINVAL;
	c.w = (int)e->layout->ptr_size * 2;
	vmi_strbuf_begin(&c.sb);
	r = e->k->kva->show(e, show_va, &c);
	if (r < 0 && !c.sb.err) {
		free(c.sb.buf);
		return r;
	}
	return vmi_strbuf_end(&c.sb, buf, len);
}

/* ---- meminfo ---------------------------------------------------------------- */

static void show_val_kb(struct strbuf *sb, const char *label, uint64_t kb)
{
	vmi_strbuf_printf(sb, "%-15s %8llu kB\n", label, (ull)kb);
}

void vm_get_meminfo(const struct vm_engine *e, struct vm_meminfo *m)
{
	const unsigned kshift = VM_PAGE_SHIFT - 10;
	struct vm_stats s;

	vm_get_stats(e, &s);
	memset(m, 0, sizeof(*m));
	m->mem_total = s.total_pages << kshift;
	m->mem_free = s.free_pages << kshift;
	m->has_highmem = e->layout->has_highmem;
	if (m->has_highmem) {
		m->high_total = s.high_total << kshift;
		m->high_free = s.high_free << kshift;
		m->low_total = (s.total_pages - s.high_total) << kshift;
		m->low_free = (s.free_pages - s.high_free) << kshift;
	}
	m->page_tables = s.pagetable_pages << kshift;
	m->vmalloc_total = (s.vmalloc_end - s.vmalloc_start) >> 10;
	/* 4.4 dropped the walk behind VmallocUsed and VmallocChunk, both 0
	 * since; 5.3 brought VmallocUsed back as the vmalloc'd pages. */
	m->vmalloc_used = e->k->meminfo_vmalloc_used ? s.vmalloc_pages << kshift : 0;
	m->vmalloc_chunk = 0;
}

/* meminfo_proc_show(), the lines the engine models, in its order: the High
 * and Low lines exist with CONFIG_HIGHMEM only. */
int vm_show_meminfo(const struct vm_engine *e, char **buf, size_t *len)
{
	struct vm_meminfo m;
	struct strbuf sb;

	if (!e || !buf || !len)
		return -EINVAL;
	vm_get_meminfo(e, &m);
	vmi_strbuf_begin(&sb);
	show_val_kb(&sb, "MemTotal:", m.mem_total);
	show_val_kb(&sb, "MemFree:", m.mem_free);
	if (m.has_highmem) {
		show_val_kb(&sb, "HighTotal:", m.high_total);
		show_val_kb(&sb, "HighFree:", m.high_free);
		show_val_kb(&sb, "LowTotal:", m.low_total);
		show_val_kb(&sb, "LowFree:", m.low_free);
	}
	show_val_kb(&sb, "PageTables:", m.page_tables);
	show_val_kb(&sb, "VmallocTotal:", m.vmalloc_total);
	show_val_kb(&sb, "VmallocUsed:", m.vmalloc_used);
	show_val_kb(&sb, "VmallocChunk:", m.vmalloc_chunk);
	return vmi_strbuf_end(&sb, buf, len);
}

/* ---- buddyinfo and fragmentation -------------------------------------------- */

struct show_ctx {
	struct strbuf sb;
	int which;
};

enum { SHOW_BUDDY, SHOW_UNUSABLE, SHOW_EXTFRAG };

/* Free pages, free blocks, and blocks that could serve `order`. */
static void contig_info(const struct vm_zone_info *z, unsigned order, uint64_t *free_pages,
			uint64_t *blocks_total, uint64_t *blocks_suitable)
{
	*free_pages = *blocks_total = *blocks_suitable = 0;
	for (unsigned o = 0; o < VM_NR_ORDERS; o++) {
		*blocks_total += z->nr_free[o];
		*free_pages += z->nr_free[o] << o;
		if (o >= order)
			*blocks_suitable += z->nr_free[o] << (o - order);
	}
}

int vm_unusable_index(const struct vm_zone_info *z, unsigned order, int *ret_index)
{
	uint64_t free_pages, total, suitable;

	if (!z || !ret_index || order > VM_MAX_PAGE_ORDER)
		return -EINVAL;
	contig_info(z, order, &free_pages, &total, &suitable);
	/* No free memory at all counts as all of it unusable. */
	if (!free_pages)
		*ret_index = 1000;
	else
		*ret_index = (int)((free_pages - (suitable << order)) * 1000 / free_pages);
	return 0;
}

int vm_extfrag_index(const struct vm_zone_info *z, unsigned order, int *ret_index)
{
	uint64_t free_pages, total, suitable, requested = 1ull << order;

	if (!z || !ret_index || order > VM_MAX_PAGE_ORDER)
		return -EINVAL;
	contig_info(z, order, &free_pages, &total, &suitable);
	if (!total)
		*ret_index = 0;
	/* A suitable block exists: failure would not be fragmentation's fault. */
	else if (suitable)
		*ret_index = -1000;
	else
		*ret_index = 1000 - (int)((1000 + free_pages * 1000 / requested) / total);
	return 0;
}

static int show_zone(void *ctx, const struct vm_zone_info *z)
{
	struct show_ctx *c = ctx;

	vmi_strbuf_printf(&c->sb, "Node %d, zone %8s ", z->node, z->name);
	for (unsigned o = 0; o < VM_NR_ORDERS; o++) {
		int idx;

		switch (c->which) {
		case SHOW_BUDDY:
			vmi_strbuf_printf(&c->sb, "%6llu ", (unsigned long long)z->nr_free[o]);
			break;
		case SHOW_UNUSABLE:
			vm_unusable_index(z, o, &idx);
			vmi_strbuf_printf(&c->sb, "%d.%03d ", idx / 1000, idx % 1000);
			break;
		default:
			vm_extfrag_index(z, o, &idx);
			vmi_strbuf_printf(&c->sb, "%2d.%03d ", idx / 1000, abs(idx % 1000));
			break;
		}
	}
	vmi_strbuf_printf(&c->sb, "\n");
	return 0;
}

static int show_zones(const struct vm_engine *e, int which, char **buf, size_t *len)
{
	struct show_ctx c = { .which = which };

	if (!e || !buf || !len)
		return -EINVAL;
	vmi_strbuf_begin(&c.sb);
	vm_for_each_zone(e, show_zone, &c);
	return vmi_strbuf_end(&c.sb, buf, len);
}

int vm_show_buddyinfo(const struct vm_engine *e, char **buf, size_t *len)
{
	return show_zones(e, SHOW_BUDDY, buf, len);
}

int vm_show_unusable_index(const struct vm_engine *e, char **buf, size_t *len)
{
	return show_zones(e, SHOW_UNUSABLE, buf, len);
}

int vm_show_extfrag_index(const struct vm_engine *e, char **buf, size_t *len)
{
	return show_zones(e, SHOW_EXTFRAG, buf, len);
}
