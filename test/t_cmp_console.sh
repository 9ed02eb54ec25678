#!/usr/bin/env bash
# The console's CMP actions against the real `openssl cmp -port` mock CA: IR with
# MAC (files written, caPubs saved, statistics), an existing result file replaced
# and said so, CR and KUR signed with the issued certificate in a session whose IR
# uses MAC (mock given -srv_trusted), a CA rejection and a certificate the client
# rejects each reported by one Error line (nothing claiming success, nothing
# repeated), a wrong secret, display pki cmp session and the statistics in the
# vendor's layout after it all.
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
	mock=
	# a loaded machine: wait up to 20 s for the listener, and take another
	# port when the mock could not have this one (it exits)
	for attempt in 1 2 3; do
		port=$(free_port)
		openssl cmp -port "$port" -srv_ref 1234 -srv_secret pass:mock-secret \
			-srv_cert ca.pem -srv_key ca.key -rsp_cert rsp.pem -rsp_capubs ca.pem \
			-srv_trusted ca.pem "$@" >mock.log 2>&1 &
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
	echo "FAIL console-mock-start"
	cat mock.log
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

# a second IR replaces m_ir.cer: batch mode says so
start_mock
$P -c "system-view" -c "pki cmp session m" \
	-c "cmp-request server url http://127.0.0.1:$port/pkix/" -c "quit" \
	-c "pki cmp initial-request session m" >out 2>/dev/null
check console-existing-result-replaced-and-said 'grep -qx "Info: The existing file flash:/pki/public/m_ir.cer was overwritten." out &&
	grep -q "saved as flash:/pki/public/m_ir.cer" out'

# the IR stays MAC-protected: CR and KUR are signed with authentication-cert's key
start_mock
$P -c "system-view" -c "pki cmp session m" \
	-c "cmp-request server url http://127.0.0.1:$port/pkix/" \
	-c "cmp-request authentication-cert m_ir.cer" -c "quit" \
	-c "pki import-certificate ca filename m_ca0.cer" \
	-c "pki cmp certificate-request session m" -c "return" -c "save" >out 2>&1
$P -c "display pki cmp session m" >disp 2>&1
check console-cr-signed-in-mac-session-succeeds 'grep -q "saved as flash:/pki/public/m_cr.cer" out &&
	grep -q "Authentication Method   : message-authentication-code" disp'

start_mock
$P -c "system-view" -c "pki cmp session m" \
	-c "cmp-request server url http://127.0.0.1:$port/pkix/" -c "quit" \
	-c "pki cmp keyupdate-request session m" >out 2>&1
check console-kur-same-key-succeeds 'grep -q "saved as flash:/pki/public/m_kur.cer" out'

start_mock -pkistatus 2 -failure 9 -statusstring "no certificate for you"
$P -c "system-view" -c "pki cmp session m" \
	-c "cmp-request server url http://127.0.0.1:$port/pkix/" -c "quit" \
	-c "pki cmp certificate-request session m" >out 2>/dev/null
check console-rejection-one-error-line 'grep -q "^Error: The certificate-request of the CMP session m failed: .*rejection, failInfo: badPOP" out &&
	[ "$(grep -c "no certificate for you" out)" = 1 ] && [ "$(grep -c "^Error:" out)" = 1 ] &&
	! grep -q "^Warning:" out && ! grep -q "PKIStatus" out &&
	[ "$(tail -n 1 out | cut -c1-6)" = "Error:" ]'

# a certificate the client rejects (not for the requested key): one Error line,
# no "The CA confirmed" before it, no "PKIStatus: accepted" after it
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key 2>/dev/null
openssl req -new -key other.key -subj "/CN=dev.example.com" -out other.csr 2>/dev/null
openssl x509 -req -in other.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 10 \
	-out other.pem 2>/dev/null
start_mock -rsp_cert other.pem
$P -c "system-view" -c "pki cmp session m" \
	-c "cmp-request server url http://127.0.0.1:$port/pkix/" -c "quit" \
	-c "pki cmp certificate-request session m" >out 2>/dev/null
check console-client-rejection-one-error-line 'grep -q "^Error: The certificate-request of the CMP session m failed: the issued certificate is unacceptable" out &&
	[ "$(grep -c "^Error:" out)" = 1 ] && ! grep -q "confirmed" out &&
	! grep -q "PKIStatus" out && ! grep -q "saved as" out &&
	[ "$(tail -n 1 out | cut -c1-6)" = "Error:" ]'
# restore the good response certificate for what follows
start_mock

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

# the vendor's layout: three Send lines, then three Faild lines, its columns
$P -c "display pki cmp statistics session m" >out 2>&1
cat >want <<'EOW'
<pkish>display pki cmp statistics session m
 CMP Context Name: m
 Ir Send Counts        : 3
 Cr Send Counts        : 3
 Kur Send Counts       : 1
 Ir Faild Counts     : 1
 Cr Faild Counts     : 2
 Kur Faild Counts    : 0
EOW
check console-statistics-vendor-layout 'cmp -s want out'
$P -c "reset pki cmp statistics session m" -c "display pki cmp statistics" >out 2>&1
check console-reset-statistics 'grep -qx " Ir Send Counts        : 0" out'
