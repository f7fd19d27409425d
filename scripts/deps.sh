#!/bin/sh
# Install the Debian packages kmemd needs to build, test and benchmark.
# A no-op when everything is there; needs root (or sudo) otherwise.
#
#   sh scripts/deps.sh         build and test (make deps, make test)
#   sh scripts/deps.sh bench   only the benchmarks' extra peers (make
#                              bench-deps): DPDK, which is big (some 220
#                              packages, 27 MB to fetch, 165 MB installed)
#                              and so not pulled in by make test.
set -eu

# Build: the compiler and the libraries (libuv, protobuf-c, jansson;
# libinih: kmemd.conf; libsystemd: sd_notify/socket activation;
# libhttp-parser-dev: the HTTP stats endpoint).  Tests: cmocka, curl and jq
# (HTTP), man-db and groff-base (man pages render), systemd
# (systemd-analyze verify); clang and libclang-rt-14-dev (libFuzzer and
# the sanitizer runtimes, Debian 12's clang 14) for the fuzz targets that
# make test and make fuzz build.  Bench: jemalloc and mimalloc as peers.
PACKAGES="gcc make pkg-config libuv1-dev libprotobuf-c-dev protobuf-c-compiler
libjansson-dev libinih-dev libsystemd-dev libhttp-parser-dev
libcmocka-dev curl jq man-db groff-base systemd clang libclang-rt-14-dev
libjemalloc-dev libmimalloc-dev"
BENCH_PACKAGES="libdpdk-dev"
if [ "${1:-}" = bench ]; then
	PACKAGES="$BENCH_PACKAGES"
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	     grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps: not root and no sudo; install as root: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
