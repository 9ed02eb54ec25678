#!/bin/sh
# Golden console transcripts: each test/cli/NAME.in is replayed in batch mode
# through pkish on a fresh flash; stdout+stderr (and the exit status) must equal
# test/cli/NAME.out after normalization (test/cli/normalize.sed masks times, dates,
# serials and key material that change from run to run).
# An optional test/cli/NAME.setup is sourced first with FLASH set (to make keys or
# certificates with the openssl program). UPDATE_GOLDEN=1 rewrites the .out files.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin="$top/${BUILD:-build}/pkish"
case "${BUILD:-build}" in /*) bin="${BUILD}/pkish" ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for in in "$top"/test/cli/*.in; do
	name=$(basename "$in" .in)
	FLASH="$tmp/$name"
	mkdir -p "$FLASH/pki/public"
	export FLASH
	if [ -f "$top/test/cli/$name.setup" ]; then
		( cd "$tmp" && . "$top/test/cli/$name.setup" ) >"$tmp/$name.setup.log" 2>&1 ||
			{ echo "FAIL golden-$name (setup failed)"; cat "$tmp/$name.setup.log"; continue; }
	fi
	( cd "$tmp" && "$bin" --no-startup --flash "$FLASH" <"$in" >"$tmp/$name.raw" 2>&1
	  echo "[exit $?]" >>"$tmp/$name.raw" )
	sed -f "$top/test/cli/normalize.sed" "$tmp/$name.raw" >"$tmp/$name.got"
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
		cp "$tmp/$name.got" "$top/test/cli/$name.out"
	fi
	if diff -u "$top/test/cli/$name.out" "$tmp/$name.got" >"$tmp/$name.diff" 2>&1; then
		echo "ok golden-$name"
	else
		echo "FAIL golden-$name"
		cat "$tmp/$name.diff"
	fi
done
