/* vmalloc.c -- the vmalloc family: vm_struct descriptors, the page array,
 * pages from the buddy allocator, mapping through the page tables, vfree
 * with lazy KVA release, vmap/vunmap, vrealloc, and access through the
 * tables.
 *
 *   vm___vmalloc_node_range
 *     -> vmalloc_node_range     (__vmalloc_node_range_noprof)
 *        -> vmi_alloc_vmap_area (__get_vm_area_node: KVA with guard page)
 *        -> vmalloc_page_array  (a vmalloc area of its own when longer than
 *                                a page: vmalloc_node_range again, same caller)
 *        -> vmalloc_area_pages  (__vmalloc_area_node: __GFP_HIGHMEM added
 *                                unless DMA/DMA32; bulk or one at a time)
 *        -> vmi_map_pages
 *
 * What differs between kernels (page sourcing, warnings, the vm_struct
 * flags a caller may pass, vmap's VM_NO_GUARD) comes from e->k.
 *
 * Invariant: a call that fails gives back every page, page table,
 * descriptor and KVA range it took before it returns, so every area, frame,
 * table and free range is as it was.  (The kernel hands a half-built area to
 * vfree, which leaves its KVA lazy; here it goes straight back.)  What a
 * failed call may leave changed, as the kernel's would: the failure and
 * purge counters (nr_alloc_failures; nr_purges and nr_tlb_flushes when it
 * purged: the deferred work due at its start, or the purge-and-retry of a
 * KVA search that found no room, both of which free lazy ranges), the
 * once-only warnings (warned_once), the interned caller string, and the
 * object caches' slabs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"
#include "vmap_busy.h"

#define PAGE_ALIGN(x) (((x) + VM_PAGE_SIZE - 1) & ~(VM_PAGE_SIZE - 1))

/* The kernel's GFP_RECLAIM_MASK: the bits a nested allocation keeps. */
#define GFP_RECLAIM_MASK (__GFP_RECLAIM | __GFP_HIGH | __GFP_IO | __GFP_FS | __GFP_NOWARN | \
			  __GFP_RETRY_MAYFAIL | __GFP_NOFAIL | __GFP_NORETRY | __GFP_MEMALLOC)

static void warn(struct vm_engine *e, enum vmalloc_fail why, const struct vmalloc_fail_info *f)
{
	e->k->warn(e, why, f);
}

static void fill_info(const struct vm_engine *e, const struct vm_struct *vm,
		      struct vm_area_info *info)
{
	memset(info, 0, sizeof(*info));
	info->addr = vm->addr;
	info->size = vm->size;
	info->flags = vm->flags;
	info->prot = vm->prot;
	info->nr_pages = vm->nr_pages;
	info->phys_addr = vm->phys_addr;
	info->uid = vm->uid;
	info->pid = vm->pid;
	info->cookie = vm->cookie;
	info->caller = vm->caller;
	if (e->nr_nodes == 1)
		info->nr_per_node[0] = (uint32_t)vm->nr_pages;
	else
		for (uint64_t i = 0; i < vm->nr_pages; i++)
			info->nr_per_node[vmi_pfn_node(e, vm->pages[i])]++;
	for (const struct vm_struct *a = vm->array_vm; a; a = a->array_vm)
		info->nr_array_pages += a->nr_pages;
}

static struct vm_struct *vm_struct_alloc(struct vm_engine *e, uint64_t nr_pages)
{
	struct vm_struct *vm = vmi_cache_alloc(&e->vm_cache);

	if (!vm)
		return NULL;
	memset(vm, 0, sizeof(*vm));
	if (nr_pages <= 1) {
		vm->pages = &vm->page_inline;
	} else {
		vm->pages = malloc(nr_pages * sizeof(*vm->pages));
		if (!vm->pages) {
			vmi_cache_free(&e->vm_cache, vm);
			return NULL;
		}
	}
	vm->caller = e->cur_caller;
	vmi_caller_get(vm->caller);
	vm->uid = e->cur_uid;
	vm->pid = e->cur_pid;
	vm->cookie = e->cur_cookie;
	return vm;
}

static void vm_struct_free(struct vm_engine *e, struct vm_struct *vm)
{
	if (vm->pages != &vm->page_inline)
		free(vm->pages);
	vmi_caller_put(&e->callers, vm->caller);
	vmi_cache_free(&e->vm_cache, vm);
}

static void free_area_pages(struct vm_engine *e, struct vm_struct *vm, uint64_t nr)
{
	vmi_free_pages_bulk(e, vm->pages, nr);
}

/* A block of 2^order frames becomes 2^order independent order-0 pages. */
static void split_page(struct vm_engine *e, uint64_t pfn, unsigned order)
{
	for (uint64_t i = 0; i < (1ull << order); i++) {
		struct page *p = pfn_to_page(e, pfn + i);

		p->flags |= PG_head;
		p->order = 0;
	}
}

/* Fill vm->pages with nr frames.  -ENOMEM with nothing taken on failure,
 * *ret_done saying how many it had taken. */
static int vmalloc_area_pages(struct vm_engine *e, struct vm_struct *vm, uint64_t nr,
			      gfp_t gfp, int node, uint64_t *ret_done)
{
	uint64_t i = 0, pfn;

	/* One page: one call, whatever the kernel's way for many. */
	if (nr == 1 && e->cfg.page_policy == VM_POLICY_ORDER0) {
		if (vmi_alloc_pages(e, gfp, 0, node, PG_vmalloc, &pfn) < 0) {
			*ret_done = 0;
			return -ENOMEM;
		}
		vm->pages[0] = (uint32_t)pfn;
		return 0;
	}
	/* The bulk allocator: the same frames the loop below would take, in
	 * one walk of the zonelist. */
	if (e->cfg.page_policy == VM_POLICY_ORDER0 && e->k->pages == PAGES_BULK && nr > 1) {
		i = vmi_alloc_pages_bulk(e, gfp, node, PG_vmalloc, nr, vm->pages);
		if (i == nr)
			return 0;
		free_area_pages(e, vm, i);
		*ret_done = i;
		return -ENOMEM;
	}
	while (i < nr) {
		unsigned order = 0;
		int r = -ENOMEM;

		if (e->cfg.page_policy == VM_POLICY_HIGH_ORDER_FIRST) {
			order = VM_MAX_PAGE_ORDER;
			while (order > 0 && (1ull << order) > nr - i)
				order--;
			for (; order > 0; order--) {
				r = vmi_alloc_pages(e, gfp | __GFP_NOWARN | __GFP_NORETRY, order,
						    node, PG_vmalloc, &pfn);
				if (r == 0)
					break;
			}
		}
		if (order == 0)
			r = vmi_alloc_pages(e, gfp, 0, node, PG_vmalloc, &pfn);
		if (r < 0) {
			free_area_pages(e, vm, i);
			*ret_done = i;
			return r;
		}
		if (order)
			split_page(e, pfn, order);
		for (uint64_t k = 0; k < (1ull << order); k++)
			vm->pages[i++] = (uint32_t)(pfn + k);
	}
	return 0;
}

static uint64_t page_array_bytes(const struct vm_engine *e, uint64_t nr_pages)
{
	return nr_pages * e->layout->ptr_size;
}

uint64_t vm_page_array_pages(const struct vm_engine *e, uint64_t nr_pages)
{
	uint64_t bytes, pages;

	if (!e)
		return 0;
	bytes = page_array_bytes(e, nr_pages);
	if (bytes <= VM_PAGE_SIZE)
		return 0;
	pages = PAGE_ALIGN(bytes) >> VM_PAGE_SHIFT;
	return pages + vm_page_array_pages(e, pages);
}

static int check_range(const struct vm_engine *e, uint64_t *start, uint64_t *end)
{
	if (*start == 0 && *end == 0) {
		*start = e->layout->vmalloc_start;
		*end = e->layout->vmalloc_end;
		return 0;
	}
	if (*start >= *end || *start < e->layout->vmalloc_start || *end > e->layout->vmalloc_end)
		return -EINVAL;
	return 0;
}

/* A request the arguments of which are checked. */
struct area_req {
	uint64_t size;             /* bytes asked for */
	uint64_t align;            /* a power of two, at least a page */
	uint64_t start, end;       /* the KVA window */
	gfp_t gfp;
	uint32_t prot, vm_flags;
	int node;
	const char *caller;        /* interned; NULL: the current one */
	bool page_array;           /* this is another area's page array */
};

/* Unmap and free a complete area now, its KVA straight back (a failed call
 * undoing what it built). */
static void free_area_now(struct vm_engine *e, struct vm_struct *vm)
{
	vmi_unmap_range(e, vm->addr, vm->nr_pages);
	free_area_pages(e, vm, vm->nr_pages);
	VMI_SUB(e, e->vmalloc_pages, vm->nr_pages);
	vmi_free_vmap_area(e, vm->va);
	if (vm->array_vm)
		free_area_now(e, vm->array_vm);
	vm_struct_free(e, vm);
}

/* The kernel's warning for a failure of q (the facts it prints, filled here
 * so that the way that succeeds builds none of them). */
static void warn_area(struct vm_engine *e, enum vmalloc_fail why, const struct area_req *q,
		      uint64_t kva_size, uint64_t array_size, uint64_t done)
{
	struct vmalloc_fail_info f = {
		.gfp = q->gfp, .size = q->size, .nr_pages = PAGE_ALIGN(q->size) >> VM_PAGE_SHIFT,
		.kva_size = kva_size, .array_size = array_size, .done = done,
	};

	warn(e, why, &f);
}

static int vmalloc_page_array(struct vm_engine *e, struct vm_struct *vm, const struct area_req *q,
			      uint64_t nr_pages) __attribute__((noinline));

/* Inlined into its two callers (a request, and the page array of one), so
 * that the way every request takes is one frame; the recursion goes
 * through vmalloc_page_array(). */
static inline __attribute__((always_inline))
int vmalloc_node_range(struct vm_engine *e, const struct area_req *q, struct vm_struct **ret_vm)
{
	uint64_t size = PAGE_ALIGN(q->size), nr_pages = size >> VM_PAGE_SHIFT, guard, done = 0;
	gfp_t gfp_pages = q->gfp;
	struct vm_struct *vm;
	struct vmap_area *va;
	int r;

	if (nr_pages > e->nr_pages) {
		warn_area(e, VMF_TOO_BIG, q, 0, 0, 0);
		return -ENOMEM;
	}
	guard = (q->vm_flags & VM_NO_GUARD) ? 0 : VM_PAGE_SIZE;
	vm = vm_struct_alloc(e, nr_pages);
	if (!vm) {
		warn_area(e, VMF_VM_STRUCT, q, 0, 0, 0);
		return -ENOMEM;
	}
	r = vmi_alloc_vmap_area(e, size + guard, q->align, q->start, q->end, q->gfp, &va);
	if (r < 0) {
		warn_area(e, VMF_VM_STRUCT, q, 0, 0, 0);
		goto fail_vm;
	}
	vm->addr = va->va_start;
	vm->size = size + guard;
	vm->flags = VM_ALLOC | VM_UNINITIALIZED | q->vm_flags |
		    (q->page_array ? VM_PAGE_ARRAY : e->cur_vm_flags);
	vm->prot = q->prot;
	vm->nr_pages = nr_pages;
	vm->requested_size = q->size;
	vm->va = va;
	if (q->caller) {
		vmi_caller_put(&e->callers, vm->caller);
		vm->caller = q->caller;
		vmi_caller_get(vm->caller);
	}

	/* The page array: the kernel kmallocs it if it fits a page, else
	 * vmallocs it (strictly bounded recursion), zeroed, with the
	 * request's reclaim bits only. */
	if (page_array_bytes(e, nr_pages) > VM_PAGE_SIZE) {
		r = vmalloc_page_array(e, vm, q, nr_pages);
		if (r < 0) {
			warn_area(e, VMF_PAGE_ARRAY, q, 0, page_array_bytes(e, nr_pages), 0);
			goto fail_va;
		}
	}

	/* Lowmem is precious: an area's pages come from HighMem where there
	 * is any, unless the caller asked for DMA or DMA32. */
	if (!(gfp_pages & (__GFP_DMA | __GFP_DMA32)))
		gfp_pages |= __GFP_HIGHMEM;
	r = vmalloc_area_pages(e, vm, nr_pages, gfp_pages | __GFP_NOWARN, q->node, &done);
	if (r < 0) {
		warn_area(e, VMF_PAGES, q, size + guard, 0, done);
		goto fail_array;
	}
	r = vmi_map_pages(e, vm->addr, vm->pages, nr_pages, vm->prot);
	if (r < 0) {
		free_area_pages(e, vm, nr_pages);
		warn_area(e, VMF_MAP, q, size + guard, 0, nr_pages);
		goto fail_array;
	}
	vm->flags &= ~VM_UNINITIALIZED;
	va->vm = vm;
	e->vmalloc_pages += nr_pages;
	*ret_vm = vm;
	return 0;

fail_array:
	if (vm->array_vm)
		free_area_now(e, vm->array_vm);
fail_va:
	vmi_free_vmap_area(e, va);
fail_vm:
	vm_struct_free(e, vm);
	return r;
}

/* The page array of vm (nr_pages pointers) as an area of its own. */
static int vmalloc_page_array(struct vm_engine *e, struct vm_struct *vm, const struct area_req *q,
			      uint64_t nr_pages)
{
	struct area_req aq = {
		.size = page_array_bytes(e, nr_pages), .align = VM_PAGE_SIZE,
		.start = e->layout->vmalloc_start, .end = e->layout->vmalloc_end,
		.gfp = (q->gfp & GFP_RECLAIM_MASK) | __GFP_ZERO, .prot = PAGE_KERNEL,
		.node = q->node, .caller = vm->caller, .page_array = true,
	};

	return vmalloc_node_range(e, &aq, &vm->array_vm);
}

int vm___vmalloc_node_range(struct vm_engine *e, const struct vm_alloc_req *req,
			    uint64_t *ret_addr)
{
	struct area_req q;
	struct vm_struct *vm;
	bool logged;
	int r;

	VMI_CALL(e);
	if (!e || !req || !ret_addr)
		return -EINVAL;
	vmi_run_due_work(e);
	q = (struct area_req){
		.size = req->size, .align = req->align < VM_PAGE_SIZE ? VM_PAGE_SIZE : req->align,
		.start = req->start, .end = req->end, .gfp = req->gfp, .prot = req->prot,
		.vm_flags = req->vm_flags, .node = req->node,
	};
	if (req->size == 0) {
		warn(e, VMF_ZERO, &(struct vmalloc_fail_info){ .gfp = req->gfp });
		r = -EINVAL;
		goto fail;
	}
	/* Arguments the kernel would BUG on or refuse without trying: the
	 * KVA search fails and its caller says so. */
	r = vmi_check_gfp(e, req->gfp, req->node);
	if (r == 0 && (req->vm_flags & ~e->k->vm_flags_mask))
		r = -EINVAL;
	if (r == 0 && (req->prot & ~(uint32_t)PAGE_KERNEL_EXEC))
		r = -EINVAL;
	if (r == 0 && (req->align & (req->align - 1)))
		r = -EINVAL;
	if (r == 0 && (req->size > UINT64_MAX - (VM_PAGE_SIZE - 1) ||
		       PAGE_ALIGN(req->size) > UINT64_MAX -
		       ((req->vm_flags & VM_NO_GUARD) ? 0 : VM_PAGE_SIZE)))
		r = -EINVAL;	/* the size or its guard page would wrap */
	if (r == 0)
		r = check_range(e, &q.start, &q.end);
	if (r < 0) {
		warn(e, VMF_VM_STRUCT, &(struct vmalloc_fail_info){ .gfp = req->gfp, .size = req->size });
		goto fail;
	}
	if (req->caller) {
		r = vmi_caller_intern(&e->callers, req->caller, &q.caller);
		if (r < 0)
			goto fail;
	}
	/* An area with a page array of its own maps that area first: if
	 * the call then fails, the tables made for it go too. */
	logged = page_array_bytes(e, PAGE_ALIGN(q.size) >> VM_PAGE_SHIFT) > VM_PAGE_SIZE;
	if (logged)
		vmi_pgtable_log_begin(e);
	r = vmalloc_node_range(e, &q, &vm);
	if (logged)
		vmi_pgtable_log_end(e, r < 0);
	/* The area holds its own reference. */
	vmi_caller_put(&e->callers, q.caller);
	if (r < 0)
		goto fail;
	/* __GFP_ZERO's holes are made before the call returns, so that the
	 * frames memfd never holds an owner's stale bytes between calls (a
	 * replay after a crash trusts it). */
	vmi_punch_flush(e);
	*ret_addr = vm->addr;
	return 0;
fail:
	vmi_punch_flush(e);
	e->nr_alloc_failures++;
	return r;
}

int vmi_vmalloc_internal(struct vm_engine *e, uint64_t size, gfp_t gfp, const char *caller,
			 uint32_t mark, struct vm_struct **ret_vm)
{
	struct area_req q = {
		.size = size, .align = VM_PAGE_SIZE, .start = e->layout->vmalloc_start,
		.end = e->layout->vmalloc_end, .gfp = gfp, .prot = PAGE_KERNEL, .node = NUMA_NO_NODE,
	};
	struct vm_struct *vm;
	bool logged;
	int r;

	r = vmi_caller_intern(&e->callers, caller, &q.caller);
	if (r < 0)
		return r;
	logged = page_array_bytes(e, PAGE_ALIGN(size) >> VM_PAGE_SHIFT) > VM_PAGE_SIZE;
	if (logged)
		vmi_pgtable_log_begin(e);
	r = vmalloc_node_range(e, &q, &vm);
	if (logged)
		vmi_pgtable_log_end(e, r < 0);
	if (r < 0)
		return r;
	for (struct vm_struct *a = vm; a; a = a->array_vm)
		a->flags |= mark;
	*ret_vm = vm;
	return 0;
}

static int vmalloc_common(struct vm_engine *e, uint64_t size, gfp_t gfp, int node,
			  uint32_t vm_flags, uint64_t *ret_addr)
{
	struct vm_alloc_req req = {
		.size = size, .align = VM_PAGE_SIZE, .gfp = gfp, .prot = PAGE_KERNEL,
		.vm_flags = vm_flags, .node = node,
	};

	return vm___vmalloc_node_range(e, &req, ret_addr);
}

/* GFP_VMALLOC32: DMA32 frames where the layout has the zone; on i386
 * __GFP_DMA32 means Normal, and keeps the area path from adding HighMem. */
#define GFP_VMALLOC32 (GFP_KERNEL | GFP_DMA32)

int vm_vmalloc(struct vm_engine *e, uint64_t size, uint64_t *ret_addr)
{
	return vmalloc_common(e, size, GFP_KERNEL, NUMA_NO_NODE, 0, ret_addr);
}

int vm_vzalloc(struct vm_engine *e, uint64_t size, uint64_t *ret_addr)
{
	return vmalloc_common(e, size, GFP_KERNEL | __GFP_ZERO, NUMA_NO_NODE, 0, ret_addr);
}

int vm_vmalloc_node(struct vm_engine *e, uint64_t size, int node, uint64_t *ret_addr)
{
	return vmalloc_common(e, size, GFP_KERNEL, node, 0, ret_addr);
}

int vm_vzalloc_node(struct vm_engine *e, uint64_t size, int node, uint64_t *ret_addr)
{
	return vmalloc_common(e, size, GFP_KERNEL | __GFP_ZERO, node, 0, ret_addr);
}

int vm_vmalloc_32(struct vm_engine *e, uint64_t size, uint64_t *ret_addr)
{
	return vmalloc_common(e, size, GFP_VMALLOC32, NUMA_NO_NODE, 0, ret_addr);
}

int vm_vmalloc_user(struct vm_engine *e, uint64_t size, uint64_t *ret_addr)
{
	return vmalloc_common(e, size, GFP_KERNEL | __GFP_ZERO, NUMA_NO_NODE, VM_USERMAP, ret_addr);
}

int vm_vmalloc_32_user(struct vm_engine *e, uint64_t size, uint64_t *ret_addr)
{
	return vmalloc_common(e, size, GFP_VMALLOC32 | __GFP_ZERO, NUMA_NO_NODE, VM_USERMAP,
			      ret_addr);
}

int vm___vmalloc(struct vm_engine *e, uint64_t size, gfp_t gfp, uint64_t *ret_addr)
{
	return vmalloc_common(e, size, gfp, NUMA_NO_NODE, 0, ret_addr);
}

/* ---- freeing ---------------------------------------------------------------- */

static void remove_area(struct vm_engine *e, struct vm_struct *vm)
{
	vmi_unmap_range(e, vm->addr, vm->nr_pages);
	vmi_free_vmap_area_lazy(e, vm->va);
}

static void vfree_page_array(struct vm_engine *e, struct vm_struct *array_vm)
	__attribute__((noinline));

/* vfree() of a live VM_ALLOC area: KVA lazy, pages back, then the page
 * array (kvfree(area->pages)), which may be an area of its own. */
static inline __attribute__((always_inline)) void vfree_area(struct vm_engine *e, struct vm_struct *vm)
{
	remove_area(e, vm);
	free_area_pages(e, vm, vm->nr_pages);
	VMI_SUB(e, e->vmalloc_pages, vm->nr_pages);
	if (vm->array_vm)
		vfree_page_array(e, vm->array_vm);
	vm_struct_free(e, vm);
}

static void vfree_page_array(struct vm_engine *e, struct vm_struct *array_vm)
{
	vfree_area(e, array_vm);
}

void vmi_vfree_vm(struct vm_engine *e, struct vm_struct *vm)
{
	vfree_area(e, vm);
}

void vmi_vfree_now(struct vm_engine *e, struct vm_struct *vm)
{
	free_area_now(e, vm);
}

int vm_vfree(struct vm_engine *e, uint64_t addr)
{
	struct vmap_area *va;
	struct vm_struct *vm;

	VMI_CALL(e);
	if (!e)
		return -EINVAL;
	if (!addr)
		return 0;
	vmi_run_due_work(e);
	va = vmi_find_busy_va_start(e, addr);
	if (!va || !va->vm ||
	    (va->vm->flags & (VM_ALLOC | VM_PAGE_ARRAY | VM_PERCPU | VM_KVFREE_RCU)) != VM_ALLOC)
		return -EINVAL;
	vm = va->vm;
	vfree_area(e, vm);
	vmi_punch_flush(e);
	return 0;
}

/* ---- vmap ------------------------------------------------------------------- */

int vm_vmap(struct vm_engine *e, const uint64_t *pfns, uint64_t count, uint32_t flags,
	    uint32_t prot, uint64_t *ret_addr)
{
	struct vm_struct *vm;
	struct vmap_area *va;
	uint64_t i, guard;
	int r;

	VMI_CALL(e);
	if (!e || !pfns || !ret_addr || count == 0 || count > e->nr_pages)
		return -EINVAL;
	if ((flags & ~e->k->vm_flags_mask) || (prot & ~(uint32_t)PAGE_KERNEL_EXEC))
		return -EINVAL;
	vmi_run_due_work(e);
	/* "Your top guard is someone else's bottom guard" (6.18). */
	if ((flags & VM_NO_GUARD) && e->k->vmap_drops_no_guard) {
		e->k->warn(e, VMF_VMAP_NO_GUARD, &(struct vmalloc_fail_info){ .gfp = GFP_KERNEL });
		flags &= ~VM_NO_GUARD;
	}
	for (i = 0; i < count; i++) {
		const struct page *p;

		if (pfns[i] >= e->nr_pages)
			return -EINVAL;
		p = pfn_to_page(e, pfns[i]);
		if (!(p->flags & PG_user))
			return -EINVAL;
	}
	guard = (flags & VM_NO_GUARD) ? 0 : VM_PAGE_SIZE;
	vm = vm_struct_alloc(e, count);
	if (!vm)
		return -ENOMEM;
	r = vmi_alloc_vmap_area(e, (count << VM_PAGE_SHIFT) + guard, VM_PAGE_SIZE,
				e->layout->vmalloc_start, e->layout->vmalloc_end, GFP_KERNEL, &va);
	if (r < 0)
		goto fail_vm;
	/* Take the map counts last so nothing needs undoing after them but
	 * the counts themselves. */
	for (i = 0; i < count; i++) {
		struct page *p = pfn_to_page(e, pfns[i]);

		if (p->mapcount == UINT16_MAX) {
			r = -EBUSY;
			goto fail_counts;
		}
		p->mapcount++;
		vm->pages[i] = (uint32_t)pfns[i];
	}
	r = vmi_map_pages(e, va->va_start, vm->pages, count, prot);
	if (r < 0)
		goto fail_counts;
	vm->addr = va->va_start;
	vm->size = va->va_end - va->va_start;
	vm->flags = VM_MAP | flags | e->cur_vm_flags;
	vm->prot = prot;
	vm->nr_pages = count;
	vm->requested_size = count << VM_PAGE_SHIFT;
	vm->va = va;
	va->vm = vm;
	e->vmap_pages += count;
	*ret_addr = vm->addr;
	return 0;

fail_counts:
	while (i-- > 0)
		pfn_to_page(e, pfns[i])->mapcount--;
	vmi_free_vmap_area(e, va);
fail_vm:
	vm_struct_free(e, vm);
	return r;
}

int vm_vunmap(struct vm_engine *e, uint64_t addr)
{
	struct vmap_area *va;
	struct vm_struct *vm;

	VMI_CALL(e);
	if (!e)
		return -EINVAL;
	vmi_run_due_work(e);
	va = vmi_find_busy_va_start(e, addr);
	if (!va || !va->vm || !(va->vm->flags & VM_MAP))
		return -EINVAL;
	vm = va->vm;
	remove_area(e, vm);
	for (uint64_t i = 0; i < vm->nr_pages; i++)
		pfn_to_page(e, vm->pages[i])->mapcount--;
	VMI_SUB(e, e->vmap_pages, vm->nr_pages);
	vm_struct_free(e, vm);
	return 0;
}

/* ---- access through the page tables --------------------------------------------- */

/* The live area whose mapped pages hold all of [addr, addr + len). */
static int area_span(struct vm_engine *e, uint64_t addr, uint64_t len, struct vm_struct **ret_vm)
{
	struct vmap_area *va;
	struct vm_struct *vm;

	if (len && addr > UINT64_MAX - len)
		return -EINVAL;
	va = vmi_find_busy_va(e, addr);
	if (va && !va->vm && (va->flags & VA_VMAP_RAM)) {
		/* vm_map_ram(): no vm_struct; the bytes of one live mapping,
		 * which maps PAGE_KERNEL (*ret_vm NULL). */
		uint64_t start, count;

		if (!vm_is_map_ram_addr(e, addr, &start, &count) ||
		    addr + len > start + (count << VM_PAGE_SHIFT))
			return -EFAULT;
		*ret_vm = NULL;
		return 0;
	}
	if (!va || !va->vm)
		return -EFAULT;
	vm = va->vm;
	/* A per-CPU chunk has no pages of its own: its populated pages are
	 * found by the walk, the others fault. */
	if (addr + len > vm->addr + ((vm->flags & VM_PERCPU) && !vm->nr_pages ? vm->size :
				     vm->nr_pages << VM_PAGE_SHIFT))
		return -EFAULT;
	*ret_vm = vm;
	return 0;
}

/* A write of [addr, addr + len) (mapped throughout: area_span said so)
 * makes its clean frames resident: -ENOMEM, before anything is written, if
 * they would pass the limit.  The frames are found by the page tables, as
 * the copy finds them: a vm_map_ram mapping has no vm_struct and a per-CPU
 * chunk no page array. */
static int resident_reserve(struct vm_engine *e, uint64_t addr, uint64_t len)
{
	uint64_t first = addr >> VM_PAGE_SHIFT, last = (addr + len - 1) >> VM_PAGE_SHIFT;
	uint64_t clean = 0, pfn;

	/* Counting is needed only where the whole range might not fit. */
	if (vmi_resident_fits(e, last - first + 1))
		return 0;
	for (uint64_t pg = first; pg <= last; pg++)
		if (vmi_walk_pte(e, pg << VM_PAGE_SHIFT, &pfn, NULL) == 0)
			clean += !(pfn_to_page(e, pfn)->flags & PG_dirty);
	return vmi_resident_reserve(e, clean);
}

/* Copy page by page, each page found by a walk of the tables.  With
 * check_write, a first PTE without write permission (or none) is -EACCES
 * before anything is copied. */
static int kva_copy(struct vm_engine *e, uint64_t addr, void *rbuf, const void *wbuf, uint64_t len,
		    bool check_write)
{
	while (len) {
		uint64_t off = addr & (VM_PAGE_SIZE - 1);
		uint64_t n = VM_PAGE_SIZE - off, pfn;
		bool writable = true;
		int r = vmi_walk_pte(e, addr, &pfn, check_write ? &writable : NULL);

		if (check_write && (r < 0 || !writable))
			return -EACCES;
		check_write = false;
		if (r < 0)
			return -EFAULT;
		if (n > len)
			n = len;
		if (wbuf) {
			vmi_frame_dirty(e, pfn);
			if (!e->replay)
				memcpy(pfn_to_virt(e, pfn) + off, wbuf, n);
			wbuf = (const uint8_t *)wbuf + n;
		} else if (rbuf) {
			/* A clean frame is a hole: reading it through the
			 * mapping would make the host populate it. */
			if (vmi_frame_has_bytes(e, pfn))
				memcpy(rbuf, pfn_to_virt(e, pfn) + off, n);
			else
				memset(rbuf, 0, n);
			rbuf = (uint8_t *)rbuf + n;
		} else if (!e->replay && (pfn_to_page(e, pfn)->flags & PG_dirty)) {
			memset(pfn_to_virt(e, pfn) + off, 0, n);
		}
		addr += n;
		len -= n;
	}
	return 0;
}

int vm_vread(struct vm_engine *e, uint64_t addr, void *buf, uint64_t len)
{
	struct vm_struct *vm;
	int r;

	if (!e || (!buf && len))
		return -EINVAL;
	r = area_span(e, addr, len, &vm);
	if (r < 0)
		return r;
	return kva_copy(e, addr, buf, NULL, len, false);
}

int vm_vwrite(struct vm_engine *e, uint64_t addr, const void *buf, uint64_t len)
{
	struct vm_struct *vm;
	int r;

	VMI_CALL(e);
	if (!e || (!buf && len))
		return -EINVAL;
	r = area_span(e, addr, len, &vm);
	if (r < 0)
		return r;
	if (vm && !(vm->prot & VM_PROT_WRITE))
		return -EACCES;
	if (len && (r = resident_reserve(e, addr, len)) < 0)
		return r;
	/* The first page's PTE must allow the write: one walk finds the frame
	 * and checks it. */
	return kva_copy(e, addr, NULL, buf, len, true);
}

/* ---- vrealloc -------------------------------------------------------------------- */

int vm_vrealloc(struct vm_engine *e, uint64_t addr, uint64_t size, gfp_t gfp,
		uint64_t *ret_addr)
{
	struct vmap_area *va;
	struct vm_struct *vm;
	uint64_t old, naddr;
	int r;

	VMI_CALL(e);
	if (!e || !ret_addr)
		return -EINVAL;
	if (!addr)
		return vm___vmalloc(e, size, gfp, ret_addr);
	vmi_run_due_work(e);
	va = vmi_find_busy_va_start(e, addr);
	if (!va || !va->vm ||
	    (va->vm->flags & (VM_ALLOC | VM_PAGE_ARRAY | VM_PERCPU | VM_KVFREE_RCU)) != VM_ALLOC)
		return -EINVAL;
	if (vmi_check_gfp(e, gfp, NUMA_NO_NODE) < 0)
		return -EINVAL;
	if (!size) {
		r = vm_vfree(e, addr);
		if (r == 0)
			*ret_addr = 0;
		return r;
	}
	vm = va->vm;
	old = vm->requested_size;
	if (size <= (vm->nr_pages << VM_PAGE_SHIFT)) {
		/* In place.  Zero what a later grow would expose, as the kernel
		 * does when init_on_alloc/init_on_free or __GFP_ZERO ask for it. */
		if (size < old && ((gfp & __GFP_ZERO) || e->cfg.init_on_free))
			kva_copy(e, addr + size, NULL, NULL, old - size, false);
		else if (size > old && (gfp & __GFP_ZERO))
			kva_copy(e, addr + old, NULL, NULL, size - old, false);
		vm->requested_size = size;
		*ret_addr = addr;
		return 0;
	}
	r = vm___vmalloc(e, size, gfp, &naddr);
	if (r < 0)
		return r;
	/* Through one bounce page, both sides walked. */
	{
		uint8_t page[VM_PAGE_SIZE];
		uint64_t n = old < size ? old : size;

		for (uint64_t off = 0; off < n; off += VM_PAGE_SIZE) {
			uint64_t k = n - off < VM_PAGE_SIZE ? n - off : VM_PAGE_SIZE;

			kva_copy(e, addr + off, page, NULL, k, false);
			kva_copy(e, naddr + off, NULL, page, k, false);
		}
	}
	vm_vfree(e, addr);
	*ret_addr = naddr;
	return 0;
}

/* ---- lookups ---------------------------------------------------------------------- */

int vm_find_vm_area(struct vm_engine *e, uint64_t addr, struct vm_area_info *ret_info)
{
	struct vmap_area *va;

	if (!e)
		return -EINVAL;
	va = vmi_find_busy_va(e, addr);
	if (!va || !va->vm)
		return -ENOENT;
	if (ret_info)
		fill_info(e, va->vm, ret_info);
	return 0;
}

int vm_for_each_area(struct vm_engine *e, vm_area_fn *fn, void *ctx)
{
	struct vm_area_info info;

	if (!e || !fn)
		return -EINVAL;
	for (struct rb_node *n = vmi_rb_first(&e->busy_root); n; n = vmi_rb_next(n)) {
		struct vmap_area *va = rb_entry(n, struct vmap_area, rb);
		int r;

		if (!va->vm)
			continue;
		fill_info(e, va->vm, &info);
		r = fn(ctx, &info);
		if (r)
			return r;
	}
	return 0;
}

bool vm_is_vmalloc_addr(const struct vm_engine *e, uint64_t addr)
{
	return e && addr >= e->layout->vmalloc_start && addr < e->layout->vmalloc_end;
}

int vm_vmalloc_to_pfn(struct vm_engine *e, uint64_t addr, uint64_t *ret_pfn)
{
	if (!e || !ret_pfn || !vm_is_vmalloc_addr(e, addr))
		return -EINVAL;
	return vmi_walk(e, addr, ret_pfn);
}
