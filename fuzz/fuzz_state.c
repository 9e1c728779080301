/* fuzz_state.c -- libFuzzer target: vm_engine_load() on bytes nobody
 * checked, as a restarted daemon reads a state memfd or a snapshot file.
 *
 * Each input is loaded twice: as it is (nearly always refused by a
 * checksum), and with its header's and sections' CRC-32Cs recomputed, so
 * that mutations reach the section parsers and the structural checks.
 * Then:
 *   - the load returns 0, -EBADMSG, -EPROTONOSUPPORT or -ENOMEM, nothing
 *     else (the config is the image's own, so never -EINVAL);
 *   - an engine loaded passes vm_check(), takes a few calls and passes it
 *     again, and its own image loads again to the same image.
 * Machines over 256 MiB or 16 CPUs are skipped (a frames memfd per run).
 * A disagreement aborts (a crash for libFuzzer).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmcore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "fuzz_state: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                      \
		}                                                                     \
	} while (0)

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The header's and each whole section's checksums recomputed, in place
 * (the image format of lib/state.c: 16 fixed bytes, the config, a CRC;
 * then tag u32, length u64, CRC u32, payload). */
static void repair(uint8_t *p, size_t n)
{
	uint64_t hlen, at;

	if (n < 20)
		return;
	hlen = le(p + 12, 4);
	if (hlen < 16 || hlen > n - 4)
		return;
	put32(p + hlen, vm_crc32c(0, p, hlen));
	for (at = hlen + 4; n - at >= 16;) {
		uint64_t len = le(p + at + 4, 8);

		if (len > n - at - 16)
			return;
		put32(p + at + 12, vm_crc32c(0, p + at + 16, len));
		at += 16 + len;
	}
}

struct image {
	uint8_t *buf;
	size_t len, cap;
};

static int image_write(void *ctx, const void *buf, size_t len)
{
	struct image *im = ctx;

	if (len > im->cap - im->len) {
		size_t cap = im->cap ? im->cap : 4096;
		void *b;

		while (cap - im->len < len)
			cap *= 2;
		b = realloc(im->buf, cap);
		if (!b)
			return -ENOMEM;
		im->buf = b;
		im->cap = cap;
	}
	memcpy(im->buf + im->len, buf, len);
	im->len += len;
	return 0;
}

static void try_load(const uint8_t *data, size_t size)
{
	struct vm_config cfg;
	struct vm_engine *e = NULL, *e2 = NULL;
	struct image a = { 0 }, b = { 0 };
	char msg[256];
	uint64_t addr;
	int fd, r;

	vm_config_init(&cfg);
	r = vm_state_config(data, size, &cfg);
	CHECK(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT);
	if (r < 0 || cfg.memory_bytes > (256ull << 20) || cfg.nr_cpus > 16)
		return;
	fd = memfd_create("fuzz-frames", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)cfg.memory_bytes) < 0)
		abort();
	r = vm_engine_load(&cfg, fd, data, size, &e);
	CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r == 0) {
		CHECK(vm_check(e, NULL, 0) == 0);
		CHECK(vm_engine_save(e, image_write, &a) == 0);
		if (vm_vmalloc(e, 3 * VM_PAGE_SIZE, &addr) == 0)
			CHECK(vm_vfree(e, addr) == 0);
		vm_purge(e);
		vm_run_deferred_work(e);
		if (vm_check(e, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "fuzz_state: after a few calls: %s\n", msg);
			abort();
		}
		vm_engine_destroy(e);
		/* The loaded machine's image: it loads, to the same image. */
		r = vm_engine_load(&cfg, fd, a.buf, a.len, &e2);
		CHECK(r == 0 || r == -ENOMEM);
		if (r == 0) {
			CHECK(vm_engine_save(e2, image_write, &b) == 0);
			CHECK(a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0);
			vm_engine_destroy(e2);
		}
	}
	free(a.buf);
	free(b.buf);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	try_load(data, size);
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	repair(copy, size);
	try_load(copy, size);
	free(copy);
	return 0;
}
