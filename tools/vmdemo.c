/* vmdemo.c -- builds a small machine, makes a few allocations and prints
 * vmallocinfo, meminfo and buddyinfo: the engine at a glance.
 *
 * usage: vmdemo [--memory SIZE] [--nodes N] [--layout x86_64|i386]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "size.h"
#include "vmcore.h"

static void log_stderr(void *ctx, int level, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "<%d>%s\n", level, msg);
}

static int show(const char *title, int (*fn)(const struct vm_engine *, char **, size_t *),
		const struct vm_engine *e)
{
	char *buf = NULL;
	size_t len = 0;
	int r = fn(e, &buf, &len);

	if (r < 0)
		return r;
	printf("== %s\n%s\n", title, buf);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "memory", required_argument, NULL, 'm' },
		{ "nodes", required_argument, NULL, 'n' },
		{ "layout", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vm_config cfg;
	struct vm_engine *e;
	uint64_t a[4], pfn;
	char *buf = NULL;
	size_t len = 0;
	int c, r;

	vm_config_init(&cfg);
	cfg.log = log_stderr;
	while ((c = getopt_long(argc, argv, "m:n:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (cv_parse_size(optarg, &cfg.memory_bytes) < 0) {
				fprintf(stderr, "vmdemo: bad size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			cfg.nr_nodes = (unsigned)atoi(optarg);
			break;
		case 'l':
			if (vm_layout_from_name(optarg, &cfg.layout) < 0) {
				fprintf(stderr, "vmdemo: unknown layout '%s'\n", optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: vmdemo [--memory SIZE] [--nodes N] [--layout x86_64|i386]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	r = vm_engine_create(&cfg, &e);
	if (r < 0) {
		fprintf(stderr, "vmdemo: cannot create the machine: %s\n", strerror(-r));
		return 1;
	}
	printf("A %s machine with %llu MiB in %u node(s).\n\n", vm_layout_name(cfg.layout),
	       (unsigned long long)(cfg.memory_bytes >> 20), cfg.nr_nodes);

	vm_set_current(e, 0, 1, 0, "vmdemo_main+0x4c/0x1a0");
	r = vm_vmalloc(e, 4096, &a[0]);
	if (r == 0)
		r = vm_vzalloc(e, 3 * 4096 + 1, &a[1]);
	vm_set_current(e, 0, 1, 0, "module_alloc+0x2f/0x80");
	if (r == 0)
		r = vm_vmalloc(e, 2u << 20, &a[2]);
	if (r == 0)
		r = vm_vmalloc_user(e, 64 * 1024, &a[3]);
	if (r == 0)
		r = vm_vwrite(e, a[0], "hello, vmalloc", 15);
	if (r == 0)
		r = vm_vfree(e, a[1]);
	if (r == 0)
		r = vm_vmalloc_to_pfn(e, a[0], &pfn);
	if (r < 0) {
		fprintf(stderr, "vmdemo: %s\n", strerror(-r));
		vm_engine_destroy(e);
		return 1;
	}
	printf("vmalloc(4096) = %#llx, backed by pfn %#llx\n\n", (unsigned long long)a[0],
	       (unsigned long long)pfn);

	r = vm_show_vmallocinfo(e, false, 0, &buf, &len);
	if (r == 0) {
		printf("== /proc/vmallocinfo\n%s\n", buf);
		free(buf);
	}
	if (r == 0)
		r = show("/proc/meminfo", vm_show_meminfo, e);
	if (r == 0)
		r = show("/proc/buddyinfo", vm_show_buddyinfo, e);
	if (r == 0)
		r = show("extfrag/unusable_index", vm_show_unusable_index, e);
	vm_engine_destroy(e);
	return r < 0 ? 1 : 0;
}
