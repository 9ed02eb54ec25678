#!/bin/bash
# make bench: the measuring instrument of pkish's speed (never part of make
# check, asserts nothing). Each figure is printed beside its anchor measured in
# the same run (the machine is shared and noisy: both sides of a comparison are
# interleaved, and the table gives medians with min-max and the ratio of the
# medians). Where the anchor is a goal rather than a measurement the row says
# "goal". The table is printed and written to $BUILD/bench.txt.
#
# Rows: IR with MAC, whole process, pkish <-> cmpca and pkish <-> the openssl mock
# against `openssl cmp` <-> `openssl cmp -port` mock; IRs in a row in one pkish
# process; pkish start against `openssl version`; batch replay of 10k, 100k and
# 1M configuration lines to /dev/null and their linearity; start and RSS with
# 10,000 entities and 1,000 CMP sessions saved; the idle daemon's RSS; cmpca's
# CPU per IR transaction against its crypto floor and its thread scaling, in
# process (bench_ca); cmpca with 1, 2 and 4 threads under load (cmpload) beside
# the openssl mock; then the in-process micro-benchmarks (bench_core).
#
# Environment: BUILD (default build), RUNS (whole-process runs per figure,
# default 10), BENCH_QUICK=1 (a quick look: replay up to 100k lines, no
# micro-benchmarks), BENCH_CA_N (bench_ca's transactions per figure, 300),
# LOAD_CLIENTS and LOAD_SECS (cmpload's concurrency and duration per server,
# 8 and 5).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) b=$BUILD ;; *) b=$top/$BUILD ;; esac
RUNS=${RUNS:-10}
P=$b/pkish
T=$b/bench/bench_time
export PKISH_SCHEMA_DIR=$top/schemas
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-bench.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
cd "$tmp" || exit 1
. "$top/test/lib.sh"
rows=$tmp/rows
: >"$rows"

note() { echo "bench: $*" >&2; }
# a loopback port nobody listens on (bash's /dev/tcp connects to test it)
free_port() {
	while :; do
		_p=$((20000 + RANDOM % 40000))
		(echo >/dev/tcp/127.0.0.1/$_p) 2>/dev/null || { echo $_p; return; }
	done
}

# column FILE COL [SCALE]: column COL of FILE times SCALE, sorted
column() { awk -v c="$2" -v s="${3:-1}" '{ print $c * s }' "$1" | sort -g; }
# stats FILE COL [SCALE]: "median (min-max)" of column COL of FILE, times SCALE
stats() {
	column "$@" | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%s (%s-%s)\n", fmt(m), fmt(v[1]), fmt(v[NR]) }
		function fmt(x) { return x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x) }'
}
# median FILE COL [SCALE]: the median of column COL
median() {
	column "$@" | awk '{ v[NR] = $1 } END {
		print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
# row FIGURE VALUE ANCHOR ANCHOR-VALUE RATIO
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$rows"; }
# failed FILE: some run of FILE did not exit 0
failed() { awk '$4 != 0 { f = 1 } END { exit !f }' "$1"; }
# flag FILE: " [N failed]" when runs of FILE failed (the figure is then suspect)
flag() { awk '$4 != 0 { f++ } END { if (f) printf " [%d failed]", f }' "$1"; }

# alternate N A B...: N runs of each of the commands in files A.cmd, B.cmd ...,
# interleaved (A, B, A, B ...), timings in A.t, B.t ...
alternate() {
	_n=$1; shift
	for _c in "$@"; do : >"$_c.t"; done
	for _i in $(seq "$_n"); do
		for _c in "$@"; do
			"$T" -o "$_c.out" sh -c "$(cat "$_c.cmd")" >>"$_c.t"
		done
	done
}

# ---- the CA side: cmpca and the openssl mock, one device key for both clients
mkdir -p dev/pki/public
"$P" --no-startup --flash dev -c "system-view" \
	-c "pki rsa local-key-pair create dev modulus 2048 exportable" \
	-c "pki export rsa-key-pair dev pem dev.pem password pass1234" >/dev/null 2>&1
openssl pkey -in dev/pki/public/dev.pem -passin pass:pass1234 -out dev.key 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout mca.key -out mca.pem -days 10 \
	-subj "/CN=Mock CA" -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,digitalSignature 2>/dev/null
openssl req -new -key dev.key -subj "/CN=bench" -out dev.csr 2>/dev/null
# v3, naming its issuer by key identifier (the client requires it, RFC 5280 4.2.1.1)
printf 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' >ee.ext
openssl x509 -req -in dev.csr -CA mca.pem -CAkey mca.key -CAcreateserial -days 5 \
	-extfile ee.ext -out rsp.pem 2>/dev/null
if ! cmpca_start ca ca.log 127.0.0.1:0; then
	note "cmpca did not start: $(cat ca.log)"
	exit 1
fi
ca_pid=$cmpca_pid
ca_url=$url
ref=$(sed -n 's/^cmpca: reference "\([^"]*\)".*/\1/p' ca.log | head -n 1)
secret=$(head -n 1 ca/secret)
ca_name=$(openssl x509 -in ca/ca.crt -noout -subject -nameopt sep_comma_plus,sname,utf8 |
	sed 's/^subject=//')
mport=
for _try in 1 2 3; do
	mport=$(free_port)
	openssl cmp -port "$mport" -srv_ref 1234 -srv_secret pass:mock-secret \
		-srv_cert mca.pem -srv_key mca.key -rsp_cert rsp.pem -rsp_capubs mca.pem \
		>mock.log 2>&1 &
	mock_pid=$!
	pids="$pids $mock_pid"
	_i=0
	while [ $_i -lt 100 ] && ! (echo >/dev/tcp/127.0.0.1/"$mport") 2>/dev/null; do
		kill -0 "$mock_pid" 2>/dev/null || break
		sleep 0.1; _i=$((_i + 1))
	done
	kill -0 "$mock_pid" 2>/dev/null && break
done
# the device: a session for each CA, saved
"$P" --no-startup --flash dev -c "system-view" -c "pki entity dev" -c "common-name bench" \
	-c "quit" -c "pki cmp session ca" -c "cmp-request entity dev" \
	-c "cmp-request ca-name \"$ca_name\"" -c "cmp-request server url $ca_url" \
	-c "cmp-request rsa local-key-pair dev" \
	-c "cmp-request message-authentication-code $ref $secret" -c "quit" \
	-c "pki cmp session mock" -c "cmp-request entity dev" \
	-c "cmp-request server url http://127.0.0.1:$mport/pkix/" \
	-c "cmp-request rsa local-key-pair dev" \
	-c "cmp-request message-authentication-code 1234 mock-secret" -c "return" \
	-c "save" >setup.log 2>&1 || { note "device setup failed"; cat setup.log >&2; exit 1; }

# ---- IR with MAC, whole process (start, one IR + certConf, exit)
note "IR whole process, $RUNS runs each"
echo "exec '$P' --flash dev -c system-view -c 'pki cmp initial-request session ca'" >pk_ca.cmd
echo "exec '$P' --flash dev -c system-view -c 'pki cmp initial-request session mock'" >pk_mock.cmd
echo "exec openssl cmp -cmd ir -server 127.0.0.1:$mport -path pkix/ -ref 1234 \
	-secret pass:mock-secret -key dev.key -subject /CN=bench -certout os.pem" >os_mock.cmd
alternate "$RUNS" pk_ca os_mock
: >pk_mock.t
for _i in $(seq "$RUNS"); do "$T" -o pk_mock.out sh -c "$(cat pk_mock.cmd)" >>pk_mock.t; done
for f in pk_ca pk_mock os_mock; do
	failed $f.t && note "$f: a run failed: $(tail -n 3 $f.out)"
done
row "IR (MAC) whole process, wall ms: pkish <-> cmpca" "$(stats pk_ca.t 1)$(flag pk_ca.t)" \
	"openssl cmp <-> openssl mock" "$(stats os_mock.t 1)$(flag os_mock.t)" \
	"$(ratio "$(median pk_ca.t 1)" "$(median os_mock.t 1)")"
row "IR (MAC) whole process, client CPU ms: pkish <-> cmpca" "$(stats pk_ca.t 2)$(flag pk_ca.t)" \
	"openssl cmp <-> openssl mock" "$(stats os_mock.t 2)$(flag os_mock.t)" \
	"$(ratio "$(median pk_ca.t 2)" "$(median os_mock.t 2)")"
row "IR (MAC) whole process, wall ms: pkish <-> openssl mock" "$(stats pk_mock.t 1)$(flag pk_mock.t)" \
	"openssl cmp <-> openssl mock" "$(stats os_mock.t 1)$(flag os_mock.t)" \
	"$(ratio "$(median pk_mock.t 1)" "$(median os_mock.t 1)")"
row "IR (MAC) whole process, client CPU ms: pkish <-> openssl mock" "$(stats pk_mock.t 2)$(flag pk_mock.t)" \
	"openssl cmp <-> openssl mock" "$(stats os_mock.t 2)$(flag os_mock.t)" \
	"$(ratio "$(median pk_mock.t 2)" "$(median os_mock.t 2)")"

# ---- IRs in a row in one pkish process (kept-alive connection, certConf each)
NIR=50
note "$NIR IRs in one process"
{ echo system-view; for _i in $(seq $NIR); do echo "pki cmp initial-request session ca"; done; } >irs.cfg
cpu_of() { awk '{ print ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat"; }
c0=$(cpu_of "$ca_pid")
"$T" -o irs.out "$P" --flash dev -f irs.cfg >irs.t
c1=$(cpu_of "$ca_pid")
failed irs.t && note "IRs in a row: a line failed: $(grep -m 3 Error irs.out)"
row "IR in one pkish process ($NIR in a row), wall ms per IR" \
	"$(awk -v n=$NIR '{ printf "%.1f", $1 / n }' irs.t)$(flag irs.t)" \
	"goal (IR + certConf)" "20" \
	"$(ratio "$(awk -v n=$NIR '{ print $1 / n }' irs.t)" 20)"
row "  pkish CPU ms per IR / cmpca CPU ms per IR (10 ms ticks)" \
	"$(awk -v n=$NIR '{ printf "%.2f", $2 / n }' irs.t)" "cmpca" \
	"$(awk -v a="$c0" -v z="$c1" -v n=$NIR 'BEGIN { printf "%.2f", (z - a) / n }')" "-"

# ---- start: display version, against libcrypto's own load
note "start, $((RUNS * 2)) runs each"
mkdir -p empty
echo "exec '$P' --flash empty --no-startup -c 'display version'" >pk_start.cmd
echo "exec openssl version" >os_version.cmd
echo "exec xmllint --version" >xmllint.cmd
echo "exec true" >true.cmd
# The exact floor of pkish's start: a program that does nothing, linked with the
# shared libraries pkish needs (its NEEDED entries), so the dynamic loader maps
# and relocates what pkish's does; and the same without libxml2, to say what
# that library with its ICU and libstdc++ costs.
needed=$(readelf -d "$P" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -v '^libc\.so')
printf 'int main(void) { return 0; }\n' >floor.c
cc -o floor floor.c -Wl,--no-as-needed $(for l in $needed; do printf ' -l:%s' "$l"; done) &&
	cc -o floor_noxml floor.c -Wl,--no-as-needed \
	$(for l in $needed; do case $l in libxml2*) ;; *) printf ' -l:%s' "$l" ;; esac; done) ||
	note "cannot build the start floor programs"
echo "exec ./floor" >floor.cmd
echo "exec ./floor_noxml" >floor_noxml.cmd
alternate $((RUNS * 2)) pk_start os_version xmllint true floor floor_noxml
row "pkish start (display version), wall ms" "$(stats pk_start.t 1)" \
	"openssl version" "$(stats os_version.t 1)" \
	"$(ratio "$(median pk_start.t 1)" "$(median os_version.t 1)")"
row "pkish start (display version), CPU ms" "$(stats pk_start.t 2)" \
	"openssl version" "$(stats os_version.t 2)" \
	"$(ratio "$(median pk_start.t 2)" "$(median os_version.t 2)")"
row "  start CPU over openssl version, ms (goal <= 3)" \
	"$(awk -v a="$(median pk_start.t 2)" -v b="$(median os_version.t 2)" 'BEGIN { printf "%+.2f", a - b }')" \
	"goal" "+3" "-"
# the floor of a program that loads libcrypto and libxml2 (with its ICU and
# libstdc++): what each costs over an empty process, added
floor=$(awk -v o="$(median os_version.t 2)" -v x="$(median xmllint.t 2)" -v t="$(median true.t 2)" \
	'BEGIN { printf "%.2f", o + x - t }')
row "  start floor: openssl version + xmllint --version - true, CPU ms" "$floor" \
	"xmllint --version / true" "$(stats xmllint.t 2) / $(stats true.t 2)" "-"
row "  pkish start over that floor, CPU ms" \
	"$(awk -v a="$(median pk_start.t 2)" -v f="$floor" 'BEGIN { printf "%+.2f", a - f }')" \
	"" "" "-"
row "  start floor: a program doing nothing, linked with pkish's libraries, CPU ms" \
	"$(stats floor.t 2)" "the same without libxml2" "$(stats floor_noxml.t 2)" \
	"$(ratio "$(median floor.t 2)" "$(median floor_noxml.t 2)")"
row "  pkish start over that floor, CPU ms" \
	"$(awk -v a="$(median pk_start.t 2)" -v f="$(median floor.t 2)" 'BEGIN { printf "%+.2f", a - f }')" \
	"libxml2's share of the floor" \
	"$(awk -v a="$(median floor.t 2)" -v f="$(median floor_noxml.t 2)" 'BEGIN { printf "%+.2f", a - f }')" "-"
row "pkish start, max RSS MiB" "$(stats pk_start.t 3 0.0009765625)" \
	"openssl version" "$(stats os_version.t 3 0.0009765625)" \
	"$(ratio "$(median pk_start.t 3)" "$(median os_version.t 3)")"

# ---- batch replay: N entities of 7 lines each (and the sessions of the start
# figure), output to /dev/null
gen() {	# gen ENTITIES SESSIONS: a configuration script
	awk -v E="$1" -v S="$2" 'BEGIN {
	print "system-view"
	for (i = 0; i < E; i++)
		printf "pki entity e%d\n common-name e%d.example.com\n country CN\n" \
		    " organization \"Example Networks\"\n organization-unit Ops\n" \
		    " fqdn e%d.example.com\nquit\n", i, i, i
	for (i = 0; i < S; i++)
		printf "pki cmp session s%d\n cmp-request entity e%d\n" \
		    " cmp-request ca-name \"C=CN, O=Example, CN=Example CA\"\n" \
		    " cmp-request server url http://192.0.2.10:8080/pkix/\n" \
		    " cmp-request rsa local-key-pair dev\n" \
		    " cmp-request message-authentication-code ref-%d Secret-%d\n" \
		    " certificate update expire-time 80\nquit\n", i, i % E, i, i
	print "return" }'
}
rate_rows=""
top_lines=1000000
[ "${BENCH_QUICK:-0}" = 1 ] && top_lines=100000
sizes="10000 100000"
[ "$top_lines" != 100000 ] && sizes="$sizes $top_lines"
for lines in $sizes; do
	n=$(((lines - 2) / 7))
	gen $n 0 >r$lines.cfg
	nl=$(wc -l <r$lines.cfg)
	rm -rf rf && cp -r dev rf && rm -f rf/vrpcfg.cfg
	reps=5
	[ "$lines" -ge 1000000 ] && reps=3
	note "replay $nl lines, $reps runs"
	: >r$lines.t
	for _i in $(seq $reps); do
		"$T" -o /dev/null "$P" --no-startup --flash rf -f r$lines.cfg >>r$lines.t
	done
	failed r$lines.t && note "replay of $lines lines failed"
	# lines/s of each run: lines / wall
	awk -v n="$nl" '{ print n / ($1 / 1000), $3 }' r$lines.t >r$lines.rate
	eval "rate_$lines=\$(median r$lines.rate 1)"
	eval "wall_$lines=\$(median r$lines.t 1)"
	eval "n_$lines=$nl"
	row "batch replay $nl lines (${n} entities) to /dev/null, lines/s" \
		"$(stats r$lines.rate 1)" "goal (at 1M lines)" "200000" \
		"$(ratio "$(median r$lines.rate 1)" 200000)"
	row "  max RSS MiB" "$(stats r$lines.rate 2 0.0009765625)" "" "" ""
done
eval "rtop=\$rate_$top_lines"
# the cost of the added lines only (the start's fixed cost cancels out): lines/s
# between 10k and 100k lines, and between 100k and the top
marg() { awk -v a="$1" -v b="$2" -v ta="$3" -v tb="$4" 'BEGIN { if (tb > ta) printf "%.0f", (b - a) / ((tb - ta) / 1000); else print 0 }'; }
m1=$(marg "$n_10000" "$n_100000" "$wall_10000" "$wall_100000")
row "replay marginal lines/s, 10k -> 100k lines" "$m1" "" "" ""
if [ "$top_lines" != 100000 ]; then
	eval "m2=\$(marg \"\$n_100000\" \"\$n_$top_lines\" \"\$wall_100000\" \"\$wall_$top_lines\")"
	row "replay marginal lines/s, 100k -> $top_lines lines" "$m2" \
		"marginal, 10k -> 100k" "$m1" "$(ratio "$m2" "$m1")"
fi
row "replay linearity: rate at $top_lines / rate at 10000 lines" "$(ratio "$rtop" "$rate_10000")" \
	"linear" "1.00x" "$(ratio "$rtop" "$rate_10000")"

# ---- start with 10,000 entities and 1,000 CMP sessions saved
note "start with 10,000 entities and 1,000 sessions saved"
rm -rf big && cp -r dev big && rm -f big/vrpcfg.cfg
{ gen 10000 1000 | sed '$d'; echo return; echo save; } >big.cfg
"$P" --no-startup --flash big -f big.cfg >big.log 2>&1 || note "big configuration: $(tail -n 2 big.log)"
echo "exec '$P' --flash big -c 'display version'" >pk_big.cmd
alternate "$RUNS" pk_big pk_start
row "start with 10,000 entities + 1,000 sessions saved, wall ms" "$(stats pk_big.t 1)" \
	"goal" "100" "$(ratio "$(median pk_big.t 1)" 100)"
row "  the same, CPU ms" "$(stats pk_big.t 2)" "empty start" "$(stats pk_start.t 2)" \
	"$(ratio "$(median pk_big.t 2)" "$(median pk_start.t 2)")"
row "RSS with 10,000 entities + 1,000 sessions, MiB" "$(stats pk_big.t 3 0.0009765625)" \
	"empty start" "$(stats pk_start.t 3 0.0009765625)" \
	"$(ratio "$(median pk_big.t 3)" "$(median pk_start.t 3)")"

# ---- the idle daemon (empty configuration)
note "idle daemon"
: >daemon.t
for _i in 1 2 3; do
	"$P" --flash empty --no-startup --daemon >daemon.log 2>&1 &
	dpid=$!
	sleep 1
	awk '/^VmRSS:/ { print $2 }' "/proc/$dpid/status" >>daemon.t
	kill "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
done
row "idle daemon RSS (--daemon, empty configuration), MiB" "$(stats daemon.t 1 0.0009765625)" \
	"goal" "8" "$(ratio "$(median daemon.t 1 0.0009765625)" 8)"

# ---- under load (cmpload): cmpca with 1, 2 and 4 worker threads beside the
# openssl mock, at the same concurrency, with the same device key (the mock
# answers with its one certificate for that key; cmpca issues one each time)
LOAD_CLIENTS=${LOAD_CLIENTS:-8}
LOAD_SECS=${LOAD_SECS:-5}
note "load: $LOAD_CLIENTS clients, $LOAD_SECS s per server"
jnum() { grep -o "\"$1\": [0-9.-]*" "$2" | head -n 1 | sed 's/.*: //'; }
export BENCH_MOCK_SECRET=mock-secret
"$b/cmpload" --url "http://127.0.0.1:$mport/pkix/" --ref 1234 \
	--secret-env BENCH_MOCK_SECRET --key dev.key --trusted mca.pem \
	--clients "$LOAD_CLIENTS" --count 0 --duration "$LOAD_SECS" \
	--server-pid "$mock_pid" --json >load_mock.json 2>&1 || note "cmpload (mock) failed"
for th in 1 2 4; do
	if cmpca_start "ca_t$th" "ca_t$th.log" 127.0.0.1:0 --threads "$th"; then
		BENCH_CA_SECRET=$(head -n 1 "ca_t$th/secret") \
		"$b/cmpload" --url "$url" --ref "$(sed -n 's/^cmpca: reference "\([^"]*\)".*/\1/p' \
			"ca_t$th.log" | head -n 1)" --secret-env BENCH_CA_SECRET \
			--key dev.key --trusted "ca_t$th/ca.crt" --clients "$LOAD_CLIENTS" \
			--count 0 --duration "$LOAD_SECS" --server-pid "$cmpca_pid" \
			--json >"load_$th.json" 2>&1 || note "cmpload (cmpca, $th threads) failed"
		kill "$cmpca_pid" 2>/dev/null
		wait "$cmpca_pid" 2>/dev/null
	else
		note "cmpca --threads $th did not start"
	fi
done
for th in 1 2 4; do
	row "cmpca, $th thread(s), $LOAD_CLIENTS clients: transactions/s (failed)" \
		"$(jnum tps "load_$th.json") ($(jnum failed "load_$th.json"))" \
		"openssl mock, $LOAD_CLIENTS clients" \
		"$(jnum tps load_mock.json) ($(jnum failed load_mock.json))" \
		"$(ratio "$(jnum tps "load_$th.json")" "$(jnum tps load_mock.json)")"
	row "  latency p50 / p99 ms" "$(jnum p50_ms "load_$th.json") / $(jnum p99_ms "load_$th.json")" \
		"openssl mock" "$(jnum p50_ms load_mock.json) / $(jnum p99_ms load_mock.json)" ""
	row "  server CPU ms per transaction" "$(jnum server_cpu_ms_per_txn "load_$th.json")" \
		"openssl mock (issues nothing)" "$(jnum server_cpu_ms_per_txn load_mock.json)" \
		"$(ratio "$(jnum server_cpu_ms_per_txn "load_$th.json")" \
		"$(jnum server_cpu_ms_per_txn load_mock.json)")"
done
row "  load generator CPU ms per transaction (same machine)" \
	"$(jnum client_cpu_ms_per_txn load_1.json)" "" "" ""

# ---- cmpca's protocol core in process (bench_ca): CPU per IR transaction (ir
# + certConf, MAC) against the cryptography it cannot avoid, measured in the
# same process with the same keys and PBM parameters; then that floor plus one
# request decode and one durable commit per message
note "cmpca in process (bench_ca)"
"$b/bench/bench_ca" -n "${BENCH_CA_N:-300}" -t 2 >ca.out 2>&1 || note "bench_ca failed"
ca_val() { awk -F': ' -v k="$1" 'index($0, k) == 1 { split($2, a, " "); print a[1]; exit }' ca.out; }
row "cmpca CPU per IR transaction (ir + certConf), ms" "$(ca_val "ca cpu per ir")" \
	"crypto floor: 1 ECDSA sign + 1 verify + 4 PBM" "$(ca_val "crypto floor")" \
	"$(ratio "$(ca_val "ca cpu per ir")" "$(ca_val "crypto floor")")"
row "  the same" "$(ca_val "ca cpu per ir")" \
	"floor + 1 decode + 1 durable commit per message" "$(ca_val "floor with one")" \
	"$(ratio "$(ca_val "ca cpu per ir")" "$(ca_val "floor with one")")"
row "cmpca in process, transactions/s, 2 threads" "$(ca_val "ca throughput, 2")" \
	"1 thread" "$(ca_val "ca throughput, 1")" \
	"$(ratio "$(ca_val "ca throughput, 2")" "$(ca_val "ca throughput, 1")")"

# ---- the table
{
	echo "pkish bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "median (min-max); ratio = figure median / anchor median"
	echo
	awk -F'\t' 'BEGIN { print "| figure | value | anchor | anchor value | ratio |"
		print "|---|---|---|---|---|" }
		{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$rows"
	echo
	if [ "${BENCH_QUICK:-0}" != 1 ]; then
		echo "micro-benchmarks (one process, bench_core):"
		"$b/bench/bench_core" | sed 's/^/  /'
	fi
} >"$b/bench.txt.tmp" && mv "$b/bench.txt.tmp" "$b/bench.txt"
cat "$b/bench.txt"
