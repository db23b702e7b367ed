//! A CoreMark-like workload of our own: linked-list search, reversal and merge sort over a
//! node pool, small integer matrix kernels, a state machine scanning numeric text, and a
//! CRC-16 folding every result together. Fixed iteration count.
#![no_std]
#![no_main]

use bench_guest::opaque;

const ITERATIONS: u32 = 3_000;

#[no_mangle]
static EXPECTED_CHECKSUM: u32 = 0x301b_f5bf;

fn crc16_byte(mut crc: u16, byte: u8) -> u16 {
    crc ^= byte as u16;
    for _ in 0..8 {
        crc = if crc & 1 != 0 {
            (crc >> 1) ^ 0xa001
        } else {
            crc >> 1
        };
    }
    crc
}

fn crc16_u32(crc: u16, v: u32) -> u16 {
    v.to_le_bytes().iter().fold(crc, |c, b| crc16_byte(c, *b))
}

// ---------------------------------------------------------------- lists

const NODES: usize = 96;
const NIL: u16 = u16::MAX;

#[derive(Clone, Copy)]
struct Node {
    next: u16,
    value: i16,
    id: u16,
}

struct List {
    nodes: [Node; NODES],
    head: u16,
}

impl List {
    fn build(seed: u32) -> List {
        let mut nodes = [Node {
            next: NIL,
            value: 0,
            id: 0,
        }; NODES];
        let mut x = seed | 1;
        for (i, n) in nodes.iter_mut().enumerate() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            n.value = (x & 0x7fff) as i16 - 0x4000;
            n.id = i as u16;
            n.next = if i + 1 < NODES { i as u16 + 1 } else { NIL };
        }
        List { nodes, head: 0 }
    }

    fn find(&self, value: i16) -> Option<u16> {
        let mut at = self.head;
        while at != NIL {
            let n = &self.nodes[at as usize];
            if n.value & 0xff == value & 0xff {
                return Some(n.id);
            }
            at = n.next;
        }
        None
    }

    fn reverse(&mut self) {
        let mut prev = NIL;
        let mut at = self.head;
        while at != NIL {
            let next = self.nodes[at as usize].next;
            self.nodes[at as usize].next = prev;
            prev = at;
            at = next;
        }
        self.head = prev;
    }

    /// Bottom-up merge sort of the links by `key`.
    fn sort_by(&mut self, key: fn(&Node) -> i32) {
        let mut width = 1;
        loop {
            let mut merges = 0;
            let mut p = self.head;
            let mut head = NIL;
            let mut tail = NIL;
            while p != NIL {
                merges += 1;
                let mut q = p;
                let mut psize = 0;
                while psize < width && q != NIL {
                    psize += 1;
                    q = self.nodes[q as usize].next;
                }
                let mut qsize = width;
                while psize > 0 || (qsize > 0 && q != NIL) {
                    let take_p = if psize == 0 {
                        false
                    } else if qsize == 0 || q == NIL {
                        true
                    } else {
                        key(&self.nodes[p as usize]) <= key(&self.nodes[q as usize])
                    };
                    let e = if take_p {
                        let e = p;
                        p = self.nodes[p as usize].next;
                        psize -= 1;
                        e
                    } else {
                        let e = q;
                        q = self.nodes[q as usize].next;
                        qsize -= 1;
                        e
                    };
                    if tail == NIL {
                        head = e;
                    } else {
                        self.nodes[tail as usize].next = e;
                    }
                    tail = e;
                }
                p = q;
            }
            self.nodes[tail as usize].next = NIL;
            self.head = head;
            if merges <= 1 {
                return;
            }
            width *= 2;
        }
    }

    fn checksum(&self, mut crc: u16) -> u16 {
        let mut at = self.head;
        while at != NIL {
            let n = &self.nodes[at as usize];
            crc = crc16_u32(crc, n.value as u32 ^ (n.id as u32) << 16);
            at = n.next;
        }
        crc
    }
}

fn by_value(n: &Node) -> i32 {
    n.value as i32
}

fn by_id(n: &Node) -> i32 {
    n.id as i32
}

#[inline(never)]
fn list_round(list: &mut List, round: u32, crc: u16) -> u16 {
    let mut found = 0u32;
    for k in 0..8 {
        if let Some(id) = list.find((round as i16).wrapping_mul(7).wrapping_add(k)) {
            found = found.wrapping_add(id as u32);
        }
    }
    list.reverse();
    list.sort_by(by_value);
    let crc = list.checksum(crc16_u32(crc, found));
    // Perturb one value so the next round sorts a different list.
    let victim = (round as usize * 31) % NODES;
    list.nodes[victim].value = list.nodes[victim].value.wrapping_add(round as i16 | 1);
    list.sort_by(by_id);
    crc
}

// ---------------------------------------------------------------- matrices

const N: usize = 12;
type Matrix = [[i32; N]; N];

#[inline(never)]
fn matrix_round(a: &mut Matrix, b: &Matrix, round: u32, crc: u16) -> u16 {
    let c = round as i32 & 0xff;
    for row in a.iter_mut() {
        for x in row.iter_mut() {
            *x = (*x + c) & 0xffff;
        }
    }
    let mut product = [[0i32; N]; N];
    for i in 0..N {
        for j in 0..N {
            let mut acc = 0i32;
            for k in 0..N {
                acc = acc.wrapping_add(a[i][k].wrapping_mul(b[k][j]));
            }
            product[i][j] = acc;
        }
    }
    let mut vector = [0i32; N];
    for i in 0..N {
        for k in 0..N {
            vector[i] = vector[i].wrapping_add(a[i][k].wrapping_mul(b[0][k]));
        }
    }
    let mut crc = crc;
    for i in 0..N {
        // Bit-field extraction, as the original kernel does.
        let bits = (product[i][i] >> 2) & 0xf;
        crc = crc16_u32(crc, (bits as u32) ^ vector[i] as u32);
    }
    crc16_u32(crc, product[N - 1][0] as u32)
}

// ---------------------------------------------------------------- state machine

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lex {
    Start,
    Int,
    Sign,
    Frac,
    Exp,
    ExpSign,
    Bad,
}

const TEXT: &[u8] = b"5012,1.23e5,-3.4,+77,0x1f,9.,12e-4,abc,-,.5,314159,2.71828,1e,+-3,88,\
                      -0.001,42e+7,7a,6.02e23,,00012,-9e-9,3.14.15,100000,x,1.0,-";

fn lex_step(s: Lex, c: u8) -> Lex {
    match (s, c) {
        (Lex::Start, b'0'..=b'9') => Lex::Int,
        (Lex::Start, b'+' | b'-') => Lex::Sign,
        (Lex::Start, b'.') => Lex::Frac,
        (Lex::Sign, b'0'..=b'9') | (Lex::Int, b'0'..=b'9') => Lex::Int,
        (Lex::Sign, b'.') | (Lex::Int, b'.') => Lex::Frac,
        (Lex::Frac, b'0'..=b'9') => Lex::Frac,
        (Lex::Int | Lex::Frac, b'e' | b'E') => Lex::Exp,
        (Lex::Exp, b'+' | b'-') => Lex::ExpSign,
        (Lex::Exp | Lex::ExpSign, b'0'..=b'9') => Lex::ExpSign,
        _ => Lex::Bad,
    }
}

#[inline(never)]
fn lex_round(text: &[u8], round: u32, crc: u16) -> u16 {
    let mut counts = [0u32; 7];
    let mut s = Lex::Start;
    let skip = round as usize % 5;
    for &c in &text[skip..] {
        if c == b',' {
            counts[s as usize] += 1;
            s = Lex::Start;
        } else {
            s = lex_step(s, c);
        }
    }
    counts[s as usize] += 1;
    counts.iter().fold(crc, |crc, n| crc16_u32(crc, *n))
}

#[no_mangle]
fn bench_main() -> u32 {
    let mut list = List::build(opaque(0x1234_5678));
    let mut a = [[0i32; N]; N];
    let mut b = [[0i32; N]; N];
    for i in 0..N {
        for j in 0..N {
            a[i][j] = ((i * 7 + j * 3) % 23) as i32;
            b[i][j] = ((i * 5 + j * 11) % 19) as i32 - 9;
        }
    }
    let text = opaque(TEXT);
    let mut crc = 0u16;
    for round in 0..opaque(ITERATIONS) {
        crc = list_round(&mut list, round, crc);
        crc = matrix_round(&mut a, &b, round, crc);
        crc = lex_round(text, round, crc);
    }
    crc as u32 | (list.checksum(0) as u32) << 16
}
