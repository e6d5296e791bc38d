#!/bin/sh
# tests/bench/docfigures.sh - the published run's figures in the docs' text;
# `make docs-figures` writes them, `make check-docs-figures` checks them.
#
#   sh tests/bench/docfigures.sh [--check] [DIR [FILE...]]
#
# DIR (default docs/bench) holds a bench run: results.csv and meta.env.
# The FILEs (default: README.md and every .md under docs/) mark the figures
# they quote from it, and this script writes the figure between the marks:
#
#   <!-- fig 06 static-ka req_per_s -->98,068<!-- /fig -->
#       a cell of results.csv: model (its number, or a full name such as
#       nginx-ofc), workload, column (tests/bench/README.md lists them)
#   <!-- fig 02 static-close cpu_us_per_req / 01 static-close cpu_us_per_req -->40<!-- /fig -->
#       the ratio of two cells; "-" instead of "/" gives their difference
#   <!-- fig run -->...<!-- /fig -->
#       which run: the command, its date, the machine, how busy it was
#   <!-- fig meta KEY -->...<!-- /fig -->
#       a line of meta.env
#
# A trailing ".N" (as in "06 static-ka lat_p99_ms .1") gives N decimals;
# counts are whole numbers, and the rest are printed as results.csv has
# them.  A cell the run does not have (a workload or column newer than the
# run) is "n/a"; a model, workload or column that the bench does not know
# is an error.  A line of its own
#
#   <!-- figtable 06 -->
#   ...
#   <!-- /figtable -->
#
# is replaced by a table of that model's row of the run, under a line that
# says which run it is.  Marks never span lines.
#
# Without --check the FILEs are rewritten in place (only those that
# change).  With --check nothing is written: every figure that differs from
# what the run says is printed, and the status is 1.  Errors in a mark:
# status 2.  report.sh runs this after it publishes a run, so that the
# docs and docs/bench/results.csv always change together.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
dir=${1:-$root/docs/bench}
[ $# -gt 0 ] && shift
csv=$dir/results.csv
meta=$dir/meta.env
for f in "$csv" "$meta"; do
	[ -f "$f" ] || {
		echo "docfigures: no $f" >&2
		exit 2
	}
done
if [ $# -eq 0 ]; then
	set -- "$root/README.md" "$root"/docs/*.md "$root"/docs/labs/*.md
fi

# What the bench knows, so that a mark with a typo is an error rather than
# an "n/a": its models and workloads (bench.sh), and its columns (the
# header of runs.csv in bench.sh, and the ranges aggregate.awk adds).
# Whatever the run's own results.csv has is known too.
known_models=$(sed -n '/^ALL_MODELS="/,/"$/p' "$here/bench.sh" |
	sed 's/^ALL_MODELS=//; s/[\\"]//g' | tr '\n' ' ')
known_workloads=$(sed -n '/^ALL_WORKLOADS="/,/"$/p' "$here/bench.sh" |
	sed 's/^ALL_WORKLOADS=//; s/[\\"]//g' | tr '\n' ' ')
known_columns=$(sed -n '/^CSV_HEADER="/,/"$/p' "$here/bench.sh" |
	sed 's/^CSV_HEADER=//; s/[\\"]//g' | tr -d '\n' | tr ',' ' ')
known_columns="$known_columns rounds req_per_s_min req_per_s_max \
lat_p50_ms_min lat_p50_ms_max lat_p99_ms_min lat_p99_ms_max \
cpu_us_per_req_min cpu_us_per_req_max"

status=0
for f in "$@"; do
	[ -f "$f" ] || {
		echo "docfigures: no $f" >&2
		status=2
		continue
	}
	grep -q -e '<!-- fig ' -e '<!-- figtable ' "$f" || continue
	# The link from the file to docs/bench.md, for the tables.
	case ${f#"$root"/} in
	docs/*/*) bench=../bench.md ;;
	docs/*) bench=bench.md ;;
	*) bench=docs/bench.md ;;
	esac
	name=${f#"$root"/}
	awk -v csv="$csv" -v meta="$meta" -v file="$name" -v bench="$bench" -v check="$check" \
		-v models="$known_models" -v workloads="$known_workloads" \
		-v columns="$known_columns" '
function fail(msg) {
	printf "docfigures: %s:%d: %s\n", file, FNR, msg > "/dev/stderr"
	bad = 2
}

# 1234567.5 -> 1,234,567.5
function commas(s,    sign, ip, frac, i) {
	sign = ""
	if (substr(s, 1, 1) == "-") {
		sign = "-"
		s = substr(s, 2)
	}
	i = index(s, ".")
	ip = i ? substr(s, 1, i - 1) : s
	frac = i ? substr(s, i) : ""
	if (ip !~ /^[0-9]+$/)
		return sign s
	while (length(ip) > 3) {
		frac = "," substr(ip, length(ip) - 2) frac
		ip = substr(ip, 1, length(ip) - 3)
	}
	return sign ip frac
}

function fmt(v, dec) {
	if (dec < 0)
		return commas(v)
	return commas(sprintf("%." dec "f", v))
}

# The full name of a model: "06" is 06_epoll_async.
function model(m,    k) {
	if (m in known_model)
		return m
	for (k in known_model)
		if (index(k, m "_") == 1)
			return k
	fail("unknown model " m)
	return ""
}

# A cell as results.csv has it; "" when the run does not have it.
function cell(m, w, k,    full) {
	full = model(m)
	if (!(w in known_workload))
		fail("unknown workload " w)
	if (!(k in known_column))
		fail("unknown column " k)
	if (!((full SUBSEP w) in row) || !(k in col))
		return ""
	return field[row[full, w], col[k]]
}

# The cell as the docs print it.
function figure(m, w, k, dec,    v) {
	v = cell(m, w, k)
	if (v == "")
		return "n/a"
	if (dec < 0 && (k in counts))
		dec = 0
	if (v !~ /^-?[0-9.]+$/)
		return v
	return fmt(v, dec)
}

function two(a, dec,    x, y, r) {
	x = cell(a[1], a[2], a[3])
	y = cell(a[5], a[6], a[7])
	if (x !~ /^-?[0-9.]+$/ || y !~ /^-?[0-9.]+$/)
		return "n/a"
	if (a[4] == "-")
		return fmt(x - y, dec < 0 ? 1 : dec)
	if (y + 0 == 0)
		return "n/a"
	r = x / y
	if (dec < 0)
		dec = r >= 10 ? 0 : r >= 1 ? 1 : 2
	return fmt(r, dec)
}

function metaval(k) {
	if (!(k in mv)) {
		fail("meta.env has no " k)
		return ""
	}
	return mv[k]
}

# Which run: the command, the date, the machine, the method, the load.
function runline(    s, cores, load, n, l) {
	cores = mv["cores"] + 0
	n = split(mv["load_average_at_start"], l, " ")
	load = n ? l[1] : ""
	s = "`make bench PUBLISH=1` of " substr(mv["date"], 1, 10)
	s = s " on a " (cores ? cores "-core " : "") mv["cpu_model"]
	if (mv["kernel"] != "")
		s = s " (" mv["kernel"] ")"
	s = s ", " (mv["repeat"] > 1 ? "the median of " mv["repeat"] \
	    " rounds of " : "one round of ") mv["duration_s"] " s a cell"
	if (load != "") {
		s = s ", load average " load " at the start"
		if (mv["busy"] == 1 || (cores && load / cores > 0.5))
			s = s ": a busy machine, the figures may move"
	}
	return s
}

function evaluate(spec,    a, n, dec) {
	n = split(spec, a, " ")
	dec = -1
	if (n > 1 && a[n] ~ /^\.[0-9]+$/) {
		dec = substr(a[n], 2) + 0
		n--
	}
	if (n == 1 && a[1] == "run")
		return runline()
	if (n == 2 && a[1] == "meta")
		return metaval(a[2])
	if (n == 3)
		return figure(a[1], a[2], a[3], dec)
	if (n == 7 && (a[4] == "/" || a[4] == "-"))
		return two(a, dec)
	fail("cannot read the mark \"" spec "\"")
	return ""
}

function table(m) {
	printf "%s", tablestr(m)
}

function unit(v, u, dec) {
	return v == "" ? "" : fmt(v, dec) u
}

BEGIN {
	FS = ","
	split(models, t, " ")
	for (i in t)
		known_model[t[i]] = 1
	split(workloads, t, " ")
	for (i in t)
		known_workload[t[i]] = 1
	split(columns, t, " ")
	for (i in t)
		known_column[t[i]] = 1
	split("requests req_per_s req_per_s_min req_per_s_max connections " \
	    "err_connect err_read err_write err_timeout non2xx stalled " \
	    "peak_threads peak_procs idle_conns idle_held idle_server_open " \
	    "idle_closed probe_lost rounds", t, " ")
	for (i in t)
		counts[t[i]] = 1
	while ((getline line < meta) > 0) {
		i = index(line, "=")
		if (i > 1)
			mv[substr(line, 1, i - 1)] = substr(line, i + 1)
	}
	close(meta)
	nr = 0
	while ((getline line < csv) > 0) {
		n = split(line, t, ",")
		if (++nr == 1) {
			for (i = 1; i <= n; i++) {
				col[t[i]] = i
				known_column[t[i]] = 1
			}
			continue
		}
		for (i = 1; i <= n; i++)
			field[nr, i] = t[i]
		row[t[1], t[2]] = nr
		known_model[t[1]] = 1
		known_workload[t[2]] = 1
		if (!seen[t[2]]++)
			wl[++nwl] = t[2]
	}
	close(csv)
	if (nr < 2) {
		print "docfigures: " csv " has no rows" > "/dev/stderr"
		bad = 2
		exit
	}
}

$0 ~ /^<!-- figtable [^ ]+ -->$/ {
	if (intable)
		fail("figtable inside a figtable")
	print
	split($0, t, " ")
	m = t[3]
	intable = FNR
	old = ""
	next
}

$0 == "<!-- /figtable -->" {
	if (!intable)
		fail("<!-- /figtable --> without its start")
	intable = 0
	if (old != tablestr(m)) {
		diff = 1
		if (check)
			printf "docfigures: %s:%d: the figtable of %s differs from" \
		    " the published run\n", file, FNR, m > "/dev/stderr"
	}
	table(m)
	print
	next
}

intable {
	old = old $0 "\n"
	next
}

{
	out = ""
	rest = $0
	while ((i = index(rest, "<!-- fig ")) > 0) {
		out = out substr(rest, 1, i - 1)
		rest = substr(rest, i)
		j = index(rest, " -->")
		if (!j) {
			fail("a <!-- fig mark without its -->")
			break
		}
		spec = substr(rest, 10, j - 10)
		mark = substr(rest, 1, j + 3)
		rest = substr(rest, j + 4)
		k = index(rest, "<!-- /fig -->")
		if (!k) {
			fail("<!-- fig " spec " --> without <!-- /fig --> on its line")
			break
		}
		was = substr(rest, 1, k - 1)
		rest = substr(rest, k + 13)
		now = evaluate(spec)
		if (was != now) {
			diff = 1
			if (check)
				printf "docfigures: %s:%d: \"%s\" is %s, the published" \
			    " run says %s\n", file, FNR, spec, was, now \
			    > "/dev/stderr"
		}
		out = out mark now "<!-- /fig -->"
	}
	print out rest
}

END {
	if (intable)
		fail("<!-- figtable --> from line " intable " is not closed")
	exit bad ? bad : diff
}

# The table as one string, to compare with the text in the file.
function tablestr(m,    full, w, i, r, s, out) {
	full = model(m)
	if (full == "")
		return ""
	out = "The published run of " full ", " runline() \
	    " (all models: [bench.md](" bench ")):\n\n"
	out = out "| workload | status | req/s | p50 | p99 | CPU per request |" \
	    " peak memory |\n|---|---|---:|---:|---:|---:|---:|\n"
	for (i = 1; i <= nwl; i++) {
		w = wl[i]
		if (!((full SUBSEP w) in row))
			continue
		r = row[full, w]
		s = "| " w " | " field[r, col["status"]]
		s = s " | " unit(field[r, col["req_per_s"]], "", 0)
		s = s " | " unit(field[r, col["lat_p50_ms"]], " ms", -1)
		s = s " | " unit(field[r, col["lat_p99_ms"]], " ms", -1)
		s = s " | " unit(field[r, col["cpu_us_per_req"]], " µs", -1)
		s = s " | " unit(field[r, col["peak_rss_mib"]], " MiB", -1)
		out = out s " |\n"
	}
	return out "\n"
}
' "$f" >"$f.docfigures"
	rc=$?
	if [ $rc -ge 2 ]; then
		status=2
	elif [ $rc -eq 1 ] && [ $check = 1 ]; then
		[ $status -eq 0 ] && status=1
	fi
	if [ $check = 0 ] && [ $rc -lt 2 ] && ! cmp -s "$f" "$f.docfigures"; then
		cat "$f.docfigures" >"$f"
		echo "docfigures: wrote $name"
	fi
	rm -f "$f.docfigures"
done
if [ $check = 1 ] && [ $status = 1 ]; then
	echo "docfigures: the docs differ from $csv: run make docs-figures" >&2
fi
exit $status
