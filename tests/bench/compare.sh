#!/bin/sh
# tests/bench/compare.sh - how far two bench runs agree, cell by cell.
#
#   sh tests/bench/compare.sh DIR_A DIR_B [PCT]
#
# DIR_A and DIR_B hold a run each (results.csv, as make bench writes into
# build/bench/<time>/).  For every cell whose status is ok (or
# client-limited) in both runs it prints the median CPU µs per request and
# requests/s of each, and how far B is from A; a CPU difference above PCT
# per cent (default 15) is flagged.  The last line counts the cells
# compared and the flagged ones.  Cells failed or n/a in either run are
# listed apart: their figures describe different things.  It measures
# nothing and always exits 0 once both files are read.
set -u

[ $# -ge 2 ] || {
	echo "usage: sh tests/bench/compare.sh DIR_A DIR_B [PCT]" >&2
	exit 2
}
for d in "$1" "$2"; do
	[ -f "$d/results.csv" ] || {
		echo "compare: no $d/results.csv" >&2
		exit 2
	}
done

awk -F, -v pct="${3:-15}" '
function ok(s) { return s ~ /^(ok|client-limited)/ }
FNR == 1 {
	for (i = 1; i <= NF; i++)
		c[$i] = i
	next
}
FILENAME == ARGV[1] {
	k = $1 " " $2
	st[k] = $c["status"]
	cpu[k] = $c["cpu_us_per_req"]
	rps[k] = $c["req_per_s"]
	next
}
{
	k = $1 " " $2
	if (!(k in st))
		next
	if (!ok(st[k]) || !ok($c["status"]) || cpu[k] == "" ||
	    $c["cpu_us_per_req"] == "") {
		skipped = skipped sprintf("  %-32s %s | %s\n", k, st[k],
		    $c["status"])
		next
	}
	r = $c["cpu_us_per_req"] / cpu[k] - 1
	q = rps[k] > 0 ? $c["req_per_s"] / rps[k] - 1 : 0
	far = (r > pct / 100 || r < -pct / 100)
	n++
	flagged += far
	printf "%-32s CPU µs/req %8.1f %8.1f %+6.1f%%   req/s %8d %8d %+6.1f%%%s\n",
	    k, cpu[k], $c["cpu_us_per_req"], r * 100, rps[k],
	    $c["req_per_s"], q * 100, (far ? "  > " pct "%" : "")
}
END {
	if (skipped != "")
		printf "not compared (failed or n/a in a run):\n%s", skipped
	printf "%d cells compared; %d differ by more than %s%% in CPU µs/req\n",
	    n, flagged, pct
}' "$1/results.csv" "$2/results.csv"
