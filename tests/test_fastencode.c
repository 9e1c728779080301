/* test_fastencode.c -- the daemon's fast reply packer against protobuf-c as
 * the oracle: for every combination of edge and random ids, statuses,
 * results and values, the bytes must be exactly protobuf-c's. */
#include <CUnit/Basic.h>
#include <errno.h>
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

static const struct t_case cases[] = {
	{ "edges", test_edges },
	{ "random", test_random },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return t_main_suite("fastencode", NULL, NULL, cases, argc, argv);
}
