# tests/measure/lib.sh - functions for the measure-NN.sh scripts (sourced,
# POSIX sh).
#
# Each tests/measure/NN.sh reruns the figures of docs/NN_*.md that are not
# bench cells (memory per idle connection, the demonstrations, the small
# experiments) and prints that page's tables in Markdown, each under a line
# that names the command, the date, the machine and the method.  These are
# measurements, never tests: a figure is what it is.  A script exits
# non-zero only when it cannot measure (a server did not start, a tool is
# missing), with the reason on stderr.
#
# The servers, wrk, the holder of idle connections and the /proc readings
# come from tests/bench/lib.sh; every wait there and here is bounded.

MEASURE_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT_DIR=$(cd "$MEASURE_DIR/../.." && pwd)
BENCH_DIR=$ROOT_DIR/tests/bench
# shellcheck source=tests/bench/lib.sh
. "$BENCH_DIR/lib.sh"

BIN_DIR=${BIN_DIR:-$ROOT_DIR/bin}
DOCROOT=$ROOT_DIR/www
PAGE_KIB=$(($(getconf PAGESIZE) / 1024))
NCPU=$(getconf _NPROCESSORS_ONLN)
# What start_server (tests/bench/lib.sh) reads; serve() sets CELL_ARGS.
SERVER_ARGS=""
CELL_ARGS=""
CELL_PIN=""
CELL_KEEPALIVE=5
CELL_WORKERS=1
HEADER_TIMEOUT=10
WRK_PIN=""
NGINX=$(command -v nginx 2>/dev/null || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx

# 10,000 idle connections need 10,000 descriptors in the holder.
# shellcheck disable=SC3045 # ulimit -n and -H: dash and bash both have them
{
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] && hard=65536
	ulimit -n "$hard" 2>/dev/null
	NOFILE=$(ulimit -n)
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/measure.XXXXXX") || exit 1
# The servers' CPU time: a cgroup of our own, or /proc (tests/bench/lib.sh).
cpu_clock_init "concurrency-measure-$$"
HOLDER=$ROOT_DIR/build/measure/bin/hold_idle
SERVER_PID=""
HOLD_PID=""
# Other background processes a script starts (slowhttptest, perf, curl).
BG_PIDS=""

cleanup() {
	for p in $BG_PIDS; do
		kill -s TERM "$p" 2>/dev/null
	done
	stop_holder
	stop_server
	cpu_clock_fini
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "measure: interrupted" >&2; exit 130' INT TERM

# Prints "measure-NN: reason" on stderr and exits 1.
die() {
	echo "measure-$NN: $*" >&2
	exit 1
}

# Exits 1 unless command $1 is present (tests/deps.sh bench installs them).
need() {
	command -v "$1" >/dev/null 2>&1 ||
		die "$1 is missing: run make deps-bench"
}

# Every script needs the servers and the holder.
[ -x "$BIN_DIR/06_epoll_async" ] || die "bin/ is not built: run make"
mkdir -p "$(dirname "$HOLDER")"
if [ ! -x "$HOLDER" ] ||
	[ -n "$(find "$BENCH_DIR/hold_idle.c" -newer "$HOLDER")" ]; then
	${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror \
		-o "$HOLDER" "$BENCH_DIR/hold_idle.c" ||
		die "cannot build $HOLDER"
fi

# ---- the header line above each table ----------------------------------------

# "2-core Intel(R) Xeon(R) Processor (Linux 6.18.44)".
machine() {
	cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n 1)
	[ -n "$cpu" ] || cpu=$(uname -m)
	echo "$NCPU-core $cpu (Linux $(uname -r))"
}

# Prints the line that goes above a table: the command, the date, the
# machine, the load average now, and the method ($*).
header() {
	echo
	echo "\`make measure-$NN\`, $(date -u +%F), $(machine), load average" \
		"$(cut -d ' ' -f 1 /proc/loadavg): $*"
	echo
}

# ---- small helpers -----------------------------------------------------------

# The median of the numbers on stdin, one a line (empty if none).
median() {
	sort -g | awk '{ v[++n] = $1 }
	END {
		if (n == 0)
			exit
		if (n % 2)
			print v[(n + 1) / 2]
		else
			print (v[n / 2] + v[n / 2 + 1]) / 2
	}'
}

# "min-max" of the numbers on stdin.
range() {
	sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'
}

# Formats $1 with printf format $2 (awk's).
fmt() {
	awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }'
}

# The value of key $2 in wrk's report (report.lua) in directory $1.
wrk_value() {
	sed -n "s/^$2=//p" "$1/wrk.out"
}

# ---- servers -----------------------------------------------------------------

# Starts model $1 on www/ with the options $2 ... (a new directory for its
# files under $WORK); exits the script if it does not start.  Sets
# SERVER_PID, SERVER_URL and PORT.  --keepalive-timeout comes from
# CELL_KEEPALIVE (5, the default, unless the caller sets it).
serve() {
	sv_model=$1
	shift
	CELL_ARGS="$*"
	SERVE_DIR=$(mktemp -d "$WORK/$sv_model.XXXX")
	# start_server reads it before the server may have made it.
	: >"$SERVE_DIR/server.out"
	if is_nginx "$sv_model"; then
		[ -n "$NGINX" ] || die "nginx is missing: run make deps-bench"
		start_server "$sv_model" "$DOCROOT" "$SERVE_DIR" ||
			die "$sv_model $START_ERR"
	else
		start_server "$sv_model" "$DOCROOT" "$SERVE_DIR" ||
			die "$sv_model $CELL_ARGS $START_ERR"
	fi
	PORT=${SERVER_URL##*:}
}

# Sends $1 requests for path $2 (warm-up: the buffer cache, the file
# cache, the Date header's cache are filled before a baseline is read).
warm() {
	wm_i=0
	while [ $wm_i -lt "$1" ]; do
		curl -s -o /dev/null --max-time 2 "$SERVER_URL$2"
		wm_i=$((wm_i + 1))
	done
}

# ---- memory ------------------------------------------------------------------

# The pids of the server's session (the server and 02's children).
session_pids() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v sid="$1" '{
		pid = $1
		sub(/^.*\) /, "")
		if ($4 == sid)
			print pid
	}'
}

# "rss_kib pss_kib procs" summed over the session of $1, from
# /proc/PID/smaps_rollup.
session_smaps() {
	for p in $(session_pids "$1"); do
		cat "/proc/$p/smaps_rollup" 2>/dev/null
	done | awk '/^Rss:/ { r += $2; n++ } /^Pss:/ { p += $2 }
	END { printf "%d %d %d\n", r, p, n }'
}

# Field $2 (e.g. VmRSS, VmSize, Threads) of /proc/$1/status, in kB.
status_kib() {
	awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status"
}

# Slab of /proc/meminfo, in kB: the whole machine's (the sockets' memory
# is there, and cannot be told from other jobs').
slab_kib() {
	awk '/^Slab:/ { print $2 }' /proc/meminfo
}

# Opens $1 idle keep-alive connections to the server (each sends
# GET /api/hello, reads the answer and stays open) and waits up to 60 s
# until they are all answered.  Sets HELD; exits if the holder cannot start.
hold() {
	hd_out=$WORK/holder.$$.$(date +%s%N).out
	start_holder_path "$PORT" /api/hello "$1" 60000 3000 300 "$hd_out"
	ready=$(wait_holder 650 "$hd_out")
	if [ -z "$ready" ]; then
		alive "$HOLD_PID" && hd_state="still running" ||
			hd_state="exited"
		die "the holder did not get ready ($hd_state):" \
			"$(cat "$hd_out" "$hd_out.err" 2>/dev/null)"
	fi
	HELD=$(echo "$ready" | tr ' ' '\n' | sed -n 's/^held=//p')
}

# As start_holder (tests/bench/lib.sh) with the path as $2.
start_holder_path() {
	timeout -k 2 "$6" "$HOLDER" 127.0.0.1 "$1" "$2" "$3" "$4" "$5" \
		>"$7" 2>"$7.err" </dev/null &
	HOLD_PID=$!
}

# ---- load --------------------------------------------------------------------

# wrk -t$1 -c$2 -d$3 against URL $4, extra header $5 (may be empty), into
# a new directory: sets WRK_DIR.  Exits if wrk reported nothing.  (None of
# these functions may run in a $(...) subshell: an exit there would end
# only the subshell, and leave its server running.)
wrk_run() {
	WRK_DIR=$(mktemp -d "$WORK/wrk.XXXX")
	run_wrk "$2" "$1" "$3" "$4" "$5" "$WRK_DIR"
	grep -q '^requests=' "$WRK_DIR/wrk.out" ||
		die "wrk gave no result: $(tail -n 1 "$WRK_DIR/wrk.err")"
}

# Server CPU per request over a wrk run ($1..$5 as wrk_run) against the
# running server: its CPU time before and after (cpu_used_us: its cgroup's,
# or its session's utime+stime), over the requests wrk counted.
# Sets CPU_US (µs a request) and RATE (requests/s).
# shellcheck disable=SC2034 # CPU_US and RATE are for the caller
cpu_per_request() {
	c0=$(settled_cpu_us "$SERVER_PID")
	wrk_run "$@"
	c1=$(settled_cpu_us "$SERVER_PID")
	# shellcheck disable=SC2046 # two numbers
	set -- $(awk -v c="$((c1 - c0))" \
		-v n="$(wrk_value "$WRK_DIR" requests)" \
		-v us="$(wrk_value "$WRK_DIR" duration_us)" \
		'BEGIN { printf "%.1f %.0f\n", c / n, n / us * 1e6 }')
	CPU_US=$1
	RATE=$2
}

# System calls per request of the running server over a wrk run ($1..$5
# as wrk_run): perf stat -e raw_syscalls:sys_enter on its pid (children
# and threads included), in a run of its own (tracing costs CPU).  Sets
# CALLS.
syscalls_per_request() {
	perf stat -x, -e raw_syscalls:sys_enter -o "$WORK/perf.txt" \
		-p "$SERVER_PID" >/dev/null 2>&1 &
	perf_pid=$!
	BG_PIDS="$BG_PIDS $perf_pid"
	sleep 0.3
	wrk_run "$@"
	stop_pid "$perf_pid" INT 30
	wait "$perf_pid" 2>/dev/null
	CALLS=$(awk -F, -v n="$(wrk_value "$WRK_DIR" requests)" \
		'$3 ~ /sys_enter/ { printf "%.2f\n", $1 / n }' "$WORK/perf.txt")
	[ -n "$CALLS" ] || die "perf stat counted nothing"
}

# The seconds curl takes for URL $1 (status and time: "200 0.000812").
timed_get() {
	curl -s -o /dev/null --max-time 15 -w '%{http_code} %{time_total}\n' \
		"$1"
}

# Memory of a fresh server $1 (options $3 ...) holding $2 idle keep-alive
# connections, read one second after the last answer.  Prints "held procs
# threads rss_kib pss_kib kernel_kib vmsize_kib": Rss and Pss summed over
# the session (smaps_rollup), its threads, the kernel's share (below), and
# the first process's VmSize.
#
# The kernel's share is each process's page tables (VmPTE, summed) and a
# kernel stack per task (KSTACK_KIB): read from the processes themselves,
# not from /proc/meminfo, whose KernelStack and PageTables are the whole
# machine's and move with every other job on a shared one.
KSTACK_KIB=16
memory_held() {
	mh_model=$1
	mh_n=$2
	shift 2
	CELL_KEEPALIVE=120
	serve "$mh_model" "$@"
	CELL_KEEPALIVE=5
	warm 5 /api/hello
	held=0
	if [ "$mh_n" -gt 0 ]; then
		hold "$mh_n"
		held=$HELD
		sleep 1
	fi
	sm=$(session_smaps "$SERVER_PID")
	threads=$(tree_stat "$SERVER_PID" | cut -d ' ' -f 3)
	vm=$(status_kib "$SERVER_PID" VmSize)
	pte=$(for p in $(session_pids "$SERVER_PID"); do
		status_kib "$p" VmPTE
	done | awk '{ s += $1 } END { print s + 0 }')
	stop_holder
	stop_server
	# shellcheck disable=SC2086 # three numbers
	set -- $sm
	echo "$held $3 $threads $1 $2 $((pte + threads * KSTACK_KIB)) $vm"
}

# The demonstration of docs/01 and 04: a fresh server $1 (options $3 ...),
# $2 clients that each make a request and keep their connection idle,
# then one more client's GET /api/hello.  Prints its status and seconds
# ("200 4.961"), then, with STATS=1, the server's own p50 latency in µs
# from /api/stats on a line of its own.
after_held() {
	ah_model=$1
	ah_n=$2
	shift 2
	serve "$ah_model" "$@"
	hold "$ah_n"
	timed_get "$SERVER_URL/api/hello"
	if [ "${STATS:-}" = 1 ]; then
		curl -s --max-time 10 "$SERVER_URL/api/stats" |
			sed -n 's/.*"latency_us":{"p50":\([0-9]*\).*/\1/p'
	fi
	stop_holder
	stop_server
}

# ---- the event-driven models (05, 06) ----------------------------------------

# The memory table of docs/05 and 06 for model $1: a fresh server per row
# (--max-conns 20000 --keepalive-timeout 120), VmRSS and Pss after five
# warm-up requests and again one second after N idle connections are all
# answered, and the change of Slab in /proc/meminfo.
event_memory() {
	header "$1 --max-conns 20000 --keepalive-timeout 120 (a fresh server" \
		"per row); tests/bench/hold_idle.c holds N keep-alive" \
		"connections, each after one GET /api/hello; VmRSS" \
		"(/proc/PID/status) and Pss (smaps_rollup) after five warm-up" \
		"requests and one second after the last answer; Slab of" \
		"/proc/meminfo, the whole machine's, before and after"
	echo "| idle connections | VmRSS | per connection | Pss per connection | slab |"
	echo "|---:|---:|---:|---:|---:|"
	for em_n in 0 1000 10000; do
		CELL_KEEPALIVE=120
		serve "$1" --max-conns 20000
		CELL_KEEPALIVE=5
		warm 5 /api/hello
		r0=$(status_kib "$SERVER_PID" VmRSS)
		p0=$(session_smaps "$SERVER_PID" | cut -d ' ' -f 2)
		s0=$(slab_kib)
		em_held=0
		if [ $em_n -gt 0 ]; then
			hold $em_n
			em_held=$HELD
			sleep 1
		fi
		r1=$(status_kib "$SERVER_PID" VmRSS)
		p1=$(session_smaps "$SERVER_PID" | cut -d ' ' -f 2)
		s1=$(slab_kib)
		if [ $em_n -gt 0 ]; then
			em_note="The holder held $em_held of $em_n after \
$(echo "$ready" | sed -n 's/.* ms=//p') ms; the server had \
$(find "/proc/$SERVER_PID/fd" -mindepth 1 | wc -l) descriptors open and /api/stats \
counted $(($(server_open_conns "$SERVER_URL") + 1)) connections, its own \
request's included."
		fi
		stop_holder
		stop_server
		awk -v n="$em_held" -v r0="$r0" -v r1="$r1" -v p0="$p0" \
			-v p1="$p1" -v s="$((s1 - s0))" 'BEGIN {
			if (n == 0) {
				printf "| 0 | %.1f MB | | | |\n", r0 * 1.024 / 1000
				exit
			}
			d = r1 - r0
			grew = sprintf("+%d KiB", d)
			if (d >= 1024)
				grew = sprintf("+%.1f MiB", d / 1024)
			printf "| %d | %s | %.0f bytes | %.0f bytes | %+.0f MB |\n",
				n, grew, d * 1024 / n,
				(p1 - p0) * 1024 / n, s * 1.024 / 1000
		}'
	done
	echo
	echo "$em_note"
}

# The slowloris demonstration against model $1: 1,000 slowhttptest
# connections (a header line a second) against --header-timeout 2, and a
# curl of / every 0.5 s meanwhile.  Prints the table, per second.
slowloris() {
	need slowhttptest
	serve "$1" --header-timeout 2 --max-conns 4000 \
		--access-log "$WORK/access.log"
	sl_dir=$WORK/slow
	mkdir -p "$sl_dir"
	sl_t0=$(now_ns)
	timeout -k 2 20 slowhttptest -H -c 1000 -r 1000 -i 1 -l 8 \
		-u "$SERVER_URL/" -g -o "$sl_dir/slow" >"$sl_dir/slow.log" 2>&1 \
		</dev/null &
	sl_pid=$!
	BG_PIDS="$BG_PIDS $sl_pid"
	sl_i=0
	while [ $sl_i -lt 16 ] && alive $sl_pid; do
		sleep 0.5
		echo "$(($(now_ns) - sl_t0)) $(timed_get "$SERVER_URL/")"
		sl_i=$((sl_i + 1))
	done >"$sl_dir/curl"
	wait $sl_pid
	stop_server
	[ -s "$sl_dir/slow.csv" ] ||
		die "slowhttptest wrote no report: $(tail -n 1 "$sl_dir/slow.log")"
	header "$1 --header-timeout 2 --max-conns 4000 --access-log FILE;" \
		"\`slowhttptest -H -c 1000 -r 1000 -i 1 -l 8 -g\` (1,000" \
		"connections, a header line a second) and \`curl\` of / every" \
		"0.5 s meanwhile, bucketed by the second it was sent in"
	echo "| second | closed | connected | curl \`GET /\` during the attack |"
	echo "|---:|---:|---:|---|"
	awk -F, 'NR == FNR { s = int($1 / 1e9) + 1
		if ($2 == 200) {
			n[s]++
			if (!(s in lo) || $3 < lo[s]) lo[s] = $3
			if ($3 > hi[s]) hi[s] = $3
		} else
			bad[s] = bad[s] " " $2
		next }
	FNR > 1 && $1 > 0 {
		c = n[$1] ? sprintf("200 in %.4f-%.4f s", lo[$1], hi[$1]) : "none"
		if (bad[$1] != "") c = c ", also" bad[$1]
		printf "| %d | %d | %d | %s |\n", $1, $2, $4, c
	}' FS=' ' "$sl_dir/curl" FS=, "$sl_dir/slow.csv"
	echo
	echo "slowhttptest: $(grep -a 'Exit status' "$sl_dir/slow.log" |
		sed 's/\x1b\[[0-9;]*m//g; s/Exit status: *//')," \
		"$(grep -a 'Test ended' "$sl_dir/slow.log" |
		sed 's/\x1b\[[0-9;]*m//g')." \
		"The access log: $(awk -F'"' '{ split($3, a, " "); print a[1] }' \
		"$WORK/access.log" | sort | uniq -c |
		awk '{ printf "%s%d lines with status %s",
			(NR > 1 ? ", " : ""), $1, $2 }')."
}

# The memory_held rows in file $1 as a Markdown table: the count column is
# field $2 (2: processes, 3: threads); with $3 = vmsize a last column of
# address space.  Then what one connection adds, from the last row less
# the row of 0 connections.
memory_table() {
	awk -v count="$2" -v vmsize="${3:-}" '
	function mb(kib) { return sprintf("%.1f MB", kib * 1.024 / 1000) }
	{
		printf "| %d | %d | %s | %s | %s |", $1, $count, mb($4),
			mb($5), sprintf("%.1f MB", $6 * 1.024 / 1000)
		if (vmsize != "" && $7 > 1024 * 1024)
			printf " %.1f GB |", $7 * 1.024 / 1e6
		else if (vmsize != "")
			printf " %s |", mb($7)
		printf "\n"
		if ($1 == 0) {
			pss0 = $5
			k0 = $6
		} else
			last = $0
	}
	END {
		split(last, f, " ")
		printf "\nPer connection, the %d row less the 0 row: %.0f KiB of PSS, " \
			"%.0f KiB in the kernel (stacks and page tables).\n",
			f[1], (f[5] - pss0) / f[1], (f[6] - k0) / f[1]
	}' "$1"
}
