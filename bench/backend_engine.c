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

static int be_vmap(void *ctx, const uint64_t *pfns, uint64_t n, uint64_t *ret_addr)
{
	return vm_vmap(ctx, pfns, n, 0, PAGE_KERNEL, ret_addr);
}

static int be_vunmap(void *ctx, uint64_t addr)
{
	return vm_vunmap(ctx, addr);
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
		.vfree = be_vfree,
		.alloc_page = be_alloc_page,
		.free_page = be_free_page,
		.vmap = be_vmap,
		.vunmap = be_vunmap,
		.touch = be_touch,
	};
}
