#!/bin/sh
# Installation. Where an uninstalled pkish finds its grammar (the build's schemas
# link, PKISH_SCHEMA_DIR, --schemas; never a compiled-in source tree path). Then,
# with the tree's Makefile and a build directory of its own:
#  1. make install DESTDIR=STAGE PREFIX=/usr sysconfdir=/etc: exactly the
#     expected files with their modes, no STAGE path inside any of them, units
#     and man pages for /usr, the cmpca unit runs cmpca with --config
#     /etc/cmpca.conf, which is installed and valid, the pages render, the
#     programs run; make uninstall leaves nothing. An edited cmpca.conf is kept
#     by install and uninstall.
#  2. make install PREFIX=TMP (no DESTDIR), the build directory moved away: the
#     installed pkish, from another working directory and without
#     PKISH_SCHEMA_DIR, runs the installed example (enrolment and key update)
#     against the installed cmpca, and fails when its installed grammar is hidden
#     (so that is the grammar it reads); the installed units verify, the cmpca
#     unit's configuration file is the installed one; make uninstall leaves
#     nothing.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-install.XXXXXX")
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$top/test/lib.sh"
V=$(cat "$top/VERSION")
I=$tmp/build		# the install builds' directory (the tree's build is untouched)

ok() { echo "ok $1"; }
fail() { echo "FAIL $1"; shift; [ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/    /'; }
check() {	# name, condition (shell expression)
	if eval "$2"; then ok "$1"; else fail "$1"; fi
}
mk() {	# make in the tree with the install build directory; output in $tmp/make.log
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u PKISH_SCHEMA_DIR \
		make -C "$top" -j2 BUILD="$I" "$@" >"$tmp/make.log" 2>&1
}

# ---- 0. the uninstalled build ----------------------------------------------
mkdir -p "$tmp/wd" && cd "$tmp/wd" || exit 1
unset PKISH_SCHEMA_DIR
"$b/pkish" --no-startup --flash "$tmp/wd/f" -c "display version" >"$tmp/o" 2>&1
check uninstalled-finds-tree-grammar '[ $? -eq 0 ] && grep -q "pkish version $V" "$tmp/o"'
check uninstalled-through-build-link '[ "$(readlink -f "$b/schemas")" = "$(readlink -f "$top/schemas")" ]'
PKISH_SCHEMA_DIR=$tmp/none "$b/pkish" --no-startup --flash "$tmp/wd/f" -c "display version" \
	>"$tmp/o" 2>&1
check env-overrides-build-link '[ $? -eq 2 ] && grep -q "invalid grammar in $tmp/none" "$tmp/o"'
PKISH_SCHEMA_DIR=$tmp/none "$b/pkish" --schemas "$top/schemas" --no-startup \
	--flash "$tmp/wd/f" -c "display version" >"$tmp/o" 2>&1
check option-overrides-env '[ $? -eq 0 ]'
# a copy of the program has no link beside it: it looks in the installed
# directory compiled in from PREFIX, never in the source tree
mkdir -p "$tmp/copy" && cp "$b/pkish" "$tmp/copy/"
want=$("$b/pkish" --help | sed -n 's/^ *\(\/[^ )]*\))$/\1/p')
"$tmp/copy/pkish" --no-startup --flash "$tmp/wd/f" -c "display version" >"$tmp/o" 2>&1
rc=$?
if [ -d "$want" ]; then
	check copy-uses-compiled-in-dir '[ $rc -eq 0 ]'
else
	check copy-uses-compiled-in-dir \
		'[ $rc -eq 2 ] && [ -n "$want" ] && grep -q "invalid grammar in $want:" "$tmp/o"'
fi
check no-tree-path-compiled-in '! grep -q "$top/schemas" "$b/pkish"'

# ---- 1. staged installation (packaging) ------------------------------------
S=$tmp/stage
if mk install DESTDIR="$S" PREFIX=/usr sysconfdir=/etc; then ok staged-install; else
	fail staged-install "$(tail -20 "$tmp/make.log")"; exit 0; fi
{
	echo "usr/bin/cmpdump 755"; echo "usr/bin/cmpload 755"; echo "usr/bin/pkish 755"; echo "usr/sbin/cmpca 755"
	for f in "$top"/schemas/*.xsd "$top"/schemas/*.xml; do
		echo "usr/share/pkish/schemas/${f##*/} 644"; done
	echo "usr/share/man/man1/pkish.1 644"; echo "usr/share/man/man1/cmpdump.1 644"
	echo "usr/share/man/man1/cmpload.1 644"
	echo "usr/share/man/man8/cmpca.8 644"
	echo "usr/share/doc/pkish/README.md 644"
	for f in "$top"/doc/*.md; do echo "usr/share/doc/pkish/${f##*/} 644"; done
	for f in "$top"/examples/*.cfg "$top"/examples/*.conf; do
		echo "usr/share/doc/pkish/examples/${f##*/} 644"; done
	echo "usr/lib/systemd/system/pkish.service 644"
	echo "usr/lib/systemd/system/cmpca.service 644"
	echo "usr/share/bash-completion/completions/pkish 644"
	echo "usr/share/bash-completion/completions/cmpca link"
	echo "usr/share/bash-completion/completions/cmpdump link"
	echo "usr/share/bash-completion/completions/cmpload link"
	echo "etc/cmpca.conf 644"
} | sort >"$tmp/want"
(cd "$S" && find . ! -type d | sed 's|^\./||' | sort | while read -r f; do
	if [ -L "$f" ]; then echo "$f link"; else echo "$f $(stat -c %a "$f")"; fi
done) >"$tmp/got"
if cmp -s "$tmp/want" "$tmp/got"; then ok staged-files-and-modes; else
	fail staged-files-and-modes "$(diff "$tmp/want" "$tmp/got")"; fi
check staged-no-destdir-inside '[ -z "$(grep -rl "$S" "$S")" ]'
check staged-unit-paths \
	'grep -qx "ExecStart=/usr/bin/pkish --daemon --flash /var/lib/pkish" "$S/usr/lib/systemd/system/pkish.service" &&
	 grep -qx "ExecStart=/usr/sbin/cmpca --config /etc/cmpca.conf" "$S/usr/lib/systemd/system/cmpca.service"'
# the service's configuration: dist/cmpca.conf, valid for the installed cmpca
"$S/usr/sbin/cmpca" --config "$S/etc/cmpca.conf" --check-config >"$tmp/cc" 2>&1
check staged-cmpca-conf-valid '[ $? -eq 0 ] && cmp -s "$top/dist/cmpca.conf" "$S/etc/cmpca.conf" &&
	grep -qx "  dir: /var/lib/cmpca" "$tmp/cc" && grep -qx "  listen: 127.0.0.1:8080" "$tmp/cc"'
check staged-man-paths 'grep -q "^\.Pa /usr/share/pkish/schemas" "$S/usr/share/man/man1/pkish.1"'
for p in man1/pkish.1 man1/cmpdump.1 man1/cmpload.1 man8/cmpca.8; do
	n=${p#*/}; n=${n%.*}
	if command -v man >/dev/null; then	# as a user reads it (man-db)
		MANWIDTH=80 man -l "$S/usr/share/man/$p" >"$tmp/page" 2>"$tmp/page.err"
	else					# a minimal system: mandoc
		mandoc -Tascii "$S/usr/share/man/$p" 2>"$tmp/page.err" |
			sed 's/.\x08//g' >"$tmp/page"
	fi
	check "staged-man-renders-${p#*/}" \
		'[ $? -eq 0 ] && grep -q "^NAME" "$tmp/page" && grep -q "^ *$n .* " "$tmp/page" &&
		 grep -q "^SYNOPSIS" "$tmp/page" && [ ! -s "$tmp/page.err" ]'
done
for p in usr/bin/pkish usr/bin/cmpdump usr/bin/cmpload usr/sbin/cmpca; do
	n=${p##*/}
	check "staged-version-$n" '[ "$("$S/$p" --version)" = "$n (pkish) $V" ]'
done
PKISH_SCHEMA_DIR=$S/usr/share/pkish/schemas "$S/usr/bin/pkish" --no-startup \
	--flash "$tmp/wd/f" -c "display version" >"$tmp/o" 2>&1
check staged-pkish-runs '[ $? -eq 0 ]'
if [ ! -e /usr/share/pkish/schemas ]; then
	"$S/usr/bin/pkish" --no-startup --flash "$tmp/wd/f" -c "display version" >"$tmp/o" 2>&1
	check staged-pkish-default-is-usr-share \
		'[ $? -eq 2 ] && grep -q "invalid grammar in /usr/share/pkish/schemas:" "$tmp/o"'
fi
if mk uninstall DESTDIR="$S" PREFIX=/usr sysconfdir=/etc; then ok staged-uninstall; else
	fail staged-uninstall "$(tail -20 "$tmp/make.log")"; fi
left=$(cd "$S" && find . ! -type d)
check staged-uninstall-removes-all '[ -z "$left" ] && [ ! -e "$S/usr/share/pkish" ] &&
	[ ! -e "$S/usr/share/doc/pkish" ]'
[ -z "$left" ] || echo "$left" | sed 's/^/    left: /'
# an administrator's cmpca.conf survives a new install and an uninstall
mk install DESTDIR="$S" PREFIX=/usr sysconfdir=/etc &&
	echo "listen = 0.0.0.0:8080" >>"$S/etc/cmpca.conf" &&
	mk install DESTDIR="$S" PREFIX=/usr sysconfdir=/etc
check staged-edited-conf-kept-by-install '[ $? -eq 0 ] && grep -qx "listen = 0.0.0.0:8080" "$S/etc/cmpca.conf"'
mk uninstall DESTDIR="$S" PREFIX=/usr sysconfdir=/etc
check staged-edited-conf-kept-by-uninstall '[ $? -eq 0 ] && grep -qx "listen = 0.0.0.0:8080" "$S/etc/cmpca.conf" &&
	[ "$(cd "$S" && find . ! -type d)" = "./etc/cmpca.conf" ]'
rm -f "$S/etc/cmpca.conf"

# ---- 2. installation into a prefix, run from elsewhere ----------------------
P=$tmp/prefix
if mk install PREFIX="$P"; then ok prefix-install; else
	fail prefix-install "$(tail -20 "$tmp/make.log")"; exit 0; fi
mv "$I" "$I.away"	# only the installed copies exist now
check prefix-no-grammar-link '[ ! -e "$P/bin/schemas" ] && [ ! -e "$P/sbin/schemas" ]'
mkdir -p "$tmp/elsewhere" && cd "$tmp/elsewhere" || exit 1
CMPCA=$P/sbin/cmpca
if cmpca_start "$tmp/ca" "$tmp/ca.log" 127.0.0.1:0; then ok prefix-cmpca-starts; else
	fail prefix-cmpca-starts "$(cat "$tmp/ca.log")"; fi
ref=$(sed -n 's/^cmpca: reference "\([^"]*\)".*/\1/p' "$tmp/ca.log")
secret=$(cat "$tmp/ca/secret" 2>/dev/null)
ca_name=$(openssl x509 -in "$tmp/ca/ca.crt" -noout -subject \
	-nameopt sep_comma_plus,sname,utf8 2>/dev/null | sed 's/^subject=//')
sed -e "s|@URL@|${url:-}|" -e "s|@REF@|$ref|" -e "s|@SECRET@|$secret|" \
	-e "s|@CA_NAME@|$ca_name|" "$P/share/doc/pkish/examples/enroll.cfg" >enroll.cfg
"$P/bin/pkish" --no-startup --flash flash -f enroll.cfg >"$tmp/run" 2>&1
rc=$?
check prefix-example-runs '[ $rc -eq 0 ] && ! grep -q "lines failed" "$tmp/run"'
check prefix-example-enrols \
	'grep -qx "Info: The certificate was saved as flash:/pki/public/demo_ir.cer." "$tmp/run"'
check prefix-example-updates \
	'grep -qx "Info: The certificate was saved as flash:/pki/public/demo_kur.cer." "$tmp/run" &&
	 grep -q "^demo_kur.cer .* Valid " "$tmp/run" && [ -s flash/pki/public/demo_kur.cer ]'
[ $rc -eq 0 ] || tail -20 "$tmp/run" | sed 's/^/    /'
# the grammar it read is the installed one: hidden, pkish cannot start
mv "$P/share/pkish/schemas" "$P/share/pkish/hidden"
"$P/bin/pkish" --no-startup --flash flash -c "display version" >"$tmp/o" 2>&1
check prefix-reads-installed-grammar \
	'[ $? -eq 2 ] && grep -q "invalid grammar in $P/share/pkish/schemas:" "$tmp/o"'
mv "$P/share/pkish/hidden" "$P/share/pkish/schemas"
check prefix-unit-reads-installed-conf \
	'grep -qx "ExecStart=$P/sbin/cmpca --config $P/etc/cmpca.conf" "$P/lib/systemd/system/cmpca.service" &&
	 "$P/sbin/cmpca" --config "$P/etc/cmpca.conf" --check-config >/dev/null 2>&1'
check prefix-completion-installed \
	'bash -c ". \"$P/share/bash-completion/completions/cmpca\" && complete -p cmpca" >/dev/null 2>&1'
if command -v systemd-analyze >/dev/null &&
	printf '[Service]\nExecStart=/bin/true\n' >"$tmp/probe.service" &&
	[ -z "$(systemd-analyze verify --man=no "$tmp/probe.service" 2>&1)" ]; then
	out=$(MANPATH="$P/share/man" systemd-analyze verify \
		"$P/lib/systemd/system/pkish.service" "$P/lib/systemd/system/cmpca.service" 2>&1)
	check prefix-units-verify '[ -z "$out" ]'
	[ -z "$out" ] || echo "$out" | sed 's/^/    /'
else
	echo "ok prefix-units-verify-skipped (systemd-analyze absent or not working here)"
fi
kill "$cmpca_pid" 2>/dev/null && wait "$cmpca_pid" 2>/dev/null
pids=
cd "$tmp" || exit 1
mv "$I.away" "$I"
if mk uninstall PREFIX="$P"; then ok prefix-uninstall; else
	fail prefix-uninstall "$(tail -20 "$tmp/make.log")"; fi
left=$(find "$P" ! -type d)
check prefix-uninstall-removes-all '[ -z "$left" ]'
[ -z "$left" ] || echo "$left" | sed 's/^/    left: /'
