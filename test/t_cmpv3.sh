#!/bin/sh
# CMP v3 (RFC 9480 2.20, pvno cmp2021) end to end: pkish sends pvno 2 (none of
# its messages needs cmp2021) and takes an answer with pvno 3: its IR runs
# through faultsrv (fault pvno3), which sets pvno 3 in cmpca's ip and
# re-protects it; the certificate is written and cmpdump shows the ip as it
# came (pvno 3, PBM verifying). cmpca answers the openssl cmp client (pvno 2)
# with pvno 2. Prints "ok NAME" / "FAIL NAME".
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-cmpv3.XXXXXX")
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

cmpca_start "$tmp/ca" "$tmp/ca.log" 127.0.0.1:0 --ref vref --secret vsecret ||
	{ fail cmpv3-cmpca-start "$(cat "$tmp/ca.log")"; exit 1; }
ca_url=$url
mkdir -p "$tmp/rec"
"$b/test/faultsrv" --upstream "$ca_url" --fault pvno3 --secret vsecret \
	--record "$tmp/rec" >"$tmp/fs.log" 2>&1 &
pids="$pids $!"
furl=""
i=0
while [ $i -lt 100 ] && [ -z "$furl" ]; do
	furl=$(sed -n 's/^faultsrv: listening on \(http:[^ ]*\)$/\1/p' "$tmp/fs.log")
	[ -n "$furl" ] || sleep 0.05
	i=$((i + 1))
done
[ -n "$furl" ] || { fail cmpv3-proxy-start "$(cat "$tmp/fs.log")"; exit 1; }

F="$tmp/flash"
"$b/pkish" --no-startup --flash "$F" -c "system-view" \
	-c "pki ecc curve-name prime256v1 local-key-pair create k" \
	-c "pki entity dev" -c " common-name dev.example.com" -c "quit" \
	-c "pki cmp session s" -c " cmp-request entity dev" \
	-c " cmp-request server url $furl" -c " cmp-request ecc local-key-pair k" \
	-c " cmp-request message-authentication-code vref vsecret" \
	-c " cmp-request timeout 10" -c "quit" \
	-c "pki cmp initial-request session s" >"$tmp/out" 2>&1
rc=$?
check cmpv3-ir-takes-pvno3 '[ $rc -eq 0 ] && [ -s "$F/pki/public/s_ir.cer" ] &&
	grep -q "^faultsrv: pvno3: ip of" "$tmp/fs.log"' "exit $rc: $(cat "$tmp/out" "$tmp/fs.log")"
ip=$(ls "$tmp/rec/"*-rsp-ip.der 2>/dev/null | head -n 1)
ir=$(ls "$tmp/rec/"*-req-ir.der 2>/dev/null | head -n 1)
check cmpv3-ip-was-pvno3 '[ -n "$ip" ] && "$b/cmpdump" --secret vsecret "$ip" >"$tmp/d" 2>&1 &&
	grep -qx "pvno: 3" "$tmp/d" && grep -q "^protection check: OK (PBM" "$tmp/d"'
check cmpv3-ir-sent-pvno2 '[ -n "$ir" ] && "$b/cmpdump" "$ir" | grep -qx "pvno: 2"'

# the openssl cmp client speaks pvno 2 and gets pvno 2 back
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/k1.pem" 2>/dev/null
openssl cmp -cmd ir -server "127.0.0.1:$port" -path pkix/ -ref vref -secret pass:vsecret \
	-newkey "$tmp/k1.pem" -subject "/CN=v3" -recipient "/CN=x" -certout "$tmp/c1.pem" \
	-unprotected_errors -rspout "$tmp/ip1.der" >"$tmp/o1" 2>&1
rc=$?
check cmpv3-openssl-pvno2 '[ $rc -eq 0 ] && "$b/cmpdump" "$tmp/ip1.der" | grep -qx "pvno: 2"' \
	"$(cat "$tmp/o1")"
