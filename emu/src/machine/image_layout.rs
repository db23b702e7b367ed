//! Where a run's boot images go: build the board and load firmware, kernel, initrd and
//! device tree into it, each checked against RAM and the images placed before it, and
//! gather the symbols of what was loaded.

use super::loader::{self, read_input, LoadedImage};
use super::run_config::{Firmware, RunConfig};
use super::{map, Machine, MachineConfig};
use crate::trace::symbols::{Image, Symbolizer};
use crate::user_error::Failure;

/// Bytes kept free at the top of RAM for the device tree (the initrd ends below).
const DTB_RESERVE: u64 = 2 << 20;

/// Build the board, load firmware, kernel, initrd and DTB, and point the boot ROM at the
/// entry. Returns the machine and the symbols of what was loaded. Called again for every
/// reboot, so a guest reset boots the same images.
pub fn build(run: &RunConfig, board: &MachineConfig) -> Result<(Machine, Symbolizer), Failure> {
    let mut symbols = Symbolizer::default();
    let mut m = Machine::new(board.clone());
    // Dropped when the build returns: RAM holds the image from then on.
    let guest = run.guest.bytes()?;
    let (kernel, firmware) = load_firmware_and_guest(&mut m, run, &guest, &mut symbols)?;
    add_symbols(run, &guest, &kernel, &mut symbols)?;

    // Everything placed in RAM so far; each later image is checked against all of it.
    let mut taken = vec![Region::new("the kernel image", kernel.start, kernel.end)];
    if let Some(fw) = &firmware {
        taken.push(Region::new("the firmware", fw.start, fw.end));
    }
    // A user's tree is known now, so the initrd can go below however much it needs.
    let user_dtb = match &run.dtb {
        Some(p) => {
            let data = read_input("device tree", p)?;
            let tree = super::dtb::validate(&data).map_err(|why| {
                Failure::image(format!(
                    "--dtb {} is not a usable device tree: {why}",
                    p.display()
                ))
            })?;
            Some(tree.to_vec())
        }
        None => None,
    };
    let dtb_reserve = user_dtb
        .as_ref()
        .map_or(0, |t| (t.len() as u64 + 0x1000).next_multiple_of(0x1000))
        .max(DTB_RESERVE);
    let ram = (map::DRAM, map::DRAM + m.config.ram_size);
    if let Some(rd) = &run.initrd {
        let end = ram.1.saturating_sub(dtb_reserve) & !0xfff;
        let start = end.saturating_sub(rd.len() as u64) & !0xfff;
        let initrd = Region::new("the initrd", start, start + rd.len() as u64);
        initrd.check_free(&taken, ram)?;
        if !m.ram().load(start, rd) {
            return Err(initrd.outside_ram(ram));
        }
        taken.push(initrd);
        m.config.initrd = Some((start, start + rd.len() as u64));
    }
    let dtb = match user_dtb {
        Some(tree) => tree,
        None => super::dtb::build(&m.config)
            .map_err(|e| Failure::image(format!("cannot build the device tree: {e}")))?,
    };
    let dtb_at = m.dtb_address(dtb.len() as u64);
    Region::new("the device tree", dtb_at, dtb_at + dtb.len() as u64).check_free(&taken, ram)?;
    let entry = firmware.as_ref().map_or(kernel.entry, |fw| fw.entry);
    m.prepare_boot(entry, &dtb).map_err(img_err)?;
    Ok((m, symbols))
}

fn img_err(e: loader::LoadError) -> Failure {
    Failure::image(e.to_string())
}

/// Load the firmware (if any) and the guest; the firmware's ELF symbols go into
/// `symbols`. Returns the guest's and the firmware's place in RAM.
fn load_firmware_and_guest(
    m: &mut Machine,
    run: &RunConfig,
    guest: &[u8],
    symbols: &mut Symbolizer,
) -> Result<(LoadedImage, Option<LoadedImage>), Failure> {
    let (fw_bytes, fw_name) = match &run.firmware {
        Firmware::None => {
            let kernel = m.load(guest, &run.guest.name).map_err(img_err)?;
            return Ok((kernel, None));
        }
        Firmware::Builtin => (
            crate::images::FIRMWARE.to_vec(),
            "built-in firmware".to_string(),
        ),
        Firmware::File(p) => (read_input("firmware", p)?, p.display().to_string()),
    };
    let fw = if fw_bytes.starts_with(b"\x7fELF") {
        m.load(&fw_bytes, &fw_name).map_err(img_err)?
    } else {
        loader::load_raw(m.ram(), &fw_bytes, map::DRAM, &fw_name).map_err(img_err)?
    };
    if fw_bytes.starts_with(b"\x7fELF") {
        if let Ok(im) = Image::from_elf("firmware", &fw_bytes) {
            symbols.add(im);
        }
    }
    let kernel = m.load(guest, &run.guest.name).map_err(img_err)?;
    if kernel.start < fw.end && fw.start < kernel.end {
        return Err(Failure::image(format!(
            "{fw_name} ({:#x}..{:#x}) overlaps {} ({:#x}..{:#x})",
            fw.start, fw.end, run.guest.name, kernel.start, kernel.end
        )));
    }
    Ok((kernel, Some(fw)))
}

/// The guest's own symbols (ELF, or a Linux Image's kallsyms), then the symbol files and
/// modules the run names.
fn add_symbols(
    run: &RunConfig,
    guest: &[u8],
    kernel: &LoadedImage,
    symbols: &mut Symbolizer,
) -> Result<(), Failure> {
    if guest.starts_with(b"\x7fELF") {
        if let Ok(im) = Image::from_elf("kernel", guest) {
            symbols.add(im);
        }
    }
    if kernel.is_linux_image && run.kallsyms {
        // A stock Image has no ELF symbols; its kallsyms tables name the kernel's
        // functions and data. An Image without them just stays unnamed in traces.
        if let Ok(table) = crate::trace::kallsyms::find(guest) {
            symbols.add(Image::from_kallsyms(
                "kernel",
                table,
                kernel.start,
                kernel.end - kernel.start,
            ));
        }
    }
    for p in &run.symbols {
        let data = read_input("symbols file", p)?;
        symbols.add(Image::from_elf(&p.display().to_string(), &data).map_err(Failure::image)?);
    }
    for module in &run.symbol_modules {
        let mut data = read_input("module", &module.path)?;
        let name = module.path.display().to_string();
        // Distributions ship modules xz-compressed (Debian's .ko.xz).
        if data.starts_with(b"\xfd7zXZ\0") {
            data = crate::initramfs::deb::xz_decompress(&data)
                .map_err(|e| Failure::image(format!("the module {name}: {e}")))?;
        }
        for im in Image::from_module(&name, &data, &module.sections).map_err(Failure::image)? {
            symbols.add(im);
        }
    }
    Ok(())
}

/// A stretch of RAM a boot image occupies, named for error messages.
struct Region {
    name: &'static str,
    start: u64,
    end: u64,
}

impl Region {
    fn new(name: &'static str, start: u64, end: u64) -> Region {
        Region { name, start, end }
    }

    fn describe(&self) -> String {
        let len = self.end.saturating_sub(self.start);
        let size = if len >= 1 << 20 {
            format!("{} MiB", len.div_ceil(1 << 20))
        } else {
            format!("{} KiB", len.div_ceil(1 << 10))
        };
        format!("{} ({:#x}-{:#x}, {size})", self.name, self.start, self.end)
    }

    fn outside_ram(&self, ram: (u64, u64)) -> Failure {
        Failure::image(format!(
            "{} does not fit in RAM ({:#x}-{:#x}); give more memory with -m",
            self.describe(),
            ram.0,
            ram.1
        ))
    }

    /// One error line naming this region and the first one it overlaps (or RAM).
    fn check_free(&self, taken: &[Region], ram: (u64, u64)) -> Result<(), Failure> {
        if self.start < ram.0 || self.end > ram.1 || self.end < self.start {
            return Err(self.outside_ram(ram));
        }
        match taken
            .iter()
            .find(|t| self.start < t.end && t.start < self.end)
        {
            Some(t) => Err(Failure::image(format!(
                "{} overlaps {} ({:#x}-{:#x}); give more memory with -m",
                self.describe(),
                t.name,
                t.start,
                t.end
            ))),
            None => Ok(()),
        }
    }
}
