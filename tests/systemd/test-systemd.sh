#!/bin/bash
# test-systemd.sh -- vmallocd under a real systemd: the project installed
# with `meson install --destdir`, a systemd booted as PID 1 of new PID,
# mount, cgroup, UTS, IPC and network namespaces, and the installed units
# driven with systemctl: socket activation by the first vmctl call, notify,
# STATUS and the watchdog, reload, stop, restart after kill -9, the vmalloc
# group's access to the socket, `systemd-analyze verify` and `security`.
#
# The host is left alone: inside the namespaces /tmp, /var/tmp, /run and
# /dev are fresh tmpfs, /proc/sys and /sys are read-only, /usr and /etc are
# overlays (the staged install over the host's files, writes go to tmpfs),
# and systemd sees only the units of this test.  Everything ends with the
# namespace's PID 1, which the EXIT trap kills by its pid; the trap then
# removes the test's cgroup.
#
# Needs root, unshare/nsenter (util-linux), overlayfs and cgroup2; exits 77
# (skipped) with the reason where the machine does not allow them.
#
# Environment (set by tests/systemd/meson.build): MESON, BUILD_ROOT, PREFIX,
# BINDIR, SBINDIR, LIBDIR, SYSCONFDIR, UNITDIR, SYSUSERSDIR, MANDIR,
# HAVE_MAN (yes/no), SANITIZED (yes/no).  VMD_KEEP=1 keeps the work dir.

set -euo pipefail

SYSTEMD=/lib/systemd/systemd
T0=$(date +%s)

log() { printf '== [%3ds] %s\n' $(($(date +%s) - T0)) "$*"; }
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# ---- what the machine must allow ---------------------------------------------

for v in MESON BUILD_ROOT PREFIX BINDIR SBINDIR LIBDIR SYSCONFDIR UNITDIR SYSUSERSDIR; do
	[ -n "${!v:-}" ] || fail "\$$v is not set (run through meson test)"
done
[ "$(id -u)" -eq 0 ] || skip "needs root to boot systemd in namespaces"
[ -x "$SYSTEMD" ] || skip "no systemd binary at $SYSTEMD"
for p in unshare nsenter systemctl systemd-analyze systemd-sysusers journalctl setpriv; do
	command -v "$p" >/dev/null || skip "$p is not installed"
done
grep -qw overlay /proc/filesystems || skip "the kernel has no overlayfs"
grep -qw cgroup2 /proc/filesystems || skip "the kernel has no cgroup2"
unshare --pid --fork --mount --uts --ipc --net --cgroup true 2>/dev/null ||
	skip "this machine does not allow PID/mount/cgroup namespaces"
# The file system type follows the "-" that ends the optional fields.
CG2_MNT=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
	/proc/self/mountinfo)
[ -n "$CG2_MNT" ] || skip "no cgroup2 hierarchy is mounted"

# ---- state, and the cleanup that runs however the test ends -----------------

WORK=$(mktemp -d "$BUILD_ROOT/tests/systemd/run.XXXXXX")
chmod 0755 "$WORK"
STAGE=$WORK/stage
UNITS=$WORK/units
CG=$CG2_MNT$(sed -n 's/^0:://p' /proc/self/cgroup)
CG=${CG%/}/vmallocd-test.$$
UNSHARE_PID=
NSPID=
HOST_STATE=$(cat /proc/sys/kernel/core_pattern /proc/sys/fs/file-max /proc/sys/fs/nr_open; hostname)

cleanup() {
	local rc=$?

	trap - EXIT INT TERM
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$NSPID" ] && [ -d "/proc/$NSPID" ]; then
		echo "---- the namespace's journal (last 150 lines) ----"
		ns journalctl --no-pager -q -n 150 -o short-monotonic 2>&1 || true
		echo "---- systemd's own output ----"
		tail -n 50 "$WORK/systemd.log" 2>/dev/null || true
	fi
	# Killing PID 1 of a PID namespace kills every process in it; its
	# mounts go with the mount namespace.
	if [ -n "$NSPID" ] && [ -d "/proc/$NSPID" ]; then
		kill -KILL "$NSPID" 2>/dev/null || true
	fi
	if [ -n "$UNSHARE_PID" ]; then
		kill -KILL "$UNSHARE_PID" 2>/dev/null || true
		wait "$UNSHARE_PID" 2>/dev/null || true
	fi
	# The test's cgroup, leaves first; the kernel frees a cgroup shortly
	# after its last process is reaped.
	for _ in $(seq 50); do
		[ -d "$CG" ] || break
		find "$CG" -depth -type d -exec rmdir {} + 2>/dev/null || sleep 0.1
	done
	[ -d "$CG" ] && { echo "FAIL: cgroup $CG left behind" >&2; rc=1; }
	if [ "$(cat /proc/sys/kernel/core_pattern /proc/sys/fs/file-max /proc/sys/fs/nr_open; hostname)" != "$HOST_STATE" ]; then
		echo "FAIL: the host's sysctls or hostname changed" >&2
		rc=1
	fi
	if [ "${VMD_KEEP:-0}" = 1 ]; then
		echo "work dir kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	log "done, exit $rc"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Run a command inside the namespaces (as root, in the namespace's view).
ns() {
	nsenter -t "$NSPID" -m -p -u -i -n -- "$@"
}

# Run a command inside the namespaces as another user, with its groups.
ns_as() {
	local user=$1
	shift
	ns setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps=-all -- "$@"
}

# prop UNIT PROPERTY: one property's value.
prop() {
	ns systemctl show -P "$2" "$1"
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local deadline=$(($(date +%s%N) / 1000000 + $1 * 1000)) what=$2

	shift 2
	until "$@" >/dev/null 2>&1; do
		[ $(($(date +%s%N) / 1000000)) -lt "$deadline" ] || fail "timed out waiting for $what"
		sleep 0.1
	done
}

is_prop() { [ "$(prop "$1" "$2")" = "$3" ]; }

# ---- the staged install ------------------------------------------------------------

log "meson install --destdir $STAGE"
"$MESON" install -C "$BUILD_ROOT" --no-rebuild --quiet --destdir "$STAGE" >"$WORK/install.log" 2>&1 ||
	{ cat "$WORK/install.log"; fail "meson install failed"; }
for f in "$SBINDIR/vmallocd" "$BINDIR/vmctl" "$UNITDIR/vmallocd.service" \
	 "$UNITDIR/vmallocd.socket" "$UNITDIR/vmallocd-http.socket" "$SYSUSERSDIR/vmallocd.conf" "$SYSCONFDIR/vmallocd.conf"; do
	[ -e "$STAGE$f" ] || fail "meson install did not install $f"
done
ls "$STAGE$LIBDIR"/libvmclient.so.1 >/dev/null || fail "no libvmclient.so.1 in $LIBDIR"
if [ "${HAVE_MAN:-no}" = yes ]; then
	for m in man8/vmallocd.8 man1/vmctl.1 man3/libvmclient.3 man5/vmallocd.conf.5; do
		[ -s "$STAGE$MANDIR/$m" ] || fail "meson install did not install $MANDIR/$m"
	done
fi
grep -qx "ExecStart=$SBINDIR/vmallocd --fd-store" "$STAGE$UNITDIR/vmallocd.service" ||
	fail "the installed vmallocd.service does not start $SBINDIR/vmallocd"

# Fold top-level directories that are symlinks on the host (/lib -> usr/lib
# on merged-/usr systems) into their targets, so that each remaining one
# can be laid over the host's directory of the same name.
for d in "$STAGE"/*; do
	top=/$(basename "$d")
	if [ -L "$top" ]; then
		real=$(readlink -f "$top")
		mkdir -p "$STAGE$real"
		cp -a "$d/." "$STAGE$real/"
		rm -rf "$d"
	fi
done
OVERLAYS=
for d in "$STAGE"/*; do
	top=/$(basename "$d")
	if [ ! -d "$top" ] || [ -L "$top" ]; then
		skip "cannot lay the install over $top: not a directory here"
	fi
	OVERLAYS="$OVERLAYS $top"
done
case " $OVERLAYS " in *" /etc "*) ;; *) OVERLAYS="$OVERLAYS /etc" ;; esac

# ---- the units systemd sees --------------------------------------------------------
#
# Only this directory ($SYSTEMD_UNIT_PATH): the installed vmallocd units
# (symlinks to the files meson installed), the journal, and stand-ins for
# the targets their default dependencies name, so that booting starts
# nothing else of the host's.

mkdir -p "$UNITS"
ln -s "$UNITDIR/vmallocd.socket" "$UNITDIR/vmallocd.service" "$UNITDIR/vmallocd-http.socket" "$UNITS/"
ln -s /lib/systemd/system/systemd-journald.socket /lib/systemd/system/systemd-journald.service "$UNITS/"
for t in sysinit basic sockets shutdown; do
	printf '[Unit]\nDescription=%s.target (stand-in of the vmallocd test)\nDefaultDependencies=no\n' \
		"$t" >"$UNITS/$t.target"
done
cat >"$UNITS/vmallocd-test.target" <<'EOF'
[Unit]
Description=vmallocd test: booted
DefaultDependencies=no
Wants=systemd-journald.socket systemd-journald.service
After=systemd-journald.socket systemd-journald.service
EOF
if [ "${SANITIZED:-no}" = yes ]; then
	# LeakSanitizer stops the world with ptrace, which the unit's system
	# call filter forbids; the other tests check for leaks.
	mkdir -p "$UNITS/vmallocd.service.d"
	printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' \
		>"$UNITS/vmallocd.service.d/sanitizer.conf"
fi

# ---- booting systemd -----------------------------------------------------------------

# The script PID 1 of the new namespaces runs before it becomes systemd.
cat >"$WORK/boot.sh" <<EOF
set -eu
trap 'echo "vmallocd-test: namespace setup failed" >&2' EXIT
# Required: systemd's boot-time cleanup must not reach the host's files.
# The build tree (and this test's directory in it) may lie under one of
# them, as in a CI clone in /tmp: hold it open and bind it back after.
exec 9<"$WORK"
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
if [ ! -d "$WORK/stage" ]; then
	mkdir -p "$WORK"
	mount --no-canonicalize --bind /proc/self/fd/9 "$WORK"
fi
exec 9<&-
# Kernel settings are not ours to change.
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount -o remount,bind,ro /sys
# A cgroup2 tree rooted at this test's cgroup (the cgroup namespace's root).
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# A private /dev; its console is a null device.
mount -t tmpfs -o mode=0755,nosuid tmpfs /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/full c 1 7
mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/urandom c 1 9
mknod -m 666 /dev/tty c 5 0
mknod -m 600 /dev/console c 1 3
mkdir /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
# The staged install over the host's directories; writes land in /run.
for top in $OVERLAYS; do
	o=/run/vmallocd-test/overlay\$top
	mkdir -p \$o/upper \$o/work
	lower=\$top
	[ -d "$STAGE\$top" ] && lower="$STAGE\$top:\$top"
	mount -t overlay overlay -o "lowerdir=\$lower,upperdir=\$o/upper,workdir=\$o/work" \$top
done
# A volatile journal, kept to itself.
mkdir -p /run/systemd/system /run/systemd/journald.conf.d
printf '[Journal]\nStorage=volatile\nForwardToConsole=no\nForwardToWall=no\nForwardToKMsg=no\nReadKMsg=no\n' \
	>/run/systemd/journald.conf.d/vmallocd-test.conf
trap - EXIT
exec env -i container=vmallocd-test SYSTEMD_UNIT_PATH="$UNITS" \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
	$SYSTEMD --system --unit=vmallocd-test.target --show-status=no --log-level=info
EOF

log "booting systemd in new namespaces"
mkdir "$CG"
# The launcher moves itself into the test's cgroup first, so the cgroup
# namespace (and systemd's whole tree) is rooted there.
# shellcheck disable=SC2016 # $$ and $1 are the inner shell's
setsid sh -c 'echo $$ >"$1/cgroup.procs" && exec unshare --pid --fork --kill-child --mount \
	--mount-proc --uts --ipc --net --cgroup --propagation private sh "$2"' \
	sh "$CG" "$WORK/boot.sh" </dev/null >"$WORK/systemd.log" 2>&1 &
UNSHARE_PID=$!
# A machine that allows the namespaces but not the mounts in them (no
# overlayfs over /usr, say) is a skip, not a failure.
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }
boot_failed() {
	grep -q 'namespace setup failed' "$WORK/systemd.log" &&
		skip "this machine cannot set up the test's namespaces: $(tr '\n' ' ' <"$WORK/systemd.log")"
	fail "the namespace's PID 1 died: $(cat "$WORK/systemd.log")"
}
has_child() { [ -n "$(cat "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null)" ]; }
for _ in $(seq 100); do
	has_child || ! alive "$UNSHARE_PID" && break
	sleep 0.1
done
has_child || boot_failed
NSPID=$(cut -d' ' -f1 "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children")
for _ in $(seq 300); do
	alive "$NSPID" || boot_failed
	is_prop vmallocd-test.target ActiveState active 2>/dev/null && break
	sleep 0.1
done
is_prop vmallocd-test.target ActiveState active || fail "systemd did not boot in 30 s"
log "systemd $(ns systemctl --version | head -1 | cut -d' ' -f2) is PID 1 (host pid $NSPID), $(ns systemctl is-system-running || true)"
[ "$(ns readlink /proc/1/exe)" = "$(readlink -f $SYSTEMD)" ] || fail "PID 1 of the namespace is not systemd"

# ---- the unit files as installed -------------------------------------------------------

log "systemd-analyze verify"
verify_args=
[ "${HAVE_MAN:-no}" = yes ] || verify_args=--man=no
command -v man >/dev/null || verify_args=--man=no
# shellcheck disable=SC2086
out=$(ns env -u SYSTEMD_UNIT_PATH systemd-analyze verify $verify_args \
	"$UNITDIR/vmallocd.socket" "$UNITDIR/vmallocd.service" "$UNITDIR/vmallocd-http.socket" 2>&1) ||
	fail "systemd-analyze verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify reported: $out"
echo "verify: clean${verify_args:+ ($verify_args: no man pages, or no man to find them)}"

# ---- users: the vmalloc group from the installed sysusers.d snippet ------------------

log "systemd-sysusers $SYSUSERSDIR/vmallocd.conf"
ns systemd-sysusers "$SYSUSERSDIR/vmallocd.conf"
ns systemd-sysusers --inline \
	'u vmtest-member - "vmallocd test, in the vmalloc group"' \
	'm vmtest-member vmalloc' \
	'u vmtest-outsider - "vmallocd test, not in the vmalloc group"' \
	'u vmtest-member2 - "vmallocd test, another member"' \
	'm vmtest-member2 vmalloc'
ns getent passwd vmalloc >/dev/null || fail "sysusers did not create the vmalloc user"
ns getent group vmalloc | grep -q vmtest-member || fail "vmtest-member is not in the vmalloc group"
VMALLOC_UID=$(ns id -u vmalloc)

log "systemd-tmpfiles --create vmallocd.conf"
ns systemd-tmpfiles --create vmallocd.conf
[ "$(ns stat -c '%a %U %G' /run/vmallocd)" = "755 root root" ] ||
	fail "the tmpfiles snippet did not make /run/vmallocd"
MEMBER_UID=$(ns id -u vmtest-member)

# ---- socket activation -------------------------------------------------------------------

SOCK=/run/vmallocd/vmallocd.sock
VMCTL=(env LD_LIBRARY_PATH="$LIBDIR" VMALLOCD_SOCKET="$SOCK" "$BINDIR/vmctl" --timeout 10000)

log "systemctl start vmallocd.socket"
ns systemctl start vmallocd.socket
is_prop vmallocd.socket ActiveState active || fail "vmallocd.socket is not active"
is_prop vmallocd.service ActiveState inactive || fail "vmallocd.service started before any client"
[ "$(ns stat -c '%A %U %G' $SOCK)" = "srw-rw---- root vmalloc" ] ||
	fail "socket mode/owner: $(ns stat -c '%A %U %G' $SOCK)"
SOCK_INODE=$(ns stat -c %i $SOCK)

log "the first vmctl call activates vmallocd.service"
hello=$(ns "${VMCTL[@]}" hello) || fail "vmctl hello failed"
echo "$hello" | grep -q '^server: *vmallocd ' || fail "unexpected hello: $hello"
is_prop vmallocd.service ActiveState active || fail "vmallocd.service is not active"
is_prop vmallocd.service SubState running || fail "vmallocd.service is not running"
[ "$(prop vmallocd.service TriggeredBy)" = vmallocd.socket ] || fail "not triggered by vmallocd.socket"
MAINPID=$(prop vmallocd.service MainPID)
[ "$(ns stat -c %u /proc/"$MAINPID")" = "$VMALLOC_UID" ] || fail "vmallocd does not run as vmalloc"
# The daemon raises its open-files limit to the hard one, for max_clients:
# the unit's system call filter must let it.
nofile=$(ns cat /proc/"$MAINPID"/limits | sed -n 's/^Max open files *\([0-9]*\) *\([0-9]*\).*/\1 \2/p')
[ "${nofile% *}" = "${nofile#* }" ] || fail "open files soft/hard limit: $nofile"
echo "vmallocd runs as vmalloc (uid $VMALLOC_UID), open files soft/hard: $nofile"

# A client in the vmalloc group: allocate, write, read back, free.
addr=$(ns_as vmtest-member "${VMCTL[@]}" alloc 8M) || fail "vmctl alloc as a member failed"
echo "vmtest-member allocated 8M at $addr"
echo "hello from systemd" | ns_as vmtest-member "${VMCTL[@]}" write "$addr"
[ "$(ns_as vmtest-member "${VMCTL[@]}" read "$addr" 18)" = "hello from systemd" ] ||
	fail "read back the wrong bytes"
ns_as vmtest-member "${VMCTL[@]}" hello | grep -q "^uid: *$MEMBER_UID\$" ||
	fail "the daemon does not see the member's uid"
# Without $VMALLOCD_SOCKET, and with no daemon of its own, a member's
# client finds the system socket by itself.
ns_as vmtest-member env -u VMALLOCD_SOCKET -u XDG_RUNTIME_DIR LD_LIBRARY_PATH="$LIBDIR" \
	"$BINDIR/vmctl" --timeout 10000 hello | grep -q "^uid: *$MEMBER_UID\$" ||
	fail "a member's vmctl without VMALLOCD_SOCKET does not find the system socket"

# A client outside it is refused by the socket's mode.
if out=$(ns_as vmtest-outsider "${VMCTL[@]}" hello 2>&1); then
	fail "a client outside the vmalloc group connected"
fi
echo "vmtest-outsider: $out"
# One line: which socket, why, and what to do about it.
[ "$out" = "vmctl: cannot connect to $SOCK: Permission denied (the system socket is root's and \
the vmalloc group's: 'usermod -aG vmalloc USER', then log in again)" ] ||
	fail "outsider refused for another reason, or not told about the group: $out"

# ---- notify: STATUS and the watchdog ---------------------------------------------------

log "STATUS= and the watchdog"
status_shows() {
	prop vmallocd.service StatusText |
		grep -Eq "^Linux 6\.18, 1 CPU\(s\): [0-9]+ clients, [0-9]+ areas, [0-9]+ of [0-9]+ MiB free, $1 MiB vmalloc'd, [0-9]+ MiB resident\$"
}
wait_for 5 "STATUS to count the 8M area" status_shows 8
echo "StatusText=$(prop vmallocd.service StatusText)"
[ "$(prop vmallocd.service WatchdogUSec)" = 10s ] || fail "WatchdogUSec=$(prop vmallocd.service WatchdogUSec)"
wd=$(prop vmallocd.service WatchdogTimestampMonotonic)
[ "$wd" -gt 0 ] || fail "no watchdog ping yet"
pinged_since() { [ "$(prop vmallocd.service WatchdogTimestampMonotonic)" != "$1" ]; }
# Pings come every 2.5 s (a quarter of WatchdogSec=10s).
wait_for 8 "a second watchdog ping" pinged_since "$wd"
echo "watchdog armed: WatchdogUSec=10s, pinged at $wd then $(prop vmallocd.service WatchdogTimestampMonotonic) us"

# ---- systemd-analyze security on the loaded unit ---------------------------------------

log "systemd-analyze security vmallocd.service"
sec=$(ns systemd-analyze security --no-pager vmallocd.service 2>&1) || true
score=$(echo "$sec" | sed -n 's/.*Overall exposure level for vmallocd.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "no score from systemd-analyze security: $sec"
echo "exposure level: $score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure level $score is above 2.0"

# ---- the journal ---------------------------------------------------------------------------

cursor() {
	ns journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p'
}
# since CURSOR [JOURNALCTL ARGS]: the messages after CURSOR.
since() {
	local c=$1

	shift
	ns journalctl --no-pager -q -o cat --after-cursor="$c" "$@"
}
# notified CURSOR STATE...: PID 1 got these sd_notify states from
# vmallocd, in this order, after CURSOR.
notified() {
	local c=$1 j

	shift
	j=$(since "$c" -u vmallocd.service)
	for state in "$@"; do
		j=$(printf '%s\n' "$j" | sed -n "/^vmallocd.service: Got notification message.*$state/,\$p")
		[ -n "$j" ] || return 1
		j=$(printf '%s\n' "$j" | sed 1d)
	done
}
# logged CURSOR TEXT: vmallocd logged a line containing TEXT after CURSOR.
logged() {
	since "$1" _SYSTEMD_UNIT=vmallocd.service | grep -F "$2" >/dev/null
}

# ---- reload: RELOADING=1 then READY=1 ----------------------------------------------------

log "systemctl reload vmallocd.service"
ns systemctl log-level debug   # PID 1 logs each notification it gets
# Turn the daemon's log level up in the installed config: after the reload
# each connection is logged, which shows the file was read again.
ns sed -i 's/^#log_level = info$/log_level = debug/' "$SYSCONFDIR/vmallocd.conf"
ns grep -q '^log_level = debug$' "$SYSCONFDIR/vmallocd.conf" ||
	fail "could not edit $SYSCONFDIR/vmallocd.conf"
c=$(cursor)
ns systemctl reload vmallocd.service
wait_for 10 "RELOADING=1 then READY=1" notified "$c" RELOADING=1 READY=1
wait_for 10 "the daemon to log the reload" logged "$c" "configuration reloaded"
ns "${VMCTL[@]}" ping >/dev/null
wait_for 10 "the daemon to log a connection at debug level" logged "$c" "from uid 0 pid"
since "$c" -u vmallocd.service | grep -E 'notification|reload|Reload' || true
is_prop vmallocd.service SubState running || fail "not running after the reload"
[ "$(prop vmallocd.service MainPID)" = "$MAINPID" ] || fail "the reload restarted the daemon"

# ---- kill -9: systemd restarts it behind the same socket ----------------------------------

log "kill -9 $MAINPID (the main pid)"
ns kill -9 "$MAINPID"
restarted() { is_prop vmallocd.service NRestarts 1 && is_prop vmallocd.service SubState running; }
wait_for 20 "vmallocd.service to be restarted" restarted
NEWPID=$(prop vmallocd.service MainPID)
[ "$NEWPID" != "$MAINPID" ] || fail "the main pid did not change"
is_prop vmallocd.socket ActiveState active || fail "the socket went down with the daemon"
[ "$(ns stat -c %i $SOCK)" = "$SOCK_INODE" ] || fail "the socket was recreated"
ns_as vmtest-member "${VMCTL[@]}" hello >/dev/null || fail "vmctl fails after the restart"
echo "restarted: pid $MAINPID -> $NEWPID, NRestarts=1, same socket (inode $SOCK_INODE)"

# ---- nothing lost: the machine in the fd store across restarts and crashes -------------

PC=$WORK/persist-client
cp "$PERSIST_CLIENT" "$PC"
chmod 0755 "$PC"
PCRUN=(env LD_LIBRARY_PATH="$LIBDIR" VMALLOCD_SOCKET="$SOCK" "$PC")

log "10,000 areas of three owners with known bytes"
ns mkdir -p /tmp/persist
ns chmod 0777 /tmp/persist
ns "${PCRUN[@]}" fill 4000 persist_root >"$WORK/list.root" || fail "fill as root"
ns_as vmtest-member "${PCRUN[@]}" fill 3000 persist_member >"$WORK/list.member" || fail "fill as vmtest-member"
ns_as vmtest-member2 "${PCRUN[@]}" fill 3000 persist_member2 >"$WORK/list.member2" || fail "fill as vmtest-member2"
[ "$(cat "$WORK"/list.* | wc -l)" = 10000 ] || fail "not 10,000 areas made"
check_all() {
	ns "${PCRUN[@]}" check persist_root <"$WORK/list.root" &&
	ns_as vmtest-member "${PCRUN[@]}" check persist_member <"$WORK/list.member" &&
	ns_as vmtest-member2 "${PCRUN[@]}" check persist_member2 <"$WORK/list.member2"
}
check_all >/dev/null || fail "the areas do not read back before any restart"
ns "${VMCTL[@]}" vmallocinfo >"$WORK/vi.before"
ns "${VMCTL[@]}" buddyinfo >"$WORK/bi.before"
boot_before=$(ns "${VMCTL[@]}" hello | sed -n 's/^boot_id: *//p')
gen_before=$(ns "${VMCTL[@]}" hello | sed -n 's/^state_generation: *//p')
[ -n "$boot_before" ] && [ -n "$gen_before" ] || fail "hello shows no boot id or state generation"
[ "$(prop vmallocd.service FileDescriptorStoreMax)" = 8 ] || fail "FileDescriptorStoreMax=$(prop vmallocd.service FileDescriptorStoreMax)"

log "systemctl restart vmallocd.service: every area, byte, owner and caller back"
PID_BEFORE=$(prop vmallocd.service MainPID)
t_restart=$(date +%s%N)
ns systemctl restart vmallocd.service
is_prop vmallocd.service SubState running || fail "not running after the restart"
[ "$(prop vmallocd.service MainPID)" != "$PID_BEFORE" ] || fail "the restart kept the main pid"
ns "${VMCTL[@]}" vmallocinfo >"$WORK/vi.after"
ns "${VMCTL[@]}" buddyinfo >"$WORK/bi.after"
echo "restart to answering: $((($(date +%s%N) - t_restart) / 1000000)) ms with 10,000 areas"
cmp -s "$WORK/vi.before" "$WORK/vi.after" ||
	fail "vmallocinfo differs after the restart: $(diff "$WORK/vi.before" "$WORK/vi.after" | head -5)"
cmp -s "$WORK/bi.before" "$WORK/bi.after" ||
	fail "buddyinfo differs after the restart: $(diff "$WORK/bi.before" "$WORK/bi.after")"
check_all || fail "areas lost or changed by the restart"
[ "$(ns "${VMCTL[@]}" hello | sed -n 's/^state_generation: *//p')" = "$gen_before" ] ||
	fail "the state generation changed across a restart that kept the state"
[ "$(ns "${VMCTL[@]}" hello | sed -n 's/^boot_id: *//p')" != "$boot_before" ] ||
	fail "the boot id did not change across a restart"
ns "${VMCTL[@]}" check >/dev/null || fail "the checker fails after the restart"
echo "vmallocinfo ($(wc -l <"$WORK/vi.after") lines) and buddyinfo byte-identical; 10,000 areas read back"

log "kill -9 of the main pid during a storm of writes, 20 times at random instants"
# The restarts come quicker here than the unit's start limit allows.
mkdir -p "$UNITS/vmallocd.service.d"
printf '[Unit]\nStartLimitIntervalSec=0\n[Service]\nRestartSec=50ms\n' >"$UNITS/vmallocd.service.d/persist-test.conf"
ns systemctl daemon-reload
LEDGER=/tmp/persist/ledger
ns touch "$LEDGER"
ns chmod 0666 "$LEDGER"
restarts=$(prop vmallocd.service NRestarts)
storm_pids=()
for round in $(seq 20); do
	pid=$(prop vmallocd.service MainPID)
	storm_pids=()
	ns "${PCRUN[@]}" storm "$LEDGER" 0 & storm_pids+=($!)
	ns_as vmtest-member "${PCRUN[@]}" storm "$LEDGER" 1 & storm_pids+=($!)
	ns_as vmtest-member2 "${PCRUN[@]}" storm "$LEDGER" 2 & storm_pids+=($!)
	ns "${PCRUN[@]}" storm "$LEDGER" 3 & storm_pids+=($!)
	sleep "0.$((RANDOM % 4 + 1))$((RANDOM % 10))"
	ns kill -9 "$pid"
	wait "${storm_pids[@]}" || true
	back() { is_prop vmallocd.service SubState running && [ "$(prop vmallocd.service MainPID)" != "$pid" ]; }
	wait_for 20 "the restart after kill $round" back
	out=$(ns "${PCRUN[@]}" verify "$LEDGER" 2>&1) || fail "round $round: $out"
	echo "round $round: $out"
done
[ "$(prop vmallocd.service NRestarts)" -ge $((restarts + 20)) ] || fail "NRestarts=$(prop vmallocd.service NRestarts)"
check_all >/dev/null || fail "the 10,000 areas did not survive the kills"
rm "$UNITS/vmallocd.service.d/persist-test.conf"
ns systemctl daemon-reload

log "a corrupted state memfd: refused, logged, kept"
c=$(cursor)
MP=$(prop vmallocd.service MainPID)
# The state memfd is one of the daemon's descriptors; flip a byte of its
# newest checkpoint (the descriptor at 512 or 1024 names it) through /proc.
statefd=$(ns sh -c "for f in /proc/$MP/fd/*; do case \$(readlink \$f) in *vmallocd-state*) echo \$f; break;; esac; done")
[ -n "$statefd" ] || fail "no vmallocd-state memfd among the daemon's descriptors"
ns python3 - "$statefd" "$WORK/state.corrupt" <<'PY' || fail "could not corrupt the state memfd"
import struct, sys
p = sys.argv[1]
with open(p, 'r+b') as f:
    f.seek(512); d0 = struct.unpack('<QQQ', f.read(24))
    f.seek(1024); d1 = struct.unpack('<QQQ', f.read(24))
    gen, off, ln = max(d0, d1)
    f.seek(off + ln // 2); b = f.read(1)
    f.seek(off + ln // 2); f.write(bytes([b[0] ^ 0x5a]))
    f.seek(0); data = f.read()
with open(sys.argv[2], 'wb') as o:
    o.write(data)
PY
ns kill -9 "$MP"
refusals() { since "$c" _SYSTEMD_UNIT=vmallocd.service | grep -cF "fails its checksum: refused"; }
# Each automatic restart finds the same corrupted memfd in the store and
# refuses it again: the daemon never rewrote it.
twice() { [ "$(refusals)" -ge 2 ]; }
wait_for 20 "two restarts to refuse the corrupted state" twice
since "$c" _SYSTEMD_UNIT=vmallocd.service | grep -F "state:" | head -3
is_prop vmallocd.service SubState running && fail "the daemon runs on a corrupted state"
echo "refused $(refusals) times, not running: $(prop vmallocd.service ActiveState)/$(prop vmallocd.service SubState)"
# A stop empties the store; the next start is a new machine.
ns systemctl stop vmallocd.service
ns systemctl reset-failed vmallocd.service 2>/dev/null || true

# ---- the HTTP window: vmallocd-http.socket passes a socket named http --------------------

# systemd starts a socket only while its service is stopped; the first HTTP
# request then starts the service with both sockets.
log "systemctl stop vmallocd.service, start vmallocd-http.socket, curl activates"
is_prop vmallocd-http.socket UnitFileState disabled || fail "vmallocd-http.socket is enabled as installed"
ns systemctl stop vmallocd.service
ns systemctl start vmallocd-http.socket
is_prop vmallocd-http.socket ActiveState active || fail "vmallocd-http.socket is not active"
metrics=$(ns curl -s --max-time 10 http://127.0.0.1:9848/metrics) || fail "no /metrics on 127.0.0.1:9848"
echo "$metrics" | grep -q '^vmallocd_memory_total_bytes [0-9]' || fail "unexpected /metrics: $metrics"
# Read whole, not piped to grep -q: grep stopping at the match would end
# curl with SIGPIPE, and pipefail would call that a missing page.
page=$(ns curl -s --max-time 10 http://127.0.0.1:9848/) || fail "no page at / (curl failed)"
grep -q '<canvas' <<<"$page" || fail "no page at /"
echo "/metrics and / served through the socket systemd passed: $(echo "$metrics" | wc -l) lines"
ns "${VMCTL[@]}" hello >/dev/null || fail "the protocol socket does not answer beside the http one"
sec=$(ns systemd-analyze security --no-pager vmallocd.service 2>&1) || true
score=$(echo "$sec" | sed -n 's/.*Overall exposure level for vmallocd.service: \([0-9.]*\).*/\1/p')
echo "exposure level with the HTTP window: $score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure level $score is above 2.0"
ns systemctl stop vmallocd-http.socket

# ---- stop: STOPPING=1, exit 0 --------------------------------------------------------------

log "systemctl stop vmallocd.service"
c=$(cursor)
sigterms() { ns journalctl --no-pager -q -o cat SYSLOG_IDENTIFIER=vmallocd | grep -cF "SIGTERM: stopping"; }
n_sigterm=$(sigterms || true)
more_sigterms() { [ "$(sigterms)" -gt "$n_sigterm" ]; }
ns systemctl stop vmallocd.service
is_prop vmallocd.service ActiveState inactive || fail "not inactive after stop"
is_prop vmallocd.service Result success || fail "Result=$(prop vmallocd.service Result)"
is_prop vmallocd.service ExecMainCode 1 || fail "ExecMainCode=$(prop vmallocd.service ExecMainCode) (not exited)"
is_prop vmallocd.service ExecMainStatus 0 || fail "ExecMainStatus=$(prop vmallocd.service ExecMainStatus)"
wait_for 10 "the daemon to log SIGTERM" more_sigterms
wait_for 10 "STOPPING=1" notified "$c" STOPPING=1
since "$c" -u vmallocd.service | grep -E 'STOPPING=1|SIGTERM|Deactivated|Stopped' || true

log "systemctl stop vmallocd.socket"
ns systemctl stop vmallocd.socket
ns test ! -e $SOCK || fail "the socket file outlived vmallocd.socket"
echo "ok: vmallocd under systemd"
