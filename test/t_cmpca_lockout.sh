#!/bin/sh
# Failed authentications limited per client address (issue 11), played by the
# real `openssl cmp` client against cmpca: an attacker guessing the MAC secret
# gets --auth-fail-limit tries within --auth-fail-window; then its address is
# refused (systemUnavail, "try again later" with the time), even with the right
# secret, and no PBM is computed for it (cmpca's statistics, SIGUSR1); another
# address is served meanwhile; after the window the right secret is accepted.
# One log line per lockout, never a secret. Prints "ok NAME" / "FAIL NAME".
# Environment: BUILD, PKISH_TOP.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
CMPCA=$BUILD/cmpca
. "$top/test/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-test.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok $1"; }
fail() { echo "FAIL $1${2:+: $2}"; }
check() { name=$1; shift; if eval "$1"; then ok "$name"; else fail "$name" "${2:-}"; fi; }

if [ ! -x "$CMPCA" ]; then
	fail cmpca_built "$CMPCA missing"
	exit 1
fi
cd "$tmp" || exit 1

secret=Gu3ss-m3-1f-y0u-can
ref=lab
limit=3
window=10	# long enough for the steps inside it on a loaded machine
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out k.pem 2>/dev/null

# dual stack: 127.0.0.1 reaches it as an IPv4 client, ::1 as another address
if cmpca_start ca log "[::]:0" --ref $ref --secret $secret \
    --auth-fail-limit $limit --auth-fail-window $window; then
	ok cmpca_started
else
	fail cmpca_started "$(cat log)"
	exit 1
fi

# ir FROM OUT SECRET: an ir with MAC from address FROM (127.0.0.1 or [::1])
ir() {
	rm -f "$2.pem"
	openssl cmp -cmd ir -server "$1:$port" -path / -ref $ref -secret "pass:$3" \
	    -newkey k.pem -subject "/CN=lockout-test" -certout "$2.pem" \
	    -srvcert ca/ca.crt >"$2.log" 2>&1
}
# stats: cmpca's statistics line, after SIGUSR1
stats() {
	n=$(grep -c "statistics:" log)
	kill -USR1 "$cmpca_pid"
	i=0
	while [ "$(grep -c "statistics:" log)" -le "$n" ] && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	grep "statistics:" log | tail -1
}

# --- the guesses: each refused for its MAC, each one PBM computed
i=1
while [ $i -le $limit ]; do
	ir 127.0.0.1 guess$i "wrong-guess-$i"
	i=$((i + 1))
done
check guesses_badMessageCheck 'for i in 1 2 3; do grep -q "PKIFailureInfo: badMessageCheck" guess$i.log || exit 1; done'
check guesses_counted 'stats | grep -q " 3 MAC checks, .* 3 failed authentications, 1 lockouts, 0 requests refused"' "$(stats)"

# --- one more guess: refused before its MAC is checked
ir 127.0.0.1 guess4 wrong-guess-4
check locked_guess_systemUnavail 'grep -q "PKIFailureInfo: systemUnavail" guess4.log &&
    grep -q "too many failed authentications from 127.0.0.1" guess4.log &&
    grep -q "try again later" guess4.log' "$(grep -v 'CMP info' guess4.log | tail -3)"
check locked_says_until 'grep -Eq "refused until [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC \([0-9]+ s from now\)" guess4.log'

# --- the right secret from the locked address: refused too, no PBM computed
ir 127.0.0.1 right1 "$secret"
check locked_right_secret_refused '[ ! -s right1.pem ] && grep -q "PKIFailureInfo: systemUnavail" right1.log'
check locked_no_mac_work 'stats | grep -q " 3 MAC checks, .* 3 failed authentications, 1 lockouts, 2 requests refused while locked out"' "$(stats)"

# --- another address is served meanwhile
ir "[::1]" other "$secret"
check other_address_served '[ -s other.pem ] && openssl verify -CAfile ca/ca.crt other.pem >/dev/null 2>&1' "$(grep -v 'CMP info' other.log | tail -3)"

# --- the log: one line for the lockout, no secret, no guess
check one_log_line '[ "$(grep -c " locked out until" log)" = 1 ] &&
    grep -q "^cmpca: 127.0.0.1 locked out until .* UTC: $limit failed authentications within $window s$" log' "$(grep 'locked' log)"
check log_no_secret '! grep -q -e "$secret" -e wrong-guess log'

# --- after the window, the right secret is accepted
sleep $((window + 1))
ir 127.0.0.1 right2 "$secret"
check after_window_accepted '[ -s right2.pem ] && openssl verify -CAfile ca/ca.crt right2.pem >/dev/null 2>&1' "$(grep -v 'CMP info' right2.log | tail -3)"
check after_window_one_lockout '[ "$(grep -c " locked out until" log)" = 1 ]'

kill -TERM "$cmpca_pid"
wait "$cmpca_pid" 2>/dev/null
check stop_prints_stats 'tail -2 log | grep -q "statistics: .* 1 lockouts, 2 requests refused while locked out"' "$(tail -3 log)"
exit 0
