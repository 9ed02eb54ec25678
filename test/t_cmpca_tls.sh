#!/bin/sh
# CMP over TLS end to end: cmpca --tls-cert/--tls-key (libmicrohttpd's TLS)
# and pkish over https (`cmp-request server url https://...`). The server
# certificates come from a TLS CA of the test (openssl): one for 127.0.0.1,
# one for another host name, one expired. pkish enrols over https when the TLS
# CA is an imported CA certificate; it refuses the server with the wrong name,
# the expired one, and any server when no imported CA certificate vouches for
# it, and writes no certificate then. cmpca speaks TLS 1.2 and 1.3, never 1.1;
# plain http to the https port gets no CMP answer; the `openssl cmp -tls_used`
# client enrols against it; the options' errors (one without the other, a key
# that does not belong to the certificate) stop cmpca before it listens.
# Prints "ok NAME" / "FAIL NAME". KEEP=1 keeps the temporary directory.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-tls.XXXXXX")
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
cd "$tmp" || exit 1

# the TLS PKI: a CA, server certificates for 127.0.0.1, for wrong.example,
# and an expired one for 127.0.0.1 (openssl ca sets its dates)
cat >tls.cnf <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[srv_ip]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
authorityKeyIdentifier = keyid
[srv_wrong]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
authorityKeyIdentifier = keyid
[ca]
default_ca = tlsca
[tlsca]
database = index.txt
new_certs_dir = .
certificate = tlsca.pem
private_key = tlsca.key
serial = serial
default_md = sha256
policy = any
[any]
commonName = supplied
EOF
: >index.txt
echo 01 >serial
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key tlsca.key; key srv.key; key wrong.key; key old.key
{
	openssl req -config tls.cnf -x509 -new -key tlsca.key -subj "/O=pkish test/CN=TLS CA" \
		-days 30 -extensions ca_ext -out tlsca.pem &&
	openssl req -config tls.cnf -new -key srv.key -subj "/CN=127.0.0.1" -out srv.csr &&
	openssl x509 -req -in srv.csr -CA tlsca.pem -CAkey tlsca.key -CAcreateserial -days 30 \
		-extfile tls.cnf -extensions srv_ip -out srv.pem &&
	openssl req -config tls.cnf -new -key wrong.key -subj "/CN=wrong.example" -out wrong.csr &&
	openssl x509 -req -in wrong.csr -CA tlsca.pem -CAkey tlsca.key -CAcreateserial -days 30 \
		-extfile tls.cnf -extensions srv_wrong -out wrong.pem &&
	openssl req -config tls.cnf -new -key old.key -subj "/CN=127.0.0.1" -out old.csr &&
	openssl ca -config tls.cnf -batch -notext -in old.csr -extfile tls.cnf -extensions srv_ip \
		-startdate 20240101000000Z -enddate 20240201000000Z -out old.pem
} >pki.log 2>&1 || { fail tls-pki "$(cat pki.log)"; exit 1; }

# start NAME CERT KEY: cmpca over https in DIR ca (one CA for all); sets
# url, port
start() {
	cmpca_start "$tmp/ca" "$tmp/$1.log" 127.0.0.1:0 --ref tref --secret tsecret \
		--tls-cert "$2" --tls-key "$3"
}

start good srv.pem srv.key ||
	{ fail tls-cmpca-start "$(cat good.log)"; exit 1; }
good=$url
gport=$port
check tls-url-is-https 'case $good in https://127.0.0.1:*/) true ;; *) false ;; esac' "$good"
start wrong wrong.pem wrong.key || { fail tls-cmpca-start-wrong "$(cat wrong.log)"; exit 1; }
wrong=$url
start old old.pem old.key || { fail tls-cmpca-start-old "$(cat old.log)"; exit 1; }
old=$url

# the device: the TLS CA imported as a CA certificate, sessions for each server
F="$tmp/flash"
pub="$F/pki/public"
mkdir -p "$pub"
cp tlsca.pem "$pub/tlsca.cer"
P="$b/pkish --flash $F"
{
	echo "system-view"
	echo "pki ecc curve-name prime256v1 local-key-pair create k"
	echo "pki entity dev"
	echo " common-name dev.example.com"
	echo "quit"
	for s in g:$good w:$wrong o:$old; do
		echo "pki cmp session ${s%%:*}"
		echo " cmp-request entity dev"
		echo " cmp-request server url ${s#*:}pkix/"
		echo " cmp-request ecc local-key-pair k"
		echo " cmp-request message-authentication-code tref tsecret"
		echo " cmp-request timeout 10"
		echo "quit"
	done
	echo "return"
	echo "save"
} >setup.cfg
$P --no-startup -f setup.cfg >setup.out 2>&1 || { fail tls-setup "$(cat setup.out)"; exit 1; }

# no imported CA certificate yet: the server cannot be verified
$P -c "pki cmp initial-request session g" >none.out 2>&1
rc=$?
check tls-server-unverified-refused '[ $rc -eq 1 ] && [ ! -e "$pub/g_ir.cer" ] &&
	grep -q "https needs the CA certificates that verify the server" none.out' "$(cat none.out)"

$P -c "system-view" -c "pki import-certificate ca filename tlsca.cer" -c "return" -c "save" \
	>import.out 2>&1
$P -c "pki cmp initial-request session g" >good.out 2>&1
rc=$?
check tls-ir-over-https '[ $rc -eq 0 ] && [ -s "$pub/g_ir.cer" ] &&
	openssl verify -CAfile ca/ca.crt "$pub/g_ir.cer" | grep -q ": OK$"' \
	"exit $rc: $(cat import.out good.out)"

$P -c "pki cmp initial-request session w" >w.out 2>&1
rc=$?
check tls-wrong-host-refused '[ $rc -eq 1 ] && [ ! -e "$pub/w_ir.cer" ] &&
	grep -q "server certificate not accepted: IP address mismatch" w.out' "$(cat w.out)"
$P -c "pki cmp initial-request session o" >o.out 2>&1
rc=$?
check tls-expired-server-refused '[ $rc -eq 1 ] && [ ! -e "$pub/o_ir.cer" ] &&
	grep -q "server certificate not accepted: certificate has expired" o.out' "$(cat o.out)"

# the protocol versions cmpca speaks (the client offers at most 1.1 at
# security level 0: the server answers its ClientHello with nothing)
v() { echo | openssl s_client -connect "127.0.0.1:$gport" -CAfile tlsca.pem "$@" 2>&1; }
v -tls1_2 >t12.out
check tls-server-1.2 'grep -q "Protocol *: TLSv1.2" t12.out && grep -q "Verify return code: 0 (ok)" t12.out' \
	"$(cat t12.out)"
v -tls1_3 >t13.out
check tls-server-1.3 'grep -q "TLSv1.3" t13.out && grep -q "Verify return code: 0 (ok)" t13.out'
v -tls1_1 -cipher DEFAULT@SECLEVEL=0 >t11.out
check tls-server-no-1.1 'grep -q "Cipher is (NONE)" t11.out &&
	grep -q "SSL handshake has read 0 bytes and written [1-9]" t11.out' "$(cat t11.out)"
if command -v curl >/dev/null 2>&1; then
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/pkixcmp' \
		--data-binary x "http://127.0.0.1:$gport/pkix/")
	check tls-plain-http-no-answer '[ "$code" != 200 ] && [ "$code" != 400 ]' "$code"
fi

# the openssl cmp client over TLS
openssl cmp -cmd ir -server "127.0.0.1:$gport" -path pkix/ -tls_used -tls_trusted tlsca.pem \
	-ref tref -secret pass:tsecret -newkey srv.key -subject "/CN=via openssl" \
	-recipient "/CN=x" -certout oc.pem -unprotected_errors >oc.out 2>&1
rc=$?
check tls-openssl-cmp-client '[ $rc -eq 0 ] && openssl verify -CAfile ca/ca.crt oc.pem |
	grep -q ": OK$"' "$(cat oc.out)"
openssl cmp -cmd ir -server "127.0.0.1:$gport" -path pkix/ -tls_used -tls_trusted ca/ca.crt \
	-ref tref -secret pass:tsecret -newkey srv.key -subject "/CN=via openssl" \
	-recipient "/CN=x" -certout oc2.pem -unprotected_errors >oc2.out 2>&1
rc=$?
check tls-openssl-cmp-untrusted-refused '[ $rc -ne 0 ] && [ ! -e oc2.pem ]' "$(cat oc2.out)"

# option errors, also found by --check-config
"$b/cmpca" --dir "$tmp/ca" --tls-cert srv.pem --tls-key wrong.key --check-config >e0.out 2>&1
rc=$?
check tls-check-config-mismatch '[ $rc -eq 1 ] && grep -q "does not belong" e0.out' "$(cat e0.out)"
"$b/cmpca" --dir "$tmp/ca" --tls-cert srv.pem --tls-key srv.key --check-config >e0.out 2>&1
rc=$?
check tls-check-config-good '[ $rc -eq 0 ] && grep -q "is valid" e0.out &&
	grep -q "tls-cert" e0.out' "$(cat e0.out)"
"$b/cmpca" --dir "$tmp/ca" --listen 127.0.0.1:0 --tls-cert srv.pem >e1.out 2>&1
rc=$?
check tls-cert-needs-key '[ $rc -ne 0 ] && grep -q "tls-cert and tls-key" e1.out' "$(cat e1.out)"
"$b/cmpca" --dir "$tmp/ca" --listen 127.0.0.1:0 --tls-cert srv.pem --tls-key wrong.key >e2.out 2>&1
rc=$?
check tls-key-mismatch '[ $rc -ne 0 ] && grep -q "does not belong" e2.out &&
	! grep -q "listening" e2.out' "$(cat e2.out)"
