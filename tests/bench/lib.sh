# tests/bench/lib.sh - functions for bench.sh (sourced, POSIX sh).
#
# Five groups: starting and stopping servers, measuring a process tree from
# /proc, running the load generators, the idle connections and the static
# probe, and small helpers.  Every wait here is a loop with a fixed number
# of turns, or runs under timeout, so nothing can hang the bench.

# ---- small helpers -----------------------------------------------------------

# Seconds as "4m05s".
fmt_secs() {
	awk -v s="$1" 'BEGIN { printf "%dm%02ds", s / 60, s % 60 }'
}

# Nanoseconds since the epoch (GNU date).
now_ns() {
	date +%s%N
}

# The value of key $2 in a key=value file $1 (empty when absent).
kv() {
	awk -F= -v k="$2" '$1 == k { sub(/^[^=]*=/, ""); print; exit }' "$1" \
		2>/dev/null
}

# True while process $1 runs (a zombie, dead but not yet waited for, does
# not count: kill -0 would still succeed on it).
alive() {
	state=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

# Sends signal $2 to pid $1, waits up to $3 tenths of a second for it to go,
# then kills it.  (It looks every 20 ms: most go within a few, and a
# bench stops some 300 processes.)
stop_pid() {
	kill -s "$2" "$1" 2>/dev/null || return 0
	n=0
	while alive "$1" && [ $n -lt $(($3 * 5)) ]; do
		sleep 0.02
		n=$((n + 1))
	done
	kill -s KILL "$1" 2>/dev/null
	return 0
}

# ---- measuring the server's process tree -------------------------------------
#
# The server runs in its own session (setsid), so every process it forks has
# session id = the server's pid.  One pass over /proc/*/stat finds them all.
# Fields after the ")" that ends the command name, counted from 1: 4 session,
# 12 utime, 13 stime, 14 cutime, 15 cstime, 18 num_threads, 22 rss (pages).

# Prints "cpu_ticks rss_kib threads processes" for session $1.
#
# cpu_ticks adds utime+stime+cutime+cstime of every live process in the
# session: a child that has exited and been reaped with wait() lives on in
# its parent's cutime/cstime, a live one in its own utime/stime, so each
# CPU tick is counted exactly once.  (A child that nobody waits for, because
# SIGCHLD is ignored, takes its ticks with it: see sigchld_ignored.)
tree_stat() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v sid="$1" -v page="$PAGE_KIB" '
	{
		rest = $0
		sub(/^.*\) /, "", rest)
		n = split(rest, f, " ")
		if (n < 22 || f[4] != sid)
			next
		cpu += f[12] + f[13] + f[14] + f[15]
		rss += f[22] * page
		threads += f[18]
		procs++
	}
	END { printf "%d %d %d %d\n", cpu, rss, threads, procs }'
}

# ---- the server's CPU time ---------------------------------------------------
#
# LESSON: /proc/PID/stat counts CPU time in clock ticks (getconf CLK_TCK,
# 100 a second on Linux), so a cell whose server spends 70 ms - 06 in
# `sleep`: some 800 requests a second for 3 s at 30 µs each - is read to a
# tick in 7, +-14 %, and two runs of the same binaries disagree by that much
# for no reason in the server.  A cgroup counts the CPU time of every
# process and thread that was ever in it in microseconds, children that
# exited (reaped or not) included.  So each server runs in a cgroup of the
# bench's own when the bench can make one (root, a writable cgroup
# filesystem), and /proc is the fallback; meta.env says which (cpu_clock).

# /proc's clock ticks a second, for the fallback.
CLK_TCK=$(getconf CLK_TCK)

# Makes the cgroup $1 (a name) under cgroup v2, else under v1's cpuacct.
# Sets CPU_CG (its directory, empty for /proc) and CPU_CLOCK (how CPU time
# is read: cgroup2, cpuacct or proc).  cgexec.sh moves each server into it.
# CPU_CLOCK=proc in the environment skips the cgroup (to compare the two).
cpu_clock_init() {
	CPU_CG=""
	[ "${CPU_CLOCK:-}" = proc ] && return 0
	CPU_CLOCK=proc
	for kind in cgroup2 cpuacct; do
		mnt=$(awk -v k="$kind" '
			k == "cgroup2" && $3 == "cgroup2" { print $2; exit }
			k == "cpuacct" && $3 == "cgroup" &&
				$4 ~ /(^|,)cpuacct(,|$)/ { print $2; exit }
			' /proc/mounts 2>/dev/null)
		[ -n "$mnt" ] || continue
		mkdir "$mnt/$1" 2>/dev/null || continue
		CPU_CG=$mnt/$1
		CPU_CLOCK=$kind
		if [ -n "$(cgroup_usage_us)" ]; then
			return 0
		fi
		rmdir "$CPU_CG" 2>/dev/null
		CPU_CG=""
		CPU_CLOCK=proc
	done
}

# Removes the cgroup, once the last server's processes have left it (a
# cgroup with a process in it cannot be removed): up to 1 s.
cpu_clock_fini() {
	[ -n "$CPU_CG" ] || return 0
	n=0
	while ! rmdir "$CPU_CG" 2>/dev/null && [ $n -lt 20 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	CPU_CG=""
}

# The cgroup's CPU time so far, in µs (empty if it cannot be read).
cgroup_usage_us() {
	case $CPU_CLOCK in
	cgroup2) awk '$1 == "usage_usec" { print $2 }' "$CPU_CG/cpu.stat" ;;
	cpuacct) awk '{ printf "%d\n", $1 / 1000 }' "$CPU_CG/cpuacct.usage" ;;
	esac 2>/dev/null
}

# The CPU time of the server in session $1 so far, in µs: from its cgroup,
# or from /proc (tree_stat's ticks).
cpu_used_us() {
	if [ "${CPU_CLOCK:-proc}" = proc ]; then
		tree_stat "$1" | awk -v hz="$CLK_TCK" '{
			printf "%d\n", $1 * 1e6 / hz }'
	else
		cgroup_usage_us
	fi
}

# cpu_used_us, read once the session's processes have stopped coming and
# going: two reads 50 ms apart that find the same number of them, or
# after 1 s.
#
# LESSON: /proc is not read in one instant.  A child reaped between the
# read of its parent's stat and the read of its own is in neither (its
# time moves to the parent's cutime too late, and its file is gone), so
# right after wrk closes 50 connections, 02's 50 children would take their
# CPU time with them.  Once they are all reaped, it is all in the parent's.
# (A cgroup has no such gap, but a child still closing its connection is
# still spending: the wait is right for both.)
settled_cpu_us() {
	last=""
	n=0
	while [ $n -lt 20 ]; do
		procs=$(tree_stat "$1" | cut -d " " -f 4)
		[ "$procs" = "$last" ] && break
		last=$procs
		sleep 0.05
		n=$((n + 1))
	done
	cpu_used_us "$1"
}

# True when process $1 ignores SIGCHLD (its children are reaped by the
# kernel, and their CPU time is then lost to /proc accounting).
sigchld_ignored() {
	awk '/^SigIgn:/ {
		# SIGCHLD is signal 17: bit 16, the fifth hex digit from the right.
		d = substr($2, length($2) - 4, 1)
		exit !(index("13579bdfBDF", d) > 0)
	}' "/proc/$1/status" 2>/dev/null
}

# Samples the tree of session $1 every $SAMPLE_INTERVAL seconds into file $2
# ("rss_kib threads processes" per line) until file $3 exists or $4 turns
# have passed.  Run it in the background.
sample_tree() {
	turns=0
	while [ ! -e "$3" ] && [ $turns -lt "$4" ]; do
		tree_stat "$1" | awk '{ print $2, $3, $4 }' >>"$2"
		sleep "$SAMPLE_INTERVAL"
		turns=$((turns + 1))
	done
}

# Peaks of a sample file: "rss_kib threads processes" (each column's max).
sample_peaks() {
	awk '$1 > r { r = $1 } $2 > t { t = $2 } $3 > p { p = $3 }
	END { printf "%d %d %d\n", r, t, p }' "$1" 2>/dev/null
}

# ---- servers -----------------------------------------------------------------

# Starts model $1 with document root $2, logs under directory $3,
# --keepalive-timeout $CELL_KEEPALIVE and the options in $CELL_ARGS,
# pinned by $CELL_PIN (bench.sh's cell_setup sets them).  On success sets
# SERVER_PID and SERVER_URL (http://127.0.0.1:PORT) and returns 0;
# otherwise sets START_ERR to the reason and returns 1.  (Not to be called as
# $(start_server ...): a subshell would own the server.)
#
# setsid puts the server in a session of its own (so one kill reaches its
# children too, and Ctrl-C at the terminal does not); taskset pins it (or
# in allcores unpins it); cgexec.sh puts it in the bench's cgroup (see
# cpu_clock_init).  All three exec, so $! is the server's pid.
start_server() {
	SERVER_PID=""
	SERVER_URL=""
	START_ERR=""
	if is_nginx "$1"; then
		start_nginx "$2" "$3" "$1"
		return
	fi
	# shellcheck disable=SC2086 # the ARGS and the PIN are word lists
	setsid $CELL_PIN sh "$BENCH_DIR/cgexec.sh" "$CPU_CG" \
		"$BIN_DIR/$1" --port 0 --host 127.0.0.1 \
		--root "$2" --quiet $SERVER_ARGS $CELL_ARGS \
		--keepalive-timeout "$CELL_KEEPALIVE" \
		>"$3/server.out" 2>"$3/server.err" </dev/null &
	SERVER_PID=$!
	n=0
	while [ $n -lt 250 ]; do
		# The shell in the background may not have made the file yet.
		SERVER_URL=$(sed -n 's|^listening on \(http://[^ ]*\).*|\1|p' \
			"$3/server.out" 2>/dev/null)
		[ -n "$SERVER_URL" ] && return 0
		alive "$SERVER_PID" || break
		sleep 0.02
		n=$((n + 1))
	done
	START_ERR="did not start: $(tail -n 1 "$3/server.err" 2>/dev/null)"
	stop_server
	return 1
}

# Whether model $1 is one of the nginx references rather than one of ours:
# nginx (its defaults) or nginx-ofc (with open_file_cache).
is_nginx() {
	case $1 in
	nginx | nginx-ofc) return 0 ;;
	esac
	return 1
}

# A free TCP port below the ephemeral range (so wrk's own ports never take
# it), found by reading /proc/net/tcp: no other tool needed.
free_port() {
	awk -v seed="$$$(date +%N)" '
	FNR > 1 { split($2, a, ":"); used[a[2]] = 1 }
	END {
		srand(seed % 2147483647)
		for (i = 0; i < 100; i++) {
			p = 20000 + int(rand() * 12000)
			if (!(sprintf("%04X", p) in used)) { print p; exit }
		}
	}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# nginx with a configuration of our own: $CELL_WORKERS worker processes
# (one but in allcores), no access log, sendfile, the same timeouts as our
# servers, and every path (pid, logs, temp files) under the cell's
# directory.  $3 is the model: nginx-ofc also keeps open files and their
# stat() in open_file_cache, checked once a second, as our servers' file
# cache is by default (--file-cache-valid 1); plain nginx opens and stats
# the file per request.
#
# One worker runs without a master: the worker is then the process
# started, as our servers are.  Only a master forks several workers, so
# allcores has one; it sleeps while they serve (nginx's defaults: one
# listener that both workers watch, no accept_mutex), and its CPU time is
# counted with theirs.  As root the master would run them as nobody; the
# "user" line keeps them the user that a lone worker is.
start_nginx() {
	mkdir -p "$2/nginx"
	port=$(free_port)
	ofc="# open_file_cache off (the default)"
	[ "$3" = nginx-ofc ] &&
		ofc="open_file_cache max=1024 inactive=20s; open_file_cache_valid 1s;"
	master="master_process off;"
	if [ "$CELL_WORKERS" -gt 1 ]; then
		master="master_process on;"
		[ "$(id -u)" = 0 ] && master="$master
user $(id -un) $(id -gn);"
	fi
	cat >"$2/nginx/nginx.conf" <<EOF
# Written by tests/bench/bench.sh for one bench cell.
daemon off;
$master
worker_processes $CELL_WORKERS;
worker_rlimit_nofile $NOFILE;
pid $2/nginx/nginx.pid;
error_log $2/nginx/error.log warn;
events {
	worker_connections $NOFILE;
}
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout ${CELL_KEEPALIVE}s;
	keepalive_requests 1000000000;
	$ofc
	client_header_timeout ${HEADER_TIMEOUT}s;
	client_body_temp_path $2/nginx/body;
	proxy_temp_path $2/nginx/proxy;
	fastcgi_temp_path $2/nginx/fastcgi;
	uwsgi_temp_path $2/nginx/uwsgi;
	scgi_temp_path $2/nginx/scgi;
	types {
		text/html html;
		application/octet-stream bin;
	}
	server {
		listen 127.0.0.1:$port backlog=4096;
		root $1;
	}
}
EOF
	# shellcheck disable=SC2086
	setsid $CELL_PIN sh "$BENCH_DIR/cgexec.sh" "$CPU_CG" \
		"$NGINX" -p "$2/nginx" -c "$2/nginx/nginx.conf" \
		-e "$2/nginx/error.log" >"$2/server.out" 2>"$2/server.err" \
		</dev/null &
	SERVER_PID=$!
	SERVER_URL="http://127.0.0.1:$port"
	n=0
	while [ $n -lt 250 ]; do
		alive "$SERVER_PID" || break
		curl -s -o /dev/null --max-time 1 "$SERVER_URL/" && return 0
		sleep 0.02
		n=$((n + 1))
	done
	START_ERR="did not start: $(tail -n 1 "$2/nginx/error.log" 2>/dev/null)"
	stop_server
	return 1
}

# Stops the server with SIGTERM (SIGKILL after 5 s) and its whole session.
# Sets STOPPED to how it ended: "exit N" or "signal NAME".
stop_server() {
	STOPPED=""
	[ -n "$SERVER_PID" ] || return 0
	stop_pid "$SERVER_PID" TERM 50
	# Children left behind (02's), if the parent went first.
	kill -s KILL -- "-$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	rc=$?
	SERVER_PID=""
	if [ $rc -gt 128 ]; then
		STOPPED="signal $(kill -l $((rc - 128)) 2>/dev/null || echo $rc)"
	else
		STOPPED="exit $rc"
	fi
}

# ---- load generators ---------------------------------------------------------

# Runs wrk: $1 connections, $2 threads, $3 seconds, $4 URL, $5 extra header
# (may be empty), $6 output directory; pinned as this script is, or by
# $WRK_PIN when it is set (allcores).  Writes wrk.out/wrk.err, and
# wrk.cpu: "rc=", "wall_ns=", "cpu_s=" (user+system of wrk, from the shell's
# `times` after waiting for it: a finished child's CPU is added to the
# parent's children times).
run_wrk() {
	hard=$(($3 + 20))
	[ "$1" -gt 2000 ] && hard=$((hard + 20))
	t0=$(now_ns)
	# shellcheck disable=SC2086 # WRK_PIN is a word list, maybe empty
	(
		if [ -n "$5" ]; then
			timeout -k 2 $hard $WRK_PIN wrk -t"$2" -c"$1" \
				-d"$3"s --timeout 2s -s "$BENCH_DIR/report.lua" \
				-H "$5" "$4"
		else
			timeout -k 2 $hard $WRK_PIN wrk -t"$2" -c"$1" \
				-d"$3"s --timeout 2s -s "$BENCH_DIR/report.lua" \
				"$4"
		fi >"$6/wrk.out" 2>"$6/wrk.err"
		echo "rc=$?"
		# Not "times | awk": a pipeline runs times in a new process,
		# which has no children yet.
		times >"$6/wrk.times"
	) >"$6/wrk.cpu"
	awk 'NR == 2 { gsub(/[ms]/, " ")
		printf "cpu_s=%.3f\n", $1 * 60 + $2 + $3 * 60 + $4 }' \
		"$6/wrk.times" >>"$6/wrk.cpu"
	echo "wall_ns=$(($(now_ns) - t0))" >>"$6/wrk.cpu"
}

# Starts slowhttptest in slowloris mode (-H): $1 connections at $2 per
# second against URL $3 for $4 seconds, output in directory $5.  Sets
# SLOW_PID.  Each connection sends a partial request, then one more header
# line every 5 s, and never finishes it.
start_slowloris() {
	timeout -k 2 $(($4 + 5)) slowhttptest -H -c "$1" -r "$2" -i 5 -x 24 \
		-p 3 -l "$4" -u "$3/" >"$5/slowloris.out" 2>&1 </dev/null &
	SLOW_PID=$!
}

# How many client sockets have an established connection to port $1 on
# this machine (from /proc/net/tcp: state 01, remote port = $1).
established_to() {
	awk -v port="$(printf '%04X' "$1")" '
	FNR > 1 && $4 == "01" { split($3, a, ":"); if (a[2] == port) n++ }
	END { print n + 0 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Counts the connections of program $2 to port $1 that are stalled: still
# connecting after a lost SYN was sent again (a full accept queue drops
# them; the retry comes 1 s later), or connected but with nothing received
# for $3 ms or more ("lastrcv" in `ss -i`: the time since data last arrived,
# or since the connection was made if none ever did).  Prints "stalled open"
# (open: the program's connections to the port).
#
# LESSON: wrk cannot see these clients.  It measures latency and counts
# timeouts only for responses that arrive, so a server that serves one
# connection and leaves 9,999 waiting shows a fine p99 and no errors.
stalled_clients() {
	ss -Htnaip "dport = :$1" 2>/dev/null | awk -v prog="\"$2\"" -v ms="$3" '
	/^[A-Z]/ {
		pend = 0
		if (index($0, prog) == 0)
			next
		if ($1 == "SYN-SENT") {
			total++
			pend = 2
		} else if ($1 == "ESTAB") {
			total++
			pend = 1
		}
		next
	}
	pend == 2 {
		pend = 0
		if ($0 ~ /retrans:[1-9]/)
			stalled++
	}
	pend == 1 {
		pend = 0
		if (match($0, /lastrcv:[0-9]+/) &&
		    substr($0, RSTART + 8, RLENGTH - 8) + 0 >= ms)
			stalled++
	}
	END { print stalled + 0, total + 0 }'
}

# ---- idle connections and the static probe ----------------------------------

# Starts hold_idle (hold_idle.c) against port $1: $2 idle connections,
# ready when all are answered, after $3 ms, or $4 ms after the last answer
# with no other; it is stopped after $5 seconds in all.  Its lines go to file $6.  Sets
# HOLD_PID (timeout's pid: timeout passes SIGTERM on to hold_idle).
start_holder() {
	timeout -k 2 "$5" "$HOLDER" 127.0.0.1 "$1" /small.html "$2" "$3" "$4" \
		>"$6" 2>"$6.err" </dev/null &
	HOLD_PID=$!
}

# Waits up to $1 tenths of a second for the holder's "ready" line in file
# $2; prints that line (empty if it never came).
wait_holder() {
	n=0
	while ! grep -q '^ready' "$2" 2>/dev/null && [ $n -lt "$1" ] &&
		alive "$HOLD_PID"; do
		sleep 0.1
		n=$((n + 1))
	done
	grep '^ready' "$2" 2>/dev/null
}

# Stops the holder: on SIGTERM it prints its "final" line into its file.
stop_holder() {
	[ -n "$HOLD_PID" ] || return 0
	stop_pid "$HOLD_PID" TERM 30
	wait "$HOLD_PID" 2>/dev/null
	HOLD_PID=""
}

# The connections the server at URL $1 counts as open, from /api/stats,
# less the one that asks (empty when it does not answer within a second:
# 01 and 04 are busy with other clients, nginx has no /api/).
server_open_conns() {
	curl -s --max-time 1 "$1/api/stats" 2>/dev/null |
		sed -n 's/.*"active_connections":\([0-9]*\).*/\1/p' |
		awk '{ print $1 - 1 }'
}

# The static probe: GET URL $1 at $2 requests a second for $3 seconds over
# one keep-alive connection (curl), a line "status seconds" per request
# into file $4; it is stopped after $5 seconds.  A request that takes
# longer than 1/$2 s delays the next (curl sends one at a time): the probe
# asks what one more client would see, it does not add load.  Each request
# gives up after 2 s, as wrk's do.  The lines go to stderr, which curl does
# not buffer, so a stopped probe keeps them (the request it was waiting
# for when stopped leaves no line).
probe() {
	n=$(awk -v r="$2" -v s="$3" 'BEGIN { n = int(r * s + 0.999)
		print (n > 0 ? n : 1) }')
	timeout -k 1 "$5" curl -s --rate "$2/s" --max-time 2 \
		-o /dev/null -w '%{stderr}%{http_code} %{time_total}\n' \
		"$1?[1-$n]" >/dev/null 2>"$4"
}

# A probe file's summary: "answered lost p50_ms" (p50 of the answered).
probe_summary() {
	awk '$1 == 200 { t[++n] = $2 * 1000; next } { lost++ }
	END {
		# Insertion sort: a few hundred values at most.
		for (i = 2; i <= n; i++) {
			x = t[i]
			for (j = i - 1; j >= 1 && t[j] > x; j--)
				t[j + 1] = t[j]
			t[j + 1] = x
		}
		p50 = ""
		if (n % 2)
			p50 = sprintf("%.3f", t[(n + 1) / 2])
		else if (n > 0)
			p50 = sprintf("%.3f", (t[n / 2] + t[n / 2 + 1]) / 2)
		print n + 0, lost + 0, p50
	}' "$1" 2>/dev/null
}
