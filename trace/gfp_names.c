/* gfp_names.c -- the kernel's gfp flags, by name (as mm_page_alloc prints
 * gfp_flags=%s) and by bit (as a bpftrace capture records gfp_t), turned into
 * vmallocd's gfp flags (the values of client/vmclient.h).
 *
 * The names are stable across kernels even where the bits moved, which is
 * why ftrace prints them; the bit table is Linux 6.x's (gfp_types.h as of
 * 6.18: ___GFP_ZERO is bit 8, ___GFP_NOWARN bit 13 ...).  vmallocd's values
 * are vmclient.h's.  Flags vmallocd
 * does not model (__GFP_COMP, __GFP_HARDWALL, __GFP_RECLAIMABLE ...) map to
 * nothing: they change no decision of the simulated allocator.
 */
#include <stdint.h>
#include <string.h>

#include "format.h"
#include "vmclient.h"

/* The kernel's composite names are unions of the single flags, so each is
 * given here by what it means to vmallocd. */
static const struct {
	const char *name;
	uint32_t gfp;
} gfp_names[] = {
	{ "GFP_KERNEL", GFP_KERNEL },
	{ "GFP_KERNEL_ACCOUNT", GFP_KERNEL | __GFP_ACCOUNT },
	{ "GFP_ATOMIC", GFP_ATOMIC },
	{ "GFP_NOWAIT", GFP_NOWAIT },
	{ "GFP_NOIO", GFP_NOIO },
	{ "GFP_NOFS", GFP_NOFS },
	{ "GFP_USER", GFP_USER },
	{ "GFP_HIGHUSER", GFP_HIGHUSER },
	{ "GFP_HIGHUSER_MOVABLE", GFP_HIGHUSER | __GFP_MOVABLE },
	{ "GFP_TRANSHUGE", GFP_HIGHUSER | __GFP_MOVABLE | __GFP_NOWARN },
	{ "GFP_TRANSHUGE_LIGHT", (GFP_HIGHUSER | __GFP_MOVABLE | __GFP_NOWARN) & ~__GFP_RECLAIM },
	{ "GFP_TEMPORARY", GFP_KERNEL },
	{ "GFP_IOFS", __GFP_IO | __GFP_FS },
	{ "GFP_DMA", GFP_DMA },
	{ "GFP_DMA32", GFP_DMA32 },
	{ "__GFP_DMA", __GFP_DMA },
	{ "__GFP_HIGHMEM", __GFP_HIGHMEM },
	{ "__GFP_DMA32", __GFP_DMA32 },
	{ "__GFP_MOVABLE", __GFP_MOVABLE },
	{ "__GFP_HIGH", __GFP_HIGH },
	{ "__GFP_ATOMIC", __GFP_HIGH },
	{ "__GFP_IO", __GFP_IO },
	{ "__GFP_FS", __GFP_FS },
	{ "__GFP_ZERO", __GFP_ZERO },
	{ "__GFP_RECLAIM", __GFP_RECLAIM },
	{ "__GFP_DIRECT_RECLAIM", __GFP_DIRECT_RECLAIM },
	{ "__GFP_WAIT", __GFP_DIRECT_RECLAIM },
	{ "__GFP_KSWAPD_RECLAIM", __GFP_KSWAPD_RECLAIM },
	{ "__GFP_NOWARN", __GFP_NOWARN },
	{ "__GFP_RETRY_MAYFAIL", __GFP_RETRY_MAYFAIL },
	{ "__GFP_REPEAT", __GFP_RETRY_MAYFAIL },
	{ "__GFP_NOFAIL", __GFP_NOFAIL },
	{ "__GFP_NORETRY", __GFP_NORETRY },
	{ "__GFP_THISNODE", __GFP_THISNODE },
	{ "__GFP_ACCOUNT", __GFP_ACCOUNT },
};

static bool is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* One part of the "|"-separated list. */
static int gfp_part(const char *s, size_t len, uint32_t *gfp)
{
	const char *p = s;
	uint64_t v;

	if (len == 4 && !memcmp(s, "none", 4))
		return 0;
	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		/* Bits __print_flags had no name for. */
		if (vti_hex(&p, &v) < 0 || (size_t)(p - s) != len)
			return -1;
		*gfp |= vti_gfp_from_kernel_bits(v);
		return 0;
	}
	for (size_t i = 0; i < sizeof(gfp_names) / sizeof(gfp_names[0]); i++) {
		if (strlen(gfp_names[i].name) == len && !memcmp(gfp_names[i].name, s, len)) {
			*gfp |= gfp_names[i].gfp;
			return 0;
		}
	}
	/* A flag of another kernel (__GFP_COMP, __GFP_SKIP_KASAN ...): a name,
	 * with nothing for vmallocd to do. */
	if (len < 5 || (memcmp(s, "GFP_", 4) && memcmp(s, "__GFP_", 6)))
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!is_name_char(s[i]))
			return -1;
	return 0;
}

int vti_gfp_from_names(const char *s, size_t len, uint32_t *ret_gfp)
{
	uint32_t gfp = 0;
	size_t i = 0;

	if (!len)
		return -1;
	while (i <= len) {
		size_t j = i;

		while (j < len && s[j] != '|')
			j++;
		if (j == i || gfp_part(s + i, j - i, &gfp) < 0)
			return -1;
		i = j + 1;
	}
	*ret_gfp = gfp;
	return 0;
}

uint32_t vti_gfp_from_kernel_bits(uint64_t k)
{
	static const struct {
		unsigned bit;
		uint32_t gfp;
	} bits[] = {
		{ 0, __GFP_DMA }, { 1, __GFP_HIGHMEM }, { 2, __GFP_DMA32 },
		{ 3, __GFP_MOVABLE }, { 5, __GFP_HIGH }, { 6, __GFP_IO },
		{ 7, __GFP_FS }, { 8, __GFP_ZERO }, { 10, __GFP_DIRECT_RECLAIM },
		{ 11, __GFP_KSWAPD_RECLAIM }, { 13, __GFP_NOWARN },
		{ 14, __GFP_RETRY_MAYFAIL }, { 15, __GFP_NOFAIL },
		{ 16, __GFP_NORETRY }, { 21, __GFP_THISNODE }, { 22, __GFP_ACCOUNT },
	};
	uint32_t gfp = 0;

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (k & (1ull << bits[i].bit))
			gfp |= bits[i].gfp;
	return gfp;
}
