/* report.c -- how vmctl answers: results in text or JSON, and every
 * failure as one line with the daemon's reason (or, with --json, one JSON
 * object on stdout); the connection, and what to check when there is none.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flagnames.h"
#include "size.h"
#include "socketpath.h"
#include "vmctl.h"

static struct vmc_client *g_client;

/* "EINVAL" for -22; NULL where the C library cannot name it. */
static const char *errno_name(int err)
{
#ifdef HAVE_STRERRORNAME_NP
	return strerrorname_np(err < 0 ? -err : err);
#else
	(void)err;
	return NULL;
#endif
}

static void json_error(const struct cmd *cmd, const char *arg, int err, const char *message,
		       bool usage)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();
	const char *name = err ? errno_name(err) : NULL;

	jput(e, "command", cmd ? json_object_new_string(cmd->name) : NULL);
	if (arg)
		jput(e, "argument", json_object_new_string(arg));
	if (err) {
		jput(e, "errno", json_object_new_int(err < 0 ? -err : err));
		if (name)
			jput(e, "code", json_object_new_string(name));
	}
	jput(e, "message", json_object_new_string(message));
	jput(e, "usage", json_object_new_boolean(usage));
	jput(o, "error", e);
	jprint(o);
}

int usage_err(const struct cmd *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (arg_json)
		json_error(cmd, NULL, 0, msg, true);
	else if (cmd)
		fprintf(stderr, "vmctl: %s: %s\n", cmd->name, msg);
	else
		fprintf(stderr, "vmctl: %s\n", msg);
	return VMCTL_EXIT_USAGE;
}

/* Does the daemon's message already say what failed?  It starts with the
 * operation's name ("free 0x1234: ..."), which is the command's with '_'
 * for '-' ("alloc_pages" for alloc-pages). */
static bool names_operation(const char *msg, const char *cmd)
{
	size_t n = strlen(cmd);

	for (size_t i = 0; i < n; i++) {
		char c = cmd[i] == '-' ? '_' : cmd[i];

		if (msg[i] != c)
			return false;
	}
	return msg[n] == ' ' || msg[n] == ':';
}

int fail(const struct cmd *cmd, const char *arg, int err)
{
	return fail_with(cmd, g_client, arg, err);
}

int fail_with(const struct cmd *cmd, struct vmc_client *c, const char *arg, int err)
{
	const char *msg = c ? vmc_last_message(c) : "";
	const char *text = vmc_strerror(err);
	char line[1024];
	size_t tl = strlen(text), ml = strlen(msg);
	bool complete = ml > tl + 2 && strcmp(msg + ml - tl, text) == 0 &&
			msg[ml - tl - 2] == ':';

	if (!msg[0])
		snprintf(line, sizeof(line), "%s%s%s: %s", cmd->name, arg ? " " : "", arg ? arg : "",
			 text);
	else if (complete && names_operation(msg, cmd->name))
		snprintf(line, sizeof(line), "%s", msg);
	else if (complete)
		snprintf(line, sizeof(line), "%s%s%s: %s", cmd->name, arg ? " " : "", arg ? arg : "",
			 msg);
	else
		snprintf(line, sizeof(line), "%s%s%s: %s: %s", cmd->name, arg ? " " : "",
			 arg ? arg : "", msg, text);
	if (arg_json)
		json_error(cmd, arg, err, line, false);
	else
		fprintf(stderr, "vmctl: %s\n", line);
	return VMCTL_EXIT_FAILED;
}

/* What to check when connecting to path failed, by errno. */
static const char *connect_hint(int err, const char *path)
{
	switch (err) {
	case -ENOENT:
		return "is vmallocd running? scripts/run-daemon or 'systemctl start "
		       "vmallocd.socket' starts it; --socket or $VMALLOCD_SOCKET names another";
	case -ECONNREFUSED:
		return "no vmallocd listens there (a stale socket of one that stopped?)";
	case -EACCES:
	case -EPERM:
		if (strcmp(path, CV_SYSTEM_SOCKET) == 0)
			return "the system socket is root's and the vmalloc group's: 'usermod -aG "
			       "vmalloc USER', then log in again";
		return "connecting needs write permission on the socket";
	case -EUSERS:
		return "the daemon is at its client limit (max-clients)";
	case -EPROTONOSUPPORT:
		return "vmctl and vmallocd speak different protocol versions";
	default:
		return NULL;
	}
}

int connect_failed(const struct cmd *cmd, int r)
{
	char path[128], line[768];
	const char *hint;

	if (arg_socket)
		snprintf(path, sizeof(path), "%s", arg_socket);
	else if (vmc_default_socket(path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "(the default socket)");
	hint = connect_hint(r, path);
	snprintf(line, sizeof(line), "cannot connect to %s: %s%s%s%s", path, vmc_strerror(r),
		 hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
	if (arg_json)
		json_error(cmd, path, r, line, false);
	else
		fprintf(stderr, "vmctl: %s\n", line);
	return VMCTL_EXIT_FAILED;
}

struct vmc_client *client(const struct cmd *cmd)
{
	int r;

	if (g_client)
		return g_client;
	r = vmc_connect(arg_socket, &g_client);
	if (r < 0)
		exit(connect_failed(cmd, r));
	vmc_set_timeout(g_client, arg_timeout_ms);
	vmc_set_caller(g_client, "vmctl");
	/* A person's areas belong to their shell, not to this short process:
	 * leaked only once the shell is gone (vmctl(1)). */
	vmc_set_attribute_to_parent(g_client, true);
	return g_client;
}

struct vmc_client *client_if_open(void)
{
	return g_client;
}

void client_close(void)
{
	vmc_close(g_client);
	g_client = NULL;
}

json_object *jhex(uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "0x%" PRIx64, v);
	return json_object_new_string(b);
}

json_object *jmilli(int v)
{
	char b[24];
	unsigned a = v < 0 ? (unsigned)-(long)v : (unsigned)v;

	snprintf(b, sizeof(b), "%s%u.%03u", v < 0 ? "-" : "", a / 1000, a % 1000);
	return json_object_new_double_s(v / 1000.0, b);
}

void jput(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

void jprint(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	fflush(stdout);
}

void jprint_line(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	fflush(stdout);
}

const char *size_text(uint64_t bytes, char *buf)
{
	if (arg_human)
		cv_format_size(bytes, buf, 24);
	else
		snprintf(buf, 24, "%" PRIu64, bytes);
	return buf;
}

json_object *area_json(const struct vmc_area *a)
{
	json_object *o = json_object_new_object(), *fl = json_object_new_array();
	json_object *nodes = json_object_new_array();
	char prot[4];

	jput(o, "addr", jhex(a->addr));
	jput(o, "end", jhex(a->addr + a->size));
	jput(o, "size_bytes", json_object_new_uint64(a->size));
	jput(o, "flags", jhex(a->flags));
	for (size_t i = 0; i < cv_nr_vm_flags; i++)
		if (a->flags & cv_vm_flags[i].bit)
			json_object_array_add(fl, json_object_new_string(cv_vm_flags[i].word));
	jput(o, "flag_names", fl);
	cv_prot_text(a->prot, prot);
	jput(o, "prot", json_object_new_string(prot));
	jput(o, "nr_pages", json_object_new_uint64(a->nr_pages));
	jput(o, "phys_addr", jhex(a->phys_addr));
	jput(o, "uid", json_object_new_uint64(a->uid));
	jput(o, "pid", json_object_new_uint64(a->pid));
	jput(o, "caller", json_object_new_string(a->caller));
	for (unsigned i = 0; i < a->nr_nodes; i++)
		json_object_array_add(nodes, json_object_new_uint64(a->nr_per_node[i]));
	jput(o, "nr_pages_per_node", nodes);
	jput(o, "scoped", json_object_new_boolean(a->scoped));
	jput(o, "leaked", json_object_new_boolean(a->leaked));
	return o;
}
