# Shell helpers of the torture suite (sourced by test/torture/*.sh, not run).
# The caller sets: b (the build directory), top (the tree), results (the file of
# table rows), losslog (the file of loss details).

# row NAME TRIALS FAULTS LOSSES FIGURES: one row of the table.
row() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$results"
}

# loss TEXT...: one lost or damaged thing, with what shows it; counted in $losses.
losses=0
loss() {
	echo "[$name] $*" >>"$losslog"
	losses=$((losses + 1))
}

# rand_ms MIN MAX: a uniformly drawn whole number of milliseconds (30 random bits).
rand_ms() {
	echo $(($1 + ((RANDOM << 15 | RANDOM) % ($2 - $1 + 1))))
}

# msleep MS
msleep() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# now_ms: wall clock in milliseconds.
now_ms() {
	date +%s%3N
}

# jnum KEY FILE: the first number of KEY in a cmpload --json report.
jnum() {
	grep -o "\"$1\": [0-9.-]*" "$2" | head -n 1 | sed 's/.*: //'
}

# rss_kb PID, fds PID: resident memory and open file descriptors of a process.
rss_kb() {
	sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"
}
fds() {
	ls "/proc/$1/fd" 2>/dev/null | wc -l
}

# ca_up DIR LOG LISTEN [ARGS...]: starts cmpca in the background (output to LOG)
# and waits up to 10 s for its address, looking every 20 ms (a restart after a
# crash is timed); sets ca_pid, url, port. 1 when it did not start.
ca_up() {
	_dir=$1; _log=$2; _listen=$3; shift 3
	"$b/cmpca" --dir "$_dir" --listen "$_listen" "$@" >"$_log" 2>&1 &
	ca_pid=$!
	for _i in $(seq 1 500); do
		url=$(sed -n 's/^cmpca: listening on \(http:[^ ]*\)$/\1/p' "$_log")
		if [ -n "$url" ]; then
			port=$(echo "$url" | sed -n 's|^http://[^/]*:\([0-9]*\)/.*|\1|p')
			return 0
		fi
		kill -0 "$ca_pid" 2>/dev/null || break
		sleep 0.02
	done
	cat "$_log" >&2
	return 1
}
