/* replay_engine.h -- struct vt_backend over an in-process engine. */
#ifndef VMREPLAY_REPLAY_ENGINE_H
#define VMREPLAY_REPLAY_ENGINE_H

#include "replay.h"
#include "vmcore.h"

/* The backend's own state: the engine, and the frame its KVA holds map
 * (reserve: a vmap of one frame, taken from the buddy allocator when the
 * last one is mapped VR_FRAME_MAPS times). */
struct vr_engine {
	struct vm_engine *e;
	uint64_t frame;         /* pfn of the shared frame */
	uint64_t frame_maps;    /* times it is mapped; 0: none taken yet */
};

#define VR_FRAME_MAPS 65535u    /* a frame's map count is 16 bits */

/* Point b's operations at engine e through ctx (both must outlive b).
 * Can't fail. */
void vr_backend_engine(struct vt_backend *b, struct vr_engine *ctx, struct vm_engine *e);

#endif /* VMREPLAY_REPLAY_ENGINE_H */
