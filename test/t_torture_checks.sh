#!/usr/bin/env bash
# The checkers of `make torture` can fail: flashcheck and cacheck pass on a sound
# flash and CA database, then find each planted fault (a torn key pair, a torn
# certificate, store modes, a journal left behind, a session certificate that
# does not hold its key, temporary files; a certificate a client received that
# the database lacks, a serial received twice, a damaged row).
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-tchk.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
. "$top/test/lib.sh"
FC=$b/torture/flashcheck
CC=$b/torture/cacheck
check() { if eval "$2"; then echo "ok $1"; else echo "FAIL $1"; cat "$tmp/out"; fi; }
cd "$tmp" || exit 1

# ---- flashcheck ----
F=$tmp/flash
"$b/pkish" --flash "$F" -c "system-view" \
	-c "pki ecc curve-name prime256v1 local-key-pair create k1" \
	-c "pki ecc curve-name prime256v1 local-key-pair create k2" >/dev/null 2>&1
k1=$F/pki/.store/key-6b31.pem
k2=$F/pki/.store/key-6b32.pem
openssl req -x509 -key "$k1" -subj /CN=one -days 3 -out "$F/pki/public/one.cer" 2>/dev/null
openssl req -x509 -key "$k2" -subj /CN=two -days 3 -out two.cer 2>/dev/null
"$b/pkish" --flash "$F" -c "system-view" -c "pki import-certificate local filename one.cer" \
	>/dev/null 2>&1
"$FC" "$F" --pair one.cer k1 >out
check flashcheck-sound-flash '[ $? -eq 0 ] && grep -q "keys=2 certs=1 public=1 temp=0 problems=0" out'

planted() {	# name, what to find, command that plants it in a copy G
	want=$2
	rm -rf G && cp -a "$F" G
	eval "$3"
	"$FC" G --pair one.cer k1 >out
	check "flashcheck-finds-$1" '[ $? -eq 1 ] && grep -q "PROBLEM: .*$want" out'
}
planted torn-key "key-6b32.pem does not parse" \
	'head -c 150 "$k2" >G/pki/.store/key-6b32.pem'
planted key-mode "key-6b31.pem has mode 0644" 'chmod 644 G/pki/.store/key-6b31.pem'
planted store-mode ".store has mode 0755" 'chmod 755 G/pki/.store'
planted journal "journal .*cmp-pending-41 is still there" \
	'cp G/pki/public/one.cer G/pki/.store/cmp-pending-41'
planted torn-public-cert "one.cer does not parse" \
	'head -c 200 "$F/pki/public/one.cer" >G/pki/public/one.cer'
planted pair-mismatch "one.cer does not hold the public key of its key pair k1" \
	'cp two.cer G/pki/public/one.cer'
planted torn-store-cert "cert-local-.* does not parse" \
	'for c in G/pki/.store/cert-local-*; do head -c 300 "$F/pki/.store/${c##*/}" >"$c"; done'
rm -rf G && cp -a "$F" G && echo x >G/vrpcfg.cfg.tmpAbC123 && echo y >G/pki/.store/key-6b31.pem.tmpXyZ987
"$FC" G >out
check flashcheck-counts-temp-files '[ $? -eq 0 ] && grep -q "temp=2 problems=0" out &&
	[ "$(grep -c "^flashcheck: TEMP: " out)" = 2 ]'

# ---- cacheck ----
cmpca_start "$tmp/ca" "$tmp/ca.log" 127.0.0.1:0 || { echo "FAIL cacheck-cmpca-start"; exit 1; }
"$b/cmpload" --url "$url" --ref cmpca --secret-file ca/secret --clients 2 --count 3 \
	--flow ir+kur --trusted ca/ca.crt --cert-log certs.pem >/dev/null 2>&1
"$CC" ca/ca.db certs.pem >out
check cacheck-sound-database '[ $? -eq 0 ] &&
	grep -q "integrity=ok certs=12 received=12 confirmed=12 unconfirmed=0 problems=0" out'
# a certificate a client received that the CA does not have
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
	-subj /CN=stranger -days 1 -out stranger.pem 2>/dev/null
s=$(openssl x509 -in stranger.pem -noout -serial | sed 's/^serial=//')
{ cat certs.pem; echo "cmpload: ir unconfirmed serial $s client 0"; cat stranger.pem; } >c2.pem
"$CC" ca/ca.db c2.pem >out
check cacheck-finds-missing-certificate '[ $? -eq 1 ] &&
	grep -q "PROBLEM: the unconfirmed certificate of serial $s that a client received is not in the database" out'
# the same serial received twice
{ cat certs.pem; sed -n "/^cmpload: /,/^-----END/p" certs.pem | head -n 20 |
	sed -n "1,/^-----END/p"; } >c3.pem
"$CC" ca/ca.db c3.pem >out
check cacheck-finds-serial-twice '[ $? -eq 1 ] && grep -q "PROBLEM: serial .* was received twice" out'
# a damaged row (the CA stopped first)
kill "$cmpca_pid"
wait "$cmpca_pid" 2>/dev/null
sqlite3 ca/ca.db "UPDATE certs SET der = X'3003020100' WHERE rowid = (SELECT min(rowid) FROM certs)"
"$CC" --rows ca/ca.db certs.pem >out
check cacheck-finds-damaged-row '[ $? -eq 1 ] &&
	grep -q "PROBLEM: the certificate of serial .* in the database does not parse" out &&
	grep -q "PROBLEM: the certificate of serial .* a client received differs from the database" out'
sqlite3 ca/ca.db "DELETE FROM certs WHERE rowid = (SELECT max(rowid) FROM certs)"
"$CC" ca/ca.db certs.pem >out
check cacheck-finds-deleted-row '[ $? -eq 1 ] &&
	grep -q "PROBLEM: the confirmed certificate of serial .* is not in the database" out'
exit 0
