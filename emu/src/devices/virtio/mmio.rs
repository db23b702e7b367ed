//! The virtio-mmio transport, version 2 (virtio 1.x §4.2.2).
//!
//! A slot without a backend still answers with the magic value and device ID 0, which
//! the spec defines as "no device": drivers skip it, exactly as with QEMU's empty slots.
//! Queue notifications are processed inside the MMIO write as far as the device's work
//! credit allows, so an ordinary request is complete (and its interrupt raised) before
//! the guest's next instruction. The credit grows with guest time and is capped, so a
//! guest cannot make the device work without bound inside one store: chains whose
//! buffers alias the rings (each completion publishing the next request) or a request of
//! gigabytes continue in later [`MmioDevice::poll`] calls, between the machine's quanta,
//! where `--max-insns` and stop requests are checked. The driver still sees each
//! completion through the used ring and the interrupt, only later (virtio 1.x leaves the
//! time a device takes to the device; Linux waits for the interrupt).

use super::queue::{Chain, InFlight, Queue, QueueError, QUEUE_MAX};
use crate::bus::{DeviceError, MmioDevice, Ram};

const MAGIC: u32 = 0x7472_6976; // "virt"
const VERSION: u32 = 2;
/// "QEMU", so guests that match on the vendor behave as they do there.
const VENDOR: u32 = 0x554d_4551;

pub const VIRTIO_F_VERSION_1: u64 = 1 << 32;

const STATUS_FEATURES_OK: u32 = 8;
const STATUS_NEEDS_RESET: u32 = 64;

const INT_USED_BUFFER: u32 = 1;
const INT_CONFIG_CHANGE: u32 = 2;

/// Most work credit a device holds, in bytes moved: one step never does more. Large
/// enough for any request Linux makes (its default limit is 1280 KiB) in one go.
pub const WORK_CREDIT_MAX: u64 = 2 << 20;
/// Credit earned per `mtime` tick (ten instructions in deterministic time): a full
/// 4096-instruction quantum refills the whole credit.
const WORK_CREDIT_PER_TICK: u64 = 5 * 1024;
/// What taking one chain costs, whatever its size, so that many empty chains are
/// bounded too: a full credit pays for `QUEUE_MAX` of them.
pub const CHAIN_COST: u64 = WORK_CREDIT_MAX / QUEUE_MAX as u64;

/// A request's position and what the backend may still do in this step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Payload bytes of the chain handled in earlier steps.
    pub done: u64,
    /// Bytes the backend may still move now; it stops (returns `Ok(None)`) at zero.
    pub budget: u64,
}

impl Work {
    /// Take up to `want` bytes of the budget; returns how many were granted.
    pub fn take(&mut self, want: u64) -> u64 {
        let n = want.min(self.budget);
        self.budget -= n;
        n
    }
}

const REG_MAGIC: u64 = 0x000;
const REG_VERSION: u64 = 0x004;
const REG_DEVICE_ID: u64 = 0x008;
const REG_VENDOR_ID: u64 = 0x00c;
const REG_DEVICE_FEATURES: u64 = 0x010;
const REG_DEVICE_FEATURES_SEL: u64 = 0x014;
const REG_DRIVER_FEATURES: u64 = 0x020;
const REG_DRIVER_FEATURES_SEL: u64 = 0x024;
const REG_QUEUE_SEL: u64 = 0x030;
const REG_QUEUE_NUM_MAX: u64 = 0x034;
const REG_QUEUE_NUM: u64 = 0x038;
const REG_QUEUE_READY: u64 = 0x044;
const REG_QUEUE_NOTIFY: u64 = 0x050;
const REG_INTERRUPT_STATUS: u64 = 0x060;
const REG_INTERRUPT_ACK: u64 = 0x064;
const REG_STATUS: u64 = 0x070;
const REG_QUEUE_DESC_LOW: u64 = 0x080;
const REG_QUEUE_DESC_HIGH: u64 = 0x084;
const REG_QUEUE_DRIVER_LOW: u64 = 0x090;
const REG_QUEUE_DRIVER_HIGH: u64 = 0x094;
const REG_QUEUE_DEVICE_LOW: u64 = 0x0a0;
const REG_QUEUE_DEVICE_HIGH: u64 = 0x0a4;
const REG_CONFIG_GENERATION: u64 = 0x0fc;
const CONFIG_SPACE: u64 = 0x100;

/// A virtio device model behind the transport: it sees whole descriptor chains.
pub trait VirtioBackend: Send {
    /// Virtio device ID (2 = block, 4 = entropy).
    fn device_id(&self) -> u32;
    /// Device-specific feature bits; the transport adds VIRTIO_F_VERSION_1.
    fn features(&self) -> u64;
    fn num_queues(&self) -> usize;
    /// Read from the device configuration space (little-endian).
    fn read_config(&self, offset: u64, size: usize) -> u64;
    /// Serve one chain from `work.done` on, moving at most `work.budget` bytes (and
    /// advancing both). Returns the number of bytes written into its buffers once the
    /// request is complete, or `Ok(None)` when the budget ran out first: the transport
    /// calls again later with the same chain and the advanced `work.done`.
    fn process(
        &mut self,
        queue: usize,
        chain: &Chain,
        ram: &mut Ram,
        work: &mut Work,
    ) -> Result<Option<u32>, QueueError>;
    /// The driver reset the device.
    fn reset(&mut self) {}
    /// Append the backend's state to a snapshot; a backend that does not override this
    /// cannot be saved.
    fn save_state(
        &self,
        _w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        Err(crate::snapshot::format::SnapError(format!(
            "the virtio device of type {} cannot be saved in a snapshot",
            self.device_id()
        )))
    }
    /// Take the state [`VirtioBackend::save_state`] wrote into this fresh backend.
    fn restore_state(
        &mut self,
        _r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        Err(crate::snapshot::format::SnapError(format!(
            "the virtio device of type {} cannot be restored from a snapshot",
            self.device_id()
        )))
    }
}

pub struct VirtioMmio {
    name: String,
    irq: u32,
    backend: Option<Box<dyn VirtioBackend>>,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    queues: Vec<Queue>,
    interrupt_status: u32,
    /// Bytes the device may still move before more guest time passes.
    credit: u64,
    /// The `mtime` at which the credit was last topped up.
    credit_time: u64,
}

impl VirtioMmio {
    /// Slot `index` (name `virtio<index>`) on PLIC source `irq`; `None` is an empty slot.
    pub fn new(index: usize, irq: u32, backend: Option<Box<dyn VirtioBackend>>) -> Self {
        let queues = backend.as_ref().map_or(0, |b| b.num_queues());
        VirtioMmio {
            name: format!("virtio{index}"),
            irq,
            backend,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            queues: vec![Queue::default(); queues],
            interrupt_status: 0,
            credit: WORK_CREDIT_MAX,
            credit_time: 0,
        }
    }

    fn device_features(&self) -> u64 {
        self.backend
            .as_ref()
            .map_or(0, |b| b.features() | VIRTIO_F_VERSION_1)
    }

    fn reset(&mut self) {
        self.status = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.queue_sel = 0;
        self.interrupt_status = 0;
        for q in &mut self.queues {
            q.reset();
        }
        if let Some(b) = &mut self.backend {
            b.reset();
        }
    }

    fn selected_queue(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    /// The guest broke the protocol: stop using the device until it resets it, and say
    /// so through the status register and a configuration-change interrupt (§2.1.2).
    fn fail(&mut self) {
        self.status |= STATUS_NEEDS_RESET;
        self.interrupt_status |= INT_CONFIG_CHANGE;
    }

    fn notify(&mut self, queue: usize, ram: &mut Ram) {
        if let Some(q) = self.queues.get_mut(queue) {
            q.kicked = true;
        }
        self.serve(queue, ram);
    }

    /// Serve queue `queue` as far as the credit allows: at most one queue's worth of
    /// chains (each costs [`CHAIN_COST`]) and the credit's worth of bytes. What is left
    /// stays `kicked` (and a partly served chain `in_flight`) for the next poll.
    fn serve(&mut self, queue: usize, ram: &mut Ram) {
        if self.status & STATUS_NEEDS_RESET != 0 {
            return;
        }
        let (Some(backend), Some(q)) = (self.backend.as_mut(), self.queues.get_mut(queue)) else {
            return;
        };
        if !q.ready || !q.kicked {
            return;
        }
        let mut used_any = false;
        let mut chains = 0usize;
        let result = loop {
            if chains >= usize::from(q.size).max(1) {
                break Ok(());
            }
            let (chain, done) = match q.in_flight.take() {
                Some(f) => (f.chain, f.done),
                None => {
                    if self.credit < CHAIN_COST {
                        break Ok(());
                    }
                    match q.pop(ram) {
                        Ok(Some(c)) => {
                            self.credit -= CHAIN_COST;
                            (c, 0)
                        }
                        Ok(None) => {
                            q.kicked = false;
                            break Ok(());
                        }
                        Err(e) => break Err(e),
                    }
                }
            };
            chains += 1;
            let mut work = Work {
                done,
                budget: self.credit,
            };
            let outcome = backend.process(queue, &chain, ram, &mut work);
            self.credit = work.budget;
            let written = match outcome {
                Ok(Some(n)) => n,
                Ok(None) => {
                    q.in_flight = Some(InFlight {
                        chain,
                        done: work.done,
                    });
                    break Ok(());
                }
                Err(e) => break Err(e),
            };
            if let Err(e) = q.push_used(ram, chain.head, written) {
                break Err(e);
            }
            used_any = true;
        };
        if used_any {
            self.interrupt_status |= INT_USED_BUFFER;
        }
        if result.is_err() {
            self.fail();
        }
    }

    /// Whether a queue has requests the device has not finished (it continues them in
    /// [`MmioDevice::poll`]).
    pub fn has_pending_work(&self) -> bool {
        self.status & STATUS_NEEDS_RESET == 0
            && self.backend.is_some()
            && self.queues.iter().any(|q| q.ready && q.kicked)
    }

    fn set_status(&mut self, value: u32) {
        if value == 0 {
            self.reset();
            return;
        }
        let mut value = value;
        if value & STATUS_FEATURES_OK != 0 && self.status & STATUS_FEATURES_OK == 0 {
            // Accept only a subset of what we offer, and only a modern (1.x) driver.
            let offered = self.device_features();
            let acceptable = self.driver_features & !offered == 0
                && self.driver_features & VIRTIO_F_VERSION_1 != 0;
            if !acceptable {
                value &= !STATUS_FEATURES_OK;
            }
        }
        // NEEDS_RESET is the device's to set; the driver cannot clear it short of reset.
        self.status = (value & !STATUS_NEEDS_RESET) | (self.status & STATUS_NEEDS_RESET);
    }

    fn set_queue_addr(&mut self, reg: u64, value: u32) {
        let Some(q) = self.selected_queue() else {
            return;
        };
        // The driver may only move a queue while it is not live.
        if q.ready {
            return;
        }
        let (field, high) = match reg {
            REG_QUEUE_DESC_LOW => (&mut q.desc_addr, false),
            REG_QUEUE_DESC_HIGH => (&mut q.desc_addr, true),
            REG_QUEUE_DRIVER_LOW => (&mut q.driver_addr, false),
            REG_QUEUE_DRIVER_HIGH => (&mut q.driver_addr, true),
            REG_QUEUE_DEVICE_LOW => (&mut q.device_addr, false),
            _ => (&mut q.device_addr, true),
        };
        *field = if high {
            (*field & 0xffff_ffff) | ((value as u64) << 32)
        } else {
            (*field & !0xffff_ffff) | value as u64
        };
    }

    fn read_reg(&mut self, offset: u64) -> u32 {
        let present = self.backend.is_some();
        match offset {
            REG_MAGIC => MAGIC,
            REG_VERSION => VERSION,
            REG_DEVICE_ID => self.backend.as_ref().map_or(0, |b| b.device_id()),
            REG_VENDOR_ID if present => VENDOR,
            REG_DEVICE_FEATURES => match self.device_features_sel {
                0 => self.device_features() as u32,
                1 => (self.device_features() >> 32) as u32,
                _ => 0,
            },
            REG_QUEUE_NUM_MAX => self.selected_queue().map_or(0, |_| QUEUE_MAX as u32),
            REG_QUEUE_NUM => self.selected_queue().map_or(0, |q| q.size as u32),
            REG_QUEUE_READY => self.selected_queue().map_or(0, |q| q.ready as u32),
            REG_INTERRUPT_STATUS => self.interrupt_status,
            REG_STATUS => self.status,
            REG_QUEUE_DESC_LOW => self.selected_queue().map_or(0, |q| q.desc_addr as u32),
            REG_QUEUE_DESC_HIGH => self
                .selected_queue()
                .map_or(0, |q| (q.desc_addr >> 32) as u32),
            REG_QUEUE_DRIVER_LOW => self.selected_queue().map_or(0, |q| q.driver_addr as u32),
            REG_QUEUE_DRIVER_HIGH => self
                .selected_queue()
                .map_or(0, |q| (q.driver_addr >> 32) as u32),
            REG_QUEUE_DEVICE_LOW => self.selected_queue().map_or(0, |q| q.device_addr as u32),
            REG_QUEUE_DEVICE_HIGH => self
                .selected_queue()
                .map_or(0, |q| (q.device_addr >> 32) as u32),
            // Our configuration spaces never change under the driver.
            REG_CONFIG_GENERATION => 0,
            _ => 0,
        }
    }

    fn write_reg(&mut self, offset: u64, value: u32, ram: &mut Ram) {
        if self.backend.is_none() {
            return;
        }
        match offset {
            REG_DEVICE_FEATURES_SEL => self.device_features_sel = value,
            REG_DRIVER_FEATURES_SEL => self.driver_features_sel = value,
            REG_DRIVER_FEATURES => {
                let shift = match self.driver_features_sel {
                    0 => 0,
                    1 => 32,
                    _ => return,
                };
                self.driver_features =
                    (self.driver_features & !(0xffff_ffff << shift)) | ((value as u64) << shift);
            }
            REG_QUEUE_SEL => self.queue_sel = value,
            REG_QUEUE_NUM => {
                if let Some(q) = self.selected_queue() {
                    if !q.ready {
                        // Validated when the queue is used: a bad size is a device error
                        // then, not a silent clamp now.
                        q.size = value.min(u16::MAX as u32) as u16;
                    }
                }
            }
            REG_QUEUE_READY => {
                if let Some(q) = self.selected_queue() {
                    q.ready = value & 1 != 0;
                    if !q.ready {
                        q.next_avail = 0;
                        q.next_used = 0;
                        q.kicked = false;
                        q.in_flight = None;
                    }
                }
            }
            REG_QUEUE_NOTIFY => self.notify(value as usize, ram),
            REG_INTERRUPT_ACK => self.interrupt_status &= !value,
            REG_STATUS => self.set_status(value),
            REG_QUEUE_DESC_LOW
            | REG_QUEUE_DESC_HIGH
            | REG_QUEUE_DRIVER_LOW
            | REG_QUEUE_DRIVER_HIGH
            | REG_QUEUE_DEVICE_LOW
            | REG_QUEUE_DEVICE_HIGH => self.set_queue_addr(offset, value),
            _ => {}
        }
    }
}

impl MmioDevice for VirtioMmio {
    fn save_state(
        &self,
        w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        self.write_snapshot(w)
    }
    fn restore_state(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        self.read_snapshot(r)
    }
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&mut self, offset: u64, size: usize, _ram: &mut Ram) -> Result<u64, DeviceError> {
        if offset >= CONFIG_SPACE {
            return Ok(self
                .backend
                .as_ref()
                .map_or(0, |b| b.read_config(offset - CONFIG_SPACE, size)));
        }
        if size != 4 || offset & 3 != 0 {
            return Err(DeviceError);
        }
        Ok(self.read_reg(offset) as u64)
    }

    fn write(
        &mut self,
        offset: u64,
        size: usize,
        value: u64,
        ram: &mut Ram,
    ) -> Result<(), DeviceError> {
        if offset >= CONFIG_SPACE {
            // Neither of our devices has writable configuration fields.
            return Ok(());
        }
        if size != 4 || offset & 3 != 0 {
            return Err(DeviceError);
        }
        self.write_reg(offset, value as u32, ram);
        Ok(())
    }

    fn poll(&mut self, now: u64, ram: &mut Ram) {
        let elapsed = now.saturating_sub(self.credit_time);
        self.credit_time = self.credit_time.max(now);
        self.credit = self
            .credit
            .saturating_add(elapsed.saturating_mul(WORK_CREDIT_PER_TICK))
            .min(WORK_CREDIT_MAX);
        for queue in 0..self.queues.len() {
            self.serve(queue, ram);
        }
    }

    fn has_pending_work(&self) -> bool {
        VirtioMmio::has_pending_work(self)
    }

    fn irq_line(&self) -> Option<(u32, bool)> {
        Some((self.irq, self.interrupt_status != 0))
    }
}

/// Read `size` bytes at `offset` of a little-endian configuration blob; zero past its end.
pub fn config_bytes(config: &[u8], offset: u64, size: usize) -> u64 {
    let mut v = 0u64;
    for i in 0..size.min(8) {
        let b = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(i))
            .and_then(|o| config.get(o))
            .copied()
            .unwrap_or(0);
        v |= (b as u64) << (8 * i);
    }
    v
}

fn write_chain(w: &mut crate::snapshot::format::Writer, c: &Chain) {
    w.u16(c.head);
    w.u64(c.buffers.len() as u64);
    for b in &c.buffers {
        w.u64(b.addr);
        w.u32(b.len);
        w.bool(b.device_writable);
    }
}

fn read_chain(r: &mut crate::snapshot::format::Reader) -> crate::snapshot::format::Result<Chain> {
    let head = r.u16()?;
    let n = r.len(13)?;
    let mut buffers = Vec::with_capacity(n);
    for _ in 0..n {
        buffers.push(super::queue::Buffer {
            addr: r.u64()?,
            len: r.u32()?,
            device_writable: r.bool()?,
        });
    }
    Ok(Chain { head, buffers })
}

impl VirtioMmio {
    /// Snapshot state (`emu run --save`): transport registers, every queue with the
    /// device's position in it and the chain it is in the middle of, the work credit,
    /// and the backend's own state.
    fn write_snapshot(
        &self,
        w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        w.u32(self.status);
        w.u32(self.device_features_sel);
        w.u32(self.driver_features_sel);
        w.u64(self.driver_features);
        w.u32(self.queue_sel);
        w.u32(self.interrupt_status);
        w.u64(self.credit);
        w.u64(self.credit_time);
        w.u64(self.queues.len() as u64);
        for q in &self.queues {
            w.u16(q.size);
            w.bool(q.ready);
            w.u64(q.desc_addr);
            w.u64(q.driver_addr);
            w.u64(q.device_addr);
            w.u16(q.next_avail);
            w.u16(q.next_used);
            w.bool(q.kicked);
            match &q.in_flight {
                Some(f) => {
                    w.u8(1);
                    write_chain(w, &f.chain);
                    w.u64(f.done);
                }
                None => w.u8(0),
            }
        }
        match &self.backend {
            Some(b) => {
                w.u8(1);
                w.u32(b.device_id());
                let mut bw = crate::snapshot::format::Writer::new();
                b.save_state(&mut bw)?;
                w.bytes(&bw.buf);
            }
            None => w.u8(0),
        }
        Ok(())
    }

    fn read_snapshot(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        self.status = r.u32()?;
        self.device_features_sel = r.u32()?;
        self.driver_features_sel = r.u32()?;
        self.driver_features = r.u64()?;
        self.queue_sel = r.u32()?;
        self.interrupt_status = r.u32()?;
        self.credit = r.u64()?.min(WORK_CREDIT_MAX);
        self.credit_time = r.u64()?;
        if r.u64()? != self.queues.len() as u64 {
            return Err(r.error("has another number of queues"));
        }
        for q in &mut self.queues {
            q.size = r.u16()?;
            if q.size > QUEUE_MAX || (q.size != 0 && !q.size.is_power_of_two()) {
                return Err(r.error("has a queue size the device does not allow"));
            }
            q.ready = r.bool()?;
            q.desc_addr = r.u64()?;
            q.driver_addr = r.u64()?;
            q.device_addr = r.u64()?;
            q.next_avail = r.u16()?;
            q.next_used = r.u16()?;
            q.kicked = r.bool()?;
            q.in_flight = if r.bool()? {
                let chain = read_chain(r)?;
                Some(InFlight {
                    chain,
                    done: r.u64()?,
                })
            } else {
                None
            };
            if q.size == 0 && (q.ready || q.kicked || q.in_flight.is_some()) {
                return Err(r.error("has a queue in use without a size"));
            }
        }
        let present = r.bool()?;
        match (&mut self.backend, present) {
            (Some(b), true) => {
                let id = r.u32()?;
                if id != b.device_id() {
                    return Err(r.error(format!(
                        "holds virtio device type {id} where the machine has type {}",
                        b.device_id()
                    )));
                }
                let payload = r.bytes()?;
                let mut br =
                    crate::snapshot::format::Reader::new(payload, format!("{} backend", self.name));
                b.restore_state(&mut br)?;
                br.finish()?;
            }
            (None, false) => {}
            _ => {
                return Err(
                    r.error("has a device where the machine has none, or none where it has one")
                )
            }
        }
        Ok(())
    }
}
