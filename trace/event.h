/* event.h -- one event of an allocation trace, whatever format it came from.
 *
 * Every parser of trace/ (ftrace text, the bpftrace capture, CS:APP malloc
 * lab, glibc mtrace, the native format) turns its input into a stream of
 * struct vt_event; the replay (replay.h) turns that stream into calls of a
 * vmalloc implementation.  An event says what the traced system did, not
 * what a replay should do: a free names the address the trace freed, and the
 * replay maps it to the address its own allocation got.
 *
 * Glossary
 *   key        what identifies an object across its events: the address the
 *              trace recorded (VT_EV_ADDR), or an object id (VT_EV_ID: the
 *              malloc lab's block ids).  Held in addr (and new_addr).
 *   KVA size   the kernel virtual address range an area takes, guard page
 *              included, as alloc_vmap_area reports it (VT_EV_KVA_SIZE);
 *              otherwise size is the bytes the caller asked for.
 *   gfp        vmallocd's gfp flags (client/vmclient.h: the wire's values,
 *              which are the engine's), translated from the kernel's names or
 *              bits; bits vmallocd does not model (__GFP_COMP,
 *              __GFP_HARDWALL ...) are dropped.
 *
 * Fields an event's format does not carry hold their "unknown" value: -1 for
 * cpu, pid, tgid and node, VT_TS_NONE for the timestamp, 0 and a clear flag
 * bit for the rest.
 */
#ifndef VT_EVENT_H
#define VT_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vt_op {
	VT_OP_ALLOC = 0,   /* an area: size, align, window, gfp, vm_flags, node, caller; addr = result */
	VT_OP_FREE,        /* vfree, vunmap, free_vmap_area_noflush: addr; nr_lazy after it */
	VT_OP_REALLOC,     /* vrealloc, realloc: addr = old, size = new size, new_addr = result */
	VT_OP_PURGE,       /* the traced kernel purged lazy areas: vstart..vend, count = areas */
	VT_OP_PAGE_ALLOC,  /* alloc_pages: pfn, order, gfp, migratetype */
	VT_OP_PAGE_FREE,   /* free_pages: pfn, order */
	VT_NR_OPS
};

/* Which fields hold recorded values. */
#define VT_EV_ADDR      0x0001u  /* addr is an address the trace recorded */
#define VT_EV_ID        0x0002u  /* addr is an object id, not an address */
#define VT_EV_NEW_ADDR  0x0004u  /* new_addr recorded (REALLOC) */
#define VT_EV_FAILED    0x0008u  /* the traced call failed (no address came back) */
#define VT_EV_KVA_SIZE  0x0010u  /* size is the KVA taken, guard page included */
#define VT_EV_ALIGN     0x0020u
#define VT_EV_WINDOW    0x0040u  /* vstart, vend: the KVA window asked for */
#define VT_EV_GFP       0x0080u
#define VT_EV_VM_FLAGS  0x0100u
#define VT_EV_NODE      0x0200u
#define VT_EV_LAZY      0x0400u  /* nr_lazy, nr_lazy_max (free_vmap_area_noflush) */
#define VT_EV_ATOMIC    0x0800u  /* vfree_atomic, or a free deferred to a worker */
#define VT_EV_UNMAP     0x1000u  /* the free was vunmap or another non-vfree path */
#define VT_EV_ALL_FLAGS 0x1fffu

#define VT_TS_NONE UINT64_MAX

/* The longest caller or comm string kept (the engine's VM_CALLER_MAX);
 * longer ones are cut to it. */
#define VT_STR_MAX 255

struct vt_event {
	enum vt_op op;
	uint32_t flags;         /* VT_EV_* */
	uint64_t line;          /* line of the source trace (1-based) */
	uint64_t ts_ns;         /* timestamp in ns, VT_TS_NONE if none */
	int32_t cpu;            /* -1: unknown */
	int32_t pid, tgid;      /* -1: unknown */
	int32_t node;           /* -1: NUMA_NO_NODE or unknown */
	uint64_t size;          /* bytes (see VT_EV_KVA_SIZE) */
	uint64_t align;         /* bytes, a power of two */
	uint64_t vstart, vend;  /* the window [vstart, vend) */
	uint64_t addr;          /* the key: address or id (see VT_EV_ADDR, VT_EV_ID) */
	uint64_t new_addr;      /* REALLOC: the key of the result */
	uint64_t nr_lazy;       /* pages lazily freed, this area's included */
	uint64_t nr_lazy_max;   /* the traced kernel's lazy_max_pages() */
	uint64_t count;         /* PURGE: areas purged */
	uint64_t pfn;           /* PAGE_*: first frame */
	uint32_t gfp;           /* vmallocd's gfp flags */
	uint32_t vm_flags;      /* VM_* as in include/linux/vmalloc.h */
	uint8_t order;          /* PAGE_*: 2^order frames */
	int8_t migratetype;     /* PAGE_ALLOC, -1 unknown */
	const char *caller;     /* "symbol+0xoff/0xsize" or NULL; valid until the next event */
	const char *comm;       /* task name or NULL; valid until the next event */
};

/* Reset ev to an event of op with every field unknown.  Can't fail. */
void vt_event_init(struct vt_event *ev, enum vt_op op);

/* Every field of a and b equal, caller and comm compared as strings (both
 * NULL, or equal text).  Can't fail. */
bool vt_event_equal(const struct vt_event *a, const struct vt_event *b);

/* "alloc", "free", "realloc", "purge", "page_alloc", "page_free"; NULL for
 * anything else. */
const char *vt_op_name(enum vt_op op);

#ifdef __cplusplus
}
#endif

#endif /* VT_EVENT_H */
