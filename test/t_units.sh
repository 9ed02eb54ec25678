#!/bin/sh
# The systemd units (dist/*.service.in): make fills in the program paths (and
# cmpca's configuration file under sysconfdir), and
# `systemd-analyze verify` accepts both units (with their Documentation= man
# pages) when that program is present and works here; a planted mistake shows
# that it would see one. `systemd-analyze security` rates the sandbox of each.
# Units are generated for the tree's build (make units BUILD=TMP bindir=...), so
# that their ExecStart= programs exist.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-units.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
g=$tmp/gen

if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top" BUILD="$g" \
	bindir="$b" sbindir="$b" sysconfdir=/etc units man >"$tmp/make.log" 2>&1; then
	echo "ok units-generated"
else
	echo "FAIL units-generated"
	cat "$tmp/make.log"
	exit 0
fi
u=$g/dist

check_exec() {	# unit, expected ExecStart= line
	if grep -qxF "$2" "$u/$1"; then echo "ok units-execstart-$1"; else
		echo "FAIL units-execstart-$1: wanted '$2'"
		grep '^ExecStart' "$u/$1"
	fi
}
check_exec pkish.service "ExecStart=$b/pkish --daemon --flash /var/lib/pkish"
check_exec cmpca.service "ExecStart=$b/cmpca --config /etc/cmpca.conf"
left=$(grep -n '@[a-zA-Z_]*@' "$u"/*.service)
if [ -z "$left" ]; then echo "ok units-substituted"; else
	echo "FAIL units-substituted: $left"; fi

if ! command -v systemd-analyze >/dev/null; then
	echo "ok units-verify-skipped (systemd-analyze is not installed)"
	exit 0
fi
# Does verify work in this environment? A trivial unit must pass.
printf '[Unit]\nDescription=probe\n[Service]\nExecStart=/bin/true\n' >"$tmp/probe.service"
if ! out=$(systemd-analyze verify --man=no "$tmp/probe.service" 2>&1) || [ -n "$out" ]; then
	echo "ok units-verify-skipped (systemd-analyze verify does not work here: $out)"
	exit 0
fi

for unit in pkish.service cmpca.service; do
	out=$(MANPATH="$g/man" systemd-analyze verify "$u/$unit" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		echo "ok units-verify-$unit"
	else
		echo "FAIL units-verify-$unit (exit $rc)"
		echo "$out"
	fi
done

# The check can fail: a misspelt directive, a wrong value, a missing program.
sed -e 's/^ProtectSystem=strict/ProtectSystem=strictest/' \
	-e 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/' \
	-e "s|^ExecStart=$b/pkish|ExecStart=$tmp/none/pkish|" \
	"$u/pkish.service" >"$tmp/pkish.service"
out=$(MANPATH="$g/man" systemd-analyze verify "$tmp/pkish.service" 2>&1)
if echo "$out" | grep -q 'strictest' && echo "$out" | grep -q 'NoNewPrivilege' &&
	echo "$out" | grep -q "$tmp/none/pkish"; then
	echo "ok units-verify-sees-mistakes"
else
	echo "FAIL units-verify-sees-mistakes"
	echo "$out"
fi

# The sandbox as systemd rates it (0 safe .. 10 unsafe): both well inside "OK".
for unit in pkish.service cmpca.service; do
	out=$(systemd-analyze security --offline=yes "$u/$unit" 2>&1)
	score=$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -z "$score" ]; then
		echo "ok units-security-$unit-skipped (no offline security report here)"
	elif awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }'; then
		echo "ok units-security-$unit ($score)"
	else
		echo "FAIL units-security-$unit: exposure $score, above 2.5"
		echo "$out" | grep '✗'
	fi
done
