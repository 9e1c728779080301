/* objects.c -- what the daemon records of the machine's objects that carry
 * no vm_struct and so no owner in the engine: vm_map_ram mappings and
 * per-CPU objects.  For each: its owner uid and allocating pid, the
 * connection that made it and whether it is scoped to it, its size, and the
 * pages charged to the owner for it.
 *
 * Open addressing on the object's address with tombstones, resized at 50%
 * load, like the block table of account.c.  Invariant: every live
 * vm_map_ram mapping and per-CPU object the daemon made is in the table,
 * and nothing else.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmallocd.h"

#define EMPTY UINT64_MAX

void objects_init(struct objects *o)
{
	memset(o, 0, sizeof(*o));
}

void objects_done(struct objects *o)
{
	free(o->v);
	memset(o, 0, sizeof(*o));
}

static size_t slot_of(uint64_t addr, size_t cap)
{
	return (size_t)(((addr >> 2) * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

static int grow(struct objects *o)
{
	size_t cap = o->cap ? o->cap * 2 : 64;
	struct vmd_object *n = malloc(cap * sizeof(*n));

	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++) {
		n[i].addr = EMPTY;
		n[i].tomb = false;
	}
	for (size_t i = 0; i < o->cap; i++) {
		size_t j;

		if (o->v[i].addr == EMPTY || o->v[i].tomb)
			continue;
		for (j = slot_of(o->v[i].addr, cap); n[j].addr != EMPTY; j = (j + 1) & (cap - 1))
			;
		n[j] = o->v[i];
	}
	free(o->v);
	o->v = n;
	o->cap = cap;
	o->nr_tombs = 0;
	return 0;
}

int objects_add(struct objects *o, const struct vmd_object *x)
{
	size_t j;

	if ((o->nr + o->nr_tombs + 1) * 2 > o->cap && grow(o) < 0)
		return -ENOMEM;
	for (j = slot_of(x->addr, o->cap); o->v[j].addr != EMPTY && !o->v[j].tomb;
	     j = (j + 1) & (o->cap - 1))
		;
	if (o->v[j].tomb)
		o->nr_tombs--;
	o->v[j] = *x;
	o->v[j].tomb = false;
	o->nr++;
	return 0;
}

struct vmd_object *objects_get(struct objects *o, uint64_t addr, enum vmd_object_kind kind)
{
	if (!o->cap)
		return NULL;
	for (size_t j = slot_of(addr, o->cap); o->v[j].addr != EMPTY; j = (j + 1) & (o->cap - 1))
		if (!o->v[j].tomb && o->v[j].addr == addr)
			return o->v[j].kind == kind ? &o->v[j] : NULL;
	return NULL;
}

void objects_del(struct objects *o, struct vmd_object *x)
{
	x->tomb = true;
	o->nr--;
	o->nr_tombs++;
}
