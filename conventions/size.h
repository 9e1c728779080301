/* size.h -- sizes as people write and read them, shared by vmallocd (its
 * options and configuration file) and the clients (vmctl's arguments and
 * its human-readable output).
 *
 * Units are binary throughout, as the kernel's memparse() and /proc/meminfo's
 * "kB" are: K is 1024 bytes, M 1024 K, and so on up to E.
 */
#ifndef CV_SIZE_H
#define CV_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Parse a size: decimal digits with an optional fraction ("1.5"), or 0x
 * hex digits, then an optional unit K, M, G, T, P or E (either case), which
 * may be followed by "iB" or "B" ("64K", "64KiB", "64KB" are all 65536);
 * "B" alone means bytes.  A fraction is rounded up to whole bytes ("0.1K"
 * is 103).  No sign, no spaces.  -EINVAL for anything else, -ERANGE if the
 * value does not fit in 64 bits; *ret_bytes is written only on success. */
int cv_parse_size(const char *s, uint64_t *ret_bytes);

/* Longest string cv_format_size() writes, NUL included ("1023.9Ei" cannot
 * happen; "1023Ki" is the widest form). */
#define CV_SIZE_STR 8

/* bytes as `free -h` prints it: "0B", "512B", "64Ki", "1.5Mi", "128Mi",
 * "1.0Gi": the largest unit with a value of at least 1, one decimal below
 * 10, rounded to nearest.  Writes at most len bytes (CV_SIZE_STR is
 * always enough).  Can't fail. */
void cv_format_size(uint64_t bytes, char *buf, size_t len);

#endif /* CV_SIZE_H */
