/* test_input.c -- malformed and hostile requests, sent raw over the socket,
 * each class on its own: truncated protobufs, a valid message of the wrong
 * type, repeated fields with absurd counts (packed and unpacked), unknown
 * enum values, sizes 0, 2^64-1 and ones where size + guard overflows,
 * alignments that are not powers of two, bad KVA windows, addresses outside
 * the vmalloc range, inside an area but not at its start, already freed,
 * vmap of frames that are not the client's, reads and writes past an area's
 * end or across its guard page, a client that hangs up mid-frame, and all
 * of it pipelined in one write.
 *
 * (tests/test_malformed.c has the zero-length frame, lengths of 2^32-1 and
 * just over the limit, garbage and unknown operations; test_isolation.c has
 * addresses and frames owned by another uid.)
 *
 * Each request gets the exact error status it should, with a message, and
 * the connection stays usable where a reply could be framed.  A bystander
 * process uses the daemon the whole time and must see no failure, and the
 * invariant checker is clean after every test.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "gfp.h"
#include "harness.h"
#include "hostile.h"
#include "vmcore.h"
#include "tcase.h"

#define VSTART 0xffffc90000000000ull
#define VEND   0xffffe8ffffffffffull

static struct vmd_proc daemon_proc;
static struct bystander bys;
static int fd = -1;

static int suite_init(void)
{
	static const char *const args[] = { "--memory", "64M", "--stall-timeout", "2s", NULL };

	if (vmd_start(&daemon_proc, args, NULL) < 0)
		return -1;
	fd = raw_connect(daemon_proc.sock);
	if (fd < 0)
		return -1;
	return bystander_start(&bys, daemon_proc.sock);
}

static int suite_clean(void)
{
	if (fd >= 0)
		close(fd);
	return vmd_stop(&daemon_proc, 10000) == 0 ? 0 : -1;
}

/* After each test: the checker is clean and the main connection works. */
static void after(void)
{
	CU_ASSERT_TRUE(raw_check(fd));
}

/* ---- builders for the rarer requests -------------------------------------------- */

static void rq_range(Request *q, Vmallocd__V1__AllocRequest *m, uint64_t size, uint64_t align,
		     uint64_t start, uint64_t end, uint32_t vm_flags)
{
	rq_alloc(q, m, size);
	m->kind = VMALLOCD__V1__ALLOC_KIND__ALLOC_NODE_RANGE;
	m->align = align;
	m->start = start;
	m->end = end;
	m->vm_flags = vm_flags;
}

static int op_addr(int f, Vmallocd__V1__Request__OpCase op, uint64_t addr, int want)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__FreeRequest fr = VMALLOCD__V1__FREE_REQUEST__INIT;
	Vmallocd__V1__VunmapRequest vu = VMALLOCD__V1__VUNMAP_REQUEST__INIT;
	Vmallocd__V1__TranslateRequest tr = VMALLOCD__V1__TRANSLATE_REQUEST__INIT;
	Vmallocd__V1__AreaInfoRequest ai = VMALLOCD__V1__AREA_INFO_REQUEST__INIT;
	Vmallocd__V1__ReallocRequest re = VMALLOCD__V1__REALLOC_REQUEST__INIT;

	q.op_case = op;
	switch (op) {
	case VMALLOCD__V1__REQUEST__OP_FREE:
		q.free = &fr;
		fr.addr = addr;
		break;
	case VMALLOCD__V1__REQUEST__OP_VUNMAP:
		q.vunmap = &vu;
		vu.addr = addr;
		break;
	case VMALLOCD__V1__REQUEST__OP_TRANSLATE:
		q.translate = &tr;
		tr.addr = addr;
		break;
	case VMALLOCD__V1__REQUEST__OP_AREA_INFO:
		q.area_info = &ai;
		ai.addr = addr;
		break;
	default:
		q.op_case = VMALLOCD__V1__REQUEST__OP_REALLOC;
		q.realloc = &re;
		re.addr = addr;
		re.size = 8192;
		break;
	}
	return expect_status(f, &q, want);
}

#define OP_FREE VMALLOCD__V1__REQUEST__OP_FREE
#define OP_VUNMAP VMALLOCD__V1__REQUEST__OP_VUNMAP
#define OP_TRANSLATE VMALLOCD__V1__REQUEST__OP_TRANSLATE
#define OP_AREA_INFO VMALLOCD__V1__REQUEST__OP_AREA_INFO
#define OP_REALLOC VMALLOCD__V1__REQUEST__OP_REALLOC

static void read_at(uint64_t addr, uint64_t len, int want)
{
	Request q;
	Vmallocd__V1__ReadRequest m;

	rq_read(&q, &m, addr, len);
	expect_status(fd, &q, want);
}

static void write_at(uint64_t addr, size_t len, int want)
{
	static uint8_t data[3 * 4096];
	Request q;
	Vmallocd__V1__WriteRequest m;

	rq_write(&q, &m, addr, data, len);
	expect_status(fd, &q, want);
}

static uint64_t alloc_pages(int f, unsigned order)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__AllocPagesRequest m = VMALLOCD__V1__ALLOC_PAGES_REQUEST__INIT;
	Reply *r;
	uint64_t pfn = UINT64_MAX;

	q.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC_PAGES;
	q.alloc_pages = &m;
	m.gfp = GFP_KERNEL;
	m.order = order;
	m.node = -1;
	r = expect(f, &q, 0);
	if (r && r->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC_PAGES)
		pfn = r->alloc_pages->pfn;
	reply_free(r);
	return pfn;
}

static void free_pages(int f, uint64_t pfn, unsigned order, int want)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__FreePagesRequest m = VMALLOCD__V1__FREE_PAGES_REQUEST__INIT;

	q.op_case = VMALLOCD__V1__REQUEST__OP_FREE_PAGES;
	q.free_pages = &m;
	m.pfn = pfn;
	m.order = order;
	expect_status(f, &q, want);
}

static void phys_io(uint64_t pfn, uint64_t off, uint64_t len, bool write, int want)
{
	static uint8_t data[64];
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__PhysReadRequest r = VMALLOCD__V1__PHYS_READ_REQUEST__INIT;
	Vmallocd__V1__PhysWriteRequest w = VMALLOCD__V1__PHYS_WRITE_REQUEST__INIT;

	if (write) {
		q.op_case = VMALLOCD__V1__REQUEST__OP_PHYS_WRITE;
		q.phys_write = &w;
		w.pfn = pfn;
		w.offset = off;
		w.data.data = data;
		w.data.len = len < sizeof(data) ? len : sizeof(data);
	} else {
		q.op_case = VMALLOCD__V1__REQUEST__OP_PHYS_READ;
		q.phys_read = &r;
		r.pfn = pfn;
		r.offset = off;
		r.len = len;
	}
	expect_status(fd, &q, want);
}

static uint64_t vmap(int f, const uint64_t *pfns, size_t n, int want)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__VmapRequest m = VMALLOCD__V1__VMAP_REQUEST__INIT;
	Reply *r;
	uint64_t addr = 0;

	q.op_case = VMALLOCD__V1__REQUEST__OP_VMAP;
	q.vmap = &m;
	m.pfns = (uint64_t *)pfns;
	m.n_pfns = n;
	r = expect(f, &q, want);
	if (r && want == 0 && r->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC)
		addr = r->alloc->addr;
	reply_free(r);
	return addr;
}

static uint64_t translate_pfn(uint64_t addr)
{
	Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__TranslateRequest m = VMALLOCD__V1__TRANSLATE_REQUEST__INIT;
	Reply *r;
	uint64_t pfn = UINT64_MAX;

	q.op_case = VMALLOCD__V1__REQUEST__OP_TRANSLATE;
	q.translate = &m;
	m.addr = addr;
	r = expect(fd, &q, 0);
	if (r && r->result_case == VMALLOCD__V1__REPLY__RESULT_TRANSLATE)
		pfn = r->translate->pfn;
	reply_free(r);
	return pfn;
}

/* Read the next reply and check its id and status. */
static void next_reply(int f, uint64_t id, int status)
{
	Reply *r = read_reply(f, 10000);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	if (r->id != id || r->status != status)
		fprintf(stderr, "  reply id %llu status %d (%s), wanted id %llu status %d\n",
			(unsigned long long)r->id, r->status, r->message, (unsigned long long)id,
			status);
	CU_ASSERT_EQUAL(r->id, id);
	CU_ASSERT_EQUAL(r->status, status);
	reply_free(r);
}

/* ---- the classes ----------------------------------------------------------------- */

static void test_truncated(void)
{
	Request q;
	Vmallocd__V1__AllocRequest m;
	uint8_t buf[128];
	size_t n;

	/* A valid alloc with a caller, cut at every length short of whole:
	 * each cut either fails to parse (EBADMSG, id 0) or, where the cut
	 * falls between fields, is a shorter valid request. */
	rq_alloc(&q, &m, 8192);
	q.id = 77;
	m.caller = (char *)"truncated+0x1/0x10";
	n = vmallocd__v1__request__pack(&q, buf);
	for (size_t cut = 1; cut < n; cut++) {
		Request *parsed = vmallocd__v1__request__unpack(NULL, cut, buf);
		Reply *r;

		CU_ASSERT_EQUAL_FATAL(send_frame(fd, buf, (uint32_t)cut), 0);
		r = read_reply(fd, 10000);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		if (!parsed) {
			CU_ASSERT_EQUAL(r->id, 0);
			CU_ASSERT_EQUAL(r->status, -EBADMSG);
		} else {
			CU_ASSERT_EQUAL(r->id, parsed->id);
			CU_ASSERT_NOT_EQUAL(r->status, -EBADMSG);
			if (r->status == 0 && r->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC) {
				Request fq;
				Vmallocd__V1__FreeRequest fm;

				rq_free(&fq, &fm, r->alloc->addr);
				expect_status(fd, &fq, 0);
			}
			vmallocd__v1__request__free_unpacked(parsed, NULL);
		}
		reply_free(r);
	}
	/* A sub-message that claims more bytes than the frame has. */
	{
		static const uint8_t lie[] = { 0x08, 0x05, 0x1a, 0x40, 0x10, 0x80, 0x40 };

		CU_ASSERT_EQUAL(send_frame(fd, lie, sizeof(lie)), 0);
		next_reply(fd, 0, -EBADMSG);
	}
	/* The stream is still in step. */
	CU_ASSERT_NOT_EQUAL(raw_alloc(fd, 4096), 0);
	after();
}

static void test_wrong_type(void)
{
	Reply rep = VMALLOCD__V1__REPLY__INIT;
	Vmallocd__V1__AllocReply ar = VMALLOCD__V1__ALLOC_REPLY__INIT;
	Vmallocd__V1__AllocRequest bare = VMALLOCD__V1__ALLOC_REQUEST__INIT;
	Vmallocd__V1__HelloReply hr = VMALLOCD__V1__HELLO_REPLY__INIT;
	uint8_t buf[256];
	size_t n;

	/* A Reply sent as a request. */
	rep.id = 5;
	rep.status = -EINVAL;
	rep.message = (char *)"x";
	rep.result_case = VMALLOCD__V1__REPLY__RESULT_ALLOC;
	rep.alloc = &ar;
	ar.addr = VSTART;
	n = vmallocd__v1__reply__pack(&rep, buf);
	CU_ASSERT_EQUAL(send_frame(fd, buf, (uint32_t)n), 0);
	next_reply(fd, 0, -EBADMSG);
	/* An AllocRequest without its Request envelope. */
	bare.size = 8192;
	bare.kind = VMALLOCD__V1__ALLOC_KIND__ALLOC_VZALLOC;
	n = vmallocd__v1__alloc_request__pack(&bare, buf);
	CU_ASSERT_EQUAL(send_frame(fd, buf, (uint32_t)n), 0);
	next_reply(fd, 0, -EBADMSG);
	/* A HelloReply, as a confused client might echo one back. */
	hr.version = 1;
	hr.server = (char *)"vmallocd 0.1.0";
	hr.max_frame = VMD_MAX_FRAME;
	hr.max_io = VMD_MAX_IO;
	n = vmallocd__v1__hello_reply__pack(&hr, buf);
	CU_ASSERT_EQUAL(send_frame(fd, buf, (uint32_t)n), 0);
	next_reply(fd, 0, -EBADMSG);
	after();
}

/* A Request { id, vmap { pfns } } of n pfns, packed or not, all equal to v
 * (v < 128: one byte each). */
static uint8_t *vmap_frame(uint64_t id, size_t n, uint8_t v, bool packed, size_t *len)
{
	size_t body = packed ? n : 2 * n, inner, total;
	uint8_t *p = malloc(body + 64), *w;

	if (!p)
		return NULL;
	w = p + 4;
	*w++ = 0x08;
	w += put_varint(w, id);
	*w++ = 0x32;                       /* Request.vmap */
	inner = body + (packed ? 1 + varint_len(body) : 0);
	w += put_varint(w, inner);
	if (packed) {
		*w++ = 0x0a;               /* pfns, length-delimited */
		w += put_varint(w, body);
		memset(w, v, n);
		w += n;
	} else {
		for (size_t i = 0; i < n; i++) {
			*w++ = 0x08;       /* pfns, one varint each */
			*w++ = v;
		}
	}
	total = (size_t)(w - p) - 4;
	vmd_put_n32(p, (uint32_t)total);
	*len = total + 4;
	return p;
}

static void test_absurd_repeated(void)
{
	const size_t max_payload = VMD_MAX_FRAME - 64;
	uint64_t pfn, *pfns, addr;
	size_t len = 0, n;
	uint8_t *f;

	/* 2 million packed pfns in one 2 MiB frame: 16 MiB to decode, over
	 * what a connection may use for one request: -ENOMEM, with its id. */
	f = vmap_frame(31, max_payload, 0, true, &len);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(send_all(fd, f, len), 0);
	next_reply(fd, 31, -ENOMEM);
	free(f);
	/* Half a million unpacked ones of pfn 0: decoded (4 MiB), refused for
	 * what they are: -EINVAL. */
	f = vmap_frame(32, 500000, 0, false, &len);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(send_all(fd, f, len), 0);
	next_reply(fd, 32, -EINVAL);
	free(f);
	/* The same number, packed. */
	f = vmap_frame(33, 500000, 0, true, &len);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(send_all(fd, f, len), 0);
	next_reply(fd, 33, -EINVAL);
	free(f);

	/* A huge but valid vmap: 16 000 pages (the machine has 16 384)
	 * mapping the 4 frames of one of our blocks over and over; then read
	 * through it and unmap.  One page more than the machine: -EINVAL. */
	pfn = alloc_pages(fd, 2);
	CU_ASSERT_FATAL(pfn != UINT64_MAX);
	n = 16000;
	pfns = malloc(20000 * sizeof(*pfns));
	CU_ASSERT_FATAL(pfns != NULL);
	for (size_t i = 0; i < 20000; i++)
		pfns[i] = pfn + i % 4;
	phys_io(pfn, 4096 + 10, 8, true, 0);
	addr = vmap(fd, pfns, n, 0);
	CU_ASSERT_NOT_EQUAL(addr, 0);
	if (addr) {
		read_at(addr + (n - 3) * 4096ull + 10, 8, 0);
		read_at(addr + n * 4096ull, 1, -EFAULT);
		CU_ASSERT_TRUE(op_addr(fd, OP_VUNMAP, addr, 0));
	}
	vmap(fd, pfns, (64u << 20) / 4096 + 1, -EINVAL);
	/* One frame mapped 65 535 times is as far as its map count goes:
	 * the next vmap of it is refused (-EBUSY), nothing wraps. */
	{
		uint64_t areas[5] = { 0 };

		for (size_t i = 0; i < 20000; i++)
			pfns[i] = pfn;
		for (int k = 0; k < 4; k++)
			areas[k] = vmap(fd, pfns, 16000, 0);
		vmap(fd, pfns, 1535, 0);
		areas[4] = vmap(fd, pfns, 1, -EBUSY);
		CU_ASSERT_EQUAL(areas[4], 0);
		for (int k = 0; k < 4; k++)
			if (areas[k])
				CU_ASSERT_TRUE(op_addr(fd, OP_VUNMAP, areas[k], 0));
	}
	free(pfns);
	free_pages(fd, pfn, 2, -EBUSY);       /* the 1 535-page vmap still holds it */
	{
		Request q = VMALLOCD__V1__REQUEST__INIT;
		Vmallocd__V1__QueryRequest qm = VMALLOCD__V1__QUERY_REQUEST__INIT;
		Reply *r;

		/* Find that last area through vmallocinfo and unmap it. */
		q.op_case = VMALLOCD__V1__REQUEST__OP_QUERY;
		q.query = &qm;
		qm.kind = VMALLOCD__V1__QUERY_KIND__QUERY_VMALLOCINFO;
		r = expect(fd, &q, 0);
		CU_ASSERT_FATAL(r != NULL);
		for (size_t i = 0; i < r->query->n_areas; i++)
			if (r->query->areas[i]->nr_pages == 1535)
				CU_ASSERT_TRUE(op_addr(fd, OP_VUNMAP, r->query->areas[i]->addr, 0));
		reply_free(r);
	}
	free_pages(fd, pfn, 2, 0);

	/* Request.id repeated: the last one wins.  Ten thousand times decode;
	 * a million times need more memory to decode than a request may have
	 * (protobuf-c notes every occurrence): -ENOMEM, still with the id. */
	{
		static const size_t reps[2] = { 10000, 1000000 };

		for (int k = 0; k < 2; k++) {
			size_t i, m = reps[k];
			uint8_t *p = malloc(4 + 2 * m + 8);

			CU_ASSERT_FATAL(p != NULL);
			for (i = 0; i < m; i++) {
				p[4 + 2 * i] = 0x08;
				p[4 + 2 * i + 1] = (uint8_t)(1 + i % 100);
			}
			p[4 + 2 * m] = 0x8a;       /* Request.check (17), empty */
			p[4 + 2 * m + 1] = 0x01;
			p[4 + 2 * m + 2] = 0x00;
			vmd_put_n32(p, (uint32_t)(2 * m + 3));
			CU_ASSERT_EQUAL(send_all(fd, p, 4 + 2 * m + 3), 0);
			next_reply(fd, 1 + (m - 1) % 100, k ? -ENOMEM : 0);
			free(p);
		}
	}
	after();
}

static void test_enums(void)
{
	static const int32_t kinds[] = { 10, 100, -1, INT32_MAX, INT32_MIN };
	Request q;
	Vmallocd__V1__AllocRequest m;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		Request qq = VMALLOCD__V1__REQUEST__INIT;
		Vmallocd__V1__QueryRequest qm = VMALLOCD__V1__QUERY_REQUEST__INIT;

		rq_alloc(&q, &m, 4096);
		m.kind = (Vmallocd__V1__AllocKind)kinds[i];
		expect_status(fd, &q, -EINVAL);
		qq.op_case = VMALLOCD__V1__REQUEST__OP_QUERY;
		qq.query = &qm;
		qm.kind = (Vmallocd__V1__QueryKind)(kinds[i] < 0 ? kinds[i] : kinds[i] - 3);
		expect_status(fd, &qq, -EINVAL);
	}
	after();
}

static void test_sizes(void)
{
	static const struct {
		uint64_t size;
		int want;
	} cases[] = {
		{ 0, -EINVAL },
		{ UINT64_MAX, -EINVAL },              /* rounding up to a page overflows */
		{ UINT64_MAX - 4094, -EINVAL },
		{ UINT64_MAX - 4095, -EINVAL },       /* 2^64 - 4096: + the guard page overflows */
		{ UINT64_MAX - 8191, -ENOMEM },       /* fits in 64 bits, not in the machine */
		{ 1ull << 40, -ENOMEM },
		{ (64ull << 20) + 1, -ENOMEM },       /* one page more than the machine */
	};
	Request q;
	Vmallocd__V1__AllocRequest m;
	Vmallocd__V1__ReallocRequest rm = VMALLOCD__V1__REALLOC_REQUEST__INIT;
	uint64_t a;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rq_alloc(&q, &m, cases[i].size);
		expect_status(fd, &q, cases[i].want);
		/* vzalloc and the full form agree. */
		rq_alloc(&q, &m, cases[i].size);
		m.kind = VMALLOCD__V1__ALLOC_KIND__ALLOC_VZALLOC;
		expect_status(fd, &q, cases[i].want);
	}
	/* Without a guard page, 2^64 - 4096 no longer overflows: too big. */
	rq_range(&q, &m, UINT64_MAX - 4095, 0, 0, 0, VM_NO_GUARD);
	expect_status(fd, &q, -ENOMEM);

	/* vrealloc to absurd sizes leaves the area as it was. */
	a = raw_alloc(fd, 4096);
	CU_ASSERT_FATAL(a != 0);
	write_at(a, 16, 0);
	vmallocd__v1__request__init(&q);
	q.op_case = VMALLOCD__V1__REQUEST__OP_REALLOC;
	q.realloc = &rm;
	rm.addr = a;
	rm.size = UINT64_MAX;
	expect_status(fd, &q, -EINVAL);
	q.id = 0;
	rm.size = UINT64_MAX - 4095;
	expect_status(fd, &q, -EINVAL);
	q.id = 0;
	rm.size = 1ull << 40;
	expect_status(fd, &q, -ENOMEM);
	read_at(a, 4096, 0);

	/* Lengths of reads: over VMD_MAX_IO, 2^64-1, and ones that wrap. */
	read_at(a, VMD_MAX_IO + 1ull, -EINVAL);
	read_at(a, UINT64_MAX, -EINVAL);
	read_at(UINT64_MAX - 2, 8, -EINVAL);
	{
		Request fq;
		Vmallocd__V1__FreeRequest fm;

		rq_free(&fq, &fm, a);
		expect_status(fd, &fq, 0);
	}
	/* alloc_pages orders. */
	{
		Request pq = VMALLOCD__V1__REQUEST__INIT;
		Vmallocd__V1__AllocPagesRequest pm = VMALLOCD__V1__ALLOC_PAGES_REQUEST__INIT;
		static const uint32_t orders[] = { 11, 64, UINT32_MAX };

		pq.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC_PAGES;
		pq.alloc_pages = &pm;
		pm.gfp = GFP_KERNEL;
		pm.node = -1;
		for (size_t i = 0; i < 3; i++) {
			pq.id = 0;
			pm.order = orders[i];
			expect_status(fd, &pq, -EINVAL);
		}
	}
	after();
}

static void test_alignment_and_window(void)
{
	static const uint64_t bad_align[] = { 3, 4097, 12345, 3ull << 20, (1ull << 63) + 1, UINT64_MAX };
	Request q;
	Vmallocd__V1__AllocRequest m;
	Reply *r;

	for (size_t i = 0; i < sizeof(bad_align) / sizeof(bad_align[0]); i++) {
		rq_range(&q, &m, 4096, bad_align[i], 0, 0, 0);
		expect_status(fd, &q, -EINVAL);
	}
	/* A power of two bigger than the whole range: no room. */
	rq_range(&q, &m, 4096, 1ull << 63, 0, 0, 0);
	expect_status(fd, &q, -ENOMEM);
	/* A large legal one is honoured. */
	rq_range(&q, &m, 4096, 1ull << 40, 0, 0, 0);
	r = expect(fd, &q, 0);
	if (r && r->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC) {
		CU_ASSERT_EQUAL(r->alloc->addr & ((1ull << 40) - 1), 0);
		CU_ASSERT_TRUE(op_addr(fd, OP_FREE, r->alloc->addr, 0));
	}
	reply_free(r);

	/* KVA windows: reversed, empty, outside the vmalloc range, too small
	 * for the area and its guard page. */
	rq_range(&q, &m, 4096, 0, VSTART + (1 << 20), VSTART, 0);
	expect_status(fd, &q, -EINVAL);
	rq_range(&q, &m, 4096, 0, VSTART + 8192, VSTART + 8192, 0);
	expect_status(fd, &q, -EINVAL);
	rq_range(&q, &m, 4096, 0, 0x1000, 0x100000, 0);
	expect_status(fd, &q, -EINVAL);
	rq_range(&q, &m, 4096, 0, VEND - 8191, UINT64_MAX, 0);
	expect_status(fd, &q, -EINVAL);
	rq_range(&q, &m, 4096, 0, VSTART + (64ull << 30), VSTART + (64ull << 30) + 4096, 0);
	expect_status(fd, &q, -ENOMEM);
	/* Flags a client may not set, and prot bits that do not exist. */
	rq_range(&q, &m, 4096, 0, 0, 0, VM_IOREMAP);
	expect_status(fd, &q, -EINVAL);
	rq_range(&q, &m, 4096, 0, 0, 0, 0);
	m.prot = 0x80;
	expect_status(fd, &q, -EINVAL);
	/* Nodes and gfp bits. */
	rq_alloc(&q, &m, 4096);
	m.kind = VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_NODE;
	m.node = 1;
	expect_status(fd, &q, -EINVAL);
	rq_alloc(&q, &m, 4096);
	m.kind = VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_NODE;
	m.node = -2;
	expect_status(fd, &q, -EINVAL);
	rq_alloc(&q, &m, 4096);
	m.kind = VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_GFP;
	m.gfp = 0x80000000u;
	expect_status(fd, &q, -EINVAL);
	/* A caller string over 255 bytes. */
	{
		char caller[300];

		memset(caller, 'c', sizeof(caller) - 1);
		caller[sizeof(caller) - 1] = '\0';
		rq_alloc(&q, &m, 4096);
		m.caller = caller;
		expect_status(fd, &q, -EINVAL);
	}
	after();
}

static void test_addresses(void)
{
	static const uint64_t outside[] = { 0, 0x1000, VSTART - 4096, VEND + 1, UINT64_MAX & ~4095ull };
	uint64_t a, v, pfn;

	/* Outside the vmalloc range (0 is vfree's no-op). */
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		uint64_t x = outside[i];

		CU_ASSERT_TRUE(op_addr(fd, OP_FREE, x, x ? -EINVAL : 0));
		CU_ASSERT_TRUE(op_addr(fd, OP_VUNMAP, x, -EINVAL));
		CU_ASSERT_TRUE(op_addr(fd, OP_TRANSLATE, x, -EINVAL));
		CU_ASSERT_TRUE(op_addr(fd, OP_AREA_INFO, x, -ENOENT));
		if (x)
			CU_ASSERT_TRUE(op_addr(fd, OP_REALLOC, x, -EINVAL));
		read_at(x, 8, -EFAULT);
		write_at(x, 8, -EFAULT);
	}
	/* Inside an area, not at its start. */
	a = raw_alloc(fd, 3 * 4096);
	CU_ASSERT_FATAL(a != 0);
	CU_ASSERT_TRUE(op_addr(fd, OP_FREE, a + 1, -EINVAL));
	CU_ASSERT_TRUE(op_addr(fd, OP_FREE, a + 4096, -EINVAL));
	CU_ASSERT_TRUE(op_addr(fd, OP_FREE, a + 3 * 4096, -EINVAL));   /* its guard page */
	CU_ASSERT_TRUE(op_addr(fd, OP_REALLOC, a + 4096, -EINVAL));
	CU_ASSERT_TRUE(op_addr(fd, OP_VUNMAP, a, -EINVAL));             /* not a vmap area */
	CU_ASSERT_TRUE(op_addr(fd, OP_TRANSLATE, a + 3 * 4096, -ENXIO));
	CU_ASSERT_TRUE(op_addr(fd, OP_AREA_INFO, a + 3 * 4096 + 10, 0));
	/* A vmap area is not vfree's. */
	pfn = alloc_pages(fd, 1);
	CU_ASSERT_FATAL(pfn != UINT64_MAX);
	{
		uint64_t pfns[2] = { pfn, pfn + 1 };

		v = vmap(fd, pfns, 2, 0);
	}
	CU_ASSERT_FATAL(v != 0);
	CU_ASSERT_TRUE(op_addr(fd, OP_FREE, v, -EINVAL));
	CU_ASSERT_TRUE(op_addr(fd, OP_REALLOC, v, -EINVAL));
	CU_ASSERT_TRUE(op_addr(fd, OP_VUNMAP, v + 4096, -EINVAL));
	free_pages(fd, pfn, 1, -EBUSY);
	free_pages(fd, pfn + 1, 0, -EINVAL);                             /* not the head */
	free_pages(fd, pfn, 0, -EINVAL);                                 /* wrong order */
	/* Already freed. */
	CU_ASSERT_TRUE(op_addr(fd, OP_FREE, a, 0));
	CU_ASSERT_TRUE(op_addr(fd, OP_FREE, a, -EINVAL));
	CU_ASSERT_TRUE(op_addr(fd, OP_REALLOC, a, -EINVAL));
	CU_ASSERT_TRUE(op_addr(fd, OP_TRANSLATE, a, -ENXIO));
	read_at(a, 8, -EFAULT);
	write_at(a, 8, -EFAULT);
	CU_ASSERT_TRUE(op_addr(fd, OP_VUNMAP, v, 0));
	CU_ASSERT_TRUE(op_addr(fd, OP_VUNMAP, v, -EINVAL));
	read_at(v, 8, -EFAULT);
	free_pages(fd, pfn, 1, 0);
	free_pages(fd, pfn, 1, -EINVAL);
	phys_io(pfn, 0, 8, false, -EINVAL);
	phys_io(pfn, 0, 8, true, -EINVAL);
	after();
}

static void test_vmap_frames(void)
{
	uint64_t a, vpfn, pfn, bad[3];

	/* Frames that did not come from alloc_pages: a vmalloc area's own
	 * frame, frame 0, one past the machine, an absurd number. */
	a = raw_alloc(fd, 4096);
	CU_ASSERT_FATAL(a != 0);
	vpfn = translate_pfn(a);
	CU_ASSERT_FATAL(vpfn != UINT64_MAX);
	bad[0] = vpfn;
	bad[1] = 0;
	bad[2] = (64ull << 20) >> 12;
	for (int i = 0; i < 3; i++)
		vmap(fd, &bad[i], 1, -EINVAL);
	bad[0] = UINT64_MAX;
	vmap(fd, bad, 1, -EINVAL);
	vmap(fd, bad, 0, -EINVAL);
	/* One good frame among bad ones: nothing is mapped. */
	pfn = alloc_pages(fd, 0);
	CU_ASSERT_FATAL(pfn != UINT64_MAX);
	bad[0] = pfn;
	bad[1] = pfn;
	bad[2] = vpfn;
	vmap(fd, bad, 3, -EINVAL);
	/* And the vmalloc frame is not alloc_pages' either. */
	free_pages(fd, vpfn, 0, -EINVAL);
	phys_io(vpfn, 0, 8, false, -EINVAL);
	phys_io(vpfn, 0, 8, true, -EINVAL);
	/* phys I/O past the block, and with an offset that wraps. */
	phys_io(pfn, 4090, 8, false, -EINVAL);
	phys_io(pfn, 4096, 1, true, -EINVAL);
	phys_io(pfn, UINT64_MAX, 2, false, -EINVAL);
	phys_io(pfn, 0, VMD_MAX_IO + 1ull, false, -EINVAL);
	phys_io(pfn, 4088, 8, false, 0);
	free_pages(fd, pfn, 0, 0);
	CU_ASSERT_TRUE(op_addr(fd, OP_FREE, a, 0));
	after();
}

static void test_past_end(void)
{
	Request q;
	Vmallocd__V1__AllocRequest m;
	Reply *r;
	uint64_t a, b1, b2;
	const uint64_t size = 3 * 4096;

	a = raw_alloc(fd, size);
	CU_ASSERT_FATAL(a != 0);
	read_at(a, size, 0);
	read_at(a + size - 1, 1, 0);
	read_at(a + size - 10, 20, -EFAULT);     /* into the guard page */
	write_at(a + size - 10, 20, -EFAULT);
	read_at(a + size, 1, -EFAULT);           /* in the guard page */
	write_at(a + size, 1, -EFAULT);
	write_at(a + 4096, 2 * 4096 + 1, -EFAULT);
	write_at(a, size, 0);
	/* Two areas without guard pages, back to back: no read or write may
	 * run from one into the other. */
	rq_range(&q, &m, 4096, 0, VSTART + (1ull << 30), VSTART + (1ull << 30) + 8192, VM_NO_GUARD);
	r = expect(fd, &q, 0);
	b1 = r && r->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC ? r->alloc->addr : 0;
	reply_free(r);
	rq_range(&q, &m, 4096, 0, VSTART + (1ull << 30), VSTART + (1ull << 30) + 8192, VM_NO_GUARD);
	r = expect(fd, &q, 0);
	b2 = r && r->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC ? r->alloc->addr : 0;
	reply_free(r);
	CU_ASSERT_FATAL(b1 && b2);
	CU_ASSERT_EQUAL(b2, b1 + 4096);
	read_at(b1 + 4000, 200, -EFAULT);
	write_at(b1 + 4000, 200, -EFAULT);
	read_at(b1 + 4000, 96, 0);
	read_at(b2, 4096, 0);
	CU_ASSERT_TRUE(op_addr(fd, OP_FREE, b1, 0));
	CU_ASSERT_TRUE(op_addr(fd, OP_FREE, b2, 0));
	CU_ASSERT_TRUE(op_addr(fd, OP_FREE, a, 0));
	after();
}

/* A client that hangs up in the middle of a frame, and one that sends the
 * header of a 2 MiB frame and half of it, then hangs up. */
static void test_eof_mid_frame(void)
{
	static const uint8_t part[] = { 0, 0, 0, 100, 0x08, 0x01, 0x1a };
	int c = raw_connect(daemon_proc.sock);
	uint8_t *big;

	CU_ASSERT_FATAL(c >= 0);
	CU_ASSERT_EQUAL(send_all(c, part, sizeof(part)), 0);
	shutdown(c, SHUT_WR);
	CU_ASSERT_TRUE(closed_by_peer(c, 5000));
	close(c);

	c = raw_connect(daemon_proc.sock);
	CU_ASSERT_FATAL(c >= 0);
	big = calloc(1, VMD_MAX_FRAME / 2 + 4);
	CU_ASSERT_FATAL(big != NULL);
	vmd_put_n32(big, VMD_MAX_FRAME);
	CU_ASSERT_EQUAL(send_all(c, big, VMD_MAX_FRAME / 2 + 4), 0);
	free(big);
	close(c);
	after();
}

/* Every class in one write: the replies come back in order, each with its
 * id, and the connection stays up. */
static void test_pipelined_mix(void)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f };
	static const uint8_t unknown_op[] = { 0x08, 0x0b, 0x9a, 0x06, 0x00 };
	uint8_t buf[4096], *w = buf;
	Request q;
	Vmallocd__V1__AllocRequest am;
	Vmallocd__V1__ReadRequest rm;
	Vmallocd__V1__CheckRequest cm;
	size_t n;

#define PUT_REQ(req)                                                            \
	do {                                                                    \
		n = vmallocd__v1__request__pack(&(req), w + 4);                 \
		vmd_put_n32(w, (uint32_t)n);                                    \
		w += 4 + n;                                                     \
	} while (0)
#define PUT_RAW(p, len)                                                         \
	do {                                                                    \
		vmd_put_n32(w, (uint32_t)(len));                                \
		memcpy(w + 4, (p), (len));                                      \
		w += 4 + (len);                                                 \
	} while (0)

	rq_alloc(&q, &am, 0);
	q.id = 10;
	PUT_REQ(q);                               /* size 0: -EINVAL */
	PUT_RAW(garbage, sizeof(garbage));        /* -EBADMSG, id 0 */
	rq_alloc(&q, &am, 4096);
	q.id = 11;
	am.kind = (Vmallocd__V1__AllocKind)-7;
	PUT_REQ(q);                               /* -EINVAL */
	PUT_RAW(unknown_op, sizeof(unknown_op));  /* id 11 again: -EOPNOTSUPP */
	vmd_put_n32(w, 0);                        /* zero length: -EOPNOTSUPP, id 0 */
	w += 4;
	rq_read(&q, &rm, 0x1000, 8);
	q.id = 12;
	PUT_REQ(q);                               /* -EFAULT */
	rq_check(&q, &cm);
	q.id = 13;
	PUT_REQ(q);                               /* 0 */
	CU_ASSERT_EQUAL(send_all(fd, buf, (size_t)(w - buf)), 0);
	next_reply(fd, 10, -EINVAL);
	next_reply(fd, 0, -EBADMSG);
	next_reply(fd, 11, -EINVAL);
	next_reply(fd, 11, -EOPNOTSUPP);
	next_reply(fd, 0, -EOPNOTSUPP);
	next_reply(fd, 12, -EFAULT);
	next_reply(fd, 13, 0);
#undef PUT_REQ
#undef PUT_RAW
	after();
}

static void test_bystander(void)
{
	unsigned long ops = 0;

	CU_ASSERT_EQUAL(bystander_stop(&bys, &ops), 0);
	fprintf(stderr, "  bystander: %lu rounds, none failed\n", ops);
	CU_ASSERT_TRUE(ops > 0);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "truncated", test_truncated },
		{ "wrong_type", test_wrong_type },
		{ "absurd_repeated", test_absurd_repeated },
		{ "enums", test_enums },
		{ "sizes", test_sizes },
		{ "alignment_and_window", test_alignment_and_window },
		{ "addresses", test_addresses },
		{ "vmap_frames", test_vmap_frames },
		{ "past_end", test_past_end },
		{ "eof_mid_frame", test_eof_mid_frame },
		{ "pipelined_mix", test_pipelined_mix },
		{ "bystander", test_bystander },
		{ NULL, NULL },
	};

	return t_main_suite("input", suite_init, suite_clean, cases, argc, argv);
}
