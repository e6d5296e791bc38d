# tests/bench/aggregate.awk - results.csv from runs.csv: a row per cell.
#
# runs.csv (bench.sh, row.awk) has a row per model, workload and round.
# This prints one row per model and workload, in the order of the input,
# with the same columns but "rounds" (how many) for "round":
#
#   - every figure is the median of the rounds that have it (the mean of
#     the middle two for an even count), printed with as many decimals as
#     the input had;
#   - the figures in RANGED also get their smallest and largest value, in
#     the columns NAME_min and NAME_max right after NAME;
#   - the status is the worst of the rounds (failed, then client-limited,
#     then ok), the text of the first round that had it, and "(in K of N
#     rounds)" when not every round did;
#   - the notes of the rounds, each different one once, with the rounds
#     that had it unless every round did.
#
# Usage: awk -f aggregate.awk runs.csv > results.csv

BEGIN {
	FS = OFS = ","
	split("req_per_s lat_p50_ms lat_p99_ms cpu_us_per_req", r, " ")
	for (i in r)
		ranged[r[i]] = 1
}

NR == 1 {
	ncol = NF
	out = ""
	for (i = 1; i <= NF; i++) {
		name[i] = $i
		h = $i == "round" ? "rounds" : $i
		out = out (i > 1 ? OFS : "") h
		if ($i in ranged)
			out = out OFS h "_min" OFS h "_max"
	}
	print out
	next
}

{
	key = $1 SUBSEP $2
	if (!(key in n))
		order[++ncells] = key
	k = ++n[key]
	for (i = 1; i <= NF; i++)
		v[key, k, i] = $i
}

function severity(status) {
	if (status ~ /^failed/)
		return 3
	if (status == "client-limited")
		return 2
	return 1 # ok, n/a
}

# Decimals of the string x ("12.50" has 2).
function decimals(x) {
	return index(x, ".") ? length(x) - index(x, ".") : 0
}

# Sorts the values of column i of cell key that are not empty into s[];
# returns how many; sets dec to the most decimals among them.
function collect(key, i,   j, m, x, a, b) {
	m = 0
	dec = 0
	for (j = 1; j <= n[key]; j++) {
		x = v[key, j, i]
		if (x == "")
			continue
		s[++m] = x + 0
		if (decimals(x) > dec)
			dec = decimals(x)
	}
	for (a = 2; a <= m; a++) { # insertion sort: a few rounds
		x = s[a]
		for (b = a - 1; b >= 1 && s[b] > x; b--)
			s[b + 1] = s[b]
		s[b + 1] = x
	}
	return m
}

function fmt(x) {
	return sprintf("%." dec "f", x)
}

function status_of(key,   j, w, first, cnt) {
	w = 0
	for (j = 1; j <= n[key]; j++)
		if (severity(v[key, j, 3]) > w)
			w = severity(v[key, j, 3])
	cnt = 0
	for (j = 1; j <= n[key]; j++) {
		if (severity(v[key, j, 3]) != w)
			continue
		if (!cnt++)
			first = v[key, j, 3]
	}
	if (cnt < n[key])
		first = first " (in " cnt " of " n[key] " rounds)"
	return first
}

function notes_of(key, i,   j, x, seen, txt, list, cnt, m, t, r) {
	m = 0
	for (j = 1; j <= n[key]; j++) {
		x = v[key, j, i]
		if (x == "")
			continue
		if (!(x in seen)) {
			seen[x] = ++m
			txt[m] = x
			list[m] = ""
		}
		list[seen[x]] = list[seen[x]] (list[seen[x]] == "" ? "" : "+") j
		cnt[seen[x]]++
	}
	r = ""
	for (t = 1; t <= m; t++) {
		x = txt[t]
		if (cnt[t] < n[key])
			x = (cnt[t] > 1 ? "rounds " : "round ") list[t] ": " x
		r = r (t > 1 ? "; " : "") x
	}
	return r
}

END {
	for (c = 1; c <= ncells; c++) {
		key = order[c]
		out = ""
		for (i = 1; i <= ncol; i++) {
			if (name[i] == "model" || name[i] == "workload")
				x = v[key, 1, i]
			else if (name[i] == "status")
				x = status_of(key)
			else if (name[i] == "round")
				x = n[key]
			else if (name[i] == "notes")
				x = notes_of(key, i)
			else {
				split("", s)
				m = collect(key, i)
				lo = hi = x = ""
				if (m > 0) {
					if (m % 2)
						x = s[(m + 1) / 2]
					else
						x = (s[m / 2] + s[m / 2 + 1]) / 2
					x = fmt(x)
					lo = fmt(s[1])
					hi = fmt(s[m])
				}
			}
			out = out (i > 1 ? OFS : "") x
			if (name[i] in ranged)
				out = out OFS lo OFS hi
		}
		print out
	}
}
