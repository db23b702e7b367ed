//! The snapshot reader (`emu run --restore`) on any file: it returns an error or restores
//! a machine, and never panics. Inputs are taken three ways so the fuzzer reaches past the
//! checksum: as a whole file; as the body of a file whose checksum is made to match; and
//! as edits (and a truncation) of a real snapshot of a small machine, resealed.
#![no_main]

use std::sync::OnceLock;

use emu::machine::{Machine, MachineConfig};
use emu::mmu::{MmuConfig, TlbLevelConfig, TlbRestore};
use emu::snapshot::{self, format::File};
use libfuzzer_sys::fuzz_target;

fn config() -> MachineConfig {
    let mut c = MachineConfig {
        ram_size: 16 << 20,
        harts: 2,
        ..MachineConfig::default()
    };
    // A page-walk cache too, so its section of the MMU state is read.
    c.mmu.tlb.pwc = TlbLevelConfig {
        entries: 8,
        ways: 2,
    };
    c
}

/// A snapshot of a fresh small machine with a few non-zero RAM pages, without its
/// checksum.
fn template() -> &'static [u8] {
    static T: OnceLock<Vec<u8>> = OnceLock::new();
    T.get_or_init(|| {
        let mut m = Machine::new(config());
        for (i, pa) in [0x8000_0000u64, 0x8000_3000, 0x80ff_f000].into_iter().enumerate() {
            let _ = m.ram().write(pa + 8, 8, 0x0123_4567_89ab_cdef ^ i as u64);
        }
        let mut file = snapshot::capture(&m, Vec::new()).expect("a fresh machine saves");
        file.truncate(file.len() - 4);
        file
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = match mode % 3 {
        0 => rest.to_vec(),
        1 => File::seal(rest),
        _ => {
            let mut body = template().to_vec();
            // Edits of three bytes: a 16-bit position (scaled over the file) and a value.
            for e in rest.chunks_exact(3) {
                let pos = u16::from_le_bytes([e[0], e[1]]) as usize * body.len() / 65536;
                body[pos] ^= e[2];
            }
            if rest.len() % 3 == 1 {
                let keep = rest[rest.len() - 1] as usize * body.len() / 255;
                body.truncate(keep);
            }
            File::seal(&body)
        }
    };
    let Ok(file) = File::decode(&bytes) else {
        return;
    };
    let _ = snapshot::machine_info(&file);
    let mut m = Machine::new(config());
    let _ = snapshot::restore(&mut m, &file, TlbRestore::Saved);
    // The same bytes into a machine of another TLB geometry, whose model starts empty.
    let mut cold = Machine::new(MachineConfig {
        mmu: MmuConfig {
            tlb: "l2=64:2".parse().expect("a valid --tlb"),
            ..MmuConfig::default()
        },
        ..config()
    });
    let _ = snapshot::restore(&mut cold, &file, TlbRestore::Cold);
});
