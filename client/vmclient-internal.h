/* vmclient-internal.h -- what the files of libvmclient share: the client
 * object, the pipelined request pump and the caller-string cache.
 *
 * Glossary
 *   frame    4-byte big-endian length + one serialized Request or Reply.
 *   xfer     one pipelined exchange: n requests packed on demand into the
 *            write buffer and their n replies handled in order.
 *   ra       the return address of a public call: where the user called us.
 *
 * Names: vmc_ is public (vmclient.h), vmci_ is shared between the files of
 * the library, plain static otherwise.  Nothing here is exported.
 */
#ifndef VMCLIENT_INTERNAL_H
#define VMCLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "vmalloc.pb-c.h"
#include "vmclient.h"

/* Every vmc_* definition carries this; the library is built with hidden
 * visibility and a version script, so nothing else leaves the .so. */
#define VMC_EXPORT __attribute__((visibility("default")))

/* The caller of the public function we are in. */
#define VMC_RA() __builtin_return_address(0)

#define VMC_MSG_MAX     512     /* daemon message kept for vmc_last_message */

struct vmci_caller_cache;

struct vmc_client {
	int fd;                     /* -1 once a transport error closed it */
	int timeout_ms;             /* per reply; 0: wait forever */
	bool scoped;                /* vmc_set_scoped */
	bool to_parent;             /* vmc_set_attribute_to_parent */
	bool hello_pending;         /* the Hello sent by vmc_connect is unanswered */
	uint64_t hello_id;          /* its request id */
	char *caller;               /* vmc_set_caller; NULL: resolve per call */
	uint64_t next_id;           /* id of the next request; starts at 1 */
	uint32_t max_io;            /* data bytes per read/write frame */
	uint32_t max_frame;         /* largest request payload we send */
	struct vmc_hello hello;     /* from the last Hello reply */
	struct vmc_test_vmalloc tv; /* ... and its test_vmalloc module */
	struct vmc_identity id;     /* ... and the daemon's identity */
	char path[108];             /* the socket, for a reconnect */
	unsigned nr_reconnects;     /* transparent reconnects made */

	/* Outgoing frames: bytes [wpos, wlen) of wbuf are packed, not yet sent. */
	uint8_t *wbuf;
	size_t wpos, wlen, wcap;
	/* Incoming bytes: [rpos, rlen) of rbuf are received, not yet parsed. */
	uint8_t *rbuf;
	size_t rpos, rlen, rcap;
	/* Replies are unpacked into this arena and it is reset after each. */
	struct vmd_arena arena;

	struct vmci_caller_cache *callers;  /* lazily allocated */
	char caller_tmp[VMC_CALLER_MAX + 1];  /* used if the cache can't be */
	char msg[VMC_MSG_MAX];              /* vmc_last_message */
	bool msg_kept;                      /* msg holds this call's first daemon error */
};

/* Scratch space for the sub-message of one request, so building a request
 * never allocates. */
union vmci_sub {
	Vmallocd__V1__HelloRequest hello;
	Vmallocd__V1__AllocRequest alloc;
	Vmallocd__V1__FreeRequest free;
	Vmallocd__V1__ReallocRequest realloc;
	Vmallocd__V1__VmapRequest vmap;
	Vmallocd__V1__VunmapRequest vunmap;
	Vmallocd__V1__AllocPagesRequest alloc_pages;
	Vmallocd__V1__FreePagesRequest free_pages;
	Vmallocd__V1__ReadRequest read;
	Vmallocd__V1__WriteRequest write;
	Vmallocd__V1__PhysReadRequest phys_read;
	Vmallocd__V1__PhysWriteRequest phys_write;
	Vmallocd__V1__TranslateRequest translate;
	Vmallocd__V1__AreaInfoRequest area_info;
	Vmallocd__V1__QueryRequest query;
	Vmallocd__V1__CheckRequest check;
	Vmallocd__V1__PurgeRequest purge;
	Vmallocd__V1__VmMapRamRequest vm_map_ram;
	Vmallocd__V1__VmUnmapRamRequest vm_unmap_ram;
	Vmallocd__V1__AllocPercpuRequest alloc_percpu;
	Vmallocd__V1__FreePercpuRequest free_percpu;
	Vmallocd__V1__KvfreeRcuRequest kvfree_rcu;
};

/*
 * One pipelined exchange.  build() fills request i (its id is set by the
 * pump); it may point into sub, which lives until the request is packed.
 * done() consumes reply i (its id already checked); it stores the request's
 * own status where its ctx says and returns 0, or a negative errno that is a
 * protocol violation (-EPROTO), after which the connection is closed.
 */
struct vmci_xfer {
	size_t n;                   /* requests */
	size_t window;              /* packed bytes kept ahead of the socket; 0: all at once */
	int (*build)(struct vmci_xfer *x, size_t i, Vmallocd__V1__Request *req,
		     union vmci_sub *sub);
	int (*done)(struct vmci_xfer *x, size_t i, const Vmallocd__V1__Reply *rep);
	struct vmc_client *c;
	void *ctx;
};

/* conn.c */

/* Run x: pack and send its requests (at most x->window bytes ahead of the
 * socket), read and hand its replies to x->done in order, reading and
 * writing at the same time so a long pipeline never deadlocks.
 * Returns 0 when all n replies were handled (their statuses are wherever
 * done put them).  If build fails for request i, the i requests already
 * sent are still completed and build's error is returned, connection intact.
 * Any transport or protocol error closes the connection and is returned;
 * *ret_done (may be NULL) says how many replies were handled either way. */
int vmci_xfer_run(struct vmci_xfer *x, size_t *ret_done);

/* The streaming form: requests already packed (vmci_pack, ids base,
 * base + 1, ...), n of them unanswered.  Sends what is packed and hands the
 * replies that arrive to x->done (index i for id base + i) until at least
 * min are handled in all (*nd counts them, in and out), waiting as needed;
 * with min 0, only what has arrived, never waiting.  x->build is not used.
 * A transport or protocol error closes the connection and is returned. */
int vmci_xfer_pump(struct vmci_xfer *x, uint64_t base, size_t n, size_t min, size_t *nd);

/* Check a reply's status: *ret_status gets 0 or the daemon's negative errno
 * (its message goes to c->msg if it is the call's first error).  Returns -EPROTO (connection to be closed)
 * for a status that is not 0 or -1..-4095, or for a successful reply that
 * lacks the result want (NOT_SET: none expected); 0 otherwise. */
int vmci_reply_status(struct vmc_client *c, const Vmallocd__V1__Reply *rep,
		      Vmallocd__V1__Reply__ResultCase want, int *ret_status);

/* Record a message for vmc_last_message, printf-style, as this call's
 * (later daemon errors of the same call do not replace it).  Can't fail. */
void vmci_set_msg(struct vmc_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Pack req into the write buffer as one frame.  -EMSGSIZE if it exceeds
 * c->max_frame, -ENOMEM; the buffer is unchanged on error. */
int vmci_pack(struct vmc_client *c, const Vmallocd__V1__Request *req);

/* Send the packed frames that the socket takes without blocking: 0 once
 * all are out, -EAGAIN if the socket filled first (the rest stay packed),
 * else the transport error (connection closed). */
int vmci_flush(struct vmc_client *c);

/* Wait for the answer to vmc_connect's Hello if it is still pending, so
 * the daemon's limits are known: 0 or the error (connection closed). */
int vmci_settle(struct vmc_client *c);

/* Data bytes to put in one read or write frame: max_io, less if the
 * daemon's max_frame is smaller.  Can't fail. */
uint32_t vmci_chunk(const struct vmc_client *c);

/* The connection dropped (the daemon restarted): connect again to the
 * same socket (waiting up to 5 s for it to come back), say Hello and wait
 * for the answer.  0; -ESTALE if the daemon now serves another machine
 * (its state_generation changed: addresses learned before mean nothing);
 * or the connect's error. */
int vmci_reconnect(struct vmc_client *c);

/* Close the socket after a transport error; later calls get -ENOTCONN. */
void vmci_disconnect(struct vmc_client *c);

/* vmclient.c */

/* The parent_pid to put in an allocating request: getppid() after
 * vmc_set_attribute_to_parent(c, true), else 0.  Can't fail. */
uint32_t vmci_parent_pid(const struct vmc_client *c);

/* caller.c */

/* The caller string to send for a call whose return address is ra:
 * c->caller if set, else "symbol+0xoff/0xsize" (or "0x<addr>"), cached per
 * ra.  The pointer is valid until the next vmci_caller() on c.  Can't fail:
 * without memory for the cache it formats into a per-client fallback. */
const char *vmci_caller(struct vmc_client *c, const void *ra);
void vmci_caller_free(struct vmc_client *c);

#endif /* VMCLIENT_INTERNAL_H */
