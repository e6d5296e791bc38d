#!/bin/sh
# tests/measure/01.sh - the demonstration of docs/01_blocking.md: one
# client that keeps its connection idle stops the next one until the
# keep-alive timeout.  Run by `make measure-01`.
NN=01
# shellcheck source=tests/measure/lib.sh
. "$(dirname "$0")/lib.sh"

for _ in 1 2 3; do
	after_held 01_blocking 1 >"$WORK/one" || exit 1
	cat "$WORK/one"
done >"$WORK/second"
header "01_blocking (--keepalive-timeout 5, the default); one client sends" \
	"GET /api/hello and keeps the connection idle" \
	"(tests/bench/hold_idle.c), then \`curl\` times a second GET" \
	"/api/hello; three runs, a fresh server each"
echo "| the second client | run 1 | run 2 | run 3 |"
echo "|---|---:|---:|---:|"
awk '{ s = s sprintf(" %s after %.2f s |", $1, $2) }
END { print "| answered |" s }' "$WORK/second"
