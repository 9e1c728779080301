#!/bin/bash
# test-examples.sh -- docs/examples/*.c as a user of an installed
# libvmclient builds them: `meson install --destdir` into a staging tree,
# then `cc $(pkg-config --cflags --libs vmclient)` with pkg-config pointed
# at that tree alone (no path into the source or build tree), then each
# program run against a live vmallocd, its exit status and output checked.
#
# usage: test-examples.sh BUILD_DIR SOURCE_DIR VMALLOCD [SANITIZE]
#   SANITIZE: meson's b_sanitize ("none", "address,undefined", ...): an
#   instrumented library needs instrumented programs.
set -euo pipefail

build=$1 src=$2 vmallocd=$3 sanitize=${4:-none}
say() { echo "test-examples: $*"; }
fail() { say "FAILED: $*"; exit 1; }

tmp=$(mktemp -d)
daemon=
cleanup() {
	if [ -n "$daemon" ]; then
		kill "$daemon" 2>/dev/null || true
		wait "$daemon" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

stage=$tmp/stage
meson install -C "$build" --destdir "$stage" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "meson install --destdir"; }
pc=$(find "$stage" -name vmclient.pc -print -quit)
[ -n "$pc" ] || fail "no vmclient.pc in the staging tree"
# The staged .pc first in the search path (its Requires.private, protobuf-c,
# comes from the system's), its prefix moved into the staging tree.
export PKG_CONFIG_PATH=${pc%/*}
prefix=$stage$(pkg-config --variable=prefix vmclient)
pkgconf() { pkg-config --define-variable=prefix="$prefix" "$@" vmclient; }
flags=$(pkgconf --cflags --libs) || fail "pkg-config vmclient"
libdir=$(pkgconf --variable=libdir)
say "pkg-config --cflags --libs vmclient: $flags"
case $flags in *"$src"*|*"$build"*) fail "the flags point into the source or build tree" ;; esac

extra=()
[ "$sanitize" = none ] || extra=(-fsanitize="$sanitize" -fno-omit-frame-pointer)
cd "$tmp"
for ex in "$src"/docs/examples/*.c; do
	name=$(basename "$ex" .c)
	cp "$ex" "$tmp/$name.c"
	# shellcheck disable=SC2086
	cc -std=c11 -Wall -Wextra -Werror -O2 "${extra[@]}" -MD -o "$name" "$name.c" $flags ||
		fail "$name.c does not build against the staged library"
	# Every header it read is the system's or the staged vmclient.h.
	grep -q "$stage/.*/vmclient.h" "$name.d" || fail "$name.c did not use the staged vmclient.h"
	! grep -qe "$src" -e "$build" "$name.d" || fail "$name.c read a header of the source tree"
done

sock=$tmp/vmallocd.sock
"$vmallocd" --config /dev/null --socket "$sock" --memory 256M 2>"$tmp/daemon.log" &
daemon=$!
for ((i = 0; i < 200; i++)); do
	[ -S "$sock" ] && break
	kill -0 "$daemon" 2>/dev/null || { cat "$tmp/daemon.log"; fail "vmallocd did not start"; }
	sleep 0.1
done
[ -S "$sock" ] || fail "no socket after 20 s"

run() { # run NAME PATTERN: it exits 0 and prints a line matching PATTERN
	local out
	out=$(LD_LIBRARY_PATH=$libdir "./$1" "$sock") || fail "$1 exited $?: $out"
	say "$1: $out"
	grep -Eq "$2" <<<"$out" || fail "$1 printed: $out"
}
run hello '^0xffffc9[0-9a-f]+: hello, vmalloc$'
run gfp '^GFP_KERNEL\|GFP_DMA32: 0x[0-9a-f]+ -> pfn 0x[0-9a-f]+ in DMA32$'
run batch '^64 areas of 1 to 64 pages: allocated, written, read back \(0 wrong\), freed, in 4 round trips$'
run node_range '^24 MiB in a 16 MiB window: Cannot allocate memory$'
n=$(ls "$src"/docs/examples/*.c | wc -l)
[ "$n" = 4 ] || fail "$n examples, 4 checked: check the new ones"
say "the $n examples build from the staged install through pkg-config alone and run"
