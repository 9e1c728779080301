/* replay_engine.h -- struct vt_backend over an in-process engine. */
#ifndef VMREPLAY_REPLAY_ENGINE_H
#define VMREPLAY_REPLAY_ENGINE_H

#include "replay.h"
#include "vmcore.h"

/* Point b's operations at engine e (which must outlive b).  Can't fail. */
void vr_backend_engine(struct vt_backend *b, struct vm_engine *e);

#endif /* VMREPLAY_REPLAY_ENGINE_H */
