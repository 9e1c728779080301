/* workqueue.c -- deferred work: what the kernel hands to a workqueue with
 * schedule_work() runs here after the call that queued it has returned.
 *
 * The engine is single-threaded and keeps no clock, so "later" is defined
 * by its calls: queued work runs at the start of the next allocator call
 * (vmi_run_due_work(), as a kworker that got the CPU first), or when the
 * engine's owner runs it (vm_run_deferred_work(): the daemon does once the
 * replies of a pass are sent).  Queries and the checker do not run it, so
 * the state between the queueing call and the work is observable.
 *
 * Work items are bits (VM_WORK_*): schedule_work() of a pending item does
 * nothing, as in the kernel.  Items:
 *   VM_WORK_DRAIN_VMAP   drain_vmap_area_work(): __purge_vmap_area_lazy()
 *                        without the full pool decay
 */
#include "vm-internal.h"

void vmi_schedule_work(struct vm_engine *e, unsigned work)
{
	e->work_pending |= work;
}

bool vm_work_pending(const struct vm_engine *e)
{
	return e && e->work_pending;
}

void vm_run_deferred_work(struct vm_engine *e)
{
	if (!e)
		return;
	/* An item may queue another (or itself): run until none is left. */
	while (e->work_pending) {
		unsigned w = e->work_pending;

		e->work_pending = 0;
		if (w & VM_WORK_DRAIN_VMAP)
			e->k->kva->purge(e, false);
	}
}
