# bash completion for pve-gpu-passthrough(8)                          -*- shell-script -*-
# Commands are taken from `pve-gpu-passthrough --help` and a command's options from
# `pve-gpu-passthrough COMMAND --help`, so new commands complete without changes here.

# VMIDs of the VMs on this node (below the --sysroot given on the command line, if any).
_pve_gpu_passthrough_vmids()
{
    local f ids=()
    for f in "$1"/etc/pve/qemu-server/*.conf; do
        [[ -e $f ]] || continue
        f=${f##*/}
        ids+=("${f%.conf}")
    done
    COMPREPLY=($(compgen -W "${ids[*]}" -- "$cur"))
}

# Storage ids from storage.cfg ("TYPE: ID" section headers).
_pve_gpu_passthrough_storages()
{
    local ids
    # "local" always exists for Proxmox, even when storage.cfg does not name it.
    ids=$({ echo local; sed -n 's/^[A-Za-z]*:[[:space:]]*\([^[:space:]]*\)[[:space:]]*$/\1/p' \
        "$1/etc/pve/storage.cfg" 2>/dev/null; } | sort -u)
    COMPREPLY=($(compgen -W "$ids" -- "$cur"))
}

_pve_gpu_passthrough()
{
    local cur prev words cword
    _init_completion || return

    local i verb="" root=""
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --sysroot) root=${words[i + 1]}; ((i++)) ;;
            --node | --config) ((i++)) ;;
            -*) ;;
            *) verb=${words[i]}; break ;;
        esac
    done

    if [[ -z $verb ]]; then
        case $prev in
            --sysroot) _filedir -d; return ;;
            --config) _filedir; return ;;
            --node) return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W '--sysroot --node --config --help --version' -- "$cur"))
        else
            local verbs
            verbs=$("${words[0]}" --help 2>/dev/null |
                sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
            COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
        fi
        return
    fi

    case $verb in
        attach | detach)
            case $prev in
                -s | --storage) _pve_gpu_passthrough_storages "$root"; return ;;
            esac
            if [[ $cur == -* ]]; then
                if [[ $verb == attach ]]; then
                    COMPREPLY=($(compgen -W '--storage --force --dry-run --help' -- "$cur"))
                else
                    COMPREPLY=($(compgen -W '--dry-run --help' -- "$cur"))
                fi
            else
                _pve_gpu_passthrough_vmids "$root"
            fi
            ;;
        *)
            if [[ $cur == -* ]]; then
                local opts
                opts=$("${words[0]}" "$verb" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u)
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
            else
                _filedir
            fi
            ;;
    esac
} &&
    complete -F _pve_gpu_passthrough pve-gpu-passthrough

# ex: filetype=sh
