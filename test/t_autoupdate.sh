#!/bin/sh
# Automatic certificate update, end to end: cmpca issuing 20-second certificates;
# a pkish daemon with two sessions (one with regenerate) renews each at least twice
# within a minute, every new certificate chaining to the CA and, with regenerate,
# carrying a new key; a reader looping over the certificate file never sees a torn
# file; the CA down during an update gives retries, then success once it is back;
# a console typing commands meanwhile is never blocked.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-au.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
# watchdog: the whole test ends within 4 minutes whatever happens
( sleep 240; echo "FAIL autoupdate-watchdog (gave up after 240 s)"; kill -TERM $$ ) &
pids="$pids $!"
. "$top/test/lib.sh"
ok() { echo "ok $1"; }
fail() { echo "FAIL $1${2:+: $2}"; }

# Starts cmpca on $1 (ADDR:PORT) in $tmp/ca, logging to $tmp/ca-$2.log (one log
# per start, so the URL read is this start's); sets ca_pid and url.
start_ca() {
	cmpca_start "$tmp/ca" "$tmp/ca-$2.log" "$1" --validity 20s $CA_OPTS
	_rc=$?
	ca_pid=$cmpca_pid
	[ $_rc = 0 ] || cat "$tmp/ca-$2.log"
	return $_rc
}

# Enrols sessions with IR (MAC) and turns them into auto-updating signed sessions.
# $1 flash dir, then session specs "NAME KEY regen|same".
enrol() {
	flash=$1
	shift
	mkdir -p "$flash"
	ref=$(sed -n 's/^cmpca: reference "\([^"]*\)".*/\1/p' "$tmp/ca-1.log")
	secret=$(head -n 1 "$tmp/ca/secret")
	{
		echo "system-view"
		echo "pki entity dev"
		echo " common-name dev.example.com"
		echo "quit"
		for spec in "$@"; do
			set -- $spec
			echo "pki rsa local-key-pair create $2 modulus 2048"
			echo "pki cmp session $1"
			echo " cmp-request entity dev"
			echo " cmp-request server url $url"
			if [ "$3" = regen ]; then
				echo " cmp-request rsa local-key-pair $2 regenerate 2048"
			else
				echo " cmp-request rsa local-key-pair $2"
			fi
			echo " cmp-request message-authentication-code $ref $secret"
			echo " cmp-request ca-name \"$ca_name\""
			echo "quit"
			echo "pki cmp initial-request session $1"
			echo "pki cmp session $1"
			echo " cmp-request origin-authentication-method signature"
			echo " cmp-request authentication-cert $1_ir.cer"
			echo " certificate update expire-time 50"
			echo " certificate auto-update enable"
			echo "quit"
		done
		echo "pki import-certificate ca filename $1_ca0.cer"
		echo "return"
		echo "save"
	} >"$tmp/enrol.cfg"
	"$b/pkish" --no-startup --flash "$flash" -f "$tmp/enrol.cfg" >"$tmp/enrol.log" 2>&1
}

CA_OPTS=""
start_ca 127.0.0.1:0 1 || { fail autoupdate-cmpca-start; exit 1; }
hostport=$(echo "$url" | sed 's|^http://\([^/]*\)/.*|\1|')
ca_name=$(openssl x509 -in "$tmp/ca/ca.crt" -noout -subject \
	-nameopt sep_comma_plus,sname,utf8 | sed 's/^subject=//')

# ---- phase 1: daemon, two sessions, reader, CA outage ----
F="$tmp/flash"
if enrol "$F" "A keyA same" "B keyB regen" && [ -f "$F/pki/public/A_ir.cer" ] &&
	[ -f "$F/pki/public/B_ir.cer" ]; then
	ok autoupdate-enrolled
else
	fail autoupdate-enrolled
	cat "$tmp/enrol.log"
	exit 1
fi
openssl x509 -in "$F/pki/public/B_ir.cer" -noout -pubkey >"$tmp/B.pub.0"

"$b/pkish" --daemon --flash "$F" 2>"$tmp/daemon.log" &
dpid=$!
pids="$pids $dpid"

# reader: parse the certificate file as fast as it can while it is being replaced
(
	n=0
	torn=0
	end=$(($(date +%s) + 50))
	while [ "$(date +%s)" -lt $end ]; do
		if ! openssl x509 -in "$F/pki/public/A_ir.cer" -noout 2>/dev/null; then
			torn=$((torn + 1))
		fi
		n=$((n + 1))
	done
	echo "$n $torn" >"$tmp/reader.out"
) &
rpid=$!
pids="$pids $rpid"

count() { grep -c "CMP session $1 was updated automatically" "$tmp/daemon.log"; }
wait_updates() {	# $1 session, $2 count, $3 deadline (s since epoch)
	while [ "$(date +%s)" -lt "$3" ]; do
		[ "$(count "$1")" -ge "$2" ] && return 0
		sleep 0.5
	done
	return 1
}
deadline=$(($(date +%s) + 60))
if wait_updates A 2 $deadline && wait_updates B 2 $deadline; then
	ok autoupdate-two-sessions-renew-twice-within-a-minute
else
	fail autoupdate-two-sessions-renew-twice-within-a-minute
	cat "$tmp/daemon.log"
fi
for s in A B; do
	if openssl verify -CAfile "$tmp/ca/ca.crt" "$F/pki/public/${s}_ir.cer" \
		>/dev/null 2>&1; then
		ok "autoupdate-$s-new-cert-chains-to-ca"
	else
		fail "autoupdate-$s-new-cert-chains-to-ca"
	fi
done
openssl x509 -in "$F/pki/public/B_ir.cer" -noout -pubkey >"$tmp/B.pub.1"
if ! cmp -s "$tmp/B.pub.0" "$tmp/B.pub.1" &&
	grep -q "CMP session B was updated automatically.*new key pair" "$tmp/daemon.log"; then
	ok autoupdate-regenerate-new-key
else
	fail autoupdate-regenerate-new-key
fi
# the session's certificate is always the one matching the stored key
if grep -q "CMP session A was updated automatically.*new key pair" "$tmp/daemon.log"; then
	fail autoupdate-same-key-keeps-key
else
	ok autoupdate-same-key-keeps-key
fi

# CA outage: stop it, let an update fail, bring it back on the same port
kill "$ca_pid"
wait "$ca_pid" 2>/dev/null
before=$(count A)
deadline=$(($(date +%s) + 40))
seen_fail=0
while [ "$(date +%s)" -lt $deadline ]; do
	if grep -q "automatic update of the CMP session A failed" "$tmp/daemon.log"; then
		seen_fail=1
		break
	fi
	sleep 0.5
done
if [ $seen_fail = 1 ]; then ok autoupdate-ca-down-retries; else
	fail autoupdate-ca-down-retries; cat "$tmp/daemon.log"; fi
start_ca "$hostport" 2 || fail autoupdate-ca-restart
if wait_updates A $((before + 1)) $(($(date +%s) + 40)); then
	ok autoupdate-success-after-ca-back
else
	fail autoupdate-success-after-ca-back
	tail -n 20 "$tmp/daemon.log"
fi

wait "$rpid" 2>/dev/null
read n torn <"$tmp/reader.out"
if [ "$torn" -eq 0 ] && [ "$n" -gt 10 ]; then
	ok "autoupdate-reader-never-sees-torn-file ($n reads)"
else
	fail autoupdate-reader-never-sees-torn-file "$torn torn of $n"
fi
kill "$dpid"
wait "$dpid" 2>/dev/null
if grep -q "daemon stopping" "$tmp/daemon.log"; then ok autoupdate-daemon-sigterm; else
	fail autoupdate-daemon-sigterm; fi

# ---- phase 2: a console typing commands while an update is polling ----
kill "$ca_pid" 2>/dev/null
wait "$ca_pid" 2>/dev/null
CA_OPTS="--poll 2 --check-after 2"
start_ca 127.0.0.1:0 3 || fail autoupdate-ca-restart-polling
C="$tmp/console"
if enrol "$C" "C keyC same" && [ -f "$C/pki/public/C_ir.cer" ]; then
	ok autoupdate-enrolled-with-polling
else
	fail autoupdate-enrolled-with-polling
	cat "$tmp/enrol.log"
	tail -n 5 "$tmp/ca-3.log"
fi
mkfifo "$tmp/in"
"$b/pkish" --flash "$C" <"$tmp/in" >"$tmp/console.log" 2>&1 &
cpid=$!
pids="$pids $cpid"
exec 3>"$tmp/in"
end=$(($(date +%s) + 40))
while [ "$(date +%s)" -lt $end ]; do
	echo "display pki cmp statistics" >&3
	sleep 0.5
	grep -q "was updated automatically" "$tmp/console.log" && break
done
exec 3>&-
wait "$cpid" 2>/dev/null
# between "is updating" and "was updated" the console answered commands
if awk '/is updating its certificate/ { u = 1; next }
	/was updated automatically/ { if (u && n > 0) ok = 1; u = 0 }
	u && /^<[^>]*>display pki cmp statistics/ { n++ }
	END { exit ok ? 0 : 1 }' "$tmp/console.log"; then
	ok autoupdate-console-not-blocked
else
	fail autoupdate-console-not-blocked
	tail -n 30 "$tmp/console.log"
fi

# ---- phase 3: at a real terminal the event prints and the typed text is redrawn ----
if command -v tmux >/dev/null; then
	kill "$ca_pid" 2>/dev/null
	wait "$ca_pid" 2>/dev/null
	CA_OPTS=""
	start_ca 127.0.0.1:0 4 || fail autoupdate-ca-restart-tmux
	T="$tmp/term"
	enrol "$T" "T keyT same"
	sock="$tmp/tmux.sock"
	tmux -S "$sock" new-session -d -s au -x 150 -y 50 "$b/pkish --flash $T"
	pids="$pids $(tmux -S "$sock" display -p -t au '#{pane_pid}')"
	sleep 1
	tmux -S "$sock" send-keys -t au "display pki"
	i=0
	while [ $i -lt 300 ] && ! tmux -S "$sock" capture-pane -p -t au |
		grep -q "was updated automatically"; do
		sleep 0.1
		i=$((i + 1))
	done
	sleep 0.5
	screen=$(tmux -S "$sock" capture-pane -p -t au)
	last=$(echo "$screen" | grep -v '^$' | tail -n 1)
	if echo "$screen" | grep -q "^Info: The certificate of the CMP session T was updated" &&
		[ "$last" = "<pkish>display pki" ]; then
		ok autoupdate-terminal-event-redraws-typed-line
	else
		fail autoupdate-terminal-event-redraws-typed-line "last line '$last'"
		echo "$screen"
	fi
	tmux -S "$sock" kill-server 2>/dev/null
fi
