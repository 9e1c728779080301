/* keymap.h -- the replay's map from a trace's keys (addresses, pfns, block
 * ids) to what the replay got for them.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones), grown at 70 % load and shrunk below 1/8: its memory follows
 * the number of live keys, never the number of events, which is what keeps
 * the replay of an endless trace in bounded memory.
 */
#ifndef VT_KEYMAP_H
#define VT_KEYMAP_H

#include <stdint.h>

#define VT_KEY_LIVE      1u  /* addr is the replay's */
#define VT_KEY_IN_FLIGHT 2u  /* its call is made, the result not yet known */
#define VT_KEY_FAILED    3u  /* the trace made it, the replay could not: its free is expected */

struct vt_keymap_entry {
	uint64_t key;
	uint64_t addr;          /* the replay's address (or pfn) */
	uint64_t pages;         /* pages the replay's object holds */
	uint32_t used;          /* 0: empty slot, VT_KEY_LIVE, VT_KEY_IN_FLIGHT, VT_KEY_FAILED */
	uint32_t kva_pages;     /* KVA pages (guard included) the trace says it took */
};

struct vt_keymap {
	struct vt_keymap_entry *slots;
	uint64_t mask;          /* slots - 1, a power of two minus one */
	unsigned bits;          /* log2(slots) */
	uint64_t nr;            /* used slots */
};

/* An empty map; -ENOMEM. */
int vt_keymap_init(struct vt_keymap *m);
/* Free the slots; the map may be initialised again.  Can't fail. */
void vt_keymap_done(struct vt_keymap *m);

/* The entry of key, or NULL. */
struct vt_keymap_entry *vt_keymap_find(const struct vt_keymap *m, uint64_t key);
/* The entry of key, made (zeroed but for key and used) if absent;
 * -ENOMEM leaves the map as it was.  Pointers into the map are valid until
 * the next insert or remove. */
int vt_keymap_insert(struct vt_keymap *m, uint64_t key, struct vt_keymap_entry **ret_entry);
/* Remove the entry (from find or insert).  Can't fail. */
void vt_keymap_remove(struct vt_keymap *m, struct vt_keymap_entry *e);

#endif /* VT_KEYMAP_H */
