/* flagnames.h -- the names of the numbers a request carries: gfp flags
 * ("GFP_KERNEL|__GFP_ZERO"), vm_struct flags ("vmalloc", "user", as
 * vmallocinfo prints them) and protection bits ("rw"), both ways.
 *
 * The values are those of the public header client/vmclient.h, the one
 * definition every client compiles against (vmallocd checks at build time
 * that the engine's are the same); this header exposes none of them, so a
 * file that includes the engine's headers may include it too.
 */
#ifndef CV_FLAGNAMES_H
#define CV_FLAGNAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "GFP_KERNEL|__GFP_ZERO", "kernel,zero", "0x100cc0", "GFP_DMA32+nowarn":
 * names (with or without their GFP_ / __GFP_ prefix, any case) and numbers
 * (0x hex or decimal) joined by '|', ',' or '+', OR-ed together.  -EINVAL
 * for an unknown name, an empty part or a number over 32 bits. */
int cv_parse_gfp(const char *s, uint32_t *ret_gfp);

/* gfp as the kernel's show_gfp_flags() prints it: the usual combinations
 * first ("GFP_KERNEL|__GFP_HIGHMEM|__GFP_ZERO"), unnamed bits as one 0x
 * number, "0" for none.  Truncated to len.  Can't fail. */
void cv_gfp_text(uint32_t gfp, char *buf, size_t len);

/* One vm_struct flag: its kernel name and the word vmallocinfo and vmctl
 * print for it. */
struct cv_flag_name {
	uint32_t bit;
	const char *kernel;     /* "VM_ALLOC" */
	const char *word;       /* "vmalloc" */
};
extern const struct cv_flag_name cv_vm_flags[];
extern const size_t cv_nr_vm_flags;

/* The words of the set bits, space-separated ("vmalloc user"); unnamed bits
 * are left out.  Truncated to len.  Can't fail. */
void cv_vm_flags_text(uint32_t flags, char *buf, size_t len);

/* "rw", "ro", "rwx", "r-x" (letters r, w, x and '-', any order) or a number
 * (0x hex or decimal, at most 32 bits): the prot bits.  -EINVAL otherwise. */
int cv_parse_prot(const char *s, uint32_t *ret_prot);

/* "rw-", "r--", "rwx" for prot.  buf holds at least 4 bytes.  Can't fail. */
void cv_prot_text(uint32_t prot, char buf[4]);

#endif /* CV_FLAGNAMES_H */
