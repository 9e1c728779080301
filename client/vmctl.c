/* vmctl.c -- the command line client of vmallocd: one subcommand per call
 * of libvmclient; kernel-format text by default, JSON with --json.
 *
 * Exit status: 0 on success, 1 when an operation fails (the daemon said no,
 * or it could not be reached), 2 for a usage error.  Errors go to stderr as
 * "vmctl: SUBCOMMAND ARG: strerror text", then, when the daemon explained
 * more, its message on a second line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "test_vmalloc.h"
#include "vmclient.h"
#include "vmcore.h"

#ifndef VMC_VERSION
#define VMC_VERSION "0"
#endif

#define IO_CHUNK (4u << 20)   /* bytes per vmc_read/vmc_write call */

/* Global options. */
static const char *arg_socket;
static bool arg_json;
static int arg_timeout_ms;

static struct vmc_client *g_client;

struct cmd {
	const char *name;
	int (*fn)(const struct cmd *cmd, int argc, char **argv);
	const char *args;          /* usage after the name */
	const char *help;          /* one line */
	const char *details;       /* options, or NULL */
};

/* ---------------------------------------------------------------------------
 * Messages and parsing
 */

static void usage_cmd(const struct cmd *cmd, FILE *f)
{
	fprintf(f, "Usage: vmctl [--socket PATH] [--json] %s %s\n  %s\n", cmd->name, cmd->args,
		cmd->help);
	if (cmd->details)
		fprintf(f, "%s", cmd->details);
}

/* A usage error: message, hint, exit 2. */
static int __attribute__((format(printf, 2, 3))) usage_err(const struct cmd *cmd,
							   const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vmctl: %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'vmctl %s --help'.\n", cmd->name);
	return 2;
}

/* A failed operation: "vmctl: what arg: strerror", then the daemon's own
 * message if it says more.  Returns the exit status 1. */
static int fail(const char *what, const char *arg, int err)
{
	const char *msg = g_client ? vmc_last_message(g_client) : "";
	const char *text = vmc_strerror(err);

	if (arg)
		fprintf(stderr, "vmctl: %s %s: %s\n", what, arg, text);
	else
		fprintf(stderr, "vmctl: %s: %s\n", what, text);
	if (msg[0] && strcmp(msg, text) != 0)
		fprintf(stderr, "vmctl: %s\n", msg);
	return 1;
}

static struct vmc_client *client(void)
{
	char path[128];
	int r;

	if (g_client)
		return g_client;
	r = vmc_connect(arg_socket, &g_client);
	if (r < 0) {
		if (arg_socket)
			snprintf(path, sizeof(path), "%s", arg_socket);
		else if (vmc_default_socket(path, sizeof(path)) < 0)
			snprintf(path, sizeof(path), "(default socket)");
		fail("connect", path, r);
		exit(1);
	}
	vmc_set_timeout(g_client, arg_timeout_ms);
	vmc_set_caller(g_client, "vmctl");
	return g_client;
}

/* An address or pfn: 0x hex or decimal. */
static int parse_u64(const char *s, uint64_t *ret)
{
	unsigned long long v;
	char *end;
	int base = 10;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!*s || *s == '-' || *s == '+')
			return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_int(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static const struct {
	const char *name;
	uint32_t value;
} gfp_names[] = {
	{ "GFP_KERNEL", GFP_KERNEL },
	{ "GFP_ATOMIC", GFP_ATOMIC },
	{ "GFP_NOWAIT", GFP_NOWAIT },
	{ "GFP_NOIO", GFP_NOIO },
	{ "GFP_NOFS", GFP_NOFS },
	{ "GFP_USER", GFP_USER },
	{ "GFP_DMA", GFP_DMA },
	{ "GFP_DMA32", GFP_DMA32 },
	{ "GFP_HIGHUSER", GFP_HIGHUSER },
	{ "__GFP_DMA", __GFP_DMA },
	{ "__GFP_HIGHMEM", __GFP_HIGHMEM },
	{ "__GFP_DMA32", __GFP_DMA32 },
	{ "__GFP_MOVABLE", __GFP_MOVABLE },
	{ "__GFP_HIGH", __GFP_HIGH },
	{ "__GFP_IO", __GFP_IO },
	{ "__GFP_FS", __GFP_FS },
	{ "__GFP_DIRECT_RECLAIM", __GFP_DIRECT_RECLAIM },
	{ "__GFP_KSWAPD_RECLAIM", __GFP_KSWAPD_RECLAIM },
	{ "__GFP_RECLAIM", __GFP_RECLAIM },
	{ "__GFP_NOWARN", __GFP_NOWARN },
	{ "__GFP_RETRY_MAYFAIL", __GFP_RETRY_MAYFAIL },
	{ "__GFP_NOFAIL", __GFP_NOFAIL },
	{ "__GFP_NORETRY", __GFP_NORETRY },
	{ "__GFP_ZERO", __GFP_ZERO },
	{ "__GFP_THISNODE", __GFP_THISNODE },
	{ "__GFP_ACCOUNT", __GFP_ACCOUNT },
};

static bool gfp_lookup(const char *tok, size_t len, uint32_t *ret)
{
	static const char *const prefixes[] = { "", "GFP_", "__GFP_" };

	for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
		size_t pl = strlen(prefixes[p]);

		for (size_t i = 0; i < sizeof(gfp_names) / sizeof(gfp_names[0]); i++) {
			const char *n = gfp_names[i].name;

			if (strncasecmp(n, prefixes[p], pl) == 0 && strlen(n) == pl + len &&
			    strncasecmp(n + pl, tok, len) == 0) {
				*ret = gfp_names[i].value;
				return true;
			}
		}
	}
	return false;
}

/* "GFP_KERNEL|__GFP_ZERO", "kernel,zero", "0x100cc0": the OR of all. */
static int parse_gfp(const char *s, uint32_t *ret)
{
	uint32_t gfp = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		size_t len = strcspn(s, "|,+");
		uint32_t v;

		if (len == 0)
			return -EINVAL;
		if (!gfp_lookup(s, len, &v)) {
			char num[32];
			uint64_t n;

			if (len >= sizeof(num))
				return -EINVAL;
			memcpy(num, s, len);
			num[len] = '\0';
			if (parse_u64(num, &n) < 0 || n > UINT32_MAX)
				return -EINVAL;
			v = (uint32_t)n;
		}
		gfp |= v;
		s += len;
		if (*s)
			s++;
	}
	*ret = gfp;
	return 0;
}

/* "rw", "ro", "rwx", "r-x" or a number. */
static int parse_prot(const char *s, uint32_t *ret)
{
	uint32_t prot = 0;
	uint64_t n;

	if (parse_u64(s, &n) == 0) {
		if (n > UINT32_MAX)
			return -EINVAL;
		*ret = (uint32_t)n;
		return 0;
	}
	if (strcmp(s, "ro") == 0) {
		*ret = PAGE_KERNEL_RO;
		return 0;
	}
	for (; *s; s++) {
		switch (*s) {
		case 'r': prot |= VM_PROT_READ; break;
		case 'w': prot |= VM_PROT_WRITE; break;
		case 'x': prot |= VM_PROT_EXEC; break;
		case '-': break;
		default: return -EINVAL;
		}
	}
	*ret = prot;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Options every subcommand takes
 */

enum {
	OPT_JSON = 0x100, OPT_SOCKET, OPT_TIMEOUT,
	OPT_ZERO, OPT_NODE, OPT_ALIGN, OPT_USER, OPT_DMA32, OPT_SCOPED, OPT_GFP,
	OPT_NO_GUARD, OPT_CALLER, OPT_HEX, OPT_PROT, OPT_COUNT,
};

#define COMMON_OPTS \
	{ "json", no_argument, NULL, OPT_JSON }, \
	{ "socket", required_argument, NULL, OPT_SOCKET }, \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ NULL, 0, NULL, 0 }

static const struct option common_only[] = { COMMON_OPTS };

static int set_timeout(const char *s)
{
	long v;

	if (parse_int(s, 0, INT32_MAX, &v) < 0)
		return -EINVAL;
	arg_timeout_ms = (int)v;
	return 0;
}

/* The next option of cmd: its id, -1 at the end of the options; handles the
 * common ones itself.  A usage error or --help exits. */
static int next_opt(const struct cmd *cmd, int argc, char **argv, const struct option *opts)
{
	for (;;) {
		int ch = getopt_long(argc, argv, "+h", opts, NULL);

		switch (ch) {
		case OPT_JSON:
			arg_json = true;
			continue;
		case OPT_SOCKET:
			arg_socket = optarg;
			continue;
		case OPT_TIMEOUT:
			if (set_timeout(optarg) < 0)
				exit(usage_err(cmd, "invalid timeout '%s'", optarg));
			continue;
		case 'h':
			usage_cmd(cmd, stdout);
			exit(0);
		case '?':
		case ':':
			exit(usage_err(cmd, "invalid option or missing argument: '%s'",
				       argv[optind - 1]));
		default:
			return ch;
		}
	}
}

/* Positional arguments: argv[optind..], between min and max of them.
 * Options may come after them: getopt stops at the first one, so the rest
 * are parsed here too. */
static int positional(const struct cmd *cmd, int argc, char **argv, const struct option *opts,
		      int (*opt_fn)(const struct cmd *, int, void *), void *ctx,
		      char **pos, int min, int max)
{
	int n = 0, ch;

	for (;;) {
		while ((ch = next_opt(cmd, argc, argv, opts)) != -1) {
			int r = opt_fn ? opt_fn(cmd, ch, ctx) : 2;

			if (r)
				exit(r == 2 ? usage_err(cmd, "unexpected option") : r);
		}
		if (optind >= argc)
			break;
		if (n == max)
			exit(usage_err(cmd, "unexpected argument '%s'", argv[optind]));
		pos[n++] = argv[optind++];
	}
	if (n < min)
		exit(usage_err(cmd, "missing argument (usage: vmctl %s %s)", cmd->name, cmd->args));
	return n;
}

/* ---------------------------------------------------------------------------
 * Output helpers
 */

static json_object *jhex(uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "0x%" PRIx64, v);
	return json_object_new_string(b);
}

/* Thousandths as a JSON number with three decimals, as the kernel prints. */
static json_object *jmilli(int v)
{
	char b[24];
	unsigned a = v < 0 ? (unsigned)-(long)v : (unsigned)v;

	snprintf(b, sizeof(b), "%s%u.%03u", v < 0 ? "-" : "", a / 1000, a % 1000);
	return json_object_new_double_s(v / 1000.0, b);
}

static void jput(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static void jprint(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static const struct {
	uint32_t bit;
	const char *name;
} vm_flag_names[] = {
	{ VM_IOREMAP, "ioremap" },
	{ VM_ALLOC, "vmalloc" },
	{ VM_MAP, "vmap" },
	{ VM_USERMAP, "user" },
	{ VM_DMA_COHERENT, "dma-coherent" },
	{ VM_UNINITIALIZED, "uninitialized" },
	{ VM_NO_GUARD, "no-guard" },
	{ VM_SCOPED, "scoped" },
};

static void flags_text(uint32_t flags, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(vm_flag_names) / sizeof(vm_flag_names[0]); i++) {
		if (!(flags & vm_flag_names[i].bit))
			continue;
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
					 used ? " " : "", vm_flag_names[i].name);
	}
	if (used >= len)
		buf[len - 1] = '\0';
}

static json_object *area_json(const struct vmc_area *a)
{
	json_object *o = json_object_new_object(), *fl = json_object_new_array();
	json_object *nodes = json_object_new_array();

	jput(o, "addr", jhex(a->addr));
	jput(o, "end", jhex(a->addr + a->size));
	jput(o, "size", json_object_new_uint64(a->size));
	jput(o, "flags", json_object_new_uint64(a->flags));
	for (size_t i = 0; i < sizeof(vm_flag_names) / sizeof(vm_flag_names[0]); i++)
		if (a->flags & vm_flag_names[i].bit)
			json_object_array_add(fl, json_object_new_string(vm_flag_names[i].name));
	jput(o, "flag_names", fl);
	jput(o, "prot", json_object_new_uint64(a->prot));
	jput(o, "nr_pages", json_object_new_uint64(a->nr_pages));
	jput(o, "phys_addr", jhex(a->phys_addr));
	jput(o, "uid", json_object_new_uint64(a->uid));
	jput(o, "pid", json_object_new_uint64(a->pid));
	jput(o, "caller", json_object_new_string(a->caller));
	for (unsigned i = 0; i < a->nr_nodes; i++)
		json_object_array_add(nodes, json_object_new_uint64(a->nr_per_node[i]));
	jput(o, "nr_per_node", nodes);
	jput(o, "scoped", json_object_new_boolean(a->scoped));
	jput(o, "leaked", json_object_new_boolean(a->leaked));
	return o;
}

/* hexdump -C, streamed: identical full lines collapse into "*". */
struct hexdump {
	uint64_t off;              /* offset of line[0] */
	uint8_t line[16], prev[16];
	size_t fill;
	bool have_prev, starred;
};

static void hd_emit(struct hexdump *h)
{
	char asc[17];

	if (h->fill == 16 && h->have_prev && memcmp(h->line, h->prev, 16) == 0) {
		if (!h->starred)
			puts("*");
		h->starred = true;
	} else {
		printf("%08" PRIx64 " ", h->off);
		for (size_t i = 0; i < 16; i++) {
			if (i % 8 == 0)
				putchar(' ');
			if (i < h->fill)
				printf("%02x ", h->line[i]);
			else
				fputs("   ", stdout);
			asc[i] = h->line[i] >= 0x20 && h->line[i] < 0x7f ? (char)h->line[i] : '.';
		}
		asc[h->fill] = '\0';
		printf(" |%s|\n", asc);
		h->starred = false;
	}
	memcpy(h->prev, h->line, 16);
	h->have_prev = h->fill == 16;
	h->off += h->fill;
	h->fill = 0;
}

static void hd_feed(struct hexdump *h, const uint8_t *p, size_t n)
{
	while (n) {
		size_t k = 16 - h->fill < n ? 16 - h->fill : n;

		memcpy(h->line + h->fill, p, k);
		h->fill += k;
		p += k;
		n -= k;
		if (h->fill == 16)
			hd_emit(h);
	}
}

static void hd_end(struct hexdump *h)
{
	if (h->fill)
		hd_emit(h);
	if (h->off)
		printf("%08" PRIx64 "\n", h->off);
}

/* ---------------------------------------------------------------------------
 * The vmalloc family
 */

struct alloc_args {
	bool zero, user, dma32, scoped, no_guard, node_set, gfp_set;
	long node;
	uint64_t align;
	uint32_t gfp, prot;
	const char *caller;
};

static int alloc_opt(const struct cmd *cmd, int ch, void *ctx)
{
	struct alloc_args *a = ctx;

	switch (ch) {
	case OPT_ZERO: a->zero = true; return 0;
	case OPT_USER: a->user = true; return 0;
	case OPT_DMA32: a->dma32 = true; return 0;
	case OPT_SCOPED: a->scoped = true; return 0;
	case OPT_NO_GUARD: a->no_guard = true; return 0;
	case OPT_CALLER: a->caller = optarg; return 0;
	case OPT_NODE:
		if (parse_int(optarg, -1, VM_MAX_NODES - 1, &a->node) < 0)
			exit(usage_err(cmd, "invalid node '%s'", optarg));
		a->node_set = true;
		return 0;
	case OPT_ALIGN:
		if (vm_parse_size(optarg, &a->align) < 0)
			exit(usage_err(cmd, "invalid alignment '%s'", optarg));
		return 0;
	case OPT_GFP:
		if (parse_gfp(optarg, &a->gfp) < 0)
			exit(usage_err(cmd, "invalid gfp flags '%s'", optarg));
		a->gfp_set = true;
		return 0;
	case OPT_PROT:
		if (parse_prot(optarg, &a->prot) < 0)
			exit(usage_err(cmd, "invalid prot '%s'", optarg));
		return 0;
	}
	return 2;
}

static int print_addr(uint64_t addr)
{
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "addr", jhex(addr));
		jprint(o);
	} else {
		printf("0x%" PRIx64 "\n", addr);
	}
	return 0;
}

static int cmd_alloc(const struct cmd *cmd, int argc, char **argv)
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
	if (vm_parse_size(pos[0], &size) < 0)
		return usage_err(cmd, "invalid size '%s'", pos[0]);
	if (a.caller && strlen(a.caller) > 255)
		return usage_err(cmd, "caller longer than 255 bytes");
	c = client();
	vmc_set_scoped(c, a.scoped);
	if (a.caller)
		vmc_set_caller(c, a.caller);
	if (a.gfp_set || a.align || a.no_guard || (a.zero && a.dma32) ||
	    (a.node_set && (a.dma32 || a.user))) {
		struct vmc_alloc_opts o = { .align = a.align, .node = (int)a.node,
					    .scoped = a.scoped };

		o.gfp = a.gfp_set ? a.gfp : GFP_KERNEL | (a.dma32 ? GFP_DMA32 : __GFP_HIGHMEM);
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
		return fail(cmd->name, pos[0], r);
	return print_addr(addr);
}

/* free ADDR, vunmap ADDR */
static int cmd_addr_op(const struct cmd *cmd, int argc, char **argv)
{
	uint64_t addr;
	char *pos[1] = { NULL };
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, pos, 1, 1);
	if (parse_u64(pos[0], &addr) < 0)
		return usage_err(cmd, "invalid address '%s'", pos[0]);
	if (strcmp(cmd->name, "free") == 0)
		r = vmc_vfree(client(), addr);
	else
		r = vmc_vunmap(client(), addr);
	return r < 0 ? fail(cmd->name, pos[0], r) : 0;
}

static int cmd_realloc(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "gfp", required_argument, NULL, OPT_GFP },
		COMMON_OPTS
	};
	struct alloc_args a = { .gfp = GFP_KERNEL };
	uint64_t addr, size, naddr;
	char *pos[2] = { NULL };
	int r;

	positional(cmd, argc, argv, opts, alloc_opt, &a, pos, 2, 2);
	if (parse_u64(pos[0], &addr) < 0)
		return usage_err(cmd, "invalid address '%s'", pos[0]);
	if (vm_parse_size(pos[1], &size) < 0)
		return usage_err(cmd, "invalid size '%s'", pos[1]);
	r = vmc_vrealloc(client(), addr, size, a.gfp_set ? a.gfp : GFP_KERNEL, &naddr);
	if (r < 0)
		return fail(cmd->name, pos[0], r);
	return print_addr(naddr);
}

static int cmd_vmap(const struct cmd *cmd, int argc, char **argv)
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
	int n, r;

	if (!pos || !pfns) {
		free(pos);
		free(pfns);
		return fail(cmd->name, NULL, -ENOMEM);
	}
	n = positional(cmd, argc, argv, opts, alloc_opt, &a, pos, 1, argc);
	for (int i = 0; i < n; i++) {
		if (parse_u64(pos[i], &pfns[i]) < 0) {
			r = usage_err(cmd, "invalid pfn '%s'", pos[i]);
			goto out;
		}
	}
	c = client();
	vmc_set_scoped(c, a.scoped);
	if (a.caller)
		vmc_set_caller(c, a.caller);
	r = vmc_vmap(c, pfns, (uint64_t)n, (a.user ? VM_USERMAP : 0) |
		     (a.no_guard ? VM_NO_GUARD : 0), a.prot, &addr);
	r = r < 0 ? fail(cmd->name, pos[0], r) : print_addr(addr);
out:
	free(pos);
	free(pfns);
	return r;
}

static int cmd_alloc_pages(const struct cmd *cmd, int argc, char **argv)
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
	if (parse_int(pos[0], 0, 63, &order) < 0)
		return usage_err(cmd, "invalid order '%s'", pos[0]);
	c = client();
	vmc_set_scoped(c, a.scoped);
	r = vmc_alloc_pages(c, a.gfp_set ? a.gfp : GFP_KERNEL, (unsigned)order, (int)a.node,
			    &pfn);
	if (r < 0)
		return fail(cmd->name, pos[0], r);
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "pfn", json_object_new_uint64(pfn));
		jput(o, "order", json_object_new_int((int)order));
		jput(o, "phys_addr", jhex(pfn << VM_PAGE_SHIFT));
		jprint(o);
	} else {
		printf("0x%" PRIx64 "\n", pfn);
	}
	return 0;
}

static int cmd_free_pages(const struct cmd *cmd, int argc, char **argv)
{
	uint64_t pfn;
	char *pos[2] = { NULL };
	long order;
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, pos, 2, 2);
	if (parse_u64(pos[0], &pfn) < 0)
		return usage_err(cmd, "invalid pfn '%s'", pos[0]);
	if (parse_int(pos[1], 0, 63, &order) < 0)
		return usage_err(cmd, "invalid order '%s'", pos[1]);
	r = vmc_free_pages(client(), pfn, (unsigned)order);
	return r < 0 ? fail(cmd->name, pos[0], r) : 0;
}

/* ---------------------------------------------------------------------------
 * Data
 */

static int hex_opt(const struct cmd *cmd, int ch, void *ctx)
{
	if (ch != OPT_HEX)
		return 2;
	*(bool *)ctx = true;
	return 0;
}

/* read ADDR LEN, phys-read PFN OFFSET LEN */
static int cmd_read(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hex", no_argument, NULL, OPT_HEX },
		COMMON_OPTS
	};
	bool phys = strcmp(cmd->name, "phys-read") == 0, hex = false;
	uint64_t addr, offset = 0, len, done;
	struct hexdump hd = { 0 };
	json_object *jo = NULL;
	char *pos[3] = { NULL }, *hexbuf = NULL;
	uint8_t *buf;
	int r = 0, np = phys ? 3 : 2;

	positional(cmd, argc, argv, opts, hex_opt, &hex, pos, np, np);
	if (parse_u64(pos[0], &addr) < 0)
		return usage_err(cmd, "invalid %s '%s'", phys ? "pfn" : "address", pos[0]);
	if (phys && vm_parse_size(pos[1], &offset) < 0)
		return usage_err(cmd, "invalid offset '%s'", pos[1]);
	if (vm_parse_size(pos[np - 1], &len) < 0)
		return usage_err(cmd, "invalid length '%s'", pos[np - 1]);
	if (arg_json && len > 64u << 20)
		return usage_err(cmd, "--json reads at most 64M");
	buf = malloc(IO_CHUNK);
	if (arg_json)
		hexbuf = malloc(len * 2 + 1);
	if (!buf || (arg_json && !hexbuf)) {
		r = fail(cmd->name, pos[0], -ENOMEM);
		goto out;
	}
	client();
	for (done = 0; done < len; done += IO_CHUNK) {
		size_t k = len - done < IO_CHUNK ? (size_t)(len - done) : IO_CHUNK;

		if (phys)
			r = vmc_phys_read(g_client, addr, offset + done, buf, k);
		else
			r = vmc_read(g_client, addr + done, buf, k);
		if (r < 0) {
			r = fail(cmd->name, pos[0], r);
			goto out;
		}
		if (arg_json) {
			for (size_t i = 0; i < k; i++)
				snprintf(hexbuf + (done + i) * 2, 3, "%02x", buf[i]);
		} else if (hex) {
			hd_feed(&hd, buf, k);
		} else if (fwrite(buf, 1, k, stdout) != k) {
			r = fail(cmd->name, "stdout", -errno);
			goto out;
		}
	}
	if (arg_json) {
		hexbuf[len * 2] = '\0';
		jo = json_object_new_object();
		jput(jo, phys ? "pfn" : "addr", phys ? json_object_new_uint64(addr) : jhex(addr));
		if (phys)
			jput(jo, "offset", json_object_new_uint64(offset));
		jput(jo, "len", json_object_new_uint64(len));
		jput(jo, "hex", json_object_new_string(hexbuf));
		jprint(jo);
	} else if (hex) {
		hd_end(&hd);
	}
	if (fflush(stdout) != 0)
		r = fail(cmd->name, "stdout", -errno);
out:
	free(buf);
	free(hexbuf);
	return r;
}

/* write ADDR, phys-write PFN OFFSET: bytes from stdin. */
static int cmd_write(const struct cmd *cmd, int argc, char **argv)
{
	bool phys = strcmp(cmd->name, "phys-write") == 0;
	uint64_t addr, offset = 0, done = 0;
	char *pos[2] = { NULL };
	uint8_t *buf;
	int r = 0, np = phys ? 2 : 1;
	bool eof = false;

	positional(cmd, argc, argv, common_only, NULL, NULL, pos, np, np);
	if (parse_u64(pos[0], &addr) < 0)
		return usage_err(cmd, "invalid %s '%s'", phys ? "pfn" : "address", pos[0]);
	if (phys && vm_parse_size(pos[1], &offset) < 0)
		return usage_err(cmd, "invalid offset '%s'", pos[1]);
	buf = malloc(IO_CHUNK);
	if (!buf)
		return fail(cmd->name, pos[0], -ENOMEM);
	client();
	while (!eof) {
		size_t fill = 0;

		/* Fill a whole chunk (pipes deliver less), then send it. */
		while (fill < IO_CHUNK) {
			ssize_t n = read(STDIN_FILENO, buf + fill, IO_CHUNK - fill);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				r = fail(cmd->name, "stdin", -errno);
				goto out;
			}
			if (n == 0) {
				eof = true;
				break;
			}
			fill += (size_t)n;
		}
		if (fill == 0)
			break;
		if (phys)
			r = vmc_phys_write(g_client, addr, offset + done, buf, fill);
		else
			r = vmc_write(g_client, addr + done, buf, fill);
		if (r < 0) {
			r = fail(cmd->name, pos[0], r);
			goto out;
		}
		done += fill;
	}
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "written", json_object_new_uint64(done));
		jprint(o);
	}
out:
	free(buf);
	return r;
}

static int cmd_translate(const struct cmd *cmd, int argc, char **argv)
{
	struct vmc_translation t;
	uint64_t addr;
	char *pos[1] = { NULL };
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, pos, 1, 1);
	if (parse_u64(pos[0], &addr) < 0)
		return usage_err(cmd, "invalid address '%s'", pos[0]);
	r = vmc_translate(client(), addr, &t);
	if (r < 0)
		return fail(cmd->name, pos[0], r);
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "addr", jhex(addr));
		jput(o, "pfn", json_object_new_uint64(t.pfn));
		jput(o, "phys_addr", jhex(t.phys_addr));
		jput(o, "node", json_object_new_int(t.node));
		jput(o, "zone", json_object_new_string(t.zone));
		jprint(o);
	} else {
		printf("pfn:       0x%" PRIx64 "\nphys_addr: 0x%" PRIx64 "\nnode:      %d\n"
		       "zone:      %s\n", t.pfn, t.phys_addr, t.node, t.zone);
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Areas and queries
 */

static int cmd_info(const struct cmd *cmd, int argc, char **argv)
{
	struct vmc_area a;
	char flags[128];
	uint64_t addr;
	char *pos[1] = { NULL };
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, pos, 1, 1);
	if (parse_u64(pos[0], &addr) < 0)
		return usage_err(cmd, "invalid address '%s'", pos[0]);
	r = vmc_area_info(client(), addr, &a);
	if (r < 0)
		return fail(cmd->name, pos[0], r);
	if (arg_json) {
		jprint(area_json(&a));
		return 0;
	}
	flags_text(a.flags, flags, sizeof(flags));
	printf("addr:      0x%" PRIx64 "-0x%" PRIx64 "\n", a.addr, a.addr + a.size);
	printf("size:      %" PRIu64 "\n", a.size);
	printf("flags:     0x%" PRIx32 " %s\n", a.flags, flags);
	printf("prot:      %c%c%c\n", a.prot & VM_PROT_READ ? 'r' : '-',
	       a.prot & VM_PROT_WRITE ? 'w' : '-', a.prot & VM_PROT_EXEC ? 'x' : '-');
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
	return 0;
}

static int print_text(const struct cmd *cmd, enum vmc_query q)
{
	char *text = NULL;
	size_t n;
	int r = vmc_query_text(client(), q, &text);

	if (r < 0)
		return fail(cmd->name, NULL, r);
	n = strlen(text);
	fputs(text, stdout);
	if (n && text[n - 1] != '\n')
		putchar('\n');
	free(text);
	return 0;
}

static int print_areas(const struct cmd *cmd, bool leaks)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	struct vmc_area *areas = NULL;
	size_t n = 0;
	int r = vmc_areas(client(), leaks, &areas, &n);

	if (r < 0) {
		json_object_put(o);
		json_object_put(arr);
		return fail(cmd->name, NULL, r);
	}
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, area_json(&areas[i]));
	jput(o, "areas", arr);
	jprint(o);
	free(areas);
	return 0;
}

static int print_zones(const struct cmd *cmd, bool frag)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	struct vmc_zone *zs = NULL;
	size_t n = 0;
	int r = vmc_zones(client(), &zs, &n);

	if (r < 0) {
		json_object_put(o);
		json_object_put(arr);
		return fail(cmd->name, NULL, r);
	}
	for (size_t i = 0; i < n; i++) {
		const struct vmc_zone *z = &zs[i];
		json_object *jz = json_object_new_object(), *a;

		jput(jz, "node", json_object_new_int(z->node));
		jput(jz, "name", json_object_new_string(z->name));
		jput(jz, "start_pfn", json_object_new_uint64(z->start_pfn));
		jput(jz, "end_pfn", json_object_new_uint64(z->end_pfn));
		jput(jz, "managed", json_object_new_uint64(z->managed));
		jput(jz, "free", json_object_new_uint64(z->free));
		jput(jz, "wmark_min", json_object_new_uint64(z->wmark_min));
		jput(jz, "wmark_low", json_object_new_uint64(z->wmark_low));
		jput(jz, "wmark_high", json_object_new_uint64(z->wmark_high));
		a = json_object_new_array();
		for (int k = 0; k < 11; k++)
			json_object_array_add(a, json_object_new_uint64(z->nr_free[k]));
		jput(jz, "nr_free", a);
		if (frag) {
			a = json_object_new_array();
			for (int k = 0; k < 11; k++)
				json_object_array_add(a, jmilli(z->unusable_index[k]));
			jput(jz, "unusable_index", a);
			a = json_object_new_array();
			for (int k = 0; k < 11; k++)
				json_object_array_add(a, jmilli(z->extfrag_index[k]));
			jput(jz, "extfrag_index", a);
		}
		json_object_array_add(arr, jz);
	}
	jput(o, "zones", arr);
	jprint(o);
	free(zs);
	return 0;
}

static int print_meminfo(const struct cmd *cmd)
{
	struct vmc_meminfo m;
	json_object *o;
	int r = vmc_meminfo(client(), &m);

	if (r < 0)
		return fail(cmd->name, NULL, r);
	o = json_object_new_object();
	jput(o, "mem_total", json_object_new_uint64(m.mem_total));
	jput(o, "mem_free", json_object_new_uint64(m.mem_free));
	jput(o, "high_total", json_object_new_uint64(m.high_total));
	jput(o, "high_free", json_object_new_uint64(m.high_free));
	jput(o, "low_total", json_object_new_uint64(m.low_total));
	jput(o, "low_free", json_object_new_uint64(m.low_free));
	jput(o, "page_tables", json_object_new_uint64(m.page_tables));
	jput(o, "vmalloc_total", json_object_new_uint64(m.vmalloc_total));
	jput(o, "vmalloc_used", json_object_new_uint64(m.vmalloc_used));
	jput(o, "vmalloc_chunk", json_object_new_uint64(m.vmalloc_chunk));
	jprint(o);
	return 0;
}

/* vmallocinfo, meminfo, buddyinfo, frag, leaks */
static int cmd_query(const struct cmd *cmd, int argc, char **argv)
{
	static const struct {
		const char *name;
		enum vmc_query q;
	} map[] = {
		{ "vmallocinfo", VMC_VMALLOCINFO }, { "meminfo", VMC_MEMINFO },
		{ "buddyinfo", VMC_BUDDYINFO }, { "frag", VMC_FRAG }, { "leaks", VMC_LEAKS },
	};
	enum vmc_query q = VMC_VMALLOCINFO;

	positional(cmd, argc, argv, common_only, NULL, NULL, NULL, 0, 0);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, cmd->name) == 0)
			q = map[i].q;
	if (!arg_json)
		return print_text(cmd, q);
	switch (q) {
	case VMC_VMALLOCINFO: return print_areas(cmd, false);
	case VMC_LEAKS: return print_areas(cmd, true);
	case VMC_MEMINFO: return print_meminfo(cmd);
	case VMC_BUDDYINFO: return print_zones(cmd, false);
	case VMC_FRAG: return print_zones(cmd, true);
	}
	return 0;
}

static int cmd_stat(const struct cmd *cmd, int argc, char **argv)
{
	struct vmc_stat s;
	json_object *o;
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, NULL, 0, 0);
	r = vmc_stat(client(), &s);
	if (r < 0)
		return fail(cmd->name, NULL, r);
	{
		const struct {
			const char *name;
			uint64_t v;
			bool hex;
		} rows[] = {
			{ "total_pages", s.total_pages, false },
			{ "free_pages", s.free_pages, false },
			{ "pagetable_pages", s.pagetable_pages, false },
			{ "vmalloc_pages", s.vmalloc_pages, false },
			{ "vmap_pages", s.vmap_pages, false },
			{ "alloc_pages_pages", s.alloc_pages_pages, false },
			{ "nr_areas", s.nr_areas, false },
			{ "nr_lazy_areas", s.nr_lazy_areas, false },
			{ "lazy_pages", s.lazy_pages, false },
			{ "lazy_max_pages", s.lazy_max_pages, false },
			{ "nr_purges", s.nr_purges, false },
			{ "nr_tlb_flushes", s.nr_tlb_flushes, false },
			{ "nr_alloc_failures", s.nr_alloc_failures, false },
			{ "largest_free_kva", s.largest_free_kva, false },
			{ "nr_nodes", s.nr_nodes, false },
			{ "nr_cpus", s.nr_cpus, false },
			{ "nr_vmap_nodes", s.nr_vmap_nodes, false },
			{ "nr_pooled_areas", s.nr_pooled_areas, false },
			{ "pooled_pages", s.pooled_pages, false },
			{ "work_pending", s.work_pending, false },
			{ "vmalloc_start", s.vmalloc_start, true },
			{ "vmalloc_end", s.vmalloc_end, true },
			{ "clients", s.clients, false },
			{ "requests", s.requests, false },
			{ "uptime_ms", s.uptime_ms, false },
			{ "connections_total", s.connections_total, false },
			{ "errors", s.errors, false },
			{ "your_pages", s.your_pages, false },
			{ "your_quota", s.your_quota, false },
		};

		o = arg_json ? json_object_new_object() : NULL;
		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			if (o)
				jput(o, rows[i].name, rows[i].hex ? jhex(rows[i].v) :
				     json_object_new_uint64(rows[i].v));
			else if (rows[i].hex)
				printf("%-20s 0x%" PRIx64 "\n", rows[i].name, rows[i].v);
			else
				printf("%-20s %" PRIu64 "\n", rows[i].name, rows[i].v);
		}
		if (o) {
			jput(o, "kernel", json_object_new_string(s.kernel));
			jput(o, "layout", json_object_new_string(s.layout));
			jprint(o);
		} else {
			printf("%-20s %s\n", "kernel", s.kernel);
			printf("%-20s %s\n", "layout", s.layout);
		}
	}
	return 0;
}

static int cmd_check(const struct cmd *cmd, int argc, char **argv)
{
	char msg[512];
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, NULL, 0, 0);
	r = vmc_check(client(), msg, sizeof(msg));
	if (r < 0)
		return fail(cmd->name, NULL, r);
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "ok", json_object_new_boolean(true));
		jprint(o);
	} else {
		puts("ok");
	}
	return 0;
}

static int cmd_purge(const struct cmd *cmd, int argc, char **argv)
{
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, NULL, 0, 0);
	r = vmc_purge(client());
	return r < 0 ? fail(cmd->name, NULL, r) : 0;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int count_opt(const struct cmd *cmd, int ch, void *ctx)
{
	if (ch != OPT_COUNT)
		return 2;
	if (parse_int(optarg, 1, 1000000, ctx) < 0)
		exit(usage_err(cmd, "invalid count '%s'", optarg));
	return 0;
}

/* hello: the daemon's identity; ping: round trips */
static int cmd_hello(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, OPT_COUNT },
		COMMON_OPTS
	};
	bool ping = strcmp(cmd->name, "ping") == 0;
	long count = 1;
	struct vmc_hello h;
	double t0, t1 = 0;
	int r;

	positional(cmd, argc, argv, ping ? opts : common_only, count_opt, &count, NULL, 0, 0);
	client();
	/* The first call also takes the connect-time Hello; time the second. */
	r = vmc_hello(g_client, &h);
	for (long i = 0; r == 0 && ping && i < count; i++) {
		t0 = now_us();
		r = vmc_hello(g_client, &h);
		t1 = now_us() - t0;
		if (r == 0 && !arg_json)
			printf("reply from %s: seq=%ld time=%.1f us\n", h.server, i + 1, t1);
	}
	if (r < 0)
		return fail(cmd->name, NULL, r);
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "version", json_object_new_uint64(h.version));
		jput(o, "server", json_object_new_string(h.server));
		jput(o, "max_frame", json_object_new_uint64(h.max_frame));
		jput(o, "max_io", json_object_new_uint64(h.max_io));
		jput(o, "uid", json_object_new_uint64(h.uid));
		jput(o, "pid", json_object_new_uint64(h.pid));
		jput(o, "kernel", json_object_new_string(h.kernel));
		jput(o, "cpus", json_object_new_uint64(h.nr_cpus));
		if (ping)
			jput(o, "rtt_us", json_object_new_double(t1));
		jprint(o);
	} else if (!ping) {
		printf("server:    %s\nversion:   %" PRIu32 "\nmax_frame: %" PRIu32
		       "\nmax_io:    %" PRIu32 "\nuid:       %" PRIu32 "\npid:       %" PRIu32
		       "\nkernel:    %s\ncpus:      %u\n",
		       h.server, h.version, h.max_frame, h.max_io, h.uid, h.pid, h.kernel, h.nr_cpus);
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * test-vmalloc: the kernel's lib/test_vmalloc.c cases (common/test_vmalloc.c)
 * through the daemon, one connection per worker thread.
 */

/* The test_vmalloc backend over one connection.  Operations that do not
 * wait for each other's results (the setup allocations, a touch and the
 * vfree after it) go out together as one batch. */
struct tvc {
	struct vmc_client *c;
	struct vmc_batch *batch;
	int *st;
	size_t st_cap;
};

#define TVC_CHUNK 4096u   /* requests per batch run */

static int tvc_status(struct tvc *t, size_t n)
{
	if (n > t->st_cap) {
		int *p = realloc(t->st, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->st = p;
		t->st_cap = n;
	}
	return 0;
}

/* Run the queued batch; the transport's error, else the first request's. */
static int tvc_run(struct tvc *t)
{
	size_t n = vmc_batch_size(t->batch);
	int r = vmc_batch_run(t->batch);

	vmc_batch_clear(t->batch);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (t->st[i] < 0)
			r = t->st[i];
	return r;
}

static int tvc_vmalloc(void *ctx, uint64_t size, uint64_t *ret_addr)
{
	return vmc_vmalloc(((struct tvc *)ctx)->c, size, ret_addr);
}

static int tvc_vmalloc_node_range(void *ctx, uint64_t size, uint64_t align, gfp_t gfp, int node,
				  uint64_t *ret_addr)
{
	struct vmc_alloc_opts o = { .align = align, .gfp = gfp, .node = node };

	return vmc_vmalloc_node_range(((struct tvc *)ctx)->c, size, &o, ret_addr);
}

static int tvc_vfree(void *ctx, uint64_t addr)
{
	return vmc_vfree(((struct tvc *)ctx)->c, addr);
}

static int tvc_alloc_page(void *ctx, uint64_t *ret_pfn)
{
	return vmc_alloc_pages(((struct tvc *)ctx)->c, GFP_KERNEL, 0, VMC_NO_NODE, ret_pfn);
}

static int tvc_free_page(void *ctx, uint64_t pfn)
{
	return vmc_free_pages(((struct tvc *)ctx)->c, pfn, 0);
}

static int tvc_vmap(void *ctx, const uint64_t *pfns, uint64_t n, uint64_t *ret_addr)
{
	return vmc_vmap(((struct tvc *)ctx)->c, pfns, n, 0, 0, ret_addr);
}

static int tvc_vunmap(void *ctx, uint64_t addr)
{
	return vmc_vunmap(((struct tvc *)ctx)->c, addr);
}

static int tvc_touch(void *ctx, uint64_t addr, uint8_t val)
{
	return vmc_write(((struct tvc *)ctx)->c, addr, &val, 1);
}

static int tvc_vmalloc_bulk(void *ctx, const uint64_t *sizes, uint64_t size, uint64_t n,
			    uint64_t *addrs)
{
	struct tvc *t = ctx;
	int rv = 0, r;

	for (uint64_t i = 0; i < n; i += TVC_CHUNK) {
		uint64_t k = n - i < TVC_CHUNK ? n - i : TVC_CHUNK;

		r = tvc_status(t, k);
		for (uint64_t j = 0; r == 0 && j < k; j++) {
			addrs[i + j] = 0;
			r = vmc_batch_vmalloc(t->batch, sizes ? sizes[i + j] : size, &addrs[i + j],
					      &t->st[j]);
		}
		if (r == 0)
			r = tvc_run(t);
		vmc_batch_clear(t->batch);
		if (r < 0 && rv == 0)
			rv = r;
	}
	return rv;
}

static int tvc_vfree_bulk(void *ctx, const uint64_t *addrs, uint64_t n)
{
	struct tvc *t = ctx;
	int rv = 0, r;

	for (uint64_t i = 0; i < n; i += TVC_CHUNK) {
		uint64_t k = n - i < TVC_CHUNK ? n - i : TVC_CHUNK;
		size_t q = 0;

		r = tvc_status(t, k);
		for (uint64_t j = 0; r == 0 && j < k; j++)
			if (addrs[i + j])
				r = vmc_batch_vfree(t->batch, addrs[i + j], &t->st[q++]);
		if (r == 0 && q)
			r = tvc_run(t);
		vmc_batch_clear(t->batch);
		if (r < 0 && rv == 0)
			rv = r;
	}
	return rv;
}

static int tvc_touch_vfree(void *ctx, const uint64_t *addrs, const uint8_t *vals, unsigned n)
{
	struct tvc *t = ctx;
	int r = tvc_status(t, 2 * (size_t)n);

	for (unsigned i = 0; r == 0 && i < n; i++)
		r = vmc_batch_write(t->batch, addrs[i], &vals[i], 1, &t->st[i]);
	for (unsigned i = 0; r == 0 && i < n; i++)
		r = vmc_batch_vfree(t->batch, addrs[i], &t->st[n + i]);
	if (r == 0)
		return tvc_run(t);
	vmc_batch_clear(t->batch);
	return r;
}

static int tvc_open(struct tvc *t, struct tv_backend *b)
{
	int r;

	memset(t, 0, sizeof(*t));
	r = vmc_connect(arg_socket, &t->c);
	if (r < 0)
		return r;
	vmc_set_timeout(t->c, arg_timeout_ms);
	vmc_set_caller(t->c, "test_vmalloc");
	/* Whatever an interrupted run leaves is freed with the connection. */
	vmc_set_scoped(t->c, true);
	r = vmc_batch_new(t->c, &t->batch);
	if (r == 0)
		r = tvc_status(t, 16);
	if (r == 0)
		r = vmc_hello(t->c, NULL);   /* fail at connect, not in a case */
	*b = (struct tv_backend){
		.ctx = t,
		.vmalloc = tvc_vmalloc,
		.vmalloc_node_range = tvc_vmalloc_node_range,
		.vfree = tvc_vfree,
		.alloc_page = tvc_alloc_page,
		.free_page = tvc_free_page,
		.vmap = tvc_vmap,
		.vunmap = tvc_vunmap,
		.touch = tvc_touch,
		.vmalloc_bulk = tvc_vmalloc_bulk,
		.vfree_bulk = tvc_vfree_bulk,
		.touch_vfree = tvc_touch_vfree,
	};
	return r;
}

static void tvc_close(struct tvc *t)
{
	vmc_batch_free(t->batch);
	vmc_close(t->c);
	free(t->st);
	memset(t, 0, sizeof(*t));
}

static json_object *tv_result_json(const struct tv_result *r, const struct tv_params *p)
{
	json_object *o = json_object_new_object();

	jput(o, "test", json_object_new_string(r->name));
	jput(o, "passed", json_object_new_uint64(r->passed));
	jput(o, "failed", json_object_new_uint64(r->failed));
	jput(o, "repeat", json_object_new_uint64(p->test_repeat_count ? p->test_repeat_count : 1));
	jput(o, "loops", json_object_new_uint64(p->test_loop_count ? p->test_loop_count : 1));
	jput(o, "avg_usec", json_object_new_uint64(r->avg_usec));
	jput(o, "avg_nsec", json_object_new_double(r->avg_nsec));
	jput(o, "expected_to_fail", json_object_new_boolean(r->xfail));
	if (r->first_error)
		jput(o, "first_error", json_object_new_string(vmc_strerror(r->first_error)));
	return o;
}

static int cmd_test_vmalloc(const struct cmd *cmd, int argc, char **argv)
{
	char *pos[64];
	struct tv_params p;
	const char *mode = NULL;
	struct tv_worker *w = NULL;
	struct tvc *conns = NULL;
	struct tv_backend *be = NULL;
	const struct tv_backend **bp = NULL;
	unsigned nthr, opened = 0, unexpected = 0;
	int np, r = 0, rc = 0;

	np = positional(cmd, argc, argv, common_only, NULL, NULL, pos, 0, 64);
	tv_params_init(&p);
	for (int i = 0; i < np; i++) {
		if (!strchr(pos[i], '=')) {
			if (!tv_mode_params(pos[i]))
				return usage_err(cmd, "unknown mode '%s' (performance, smoke or stress)",
						 pos[i]);
			if (i > 0)
				return usage_err(cmd, "the mode '%s' must come first", pos[i]);
			tv_params_mode(&p, pos[i]);
			mode = pos[i];
		} else if (tv_params_set(&p, pos[i]) < 0) {
			return usage_err(cmd, "invalid parameter '%s'", pos[i]);
		}
	}
	nthr = p.nr_threads ? p.nr_threads : 1;
	w = calloc(nthr, sizeof(*w));
	conns = calloc(nthr, sizeof(*conns));
	be = calloc(nthr, sizeof(*be));
	bp = calloc(nthr, sizeof(*bp));
	if (!w || !conns || !be || !bp) {
		r = -ENOMEM;
		goto out;
	}
	/* Every worker's connection first, as the kernel creates every kthread
	 * before releasing them. */
	for (; opened < nthr; opened++) {
		r = tvc_open(&conns[opened], &be[opened]);
		bp[opened] = &be[opened];
		if (r < 0) {
			g_client = conns[opened].c;   /* for fail()'s daemon message */
			rc = fail(cmd->name, "connect", r);
			g_client = NULL;
			opened++;
			goto out;
		}
	}
	if (!arg_json)
		printf("test_vmalloc: mode=%s nr_threads=%u test_loop_count=%" PRIu64
		       " test_repeat_count=%u run_test_mask=%" PRIu32 " sequential_test_order=%d"
		       " nr_pages=%" PRIu64 "\n", mode ? mode : "manual", p.nr_threads,
		       p.test_loop_count, p.test_repeat_count, p.run_test_mask,
		       p.sequential_test_order, p.nr_pages);
	fflush(stdout);
	r = tv_run_workers(bp, &p, w);
	if (r < 0) {
		rc = fail(cmd->name, "threads", r);
		goto out;
	}
	for (unsigned i = 0; i < nthr; i++)
		unexpected += tv_unexpected_failures(w[i].results);
	if (arg_json) {
		json_object *o = json_object_new_object(), *ws = json_object_new_array();

		jput(o, "mode", mode ? json_object_new_string(mode) : NULL);
		jput(o, "nr_threads", json_object_new_uint64(nthr));
		jput(o, "test_loop_count", json_object_new_uint64(p.test_loop_count));
		jput(o, "test_repeat_count", json_object_new_uint64(p.test_repeat_count));
		jput(o, "run_test_mask", json_object_new_uint64(p.run_test_mask));
		jput(o, "sequential_test_order", json_object_new_boolean(p.sequential_test_order));
		jput(o, "nr_pages", json_object_new_uint64(p.nr_pages));
		for (unsigned i = 0; i < nthr; i++) {
			json_object *wo = json_object_new_object(), *cs = json_object_new_array();

			for (unsigned c = 0; c < TV_NR_CASES; c++)
				if (w[i].results[c].ran)
					json_object_array_add(cs, tv_result_json(&w[i].results[c], &p));
			jput(wo, "worker", json_object_new_uint64(i));
			jput(wo, "usec", json_object_new_uint64(w[i].elapsed_ns / 1000));
			jput(wo, "tests", cs);
			json_object_array_add(ws, wo);
		}
		jput(o, "workers", ws);
		jput(o, "unexpected_failures", json_object_new_uint64(unexpected));
		jprint(o);
	} else {
		/* As the kernel prints them: each worker's Summary lines, then
		 * its total (in microseconds here: the kernel's is in cycles). */
		for (unsigned i = 0; i < nthr; i++) {
			tv_print_summary(stdout, &p, w[i].results);
			printf("All test took worker%u=%" PRIu64 " usec\n", i,
			       w[i].elapsed_ns / 1000);
		}
		for (unsigned i = 0; i < nthr; i++)
			for (unsigned c = 0; c < TV_NR_CASES; c++)
				if (w[i].results[c].failed && !w[i].results[c].xfail)
					fprintf(stderr, "vmctl: test-vmalloc: worker%u: %s failed %u "
						"time(s), first: %s\n", i, w[i].results[c].name,
						w[i].results[c].failed,
						vmc_strerror(w[i].results[c].first_error));
	}
	rc = unexpected ? 1 : 0;
out:
	if (r == -ENOMEM && !rc)
		rc = fail(cmd->name, NULL, r);
	for (unsigned i = 0; i < opened; i++)
		tvc_close(&conns[i]);
	free(w);
	free(conns);
	free(be);
	free(bp);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Dispatch
 */

static const struct cmd cmds[] = {
	{ "alloc", cmd_alloc, "SIZE [options]", "vmalloc SIZE bytes (K/M/G/T suffixes); print the address",
	  "  --zero          zeroed memory (vzalloc)\n"
	  "  --node N        from NUMA node N (vmalloc_node)\n"
	  "  --align BYTES   alignment, a power of two (__vmalloc_node_range)\n"
	  "  --user          vmalloc_user: zeroed, VM_USERMAP\n"
	  "  --dma32         vmalloc_32: pages below 4 GiB\n"
	  "  --gfp FLAGS     gfp flags, e.g. GFP_KERNEL|__GFP_ZERO or 0x...\n"
	  "  --no-guard      no guard page (VM_NO_GUARD)\n"
	  "  --scoped        freed when this connection closes (that is, at once)\n"
	  "  --caller STR    the caller shown in vmallocinfo (default \"vmctl\")\n" },
	{ "free", cmd_addr_op, "ADDR", "vfree the area at ADDR", NULL },
	{ "realloc", cmd_realloc, "ADDR SIZE [--gfp FLAGS]",
	  "vrealloc: resize the area at ADDR; print its (new) address", NULL },
	{ "read", cmd_read, "ADDR LEN [--hex]",
	  "LEN bytes at ADDR to stdout, raw or as a hexdump -C style dump", NULL },
	{ "write", cmd_write, "ADDR", "write stdin (any length) at ADDR", NULL },
	{ "translate", cmd_translate, "ADDR", "the pfn and physical address behind ADDR", NULL },
	{ "info", cmd_info, "ADDR", "the area containing ADDR (find_vm_area)", NULL },
	{ "vmallocinfo", cmd_query, "", "/proc/vmallocinfo (your own areas unless root)", NULL },
	{ "meminfo", cmd_query, "", "/proc/meminfo's memory and vmalloc lines", NULL },
	{ "buddyinfo", cmd_query, "", "/proc/buddyinfo: free blocks per zone and order", NULL },
	{ "frag", cmd_query, "", "unusable_index and extfrag_index per zone and order", NULL },
	{ "leaks", cmd_query, "", "areas whose allocating process is gone", NULL },
	{ "stat", cmd_stat, "", "engine and daemon counters", NULL },
	{ "check", cmd_check, "", "run the daemon's invariant checker", NULL },
	{ "purge", cmd_purge, "", "purge the lazily freed areas now (root only)", NULL },
	{ "alloc-pages", cmd_alloc_pages, "ORDER [--node N] [--gfp FLAGS] [--scoped]",
	  "alloc_pages: 2^ORDER contiguous frames; print the first pfn", NULL },
	{ "free-pages", cmd_free_pages, "PFN ORDER", "free_pages", NULL },
	{ "vmap", cmd_vmap, "PFN... [--prot rw|ro|rwx] [--user] [--no-guard] [--scoped]",
	  "map frames from alloc-pages contiguously; print the address", NULL },
	{ "vunmap", cmd_addr_op, "ADDR", "unmap a vmap area", NULL },
	{ "phys-read", cmd_read, "PFN OFFSET LEN [--hex]",
	  "read frames from alloc-pages by pfn", NULL },
	{ "phys-write", cmd_write, "PFN OFFSET", "write stdin to frames from alloc-pages", NULL },
	{ "hello", cmd_hello, "", "the daemon's version, limits and the identity it sees", NULL },
	{ "ping", cmd_hello, "[--count N]", "round trips to the daemon, timed", NULL },
	{ "test-vmalloc", cmd_test_vmalloc, "[performance|smoke|stress] [KEY=VALUE...]",
	  "the kernel's test_vmalloc cases through the daemon; its Summary lines",
	  "  Modes, as tools/testing/selftests/mm/test_vmalloc.sh sets them:\n"
	  "    performance   sequential_test_order=1 test_repeat_count=3\n"
	  "    smoke         test_loop_count=10000 test_repeat_count=10\n"
	  "    stress        nr_threads=NUM_CPUS test_repeat_count=20\n"
	  "  Parameters (lib/test_vmalloc.c's, applied after the mode):\n"
	  "    run_test_mask=N        cases by bit (default: all): 1 fix_size, 2 full_fit,\n"
	  "                           4 long_busy_list, 8 random_size, 16 fix_align,\n"
	  "                           32 random_size_align, 64 align_shift, 1024 vm_map_ram\n"
	  "    nr_threads=N           workers, each a thread with its own connection (1)\n"
	  "    test_loop_count=N      loops per run of a case (1000000)\n"
	  "    test_repeat_count=N    runs of each case (1)\n"
	  "    nr_pages=N             pages of fix_size and vm_map_ram (1)\n"
	  "    sequential_test_order=0|1  table order instead of shuffled (0)\n"
	  "    seed=N, nr_cpus=N      the random stream; full_fit's CPU count\n"
	  "  Prints \"Summary: TEST passed: N failed: N repeat: N loops: N avg: N usec\"\n"
	  "  per case and worker, avg being one whole run of the case.  Exit status 1\n"
	  "  if a case failed, except align_shift_alloc_test, which fails by design.\n" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: vmctl [--socket PATH] [--json] [--timeout MS] COMMAND [ARGS]\n\n"
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
		"  --json          structured output (addresses as \"0x...\" strings)\n"
		"  --timeout MS    give up on a reply after MS milliseconds (0: never)\n"
		"  --help          this text; 'vmctl COMMAND --help' for one command\n"
		"  --version       print the version\n\n"
		"Sizes take K/M/G/T suffixes; addresses and pfns are 0x hex or decimal.\n"
		"Exit status: 0 ok, 1 the operation failed, 2 usage error.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "version", no_argument, NULL, 'V' },
		COMMON_OPTS
	};
	const struct cmd *cmd = NULL;
	int ch, rc;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_JSON:
			arg_json = true;
			break;
		case OPT_SOCKET:
			arg_socket = optarg;
			break;
		case OPT_TIMEOUT:
			if (set_timeout(optarg) < 0) {
				fprintf(stderr, "vmctl: invalid timeout '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vmctl %s\n", VMC_VERSION);
			return 0;
		default:
			fprintf(stderr, "vmctl: invalid option or missing argument: '%s'\n"
				"Try 'vmctl --help'.\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, argv[optind]) == 0)
			cmd = &cmds[i];
	if (!cmd) {
		fprintf(stderr, "vmctl: unknown command '%s'\nTry 'vmctl --help'.\n", argv[optind]);
		return 2;
	}
	argc -= optind;
	argv += optind;
	optind = 0;   /* glibc: rescan from argv[1] of the new vector */
	rc = cmd->fn(cmd, argc, argv);
	vmc_close(g_client);
	return rc;
}
