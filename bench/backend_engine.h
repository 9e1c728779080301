/* backend_engine.h -- struct tv_backend over an in-process engine. */
#ifndef BENCH_BACKEND_ENGINE_H
#define BENCH_BACKEND_ENGINE_H

#include "test_vmalloc.h"
#include "vmcore.h"

/* Point b's operations at engine e (which must outlive b). Can't fail.
 * The kernel's module to run is vm_kernel_test_vmalloc() of e's kernel:
 * tv_kernel_of() converts it. */
void tv_backend_engine(struct tv_backend *b, struct vm_engine *e);
struct tv_kernel tv_kernel_of(enum vm_kernel kernel);

#endif /* BENCH_BACKEND_ENGINE_H */
