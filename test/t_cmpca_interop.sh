#!/bin/sh
# Interop tests of cmpca's protocol (ca/ca_server.c) with the real `openssl cmp`
# client (3.0): ir with MAC and with a vendor certificate under --trust, cr, kur
# (same key, new key), p10cr, rr, genm, implicit confirmation, polling, a rejected
# certConf, several clients at once; refusals with their failInfo (wrong secret,
# bad POP, kur with a revoked certificate, unprotected request, vendor cert for
# cr). Each issued certificate is checked for its key, subject, SAN and chain
# (openssl verify) and its database record. Prints "ok NAME" / "FAIL NAME".
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

# start DIR OUT [ARGS...]: cmpca in the background; sets pid and port.
start() {
	d=$1; out=$2; shift 2
	cmpca_start "$d" "$out" 127.0.0.1:0 "$@"
	_rc=$?
	pid=$cmpca_pid
	return $_rc
}

# stop PID: SIGTERM, waits up to 10 s; rc is its exit status.
stop() {
	kill -TERM "$1"
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	wait "$1"
	rc=$?
}

eckey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
pub() { openssl pkey -in "$1" -pubout 2>/dev/null; }
certpub() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null; }
subj() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 2>/dev/null | sed 's/^subject=//'; }
serial() { openssl x509 -in "$1" -noout -serial 2>/dev/null | sed 's/^serial=//'; }
verifies() { openssl verify -CAfile ca/ca.crt "$1" 2>&1 | grep -q ": OK$"; }
has_san() { openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | grep -q "$2"; }
db() { sqlite3 ca/ca.db "$1"; }
# issued C KEY SUBJECT: the certificate C is for KEY, has SUBJECT, chains to
# the CA, has a serial of 64 bits or more and is on record in the database.
issued() {
	[ -s "$1" ] && [ "$(certpub "$1")" = "$(pub "$2")" ] &&
	    [ "$(subj "$1")" = "$3" ] && verifies "$1" &&
	    [ ${#4} -ge 16 ] 2>/dev/null &&
	    [ "$(db "SELECT count(*) FROM certs WHERE serial = '$4'")" = 1 ]
}
# cert_ok NAME C KEY SUBJECT
cert_ok() {
	s=$(serial "$2")
	if issued "$2" "$3" "$4" "$s"; then ok "$1"; else fail "$1" "$(cat "$2.log" 2>/dev/null | grep -v 'CMP info' | tail -3)"; fi
}
# failinfo NAME LOG BIT: the client reports an error naming failInfo BIT
failinfo() {
	if grep -q "PKIFailureInfo: $3" "$2"; then ok "$1"; else fail "$1" "$(grep -v 'CMP info' "$2" | tail -2)"; fi
}

secret=s3cr3t
ref=lab
# test data: device keys, a vendor root and a vendor device certificate
eckey k1.pem; eckey k2.pem; eckey k3.pem; eckey k4.pem
openssl req -x509 -newkey EC -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout vroot.key \
    -out vroot.crt -subj "/CN=Vendor Root" -days 10 >/dev/null 2>&1
openssl req -new -key k4.pem -subj "/CN=vendor-dev-42" -out vdev.csr 2>/dev/null
printf 'keyUsage=critical,keyAgreement\n' >vdev.ext
openssl x509 -req -in vdev.csr -CA vroot.crt -CAkey vroot.key -CAcreateserial \
    -out vdev.crt -days 5 -extfile vdev.ext >/dev/null 2>&1

if start ca run1 --ref $ref --secret $secret --trust vroot.crt --validity 2d; then
	ok cmpca_started
else
	fail cmpca_started "$(cat run1)"
	exit 1
fi
pid1=$pid
S="-server 127.0.0.1:$port -path /"
MAC="-ref $ref -secret pass:$secret"

# --- ir with MAC, SAN, caPubs, validity from --validity
openssl cmp -cmd ir $S $MAC -newkey k1.pem -subject "/CN=dev1/O=pkish test" \
    -sans "dev1.example.net 192.0.2.7" -certout c1.pem -cacertsout capubs.pem \
    -srvcert ca/ca.crt -reqout ir1.der,ir2.der -rspout ip1.der,ip2.der >c1.pem.log 2>&1
cert_ok ir_mac c1.pem k1.pem "O=pkish test,CN=dev1"
check ir_mac_san 'has_san c1.pem "DNS:dev1.example.net" && has_san c1.pem "IP Address:192.0.2.7"'
check ir_mac_capubs '
    [ "$(openssl x509 -in capubs.pem -outform DER | od -An -tx1)" = "$(openssl x509 -in ca/ca.crt -outform DER | od -An -tx1)" ]'
nb=$(date -d "$(openssl x509 -in c1.pem -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in c1.pem -noout -enddate | cut -d= -f2)" +%s)
check ir_validity '[ $((na - nb)) -eq 172800 ]'
check ir_confirmed_in_db '[ "$(db "SELECT state FROM transactions t JOIN certs c ON c.tid = t.tid WHERE c.serial = '"'$(serial c1.pem)'"'")" = confirmed ]'
# response header: pvno 2, PBM like the request (OWF SHA-256, HMAC-SHA1 are the
# client's defaults), recipNonce = the request's senderNonce, fresh senderNonce
openssl asn1parse -inform DER -in ip1.der >ip1.txt 2>/dev/null
openssl asn1parse -inform DER -in ir1.der >ir1.txt 2>/dev/null
# hdr_octets FILE TAG: the header field [TAG] (5 senderNonce, 6 recipNonce)
hdr_octets() { grep -A1 "d=2 .*cont \[ $2 \]" "$1" | sed -n 's/.*HEX DUMP\]://p'; }
check ip_pvno2_pbm 'sed -n 3p ip1.txt | grep -q "INTEGER *:02" && grep -q "password based MAC" ip1.txt &&
    grep -q ":sha256" ip1.txt && grep -q ":hmac-sha1" ip1.txt'
check ip_nonces '[ -n "$(hdr_octets ir1.txt 5)" ] && [ "$(hdr_octets ip1.txt 6)" = "$(hdr_octets ir1.txt 5)" ] &&
    [ "$(hdr_octets ip1.txt 5)" != "$(hdr_octets ir1.txt 5)" ]'

# --- no subject, only a subjectAltName: empty subject, critical SAN (RFC 5280
# 4.1.2.6); neither: badCertTemplate
openssl cmp -cmd ir $S $MAC -newkey k2.pem -sans "only.example.net" -certout c0.pem \
    -srvcert ca/ca.crt >c0.pem.log 2>&1
check ir_san_only '[ -s c0.pem ] && [ -z "$(subj c0.pem)" ] && verifies c0.pem &&
    openssl x509 -in c0.pem -noout -ext subjectAltName | grep -q "Alternative Name: critical" &&
    has_san c0.pem "DNS:only.example.net"'
openssl cmp -cmd ir $S $MAC -newkey k2.pem -certout x.pem -srvcert ca/ca.crt >empty.log 2>&1
failinfo ir_empty_template_badCertTemplate empty.log badCertTemplate

# --- a wrong secret: badMessageCheck, the error signed so -srvcert authenticates it
openssl cmp -cmd ir $S -ref $ref -secret pass:wrong -newkey k2.pem -subject /CN=x \
    -certout x.pem -srvcert ca/ca.crt >wrong.log 2>&1
failinfo wrong_secret_badMessageCheck wrong.log badMessageCheck
check wrong_secret_no_cert '[ ! -s x.pem ] && grep -q "received error" wrong.log'
# a wrong reference
openssl cmp -cmd ir $S -ref nobody -secret pass:$secret -newkey k2.pem -subject /CN=x \
    -certout x.pem -srvcert ca/ca.crt >wref.log 2>&1
failinfo wrong_ref_badMessageCheck wref.log badMessageCheck

# --- unprotected request
openssl cmp -cmd ir $S -unprotected_requests -newkey k2.pem -subject /CN=x \
    -certout x.pem -srvcert ca/ca.crt >unprot.log 2>&1
failinfo unprotected_badMessageCheck unprot.log badMessageCheck

# --- bad proof of possession: none, and raVerified from an end entity
openssl cmp -cmd ir $S $MAC -newkey k2.pem -subject /CN=x -popo -1 -certout x.pem \
    -srvcert ca/ca.crt >pop1.log 2>&1
failinfo no_pop_badPOP pop1.log badPOP
openssl cmp -cmd ir $S $MAC -newkey k2.pem -subject /CN=x -popo 0 -certout x.pem \
    -srvcert ca/ca.crt >pop2.log 2>&1
failinfo raverified_badPOP pop2.log badPOP

# --- ir signed by a vendor certificate under --trust (3GPP TS 33.310): for
# the vendor certificate's subject (issue 11: any subject was granted); another
# one is refused, naming the rule
openssl cmp -cmd ir $S -cert vdev.crt -key k4.pem -newkey k2.pem -subject /CN=op-2 \
    -certout x.pem -trusted ca/ca.crt >vsub.log 2>&1
failinfo vendor_ir_other_subject_badCertTemplate vsub.log badCertTemplate
check vendor_ir_other_subject_rule 'grep -q "the template asks for subject CN=op-2, the signing certificate.s is CN=vendor-dev-42" vsub.log &&
    grep -q "allow-subject-change" vsub.log && [ ! -s x.pem ]'
openssl cmp -cmd ir $S -cert vdev.crt -key k4.pem -newkey k2.pem \
    -certout c2.pem -trusted ca/ca.crt >c2.pem.log 2>&1
cert_ok ir_vendor_cert c2.pem k2.pem "CN=vendor-dev-42"
# ... but a vendor certificate is no credential for cr
openssl cmp -cmd cr $S -cert vdev.crt -key k4.pem -newkey k2.pem -subject /CN=op-2 \
    -certout x.pem -srvcert ca/ca.crt >vcr.log 2>&1
failinfo vendor_cr_signerNotTrusted vcr.log signerNotTrusted

# --- cr signed by an issued certificate: the signer's subject and SAN (issue
# 11: any holder of a certificate got any subject); another subject, or the
# CA's own name by MAC, is refused
openssl cmp -cmd cr $S -cert c1.pem -key k1.pem -newkey k3.pem -subject /CN=dev1-cr \
    -certout x.pem -srvcert ca/ca.crt >crsub.log 2>&1
failinfo cr_other_subject_badCertTemplate crsub.log badCertTemplate
openssl cmp -cmd ir $S $MAC -newkey k3.pem -subject "/O=pkish/CN=cmpca CA" \
    -certout x.pem -srvcert ca/ca.crt >caname.log 2>&1
failinfo ir_ca_name_badCertTemplate caname.log badCertTemplate
check ir_ca_name_rule 'grep -q "RFC 5280 4.1.2.6: the subject O=pkish, CN=cmpca CA is the name of this CA" caname.log'
openssl cmp -cmd cr $S -cert c1.pem -key k1.pem -newkey k3.pem \
    -certout c3.pem -srvcert ca/ca.crt >c3.pem.log 2>&1
cert_ok cr_signed c3.pem k3.pem "O=pkish test,CN=dev1"
check cr_signed_san 'has_san c3.pem "DNS:dev1.example.net" && has_san c3.pem "IP Address:192.0.2.7"'

# --- kur, same key: subject and SAN carried over
openssl cmp -cmd kur $S -cert c1.pem -key k1.pem -certout c4.pem -srvcert ca/ca.crt \
    >c4.pem.log 2>&1
cert_ok kur_same_key c4.pem k1.pem "O=pkish test,CN=dev1"
check kur_same_key_san 'has_san c4.pem "DNS:dev1.example.net"'
check kur_new_serial '[ "$(serial c4.pem)" != "$(serial c1.pem)" ]'

# --- kur, new key
eckey k5.pem
openssl cmp -cmd kur $S -cert c4.pem -key k1.pem -newkey k5.pem -certout c5.pem \
    -srvcert ca/ca.crt >c5.pem.log 2>&1
cert_ok kur_new_key c5.pem k5.pem "O=pkish test,CN=dev1"

# --- kur signed by a certificate that is not the one named in oldCertID: a
# MAC kur is refused (kur must be signed by the certificate it updates)
openssl cmp -cmd kur $S $MAC -oldcert c5.pem -newkey k5.pem -certout x.pem \
    -srvcert ca/ca.crt >kurmac.log 2>&1
check kur_mac_refused 'grep -q "PKIFailureInfo: wrongIntegrity" kurmac.log && [ ! -s x.pem ]'

# --- p10cr
openssl req -new -key k2.pem -subj "/CN=p10 dev" -addext "subjectAltName=DNS:p10.example.net" \
    -out p10.csr 2>/dev/null
openssl cmp -cmd p10cr $S $MAC -csr p10.csr -certout c6.pem -srvcert ca/ca.crt >c6.pem.log 2>&1
cert_ok p10cr c6.pem k2.pem "CN=p10 dev"
check p10cr_san 'has_san c6.pem "DNS:p10.example.net"'

# --- rr (signed by the certificate revoked), then kur with it: certRevoked
openssl cmp -cmd rr $S -cert c3.pem -key k3.pem -oldcert c3.pem -revreason 1 \
    -srvcert ca/ca.crt >rr.log 2>&1
check rr_ok 'grep -q "received RP" rr.log && ! grep -q "CMP error" rr.log'
check rr_in_db '[ "$(db "SELECT reason FROM certs WHERE serial = '"'$(serial c3.pem)'"' AND revoked_at IS NOT NULL")" = 1 ]'
openssl cmp -cmd kur $S -cert c3.pem -key k3.pem -certout x.pem -srvcert ca/ca.crt >kurrev.log 2>&1
failinfo kur_revoked_certRevoked kurrev.log certRevoked
openssl cmp -cmd cr $S -cert c3.pem -key k3.pem -subject /CN=x -certout x.pem \
    -srvcert ca/ca.crt >crrev.log 2>&1
failinfo cr_revoked_certRevoked crrev.log certRevoked
# rr of an already revoked certificate, signed by it
openssl cmp -cmd rr $S -cert c3.pem -key k3.pem -oldcert c3.pem -srvcert ca/ca.crt >rr2.log 2>&1
failinfo rr_again_certRevoked rr2.log certRevoked
# issue 11: the enrolment secret (every device has it) revokes nothing
openssl cmp -cmd rr $S $MAC -oldcert c6.pem -srvcert ca/ca.crt >rr4.log 2>&1
failinfo rr_by_shared_secret_notAuthorized rr4.log notAuthorized
check rr_by_shared_secret_not_revoked '[ -z "$(db "SELECT revoked_at FROM certs WHERE serial = '"'$(serial c6.pem)'"'")" ]'
# a signed rr may only revoke its own certificate
openssl cmp -cmd rr $S -cert c5.pem -key k5.pem -oldcert c6.pem -srvcert ca/ca.crt >rr3.log 2>&1
failinfo rr_other_notAuthorized rr3.log notAuthorized
check rr_other_not_revoked '[ -z "$(db "SELECT revoked_at FROM certs WHERE serial = '"'$(serial c6.pem)'"'")" ]'

# --- genm: signKeyPairTypes, caCerts, an infoType we do not know
openssl cmp -cmd genm $S $MAC -infotype signKeyPairTypes -srvcert ca/ca.crt \
    -rspout genp1.der >genm1.log 2>&1
openssl asn1parse -inform DER -in genp1.der >genp1.txt 2>/dev/null
check genm_signKeyPairTypes 'grep -q "genp contains ITAV of type: id-it-signKeyPairTypes" genm1.log &&
    grep -q rsaEncryption genp1.txt && grep -q prime256v1 genp1.txt'
openssl cmp -cmd genm $S $MAC -infotype caCerts -srvcert ca/ca.crt -rspout genp2.der >genm2.log 2>&1
openssl asn1parse -inform DER -in genp2.der -strparse 0 >/dev/null 2>&1
caser=$(openssl x509 -in ca/ca.crt -noout -serial | sed 's/serial=//')
check genm_caCerts 'grep -q "id-it-caCerts" genm2.log &&
    openssl asn1parse -inform DER -in genp2.der 2>/dev/null | grep -qi "INTEGER *:$caser"'
openssl cmp -cmd genm $S $MAC -infotype currentCRL -srvcert ca/ca.crt -rspout genp3.der >genm3.log 2>&1
# RFC 4210 5.3.19: an infoType the CA does not know is left out of the genp
check genm_unknown_omitted 'grep -q "received GENP" genm3.log && ! grep -q "CMP error" genm3.log &&
    ! openssl asn1parse -inform DER -in genp3.der 2>/dev/null | grep -q ":id-it-currentCRL"'

# --- implicit confirmation granted: no certConf sent
eckey k6.pem
openssl cmp -cmd ir $S $MAC -newkey k6.pem -subject /CN=implicit -implicit_confirm \
    -certout c7.pem -srvcert ca/ca.crt -reqout ic1.der,ic2.der >c7.pem.log 2>&1
cert_ok implicit_confirm c7.pem k6.pem "CN=implicit"
check implicit_confirm_no_certconf '[ -s ic1.der ] && [ ! -e ic2.der ] && ! grep -q CERTCONF c7.pem.log'

# --- the client rejects the certificate (it does not chain to -out_trusted):
# certConf with rejection; the transaction is rejected, the certificate revoked
openssl cmp -cmd ir $S $MAC -newkey k6.pem -subject /CN=refused -out_trusted vroot.crt \
    -certout x8.pem -srvcert ca/ca.crt >rej.log 2>&1
check certconf_rejection_recorded '[ "$(db "SELECT t.state || (c.revoked_at IS NOT NULL) FROM certs c JOIN transactions t ON t.tid = c.tid WHERE c.subject = '"'CN=refused'"'")" = rejected1 ]'

# --- several clients at once
i=0
while [ $i -lt 6 ]; do
	eckey p$i.pem
	openssl cmp -cmd ir $S $MAC -newkey p$i.pem -subject "/CN=par$i" -certout pc$i.pem \
	    -srvcert ca/ca.crt >pc$i.log 2>&1 &
	i=$((i + 1))
done
wait_clients() {
	for j in 0 1 2 3 4 5; do
		n=0
		while [ ! -s pc$j.pem ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	done
}
wait_clients
sleep 0.2
good=0
for j in 0 1 2 3 4 5; do
	s=$(serial pc$j.pem)
	issued pc$j.pem p$j.pem "CN=par$j" "$s" && good=$((good + 1))
done
nser=$(for j in 0 1 2 3 4 5; do serial pc$j.pem; done | sort -u | wc -l)
check parallel_clients '[ $good -eq 6 ] && [ $nser -eq 6 ]' "good=$good distinct=$nser"

# --- every certificate issued is in the database, serials unique
ncert=$(db "SELECT count(*) FROM certs")
check db_all_recorded '[ "$ncert" -ge 14 ] && [ "$(db "SELECT count(DISTINCT serial) FROM certs")" = "$ncert" ]'

stop "$pid1"
check sigterm_clean '[ $rc -eq 0 ] && [ "$(sqlite3 ca/ca.db "PRAGMA integrity_check")" = ok ]'

# --- second instance, same DIR: polling, implicitConfirm refused
if start ca run2 --ref $ref --secret $secret --poll 2 --check-after 1 --implicit-confirm no \
    --allow-subject-change yes --trust vroot.crt; then
	S="-server 127.0.0.1:$port -path /"
	openssl cmp -cmd ir $S $MAC -newkey k6.pem -subject /CN=polled -implicit_confirm \
	    -certout c9.pem -srvcert ca/ca.crt >c9.pem.log 2>&1
	cert_ok polling c9.pem k6.pem "CN=polled"
	check polling_waited 'grep -q "received .waiting. PKIStatus" c9.pem.log && grep -q "received POLLREP" c9.pem.log'
	check implicit_confirm_refused 'grep -q "sending CERTCONF" c9.pem.log'
	check polling_count '[ "$(db "SELECT poll_count FROM transactions t JOIN certs c ON c.tid = t.tid WHERE c.subject = '"'CN=polled'"'")" = 2 ]'
	# persistence: a certificate of the first run is updated by the second
	openssl cmp -cmd kur $S -cert c5.pem -key k5.pem -certout c10.pem -srvcert ca/ca.crt \
	    >c10.pem.log 2>&1
	cert_ok kur_after_restart c10.pem k5.pem "O=pkish test,CN=dev1"
	# --allow-subject-change yes: the vendor-signed ir names its subject
	openssl cmp -cmd ir $S -cert vdev.crt -key k4.pem -newkey k2.pem -subject /CN=op-2 \
	    -certout c11.pem -trusted ca/ca.crt >c11.pem.log 2>&1
	cert_ok allow_subject_change_vendor_ir c11.pem k2.pem "CN=op-2"
	stop "$pid"
	check sigterm_clean_2 '[ $rc -eq 0 ]'
else
	fail polling "$(cat run2)"
fi
exit 0
