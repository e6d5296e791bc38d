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
#
# With NORMALIZE=1 in the environment every CPU ratio B/A is divided by
# the median ratio over all compared cells first: a shared machine that is
# quieter during one run makes every model faster alike, and that drift
# says nothing about the bench's method.  What is left is how far each
# cell moved against the others, which is what a comparison of models
# within one run relies on.
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

awk -F, -v pct="${3:-15}" -v normalize="${NORMALIZE:-0}" '
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
	n++
	key[n] = k
	ca[n] = cpu[k]
	cb[n] = $c["cpu_us_per_req"]
	ra[n] = rps[k]
	rb[n] = $c["req_per_s"]
	ratio[n] = cb[n] / ca[n]
	sorted[n] = ratio[n]
}
END {
	# The median ratio, by insertion sort: a few dozen cells.
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && sorted[j - 1] > sorted[j]; j--) {
			t = sorted[j]
			sorted[j] = sorted[j - 1]
			sorted[j - 1] = t
		}
	med = n ? (n % 2 ? sorted[(n + 1) / 2] : \
	    (sorted[n / 2] + sorted[n / 2 + 1]) / 2) : 1
	base = normalize ? med : 1
	if (normalize)
		printf "normalized: every CPU ratio divided by the median, %.3f\n",
		    med
	for (i = 1; i <= n; i++) {
		r = ratio[i] / base - 1
		q = ra[i] > 0 ? rb[i] / ra[i] - 1 : 0
		far = (r > pct / 100 || r < -pct / 100)
		flagged += far
		printf "%-32s CPU µs/req %8.1f %8.1f %+6.1f%%   req/s %8d %8d %+6.1f%%%s\n",
		    key[i], ca[i], cb[i], r * 100, ra[i], rb[i], q * 100,
		    (far ? "  > " pct "%" : "")
	}
	if (skipped != "")
		printf "not compared (failed or n/a in a run):\n%s", skipped
	printf "%d cells compared; %d differ by more than %s%% in CPU µs/req\n",
	    n, flagged, pct
}' "$1/results.csv" "$2/results.csv"
