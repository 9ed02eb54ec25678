#!/usr/bin/env bash
# The console's CMP actions against the real `openssl cmp -port` mock CA: IR with
# MAC (files written, caPubs saved, statistics), CR and KUR signed with the issued
# certificate (mock given -srv_trusted), error answers shown with PKIStatus and
# failInfo, a wrong secret, and display pki cmp session after it all.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-cmpc.XXXXXX")
mock=
cleanup() {
	[ -n "$mock" ] && kill "$mock" 2>/dev/null && wait "$mock" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
check() { if eval "$2"; then echo "ok $1"; else echo "FAIL $1"; cat "$tmp/out"; fi; }
# a loopback port nobody listens on (bash's /dev/tcp connects to test it)
free_port() {
	while :; do
		p=$((20000 + RANDOM % 40000))
		(echo >/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
	done
}
F="$tmp/flash"
P="$b/pkish --flash $F"
cd "$tmp" || exit 1

# the device's key pair, exported once so the test can make the mock's certificate
$P --no-startup -c "system-view" -c "pki rsa local-key-pair create dev modulus 2048 exportable" \
	-c "pki export rsa-key-pair dev pem dev.pem password pass1234" >/dev/null 2>&1
openssl pkey -in "$F/pki/public/dev.pem" -passin pass:pass1234 -out dev.key 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
	-out ca.pem -subj "/O=Mock/CN=Mock CA" -days 30 \
	-addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,digitalSignature 2>/dev/null
openssl req -new -key dev.key -subj "/CN=dev.example.com" -out dev.csr 2>/dev/null
# a v3 certificate naming its issuer by key identifier (RFC 5280 4.2.1.1: the
# client matches the issuer by authorityKeyIdentifier as well as by name)
printf 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' >ee.ext
openssl x509 -req -in dev.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 10 \
	-extfile ee.ext -out rsp.pem 2>/dev/null

start_mock() {	# extra mock options
	[ -n "$mock" ] && kill "$mock" 2>/dev/null && wait "$mock" 2>/dev/null
	port=$(free_port)
	openssl cmp -port "$port" -srv_ref 1234 -srv_secret pass:mock-secret \
		-srv_cert ca.pem -srv_key ca.key -rsp_cert rsp.pem -rsp_capubs ca.pem \
		-srv_trusted ca.pem "$@" >mock.log 2>&1 &
	mock=$!
	i=0
	while [ $i -lt 50 ] && ! (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
}
cat >session.cfg <<EOC
system-view
pki entity dev
 common-name dev.example.com
quit
pki cmp session m
 cmp-request entity dev
 cmp-request ca-name "O=Mock,CN=Mock CA"
 cmp-request rsa local-key-pair dev
 cmp-request message-authentication-code 1234 mock-secret
quit
EOC
$P --no-startup -f session.cfg -c "return" -c "save" >/dev/null 2>&1

start_mock
$P -c "system-view" -c "pki cmp session m" \
	-c "cmp-request server url http://127.0.0.1:$port/pkix/" -c "return" -c "save" \
	-c "system-view" -c "pki cmp initial-request session m" >out 2>&1
check console-ir-mac-succeeds 'grep -q "saved as flash:/pki/public/m_ir.cer" out &&
	cmp -s "$F/pki/public/m_ir.cer" rsp.pem'
check console-ir-capubs-saved 'cmp -s "$F/pki/public/m_ca0.cer" ca.pem &&
	grep -q "m_ca0.cer" out'
check console-ir-serial-validity-shown 'grep -q "^Info: Serial number: " out &&
	grep -q "^Info: Valid from .* to " out'

start_mock
$P -c "system-view" -c "pki cmp session m" \
	-c "cmp-request server url http://127.0.0.1:$port/pkix/" \
	-c "cmp-request origin-authentication-method signature" \
	-c "cmp-request authentication-cert m_ir.cer" -c "quit" \
	-c "pki import-certificate ca filename m_ca0.cer" \
	-c "pki cmp certificate-request session m" -c "return" -c "save" >out 2>&1
check console-cr-signed-succeeds 'grep -q "saved as flash:/pki/public/m_cr.cer" out'

start_mock
$P -c "system-view" -c "pki cmp session m" \
	-c "cmp-request server url http://127.0.0.1:$port/pkix/" -c "quit" \
	-c "pki cmp keyupdate-request session m" >out 2>&1
check console-kur-same-key-succeeds 'grep -q "saved as flash:/pki/public/m_kur.cer" out'

start_mock -pkistatus 2 -failure 9 -statusstring "no certificate for you"
$P -c "system-view" -c "pki cmp session m" \
	-c "cmp-request server url http://127.0.0.1:$port/pkix/" -c "quit" \
	-c "pki cmp certificate-request session m" >out 2>&1
check console-rejection-shown 'grep -q "^Error: The certificate-request of the CMP session m failed" out &&
	grep -q "PKIStatus: rejection, failInfo: badPOP" out &&
	grep -q "no certificate for you" out'

start_mock
$P -c "system-view" -c "pki cmp session m" \
	-c "cmp-request server url http://127.0.0.1:$port/pkix/" \
	-c "cmp-request origin-authentication-method message-authentication-code" \
	-c "cmp-request message-authentication-code 1234 wrong-secret" -c "quit" \
	-c "pki cmp initial-request session m" -c "display pki cmp session m" >out 2>&1
check console-wrong-secret-rejected 'grep -q "^Error: The initial-request of the CMP session m failed" out &&
	! grep -q "saved as" out'
check console-display-session 'grep -q "Last Result             : IR failed" out &&
	grep -q "Certificate Validity    : .* to " out'

$P -c "display pki cmp statistics session m" >out 2>&1
check console-statistics 'grep -q "Ir Send Counts : 2" out && grep -q "Ir Fail Counts : 1" out &&
	grep -q "Cr Send Counts : 2" out && grep -q "Cr Fail Counts : 1" out &&
	grep -q "Kur Send Counts : 1" out'
$P -c "reset pki cmp statistics session m" -c "display pki cmp statistics" >out 2>&1
check console-reset-statistics 'grep -q "Ir Send Counts : 0" out'
