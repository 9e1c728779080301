/* bpftrace.c -- the capture of tools/vmalloc-bpftrace (docs/trace-formats.md).
 *
 * After a header of "# key: value" lines (kernel, cpus, probes), one record
 * per line, in timestamp order:
 *     TS CPU PID OP key=value ... comm=COMM
 * TS in ns, OP one of vmalloc, vmap, vfree, vfree_atomic, vunmap, vrealloc,
 * purge; "-" for a value the probes could not see; comm last (it may hold
 * spaces).  Keys:
 *     vmalloc, vmap   size (bytes asked) or kva (KVA taken, guard included),
 *                     align, gfp, vm_flags, node, start, end, addr (0x0: it
 *                     failed), caller
 *     vfree, vfree_atomic, vunmap   addr, nr_lazy, nr_lazy_max, caller
 *     vrealloc        addr (old), size, gfp, new (0x0: it failed), caller
 *     purge           start, end, nr
 * Unknown keys are ignored and unknown operations counted as other events,
 * so a newer capture still reads.  gfp is the capturing kernel's gfp_t
 * (Linux 6.x bits).
 */
#include <stdio.h>
#include <string.h>

#include "format.h"

enum bt_key {
	K_SIZE, K_KVA, K_ALIGN, K_GFP, K_VM_FLAGS, K_NODE, K_START, K_END, K_ADDR,
	K_NEW, K_NR_LAZY, K_NR_LAZY_MAX, K_NR, K_CALLER, NR_KEYS
};

static const char *const key_names[NR_KEYS] = {
	"size", "kva", "align", "gfp", "vm_flags", "node", "start", "end", "addr",
	"new", "nr_lazy", "nr_lazy_max", "nr", "caller",
};

struct bt_fields {
	unsigned seen;                  /* bit per key with a value ("-" is not one) */
	uint64_t v[NR_KEYS];
	const char *caller;
	size_t caller_len;
};

static int bt_header(struct vt_reader *r, const char *p)
{
	const char *q;
	uint64_t n;

	p = vti_skip_spaces(p + 1);
	if (!strncmp(p, "vmallocd-bpftrace", 17)) {
		r->bt.header_seen = true;
		return 0;
	}
	if (!strncmp(p, "cpus:", 5)) {
		q = vti_skip_spaces(p + 5);
		if (vti_u64(&q, &n) == 0 && n > 0 && n <= 65536)
			r->info.cpus = (unsigned)n;
	} else if (!strncmp(p, "kernel:", 7)) {
		size_t len;

		q = vti_skip_spaces(p + 7);
		len = strcspn(q, " \t");
		if (len > sizeof(r->info.kernel) - 1)
			len = sizeof(r->info.kernel) - 1;
		memcpy(r->info.kernel, q, len);
		r->info.kernel[len] = '\0';
	}
	return 0;
}

/* key=value pairs up to "comm=" (or the end). */
static int bt_fields(struct vt_reader *r, const char *op, const char **pp, struct bt_fields *f)
{
	const char *p = *pp;

	for (;;) {
		const char *k = vti_skip_spaces(p), *eq, *v;
		size_t klen;
		int key;

		if (!*k)
			break;
		if (!strncmp(k, "comm=", 5)) {
			p = k;
			break;
		}
		eq = k;
		while (*eq && *eq != '=' && *eq != ' ')
			eq++;
		if (*eq != '=')
			return vti_bad(r, "%s: '%.*s' is not key=value", op, vti_toklen(k), k);
		klen = (size_t)(eq - k);
		v = eq + 1;
		p = v + strcspn(v, " \t");
		for (key = 0; key < NR_KEYS; key++)
			if (strlen(key_names[key]) == klen && !memcmp(key_names[key], k, klen))
				break;
		if (key == NR_KEYS || (v[0] == '-' && (v[1] == ' ' || v[1] == '\t' || !v[1])))
			continue;
		if (key == K_CALLER) {
			f->caller = v;
			f->caller_len = (size_t)(p - v);
		} else {
			const char *e = v;
			int64_t s;

			if (key == K_NODE) {
				if (vti_s64(&e, &s) < 0 || e != p)
					goto bad;
				f->v[key] = (uint64_t)s;
			} else if (vti_u64(&e, &f->v[key]) < 0 || e != p) {
				goto bad;
			}
		}
		f->seen |= 1u << key;
		continue;
bad:
		return vti_bad(r, "%s: bad %s '%.*s'", op, key_names[key], vti_toklen(v), v);
	}
	*pp = p;
	return 0;
}

static int bt_need(struct vt_reader *r, const char *op, const struct bt_fields *f, int key)
{
	if (f->seen & (1u << key))
		return 0;
	return vti_bad(r, "%s: no %s field", op, key_names[key]);
}

#define NEED(key) do { int k_ = bt_need(r, opname, &f, key); if (k_ < 0) return k_; } while (0)
#define HAS(key) (f.seen & (1u << (key)))

static int bt_line(struct vt_reader *r, char *line, size_t len, struct vt_event *ev)
{
	const char *p = vti_skip_spaces(line), *o;
	uint64_t ts, cpu, pid;
	struct bt_fields f;
	char opname[16];
	size_t olen;
	int k;

	(void)len;
	if (!*p)
		return 0;
	if (*p == '#')
		return bt_header(r, p);
	if (vti_u64(&p, &ts) < 0 || (p = vti_skip_spaces(p), vti_u64(&p, &cpu) < 0) ||
	    (p = vti_skip_spaces(p), vti_u64(&p, &pid) < 0) || cpu > INT32_MAX || pid > INT32_MAX)
		return vti_bad(r, "expected 'TS CPU PID OP ...'");
	o = vti_skip_spaces(p);
	olen = strcspn(o, " \t");
	if (!olen)
		return vti_bad(r, "expected 'TS CPU PID OP ...'");
	vti_strcpy(opname, o, olen < sizeof(opname) - 1 ? olen : sizeof(opname) - 1);
	p = o + olen;
	memset(&f, 0, sizeof(f));
	k = bt_fields(r, opname, &p, &f);
	if (k < 0)
		return k;

	vt_event_init(ev, VT_OP_ALLOC);
	if (!strcmp(opname, "vmalloc") || !strcmp(opname, "vmap")) {
		if (!HAS(K_SIZE) && !HAS(K_KVA))
			return vti_bad(r, "%s: no size field", opname);
		NEED(K_ADDR);
		ev->op = VT_OP_ALLOC;
		if (HAS(K_SIZE)) {
			ev->size = f.v[K_SIZE];
		} else {
			ev->size = f.v[K_KVA];
			ev->flags |= VT_EV_KVA_SIZE;
		}
		if (f.v[K_ADDR]) {
			ev->flags |= VT_EV_ADDR;
			ev->addr = f.v[K_ADDR];
		} else {
			ev->flags |= VT_EV_FAILED;
		}
	} else if (!strcmp(opname, "vfree") || !strcmp(opname, "vfree_atomic") ||
		   !strcmp(opname, "vunmap")) {
		NEED(K_ADDR);
		ev->op = VT_OP_FREE;
		ev->flags |= VT_EV_ADDR;
		ev->addr = f.v[K_ADDR];
		if (opname[5] == '_')
			ev->flags |= VT_EV_ATOMIC;
		if (opname[1] == 'u')
			ev->flags |= VT_EV_UNMAP;
		if (HAS(K_NR_LAZY) && HAS(K_NR_LAZY_MAX)) {
			ev->flags |= VT_EV_LAZY;
			ev->nr_lazy = f.v[K_NR_LAZY];
			ev->nr_lazy_max = f.v[K_NR_LAZY_MAX];
		}
	} else if (!strcmp(opname, "vrealloc")) {
		NEED(K_ADDR);
		NEED(K_SIZE);
		NEED(K_NEW);
		ev->op = VT_OP_REALLOC;
		ev->flags |= VT_EV_ADDR;
		ev->addr = f.v[K_ADDR];
		ev->size = f.v[K_SIZE];
		if (f.v[K_NEW]) {
			ev->flags |= VT_EV_NEW_ADDR;
			ev->new_addr = f.v[K_NEW];
		} else if (f.v[K_SIZE]) {
			ev->flags |= VT_EV_FAILED;
		}
	} else if (!strcmp(opname, "purge")) {
		NEED(K_START);
		NEED(K_END);
		ev->op = VT_OP_PURGE;
		ev->flags |= VT_EV_WINDOW;
		ev->vstart = f.v[K_START];
		ev->vend = f.v[K_END];
		ev->count = f.v[K_NR];
		goto common;
	} else {
		r->info.other_events++;
		return 0;
	}
	if (HAS(K_ALIGN)) {
		ev->flags |= VT_EV_ALIGN;
		ev->align = f.v[K_ALIGN];
	}
	if (HAS(K_START) && HAS(K_END)) {
		ev->flags |= VT_EV_WINDOW;
		ev->vstart = f.v[K_START];
		ev->vend = f.v[K_END];
	}
	if (HAS(K_GFP)) {
		ev->flags |= VT_EV_GFP;
		ev->gfp = vti_gfp_from_kernel_bits(f.v[K_GFP]);
	}
	if (HAS(K_VM_FLAGS)) {
		ev->flags |= VT_EV_VM_FLAGS;
		ev->vm_flags = (uint32_t)f.v[K_VM_FLAGS];
	}
	if (HAS(K_NODE) && (int64_t)f.v[K_NODE] >= 0 && f.v[K_NODE] < 1024) {
		ev->flags |= VT_EV_NODE;
		ev->node = (int32_t)f.v[K_NODE];
	}
	if (f.caller)
		ev->caller = vti_strcpy(r->caller, f.caller, f.caller_len);
common:
	ev->ts_ns = ts;
	ev->cpu = (int32_t)cpu;
	ev->pid = (int32_t)pid;
	if (!strncmp(p, "comm=", 5))
		ev->comm = vti_strcpy(r->comm, p + 5, strlen(p + 5));
	return 1;
}

const struct vti_format vti_bpftrace_format = {
	.id = VT_FMT_BPFTRACE,
	.line = bt_line,
};
