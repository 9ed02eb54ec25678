#!/usr/bin/env bash
# Torture, CA side: kill -9 cmpca at random instants under concurrent load and
# start it again at once on the same port, while the clients go on.
# Usage: ca.sh TRIALS DIR
#
# Each trial: cmpload (8 clients, ir+kur, for 0.5 s, logging every certificate
# it receives) against cmpca; SIGKILL to cmpca at an instant drawn uniformly in
# [50, 350] ms; cmpca started again on the same port; cmpload ends. Checked:
#   - cmpca starts again after every crash;
#   - cacheck: PRAGMA integrity_check is ok, every certificate a client received
#     (confirmed, or received by a transaction the crash then cut) is in the
#     database with the same bytes, no serial received twice (over the whole
#     run), and at the end every row's certificate parses and carries its
#     row's serial;
#   - every transaction in flight ended cleanly: it completed, or failed with a
#     refusal (connection refused, reset or closed while the CA was down, or a
#     CMP error message from the restarted CA); a hang (no response within the
#     timeout), an undecodable or unverifiable answer, or a certificate the
#     engine refuses is a loss;
# then a last run of 4 clients x 10 (ir+kur) against the CA that crashed TRIALS
# times: no error at all.
# Prints one table row (lib.sh row) and loss details into $losslog.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
n=$1
d=$2
name="CA kill -9 under load"
. "$top/test/torture/lib.sh"
mkdir -p "$d"
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done' EXIT
L=$b/cmpload
C=$d/ca

ca_up "$C" "$d/ca-0.log" 127.0.0.1:0 || { loss "cmpca does not start";
	row "$name" 0 0 "$losses" "set-up failed"; exit 1; }
listen=127.0.0.1:$port
pids="$pids $ca_pid"
load() {	# extra cmpload options
	"$L" --url "$url" --ref cmpca --secret-file "$C/secret" --trusted "$C/ca.crt" \
		--flow ir+kur --timeout 10 --json "$@"
}

# A transaction cut by the crash may fail only as a refusal.
clean_refusal() {
	case $1 in
	"cannot connect to $listen: Connection refused") return 0 ;;
	# a connection in the backlog of the killed listener
	"cannot connect to $listen: Connection reset by peer") return 0 ;;
	"the server $listen closed the connection without an answer") return 0 ;;
	# an accepted connection the kill reset before any answer byte
	"the connection to $listen failed before an answer: Connection reset by peer")
		return 0 ;;
	"HTTP exchange with $listen failed: "*) return 0 ;;
	"the CA answered with an error message: rejection"*unauthenticated*) return 1 ;;
	"the CA answered with an error message: rejection"*) return 0 ;;
	*) return 1 ;;
	esac
}

: >"$d/certs.pem"
tx=0; restarts=0
: >"$d/causes"
: >"$d/bad"
for i in $(seq 1 "$n"); do
	load --clients 8 --duration 0.5 --cert-log "$d/trial.pem" >"$d/load.json" 2>&1 &
	lp=$!
	msleep "$(rand_ms 50 350)"
	kill -9 "$ca_pid"
	wait "$ca_pid" 2>/dev/null
	if ! ca_up "$C" "$d/ca-$i.log" "$listen"; then
		loss "trial $i: cmpca does not start again after the crash: $(tail -n 2 "$d/ca-$i.log")"
		wait "$lp"
		break
	fi
	restarts=$((restarts + 1))
	pids="$pids $ca_pid"
	wait "$lp"
	ok=$(jnum ok "$d/load.json")
	failed=$(jnum failed "$d/load.json")
	tx=$((tx + ${ok:-0} + ${failed:-0}))
	# the causes: "TEXT": COUNT pairs of the errors object
	sed -n 's/.*"errors": {\(.*\)}}$/\1/p' "$d/load.json" |
		grep -o '"[^"]*": [0-9]*' | tee -a "$d/causes" | while read -r l; do
		cause=$(echo "$l" | sed 's/^"\(.*\)": [0-9]*$/\1/')
		clean_refusal "$cause" || { echo "[$name] trial $i: a transaction in" \
			"flight ended badly: $l" >>"$losslog"; echo "$l" >>"$d/bad"; }
	done
	if [ -z "$ok" ]; then
		loss "trial $i: cmpload gave no report: $(head -c 300 "$d/load.json")"
	fi
	"$b/torture/cacheck" "$C/ca.db" "$d/trial.pem" >"$d/cacheck.out"
	sed -n 's/^cacheck: PROBLEM: /trial '"$i"': /p' "$d/cacheck.out" |
		while read -r l; do echo "[$name] $l"; done >>"$losslog"
	cat "$d/trial.pem" >>"$d/certs.pem"
	rm -f "$d/trial.pem"
done
losses=$(grep -c "^\[$name\]" "$losslog")

# the whole run: no serial twice across trials, every certificate still there
"$b/torture/cacheck" --rows "$C/ca.db" "$d/certs.pem" >"$d/cacheck.out"
sed -n 's/^cacheck: PROBLEM: /after the run: /p' "$d/cacheck.out" |
	while read -r l; do echo "[$name] $l"; done >>"$losslog"
received=$(sed -n 's/.* received=\([0-9]*\) .*/\1/p' "$d/cacheck.out")
unconf=$(sed -n 's/.* unconfirmed=\([0-9]*\) .*/\1/p' "$d/cacheck.out")
rows=$(sed -n 's/.* certs=\([0-9]*\) .*/\1/p' "$d/cacheck.out")
integ=$(sed -n 's/.*integrity=\([^ ]*\) .*/\1/p' "$d/cacheck.out")
# the CA that crashed N times serves without an error
load --clients 4 --count 10 >"$d/after.json" 2>&1
[ "$(jnum failed "$d/after.json")" = 0 ] && [ "$(jnum ok "$d/after.json")" = 80 ] ||
	echo "[$name] after the run: the CA fails clients: $(head -c 400 "$d/after.json")" \
		>>"$losslog"
# the failures by kind, over the run
kind() {	# a pattern of the causes: the sum of their counts
	grep -- "$1" "$d/causes" | sed 's/.*: //' | awk '{ t += $1 } END { print t + 0 }'
}
failed=$(kind '')
bad=$(sed 's/.*: //' "$d/bad" | awk '{ t += $1 } END { print t + 0 }')
if [ "$bad" -eq 0 ]; then clean="all as clean refusals"; else
	clean="$bad of them not as a clean refusal"; fi
kinds="$(kind 'Connection refused"') connection refused, $(kind 'Connection reset by peer"') reset, $(kind 'closed the connection without an answer"') closed without an answer, $(kind '"HTTP exchange with') other transport, $(kind 'the CA answered with an error message') CMP error messages"
losses=$(grep -c "^\[$name\]" "$losslog")
row "$name" "$n" "$restarts" "$losses" \
	"$tx transactions, $failed failed around the crashes, $clean ($kinds); ${received:-?} certificates received ($unconf before a crash cut the confirmation), all in the database of ${rows:-?}; integrity_check ${integ:-?}"
exit 0
