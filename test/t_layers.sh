#!/bin/sh
# The layering check (scripts/check-layers.sh): the tree passes it, and a copy
# with one planted bad include fails it, naming the file and the edge.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
chk="$top/scripts/check-layers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if out=$(sh "$chk" "$top" 2>&1); then
	echo "ok layers-tree-passes"
else
	echo "FAIL layers-tree-passes"
	echo "$out"
fi

# plant BAD (file relative to a copy of the tree, and its text); expect PATTERN
plant() {
	name=$1; file=$2; text=$3; pattern=$4
	rm -rf "$tmp/t"
	mkdir -p "$tmp/t"
	for m in util storage pki cmp ca device cli; do
		[ -d "$top/$m" ] && cp -r "$top/$m" "$tmp/t/"
	done
	printf '%s\n' "$text" >"$tmp/t/$file"
	out=$(sh "$chk" "$tmp/t" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && echo "$out" | grep -q -- "$pattern"; then
		echo "ok layers-$name"
	else
		echo "FAIL layers-$name (rc $rc)"
		echo "$out"
	fi
}

plant cmp-includes-pki cmp/planted.c '#include "../pki/pki.h"' \
    'cmp/planted.c:1: cmp/ must not include pki/'
plant cmp-includes-storage cmp/planted.c '#include "../storage/storage.h"' \
    'cmp/planted.c:1: cmp/ must not include storage/'
plant pki-includes-cmp pki/planted.c '#include "../cmp/cmp.h"' \
    'pki/planted.c:1: pki/ must not include cmp/'
plant device-includes-cli device/planted.c '#include "../cli/cli.h"' \
    'device/planted.c:1: device/ must not include cli/'
plant ca-includes-device ca/planted.c '#include "../device/device.h"' \
    'ca/planted.c:1: ca/ must not include device/'
plant storage-includes-pki storage/planted.c '#include "../pki/pki.h"' \
    'storage/planted.c:1: storage/ must not include pki/'
plant cli-includes-openssl cli/planted.c '#include <openssl/x509.h>' \
    'cli/planted.c:1: cli/ must not include OpenSSL'
plant cli-reaches-openssl-through-cmp cli/planted.c '#include "../cmp/cmp.h"' \
    'cli/planted.c: cli/ reaches OpenSSL through cmp/cmp.h'
