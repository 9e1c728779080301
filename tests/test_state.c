/* test_state.c -- the state image (lib/state.c): saved and loaded exactly.
 *
 * The oracle: random sequences of every kind of call, on both kernels and
 * several machines; at random points the machine is saved and loaded into
 * a second engine on a copy of its frames memfd; the /proc views and the
 * statistics must be byte-identical and the checker clean, and then the
 * same further calls on both must give the same results (addresses, pfns,
 * errors), the same bytes in every area and the same views at the end.
 * Then: every single-byte flip and every truncation of an image refused,
 * another version and another machine refused, the recorded config read
 * back; and replay mode: a sequence re-run on top of the frames memfd its
 * first run left, then reconciled, ends where the first run ended.
 *
 * usage: test_state [CASE]      ($VMTEST_SEED overrides the seed)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmtest.h"

/* ---- images in memory ------------------------------------------------------------------ */

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

static bool save(struct vm_engine *e, struct image *im)
{
	im->len = 0;
	return T_ASSERT_MSG(vm_engine_save(e, image_write, im) == 0, "save");
}

/* A sparse copy of a frames memfd: its data extents only. */
static int copy_frames(int fd)
{
	off_t size = lseek(fd, 0, SEEK_END), off = 0;
	int nfd = memfd_create("test-frames", MFD_CLOEXEC);
	static char buf[1 << 16];

	if (nfd < 0 || ftruncate(nfd, size) < 0)
		return -1;
	while (off < size) {
		off_t d = lseek(fd, off, SEEK_DATA), h;

		if (d < 0)
			break;
		h = lseek(fd, d, SEEK_HOLE);
		for (off_t p = d; p < h;) {
			ssize_t n = pread(fd, buf, (size_t)(h - p < (off_t)sizeof(buf) ? h - p :
						    (off_t)sizeof(buf)), p);

			if (n <= 0 || pwrite(nfd, buf, (size_t)n, p) != n) {
				close(nfd);
				return -1;
			}
			p += n;
		}
		off = h;
	}
	return nfd;
}

/* ---- the worlds: an engine and the handles a sequence holds ------------------------------ */

#define MAX_H 48

struct world {
	struct vm_engine *e;
	uint64_t areas[MAX_H];  unsigned nr_areas;      /* vmalloc family */
	uint64_t vmaps[MAX_H];  unsigned nr_vmaps;
	uint64_t blocks[MAX_H]; unsigned block_order[MAX_H]; unsigned nr_blocks;
	uint64_t mr[MAX_H];     uint64_t mr_count[MAX_H]; unsigned nr_mr;
	uint64_t pcpu[MAX_H];   unsigned nr_pcpu;
	/* Results, in order: what two equal machines must agree on. */
	int64_t *log;
	size_t nlog, caplog;
};

static void note(struct world *w, int64_t v)
{
	if (w->nlog == w->caplog) {
		w->caplog = w->caplog ? w->caplog * 2 : 1024;
		w->log = realloc(w->log, w->caplog * sizeof(*w->log));
		if (!w->log)
			abort();
	}
	w->log[w->nlog++] = v;
}

static void drop(uint64_t *v, unsigned *n, unsigned i)
{
	v[i] = v[--*n];
}

static const char *const callers[] = {
	"alloc_large_system_hash+0x1a2/0x2c0", "module_alloc+0x7f/0xd0", NULL,
	"bpf_prog_alloc+0x40/0x120", "kvmalloc_node+0x6b/0x100",
};

/* One step drawn from seed: the same seed gives the same call on two
 * worlds holding the same handles. */
static void step(struct world *w, uint64_t seed)
{
	struct vm_engine *e = w->e;
	struct t_rng r;
	uint64_t a = 0, pfn = 0, pfns[8];
	int rc = 0;

	t_rng_seed(&r, seed);
	switch (t_rand_below(&r, 20)) {
	case 0: case 1: case 2: {
		uint64_t size = t_rand_below(&r, 4) ? t_rand_range(&r, 1, 5 * PAGE) :
			       t_rand_range(&r, 1, 96 * PAGE);

		if (w->nr_areas == MAX_H)
			break;
		switch (t_rand_below(&r, 5)) {
		case 0: rc = vm_vmalloc(e, size, &a); break;
		case 1: rc = vm_vzalloc(e, size, &a); break;
		case 2: rc = vm_vmalloc_32(e, size, &a); break;
		case 3: rc = vm_vmalloc_node(e, size, 0, &a); break;
		default: {
			struct vm_alloc_req q = { .size = size, .align = PAGE << t_rand_below(&r, 6),
						  .gfp = GFP_KERNEL, .prot = PAGE_KERNEL,
						  .vm_flags = t_rand_below(&r, 3) ? 0 : VM_NO_GUARD,
						  .node = NUMA_NO_NODE };

			rc = vm___vmalloc_node_range(e, &q, &a);
		}
		}
		note(w, rc);
		if (rc == 0) {
			note(w, (int64_t)a);
			w->areas[w->nr_areas++] = a;
		}
		break;
	}
	case 3: case 4:
		if (!w->nr_areas)
			break;
		{
			unsigned i = (unsigned)t_rand_below(&r, w->nr_areas);

			note(w, vm_vfree(e, w->areas[i]));
			drop(w->areas, &w->nr_areas, i);
		}
		break;
	case 5:
		if (!w->nr_areas)
			break;
		{
			unsigned i = (unsigned)t_rand_below(&r, w->nr_areas);

			rc = vm_vrealloc(e, w->areas[i], t_rand_range(&r, 1, 12 * PAGE),
					 t_rand_below(&r, 2) ? GFP_KERNEL : GFP_KERNEL | __GFP_ZERO, &a);
			note(w, rc);
			if (rc == 0) {
				note(w, (int64_t)a);
				w->areas[i] = a;
			}
		}
		break;
	case 6:
		if (w->nr_blocks == MAX_H)
			break;
		{
			unsigned order = (unsigned)t_rand_below(&r, 4);

			rc = vm_alloc_pages(e, GFP_KERNEL, order, NUMA_NO_NODE, &pfn);
			note(w, rc);
			if (rc == 0) {
				note(w, (int64_t)pfn);
				w->block_order[w->nr_blocks] = order;
				w->blocks[w->nr_blocks++] = pfn;
				/* Bytes to carry over to the other engine. */
				t_pattern((uint8_t *)pfns, sizeof(pfns), seed, 0);
				note(w, vm_phys_write(e, pfn, 0, pfns, sizeof(pfns)));
			}
		}
		break;
	case 7:
		if (!w->nr_blocks)
			break;
		{
			unsigned i = (unsigned)t_rand_below(&r, w->nr_blocks);

			rc = vm_free_pages(e, w->blocks[i], w->block_order[i]);
			note(w, rc);
			if (rc == 0) {
				w->block_order[i] = w->block_order[w->nr_blocks - 1];
				drop(w->blocks, &w->nr_blocks, i);
			}
		}
		break;
	case 8: case 9: {
		/* vmap or vm_map_ram of a few frames of the blocks held. */
		uint64_t n = t_rand_range(&r, 1, 8);
		bool ram = t_rand_below(&r, 2);

		if (!w->nr_blocks || (ram ? w->nr_mr : w->nr_vmaps) == MAX_H)
			break;
		for (uint64_t k = 0; k < n; k++)
			pfns[k] = w->blocks[t_rand_below(&r, w->nr_blocks)];
		if (ram)
			rc = vm_map_ram(e, pfns, n, NUMA_NO_NODE, &a);
		else
			rc = vm_vmap(e, pfns, n, 0, PAGE_KERNEL, &a);
		note(w, rc);
		if (rc == 0) {
			note(w, (int64_t)a);
			if (ram) {
				w->mr_count[w->nr_mr] = n;
				w->mr[w->nr_mr++] = a;
			} else {
				w->vmaps[w->nr_vmaps++] = a;
			}
		}
		break;
	}
	case 10:
		if (w->nr_vmaps && t_rand_below(&r, 2)) {
			unsigned i = (unsigned)t_rand_below(&r, w->nr_vmaps);

			note(w, vm_vunmap(e, w->vmaps[i]));
			drop(w->vmaps, &w->nr_vmaps, i);
		} else if (w->nr_mr) {
			unsigned i = (unsigned)t_rand_below(&r, w->nr_mr);

			note(w, vm_unmap_ram(e, w->mr[i], w->mr_count[i]));
			w->mr_count[i] = w->mr_count[w->nr_mr - 1];
			drop(w->mr, &w->nr_mr, i);
		}
		break;
	case 11:
		if (w->nr_pcpu < MAX_H && t_rand_below(&r, 3)) {
			rc = vm_alloc_percpu(e, t_rand_range(&r, 1, 2048), 1u << t_rand_below(&r, 6), &a);
			note(w, rc);
			if (rc == 0) {
				note(w, (int64_t)a);
				w->pcpu[w->nr_pcpu++] = a;
			}
		} else if (w->nr_pcpu) {
			unsigned i = (unsigned)t_rand_below(&r, w->nr_pcpu);

			note(w, vm_free_percpu(e, w->pcpu[i]));
			drop(w->pcpu, &w->nr_pcpu, i);
		}
		break;
	case 12:
		if (!w->nr_areas)
			break;
		{
			unsigned i = (unsigned)t_rand_below(&r, w->nr_areas);

			rc = vm_kvfree_rcu(e, w->areas[i], t_rand_below(&r, 2));
			note(w, rc);
			if (rc == 0)
				drop(w->areas, &w->nr_areas, i);
		}
		break;
	case 13:
		switch (t_rand_below(&r, 3)) {
		case 0: vm_purge(e); break;
		case 1: vm_run_deferred_work(e); break;
		default: vm_run_due_work(e); break;
		}
		break;
	case 14: case 15: case 16:
		if (!w->nr_areas)
			break;
		{
			uint8_t buf[3 * 4096];
			uint64_t at = w->areas[t_rand_below(&r, w->nr_areas)];
			uint64_t off = t_rand_below(&r, 2 * PAGE), len = t_rand_range(&r, 1, sizeof(buf));

			t_pattern(buf, len, seed, off);
			note(w, vm_vwrite(e, at + off, buf, len));
		}
		break;
	case 17:
		note(w, vm_set_current(e, (uint32_t)t_rand_below(&r, 3) * 1000,
				       (uint32_t)t_rand_below(&r, 100),
				       t_rand(&r), callers[t_rand_below(&r, 5)]));
		note(w, vm_set_current_cpu(e, (unsigned)t_rand_below(&r, 8)));
		break;
	default:
		if (w->nr_areas < MAX_H) {
			rc = vm_vmalloc(e, PAGE, &a);
			note(w, rc);
			if (rc == 0)
				w->areas[w->nr_areas++] = a;
		}
		break;
	}
}

/* The views two equal machines must print alike. */
struct views {
	struct t_snap s;
	struct vm_stats st;
};

static void views_take(struct vm_engine *e, struct views *v)
{
	t_snap_take(e, &v->s);
	vm_get_stats(e, &v->st);
}

static bool views_same(struct vm_engine *e, const struct views *v, const char *what)
{
	struct vm_stats st;
	bool ok = T_SNAP_SAME(e, &v->s);

	vm_get_stats(e, &st);
	ok &= T_ASSERT_MSG(memcmp(&st, &v->st, sizeof(st)) == 0, "%s: vm_stats differ "
			   "(resident %llu vs %llu, free %llu vs %llu)", what,
			   (unsigned long long)st.resident_pages,
			   (unsigned long long)v->st.resident_pages,
			   (unsigned long long)st.free_pages, (unsigned long long)v->st.free_pages);
	return ok;
}

struct pair_ctx {
	struct vm_engine *a, *b;
	bool ok;
	uint64_t areas, bytes;
};

static int compare_bytes(void *ctx, const struct vm_area_info *info)
{
	struct pair_ctx *c = ctx;
	uint64_t len = info->nr_pages * PAGE;
	uint8_t *x, *y;
	int ra, rb;

	if (!len)
		return 0;
	x = malloc(len);
	y = malloc(len);
	if (!x || !y)
		abort();
	ra = vm_vread(c->a, info->addr, x, len);
	rb = vm_vread(c->b, info->addr, y, len);
	if (!T_ASSERT_MSG(ra == rb && (ra || memcmp(x, y, len) == 0),
			  "area %#llx: bytes differ (%d, %d)", (unsigned long long)info->addr, ra, rb))
		c->ok = false;
	c->areas++;
	c->bytes += len;
	free(x);
	free(y);
	return 0;
}

static bool bytes_same(struct vm_engine *a, struct vm_engine *b)
{
	struct pair_ctx c = { a, b, true, 0, 0 };

	vm_for_each_area(a, compare_bytes, &c);
	return c.ok;
}

/* ---- the oracle -------------------------------------------------------------------------- */

struct machine {
	const char *name;
	enum vm_kernel kernel;
	enum vm_layout layout;
	unsigned nodes, cpus;
	uint64_t memory;
	bool init_on_free;
	uint64_t movable;               /* per node, ZONE_MOVABLE */
};

static const struct machine machines[] = {
	{ "6.18-x86_64-1cpu", VM_KERNEL_6_18, VM_LAYOUT_X86_64, 1, 1, 32 * MIB, false, 0 },
	{ "6.18-x86_64-4cpu-2node", VM_KERNEL_6_18, VM_LAYOUT_X86_64, 2, 4, 48 * MIB, true, 0 },
	{ "6.18-i386-2cpu", VM_KERNEL_6_18, VM_LAYOUT_I386, 1, 2, 32 * MIB, false, 0 },
	{ "4.19-x86_64-2cpu", VM_KERNEL_4_19, VM_LAYOUT_X86_64, 1, 2, 32 * MIB, false, 0 },
	{ "4.19-x86_64-3cpu-2node", VM_KERNEL_4_19, VM_LAYOUT_X86_64, 2, 3, 48 * MIB, true, 0 },
	{ "4.19-i386-1cpu", VM_KERNEL_4_19, VM_LAYOUT_I386, 1, 1, 32 * MIB, false, 0 },
	{ "6.18-x86_64-3node-movable", VM_KERNEL_6_18, VM_LAYOUT_X86_64, 3, 2, 60 * MIB, false,
	  6 * MIB },
};

/* The engine's refusals, printed (the loader says which part failed). */
static void print_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= VM_LOG_ERR && getenv("VMTEST_VERBOSE"))
		fprintf(stderr, "  log: %s\n", msg);
}

static void machine_cfg(const struct machine *m, struct vm_config *cfg)
{
	vm_config_init(cfg);
	cfg->log = print_log;
	cfg->kernel = m->kernel;
	cfg->layout = m->layout;
	cfg->nr_nodes = m->nodes;
	cfg->nr_cpus = m->cpus;
	cfg->memory_bytes = m->memory;
	cfg->init_on_free = m->init_on_free;
	cfg->movable_bytes = m->movable;
	if (m->cpus > 2)
		cfg->lazy_max_pages = 256;   /* purges (and 6.18's pools) often */
}

/* A second world: the first's image loaded on a copy of its frames, with
 * the same handles. */
static bool clone_world(const struct world *a, const struct vm_config *cfg, struct image *im,
			struct world *b)
{
	int fd = copy_frames(vm_engine_frames_fd(a->e));
	int r;

	*b = *a;
	b->log = NULL;
	b->nlog = b->caplog = 0;
	b->e = NULL;
	if (!T_ASSERT_MSG(fd >= 0, "copy of the frames"))
		return false;
	r = vm_engine_load(cfg, fd, im->buf, im->len, &b->e);
	close(fd);
	return T_ASSERT_MSG(r == 0, "load: %d", r);
}

static void oracle_machine(const struct machine *m, uint64_t seed)
{
	struct vm_config cfg;
	struct world a = { 0 };
	struct image im = { 0 };
	struct t_rng r;
	unsigned saves = 0;
	/* What the images held, summed over the saves: each structure must
	 * have been in some image for the oracle to speak for it. */
	uint64_t lazy = 0, pooled = 0, blocks = 0, chunks = 0, rcu = 0, work = 0;

	machine_cfg(m, &cfg);
	a.e = t_machine_cfg(&cfg);
	CU_ASSERT_FATAL(a.e != NULL);
	t_rng_seed(&r, seed);
	for (unsigned round = 0; round < 6; round++) {
		struct world b;
		struct views va;
		unsigned n = (unsigned)t_rand_range(&r, 50, 400);
		bool ok;

		for (unsigned i = 0; i < n; i++)
			step(&a, t_rand(&r));
		/* Save, load on a copy: the same machine. */
		if (!save(a.e, &im) || !clone_world(&a, &cfg, &im, &b))
			break;
		saves++;
		views_take(a.e, &va);
		lazy += va.st.nr_lazy_areas;
		pooled += va.st.nr_pooled_areas;
		blocks += va.st.nr_vmap_blocks;
		chunks += va.st.nr_pcpu_chunks;
		rcu += va.st.nr_kvfree_rcu;
		work += va.st.work_pending || va.st.work_delayed;
		ok = views_same(b.e, &va, m->name) && T_CHECK(b.e);
		t_snap_free(&va.s);
		/* The same calls on both: the same results. */
		a.nlog = 0;
		n = (unsigned)t_rand_range(&r, 100, 400);
		for (unsigned i = 0; i < n && ok; i++) {
			uint64_t s = t_rand(&r);

			step(&a, s);
			step(&b, s);
		}
		ok = ok && T_ASSERT_MSG(a.nlog == b.nlog && memcmp(a.log, b.log, a.nlog * 8) == 0,
					"%s round %u: results differ after the load", m->name, round);
		if (ok) {
			views_take(a.e, &va);
			ok = views_same(b.e, &va, m->name) && T_CHECK(b.e) && bytes_same(a.e, b.e);
			t_snap_free(&va.s);
		}
		/* An image of the loaded machine is the same image. */
		if (ok) {
			struct image im2 = { 0 }, im3 = { 0 };

			save(a.e, &im2);
			save(b.e, &im3);
			T_ASSERT_MSG(im2.len == im3.len && memcmp(im2.buf, im3.buf, im2.len) == 0,
				     "%s: the loaded machine's image differs", m->name);
			free(im2.buf);
			free(im3.buf);
		}
		vm_engine_destroy(b.e);
		free(b.log);
		if (!ok)
			break;
	}
	CU_ASSERT(saves == 6);
	CU_ASSERT_EQUAL(t_stats(a.e).nr_bugs, 0);
	/* (4.19 purges in the call: its work is rarely pending.) */
	T_ASSERT_MSG(lazy && blocks && chunks && (work || m->kernel == VM_KERNEL_4_19),
		     "%s: images held lazy %llu, vmap blocks "
		     "%llu, per-CPU chunks %llu, pending work %llu", m->name,
		     (unsigned long long)lazy, (unsigned long long)blocks,
		     (unsigned long long)chunks, (unsigned long long)work);
	if (m->kernel == VM_KERNEL_6_18)
		T_ASSERT_MSG(rcu, "%s: no kvfree_rcu batch in any image", m->name);
	if (m->kernel == VM_KERNEL_6_18 && m->layout == VM_LAYOUT_X86_64 && m->cpus > 1)
		T_ASSERT_MSG(pooled, "%s: no pooled range in any image", m->name);
	CU_ASSERT(T_CHECK(a.e));
	vm_engine_destroy(a.e);
	free(a.log);
	free(im.buf);
}

static void test_oracle(void)
{
	uint64_t seed = t_env_u64("VMTEST_SEED", 0x57a7e001);

	for (size_t i = 0; i < sizeof(machines) / sizeof(machines[0]); i++)
		oracle_machine(&machines[i], seed + i);
}

/* ---- corruption ---------------------------------------------------------------------------- */

/* A small machine with a bit of everything: areas, vmaps, vm_map_ram
 * blocks, per-CPU chunks, kvfree_rcu batches, lazy and pooled ranges. */
static struct vm_engine *small_machine(struct vm_config *cfg, enum vm_kernel k)
{
	struct world w = { 0 };

	vm_config_init(cfg);
	cfg->kernel = k;
	cfg->nr_cpus = 2;
	cfg->memory_bytes = 16 * MIB;
	cfg->lazy_max_pages = 64;
	w.e = t_machine_cfg(cfg);
	if (!w.e)
		return NULL;
	for (uint64_t i = 0; i < 120; i++)
		step(&w, 0xc0441 + i);
	free(w.log);
	return w.e;
}

static void test_corruption(void)
{
	for (int k = 0; k < 2; k++) {
		struct vm_config cfg;
		struct vm_engine *e = small_machine(&cfg, k ? VM_KERNEL_4_19 : VM_KERNEL_6_18), *l;
		struct image im = { 0 };
		int fd, bad = 0;

		CU_ASSERT_FATAL(e != NULL);
		CU_ASSERT_FATAL(save(e, &im));
		fd = vm_engine_frames_fd(e);
		/* The image itself loads (on the same frames: nothing is written). */
		CU_ASSERT_FATAL(vm_engine_load(&cfg, fd, im.buf, im.len, &l) == 0);
		vm_engine_destroy(l);
		for (size_t i = 0; i < im.len; i++) {
			uint8_t was = im.buf[i];

			for (unsigned f = 0; f < 2; f++) {
				int r;

				im.buf[i] = (uint8_t)(was ^ (f ? 0xff : (1u << (i % 8))));
				r = vm_engine_load(&cfg, fd, im.buf, im.len, &l);
				if (r != -EBADMSG && bad++ < 5)
					T_ASSERT_MSG(0, "byte %zu ^%#x: %d", i, was ^ im.buf[i], r);
				if (r == 0)
					vm_engine_destroy(l);
			}
			im.buf[i] = was;
		}
		for (size_t n = 0; n < im.len; n++) {
			int r = vm_engine_load(&cfg, fd, im.buf, n, &l);

			if (r != -EBADMSG && bad++ < 10)
				T_ASSERT_MSG(0, "truncated to %zu: %d", n, r);
			if (r == 0)
				vm_engine_destroy(l);
		}
		CU_ASSERT_EQUAL(bad, 0);
		printf("\n  %s image: %zu bytes, %zu flips and %zu truncations refused\n",
		       vm_kernel_name(cfg.kernel), im.len, 2 * im.len, im.len);
		vm_engine_destroy(e);
		free(im.buf);
	}
}

static void test_version_and_config(void)
{
	struct vm_config cfg, got, other;
	struct vm_engine *e = small_machine(&cfg, VM_KERNEL_6_18), *l = NULL;
	struct image im = { 0 };
	uint32_t hlen, crc;
	int fd;

	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_FATAL(save(e, &im));
	fd = vm_engine_frames_fd(e);
	CU_ASSERT(fd >= 0);

	/* The config read back, callbacks and the resident limit left alone. */
	vm_config_init(&got);
	got.max_resident_pages = 12345;
	CU_ASSERT_EQUAL(vm_state_config(im.buf, im.len, &got), 0);
	CU_ASSERT_EQUAL(got.kernel, VM_KERNEL_6_18);
	CU_ASSERT_EQUAL(got.memory_bytes, 16 * MIB);
	CU_ASSERT_EQUAL(got.nr_cpus, 2);
	CU_ASSERT_EQUAL(got.lazy_max_pages, 64);
	CU_ASSERT_EQUAL(got.max_resident_pages, 12345);
	CU_ASSERT_EQUAL(vm_state_config("not an image at all", 19, &got), -EBADMSG);

	/* Another machine: refused, nothing made. */
	other = cfg;
	other.kernel = VM_KERNEL_4_19;
	CU_ASSERT_EQUAL(vm_engine_load(&other, fd, im.buf, im.len, &l), -EINVAL);
	other = cfg;
	other.layout = VM_LAYOUT_I386;
	CU_ASSERT_EQUAL(vm_engine_load(&other, fd, im.buf, im.len, &l), -EINVAL);
	other = cfg;
	other.memory_bytes *= 2;
	CU_ASSERT_EQUAL(vm_engine_load(&other, fd, im.buf, im.len, &l), -EINVAL);
	other = cfg;
	other.nr_cpus = 3;
	CU_ASSERT_EQUAL(vm_engine_load(&other, fd, im.buf, im.len, &l), -EINVAL);
	CU_ASSERT(l == NULL);
	/* Frames smaller than the machine. */
	{
		int small = memfd_create("small", MFD_CLOEXEC);

		CU_ASSERT(ftruncate(small, 4 * MIB) == 0);
		CU_ASSERT_EQUAL(vm_engine_load(&cfg, small, im.buf, im.len, &l), -EBADF);
		close(small);
	}

	/* Version 2, well formed: another format. */
	hlen = (uint32_t)im.buf[12] | (uint32_t)im.buf[13] << 8;
	im.buf[8] = 2;
	crc = vm_crc32c(0, im.buf, hlen);
	memcpy(im.buf + hlen, &crc, 4);
	CU_ASSERT_EQUAL(vm_state_config(im.buf, im.len, &got), -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(vm_engine_load(&cfg, fd, im.buf, im.len, &l), -EPROTONOSUPPORT);
	vm_engine_destroy(e);
	free(im.buf);
}

/* ---- replay ------------------------------------------------------------------------------------ */

static void replay_machine(const struct machine *m, uint64_t seed)
{
	struct vm_config cfg;
	struct world a = { 0 }, b;
	struct image im = { 0 };
	struct views va;
	struct t_rng r;
	int fd;

	machine_cfg(m, &cfg);
	a.e = t_machine_cfg(&cfg);
	CU_ASSERT_FATAL(a.e != NULL);
	t_rng_seed(&r, seed);
	for (unsigned i = 0; i < 300; i++)
		step(&a, t_rand(&r));
	/* The checkpoint: its image, and the world's handles then. */
	CU_ASSERT_FATAL(save(a.e, &im));
	b = a;
	b.log = NULL;
	b.nlog = b.caplog = 0;
	a.nlog = 0;
	{
		struct t_rng r2 = r;

		for (unsigned i = 0; i < 400; i++)
			step(&a, t_rand(&r));
		r = r2;
	}
	/* The journal re-run on the checkpoint, over the frames as the first
	 * run left them. */
	fd = copy_frames(vm_engine_frames_fd(a.e));
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(vm_engine_load(&cfg, fd, im.buf, im.len, &b.e) == 0);
	close(fd);
	vm_set_replay(b.e, true);
	/* The checker after every replayed call: metadata and page tables
	 * agree all the way (the frames' bytes are the end's meanwhile). */
	for (unsigned i = 0; i < 400; i++) {
		char msg[256];

		step(&b, t_rand(&r));
		if (!T_ASSERT_MSG(vm_check(b.e, msg, sizeof(msg)) == 0, "%s replay step %u: %s",
				  m->name, i, msg))
			break;
	}
	vm_set_replay(b.e, false);
	CU_ASSERT_EQUAL(vm_reconcile_resident(b.e), 0);
	T_ASSERT_MSG(a.nlog == b.nlog && memcmp(a.log, b.log, a.nlog * 8) == 0,
		     "%s: the replay's results differ", m->name);
	views_take(a.e, &va);
	views_same(b.e, &va, m->name);
	t_snap_free(&va.s);
	T_CHECK(b.e);
	bytes_same(a.e, b.e);
	/* And both go on alike. */
	a.nlog = b.nlog = 0;
	for (unsigned i = 0; i < 200; i++) {
		uint64_t s = t_rand(&r);

		step(&a, s);
		step(&b, s);
	}
	T_ASSERT_MSG(a.nlog == b.nlog && memcmp(a.log, b.log, a.nlog * 8) == 0,
		     "%s: results differ after the replay", m->name);
	bytes_same(a.e, b.e);
	/* The graded checks found nothing. */
	CU_ASSERT_EQUAL(t_stats(b.e).nr_bugs, 0);
	vm_engine_destroy(a.e);
	vm_engine_destroy(b.e);
	free(a.log);
	free(b.log);
	free(im.buf);
}

static void test_replay(void)
{
	uint64_t seed = t_env_u64("VMTEST_SEED", 0x7e9a1a1);

	for (size_t i = 0; i < sizeof(machines) / sizeof(machines[0]); i++)
		replay_machine(&machines[i], seed + i);
}

/* A machine filled to its last frame (every zone's deferred range used
 * up, memmap runs meeting at the zones' edges), and emptied again. */
static void test_full(void)
{
	struct vm_config cfg;
	struct world a = { 0 }, b;
	struct image im = { 0 };
	struct views va;
	uint64_t *held, n;

	vm_config_init(&cfg);
	cfg.memory_bytes = 24 * MIB;
	cfg.nr_nodes = 2;
	cfg.movable_bytes = 2 * MIB;
	a.e = t_machine_cfg(&cfg);
	CU_ASSERT_FATAL(a.e != NULL);
	held = t_frame_array(a.e);
	CU_ASSERT_FATAL(held != NULL);
	n = t_take_frames(a.e, GFP_KERNEL | __GFP_HIGHMEM | __GFP_MOVABLE, NUMA_NO_NODE, held);
	CU_ASSERT(n > 0);
	CU_ASSERT_FATAL(save(a.e, &im) && clone_world(&a, &cfg, &im, &b));
	views_take(a.e, &va);
	views_same(b.e, &va, "full");
	t_snap_free(&va.s);
	t_free_frames(a.e, held, n);
	t_free_frames(b.e, held, n);
	views_take(a.e, &va);
	views_same(b.e, &va, "emptied");
	t_snap_free(&va.s);
	T_CHECK(b.e);
	free(held);
	vm_engine_destroy(a.e);
	vm_engine_destroy(b.e);
	free(im.buf);
}

/* A fresh machine's image is small, and a big machine's as small. */
static void test_size(void)
{
	struct vm_config cfg;
	struct vm_engine *e;
	struct image im = { 0 };
	size_t small;

	vm_config_init(&cfg);
	cfg.memory_bytes = 64 * MIB;
	CU_ASSERT_FATAL(vm_engine_create(&cfg, &e) == 0);
	CU_ASSERT_FATAL(save(e, &im));
	small = im.len;
	vm_engine_destroy(e);
	cfg.memory_bytes = VM_MAX_MEMORY;     /* 16 TiB less a page */
	CU_ASSERT_FATAL(vm_engine_create(&cfg, &e) == 0);
	CU_ASSERT_FATAL(save(e, &im));
	T_ASSERT_MSG(im.len < small + 4096, "16 TiB: %zu bytes, 64 MiB: %zu", im.len, small);
	{
		struct vm_engine *l;
		int r = vm_engine_load(&cfg, vm_engine_frames_fd(e), im.buf, im.len, &l);

		CU_ASSERT_EQUAL(r, 0);
		if (r == 0)
			vm_engine_destroy(l);
	}
	vm_engine_destroy(e);
	free(im.buf);
}

/* A call refused host memory tells which of its reservations were
 * refused, and a replay given that list refuses the same call the same,
 * though replay mode keeps no residency; without the list it grants it. */
static void test_refusals(void)
{
	struct vm_config cfg;
	struct vm_engine *e, *r;
	const uint32_t *list;
	uint32_t nr, kept[VM_REFUSALS_MAX], bad[2] = { 2, 1 };
	uint64_t addr;

	struct vm_stats st;

	vm_config_init(&cfg);
	cfg.memory_bytes = 16 * MIB;
	CU_ASSERT_FATAL(vm_engine_create(&cfg, &e) == 0);
	vm_get_stats(e, &st);
	vm_engine_destroy(e);
	/* One page table more fits, the next does not. */
	cfg.max_resident_pages = st.resident_pages + 1;
	CU_ASSERT_FATAL(vm_engine_create(&cfg, &e) == 0);
	vm_resident_mark(e);
	CU_ASSERT_EQUAL(vm_vmalloc(e, 4096, &addr), -ENOMEM);
	CU_ASSERT_EQUAL_FATAL(vm_resident_refusals(e, &list, &nr), 0);
	CU_ASSERT_FATAL(nr >= 1 && nr <= VM_REFUSALS_MAX);
	CU_ASSERT(list[0] >= 1);        /* the first table was granted */
	memcpy(kept, list, nr * sizeof(*list));
	T_CHECK(e);
	vm_engine_destroy(e);

	cfg.max_resident_pages = 0;
	CU_ASSERT_FATAL(vm_engine_create(&cfg, &r) == 0);
	vm_set_replay(r, true);
	vm_resident_mark(r);
	CU_ASSERT_EQUAL(vm_replay_refusals(r, kept, nr), 0);
	CU_ASSERT_EQUAL(vm_vmalloc(r, 4096, &addr), -ENOMEM);
	vm_resident_mark(r);
	CU_ASSERT_EQUAL(vm_vmalloc(r, 4096, &addr), 0);
	vm_set_replay(r, false);
	T_CHECK(r);
	/* The contract's refusals. */
	CU_ASSERT_EQUAL(vm_replay_refusals(r, bad, 2), -EINVAL);
	CU_ASSERT_EQUAL(vm_replay_refusals(r, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(vm_replay_refusals(r, kept, VM_REFUSALS_MAX + 1), -EINVAL);
	CU_ASSERT_EQUAL(vm_replay_refusals(NULL, kept, 1), -EINVAL);
	CU_ASSERT_EQUAL(vm_resident_refusals(NULL, &list, &nr), -EINVAL);
	CU_ASSERT_EQUAL(vm_resident_refusals(r, NULL, &nr), -EINVAL);
	vm_resident_mark(NULL);
	vm_engine_destroy(r);
}

static int failing_write(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return -ENOSPC;
}

static void test_api(void)
{
	struct vm_config cfg;
	struct vm_engine *e, *l = NULL;

	vm_config_init(&cfg);
	cfg.memory_bytes = 8 * MIB;
	CU_ASSERT_FATAL(vm_engine_create(&cfg, &e) == 0);
	CU_ASSERT(vm_engine_frames_fd(e) >= 0);
	CU_ASSERT_EQUAL(vm_engine_frames_fd(NULL), -EINVAL);
	CU_ASSERT_EQUAL(vm_engine_save(NULL, image_write, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vm_engine_save(e, NULL, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vm_engine_load(&cfg, -1, "x", 1, &l), -EINVAL);
	CU_ASSERT_EQUAL(vm_engine_load(NULL, 0, "x", 1, &l), -EINVAL);
	CU_ASSERT_EQUAL(vm_state_config(NULL, 0, &cfg), -EINVAL);
	vm_set_replay(NULL, true);
	CU_ASSERT_EQUAL(vm_reconcile_resident(NULL), -EINVAL);
	/* A writer's error ends the save and is returned. */
	CU_ASSERT_EQUAL(vm_engine_save(e, failing_write, NULL), -ENOSPC);
	vm_engine_destroy(e);
	CU_ASSERT(l == NULL);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "api", test_api },
		{ "oracle", test_oracle },
		{ "corruption", test_corruption },
		{ "version_and_config", test_version_and_config },
		{ "replay", test_replay },
		{ "full", test_full },
		{ "size", test_size },
		{ "refusals", test_refusals },
		{ NULL, NULL },
	};

	return t_main("state", cases, argc, argv);
}
