/* socketpath.h -- where vmallocd listens when nobody says otherwise, and so
 * where its clients look: one rule for the daemon, libvmclient and vmctl
 * (docs/protocol.md section 1).
 */
#ifndef CV_SOCKETPATH_H
#define CV_SOCKETPATH_H

#include <stdbool.h>
#include <stddef.h>

/* The system daemon's socket, where vmallocd.socket listens. */
#define CV_SYSTEM_SOCKET "/run/vmallocd/vmallocd.sock"

/* The default socket path, in order: $VMALLOCD_SOCKET if set and not empty;
 * CV_SYSTEM_SOCKET for effective uid 0; $XDG_RUNTIME_DIR/vmallocd.sock;
 * /tmp/vmallocd-UID.sock.  With system_fallback (clients, not the daemon):
 * when the per-user path of the last two rules does not exist but the
 * system socket does, the system socket, since a user without a daemon of
 * their own means the system one.  -ENAMETOOLONG if the path does not fit
 * in len bytes or in a sockaddr_un; buf untouched then. */
int cv_socket_path(char *buf, size_t len, bool system_fallback);

#endif /* CV_SOCKETPATH_H */
