/* objects.c -- vmctl's commands for what has no vm_struct of its own:
 * map-ram and unmap-ram (vm_map_ram's per-CPU vmap blocks), percpu-alloc
 * and percpu-free (the per-CPU allocator), kvfree-rcu.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmctl.h"

struct obj_args {
	long node;
	uint64_t align;
	bool scoped, head;
};

static int obj_opt(const struct cmd *cmd, int ch, const char *optarg, void *ctx)
{
	struct obj_args *a = ctx;

	switch (ch) {
	case OPT_SCOPED: a->scoped = true; return 0;
	case OPT_HEAD: a->head = true; return 0;
	case OPT_NODE:
		return arg_long(cmd, "node", optarg, VMC_NO_NODE, VMC_MAX_NODES - 1, &a->node);
	case OPT_ALIGN:
		return arg_size(cmd, "alignment", optarg, &a->align);
	}
	return -1;
}

/* The address of a new mapping or object. */
static int print_made(uint64_t addr, uint64_t n, const char *unit, bool scoped)
{
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "addr", jhex(addr));
		jput(o, unit, json_object_new_uint64(n));
		jput(o, "scoped", json_object_new_boolean(scoped));
		jprint(o);
		return VMCTL_EXIT_OK;
	}
	printf("0x%" PRIx64 "\n", addr);
	fflush(stdout);
	if (scoped)
		fprintf(stderr, "vmctl: 0x%" PRIx64 " is scoped: freed when vmctl exits, that is now\n",
			addr);
	return VMCTL_EXIT_OK;
}

static int print_done(const char *key, uint64_t addr)
{
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, key, jhex(addr));
		jprint(o);
	}
	return VMCTL_EXIT_OK;
}

int cmd_map_ram(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, OPT_NODE },
		{ "scoped", no_argument, NULL, OPT_SCOPED },
		COMMON_OPTS
	};
	struct obj_args a = { .node = VMC_NO_NODE };
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
	n = positional(cmd, argc, argv, opts, obj_opt, &a, pos, 1, argc);
	for (int i = 0; i < n && !r; i++)
		r = arg_u64(cmd, "pfn", pos[i], &pfns[i]);
	if (r)
		goto out;
	c = client(cmd);
	vmc_set_scoped(c, a.scoped);
	r = vmc_vm_map_ram(c, pfns, (uint64_t)n, (int)a.node, &addr);
	r = r < 0 ? fail(cmd, pos[0], r) : print_made(addr, (uint64_t)n, "pages", a.scoped);
out:
	free(pos);
	free(pfns);
	return r;
}

int cmd_unmap_ram(const struct cmd *cmd, int argc, char **argv)
{
	uint64_t addr, count;
	char *pos[2] = { NULL };
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, pos, 2, 2);
	if ((r = arg_u64(cmd, "address", pos[0], &addr)) || (r = arg_u64(cmd, "count", pos[1], &count)))
		return r;
	r = vmc_vm_unmap_ram(client(cmd), addr, count);
	return r < 0 ? fail(cmd, pos[0], r) : print_done("unmapped", addr);
}

int cmd_percpu_alloc(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "align", required_argument, NULL, OPT_ALIGN },
		{ "scoped", no_argument, NULL, OPT_SCOPED },
		COMMON_OPTS
	};
	struct obj_args a = { .node = VMC_NO_NODE };
	struct vmc_client *c;
	uint64_t size, ptr;
	char *pos[1] = { NULL };
	int r;

	positional(cmd, argc, argv, opts, obj_opt, &a, pos, 1, 1);
	if ((r = arg_size(cmd, "size", pos[0], &size)))
		return r;
	c = client(cmd);
	vmc_set_scoped(c, a.scoped);
	r = vmc_alloc_percpu(c, size, a.align, &ptr);
	return r < 0 ? fail(cmd, pos[0], r) : print_made(ptr, size, "size_bytes", a.scoped);
}

int cmd_percpu_free(const struct cmd *cmd, int argc, char **argv)
{
	uint64_t ptr;
	char *pos[1] = { NULL };
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, pos, 1, 1);
	if ((r = arg_u64(cmd, "address", pos[0], &ptr)))
		return r;
	r = vmc_free_percpu(client(cmd), ptr);
	return r < 0 ? fail(cmd, pos[0], r) : print_done("freed", ptr);
}

int cmd_kvfree_rcu(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "head", no_argument, NULL, OPT_HEAD },
		COMMON_OPTS
	};
	struct obj_args a = { .node = VMC_NO_NODE };
	uint64_t addr;
	char *pos[1] = { NULL };
	int r;

	positional(cmd, argc, argv, opts, obj_opt, &a, pos, 1, 1);
	if ((r = arg_u64(cmd, "address", pos[0], &addr)))
		return r;
	r = vmc_kvfree_rcu(client(cmd), addr, a.head);
	return r < 0 ? fail(cmd, pos[0], r) : print_done("queued", addr);
}
