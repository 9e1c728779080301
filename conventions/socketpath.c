/* socketpath.c -- the default socket path (see socketpath.h). */
#include "socketpath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int cv_socket_path(char *buf, size_t len, bool system_fallback)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *env = getenv("VMALLOCD_SOCKET");
	struct stat st;
	int n;

	if (env && *env)
		n = snprintf(path, sizeof(path), "%s", env);
	else if (geteuid() == 0)
		n = snprintf(path, sizeof(path), "%s", CV_SYSTEM_SOCKET);
	else {
		if ((env = getenv("XDG_RUNTIME_DIR")) && *env)
			n = snprintf(path, sizeof(path), "%s/vmallocd.sock", env);
		else
			n = snprintf(path, sizeof(path), "/tmp/vmallocd-%u.sock", (unsigned)geteuid());
		if (system_fallback && n > 0 && (size_t)n < sizeof(path) && stat(path, &st) < 0 &&
		    errno == ENOENT && stat(CV_SYSTEM_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode))
			n = snprintf(path, sizeof(path), "%s", CV_SYSTEM_SOCKET);
	}
	if (n < 0 || (size_t)n >= sizeof(path) || !buf || (size_t)n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, path, (size_t)n + 1);
	return 0;
}
