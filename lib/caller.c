/* caller.c -- interned caller strings ("symbol+0xoff/0xsize").
 *
 * Areas store a pointer to one shared copy of their caller string, so a
 * million areas from one call site cost one string.  Open addressing with
 * linear probing; the table doubles at 50% load.  Strings live until the
 * engine is destroyed.  Invariant: nr_used < nr_slots / 2 + 1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm-internal.h"

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static int table_grow(struct caller_table *t)
{
	size_t n = t->nr_slots ? t->nr_slots * 2 : 64;
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
	size_t len, i;
	char *copy;

	if (!s) {
		*ret = NULL;
		return 0;
	}
	len = strnlen(s, VM_CALLER_MAX + 1);
	if (len > VM_CALLER_MAX)
		return -EINVAL;
	if ((t->nr_used + 1) * 2 > t->nr_slots && table_grow(t) < 0)
		return -ENOMEM;
	i = hash_str(s) & (t->nr_slots - 1);
	for (; t->slots[i]; i = (i + 1) & (t->nr_slots - 1)) {
		if (strcmp(t->slots[i], s) == 0) {
			*ret = t->slots[i];
			return 0;
		}
	}
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, len + 1);
	t->slots[i] = copy;
	t->nr_used++;
	t->bytes += len + 1;
	*ret = copy;
	return 0;
}

void vmi_caller_destroy(struct caller_table *t)
{
	for (size_t i = 0; i < t->nr_slots; i++)
		free(t->slots[i]);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
