#!/bin/sh
# Installs what pkish needs on Debian 12 when it is missing: the -dev packages the
# build links (pkg-config), the programs the tests and the demo run (openssl,
# sqlite3, tmux, valgrind, mandoc for the man page check), clang for `make fuzz`. Used by the Makefile before the
# first compile and by .ci/run. Prints and fails when it cannot install.
set -eu
need="build-essential pkg-config clang libssl-dev openssl libedit-dev libxml2-dev
check libsubunit-dev libmicrohttpd-dev libsqlite3-dev sqlite3 tmux valgrind mandoc"
missing=""
for p in $need; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "pkish: installing:$missing"
if [ "$(id -u)" = 0 ]; then
	SUDO=
elif command -v sudo >/dev/null; then
	SUDO=sudo
else
	echo "pkish: please install:$missing (apt-get install as root)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq $missing >/dev/null
