//! Any bytes as a Linux Image: the kallsyms reader returns a table or an error, never
//! panics, and a table it returns is in address order with a type letter per symbol.
#![no_main]

use emu::trace::kallsyms;
use libfuzzer_sys::fuzz_target;

/// The ten digit tokens the reader looks for first; spliced into the input so that the
/// later stages (token index, markers, names, offsets) see fuzzed bytes around them.
const DIGITS: &[u8] = b"0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00";

fn check(image: &[u8]) {
    if let Ok(k) = kallsyms::find(image) {
        assert!(k.symbols.windows(2).all(|w| w[0].addr <= w[1].addr));
        assert!(k.symbols.iter().all(|s| s.kind.is_ascii_alphabetic()));
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some((&at, rest)) = data.split_first() {
        let at = usize::from(at).min(rest.len());
        let mut spliced = rest[..at].to_vec();
        spliced.extend_from_slice(DIGITS);
        spliced.extend_from_slice(&rest[at..]);
        check(&spliced);
    }
});
