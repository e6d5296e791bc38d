#!/bin/sh
# tests/measure/04.sh - the hand-measured figures of
# docs/04_threadpool.md: memory of the pool and of its connections,
# shedding load with a small pool and queue, and the client that waits in
# the queue behind idle keep-alive connections.  Run by
# `make measure-04`.
NN=04
# shellcheck source=tests/measure/lib.sh
. "$(dirname "$0")/lib.sh"
need wrk

header "04_threadpool --keepalive-timeout 120 (a fresh server per row);" \
	"tests/bench/hold_idle.c holds N keep-alive connections, each after" \
	"one GET /api/hello; Rss and Pss of /proc/PID/smaps_rollup, one" \
	"second after the last answer"
echo "| workers | idle connections | threads | RSS | PSS |"
echo "|---:|---:|---:|---:|---:|"
{
	printf '8 '
	memory_held 04_threadpool 0 --threads 8
	printf '200 '
	memory_held 04_threadpool 0 --threads 200
	printf '200 '
	memory_held 04_threadpool 200 --threads 200
} >"$WORK/mem"
awk '
function mb(kib) { return sprintf("%.1f MB", kib * 1.024 / 1000) }
{
	printf "| %d%s | %d | %d | %s | %s |\n", $1,
		NR == 1 ? " (the default)" : "", $2, $4, mb($5), mb($6)
	pss[NR] = $6
	threads[NR] = $4
	held[NR] = $2
}
END {
	printf "\nAn idle worker: %.0f KiB of PSS (rows 1 and 2); a connection" \
		" a worker holds: %.0f KiB (rows 2 and 3).\n",
		(pss[2] - pss[1]) / (threads[2] - threads[1]),
		(pss[3] - pss[2]) / held[3]
}' "$WORK/mem"

# Shedding: 200 keep-alive clients against 2 workers and 4 queue slots,
# three runs on one server.
serve 04_threadpool --threads 2 --queue 4
SAMPLE_INTERVAL=0.1
sample_tree "$SERVER_PID" "$WORK/samples" "$WORK/samples.stop" 300 &
BG_PIDS="$BG_PIDS $!"
for _ in 1 2 3; do
	wrk_run 2 200 2 "$SERVER_URL/api/hello" ""
	echo "$(wrk_value "$WRK_DIR" requests)" \
		"$(wrk_value "$WRK_DIR" errors_status)"
done >"$WORK/shed"
touch "$WORK/samples.stop"
peak=$(sample_peaks "$WORK/samples" | cut -d ' ' -f 2)
stop_server
header "04_threadpool --threads 2 --queue 4, \`wrk -t2 -c200 -d2s\`" \
	"(keep-alive) on /api/hello, three runs; the threads sampled from" \
	"/proc every 0.1 s"
echo "| run | answered 200 | answered 503 | threads, at most |"
echo "|---:|---:|---:|---:|"
awk -v t="$peak" '{ printf "| %d | %d | %d | %d |\n", NR, $1 - $2, $2, t }' \
	"$WORK/shed"

# The third client: two clients keep their connections idle after one
# request each, a third asks.  Three runs of each.
runs() {
	r_i=0
	while [ $r_i -lt 3 ]; do
		after_held "$@" >"$WORK/one" || exit 1
		awk 'NR == 1 { printf "%s ", $2 }' "$WORK/one"
		sed -n 2p "$WORK/one" >>"$WORK/p50"
		r_i=$((r_i + 1))
	done
}
# shellcheck disable=SC2016 # the backquotes are Markdown
{
	printf '04_threadpool `--threads 2` (keep-alive timeout 5 s)|'
	STATS=1
	runs 04_threadpool 2 --threads 2
	STATS=""
	echo
	CELL_KEEPALIVE=1
	printf '04_threadpool `--threads 2 --keepalive-timeout 1`|'
	runs 04_threadpool 2 --threads 2
	echo
	CELL_KEEPALIVE=5
	printf '04_threadpool `--threads 3`|'
	runs 04_threadpool 2 --threads 3
	echo
	printf '03_threads|'
	runs 03_threads 2
	echo
} >"$WORK/third"
header "two clients each send GET /api/hello and keep the connection" \
	"idle (tests/bench/hold_idle.c), then \`curl\` times a third GET" \
	"/api/hello; three runs, a fresh server each"
echo "| the same sequence against | third client answered after (3 runs) |"
echo "|---|---:|"
awk -F'|' '{ n = split($2, t, " "); s = ""
	for (i = 1; i <= n; i++)
		s = s (i > 1 ? ", " : "") \
		    sprintf(t[i] < 0.01 ? "%.4f s" : "%.3f s", t[i])
	printf "| %s | %s |\n", $1, s }' "$WORK/third"
echo
echo "The server's own p50 latency in /api/stats after each 04" \
	"\`--threads 2\` run: $(paste -sd ' ' "$WORK/p50" | sed 's/ / µs, /g') µs."
