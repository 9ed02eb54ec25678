#!/bin/sh
# The daemon's log lines reach the journal once. Under systemd its stderr is the
# journal (JOURNAL_STREAM names stderr's device:inode) and syslog reaches it too:
# then each message is written once, to stderr, with its sd-daemon priority
# prefix and no time stamp of ours. Elsewhere (no JOURNAL_STREAM, or one naming
# another file) it goes to stderr with a time stamp and to syslog. syslog(3) is
# observed through a small LD_PRELOAD library built here that records its calls.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-dlog.XXXXXX")
dpid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
cat >"$tmp/shim.c" <<'EOC'
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

static void
record(int prio, const char *fmt, va_list ap)
{
	const char *path = getenv("SYSLOG_SHIM_LOG");
	FILE *f = path != NULL ? fopen(path, "a") : NULL;

	if (f == NULL)
		return;
	fprintf(f, "%d ", prio);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	fclose(f);
}

void
syslog(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(prio, fmt, ap);
	va_end(ap);
}

void
__syslog_chk(int prio, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	record(prio, fmt, ap);
	va_end(ap);
}
EOC
if ! cc -shared -fPIC -o "$tmp/shim.so" "$tmp/shim.c" 2>"$tmp/cc.log"; then
	echo "FAIL daemon-log-shim-build"; cat "$tmp/cc.log"; exit 1
fi
mkdir -p "$tmp/flash"

# runs the daemon until it has started, stops it; $1: JOURNAL_STREAM or "-" (unset)
run() {
	: >"$tmp/err"
	: >"$tmp/syslog"
	(
		if [ "$1" = - ]; then unset JOURNAL_STREAM; else JOURNAL_STREAM=$1; export JOURNAL_STREAM; fi
		SYSLOG_SHIM_LOG="$tmp/syslog" LD_PRELOAD="$tmp/shim.so" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
		exec "$b/pkish" --daemon --flash "$tmp/flash" 2>>"$tmp/err"
	) &
	dpid=$!
	i=0
	while [ $i -lt 100 ] && ! grep -q "daemon started" "$tmp/err"; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -TERM "$dpid"
	wait "$dpid" 2>/dev/null
	dpid=
}
check() { if eval "$2"; then echo "ok $1"; else echo "FAIL $1"; echo "stderr:";
	cat "$tmp/err"; echo "syslog:"; cat "$tmp/syslog"; fi; }

run -
check daemon-log-stderr-and-syslog-outside-systemd 'grep -q "^[0-9-]* [0-9:]* UTC pkish: Info: pkish daemon started" "$tmp/err" &&
	grep -q "^6 Info: pkish daemon started" "$tmp/syslog" &&
	grep -q "^6 Info: pkish daemon stopping" "$tmp/syslog"'
# stderr is the journal: the file stderr is, by its device and inode
devino=$(stat -c '%d:%i' "$tmp/err")
run "$devino"
check daemon-log-once-when-stderr-is-the-journal '[ ! -s "$tmp/syslog" ] &&
	[ "$(cat "$tmp/err")" = "<6>Info: pkish daemon started: 0 CMP session(s) with automatic update.
<6>Info: pkish daemon stopping." ]'
# a JOURNAL_STREAM inherited from elsewhere (stderr redirected): both again
run "1:$(stat -c %i "$top")"
check daemon-log-foreign-journal-stream-ignored 'grep -q "UTC pkish: Info: pkish daemon started" "$tmp/err" &&
	grep -q "^6 Info: pkish daemon started" "$tmp/syslog"'
run "garbage"
check daemon-log-malformed-journal-stream-ignored 'grep -q "UTC pkish: Info" "$tmp/err" &&
	[ -s "$tmp/syslog" ]'
