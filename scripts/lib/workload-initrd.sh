# shellcheck shell=bash
# A workload initramfs: a base initramfs (one of scripts/fetch-debian-images' images) with
# one more archive appended that brings the workload's files and an /init replacing the
# base's (Linux unpacks concatenated archives in turn, compressed or not, and a later
# entry overwrites an earlier one of the same name). The appended archive is plain newc
# with inodes counted from 900001, so that they cannot collide with the base's.
# Sourced by scripts/bench-vs-qemu; scripts/translation-study runs it (section 10's
# test_bpf workload) through the command form below.
#
#   workload_initrd OUT BASE INIT [ENTRY...]
#     OUT    the archive to write
#     BASE   the initramfs to start from (gzip-compressed or plain)
#     INIT   a file that becomes /init (mode 0755)
#     ENTRY  GUEST_PATH=HOST_FILE for a file (mode 0755 if HOST_FILE is executable,
#            else 0644) or GUEST_PATH/ for a directory; a directory must precede its
#            files unless the base has it already
#
#   bash scripts/lib/workload-initrd.sh OUT BASE INIT [ENTRY...]   # the same, as a command

# shellcheck source=lib/cpio.sh
source "$(dirname "${BASH_SOURCE[0]}")/cpio.sh"

workload_initrd() {
    local out=$1 base=$2 init=$3 entry host guest
    shift 3
    [[ -f $base ]] || { echo "workload_initrd: no base initramfs $base" >&2; return 1; }
    [[ -f $init ]] || { echo "workload_initrd: no init script $init" >&2; return 1; }
    cp "$base" "$out.tmp" || return 1
    # newc entries start 4-byte aligned in the concatenation too.
    head -c $(((4 - $(stat -c %s "$base") % 4) % 4)) /dev/zero >>"$out.tmp"
    cpio_out=$out.tmp
    cpio_ino=900001
    for entry in "$@"; do
        if [[ $entry == */ ]]; then
            cpio_entry "${entry%/}" $((0040755)) 0 0
            continue
        fi
        guest=${entry%%=*}
        host=${entry#*=}
        [[ $guest != "$entry" && -f $host ]] || {
            echo "workload_initrd: '$entry' is not GUEST_PATH=HOST_FILE with an existing file" >&2
            return 1
        }
        if [[ -x $host ]]; then
            cpio_entry "$guest" $((0100755)) 0 0 "$host"
        else
            cpio_entry "$guest" $((0100644)) 0 0 "$host"
        fi
    done
    cpio_entry init $((0100755)) 0 0 "$init"
    cpio_entry TRAILER!!! 0 0 0
    mv -f "$out.tmp" "$out"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    workload_initrd "$@"
fi
