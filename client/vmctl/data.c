/* data.c -- the bytes behind an area: read and write (through the page
 * tables, or by pfn for alloc_pages blocks), and translate (the walk that
 * finds the frame behind an address).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmctl.h"

#define IO_CHUNK (4u << 20)   /* bytes per vmc_read/vmc_write call */
#define JSON_READ_MAX (64ull << 20)

static int hex_opt(const struct cmd *cmd, int ch, const char *optarg, void *ctx)
{
	if (ch != OPT_HEX)
		return -1;
	*(bool *)ctx = true;
	return 0;
}

/* read ADDR LEN, phys-read PFN OFFSET LEN */
int cmd_read(const struct cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hex", no_argument, NULL, OPT_HEX },
		COMMON_OPTS
	};
	bool phys = strcmp(cmd->name, "phys-read") == 0, hex = false;
	uint64_t addr, offset = 0, len, done;
	struct hexdump hd = { 0 };
	char *pos[3] = { NULL }, *hexbuf = NULL;
	uint8_t *buf = NULL;
	int r, np = phys ? 3 : 2;

	positional(cmd, argc, argv, opts, hex_opt, &hex, pos, np, np);
	if ((r = arg_u64(cmd, phys ? "pfn" : "address", pos[0], &addr)) ||
	    (phys && (r = arg_size(cmd, "offset", pos[1], &offset))) ||
	    (r = arg_size(cmd, "length", pos[np - 1], &len)))
		return r;
	if (arg_json && len > JSON_READ_MAX)
		return usage_err(cmd, "invalid length '%s': --json reads at most 64M", pos[np - 1]);
	buf = malloc(IO_CHUNK);
	if (arg_json)
		hexbuf = malloc(len * 2 + 1);
	if (!buf || (arg_json && !hexbuf)) {
		r = fail(cmd, pos[0], -ENOMEM);
		goto out;
	}
	client(cmd);
	for (done = 0; done < len; done += IO_CHUNK) {
		size_t k = len - done < IO_CHUNK ? (size_t)(len - done) : IO_CHUNK;

		if (phys)
			r = vmc_phys_read(client(cmd), addr, offset + done, buf, k);
		else
			r = vmc_read(client(cmd), addr + done, buf, k);
		if (r < 0) {
			r = fail(cmd, pos[0], r);
			goto out;
		}
		if (arg_json) {
			for (size_t i = 0; i < k; i++)
				snprintf(hexbuf + (done + i) * 2, 3, "%02x", buf[i]);
		} else if (hex) {
			hd_feed(&hd, buf, k);
		} else if (fwrite(buf, 1, k, stdout) != k) {
			r = fail(cmd, "stdout", -errno);
			goto out;
		}
	}
	if (arg_json) {
		json_object *o = json_object_new_object();

		hexbuf[len * 2] = '\0';
		jput(o, phys ? "pfn" : "addr", jhex(addr));
		if (phys)
			jput(o, "offset_bytes", json_object_new_uint64(offset));
		jput(o, "len_bytes", json_object_new_uint64(len));
		jput(o, "hex", json_object_new_string(hexbuf));
		jprint(o);
	} else if (hex) {
		hd_end(&hd);
	}
	r = VMCTL_EXIT_OK;
	if (fflush(stdout) != 0)
		r = fail(cmd, "stdout", -errno);
out:
	free(buf);
	free(hexbuf);
	return r;
}

/* write ADDR, phys-write PFN OFFSET: bytes from stdin. */
int cmd_write(const struct cmd *cmd, int argc, char **argv)
{
	bool phys = strcmp(cmd->name, "phys-write") == 0, eof = false;
	uint64_t addr, offset = 0, done = 0;
	char *pos[2] = { NULL };
	uint8_t *buf;
	int r, np = phys ? 2 : 1;

	positional(cmd, argc, argv, common_only, NULL, NULL, pos, np, np);
	if ((r = arg_u64(cmd, phys ? "pfn" : "address", pos[0], &addr)) ||
	    (phys && (r = arg_size(cmd, "offset", pos[1], &offset))))
		return r;
	buf = malloc(IO_CHUNK);
	if (!buf)
		return fail(cmd, pos[0], -ENOMEM);
	client(cmd);
	while (!eof) {
		size_t fill = 0;

		/* Fill a whole chunk (pipes deliver less), then send it. */
		while (fill < IO_CHUNK) {
			ssize_t n = read(STDIN_FILENO, buf + fill, IO_CHUNK - fill);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				r = fail(cmd, "stdin", -errno);
				goto out;
			}
			if (n == 0) {
				eof = true;
				break;
			}
			fill += (size_t)n;
		}
		if (fill == 0)
			break;
		if (phys)
			r = vmc_phys_write(client(cmd), addr, offset + done, buf, fill);
		else
			r = vmc_write(client(cmd), addr + done, buf, fill);
		if (r < 0) {
			r = fail(cmd, pos[0], r);
			goto out;
		}
		done += fill;
	}
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, phys ? "pfn" : "addr", jhex(addr));
		jput(o, "written_bytes", json_object_new_uint64(done));
		jprint(o);
	}
	r = VMCTL_EXIT_OK;
out:
	free(buf);
	return r;
}

int cmd_translate(const struct cmd *cmd, int argc, char **argv)
{
	struct vmc_translation t;
	uint64_t addr;
	char *pos[1] = { NULL };
	int r;

	positional(cmd, argc, argv, common_only, NULL, NULL, pos, 1, 1);
	if ((r = arg_u64(cmd, "address", pos[0], &addr)))
		return r;
	r = vmc_translate(client(cmd), addr, &t);
	if (r < 0)
		return fail(cmd, pos[0], r);
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "addr", jhex(addr));
		jput(o, "pfn", jhex(t.pfn));
		jput(o, "phys_addr", jhex(t.phys_addr));
		jput(o, "node", json_object_new_int(t.node));
		jput(o, "zone", json_object_new_string(t.zone));
		jprint(o);
	} else {
		printf("pfn:       0x%" PRIx64 "\nphys_addr: 0x%" PRIx64 "\nnode:      %d\n"
		       "zone:      %s\n", t.pfn, t.phys_addr, t.node, t.zone);
	}
	return VMCTL_EXIT_OK;
}
