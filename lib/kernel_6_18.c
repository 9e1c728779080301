/* kernel_6_18.c -- Linux 6.18: mm/vmalloc.c and the page allocator policy it
 * relies on, as one table.  The default kernel.
 *
 *   KVA         the augmented free tree (lowest match in O(log n), 5.2+);
 *               per-CPU vmap nodes (6.9+): freed ranges wait on the lazy
 *               list of the node that asked for them, and a purge puts
 *               those of up to 256 pages into that node's size pools,
 *               reused last in, first out; each purge decays a quarter of
 *               every pool back to the free tree (decay_va_pool_node)
 *   purge       a vfree taking vmap_lazy_nr over lazy_max_pages() queues
 *               drain_vmap_work (5.9+): the purge runs after the vfree
 *   alloc fail  alloc_vmap_area() purges once (emptying the pools) and
 *               retries, whenever the gfp may block
 *   pages       the bulk order-0 allocator (5.13+); __GFP_NOFAIL's last
 *               attempt gets ALLOC_MIN_RESERVE: half of each zone's min
 *   watermarks  ZONE_MOVABLE is capped like HighMem; min_free_kbytes is
 *               clamped to [128, 262144]
 *   vmap        VM_NO_GUARD is dropped with a warning
 *   vm_map_ram  vm_unmap_aliases() flushes every block's dirty range and
 *               purges a fragmented block only when under a quarter of it
 *               is free (6.5+)
 *   percpu      chunks slotted by their largest free run; block metadata
 *               of 32 bytes a page and memcg object extensions (so four
 *               vmalloc'd maps a chunk); kvfree_rcu() exists (5.9+)
 *   /proc       VmallocUsed counts vmalloc pages, VmallocChunk is 0;
 *               vmallocinfo is printed vmap node by vmap node, then the
 *               "unpurged vm_area" ranges node by node
 *   warnings    "vmalloc error: size N, ..." (warn_alloc, 5.13+) and
 *               "vmalloc_node_range for size N failed: ..." (alloc_vmap_area)
 */
#include "vm-internal.h"

typedef unsigned long long ull;

static void warn_6_18(struct vm_engine *e, enum vmalloc_fail why, const struct vmalloc_fail_info *f)
{
	bool nowarn = f->gfp & __GFP_NOWARN;

	switch (why) {
	case VMF_ZERO:
		/* WARN_ON_ONCE(!size): a backtrace, once, whatever the gfp. */
		if (vmi_warn_once(e, WARN_VMALLOC_ZERO_SIZE))
			vmi_log(e, VM_LOG_WARNING,
				"WARNING: CPU: %u PID: %u at mm/vmalloc.c __vmalloc_node_range_noprof: !size",
				e->cur_cpu, e->cur_pid);
		return;
	case VMF_VMAP_NO_GUARD:
		if (vmi_warn_once(e, WARN_VMAP_NO_GUARD))
			vmi_log(e, VM_LOG_WARNING,
				"WARNING: CPU: %u PID: %u at mm/vmalloc.c vmap: flags & VM_NO_GUARD",
				e->cur_cpu, e->cur_pid);
		return;
	case VMF_KVA:
		/* Only the overflow path of a request that may sleep says so. */
		if (!nowarn && (f->gfp & __GFP_DIRECT_RECLAIM))
			vmi_log(e, VM_LOG_WARNING,
				"vmalloc_node_range for size %llu failed: Address range restricted to %#llx - %#llx",
				(ull)f->kva_size, (ull)f->vstart, (ull)f->vend);
		return;
	default:
		break;
	}
	if (nowarn)
		return;
	switch (why) {
	case VMF_TOO_BIG:
		vmi_log(e, VM_LOG_WARNING, "vmalloc error: size %llu, exceeds total pages",
			(ull)f->size);
		break;
	case VMF_VM_STRUCT:
		vmi_log(e, VM_LOG_WARNING, "vmalloc error: size %llu, vm_struct allocation failed",
			(ull)f->size);
		break;
	case VMF_PAGE_ARRAY:
		vmi_log(e, VM_LOG_WARNING,
			"vmalloc error: size %llu, failed to allocated page array size %llu",
			(ull)(f->nr_pages << VM_PAGE_SHIFT), (ull)f->array_size);
		break;
	case VMF_PAGES:
		vmi_log(e, VM_LOG_WARNING, "vmalloc error: size %llu, failed to allocate pages",
			(ull)(f->nr_pages << VM_PAGE_SHIFT));
		break;
	case VMF_MAP:
		vmi_log(e, VM_LOG_WARNING, "vmalloc error: size %llu, failed to map pages",
			(ull)(f->nr_pages << VM_PAGE_SHIFT));
		break;
	default:
		break;
	}
}

const struct kernel_table vmi_kernel_6_18 = {
	.id = VM_KERNEL_6_18,
	.name = "6.18",
	.kva = &vmi_kva_vmap_nodes,
	.vmap_nodes = true,
	.purge_timing = PURGE_DEFERRED,
	.purge_nonblocking = false,
	.pages = PAGES_BULK,
	.nofail_reserve_shift = 1,
	.movable_is_lowmem = false,
	.min_free_kbytes_max = 262144,
	.vmap_drops_no_guard = true,
	.vm_flags_mask = VM_USERMAP | VM_NO_GUARD | VM_DMA_COHERENT,
	.meminfo_vmalloc_used = true,
	.vmallocinfo_dma_coherent = true,
	.vmallocinfo_unpurged = true,
	.vb_unmap_aliases_every_block = true,
	.kvfree_rcu = true,
	.pcpu_slot_by_contig = true,
	.pcpu_fail_move = true,
	.pcpu_md_block_bytes = 32,       /* eight ints: scan and contig hints, free edges, nr_bits */
	.pcpu_obj_ext_bytes = 8,         /* struct pcpuobj_ext: an obj_cgroup pointer */
	/* As /proc/vmallocinfo of a 6.18 x86_64 kernel shows them. */
	.pcpu_map_callers = {
		"pcpu_create_chunk+0x56/0x230", "pcpu_create_chunk+0x80/0x230",
		"pcpu_create_chunk+0xa0/0x230", "pcpu_create_chunk+0x217/0x230",
	},
	.pcpu_vm_caller = "pcpu_get_vm_areas+0x0/0x1060",
	.warn = warn_6_18,
	/* lib/test_vmalloc.c: eleven cases (fix_size 1 .. vm_map_ram 1024),
	 * run_test_mask 7 by default, align_shift_alloc_test expected to fail
	 * and counted as "xfailed". */
	.test_vmalloc = {
		.cases = 0x7ff, .default_mask = 7, .xfail = 1u << 6, .summary_xfailed = true,
	},
};
