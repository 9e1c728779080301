/* hello.c -- vmalloc an area, write into it, read it back, vfree it: the
 * smallest libvmclient program.
 *
 *   cc -o hello hello.c $(pkg-config --cflags --libs vmclient)
 *   ./hello [SOCKET]        (default: the socket vmctl would use)
 */
#include <stdio.h>
#include <string.h>
#include <vmclient.h>

int main(int argc, char **argv)
{
	static const char msg[] = "hello, vmalloc";
	struct vmc_client *c;
	char buf[sizeof(msg)];
	uint64_t addr = 0;
	int r;

	r = vmc_connect(argc > 1 ? argv[1] : NULL, &c);
	if (r < 0) {
		fprintf(stderr, "hello: connect: %s\n", vmc_strerror(r));
		return 1;
	}
	/* 64 KiB: 16 pages, taken one at a time, and a guard page. */
	r = vmc_vmalloc(c, 64 << 10, &addr);
	if (r == 0)
		r = vmc_write(c, addr + 4090, msg, sizeof(msg));   /* across a page boundary */
	if (r == 0)
		r = vmc_read(c, addr + 4090, buf, sizeof(buf));
	if (r < 0) {
		fprintf(stderr, "hello: %s (%s)\n", vmc_strerror(r), vmc_last_message(c));
		vmc_vfree(c, addr);
		vmc_close(c);
		return 1;
	}
	printf("0x%llx: %s\n", (unsigned long long)addr, buf);
	r = vmc_vfree(c, addr);
	vmc_close(c);
	return r < 0 || strcmp(buf, msg) != 0;
}
