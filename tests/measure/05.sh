#!/bin/sh
# tests/measure/05.sh - the hand-measured figures of
# docs/05_nonblocking_poll.md: memory per idle connection, 04's failure
# gone, the blocking handler that stops the loop (05 beside 06), and
# slowloris.  Run by `make measure-05`.
NN=05
# shellcheck source=tests/measure/lib.sh
. "$(dirname "$0")/lib.sh"

event_memory 05_nonblocking_poll

for _ in 1 2 3; do
	after_held 05_nonblocking_poll 2 >"$WORK/one" || exit 1
	cat "$WORK/one"
done >"$WORK/third"
header "the sequence of docs/04: two clients each send GET /api/hello and" \
	"keep the connection idle (tests/bench/hold_idle.c), then \`curl\`" \
	"times a third GET /api/hello; three runs, a fresh server each"
echo "| the same sequence against | third client answered after (3 runs) |"
echo "|---|---:|"
awk '{ s = s (NR > 1 ? ", " : "") sprintf("%.4f s", $2) }
END { print "| 05_nonblocking_poll | " s " |" }' "$WORK/third"

# A static GET / sent 50 ms after /api/sleep?ms=500 on another
# connection: three runs against each of 05 and 06.
for m in 05_nonblocking_poll 06_epoll_async; do
	serve $m
	warm 2 /
	for _ in 1 2 3; do
		curl -s -o /dev/null --max-time 5 \
			"$SERVER_URL/api/sleep?ms=500" &
		bg=$!
		sleep 0.05
		timed_get "$SERVER_URL/" | cut -d ' ' -f 2
		wait $bg
	done | paste -sd ' ' | sed "s/^/$m /"
	stop_server
done >"$WORK/blocking"
header "a fresh server each (defaults: 06 with 8 workers);" \
	"\`curl /api/sleep?ms=500\` in the background, then after" \
	"\`sleep 0.05\` \`curl\` times a static GET /; three runs"
echo "| a static \`GET /\` sent 50 ms after \`/api/sleep?ms=500\` | three runs |"
echo "|---|---|"
awk '{ printf "| %s%s | %.4f s, %.4f s, %.4f s |\n", $1,
	$1 ~ /^06/ ? " (the pool runs the sleep)" : "", $2, $3, $4 }' \
	"$WORK/blocking"

slowloris 05_nonblocking_poll
