/* fault.h -- malloc fault injection for tests (vmallocd-faultinj only).
 *
 * The test build of the daemon is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup, so every
 * allocation made by daemon/, lib/ and proto/ code goes through fault.c, and
 * libevent's through event_set_mem_functions().  The production vmallocd is
 * linked without any of it: these calls compile to nothing there.
 *
 * Environment (read once, at start):
 *   VMALLOCD_FAIL_MALLOC=N        the Nth allocation after READY=1 fails
 *                                 (once; the ones after it succeed again)
 *   VMALLOCD_FAIL_MALLOC=start:N  the Nth allocation of the start-up (from
 *                                 main() to READY=1) fails
 *   VMALLOCD_FAULT_REPORT=PATH    at exit, write "allocations=A failed=F\n"
 *                                 there: how many allocations the counted
 *                                 phase made and whether the failure fired
 */
#ifndef VMALLOCD_FAULT_H
#define VMALLOCD_FAULT_H

#ifdef VMD_FAULT_INJECTION
/* First thing in main(): read the environment, hook libevent. */
void fault_init(void);
/* After READY=1: start counting for VMALLOCD_FAIL_MALLOC=N. */
void fault_serving(void);
#else
static inline void fault_init(void)
{
}
static inline void fault_serving(void)
{
}
#endif

#endif /* VMALLOCD_FAULT_H */
