/* test_procfs.c -- vmallocinfo, meminfo, buddyinfo and the fragmentation
 * indices in the kernel's own formats: whole outputs compared byte for byte
 * with hand-derived fixtures, and every line checked against a grammar that
 * must first reproduce real kernel output (tests/fixtures/kernel/) exactly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmtest.h"

static void expect_fixture(const char *got, const char *fixture)
{
	char *want = t_fixture(fixture);

	if (!T_TEXT_EQ(got, want))
		fprintf(stderr, "  (fixture %s)\n", fixture);
	free(want);
}

/* ---- fresh machines ------------------------------------------------------ */

static void test_fresh_x86_64_1g(void)
{
	struct vm_engine *e = t_machine(1 * GIB, 1, VM_LAYOUT_X86_64);
	char *mem, *buddy, *vmi;

	if (!e)
		return;
	mem = t_meminfo(e);
	buddy = t_buddyinfo(e);
	vmi = t_vmallocinfo(e);
	expect_fixture(mem, "meminfo-x86_64-1g.txt");
	expect_fixture(buddy, "buddyinfo-x86_64-1g.txt");
	CU_ASSERT_STRING_EQUAL(vmi ? vmi : "?", "");
	free(mem);
	free(buddy);
	free(vmi);
	vm_engine_destroy(e);
}

static void test_fresh_i386_2g(void)
{
	struct vm_engine *e = t_machine(2 * GIB, 1, VM_LAYOUT_I386);
	char *mem, *buddy;

	if (!e)
		return;
	mem = t_meminfo(e);
	buddy = t_buddyinfo(e);
	expect_fixture(mem, "meminfo-i386-2g.txt");
	expect_fixture(buddy, "buddyinfo-i386-2g.txt");
	free(mem);
	free(buddy);
	vm_engine_destroy(e);
}

static void test_fresh_4_nodes(void)
{
	struct vm_engine *e = t_machine(2 * GIB, 4, VM_LAYOUT_X86_64);
	char *buddy;

	if (!e)
		return;
	buddy = t_buddyinfo(e);
	expect_fixture(buddy, "buddyinfo-x86_64-2g-4nodes.txt");
	free(buddy);
	vm_engine_destroy(e);
}

/* ---- after a scenario ------------------------------------------------------- */

static void test_vmallocinfo_scenario(void)
{
	struct vm_engine *e = t_machine(1 * GIB, 1, VM_LAYOUT_X86_64);
	struct vm_alloc_req req = {
		.size = 16 * KIB, .align = 1 * MIB, .gfp = GFP_KERNEL | __GFP_HIGHMEM,
		.prot = PAGE_KERNEL, .node = NUMA_NO_NODE, .caller = "htab_map_alloc+0x2e4/0x5a0",
	};
	uint64_t a, b, c, d, f, g, h, v, block, pfns[4];
	char *vmi, *mem;

	if (!e)
		return;
	/* The steps behind the fixture, in order. */
	CU_ASSERT_EQUAL(vm_set_current(e, 0, 1, 0, "caller+0x1/0x2"), 0);
	CU_ASSERT_FATAL(vm_vmalloc(e, 4096, &a) == 0);
	CU_ASSERT_FATAL(vm_vzalloc(e, 3 * 4096 + 1, &b) == 0);
	CU_ASSERT_FATAL(vm_vmalloc_user(e, 64 * KIB, &c) == 0);
	CU_ASSERT_FATAL(vm_vmalloc(e, 2 * MIB + 4096, &d) == 0);
	CU_ASSERT_EQUAL(vm_set_current(e, 0, 1, 0, "irq_init_percpu_irqstack+0xca/0x100"), 0);
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 2, NUMA_NO_NODE, &block) == 0);
	for (unsigned i = 0; i < 4; i++)
		pfns[i] = block + i;
	CU_ASSERT_FATAL(vm_vmap(e, pfns, 4, 0, PAGE_KERNEL, &v) == 0);
	CU_ASSERT_EQUAL(vm_set_current(e, 0, 1, 0, NULL), 0);
	CU_ASSERT_FATAL(vm_vmalloc(e, 8192, &f) == 0);
	CU_ASSERT_FATAL(vm___vmalloc_node_range(e, &req, &h) == 0);
	CU_ASSERT_EQUAL(vm_vfree(e, b), 0);
	CU_ASSERT_EQUAL(vm_set_current(e, 0, 1, 0, "kernel_clone+0x94/0x3e0"), 0);
	CU_ASSERT_FATAL(vm_vmalloc(e, 4096, &g) == 0);

	vmi = t_vmallocinfo(e);
	mem = t_meminfo(e);
	expect_fixture(vmi, "vmallocinfo-x86_64-scenario.txt");
	expect_fixture(mem, "meminfo-x86_64-1g-scenario.txt");
	free(vmi);
	free(mem);
	T_CHECK(e);
	vm_engine_destroy(e);
}

static void test_vmallocinfo_nodes(void)
{
	struct vm_engine *e = t_machine(2 * GIB, 2, VM_LAYOUT_X86_64);
	uint64_t a, b, c, *held, n, give_back;
	const struct vm_zone_info *z;
	struct t_zones zs;
	char *vmi;

	if (!e)
		return;
	held = t_frame_array(e);
	CU_ASSERT_FATAL(held != NULL);
	CU_ASSERT_EQUAL(vm_set_current(e, 0, 1, 0, "kernel_clone+0x94/0x3e0"), 0);
	CU_ASSERT_FATAL(vm_vmalloc_node(e, 16 * KIB, 1, &a) == 0);
	CU_ASSERT_FATAL(vm_vmalloc_node(e, 8 * KIB, 0, &b) == 0);

	/* Leave node 1 exactly three frames above its min watermark: a
	 * 5-page area for node 1 takes three there and two from node 0. */
	n = t_take_frames(e, __GFP_MEMALLOC | __GFP_THISNODE, 1, held);
	t_zones(e, &zs);
	z = t_zone(&zs, 1, VM_ZONE_DMA32);
	CU_ASSERT_FATAL(z != NULL && z->free == 0);
	give_back = z->wmark_min + 3;
	CU_ASSERT_FATAL(give_back <= n);
	for (uint64_t i = 0; i < give_back; i++)
		CU_ASSERT_EQUAL(vm_free_pages(e, held[--n], 0), 0);
	CU_ASSERT_FATAL(vm_vmalloc_node(e, 5 * PAGE, 1, &c) == 0);

	vmi = t_vmallocinfo(e);
	expect_fixture(vmi, "vmallocinfo-x86_64-2nodes.txt");
	free(vmi);
	T_CHECK(e);
	free(held);
	vm_engine_destroy(e);
}

/* ---- the kernel's grammar, proven on real kernel output ------------------------ */

/* One /proc/vmallocinfo line, as mm/vmalloc.c's s_show() builds it. */
struct vline {
	uint64_t start, end, size;
	bool unpurged;
	char caller[256];
	bool has_pages, has_phys;
	unsigned long pages;
	uint64_t phys;
	unsigned flags;                 /* bit i: vflags[i] */
	unsigned nr_nodes;
	unsigned node[VM_MAX_NODES], count[VM_MAX_NODES];
};

/* The flag words in the order the kernel prints them. */
static const char *const vflags[] = { "ioremap", "sparse", "vmalloc", "vmap", "user",
				      "dma-coherent", "vpages" };
#define NR_VFLAGS (sizeof(vflags) / sizeof(vflags[0]))

/* Parse a line strictly in the kernel's field order; false on anything else. */
static bool parse_vline(const char *l, struct vline *v)
{
	/* stage: 0 caller, 1 pages, 2 phys, 3 + i flag i, then nodes */
	unsigned stage = 0;
	const char *p;
	char *end;

	memset(v, 0, sizeof(*v));
	if (strncmp(l, "0x", 2) != 0)
		return false;
	v->start = strtoull(l + 2, &end, 16);
	if (end != l + 18 || strncmp(end, "-0x", 3) != 0)
		return false;
	v->end = strtoull(end + 3, &end, 16);
	if (end != l + 37 || *end != ' ')
		return false;
	v->size = strtoull(end + 1, &end, 10);
	if (strcmp(end, " unpurged vm_area") == 0) {
		v->unpurged = true;
		return true;
	}
	for (p = end; *p;) {
		size_t len;
		char tok[256];
		unsigned i;

		if (*p != ' ')
			return false;
		p++;
		len = strcspn(p, " ");
		if (len == 0 || len >= sizeof(tok))
			return false;
		memcpy(tok, p, len);
		tok[len] = '\0';
		p += len;
		for (i = 0; i < NR_VFLAGS && strcmp(tok, vflags[i]) != 0; i++)
			;
		if (i < NR_VFLAGS) {
			if (stage > 3 + i)
				return false;
			v->flags |= 1u << i;
			stage = 4 + i;
		} else if (strncmp(tok, "pages=", 6) == 0) {
			if (stage > 1)
				return false;
			v->has_pages = true;
			v->pages = strtoul(tok + 6, &end, 10);
			if (*end || end == tok + 6)
				return false;
			stage = 2;
		} else if (strncmp(tok, "phys=0x", 7) == 0) {
			if (stage > 2 || strlen(tok) != 7 + 16)
				return false;
			v->has_phys = true;
			v->phys = strtoull(tok + 7, &end, 16);
			if (*end)
				return false;
			stage = 3;
		} else if (tok[0] == 'N' && tok[1] >= '0' && tok[1] <= '9') {
			unsigned long node = strtoul(tok + 1, &end, 10), count;

			if (*end != '=' || v->nr_nodes == VM_MAX_NODES ||
			    (v->nr_nodes && node <= v->node[v->nr_nodes - 1]))
				return false;
			count = strtoul(end + 1, &end, 10);
			if (*end)
				return false;
			v->node[v->nr_nodes] = (unsigned)node;
			v->count[v->nr_nodes++] = (unsigned)count;
			stage = 100;
		} else {
			/* %pS: symbol+0xoff/0xsize, first or not at all. */
			if (stage != 0 || !strchr(tok, '+') || !strchr(tok, '/'))
				return false;
			snprintf(v->caller, sizeof(v->caller), "%s", tok);
			stage = 1;
		}
	}
	return true;
}

static void print_vline(const struct vline *v, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "0x%016llx-0x%016llx %7llu", (unsigned long long)v->start,
				    (unsigned long long)v->end, (unsigned long long)v->size);

	if (v->unpurged) {
		snprintf(buf + n, len - n, " unpurged vm_area");
		return;
	}
	if (v->caller[0])
		n += (size_t)snprintf(buf + n, len - n, " %s", v->caller);
	if (v->has_pages)
		n += (size_t)snprintf(buf + n, len - n, " pages=%lu", v->pages);
	if (v->has_phys)
		n += (size_t)snprintf(buf + n, len - n, " phys=0x%016llx", (unsigned long long)v->phys);
	for (unsigned i = 0; i < NR_VFLAGS; i++)
		if (v->flags & (1u << i))
			n += (size_t)snprintf(buf + n, len - n, " %s", vflags[i]);
	for (unsigned i = 0; i < v->nr_nodes; i++)
		n += (size_t)snprintf(buf + n, len - n, " N%u=%u", v->node[i], v->count[i]);
}

/* Every line of text must parse and print back to itself; vmalloc lines
 * carry pages= and node counts, other areas (vmap, ioremap) neither.
 * Returns the number of lines. */
static unsigned check_vmallocinfo_grammar(const char *text, const char *origin, bool simulated)
{
	unsigned lines = 0;

	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		char line[512], again[512];
		struct vline v;
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		bool is_vmalloc;

		T_ASSERT_MSG(nl != NULL, "%s: last line without a newline", origin);
		snprintf(line, sizeof(line), "%.*s", (int)len, l);
		lines++;
		if (!T_ASSERT_MSG(parse_vline(line, &v), "%s: not in the kernel's vmallocinfo grammar: '%s'",
				  origin, line))
			break;
		print_vline(&v, again, sizeof(again));
		T_ASSERT_MSG(strcmp(again, line) == 0, "%s: '%s' prints back as '%s'", origin, line, again);
		is_vmalloc = v.flags & (1u << 2);
		if (!v.unpurged) {
			T_ASSERT_MSG(v.has_pages == is_vmalloc,
				     "%s: pages= %s on a%s vmalloc area: '%s'", origin,
				     v.has_pages ? "shown" : "missing", is_vmalloc ? "" : " non-", line);
			T_ASSERT_MSG(v.nr_nodes == 0 || v.has_pages, "%s: node counts without pages: '%s'",
				     origin, line);
			if (v.has_pages && v.nr_nodes) {
				unsigned long sum = 0;

				for (unsigned i = 0; i < v.nr_nodes; i++)
					sum += v.count[i];
				T_ASSERT_MSG(sum == v.pages, "%s: node counts add up to %lu of %lu pages",
					     origin, sum, v.pages);
			}
		}
		/* Real addresses are hashed by %pK; simulated ones are not. */
		if (simulated)
			T_ASSERT_MSG(v.end - v.start == v.size, "%s: size %llu of a %#llx-byte range",
				     origin, (unsigned long long)v.size,
				     (unsigned long long)(v.end - v.start));
		l = nl ? nl + 1 : NULL;
	}
	return lines;
}

/* "Node %d, zone %8s " then "%6lu " per order, as mm/vmstat.c prints it. */
static bool buddyinfo_line_ok(const char *line, unsigned *ret_orders)
{
	char zone[32], again[512];
	const char *p;
	unsigned long v[VM_NR_ORDERS + 1];
	unsigned nv = 0;
	int node, pos = 0;
	size_t n;

	if (sscanf(line, "Node %d, zone %31s%n", &node, zone, &pos) != 2)
		return false;
	for (p = line + pos; *p;) {
		char *end;

		if (nv > VM_NR_ORDERS)
			return false;
		v[nv] = strtoul(p, &end, 10);
		if (end == p)
			break;
		nv++;
		p = end;
		while (*p == ' ')
			p++;
	}
	n = (size_t)snprintf(again, sizeof(again), "Node %d, zone %8s ", node, zone);
	for (unsigned i = 0; i < nv && n < sizeof(again); i++)
		n += (size_t)snprintf(again + n, sizeof(again) - n, "%6lu ", v[i]);
	*ret_orders = nv;
	return strcmp(again, line) == 0;
}

static unsigned check_buddyinfo_grammar(const char *text, const char *origin)
{
	unsigned lines = 0;

	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		char line[512];
		unsigned orders = 0;

		snprintf(line, sizeof(line), "%.*s", (int)len, l);
		lines++;
		T_ASSERT_MSG(buddyinfo_line_ok(line, &orders) && orders == VM_NR_ORDERS,
			     "%s: not in the kernel's buddyinfo format: '%s'", origin, line);
		l = nl ? nl + 1 : NULL;
	}
	return lines;
}

/* "%-15s %8lu kB": parse the label and value and print them back. */
static bool meminfo_line_ok(const char *line, char *label, size_t label_len)
{
	char again[256];
	unsigned long long v;
	const char *colon = strchr(line, ':');
	char *end;

	if (!colon || (size_t)(colon - line) + 2 > label_len)
		return false;
	snprintf(label, label_len, "%.*s", (int)(colon - line + 1), line);
	v = strtoull(colon + 1, &end, 10);
	if (strcmp(end, " kB") != 0)
		return false;
	snprintf(again, sizeof(again), "%-15s %8llu kB", label, v);
	return strcmp(again, line) == 0;
}

static void test_kernel_grammar(void)
{
	char *kvmi = t_fixture("kernel/vmallocinfo.txt");
	char *kbuddy = t_fixture("kernel/buddyinfo.txt");
	char *kmem = t_fixture("kernel/meminfo.txt");
	struct vm_engine *e = t_machine(1 * GIB, 2, VM_LAYOUT_X86_64);
	uint64_t a, v, block, pfns[2];
	char *vmi = NULL, *buddy = NULL, *mem = NULL;
	const char *prev_label_pos = NULL;
	unsigned checked = 0;

	if (!kvmi || !kbuddy || !kmem || !e)
		goto out;
	/* The grammars reproduce every line a real kernel printed. */
	CU_ASSERT(check_vmallocinfo_grammar(kvmi, "kernel vmallocinfo", false) > 50);
	CU_ASSERT(check_buddyinfo_grammar(kbuddy, "kernel buddyinfo") == 3);

	/* The engine's lines follow them. */
	CU_ASSERT_EQUAL(vm_set_current(e, 0, 1, 0, "kernel_clone+0x94/0x3e0"), 0);
	CU_ASSERT_FATAL(vm_vmalloc(e, 16 * KIB, &a) == 0);
	CU_ASSERT_FATAL(vm_vmalloc_node(e, 2 * MIB + 4 * PAGE, 1, &a) == 0);
	CU_ASSERT_FATAL(vm_vmalloc_user(e, 3 * PAGE, &a) == 0);
	CU_ASSERT_EQUAL(vm_set_current(e, 0, 1, 0, NULL), 0);
	CU_ASSERT_FATAL(vm_vzalloc(e, PAGE, &a) == 0);
	CU_ASSERT_FATAL(vm_alloc_pages(e, GFP_KERNEL, 1, NUMA_NO_NODE, &block) == 0);
	pfns[0] = block;
	pfns[1] = block + 1;
	CU_ASSERT_FATAL(vm_vmap(e, pfns, 2, VM_USERMAP, PAGE_KERNEL, &v) == 0);
	CU_ASSERT_EQUAL(vm_vfree(e, a), 0);
	vmi = t_vmallocinfo(e);
	buddy = t_buddyinfo(e);
	mem = t_meminfo(e);
	/* Five areas (three vmalloc, the page array of the 516-page one,
	 * one vmap) and one lazily freed range. */
	CU_ASSERT_EQUAL(check_vmallocinfo_grammar(vmi, "engine vmallocinfo", true), 6);
	CU_ASSERT_EQUAL(check_buddyinfo_grammar(buddy, "engine buddyinfo"), 3);

	/* meminfo: each engine line prints back in the kernel's layout, the
	 * kernel's own line with that label does too, and the labels come in
	 * the kernel's order. */
	for (const char *l = mem; l && *l;) {
		const char *nl = strchr(l, '\n');
		char line[256], label[64], *kline, klabel[64];

		snprintf(line, sizeof(line), "%.*s", (int)(nl ? nl - l : (long)strlen(l)), l);
		T_ASSERT_MSG(meminfo_line_ok(line, label, sizeof(label)),
			     "engine meminfo line not in the kernel's layout: '%s'", line);
		kline = t_line_starting(kmem, label);
		if (kline) {
			const char *pos = strstr(kmem, kline);

			T_ASSERT_MSG(meminfo_line_ok(kline, klabel, sizeof(klabel)),
				     "the kernel's own '%s' does not print back", kline);
			T_ASSERT_MSG(!prev_label_pos || pos > prev_label_pos,
				     "'%s' comes earlier in the kernel's meminfo", label);
			prev_label_pos = pos;
			checked++;
			free(kline);
		}
		l = nl ? nl + 1 : NULL;
	}
	CU_ASSERT(checked >= 6);
	/* Same vmalloc range as a real x86_64 kernel: the same line. */
	{
		char *mine = t_line_starting(mem, "VmallocTotal:");
		char *theirs = t_line_starting(kmem, "VmallocTotal:");

		CU_ASSERT_STRING_EQUAL(mine ? mine : "?", theirs ? theirs : "!");
		CU_ASSERT_STRING_EQUAL(mine ? mine : "?", "VmallocTotal:   34359738367 kB");
		free(mine);
		free(theirs);
	}
out:
	free(kvmi);
	free(kbuddy);
	free(kmem);
	free(vmi);
	free(buddy);
	free(mem);
	vm_engine_destroy(e);
}

/* ---- fragmentation indices ------------------------------------------------------ */

static void test_fragmentation_indices(void)
{
	struct vm_engine *e = t_machine(64 * MIB, 1, VM_LAYOUT_X86_64);
	uint64_t *held, n;
	struct t_zones zs;
	char *text = NULL, *line;
	size_t len = 0;

	if (!e)
		return;
	/* Fresh DMA: four max-order blocks, nothing unusable, and a failure
	 * at any order would not be fragmentation's fault. */
	CU_ASSERT_EQUAL(vm_show_unusable_index(e, &text, &len), 0);
	line = t_line_starting(text, "Node 0, zone      DMA");
	CU_ASSERT_STRING_EQUAL(line ? line : "?",
			       "Node 0, zone      DMA 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 ");
	free(line);
	free(text);
	text = NULL;
	CU_ASSERT_EQUAL(vm_show_extfrag_index(e, &text, &len), 0);
	line = t_line_starting(text, "Node 0, zone      DMA");
	CU_ASSERT_STRING_EQUAL(line ? line : "?",
			       "Node 0, zone      DMA -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 ");
	free(line);
	free(text);
	text = NULL;

	/* Every other frame free: all of it unusable above order 0, and the
	 * extfrag index rises with the order. */
	held = t_frame_array(e);
	CU_ASSERT_FATAL(held != NULL);
	n = t_take_frames(e, __GFP_MEMALLOC, NUMA_NO_NODE, held);
	for (uint64_t i = 0; i < n; i++)
		if (held[i] % 2 == 0)
			CU_ASSERT_EQUAL(vm_free_pages(e, held[i], 0), 0);
	t_zones(e, &zs);
	for (unsigned i = 0; i < zs.n; i++) {
		int prev = -1000, x = 1, u = 1;

		CU_ASSERT_EQUAL(vm_unusable_index(&zs.z[i], 0, &u), 0);
		CU_ASSERT_EQUAL(u, 0);
		CU_ASSERT_EQUAL(vm_extfrag_index(&zs.z[i], 0, &x), 0);
		CU_ASSERT_EQUAL(x, -1000);
		for (unsigned o = 1; o < VM_NR_ORDERS; o++) {
			CU_ASSERT_EQUAL(vm_extfrag_index(&zs.z[i], o, &x), 0);
			CU_ASSERT_EQUAL(vm_unusable_index(&zs.z[i], o, &u), 0);
			CU_ASSERT_EQUAL(u, 1000);
			CU_ASSERT(x >= 0 && x <= 1000 && x > prev);
			prev = x;
		}
	}
	CU_ASSERT_EQUAL(vm_show_unusable_index(e, &text, &len), 0);
	line = t_line_starting(text, "Node 0, zone    DMA32");
	CU_ASSERT_STRING_EQUAL(line ? line : "?",
			       "Node 0, zone    DMA32 0.000 1.000 1.000 1.000 1.000 1.000 1.000 1.000 1.000 1.000 1.000 ");
	free(line);
	free(text);
	free(held);
	vm_engine_destroy(e);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "fresh_x86_64_1g", test_fresh_x86_64_1g },
		{ "fresh_i386_2g", test_fresh_i386_2g },
		{ "fresh_4_nodes", test_fresh_4_nodes },
		{ "vmallocinfo_scenario", test_vmallocinfo_scenario },
		{ "vmallocinfo_nodes", test_vmallocinfo_nodes },
		{ "kernel_grammar", test_kernel_grammar },
		{ "fragmentation_indices", test_fragmentation_indices },
		{ NULL, NULL },
	};

	return t_main("procfs", cases, argc, argv);
}
