#!/bin/sh
# test-no-engine.sh -- the clients are clients: vmctl and libvmclient link
# no engine code.  Every symbol the engine library (libvmcore) defines is
# looked for in each binary's symbol table; any one found fails the test.
#
# usage: test-no-engine.sh LIBVMCORE_A BINARY...
set -eu
engine=$1
shift
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
nm --defined-only --extern-only "$engine" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u >"$tmp"
[ -s "$tmp" ] || { echo "test-no-engine: no symbols in $engine"; exit 1; }
bad=0
for bin in "$@"; do
	found=$( { nm "$bin" 2>/dev/null; nm -D "$bin" 2>/dev/null; } | awk '{ print $NF }' |
		sed 's/@.*//' | sort -u | comm -12 - "$tmp")
	if [ -n "$found" ]; then
		echo "test-no-engine: $bin holds engine symbols:" $found
		bad=1
	else
		echo "test-no-engine: $bin: none of libvmcore's $(wc -l <"$tmp") symbols"
	fi
done
exit "$bad"
