//! A Dhrystone-like integer workload of our own: record copies through pointers, short
//! fixed-size strings copied and compared, enum dispatch, small procedures that are not
//! inlined, and global one- and two-dimensional arrays. Fixed iteration count.
#![no_std]
#![no_main]

use bench_guest::opaque;

const ITERATIONS: u32 = 500_000;

#[no_mangle]
static EXPECTED_CHECKSUM: u32 = 0x2c06_9270;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Colour {
    Red,
    Green,
    Blue,
    Cyan,
    Magenta,
}

impl Colour {
    fn next(self) -> Colour {
        match self {
            Colour::Red => Colour::Green,
            Colour::Green => Colour::Blue,
            Colour::Blue => Colour::Cyan,
            Colour::Cyan => Colour::Magenta,
            Colour::Magenta => Colour::Red,
        }
    }
}

#[derive(Clone, Copy)]
struct Record {
    link: usize,
    colour: Colour,
    count: i32,
    weight: i32,
    label: [u8; 31],
}

const EMPTY: Record = Record {
    link: 0,
    colour: Colour::Red,
    count: 0,
    weight: 0,
    label: [0; 31],
};

struct State {
    records: [Record; 4],
    row: [i32; 50],
    grid: [[i32; 50]; 50],
    flag: bool,
    letter: u8,
    total: i32,
}

const INITIAL: State = State {
    records: [EMPTY; 4],
    row: [0; 50],
    grid: [[0; 50]; 50],
    flag: false,
    letter: b'A',
    total: 0,
};

const FIRST: &[u8; 31] = b"EMU BENCHMARK, FIRST STRING....";
const SECOND: &[u8; 31] = b"EMU BENCHMARK, SECOND STRING...";

#[inline(never)]
fn copy_label(dst: &mut [u8; 31], src: &[u8; 31]) {
    for (d, s) in dst.iter_mut().zip(src.iter()) {
        *d = *s;
    }
}

/// Byte-wise comparison like strcmp: negative, zero or positive.
#[inline(never)]
fn compare_labels(a: &[u8; 31], b: &[u8; 31]) -> i32 {
    for i in 0..31 {
        if a[i] != b[i] {
            return a[i] as i32 - b[i] as i32;
        }
    }
    0
}

#[inline(never)]
fn colour_test(c: Colour, param: i32) -> bool {
    match c {
        Colour::Red | Colour::Cyan => param > 2,
        Colour::Green => param & 1 == 0,
        _ => param < 0,
    }
}

#[inline(never)]
fn adjust(x: i32, y: i32) -> i32 {
    let z = x + y + 3;
    if z % 7 == 0 {
        z / 7
    } else {
        z - y
    }
}

#[inline(never)]
fn fill_arrays(s: &mut State, a: i32, b: i32) {
    let base = (a as usize % 40) + 5;
    s.row[base] = b;
    s.row[base + 1] = s.row[base];
    s.row[base + 30 - 25] = base as i32;
    for i in base..base + 2 {
        s.grid[base][i] = base as i32;
    }
    s.grid[base][base - 1] += 1;
    s.grid[base + 20 - 15][base] = s.row[base];
    s.total = 5;
}

#[inline(never)]
fn update_record(s: &mut State, which: usize, round: u32) {
    let next = s.records[which].link;
    s.records[next] = s.records[which];
    s.records[which].count = 5;
    s.records[next].count = s.records[which].count;
    s.records[next].link = s.records[which].link;
    if s.records[next].colour == Colour::Red {
        s.records[next].count = 6;
        s.records[next].colour = s.records[which].colour.next();
        s.records[next].weight = adjust(s.records[next].count, round as i32);
    } else {
        s.records[which] = s.records[next];
    }
}

#[inline(never)]
fn letters(s: &mut State, c: u8) -> u8 {
    let up = c.wrapping_add(1);
    s.flag = up == b'Z';
    if s.flag {
        b'A'
    } else {
        up
    }
}

#[no_mangle]
fn bench_main() -> u32 {
    let mut state = INITIAL;
    let s = opaque(&mut state);
    for (i, r) in s.records.iter_mut().enumerate() {
        r.link = (i + 1) % 4;
        r.weight = i as i32 * 3;
        copy_label(&mut r.label, FIRST);
    }
    s.records[2].colour = Colour::Blue;
    let mut label = [0u8; 31];
    let mut sum: u32 = 0;
    for round in 1..=opaque(ITERATIONS) {
        let mut a = 2 + (round & 3) as i32;
        let b = 3;
        copy_label(&mut label, if round & 1 == 0 { FIRST } else { SECOND });
        let colour = Colour::Blue;
        s.flag = compare_labels(&label, FIRST) != 0;
        while a < b + 2 {
            a = adjust(a, b);
            sum = sum.wrapping_add(a as u32);
        }
        fill_arrays(s, a, b);
        update_record(s, (round & 3) as usize, round);
        let mut c = b'A';
        while c <= s.letter {
            if colour_test(colour, c as i32 - b'A' as i32) {
                s.records[0].colour = s.records[0].colour.next();
            }
            c += 1;
        }
        s.letter = letters(s, s.letter);
        let q = (a * b) / (b + 1) - (round as i32 & 15);
        sum = sum
            .wrapping_mul(31)
            .wrapping_add(q as u32)
            .wrapping_add(s.records[1].weight as u32)
            .wrapping_add(s.flag as u32)
            .wrapping_add(s.records[3].colour as u32);
    }
    for r in &s.records {
        sum = sum
            .wrapping_mul(17)
            .wrapping_add(r.count as u32 ^ r.label[10] as u32);
    }
    for x in s.row.iter().chain(s.grid.iter().flatten()) {
        sum = sum.rotate_left(3) ^ *x as u32;
    }
    sum ^ s.total as u32
}
