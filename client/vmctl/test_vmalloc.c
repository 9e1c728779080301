/* test_vmalloc.c -- `vmctl test-vmalloc`: the kernel's lib/test_vmalloc.c
 * cases (test_vmalloc/test_vmalloc.c) driven through the daemon, one
 * connection per worker thread, printing the kernel's Summary lines on
 * stdout and, on a terminal, progress and an estimate on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_vmalloc.h"
#include "vmctl.h"

struct tvc {
	struct vmc_client *c;
	struct vmc_batch *batch;
	int *st;
	size_t st_cap;
	bool pmd_huge;             /* the machine maps PMDs (x86_64): vmalloc_huge aligns */
};

#define TVC_CHUNK 4096u   /* requests per batch run */

static int tvc_status(struct tvc *t, size_t n)
{
	if (n > t->st_cap) {
		int *p = realloc(t->st, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->st = p;
		t->st_cap = n;
	}
	return 0;
}

/* Run the queued batch; the transport's error, else the first request's. */
static int tvc_run(struct tvc *t)
{
	size_t n = vmc_batch_size(t->batch);
	int r = vmc_batch_run(t->batch);

	vmc_batch_clear(t->batch);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (t->st[i] < 0)
			r = t->st[i];
	return r;
}

static int tvc_vmalloc(void *ctx, uint64_t size, uint64_t *ret_addr)
{
	return vmc_vmalloc(((struct tvc *)ctx)->c, size, ret_addr);
}

static int tvc_vzalloc_node_align(void *ctx, uint64_t size, uint64_t align, int node,
				  uint64_t *ret_addr)
{
	struct vmc_alloc_opts o = VMC_ALLOC_OPTS_INIT;

	o.align = align;
	o.gfp = GFP_KERNEL | __GFP_ZERO;
	o.node = node;
	return vmc_vmalloc_node_range(((struct tvc *)ctx)->c, size, &o, ret_addr);
}

static int tvc_vfree(void *ctx, uint64_t addr)
{
	return vmc_vfree(((struct tvc *)ctx)->c, addr);
}

static int tvc_alloc_page(void *ctx, uint64_t *ret_pfn)
{
	return vmc_alloc_pages(((struct tvc *)ctx)->c, GFP_KERNEL, 0, VMC_NO_NODE, ret_pfn);
}

static int tvc_free_page(void *ctx, uint64_t pfn)
{
	return vmc_free_pages(((struct tvc *)ctx)->c, pfn, 0);
}

static int tvc_vmalloc_huge(void *ctx, uint64_t size, uint64_t *ret_addr)
{
	struct tvc *t = ctx;
	struct vmc_alloc_opts o = VMC_ALLOC_OPTS_INIT;

	o.gfp = GFP_KERNEL;
	if (t->pmd_huge && size >= (2ull << 20)) {
		o.align = 2ull << 20;
		size = (size + o.align - 1) & ~(o.align - 1);
	}
	return vmc_vmalloc_node_range(t->c, size, &o, ret_addr);
}

static int tvc_vm_map_ram(void *ctx, const uint64_t *pfns, uint64_t n, uint64_t *ret_addr)
{
	return vmc_vm_map_ram(((struct tvc *)ctx)->c, pfns, n, VMC_NO_NODE, ret_addr);
}

static int tvc_vm_unmap_ram(void *ctx, uint64_t addr, uint64_t n)
{
	return vmc_vm_unmap_ram(((struct tvc *)ctx)->c, addr, n);
}

static int tvc_alloc_percpu(void *ctx, uint64_t size, uint64_t align, uint64_t *ret_ptr)
{
	return vmc_alloc_percpu(((struct tvc *)ctx)->c, size, align, ret_ptr);
}

static int tvc_free_percpu(void *ctx, uint64_t ptr)
{
	return vmc_free_percpu(((struct tvc *)ctx)->c, ptr);
}

static int tvc_kvfree_rcu(void *ctx, uint64_t addr, bool head)
{
	return vmc_kvfree_rcu(((struct tvc *)ctx)->c, addr, head);
}

static int tvc_touch(void *ctx, uint64_t addr, uint8_t val)
{
	return vmc_write(((struct tvc *)ctx)->c, addr, &val, 1);
}

static int tvc_vmalloc_bulk(void *ctx, const uint64_t *sizes, uint64_t size, uint64_t n,
			    uint64_t *addrs)
{
	struct tvc *t = ctx;
	int rv = 0, r;

	for (uint64_t i = 0; i < n; i += TVC_CHUNK) {
		uint64_t k = n - i < TVC_CHUNK ? n - i : TVC_CHUNK;

		r = tvc_status(t, k);
		for (uint64_t j = 0; r == 0 && j < k; j++) {
			addrs[i + j] = 0;
			r = vmc_batch_vmalloc(t->batch, sizes ? sizes[i + j] : size, &addrs[i + j],
					      &t->st[j]);
		}
		if (r == 0)
			r = tvc_run(t);
		vmc_batch_clear(t->batch);
		if (r < 0 && rv == 0)
			rv = r;
	}
	return rv;
}

static int tvc_vfree_bulk(void *ctx, const uint64_t *addrs, uint64_t n)
{
	struct tvc *t = ctx;
	int rv = 0, r;

	for (uint64_t i = 0; i < n; i += TVC_CHUNK) {
		uint64_t k = n - i < TVC_CHUNK ? n - i : TVC_CHUNK;
		size_t q = 0;

		r = tvc_status(t, k);
		for (uint64_t j = 0; r == 0 && j < k; j++)
			if (addrs[i + j])
				r = vmc_batch_vfree(t->batch, addrs[i + j], &t->st[q++]);
		if (r == 0 && q)
			r = tvc_run(t);
		vmc_batch_clear(t->batch);
		if (r < 0 && rv == 0)
			rv = r;
	}
	return rv;
}

static int tvc_touch_vfree(void *ctx, const uint64_t *addrs, const uint8_t *vals, unsigned n)
{
	struct tvc *t = ctx;
	int r = tvc_status(t, 2 * (size_t)n);

	for (unsigned i = 0; r == 0 && i < n; i++)
		r = vmc_batch_write(t->batch, addrs[i], &vals[i], 1, &t->st[i]);
	for (unsigned i = 0; r == 0 && i < n; i++)
		r = vmc_batch_vfree(t->batch, addrs[i], &t->st[n + i]);
	if (r == 0)
		return tvc_run(t);
	vmc_batch_clear(t->batch);
	return r;
}

static int tvc_touch_kvfree_rcu(void *ctx, uint64_t addr, uint8_t val, bool head)
{
	struct tvc *t = ctx;
	int r = tvc_status(t, 2);

	if (r == 0)
		r = vmc_batch_write(t->batch, addr, &val, 1, &t->st[0]);
	if (r == 0)
		r = vmc_batch_kvfree_rcu(t->batch, addr, head, &t->st[1]);
	if (r == 0)
		return tvc_run(t);
	vmc_batch_clear(t->batch);
	return r;
}

static int tvc_touch_unmap_ram(void *ctx, uint64_t addr, uint64_t n, uint8_t val)
{
	struct tvc *t = ctx;
	int r = tvc_status(t, 2);

	if (r == 0)
		r = vmc_batch_write(t->batch, addr, &val, 1, &t->st[0]);
	if (r == 0)
		r = vmc_batch_vm_unmap_ram(t->batch, addr, n, &t->st[1]);
	if (r == 0)
		return tvc_run(t);
	vmc_batch_clear(t->batch);
	return r;
}

static int tvc_alloc_percpu_bulk(void *ctx, const uint64_t *sizes, const uint64_t *aligns,
				 uint64_t n, uint64_t *ptrs)
{
	struct tvc *t = ctx;
	int rv = 0, r;

	for (uint64_t i = 0; i < n; i += TVC_CHUNK) {
		uint64_t k = n - i < TVC_CHUNK ? n - i : TVC_CHUNK;

		r = tvc_status(t, k);
		for (uint64_t j = 0; r == 0 && j < k; j++) {
			ptrs[i + j] = 0;
			r = vmc_batch_alloc_percpu(t->batch, sizes[i + j], aligns[i + j], &ptrs[i + j],
						   &t->st[j]);
		}
		if (r == 0)
			r = tvc_run(t);
		vmc_batch_clear(t->batch);
		if (r < 0 && rv == 0)
			rv = r;
	}
	return rv;
}

static int tvc_free_percpu_bulk(void *ctx, const uint64_t *ptrs, uint64_t n)
{
	struct tvc *t = ctx;
	int rv = 0, r;

	for (uint64_t i = 0; i < n; i += TVC_CHUNK) {
		uint64_t k = n - i < TVC_CHUNK ? n - i : TVC_CHUNK;
		size_t q = 0;

		r = tvc_status(t, k);
		for (uint64_t j = 0; r == 0 && j < k; j++)
			if (ptrs[i + j])
				r = vmc_batch_free_percpu(t->batch, ptrs[i + j], &t->st[q++]);
		if (r == 0 && q)
			r = tvc_run(t);
		vmc_batch_clear(t->batch);
		if (r < 0 && rv == 0)
			rv = r;
	}
	return rv;
}

static int tvc_open(struct tvc *t, struct tv_backend *b)
{
	int r;

	memset(t, 0, sizeof(*t));
	r = vmc_connect(arg_socket, &t->c);
	if (r < 0)
		return r;
	vmc_set_timeout(t->c, arg_timeout_ms);
	vmc_set_caller(t->c, "test_vmalloc");
	/* Whatever an interrupted run leaves is freed with the connection. */
	vmc_set_scoped(t->c, true);
	r = vmc_batch_new(t->c, &t->batch);
	if (r == 0)
		r = tvc_status(t, 16);
	if (r == 0)
		r = vmc_hello(t->c, NULL);   /* fail at connect, not in a case */
	if (r == 0) {
		struct vmc_stat st;

		r = vmc_stat(t->c, &st);
		t->pmd_huge = r == 0 && !strcmp(st.layout, "x86_64");
	}
	*b = (struct tv_backend){
		.ctx = t,
		.vmalloc = tvc_vmalloc,
		.vzalloc_node_align = tvc_vzalloc_node_align,
		.vmalloc_huge = tvc_vmalloc_huge,
		.vfree = tvc_vfree,
		.alloc_page = tvc_alloc_page,
		.free_page = tvc_free_page,
		.vm_map_ram = tvc_vm_map_ram,
		.vm_unmap_ram = tvc_vm_unmap_ram,
		.alloc_percpu = tvc_alloc_percpu,
		.free_percpu = tvc_free_percpu,
		.kvfree_rcu = tvc_kvfree_rcu,
		.touch = tvc_touch,
		.vmalloc_bulk = tvc_vmalloc_bulk,
		.vfree_bulk = tvc_vfree_bulk,
		.touch_vfree = tvc_touch_vfree,
		.touch_kvfree_rcu = tvc_touch_kvfree_rcu,
		.touch_unmap_ram = tvc_touch_unmap_ram,
		.alloc_percpu_bulk = tvc_alloc_percpu_bulk,
		.free_percpu_bulk = tvc_free_percpu_bulk,
	};
	return r;
}

/* A worker's connection failed: say why, with what to check. */
static int tvc_fail(const struct cmd *cmd, struct tvc *t, int err)
{
	if (!t->c)
		return connect_failed(cmd, err);
	return fail_with(cmd, t->c, NULL, err);
}

static void tvc_close(struct tvc *t)
{
	vmc_batch_free(t->batch);
	vmc_close(t->c);
	free(t->st);
	memset(t, 0, sizeof(*t));
}

/* ---- progress on a terminal ----------------------------------------------------- */

/* One status line on stderr, redrawn as each run of a case starts and
 * every second, erased at the end. */
struct progress {
	pthread_mutex_t lock;
	pthread_cond_t stop_cv;
	pthread_t ticker;
	bool ticking, stop;
	unsigned total;             /* runs of every worker */
	unsigned done;              /* runs finished */
	unsigned nr_cases;          /* cases selected */
	unsigned cases_done;        /* worker 0's finished cases */
	int cur_case;               /* worker 0's case, -1 before the first */
	unsigned cur_run, repeat, nthr;
	struct timespec t0;
};

static double elapsed_s(const struct progress *pg)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - pg->t0.tv_sec) + (now.tv_nsec - pg->t0.tv_nsec) / 1e9;
}

static void fmt_time(double s, char *buf, size_t len)
{
	unsigned t = (unsigned)(s + 0.5);

	if (t >= 3600)
		snprintf(buf, len, "%u:%02u:%02u", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%u:%02u", t / 60, t % 60);
}

/* Called with pg->lock held. */
static void progress_draw(struct progress *pg)
{
	char el[16], left[16], eta[48];
	double e = elapsed_s(pg);

	fmt_time(e, el, sizeof(el));
	if (pg->done && pg->done < pg->total) {
		fmt_time(e * (pg->total - pg->done) / pg->done, left, sizeof(left));
		snprintf(eta, sizeof(eta), "about %s left", left);
	} else {
		snprintf(eta, sizeof(eta), "estimating");
	}
	fprintf(stderr, "\r\033[Ktest-vmalloc: case %u/%u %s run %u/%u%s | %u%% | %s elapsed, %s",
		pg->cases_done + (pg->cur_case >= 0 ? 1 : 0) > pg->nr_cases ? pg->nr_cases :
		pg->cases_done + (pg->cur_case >= 0 ? 1 : 0), pg->nr_cases,
		pg->cur_case >= 0 ? tv_case_name((unsigned)pg->cur_case) : "-", pg->cur_run + 1,
		pg->repeat, pg->nthr > 1 ? " (worker 0)" : "",
		pg->total ? pg->done * 100 / pg->total : 0, el, eta);
	fflush(stderr);
}

static void on_progress(void *ctx, unsigned worker, unsigned case_index, unsigned run,
			unsigned repeat)
{
	struct progress *pg = ctx;

	pthread_mutex_lock(&pg->lock);
	if (run > 0)
		pg->done++;          /* the run before this one is over */
	if (worker == 0) {
		if (run == repeat) {
			pg->cases_done++;
			pg->cur_case = -1;
		} else {
			pg->cur_case = (int)case_index;
			pg->cur_run = run;
		}
	}
	progress_draw(pg);
	pthread_mutex_unlock(&pg->lock);
}

static void *ticker_main(void *arg)
{
	struct progress *pg = arg;
	struct timespec t;

	pthread_mutex_lock(&pg->lock);
	while (!pg->stop) {
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += 1;
		pthread_cond_timedwait(&pg->stop_cv, &pg->lock, &t);
		if (!pg->stop)
			progress_draw(pg);
	}
	pthread_mutex_unlock(&pg->lock);
	return NULL;
}

static void progress_start(struct progress *pg, struct tv_params *p, unsigned nthr)
{
	memset(pg, 0, sizeof(*pg));
	pthread_mutex_init(&pg->lock, NULL);
	pthread_cond_init(&pg->stop_cv, NULL);
	for (unsigned i = 0; i < TV_NR_CASES; i++)
		pg->nr_cases += (p->run_test_mask & p->kernel.cases & tv_case_bit(i)) != 0;
	pg->repeat = p->test_repeat_count ? p->test_repeat_count : 1;
	pg->nthr = nthr;
	pg->total = pg->nr_cases * pg->repeat * nthr;
	pg->cur_case = -1;
	clock_gettime(CLOCK_MONOTONIC, &pg->t0);
	p->progress = on_progress;
	p->progress_ctx = pg;
	pg->ticking = pthread_create(&pg->ticker, NULL, ticker_main, pg) == 0;
}

static void progress_end(struct progress *pg)
{
	pthread_mutex_lock(&pg->lock);
	pg->stop = true;
	pthread_cond_signal(&pg->stop_cv);
	pthread_mutex_unlock(&pg->lock);
	if (pg->ticking)
		pthread_join(pg->ticker, NULL);
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
	pthread_cond_destroy(&pg->stop_cv);
	pthread_mutex_destroy(&pg->lock);
}

/* ---- the command ------------------------------------------------------------------------ */

static json_object *tv_result_json(const struct tv_result *r, const struct tv_params *p)
{
	json_object *o = json_object_new_object();

	jput(o, "test", json_object_new_string(r->name));
	jput(o, "passed", json_object_new_uint64(r->passed));
	jput(o, "failed", json_object_new_uint64(r->failed));
	if (r->summary_xfailed)
		jput(o, "xfailed", json_object_new_uint64(r->xfailed));
	jput(o, "repeat", json_object_new_uint64(p->test_repeat_count ? p->test_repeat_count : 1));
	jput(o, "loops", json_object_new_uint64(p->test_loop_count ? p->test_loop_count : 1));
	jput(o, "avg_usec", json_object_new_uint64(r->avg_usec));
	jput(o, "avg_nsec", json_object_new_double(r->avg_nsec));
	jput(o, "expected_to_fail", json_object_new_boolean(r->xfail));
	if (r->first_error)
		jput(o, "first_error", json_object_new_string(vmc_strerror(r->first_error)));
	return o;
}

static int quiet_opt(const struct cmd *cmd, int ch, const char *optarg, void *ctx)
{
	if (ch != OPT_QUIET)
		return -1;
	*(bool *)ctx = true;
	return 0;
}

static void print_results(const struct tv_params *p, const char *mode, unsigned nthr,
			  const struct tv_worker *w, unsigned unexpected)
{
	if (arg_json) {
		json_object *o = json_object_new_object(), *ws = json_object_new_array();

		jput(o, "mode", mode ? json_object_new_string(mode) : NULL);
		jput(o, "nr_threads", json_object_new_uint64(nthr));
		jput(o, "test_loop_count", json_object_new_uint64(p->test_loop_count));
		jput(o, "test_repeat_count", json_object_new_uint64(p->test_repeat_count));
		jput(o, "run_test_mask", json_object_new_uint64(p->run_test_mask));
		jput(o, "sequential_test_order", json_object_new_boolean(p->sequential_test_order));
		jput(o, "nr_pages", json_object_new_uint64(p->nr_pages));
		for (unsigned i = 0; i < nthr; i++) {
			json_object *wo = json_object_new_object(), *cs = json_object_new_array();

			for (unsigned c = 0; c < TV_NR_CASES; c++)
				if (w[i].results[c].ran)
					json_object_array_add(cs, tv_result_json(&w[i].results[c], p));
			jput(wo, "worker", json_object_new_uint64(i));
			jput(wo, "usec", json_object_new_uint64(w[i].elapsed_ns / 1000));
			jput(wo, "tests", cs);
			json_object_array_add(ws, wo);
		}
		jput(o, "workers", ws);
		jput(o, "unexpected_failures", json_object_new_uint64(unexpected));
		jprint(o);
		return;
	}
	/* As the kernel prints them: each worker's Summary lines, then its
	 * total (in microseconds here: the kernel's is in cycles). */
	for (unsigned i = 0; i < nthr; i++) {
		tv_print_summary(stdout, p, w[i].results);
		printf("All test took worker%u=%" PRIu64 " usec\n", i, w[i].elapsed_ns / 1000);
	}
	fflush(stdout);
	for (unsigned i = 0; i < nthr; i++)
		for (unsigned c = 0; c < TV_NR_CASES; c++)
			if (w[i].results[c].failed &&
			    (!w[i].results[c].xfail || w[i].results[c].summary_xfailed))
				fprintf(stderr, "vmctl: test-vmalloc: worker%u: %s failed %u "
					"time(s), first: %s\n", i, w[i].results[c].name,
					w[i].results[c].failed,
					vmc_strerror(w[i].results[c].first_error));
}

/* p from the module's defaults (k, NULL: 6.18's), then the mode and the
 * key=value arguments.  0, or vmctl's usage exit status. */
static int apply_args(const struct cmd *cmd, struct tv_params *p, const struct tv_kernel *k,
		      char **pos, int np, const char **ret_mode)
{
	tv_params_init(p, k);
	*ret_mode = NULL;
	for (int i = 0; i < np; i++) {
		if (!strchr(pos[i], '=')) {
			if (!tv_mode_params(pos[i]))
				return usage_err(cmd, "unknown mode '%s' (performance, smoke or stress)",
						 pos[i]);
			if (i > 0)
				return usage_err(cmd, "the mode '%s' must come first", pos[i]);
			tv_params_mode(p, pos[i]);
			*ret_mode = pos[i];
		} else if (tv_params_set(p, pos[i]) < 0) {
			return usage_err(cmd, "invalid parameter '%s'", pos[i]);
		}
	}
	return 0;
}

/* The daemon's kernel's module (its Hello says), the arguments on top. */
static int kernel_args(const struct cmd *cmd, struct tvc *t, struct tv_params *p, char **pos,
		       int np, const char **ret_mode)
{
	struct vmc_test_vmalloc d;
	struct tv_kernel k = TV_KERNEL_6_18;
	int r = vmc_test_vmalloc_desc(t->c, &d);

	if (r < 0)
		return r;
	if (d.cases)   /* a daemon that says */
		k = (struct tv_kernel){ d.cases, d.default_mask, d.xfail, d.summary_xfailed };
	apply_args(cmd, p, &k, pos, np, ret_mode);
	return 0;
}

int cmd_test_vmalloc(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, OPT_QUIET },
		COMMON_OPTS
	};
	char *pos[64];
	struct tv_params p;
	struct progress pg;
	const char *mode = NULL;
	struct tv_worker *w = NULL;
	struct tvc *conns = NULL;
	struct tv_backend *be = NULL;
	const struct tv_backend **bp = NULL;
	unsigned nthr, opened = 0, unexpected = 0;
	bool quiet = false, show;
	int np, r = 0, rc = VMCTL_EXIT_OK;

	np = positional(cmd, argc, argv, opts, quiet_opt, &quiet, pos, 0, 64);
	/* The arguments checked before connecting; applied again once the
	 * daemon has said which kernel's module to run (its defaults). */
	if ((r = apply_args(cmd, &p, NULL, pos, np, &mode)) != 0)
		return r;
	nthr = p.nr_threads ? p.nr_threads : 1;
	w = calloc(nthr, sizeof(*w));
	conns = calloc(nthr, sizeof(*conns));
	be = calloc(nthr, sizeof(*be));
	bp = calloc(nthr, sizeof(*bp));
	if (!w || !conns || !be || !bp) {
		r = -ENOMEM;
		goto out;
	}
	/* Every worker's connection first, as the kernel creates every kthread
	 * before releasing them. */
	for (; opened < nthr; opened++) {
		r = tvc_open(&conns[opened], &be[opened]);
		bp[opened] = &be[opened];
		if (r == 0 && opened == 0)
			r = kernel_args(cmd, &conns[0], &p, pos, np, &mode);
		if (r < 0) {
			rc = tvc_fail(cmd, &conns[opened], r);
			opened++;
			goto out;
		}
	}
	if (!arg_json)
		printf("test_vmalloc: mode=%s nr_threads=%u test_loop_count=%" PRIu64
		       " test_repeat_count=%u run_test_mask=%" PRIu32 " sequential_test_order=%d"
		       " nr_pages=%" PRIu64 " use_huge=%d nr_pcpu_objects=%" PRIu64 "\n",
		       mode ? mode : "manual", p.nr_threads, p.test_loop_count, p.test_repeat_count,
		       p.run_test_mask, p.sequential_test_order, p.nr_pages, p.use_huge,
		       p.nr_pcpu_objects);
	fflush(stdout);
	show = !quiet && isatty(STDERR_FILENO);
	if (show)
		progress_start(&pg, &p, nthr);
	r = tv_run_workers(bp, &p, w);
	if (show)
		progress_end(&pg);
	if (r < 0) {
		rc = fail(cmd, "threads", r);
		goto out;
	}
	for (unsigned i = 0; i < nthr; i++)
		unexpected += tv_unexpected_failures(w[i].results);
	print_results(&p, mode, nthr, w, unexpected);
	rc = unexpected ? VMCTL_EXIT_FAILED : VMCTL_EXIT_OK;
out:
	if (r == -ENOMEM && rc == VMCTL_EXIT_OK)
		rc = fail(cmd, NULL, r);
	for (unsigned i = 0; i < opened; i++)
		tvc_close(&conns[i]);
	free(w);
	free(conns);
	free(be);
	free(bp);
	return rc;
}
