#!/bin/sh
# The vendor's own CMPv2 example end to end (test/vendor/example.cfg) against
# cmpca issuing 20-second certificates: a session whose IR uses the default MAC,
# the CA and local certificates imported and their files deleted, then
# authentication-cert names the imported certificate, automatic update at 80%.
# The console transcript is compared with test/vendor/example.out (times,
# serials, ports and fingerprints masked). Then a pkish daemon renews the
# certificate at least twice (signed KURs in a MAC session), each time replacing
# the file and the imported copy together; the saved configuration loads at the
# next start with the files gone; a manual KUR works too and imports its result.
# UPDATE_GOLDEN=1 rewrites the .out file.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-vendor.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
( sleep 150; echo "FAIL vendor-watchdog (gave up after 150 s)"; kill -TERM $$ ) &
pids="$pids $!"
. "$top/test/lib.sh"
check() { if eval "$2"; then echo "ok $1"; else echo "FAIL $1"; [ -f "$tmp/out" ] && cat "$tmp/out"; fi; }

cmpca_start "$tmp/ca" "$tmp/ca.log" 127.0.0.1:0 --validity 20s ||
	{ echo "FAIL vendor-cmpca-start"; cat "$tmp/ca.log"; exit 1; }
ref=$(sed -n 's/^cmpca: reference "\([^"]*\)".*/\1/p' "$tmp/ca.log")
secret=$(head -n 1 "$tmp/ca/secret")
ca_name=$(openssl x509 -in "$tmp/ca/ca.crt" -noout -subject \
	-nameopt sep_comma_plus,sname,utf8 | sed 's/^subject=//')
sed -e "s|@URL@|$url|" -e "s|@REF@|$ref|" -e "s|@SECRET@|$secret|" \
	-e "s|@CA_NAME@|$ca_name|" "$top/test/vendor/example.cfg" >"$tmp/example.cfg"
sed -n '1,/^# part 2/p' "$tmp/example.cfg" >"$tmp/part1.cfg"
sed -n '/^# part 2/,$p' "$tmp/example.cfg" >"$tmp/part2.cfg"
F="$tmp/flash"
pub="$F/pki/public"
mkdir -p "$pub"
P="$b/pkish --flash $F"

{
	$P --no-startup -f "$tmp/part1.cfg" 2>&1
	echo "[exit $?]"
	# what the terminal's default answer to the import's question does
	rm -f "$pub/test_ir.cer" "$pub/test_ca0.cer"
	$P -f "$tmp/part2.cfg" 2>&1
	echo "[exit $?]"
} >"$tmp/raw"
sed -f "$top/test/cli/normalize.sed" -e 's/\(Serial number:\) [0-9A-F]*/\1 <serial>/' \
	-e 's/\(serial\) [0-9A-F]*/\1 <serial>/' "$tmp/raw" >"$tmp/got"
[ "${UPDATE_GOLDEN:-0}" = 1 ] && cp "$tmp/got" "$top/test/vendor/example.out"
if diff -u "$top/test/vendor/example.out" "$tmp/got" >"$tmp/diff"; then
	echo "ok vendor-example-transcript"
else
	echo "FAIL vendor-example-transcript"
	cat "$tmp/diff"
fi
check vendor-secret-never-shown '! grep -q "$secret" "$tmp/raw" && ! grep -rq "$secret" "$F"'
check vendor-files-gone-session-works '[ ! -f "$pub/test_ir.cer" ] &&
	grep -q "Certificate Validity    : .* UTC to " "$tmp/raw" &&
	grep -q "Auto Update             : Enabled, at 80% of the validity" "$tmp/raw"'
serial() { openssl x509 -noout -serial | sed 's/^serial=//'; }

# the daemon renews at least twice: signed KURs in a session whose IR used MAC
$P --daemon 2>"$tmp/daemon.log" &
dpid=$!
pids="$pids $dpid"
end=$(($(date +%s) + 75))
while [ "$(date +%s)" -lt $end ]; do
	[ "$(grep -c "CMP session test was updated automatically" "$tmp/daemon.log")" -ge 2 ] && break
	sleep 0.5
done
kill -TERM "$dpid"
wait "$dpid" 2>/dev/null
: >"$tmp/out"
n=$(grep -c "CMP session test was updated automatically" "$tmp/daemon.log")
cp "$tmp/daemon.log" "$tmp/out"
check vendor-daemon-renews-twice '[ "$n" -ge 2 ] && ! grep -q "must be signed" "$tmp/daemon.log" &&
	! grep -q "failed" "$tmp/daemon.log"'
# the file and the imported copy are the same, newest certificate
$P -c "display pki certificate local filename test_ir.cer" >"$tmp/out" 2>&1
fserial=$(serial <"$pub/test_ir.cer" 2>/dev/null)
check vendor-file-and-store-copy-current '[ -n "$fserial" ] &&
	grep -A1 "Serial Number:" "$tmp/out" | tr -d " :\n" | grep -qi "$fserial" &&
	openssl verify -CAfile "$tmp/ca/ca.crt" "$pub/test_ir.cer" >/dev/null 2>&1'
# the store's copy alone (file deleted) still serves: the saved configuration
# loads at the next start and the session shows its certificate
rm -f "$pub/test_ir.cer"
$P -c "display pki cmp session test" >"$tmp/out" 2>&1
check vendor-startup-loads-without-file '[ $? -eq 0 ] && ! grep -q "vrpcfg.cfg, line" "$tmp/out" &&
	grep -q "Authentication Cert     : test_ir.cer" "$tmp/out" &&
	grep -q "Certificate Validity    : .* UTC to " "$tmp/out"'
# a manual KUR signed with the imported certificate; its result is imported
$P -c "system-view" -c "pki cmp keyupdate-request session test" -c "return" \
	-c "save" >"$tmp/out" 2>&1
check vendor-manual-kur-imports-result '[ $? -eq 0 ] &&
	grep -q "Info: The certificate was imported as the local certificate test_kur.cer." "$tmp/out" &&
	grep -q "now uses test_kur.cer as its authentication certificate" "$tmp/out"'
rm -f "$pub/test_kur.cer"
$P -c "display pki cmp session test" -c "display pki cmp statistics" >"$tmp/out" 2>&1
check vendor-after-kur-file-gone '[ $? -eq 0 ] && ! grep -q "vrpcfg.cfg, line" "$tmp/out" &&
	grep -q "Authentication Cert     : test_kur.cer" "$tmp/out" &&
	grep -q "Certificate Validity    : .* UTC to " "$tmp/out" &&
	grep -q "^ Kur Faild Counts    : 0" "$tmp/out"'
