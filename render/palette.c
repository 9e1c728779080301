/* palette.c -- the colours and legend names of the map classes.  Free
 * blocks run from pale (order 0, the most broken memory) to deep green
 * (order 10); each holder of used frames and each KVA state has a hue of its
 * own, chosen to stay apart in 256 colours too.
 */
#include "vmrender.h"

static const struct vr_rgb frame_rgb[VR_NR_FRAME_CLASSES] = {
	{ 0xff, 0xff, 0xcc }, { 0xf4, 0xfa, 0xa0 }, { 0xd9, 0xf0, 0x8a }, { 0xad, 0xdd, 0x8e },
	{ 0x78, 0xc6, 0x79 }, { 0x41, 0xab, 0x5d }, { 0x23, 0x84, 0x43 }, { 0x00, 0x68, 0x37 },
	{ 0x00, 0x55, 0x5a }, { 0x00, 0x44, 0x77 }, { 0x08, 0x30, 0x6b },
	{ 0xd6, 0x27, 0x28 },   /* vmalloc: red */
	{ 0x94, 0x28, 0xc8 },   /* page table: purple */
	{ 0xff, 0x8c, 0x00 },   /* alloc_pages: orange */
	{ 0xff, 0x3c, 0xb4 },   /* page array: pink */
};

static const char *const frame_names[VR_NR_FRAME_CLASSES] = {
	"free, order 0", "free, order 1", "free, order 2", "free, order 3", "free, order 4",
	"free, order 5", "free, order 6", "free, order 7", "free, order 8", "free, order 9",
	"free, order 10", "vmalloc page", "page table", "alloc_pages block", "page array",
};

static const struct vr_rgb kva_rgb[VR_NR_KVA_CLASSES] = {
	{ 0xe8, 0xe8, 0xe8 },   /* free: light grey */
	{ 0xd6, 0x27, 0x28 },   /* vmalloc: red, as its frames */
	{ 0x1f, 0x77, 0xb4 },   /* vmap: blue */
	{ 0x00, 0x00, 0x00 },   /* guard: black */
	{ 0xe6, 0xc8, 0x00 },   /* lazy: yellow */
	{ 0x17, 0xbe, 0xcf },   /* pool: cyan */
};

static const char *const kva_names[VR_NR_KVA_CLASSES] = {
	"free KVA", "vmalloc area", "vmap area", "guard page", "lazily freed", "vmap node pool",
};

struct vr_rgb vr_frame_colour(unsigned cls)
{
	static const struct vr_rgb unknown = { 0x80, 0x80, 0x80 };

	return cls < VR_NR_FRAME_CLASSES ? frame_rgb[cls] : unknown;
}

struct vr_rgb vr_kva_colour(unsigned cls)
{
	static const struct vr_rgb unknown = { 0x80, 0x80, 0x80 };

	return cls < VR_NR_KVA_CLASSES ? kva_rgb[cls] : unknown;
}

const char *vr_frame_name(unsigned cls)
{
	return cls < VR_NR_FRAME_CLASSES ? frame_names[cls] : "?";
}

const char *vr_kva_name(unsigned cls)
{
	return cls < VR_NR_KVA_CLASSES ? kva_names[cls] : "?";
}
