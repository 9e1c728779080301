/* state.c -- the machine kept across restarts, crashes and upgrades.
 *
 * Two files (memfds handed to systemd's fd store, or files in --state-dir):
 *   frames  the frames' bytes, the engine's own backing store (sparse);
 *   state   a header page, a write-ahead journal of fixed capacity, and two
 *           checkpoint slots after it.
 *
 * A checkpoint is the engine's image (vm_engine_save) and the daemon's
 * tables (charges, alloc_pages blocks, objects, the quota rules), written
 * into the slot not in use; it becomes current when its descriptor (in
 * the header page, with its own checksum) is written with a generation one
 * above the current one.  Every change to the machine (a request that may
 * change it, deferred work, a session's scoped release, new quota rules)
 * is appended to the journal as a record of that generation before it
 * happens; the journal ends at the first record whose checksum, generation
 * or sequence number is wrong.  Recovery: the newest valid checkpoint, then
 * its records re-run in order with the engine in replay mode (the frames
 * already hold the outcome), then the frames' residency derived again, the
 * scoped areas of every session released (no connection survives), and a
 * new checkpoint.  Invariant: at every instant the newest valid descriptor
 * names a complete checkpoint and the journal after it holds every change
 * made since, so a SIGKILL at any instant loses nothing a client was told
 * was done.  docs/design.md ("Nothing lost") gives the argument.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "vmallocd.h"

#define STATE_MAGIC   "VMDSTATE"
#define SLOT_MAGIC    "VMDCKPT\0"
#define STATE_VERSION 1u         /* the header page and snapshots */
#define SLOT_VERSION  2u         /* a checkpoint, and so the journal's records after it */
#define SLOT_VERSION_MIN 1u      /* 1: records of struct jrec_v1 */
#define HDR_SIZE      4096u
#define DESC_OFF(i)   (512u + 512u * (i))
#define FRAMES_NAME   "vmallocd-frames"
#define STATE_NAME    "vmallocd-state"
#define ROUND_PAGE(x) (((x) + 4095u) & ~(uint64_t)4095u)
#define ROUND8(x)     (((x) + 7u) & ~(size_t)7u)

struct state_hdr {              /* at offset 0 */
	char magic[8];
	uint32_t version;
	uint32_t hcrc;            /* of the bytes after it */
	uint64_t lineage;         /* state_generation: new when the machine does not continue */
	uint64_t jcap;            /* the journal's bytes, from HDR_SIZE */
	uint64_t memory_bytes;    /* for messages; the image holds the machine's config */
	uint64_t created;         /* CLOCK_REALTIME seconds */
};

struct state_desc {             /* at DESC_OFF(0) and DESC_OFF(1) */
	uint64_t gen;             /* 0: never written */
	uint64_t off, len;        /* the slot's bytes in the file */
	uint32_t crc;             /* of the slot's bytes after its header */
	uint32_t dcrc;            /* of the fields above */
};

struct slot_hdr {               /* at desc.off */
	char magic[8];
	uint32_t version, hcrc;   /* hcrc of the bytes after it */
	uint64_t gen;
	uint64_t image_len, tables_len;
};

/* A journal record: the header, a struct jparent if flags has
 * JREC_HAS_PARENT, the payload padded to 8.  The generation it belongs to
 * is not stored: the checksum starts from it, so a record of another
 * generation fails it. */
struct jrec {
	uint32_t crc;             /* CRC-32C of the generation, then the record after this field */
	uint32_t len;             /* payload bytes */
	uint32_t seq;
	uint8_t kind, flags;
	uint16_t proto_version;
	uint64_t session;
	uint32_t uid, pid;
};
#define JREC_HAS_PARENT 1u
struct jparent {                /* what the host said of a request's parent_pid */
	int32_t parent_r;
	uint32_t ppid, parent_gone, pad;
};
_Static_assert(sizeof(struct jrec) == 32 && sizeof(struct jparent) == 16,
	       "journal records are packed by hand");
_Static_assert(VMD_PROTO_VERSION <= UINT16_MAX, "a protocol version fits a record");

struct jrec_v1 {                /* the records after a version-1 checkpoint (read only) */
	uint32_t crc;             /* of the record after this field, payload included */
	uint32_t len;             /* payload bytes */
	uint64_t gen, seq;
	uint32_t kind, proto_version;
	uint64_t session;
	uint32_t uid, pid;
	int32_t parent_r;
	uint32_t ppid, parent_gone, pad;
};
_Static_assert(sizeof(struct jrec_v1) == 64, "journal records are packed by hand");
_Static_assert(sizeof(struct state_desc) == 32 && sizeof(struct slot_hdr) == 40,
	       "no padding in the state's headers");

struct state {
	int state_fd, frames_fd;
	char *dir;                /* NULL: memfds only */
	bool fd_store;
	uint8_t *jmap;            /* the journal, mapped */
	uint64_t jcap, jused, seq, gen;
	uint32_t jversion;        /* the current checkpoint's: the records' layout */
	uint32_t gen_crc;         /* vm_crc32c(0, &gen, 8): where a record's checksum starts */
	struct state_desc desc[2];
	int cur;                  /* the current slot, -1: none */
	uint64_t lineage;
	uint64_t nr_checkpoints, last_ckpt_us, last_ckpt_bytes, nr_records;
};

static uint32_t desc_crc(const struct state_desc *d)
{
	return vm_crc32c(0, d, offsetof(struct state_desc, dcrc));
}

static uint64_t random64(void)
{
	uint64_t x = 0;

	while (x == 0)
		if (getrandom(&x, sizeof(x), 0) != sizeof(x))
			x = now_usec() ^ ((uint64_t)getpid() << 32);
	return x;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* ---- the daemon's tables -------------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void put(struct buf *b, const void *v, size_t n)
{
	if (b->err)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		if (!(p = realloc(b->p, cap))) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

static void put64(struct buf *b, uint64_t v)
{
	put(b, &v, 8);
}

static void put32(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}

/* Tables: "VMDTABL1", nr_uids, nr_blocks, nr_objs, rules_len (u32 each),
 * nr_requests, nr_errors (u64), then the uids (uid, 4 x u64), blocks (pfn,
 * uid, pid, cookie, order, scoped), objects (addr, count, charged, cookie,
 * uid, pid, kind, scoped) and the rules (dispatch_rules_encode). */
static int tables_encode(struct dispatch *dp, struct buf *b)
{
	struct account *a = &dp->acct;
	uint8_t *rules;
	size_t rules_len;
	uint32_t nr_objs = 0;
	int r;

	if ((r = dispatch_rules_encode(dp->opt, &rules, &rules_len)) < 0)
		return r;
	for (size_t i = 0; i < dp->objs.cap; i++)
		if (dp->objs.v[i].addr != UINT64_MAX && !dp->objs.v[i].tomb)
			nr_objs++;
	put(b, "VMDTABL1", 8);
	put32(b, (uint32_t)a->nr_uids);
	put32(b, (uint32_t)a->nr_blocks);
	put32(b, nr_objs);
	put32(b, (uint32_t)rules_len);
	put64(b, dp->nr_requests);
	put64(b, dp->nr_errors);
	for (size_t i = 0; i < a->nr_uids; i++) {
		put32(b, a->uids[i].uid);
		put64(b, a->uids[i].pages);
		put64(b, a->uids[i].kva_pages);
		put64(b, a->uids[i].pt_pages);
		put64(b, a->uids[i].areas);
	}
	for (struct page_block *pb = account_first_block(a); pb; pb = account_next_block(a, pb)) {
		put64(b, pb->pfn);
		put32(b, pb->uid);
		put32(b, pb->pid);
		put64(b, pb->cookie);
		put32(b, pb->order);
		put32(b, pb->scoped);
	}
	for (size_t i = 0; i < dp->objs.cap; i++) {
		const struct vmd_object *o = &dp->objs.v[i];

		if (o->addr == UINT64_MAX || o->tomb)
			continue;
		put64(b, o->addr);
		put64(b, o->count);
		put64(b, o->charged);
		put64(b, o->cookie);
		put32(b, o->uid);
		put32(b, o->pid);
		put32(b, o->kind);
		put32(b, o->scoped);
	}
	put(b, rules, rules_len);
	free(rules);
	return b->err;
}

struct rd {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
};

static uint64_t get64(struct rd *r)
{
	uint64_t v = 0;

	if (r->len - r->pos < 8) {
		r->bad = true;
		return 0;
	}
	memcpy(&v, r->p + r->pos, 8);
	r->pos += 8;
	return v;
}

static uint32_t get32(struct rd *r)
{
	uint32_t v = 0;

	if (r->len - r->pos < 4) {
		r->bad = true;
		return 0;
	}
	memcpy(&v, r->p + r->pos, 4);
	r->pos += 4;
	return v;
}

/* Into dp's (empty) tables and rules: 0, -EBADMSG or -ENOMEM. */
static int tables_decode(struct dispatch *dp, struct options *rules, const uint8_t *p, size_t len)
{
	struct rd r = { p, len, 0, false };
	uint32_t nr_uids, nr_blocks, nr_objs, rules_len;
	int err;

	if (len < 8 || memcmp(p, "VMDTABL1", 8) != 0)
		return -EBADMSG;
	r.pos = 8;
	nr_uids = get32(&r);
	nr_blocks = get32(&r);
	nr_objs = get32(&r);
	rules_len = get32(&r);
	dp->nr_requests = get64(&r);
	dp->nr_errors = get64(&r);
	if (r.bad || (uint64_t)nr_uids * 36 + (uint64_t)nr_blocks * 32 + (uint64_t)nr_objs * 48 +
	    rules_len != len - r.pos)
		return -EBADMSG;
	for (uint32_t i = 0; i < nr_uids; i++) {
		struct uid_account *u = account_uid(&dp->acct, get32(&r));

		if (!u)
			return -ENOMEM;
		u->pages = get64(&r);
		u->kva_pages = get64(&r);
		u->pt_pages = get64(&r);
		u->areas = get64(&r);
	}
	for (uint32_t i = 0; i < nr_blocks; i++) {
		struct page_block b = { 0 };

		b.pfn = get64(&r);
		b.uid = get32(&r);
		b.pid = get32(&r);
		b.cookie = get64(&r);
		b.order = (uint8_t)get32(&r);
		b.scoped = get32(&r) != 0;
		if (b.pfn == UINT64_MAX || b.order > VM_MAX_PAGE_ORDER)
			return -EBADMSG;
		if (account_add_block(&dp->acct, &b) < 0)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < nr_objs; i++) {
		struct vmd_object o = { 0 };

		o.addr = get64(&r);
		o.count = get64(&r);
		o.charged = get64(&r);
		o.cookie = get64(&r);
		o.uid = get32(&r);
		o.pid = get32(&r);
		o.kind = (uint8_t)get32(&r);
		o.scoped = get32(&r) != 0;
		if (o.addr == UINT64_MAX || (o.kind != VMD_OBJ_MAP_RAM && o.kind != VMD_OBJ_PERCPU))
			return -EBADMSG;
		if (objects_add(&dp->objs, &o) < 0)
			return -ENOMEM;
	}
	if (r.bad)
		return -EBADMSG;
	err = dispatch_rules_decode(rules, p + r.pos, rules_len);
	return err;
}

/* ---- checkpoints ------------------------------------------------------------------ */

struct slot_writer {
	int fd;
	uint64_t off, pos, limit;   /* pos: bytes written after off; limit: end allowed */
	uint32_t crc;
};

static int slot_write(void *ctx, const void *buf, size_t len)
{
	struct slot_writer *w = ctx;
	int r;

	if (w->off + w->pos + len > w->limit)
		return -ENOSPC;
	if ((r = pwrite_all(w->fd, buf, len, w->off + w->pos)) < 0)
		return r;
	w->crc = vm_crc32c(w->crc, buf, len);
	w->pos += len;
	return 0;
}

/* The checkpoint at off, not past limit: 0 with its length and checksum. */
static int write_slot(struct state *st, struct dispatch *dp, uint64_t off, uint64_t limit,
		      uint64_t gen, uint64_t *ret_len, uint32_t *ret_crc)
{
	struct slot_writer w = { st->state_fd, off, sizeof(struct slot_hdr), limit, 0 };
	struct slot_hdr h = { .magic = SLOT_MAGIC, .version = SLOT_VERSION, .gen = gen };
	struct buf tb = { 0 };
	int r;

	r = vm_engine_save(dp->engine, slot_write, &w);
	if (r < 0)
		return r;
	h.image_len = w.pos - sizeof(h);
	if ((r = tables_encode(dp, &tb)) == 0)
		r = slot_write(&w, tb.p, tb.len);
	free(tb.p);
	if (r < 0)
		return r;
	h.tables_len = tb.len;
	h.hcrc = vm_crc32c(0, (uint8_t *)&h + 16, sizeof(h) - 16);
	if (off + sizeof(h) > limit)
		return -ENOSPC;
	if ((r = pwrite_all(st->state_fd, &h, sizeof(h), off)) < 0)
		return r;
	*ret_len = w.pos;
	*ret_crc = w.crc;
	return 0;
}

/* Give the journal's pages from byte FROM on back to the host, keeping
 * every live record (those below jused). */
static void journal_trim(struct state *st, uint64_t from)
{
	from = from > ROUND_PAGE(st->jused) ? from : ROUND_PAGE(st->jused);
	if (st->jmap && from < st->jcap)
		(void)fallocate(st->state_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)(HDR_SIZE + from), (off_t)(st->jcap - from));
}

int state_checkpoint(struct state *st, struct dispatch *dp)
{
	uint64_t t0 = now_usec(), base = HDR_SIZE + st->jcap, off = base, limit = UINT64_MAX, len = 0;
	const struct state_desc *other = st->cur >= 0 ? &st->desc[st->cur] : NULL;
	int n = st->cur >= 0 ? 1 - st->cur : 0, r;
	struct state_desc d = { 0 };
	uint32_t c = 0;

	/* The new slot goes at the base, or after the current one when that
	 * is at the base or the new one outgrows the room before it. */
	if (other && other->off == base)
		off = ROUND_PAGE(other->off + other->len);
	else if (other)
		limit = other->off;
	r = write_slot(st, dp, off, limit, st->gen + 1, &len, &c);
	if (r == -ENOSPC && other) {
		off = ROUND_PAGE(other->off + other->len);
		r = write_slot(st, dp, off, UINT64_MAX, st->gen + 1, &len, &c);
	}
	if (r < 0) {
		vmd_log(VM_LOG_ERR, "state: checkpoint %llu not written: %s; checkpoint %llu and its "
			"journal stay current", (unsigned long long)st->gen + 1, strerror(-r),
			(unsigned long long)st->gen);
		return r;
	}
	d.gen = st->gen + 1;
	d.off = off;
	d.len = len;
	d.crc = c;
	d.dcrc = desc_crc(&d);
	/* The one write that makes it current. */
	if ((r = pwrite_all(st->state_fd, &d, sizeof(d), DESC_OFF(n))) < 0) {
		vmd_log(VM_LOG_ERR, "state: checkpoint %llu not made current: %s",
			(unsigned long long)d.gen, strerror(-r));
		return r;
	}
	/* The old slot's bytes go back to the host; a file ends after the
	 * last slot in use. */
	if (other)
		(void)fallocate(st->state_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)other->off, (off_t)other->len);
	if (off == base)
		(void)ftruncate(st->state_fd, (off_t)ROUND_PAGE(off + len));
	st->desc[n] = d;
	st->cur = n;
	st->gen = d.gen;
	st->jused = 0;
	st->seq = 0;
	st->jversion = SLOT_VERSION;
	st->gen_crc = vm_crc32c(0, &st->gen, sizeof(st->gen));
	/* The records the checkpoint made dead fail the new generation's test
	 * whether they are there or not.  Their first journal_size bytes stay
	 * in memory: the next records overwrite them, and a page given back
	 * here would be faulted in again by the next record that reaches it
	 * (that fault was most of the journal's cost per request).  The
	 * check at each pass's end keeps the journal within a pass of
	 * journal_size; what grew further (a pass of large frames, a
	 * checkpoint that failed) goes back. */
	journal_trim(st, ROUND_PAGE(dp->opt->journal_size) + 2ull * VMD_MAX_FRAME);
	st->nr_checkpoints++;
	st->last_ckpt_us = now_usec() - t0;
	st->last_ckpt_bytes = len;
	vmd_log(VM_LOG_DEBUG, "state: checkpoint %llu: %llu bytes in %llu ms",
		(unsigned long long)d.gen, (unsigned long long)len,
		(unsigned long long)st->last_ckpt_us / 1000);
	return 0;
}

void state_tick(struct state *st, struct dispatch *dp)
{
	if (st->jused > dp->opt->journal_size)
		(void)state_checkpoint(st, dp);
}

/* ---- the journal --------------------------------------------------------------------- */

int state_journal(struct state *st, struct dispatch *dp, enum jrec_kind kind,
		  const struct dispatch_inputs *in, const uint8_t *payload, size_t len)
{
	bool parent = in->parent_r || in->ppid || in->parent_gone;
	size_t head = sizeof(struct jrec) + (parent ? sizeof(struct jparent) : 0);
	size_t size = head + ROUND8(len);
	struct jrec *j;
	int r;

	if (size > st->jcap || len > UINT32_MAX)
		return -E2BIG;
	/* A full journal: the machine as it is becomes a checkpoint, and the
	 * record starts the new journal. */
	if (st->jused + size > st->jcap && (r = state_checkpoint(st, dp)) < 0)
		return r;
	j = (struct jrec *)(st->jmap + st->jused);
	j->len = (uint32_t)len;
	j->seq = (uint32_t)st->seq;
	j->kind = (uint8_t)kind;
	j->flags = parent ? JREC_HAS_PARENT : 0;
	j->proto_version = (uint16_t)in->proto_version;
	j->session = in->session;
	j->uid = in->uid;
	j->pid = in->pid;
	if (parent) {
		struct jparent *jp = (struct jparent *)(j + 1);

		jp->parent_r = in->parent_r;
		jp->ppid = in->ppid;
		jp->parent_gone = in->parent_gone;
		jp->pad = 0;
	}
	if (len)
		memcpy((uint8_t *)j + head, payload, len);
	memset((uint8_t *)j + head + len, 0, ROUND8(len) - len);
	/* The checksum last: a record cut short by a kill does not pass. */
	j->crc = vm_crc32c(st->gen_crc, (uint8_t *)j + 4, size - 4);
	st->jused += size;
	st->seq++;
	st->nr_records++;
	return 0;
}

void state_stats(const struct state *st, struct state_stats *ret)
{
	*ret = (struct state_stats){ .generation = st->gen, .checkpoints = st->nr_checkpoints,
		.records = st->nr_records, .journal_bytes = st->jused, .journal_size = st->jcap,
		.last_checkpoint_us = st->last_ckpt_us, .last_checkpoint_bytes = st->last_ckpt_bytes };
}

/* ---- files ------------------------------------------------------------------------------ */

static char *path_in(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* The descriptors systemd kept for us, by name: 0 (each -1 if absent). */
static void take_stored(int *frames, int *state)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(0, &names);

	*frames = *state = -1;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;

		if (names && names[i] && strcmp(names[i], FRAMES_NAME) == 0)
			*frames = fd;
		else if (names && names[i] && strcmp(names[i], STATE_NAME) == 0)
			*state = fd;
		else
			continue;
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

static void store_fds(struct state *st)
{
	int r;

	if (!st->fd_store)
		return;
	sd_notify(0, "FDSTOREREMOVE=1\nFDNAME=" FRAMES_NAME);
	sd_notify(0, "FDSTOREREMOVE=1\nFDNAME=" STATE_NAME);
	r = sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=" FRAMES_NAME, &st->frames_fd, 1);
	if (r > 0)
		r = sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=" STATE_NAME, &st->state_fd, 1);
	if (r <= 0)
		vmd_log(VM_LOG_WARNING, "state: systemd's fd store did not take the state (%s): a "
			"restart will not find it%s", r < 0 ? strerror(-r) : "no $NOTIFY_SOCKET",
			st->dir ? " there, only in the state directory" : "");
}

static int map_journal(struct state *st)
{
	st->jmap = mmap(NULL, st->jcap, PROT_READ | PROT_WRITE, MAP_SHARED, st->state_fd, HDR_SIZE);
	if (st->jmap == MAP_FAILED) {
		st->jmap = NULL;
		return -errno;
	}
	return 0;
}

void state_release_journal(struct state *st)
{
	if (st)
		journal_trim(st, 0);
}

void state_close(struct state *st)
{
	if (!st)
		return;
	if (st->jmap)
		munmap(st->jmap, st->jcap);
	if (st->state_fd >= 0)
		close(st->state_fd);
	if (st->frames_fd >= 0)
		close(st->frames_fd);
	free(st->dir);
	free(st);
}

/* ---- recovery ----------------------------------------------------------------------------- */

/* What the configuration asks for against what the kept machine is. */
static int same_machine(const struct vm_config *want, const struct vm_config *have, const char *what)
{
	char w[200], h[200];

	if (want->memory_bytes >> VM_PAGE_SHIFT == have->memory_bytes >> VM_PAGE_SHIFT &&
	    want->nr_nodes == have->nr_nodes && want->layout == have->layout &&
	    want->kernel == have->kernel && want->nr_cpus == have->nr_cpus &&
	    want->movable_bytes >> VM_PAGE_SHIFT == have->movable_bytes >> VM_PAGE_SHIFT &&
	    want->lazy_max_pages == have->lazy_max_pages && want->page_policy == have->page_policy &&
	    want->init_on_free == have->init_on_free)
		return 0;
	snprintf(w, sizeof(w), "Linux %s, %s, %llu MiB, %u node(s), %u CPU(s), movable %llu MiB, "
		 "lazy-max %llu pages, %s, scrub %s", vm_kernel_name(want->kernel),
		 vm_layout_name(want->layout), (unsigned long long)(want->memory_bytes >> 20),
		 want->nr_nodes, want->nr_cpus, (unsigned long long)(want->movable_bytes >> 20),
		 (unsigned long long)want->lazy_max_pages,
		 want->page_policy ? "high-order-first" : "order0", want->init_on_free ? "yes" : "no");
	snprintf(h, sizeof(h), "Linux %s, %s, %llu MiB, %u node(s), %u CPU(s), movable %llu MiB, "
		 "lazy-max %llu pages, %s, scrub %s", vm_kernel_name(have->kernel),
		 vm_layout_name(have->layout), (unsigned long long)(have->memory_bytes >> 20),
		 have->nr_nodes, have->nr_cpus, (unsigned long long)(have->movable_bytes >> 20),
		 (unsigned long long)have->lazy_max_pages,
		 have->page_policy ? "high-order-first" : "order0", have->init_on_free ? "yes" : "no");
	vmd_log(VM_LOG_ERR, "state: %s holds another machine: it is %s; the configuration asks for %s: "
		"refused (start it with the same options, or --discard-state)", what, h, w);
	return -EINVAL;
}

/* A record as replay reads it. */
struct jread {
	enum jrec_kind kind;
	struct dispatch_inputs in;
	const uint8_t *payload;
	uint32_t len;
	size_t size;              /* its bytes in the journal */
};

/* The valid record of sequence number n at pos of the journal into *ret:
 * true, or false where the journal ends. */
static bool record_at(const struct state *st, uint64_t pos, uint64_t n, struct jread *ret)
{
	if (st->jversion == 1) {
		const struct jrec_v1 *j = (const struct jrec_v1 *)(st->jmap + pos);
		size_t size;

		if (pos + sizeof(*j) > st->jcap || j->len > st->jcap)
			return false;
		size = sizeof(*j) + ROUND8((size_t)j->len);
		if (pos + size > st->jcap || j->gen != st->gen || j->seq != n ||
		    vm_crc32c(0, (const uint8_t *)j + 4, size - 4) != j->crc)
			return false;
		*ret = (struct jread){ .kind = (enum jrec_kind)j->kind, .payload = (const uint8_t *)(j + 1),
			.len = j->len, .size = size, .in = { .session = j->session, .uid = j->uid,
			.pid = j->pid, .proto_version = j->proto_version, .parent_r = j->parent_r,
			.ppid = j->ppid, .parent_gone = j->parent_gone } };
		return true;
	} else {
		const struct jrec *j = (const struct jrec *)(st->jmap + pos);
		const struct jparent *jp = (const struct jparent *)(j + 1);
		size_t head, size;

		if (pos + sizeof(*j) > st->jcap || j->len > st->jcap || j->seq != (uint32_t)n ||
		    (j->flags & ~JREC_HAS_PARENT))
			return false;
		head = sizeof(*j) + (j->flags & JREC_HAS_PARENT ? sizeof(*jp) : 0);
		size = head + ROUND8((size_t)j->len);
		if (pos + size > st->jcap)
			return false;
		if (vm_crc32c(st->gen_crc, (const uint8_t *)j + 4, size - 4) != j->crc)
			return false;
		*ret = (struct jread){ .kind = (enum jrec_kind)j->kind, .payload = (const uint8_t *)j + head,
			.len = j->len, .size = size, .in = { .session = j->session, .uid = j->uid,
			.pid = j->pid, .proto_version = j->proto_version } };
		if (j->flags & JREC_HAS_PARENT) {
			ret->in.parent_r = jp->parent_r;
			ret->in.ppid = jp->ppid;
			ret->in.parent_gone = jp->parent_gone;
		}
		return true;
	}
}

/* Replay the journal after checkpoint gen: the number of records. */
static uint64_t replay(struct state *st, struct dispatch *dp, struct options *rules)
{
	uint64_t pos = 0, n = 0;
	struct jread j, next;

	while (record_at(st, pos, n, &j)) {
		if (j.kind == JREC_RULES) {
			if (dispatch_rules_decode(rules, j.payload, j.len) < 0)
				vmd_log(VM_LOG_WARNING, "state: journal record %llu: quota rules that do "
					"not decode, skipped", (unsigned long long)n);
		} else if (j.kind == JREC_FRAME && record_at(st, pos + j.size, n + 1, &next) &&
			   next.kind == JREC_REFUSED) {
			/* The frame was refused host memory: its replay is too.  (A
			 * refusal with no frame before it began a journal after a
			 * checkpoint that already holds the refused request.) */
			dispatch_replay_refused(dp, &j.in, j.payload, j.len,
						(const uint32_t *)next.payload,
						next.len / (uint32_t)sizeof(uint32_t));
			pos += j.size;
			n++;
			j.size = next.size;
		} else if (j.kind >= JREC_FRAME && j.kind <= JREC_SESSION_END) {
			dispatch_replay(dp, j.kind, &j.in, j.payload, j.len);
		}
		pos += j.size;
		n++;
	}
	return n;
}

/* Load the machine the state holds: 0 with d->engine built, or a negative
 * errno after saying which piece failed and why. */
static int recover(struct state *st, struct daemon *d, const struct vm_config *cfg, const char *where)
{
	struct state_hdr h;
	struct slot_hdr sh;
	struct stat sb, fb;
	struct vm_config have;
	struct options rules;
	const uint8_t *slot;
	struct vm_engine *e = NULL;
	uint64_t t0 = now_usec(), nrec;
	char msg[512];
	int best = -1, r;

	if (fstat(st->state_fd, &sb) < 0 || fstat(st->frames_fd, &fb) < 0)
		return -errno;
	if ((uint64_t)sb.st_size < HDR_SIZE || pread_all(st->state_fd, &h, sizeof(h), 0) < 0) {
		vmd_log(VM_LOG_ERR, "state: %s: the state is %lld bytes, shorter than its header: refused",
			where, (long long)sb.st_size);
		return -EBADMSG;
	}
	if (memcmp(h.magic, STATE_MAGIC, 8) != 0) {
		vmd_log(VM_LOG_ERR, "state: %s: the state's header has no vmallocd magic: refused", where);
		return -EBADMSG;
	}
	if (h.version != STATE_VERSION) {
		vmd_log(VM_LOG_ERR, "state: %s: the state's format is version %u, this vmallocd reads "
			"version %u: refused", where, h.version, STATE_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (vm_crc32c(0, (uint8_t *)&h + 16, sizeof(h) - 16) != h.hcrc || h.jcap % 4096 ||
	    h.jcap < (1u << 20) || (uint64_t)sb.st_size < HDR_SIZE + h.jcap) {
		vmd_log(VM_LOG_ERR, "state: %s: the state's header fails its checksum or its bounds: "
			"refused", where);
		return -EBADMSG;
	}
	for (int i = 0; i < 2; i++) {
		struct state_desc *dd = &st->desc[i];

		if ((r = pread_all(st->state_fd, dd, sizeof(*dd), DESC_OFF(i))) < 0)
			return r;
		if (dd->gen == 0 || desc_crc(dd) != dd->dcrc) {
			memset(dd, 0, sizeof(*dd));
			continue;
		}
		if (best < 0 || dd->gen > st->desc[best].gen)
			best = i;
	}
	if (best < 0) {
		vmd_log(VM_LOG_ERR, "state: %s: no checkpoint descriptor passes its checksum: refused",
			where);
		return -EBADMSG;
	}
	st->jcap = h.jcap;
	st->lineage = h.lineage;
	st->cur = best;
	st->gen = st->desc[best].gen;
	if (st->desc[best].off < HDR_SIZE + h.jcap || st->desc[best].len < sizeof(sh) ||
	    st->desc[best].off + st->desc[best].len > (uint64_t)sb.st_size) {
		vmd_log(VM_LOG_ERR, "state: %s: checkpoint %llu lies outside the file: refused", where,
			(unsigned long long)st->gen);
		return -EBADMSG;
	}
	slot = mmap(NULL, st->desc[best].len, PROT_READ, MAP_SHARED, st->state_fd,
		    (off_t)st->desc[best].off);
	if (slot == MAP_FAILED)
		return -errno;
	memcpy(&sh, slot, sizeof(sh));
	r = -EBADMSG;
	if (memcmp(sh.magic, SLOT_MAGIC, 8) == 0 &&
	    vm_crc32c(0, (uint8_t *)&sh + 16, sizeof(sh) - 16) == sh.hcrc &&
	    (sh.version < SLOT_VERSION_MIN || sh.version > SLOT_VERSION)) {
		vmd_log(VM_LOG_ERR, "state: %s: checkpoint %llu is of format version %u, this "
			"vmallocd reads versions %u to %u: refused", where,
			(unsigned long long)st->gen, sh.version, SLOT_VERSION_MIN, SLOT_VERSION);
		r = -EPROTONOSUPPORT;
		goto out;
	}
	if (vm_crc32c(0, slot + sizeof(sh), st->desc[best].len - sizeof(sh)) != st->desc[best].crc ||
	    memcmp(sh.magic, SLOT_MAGIC, 8) != 0 || sh.version < SLOT_VERSION_MIN ||
	    sh.version > SLOT_VERSION ||
	    vm_crc32c(0, (uint8_t *)&sh + 16, sizeof(sh) - 16) != sh.hcrc || sh.gen != st->gen ||
	    sizeof(sh) + sh.image_len + sh.tables_len != st->desc[best].len) {
		vmd_log(VM_LOG_ERR, "state: %s: checkpoint %llu (%llu bytes) fails its checksum: refused",
			where, (unsigned long long)st->gen, (unsigned long long)st->desc[best].len);
		goto out;
	}
	vm_config_init(&have);
	r = vm_state_config(slot + sizeof(sh), sh.image_len, &have);
	if (r < 0) {
		vmd_log(VM_LOG_ERR, "state: %s: checkpoint %llu: the engine image %s: refused", where,
			(unsigned long long)st->gen, r == -EPROTONOSUPPORT ?
			"is of a format version this vmallocd does not read" : "is corrupt");
		goto out;
	}
	if ((r = same_machine(cfg, &have, where)) < 0)
		goto out;
	if ((uint64_t)fb.st_size < cfg->memory_bytes) {
		vmd_log(VM_LOG_ERR, "state: %s: the frames are %lld bytes, the machine has %llu: refused",
			where, (long long)fb.st_size, (unsigned long long)cfg->memory_bytes);
		r = -EBADMSG;
		goto out;
	}
	/* The image holds the page tables as they were and puts them back
	 * in the frames: the journal's calls rebuild them from there. */
	r = vm_engine_load(cfg, st->frames_fd, slot + sizeof(sh), sh.image_len, &e);
	if (r < 0) {
		vmd_log(VM_LOG_ERR, "state: %s: checkpoint %llu: the engine refused its image: %s",
			where, (unsigned long long)st->gen, strerror(-r));
		goto out;
	}
	memcpy(&rules, &d->opt, sizeof(rules));
	rules.quotas = NULL;
	rules.nr_quotas = 0;
	r = tables_decode(&d->dp, &rules, slot + sizeof(sh) + sh.image_len, sh.tables_len);
	if (r < 0) {
		vmd_log(VM_LOG_ERR, "state: %s: checkpoint %llu: the daemon's tables %s: refused", where,
			(unsigned long long)st->gen, r == -ENOMEM ? "do not fit in memory" : "are corrupt");
		free(rules.quotas);
		vm_engine_destroy(e);
		e = NULL;
		account_done(&d->dp.acct);
		objects_done(&d->dp.objs);
		goto out;
	}
	st->jversion = sh.version;
	st->gen_crc = vm_crc32c(0, &st->gen, sizeof(st->gen));
	if ((r = map_journal(st)) < 0) {
		free(rules.quotas);
		vm_engine_destroy(e);
		goto out;
	}
	d->engine = d->dp.engine = e;
	/* The journal's requests run under the rules they ran under. */
	d->dp.opt = &rules;
	vm_set_replay(e, true);
	nrec = replay(st, &d->dp, &rules);
	vm_set_replay(e, false);
	d->dp.opt = &d->opt;
	free(rules.quotas);
	r = vm_reconcile_resident(e);
	if (r < 0)
		vmd_log(VM_LOG_WARNING, "state: the frames' residency not derived again: %s",
			strerror(-r));
	dispatch_release_all_scoped(&d->dp);
	/* The machine replayed is checked as a loaded one would be (up to 4
	 * GiB: the checker reads every frame). */
	if (cfg->memory_bytes <= (4ull << 30) && (r = vm_check(e, msg, sizeof(msg))) < 0) {
		vmd_log(VM_LOG_ERR, "state: %s: the machine after checkpoint %llu and %llu journal "
			"records fails the invariant checker: %s: refused", where,
			(unsigned long long)st->gen, (unsigned long long)nrec, msg);
		vm_engine_destroy(e);
		d->engine = d->dp.engine = NULL;
		account_done(&d->dp.acct);
		objects_done(&d->dp.objs);
		r = -EBADMSG;
		goto out;
	}
	vmd_log(VM_LOG_INFO, "state: %s: checkpoint %llu and %llu journal records recovered in %llu ms",
		where, (unsigned long long)st->gen, (unsigned long long)nrec,
		(unsigned long long)(now_usec() - t0) / 1000);
	r = 0;
out:
	munmap((void *)slot, st->desc[best].len);
	return r;
}

struct membuf {
	uint8_t *p;
	size_t len, cap;
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
	struct membuf *m = ctx;

	if (m->len + len > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 65536;
		uint8_t *p;

		while (cap < m->len + len)
			cap *= 2;
		if (!(p = realloc(m->p, cap)))
			return -ENOMEM;
		m->p = p;
		m->cap = cap;
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	return 0;
}

/* ---- snapshots ------------------------------------------------------------------------- */

/* A snapshot file: this header, the engine's image, the daemon's tables,
 * the extents of the frames that hold bytes ({ offset, length } in bytes,
 * u64 each), then those bytes in order. */
#define SNAP_MAGIC "VMDSNAP\0"
struct snap_hdr {
	char magic[8];
	uint32_t version, hcrc;   /* hcrc of the bytes after it */
	uint64_t total_len;
	uint64_t image_len, tables_len, nr_extents, data_len;
	uint32_t meta_crc;        /* of the image, tables and extents */
	uint32_t data_crc;        /* of the data */
	uint64_t lineage;
};
_Static_assert(sizeof(struct snap_hdr) == 72, "no padding in the snapshot's header");

/* The extents of fd's data in [0, size): malloc'd pairs. */
static int data_extents(int fd, uint64_t size, uint64_t **ret, uint64_t *ret_n)
{
	uint64_t *v = NULL, n = 0, cap = 0;
	off_t pos = 0;

	while ((uint64_t)pos < size) {
		off_t d = lseek(fd, pos, SEEK_DATA), h;

		if (d < 0 && errno == ENXIO)
			break;
		if (d < 0)
			goto err;
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			goto err;
		if ((uint64_t)h > size)
			h = (off_t)size;
		if (n == cap) {
			uint64_t *p = realloc(v, (cap = cap ? cap * 2 : 64) * 2 * sizeof(*v));

			if (!p) {
				free(v);
				return -ENOMEM;
			}
			v = p;
		}
		v[2 * n] = (uint64_t)d;
		v[2 * n + 1] = (uint64_t)(h - d);
		n++;
		pos = h;
	}
	*ret = v;
	*ret_n = n;
	return 0;
err:
	free(v);
	return -errno;
}

static int copy_range(int from, uint64_t off, int to, uint64_t to_off, uint64_t len, uint32_t *c)
{
	static uint8_t buf[1 << 16];

	while (len) {
		size_t k = len > sizeof(buf) ? sizeof(buf) : (size_t)len;
		int r = pread_all(from, buf, k, off);

		if (r < 0 || (r = pwrite_all(to, buf, k, to_off)) < 0)
			return r;
		if (c)
			*c = vm_crc32c(*c, buf, k);
		off += k;
		to_off += k;
		len -= k;
	}
	return 0;
}

int state_snapshot(struct dispatch *dp, int *ret_fd, uint64_t *ret_len)
{
	struct snap_hdr h = { .magic = SNAP_MAGIC, .version = STATE_VERSION };
	struct membuf m = { 0 };
	struct buf tb = { 0 };
	struct vm_stats st;
	uint64_t *ext = NULL, next = 0, pos;
	int fd = -1, ffd = vm_engine_frames_fd(dp->engine), r;

	if (ffd < 0)
		return -EOPNOTSUPP;
	vm_get_stats(dp->engine, &st);
	if ((r = vm_engine_save(dp->engine, mem_write, &m)) < 0 || (r = tables_encode(dp, &tb)) < 0 ||
	    (r = data_extents(ffd, st.total_pages << VM_PAGE_SHIFT, &ext, &next)) < 0)
		goto out;
	h.image_len = m.len;
	h.tables_len = tb.len;
	h.nr_extents = next;
	for (uint64_t i = 0; i < next; i++)
		h.data_len += ext[2 * i + 1];
	h.total_len = sizeof(h) + h.image_len + h.tables_len + 16 * next + h.data_len;
	h.lineage = dp->state_generation;
	h.meta_crc = vm_crc32c(vm_crc32c(vm_crc32c(0, m.p, m.len), tb.p, tb.len), ext, 16 * next);
	if ((fd = memfd_create("vmallocd-snapshot", MFD_CLOEXEC)) < 0) {
		r = -errno;
		goto out;
	}
	pos = sizeof(h);
	if ((r = pwrite_all(fd, m.p, m.len, pos)) < 0 ||
	    (r = pwrite_all(fd, tb.p, tb.len, pos += m.len)) < 0 ||
	    (r = pwrite_all(fd, ext, 16 * next, pos += tb.len)) < 0)
		goto out;
	pos += 16 * next;
	for (uint64_t i = 0; i < next && r == 0; i++) {
		r = copy_range(ffd, ext[2 * i], fd, pos, ext[2 * i + 1], &h.data_crc);
		pos += ext[2 * i + 1];
	}
	if (r < 0)
		goto out;
	h.hcrc = vm_crc32c(0, (uint8_t *)&h + 16, sizeof(h) - 16);
	if ((r = pwrite_all(fd, &h, sizeof(h), 0)) < 0)
		goto out;
	vmd_log(VM_LOG_INFO, "snapshot: %llu bytes (%llu of frames' bytes in %llu extents)",
		(unsigned long long)h.total_len, (unsigned long long)h.data_len,
		(unsigned long long)next);
	*ret_fd = fd;
	*ret_len = h.total_len;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(m.p);
	free(tb.p);
	free(ext);
	return r;
}

/* Build the machine a snapshot file holds onto frames_fd (all holes, the
 * machine's size): 0 with d->engine, or a negative errno after saying why. */
static int restore(struct daemon *d, const struct vm_config *cfg, const char *file, int frames_fd)
{
	struct snap_hdr h;
	struct vm_config have;
	struct options rules;
	struct vm_engine *e = NULL;
	const uint8_t *p = MAP_FAILED, *ext;
	struct stat sb;
	uint64_t pos;
	uint32_t c = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC), r = -EBADMSG;

	if (fd < 0 || fstat(fd, &sb) < 0) {
		r = -errno;
		vmd_log(VM_LOG_ERR, "restore: %s: %s", file, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	if ((uint64_t)sb.st_size < sizeof(h) || pread_all(fd, &h, sizeof(h), 0) < 0 ||
	    memcmp(h.magic, SNAP_MAGIC, 8) != 0) {
		vmd_log(VM_LOG_ERR, "restore: %s is not a vmallocd snapshot", file);
		goto out;
	}
	if (h.version != STATE_VERSION) {
		vmd_log(VM_LOG_ERR, "restore: %s is a snapshot of format version %u, this vmallocd "
			"reads version %u", file, h.version, STATE_VERSION);
		r = -EPROTONOSUPPORT;
		goto out;
	}
	if (vm_crc32c(0, (uint8_t *)&h + 16, sizeof(h) - 16) != h.hcrc ||
	    h.total_len != (uint64_t)sb.st_size || h.nr_extents > (uint64_t)sb.st_size / 16 ||
	    sizeof(h) + h.image_len + h.tables_len + 16 * h.nr_extents + h.data_len != h.total_len) {
		vmd_log(VM_LOG_ERR, "restore: %s: the snapshot's header fails its checksum or does not "
			"match the file's %lld bytes (cut short?)", file, (long long)sb.st_size);
		goto out;
	}
	p = mmap(NULL, h.total_len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	pos = sizeof(h);
	if (vm_crc32c(0, p + pos, h.image_len + h.tables_len + 16 * h.nr_extents) != h.meta_crc) {
		vmd_log(VM_LOG_ERR, "restore: %s: the snapshot's machine fails its checksum", file);
		goto out;
	}
	ext = p + pos + h.image_len + h.tables_len;
	c = vm_crc32c(0, ext + 16 * h.nr_extents, h.data_len);
	if (c != h.data_crc) {
		vmd_log(VM_LOG_ERR, "restore: %s: the snapshot's frames fail their checksum", file);
		goto out;
	}
	vm_config_init(&have);
	if ((r = vm_state_config(p + pos, h.image_len, &have)) < 0) {
		vmd_log(VM_LOG_ERR, "restore: %s: the engine image is %s", file,
			r == -EPROTONOSUPPORT ? "of a format this vmallocd does not read" : "corrupt");
		goto out;
	}
	if ((r = same_machine(cfg, &have, file)) < 0)
		goto out;
	{
		const uint8_t *data = ext + 16 * h.nr_extents;

		for (uint64_t i = 0; i < h.nr_extents; i++) {
			uint64_t off, len;

			memcpy(&off, ext + 16 * i, 8);
			memcpy(&len, ext + 16 * i + 8, 8);
			if (off > cfg->memory_bytes || len > cfg->memory_bytes - off ||
			    len > (uint64_t)(p + h.total_len - data)) {
				vmd_log(VM_LOG_ERR, "restore: %s: extent %llu lies outside the machine", file,
					(unsigned long long)i);
				r = -EBADMSG;
				goto out;
			}
			if ((r = pwrite_all(frames_fd, data, len, off)) < 0)
				goto out;
			data += len;
		}
	}
	if ((r = vm_engine_load(cfg, frames_fd, p + pos, h.image_len, &e)) < 0) {
		vmd_log(VM_LOG_ERR, "restore: %s: the engine refused the image: %s", file, strerror(-r));
		goto out;
	}
	memcpy(&rules, &d->opt, sizeof(rules));
	rules.quotas = NULL;
	rules.nr_quotas = 0;
	r = tables_decode(&d->dp, &rules, p + pos + h.image_len, h.tables_len);
	free(rules.quotas);
	if (r < 0) {
		vmd_log(VM_LOG_ERR, "restore: %s: the daemon's tables are corrupt", file);
		vm_engine_destroy(e);
		account_done(&d->dp.acct);
		objects_done(&d->dp.objs);
		goto out;
	}
	d->engine = d->dp.engine = e;
	if ((r = vm_reconcile_resident(e)) < 0)
		vmd_log(VM_LOG_WARNING, "restore: the frames' residency not derived: %s", strerror(-r));
	dispatch_release_all_scoped(&d->dp);
	vmd_log(VM_LOG_INFO, "restore: the machine of %s: %llu bytes of frames in %llu extents", file,
		(unsigned long long)h.data_len, (unsigned long long)h.nr_extents);
	r = 0;
out:
	if (p != MAP_FAILED)
		munmap((void *)p, h.total_len);
	close(fd);
	return r;
}

/* ---- a fresh machine -------------------------------------------------------------------- */

static int write_header(struct state *st, uint64_t memory)
{
	struct state_hdr h = { .magic = STATE_MAGIC, .version = STATE_VERSION };
	struct state_desc none[2] = { { 0 }, { 0 } };
	int r;

	h.lineage = st->lineage;
	h.jcap = st->jcap;
	h.memory_bytes = memory;
	h.created = (uint64_t)time(NULL);
	h.hcrc = vm_crc32c(0, (uint8_t *)&h + 16, sizeof(h) - 16);
	if (ftruncate(st->state_fd, (off_t)(HDR_SIZE + st->jcap)) < 0)
		return -errno;
	if ((r = pwrite_all(st->state_fd, &h, sizeof(h), 0)) < 0 ||
	    (r = pwrite_all(st->state_fd, &none[0], sizeof(none[0]), DESC_OFF(0))) < 0 ||
	    (r = pwrite_all(st->state_fd, &none[1], sizeof(none[1]), DESC_OFF(1))) < 0)
		return r;
	return 0;
}

/* A machine that does not continue a kept state: the snapshot --restore
 * names, or a new one.  On frames_fd (a file of the machine's size, all
 * holes) if not -1, else in a memfd of its own.  0 with d->engine, or a
 * negative errno after saying why. */
static int new_machine(struct daemon *d, const struct vm_config *cfg, int frames_fd)
{
	struct vm_engine *e = NULL;
	struct membuf m = { 0 };
	int own = -1, r;

	if (d->opt.restore) {
		if (frames_fd < 0) {
			own = memfd_create("vmallocd-physmem", MFD_CLOEXEC);
			if (own < 0 || ftruncate(own, (off_t)cfg->memory_bytes) < 0) {
				r = -errno;
				vmd_log(VM_LOG_ERR, "restore: no memfd for the frames: %s", strerror(-r));
				if (own >= 0)
					close(own);
				return r;
			}
			frames_fd = own;
		}
		r = restore(d, cfg, d->opt.restore, frames_fd);
		if (own >= 0)
			close(own);   /* the engine keeps its own dup */
		return r;
	}
	if ((r = vm_engine_create(cfg, &e)) < 0)
		return r;
	if (frames_fd >= 0) {
		/* A new machine's frames are all zero, as a new sparse file
		 * reads, so its image loads onto the file unchanged. */
		r = vm_engine_save(e, mem_write, &m);
		vm_engine_destroy(e);
		e = NULL;
		if (r == 0)
			r = vm_engine_load(cfg, frames_fd, m.p, m.len, &e);
		free(m.p);
		if (r < 0)
			return r;
	}
	d->engine = d->dp.engine = e;
	return 0;
}

/* A new machine (or the snapshot's) and its state: 0 with d->engine, or a
 * negative errno after saying why. */
static int fresh(struct state *st, struct daemon *d, const struct vm_config *cfg)
{
	char *tmp = NULL, *final = NULL;
	int r = 0;

	if (st->dir) {
		char *fp = path_in(st->dir, "frames");

		r = fp ? 0 : -ENOMEM;
		if (r == 0 && (st->frames_fd = open(fp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
			r = -errno;
		if (r == 0 && ftruncate(st->frames_fd, (off_t)cfg->memory_bytes) < 0)
			r = -errno;
		if (r < 0)
			vmd_log(VM_LOG_ERR, "state: cannot make the frames file %s: %s", fp ? fp : "",
				strerror(-r));
		free(fp);
		if (r == 0)
			r = new_machine(d, cfg, st->frames_fd);
		if (r < 0)
			return r;
		tmp = path_in(st->dir, "state.new");
		final = path_in(st->dir, "state");
		if (!tmp || !final)
			r = -ENOMEM;
		else if ((st->state_fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
			r = -errno;
	} else {
		if ((r = new_machine(d, cfg, -1)) < 0)
			return r;
		st->frames_fd = fcntl(vm_engine_frames_fd(d->engine), F_DUPFD_CLOEXEC, 3);
		if (st->frames_fd < 0)
			r = -errno;
		else if ((st->state_fd = memfd_create(STATE_NAME, MFD_CLOEXEC)) < 0)
			r = -errno;
	}
	st->lineage = random64();
	st->cur = -1;
	st->gen = 0;
	st->gen_crc = vm_crc32c(0, &st->gen, sizeof(st->gen));
	if (r == 0)
		r = write_header(st, cfg->memory_bytes);
	if (r == 0)
		r = map_journal(st);
	if (r == 0)
		r = state_checkpoint(st, &d->dp);
	/* The state file appears, complete, in one rename. */
	if (r == 0 && tmp && rename(tmp, final) < 0)
		r = -errno;
	if (r < 0)
		vmd_log(VM_LOG_ERR, "state: cannot make a new state%s%s: %s", st->dir ? " in " : "",
			st->dir ? st->dir : "", strerror(-r));
	free(tmp);
	free(final);
	return r;
}

/* A state refused with --discard-state: its files are renamed, not removed. */
static void move_aside(struct state *st)
{
	char suffix[64];

	snprintf(suffix, sizeof(suffix), ".refused-%lld", (long long)time(NULL));
	for (int i = 0; i < 2 && st->dir; i++) {
		const char *name = i ? "frames" : "state";
		char *from = path_in(st->dir, name), *to = NULL;

		if (from && asprintf(&to, "%s%s", from, suffix) >= 0) {
			if (rename(from, to) == 0)
				vmd_log(VM_LOG_WARNING, "state: the refused %s is kept as %s", name, to);
			else
				vmd_log(VM_LOG_ERR, "state: cannot move %s aside: %s", from, strerror(errno));
		}
		free(from);
		free(to);
	}
	if (!st->dir)
		vmd_log(VM_LOG_WARNING, "state: the refused state is dropped from the fd store "
			"(--discard-state; no state directory to keep it in)");
}

int state_start(struct daemon *d)
{
	struct vm_config cfg;
	struct state *st;
	const char *where = NULL;
	bool from_store = false;
	int r;

	d->dp.boot_id = random64();
	cfg = d->machine;
	if (!d->opt.state_dir && !d->opt.fd_store) {
		d->dp.state_generation = random64();
		return new_machine(d, &cfg, -1);
	}
	if (!(st = calloc(1, sizeof(*st))))
		return -ENOMEM;
	st->state_fd = st->frames_fd = -1;
	st->cur = -1;
	st->fd_store = d->opt.fd_store;
	st->jcap = ROUND_PAGE(2 * d->opt.journal_size + 2ull * VMD_MAX_FRAME);
	if (d->opt.state_dir && !(st->dir = strdup(d->opt.state_dir))) {
		free(st);
		return -ENOMEM;
	}
	if (st->fd_store) {
		take_stored(&st->frames_fd, &st->state_fd);
		if (st->frames_fd >= 0 && st->state_fd >= 0) {
			where = "systemd's fd store";
			from_store = true;
		} else if (st->frames_fd >= 0 || st->state_fd >= 0) {
			vmd_log(VM_LOG_ERR, "state: systemd's fd store holds the %s but not the %s: refused",
				st->frames_fd >= 0 ? "frames" : "state", st->frames_fd >= 0 ? "state" : "frames");
			r = -EBADMSG;
			goto refused;
		}
	}
	if (!where && st->dir) {
		char *sp = path_in(st->dir, "state"), *fp = path_in(st->dir, "frames");

		if (!sp || !fp) {
			r = -ENOMEM;
		} else if (mkdir(st->dir, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			vmd_log(VM_LOG_ERR, "state: cannot make the state directory %s: %s", st->dir,
				strerror(-r));
		} else if ((st->state_fd = open(sp, O_RDWR | O_CLOEXEC)) >= 0) {
			st->frames_fd = open(fp, O_RDWR | O_CLOEXEC);
			where = st->dir;
			r = 0;
			if (st->frames_fd < 0) {
				r = -errno;
				vmd_log(VM_LOG_ERR, "state: %s holds a state but its frames %s cannot be "
					"opened: %s: refused", st->dir, fp, strerror(-r));
			}
		} else if (errno != ENOENT) {
			r = -errno;
			vmd_log(VM_LOG_ERR, "state: cannot open %s: %s: refused", sp, strerror(-r));
		} else {
			r = 0;
		}
		free(sp);
		free(fp);
		if (r < 0)
			goto refused;
	}
	if (where && d->opt.restore) {
		vmd_log(VM_LOG_ERR, "restore: %s holds a machine already: refused (it is kept; "
			"--discard-state moves it aside and starts from the snapshot)", where);
		r = -EEXIST;
		goto refused;
	}
	if (where) {
		r = recover(st, d, &cfg, where);
		if (r < 0)
			goto refused;
		d->dp.state_generation = st->lineage;
		if ((r = state_checkpoint(st, &d->dp)) < 0)
			goto fail;
		if (!from_store)
			store_fds(st);
	} else {
		vmd_log(VM_LOG_INFO, "state: none kept%s%s: %s", st->dir ? " in " : "",
			st->dir ? st->dir : "", d->opt.restore ? "the snapshot's machine" : "a new machine");
		if ((r = fresh(st, d, &cfg)) < 0)
			goto fail;
		d->dp.state_generation = st->lineage;
		store_fds(st);
	}
	d->state = st;
	d->dp.journal = st;
	return 0;

refused:
	if (!d->opt.discard_state) {
		vmd_log(VM_LOG_ERR, "state: not started: the state is kept as it was; start with "
			"--discard-state to begin with an empty machine");
		state_close(st);
		return r < 0 ? r : -EBADMSG;
	}
	if (st->jmap)
		munmap(st->jmap, st->jcap);
	st->jmap = NULL;
	if (st->state_fd >= 0)
		close(st->state_fd);
	if (st->frames_fd >= 0)
		close(st->frames_fd);
	st->state_fd = st->frames_fd = -1;
	vm_engine_destroy(d->engine);
	d->engine = d->dp.engine = NULL;
	account_done(&d->dp.acct);
	objects_done(&d->dp.objs);
	move_aside(st);
	vmd_log(VM_LOG_WARNING, "state: --discard-state: starting with an empty machine");
	if ((r = fresh(st, d, &cfg)) < 0)
		goto fail;
	d->dp.state_generation = st->lineage;
	store_fds(st);
	d->state = st;
	d->dp.journal = st;
	return 0;
fail:
	vm_engine_destroy(d->engine);
	d->engine = d->dp.engine = NULL;
	state_close(st);
	return r;
}
