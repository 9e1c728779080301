/* dispatch.c -- one request frame in, one reply frame out: decoding, the
 * owner and quota rules, the call into the engine, encoding.
 *
 * Each operation is a row of ops[]: its handler and the reply's result
 * case.  A handler returns 0 (its result is then attached to the reply)
 * or the negative errno it reported with fail(), whose message the reply
 * carries; reply.c packs either.  What a handler knows of its client is
 * the session and the dispatch_env it is given: it never reaches into
 * the connection or the loop.
 *
 * Rules enforced here (the engine knows nothing of users):
 *   - only an area's owner uid, or uid 0, may free, resize, read, write,
 *     translate, inspect or vunmap it (-EPERM); the same for alloc_pages
 *     blocks and for vmap of their frames;
 *   - pages are charged to the owner uid against its quota (-EDQUOT);
 *   - vm_map_ram mappings and per-CPU objects carry no vm_struct, so their
 *     owner, size and charge are kept here, in the object table (objects.c);
 *   - a non-root client's vmallocinfo shows its own areas only.
 * The hot requests (alloc, free, read, write) allocate nothing: the request
 * is unpacked into the connection's arena and the reply packed straight
 * into the output buffer.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "fastdecode.h"
#include "vmalloc.pb-c.h"
#include "vmallocd.h"

typedef Vmallocd__V1__Request Request;
typedef Vmallocd__V1__Reply Reply;

#define SESSION_KEEP (64u << 10)   /* per-session buffers kept between passes */

#define PAGE_ALIGN(x) (((x) + VM_PAGE_SIZE - 1) & ~(VM_PAGE_SIZE - 1))

/* The results a reply may carry; a handler fills the one its row names. */
union result {
	Vmallocd__V1__HelloReply hello;
	Vmallocd__V1__AllocReply alloc;
	Vmallocd__V1__AllocPagesReply alloc_pages;
	Vmallocd__V1__ReadReply read;
	Vmallocd__V1__TranslateReply translate;
	Vmallocd__V1__AreaInfoReply area_info;
	Vmallocd__V1__QueryReply query;
};

struct area_list {
	const struct session *s;
	bool leaks_only;
	uint64_t min_size;         /* the map's labels: every uid's areas this wide, */
	size_t max;                /* at most max of them, callers of others blanked */
	unsigned nr_nodes;
	Vmallocd__V1__AreaInfo *v;
	Vmallocd__V1__AreaInfo **ptrs;
	uint32_t *per_node;
	size_t n, cap;
	int err;
};

struct zone_list {
	Vmallocd__V1__ZoneInfo *v;
	Vmallocd__V1__ZoneInfo **ptrs;
	uint64_t *nr_free;
	int32_t *idx;
	size_t n;
	int err;
};

/* One request being handled. */
struct ctx {
	struct dispatch *dp;
	struct session *s;
	const struct dispatch_env *env;
	struct vm_engine *e;
	Reply reply;
	union result result;       /* the one the reply carries on success */
	/* What a query allocates, freed once its reply is packed, and what
	 * the rarer replies point to. */
	struct {
		Vmallocd__V1__TestVmalloc tv;   /* Hello's test_vmalloc */
		char *text;
		struct area_list al;
		struct zone_list zl;
		Vmallocd__V1__MemInfo mi;
		Vmallocd__V1__Stats st;
		Vmallocd__V1__AreaInfo area;
		uint32_t per_node[VM_MAX_NODES];
		Vmallocd__V1__MemoryMap map;
		struct memmap mm;
	} q;
	char msg[512];
};

/* Every failure of a request goes through here: the reply carries status
 * err and the message "<what went wrong>: <strerror>".  Returns err. */
__attribute__((format(printf, 3, 4)))
static int fail(struct ctx *x, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(x->msg) - 2)
		snprintf(x->msg + n, sizeof(x->msg) - (size_t)n, ": %s", strerror(-err));
	x->reply.status = err;
	x->reply.message = x->msg;
	return err;
}

/* After -ENOMEM of a request that needed up to need more resident frames:
 * when the frames' host budget is what ran out, the words that say so (the
 * budget and where it comes from), else "". */
static const char *host_full(struct ctx *x, uint64_t need, char *buf, size_t len)
{
	struct vm_stats s;

	vm_get_stats(x->e, &s);
	if (!s.max_resident_pages || s.resident_pages + need <= s.max_resident_pages)
		return "";
	snprintf(buf, len, ": host memory: %llu MiB of frames resident, the limit is %s",
		 (unsigned long long)(s.resident_pages >> (20 - VM_PAGE_SHIFT)), x->dp->resident_why);
	return buf;
}

/* An error found before any operation ran (the frame, its decoding). */
__attribute__((format(printf, 5, 0)))
static int stream_error(struct dispatch *dp, struct iobuf *out, uint64_t id, int status,
			const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	dp->nr_errors++;
	dp->st.by_op[0][-status < DISPATCH_NR_STATUS ? -status : DISPATCH_NR_STATUS - 1]++;
	return reply_queue_error(out, id, status, msg);
}

int dispatch_error(struct dispatch *dp, struct iobuf *out, int status, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = stream_error(dp, out, 0, status, fmt, ap);
	va_end(ap);
	return r;
}

__attribute__((format(printf, 5, 6)))
static int decode_error(struct dispatch *dp, struct iobuf *out, uint64_t id, int status,
			const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = stream_error(dp, out, id, status, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- ownership ------------------------------------------------------------------- */

static bool may_touch(const struct session *s, uint32_t owner)
{
	return s->uid == 0 || s->uid == owner;
}

/* The area holding addr, if any, after the owner check: 0 (found or not
 * found: *found says) or -EPERM. */
static int area_for(struct ctx *x, uint64_t addr, struct vm_area_info *info, bool *found,
		    const char *what)
{
	uint64_t start;
	struct vmd_object *o;

	*found = vm_find_vm_area(x->e, addr, info) == 0;
	if (*found && !may_touch(x->s, info->uid))
		return fail(x, -EPERM, "%s 0x%llx: area of uid %u", what, (unsigned long long)addr,
			    info->uid);
	/* A vm_map_ram mapping has no vm_struct: its owner is ours to know. */
	if (!*found && vm_is_map_ram_addr(x->e, addr, &start, NULL) &&
	    (o = objects_get(&x->dp->objs, start, VMD_OBJ_MAP_RAM)) && !may_touch(x->s, o->uid))
		return fail(x, -EPERM, "%s 0x%llx: vm_map_ram mapping of uid %u", what,
			    (unsigned long long)addr, o->uid);
	return 0;
}

static bool pid_alive(uint32_t pid)
{
	/* EPERM means it exists but is not ours to signal. */
	return pid && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* The simulated CPU a connection's requests run on: connections are spread
 * over the machine's CPUs as a scheduler would spread their processes. */
static void set_cpu(struct ctx *x)
{
	if (x->dp->opt->cpus > 1)
		vm_set_current_cpu(x->e, (unsigned)(x->s->id % x->dp->opt->cpus));
}

/* The page tables the call just made (pt_before: vm_pagetable_pages()
 * before it) are charged to uid for as long as they exist, which is
 * always: the kernel never frees vmalloc's tables.  Can't fail: without
 * memory for the uid's entry the tables go uncharged. */
static void charge_tables(struct ctx *x, uint32_t uid, uint64_t pt_before)
{
	uint64_t now = vm_pagetable_pages(x->e);
	struct uid_account *u;

	if (now > pt_before && (u = account_uid(&x->dp->acct, uid)))
		u->pt_pages += now - pt_before;
}

/* A new area for uid: -EDQUOT (reported) when it has max-areas already. */
static int area_room(struct ctx *x, uint32_t uid, const char *what)
{
	struct uid_account *u;
	unsigned max = x->dp->opt->max_areas;

	if (!uid || !max)
		return 0;
	u = account_uid(&x->dp->acct, uid);
	if (u && u->areas >= max)
		return fail(x, -EDQUOT, "%s: uid %u has %llu areas, the most max-areas allows", what,
			    uid, (unsigned long long)u->areas);
	return 0;
}

static void count_area(struct ctx *x, uint32_t uid, int delta)
{
	struct uid_account *u = account_uid(&x->dp->acct, uid);

	if (!u)
		return;
	if (delta > 0)
		u->areas++;
	else if (u->areas)
		u->areas--;
}

static void set_current(struct ctx *x, uint32_t pid, const char *caller)
{
	/* An over-long caller was refused earlier; intern failure only costs
	 * the caller string, never the allocation. */
	if (vm_set_current(x->e, x->s->uid, pid, x->s->id, caller && *caller ? caller : NULL) < 0)
		vm_set_current(x->e, x->s->uid, pid, x->s->id, NULL);
	set_cpu(x);
}

static int check_caller(struct ctx *x, const char *caller)
{
	if (caller && strlen(caller) > VM_CALLER_MAX)
		return fail(x, -EINVAL, "caller string longer than %d bytes", VM_CALLER_MAX);
	return 0;
}

/* ---- what the wire may get wrong ----------------------------------------------- */

/* The rules of protocol version 1 hold until a Hello says otherwise. */
static uint32_t conn_version(const struct session *s)
{
	return s->proto_version ? s->proto_version : 1;
}

static int check_hello(struct ctx *x, const Vmallocd__V1__HelloRequest *h)
{
	if (h->version < VMD_PROTO_VERSION_MIN || h->version > VMD_PROTO_VERSION)
		return fail(x, -EPROTONOSUPPORT, "Hello: protocol version %u: vmallocd "
			    VMALLOCD_VERSION " speaks versions %d to %d", h->version,
			    VMD_PROTO_VERSION_MIN, VMD_PROTO_VERSION);
	x->s->proto_version = h->version;
	return 0;
}

/* A kind left at 0 meant vmalloc / vmallocinfo in version 1; from version
 * 2 on it is refused, so that a forgotten field never asks for something. */
static int unspecified_kind(struct ctx *x, const char *what, int meant_in_v1, int *ret_kind)
{
	if (conn_version(x->s) >= 2)
		return fail(x, -EINVAL, "%s: kind not set (0): protocol version %u needs an "
			    "explicit kind", what, conn_version(x->s));
	*ret_kind = meant_in_v1;
	return 0;
}

/* vm_flags a request may carry; VM_SCOPED and the engine's own marks never
 * come from the wire (scope has its own field). */
static int check_vm_flags(struct ctx *x, const char *what, uint32_t flags)
{
	if (flags & ~VM_FLAGS_CALLER_MASK)
		return fail(x, -EINVAL, "%s: vm_flags 0x%x: a request may set only VM_USERMAP "
			    "(0x%x), VM_NO_GUARD (0x%x) and VM_DMA_COHERENT (0x%x)", what, flags,
			    VM_USERMAP, VM_NO_GUARD, VM_DMA_COHERENT);
	return 0;
}

/* The parent of pid, from /proc/PID/stat: 0, -ENOENT or -EACCES (a sandbox
 * that hides other users' processes), -EIO if the line does not parse. */
static int parent_of(uint32_t pid, uint32_t *ret_ppid)
{
	char path[32], buf[512], *p;
	unsigned ppid;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything but ends at the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %u", &ppid) != 1)
		return -EIO;
	*ret_ppid = ppid;
	return 0;
}

/* The allocating process to record: the client, or with parent_pid its
 * parent (vmctl's shell), so that what a short-lived tool makes is leaked
 * only when the process it works for is gone.  The claim is checked where
 * /proc shows the client; where it does not (the unit's ProtectProc=
 * invisible hides other users' processes), the process must at least
 * exist.  It only decides when the client's own areas count as leaked:
 * owner and permissions come from SO_PEERCRED alone. */
static int allocating_pid(struct ctx *x, const char *what, uint32_t parent_pid,
			  uint32_t *ret_pid)
{
	const struct dispatch_inputs *in = &x->dp->in;

	*ret_pid = x->s->pid;
	if (!parent_pid)
		return 0;
	if (parent_pid > INT32_MAX)   /* kill() would take it for a process group */
		return fail(x, -EINVAL, "%s: parent_pid %u: not a pid", what, parent_pid);
	/* What /proc and kill() said was read before the request ran
	 * (inputs_of), so that a replay decides the same. */
	if (in->parent_r == 0 && in->ppid != parent_pid)
		return fail(x, -EINVAL, "%s: parent_pid %u is not the parent of pid %u (%u is)", what,
			    parent_pid, x->s->pid, in->ppid);
	if (in->parent_r < 0 && in->parent_gone)
		return fail(x, -EINVAL, "%s: parent_pid %u: no such process", what, parent_pid);
	*ret_pid = parent_pid;
	return 0;
}

/* Why the engine said -EINVAL to an alloc, for the reply's message: the
 * engine only returns the errno.  Only called after a failure. */
static const char *alloc_einval_reason(struct ctx *x, const Vmallocd__V1__AllocRequest *a,
				       int kind, char *buf, size_t len)
{
	bool has_node = kind == VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_NODE ||
			kind == VMALLOCD__V1__ALLOC_KIND__ALLOC_VZALLOC_NODE ||
			kind == VMALLOCD__V1__ALLOC_KIND__ALLOC_NODE_RANGE;
	bool range = kind == VMALLOCD__V1__ALLOC_KIND__ALLOC_NODE_RANGE;
	bool has_gfp = range || kind == VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_GFP;
	struct vm_stats s;

	vm_get_stats(x->e, &s);
	if (!a->size)
		snprintf(buf, len, "size 0");
	else if (a->size > UINT64_MAX - 2 * VM_PAGE_SIZE)
		snprintf(buf, len, "size too large");
	else if (has_gfp && (a->gfp & ~GFP_VALID_MASK))
		snprintf(buf, len, "gfp 0x%x has bits vmallocd does not know (0x%x)", a->gfp,
			 a->gfp & ~GFP_VALID_MASK);
	else if (has_node && (a->node < NUMA_NO_NODE || a->node >= (int)s.nr_nodes))
		snprintf(buf, len, "node %d: the machine has %u node%s (0..%u, or -1 for any)",
			 a->node, s.nr_nodes, s.nr_nodes == 1 ? "" : "s", s.nr_nodes - 1);
	else if (range && a->align & (a->align - 1))
		snprintf(buf, len, "alignment %llu is not a power of two",
			 (unsigned long long)a->align);
	else if (range && (a->start || a->end) &&
		 (a->start >= a->end || a->start < s.vmalloc_start || a->end > s.vmalloc_end))
		snprintf(buf, len, "window [0x%llx, 0x%llx) is not a range inside the vmalloc "
			 "range [0x%llx, 0x%llx)", (unsigned long long)a->start,
			 (unsigned long long)a->end, (unsigned long long)s.vmalloc_start,
			 (unsigned long long)s.vmalloc_end);
	else
		return NULL;
	return buf;
}

/* ---- the vmalloc family -------------------------------------------------------------- */

/* An address as the result (alloc, realloc and vmap reply alike). */
static int result_addr(struct ctx *x, uint64_t addr)
{
	Vmallocd__V1__AllocReply *ar = &x->result.alloc;

	*ar = (Vmallocd__V1__AllocReply)VMALLOCD__V1__ALLOC_REPLY__INIT;
	ar->addr = addr;
	return 0;
}

static int op_alloc(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__AllocRequest *a = msg;
	struct vm_engine *e = x->e;
	uint32_t uid = x->s->uid, pid;
	uint64_t addr = 0, pages = 0, pt_before;
	int kind = (int)a->kind, r;
	char why[480];
	const char *reason;

	if (kind == VMALLOCD__V1__ALLOC_KIND__ALLOC_KIND_UNSPECIFIED &&
	    (r = unspecified_kind(x, "alloc", VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC, &kind)) < 0)
		return r;
	if (kind < VMALLOCD__V1__ALLOC_KIND__ALLOC_VZALLOC ||
	    kind > VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC)
		return fail(x, -EINVAL, "unknown alloc kind %d", kind);
	if ((r = check_caller(x, a->caller)) < 0 || (r = check_vm_flags(x, "alloc", a->vm_flags)) < 0 ||
	    (r = allocating_pid(x, "alloc", a->parent_pid, &pid)) < 0 ||
	    (r = area_room(x, uid, "alloc")) < 0)
		return r;
	/* Bad sizes get the engine's own error; anything else is charged first,
	 * its page array (an area of its own when longer than a page) too. */
	if (a->size && a->size <= UINT64_MAX - (VM_PAGE_SIZE - 1)) {
		pages = PAGE_ALIGN(a->size) >> VM_PAGE_SHIFT;
		pages += vm_page_array_pages(e, pages);
		r = account_charge(&x->dp->acct, uid, pages, options_quota(x->dp->opt, uid));
		if (r == -EDQUOT)
			return fail(x, r, "alloc %llu bytes: quota of uid %u is %llu pages, %llu in use",
				    (unsigned long long)a->size, uid,
				    (unsigned long long)options_quota(x->dp->opt, uid),
				    (unsigned long long)account_used(&x->dp->acct, uid));
		if (r < 0)
			return fail(x, r, "alloc %llu bytes: accounting", (unsigned long long)a->size);
	}
	set_current(x, pid, a->caller);
	vm_set_current_flags(e, a->scoped ? VM_SCOPED : 0);
	pt_before = vm_pagetable_pages(e);
	switch (kind) {
	case VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC:
		r = vm_vmalloc(e, a->size, &addr);
		break;
	case VMALLOCD__V1__ALLOC_KIND__ALLOC_VZALLOC:
		r = vm_vzalloc(e, a->size, &addr);
		break;
	case VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_NODE:
		r = vm_vmalloc_node(e, a->size, a->node, &addr);
		break;
	case VMALLOCD__V1__ALLOC_KIND__ALLOC_VZALLOC_NODE:
		r = vm_vzalloc_node(e, a->size, a->node, &addr);
		break;
	case VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_32:
		r = vm_vmalloc_32(e, a->size, &addr);
		break;
	case VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_USER:
		r = vm_vmalloc_user(e, a->size, &addr);
		break;
	case VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_32_USER:
		r = vm_vmalloc_32_user(e, a->size, &addr);
		break;
	case VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC_GFP:
		r = vm___vmalloc(e, a->size, a->gfp, &addr);
		break;
	case VMALLOCD__V1__ALLOC_KIND__ALLOC_NODE_RANGE:
	default: {
		struct vm_alloc_req range = {
			.size = a->size, .align = a->align, .start = a->start, .end = a->end,
			.gfp = a->gfp ? a->gfp : GFP_KERNEL | __GFP_HIGHMEM,
			.prot = a->prot ? a->prot : PAGE_KERNEL, .vm_flags = a->vm_flags,
			.node = a->node,
		};

		r = vm___vmalloc_node_range(e, &range, &addr);
		break;
	}
	}
	vm_set_current_flags(e, 0);
	charge_tables(x, uid, pt_before);
	if (r < 0) {
		account_uncharge(&x->dp->acct, uid, pages);
		reason = r == -EINVAL ? alloc_einval_reason(x, a, kind, why, sizeof(why)) :
			 r == -ENOMEM && *host_full(x, 8, why, sizeof(why)) ? why + 2 : NULL;
		return fail(x, r, "alloc %llu bytes%s%s", (unsigned long long)a->size,
			    reason ? ": " : "", reason ? reason : "");
	}
	if (a->scoped)
		x->s->nr_scoped++;
	count_area(x, uid, 1);
	return result_addr(x, addr);
}

/* Inlined into the fast path (dispatch_frame), where every vfree comes. */
static inline __attribute__((always_inline)) int op_free(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__FreeRequest *m = msg;
	uint64_t addr = m->addr;
	struct vm_area_info info;
	bool found;
	int r;

	if ((r = area_for(x, addr, &info, &found, "free")) < 0)
		return r;
	r = vm_vfree(x->e, addr);
	if (r < 0)
		return fail(x, r, "free 0x%llx: %s", (unsigned long long)addr,
			    !found ? "no area there" :
			    info.addr != addr ? "not the start of an area" :
			    (info.flags & VM_MAP) ? "a vmap area (use vunmap)" :
			    (info.flags & VM_PAGE_ARRAY) ? "the page array of another area (freed with it)" :
			    (info.flags & VM_PERCPU) ? "the per-CPU allocator's (use free_percpu)" :
			    (info.flags & VM_KVFREE_RCU) ? "waiting for kvfree_rcu's grace period" :
			    "refused");
	if (found) {
		account_uncharge(&x->dp->acct, info.uid, info.nr_pages + info.nr_array_pages);
		count_area(x, info.uid, -1);
	}
	return 0;
}

static int op_realloc(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__ReallocRequest *q = msg;
	struct vm_area_info info = { 0 };
	uint64_t naddr = 0, new_pages, delta = 0, quota, old_pages, pt_before;
	uint32_t owner = x->s->uid;
	bool found = false;
	int r;

	if ((r = check_caller(x, q->caller)) < 0)
		return r;
	if (q->addr) {
		if ((r = area_for(x, q->addr, &info, &found, "realloc")) < 0)
			return r;
		if (!found || info.addr != q->addr || !(info.flags & VM_ALLOC))
			return fail(x, -EINVAL, "realloc 0x%llx: not the start of a vmalloc area",
				    (unsigned long long)q->addr);
		owner = info.uid;
	}
	new_pages = q->size && q->size <= UINT64_MAX - (VM_PAGE_SIZE - 1) ?
		PAGE_ALIGN(q->size) >> VM_PAGE_SHIFT : 0;
	/* A move makes the new area (and its page array) before it frees
	 * the old: the growth is charged. */
	old_pages = info.nr_pages + info.nr_array_pages;
	if (new_pages > info.nr_pages)
		delta = new_pages + vm_page_array_pages(x->e, new_pages) - old_pages;
	if (!q->addr && q->size && (r = area_room(x, owner, "realloc")) < 0)
		return r;
	quota = options_quota(x->dp->opt, owner);
	if (delta && (r = account_charge(&x->dp->acct, owner, delta, quota)) < 0)
		return fail(x, r, "realloc to %llu bytes: %s of uid %u", (unsigned long long)q->size,
			    r == -EDQUOT ? "over the quota" : "accounting", owner);
	/* The new area keeps the old one's owner and scope. */
	if (found) {
		vm_set_current(x->e, info.uid, info.pid, info.cookie,
			       q->caller && *q->caller ? q->caller : info.caller);
		set_cpu(x);
	} else {
		set_current(x, x->s->pid, q->caller);
	}
	vm_set_current_flags(x->e, found ? (info.flags & VM_SCOPED) : 0);
	pt_before = vm_pagetable_pages(x->e);
	r = vm_vrealloc(x->e, q->addr, q->size, q->gfp, &naddr);
	vm_set_current_flags(x->e, 0);
	charge_tables(x, owner, pt_before);
	if (r < 0) {
		account_uncharge(&x->dp->acct, owner, delta);
		return fail(x, r, "realloc 0x%llx to %llu bytes", (unsigned long long)q->addr,
			    (unsigned long long)q->size);
	}
	if (!q->size && found) {
		account_uncharge(&x->dp->acct, owner, old_pages);
		count_area(x, owner, -1);
	}
	if (!q->addr && naddr)
		count_area(x, owner, 1);
	return result_addr(x, naddr);
}

static int op_vmap(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__VmapRequest *q = msg;
	struct vm_area_info info;
	uint64_t addr, kva, pt_before;
	uint32_t pid, uid = x->s->uid;
	int r;

	if ((r = check_caller(x, q->caller)) < 0 || (r = check_vm_flags(x, "vmap", q->flags)) < 0 ||
	    (r = allocating_pid(x, "vmap", q->parent_pid, &pid)) < 0 ||
	    (r = area_room(x, x->s->uid, "vmap")) < 0)
		return r;
	if (!q->n_pfns)
		return fail(x, -EINVAL, "vmap of no pages");
	for (size_t i = 0; i < q->n_pfns; i++) {
		struct page_block *b = account_find_block(&x->dp->acct, q->pfns[i]);

		if (!b)
			return fail(x, -EINVAL, "vmap: pfn 0x%llx is not from alloc_pages",
				    (unsigned long long)q->pfns[i]);
		if (!may_touch(x->s, b->uid))
			return fail(x, -EPERM, "vmap: pfn 0x%llx belongs to uid %u",
				    (unsigned long long)q->pfns[i], b->uid);
		/* A scoped block is freed when its connection closes, after
		 * that connection's scoped areas: only those may map it, or
		 * the block could not go (-EBUSY) and would outlive its scope. */
		if (b->scoped && (!q->scoped || b->cookie != x->s->id))
			return fail(x, -EINVAL, "vmap: pfn 0x%llx is in a scoped block: only a scoped "
				    "vmap on its own connection may map it",
				    (unsigned long long)q->pfns[i]);
	}
	/* The KVA it takes counts against the quota: the pages and the guard
	 * (6.18 keeps the guard whatever the flags; fixed up below). */
	kva = q->n_pfns + 1;
	r = account_charge_kva(&x->dp->acct, uid, kva, options_quota(x->dp->opt, uid));
	if (r < 0)
		return fail(x, r, "vmap of %zu pages: %s of uid %u (%llu pages in use)", q->n_pfns,
			    r == -EDQUOT ? "over the quota" : "accounting", uid,
			    (unsigned long long)account_used(&x->dp->acct, uid));
	set_current(x, pid, q->caller);
	vm_set_current_flags(x->e, q->scoped ? VM_SCOPED : 0);
	pt_before = vm_pagetable_pages(x->e);
	r = vm_vmap(x->e, q->pfns, q->n_pfns, q->flags, q->prot ? q->prot : PAGE_KERNEL, &addr);
	vm_set_current_flags(x->e, 0);
	charge_tables(x, uid, pt_before);
	if (r < 0) {
		account_uncharge_kva(&x->dp->acct, uid, kva);
		return fail(x, r, "vmap of %zu pages", q->n_pfns);
	}
	if (vm_find_vm_area(x->e, addr, &info) == 0 && (info.size >> VM_PAGE_SHIFT) != kva) {
		account_uncharge_kva(&x->dp->acct, uid, kva);
		(void)account_charge_kva(&x->dp->acct, uid, info.size >> VM_PAGE_SHIFT, 0);
	}
	if (q->scoped)
		x->s->nr_scoped++;
	count_area(x, uid, 1);
	return result_addr(x, addr);
}

static int op_vunmap(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__VunmapRequest *m = msg;
	uint64_t addr = m->addr;
	struct vm_area_info info;
	bool found;
	int r;

	if ((r = area_for(x, addr, &info, &found, "vunmap")) < 0)
		return r;
	r = vm_vunmap(x->e, addr);
	if (r < 0)
		return fail(x, r, "vunmap 0x%llx", (unsigned long long)addr);
	if (found) {
		account_uncharge_kva(&x->dp->acct, info.uid, info.size >> VM_PAGE_SHIFT);
		count_area(x, info.uid, -1);
	}
	return 0;
}

static int op_alloc_pages(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__AllocPagesRequest *q = msg;
	Vmallocd__V1__AllocPagesReply *pr = &x->result.alloc_pages;
	uint32_t uid = x->s->uid, pid;
	struct page_block b;
	uint64_t pfn, n;
	int r;

	if (q->order > VM_MAX_PAGE_ORDER)
		return fail(x, -EINVAL, "alloc_pages: order %u over %d", q->order, VM_MAX_PAGE_ORDER);
	if ((r = allocating_pid(x, "alloc_pages", q->parent_pid, &pid)) < 0)
		return r;
	n = 1ull << q->order;
	r = account_charge(&x->dp->acct, uid, n, options_quota(x->dp->opt, uid));
	if (r < 0)
		return fail(x, r, "alloc_pages order %u: %s of uid %u", q->order,
			    r == -EDQUOT ? "over the quota" : "accounting", uid);
	r = vm_alloc_pages(x->e, q->gfp, q->order, q->node, &pfn);
	if (r < 0) {
		account_uncharge(&x->dp->acct, uid, n);
		return fail(x, r, "alloc_pages order %u", q->order);
	}
	b = (struct page_block){ .pfn = pfn, .uid = uid, .pid = pid, .cookie = x->s->id,
				 .order = (uint8_t)q->order, .scoped = q->scoped };
	r = account_add_block(&x->dp->acct, &b);
	if (r < 0) {
		vm_free_pages(x->e, pfn, q->order);
		account_uncharge(&x->dp->acct, uid, n);
		return fail(x, r, "alloc_pages order %u", q->order);
	}
	if (q->scoped)
		x->s->nr_scoped++;
	*pr = (Vmallocd__V1__AllocPagesReply)VMALLOCD__V1__ALLOC_PAGES_REPLY__INIT;
	pr->pfn = pfn;
	return 0;
}

static int op_free_pages(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__FreePagesRequest *m = msg;
	uint64_t pfn = m->pfn;
	uint32_t order = m->order;
	struct page_block *b = account_get_block(&x->dp->acct, pfn);
	uint32_t owner;
	int r;

	if (!b)
		return fail(x, -EINVAL, "free_pages 0x%llx: not a block from alloc_pages",
			    (unsigned long long)pfn);
	if (!may_touch(x->s, b->uid))
		return fail(x, -EPERM, "free_pages 0x%llx: block of uid %u", (unsigned long long)pfn,
			    b->uid);
	owner = b->uid;
	r = vm_free_pages(x->e, pfn, order);
	if (r < 0)
		return fail(x, r, "free_pages 0x%llx order %u%s", (unsigned long long)pfn, order,
			    r == -EBUSY ? " (still vmapped)" : "");
	account_uncharge(&x->dp->acct, owner, 1ull << order);
	account_del_block(&x->dp->acct, b);
	return 0;
}

/* ---- vm_map_ram, per-CPU objects, kvfree_rcu ------------------------------------------------ */

static int op_vm_map_ram(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__VmMapRamRequest *q = msg;
	struct vmd_object o;
	uint64_t addr, pt_before;
	uint32_t pid, uid = x->s->uid;
	int r;

	if ((r = allocating_pid(x, "vm_map_ram", q->parent_pid, &pid)) < 0 ||
	    (r = area_room(x, uid, "vm_map_ram")) < 0)
		return r;
	if (!q->n_pfns)
		return fail(x, -EINVAL, "vm_map_ram of no pages");
	/* The frames: as for vmap, alloc_pages blocks of the caller's, and
	 * scoped ones only by a scoped mapping of their own connection. */
	for (size_t i = 0; i < q->n_pfns; i++) {
		struct page_block *b = account_find_block(&x->dp->acct, q->pfns[i]);

		if (!b)
			return fail(x, -EINVAL, "vm_map_ram: pfn 0x%llx is not from alloc_pages",
				    (unsigned long long)q->pfns[i]);
		if (!may_touch(x->s, b->uid))
			return fail(x, -EPERM, "vm_map_ram: pfn 0x%llx belongs to uid %u",
				    (unsigned long long)q->pfns[i], b->uid);
		if (b->scoped && (!q->scoped || b->cookie != x->s->id))
			return fail(x, -EINVAL, "vm_map_ram: pfn 0x%llx is in a scoped block: only a "
				    "scoped mapping on its own connection may map it",
				    (unsigned long long)q->pfns[i]);
	}
	/* The KVA it spans counts against the quota as a vmap's does (no
	 * guard page: vmap blocks and vm_map_ram's own ranges have none). */
	r = account_charge_kva(&x->dp->acct, uid, q->n_pfns, options_quota(x->dp->opt, uid));
	if (r < 0)
		return fail(x, r, "vm_map_ram of %zu pages: %s of uid %u (%llu pages in use)",
			    q->n_pfns, r == -EDQUOT ? "over the quota" : "accounting", uid,
			    (unsigned long long)account_used(&x->dp->acct, uid));
	set_current(x, pid, NULL);
	pt_before = vm_pagetable_pages(x->e);
	r = vm_map_ram(x->e, q->pfns, q->n_pfns, q->node, &addr);
	charge_tables(x, uid, pt_before);
	if (r < 0) {
		account_uncharge_kva(&x->dp->acct, uid, q->n_pfns);
		return fail(x, r, "vm_map_ram of %zu pages%s", q->n_pfns,
			    r == -EINVAL ? ": bad node" : r == -EBUSY ? ": a frame is mapped too often" :
			    "");
	}
	o = (struct vmd_object){ .addr = addr, .count = q->n_pfns, .charged = q->n_pfns,
				 .cookie = x->s->id, .uid = uid, .pid = pid, .kind = VMD_OBJ_MAP_RAM,
				 .scoped = q->scoped };
	if (objects_add(&x->dp->objs, &o) < 0) {
		vm_unmap_ram(x->e, addr, q->n_pfns);
		account_uncharge_kva(&x->dp->acct, uid, q->n_pfns);
		return fail(x, -ENOMEM, "vm_map_ram of %zu pages", q->n_pfns);
	}
	if (q->scoped)
		x->s->nr_scoped++;
	count_area(x, uid, 1);
	return result_addr(x, addr);
}

static int op_vm_unmap_ram(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__VmUnmapRamRequest *m = msg;
	uint64_t addr = m->addr, count = m->count;
	struct vmd_object *o = objects_get(&x->dp->objs, addr, VMD_OBJ_MAP_RAM);
	int r;

	if (!o)
		return fail(x, -EINVAL, "vm_unmap_ram 0x%llx: not the start of a vm_map_ram mapping",
			    (unsigned long long)addr);
	if (!may_touch(x->s, o->uid))
		return fail(x, -EPERM, "vm_unmap_ram 0x%llx: mapping of uid %u",
			    (unsigned long long)addr, o->uid);
	if (o->count != count)
		return fail(x, -EINVAL, "vm_unmap_ram 0x%llx of %llu pages: it maps %llu",
			    (unsigned long long)addr, (unsigned long long)count,
			    (unsigned long long)o->count);
	set_cpu(x);
	r = vm_unmap_ram(x->e, addr, count);
	if (r < 0)
		return fail(x, r, "vm_unmap_ram 0x%llx", (unsigned long long)addr);
	account_uncharge_kva(&x->dp->acct, o->uid, o->charged);
	count_area(x, o->uid, -1);
	objects_del(&x->dp->objs, o);
	return 0;
}

/* A per-CPU object is charged the pages it spans in every CPU's unit. */
static uint64_t percpu_charge(struct ctx *x, uint64_t ptr, uint64_t size)
{
	return (((ptr & (VM_PAGE_SIZE - 1)) + size + VM_PAGE_SIZE - 1) >> VM_PAGE_SHIFT) *
	       x->dp->opt->cpus;
}

static int op_alloc_percpu(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__AllocPercpuRequest *q = msg;
	uint32_t uid = x->s->uid, pid;
	struct vmd_object o;
	uint64_t ptr, pages, pt_before;
	int r;

	if ((r = allocating_pid(x, "alloc_percpu", q->parent_pid, &pid)) < 0 ||
	    (r = area_room(x, uid, "alloc_percpu")) < 0)
		return r;
	if (!q->size || q->size > 32768 || q->align > VM_PAGE_SIZE || (q->align & (q->align - 1)))
		return fail(x, -EINVAL, "alloc_percpu of %llu bytes aligned to %llu: sizes 1..32768, "
			    "alignments a power of two up to 4096", (unsigned long long)q->size,
			    (unsigned long long)q->align);
	set_current(x, pid, NULL);
	/* A new chunk's page tables go to the uid whose object made it. */
	pt_before = vm_pagetable_pages(x->e);
	r = vm_alloc_percpu(x->e, q->size, q->align, &ptr);
	charge_tables(x, uid, pt_before);
	if (r < 0)
		return fail(x, r, "alloc_percpu of %llu bytes", (unsigned long long)q->size);
	pages = percpu_charge(x, ptr, q->size);
	r = account_charge(&x->dp->acct, uid, pages, options_quota(x->dp->opt, uid));
	if (r == 0) {
		o = (struct vmd_object){ .addr = ptr, .count = q->size, .charged = pages,
					 .cookie = x->s->id, .uid = uid, .pid = pid,
					 .kind = VMD_OBJ_PERCPU, .scoped = q->scoped };
		r = objects_add(&x->dp->objs, &o);
		if (r < 0)
			account_uncharge(&x->dp->acct, uid, pages);
	}
	if (r < 0) {
		vm_free_percpu(x->e, ptr);
		return fail(x, r, "alloc_percpu of %llu bytes: %s of uid %u", (unsigned long long)q->size,
			    r == -EDQUOT ? "over the quota" : "accounting", uid);
	}
	if (q->scoped)
		x->s->nr_scoped++;
	count_area(x, uid, 1);
	return result_addr(x, ptr);
}

static int op_free_percpu(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__FreePercpuRequest *m = msg;
	uint64_t ptr = m->ptr;
	struct vmd_object *o;
	int r;

	if (!ptr)
		return 0;
	o = objects_get(&x->dp->objs, ptr, VMD_OBJ_PERCPU);
	if (!o)
		return fail(x, -EINVAL, "free_percpu 0x%llx: not a per-CPU object",
			    (unsigned long long)ptr);
	if (!may_touch(x->s, o->uid))
		return fail(x, -EPERM, "free_percpu 0x%llx: object of uid %u", (unsigned long long)ptr,
			    o->uid);
	set_cpu(x);
	r = vm_free_percpu(x->e, ptr);
	if (r < 0)
		return fail(x, r, "free_percpu 0x%llx", (unsigned long long)ptr);
	account_uncharge(&x->dp->acct, o->uid, o->charged);
	count_area(x, o->uid, -1);
	objects_del(&x->dp->objs, o);
	return 0;
}

/* The area goes after a grace period; its pages are no longer the owner's
 * to spend from now on: the quota is given back at once. */
static int op_kvfree_rcu(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__KvfreeRcuRequest *m = msg;
	uint64_t addr = m->addr;
	struct vm_area_info info;
	bool found;
	int r;

	if ((r = area_for(x, addr, &info, &found, "kvfree_rcu")) < 0)
		return r;
	set_cpu(x);
	r = vm_kvfree_rcu(x->e, addr, m->head);
	if (r == -EOPNOTSUPP)
		return fail(x, r, "kvfree_rcu: Linux %s has none (5.9 and later)",
			    vm_kernel_name(x->dp->opt->kernel));
	if (r < 0)
		return fail(x, r, "kvfree_rcu 0x%llx: %s", (unsigned long long)addr,
			    !found ? "no area there" :
			    info.addr != addr ? "not the start of an area" :
			    (info.flags & VM_KVFREE_RCU) ? "already waiting for a grace period" :
			    !(info.flags & VM_ALLOC) || (info.flags & (VM_PAGE_ARRAY | VM_PERCPU)) ?
			    "not a vmalloc area of its own" : "refused");
	if (found) {
		account_uncharge(&x->dp->acct, info.uid, info.nr_pages + info.nr_array_pages);
		count_area(x, info.uid, -1);
	}
	return 0;
}

/* ---- data ------------------------------------------------------------------------------ */

/* The session's scratch buffer, at least len bytes: 0 or -ENOMEM. */
static int scratch_reserve(struct session *s, uint64_t len)
{
	uint8_t *p;

	if (len > SESSION_KEEP)
		s->big_pass = true;
	if (len <= s->scratch_cap)
		return 0;
	p = realloc(s->scratch, len);
	if (!p)
		return -ENOMEM;
	s->scratch = p;
	s->scratch_cap = len;
	return 0;
}

static int result_data(struct ctx *x, uint64_t len)
{
	Vmallocd__V1__ReadReply *rr = &x->result.read;

	*rr = (Vmallocd__V1__ReadReply)VMALLOCD__V1__READ_REPLY__INIT;
	rr->data.data = x->s->scratch;
	rr->data.len = len;
	return 0;
}

static int op_read(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__ReadRequest *m = msg;
	uint64_t addr = m->addr, len = m->len;
	struct vm_area_info info;
	bool found;
	int r;

	if (len > VMD_MAX_IO)
		return fail(x, -EINVAL, "read of %llu bytes: at most %u per request",
			    (unsigned long long)len, VMD_MAX_IO);
	if ((r = area_for(x, addr, &info, &found, "read")) < 0)
		return r;
	if (scratch_reserve(x->s, len) < 0)
		return fail(x, -ENOMEM, "read of %llu bytes", (unsigned long long)len);
	r = vm_vread(x->e, addr, x->s->scratch, len);
	if (r < 0)
		return fail(x, r, "read 0x%llx+%llu", (unsigned long long)addr, (unsigned long long)len);
	return result_data(x, len);
}

static int op_write(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__WriteRequest *m = msg;
	uint64_t addr = m->addr;
	const ProtobufCBinaryData *data = &m->data;
	struct vm_area_info info;
	char why[480];
	bool found;
	int r;

	/* As for a read: the size limit first, then the owner, then the bounds. */
	if (data->len > VMD_MAX_IO)
		return fail(x, -EINVAL, "write of %zu bytes: at most %u per request", data->len,
			    VMD_MAX_IO);
	if ((r = area_for(x, addr, &info, &found, "write")) < 0)
		return r;
	r = vm_vwrite(x->e, addr, data->data, data->len);
	if (r < 0)
		return fail(x, r, "write 0x%llx+%zu%s", (unsigned long long)addr, data->len,
			    r == -ENOMEM ? host_full(x, (data->len >> VM_PAGE_SHIFT) + 2, why,
						     sizeof(why)) : "");
	return 0;
}

static int phys_block(struct ctx *x, uint64_t pfn, const char *what)
{
	struct page_block *b = account_get_block(&x->dp->acct, pfn);

	if (!b)
		return fail(x, -EINVAL, "%s 0x%llx: not a block from alloc_pages", what,
			    (unsigned long long)pfn);
	if (!may_touch(x->s, b->uid))
		return fail(x, -EPERM, "%s 0x%llx: block of uid %u", what, (unsigned long long)pfn,
			    b->uid);
	return 0;
}

static int op_phys_read(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__PhysReadRequest *q = msg;
	int r;

	if (q->len > VMD_MAX_IO)
		return fail(x, -EINVAL, "phys_read of %llu bytes: at most %u per request",
			    (unsigned long long)q->len, VMD_MAX_IO);
	if ((r = phys_block(x, q->pfn, "phys_read")) < 0)
		return r;
	if (scratch_reserve(x->s, q->len) < 0)
		return fail(x, -ENOMEM, "phys_read");
	r = vm_phys_read(x->e, q->pfn, q->offset, x->s->scratch, q->len);
	if (r < 0)
		return fail(x, r, "phys_read 0x%llx+%llu", (unsigned long long)q->pfn,
			    (unsigned long long)q->offset);
	return result_data(x, q->len);
}

static int op_phys_write(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__PhysWriteRequest *q = msg;
	char why[480];
	int r;

	if (q->data.len > VMD_MAX_IO)
		return fail(x, -EINVAL, "phys_write of %zu bytes: at most %u per request",
			    q->data.len, VMD_MAX_IO);
	if ((r = phys_block(x, q->pfn, "phys_write")) < 0)
		return r;
	r = vm_phys_write(x->e, q->pfn, q->offset, q->data.data, q->data.len);
	if (r < 0)
		return fail(x, r, "phys_write 0x%llx+%llu%s", (unsigned long long)q->pfn,
			    (unsigned long long)q->offset,
			    r == -ENOMEM ? host_full(x, (q->data.len >> VM_PAGE_SHIFT) + 2, why,
						     sizeof(why)) : "");
	return 0;
}

struct zone_find {
	uint64_t pfn;
	int node;
	const char *name;
};

static int find_zone(void *ctx, const struct vm_zone_info *z)
{
	struct zone_find *f = ctx;

	if (f->pfn >= z->start_pfn && f->pfn < z->end_pfn) {
		f->node = z->node;
		f->name = z->name;
		return 1;
	}
	return 0;
}

static int op_translate(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__TranslateRequest *m = msg;
	uint64_t addr = m->addr;
	Vmallocd__V1__TranslateReply *tr = &x->result.translate;
	struct vm_area_info info;
	struct zone_find f = { .node = -1, .name = "" };
	bool found;
	uint64_t pfn;
	int r;

	if ((r = area_for(x, addr, &info, &found, "translate")) < 0)
		return r;
	r = vm_vmalloc_to_pfn(x->e, addr, &pfn);
	if (r < 0)
		return fail(x, r, "translate 0x%llx: %s", (unsigned long long)addr,
			    r == -EINVAL ? "outside the vmalloc range" : "nothing mapped there");
	f.pfn = pfn;
	vm_for_each_zone(x->e, find_zone, &f);
	*tr = (Vmallocd__V1__TranslateReply)VMALLOCD__V1__TRANSLATE_REPLY__INIT;
	tr->pfn = pfn;
	tr->phys_addr = (pfn << VM_PAGE_SHIFT) | (addr & (VM_PAGE_SIZE - 1));
	tr->node = f.node;
	tr->zone = (char *)f.name;
	return 0;
}

/* ---- areas and queries -------------------------------------------------------------------- */

/* Leaked: the allocating process is gone.  The per-CPU allocator's areas
 * are the machine's, no process's, and one waiting for kvfree_rcu is
 * already freed as far as its owner goes. */
static bool area_leaked(const struct vm_area_info *info)
{
	return !(info->flags & (VM_PERCPU | VM_KVFREE_RCU)) && !pid_alive(info->pid);
}

static void fill_area(Vmallocd__V1__AreaInfo *a, const struct vm_area_info *info,
		      uint32_t *per_node, unsigned nr_nodes)
{
	vmallocd__v1__area_info__init(a);
	a->addr = info->addr;
	a->size = info->size;
	a->flags = info->flags & ~(VM_SCOPED | VM_PAGE_ARRAY | VM_PERCPU | VM_KVFREE_RCU);
	a->prot = info->prot;
	a->nr_pages = info->nr_pages;
	a->phys_addr = info->phys_addr;
	a->uid = info->uid;
	a->pid = info->pid;
	a->caller = (char *)(info->caller ? info->caller : "");
	memcpy(per_node, info->nr_per_node, nr_nodes * sizeof(*per_node));
	a->nr_per_node = per_node;
	a->n_nr_per_node = nr_nodes;
	a->scoped = (info->flags & VM_SCOPED) != 0;
	a->leaked = area_leaked(info);
}

static int op_area_info(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__AreaInfoRequest *m = msg;
	uint64_t addr = m->addr;
	Vmallocd__V1__AreaInfoReply *ar = &x->result.area_info;
	struct vm_area_info info;
	struct vm_stats s;

	if (vm_find_vm_area(x->e, addr, &info) < 0)
		return fail(x, -ENOENT, "info 0x%llx: no area there", (unsigned long long)addr);
	if (!may_touch(x->s, info.uid))
		return fail(x, -EPERM, "info 0x%llx: area of uid %u", (unsigned long long)addr, info.uid);
	vm_get_stats(x->e, &s);
	fill_area(&x->q.area, &info, x->q.per_node, s.nr_nodes);
	*ar = (Vmallocd__V1__AreaInfoReply)VMALLOCD__V1__AREA_INFO_REPLY__INIT;
	ar->area = &x->q.area;
	return 0;
}


static int collect_area(void *ctx, const struct vm_area_info *info)
{
	struct area_list *l = ctx;
	bool blank = false;

	if (l->min_size) {
		if (info->size < l->min_size || (info->flags & VM_PAGE_ARRAY))
			return 0;
		if (l->n == l->max)
			return 1;
		blank = !may_touch(l->s, info->uid);
	} else if (!may_touch(l->s, info->uid))
		return 0;
	/* A page array goes with its area: not a leak of its own, and
	 * freeing it by itself is refused. */
	if (l->leaks_only && ((info->flags & VM_PAGE_ARRAY) || !area_leaked(info)))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *v = realloc(l->v, cap * sizeof(*l->v));
		void *pn;

		if (!v) {
			l->err = -ENOMEM;
			return 1;
		}
		l->v = v;
		pn = realloc(l->per_node, cap * l->nr_nodes * sizeof(*l->per_node));
		if (!pn) {
			l->err = -ENOMEM;
			return 1;
		}
		l->per_node = pn;
		l->cap = cap;
	}
	/* per_node pointers are fixed up once the array stops moving. */
	fill_area(&l->v[l->n], info, l->per_node + l->n * l->nr_nodes, l->nr_nodes);
	if (blank) {
		l->v[l->n].caller = (char *)"";
		l->v[l->n].pid = 0;
	}
	l->n++;
	return 0;
}

static int collect_areas(struct ctx *x, bool leaks_only, uint64_t min_size,
			 struct area_list *l)
{
	struct vm_stats s;

	vm_get_stats(x->e, &s);
	memset(l, 0, sizeof(*l));
	l->s = x->s;
	l->leaks_only = leaks_only;
	l->min_size = min_size;
	l->max = 256;
	l->nr_nodes = s.nr_nodes;
	vm_for_each_area(x->e, collect_area, l);
	if (l->err)
		return l->err;
	l->ptrs = malloc((l->n ? l->n : 1) * sizeof(*l->ptrs));
	if (!l->ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		l->v[i].nr_per_node = l->per_node + i * l->nr_nodes;
		l->ptrs[i] = &l->v[i];
	}
	return 0;
}

static void area_list_free(struct area_list *l)
{
	free(l->v);
	free(l->ptrs);
	free(l->per_node);
}


static int count_zone(void *ctx, const struct vm_zone_info *z)
{
	(void)z;
	((struct zone_list *)ctx)->n++;
	return 0;
}

static int collect_zone(void *ctx, const struct vm_zone_info *z)
{
	struct zone_list *l = ctx;
	Vmallocd__V1__ZoneInfo *zi = &l->v[l->n];
	uint64_t *nf = l->nr_free + l->n * VM_NR_ORDERS;
	int32_t *ui = l->idx + l->n * 2 * VM_NR_ORDERS, *ei = ui + VM_NR_ORDERS;

	vmallocd__v1__zone_info__init(zi);
	zi->node = z->node;
	zi->name = (char *)z->name;
	zi->start_pfn = z->start_pfn;
	zi->end_pfn = z->end_pfn;
	zi->managed = z->managed;
	zi->free = z->free;
	zi->wmark_min = z->wmark_min;
	zi->wmark_low = z->wmark_low;
	zi->wmark_high = z->wmark_high;
	for (unsigned o = 0; o < VM_NR_ORDERS; o++) {
		nf[o] = z->nr_free[o];
		/* z is a live zone and o a valid order: neither call can fail. */
		vm_unusable_index(z, o, &ui[o]);
		vm_extfrag_index(z, o, &ei[o]);
	}
	zi->nr_free = nf;
	zi->n_nr_free = VM_NR_ORDERS;
	zi->unusable_index = ui;
	zi->n_unusable_index = VM_NR_ORDERS;
	zi->extfrag_index = ei;
	zi->n_extfrag_index = VM_NR_ORDERS;
	l->ptrs[l->n] = zi;
	l->n++;
	return 0;
}

static int collect_zones(struct vm_engine *e, struct zone_list *l)
{
	size_t n;

	memset(l, 0, sizeof(*l));
	vm_for_each_zone(e, count_zone, l);
	n = l->n ? l->n : 1;
	l->v = calloc(n, sizeof(*l->v));
	l->ptrs = calloc(n, sizeof(*l->ptrs));
	l->nr_free = calloc(n * VM_NR_ORDERS, sizeof(*l->nr_free));
	l->idx = calloc(n * 2 * VM_NR_ORDERS, sizeof(*l->idx));
	if (!l->v || !l->ptrs || !l->nr_free || !l->idx)
		return -ENOMEM;
	l->n = 0;
	vm_for_each_zone(e, collect_zone, l);
	return 0;
}

static void zone_list_free(struct zone_list *l)
{
	free(l->v);
	free(l->ptrs);
	free(l->nr_free);
	free(l->idx);
}

static int leak_text(struct area_list *l, char **text)
{
	size_t cap = 64 + l->n * 160, len = 0;
	char *t = malloc(cap);

	if (!t)
		return -ENOMEM;
	t[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		const Vmallocd__V1__AreaInfo *a = &l->v[i];
		int n = snprintf(t + len, cap - len, "0x%016llx-0x%016llx %7llu %s pages=%llu %s uid=%u pid=%u\n",
				 (unsigned long long)a->addr, (unsigned long long)(a->addr + a->size),
				 (unsigned long long)a->size, *a->caller ? a->caller : "-",
				 (unsigned long long)a->nr_pages,
				 (a->flags & VM_MAP) ? "vmap" : "vmalloc", a->uid, a->pid);

		if (n < 0 || (size_t)n >= cap - len)
			break;
		len += (size_t)n;
	}
	*text = t;
	return 0;
}


static void fill_stats(struct ctx *x, Vmallocd__V1__Stats *st)
{
	struct vm_stats s;

	vm_get_stats(x->e, &s);
	st->total_pages = s.total_pages;
	st->free_pages = s.free_pages;
	st->pagetable_pages = s.pagetable_pages;
	st->vmalloc_pages = s.vmalloc_pages;
	st->vmap_pages = s.vmap_pages;
	st->alloc_pages_pages = s.alloc_pages_pages;
	st->nr_areas = s.nr_areas;
	st->nr_lazy_areas = s.nr_lazy_areas;
	st->lazy_pages = s.lazy_pages;
	st->lazy_max_pages = s.lazy_max_pages;
	st->nr_purges = s.nr_purges;
	st->nr_tlb_flushes = s.nr_tlb_flushes;
	st->nr_alloc_failures = s.nr_alloc_failures;
	st->largest_free_kva = s.largest_free_kva;
	st->nr_nodes = s.nr_nodes;
	st->layout = (char *)vm_layout_name(s.layout);
	st->vmalloc_start = s.vmalloc_start;
	st->vmalloc_end = s.vmalloc_end;
	st->kernel = (char *)vm_kernel_name(s.kernel);
	st->nr_cpus = s.nr_cpus;
	st->nr_vmap_nodes = s.nr_vmap_nodes;
	st->nr_pooled_areas = s.nr_pooled_areas;
	st->pooled_pages = s.pooled_pages;
	st->work_pending = s.work_pending;
	st->work_delayed = s.work_delayed;
	st->nr_vmap_blocks = s.nr_vmap_blocks;
	st->vmap_block_pages = s.vmap_block_pages;
	st->map_ram_pages = s.map_ram_pages;
	st->nr_pcpu_chunks = s.nr_pcpu_chunks;
	st->nr_pcpu_objects = s.nr_pcpu_objects;
	st->pcpu_unit_size = s.pcpu_unit_size;
	st->percpu_pages = s.percpu_pages;
	st->nr_kvfree_rcu = s.nr_kvfree_rcu;
	st->resident_pages = s.resident_pages;
	st->max_resident_pages = s.max_resident_pages;
	st->clients = x->env->clients;
	st->requests = x->dp->nr_requests;
	st->uptime_ms = (x->env->now_usec - x->dp->start_usec) / 1000;
	st->connections_total = x->env->connections_total;
	st->errors = x->dp->nr_errors;
	st->your_pages = account_pages(&x->dp->acct, x->s->uid);
	st->your_quota = options_quota(x->dp->opt, x->s->uid);
}

/* QUERY_MAP: both maps, the zones, and the areas wide enough to label. */
static int query_map(struct ctx *x, const Vmallocd__V1__MapRequest *m)
{
	Vmallocd__V1__MemoryMap *mp = &x->q.map;
	struct memmap_req rq = { 0 };
	struct memmap *mm = &x->q.mm;
	int r;

	if (m) {
		rq = (struct memmap_req){ m->start_pfn, m->end_pfn, m->max_cells,
					  m->kva_start, m->kva_end, m->kva_bins };
	}
	r = memmap_take(x->e, &rq, mm);
	if (r == -E2BIG)
		return fail(x, r, "map: at most %u cells and %u bins", MEMMAP_MAX_CELLS,
			    MEMMAP_MAX_BINS);
	if (r < 0)
		return fail(x, r, "map: pfns %llu-%llu, KVA 0x%llx-0x%llx",
			    (unsigned long long)rq.start_pfn, (unsigned long long)rq.end_pfn,
			    (unsigned long long)rq.kva_start, (unsigned long long)rq.kva_end);
	*mp = (Vmallocd__V1__MemoryMap)VMALLOCD__V1__MEMORY_MAP__INIT;
	mp->start_pfn = mm->start_pfn;
	mp->end_pfn = mm->end_pfn;
	mp->frames_per_cell = mm->fpc;
	mp->frame_class = (ProtobufCBinaryData){ mm->ncells, mm->fclass };
	mp->frame_free = (ProtobufCBinaryData){ mm->ncells, mm->ffree };
	mp->kva_start = mm->kva_start;
	mp->kva_end = mm->kva_end;
	mp->kva_class = (ProtobufCBinaryData){ mm->nbins, mm->kclass };
	mp->kva_busy = (ProtobufCBinaryData){ mm->nbins, mm->kbusy };
	r = collect_zones(x->e, &x->q.zl);
	if (r == 0)
		r = collect_areas(x, false, (mm->kva_end - mm->kva_start) / mm->nbins * 8 + 1,
				  &x->q.al);
	if (r < 0)
		return fail(x, r, "map");
	mp->zones = x->q.zl.ptrs;
	mp->n_zones = x->q.zl.n;
	mp->areas = x->q.al.ptrs;
	mp->n_areas = x->q.al.n;
	return 0;
}

/* Queries are rare and may be big: what they allocate is in x->q, freed by
 * query_done() once the reply is packed. */
static int op_query(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__QueryRequest *q = msg;
	Vmallocd__V1__QueryReply *qr = &x->result.query;
	int kind = (int)q->kind, r = 0;
	size_t len = 0;

	memset(&x->q.al, 0, sizeof(x->q.al));
	memset(&x->q.zl, 0, sizeof(x->q.zl));
	memset(&x->q.mm, 0, sizeof(x->q.mm));
	x->q.text = NULL;
	*qr = (Vmallocd__V1__QueryReply)VMALLOCD__V1__QUERY_REPLY__INIT;
	if (kind == VMALLOCD__V1__QUERY_KIND__QUERY_KIND_UNSPECIFIED &&
	    (r = unspecified_kind(x, "query", VMALLOCD__V1__QUERY_KIND__QUERY_VMALLOCINFO, &kind)) < 0)
		return r;
	switch (kind) {
	case VMALLOCD__V1__QUERY_KIND__QUERY_VMALLOCINFO:
		r = vm_show_vmallocinfo(x->e, x->s->uid != 0, x->s->uid, &x->q.text, &len);
		if (r == 0)
			r = collect_areas(x, false, 0, &x->q.al);
		qr->areas = x->q.al.ptrs;
		qr->n_areas = x->q.al.n;
		break;
	case VMALLOCD__V1__QUERY_KIND__QUERY_MEMINFO: {
		/* The values of the text, as the machine's kernel computes them. */
		Vmallocd__V1__MemInfo *mi = &x->q.mi;
		struct vm_meminfo m;

		r = vm_show_meminfo(x->e, &x->q.text, &len);
		vm_get_meminfo(x->e, &m);
		*mi = (Vmallocd__V1__MemInfo)VMALLOCD__V1__MEM_INFO__INIT;
		mi->mem_total = m.mem_total;
		mi->mem_free = m.mem_free;
		mi->high_total = m.high_total;
		mi->high_free = m.high_free;
		mi->low_total = m.has_highmem ? m.low_total : m.mem_total;
		mi->low_free = m.has_highmem ? m.low_free : m.mem_free;
		mi->page_tables = m.page_tables;
		mi->vmalloc_total = m.vmalloc_total;
		mi->vmalloc_used = m.vmalloc_used;
		mi->vmalloc_chunk = m.vmalloc_chunk;
		qr->meminfo = mi;
		break;
	}
	case VMALLOCD__V1__QUERY_KIND__QUERY_BUDDYINFO:
		r = vm_show_buddyinfo(x->e, &x->q.text, &len);
		if (r == 0)
			r = collect_zones(x->e, &x->q.zl);
		qr->zones = x->q.zl.ptrs;
		qr->n_zones = x->q.zl.n;
		break;
	case VMALLOCD__V1__QUERY_KIND__QUERY_FRAG:
		r = vm_show_unusable_index(x->e, &x->q.text, &len);
		if (r == 0)
			r = vm_show_extfrag_index(x->e, &x->q.text, &len);
		if (r == 0)
			r = collect_zones(x->e, &x->q.zl);
		qr->zones = x->q.zl.ptrs;
		qr->n_zones = x->q.zl.n;
		break;
	case VMALLOCD__V1__QUERY_KIND__QUERY_STAT:
		/* Numbers only: libvmclient renders VMC_STAT's text. */
		x->q.st = (Vmallocd__V1__Stats)VMALLOCD__V1__STATS__INIT;
		fill_stats(x, &x->q.st);
		qr->stats = &x->q.st;
		break;
	case VMALLOCD__V1__QUERY_KIND__QUERY_MAP:
		r = query_map(x, q->map);
		if (r < 0)
			return r;
		qr->map = &x->q.map;
		break;
	case VMALLOCD__V1__QUERY_KIND__QUERY_LEAKS:
		r = collect_areas(x, true, 0, &x->q.al);
		if (r == 0)
			r = leak_text(&x->q.al, &x->q.text);
		qr->areas = x->q.al.ptrs;
		qr->n_areas = x->q.al.n;
		break;
	default:
		return fail(x, -EINVAL, "unknown query kind %d", kind);
	}
	if (r < 0)
		return fail(x, r, "query");
	qr->text = x->q.text ? x->q.text : (char *)"";
	return 0;
}

static void query_done(struct ctx *x)
{
	free(x->q.text);
	area_list_free(&x->q.al);
	zone_list_free(&x->q.zl);
	memmap_free(&x->q.mm);
}

/* ---- the session ------------------------------------------------------------------------- */

static int op_hello(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__HelloRequest *m = msg;
	Vmallocd__V1__HelloReply *h = &x->result.hello;
	const struct vm_test_vmalloc_desc *tvd;
	int r;

	if ((r = check_hello(x, m)) < 0)
		return r;
	*h = (Vmallocd__V1__HelloReply)VMALLOCD__V1__HELLO_REPLY__INIT;
	h->version = conn_version(x->s);
	h->server = (char *)"vmallocd " VMALLOCD_VERSION;
	h->max_frame = x->dp->opt->max_frame;
	h->max_io = VMD_MAX_IO;
	h->uid = x->s->uid;
	h->pid = x->s->pid;
	h->kernel = (char *)vm_kernel_name(x->dp->opt->kernel);
	h->cpus = x->dp->opt->cpus;
	h->boot_id = x->dp->boot_id;
	h->state_generation = x->dp->state_generation;
	if ((tvd = vm_kernel_test_vmalloc(x->dp->opt->kernel))) {
		x->q.tv = (Vmallocd__V1__TestVmalloc)VMALLOCD__V1__TEST_VMALLOC__INIT;
		x->q.tv.cases = tvd->cases;
		x->q.tv.default_mask = tvd->default_mask;
		x->q.tv.xfail = tvd->xfail;
		x->q.tv.summary_xfailed = tvd->summary_xfailed;
		h->test_vmalloc = &x->q.tv;
	}
	return 0;
}

/* The checker's own message, without an errno string after it. */
static int op_check(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__CheckRequest *m = msg;
	int r;

	(void)m;
	/* The checker walks every frame and area: seconds on a large
	 * machine, the loop held all along.  Only root may stop everyone. */
	if (x->s->uid != 0)
		return fail(x, -EPERM, "check: root only (it holds the daemon for the whole walk)");
	r = vm_check(x->e, x->msg, sizeof(x->msg));
	if (r < 0) {
		x->reply.status = r;
		x->reply.message = x->msg;
		vmd_log(VM_LOG_ERR, "invariant check failed: %s", x->msg);
	}
	return r;
}

static int op_purge(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__PurgeRequest *m = msg;
	(void)m;
	if (x->s->uid != 0)
		return fail(x, -EPERM, "purge: root only");
	vm_purge(x->e);
	return 0;
}

/* The machine as one stream (state.c makes it, at offset 0), read in
 * chunks; the session holds it until it is read to the end or closes. */
static int op_snapshot(struct ctx *x, const void *msg)
{
	const Vmallocd__V1__SnapshotRequest *m = msg;
	struct session *s = x->s;
	uint64_t len;
	ssize_t n;
	int r;

	if (s->uid != 0)
		return fail(x, -EPERM, "snapshot: root only (the whole machine, every owner's bytes)");
	if (m->offset == 0) {
		if (s->snap_fd >= 0)
			close(s->snap_fd);
		s->snap_fd = -1;
		r = state_snapshot(x->dp, &s->snap_fd, &s->snap_len);
		if (r < 0)
			return fail(x, r, "snapshot");
	}
	if (s->snap_fd < 0)
		return fail(x, -EINVAL, "snapshot: offset %llu without a snapshot taken (offset 0 "
			    "takes one)", (unsigned long long)m->offset);
	if (m->offset > s->snap_len)
		return fail(x, -EINVAL, "snapshot: offset %llu is past its end (%llu bytes)",
			    (unsigned long long)m->offset, (unsigned long long)s->snap_len);
	len = s->snap_len - m->offset;
	if (len > m->length)
		len = m->length;
	if (len > VMD_MAX_IO)
		len = VMD_MAX_IO;
	if (scratch_reserve(s, len) < 0)
		return fail(x, -ENOMEM, "snapshot: %llu bytes", (unsigned long long)len);
	n = pread(s->snap_fd, s->scratch, len, (off_t)m->offset);
	if (n < 0 || (uint64_t)n != len)
		return fail(x, n < 0 ? -errno : -EIO, "snapshot: reading it back");
	if (m->offset + len == s->snap_len) {
		close(s->snap_fd);
		s->snap_fd = -1;
	}
	return result_data(x, len);
}

/* ---- scoped release ------------------------------------------------------------------------ */

#define SCOPED_BATCH 64

struct scoped_list {
	uint64_t cookie;
	bool every;                /* any cookie */
	struct vm_area_info *v;
	size_t n, cap;
	bool truncated;            /* more were there than v could take */
	struct vm_area_info first[SCOPED_BATCH];
};

static int collect_scoped(void *ctx, const struct vm_area_info *info)
{
	struct scoped_list *l = ctx;

	if ((!l->every && info->cookie != l->cookie) || !(info->flags & VM_SCOPED))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap * 2;
		struct vm_area_info *p = l->v == l->first ? malloc(cap * sizeof(*p)) :
			realloc(l->v, cap * sizeof(*p));

		if (!p) {
			l->truncated = true;
			return 1;
		}
		if (l->v == l->first)
			memcpy(p, l->first, sizeof(l->first));
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n++] = *info;
	return 0;
}

/* The scoped areas, objects and blocks of session s, or with every of all
 * sessions. */
static void release_scoped(struct dispatch *dp, const struct session *s, bool every)
{
	struct account *a = &dp->acct;
	size_t total = 0;
	bool more = true;

	/* Areas first: a scoped vmap may pin scoped blocks.  The engine cannot
	 * free while we walk it, so collect, then free.  The list starts on
	 * the stack; if it cannot grow (out of memory), free what it holds and
	 * walk again: each pass frees at least SCOPED_BATCH areas, and none of
	 * them is ever left behind. */
	while (more) {
		struct scoped_list l = { .cookie = s->id, .every = every, .cap = SCOPED_BATCH };
		size_t freed = 0;

		l.v = l.first;
		vm_for_each_area(dp->engine, collect_scoped, &l);
		for (size_t i = 0; i < l.n; i++) {
			struct uid_account *u = account_uid(a, l.v[i].uid);

			if (l.v[i].flags & VM_ALLOC) {
				if (vm_vfree(dp->engine, l.v[i].addr) == 0) {
					account_uncharge(a, l.v[i].uid,
							 l.v[i].nr_pages + l.v[i].nr_array_pages);
					freed++;
					if (u && u->areas)
						u->areas--;
				}
			} else if (vm_vunmap(dp->engine, l.v[i].addr) == 0) {
				account_uncharge_kva(a, l.v[i].uid, l.v[i].size >> VM_PAGE_SHIFT);
				freed++;
				if (u && u->areas)
					u->areas--;
			}
		}
		if (l.v != l.first)
			free(l.v);
		total += freed;
		more = l.truncated && freed;
	}
	/* Then the vm_map_ram mappings (they pin the blocks) and per-CPU
	 * objects of the session. */
	for (size_t i = 0; i < dp->objs.cap; i++) {
		struct vmd_object *o = &dp->objs.v[i];
		int r;

		if (o->addr == UINT64_MAX || o->tomb || (!every && o->cookie != s->id) || !o->scoped)
			continue;
		if (o->kind == VMD_OBJ_MAP_RAM) {
			r = vm_unmap_ram(dp->engine, o->addr, o->count);
			if (r == 0)
				account_uncharge_kva(a, o->uid, o->charged);
		} else {
			r = vm_free_percpu(dp->engine, o->addr);
			if (r == 0)
				account_uncharge(a, o->uid, o->charged);
		}
		if (r == 0) {
			struct uid_account *u = account_uid(a, o->uid);

			if (u && u->areas)
				u->areas--;
			objects_del(&dp->objs, o);
			total++;
		}
	}
	for (struct page_block *b = account_first_block(a); b; b = account_next_block(a, b)) {
		if ((!every && b->cookie != s->id) || !b->scoped)
			continue;
		if (vm_free_pages(dp->engine, b->pfn, b->order) == 0) {
			account_uncharge(a, b->uid, 1ull << b->order);
			account_del_block(a, b);
		}
	}
	if (total)
		vmd_log(VM_LOG_DEBUG, "connection %llu: freed %zu scoped areas",
			(unsigned long long)s->id, total);
}


/* Work that is due runs, journaled first when it changes the machine. */
static void run_due_work(struct dispatch *dp)
{
	struct dispatch_inputs in = { 0 };

	if (!vm_work_pending(dp->engine))
		return;
	if (dp->journal && state_journal(dp->journal, dp, JREC_WORK_DUE, &in, NULL, 0) < 0)
		return;   /* it runs with the next allocator call, journaled with it */
	vm_run_due_work(dp->engine);
}

void session_trim(struct session *s)
{
	/* A connection that keeps sending large requests keeps its buffers;
	 * one pass without any gives them back. */
	if (s->big_pass) {
		s->big_pass = false;
		return;
	}
	if (s->scratch_cap > SESSION_KEEP) {
		free(s->scratch);
		s->scratch = NULL;
		s->scratch_cap = 0;
	}
	vmd_arena_trim(&s->arena, SESSION_KEEP);
}

void session_init(struct session *s, uint64_t id, uint32_t uid, uint32_t pid)
{
	memset(s, 0, sizeof(*s));
	s->snap_fd = -1;
	s->id = id;
	s->uid = uid;
	s->pid = pid;
	vmd_arena_init(&s->arena, 4 * (size_t)VMD_MAX_FRAME);
}

void dispatch_session_end(struct dispatch *dp, struct session *s)
{
	struct dispatch_inputs in = { .session = s->id, .uid = s->uid, .pid = s->pid };

	/* A release the journal cannot record does not happen: the areas stay
	 * (as if the client were still there) rather than come back after a
	 * crash. */
	if (s->nr_scoped && (!dp->journal ||
			     state_journal(dp->journal, dp, JREC_SESSION_END, &in, NULL, 0) == 0))
		release_scoped(dp, s, false);
	/* Work the releases queued (a purge) runs now, as the kernel's worker
	 * would right after them; delayed work keeps waiting for its timer. */
	run_due_work(dp);
	vmd_arena_done(&s->arena);
	free(s->scratch);
	s->scratch = NULL;
	s->scratch_cap = 0;
	if (s->snap_fd >= 0)
		close(s->snap_fd);
	s->snap_fd = -1;
}

void dispatch_pass_done(struct dispatch *dp)
{
	run_due_work(dp);
	/* A journal past journal_size is checkpointed now, its replies out,
	 * rather than at the next tick: it then never grows much past it. */
	if (dp->journal)
		state_tick(dp->journal, dp);
}

void dispatch_tick(struct dispatch *dp)
{
	/* Delayed work (kvfree_rcu's batch: KFREE_DRAIN_JIFFIES, 5 s) runs
	 * once it has waited that long, counted in these one-second ticks. */
	if (!vm_work_delayed(dp->engine))
		dp->delayed_ticks = 0;
	else if (++dp->delayed_ticks >= 5) {
		struct dispatch_inputs in = { 0 };

		if (dp->journal && state_journal(dp->journal, dp, JREC_WORK_DEFERRED, &in, NULL, 0) < 0)
			return;   /* tried again at the next tick */
		vm_run_deferred_work(dp->engine);
		dp->delayed_ticks = 0;
	}
	if (dp->journal)
		state_tick(dp->journal, dp);
}

/* ---- the table of operations --------------------------------------------------------------- */

struct op {
	int (*handler)(struct ctx *x, const void *msg);   /* msg: the request's operation */
	Vmallocd__V1__Reply__ResultCase result;   /* NOT_SET: the reply is a status only */
	void (*done)(struct ctx *x);              /* after the reply is packed, or NULL */
};

#define OP(name) VMALLOCD__V1__REQUEST__OP_##name
#define RESULT(name) VMALLOCD__V1__REPLY__RESULT_##name
#define STATUS_ONLY VMALLOCD__V1__REPLY__RESULT__NOT_SET

static const struct op ops[] = {
	[OP(HELLO)]       = { op_hello,       RESULT(HELLO),       NULL },
	[OP(ALLOC)]       = { op_alloc,       RESULT(ALLOC),       NULL },
	[OP(FREE)]        = { op_free,        STATUS_ONLY,         NULL },
	[OP(REALLOC)]     = { op_realloc,     RESULT(ALLOC),       NULL },
	[OP(VMAP)]        = { op_vmap,        RESULT(ALLOC),       NULL },
	[OP(VUNMAP)]      = { op_vunmap,      STATUS_ONLY,         NULL },
	[OP(ALLOC_PAGES)] = { op_alloc_pages, RESULT(ALLOC_PAGES), NULL },
	[OP(FREE_PAGES)]  = { op_free_pages,  STATUS_ONLY,         NULL },
	[OP(READ)]        = { op_read,        RESULT(READ),        NULL },
	[OP(WRITE)]       = { op_write,       STATUS_ONLY,         NULL },
	[OP(PHYS_READ)]   = { op_phys_read,   RESULT(READ),        NULL },
	[OP(PHYS_WRITE)]  = { op_phys_write,  STATUS_ONLY,         NULL },
	[OP(TRANSLATE)]   = { op_translate,   RESULT(TRANSLATE),   NULL },
	[OP(AREA_INFO)]   = { op_area_info,   RESULT(AREA_INFO),   NULL },
	[OP(QUERY)]       = { op_query,       RESULT(QUERY),       query_done },
	[OP(CHECK)]       = { op_check,       STATUS_ONLY,         NULL },
	[OP(PURGE)]       = { op_purge,       STATUS_ONLY,         NULL },
	[OP(VM_MAP_RAM)]  = { op_vm_map_ram,  RESULT(ALLOC),       NULL },
	[OP(VM_UNMAP_RAM)] = { op_vm_unmap_ram, STATUS_ONLY,       NULL },
	[OP(ALLOC_PERCPU)] = { op_alloc_percpu, RESULT(ALLOC),     NULL },
	[OP(FREE_PERCPU)] = { op_free_percpu, STATUS_ONLY,         NULL },
	[OP(KVFREE_RCU)]  = { op_kvfree_rcu,  STATUS_ONLY,         NULL },
	[OP(SNAPSHOT)]    = { op_snapshot,    RESULT(READ),        NULL },
};

/* Reply's results share one oneof, a union of pointers that protobuf-c
 * reads through the field's offset, whichever member it is: the result
 * is stored there once, for every case. */
_Static_assert(offsetof(Reply, alloc) == offsetof(Reply, query) &&
	       offsetof(Reply, hello) == offsetof(Reply, read), "Reply's results are one union");

static void attach_result(Reply *rep, Vmallocd__V1__Reply__ResultCase result, union result *res)
{
	void *p = res;

	rep->result_case = result;
	memcpy(&rep->alloc, &p, sizeof(p));
}

/* req's row of the table, or NULL for an unknown or empty operation. */
static const struct op *op_of(const Request *req)
{
	if ((size_t)req->op_case < sizeof(ops) / sizeof(ops[0]) && ops[req->op_case].handler)
		return &ops[req->op_case];
	return NULL;
}

/* The message of req's operation: Request's oneof is a union of pointers
 * too, read the same way whichever member is set. */
_Static_assert(offsetof(Request, hello) == offsetof(Request, alloc) &&
	       offsetof(Request, alloc) == offsetof(Request, purge), "Request's ops are one union");

static const void *op_msg(const Request *req)
{
	const void *msg;

	memcpy(&msg, &req->hello, sizeof(msg));
	return msg;
}

/* ---- counting -------------------------------------------------------------------------------- */

const double dispatch_lat_bounds[DISPATCH_LAT_BUCKETS] = {
	1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2, 0.1, 1.0,
};
static const uint64_t lat_bounds_ns[DISPATCH_LAT_BUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 10000000,
	100000000, 1000000000,
};

static const char *const op_names[DISPATCH_NR_OPS] = {
	"none", "", "hello", "alloc", "free", "realloc", "vmap", "vunmap", "alloc_pages",
	"free_pages", "read", "write", "phys_read", "phys_write", "translate", "area_info",
	"query", "check", "purge", "vm_map_ram", "vm_unmap_ram", "alloc_percpu", "free_percpu",
	"kvfree_rcu", "snapshot",
};
/* The counters are indexed by op case: a row of ops[] past them would
 * write beyond by_op. */
_Static_assert(sizeof(ops) / sizeof(ops[0]) == DISPATCH_NR_OPS &&
	       VMALLOCD__V1__REQUEST__OP_SNAPSHOT == DISPATCH_NR_OPS - 1 &&
	       VMALLOCD__V1__REQUEST__OP_HELLO == 2, "op_names and by_op follow Request's op cases");

const char *dispatch_op_name(unsigned op)
{
	return op < DISPATCH_NR_OPS && *op_names[op] ? op_names[op] : NULL;
}

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void dispatch_pass_begin(struct dispatch *dp)
{
	if (dp->st.timing)
		dp->st.mark_ns = mono_ns();
}

/* A request's duration runs from dp->st.mark_ns (its frame's turn in the
 * pass: decoding it is part of it) to its reply queued. */
static inline void count_request(struct dispatch *dp, unsigned op, int status, uint64_t t0)
{
	unsigned e = (unsigned)-status;

	dp->st.by_op[op][e < DISPATCH_NR_STATUS ? e : DISPATCH_NR_STATUS - 1]++;
	if (t0) {
		uint64_t t1 = mono_ns(), d = t1 - t0;
		unsigned b = 0;

		dp->st.mark_ns = t1;

		while (b < DISPATCH_LAT_BUCKETS && d > lat_bounds_ns[b])
			b++;
		dp->st.lat[b]++;
		dp->st.lat_sum_ns += d;
	}
}

/* Run the operation of request id (op: its row, or NULL; msg: its
 * message) and queue its one reply: 0 or -ENOMEM.  Inlined where op is a
 * constant (the fast path), so that the handler is called directly there. */
static inline __attribute__((always_inline))
int run_op(struct dispatch *dp, struct session *s, const struct dispatch_env *env,
	   const struct op *op, uint64_t id, const void *msg, struct iobuf *out)
{
	struct ctx x;   /* x.msg is written only on failure, x.q only by a query */
	uint64_t t0 = dp->st.timing ? dp->st.mark_ns : 0;
	int r;

	x.dp = dp;
	x.s = s;
	x.env = env;
	x.e = dp->engine;
	x.reply = (Reply)VMALLOCD__V1__REPLY__INIT;
	x.reply.id = id;
	if (!op)
		r = fail(&x, -EOPNOTSUPP, "request %llu: unknown or empty operation",
			 (unsigned long long)id);
	else
		r = op->handler(&x, msg);
	count_request(dp, op ? (unsigned)(op - ops) : 0, r < 0 ? x.reply.status : 0, t0);
	if (r < 0) {
		dp->nr_errors++;
		r = reply_queue_error(out, id, x.reply.status, x.reply.message);
	} else {
		if (op->result != STATUS_ONLY)
			attach_result(&x.reply, op->result, &x.result);
		r = reply_queue(out, &x.reply);
	}
	if (op && op->done)
		op->done(&x);
	return r;
}

/* ---- entry ------------------------------------------------------------------------------------ */

/* The parent_pid a request names, for the operations that take one. */
static uint32_t parent_pid_of(const Request *req)
{
	switch (req->op_case) {
	case VMALLOCD__V1__REQUEST__OP_ALLOC:
		return req->alloc->parent_pid;
	case VMALLOCD__V1__REQUEST__OP_VMAP:
		return req->vmap->parent_pid;
	case VMALLOCD__V1__REQUEST__OP_ALLOC_PAGES:
		return req->alloc_pages->parent_pid;
	case VMALLOCD__V1__REQUEST__OP_VM_MAP_RAM:
		return req->vm_map_ram->parent_pid;
	case VMALLOCD__V1__REQUEST__OP_ALLOC_PERCPU:
		return req->alloc_percpu->parent_pid;
	default:
		return 0;
	}
}

/* Operations that may change the machine or the daemon's tables: they are
 * journaled.  Reads, queries and the checker change nothing; a write's
 * bytes are in the frames already, and what it changes of the metadata
 * (PG_dirty, resident pages) is derived again from the frames at recovery. */
static bool op_changes(Vmallocd__V1__Request__OpCase op)
{
	switch (op) {
	case VMALLOCD__V1__REQUEST__OP_ALLOC:
	case VMALLOCD__V1__REQUEST__OP_FREE:
	case VMALLOCD__V1__REQUEST__OP_REALLOC:
	case VMALLOCD__V1__REQUEST__OP_VMAP:
	case VMALLOCD__V1__REQUEST__OP_VUNMAP:
	case VMALLOCD__V1__REQUEST__OP_ALLOC_PAGES:
	case VMALLOCD__V1__REQUEST__OP_FREE_PAGES:
	case VMALLOCD__V1__REQUEST__OP_VM_MAP_RAM:
	case VMALLOCD__V1__REQUEST__OP_VM_UNMAP_RAM:
	case VMALLOCD__V1__REQUEST__OP_ALLOC_PERCPU:
	case VMALLOCD__V1__REQUEST__OP_FREE_PERCPU:
	case VMALLOCD__V1__REQUEST__OP_KVFREE_RCU:
	case VMALLOCD__V1__REQUEST__OP_PURGE:
		return true;
	default:
		return false;
	}
}

/* The inputs of a request about to run live: who sent it and, if it names
 * a parent_pid, what the host says of it now. */
static void inputs_of(struct dispatch *dp, const struct session *s, uint32_t parent_pid)
{
	struct dispatch_inputs *in = &dp->in;

	in->session = s->id;
	in->uid = s->uid;
	in->pid = s->pid;
	in->proto_version = s->proto_version;
	in->parent_r = 0;
	in->ppid = 0;
	in->parent_gone = 0;
	if (parent_pid && parent_pid <= INT32_MAX) {
		in->parent_r = parent_of(s->pid, &in->ppid);
		in->parent_gone = in->parent_r < 0 && kill((pid_t)parent_pid, 0) < 0 && errno == ESRCH;
	}
}

/* Journal a request that may change the machine before it runs: 0, or the
 * reply to refuse it with has been queued (r: 0 or -ENOMEM) and *done set. */
static int journal_frame(struct dispatch *dp, struct session *s, uint64_t id, uint32_t parent_pid,
			 const uint8_t *payload, size_t len, struct iobuf *out, bool *done)
{
	int r;

	*done = false;
	if (dp->replaying)
		return 0;
	inputs_of(dp, s, parent_pid);
	if (!dp->journal)
		return 0;
	r = state_journal(dp->journal, dp, JREC_FRAME, &dp->in, payload, len);
	if (r == 0) {
		vm_resident_mark(dp->engine);
		return 0;
	}
	*done = true;
	return decode_error(dp, out, id, r, "request %llu refused: the state journal cannot record "
			    "it: %s", (unsigned long long)id, strerror(-r));
}

/* After a journaled request ran: if the host's memory refused it some
 * frames, say which reservations in a record after its own, before its
 * reply leaves, so that its replay is refused the same (replay mode keeps
 * no residency to decide by).  Returns r. */
static int journal_refusals(struct dispatch *dp, int r)
{
	const uint32_t *list;
	uint32_t nr;
	struct dispatch_inputs in = { 0 };
	int q;

	if (!dp->journal || dp->replaying)
		return r;
	q = vm_resident_refusals(dp->engine, &list, &nr);
	if (!nr)
		return r;
	if (q == 0)
		q = state_journal(dp->journal, dp, JREC_REFUSED, &in, (const uint8_t *)list,
				  nr * sizeof(*list));
	if (q < 0)
		vmd_log(VM_LOG_ERR, "state: a refusal of host memory could not be journaled (%s): "
			"a recovery may grant what this request was refused", strerror(-q));
	return r;
}

int dispatch_frame(struct dispatch *dp, struct session *s, const struct dispatch_env *env,
		   const uint8_t *payload, size_t len, struct iobuf *out)
{
	struct vmd_fast_req fast;
	Request *req;
	bool done;
	int r;

	dp->nr_requests++;
	/* The hottest shapes skip protobuf-c's generic unpacker. */
	if (vmd_fast_decode(payload, len, &fast)) {
		if (fast.op == VMALLOCD__V1__REQUEST__OP_ALLOC) {
			r = journal_frame(dp, s, fast.id, fast.alloc.parent_pid, payload, len, out, &done);
			if (done)
				return r;
			return journal_refusals(dp, run_op(dp, s, env, &ops[OP(ALLOC)], fast.id,
							   &fast.alloc, out));
		}
		r = journal_frame(dp, s, fast.id, 0, payload, len, out, &done);
		if (done)
			return r;
		return journal_refusals(dp, run_op(dp, s, env, &ops[OP(FREE)], fast.id, &fast.free,
						   out));
	}
	vmd_arena_reset(&s->arena);
	req = vmallocd__v1__request__unpack(&s->arena.pb, len, payload);
	if (s->arena.used > SESSION_KEEP || s->arena.big)
		s->big_pass = true;
	/* A valid request may need more than the arena may hold (an absurd
	 * repeated field) or than malloc gives. */
	if (!req && s->arena.refused)
		return decode_error(dp, out, vmd_peek_id(payload, len), -ENOMEM,
				    "request of %zu bytes: out of memory decoding it", len);
	if (!req)
		return decode_error(dp, out, 0, -EBADMSG,
				    "malformed request: %zu bytes that do not parse as a Request", len);
	if (op_changes(req->op_case) && op_of(req)) {
		r = journal_frame(dp, s, req->id, parent_pid_of(req), payload, len, out, &done);
		if (done)
			return r;
		return journal_refusals(dp, run_op(dp, s, env, op_of(req), req->id, op_msg(req), out));
	}
	return run_op(dp, s, env, op_of(req), req->id, op_msg(req), out);
}

/* ---- replay ------------------------------------------------------------------------------------ */

void dispatch_replay(struct dispatch *dp, enum jrec_kind kind, const struct dispatch_inputs *in,
		     const uint8_t *payload, size_t len)
{
	struct dispatch_env env = { 0 };
	struct session s;
	struct iobuf out = { 0 };

	session_init(&s, in->session, in->uid, in->pid);
	s.proto_version = in->proto_version;
	dp->in = *in;
	dp->replaying = true;
	switch (kind) {
	case JREC_FRAME:
		(void)dispatch_frame(dp, &s, &env, payload, len, &out);
		iobuf_free(&out);
		break;
	case JREC_WORK_DUE:
		vm_run_due_work(dp->engine);
		break;
	case JREC_WORK_DEFERRED:
		vm_run_deferred_work(dp->engine);
		break;
	case JREC_SESSION_END:
		release_scoped(dp, &s, false);
		break;
	case JREC_RULES:
	case JREC_REFUSED:
		break;   /* state.c applies them */
	}
	dp->replaying = false;
	vmd_arena_done(&s.arena);
	free(s.scratch);
}

void dispatch_replay_refused(struct dispatch *dp, const struct dispatch_inputs *in,
			     const uint8_t *payload, size_t len, const uint32_t *refused,
			     uint32_t nr)
{
	vm_resident_mark(dp->engine);
	if (vm_replay_refusals(dp->engine, refused, nr) < 0)
		vmd_log(VM_LOG_WARNING, "state: a journaled refusal of host memory that does not "
			"apply (%u reservations): the request is replayed without it", nr);
	dispatch_replay(dp, JREC_FRAME, in, payload, len);
	vm_resident_mark(dp->engine);
}

void dispatch_release_all_scoped(struct dispatch *dp)
{
	struct session s;

	session_init(&s, 0, 0, 0);
	release_scoped(dp, &s, true);
	vm_run_due_work(dp->engine);
	vmd_arena_done(&s.arena);
}

/* Rules payload: default_quota u64, max_areas u32, nr u32, then nr of
 * { uid u32, pad u32, pages u64 }. */
int dispatch_rules_encode(const struct options *o, uint8_t **ret, size_t *ret_len)
{
	size_t len = 16 + (size_t)o->nr_quotas * 16;
	uint8_t *p = calloc(1, len);
	uint32_t v32;

	if (!p)
		return -ENOMEM;
	memcpy(p, &o->default_quota, 8);
	v32 = o->max_areas;
	memcpy(p + 8, &v32, 4);
	v32 = o->nr_quotas;
	memcpy(p + 12, &v32, 4);
	for (unsigned i = 0; i < o->nr_quotas; i++) {
		memcpy(p + 16 + i * 16, &o->quotas[i].uid, 4);
		memcpy(p + 24 + i * 16, &o->quotas[i].pages, 8);
	}
	*ret = p;
	*ret_len = len;
	return 0;
}

int dispatch_rules_decode(struct options *o, const uint8_t *p, size_t len)
{
	struct quota_rule *q = NULL;
	uint32_t max_areas, nr;
	uint64_t dq;

	if (len < 16)
		return -EBADMSG;
	memcpy(&dq, p, 8);
	memcpy(&max_areas, p + 8, 4);
	memcpy(&nr, p + 12, 4);
	if ((len - 16) / 16 != nr || (len - 16) % 16)
		return -EBADMSG;
	if (nr && !(q = calloc(nr, sizeof(*q))))
		return -ENOMEM;
	for (uint32_t i = 0; i < nr; i++) {
		memcpy(&q[i].uid, p + 16 + i * 16, 4);
		memcpy(&q[i].pages, p + 24 + i * 16, 8);
	}
	free(o->quotas);
	o->quotas = q;
	o->nr_quotas = nr;
	o->default_quota = dq;
	o->max_areas = max_areas;
	return 0;
}

int dispatch_rules_changed(struct dispatch *dp)
{
	struct dispatch_inputs in = { 0 };
	uint8_t *p;
	size_t len;
	int r;

	if (!dp->journal)
		return 0;
	if ((r = dispatch_rules_encode(dp->opt, &p, &len)) < 0)
		return r;
	r = state_journal(dp->journal, dp, JREC_RULES, &in, p, len);
	free(p);
	return r;
}
