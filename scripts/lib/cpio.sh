# shellcheck shell=bash
# Writing cpio "newc" archives from bash, without root (device nodes are only described
# in the archive; the kernel creates them when it unpacks) and without the cpio tool.
# With every mtime 0 and inode numbers counted from cpio_ino, the same inputs give the
# same bytes. Sourced by scripts/fetch-debian-images, scripts/mkinitramfs and scripts/mkrootfs.
#
#   cpio_out=FILE; cpio_ino=1; : >"$cpio_out"
#   cpio_entry NAME MODE RDEV_MAJOR RDEV_MINOR [DATA_FILE]
#   cpio_symlink NAME TARGET
#   cpio_entry TRAILER!!! 0 0 0

cpio_ino=1
cpio_out=

# cpio_entry NAME MODE RDEV_MAJOR RDEV_MINOR [DATA_FILE]
cpio_entry() {
    local name=$1 mode=$2 rmaj=$3 rmin=$4 data=${5:-} size=0 nlink=1
    [[ -n $data ]] && size=$(stat -c %s "$data")
    (((mode & 0170000) == 0040000)) && nlink=2
    local namesize=$((${#name} + 1))
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        "$cpio_ino" "$mode" 0 0 "$nlink" 0 "$size" 0 0 "$rmaj" "$rmin" "$namesize" 0 >>"$cpio_out"
    printf '%s\0' "$name" >>"$cpio_out"
    # The 110-byte header plus the name, then the data, are each padded to 4 bytes.
    head -c $(((4 - (110 + namesize) % 4) % 4)) /dev/zero >>"$cpio_out"
    if [[ -n $data ]]; then
        cat "$data" >>"$cpio_out"
        head -c $(((4 - size % 4) % 4)) /dev/zero >>"$cpio_out"
    fi
    cpio_ino=$((cpio_ino + 1))
}

cpio_symlink() {
    local name=$1 target=$2 tmp
    tmp=$(mktemp)
    printf '%s' "$target" >"$tmp"
    cpio_entry "$name" $((0120777)) 0 0 "$tmp"
    rm -f "$tmp"
}
