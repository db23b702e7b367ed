# Implicit accesses to device registers (Sv39). Page-table walks may read PTEs only from
# main memory, and instructions may be fetched only from executable regions: a PTE read
# or a fetch that lands on a device (UART, CLINT, test device, RTC, PLIC, virtio) is an
# access fault of the original access's type, with tval = the virtual address (the
# physical one for bare fetches), and it must not reach the device. The UART in loopback
# holds one received byte throughout: a read of its RBR by a walk or a fetch would
# consume it. The boot ROM is main memory: a walk may read it (a zero PTE there is a page
# fault). Board-specific (the `virt` map), so run-on-qemu.sh does not count it on QEMU's
# `spike` machine.
#
# Checks:
#   1-3    table pointer to the UART (the PTE read would hit RBR): load 5, store 7, fetch 1
#   4-6    table pointer to the CLINT page holding mtime: load 5, store 7, fetch 1
#   7      table pointer to the test device: load 5
#   8      table pointer to the RTC: load 5
#   9      table pointer to the PLIC: load 5
#   10     table pointer to virtio slot 0's registers: load 5
#   11     table pointer into the boot ROM, at a zero word: load page fault 13
#   12-14  fetch (bare M-mode) from the UART, the CLINT, virtio: 1, tval = the address
#   15-16  the loopback byte is still in the UART (LSR.DR set, RBR = 0x5a)

.equ UART, 0x10000000
.equ CLINT_MTIME_PAGE, 0x0200b000
.equ TEST_DEV, 0x00100000
.equ RTC_DEV, 0x00101000
.equ PLIC_DEV, 0x0c000000
.equ VIRTIO_DEV, 0x10001000
.equ BOOT_ROM_HIGH, 0x00001800      # the second half of the ROM page: zeros
.equ VA, 0x40000000

test_main:
    # UART loopback: the byte sent is received and waits in RBR.
    li t0, UART
    li t1, 0x10
    sb t1, 4(t0)
    li t1, 0x5a
    sb t1, 0(t0)

    MAP_IDENTITY 3
    PT_LINK 0, 1, 3
    PT_LEAF 3, 0, UART, PTE_V
    PT_LEAF 3, 1, CLINT_MTIME_PAGE, PTE_V
    PT_LEAF 3, 2, TEST_DEV, PTE_V
    PT_LEAF 3, 3, RTC_DEV, PTE_V
    PT_LEAF 3, 4, PLIC_DEV, PTE_V
    PT_LEAF 3, 5, VIRTIO_DEV, PTE_V
    PT_LEAF 3, 6, BOOT_ROM_HIGH & ~0xfff, PTE_V
    SATP_ROOT SATP_SV39, 0

    # VPN[0] = 0: the PTE read is at offset 0 of the UART (RBR).
    li a1, VA
    MODE_FAULT 1, 1, CAUSE_LOAD_ACCESS, a1, ld a0, 0(a1)
    MODE_FAULT 2, 1, CAUSE_STORE_ACCESS, a1, sd a0, 0(a1)
    MODE_FAULT 3, 1, CAUSE_FETCH_ACCESS, a1, jalr zero, 0(a1)
    # VPN[0] = 0x1ff: the PTE read is mtime (0x200bff8).
    li a1, VA + 0x200000 + 0x1ff000
    MODE_FAULT 4, 1, CAUSE_LOAD_ACCESS, a1, ld a0, 0(a1)
    MODE_FAULT 5, 1, CAUSE_STORE_ACCESS, a1, sd a0, 0(a1)
    MODE_FAULT 6, 1, CAUSE_FETCH_ACCESS, a1, jalr zero, 0(a1)
    li a1, VA + 2 * 0x200000
    MODE_FAULT 7, 1, CAUSE_LOAD_ACCESS, a1, ld a0, 0(a1)
    li a1, VA + 3 * 0x200000
    MODE_FAULT 8, 1, CAUSE_LOAD_ACCESS, a1, ld a0, 0(a1)
    li a1, VA + 4 * 0x200000
    MODE_FAULT 9, 1, CAUSE_LOAD_ACCESS, a1, ld a0, 0(a1)
    li a1, VA + 5 * 0x200000
    MODE_FAULT 10, 1, CAUSE_LOAD_ACCESS, a1, ld a0, 0(a1)
    # VPN[0] = 0x100: the PTE read is at 0x1800, in the ROM's zero half.
    li a1, VA + 6 * 0x200000 + 0x100000
    MODE_FAULT 11, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)

    csrw satp, zero
    sfence.vma
    li a1, UART
    li gp, 12
    EXPECT_TRAP 1f
    jalr zero, 0(a1)
1:  CHECK_CAUSE 12, CAUSE_FETCH_ACCESS
    bne s10, a1, fail
    li a1, CLINT_MTIME_PAGE + 0xff8
    li gp, 13
    EXPECT_TRAP 1f
    jalr zero, 0(a1)
1:  CHECK_CAUSE 13, CAUSE_FETCH_ACCESS
    bne s10, a1, fail
    li a1, VIRTIO_DEV
    li gp, 14
    EXPECT_TRAP 1f
    jalr zero, 0(a1)
1:  CHECK_CAUSE 14, CAUSE_FETCH_ACCESS
    bne s10, a1, fail

    li t0, UART
    lbu a0, 5(t0)
    andi a0, a0, 1
    CHECK 15, a0, 1
    lbu a0, 0(t0)
    CHECK 16, a0, 0x5a
    sb zero, 4(t0)
    j pass
