/* backend_engine.c -- the test_vmalloc backend that calls the engine
 * directly: each operation is one public vmcore.h call, nothing cached. */
#include "backend_engine.h"

static int be_vmalloc(void *ctx, uint64_t size, uint64_t *ret_addr)
{
	return vm_vmalloc(ctx, size, ret_addr);
}

static int be_vzalloc_node_align(void *ctx, uint64_t size, uint64_t align, int node,
				 uint64_t *ret_addr)
{
	struct vm_alloc_req req = {
		.size = size, .align = align, .gfp = GFP_KERNEL | __GFP_ZERO, .prot = PAGE_KERNEL,
		.node = node,
	};

	return vm___vmalloc_node_range(ctx, &req, ret_addr);
}

static int be_vfree(void *ctx, uint64_t addr)
{
	return vm_vfree(ctx, addr);
}

static int be_alloc_page(void *ctx, uint64_t *ret_pfn)
{
	return vm_alloc_pages(ctx, GFP_KERNEL, 0, NUMA_NO_NODE, ret_pfn);
}

static int be_free_page(void *ctx, uint64_t pfn)
{
	return vm_free_pages(ctx, pfn, 0);
}

/* vmalloc_huge(): on x86_64 (PMD mappings) an area of a PMD or more is
 * aligned to and rounded up to one; the engine maps it with 4 KiB PTEs
 * all the same. */
static int be_vmalloc_huge(void *ctx, uint64_t size, uint64_t *ret_addr)
{
	struct vm_stats st;
	struct vm_alloc_req req = {
		.size = size, .align = VM_PAGE_SIZE, .gfp = GFP_KERNEL, .prot = PAGE_KERNEL,
		.node = NUMA_NO_NODE,
	};

	vm_get_stats(ctx, &st);
	if (st.layout == VM_LAYOUT_X86_64 && size >= (2ull << 20)) {
		req.align = 2ull << 20;
		req.size = (size + req.align - 1) & ~(req.align - 1);
	}
	return vm___vmalloc_node_range(ctx, &req, ret_addr);
}

static int be_vm_map_ram(void *ctx, const uint64_t *pfns, uint64_t n, uint64_t *ret_addr)
{
	return vm_map_ram(ctx, pfns, n, NUMA_NO_NODE, ret_addr);
}

static int be_vm_unmap_ram(void *ctx, uint64_t addr, uint64_t n)
{
	return vm_unmap_ram(ctx, addr, n);
}

static int be_alloc_percpu(void *ctx, uint64_t size, uint64_t align, uint64_t *ret_ptr)
{
	return vm_alloc_percpu(ctx, size, align, ret_ptr);
}

static int be_free_percpu(void *ctx, uint64_t ptr)
{
	return vm_free_percpu(ctx, ptr);
}

static int be_kvfree_rcu(void *ctx, uint64_t addr, bool head)
{
	return vm_kvfree_rcu(ctx, addr, head);
}

static int be_touch(void *ctx, uint64_t addr, uint8_t val)
{
	return vm_vwrite(ctx, addr, &val, 1);
}

void tv_backend_engine(struct tv_backend *b, struct vm_engine *e)
{
	/* No pipelined forms: a call is as cheap as it gets already. */
	*b = (struct tv_backend){
		.ctx = e,
		.vmalloc = be_vmalloc,
		.vzalloc_node_align = be_vzalloc_node_align,
		.vmalloc_huge = be_vmalloc_huge,
		.vfree = be_vfree,
		.alloc_page = be_alloc_page,
		.free_page = be_free_page,
		.vm_map_ram = be_vm_map_ram,
		.vm_unmap_ram = be_vm_unmap_ram,
		.alloc_percpu = be_alloc_percpu,
		.free_percpu = be_free_percpu,
		.kvfree_rcu = be_kvfree_rcu,
		.touch = be_touch,
	};
}

struct tv_kernel tv_kernel_of(enum vm_kernel kernel)
{
	const struct vm_test_vmalloc_desc *d = vm_kernel_test_vmalloc(kernel);
	struct tv_kernel k = TV_KERNEL_6_18;

	if (d)
		k = (struct tv_kernel){ d->cases, d->default_mask, d->xfail, d->summary_xfailed };
	return k;
}
