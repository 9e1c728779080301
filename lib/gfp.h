/* gfp.h -- allocation flags (gfp_t) understood by the simulated page allocator.
 *
 * The bits and their meaning follow the kernel's include/linux/gfp_types.h
 * closely enough that a kernel developer reads them the same way; the
 * numeric values are vmallocd's own and are part of the wire protocol, so
 * they never change once released.
 */
#ifndef VMCORE_GFP_H
#define VMCORE_GFP_H

#include <stdint.h>

typedef uint32_t gfp_t;

/* Zone modifiers: at most one of them picks the highest zone usable. */
#define __GFP_DMA        ((gfp_t)0x0001u)
#define __GFP_HIGHMEM    ((gfp_t)0x0002u)
#define __GFP_DMA32      ((gfp_t)0x0004u)
#define __GFP_MOVABLE    ((gfp_t)0x0008u)
#define GFP_ZONEMASK     (__GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE)

/* Reclaim and reserve modifiers. */
#define __GFP_HIGH            ((gfp_t)0x0020u) /* may use part of the min reserve */
#define __GFP_IO              ((gfp_t)0x0040u)
#define __GFP_FS              ((gfp_t)0x0080u)
#define __GFP_DIRECT_RECLAIM  ((gfp_t)0x0400u) /* caller may sleep */
#define __GFP_KSWAPD_RECLAIM  ((gfp_t)0x0800u)
#define __GFP_RECLAIM         (__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM)

/* Action modifiers. */
#define __GFP_NOWARN     ((gfp_t)0x2000u)  /* no "allocation failure" warning */
#define __GFP_RETRY_MAYFAIL ((gfp_t)0x4000u)
#define __GFP_NOFAIL     ((gfp_t)0x8000u)  /* retry; the last attempt may use part of
					    * the min reserve (how much: the kernel's) */
#define __GFP_NORETRY    ((gfp_t)0x10000u) /* give up early (the page allocator does
					    * not retry here anyway) */
#define __GFP_MEMALLOC   ((gfp_t)0x20000u) /* ALLOC_NO_WATERMARKS: may take every free
					    * frame (the kernel's reclaim paths) */
#define __GFP_ZERO       ((gfp_t)0x100000u)
#define __GFP_THISNODE   ((gfp_t)0x200000u) /* no fallback to other nodes */
#define __GFP_ACCOUNT    ((gfp_t)0x400000u)

/* The usual combinations. */
#define GFP_ATOMIC   (__GFP_HIGH | __GFP_KSWAPD_RECLAIM)
#define GFP_KERNEL   (__GFP_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_NOWAIT   (__GFP_KSWAPD_RECLAIM)
#define GFP_NOIO     (__GFP_RECLAIM)
#define GFP_NOFS     (__GFP_RECLAIM | __GFP_IO)
#define GFP_USER     (__GFP_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_DMA      __GFP_DMA
#define GFP_DMA32    __GFP_DMA32
#define GFP_HIGHUSER (GFP_USER | __GFP_HIGHMEM)

/* Every bit above; anything else in a gfp_t is rejected with -EINVAL. */
#define GFP_VALID_MASK (GFP_ZONEMASK | __GFP_HIGH | __GFP_IO | __GFP_FS | \
			__GFP_RECLAIM | __GFP_NOWARN | __GFP_RETRY_MAYFAIL | \
			__GFP_NOFAIL | __GFP_NORETRY | __GFP_MEMALLOC | __GFP_ZERO | \
			__GFP_THISNODE | __GFP_ACCOUNT)

#endif /* VMCORE_GFP_H */
