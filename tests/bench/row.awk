# tests/bench/row.awk - one CSV row from one cell's figures.env.
#
# Input: key=value lines (bench.sh's write_row gathers them):
#   requests duration_us bytes          from wrk (report.lua)
#   errors_connect errors_read errors_write errors_timeout errors_status
#   latency_p50_us latency_p99_us latency_max_us
#   rc cpu_s wall_ns                    wrk's exit status, CPU time, wall time
#   stalled clients                     wrk connections left waiting at the end
#   cpu_us                              server CPU time, in µs
#   syscalls syscall_requests           the syscall pass, if there was one:
#                                       system calls (perf) and responses
#   base_rss_kib                        server memory before the load
#   rss_kib threads procs               peaks of the server's process tree
#   idle_conns idle_held                idle-10k: idle connections asked for
#   idle_server_open idle_closed        and held; what the server counted
#                                       open; held ones it closed mid-cell
#   probe_alone_p50_ms probe_p50_ms     sleep: the static probe, alone and
#   probe_lost                          beside the load; its lost requests
#   died                                how the server ended mid-run, if it did
#   notes                               free text
# Variables: model, wl (workload), round, conns,
# wrk_cores (the cores wrk may use: 1 when pinned, its threads in allcores).
#
# The status says what happened; it does not judge the model:
#   ok              every client was served
#   client-limited  wrk used >= 95% of its core (of wrk_cores): the server
#                   may do more
#   failed: WHY     the server died, or some clients got no answer: a
#                   client stalled at the end of the run, any connect
#                   error or timeout, or more than 0.1% of the responses
#                   lost to read/write errors or answered >= 400; in
#                   idle-10k also idle connections not held, or closed

{
	k = $0
	sub(/=.*/, "", k)
	v = $0
	sub(/^[^=]*=/, "", v)
	f[k] = v
}

function num(x, fmt) { return x == "" ? "" : sprintf(fmt, x) }

# idle-10k: fewer idle connections held than asked for.
function idle_short() {
	return f["idle_conns"] != "" && f["idle_held"] + 0 < f["idle_conns"] + 0
}

# "12 connect errors; 3 timeouts" from wrk's error counts.
function failures(   s) {
	if (f["stalled"] > 0)
		s = s "; " f["stalled"] " of " f["clients"] " connections stalled"
	if (f["errors_connect"] > 0) s = s "; " f["errors_connect"] " connect errors"
	if (f["errors_timeout"] > 0) s = s "; " f["errors_timeout"] " timeouts"
	if (f["errors_read"] > 0) s = s "; " f["errors_read"] " read errors"
	if (f["errors_write"] > 0) s = s "; " f["errors_write"] " write errors"
	if (f["errors_status"] > 0) s = s "; " f["errors_status"] " non-2xx"
	if (idle_short())
		s = s "; " f["idle_held"] + 0 " of " f["idle_conns"] " idle held"
	if (f["idle_closed"] > 0)
		s = s "; " f["idle_closed"] " idle closed by the server"
	return substr(s, 3)
}

END {
	req = f["requests"]
	secs = f["duration_us"] / 1e6
	wall_s = f["wall_ns"] / 1e9
	cpu_s = f["cpu_us"] / 1e6
	hard = f["errors_connect"] + f["errors_timeout"] + f["stalled"] + \
	    idle_short() + f["idle_closed"]
	lost = f["errors_read"] + f["errors_write"] + f["errors_status"]

	if (f["died"] != "")
		status = "failed: server died (" f["died"] ")"
	else if (req == "")
		status = "failed: wrk gave no results (exit " f["rc"] ")"
	else if (req == 0)
		status = "failed: no responses" (hard + lost ? ": " failures() : "")
	else if (hard > 0 || lost * 1000 > req + 0)
		status = "failed: " failures()
	else if (wall_s > 0 && f["cpu_s"] / wall_s >= 0.95 * (wrk_cores + 0 > 0 ? \
	    wrk_cores : 1))
		status = "client-limited"
	else
		status = "ok"

	rps = mibps = p50 = p99 = max = ""
	if (req > 0 && secs > 0) {
		rps = req / secs
		mibps = f["bytes"] / secs / 1048576
		p50 = f["latency_p50_us"] / 1000
		p99 = f["latency_p99_us"] / 1000
		max = f["latency_max_us"] / 1000
	}
	if (req == "")
		secs = ""
	cpu_us = srv_pct = per_sys = wrk_pct = ""
	if (f["died"] == "" && req > 0) {
		cpu_us = cpu_s * 1e6 / req
		if (f["syscalls"] != "" && f["syscall_requests"] > 0)
			per_sys = f["syscalls"] / f["syscall_requests"]
	}
	if (f["died"] == "" && wall_s > 0)
		srv_pct = cpu_s / wall_s * 100
	if (wall_s > 0)
		wrk_pct = f["cpu_s"] / wall_s * 100
	rss = f["rss_kib"] == "" ? "" : f["rss_kib"] / 1024
	rss0 = f["base_rss_kib"] == "" ? "" : f["base_rss_kib"] / 1024
	held = f["idle_conns"] == "" ? "" : f["idle_held"] + 0
	plost = f["probe_answered"] == "" ? "" : f["probe_lost"]

	notes = f["notes"]
	gsub(/,/, ";", status)
	gsub(/,/, ";", notes)
	sub(/^ +/, "", notes)
	sub(/;$/, "", notes)
	OFS = ","
	print model, wl, status, round, conns, num(secs, "%.1f"), req,
	    num(rps, "%.0f"), num(mibps, "%.1f"),
	    num(p50, "%.3f"), num(p99, "%.3f"), num(max, "%.3f"),
	    f["errors_connect"], f["errors_read"], f["errors_write"],
	    f["errors_timeout"], f["errors_status"], f["stalled"],
	    num(cpu_us, "%.1f"), num(srv_pct, "%.0f"), num(per_sys, "%.1f"),
	    num(rss0, "%.1f"), num(rss, "%.1f"), f["threads"], f["procs"],
	    num(wrk_pct, "%.0f"), f["idle_conns"], held,
	    f["idle_server_open"], f["idle_closed"],
	    f["probe_alone_p50_ms"], f["probe_p50_ms"], plost, notes
}
