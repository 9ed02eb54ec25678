#!/bin/sh
# cmpca under a slow-client flood (issue 11): 600 half-open connections that
# send one byte every 5 s, and 500 connections that each send 255 KiB of a
# body and never finish it, all from other loopback addresses (127.0.0.2,
# 127.0.0.3) than the legitimate client's. A real `openssl cmp` ir from
# 127.0.0.1 must still get its certificate within 10 s (its own message and
# total timeouts), and cmpca must not hold the unfinished bodies (its
# resident memory grows by less than 32 MB; they are 125 MB). The flooders are a small python3 program of this test.
# Prints "ok NAME" / "FAIL NAME". Environment: BUILD, PKISH_TOP.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
CMPCA=$BUILD/cmpca
. "$top/test/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-test.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok $1"; }
fail() { echo "FAIL $1${2:+: $2}"; }
check() { name=$1; shift; if eval "$1"; then ok "$name"; else fail "$name" "${2:-}"; fi; }

if [ ! -x "$CMPCA" ]; then
	fail cmpca_built "$CMPCA missing"
	exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "# python3 missing: flood tests skipped"
	exit 0
fi
cd "$tmp" || exit 1

if cmpca_start ca run1 127.0.0.1:0 --ref lab --secret s3cr3t; then
	ok flood_cmpca_started
else
	fail flood_cmpca_started "$(cat run1)"
	exit 1
fi
pid=$cmpca_pid


# flood.py MODE SRC PORT N: N connections from address SRC. slow: a request
# line's first byte, then one byte every 5 s; body: the headers of a 261,000
# byte POST and 255 KiB of it, then nothing. Runs until killed; prints how
# many connections it opened.
cat >flood.py <<'EOF'
import socket, sys, time
mode, src, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
socks = []
for i in range(n):
    s = socket.socket()
    try:
        s.bind((src, 0))
        s.settimeout(2)
        s.connect(("127.0.0.1", port))
        if mode == "slow":
            s.send(b"P")
        else:
            s.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/pkixcmp\r\n"
                   b"Content-Length: 261000\r\n\r\n")
            s.setblocking(False)
            try:
                s.send(b"0" * (255 * 1024))
            except OSError:
                pass
        socks.append(s)
    except OSError:
        s.close()
print(len(socks), flush=True)
while True:
    time.sleep(5)
    for s in socks:
        try:
            if mode == "slow":
                s.send(b"O")
        except OSError:
            pass
EOF
# wait_out FILE: until the flooder writing FILE has opened its connections
wait_out() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
}
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status"; }
# unfinished bodies first: cmpca must not hold them
rss0=$(rss_kb)
python3 flood.py body 127.0.0.3 "$port" 500 >body.out 2>&1 &
pids="$pids $!"
wait_out body.out
sleep 1
rss=$(rss_kb)
echo "# $(cat body.out) connections with unfinished bodies; cmpca VmRSS ${rss0:-?} -> ${rss:-?} kB"
check flood_bodies_not_held '[ $((${rss:-999999} - ${rss0:-0})) -lt 32768 ]' "VmRSS ${rss0:-?} -> ${rss:-?} kB"
# then the slow half-open connections, and a legitimate client
python3 flood.py slow 127.0.0.2 "$port" 600 >slow.out 2>&1 &
pids="$pids $!"
wait_out slow.out
echo "# $(cat slow.out) slow half-open connections"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out k.pem 2>/dev/null
openssl cmp -cmd ir -server "127.0.0.1:$port" -path / -ref lab -secret pass:s3cr3t \
    -newkey k.pem -subject /CN=legit -certout c.pem -srvcert ca/ca.crt \
    -msg_timeout 10 -total_timeout 10 >ir.log 2>&1
check flood_legit_ir_served '[ -s c.pem ] && openssl verify -CAfile ca/ca.crt c.pem | grep -q ": OK"' \
    "$(grep -v 'CMP info' ir.log | tail -2)"
check flood_still_running 'kill -0 "$pid"'
