# Shell helpers shared by the test scripts (sourced, not run).

# cmpca_start DIR LOG LISTEN [ARGS...]: runs $CMPCA (default $b/cmpca) in the
# background with --dir DIR --listen LISTEN, output to LOG (one log per start, so
# the address read is this start's), and waits up to 10 s for its address. Sets
# cmpca_pid, url and port; adds the pid to $pids. Returns 1 if it did not start.
cmpca_start() {
	_dir=$1; _log=$2; _listen=$3; shift 3
	"${CMPCA:-$b/cmpca}" --dir "$_dir" --listen "$_listen" "$@" >"$_log" 2>&1 &
	cmpca_pid=$!
	pids="${pids:-} $cmpca_pid"
	_i=0
	while [ $_i -lt 100 ]; do
		url=$(sed -n 's/^cmpca: listening on \(https\{0,1\}:[^ ]*\)$/\1/p' "$_log" 2>/dev/null)
		if [ -n "$url" ]; then
			port=$(echo "$url" | sed -n 's|^https\{0,1\}://[^/]*:\([0-9]*\)/.*|\1|p')
			return 0
		fi
		kill -0 "$cmpca_pid" 2>/dev/null || return 1
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
