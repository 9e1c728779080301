#!/bin/bash
# test-top-tmux.sh -- `vmctl top` in a real terminal: tmux runs it in an
# 80x24 pane against a live vmallocd; the screen tmux shows must hold the
# summary (the header, the zone table, the caller we made, the key line),
# every line within the pane, the frame must follow a resize, and q must
# quit with status 0 and give the terminal back.
#
# usage: test-top-tmux.sh VMALLOCD VMCTL
# Exits 77 where tmux is missing (scripts/install-deps.sh installs it).
set -euo pipefail

vmallocd=$1 vmctl=$2
say() { echo "test-top-tmux: $*"; }
fail() { say "FAILED: $*"; [ -n "${screen:-}" ] && printf '%s\n' "$screen"; exit 1; }
command -v tmux >/dev/null || { say "skipped: tmux is missing"; exit 77; }

tmp=$(mktemp -d)
daemon=
tm() { tmux -S "$tmp/tmux.sock" "$@"; }
cleanup() {
	tm kill-server 2>/dev/null || true
	if [ -n "$daemon" ]; then
		kill "$daemon" 2>/dev/null || true
		wait "$daemon" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

sock=$tmp/vmallocd.sock
"$vmallocd" --config /dev/null --socket "$sock" --memory 64M 2>"$tmp/daemon.log" &
daemon=$!
for ((i = 0; i < 200; i++)); do
	[ -S "$sock" ] && break
	sleep 0.1
done
[ -S "$sock" ] || fail "vmallocd did not start: $(cat "$tmp/daemon.log")"
"$vmctl" --socket "$sock" alloc 256K --caller tmux_probe+0x10/0x40 >/dev/null

# The pane runs top, then records how it ended and stays open to be read.
tm -f /dev/null new-session -d -s top -x 80 -y 24 \
	"'$vmctl' --socket '$sock' top -i 0.3; echo \$? >'$tmp/status'; sleep 60"
screen=
for ((i = 0; i < 100; i++)); do
	screen=$(tm capture-pane -p -t top)
	grep -q '^NODE ZONE' <<<"$screen" && grep -q 'tmux_probe' <<<"$screen" && break
	sleep 0.1
done
say "the pane, 80x24:"
printf '%s\n' "$screen" | sed 's/^/    | /'
grep -q '^vmallocd 0\.1\.0, x86_64, 1 node, up ' <<<"$screen" || fail "no header line"
grep -q '^Mem: ' <<<"$screen" || fail "no Mem line"
grep -q '^NODE ZONE       MANAGED     FREE     USED  LARGEST  UNUSABLE@9  EXTFRAG@9$' <<<"$screen" ||
	fail "no zone table"
grep -q '^   0 DMA32 ' <<<"$screen" || fail "no DMA32 row"
grep -q '^      64    260Ki       1  tmux_probe+0x10/0x40$' <<<"$screen" || fail "no caller row"
[ "$(sed -n 24p <<<"$screen")" = " q: quit" ] || fail "the last line is not the key line"
[ "$(wc -l <<<"$screen")" = 24 ] || fail "not 24 lines"

# It refreshes: the uptime moves.
up1=$(head -1 <<<"$screen" | grep -o 'up [0-9:]*')
sleep 1.5
screen=$(tm capture-pane -p -t top)
up2=$(head -1 <<<"$screen" | grep -o 'up [0-9:]*')
[ "$up1" != "$up2" ] || fail "no refresh: $up1 both times"

# A narrower, shorter terminal: lines are cut, nothing wraps, the key line
# stays at the bottom.
tm resize-window -t top -x 60 -y 16
sleep 1
screen=$(tm capture-pane -p -t top)
say "the pane, 60x16:"
printf '%s\n' "$screen" | sed 's/^/    | /'
awk 'length($0) > 60 { exit 1 }' <<<"$screen" || fail "a line wider than the pane"
[ "$(sed -n 16p <<<"$screen")" = " q: quit" ] || fail "the key line left the bottom"
grep -q '^vmallocd 0\.1\.0, x86_64' <<<"$screen" || fail "the header is gone after the resize"

# q quits, status 0, and the terminal is given back (the alternate screen
# is left: nothing of top stays on the pane).
tm send-keys -t top q
for ((i = 0; i < 50; i++)); do
	[ -s "$tmp/status" ] && break
	sleep 0.1
done
[ -s "$tmp/status" ] || fail "q did not quit"
[ "$(cat "$tmp/status")" = 0 ] || fail "top exited $(cat "$tmp/status")"
screen=$(tm capture-pane -p -t top)
! grep -q 'NODE ZONE' <<<"$screen" || fail "top's frame stayed on the screen after q"
say "top ran in tmux, refreshed, followed a resize, and q quit with status 0"
