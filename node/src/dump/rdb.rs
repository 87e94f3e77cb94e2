//! The RDB object encoding (redis/src/rdb.c `rdbSaveObject` / `rdbLoadObject`): the body of a
//! Redis DUMP payload. We write the plainest encodings Redis 7.0 loads (strings with integer
//! encoding when short, lists as quicklist listpack nodes, sets, hashes and sorted sets as
//! element sequences) and read every encoding Redis 2.6 to 7.0 writes for strings, lists,
//! sets, sorted sets and hashes. Streams and module values are refused. Every length is
//! checked against the payload before it is used, so nothing is allocated beyond what the
//! payload can hold (LZF's bounded expansion aside).

use super::lzf;
use super::packed::{self, ListpackWriter, Malformed};
use super::Restored;
use crate::db::Entry;
use crate::types::hash::Hash;
use crate::types::list::{End, List};
use crate::types::set::Set;
use crate::types::zset::{cmp_entries, ZSet};
use crate::types::Value;
use std::borrow::Cow;

/// The RDB version our payloads carry: Redis 7.0's. Redis refuses payloads newer than its own.
pub const RDB_VERSION: u16 = 10;

type Res<T> = Result<T, Malformed>;

// Object types (redis/src/rdb.h).
const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_LIST_ZIPLIST: u8 = 10;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_ZSET_ZIPLIST: u8 = 12;
const TYPE_HASH_ZIPLIST: u8 = 13;
const TYPE_LIST_QUICKLIST: u8 = 14;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;
const TYPE_SET_LISTPACK: u8 = 20;

// Length prefixes: the top two bits of the first byte.
const LEN_14BIT: u8 = 0x40;
const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;
const ENC_VALUE: u8 = 0xc0;
// Special string encodings (ENC_VALUE | one of these).
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

// Quicklist node containers (RDB_TYPE_LIST_QUICKLIST_2).
const NODE_PLAIN: u64 = 1;
const NODE_PACKED: u64 = 2;
/// Listpack node size Redis aims for by default (`list-max-listpack-size -2`).
const NODE_MAX_BYTES: usize = 8192;
/// Elements this long get a node of their own, unpacked (Redis's `packed_threshold`).
const PLAIN_THRESHOLD: usize = 1 << 30;

// ---- writing ----

fn write_len(out: &mut Vec<u8>, n: usize) {
    let n = n as u64;
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[LEN_14BIT | (n >> 8) as u8, n as u8]);
    } else if let Ok(n) = u32::try_from(n) {
        out.push(LEN_32BIT);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(LEN_64BIT);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn write_raw(out: &mut Vec<u8>, s: &[u8]) {
    write_len(out, s.len());
    out.extend_from_slice(s);
}

/// A string as `rdbSaveRawString` writes it, minus LZF: short canonical integers that fit
/// in 32 bits take the integer encodings, everything else is length-prefixed.
fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(n) = crate::types::set::canonical_int(s) {
            if let Ok(n) = i8::try_from(n) {
                out.extend_from_slice(&[ENC_VALUE | ENC_INT8, n as u8]);
                return;
            }
            if let Ok(n) = i16::try_from(n) {
                out.push(ENC_VALUE | ENC_INT16);
                out.extend_from_slice(&n.to_le_bytes());
                return;
            }
            if let Ok(n) = i32::try_from(n) {
                out.push(ENC_VALUE | ENC_INT32);
                out.extend_from_slice(&n.to_le_bytes());
                return;
            }
        }
    }
    write_raw(out, s);
}

/// Appends `entry`'s value as an RDB object: type byte, then the value.
pub fn write_object(entry: &Entry, out: &mut Vec<u8>) {
    match entry.value() {
        None => {
            let s = entry.as_str().unwrap_or_default();
            out.reserve(s.len() + 16);
            out.push(TYPE_STRING);
            write_string(out, s);
        }
        Some(Value::List(l)) => write_list(l, out),
        Some(Value::Set(s)) => {
            out.push(TYPE_SET);
            write_len(out, s.len());
            for m in s.iter() {
                m.with_bytes(|b| write_string(out, b));
            }
        }
        Some(Value::ZSet(z)) => {
            out.push(TYPE_ZSET_2);
            write_len(out, z.len());
            // Greatest first, as Redis writes them: its loader then inserts each at the head.
            for (m, score) in z.iter_from(z.len().saturating_sub(1), true) {
                write_string(out, m);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
        Some(Value::Hash(h)) => {
            out.push(TYPE_HASH);
            write_len(out, h.len());
            for (f, v) in h.iter() {
                write_string(out, f);
                write_string(out, v);
            }
        }
    }
}

enum Node<'a> {
    Packed(Vec<u8>),
    Plain(&'a [u8]),
}

/// A list as Redis 7.0 writes one: quicklist nodes, each a listpack of up to 8 KiB (an
/// element past that alone in its node), an element of 1 GiB or more in a plain node.
fn write_list(l: &List, out: &mut Vec<u8>) {
    let mut nodes = Vec::new();
    let mut cur = ListpackWriter::default();
    for e in l.iter() {
        if e.len() >= PLAIN_THRESHOLD {
            if !cur.is_empty() {
                nodes.push(Node::Packed(std::mem::take(&mut cur).finish()));
            }
            nodes.push(Node::Plain(e));
            continue;
        }
        if !cur.is_empty() && cur.bytes() + ListpackWriter::entry_size(e) > NODE_MAX_BYTES {
            nodes.push(Node::Packed(std::mem::take(&mut cur).finish()));
        }
        cur.push(e);
    }
    if !cur.is_empty() {
        nodes.push(Node::Packed(cur.finish()));
    }
    out.push(TYPE_LIST_QUICKLIST_2);
    write_len(out, nodes.len());
    for n in nodes {
        match n {
            Node::Packed(lp) => {
                write_len(out, NODE_PACKED as usize);
                write_raw(out, &lp);
            }
            Node::Plain(e) => {
                write_len(out, NODE_PLAIN as usize);
                write_string(out, e);
            }
        }
    }
}

// ---- reading ----

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Res<u8> {
        let (&b, rest) = self.data.split_first().ok_or(Malformed)?;
        self.data = rest;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Res<&'a [u8]> {
        let n = usize::try_from(n).map_err(|_| Malformed)?;
        if n > self.data.len() {
            return Err(Malformed);
        }
        let (b, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(b)
    }

    /// A length prefix; `true` with it when it is a special string encoding instead.
    fn len_or_encoding(&mut self) -> Res<(u64, bool)> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => ((b & 0x3f) as u64, false),
            1 => ((((b & 0x3f) as u64) << 8) | self.byte()? as u64, false),
            2 => match b {
                LEN_32BIT => (u32::from_be_bytes(self.array()?) as u64, false),
                LEN_64BIT => (u64::from_be_bytes(self.array()?), false),
                _ => return Err(Malformed),
            },
            _ => ((b & 0x3f) as u64, true),
        })
    }

    fn array<const N: usize>(&mut self) -> Res<[u8; N]> {
        Ok(self.take(N as u64)?.try_into().expect("N bytes"))
    }

    fn len(&mut self) -> Res<u64> {
        match self.len_or_encoding()? {
            (n, false) => Ok(n),
            _ => Err(Malformed),
        }
    }

    /// An element count, refused when the rest of the payload cannot hold that many items
    /// of at least `min_item` bytes: bounds every loop and allocation by the payload.
    fn count(&mut self, min_item: usize) -> Res<usize> {
        let n = self.len()?;
        if n > (self.data.len() / min_item) as u64 {
            return Err(Malformed);
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Res<Cow<'a, [u8]>> {
        let int = |n: i64| Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec());
        Ok(match self.len_or_encoding()? {
            (n, false) => Cow::Borrowed(self.take(n)?),
            (e, true) => match e as u8 {
                ENC_INT8 => int(i8::from_le_bytes(self.array()?) as i64),
                ENC_INT16 => int(i16::from_le_bytes(self.array()?) as i64),
                ENC_INT32 => int(i32::from_le_bytes(self.array()?) as i64),
                ENC_LZF => {
                    let clen = self.len()?;
                    let len = usize::try_from(self.len()?).map_err(|_| Malformed)?;
                    let c = self.take(clen)?;
                    Cow::Owned(lzf::decompress(c, len).ok_or(Malformed)?)
                }
                _ => return Err(Malformed),
            },
        })
    }

    /// A score as `rdbLoadDoubleValue` reads it (RDB_TYPE_ZSET): a length byte (253 NaN,
    /// 254 +inf, 255 -inf) and that many ASCII bytes.
    fn text_double(&mut self) -> Res<f64> {
        match self.byte()? {
            253 => Err(Malformed),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => parse_score(self.take(n as u64)?),
        }
    }
}

/// A score stored as text (listpack, ziplist, RDB_TYPE_ZSET); NaN is refused.
fn parse_score(b: &[u8]) -> Res<f64> {
    let s: f64 = std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(Malformed)?;
    if s.is_nan() {
        return Err(Malformed);
    }
    Ok(s)
}

/// Sorted-set members as loaded, before ordering.
#[derive(Default)]
struct ZItems(Vec<(Box<[u8]>, f64)>);

impl ZItems {
    fn push(&mut self, member: &[u8], score: f64) -> Res<()> {
        if score.is_nan() {
            return Err(Malformed);
        }
        self.0.push((member.into(), score));
        Ok(())
    }

    /// Orders the members; a repeated member is malformed.
    fn finish(mut self) -> Res<ZSet> {
        self.0.sort_by(|a, b| cmp_entries(a.1, &a.0, b.1, &b.0));
        let mut seen = hashbrown::HashSet::with_capacity(self.0.len());
        if !self.0.iter().all(|(m, _)| seen.insert(&**m)) {
            return Err(Malformed);
        }
        drop(seen);
        Ok(ZSet::from_sorted(self.0))
    }
}

fn set_add(s: &mut Set, m: &[u8]) -> Res<()> {
    if s.insert(m) {
        Ok(())
    } else {
        Err(Malformed)
    }
}

fn hash_add(h: &mut Hash, f: &[u8], v: &[u8]) -> Res<()> {
    if h.insert(f, v) {
        Ok(())
    } else {
        Err(Malformed)
    }
}

/// Feeds a packed container's entries as alternating pairs (hash field/value, zset
/// member/score); an odd count is malformed.
fn pairs(
    each_entry: impl FnOnce(&mut dyn FnMut(&[u8]) -> Res<()>) -> Res<usize>,
    mut pair: impl FnMut(&[u8], &[u8]) -> Res<()>,
) -> Res<()> {
    let mut first: Option<Vec<u8>> = None;
    each_entry(&mut |e| match first.take() {
        None => {
            first = Some(e.to_vec());
            Ok(())
        }
        Some(f) => pair(&f, e),
    })?;
    if first.is_some() {
        return Err(Malformed);
    }
    Ok(())
}

/// Which packed container an RDB string holds.
#[derive(Clone, Copy)]
enum Packed {
    Listpack,
    Ziplist,
}

impl Packed {
    fn entries(self, buf: &[u8], f: &mut dyn FnMut(&[u8]) -> Res<()>) -> Res<usize> {
        match self {
            Packed::Listpack => packed::listpack(buf, f),
            Packed::Ziplist => packed::ziplist(buf, f),
        }
    }
}

/// Decodes an RDB object (type byte and value) that must span all of `body`. Empty
/// collections are refused, as Redis refuses them.
pub fn read_object(body: &[u8]) -> Res<Restored<'_>> {
    let mut r = Reader { data: body };
    let ty = r.byte()?;
    let value = match ty {
        TYPE_STRING => {
            let s = r.string()?;
            return if r.data.is_empty() {
                Ok(Restored::Str(s))
            } else {
                Err(Malformed)
            };
        }
        TYPE_LIST => {
            let n = r.count(1)?;
            let mut l = List::default();
            for _ in 0..n {
                l.push(End::Tail, &r.string()?);
            }
            Value::List(l)
        }
        TYPE_LIST_ZIPLIST => {
            let mut l = List::default();
            packed::ziplist(&r.string()?, |e| {
                l.push(End::Tail, e);
                Ok(())
            })?;
            Value::List(l)
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let v2 = ty == TYPE_LIST_QUICKLIST_2;
            let n = r.count(if v2 { 2 } else { 1 })?;
            let mut l = List::default();
            for _ in 0..n {
                let container = if v2 { r.len()? } else { NODE_PACKED };
                let data = r.string()?;
                if data.is_empty() {
                    return Err(Malformed);
                }
                let mut push = |e: &[u8]| {
                    l.push(End::Tail, e);
                    Ok(())
                };
                match (container, v2) {
                    (NODE_PLAIN, true) => push(&data)?,
                    (NODE_PACKED, true) => {
                        packed::listpack(&data, push)?;
                    }
                    (NODE_PACKED, false) => {
                        packed::ziplist(&data, push)?;
                    }
                    _ => return Err(Malformed),
                }
            }
            Value::List(l)
        }
        TYPE_SET => {
            let n = r.count(1)?;
            let mut s = Set::new();
            for _ in 0..n {
                set_add(&mut s, &r.string()?)?;
            }
            Value::Set(s)
        }
        TYPE_SET_INTSET => {
            let mut s = Set::new();
            packed::intset(&r.string()?, |v| {
                set_add(&mut s, itoa::Buffer::new().format(v).as_bytes())
            })?;
            Value::Set(s)
        }
        TYPE_SET_LISTPACK => {
            let mut s = Set::new();
            packed::listpack(&r.string()?, |m| set_add(&mut s, m))?;
            Value::Set(s)
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.count(if ty == TYPE_ZSET { 2 } else { 9 })?;
            let mut z = ZItems::default();
            for _ in 0..n {
                let m = r.string()?;
                let score = if ty == TYPE_ZSET {
                    r.text_double()?
                } else {
                    f64::from_le_bytes(r.array()?)
                };
                z.push(&m, score)?;
            }
            Value::ZSet(z.finish()?)
        }
        TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            let kind = if ty == TYPE_ZSET_LISTPACK {
                Packed::Listpack
            } else {
                Packed::Ziplist
            };
            let buf = r.string()?;
            let mut z = ZItems::default();
            pairs(|f| kind.entries(&buf, f), |m, s| z.push(m, parse_score(s)?))?;
            Value::ZSet(z.finish()?)
        }
        TYPE_HASH => {
            let n = r.count(2)?;
            let mut h = Hash::new();
            for _ in 0..n {
                let f = r.string()?;
                let v = r.string()?;
                hash_add(&mut h, &f, &v)?;
            }
            Value::Hash(h)
        }
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            let kind = if ty == TYPE_HASH_LISTPACK {
                Packed::Listpack
            } else {
                Packed::Ziplist
            };
            let buf = r.string()?;
            let mut h = Hash::new();
            pairs(|f| kind.entries(&buf, f), |f, v| hash_add(&mut h, f, v))?;
            Value::Hash(h)
        }
        // Streams, modules, zipmaps (Redis < 2.6) and anything unknown.
        _ => return Err(Malformed),
    };
    if !r.data.is_empty() || value.is_empty() {
        return Err(Malformed);
    }
    Ok(Restored::Value(value))
}
