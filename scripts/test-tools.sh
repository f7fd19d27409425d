#!/bin/sh
# Tools the tests use that are not worth installing system-wide, unpacked
# from Debian's archive into build/tools: promtool (from the prometheus
# package, whose installation would also set up a Prometheus server) checks
# the /metrics output.  Best effort: without it that check says "skipped".
set -u
dir=${1:-build/tools}
[ -x "$dir/bin/promtool" ] && exit 0
command -v promtool >/dev/null 2>&1 && exit 0
command -v apt-get >/dev/null 2>&1 || exit 0
tmp=$(mktemp -d) || exit 0
trap 'rm -rf "$tmp"' EXIT
if (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1) &&
   dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x" 2>/dev/null &&
   [ -x "$tmp/x/usr/bin/promtool" ]; then
	mkdir -p "$dir/bin" && cp "$tmp/x/usr/bin/promtool" "$dir/bin/"
	echo "test-tools: promtool unpacked into $dir/bin"
else
	echo "test-tools: could not fetch promtool (prometheus package); its check will be skipped"
fi
exit 0
