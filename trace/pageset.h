/* pageset.h -- a sparse set of pages of a kernel virtual address range.
 *
 * The start-state inference (prestate.c) asks two questions of a trace's
 * addresses: has any page of this range been freed in the trace so far, and
 * does this range overlap one already placed.  A set of pages answers both
 * in memory that follows the pages touched, not the range (32 TiB of x86_64
 * vmalloc space): 2 MiB chunks of 512 bits each, in an open-addressing table
 * keyed by the chunk's number, grown at 70 % load.
 *
 * Invariant: nr == the number of used slots; a chunk is in the table iff one
 * of its bits was ever set (bits are never cleared).
 */
#ifndef VT_PAGESET_H
#define VT_PAGESET_H

#include <stdbool.h>
#include <stdint.h>

#define VT_PAGESET_CHUNK_BITS 9                 /* 512 pages: 2 MiB of 4 KiB pages */

struct vt_pageset_chunk {
	uint64_t chunk;                         /* page >> VT_PAGESET_CHUNK_BITS */
	uint64_t bits[8];                       /* page & 511 -> bit */
	bool used;
};

struct vt_pageset {
	struct vt_pageset_chunk *slots;
	uint64_t mask;                          /* slots - 1; 0 before the first add */
	uint64_t nr;                            /* used slots */
};

/* An empty set (no memory until the first add).  Can't fail. */
void vt_pageset_init(struct vt_pageset *s);
/* Free the table; the set may be initialised again.  Can't fail. */
void vt_pageset_done(struct vt_pageset *s);

/* Add pages [page, page + n).  -ENOMEM leaves the pages added so far in
 * the set (each chunk is complete or untouched). */
int vt_pageset_add(struct vt_pageset *s, uint64_t page, uint64_t n);
/* True if any page of [page, page + n) is in the set.  Can't fail. */
bool vt_pageset_any(const struct vt_pageset *s, uint64_t page, uint64_t n);

#endif /* VT_PAGESET_H */
