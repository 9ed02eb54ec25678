#!/bin/sh
# The third-party CMP vectors in test/vectors are intact (SHA256SUMS) and every
# file there is listed (nothing unaccounted for).
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top/test/vectors" || { echo "FAIL vectors-dir"; exit 1; }
if out=$(sha256sum --quiet -c SHA256SUMS 2>&1); then
	echo "ok vectors-sha256sums"
else
	echo "FAIL vectors-sha256sums"
	echo "$out"
fi
extra=$(find . -type f ! -name SHA256SUMS ! -name README.md | sed 's|^\./||' | sort |
	while read -r f; do grep -q "  \(\./\)\{0,1\}$f\$" SHA256SUMS || echo "$f"; done)
if [ -z "$extra" ]; then
	echo "ok vectors-all-listed"
else
	echo "FAIL vectors-all-listed: $extra"
fi
