#!/bin/bash
# test-quickstart.sh -- the README's quick start, verbatim, as on a fresh
# Debian 12 machine: in a private mount namespace with empty tmpfs on /run,
# /tmp and /var/tmp, on a fresh clone of the tree (its committed HEAD plus
# the working tree's changes and new files, what .gitignore leaves out
# aside), as root.  The README's first
# command runs in the background as "one terminal"; once the daemon is
# ready, every line of the "another terminal" block runs, in order, in one
# shell; each line's exit status and output are checked; then the daemon is
# stopped and must exit cleanly.  The lines are read from README.md, so the
# document and the test cannot drift apart: a line this test has no check
# for fails it.
#
# usage: test-quickstart.sh SOURCE_DIR
# Exits 77 (skipped) where it cannot run: not root, or no mount namespaces.
set -euo pipefail

src=$1
say() { echo "test-quickstart: $*"; }

if [ "$(id -u)" != 0 ]; then
	say "skipped: the quick start is written for root (/run/vmallocd); run the suite as root"
	exit 77
fi
for tool in unshare git; do
	command -v "$tool" >/dev/null || { say "skipped: $tool is missing (scripts/install-deps.sh installs it)"; exit 77; }
done
if ! git -C "$src" rev-parse --verify -q HEAD >/dev/null; then
	say "skipped: $src is not a git checkout with a commit to clone"
	exit 77
fi
if ! why=$(unshare --mount --propagation private true 2>&1); then
	say "skipped: no private mount namespace here ($why)"
	exit 77
fi

# The tree travels into the namespace through a pipe: the source may sit
# under /tmp or /var/tmp (a clone made for CI), which the namespace hides.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$src" bundle create "$work/src.bundle" HEAD 2>/dev/null
git -C "$src" diff HEAD --binary >"$work/changes.patch"
git -C "$src" ls-files -z --others --exclude-standard |
	tar -C "$src" --null -T - -cf "$work/new-files.tar"

inner() {
	set -euo pipefail
	say() { echo "test-quickstart: $*"; }
	fail() { say "FAILED: $*"; exit 1; }

	for d in /run /tmp /var/tmp; do
		if ! mount -t tmpfs -o mode=1777 tmpfs "$d" 2>/dev/null; then
			say "skipped: cannot mount a tmpfs on $d in the namespace"
			exit 77
		fi
	done
	chmod 755 /run
	rm -rf /run/mount   # libmount's record of the mounts just made
	mkdir /tmp/in
	tar -C /tmp/in -xf -
	git -c advice.detachedHead=false clone -q /tmp/in/src.bundle /tmp/project
	cd /tmp/project
	if [ -s /tmp/in/changes.patch ]; then
		git apply /tmp/in/changes.patch
	fi
	tar -xf /tmp/in/new-files.tar
	say "a fresh clone in /tmp/project; /run, /tmp and /var/tmp are empty tmpfs"
	[ -z "$(ls -A /run)" ] || fail "/run is not empty: $(ls -A /run)"

	# The two parts of the quick start, as README.md has them.
	first=$(awk '/^## Quick start/ { q = 1; next } /^## / { q = 0 }
		q && /^    [^ ]/ { print substr($0, 5); exit }' README.md)
	awk '/^## Quick start/ { q = 1; next } /^## / { q = 0 }
		q && /^Then, in another terminal:/ { b = 1; next }
		b && /^    / { print substr($0, 5); got = 1; next }
		b && got && /[^ ]/ { exit }' README.md >/tmp/block
	[ "$first" = "scripts/run-daemon" ] || fail "the quick start's first command is '$first'"
	[ -s /tmp/block ] || fail "no 'Then, in another terminal:' block in README.md"

	# One terminal: the first command, verbatim, in a session of its own so
	# that it can be stopped as a whole whatever it execs.
	setsid bash -c "$first" >/tmp/daemon.log 2>&1 &
	daemon=$!
	# Whatever happens below, nothing of it outlives the test.
	trap 'kill -KILL -- -"$daemon" 2>/dev/null || true' EXIT
	for ((i = 0; i < 600; i++)); do
		grep -q 'ready:' /tmp/daemon.log && break
		if ! kill -0 "$daemon" 2>/dev/null; then
			cat /tmp/daemon.log
			fail "'$first' exited before the daemon was ready"
		fi
		sleep 0.5
	done
	grep -q 'ready:' /tmp/daemon.log || { cat /tmp/daemon.log; fail "no daemon after 300 s"; }
	say "'$first' is serving; its output:"
	sed 's/^/    | /' /tmp/daemon.log
	grep -q '^run-daemon: first build: ' /tmp/daemon.log || fail "the first build did not say so"
	grep -q '^<6>created /run/vmallocd for the socket$' /tmp/daemon.log ||
		fail "vmallocd did not create /run/vmallocd"
	grep -q '^<6>listening on /run/vmallocd/vmallocd.sock$' /tmp/daemon.log ||
		fail "vmallocd does not say where its socket is"

	# Another terminal: every line, verbatim, in one shell.
	n=0
	{
		while IFS= read -r line; do
			n=$((n + 1))
			printf '{ %s\n} >/tmp/out.%d 2>/tmp/err.%d; echo $? >/tmp/rc.%d\n' "$line" $n $n $n
		done </tmp/block
		echo 'printf %s "${A:-}" >/tmp/A'
	} >/tmp/run.sh
	bash /tmp/run.sh
	A=$(cat /tmp/A)

	ok() { # ok N RC: line N exited RC and wrote nothing to stderr
		[ "$(cat /tmp/rc.$1)" = "$2" ] || fail "line $1 exited $(cat /tmp/rc.$1): $(cat /tmp/err.$1)"
		[ ! -s /tmp/err.$1 ] || fail "line $1 wrote to stderr: $(cat /tmp/err.$1)"
	}
	n=0
	while IFS= read -r line; do
		n=$((n + 1))
		say "\$ $line"
		sed 's/^/    | /' /tmp/out.$n
		case $line in
		'build/client/vmctl meminfo')
			ok $n 0
			grep -qx 'MemTotal:        1048576 kB' /tmp/out.$n || fail "meminfo: no 1 GiB MemTotal"
			grep -qx 'VmallocTotal:   34359738367 kB' /tmp/out.$n || fail "meminfo: VmallocTotal"
			# x86_64 has no CONFIG_HIGHMEM: no High or Low lines.
			[ "$(wc -l </tmp/out.$n)" = 6 ] || fail "meminfo: not 6 lines"
			;;
		'A=$(build/client/vmctl alloc 64K)')
			ok $n 0
			[[ $A =~ ^0xffffc9[0-9a-f]{10}$ ]] || fail "alloc: the address is '$A'"
			;;
		'echo hello | build/client/vmctl write $A')
			ok $n 0
			[ ! -s /tmp/out.$n ] || fail "write printed something"
			;;
		'build/client/vmctl read $A 6 --hex')
			ok $n 0
			printf '00000000  68 65 6c 6c 6f 0a                                 |hello.|\n00000006\n' |
				cmp -s - /tmp/out.$n || fail "read --hex: not hello"
			;;
		'build/client/vmctl vmallocinfo')
			ok $n 0
			end=$(printf '0x%016x' $((A + 0x11000)))
			grep -qx "$(printf '0x%016x' $((A)))-$end   69632 vmctl pages=16 vmalloc N0=16" \
				/tmp/out.$n || fail "vmallocinfo: no line for the area"
			;;
		'build/client/vmctl top --batch')
			ok $n 0
			head -1 /tmp/out.$n | grep -q '^vmallocd 0\.1\.0, x86_64, 1 node, up ' ||
				fail "top: the first line"
			grep -q '^Mem: *1\.0Gi total, ' /tmp/out.$n || fail "top: no Mem line"
			grep -qx '      16     68Ki       1  vmctl' /tmp/out.$n || fail "top: the area's caller"
			;;
		'build/client/vmctl free $A')
			ok $n 0
			[ ! -s /tmp/out.$n ] || fail "free printed something"
			build/client/vmctl vmallocinfo | grep -q "^$(printf '0x%016x' $((A)))-.* vmctl" &&
				fail "free: the area is still there"
			;;
		*)
			fail "README.md's quick start has a line this test does not check: $line"
			;;
		esac
	done </tmp/block
	say "all $n lines of the block did what the README says"

	# Ctrl-C in the first terminal: the daemon stops cleanly.
	kill -INT -- -"$daemon"
	rc=0
	wait "$daemon" || rc=$?
	[ "$rc" = 0 ] || { cat /tmp/daemon.log; fail "the daemon exited $rc when stopped"; }
	trap - EXIT
	[ ! -e /run/vmallocd/vmallocd.sock ] || fail "the socket is left behind"
	say "the daemon stopped cleanly"
}

rc=0
tar -C "$work" -cf - src.bundle changes.patch new-files.tar |
	unshare --mount --propagation private bash -c "$(declare -f inner); inner" || rc=$?
exit "$rc"
