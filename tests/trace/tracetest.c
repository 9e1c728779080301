/* tracetest.c -- the trace tests' scaffolding (tracetest.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tracetest.h"

static char tmpdir[256];

static struct tt_trace *read_reader(struct vt_reader *r)
{
	struct tt_trace *t = calloc(1, sizeof(*t));
	struct vt_event ev;
	int k;

	if (!t) {
		vt_reader_close(r);
		return NULL;
	}
	while ((k = vt_reader_next(r, &ev)) == 1) {
		if (t->n < TT_MAX_EVENTS) {
			unsigned i = t->n++;

			t->ev[i] = ev;
			if (ev.caller)
				t->ev[i].caller = strcpy(t->caller[i], ev.caller);
			if (ev.comm)
				t->ev[i].comm = strcpy(t->comm[i], ev.comm);
		}
		t->total++;
	}
	t->rc = k;
	snprintf(t->err, sizeof(t->err), "%s", vt_reader_error(r));
	t->info = *vt_reader_info(r);
	vt_reader_close(r);
	return t;
}

struct tt_trace *tt_read_file(const char *path, enum vt_format fmt, bool skip_bad)
{
	struct vt_reader_opts o = { .format = fmt, .skip_bad = skip_bad };
	struct vt_reader *r;
	char msg[VT_MSG_MAX];
	struct tt_trace *t;

	if (vt_reader_open(path, &o, &r, msg) < 0) {
		t = calloc(1, sizeof(*t));
		if (t) {
			t->rc = -ENOENT;
			snprintf(t->err, sizeof(t->err), "%s", msg);
		}
		return t;
	}
	return read_reader(r);
}

struct tt_trace *tt_read_text(const char *name, const char *text, enum vt_format fmt,
			      bool skip_bad)
{
	struct vt_reader_opts o = { .format = fmt, .skip_bad = skip_bad };
	struct vt_reader *r;
	size_t len = strlen(text);
	int fd = memfd_create("trace", MFD_CLOEXEC);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0 ||
	    vt_reader_open_fd(fd, name, &o, &r) < 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	return read_reader(r);
}

char *tt_temp_file(const char *name, const void *data, size_t len)
{
	char *path;
	int fd;

	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "%s/tracetest.XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(tmpdir)) {
			tmpdir[0] = '\0';
			return NULL;
		}
	}
	if (asprintf(&path, "%s/%s", tmpdir, name) < 0)
		return NULL;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len)) {
		if (fd >= 0)
			close(fd);
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

void tt_cleanup(void)
{
	char cmd[512];

	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "tracetest: could not remove %s\n", tmpdir);
	tmpdir[0] = '\0';
}
