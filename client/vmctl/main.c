/* main.c -- vmctl, the command line client of vmallocd: the global
 * options, the table of commands and the dispatch to one of them.  Each
 * command is a call (or a few) of libvmclient; kernel-format text by
 * default, JSON with --json.  vmctl(1) is the manual.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "vmctl.h"

const char *arg_socket;
bool arg_json;
bool arg_human;
int arg_timeout_ms;

static const struct cmd cmds[] = {
	{ "alloc", cmd_alloc, "SIZE [options]",
	  "vmalloc SIZE bytes; print the address",
	  "  --zero          zeroed memory (vzalloc)\n"
	  "  --node N        from NUMA node N (vmalloc_node)\n"
	  "  --align BYTES   alignment, a power of two (__vmalloc_node_range)\n"
	  "  --user          vmalloc_user: zeroed, VM_USERMAP\n"
	  "  --dma32         vmalloc_32: pages below 4 GiB\n"
	  "  --gfp FLAGS     gfp flags, e.g. GFP_KERNEL|__GFP_ZERO or 0x...\n"
	  "  --no-guard      no guard page (VM_NO_GUARD)\n"
	  "  --scoped        freed when vmctl's connection closes, that is when it exits\n"
	  "  --caller STR    the caller shown in vmallocinfo (default \"vmctl\")\n"
	  "  The area belongs to vmctl's parent process (your shell): it counts as\n"
	  "  leaked once that process is gone.\n" },
	{ "free", cmd_free, "ADDR | --leaked", "vfree the area at ADDR, or every leaked one",
	  "  --leaked        free every leaked area instead (yours; root: all) and\n"
	  "                  print each\n" },
	{ "realloc", cmd_realloc, "ADDR SIZE [--gfp FLAGS]",
	  "vrealloc: resize (SIZE 0: free); the address", NULL },
	{ "read", cmd_read, "ADDR LEN [--hex]",
	  "LEN bytes at ADDR to stdout, raw or --hex", NULL },
	{ "write", cmd_write, "ADDR", "write stdin (any length) at ADDR", NULL },
	{ "translate", cmd_translate, "ADDR", "the pfn and physical address behind ADDR", NULL },
	{ "info", cmd_info, "ADDR", "the area containing ADDR (find_vm_area)", NULL },
	{ "vmallocinfo", cmd_vmallocinfo, "", "/proc/vmallocinfo (your own areas unless root)", NULL },
	{ "leaks", cmd_leaks, "", "areas whose allocating process is gone",
	  NULL },
	{ "meminfo", cmd_meminfo, "[-i SECONDS [--count N]]",
	  "/proc/meminfo's memory and vmalloc lines", NULL },
	{ "buddyinfo", cmd_buddyinfo, "[-i SECONDS [--count N]]",
	  "/proc/buddyinfo: free blocks per zone, order", NULL },
	{ "frag", cmd_frag, "[-i SECONDS [--count N]]",
	  "unusable_index and extfrag_index per zone", NULL },
	{ "stat", cmd_stat, "[-i SECONDS [--count N]]",
	  "counters; with -i a line per sample (vmstat)", NULL },
	{ "top", cmd_top, "[-i SECONDS] [--batch [--count N]] [--order N]",
	  "the machine on one screen, refreshed",
	  "  -i SECONDS      refresh interval (2)\n"
	  "  --batch         print frames without terminal control (one, or --count N)\n"
	  "  --order N       the order of the fragmentation columns (9, a pageblock)\n"
	  "  Keys: q quits.\n" },
	{ "map", cmd_map, "[-o FILE.png|FILE.svg] [--term] [--range START-END] [--pfns START-END]",
	  "the physical map and the vmalloc range's, drawn",
	  "  -o, --output FILE  a PNG or SVG picture (cairo), by the file's extension\n"
	  "  --term          a terminal picture (Unicode half blocks, 256 colours):\n"
	  "                  the default when stdout is a terminal and no -o is given\n"
	  "  --range START-END  the vmalloc strip zoomed to [START, END) (KVA addresses)\n"
	  "  --pfns START-END   the physical map of frames [START, END) only\n"
	  "  --cells N       at most N cells (default 262144: larger machines are\n"
	  "                  downsampled, each cell a power of two of frames)\n"
	  "  --bins N        bins of the vmalloc strip (default 1024)\n"
	  "  One pixel a frame, 512 frames (a pageblock) a row; free frames are coloured\n"
	  "  by the order of their buddy block, used ones by their holder.\n" },
	{ "demo", cmd_demo, "fragmentation [--out DIR]",
	  "fragment memory until no order-4 block is free; show alloc_pages(4) fail, vmalloc(64K) succeed",
	  "  --out DIR       draw before.png and after.png there (default: no pictures)\n"
	  "  Run it on a small machine of its own (64 MiB, say): it holds\n"
	  "  nearly every frame while it runs; everything is scoped and goes when it exits.\n" },
	{ "check", cmd_check, "", "run the daemon's invariant checker", NULL },
	{ "purge", cmd_purge, "", "purge the lazily freed areas now (root only)", NULL },
	{ "snapshot", cmd_snapshot, "save FILE",
	  "the whole machine into FILE, for a daemon to start from (root only)", NULL },
	{ "alloc-pages", cmd_alloc_pages, "ORDER [--node N] [--gfp FLAGS] [--scoped]",
	  "alloc_pages: 2^ORDER frames; the first pfn", NULL },
	{ "free-pages", cmd_free_pages, "PFN ORDER", "free_pages", NULL },
	{ "vmap", cmd_vmap, "PFN... [--prot rw|ro|rwx] [--user] [--no-guard] [--scoped]",
	  "map alloc-pages frames; print the address", NULL },
	{ "vunmap", cmd_vunmap, "ADDR", "unmap a vmap area", NULL },
	{ "map-ram", cmd_map_ram, "PFN... [--node N] [--scoped]",
	  "vm_map_ram: map alloc-pages frames in a vmap block", NULL },
	{ "unmap-ram", cmd_unmap_ram, "ADDR COUNT", "vm_unmap_ram", NULL },
	{ "percpu-alloc", cmd_percpu_alloc, "SIZE [--align N] [--scoped]",
	  "__alloc_percpu: CPU 0's copy of a per-CPU object", NULL },
	{ "percpu-free", cmd_percpu_free, "ADDR", "free_percpu", NULL },
	{ "kvfree-rcu", cmd_kvfree_rcu, "ADDR [--head]",
	  "kvfree_rcu: vfree after a grace period", NULL },
	{ "phys-read", cmd_read, "PFN OFFSET LEN [--hex]",
	  "read frames from alloc-pages by pfn", NULL },
	{ "phys-write", cmd_write, "PFN OFFSET", "write stdin to frames from alloc-pages", NULL },
	{ "hello", cmd_hello, "", "the daemon's version, limits, the peer it sees", NULL },
	{ "ping", cmd_ping, "[--count N]", "round trips to the daemon, timed", NULL },
	{ "replay", cmd_replay, "FILE|- [options]",
	  "replay an allocation trace through the daemon; vmreplay's report",
	  "  --format NAME       ftrace, bpftrace, malloclab, mtrace or native (auto)\n"
	  "  --depth N           calls in flight on the connection (64)\n"
	  "  --no-start-state    start from the machine as it is, not from the state the\n"
	  "                      trace's kernel was in when the capture began\n"
	  "  --warm              with --no-start-state: seed the lazy backlog from the\n"
	  "                      first free's nr_lazy\n"
	  "  --skip-bad          count and skip malformed lines instead of stopping\n"
	  "  --events FILE       write one JSON object per replayed event\n"
	  "  --series FILE       write a CSV time series of the machine\n"
	  "  --series-every K    events between two rows of the series (1000)\n"
	  "  --progress, --no-progress   progress on stderr (on a terminal)\n"
	  "  The machine is the daemon's (its kernel, CPUs, memory); each event runs on\n"
	  "  its CPU modulo the daemon's, through a connection of that CPU.  What the\n"
	  "  replay makes stays on the machine.  The start state needs root (it\n"
	  "  purges) and a file, not a pipe.\n" },
	{ "test-vmalloc", cmd_test_vmalloc, "[performance|smoke|stress] [KEY=VALUE...] [--quiet]",
	  "the kernel's test_vmalloc cases via vmallocd",
	  "  Modes, as tools/testing/selftests/mm/test_vmalloc.sh sets them:\n"
	  "    performance   sequential_test_order=1 test_repeat_count=3\n"
	  "    smoke         test_loop_count=10000 test_repeat_count=10\n"
	  "    stress        nr_threads=NUM_CPUS test_repeat_count=20\n"
	  "  Parameters (lib/test_vmalloc.c's, applied after the mode):\n"
	  "    run_test_mask=N        cases by bit (default: the kernel's, 7 on 6.18):\n"
	  "                           1 fix_size, 2 full_fit, 4 long_busy_list,\n"
	  "                           8 random_size, 16 fix_align, 32 random_size_align,\n"
	  "                           64 align_shift, 128 pcpu_alloc, 256 kvfree_rcu_1_arg,\n"
	  "                           512 kvfree_rcu_2_arg, 1024 vm_map_ram\n"
	  "    nr_threads=N           workers, each a thread with its own connection (1)\n"
	  "    test_loop_count=N      loops per run of a case (1000000)\n"
	  "    test_repeat_count=N    runs of each case (1)\n"
	  "    nr_pages=N             pages of fix_size and vm_map_ram (1)\n"
	  "    use_huge=0|1           fix_size with vmalloc_huge (0)\n"
	  "    nr_pcpu_objects=N      objects of pcpu_alloc (35000)\n"
	  "    sequential_test_order=0|1  table order instead of shuffled (0)\n"
	  "    seed=N, nr_cpus=N      the random stream; full_fit's CPU count\n"
	  "  The cases are the machine's kernel's: 6.18 prints \"Summary: TEST passed: N\n"
	  "  failed: N xfailed: N repeat: N loops: N avg: N usec\" per case and worker\n"
	  "  (4.19, the first module: no xfailed), avg being one whole run of the case.\n"
	  "  On a terminal, progress and an estimate go to stderr (--quiet: none).\n"
	  "  Exit status 1 if a case failed, except align_shift_alloc_test failing,\n"
	  "  which it does by design.\n" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: vmctl [--socket PATH] [--json] [-h] [--timeout MS] COMMAND [ARGS]\n\n"
		"Talk to vmallocd, the user-space vmalloc service.\n\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char head[80];

		snprintf(head, sizeof(head), "%s %s", cmds[i].name, cmds[i].args);
		if (strlen(head) > 30)
			fprintf(f, "  %s\n  %-30s %s\n", head, "", cmds[i].help);
		else
			fprintf(f, "  %-30s %s\n", head, cmds[i].help);
	}
	fprintf(f, "\nOptions:\n"
		"  --socket PATH   the daemon's socket (default: $VMALLOCD_SOCKET, then\n"
		"                  /run/vmallocd/vmallocd.sock for root, else\n"
		"                  $XDG_RUNTIME_DIR/vmallocd.sock, or the system socket\n"
		"                  if that one does not exist)\n"
		"  --json          JSON output, errors included (addresses as \"0x...\")\n"
		"  -h, --human     sizes as 1.5Mi, as free -h prints them\n"
		"  --timeout MS    give up on a reply after MS milliseconds (0: never)\n"
		"  --help          this text; 'vmctl COMMAND --help' for one command\n"
		"  --version       print the version\n\n"
		"Options may come before or after the command.  Sizes take K/M/G/T\n"
		"suffixes and fractions (1.5M); addresses and pfns are 0x hex or decimal.\n"
		"Exit status: 0 ok, 1 the daemon refused the call or was not reached,\n"
		"2 usage error.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "version", no_argument, NULL, 'V' },
		COMMON_OPTS
	};
	const struct cmd *cmd = NULL;
	int ch, rc;
	long v;

	/* --json anywhere makes even a usage error JSON. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			arg_json = true;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_JSON:
			arg_json = true;
			break;
		case OPT_SOCKET:
			arg_socket = optarg;
			break;
		case OPT_TIMEOUT:
			if (arg_long(NULL, "timeout", optarg, 0, INT32_MAX, &v))
				return VMCTL_EXIT_USAGE;
			arg_timeout_ms = (int)v;
			break;
		case 'h':
		case OPT_HUMAN:
			arg_human = true;
			break;
		case OPT_HELP:
			usage(stdout);
			return VMCTL_EXIT_OK;
		case 'V':
			printf("vmctl %s\n", VMC_VERSION);
			return VMCTL_EXIT_OK;
		case ':':
			return usage_err(NULL, "option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_err(NULL, "unknown option '%s' (try 'vmctl --help')",
					 argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		if (arg_json)
			return usage_err(NULL, "no command (try 'vmctl --help')");
		usage(stderr);
		return VMCTL_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, argv[optind]) == 0)
			cmd = &cmds[i];
	if (!cmd)
		return usage_err(NULL, "unknown command '%s' (try 'vmctl --help')", argv[optind]);
	argc -= optind;
	argv += optind;
	/* Rescan from argv[1] of the new vector.  Not 0 (a full re-initialisation):
	 * positional() must look at each element before getopt does, to take
	 * a negative number as an argument rather than an option. */
	optind = 1;
	rc = cmd->fn(cmd, argc, argv);
	client_close();
	return rc;
}
