#!/bin/sh
# tests/bench/bench.sh - every model under every workload; `make bench`.
#
# For each cell (model x workload) it starts a fresh server pinned to CPU 0,
# runs wrk on CPU 1 for DURATION seconds while watching the server's process
# tree in /proc, stops the server, and writes one CSV row; in the allcores
# workload alone server and wrk share every core.  It does so in rounds:
# each round runs every workload, and each workload every model in turn,
# so that a change in the machine's load falls on all models alike; from
# round 3 on, only the cells whose rounds so far disagree run again.  The
# system calls are counted in a separate, short pass (perf, in round 1 of
# static-ka and static-close) so that tracing never slows a measured run.
# It prints the estimated duration at the start, and the time left on
# every cell.  It measures and records; it never decides pass or fail,
# and it exits 0 whatever a server did.
#
# Environment (see README.md):
#   MODELS="01_blocking nginx"   which rows (default: all six, nginx and
#                                nginx-ofc: nginx with open_file_cache)
#   WORKLOADS="static-ka sleep"  which columns (default: all ten)
#   REPEAT=3                     rounds; the report shows the median
#   TIGHT_PCT=5                  from round 3 on, only cells whose rounds
#                                differ by more than this run (0: all)
#   DURATION=3                   seconds measured per cell
#   QUICK=1                      one round of 1-second cells, 2,000 instead
#                                of 10,000 connections, no syscall pass:
#                                a smoke test for CI
#   PERF=0                       no syscall pass
#   PUBLISH=1                    also put the report into docs/ (the whole
#                                matrix at full length, on a quiet machine
#                                unless FORCE=1)
#
# Every run goes to build/bench/<time>/ (not in git), and build/bench/latest
# points at the newest finished one.
set -u

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT_DIR=$(cd "$BENCH_DIR/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$BENCH_DIR/lib.sh"

ALL_MODELS="01_blocking 02_fork 03_threads 04_threadpool \
05_nonblocking_poll 06_epoll_async nginx nginx-ofc"
ALL_WORKLOADS="static-ka static-close conns-1k conns-10k idle-10k sleep cpu \
slowloris large allcores"

# ---- settings ----------------------------------------------------------------

# The full run: 3 rounds of 3-second cells without a warm-up, at most 15
# minutes on 2 cores (README.md: How long it takes).  Three rounds of 3 s
# tell more than one of 9 s on a shared machine: the median drops a round
# that other work disturbed, and min-max shows how much it moved.  3 s is
# the shortest run in which a client waiting since the start can be seen
# stalled (2 s without an answer, counted 0.5 s before the end).  No
# warm-up: a fresh server faults in its few pages within the first
# milliseconds, and 74 one-second warm-ups a round would cost 4 minutes.
QUICK=${QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=""
if [ -n "$QUICK" ]; then
	REPEAT=${REPEAT:-1}
	DURATION=${DURATION:-1}
	WARMUP=${WARMUP:-0}
	CONNS_10K=${CONNS_10K:-2000}
	IDLE_CONNS=${IDLE_CONNS:-2000}
	SLOWLORIS_CONNS=${SLOWLORIS_CONNS:-250}
	SLOWLORIS_RAMP=${SLOWLORIS_RAMP:-1}
	STALL_MS=${STALL_MS:-500}
	HOLD_WAIT_MS=${HOLD_WAIT_MS:-2000}
	HOLD_QUIET_MS=${HOLD_QUIET_MS:-500}
	PERF=${PERF:-0}
else
	REPEAT=${REPEAT:-3}
	DURATION=${DURATION:-3}
	WARMUP=${WARMUP:-0}
	CONNS_10K=${CONNS_10K:-10000}
	IDLE_CONNS=${IDLE_CONNS:-10000}
	SLOWLORIS_RAMP=${SLOWLORIS_RAMP:-2}
	STALL_MS=${STALL_MS:-2000}
	HOLD_WAIT_MS=${HOLD_WAIT_MS:-5000}
	HOLD_QUIET_MS=${HOLD_QUIET_MS:-1000}
	PERF=${PERF:-auto}
fi
SLOWLORIS_CONNS=${SLOWLORIS_CONNS:-500}
# slowhttptest opens its connections at this rate: all 500 within the
# first second, and the ramp leaves one more for them to be accepted.
SLOWLORIS_RATE=500
CPU_N=${CPU_N:-250}
SLEEP_MS=${SLEEP_MS:-10}
# The static probe of the sleep workload: requests a second, and the
# seconds it runs alone before the load.
PROBE_RATE=${PROBE_RATE:-20}
PROBE_ALONE_S=1
# The syscall pass: seconds of wrk with perf attached, and the workloads
# that get one (in round 1).  static-ka is the request path itself, the
# figure issue 10 sets targets for; static-close adds what a connection
# costs (accept, close, and for 02 and 03 a fork or a thread).  The other
# workloads add nothing that a count of calls would teach, and a pass in
# every cell cost 1.5 minutes a run.
SYSCALL_S=1
SYSCALL_WORKLOADS=${SYSCALL_WORKLOADS:-static-ka static-close}
SAMPLE_INTERVAL=0.2
FORCE=${FORCE:-0}
# From round 3 on, only the cells whose rounds so far differ by more than
# this percentage (in req/s or CPU per request) run again; 0: every cell
# runs every round.  See loose_cells.
TIGHT_PCT=${TIGHT_PCT:-5}

for n in "$REPEAT" "$DURATION" "$WARMUP" "$CPU_N" "$SLEEP_MS" \
	"$CONNS_10K" "$IDLE_CONNS" "$PROBE_RATE" "$HOLD_WAIT_MS" \
	"$HOLD_QUIET_MS" "$TIGHT_PCT"; do
	case $n in
	'' | *[!0-9]*)
		echo "bench: REPEAT, DURATION, WARMUP, CPU_N, SLEEP_MS," \
			"CONNS_10K, IDLE_CONNS, PROBE_RATE, HOLD_*_MS and" \
			"TIGHT_PCT are whole numbers (got '$n')" >&2
		exit 2
		;;
	esac
done
[ "$DURATION" -ge 1 ] || DURATION=1
[ "$REPEAT" -ge 1 ] || REPEAT=1
[ "$PROBE_RATE" -ge 1 ] || PROBE_RATE=1
# When to count stalled clients: 0.5 s before the end (0.3 s in short runs).
SNAPSHOT_AT=$(awk -v d="$DURATION" 'BEGIN { print d - (d < 3 ? 0.3 : 0.5) }')
# The probe beside the load starts once wrk's connections are up and is
# stopped before wrk stops: what it measures is all beside the load.
PROBE_DELAY=$(awk -v d="$DURATION" 'BEGIN { print d < 3 ? 0.1 : 0.5 }')
PROBE_S=$(awk -v d="$DURATION" 'BEGIN { print d < 3 ? d - 0.2 : d - 0.7 }')

# The same server settings for every model (nginx gets the same timeouts).
# --max-conns is far above any workload, so a model's own limits show, not
# the cap's.  --threads and --queue matter to 04 and 06 only.  idle-10k
# alone gets a longer keep-alive timeout: its idle connections must stay
# open for the whole cell, and 5 s is shorter than the cell.
THREADS=${THREADS:-8}
QUEUE=${QUEUE:-256}
MAX_CONNS=${MAX_CONNS:-20000}
KEEPALIVE_TIMEOUT=5
IDLE_KEEPALIVE_TIMEOUT=60
HEADER_TIMEOUT=10
SERVER_ARGS="--threads $THREADS --queue $QUEUE --max-conns $MAX_CONNS \
--header-timeout $HEADER_TIMEOUT"
# What cell_setup sets for each cell.
CELL_KEEPALIVE=$KEEPALIVE_TIMEOUT
CELL_PIN=""
CELL_ARGS=""
CELL_WORKERS=1
WRK_PIN=""

# Publishing rewrites docs/bench.md and docs/bench/, so it is asked for,
# never implied, and only the whole matrix at full length may be published:
# a part of it or a QUICK run would replace the figures of every other cell.
PUBLISH=${PUBLISH:-}
case $PUBLISH in
'' | 0) PUBLISH="" ;;
1)
	if [ -n "$QUICK${MODELS:-}${WORKLOADS:-}" ]; then
		echo "bench: PUBLISH=1 publishes the whole matrix at full" \
			"length: unset QUICK, MODELS and WORKLOADS" >&2
		exit 2
	fi
	;;
*)
	echo "bench: PUBLISH is 1 or 0 (got '$PUBLISH')" >&2
	exit 2
	;;
esac
MODELS=${MODELS:-$ALL_MODELS}
WORKLOADS=${WORKLOADS:-$ALL_WORKLOADS}

BIN_DIR=${BIN_DIR:-$ROOT_DIR/bin}
PAGE_KIB=$(($(getconf PAGESIZE) / 1024))
NGINX=$(command -v nginx 2>/dev/null || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx

# 10,000 connections need 10,000 descriptors in wrk and in the server.
# shellcheck disable=SC3045 # ulimit -n and -H: dash and bash both have them
{
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] && hard=65536
	ulimit -n "$hard" 2>/dev/null
	NOFILE=$(ulimit -n)
}

# The server alone on CPU 0; this script and everything it starts (wrk,
# slowhttptest, perf, the holder, the probe, the /proc sampler) on CPU 1.
# The allcores workload alone unpins the server and wrk: PIN_ALL gives
# them back every CPU this script was allowed when it began (they would
# inherit its CPU 1 otherwise).  ALL_CORES is that workload's number of
# event loops (06), nginx workers and wrk threads: one per CPU.
NCPU=$(getconf _NPROCESSORS_ONLN)
ALL_CORES=$NCPU
[ "$ALL_CORES" -gt 64 ] && ALL_CORES=64 # 06's --loops at most
if [ "$NCPU" -ge 2 ]; then
	PIN_SERVER="taskset -c 0"
	PIN_ALL="taskset -c $(taskset -pc $$ | sed 's/.*: *//')"
	taskset -pc 1 $$ >/dev/null
	PINNING="server on CPU 0; wrk and tools on CPU 1; allcores: server \
and wrk unpinned (${PIN_ALL#taskset -c }), the tools on CPU 1"
else
	PIN_SERVER=""
	PIN_ALL=""
	PINNING="none (one CPU): server and wrk share it"
fi

# A machine is busy when its load average, before the bench adds its own,
# is above half a runnable task per core: other work then takes CPU time
# from the server or from wrk, and the figures move from run to run.
LOAD_START=$(cut -d " " -f 1-3 /proc/loadavg)
BUSY=$(awk -v l="${LOAD_START%% *}" -v n="$NCPU" \
	'BEGIN { print (l > 0.5 * n) ? 1 : 0 }')
if [ -n "$PUBLISH" ] && [ "$BUSY" = 1 ] && [ "$FORCE" != 1 ]; then
	echo "bench: the machine is busy (load average ${LOAD_START%% *}" \
		"on $NCPU cores): its figures are not worth publishing;" \
		"wait for a quiet machine, or FORCE=1" >&2
	exit 2
fi

if [ "$PERF" != 0 ] && command -v perf >/dev/null 2>&1 &&
	perf stat -x, -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
	PERF=1
	PERF_NOTE="perf stat -e raw_syscalls:sys_enter, in a pass of its own \
(${SYSCALL_S} s, round 1, after the measured run) in $(echo \
$SYSCALL_WORKLOADS | sed 's/ /, /g'): the measured runs are not traced"
else
	if [ "$PERF" = 0 ] && [ -n "$QUICK" ]; then
		PERF_NOTE="n/a (QUICK=1 skips the syscall pass; PERF=1 runs it)"
	elif [ "$PERF" = 0 ]; then
		PERF_NOTE="n/a (PERF=0)"
	else
		PERF_NOTE="n/a (perf unavailable)"
	fi
	PERF=0
fi

# ---- where things go ---------------------------------------------------------

# Runs are working files, outside the tracked tree: only a published run's
# report, charts, results.csv, runs.csv and meta.env are kept in git (in
# docs/).
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$ROOT_DIR/build/bench
OUT=$RESULTS/$STAMP
# Document root, logs and every cell's files.
WORK=$OUT/work
DOCROOT=$WORK/root
mkdir -p "$OUT" "$WORK" "$DOCROOT" || exit 1
RUNS=$OUT/runs.csv
CSV=$OUT/results.csv
META=$OUT/meta.env
# Each cell's estimated and actual seconds, to check estimate() by.
TIMES=$OUT/times.csv
# The servers' CPU time: a cgroup of the bench's own, or /proc.
cpu_clock_init "concurrency-bench-$$"

# Keep the five newest runs.
# shellcheck disable=SC2012 # names are our own time stamps
ls -1d "$RESULTS"/2* 2>/dev/null | sort -r | tail -n +6 |
	while read -r old; do rm -rf "$old"; done

# The idle-10k holder, built from hold_idle.c when it is missing or older.
HOLDER=$RESULTS/bin/hold_idle
build_holder() {
	[ -x "$HOLDER" ] &&
		[ -z "$(find "$BENCH_DIR/hold_idle.c" -newer "$HOLDER")" ] &&
		return 0
	mkdir -p "$(dirname "$HOLDER")"
	${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror \
		-o "$HOLDER" "$BENCH_DIR/hold_idle.c"
}

# ---- cleanup: whatever happens, no server outlives the bench -----------------

SERVER_PID=""
SLOW_PID=""
SAMPLER_PID=""
PERF_PID=""
SNAP_PID=""
HOLD_PID=""
PROBE_PID=""
cleanup() {
	for p in $PERF_PID $SLOW_PID $SAMPLER_PID $SNAP_PID $HOLD_PID \
		$PROBE_PID; do
		kill -s TERM "$p" 2>/dev/null
	done
	if [ -n "$SERVER_PID" ]; then
		kill -s TERM "$SERVER_PID" 2>/dev/null
		sleep 0.5
		kill -s KILL -- "-$SERVER_PID" 2>/dev/null
	fi
	cpu_clock_fini
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

# ---- the document root -------------------------------------------------------

# small.html: the project's ~1 KiB page if there is one, else 1 KiB of our
# own; large.bin: 1 MiB.  Copied into a root of the bench's own, so later
# changes to www/ do not change what the numbers mean.
make_docroot() {
	small=$ROOT_DIR/www/small.html
	if [ ! -f "$small" ]; then
		small=$(find "$ROOT_DIR/www" -maxdepth 1 -type f -size -4k \
			-name '*.html' 2>/dev/null | sort | head -n 1)
	fi
	if [ -n "$small" ] && [ -f "$small" ]; then
		cp "$small" "$DOCROOT/small.html"
		SMALL_FROM=${small#"$ROOT_DIR"/}
	else
		{
			echo "<!doctype html><title>bench</title><pre>"
			i=0
			while [ $i -lt 15 ]; do
				echo "The quick brown fox jumps over the lazy dog."
				i=$((i + 1))
			done
			echo "</pre>"
		} | head -c 1024 >"$DOCROOT/small.html"
		SMALL_FROM="generated"
	fi
	head -c 1048576 /dev/zero | tr '\0' 'x' >"$DOCROOT/large.bin"
	echo ok >"$DOCROOT/index.html"
}

# ---- workloads ---------------------------------------------------------------

# Sets W_PATH, W_CONNS, W_THREADS and W_HEADER for workload $1.
workload() {
	W_PATH=/small.html
	W_CONNS=50
	W_THREADS=1
	W_HEADER=""
	case $1 in
	static-ka) ;;
	static-close) W_HEADER="Connection: close" ;;
	conns-1k) W_CONNS=1000 W_THREADS=2 ;;
	conns-10k) W_CONNS=$CONNS_10K W_THREADS=2 ;;
	idle-10k) ;; # beside IDLE_CONNS idle ones that hold_idle keeps open
	sleep) W_PATH="/api/sleep?ms=$SLEEP_MS" ;;
	cpu) W_PATH="/api/cpu?n=$CPU_N" ;;
	slowloris) W_CONNS=10 ;;
	large) W_PATH=/large.bin W_CONNS=10 ;;
	allcores) W_THREADS=$ALL_CORES ;; # unpinned: see cell_setup
	*) return 1 ;;
	esac
}

# Why model $1 sits out workload $2 (empty: it runs).
not_applicable() {
	if [ "$2" = allcores ]; then
		[ "$NCPU" -lt 2 ] && echo "one CPU: no other core to use" &&
			return
		case $1 in
		01_blocking | 05_nonblocking_poll)
			echo "one thread: a second core cannot help it" \
				"(its static-ka row is what it does with one)"
			return
			;;
		esac
	fi
	if is_nginx "$1"; then
		[ -z "$NGINX" ] && echo "nginx not installed" && return
		case $2 in
		sleep | cpu) echo "nginx has no /api/ endpoints" ;;
		esac
	fi
}

# Estimated tenths of seconds for model $1, workload $2, round $3, for
# the plan and the progress line: what the cell waits for, plus what its
# starting, checking and stopping took in runs on 2 cores (a cell of 3 s
# took 3.2 s, the syscall pass 1.5 s more; times.csv in each run's
# directory has every cell's estimate beside what it took).
estimate() {
	[ -n "$(not_applicable "$1" "$2")" ] && echo 0 && return
	t=$((DURATION * 10 + 2))
	[ "$WARMUP" -gt 0 ] && t=$((t + WARMUP * 10 + 2))
	counts_syscalls "$2" "$3" && t=$((t + SYSCALL_S * 10 + 5))
	case $2 in
	conns-1k) t=$((t + 2)) ;;
	conns-10k) t=$((t + CONNS_10K / 2000)) ;;
	idle-10k)
		# The holder's filling: quick when the server answers all,
		# HOLD_QUIET_MS after the last answer when it stops
		# answering (01, 04; 03 starts 10,000 threads).  02 forks a
		# child per idle connection, and reaps them all at the end:
		# about 12 ms each.
		case $1 in
		01_* | 03_* | 04_*) t=$((t + HOLD_QUIET_MS / 100 + 10)) ;;
		02_*) t=$((t + IDLE_CONNS / 83)) ;;
		*) t=$((t + 8)) ;;
		esac
		;;
	sleep) t=$((t + PROBE_ALONE_S * 10 + 1)) ;;
	slowloris) t=$((t + SLOWLORIS_RAMP * 10 + 2)) ;;
	esac
	echo $t
}

# Whether the cell of workload $1 in round $2 gets the syscall pass.
counts_syscalls() {
	[ "$PERF" = 1 ] && [ "$2" = 1 ] || return 1
	case " $SYSCALL_WORKLOADS " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# How workload $1 runs its server and wrk: sets CELL_PIN (the server's
# taskset, empty: none), CELL_ARGS (its options beyond SERVER_ARGS),
# CELL_WORKERS (nginx's worker processes), CELL_KEEPALIVE (the keep-alive
# timeout) and WRK_PIN (wrk's taskset).
#
# LESSON: allcores takes the pins out.  Pinned, every model gets one core,
# which is the fair way to compare what each spends per request; but 03,
# 04, 06 with --loops and nginx with a worker per core are built to use
# them all, and only an unpinned run shows what that buys.  wrk is
# unpinned too, with a thread per core: on a machine of two cores it
# competes with the server for them, as the scheduler sees fit, so the
# req/s is what server and client make of the machine together, and the
# CPU per request (every thread and process of the server summed) is the
# server's own figure.
cell_setup() {
	CELL_PIN=$PIN_SERVER
	CELL_ARGS=""
	CELL_WORKERS=1
	CELL_KEEPALIVE=$KEEPALIVE_TIMEOUT
	WRK_PIN=""
	case $1 in
	idle-10k) CELL_KEEPALIVE=$IDLE_KEEPALIVE_TIMEOUT ;;
	allcores)
		CELL_PIN=$PIN_ALL
		# Only 06 uses --loops; the others accept and ignore it,
		# so every server still gets the same command line.
		CELL_ARGS="--loops $ALL_CORES"
		CELL_WORKERS=$ALL_CORES
		WRK_PIN=$PIN_ALL
		;;
	esac
}

# ---- one cell ----------------------------------------------------------------

# runs.csv: a row per cell and round.  results.csv (aggregate.awk): a row
# per cell, the medians of its rounds.  The figures that only one workload
# has (idle_* in idle-10k, probe_* in sleep) are empty in the others.
CSV_HEADER="model,workload,status,round,connections,duration_s,requests,\
req_per_s,mib_per_s,lat_p50_ms,lat_p99_ms,lat_max_ms,err_connect,err_read,\
err_write,err_timeout,non2xx,stalled,cpu_us_per_req,server_cpu_pct,\
syscalls_per_req,base_rss_mib,peak_rss_mib,peak_threads,peak_procs,\
wrk_cpu_pct,idle_conns,idle_held,idle_server_open,idle_closed,\
probe_alone_p50_ms,probe_p50_ms,probe_lost,notes"

# A row for a cell that did not get as far as a measurement: $1 model,
# $2 workload, $3 round, $4 status, $5 notes; the figures are empty.
row_without_figures() {
	echo "$CSV_HEADER" | awk -F, -v m="$1" -v w="$2" -v r="$3" -v s="$4" \
		-v c="$W_CONNS" -v n="${5:-}" '{
		gsub(/,/, ";", s)
		gsub(/,/, ";", n)
		printf "%s,%s,%s,%s,%s", m, w, s, r, c
		for (i = 6; i < NF; i++)
			printf ","
		printf ",%s\n", n
	}' >>"$RUNS"
}

# The idle connections of idle-10k, before the measurement: starts the
# holder against port $1, waits until it is ready, and writes what it holds
# and what the server at URL $2 says it has open into directory $3.
hold_idle_conns() {
	start_holder "$1" "$IDLE_CONNS" "$HOLD_WAIT_MS" "$HOLD_QUIET_MS" \
		$((HOLD_WAIT_MS / 1000 + 30 + 2 * DURATION)) "$3/holder.out"
	ready=$(wait_holder $((HOLD_WAIT_MS / 100 + 50)) "$3/holder.out")
	{
		echo "idle_conns=$IDLE_CONNS"
		echo "$ready" | tr ' ' '\n' | sed -n 's/^held=/idle_held=/p'
		echo "idle_server_open=$(server_open_conns "$2")"
	} >"$3/idle.env"
}

# The syscall pass, after the measured run and on the same server: wrk
# again for SYSCALL_S seconds, the same workload, with perf attached.
# Writes perf.txt and wrk's files into directory $2 ($1: the URL).
count_syscalls() {
	mkdir -p "$2"
	# -p follows threads and children created after it attached.
	perf stat -x, -e raw_syscalls:sys_enter -o "$2/perf.txt" \
		-p "$SERVER_PID" >/dev/null 2>&1 &
	PERF_PID=$!
	sleep 0.3
	run_wrk "$W_CONNS" "$W_THREADS" "$SYSCALL_S" "$1" "$W_HEADER" "$2"
	stop_pid "$PERF_PID" INT 30
	wait "$PERF_PID" 2>/dev/null
	PERF_PID=""
}

# Runs model $1 under workload $2 in round $3 and appends its row to
# runs.csv.
run_cell() {
	model=$1
	wl=$2
	round=$3
	cell=$WORK/$model-$wl/r$round
	mkdir -p "$cell"
	workload "$wl"
	why=$(not_applicable "$model" "$wl")
	if [ -n "$why" ]; then
		row_without_figures "$model" "$wl" "$round" "n/a" "$why"
		return
	fi
	if ! is_nginx "$model" && [ ! -x "$BIN_DIR/$model" ]; then
		row_without_figures "$model" "$wl" "$round" \
			"failed: not built" "bin/$model missing"
		return
	fi
	cell_setup "$wl"
	if ! start_server "$model" "$DOCROOT" "$cell"; then
		row_without_figures "$model" "$wl" "$round" "failed: $START_ERR"
		return
	fi
	url=$SERVER_URL$W_PATH
	port=${SERVER_URL##*:}
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$url")
	if [ "$code" != 200 ]; then
		stop_server
		row_without_figures "$model" "$wl" "$round" \
			"failed: GET $W_PATH answered $code" "stopped: $STOPPED"
		return
	fi

	if [ "$WARMUP" -gt 0 ]; then
		mkdir -p "$cell/warmup"
		run_wrk 10 1 "$WARMUP" "$url" "$W_HEADER" "$cell/warmup"
	fi
	notes=""
	rss0=$(tree_stat "$SERVER_PID" | cut -d " " -f 2)
	case $wl in
	slowloris)
		start_slowloris "$SLOWLORIS_CONNS" "$SLOWLORIS_RATE" \
			"$SERVER_URL" \
			$((SLOWLORIS_RAMP + DURATION + SYSCALL_S + 10)) "$cell"
		sleep "$SLOWLORIS_RAMP"
		held=$(established_to "$port")
		;;
	idle-10k)
		hold_idle_conns "$port" "$SERVER_URL" "$cell"
		;;
	sleep)
		probe "$SERVER_URL/small.html" "$PROBE_RATE" "$PROBE_ALONE_S" \
			"$cell/probe-alone" $((PROBE_ALONE_S + 2))
		;;
	esac

	# Measure: its CPU time before and after (cpu_used_us), /proc
	# samples during.  Nothing traces the server now: perf comes after,
	# in a pass of its own.
	cpu0=$(cpu_used_us "$SERVER_PID")
	sample_tree "$SERVER_PID" "$cell/samples" "$cell/stop" \
		$(((DURATION + 60) * 5)) &
	SAMPLER_PID=$!
	# Just before the end, count the clients left waiting.
	(
		sleep "$SNAPSHOT_AT"
		stalled_clients "$port" wrk "$STALL_MS" >"$cell/stalled"
	) &
	SNAP_PID=$!
	if [ "$wl" = sleep ]; then
		(
			sleep "$PROBE_DELAY"
			probe "$SERVER_URL/small.html" "$PROBE_RATE" \
				"$PROBE_S" "$cell/probe" "$PROBE_S"
		) &
		PROBE_PID=$!
	fi
	run_wrk "$W_CONNS" "$W_THREADS" "$DURATION" "$url" "$W_HEADER" "$cell"
	wait "$SNAP_PID"
	SNAP_PID=""
	cpu1=$(settled_cpu_us "$SERVER_PID")
	# The sampler would see the stop file after its sleep, up to
	# SAMPLE_INTERVAL later: a tenth of a second a cell on average.
	touch "$cell/stop"
	kill "$SAMPLER_PID" 2>/dev/null
	wait "$SAMPLER_PID" 2>/dev/null
	SAMPLER_PID=""
	if [ -n "$PROBE_PID" ]; then
		wait "$PROBE_PID" 2>/dev/null
		PROBE_PID=""
	fi
	running=1
	alive "$SERVER_PID" || running=""
	if [ "$CPU_CLOCK" = proc ] && sigchld_ignored "$SERVER_PID"; then
		notes="$notes CPU misses auto-reaped children;"
	fi
	if counts_syscalls "$wl" "$round" && [ -n "$running" ]; then
		count_syscalls "$url" "$cell/syscalls"
	fi

	if [ -n "$HOLD_PID" ]; then
		stop_holder
		tr ' ' '\n' <"$cell/holder.out" | sed -n 's/^closed=//p' |
			tail -n 1 | sed 's/^/idle_closed=/' >>"$cell/idle.env"
	fi
	if [ -n "$SLOW_PID" ]; then
		held="$held before wrk and $(established_to "$port") after"
		notes="$notes slowloris connections open: $held;"
		stop_pid "$SLOW_PID" INT 30
		wait "$SLOW_PID" 2>/dev/null
		SLOW_PID=""
	fi
	stop_server
	how=$STOPPED
	died=""
	if [ -z "$running" ]; then
		died=$how
	elif [ "$how" != "exit 0" ]; then
		notes="$notes on SIGTERM: $how;"
	fi

	write_row "$model" "$wl" "$round" "$cell" "$((cpu1 - cpu0))" "$rss0" \
		"$died" "$notes"
}

# The cores wrk may use, for row.awk's client-limited: one, or in
# allcores one per thread of it.
wrk_cores() {
	if [ -n "$WRK_PIN" ]; then
		echo "$W_THREADS"
	else
		echo 1
	fi
}

# Turns a cell's files into its CSV row: $1 model, $2 workload, $3 round,
# $4 cell directory, $5 server CPU time in µs, $6 server RSS before the load
# (KiB), $7 how the server died mid-run (empty if it did not), $8 notes.
# Every raw figure first goes to figures.env in the cell's directory, one
# key=value a line, and row.awk reads that.
write_row() {
	{
		sed -n '/^--- bench results ---$/,$p' "$4/wrk.out" | tail -n +2
		cat "$4/wrk.cpu"
		echo "cpu_us=$5"
		echo "base_rss_kib=$6"
		echo "died=$7"
		echo "notes=$8"
		awk '{ print "stalled=" $1; print "clients=" $2 }' "$4/stalled" \
			2>/dev/null
		awk -F, '/raw_syscalls/ { print "syscalls=" $1 }' \
			"$4/syscalls/perf.txt" 2>/dev/null
		sed -n 's/^requests=/syscall_requests=/p' \
			"$4/syscalls/wrk.out" 2>/dev/null
		sample_peaks "$4/samples" |
			awk '{ print "rss_kib=" $1; print "threads=" $2
				print "procs=" $3 }'
		cat "$4/idle.env" 2>/dev/null
		for p in probe-alone probe; do
			[ -f "$4/$p" ] || continue
			probe_summary "$4/$p" | awk -v p="$p" '{
				sub(/-/, "_", p)
				print p "_answered=" $1
				print p "_lost=" $2
				print p "_p50_ms=" $3 }'
		done
	} >"$4/figures.env"
	awk -v model="$1" -v wl="$2" -v round="$3" -v conns="$W_CONNS" \
		-v wrk_cores="$(wrk_cores)" \
		-f "$BENCH_DIR/row.awk" "$4/figures.env" >>"$RUNS"
}

# ---- the run -----------------------------------------------------------------

nginx_version() {
	if [ -n "$NGINX" ]; then
		"$NGINX" -v 2>&1 | sed 's|.*nginx/||'
	else
		echo "not installed"
	fi
}

write_meta() {
	rev=$(git -C "$ROOT_DIR" rev-parse --short HEAD 2>/dev/null || echo none)
	[ -n "$(git -C "$ROOT_DIR" status --porcelain 2>/dev/null)" ] &&
		rev="$rev (uncommitted changes)"
	cat <<EOF
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
git_revision=$rev
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cores=$NCPU
memory=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kernel=$(uname -sr)
os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
wrk=$(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')
nginx=$(nginx_version)
nginx_ofc=nginx $(nginx_version) with open_file_cache max=1024 inactive=20s, open_file_cache_valid 1s
slowhttptest=$(slowhttptest -h 2>&1 | sed -n 's/.*version \([0-9.]*\).*/\1/p')
curl=$(curl --version 2>/dev/null | awk 'NR == 1 { print $2 }')
compiler=$(cc --version 2>/dev/null | head -n 1)
gnuplot=$(gnuplot --version 2>/dev/null)
perf=$PERF_NOTE
quick=${QUICK:-0}
published=${PUBLISH:-0}
models=$(echo $MODELS)
workloads=$(echo $WORKLOADS)
repeat=$REPEAT
tight_pct=$TIGHT_PCT
duration_s=$DURATION
warmup_s=$WARMUP
pinning=$PINNING
all_cores=$ALL_CORES
syscall_workloads=$(echo $SYSCALL_WORKLOADS)
server_args=$SERVER_ARGS --keepalive-timeout $KEEPALIVE_TIMEOUT
idle_keepalive_timeout=$IDLE_KEEPALIVE_TIMEOUT
ulimit_n=$NOFILE
conns_10k=$CONNS_10K
idle_conns=$IDLE_CONNS
idle_wait_ms=$HOLD_WAIT_MS
slowloris=$SLOWLORIS_CONNS connections (slowhttptest -H, \
$SLOWLORIS_RATE a second), ramp ${SLOWLORIS_RAMP}s
sleep_path=/api/sleep?ms=$SLEEP_MS
sleep_ms=$SLEEP_MS
cpu_path=/api/cpu?n=$CPU_N
probe=GET /small.html at $PROBE_RATE/s over one connection (curl): ${PROBE_ALONE_S} s alone, then ${PROBE_S} s beside the load
small_file=$SMALL_FROM ($(wc -c <"$DOCROOT/small.html") bytes)
large_file=large.bin ($(wc -c <"$DOCROOT/large.bin") bytes)
sample_interval_s=$SAMPLE_INTERVAL
stall_ms=$STALL_MS
cpu_clock=$CPU_CLOCK
clk_tck=$CLK_TCK
load_average_at_start=$LOAD_START
busy=$BUSY
EOF
}

# The status, req/s, p99 and CPU per request of the row just written (and
# what only idle-10k and sleep have).
PROGRESS='
NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
function col(name) { return $(c[name]) }
{
	printf "        %s", $3
	if (col("req_per_s") != "")
		printf ": %d req/s, p99 %s ms", col("req_per_s"), col("lat_p99_ms")
	if (col("cpu_us_per_req") != "")
		printf ", %s us/req", col("cpu_us_per_req")
	if (col("idle_held") != "")
		printf ", %s of %s idle held", col("idle_held"), col("idle_conns")
	if (col("probe_lost") != "")
		printf ", probe p50 %s ms (alone %s), %d lost", \
		    col("probe_p50_ms") == "" ? "-" : col("probe_p50_ms"), \
		    col("probe_alone_p50_ms"), col("probe_lost")
	print ""
}'

# Checks the names, then counts the cells and their estimated tenths of
# seconds, every cell in every round: sets TOTAL and BUDGET.
plan() {
	for m in $MODELS; do
		case " $ALL_MODELS " in
		*" $m "*) ;;
		*)
			echo "bench: unknown model '$m'" >&2
			echo "bench: models: $(echo $ALL_MODELS)" >&2
			exit 2
			;;
		esac
	done
	for wl in $WORKLOADS; do
		if ! workload "$wl"; then
			echo "bench: unknown workload '$wl'" >&2
			echo "bench: workloads: $(echo $ALL_WORKLOADS)" >&2
			exit 2
		fi
	done
	TOTAL=0
	BUDGET=0
	r=1
	while [ $r -le "$REPEAT" ]; do
		for wl in $WORKLOADS; do
			for m in $MODELS; do
				TOTAL=$((TOTAL + 1))
				BUDGET=$((BUDGET + $(estimate "$m" "$wl" $r)))
			done
		done
		r=$((r + 1))
	done
}

# The cells that a round after the second still runs, as "model:workload"
# words: those whose rounds so far differ in status (ok, client-limited,
# failed), or by more than TIGHT_PCT percent of the smaller value in
# req/s or in CPU per request.  n/a cells need no more rounds.
#
# LESSON: whatever a third round measures, the median of the three lies
# between the first two.  So when those agree within 5 %, a third could
# move the median by 5 % at most, a precision the two already have: the
# time goes to the cells whose rounds disagree.
loose_cells() {
	awk -F, -v tight="$TIGHT_PCT" '
	NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	function class(s) {
		return s ~ /^failed/ ? "failed" : s ~ /^client/ ? "client" : \
		    s ~ /^n\/a/ ? "n/a" : "ok"
	}
	{
		k = $1 ":" $2
		if (!(k in st)) {
			order[++n] = k
			st[k] = class($3)
		} else if (st[k] != class($3))
			loose[k] = 1
		for (f = 1; f <= 2; f++) {
			x = $(c[f == 1 ? "req_per_s" : "cpu_us_per_req"])
			if (x == "") {
				gap[k, f]++
				continue
			}
			if (!((k, f) in lo) || x + 0 < lo[k, f]) lo[k, f] = x + 0
			if (!((k, f) in hi) || x + 0 > hi[k, f]) hi[k, f] = x + 0
			have[k, f]++
		}
	}
	END {
		for (i = 1; i <= n; i++) {
			k = order[i]
			if (st[k] == "n/a")
				continue
			for (f = 1; f <= 2; f++) {
				# A figure that some rounds lack: they differ.
				if (gap[k, f] && have[k, f])
					loose[k] = 1
				if (!have[k, f] || hi[k, f] == lo[k, f])
					continue
				d = hi[k, f] - lo[k, f]
				if (lo[k, f] <= 0 || d * 100 > tight * lo[k, f])
					loose[k] = 1
			}
			if (k in loose)
				printf "%s ", k
		}
	}' "$RUNS"
}

# The cells of round $1: every cell ("all") in the first two rounds and
# when TIGHT_PCT is 0, else loose_cells'.
round_cells() {
	if [ "$1" -le 2 ] || [ "$TIGHT_PCT" = 0 ]; then
		echo all
	else
		loose_cells
	fi
}

# Whether cell $1:$2 (model, workload) is among the words $3.
in_round() {
	case " $3 " in
	" all " | *" $1:$2 "*) return 0 ;;
	esac
	return 1
}

# LESSON: rounds, not repeats in a row.  Each round runs every workload,
# and each workload every model, one after the other; so when other work
# on the machine speeds up or slows down, it touches every model alike,
# and the median of the rounds leaves out the round it disturbed most.
main() {
	plan
	case " $(echo $WORKLOADS) " in
	*" idle-10k "*)
		if ! build_holder; then
			echo "bench: cannot build $HOLDER for idle-10k" >&2
			exit 2
		fi
		;;
	esac
	make_docroot
	write_meta >"$META"
	echo "$CSV_HEADER" >"$RUNS"
	echo "model,workload,round,estimated_s,took_s" >"$TIMES"

	echo "bench: $(echo $MODELS | wc -w) models x $(echo $WORKLOADS |
		wc -w) workloads x $REPEAT rounds = $TOTAL cells of" \
		"${DURATION} s, estimated $(fmt_secs $((BUDGET / 10)))"
	[ "$REPEAT" -gt 2 ] && [ "$TIGHT_PCT" != 0 ] &&
		echo "bench: (at most: from round 3 on, only the cells whose" \
			"rounds differ by more than ${TIGHT_PCT}% run again)"
	echo "bench: $PINNING; syscalls: ${PERF_NOTE%%,*}; ulimit -n $NOFILE"
	if [ "$BUSY" = 1 ]; then
		echo "bench: WARNING: the machine is busy (load average" \
			"${LOAD_START%% *} on $NCPU cores): other work shares" \
			"the CPUs, so the figures will be noisy"
	fi
	echo "bench: results in ${OUT#"$ROOT_DIR"/}"

	start=$(date +%s)
	i=0
	spent=0
	r=1
	while [ $r -le "$REPEAT" ]; do
		cells=$(round_cells $r)
		if [ "$cells" != all ]; then
			# The plan shrinks: the cells done, and these in
			# each round left (at most).
			n=0
			est=0
			for wl in $WORKLOADS; do
				for m in $MODELS; do
					in_round "$m" "$wl" "$cells" || continue
					n=$((n + 1))
					est=$((est + $(estimate "$m" "$wl" $r)))
				done
			done
			TOTAL=$((i + n * (REPEAT - r + 1)))
			BUDGET=$((spent + est * (REPEAT - r + 1)))
			echo "bench: round $r: the $n cells whose rounds" \
				"differ by more than ${TIGHT_PCT}%; the others" \
				"have their median"
		fi
		for wl in $WORKLOADS; do
			for m in $MODELS; do
				in_round "$m" "$wl" "$cells" || continue
				i=$((i + 1))
				est=$(estimate "$m" "$wl" $r)
				# Time left: the estimate of the cells to come,
				# scaled by how the estimate fared so far.
				left=$(((BUDGET - spent) / 10))
				now=$(($(date +%s) - start))
				[ $spent -ge 300 ] &&
					left=$((left * now * 10 / spent))
				printf '[%d/%d] round %d: %s %s (~%s left)\n' \
					$i "$TOTAL" $r "$m" "$wl" \
					"$(fmt_secs $left)"
				cell_t0=$(now_ns)
				run_cell "$m" "$wl" $r
				took=$(($(now_ns) - cell_t0))
				awk -v e="$est" -v t="$took" -v c="$m,$wl,$r" \
					'BEGIN { printf "%s,%.1f,%.1f\n", c,
					e / 10, t / 1e9 }' >>"$TIMES"
				spent=$((spent + est))
				{
					echo "$CSV_HEADER"
					tail -n 1 "$RUNS"
				} | awk -F, "$PROGRESS"
			done
		done
		r=$((r + 1))
	done
	elapsed=$(($(date +%s) - start))
	awk -f "$BENCH_DIR/aggregate.awk" "$RUNS" >"$CSV"
	echo "elapsed=$(fmt_secs $elapsed)" >>"$META"
	echo "load_average_at_end=$(cut -d " " -f 1-3 /proc/loadavg)" >>"$META"
	echo "bench: done in $(fmt_secs $elapsed) (estimated" \
		"$(fmt_secs $((BUDGET / 10))))"

	if [ -n "$PUBLISH" ]; then
		FORCE=$FORCE sh "$BENCH_DIR/report.sh" "$OUT" \
			"$ROOT_DIR/docs/bench.md" "$ROOT_DIR/docs/bench"
	else
		sh "$BENCH_DIR/report.sh" "$OUT"
	fi
	# Relative, so that the link survives a move of the tree.
	ln -sfn "$STAMP" "$RESULTS/latest"
	echo "bench: ${OUT#"$ROOT_DIR"/} (also ${RESULTS#"$ROOT_DIR"/}/latest)"
	[ -n "$PUBLISH" ] || echo "bench: not published;" \
		"'make bench PUBLISH=1' runs the whole matrix into docs/bench.md"
	exit 0
}

main
