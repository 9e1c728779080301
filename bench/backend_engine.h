/* backend_engine.h -- struct tv_backend over an in-process engine. */
#ifndef BENCH_BACKEND_ENGINE_H
#define BENCH_BACKEND_ENGINE_H

#include "test_vmalloc.h"
#include "vmcore.h"

/* Point b's operations at engine e (which must outlive b). Can't fail. */
void tv_backend_engine(struct tv_backend *b, struct vm_engine *e);

#endif /* BENCH_BACKEND_ENGINE_H */
