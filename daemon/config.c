/* config.c -- vmallocd's options: one table of keys shared by the config file
 * (vmallocd.conf, parsed with inih) and the command line, so every key of the
 * file is also an option and both are validated by the same setter.
 *
 * Precedence: defaults, then the config file, then the command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "size.h"
#include "vmallocd.h"

#define DEFAULT_CONFIG SYSCONFDIR "/vmallocd.conf"

void options_init(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->socket_mode = 0660;
	o->memory = 1ull << 30;
	o->nodes = 1;
	o->layout = VM_LAYOUT_X86_64;
	o->kernel = VM_KERNEL_6_18;
	o->cpus = 1;
	o->page_policy = VM_POLICY_ORDER0;
	o->scrub = true;
	o->max_clients = 1024;
	o->max_frame = VMD_MAX_FRAME;
	o->output_limit = 16ull << 20;
	o->stall_timeout_ms = 10000;
	/* A connection that says nothing for this long goes: silent ones
	 * must not hold their slots forever. */
	o->idle_timeout_ms = 300000;
	o->max_areas = 1u << 20;
	o->max_clients_uid = 256;
	/* Spinning a little after serving halves a chatty client's round trip
	 * on an otherwise idle machine; an idle daemon still sleeps. */
	o->busy_poll_us = 50;
	o->log_level = VM_LOG_INFO;
	o->journal_size = 64ull << 20;
}

void options_free(struct options *o)
{
	free(o->config_file);
	free(o->socket_path);
	free(o->quotas);
	free(o->http);
	o->http = NULL;
	free(o->state_dir);
	o->state_dir = NULL;
	free(o->restore);
	o->restore = NULL;
	o->config_file = o->socket_path = NULL;
	o->quotas = NULL;
	o->nr_quotas = 0;
}

static int parse_uint(const char *v, unsigned long long max, unsigned long long *ret)
{
	unsigned long long x;
	char *end;

	if (!v || *v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || *end || x > max)
		return -EINVAL;
	*ret = x;
	return 0;
}

/* "10", "10s", "500ms", "2m": milliseconds. */
static int parse_duration(const char *v, unsigned *ret_ms)
{
	unsigned long long x;
	char *end;
	unsigned mul = 1000;

	if (!v || *v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno)
		return -EINVAL;
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		mul = 60000;
	else if (*end && strcmp(end, "s") != 0)
		return -EINVAL;
	if (x > UINT32_MAX / mul)
		return -EINVAL;
	*ret_ms = (unsigned)(x * mul);
	return 0;
}

static int parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int set_string(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int add_quota(struct options *o, uint32_t uid, uint64_t pages)
{
	struct quota_rule *q;

	for (unsigned i = 0; i < o->nr_quotas; i++) {
		if (o->quotas[i].uid == uid) {
			o->quotas[i].pages = pages;
			return 0;
		}
	}
	q = realloc(o->quotas, (o->nr_quotas + 1) * sizeof(*q));
	if (!q)
		return -ENOMEM;
	o->quotas = q;
	q[o->nr_quotas].uid = uid;
	q[o->nr_quotas].pages = pages;
	o->nr_quotas++;
	return 0;
}

/* "UID=SIZE" */
static int parse_quota_rule(struct options *o, const char *v)
{
	unsigned long long uid;
	uint64_t bytes;
	char buf[32];
	const char *eq = strchr(v, '=');

	if (!eq || (size_t)(eq - v) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, (size_t)(eq - v));
	buf[eq - v] = '\0';
	if (parse_uint(buf, UINT32_MAX, &uid) < 0 || cv_parse_size(eq + 1, &bytes) < 0)
		return -EINVAL;
	return add_quota(o, (uint32_t)uid, bytes >> VM_PAGE_SHIFT);
}

static int parse_level(const char *v, int *ret)
{
	static const char *const names[] = { "emerg", "alert", "crit", "err", "warning",
					     "notice", "info", "debug" };
	unsigned long long x;

	for (int i = 0; i < 8; i++) {
		if (strcasecmp(v, names[i]) == 0) {
			*ret = i;
			return 0;
		}
	}
	if (parse_uint(v, 7, &x) < 0)
		return -EINVAL;
	*ret = (int)x;
	return 0;
}

enum key {
	K_CONFIG = 256, K_SOCKET, K_SOCKET_MODE, K_MEMORY, K_NODES, K_LAYOUT, K_KERNEL, K_CPUS,
	K_MOVABLE,
	K_LAZY_MAX, K_PAGE_POLICY, K_SCRUB, K_MAX_CLIENTS, K_MAX_FRAME, K_OUTPUT_LIMIT,
	K_STALL_TIMEOUT, K_IDLE_TIMEOUT, K_BUSY_POLL, K_QUOTA, K_QUOTA_UID, K_LOG_LEVEL,
	K_MAX_RESIDENT, K_MAX_AREAS, K_MAX_CLIENTS_UID,
	K_HTTP, K_STATE_DIR, K_FD_STORE, K_DISCARD_STATE, K_JOURNAL_SIZE, K_RESTORE,
};

static const struct keydef {
	const char *name;
	enum key key;
	const char *arg;
	const char *help;
} keys[] = {
	{ "socket", K_SOCKET, "PATH", "listen here when not socket-activated" },
	{ "socket-mode", K_SOCKET_MODE, "MODE", "octal mode of a socket we bind (0660)" },
	{ "memory", K_MEMORY, "SIZE", "simulated memory, K/M/G/T suffixes (1G)" },
	{ "nodes", K_NODES, "N", "NUMA nodes, 1..64 (1)" },
	{ "layout", K_LAYOUT, "NAME", "x86_64 or i386 (x86_64)" },
	{ "kernel", K_KERNEL, "VERSION", "the kernel the machine follows: 6.18 or 4.19 (6.18)" },
	{ "cpus", K_CPUS, "N", "simulated online CPUs, 1..8192, i386 1..64 (1)" },
	{ "movable", K_MOVABLE, "SIZE", "ZONE_MOVABLE carved from each node (0)" },
	{ "lazy-max", K_LAZY_MAX, "SIZE", "lazily freed KVA before a purge (fls(cpus) * 32M)" },
	{ "page-policy", K_PAGE_POLICY, "NAME", "order0 or high-order-first (order0)" },
	{ "scrub", K_SCRUB, "BOOL", "zero frames as they are freed (yes)" },
	{ "max-clients", K_MAX_CLIENTS, "N", "connections at once, the last 1/16 kept for root (1024)" },
	{ "max-clients-per-uid", K_MAX_CLIENTS_UID, "N", "connections of one non-root uid, 0: any (256)" },
	{ "max-frame", K_MAX_FRAME, "SIZE", "largest frame accepted (2M)" },
	{ "output-limit", K_OUTPUT_LIMIT, "SIZE", "replies buffered per client before pausing it (16M)" },
	{ "stall-timeout", K_STALL_TIMEOUT, "TIME", "close a connection stuck in a frame (10s)" },
	{ "idle-timeout", K_IDLE_TIMEOUT, "TIME", "close an idle connection, 0: never (5m)" },
	{ "busy-poll", K_BUSY_POLL, "TIME", "poll this long after a request before sleeping (50us)" },
	{ "quota", K_QUOTA, "SIZE", "memory per non-root uid, 0: none (0)" },
	{ "quota-uid", K_QUOTA_UID, "UID=SIZE", "memory for one uid (repeatable)" },
	{ "max-areas", K_MAX_AREAS, "N", "areas of one non-root uid, 0: any (1048576)" },
	{ "log-level", K_LOG_LEVEL, "LEVEL", "err, warning, info or debug (info)" },
	{ "max-resident", K_MAX_RESIDENT, "SIZE", "host memory the frames may occupy, auto: "
	  "3/4 of the cgroup's or host's (auto)" },
	{ "http", K_HTTP, "ADDR:PORT", "serve /metrics and the live page there (off)" },
	{ "state-dir", K_STATE_DIR, "DIR", "keep the machine in files there across restarts (off)" },
	{ "fd-store", K_FD_STORE, "[=BOOL]", "keep the machine in systemd's fd store (no)" },
	{ "discard-state", K_DISCARD_STATE, "[=BOOL]", "move a state that fails validation aside, "
	  "start empty (no)" },
	{ "journal-size", K_JOURNAL_SIZE, "SIZE", "journal bytes that trigger a checkpoint (64M)" },
	{ "restore", K_RESTORE, "FILE", "start from the machine a snapshot file holds" },
};

static int set_key(struct options *o, enum key k, const char *v)
{
	unsigned long long x;
	uint64_t bytes;
	int r = 0;

	switch (k) {
	case K_CONFIG:
		return set_string(&o->config_file, v);
	case K_SOCKET:
		if (!*v || strlen(v) >= 108)
			return -EINVAL;
		return set_string(&o->socket_path, v);
	case K_SOCKET_MODE:
		errno = 0;
		x = strtoull(v, NULL, 8);
		if (errno || x > 0777)
			return -EINVAL;
		o->socket_mode = (unsigned)x;
		return 0;
	case K_MEMORY:
		return cv_parse_size(v, &o->memory);
	case K_NODES:
		r = parse_uint(v, VM_MAX_NODES, &x);
		if (r == 0 && x == 0)
			r = -EINVAL;
		if (r == 0)
			o->nodes = (unsigned)x;
		return r;
	case K_LAYOUT:
		return vm_layout_from_name(v, &o->layout);
	case K_KERNEL:
		return vm_kernel_from_name(v, &o->kernel);
	case K_CPUS:
		/* The layout's own bound is checked when the machine is made. */
		r = parse_uint(v, VM_MAX_CPUS, &x);
		if (r == 0 && x == 0)
			r = -EINVAL;
		if (r == 0)
			o->cpus = (unsigned)x;
		return r;
	case K_MOVABLE:
		return cv_parse_size(v, &o->movable);
	case K_LAZY_MAX:
		r = cv_parse_size(v, &bytes);
		if (r == 0)
			o->lazy_max_pages = bytes >> VM_PAGE_SHIFT;
		return r;
	case K_PAGE_POLICY:
		if (strcmp(v, "order0") == 0)
			o->page_policy = VM_POLICY_ORDER0;
		else if (strcmp(v, "high-order-first") == 0)
			o->page_policy = VM_POLICY_HIGH_ORDER_FIRST;
		else
			return -EINVAL;
		return 0;
	case K_SCRUB:
		return parse_bool(v, &o->scrub);
	case K_MAX_CLIENTS:
		r = parse_uint(v, 1000000, &x);
		if (r == 0 && x == 0)
			r = -EINVAL;
		if (r == 0)
			o->max_clients = (unsigned)x;
		return r;
	case K_MAX_FRAME:
		r = cv_parse_size(v, &bytes);
		if (r == 0 && (bytes < 64 || bytes > VMD_MAX_FRAME))
			r = -EINVAL;
		if (r == 0)
			o->max_frame = (uint32_t)bytes;
		return r;
	case K_OUTPUT_LIMIT:
		r = cv_parse_size(v, &bytes);
		if (r == 0 && bytes < VMD_MAX_FRAME)
			r = -EINVAL;
		if (r == 0)
			o->output_limit = bytes;
		return r;
	case K_STALL_TIMEOUT:
		r = parse_duration(v, &o->stall_timeout_ms);
		return r;
	case K_IDLE_TIMEOUT:
		return parse_duration(v, &o->idle_timeout_ms);
	case K_BUSY_POLL: {
		unsigned ms;

		/* Microseconds: "50us"; plain numbers and other units as for times. */
		if (strlen(v) > 2 && strcmp(v + strlen(v) - 2, "us") == 0) {
			r = parse_uint(strndupa(v, strlen(v) - 2), 1000000, &x);
			if (r == 0)
				o->busy_poll_us = (unsigned)x;
			return r;
		}
		r = parse_duration(v, &ms);
		if (r == 0 && ms > 1000)
			r = -EINVAL;
		if (r == 0)
			o->busy_poll_us = ms * 1000;
		return r;
	}
	case K_QUOTA:
		r = cv_parse_size(v, &bytes);
		if (r == 0)
			o->default_quota = bytes >> VM_PAGE_SHIFT;
		return r;
	case K_QUOTA_UID:
		return parse_quota_rule(o, v);
	case K_LOG_LEVEL:
		return parse_level(v, &o->log_level);
	case K_MAX_AREAS:
		r = parse_uint(v, UINT32_MAX, &x);
		if (r == 0)
			o->max_areas = (unsigned)x;
		return r;
	case K_MAX_CLIENTS_UID:
		r = parse_uint(v, 1000000, &x);
		if (r == 0)
			o->max_clients_uid = (unsigned)x;
		return r;
	case K_MAX_RESIDENT:
		if (strcmp(v, "auto") == 0) {
			o->max_resident = 0;
			return 0;
		}
		r = cv_parse_size(v, &bytes);
		if (r == 0 && bytes < VM_PAGE_SIZE)
			r = -EINVAL;
		if (r == 0)
			o->max_resident = bytes;
		return r;
	case K_STATE_DIR:
		if (!*v || strcmp(v, "off") == 0) {
			free(o->state_dir);
			o->state_dir = NULL;
			return 0;
		}
		if (strlen(v) > 4000)
			return -EINVAL;
		return set_string(&o->state_dir, v);
	case K_FD_STORE:
		return parse_bool(v, &o->fd_store);
	case K_DISCARD_STATE:
		return parse_bool(v, &o->discard_state);
	case K_RESTORE:
		if (!*v || strlen(v) > 4000)
			return -EINVAL;
		return set_string(&o->restore, v);
	case K_JOURNAL_SIZE:
		r = cv_parse_size(v, &bytes);
		if (r == 0 && (bytes < (1u << 20) || bytes > (1ull << 40)))
			r = -EINVAL;
		if (r == 0)
			o->journal_size = bytes;
		return r;
	case K_HTTP:
		/* "off" or empty: none; else checked when the socket is bound. */
		if (!*v || strcmp(v, "off") == 0) {
			free(o->http);
			o->http = NULL;
			return 0;
		}
		if (strlen(v) > 128 || !strchr(v, ':'))
			return -EINVAL;
		return set_string(&o->http, v);
	}
	return -EINVAL;
}

static const struct keydef *find_key(const char *name)
{
	char norm[64];
	size_t n = strlen(name);

	if (n >= sizeof(norm))
		return NULL;
	/* The file may spell keys with '_' or '-'. */
	for (size_t i = 0; i <= n; i++)
		norm[i] = name[i] == '_' ? '-' : name[i];
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, norm) == 0)
			return &keys[i];
	return NULL;
}

struct ini_ctx {
	struct options *o;
	const char *file;
	int err;
};

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *c = user;
	const struct keydef *k;
	int r;

	if (strcmp(section, "quota") == 0) {
		char rule[128];

		snprintf(rule, sizeof(rule), "%s=%s", name, value);
		r = parse_quota_rule(c->o, rule);
	} else if (*section && strcmp(section, "vmallocd") != 0) {
		vmd_log(VM_LOG_ERR, "%s: unknown section [%s]", c->file, section);
		r = -EINVAL;
	} else if (!(k = find_key(name))) {
		vmd_log(VM_LOG_ERR, "%s: unknown key '%s'", c->file, name);
		r = -EINVAL;
	} else {
		r = set_key(c->o, k->key, value);
	}
	if (r < 0) {
		if (!c->err && r == -ENOMEM)
			vmd_log(VM_LOG_ERR, "%s: '%s': %s", c->file, name, strerror(-r));
		else if (!c->err)
			vmd_log(VM_LOG_ERR, "%s: bad value for '%s': '%s'", c->file, name, value);
		c->err = r;
		return 0;
	}
	return 1;
}

/* Only a regular file is a configuration: a directory would read as an
 * empty one (every quota gone on a reload), a FIFO or a device could block
 * the daemon or never end. */
static int load_file(struct options *o, const char *file, bool must_exist)
{
	struct ini_ctx c = { .o = o, .file = file };
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	FILE *f;
	int line, err;

	if (fd < 0) {
		err = errno;
		if (!must_exist && err == ENOENT)
			return 0;
		vmd_log(VM_LOG_ERR, "cannot open %s: %s", file, strerror(err));
		return -err;
	}
	if (fstat(fd, &st) < 0) {
		err = errno;
		vmd_log(VM_LOG_ERR, "cannot stat %s: %s", file, strerror(err));
		close(fd);
		return -err;
	}
	/* /dev/null, the usual way to say "no file", reads as an empty one. */
	if (!S_ISREG(st.st_mode) && !(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))) {
		vmd_log(VM_LOG_ERR, "%s %s", file,
			S_ISDIR(st.st_mode) ? "is a directory, not a configuration file" :
			"is not a regular file");
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		err = errno;
		close(fd);
		vmd_log(VM_LOG_ERR, "cannot read %s: %s", file, strerror(err));
		return -err;
	}
	line = ini_parse_file(f, conf_handler, &c);
	fclose(f);
	if (line > 0 && !c.err) {
		vmd_log(VM_LOG_ERR, "%s:%d: syntax error", file, line);
		return -EINVAL;
	}
	return c.err ? c.err : 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: vmallocd [--config FILE] [OPTION...]\n\n"
		"Serve a simulated machine's vmalloc and buddy allocator over a UNIX socket.\n\n"
		"  --config FILE        read options from FILE (default %s)\n", DEFAULT_CONFIG);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char left[40];

		snprintf(left, sizeof(left), "--%s%s%s", keys[i].name, keys[i].arg[0] == '[' ? "" : " ",
			 keys[i].arg);
		fprintf(out, "  %-20s %s\n", left, keys[i].help);
	}
	fprintf(out, "  --help               this text\n  --version            the version\n\n"
		"Every option is also a key of the config file (e.g. memory = 4G).\n");
}

int options_parse(struct options *o, int argc, char **argv)
{
	struct option lopts[sizeof(keys) / sizeof(keys[0]) + 4];
	size_t n = 0;
	int c, r;

	/* --discard-state and --fd-store alone mean yes. */
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		lopts[n++] = (struct option){ keys[i].name,
			keys[i].key == K_DISCARD_STATE || keys[i].key == K_FD_STORE ?
			optional_argument : required_argument, NULL, (int)keys[i].key };
	lopts[n++] = (struct option){ "config", required_argument, NULL, K_CONFIG };
	lopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	lopts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	lopts[n] = (struct option){ NULL, 0, NULL, 0 };

	/* First pass: only --config, so the file is read before the rest. */
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		if (c == K_CONFIG && (r = set_key(o, K_CONFIG, optarg)) < 0) {
			vmd_log(VM_LOG_ERR, "--config: %s", strerror(-r));
			return r;
		}
	}
	r = load_file(o, o->config_file ? o->config_file : DEFAULT_CONFIG, o->config_file != NULL);
	if (r < 0)
		return r;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("vmallocd %s\n", VMALLOCD_VERSION);
			return 1;
		case K_CONFIG:
			break;
		case '?':
			vmd_log(VM_LOG_ERR, "unknown option or missing value: '%s' (see --help)",
				argv[optind - 1]);
			return -EINVAL;
		default:
			r = set_key(o, (enum key)c, optarg ? optarg : "yes");
			if (r < 0) {
				for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
					if (keys[i].key == (enum key)c && r == -ENOMEM)
						vmd_log(VM_LOG_ERR, "--%s: %s", keys[i].name,
							strerror(-r));
					else if (keys[i].key == (enum key)c)
						vmd_log(VM_LOG_ERR, "bad value for --%s: '%s'",
							keys[i].name, optarg);
				return r;
			}
		}
	}
	if (optind < argc) {
		vmd_log(VM_LOG_ERR, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Keys read at start only: a reload that changes one says so, and which. */
static void warn_restart_only(const struct options *o, const struct options *n)
{
	char names[256] = "";
	size_t len = 0;
	const struct {
		const char *name;
		bool changed;
	} fixed[] = {
		{ "memory", o->memory != n->memory },
		{ "nodes", o->nodes != n->nodes },
		{ "layout", o->layout != n->layout },
		{ "kernel", o->kernel != n->kernel },
		{ "cpus", o->cpus != n->cpus },
		{ "movable", o->movable != n->movable },
		{ "lazy-max", o->lazy_max_pages != n->lazy_max_pages },
		{ "page-policy", o->page_policy != n->page_policy },
		{ "scrub", o->scrub != n->scrub },
		{ "max-resident", o->max_resident != n->max_resident },
		{ "state-dir", (o->state_dir == NULL) != (n->state_dir == NULL) ||
			       (o->state_dir && strcmp(o->state_dir, n->state_dir) != 0) },
		{ "fd-store", o->fd_store != n->fd_store },
		{ "socket", (o->socket_path == NULL) != (n->socket_path == NULL) ||
			    (o->socket_path && strcmp(o->socket_path, n->socket_path) != 0) },
		{ "socket-mode", o->socket_mode != n->socket_mode },
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (fixed[i].changed && len < sizeof(names))
			len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s",
						len ? ", " : "", fixed[i].name);
	if (len)
		vmd_log(VM_LOG_WARNING, "reload: %s changed but take%s effect only at a restart; "
			"kept as started", names, strchr(names, ',') ? "" : "s");
}

int options_reload(struct options *o, int argc, char **argv)
{
	struct options n;
	int r;

	/* The same precedence as at start: defaults, file, command line. */
	options_init(&n);
	r = options_parse(&n, argc, argv);
	if (r != 0)
		goto out;
	/* Runtime keys only; the machine (memory, layout, kernel, CPUs) and the
	 * socket stay as started, and a change to them is named. */
	warn_restart_only(o, &n);
	o->max_clients = n.max_clients;
	o->max_clients_uid = n.max_clients_uid;
	o->max_areas = n.max_areas;
	o->max_frame = n.max_frame;
	o->output_limit = n.output_limit;
	o->stall_timeout_ms = n.stall_timeout_ms;
	o->idle_timeout_ms = n.idle_timeout_ms;
	o->busy_poll_us = n.busy_poll_us;
	o->default_quota = n.default_quota;
	o->log_level = n.log_level;
	o->journal_size = n.journal_size;
	free(o->quotas);
	o->quotas = n.quotas;
	o->nr_quotas = n.nr_quotas;
	n.quotas = NULL;
	n.nr_quotas = 0;
out:
	options_free(&n);
	return r < 0 ? r : 0;
}

uint64_t options_quota(const struct options *o, uint32_t uid)
{
	for (unsigned i = 0; i < o->nr_quotas; i++)
		if (o->quotas[i].uid == uid)
			return o->quotas[i].pages;
	return uid == 0 ? 0 : o->default_quota;
}
