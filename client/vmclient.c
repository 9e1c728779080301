/* vmclient.c -- libvmclient's calls: one request and its reply each, except
 * the data calls, which split into VMC_MAX_IO chunks and pipeline them.
 *
 * Every public function that can create an area takes its own return
 * address (VMC_RA) before doing anything else, so the caller string names
 * the user's code, not ours.  Results are copied out of the reply only once
 * it has been validated, so out parameters are untouched on failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmclient-internal.h"

#define RW_WINDOW (4u << 20)   /* packed bytes of reads/writes ahead of the socket */

/* ---------------------------------------------------------------------------
 * Settings
 */

VMC_EXPORT int vmc_set_caller(struct vmc_client *c, const char *caller)
{
	char *copy = NULL;

	if (!c)
		return -EINVAL;
	if (caller) {
		if (strnlen(caller, VMC_CALLER_MAX + 1) > VMC_CALLER_MAX)
			return -EINVAL;
		copy = strdup(caller);
		if (!copy)
			return -ENOMEM;
	}
	free(c->caller);
	c->caller = copy;
	return 0;
}

VMC_EXPORT void vmc_set_scoped(struct vmc_client *c, bool scoped)
{
	if (c)
		c->scoped = scoped;
}

VMC_EXPORT void vmc_set_attribute_to_parent(struct vmc_client *c, bool parent)
{
	if (c)
		c->to_parent = parent;
}

uint32_t vmci_parent_pid(const struct vmc_client *c)
{
	/* Asked at each call: a reparented process reports its new parent. */
	return c->to_parent ? (uint32_t)getppid() : 0;
}

VMC_EXPORT const char *vmc_last_message(const struct vmc_client *c)
{
	return c ? c->msg : "";
}

VMC_EXPORT const char *vmc_strerror(int err)
{
	const char *s;

	if (err < 0)
		err = -err;
#ifdef HAVE_STRERRORDESC_NP
	s = strerrordesc_np(err);
#else
	s = strerror(err);
#endif
	return s ? s : "Unknown error";
}

/* ---------------------------------------------------------------------------
 * One request, one reply
 */

/* take() copies the result of a successful reply to out; it validates
 * before writing and returns 0 or -EPROTO. */
typedef int take_fn(const Vmallocd__V1__Reply *rep, void *out);

struct one {
	const Vmallocd__V1__Request *req;
	Vmallocd__V1__Reply__ResultCase want;
	take_fn *take;
	void *out;
	int status;
};

static int one_build(struct vmci_xfer *x, size_t i, Vmallocd__V1__Request *req,
		     union vmci_sub *sub)
{
	const struct one *o = x->ctx;

	*req = *o->req;
	return 0;
}

static int one_done(struct vmci_xfer *x, size_t i, const Vmallocd__V1__Reply *rep)
{
	struct one *o = x->ctx;
	int r;

	r = vmci_reply_status(x->c, rep, o->want, &o->status);
	if (r < 0 || o->status < 0 || !o->take)
		return r;
	r = o->take(rep, o->out);
	if (r < 0)
		vmci_set_msg(x->c, "reply %d lacks its result", (int)o->want);
	return r;
}

/* The connection dropped under a call (the daemon went away), as opposed
 * to a daemon error or a timeout (a wedged daemon is not retried). */
static bool dropped(const struct vmc_client *c, int r)
{
	return r < 0 && c->fd < 0 && r != -ETIMEDOUT && r != -ENOMEM && r != -EPROTO &&
	       r != -EBADMSG;
}

/* Calls that change nothing: retried once on a new connection when the
 * old one drops (vmclient.h, "Reconnecting"). */
static bool idempotent(Vmallocd__V1__Request__OpCase op)
{
	switch (op) {
	case VMALLOCD__V1__REQUEST__OP_HELLO:
	case VMALLOCD__V1__REQUEST__OP_READ:
	case VMALLOCD__V1__REQUEST__OP_PHYS_READ:
	case VMALLOCD__V1__REQUEST__OP_TRANSLATE:
	case VMALLOCD__V1__REQUEST__OP_AREA_INFO:
	case VMALLOCD__V1__REQUEST__OP_QUERY:
	case VMALLOCD__V1__REQUEST__OP_CHECK:
		return true;
	default:
		return false;
	}
}

static int call(struct vmc_client *c, const Vmallocd__V1__Request *req,
		Vmallocd__V1__Reply__ResultCase want, take_fn *take, void *out)
{
	for (int attempt = 0;; attempt++) {
		struct one o = { req, want, take, out, 0 };
		struct vmci_xfer x = { .n = 1, .build = one_build, .done = one_done,
				       .c = c, .ctx = &o };
		int r = vmci_xfer_run(&x, NULL);

		if (r == 0)
			return o.status;
		if (attempt || !dropped(c, r) || !idempotent(req->op_case))
			return r;
		if ((r = vmci_reconnect(c)) < 0)
			return r;
	}
}

static int take_addr(const Vmallocd__V1__Reply *rep, void *out)
{
	if (!rep->alloc)
		return -EPROTO;
	*(uint64_t *)out = rep->alloc->addr;
	return 0;
}

static int take_pfn(const Vmallocd__V1__Reply *rep, void *out)
{
	if (!rep->alloc_pages)
		return -EPROTO;
	*(uint64_t *)out = rep->alloc_pages->pfn;
	return 0;
}

/* ---------------------------------------------------------------------------
 * The vmalloc family
 */

static int do_alloc(struct vmc_client *c, const void *ra, Vmallocd__V1__AllocKind kind,
		    uint64_t size, int node, uint32_t gfp, const struct vmc_alloc_opts *o,
		    uint64_t *addr)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__AllocRequest a = VMALLOCD__V1__ALLOC_REQUEST__INIT;

	if (!c || !addr)
		return -EINVAL;
	a.kind = kind;
	a.size = size;
	a.node = node;
	a.gfp = gfp;
	a.scoped = c->scoped;
	a.parent_pid = vmci_parent_pid(c);
	if (o) {
		if (o->caller && strnlen(o->caller, VMC_CALLER_MAX + 1) > VMC_CALLER_MAX)
			return -EINVAL;
		a.align = o->align;
		a.start = o->start;
		a.end = o->end;
		a.gfp = o->gfp;   /* 0: the daemon's default */
		a.prot = o->prot;
		a.vm_flags = o->vm_flags;
		a.node = o->node;
		a.scoped = o->scoped || c->scoped;
	}
	a.caller = (char *)(o && o->caller ? o->caller : vmci_caller(c, ra));
	req.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC;
	req.alloc = &a;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT_ALLOC, take_addr, addr);
}

VMC_EXPORT int vmc_vmalloc(struct vmc_client *c, uint64_t size, uint64_t *addr)
{
	return do_alloc(c, VMC_RA(), VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC, size,
			VMC_NO_NODE, 0, NULL, addr);
}

VMC_EXPORT int vmc_vzalloc(struct vmc_client *c, uint64_t size, uint64_t *addr)
{
	return do_alloc(c, VMC_RA(), VMALLOCD__V1__ALLOC_KIND__ALLOC_VZALLOC, size,
			VMC_NO_NODE, 0, NULL, addr);
}

VMC_EXPORT int vmc_vmalloc_node(struct vmc_client *c, uint64_t size, int node, uint64_t *addr)
{
	return do_alloc(c, VMC_RA(), VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_NODE, size,
			node, 0, NULL, addr);
}

VMC_EXPORT int vmc_vzalloc_node(struct vmc_client *c, uint64_t size, int node, uint64_t *addr)
{
	return do_alloc(c, VMC_RA(), VMALLOCD__V1__ALLOC_KIND__ALLOC_VZALLOC_NODE, size,
			node, 0, NULL, addr);
}

VMC_EXPORT int vmc_vmalloc_32(struct vmc_client *c, uint64_t size, uint64_t *addr)
{
	return do_alloc(c, VMC_RA(), VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_32, size,
			VMC_NO_NODE, 0, NULL, addr);
}

VMC_EXPORT int vmc_vmalloc_user(struct vmc_client *c, uint64_t size, uint64_t *addr)
{
	return do_alloc(c, VMC_RA(), VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_USER, size,
			VMC_NO_NODE, 0, NULL, addr);
}

VMC_EXPORT int vmc_vmalloc_32_user(struct vmc_client *c, uint64_t size, uint64_t *addr)
{
	return do_alloc(c, VMC_RA(), VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_32_USER, size,
			VMC_NO_NODE, 0, NULL, addr);
}

VMC_EXPORT int vmc___vmalloc(struct vmc_client *c, uint64_t size, uint32_t gfp, uint64_t *addr)
{
	return do_alloc(c, VMC_RA(), VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_GFP, size,
			VMC_NO_NODE, gfp, NULL, addr);
}

VMC_EXPORT int vmc_vmalloc_node_range(struct vmc_client *c, uint64_t size,
				      const struct vmc_alloc_opts *opts, uint64_t *addr)
{
	static const struct vmc_alloc_opts defaults = { .node = VMC_NO_NODE };

	return do_alloc(c, VMC_RA(), VMALLOCD__V1__ALLOC_KIND__ALLOC_NODE_RANGE, size,
			VMC_NO_NODE, 0, opts ? opts : &defaults, addr);
}

VMC_EXPORT int vmc_vrealloc(struct vmc_client *c, uint64_t addr, uint64_t size, uint32_t gfp,
			    uint64_t *new_addr)
{
	const void *ra = VMC_RA();
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__ReallocRequest a = VMALLOCD__V1__REALLOC_REQUEST__INIT;

	if (!c || !new_addr)
		return -EINVAL;
	a.addr = addr;
	a.size = size;
	a.gfp = gfp;
	a.caller = (char *)vmci_caller(c, ra);
	req.op_case = VMALLOCD__V1__REQUEST__OP_REALLOC;
	req.realloc = &a;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT_ALLOC, take_addr, new_addr);
}

static int addr_only(struct vmc_client *c, Vmallocd__V1__Request__OpCase op, uint64_t addr)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__FreeRequest f = VMALLOCD__V1__FREE_REQUEST__INIT;
	Vmallocd__V1__VunmapRequest u = VMALLOCD__V1__VUNMAP_REQUEST__INIT;

	if (!c)
		return -EINVAL;
	req.op_case = op;
	if (op == VMALLOCD__V1__REQUEST__OP_FREE) {
		f.addr = addr;
		req.free = &f;
	} else {
		u.addr = addr;
		req.vunmap = &u;
	}
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT__NOT_SET, NULL, NULL);
}

VMC_EXPORT int vmc_vfree(struct vmc_client *c, uint64_t addr)
{
	return addr_only(c, VMALLOCD__V1__REQUEST__OP_FREE, addr);
}

VMC_EXPORT int vmc_vunmap(struct vmc_client *c, uint64_t addr)
{
	return addr_only(c, VMALLOCD__V1__REQUEST__OP_VUNMAP, addr);
}

VMC_EXPORT int vmc_vmap(struct vmc_client *c, const uint64_t *pfns, uint64_t count,
			uint32_t flags, uint32_t prot, uint64_t *addr)
{
	const void *ra = VMC_RA();
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__VmapRequest v = VMALLOCD__V1__VMAP_REQUEST__INIT;

	if (!c || !addr || (count && !pfns))
		return -EINVAL;
	if (count > c->max_frame)   /* at least a byte per pfn: could never fit */
		return -EMSGSIZE;
	v.n_pfns = (size_t)count;
	v.pfns = (uint64_t *)pfns;
	v.flags = flags;
	v.prot = prot;
	v.scoped = c->scoped;
	v.parent_pid = vmci_parent_pid(c);
	v.caller = (char *)vmci_caller(c, ra);
	req.op_case = VMALLOCD__V1__REQUEST__OP_VMAP;
	req.vmap = &v;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT_ALLOC, take_addr, addr);
}

VMC_EXPORT int vmc_vm_map_ram(struct vmc_client *c, const uint64_t *pfns, uint64_t count, int node,
			      uint64_t *addr)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__VmMapRamRequest v = VMALLOCD__V1__VM_MAP_RAM_REQUEST__INIT;

	if (!c || !addr || (count && !pfns))
		return -EINVAL;
	if (count > c->max_frame)   /* at least a byte per pfn: could never fit */
		return -EMSGSIZE;
	v.n_pfns = (size_t)count;
	v.pfns = (uint64_t *)pfns;
	v.node = node;
	v.scoped = c->scoped;
	v.parent_pid = vmci_parent_pid(c);
	req.op_case = VMALLOCD__V1__REQUEST__OP_VM_MAP_RAM;
	req.vm_map_ram = &v;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT_ALLOC, take_addr, addr);
}

VMC_EXPORT int vmc_vm_unmap_ram(struct vmc_client *c, uint64_t addr, uint64_t count)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__VmUnmapRamRequest u = VMALLOCD__V1__VM_UNMAP_RAM_REQUEST__INIT;

	if (!c)
		return -EINVAL;
	u.addr = addr;
	u.count = count;
	req.op_case = VMALLOCD__V1__REQUEST__OP_VM_UNMAP_RAM;
	req.vm_unmap_ram = &u;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT__NOT_SET, NULL, NULL);
}

VMC_EXPORT int vmc_alloc_percpu(struct vmc_client *c, uint64_t size, uint64_t align, uint64_t *ptr)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__AllocPercpuRequest a = VMALLOCD__V1__ALLOC_PERCPU_REQUEST__INIT;

	if (!c || !ptr)
		return -EINVAL;
	a.size = size;
	a.align = align;
	a.scoped = c->scoped;
	a.parent_pid = vmci_parent_pid(c);
	req.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC_PERCPU;
	req.alloc_percpu = &a;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT_ALLOC, take_addr, ptr);
}

VMC_EXPORT int vmc_free_percpu(struct vmc_client *c, uint64_t ptr)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__FreePercpuRequest f = VMALLOCD__V1__FREE_PERCPU_REQUEST__INIT;

	if (!c)
		return -EINVAL;
	f.ptr = ptr;
	req.op_case = VMALLOCD__V1__REQUEST__OP_FREE_PERCPU;
	req.free_percpu = &f;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT__NOT_SET, NULL, NULL);
}

VMC_EXPORT int vmc_kvfree_rcu(struct vmc_client *c, uint64_t addr, bool head)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__KvfreeRcuRequest k = VMALLOCD__V1__KVFREE_RCU_REQUEST__INIT;

	if (!c)
		return -EINVAL;
	k.addr = addr;
	k.head = head;
	req.op_case = VMALLOCD__V1__REQUEST__OP_KVFREE_RCU;
	req.kvfree_rcu = &k;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT__NOT_SET, NULL, NULL);
}

VMC_EXPORT int vmc_test_vmalloc_desc(struct vmc_client *c, struct vmc_test_vmalloc *out)
{
	int r;

	if (!c || !out)
		return -EINVAL;
	r = vmc_hello(c, NULL);
	if (r == 0)
		*out = c->tv;
	return r;
}

/* A snapshot chunk: written to the file as it comes. */
struct snap_out {
	int fd;
	uint64_t off, total, got;
	int err;
};

static int take_snapshot(const Vmallocd__V1__Reply *rep, void *out)
{
	struct snap_out *o = out;
	const uint8_t *p;
	size_t n;

	if (!rep->read)
		return -EPROTO;
	p = rep->read->data.data;
	n = rep->read->data.len;
	/* The stream's header (vmallocd(8), "Snapshots") gives its length at
	 * bytes 16..23. */
	if (o->off == 0) {
		if (n < 24)
			return -EPROTO;
		memcpy(&o->total, p + 16, 8);
	}
	o->got = n;
	while (n) {
		ssize_t w = pwrite(o->fd, p, n, (off_t)o->off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			o->err = w < 0 ? -errno : -EIO;
			return 0;
		}
		p += w;
		n -= (size_t)w;
		o->off += (uint64_t)w;
	}
	return 0;
}

VMC_EXPORT int vmc_snapshot_save(struct vmc_client *c, int fd, uint64_t *ret_len)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__SnapshotRequest sr = VMALLOCD__V1__SNAPSHOT_REQUEST__INIT;
	struct snap_out o = { .fd = fd };
	int r;

	if (!c || fd < 0)
		return -EINVAL;
	req.op_case = VMALLOCD__V1__REQUEST__OP_SNAPSHOT;
	req.snapshot = &sr;
	do {
		sr.offset = o.off;
		sr.length = 1u << 20;
		r = call(c, &req, VMALLOCD__V1__REPLY__RESULT_READ, take_snapshot, &o);
		if (r == 0 && o.err)
			r = o.err;
		if (r == 0 && o.got == 0 && o.off < o.total)
			r = -EPROTO;
	} while (r == 0 && o.off < o.total);
	if (r == 0 && ret_len)
		*ret_len = o.total;
	return r;
}

VMC_EXPORT unsigned vmc_reconnects(const struct vmc_client *c)
{
	return c ? c->nr_reconnects : 0;
}

VMC_EXPORT int vmc_identity(struct vmc_client *c, struct vmc_identity *out)
{
	int r;

	if (!c || !out)
		return -EINVAL;
	r = vmc_hello(c, NULL);
	if (r == 0)
		*out = c->id;
	return r;
}

VMC_EXPORT int vmc_alloc_pages(struct vmc_client *c, uint32_t gfp, unsigned order, int node,
			       uint64_t *pfn)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__AllocPagesRequest a = VMALLOCD__V1__ALLOC_PAGES_REQUEST__INIT;

	if (!c || !pfn)
		return -EINVAL;
	a.gfp = gfp;
	a.order = order;
	a.node = node;
	a.scoped = c->scoped;
	a.parent_pid = vmci_parent_pid(c);
	req.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC_PAGES;
	req.alloc_pages = &a;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT_ALLOC_PAGES, take_pfn, pfn);
}

VMC_EXPORT int vmc_free_pages(struct vmc_client *c, uint64_t pfn, unsigned order)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__FreePagesRequest f = VMALLOCD__V1__FREE_PAGES_REQUEST__INIT;

	if (!c)
		return -EINVAL;
	f.pfn = pfn;
	f.order = order;
	req.op_case = VMALLOCD__V1__REQUEST__OP_FREE_PAGES;
	req.free_pages = &f;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT__NOT_SET, NULL, NULL);
}

/* ---------------------------------------------------------------------------
 * Data: chunks of at most max_io bytes, pipelined
 */

struct rw {
	bool write, phys;
	uint64_t addr;         /* virtual address, or pfn */
	uint64_t offset;       /* phys: offset in the block */
	uint8_t *dst;          /* reads */
	const uint8_t *src;    /* writes */
	uint64_t len;
	uint64_t chunk;
	int status;            /* the first error among the chunks */
};

static uint64_t rw_clen(const struct rw *w, size_t i)
{
	uint64_t off = (uint64_t)i * w->chunk;

	return w->len - off < w->chunk ? w->len - off : w->chunk;
}

static int rw_build(struct vmci_xfer *x, size_t i, Vmallocd__V1__Request *req,
		    union vmci_sub *sub)
{
	const struct rw *w = x->ctx;
	uint64_t off = (uint64_t)i * w->chunk, clen = rw_clen(w, i);

	if (!w->write && !w->phys) {
		vmallocd__v1__read_request__init(&sub->read);
		sub->read.addr = w->addr + off;
		sub->read.len = clen;
		req->op_case = VMALLOCD__V1__REQUEST__OP_READ;
		req->read = &sub->read;
	} else if (w->write && !w->phys) {
		vmallocd__v1__write_request__init(&sub->write);
		sub->write.addr = w->addr + off;
		sub->write.data.len = (size_t)clen;
		sub->write.data.data = (uint8_t *)(w->src + off);
		req->op_case = VMALLOCD__V1__REQUEST__OP_WRITE;
		req->write = &sub->write;
	} else if (!w->write) {
		vmallocd__v1__phys_read_request__init(&sub->phys_read);
		sub->phys_read.pfn = w->addr;
		sub->phys_read.offset = w->offset + off;
		sub->phys_read.len = clen;
		req->op_case = VMALLOCD__V1__REQUEST__OP_PHYS_READ;
		req->phys_read = &sub->phys_read;
	} else {
		vmallocd__v1__phys_write_request__init(&sub->phys_write);
		sub->phys_write.pfn = w->addr;
		sub->phys_write.offset = w->offset + off;
		sub->phys_write.data.len = (size_t)clen;
		sub->phys_write.data.data = (uint8_t *)(w->src + off);
		req->op_case = VMALLOCD__V1__REQUEST__OP_PHYS_WRITE;
		req->phys_write = &sub->phys_write;
	}
	return 0;
}

static int rw_done(struct vmci_xfer *x, size_t i, const Vmallocd__V1__Reply *rep)
{
	struct rw *w = x->ctx;
	uint64_t clen = rw_clen(w, i);
	int r, st;

	r = vmci_reply_status(x->c, rep, w->write ? VMALLOCD__V1__REPLY__RESULT__NOT_SET :
			      VMALLOCD__V1__REPLY__RESULT_READ, &st);
	if (r < 0)
		return r;
	if (st < 0) {
		if (!w->status)
			w->status = st;
		return 0;
	}
	if (w->write)
		return 0;
	if (!rep->read || rep->read->data.len != clen) {
		vmci_set_msg(x->c, "read reply of %zu bytes, asked for %llu",
			     rep->read ? rep->read->data.len : 0, (unsigned long long)clen);
		return -EPROTO;
	}
	memcpy(w->dst + (uint64_t)i * w->chunk, rep->read->data.data, (size_t)clen);
	return 0;
}

static int do_rw(struct vmc_client *c, struct rw *w)
{
	struct vmci_xfer x = { .window = RW_WINDOW, .build = rw_build, .done = rw_done,
			       .c = c, .ctx = w };
	uint64_t n;
	int r;

	if (!c || (w->len && !w->dst && !w->src))
		return -EINVAL;
	if (w->len == 0)
		return 0;
	if (w->len > SIZE_MAX || (!w->phys && w->addr + w->len < w->addr) ||
	    (w->phys && w->offset + w->len < w->offset))
		return -EINVAL;
	if (c->hello_pending) {
		r = vmci_settle(c);   /* chunk to the daemon's own limits */
		if (r < 0)
			return r;
	}
	w->chunk = vmci_chunk(c);
	n = (w->len + w->chunk - 1) / w->chunk;
	x.n = (size_t)n;
	r = vmci_xfer_run(&x, NULL);
	return r < 0 ? r : w->status;
}

/* A read is idempotent: once again on a new connection if the old one
 * dropped under it. */
static int read_rw(struct vmc_client *c, const struct rw *w0)
{
	struct rw w = *w0;
	int r = do_rw(c, &w);

	if (c && dropped(c, r) && (r = vmci_reconnect(c)) == 0) {
		w = *w0;
		r = do_rw(c, &w);
	}
	return r;
}

VMC_EXPORT int vmc_read(struct vmc_client *c, uint64_t addr, void *buf, uint64_t len)
{
	struct rw w = { .addr = addr, .dst = buf, .len = len };

	return read_rw(c, &w);
}

VMC_EXPORT int vmc_write(struct vmc_client *c, uint64_t addr, const void *buf, uint64_t len)
{
	struct rw w = { .write = true, .addr = addr, .src = buf, .len = len };

	return do_rw(c, &w);
}

VMC_EXPORT int vmc_phys_read(struct vmc_client *c, uint64_t pfn, uint64_t offset, void *buf,
			     uint64_t len)
{
	struct rw w = { .phys = true, .addr = pfn, .offset = offset, .dst = buf, .len = len };

	return read_rw(c, &w);
}

VMC_EXPORT int vmc_phys_write(struct vmc_client *c, uint64_t pfn, uint64_t offset,
			      const void *buf, uint64_t len)
{
	struct rw w = { .write = true, .phys = true, .addr = pfn, .offset = offset,
			.src = buf, .len = len };

	return do_rw(c, &w);
}

static int take_translation(const Vmallocd__V1__Reply *rep, void *out)
{
	const Vmallocd__V1__TranslateReply *t = rep->translate;
	struct vmc_translation *o = out;

	if (!t)
		return -EPROTO;
	o->pfn = t->pfn;
	o->phys_addr = t->phys_addr;
	o->node = t->node;
	snprintf(o->zone, sizeof(o->zone), "%s", t->zone ? t->zone : "");
	return 0;
}

VMC_EXPORT int vmc_translate(struct vmc_client *c, uint64_t addr, struct vmc_translation *out)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__TranslateRequest t = VMALLOCD__V1__TRANSLATE_REQUEST__INIT;

	if (!c || !out)
		return -EINVAL;
	t.addr = addr;
	req.op_case = VMALLOCD__V1__REQUEST__OP_TRANSLATE;
	req.translate = &t;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT_TRANSLATE, take_translation, out);
}

/* ---------------------------------------------------------------------------
 * Areas and queries
 */

static void area_copy(struct vmc_area *o, const Vmallocd__V1__AreaInfo *a)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	o->addr = a->addr;
	o->size = a->size;
	o->flags = a->flags;
	o->prot = a->prot;
	o->nr_pages = a->nr_pages;
	o->phys_addr = a->phys_addr;
	o->uid = a->uid;
	o->pid = a->pid;
	snprintf(o->caller, sizeof(o->caller), "%s", a->caller ? a->caller : "");
	o->nr_nodes = a->n_nr_per_node < VMC_MAX_NODES ? (unsigned)a->n_nr_per_node
						       : VMC_MAX_NODES;
	for (i = 0; i < o->nr_nodes; i++)
		o->nr_per_node[i] = a->nr_per_node[i];
	o->scoped = a->scoped;
	o->leaked = a->leaked;
}

static int take_area(const Vmallocd__V1__Reply *rep, void *out)
{
	if (!rep->area_info || !rep->area_info->area)
		return -EPROTO;
	area_copy(out, rep->area_info->area);
	return 0;
}

VMC_EXPORT int vmc_area_info(struct vmc_client *c, uint64_t addr, struct vmc_area *out)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__AreaInfoRequest a = VMALLOCD__V1__AREA_INFO_REQUEST__INIT;

	if (!c || !out)
		return -EINVAL;
	a.addr = addr;
	req.op_case = VMALLOCD__V1__REQUEST__OP_AREA_INFO;
	req.area_info = &a;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT_AREA_INFO, take_area, out);
}

/* A query's result, malloc'd by take so nothing is written before the reply
 * has been validated; ENOMEM while copying is reported through status. */
struct query_out {
	void *data;
	size_t count;
	int err;               /* -ENOMEM, after a reply that parsed */
};

static int query(struct vmc_client *c, Vmallocd__V1__QueryKind kind, take_fn *take,
		 struct query_out *q)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__QueryRequest qr = VMALLOCD__V1__QUERY_REQUEST__INIT;
	int r;

	if (!c)
		return -EINVAL;
	qr.kind = kind;
	req.op_case = VMALLOCD__V1__REQUEST__OP_QUERY;
	req.query = &qr;
	r = call(c, &req, VMALLOCD__V1__REPLY__RESULT_QUERY, take, q);
	if (r == 0 && q->err)
		r = q->err;
	if (r < 0) {
		free(q->data);
		q->data = NULL;
	}
	return r;
}

static int take_text(const Vmallocd__V1__Reply *rep, void *out)
{
	struct query_out *q = out;

	if (!rep->query)
		return -EPROTO;
	q->data = strdup(rep->query->text ? rep->query->text : "");
	if (!q->data)
		q->err = -ENOMEM;
	return 0;
}

/* VMC_STAT's text, rendered here from the counters the daemon sends (an
 * older daemon sent these lines itself: they are then taken as they are). */
static int take_stat_text(const Vmallocd__V1__Reply *rep, void *out)
{
	struct query_out *q = out;
	const Vmallocd__V1__Stats *st;
	char *t;

	if (!rep->query)
		return -EPROTO;
	if (rep->query->text && *rep->query->text)
		return take_text(rep, out);
	st = rep->query->stats;
	if (!st)
		return -EPROTO;
	if (asprintf(&t,
		     "kernel:              %s\ncpus:                %u\n"
		     "vmap_nodes:          %u\npooled_areas:        %llu\n"
		     "pooled_pages:        %llu\nwork_pending:        %u\n"
		     "layout:              %s\nnodes:               %u\n"
		     "total_pages:         %llu\nfree_pages:          %llu\n"
		     "vmalloc_pages:       %llu\nvmap_pages:          %llu\n"
		     "alloc_pages_pages:   %llu\npagetable_pages:     %llu\n"
		     "areas:               %llu\nlazy_areas:          %llu\n"
		     "lazy_pages:          %llu\nlazy_max_pages:      %llu\n"
		     "purges:              %llu\ntlb_flushes:         %llu\n"
		     "alloc_failures:      %llu\nlargest_free_kva:    %llu\n"
		     "vmalloc_range:       0x%016llx-0x%016llx\n"
		     "clients:             %u\nconnections_total:   %llu\n"
		     "requests:            %llu\nerrors:              %llu\n"
		     "uptime_ms:           %llu\n"
		     "your_pages:          %llu\nyour_quota_pages:    %llu\n"
		     "work_delayed:        %u\nvmap_blocks:         %llu\n"
		     "vmap_block_pages:    %llu\nmap_ram_pages:       %llu\n"
		     "pcpu_chunks:         %llu\npcpu_objects:        %llu\n"
		     "pcpu_unit_size:      %llu\npercpu_pages:        %llu\n"
		     "kvfree_rcu_pending:  %llu\n"
		     "resident_pages:      %llu\nmax_resident_pages:  %llu\n",
		     st->kernel, st->nr_cpus, st->nr_vmap_nodes,
		     (unsigned long long)st->nr_pooled_areas, (unsigned long long)st->pooled_pages,
		     (unsigned)st->work_pending,
		     st->layout, st->nr_nodes,
		     (unsigned long long)st->total_pages, (unsigned long long)st->free_pages,
		     (unsigned long long)st->vmalloc_pages, (unsigned long long)st->vmap_pages,
		     (unsigned long long)st->alloc_pages_pages, (unsigned long long)st->pagetable_pages,
		     (unsigned long long)st->nr_areas, (unsigned long long)st->nr_lazy_areas,
		     (unsigned long long)st->lazy_pages, (unsigned long long)st->lazy_max_pages,
		     (unsigned long long)st->nr_purges, (unsigned long long)st->nr_tlb_flushes,
		     (unsigned long long)st->nr_alloc_failures, (unsigned long long)st->largest_free_kva,
		     (unsigned long long)st->vmalloc_start, (unsigned long long)st->vmalloc_end,
		     st->clients, (unsigned long long)st->connections_total,
		     (unsigned long long)st->requests, (unsigned long long)st->errors,
		     (unsigned long long)st->uptime_ms,
		     (unsigned long long)st->your_pages, (unsigned long long)st->your_quota,
		     (unsigned)st->work_delayed, (unsigned long long)st->nr_vmap_blocks,
		     (unsigned long long)st->vmap_block_pages, (unsigned long long)st->map_ram_pages,
		     (unsigned long long)st->nr_pcpu_chunks, (unsigned long long)st->nr_pcpu_objects,
		     (unsigned long long)st->pcpu_unit_size, (unsigned long long)st->percpu_pages,
		     (unsigned long long)st->nr_kvfree_rcu,
		     (unsigned long long)st->resident_pages,
		     (unsigned long long)st->max_resident_pages) < 0)
		q->err = -ENOMEM;
	else
		q->data = t;
	return 0;
}

VMC_EXPORT int vmc_query_text(struct vmc_client *c, enum vmc_query kind, char **text)
{
	struct query_out q = { 0 };
	int r;

	if (!text)
		return -EINVAL;
	switch (kind) {
	case VMC_VMALLOCINFO: case VMC_MEMINFO: case VMC_BUDDYINFO: case VMC_FRAG:
	case VMC_STAT: case VMC_LEAKS:
		break;
	default:
		return -EINVAL;
	}
	r = query(c, (Vmallocd__V1__QueryKind)kind, kind == VMC_STAT ? take_stat_text : take_text,
		  &q);
	if (r == 0)
		*text = q.data;
	return r;
}

static int take_areas(const Vmallocd__V1__Reply *rep, void *out)
{
	struct query_out *q = out;
	struct vmc_area *a;
	size_t i, n;

	if (!rep->query)
		return -EPROTO;
	n = rep->query->n_areas;
	if (n == 0)
		return 0;
	a = calloc(n, sizeof(*a));
	if (!a) {
		q->err = -ENOMEM;
		return 0;
	}
	for (i = 0; i < n; i++)
		area_copy(&a[i], rep->query->areas[i]);
	q->data = a;
	q->count = n;
	return 0;
}

VMC_EXPORT int vmc_areas(struct vmc_client *c, bool leaks_only, struct vmc_area **areas,
			 size_t *count)
{
	struct query_out q = { 0 };
	int r;

	if (!areas || !count)
		return -EINVAL;
	r = query(c, leaks_only ? VMALLOCD__V1__QUERY_KIND__QUERY_LEAKS :
		  VMALLOCD__V1__QUERY_KIND__QUERY_VMALLOCINFO, take_areas, &q);
	if (r == 0) {
		*areas = q.data;
		*count = q.count;
	}
	return r;
}

static int take_meminfo(const Vmallocd__V1__Reply *rep, void *out)
{
	const Vmallocd__V1__MemInfo *m = rep->query ? rep->query->meminfo : NULL;
	struct vmc_meminfo *o = out;

	if (!m)
		return -EPROTO;
	o->mem_total = m->mem_total;
	o->mem_free = m->mem_free;
	o->high_total = m->high_total;
	o->high_free = m->high_free;
	o->low_total = m->low_total;
	o->low_free = m->low_free;
	o->page_tables = m->page_tables;
	o->vmalloc_total = m->vmalloc_total;
	o->vmalloc_used = m->vmalloc_used;
	o->vmalloc_chunk = m->vmalloc_chunk;
	return 0;
}

VMC_EXPORT int vmc_meminfo(struct vmc_client *c, struct vmc_meminfo *out)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__QueryRequest qr = VMALLOCD__V1__QUERY_REQUEST__INIT;

	if (!c || !out)
		return -EINVAL;
	qr.kind = VMALLOCD__V1__QUERY_KIND__QUERY_MEMINFO;
	req.op_case = VMALLOCD__V1__REQUEST__OP_QUERY;
	req.query = &qr;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT_QUERY, take_meminfo, out);
}

static int take_zones(const Vmallocd__V1__Reply *rep, void *out)
{
	struct query_out *q = out;
	struct vmc_zone *zs;
	size_t i, k, n;

	if (!rep->query)
		return -EPROTO;
	n = rep->query->n_zones;
	if (n == 0)
		return 0;
	zs = calloc(n, sizeof(*zs));
	if (!zs) {
		q->err = -ENOMEM;
		return 0;
	}
	for (i = 0; i < n; i++) {
		const Vmallocd__V1__ZoneInfo *z = rep->query->zones[i];
		struct vmc_zone *o = &zs[i];

		o->node = z->node;
		snprintf(o->name, sizeof(o->name), "%s", z->name ? z->name : "");
		o->start_pfn = z->start_pfn;
		o->end_pfn = z->end_pfn;
		o->managed = z->managed;
		o->free = z->free;
		o->wmark_min = z->wmark_min;
		o->wmark_low = z->wmark_low;
		o->wmark_high = z->wmark_high;
		for (k = 0; k < 11; k++) {
			o->nr_free[k] = k < z->n_nr_free ? z->nr_free[k] : 0;
			o->unusable_index[k] = k < z->n_unusable_index ? z->unusable_index[k] : 0;
			o->extfrag_index[k] = k < z->n_extfrag_index ? z->extfrag_index[k] : 0;
		}
	}
	q->data = zs;
	q->count = n;
	return 0;
}

VMC_EXPORT int vmc_zones(struct vmc_client *c, struct vmc_zone **zones, size_t *count)
{
	struct query_out q = { 0 };
	int r;

	if (!zones || !count)
		return -EINVAL;
	r = query(c, VMALLOCD__V1__QUERY_KIND__QUERY_FRAG, take_zones, &q);
	if (r == 0) {
		*zones = q.data;
		*count = q.count;
	}
	return r;
}

static int take_map(const Vmallocd__V1__Reply *rep, void *out)
{
	const Vmallocd__V1__MemoryMap *m = rep->query ? rep->query->map : NULL;
	struct vmc_map *o = out;
	struct query_out zq = { 0 };

	if (!m || m->frame_class.len != m->frame_free.len || m->kva_class.len != m->kva_busy.len ||
	    !m->frames_per_cell || m->end_pfn <= m->start_pfn ||
	    m->frame_class.len != (m->end_pfn - m->start_pfn + m->frames_per_cell - 1) / m->frames_per_cell)
		return -EPROTO;
	o->start_pfn = m->start_pfn;
	o->end_pfn = m->end_pfn;
	o->frames_per_cell = m->frames_per_cell;
	o->nr_cells = m->frame_class.len;
	o->kva_start = m->kva_start;
	o->kva_end = m->kva_end;
	o->nr_bins = m->kva_class.len;
	o->frame_class = malloc(o->nr_cells ? o->nr_cells : 1);
	o->frame_free = malloc(o->nr_cells ? o->nr_cells : 1);
	o->kva_class = malloc(o->nr_bins ? o->nr_bins : 1);
	o->kva_busy = malloc(o->nr_bins ? o->nr_bins : 1);
	if (m->n_areas)
		o->areas = calloc(m->n_areas, sizeof(*o->areas));
	if (!o->frame_class || !o->frame_free || !o->kva_class || !o->kva_busy ||
	    (m->n_areas && !o->areas))
		return -ENOMEM;
	memcpy(o->frame_class, m->frame_class.data, o->nr_cells);
	memcpy(o->frame_free, m->frame_free.data, o->nr_cells);
	memcpy(o->kva_class, m->kva_class.data, o->nr_bins);
	memcpy(o->kva_busy, m->kva_busy.data, o->nr_bins);
	for (size_t i = 0; i < m->n_areas; i++)
		area_copy(&o->areas[i], m->areas[i]);
	o->nr_areas = m->n_areas;
	/* The zones as vmc_zones() gives them. */
	{
		Vmallocd__V1__QueryReply qr = *rep->query;
		Vmallocd__V1__Reply r2 = *rep;

		qr.zones = m->zones;
		qr.n_zones = m->n_zones;
		r2.query = &qr;
		take_zones(&r2, &zq);
		if (zq.err)
			return zq.err;
		o->zones = zq.data;
		o->nr_zones = zq.count;
	}
	return 0;
}

VMC_EXPORT int vmc_map(struct vmc_client *c, const struct vmc_map_request *rq, struct vmc_map *out)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__QueryRequest qr = VMALLOCD__V1__QUERY_REQUEST__INIT;
	Vmallocd__V1__MapRequest mr = VMALLOCD__V1__MAP_REQUEST__INIT;
	struct vmc_map m = { 0 };
	int r;

	if (!c || !out)
		return -EINVAL;
	if (rq) {
		mr.start_pfn = rq->start_pfn;
		mr.end_pfn = rq->end_pfn;
		mr.max_cells = rq->max_cells;
		mr.kva_start = rq->kva_start;
		mr.kva_end = rq->kva_end;
		mr.kva_bins = rq->kva_bins;
	}
	qr.kind = VMALLOCD__V1__QUERY_KIND__QUERY_MAP;
	qr.map = &mr;
	req.op_case = VMALLOCD__V1__REQUEST__OP_QUERY;
	req.query = &qr;
	r = call(c, &req, VMALLOCD__V1__REPLY__RESULT_QUERY, take_map, &m);
	if (r < 0) {
		vmc_map_free(&m);
		return r;
	}
	*out = m;
	return 0;
}

VMC_EXPORT void vmc_map_free(struct vmc_map *m)
{
	if (!m)
		return;
	free(m->frame_class);
	free(m->frame_free);
	free(m->kva_class);
	free(m->kva_busy);
	free(m->zones);
	free(m->areas);
	memset(m, 0, sizeof(*m));
}

static int take_stat(const Vmallocd__V1__Reply *rep, void *out)
{
	const Vmallocd__V1__Stats *s = rep->query ? rep->query->stats : NULL;
	struct vmc_stat *o = out;

	if (!s)
		return -EPROTO;
	memset(o, 0, sizeof(*o));
	o->total_pages = s->total_pages;
	o->free_pages = s->free_pages;
	o->pagetable_pages = s->pagetable_pages;
	o->vmalloc_pages = s->vmalloc_pages;
	o->vmap_pages = s->vmap_pages;
	o->alloc_pages_pages = s->alloc_pages_pages;
	o->nr_areas = s->nr_areas;
	o->nr_lazy_areas = s->nr_lazy_areas;
	o->lazy_pages = s->lazy_pages;
	o->lazy_max_pages = s->lazy_max_pages;
	o->nr_purges = s->nr_purges;
	o->nr_tlb_flushes = s->nr_tlb_flushes;
	o->nr_alloc_failures = s->nr_alloc_failures;
	o->largest_free_kva = s->largest_free_kva;
	o->nr_nodes = s->nr_nodes;
	snprintf(o->layout, sizeof(o->layout), "%s", s->layout ? s->layout : "");
	o->vmalloc_start = s->vmalloc_start;
	o->vmalloc_end = s->vmalloc_end;
	o->clients = s->clients;
	o->requests = s->requests;
	o->uptime_ms = s->uptime_ms;
	o->connections_total = s->connections_total;
	o->errors = s->errors;
	o->your_pages = s->your_pages;
	o->your_quota = s->your_quota;
	snprintf(o->kernel, sizeof(o->kernel), "%s", s->kernel ? s->kernel : "");
	o->nr_cpus = s->nr_cpus;
	o->nr_vmap_nodes = s->nr_vmap_nodes;
	o->nr_pooled_areas = s->nr_pooled_areas;
	o->pooled_pages = s->pooled_pages;
	o->work_pending = s->work_pending;
	o->work_delayed = s->work_delayed;
	o->nr_vmap_blocks = s->nr_vmap_blocks;
	o->vmap_block_pages = s->vmap_block_pages;
	o->map_ram_pages = s->map_ram_pages;
	o->nr_pcpu_chunks = s->nr_pcpu_chunks;
	o->nr_pcpu_objects = s->nr_pcpu_objects;
	o->pcpu_unit_size = s->pcpu_unit_size;
	o->percpu_pages = s->percpu_pages;
	o->nr_kvfree_rcu = s->nr_kvfree_rcu;
	o->resident_pages = s->resident_pages;
	o->max_resident_pages = s->max_resident_pages;
	return 0;
}

VMC_EXPORT int vmc_stat(struct vmc_client *c, struct vmc_stat *out)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__QueryRequest qr = VMALLOCD__V1__QUERY_REQUEST__INIT;

	if (!c || !out)
		return -EINVAL;
	qr.kind = VMALLOCD__V1__QUERY_KIND__QUERY_STAT;
	req.op_case = VMALLOCD__V1__REQUEST__OP_QUERY;
	req.query = &qr;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT_QUERY, take_stat, out);
}

VMC_EXPORT int vmc_check(struct vmc_client *c, char *msg, size_t msglen)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__CheckRequest ck = VMALLOCD__V1__CHECK_REQUEST__INIT;
	int r;

	if (!c)
		return -EINVAL;
	req.op_case = VMALLOCD__V1__REQUEST__OP_CHECK;
	req.check = &ck;
	r = call(c, &req, VMALLOCD__V1__REPLY__RESULT__NOT_SET, NULL, NULL);
	if (msg && msglen)
		snprintf(msg, msglen, "%s", r == -EUCLEAN ? c->msg : "");
	return r;
}

VMC_EXPORT int vmc_purge(struct vmc_client *c)
{
	Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__PurgeRequest p = VMALLOCD__V1__PURGE_REQUEST__INIT;

	if (!c)
		return -EINVAL;
	req.op_case = VMALLOCD__V1__REQUEST__OP_PURGE;
	req.purge = &p;
	return call(c, &req, VMALLOCD__V1__REPLY__RESULT__NOT_SET, NULL, NULL);
}
