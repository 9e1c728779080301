/* hostmem.c -- the host's memory as a budget: how much the frames may
 * really occupy (max-resident), derived from what the host gives the
 * daemon when not configured.
 *
 * The bound is the smallest of the host's MemTotal and every memory limit
 * of the daemon's cgroup and its ancestors (v2 or v1); three quarters of it go to the
 * frames, the rest is headroom for the daemon's own metadata, its clients'
 * buffers and whatever shares the cgroup.  Past the budget a write gets
 * -ENOMEM from the engine: the host is never asked for more than it has,
 * so neither SIGBUS on the memfd nor the cgroup's OOM killer is reached.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "size.h"
#include "vmallocd.h"

/* "max" or a number of bytes, from a cgroup file: 0 and *ret, or -ENOENT. */
static int read_limit(const char *path, uint64_t *ret)
{
	FILE *f = fopen(path, "re");
	char buf[64];
	int r = -ENOENT;

	if (!f)
		return -ENOENT;
	if (fgets(buf, sizeof(buf), f) && strncmp(buf, "max", 3) != 0) {
		char *end;
		unsigned long long v = strtoull(buf, &end, 10);

		if (end != buf) {
			*ret = v;
			r = 0;
		}
	}
	fclose(f);
	return r;
}

static uint64_t mem_total(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	unsigned long long kb = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kb << 10;
}

/* The tightest limit in file (memory.max or memory.limit_in_bytes) of the
 * cgroup rel under root and its ancestors, into *ret and where if tighter
 * than what *found already holds. */
static void walk_up(const char *root, char *rel, const char *file, uint64_t *ret,
		    char *where, size_t wlen, bool *found)
{
	char path[900];

	for (;;) {
		uint64_t v;
		char *slash;

		snprintf(path, sizeof(path), "%s%s/%s", root, strcmp(rel, "/") == 0 ? "" : rel, file);
		if (read_limit(path, &v) == 0 && (!*found || v < *ret)) {
			*ret = v;
			snprintf(where, wlen, "%s", path);
			*found = true;
		}
		slash = strrchr(rel, '/');
		if (!slash || slash == rel)
			break;
		*slash = '\0';
	}
}

/* The tightest memory limit of our cgroup and its ancestors: cgroup v2's
 * memory.max (the unified hierarchy at /sys/fs/cgroup, or at
 * /sys/fs/cgroup/unified beside v1 controllers) and v1's
 * memory.limit_in_bytes.  0 with *ret and its file in where, or -ENOENT if
 * none is set. */
static int cgroup_limit(uint64_t *ret, char *where, size_t wlen)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[512], rel[512];
	bool found = false;

	while (f && fgets(line, sizeof(line), f)) {
		char *v1;

		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(rel, sizeof(rel), "%s", line + 3);
			walk_up("/sys/fs/cgroup", rel, "memory.max", ret, where, wlen, &found);
			snprintf(rel, sizeof(rel), "%s", line + 3);
			walk_up("/sys/fs/cgroup/unified", rel, "memory.max", ret, where, wlen, &found);
		} else if ((v1 = strstr(line, ":memory:")) != NULL) {
			snprintf(rel, sizeof(rel), "%s", v1 + 8);
			walk_up("/sys/fs/cgroup/memory", rel, "memory.limit_in_bytes", ret, where, wlen,
				&found);
		}
	}
	if (f)
		fclose(f);
	return found ? 0 : -ENOENT;
}

uint64_t hostmem_budget(uint64_t configured, char *why, size_t whylen)
{
	char where[900], lim[32], bud[32];
	uint64_t limit = mem_total(), cg = 0, budget;
	bool from_cgroup = false;

	if (configured) {
		cv_format_size(configured, bud, sizeof(bud));
		snprintf(why, whylen, "max-resident %s (configured)", bud);
		return configured >> VM_PAGE_SHIFT;
	}
	if (cgroup_limit(&cg, where, sizeof(where)) == 0 && (!limit || cg < limit)) {
		limit = cg;
		from_cgroup = true;
	}
	if (!limit) {
		snprintf(why, whylen, "no host memory limit known");
		return 0;
	}
	budget = limit / 4 * 3;
	cv_format_size(limit, lim, sizeof(lim));
	cv_format_size(budget, bud, sizeof(bud));
	if (from_cgroup)
		snprintf(why, whylen, "max-resident %s, 3/4 of the memory cgroup's limit (%s = %s)",
			 bud, where, lim);
	else
		snprintf(why, whylen, "max-resident %s, 3/4 of the host's MemTotal (%s)", bud, lim);
	return budget >> VM_PAGE_SHIFT;
}
