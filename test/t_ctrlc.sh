#!/bin/sh
# Stopping a CMP transaction at the real terminal (libedit, driven in tmux):
#  - Ctrl+C during an IR to a server that accepts and never answers, and during
#    polling (the openssl mock answering "waiting", check again in 30 s): the
#    prompt is back within 1 s, the reason is printed on a line of its own (not
#    after the "^C" the terminal echoes), the IR counts as failed, no
#    certificate file is written;
#  - `pki cmp poll-request stop` during an automatic update running in the
#    background against that server (a 60 s certificate from cmpca, updated at
#    10 % of its validity): it ends within 1 s as a failed attempt, the old
#    certificate stays.
# KEEP=1 keeps the temporary directory for a look afterwards.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
command -v tmux >/dev/null || { echo "FAIL ctrlc-tmux-missing (install tmux)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-ctrlc.XXXXXX")
sock="$tmp/tmux.sock"
S="ctrlc$$"
pids=""
cleanup() {
	tmux -S "$sock" kill-server 2>/dev/null
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
. "$top/test/lib.sh"
ok() { echo "ok $1"; }
fail() { echo "FAIL $1${2:+: $2}"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# a listener that accepts, reads the request and never answers
"$b/test/faultsrv" --upstream http://127.0.0.1:1/ --fault silent >"$tmp/silent.log" 2>&1 &
pids="$pids $!"
i=0
silent=""
while [ $i -lt 100 ] && [ -z "$silent" ]; do
	silent=$(sed -n 's/^faultsrv: listening on \(http:[^ ]*\)$/\1/p' "$tmp/silent.log")
	[ -n "$silent" ] || sleep 0.05
	i=$((i + 1))
done
[ -n "$silent" ] || { fail ctrlc-listener "$(cat "$tmp/silent.log")"; exit 1; }

# the openssl mock: every ir answered "waiting", check again in 30 s
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$tmp/m.key" -out "$tmp/m.crt" -subj "/CN=Mock" -days 2 2>/dev/null
mport=$(( (($$ * 7) % 20000) + 30000 ))
while (echo >/dev/tcp/127.0.0.1/$mport) 2>/dev/null; do mport=$((mport + 1)); done
openssl cmp -port "$mport" -srv_ref 1234 -srv_secret pass:mocksecret \
	-rsp_cert "$tmp/m.crt" -poll_count 50 -check_after 30 >"$tmp/mock.log" 2>&1 &
pids="$pids $!"
i=0
while [ $i -lt 100 ] && ! (echo >/dev/tcp/127.0.0.1/$mport) 2>/dev/null; do
	sleep 0.05
	i=$((i + 1))
done

# cmpca for the session that updates in the background
cmpca_start "$tmp/ca" "$tmp/ca.log" 127.0.0.1:0 --validity 60s --ref aref \
	--secret asecret || { fail ctrlc-cmpca "$(cat "$tmp/ca.log")"; exit 1; }

F="$tmp/flash"
cat >"$tmp/setup.cfg" <<EOF
system-view
pki ecc curve-name prime256v1 local-key-pair create k
pki entity dev
 common-name dev.example.com
quit
pki cmp session s
 cmp-request entity dev
 cmp-request server url $silent
 cmp-request ecc local-key-pair k
 cmp-request message-authentication-code 1234 whatever
quit
pki cmp session m
 cmp-request entity dev
 cmp-request server url http://127.0.0.1:$mport/pkix/
 cmp-request ecc local-key-pair k
 cmp-request message-authentication-code 1234 mocksecret
quit
pki cmp session a
 cmp-request entity dev
 cmp-request server url $url
 cmp-request ecc local-key-pair k
 cmp-request message-authentication-code aref asecret
 cmp-request ca-name "O=pkish,CN=cmpca CA"
quit
pki cmp initial-request session a
pki import-certificate ca filename a_ca0.cer
pki cmp session a
 cmp-request origin-authentication-method signature
 cmp-request authentication-cert a_ir.cer
 cmp-request server url $silent
 certificate update expire-time 10
 certificate auto-update enable
quit
return
save
EOF
"$b/pkish" --no-startup --flash "$F" -f "$tmp/setup.cfg" >"$tmp/setup.out" 2>&1
if [ ! -f "$F/pki/public/a_ir.cer" ]; then
	fail ctrlc-setup "$(cat "$tmp/setup.out")"
	exit 1
fi
cp "$F/pki/public/a_ir.cer" "$tmp/a_ir.before"

tmux -S "$sock" new-session -d -s "$S" -x 200 -y 50 \
	"$b/pkish --flash $F; echo EXITED; sleep 30"
screen() { tmux -S "$sock" capture-pane -p -S -300 -t "$S"; }
keys() { tmux -S "$sock" send-keys -t "$S" "$@"; }
# wait_for TEXT [SECONDS]: until the screen shows TEXT (default 5 s)
wait_for() {
	_n=$(( ${2:-5} * 20 ))
	_i=0
	while [ $_i -lt $_n ]; do
		screen | grep -qF -- "$1" && return 0
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}
# prompt_back_after TEXT: until TEXT is on screen and the last line is the
# system-view prompt again (up to 5 s)
prompt_back_after() {
	_i=0
	while [ $_i -lt 100 ]; do
		if screen | grep -qF -- "$1" &&
			[ "$(screen | grep -v '^$' | tail -n 1)" = "[pkish]" ]; then
			return 0
		fi
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}

wait_for "<pkish>" || { fail ctrlc-console-start "$(screen)"; exit 1; }
keys "system-view" Enter
wait_for "[pkish]"

# 1. the background update of session a, stopped by poll-request stop
if wait_for "The CMP session a is updating its certificate" 15; then
	sleep 0.5
	t0=$(now_ms)
	keys "pki cmp poll-request stop session a" Enter
	if wait_for "The automatic update of the CMP session a failed (attempt 1): stopped by the operator while waiting for the answer from 127.0.0.1:" 3; then
		t=$(($(now_ms) - t0))
		if [ $t -le 1000 ]; then ok ctrlc-background-update-stopped; else
			fail ctrlc-background-update-stopped "took $t ms"; fi
	else
		fail ctrlc-background-update-stopped "$(screen | grep -v "^$" | tail -n 15)"
	fi
	if cmp -s "$F/pki/public/a_ir.cer" "$tmp/a_ir.before"; then
		ok ctrlc-background-old-certificate-kept
	else
		fail ctrlc-background-old-certificate-kept
	fi
else
	fail ctrlc-background-update-started "$(screen | grep -v "^$" | tail -n 15)"
fi

# 2. Ctrl+C while waiting for the HTTP answer
keys C-l
keys "pki cmp initial-request session s" Enter
if wait_for "Info: Sending ir to $silent"; then
	sleep 0.5
	t0=$(now_ms)
	keys C-c
	want="Error: The initial-request of the CMP session s failed: stopped by the operator while waiting for the answer from 127.0.0.1:"
	if prompt_back_after "$want"; then
		t=$(($(now_ms) - t0))
		if [ $t -le 1000 ]; then ok ctrlc-waiting-for-answer-stopped; else
			fail ctrlc-waiting-for-answer-stopped "prompt back after $t ms"; fi
	else
		fail ctrlc-waiting-for-answer-stopped "$(screen | grep -v "^$" | tail -n 15)"
	fi
	# the reason starts its own line; "^C" is not followed by it
	if screen | grep -q "^Error: The initial-request of the CMP session s failed" &&
		! screen | grep -qF "^CError"; then
		ok ctrlc-reason-on-its-own-line
	else
		fail ctrlc-reason-on-its-own-line "$(screen | grep -v "^$" | tail -n 15)"
	fi
else
	fail ctrlc-waiting-for-answer-sent "$(screen | grep -v "^$" | tail -n 15)"
fi

# 3. Ctrl+C while polling (the mock asks to check again in 30 s)
keys C-l
keys "pki cmp initial-request session m" Enter
if wait_for "checking again in 30 seconds"; then
	sleep 0.3
	t0=$(now_ms)
	keys C-c
	if prompt_back_after "Error: The initial-request of the CMP session m failed: stopped by the operator while polling"; then
		t=$(($(now_ms) - t0))
		if [ $t -le 1000 ]; then ok ctrlc-polling-stopped; else
			fail ctrlc-polling-stopped "prompt back after $t ms"; fi
	else
		fail ctrlc-polling-stopped "$(screen | grep -v "^$" | tail -n 15)"
	fi
else
	fail ctrlc-polling-started "$(screen | grep -v "^$" | tail -n 15)"
fi

# 4. each counts as a failed IR; no certificate was written
keys C-l
keys "display pki cmp statistics session s" Enter
keys "display pki cmp statistics session m" Enter
sleep 0.5
st=$(screen)
if [ "$(echo "$st" | grep -Ec "Ir Send Counts *: 1$")" -eq 2 ] &&
	[ "$(echo "$st" | grep -Ec "Ir Fail[a-z]* Counts *: 1$")" -eq 2 ]; then
	ok ctrlc-counted-as-failed
else
	fail ctrlc-counted-as-failed "$(echo "$st" | grep -v "^$" | tail -n 20)"
fi
if [ ! -e "$F/pki/public/s_ir.cer" ] && [ ! -e "$F/pki/public/m_ir.cer" ] &&
	[ -z "$(find "$F" -name '*.tmp*' 2>/dev/null)" ]; then
	ok ctrlc-nothing-written
else
	fail ctrlc-nothing-written "$(ls -la "$F/pki/public")"
fi

keys "return" Enter "quit" Enter
wait_for "EXITED" >/dev/null || true
