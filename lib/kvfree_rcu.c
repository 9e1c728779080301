/* kvfree_rcu.c -- kvfree_rcu() of a vmalloc area: freed after a grace
 * period, in batches (mm/slab_common.c in 6.18, kernel/rcu/tree.c before
 * 6.13; 5.9+: 4.19 has no kvfree_rcu()).
 *
 * A call puts the area on its CPU's kfree_rcu_cpu (the bulk array of
 * vmalloc'd pointers) and leaves it mapped, findable and owned, as the
 * kernel leaves it until then; only a second free of it is refused.  The
 * batch drains when kfree_rcu_monitor() runs: one jiffy after the CPU's
 * count reaches KVFREE_BULK_MAX_ENTR (a page of pointers, 507), otherwise
 * KFREE_DRAIN_JIFFIES (5 s) after the first one.  Draining hands the batch
 * to RCU, and after a grace period kfree_rcu_work() vfrees every area of it.
 *
 * The engine has no clock and no readers: a grace period ends as soon as
 * the call that queued the batch has returned.  So the full batch's
 * monitor, its grace period and its kfree_rcu_work are one item of
 * deferred work (VM_WORK_KFREE_RCU, run at the start of the engine's next
 * call or by its owner), and the 5-second timer is a delayed item that
 * runs when the owner says time has passed (vm_run_deferred_work; the
 * daemon does every KFREE_DRAIN_JIFFIES).  kvfree_rcu(ptr, rhf) (the head
 * in the object) and kvfree_rcu_mightsleep(ptr) go the same way as long as
 * the CPU's bulk page cache has a page, which here it always has: the
 * cache and its refill worker (and the head chain and synchronize_rcu()
 * they fall back to without a page) are not modelled.
 *
 * Invariants: every queued area is a live VM_ALLOC area marked
 * VM_KVFREE_RCU, on exactly one CPU's list; nr_kvfree_rcu == Σ list
 * lengths; a list of KVFREE_BULK_MAX_ENTR or more has the drain queued.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "vm-internal.h"
#include "vmap_busy.h"

/* (PAGE_SIZE - sizeof(struct kvfree_rcu_bulk_data)) / sizeof(void *):
 * a list head, the rcu_gp_oldstate snapshot and the count take 40 bytes. */
#define KVFREE_BULK_MAX_ENTR ((VM_PAGE_SIZE - 40) / 8)

struct kfree_rcu_cpu {
	struct vm_struct **v;           /* queued areas, oldest first */
	uint64_t n, cap;
};

int vmi_kvfree_rcu_init(struct vm_engine *e)
{
	e->krc = calloc(e->nr_cpus, sizeof(*e->krc));
	return e->krc ? 0 : -ENOMEM;
}

void vmi_kvfree_rcu_destroy(struct vm_engine *e)
{
	/* The areas go with the engine. */
	if (e->krc)
		for (unsigned c = 0; c < e->nr_cpus; c++)
			free(e->krc[c].v);
	free(e->krc);
	e->krc = NULL;
	e->nr_kvfree_rcu = 0;
}

int vm_kvfree_rcu(struct vm_engine *e, uint64_t addr, bool head)
{
	struct kfree_rcu_cpu *k;
	struct vmap_area *va;
	struct vm_struct *vm;

	VMI_CALL(e);
	(void)head;
	if (!e)
		return -EINVAL;
	if (!e->k->kvfree_rcu)
		return -EOPNOTSUPP;
	if (!addr)
		return 0;
	va = vmi_find_busy_va_start(e, addr);
	if (!va || !va->vm ||
	    (va->vm->flags & (VM_ALLOC | VM_PAGE_ARRAY | VM_PERCPU | VM_KVFREE_RCU)) != VM_ALLOC)
		return -EINVAL;
	vm = va->vm;
	k = &e->krc[e->cur_cpu];
	if (k->n == k->cap) {
		uint64_t cap = k->cap ? k->cap * 2 : 64;
		struct vm_struct **v = realloc(k->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		k->v = v;
		k->cap = cap;
	}
	vmi_run_due_work(e);
	vm->flags |= VM_KVFREE_RCU;
	k->v[k->n++] = vm;
	e->nr_kvfree_rcu++;
	/* schedule_delayed_monitor_work(): a jiffy once a page of pointers
	 * is full, else KFREE_DRAIN_JIFFIES. */
	if (k->n >= KVFREE_BULK_MAX_ENTR)
		vmi_schedule_work(e, VM_WORK_KFREE_RCU);
	else
		vmi_schedule_delayed_work(e, VM_WORK_KFREE_RCU);
	return 0;
}

void vmi_kvfree_rcu_drain(struct vm_engine *e)
{
	for (unsigned c = 0; c < e->nr_cpus; c++) {
		struct kfree_rcu_cpu *k = &e->krc[c];

		/* kvfree_rcu_bulk(): vfree() of each, in queue order. */
		for (uint64_t i = 0; i < k->n; i++) {
			k->v[i]->flags &= ~VM_KVFREE_RCU;
			vmi_vfree_vm(e, k->v[i]);
		}
		VMI_SUB(e, e->nr_kvfree_rcu, k->n);
		k->n = 0;
	}
}

uint64_t vm_kvfree_rcu_pending(const struct vm_engine *e)
{
	return e ? e->nr_kvfree_rcu : 0;
}

__attribute__((format(printf, 3, 4)))
static int fail(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (msg && msglen) {
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

int vmi_kvfree_rcu_check(struct vm_engine *e, char *msg, size_t msglen)
{
	uint64_t total = 0, marked = 0;

	for (unsigned c = 0; c < e->nr_cpus; c++) {
		struct kfree_rcu_cpu *k = &e->krc[c];

		for (uint64_t i = 0; i < k->n; i++) {
			const struct vm_struct *vm = k->v[i];

			if (!vm->va || vm->va->vm != vm ||
			    vmi_find_busy_va_start(e, vm->addr) != vm->va ||
			    (vm->flags & (VM_ALLOC | VM_KVFREE_RCU)) != (VM_ALLOC | VM_KVFREE_RCU))
				return fail(msg, msglen, "kvfree_rcu area %#llx on CPU %u is not a live, "
					    "marked vmalloc area", (unsigned long long)vm->addr, c);
		}
		if (k->n >= KVFREE_BULK_MAX_ENTR && !(e->work_pending & VM_WORK_KFREE_RCU))
			return fail(msg, msglen, "CPU %u holds %llu kvfree_rcu areas, no drain queued",
				    c, (unsigned long long)k->n);
		total += k->n;
	}
	for (struct list_node *l = e->busy_list.next; l != &e->busy_list; l = l->next) {
		const struct vmap_area *va = list_entry(l, struct vmap_area, list);

		marked += va->vm && (va->vm->flags & VM_KVFREE_RCU);
	}
	if (total != e->nr_kvfree_rcu || marked != total)
		return fail(msg, msglen, "%llu areas queued for kvfree_rcu, %llu marked, counter %llu",
			    (unsigned long long)total, (unsigned long long)marked,
			    (unsigned long long)e->nr_kvfree_rcu);
	return 0;
}

/* ---- the state image (state.c) ----------------------------------------------------------- */

/* Each CPU's batch in queue order, by the areas' start addresses. */
void vmi_kvfree_rcu_save(const struct vm_engine *e, struct vmi_out *o)
{
	for (unsigned c = 0; c < e->nr_cpus; c++) {
		const struct kfree_rcu_cpu *k = &e->krc[c];

		vmi_out_u64(o, k->n);
		for (uint64_t i = 0; i < k->n; i++)
			vmi_out_u64(o, k->v[i]->addr - e->layout->vmalloc_start);
	}
}

int vmi_kvfree_rcu_load(struct vm_engine *e, struct vmi_in *in)
{
	for (unsigned c = 0; c < e->nr_cpus; c++) {
		struct kfree_rcu_cpu *k = &e->krc[c];
		uint64_t n = vmi_in_max(in, (uint64_t)(in->end - in->p));

		if (in->err)
			return in->err;
		if (n) {
			k->v = malloc(n * sizeof(*k->v));
			if (!k->v)
				return -ENOMEM;
			k->cap = n;
		}
		for (uint64_t i = 0; i < n; i++) {
			uint64_t off = vmi_in_max(in, e->layout->vmalloc_end - e->layout->vmalloc_start);
			struct vmap_area *va;

			if (in->err)
				return in->err;
			va = vmi_find_busy_va_start(e, e->layout->vmalloc_start + off);
			if (!va || !va->vm || !(va->vm->flags & VM_KVFREE_RCU))
				return -EBADMSG;
			k->v[k->n++] = va->vm;
			e->nr_kvfree_rcu++;
		}
	}
	return 0;
}
