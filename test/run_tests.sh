#!/bin/sh
# Runs every test of the project and prints one closing line "N passed, N failed".
# Check programs (build/test/check_*) report "Checks: N, Failures: F, Errors: E";
# shell tests (test/t_*.sh) print "ok NAME" / "FAIL NAME" lines.
# Environment: BUILD (build dir, default build), SANITIZE (1 under ASan+UBSan).
set -u
BUILD=${BUILD:-build}
export BUILD
top=$(cd "$(dirname "$0")/.." && pwd)
export PKISH_TOP="$top"
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}
if [ "${SANITIZE:-0}" = 1 ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
passed=0
failed=0
failures=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$BUILD"/test/check_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	# a program left in the build directory by a test that no longer exists
	[ -f "$top/test/$name.c" ] || continue
	echo "== $name"
	"$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	line=$(grep -E 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
		f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
		e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
		passed=$((passed + n - f - e))
		failed=$((failed + f + e))
		[ $((f + e)) -gt 0 ] && failures="$failures $name"
	fi
	if [ $rc -ne 0 ] && { [ -z "$line" ] || [ $((f + e)) -eq 0 ]; }; then
		failed=$((failed + 1))
		failures="$failures $name(exit $rc)"
	fi
done

for t in "$top"/test/t_*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	echo "== $name"
	bash "$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	ok=$(grep -c '^ok ' "$log")
	bad=$(grep -c '^FAIL ' "$log")
	passed=$((passed + ok))
	failed=$((failed + bad))
	[ "$bad" -gt 0 ] && failures="$failures $name"
	if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then
		failed=$((failed + 1))
		failures="$failures $name(exit $rc)"
	fi
done

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
