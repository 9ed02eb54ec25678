#!/usr/bin/env bash
# Torture, load: CLIENTS concurrent clients x COUNT enrolments each (a MAC ir,
# then a kur signed with the certificate it returned) against cmpca with 4
# worker threads. Usage: load.sh CLIENTS COUNT DIR
#
# The run is made of a warm-up (every client twice) and two halves of COUNT/2.
# Checked:
#   - no transaction fails;
#   - every serial is unique, every certificate is in the CA's database with
#     the same bytes (cacheck) and verifies against the CA certificate
#     (`openssl verify`);
#   - memory bounded: cmpca's resident memory grows by at most 4 MiB over the
#     second half (a steady state: a leak of 400 bytes per transaction would
#     show);
#   - no file descriptor growth: once the clients are gone, cmpca has as many
#     open descriptors as after the warm-up.
# Prints one table row (lib.sh row) and loss details into $losslog, and the
# cmpload report of each half into DIR.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
clients=$1
count=$2
d=$3
name="load: $clients clients x $count enrolments (ir+kur)"
. "$top/test/torture/lib.sh"
mkdir -p "$d"
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done' EXIT
C=$d/ca
MAX_RSS_GROWTH_KB=4096

ca_up "$C" "$d/ca.log" 127.0.0.1:0 --threads 4 || { loss "cmpca does not start";
	row "$name" 0 0 "$losses" "set-up failed"; exit 1; }
pids="$pids $ca_pid"
load() {	# extra cmpload options
	"$b/cmpload" --url "$url" --ref cmpca --secret-file "$C/secret" \
		--trusted "$C/ca.crt" --flow ir+kur --clients "$clients" --json "$@"
}
# the descriptors once the clients' connections are closed (a few seconds at
# most: the server sees each close at its next read)
settled_fds() {
	_f=$(fds "$ca_pid")
	for _i in $(seq 1 50); do
		sleep 0.1
		_g=$(fds "$ca_pid")
		[ "$_g" -ge "$_f" ] && [ "$_g" -le "${1:-0}" ] && break
		_f=$_g
	done
	fds "$ca_pid"
}

load --count 2 --cert-log "$d/certs.pem" >"$d/warmup.json" 2>&1
fd0=$(settled_fds 0)
rss0=$(rss_kb "$ca_pid")
half=$((count / 2))
load --count "$half" --server-pid "$ca_pid" --cert-log "$d/certs.pem" >"$d/half1.json" 2>&1
rss1=$(rss_kb "$ca_pid")
load --count $((count - half)) --server-pid "$ca_pid" --cert-log "$d/certs.pem" \
	>"$d/half2.json" 2>&1
rss2=$(rss_kb "$ca_pid")
fd2=$(settled_fds "$fd0")

ok=0; failed=0; secs=0; cpu=0
for h in warmup half1 half2; do
	o=$(jnum ok "$d/$h.json"); f=$(jnum failed "$d/$h.json")
	[ -n "$o" ] || loss "cmpload ($h) gave no report: $(head -c 300 "$d/$h.json")"
	ok=$((ok + ${o:-0})); failed=$((failed + ${f:-0}))
	[ "${f:-1}" = 0 ] || loss "$h: $f transactions failed:" \
		"$(sed -n 's/.*"errors": \(.*\)}$/\1/p' "$d/$h.json")"
done
want=$((clients * (2 + count) * 2))
[ "$ok" -eq "$want" ] || loss "$ok transactions succeeded, $want expected"

# serials unique, every certificate in the database (cacheck), and verified
"$b/torture/cacheck" --rows "$C/ca.db" "$d/certs.pem" >"$d/cacheck.out"
sed -n 's/^cacheck: PROBLEM: //p' "$d/cacheck.out" | while read -r l; do
	echo "[$name] $l"; done >>"$losslog"
received=$(sed -n 's/.* received=\([0-9]*\) .*/\1/p' "$d/cacheck.out")
[ "${received:-0}" -eq "$want" ] || loss "the clients logged ${received:-0} certificates, $want expected"
mkdir -p "$d/split"
awk -v dir="$d/split" '/^-----BEGIN/ { n++; f = sprintf("%s/%06d.pem", dir, n) }
	f { print > f } /^-----END/ { close(f); f = "" }' "$d/certs.pem"
verified=$(cd "$d/split" && ls | xargs -n 1000 openssl verify -CAfile "$C/ca.crt" 2>&1 |
	grep -c ': OK$')
[ "$verified" -eq "$want" ] || loss "$verified of $want certificates verify against the CA" \
	"($(cd "$d/split" && ls | xargs -n 1000 openssl verify -CAfile "$C/ca.crt" 2>&1 |
	grep -v ': OK$' | head -n 3 | tr '\n' ' '))"
rm -rf "$d/split"

growth=$((rss2 - rss1))
[ "$growth" -le $MAX_RSS_GROWTH_KB ] ||
	loss "cmpca's memory grew by $growth KiB over the second half (RSS $rss0 -> $rss1 -> $rss2 KiB)"
[ "$fd2" -le "$fd0" ] || loss "cmpca holds $fd2 descriptors after the run, $fd0 after the warm-up"

for h in half1 half2; do
	secs=$(awk -v a="$secs" -v b="$(jnum seconds "$d/$h.json")" 'BEGIN { print a + b }')
	cpu=$(awk -v a="$cpu" -v b="$(jnum server_cpu_ms "$d/$h.json")" 'BEGIN { print a + b }')
done
main=$((clients * count * 2))
tps=$(awk -v n="$main" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
cpt=$(awk -v c="$cpu" -v n="$main" 'BEGIN { printf "%.2f", (n > 0 ? c / n : 0) }')
row "$name" "$want" 0 "$losses" \
	"$failed errors; $want certificates, serials unique, $verified verify; $tps transactions/s, p50 $(jnum p50_ms "$d/half2.json") ms, p99 $(jnum p99_ms "$d/half2.json") ms, cmpca CPU $cpt ms per transaction; RSS $rss0 -> $rss1 -> $rss2 KiB; fds $fd0 -> $fd2"
exit 0
