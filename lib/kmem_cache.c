/* kmem_cache.c -- fixed-size object caches for vmap_area and vm_struct.
 *
 * Objects are carved from slabs of about 64 KiB and recycled through a free
 * list, so the hot paths (one vmalloc, one vfree) never call malloc for
 * their descriptors.  Slabs are returned to the host only when the cache is
 * destroyed.  Invariant: nr_active == objects handed out and not yet freed.
 */
#include <stdlib.h>

#include "vm-internal.h"

#define SLAB_BYTES (64u * 1024u)

void vmi_cache_init(struct kmem_cache *c, size_t obj_size)
{
	c->obj_size = obj_size < sizeof(void *) ? sizeof(void *) : obj_size;
	c->obj_size = (c->obj_size + 15) & ~(size_t)15;
	c->objs_per_slab = (SLAB_BYTES - 16) / c->obj_size;
	c->free = NULL;
	c->slabs = NULL;
	c->nr_slabs = 0;
	c->nr_active = 0;
}

static int cache_grow(struct kmem_cache *c)
{
	char *slab = malloc(SLAB_BYTES);

	if (!slab)
		return -1;
	*(void **)slab = c->slabs;
	c->slabs = slab;
	c->nr_slabs++;
	/* The first 16 bytes link the slab; objects follow. */
	for (size_t i = c->objs_per_slab; i-- > 0;) {
		void *obj = slab + 16 + i * c->obj_size;

		*(void **)obj = c->free;
		c->free = obj;
	}
	return 0;
}

void *vmi_cache_alloc(struct kmem_cache *c)
{
	void *obj;

	if (!c->free && cache_grow(c) < 0)
		return NULL;
	obj = c->free;
	c->free = *(void **)obj;
	c->nr_active++;
	return obj;
}

void vmi_cache_free(struct kmem_cache *c, void *obj)
{
	if (!obj)
		return;
	*(void **)obj = c->free;
	c->free = obj;
	c->nr_active--;
}

void vmi_cache_destroy(struct kmem_cache *c)
{
	while (c->slabs) {
		void *next = *(void **)c->slabs;

		free(c->slabs);
		c->slabs = next;
	}
	c->free = NULL;
	c->nr_slabs = 0;
	c->nr_active = 0;
}
