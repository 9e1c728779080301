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

static void text_start(FILE *out, const struct vt_report *rep)
{
	const struct vt_prestate_stats *ps = rep->start;
	const struct vt_replay_stats *s = rep->stats;

	if (!ps) {
		fprintf(out, "start state: none (%s)\n", rep->start_off ? rep->start_off : "off");
		return;
	}
	fprintf(out, "start state: inferred from the %s (%" PRIu64 " events read in %.3f s), "
		"built before the first event\n", ps->partial ? "trace up to where it stops" :
		"whole trace", ps->scanned, rep->start_s);
	fprintf(out, "  ranges: %" PRIu64 " pooled (%" PRIu64 " pages), %" PRIu64 " lazily freed (%"
		PRIu64 " pages), %" PRIu64 " in the free tree (%" PRIu64 " pages)\n", ps->pooled,
		ps->pooled_pages, ps->lazy, ps->lazy_pages, ps->holes, ps->hole_pages);
	fprintf(out, "  areas from before: %" PRIu64 " placed (%" PRIu64 " pages), %" PRIu64
		" of unknown size not placed\n", ps->busy, ps->busy_pages, ps->busy_unknown);
	fprintf(out, "  held busy: %" PRIu64 " pages in %" PRIu64 " areas below 0x%016" PRIx64
		"; %u purge%s to order the pools, %" PRIu64 " decay ranges\n", ps->blocked_pages,
		ps->blockers, ps->top, ps->batches, ps->batches == 1 ? "" : "s", ps->decay);
	if (ps->conflicts || ps->outside || ps->capped)
		fprintf(out, "  left out: %" PRIu64 " overlapping ranges, %" PRIu64
			" addresses outside the vmalloc range%s\n", ps->conflicts, ps->outside,
			ps->capped ? ", ranges beyond the first 1048576" : "");
	fprintf(out, "  calls: %" PRIu64 ", %" PRIu64 " failed%s%s, %" PRIu64 " ranges misplaced\n",
		s->start_calls, s->start_failures, s->start_err ? " " : "",
		s->start_err ? vt_errno_name(s->start_err) : "", s->start_misplaced);
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
	text_start(out, rep);
	fprintf(out, "unmatched frees: %" PRIu64 " (objects from before the trace)", s->unmatched_frees);
	if (s->start_frees)
		fprintf(out, "; %" PRIu64 " more freed that the start state placed", s->start_frees);
	fprintf(out, "\n");
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
		" purge%s)\n", m->nr_purges, m->nr_tlb_flushes, s->by_op[VT_OP_PURGE],
		s->by_op[VT_OP_PURGE] == 1 ? "" : "s");
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

static json_object *jhex(uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "0x%016" PRIx64, v);
	return json_object_new_string(b);
}

static json_object *milli(int v)
{
	char b[16];

	snprintf(b, sizeof(b), "%s%d.%03d", v < 0 ? "-" : "", abs(v) / 1000, abs(v) % 1000);
	return json_object_new_double_s(v / 1000.0, b);
}

static json_object *start_object(const struct vt_report *rep)
{
	const struct vt_prestate_stats *ps = rep->start;
	const struct vt_replay_stats *s = rep->stats;
	json_object *x = json_object_new_object();

	put(x, "built", json_object_new_boolean(ps != NULL));
	if (!ps) {
		put(x, "why_not", json_object_new_string(rep->start_off ? rep->start_off : "off"));
		return x;
	}
	put(x, "events_read", u64(ps->scanned));
	put(x, "read_s", json_object_new_double(rep->start_s));
	put(x, "pooled", u64(ps->pooled));
	put(x, "pooled_pages", u64(ps->pooled_pages));
	put(x, "lazy", u64(ps->lazy));
	put(x, "lazy_pages", u64(ps->lazy_pages));
	put(x, "free_tree", u64(ps->holes));
	put(x, "free_tree_pages", u64(ps->hole_pages));
	put(x, "areas_before", u64(ps->busy));
	put(x, "areas_before_pages", u64(ps->busy_pages));
	put(x, "areas_before_unknown_size", u64(ps->busy_unknown));
	put(x, "held_pages", u64(ps->blocked_pages));
	put(x, "held_areas", u64(ps->blockers));
	put(x, "top", jhex(ps->top));
	put(x, "batches", u64(ps->batches));
	put(x, "decay_ranges", u64(ps->decay));
	put(x, "backlog_pages", u64(ps->backlog_pages));
	put(x, "overlapping", u64(ps->conflicts));
	put(x, "outside", u64(ps->outside));
	put(x, "capped", json_object_new_boolean(ps->capped));
	put(x, "partial", json_object_new_boolean(ps->partial));
	put(x, "calls", u64(s->start_calls));
	put(x, "failed", u64(s->start_failures));
	put(x, "error", s->start_err ? json_object_new_string(vt_errno_name(s->start_err)) : NULL);
	put(x, "misplaced", u64(s->start_misplaced));
	put(x, "frees_of_areas_before", u64(s->start_frees));
	return x;
}

static json_object *report_object(const struct vt_report *rep)
{
	const struct vt_replay_stats *s = rep->stats;
	const struct vt_machine_state *m = rep->final;
	const struct vt_trace_info *info = rep->info;
	const struct vt_report_machine *mc = &rep->machine;
	json_object *o = json_object_new_object(), *x, *a;

	if (!o)
		return NULL;
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

	put(o, "start_state", start_object(rep));
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
	return o;
}

static int print_json(FILE *out, json_object *o)
{
	int r = 0;

	if (!o)
		return -ENOMEM;
	if (fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0 || ferror(out))
		r = -EIO;
	json_object_put(o);
	return r;
}

int vt_report_json(FILE *out, const struct vt_report *rep)
{
	return print_json(out, report_object(rep));
}

int vt_report_compare_json(FILE *out, const struct vt_report *reps, unsigned n)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++)
		json_object_array_add(a, report_object(&reps[i]));
	put(o, "compare", a);
	return print_json(out, o);
}

/* ---- side by side ------------------------------------------------------------- */

#define CMP_MAX 8
#define CMP_CELL 48

/* One row of the table: a label and a cell per replay. */
static void row(FILE *out, const char *label, char cells[][CMP_CELL], unsigned n)
{
	fprintf(out, "%-26s", label);
	for (unsigned i = 0; i < n; i++)
		fprintf(out, " %20s", cells[i]);
	fprintf(out, "\n");
}

#define ROW(label, ...)                                                                 \
	do {                                                                            \
		for (unsigned i_ = 0; i_ < n; i_++) {                                   \
			const struct vt_report *r = &reps[i_];                          \
			const struct vt_replay_stats *s = r->stats;                     \
			const struct vt_machine_state *m = r->final;                    \
			(void)s;                                                        \
			(void)m;                                                        \
			snprintf(cell[i_], CMP_CELL, __VA_ARGS__);                      \
		}                                                                       \
		row(out, label, cell, n);                                               \
	} while (0)

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0;
}

int vt_report_compare_text(FILE *out, const struct vt_report *reps, unsigned n)
{
	char cell[CMP_MAX][CMP_CELL];
	const struct vt_trace_info *info;

	if (!n || n > CMP_MAX)
		return -EINVAL;
	info = reps[0].info;
	fprintf(out, "trace: %s (%s", reps[0].input, vt_format_name(info->format));
	if (info->kernel[0])
		fprintf(out, ", kernel %s", info->kernel);
	fprintf(out, "), %" PRIu64 " %s, %" PRIu64 " events\n", info->lines,
		info->format == VT_FMT_NATIVE ? "records" : "lines", reps[0].stats->events);
	fprintf(out, "machine: %" PRIu64 " MiB, %s, %u node%s, %u CPU%s (%s)\n",
		reps[0].machine.memory_bytes >> 20, reps[0].machine.layout, reps[0].machine.nodes,
		reps[0].machine.nodes == 1 ? "" : "s", reps[0].machine.cpus,
		reps[0].machine.cpus == 1 ? "" : "s", reps[0].machine.cpus_from);
	if (reps[0].interrupted)
		fprintf(out, "interrupted: the reports cover the events replayed so far\n");
	if (reps[0].stopped)
		fprintf(out, "stopped: %s\n", reps[0].stopped);
	fprintf(out, "\n");
	ROW("kernel", "%s", r->machine.kernel ? r->machine.kernel : "?");
	ROW("lazy_max pages", "%" PRIu64, r->machine.lazy_max_pages);
	ROW("replay time (s)", "%.3f", r->elapsed_s);
	ROW("events/s", "%.0f", r->elapsed_s > 0 ? (double)s->events / r->elapsed_s : 0);
	ROW("start state", "%s", r->start ? "built" : "none");
	ROW("  pooled / lazy / free", "%" PRIu64 " / %" PRIu64 " / %" PRIu64,
	    r->start ? r->start->pooled : 0, r->start ? r->start->lazy : 0,
	    r->start ? r->start->holes : 0);
	ROW("  misplaced", "%" PRIu64, s->start_misplaced);
	ROW("failures", "%" PRIu64, s->failures);
	ROW("unmatched frees", "%" PRIu64, s->unmatched_frees);
	ROW("purges", "%" PRIu64, m->nr_purges);
	ROW("TLB flushes", "%" PRIu64, m->nr_tlb_flushes);
	ROW("lazy pages at the end", "%" PRIu64, m->lazy_pages);
	ROW("page-table pages", "%" PRIu64, m->pagetable_pages);
	ROW("vmalloc peak (kB)", "%" PRIu64, s->peak_pages * 4);
	ROW("vmalloc final (kB)", "%" PRIu64, s->live_pages * 4);
	ROW("mapped by vmalloc (kB)", "%" PRIu64, m->vmalloc_pages * 4);
	ROW("free pages", "%" PRIu64, m->free_pages);
	ROW("largest free hole (kB)", "%" PRIu64, m->largest_free_kva >> 10);
	ROW("KVA extent (kB)", "%" PRIu64, m->kva_extent >> 10);
	ROW("placement agree", "%" PRIu64 "/%" PRIu64, s->placement_agree, s->placement_pairs);
	ROW("placement agree (%)", "%.1f", pct(s->placement_agree, s->placement_pairs));
	for (unsigned i = 0; i < n; i++) {
		fprintf(out, "\n%s buddyinfo:\n", reps[i].machine.kernel ? reps[i].machine.kernel : "?");
		text_zones(out, reps[i].final, 0);
	}
	return ferror(out) ? -EIO : 0;
}
