#!/bin/sh
# A saved configuration is a replayable script (CLI.md batch mode): vrpcfg.cfg,
# the text of `display current-configuration`, starts with system-view content
# and is replayed from the user view with `pkish -f` and through stdin (as
# `ssh dev pkish < vrpcfg.cfg`) into a fresh flash holding the same device store
# (key pairs, imported certificates, sealing key; the certificate files gone):
# the same configuration comes back, without a failed line. On another device (a
# store with another sealing key) only the sealed secret's line fails, and says
# why; the rest is rebuilt.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-replay.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
check() { if eval "$2"; then echo "ok $1"; else echo "FAIL $1"; cat "$tmp/out" 2>/dev/null; fi; }
cd "$tmp" || exit 1
A="$tmp/a"
mkdir -p "$A/pki/public"

# the device: key pairs, a CA and a local certificate imported (files deleted)
"$b/pkish" --no-startup --flash "$A" -c "system-view" \
	-c "pki rsa local-key-pair create rk modulus 2048 exportable" \
	-c "pki ecc curve-name secp384r1 local-key-pair create ek" \
	-c "pki export rsa-key-pair rk pem rk.pem password pass1234" >/dev/null 2>&1
openssl pkey -in "$A/pki/public/rk.pem" -passin pass:pass1234 -out rk.key 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
	-out "$A/pki/public/ca.cer" -subj "/C=CN/O=Example/CN=Example CA" -days 30 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign 2>/dev/null
openssl req -new -key rk.key -subj "/CN=r1.example.com" -out r1.csr 2>/dev/null
openssl x509 -req -in r1.csr -CA "$A/pki/public/ca.cer" -CAkey ca.key \
	-CAcreateserial -days 10 -out "$A/pki/public/r1.cer" 2>/dev/null
cat >build.cfg <<'EOC'
system-view
sysname edge-7
pki import-certificate ca filename ca.cer
pki import-certificate local filename r1.cer
pki entity r1
 common-name r1.example.com
 country CN
 state "Bei Jing"
 organization "Example Networks"
 organization-unit Ops
 fqdn r1.example.com
 ip-address 2001:db8::7
 email ops@example.com
quit
pki entity r2
 common-name r2.example.com
quit
pki realm lab
 entity r2
 rsa local-key-pair rk
quit
pki cmp session main
 cmp-request entity r1
 cmp-request ca-name "C=CN,O=Example,CN=Example CA"
 cmp-request server url esc http://192.0.2.10:8080/pkix/\x3fca=1
 cmp-request rsa local-key-pair rk regenerate 3072
 cmp-request message-authentication-code ref-1 Secret-Of-Main
 cmp-request authentication-cert r1.cer
 cmp-request verification-cert ca.cer
 cmp-request integrity-algorithm hmac-sha1
 cmp-request implicit-confirm
 cmp-request timeout 300
 certificate update expire-time 80
 certificate auto-update enable
quit
pki cmp session second
 cmp-request entity r2
 cmp-request ecc local-key-pair ek regenerate
 cmp-request origin-authentication-method signature
quit
return
save
EOC
"$b/pkish" --no-startup --flash "$A" -f build.cfg >out 2>&1
check replay-device-configured '[ $? -eq 0 ] && [ -f "$A/vrpcfg.cfg" ]'
rm -f "$A/pki/public/ca.cer" "$A/pki/public/r1.cer"
# vrpcfg.cfg is VRP-like: system-view content, no system-view line
check replay-saved-file-vrp-like 'head -n 2 "$A/vrpcfg.cfg" | tail -n 1 | grep -qx "sysname edge-7" &&
	! grep -q "^system-view" "$A/vrpcfg.cfg" && tail -n 1 "$A/vrpcfg.cfg" | grep -qx return'

# a fresh flash with the same store, no configuration and no certificate files
fresh() { rm -rf "$1"; mkdir -p "$1/pki"; cp -a "$A/pki/.store" "$1/pki/"; }
show() { "$b/pkish" --flash "$1" -c "display current-configuration" 2>&1 | tail -n +2; }
B="$tmp/b"
fresh "$B"
"$b/pkish" --flash "$B" -f "$A/vrpcfg.cfg" -c "save" >out 2>&1
rc=$?
check replay-f-no-failed-line '[ $rc -eq 0 ] && ! grep -q "^Error" out'
check replay-f-enters-system-view 'grep -q "^\[pkish\]sysname edge-7" out &&
	grep -q "^<edge-7>save" out'
check replay-f-same-configuration 'cmp -s "$A/vrpcfg.cfg" "$B/vrpcfg.cfg" &&
	show "$B" | cmp -s - "$A/vrpcfg.cfg"'

C="$tmp/c"
fresh "$C"
{ cat "$A/vrpcfg.cfg"; echo save; } | "$b/pkish" --flash "$C" >out 2>&1
rc=$?
check replay-stdin-no-failed-line '[ $rc -eq 0 ] && ! grep -q "^Error" out'
check replay-stdin-same-configuration 'show "$C" | cmp -s - "$A/vrpcfg.cfg"'
# the startup load of the replayed (and saved) configuration: no complaint
"$b/pkish" --flash "$B" -c "display pki cmp session main" >out 2>&1
check replay-startup-load-clean '[ $? -eq 0 ] && ! grep -q "vrpcfg.cfg, line" out &&
	grep -q "Certificate Validity    : .* UTC to " out'

# another device: same key pairs and certificates, its own sealing key
D="$tmp/d"
fresh "$D"
rm -f "$D/pki/.store/seal.key"
"$b/pkish" --flash "$D" -f "$A/vrpcfg.cfg" >out 2>err
rc=$?
n=$(grep -n "message-authentication-code" "$A/vrpcfg.cfg" | cut -d: -f1)
check replay-other-device-only-sealed-secret-fails '[ $rc -eq 1 ] &&
	grep -qx "pkish: 1 of [0-9]* lines failed (lines $n)" err &&
	grep -q "^Error: The cipher text of the secret cannot be used" out'
"$b/pkish" --flash "$D" -f "$A/vrpcfg.cfg" -c "display current-configuration" 2>/dev/null |
	sed -n '/^<edge-7>display current-configuration/,$p' | tail -n +2 >d.cfg
check replay-other-device-rest-rebuilt '[ "$(diff "$A/vrpcfg.cfg" d.cfg | grep -c "^[<>]")" = 1 ] &&
	diff "$A/vrpcfg.cfg" d.cfg | grep -q "^< .*message-authentication-code ref-1 %^%#"'

# at the user view a line of neither view is still the user view's error
"$b/pkish" --no-startup --flash "$tmp/e" -c "bogus line" -c "common-name x" >out 2>&1
check replay-unknown-line-still-an-error '[ "$(grep -c "Unrecognized command" out)" = 2 ] &&
	grep -q "^<pkish>common-name x" out'
