#!/bin/sh
# install-deps.sh -- apt-install whatever Debian packages the build, the tests
# and the benchmarks need and are missing.  Idempotent; needs root (or sudo)
# only when something is missing.
set -eu

PKGS="gcc clang meson ninja-build pkg-config
libevent-dev libprotobuf-c-dev protobuf-c-compiler libsystemd-dev
libcunit1-dev libinih-dev libjson-c-dev libncurses-dev
libclang-rt-14-dev valgrind redis-server redis-tools scdoc systemd man-db util-linux
git tmux bpftrace time gnuplot-nox
libcairo2-dev libpng-dev librsvg2-bin fonts-dejavu-core
python3-prometheus-client python3-pil chromium"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
