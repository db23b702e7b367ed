#!/bin/sh
# Developer tool (not used by CI): build every conformance program and run it on QEMU's
# `spike` machine, which has the same HTIF protocol, CLINT and RAM base as our board.
# Prints one line per program; exit status 0 only if every program that is expected to
# pass does so on QEMU. Programs listed in QEMU_DIVERGENT follow the spec (and emu) where
# QEMU 7.2 does not, so their QEMU result is shown but not counted. QEMU runs with
# -icount so that instret counts exactly, as it does in emu.
#
#   emu/conformance/run-on-qemu.sh [NAME...]
set -u
cd "$(dirname "$0")"
QEMU=${QEMU:-qemu-system-riscv64}
# selfcheck_fail must exit 7 (it proves the harness can fail).
# vm_svade: QEMU updates A/D in hardware. vm_pma: QEMU page-faults a failed PTE read.
# vm_sv48_*, vm_sv39_*: QEMU 7.2 always implements Sv57 (no way to cap satp modes).
# vm_pma_devices: walks into and fetches from the `virt` board's devices, which QEMU's
# `spike` machine does not have. htif_*: not conformance checks (the syscall proxy, which
# QEMU's HTIF lacks; see emu/tests/htif_syscalls.rs).
QEMU_DIVERGENT="qemu_divergent vm_svade vm_pma vm_sv48_satp_warl vm_sv39_satp_warl vm_pma_devices htif_syscalls htif_unknown_syscall"
cargo build --release --target riscv64gc-unknown-none-elf --quiet || exit 1
dir=target/riscv64gc-unknown-none-elf/release
if [ $# -gt 0 ]; then names="$*"; else names=$(cd src/bin && ls *.rs | sed 's/\.rs$//'); fi
bad=0
for n in $names; do
    timeout 20 "$QEMU" -M spike -icount shift=0 -nographic -bios none -kernel "$dir/$n" >"/tmp/qemu-$n.log" 2>&1
    st=$?
    want=0
    [ "$n" = selfcheck_fail ] && want=7
    case " $QEMU_DIVERGENT " in
        *" $n "*) echo "divergent $n: status $st (not counted)"; continue ;;
    esac
    if [ $st -eq $want ]; then
        echo "ok   $n"
    else
        echo "FAIL $n: status $st (want $want): $(head -c 300 /tmp/qemu-$n.log)"
        bad=1
    fi
done
exit $bad
