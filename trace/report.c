/* report.c -- the replay's report as text and as JSON (report.h).
 *
 * Both forms read the same struct vt_report; the zone tables print in the
 * kernel's own layouts (buddyinfo, and debugfs' unusable_index and
 * extfrag_index), byte for byte as the engine prints them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "report.h"

const char *vt_errno_name(int err)
{
	const char *name = strerrorname_np(err < 0 ? -err : err);

	return name ? name : "EUNKNOWN";
}

static double rate(const struct vt_report *rep)
{
	return rep->elapsed_s > 0 ? (double)rep->stats->events / rep->elapsed_s : 0;
}

static void text_zones(FILE *out, const struct vt_machine_state *m, int which)
{
	for (unsigned z = 0; z < m->nr_zones; z++) {
		const struct vt_zone_state *zs = &m->zones[z];

		fprintf(out, "Node %d, zone %8s ", zs->node, zs->name);
		for (unsigned o = 0; o < VT_NR_ORDERS; o++) {
			int idx = which == 1 ? zs->unusable[o] : zs->extfrag[o];

			if (which == 0)
				fprintf(out, "%6" PRIu64 " ", zs->nr_free[o]);
			else if (which == 1)
				fprintf(out, "%d.%03d ", idx / 1000, idx % 1000);
			else
				fprintf(out, "%2d.%03d ", idx / 1000, abs(idx % 1000));
		}
		fprintf(out, "\n");
	}
}

int vt_report_text(FILE *out, const struct vt_report *rep)
{
	const struct vt_replay_stats *s = rep->stats;
	const struct vt_machine_state *m = rep->final;
	const struct vt_trace_info *info = rep->info;
	const struct vt_report_machine *mc = &rep->machine;

	fprintf(out, "trace: %s (%s", rep->input, vt_format_name(info->format));
	if (info->format == VT_FMT_NATIVE && info->source != VT_FMT_NATIVE &&
	    vt_format_name(info->source))
		fprintf(out, ", converted from %s", vt_format_name(info->source));
	if (info->kernel[0])
		fprintf(out, ", kernel %s", info->kernel);
	fprintf(out, "), %" PRIu64 " %s\n", info->lines,
		info->format == VT_FMT_NATIVE ? "records" : "lines");
	fprintf(out, "machine: ");
	if (mc->kernel)
		fprintf(out, "kernel %s, ", mc->kernel);
	fprintf(out, "%" PRIu64 " MiB, %s, %u node%s, %u CPU%s (%s), lazy_max %" PRIu64
		" pages (%s)\n", mc->memory_bytes >> 20, mc->layout, mc->nodes,
		mc->nodes == 1 ? "" : "s", mc->cpus, mc->cpus == 1 ? "" : "s", mc->cpus_from,
		mc->lazy_max_pages, mc->lazy_max_from);
	if (rep->interrupted)
		fprintf(out, "interrupted: the report covers the events replayed so far\n");
	if (rep->stopped)
		fprintf(out, "stopped: %s\n", rep->stopped);
	fprintf(out, "events: %" PRIu64 " in %.3f s (%.0f events/s)\n", s->events, rep->elapsed_s,
		rate(rep));
	for (unsigned op = 0; op < VT_NR_OPS; op++)
		fprintf(out, "  %-12s %10" PRIu64 "\n", vt_op_name((enum vt_op)op), s->by_op[op]);
	fprintf(out, "skipped: %" PRIu64 " lines of other events, %" PRIu64 " bad lines, %" PRIu64
		" lost events\n", info->other_events, info->bad_lines, info->lost_events);
	if (info->bad_lines)
		fprintf(out, "  first bad line: %s\n", info->bad_first);
	fprintf(out, "not replayed: %" PRIu64 " failed attempts (alloc_vmap_area failed=1), %" PRIu64
		" calls that failed in the trace\n", s->failed_attempts, s->trace_failed);
	fprintf(out, "failures: %" PRIu64, s->failures);
	for (unsigned i = 0; i < s->nr_errnos; i++)
		fprintf(out, "%s %s %" PRIu64, i ? "," : " (", vt_errno_name(s->errnos[i].err),
			s->errnos[i].count);
	fprintf(out, "%s\n", s->nr_errnos ? ")" : "");
	for (unsigned i = 0; i < s->nr_first; i++) {
		const struct vt_failure *f = &s->first[i];

		fprintf(out, "  event %" PRIu64 " (line %" PRIu64 "): %s of %" PRIu64 " bytes%s%s: %s\n",
			f->i, f->line, vt_op_name(f->op), f->size, f->caller[0] ? " by " : "",
			f->caller, strerror(-f->err));
	}
	fprintf(out, "unmatched frees: %" PRIu64 " (objects from before the trace)\n",
		s->unmatched_frees);
	if (s->failed_frees)
		fprintf(out, "frees of allocations that failed here: %" PRIu64 "\n", s->failed_frees);
	fprintf(out, "implicit frees: %" PRIu64 " (allocations at a live address: a free the "
		"trace missed)\n", s->implicit_frees);
	if (s->outside_window)
		fprintf(out, "windows outside the machine's vmalloc range: %" PRIu64
			" (placed in the whole range)\n", s->outside_window);
	if (s->warmed && s->warm_err)
		fprintf(out, "warm: seeding %" PRIu64 " lazy pages failed: %s\n", s->warm_wanted,
			strerror(-s->warm_err));
	else if (s->warmed)
		fprintf(out, "warm: %" PRIu64 " lazy pages seeded\n", s->warm_pages);
	fprintf(out, "purges: %" PRIu64 ", TLB flushes: %" PRIu64 " (the trace: %" PRIu64
		" purges)\n", m->nr_purges, m->nr_tlb_flushes, s->by_op[VT_OP_PURGE]);
	if (s->trace_nr_lazy_max)
		fprintf(out, "lazy: %" PRIu64 " pages at the end, lazy_max %" PRIu64
			" (the trace's nr_lazy_max %" PRIu64 ")\n", m->lazy_pages, m->lazy_max_pages,
			s->trace_nr_lazy_max);
	else
		fprintf(out, "lazy: %" PRIu64 " pages at the end, lazy_max %" PRIu64 "\n",
			m->lazy_pages, m->lazy_max_pages);
	fprintf(out, "page-table pages: %" PRIu64 "\n", m->pagetable_pages);
	fprintf(out, "vmalloc use: peak %" PRIu64 " kB in %" PRIu64 " areas, final %" PRIu64
		" kB in %" PRIu64 " areas (VmallocUsed %" PRIu64 " kB)\n", s->peak_pages * 4,
		s->peak_areas, s->live_pages * 4, s->live_areas, m->vmalloc_pages * 4);
	if (s->by_op[VT_OP_PAGE_ALLOC])
		fprintf(out, "page blocks: %" PRIu64 " held at the end (%" PRIu64 " pages)\n",
			s->live_page_blocks, s->page_block_pages);
	fprintf(out, "largest free KVA hole: %" PRIu64 " kB\n", m->largest_free_kva >> 10);
	fprintf(out, "KVA extent: %" PRIu64 " kB\n", m->kva_extent >> 10);
	if (s->placement_pairs)
		fprintf(out, "placement: %" PRIu64 " of %" PRIu64 " consecutive deltas agree (%.1f %%)\n",
			s->placement_agree, s->placement_pairs,
			100.0 * (double)s->placement_agree / (double)s->placement_pairs);
	else
		fprintf(out, "placement: 0 of 0 consecutive deltas agree (the trace records no "
			"pairs of addresses)\n");
	fprintf(out, "buddyinfo:\n");
	text_zones(out, m, 0);
	fprintf(out, "unusable_index:\n");
	text_zones(out, m, 1);
	fprintf(out, "extfrag_index:\n");
	text_zones(out, m, 2);
	return ferror(out) ? -EIO : 0;
}

/* ---- JSON ----------------------------------------------------------------- */

static void put(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static json_object *u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *milli(int v)
{
	char b[16];

	snprintf(b, sizeof(b), "%s%d.%03d", v < 0 ? "-" : "", abs(v) / 1000, abs(v) % 1000);
	return json_object_new_double_s(v / 1000.0, b);
}

int vt_report_json(FILE *out, const struct vt_report *rep)
{
	const struct vt_replay_stats *s = rep->stats;
	const struct vt_machine_state *m = rep->final;
	const struct vt_trace_info *info = rep->info;
	const struct vt_report_machine *mc = &rep->machine;
	json_object *o = json_object_new_object(), *x, *a;
	int r = 0;

	if (!o)
		return -ENOMEM;
	put(o, "input", json_object_new_string(rep->input));
	put(o, "format", json_object_new_string(vt_format_name(info->format)));
	put(o, "source_format", str_or_null(vt_format_name(info->source)));
	put(o, "traced_kernel", info->kernel[0] ? json_object_new_string(info->kernel) : NULL);
	put(o, "trace_cpus", u64(info->cpus));
	put(o, info->format == VT_FMT_NATIVE ? "records" : "lines", u64(info->lines));

	x = json_object_new_object();
	put(x, "kernel", str_or_null(mc->kernel));
	put(x, "cpus", u64(mc->cpus));
	put(x, "cpus_from", json_object_new_string(mc->cpus_from));
	put(x, "memory", u64(mc->memory_bytes));
	put(x, "layout", json_object_new_string(mc->layout));
	put(x, "nodes", u64(mc->nodes));
	put(x, "lazy_max_pages", u64(mc->lazy_max_pages));
	put(x, "lazy_max_from", json_object_new_string(mc->lazy_max_from));
	put(o, "machine", x);

	put(o, "interrupted", json_object_new_boolean(rep->interrupted));
	put(o, "stopped", str_or_null(rep->stopped));
	put(o, "elapsed_s", json_object_new_double(rep->elapsed_s));
	put(o, "events_per_s", json_object_new_double(rate(rep)));

	x = json_object_new_object();
	put(x, "total", u64(s->events));
	for (unsigned op = 0; op < VT_NR_OPS; op++)
		put(x, vt_op_name((enum vt_op)op), u64(s->by_op[op]));
	put(o, "events", x);

	x = json_object_new_object();
	put(x, "other_events", u64(info->other_events));
	put(x, "bad_lines", u64(info->bad_lines));
	put(x, "first_bad_line", info->bad_lines ? json_object_new_string(info->bad_first) : NULL);
	put(x, "lost_events", u64(info->lost_events));
	put(x, "failed_attempts", u64(s->failed_attempts));
	put(x, "failed_in_trace", u64(s->trace_failed));
	put(o, "skipped", x);

	put(o, "calls", u64(s->calls));
	x = json_object_new_object();
	put(x, "total", u64(s->failures));
	a = json_object_new_object();
	for (unsigned i = 0; i < s->nr_errnos; i++)
		put(a, vt_errno_name(s->errnos[i].err), u64(s->errnos[i].count));
	put(x, "by_error", a);
	a = json_object_new_array();
	for (unsigned i = 0; i < s->nr_first; i++) {
		const struct vt_failure *f = &s->first[i];
		json_object *fo = json_object_new_object();

		put(fo, "i", u64(f->i));
		put(fo, "line", u64(f->line));
		put(fo, "op", json_object_new_string(vt_op_name(f->op)));
		put(fo, "size", u64(f->size));
		put(fo, "error", json_object_new_string(vt_errno_name(f->err)));
		put(fo, "message", json_object_new_string(strerror(-f->err)));
		put(fo, "caller", f->caller[0] ? json_object_new_string(f->caller) : NULL);
		json_object_array_add(a, fo);
	}
	put(x, "first", a);
	put(o, "failures", x);

	put(o, "unmatched_frees", u64(s->unmatched_frees));
	put(o, "failed_frees", u64(s->failed_frees));
	put(o, "implicit_frees", u64(s->implicit_frees));
	put(o, "outside_window", u64(s->outside_window));
	put(o, "warm_pages", s->warmed ? u64(s->warm_pages) : NULL);
	put(o, "warm_error", s->warm_err ? json_object_new_string(vt_errno_name(s->warm_err)) : NULL);
	put(o, "purges", u64(m->nr_purges));
	put(o, "tlb_flushes", u64(m->nr_tlb_flushes));
	put(o, "trace_purges", u64(s->by_op[VT_OP_PURGE]));
	put(o, "trace_nr_lazy_max", s->trace_nr_lazy_max ? u64(s->trace_nr_lazy_max) : NULL);
	put(o, "lazy_pages", u64(m->lazy_pages));
	put(o, "lazy_max_pages", u64(m->lazy_max_pages));
	put(o, "pagetable_pages", u64(m->pagetable_pages));

	x = json_object_new_object();
	put(x, "peak_pages", u64(s->peak_pages));
	put(x, "peak_areas", u64(s->peak_areas));
	put(x, "final_pages", u64(s->live_pages));
	put(x, "final_areas", u64(s->live_areas));
	put(x, "vmalloc_used_pages", u64(m->vmalloc_pages));
	put(o, "vmalloc", x);
	put(o, "page_blocks", u64(s->live_page_blocks));
	put(o, "page_block_pages", u64(s->page_block_pages));
	put(o, "largest_free_kva", u64(m->largest_free_kva));
	put(o, "kva_extent", u64(m->kva_extent));

	x = json_object_new_object();
	put(x, "agree", u64(s->placement_agree));
	put(x, "pairs", u64(s->placement_pairs));
	put(o, "placement", x);

	a = json_object_new_array();
	for (unsigned z = 0; z < m->nr_zones; z++) {
		const struct vt_zone_state *zs = &m->zones[z];
		json_object *zo = json_object_new_object(), *nf = json_object_new_array();
		json_object *ui = json_object_new_array(), *ei = json_object_new_array();

		put(zo, "node", json_object_new_int(zs->node));
		put(zo, "zone", json_object_new_string(zs->name));
		put(zo, "managed", u64(zs->managed));
		put(zo, "free", u64(zs->free));
		for (unsigned k = 0; k < VT_NR_ORDERS; k++) {
			json_object_array_add(nf, u64(zs->nr_free[k]));
			json_object_array_add(ui, milli(zs->unusable[k]));
			json_object_array_add(ei, milli(zs->extfrag[k]));
		}
		put(zo, "nr_free", nf);
		put(zo, "unusable_index", ui);
		put(zo, "extfrag_index", ei);
		json_object_array_add(a, zo);
	}
	put(o, "zones", a);

	if (fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0 || ferror(out))
		r = -EIO;
	json_object_put(o);
	return r;
}
