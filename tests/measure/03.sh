#!/bin/sh
# tests/measure/03.sh - the hand-measured figures of docs/03_threads.md:
# memory per idle connection (threads, RSS, PSS, the kernel's stacks and
# page tables, address space), and the stack frames that size a thread's
# stack (gcc -fstack-usage).  Run by `make measure-03`.
NN=03
# shellcheck source=tests/measure/lib.sh
. "$(dirname "$0")/lib.sh"

header "03_threads --keepalive-timeout 120 (a fresh server per row);" \
	"tests/bench/hold_idle.c holds N keep-alive connections, each after" \
	"one GET /api/hello; Rss and Pss of /proc/PID/smaps_rollup, VmSize of" \
	"/proc/PID/status, one second after the last answer; the kernel's" \
	"share: VmPTE (page tables) and a 16 KiB kernel stack per task" \
	"(x86-64)"
echo "| idle connections | threads | RSS | PSS | kernel: stacks + page tables | address space (VmSize) |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in 0 200 1000; do
	memory_held 03_threads $n
done >"$WORK/mem"
memory_table "$WORK/mem" 3 vmsize

# The stack a connection's thread needs: gcc's own count of each frame.
su=$WORK/su
mkdir -p "$su"
for f in serve exchange static_files file_cache response app; do
	${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Icommon -fstack-usage \
		-c "$ROOT_DIR/common/$f.c" -o "$su/$f.o" 2>"$su/$f.err" ||
		die "cannot compile common/$f.c: $(head -n 1 "$su/$f.err")"
done
header "\`gcc -O2 -fstack-usage\` (the release flags) on common/serve.c," \
	"exchange.c, static_files.c, file_cache.c, response.c and app.c: the" \
	"largest frames, in bytes (static: fixed size)"
echo "| function | file | frame |"
echo "|---|---|---:|"
cat "$su"/*.su | awk -F'\t' '{
	n = split($1, a, ":")
	printf "%d\t%s\t%s\t%s\n", $2, a[n], a[1], $3
}' | sort -rn | head -n 10 |
	awk -F'\t' '{ sub(/.*\//, "", $3)
		printf "| `%s` | %s | %s |\n", $2, $3, $1 }'
