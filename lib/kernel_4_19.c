/* kernel_4_19.c -- Linux 4.19, the seeds' vmalloc: mm/vmalloc.c and the page
 * allocator policy it relies on, as one table.
 *
 *   KVA         busy and lazily freed ranges in one rb-tree (vmap_area_root)
 *               and the address-ordered vmap_area_list; first fit by walking
 *               that list from the free_vmap_cache hint (cached_hole_size,
 *               cached_vstart, cached_align), O(n) when the hint misses;
 *               a purge takes the lazy ranges out of the tree
 *   purge       a vfree taking vmap_lazy_nr over lazy_max_pages() purges in
 *               the same call (try_purge_vmap_area_lazy)
 *   alloc fail  alloc_vmap_area() purges once and retries, whatever the gfp
 *   pages       alloc_page() one at a time; __GFP_NOFAIL's last attempt
 *               gets ALLOC_HARDER: a quarter of each zone's min
 *   watermarks  ZONE_MOVABLE shares min_free_kbytes like lowmem (unless it
 *               is HighMem's); min_free_kbytes is clamped to [128, 65536]
 *   vmap        VM_NO_GUARD is honoured; VM_DMA_COHERENT does not exist
 *   /proc       VmallocUsed and VmallocChunk are 0 (4.4+); vmallocinfo walks
 *               vmap_area_list and prints areas with a vm_struct only, as
 *               the seeds' tree does (SPEC §3.7: no "unpurged vm_area"
 *               lines, and no "vm_map_ram" ones either: later 4.x trees
 *               print both, from one branch of s_show); the table's
 *               vmallocinfo_unpurged is the one switch between the two.
 *   vm_map_ram  vm_unmap_aliases() flushes the queued blocks' dirty ranges
 *               and purges every fragmented block
 *   percpu      chunks slotted by free bytes; block metadata of 20 bytes a
 *               page, no memcg extensions (three vmalloc'd maps a chunk);
 *               no kvfree_rcu() (5.9+)
 *   warnings    "vmalloc: allocation failure: N bytes" (__vmalloc_node_range),
 *               "vmap allocation for size N failed: ..." (alloc_vmap_area),
 *               "vmalloc: allocation failure, allocated N of M bytes"
 *               (__vmalloc_area_node)
 */
#include "vm-internal.h"

typedef unsigned long long ull;

static void warn_4_19(struct vm_engine *e, enum vmalloc_fail why, const struct vmalloc_fail_info *f)
{
	/* Every one of these goes through warn_alloc() or pr_warn() guarded by
	 * __GFP_NOWARN. */
	if (f->gfp & __GFP_NOWARN)
		return;
	switch (why) {
	case VMF_ZERO:
	case VMF_TOO_BIG:
	case VMF_VM_STRUCT:
		vmi_log(e, VM_LOG_WARNING, "vmalloc: allocation failure: %llu bytes", (ull)f->size);
		break;
	case VMF_KVA:
		vmi_log(e, VM_LOG_WARNING,
			"vmap allocation for size %llu failed: use vmalloc=<size> to increase size",
			(ull)f->kva_size);
		break;
	case VMF_PAGES:
	case VMF_MAP:
		/* area->size includes the guard page. */
		vmi_log(e, VM_LOG_WARNING, "vmalloc: allocation failure, allocated %llu of %llu bytes",
			(ull)(f->done << VM_PAGE_SHIFT), (ull)f->kva_size);
		break;
	case VMF_PAGE_ARRAY:       /* the nested vmalloc has said why */
	case VMF_VMAP_NO_GUARD:    /* honoured, not warned about */
		break;
	}
}

const struct kernel_table vmi_kernel_4_19 = {
	.id = VM_KERNEL_4_19,
	.name = "4.19",
	.kva = &vmi_kva_list,
	.vmap_nodes = false,
	.purge_timing = PURGE_IN_CALLER,
	.purge_nonblocking = true,
	.pages = PAGES_ONE_AT_A_TIME,
	.nofail_reserve_shift = 2,
	.movable_is_lowmem = true,
	.min_free_kbytes_max = 65536,
	.vmap_drops_no_guard = false,
	.vm_flags_mask = VM_USERMAP | VM_NO_GUARD,
	.meminfo_vmalloc_used = false,
	.vmallocinfo_dma_coherent = false,
	.vmallocinfo_unpurged = false,
	.vb_unmap_aliases_every_block = false,
	.kvfree_rcu = false,
	.pcpu_slot_by_contig = false,
	.pcpu_fail_move = false,
	.pcpu_md_block_bytes = 20,       /* five ints: contig hint and start, free edges, first free */
	.pcpu_obj_ext_bytes = 0,         /* no memcg accounting of per-CPU memory before 5.9 */
	/* 4.19's offsets are not known here: its lines carry 6.18's. */
	.pcpu_map_callers = {
		"pcpu_create_chunk+0x56/0x230", "pcpu_create_chunk+0x80/0x230",
		"pcpu_create_chunk+0xa0/0x230", NULL,
	},
	.pcpu_vm_caller = "pcpu_get_vm_areas+0x0/0x1060",
	.warn = warn_4_19,
	/* 4.19 had no lib/test_vmalloc.c.  The first one (5.1) measured this
	 * allocator: eight cases (fix_size 1 .. pcpu_alloc 128), every case
	 * by default, align_shift_alloc_test meant to fail and counted as
	 * failed. */
	.test_vmalloc = {
		.cases = 0xff, .default_mask = 0x7fffffff, .xfail = 1u << 6, .summary_xfailed = false,
	},
};
