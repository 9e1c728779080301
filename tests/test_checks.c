/* test_checks.c -- each graded check of lib/debug.c fires on an engine
 * corrupted on purpose, says what it found as "vmalloc bug: ...", counts
 * it, and leaves the engine usable.
 *
 *   level 1: a free KVA range overlapping a free neighbour on insert;
 *            a busy area missing from its hash chain on erase;
 *            a vmap block missing from its index chain on free;
 *            a counter given back more than it holds (an underflow);
 *   level 2: the invariant checker after a public call.
 *
 * Linked against the engine built at level 2 (libvmcore_checked), which
 * has the level 1 checks too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"
#include "vmap_busy.h"
#include "vmtest.h"

/* Every message the engine logged, one per line. */
struct logbook {
	char text[4096];
	size_t len;
};

static void logbook_fn(void *ctx, int level, const char *msg)
{
	struct logbook *b = ctx;
	int n;

	(void)level;
	n = snprintf(b->text + b->len, sizeof(b->text) - b->len, "%s\n", msg);
	if (n > 0 && (size_t)n < sizeof(b->text) - b->len)
		b->len += (size_t)n;
}

static struct vm_engine *machine(enum vm_kernel kernel, struct logbook *book)
{
	struct vm_config cfg;

	vm_config_init(&cfg);
	cfg.memory_bytes = 64ull << 20;
	cfg.kernel = kernel;
	cfg.log = logbook_fn;
	cfg.log_ctx = book;
	return t_machine_cfg(&cfg);
}

static bool logged(const struct logbook *b, const char *a, const char *z)
{
	const char *p = strstr(b->text, a);

	return p && (!z || strstr(p, z));
}

static void test_level(void)
{
	CU_ASSERT_EQUAL(vm_debug_level(), 2);
}

/* A range freed twice: inserting it again overlaps the free range it was
 * merged into.  The insert is refused and the tree stays whole. */
static void test_free_tree_overlap(void)
{
	struct logbook book = { .len = 0 };
	struct vm_engine *e = machine(VM_KERNEL_6_18, &book);
	struct vmap_area *free_va, *again;
	char msg[256];

	CU_ASSERT_FATAL(e != NULL);
	free_va = list_entry(e->free_list.next, struct vmap_area, list);
	CU_ASSERT_FATAL(va_size(free_va) > 4 * VM_PAGE_SIZE);
	again = vmi_va_alloc(e);
	CU_ASSERT_FATAL(again != NULL);
	again->va_start = free_va->va_start + VM_PAGE_SIZE;
	again->va_end = free_va->va_start + 3 * VM_PAGE_SIZE;
	vmi_free_tree_insert(e, again);
	T_ASSERT_MSG(logged(&book, "vmalloc bug: free KVA ", "overlaps with free "), "log: %s",
		     book.text);
	CU_ASSERT_EQUAL(t_stats(e).nr_bugs, 1);
	CU_ASSERT_EQUAL(vm_check(e, msg, sizeof(msg)), 0);
	vm_engine_destroy(e);
}

/* A busy area whose hash chain lost it: erasing it reports that instead
 * of walking off the end of the chain. */
static void test_hash_chain(void)
{
	struct logbook book = { .len = 0 };
	struct vm_engine *e = machine(VM_KERNEL_6_18, &book);
	struct vmap_area *va, **pp;
	uint64_t addr = 0, busy;

	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_FATAL(vm_vmalloc(e, 4096, &addr) == 0);
	va = vmi_find_busy_va_start(e, addr);
	CU_ASSERT_FATAL(va != NULL);
	/* The corruption: unlink va from its chain behind the engine's back. */
	for (pp = &e->busy_hash[vmi_busy_hash_idx(e, addr)]; *pp != va; pp = &(*pp)->hnext)
		;
	*pp = va->hnext;
	busy = e->nr_busy;
	vmi_busy_hash_del(e, va);
	T_ASSERT_MSG(logged(&book, "vmalloc bug: busy area ", "is not in its hash chain"), "log: %s",
		     book.text);
	CU_ASSERT_EQUAL(e->nr_busy, busy);
	CU_ASSERT_EQUAL(t_stats(e).nr_bugs, 1);
	/* Put it back, and the engine frees it as usual. */
	va->hnext = e->busy_hash[vmi_busy_hash_idx(e, addr)];
	e->busy_hash[vmi_busy_hash_idx(e, addr)] = va;
	CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
	CU_ASSERT_EQUAL(t_stats(e).nr_bugs, 1);
	vm_engine_destroy(e);
}

/* vm_map_ram's block index: a block hidden from its chain is reported
 * when the block is freed (4.19's vm_unmap_aliases purges every
 * fragmented block through the per-CPU queues, not the index), and the
 * count of blocks is left alone. */
static void test_vmap_block_chain(void)
{
	struct logbook book = { .len = 0 };
	struct vm_engine *e = machine(VM_KERNEL_4_19, &book);
	uint64_t pfn = 0, addr = 0;
	unsigned hidden = 0;

	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 0, NUMA_NO_NODE, &pfn) == 0);
	CU_ASSERT_FATAL(vm_map_ram(e, &pfn, 1, NUMA_NO_NODE, &addr) == 0);
	CU_ASSERT_FATAL(vm_unmap_ram(e, addr, 1) == 0);
	CU_ASSERT_FATAL(e->nr_vmap_blocks == 1);
	/* The corruption: the one block out of the index behind the engine's back. */
	for (uint64_t i = 0; i <= e->vb_hash_mask; i++)
		if (e->vb_hash[i]) {
			e->vb_hash[i] = NULL;
			hidden++;
		}
	CU_ASSERT_FATAL(hidden == 1);
	vm_purge(e);
	T_ASSERT_MSG(logged(&book, "vmalloc bug: vmap block ", "is not in its index chain"),
		     "log: %s", book.text);
	CU_ASSERT_EQUAL(e->nr_vmap_blocks, 1);
	CU_ASSERT(t_stats(e).nr_bugs >= 1);
	e->nr_vmap_blocks = 0;   /* the block itself is gone: set the count right */
	CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 0), 0);
	vm_engine_destroy(e);
}

/* A counter that lost its pages: giving them back is reported instead of
 * wrapping it to 2^64 - n; it stops at 0.  On both kernels' counters. */
static void test_underflow(void)
{
	static const enum vm_kernel kernels[] = { VM_KERNEL_6_18, VM_KERNEL_4_19 };

	for (unsigned k = 0; k < 2; k++) {
		struct logbook book = { .len = 0 };
		struct vm_engine *e = machine(kernels[k], &book);
		uint64_t addr = 0;

		CU_ASSERT_FATAL(e != NULL);
		CU_ASSERT_FATAL(vm_vmalloc(e, 3 * 4096, &addr) == 0);
		e->vmalloc_pages = 1;   /* the corruption: 3 are mapped */
		CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
		T_ASSERT_MSG(logged(&book, "vmalloc bug: e->vmalloc_pages underflows: 1 - 3", NULL),
			     "log: %s", book.text);
		CU_ASSERT_EQUAL(e->vmalloc_pages, 0);
		CU_ASSERT(t_stats(e).nr_bugs >= 1);
		vm_engine_destroy(e);
	}
}

/* Level 2: a frame counted free that is not, and the next public call
 * names itself as the one after which the checker found it. */
static void test_after_call(void)
{
	struct logbook book = { .len = 0 };
	struct vm_engine *e = machine(VM_KERNEL_6_18, &book);
	uint64_t addr = 0;

	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_FATAL(vm_vmalloc(e, 4096, &addr) == 0);
	CU_ASSERT_EQUAL(t_stats(e).nr_bugs, 0);
	e->zones[0][VM_ZONE_NORMAL].free_pages++;   /* the corruption */
	CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
	T_ASSERT_MSG(logged(&book, "vmalloc bug: after vm_vfree: ", NULL), "log: %s", book.text);
	CU_ASSERT(t_stats(e).nr_bugs >= 1);
	/* Nested public calls are checked once, when the outermost returns:
	 * vm_vmalloc's own vm___vmalloc_node_range names the call. */
	book.len = 0;
	book.text[0] = '\0';
	CU_ASSERT_EQUAL(vm_vmalloc(e, 4096, &addr), 0);
	T_ASSERT_MSG(logged(&book, "vmalloc bug: after vm___vmalloc_node_range: ", NULL), "log: %s",
		     book.text);
	CU_ASSERT_PTR_NULL(strstr(strstr(book.text, "after ") + 1, "after "));
	vm_engine_destroy(e);
}

/* And an engine nobody corrupted reports nothing, through a few hundred
 * calls of every kind the checks sit in. */
static void test_clean(void)
{
	struct logbook book = { .len = 0 };
	struct vm_engine *e = machine(VM_KERNEL_6_18, &book);
	uint64_t addr[64], pfn = 0;

	CU_ASSERT_FATAL(e != NULL);
	for (unsigned round = 0; round < 4; round++) {
		for (unsigned i = 0; i < 64; i++)
			CU_ASSERT_EQUAL(vm_vmalloc(e, (i % 7 + 1) * 4096, &addr[i]), 0);
		CU_ASSERT_EQUAL(vm_alloc_pages(e, GFP_KERNEL, 2, NUMA_NO_NODE, &pfn), 0);
		for (unsigned i = 0; i < 64; i++)
			CU_ASSERT_EQUAL(vm_vfree(e, addr[i]), 0);
		CU_ASSERT_EQUAL(vm_free_pages(e, pfn, 2), 0);
		vm_purge(e);
	}
	CU_ASSERT_EQUAL(t_stats(e).nr_bugs, 0);
	T_ASSERT_MSG(!logged(&book, "vmalloc bug", NULL), "log: %s", book.text);
	vm_engine_destroy(e);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "level", test_level },
		{ "free_tree_overlap", test_free_tree_overlap },
		{ "hash_chain", test_hash_chain },
		{ "vmap_block_chain", test_vmap_block_chain },
		{ "underflow", test_underflow },
		{ "after_call", test_after_call },
		{ "clean", test_clean },
		{ NULL, NULL },
	};

	return t_main("checks", cases, argc, argv);
}
