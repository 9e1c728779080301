/* persist-client.c -- the client side of test-systemd.sh's "nothing lost"
 * steps, through libvmclient:
 *   persist-client fill N TAG        N areas (caller TAG) with known bytes;
 *                                    prints "ADDR SIZE" per area
 *   persist-client check TAG < LIST  each area of LIST is there, ours, made by
 *                                    TAG, every byte as written
 *   persist-client storm LEDGER K    client K's storm of allocations, writes
 *                                    and frees until the daemon goes away; each
 *                                    change recorded in LEDGER (a shared file)
 *                                    before it is sent and after its reply
 *   persist-client verify LEDGER     (root) every acknowledged change of every
 *                                    client is there; in-flight ones settled
 * The socket is $VMALLOCD_SOCKET.  Exit status 0 when all holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmclient.h"

#define NR_CLIENTS 4
#define NR_SLOTS   64
#define MAX_SIZE   (16u << 10)

enum { S_FREE = 0, S_ALLOCING, S_LIVE, S_FREEING };
struct slot {
	int state;
	uint32_t uid;
	uint64_t addr, size;
	uint32_t done_ver, pend_ver;
};
struct ledger {
	struct slot s[NR_CLIENTS][NR_SLOTS];
	uint64_t acked[NR_CLIENTS];
};

static uint8_t pattern(uint64_t key, uint32_t ver, uint64_t i)
{
	return ver ? (uint8_t)((i * 131u) ^ (ver * 7u) ^ (key >> 12) ^ (key >> 4)) : 0;
}

static struct vmc_client *conn(void)
{
	struct vmc_client *c;
	int r = vmc_connect(NULL, &c);

	if (r < 0) {
		fprintf(stderr, "persist-client: connect: %s\n", vmc_strerror(r));
		exit(2);
	}
	vmc_set_timeout(c, 20000);
	return c;
}

static int fill(long n, const char *tag)
{
	struct vmc_client *c = conn();
	static uint8_t buf[MAX_SIZE];

	vmc_set_caller(c, tag);
	srand((unsigned)getpid());
	for (long i = 0; i < n; i++) {
		uint64_t size = 1 + (uint64_t)(rand() % 8192), addr;
		int r = vmc_vmalloc(c, size, &addr);

		if (r < 0) {
			fprintf(stderr, "persist-client: vmalloc %llu: %s\n", (unsigned long long)size,
				vmc_last_message(c));
			return 1;
		}
		for (uint64_t b = 0; b < size; b++)
			buf[b] = pattern(addr, 1, b);
		if ((r = vmc_write(c, addr, buf, size)) < 0) {
			fprintf(stderr, "persist-client: write: %s\n", vmc_last_message(c));
			return 1;
		}
		printf("0x%llx %llu\n", (unsigned long long)addr, (unsigned long long)size);
	}
	vmc_close(c);
	return 0;
}

static int check(const char *tag)
{
	struct vmc_client *c = conn();
	static uint8_t got[MAX_SIZE];
	unsigned long long addr, size;
	long n = 0, bad = 0;

	while (scanf("%llx %llu", &addr, &size) == 2) {
		struct vmc_area a;
		int r = vmc_area_info(c, addr, &a);

		n++;
		if (r < 0 || a.addr != addr || a.uid != getuid() || strcmp(a.caller, tag) != 0) {
			fprintf(stderr, "area 0x%llx: %s (uid %u, caller %s)\n", addr,
				r < 0 ? vmc_strerror(r) : "another", r < 0 ? 0 : a.uid,
				r < 0 ? "" : a.caller);
			bad++;
			continue;
		}
		if (size > MAX_SIZE || vmc_read(c, addr, got, size) < 0) {
			bad++;
			continue;
		}
		for (uint64_t b = 0; b < size; b++)
			if (got[b] != pattern(addr, 1, b)) {
				fprintf(stderr, "area 0x%llx: byte %llu differs\n", addr,
					(unsigned long long)b);
				bad++;
				break;
			}
	}
	vmc_close(c);
	printf("%ld areas checked, %ld bad\n", n, bad);
	return bad != 0 || n == 0;
}

static struct ledger *map_ledger(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT, 0666);
	struct ledger *lg;

	if (fd < 0 || ftruncate(fd, sizeof(*lg)) < 0) {
		perror(path);
		exit(2);
	}
	lg = mmap(NULL, sizeof(*lg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (lg == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return lg;
}

static void set(int *p, int v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static int storm(const char *path, int k)
{
	struct ledger *lg = map_ledger(path);
	struct vmc_client *c;
	static uint8_t buf[MAX_SIZE];
	char tag[32];

	if (vmc_connect(NULL, &c) < 0)
		return 0;
	vmc_set_timeout(c, 20000);
	snprintf(tag, sizeof(tag), "storm_client_%d", k);
	vmc_set_caller(c, tag);
	srand((unsigned)getpid());
	for (;;) {
		int i = rand() % NR_SLOTS;
		struct slot *s = &lg->s[k][i];

		if (s->state == S_FREE) {
			uint64_t addr;

			s->size = 1 + (uint64_t)(rand() % MAX_SIZE);
			s->uid = (uint32_t)getuid();
			set(&s->state, S_ALLOCING);
			if (vmc_vzalloc(c, s->size, &addr) < 0)
				break;
			s->addr = addr;
			s->done_ver = s->pend_ver = 0;
			set(&s->state, S_LIVE);
		} else if (s->state == S_LIVE && rand() % 4 == 0) {
			set(&s->state, S_FREEING);
			if (vmc_vfree(c, s->addr) < 0)
				break;
			set(&s->state, S_FREE);
		} else if (s->state == S_LIVE) {
			uint32_t v = s->done_ver + 1;

			for (uint64_t b = 0; b < s->size; b++)
				buf[b] = pattern(s->addr, v, b);
			__atomic_store_n(&s->pend_ver, v, __ATOMIC_SEQ_CST);
			if (vmc_write(c, s->addr, buf, s->size) < 0)
				break;
			__atomic_store_n(&s->done_ver, v, __ATOMIC_SEQ_CST);
		}
		__atomic_add_fetch(&lg->acked[k], 1, __ATOMIC_SEQ_CST);
	}
	return 0;
}

static int verify(const char *path)
{
	struct ledger *lg = map_ledger(path);
	struct vmc_client *c = conn();
	static uint8_t got[MAX_SIZE];
	long checked = 0, bad = 0;
	char msg[512];

	for (int k = 0; k < NR_CLIENTS; k++)
		for (int i = 0; i < NR_SLOTS; i++) {
			struct slot *s = &lg->s[k][i];
			struct vmc_area a;
			char tag[32];
			int r;

			if (s->state == S_ALLOCING || s->state == S_FREE) {
				s->state = S_FREE;
				continue;
			}
			r = vmc_area_info(c, s->addr, &a);
			if (s->state == S_FREEING && r == -ENOENT) {
				s->state = S_FREE;
				continue;
			}
			snprintf(tag, sizeof(tag), "storm_client_%d", k);
			if (r < 0 || a.addr != s->addr || a.uid != s->uid || strcmp(a.caller, tag) != 0) {
				fprintf(stderr, "client %d slot %d: area 0x%llx: %s\n", k, i,
					(unsigned long long)s->addr, r < 0 ? vmc_strerror(r) : "another");
				bad++;
				continue;
			}
			s->state = S_LIVE;
			if (vmc_read(c, s->addr, got, s->size) < 0) {
				bad++;
				continue;
			}
			for (uint64_t b = 0; b < s->size; b++)
				if (got[b] != pattern(s->addr, s->done_ver, b) &&
				    !(s->pend_ver != s->done_ver && got[b] == pattern(s->addr, s->pend_ver, b))) {
					fprintf(stderr, "client %d slot %d: byte %llu of 0x%llx lost "
						"(version %u acknowledged)\n", k, i, (unsigned long long)b,
						(unsigned long long)s->addr, s->done_ver);
					bad++;
					break;
				}
			checked++;
			if (s->pend_ver != s->done_ver) {
				for (uint64_t b = 0; b < s->size; b++)
					got[b] = pattern(s->addr, s->done_ver, b);
				if (vmc_write(c, s->addr, got, s->size) < 0)
					bad++;
				s->pend_ver = s->done_ver;
			}
		}
	if (vmc_check(c, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "check: %s\n", msg);
		bad++;
	}
	vmc_close(c);
	printf("%ld areas checked, %llu requests acknowledged so far, %ld bad\n", checked,
	       (unsigned long long)(lg->acked[0] + lg->acked[1] + lg->acked[2] + lg->acked[3]), bad);
	return bad != 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "fill") == 0)
		return fill(atol(argv[2]), argv[3]);
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return check(argv[2]);
	if (argc == 4 && strcmp(argv[1], "storm") == 0)
		return storm(argv[2], atoi(argv[3]) % NR_CLIENTS);
	if (argc == 3 && strcmp(argv[1], "verify") == 0)
		return verify(argv[2]);
	fprintf(stderr, "usage: persist-client fill N TAG | check TAG | storm LEDGER K | verify LEDGER\n");
	return 2;
}
