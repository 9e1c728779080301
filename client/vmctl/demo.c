/* demo.c -- vmctl demo fragmentation: the seeds' reason for vmalloc as an
 * experiment.  Physical memory is fragmented until no free block of order 4
 * is left while most of it is still free; then alloc_pages(order 4) fails
 * and a vmalloc of the same 64 KiB succeeds, its 16 pages taken one at a
 * time wherever they are.  Every allocation is scoped: it all goes back
 * when vmctl exits.
 *
 *   1. take every frame the watermarks give as order-0 pages;
 *   2. give back every frame except one in each aligned 16 (pfn % 16 == 0):
 *      the freed frames merge into blocks of order 0..3 and no further,
 *      since each 16-frame buddy keeps one frame held;
 *   3. blocks of order >= 4 still free (the reserve step 1 could not reach)
 *      are taken as order-4 blocks;
 *   4. alloc_pages(GFP_KERNEL, 4) and vmalloc(64K), before/after maps.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmctl.h"

static uint64_t free_at_least(const struct vmc_zone *z, size_t n, unsigned order)
{
	uint64_t blocks = 0;

	for (size_t i = 0; i < n; i++)
		for (unsigned o = order; o < VMC_NR_ORDERS; o++)
			blocks += z[i].nr_free[o];
	return blocks;
}

static int show_state(const struct cmd *cmd, struct vmc_client *c, const char *when,
		      const char *dir, const char *file)
{
	struct vmc_stat st;
	char *text = NULL, path[4096];
	int r;

	if ((r = vmc_stat(c, &st)) < 0 || (r = vmc_query_text(c, VMC_BUDDYINFO, &text)) < 0)
		return fail(cmd, NULL, r);
	printf("== %s: %" PRIu64 " of %" PRIu64 " frames free (%" PRIu64 "%%)\n%s", when,
	       st.free_pages, st.total_pages, st.free_pages * 100 / (st.total_pages ? st.total_pages : 1),
	       text);
	free(text);
	if (dir) {
		struct vmc_map m;

		snprintf(path, sizeof(path), "%s/%s", dir, file);
		if ((r = vmc_map(c, NULL, &m)) < 0)
			return fail(cmd, NULL, r);
		r = map_draw(&m, when, path);
		vmc_map_free(&m);
		if (r < 0)
			return fail(cmd, path, r);
		printf("   map: %s\n", path);
	}
	return 0;
}

static int demo_opt(const struct cmd *cmd, int ch, const char *optarg, void *ctx)
{
	(void)cmd;
	if (ch != OPT_OUT)
		return -1;
	*(const char **)ctx = optarg;
	return 0;
}

int cmd_demo(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, OPT_OUT },
		COMMON_OPTS
	};
	const char *dir = NULL;
	char *pos[1];
	struct vmc_client *c;
	uint64_t *pfns = NULL, n = 0, cap = 0, kept = 0, pinned = 0, pfn, addr;
	struct vmc_zone *zones;
	size_t nz;
	int r, r4, rv;

	positional(cmd, argc, argv, opts, demo_opt, &dir, pos, 1, 1);
	if (strcmp(pos[0], "fragmentation") != 0)
		return usage_err(cmd, "unknown demo '%s': the one there is is 'fragmentation'", pos[0]);
	c = client(cmd);
	vmc_set_scoped(c, true);
	if ((r = show_state(cmd, c, "before", dir, "before.png")))
		return r;
	/* 1. every frame the watermarks give, one at a time */
	for (;;) {
		r = vmc_alloc_pages(c, GFP_KERNEL | __GFP_NOWARN, 0, VMC_NO_NODE, &pfn);
		if (r == -ENOMEM)
			break;
		if (r < 0)
			return fail(cmd, "alloc-pages 0", r);
		if (n == cap) {
			uint64_t *v = realloc(pfns, (cap = cap ? cap * 2 : 4096) * sizeof(*v));

			if (!v)
				return fail(cmd, NULL, -ENOMEM);
			pfns = v;
		}
		pfns[n++] = pfn;
	}
	/* 2. one frame held in each aligned 16 */
	for (uint64_t i = 0; i < n; i++) {
		if (pfns[i] % 16 == 0) {
			kept++;
			continue;
		}
		if ((r = vmc_free_pages(c, pfns[i], 0)) < 0)
			return fail(cmd, "free-pages", r);
	}
	free(pfns);
	/* 3. what is left of order 4 and above */
	while (vmc_alloc_pages(c, GFP_KERNEL | __GFP_NOWARN, 4, VMC_NO_NODE, &pfn) == 0)
		pinned++;
	printf("took %" PRIu64 " frames one at a time, gave back all but %" PRIu64
	       " (one in each aligned 16), took %" PRIu64 " remaining order-4 blocks\n", n, kept, pinned);
	if ((r = vmc_zones(c, &zones, &nz)) < 0)
		return fail(cmd, NULL, r);
	printf("free blocks of order >= 4: %" PRIu64 "\n", free_at_least(zones, nz, 4));
	free(zones);
	if ((r = show_state(cmd, c, "fragmented", NULL, NULL)))
		return r;
	/* 4. the experiment */
	r4 = vmc_alloc_pages(c, GFP_KERNEL | __GFP_NOWARN, 4, VMC_NO_NODE, &pfn);
	printf("alloc_pages(GFP_KERNEL, order 4), 64 KiB contiguous: %s\n",
	       r4 == 0 ? "succeeded" : strerror(-r4));
	rv = vmc_vmalloc(c, 64 * 1024, &addr);
	if (rv == 0)
		printf("vmalloc(64 KiB): 0x%016" PRIx64 ", 16 pages from wherever they were\n", addr);
	else
		printf("vmalloc(64 KiB): %s\n", strerror(-rv));
	if ((r = show_state(cmd, c, "after", dir, "after.png")))
		return r;
	if (r4 == 0 || rv != 0) {
		fprintf(stderr, "vmctl: demo fragmentation: the machine did not behave as expected\n");
		return VMCTL_EXIT_FAILED;
	}
	return VMCTL_EXIT_OK;
}
