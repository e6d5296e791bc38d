#!/bin/sh
# tests/bench/cgexec.sh CGROUP COMMAND [ARG...] - runs COMMAND in the cgroup
# directory CGROUP (lib.sh's cpu_clock_init made it), or just runs it when
# CGROUP is empty.  It joins first and then execs, so the command and every
# process it forks are counted from their first instruction, and the
# caller's $! is the command's pid.
cg=$1
shift
if [ -n "$cg" ]; then
	echo $$ >"$cg/cgroup.procs" || exit 126
fi
exec "$@"
