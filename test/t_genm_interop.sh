#!/usr/bin/env bash
# The device's genm caCerts (`pki cmp ca-certificates session S`, RFC 9483
# 4.3.1) against the real `openssl cmp -port` mock server of OpenSSL 3.0. That
# mock answers a genm with a genp echoing the genm's ITAVs: id-it-caCerts with
# no value, which RFC 9483 4.3.1 reads as "no CA certificates to send". What an
# operator sees: the exchange succeeds, the result says no CA certificate came,
# nothing is saved, `display pki cmp session` says 0 saved. With MAC (the mock's
# -srv_secret) and with signature (a certificate the mock issued in an IR, the
# mock's CA imported, the mock without a secret so it signs). The genp's
# protection is verified: recorded through faultsrv (test/prog/faultsrv.c, a
# proxy in front of the real mock) cmpdump verifies it with the secret / the
# mock's CA certificate, and the same genp with its protection bits flipped by
# faultsrv is refused by the device, nothing written. Prints "ok NAME" /
# "FAIL NAME". KEEP=1 keeps the directory.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-genmi.XXXXXX")
mock=
pids=""
cleanup() {
	[ -n "$mock" ] && kill "$mock" 2>/dev/null && wait "$mock" 2>/dev/null
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
ok() { echo "ok $1"; }
fail() { echo "FAIL $1${2:+: $2}"; }
check() { if eval "$2"; then ok "$1"; else fail "$1" "${3:-}"; fi; }
# a loopback port nobody listens on (bash's /dev/tcp connects to test it)
free_port() {
	while :; do
		p=$((20000 + RANDOM % 40000))
		(echo >/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
	done
}
F="$tmp/flash"
P="$b/pkish --flash $F"
PUB=$F/pki/public
cd "$tmp" || exit 1

# the mock's CA, and the device's key pair exported so that the mock's
# certificate for it can be made
$P --no-startup -c "system-view" -c "pki rsa local-key-pair create dev modulus 2048 exportable" \
	-c "pki export rsa-key-pair dev pem dev.pem password pass1234" >/dev/null 2>&1
openssl pkey -in "$PUB/dev.pem" -passin pass:pass1234 -out dev.key 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
	-out ca.pem -subj "/O=Mock/CN=Mock CA" -days 30 \
	-addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,digitalSignature 2>/dev/null
openssl req -new -key dev.key -subj "/CN=dev.example.com" -out dev.csr 2>/dev/null
printf 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' >ee.ext
openssl x509 -req -in dev.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 10 \
	-extfile ee.ext -out rsp.pem 2>/dev/null

start_mock() {	# mock options
	[ -n "$mock" ] && kill "$mock" 2>/dev/null && wait "$mock" 2>/dev/null
	mock=
	for attempt in 1 2 3; do
		port=$(free_port)
		openssl cmp -port "$port" -srv_cert ca.pem -srv_key ca.key \
			-rsp_cert rsp.pem -rsp_capubs ca.pem -srv_trusted ca.pem \
			"$@" >mock.log 2>&1 &
		mock=$!
		i=0
		while [ $i -lt 200 ]; do
			(echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
			kill -0 "$mock" 2>/dev/null || break
			sleep 0.1
			i=$((i + 1))
		done
		kill "$mock" 2>/dev/null && wait "$mock" 2>/dev/null
		mock=
	done
	fail genmi-mock-start "$(cat mock.log)"
	exit 1
}
# start_fault NAME DIR: faultsrv in front of the mock, recording into DIR;
# sets furl
start_fault() {
	mkdir -p "$2"
	"$b/test/faultsrv" --upstream "http://127.0.0.1:$port/pkix/" --fault "$1" \
		--record "$2" >"fs-$1.log" 2>&1 &
	pids="$pids $!"
	furl=""
	_i=0
	while [ $_i -lt 100 ] && [ -z "$furl" ]; do
		furl=$(sed -n 's/^faultsrv: listening on \(http:[^ ]*\)$/\1/p' "fs-$1.log")
		[ -n "$furl" ] || sleep 0.05
		_i=$((_i + 1))
	done
	[ -n "$furl" ] || fail "genmi-faultsrv-$1" "$(cat "fs-$1.log")"
}
# genm NAME URL AUTH...: session NAME at URL with the AUTH lines, then the
# genm and the display; output in NAME.out, exit status in rc
genm() {
	_n=$1; _u=$2; shift 2
	{
		echo system-view
		echo "pki cmp session $_n"
		echo " cmp-request server url $_u"
		for l in "$@"; do echo " $l"; done
		echo " cmp-request timeout 10"
		echo "quit"
		echo "pki cmp ca-certificates session $_n"
		echo "display pki cmp session $_n"
	} >"$_n.cfg"
	$P -f "$_n.cfg" >"$_n.out" 2>&1
	rc=$?
}
# no_cacert_files NAME: nothing saved for session NAME
no_cacert_files() { ! ls "$PUB" | grep -q "^$1_ca[0-9]*\.cer$"; }
MAC="cmp-request message-authentication-code 1234 mock-secret"

# --- MAC: the mock's genp (its caCerts echoed without a value)
start_mock -srv_ref 1234 -srv_secret pass:mock-secret
start_fault none rec-mac
genm s "$furl" "$MAC"
check genmi-mac-no-cacerts '[ $rc -eq 0 ] &&
    grep -q "^Info: Received genp$" s.out &&
    grep -q "^Info: The CA has no CA certificates to send" s.out &&
    ! grep -q "^Error" s.out' "$(cat s.out mock.log)"
check genmi-mac-nothing-saved 'no_cacert_files s &&
    grep -q "^ Last Result             : caCerts: 0 CA certificates saved$" s.out' "$(ls "$PUB"; cat s.out)"
# what came: a genp, MAC-protected with the mock's secret (cmpdump verifies
# it), carrying the caCerts ITAV without a value
genp=$(ls rec-mac/*-rsp-genp.der 2>/dev/null | head -1)
"$b/cmpdump" --secret mock-secret "$genp" >genp-mac.txt 2>&1; drc=$?
check genmi-mac-genp-verifies '[ -n "$genp" ] && [ $drc -eq 0 ] &&
    grep -q "^protection check: OK (PBM with the given secret)$" genp-mac.txt &&
    grep -q "^  caCerts (1.3.6.1.5.5.7.4.17) (no value)$" genp-mac.txt' "$(cat genp-mac.txt)"
"$b/cmpdump" --secret not-the-secret "$genp" >genp-bad.txt 2>&1; drc=$?
check genmi-mac-genp-wrong-secret-invalid '[ $drc -eq 1 ]' "$(cat genp-bad.txt)"

# the same genp with its MAC broken: the device refuses it, nothing written
start_fault flip-protection rec-flip
genm f "$furl" "$MAC"
check genmi-mac-flipped-refused '[ $rc -ne 0 ] && no_cacert_files f &&
    grep -q "^Error: The CA certificates request of the CMP session f failed: RFC 4210 5.1.3: the genp answering our genm is not authenticated: .*MAC" f.out' "$(cat f.out)"
# a session whose secret is not the mock's: the mock refuses the genm; the
# device reports it (its error cannot be authenticated either), nothing written
genm w "http://127.0.0.1:$port/pkix/" "cmp-request message-authentication-code 1234 wrong-secret"
check genmi-mac-wrong-secret-refused '[ $rc -ne 0 ] && no_cacert_files w &&
    grep -q "^Error: The CA certificates request of the CMP session w failed: the CA answered with an error message: rejection, failInfo: badRequest, text: \"wrong pbm value\".*\[unauthenticated: wrong MAC" w.out' "$(cat w.out)"

# --- signature: an IR with MAC gives the device the mock's certificate and
# the mock's CA (caPubs), imported; then the mock without a secret signs
{
	echo system-view
	echo "pki entity dev"
	echo " common-name dev.example.com"
	echo "quit"
	echo "pki cmp session m"
	echo " cmp-request entity dev"
	echo " cmp-request rsa local-key-pair dev"
	echo " cmp-request server url http://127.0.0.1:$port/pkix/"
	echo " $MAC"
	echo "quit"
	echo "pki cmp initial-request session m"
	echo "pki import-certificate ca filename m_ca0.cer"
	echo "return"
	echo "save"
} >ir.cfg
$P -f ir.cfg >ir.out 2>&1
check genmi-sig-setup '[ -s "$PUB/m_ir.cer" ] && cmp -s "$PUB/m_ca0.cer" ca.pem' "$(cat ir.out)"
start_mock
start_fault none rec-sig
genm g "$furl" "cmp-request origin-authentication-method signature" \
	"cmp-request authentication-cert m_ir.cer"
check genmi-sig-no-cacerts '[ $rc -eq 0 ] &&
    grep -q "^Info: The CA has no CA certificates to send" g.out && no_cacert_files g &&
    grep -q "^ Last Result             : caCerts: 0 CA certificates saved$" g.out' "$(cat g.out mock.log)"
genp=$(ls rec-sig/*-rsp-genp.der 2>/dev/null | head -1)
"$b/cmpdump" --cert ca.pem "$genp" >genp-sig.txt 2>&1; drc=$?
check genmi-sig-genp-verifies '[ -n "$genp" ] && [ $drc -eq 0 ] &&
    grep -q "^protection: signature " genp-sig.txt &&
    grep -q "^protection check: OK (signature by the given certificate)$" genp-sig.txt &&
    grep -q "^  caCerts (1.3.6.1.5.5.7.4.17) (no value)$" genp-sig.txt' "$(cat genp-sig.txt)"
start_fault flip-protection rec-sflip
genm h "$furl" "cmp-request origin-authentication-method signature" \
	"cmp-request authentication-cert m_ir.cer"
check genmi-sig-flipped-refused '[ $rc -ne 0 ] && no_cacert_files h &&
    grep -q "^Error: The CA certificates request of the CMP session h failed: RFC 4210 5.1.3: the genp answering our genm is not authenticated" h.out' "$(cat h.out)"
exit 0
