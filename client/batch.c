/* batch.c -- vmc_batch_*: queue requests without waiting, then send them in
 * one go and take the replies in order.
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
	BOP_VM_UNMAP_RAM,
	BOP_ALLOC_PERCPU,
	BOP_FREE_PERCPU,
	BOP_KVFREE_RCU,
};

struct bent {
	enum bop op;
	uint64_t len;              /* READ, WRITE: bytes; VM_UNMAP_RAM: pages; ALLOC_PERCPU:
				    * alignment; KVFREE_RCU: the head form */
	uint64_t arg;              /* VMALLOC, ALLOC_PERCPU: size; others: address */
	union {
		uint64_t *ret_addr;    /* VMALLOC, ALLOC_PERCPU */
		void *dst;             /* READ */
		const void *src;       /* WRITE */
	};
	const void *ra;            /* VMALLOC: return address of the queueing call */
	int *status;               /* may be NULL */
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
	b->n = 0;
}

VMC_EXPORT size_t vmc_batch_size(const struct vmc_batch *b)
{
	return b ? b->n : 0;
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

/* A request with two numbers and no bytes. */
static int queue_plain(struct vmc_batch *b, enum bop op, uint64_t arg, uint64_t len,
		       uint64_t *ret, int *status)
{
	struct bent *e;

	if (!b || (op == BOP_ALLOC_PERCPU && !ret))
		return -EINVAL;
	e = batch_add(b);
	if (!e)
		return -ENOMEM;
	e->op = op;
	e->arg = arg;
	e->len = len;
	e->ret_addr = ret;
	e->status = status;
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

static int batch_build(struct vmci_xfer *x, size_t i, Vmallocd__V1__Request *req,
		       union vmci_sub *sub)
{
	const struct vmc_batch *b = x->ctx;
	const struct breq *q = &b->req[i];
	const struct bent *e = &b->ent[q->ent];
	struct vmc_client *c = b->c;

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
	case BOP_VFREE:
		vmallocd__v1__free_request__init(&sub->free);
		sub->free.addr = e->arg;
		req->op_case = VMALLOCD__V1__REQUEST__OP_FREE;
		req->free = &sub->free;
		break;
	case BOP_READ:
		vmallocd__v1__read_request__init(&sub->read);
		sub->read.addr = e->arg + q->off;
		sub->read.len = q->len;
		req->op_case = VMALLOCD__V1__REQUEST__OP_READ;
		req->read = &sub->read;
		break;
	case BOP_WRITE:
		vmallocd__v1__write_request__init(&sub->write);
		sub->write.addr = e->arg + q->off;
		sub->write.data.len = q->len;
		sub->write.data.data = (uint8_t *)e->src + q->off;
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
	return 0;
}

static int batch_done(struct vmci_xfer *x, size_t i, const Vmallocd__V1__Reply *rep)
{
	const struct vmc_batch *b = x->ctx;
	const struct breq *q = &b->req[i];
	const struct bent *e = &b->ent[q->ent];
	Vmallocd__V1__Reply__ResultCase want = VMALLOCD__V1__REPLY__RESULT__NOT_SET;
	int r, st;

	if (e->op == BOP_VMALLOC || e->op == BOP_VZALLOC || e->op == BOP_ALLOC_PERCPU)
		want = VMALLOCD__V1__REPLY__RESULT_ALLOC;
	else if (e->op == BOP_READ)
		want = VMALLOCD__V1__REPLY__RESULT_READ;
	r = vmci_reply_status(x->c, rep, want, &st);
	if (r < 0)
		return r;
	if (st == 0 && want == VMALLOCD__V1__REPLY__RESULT_ALLOC)
		*e->ret_addr = rep->alloc->addr;
	if (st == 0 && e->op == BOP_READ) {
		if (rep->read->data.len != q->len) {
			vmci_set_msg(x->c, "read reply of %zu bytes, asked for %u",
				     rep->read->data.len, q->len);
			return -EPROTO;
		}
		memcpy((uint8_t *)e->dst + q->off, rep->read->data.data, q->len);
	}
	if (e->status && *e->status == 0)
		*e->status = st;
	return 0;
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
