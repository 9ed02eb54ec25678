#!/bin/sh
# PBMAC1 (RFC 9481 6.1.2) end to end: pkish, the real program in batch mode,
# with `cmp-request integrity-algorithm pbmac1-sha256` runs an IR against a real
# cmpca through faultsrv, which records every message as it passed (fault
# none) or breaks the answer (flip-protection). cmpdump then shows what both
# peers sent: the ir, certConf, ip and pkiConf all PBMAC1 (PBKDF2 with
# hmacWithSHA256, 10000 iterations, HMAC-SHA256) and verifying with the shared
# secret. A wrong secret is refused by cmpca with the reason; an answer whose
# PBMAC1 value was altered is refused by pkish and no certificate is written.
# The setting shows in `display pki cmp session` and survives `save`.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-pbmac1.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
. "$top/test/lib.sh"
ok() { echo "ok $1"; }
fail() { echo "FAIL $1${2:+: $2}"; }
check() { if eval "$2"; then ok "$1"; else fail "$1" "${3:-}"; fi; }

cmpca_start "$tmp/ca" "$tmp/ca.log" 127.0.0.1:0 --ref pref --secret psecret ||
	{ fail pbmac1-cmpca-start "$(cat "$tmp/ca.log")"; exit 1; }
ca_url=$url

# start_proxy NAME: faultsrv with fault NAME recording into $tmp/NAME; sets
# furl (empty when it did not start)
start_proxy() {
	mkdir -p "$tmp/$1"
	"$b/test/faultsrv" --upstream "$ca_url" --fault "$1" --secret psecret \
		--record "$tmp/$1" >"$tmp/$1.log" 2>&1 &
	pids="$pids $!"
	furl=""
	_i=0
	while [ $_i -lt 100 ] && [ -z "$furl" ]; do
		furl=$(sed -n 's/^faultsrv: listening on \(http:[^ ]*\)$/\1/p' "$tmp/$1.log")
		[ -n "$furl" ] || sleep 0.05
		_i=$((_i + 1))
	done
}

F="$tmp/flash"
pub="$F/pki/public"
# session NAME SECRET URL: the lines of a MAC session using PBMAC1
session() {
	echo "pki cmp session $1"
	echo " cmp-request entity dev"
	echo " cmp-request server url $3"
	echo " cmp-request ecc local-key-pair k"
	echo " cmp-request message-authentication-code pref $2"
	echo " cmp-request integrity-algorithm pbmac1-sha256"
	echo " cmp-request timeout 10"
	echo "quit"
}

start_proxy none
[ -n "$furl" ] || { fail pbmac1-proxy-start "$(cat "$tmp/none.log")"; exit 1; }
{
	echo "system-view"
	echo "pki ecc curve-name prime256v1 local-key-pair create k"
	echo "pki entity dev"
	echo " common-name dev.example.com"
	echo "quit"
	session s psecret "$furl"
	session w wrong-secret "$ca_url"
	echo "return"
	echo "save"
	echo "display pki cmp session s"
	echo "pki cmp initial-request session s"
} >"$tmp/setup.cfg"
"$b/pkish" --no-startup --flash "$F" -f "$tmp/setup.cfg" >"$tmp/setup.out" 2>&1
rc=$?
check pbmac1-ir-passes '[ $rc -eq 0 ] && [ -s "$pub/s_ir.cer" ]' "exit $rc: $(cat "$tmp/setup.out")"
check pbmac1-display 'grep -q "^ Integrity Algorithm     : pbmac1-sha256$" "$tmp/setup.out"'
check pbmac1-saved 'grep -rq "^ cmp-request integrity-algorithm pbmac1-sha256$" "$F"'
check pbmac1-cert-from-ca 'openssl verify -CAfile "$tmp/ca/ca.crt" "$pub/s_ir.cer" 2>&1 |
	grep -q ": OK$"'

# what went over the wire, as cmpdump reads it with the shared secret
P1="PBMAC1 PBKDF2 prf=hmacWithSHA256 iterations=10000 salt=16 bytes keyLength=32 mac=hmacWithSHA256"
for body in ir ip certConf pkiconf; do
	f=$(ls "$tmp/none/"*-"$body".der 2>/dev/null | head -n 1)
	if [ -z "$f" ]; then
		fail "pbmac1-wire-$body" "no $body recorded: $(ls "$tmp/none")"
		continue
	fi
	"$b/cmpdump" --secret psecret "$f" >"$tmp/dump" 2>&1
	rc=$?
	check "pbmac1-wire-$body" '[ $rc -eq 0 ] && grep -qx "protection: $P1" "$tmp/dump" &&
		grep -qx "protection check: OK (PBMAC1 with the given secret)" "$tmp/dump"' \
		"$(cat "$tmp/dump")"
	"$b/cmpdump" --secret psecreT "$f" >"$tmp/dump" 2>&1
	rc=$?
	check "pbmac1-wire-$body-other-secret" '[ $rc -eq 1 ] &&
		grep -q "wrong MAC: the PBMAC1 protection does not verify" "$tmp/dump"'
done

# a wrong secret: cmpca says why, signed; nothing is written
"$b/pkish" --flash "$F" -c "pki cmp initial-request session w" >"$tmp/w.out" 2>&1
rc=$?
check pbmac1-wrong-secret-refused '[ $rc -eq 1 ] && [ ! -e "$pub/w_ir.cer" ] &&
	grep -q "badMessageCheck" "$tmp/w.out" &&
	grep -q "wrong MAC: the PBMAC1 protection does not verify" "$tmp/w.out"' \
	"$(cat "$tmp/w.out")"

# the attacker: the ip's PBMAC1 value altered on the way
start_proxy flip-protection
"$b/pkish" --flash "$F" -c "system-view" -c "pki cmp session w" \
	-c "cmp-request message-authentication-code pref psecret" \
	-c "cmp-request server url $furl" -c "quit" \
	-c "pki cmp initial-request session w" >"$tmp/f.out" 2>&1
rc=$?
check pbmac1-altered-answer-refused '[ $rc -eq 1 ] && [ ! -e "$pub/w_ir.cer" ] &&
	grep -q "wrong MAC: the PBMAC1 protection does not verify" "$tmp/f.out"' \
	"$(cat "$tmp/f.out" "$tmp/flip-protection.log")"
