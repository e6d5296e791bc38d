#!/bin/sh
# tests/bench/test_docfigures.sh - docfigures.sh, on a run and a page made
# here: it fills every kind of mark, its check passes on what it wrote,
# fails on a figure changed by hand (and writes nothing), and refuses a
# mark it cannot read.  Run by `make check-docs-figures` (so by
# `make check-diffs`) before the check of the real docs.
set -u

here=$(cd "$(dirname "$0")" && pwd)
tool=$here/docfigures.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0

fail() {
	echo "test_docfigures: FAIL: $*" >&2
	failures=$((failures + 1))
}

# expect STATUS WHAT COMMAND...: the command's status must be STATUS.
expect() {
	want=$1
	what=$2
	shift 2
	"$@" >"$tmp/out" 2>&1
	got=$?
	[ "$got" = "$want" ] ||
		fail "$what: status $got, expected $want: $(cat "$tmp/out")"
}

mkdir "$tmp/run"
cat >"$tmp/run/meta.env" <<'EOF'
date=2026-12-01T10:00:00Z
cpu_model=Test CPU
cores=2
kernel=Linux 6.1
repeat=3
duration_s=3
load_average_at_start=0.20 0.30 0.40
server_args=--threads 8
EOF
cat >"$tmp/run/results.csv" <<'EOF'
model,workload,status,rounds,req_per_s,lat_p50_ms,lat_p99_ms,cpu_us_per_req,stalled,peak_rss_mib
01_blocking,static-close,ok,3,12277,3.268,12.824,66.1,0,1.7
02_fork,static-close,ok,3,386,129.124,165.972,2618.8,0,3.4
04_threadpool,conns-1k,failed: 256 of 264 connections stalled,3,16494,21.177,53.141,27.5,256,2.0
EOF
cat >"$tmp/page.md" <<'EOF'
# A page

01 serves <!-- fig 01 static-close req_per_s -->?<!-- /fig --> req/s at
<!-- fig 01 static-close cpu_us_per_req -->?<!-- /fig --> µs, p99
<!-- fig 02 static-close lat_p99_ms .1 -->?<!-- /fig --> ms; a fork costs
<!-- fig 02_fork static-close cpu_us_per_req / 01 static-close cpu_us_per_req -->?<!-- /fig -->×,
<!-- fig 02 static-close cpu_us_per_req - 01 static-close cpu_us_per_req .0 -->?<!-- /fig --> µs more.
04: <!-- fig 04 conns-1k status -->?<!-- /fig -->; idle:
<!-- fig 05 idle-10k req_per_s -->?<!-- /fig -->. Measured by <!-- fig run -->?<!-- /fig -->,
with <!-- fig meta server_args -->?<!-- /fig -->.

<!-- figtable 04 -->
stale text
<!-- /figtable -->
The end.
EOF

expect 1 "check of an unfilled page" sh "$tool" --check "$tmp/run" "$tmp/page.md"
expect 0 "filling the page" sh "$tool" "$tmp/run" "$tmp/page.md"
expect 0 "check of the filled page" sh "$tool" --check "$tmp/run" "$tmp/page.md"

# What it wrote, figure by figure.
# shellcheck disable=SC2016 # the backquotes are Markdown, not commands
for want in \
	'01 serves <!-- fig 01 static-close req_per_s -->12,277<!-- /fig --> req/s at' \
	'<!-- fig 01 static-close cpu_us_per_req -->66.1<!-- /fig --> µs, p99' \
	'<!-- fig 02 static-close lat_p99_ms .1 -->166.0<!-- /fig --> ms; a fork costs' \
	'<!-- fig 02_fork static-close cpu_us_per_req / 01 static-close cpu_us_per_req -->40<!-- /fig -->×,' \
	'<!-- fig 02 static-close cpu_us_per_req - 01 static-close cpu_us_per_req .0 -->2,553<!-- /fig --> µs more.' \
	'04: <!-- fig 04 conns-1k status -->failed: 256 of 264 connections stalled<!-- /fig -->; idle:' \
	'<!-- fig 05 idle-10k req_per_s -->n/a<!-- /fig -->. Measured by <!-- fig run -->`make bench PUBLISH=1` of 2026-12-01 on a 2-core Test CPU (Linux 6.1), the median of 3 rounds of 3 s a cell, load average 0.20 at the start<!-- /fig -->,' \
	'with <!-- fig meta server_args -->--threads 8<!-- /fig -->.' \
	'| conns-1k | failed: 256 of 264 connections stalled | 16,494 | 21.177 ms | 53.141 ms | 27.5 µs | 2.0 MiB |' \
	'The end.'; do
	grep -qxF -e "$want" "$tmp/page.md" || fail "no line: $want"
done
grep -q 'stale text' "$tmp/page.md" && fail "the figtable kept its old text"

# A figure changed by hand: the check fails, names it, and writes nothing.
sed 's/-->12,277</-->12,300</' "$tmp/page.md" >"$tmp/wrong.md"
cp "$tmp/wrong.md" "$tmp/wrong.orig"
expect 1 "check of a wrong figure" sh "$tool" --check "$tmp/run" "$tmp/wrong.md"
grep -q 'wrong.md:3: "01 static-close req_per_s" is 12,300, the published run says 12,277' \
	"$tmp/out" || fail "the check did not name the wrong figure: $(cat "$tmp/out")"
cmp -s "$tmp/wrong.md" "$tmp/wrong.orig" || fail "the check wrote the file"

# A row of a figtable changed by hand.
sed 's/| 16,494 |/| 16,000 |/' "$tmp/page.md" >"$tmp/table.md"
expect 1 "check of a wrong figtable" sh "$tool" --check "$tmp/run" "$tmp/table.md"

# The same page, checked against a run with another figure.
sed 's/^01_blocking,static-close,ok,3,12277,/01_blocking,static-close,ok,3,9999,/' \
	"$tmp/run/results.csv" >"$tmp/new.csv"
mkdir "$tmp/run2"
cp "$tmp/run/meta.env" "$tmp/run2/"
mv "$tmp/new.csv" "$tmp/run2/results.csv"
expect 1 "check against a newer run" sh "$tool" --check "$tmp/run2" "$tmp/page.md"

# Marks it cannot read are errors (status 2), not "n/a".
for bad in '<!-- fig 07 static-ka req_per_s -->x<!-- /fig -->' \
	'<!-- fig 01 static-kaa req_per_s -->x<!-- /fig -->' \
	'<!-- fig 01 static-ka reqs_per_s -->x<!-- /fig -->' \
	'<!-- fig 01 static-ka -->x<!-- /fig -->' \
	'<!-- fig meta no_such_key -->x<!-- /fig -->' \
	'<!-- fig 01 static-ka req_per_s -->x'; do
	printf '%s\n' "$bad" >"$tmp/bad.md"
	expect 2 "the mark $bad" sh "$tool" --check "$tmp/run" "$tmp/bad.md"
done
printf '<!-- figtable 01 -->\nx\n' >"$tmp/bad.md"
expect 2 "an unclosed figtable" sh "$tool" --check "$tmp/run" "$tmp/bad.md"

if [ $failures -gt 0 ]; then
	echo "test_docfigures: $failures failed" >&2
	exit 1
fi
echo "test_docfigures: ok"
