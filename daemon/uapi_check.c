/* uapi_check.c -- compile-time proof that the public header agrees with
 * the daemon: every gfp, VM_* and protection value, limit and query kind
 * that client/vmclient.h defines for clients equals the engine's (lib/) or
 * the protocol's (proto/) own definition, so the two can never drift.  It
 * produces no code.
 *
 * Both headers use the kernel's names (GFP_KERNEL, VM_USERMAP, PAGE_KERNEL),
 * so the public values are captured as enumerators first, the macros
 * undefined, and the engine's headers included after.
 */
#include "vmclient.h"

/* The kernel-named macros the public header and the engine both define. */
#define UAPI_SHARED_NAMES(X) \
	X(__GFP_DMA) \
	X(__GFP_HIGHMEM) \
	X(__GFP_DMA32) \
	X(__GFP_MOVABLE) \
	X(__GFP_HIGH) \
	X(__GFP_IO) \
	X(__GFP_FS) \
	X(__GFP_DIRECT_RECLAIM) \
	X(__GFP_KSWAPD_RECLAIM) \
	X(__GFP_RECLAIM) \
	X(__GFP_NOWARN) \
	X(__GFP_RETRY_MAYFAIL) \
	X(__GFP_NOFAIL) \
	X(__GFP_NORETRY) \
	X(__GFP_MEMALLOC) \
	X(__GFP_ZERO) \
	X(__GFP_THISNODE) \
	X(__GFP_ACCOUNT) \
	X(GFP_ATOMIC) \
	X(GFP_KERNEL) \
	X(GFP_NOWAIT) \
	X(GFP_NOIO) \
	X(GFP_NOFS) \
	X(GFP_USER) \
	X(GFP_DMA) \
	X(GFP_DMA32) \
	X(GFP_HIGHUSER) \
	X(VM_IOREMAP) \
	X(VM_ALLOC) \
	X(VM_MAP) \
	X(VM_USERMAP) \
	X(VM_DMA_COHERENT) \
	X(VM_UNINITIALIZED) \
	X(VM_NO_GUARD) \
	X(VM_PROT_READ) \
	X(VM_PROT_WRITE) \
	X(VM_PROT_EXEC) \
	X(PAGE_KERNEL) \
	X(PAGE_KERNEL_RO) \
	X(PAGE_KERNEL_EXEC)

#define UAPI_CAPTURE(name) uapi_##name = (name),
enum { UAPI_SHARED_NAMES(UAPI_CAPTURE) };
/* Every public gfp bit, for the check that the engine accepts no other. */
enum { uapi_all_gfp = __GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE | __GFP_HIGH |
		      __GFP_IO | __GFP_FS | __GFP_RECLAIM | __GFP_NOWARN | __GFP_RETRY_MAYFAIL |
		      __GFP_NOFAIL | __GFP_NORETRY | __GFP_MEMALLOC | __GFP_ZERO | __GFP_THISNODE | __GFP_ACCOUNT,
       uapi_request_flags = VMC_VM_REQUEST_FLAGS };

#undef __GFP_DMA
#undef __GFP_HIGHMEM
#undef __GFP_DMA32
#undef __GFP_MOVABLE
#undef __GFP_HIGH
#undef __GFP_IO
#undef __GFP_FS
#undef __GFP_DIRECT_RECLAIM
#undef __GFP_KSWAPD_RECLAIM
#undef __GFP_RECLAIM
#undef __GFP_NOWARN
#undef __GFP_RETRY_MAYFAIL
#undef __GFP_NOFAIL
#undef __GFP_NORETRY
#undef __GFP_MEMALLOC
#undef __GFP_ZERO
#undef __GFP_THISNODE
#undef __GFP_ACCOUNT
#undef GFP_ATOMIC
#undef GFP_KERNEL
#undef GFP_NOWAIT
#undef GFP_NOIO
#undef GFP_NOFS
#undef GFP_USER
#undef GFP_DMA
#undef GFP_DMA32
#undef GFP_HIGHUSER
#undef VM_IOREMAP
#undef VM_ALLOC
#undef VM_MAP
#undef VM_USERMAP
#undef VM_DMA_COHERENT
#undef VM_UNINITIALIZED
#undef VM_NO_GUARD
#undef VM_PROT_READ
#undef VM_PROT_WRITE
#undef VM_PROT_EXEC
#undef PAGE_KERNEL
#undef PAGE_KERNEL_RO
#undef PAGE_KERNEL_EXEC
#undef VMC_VM_REQUEST_FLAGS

#include "frame.h"
#include "vmalloc.pb-c.h"
#include "vmcore.h"

#define UAPI_SAME(name) \
	_Static_assert(uapi_##name == (name), #name " differs between vmclient.h and the engine");
UAPI_SHARED_NAMES(UAPI_SAME)

_Static_assert(uapi_all_gfp == GFP_VALID_MASK,
	       "vmclient.h and the engine know different gfp bits");
_Static_assert(uapi_request_flags == VM_FLAGS_CALLER_MASK,
	       "VMC_VM_REQUEST_FLAGS differs from the engine's VM_FLAGS_CALLER_MASK");

/* The protocol and the machine. */
_Static_assert(VMC_PROTO_VERSION == VMD_PROTO_VERSION, "protocol version");
_Static_assert(VMC_MAX_FRAME == VMD_MAX_FRAME, "largest frame");
_Static_assert(VMC_MAX_IO == VMD_MAX_IO, "largest read or write");
_Static_assert(VMC_MAX_REPLY == VMD_MAX_REPLY, "largest reply");
_Static_assert(VMC_CALLER_MAX == VM_CALLER_MAX, "caller string length");
_Static_assert(VMC_PAGE_SHIFT == VM_PAGE_SHIFT && VMC_PAGE_SIZE == VM_PAGE_SIZE, "page size");
_Static_assert(VMC_MAX_PAGE_ORDER == VM_MAX_PAGE_ORDER && VMC_NR_ORDERS == VM_NR_ORDERS,
	       "buddy orders");
_Static_assert(VMC_MAX_NODES == VM_MAX_NODES && VMC_NO_NODE == NUMA_NO_NODE, "NUMA nodes");

/* The query kinds are the protocol's values. */
_Static_assert((int)VMC_MEMINFO == (int)VMALLOCD__V1__QUERY_KIND__QUERY_MEMINFO, "VMC_MEMINFO");
_Static_assert((int)VMC_BUDDYINFO == (int)VMALLOCD__V1__QUERY_KIND__QUERY_BUDDYINFO, "VMC_BUDDYINFO");
_Static_assert((int)VMC_FRAG == (int)VMALLOCD__V1__QUERY_KIND__QUERY_FRAG, "VMC_FRAG");
_Static_assert((int)VMC_STAT == (int)VMALLOCD__V1__QUERY_KIND__QUERY_STAT, "VMC_STAT");
_Static_assert((int)VMC_LEAKS == (int)VMALLOCD__V1__QUERY_KIND__QUERY_LEAKS, "VMC_LEAKS");
_Static_assert((int)VMC_VMALLOCINFO == (int)VMALLOCD__V1__QUERY_KIND__QUERY_VMALLOCINFO, "VMC_VMALLOCINFO");
_Static_assert((int)VMC_MAP_QUERY == (int)VMALLOCD__V1__QUERY_KIND__QUERY_MAP, "VMC_MAP_QUERY");
_Static_assert((int)VMC_FC_VMALLOC == (int)VM_FC_VMALLOC && (int)VMC_FC_PGTABLE == (int)VM_FC_PGTABLE &&
	       (int)VMC_FC_ALLOC_PAGES == (int)VM_FC_ALLOC_PAGES &&
	       (int)VMC_FC_PAGE_ARRAY == (int)VM_FC_PAGE_ARRAY &&
	       (int)VMC_NR_FRAME_CLASSES == (int)VM_NR_FRAME_CLASSES, "frame classes");
_Static_assert((int)VMC_KC_VMALLOC == (int)VM_KC_VMALLOC && (int)VMC_KC_VMAP == (int)VM_KC_VMAP &&
	       (int)VMC_KC_GUARD == (int)VM_KC_GUARD && (int)VMC_KC_LAZY == (int)VM_KC_LAZY &&
	       (int)VMC_KC_POOL == (int)VM_KC_POOL && (int)VMC_NR_KVA_CLASSES == (int)VM_NR_KVA_CLASSES,
	       "KVA classes");
