#!/bin/sh
# test-capture.sh -- a real capture of this machine's kernel, replayed in
# process: the capture tool, the parser and the replay end to end.
#
# usage: test-capture.sh ftrace|bpftrace SOURCE_DIR VMREPLAY
#
# Exits 77 (skipped) with the reason where the machine cannot trace (not
# root, no tracefs, no vmalloc events, no bpftrace).  Prints the replay's
# report, whose placement line says how far the engine's placement is from
# the kernel's on this capture.
set -eu
kind=$1 src=$2 vmreplay=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "test-capture: $*" >&2
	exit 1
}

rc=0
case $kind in
ftrace) "$src/tools/vmalloc-capture" --forks 300 -o "$tmp/cap" || rc=$? ;;
bpftrace) "$src/tools/vmalloc-bpftrace" --forks 300 -o "$tmp/cap" || rc=$? ;;
*) fail "unknown kind $kind" ;;
esac
[ "$rc" -eq 77 ] && exit 77
[ "$rc" -eq 0 ] || fail "the capture failed ($rc)"

"$vmreplay" "$tmp/cap" >"$tmp/report" || fail "vmreplay failed ($?)"
cat "$tmp/report"
"$vmreplay" --warm "$tmp/cap" | grep -E '^(warm|purges|placement):' | sed 's/^/--warm: /'

grep -q "^trace: $tmp/cap ($kind" "$tmp/report" || fail "not read as $kind"
cpus=$(getconf _NPROCESSORS_ONLN)
grep -q "^machine: .*, $cpus CPUs\{0,1\} (the trace's)" "$tmp/report" ||
	fail "the trace's CPU count is not $cpus"
grep -q '^failures: 0$' "$tmp/report" || fail "the replay failed calls"
grep -q '^skipped: [0-9]* lines of other events, 0 bad lines' "$tmp/report" ||
	fail "the capture has malformed lines"
allocs=$(sed -n 's/^  alloc *\([0-9]*\)$/\1/p' "$tmp/report")
frees=$(sed -n 's/^  free *\([0-9]*\)$/\1/p' "$tmp/report")
# 300 forks: a thread stack each, unless one of the two each CPU caches
# (from a child that already exited) is free, which depends on timing; a
# run here took a fresh stack for 155 to 262 of them.
[ "$allocs" -ge 50 ] || fail "only $allocs allocations for 300 forks"
[ "$frees" -ge 50 ] || fail "only $frees frees for 300 exits"
grep -q '^placement: [0-9]* of [0-9]* consecutive deltas agree' "$tmp/report" ||
	fail "no placement line"
if [ "$kind" = bpftrace ]; then
	grep -q "^# kernel: $(uname -r)\$" "$tmp/cap" || fail "the capture does not name the kernel"
	# The callers are the kernel's: the thread stacks' is copy_process.
	grep -q ' vmalloc kva=20480 align=16384 .* caller=copy_process+0x[0-9a-f]*/0x[0-9a-f]* ' \
		"$tmp/cap" || fail "no thread stack with its caller"
fi
echo "test-capture: $kind: $allocs allocations, $frees frees replayed"
