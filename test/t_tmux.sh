#!/bin/sh
# Drives the real terminal front end (libedit) in tmux: Tab completion and cycling
# (output filters too), '?' help that redraws the typed line, the prompt following
# the view, Ctrl+Z as return, history; a key file's password asked without echo;
# a MAC secret typed inline never on the screen nor in the history (Up shows
# ******, which is not taken as a secret); destroying a key a session uses
# refused before any question; a request whose result file exists asks first;
# leaving with unsaved changes (quit, Ctrl+D) asks whether to save; no copy of a
# password or an inline secret left in the process's memory (/proc/PID/mem).
# Reads the screen with capture-pane.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin="$top/${BUILD:-build}/pkish"
case "${BUILD:-build}" in /*) bin="${BUILD}/pkish" ;; esac
command -v tmux >/dev/null || { echo "FAIL tmux-missing (install tmux)"; exit 1; }
tmp=$(mktemp -d)
sock="$tmp/tmux.sock"
S="pkish$$"
trap 'tmux -S "$sock" kill-server 2>/dev/null; rm -rf "$tmp"' EXIT

mkdir -p "$tmp/flash/pki/public"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
	openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:TmuxPass12 \
	-out "$tmp/flash/pki/public/enc.pem"
echo "an earlier result" >"$tmp/flash/pki/public/s1_ir.cer"
tmux -S "$sock" new-session -d -s "$S" -x 120 -y 40 \
	"$bin --no-startup --flash $tmp/flash; echo EXITED; sleep 30"
screen() { tmux -S "$sock" capture-pane -p -t "$S"; }
keys() { tmux -S "$sock" send-keys -t "$S" "$@"; }
# wait until the screen shows $1 (up to 5 s)
wait_for() {
	i=0
	while [ $i -lt 50 ]; do
		screen | grep -qF -- "$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
check() {	# name, text expected on screen
	if wait_for "$2"; then echo "ok $1"; else echo "FAIL $1"; screen; fi
}

check tmux-prompt "<pkish>"
keys "dis" Tab
check tmux-tab-completes "<pkish>display"
keys "?"
check tmux-help-lists "current-configuration  Current configuration"
# the typed line is redrawn after the help
sleep 0.3
last=$(screen | grep -v '^$' | tail -n 1)
if [ "$last" = "<pkish>display" ]; then echo "ok tmux-help-redraws-line"; else
	echo "FAIL tmux-help-redraws-line (last line: '$last')"; fi
keys "v" Tab Enter
check tmux-tab-then-run "pkish version"
# Tab cycling: "d" has two candidates, dir and display
keys C-u "d" Tab
check tmux-tab-cycle-first "<pkish>dir"
keys Tab
check tmux-tab-cycle-second "<pkish>display"
keys C-u "system-view" Enter
check tmux-prompt-follows-view "[pkish]"
keys "sysname edge1" Enter
check tmux-sysname-prompt "[edge1]"
keys C-z
check tmux-ctrl-z-returns "<edge1>"
# history: up arrow brings back the previous command line
keys Up
sleep 0.3
if screen | grep -v "^$" | tail -n 1 | grep -qF "<edge1>sysname edge1"; then echo "ok tmux-history"; else
	echo "FAIL tmux-history"; screen; fi
# output filters complete with Tab
keys C-u "display cu | inc" Tab
check tmux-tab-completes-filter "<edge1>display cu | include"
keys "sysname" Enter
check tmux-filter-runs "sysname edge1"

# a key file's password: asked once, not echoed
keys "system-view" Enter
keys "pki import rsa-key-pair kt pem enc.pem" Enter
check tmux-import-asks-password "The current password is required, please enter the password <length 1-32>:"
keys "TmuxPass12" Enter
check tmux-import-succeeds "Info: Succeeded in importing the RSA key pair in PEM format."
if screen | grep -q TmuxPass12; then echo "FAIL tmux-import-password-not-echoed"; screen; else
	echo "ok tmux-import-password-not-echoed"; fi
# ... and no copy of it left in the shell's memory once the import is done (a
# stdio buffer or a grown line buffer would keep one): the live process's
# writable memory (heap, stacks, data), read from /proc/PID/mem. Not under ASan
# (its shadow map is terabytes), nor where the machine forbids reading another
# process's memory (said, not passed).
dump_mem() {	# pid, file: 1 when nothing could be read
	: >"$2"
	_r=1
	while read -r _range _perms _rest; do
		case $_perms in rw?p) ;; *) continue ;; esac
		_lo=$((0x${_range%-*}))
		_hi=$((0x${_range#*-}))
		dd if="/proc/$1/mem" of="$2" oflag=append conv=notrunc bs=65536 \
		    iflag=skip_bytes,count_bytes skip=$_lo count=$((_hi - _lo)) \
		    2>/dev/null && _r=0
	done <"/proc/$1/maps"
	return $_r
}
not_in_memory() {	# name, secret
	pid=$(pgrep -n -f -- "--flash $tmp/flash")
	if ldd "$bin" 2>/dev/null | grep -q libasan; then
		echo "# $1: not checked in a sanitized build (see the plain make check)"
	elif [ -z "$pid" ]; then
		echo "FAIL $1 (pkish is not running)"
	elif ! dump_mem "$pid" "$tmp/mem"; then
		echo "# $1: not checked: this machine does not let a test read /proc/$pid/mem"
	elif grep -aq -- "$2" "$tmp/mem"; then
		echo "FAIL $1 (the secret is in pkish's memory)"
	else echo "ok $1"; fi
	rm -f "$tmp/mem"
}
not_in_memory tmux-password-wiped TmuxPass12

# a MAC secret typed inline: masked on the screen and in the history
keys "pki cmp session s1" Enter
keys "cmp-request rsa local-key-pair kt" Enter
keys "cmp-request message-authentication-code ref1 Sup3rS3cretMac" Enter
check tmux-secret-line-redrawn-masked "[edge1-pki-cmp-session-s1]cmp-request message-authentication-code ref1 ******"
# the secret typed inline lives on sealed only (libedit's buffers, the line's
# canonical text and the parsed arguments wiped)
not_in_memory tmux-inline-secret-wiped Sup3rS3cretMac
keys Up
sleep 0.3
last=$(screen | grep -v '^$' | tail -n 1)
if [ "$last" = "[edge1-pki-cmp-session-s1]cmp-request message-authentication-code ref1 ******" ] &&
	! screen | grep -q Sup3rS3cretMac; then
	echo "ok tmux-history-keeps-masked-secret"
else
	echo "FAIL tmux-history-keeps-masked-secret (last line: '$last')"
	screen
fi
keys Enter
check tmux-masked-secret-not-taken "Error: The secret ****** is the masked form the history keeps"
keys "quit" Enter
keys "pki rsa local-key-pair destroy kt" Enter
check tmux-destroy-in-use-refused-first "Error: The key pair kt is used by the CMP session s1 and cannot be deleted."
if screen | grep -q "Are you sure you want to delete"; then
	echo "FAIL tmux-destroy-in-use-asks-nothing"; else echo "ok tmux-destroy-in-use-asks-nothing"; fi

# a request whose result file exists asks first; N sends nothing
keys "pki cmp initial-request session s1" Enter
check tmux-result-file-asks "Warning: The file flash:/pki/public/s1_ir.cer exists and will be replaced by the new certificate. Continue? [Y/N]:"
keys "n" Enter
check tmux-result-file-n-not-sent "Info: The initial-request was not sent."
if [ "$(cat "$tmp/flash/pki/public/s1_ir.cer")" = "an earlier result" ]; then
	echo "ok tmux-result-file-kept"; else echo "FAIL tmux-result-file-kept"; fi

# leaving with unsaved changes asks; N leaves without saving
keys C-z
keys "quit" Enter
check tmux-quit-warns-unsaved "Warning: The current configuration has not been saved"
check tmux-quit-asks-save "Save it to flash:/vrpcfg.cfg now? [Y/N]:"
keys "n" Enter
check tmux-quit-ends "EXITED"
if [ -f "$tmp/flash/vrpcfg.cfg" ]; then echo "FAIL tmux-quit-n-saves-nothing"; else
	echo "ok tmux-quit-n-saves-nothing"; fi

# Ctrl+D with unsaved changes: Y saves; afterwards nothing is asked
tmux -S "$sock" kill-session -t "$S"
tmux -S "$sock" new-session -d -s "$S" -x 120 -y 40 \
	"$bin --flash $tmp/flash; echo EXITED; sleep 30"
check tmux-restart "<pkish>"
keys "system-view" Enter "sysname saved-one" Enter C-z C-d
check tmux-ctrl-d-asks-save "Save it to flash:/vrpcfg.cfg now? [Y/N]:"
keys "y" Enter
check tmux-ctrl-d-saves "Save the configuration successfully."
check tmux-ctrl-d-ends "EXITED"
if grep -qx "sysname saved-one" "$tmp/flash/vrpcfg.cfg" 2>/dev/null; then
	echo "ok tmux-ctrl-d-saved-file"; else echo "FAIL tmux-ctrl-d-saved-file"; fi
tmux -S "$sock" kill-session -t "$S"
tmux -S "$sock" new-session -d -s "$S" -x 120 -y 40 \
	"$bin --flash $tmp/flash; echo EXITED; sleep 30"
check tmux-restart-saved "<saved-one>"
keys "quit" Enter
check tmux-quit-unchanged-ends "EXITED"
if screen | grep -q "has not been saved"; then echo "FAIL tmux-quit-unchanged-asks-nothing"; else
	echo "ok tmux-quit-unchanged-asks-nothing"; fi
