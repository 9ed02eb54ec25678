#!/bin/sh
# Batch mode semantics (CLI.md): -c and -f in order, the stderr summary and exit
# status, --stop-on-error, the saved configuration loaded at start, secrets never
# echoed or saved in clear, hostile input answered without a crash.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-batch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
P="$b/pkish --flash $tmp/flash"
check() {	# name, condition (shell expression)
	if eval "$2"; then echo "ok $1"; else echo "FAIL $1"; fi
}

$P --no-startup -c "system-view" -c "sysname one" -c "bogus" -c "display this" \
	>"$tmp/o1" 2>"$tmp/e1"
rc=$?
check batch-c-exit-status '[ $rc -eq 1 ]'
check batch-c-summary 'grep -qx "pkish: 1 of 4 lines failed (lines 3)" "$tmp/e1"'
check batch-c-echo-after-prompt 'grep -qx "\[one\]display this" "$tmp/o1"'
check batch-c-order-kept 'grep -qx "sysname one" "$tmp/o1"'

printf 'system-view\nsysname two\nbogus one\nsysname three\n' >"$tmp/f.cfg"
$P --no-startup --stop-on-error -f "$tmp/f.cfg" >"$tmp/o2" 2>"$tmp/e2"
rc=$?
check batch-stop-on-error-exit '[ $rc -eq 1 ]'
check batch-stop-on-error-stops '! grep -q "sysname three" "$tmp/o2"'
check batch-stop-on-error-summary 'grep -qx "pkish: 1 of 3 lines failed (lines 3)" "$tmp/e2"'

printf '# a comment\n\nsystem-view\n  # indented comment\nsysname ok-name\ndisplay this ?\n' |
	$P --no-startup >"$tmp/o3" 2>"$tmp/e3"
rc=$?
check batch-stdin-success-exit '[ $rc -eq 0 ] && [ ! -s "$tmp/e3" ]'
check batch-comments-skipped '! grep -q "comment" "$tmp/o3"'
check batch-question-mark-help 'grep -qx "  <cr>" "$tmp/o3"'

# save, then a new run loads flash:/vrpcfg.cfg; a secret is saved sealed
$P --no-startup -c "system-view" -c "sysname saved" -c "pki cmp session s" \
	-c "cmp-request message-authentication-code ref1 TopSecret99" -c "return" \
	-c "save" >"$tmp/o4" 2>&1
check batch-secret-not-echoed '! grep -q TopSecret99 "$tmp/o4"'
check batch-secret-sealed-in-config '! grep -q TopSecret99 "$tmp/flash/vrpcfg.cfg" &&
	grep -q "message-authentication-code ref1 %^%#" "$tmp/flash/vrpcfg.cfg"'
$P -c "display current-configuration" >"$tmp/o5" 2>&1
check batch-startup-config-loaded 'grep -qx "sysname saved" "$tmp/o5" &&
	grep -q "^ cmp-request message-authentication-code ref1 %^%#" "$tmp/o5"'
check batch-startup-prompt 'grep -q "^<saved>display current-configuration" "$tmp/o5"'
# the saved configuration replays: the sealed secret is accepted as input
grep -v '^#' "$tmp/flash/vrpcfg.cfg" | grep -v '^return' >"$tmp/replay.cfg"
$P --no-startup -c system-view -f "$tmp/replay.cfg" >"$tmp/o6" 2>&1
check batch-sealed-secret-replays '[ $? -eq 0 ]'
# a broken startup line is reported with its line number, the rest still loads
printf 'sysname after-bad\nbogus line\n' >"$tmp/flash/vrpcfg.cfg"
$P -c "display this" >"$tmp/o7" 2>"$tmp/e7"
check batch-startup-error-reported 'grep -q "flash:/vrpcfg.cfg, line 2" "$tmp/e7" &&
	grep -q "^<after-bad>" "$tmp/o7"'

# hostile input: long lines of arbitrary bytes, NULs, unbalanced quotes
head -c 70000 /dev/urandom >"$tmp/junk"
{ head -c 65000 /dev/urandom | tr -d '\n'; echo; printf '"unbalanced ?\n'; cat "$tmp/junk"; echo; } |
	$P --no-startup >/dev/null 2>"$tmp/e8"
rc=$?
check batch-hostile-input-no-crash '[ $rc -eq 1 ] && grep -q "lines failed" "$tmp/e8"'

# a line that fails before its secret still does not echo the secret
$P --no-startup -c "system-view" -c "pki export rsa-key-pair no-key pem ../x.pem password Hidden123" \
	-c "pki cmp session s" -c "cmp-request message-authentication-code ref1 Hidden456 extra" \
	>"$tmp/o9" 2>&1
check batch-failing-line-secret-masked '! grep -q "Hidden" "$tmp/o9" && grep -q "password \*\*\*\*\*\*" "$tmp/o9"'
