# bash completion for pve-gpu-passthrough(8)                          -*- shell-script -*-
# Commands are taken from `pve-gpu-passthrough --help` and a command's options from
# `pve-gpu-passthrough COMMAND --help`, so new commands complete without changes here. VMIDs
# come from the VM configs, PCI addresses from sysfs (below the --sysroot given, if any).

# VMIDs of the VMs on this node.
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

# PCI addresses (DDDD:BB:SS.F) of the devices in sysfs.
_pve_gpu_passthrough_addrs()
{
    local d addrs=()
    for d in "$1"/sys/bus/pci/devices/*; do
        [[ -e $d ]] && addrs+=("${d##*/}")
    done
    COMPREPLY=($(compgen -W "${addrs[*]}" -- "$cur"))
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

# The long options that the --help text of "$@" lists.
_pve_gpu_passthrough_opts()
{
    local opts
    opts=$("$@" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}

_pve_gpu_passthrough()
{
    local cur prev words cword
    _init_completion || return

    local i verb="" vi=0 root=""
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --sysroot) root=${words[i + 1]}; ((i++)) ;;
            --node | --config) ((i++)) ;;
            -*) ;;
            *) verb=${words[i]}; vi=$i; break ;;
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

    # The operands given after the verb so far (not options, not their values).
    local nargs=0 sub=""
    for ((i = vi + 1; i < cword; i++)); do
        case ${words[i]} in
            -o | --output | -s | --storage | -d | --device | -i | --image | -t | --timeout | \
                -p | --pf) ((i++)) ;;
            -*) ;;
            *) ((nargs++)); [[ $nargs == 1 ]] && sub=${words[i]} ;;
        esac
    done

    case $verb in
        help)
            if ((nargs == 0)); then
                local verbs
                verbs=$("${words[0]}" --help 2>/dev/null |
                    sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
                COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
            fi
            ;;
        attach | detach | prepare | release | check)
            case $prev in
                -s | --storage) _pve_gpu_passthrough_storages "$root"; return ;;
            esac
            if [[ $cur == -* ]]; then
                _pve_gpu_passthrough_opts "${words[0]}" "$verb"
            elif [[ $verb == check ]] || ((nargs == 0)); then
                _pve_gpu_passthrough_vmids "$root"
            fi
            ;;
        setup)
            if [[ $prev == --sriov ]]; then
                _pve_gpu_passthrough_addrs "$root" # the PF; "=N" follows
            elif [[ $cur == -* ]]; then
                _pve_gpu_passthrough_opts "${words[0]}" setup
            elif [[ " ${words[*]:vi:cword-vi} " == *" --early "* || " ${words[*]:vi:cword-vi} " == *" -e "* ]]; then
                _pve_gpu_passthrough_addrs "$root"
            fi
            ;;
        rom)
            if ((nargs == 0)); then
                [[ $cur == -* ]] && COMPREPLY=($(compgen -W '--help' -- "$cur")) ||
                    COMPREPLY=($(compgen -W 'dump check patch' -- "$cur"))
                return
            fi
            case $prev in
                -d | --device) _pve_gpu_passthrough_addrs "$root"; return ;;
                -o | --output) _filedir; return ;;
            esac
            if [[ $cur == -* ]]; then
                case $sub in
                    dump) COMPREPLY=($(compgen -W '--output --force --vfct --help' -- "$cur")) ;;
                    check) COMPREPLY=($(compgen -W '--device --json --help' -- "$cur")) ;;
                    patch) COMPREPLY=($(compgen -W '--output --help' -- "$cur")) ;;
                esac
            elif ((nargs == 1)); then
                case $sub in
                    dump) _pve_gpu_passthrough_addrs "$root" ;;
                    check | patch) _filedir ;;
                esac
            fi
            ;;
        early)
            if ((nargs == 0)) && [[ $cur != -* ]]; then
                COMPREPLY=($(compgen -W 'status' -- "$cur"))
                return
            fi
            case $prev in
                -i | --image) _filedir; return ;;
            esac
            [[ $cur == -* ]] && _pve_gpu_passthrough_opts "${words[0]}" early status
            ;;
        sriov)
            case $prev in
                -p | --pf) _pve_gpu_passthrough_addrs "$root"; return ;;
                -t | --timeout) return ;;
            esac
            if [[ $cur == -* ]]; then
                _pve_gpu_passthrough_opts "${words[0]}" sriov
            elif ((nargs == 0)); then
                COMPREPLY=($(compgen -W 'apply status' -- "$cur"))
            fi
            ;;
        *)
            case $prev in
                -o | --output) _filedir; return ;;
            esac
            if [[ $cur == -* ]]; then
                _pve_gpu_passthrough_opts "${words[0]}" "$verb"
            fi
            ;;
    esac
} &&
    complete -F _pve_gpu_passthrough pve-gpu-passthrough

# ex: filetype=sh
