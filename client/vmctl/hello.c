/* hello.c -- who answers: the daemon's Hello (version, limits, the peer
 * identity it sees), and ping, Hello round trips timed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmctl.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Microseconds to a tenth, as the text prints them. */
static json_object *jus(double us)
{
	char b[32];

	snprintf(b, sizeof(b), "%.1f", us);
	return json_object_new_double_s(us, b);
}

static json_object *hello_json(const struct vmc_hello *h, const struct vmc_identity *id)
{
	json_object *o = json_object_new_object();

	jput(o, "version", json_object_new_uint64(h->version));
	jput(o, "server", json_object_new_string(h->server));
	jput(o, "max_frame_bytes", json_object_new_uint64(h->max_frame));
	jput(o, "max_io_bytes", json_object_new_uint64(h->max_io));
	jput(o, "uid", json_object_new_uint64(h->uid));
	jput(o, "pid", json_object_new_uint64(h->pid));
	jput(o, "kernel", json_object_new_string(h->kernel));
	jput(o, "cpus", json_object_new_uint64(h->nr_cpus));
	if (id) {
		jput(o, "boot_id", json_object_new_uint64(id->boot_id));
		jput(o, "state_generation", json_object_new_uint64(id->state_generation));
	}
	return o;
}

int cmd_hello(const struct cmd *cmd, int argc, char **argv)
{
	struct vmc_hello h;
	struct vmc_identity id;
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, NULL, 0, 0);
	r = vmc_hello(client(cmd), &h);
	if (r == 0)
		r = vmc_identity(client(cmd), &id);
	if (r < 0)
		return fail(cmd, NULL, r);
	if (arg_json) {
		jprint(hello_json(&h, &id));
	} else {
		char f[24], io[24];

		printf("server:    %s\nversion:   %" PRIu32 "\nmax_frame: %s\nmax_io:    %s\n"
		       "uid:       %" PRIu32 "\npid:       %" PRIu32 "\nkernel:    %s\ncpus:      %u\n",
		       h.server, h.version, size_text(h.max_frame, f), size_text(h.max_io, io), h.uid,
		       h.pid, h.kernel, h.nr_cpus);
		printf("boot_id:   %016" PRIx64 "\nstate_generation: %016" PRIx64 "\n", id.boot_id,
		       id.state_generation);
	}
	return VMCTL_EXIT_OK;
}

static int count_opt(const struct cmd *cmd, int ch, const char *optarg, void *ctx)
{
	if (ch != OPT_COUNT)
		return -1;
	return arg_long(cmd, "count", optarg, 1, 1000000, ctx);
}

int cmd_ping(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, OPT_COUNT },
		COMMON_OPTS
	};
	long count = 1;
	struct vmc_hello h;
	double *rtt, sum = 0, min = 0, max = 0;
	int r;

	positional(cmd, argc, argv, opts, count_opt, &count, NULL, 0, 0);
	rtt = calloc((size_t)count, sizeof(*rtt));
	if (!rtt)
		return fail(cmd, NULL, -ENOMEM);
	/* The first call also takes the connect-time Hello: time the later ones. */
	r = vmc_hello(client(cmd), &h);
	for (long i = 0; r == 0 && i < count; i++) {
		double t0 = now_us();

		r = vmc_hello(client(cmd), &h);
		rtt[i] = now_us() - t0;
		if (r < 0)
			break;
		sum += rtt[i];
		min = i == 0 || rtt[i] < min ? rtt[i] : min;
		max = rtt[i] > max ? rtt[i] : max;
		if (!arg_json)
			printf("reply from %s: seq=%ld time=%.1f us\n", h.server, i + 1, rtt[i]);
	}
	if (r < 0) {
		free(rtt);
		return fail(cmd, NULL, r);
	}
	if (arg_json) {
		json_object *o = hello_json(&h, NULL), *samples = json_object_new_array();

		for (long i = 0; i < count; i++)
			json_object_array_add(samples, jus(rtt[i]));
		jput(o, "rtt_us", samples);
		jput(o, "rtt_min_us", jus(min));
		jput(o, "rtt_avg_us", jus(sum / (double)count));
		jput(o, "rtt_max_us", jus(max));
		jprint(o);
	} else if (count > 1) {
		printf("%ld replies, rtt min/avg/max = %.1f/%.1f/%.1f us\n", count, min,
		       sum / (double)count, max);
	}
	free(rtt);
	return VMCTL_EXIT_OK;
}
