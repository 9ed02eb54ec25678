#!/bin/sh
# Broken servers (issue 15 point 4): pkish, the real program in batch mode, runs
# `pki cmp initial-request session s` through faultsrv (test/prog/faultsrv.c),
# which proxies the exchange to a real cmpca and breaks the answer: at the
# connection (refused, no answer, one byte a second), in the HTTP framing
# (header then close, half a body, Content-Length longer or shorter than the
# body, trailing bytes, empty body, 500/404/302, wrong content type, 100 MiB,
# chunked garbage, no status line, random bytes) and in the CMP message
# (flipped protection or body byte, wrong transactionID / recipNonce / body type
# re-protected with the PBM secret, stripped protection, an unprotected error,
# a huge PBM iteration count, the replayed answer of an earlier transaction,
# 10,000 nested SEQUENCEs). Each case: exit 1 within the session's timeout, no
# certificate written, and the fault named with its figures.
# KEEP=1 keeps the temporary directory for a look afterwards.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-faults.XXXXXX")
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
TIMEOUT=5	# the session's timeout (the grammar's minimum)

cmpca_start "$tmp/ca" "$tmp/ca.log" 127.0.0.1:0 --ref fref --secret fsecret ||
	{ fail faults-cmpca-start "$(cat "$tmp/ca.log")"; exit 1; }
ca_url=$url

# the device: an ECC key pair, an entity, sessions s and r with MAC (the IR's
# caPubs, MAC-protected, are the trust anchor: nothing is imported)
F="$tmp/flash"
{
	echo "system-view"
	echo "pki ecc curve-name prime256v1 local-key-pair create k"
	echo "pki entity dev"
	echo " common-name dev.example.com"
	echo "quit"
	for s in s r; do
		echo "pki cmp session $s"
		echo " cmp-request entity dev"
		echo " cmp-request server url $ca_url"
		echo " cmp-request ecc local-key-pair k"
		echo " cmp-request message-authentication-code fref fsecret"
		echo " cmp-request timeout $TIMEOUT"
		echo "quit"
	done
	echo "return"
	echo "save"
} >"$tmp/setup.cfg"
"$b/pkish" --no-startup --flash "$F" -f "$tmp/setup.cfg" >"$tmp/setup.out" 2>&1 ||
	{ fail faults-setup "$(cat "$tmp/setup.out")"; exit 1; }

# start_fault NAME DIR: faultsrv in the background, log DIR/fs.log; sets fpid,
# furl, fport (empty when it did not start)
start_fault() {
	"$b/test/faultsrv" --upstream "$ca_url" --fault "$1" --secret fsecret \
		>"$2/fs.log" 2>&1 &
	fpid=$!
	pids="$pids $fpid"
	furl=""
	_i=0
	while [ $_i -lt 100 ] && [ -z "$furl" ]; do
		furl=$(sed -n 's/^faultsrv: listening on \(http:[^ ]*\)$/\1/p' "$2/fs.log")
		[ -n "$furl" ] || sleep 0.05
		_i=$((_i + 1))
	done
	fport=$(echo "$furl" | sed -n 's|^http://[^/]*:\([0-9]*\)/.*|\1|p')
}

# run_ir SESSION FLASH URL OUT: the IR through URL; sets rc and secs
run_ir() {
	_t0=$(date +%s%N)
	"$b/pkish" --flash "$2" -c "system-view" -c "pki cmp session $1" \
		-c "cmp-request server url $3" -c "quit" \
		-c "pki cmp initial-request session $1" >"$4" 2>&1
	rc=$?
	secs=$((($(date +%s%N) - _t0) / 1000000000))
}

# case NAME EXPECTED...: one fault, in its own directory and flash copy. The
# expected texts may use $N (the length of the answer faultsrv broke) and
# $fport; they are evaluated after the run.
fault_case() {
	name=$1
	shift
	d="$tmp/$name"
	mkdir -p "$d"
	cp -a "$F" "$d/flash"
	start_fault "$name" "$d"
	if [ -z "$furl" ]; then
		fail "fault-$name" "faultsrv did not start: $(cat "$d/fs.log")"
		kill "$fpid" 2>/dev/null
		return
	fi
	if [ "$name" = replay ]; then
		# an earlier transaction (session r) passes and is recorded
		run_ir r "$d/flash" "$furl" "$d/first.out"
		if [ $rc -ne 0 ] || [ ! -f "$d/flash/pki/public/r_ir.cer" ]; then
			fail "fault-$name" "the first transaction failed: $(cat "$d/first.out")"
			kill "$fpid" 2>/dev/null
			return
		fi
	fi
	run_ir s "$d/flash" "$furl" "$d/out"
	N=$(sed -n 's/^faultsrv: .*: [a-zA-Z]* of \([0-9]*\) bytes$/\1/p' "$d/fs.log" |
		tail -n 1)
	why=""
	[ $rc -eq 1 ] || why="exit $rc (expected 1)"
	[ -z "$why" ] && [ $secs -le $((TIMEOUT + 1)) ] || why="${why:-took $secs s}"
	[ -z "$why" ] && [ -e "$d/flash/pki/public/s_ir.cer" ] && why="a certificate was written"
	for want in "$@"; do
		w=$(eval "printf '%s' \"$want\"")
		[ -z "$why" ] && ! grep -qF -- "$w" "$d/out" && why="expected \"$w\""
	done
	if [ -z "$why" ]; then ok "fault-$name"; else
		fail "fault-$name" "$why"
		sed 's/^/    /' "$d/out" "$d/fs.log"
	fi
	# (also from the background subshells, whose $pids the trap never sees)
	kill "$fpid" 2>/dev/null
	wait "$fpid" 2>/dev/null
}

E='Error: The initial-request of the CMP session s failed: '

# the two that wait for the timeout run meanwhile, in the background
(fault_case silent "${E}no response within $TIMEOUT seconds from 127.0.0.1:\$fport") \
	>"$tmp/bg1.out" 2>&1 &
bg1=$!
(fault_case slow "${E}the HTTP header from 127.0.0.1:\$fport did not complete within $TIMEOUT seconds (") \
	>"$tmp/bg2.out" 2>&1 &
bg2=$!

fault_case refused "${E}cannot connect to 127.0.0.1:\$fport: Connection refused"
fault_case headers-close "${E}Content-Length \$N but the connection closed after 0 bytes"
fault_case half-body "${E}Content-Length \$N but the connection closed after \$((N / 2)) bytes"
fault_case cl-long "${E}Content-Length \$((N + 64)) but the connection closed after \$N bytes"
fault_case cl-short "${E}the answer ends inside the CMP message: Content-Length \$((N - 64)), the message is \$N bytes by its DER header"
fault_case trailing "${E}the answer has 26 bytes after the CMP message (\$N bytes)"
fault_case empty "${E}the answer has an empty body (Content-Length 0)"
fault_case http500 "${E}HTTP status 500 (Internal Server Error) from the server 127.0.0.1:\$fport"
fault_case http404 "${E}HTTP status 404 (Not Found) from the server 127.0.0.1:\$fport"
fault_case http302 "${E}HTTP status 302 (Found) from the server 127.0.0.1:\$fport: a redirection to http://127.0.0.1:1/elsewhere, which a CMP client does not follow"
fault_case wrong-ct "${E}RFC 6712 3.4: the answer's Content-Type is \\\"text/html\\\", not application/pkixcmp"
fault_case huge "${E}the answer announces 104857600 bytes (Content-Length), more than the limit of 1048576 (refused)"
fault_case chunked "${E}RFC 7230 3.3.1: the answer uses Transfer-Encoding \\\"chunked\\\""
fault_case no-status "${E}the answer from 127.0.0.1:\$fport is not HTTP: it starts with \\\"Content-Type: applicati"
fault_case random "${E}the answer from 127.0.0.1:\$fport is not HTTP: it starts with \\\"\\\\x8f"
fault_case flip-protection "${E}RFC 4210 5.1.3: the ip answering our ir is not authenticated: wrong MAC"
fault_case flip-body "${E}RFC 4210 5.1.3: the ip answering our ir is not authenticated: wrong MAC"
fault_case wrong-tid "${E}RFC 4210 5.1.1: the transactionID of the ip is not the request's: expected " "came 6661756c74737276..."
fault_case wrong-nonce "${E}RFC 4210 5.1.1: the recipNonce of the ip does not answer the request's senderNonce: expected " "came 6661756c74737276..."
fault_case wrong-body "${E}RFC 4210 5.1.2: unexpected cp in answer to ir (expected ip)"
fault_case strip-protection "${E}RFC 4210 5.1.3: the ip answering our ir is not protected; an unprotected positive response is refused"
fault_case unprotected-error "${E}the CA answered with an error message: rejection, failInfo: systemUnavail, text: \\\"faultsrv: unprotected error\\\"" "[unauthenticated: the message is not protected; reported, not trusted]"
fault_case huge-iter "${E}RFC 4210 5.1.3: the ip answering our ir is not authenticated: PBM iteration count refused: 200000 is above the limit of 100000"
fault_case replay "${E}RFC 4210 5.1.1: the transactionID of the ip is not the request's: expected "
fault_case nested "${E}the response is not a CMP message: the message nests deeper than 64 levels"

wait $bg1 $bg2
cat "$tmp/bg1.out" "$tmp/bg2.out"

# the statistics count every one of these as a failed IR
"$b/pkish" --flash "$tmp/huge/flash" -c "display pki cmp statistics session s" \
	>"$tmp/stats.out" 2>&1
if grep -Eq "Ir Send Counts *: 1$" "$tmp/stats.out" &&
	grep -Eq "Ir Fail[a-z]* Counts *: 1$" "$tmp/stats.out"; then
	ok fault-counted-as-failure
else
	fail fault-counted-as-failure "$(cat "$tmp/stats.out")"
fi
