/* metrics.c -- the daemon's state in the Prometheus text exposition format
 * 0.0.4, for the HTTP window's /metrics.
 *
 * Names follow Prometheus practice: the vmallocd_ prefix, base units
 * (bytes, seconds), _total for counters, one HELP and TYPE per family.
 * Quotas appear per uid only for the uids the configuration names
 * (quota-uid), never for every client that ever connected.  Label values
 * are numbers and fixed names (zones, operations, errno names): nothing a
 * client wrote ends up here.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmallocd.h"

#define PAGE ((uint64_t)4096)

static void family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void value(struct evbuffer *b, const char *name, uint64_t v)
{
	evbuffer_add_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void gauge(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "gauge", help);
	value(b, name, v);
}

static void counter(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "counter", help);
	value(b, name, v);
}

struct zone_walk {
	struct evbuffer *b;
	int pass;
};

static int zone_line(void *ctx, const struct vm_zone_info *z)
{
	struct zone_walk *w = ctx;

	if (w->pass == 0) {
		for (unsigned o = 0; o < VM_NR_ORDERS; o++)
			evbuffer_add_printf(w->b, "vmallocd_free_blocks{node=\"%d\",zone=\"%s\",order=\"%u\"} %"
					    PRIu64 "\n", z->node, z->name, o, z->nr_free[o]);
	} else {
		evbuffer_add_printf(w->b, "vmallocd_zone_memory_bytes{node=\"%d\",zone=\"%s\",state=\"managed\"} %"
				    PRIu64 "\n", z->node, z->name, z->managed * PAGE);
		evbuffer_add_printf(w->b, "vmallocd_zone_memory_bytes{node=\"%d\",zone=\"%s\",state=\"free\"} %"
				    PRIu64 "\n", z->node, z->name, z->free * PAGE);
		evbuffer_add_printf(w->b, "vmallocd_zone_memory_bytes{node=\"%d\",zone=\"%s\",state=\"used\"} %"
				    PRIu64 "\n", z->node, z->name, (z->managed - z->free) * PAGE);
	}
	return 0;
}

static const char *status_name(unsigned e, char *buf, size_t len)
{
	const char *n;

	if (e == 0)
		return "ok";
	if (e == DISPATCH_NR_STATUS - 1)
		return "other";
	n = strerrorname_np((int)e);
	if (n)
		return n;
	snprintf(buf, len, "E%u", e);
	return buf;
}

int metrics_render(struct evbuffer *b, const struct http_sources *src)
{
	const struct dispatch *dp = src->dp;
	const struct dispatch_stats *st = &dp->st;
	struct zone_walk zw = { b, 0 };
	struct vm_stats s;
	uint64_t cum = 0, count = 0;
	char buf[32];

	vm_get_stats(src->engine, &s);
	family(b, "vmallocd_free_blocks", "gauge",
	       "Free buddy blocks per node, zone and order, as /proc/buddyinfo counts them.");
	vm_for_each_zone(src->engine, zone_line, &zw);
	family(b, "vmallocd_zone_memory_bytes", "gauge",
	       "Memory of each zone by state: managed, free, used.");
	zw.pass = 1;
	vm_for_each_zone(src->engine, zone_line, &zw);

	family(b, "vmallocd_memory_bytes", "gauge",
	       "Simulated physical memory by holder (the states sum to the total).");
	evbuffer_add_printf(b, "vmallocd_memory_bytes{state=\"free\"} %" PRIu64 "\n", s.free_pages * PAGE);
	evbuffer_add_printf(b, "vmallocd_memory_bytes{state=\"vmalloc\"} %" PRIu64 "\n",
			    s.vmalloc_pages * PAGE);
	evbuffer_add_printf(b, "vmallocd_memory_bytes{state=\"page_tables\"} %" PRIu64 "\n",
			    s.pagetable_pages * PAGE);
	evbuffer_add_printf(b, "vmallocd_memory_bytes{state=\"alloc_pages\"} %" PRIu64 "\n",
			    s.alloc_pages_pages * PAGE);
	gauge(b, "vmallocd_memory_total_bytes", "Simulated physical memory.", s.total_pages * PAGE);
	gauge(b, "vmallocd_vmalloc_used_bytes", "Frames mapped by vmalloc areas.", s.vmalloc_pages * PAGE);
	gauge(b, "vmallocd_vmap_mapped_bytes", "alloc_pages frames mapped by vmap areas.",
	      s.vmap_pages * PAGE);
	gauge(b, "vmallocd_vmalloc_total_bytes", "Size of the vmalloc range.",
	      s.vmalloc_end - s.vmalloc_start);
	gauge(b, "vmallocd_vmalloc_largest_free_bytes", "Largest free KVA range (VmallocChunk).",
	      s.largest_free_kva);
	gauge(b, "vmallocd_vmalloc_areas", "Live vmalloc and vmap areas.", s.nr_areas);
	gauge(b, "vmallocd_lazy_bytes", "KVA freed lazily, waiting for a purge (vmap_lazy_nr).",
	      s.lazy_pages * PAGE);
	gauge(b, "vmallocd_lazy_areas", "Lazily freed ranges waiting for a purge.", s.nr_lazy_areas);
	gauge(b, "vmallocd_lazy_max_bytes", "Lazily freed KVA that triggers a purge (lazy_max_pages).",
	      s.lazy_max_pages * PAGE);
	gauge(b, "vmallocd_pooled_bytes", "Purged KVA held in the vmap node pools (6.18).",
	      s.pooled_pages * PAGE);
	counter(b, "vmallocd_purges_total", "Purges of the lazily freed ranges.", s.nr_purges);
	counter(b, "vmallocd_tlb_flushes_total", "Simulated TLB flushes.", s.nr_tlb_flushes);
	counter(b, "vmallocd_alloc_failures_total", "Allocations the engine failed.", s.nr_alloc_failures);

	family(b, "vmallocd_requests_total", "counter",
	       "Requests by operation and status (ok, or the errno name of the reply).");
	for (unsigned op = 0; op < DISPATCH_NR_OPS; op++) {
		const char *name = dispatch_op_name(op);

		for (unsigned e = 0; name && e < DISPATCH_NR_STATUS; e++)
			if (st->by_op[op][e])
				evbuffer_add_printf(b, "vmallocd_requests_total{op=\"%s\",status=\"%s\"} %" PRIu64
						    "\n", name, status_name(e, buf, sizeof(buf)),
						    st->by_op[op][e]);
	}
	family(b, "vmallocd_request_duration_seconds", "histogram",
	       "Time to serve a request, from its frame to its reply queued.");
	for (unsigned i = 0; i <= DISPATCH_LAT_BUCKETS; i++) {
		cum += st->lat[i];
		if (i < DISPATCH_LAT_BUCKETS)
			evbuffer_add_printf(b, "vmallocd_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64
					    "\n", dispatch_lat_bounds[i], cum);
	}
	count = cum;
	evbuffer_add_printf(b, "vmallocd_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", count);
	evbuffer_add_printf(b, "vmallocd_request_duration_seconds_sum %.9f\n", (double)st->lat_sum_ns / 1e9);
	evbuffer_add_printf(b, "vmallocd_request_duration_seconds_count %" PRIu64 "\n", count);

	gauge(b, "vmallocd_clients", "Client connections open.", src->cs->nr);
	counter(b, "vmallocd_connections_total", "Client connections accepted.", src->cs->nr_total);
	counter(b, "vmallocd_errors_total", "Requests answered with an error.", dp->nr_errors);
	family(b, "vmallocd_uptime_seconds", "gauge", "Seconds since the daemon started.");
	evbuffer_add_printf(b, "vmallocd_uptime_seconds %.3f\n", (double)(now_usec() - dp->start_usec) / 1e6);

	if (dp->journal) {
		struct state_stats ss;

		state_stats(dp->journal, &ss);
		gauge(b, "vmallocd_state_generation", "Generation of the current checkpoint of the kept state.",
		      ss.generation);
		counter(b, "vmallocd_state_checkpoints_total", "Checkpoints written since the start.",
			ss.checkpoints);
		family(b, "vmallocd_state_checkpoint_seconds", "gauge", "Time the last checkpoint took.");
		evbuffer_add_printf(b, "vmallocd_state_checkpoint_seconds %.6f\n",
				    (double)ss.last_checkpoint_us / 1e6);
		gauge(b, "vmallocd_state_checkpoint_bytes", "Size of the last checkpoint.",
		      ss.last_checkpoint_bytes);
		counter(b, "vmallocd_state_journal_records_total",
			"Journal records appended since the start.", ss.records);
		gauge(b, "vmallocd_state_journal_bytes", "Journal bytes since the current checkpoint.",
		      ss.journal_bytes);
		gauge(b, "vmallocd_state_journal_capacity_bytes", "The journal's capacity.",
		      ss.journal_size);
	}

	family(b, "vmallocd_quota_used_bytes", "gauge", "Memory charged to each uid with a configured quota.");
	for (unsigned i = 0; i < src->opt->nr_quotas; i++)
		evbuffer_add_printf(b, "vmallocd_quota_used_bytes{uid=\"%u\"} %" PRIu64 "\n",
				    src->opt->quotas[i].uid,
				    account_pages(&dp->acct, src->opt->quotas[i].uid) * PAGE);
	family(b, "vmallocd_quota_limit_bytes", "gauge", "The quota of each uid with a configured quota.");
	for (unsigned i = 0; i < src->opt->nr_quotas; i++)
		evbuffer_add_printf(b, "vmallocd_quota_limit_bytes{uid=\"%u\"} %" PRIu64 "\n",
				    src->opt->quotas[i].uid, src->opt->quotas[i].pages * PAGE);
	return evbuffer_get_length(b) ? 0 : -ENOMEM;
}
