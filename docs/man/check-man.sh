#!/bin/sh
# check-man.sh -- keep the man pages true to the programs: every option of
# `vmallocd --help` is in vmallocd(8) with the same default and in
# vmallocd.conf(5) as a key with that default; every command and option of
# `vmctl --help` is in vmctl(1); every function of vmclient.h is in
# libvmclient(3).  Prints what is missing and exits 1, else 0.
#
# usage: check-man.sh VMALLOCD VMCTL VMCLIENT_H MAN_SOURCE_DIR
set -eu

vmallocd=$1 vmctl=$2 header=$3 man=$4
bad=0

missing() {
	echo "check-man: $*" >&2
	bad=1
}

# para FILE START: the paragraph of FILE from the first line starting with
# START (fixed text) to the next blank line.
para() {
	awk -v start="$2" 'index($0, start) == 1 { on = 1 } on && /^$/ { exit } on' "$1"
}

# ---- vmallocd(8) and vmallocd.conf(5) ------------------------------------------

"$vmallocd" --config /dev/null --help |
	sed -n 's/^  --\([a-z-]*\) .*/\1 &/p' >"${TMPDIR:-/tmp}/check-man.$$"
while read -r name line; do
	case $name in config|help|version) continue ;; esac
	default=$(printf '%s\n' "$line" | sed -n 's/.*(\([^()]*\))$/\1/p')
	[ "$default" != repeatable ] || default=
	text=$(para "$man/vmallocd.8.scd" "*--$name*")
	if [ -z "$text" ]; then
		missing "vmallocd.8: option --$name is not described"
	elif [ -n "$default" ] && ! printf '%s\n' "$text" | grep -qF "($default)"; then
		missing "vmallocd.8: --$name does not give its default ($default)"
	fi
	key=$(printf '%s' "$name" | tr - _)
	text=$(para "$man/vmallocd.conf.5.scd" "*$key* =")
	if [ -z "$text" ]; then
		missing "vmallocd.conf.5: key $key is not described"
	elif [ -n "$default" ] && ! printf '%s\n' "$text" | grep -qF "Default: $default."; then
		missing "vmallocd.conf.5: $key does not give its default ($default)"
	fi
done <"${TMPDIR:-/tmp}/check-man.$$"
rm -f "${TMPDIR:-/tmp}/check-man.$$"

# ---- vmctl(1) --------------------------------------------------------------------

commands=$("$vmctl" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
	on && /^  [a-z]/ { print $1 }')
[ -n "$commands" ] || missing "vmctl --help lists no commands"
for cmd in $commands; do
	grep -q "^\*$cmd\*" "$man/vmctl.1.scd" || missing "vmctl.1: command $cmd is not described"
	for opt in $("$vmctl" "$cmd" --help | grep -o -- '--[a-z0-9-]*' | sort -u); do
		grep -qF -- "*$opt*" "$man/vmctl.1.scd" ||
			missing "vmctl.1: option $opt of $cmd is not described"
	done
done
for opt in $("$vmctl" --help | sed -n '/^Options:/,$p' | grep -o -- '--[a-z0-9-]*' | sort -u); do
	grep -qF -- "*$opt*" "$man/vmctl.1.scd" || missing "vmctl.1: option $opt is not described"
done

# ---- libvmclient(3) ---------------------------------------------------------------

fns=$(sed -n 's/^[a-z].*[ *]\(vmc_[a-z0-9_]*\)(.*/\1/p' "$header" | sort -u)
for fn in $fns; do
	grep -q "$fn\b" "$man/libvmclient.3.scd" || missing "libvmclient.3: $fn is not described"
done

[ "$bad" -eq 0 ] && echo "check-man: the man pages match vmallocd, vmctl and vmclient.h"
exit "$bad"
