/* http.c -- the HTTP window: libevent's evhttp on a socket systemd passes
 * (named "http", vmallocd-http.socket) or on the address of `http =`, off
 * unless one of them is there.
 *
 *   /metrics   the Prometheus text format 0.0.4 (metrics.c)
 *   /          one self-contained page (page.html: no external scripts,
 *              fonts or styles) drawing the maps and buddyinfo from
 *   /map.json  the maps (memmap.c) and the zones' free lists, aggregate
 *              only: no area contents, owners or callers
 *
 * The window must not slow the socket service.  It runs in the one event
 * loop, one request at a time between the protocol's passes, and its costs
 * are bounded: /map.json is built at most every MAP_EVERY_MS however many
 * pages are open (a snapshot costs at most PAGE_CELLS cells), a request is
 * GET or HEAD with at most 8 KiB of headers and no body, at most
 * HTTP_MAX_CONNS connections are served (more get 503 and are closed), and
 * a connection that stalls (sends nothing, or reads nothing of its reply,
 * for stall-timeout) is dropped, as a stalled socket client is.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmallocd.h"

#define HTTP_MAX_CONNS 32
#define MAP_EVERY_MS   500
#define PAGE_CELLS     (64u * 1024)    /* 128 rows of 512 cells */
#define PAGE_BINS      1024u

extern const char http_page[];         /* page.html, embedded by meson */

struct http_window {
	struct evhttp *h;
	struct http_sources src;
	struct evhttp_connection *conns[HTTP_MAX_CONNS];
	unsigned nr_conns;
	struct evbuffer *map_json;      /* the last /map.json */
	uint64_t map_usec;              /* when it was built, 0: never */
	uint64_t kva_span;              /* the widest used part of the range seen */
};

/* ---- connections ------------------------------------------------------------------------ */

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct http_window *w = arg;

	for (unsigned i = 0; i < w->nr_conns; i++)
		if (w->conns[i] == evcon) {
			w->conns[i] = w->conns[--w->nr_conns];
			return;
		}
}

/* Count the request's connection: false when there are too many. */
static bool conn_admit(struct http_window *w, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	for (unsigned i = 0; i < w->nr_conns; i++)
		if (w->conns[i] == evcon)
			return true;
	if (w->nr_conns == HTTP_MAX_CONNS)
		return false;
	w->conns[w->nr_conns++] = evcon;
	evhttp_connection_set_closecb(evcon, conn_closed, w);
	return true;
}

/* ---- /map.json ------------------------------------------------------------------------------ */

static int area_end(void *ctx, const struct vm_area_info *a)
{
	uint64_t *end = ctx;

	if (a->addr + a->size > *end)
		*end = a->addr + a->size;
	return 0;
}

struct zone_list {
	struct evbuffer *b;
	unsigned n;
};

static int zone_json(void *ctx, const struct vm_zone_info *z)
{
	struct zone_list *zl = ctx;
	struct evbuffer *b = zl->b;

	evbuffer_add_printf(b, "%s{\"node\":%d,\"zone\":\"%s\",\"start_pfn\":%" PRIu64 ",\"end_pfn\":%"
			    PRIu64 ",\"managed\":%" PRIu64 ",\"free\":%" PRIu64 ",\"nr_free\":[",
			    zl->n++ ? "," : "",
			    z->node, z->name, z->start_pfn, z->end_pfn, z->managed, z->free);
	for (unsigned o = 0; o < VM_NR_ORDERS; o++)
		evbuffer_add_printf(b, "%s%" PRIu64, o ? "," : "", z->nr_free[o]);
	evbuffer_add(b, "]}", 2);
	return 0;
}

/* The vmalloc strip covers the used part of the range: from its start to
 * the highest end seen so far, a power of two of MiB, only ever widening. */
static void kva_window(struct http_window *w, const struct vm_stats *s, uint64_t *ret_end)
{
	uint64_t end = 0, span = 1ull << 20, full = s->vmalloc_end - s->vmalloc_start;

	vm_for_each_area(w->src.engine, area_end, &end);
	if (end > s->vmalloc_start && end - s->vmalloc_start > w->kva_span)
		w->kva_span = end - s->vmalloc_start;
	while (span < w->kva_span && span < full)
		span <<= 1;
	*ret_end = s->vmalloc_start + (span < full ? span : full);
}

static void class_string(struct evbuffer *b, const uint8_t *v, uint64_t n)
{
	char chunk[4096];
	size_t k = 0;

	/* One letter a cell: 'a' + class. */
	for (uint64_t i = 0; i < n; i++) {
		chunk[k++] = (char)('a' + (v[i] < 26 ? v[i] : 25));
		if (k == sizeof(chunk)) {
			evbuffer_add(b, chunk, k);
			k = 0;
		}
	}
	evbuffer_add(b, chunk, k);
}

static int build_map_json(struct http_window *w, struct evbuffer *b)
{
	struct vm_stats s;
	struct memmap m;
	struct memmap_req rq = { .max_cells = PAGE_CELLS, .kva_bins = PAGE_BINS };
	struct zone_list zl = { b, 0 };
	int r;

	vm_get_stats(w->src.engine, &s);
	rq.kva_start = s.vmalloc_start;
	kva_window(w, &s, &rq.kva_end);
	r = memmap_take(w->src.engine, &rq, &m);
	if (r < 0)
		return r;
	evbuffer_add_printf(b, "{\"kernel\":\"%s\",\"layout\":\"%s\",\"nodes\":%u,\"uptime_ms\":%" PRIu64
			    ",\"total_pages\":%" PRIu64 ",\"free_pages\":%" PRIu64 ",\"vmalloc_pages\":%" PRIu64
			    ",\"pagetable_pages\":%" PRIu64 ",\"alloc_pages_pages\":%" PRIu64
			    ",\"areas\":%" PRIu64 ",\"lazy_pages\":%" PRIu64 ",\"pooled_pages\":%" PRIu64
			    ",\"clients\":%u,\"requests\":%" PRIu64 ",",
			    vm_kernel_name(s.kernel), vm_layout_name(s.layout), s.nr_nodes,
			    (now_usec() - w->src.dp->start_usec) / 1000, s.total_pages, s.free_pages,
			    s.vmalloc_pages, s.pagetable_pages, s.alloc_pages_pages, s.nr_areas,
			    s.lazy_pages, s.pooled_pages, w->src.cs->nr, w->src.dp->nr_requests);
	evbuffer_add_printf(b, "\"start_pfn\":%" PRIu64 ",\"end_pfn\":%" PRIu64 ",\"frames_per_cell\":%"
			    PRIu64 ",\"cells\":\"", m.start_pfn, m.end_pfn, m.fpc);
	class_string(b, m.fclass, m.ncells);
	evbuffer_add_printf(b, "\",\"kva_start\":\"0x%" PRIx64 "\",\"kva_end\":\"0x%" PRIx64
			    "\",\"kva_bytes\":%" PRIu64 ",\"bins\":\"", m.kva_start, m.kva_end,
			    m.kva_end - m.kva_start);
	class_string(b, m.kclass, m.nbins);
	evbuffer_add(b, "\",\"zones\":[", 11);
	vm_for_each_zone(w->src.engine, zone_json, &zl);
	evbuffer_add(b, "]}\n", 3);
	memmap_free(&m);
	return 0;
}

/* ---- requests ------------------------------------------------------------------------------- */

static void reply(struct evhttp_request *req, int code, const char *reason, const char *type,
		  struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Content-Security-Policy",
			  "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'");
	evhttp_send_reply(req, code, reason, body);
}

static void serve(struct evhttp_request *req, void *arg)
{
	struct http_window *w = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *body = evbuffer_new();
	uint64_t now = now_usec();

	if (!body) {
		evhttp_send_error(req, HTTP_SERVUNAVAIL, NULL);
		return;
	}
	if (!conn_admit(w, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		evbuffer_add_printf(body, "too many HTTP connections\n");
		reply(req, HTTP_SERVUNAVAIL, "Service Unavailable", "text/plain; charset=utf-8", body);
	} else if (strcmp(uri, "/metrics") == 0) {
		if (metrics_render(body, &w->src) < 0)
			evhttp_send_error(req, HTTP_INTERNAL, NULL);
		else
			reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
	} else if (strcmp(uri, "/map.json") == 0) {
		if (!w->map_usec || now - w->map_usec >= MAP_EVERY_MS * 1000ull) {
			struct evbuffer *fresh = evbuffer_new();

			if (fresh && build_map_json(w, fresh) == 0) {
				if (w->map_json)
					evbuffer_free(w->map_json);
				w->map_json = fresh;
				w->map_usec = now;
			} else if (fresh) {
				evbuffer_free(fresh);
			}
		}
		if (w->map_json) {
			size_t n = evbuffer_get_length(w->map_json);

			evbuffer_add(body, evbuffer_pullup(w->map_json, (ev_ssize_t)n), n);
			reply(req, HTTP_OK, "OK", "application/json", body);
		} else {
			evhttp_send_error(req, HTTP_INTERNAL, NULL);
		}
	} else if (strcmp(uri, "/") == 0) {
		evbuffer_add_reference(body, http_page, strlen(http_page), NULL, NULL);
		reply(req, HTTP_OK, "OK", "text/html; charset=utf-8", body);
	} else {
		evbuffer_add_printf(body, "not found: / (the page), /metrics, /map.json\n");
		reply(req, HTTP_NOTFOUND, "Not Found", "text/plain; charset=utf-8", body);
	}
	evbuffer_free(body);
}

/* ---- set-up --------------------------------------------------------------------------------- */

int http_bind(const char *addr_port, int *ret_fd)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss), fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(addr_port, (struct sockaddr *)&ss, &len) < 0 ||
	    (ss.ss_family == AF_INET && ((struct sockaddr_in *)&ss)->sin_port == 0) ||
	    (ss.ss_family == AF_INET6 && ((struct sockaddr_in6 *)&ss)->sin6_port == 0)) {
		vmd_log(VM_LOG_ERR, "http: '%s' is not ADDRESS:PORT (e.g. 127.0.0.1:9848, [::1]:9848)",
			addr_port);
		return -EINVAL;
	}
	if ((ss.ss_family == AF_INET &&
	     (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) != 127) ||
	    (ss.ss_family == AF_INET6 &&
	     !IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr)))
		vmd_log(VM_LOG_WARNING, "http: %s is not a loopback address: the window is open to "
			"the network", addr_port);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)len) < 0 || listen(fd, 64) < 0) {
		int e = errno;

		vmd_log(VM_LOG_ERR, "http: cannot listen on %s: %s", addr_port, strerror(e));
		close(fd);
		return -e;
	}
	*ret_fd = fd;
	return 0;
}

int http_open(struct event_base *base, int fd, const struct http_sources *src,
	      struct http_window **ret)
{
	struct http_window *w = calloc(1, sizeof(*w));
	struct timeval tv;

	if (!w || !(w->h = evhttp_new(base))) {
		free(w);
		close(fd);
		return -ENOMEM;
	}
	w->src = *src;
	tv.tv_sec = src->opt->stall_timeout_ms / 1000;
	tv.tv_usec = (src->opt->stall_timeout_ms % 1000) * 1000;
	evhttp_set_timeout_tv(w->h, &tv);
	evhttp_set_max_headers_size(w->h, 8192);
	evhttp_set_max_body_size(w->h, 0);
	evhttp_set_allowed_methods(w->h, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(w->h, serve, w);
	if (!evhttp_accept_socket_with_handle(w->h, fd)) {
		evhttp_free(w->h);
		free(w);
		close(fd);
		return -ENOMEM;
	}
	src->dp->st.timing = true;
	*ret = w;
	return 0;
}

struct http_window *http_close(struct http_window *w)
{
	if (w) {
		evhttp_free(w->h);
		if (w->map_json)
			evbuffer_free(w->map_json);
		free(w);
	}
	return NULL;
}
