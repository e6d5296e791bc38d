#!/bin/sh
# tests/deps.sh - check what the tests or the bench need, install it on Debian.
#
#   sh tests/deps.sh test    C compiler, make, cmocka, zlib, curl; chromium,
#                            python3 and promtool (Debian: prometheus) are
#                            optional (without the first two make test skips
#                            the live page test, tests/browser/; without
#                            promtool the contract suite skips its
#                            `promtool check metrics` of /metrics), and so
#                            are nginx, systemd-analyze, /bin/kill and
#                            logrotate (without them make test skips those
#                            parts of the deploy tests, tests/deploy/)
#   sh tests/deps.sh bench   the above, plus wrk, slowhttptest, gnuplot;
#                            nginx and perf are optional (the bench then
#                            leaves out the nginx row / the syscall counts)
#   sh tests/deps.sh bench-parser
#                            C compiler, make, zlib, and the two parsers that
#                            `make bench-parser` compares ours with:
#                            picohttpparser (inside Debian's libh2o, which
#                            ships no header for it) and the nodejs
#                            http-parser; taskset is optional
#
# When something is missing and we are root on a system with apt-get, it runs
# `apt-get update` once and `apt-get install -y` the Debian packages; otherwise
# it names the packages to install and exits 1.
#
# For testing this script:
#   DEPS_FAKE_MISSING="wrk nginx"  treat these names as missing
#   DEPS_NO_INSTALL=1              never install, only report (as a non-root
#                                  user would see it)
set -u

what=${1:-test}
case $what in
test | bench | bench-parser) ;;
*)
	echo "usage: sh tests/deps.sh test|bench|bench-parser" >&2
	exit 2
	;;
esac

# name:Debian package.  The name is a command, an absolute path, or a
# shared library's file name (lib*.so*) that the dynamic linker must know.
required="cc:gcc make:make /usr/include/cmocka.h:libcmocka-dev curl:curl"
# zlib: the servers gzip static files (common/encoding.c).
required="$required /usr/include/zlib.h:zlib1g-dev"
optional="chromium:chromium python3:python3 promtool:prometheus"
# The deploy tests: nginx in front of the servers, and the systemd unit
# (systemd-analyze verify also wants its ExecReload's /bin/kill).
optional="$optional /usr/sbin/nginx:nginx systemd-analyze:systemd"
optional="$optional /bin/kill:procps /usr/sbin/logrotate:logrotate"
without="make test skips the tests that need them"
if [ "$what" = bench-parser ]; then
	required="cc:gcc make:make /usr/include/zlib.h:zlib1g-dev"
	required="$required libh2o.so.0.13:libh2o0.13"
	required="$required /usr/include/http_parser.h:libhttp-parser-dev"
	required="$required libhttp_parser.so:libhttp-parser-dev"
	optional="taskset:util-linux"
	without="the bench runs unpinned"
fi
if [ "$what" = bench ]; then
	required="$required wrk:wrk slowhttptest:slowhttptest gnuplot:gnuplot-nox"
	required="$required taskset:util-linux setsid:util-linux timeout:coreutils"
	required="$required ss:iproute2"
	optional="/usr/sbin/nginx:nginx-light perf:linux-perf"
	without="the bench runs without them"
fi

# Is the thing called $1 (a command or an absolute path) present?
present() {
	for fake in ${DEPS_FAKE_MISSING:-}; do
		case $1 in
		"$fake" | */"$fake") return 1 ;;
		esac
	done
	case $1 in
	/*) [ -e "$1" ] ;;
	lib*.so*) ldconfig_p | grep -q "^[[:space:]]*$1 " ;;
	*) command -v "$1" >/dev/null 2>&1 ;;
	esac
}

# The dynamic linker's cache; ldconfig is in /sbin, off a user's PATH.
ldconfig_p() {
	if command -v ldconfig >/dev/null 2>&1; then
		ldconfig -p
	else
		/sbin/ldconfig -p
	fi
}

# Prints the Debian packages of the entries in $1 that are missing.
missing_packages() {
	for entry in $1; do
		name=${entry%%:*}
		pkg=${entry#*:}
		present "$name" || echo "$pkg"
	done | sort -u | tr '\n' ' '
}

# Installs the packages named in "$@" without starting their services (the
# nginx package would otherwise start a daemon on port 80).
apt_install() {
	made_policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
	rc=$?
	[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
	return $rc
}

need=$(missing_packages "$required")
want=$(missing_packages "$optional")

if [ -n "$need$want" ] && [ "$(id -u)" = 0 ] &&
	command -v apt-get >/dev/null 2>&1 && [ -z "${DEPS_NO_INSTALL:-}" ]; then
	echo "deps: installing ${need}${want}(apt-get)"
	apt-get update -q >/dev/null || echo "deps: apt-get update failed" >&2
	# shellcheck disable=SC2086 # word splitting of package lists is meant
	[ -n "$need" ] && apt_install $need
	# Optional packages one by one: one that fails must not stop the rest.
	for pkg in $want; do
		apt_install "$pkg" || echo "deps: optional $pkg not installed" >&2
	done
	need=$(missing_packages "$required")
	want=$(missing_packages "$optional")
fi

if [ -n "$want" ]; then
	echo "deps: optional, not installed: $want($without)"
fi
if [ -n "$need" ]; then
	echo "deps: missing for 'make $what': $need" >&2
	echo "deps: on Debian or Ubuntu: sudo apt-get install $need" >&2
	exit 1
fi
echo "deps: ok for 'make $what'"
