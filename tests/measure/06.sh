#!/bin/sh
# tests/measure/06.sh - the hand-measured figures of
# docs/06_epoll_async.md: memory per idle connection, shedding when the
# pool is full, slowloris, --loops, the file cache against nginx, and the
# system calls per request of every model.  Run by `make measure-06`.
NN=06
# shellcheck source=tests/measure/lib.sh
. "$(dirname "$0")/lib.sh"
need wrk
need perf

event_memory 06_epoll_async

# ---- shedding: a full pool answers 503, static files keep flowing -----------

serve 06_epoll_async --threads 2 --queue 4
warm 2 /
SAMPLE_INTERVAL=0.1
sample_tree "$SERVER_PID" "$WORK/samples" "$WORK/samples.stop" 100 &
BG_PIDS="$BG_PIDS $!"
(
	sleep 0.5
	i=0
	while [ $i -lt 4 ]; do
		timed_get "$SERVER_URL/"
		sleep 0.5
		i=$((i + 1))
	done
) >"$WORK/during" &
during=$!
BG_PIDS="$BG_PIDS $during"
wrk_run 1 50 3 "$SERVER_URL/api/sleep?ms=100" ""
d=$WRK_DIR
wait $during
touch "$WORK/samples.stop"
peak=$(sample_peaks "$WORK/samples" | cut -d ' ' -f 2)
stop_server
header "06_epoll_async --threads 2 --queue 4, \`wrk -t1 -c50 -d3s" \
	"/api/sleep?ms=100\`, and \`curl\` of / every 0.5 s during the" \
	"flood; the threads sampled from /proc every 0.1 s"
echo "| sleeps answered 200 | answered 503 | curl \`GET /\` meanwhile | threads, at most |"
echo "|---:|---:|---|---:|"
awk -v n="$(wrk_value "$d" requests)" -v e="$(wrk_value "$d" errors_status)" \
	-v t="$peak" '$1 == 200 { k++; if (!lo || $2 < lo) lo = $2
		if ($2 > hi) hi = $2 }
	END { printf "| %d | %d | %d of %d: 200 in %.4f-%.4f s | %d |\n",
		n - e, e, k, NR, lo, hi, t }' "$WORK/during"

slowloris 06_epoll_async

# ---- --loops: one loop against two, SO_REUSEPORT -----------------------------

# The connections each of the server's epoll sets watches, less the idle
# server's ("41/59").
spread() {
	for fd in /proc/"$SERVER_PID"/fd/*; do
		case $(readlink "$fd") in
		*eventpoll*) grep -c '^tfd:' "/proc/$SERVER_PID/fdinfo/${fd##*/}" ;;
		esac
	done
}
# One run of --loops $1: prints "loops req_per_s cpu_us spread".
loops_run() {
	serve 06_epoll_async --threads 8 --loops "$1"
	warm 2 /small.html
	spread >"$WORK/spread0"
	(sleep 1 && spread >"$WORK/spread1") &
	sp=$!
	BG_PIDS="$BG_PIDS $sp"
	cpu_per_request 2 100 2 "$SERVER_URL/small.html" ""
	wait $sp
	stop_server
	echo "$1 $RATE $CPU_US $(paste -d ' ' "$WORK/spread1" "$WORK/spread0" |
		awk '{ printf "%s%d", (NR > 1 ? "/" : ""), $1 - $2 }')"
}
for round in 1 2 3; do
	loops_run 1
	loops_run 2
done >"$WORK/loops"
header "06_epoll_async --threads 8 --loops N, unpinned \`wrk -t2 -c100" \
	"-d2s\` on the 1 KiB small.html, three rounds taken in turn; CPU is" \
	"the server's CPU time per request (its cgroup); spread: how many" \
	"of wrk's connections each loop's epoll set held, 1 s into each run"
echo "| 06 with | requests/s (3 runs) | median | CPU µs/request, median | spread per run |"
echo "|---|---|---:|---:|---|"
for l in 1 2; do
	awk -v l=$l '$1 == l' "$WORK/loops" >"$WORK/loops.$l"
	label="\`--loops 1\`"
	[ $l = 2 ] && label="\`--loops 2\` (\`SO_REUSEPORT\`)"
	echo "| $label | $(cut -d ' ' -f 2 "$WORK/loops.$l" |
		awk '{ printf "%s%d", (NR > 1 ? ", " : ""), $1 }') |" \
		"$(cut -d ' ' -f 2 "$WORK/loops.$l" | median |
		awk '{ printf "%d", $1 }') |" \
		"$(cut -d ' ' -f 3 "$WORK/loops.$l" | median) |" \
		"$(cut -d ' ' -f 4 "$WORK/loops.$l" | paste -sd ' ' |
		sed 's/ /, /g') |"
done

# ---- the file cache, against nginx --------------------------------------------

# The server alone on CPU 0, wrk on CPU 1 (as the bench pins them).
CELL_PIN="taskset -c 0"
WRK_PIN="taskset -c 1"
# model:option:value ("-": none).
configs="06_epoll_async:--file-cache-valid:1 06_epoll_async:--file-cache-valid:0"
[ -n "$NGINX" ] && configs="$configs nginx:-:- nginx-ofc:-:-"
for round in 1 2 3; do
	for c in $configs; do
		opt=${c#*:}
		if [ "${opt%%:*}" = - ]; then
			serve "${c%%:*}"
		else
			serve "${c%%:*}" "${opt%%:*}" "${opt#*:}"
		fi
		warm 5 /small.html
		cpu_per_request 1 50 1 "$SERVER_URL/small.html" ""
		echo "$c $CPU_US $RATE"
		if [ $round = 1 ]; then
			syscalls_per_request 1 50 1 "$SERVER_URL/small.html" ""
			echo "$c calls $CALLS"
		fi
		stop_server
	done
done >"$WORK/cache"
header "the server pinned to CPU 0, \`wrk -t1 -c50 -d1s\` pinned to CPU 1" \
	"on the 1 KiB small.html, three rounds taken in turn (nginx: one" \
	"worker, sendfile on, as the bench configures it; nginx-ofc adds" \
	"open_file_cache with 1 s validity); CPU: the server's CPU time" \
	"(its cgroup) per request, median (min-max); system calls:" \
	"\`perf stat -e raw_syscalls:sys_enter\` in a 1 s run of its own"
echo "| server | system calls per request | server CPU per request |"
echo "|---|---:|---:|"
for c in $configs; do
	case $c in
	*valid:1) label="${c%%:*} with the cache (the default)" ;;
	*valid:0) label="${c%%:*} \`--file-cache-valid 0\`" ;;
	nginx:*) label="nginx $($NGINX -v 2>&1 | sed 's|.*/||')" ;;
	nginx-ofc:*) label="nginx with \`open_file_cache\`" ;;
	esac
	calls=$(awk -v c="$c" '$1 == c && $2 == "calls" { print $3 }' \
		"$WORK/cache")
	awk -v c="$c" '$1 == c && $2 != "calls" { print $2 }' "$WORK/cache" \
		>"$WORK/cpu"
	echo "| $label | $calls | $(median <"$WORK/cpu") µs" \
		"($(range <"$WORK/cpu")) |"
done

# ---- system calls per request, every model ------------------------------------

for m in 01_blocking 02_fork 03_threads 04_threadpool 05_nonblocking_poll \
	06_epoll_async; do
	serve $m
	warm 5 /small.html
	syscalls_per_request 1 50 1 "$SERVER_URL/small.html" ""
	ka=$CALLS
	syscalls_per_request 1 50 1 "$SERVER_URL/small.html" \
		"Connection: close"
	cl=$CALLS
	stop_server
	echo "| $m | $ka | $cl |"
done >"$WORK/calls"
header "each model pinned to CPU 0 (--threads 8), \`wrk -t1 -c50 -d1s\`" \
	"pinned to CPU 1 on the 1 KiB small.html, keep-alive and with" \
	"\`Connection: close\`; \`perf stat -e raw_syscalls:sys_enter -p" \
	"PID\` (threads and children included) over the requests wrk counted"
echo "| model | keep-alive: calls per request | one request per connection: calls per request |"
echo "|---|---:|---:|"
cat "$WORK/calls"
