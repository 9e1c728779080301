/* keymap.c -- the replay's key map (keymap.h).
 *
 * Invariant: every used slot is reachable from its home slot
 * (hash(key) >> (64 - bits)) by a run of used slots; removal keeps it by
 * moving later members of the run back into the hole.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keymap.h"

#define MIN_BITS 10

static inline uint64_t home(const struct vt_keymap *m, uint64_t key)
{
	/* Fibonacci hashing: the high bits of key * 2^64/phi mix the page
	 * offsets and alignments that addresses share. */
	return (key * 0x9e3779b97f4a7c15ull) >> (64 - m->bits);
}

static int rehash(struct vt_keymap *m, unsigned bits)
{
	struct vt_keymap_entry *old = m->slots, *slots;
	uint64_t old_size = m->slots ? m->mask + 1 : 0;

	slots = calloc(1ull << bits, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	m->slots = slots;
	m->bits = bits;
	m->mask = (1ull << bits) - 1;
	for (uint64_t i = 0; i < old_size; i++) {
		uint64_t j;

		if (!old[i].used)
			continue;
		for (j = home(m, old[i].key); slots[j].used; j = (j + 1) & m->mask)
			;
		slots[j] = old[i];
	}
	free(old);
	return 0;
}

int vt_keymap_init(struct vt_keymap *m)
{
	memset(m, 0, sizeof(*m));
	return rehash(m, MIN_BITS);
}

void vt_keymap_done(struct vt_keymap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

struct vt_keymap_entry *vt_keymap_find(const struct vt_keymap *m, uint64_t key)
{
	for (uint64_t i = home(m, key);; i = (i + 1) & m->mask) {
		struct vt_keymap_entry *e = &m->slots[i];

		if (!e->used)
			return NULL;
		if (e->key == key)
			return e;
	}
}

int vt_keymap_insert(struct vt_keymap *m, uint64_t key, struct vt_keymap_entry **ret_entry)
{
	struct vt_keymap_entry *e = vt_keymap_find(m, key);
	uint64_t i;

	if (e) {
		*ret_entry = e;
		return 0;
	}
	if ((m->nr + 1) * 10 > (m->mask + 1) * 7) {
		int r = rehash(m, m->bits + 1);

		if (r < 0)
			return r;
	}
	for (i = home(m, key); m->slots[i].used; i = (i + 1) & m->mask)
		;
	e = &m->slots[i];
	memset(e, 0, sizeof(*e));
	e->key = key;
	e->used = VT_KEY_LIVE;
	m->nr++;
	*ret_entry = e;
	return 0;
}

void vt_keymap_remove(struct vt_keymap *m, struct vt_keymap_entry *e)
{
	uint64_t i = (uint64_t)(e - m->slots), j = i;

	for (;;) {
		uint64_t k;

		j = (j + 1) & m->mask;
		if (!m->slots[j].used)
			break;
		k = home(m, m->slots[j].key);
		/* Slot j stays if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		m->slots[i] = m->slots[j];
		i = j;
	}
	memset(&m->slots[i], 0, sizeof(m->slots[i]));
	m->nr--;
	/* Shrinking is best effort: a failed allocation keeps the larger table. */
	if (m->bits > MIN_BITS && m->nr * 8 < m->mask + 1)
		(void)rehash(m, m->bits - 1);
}
