# Page-table building blocks shared by the vm_* programs (included after prelude.S).
#
# Tables come from one pool of 16 zeroed pages in .bss, named by number: table 0 is
# normally the root. The macros run in M-mode (bare), clobber t0-t2, and take constants
# (table numbers, indices, physical addresses, flags) so each line of a test reads as one
# PTE of its page table.
#
# Every program maps RAM's first GiB (code, data, tables, HTIF words) onto itself with a
# 1 GiB leaf (MAP_IDENTITY), so S-mode code keeps running, may call `pass`/`fail`, and may
# rewrite PTEs through ordinary stores once translation is on.

.equ PTE_V, 0x01
.equ PTE_R, 0x02
.equ PTE_W, 0x04
.equ PTE_X, 0x08
.equ PTE_U, 0x10
.equ PTE_G, 0x20
.equ PTE_A, 0x40
.equ PTE_D, 0x80
.equ PTE_AD, PTE_A | PTE_D
.equ PTE_RW_AD, PTE_V | PTE_R | PTE_W | PTE_AD
.equ PTE_RWX_AD, PTE_V | PTE_R | PTE_W | PTE_X | PTE_AD

.equ SATP_BARE, 0
.equ SATP_SV39, 8
.equ SATP_SV48, 9
.equ SATP_SV57, 10

.equ RAM_BASE, 0x80000000
# U-mode code runs from an alias of RAM at RAM_BASE + U_ALIAS (a 1 GiB U leaf at
# VPN[2] = 3 that the programs using U-mode set up), because the identity map is not U.
.equ U_ALIAS, 0x40000000

.equ CAUSE_FETCH_ACCESS, 1
.equ CAUSE_LOAD_ACCESS, 5
.equ CAUSE_STORE_ACCESS, 7
.equ CAUSE_ECALL_U, 8
.equ CAUSE_ECALL_S, 9
.equ CAUSE_FETCH_PAGE, 12
.equ CAUSE_LOAD_PAGE, 13
.equ CAUSE_STORE_PAGE, 15

.pushsection .bss, "aw", @nobits
.balign 4096
.globl vm_tables
vm_tables: .space 4096 * 16
.popsection

# A page of code for fetches through 4 KiB mappings: it ecalls (so a successful fetch
# ends in cause 8/9) and never falls through.
.pushsection .text, "ax", @progbits
.balign 4096
.globl vm_code_page
vm_code_page:
    ecall
    j fail
.balign 4096
.popsection

# \reg = address of PTE \idx of table \t.
.macro PTE_ADDR reg, t, idx
    la \reg, vm_tables + (\t) * 4096 + (\idx) * 8
.endm

# Table \t, entry \idx = pointer to table \child (with \extra bits, which a valid
# pointer does not have, for the fault tests).
.macro PT_LINK t, idx, child, extra=0
    PTE_ADDR t0, \t, \idx
    la t1, vm_tables + (\child) * 4096
    srli t1, t1, 12
    slli t1, t1, 10
    li t2, PTE_V | (\extra)
    or t1, t1, t2
    sd t1, 0(t0)
.endm

# Table \t, entry \idx = leaf (or any PTE) for physical address \pa with flag bits \flags
# (which may include bits 63:54).
.macro PT_LEAF t, idx, pa, flags
    PTE_ADDR t0, \t, \idx
    li t1, (((\pa) >> 12) << 10) | (\flags)
    sd t1, 0(t0)
.endm

# The same for the page at symbol \sym.
.macro PT_LEAF_SYM t, idx, sym, flags
    PTE_ADDR t0, \t, \idx
    la t1, \sym
    srli t1, t1, 12
    slli t1, t1, 10
    li t2, \flags
    or t1, t1, t2
    sd t1, 0(t0)
.endm

# satp = \mode, \asid, root table \t; then a full fence (the tables were just written).
.macro SATP_ROOT mode, t, asid=0
    la t0, vm_tables + (\t) * 4096
    srli t0, t0, 12
    li t1, ((\mode) << 60) | ((\asid) << 44)
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
.endm

# \reg = the satp value SATP_ROOT would write (for satp switches in S-mode).
.macro SATP_VALUE reg, mode, t, asid=0
    la \reg, vm_tables + (\t) * 4096
    srli \reg, \reg, 12
    li t1, ((\mode) << 60) | ((\asid) << 44)
    or \reg, \reg, t1
.endm

# Identity-map RAM's first GiB with a 1 GiB leaf, in a \levels-level table rooted at
# table \root. Deeper modes reach level 2 through tables \mid1 (and \mid2): the table
# that holds the leaf is the "level-2 table" of VA 0..512 GiB, which the programs reuse.
.macro MAP_IDENTITY levels, root=0, mid1=1, mid2=2
.if \levels == 3
    PT_LEAF \root, 2, RAM_BASE, PTE_RWX_AD
.else
    PT_LINK \root, 0, \mid1
.if \levels == 4
    PT_LEAF \mid1, 2, RAM_BASE, PTE_RWX_AD
.else
    PT_LINK \mid1, 0, \mid2
    PT_LEAF \mid2, 2, RAM_BASE, PTE_RWX_AD
.endif
.endif
.endm

# Enter privilege \mode (0 = U, 1 = S) at \label; U-mode enters through the U alias.
.macro ENTER_VM mode, label
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, (\mode) << 11
    csrs mstatus, t0
    la t0, \label
.if \mode == 0
    li t1, U_ALIAS
    add t0, t0, t1
.endif
    csrw mepc, t0
    mret
.endm

# From M: \insn, run in privilege \mode, must complete without a trap (check \num).
.macro MODE_OK num, mode, insn:vararg
    li gp, \num
    EXPECT_TRAP 88f
    ENTER_VM \mode, 87f
87: \insn
    ecall
    j fail
88: CHECK_CAUSE \num, (CAUSE_ECALL_U + \mode)
.endm

# From M: \insn, run in privilege \mode, must trap with cause \cause and tval = register
# \va (check \num). Other registers survive, so \va is set before.
.macro MODE_FAULT num, mode, cause, va, insn:vararg
    li gp, \num
    EXPECT_TRAP 88f
    ENTER_VM \mode, 87f
87: \insn
    ecall
    j fail
88: CHECK_CAUSE \num, \cause
    bne s10, \va, fail
.endm

# Check \num: register \reg must equal register \want.
.macro CHECK_REG num, reg, want
    li gp, \num
    bne \reg, \want, fail
.endm
