/* caller.c -- interned caller strings ("symbol+0xoff/0xsize").
 *
 * Areas store a pointer to one shared copy of their caller string, so a
 * million areas from one call site cost one string.  Each copy counts its
 * holders (the areas that name it, and the engine's current caller while
 * it is that one) and goes when the last lets go, so the table holds only
 * strings in use: a client sending a new string with every request costs
 * nothing once its areas are gone.  Open addressing with linear probing
 * and backward-shift deletion; the table doubles at 50% load and halves
 * below 1/8.  Invariants: nr_used < nr_slots / 2 + 1; every string's refs
 * >= 1.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"

struct caller {
	uint32_t refs;
	char s[];
};

static struct caller *caller_of(const char *s)
{
	return (struct caller *)(void *)(s - offsetof(struct caller, s));
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static int table_resize(struct caller_table *t, size_t n)
{
	char **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->nr_slots; i++) {
		size_t j;

		if (!t->slots[i])
			continue;
		j = hash_str(t->slots[i]) & (n - 1);
		while (slots[j])
			j = (j + 1) & (n - 1);
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->nr_slots = n;
	return 0;
}

int vmi_caller_intern(struct caller_table *t, const char *s, const char **ret)
{
	struct caller *c;
	size_t len, i;

	if (!s) {
		*ret = NULL;
		return 0;
	}
	len = strnlen(s, VM_CALLER_MAX + 1);
	if (len > VM_CALLER_MAX)
		return -EINVAL;
	if ((t->nr_used + 1) * 2 > t->nr_slots &&
	    table_resize(t, t->nr_slots ? t->nr_slots * 2 : 64) < 0)
		return -ENOMEM;
	i = hash_str(s) & (t->nr_slots - 1);
	for (; t->slots[i]; i = (i + 1) & (t->nr_slots - 1)) {
		if (strcmp(t->slots[i], s) == 0) {
			caller_of(t->slots[i])->refs++;
			*ret = t->slots[i];
			return 0;
		}
	}
	c = malloc(sizeof(*c) + len + 1);
	if (!c)
		return -ENOMEM;
	c->refs = 1;
	memcpy(c->s, s, len + 1);
	t->slots[i] = c->s;
	t->nr_used++;
	t->bytes += len + 1;
	*ret = c->s;
	return 0;
}

void vmi_caller_get(const char *s)
{
	if (s)
		caller_of(s)->refs++;
}

/* Take slot i out, moving later members of its probe run back so every
 * string stays reachable from its home slot. */
static void slot_delete(struct caller_table *t, size_t i)
{
	size_t mask = t->nr_slots - 1, j = i;

	for (;;) {
		size_t k;

		j = (j + 1) & mask;
		if (!t->slots[j])
			break;
		k = hash_str(t->slots[j]) & mask;
		/* Leave slots[j] where it is if its home k lies in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	t->slots[i] = NULL;
}

void vmi_caller_put(struct caller_table *t, const char *s)
{
	struct caller *c;
	size_t i;

	if (!s)
		return;
	c = caller_of(s);
	if (--c->refs)
		return;
	for (i = hash_str(s) & (t->nr_slots - 1); t->slots[i] != s; i = (i + 1) & (t->nr_slots - 1))
		;
	slot_delete(t, i);
	t->nr_used--;
	t->bytes -= strlen(s) + 1;
	free(c);
	/* Shrinking is optional: a failure keeps the larger table. */
	if (t->nr_slots > 64 && t->nr_used * 8 < t->nr_slots)
		(void)table_resize(t, t->nr_slots / 2);
}

void vmi_caller_destroy(struct caller_table *t)
{
	for (size_t i = 0; i < t->nr_slots; i++)
		if (t->slots[i])
			free(caller_of(t->slots[i]));
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
