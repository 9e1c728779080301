/* test_fastdecode.c -- the fast decoders against protobuf-c as the oracle:
 * the daemon's request decoder and a client's reply decoder, on random
 * messages of every shape and on random damage to them: whatever a fast
 * path accepts must decode exactly as protobuf-c decodes it, and it must
 * accept nothing protobuf-c rejects. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastdecode.h"
#include "vmalloc.pb-c.h"
#include "vmtest.h"

static uint64_t rs = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

/* Values around the edges of their types. */
static uint64_t edge(void)
{
	static const uint64_t e[] = { 0, 1, 2, 127, 128, 4096, UINT32_MAX, (uint64_t)UINT32_MAX + 1,
				      INT32_MAX, (uint64_t)INT32_MAX + 1, UINT64_MAX,
				      0xffffc90000000000ull };

	return rnd() % 3 ? e[rnd() % (sizeof(e) / sizeof(e[0]))] : rnd() >> (rnd() % 64);
}

static size_t make_request(uint8_t *buf)
{
	Vmallocd__V1__Request q = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__AllocRequest a = VMALLOCD__V1__ALLOC_REQUEST__INIT;
	Vmallocd__V1__FreeRequest f = VMALLOCD__V1__FREE_REQUEST__INIT;
	Vmallocd__V1__ReadRequest r = VMALLOCD__V1__READ_REQUEST__INIT;

	q.id = rnd() % 2 ? edge() : 0;
	switch (rnd() % 4) {
	case 0:
	case 1:
		q.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC;
		q.alloc = &a;
		a.kind = (Vmallocd__V1__AllocKind)(rnd() % 4 ? (int32_t)(rnd() % 9) : (int32_t)edge());
		a.size = edge();
		a.align = rnd() % 2 ? edge() : 0;
		a.start = rnd() % 3 ? 0 : edge();
		a.end = rnd() % 3 ? 0 : edge();
		a.gfp = (uint32_t)(rnd() % 2 ? edge() : 0);
		a.prot = (uint32_t)(rnd() % 2 ? edge() : 0);
		a.vm_flags = (uint32_t)(rnd() % 2 ? edge() : 0);
		a.node = rnd() % 2 ? -1 : (int32_t)edge();
		a.scoped = rnd() % 2;
		if (rnd() % 5 == 0)
			a.caller = (char *)"init_module+0x1c/0x80";
		break;
	case 2:
		q.op_case = VMALLOCD__V1__REQUEST__OP_FREE;
		q.free = &f;
		f.addr = edge();
		break;
	default:
		q.op_case = VMALLOCD__V1__REQUEST__OP_READ;
		q.read = &r;
		r.addr = edge();
		r.len = edge();
		break;
	}
	return vmallocd__v1__request__pack(&q, buf);
}

static void compare(const uint8_t *buf, size_t len, unsigned *accepted)
{
	struct vmd_fast_req f;
	bool ok = vmd_fast_decode(buf, len, &f);
	Vmallocd__V1__Request *q = vmallocd__v1__request__unpack(NULL, len, buf);

	if (!ok) {
		if (q)
			vmallocd__v1__request__free_unpacked(q, NULL);
		return;
	}
	(*accepted)++;
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(f.id, q->id);
	CU_ASSERT_EQUAL(f.op, q->op_case);
	if (q->op_case == VMALLOCD__V1__REQUEST__OP_ALLOC && f.op == q->op_case) {
		const Vmallocd__V1__AllocRequest *a = q->alloc;

		CU_ASSERT_EQUAL(f.alloc.kind, a->kind);
		CU_ASSERT_EQUAL(f.alloc.size, a->size);
		CU_ASSERT_EQUAL(f.alloc.align, a->align);
		CU_ASSERT_EQUAL(f.alloc.start, a->start);
		CU_ASSERT_EQUAL(f.alloc.end, a->end);
		CU_ASSERT_EQUAL(f.alloc.gfp, a->gfp);
		CU_ASSERT_EQUAL(f.alloc.prot, a->prot);
		CU_ASSERT_EQUAL(f.alloc.vm_flags, a->vm_flags);
		CU_ASSERT_EQUAL(f.alloc.node, a->node);
		CU_ASSERT_EQUAL(f.alloc.scoped, a->scoped);
		CU_ASSERT_STRING_EQUAL(a->caller, "");
	} else if (q->op_case == VMALLOCD__V1__REQUEST__OP_FREE && f.op == q->op_case) {
		CU_ASSERT_EQUAL(f.free.addr, q->free->addr);
	}
	vmallocd__v1__request__free_unpacked(q, NULL);
}

static void test_valid_requests(void)
{
	uint8_t buf[512];
	unsigned accepted = 0;

	for (int i = 0; i < 200000; i++)
		compare(buf, make_request(buf), &accepted);
	/* Most plain allocs and frees take the fast path. */
	CU_ASSERT_TRUE(accepted > 80000);
}

static void test_damaged_requests(void)
{
	uint8_t buf[600];
	unsigned accepted = 0;

	for (int i = 0; i < 300000; i++) {
		size_t len = make_request(buf);

		switch (rnd() % 4) {
		case 0:         /* flip a byte */
			buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 1:         /* truncate */
			len = rnd() % (len + 1);
			break;
		case 2:         /* append junk or a duplicate of itself */
			if (rnd() % 2) {
				memcpy(buf + len, buf, len);
				len *= 2;
			} else {
				for (int k = 0; k < 6; k++)
					buf[len++] = (uint8_t)rnd();
			}
			break;
		default:        /* overwrite a byte */
			buf[rnd() % len] = (uint8_t)rnd();
			break;
		}
		compare(buf, len, &accepted);
	}
	CU_ASSERT_TRUE(accepted > 0);
}

/* Overlong encodings: a value padded with 0x80 bytes means the same value,
 * but protobuf-c reads tags and length prefixes from at most five bytes.
 * Each padding of the id's tag, the operation's tag, its length and the
 * inner tag, 1 to 10 bytes long, must be decoded as protobuf-c decodes it,
 * or declined. */
static size_t overlong(uint8_t *p, uint8_t v, unsigned nbytes)
{
	for (unsigned i = 0; i + 1 < nbytes; i++)
		p[i] = (uint8_t)((i == 0 ? v : 0) | 0x80);
	p[nbytes - 1] = nbytes == 1 ? v : 0;
	return nbytes;
}

static void test_overlong(void)
{
	unsigned accepted = 0, declined = 0;

	for (unsigned which = 0; which < 4; which++) {
		for (unsigned nb = 1; nb <= 10; nb++) {
			uint8_t inner[16], buf[64];
			size_t ni = 0, n = 0;
			unsigned a0 = accepted;

			/* {id: 5, free: {addr: 0x1000}}, one part padded */
			ni += overlong(inner + ni, 0x08, which == 3 ? nb : 1);
			inner[ni++] = 0x80;
			inner[ni++] = 0x20;
			n += overlong(buf + n, 0x08, which == 0 ? nb : 1);
			buf[n++] = 5;
			n += overlong(buf + n, 0x22, which == 1 ? nb : 1);
			n += overlong(buf + n, (uint8_t)ni, which == 2 ? nb : 1);
			memcpy(buf + n, inner, ni);
			n += ni;
			compare(buf, n, &accepted);
			if (accepted == a0)
				declined++;
		}
	}
	/* The plain encodings are taken, and the longest paddings are not. */
	CU_ASSERT_TRUE(accepted >= 4);
	CU_ASSERT_TRUE(declined >= 4 * 5);
}

/* A reply packed by protobuf-c (of every result, with or without a
 * message), then perhaps damaged: what the fast decoder accepts, protobuf-c
 * decodes to the same id, status and result. */
static void test_replies(void)
{
	unsigned accepted = 0, declined = 0;

	for (int i = 0; i < 200000; i++) {
		Vmallocd__V1__Reply r = VMALLOCD__V1__REPLY__INIT, *u;
		Vmallocd__V1__AllocReply ar = VMALLOCD__V1__ALLOC_REPLY__INIT;
		Vmallocd__V1__AllocPagesReply pr = VMALLOCD__V1__ALLOC_PAGES_REPLY__INIT;
		Vmallocd__V1__ReadReply rr = VMALLOCD__V1__READ_REPLY__INIT;
		struct vmd_fast_reply f;
		uint8_t buf[256];
		size_t n;
		bool ok;

		r.id = rnd() % 4 ? edge() : 0;
		r.status = rnd() % 2 ? 0 : (int32_t)(uint32_t)edge();
		if (rnd() % 6 == 0)
			r.message = (char *)"Cannot allocate memory";
		switch (rnd() % 4) {
		case 0:
			r.result_case = VMALLOCD__V1__REPLY__RESULT_ALLOC;
			r.alloc = &ar;
			ar.addr = rnd() % 8 ? edge() : 0;
			break;
		case 1:
			r.result_case = VMALLOCD__V1__REPLY__RESULT_ALLOC_PAGES;
			r.alloc_pages = &pr;
			pr.pfn = rnd() % 8 ? edge() : 0;
			break;
		case 2:
			r.result_case = VMALLOCD__V1__REPLY__RESULT_READ;
			r.read = &rr;
			break;
		default:
			break;
		}
		n = vmallocd__v1__reply__pack(&r, buf);
		if (rnd() % 4 == 0 && n) {
			/* Damage: a byte changed, or the end cut off. */
			if (rnd() % 2)
				buf[rnd() % n] = (uint8_t)rnd();
			else
				n = rnd() % n;
		}
		ok = vmd_fast_decode_reply(buf, n, &f);
		u = vmallocd__v1__reply__unpack(NULL, n, buf);
		if (ok) {
			accepted++;
			T_ASSERT_MSG(u != NULL, "accepted what protobuf-c rejects");
			if (u) {
				CU_ASSERT_EQUAL(f.id, u->id);
				CU_ASSERT_EQUAL(f.status, u->status);
				CU_ASSERT_EQUAL(f.result, u->result_case);
				CU_ASSERT(!u->message || !*u->message);
				if (u->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC)
					CU_ASSERT_EQUAL(f.value, u->alloc->addr);
				if (u->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC_PAGES)
					CU_ASSERT_EQUAL(f.value, u->alloc_pages->pfn);
			}
		} else {
			declined++;
		}
		vmallocd__v1__reply__free_unpacked(u, NULL);
	}
	/* Most plain replies are taken; messages and reads are not. */
	CU_ASSERT_TRUE(accepted > 200000 / 3);
	CU_ASSERT_TRUE(declined > 200000 / 4);
}

static const struct t_case cases[] = {
	{ "replies", test_replies },
	{ "valid_requests", test_valid_requests },
	{ "overlong", test_overlong },
	{ "damaged_requests", test_damaged_requests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return t_main_suite("fastdecode", NULL, NULL, cases, argc, argv);
}
