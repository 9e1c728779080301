/* node_range.c -- __vmalloc_node_range: an alignment and an address
 * window, as arch code asks for module or stack space.  The window is 16
 * MiB, 1 GiB into the vmalloc range; the area must start on a 2 MiB
 * boundary inside it, and one that cannot fit there fails with -ENOMEM
 * however much memory is free.
 *
 *   cc -o node_range node_range.c $(pkg-config --cflags --libs vmclient)
 *   ./node_range [SOCKET]
 */
#include <errno.h>
#include <stdio.h>
#include <vmclient.h>

int main(int argc, char **argv)
{
	struct vmc_client *c;
	struct vmc_stat s;
	struct vmc_area a;
	struct vmc_alloc_opts o = VMC_ALLOC_OPTS_INIT;
	uint64_t addr, big;
	int r;

	r = vmc_connect(argc > 1 ? argv[1] : NULL, &c);
	if (r < 0) {
		fprintf(stderr, "node_range: connect: %s\n", vmc_strerror(r));
		return 1;
	}
	r = vmc_stat(c, &s);
	if (r < 0)
		goto fail;
	o.align = 2ull << 20;
	o.start = s.vmalloc_start + (1ull << 30);
	o.end = o.start + (16ull << 20);
	o.gfp = GFP_KERNEL;
	o.prot = PAGE_KERNEL;
	o.vm_flags = VM_NO_GUARD;
	o.node = VMC_NO_NODE;
	o.caller = "node_range_example+0x0/0x1";
	r = vmc_vmalloc_node_range(c, 3 * VMC_PAGE_SIZE, &o, &addr);
	if (r < 0)
		goto fail;
	r = vmc_area_info(c, addr, &a);
	if (r < 0)
		goto fail;
	printf("0x%llx in [0x%llx, 0x%llx), 2 MiB aligned: %s; %llu bytes of KVA (VM_NO_GUARD), "
	       "caller %s\n", (unsigned long long)addr, (unsigned long long)o.start,
	       (unsigned long long)o.end, addr % o.align == 0 ? "yes" : "NO",
	       (unsigned long long)a.size, a.caller);
	if (addr < o.start || addr >= o.end || addr % o.align || a.size != 3 * VMC_PAGE_SIZE)
		return 1;

	/* Larger than the window: no room there, whatever else is free. */
	r = vmc_vmalloc_node_range(c, 24ull << 20, &o, &big);
	printf("24 MiB in a 16 MiB window: %s\n", vmc_strerror(r));
	if (r != -ENOMEM)
		return 1;
	r = vmc_vfree(c, addr);
	if (r < 0)
		goto fail;
	vmc_close(c);
	return 0;
fail:
	fprintf(stderr, "node_range: %s (%s)\n", vmc_strerror(r), vmc_last_message(c));
	vmc_close(c);
	return 1;
}
