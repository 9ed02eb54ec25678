#!/bin/sh
# The man pages (man/*.in, generated into $BUILD/man by make): lint-clean under
# `mandoc -Tlint` (the lint output is shown on failure), every @name@ replaced,
# each page documents exactly the long options its program's --help lists, the
# cross references between our pages name pages that exist, and each page
# renders. The README's synopses list every option too.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
m=$b/man
mkdir -p "$tmp/nodb"

pages="man1/pkish.1 man1/cmpdump.1 man1/cmpload.1 man8/cmpca.8"
for p in $pages; do
	if [ -f "$m/$p" ]; then echo "ok man-built-$(basename "$p")"; else
		echo "FAIL man-built-$(basename "$p"): $m/$p missing (make builds it)"; fi
done

if ! command -v mandoc >/dev/null; then
	echo "FAIL man-mandoc-present: mandoc is missing (sh scripts/install-deps.sh)"
else
	echo "ok man-mandoc-present"
	# mandoc looks up each .Xr in the working directory and the manual path:
	# lint from a directory holding our pages, so references between them
	# are checked; references to other packages' pages (syslog(3), sqlite3(1)...)
	# depend on what this machine has installed and are left out.
	mkdir -p "$tmp/pages"
	for p in $pages; do [ -f "$m/$p" ] && cp "$m/$p" "$tmp/pages/"; done
	for p in $pages; do
		n=$(basename "$p")
		[ -f "$tmp/pages/$n" ] || continue
		out=$(cd "$tmp/pages" && mandoc -Tlint -M "$tmp/nodb" "$n" 2>&1)
		rc=$?
		rest=$(echo "$out" | grep -v -e '^mandoc: outdated mandoc.db lacks ' \
			-e 'STYLE: referenced manual not found: Xr [a-z0-9_.-]* [0-9]' |
			sed '/^$/d')
		foreign=$(echo "$out" | grep 'referenced manual not found' |
			grep -E 'Xr (pkish|cmpca|cmpdump|cmpload) ')
		if [ -z "$rest" ] && [ -z "$foreign" ] && [ $rc -le 3 ]; then
			echo "ok man-lint-$n"
		else
			echo "FAIL man-lint-$n (mandoc exit $rc)"
			echo "$out"
		fi
		# rendered as text (overstrike removed), the page has its sections
		mandoc -Tascii "$tmp/pages/$n" 2>&1 | sed 's/.\x08//g' >"$tmp/r"
		if grep -q "^NAME" "$tmp/r" && grep -q "^SYNOPSIS" "$tmp/r" &&
			grep -q "^DESCRIPTION" "$tmp/r"; then
			echo "ok man-renders-$n"
		else
			echo "FAIL man-renders-$n"
			head -20 "$tmp/r"
		fi
	done
	# the check can fail: an unknown macro and a list left open
	if [ -f "$tmp/pages/pkish.1" ]; then
		{ cat "$tmp/pages/pkish.1"; printf '.Xo bogus\n.Bl -tag\n.It x\n'; } \
			>"$tmp/pages/planted.1"
		out=$(cd "$tmp/pages" && mandoc -Tlint -M "$tmp/nodb" planted.1 2>&1)
		if echo "$out" | grep -q 'planted.1:.*ERROR\|planted.1:.*WARNING'; then
			echo "ok man-lint-sees-mistakes"
		else
			echo "FAIL man-lint-sees-mistakes"
			echo "$out"
		fi
		rm -f "$tmp/pages/planted.1"
	fi
fi

for p in $pages; do
	n=$(basename "$p")
	[ -f "$m/$p" ] || continue
	left=$(grep -n '@[a-zA-Z_]*@' "$m/$p")
	if [ -z "$left" ]; then echo "ok man-substituted-$n"; else
		echo "FAIL man-substituted-$n: $left"; fi
	# our cross references: .Xr NAME SECTION for one of our programs
	bad=$(grep -E '^\.Xr (pkish|cmpca|cmpdump|cmpload) ' "$m/$p" | while read -r _ xn xs _; do
		[ -f "$m/man$xs/$xn.$xs" ] || echo "$xn($xs)"; done)
	if [ -z "$bad" ]; then echo "ok man-xrefs-$n"; else
		echo "FAIL man-xrefs-$n: no page for $bad"; fi
done

# The long options of PROG --help, one per line, sorted.
help_opts() {
	"$b/$1" --help 2>&1 | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

for prog in pkish cmpdump cmpload cmpca; do
	case $prog in cmpca) p=$m/man8/cmpca.8 ;; *) p=$m/man1/$prog.1 ;; esac
	[ -f "$p" ] || continue
	help_opts $prog >"$tmp/help"
	grep -oE 'Fl -[a-z][a-z0-9-]*' "$p" | sed 's/^Fl -/--/' | sort -u >"$tmp/man"
	if [ -s "$tmp/help" ] && cmp -s "$tmp/help" "$tmp/man"; then
		echo "ok man-options-$prog"
	else
		echo "FAIL man-options-$prog (< --help, > man page)"
		diff "$tmp/help" "$tmp/man"
	fi
	# The README's synopsis of PROG: the block that starts with "PROG [".
	awk -v p="$prog" '$0 ~ "^" p " \\[" { on = 1 } on && /^(```)?$/ { on = 0 } on' \
		"$top/README.md" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u >"$tmp/readme"
	if [ -s "$tmp/help" ] && cmp -s "$tmp/help" "$tmp/readme"; then
		echo "ok readme-synopsis-$prog"
	else
		echo "FAIL readme-synopsis-$prog (< --help, > README.md)"
		diff "$tmp/help" "$tmp/readme"
	fi
done
