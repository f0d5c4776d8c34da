# shellcheck shell=bash
# completion.sh - sourced by the suites that test completion/pve-gpu-passthrough.bash.
# complete_words CLI WORD...: what the completion offers for the command line CLI WORD...
# (the last WORD is the one being completed), one line, with bash-completion's helpers reduced
# to what the function uses (_filedir offers "FILE").
complete_words() {
	bash -c '
		_init_completion() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
			cur=${words[cword]}; prev=${words[cword-1]}; }
		_filedir() { COMPREPLY=(FILE); }
		complete() { :; }
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_pve_gpu_passthrough; echo "${COMPREPLY[*]}"' _ "$(dirname "${BASH_SOURCE[0]}")/../../completion/pve-gpu-passthrough.bash" "$@"
}
