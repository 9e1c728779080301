/* gfp.c -- __vmalloc with gfp flags, as a driver would call it: zeroed
 * memory, pages below 4 GiB, and a request that may fail quietly.  Every
 * flag comes from vmclient.h under its kernel name.
 *
 *   cc -o gfp gfp.c $(pkg-config --cflags --libs vmclient)
 *   ./gfp [SOCKET]
 */
#include <errno.h>
#include <stdio.h>
#include <vmclient.h>

int main(int argc, char **argv)
{
	struct vmc_client *c;
	struct vmc_translation t;
	unsigned char page[VMC_PAGE_SIZE];
	uint64_t zeroed, low, huge;
	int r;

	r = vmc_connect(argc > 1 ? argv[1] : NULL, &c);
	if (r < 0) {
		fprintf(stderr, "gfp: connect: %s\n", vmc_strerror(r));
		return 1;
	}
	/* __vmalloc(size, GFP_KERNEL | __GFP_ZERO): every byte 0. */
	r = vmc___vmalloc(c, 4 * VMC_PAGE_SIZE, GFP_KERNEL | __GFP_ZERO, &zeroed);
	if (r < 0)
		goto fail;
	r = vmc_read(c, zeroed + VMC_PAGE_SIZE, page, sizeof(page));
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(page); i++)
		if (page[i]) {
			fprintf(stderr, "gfp: byte %zu of a __GFP_ZERO area is %u\n", i, page[i]);
			return 1;
		}
	printf("GFP_KERNEL|__GFP_ZERO: 0x%llx, zeroed\n", (unsigned long long)zeroed);

	/* GFP_KERNEL | GFP_DMA32: the frames come from below 4 GiB. */
	r = vmc___vmalloc(c, 2 * VMC_PAGE_SIZE, GFP_KERNEL | GFP_DMA32, &low);
	if (r < 0)
		goto fail;
	r = vmc_translate(c, low, &t);
	if (r < 0)
		goto fail;
	printf("GFP_KERNEL|GFP_DMA32: 0x%llx -> pfn 0x%llx in %s\n", (unsigned long long)low,
	       (unsigned long long)t.pfn, t.zone);
	if (t.phys_addr >= (1ull << 32)) {
		fprintf(stderr, "gfp: a GFP_DMA32 frame above 4 GiB\n");
		return 1;
	}

	/* More than the machine has, with __GFP_NOWARN: -ENOMEM, and no
	 * "allocation failure" line in the daemon's log. */
	r = vmc___vmalloc(c, 1ull << 40, GFP_KERNEL | __GFP_NOWARN, &huge);
	printf("GFP_KERNEL|__GFP_NOWARN, 1 TiB: %s\n", vmc_strerror(r));
	if (r != -ENOMEM)
		return 1;

	r = vmc_vfree(c, zeroed);
	if (r == 0)
		r = vmc_vfree(c, low);
	if (r < 0)
		goto fail;
	vmc_close(c);
	return 0;
fail:
	fprintf(stderr, "gfp: %s (%s)\n", vmc_strerror(r), vmc_last_message(c));
	vmc_close(c);
	return 1;
}
