# bash completion for pkish, cmpca, cmpdump and cmpload: their options, and
# files or directories where an option takes one. Installed by `make install` as
# $(datadir)/bash-completion/completions/pkish, with the others linked to
# it (bash-completion loads a file by the command's name). Plain bash: it needs
# no helper of the bash-completion package.

# _pkish_complete OPTIONS DIR-OPTIONS FILE-OPTIONS ARG-OPTIONS: completes the
# current word of COMP_WORDS. An option of DIR-OPTIONS takes a directory, of
# FILE-OPTIONS a file, of ARG-OPTIONS another value (nothing to offer); a word
# that does not start with '-' is a file when $_pkish_args_are_files is set.
_pkish_complete()
{
	local opts=$1 dirs=$2 files=$3 args=$4
	local cur=${COMP_WORDS[COMP_CWORD]} prev= pre= o
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
	COMPREPLY=()
	# --opt=value: one word, or three ("--opt" "=" "value") when '=' breaks words
	if [[ $cur == --*=* ]]; then
		prev=${cur%%=*}
		pre=$prev=
		cur=${cur#*=}
	elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -gt 1 ]; then
		prev=${COMP_WORDS[COMP_CWORD-2]}
	fi
	for o in $dirs; do
		if [ "$prev" = "$o" ]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -P "$pre" -d -- "$cur")
			return 0
		fi
	done
	for o in $files; do
		if [ "$prev" = "$o" ]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -P "$pre" -f -- "$cur")
			return 0
		fi
	done
	for o in $args; do
		[ "$prev" = "$o" ] && return 0
	done
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
	elif [ -n "${_pkish_args_are_files:-}" ]; then
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	fi
	return 0
}

_pkish()
{
	local _pkish_args_are_files=
	_pkish_complete "--flash -f -c --stop-on-error --daemon --no-startup
	    --schemas --version --help" "--flash --schemas" "-f" "-c"
}

_cmpca()
{
	local _pkish_args_are_files=
	case "${COMP_WORDS[COMP_CWORD-1]}" in
	--implicit-confirm|--allow-subject-change)
		mapfile -t COMPREPLY < <(compgen -W "yes no" -- "${COMP_WORDS[COMP_CWORD]}")
		return 0 ;;
	esac
	_pkish_complete "--config --check-config --dir --listen --path --ref
	    --secret --secret-file --admin-ref --admin-secret-file --ca-cert
	    --ca-key --signer-cert --signer-key --extra-certs --capubs
	    --previous-ca-cert --tls-cert --tls-key --trust --validity --poll
	    --check-after
	    --implicit-confirm --key-types --allow-subject-change --threads
	    --timeout --max-per-address --auth-fail-limit --auth-fail-window
	    --confirm-wait --retention --help
	    --version" \
	    "--dir" "--config --secret-file --admin-secret-file --ca-cert --ca-key
	    --signer-cert --signer-key --extra-certs --capubs --previous-ca-cert
	    --tls-cert --tls-key --trust" \
	    "--listen --path --ref --admin-ref
	    --secret --validity --poll --check-after --key-types --threads
	    --timeout --max-per-address --auth-fail-limit --auth-fail-window
	    --confirm-wait --retention
	    --implicit-confirm
	    --allow-subject-change"
}

_cmpdump()
{
	local _pkish_args_are_files=1
	_pkish_complete "--secret --pbmac1-keylength-bits --cert --help --version" "" \
	    "--cert" "--secret"
}

_cmpload()
{
	local _pkish_args_are_files=
	case ${COMP_WORDS[COMP_CWORD-1]} in
	--flow)
		mapfile -t COMPREPLY < <(compgen -W "ir cr kur ir+cr ir+kur" -- \
		    "${COMP_WORDS[COMP_CWORD]}")
		return 0 ;;
	--key-type)
		mapfile -t COMPREPLY < <(compgen -W "ec rsa" -- \
		    "${COMP_WORDS[COMP_CWORD]}")
		return 0 ;;
	--secret-env)
		mapfile -t COMPREPLY < <(compgen -e -- "${COMP_WORDS[COMP_CWORD]}")
		return 0 ;;
	esac
	_pkish_complete "--url --clients --count --duration --flow --ref
	    --secret-file --secret-env --key --key-type --trusted --implicit-confirm
	    --timeout --server-pid --cert-log --json --help --version" "" \
	    "--secret-file --key --trusted --cert-log" "--url --clients --count
	    --duration --ref --timeout --server-pid"
}

complete -F _pkish pkish
complete -F _cmpca cmpca
complete -F _cmpdump cmpdump
complete -F _cmpload cmpload
