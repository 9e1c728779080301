/* account.c -- per-uid page accounting for quotas, and the table of blocks
 * handed out by alloc_pages (who owns them, which connection, scoped or not),
 * which the engine does not track by owner.
 *
 * The block table is open addressing on the head pfn with tombstones,
 * resized at 50% load; deleting leaves a tombstone, so a walk may delete
 * the block at hand.  Invariant: Σ uid pages == vmalloc pages charged +
 * alloc_pages frames of live blocks; giving back more than a uid was
 * charged breaks it and is reported as a bug (VMD_DEBUG >= 1).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmallocd.h"

#define EMPTY UINT64_MAX

void account_init(struct account *a)
{
	memset(a, 0, sizeof(*a));
}

void account_done(struct account *a)
{
	free(a->uids);
	free(a->blocks);
	memset(a, 0, sizeof(*a));
}

static struct uid_account *find_uid(const struct account *a, uint32_t uid)
{
	for (size_t i = 0; i < a->nr_uids; i++)
		if (a->uids[i].uid == uid)
			return &a->uids[i];
	return NULL;
}

uint64_t account_pages(const struct account *a, uint32_t uid)
{
	struct uid_account *u = find_uid(a, uid);

	return u ? u->pages : 0;
}

int account_charge(struct account *a, uint32_t uid, uint64_t pages, uint64_t quota)
{
	struct uid_account *u = find_uid(a, uid);

	if (quota && (u ? u->pages : 0) + pages > quota)
		return -EDQUOT;
	if (!u) {
		if (a->nr_uids == a->cap_uids) {
			size_t cap = a->cap_uids ? a->cap_uids * 2 : 16;
			struct uid_account *n = realloc(a->uids, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			a->uids = n;
			a->cap_uids = cap;
		}
		u = &a->uids[a->nr_uids++];
		u->uid = uid;
		u->pages = 0;
	}
	u->pages += pages;
	return 0;
}

void account_uncharge(struct account *a, uint32_t uid, uint64_t pages)
{
	struct uid_account *u = find_uid(a, uid);
	uint64_t had = u ? u->pages : 0;

	if (VMD_DEBUG >= 1 && pages > had)
		vmd_log(VM_LOG_ERR, "vmallocd bug: uid %u gives back %llu pages but was charged %llu",
			uid, (unsigned long long)pages, (unsigned long long)had);
	if (u)
		u->pages = had > pages ? had - pages : 0;
}

int account_for_each_uid(const struct account *a,
			 int (*fn)(void *ctx, uint32_t uid, uint64_t pages), void *ctx)
{
	for (size_t i = 0; i < a->nr_uids; i++) {
		int r = fn(ctx, a->uids[i].uid, a->uids[i].pages);

		if (r)
			return r;
	}
	return 0;
}

static size_t slot_of(uint64_t pfn, size_t cap)
{
	return (size_t)((pfn * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

static int blocks_grow(struct account *a)
{
	size_t cap = a->cap_blocks ? a->cap_blocks * 2 : 64;
	struct page_block *n = malloc(cap * sizeof(*n));

	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++) {
		n[i].pfn = EMPTY;
		n[i].tomb = false;
	}
	for (size_t i = 0; i < a->cap_blocks; i++) {
		size_t j;

		if (a->blocks[i].pfn == EMPTY || a->blocks[i].tomb)
			continue;
		for (j = slot_of(a->blocks[i].pfn, cap); n[j].pfn != EMPTY; j = (j + 1) & (cap - 1))
			;
		n[j] = a->blocks[i];
	}
	free(a->blocks);
	a->blocks = n;
	a->cap_blocks = cap;
	a->nr_tombs = 0;
	return 0;
}

int account_add_block(struct account *a, const struct page_block *b)
{
	size_t j;

	if ((a->nr_blocks + a->nr_tombs + 1) * 2 > a->cap_blocks && blocks_grow(a) < 0)
		return -ENOMEM;
	for (j = slot_of(b->pfn, a->cap_blocks); a->blocks[j].pfn != EMPTY && !a->blocks[j].tomb;
	     j = (j + 1) & (a->cap_blocks - 1))
		;
	if (a->blocks[j].tomb)
		a->nr_tombs--;
	a->blocks[j] = *b;
	a->blocks[j].tomb = false;
	a->nr_blocks++;
	return 0;
}

struct page_block *account_get_block(struct account *a, uint64_t head)
{
	if (!a->cap_blocks)
		return NULL;
	for (size_t j = slot_of(head, a->cap_blocks); a->blocks[j].pfn != EMPTY;
	     j = (j + 1) & (a->cap_blocks - 1))
		if (!a->blocks[j].tomb && a->blocks[j].pfn == head)
			return &a->blocks[j];
	return NULL;
}

struct page_block *account_find_block(struct account *a, uint64_t pfn)
{
	/* pfn lies in a block of order o only if that block starts at pfn
	 * rounded down to 2^o: at most 11 probes. */
	for (unsigned o = 0; o <= VM_MAX_PAGE_ORDER; o++) {
		struct page_block *b = account_get_block(a, pfn & ~((1ull << o) - 1));

		if (b && b->order >= o)
			return b;
	}
	return NULL;
}

void account_del_block(struct account *a, struct page_block *b)
{
	b->tomb = true;
	a->nr_blocks--;
	a->nr_tombs++;
}

/* The first live block at or after slot i, or NULL. */
static struct page_block *live_from(struct account *a, size_t i)
{
	for (; i < a->cap_blocks; i++)
		if (a->blocks[i].pfn != EMPTY && !a->blocks[i].tomb)
			return &a->blocks[i];
	return NULL;
}

struct page_block *account_first_block(struct account *a)
{
	return live_from(a, 0);
}

struct page_block *account_next_block(struct account *a, struct page_block *b)
{
	/* A deleted block is a tombstone in its slot: nothing moves. */
	return live_from(a, (size_t)(b - a->blocks) + 1);
}
