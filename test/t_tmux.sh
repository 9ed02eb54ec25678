#!/bin/sh
# Drives the real terminal front end (libedit) in tmux: Tab completion and cycling,
# '?' help that redraws the typed line, the prompt following the view, Ctrl+Z as
# return, history. Reads the screen with capture-pane.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin="$top/${BUILD:-build}/pkish"
case "${BUILD:-build}" in /*) bin="${BUILD}/pkish" ;; esac
command -v tmux >/dev/null || { echo "FAIL tmux-missing (install tmux)"; exit 1; }
tmp=$(mktemp -d)
sock="$tmp/tmux.sock"
S="pkish$$"
trap 'tmux -S "$sock" kill-server 2>/dev/null; rm -rf "$tmp"' EXIT

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
keys C-u "quit" Enter
check tmux-quit-ends "EXITED"
