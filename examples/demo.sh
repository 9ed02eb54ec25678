#!/bin/sh
# `make demo`: the main job on the embedded default CA. Starts cmpca on a free
# loopback port with a temporary directory, replays examples/enroll.cfg through
# pkish (key pair, entity, session, IR with MAC, import of the CA and local
# certificates, a signed KUR with a new key pair, display of the new
# certificate), prints the transcript and stops cmpca.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) bin=$BUILD ;; *) bin="$top/$BUILD" ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/pkish-demo.XXXXXX")
ca_pid=
cleanup() {
	[ -n "$ca_pid" ] && kill "$ca_pid" 2>/dev/null && wait "$ca_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$bin/cmpca" --dir "$work/ca" --listen 127.0.0.1:0 >"$work/ca.log" 2>&1 &
ca_pid=$!
url=
i=0
while [ $i -lt 100 ]; do
	url=$(sed -n 's/^cmpca: listening on \(http[^ ]*\).*/\1/p' "$work/ca.log" | head -n 1)
	[ -n "$url" ] && break
	kill -0 "$ca_pid" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
if [ -z "$url" ]; then
	echo "demo: cmpca did not start:" >&2
	cat "$work/ca.log" >&2
	exit 1
fi
ref=$(sed -n 's/^cmpca: reference "\([^"]*\)".*/\1/p' "$work/ca.log" | head -n 1)
# the secret is read from the file cmpca keeps it in, never shown
secret=$(head -n 1 "$work/ca/secret")
ca_name=$(openssl x509 -in "$work/ca/ca.crt" -noout -subject \
	-nameopt sep_comma_plus,sname,utf8 | sed 's/^subject=//')
echo "== cmpca (the embedded default CA)"
cat "$work/ca.log"
echo
echo "== pkish replays examples/enroll.cfg"
sed -e "s|@URL@|$url|" -e "s|@REF@|$ref|" -e "s|@SECRET@|$secret|" \
	-e "s|@CA_NAME@|$ca_name|" "$top/examples/enroll.cfg" >"$work/enroll.cfg"
mkdir -p "$work/flash"
"$bin/pkish" --no-startup --flash "$work/flash" -f "$work/enroll.cfg"
