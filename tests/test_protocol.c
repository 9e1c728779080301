/* test_protocol.c -- the points where docs/protocol.md and vmallocd must
 * agree, each against a live daemon, mostly in raw frames as a client
 * written from the document alone would send them: Hello's version check,
 * enums left at 0 (refused in version 2, version 1's meaning kept), the
 * vm_flags a request may carry, which check answers an oversized write,
 * id 0 and -EBADMSG, close-on-exec connections, vmallocinfo's line format
 * and what a non-root client sees, parent_pid, the socket's directory.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "frame.h"
#include "harness.h"
#include "tcase.h"
#include "vmalloc.pb-c.h"
#include "vmclient.h"
#include "wire.h"


static struct vmd_proc daemon_proc;

static int suite_init(void)
{
	static const char *const args[] = { "--memory", "64M", NULL };

	return vmd_start(&daemon_proc, args, NULL) < 0 ? -1 : 0;
}

static int suite_clean(void)
{
	return vmd_stop(&daemon_proc, 5000) == 0 ? 0 : -1;
}

/* ---- raw frames ---------------------------------------------------------------------- */

/* Send req, return its reply (NULL: none). */
static Reply *call(int fd, const Request *req)
{
	return send_request(fd, req) < 0 ? NULL : read_reply(fd, 5000);
}

static Reply *hello(int fd, uint64_t id, uint32_t version)
{
	Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__HelloRequest h = VMALLOCD__V1__HELLO_REQUEST__INIT;

	h.version = version;
	h.client = (char *)"test_protocol";
	req.id = id;
	req.op_case = VMALLOCD__V1__REQUEST__OP_HELLO;
	req.hello = &h;
	return call(fd, &req);
}

/* An alloc of size bytes with kind (0: left out) and an optional caller. */
static Reply *alloc(int fd, uint64_t id, int kind, uint64_t size, const char *caller)
{
	Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__AllocRequest a = VMALLOCD__V1__ALLOC_REQUEST__INIT;

	a.kind = (Vmallocd__V1__AllocKind)kind;
	a.size = size;
	a.node = -1;
	a.caller = (char *)(caller ? caller : "");
	req.id = id;
	req.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC;
	req.alloc = &a;
	return call(fd, &req);
}

static Reply *query(int fd, uint64_t id, int kind)
{
	Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__QueryRequest q = VMALLOCD__V1__QUERY_REQUEST__INIT;

	q.kind = (Vmallocd__V1__QueryKind)kind;
	req.id = id;
	req.op_case = VMALLOCD__V1__REQUEST__OP_QUERY;
	req.query = &q;
	return call(fd, &req);
}

static void free_area(int fd, uint64_t addr)
{
	Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__FreeRequest f = VMALLOCD__V1__FREE_REQUEST__INIT;
	Reply *r;

	f.addr = addr;
	req.id = 99;
	req.op_case = VMALLOCD__V1__REQUEST__OP_FREE;
	req.free = &f;
	r = call(fd, &req);
	CU_ASSERT(r && r->status == 0);
	vmallocd__v1__reply__free_unpacked(r, NULL);
}

static bool has(const Reply *r, const char *text)
{
	return r && r->message && strstr(r->message, text);
}

/* ---- Hello ------------------------------------------------------------------------------- */

static void test_hello_versions(void)
{
	int fd = raw_connect(daemon_proc.sock);
	Reply *r;

	CU_ASSERT_FATAL(fd >= 0);
	/* 0 (the field left out) and a future version: refused, with the
	 * versions spoken, and the connection stays. */
	r = hello(fd, 1, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->id, 1);
	CU_ASSERT_EQUAL(r->status, -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(r->result_case, VMALLOCD__V1__REPLY__RESULT__NOT_SET);
	T_ASSERT_MSG(has(r, "Hello: protocol version 0: vmallocd ") &&
		     has(r, " speaks versions 1 to 2: Protocol not supported"), "message: %s",
		     r->message);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	r = hello(fd, 2, 3);
	CU_ASSERT(r && r->status == -EPROTONOSUPPORT && has(r, "protocol version 3"));
	vmallocd__v1__reply__free_unpacked(r, NULL);
	r = hello(fd, 3, 1);
	CU_ASSERT(r && r->status == 0 && r->hello && r->hello->version == 1);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	r = hello(fd, 4, 2);
	CU_ASSERT(r && r->status == 0 && r->hello && r->hello->version == 2);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	close(fd);
}

/* libvmclient says version 2 and insists on it. */
static void test_client_version(void)
{
	struct vmc_client *c;
	struct vmc_hello h;

	CU_ASSERT_EQUAL_FATAL(vmd_connect(daemon_proc.sock, &c), 0);
	CU_ASSERT_EQUAL(vmc_hello(c, &h), 0);
	CU_ASSERT_EQUAL(h.version, VMC_PROTO_VERSION);
	CU_ASSERT_EQUAL(VMC_PROTO_VERSION, 2);
	vmc_close(c);
}

/* ---- enums left at 0 ---------------------------------------------------------------------- */

static void test_zero_kinds(void)
{
	int v2 = raw_connect(daemon_proc.sock), v1 = raw_connect(daemon_proc.sock), none = raw_connect(daemon_proc.sock);
	Reply *r;

	CU_ASSERT_FATAL(v2 >= 0 && v1 >= 0 && none >= 0);
	r = hello(v2, 1, 2);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	r = hello(v1, 1, 1);
	vmallocd__v1__reply__free_unpacked(r, NULL);

	/* Version 2: a kind left out asks for nothing.  Both the fast
	 * decoder's path (no caller) and protobuf-c's (a caller) refuse it. */
	r = alloc(v2, 2, 0, 4096, NULL);
	CU_ASSERT(r && r->status == -EINVAL && r->result_case != VMALLOCD__V1__REPLY__RESULT_ALLOC);
	T_ASSERT_MSG(has(r, "alloc: kind not set (0): protocol version 2 needs an explicit kind"),
		     "message: %s", r ? r->message : "(none)");
	vmallocd__v1__reply__free_unpacked(r, NULL);
	r = alloc(v2, 3, 0, 4096, "zero_kind+0x0/0x1");
	CU_ASSERT(r && r->status == -EINVAL && has(r, "kind not set"));
	vmallocd__v1__reply__free_unpacked(r, NULL);
	r = query(v2, 4, 0);
	CU_ASSERT(r && r->status == -EINVAL && has(r, "query: kind not set (0)"));
	vmallocd__v1__reply__free_unpacked(r, NULL);
	r = alloc(v2, 5, VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC, 4096, NULL);
	CU_ASSERT_FATAL(r && r->status == 0 && r->alloc);
	CU_ASSERT_EQUAL(VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC, 9);
	free_area(v2, r->alloc->addr);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	r = query(v2, 6, VMALLOCD__V1__QUERY_KIND__QUERY_VMALLOCINFO);
	CU_ASSERT(r && r->status == 0 && r->query);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	r = alloc(v2, 7, 10, 4096, NULL);
	CU_ASSERT(r && r->status == -EINVAL && has(r, "unknown alloc kind 10"));
	vmallocd__v1__reply__free_unpacked(r, NULL);

	/* Version 1, said or not: 0 keeps its meaning, vmalloc and vmallocinfo. */
	for (int i = 0; i < 2; i++) {
		int fd = i ? none : v1;

		r = alloc(fd, 2, 0, 8192, i ? "v1_caller+0x0/0x1" : NULL);
		CU_ASSERT_FATAL(r && r->status == 0 && r->alloc);
		{
			uint64_t addr = r->alloc->addr;
			char want[64];

			vmallocd__v1__reply__free_unpacked(r, NULL);
			r = query(fd, 3, 0);
			CU_ASSERT_FATAL(r && r->status == 0 && r->query && r->query->text);
			snprintf(want, sizeof(want), "0x%016llx-", (unsigned long long)addr);
			CU_ASSERT_PTR_NOT_NULL(strstr(r->query->text, want));
			vmallocd__v1__reply__free_unpacked(r, NULL);
			free_area(fd, addr);
		}
	}
	close(v2);
	close(v1);
	close(none);
}

/* ---- vm_flags from the wire --------------------------------------------------------------- */

static void test_vm_flags(void)
{
	struct vmc_client *c;
	struct vmc_alloc_opts o = VMC_ALLOC_OPTS_INIT;
	struct vmc_stat before, after;
	struct vmc_area info;
	uint64_t addr = 0, pfn;

	CU_ASSERT_EQUAL_FATAL(vmd_connect(daemon_proc.sock, &c), 0);
	CU_ASSERT_EQUAL(vmc_stat(c, &before), 0);
	/* vmallocd's own scope mark, asked for as a flag: refused, nothing made. */
	o.vm_flags = 0x10000;
	CU_ASSERT_EQUAL(vmc_vmalloc_node_range(c, 4096, &o, &addr), -EINVAL);
	CU_ASSERT_STRING_EQUAL(vmc_last_message(c),
			       "alloc: vm_flags 0x10000: a request may set only VM_USERMAP (0x8), "
			       "VM_NO_GUARD (0x40) and VM_DMA_COHERENT (0x10): Invalid argument");
	o.vm_flags = VM_ALLOC;
	CU_ASSERT_EQUAL(vmc_vmalloc_node_range(c, 4096, &o, &addr), -EINVAL);
	o.vm_flags = 0x80;
	CU_ASSERT_EQUAL(vmc_vmalloc_node_range(c, 4096, &o, &addr), -EINVAL);
	CU_ASSERT_EQUAL(vmc_stat(c, &after), 0);
	CU_ASSERT_EQUAL(after.nr_areas, before.nr_areas);
	CU_ASSERT_EQUAL(addr, 0);
	/* vmap's flags: the same rule. */
	CU_ASSERT_EQUAL_FATAL(vmc_alloc_pages(c, GFP_KERNEL, 0, VMC_NO_NODE, &pfn), 0);
	CU_ASSERT_EQUAL(vmc_vmap(c, &pfn, 1, 0x10000, 0, &addr), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(vmc_last_message(c), "vmap: vm_flags 0x10000"));
	CU_ASSERT_EQUAL(vmc_free_pages(c, pfn, 0), 0);
	/* The documented ones work, and are reported back. */
	o.vm_flags = VMC_VM_REQUEST_FLAGS;
	CU_ASSERT_EQUAL_FATAL(vmc_vmalloc_node_range(c, 4096, &o, &addr), 0);
	CU_ASSERT_EQUAL(vmc_area_info(c, addr, &info), 0);
	CU_ASSERT_EQUAL(info.flags & VMC_VM_REQUEST_FLAGS, VMC_VM_REQUEST_FLAGS);
	CU_ASSERT_FALSE(info.scoped);
	CU_ASSERT_EQUAL(info.size, 4096);   /* VM_NO_GUARD: no guard page */
	CU_ASSERT_EQUAL(vmc_vfree(c, addr), 0);
	vmc_close(c);
}

/* ---- the size of one read or write --------------------------------------------------------- */

static void test_io_size_first(void)
{
	static uint8_t data[VMC_MAX_IO + 1];
	int fd = raw_connect(daemon_proc.sock);
	Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__WriteRequest w = VMALLOCD__V1__WRITE_REQUEST__INIT;
	Vmallocd__V1__ReadRequest rd = VMALLOCD__V1__READ_REQUEST__INIT;
	uint64_t addr;
	Reply *r;

	CU_ASSERT_FATAL(fd >= 0);
	r = alloc(fd, 1, VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC, 4 << 20, NULL);
	CU_ASSERT_FATAL(r && r->status == 0 && r->alloc);
	addr = r->alloc->addr;
	vmallocd__v1__reply__free_unpacked(r, NULL);
	req.op_case = VMALLOCD__V1__REQUEST__OP_WRITE;
	req.write = &w;
	w.data.data = data;
	/* Exactly VMD_MAX_IO is fine, one more is not, though the area holds it. */
	w.addr = addr;
	w.data.len = VMC_MAX_IO;
	req.id = 2;
	r = call(fd, &req);
	CU_ASSERT(r && r->status == 0);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	w.data.len = VMC_MAX_IO + 1;
	req.id = 3;
	r = call(fd, &req);
	CU_ASSERT(r && r->status == -EINVAL);
	T_ASSERT_MSG(has(r, "write of 1048577 bytes: at most 1048576 per request"), "message: %s",
		     r ? r->message : "(none)");
	vmallocd__v1__reply__free_unpacked(r, NULL);
	/* The size is checked first: at an address with no area, still -EINVAL
	 * for the size, not -EFAULT or "no area". */
	w.addr = 0x1000;
	req.id = 4;
	r = call(fd, &req);
	CU_ASSERT(r && r->status == -EINVAL && has(r, "at most 1048576 per request"));
	vmallocd__v1__reply__free_unpacked(r, NULL);
	req.op_case = VMALLOCD__V1__REQUEST__OP_READ;
	req.read = &rd;
	rd.addr = 0x1000;
	rd.len = VMC_MAX_IO + 1;
	req.id = 5;
	r = call(fd, &req);
	CU_ASSERT(r && r->status == -EINVAL && has(r, "read of 1048577 bytes: at most"));
	vmallocd__v1__reply__free_unpacked(r, NULL);
	/* Within the size, the bounds decide. */
	w.addr = addr + (4 << 20) - 8;
	w.data.len = 16;
	req.op_case = VMALLOCD__V1__REQUEST__OP_WRITE;
	req.write = &w;
	req.id = 6;
	r = call(fd, &req);
	CU_ASSERT(r && r->status == -EFAULT);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	free_area(fd, addr);
	close(fd);
}

/* ---- id 0 and frames that do not parse ----------------------------------------------------- */

static void test_id_zero(void)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x80 };
	int fd = raw_connect(daemon_proc.sock);
	Reply *r;

	CU_ASSERT_FATAL(fd >= 0);
	/* A request with id 0 is served, and its reply carries id 0. */
	r = hello(fd, 0, 2);
	CU_ASSERT(r && r->id == 0 && r->status == 0 && r->hello);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	/* A frame that does not parse: one id-0 -EBADMSG reply in its place,
	 * and the connection goes on. */
	CU_ASSERT_EQUAL_FATAL(send_frame(fd, junk, sizeof(junk)), 0);
	r = read_reply(fd, 5000);
	CU_ASSERT(r && r->id == 0 && r->status == -EBADMSG);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	r = hello(fd, 7, 2);
	CU_ASSERT(r && r->id == 7 && r->status == 0);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	close(fd);
}

/* ---- close-on-exec ------------------------------------------------------------------------------ */

static void test_cloexec(void)
{
	char dir[64], path[320], link[64], line[128];
	struct vmc_client *c;
	struct dirent *de;
	unsigned sockets = 0, cloexec = 0;
	DIR *d;

	CU_ASSERT_EQUAL_FATAL(vmd_connect(daemon_proc.sock, &c), 0);
	CU_ASSERT_EQUAL(vmc_hello(c, NULL), 0);   /* accepted by now */
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)daemon_proc.pid);
	d = opendir(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d))) {
		ssize_t n;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:", 7) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)daemon_proc.pid, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		sockets++;
		while (fgets(line, sizeof(line), f)) {
			unsigned long flags;

			if (sscanf(line, "flags: %lo", &flags) == 1 && (flags & O_CLOEXEC))
				cloexec++;
		}
		fclose(f);
	}
	closedir(d);
	/* The listener, the connection just accepted, maybe sd_notify's. */
	CU_ASSERT(sockets >= 2);
	T_ASSERT_MSG(cloexec == sockets, "%u of the daemon's %u sockets are close-on-exec",
		     cloexec, sockets);
	vmc_close(c);
}

/* ---- vmallocinfo: the line format, and what a non-root client sees --------------------------- */

static void test_vmallocinfo_lines(void)
{
	struct vmc_client *c;
	struct vmc_alloc_opts o = VMC_ALLOC_OPTS_INIT;
	uint64_t plain, big, vm, pfn;
	char *text = NULL, want[160];
	int st;
	pid_t pid;

	CU_ASSERT_EQUAL_FATAL(vmd_connect(daemon_proc.sock, &c), 0);
	/* An empty caller: nothing between the size and pages=. */
	o.caller = "";
	CU_ASSERT_EQUAL_FATAL(vmc_vmalloc_node_range(c, 4096, &o, &plain), 0);
	/* 513 pages: a page array over a page, "vpages". */
	CU_ASSERT_EQUAL_FATAL(vmc_set_caller(c, "big_init+0x10/0x40"), 0);
	CU_ASSERT_EQUAL_FATAL(vmc_vmalloc(c, 513 * 4096, &big), 0);
	CU_ASSERT_EQUAL_FATAL(vmc_alloc_pages(c, GFP_KERNEL, 0, VMC_NO_NODE, &pfn), 0);
	CU_ASSERT_EQUAL_FATAL(vmc_vmap(c, &pfn, 1, 0, 0, &vm), 0);
	CU_ASSERT_EQUAL_FATAL(vmc_query_text(c, VMC_VMALLOCINFO, &text), 0);
	snprintf(want, sizeof(want), "0x%016llx-0x%016llx    8192 pages=1 vmalloc N0=1\n",
		 (unsigned long long)plain, (unsigned long long)plain + 8192);
	T_ASSERT_MSG(strstr(text, want) != NULL, "no line \"%s\" in:\n%s", want, text);
	snprintf(want, sizeof(want), "0x%016llx-0x%016llx 2105344 big_init+0x10/0x40 pages=513 "
		 "vmalloc vpages N0=513\n", (unsigned long long)big, (unsigned long long)big + 2105344);
	T_ASSERT_MSG(strstr(text, want) != NULL, "no line \"%s\" in:\n%s", want, text);
	snprintf(want, sizeof(want), "0x%016llx-0x%016llx    8192 big_init+0x10/0x40 vmap\n",
		 (unsigned long long)vm, (unsigned long long)vm + 8192);
	T_ASSERT_MSG(strstr(text, want) != NULL, "no line \"%s\" in:\n%s", want, text);
	free(text);
	CU_ASSERT_EQUAL(vmc_vunmap(c, vm), 0);
	CU_ASSERT_EQUAL(vmc_free_pages(c, pfn, 0), 0);
	/* Freed: lazily, so root sees "unpurged vm_area" lines... */
	CU_ASSERT_EQUAL(vmc_vfree(c, plain), 0);
	CU_ASSERT_EQUAL(vmc_vfree(c, big), 0);
	CU_ASSERT_EQUAL_FATAL(vmc_query_text(c, VMC_VMALLOCINFO, &text), 0);
	snprintf(want, sizeof(want), "0x%016llx-0x%016llx    8192 unpurged vm_area\n",
		 (unsigned long long)plain, (unsigned long long)plain + 8192);
	T_ASSERT_MSG(strstr(text, want) != NULL, "no line \"%s\" in:\n%s", want, text);
	free(text);
	/* ...and a non-root client none, as protocol.md says. */
	pid = vmd_fork();
	if (pid == 0) {
		struct vmc_client *u;
		uint64_t mine;
		char *t = NULL;
		int bad = 0;

		if (setgid(65534) < 0 || setuid(65534) < 0 || vmd_connect(daemon_proc.sock, &u) < 0)
			_exit(100);
		bad += vmc_vmalloc(u, 4096, &mine) != 0;
		bad += vmc_query_text(u, VMC_VMALLOCINFO, &t) != 0;
		bad += !t || strstr(t, "unpurged") != NULL || strstr(t, "big_init") != NULL;
		bad += !t || t[0] != '0' || strchr(t, '\n') != t + strlen(t) - 1;   /* its one area */
		free(t);
		bad += vmc_vfree(u, mine) != 0;
		vmc_close(u);
		_exit(bad);
	}
	CU_ASSERT_FATAL(pid > 0);
	waitpid(pid, &st, 0);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	vmc_close(c);
}

/* ---- parent_pid --------------------------------------------------------------------------------- */

static void test_parent_pid(void)
{
	int fd = raw_connect(daemon_proc.sock);
	Request req = VMALLOCD__V1__REQUEST__INIT;
	Vmallocd__V1__AllocRequest a = VMALLOCD__V1__ALLOC_REQUEST__INIT;
	struct vmc_client *c;
	struct vmc_area info;
	Reply *r;

	CU_ASSERT_FATAL(fd >= 0);
	a.kind = VMALLOCD__V1__ALLOC_KIND__ALLOC_VMALLOC;
	a.size = 4096;
	a.node = -1;
	req.op_case = VMALLOCD__V1__REQUEST__OP_ALLOC;
	req.alloc = &a;
	/* Not our parent: refused, saying whose it is. */
	a.parent_pid = 1;
	req.id = 1;
	if (getppid() != 1) {
		r = call(fd, &req);
		CU_ASSERT(r && r->status == -EINVAL && has(r, "parent_pid 1 is not the parent of pid"));
		vmallocd__v1__reply__free_unpacked(r, NULL);
	}
	/* Not a pid at all (kill() would read it as a process group). */
	a.parent_pid = UINT32_MAX;
	req.id = 3;
	r = call(fd, &req);
	CU_ASSERT(r && r->status == -EINVAL && has(r, "parent_pid 4294967295: not a pid"));
	vmallocd__v1__reply__free_unpacked(r, NULL);
	/* Our parent: recorded as the allocating process. */
	a.parent_pid = (uint32_t)getppid();
	req.id = 2;
	r = call(fd, &req);
	CU_ASSERT_FATAL(r && r->status == 0 && r->alloc);
	CU_ASSERT_EQUAL_FATAL(vmd_connect(daemon_proc.sock, &c), 0);
	CU_ASSERT_EQUAL(vmc_area_info(c, r->alloc->addr, &info), 0);
	CU_ASSERT_EQUAL(info.pid, (uint32_t)getppid());
	CU_ASSERT_FALSE(info.leaked);
	free_area(fd, r->alloc->addr);
	vmallocd__v1__reply__free_unpacked(r, NULL);
	/* libvmclient's switch does the same. */
	vmc_set_attribute_to_parent(c, true);
	{
		uint64_t addr;

		CU_ASSERT_EQUAL_FATAL(vmc_vmalloc(c, 4096, &addr), 0);
		CU_ASSERT_EQUAL(vmc_area_info(c, addr, &info), 0);
		CU_ASSERT_EQUAL(info.pid, (uint32_t)getppid());
		CU_ASSERT_EQUAL(vmc_vfree(c, addr), 0);
	}
	vmc_close(c);
	close(fd);
}

/* ---- the socket's directory ----------------------------------------------------------------------- */

static void test_socket_dir(void)
{
	static const char *const env[] = { NULL };
	struct vmd_proc p = { 0 };
	char sock[256], dir[224], out[256], err[2048], want[768];
	const char *bin = getenv("VMALLOCD_BIN");
	struct stat st;

	/* One missing level: made, 0755, and the daemon serves there. */
	snprintf(dir, sizeof(dir), "%s/made-by-vmallocd", daemon_proc.dir);
	snprintf(sock, sizeof(sock), "%s/v.sock", dir);
	{
		const char *const args[] = { "--memory", "16M", "--socket", sock, NULL };

		CU_ASSERT_EQUAL_FATAL(vmd_start(&p, args, env), 0);
	}
	CU_ASSERT_EQUAL(stat(dir, &st), 0);
	CU_ASSERT(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755);
	CU_ASSERT(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode));
	CU_ASSERT_EQUAL(vmd_stop(&p, 5000), 0);
	CU_ASSERT_EQUAL(rmdir(dir), 0);   /* the daemon removed its socket */
	/* Two missing levels: not made; the error names the directory. */
	snprintf(dir, sizeof(dir), "%s/no/such", daemon_proc.dir);
	snprintf(sock, sizeof(sock), "%s/v.sock", dir);
	{
		const char *const argv[] = { bin, "--config", "/dev/null", "--memory", "16M",
					     "--socket", sock, NULL };
		int rc = vmd_run(argv, NULL, 0, out, sizeof(out), err, sizeof(err));

		CU_ASSERT_NOT_EQUAL(rc, 0);
	}
	snprintf(want, sizeof(want), "<3>cannot create %s, the directory of the socket %s: "
		 "No such file or directory\n", dir, sock);
	T_ASSERT_MSG(strstr(err, want) != NULL, "want \"%s\" in stderr:\n%s", want, err);
}

/* ---- the proto file ------------------------------------------------------------------------------- */

static void test_go_package(void)
{
	const char *path = getenv("VMALLOC_PROTO");
	char line[256];
	bool found = false;
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	f = fopen(path, "re");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "option go_package = \"", 21) == 0 && strchr(line + 21, ';'))
			found = true;
	fclose(f);
	CU_ASSERT_TRUE(found);
}

static const struct t_case cases[] = {
	{ "hello_versions", test_hello_versions },
	{ "client_version", test_client_version },
	{ "zero_kinds", test_zero_kinds },
	{ "vm_flags", test_vm_flags },
	{ "io_size_first", test_io_size_first },
	{ "id_zero", test_id_zero },
	{ "cloexec", test_cloexec },
	{ "vmallocinfo_lines", test_vmallocinfo_lines },
	{ "parent_pid", test_parent_pid },
	{ "socket_dir", test_socket_dir },
	{ "go_package", test_go_package },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (getuid() != 0) {
		fprintf(stderr, "test_protocol: needs root (a second uid, /proc of the daemon); "
			"skipped\n");
		return 77;
	}
	return t_main_suite("protocol", suite_init, suite_clean, cases, argc, argv);
}
