#!/usr/bin/env bash
# cmpload, the load generator, against the real peers: cmpca (ir and ir+kur
# flows, every certificate in the log verifies against the CA and is in its
# database, serials unique, the server's CPU read from /proc) and the openssl
# mock CA (`openssl cmp -port`, which answers with one fixed certificate: with
# --key it succeeds, without it every transaction fails naming the key check).
# Failures are counted by cause (a wrong secret), the exit status says so, and a
# secret is never taken from the command line.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-cmpload.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
. "$top/test/lib.sh"
check() { if eval "$2"; then echo "ok $1"; else echo "FAIL $1"; cat "$tmp/out"; fi; }
# the number of key KEY in cmpload's one-line JSON report (the first one: the
# totals come before the per-type figures)
jnum() { grep -o "\"$1\": [0-9.-]*" "$2" | head -n 1 | sed 's/.*: //'; }
free_port() {
	while :; do
		p=$((20000 + RANDOM % 40000))
		(echo >/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
	done
}
L=$b/cmpload
cd "$tmp" || exit 1

cmpca_start "$tmp/ca" "$tmp/ca.log" 127.0.0.1:0 || { echo "FAIL cmpload-cmpca-start"; exit 1; }
capid=$cmpca_pid

# ---- cmpca: MAC IR, 3 clients x 4 ----
$L --url "$url" --ref cmpca --secret-file ca/secret --clients 3 --count 4 \
	--trusted ca/ca.crt --server-pid "$capid" --cert-log certs.pem --json >out 2>&1
rc=$?
check cmpload-ir-all-succeed '[ $rc -eq 0 ] && [ "$(jnum ok out)" = 12 ] &&
	[ "$(jnum failed out)" = 0 ] && grep -q "\"errors\": {}" out'
check cmpload-reports-rate-and-latency 'awk "BEGIN { exit !($(jnum tps out) > 0 &&
	$(jnum p50_ms out) > 0 && $(jnum p50_ms out) <= $(jnum p99_ms out) &&
	$(jnum p99_ms out) <= $(jnum max_ms out)) }"'
check cmpload-server-cpu-read 'awk "BEGIN { exit !($(jnum server_cpu_ms out) > 0) }" &&
	[ "$(jnum server_pid out)" = "$capid" ]'

# ---- cmpca: ir+kur, certificates logged ----
$L --url "$url" --ref cmpca --secret-file ca/secret --clients 2 --count 3 \
	--flow ir+kur --trusted ca/ca.crt --cert-log certs.pem --json >out 2>&1
rc=$?
check cmpload-ir-kur-succeed '[ $rc -eq 0 ] && [ "$(jnum ok out)" = 12 ] &&
	grep -q "\"kur\": {\"ok\": 6, \"failed\": 0" out &&
	grep -q "\"ir\": {\"ok\": 6, \"failed\": 0" out'
# split the log into one file per certificate; the CA verifies each, and each is
# in the CA's database with the same serial
mkdir -p split
awk '/^-----BEGIN/ { n++; f = sprintf("split/%03d.pem", n) } f { print > f }
	/^-----END/ { close(f); f = "" }' certs.pem
n=$(ls split | wc -l)
check cmpload-cert-log-has-every-certificate '[ "$n" = 24 ] &&
	[ "$(grep -c "^cmpload: ir confirmed serial " certs.pem)" = 18 ] &&
	[ "$(grep -c "^cmpload: kur confirmed serial " certs.pem)" = 6 ]'
check cmpload-certificates-verify '[ "$(openssl verify -CAfile ca/ca.crt split/*.pem |
	grep -c ": OK$")" = 24 ]'
sed -n 's/^cmpload: .* serial \([0-9A-F]*\) client .*/\1/p' certs.pem | sort >serials
sqlite3 ca/ca.db "SELECT serial FROM certs" | sort >db-serials
check cmpload-serials-unique-and-in-database '[ -z "$(uniq -d serials)" ] &&
	[ -z "$(comm -23 serials db-serials)" ]'

# ---- a wrong secret: every transaction fails, counted under its cause ----
echo wrong >wrong.secret
$L --url "$url" --ref cmpca --secret-file wrong.secret --clients 2 --count 2 >out 2>&1
rc=$?
check cmpload-wrong-secret-counted '[ $rc -eq 1 ] &&
	grep -q "^transactions: 0 ok, 4 failed" out &&
	grep -qE "^ +4  the CA answered with an error message: rejection" out'

# ---- the secret never comes from the command line ----
$L --url "$url" --ref cmpca my-secret >out 2>&1
rc=$?
check cmpload-secret-argument-refused '[ $rc -eq 2 ] &&
	grep -q "unexpected argument .*--secret-file or --secret-env" out'
unset CMPLOAD_NO_SUCH_VAR
$L --url "$url" --ref cmpca --secret-env CMPLOAD_NO_SUCH_VAR >out 2>&1
rc=$?
check cmpload-secret-env-missing '[ $rc -eq 2 ] &&
	grep -q "CMPLOAD_NO_SUCH_VAR is not set" out'
$L --url "$url" --ref cmpca --secret-file ca/secret --flow nope >out 2>&1
check cmpload-bad-flow '[ $? -eq 2 ] && grep -q "^cmpload: --flow takes" out'

# ---- the openssl mock CA: a fixed certificate for any request ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout mca.key \
	-out mca.pem -subj "/O=Mock/CN=Mock CA" -days 30 \
	-addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,digitalSignature 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out rsp.key 2>/dev/null
openssl req -new -key rsp.key -subj "/CN=mock client" -out rsp.csr 2>/dev/null
# a v3 certificate naming its issuer by key identifier (RFC 5280 4.2.1.1: the
# client matches the issuer by authorityKeyIdentifier as well as by name)
printf 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' >ee.ext
openssl x509 -req -in rsp.csr -CA mca.pem -CAkey mca.key -CAcreateserial -days 10 \
	-extfile ee.ext -out rsp.pem 2>/dev/null
mport=$(free_port)
openssl cmp -port "$mport" -srv_ref 1234 -srv_secret pass:mock-secret \
	-srv_cert mca.pem -srv_key mca.key -rsp_cert rsp.pem -rsp_capubs mca.pem \
	-srv_trusted mca.pem >mock.log 2>&1 &
mock=$!
pids="$pids $mock"
i=0
while [ $i -lt 50 ] && ! (echo >/dev/tcp/127.0.0.1/"$mport") 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
export CMPLOAD_T_SECRET=mock-secret
$L --url "http://127.0.0.1:$mport/pkix/" --ref 1234 --secret-env CMPLOAD_T_SECRET \
	--key rsp.key --clients 2 --count 3 --flow ir+kur --trusted mca.pem \
	--server-pid "$mock" --json >out 2>&1
rc=$?
check cmpload-mock-with-key '[ $rc -eq 0 ] && [ "$(jnum ok out)" = 12 ] &&
	awk "BEGIN { exit !($(jnum server_cpu_ms_per_txn out) >= 0) }"'
$L --url "http://127.0.0.1:$mport/pkix/" --ref 1234 --secret-env CMPLOAD_T_SECRET \
	--clients 1 --count 2 >out 2>&1
rc=$?
check cmpload-mock-without-key-names-the-check '[ $rc -eq 1 ] &&
	grep -qE "^ +2  the issued certificate is unacceptable: its public key is not the requested one" out'
exit 0
