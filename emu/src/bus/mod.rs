//! The physical address space: RAM plus memory-mapped devices.
//!
//! Devices sit behind one small trait, [`MmioDevice`], and know nothing of the hart loop
//! (the Firecracker pattern). RAM is a plain byte vector with a fast path; the hart asks
//! [`Bus::ram_offset`] once per page and then touches RAM directly.

mod htif;
mod ram;
mod state;
pub use htif::served_syscalls;
pub use ram::Ram;

/// Physical base of DRAM on the `virt` board.
pub const DRAM_BASE: u64 = 0x8000_0000;

/// A bus error: nothing answers at this physical address (or not with this width).
/// The hart turns it into an access-fault exception of the right kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusFault {
    pub addr: u64,
}

/// Physical-memory attributes of a region (the privileged spec's PMAs) as far as emu acts
/// on them. Every region of the board has one: RAM, the boot ROM and the device
/// registers (see [`MmioDevice::pma`]); an address in no region has none, and every
/// access to it is an access fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pma {
    /// Main memory: reads have no side effects, so page-table walks may read (and, if
    /// writable, update) PTEs here. Not main memory = I/O: implicit accesses (PTE reads,
    /// A/D updates, instruction fetches) to it are access faults and never reach the
    /// device.
    pub memory: bool,
    /// Stores are accepted.
    pub writable: bool,
    /// Instructions may be fetched.
    pub executable: bool,
}

impl Pma {
    /// DRAM.
    pub const RAM: Pma = Pma {
        memory: true,
        writable: true,
        executable: true,
    };
    /// Read-only, executable memory (the boot ROM, like QEMU `virt`'s mask ROM).
    pub const ROM: Pma = Pma {
        memory: true,
        writable: false,
        executable: true,
    };
    /// Device registers: explicit loads and stores only (AMOs and LR/SC on them are
    /// served as a read followed by a write).
    pub const IO: Pma = Pma {
        memory: false,
        writable: true,
        executable: false,
    };
}

/// A device refused an access (unmapped register, unsupported width): the hart raises an
/// access fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceError;

/// A device mapped into the physical address space.
///
/// `offset` is relative to the device's base; `size` is 1, 2, 4 or 8 bytes. A device that
/// needs guest memory (DMA, e.g. virtio queues) gets it as `ram`. Returning `Err(DeviceError)`
/// makes the access an access fault.
pub trait MmioDevice: Send {
    /// Short name used in traces (`uart0`, `clint`, ...).
    fn name(&self) -> &str;
    /// The region's attributes; device registers unless the device is memory-like.
    fn pma(&self) -> Pma {
        Pma::IO
    }
    fn read(&mut self, offset: u64, size: usize, ram: &mut Ram) -> Result<u64, DeviceError>;
    fn write(
        &mut self,
        offset: u64,
        size: usize,
        value: u64,
        ram: &mut Ram,
    ) -> Result<(), DeviceError>;
    /// Called by the machine between hart quanta with the current `mtime`, so devices with
    /// time-based behaviour (UART input, RTC) can make progress.
    fn poll(&mut self, _now: u64, _ram: &mut Ram) {}
    /// Whether the device has work it will continue in later `poll` calls (a guest's
    /// request it serves a bounded piece at a time). While it does, the machine keeps
    /// guest time moving even when every hart sleeps, instead of calling it a deadlock.
    fn has_pending_work(&self) -> bool {
        false
    }
    /// Level of this device's interrupt line, if it has one: `(PLIC source, level)`.
    fn irq_line(&self) -> Option<(u32, bool)> {
        None
    }
    /// For interrupt controllers (the PLIC): the current levels of all device lines.
    fn set_source_levels(&mut self, _levels: &[(u32, bool)]) {}
    /// For interrupt controllers: the `mip` bits this device asserts for `hart`
    /// (CLINT: MSIP/MTIP; PLIC: MEIP/SEIP).
    fn interrupt_bits(&self, _hart: usize) -> u64 {
        0
    }
    /// The `mtime` value at which this device's outputs may next change on their own
    /// (CLINT: the earliest mtimecmp; RTC: its alarm). The machine ends quanta and
    /// skips WFI to it.
    fn next_deadline(&self) -> Option<u64> {
        None
    }
    /// A power-off/reset request the guest made through this device (syscon), taken
    /// by the bus right after the write that made it.
    fn take_exit_request(&mut self) -> Option<ExitRequest> {
        None
    }
    /// Append the device's state to a snapshot (`emu run --save`). A device that does not
    /// override this cannot be saved, and saving a machine that has it fails.
    fn save_state(
        &self,
        _w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        Err(crate::snapshot::format::SnapError(format!(
            "the device {} cannot be saved in a snapshot",
            self.name()
        )))
    }
    /// Take the state [`MmioDevice::save_state`] wrote into this freshly built device.
    fn restore_state(
        &mut self,
        _r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        Err(crate::snapshot::format::SnapError(format!(
            "the device {} cannot be restored from a snapshot",
            self.name()
        )))
    }
}

struct Mapping {
    base: u64,
    size: u64,
    dev: Box<dyn MmioDevice>,
}

impl Mapping {
    /// Whether `[pa, pa + size)` lies inside this device; an end that wraps past 2^64
    /// lies inside nothing.
    fn covers(&self, pa: u64, size: usize) -> bool {
        pa >= self.base
            && pa
                .checked_add(size as u64)
                .is_some_and(|end| end <= self.base + self.size)
    }
}

/// Physical address space. Owns RAM and the devices.
pub struct Bus {
    pub ram: Ram,
    mappings: Vec<Mapping>,
    /// Physical address of the HTIF `tohost` word, if the loaded ELF has one. Stores to
    /// it are intercepted by the bus (the page holding it is never on the RAM fast path).
    htif_tohost: Option<u64>,
    htif_fromhost: Option<u64>,
    /// Set when the guest wrote an exit request to `tohost` or to the test device.
    pub exit_request: Option<ExitRequest>,
    /// Console bytes written through HTIF; the machine drains and prints them.
    pub htif_console: Vec<u8>,
    /// The HTIF syscall proxy's open host files.
    htif_syscalls: htif::SyscallProxy,
    /// Where the syscall proxy's `read` of stdin takes bytes from (the console's input).
    pub htif_stdin: crate::devices::console::ConsoleInputSource,
    /// The latest time the devices were polled with.
    device_time: u64,
}

/// What the guest asked of the host through HTIF or the sifive test device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitRequest {
    /// Power off with this exit status (0 = pass).
    Exit(u32),
    /// Reset the machine.
    Reset,
    /// The program asked the HTIF syscall proxy for a syscall it does not serve.
    UnsupportedSyscall(u64),
    /// The program pointed `tohost` at a syscall block that is not in RAM.
    SyscallBlockOutsideRam(u64),
    /// A `tohost` command for a device or command HTIF does not have.
    UnsupportedHtif(u64),
}

impl Bus {
    pub fn new(ram_size: u64) -> Self {
        Bus {
            ram: Ram::new(DRAM_BASE, ram_size),
            mappings: Vec::new(),
            htif_tohost: None,
            htif_fromhost: None,
            exit_request: None,
            htif_console: Vec::new(),
            htif_syscalls: htif::SyscallProxy::default(),
            htif_stdin: Default::default(),
            device_time: 0,
        }
    }

    /// Map a device at `[base, base + size)`. Panics only on overlapping mappings, which
    /// is a bug in the board description, never something a guest or user can cause.
    pub fn map(&mut self, base: u64, size: u64, dev: Box<dyn MmioDevice>) {
        for m in &self.mappings {
            assert!(
                base + size <= m.base || m.base + m.size <= base,
                "device {} overlaps {}",
                dev.name(),
                m.dev.name()
            );
        }
        self.mappings.push(Mapping { base, size, dev });
    }

    pub fn set_htif(&mut self, tohost: Option<u64>, fromhost: Option<u64>) {
        self.htif_tohost = tohost;
        self.htif_fromhost = fromhost;
    }

    /// If `[pa, pa + len)` is plain RAM that may be accessed directly (no watched word on
    /// the page), its offset into `self.ram`. This is what the hart's fast path caches.
    #[inline]
    pub fn ram_offset(&self, pa: u64, len: u64) -> Option<usize> {
        let off = self.ram.offset_of(pa, len)?;
        if let Some(t) = self.htif_tohost {
            if pa >> 12 == t >> 12 {
                return None;
            }
        }
        Some(off)
    }

    /// Is the 4 KiB physical page at `pa` RAM that the fast path may use?
    #[inline]
    pub fn is_fast_ram_page(&self, pa: u64) -> bool {
        self.ram_offset(pa & !0xfff, 4096).is_some()
    }

    /// The attributes of `[pa, pa + size)`, or None where no single region holds it.
    #[inline]
    pub fn pma(&self, pa: u64, size: usize) -> Option<Pma> {
        if self.ram.offset_of(pa, size as u64).is_some() {
            return Some(Pma::RAM);
        }
        self.mappings
            .iter()
            .find(|m| m.covers(pa, size))
            .map(|m| m.dev.pma())
    }

    /// Every region of the address space with its attributes, in address order: the
    /// board's PMA table.
    pub fn pma_table(&self) -> Vec<(String, u64, u64, Pma)> {
        let mut table: Vec<_> = self
            .mappings
            .iter()
            .map(|m| (m.dev.name().to_string(), m.base, m.size, m.dev.pma()))
            .collect();
        table.push(("ram".into(), self.ram.base(), self.ram.size(), Pma::RAM));
        table.sort_by_key(|r| r.1);
        table
    }

    /// An implicit read of a PTE by the page-table walker: main memory only, so a walk
    /// into device registers faults without touching them.
    #[inline]
    pub fn read_pte(&mut self, pa: u64) -> Result<u64, BusFault> {
        match self.pma(pa, 8) {
            Some(p) if p.memory => self.read(pa, 8),
            _ => Err(BusFault { addr: pa }),
        }
    }

    /// The walker's A/D update of a PTE: writable main memory only.
    pub fn write_pte(&mut self, pa: u64, value: u64) -> Result<(), BusFault> {
        match self.pma(pa, 8) {
            Some(p) if p.memory && p.writable => self.write(pa, 8, value),
            _ => Err(BusFault { addr: pa }),
        }
    }

    /// An instruction fetch of `size` bytes outside the decode cache's RAM path:
    /// executable regions only, so fetching from device registers faults without
    /// touching them.
    pub fn fetch(&mut self, pa: u64, size: usize) -> Result<u64, BusFault> {
        match self.pma(pa, size) {
            Some(p) if p.executable => self.read(pa, size),
            _ => Err(BusFault { addr: pa }),
        }
    }

    /// Read `size` bytes (1, 2, 4, 8) at physical address `pa`, little-endian.
    pub fn read(&mut self, pa: u64, size: usize) -> Result<u64, BusFault> {
        if let Some(v) = self.ram.read(pa, size) {
            return Ok(v);
        }
        let fault = BusFault { addr: pa };
        for m in &mut self.mappings {
            if m.covers(pa, size) {
                return m
                    .dev
                    .read(pa - m.base, size, &mut self.ram)
                    .map_err(|_| fault);
            }
        }
        Err(fault)
    }

    /// Write `size` bytes (1, 2, 4, 8) at physical address `pa`, little-endian.
    pub fn write(&mut self, pa: u64, size: usize, value: u64) -> Result<(), BusFault> {
        if let Some(t) = self.htif_tohost {
            if pa == t && size >= 4 {
                self.htif_write(value);
                return Ok(());
            }
        }
        if self.ram.write(pa, size, value) {
            return Ok(());
        }
        let fault = BusFault { addr: pa };
        for m in &mut self.mappings {
            if m.covers(pa, size) {
                let r = m
                    .dev
                    .write(pa - m.base, size, value, &mut self.ram)
                    .map_err(|_| fault);
                if let Some(req) = m.dev.take_exit_request() {
                    self.exit_request = Some(req);
                }
                return r;
            }
        }
        Err(fault)
    }

    /// A `tohost` command: exit, a syscall-proxy request, or console output (device 1,
    /// command 1). See [`htif`].
    fn htif_write(&mut self, value: u64) {
        let device = value >> 56;
        let command = (value >> 48) & 0xff;
        let payload = value & 0xffff_ffff_ffff;
        if value == 0 {
            return;
        }
        if device == 0 && command == 0 && payload & 1 == 1 {
            let code = payload >> 1;
            self.exit_request = Some(ExitRequest::Exit(code.min(u32::MAX as u64) as u32));
        } else if device == 0 && command == 0 {
            let mut host = htif::SyscallHost {
                ram: &mut self.ram,
                stdout: &mut self.htif_console,
                stdin: &self.htif_stdin,
            };
            match self.htif_syscalls.call(payload, &mut host) {
                htif::SyscallOutcome::Return(ret) => {
                    let _ = self.ram.write(payload, 8, ret as u64);
                    self.htif_ack(1);
                }
                htif::SyscallOutcome::Stop(req) => self.exit_request = Some(req),
            }
        } else if device == 1 && command == 1 {
            self.htif_console.push(value as u8);
            // Acknowledge so polling loops in the guest see the command consumed.
            self.htif_ack((1 << 56) | (1 << 48));
        } else {
            // Nothing would ever answer: stop rather than let the guest poll forever.
            self.exit_request = Some(ExitRequest::UnsupportedHtif(value));
        }
    }

    fn htif_ack(&mut self, value: u64) {
        if let Some(f) = self.htif_fromhost {
            let _ = self.ram.write(f, 8, value);
        }
    }

    /// A hart is about to touch a device at time `now` (its own `time`, which runs ahead
    /// of the machine's quantum boundaries): bring the devices up to it first, so a guest
    /// never reads an `mtime` older than the `time` CSR it just read.
    #[inline]
    pub fn sync_device_time(&mut self, now: u64) {
        if now > self.device_time {
            self.poll_devices(now);
        }
    }

    /// Let every device make progress; returns nothing, irq lines are sampled separately.
    pub fn poll_devices(&mut self, now: u64) {
        self.device_time = self.device_time.max(now);
        for m in &mut self.mappings {
            m.dev.poll(now, &mut self.ram);
            // Requests from the host side (Ctrl-A X on the console) surface here.
            if let Some(req) = m.dev.take_exit_request() {
                self.exit_request = Some(req);
            }
        }
    }

    /// The earliest [`MmioDevice::next_deadline`] of all devices (the CLINT's timers,
    /// the RTC's alarm).
    pub fn next_deadline(&self) -> Option<u64> {
        self.mappings
            .iter()
            .filter_map(|m| m.dev.next_deadline())
            .min()
    }

    /// Whether any device has work it will continue in later polls.
    pub fn devices_have_pending_work(&self) -> bool {
        self.mappings.iter().any(|m| m.dev.has_pending_work())
    }

    /// Current levels of all device interrupt lines, as `(source, level)`.
    pub fn irq_lines(&self) -> impl Iterator<Item = (u32, bool)> + '_ {
        self.mappings.iter().filter_map(|m| m.dev.irq_line())
    }

    /// Name of the device at `pa`, for traces.
    pub fn device_name(&self, pa: u64) -> Option<&str> {
        self.mappings
            .iter()
            .find(|m| pa >= m.base && pa < m.base + m.size)
            .map(|m| m.dev.name())
    }

    /// Swap the device registered under `name` for another (e.g. a boot ROM with the final
    /// entry and DTB addresses).
    pub fn replace_device(&mut self, name: &str, dev: Box<dyn MmioDevice>) {
        if let Some(m) = self.mappings.iter_mut().find(|m| m.dev.name() == name) {
            m.dev = dev;
        }
    }

    /// Where the device registered under `name` is, for [`Bus::device_at_mut`]: a
    /// lookup made once rather than by name on every use (mappings are only ever
    /// added, so the position stays).
    pub fn device_index(&self, name: &str) -> Option<usize> {
        self.mappings.iter().position(|m| m.dev.name() == name)
    }

    /// The device at `index` ([`Bus::device_index`]).
    pub fn device_at_mut(&mut self, index: usize) -> Option<&mut (dyn MmioDevice + 'static)> {
        self.mappings.get_mut(index).map(|m| m.dev.as_mut())
    }

    /// Mutable access to a mapped device by name (the machine wires CLINT/PLIC lines).
    pub fn device_mut(&mut self, name: &str) -> Option<&mut (dyn MmioDevice + 'static)> {
        self.mappings
            .iter_mut()
            .find(|m| m.dev.name() == name)
            .map(|m| m.dev.as_mut())
    }
}
