/* plot.c -- vmreplay --plot: samples of each replay kept in memory (thinned
 * as they grow, plot.h), written to CSV files and drawn by gnuplot (Debian's
 * gnuplot-nox, its pngcairo terminal) from a script on its standard input.
 * Nothing is drawn here.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plot.h"

#define MAX_SERIES 4

int vr_plot_series_init(struct vr_plot_series *s, const char *label)
{
	memset(s, 0, sizeof(*s));
	s->label = label;
	s->row_every = 1;
	s->point_every = 1;
	s->rows = malloc(VR_PLOT_ROWS * sizeof(*s->rows));
	s->points = malloc(VR_PLOT_POINTS * sizeof(*s->points));
	if (!s->rows || !s->points) {
		vr_plot_series_done(s);
		return -ENOMEM;
	}
	return 0;
}

void vr_plot_series_done(struct vr_plot_series *s)
{
	free(s->rows);
	free(s->points);
	s->rows = NULL;
	s->points = NULL;
}

bool vr_plot_row_due(const struct vr_plot_series *s, uint64_t event)
{
	return event % s->row_every == 0;
}

void vr_plot_add_row(struct vr_plot_series *s, const struct vr_plot_row *r)
{
	if (s->nr_rows && s->rows[s->nr_rows - 1].event == r->event) {
		s->rows[s->nr_rows - 1] = *r;
		return;
	}
	if (s->nr_rows == VR_PLOT_ROWS) {
		/* Keep the rows at multiples of the doubled interval. */
		size_t n = 0;

		s->row_every *= 2;
		for (size_t i = 0; i < s->nr_rows; i++)
			if (s->rows[i].event % s->row_every == 0)
				s->rows[n++] = s->rows[i];
		s->nr_rows = n;
		if (r->event % s->row_every && n == VR_PLOT_ROWS)
			return;
	}
	s->rows[s->nr_rows++] = *r;
}

void vr_plot_add_point(struct vr_plot_series *s, const struct vr_plot_point *p)
{
	if (s->points_seen++ % s->point_every)
		return;
	if (s->nr_points == VR_PLOT_POINTS) {
		size_t n = 0;

		for (size_t i = 0; i < s->nr_points; i += 2)
			s->points[n++] = s->points[i];
		s->nr_points = n;
		s->point_every *= 2;
		if ((s->points_seen - 1) % s->point_every)
			return;
	}
	s->points[s->nr_points++] = *p;
}

/* ---- drawing ------------------------------------------------------------------ */

/* A string as a gnuplot double-quoted string (backslash and quote escaped). */
static void quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static int temp_file(char *path, size_t len, FILE **ret)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, len, "%s/vmreplay-plot-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	*ret = fdopen(fd, "w");
	if (!*ret) {
		int e = -errno;

		close(fd);
		unlink(path);
		return e;
	}
	return 0;
}

static int write_rows(const struct vr_plot_series *s, FILE *f)
{
	for (size_t i = 0; i < s->nr_rows; i++) {
		const struct vr_plot_row *r = &s->rows[i];

		fprintf(f, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
			",%" PRIu64 "\n", r->event, r->vmalloc_kb, r->lazy_pages, r->pooled_pages,
			r->purges, r->agree, r->pairs);
	}
	return ferror(f) ? -EIO : 0;
}

static int write_points(const struct vr_plot_series *s, FILE *f)
{
	for (size_t i = 0; i < s->nr_points; i++)
		fprintf(f, "%" PRIu64 ",%.6f,%.6f\n", s->points[i].event,
			(double)s->points[i].trace_off / (1 << 20), (double)s->points[i].off / (1 << 20));
	return ferror(f) ? -EIO : 0;
}

/* Line styles: the first series drawn wide underneath, the others narrower
 * on top, so that where two kernels agree both stay visible. */
static void style(FILE *f, unsigned i)
{
	static const char *colour[MAX_SERIES] = { "#d95f02", "#1b9e77", "#7570b3", "#e7298a" };

	fprintf(f, "lc rgb \"%s\" lw %s", colour[i % MAX_SERIES], i == 0 ? "4" : "1.5");
}

static void script(FILE *f, const char *png, const char *title, const struct vr_plot_series *s,
		   unsigned n, char rows[][4096], char points[][4096])
{
	fprintf(f, "set terminal pngcairo noenhanced size 1400,1000 font \"sans,11\"\nset output ");
	quoted(f, png);
	fprintf(f, "\nset datafile separator \",\"\nset grid\nset key top center horizontal outside\n"
		"set xlabel \"events replayed\"\nset format y \"%%g\"\nset multiplot layout 2,2 title ");
	quoted(f, title);
	fprintf(f, " font \"sans,13\"\n");

	fprintf(f, "set title \"where each allocation went: its offset from VMALLOC_START");
	if (s[0].point_every > 1)
		fprintf(f, " (one allocation in %" PRIu64 ")", s[0].point_every);
	fprintf(f, "\"\nset ylabel \"MiB\"\nplot ");
	quoted(f, points[0]);
	fprintf(f, " using 1:2 with points pt 7 ps 0.9 lc rgb \"#999999\" title \"the trace\"");
	for (unsigned i = 0; i < n; i++) {
		fprintf(f, ", \\\n     ");
		quoted(f, points[i]);
		fprintf(f, " using 1:3 with points pt %u ps %s lc rgb \"%s\" title ", i ? 1 : 6,
			i ? "0.6" : "0.9", i == 0 ? "#d95f02" : "#1b9e77");
		quoted(f, s[i].label);
	}
	fprintf(f, "\n");

	fprintf(f, "set title \"placement: consecutive deltas agreeing with the trace, so far\"\n"
		"set ylabel \"%%\"\nset yrange [0:105]\nplot ");
	for (unsigned i = 0; i < n; i++) {
		fprintf(f, "%s", i ? ", \\\n     " : "");
		quoted(f, rows[i]);
		fprintf(f, " using 1:($7 > 0 ? 100.0 * $6 / $7 : NaN) with lines ");
		style(f, i);
		fprintf(f, " title ");
		quoted(f, s[i].label);
	}
	fprintf(f, "\nset autoscale y\n");

	fprintf(f, "set title \"lazily freed KVA (solid), KVA in the vmap-node pools (dashed)\"\n"
		"set ylabel \"pages\"\nset offsets 0, 0, graph 0.05, 0\nplot ");
	for (unsigned i = 0; i < n; i++) {
		char t[128];

		fprintf(f, "%s", i ? ", \\\n     " : "");
		quoted(f, rows[i]);
		fprintf(f, " using 1:3 with steps ");
		style(f, i);
		fprintf(f, " title ");
		quoted(f, s[i].label);
		fprintf(f, ", \\\n     ");
		quoted(f, rows[i]);
		fprintf(f, " using 1:4 with steps dt 2 ");
		style(f, i);
		snprintf(t, sizeof(t), "%s pooled", s[i].label);
		fprintf(f, " title ");
		quoted(f, t);
	}
	fprintf(f, "\n");

	fprintf(f, "set title \"vmalloc use\"\nset ylabel \"kB mapped by vmalloc areas\"\nplot ");
	for (unsigned i = 0; i < n; i++) {
		fprintf(f, "%s", i ? ", \\\n     " : "");
		quoted(f, rows[i]);
		fprintf(f, " using 1:2 with steps ");
		style(f, i);
		fprintf(f, " title ");
		quoted(f, s[i].label);
	}
	fprintf(f, "\nunset multiplot\n");
}

/* Run gnuplot on the script; what it says goes to errs (shown if it fails). */
static int run_gnuplot(const char *png, const char *title, const struct vr_plot_series *s,
		       unsigned n, char rows[][4096], char points[][4096], FILE *errs)
{
	int pfd[2], status;
	pid_t pid;
	FILE *f;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		close(pfd[0]);
		close(pfd[1]);
		return e;
	}
	if (pid == 0) {
		dup2(pfd[0], 0);
		dup2(fileno(errs), 2);
		execlp("gnuplot", "gnuplot", (char *)NULL);
		_exit(127);
	}
	close(pfd[0]);
	f = fdopen(pfd[1], "w");
	if (!f) {
		close(pfd[1]);
		waitpid(pid, &status, 0);
		return -ENOMEM;
	}
	script(f, png, title, s, n, rows, points);
	if (fclose(f) != 0) {
		waitpid(pid, &status, 0);
		return -EIO;
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int vr_plot(const char *png, const char *title, const struct vr_plot_series *s, unsigned n)
{
	char rows[MAX_SERIES][4096] = { "" }, points[MAX_SERIES][4096] = { "" }, errpath[4096] = "";
	FILE *errs = NULL;
	int r = n && n <= MAX_SERIES ? 0 : -EINVAL;

	for (unsigned i = 0; i < n && r == 0; i++) {
		FILE *f;

		r = temp_file(rows[i], sizeof(rows[i]), &f);
		if (r == 0) {
			r = write_rows(&s[i], f);
			if (fclose(f) != 0 && r == 0)
				r = -EIO;
		}
		if (r == 0)
			r = temp_file(points[i], sizeof(points[i]), &f);
		if (r == 0) {
			r = write_points(&s[i], f);
			if (fclose(f) != 0 && r == 0)
				r = -EIO;
		}
	}
	if (r == 0)
		r = temp_file(errpath, sizeof(errpath), &errs);
	if (r == 0) {
		r = run_gnuplot(png, title, s, n, rows, points, errs);
		if (r == -EIO) {
			char line[512];

			rewind(errs);
			while (fgets(line, sizeof(line), errs))
				fputs(line, stderr);
		}
	}
	if (errs)
		fclose(errs);
	if (errpath[0])
		unlink(errpath);
	for (unsigned i = 0; i < n && i < MAX_SERIES; i++) {
		if (rows[i][0])
			unlink(rows[i]);
		if (points[i][0])
			unlink(points[i]);
	}
	return r;
}
