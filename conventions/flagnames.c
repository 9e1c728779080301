/* flagnames.c -- gfp, vm_struct and prot flags between numbers and names
 * (see flagnames.h).  The values come from the public header, vmclient.h.
 */
#include "flagnames.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vmclient.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* In the order show_gfp_flags() tries them: combinations before their
 * bits, so 0xcc2 prints as GFP_HIGHUSER, not as seven single bits.
 * GFP_USER has GFP_KERNEL's value here (no __GFP_HARDWALL), so it is only
 * ever parsed, never printed. */
static const struct {
	const char *name;
	uint32_t value;
} gfp_names[] = {
	{ "GFP_HIGHUSER", GFP_HIGHUSER },
	{ "GFP_KERNEL", GFP_KERNEL },
	{ "GFP_USER", GFP_USER },
	{ "GFP_NOFS", GFP_NOFS },
	{ "GFP_ATOMIC", GFP_ATOMIC },
	{ "GFP_NOIO", GFP_NOIO },
	{ "GFP_NOWAIT", GFP_NOWAIT },
	{ "GFP_DMA", GFP_DMA },
	{ "__GFP_HIGHMEM", __GFP_HIGHMEM },
	{ "GFP_DMA32", GFP_DMA32 },
	{ "__GFP_DMA", __GFP_DMA },
	{ "__GFP_DMA32", __GFP_DMA32 },
	{ "__GFP_MOVABLE", __GFP_MOVABLE },
	{ "__GFP_HIGH", __GFP_HIGH },
	{ "__GFP_IO", __GFP_IO },
	{ "__GFP_FS", __GFP_FS },
	{ "__GFP_NOWARN", __GFP_NOWARN },
	{ "__GFP_RETRY_MAYFAIL", __GFP_RETRY_MAYFAIL },
	{ "__GFP_NOFAIL", __GFP_NOFAIL },
	{ "__GFP_NORETRY", __GFP_NORETRY },
	{ "__GFP_MEMALLOC", __GFP_MEMALLOC },
	{ "__GFP_ZERO", __GFP_ZERO },
	{ "__GFP_THISNODE", __GFP_THISNODE },
	{ "__GFP_ACCOUNT", __GFP_ACCOUNT },
	{ "__GFP_RECLAIM", __GFP_RECLAIM },
	{ "__GFP_DIRECT_RECLAIM", __GFP_DIRECT_RECLAIM },
	{ "__GFP_KSWAPD_RECLAIM", __GFP_KSWAPD_RECLAIM },
};

const struct cv_flag_name cv_vm_flags[] = {
	{ VM_IOREMAP, "VM_IOREMAP", "ioremap" },
	{ VM_ALLOC, "VM_ALLOC", "vmalloc" },
	{ VM_MAP, "VM_MAP", "vmap" },
	{ VM_USERMAP, "VM_USERMAP", "user" },
	{ VM_DMA_COHERENT, "VM_DMA_COHERENT", "dma-coherent" },
	{ VM_UNINITIALIZED, "VM_UNINITIALIZED", "uninitialized" },
	{ VM_NO_GUARD, "VM_NO_GUARD", "no-guard" },
};
const size_t cv_nr_vm_flags = ARRAY_SIZE(cv_vm_flags);

/* tok[0..len) as a name: exact, or without "GFP_" or "__GFP_". */
static int gfp_lookup(const char *tok, size_t len, uint32_t *ret)
{
	static const char *const prefixes[] = { "", "GFP_", "__GFP_" };

	for (size_t p = 0; p < ARRAY_SIZE(prefixes); p++) {
		size_t pl = strlen(prefixes[p]);

		for (size_t i = 0; i < ARRAY_SIZE(gfp_names); i++) {
			const char *n = gfp_names[i].name;

			if (strncmp(n, prefixes[p], pl) == 0 && strlen(n) == pl + len &&
			    strncasecmp(n + pl, tok, len) == 0) {
				*ret = gfp_names[i].value;
				return 0;
			}
		}
	}
	return -EINVAL;
}

/* A number, 0x hex or decimal, of at most 32 bits. */
static int parse_u32(const char *s, size_t len, uint32_t *ret)
{
	char num[24], *end;
	unsigned long long v;
	int base = 10;

	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	if (num[0] == '0' && (num[1] == 'x' || num[1] == 'X'))
		base = 16;
	if ((base == 16 && !num[2]) || (base == 10 && (num[0] < '0' || num[0] > '9')) ||
	    (base == 16 && !strchr("0123456789abcdefABCDEF", num[2])))
		return -EINVAL;
	errno = 0;
	v = strtoull(base == 16 ? num + 2 : num, &end, base);
	if (errno || *end || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

int cv_parse_gfp(const char *s, uint32_t *ret_gfp)
{
	uint32_t gfp = 0;

	if (!s || !*s || !ret_gfp)
		return -EINVAL;
	for (;;) {
		size_t len = strcspn(s, "|,+");
		uint32_t v;

		if (gfp_lookup(s, len, &v) < 0 && parse_u32(s, len, &v) < 0)
			return -EINVAL;
		gfp |= v;
		s += len;
		if (!*s)
			break;
		s++;   /* a separator must be followed by something */
	}
	*ret_gfp = gfp;
	return 0;
}

/* Append "|word" (or "word" first) to buf[*used..len). */
static void append(char *buf, size_t len, size_t *used, const char *sep, const char *word)
{
	int n = snprintf(buf + *used, len - *used, "%s%s", *used ? sep : "", word);

	if (n > 0)
		*used = *used + (size_t)n < len ? *used + (size_t)n : len - 1;
}

void cv_gfp_text(uint32_t gfp, char *buf, size_t len)
{
	size_t used = 0;

	if (!buf || !len)
		return;
	buf[0] = '\0';
	if (!gfp) {
		snprintf(buf, len, "0");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(gfp_names) && gfp; i++) {
		if ((gfp & gfp_names[i].value) == gfp_names[i].value) {
			append(buf, len, &used, "|", gfp_names[i].name);
			gfp &= ~gfp_names[i].value;
		}
	}
	if (gfp) {
		char num[16];

		snprintf(num, sizeof(num), "%#x", gfp);
		append(buf, len, &used, "|", num);
	}
}

void cv_vm_flags_text(uint32_t flags, char *buf, size_t len)
{
	size_t used = 0;

	if (!buf || !len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < cv_nr_vm_flags; i++)
		if (flags & cv_vm_flags[i].bit)
			append(buf, len, &used, " ", cv_vm_flags[i].word);
}

int cv_parse_prot(const char *s, uint32_t *ret_prot)
{
	uint32_t prot = 0;

	if (!s || !*s || !ret_prot)
		return -EINVAL;
	if (parse_u32(s, strlen(s), &prot) == 0) {
		*ret_prot = prot;
		return 0;
	}
	if (strcmp(s, "ro") == 0) {
		*ret_prot = PAGE_KERNEL_RO;
		return 0;
	}
	for (; *s; s++) {
		switch (*s) {
		case 'r': prot |= VM_PROT_READ; break;
		case 'w': prot |= VM_PROT_WRITE; break;
		case 'x': prot |= VM_PROT_EXEC; break;
		case '-': break;
		default: return -EINVAL;
		}
	}
	*ret_prot = prot;
	return 0;
}

void cv_prot_text(uint32_t prot, char buf[4])
{
	buf[0] = prot & VM_PROT_READ ? 'r' : '-';
	buf[1] = prot & VM_PROT_WRITE ? 'w' : '-';
	buf[2] = prot & VM_PROT_EXEC ? 'x' : '-';
	buf[3] = '\0';
}
