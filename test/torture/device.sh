#!/usr/bin/env bash
# Torture, device side: kill -9 pkish at random instants while it works, restart
# it, check what it left. Usage: device.sh WORKLOAD TRIALS DIR
#
# Workloads (each a loop of the operations, one pkish process per trial, killed
# at an instant drawn uniformly over the time the loop takes):
#   save      `sysname hK` + `save` of a configuration of 15 entities and 5 CMP
#             sessions (sealed secrets), K = 1..60
#   certs     import and delete of CA and local certificates
#   keys      creation and destruction of EC key pairs (P-256 and P-384; an RSA
#             key pair is written the same way, its generation would only
#             stretch the time between the writes)
#   autoupdate  `pkish --daemon` with three sessions on automatic update with
#             `regenerate` (EC keys) against cmpca issuing 10-second
#             certificates, so that updates run back to back (expire-time 10)
# After each kill, pkish starts again (`display current-configuration`: the
# start loads the configuration and completes an interrupted update from its
# journal) and the trial is checked:
#   - the start succeeds and says nothing but "completed the interrupted
#     certificate update" (no configuration line refused, no store file skipped);
#   - save: flash:/vrpcfg.cfg is byte for byte the configuration of some K (old
#     or new, never torn) and is what the start loaded;
#   - flashcheck: every key pair and certificate parses, the store is 0700 and
#     its files 0600, no journal left, and (autoupdate) each session's
#     certificate holds its key pair's public key and the imported copy equals
#     the file;
#   - temporary files of interrupted writes are counted (reported): the start
#     removes a dead writer's, so any left after it is a fault of the sweep.
# Prints one table row (lib.sh row) and loss details into $losslog.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
w=$1
n=$2
d=$3
name="device $w"
. "$top/test/torture/lib.sh"
P=$b/pkish
F=$d/flash
mkdir -p "$d"
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done' EXIT

killed=0	# trials whose kill hit a running pkish
temps=0		# temporary files left by interrupted writes
journals=0	# interrupted updates completed at the next start
faults=0

# ---- set-up ----------------------------------------------------------------

run_batch() {	# flash, batch file
	"$P" --flash "$1" -f "$2" >"$d/setup.out" 2>&1
}

setup_save() {
	{
		echo "system-view"
		echo "sysname h0"
		echo "pki ecc curve-name prime256v1 local-key-pair create sk"
		for i in $(seq 1 15); do
			echo "pki entity e$i"
			echo " common-name device-$i.example.com"
			echo " country CN"
			echo " organization \"Example Networks $i\""
			echo " fqdn device-$i.example.com"
			echo " ip-address 192.0.2.$i"
			echo "quit"
		done
		for i in $(seq 1 5); do
			echo "pki cmp session s$i"
			echo " cmp-request entity e$i"
			echo " cmp-request ca-name \"O=pkish,CN=cmpca CA\""
			echo " cmp-request server url http://127.0.0.1:9/pkix/"
			echo " cmp-request ecc local-key-pair sk"
			echo " cmp-request message-authentication-code ref$i secret-number-$i"
			echo "quit"
		done
		echo "return"
		echo "save"
	} >"$d/setup.cfg"
	run_batch "$F" "$d/setup.cfg" || { cat "$d/setup.out"; return 1; }
	cp "$F/vrpcfg.cfg" "$d/template.cfg"
	grep -qx "sysname h0" "$d/template.cfg" || return 1
	for k in $(seq 1 60); do
		printf 'system-view\nsysname h%d\nreturn\nsave\n' "$k"
	done >"$d/work.cfg"
}

setup_certs() {
	{
		echo "system-view"
		for i in 1 2 3 4; do
			echo "pki ecc curve-name prime256v1 local-key-pair create lk$i"
		done
	} >"$d/setup.cfg"
	run_batch "$F" "$d/setup.cfg" || { cat "$d/setup.out"; return 1; }
	for i in 1 2 3 4; do
		# the store file of key pair lkN: key-<hex of the name>.pem
		k=$F/pki/.store/key-$(printf 'lk%d' "$i" | od -An -tx1 | tr -d ' \n').pem
		openssl req -x509 -key "$k" -subj "/CN=local $i" -days 30 \
			-out "$F/pki/public/lk$i.cer" 2>/dev/null || return 1
	done
	for i in $(seq 1 8); do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout /dev/null -subj "/O=Torture/CN=CA $i" -days 30 \
			-addext basicConstraints=critical,CA:TRUE \
			-out "$F/pki/public/ca$i.cer" 2>/dev/null || return 1
	done
	{
		echo "system-view"
		for round in 1 2 3; do
			for i in $(seq 1 8); do echo "pki import-certificate ca filename ca$i.cer"; done
			for i in 1 2 3 4; do echo "pki import-certificate local filename lk$i.cer"; done
			for i in $(seq 1 8); do echo "pki delete-certificate ca filename ca$i.cer"; done
			for i in 1 2 3 4; do echo "pki delete-certificate local filename lk$i.cer"; done
		done
	} >"$d/work.cfg"
}

setup_keys() {
	{
		echo "system-view"
		for i in $(seq 1 12); do
			case $((i % 3)) in
			0) c=secp384r1 ;;
			*) c=prime256v1 ;;
			esac
			echo "pki ecc curve-name $c local-key-pair create e$i"
		done
		for i in $(seq 1 12); do echo "pki ecc local-key-pair destroy e$i"; done
	} >"$d/work.cfg"
	mkdir -p "$F"
}

SESSIONS="A B C"
setup_autoupdate() {
	ca_up "$d/ca" "$d/ca.log" 127.0.0.1:0 --validity 10s || return 1
	pids="$pids $ca_pid"
	ref=$(sed -n 's/^cmpca: reference "\([^"]*\)".*/\1/p' "$d/ca.log")
	ca_name=$(openssl x509 -in "$d/ca/ca.crt" -noout -subject \
		-nameopt sep_comma_plus,sname,utf8 | sed 's/^subject=//')
	{
		echo "system-view"
		echo "pki entity dev"
		echo " common-name dev.example.com"
		echo "quit"
		for s in $SESSIONS; do
			echo "pki ecc curve-name prime256v1 local-key-pair create k$s"
			echo "pki cmp session $s"
			echo " cmp-request entity dev"
			echo " cmp-request server url $url"
			echo " cmp-request ecc local-key-pair k$s regenerate"
			echo " cmp-request message-authentication-code $ref $(cat "$d/ca/secret")"
			echo " cmp-request ca-name \"$ca_name\""
			echo "quit"
			echo "pki cmp initial-request session $s"
			echo "pki cmp session $s"
			echo " cmp-request origin-authentication-method signature"
			echo " cmp-request authentication-cert ${s}_ir.cer"
			echo " certificate update expire-time 10"
			echo " certificate auto-update enable"
			echo "quit"
		done
		echo "pki import-certificate ca filename A_ca0.cer"
		# one session's certificate is also an imported local certificate:
		# its update re-imports it through the journal
		echo "pki import-certificate local filename A_ir.cer"
		echo "return"
		echo "save"
	} >"$d/setup.cfg"
	run_batch "$F" "$d/setup.cfg" || { cat "$d/setup.out"; return 1; }
	pairs=""
	for s in $SESSIONS; do pairs="$pairs --pair ${s}_ir.cer k$s"; done
	"$b/torture/flashcheck" "$F" $pairs >"$d/fc.out"
}

# ---- one trial ------------------------------------------------------------

# Seconds left of the shortest-lived session certificate (autoupdate), from the
# last flashcheck (before the first trial: a check of the set-up).
min_left() {
	m=$(sed -n 's/^flashcheck: PAIR .* notafter=\([0-9]*\)$/\1/p' "$d/fc.out" |
		sort -n | head -n 1)
	echo $((${m:-0} - $(date +%s)))
}

# The daemon, unkilled, until every certificate has some life left: a run of
# early kills may have stopped every update for longer than the validity.
refresh() {
	"$P" --daemon --flash "$F" >/dev/null 2>&1 &
	_p=$!
	for _i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		sleep 0.25
		"$b/torture/flashcheck" "$F" $pairs >"$d/fc.out"
		[ "$(min_left)" -ge 6 ] && break
	done
	kill -TERM $_p 2>/dev/null
	wait $_p 2>/dev/null
	refreshes=$((refreshes + 1))
}
refreshes=0

# Runs the workload for at most KILL_MS and kills it with SIGKILL.
trial() {
	if [ "$w" = autoupdate ]; then
		[ "$(min_left)" -lt 4 ] && refresh
		"$P" --daemon --flash "$F" >/dev/null 2>"$d/daemon.err" &
	else
		"$P" --flash "$F" -f "$d/work.cfg" >/dev/null 2>&1 &
	fi
	p=$!
	msleep "$(rand_ms "$kmin" "$kmax")"
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	# 128 + SIGKILL: the kill found it running (else it had finished)
	[ $? -eq 137 ] && killed=$((killed + 1))
	# an update that had started and not ended when the kill came
	if [ "$w" = autoupdate ] &&
		[ "$(grep -c "is updating its certificate" "$d/daemon.err")" -gt \
		"$(grep -c "was updated automatically" "$d/daemon.err")" ]; then
		cut_updates=$((cut_updates + 1))
	fi
}
cut_updates=0

check() {
	# the start after the crash: loads vrpcfg.cfg, completes a journal
	"$P" --flash "$F" -c "display current-configuration" >"$d/restart.out" \
		2>"$d/restart.err"
	rc=$?
	j=$(grep -c "completed the interrupted certificate update" "$d/restart.err")
	journals=$((journals + j))
	other=$(grep -v "completed the interrupted certificate update" "$d/restart.err")
	[ $rc -eq 0 ] || loss "trial $i: the start after the kill failed (exit $rc)"
	[ -z "$other" ] || loss "trial $i: the start after the kill said: $other"
	if [ "$w" = save ]; then
		c=$F/vrpcfg.cfg
		k=$(sed -n 's/^sysname h\([0-9][0-9]*\)$/\1/p' "$c" 2>/dev/null)
		if [ ! -f "$c" ]; then
			loss "trial $i: flash:/vrpcfg.cfg is gone"
		elif ! sed 's/^sysname h[0-9][0-9]*$/sysname h0/' "$c" |
			cmp -s - "$d/template.cfg" || [ -z "$k" ] || [ "$k" -gt 60 ]; then
			loss "trial $i: flash:/vrpcfg.cfg is neither the old nor a new" \
				"configuration ($(wc -c <"$c") bytes, sysname '$k')"
			cp "$c" "$d/torn-$i.cfg"
			cp "$d/template.cfg" "$c"
		elif ! tail -n +2 "$d/restart.out" | cmp -s - "$c"; then
			loss "trial $i: the configuration loaded at the start is not" \
				"flash:/vrpcfg.cfg"
		fi
	fi
	# shellcheck disable=SC2086
	"$b/torture/flashcheck" "$F" ${pairs:-} >"$d/fc.out"
	sed -n 's/^flashcheck: PROBLEM: /trial '"$i"': /p' "$d/fc.out" |
		while read -r l; do echo "[$name] $l"; done >>"$losslog"
	pr=$(sed -n 's/^flashcheck: .*problems=\([0-9]*\)$/\1/p' "$d/fc.out")
	losses=$((losses + ${pr:-1}))
	t=$(sed -n 's/^flashcheck: .* temp=\([0-9]*\) .*/\1/p' "$d/fc.out")
	temps=$((temps + ${t:-0}))
	sed -n 's/^flashcheck: TEMP: //p' "$d/fc.out" | while read -r f; do
		cp "$f" "$d/" 2>/dev/null
		rm -f "$f"
	done
}

case $w in
save) setup_save ;;
certs) setup_certs ;;
keys) setup_keys ;;
autoupdate) setup_autoupdate ;;
*) echo "device.sh: unknown workload $w" >&2; exit 2 ;;
esac || { loss "set-up failed"; row "$name" 0 0 "$losses" "set-up failed"; exit 1; }

# The kill window: the time one whole loop takes (the shortest of three runs,
# not killed: most kills then find it running), or for the daemon its start and
# the updates that follow at once.
if [ "$w" = autoupdate ]; then
	kmin=20
	kmax=600
else
	kmin=0
	kmax=999999
	for m in 1 2 3; do
		rm -rf "$d/flash.measure"
		cp -a "$F" "$d/flash.measure"
		t0=$(now_ms)
		"$P" --flash "$d/flash.measure" -f "$d/work.cfg" >/dev/null 2>&1
		t=$(($(now_ms) - t0))
		[ $t -lt $kmax ] && kmax=$t
	done
	rm -rf "$d/flash.measure"
fi

for i in $(seq 1 "$n"); do
	trial
	check
done
faults=$killed
fig="kill at [${kmin}, ${kmax}] ms, $killed hit a running pkish; $temps temp file(s) left"
[ "$w" = autoupdate ] && fig="$fig, $cut_updates during an update; $journals journal(s) completed at start; $refreshes refresh(es)"
row "$name" "$n" "$faults" "$losses" "$fig"
echo "temps $temps" >"$d/temps"
exit 0
