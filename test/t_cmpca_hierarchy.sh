#!/bin/sh
# cmpca as the issuing CA of a three-level hierarchy (root -> intermediate ->
# issuing, made at test time by test/mkpki.sh with the openssl program, plus an
# external vendor root), configured by a cmpca.conf with two more profiles, and
# the real `openssl cmp` client (3.0) against it on a free loopback port: ir
# with MAC and with a vendor certificate, cr and kur (same and new key) signed
# by certificates cmpca issued, p10cr, rr with every revocation reason,
# certificateHold and removeFromCRL, genm (caCerts, rootCaKeyUpdate after the
# root's key rollover, certReqTemplate, signKeyPairTypes; the genp contents
# checked with cmpdump), polling, implicit confirmation, a path not served (404),
# and a profile's secret refused on another profile's path. Every certificate
# issued is verified up to the root with `openssl verify -CAfile root
# -untrusted chain`. Prints "ok NAME" / "FAIL NAME". Environment: BUILD,
# PKISH_TOP.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
CMPCA=$BUILD/cmpca
CMPDUMP=$BUILD/cmpdump
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

if [ ! -x "$CMPCA" ] || [ ! -x "$CMPDUMP" ]; then
	fail hier_built "$CMPCA or $CMPDUMP missing"
	exit 1
fi
cd "$tmp" || exit 1
if ! sh "$top/test/mkpki.sh" pki; then
	fail hier_pki "test/mkpki.sh failed"
	exit 1
fi

eckey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
pub() { openssl pkey -in "$1" -pubout 2>/dev/null; }
certpub() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null; }
subj() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 2>/dev/null | sed 's/^subject=//'; }
serial() { openssl x509 -in "$1" -noout -serial 2>/dev/null | sed 's/^serial=//'; }
db() { sqlite3 ca/ca.db "$1"; }
# to_root C: C verifies up to the root through the intermediate and the issuing CA
to_root() {
	openssl verify -CAfile pki/root.crt -untrusted pki/untrusted.pem "$1" 2>&1 |
	    grep -q ": OK$"
}
# cert_ok NAME C KEY SUBJECT: C is for KEY, has SUBJECT, verifies to the root and
# is on record
cert_ok() {
	if [ -s "$2" ] && [ "$(certpub "$2")" = "$(pub "$3")" ] &&
	    [ "$(subj "$2")" = "$4" ] && to_root "$2" &&
	    [ "$(db "SELECT count(*) FROM certs WHERE serial = '$(serial "$2")'")" = 1 ]; then
		ok "$1"
	else
		fail "$1" "$(grep -v 'CMP info' "$2.log" 2>/dev/null | tail -3)"
	fi
}
failinfo() {
	if grep -q "PKIFailureInfo: $3" "$2"; then ok "$1"; else
		fail "$1" "$(grep -v 'CMP info' "$2" | tail -2)"; fi
}
same_cert() {
	[ "$(openssl x509 -in "$1" -outform DER | od -An -tx1)" = \
	    "$(openssl x509 -in "$2" -outform DER | od -An -tx1)" ]
}

# the secrets live in files (0600); the configuration never holds them
umask 077
printf 'default-secret-1\n' >default.secret
printf 'secret-of-a\n' >a.secret
printf 'secret-of-b\n' >b.secret
printf 'admin-secret-9\n' >admin.secret
umask 022
cat >cmpca.conf <<EOF
# cmpca on the issuing CA of the test hierarchy
dir              = $tmp/ca
ca-cert          = pki/issuing.crt
ca-key           = pki/issuing.key
extra-certs      = pki/chain.pem
previous-ca-cert = pki/rollover.pem
ref              = lab
secret-file      = default.secret
admin-ref        = admin
admin-secret-file = admin.secret
trust            = pki/vroot.crt
validity         = 2d

[a]
path             = /.well-known/cmp/p/a
ref              = ref-a
secret-file      = a.secret
poll             = 2
check-after      = 1
implicit-confirm = no

[b]
path             = /b/
ref              = ref-b
secret-file      = b.secret
allow-subject-change = yes
EOF
out=$("$CMPCA" --config cmpca.conf --check-config 2>&1); rc=$?
check hier_check_config '[ $rc -eq 0 ] && echo "$out" | grep -q "^CA chain: .*Test Issuing CA <- .*Test Intermediate CA <- .*Test Root CA (root)" &&
    ! echo "$out" | grep -q -e default-secret-1 -e secret-of-a -e secret-of-b -e admin-secret-9' "$out"
if cmpca_start ca run1 127.0.0.1:0 --config cmpca.conf; then
	ok hier_cmpca_started
else
	fail hier_cmpca_started "$(cat run1)"
	exit 1
fi
check hier_chain_printed 'grep -q "^cmpca: CA chain: .*(root)" run1 &&
    ! grep -q -e default-secret-1 -e secret-of-a -e secret-of-b -e admin-secret-9 run1'
S="-server 127.0.0.1:$port -path /pkix/"
MAC="-ref lab -secret file:default.secret"
# the administrator credential: the only MAC an rr takes
ADM="-ref admin -secret file:admin.secret"
TR="-trusted pki/root.crt"

# --- ir with MAC: the certificate verifies to the root; caPubs is the root
eckey k1.pem
openssl cmp -cmd ir $S $MAC -newkey k1.pem -subject "/CN=dev1/O=pkish test" \
    -certout c1.pem -cacertsout capubs.pem $TR >c1.pem.log 2>&1
cert_ok hier_ir_mac c1.pem k1.pem "O=pkish test,CN=dev1"
check hier_ir_capubs_root '[ -s capubs.pem ] && [ "$(grep -c BEGIN capubs.pem)" = 1 ] && same_cert capubs.pem pki/root.crt'

# --- ir signed by a vendor certificate under the trusted vendor root
eckey k2.pem
# (for the vendor certificate's own subject: issue 11)
openssl cmp -cmd ir $S -cert pki/vdev.crt -key pki/vdev.key -newkey k2.pem \
    -certout c2.pem $TR -extracertsout xc2.pem >c2.pem.log 2>&1
cert_ok hier_ir_vendor_signed c2.pem k2.pem "CN=vendor-dev-42"
# the signed answer carries the issuing CA and the intermediate, not the root
check hier_response_chain '[ "$(grep -c BEGIN xc2.pem)" = 2 ] &&
    openssl x509 -in xc2.pem -noout -subject | grep -q "Test Issuing CA" &&
    ! grep -q "$(sed -n 2p pki/root.crt)" xc2.pem'

# --- cr signed by a certificate cmpca issued (issue 12: "unable to get issuer
# certificate" when the CA was not a root), for its signer's subject (issue 11)
eckey k3.pem
openssl cmp -cmd cr $S -cert c1.pem -key k1.pem -newkey k3.pem \
    -certout c3.pem $TR >c3.pem.log 2>&1
cert_ok hier_cr_signed c3.pem k3.pem "O=pkish test,CN=dev1"

# --- kur with the same key, then with a new key
openssl cmp -cmd kur $S -cert c1.pem -key k1.pem -certout c4.pem $TR >c4.pem.log 2>&1
cert_ok hier_kur_same_key c4.pem k1.pem "O=pkish test,CN=dev1"
check hier_kur_new_serial '[ "$(serial c4.pem)" != "$(serial c1.pem)" ]'
eckey k5.pem
openssl cmp -cmd kur $S -cert c4.pem -key k1.pem -newkey k5.pem -certout c5.pem $TR \
    >c5.pem.log 2>&1
cert_ok hier_kur_new_key c5.pem k5.pem "O=pkish test,CN=dev1"

# --- p10cr
eckey k6.pem
openssl req -new -key k6.pem -subj "/CN=p10 dev" -out p10.csr 2>/dev/null
openssl cmp -cmd p10cr $S $MAC -csr p10.csr -certout c6.pem $TR >c6.pem.log 2>&1
cert_ok hier_p10cr c6.pem k6.pem "CN=p10 dev"

# --- rr: every CRLReason (RFC 5280 5.3.1), each on a certificate of its own,
# signed by that certificate
good=0
for r in 0 1 2 3 4 5 9 10; do
	eckey rk$r.pem
	openssl cmp -cmd ir $S $MAC -newkey rk$r.pem -subject /CN=rr$r -certout rc$r.pem \
	    $TR >rc$r.log 2>&1
	openssl cmp -cmd rr $S -cert rc$r.pem -key rk$r.pem -oldcert rc$r.pem \
	    -revreason $r $TR >rr$r.log 2>&1
	if to_root rc$r.pem && grep -q "received RP" rr$r.log && ! grep -q "CMP error" rr$r.log &&
	    [ "$(db "SELECT reason FROM certs WHERE serial = '$(serial rc$r.pem)' AND revoked_at IS NOT NULL")" = $r ]; then
		good=$((good + 1))
	else
		echo "# reason $r: $(grep -v 'CMP info' rr$r.log | tail -2)"
	fi
done
check hier_rr_every_reason '[ $good -eq 8 ]'
# a revoked certificate is no credential
openssl cmp -cmd cr $S -cert rc1.pem -key rk1.pem -subject /CN=x -certout x.pem $TR \
    >rrcr.log 2>&1
failinfo hier_revoked_certRevoked rrcr.log certRevoked
# ... and its revocation is final: removeFromCRL (by the administrator) is refused
openssl cmp -cmd rr $S $ADM -oldcert rc1.pem -revreason 8 $TR >rr8a.log 2>&1
failinfo hier_remove_revoked_badRequest rr8a.log badRequest

# --- certificateHold: suspended, released by removeFromCRL, then valid again
eckey kh.pem
openssl cmp -cmd ir $S $MAC -newkey kh.pem -subject /CN=held -certout ch.pem $TR \
    >ch.pem.log 2>&1
openssl cmp -cmd rr $S $ADM -oldcert ch.pem -revreason 8 $TR >rr8b.log 2>&1
failinfo hier_remove_not_held_badRequest rr8b.log badRequest
openssl cmp -cmd rr $S -cert ch.pem -key kh.pem -oldcert ch.pem -revreason 6 $TR \
    >rr6.log 2>&1
check hier_hold 'grep -q "received RP" rr6.log && ! grep -q "CMP error" rr6.log &&
    [ "$(db "SELECT reason FROM certs WHERE serial = '"'$(serial ch.pem)'"' AND revoked_at IS NOT NULL")" = 6 ]'
openssl cmp -cmd cr $S -cert ch.pem -key kh.pem -subject /CN=x -certout x.pem $TR \
    >hcr.log 2>&1
failinfo hier_held_certRevoked hcr.log certRevoked
openssl cmp -cmd rr $S $ADM -oldcert ch.pem -revreason 6 $TR >rr6b.log 2>&1
failinfo hier_hold_twice_certRevoked rr6b.log certRevoked
openssl cmp -cmd rr $S $ADM -oldcert ch.pem -revreason 8 $TR >rr8.log 2>&1
check hier_remove_from_crl 'grep -q "received RP" rr8.log && ! grep -q "CMP error" rr8.log &&
    [ -z "$(db "SELECT revoked_at FROM certs WHERE serial = '"'$(serial ch.pem)'"'")" ]'
eckey k7.pem
openssl cmp -cmd cr $S -cert ch.pem -key kh.pem -newkey k7.pem \
    -certout c7.pem $TR >c7.pem.log 2>&1
cert_ok hier_released_valid_again c7.pem k7.pem "CN=held"

# --- genm: the genp contents as cmpdump decodes them
genm() {	# INFOTYPE: genp in genp-INFOTYPE.der, its dump in .txt
	openssl cmp -cmd genm $S $MAC -infotype "$1" $TR -rspout "genp-$1.der" \
	    >"genm-$1.log" 2>&1
	"$CMPDUMP" --secret "$(cat default.secret)" "genp-$1.der" >"genp-$1.txt" 2>&1
}
genm caCerts
check hier_genm_caCerts 'grep -q "received GENP" genm-caCerts.log &&
    grep -q "caCerts (1.3.6.1.5.5.7.4.17): 3 certificates" genp-caCerts.txt &&
    grep -A1 "^    \[0\]" genp-caCerts.txt | grep -q "subject: O=pkish test, CN=Test Issuing CA" &&
    grep -A1 "^    \[2\]" genp-caCerts.txt | grep -q "subject: O=pkish test, CN=Test Root CA" &&
    grep -q "protection check: OK" genp-caCerts.txt' "$(cat genp-caCerts.txt genm-caCerts.log)"
# OpenSSL 3.0 asks with id-it-rootCaKeyUpdate; the answer links the roots
genm rootCaKeyUpdate
check hier_genm_rootCaKeyUpdate 'grep -q "received GENP" genm-rootCaKeyUpdate.log &&
    grep -q "rootCaKeyUpdate (1.3.6.1.5.5.7.4.18):" genp-rootCaKeyUpdate.txt &&
    grep -q "newWithOld holds newWithNew.s key: yes" genp-rootCaKeyUpdate.txt &&
    grep -q "newWithOld verifies with the old key: yes" genp-rootCaKeyUpdate.txt &&
    grep -q "oldWithNew verifies with the new key: yes" genp-rootCaKeyUpdate.txt &&
    grep -q "^pvno: 2" genp-rootCaKeyUpdate.txt' "$(cat genp-rootCaKeyUpdate.txt)"
genm certReqTemplate
check hier_genm_certReqTemplate 'grep -q "certReqTemplate (1.3.6.1.5.5.7.4.19):" genp-certReqTemplate.txt &&
    grep -q "rsaKeyLen 2048" genp-certReqTemplate.txt &&
    grep -q "algId id-ecPublicKey prime256v1" genp-certReqTemplate.txt &&
    grep -q "algId ED25519" genp-certReqTemplate.txt' "$(cat genp-certReqTemplate.txt)"
genm signKeyPairTypes
check hier_genm_signKeyPairTypes 'grep -q "signKeyPairTypes (1.3.6.1.5.5.7.4.2): rsaEncryption, id-ecPublicKey prime256v1, id-ecPublicKey secp384r1, id-ecPublicKey secp521r1, ED25519, ED448" genp-signKeyPairTypes.txt' \
    "$(cat genp-signKeyPairTypes.txt)"
# an infoType cmpca does not know is left out (RFC 4210 5.3.19)
genm currentCRL
check hier_genm_unknown_omitted 'grep -q "received GENP" genm-currentCRL.log &&
    grep -q "^infoTypes: 0" genp-currentCRL.txt'

# --- implicit confirmation on the default profile: no certConf
eckey k8.pem
openssl cmp -cmd ir $S $MAC -newkey k8.pem -subject /CN=implicit -implicit_confirm \
    -certout c8.pem $TR -reqout ic1.der,ic2.der >c8.pem.log 2>&1
cert_ok hier_implicit_confirm c8.pem k8.pem "CN=implicit"
check hier_implicit_no_certconf '[ -s ic1.der ] && [ ! -e ic2.der ]'

# --- profile a (RFC 9811 labelled path): polls twice, no implicit confirmation
A="-server 127.0.0.1:$port -path /.well-known/cmp/p/a -ref ref-a -secret file:a.secret"
eckey k9.pem
openssl cmp -cmd ir $A -newkey k9.pem -subject /CN=polled -implicit_confirm \
    -certout c9.pem $TR >c9.pem.log 2>&1
cert_ok hier_profile_polling c9.pem k9.pem "CN=polled"
check hier_profile_polled 'grep -q "received POLLREP" c9.pem.log && grep -q "sending CERTCONF" c9.pem.log &&
    [ "$(db "SELECT poll_count || profile FROM transactions t JOIN certs c ON c.tid = t.tid WHERE c.serial = '"'$(serial c9.pem)'"'")" = 2a ]'

# --- two profiles, two secrets: a's secret on b's path is refused, b's works
B="-server 127.0.0.1:$port -path /b/"
openssl cmp -cmd ir $B -ref ref-a -secret file:a.secret -newkey k9.pem -subject /CN=x \
    -certout x.pem $TR >ab.log 2>&1
failinfo hier_secret_of_a_on_b_badMessageCheck ab.log badMessageCheck
check hier_secret_of_a_on_b_no_cert '[ ! -s x.pem ]'
eckey k10.pem
openssl cmp -cmd ir $B -ref ref-b -secret file:b.secret -newkey k10.pem -subject /CN=on-b \
    -certout c10.pem $TR >c10.pem.log 2>&1
cert_ok hier_profile_b c10.pem k10.pem "CN=on-b"
# b sets allow-subject-change: a cr signed by c10 names another subject; the
# default profile refuses the same request
eckey k11.pem
openssl cmp -cmd cr $S -cert c10.pem -key k10.pem -newkey k11.pem -subject /CN=renamed \
    -certout x.pem $TR >crdef.log 2>&1
failinfo hier_subject_change_default_badCertTemplate crdef.log badCertTemplate
openssl cmp -cmd cr $B -cert c10.pem -key k10.pem -newkey k11.pem -subject /CN=renamed \
    -certout c11.pem $TR >c11.pem.log 2>&1
cert_ok hier_profile_b_allow_subject_change c11.pem k11.pem "CN=renamed"
# the vendor root is a trust anchor of the default profile only
openssl cmp -cmd ir $B -cert pki/vdev.crt -key pki/vdev.key -newkey k10.pem -subject /CN=x \
    -certout x.pem $TR >bv.log 2>&1
failinfo hier_trust_per_profile_signerNotTrusted bv.log signerNotTrusted

# --- a path that is not served: 404, nothing issued
n0=$(db "SELECT count(*) FROM certs")
openssl cmp -cmd ir -server 127.0.0.1:$port -path /PKIX/ $MAC -newkey k10.pem \
    -subject /CN=x -certout x.pem >p404.log 2>&1
check hier_wrong_path_404 'grep -q "code=404" p404.log && [ ! -s x.pem ] &&
    [ "$(db "SELECT count(*) FROM certs")" = "$n0" ]' "$(grep -v 'CMP info' p404.log | tail -2)"

# --- everything issued is v3 and verifies to the root
allv3=1
for c in c1 c2 c3 c4 c5 c6 c7 c8 c9 c10; do
	openssl x509 -in $c.pem -noout -text 2>/dev/null | grep -q "Version: 3 (0x2)" &&
	    to_root $c.pem ||
	    { allv3=0; echo "# $c"; }
done
check hier_all_v3_to_root '[ $allv3 = 1 ]'
exit 0
