/* engine.c -- creating and destroying a simulated machine, its configuration
 * (the kernel it follows and its CPU count among them), the "current"
 * identity and CPU of the calls, logging, and size parsing.
 *
 * An engine owns everything it allocates; nothing here is global, so any
 * number of engines can live side by side in one process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->memory_bytes = 1ull << 30;
	cfg->nr_nodes = 1;
	cfg->layout = VM_LAYOUT_X86_64;
	cfg->kernel = VM_KERNEL_6_18;
	cfg->nr_cpus = 1;
	cfg->lazy_max_pages = 0;
	cfg->page_policy = VM_POLICY_ORDER0;
}

int vmi_check_config(const struct vm_config *cfg)
{
	uint64_t nr_pages, per_node;

	if ((unsigned)cfg->layout >= VM_NR_LAYOUTS || !vmi_kernel(cfg->kernel))
		return -EINVAL;
	if (cfg->nr_cpus < 1 || cfg->nr_cpus > vmi_layout(cfg->layout)->max_cpus)
		return -EINVAL;
	if (cfg->nr_nodes < 1 || cfg->nr_nodes > VM_MAX_NODES)
		return -EINVAL;
	if (cfg->memory_bytes < VM_MIN_MEMORY || cfg->memory_bytes > vmi_layout(cfg->layout)->max_memory)
		return -EINVAL;
	if (cfg->page_policy != VM_POLICY_ORDER0 && cfg->page_policy != VM_POLICY_HIGH_ORDER_FIRST)
		return -EINVAL;
	nr_pages = cfg->memory_bytes >> VM_PAGE_SHIFT;
	per_node = nr_pages / cfg->nr_nodes;
	/* Every node holds at least one max-order block. */
	if (per_node < (1ull << VM_MAX_PAGE_ORDER))
		return -EINVAL;
	if (cfg->movable_bytes >= per_node << VM_PAGE_SHIFT)
		return -EINVAL;
	return 0;
}

/* lazy_max_pages(): 32 MiB of KVA per bit of the online CPU count, a log
 * scale on purpose (the kernel's comment: a larger number covers more page
 * tables per flush, but a big machine should not wait on a huge purge). */
static uint64_t lazy_max_pages(unsigned cpus)
{
	unsigned fls = 0;

	while (cpus >> fls)
		fls++;
	return fls * ((32ull << 20) >> VM_PAGE_SHIFT);
}

int vmi_engine_alloc(const struct vm_config *cfg, int frames_fd, struct vm_engine **ret_engine)
{
	struct vm_engine *e;
	int r;

	r = vmi_check_config(cfg);
	if (r < 0)
		return r;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	e->k = vmi_kernel(cfg->kernel);
	e->nr_cpus = cfg->nr_cpus;
	e->lazy_max_pages = cfg->lazy_max_pages ? cfg->lazy_max_pages : lazy_max_pages(cfg->nr_cpus);
	e->layout = vmi_layout(cfg->layout);
	e->nr_pages = cfg->memory_bytes >> VM_PAGE_SHIFT;
	e->nr_nodes = cfg->nr_nodes;
	e->memfd = -1;
	vmi_cache_init(&e->va_cache, sizeof(struct vmap_area));
	vmi_cache_init(&e->vm_cache, sizeof(struct vm_struct));

	r = vmi_physmem_init(e, frames_fd);
	if (r < 0)
		goto fail;
	r = vmi_kva_init(e);
	if (r < 0)
		goto fail;
	r = vmi_vmap_block_init(e);
	if (r < 0)
		goto fail;
	r = vmi_kvfree_rcu_init(e);
	if (r < 0)
		goto fail;
	r = vmi_percpu_init(e);
	if (r < 0)
		goto fail;
	*ret_engine = e;
	return 0;
fail:
	vm_engine_destroy(e);
	return r;
}

int vm_engine_create(const struct vm_config *cfg, struct vm_engine **ret_engine)
{
	struct vm_engine *e;
	int r;

	if (!cfg || !ret_engine)
		return -EINVAL;
	r = vmi_engine_alloc(cfg, -1, &e);
	if (r < 0)
		return r;
	/* The top-level table is the first frame the machine takes. */
	r = vmi_pgtable_init(e);
	if (r < 0) {
		vm_engine_destroy(e);
		return r;
	}
	*ret_engine = e;
	return 0;
}

void vm_engine_destroy(struct vm_engine *e)
{
	if (!e)
		return;
	/* Page arrays are the only per-area heap memory outside the caches. */
	for (struct rb_node *n = vmi_rb_first(&e->busy_root); n; n = vmi_rb_next(n)) {
		struct vmap_area *va = rb_entry(n, struct vmap_area, rb);

		if (va->vm && va->vm->pages != &va->vm->page_inline)
			free(va->vm->pages);
	}
	vm_set_replay(e, false);
	vmi_kvfree_rcu_destroy(e);
	vmi_percpu_destroy(e);
	vmi_vmap_block_destroy(e);
	vmi_pgtable_destroy(e);
	vmi_kva_destroy(e);
	vmi_physmem_destroy(e);
	vmi_cache_destroy(&e->va_cache);
	vmi_cache_destroy(&e->vm_cache);
	vmi_caller_destroy(&e->callers);
	free(e);
}

int vm_set_current(struct vm_engine *e, uint32_t uid, uint32_t pid, uint64_t cookie,
		   const char *caller)
{
	const char *interned;
	int r;

	VMI_CALL(e);
	if (!e)
		return -EINVAL;
	r = vmi_caller_intern(&e->callers, caller, &interned);
	if (r < 0)
		return r;
	e->cur_uid = uid;
	e->cur_pid = pid;
	e->cur_cookie = cookie;
	vmi_caller_put(&e->callers, e->cur_caller);
	e->cur_caller = interned;
	return 0;
}

int vm_set_current_flags(struct vm_engine *e, uint32_t vm_flags)
{
	if (!e || (vm_flags & ~VM_SCOPED))
		return -EINVAL;
	e->cur_vm_flags = vm_flags;
	return 0;
}

int vm_set_current_cpu(struct vm_engine *e, unsigned cpu)
{
	if (!e || cpu >= e->nr_cpus)
		return -EINVAL;
	e->cur_cpu = cpu;
	return 0;
}

bool vmi_warn_once(struct vm_engine *e, unsigned site)
{
	if (e->warned_once & site)
		return false;
	e->warned_once |= site;
	return true;
}

void vmi_log(struct vm_engine *e, int level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!e->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e->cfg.log(e->cfg.log_ctx, level, msg);
}

void vm_get_stats(const struct vm_engine *e, struct vm_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->total_pages = e->nr_pages;
	for (unsigned n = 0; n < e->nr_nodes; n++) {
		for (int t = 0; t < VM_NR_ZONES; t++) {
			const struct zone *z = &e->zones[n][t];

			s->free_pages += z->free_pages;
			if (t == VM_ZONE_HIGHMEM) {
				s->high_total += z->managed;
				s->high_free += z->free_pages;
			}
		}
	}
	s->pagetable_pages = e->pagetable_pages;
	s->vmalloc_start = e->layout->vmalloc_start;
	s->vmalloc_end = e->layout->vmalloc_end;
	s->vmalloc_pages = e->vmalloc_pages;
	s->vmap_pages = e->vmap_pages;
	s->largest_free_kva = vmi_largest_free(e);
	s->nr_areas = e->nr_busy - e->nr_map_ram;
	s->nr_lazy_areas = e->nr_lazy;
	s->lazy_pages = e->lazy_pages;
	s->lazy_max_pages = e->lazy_max_pages;
	s->nr_purges = e->nr_purges;
	s->nr_tlb_flushes = e->nr_tlb_flushes;
	s->nr_alloc_failures = e->nr_alloc_failures;
	s->alloc_pages_pages = e->user_pages;
	s->nr_nodes = e->nr_nodes;
	s->layout = e->cfg.layout;
	s->pt_levels = e->layout->pt_levels;
	s->kernel = e->k->id;
	s->nr_cpus = e->nr_cpus;
	s->nr_vmap_nodes = e->nr_vmap_nodes;
	s->nr_pooled_areas = e->nr_pooled;
	s->pooled_pages = e->pooled_pages;
	s->work_pending = e->work_pending != 0;
	s->work_delayed = e->work_delayed != 0;
	s->nr_vmap_blocks = e->nr_vmap_blocks;
	s->vmap_block_pages = e->vb_bits;
	s->map_ram_pages = e->map_ram_pages;
	vmi_percpu_stats(e, &s->nr_pcpu_chunks, &s->nr_pcpu_objects, &s->pcpu_unit_size);
	s->percpu_pages = e->percpu_pages;
	s->nr_kvfree_rcu = e->nr_kvfree_rcu;
	s->nr_bugs = e->nr_bugs;
	s->resident_pages = e->resident_pages;
	s->max_resident_pages = e->cfg.max_resident_pages;
}

uint64_t vm_pagetable_pages(const struct vm_engine *e)
{
	return e ? e->pagetable_pages : 0;
}
