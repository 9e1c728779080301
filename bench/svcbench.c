/* svcbench.c -- request throughput of a live vmallocd through libvmclient,
 * for side-by-side comparison with redis-benchmark (bench/run-service).
 *
 *   svcbench --socket PATH [--clients N] [--depth D] [--seconds S]
 *
 * Each client (a process of its own, with its own connection) alternates
 * vmalloc(4 KiB) and vfree.  With depth 1 every request waits for its reply;
 * with depth D a client keeps D requests in flight: each batch frees the D/2
 * areas the previous batch allocated and allocates D/2 new ones.  Prints
 * requests per second (each vmalloc and each vfree is one request, one
 * round trip), like redis-benchmark counts SETs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchstat.h"
#include "vmclient.h"


/* Requests completed in `seconds`, or -1. */
static long long run_client(const char *sock, unsigned depth, double seconds)
{
	struct vmc_client *c;
	long long n = 0;
	double end;

	if (vmc_connect(sock, &c) < 0)
		return -1;
	end = bench_now_s() + seconds;
	if (depth <= 1) {
		while (bench_now_s() < end) {
			for (int i = 0; i < 256; i++) {
				uint64_t a;

				if (vmc_vmalloc(c, 4096, &a) < 0 || vmc_vfree(c, a) < 0)
					return -1;
			}
			n += 512;
		}
	} else {
		unsigned half = depth / 2;
		uint64_t *addr = calloc(half, sizeof(*addr)), *prev = calloc(half, sizeof(*prev));
		int *st = calloc(depth, sizeof(*st));
		struct vmc_batch *b;
		bool have_prev = false;

		if (!addr || !prev || !st || vmc_batch_new(c, &b) < 0)
			return -1;
		while (bench_now_s() < end) {
			for (int k = 0; k < 64; k++) {
				vmc_batch_clear(b);
				if (have_prev)
					for (unsigned i = 0; i < half; i++)
						vmc_batch_vfree(b, prev[i], &st[half + i]);
				for (unsigned i = 0; i < half; i++)
					vmc_batch_vmalloc(b, 4096, &addr[i], &st[i]);
				if (vmc_batch_run(b) < 0)
					return -1;
				for (unsigned i = 0; i < (have_prev ? depth : half); i++)
					if (st[i] < 0)
						return -1;
				n += have_prev ? depth : half;
				memcpy(prev, addr, half * sizeof(*addr));
				have_prev = true;
			}
		}
		vmc_batch_clear(b);
		for (unsigned i = 0; i < half; i++)
			vmc_batch_vfree(b, prev[i], &st[i]);
		vmc_batch_run(b);
		vmc_batch_free(b);
		free(addr);
		free(prev);
		free(st);
	}
	vmc_close(c);
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "clients", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'P' },
		{ "seconds", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	unsigned clients = 1, depth = 1;
	double seconds = 3;
	long long *counts, total = 0;
	int c;

	while ((c = getopt_long(argc, argv, "s:c:P:t:", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'c': clients = (unsigned)atoi(optarg); break;
		case 'P': depth = (unsigned)atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		default:
			fprintf(stderr, "usage: svcbench --socket PATH [--clients N] [--depth D] [--seconds S]\n");
			return 2;
		}
	}
	if (!clients || clients > 1024 || !depth || depth > 4096 || (depth > 1 && depth % 2)) {
		fprintf(stderr, "svcbench: clients 1..1024, depth 1 or an even number up to 4096\n");
		return 2;
	}
	counts = mmap(NULL, clients * sizeof(*counts), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counts == MAP_FAILED)
		return 1;
	for (unsigned i = 0; i < clients; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			counts[i] = run_client(sock, depth, seconds);
			_exit(counts[i] < 0);
		}
	}
	for (unsigned i = 0; i < clients; i++) {
		int st;

		wait(&st);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "svcbench: a client failed\n");
			return 1;
		}
	}
	for (unsigned i = 0; i < clients; i++)
		total += counts[i];
	/* Each client runs for `seconds`; fork and exit are not counted. */
	printf("clients=%u depth=%u requests=%lld seconds=%.2f rps=%.0f\n", clients, depth, total,
	       seconds, (double)total / seconds);
	return 0;
}
