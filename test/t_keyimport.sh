#!/bin/sh
# Key pair import and export through the console, checked from outside with the
# openssl program: the imported key pair is the file's (RSA and EC, PEM plain and
# encrypted, PKCS#12), stored 0600 in the 0700 store, the file left in place;
# after a restart it is still there; the password never appears in the output,
# the store or the saved configuration; a PKCS#12 export opens with openssl and
# holds the key and its certificate; refusals change nothing.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-keyio.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
check() { if eval "$2"; then echo "ok $1"; else echo "FAIL $1"; cat "$tmp/out"; fi; }
F="$tmp/flash"
pub="$F/pki/public"
P="$b/pkish --flash $F"
mkdir -p "$pub"
cd "$tmp" || exit 1
pw=Imp0rtPass
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out rsa.key 2>/dev/null
openssl pkcs8 -topk8 -in rsa.key -v2 aes-256-cbc -passout pass:$pw -out "$pub/rsa.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp384r1 -out ec.key 2>/dev/null
cp ec.key "$pub/ec.pem"
openssl req -x509 -key rsa.key -subj "/CN=dev.example.com" -days 30 -out rsa.crt 2>/dev/null
openssl pkcs12 -export -inkey rsa.key -in rsa.crt -passout pass:$pw -out "$pub/dev.p12"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$pub/weak.pem" 2>/dev/null

$P --no-startup -c "system-view" \
	-c "pki import rsa-key-pair kr pem rsa.pem exportable password $pw" \
	-c "pki import ecc-key-pair ke pem ec.pem exportable" \
	-c "pki import rsa-key-pair kp pkcs12 dev.p12 exportable password $pw" \
	-c "pki export rsa-key-pair kr pem kr-out.pem password Export99" \
	-c "pki export ecc-key-pair ke pem ke-out.pem password Export99" \
	-c "pki export rsa-key-pair kp pkcs12 kp-out.p12 password Export99" \
	-c "return" -c "save" >out 2>&1
rc=$?
check keyimport-batch-succeeds '[ $rc -eq 0 ] && [ "$(grep -c "^Info: Succeeded in importing" out)" = 3 ]'
pubkey() { openssl pkey -in "$1" ${2:+-passin pass:$2} -pubout 2>/dev/null; }
check keyimport-rsa-pem-is-the-files-key '[ -n "$(pubkey rsa.key)" ] &&
	[ "$(pubkey rsa.key)" = "$(pubkey "$pub/kr-out.pem" Export99)" ]'
check keyimport-ec-pem-is-the-files-key '[ "$(pubkey ec.key)" = "$(pubkey "$pub/ke-out.pem" Export99)" ]'
openssl pkcs12 -in "$pub/kp-out.p12" -passin pass:Export99 -nodes -out kp.pem 2>/dev/null
check keyimport-pkcs12-export-opens-with-openssl '[ "$(pubkey kp.pem)" = "$(pubkey rsa.key)" ] &&
	openssl x509 -in kp.pem -noout -subject | grep -q "CN *= *dev.example.com"'
check keyimport-pkcs12-cert-imported 'grep -q "imported as the local certificate dev.p12" out &&
	$P -c "display pki certificate local filename dev.p12" | grep -q "Subject: CN=dev.example.com"'
check keyimport-files-left-in-place '[ -f "$pub/rsa.pem" ] && [ -f "$pub/ec.pem" ] && [ -f "$pub/dev.p12" ]'
modes=$(stat -c %a "$F/pki/.store"/key-* | sort -u)
check keyimport-stored-0600-in-0700 '[ "$modes" = 600 ] && [ "$(stat -c %a "$F/pki/.store")" = 700 ]'
check keyimport-password-never-shown '! grep -rq "$pw" out "$F" && ! grep -q Export99 out &&
	grep -q "password \*\*\*\*\*\*" out'
$P -c "display pki rsa local-key-pair public" -c "display pki ecc local-key-pair public" >out 2>&1
check keyimport-kept-after-restart 'grep -q "Key Name: kr" out && grep -q "Key Name: kp" out &&
	grep -q "Key Name: ke" out && grep -q "Key Curve: secp384r1" out'

# refusals change nothing: the store is the same file set before and after
ls "$F/pki/.store" >before
$P -c "system-view" -c "pki import rsa-key-pair w1 pem weak.pem" \
	-c "pki import rsa-key-pair w2 pem rsa.pem password wrong-one" \
	-c "pki import rsa-key-pair w3 pem rsa.pem" \
	-c "pki import ecc-key-pair w4 pem rsa.pem password $pw" \
	-c "pki import rsa-key-pair w5 pem ../rsa.pem password $pw" >out 2>err
ls "$F/pki/.store" >after
check keyimport-refusals-change-nothing '[ "$(grep -c "^Error:" out)" = 5 ] && cmp -s before after &&
	grep -qx "pkish: 5 of 6 lines failed (lines 2, 3, 4, 5, 6)" err'
check keyimport-refusals-worded 'grep -q "has 1024 bits" out && grep -q "wrong password" out &&
	grep -q "Incomplete command" out && grep -q "not an ECC key pair" out &&
	grep -q "Wrong parameter" out'
