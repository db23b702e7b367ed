#!/bin/busybox sh
# /init of the initramfs that `emu test` and scripts/mkinitramfs build. It mounts the
# kernel's file systems, loads the modules named in /lib/modules/load-order (in that
# order), mounts each 9p tag named in /emu-test/shares at /mnt/TAG (the working directory
# becomes the first), runs /emu-test/cmd, prints "emu-test: exit N" with its exit status
# and powers off. A power-off carries no status, so the host reads the status line; a
# step before the command that fails prints "emu-test: setup failed: ..." instead.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
setup_failed() {
    echo "emu-test: setup failed: $*"
    poweroff -f
}
for m in $(cat /lib/modules/load-order 2>/dev/null); do
    f=/lib/modules/$m.ko
    if [ -f "$f.xz" ]; then
        xzcat "$f.xz" >/tmp/module.ko || setup_failed "cannot decompress $f.xz"
        f=/tmp/module.ko
    fi
    insmod "$f" || setup_failed "insmod $m"
    rm -f /tmp/module.ko
done
cd /
first=
for tag in $(cat /emu-test/shares 2>/dev/null); do
    mkdir -p "/mnt/$tag"
    mount -t 9p -o trans=virtio,version=9p2000.L "$tag" "/mnt/$tag" ||
        setup_failed "mounting the 9p share '$tag' at /mnt/$tag"
    [ -n "$first" ] || first=/mnt/$tag
done
[ -z "$first" ] || cd "$first"
/bin/sh /emu-test/cmd
echo "emu-test: exit $?"
poweroff -f
