#!/bin/sh
# tests/measure/02.sh - the hand-measured figures of docs/02_fork.md:
# memory per idle connection (processes, RSS and PSS summed, the kernel's
# stacks and page tables) and the page faults a connection costs.
# Run by `make measure-02`; see tests/measure/README.md.
NN=02
# shellcheck source=tests/measure/lib.sh
. "$(dirname "$0")/lib.sh"
need perf
need wrk

header "02_fork --keepalive-timeout 120 (a fresh server per row);" \
	"tests/bench/hold_idle.c holds N keep-alive connections, each after" \
	"one GET /api/hello; Rss and Pss of /proc/PID/smaps_rollup summed" \
	"over the parent and its children, one second after the last answer;" \
	"the kernel's share: VmPTE (page tables) summed, and a 16 KiB kernel" \
	"stack per task (x86-64)"
echo "| idle connections | processes | RSS, summed | PSS, summed | kernel: stacks + page tables |"
echo "|---:|---:|---:|---:|---:|"
for n in 0 200 1000; do
	memory_held 02_fork $n
done >"$WORK/mem"
memory_table "$WORK/mem" 2

# Page faults per connection: perf stat counts them while wrk opens a new
# connection per request; --no-inherit counts the parent alone.
faults() {
	# shellcheck disable=SC2086 # $1: an option or nothing
	perf stat -x, $1 -e page-faults -o "$WORK/faults.txt" \
		-p "$SERVER_PID" >/dev/null 2>&1 &
	perf_pid=$!
	BG_PIDS="$BG_PIDS $perf_pid"
	sleep 0.3
	wrk_run 1 10 2 "$SERVER_URL/small.html" "Connection: close"
	stop_pid "$perf_pid" INT 30
	wait "$perf_pid" 2>/dev/null
	FAULTS=$(awk -F, -v n="$(wrk_value "$WRK_DIR" requests)" \
		'$3 ~ /faults/ { printf "%.0f\n", $1 / n }' "$WORK/faults.txt")
}
CELL_KEEPALIVE=5
CELL_PIN="taskset -c 0"
serve 02_fork
warm 5 /small.html
faults --no-inherit
parent=$FAULTS
faults ""
tree=$FAULTS
stop_server
if [ -z "$parent" ] || [ -z "$tree" ]; then
	die "perf stat counted nothing"
fi
header "02_fork pinned to CPU 0, \`wrk -t1 -c10 -d2s -H 'Connection:" \
	"close'\` on the 1 KiB small.html; \`perf stat -e page-faults -p" \
	"PARENT\` (--no-inherit for the parent alone), in two runs, over the" \
	"requests wrk counted"
echo "| page faults per connection | parent | parent and children |"
echo "|---|---:|---:|"
echo "| 02_fork | $parent | $tree |"
