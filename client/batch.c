/* batch.c -- vmc_batch_*: queue requests without waiting, then send them in
 * one go and take the replies in order.  Every call of the vmalloc family
 * that changes the machine can be queued (vmctl replay drives a whole trace
 * through them).
 *
 * A batch is an array of entries, one per queueing call.  vmc_batch_run()
 * maps them to request frames (a read or write longer than the daemon's
 * per-frame limit becomes several, sharing the caller's status pointer: the
 * first error wins), packs every frame into the write buffer at once and
 * lets the pump write it out in as few send() calls as the socket allows,
 * reading replies meanwhile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmclient-internal.h"

enum bop {
	BOP_VMALLOC,
	BOP_VZALLOC,
	BOP_VFREE,
	BOP_READ,
	BOP_WRITE,
	BOP_NODE_RANGE,
	BOP_VREALLOC,
	BOP_VMAP,
	BOP_VUNMAP,
	BOP_ALLOC_PAGES,
	BOP_FREE_PAGES,
	BOP_PURGE,
	BOP_VM_UNMAP_RAM,
	BOP_ALLOC_PERCPU,
	BOP_FREE_PERCPU,
	BOP_KVFREE_RCU,
};

struct bent {
	enum bop op;
	uint64_t len;              /* READ, WRITE: bytes; VREALLOC: new size; VMAP: pfns;
				    * VM_UNMAP_RAM: pages; ALLOC_PERCPU: alignment;
				    * KVFREE_RCU: the head form */
	uint64_t arg;              /* VMALLOC, NODE_RANGE, ALLOC_PERCPU: size; FREE_PAGES: pfn;
				    * others: address */
	union {
		uint64_t *ret_addr;    /* VMALLOC, NODE_RANGE, VREALLOC, VMAP, ALLOC_PERCPU;
					* ALLOC_PAGES: pfn */
		void *dst;             /* READ */
		const void *src;       /* WRITE */
	};
	const void *ra;            /* the return address of the queueing call */
	int *status;               /* may be NULL */
	union {
		struct vmc_alloc_opts opts;             /* NODE_RANGE */
		uint32_t gfp;                           /* VREALLOC */
		struct { const uint64_t *pfns; uint32_t flags, prot; } vmap;
		struct { uint32_t gfp; unsigned order; int node; } pages;  /* *_PAGES */
	} u;
};

/* One request frame of a run: entry ent, and for READ/WRITE its bytes
 * [off, off + len). */
struct breq {
	size_t ent;
	uint64_t off;
	uint32_t len;
};

struct vmc_batch {
	struct vmc_client *c;
	struct bent *ent;
	size_t n, cap;             /* entries */
	struct breq *req;          /* frames of the current run, reused */
	size_t nreq, capreq;
	/* Sending without waiting (vmc_batch_send/reap): entries [head, sent)
	 * are in flight, with ids first_id, first_id + 1, ...; [sent, n) are
	 * queued; those before head were answered and are dropped. */
	size_t head, sent;
	uint64_t first_id;
	size_t answered;           /* answered by vmc_batch_send, not yet reported by reap */
};

VMC_EXPORT int vmc_batch_new(struct vmc_client *c, struct vmc_batch **out)
{
	struct vmc_batch *b;

	if (!c || !out)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->c = c;
	*out = b;
	return 0;
}

VMC_EXPORT void vmc_batch_free(struct vmc_batch *b)
{
	if (!b)
		return;
	free(b->ent);
	free(b->req);
	free(b);
}

VMC_EXPORT void vmc_batch_clear(struct vmc_batch *b)
{
	if (!b)
		return;
	b->n = b->head = b->sent = b->answered = 0;
}

VMC_EXPORT size_t vmc_batch_size(const struct vmc_batch *b)
{
	return b ? b->n - b->head : 0;
}

/* A new entry at the end, zeroed; NULL without memory. */
static struct bent *batch_add(struct vmc_batch *b)
{
	struct bent *e;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;

		if (cap > SIZE_MAX / sizeof(*e))
			return NULL;
		e = realloc(b->ent, cap * sizeof(*e));
		if (!e)
			return NULL;
		b->ent = e;
		b->cap = cap;
	}
	e = &b->ent[b->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

static int queue_alloc(struct vmc_batch *b, enum bop op, uint64_t size, uint64_t *addr,
		       int *status, const void *ra)
{
	struct bent *e;

	if (!b || !addr)
		return -EINVAL;
	e = batch_add(b);
	if (!e)
		return -ENOMEM;
	e->op = op;
	e->arg = size;
	e->ret_addr = addr;
	e->ra = ra;
	e->status = status;
	return 0;
}

VMC_EXPORT int vmc_batch_vmalloc(struct vmc_batch *b, uint64_t size, uint64_t *addr, int *status)
{
	return queue_alloc(b, BOP_VMALLOC, size, addr, status, VMC_RA());
}

VMC_EXPORT int vmc_batch_vzalloc(struct vmc_batch *b, uint64_t size, uint64_t *addr, int *status)
{
	return queue_alloc(b, BOP_VZALLOC, size, addr, status, VMC_RA());
}

VMC_EXPORT int vmc_batch_vfree(struct vmc_batch *b, uint64_t addr, int *status)
{
	struct bent *e;

	if (!b)
		return -EINVAL;
	e = batch_add(b);
	if (!e)
		return -ENOMEM;
	e->op = BOP_VFREE;
	e->arg = addr;
	e->status = status;
	return 0;
}

VMC_EXPORT int vmc_batch_vmalloc_node_range(struct vmc_batch *b, uint64_t size,
					    const struct vmc_alloc_opts *opts, uint64_t *addr,
					    int *status)
{
	const void *ra = VMC_RA();
	struct bent *e;

	if (!b || !addr ||
	    (opts && opts->caller && strnlen(opts->caller, VMC_CALLER_MAX + 1) > VMC_CALLER_MAX))
		return -EINVAL;
	e = batch_add(b);
	if (!e)
		return -ENOMEM;
	e->op = BOP_NODE_RANGE;
	e->arg = size;
	e->ret_addr = addr;
	e->ra = ra;
	e->status = status;
	if (opts) {
		e->u.opts = *opts;
	} else {
		e->u.opts = (struct vmc_alloc_opts)VMC_ALLOC_OPTS_INIT;
	}
	return 0;
}

VMC_EXPORT int vmc_batch_vrealloc(struct vmc_batch *b, uint64_t addr, uint64_t size, uint32_t gfp,
				  uint64_t *new_addr, int *status)
{
	const void *ra = VMC_RA();
	struct bent *e;

	if (!b || !new_addr)
		return -EINVAL;
	e = batch_add(b);
	if (!e)
		return -ENOMEM;
	e->op = BOP_VREALLOC;
	e->arg = addr;
	e->len = size;
	e->u.gfp = gfp;
	e->ret_addr = new_addr;
	e->ra = ra;
	e->status = status;
	return 0;
}

VMC_EXPORT int vmc_batch_vmap(struct vmc_batch *b, const uint64_t *pfns, uint64_t count,
			      uint32_t flags, uint32_t prot, uint64_t *addr, int *status)
{
	const void *ra = VMC_RA();
	struct bent *e;

	if (!b || !addr || (count && !pfns) || count > SIZE_MAX)
		return -EINVAL;
	e = batch_add(b);
	if (!e)
		return -ENOMEM;
	e->op = BOP_VMAP;
	e->len = count;
	e->u.vmap.pfns = pfns;
	e->u.vmap.flags = flags;
	e->u.vmap.prot = prot;
	e->ret_addr = addr;
	e->ra = ra;
	e->status = status;
	return 0;
}

/* An entry of op on a single number (an address or pfn). */
static struct bent *queue_arg(struct vmc_batch *b, enum bop op, uint64_t arg, int *status)
{
	struct bent *e = b ? batch_add(b) : NULL;

	if (e) {
		e->op = op;
		e->arg = arg;
		e->status = status;
	}
	return e;
}

VMC_EXPORT int vmc_batch_vunmap(struct vmc_batch *b, uint64_t addr, int *status)
{
	if (!b)
		return -EINVAL;
	return queue_arg(b, BOP_VUNMAP, addr, status) ? 0 : -ENOMEM;
}

VMC_EXPORT int vmc_batch_alloc_pages(struct vmc_batch *b, uint32_t gfp, unsigned order, int node,
				     uint64_t *pfn, int *status)
{
	struct bent *e;

	if (!b || !pfn)
		return -EINVAL;
	e = queue_arg(b, BOP_ALLOC_PAGES, 0, status);
	if (!e)
		return -ENOMEM;
	e->ret_addr = pfn;
	e->u.pages.gfp = gfp;
	e->u.pages.order = order;
	e->u.pages.node = node;
	return 0;
}

VMC_EXPORT int vmc_batch_free_pages(struct vmc_batch *b, uint64_t pfn, unsigned order,
				    int *status)
{
	struct bent *e;

	if (!b)
		return -EINVAL;
	e = queue_arg(b, BOP_FREE_PAGES, pfn, status);
	if (!e)
		return -ENOMEM;
	e->u.pages.order = order;
	return 0;
}

VMC_EXPORT int vmc_batch_purge(struct vmc_batch *b, int *status)
{
	if (!b)
		return -EINVAL;
	return queue_arg(b, BOP_PURGE, 0, status) ? 0 : -ENOMEM;
}

/* A request with two numbers and no bytes. */
static int queue_plain(struct vmc_batch *b, enum bop op, uint64_t arg, uint64_t len,
		       uint64_t *ret, int *status)
{
	struct bent *e;

	if (!b || (op == BOP_ALLOC_PERCPU && !ret))
		return -EINVAL;
	e = queue_arg(b, op, arg, status);
	if (!e)
		return -ENOMEM;
	e->len = len;
	e->ret_addr = ret;
	return 0;
}

VMC_EXPORT int vmc_batch_vm_unmap_ram(struct vmc_batch *b, uint64_t addr, uint64_t count,
				      int *status)
{
	return queue_plain(b, BOP_VM_UNMAP_RAM, addr, count, NULL, status);
}

VMC_EXPORT int vmc_batch_alloc_percpu(struct vmc_batch *b, uint64_t size, uint64_t align,
				      uint64_t *ptr, int *status)
{
	return queue_plain(b, BOP_ALLOC_PERCPU, size, align, ptr, status);
}

VMC_EXPORT int vmc_batch_free_percpu(struct vmc_batch *b, uint64_t ptr, int *status)
{
	return queue_plain(b, BOP_FREE_PERCPU, ptr, 0, NULL, status);
}

VMC_EXPORT int vmc_batch_kvfree_rcu(struct vmc_batch *b, uint64_t addr, bool head, int *status)
{
	return queue_plain(b, BOP_KVFREE_RCU, addr, head, NULL, status);
}

static int queue_rw(struct vmc_batch *b, enum bop op, uint64_t addr, const void *buf,
		    uint64_t len, int *status)
{
	struct bent *e;

	if (!b || (len && !buf) || addr + len < addr || len > SIZE_MAX)
		return -EINVAL;
	e = batch_add(b);
	if (!e)
		return -ENOMEM;
	e->op = op;
	e->arg = addr;
	e->len = len;
	if (op == BOP_READ)
		e->dst = (void *)buf;
	else
		e->src = buf;
	e->status = status;
	return 0;
}

VMC_EXPORT int vmc_batch_write(struct vmc_batch *b, uint64_t addr, const void *buf, uint64_t len,
			       int *status)
{
	return queue_rw(b, BOP_WRITE, addr, buf, len, status);
}

VMC_EXPORT int vmc_batch_read(struct vmc_batch *b, uint64_t addr, void *buf, uint64_t len,
			      int *status)
{
	return queue_rw(b, BOP_READ, addr, buf, len, status);
}

/* The request of entry e (for READ and WRITE: its bytes [off, off + len)). */
static void build_entry(struct vmc_client *c, const struct bent *e, uint64_t off, uint32_t len,
			Vmallocd__V1__Request *req, union vmci_sub *sub)
{
	switch (e->op) {
	case BOP_VMALLOC:
	case BOP_VZALLOC:
		vmallocd__v1__alloc_request__init(&sub->alloc);
		sub->alloc.kind = e->op == BOP_VMALLOC ? VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC
						       : VMALLOCD__V1__ALLOC_KIND__ALLOC_VZALLOC;
		sub->alloc.size = e->arg;
		sub->alloc.node = VMC_NO_NODE;
		sub->alloc.scoped = c->scoped;
		sub->alloc.caller = (char *)vmci_caller(c, e->ra);
		req->op_case = VMALLOCD__V1__REQUEST__OP_ALLOC;
		req->alloc = &sub->alloc;
		break;
	case BOP_NODE_RANGE: {
		const struct vmc_alloc_opts *o = &e->u.opts;

		vmallocd__v1__alloc_request__init(&sub->alloc);
		sub->alloc.kind = VMALLOCD__V1__ALLOC_KIND__ALLOC_NODE_RANGE;
		sub->alloc.size = e->arg;
		sub->alloc.align = o->align;
		sub->alloc.start = o->start;
		sub->alloc.end = o->end;
		sub->alloc.gfp = o->gfp;
		sub->alloc.prot = o->prot;
		sub->alloc.vm_flags = o->vm_flags;
		sub->alloc.node = o->node;
		sub->alloc.scoped = o->scoped || c->scoped;
		sub->alloc.parent_pid = vmci_parent_pid(c);
		sub->alloc.caller = (char *)(o->caller ? o->caller : vmci_caller(c, e->ra));
		req->op_case = VMALLOCD__V1__REQUEST__OP_ALLOC;
		req->alloc = &sub->alloc;
		break;
	}
	case BOP_VREALLOC:
		vmallocd__v1__realloc_request__init(&sub->realloc);
		sub->realloc.addr = e->arg;
		sub->realloc.size = e->len;
		sub->realloc.gfp = e->u.gfp;
		sub->realloc.caller = (char *)vmci_caller(c, e->ra);
		req->op_case = VMALLOCD__V1__REQUEST__OP_REALLOC;
		req->realloc = &sub->realloc;
		break;
	case BOP_VMAP:
		vmallocd__v1__vmap_request__init(&sub->vmap);
		sub->vmap.n_pfns = (size_t)e->len;
		sub->vmap.pfns = (uint64_t *)e->u.vmap.pfns;
		sub->vmap.flags = e->u.vmap.flags;
		sub->vmap.prot = e->u.vmap.prot;
		sub->vmap.scoped = c->scoped;
		sub->vmap.parent_pid = vmci_parent_pid(c);
		sub->vmap.caller = (char *)vmci_caller(c, e->ra);
		req->op_case = VMALLOCD__V1__REQUEST__OP_VMAP;
		req->vmap = &sub->vmap;
		break;
	case BOP_VUNMAP:
		vmallocd__v1__vunmap_request__init(&sub->vunmap);
		sub->vunmap.addr = e->arg;
		req->op_case = VMALLOCD__V1__REQUEST__OP_VUNMAP;
		req->vunmap = &sub->vunmap;
		break;
	case BOP_ALLOC_PAGES:
		vmallocd__v1__alloc_pages_request__init(&sub->alloc_pages);
		sub->alloc_pages.gfp = e->u.pages.gfp;
		sub->alloc_pages.order = e->u.pages.order;
		sub->alloc_pages.node = e->u.pages.node;
		sub->alloc_pages.scoped = c->scoped;
		sub->alloc_pages.parent_pid = vmci_parent_pid(c);
		req->op_case = VMALLOCD__V1__REQUEST__OP_ALLOC_PAGES;
		req->alloc_pages = &sub->alloc_pages;
		break;
	case BOP_FREE_PAGES:
		vmallocd__v1__free_pages_request__init(&sub->free_pages);
		sub->free_pages.pfn = e->arg;
		sub->free_pages.order = e->u.pages.order;
		req->op_case = VMALLOCD__V1__REQUEST__OP_FREE_PAGES;
		req->free_pages = &sub->free_pages;
		break;
	case BOP_PURGE:
		vmallocd__v1__purge_request__init(&sub->purge);
		req->op_case = VMALLOCD__V1__REQUEST__OP_PURGE;
		req->purge = &sub->purge;
		break;
	case BOP_VFREE:
		vmallocd__v1__free_request__init(&sub->free);
		sub->free.addr = e->arg;
		req->op_case = VMALLOCD__V1__REQUEST__OP_FREE;
		req->free = &sub->free;
		break;
	case BOP_READ:
		vmallocd__v1__read_request__init(&sub->read);
		sub->read.addr = e->arg + off;
		sub->read.len = len;
		req->op_case = VMALLOCD__V1__REQUEST__OP_READ;
		req->read = &sub->read;
		break;
	case BOP_WRITE:
		vmallocd__v1__write_request__init(&sub->write);
		sub->write.addr = e->arg + off;
		sub->write.data.len = len;
		sub->write.data.data = (uint8_t *)e->src + off;
		req->op_case = VMALLOCD__V1__REQUEST__OP_WRITE;
		req->write = &sub->write;
		break;
	case BOP_VM_UNMAP_RAM:
		vmallocd__v1__vm_unmap_ram_request__init(&sub->vm_unmap_ram);
		sub->vm_unmap_ram.addr = e->arg;
		sub->vm_unmap_ram.count = e->len;
		req->op_case = VMALLOCD__V1__REQUEST__OP_VM_UNMAP_RAM;
		req->vm_unmap_ram = &sub->vm_unmap_ram;
		break;
	case BOP_ALLOC_PERCPU:
		vmallocd__v1__alloc_percpu_request__init(&sub->alloc_percpu);
		sub->alloc_percpu.size = e->arg;
		sub->alloc_percpu.align = e->len;
		sub->alloc_percpu.scoped = c->scoped;
		sub->alloc_percpu.parent_pid = vmci_parent_pid(c);
		req->op_case = VMALLOCD__V1__REQUEST__OP_ALLOC_PERCPU;
		req->alloc_percpu = &sub->alloc_percpu;
		break;
	case BOP_FREE_PERCPU:
		vmallocd__v1__free_percpu_request__init(&sub->free_percpu);
		sub->free_percpu.ptr = e->arg;
		req->op_case = VMALLOCD__V1__REQUEST__OP_FREE_PERCPU;
		req->free_percpu = &sub->free_percpu;
		break;
	case BOP_KVFREE_RCU:
		vmallocd__v1__kvfree_rcu_request__init(&sub->kvfree_rcu);
		sub->kvfree_rcu.addr = e->arg;
		sub->kvfree_rcu.head = e->len != 0;
		req->op_case = VMALLOCD__V1__REQUEST__OP_KVFREE_RCU;
		req->kvfree_rcu = &sub->kvfree_rcu;
		break;
	}
}

static int batch_build(struct vmci_xfer *x, size_t i, Vmallocd__V1__Request *req,
		       union vmci_sub *sub)
{
	const struct vmc_batch *b = x->ctx;
	const struct breq *q = &b->req[i];

	build_entry(b->c, &b->ent[q->ent], q->off, q->len, req, sub);
	return 0;
}

/* The reply to entry e (for READ: of its bytes [off, off + len)). */
static int entry_done(struct vmc_client *c, const struct bent *e, uint64_t off, uint32_t len,
		      const Vmallocd__V1__Reply *rep)
{
	Vmallocd__V1__Reply__ResultCase want = VMALLOCD__V1__REPLY__RESULT__NOT_SET;
	int r, st;

	switch (e->op) {
	case BOP_VMALLOC:
	case BOP_VZALLOC:
	case BOP_NODE_RANGE:
	case BOP_VREALLOC:
	case BOP_VMAP:
	case BOP_ALLOC_PERCPU:
		want = VMALLOCD__V1__REPLY__RESULT_ALLOC;
		break;
	case BOP_ALLOC_PAGES:
		want = VMALLOCD__V1__REPLY__RESULT_ALLOC_PAGES;
		break;
	case BOP_READ:
		want = VMALLOCD__V1__REPLY__RESULT_READ;
		break;
	default:
		break;
	}
	r = vmci_reply_status(c, rep, want, &st);
	if (r < 0)
		return r;
	if (st == 0 && want == VMALLOCD__V1__REPLY__RESULT_ALLOC)
		*e->ret_addr = rep->alloc->addr;
	if (st == 0 && want == VMALLOCD__V1__REPLY__RESULT_ALLOC_PAGES)
		*e->ret_addr = rep->alloc_pages->pfn;
	if (st == 0 && e->op == BOP_READ) {
		if (rep->read->data.len != len) {
			vmci_set_msg(c, "read reply of %zu bytes, asked for %u",
				     rep->read->data.len, len);
			return -EPROTO;
		}
		memcpy((uint8_t *)e->dst + off, rep->read->data.data, len);
	}
	if (e->status && *e->status == 0)
		*e->status = st;
	return 0;
}

static int batch_done(struct vmci_xfer *x, size_t i, const Vmallocd__V1__Reply *rep)
{
	const struct vmc_batch *b = x->ctx;
	const struct breq *q = &b->req[i];

	return entry_done(b->c, &b->ent[q->ent], q->off, q->len, rep);
}

/* Map the entries to request frames of at most chunk data bytes each. */
static int batch_plan(struct vmc_batch *b, uint32_t chunk)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++) {
		const struct bent *e = &b->ent[i];
		uint64_t k = 1;

		if (e->op == BOP_READ || e->op == BOP_WRITE)
			k = (e->len + chunk - 1) / chunk;   /* 0 for an empty one */
		if (k > SIZE_MAX / sizeof(*b->req) - n)
			return -ENOMEM;
		n += (size_t)k;
	}
	if (n > b->capreq) {
		struct breq *nr = realloc(b->req, n * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		b->req = nr;
		b->capreq = n;
	}
	b->nreq = 0;
	for (size_t i = 0; i < b->n; i++) {
		const struct bent *e = &b->ent[i];

		if (e->op != BOP_READ && e->op != BOP_WRITE) {
			b->req[b->nreq++] = (struct breq){ .ent = i };
			continue;
		}
		for (uint64_t off = 0; off < e->len; off += chunk)
			b->req[b->nreq++] = (struct breq){
				.ent = i, .off = off,
				.len = (uint32_t)(e->len - off < chunk ? e->len - off : chunk),
			};
	}
	return 0;
}

VMC_EXPORT int vmc_batch_run(struct vmc_batch *b)
{
	struct vmci_xfer x = { .window = 0, .build = batch_build, .done = batch_done };
	size_t i, done = 0;
	int r;

	if (!b)
		return -EINVAL;
	b->nreq = 0;
	for (i = 0; i < b->n; i++)
		if (b->ent[i].status)
			*b->ent[i].status = 0;
	r = b->c->hello_pending ? vmci_settle(b->c) : 0;   /* learn the daemon's limits */
	if (r == 0)
		r = batch_plan(b, vmci_chunk(b->c));
	if (r < 0)
		goto fail;
	x.n = b->nreq;
	x.c = b->c;
	x.ctx = b;
	r = vmci_xfer_run(&x, &done);
	if (r == 0)
		return 0;
fail:
	/* Requests without a reply get the error that stopped the run. */
	for (i = done; i < b->nreq; i++) {
		int *st = b->ent[b->req[i].ent].status;

		if (st && *st == 0)
			*st = r;
	}
	if (done == 0 && b->nreq == 0)   /* nothing planned: every entry failed */
		for (i = 0; i < b->n; i++)
			if (b->ent[i].status)
				*b->ent[i].status = r;
	return r;
}

/* ---- sending without waiting ------------------------------------------------------ */

static int stream_done(struct vmci_xfer *x, size_t i, const Vmallocd__V1__Reply *rep)
{
	const struct vmc_batch *b = x->ctx;
	const struct bent *e = &b->ent[b->head + i];

	return entry_done(b->c, e, 0, (uint32_t)e->len, rep);
}

/* Every call not yet answered gets err as its status. */
static void stream_fail(struct vmc_batch *b, int err)
{
	for (size_t i = b->head; i < b->n; i++)
		if (b->ent[i].status && *b->ent[i].status == 0)
			*b->ent[i].status = err;
	b->n = b->head = b->sent = 0;
}

VMC_EXPORT int vmc_batch_send(struct vmc_batch *b)
{
	struct vmci_xfer x = { .done = stream_done };
	size_t nd = 0;
	int r;

	if (!b)
		return -EINVAL;
	r = b->c->hello_pending ? vmci_settle(b->c) : 0;   /* learn the daemon's limits */
	if (r < 0) {
		stream_fail(b, r);
		return r;
	}
	for (size_t i = b->sent; i < b->n; i++) {
		const struct bent *e = &b->ent[i];

		/* One frame per call here: no reads or writes to split. */
		if ((e->op == BOP_READ || e->op == BOP_WRITE) && e->len > vmci_chunk(b->c))
			return -EINVAL;
	}
	if (b->sent == b->head)
		b->first_id = b->c->next_id;
	for (; b->sent < b->n; b->sent++) {
		Vmallocd__V1__Request req = VMALLOCD__V1__REQUEST__INIT;
		union vmci_sub sub;

		build_entry(b->c, &b->ent[b->sent], 0, (uint32_t)b->ent[b->sent].len, &req, &sub);
		req.id = b->c->next_id;
		r = vmci_pack(b->c, &req);
		if (r < 0)
			return r;       /* this one and those after it stay queued */
		b->c->next_id++;
	}
	/* Out it goes.  Only if the socket is full is what has come back
	 * taken (without waiting), so that the daemon, blocked on its
	 * replies, reads on; otherwise a send costs one system call. */
	r = vmci_flush(b->c);
	if (r == 0)
		return 0;
	if (r != -EAGAIN) {
		stream_fail(b, r);
		return r;
	}
	x.c = b->c;
	x.ctx = b;
	r = vmci_xfer_pump(&x, b->first_id, b->sent - b->head, 0, &nd);
	b->head += nd;
	b->first_id += nd;
	b->answered += nd;
	if (r < 0)
		stream_fail(b, r);
	return r;
}

VMC_EXPORT int vmc_batch_reap(struct vmc_batch *b, size_t min, size_t *ret_done)
{
	struct vmci_xfer x = { .done = stream_done };
	size_t nd = 0, done;
	int r;

	if (!b || !ret_done)
		return -EINVAL;
	x.c = b->c;
	x.ctx = b;
	r = vmci_xfer_pump(&x, b->first_id, b->sent - b->head, min, &nd);
	b->head += nd;
	b->first_id += nd;
	done = b->answered + nd;
	b->answered = 0;
	if (r < 0)
		stream_fail(b, r);
	/* Answered entries are dropped from the front. */
	if (b->head == b->n) {
		b->n = b->head = b->sent = 0;
	} else if (b->head >= 4096 && b->head * 2 >= b->n) {
		memmove(b->ent, b->ent + b->head, (b->n - b->head) * sizeof(*b->ent));
		b->n -= b->head;
		b->sent -= b->head;
		b->head = 0;
	}
	*ret_done = done;
	return r;
}
