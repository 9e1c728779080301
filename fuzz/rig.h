/* rig.h -- the daemon's request path without a socket, as fuzz_dispatch
 * runs it and mkcorpus plays its seeds against it: a dispatch over a fresh
 * machine chosen by one byte, and four client sessions.
 *
 * The machine byte: bit 0 i386 (else x86_64), bit 1 two nodes, bit 2 a
 * quota of 256 pages per non-root uid, bit 3 no scrubbing on free, bits
 * 4-5 the memory (16, 8, 24 or 32 MiB), bit 6 lazy_max_pages 16.
 * The sessions: slot 0 uid 0, slots 1 and 2 uid 1000 (ownership is by uid,
 * not connection), slot 3 uid 1001 with a pid that cannot exist, so that
 * its areas show as leaked.
 */
#ifndef VMD_FUZZ_RIG_H
#define VMD_FUZZ_RIG_H

#include "vmallocd.h"

#define RIG_SLOTS 4

struct rig {
	struct options opt;
	struct dispatch dp;
	struct session s[RIG_SLOTS];
	bool open[RIG_SLOTS];
	struct iobuf out;          /* the replies of the last rig_dispatch() */
	uint64_t next_id;
};

extern const uint32_t rig_uid[RIG_SLOTS];

/* 0, or the engine's negative errno (nothing to stop then). */
int rig_start(struct rig *r, uint8_t machine);
/* Close every session still open (their scoped areas go), then the machine. */
void rig_stop(struct rig *r);
/* Close slot's session and open a new one (a new connection id). */
void rig_reopen(struct rig *r, unsigned slot);
void rig_close(struct rig *r, unsigned slot);
/* One payload through dispatch_frame() on slot's session; the reply frame
 * is in r->out (emptied first).  dispatch_frame()'s return. */
int rig_dispatch(struct rig *r, unsigned slot, const uint8_t *p, size_t n);

#endif
