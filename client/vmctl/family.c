/* family.c -- the vmalloc family from the command line: alloc (vmalloc and
 * its variants), free, realloc, vmap/vunmap and the buddy allocator's
 * alloc_pages/free_pages.  Each prints what it did: an address, a pfn, or
 * what became of the area.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "flagnames.h"
#include "vmctl.h"

struct alloc_args {
	bool zero, user, dma32, scoped, no_guard, node_set, gfp_set, leaked;
	long node;
	uint64_t align;
	uint32_t gfp, prot;
	const char *caller;
};

static int alloc_opt(const struct cmd *cmd, int ch, const char *optarg, void *ctx)
{
	struct alloc_args *a = ctx;

	switch (ch) {
	case OPT_ZERO: a->zero = true; return 0;
	case OPT_USER: a->user = true; return 0;
	case OPT_DMA32: a->dma32 = true; return 0;
	case OPT_SCOPED: a->scoped = true; return 0;
	case OPT_NO_GUARD: a->no_guard = true; return 0;
	case OPT_LEAKED: a->leaked = true; return 0;
	case OPT_CALLER:
		if (strlen(optarg) > VMC_CALLER_MAX)
			return usage_err(cmd, "invalid caller: longer than %d bytes", VMC_CALLER_MAX);
		a->caller = optarg;
		return 0;
	case OPT_NODE:
		a->node_set = true;
		return arg_long(cmd, "node", optarg, VMC_NO_NODE, VMC_MAX_NODES - 1, &a->node);
	case OPT_ALIGN:
		return arg_size(cmd, "alignment", optarg, &a->align);
	case OPT_GFP:
		a->gfp_set = true;
		if (cv_parse_gfp(optarg, &a->gfp) < 0)
			return usage_err(cmd, "invalid gfp flags '%s': names such as GFP_KERNEL|"
					 "__GFP_ZERO, or a number", optarg);
		return 0;
	case OPT_PROT:
		if (cv_parse_prot(optarg, &a->prot) < 0)
			return usage_err(cmd, "invalid prot '%s': rw, ro, rwx or a number", optarg);
		return 0;
	}
	return -1;
}

/* The address (and, with --json, what else is known) of a new area. */
static int print_new(uint64_t addr, uint64_t size, bool scoped)
{
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "addr", jhex(addr));
		if (size)
			jput(o, "size_bytes", json_object_new_uint64(size));
		jput(o, "scoped", json_object_new_boolean(scoped));
		if (scoped)
			jput(o, "freed_at_exit", json_object_new_boolean(true));
		jprint(o);
	} else {
		printf("0x%" PRIx64 "\n", addr);
		fflush(stdout);
		if (scoped)
			fprintf(stderr, "vmctl: 0x%" PRIx64 " is scoped: freed when vmctl exits, "
				"that is now\n", addr);
	}
	return VMCTL_EXIT_OK;
}

int cmd_alloc(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "zero", no_argument, NULL, OPT_ZERO },
		{ "node", required_argument, NULL, OPT_NODE },
		{ "align", required_argument, NULL, OPT_ALIGN },
		{ "user", no_argument, NULL, OPT_USER },
		{ "dma32", no_argument, NULL, OPT_DMA32 },
		{ "scoped", no_argument, NULL, OPT_SCOPED },
		{ "gfp", required_argument, NULL, OPT_GFP },
		{ "no-guard", no_argument, NULL, OPT_NO_GUARD },
		{ "caller", required_argument, NULL, OPT_CALLER },
		COMMON_OPTS
	};
	struct alloc_args a = { .node = VMC_NO_NODE };
	struct vmc_client *c;
	uint64_t size, addr = 0;
	char *pos[1] = { NULL };
	int r;

	positional(cmd, argc, argv, opts, alloc_opt, &a, pos, 1, 1);
	if ((r = arg_size(cmd, "size", pos[0], &size)))
		return r;
	c = client(cmd);
	vmc_set_scoped(c, a.scoped);
	if (a.caller)
		vmc_set_caller(c, a.caller);
	if (a.gfp_set || a.align || a.no_guard || (a.zero && a.dma32) ||
	    (a.node_set && (a.dma32 || a.user))) {
		struct vmc_alloc_opts o = VMC_ALLOC_OPTS_INIT;

		o.align = a.align;
		o.node = (int)a.node;
		o.scoped = a.scoped;
		/* 0 leaves vmalloc's own default (GFP_KERNEL | __GFP_HIGHMEM) to the daemon. */
		o.gfp = a.gfp_set ? a.gfp : a.dma32 ? GFP_KERNEL | GFP_DMA32 : 0;
		if ((a.zero || a.user) && !o.gfp)
			o.gfp = GFP_KERNEL | __GFP_HIGHMEM;
		if (a.zero || a.user)
			o.gfp |= __GFP_ZERO;
		o.vm_flags = (a.user ? VM_USERMAP : 0) | (a.no_guard ? VM_NO_GUARD : 0);
		r = vmc_vmalloc_node_range(c, size, &o, &addr);
	} else if (a.dma32 && a.user) {
		r = vmc_vmalloc_32_user(c, size, &addr);
	} else if (a.dma32) {
		r = vmc_vmalloc_32(c, size, &addr);
	} else if (a.user) {
		r = vmc_vmalloc_user(c, size, &addr);
	} else if (a.node_set) {
		r = a.zero ? vmc_vzalloc_node(c, size, (int)a.node, &addr)
			   : vmc_vmalloc_node(c, size, (int)a.node, &addr);
	} else {
		r = a.zero ? vmc_vzalloc(c, size, &addr) : vmc_vmalloc(c, size, &addr);
	}
	if (r < 0)
		return fail(cmd, pos[0], r);
	return print_new(addr, size, a.scoped);
}

/* free ADDR, vunmap ADDR */
static int addr_op(const struct cmd *cmd, int argc, char **argv, bool unmap)
{
	static const struct option opts[] = {
		{ "leaked", no_argument, NULL, OPT_LEAKED },
		COMMON_OPTS
	};
	struct alloc_args a = { 0 };
	uint64_t addr;
	char *pos[1] = { NULL };
	int n, r;

	n = positional(cmd, argc, argv, unmap ? common_only : opts, alloc_opt, &a, pos, 0, 1);
	if (a.leaked) {
		if (n)
			return usage_err(cmd, "--leaked frees every leaked area: no ADDR with it");
		return free_leaked(cmd);
	}
	if (n == 0)
		return usage_err(cmd, "missing argument: vmctl %s %s", cmd->name, cmd->args);
	if ((r = arg_u64(cmd, "address", pos[0], &addr)))
		return r;
	r = unmap ? vmc_vunmap(client(cmd), addr) : vmc_vfree(client(cmd), addr);
	if (r < 0)
		return fail(cmd, pos[0], r);
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, unmap ? "unmapped" : "freed", jhex(addr));
		jprint(o);
	}
	return VMCTL_EXIT_OK;
}

int cmd_free(const struct cmd *cmd, int argc, char **argv)
{
	return addr_op(cmd, argc, argv, false);
}

int cmd_vunmap(const struct cmd *cmd, int argc, char **argv)
{
	return addr_op(cmd, argc, argv, true);
}

int cmd_realloc(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "gfp", required_argument, NULL, OPT_GFP },
		COMMON_OPTS
	};
	struct alloc_args a = { 0 };
	uint64_t addr, size, naddr;
	char *pos[2] = { NULL };
	int r;

	positional(cmd, argc, argv, opts, alloc_opt, &a, pos, 2, 2);
	if ((r = arg_u64(cmd, "address", pos[0], &addr)) || (r = arg_size(cmd, "size", pos[1], &size)))
		return r;
	r = vmc_vrealloc(client(cmd), addr, size, a.gfp_set ? a.gfp : GFP_KERNEL, &naddr);
	if (r < 0)
		return fail(cmd, pos[0], r);
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "addr", jhex(addr));
		jput(o, "new_addr", jhex(naddr));
		jput(o, "size_bytes", json_object_new_uint64(size));
		jput(o, "freed", json_object_new_boolean(size == 0 && addr != 0));
		jput(o, "moved", json_object_new_boolean(size && addr && naddr != addr));
		jprint(o);
	} else if (size == 0) {
		/* vrealloc to 0 is vfree: say so, there is no new address. */
		printf("freed 0x%" PRIx64 "\n", addr);
	} else {
		printf("0x%" PRIx64 "\n", naddr);
	}
	return VMCTL_EXIT_OK;
}

int cmd_vmap(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prot", required_argument, NULL, OPT_PROT },
		{ "user", no_argument, NULL, OPT_USER },
		{ "no-guard", no_argument, NULL, OPT_NO_GUARD },
		{ "scoped", no_argument, NULL, OPT_SCOPED },
		{ "caller", required_argument, NULL, OPT_CALLER },
		COMMON_OPTS
	};
	struct alloc_args a = { .prot = PAGE_KERNEL };
	char **pos = calloc((size_t)argc, sizeof(*pos));
	uint64_t *pfns = calloc((size_t)argc, sizeof(*pfns));
	struct vmc_client *c;
	uint64_t addr;
	int n, r = 0;

	if (!pos || !pfns) {
		free(pos);
		free(pfns);
		return fail(cmd, NULL, -ENOMEM);
	}
	n = positional(cmd, argc, argv, opts, alloc_opt, &a, pos, 1, argc);
	for (int i = 0; i < n && !r; i++)
		r = arg_u64(cmd, "pfn", pos[i], &pfns[i]);
	if (r)
		goto out;
	c = client(cmd);
	vmc_set_scoped(c, a.scoped);
	if (a.caller)
		vmc_set_caller(c, a.caller);
	r = vmc_vmap(c, pfns, (uint64_t)n, (a.user ? VM_USERMAP : 0) |
		     (a.no_guard ? VM_NO_GUARD : 0), a.prot, &addr);
	r = r < 0 ? fail(cmd, pos[0], r) : print_new(addr, (uint64_t)n * VMC_PAGE_SIZE, a.scoped);
out:
	free(pos);
	free(pfns);
	return r;
}

int cmd_alloc_pages(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, OPT_NODE },
		{ "gfp", required_argument, NULL, OPT_GFP },
		{ "scoped", no_argument, NULL, OPT_SCOPED },
		COMMON_OPTS
	};
	struct alloc_args a = { .node = VMC_NO_NODE };
	struct vmc_client *c;
	uint64_t pfn;
	char *pos[1] = { NULL };
	long order;
	int r;

	positional(cmd, argc, argv, opts, alloc_opt, &a, pos, 1, 1);
	if ((r = arg_long(cmd, "order", pos[0], 0, VMC_MAX_PAGE_ORDER, &order)))
		return r;
	c = client(cmd);
	vmc_set_scoped(c, a.scoped);
	r = vmc_alloc_pages(c, a.gfp_set ? a.gfp : GFP_KERNEL, (unsigned)order, (int)a.node, &pfn);
	if (r < 0)
		return fail(cmd, pos[0], r);
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "pfn", jhex(pfn));
		jput(o, "order", json_object_new_int((int)order));
		jput(o, "phys_addr", jhex(pfn << VMC_PAGE_SHIFT));
		jput(o, "size_bytes", json_object_new_uint64((uint64_t)VMC_PAGE_SIZE << order));
		jput(o, "scoped", json_object_new_boolean(a.scoped));
		jprint(o);
	} else {
		printf("0x%" PRIx64 "\n", pfn);
	}
	return VMCTL_EXIT_OK;
}

int cmd_free_pages(const struct cmd *cmd, int argc, char **argv)
{
	uint64_t pfn;
	char *pos[2] = { NULL };
	long order;
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, pos, 2, 2);
	if ((r = arg_u64(cmd, "pfn", pos[0], &pfn)) ||
	    (r = arg_long(cmd, "order", pos[1], 0, VMC_MAX_PAGE_ORDER, &order)))
		return r;
	r = vmc_free_pages(client(cmd), pfn, (unsigned)order);
	if (r < 0)
		return fail(cmd, pos[0], r);
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "freed_pfn", jhex(pfn));
		jput(o, "order", json_object_new_int((int)order));
		jprint(o);
	}
	return VMCTL_EXIT_OK;
}
