#!/usr/bin/env bash
# The fuzz targets' regression inputs and corpus, replayed without libFuzzer:
# for every target test/fuzz/fuzz_NAME.c, $BUILD/fuzz-replay/fuzz_NAME runs each
# input of test/fuzz/regress/fuzz_NAME/ (crashes `make fuzz-long` found; they
# must not crash again) and a sample of test/fuzz/corpus/fuzz_NAME/ (the
# minimised corpus) once. Under SANITIZE=1 the replay runs with ASan and UBSan. Inputs of open bugs
# wait in test/fuzz/known/ and are not replayed.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-fuzzreg.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export PKISH_SCHEMA_DIR=$top/schemas
CORPUS_SAMPLE=100

for src in "$top"/test/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	bin=$b/fuzz-replay/$t
	if [ ! -x "$bin" ]; then
		echo "FAIL fuzz-replay-$t: $bin is missing (make check builds it)"
		continue
	fi
	for kind in regress corpus; do
		dir=$top/test/fuzz/$kind/$t
		# every regression input; of the corpus a sample (the first
		# $CORPUS_SAMPLE names: SHA-1s, so a spread), the whole corpus is
		# make fuzz-long's
		ls "$dir" 2>/dev/null | sed "s|^|$dir/|" >"$tmp/list"
		[ $kind = corpus ] && head -n $CORPUS_SAMPLE "$tmp/list" >"$tmp/l2" &&
			mv "$tmp/l2" "$tmp/list"
		n=$(wc -l <"$tmp/list")
		[ "$n" -gt 0 ] || continue
		(cd "$tmp" && xargs "$bin" <"$tmp/list") >"$tmp/out" 2>"$tmp/err"
		rc=$?
		ran=$(grep -c '^replay: ' "$tmp/out")
		if [ $rc -eq 0 ] && [ "$ran" -eq "$n" ]; then
			echo "ok fuzz-$kind-$t ($n inputs)"
		else
			echo "FAIL fuzz-$kind-$t: exit $rc after $ran of $n inputs; the last:" \
				"$(tail -n 1 "$tmp/out")"
			tail -n 30 "$tmp/err"
		fi
	done
done
# the replay program can fail: an input that aborts the decoder target
printf 'x' >"$tmp/one"
if "$b/fuzz-replay/fuzz_cmp_decode" "$tmp/one" >/dev/null 2>&1 &&
	! "$b/fuzz-replay/fuzz_cmp_decode" "$tmp/no-such-file" >/dev/null 2>&1; then
	echo "ok fuzz-replay-runs-and-sees-errors"
else
	echo "FAIL fuzz-replay-runs-and-sees-errors"
fi
exit 0
