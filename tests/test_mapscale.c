/* test_mapscale.c -- the engine's maps (lib/frame_map.c, lib/kva_map.c):
 * at one frame a cell the classes count exactly what vm_get_stats counts;
 * at one page a bin the vmalloc range shows busy pages, guard pages, lazy
 * ranges and (6.18, several CPUs) pooled ones where they are; bad spans
 * are refused.  And a terabyte machine, some of it in use: its physical
 * map taken (the daemon's default 262144 cells, each a run of frames) and
 * its vmalloc strip, both drawn as PNG, in under 2 s and with the process
 * under 256 MiB at its peak.  The engine is made in this process, as large
 * as the daemon would make it, so the bound covers the map and the drawing
 * and nothing of a socket.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "tcase.h"
#include "vmcore.h"
#include "vmrender.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A terabyte machine, some of it in use: its map taken (the default
 * 262144 cells) and drawn as PNG in under 2 s, the process under 256 MiB. */
static void test_terabyte(void)
{
	struct vm_config cfg;
	struct vm_engine *e;
	struct rusage ru;
	uint64_t addr, pfn, fpc, n, ncells;
	uint8_t *cls, *fr, kc[1024], kb[1024];
	struct vm_stats st;
	struct vr_map v;
	char path[512];
	double t0, t1;

	vm_config_init(&cfg);
	cfg.memory_bytes = 1ull << 40;
	CU_ASSERT_EQUAL_FATAL(vm_engine_create(&cfg, &e), 0);
	for (int i = 0; i < 64; i++)
		CU_ASSERT_EQUAL(vm_vmalloc(e, (1 + i % 7) << 20, &addr), 0);
	for (int i = 0; i < 256; i++)
		CU_ASSERT_EQUAL(vm_alloc_pages(e, GFP_KERNEL, (unsigned)(i % 4), -1, &pfn), 0);
	vm_get_stats(e, &st);
	t0 = now_s();
	n = st.total_pages;
	fpc = vm_frame_map_scale(n, 256 * 1024);
	ncells = (n + fpc - 1) / fpc;
	cls = malloc(ncells);
	fr = malloc(ncells);
	CU_ASSERT_EQUAL_FATAL(vm_frame_map(e, 0, n, fpc, cls, fr), 0);
	CU_ASSERT_EQUAL_FATAL(vm_kva_map(e, st.vmalloc_start, st.vmalloc_end, 1024, kc, kb), 0);
	v = (struct vr_map){ .title = "1 TiB", .start_pfn = 0, .end_pfn = n, .frames_per_cell = fpc,
			     .nr_cells = ncells, .frame_class = cls, .kva_start = st.vmalloc_start,
			     .kva_end = st.vmalloc_end, .nr_bins = 1024, .kva_class = kc };
	snprintf(path, sizeof(path), "%s/vmallocd-tera-%d.png", P_tmpdir, (int)getpid());
	CU_ASSERT_EQUAL(vr_draw_file(&v, VR_PNG, path), 0);
	t1 = now_s();
	getrusage(RUSAGE_SELF, &ru);
	printf("\n1 TiB map: %" PRIu64 " cells of %" PRIu64 " frames, taken and drawn in %.3f s, "
	       "max RSS %ld KiB\n", ncells, fpc, t1 - t0, ru.ru_maxrss);
	T_ASSERT_MSG(t1 - t0 < 2.0, "%.3f s", t1 - t0);
	T_ASSERT_MSG(ru.ru_maxrss < 256 * 1024, "max RSS %ld KiB", ru.ru_maxrss);
	unlink(path);
	free(cls);
	free(fr);
	vm_engine_destroy(e);
	vr_done();
}

/* Every frame counted once, in the class vm_get_stats counts it in. */
static void test_frame_counts(void)
{
	struct vm_config cfg;
	struct vm_engine *e;
	struct vm_stats st;
	uint64_t addr, pfn, n[VM_NR_FRAME_CLASSES] = { 0 }, nfree = 0;
	uint8_t *cls, *fr;

	vm_config_init(&cfg);
	cfg.memory_bytes = 64ull << 20;
	CU_ASSERT_EQUAL_FATAL(vm_engine_create(&cfg, &e), 0);
	CU_ASSERT_EQUAL(vm_vmalloc(e, 5 << 20, &addr), 0);       /* a page array of 3 pages */
	CU_ASSERT_EQUAL(vm_vmalloc(e, 12345, &addr), 0);
	CU_ASSERT_EQUAL(vm_alloc_pages(e, GFP_KERNEL, 3, -1, &pfn), 0);
	CU_ASSERT_EQUAL(vm_vfree(e, addr), 0);
	vm_get_stats(e, &st);
	cls = malloc(st.total_pages);
	fr = malloc(st.total_pages);
	CU_ASSERT_EQUAL_FATAL(vm_frame_map(e, 0, st.total_pages, 1, cls, fr), 0);
	for (uint64_t i = 0; i < st.total_pages; i++) {
		n[cls[i]]++;
		nfree += fr[i] == 255;
		CU_ASSERT_TRUE(fr[i] == (cls[i] <= VM_FC_FREE + VM_MAX_PAGE_ORDER ? 255 : 0));
	}
	CU_ASSERT_EQUAL(nfree, st.free_pages);
	CU_ASSERT_EQUAL(n[VM_FC_VMALLOC] + n[VM_FC_PAGE_ARRAY], st.vmalloc_pages);
	CU_ASSERT_EQUAL(n[VM_FC_PAGE_ARRAY], 3);
	CU_ASSERT_EQUAL(n[VM_FC_PGTABLE], st.pagetable_pages);
	CU_ASSERT_EQUAL(n[VM_FC_ALLOC_PAGES], st.alloc_pages_pages);
	for (unsigned k = 0; k <= VM_MAX_PAGE_ORDER; k++)
		CU_ASSERT_EQUAL(n[VM_FC_FREE + k] % (1u << k), 0);    /* whole blocks */
	/* The order-3 block is alloc_pages frame by frame. */
	for (uint64_t i = pfn; i < pfn + 8; i++)
		CU_ASSERT_EQUAL(cls[i], VM_FC_ALLOC_PAGES);
	/* A span starting inside a free block, cells of 4 frames. */
	CU_ASSERT_EQUAL(vm_frame_map(e, 4097, 4097 + 64, 4, cls, fr), 0);
	CU_ASSERT_EQUAL(vm_frame_map(e, 0, st.total_pages + 1, 1, cls, fr), -EINVAL);
	CU_ASSERT_EQUAL(vm_frame_map(e, 5, 5, 1, cls, fr), -EINVAL);
	CU_ASSERT_EQUAL(vm_frame_map(e, 0, 8, 0, cls, fr), -EINVAL);
	CU_ASSERT_EQUAL(vm_frame_map_scale(1ull << 28, 1 << 18), 1024);
	CU_ASSERT_EQUAL(vm_frame_map_scale(100, 0), 1);
	free(cls);
	free(fr);
	vm_engine_destroy(e);
}

static unsigned count_bins(const uint8_t *c, unsigned n, unsigned cls)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		k += c[i] == cls;
	return k;
}

/* One page a bin: busy pages, guard pages, lazy and pooled ranges. */
static void test_kva_classes(void)
{
	struct vm_config cfg;
	struct vm_engine *e;
	struct vm_stats st;
	uint64_t a[8], start;
	uint8_t c[512], b[512];

	vm_config_init(&cfg);
	cfg.memory_bytes = 64ull << 20;
	cfg.nr_cpus = 4;
	CU_ASSERT_EQUAL_FATAL(vm_engine_create(&cfg, &e), 0);
	vm_get_stats(e, &st);
	start = st.vmalloc_start;
	for (int i = 0; i < 8; i++)
		CU_ASSERT_EQUAL(vm_vmalloc(e, 3 * 4096, &a[i]), 0);   /* 3 pages + guard each */
	CU_ASSERT_EQUAL_FATAL(vm_kva_map(e, start, start + 512 * 4096, 512, c, b), 0);
	CU_ASSERT_EQUAL(count_bins(c, 512, VM_KC_VMALLOC), 24);
	CU_ASSERT_EQUAL(count_bins(c, 512, VM_KC_GUARD), 8);
	CU_ASSERT_EQUAL(c[(a[0] - start) / 4096 + 3], VM_KC_GUARD);
	CU_ASSERT_EQUAL(b[(a[0] - start) / 4096], 255);
	CU_ASSERT_EQUAL(b[511], 0);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(vm_vfree(e, a[i]), 0);
	vm_get_stats(e, &st);
	CU_ASSERT_EQUAL_FATAL(vm_kva_map(e, start, start + 512 * 4096, 512, c, b), 0);
	CU_ASSERT_EQUAL(count_bins(c, 512, VM_KC_LAZY), st.lazy_pages);
	CU_ASSERT_EQUAL(count_bins(c, 512, VM_KC_LAZY), 16);
	vm_purge(e);
	vm_get_stats(e, &st);
	CU_ASSERT_EQUAL_FATAL(vm_kva_map(e, start, start + 512 * 4096, 512, c, b), 0);
	CU_ASSERT_EQUAL(count_bins(c, 512, VM_KC_LAZY), 0);
	CU_ASSERT_EQUAL(count_bins(c, 512, VM_KC_POOL), st.pooled_pages);
	CU_ASSERT_TRUE(st.pooled_pages > 0);
	CU_ASSERT_EQUAL(vm_kva_map(e, start - 4096, start + 4096, 1, c, b), -EINVAL);
	CU_ASSERT_EQUAL(vm_kva_map(e, start, start + 4096, 2, c, b), -EINVAL);
	CU_ASSERT_EQUAL(vm_kva_map(e, start, start + 4096, 0, c, b), -EINVAL);
	vm_engine_destroy(e);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "frame counts", test_frame_counts },
		{ "kva classes", test_kva_classes },
		{ "terabyte", test_terabyte },
		{ NULL, NULL },
	};

	return t_main("mapscale", cases, argc, argv);
}
