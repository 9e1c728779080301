/* test_map.c -- the memory maps, looked at as a person would: vmctl map
 * draws a known small machine served by a real vmallocd as PNG and SVG, and
 * the pictures are decoded (libpng; the SVG rasterised by librsvg's
 * rsvg-convert) and read back pixel by pixel where a known free order-3
 * block, a page-table page and a guard page lie; the terminal picture runs
 * on a pseudo-terminal.  (test_mapscale.c: the 1 TiB machine.)
 *
 * The expected colours are written out here, not taken from the renderer
 * (vmctl(1) lists them); only the geometry (render/vmrender.h, which says
 * where a cell goes) is the renderer's.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <inttypes.h>
#include <png.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tcase.h"
#include "vmclient.h"
#include "vmrender.h"

static struct vmd_proc daemon_proc;
static const char *vmctl;
static char out[1 << 16], err[8192];

struct rgb { int r, g, b; };
static const struct rgb ORDER3 = { 0xad, 0xdd, 0x8e }, PGTABLE = { 0x94, 0x28, 0xc8 },
			GUARD = { 0, 0, 0 }, VMALLOC = { 0xd6, 0x27, 0x28 };

static int suite_init(void)
{
	static const char *const args[] = { "--memory", "32M", NULL };

	vmctl = getenv("VMCTL_BIN");
	if (!vmctl)
		return -1;
	return vmd_start(&daemon_proc, args, NULL) < 0 ? -1 : 0;
}

static int suite_clean(void)
{
	return vmd_stop(&daemon_proc, 5000) == 0 ? 0 : -1;
}

struct image {
	unsigned w, h;
	png_bytep *rows;
	png_bytep data;
};

static int png_load(const char *path, struct image *im)
{
	FILE *f = fopen(path, "rb");
	png_structp p;
	png_infop info;

	if (!f)
		return -errno;
	p = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png_create_info_struct(p);
	if (setjmp(png_jmpbuf(p))) {
		png_destroy_read_struct(&p, &info, NULL);
		fclose(f);
		return -EIO;
	}
	png_init_io(p, f);
	png_read_info(p, info);
	png_set_expand(p);
	png_set_strip_16(p);
	png_set_gray_to_rgb(p);
	png_set_strip_alpha(p);
	png_read_update_info(p, info);
	im->w = png_get_image_width(p, info);
	im->h = png_get_image_height(p, info);
	im->data = malloc((size_t)im->h * png_get_rowbytes(p, info));
	im->rows = malloc(im->h * sizeof(*im->rows));
	for (unsigned y = 0; y < im->h; y++)
		im->rows[y] = im->data + (size_t)y * png_get_rowbytes(p, info);
	png_read_image(p, im->rows);
	png_destroy_read_struct(&p, &info, NULL);
	fclose(f);
	return 0;
}

static void image_free(struct image *im)
{
	free(im->rows);
	free(im->data);
}

/* The pixel at (x, y) is want, within tol per channel. */
static bool pixel_is(const struct image *im, double x, double y, struct rgb want, int tol,
		     const char *what)
{
	unsigned ix = (unsigned)x, iy = (unsigned)y;
	png_bytep px;

	if (ix >= im->w || iy >= im->h)
		return T_ASSERT_MSG(false, "%s: (%u, %u) outside %ux%u", what, ix, iy, im->w, im->h);
	px = im->rows[iy] + 3 * ix;
	return T_ASSERT_MSG(abs(px[0] - want.r) <= tol && abs(px[1] - want.g) <= tol &&
			    abs(px[2] - want.b) <= tol,
			    "%s at (%u, %u): #%02x%02x%02x, want #%02x%02x%02x", what, ix, iy,
			    px[0], px[1], px[2], want.r, want.g, want.b);
}

static int vmctl_run(const char *a1, const char *a2, const char *a3, const char *a4,
		     const char *a5, const char *a6, const char *a7)
{
	const char *argv[] = { vmctl, "--socket", daemon_proc.sock, a1, a2, a3, a4, a5, a6, a7, NULL };

	return vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err));
}

/* The known machine: a fresh 32 MiB one given one vmalloc of 3 pages (its
 * page tables made, its guard page the 4th page) and one alloc_pages frame
 * of ZONE_DMA, which nothing else touches: its max-order block splits as
 * expand() does, the upper halves going back free, so the frame 8 above it
 * heads a free order-3 block. */
struct known {
	uint64_t pfn, addr, pt_pfn, nr_pt;
	struct vmc_map map;       /* the daemon's map of the whole machine, default cells */
	struct vr_map v;          /* its geometry for the renderer */
	struct vmc_map zoom;      /* the strip over the area's 16 pages in 16 bins */
	struct vr_map vz;
};

static struct known K;
static bool known_made;

static void to_vr(const struct vmc_map *m, struct vr_map *v)
{
	*v = (struct vr_map){ .start_pfn = m->start_pfn, .end_pfn = m->end_pfn,
			      .frames_per_cell = m->frames_per_cell, .nr_cells = m->nr_cells,
			      .frame_class = m->frame_class, .kva_start = m->kva_start,
			      .kva_end = m->kva_end, .nr_bins = m->nr_bins, .kva_class = m->kva_class };
}

static bool make_known(void)
{
	struct vmc_client *c;
	struct vmc_stat st;
	struct vmc_map_request zr = { 0 };

	if (known_made)
		return true;
	if (vmd_connect(daemon_proc.sock, &c) < 0)
		return false;
	CU_ASSERT_EQUAL_FATAL(vmc_vmalloc(c, 3 * 4096, &K.addr), 0);
	CU_ASSERT_EQUAL_FATAL(vmc_alloc_pages(c, GFP_DMA, 0, VMC_NO_NODE, &K.pfn), 0);
	CU_ASSERT_EQUAL(K.pfn % 1024, 0);
	CU_ASSERT_EQUAL_FATAL(vmc_stat(c, &st), 0);
	K.nr_pt = st.pagetable_pages;
	CU_ASSERT_EQUAL_FATAL(vmc_map(c, NULL, &K.map), 0);
	zr.kva_start = K.addr;
	zr.kva_end = K.addr + 16 * 4096;
	zr.kva_bins = 16;
	CU_ASSERT_EQUAL_FATAL(vmc_map(c, &zr, &K.zoom), 0);
	vmc_close(c);
	to_vr(&K.map, &K.v);
	to_vr(&K.zoom, &K.vz);
	/* The daemon's own classes first: the block, and the page tables
	 * counted as vmc_stat counts them. */
	CU_ASSERT_EQUAL_FATAL(K.map.frames_per_cell, 1);
	CU_ASSERT_EQUAL(K.map.frame_class[K.pfn], VMC_FC_ALLOC_PAGES);
	for (unsigned i = 8; i < 16; i++)
		T_ASSERT_MSG(K.map.frame_class[K.pfn + i] == VMC_FC_FREE + 3, "pfn %" PRIu64 ": class %u",
			     K.pfn + i, K.map.frame_class[K.pfn + i]);
	{
		uint64_t n = 0;

		for (uint64_t i = 0; i < K.map.nr_cells; i++)
			if (K.map.frame_class[i] == VMC_FC_PGTABLE) {
				if (!n)
					K.pt_pfn = i;
				n++;
			}
		T_ASSERT_MSG(n == K.nr_pt && n > 0, "%" PRIu64 " page-table cells, stat says %" PRIu64,
			     n, K.nr_pt);
	}
	CU_ASSERT_EQUAL(K.zoom.nr_bins, 16);
	for (unsigned b = 0; b < 3; b++)
		CU_ASSERT_EQUAL(K.zoom.kva_class[b], VMC_KC_VMALLOC);
	CU_ASSERT_EQUAL(K.zoom.kva_class[3], VMC_KC_GUARD);
	known_made = true;
	return true;
}

static void check_picture(const char *png_path, int tol)
{
	struct image im, imz;
	double x, y;
	char zpath[512];

	CU_ASSERT_EQUAL_FATAL(png_load(png_path, &im), 0);
	CU_ASSERT_TRUE(vr_pfn_xy(&K.v, K.pfn + 8, &x, &y));
	pixel_is(&im, x, y, ORDER3, tol, "free order-3 block, its head");
	CU_ASSERT_TRUE(vr_pfn_xy(&K.v, K.pfn + 15, &x, &y));
	pixel_is(&im, x, y, ORDER3, tol, "free order-3 block, its last frame");
	CU_ASSERT_TRUE(vr_pfn_xy(&K.v, K.pt_pfn, &x, &y));
	pixel_is(&im, x, y, PGTABLE, tol, "page-table page");
	image_free(&im);
	snprintf(zpath, sizeof(zpath), "%.*s-zoom%s", (int)strlen(png_path) - 4, png_path,
		 png_path + strlen(png_path) - 4);
	CU_ASSERT_EQUAL_FATAL(png_load(zpath, &imz), 0);
	CU_ASSERT_TRUE(vr_kva_xy(&K.vz, K.addr + 3 * 4096, &x, &y));
	pixel_is(&imz, x, y, GUARD, tol, "guard page");
	CU_ASSERT_TRUE(vr_kva_xy(&K.vz, K.addr + 4096, &x, &y));
	pixel_is(&imz, x, y, VMALLOC, tol, "the area's second page");
	image_free(&imz);
}

static void draw_pair(const char *ext, char *path, char *zpath, size_t len)
{
	char range[80];

	snprintf(path, len, "%s/map.%s", daemon_proc.dir, ext);
	snprintf(zpath, len, "%s/map-zoom.%s", daemon_proc.dir, ext);
	snprintf(range, sizeof(range), "0x%" PRIx64 "-0x%" PRIx64, K.addr, K.addr + 16 * 4096);
	T_ASSERT_MSG(vmctl_run("map", "-o", path, NULL, NULL, NULL, NULL) == 0, "vmctl map: %s", err);
	T_ASSERT_MSG(vmctl_run("map", "-o", zpath, "--range", range, "--bins", "16") == 0,
		     "vmctl map --range: %s", err);
}

static void test_png(void)
{
	char path[512], zpath[512];

	CU_ASSERT_TRUE_FATAL(make_known());
	draw_pair("png", path, zpath, sizeof(path));
	check_picture(path, 0);
}

static void test_svg(void)
{
	char path[512], zpath[512], png[600], zpng[600];

	CU_ASSERT_TRUE_FATAL(make_known());
	draw_pair("svg", path, zpath, sizeof(path));
	/* cairo's SVG is in points: at 72 dpi a point is a pixel. */
	snprintf(png, sizeof(png), "%s/svg.png", daemon_proc.dir);
	snprintf(zpng, sizeof(zpng), "%s/svg-zoom.png", daemon_proc.dir);
	{
		const char *a1[] = { RSVG_CONVERT, "--dpi-x", "72", "--dpi-y", "72", "-o", png, path, NULL };
		const char *a2[] = { RSVG_CONVERT, "--dpi-x", "72", "--dpi-y", "72", "-o", zpng, zpath,
				     NULL };

		T_ASSERT_MSG(vmd_run(a1, NULL, 0, out, sizeof(out), err, sizeof(err)) == 0,
			     "rsvg-convert: %s", err);
		T_ASSERT_MSG(vmd_run(a2, NULL, 0, out, sizeof(out), err, sizeof(err)) == 0,
			     "rsvg-convert: %s", err);
	}
	check_picture(png, 2);
}

/* On a pseudo-terminal vmctl map draws without --term; half blocks, 256
 * colours, the zones' names and the legend are there. */
static void test_terminal(void)
{
	struct winsize ws = { .ws_row = 50, .ws_col = 120 };
	char buf[1 << 16];
	size_t len = 0;
	int master, status;
	pid_t pid = forkpty(&master, NULL, NULL, &ws);

	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		execl(vmctl, vmctl, "--socket", daemon_proc.sock, "map", (char *)NULL);
		_exit(127);
	}
	for (;;) {
		struct pollfd p = { master, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0)
			break;
		n = read(master, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(master);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\xe2\x96\x80"));          /* U+2580 */
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\033[38;5;"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\033[48;5;"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "n0 DMA32"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "free, order 3"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "guard page"));
	/* Not a terminal and no -o: told, not drawn. */
	CU_ASSERT_EQUAL(vmctl_run("map", NULL, NULL, NULL, NULL, NULL, NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a terminal"));
	/* --term anywhere. */
	CU_ASSERT_EQUAL(vmctl_run("map", "--term", NULL, NULL, NULL, NULL, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\xe2\x96\x80"));
}

static void test_bad_requests(void)
{
	CU_ASSERT_EQUAL(vmctl_run("map", "--pfns", "0-99999999", "--term", NULL, NULL, NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Invalid argument"));
	CU_ASSERT_EQUAL(vmctl_run("map", "--range", "0x10-0x20", "--term", NULL, NULL, NULL), 1);
	CU_ASSERT_EQUAL(vmctl_run("map", "-o", "x.jpg", NULL, NULL, NULL, NULL), 2);
	CU_ASSERT_EQUAL(vmctl_run("map", "--pfns", "9-3", "--term", NULL, NULL, NULL), 2);
	CU_ASSERT_EQUAL(vmctl_run("map", "--cells", "0", "--term", NULL, NULL, NULL), 2);
}

/* vmctl demo fragmentation: no order-4 block left, alloc_pages(4) fails
 * and vmalloc(64K) succeeds, both pictures drawn; everything scoped, so
 * the machine has its frames back afterwards. */
static void test_demo(void)
{
	char dir[512], path[600];
	struct vmc_client *c;
	struct vmc_stat before, after;

	CU_ASSERT_EQUAL_FATAL(vmd_connect(daemon_proc.sock, &c), 0);
	CU_ASSERT_EQUAL(vmc_stat(c, &before), 0);
	snprintf(dir, sizeof(dir), "%s", daemon_proc.dir);
	T_ASSERT_MSG(vmctl_run("demo", "fragmentation", "--out", dir, NULL, NULL, NULL) == 0,
		     "demo: %s%s", out, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "free blocks of order >= 4: 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "alloc_pages(GFP_KERNEL, order 4), 64 KiB contiguous: "
				      "Cannot allocate memory"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "vmalloc(64 KiB): 0x"));
	snprintf(path, sizeof(path), "%s/before.png", dir);
	CU_ASSERT_EQUAL(access(path, R_OK), 0);
	snprintf(path, sizeof(path), "%s/after.png", dir);
	CU_ASSERT_EQUAL(access(path, R_OK), 0);
	CU_ASSERT_EQUAL(vmc_stat(c, &after), 0);
	CU_ASSERT_EQUAL(after.free_pages, before.free_pages);
	CU_ASSERT_EQUAL(vmctl_run("demo", "nothing", NULL, NULL, NULL, NULL, NULL), 2);
	vmc_close(c);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "png", test_png },
		{ "svg", test_svg },
		{ "terminal", test_terminal },
		{ "bad requests", test_bad_requests },
		{ "demo", test_demo },
		{ NULL, NULL },
	};

	return t_main_suite("map", suite_init, suite_clean, cases, argc, argv);
}
