#!/bin/sh
# CA certificates from the CA (RFC 9483 4.3.1, issue 17 point 4): the real
# pkish in batch mode runs `pki cmp ca-certificates session S` against the real
# cmpca serving the issuing CA of a three-level hierarchy (test/mkpki.sh). With
# MAC: the issuing, intermediate and root certificates come in a genp and are
# saved as S_ca0.cer.. (byte-identical to the CA's), shown with subject, issuer,
# validity and SHA-256 fingerprint (as openssl computes it), and NOT imported.
# With signature (the CA certificates imported, a certificate from an IR):
# the signed genp is verified. Refused, with nothing written: a genp stripped of its
# protection, one with a flipped MAC, a signed genp from a CA not imported, a
# genp without caCerts (through faultsrv, test/prog/faultsrv.c, breaking a
# real cmpca exchange), a wrong secret (the CA's error reported), a session
# without URL. Prints "ok NAME" / "FAIL NAME". KEEP=1 keeps the directory.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-genm.XXXXXX")
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
sh "$top/test/mkpki.sh" pki || { fail genm-pki "test/mkpki.sh failed"; exit 1; }
umask 077
printf 'genm-secret\n' >ca.secret
umask 022
cat >cmpca.conf <<EOF
dir         = $tmp/ca
ca-cert     = pki/issuing.crt
ca-key      = pki/issuing.key
extra-certs = pki/chain.pem
ref         = gref
secret-file = ca.secret
EOF
cmpca_start "$tmp/ca" "$tmp/ca.log" 127.0.0.1:0 --config cmpca.conf ||
	{ fail genm-cmpca-start "$(cat "$tmp/ca.log")"; exit 1; }
ca_url=$url

# start_fault NAME: faultsrv before cmpca; sets furl
start_fault() {
	"$b/test/faultsrv" --upstream "$ca_url" --fault "$1" \
		--secret genm-secret >"fs-$1.log" 2>&1 &
	pids="$pids $!"
	furl=""
	_i=0
	while [ $_i -lt 100 ] && [ -z "$furl" ]; do
		furl=$(sed -n 's/^faultsrv: listening on \(http:[^ ]*\)$/\1/p' "fs-$1.log")
		[ -n "$furl" ] || sleep 0.05
		_i=$((_i + 1))
	done
}
# session NAME URL [SECRET]: a MAC session's lines (no entity, no key pair:
# a genm needs neither)
session() {
	echo "pki cmp session $1"
	echo " cmp-request server url $2"
	echo " cmp-request message-authentication-code gref ${3:-genm-secret}"
	echo " cmp-request timeout 10"
	echo "quit"
}
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^[^=]*=//'; }
der() { openssl x509 -in "$1" -outform DER | od -An -tx1; }
same() { [ -s "$1" ] && [ "$(der "$1")" = "$(der "$2")" ]; }

# --- MAC: the CA's chain comes, is saved and shown, nothing is imported
F=flash
{ echo system-view; session s "$ca_url"; echo "pki cmp ca-certificates session s"
  echo "display pki certificate ca"; } >mac.cfg
"$b/pkish" --no-startup --flash $F -f mac.cfg >mac.out 2>&1; rc=$?
P=$F/pki/public
check genm-mac-saved '[ $rc -eq 0 ] && same $P/s_ca0.cer pki/issuing.crt &&
    same $P/s_ca1.cer pki/int.crt && same $P/s_ca2.cer pki/root.crt &&
    [ ! -e $P/s_ca3.cer ]' "$(cat mac.out)"
check genm-mac-shown 'grep -q "^Info: The CA sent 3 CA certificates; they are not imported" mac.out &&
    grep -q "^Info: CA certificate saved as flash:/pki/public/s_ca2.cer.$" mac.out &&
    grep -q "^  Subject            : O=pkish test, CN=Test Issuing CA$" mac.out &&
    grep -q "^  Issuer             : O=pkish test, CN=Test Intermediate CA$" mac.out &&
    grep -q "^  Issuer             : O=pkish test, CN=Test Root CA (self-signed)$" mac.out &&
    grep -q "^  SHA256 fingerprint : $(fp pki/root.crt)$" mac.out &&
    grep -q "^  SHA256 fingerprint : $(fp pki/int.crt)$" mac.out &&
    grep -q "^  Valid from 20..-..-.. ..:..:.. UTC to 20..-..-.. ..:..:.. UTC$" mac.out' "$(cat mac.out)"
check genm-mac-not-imported 'grep -q "^ *Total Number: 0" mac.out' "$(cat mac.out)"
check genm-mac-file-mode '[ "$(stat -c %a $P/s_ca0.cer)" = 644 ] &&
    ! ls -a $P | grep -q "^\.*tmp"' "$(ls -la $P)"

# --- signature: the operator imports the CA certificates that came (after
# checking their fingerprints), an IR with MAC gives the device a certificate,
# and a signed genm gets a signed genp that verifies under the imported root
{
	echo system-view
	for i in 0 1 2; do echo "pki import-certificate ca filename s_ca$i.cer"; done
	echo "pki ecc curve-name prime256v1 local-key-pair create k"
	echo "pki entity dev"
	echo " common-name dev.example.com"
	echo "quit"
	session i "$ca_url"
	echo "pki cmp session i"
	echo " cmp-request entity dev"
	echo " cmp-request ecc local-key-pair k"
	echo "quit"
	echo "pki cmp initial-request session i"
	echo "pki cmp session g"
	echo " cmp-request server url $ca_url"
	echo " cmp-request origin-authentication-method signature"
	echo " cmp-request authentication-cert i_ir.cer"
	echo "quit"
	echo "pki cmp ca-certificates session g"
	echo "display pki cmp session g"
	echo "return"
	echo "save"
} >sig.cfg
"$b/pkish" --flash $F -f sig.cfg >sig.out 2>&1; rc=$?
check genm-signed '[ $rc -eq 0 ] && same $P/g_ca1.cer pki/int.crt &&
    grep -q "^Info: The CA sent 3 CA certificates" sig.out &&
    grep -q "^ Last Result             : caCerts: 3 CA certificates saved$" sig.out' "$(cat sig.out)"

# the same device with another CA imported instead of the hierarchy's: the
# signed genp's signer chains to nothing imported, so it is refused and
# nothing is written
cp pki/vroot.crt $P/vroot.crt
{
	echo system-view
	for i in 0 1 2; do echo "pki delete-certificate ca filename s_ca$i.cer"; done
	echo "pki import-certificate ca filename vroot.crt"
	echo "pki cmp ca-certificates session g"
} >untrusted.cfg
rm -f $P/g_ca*.cer
"$b/pkish" --flash $F -f untrusted.cfg >untrusted.out 2>&1; rc=$?
check genm-signed-untrusted-refused '[ $rc -ne 0 ] && [ ! -e $P/g_ca0.cer ] &&
    grep -q "^Error: The CA certificates request of the CMP session g failed: RFC 4210 5.1.3: the genp answering our genm is not authenticated: .*not trusted" untrusted.out' "$(cat untrusted.out)"

# --- hostile answers through faultsrv: nothing written, the cause named
# hostile NAME FAULT PATTERN
hostile() {
	start_fault "$2"
	H=flash-$2
	{ echo system-view; session h "$furl"; echo "pki cmp ca-certificates session h"; } >h-$2.cfg
	"$b/pkish" --no-startup --flash $H -f h-$2.cfg >h-$2.out 2>&1; _rc=$?
	if [ -n "$furl" ] && [ $_rc -ne 0 ] && [ ! -e $H/pki/public/h_ca0.cer ] &&
	    grep -q "^Error: The CA certificates request of the CMP session h failed: $3" h-$2.out; then
		ok "$1"
	else
		fail "$1" "$(cat h-$2.out fs-$2.log)"
	fi
}
hostile genm-unprotected-refused strip-protection "RFC 4210 5.1.3: the genp answering our genm is not protected"
hostile genm-bad-mac-refused flip-protection "RFC 4210 5.1.3: the genp answering our genm is not authenticated: .*MAC"
hostile genm-no-cacerts empty-genp "the genp holds no caCerts (RFC 9483 4.3.1)"
hostile genm-wrong-tid wrong-tid "RFC 4210 5.1.1: the transactionID of the genp is not the request's"

# --- the CA refuses (wrong secret): its error reported, nothing written
W=flash-w
{ echo system-view; session w "$ca_url" wrong-secret; echo "pki cmp ca-certificates session w"; } >w.cfg
"$b/pkish" --no-startup --flash $W -f w.cfg >w.out 2>&1; rc=$?
check genm-ca-error '[ $rc -ne 0 ] && [ ! -e $W/pki/public/w_ca0.cer ] &&
    grep -q "^Error: The CA certificates request of the CMP session w failed: the CA answered with an error message: rejection, failInfo: badMessageCheck" w.out' "$(cat w.out)"

# --- checked before anything is sent
{ echo system-view; echo "pki cmp session n"; echo "quit"; echo "pki cmp ca-certificates session n"; } >n.cfg
"$b/pkish" --no-startup --flash flash-n -f n.cfg >n.out 2>&1; rc=$?
check genm-no-url '[ $rc -ne 0 ] && grep -q "^Error: The CMP session n has no server URL configured.$" n.out' "$(cat n.out)"
