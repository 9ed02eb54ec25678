#!/bin/bash
# The bash completion (dist/completion.bash) for pkish, cmpca, cmpdump and cmpload, sourced
# in bash and driven through its completion functions as bash would call them
# (COMP_WORDS, COMP_CWORD): a unique prefix completes (`pkish --fl` -> --flash),
# '-' offers exactly the options of the program's --help, and an option that takes
# a directory or a file completes names from the file system.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
case "${BUILD:-build}" in /*) b=$BUILD ;; *) b="$top/${BUILD:-build}" ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-compl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/fl/dir1" && : >"$tmp/fl/file1"

# complete PROG WORD...: the candidates for the last WORD, one per line, sorted.
complete_words() {
	bash -c '
		. "$1" || exit 9
		prog=$2; shift
		f=$(complete -p "$prog" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		[ -n "$f" ] || exit 8
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		"$f" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' sh "$top/dist/completion.bash" "$@" |
		sed '/^$/d' | sort
}

check() {	# name, expected (lines), words...
	name=$1; want=$2; shift 2
	got=$(complete_words "$@")
	if [ "$got" = "$want" ]; then echo "ok completion-$name"; else
		echo "FAIL completion-$name: '$*' gave:"; echo "$got"; echo "wanted:"; echo "$want"; fi
}

check pkish-prefix "--flash" pkish --fl
check pkish-after-option "--stop-on-error" pkish -f x.cfg --sto
check cmpca-prefix "--threads
--timeout
--tls-cert
--tls-key
--trust" cmpca --t
check cmpdump-version "--version" cmpdump --v
check cmpca-implicit-confirm "yes" cmpca --implicit-confirm y
check pkish-flash-dir "$tmp/fl/dir1" pkish --flash "$tmp/fl/"
check pkish-flash-equals "--flash=$tmp/fl/dir1" pkish "--flash=$tmp/fl/"
check pkish-file "$tmp/fl/dir1
$tmp/fl/file1" pkish -f "$tmp/fl/"
check cmpdump-message-file "$tmp/fl/file1" cmpdump --secret s "$tmp/fl/f"
check pkish-c-takes-a-line "" pkish -c dis
check cmpload-flow "ir+cr
ir+kur" cmpload --flow ir+
check cmpload-secret-file "$tmp/fl/file1" cmpload --secret-file "$tmp/fl/f"

for p in pkish cmpca cmpdump cmpload; do
	want=$("$b/$p" --help 2>&1 | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
	got=$(complete_words $p - | grep -- '^--')
	if [ -n "$want" ] && [ "$got" = "$want" ]; then
		echo "ok completion-all-options-$p"
	else
		echo "FAIL completion-all-options-$p (< --help, > completion)"
		diff <(echo "$want") <(echo "$got")
	fi
done
