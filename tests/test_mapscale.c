/* test_mapscale.c -- a terabyte machine, some of it in use: its physical
 * map taken (the daemon's default 262144 cells, each a run of frames) and
 * its vmalloc strip, both drawn as PNG, in under 2 s and with the process
 * under 256 MiB at its peak.  The engine is made in this process, as large
 * as the daemon would make it, so the bound covers the map and the drawing
 * and nothing of a socket.
 */
#include <CUnit/Basic.h>
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

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "terabyte", test_terabyte },
		{ NULL, NULL },
	};

	return t_main("mapscale", cases, argc, argv);
}
