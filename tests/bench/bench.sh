#!/bin/sh
# tests/bench/bench.sh - every model under every workload; `make bench`.
#
# For each cell (model x workload) it starts a fresh server pinned to CPU 0,
# warms it up, runs wrk on CPU 1 for DURATION seconds while watching the
# server's process tree in /proc (and counting its system calls with perf),
# stops the server, and writes one CSV row.  It measures and records; it
# never decides pass or fail, and it exits 0 whatever a server did.
#
# Environment (see README.md):
#   MODELS="01_blocking nginx"   which rows (default: all six and nginx)
#   WORKLOADS="static-ka sleep"  which columns (default: all eight)
#   DURATION=5                   seconds measured per cell
#   QUICK=1                      1-second cells, no warm-up, 2,000 instead
#                                of 10,000 connections: a smoke test for CI
#   PERF=0                       do not count system calls
#   PUBLISH=1                    also put the report into docs/ (the whole
#                                matrix at full length only)
#
# Every run goes to build/bench/<time>/ (not in git), and build/bench/latest
# points at the newest finished one.
set -u

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT_DIR=$(cd "$BENCH_DIR/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$BENCH_DIR/lib.sh"

ALL_MODELS="01_blocking 02_fork 03_threads 04_threadpool \
05_nonblocking_poll 06_epoll_async nginx"
ALL_WORKLOADS="static-ka static-close conns-1k conns-10k sleep cpu \
slowloris large"

# ---- settings ----------------------------------------------------------------

QUICK=${QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=""
if [ -n "$QUICK" ]; then
	DURATION=${DURATION:-1}
	WARMUP=${WARMUP:-0}
	CONNS_10K=${CONNS_10K:-2000}
	SLOWLORIS_RAMP=${SLOWLORIS_RAMP:-2}
	STALL_MS=${STALL_MS:-500}
else
	DURATION=${DURATION:-5}
	WARMUP=${WARMUP:-1}
	CONNS_10K=${CONNS_10K:-10000}
	SLOWLORIS_RAMP=${SLOWLORIS_RAMP:-3}
	STALL_MS=${STALL_MS:-2000}
fi
SLOWLORIS_CONNS=${SLOWLORIS_CONNS:-500}
CPU_N=${CPU_N:-250}
SLEEP_MS=${SLEEP_MS:-10}
PERF=${PERF:-auto}
SAMPLE_INTERVAL=0.2

for n in "$DURATION" "$WARMUP" "$CPU_N" "$SLEEP_MS" "$CONNS_10K"; do
	case $n in
	'' | *[!0-9]*)
		echo "bench: DURATION, WARMUP, CPU_N, SLEEP_MS and CONNS_10K are" \
			"whole numbers (got '$n')" >&2
		exit 2
		;;
	esac
done
[ "$DURATION" -ge 1 ] || DURATION=1
# When to count stalled clients: 0.5 s before the end (0.3 s in short runs).
SNAPSHOT_AT=$(awk -v d="$DURATION" 'BEGIN { print d - (d < 3 ? 0.3 : 0.5) }')

# The same server settings for every model (nginx gets the same timeouts).
# --max-conns is far above any workload, so a model's own limits show, not
# the cap's.  --threads and --queue matter to 04 and 06 only.
THREADS=${THREADS:-8}
QUEUE=${QUEUE:-256}
MAX_CONNS=${MAX_CONNS:-20000}
KEEPALIVE_TIMEOUT=5
HEADER_TIMEOUT=10
SERVER_ARGS="--threads $THREADS --queue $QUEUE --max-conns $MAX_CONNS \
--keepalive-timeout $KEEPALIVE_TIMEOUT --header-timeout $HEADER_TIMEOUT"

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
CLK_TCK=$(getconf CLK_TCK)
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
# slowhttptest, perf, the /proc sampler) on CPU 1.
NCPU=$(getconf _NPROCESSORS_ONLN)
if [ "$NCPU" -ge 2 ]; then
	PIN_SERVER="taskset -c 0"
	taskset -pc 1 $$ >/dev/null
	PINNING="server on CPU 0; wrk and tools on CPU 1"
else
	PIN_SERVER=""
	PINNING="none (one CPU): server and wrk share it"
fi

if [ "$PERF" != 0 ] && command -v perf >/dev/null 2>&1 &&
	perf stat -x, -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
	PERF=1
	PERF_NOTE="perf stat -e raw_syscalls:sys_enter"
else
	[ "$PERF" = 0 ] && PERF_NOTE="n/a (PERF=0)" ||
		PERF_NOTE="n/a (perf unavailable)"
	PERF=0
fi

# ---- where things go ---------------------------------------------------------

# Runs are working files, outside the tracked tree: only a published run's
# report, charts, results.csv and meta.env are kept in git (in docs/).
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$ROOT_DIR/build/bench
OUT=$RESULTS/$STAMP
# Document root, logs and every cell's files.
WORK=$OUT/work
DOCROOT=$WORK/root
mkdir -p "$OUT" "$WORK" "$DOCROOT" || exit 1
CSV=$OUT/results.csv
META=$OUT/meta.env

# Keep the five newest runs.
# shellcheck disable=SC2012 # names are our own time stamps
ls -1d "$RESULTS"/2* 2>/dev/null | sort -r | tail -n +6 |
	while read -r old; do rm -rf "$old"; done

# ---- cleanup: whatever happens, no server outlives the bench -----------------

SERVER_PID=""
SLOW_PID=""
SAMPLER_PID=""
PERF_PID=""
SNAP_PID=""
cleanup() {
	for p in $PERF_PID $SLOW_PID $SAMPLER_PID $SNAP_PID; do
		kill -s TERM "$p" 2>/dev/null
	done
	if [ -n "$SERVER_PID" ]; then
		kill -s TERM "$SERVER_PID" 2>/dev/null
		sleep 0.5
		kill -s KILL -- "-$SERVER_PID" 2>/dev/null
	fi
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
	sleep) W_PATH="/api/sleep?ms=$SLEEP_MS" ;;
	cpu) W_PATH="/api/cpu?n=$CPU_N" ;;
	slowloris) W_CONNS=10 ;;
	large) W_PATH=/large.bin W_CONNS=10 ;;
	*) return 1 ;;
	esac
}

# Why model $1 sits out workload $2 (empty: it runs).
not_applicable() {
	if [ "$1" = nginx ]; then
		[ -z "$NGINX" ] && echo "nginx not installed" && return
		case $2 in
		sleep | cpu) echo "nginx has no /api/ endpoints" ;;
		esac
	fi
}

# Estimated seconds for one cell, for the progress line.
estimate() {
	[ -n "$(not_applicable "$1" "$2")" ] && echo 0 && return
	s=$((DURATION + 1))
	[ "$WARMUP" -gt 0 ] && s=$((s + WARMUP + 1))
	case $2 in
	slowloris) s=$((s + SLOWLORIS_RAMP)) ;;
	conns-10k) s=$((s + 2)) ;;
	esac
	echo $s
}

# ---- one cell ----------------------------------------------------------------

CSV_HEADER="model,workload,status,connections,duration_s,requests,req_per_s,\
mib_per_s,lat_p50_ms,lat_p99_ms,lat_max_ms,err_connect,err_read,err_write,\
err_timeout,non2xx,stalled,cpu_us_per_req,server_cpu_pct,syscalls_per_req,\
peak_rss_mib,peak_threads,peak_procs,wrk_cpu_pct,notes"

# A row for a cell that did not get as far as a measurement: $1 model,
# $2 workload, $3 status, $4 notes; the figures are empty.
row_without_figures() {
	echo "$CSV_HEADER" | awk -F, -v m="$1" -v w="$2" -v s="$3" \
		-v c="$W_CONNS" -v n="${4:-}" '{
		gsub(/,/, ";", s)
		gsub(/,/, ";", n)
		printf "%s,%s,%s,%s", m, w, s, c
		for (i = 5; i < NF; i++)
			printf ","
		printf ",%s\n", n
	}' >>"$CSV"
}

# Runs model $1 under workload $2 and appends its row to the CSV.
run_cell() {
	model=$1
	wl=$2
	cell=$WORK/$model-$wl
	mkdir -p "$cell"
	workload "$wl"
	why=$(not_applicable "$model" "$wl")
	if [ -n "$why" ]; then
		row_without_figures "$model" "$wl" "n/a" "$why"
		return
	fi
	if [ "$model" != nginx ] && [ ! -x "$BIN_DIR/$model" ]; then
		row_without_figures "$model" "$wl" "failed: not built" \
			"bin/$model missing"
		return
	fi
	if ! start_server "$model" "$DOCROOT" "$cell"; then
		row_without_figures "$model" "$wl" "failed: $START_ERR"
		return
	fi
	url=$SERVER_URL$W_PATH
	port=${SERVER_URL##*:}
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$url")
	if [ "$code" != 200 ]; then
		stop_server
		row_without_figures "$model" "$wl" \
			"failed: GET $W_PATH answered $code" "stopped: $STOPPED"
		return
	fi

	if [ "$WARMUP" -gt 0 ]; then
		mkdir -p "$cell/warmup"
		run_wrk 10 1 "$WARMUP" "$url" "$W_HEADER" "$cell/warmup"
	fi
	notes=""
	if [ "$wl" = slowloris ]; then
		start_slowloris "$SLOWLORIS_CONNS" 250 "$SERVER_URL" \
			$((SLOWLORIS_RAMP + DURATION + 10)) "$cell"
		sleep "$SLOWLORIS_RAMP"
		held=$(established_to "$port")
	fi

	# Measure: /proc before and after, samples and perf during.
	cpu0=$(tree_stat "$SERVER_PID" | cut -d " " -f 1)
	sample_tree "$SERVER_PID" "$cell/samples" "$cell/stop" \
		$(((DURATION + 60) * 5)) &
	SAMPLER_PID=$!
	if [ "$PERF" = 1 ]; then
		# -p follows threads and children created after it attached.
		perf stat -x, -e raw_syscalls:sys_enter -o "$cell/perf.txt" \
			-p "$SERVER_PID" >/dev/null 2>&1 &
		PERF_PID=$!
		sleep 0.3
	fi
	# Just before the end, count the clients left waiting.
	(
		sleep "$SNAPSHOT_AT"
		stalled_clients "$port" wrk "$STALL_MS" >"$cell/stalled"
	) &
	SNAP_PID=$!
	run_wrk "$W_CONNS" "$W_THREADS" "$DURATION" "$url" "$W_HEADER" "$cell"
	wait "$SNAP_PID"
	SNAP_PID=""
	if [ "$PERF" = 1 ]; then
		stop_pid "$PERF_PID" INT 30
		wait "$PERF_PID" 2>/dev/null
		PERF_PID=""
	fi
	cpu1=$(tree_stat "$SERVER_PID" | cut -d " " -f 1)
	touch "$cell/stop"
	wait "$SAMPLER_PID" 2>/dev/null
	SAMPLER_PID=""
	running=1
	alive "$SERVER_PID" || running=""
	if sigchld_ignored "$SERVER_PID"; then
		notes="$notes CPU misses auto-reaped children;"
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

	write_row "$model" "$wl" "$cell" "$((cpu1 - cpu0))" "$died" "$notes"
}

# Turns a cell's files into its CSV row: $1 model, $2 workload, $3 cell
# directory, $4 server CPU ticks, $5 how the server died mid-run (empty
# if it did not), $6 notes.  Every raw figure first goes to figures.env
# in the cell's directory, one key=value a line, and row.awk reads that.
write_row() {
	{
		sed -n '/^--- bench results ---$/,$p' "$3/wrk.out" | tail -n +2
		cat "$3/wrk.cpu"
		echo "ticks=$4"
		echo "died=$5"
		echo "notes=$6"
		awk '{ print "stalled=" $1; print "clients=" $2 }' "$3/stalled" \
			2>/dev/null
		awk -F, '/raw_syscalls/ { print "syscalls=" $1 }' \
			"$3/perf.txt" 2>/dev/null
		sample_peaks "$3/samples" |
			awk '{ print "rss_kib=" $1; print "threads=" $2
				print "procs=" $3 }'
	} >"$3/figures.env"
	awk -v model="$1" -v wl="$2" -v conns="$W_CONNS" -v tck="$CLK_TCK" \
		-f "$BENCH_DIR/row.awk" "$3/figures.env" >>"$CSV"
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
slowhttptest=$(slowhttptest -h 2>&1 | sed -n 's/.*version \([0-9.]*\).*/\1/p')
compiler=$(cc --version 2>/dev/null | head -n 1)
gnuplot=$(gnuplot --version 2>/dev/null)
perf=$PERF_NOTE
quick=${QUICK:-0}
published=${PUBLISH:-0}
models=$(echo $MODELS)
workloads=$(echo $WORKLOADS)
duration_s=$DURATION
warmup_s=$WARMUP
pinning=$PINNING
server_args=$SERVER_ARGS
ulimit_n=$NOFILE
conns_10k=$CONNS_10K
slowloris=$SLOWLORIS_CONNS connections (slowhttptest -H), ramp ${SLOWLORIS_RAMP}s
sleep_path=/api/sleep?ms=$SLEEP_MS
cpu_path=/api/cpu?n=$CPU_N
small_file=$SMALL_FROM ($(wc -c <"$DOCROOT/small.html") bytes)
large_file=large.bin ($(wc -c <"$DOCROOT/large.bin") bytes)
sample_interval_s=$SAMPLE_INTERVAL
stall_ms=$STALL_MS
clk_tck=$CLK_TCK
load_average_at_start=$(cut -d " " -f 1-3 /proc/loadavg)
EOF
}

main() {
	make_docroot
	write_meta >"$META"
	echo "$CSV_HEADER" >"$CSV"

	total=0
	budget=0
	for m in $MODELS; do
		case " $ALL_MODELS " in
		*" $m "*) ;;
		*)
			echo "bench: unknown model '$m'" >&2
			echo "bench: models: $(echo $ALL_MODELS)" >&2
			exit 2
			;;
		esac
		for wl in $WORKLOADS; do
			if ! workload "$wl"; then
				echo "bench: unknown workload '$wl'" >&2
				echo "bench: workloads: $(echo $ALL_WORKLOADS)" >&2
				exit 2
			fi
			total=$((total + 1))
			budget=$((budget + $(estimate "$m" "$wl")))
		done
	done
	echo "bench: $(echo $MODELS | wc -w) models x $(echo $WORKLOADS |
		wc -w) workloads = $total cells, ${DURATION} s each" \
		"(estimated $(fmt_secs $budget))"
	echo "bench: $PINNING; syscalls: $PERF_NOTE; ulimit -n $NOFILE"
	load=$(cut -d " " -f 1 /proc/loadavg)
	if awk -v l="$load" 'BEGIN { exit !(l >= 0.5) }'; then
		echo "bench: note: the machine is busy (load average $load):" \
			"other work shares the CPUs and the figures will be noisy"
	fi
	echo "bench: results in ${OUT#"$ROOT_DIR"/}"

	start=$(date +%s)
	i=0
	left=$budget
	for m in $MODELS; do
		for wl in $WORKLOADS; do
			i=$((i + 1))
			est=$(estimate "$m" "$wl")
			printf '[%d/%d] %s %s (%s s, ~%s left)\n' $i $total "$m" \
				"$wl" "$DURATION" "$(fmt_secs $left)"
			run_cell "$m" "$wl"
			left=$((left - est))
			# The status, req/s, p99 and CPU per request (columns 3, 7,
			# 10, 18) of the row just written.
			tail -n 1 "$CSV" | awk -F, '{ printf "        %s", $3 }
				$7 != "" { printf ": %d req/s, p99 %s ms", $7, $10 }
				$18 != "" { printf ", %s us/req", $18 }
				{ print "" }'
		done
	done
	elapsed=$(($(date +%s) - start))
	echo "elapsed=$(fmt_secs $elapsed)" >>"$META"
	echo "load_average_at_end=$(cut -d " " -f 1-3 /proc/loadavg)" >>"$META"
	echo "bench: done in $(fmt_secs $elapsed) (estimated $(fmt_secs $budget))"

	if [ -n "$PUBLISH" ]; then
		sh "$BENCH_DIR/report.sh" "$OUT" "$ROOT_DIR/docs/bench.md" \
			"$ROOT_DIR/docs/bench"
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
