#!/bin/sh
# One version for every program, from the file VERSION: `NAME --version` prints
# "NAME (pkish) X.Y.Z" on stdout for pkish, cmpca, cmpdump and cmpload, `display version`
# shows the same X.Y.Z, --help works on all of them, and no C source spells the
# version itself.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-version.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
V=$(cat "$top/VERSION")

case $V in
[0-9]*.[0-9]*.[0-9]*) echo "ok version-file-x.y.z" ;;
*) echo "FAIL version-file-x.y.z: VERSION holds '$V'" ;;
esac

for p in pkish cmpca cmpdump cmpload; do
	"$b/$p" --version >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "$p (pkish) $V" ] && [ ! -s "$tmp/err" ]; then
		echo "ok version-$p"
	else
		echo "FAIL version-$p: exit $rc, said '$(cat "$tmp/out" "$tmp/err")'," \
			"wanted '$p (pkish) $V'"
	fi
	"$b/$p" --help >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 0 ] && head -n 1 "$tmp/out" | grep -q "^usage: $p " &&
		grep -q -- '--version' "$tmp/out" && [ ! -s "$tmp/err" ]; then
		echo "ok help-$p"
	else
		echo "FAIL help-$p: exit $rc"
		cat "$tmp/out" "$tmp/err"
	fi
done

"$b/pkish" --no-startup --flash "$tmp/flash" -c "display version" >"$tmp/out" 2>&1
if grep -qx "pkish version $V" "$tmp/out"; then
	echo "ok version-display"
else
	echo "FAIL version-display"
	cat "$tmp/out"
fi

# The version lives in VERSION only (the Makefile passes it as PKISH_VERSION).
hits=$(cd "$top" && grep -rnF --include='*.c' --include='*.h' -e "\"$V" . 2>/dev/null)
if [ -z "$hits" ]; then
	echo "ok version-one-place"
else
	echo "FAIL version-one-place: the sources spell $V:"
	echo "$hits"
fi
