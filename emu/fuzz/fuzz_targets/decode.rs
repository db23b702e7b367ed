//! Any 32-bit word and any 16-bit parcel: decoding and disassembly never panic, and a
//! compressed parcel decodes to exactly what its 32-bit expansion decodes to.
#![no_main]

use emu::cpu::decode::{decode, expand_rvc, OpKind};
use emu::cpu::disasm::disassemble;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pc = match data.get(..8) {
        Some(b) => u64::from_le_bytes(b.try_into().unwrap_or_default()),
        None => 0x8000_0000,
    };
    for chunk in data.chunks_exact(4) {
        let word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let op = decode(word);
        assert!(
            op.len == 2 || op.len == 4,
            "length {} for {word:#010x}",
            op.len
        );
        assert!(!disassemble(word, pc).is_empty());

        let parcel = word as u16;
        if let Some(expanded) = expand_rvc(parcel) {
            let wide = decode(expanded);
            assert_eq!(expanded & 3, 3, "expansion of {parcel:#06x} is not 32-bit");
            assert!(
                wide.k != OpKind::Illegal,
                "{parcel:#06x} expands to an illegal word"
            );
        }
        assert!(!disassemble(parcel as u32, pc).is_empty());
    }
});
