/* fuzz_dispatch.c -- libFuzzer target: requests dispatched into a live
 * engine, with the daemon's own code (daemon/dispatch.c, account.c) and no
 * socket.
 *
 * Each input builds a fresh machine and four client sessions (rig.h):
 * uid 0, uid 1000 twice (ownership is by uid, not connection) and uid
 * 1001.  The first byte picks the machine (layout, nodes, size, a quota
 * for uid 1000); the rest is a list of records:
 *
 *   sel (1 byte)   bits 0-1: the connection; bit 7: close it (its scoped
 *                  areas and blocks are released) and open a new one
 *   len (2 bytes, little-endian), then len bytes of payload for
 *                  dispatch_frame() (a Request, or anything at all)
 *
 * After every request: exactly one reply frame, which parses as a Reply
 * whose status is 0 or a negative errno, with a message on error and no
 * result, echoing the request's id (id 0 only for a payload protobuf-c
 * rejects); and the pages charged to all uids together equal the engine's
 * vmalloc pages plus its alloc_pages frames.  After every close and after
 * the last request, more: each uid's charged pages equal the pages of its
 * own vmalloc areas and blocks, and the engine's invariant checker
 * (vm_check) is clean (after every request too with
 * $FUZZ_DISPATCH_CHECK_EACH set: slower, for narrowing a finding down).
 * Then every connection is closed: no scoped area or block may survive,
 * and all of it holds again.  Any failure aborts.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rig.h"
#include "vmalloc.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static bool verbose;          /* $FUZZ_DISPATCH_VERBOSE: print every reply */
static bool check_each;       /* $FUZZ_DISPATCH_CHECK_EACH: vm_check after every request */

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz_dispatch: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The engine's "allocation failure" warnings would drown the output. */
	verbose = getenv("FUZZ_DISPATCH_VERBOSE") != NULL;
	check_each = getenv("FUZZ_DISPATCH_CHECK_EACH") != NULL;
	log_set_level(verbose ? VM_LOG_DEBUG : -1);
	return 0;
}

struct tally {
	uint64_t pages[3];  /* uid 0, 1000, 1001 */
	uint64_t scoped;
};

static int uid_slot(uint32_t uid)
{
	return uid == 0 ? 0 : uid == 1000 ? 1 : uid == 1001 ? 2 : -1;
}

static int tally_area(void *ctx, const struct vm_area_info *info)
{
	struct tally *t = ctx;
	int s = uid_slot(info->uid);

	if (s < 0)
		die("area 0x%llx of uid %u, a uid no connection has",
		    (unsigned long long)info->addr, info->uid);
	if (info->flags & VM_ALLOC)
		t->pages[s] += info->nr_pages;
	if (info->flags & VM_SCOPED)
		t->scoped++;
	return 0;
}

static int sum_uid(void *ctx, uint32_t uid, uint64_t pages)
{
	(void)uid;
	*(uint64_t *)ctx += pages;
	return 0;
}

static void check_all(struct rig *g, const char *when, bool full)
{
	struct dispatch *d = &g->dp;
	struct tally t = { { 0 }, 0 };
	struct vm_stats st;
	uint64_t total = 0;
	char msg[320];
	bool any_open = false;

	/* Cheap, after every request: the pages charged to all uids are the
	 * engine's vmalloc pages plus its alloc_pages frames. */
	vm_get_stats(d->engine, &st);
	account_for_each_uid(&d->acct, sum_uid, &total);
	if (total != st.vmalloc_pages + st.alloc_pages_pages)
		die("%s: %llu pages charged, the engine holds %llu vmalloc + %llu alloc_pages", when,
		    (unsigned long long)total, (unsigned long long)st.vmalloc_pages,
		    (unsigned long long)st.alloc_pages_pages);
	if (!full && !check_each)
		return;
	/* The rest walks every area and frame: after the last request and
	 * after closing (after every request with $FUZZ_DISPATCH_CHECK_EACH). */
	if (vm_check(d->engine, msg, sizeof(msg)) < 0)
		die("%s: invariant check: %s", when, msg);
	vm_for_each_area(d->engine, tally_area, &t);
	for (struct page_block *b = account_first_block(&d->acct); b;
	     b = account_next_block(&d->acct, b)) {
		int s = uid_slot(b->uid);

		if (s < 0)
			die("%s: block of uid %u", when, b->uid);
		t.pages[s] += 1ull << b->order;
		t.scoped += b->scoped;
	}
	for (int s = 0; s < 3; s++) {
		static const uint32_t uids[3] = { 0, 1000, 1001 };
		uint64_t charged = account_pages(&d->acct, uids[s]);

		if (charged != t.pages[s])
			die("%s: uid %u is charged %llu pages but holds %llu", when, uids[s],
			    (unsigned long long)charged, (unsigned long long)t.pages[s]);
	}
	for (unsigned i = 0; i < RIG_SLOTS; i++)
		any_open |= g->open[i];
	if (!any_open && t.scoped)
		die("%s: %llu scoped areas or blocks outlived every connection", when,
		    (unsigned long long)t.scoped);
}

/* The replies dispatch_frame() left in out: exactly one, well formed. */
static void check_reply(struct iobuf *out, uint32_t uid, const uint8_t *payload, size_t len)
{
	size_t have = out->len;
	Vmallocd__V1__Request *req = vmallocd__v1__request__unpack(NULL, len, payload);
	Vmallocd__V1__Reply *rep;
	const uint8_t *buf = out->data + out->head;
	uint32_t n;

	if (have < VMD_FRAME_HDR)
		die("no reply to a %zu-byte request", len);
	n = vmd_get_n32(buf);
	if (n > VMD_MAX_REPLY || have != VMD_FRAME_HDR + (size_t)n)
		die("reply frame of %u bytes, %zu in the output: not exactly one reply", n, have);
	rep = vmallocd__v1__reply__unpack(NULL, n, buf + VMD_FRAME_HDR);
	iobuf_consume(out, have);
	if (!rep)
		die("the reply does not parse");
	if (verbose)
		fprintf(stderr, "uid %u: id %llu status %d %s%s\n", uid, (unsigned long long)rep->id,
			rep->status, rep->message ? rep->message : "",
			rep->result_case == VMALLOCD__V1__REPLY__RESULT_ALLOC ? " [alloc]" : "");
	if (rep->status > 0 || rep->status < -4095)
		die("status %d", rep->status);
	if (rep->status < 0 && (!rep->message || !*rep->message))
		die("status %d without a message", rep->status);
	if (rep->status < 0 && rep->result_case != VMALLOCD__V1__REPLY__RESULT__NOT_SET)
		die("status %d with a result", rep->status);
	if (rep->status == 0 && rep->message && *rep->message)
		die("success with a message: %s", rep->message);
	if (req && rep->id != req->id)
		die("reply id %llu to request %llu", (unsigned long long)rep->id,
		    (unsigned long long)req->id);
	if (!req && (rep->id != 0 || (rep->status != -EBADMSG && rep->status != -ENOMEM)))
		die("an unparsable request got id %llu status %d", (unsigned long long)rep->id,
		    rep->status);
	if (req && rep->status == -EBADMSG)
		die("a request protobuf-c parses got -EBADMSG");
	vmallocd__v1__reply__free_unpacked(rep, NULL);
	if (req)
		vmallocd__v1__request__free_unpacked(req, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rig g;
	int r;

	if (size < 1)
		return 0;
	r = rig_start(&g, data[0]);
	if (r < 0)
		die("vm_engine_create: %s", strerror(-r));
	data++;
	size--;

	while (size >= 3) {
		uint8_t sel = data[0];
		size_t len = (size_t)data[1] | (size_t)data[2] << 8;
		unsigned slot = sel & 3;

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (sel & 0x80) {
			rig_reopen(&g, slot);
			check_all(&g, "after a close", true);
		}
		if (rig_dispatch(&g, slot, data, len) < 0)
			die("dispatch could not queue a reply");
		check_reply(&g.out, g.s[slot].uid, data, len);
		check_all(&g, "after a request", false);
		data += len;
		size -= len;
	}

	check_all(&g, "after the last request", true);
	for (unsigned i = 0; i < RIG_SLOTS; i++)
		rig_close(&g, i);
	check_all(&g, "after closing every connection", true);
	rig_stop(&g);
	return 0;
}
