/* test_fastencode.c -- the fast packers against protobuf-c as the oracle:
 * the daemon's replies for every combination of edge and random ids,
 * statuses, results and values, and a client's allocations and frees with
 * random fields, callers of every length, and what it must leave to
 * protobuf-c (other requests, unknown fields, a caller too long): the bytes
 * must be exactly protobuf-c's. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fastencode.h"
#include "vmalloc.pb-c.h"
#include "vmtest.h"

static struct t_rng rng;

static uint64_t rnd(void)
{
	return t_rand(&rng);
}

static const uint64_t edges[] = { 0, 1, 127, 128, 16383, 16384, UINT32_MAX,
				  (uint64_t)UINT32_MAX + 1, INT64_MAX, UINT64_MAX,
				  0xffffc90000000000ull, 0xffffc90000001000ull };
static const int32_t statuses[] = { 0, -1, -ENOMEM, -EINVAL, -EPERM, -EDQUOT, -E2BIG,
				    -4095, INT32_MIN, INT32_MAX, 1, 63, 64 };

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* One case: the two packers must write the same bytes. */
static void compare(uint64_t id, int32_t status, enum vmd_fast_result result, uint64_t value)
{
	Vmallocd__V1__Reply rep = VMALLOCD__V1__REPLY__INIT;
	Vmallocd__V1__AllocReply ar = VMALLOCD__V1__ALLOC_REPLY__INIT;
	Vmallocd__V1__AllocPagesReply pr = VMALLOCD__V1__ALLOC_PAGES_REPLY__INIT;
	uint8_t want[64], got[VMD_FAST_REPLY_MAX + 8];
	size_t nw, ng;

	rep.id = id;
	rep.status = status;
	if (result == VMD_FAST_ALLOC) {
		ar.addr = value;
		rep.result_case = VMALLOCD__V1__REPLY__RESULT_ALLOC;
		rep.alloc = &ar;
	} else if (result == VMD_FAST_ALLOC_PAGES) {
		pr.pfn = value;
		rep.result_case = VMALLOCD__V1__REPLY__RESULT_ALLOC_PAGES;
		rep.alloc_pages = &pr;
	}
	nw = vmallocd__v1__reply__pack(&rep, want);
	memset(got, 0xa5, sizeof(got));
	ng = vmd_fast_pack_reply(got, id, status, result, value);
	CU_ASSERT_TRUE(ng <= VMD_FAST_REPLY_MAX);
	CU_ASSERT_EQUAL(ng, nw);
	if (ng == nw)
		CU_ASSERT_EQUAL(memcmp(got, want, nw), 0);
	/* Nothing written past what it says. */
	CU_ASSERT_EQUAL(got[ng], 0xa5);
}

static void test_edges(void)
{
	static const enum vmd_fast_result results[] = { VMD_FAST_NONE, VMD_FAST_ALLOC,
							VMD_FAST_ALLOC_PAGES };

	for (size_t i = 0; i < N(edges); i++)
		for (size_t s = 0; s < N(statuses); s++)
			for (size_t r = 0; r < N(results); r++)
				for (size_t v = 0; v < N(edges); v++)
					compare(edges[i], statuses[s], results[r], edges[v]);
}

static void test_random(void)
{
	t_rng_seed(&rng, 0x13198a2e03707344ull);
	for (int i = 0; i < 200000; i++) {
		uint64_t id = rnd() >> (rnd() % 64);
		int32_t status = rnd() % 2 ? 0 : (int32_t)(uint32_t)(rnd() >> (rnd() % 64));
		enum vmd_fast_result r = (enum vmd_fast_result[]){ VMD_FAST_NONE, VMD_FAST_ALLOC,
								   VMD_FAST_ALLOC_PAGES }[rnd() % 3];

		compare(id, status, r, rnd() >> (rnd() % 64));
	}
}

/* A request packed both ways: the same bytes, or the fast packer declines
 * (want_fast false). */
static void compare_request(const Vmallocd__V1__Request *q, bool want_fast)
{
	static uint8_t want[4096], got[VMD_FAST_REQUEST_MAX + 8];
	size_t nw = vmallocd__v1__request__get_packed_size(q), ng;

	CU_ASSERT_FATAL(nw <= sizeof(want));
	vmallocd__v1__request__pack(q, want);
	memset(got, 0xa5, sizeof(got));
	ng = vmd_fast_pack_request(got, q);
	if (!want_fast) {
		CU_ASSERT_EQUAL(ng, 0);
		return;
	}
	T_ASSERT_MSG(ng == nw && !memcmp(got, want, nw), "%zu bytes, protobuf-c %zu", ng, nw);
	CU_ASSERT_TRUE(ng <= VMD_FAST_REQUEST_MAX);
	CU_ASSERT_EQUAL(got[ng], 0xa5);
}

static uint64_t edge_or_random(void)
{
	return rnd() % 3 ? edges[rnd() % N(edges)] : rnd() >> (rnd() % 64);
}

static void test_requests(void)
{
	static char caller[VMD_FAST_CALLER_MAX + 2];

	t_rng_seed(&rng, 0xa4093822299f31d0ull);
	for (int i = 0; i < 100000; i++) {
		Vmallocd__V1__Request q = VMALLOCD__V1__REQUEST__INIT;
		Vmallocd__V1__AllocRequest a = VMALLOCD__V1__ALLOC_REQUEST__INIT;
		Vmallocd__V1__FreeRequest f = VMALLOCD__V1__FREE_REQUEST__INIT;
		Vmallocd__V1__PurgeRequest pu = VMALLOCD__V1__PURGE_REQUEST__INIT;
		size_t clen = rnd() % 4 ? 0 : rnd() % (VMD_FAST_CALLER_MAX + 2);
		bool fast = true;

		q.id = rnd() % 4 ? edge_or_random() : 0;
		switch (rnd() % 5) {
		case 0:
		case 1:
			q.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC;
			q.alloc = &a;
			a.kind = (Vmallocd__V1__AllocKind)(rnd() % 5 ? (int32_t)(rnd() % 10) :
							  (int32_t)edge_or_random());
			a.size = rnd() % 8 ? edge_or_random() : 0;
			a.align = rnd() % 2 ? edge_or_random() : 0;
			a.start = rnd() % 2 ? edge_or_random() : 0;
			a.end = rnd() % 2 ? edge_or_random() : 0;
			a.gfp = (uint32_t)(rnd() % 2 ? edge_or_random() : 0);
			a.prot = (uint32_t)(rnd() % 2 ? edge_or_random() : 0);
			a.vm_flags = (uint32_t)(rnd() % 2 ? edge_or_random() : 0);
			a.node = (int32_t)(rnd() % 2 ? -1 : (int32_t)edge_or_random());
			a.scoped = rnd() % 2;
			a.parent_pid = (uint32_t)(rnd() % 2 ? edge_or_random() : 0);
			if (rnd() % 2) {
				memset(caller, 'a' + (int)(rnd() % 26), clen);
				caller[clen] = '\0';
				a.caller = caller;
				fast = clen <= VMD_FAST_CALLER_MAX;
			}
			break;
		case 2:
		case 3:
			q.op_case = VMALLOCD__V1__REQUEST__OP_FREE;
			q.free = &f;
			f.addr = rnd() % 8 ? edge_or_random() : 0;
			break;
		default:
			q.op_case = VMALLOCD__V1__REQUEST__OP_PURGE;
			q.purge = &pu;
			fast = false;
			break;
		}
		compare_request(&q, fast);
	}
}

static const struct t_case cases[] = {
	{ "edges", test_edges },
	{ "random", test_random },
	{ "requests", test_requests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return t_main_suite("fastencode", NULL, NULL, cases, argc, argv);
}
