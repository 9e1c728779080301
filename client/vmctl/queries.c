/* queries.c -- the machine as a whole: meminfo, buddyinfo, frag (in the
 * kernel's /proc and debugfs formats), stat (the counters; with -i one
 * line per sample as vmstat prints), check and purge.
 *
 * With -i SECONDS each of meminfo, buddyinfo, frag and stat repeats (see
 * repeat.c); text samples are separated by a blank line, JSON samples are
 * one object per line with the sample's time.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "size.h"
#include "vmctl.h"

static const struct option repeat_opts[] = {
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "count", required_argument, NULL, OPT_COUNT },
	COMMON_OPTS
};

static bool repeating(const struct repeat *rp)
{
	return rp->interval_ms || rp->count;
}

/* One JSON sample: a line of its own in a stream, else pretty. */
static void emit(json_object *o, const struct repeat *rp)
{
	if (repeating(rp)) {
		struct timeval tv;

		gettimeofday(&tv, NULL);
		jput(o, "time", json_object_new_double((double)tv.tv_sec + tv.tv_usec / 1e6));
		jprint_line(o);
	} else {
		jprint(o);
	}
}

static int query_text(const struct cmd *cmd, enum vmc_query q, char **text)
{
	int r = vmc_query_text(client(cmd), q, text);

	return r < 0 ? fail(cmd, NULL, r) : 0;
}

/* ---- meminfo ------------------------------------------------------------------------ */

/* "MemTotal:        1048576 kB" as "MemTotal:          1.0Gi" with --human. */
static void print_meminfo_text(const char *text)
{
	while (*text) {
		size_t len = strcspn(text, "\n");
		unsigned long long kb;
		char name[32];
		int end = -1;

		if (arg_human && sscanf(text, "%31s %llu kB%n", name, &kb, &end) == 2 && end > 0 &&
		    (size_t)end == len) {
			char h[CV_SIZE_STR];

			cv_format_size((uint64_t)kb << 10, h, sizeof(h));
			printf("%-15s %8s\n", name, h);
		} else {
			printf("%.*s\n", (int)len, text);
		}
		text += len;
		if (*text)
			text++;
	}
}

static int meminfo_sample(const struct cmd *cmd, long i, void *ctx)
{
	const struct repeat *rp = ctx;
	struct vmc_meminfo m;
	json_object *o;
	char *text;
	int r;

	if (!arg_json) {
		if ((r = query_text(cmd, VMC_MEMINFO, &text)))
			return r;
		if (i > 0)
			putchar('\n');
		print_meminfo_text(text);
		free(text);
		return VMCTL_EXIT_OK;
	}
	r = vmc_meminfo(client(cmd), &m);
	if (r < 0)
		return fail(cmd, NULL, r);
	o = json_object_new_object();
	jput(o, "mem_total_kb", json_object_new_uint64(m.mem_total));
	jput(o, "mem_free_kb", json_object_new_uint64(m.mem_free));
	jput(o, "high_total_kb", json_object_new_uint64(m.high_total));
	jput(o, "high_free_kb", json_object_new_uint64(m.high_free));
	jput(o, "low_total_kb", json_object_new_uint64(m.low_total));
	jput(o, "low_free_kb", json_object_new_uint64(m.low_free));
	jput(o, "page_tables_kb", json_object_new_uint64(m.page_tables));
	jput(o, "vmalloc_total_kb", json_object_new_uint64(m.vmalloc_total));
	jput(o, "vmalloc_used_kb", json_object_new_uint64(m.vmalloc_used));
	jput(o, "vmalloc_chunk_kb", json_object_new_uint64(m.vmalloc_chunk));
	emit(o, rp);
	return VMCTL_EXIT_OK;
}

int cmd_meminfo(const struct cmd *cmd, int argc, char **argv)
{
	struct repeat rp = { 0 };

	positional(cmd, argc, argv, repeat_opts, repeat_opt, &rp, NULL, 0, 0);
	return repeat_run(&rp, meminfo_sample, cmd, &rp);
}

/* ---- buddyinfo and frag ------------------------------------------------------------- */

static json_object *zones_json(const struct vmc_zone *zs, size_t n, bool frag)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		const struct vmc_zone *z = &zs[i];
		json_object *jz = json_object_new_object(), *a;

		jput(jz, "node", json_object_new_int(z->node));
		jput(jz, "zone", json_object_new_string(z->name));
		jput(jz, "start_pfn", jhex(z->start_pfn));
		jput(jz, "end_pfn", jhex(z->end_pfn));
		jput(jz, "managed_pages", json_object_new_uint64(z->managed));
		jput(jz, "free_pages", json_object_new_uint64(z->free));
		jput(jz, "wmark_min_pages", json_object_new_uint64(z->wmark_min));
		jput(jz, "wmark_low_pages", json_object_new_uint64(z->wmark_low));
		jput(jz, "wmark_high_pages", json_object_new_uint64(z->wmark_high));
		a = json_object_new_array();
		for (int k = 0; k < VMC_NR_ORDERS; k++)
			json_object_array_add(a, json_object_new_uint64(z->nr_free[k]));
		jput(jz, "nr_free", a);
		if (frag) {
			a = json_object_new_array();
			for (int k = 0; k < VMC_NR_ORDERS; k++)
				json_object_array_add(a, jmilli(z->unusable_index[k]));
			jput(jz, "unusable_index", a);
			a = json_object_new_array();
			for (int k = 0; k < VMC_NR_ORDERS; k++)
				json_object_array_add(a, jmilli(z->extfrag_index[k]));
			jput(jz, "extfrag_index", a);
		}
		json_object_array_add(arr, jz);
	}
	return arr;
}

/* The daemon's frag text is the unusable_index lines, then as many
 * extfrag_index lines: label each table with its debugfs file's name. */
static void print_frag_text(const char *text)
{
	size_t lines = 0, half, i = 0;

	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	half = lines / 2;
	printf("unusable_index:\n");
	for (const char *p = text; *p; i++) {
		size_t len = strcspn(p, "\n");

		if (i == half && lines % 2 == 0)
			printf("\nextfrag_index:\n");
		printf("%.*s\n", (int)len, p);
		p += len;
		if (*p)
			p++;
	}
}

struct zones_ctx {
	struct repeat rp;
	bool frag;
};

static int zones_sample(const struct cmd *cmd, long i, void *ctx)
{
	const struct zones_ctx *zc = ctx;
	struct vmc_zone *zs = NULL;
	size_t n = 0;
	char *text;
	int r;

	if (!arg_json) {
		if ((r = query_text(cmd, zc->frag ? VMC_FRAG : VMC_BUDDYINFO, &text)))
			return r;
		if (i > 0)
			putchar('\n');
		if (zc->frag)
			print_frag_text(text);
		else
			fputs(text, stdout);
		free(text);
		return VMCTL_EXIT_OK;
	}
	r = vmc_zones(client(cmd), &zs, &n);
	if (r < 0)
		return fail(cmd, NULL, r);
	{
		json_object *o = json_object_new_object();

		jput(o, "zones", zones_json(zs, n, zc->frag));
		emit(o, &zc->rp);
	}
	free(zs);
	return VMCTL_EXIT_OK;
}

static int zones_cmd(const struct cmd *cmd, int argc, char **argv, bool frag)
{
	struct zones_ctx zc = { .frag = frag };

	positional(cmd, argc, argv, repeat_opts, repeat_opt, &zc.rp, NULL, 0, 0);
	return repeat_run(&zc.rp, zones_sample, cmd, &zc);
}

int cmd_buddyinfo(const struct cmd *cmd, int argc, char **argv)
{
	return zones_cmd(cmd, argc, argv, false);
}

int cmd_frag(const struct cmd *cmd, int argc, char **argv)
{
	return zones_cmd(cmd, argc, argv, true);
}

/* ---- stat -------------------------------------------------------------------------------- */

struct stat_ctx {
	struct repeat rp;
	struct vmc_stat prev;
};

static json_object *stat_json(const struct vmc_stat *s)
{
	json_object *o = json_object_new_object();

	jput(o, "layout", json_object_new_string(s->layout));
	jput(o, "kernel", json_object_new_string(s->kernel));
	jput(o, "nr_nodes", json_object_new_uint64(s->nr_nodes));
	jput(o, "nr_cpus", json_object_new_uint64(s->nr_cpus));
	jput(o, "nr_vmap_nodes", json_object_new_uint64(s->nr_vmap_nodes));
	jput(o, "nr_pooled_areas", json_object_new_uint64(s->nr_pooled_areas));
	jput(o, "pooled_pages", json_object_new_uint64(s->pooled_pages));
	jput(o, "work_pending", json_object_new_boolean(s->work_pending));
	jput(o, "work_delayed", json_object_new_boolean(s->work_delayed));
	jput(o, "nr_vmap_blocks", json_object_new_uint64(s->nr_vmap_blocks));
	jput(o, "vmap_block_pages", json_object_new_uint64(s->vmap_block_pages));
	jput(o, "map_ram_pages", json_object_new_uint64(s->map_ram_pages));
	jput(o, "nr_pcpu_chunks", json_object_new_uint64(s->nr_pcpu_chunks));
	jput(o, "nr_pcpu_objects", json_object_new_uint64(s->nr_pcpu_objects));
	jput(o, "pcpu_unit_size_bytes", json_object_new_uint64(s->pcpu_unit_size));
	jput(o, "percpu_pages", json_object_new_uint64(s->percpu_pages));
	jput(o, "nr_kvfree_rcu", json_object_new_uint64(s->nr_kvfree_rcu));
	jput(o, "resident_pages", json_object_new_uint64(s->resident_pages));
	jput(o, "max_resident_pages", json_object_new_uint64(s->max_resident_pages));
	jput(o, "total_pages", json_object_new_uint64(s->total_pages));
	jput(o, "free_pages", json_object_new_uint64(s->free_pages));
	jput(o, "pagetable_pages", json_object_new_uint64(s->pagetable_pages));
	jput(o, "vmalloc_pages", json_object_new_uint64(s->vmalloc_pages));
	jput(o, "vmap_pages", json_object_new_uint64(s->vmap_pages));
	jput(o, "alloc_pages_pages", json_object_new_uint64(s->alloc_pages_pages));
	jput(o, "nr_areas", json_object_new_uint64(s->nr_areas));
	jput(o, "nr_lazy_areas", json_object_new_uint64(s->nr_lazy_areas));
	jput(o, "lazy_pages", json_object_new_uint64(s->lazy_pages));
	jput(o, "lazy_max_pages", json_object_new_uint64(s->lazy_max_pages));
	jput(o, "nr_purges", json_object_new_uint64(s->nr_purges));
	jput(o, "nr_tlb_flushes", json_object_new_uint64(s->nr_tlb_flushes));
	jput(o, "nr_alloc_failures", json_object_new_uint64(s->nr_alloc_failures));
	jput(o, "largest_free_kva_bytes", json_object_new_uint64(s->largest_free_kva));
	jput(o, "vmalloc_start", jhex(s->vmalloc_start));
	jput(o, "vmalloc_end", jhex(s->vmalloc_end));
	jput(o, "clients", json_object_new_uint64(s->clients));
	jput(o, "requests", json_object_new_uint64(s->requests));
	jput(o, "uptime_ms", json_object_new_uint64(s->uptime_ms));
	jput(o, "connections_total", json_object_new_uint64(s->connections_total));
	jput(o, "errors", json_object_new_uint64(s->errors));
	jput(o, "your_pages", json_object_new_uint64(s->your_pages));
	jput(o, "your_quota_pages", json_object_new_uint64(s->your_quota));
	return o;
}

static void print_stat_rows(const struct vmc_stat *s)
{
	const struct {
		const char *name;
		uint64_t v;
		int kind;   /* 0 a count, 1 pages, 2 bytes */
	} rows[] = {
		{ "total_pages", s->total_pages, 1 },
		{ "free_pages", s->free_pages, 1 },
		{ "pagetable_pages", s->pagetable_pages, 1 },
		{ "vmalloc_pages", s->vmalloc_pages, 1 },
		{ "vmap_pages", s->vmap_pages, 1 },
		{ "alloc_pages_pages", s->alloc_pages_pages, 1 },
		{ "nr_areas", s->nr_areas, 0 },
		{ "nr_lazy_areas", s->nr_lazy_areas, 0 },
		{ "lazy_pages", s->lazy_pages, 1 },
		{ "lazy_max_pages", s->lazy_max_pages, 1 },
		{ "nr_purges", s->nr_purges, 0 },
		{ "nr_tlb_flushes", s->nr_tlb_flushes, 0 },
		{ "nr_alloc_failures", s->nr_alloc_failures, 0 },
		{ "largest_free_kva", s->largest_free_kva, 2 },
		{ "nr_nodes", s->nr_nodes, 0 },
		{ "nr_cpus", s->nr_cpus, 0 },
		{ "nr_vmap_nodes", s->nr_vmap_nodes, 0 },
		{ "nr_pooled_areas", s->nr_pooled_areas, 0 },
		{ "pooled_pages", s->pooled_pages, 1 },
		{ "work_pending", s->work_pending, 0 },
		{ "work_delayed", s->work_delayed, 0 },
		{ "nr_vmap_blocks", s->nr_vmap_blocks, 0 },
		{ "vmap_block_pages", s->vmap_block_pages, 1 },
		{ "map_ram_pages", s->map_ram_pages, 1 },
		{ "nr_pcpu_chunks", s->nr_pcpu_chunks, 0 },
		{ "nr_pcpu_objects", s->nr_pcpu_objects, 0 },
		{ "pcpu_unit_size", s->pcpu_unit_size, 2 },
		{ "percpu_pages", s->percpu_pages, 1 },
		{ "nr_kvfree_rcu", s->nr_kvfree_rcu, 0 },
		{ "clients", s->clients, 0 },
		{ "requests", s->requests, 0 },
		{ "uptime_ms", s->uptime_ms, 0 },
		{ "connections_total", s->connections_total, 0 },
		{ "errors", s->errors, 0 },
		{ "your_pages", s->your_pages, 1 },
		{ "your_quota_pages", s->your_quota, 1 },
		{ "resident_pages", s->resident_pages, 1 },
		{ "max_resident_pages", s->max_resident_pages, 1 },
	};
	char h[CV_SIZE_STR];

	printf("%-20s %s\n", "layout", s->layout);
	printf("%-20s %s\n", "kernel", s->kernel);
	printf("%-20s 0x%" PRIx64 "-0x%" PRIx64 "\n", "vmalloc_range", s->vmalloc_start,
	       s->vmalloc_end);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (arg_human && rows[i].kind) {
			cv_format_size(rows[i].kind == 1 ? rows[i].v * VMC_PAGE_SIZE : rows[i].v, h,
				       sizeof(h));
			printf("%-20s %" PRIu64 " (%s)\n", rows[i].name, rows[i].v, h);
		} else {
			printf("%-20s %" PRIu64 "\n", rows[i].name, rows[i].v);
		}
	}
}

/* A size column of the vmstat-like table: KiB, or 1.5Mi with --human. */
static void col_size(uint64_t pages)
{
	char h[CV_SIZE_STR];

	if (arg_human) {
		cv_format_size(pages * VMC_PAGE_SIZE, h, sizeof(h));
		printf(" %8s", h);
	} else {
		printf(" %8" PRIu64, pages * (VMC_PAGE_SIZE / 1024));
	}
}

/* One line per sample: sizes now, events since the line before (since the
 * daemon started, on the first line), as vmstat prints them. */
static void print_stat_line(const struct vmc_stat *s, const struct vmc_stat *prev, long i,
			    unsigned interval_ms)
{
	uint64_t reqs = s->requests - (i ? prev->requests : 0);
	uint64_t ms = i ? interval_ms : s->uptime_ms;

	if (i == 0)
		printf("%8s %8s %8s %8s %8s %8s %6s %6s %7s %5s %7s %7s\n", "free", "vmalloc",
		       "vmap", "allocpg", "pgtable", "lazy", "areas", "purges", "flushes", "fails",
		       "req/s", "clients");
	col_size(s->free_pages);
	col_size(s->vmalloc_pages);
	col_size(s->vmap_pages);
	col_size(s->alloc_pages_pages);
	col_size(s->pagetable_pages);
	col_size(s->lazy_pages);
	printf(" %6" PRIu64 " %6" PRIu64 " %7" PRIu64 " %5" PRIu64 " %7" PRIu64 " %7u\n",
	       s->nr_areas, s->nr_purges - (i ? prev->nr_purges : 0),
	       s->nr_tlb_flushes - (i ? prev->nr_tlb_flushes : 0),
	       s->nr_alloc_failures - (i ? prev->nr_alloc_failures : 0),
	       ms ? reqs * 1000 / ms : 0, s->clients);
}

static int stat_sample(const struct cmd *cmd, long i, void *ctx)
{
	struct stat_ctx *sc = ctx;
	struct vmc_stat s;
	int r = vmc_stat(client(cmd), &s);

	if (r < 0)
		return fail(cmd, NULL, r);
	if (arg_json)
		emit(stat_json(&s), &sc->rp);
	else if (repeating(&sc->rp))
		print_stat_line(&s, &sc->prev, i, sc->rp.interval_ms ? sc->rp.interval_ms : 1000);
	else
		print_stat_rows(&s);
	sc->prev = s;
	return VMCTL_EXIT_OK;
}

int cmd_stat(const struct cmd *cmd, int argc, char **argv)
{
	struct stat_ctx sc = { 0 };

	positional(cmd, argc, argv, repeat_opts, repeat_opt, &sc.rp, NULL, 0, 0);
	return repeat_run(&sc.rp, stat_sample, cmd, &sc);
}

/* ---- check and purge -------------------------------------------------------------------- */

int cmd_check(const struct cmd *cmd, int argc, char **argv)
{
	char msg[512];
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, NULL, 0, 0);
	r = vmc_check(client(cmd), msg, sizeof(msg));
	if (r < 0)
		return fail(cmd, NULL, r);
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "ok", json_object_new_boolean(true));
		jprint(o);
	} else {
		puts("ok");
	}
	return VMCTL_EXIT_OK;
}

int cmd_purge(const struct cmd *cmd, int argc, char **argv)
{
	struct vmc_stat before, after;
	struct vmc_client *c;
	uint64_t areas, pages, flushes;
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, NULL, 0, 0);
	c = client(cmd);
	if ((r = vmc_stat(c, &before)) < 0 || (r = vmc_purge(c)) < 0 || (r = vmc_stat(c, &after)) < 0)
		return fail(cmd, NULL, r);
	/* Counted around the call: another client's frees in between count too. */
	areas = before.nr_lazy_areas > after.nr_lazy_areas ?
		before.nr_lazy_areas - after.nr_lazy_areas : 0;
	pages = before.lazy_pages > after.lazy_pages ? before.lazy_pages - after.lazy_pages : 0;
	flushes = after.nr_tlb_flushes - before.nr_tlb_flushes;
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "purged_areas", json_object_new_uint64(areas));
		jput(o, "purged_pages", json_object_new_uint64(pages));
		jput(o, "tlb_flushes", json_object_new_uint64(flushes));
		jprint(o);
	} else {
		char h[24];

		if (arg_human)
			printf("purged %" PRIu64 " lazy area%s (%s), %" PRIu64 " TLB flush%s\n", areas,
			       areas == 1 ? "" : "s", size_text(pages * VMC_PAGE_SIZE, h), flushes,
			       flushes == 1 ? "" : "es");
		else
			printf("purged %" PRIu64 " lazy area%s (%" PRIu64 " page%s), %" PRIu64
			       " TLB flush%s\n", areas, areas == 1 ? "" : "s", pages,
			       pages == 1 ? "" : "s", flushes, flushes == 1 ? "" : "es");
	}
	return VMCTL_EXIT_OK;
}
