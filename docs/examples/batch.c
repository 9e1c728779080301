/* batch.c -- the pipelined interface: queue many calls, send them in one
 * go, read every reply in order.  64 areas are allocated, written, read
 * back and freed in four round trips instead of 256.
 *
 *   cc -o batch batch.c $(pkg-config --cflags --libs vmclient)
 *   ./batch [SOCKET]
 */
#include <stdio.h>
#include <string.h>
#include <vmclient.h>

#define N 64

int main(int argc, char **argv)
{
	struct vmc_client *c;
	struct vmc_batch *b;
	uint64_t addr[N];
	uint32_t in[N], out[N];
	int st[N], r, bad = 0;

	r = vmc_connect(argc > 1 ? argv[1] : NULL, &c);
	if (r < 0) {
		fprintf(stderr, "batch: connect: %s\n", vmc_strerror(r));
		return 1;
	}
	r = vmc_batch_new(c, &b);
	if (r < 0)
		goto fail;

	/* 1: N allocations of 1..N pages. */
	for (int i = 0; i < N && r == 0; i++)
		r = vmc_batch_vmalloc(b, (uint64_t)(i + 1) * VMC_PAGE_SIZE, &addr[i], &st[i]);
	if (r == 0)
		r = vmc_batch_run(b);
	for (int i = 0; i < N && r == 0; i++)
		r = st[i];
	if (r < 0)
		goto fail;
	vmc_batch_clear(b);

	/* 2: a word into the last page of each, 3: read them back. */
	for (int i = 0; i < N && r == 0; i++) {
		in[i] = 0x1000u * (uint32_t)i + 7;
		r = vmc_batch_write(b, addr[i] + (uint64_t)i * VMC_PAGE_SIZE, &in[i], sizeof(in[i]),
				    &st[i]);
	}
	if (r == 0)
		r = vmc_batch_run(b);
	vmc_batch_clear(b);
	for (int i = 0; i < N && r == 0; i++)
		r = vmc_batch_read(b, addr[i] + (uint64_t)i * VMC_PAGE_SIZE, &out[i], sizeof(out[i]),
				   &st[i]);
	if (r == 0)
		r = vmc_batch_run(b);
	for (int i = 0; i < N && r == 0; i++)
		r = st[i];
	if (r < 0)
		goto fail;
	for (int i = 0; i < N; i++)
		bad += in[i] != out[i];
	vmc_batch_clear(b);

	/* 4: free them all. */
	for (int i = 0; i < N && r == 0; i++)
		r = vmc_batch_vfree(b, addr[i], &st[i]);
	if (r == 0)
		r = vmc_batch_run(b);
	for (int i = 0; i < N && r == 0; i++)
		r = st[i];
	if (r < 0)
		goto fail;
	printf("%d areas of 1 to %d pages: allocated, written, read back (%d wrong), freed, "
	       "in 4 round trips\n", N, N, bad);
	vmc_batch_free(b);
	vmc_close(c);
	return bad != 0;
fail:
	fprintf(stderr, "batch: %s (%s)\n", vmc_strerror(r), vmc_last_message(c));
	vmc_batch_free(b);
	vmc_close(c);
	return 1;
}
