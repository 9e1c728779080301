/* mkcorpus.c -- writes the seed corpus of the two fuzz targets:
 *
 *   mkcorpus DIR     DIR/frame/NAME and DIR/dispatch/NAME
 *
 * Dispatch seeds are scripts in fuzz_dispatch's record format, played here
 * against the same daemon code the target runs, so the addresses and pfns
 * in later requests are the ones earlier replies really gave.  Frame seeds
 * are the same requests, framed, plus damaged and hostile frames.  The
 * files are committed under fuzz/corpus/; run this again only to change
 * the seeds (meson builds it as fuzz-mkcorpus).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gfp.h"
#include "rig.h"
#include "vmalloc.pb-c.h"

typedef Vmallocd__V1__Request Request;
typedef Vmallocd__V1__Reply Reply;

struct gen {
	struct rig rig;
	uint8_t rec[1 << 20];     /* the dispatch seed being written */
	size_t rlen;
	uint8_t frames[1 << 20];  /* the same requests as a frame seed */
	size_t flen;
	char name[64];
	const char *dir;
};

static void start(struct gen *g, const char *name, uint8_t machine)
{
	if (rig_start(&g->rig, machine) < 0)
		exit(1);
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->rec[0] = machine;
	g->rlen = 1;
	g->frames[0] = 3;         /* frame limit: VMD_MAX_FRAME */
	g->flen = 1;
}

static void write_file(const char *dir, const char *sub, const char *name, const uint8_t *p,
		       size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void finish(struct gen *g)
{
	rig_stop(&g->rig);
	write_file(g->dir, "dispatch", g->name, g->rec, g->rlen);
	write_file(g->dir, "frame", g->name, g->frames, g->flen);
}

/* Send raw payload bytes on slot (bit 7: close and reopen it first); the
 * reply, unpacked (free it), or NULL if it does not parse. */
static Reply *raw(struct gen *g, int sel, const uint8_t *p, size_t n)
{
	struct iobuf *out = &g->rig.out;
	size_t have;
	Reply *rep;

	if (g->rlen + 3 + n > sizeof(g->rec) || g->flen + 4 + n > sizeof(g->frames))
		exit(1);
	g->rec[g->rlen++] = (uint8_t)sel;
	g->rec[g->rlen++] = (uint8_t)n;
	g->rec[g->rlen++] = (uint8_t)(n >> 8);
	memcpy(g->rec + g->rlen, p, n);
	g->rlen += n;
	vmd_put_n32(g->frames + g->flen, (uint32_t)n);
	memcpy(g->frames + g->flen + 4, p, n);
	g->flen += 4 + n;
	if (sel & 0x80)
		rig_reopen(&g->rig, sel & 3);
	rig_dispatch(&g->rig, sel & 3, p, n);
	have = out->len;
	rep = have >= 4 ? vmallocd__v1__reply__unpack(NULL, have - 4, out->data + out->head + 4) :
			  NULL;
	iobuf_consume(out, have);
	return rep;
}

static Reply *req(struct gen *g, int sel, Request *q)
{
	static uint64_t id;
	uint8_t buf[70000];
	size_t n;

	q->id = ++id;
	n = vmallocd__v1__request__get_packed_size(q);
	if (n > sizeof(buf))
		exit(1);
	vmallocd__v1__request__pack(q, buf);
	return raw(g, sel, buf, n);
}

static void drop(Reply *r)
{
	if (r)
		vmallocd__v1__reply__free_unpacked(r, NULL);
}

/* ---- request builders ------------------------------------------------------- */

static uint64_t alloc_full(struct gen *g, int sel, int kind, uint64_t size, bool scoped,
			   uint64_t align, uint32_t gfp, uint32_t vm_flags, int node, const char *caller)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__AllocRequest a = VMALLOCD__V1__ALLOC_REQUEST__INIT;
	Reply *r;
	uint64_t addr = 0;

	q.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC;
	q.alloc = &a;
	a.kind = (Vmallocd__V1__AllocKind)kind;
	a.size = size;
	a.scoped = scoped;
	a.align = align;
	a.gfp = gfp;
	a.vm_flags = vm_flags;
	a.node = node;
	if (caller)
		a.caller = (char *)caller;
	r = req(g, sel, &q);
	if (r && r->status == 0 && r->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC)
		addr = r->alloc->addr;
	drop(r);
	return addr;
}

static uint64_t alloc(struct gen *g, int sel, uint64_t size, bool scoped)
{
	return alloc_full(g, sel, 0, size, scoped, 0, 0, 0, -1, NULL);
}

#define SIMPLE(fn, OPC, field, Type, INIT, setter)                          \
	static void fn(struct gen *g, int sel, uint64_t v)                  \
	{                                                                   \
		Request q = VMALLOCD__V1__REQUEST__INIT;                    \
		Type m = INIT;                                              \
		q.op_case = VMALLOCD__V1__REQUEST__##OPC;                   \
		q.field = &m;                                               \
		setter;                                                     \
		drop(req(g, sel, &q));                                      \
	}

SIMPLE(vfree, OP_FREE, free, Vmallocd__V1__FreeRequest, VMALLOCD__V1__FREE_REQUEST__INIT, m.addr = v)
SIMPLE(vunmap, OP_VUNMAP, vunmap, Vmallocd__V1__VunmapRequest, VMALLOCD__V1__VUNMAP_REQUEST__INIT,
       m.addr = v)
SIMPLE(translate, OP_TRANSLATE, translate, Vmallocd__V1__TranslateRequest,
       VMALLOCD__V1__TRANSLATE_REQUEST__INIT, m.addr = v)
SIMPLE(area_info, OP_AREA_INFO, area_info, Vmallocd__V1__AreaInfoRequest,
       VMALLOCD__V1__AREA_INFO_REQUEST__INIT, m.addr = v)
SIMPLE(query, OP_QUERY, query, Vmallocd__V1__QueryRequest, VMALLOCD__V1__QUERY_REQUEST__INIT,
       m.kind = (Vmallocd__V1__QueryKind)v)
SIMPLE(check, OP_CHECK, check, Vmallocd__V1__CheckRequest, VMALLOCD__V1__CHECK_REQUEST__INIT,
       (void)v)
SIMPLE(purge, OP_PURGE, purge, Vmallocd__V1__PurgeRequest, VMALLOCD__V1__PURGE_REQUEST__INIT,
       (void)v)

static void hello(struct gen *g, int sel)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__HelloRequest h = VMALLOCD__V1__HELLO_REQUEST__INIT;

	q.op_case = VMALLOCD__V1__REQUEST__OP_HELLO;
	q.hello = &h;
	h.version = 1;
	h.client = (char *)"mkcorpus";
	drop(req(g, sel, &q));
}

static void write_(struct gen *g, int sel, uint64_t addr, const void *p, size_t n)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__WriteRequest w = VMALLOCD__V1__WRITE_REQUEST__INIT;

	q.op_case = VMALLOCD__V1__REQUEST__OP_WRITE;
	q.write = &w;
	w.addr = addr;
	w.data.data = (uint8_t *)p;
	w.data.len = n;
	drop(req(g, sel, &q));
}

static void read_(struct gen *g, int sel, uint64_t addr, uint64_t n)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__ReadRequest r = VMALLOCD__V1__READ_REQUEST__INIT;

	q.op_case = VMALLOCD__V1__REQUEST__OP_READ;
	q.read = &r;
	r.addr = addr;
	r.len = n;
	drop(req(g, sel, &q));
}

static uint64_t vrealloc(struct gen *g, int sel, uint64_t addr, uint64_t size, uint32_t gfp)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__ReallocRequest m = VMALLOCD__V1__REALLOC_REQUEST__INIT;
	Reply *r;
	uint64_t out = 0;

	q.op_case = VMALLOCD__V1__REQUEST__OP_REALLOC;
	q.realloc = &m;
	m.addr = addr;
	m.size = size;
	m.gfp = gfp;
	r = req(g, sel, &q);
	if (r && r->status == 0 && r->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC)
		out = r->alloc->addr;
	drop(r);
	return out;
}

static uint64_t alloc_pages(struct gen *g, int sel, uint32_t gfp, uint32_t order, bool scoped)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__AllocPagesRequest m = VMALLOCD__V1__ALLOC_PAGES_REQUEST__INIT;
	Reply *r;
	uint64_t pfn = 0;

	q.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC_PAGES;
	q.alloc_pages = &m;
	m.gfp = gfp;
	m.order = order;
	m.node = -1;
	m.scoped = scoped;
	r = req(g, sel, &q);
	if (r && r->status == 0 && r->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC_PAGES)
		pfn = r->alloc_pages->pfn;
	drop(r);
	return pfn;
}

static void free_pages(struct gen *g, int sel, uint64_t pfn, uint32_t order)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__FreePagesRequest m = VMALLOCD__V1__FREE_PAGES_REQUEST__INIT;

	q.op_case = VMALLOCD__V1__REQUEST__OP_FREE_PAGES;
	q.free_pages = &m;
	m.pfn = pfn;
	m.order = order;
	drop(req(g, sel, &q));
}

static void phys_write(struct gen *g, int sel, uint64_t pfn, uint64_t off, const char *s)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__PhysWriteRequest m = VMALLOCD__V1__PHYS_WRITE_REQUEST__INIT;

	q.op_case = VMALLOCD__V1__REQUEST__OP_PHYS_WRITE;
	q.phys_write = &m;
	m.pfn = pfn;
	m.offset = off;
	m.data.data = (uint8_t *)s;
	m.data.len = strlen(s);
	drop(req(g, sel, &q));
}

static void phys_read(struct gen *g, int sel, uint64_t pfn, uint64_t off, uint64_t len)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__PhysReadRequest m = VMALLOCD__V1__PHYS_READ_REQUEST__INIT;

	q.op_case = VMALLOCD__V1__REQUEST__OP_PHYS_READ;
	q.phys_read = &m;
	m.pfn = pfn;
	m.offset = off;
	m.len = len;
	drop(req(g, sel, &q));
}

static uint64_t vmap(struct gen *g, int sel, uint64_t *pfns, size_t n, uint32_t flags, bool scoped)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__VmapRequest m = VMALLOCD__V1__VMAP_REQUEST__INIT;
	Reply *r;
	uint64_t addr = 0;

	q.op_case = VMALLOCD__V1__REQUEST__OP_VMAP;
	q.vmap = &m;
	m.pfns = pfns;
	m.n_pfns = n;
	m.flags = flags;
	m.scoped = scoped;
	r = req(g, sel, &q);
	if (r && r->status == 0 && r->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC)
		addr = r->alloc->addr;
	drop(r);
	return addr;
}

/* ---- the seeds --------------------------------------------------------------- */

static void seeds(struct gen *g)
{
	uint64_t a, b, c, pfn, pfns[8];

	start(g, "alloc-write-read-free", 0x00);
	hello(g, 1);
	a = alloc(g, 1, 10000, false);
	write_(g, 1, a + 100, "pattern-pattern", 15);
	read_(g, 1, a + 100, 15);
	read_(g, 2, a, 4096);
	vfree(g, 1, a);
	finish(g);

	start(g, "family", 0x02);
	for (int k = 0; k <= 8; k++)
		a = alloc_full(g, 0, k, 8192, false, k == 8 ? 1u << 16 : 0, k >= 7 ? GFP_KERNEL : 0,
			       k == 8 ? VM_USERMAP : 0, k == 2 || k == 3 ? 1 : -1, "init_module+0x1c/0x80");
	query(g, 0, 0);
	finish(g);

	start(g, "realloc", 0x00);
	a = alloc(g, 1, 4096, false);
	write_(g, 1, a, "abc", 3);
	b = vrealloc(g, 1, a, 3 * 4096 + 1, __GFP_ZERO);
	read_(g, 1, b, 3 * 4096 + 1);
	c = vrealloc(g, 1, b, 100, 0);
	b = vrealloc(g, 1, 0, 5000, 0);
	vrealloc(g, 1, b, 0, 0);
	vrealloc(g, 3, c, 9000, 0);
	vfree(g, 1, c);
	finish(g);

	start(g, "pages-vmap", 0x00);
	pfn = alloc_pages(g, 1, GFP_KERNEL, 2, false);
	phys_write(g, 1, pfn, 4090, "vmap-data");
	phys_read(g, 1, pfn, 4090, 9);
	for (int i = 0; i < 4; i++)
		pfns[i] = pfn + (uint64_t)(3 - i);
	a = vmap(g, 1, pfns, 4, 0, false);
	read_(g, 1, a + 3 * 4096 + 4090, 6);
	translate(g, 1, a + 4096);
	area_info(g, 1, a);
	free_pages(g, 1, pfn, 2);
	vunmap(g, 3, a);
	vunmap(g, 1, a);
	free_pages(g, 1, pfn, 1);
	free_pages(g, 1, pfn, 2);
	finish(g);

	start(g, "vmap-other-uid", 0x00);
	pfn = alloc_pages(g, 1, GFP_KERNEL, 0, false);
	pfns[0] = pfn;
	vmap(g, 3, pfns, 1, 0, false);
	phys_read(g, 3, pfn, 0, 16);
	free_pages(g, 3, pfn, 0);
	free_pages(g, 0, pfn, 0);
	finish(g);

	start(g, "scoped-close", 0x00);
	a = alloc(g, 1, 3 * 4096, true);
	b = alloc(g, 1, 4096, false);
	pfn = alloc_pages(g, 1, GFP_KERNEL, 1, true);
	pfns[0] = pfn;
	pfns[1] = pfn + 1;
	c = vmap(g, 1, pfns, 2, VM_NO_GUARD, true);
	(void)c;
	area_info(g, 2, a);
	query(g, 0x81, 0);
	area_info(g, 2, a);
	vfree(g, 2, b);
	finish(g);

	start(g, "other-uid", 0x00);
	a = alloc(g, 1, 4096, false);
	vfree(g, 3, a);
	read_(g, 3, a, 8);
	write_(g, 3, a, "x", 1);
	translate(g, 3, a);
	area_info(g, 3, a);
	vrealloc(g, 3, a, 8192, 0);
	query(g, 3, 0);
	query(g, 3, 5);
	purge(g, 3, 0);
	vfree(g, 0, a);
	finish(g);

	start(g, "bad-addresses", 0x00);
	a = alloc(g, 1, 2 * 4096, false);
	vfree(g, 1, 0x1000);
	vfree(g, 1, a + 4096);
	vfree(g, 1, a + 1);
	read_(g, 1, a + 8000, 400);
	write_(g, 1, a + 2 * 4096, "g", 1);
	read_(g, 1, a, 1u << 21);
	translate(g, 1, a + 2 * 4096);
	translate(g, 1, 0x1000);
	area_info(g, 1, 0);
	vfree(g, 1, a);
	vfree(g, 1, a);
	read_(g, 1, a, 1);
	vunmap(g, 1, a);
	vfree(g, 1, 0);
	finish(g);

	start(g, "bad-sizes", 0x00);
	alloc(g, 1, 0, false);
	alloc(g, 1, UINT64_MAX, false);
	alloc(g, 1, UINT64_MAX - 4095, false);
	alloc(g, 1, UINT64_MAX - 8191, false);
	alloc(g, 1, 1ull << 40, false);
	alloc_full(g, 1, 8, 4096, false, 12345, 0, 0, -1, NULL);
	alloc_full(g, 1, 8, 4096, false, 1ull << 63, 0, 0, -1, NULL);
	alloc_full(g, 1, 2, 4096, false, 0, 0, 0, 7, NULL);
	alloc_full(g, 1, 7, 4096, false, 0, 0x80000000u, 0, -1, NULL);
	alloc_full(g, 1, 99, 4096, false, 0, 0, 0, -1, NULL);
	alloc_pages(g, 1, GFP_KERNEL, 11, false);
	query(g, 1, 77);
	finish(g);

	start(g, "exhaust", 0x00);
	for (int i = 0; i < 6; i++)
		alloc(g, 1, 4u << 20, false);
	alloc_pages(g, 1, GFP_ATOMIC, 10, false);
	query(g, 0, 1);
	query(g, 0, 4);
	purge(g, 0, 0);
	finish(g);

	start(g, "quota", 0x04);
	a = alloc(g, 1, 1u << 20, false);
	alloc(g, 2, 4096, false);
	vrealloc(g, 1, a, 2u << 20, 0);
	alloc_pages(g, 1, GFP_KERNEL, 1, false);
	query(g, 1, 4);
	finish(g);

	start(g, "queries-i386", 0x03);
	alloc_full(g, 0, 7, 65536, false, 0, GFP_KERNEL | __GFP_HIGHMEM, 0, -1, NULL);
	alloc_full(g, 0, 4, 4096, false, 0, 0, 0, -1, NULL);
	for (uint64_t k = 0; k <= 5; k++)
		query(g, 0, k);
	check(g, 0, 0);
	finish(g);

	start(g, "lazy-purge", 0x40);
	for (int i = 0; i < 20; i++) {
		a = alloc(g, 1, 4096, false);
		vfree(g, 1, a);
	}
	query(g, 0, 0);
	purge(g, 0, 0);
	finish(g);

	/* Hostile payloads, each on its own. */
	{
		static const struct {
			const char *name;
			uint8_t bytes[16];
			size_t n;
		} rawp[] = {
			{ "empty", { 0 }, 0 },
			{ "garbage", { 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x80 }, 8 },
			{ "truncated-alloc", { 0x08, 0x01, 0x1a, 0x08, 0x10, 0x80 }, 6 },
			{ "unknown-op", { 0x08, 0x07, 0x9a, 0x06, 0x00 }, 5 },
			{ "wrong-wiretype", { 0x08, 0x01, 0x18, 0x05 }, 4 },
			{ "reply-as-request", { 0x08, 0x02, 0x10, 0x2b, 0x1a, 0x01, 0x78, 0x2a, 0x02, 0x08, 0x01 }, 11 },
			{ "group", { 0x0b, 0x0c }, 2 },
			{ "long-varint", { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, 11 },
			{ "len-overflow", { 0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x08 }, 7 },
		};

		for (size_t i = 0; i < sizeof(rawp) / sizeof(rawp[0]); i++) {
			start(g, rawp[i].name, 0x00);
			drop(raw(g, 1, rawp[i].bytes, rawp[i].n));
			hello(g, 1);
			finish(g);
		}
	}

	/* An absurd repeated field: 20000 pfns, packed and unpacked. */
	{
		static uint8_t buf[65536];
		size_t n = 0, body;

		start(g, "vmap-many-packed", 0x00);
		buf[n++] = 0x08;
		buf[n++] = 0x01;
		buf[n++] = 0x32;              /* Request.vmap */
		body = n;
		n += 3;                       /* room for its length */
		buf[n++] = 0x0a;              /* VmapRequest.pfns, packed */
		buf[n++] = 0xa0;              /* 20000 bytes */
		buf[n++] = 0x9c;
		buf[n++] = 0x01;
		memset(buf + n, 0x05, 20000);
		n += 20000;
		{
			size_t len = n - body - 3;

			buf[body] = (uint8_t)(0x80 | (len & 0x7f));
			buf[body + 1] = (uint8_t)(0x80 | ((len >> 7) & 0x7f));
			buf[body + 2] = (uint8_t)(len >> 14);
		}
		drop(raw(g, 1, buf, n));
		finish(g);

		start(g, "vmap-many-unpacked", 0x00);
		n = 0;
		buf[n++] = 0x08;
		buf[n++] = 0x01;
		buf[n++] = 0x32;
		body = n;
		n += 3;
		for (int i = 0; i < 15000; i++) {
			buf[n++] = 0x08;      /* field 1, varint: unpacked */
			buf[n++] = 0x05;
		}
		{
			size_t len = n - body - 3;

			buf[body] = (uint8_t)(0x80 | (len & 0x7f));
			buf[body + 1] = (uint8_t)(0x80 | ((len >> 7) & 0x7f));
			buf[body + 2] = (uint8_t)(len >> 14);
		}
		drop(raw(g, 1, buf, n));
		finish(g);
	}
}

int main(int argc, char **argv)
{
	static struct gen g;
	char path[512];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	g.dir = argv[1];
	log_set_level(-1);
	snprintf(path, sizeof(path), "%s/frame", g.dir);
	mkdir(g.dir, 0755);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/dispatch", g.dir);
	mkdir(path, 0755);
	seeds(&g);
	/* Frame-only seeds: headers over the limit and a partial frame. */
	{
		static const uint8_t big[] = { 1, 0xff, 0xff, 0xff, 0xff };
		static const uint8_t over[] = { 0, 0, 0, 0, 65, 0x08, 0x01 };
		static const uint8_t partial[] = { 3, 0, 0, 0, 50, 0x08, 0x01 };

		write_file(g.dir, "frame", "len-max", big, sizeof(big));
		write_file(g.dir, "frame", "len-over-limit", over, sizeof(over));
		write_file(g.dir, "frame", "partial", partial, sizeof(partial));
	}
	return 0;
}
