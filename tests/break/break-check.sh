#!/bin/sh
# tests/break/break-check.sh - every lab break must fail its named test.
#
#   make break-check                      all of them (CI runs this)
#   sh tests/break/break-check.sh no-reap sigpipe   only these
#
# A break (docs/labs/breaks.md) is one `#ifdef BREAK_...` next to the
# LESSON it undoes; `make BREAK=name` builds it into build/break-name/.
# For each break this script builds the clean server and the broken one,
# runs the one test named below against each, and prints one line:
#
#   caught       the clean build passes the test and the broken one fails it
#   NOT caught   the broken build passes: the lab has stopped working
#   CLEAN FAILS  the clean build fails the test: fix that first
#
# It exits non-zero unless every break is caught.  The output of every run
# is kept in build/break-check/ (NAME.clean.log, NAME.broken.log).  Each
# test bounds its own waits; `timeout` is only a guard against a hang.

set -u
cd "$(dirname "$0")/../.." || exit 2

MAKE=${MAKE:-make}
LOGS=build/break-check
GUARD_S=300

# name  mode  suite  model  filter  [environment for the runs]
#
# suite is contract, adversarial or unit:TEST (build/tests/TEST, built
# with the break, since a unit test links common/ itself).  The filter is
# the suite's cmocka pattern; the adversarial suite names its tests
# "name [models]", hence the '*'.  fd-race runs under ThreadSanitizer, and
# halt_on_error turns its report into a server that dies mid-test.
BREAK_TABLE='
no-reap            release contract        02_fork             fork_reaps_children
sigpipe            release adversarial     01_blocking         vanish_mid_response*
fd-race            tsan    contract        03_threads          parallel_100_clients  TSAN_OPTIONS=halt_on_error=1
cond-if            release unit:test_pool  -                   test_stolen_wakeup_keeps_worker
et-no-drain        release adversarial     06_epoll_async      pipelined_burst*
no-emfile-backoff  release adversarial     03_threads          fd_exhaustion_recovers*
no-header-timeout  release adversarial     03_threads          slowloris*
no-linger          release adversarial     03_threads          close_after_response_is_not_reset*
'

# The Makefile's output folders: OUT for MODE $1 (and BREAK $2, if any).
out_dir() {
	case $1 in
	release) o=build ;;
	*) o=build/$1 ;;
	esac
	[ -n "$2" ] && o=$o/break-$2
	echo "$o"
}

# Where the server binary of model $3 lands (MODE $1, BREAK $2).
bin_dir() {
	if [ "$1" = release ] && [ -z "$2" ]; then
		echo bin
	else
		echo "$(out_dir "$1" "$2")/bin"
	fi
}

# Builds target $3 with MODE $1 and BREAK $2; the log shows on failure.
build() {
	if ! $MAKE --no-print-directory MODE="$1" BREAK="$2" "$3" \
		>"$LOGS/build.log" 2>&1; then
		cat "$LOGS/build.log" >&2
		echo "break-check: cannot build $3" >&2
		exit 2
	fi
}

# Runs the test of one row against one build; $1 = log, $2 = break or "".
# Returns 0 if the test ran and passed, 1 if it ran and failed, 2 if no
# test matched the filter.
run_test() {
	log=$1
	case $suite in
	unit:*)
		t=${suite#unit:}
		prog=$(out_dir "$mode" "$2")/tests/$t
		build "$mode" "$2" "$prog"
		set -- "$prog" "$filter"
		;;
	*)
		prog=build/tests/$suite-suite
		server=$(bin_dir "$mode" "$2")/$model
		build release "" "$prog"
		build "$mode" "$2" "$server"
		set -- "$prog" "$server" "$filter"
		;;
	esac
	# shellcheck disable=SC2086 # env is empty or one NAME=value word
	env $env timeout "$GUARD_S" "$@" >"$log" 2>&1
	rc=$?
	grep -q '^\[ RUN      \]' "$log" || return 2
	[ $rc -eq 0 ] && return 0
	return 1
}

# Prints the last lines of log $1, indented, to say why.
show() {
	tail -n 12 "$1" | sed 's/^/      | /'
}

# A break the Makefile knows (BREAKS) but this table does not is a lab
# that nothing checks.
for b in ${BREAKS:-}; do
	if ! printf '%s\n' "$BREAK_TABLE" | grep -q "^$b "; then
		echo "break-check: break $b has no test in $0" >&2
		exit 2
	fi
done

mkdir -p "$LOGS"
start=$(date +%s)
failed=0
ran=0
only=" $* "
# One row a turn; no descriptor of ours: make's jobserver holds 3 and 4.
set -f
nl='
'
IFS=$nl
for row in $BREAK_TABLE; do
	IFS=' '
	# shellcheck disable=SC2086 # split the row into its fields
	set -- $row
	name=$1 mode=$2 suite=$3 model=$4 filter=$5 env=${6:-}
	if [ "$only" != "  " ] && [ "${only#* "$name" }" = "$only" ]; then
		continue
	fi
	ran=$((ran + 1))
	what="$suite $filter"
	[ "$model" != - ] && what="$what on $model"
	[ "$mode" != release ] && what="$what ($mode)"
	run_test "$LOGS/$name.clean.log" "" </dev/null
	clean=$?
	run_test "$LOGS/$name.broken.log" "$name" </dev/null
	broken=$?
	if [ $clean -eq 2 ] || [ $broken -eq 2 ]; then
		verdict="NOT caught: no test matches '$filter'"
	elif [ $clean -ne 0 ]; then
		verdict="CLEAN FAILS"
	elif [ $broken -eq 0 ]; then
		verdict="NOT caught"
	else
		verdict=caught
	fi
	printf '%-18s %-62s %s\n' "$name" "$what" "$verdict"
	case $verdict in
	caught) ;;
	"CLEAN FAILS")
		show "$LOGS/$name.clean.log"
		failed=1
		;;
	*)
		show "$LOGS/$name.broken.log"
		failed=1
		;;
	esac
done
rm -f "$LOGS/build.log"
echo "break-check: $ran breaks in $(($(date +%s) - start)) s; logs in $LOGS/"
if [ $ran -eq 0 ]; then
	echo "break-check: no break is named$only" >&2
	exit 2
fi
exit $failed
