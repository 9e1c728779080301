/* vmclient.h -- libvmclient, the C client of vmallocd.
 *
 * This header is complete: a program includes it alone and links
 * -lvmclient (pkg-config vmclient).  It defines every number a request
 * carries or a reply reports -- gfp flags, VM_* flags, protection bits, the
 * protocol's limits, the machine's orders and nodes, the query kinds --
 * with the values vmallocd uses (the daemon checks at build time that its
 * engine's are the same).  Names follow the kernel's (GFP_KERNEL, VM_USERMAP,
 * PAGE_KERNEL) where the concept is the kernel's, VMC_ otherwise.
 *
 * Every call returns 0 or a negative errno; results come back through the
 * last (out) parameters, written only on success.  Errors are the daemon's
 * (-EINVAL, -ENOMEM, -EPERM, -EFAULT, -ENOENT, -EDQUOT, ...) or the
 * transport's (-ECONNREFUSED, -ENOENT for a missing socket, -EPIPE,
 * -ECONNRESET, -ETIMEDOUT, -EPROTO for a reply that does not parse).
 * After a transport error the connection is closed; further calls return
 * -ENOTCONN.  vmc_last_message() gives the daemon's text for the last error.
 * A call that fails leaves its out parameters untouched, except the buffer
 * of a read, whose contents are then unspecified.
 *
 * A struct vmc_client is not thread-safe: use one per thread.  The protocol
 * itself is described in docs/protocol.md; libvmclient(3) is the manual.
 */
#ifndef VMCLIENT_H
#define VMCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the protocol and the machine ------------------------------------------ */

#define VMC_PROTO_VERSION  2              /* the Hello version this library speaks */
#define VMC_MAX_FRAME      (2u << 20)     /* largest request payload a daemon accepts, bytes */
#define VMC_MAX_IO         (1u << 20)     /* largest data in one read or write frame, bytes */
#define VMC_MAX_REPLY      (256u << 20)   /* largest reply payload, bytes */
#define VMC_CALLER_MAX     255            /* longest caller string, bytes (NUL excluded) */

#define VMC_PAGE_SHIFT     12
#define VMC_PAGE_SIZE      (1u << VMC_PAGE_SHIFT)     /* 4096 */
#define VMC_MAX_PAGE_ORDER 10             /* the kernel's MAX_PAGE_ORDER: 4 MiB blocks */
#define VMC_NR_ORDERS      (VMC_MAX_PAGE_ORDER + 1)   /* entries in a per-order array */
#define VMC_MAX_NODES      64             /* NUMA nodes a machine may have */
#define VMC_NO_NODE        (-1)           /* "any node" (the kernel's NUMA_NO_NODE) */

/* ---- gfp flags (gfp_t), as include/linux/gfp_types.h names them --------------
 * The bit values are vmallocd's own (docs/protocol.md section 9); any bit
 * outside these is refused with -EINVAL. */

/* Zone modifiers: at most one applies; it picks the highest usable zone. */
#define __GFP_DMA             0x0001u
#define __GFP_HIGHMEM         0x0002u
#define __GFP_DMA32           0x0004u
#define __GFP_MOVABLE         0x0008u
/* Reclaim and reserve modifiers. */
#define __GFP_HIGH            0x0020u   /* may use part of the min reserve */
#define __GFP_IO              0x0040u
#define __GFP_FS              0x0080u
#define __GFP_DIRECT_RECLAIM  0x0400u   /* the caller may sleep */
#define __GFP_KSWAPD_RECLAIM  0x0800u
#define __GFP_RECLAIM         (__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM)
/* Action modifiers. */
#define __GFP_NOWARN          0x2000u   /* no "allocation failure" line in the daemon's log */
#define __GFP_RETRY_MAYFAIL   0x4000u
#define __GFP_NOFAIL          0x8000u   /* its last attempt may dig into the min reserve */
#define __GFP_NORETRY         0x10000u  /* no purge-and-retry when the KVA space is full */
#define __GFP_MEMALLOC        0x20000u  /* may take every free frame, watermarks ignored */
#define __GFP_ZERO            0x100000u /* zeroed memory */
#define __GFP_THISNODE        0x200000u /* no fallback to other nodes */
#define __GFP_ACCOUNT         0x400000u
/* The usual combinations. */
#define GFP_ATOMIC            (__GFP_HIGH | __GFP_KSWAPD_RECLAIM)
#define GFP_KERNEL            (__GFP_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_NOWAIT            (__GFP_KSWAPD_RECLAIM)
#define GFP_NOIO              (__GFP_RECLAIM)
#define GFP_NOFS              (__GFP_RECLAIM | __GFP_IO)
#define GFP_USER              (__GFP_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_DMA               __GFP_DMA
#define GFP_DMA32             __GFP_DMA32
#define GFP_HIGHUSER          (GFP_USER | __GFP_HIGHMEM)

/* ---- vm_struct flags, as include/linux/vmalloc.h names them ------------------
 * vmc_area.flags reports them; a request may carry only VMC_VM_REQUEST_FLAGS
 * (others: -EINVAL).  Scope is asked for with vmc_set_scoped() and reported
 * in vmc_area.scoped, never as a flag. */
#define VM_IOREMAP            0x0001u
#define VM_ALLOC              0x0002u   /* vmalloc: the area owns its frames ("vmalloc") */
#define VM_MAP                0x0004u   /* vmap: the frames belong to alloc_pages blocks ("vmap") */
#define VM_USERMAP            0x0008u   /* suitable for remap_vmalloc_range ("user") */
#define VM_DMA_COHERENT       0x0010u
#define VM_UNINITIALIZED      0x0020u   /* set while the pages are being mapped */
#define VM_NO_GUARD           0x0040u   /* no guard page after the area */
#define VMC_VM_REQUEST_FLAGS  (VM_USERMAP | VM_NO_GUARD | VM_DMA_COHERENT)

/* ---- protection bits (pgprot_t) ------------------------------------------------- */
#define VM_PROT_READ          0x1u
#define VM_PROT_WRITE         0x2u
#define VM_PROT_EXEC          0x4u
#define PAGE_KERNEL           (VM_PROT_READ | VM_PROT_WRITE)
#define PAGE_KERNEL_RO        (VM_PROT_READ)
#define PAGE_KERNEL_EXEC      (VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXEC)

struct vmc_client;

/* ---- connection ---------------------------------------------------------- */

/* Connect to the daemon.  socket_path NULL: $VMALLOCD_SOCKET, else
 * /run/vmallocd/vmallocd.sock for root, else $XDG_RUNTIME_DIR/vmallocd.sock
 * (/tmp/vmallocd-UID.sock without $XDG_RUNTIME_DIR), and if that does not
 * exist but the system daemon's socket does, the system socket.  Sends the
 * protocol Hello (version VMC_PROTO_VERSION) without waiting for its answer
 * (see vmc_hello).  -ENOENT, -ECONNREFUSED, -EACCES, -ENAMETOOLONG from
 * connecting, -ENOMEM; *out is set only on success.  The socket is
 * close-on-exec. */
int vmc_connect(const char *socket_path, struct vmc_client **out);
/* Close and free; NULL is fine.  Scoped areas of this connection are freed
 * by the daemon. */
void vmc_close(struct vmc_client *c);

/* The socket path vmc_connect(NULL, ...) would use, in buf.  -ENAMETOOLONG
 * if it does not fit in len bytes (or in a sockaddr_un); buf untouched. */
int vmc_default_socket(char *buf, size_t len);

/* Give up on a reply after ms milliseconds (-ETIMEDOUT, and the connection
 * is closed); 0 waits forever (the default).  The clock restarts with each
 * reply, so a long pipelined read or write is not cut short.  Can't fail. */
void vmc_set_timeout(struct vmc_client *c, int ms);

/* The caller string recorded with new areas (shown in vmallocinfo).  By
 * default each call resolves its own caller like the kernel's %pS:
 * "symbol+0xoff/0xsize", from the return address of the vmc_* call (cached
 * per call site).  Only dynamic symbols resolve: link a program with
 * -rdynamic to see its own functions, else the string is "0x<addr>".
 * NULL restores the default.  -ENOMEM, -EINVAL (longer than 255 bytes);
 * the previous setting stays on error. */
int vmc_set_caller(struct vmc_client *c, const char *caller);

/* Make what this connection allocates from now on (vmalloc family, vmap,
 * alloc_pages) scoped: freed by the daemon when the connection closes.
 * Can't fail. */
void vmc_set_scoped(struct vmc_client *c, bool scoped);

/* Record this process's parent, not this process, as the allocating process
 * of what this connection allocates from now on (vmalloc family, vmap,
 * alloc_pages; realloc keeps the old area's).  An area is reported leaked
 * once its allocating process is gone: a short-lived tool (vmctl) uses this
 * so that what it makes at a shell prompt is leaked only when that shell
 * exits.  The daemon checks the claim against /proc where it can see the
 * process.  Can't fail. */
void vmc_set_attribute_to_parent(struct vmc_client *c, bool parent);

/* The daemon's message for the last failed call on c ("" if none; for a
 * read, write or batch made of several requests, its first failure's); for
 * a transport or protocol error, the library's own description.  The text
 * stays until another call fails.  NULL c gives "". */
const char *vmc_last_message(const struct vmc_client *c);

/* strerror() for the negative errno values these calls return (the sign
 * is ignored; "Unknown error" for values that are not errnos).  The string
 * is static.  Can't fail. */
const char *vmc_strerror(int err);

/* What the daemon said to Hello.  vmc_connect() sends a Hello (protocol
 * version VMC_PROTO_VERSION) as the connection's first request without
 * waiting for the answer; the answer is checked before the first call's
 * reply, and a daemon that refuses the version, or answers with another,
 * fails that call (-EPROTONOSUPPORT, the versions in vmc_last_message). */
struct vmc_hello {
	uint32_t version;      /* the protocol version the daemon speaks here */
	char server[64];       /* e.g. "vmallocd 0.1.0" (truncated) */
	uint32_t max_frame;    /* largest frame payload it accepts, bytes */
	uint32_t max_io;       /* largest data in one read or write frame, bytes */
	uint32_t uid, pid;     /* the peer identity it sees for this connection */
	char kernel[16];       /* the kernel its machine follows: "6.18", "4.19" */
	unsigned nr_cpus;      /* the machine's simulated CPUs */
};
/* Send a Hello and wait for the answer: one round trip, so also a ping.
 * Transport errors only (a daemon error status is returned as is). */
int vmc_hello(struct vmc_client *c, struct vmc_hello *out);

/* What the machine's kernel's lib/test_vmalloc.c has, from its Hello: the
 * cases (bits of run_test_mask: 1 fix_size_alloc_test ... 1024
 * vm_map_ram_test), run_test_mask's default, the cases expected to fail,
 * and whether the Summary line counts those as "xfailed: N" (6.18) or as
 * failed (4.19, whose entry is the first module's, 5.1).  One round trip;
 * all zero from a daemon that does not say. */
struct vmc_test_vmalloc {
	uint32_t cases;
	uint32_t default_mask;
	uint32_t xfail;
	bool summary_xfailed;
};
int vmc_test_vmalloc_desc(struct vmc_client *c, struct vmc_test_vmalloc *out);

/* Which daemon answers, and which machine it serves, from a Hello (one
 * round trip).  boot_id is drawn at random each time a daemon process
 * starts: a different one means the daemon was restarted (an upgrade, a
 * crash).  state_generation names the machine's lineage: it stays the same
 * while the machine's state continues across restarts (areas, bytes and
 * owners kept, vmallocd(8) "Nothing lost"), and is new when the daemon
 * started with an empty machine (no state kept, --discard-state).  An
 * address learned from a daemon of another state_generation means nothing
 * here.  Both are 0 from a daemon that does not say. */
struct vmc_identity {
	uint64_t boot_id;
	uint64_t state_generation;
};
int vmc_identity(struct vmc_client *c, struct vmc_identity *out);

/* Reconnecting.  When the connection drops under a call that changes
 * nothing -- vmc_hello, vmc_test_vmalloc_desc, vmc_identity, vmc_read,
 * vmc_phys_read, vmc_translate, vmc_area_info, vmc_query_text, vmc_areas,
 * vmc_meminfo, vmc_zones, vmc_map, vmc_stat, vmc_check -- the library
 * connects again to the same socket once (waiting up to 5 s for a
 * restarting daemon to listen), says Hello, and sends the call again:
 * the caller sees only its result.  If the new daemon serves another
 * machine (its state_generation differs: it started empty), the call fails
 * with -ESTALE instead, and vmc_last_message says so.  Calls that change
 * the machine (the vmalloc family, frees, writes, batches, purge) are never
 * sent twice: they fail with the transport's error (-EPIPE, -ECONNRESET,
 * -ENOTCONN), as whether they took effect is not known.  Scoped areas of
 * the dropped connection are gone (the daemon released them, or they did
 * not survive its restart).  The number of such reconnects so far; compare
 * vmc_identity()'s boot_id to tell the daemon restarted. */
unsigned vmc_reconnects(const struct vmc_client *c);

/* Write the whole machine (its configuration, the engine's state, the
 * daemon's tables: owners, callers, quotas' charges, and the bytes of every
 * frame that holds any) to fd, from its current offset 0: the machine as
 * it is at this call, taken in one step by the daemon and read in chunks.
 * `vmallocd --restore FILE` starts a daemon from it.  Root only (-EPERM).
 * 0 with the snapshot's length in *ret_len (may be NULL), a daemon error,
 * or a write error of fd (negative errno). */
int vmc_snapshot_save(struct vmc_client *c, int fd, uint64_t *ret_len);

/* ---- the vmalloc family -------------------------------------------------------
 *
 * As the kernel functions of the same names; addr gets the area's start.
 * -EINVAL (size 0, bad node/flags/alignment), -ENOMEM (no frames or KVA),
 * -EDQUOT (over the uid's page quota).  vfree/vunmap: -EINVAL unless addr is
 * the start of a live area of the right kind, -EPERM if another uid's.
 */

int vmc_vmalloc(struct vmc_client *c, uint64_t size, uint64_t *addr);
int vmc_vzalloc(struct vmc_client *c, uint64_t size, uint64_t *addr);
int vmc_vfree(struct vmc_client *c, uint64_t addr);
int vmc_vmalloc_node(struct vmc_client *c, uint64_t size, int node, uint64_t *addr);
int vmc_vzalloc_node(struct vmc_client *c, uint64_t size, int node, uint64_t *addr);
int vmc_vmalloc_32(struct vmc_client *c, uint64_t size, uint64_t *addr);
int vmc_vmalloc_user(struct vmc_client *c, uint64_t size, uint64_t *addr);
int vmc_vmalloc_32_user(struct vmc_client *c, uint64_t size, uint64_t *addr);
int vmc___vmalloc(struct vmc_client *c, uint64_t size, uint32_t gfp, uint64_t *addr);

/* The full form, __vmalloc_node_range().  Start from VMC_ALLOC_OPTS_INIT
 * (any node, every default), then set what you need: a plain zero
 * initialisation means node 0, not "any". */
struct vmc_alloc_opts {
	uint64_t align;        /* power of two, 0: a page */
	uint64_t start, end;   /* KVA window [start, end); 0, 0: whole range */
	uint32_t gfp;          /* 0: GFP_KERNEL | __GFP_HIGHMEM (the area's pages come from
				* HighMem anyway, unless GFP_DMA or GFP_DMA32) */
	uint32_t prot;         /* 0: PAGE_KERNEL */
	uint32_t vm_flags;     /* VMC_VM_REQUEST_FLAGS: VM_USERMAP, VM_NO_GUARD, VM_DMA_COHERENT */
	int node;              /* VMC_NO_NODE or a node */
	bool scoped;
	const char *caller;    /* NULL: the default */
};
/* Every field in order (C and C++ alike): align, start, end, gfp, prot,
 * vm_flags, node, scoped, caller. */
#define VMC_ALLOC_OPTS_INIT { 0, 0, 0, 0, 0, 0, VMC_NO_NODE, false, NULL }
/* opts NULL: every default, any node.  -EINVAL also for a caller string
 * over VMC_CALLER_MAX bytes or a vm_flags bit outside
 * VMC_VM_REQUEST_FLAGS (with the daemon's reason). */
int vmc_vmalloc_node_range(struct vmc_client *c, uint64_t size,
			   const struct vmc_alloc_opts *opts, uint64_t *addr);

/* Kernel vrealloc: addr 0 allocates, size 0 frees (*new_addr 0); the
 * contents move if the area must.  -EINVAL unless addr starts a vmalloc
 * area. */
int vmc_vrealloc(struct vmc_client *c, uint64_t addr, uint64_t size, uint32_t gfp,
		 uint64_t *new_addr);
/* Map count frames from vmc_alloc_pages contiguously (flags:
 * VMC_VM_REQUEST_FLAGS; prot 0: PAGE_KERNEL).  -EINVAL (count 0, a pfn not from
 * alloc_pages), -EPERM, -EMSGSIZE if the pfn list cannot fit in a frame
 * (about 200000 pfns). */
int vmc_vmap(struct vmc_client *c, const uint64_t *pfns, uint64_t count, uint32_t flags,
	     uint32_t prot, uint64_t *addr);
int vmc_vunmap(struct vmc_client *c, uint64_t addr);
/* vm_map_ram(): map count frames from vmc_alloc_pages (the caller's; a
 * scoped block only by a scoped mapping of its own connection) for a short
 * while, as the kernel's per-CPU vmap blocks do: no guard page and no
 * vm_struct (vmc_area_info finds nothing; vmallocinfo shows the whole
 * block as one "vm_map_ram" line, on 6.18), read and written like an area.
 * vm_unmap_ram() takes exactly the address and count one vm_map_ram()
 * gave (-EINVAL otherwise), -EPERM if another uid's. */
int vmc_vm_map_ram(struct vmc_client *c, const uint64_t *pfns, uint64_t count, int node,
		   uint64_t *addr);
int vmc_vm_unmap_ram(struct vmc_client *c, uint64_t addr, uint64_t count);
/* __alloc_percpu(size, align): a zeroed object of 1..32768 bytes (aligned
 * to a power of two up to 4096, 0: 4) in every CPU's unit of a per-CPU
 * chunk; *ptr is CPU 0's copy (CPU n's is n * pcpu_unit_size above it,
 * vmc_stat), which only root may read or write: the chunk is the
 * machine's.  The owner is charged the pages the object spans in every
 * CPU's unit.  free_percpu: -EINVAL unless ptr is a live object, -EPERM. */
int vmc_alloc_percpu(struct vmc_client *c, uint64_t size, uint64_t align, uint64_t *ptr);
int vmc_free_percpu(struct vmc_client *c, uint64_t ptr);
/* kvfree_rcu(addr, rhf) (head) or kvfree_rcu_mightsleep(addr) of a vmalloc
 * area: freed after a grace period (by the daemon: when this CPU's batch of
 * 507 is full, or 5 seconds later), its pages off the owner's quota now;
 * vfree and kvfree_rcu refuse it meanwhile.  -EOPNOTSUPP on a 4.19
 * machine (kvfree_rcu came in 5.9), -EINVAL, -EPERM as for vfree. */
int vmc_kvfree_rcu(struct vmc_client *c, uint64_t addr, bool head);

/* The buddy allocator: 2^order contiguous frames (node VMC_NO_NODE: any);
 * *pfn is the first.  free_pages: -EINVAL unless pfn/order name a live
 * block, -EBUSY while it is vmapped. */
int vmc_alloc_pages(struct vmc_client *c, uint32_t gfp, unsigned order, int node, uint64_t *pfn);
int vmc_free_pages(struct vmc_client *c, uint64_t pfn, unsigned order);

/* ---- data ---------------------------------------------------------------- */

/* Any length inside one area; split into as many frames as needed (each at
 * most VMC_MAX_IO bytes of data, fewer if the daemon's max_frame is
 * smaller), all sent before the replies are read.  -EFAULT if the range
 * leaves the area's mapped pages, -EPERM; with several chunks the first
 * chunk's error is returned.  len 0 does nothing and succeeds.  phys_*:
 * frames of an alloc_pages block, by its first pfn and a byte offset. */
int vmc_read(struct vmc_client *c, uint64_t addr, void *buf, uint64_t len);
int vmc_write(struct vmc_client *c, uint64_t addr, const void *buf, uint64_t len);
int vmc_phys_read(struct vmc_client *c, uint64_t pfn, uint64_t offset, void *buf, uint64_t len);
int vmc_phys_write(struct vmc_client *c, uint64_t pfn, uint64_t offset, const void *buf,
		   uint64_t len);

struct vmc_translation {
	uint64_t pfn;
	uint64_t phys_addr;
	int node;
	char zone[16];
};
/* vmalloc_to_pfn by a page-table walk.  -EINVAL outside the vmalloc
 * range, -ENXIO if nothing is mapped there, -EPERM. */
int vmc_translate(struct vmc_client *c, uint64_t addr, struct vmc_translation *out);

/* ---- areas and queries ---------------------------------------------------------- */

struct vmc_area {
	uint64_t addr, size;   /* size: KVA bytes, the guard page included */
	uint32_t flags, prot;  /* VM_*; VM_PROT_* */
	uint64_t nr_pages;     /* frames mapped */
	uint64_t phys_addr;    /* VM_IOREMAP areas only, else 0 */
	uint32_t uid, pid;     /* owner uid; the allocating process */
	char caller[VMC_CALLER_MAX + 1];
	unsigned nr_nodes;     /* entries in nr_per_node: the machine's nodes */
	uint32_t nr_per_node[VMC_MAX_NODES];   /* frames per node */
	bool scoped;           /* freed when the allocating connection closes */
	bool leaked;           /* the allocating process is gone */
};
/* find_vm_area: the area holding addr (guard page included).  -ENOENT if
 * none, -EPERM if another uid's. */
int vmc_area_info(struct vmc_client *c, uint64_t addr, struct vmc_area *out);

/* The query kinds, with their protocol values (QueryKind): no kind is 0,
 * which the protocol keeps for "not set". */
enum vmc_query {
	VMC_MEMINFO = 1,       /* /proc/meminfo's memory and vmalloc lines */
	VMC_BUDDYINFO = 2,     /* /proc/buddyinfo */
	VMC_FRAG = 3,          /* unusable_index lines, then extfrag_index lines */
	VMC_STAT = 4,          /* "name: value" lines of the counters */
	VMC_LEAKS = 5,         /* one line per area whose allocating process is gone */
	VMC_VMALLOCINFO = 6,   /* /proc/vmallocinfo (a non-root caller's own areas) */
	VMC_MAP_QUERY = 7,     /* no text: vmc_map() */
};
/* The kind's text, in the kernel's format, malloc'd and NUL-terminated:
 * free() it.  -EINVAL for a value not in enum vmc_query, -ENOMEM. */
int vmc_query_text(struct vmc_client *c, enum vmc_query q, char **text);

/* The areas the caller may see (all for root, its own otherwise), or with
 * leaks_only those whose allocating process is gone.  *areas is malloc'd
 * (free() it), NULL when *count is 0. */
int vmc_areas(struct vmc_client *c, bool leaks_only, struct vmc_area **areas, size_t *count);

struct vmc_meminfo {   /* kB */
	uint64_t mem_total, mem_free, high_total, high_free, low_total, low_free;
	uint64_t page_tables, vmalloc_total, vmalloc_used, vmalloc_chunk;
};
int vmc_meminfo(struct vmc_client *c, struct vmc_meminfo *out);

struct vmc_zone {
	int node;
	char name[16];                /* "DMA", "DMA32", "Normal", "HighMem", "Movable" */
	uint64_t start_pfn, end_pfn;  /* the zone is [start_pfn, end_pfn) */
	uint64_t managed, free;       /* frames */
	uint64_t wmark_min, wmark_low, wmark_high;   /* frames */
	uint64_t nr_free[VMC_NR_ORDERS];         /* free blocks per order */
	int unusable_index[VMC_NR_ORDERS];       /* thousandths */
	int extfrag_index[VMC_NR_ORDERS];        /* thousandths; -1000: a block of that order is free */
};
/* Every populated zone, node by node, lowest zone first, with its free
 * lists and fragmentation indices.  *zones is malloc'd (free() it), NULL
 * when *count is 0. */
int vmc_zones(struct vmc_client *c, struct vmc_zone **zones, size_t *count);

/* The memory maps (docs/protocol.md, "Maps"): the physical map, one cell
 * per frames_per_cell frames (a power of two chosen by the daemon so that
 * the span fits max_cells), and the vmalloc range's map in bins. */
enum vmc_frame_class {
	VMC_FC_FREE = 0,               /* + order: free, in a buddy block of that order */
	VMC_FC_VMALLOC = VMC_NR_ORDERS, /* a page of a vmalloc area */
	VMC_FC_PGTABLE,                /* a page-table page */
	VMC_FC_ALLOC_PAGES,            /* part of an alloc_pages block */
	VMC_FC_PAGE_ARRAY,             /* a page of a vmalloc'd page array */
	VMC_NR_FRAME_CLASSES
};
enum vmc_kva_class {
	VMC_KC_FREE = 0, VMC_KC_VMALLOC, VMC_KC_VMAP, VMC_KC_GUARD, VMC_KC_LAZY, VMC_KC_POOL,
	VMC_NR_KVA_CLASSES
};
struct vmc_map_request {
	uint64_t start_pfn, end_pfn;   /* 0, 0: every frame */
	unsigned max_cells;            /* 0: 262144; at most 1048576 */
	uint64_t kva_start, kva_end;   /* page aligned; 0, 0: the whole vmalloc range */
	unsigned kva_bins;             /* 0: 1024; at most 65536 */
};
struct vmc_map {
	uint64_t start_pfn, end_pfn, frames_per_cell, nr_cells;
	uint8_t *frame_class;    /* nr_cells: the enum vmc_frame_class holding most frames */
	uint8_t *frame_free;     /* nr_cells: free frames in 256ths (255: all) */
	struct vmc_zone *zones;  /* every populated zone (nr_free filled in) */
	size_t nr_zones;
	uint64_t kva_start, kva_end, nr_bins;
	uint8_t *kva_class;      /* nr_bins: the enum vmc_kva_class holding most bytes */
	uint8_t *kva_busy;       /* nr_bins: non-free bytes in 256ths */
	struct vmc_area *areas;  /* areas at least 8 bins wide (at most 256); callers
				  * of other uids' areas blank unless root */
	size_t nr_areas;
};
/* Both maps (rq NULL: everything, the defaults).  0 with *out (release
 * with vmc_map_free()), -EINVAL for a span outside the machine or the
 * range, -E2BIG over the limits, -ENOMEM, -EPROTO. */
int vmc_map(struct vmc_client *c, const struct vmc_map_request *rq, struct vmc_map *out);
void vmc_map_free(struct vmc_map *m);

/* Engine and daemon counters (pages are 4 KiB frames; largest_free_kva is
 * in bytes); your_pages and your_quota (pages, 0: none) are the asking
 * uid's. */
struct vmc_stat {
	uint64_t total_pages, free_pages, pagetable_pages, vmalloc_pages, vmap_pages;
	uint64_t alloc_pages_pages, nr_areas, nr_lazy_areas, lazy_pages, lazy_max_pages;
	uint64_t nr_purges, nr_tlb_flushes, nr_alloc_failures, largest_free_kva;
	unsigned nr_nodes;
	char layout[16];
	uint64_t vmalloc_start, vmalloc_end;
	unsigned clients;
	uint64_t requests, uptime_ms, connections_total, errors;
	uint64_t your_pages, your_quota;
	char kernel[16];       /* "6.18", "4.19" */
	unsigned nr_cpus, nr_vmap_nodes;
	uint64_t nr_pooled_areas, pooled_pages;   /* 6.18's vmap node pools */
	bool work_pending;     /* a deferred purge is queued */
	bool work_delayed;     /* delayed work (kvfree_rcu's 5-second batch timer) is queued */
	uint64_t nr_vmap_blocks;     /* vm_map_ram's per-CPU vmap blocks */
	uint64_t vmap_block_pages;   /* pages one block spans */
	uint64_t map_ram_pages;      /* frames mapped by vm_map_ram */
	uint64_t nr_pcpu_chunks, nr_pcpu_objects;
	uint64_t pcpu_unit_size;     /* bytes per CPU per chunk */
	uint64_t percpu_pages;       /* frames populated in per-CPU chunks */
	uint64_t nr_kvfree_rcu;      /* areas waiting for kvfree_rcu's grace period */
	/* Frames that hold bytes in the host's memory, and the daemon's
	 * budget for them (max-resident; 0: none). */
	uint64_t resident_pages, max_resident_pages;
};
int vmc_stat(struct vmc_client *c, struct vmc_stat *out);

/* Run the daemon's invariant checker: 0, or -EUCLEAN with its finding in
 * msg.  Purge the lazy list now (root only: -EPERM otherwise). */
int vmc_check(struct vmc_client *c, char *msg, size_t msglen);
int vmc_purge(struct vmc_client *c);

/* ---- pipelining ------------------------------------------------------------------
 *
 * A batch queues requests without waiting; vmc_batch_run() sends them all
 * (in as few writes as it can) and reads the replies in order, storing each
 * request's status (0 or negative errno) and result where the queueing call
 * said.  Pointers given to the queueing calls must stay valid until run;
 * status pointers may be NULL.  A read or write longer than one frame
 * carries becomes several requests sharing one status (the first error
 * wins).  vmc_batch_run() returns 0 if every reply arrived (individual
 * statuses say how each request went), or the transport error, which is
 * then also the status of every request left without a reply.  Running a
 * batch again sends the same requests again; vmc_batch_clear() empties it
 * for reuse.  The queueing calls fail only with -EINVAL (bad arguments) or
 * -ENOMEM, queueing nothing.  A batch uses c, which must outlive it;
 * vmc_batch_free(NULL) is fine.  vmc_batch_size() is the number of queued
 * calls.
 */
struct vmc_batch;
int vmc_batch_new(struct vmc_client *c, struct vmc_batch **out);
void vmc_batch_free(struct vmc_batch *b);
void vmc_batch_clear(struct vmc_batch *b);
size_t vmc_batch_size(const struct vmc_batch *b);
int vmc_batch_vmalloc(struct vmc_batch *b, uint64_t size, uint64_t *addr, int *status);
int vmc_batch_vzalloc(struct vmc_batch *b, uint64_t size, uint64_t *addr, int *status);
int vmc_batch_vfree(struct vmc_batch *b, uint64_t addr, int *status);
int vmc_batch_write(struct vmc_batch *b, uint64_t addr, const void *buf, uint64_t len, int *status);
int vmc_batch_read(struct vmc_batch *b, uint64_t addr, void *buf, uint64_t len, int *status);
/* The rest of the family, as the calls of the same names above: opts (NULL:
 * every default) is copied, but its caller string and the pfn array are
 * read only at run, so they must stay valid until then.  *addr (*new_addr,
 * *pfn) is written when the call succeeds. */
int vmc_batch_vmalloc_node_range(struct vmc_batch *b, uint64_t size,
				 const struct vmc_alloc_opts *opts, uint64_t *addr, int *status);
int vmc_batch_vrealloc(struct vmc_batch *b, uint64_t addr, uint64_t size, uint32_t gfp,
		       uint64_t *new_addr, int *status);
int vmc_batch_vmap(struct vmc_batch *b, const uint64_t *pfns, uint64_t count, uint32_t flags,
		   uint32_t prot, uint64_t *addr, int *status);
int vmc_batch_vunmap(struct vmc_batch *b, uint64_t addr, int *status);
int vmc_batch_alloc_pages(struct vmc_batch *b, uint32_t gfp, unsigned order, int node,
			  uint64_t *pfn, int *status);
int vmc_batch_free_pages(struct vmc_batch *b, uint64_t pfn, unsigned order, int *status);
int vmc_batch_purge(struct vmc_batch *b, int *status);
int vmc_batch_vm_unmap_ram(struct vmc_batch *b, uint64_t addr, uint64_t count, int *status);
int vmc_batch_alloc_percpu(struct vmc_batch *b, uint64_t size, uint64_t align, uint64_t *ptr,
			   int *status);
int vmc_batch_free_percpu(struct vmc_batch *b, uint64_t ptr, int *status);
int vmc_batch_kvfree_rcu(struct vmc_batch *b, uint64_t addr, bool head, int *status);
int vmc_batch_run(struct vmc_batch *b);

/* A batch as a sliding window: calls go out as they are queued and come
 * back in order while more are prepared.  vmc_batch_send() sends every call
 * queued since the last send (one frame each: a read or write longer than
 * one frame is -EINVAL, nothing sent); only when the socket cannot take
 * them all does it also take the replies already there, without waiting
 * (what it cannot write yet goes out with the next send or reap).
 * vmc_batch_reap() waits until at least min of the calls
 * sent are answered (0: takes what has arrived), stores their statuses and
 * results as vmc_batch_run() would, drops the answered calls from the
 * front of the batch, and gives in *ret_done how many were answered since
 * the last reap, oldest first (vmc_batch_size() then counts those still
 * queued or in flight).  Both return 0 or a transport error, which is then
 * the status of every call left without a reply, the batch emptied and the
 * connection closed.  Use either this pair or vmc_batch_run() on a batch
 * until vmc_batch_clear(). */
int vmc_batch_send(struct vmc_batch *b);
int vmc_batch_reap(struct vmc_batch *b, size_t min, size_t *ret_done);

#ifdef __cplusplus
}
#endif

#endif /* VMCLIENT_H */
