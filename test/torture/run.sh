#!/usr/bin/env bash
# `make torture`: pkish and cmpca under crashes and load, with figures (issue 15).
# Not part of `make check`. Prints ONE table of trials, faults and losses and
# exits 1 on any loss.
#
#   1. device (test/torture/device.sh): kill -9 pkish at random instants while
#      it saves the configuration, imports and deletes certificates, creates
#      and destroys key pairs, and (daemon) replaces certificates and key pairs
#      in automatic updates; restart and check. 1,000 trials, the four
#      workloads in parallel.
#   2. CA (test/torture/ca.sh): kill -9 cmpca at random instants under
#      concurrent load and start it again; check the database against what the
#      clients received. 200 trials.
#   3. load (test/torture/load.sh): 50 clients x 200 enrolments (ir, then kur)
#      against cmpca with 4 threads: no error, unique serials, every
#      certificate verifies, memory and descriptors bounded.
# About 10 minutes on 2 cores. TORTURE_SCALE=N runs N times the trials and
# enrolments. Environment: BUILD (default build), TORTURE_SCALE (default 1),
# TORTURE_DIR (work directory, default a new one under TMPDIR, removed when no
# loss was found); for a quick try, TORTURE_DEVICE_TRIALS (per workload),
# TORTURE_CA_TRIALS and TORTURE_LOAD_COUNT set the figures directly.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export PKISH_TOP=$top
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
export BUILD=$b
scale=${TORTURE_SCALE:-1}
case $scale in ''|*[!0-9]*|0) echo "torture: TORTURE_SCALE must be a whole number >= 1" >&2
	exit 2 ;; esac
for p in pkish cmpca cmpload torture/flashcheck torture/cacheck; do
	[ -x "$b/$p" ] || { echo "torture: $b/$p is missing (make torture builds it)" >&2
		exit 2; }
done
for p in openssl sqlite3; do
	command -v $p >/dev/null || { echo "torture: $p is missing" >&2; exit 2; }
done
w=${TORTURE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/pkish-torture.XXXXXX")}
mkdir -p "$w"
export losslog=$w/losses
: >"$losslog"
t0=$(date +%s)
load0=$(cut -d ' ' -f 1 /proc/loadavg)

dev_trials=${TORTURE_DEVICE_TRIALS:-$((250 * scale))}	# per workload: 4 x 250
ca_trials=${TORTURE_CA_TRIALS:-$((200 * scale))}
load_clients=50
load_count=${TORTURE_LOAD_COUNT:-$((200 * scale))}

echo "torture: work directory $w (TORTURE_SCALE=$scale)"
echo "torture: 1. device: 4 x $dev_trials kill -9 trials (save, certs, keys, autoupdate)"
jobs_pids=""
for wl in save certs keys autoupdate; do
	results=$w/row.device-$wl bash "$top/test/torture/device.sh" "$wl" "$dev_trials" \
		"$w/device-$wl" >"$w/device-$wl.log" 2>&1 &
	jobs_pids="$jobs_pids $!"
done
for p in $jobs_pids; do wait "$p"; done
t1=$(date +%s)
echo "torture: 2. CA: $ca_trials kill -9 trials under load ($((t1 - t0)) s so far)"
results=$w/row.ca bash "$top/test/torture/ca.sh" "$ca_trials" "$w/ca" >"$w/ca.log" 2>&1
t2=$(date +%s)
echo "torture: 3. load: $load_clients clients x $load_count enrolments ($((t2 - t0)) s so far)"
results=$w/row.load bash "$top/test/torture/load.sh" "$load_clients" "$load_count" \
	"$w/load" >"$w/load.log" 2>&1
t3=$(date +%s)

# ---- the table ----
cat "$w"/row.device-save "$w"/row.device-certs "$w"/row.device-keys \
	"$w"/row.device-autoupdate "$w"/row.ca "$w"/row.load >"$w/rows" 2>/dev/null
total_losses=$(grep -c . "$losslog")
echo
echo "pkish torture, $(date -u '+%Y-%m-%d'), $(nproc) CPUs, TORTURE_SCALE=$scale," \
	"$((t3 - t0)) s (device $((t1 - t0)) s, CA $((t2 - t1)) s, load $((t3 - t2)) s);" \
	"load average $load0 at the start, $(cut -d ' ' -f 1 /proc/loadavg) at the end"
echo
echo "| test | trials | faults | losses | figures |"
echo "|---|---:|---:|---:|---|"
awk -F '\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$w/rows"
awk -F '\t' '{ t += $2; f += $3; l += $4 } END {
	printf "| total | %d | %d | %d | |\n", t, f, l }' "$w/rows"
echo
echo "trials: device kills, CA kills, load transactions; faults: kills that hit a"
echo "running pkish (device), crashes and restarts of cmpca (CA)."
temps=$(cat "$w"/device-*/temps 2>/dev/null | awk '{ t += $2 } END { print t + 0 }')
if [ "$temps" -gt 0 ]; then
	echo "known: $temps temporary file(s) of interrupted atomic writes were left in the"
	echo "flash (storage does not remove them at the next start); not a loss: the"
	echo "file they were replacing is intact."
fi
for r in save certs keys autoupdate; do
	[ -s "$w/row.device-$r" ] || { echo "[device $r] no result: $(tail -n 5 "$w/device-$r.log")" >>"$losslog"; }
done
[ -s "$w/row.ca" ] || echo "[CA] no result: $(tail -n 5 "$w/ca.log")" >>"$losslog"
[ -s "$w/row.load" ] || echo "[load] no result: $(tail -n 5 "$w/load.log")" >>"$losslog"
total_losses=$(grep -c . "$losslog")
if [ "$total_losses" -gt 0 ]; then
	echo
	echo "LOSSES ($total_losses; the work directory $w is kept):"
	head -n 50 "$losslog"
	exit 1
fi
[ -n "${TORTURE_DIR:-}" ] || rm -rf "$w"
echo "torture: no loss"
exit 0
