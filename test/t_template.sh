#!/bin/sh
# The CA's certificate request template (RFC 9483 4.3.3, issue 17 point 6): the
# real pkish in batch mode, a session with `cmp-request template-query enable`,
# against the real cmpca certifying only RSA of at least 3072 bits and EC
# P-384 (--key-types): an IR with an EC P-256 key is refused before it is sent,
# naming the mismatch (and, without the query, cmpca refuses it: the query is
# what saves the round trip); an IR with an RSA 3072 key goes; a KUR with
# `regenerate 2048` makes its new key 3072 bits as the template asks. Through
# faultsrv (test/prog/faultsrv.c, fault template-subject: the template fixes
# O=Forced Org): the subject gets the attribute when the entity has none, and a
# different organization is refused. Prints "ok NAME" / "FAIL NAME".
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-template.XXXXXX")
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
cmpca_start "$tmp/ca" "$tmp/ca.log" 127.0.0.1:0 --ref tref --secret tsecret \
	--key-types rsa:3072,ec:P-384 ||
	{ fail template-cmpca-start "$(cat "$tmp/ca.log")"; exit 1; }
ca_url=$url
# start_fs LOG: a faultsrv (it breaks the first answer only); sets furl
start_fs() {
	"$b/test/faultsrv" --upstream "$ca_url" --fault template-subject \
		--secret tsecret >"$1" 2>&1 &
	pids="$pids $!"
	furl=""
	_i=0
	while [ $_i -lt 100 ] && [ -z "$furl" ]; do
		furl=$(sed -n 's/^faultsrv: listening on \(http:[^ ]*\)$/\1/p' "$1")
		[ -n "$furl" ] || sleep 0.05
		_i=$((_i + 1))
	done
}

# session NAME KEYCMD [URL] [ENTITY]: a MAC session asking for the template
session() {
	echo "pki cmp session $1"
	echo " cmp-request entity ${4:-dev}"
	echo " cmp-request server url ${3:-$ca_url}"
	echo " cmp-request $2"
	echo " cmp-request message-authentication-code tref tsecret"
	echo " cmp-request template-query enable"
	echo "quit"
}
bits() { openssl x509 -in "$1" -noout -text | sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p'; }
F=flash
P=$F/pki/public
{
	echo system-view
	echo "pki ecc curve-name prime256v1 local-key-pair create e256"
	echo "pki rsa local-key-pair create r3072 modulus 3072"
	echo "pki entity dev"
	echo " common-name dev.example.com"
	echo "quit"
	echo "pki entity other"
	echo " common-name other.example.com"
	echo " organization \"Other Org\""
	echo "quit"
	session e "ecc local-key-pair e256"
	echo "pki cmp initial-request session e"
	echo "pki cmp session e"
	echo " undo cmp-request template-query enable"
	echo "quit"
	echo "pki cmp initial-request session e"
	session r "rsa local-key-pair r3072 regenerate 2048"
	echo "pki cmp initial-request session r"
	echo "pki import-certificate ca filename r_ca0.cer"
	echo "pki cmp session r"
	echo " cmp-request authentication-cert r_ir.cer"
	echo "quit"
	echo "pki cmp keyupdate-request session r"
	echo "display current-configuration"
	echo "return"
	echo "save"
} >run.cfg
"$b/pkish" --no-startup --flash $F -f run.cfg >run.out 2>&1
check template-ec-refused 'grep -q "^Error: The initial-request of the CMP session e failed: the key does not fit the CA.s certificate request template (RFC 9483 4.3.3): the CA certifies RSA of at least 3072 bits, EC secp384r1; the key pair e256 is EC prime256v1$" run.out &&
    [ ! -e $P/e_ir.cer ] && [ "$(grep -c "^Info: Sending ir" run.out)" -ge 1 ]' "$(cat run.out)"
# without the query the same IR goes out and cmpca refuses it
check template-ec-without-query 'sed -n "/undo cmp-request template-query/,\$p" run.out |
    grep -q "^Error: The initial-request of the CMP session e failed: the CA answered with an error message: rejection, failInfo: badCertTemplate"' "$(cat run.out)"
check template-rsa-fits 'grep -q "^Info: The key (RSA 3072 bits) fits the CA.s template (RSA of at least 3072 bits, EC secp384r1)$" run.out &&
    [ -s $P/r_ir.cer ] && [ "$(bits $P/r_ir.cer)" = 3072 ]' "$(cat run.out)"
check template-kur-regenerate-fitted 'grep -q "^Info: The CA.s template asks for RSA of at least 3072 bits, EC secp384r1: the new key pair has 3072 bits instead of 2048$" run.out &&
    [ -s $P/r_kur.cer ] && [ "$(bits $P/r_kur.cer)" = 3072 ] &&
    grep -q "^Info: The key pair r3072 was replaced by the new key pair.$" run.out' "$(cat run.out)"
check template-config-shown 'grep -q "^ cmp-request template-query enable$" run.out' "$(cat run.out)"

# --- the template fixes O=Forced Org (faultsrv): added, or a mismatch
start_fs fs.log
{
	echo system-view
	session f "rsa local-key-pair r3072" "$furl"
	echo "pki cmp initial-request session f"
} >f.cfg
"$b/pkish" --flash $F -f f.cfg >f.out 2>&1; rc=$?
subj=$(openssl x509 -in $P/f_ir.cer -noout -subject -nameopt RFC2253 2>/dev/null)
check template-subject-fitted '[ $rc -eq 0 ] && echo "$subj" | grep -q "O=Forced Org" &&
    grep -q "^Info: The CA.s template fixes subject attributes: the subject becomes CN=dev.example.com, O=Forced Org$" f.out' "$subj $(cat f.out fs.log)"
start_fs fs2.log
{
	echo system-view
	session o "rsa local-key-pair r3072" "$furl" other
	echo "pki cmp initial-request session o"
} >o.cfg
"$b/pkish" --flash $F -f o.cfg >o.out 2>&1; rc=$?
check template-subject-mismatch '[ $rc -ne 0 ] && [ ! -e $P/o_ir.cer ] &&
    grep -q "^Error: The initial-request of the CMP session o failed: the subject does not fit the CA.s certificate request template (RFC 9483 4.3.3): the CA fixes O=Forced Org, the entity gives O=Other Org$" o.out' "$(cat o.out fs2.log)"
