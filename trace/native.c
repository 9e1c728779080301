/* native.c -- the native trace format (native.h): its writer, and its
 * reader as one of the reader's formats.
 *
 * Both sides keep the previous event's fields; an event is written as the
 * fields that changed, each a zigzag varint of its difference, so a stream
 * of similar events costs a few bytes each and decodes without parsing.
 * Strings (callers, comms) are defined once by id and referred to after;
 * the writer's table holds at most VT_NATIVE_MAX_STRINGS ids per kind and
 * starts over (redefining ids from 1) when full, so memory stays bounded on
 * both sides however many distinct strings a trace holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "native.h"

#define TAG_EVENT  0x01
#define TAG_STRING 0x02
#define TAG_END    0x03

enum {
	F_LINE, F_TS, F_CPU, F_PID, F_TGID, F_NODE, F_SIZE, F_ALIGN, F_VSTART, F_VEND,
	F_ADDR, F_NEW_ADDR, F_NR_LAZY, F_NR_LAZY_MAX, F_COUNT, F_PFN, F_GFP, F_VM_FLAGS,
	F_ORDER, F_MIGRATETYPE, F_CALLER, F_COMM, NR_FIELDS
};

#define STR_CALLER 0
#define STR_COMM   1
#define MAX_RECORD 512          /* larger than any record */
#define OUT_BUF    (1u << 20)

static void ev_to_fields(const struct vt_event *ev, uint64_t *f)
{
	f[F_LINE] = ev->line;
	f[F_TS] = ev->ts_ns;
	f[F_CPU] = (uint64_t)(int64_t)ev->cpu;
	f[F_PID] = (uint64_t)(int64_t)ev->pid;
	f[F_TGID] = (uint64_t)(int64_t)ev->tgid;
	f[F_NODE] = (uint64_t)(int64_t)ev->node;
	f[F_SIZE] = ev->size;
	f[F_ALIGN] = ev->align;
	f[F_VSTART] = ev->vstart;
	f[F_VEND] = ev->vend;
	f[F_ADDR] = ev->addr;
	f[F_NEW_ADDR] = ev->new_addr;
	f[F_NR_LAZY] = ev->nr_lazy;
	f[F_NR_LAZY_MAX] = ev->nr_lazy_max;
	f[F_COUNT] = ev->count;
	f[F_PFN] = ev->pfn;
	f[F_GFP] = ev->gfp;
	f[F_VM_FLAGS] = ev->vm_flags;
	f[F_ORDER] = ev->order;
	f[F_MIGRATETYPE] = (uint64_t)(int64_t)ev->migratetype;
}

static void fields_to_ev(const uint64_t *f, struct vt_event *ev)
{
	ev->line = f[F_LINE];
	ev->ts_ns = f[F_TS];
	ev->cpu = (int32_t)f[F_CPU];
	ev->pid = (int32_t)f[F_PID];
	ev->tgid = (int32_t)f[F_TGID];
	ev->node = (int32_t)f[F_NODE];
	ev->size = f[F_SIZE];
	ev->align = f[F_ALIGN];
	ev->vstart = f[F_VSTART];
	ev->vend = f[F_VEND];
	ev->addr = f[F_ADDR];
	ev->new_addr = f[F_NEW_ADDR];
	ev->nr_lazy = f[F_NR_LAZY];
	ev->nr_lazy_max = f[F_NR_LAZY_MAX];
	ev->count = f[F_COUNT];
	ev->pfn = f[F_PFN];
	ev->gfp = (uint32_t)f[F_GFP];
	ev->vm_flags = (uint32_t)f[F_VM_FLAGS];
	ev->order = (uint8_t)f[F_ORDER];
	ev->migratetype = (int8_t)f[F_MIGRATETYPE];
}

/* The fields of the "previous event" before the first one: an event with
 * every field unknown. */
static void initial_fields(uint64_t *f)
{
	struct vt_event ev;

	vt_event_init(&ev, VT_OP_ALLOC);
	ev_to_fields(&ev, f);
	f[F_CALLER] = 0;
	f[F_COMM] = 0;
}

static inline uint64_t zigzag(uint64_t delta)
{
	return (delta << 1) ^ (uint64_t)((int64_t)delta >> 63);
}

static inline uint64_t unzigzag(uint64_t z)
{
	return (z >> 1) ^ (0 - (z & 1));
}

static inline size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* ---- writer -------------------------------------------------------------- */

struct str_slot {
	uint64_t hash;
	uint32_t id;         /* 0: empty */
	uint32_t len;
	char *s;
};

#define STR_SLOTS (2 * VT_NATIVE_MAX_STRINGS)

struct str_table {
	struct str_slot slot[STR_SLOTS];
	uint32_t nr;
};

struct vt_writer {
	int fd;
	char path[256];
	const struct vt_trace_info *info;
	bool header_done;
	int err;
	char msg[VT_MSG_MAX];
	uint8_t *buf;
	size_t len;
	uint64_t prev[NR_FIELDS];
	uint64_t nr_events;
	struct str_table strs[2];
};

static uint64_t str_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

static void str_table_clear(struct str_table *t)
{
	for (unsigned i = 0; i < STR_SLOTS; i++) {
		free(t->slot[i].s);
		t->slot[i].s = NULL;
		t->slot[i].id = 0;
	}
	t->nr = 0;
}

static int w_fail(struct vt_writer *w, int err)
{
	if (!w->err) {
		w->err = err;
		snprintf(w->msg, sizeof(w->msg), "%s: %s", w->path, strerror(-err));
	}
	return w->err;
}

static int w_flush(struct vt_writer *w)
{
	size_t off = 0;

	while (off < w->len) {
		ssize_t n = write(w->fd, w->buf + off, w->len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return w_fail(w, -errno);
		}
		off += (size_t)n;
	}
	w->len = 0;
	return 0;
}

static int w_room(struct vt_writer *w, size_t n)
{
	if (w->err)
		return w->err;
	if (w->len + n > OUT_BUF)
		return w_flush(w);
	return 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int w_header(struct vt_writer *w)
{
	uint8_t *h;

	if (w->header_done)
		return 0;
	if (w_room(w, VT_NATIVE_HEADER_SIZE) < 0)
		return w->err;
	h = w->buf + w->len;
	memset(h, 0, VT_NATIVE_HEADER_SIZE);
	memcpy(h, VT_NATIVE_MAGIC, 8);
	put_le32(h + 8, VT_NATIVE_VERSION);
	put_le32(h + 12, VT_NATIVE_HEADER_SIZE);
	if (w->info) {
		put_le32(h + 16, w->info->cpus);
		put_le32(h + 20, (uint32_t)w->info->source);
		memcpy(h + 24, w->info->kernel, strnlen(w->info->kernel, 63));
	}
	w->len += VT_NATIVE_HEADER_SIZE;
	w->header_done = true;
	return 0;
}

/* The id of s in table kind, defining it (a string record) if new. */
static int w_string(struct vt_writer *w, unsigned kind, const char *s, uint64_t *ret_id)
{
	struct str_table *t = &w->strs[kind];
	size_t len = strnlen(s, VT_STR_MAX);
	uint64_t h = str_hash(s, len);
	unsigned i = (unsigned)(h & (STR_SLOTS - 1));
	struct str_slot *slot;
	uint8_t *p;

	for (;; i = (i + 1) & (STR_SLOTS - 1)) {
		slot = &t->slot[i];
		if (!slot->id)
			break;
		if (slot->hash == h && slot->len == len && !memcmp(slot->s, s, len)) {
			*ret_id = slot->id;
			return 0;
		}
	}
	if (t->nr == VT_NATIVE_MAX_STRINGS) {
		str_table_clear(t);
		i = (unsigned)(h & (STR_SLOTS - 1));
		slot = &t->slot[i];
	}
	slot->s = malloc(len + 1);
	if (!slot->s)
		return w_fail(w, -ENOMEM);
	memcpy(slot->s, s, len);
	slot->s[len] = '\0';
	slot->hash = h;
	slot->len = (uint32_t)len;
	slot->id = ++t->nr;
	if (w_room(w, MAX_RECORD) < 0)
		return w->err;
	p = w->buf + w->len;
	*p++ = TAG_STRING;
	p += put_varint(p, kind);
	p += put_varint(p, slot->id);
	p += put_varint(p, len);
	memcpy(p, s, len);
	p += len;
	w->len = (size_t)(p - w->buf);
	*ret_id = slot->id;
	return 0;
}

int vt_writer_open(const char *path, const struct vt_trace_info *info,
		   struct vt_writer **ret_writer, char *ret_msg)
{
	struct vt_writer *w;
	int fd;

	if (!path || !ret_writer)
		return -EINVAL;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int err = -errno;

		if (ret_msg)
			snprintf(ret_msg, VT_MSG_MAX, "%s: %s", path, strerror(-err));
		return err;
	}
	w = calloc(1, sizeof(*w));
	if (w)
		w->buf = malloc(OUT_BUF);
	if (!w || !w->buf) {
		free(w);
		close(fd);
		if (ret_msg)
			snprintf(ret_msg, VT_MSG_MAX, "%s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	w->fd = fd;
	w->info = info;
	snprintf(w->path, sizeof(w->path), "%s", path);
	initial_fields(w->prev);
	*ret_writer = w;
	return 0;
}

int vt_writer_write(struct vt_writer *w, const struct vt_event *ev)
{
	uint64_t f[NR_FIELDS], mask = 0;
	uint8_t *p;

	if (w->err || w_header(w) < 0)
		return w->err;
	if ((unsigned)ev->op >= VT_NR_OPS)
		return -EINVAL;
	ev_to_fields(ev, f);
	f[F_CALLER] = f[F_COMM] = 0;
	if (ev->caller && w_string(w, STR_CALLER, ev->caller, &f[F_CALLER]) < 0)
		return w->err;
	if (ev->comm && w_string(w, STR_COMM, ev->comm, &f[F_COMM]) < 0)
		return w->err;
	for (unsigned i = 0; i < NR_FIELDS; i++)
		if (f[i] != w->prev[i])
			mask |= 1ull << i;
	if (w_room(w, MAX_RECORD) < 0)
		return w->err;
	p = w->buf + w->len;
	*p++ = TAG_EVENT;
	*p++ = (uint8_t)ev->op;
	p += put_varint(p, ev->flags);
	p += put_varint(p, mask);
	for (unsigned i = 0; i < NR_FIELDS; i++) {
		if (mask & (1ull << i)) {
			p += put_varint(p, zigzag(f[i] - w->prev[i]));
			w->prev[i] = f[i];
		}
	}
	w->len = (size_t)(p - w->buf);
	w->nr_events++;
	return 0;
}

int vt_writer_close(struct vt_writer *w, bool complete)
{
	int err;

	if (!w)
		return 0;
	if (!w->err && w_header(w) == 0 && w_room(w, MAX_RECORD) == 0) {
		uint8_t *p = w->buf + w->len;

		if (complete) {
			*p++ = TAG_END;
			p += put_varint(p, w->nr_events);
		}
		w->len = (size_t)(p - w->buf);
		w_flush(w);
	}
	if (close(w->fd) < 0)
		w_fail(w, -errno);
	err = w->err;
	for (unsigned k = 0; k < 2; k++)
		str_table_clear(&w->strs[k]);
	free(w->buf);
	free(w);
	return err;
}

const char *vt_writer_error(const struct vt_writer *w)
{
	return w->msg;
}

/* ---- reader -------------------------------------------------------------- */

struct vti_native_state {
	bool header_done;
	bool ended;
	uint64_t prev[NR_FIELDS];
	char *str[2][VT_NATIVE_MAX_STRINGS + 1];
};

void vti_native_state_free(struct vti_native_state *s)
{
	if (!s)
		return;
	for (unsigned k = 0; k < 2; k++)
		for (unsigned i = 0; i <= VT_NATIVE_MAX_STRINGS; i++)
			free(s->str[k][i]);
	free(s);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A varint from [*p, end): 0, or -1 if it runs past end or past 10 bytes. */
static inline int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	const uint8_t *q = *p;
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (q == end)
			return -1;
		v |= (uint64_t)(*q & 0x7f) << shift;
		if (!(*q++ & 0x80)) {
			*p = q;
			*ret = v;
			return 0;
		}
	}
	return -1;
}

static int native_header(struct vt_reader *r)
{
	struct vti_native_state *s = r->native;
	const uint8_t *h;
	long avail;
	uint32_t version, size, source;

	avail = vti_fill(r, VT_NATIVE_HEADER_SIZE);
	if (avail < 0)
		return (int)avail;
	h = (const uint8_t *)r->buf + r->start;
	if (avail < 8 || memcmp(h, VT_NATIVE_MAGIC, 8))
		return vti_bad(r, "not a native trace (bad magic)");
	if (avail < VT_NATIVE_HEADER_SIZE)
		return vti_bad(r, "truncated header");
	version = get_le32(h + 8);
	size = get_le32(h + 12);
	if (version != VT_NATIVE_VERSION)
		return vti_bad(r, "native trace version %u (this reader knows %u)", version,
			       VT_NATIVE_VERSION);
	if (size < VT_NATIVE_HEADER_SIZE || size > VT_READ_CHUNK / 2)
		return vti_bad(r, "bad header size %u", size);
	r->info.cpus = get_le32(h + 16);
	source = get_le32(h + 20);
	r->info.source = source < VT_NR_FORMATS ? (enum vt_format)source : VT_FMT_AUTO;
	memcpy(r->info.kernel, h + 24, 63);
	r->info.kernel[63] = '\0';
	avail = vti_fill(r, size);
	if (avail < 0)
		return (int)avail;
	if ((size_t)avail < size)
		return vti_bad(r, "truncated header");
	r->start += size;
	r->offset += size;
	s->header_done = true;
	return 0;
}

static int native_next(struct vt_reader *r, struct vt_event *ev)
{
	struct vti_native_state *s = r->native;
	int k;

	if (!s) {
		s = r->native = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		initial_fields(s->prev);
		r->info.source = VT_FMT_NATIVE;
	}
	if (!s->header_done && (k = native_header(r)) < 0)
		return k;
	for (;;) {
		const uint8_t *p, *end, *start;
		uint64_t v, kind, id, len, mask, flags;
		long avail = vti_fill(r, MAX_RECORD);

		if (avail < 0)
			return (int)avail;
		p = start = (const uint8_t *)r->buf + r->start;
		end = p + avail;
		if (avail == 0) {
			if (!s->ended) {
				r->line++;
				return vti_bad(r, "truncated: no end record");
			}
			return 0;
		}
		r->line++;
		r->info.lines = r->line;
		if (s->ended)
			return vti_bad(r, "data after the end record");
		switch (*p++) {
		case TAG_EVENT:
			if (p == end || *p >= VT_NR_OPS)
				goto bad;
			/* Every field of ev is set below: no vt_event_init(). */
			ev->op = (enum vt_op)*p++;
			if (get_varint(&p, end, &flags) < 0 || get_varint(&p, end, &mask) < 0 ||
			    (flags & ~(uint64_t)VT_EV_ALL_FLAGS) || mask >> NR_FIELDS)
				goto bad;
			/* Only the fields that changed, lowest first. */
			for (; mask; mask &= mask - 1) {
				if (get_varint(&p, end, &v) < 0)
					goto bad;
				s->prev[__builtin_ctzll(mask)] += unzigzag(v);
			}
			if (s->prev[F_CALLER] > VT_NATIVE_MAX_STRINGS ||
			    s->prev[F_COMM] > VT_NATIVE_MAX_STRINGS)
				return vti_bad(r, "string id out of range");
			fields_to_ev(s->prev, ev);
			ev->flags = (uint32_t)flags;
			ev->caller = s->prev[F_CALLER] ? s->str[STR_CALLER][s->prev[F_CALLER]] : NULL;
			ev->comm = s->prev[F_COMM] ? s->str[STR_COMM][s->prev[F_COMM]] : NULL;
			if ((s->prev[F_CALLER] && !ev->caller) || (s->prev[F_COMM] && !ev->comm))
				return vti_bad(r, "string id used before it was defined");
			r->start += (size_t)(p - start);
			r->offset += (uint64_t)(p - start);
			return 1;
		case TAG_STRING: {
			char *str;

			if (get_varint(&p, end, &kind) < 0 || get_varint(&p, end, &id) < 0 ||
			    get_varint(&p, end, &len) < 0 || kind > 1 || len > VT_STR_MAX ||
			    (size_t)(end - p) < len)
				goto bad;
			if (id == 0 || id > VT_NATIVE_MAX_STRINGS)
				return vti_bad(r, "string id out of range");
			str = malloc(len + 1);
			if (!str)
				return -ENOMEM;
			memcpy(str, p, len);
			str[len] = '\0';
			free(s->str[kind][id]);
			s->str[kind][id] = str;
			p += len;
			r->start += (size_t)(p - start);
			r->offset += (uint64_t)(p - start);
			continue;
		}
		case TAG_END:
			if (get_varint(&p, end, &v) < 0)
				goto bad;
			if (v != r->info.events)
				return vti_bad(r, "the end record counts %llu events, the file has %llu",
					       (unsigned long long)v,
					       (unsigned long long)r->info.events);
			s->ended = true;
			r->start += (size_t)(p - start);
			r->offset += (uint64_t)(p - start);
			continue;
		default:
			return vti_bad(r, "bad record tag 0x%02x", start[0]);
		}
bad:
		if (r->eof && (size_t)avail < MAX_RECORD)
			return vti_bad(r, "truncated record");
		return vti_bad(r, "malformed record");
	}
}

const struct vti_format vti_native_format = {
	.id = VT_FMT_NATIVE,
	.next = native_next,
};
