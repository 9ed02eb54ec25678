#!/usr/bin/env bash
# `make fuzz-long`: every libFuzzer target (test/fuzz/fuzz_*.c, built by `make
# fuzz` into build/fuzz/) to a budget of FUZZ_RUNS executions each, on the corpus
# kept in the tree (test/fuzz/corpus/TARGET/), which is then minimised
# (-merge=1) and written back. Prints a table of executions, coverage (libFuzzer's
# cov: and ft:), corpus size and crashes, also kept in build/fuzz/long.txt.
#
# Seeds are copied into a work directory, never given in place: libFuzzer writes
# new inputs into its first corpus directory, and test/vectors must stay as it
# is. Seeds: fuzz_cmp_decode, fuzz_cmp_client and fuzz_ca_server the CMP
# messages of test/vectors; fuzz_cli the
# lines of the console transcripts (test/cli/*.in) and examples/*.cfg but the
# key pair creations; and every
# target the files of test/fuzz/seeds/TARGET/ (fuzz_config: saved
# configurations, and one written by hand).
#
# A crash, leak, timeout or out-of-memory input is copied into
# test/fuzz/regress/TARGET/ (named by its kind and SHA-1), which `make check`
# replays (test/t_fuzz_regress.sh): fix the bug, or move the input to
# test/fuzz/known/TARGET/ with a note while it is open. Exit status 1 when a
# target crashed.
#
# Environment: FUZZ_RUNS (default 10000000), FUZZ_TARGETS (names, default all),
# FUZZ_JOBS (targets run at once, default 1), FUZZ_TIMEOUT (seconds one input may
# take, default 120), FUZZ_BUILD (default build/fuzz).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
runs=${FUZZ_RUNS:-10000000}
jobs=${FUZZ_JOBS:-1}
timeout=${FUZZ_TIMEOUT:-120}
fb=${FUZZ_BUILD:-build/fuzz}
targets=${FUZZ_TARGETS:-$(for f in test/fuzz/fuzz_*.c; do basename "$f" .c; done)}
case $runs in ''|*[!0-9]*) echo "fuzz-long: FUZZ_RUNS must be a number" >&2; exit 2 ;; esac
w=$(mktemp -d "${TMPDIR:-/tmp}/pkish-fuzzlong.XXXXXX")
trap 'rm -rf "$w"' EXIT
export PKISH_SCHEMA_DIR=$top/schemas

# seed TARGET DIR: copies the target's seeds into DIR.
seed() {
	[ -d "test/fuzz/seeds/$1" ] && cp "test/fuzz/seeds/$1"/* "$2/"
	case $1 in
	fuzz_cmp_decode|fuzz_cmp_client|fuzz_ca_server)
		find test/vectors -type f \( -name '*.der' -o -name '*.PKI' -o -name '*.bin' \) |
			while read -r f; do cp "$f" "$2/$(echo "$f" | tr '/' '_')"; done ;;
	fuzz_cli)
		# not the key pair creations: an RSA key takes the time of a
		# thousand other inputs, and every mutant keeping the line would
		# pay it again
		cat test/cli/*.in examples/*.cfg | grep -v -e '^#' -e 'local-key-pair create' |
			sort -u | awk -v d="$2" \
			'NF { f = sprintf("%s/line%05d", d, NR); printf "%s", $0 > f; close(f) }' ;;
	esac
}

# run TARGET: fuzzes, minimises the corpus into the tree, writes TARGET's row.
run() {
	t=$1
	bin=$fb/$t
	tw=$w/$t
	mkdir -p "$tw/corpus" "$tw/seed" "$tw/art" "$tw/min" "test/fuzz/corpus/$t"
	before=$(ls "test/fuzz/corpus/$t" | wc -l)
	seed "$t" "$tw/seed"
	cp "test/fuzz/corpus/$t"/. "$tw/corpus/" -r 2>/dev/null
	# the work corpus first: new inputs go there, not into the tree or the seeds
	"$bin" -runs="$runs" -timeout="$timeout" -print_final_stats=1 \
		-close_fd_mask=3 -artifact_prefix="$tw/art/" "$tw/corpus" "$tw/seed" \
		>"$tw/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tw/log" | tail -n 1)
	last=$(grep -E '^#[0-9]+' "$tw/log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	# minimise: the inputs of the tree and of this run that add coverage
	"$bin" -merge=1 -timeout="$timeout" -close_fd_mask=3 "$tw/min" \
		"test/fuzz/corpus/$t" "$tw/corpus" >"$tw/merge.log" 2>&1
	if [ -n "$(ls "$tw/min")" ]; then
		rm -f "test/fuzz/corpus/$t"/*
		cp "$tw/min"/* "test/fuzz/corpus/$t/"
	fi
	after=$(ls "test/fuzz/corpus/$t" | wc -l)
	crashes=0
	for a in "$tw/art"/*; do
		[ -f "$a" ] || continue
		k=$(basename "$a")
		case $k in crash-*|leak-*|timeout-*|oom-*) ;; *) continue ;; esac
		mkdir -p "test/fuzz/regress/$t"
		cp "$a" "test/fuzz/regress/$t/${k%%-*}-$(sha1sum "$a" | cut -c1-40)"
		crashes=$((crashes + 1))
	done
	if [ $rc -ne 0 ] && [ $crashes -eq 0 ]; then
		crashes="? (exit $rc: $(grep -m1 -E 'ERROR|error' "$tw/log"))"
	fi
	printf '| %s | %s | %s | %s | %s -> %s | %s |\n' "$t" "${execs:-?}" "${cov:-?}" \
		"${ft:-?}" "$before" "$after" "$crashes" >"$w/row.$t"
	[ "$crashes" = 0 ] || tail -n 40 "$tw/log" >"$w/crashlog.$t"
}

for t in $targets; do
	[ -x "$fb/$t" ] || { echo "fuzz-long: $fb/$t is missing (make fuzz)" >&2; exit 2; }
done
t0=$(date +%s)
echo "fuzz-long: $runs executions per target, $jobs at a time:" $targets
running=0
for t in $targets; do
	run "$t" &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
{
	echo "pkish fuzz-long, $(date -u '+%Y-%m-%d'), FUZZ_RUNS=$runs, $(($(date +%s) - t0)) s"
	echo
	echo "| target | executions | cov | ft | corpus (files) | crashes |"
	echo "|---|---:|---:|---:|---:|---:|"
	for t in $targets; do cat "$w/row.$t"; done
} | tee "$fb/long.txt"
bad=0
for t in $targets; do
	if [ -f "$w/crashlog.$t" ]; then
		echo
		echo "== $t crashed (inputs in test/fuzz/regress/$t/):"
		cat "$w/crashlog.$t"
		bad=1
	fi
done
exit $bad
