/* test_account.c -- the daemon's accounting (daemon/account.c): charges
 * against quotas, the graded check on giving back more than was charged,
 * and walking the alloc_pages blocks while deleting them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcase.h"
#include "vmallocd.h"

static void test_charge(void)
{
	struct account a;

	account_init(&a);
	CU_ASSERT_EQUAL(account_charge(&a, 1000, 5, 8), 0);
	CU_ASSERT_EQUAL(account_charge(&a, 1000, 4, 8), -EDQUOT);
	CU_ASSERT_EQUAL(account_pages(&a, 1000), 5);
	CU_ASSERT_EQUAL(account_charge(&a, 1001, 100, 0), 0);
	account_uncharge(&a, 1000, 5);
	CU_ASSERT_EQUAL(account_pages(&a, 1000), 0);
	CU_ASSERT_EQUAL(account_pages(&a, 1001), 100);
	CU_ASSERT_EQUAL(account_pages(&a, 7), 0);
	account_done(&a);
}

/* What fn wrote to stderr (fd 2), NUL-terminated, into buf. */
static void capture_stderr(void (*fn)(void *), void *arg, char *buf, size_t len)
{
	FILE *tmp = tmpfile();
	int saved = dup(2);
	size_t n;

	CU_ASSERT_FATAL(tmp && saved >= 0);
	fflush(stderr);
	dup2(fileno(tmp), 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, len - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
}

static void over_uncharge(void *arg)
{
	account_uncharge(arg, 1000, 7);
}

/* Giving back 7 pages of 5 is a bug of the daemon's own bookkeeping: at
 * debug level 1 and up it is said, and the charge stops at 0. */
static void test_underflow(void)
{
	struct account a;
	char out[512];

	if (VMD_DEBUG < 1) {
		printf("(debug_checks=0: the check is not built) ");
		return;
	}
	log_set_level(VM_LOG_ERR);
	account_init(&a);
	CU_ASSERT_EQUAL(account_charge(&a, 1000, 5, 0), 0);
	capture_stderr(over_uncharge, &a, out, sizeof(out));
	T_ASSERT_MSG(strstr(out, "vmallocd bug: uid 1000 gives back 7 pages but was charged 5"),
		     "stderr: %s", out);
	CU_ASSERT_EQUAL(account_pages(&a, 1000), 0);
	account_done(&a);
}

static int sum(void *ctx, uint32_t uid, uint64_t pages)
{
	(void)uid;
	*(uint64_t *)ctx += pages;
	return 0;
}

/* Every block seen once, deleting as the walk goes (as a closing
 * connection frees its scoped blocks), across the table's growth. */
static void test_blocks(void)
{
	enum { N = 300 };
	struct account a;
	unsigned seen = 0, left = 0;
	uint64_t total = 0;

	account_init(&a);
	for (unsigned i = 0; i < N; i++) {
		struct page_block b = { .pfn = (uint64_t)i << 3, .uid = 1000 + i % 3,
					.cookie = i % 2, .order = 3, .scoped = i % 2 };

		CU_ASSERT_EQUAL_FATAL(account_add_block(&a, &b), 0);
		CU_ASSERT_EQUAL(account_charge(&a, b.uid, 8, 0), 0);
	}
	CU_ASSERT_PTR_NOT_NULL(account_find_block(&a, (5u << 3) + 7));
	CU_ASSERT_PTR_NULL(account_get_block(&a, (5u << 3) + 7));
	for (struct page_block *b = account_first_block(&a); b; b = account_next_block(&a, b)) {
		seen++;
		if (b->scoped) {
			account_uncharge(&a, b->uid, 8);
			account_del_block(&a, b);
		}
	}
	CU_ASSERT_EQUAL(seen, N);
	for (struct page_block *b = account_first_block(&a); b; b = account_next_block(&a, b)) {
		CU_ASSERT_FALSE(b->scoped);
		left++;
	}
	CU_ASSERT_EQUAL(left, N / 2);
	CU_ASSERT_EQUAL(account_for_each_uid(&a, sum, &total), 0);
	CU_ASSERT_EQUAL(total, 8ull * (N / 2));
	account_done(&a);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "charge", test_charge },
		{ "underflow", test_underflow },
		{ "blocks", test_blocks },
		{ NULL, NULL },
	};

	return t_main("account", cases, argc, argv);
}
