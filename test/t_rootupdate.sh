#!/bin/sh
# Root CA key rollover followed by the device (RFC 9480 2.15, RFC 9483 4.3.2,
# issue 17 point 5). The real cmpca serves the issuing CA of a three-level
# hierarchy whose root was rolled over (test/mkpki.sh: oldroot.crt before,
# root.crt after, newwithold.crt / oldwithnew.crt linking them;
# --previous-ca-cert). The real pkish trusts only the old root:
#   - `pki cmp root-ca-update session S` asks with genm rootCaCert (the old
#     root), verifies the rollover under the old root and installs the new
#     root as S_root_XXXXXXXX.cer beside the old one (both imported), shown in
#     `display pki cmp session`; a signed KUR answer chaining to the new root
#     is refused before and accepted after;
#   - the daemon (auto-update enabled) asks at its start, installs and logs it;
#   - attacker rollovers put into a real genp by faultsrv (re-protected with
#     the MAC secret, so only the rollover rules can catch them): newWithOld
#     signed by another key, newWithNew not a CA, newWithOld holding another
#     key than newWithNew, no newWithOld: refused with the rule, nothing
#     installed;
#   - the openssl cmp 3.0 -port mock (it echoes the genm's ITAVs): "the CA did
#     not answer rootCaKeyUpdate", nothing installed.
# Prints "ok NAME" / "FAIL NAME". KEEP=1 keeps the directory.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-root.XXXXXX")
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
sh "$top/test/mkpki.sh" pki || { fail root-pki "test/mkpki.sh failed"; exit 1; }
umask 077
printf 'root-secret\n' >ca.secret
umask 022
cat >cmpca.conf <<EOF
dir              = $tmp/ca
ca-cert          = pki/issuing.crt
ca-key           = pki/issuing.key
extra-certs      = pki/chain.pem
previous-ca-cert = pki/rollover.pem
ref              = rref
secret-file      = ca.secret
EOF
cmpca_start "$tmp/ca" "$tmp/ca.log" 127.0.0.1:0 --config cmpca.conf ||
	{ fail root-cmpca-start "$(cat "$tmp/ca.log")"; exit 1; }
ca_url=$url

fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^[^=]*=//'; }
der() { openssl x509 -in "$1" -outform DER | od -An -tx1; }
same() { [ -s "$1" ] && [ "$(der "$1")" = "$(der "$2")" ]; }
NEWFP=$(fp pki/root.crt)
NEWFILE=r_root_$(echo "$NEWFP" | tr -d : | cut -c1-8).cer

# device DIR: a flash with the old root (the only root it trusts) and the
# intermediate and issuing CA certificates
device() {
	mkdir -p "$1/pki/public"
	cp pki/oldroot.crt "$1/pki/public/oldroot.cer"
	cp pki/int.crt "$1/pki/public/int.cer"
	cp pki/issuing.crt "$1/pki/public/issuing.cer"
}
# session NAME URL: a MAC session with an entity and a key pair
session() {
	echo "pki cmp session $1"
	echo " cmp-request server url $2"
	echo " cmp-request message-authentication-code rref root-secret"
	echo " cmp-request entity dev"
	echo " cmp-request ecc local-key-pair k"
	echo " cmp-request timeout 10"
	echo "quit"
}
prologue() {
	echo system-view
	echo "pki import-certificate ca filename oldroot.cer"
	echo "pki import-certificate ca filename int.cer"
	echo "pki import-certificate ca filename issuing.cer"
	echo "pki ecc curve-name prime256v1 local-key-pair create k"
	echo "pki entity dev"
	echo " common-name dev.example.com"
	echo "quit"
}

# --- the console. The device got its certificate (IR) while it trusted the
# new hierarchy, which is then deleted: it trusts the old root only. A KUR
# whose signed answer chains to the new root (through the issuing and
# intermediate CA in its extraCerts) is refused; the root update installs the
# new root; then the same KUR passes.
F=flash
device $F
P=$F/pki/public
cp pki/root.crt $P/tmproot.cer
{
	prologue
	echo "pki import-certificate ca filename tmproot.cer"
	session r "$ca_url"
	echo "pki cmp initial-request session r"
	for c in tmproot int issuing; do echo "pki delete-certificate ca filename $c.cer"; done
	echo "pki cmp session r"
	echo " cmp-request authentication-cert r_ir.cer"
	echo "quit"
	echo "pki cmp keyupdate-request session r"
	echo "return"
	echo "save"
} >before.cfg
"$b/pkish" --no-startup --flash $F -f before.cfg >before.out 2>&1
rm -f $P/tmproot.cer
check root-kur-refused-before '[ -s $P/r_ir.cer ] && [ ! -e $P/r_kur.cer ] &&
    grep -q "^Error: The keyupdate-request of the CMP session r failed: .*not trusted" before.out &&
    [ ! -e $P/$NEWFILE ]' "$(cat before.out)"
{
	echo system-view
	echo "pki cmp root-ca-update session r"
	echo "display pki cmp session r"
	echo "display pki certificate ca"
	echo "pki cmp keyupdate-request session r"
	echo "pki cmp root-ca-update session r"
} >upd.cfg
"$b/pkish" --flash $F -f upd.cfg >upd.out 2>&1
check root-installed 'same $P/$NEWFILE pki/root.crt &&
    grep -q "^Info: The CA.s new root CA certificate verified under the old root oldroot.cer (newWithOld) and was installed as flash:/pki/public/$NEWFILE; the old root stays.$" upd.out &&
    grep -q "^  SHA256 fingerprint : $NEWFP$" upd.out &&
    [ "$(stat -c %a $P/$NEWFILE)" = 644 ]' "$(cat upd.out)"
check root-both-imported 'grep -q "Total Number: 2" upd.out &&
    grep -q "Certificate file name: oldroot.cer" upd.out &&
    grep -q "Certificate file name: $NEWFILE" upd.out' "$(cat upd.out)"
check root-display 'grep -q "^ Root CA Check           : 20..-..-.. ..:..:.. UTC, new root CA certificate installed as $NEWFILE (the old root oldroot.cer stays)$" upd.out &&
    grep -q "^ New Root CA             : $NEWFILE, SHA256 $NEWFP$" upd.out' "$(cat upd.out)"
check root-kur-after '[ -s $P/r_kur.cer ] && ! grep -q "^Error: The keyupdate-request" upd.out &&
    openssl verify -CAfile pki/root.crt -untrusted pki/untrusted.pem $P/r_kur.cer >/dev/null 2>&1' "$(cat upd.out)"
# asked again: about the new root now, which is current: no update
check root-asked-again 'grep -q "^Info: The CA has no update of the root CA certificate $NEWFILE.$" upd.out' "$(cat upd.out)"

# --- the daemon: auto-update enabled, it asks at its start, installs, logs.
# (The device got its certificate while it trusted the new root, which is
# then deleted: it trusts the old root only when the daemon starts.)
D=flash-d
device $D
cp pki/root.crt $D/pki/public/tmproot.cer
{
	prologue
	echo "pki import-certificate ca filename tmproot.cer"
	session a "$ca_url"
	echo "pki cmp initial-request session a"
	echo "pki delete-certificate ca filename tmproot.cer"
	echo "pki cmp session a"
	echo " cmp-request ca-name \"O=pkish test, CN=Test Issuing CA\""
	echo " cmp-request authentication-cert a_ir.cer"
	echo " certificate auto-update enable"
	echo "quit"
	echo "return"
	echo "save"
} >d.cfg
"$b/pkish" --no-startup --flash $D -f d.cfg >d.out 2>&1 </dev/null
rm -f $D/pki/public/tmproot.cer
DNEW=a_root_$(echo "$NEWFP" | tr -d : | cut -c1-8).cer
(unset JOURNAL_STREAM; exec "$b/pkish" --daemon --flash $D 2>daemon.err >/dev/null) &
dpid=$!
pids="$pids $dpid"
i=0
while [ $i -lt 100 ] && ! grep -q "root CA certificate" daemon.err; do
	sleep 0.1
	i=$((i + 1))
done
kill -TERM $dpid 2>/dev/null
wait $dpid 2>/dev/null
check root-daemon-installed 'same $D/pki/public/$DNEW pki/root.crt &&
    grep -q "The CMP session a installed the CA.s new root CA certificate (RFC 9480 2.15, verified under the old root oldroot.cer): flash:/pki/public/$DNEW, subject O=pkish test, CN=Test Root CA, SHA256 fingerprint $NEWFP.$" daemon.err' "$(cat d.out daemon.err)"
echo "display pki certificate ca" >d2.cfg
"$b/pkish" --flash $D -f d2.cfg >d2.out 2>&1
check root-daemon-imported 'grep -q "Total Number: 4" d2.out && grep -q "Certificate file name: $DNEW" d2.out &&
    grep -q "Certificate file name: oldroot.cer" d2.out' "$(cat d2.out)"

# --- attacker rollovers through faultsrv, in a real genp re-protected with
# the secret: refused with the broken rule, nothing installed
cd pki
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out evil.key 2>/dev/null
# evil.crt: an attacker's root with the right name and its own key
openssl req -config mk.cnf -x509 -new -key evil.key -subj "/O=pkish test/CN=Test Root CA" \
    -days 30 -extensions ca -out evil.crt 2>/dev/null
# newWithOld for evil's key, but signed by evil itself (not the old root)
openssl x509 -x509toreq -in evil.crt -signkey evil.key -out evil.csr 2>/dev/null
openssl x509 -req -in evil.csr -CA evil.crt -CAkey evil.key -CAcreateserial \
    -days 30 -extfile mk.cnf -extensions ca -out evilwithevil.crt 2>/dev/null
cat evil.crt evilwithevil.crt >bad-signer.pem
# newWithNew not a CA: self-signed end-entity with a newWithOld the old root signed
openssl req -config mk.cnf -x509 -new -key evil.key -subj "/O=pkish test/CN=Test Root CA" \
    -days 30 -extensions ee -out evilee.crt 2>/dev/null
openssl x509 -req -in evil.csr -CA oldroot.crt -CAkey oldroot.key -CAcreateserial \
    -days 30 -extfile mk.cnf -extensions ca -out evilwithold.crt 2>/dev/null
cat evilee.crt evilwithold.crt >not-ca.pem
# the real new root, with a newWithOld (signed by the old root) for evil's key
cat root.crt evilwithold.crt >key-mismatch.pem
# the real new root alone: no newWithOld to verify it with
cat root.crt >no-link.pem
cd ..
# hostile NAME PEM PATTERN
hostile() {
	"$b/test/faultsrv" --upstream "$ca_url" --fault root-update \
	    --root-update "pki/$2" --secret root-secret >"fs-$1.log" 2>&1 &
	pids="$pids $!"
	furl=""
	_i=0
	while [ $_i -lt 100 ] && [ -z "$furl" ]; do
		furl=$(sed -n 's/^faultsrv: listening on \(http:[^ ]*\)$/\1/p' "fs-$1.log")
		[ -n "$furl" ] || sleep 0.05
		_i=$((_i + 1))
	done
	H=flash-$1
	device $H
	{ prologue; session h "$furl"; echo "pki cmp root-ca-update session h"
	  echo "display pki certificate ca"; echo "display pki cmp session h"; } >h-$1.cfg
	"$b/pkish" --no-startup --flash $H -f h-$1.cfg >h-$1.out 2>&1
	if [ -n "$furl" ] && ! ls $H/pki/public | grep -q "_root_" &&
	    grep -q "Total Number: 3" h-$1.out &&
	    grep -q "faultsrv: root-update: genp" "fs-$1.log" &&
	    grep -q "^Error: The root CA update request of the CMP session h failed: the CA.s new root CA certificate is refused, nothing is installed: $3" h-$1.out &&
	    grep -q "^ Root CA Check           : .*, failed: the CA.s new root" h-$1.out; then
		ok "$1"
	else
		fail "$1" "$(cat h-$1.out fs-$1.log)"
	fi
}
hostile root-refused-wrong-signer bad-signer.pem "RFC 4210 4.4: newWithOld does not verify under the old root's key"
hostile root-refused-not-ca not-ca.pem "RFC 4210 4.4: newWithNew is not a CA certificate"
hostile root-refused-key-mismatch key-mismatch.pem "RFC 4210 4.4: newWithOld does not hold newWithNew's public key"
hostile root-refused-no-link no-link.pem "RFC 9483 4.3.2: newWithOld is missing"

# --- the openssl cmp 3.0 mock echoes the genm's ITAVs: no rootCaKeyUpdate
# a free port, retried when the bind loses a race (an ephemeral port of a
# connection the port check could not see)
mport=$(( (($$ * 7) % 20000) + 30000 ))
up=0
for try in 1 2 3 4 5; do
	while (echo >/dev/tcp/127.0.0.1/$mport) 2>/dev/null; do mport=$((mport + 1)); done
	openssl cmp -port "$mport" -srv_ref rref -srv_secret pass:root-secret \
	    -rsp_cert pki/sibling.crt >mock.log 2>&1 &
	mpid=$!
	i=0
	while [ $i -lt 100 ] && kill -0 $mpid 2>/dev/null &&
	    ! (echo >/dev/tcp/127.0.0.1/$mport) 2>/dev/null; do
		sleep 0.05
		i=$((i + 1))
	done
	if kill -0 $mpid 2>/dev/null; then
		pids="$pids $mpid"
		up=1
		break
	fi
	wait $mpid 2>/dev/null
	mport=$((mport + 17))
done
[ $up = 1 ] || fail root-mock-start "$(cat mock.log)"
M=flash-m
device $M
{ prologue; session m "http://127.0.0.1:$mport/pkix/"; echo "pki cmp root-ca-update session m"
  echo "display pki certificate ca"; } >m.cfg
"$b/pkish" --no-startup --flash $M -f m.cfg >m.out 2>&1
check root-mock-no-answer 'grep -q "^Error: The root CA update request of the CMP session m failed: the CA did not answer rootCaKeyUpdate (RFC 9483 4.3.2: its genp holds no id-it-rootCaKeyUpdate)$" m.out &&
    grep -q "Total Number: 3" m.out && ! ls $M/pki/public | grep -q "_root_"' "$(cat m.out mock.log)"

# --- checked before anything is sent: no root to ask about
{ echo system-view; echo "pki cmp session n"; echo " cmp-request server url $ca_url"
  echo " cmp-request message-authentication-code rref root-secret"; echo "quit"
  echo "pki cmp root-ca-update session n"; } >n.cfg
"$b/pkish" --no-startup --flash flash-n -f n.cfg >n.out 2>&1
check root-no-root 'grep -q "^Error: The CMP session n trusts no imported root CA certificate to ask an update of.$" n.out' "$(cat n.out)"
