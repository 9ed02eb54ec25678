#!/bin/sh
# Shell tests of the cmpca program: options, first run on an empty DIR (CA key,
# certificate, secret, database), the printed listening address, HTTP refusals
# (404 for a path not served), clean stop on SIGTERM/SIGINT, restart on the
# same DIR, a port already in use, cmpca.conf and --check-config.
# Prints "ok NAME" / "FAIL NAME" per case. Environment: BUILD, PKISH_TOP.
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
# check NAME 'SHELL CONDITION': evaluated in this shell.
check() { name=$1; shift; if eval "$1"; then ok "$name"; else fail "$name"; fi; }

if [ ! -x "$CMPCA" ]; then
	fail cmpca_built "$CMPCA missing"
	exit 1
fi

# start DIR OUT [ARGS...]: runs cmpca in the background, waits for its address.
start() {
	d=$1; out=$2; shift 2
	cmpca_start "$d" "$out" 127.0.0.1:0 "$@"
	_rc=$?
	pid=$cmpca_pid
	return $_rc
}

# stop PID SIG: sends SIG, waits up to 10 s; sets rc to the exit status.
stop() {
	kill -"$2" "$1"
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	wait "$1"
	rc=$?
}

# help, version and usage errors
out=$("$CMPCA" --help); rc=$?
check help '[ $rc -eq 0 ] && echo "$out" | grep -q -- "--validity DURATION"'
out=$("$CMPCA" --version); rc=$?
check version '[ $rc -eq 0 ] && echo "$out" | grep -q "^cmpca"'
"$CMPCA" --bogus >"$tmp/o" 2>&1; rc=$?
check bad_option '[ $rc -eq 2 ] && grep -q "unknown option --bogus" "$tmp/o"'
"$CMPCA" --validity 5x >"$tmp/o" 2>&1; rc=$?
check bad_validity '[ $rc -eq 2 ] && grep -q "unit must be" "$tmp/o"'
"$CMPCA" --implicit-confirm maybe >"$tmp/o" 2>&1; rc=$?
check bad_implicit_confirm '[ $rc -eq 2 ]'
"$CMPCA" --ca-cert x.pem >"$tmp/o" 2>&1; rc=$?
check ca_cert_needs_key '[ $rc -eq 2 ] && grep -q "go together" "$tmp/o"'

# first run on an empty DIR
ca=$tmp/ca
if start "$ca" "$tmp/run1" --validity 20s --threads 2; then
	pid1=$pid
	url1=$url
	ok first_run_listens
else
	fail first_run_listens "$(cat "$tmp/run1")"
	exit 1
fi
check first_run_created 'grep -q "created a new CA in $ca" "$tmp/run1"'
# names in the one style of both programs (as pkish shows them)
check ca_subject_style 'grep -qx "cmpca: CA subject: O=pkish, CN=cmpca CA" "$tmp/run1"'
mode() { stat -c %a "$1"; }
check key_0600 '[ "$(mode "$ca/ca.key")" = 600 ]'
check secret_0600 '[ "$(mode "$ca/secret")" = 600 ]'
secret=$(cat "$ca/secret")
# issue 11: the secret is never printed, only where it is kept
check secret_not_printed '! grep -qF "$secret" "$tmp/run1" &&
    grep -qx "cmpca: reference \"cmpca\", secret kept in $ca/secret" "$tmp/run1"'
check ca_cert_is_ca 'openssl x509 -in "$ca/ca.crt" -noout -text | grep -q "CA:TRUE"'
check ca_self_verifies 'openssl verify -CAfile "$ca/ca.crt" "$ca/ca.crt" | grep -q ": OK"'
check db_schema '[ "$(sqlite3 "$ca/ca.db" "PRAGMA user_version")" = 3 ]'
case $url1 in http://127.0.0.1:[0-9]*/) ok url_printed ;; *) fail url_printed "$url1" ;; esac

if command -v curl >/dev/null 2>&1; then
	code=$(curl -s -o /dev/null -w '%{http_code}' "$url1")
	check http_get_405 '[ "$code" = 405 ]'
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' \
	    --data-binary x "$url1")
	check http_wrong_type_415 '[ "$code" = 415 ]'
	head -c 300000 /dev/zero >"$tmp/big"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/pkixcmp' \
	    --data-binary @"$tmp/big" "$url1")
	check http_oversize_413 '[ "$code" = 413 ]'
	# the default profile's paths, matched exactly: anything else is 404
	# (before the method is looked at); the served ones answer GET with 405
	ok404=1
	for p in publicweb/cmp/example PKIX/ pKiX/ pkix .well-known/cmp/ \
	    .well-known/cmp/p/x nope; do
		c1=$(curl -s -o /dev/null -w '%{http_code}' "$url1$p")
		c2=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/pkixcmp' \
		    --data-binary x "$url1$p")
		[ "$c1" = 404 ] && [ "$c2" = 404 ] || { ok404=0; echo "# /$p: $c1 $c2"; }
	done
	check http_unknown_paths_404 '[ $ok404 = 1 ]'
	c1=$(curl -s -o /dev/null -w '%{http_code}' "${url1}pkix/")
	c2=$(curl -s -o /dev/null -w '%{http_code}' "${url1}.well-known/cmp")
	check http_default_paths_served '[ "$c1" = 405 ] && [ "$c2" = 405 ]'
fi

# the port is taken: a second instance fails cleanly
port=$(echo "$url1" | sed 's/.*:\([0-9]*\)\/$/\1/')
"$CMPCA" --dir "$ca" --listen "127.0.0.1:$port" >"$tmp/o" 2>&1; rc=$?
check port_in_use '[ $rc -eq 1 ] && grep -q "cannot listen" "$tmp/o"'

stop "$pid1" TERM
check sigterm_exit_0 '[ $rc -eq 0 ]'
check sigterm_stopped 'grep -q "^cmpca: stopped" "$tmp/run1"'
check nothing_half_written '! ls -a "$ca" | grep -q tmp'

# restart: same CA, same secret
if start "$ca" "$tmp/run2"; then
	check restart_reuses '! grep -q created "$tmp/run2" && [ "$(cat "$ca/secret")" = "$secret" ] &&
	    grep -q "secret kept in $ca/secret" "$tmp/run2" && ! grep -qF "$secret" "$tmp/run2"'
	stop "$pid" INT
	check sigint_exit_0 '[ $rc -eq 0 ]'
else
	fail restart_reuses "$(cat "$tmp/run2")"
fi

# explicit secret: not printed, not written
if start "$tmp/ca2" "$tmp/run3" --ref lab --secret s3cr3t; then
	check given_secret 'grep -qx "cmpca: reference \"lab\", secret given with --secret" "$tmp/run3" &&
	    ! grep -q s3cr3t "$tmp/run3" && [ ! -e "$tmp/ca2/secret" ]'
	stop "$pid" TERM
else
	fail given_secret "$(cat "$tmp/run3")"
fi

# cmpca.conf: --check-config validates and prints the effective profiles
# with the secrets masked (exit 0), a bad file names its line (exit 1)
printf 'lab-secret-42\n' >"$tmp/lab.secret"
cat >"$tmp/cmpca.conf" <<EOF
# a test configuration
dir = $tmp/ca3
ref = top
secret = top-secret-17
[lab]
path = /.well-known/cmp/p/lab /lab
secret-file = $tmp/lab.secret
validity = 2d
EOF
out=$("$CMPCA" --config "$tmp/cmpca.conf" --check-config 2>&1); rc=$?
check check_config_valid '[ $rc -eq 0 ] && echo "$out" | grep -q "^profile lab:" &&
    echo "$out" | grep -qx "  path: /.well-known/cmp/p/lab /lab" &&
    echo "$out" | grep -qx "  validity: 2d"'
check check_config_masks_secrets '! echo "$out" | grep -q -e top-secret-17 -e lab-secret-42 &&
    echo "$out" | grep -q "secret: \*\*\*\*\*\*\*\* (in $tmp/lab.secret)"'
check check_config_writes_nothing '[ ! -e "$tmp/ca3" ]'
out=$("$CMPCA" --config "$tmp/cmpca.conf" --check-config --path /only 2>&1)
check check_config_option_overrides 'echo "$out" | grep -qx "  path: /only"'
printf 'dir = x\n[lab]\nvalidity = 3x\n' >"$tmp/bad.conf"
out=$("$CMPCA" --config "$tmp/bad.conf" --check-config 2>&1); rc=$?
check check_config_bad_line '[ $rc -eq 1 ] && echo "$out" | grep -q "bad.conf:3: validity: .*unit must be"'
out=$("$CMPCA" --config "$tmp/bad.conf" 2>&1); rc=$?
check config_bad_file_start '[ $rc -eq 1 ] && echo "$out" | grep -q "bad.conf:3:"'
if start "$tmp/ca3" "$tmp/run5" --config "$tmp/cmpca.conf"; then
	check config_profiles_printed 'grep -qx "cmpca: profile lab at /.well-known/cmp/p/lab /lab: reference \"lab\", secret kept in $tmp/lab.secret" "$tmp/run5" &&
	    ! grep -q -e top-secret-17 -e lab-secret-42 "$tmp/run5"'
	if command -v curl >/dev/null 2>&1; then
		c1=$(curl -s -o /dev/null -w '%{http_code}' "${url}lab")
		c2=$(curl -s -o /dev/null -w '%{http_code}' "${url}lab/")
		check config_profile_paths '[ "$c1" = 405 ] && [ "$c2" = 404 ]'
	fi
	stop "$pid" TERM
else
	fail config_profiles_printed "$(cat "$tmp/run5")"
fi

# a certificate cmpca would send must be v3 (BouncyCastle peers refuse others);
# a refused file leaves nothing behind, not even a first-run CA
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/v.key" \
    -out "$tmp/v3.crt" -subj /CN=v1 -days 2 >/dev/null 2>&1
openssl x509 -x509toreq -in "$tmp/v3.crt" -signkey "$tmp/v.key" -out "$tmp/v.csr" 2>/dev/null
openssl x509 -req -in "$tmp/v.csr" -signkey "$tmp/v.key" -days 2 -out "$tmp/v1.crt" 2>/dev/null
timeout 20 "$CMPCA" --dir "$tmp/ca4" --listen 127.0.0.1:0 --capubs "$tmp/v1.crt" \
    >"$tmp/o" 2>&1; rc=$?
check v1_certificate_refused '[ $rc -eq 1 ] && grep -q "capubs: the certificate CN=v1 is X.509 v1" "$tmp/o" &&
    [ ! -e "$tmp/ca4" ]'

# IPv6 loopback when the host has it
if grep -q '^0*1 ' /proc/net/if_inet6 2>/dev/null; then
	"$CMPCA" --dir "$ca" --listen '[::1]:0' >"$tmp/run4" 2>&1 &
	pid=$!
	pids="$pids $pid"
	sleep 1
	check ipv6_listen 'grep -q "listening on http://\[::1\]:" "$tmp/run4"'
	stop "$pid" TERM
fi
exit 0

