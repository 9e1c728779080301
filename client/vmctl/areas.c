/* areas.c -- the areas themselves: one (info, find_vm_area), all of them
 * (vmallocinfo), those nobody holds any more (leaks), and freeing those in
 * one go (free --leaked).
 *
 * Leaked means the allocating process is gone.  vmctl records its parent
 * (the shell) as that process, so an area made at a prompt is leaked only
 * once the shell has exited (see client() in report.c).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "flagnames.h"
#include "size.h"
#include "vmctl.h"

int cmd_info(const struct cmd *cmd, int argc, char **argv)
{
	struct vmc_area a;
	char flags[128], prot[4], size[24];
	uint64_t addr;
	char *pos[1] = { NULL };
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, pos, 1, 1);
	if ((r = arg_u64(cmd, "address", pos[0], &addr)))
		return r;
	r = vmc_area_info(client(cmd), addr, &a);
	if (r < 0)
		return fail(cmd, pos[0], r);
	if (arg_json) {
		jprint(area_json(&a));
		return VMCTL_EXIT_OK;
	}
	cv_vm_flags_text(a.flags, flags, sizeof(flags));
	cv_prot_text(a.prot, prot);
	printf("addr:      0x%" PRIx64 "-0x%" PRIx64 "\n", a.addr, a.addr + a.size);
	printf("size:      %s\n", size_text(a.size, size));
	printf("flags:     0x%" PRIx32 " %s\n", a.flags, flags);
	printf("prot:      %s\n", prot);
	printf("pages:     %" PRIu64 "\n", a.nr_pages);
	if (a.phys_addr)
		printf("phys_addr: 0x%" PRIx64 "\n", a.phys_addr);
	printf("uid:       %" PRIu32 "\npid:       %" PRIu32 "\n", a.uid, a.pid);
	printf("caller:    %s\n", a.caller);
	printf("nodes:    ");
	for (unsigned i = 0; i < a.nr_nodes; i++)
		if (a.nr_per_node[i])
			printf(" N%u=%" PRIu32, i, a.nr_per_node[i]);
	printf("\nscoped:    %s\nleaked:    %s\n", a.scoped ? "yes" : "no",
	       a.leaked ? "yes" : "no");
	return VMCTL_EXIT_OK;
}

/* Print the kernel's area lines ("0x...-0x... SIZE rest"); with --human
 * the SIZE column as 1.5Mi, in the same 7 columns. */
static void print_area_lines(const char *text)
{
	while (*text) {
		size_t len = strcspn(text, "\n");
		unsigned long long size;
		int at = -1, end = -1;

		if (arg_human && sscanf(text, "0x%*x-0x%*x %n%llu%n", &at, &size, &end) == 1 &&
		    at >= 0 && end > at && (size_t)end <= len) {
			char h[CV_SIZE_STR];

			cv_format_size(size, h, sizeof(h));
			printf("%.*s%7s%.*s\n", at, text, h, (int)(len - (size_t)end), text + end);
		} else {
			printf("%.*s\n", (int)len, text);
		}
		text += len;
		if (*text)
			text++;
	}
}

static int areas(const struct cmd *cmd, bool leaks)
{
	struct vmc_area *as = NULL;
	size_t n = 0;
	char *text = NULL;
	int r;

	if (!arg_json) {
		r = vmc_query_text(client(cmd), leaks ? VMC_LEAKS : VMC_VMALLOCINFO, &text);
		if (r < 0)
			return fail(cmd, NULL, r);
		print_area_lines(text);
		free(text);
		return VMCTL_EXIT_OK;
	}
	r = vmc_areas(client(cmd), leaks, &as, &n);
	if (r < 0)
		return fail(cmd, NULL, r);
	{
		json_object *o = json_object_new_object(), *arr = json_object_new_array();

		for (size_t i = 0; i < n; i++)
			json_object_array_add(arr, area_json(&as[i]));
		jput(o, "areas", arr);
		jprint(o);
	}
	free(as);
	return VMCTL_EXIT_OK;
}

int cmd_vmallocinfo(const struct cmd *cmd, int argc, char **argv)
{
	positional(cmd, argc, argv, common_only, NULL, NULL, NULL, 0, 0);
	return areas(cmd, false);
}

int cmd_leaks(const struct cmd *cmd, int argc, char **argv)
{
	positional(cmd, argc, argv, common_only, NULL, NULL, NULL, 0, 0);
	return areas(cmd, true);
}

int free_leaked(const struct cmd *cmd)
{
	struct vmc_client *c = client(cmd);
	json_object *o = NULL, *freed = NULL, *failed = NULL;
	struct vmc_area *as = NULL;
	uint64_t pages = 0;
	size_t n = 0, nfreed = 0;
	int r, rc = VMCTL_EXIT_OK;

	r = vmc_areas(c, true, &as, &n);
	if (r < 0)
		return fail(cmd, "--leaked", r);
	if (arg_json) {
		o = json_object_new_object();
		freed = json_object_new_array();
		failed = json_object_new_array();
	}
	for (size_t i = 0; i < n; i++) {
		const struct vmc_area *a = &as[i];
		char arg[24], size[24];

		snprintf(arg, sizeof(arg), "0x%" PRIx64, a->addr);
		r = a->flags & VM_MAP ? vmc_vunmap(c, a->addr) : vmc_vfree(c, a->addr);
		if (r < 0) {
			/* Say so and go on: one area freed meanwhile stops nothing. */
			if (arg_json) {
				json_object *e = json_object_new_object();

				jput(e, "addr", jhex(a->addr));
				jput(e, "errno", json_object_new_int(-r));
				jput(e, "message", json_object_new_string(vmc_last_message(c)));
				json_object_array_add(failed, e);
			} else {
				fail(cmd, arg, r);
			}
			rc = VMCTL_EXIT_FAILED;
			continue;
		}
		nfreed++;
		pages += a->nr_pages;
		if (arg_json)
			json_object_array_add(freed, area_json(a));
		else
			printf("freed 0x%016" PRIx64 "-0x%016" PRIx64 " %7s %s pages=%" PRIu64
			       " %s uid=%" PRIu32 " pid=%" PRIu32 "\n", a->addr, a->addr + a->size,
			       size_text(a->size, size), a->caller[0] ? a->caller : "-", a->nr_pages,
			       a->flags & VM_MAP ? "vmap" : "vmalloc", a->uid, a->pid);
	}
	if (arg_json) {
		jput(o, "freed", freed);
		jput(o, "freed_areas", json_object_new_uint64(nfreed));
		jput(o, "freed_pages", json_object_new_uint64(pages));
		jput(o, "failed", failed);
		jput(o, "failed_areas", json_object_new_uint64(n - nfreed));
		jprint(o);
	} else {
		char h[24];

		if (arg_human)
			printf("freed %zu leaked area%s, %s\n", nfreed, nfreed == 1 ? "" : "s",
			       size_text(pages * VMC_PAGE_SIZE, h));
		else
			printf("freed %zu leaked area%s, %" PRIu64 " page%s\n", nfreed,
			       nfreed == 1 ? "" : "s", pages, pages == 1 ? "" : "s");
	}
	free(as);
	return rc;
}
