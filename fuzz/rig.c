/* rig.c -- see rig.h. */
#include <string.h>
#include <unistd.h>

#include "rig.h"

const uint32_t rig_uid[RIG_SLOTS] = { 0, 1000, 1000, 1001 };

int rig_start(struct rig *r, uint8_t m)
{
	static const uint64_t mem[4] = { 16ull << 20, 8ull << 20, 24ull << 20, 32ull << 20 };
	struct vm_config cfg;
	int rc;

	memset(r, 0, sizeof(*r));
	options_init(&r->opt);
	if (m & 0x04)
		r->opt.default_quota = 256;
	r->dp.opt = &r->opt;
	r->dp.start_usec = now_usec();
	account_init(&r->dp.acct);
	objects_init(&r->dp.objs);
	vm_config_init(&cfg);
	cfg.layout = (m & 0x01) ? VM_LAYOUT_I386 : VM_LAYOUT_X86_64;
	cfg.nr_nodes = (m & 0x02) ? 2 : 1;
	cfg.memory_bytes = mem[(m >> 4) & 3];
	cfg.init_on_free = !(m & 0x08);
	cfg.lazy_max_pages = (m & 0x40) ? 16 : 0;
	cfg.log = log_engine;
	rc = vm_engine_create(&cfg, &r->dp.engine);
	if (rc < 0) {
		account_done(&r->dp.acct);
		objects_done(&r->dp.objs);
		options_free(&r->opt);
		return rc;
	}
	for (unsigned i = 0; i < RIG_SLOTS; i++)
		rig_reopen(r, i);
	return 0;
}

void rig_close(struct rig *r, unsigned slot)
{
	if (!r->open[slot])
		return;
	dispatch_session_end(&r->dp, &r->s[slot]);
	r->open[slot] = false;
}

void rig_reopen(struct rig *r, unsigned slot)
{
	rig_close(r, slot);
	session_init(&r->s[slot], ++r->next_id, rig_uid[slot],
		     slot == 3 ? 0x7ffffff0u : (uint32_t)getpid());
	r->open[slot] = true;
}

void rig_stop(struct rig *r)
{
	for (unsigned i = 0; i < RIG_SLOTS; i++)
		rig_close(r, i);
	iobuf_free(&r->out);
	vm_engine_destroy(r->dp.engine);
	account_done(&r->dp.acct);
	objects_done(&r->dp.objs);
	options_free(&r->opt);
}

int rig_dispatch(struct rig *r, unsigned slot, const uint8_t *p, size_t n)
{
	unsigned open = 0;
	struct dispatch_env env;

	for (unsigned i = 0; i < RIG_SLOTS; i++)
		open += r->open[i];
	env.now_usec = now_usec();
	env.clients = open;
	env.connections_total = r->next_id;
	iobuf_consume(&r->out, r->out.len);
	return dispatch_frame(&r->dp, &r->s[slot], &env, p, n, &r->out);
}
