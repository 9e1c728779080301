/* frames.h -- the replay's maps as a sequence of PNG files (frames.c). */
#ifndef VMREPLAY_FRAMES_H
#define VMREPLAY_FRAMES_H

#include <stdint.h>

#include "vmcore.h"

struct frames {
	const char *dir;
	uint64_t every;          /* events between two frames */
	uint64_t written;        /* frames written: the next file's number */
	uint64_t kva_span;       /* the widest used part of the range seen */
};

/* Make dir if missing.  0 or a negative errno (-EINVAL: no dir or every 0). */
int frames_open(struct frames *f, const char *dir, uint64_t every);
/* Draw e's maps as the next frame, titled with the events replayed.
 * 0 or a negative errno (-EIO: the file could not be written). */
int frames_draw(struct frames *f, struct vm_engine *e, uint64_t events);

#endif
