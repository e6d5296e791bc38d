#!/bin/sh
# deploy/install.sh - installs the built servers and what runs them.
#
#   make && sudo sh deploy/install.sh
#   sudo systemctl enable --now concurrency-server@06_epoll_async
#
#   DESTDIR=/tmp/stage sh deploy/install.sh   the same files under a staging
#                                             directory, touching nothing
#                                             else (tests/deploy/ does it)
#   BIN_DIR=build/asan/bin sh deploy/install.sh   other binaries than bin/
#
# What goes where (docs/deploy.md):
#   bin/NN_model          /usr/local/lib/concurrency-server/NN_model
#   www/                  /usr/local/share/concurrency-server/www/
#   deploy/nginx.conf     /usr/local/share/concurrency-server/nginx.conf
#   docs/deploy.md        /usr/local/share/concurrency-server/docs/deploy.md
#   the systemd unit      /etc/systemd/system/concurrency-server@.service
#   deploy/logrotate.conf /etc/logrotate.d/concurrency-server
#   (an empty directory)  /etc/concurrency-server/, for MODEL.env files
#
# Run from the top of the repository.  Exits 1 if nothing is built yet.
set -eu

dest=${DESTDIR:-}
lib=$dest/usr/local/lib/concurrency-server
share=$dest/usr/local/share/concurrency-server

cd "$(dirname "$0")/.."
bin=${BIN_DIR:-bin}
set -- "$bin"/[0-9][0-9]_*
if [ ! -x "$1" ]; then
	echo "install.sh: no servers in $bin/: run make first" >&2
	exit 1
fi

install -d -m 755 "$lib" "$share/docs" "$dest/etc/systemd/system" \
	"$dest/etc/logrotate.d" "$dest/etc/concurrency-server"
install -m 755 "$@" "$lib/"
rm -rf "$share/www"
cp -R www "$share/www"
chmod -R u=rwX,go=rX "$share/www"
install -m 644 deploy/nginx.conf "$share/nginx.conf"
install -m 644 docs/deploy.md "$share/docs/deploy.md"
install -m 644 deploy/concurrency-server@.service "$dest/etc/systemd/system/"
install -m 644 deploy/logrotate.conf \
	"$dest/etc/logrotate.d/concurrency-server"
echo "installed: $* into $lib"

# A running systemd reads the new unit only when told to.
if [ -z "$dest" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload
fi
