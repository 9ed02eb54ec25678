#!/bin/sh
# Layering check: reads every #include of the modules and fails on an edge that
# the architecture forbids (doc/architecture.md, "Dependencies"):
#   cmp     -> pki, device, ca, cli, storage   (the protocol knows no device)
#   pki     -> cmp, device, ca, cli            (device objects know no protocol)
#   device  -> cli, ca                         (the device core never prints)
#   ca      -> pki, device, cli                (the CA is not a device)
#   storage -> anything but util
#   util    -> any module
# and on any OpenSSL header reached from cli/, directly or through the project
# headers it includes (cli/ never includes OpenSSL).
# Usage: check-layers.sh [TOP]   (default: the tree this script is in)
# Prints one line per violation (file:line: what) and exits 1 when there is one.
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 2
bad=0

forbidden() { # module -> space separated forbidden modules
	case $1 in
	cmp) echo "pki device ca cli storage" ;;
	pki) echo "cmp device ca cli" ;;
	device) echo "cli ca" ;;
	ca) echo "pki device cli" ;;
	storage) echo "pki cmp device ca cli" ;;
	util) echo "storage pki cmp device ca cli" ;;
	*) echo "" ;;
	esac
}

# quoted includes of FILE, resolved to paths relative to TOP ("" when outside)
includes() {
	_d=$(dirname "$1")
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1" |
	while read -r inc; do
		_p="$_d/$inc"
		# normalise a/b/../c -> a/c
		_p=$(echo "$_p" | sed -e 's|/\./|/|g' -e ':a' -e 's|[^/][^/]*/\.\./||' -e 'ta' -e 's|^\./||')
		echo "$_p"
	done
}

for m in cmp pki device ca storage util cli; do
	[ -d "$m" ] || continue
	for f in "$m"/*.c "$m"/*.h; do
		[ -f "$f" ] || continue
		deny=$(forbidden "$m")
		grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
		while IFS= read -r hit; do
			ln=${hit%%:*}
			inc=$(echo "$hit" | sed -n 's/.*"\([^"]*\)".*/\1/p')
			p=$(echo "$(dirname "$f")/$inc" | sed -e 's|/\./|/|g' -e ':a' -e 's|[^/][^/]*/\.\./||' -e 'ta' -e 's|^\./||')
			target=${p%%/*}
			[ "$target" = "$p" ] && target=$m
			for d in $deny; do
				if [ "$target" = "$d" ]; then
					echo "$f:$ln: $m/ must not include $d/ ($inc)"
				fi
			done
		done
	done
done >"${TMPDIR:-/tmp}/layers.$$"

# cli/: no OpenSSL header, directly or through the project headers it includes
for f in cli/*.c cli/*.h; do
	[ -f "$f" ] || continue
	seen=" "
	todo="$f"
	while [ -n "$todo" ]; do
		set -- $todo
		cur=$1
		shift
		todo="$*"
		case $seen in *" $cur "*) continue ;; esac
		seen="$seen$cur "
		[ -f "$cur" ] || continue
		o=$(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*<openssl/' "$cur" | head -n 1)
		if [ -n "$o" ]; then
			if [ "$cur" = "$f" ]; then
				echo "$f:${o%%:*}: cli/ must not include OpenSSL (${o#*:})"
			else
				echo "$f: cli/ reaches OpenSSL through $cur:${o%%:*}"
			fi
		fi
		for i in $(includes "$cur"); do
			todo="$todo $i"
		done
	done
done >>"${TMPDIR:-/tmp}/layers.$$"

if [ -s "${TMPDIR:-/tmp}/layers.$$" ]; then
	sort -u "${TMPDIR:-/tmp}/layers.$$"
	bad=1
fi
rm -f "${TMPDIR:-/tmp}/layers.$$"
exit $bad
