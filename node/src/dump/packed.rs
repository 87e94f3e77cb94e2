//! Redis's packed containers as they appear inside RDB strings: listpack (Redis 7: small
//! hashes, sorted sets, quicklist nodes), ziplist (Redis ≤ 6, RDB 9 payloads) and intset.
//! Readers walk the bytes once, check every length against the buffer and hand each entry
//! to a callback as bytes (integers formatted as Redis replies them); the listpack writer
//! builds quicklist nodes for DUMP.

use crate::types::set::canonical_int;

/// Malformed container; the caller reports it as a bad payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

type Res<T> = Result<T, Malformed>;

const LP_HEADER: usize = 6;
const LP_EOF: u8 = 0xff;
/// A listpack header's element count when it does not fit in 16 bits.
const LP_COUNT_UNKNOWN: u16 = u16::MAX;

fn le_uint(b: &[u8]) -> u64 {
    b.iter().rev().fold(0, |acc, &x| (acc << 8) | x as u64)
}

/// Sign-extends the low `bits` bits of `v`.
fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// What an entry holds.
enum Item<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

fn emit(item: Item<'_>, f: &mut impl FnMut(&[u8]) -> Res<()>) -> Res<()> {
    match item {
        Item::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
        Item::Bytes(b) => f(b),
    }
}

/// The bytes `lpEncodeBacklen` writes after an entry whose encoding and data take `len`
/// bytes, so the list can be walked from the tail.
fn backlen(len: usize, out: &mut [u8; 5]) -> usize {
    let l = len as u64;
    let n = match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    // Most significant 7-bit group first; every byte but the first carries the 0x80 flag.
    for (i, slot) in out[..n].iter_mut().enumerate() {
        let group = ((l >> (7 * (n - 1 - i))) & 127) as u8;
        *slot = if i == 0 { group } else { group | 128 };
    }
    n
}

/// Calls `f` with each entry of the listpack `lp`, head to tail; returns the entry count.
pub fn listpack(lp: &[u8], mut f: impl FnMut(&[u8]) -> Res<()>) -> Res<usize> {
    if lp.len() < LP_HEADER + 1 || le_uint(&lp[..4]) != lp.len() as u64 {
        return Err(Malformed);
    }
    let declared = le_uint(&lp[4..6]) as u16;
    let mut pos = LP_HEADER;
    let mut count = 0usize;
    loop {
        let b = *lp.get(pos).ok_or(Malformed)?;
        if b == LP_EOF {
            if pos + 1 != lp.len() {
                return Err(Malformed);
            }
            break;
        }
        let rest = &lp[pos..];
        let at = |from: usize, n: usize| rest.get(from..from + n).ok_or(Malformed);
        let (item, enc_len) = if b & 0x80 == 0 {
            (Item::Int((b & 0x7f) as i64), 1)
        } else if b & 0xc0 == 0x80 {
            let n = (b & 0x3f) as usize;
            (Item::Bytes(at(1, n)?), 1 + n)
        } else if b & 0xe0 == 0xc0 {
            let v = ((b as u64 & 0x1f) << 8) | at(1, 1)?[0] as u64;
            (Item::Int(sign_extend(v, 13)), 2)
        } else if b & 0xf0 == 0xe0 {
            let n = ((b as usize & 0x0f) << 8) | at(1, 1)?[0] as usize;
            (Item::Bytes(at(2, n)?), 2 + n)
        } else {
            match b {
                0xf0 => {
                    let n = usize::try_from(le_uint(at(1, 4)?)).map_err(|_| Malformed)?;
                    (Item::Bytes(at(5, n)?), 5 + n)
                }
                0xf1 => (Item::Int(sign_extend(le_uint(at(1, 2)?), 16)), 3),
                0xf2 => (Item::Int(sign_extend(le_uint(at(1, 3)?), 24)), 4),
                0xf3 => (Item::Int(sign_extend(le_uint(at(1, 4)?), 32)), 5),
                0xf4 => (Item::Int(le_uint(at(1, 8)?) as i64), 9),
                _ => return Err(Malformed),
            }
        };
        let mut expect = [0u8; 5];
        let n = backlen(enc_len, &mut expect);
        if at(enc_len, n)? != &expect[..n] {
            return Err(Malformed);
        }
        emit(item, &mut f)?;
        count += 1;
        pos += enc_len + n;
    }
    if declared != LP_COUNT_UNKNOWN && declared as usize != count {
        return Err(Malformed);
    }
    Ok(count)
}

const ZL_HEADER: usize = 10;
const ZL_END: u8 = 0xff;
const ZL_BIG_PREVLEN: u8 = 0xfe;

/// Calls `f` with each entry of the ziplist `zl`, head to tail; returns the entry count.
pub fn ziplist(zl: &[u8], mut f: impl FnMut(&[u8]) -> Res<()>) -> Res<usize> {
    if zl.len() < ZL_HEADER + 1 || le_uint(&zl[..4]) != zl.len() as u64 {
        return Err(Malformed);
    }
    let tail = le_uint(&zl[4..8]);
    let declared = le_uint(&zl[8..10]) as u16;
    let mut pos = ZL_HEADER;
    let mut prev_size = 0usize;
    let mut last_start = ZL_HEADER;
    let mut count = 0usize;
    loop {
        let b = *zl.get(pos).ok_or(Malformed)?;
        if b == ZL_END {
            if pos + 1 != zl.len() {
                return Err(Malformed);
            }
            break;
        }
        let rest = &zl[pos..];
        let at = |from: usize, n: usize| rest.get(from..from + n).ok_or(Malformed);
        // Each entry starts with the previous entry's size: one byte, or 0xFE and four.
        let (prevlen, p) = if b < ZL_BIG_PREVLEN {
            (b as usize, 1)
        } else {
            (le_uint(at(1, 4)?) as usize, 5)
        };
        if prevlen != prev_size {
            return Err(Malformed);
        }
        let e = at(p, 1)?[0];
        let (item, header, data) = match e >> 6 {
            0 => {
                let n = (e & 0x3f) as usize;
                (Item::Bytes(at(p + 1, n)?), 1, n)
            }
            1 => {
                let n = ((e as usize & 0x3f) << 8) | at(p + 1, 1)?[0] as usize;
                (Item::Bytes(at(p + 2, n)?), 2, n)
            }
            2 => {
                // Big-endian, unlike everything else here.
                let len = at(p + 1, 4)?;
                let n = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
                (Item::Bytes(at(p + 5, n)?), 5, n)
            }
            _ => {
                let (v, n) = match e {
                    0xc0 => (sign_extend(le_uint(at(p + 1, 2)?), 16), 2),
                    0xd0 => (sign_extend(le_uint(at(p + 1, 4)?), 32), 4),
                    0xe0 => (le_uint(at(p + 1, 8)?) as i64, 8),
                    0xf0 => (sign_extend(le_uint(at(p + 1, 3)?), 24), 3),
                    0xfe => (sign_extend(le_uint(at(p + 1, 1)?), 8), 1),
                    // 1111xxxx: the value xxxx - 1 (0 to 12) in the encoding byte itself.
                    0xf1..=0xfd => ((e & 0x0f) as i64 - 1, 0),
                    _ => return Err(Malformed),
                };
                (Item::Int(v), 1, n)
            }
        };
        emit(item, &mut f)?;
        count += 1;
        last_start = pos;
        prev_size = p + header + data;
        pos += prev_size;
    }
    if tail != last_start as u64 || (declared != u16::MAX && declared as usize != count) {
        return Err(Malformed);
    }
    Ok(count)
}

/// Calls `f` with each member of the intset `is` (ascending, distinct, as Redis keeps it).
pub fn intset(is: &[u8], mut f: impl FnMut(i64) -> Res<()>) -> Res<usize> {
    if is.len() < 8 {
        return Err(Malformed);
    }
    let width = le_uint(&is[..4]) as usize;
    let n = le_uint(&is[4..8]) as usize;
    if !matches!(width, 2 | 4 | 8) || n.checked_mul(width) != Some(is.len() - 8) {
        return Err(Malformed);
    }
    let mut prev = None;
    for c in is[8..].chunks_exact(width) {
        let v = sign_extend(le_uint(c), 8 * width as u32);
        if prev.is_some_and(|p| p >= v) {
            return Err(Malformed);
        }
        prev = Some(v);
        f(v)?;
    }
    Ok(n)
}

/// Builds a listpack the way Redis's `lpAppend` does: canonical integers in the smallest
/// integer encoding, other strings with the shortest length prefix.
#[derive(Debug)]
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; LP_HEADER]);
        ListpackWriter { buf, count: 0 }
    }
}

impl ListpackWriter {
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the finished listpack would take.
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Bytes appending `v` adds (encoding, data and back-length).
    pub fn entry_size(v: &[u8]) -> usize {
        let enc = match canonical_int(v) {
            Some(n) => int_encoding(n).1,
            None => str_header(v.len()) + v.len(),
        };
        enc + backlen(enc, &mut [0; 5])
    }

    pub fn push(&mut self, v: &[u8]) {
        let start = self.buf.len();
        match canonical_int(v) {
            Some(n) => {
                let (bytes, len) = int_encoding(n);
                self.buf.extend_from_slice(&bytes[..len]);
            }
            None => {
                let n = v.len();
                match str_header(n) {
                    1 => self.buf.push(0x80 | n as u8),
                    2 => self
                        .buf
                        .extend_from_slice(&[0xe0 | (n >> 8) as u8, n as u8]),
                    _ => {
                        self.buf.push(0xf0);
                        self.buf.extend_from_slice(&(n as u32).to_le_bytes());
                    }
                }
                self.buf.extend_from_slice(v);
            }
        }
        let mut b = [0; 5];
        let n = backlen(self.buf.len() - start, &mut b);
        self.buf.extend_from_slice(&b[..n]);
        self.count += 1;
    }

    /// The finished listpack (header filled in, terminator appended).
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(LP_EOF);
        let total = self.buf.len() as u32;
        let count = u16::try_from(self.count).unwrap_or(LP_COUNT_UNKNOWN);
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// Length-prefix size of a listpack string of `n` bytes.
fn str_header(n: usize) -> usize {
    match n {
        0..=63 => 1,
        64..=4095 => 2,
        _ => 5,
    }
}

/// The smallest listpack integer encoding of `n` and its size.
fn int_encoding(n: i64) -> ([u8; 9], usize) {
    let mut b = [0u8; 9];
    let le = n.to_le_bytes();
    let len = if (0..=127).contains(&n) {
        b[0] = n as u8;
        1
    } else if (-4096..=4095).contains(&n) {
        let u = (n as u16) & 0x1fff;
        b[0] = 0xc0 | (u >> 8) as u8;
        b[1] = u as u8;
        2
    } else if i16::try_from(n).is_ok() {
        b[0] = 0xf1;
        b[1..3].copy_from_slice(&le[..2]);
        3
    } else if (-(1 << 23)..(1 << 23)).contains(&n) {
        b[0] = 0xf2;
        b[1..4].copy_from_slice(&le[..3]);
        4
    } else if i32::try_from(n).is_ok() {
        b[0] = 0xf3;
        b[1..5].copy_from_slice(&le[..4]);
        5
    } else {
        b[0] = 0xf4;
        b[1..9].copy_from_slice(&le);
        9
    };
    (b, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries_lp(lp: &[u8]) -> Res<Vec<Vec<u8>>> {
        let mut v = Vec::new();
        listpack(lp, |e| {
            v.push(e.to_vec());
            Ok(())
        })?;
        Ok(v)
    }

    fn entries_zl(zl: &[u8]) -> Res<Vec<Vec<u8>>> {
        let mut v = Vec::new();
        ziplist(zl, |e| {
            v.push(e.to_vec());
            Ok(())
        })?;
        Ok(v)
    }

    fn strs(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn reads_a_redis_listpack() {
        // The quicklist node of `RPUSH l a b 1 -5 300 70000` as redis-server 7.0 dumps it.
        let lp = b"\x1a\x00\x00\x00\x06\x00\x81a\x02\x81b\x02\x01\x01\xdf\xfb\x02\xc1,\x02\xf2p\x11\x01\x04\xff";
        assert_eq!(
            entries_lp(lp).unwrap(),
            strs(&["a", "b", "1", "-5", "300", "70000"])
        );
    }

    #[test]
    fn writer_matches_redis_and_round_trips() {
        let mut w = ListpackWriter::default();
        for v in ["a", "b", "1", "-5", "300", "70000"] {
            w.push(v.as_bytes());
        }
        let lp = w.finish();
        assert_eq!(
            lp,
            b"\x1a\x00\x00\x00\x06\x00\x81a\x02\x81b\x02\x01\x01\xdf\xfb\x02\xc1,\x02\xf2p\x11\x01\x04\xff"
        );

        let long = "x".repeat(5000);
        let mid = "y".repeat(200);
        let values: Vec<String> = [
            "",
            "0",
            "-0",
            "007",
            "127",
            "128",
            "-4096",
            "4095",
            "-4097",
            "4096",
            "32767",
            "-32768",
            "32768",
            "8388607",
            "-8388608",
            "8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            " 1",
            "1.5",
            &mid,
            &long,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut w = ListpackWriter::default();
        let mut expect_size = 7;
        for v in &values {
            expect_size += ListpackWriter::entry_size(v.as_bytes());
            w.push(v.as_bytes());
            assert_eq!(w.bytes(), expect_size);
        }
        let lp = w.finish();
        assert_eq!(lp.len(), expect_size);
        let back = entries_lp(&lp).unwrap();
        let want: Vec<Vec<u8>> = values.iter().map(|s| s.as_bytes().to_vec()).collect();
        assert_eq!(back, want);
    }

    #[test]
    fn backlen_matches_redis() {
        let enc = |len| {
            let mut b = [0; 5];
            let n = backlen(len, &mut b);
            b[..n].to_vec()
        };
        assert_eq!(enc(2), [2]);
        assert_eq!(enc(127), [127]);
        // 200 = 1·128 + 72.
        assert_eq!(enc(200), [1, 72 | 128]);
        assert_eq!(enc(16383).len(), 3);
        assert_eq!(enc(300_000_000).len(), 5);
    }

    /// A ziplist as Redis 6 writes one (test-only encoder, checked against redis-server 7.0 by
    /// the integration tests).
    fn ziplist_of(items: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut last = ZL_HEADER;
        for it in items {
            let start = body.len();
            last = ZL_HEADER + start;
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(0xfe);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            match canonical_int(it) {
                Some(n @ 0..=12) => body.push(0xf1 + n as u8),
                Some(n) if i8::try_from(n).is_ok() => body.extend_from_slice(&[0xfe, n as u8]),
                Some(n) if i16::try_from(n).is_ok() => {
                    body.push(0xc0);
                    body.extend_from_slice(&(n as i16).to_le_bytes());
                }
                Some(n) if (-(1 << 23)..(1 << 23)).contains(&n) => {
                    body.push(0xf0);
                    body.extend_from_slice(&n.to_le_bytes()[..3]);
                }
                Some(n) if i32::try_from(n).is_ok() => {
                    body.push(0xd0);
                    body.extend_from_slice(&(n as i32).to_le_bytes());
                }
                Some(n) => {
                    body.push(0xe0);
                    body.extend_from_slice(&n.to_le_bytes());
                }
                None if it.len() < 64 => {
                    body.push(it.len() as u8);
                    body.extend_from_slice(it);
                }
                None if it.len() < 16384 => {
                    body.extend_from_slice(&[0x40 | (it.len() >> 8) as u8, it.len() as u8]);
                    body.extend_from_slice(it);
                }
                None => {
                    body.push(0x80);
                    body.extend_from_slice(&(it.len() as u32).to_be_bytes());
                    body.extend_from_slice(it);
                }
            }
            prev = body.len() - start;
        }
        let total = ZL_HEADER + body.len() + 1;
        let mut zl = Vec::with_capacity(total);
        zl.extend_from_slice(&(total as u32).to_le_bytes());
        zl.extend_from_slice(&(last as u32).to_le_bytes());
        zl.extend_from_slice(&(items.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(ZL_END);
        zl
    }

    #[test]
    fn reads_every_ziplist_encoding() {
        let long = vec![b'z'; 300];
        let huge = vec![b'h'; 20_000];
        let items: Vec<&[u8]> = vec![
            b"",
            b"0",
            b"12",
            b"13",
            b"-1",
            b"127",
            b"-128",
            b"200",
            b"-32768",
            b"40000",
            b"-8388608",
            b"9000000",
            b"2147483647",
            b"-2147483649",
            b"9223372036854775807",
            b"abc",
            b"007",
            &long,
            &huge,
            b"after a big one",
        ];
        let zl = ziplist_of(&items);
        let want: Vec<Vec<u8>> = items.iter().map(|s| s.to_vec()).collect();
        assert_eq!(entries_zl(&zl).unwrap(), want);
        assert_eq!(entries_zl(&ziplist_of(&[])).unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn inconsistent_ziplists_are_refused() {
        let zl = ziplist_of(&[b"a", b"bb", b"ccc"]);
        // Wrong total, wrong tail offset, wrong count, broken prevlen, missing terminator.
        for (at, delta) in [(0, 1u8), (4, 1), (8, 1), (ZL_HEADER + 3, 1)] {
            let mut bad = zl.clone();
            bad[at] = bad[at].wrapping_add(delta);
            assert_eq!(entries_zl(&bad), Err(Malformed), "byte {at}");
        }
        let mut cut = zl[..zl.len() - 1].to_vec();
        cut[0] -= 1;
        assert_eq!(entries_zl(&cut), Err(Malformed));
    }

    #[test]
    fn reads_intsets() {
        let mut is = vec![4, 0, 0, 0, 3, 0, 0, 0];
        for v in [-70000i32, 5, 100000] {
            is.extend_from_slice(&v.to_le_bytes());
        }
        let mut got = Vec::new();
        intset(&is, |v| {
            got.push(v);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, [-70000, 5, 100000]);
        // Unsorted, bad width, length mismatch.
        let mut unsorted = is.clone();
        unsorted[8..12].copy_from_slice(&200000i32.to_le_bytes());
        assert_eq!(intset(&unsorted, |_| Ok(())), Err(Malformed));
        let mut width = is.clone();
        width[0] = 3;
        assert_eq!(intset(&width, |_| Ok(())), Err(Malformed));
        assert_eq!(intset(&is[..is.len() - 1], |_| Ok(())), Err(Malformed));
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = fastrand::Rng::with_seed(11);
        let good_lp = {
            let mut w = ListpackWriter::default();
            for v in ["a", "12", "-70000", "hello world"] {
                w.push(v.as_bytes());
            }
            w.finish()
        };
        let good_zl = ziplist_of(&[b"a", b"12", b"-70000", b"hello world"]);
        for _ in 0..20_000 {
            for good in [&good_lp, &good_zl] {
                let mut b = good.clone();
                for _ in 0..rng.usize(1..4) {
                    let i = rng.usize(..b.len());
                    b[i] = rng.u8(..);
                }
                let _ = listpack(&b, |_| Ok(()));
                let _ = ziplist(&b, |_| Ok(()));
                let _ = intset(&b, |_| Ok(()));
            }
        }
    }
}
