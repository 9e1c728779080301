/* workqueue.c -- deferred work: what the kernel hands to a workqueue with
 * schedule_work() runs here after the call that queued it has returned.
 *
 * The engine is single-threaded and keeps no clock, so "later" is defined
 * by its calls: queued work runs at the start of the next allocator call
 * (vmi_run_due_work(), as a kworker that got the CPU first), or when the
 * engine's owner runs it (vm_run_due_work(): the daemon does once the
 * replies of a pass are sent).  Delayed work (schedule_delayed_work() with
 * a timeout of seconds) waits for its timer, which only the owner can say
 * has expired: vm_run_deferred_work() runs it too (the daemon does so on a
 * timer of its own).  Queries and the checker run nothing, so the state
 * between the queueing call and the work is observable.
 *
 * Work items are bits (VM_WORK_*): queueing a pending item again does
 * nothing, as in the kernel; an item both delayed and due runs once, when
 * due.  Items:
 *   VM_WORK_DRAIN_VMAP    drain_vmap_area_work(): __purge_vmap_area_lazy()
 *                         without the full pool decay
 *   VM_WORK_PCPU_BALANCE  pcpu_balance_workfn(): spare chunks destroyed,
 *                         empty populated pages topped up
 *   VM_WORK_KFREE_RCU     kfree_rcu_monitor(), the grace period and
 *                         kfree_rcu_work(): the queued areas vfree'd
 *                         (delayed: KFREE_DRAIN_JIFFIES, 5 s)
 */
#include "vm-internal.h"

void vmi_schedule_work(struct vm_engine *e, unsigned work)
{
	e->work_pending |= work;
	e->work_delayed &= ~work;
}

void vmi_schedule_delayed_work(struct vm_engine *e, unsigned work)
{
	if (!(e->work_pending & work))
		e->work_delayed |= work;
}

bool vm_work_pending(const struct vm_engine *e)
{
	return e && e->work_pending;
}

bool vm_work_delayed(const struct vm_engine *e)
{
	return e && e->work_delayed;
}

static void run_items(struct vm_engine *e, unsigned w)
{
	if (w & VM_WORK_DRAIN_VMAP)
		e->k->kva->purge(e, false);
	if (w & VM_WORK_KFREE_RCU)
		vmi_kvfree_rcu_drain(e);
	if (w & VM_WORK_PCPU_BALANCE)
		vmi_pcpu_balance(e);
}

void vm_run_due_work(struct vm_engine *e)
{
	VMI_CALL(e);
	if (!e)
		return;
	/* An item may queue another (or itself): run until none is left. */
	while (e->work_pending) {
		unsigned w = e->work_pending;

		e->work_pending = 0;
		run_items(e, w);
	}
	vmi_punch_flush(e);
}

void vm_run_deferred_work(struct vm_engine *e)
{
	VMI_CALL(e);
	if (!e)
		return;
	while (e->work_pending || e->work_delayed) {
		unsigned w = e->work_pending | e->work_delayed;

		e->work_pending = e->work_delayed = 0;
		run_items(e, w);
	}
	vmi_punch_flush(e);
}
