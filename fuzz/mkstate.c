/* mkstate.c -- writes the seed corpus of fuzz_state: images of small
 * machines of both kernels, empty and busy (areas, vmaps, vm_map_ram
 * blocks, per-CPU chunks, kvfree_rcu batches, lazy and pooled ranges).
 *
 *   mkstate DIR      DIR/NAME, one image per machine
 *
 * The files are committed under fuzz/corpus/state/; run this again only
 * to change the seeds (meson builds it as fuzz-mkstate).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmcore.h"

static int file_write(void *ctx, const void *buf, size_t len)
{
	return fwrite(buf, 1, len, ctx) == len ? 0 : -EIO;
}

static void busy(struct vm_engine *e, unsigned rounds)
{
	uint64_t a[16], pfn[4], pfns[4], p, m;

	for (unsigned r = 0; r < rounds; r++) {
		vm_set_current(e, 1000 + r, 42, r, r % 2 ? "module_alloc+0x7f/0xd0" : NULL);
		vm_set_current_cpu(e, r % 2);
		for (int i = 0; i < 16; i++)
			if (vm_vmalloc(e, (uint64_t)(i % 5 + 1) * VM_PAGE_SIZE + 100, &a[i]) < 0)
				a[i] = 0;
		for (int i = 0; i < 16; i += 3)
			vm_vfree(e, a[i]);
		vm_vwrite(e, a[1], "bytes", 5);
		for (int i = 0; i < 4; i++)
			if (vm_alloc_pages(e, GFP_KERNEL, 0, NUMA_NO_NODE, &pfn[i]) == 0)
				pfns[i] = pfn[i];
		vm_vmap(e, pfns, 4, 0, PAGE_KERNEL, &m);
		vm_map_ram(e, pfns, 3, NUMA_NO_NODE, &m);
		vm_alloc_percpu(e, 64, 8, &p);
		vm_kvfree_rcu(e, a[2], true);
		if (r == 1)
			vm_purge(e);
	}
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		enum vm_kernel kernel;
		enum vm_layout layout;
		unsigned cpus, rounds;
	} m[] = {
		{ "6.18-empty", VM_KERNEL_6_18, VM_LAYOUT_X86_64, 1, 0 },
		{ "6.18-busy", VM_KERNEL_6_18, VM_LAYOUT_X86_64, 2, 3 },
		{ "6.18-i386-busy", VM_KERNEL_6_18, VM_LAYOUT_I386, 2, 2 },
		{ "4.19-busy", VM_KERNEL_4_19, VM_LAYOUT_X86_64, 2, 3 },
	};
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: mkstate DIR\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct vm_config cfg;
		struct vm_engine *e;
		FILE *f;

		vm_config_init(&cfg);
		cfg.kernel = m[i].kernel;
		cfg.layout = m[i].layout;
		cfg.nr_cpus = m[i].cpus;
		cfg.memory_bytes = 16ull << 20;
		cfg.lazy_max_pages = 32;
		if (vm_engine_create(&cfg, &e) < 0)
			return 1;
		busy(e, m[i].rounds);
		snprintf(path, sizeof(path), "%s/%s", argv[1], m[i].name);
		f = fopen(path, "wb");
		if (!f || vm_engine_save(e, file_write, f) < 0 || fclose(f) != 0) {
			perror(path);
			return 1;
		}
		vm_engine_destroy(e);
	}
	return 0;
}
