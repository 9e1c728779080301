/* fuzz_trace.c -- libFuzzer target: the trace reader and the replay, as
 * vmreplay runs them on a file nobody checked.
 *
 * Input: one byte choosing the format (its low 3 bits: auto, ftrace,
 * bpftrace, malloclab, mtrace, native) and --skip-bad (bit 3), then the
 * trace.  Every event read is replayed on a small engine and written in the
 * native format; then:
 *   - the reader either reaches the end or stops with -EBADMSG and a
 *     message that names the input ("trace:LINE: ..."), nothing else;
 *   - the native file, read back, gives the same events, field by field,
 *     and ends where the first reading ended;
 *   - the engine passes vm_check() after the replay, and the replay's live
 *     areas and their pages are the engine's (page-array areas aside).
 * A disagreement aborts (a crash for libFuzzer).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "native.h"
#include "reader.h"
#include "replay.h"
#include "replay_engine.h"
#include "vmcore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "fuzz_trace: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                      \
		}                                                                     \
	} while (0)

#define MAX_EVENTS 4096

/* The fields compared after the native round trip (strings by value). */
struct kept {
	struct vt_event ev;
	char caller[VT_STR_MAX + 1], comm[VT_STR_MAX + 1];
};

static int memfd_with(const void *data, size_t size)
{
	int fd = memfd_create("fuzz-trace", MFD_CLOEXEC);

	CHECK(fd >= 0);
	CHECK(write(fd, data, size) == (ssize_t)size);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	return fd;
}

/* k's event with its strings read from the copies kept beside it. */
static bool same(const struct kept *k, const struct vt_event *b)
{
	struct vt_event a = k->ev;

	a.caller = a.caller ? k->caller : NULL;
	a.comm = a.comm ? k->comm : NULL;
	return vt_event_equal(&a, b);
}

struct arrays {
	uint64_t areas, pages;
};

static int count_arrays(void *ctx, const struct vm_area_info *info)
{
	struct arrays *a = ctx;

	if (info->flags & VM_PAGE_ARRAY) {
		a->areas++;
		a->pages += info->nr_pages;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kept kept[MAX_EVENTS];
	struct vt_reader_opts o = { 0 };
	struct vt_reader *r, *n;
	struct vt_writer *w;
	struct vt_replay *rp;
	struct vt_backend b;
	struct vr_engine x;
	struct vm_engine *e;
	struct vm_config cfg;
	struct vm_stats st;
	struct vt_event ev;
	char path[64], msg[VT_MSG_MAX];
	unsigned nr = 0;
	int k, fd, out;

	if (size < 1)
		return 0;
	o.format = (enum vt_format)((data[0] & 7) % VT_NR_FORMATS);
	o.skip_bad = data[0] & 8;

	vm_config_init(&cfg);
	cfg.memory_bytes = 8ull << 20;
	CHECK(vm_engine_create(&cfg, &e) == 0);
	vr_backend_engine(&b, &x, e);
	CHECK(vt_replay_new(&b, NULL, &rp) == 0);

	out = memfd_create("fuzz-native", MFD_CLOEXEC);
	CHECK(out >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", out);
	CHECK(vt_reader_open_fd(memfd_with(data + 1, size - 1), "trace", &o, &r) == 0);
	CHECK(vt_writer_open(path, vt_reader_info(r), &w, msg) == 0);
	while ((k = vt_reader_next(r, &ev)) == 1) {
		CHECK(vt_replay_event(rp, &ev) == 0);
		CHECK(vt_writer_write(w, &ev) == 0);
		if (nr < MAX_EVENTS) {
			kept[nr].ev = ev;
			if (ev.caller)
				snprintf(kept[nr].caller, sizeof(kept[nr].caller), "%s", ev.caller);
			if (ev.comm)
				snprintf(kept[nr].comm, sizeof(kept[nr].comm), "%s", ev.comm);
			nr++;
		}
	}
	CHECK(k == 0 || k == -EBADMSG);
	if (k == -EBADMSG)
		CHECK(!strncmp(vt_reader_error(r), "trace:", 6));
	else
		CHECK(vt_reader_error(r)[0] == '\0');
	CHECK(vt_writer_close(w, true) == 0);
	vt_reader_close(r);

	/* The replay left a consistent machine, and agrees with it. */
	{
		char check[256];

		CHECK(vm_check(e, check, sizeof(check)) == 0);
	}
	/* A 6.18 page array longer than a page is an area of its own
	 * (VM_PAGE_ARRAY): the replay's objects are the others. */
	vm_get_stats(e, &st);
	{
		struct arrays a = { 0 };

		CHECK(vm_for_each_area(e, count_arrays, &a) == 0);
		CHECK(vt_replay_stats(rp)->live_areas == st.nr_areas - a.areas);
		CHECK(vt_replay_stats(rp)->live_pages == st.vmalloc_pages - a.pages);
	}

	/* The native copy reads back the same events. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	o.format = VT_FMT_NATIVE;
	o.skip_bad = false;
	CHECK(vt_reader_open_fd(fd, "native", &o, &n) == 0);
	for (unsigned i = 0;; i++) {
		k = vt_reader_next(n, &ev);
		if (k != 1) {
			if (k != 0)
				fprintf(stderr, "fuzz_trace: %s\n", vt_reader_error(n));
			CHECK(k == 0);
			CHECK(i == vt_replay_stats(rp)->events);
			break;
		}
		if (i < nr)
			CHECK(same(&kept[i], &ev));
	}
	vt_reader_close(n);
	close(out);
	vt_replay_free(rp);
	vm_engine_destroy(e);
	return 0;
}
