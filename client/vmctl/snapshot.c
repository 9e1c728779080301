/* snapshot.c -- `vmctl snapshot save FILE`: the whole machine into a file
 * that `vmallocd --restore FILE` starts from (root only).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "size.h"
#include "vmctl.h"

int cmd_snapshot(const struct cmd *cmd, int argc, char **argv)
{
	char *pos[2];
	uint64_t len = 0;
	int fd, r;

	positional(cmd, argc, argv, common_only, NULL, NULL, pos, 2, 2);
	if (strcmp(pos[0], "save") != 0)
		return usage_err(cmd, "unknown snapshot action '%s' (save)", pos[0]);
	fd = open(pos[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(cmd, pos[1], -errno);
	r = vmc_snapshot_save(client(cmd), fd, &len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		unlink(pos[1]);
		return fail(cmd, NULL, r);
	}
	if (arg_json) {
		json_object *o = json_object_new_object();

		jput(o, "file", json_object_new_string(pos[1]));
		jput(o, "bytes", json_object_new_uint64(len));
		jprint(o);
	} else {
		char h[24];

		printf("%s: %s\n", pos[1], size_text(len, h));
	}
	return VMCTL_EXIT_OK;
}
