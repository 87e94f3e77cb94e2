//! One key and its value, packed to keep per-key overhead small (a headline number).
//!
//! A string key is a single allocation: `[flags][lru:3][expire:8 if set][keylen varint][key]
//! [value]`, held by a 16-byte fat pointer. A string grown in place (APPEND, SETRANGE) past
//! [`SPARE_FROM`] bytes keeps spare room after its value and the value's length in the last
//! 8 bytes (`FLAG_SPARE`), as Redis's sds strings do: building a value piece by piece then
//! costs linear time, not a copy of the whole value per piece. Collections carry a boxed header with the key,
//! the expiry and the access clock beside the value. The table stores `Entry` (16 bytes).

use crate::types::Value;

const FLAG_EXPIRE: u8 = 1;
const FLAG_SPARE: u8 = 2;
/// Written in place or built bit by bit (APPEND, SETRANGE, SETBIT, BITFIELD, BITOP): OBJECT
/// ENCODING says "raw" whatever the length, as Redis's unshared sds strings.
const FLAG_RAW: u8 = 4;
/// Strings grown in place to at least this many bytes get spare room.
pub const SPARE_FROM: usize = 1024;
/// Spare room doubles the value up to this size, then adds this much (sds's SDS_MAX_PREALLOC).
const MAX_PREALLOC: usize = 1024 * 1024;

/// Access metadata: Redis's 24-bit LRU clock (seconds) or LFU (16-bit minutes + 8-bit log
/// counter), depending on the eviction policy.
pub type Lru = u32;

/// The type of a key's value, as `TYPE` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Hash,
    List,
    Set,
    ZSet,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
        }
    }
}

/// A collection key: its header beside the value.
#[derive(Debug, Clone)]
pub struct ObjEntry {
    key: Box<[u8]>,
    /// Absolute expiry in Unix milliseconds; 0 = none.
    expire_at: u64,
    lru: Lru,
    /// Tiered: bytes its copy in the warm tier counts for, as last loaded or flushed (see
    /// `tier::warm_size`); meaningful while the entry is clean. Fills padding: free.
    warm_len: u32,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub enum Entry {
    Str(Box<[u8]>),
    Obj(Box<ObjEntry>),
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_varint(b: &[u8]) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    for (i, &byte) in b.iter().enumerate() {
        n |= ((byte & 0x7f) as usize) << shift;
        if byte & 0x80 == 0 {
            return (n, i + 1);
        }
        shift += 7;
    }
    unreachable!("entry header varint always terminates")
}

impl Entry {
    /// A string entry. `expire_at` 0 means no expiry.
    pub fn string(key: &[u8], value: &[u8], expire_at: u64, lru: Lru) -> Entry {
        let has_exp = expire_at != 0;
        let len = 4 + if has_exp { 8 } else { 0 } + varint_len(key.len()) + key.len() + value.len();
        let mut b = Vec::with_capacity(len);
        b.push(if has_exp { FLAG_EXPIRE } else { 0 });
        b.extend_from_slice(&lru.to_le_bytes()[..3]);
        if has_exp {
            b.extend_from_slice(&expire_at.to_le_bytes());
        }
        put_varint(&mut b, key.len());
        b.extend_from_slice(key);
        b.extend_from_slice(value);
        debug_assert_eq!(b.len(), len);
        Entry::Str(b.into_boxed_slice())
    }

    pub fn object(key: &[u8], value: Value, expire_at: u64, lru: Lru) -> Entry {
        Entry::Obj(Box::new(ObjEntry {
            key: key.into(),
            expire_at,
            lru,
            warm_len: 0,
            value,
        }))
    }

    /// The same value under another key (RENAME, COPY), keeping the expiry.
    pub fn with_key(&self, key: &[u8]) -> Entry {
        match self {
            Entry::Str(_) => Entry::string(
                key,
                self.as_str().unwrap_or_default(),
                self.expire_at(),
                self.lru(),
            ),
            Entry::Obj(o) => Entry::object(key, o.value.clone(), o.expire_at, o.lru),
        }
    }

    /// Offset of the key-length varint in a string entry.
    fn str_key_at(b: &[u8]) -> usize {
        if b[0] & FLAG_EXPIRE != 0 {
            12
        } else {
            4
        }
    }

    /// Where a string entry's value starts and ends in its allocation.
    fn str_value_range(b: &[u8]) -> (usize, usize) {
        let at = Self::str_key_at(b);
        let (klen, n) = get_varint(&b[at..]);
        let start = at + n + klen;
        if b[0] & FLAG_SPARE == 0 {
            return (start, b.len());
        }
        let len = u64::from_le_bytes(b[b.len() - 8..].try_into().expect("8 bytes"));
        (start, start + len as usize)
    }

    /// Resizes a string's value to `len` bytes (zeros when it grows) and returns it for
    /// writing in place; `None` for a collection. Growth to [`SPARE_FROM`] bytes or more
    /// leaves spare room (double the value, at most 1 MiB more), so that the next growth
    /// usually copies nothing. The header (expiry, access clock) is kept.
    pub fn str_resize(&mut self, len: usize) -> Option<&mut [u8]> {
        let Entry::Str(b) = self else {
            return None;
        };
        let (start, end) = Self::str_value_range(b);
        let spare = b[0] & FLAG_SPARE != 0;
        let room = if spare {
            b.len() - 8 - start
        } else {
            b.len() - start
        };
        if spare && len <= room {
            if len > end - start {
                b[end..start + len].fill(0);
            }
            let at = b.len() - 8;
            b[at..].copy_from_slice(&(len as u64).to_le_bytes());
        } else if len != end - start || spare {
            let keep = (end - start).min(len);
            let grown = len >= SPARE_FROM;
            let room = if !grown {
                len
            } else {
                len.saturating_add(len.min(MAX_PREALLOC))
            };
            let mut n = Vec::with_capacity(start + room + if grown { 8 } else { 0 });
            n.extend_from_slice(&b[..start + keep]);
            n.resize(start + room, 0);
            if grown {
                n[0] |= FLAG_SPARE;
                n.extend_from_slice(&(len as u64).to_le_bytes());
            } else {
                n[0] &= !FLAG_SPARE;
            }
            *b = n.into_boxed_slice();
        }
        b[0] |= FLAG_RAW;
        Some(&mut b[start..start + len])
    }

    /// Marks a string "raw" (see `FLAG_RAW`); nothing for a collection.
    pub fn set_raw(&mut self) {
        if let Entry::Str(b) = self {
            b[0] |= FLAG_RAW;
        }
    }

    /// Whether a string was written in place or built bit by bit (OBJECT ENCODING "raw").
    pub fn is_raw(&self) -> bool {
        matches!(self, Entry::Str(b) if b[0] & FLAG_RAW != 0)
    }

    pub fn key(&self) -> &[u8] {
        match self {
            Entry::Str(b) => {
                let at = Self::str_key_at(b);
                let (klen, n) = get_varint(&b[at..]);
                &b[at + n..at + n + klen]
            }
            Entry::Obj(o) => &o.key,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Entry::Str(_) => Kind::String,
            Entry::Obj(o) => o.value.kind(),
        }
    }

    /// The string value, or `None` for a collection.
    pub fn as_str(&self) -> Option<&[u8]> {
        match self {
            Entry::Str(b) => {
                let (start, end) = Self::str_value_range(b);
                Some(&b[start..end])
            }
            Entry::Obj(_) => None,
        }
    }

    pub fn value(&self) -> Option<&Value> {
        match self {
            Entry::Str(_) => None,
            Entry::Obj(o) => Some(&o.value),
        }
    }

    pub fn value_mut(&mut self) -> Option<&mut Value> {
        match self {
            Entry::Str(_) => None,
            Entry::Obj(o) => Some(&mut o.value),
        }
    }

    /// Absolute expiry in Unix ms, 0 = none.
    pub fn expire_at(&self) -> u64 {
        match self {
            Entry::Str(b) if b[0] & FLAG_EXPIRE != 0 => {
                u64::from_le_bytes(b[4..12].try_into().expect("8 bytes"))
            }
            Entry::Str(_) => 0,
            Entry::Obj(o) => o.expire_at,
        }
    }

    pub fn has_expire(&self) -> bool {
        self.expire_at() != 0
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        let at = self.expire_at();
        at != 0 && at <= now_ms
    }

    /// Sets or clears (0) the expiry. A string entry is re-packed when the header changes
    /// size.
    pub fn set_expire_at(&mut self, at: u64) {
        match self {
            Entry::Str(b) => {
                let had = b[0] & FLAG_EXPIRE != 0;
                if had && at != 0 {
                    b[4..12].copy_from_slice(&at.to_le_bytes());
                } else if had != (at != 0) {
                    let raw = self.is_raw();
                    *self = Entry::string(
                        self.key(),
                        self.as_str().unwrap_or_default(),
                        at,
                        self.lru(),
                    );
                    if raw {
                        self.set_raw();
                    }
                }
            }
            Entry::Obj(o) => o.expire_at = at,
        }
    }

    pub fn lru(&self) -> Lru {
        match self {
            Entry::Str(b) => u32::from_le_bytes([b[1], b[2], b[3], 0]),
            Entry::Obj(o) => o.lru,
        }
    }

    pub fn set_lru(&mut self, lru: Lru) {
        match self {
            Entry::Str(b) => b[1..4].copy_from_slice(&lru.to_le_bytes()[..3]),
            Entry::Obj(o) => o.lru = lru & 0xFF_FFFF,
        }
    }

    /// A collection's [`ObjEntry::warm_len`] (0 for a string, whose size follows from it).
    pub fn obj_warm_len(&self) -> u32 {
        match self {
            Entry::Str(_) => 0,
            Entry::Obj(o) => o.warm_len,
        }
    }

    pub fn set_obj_warm_len(&mut self, n: u32) {
        if let Entry::Obj(o) = self {
            o.warm_len = n;
        }
    }

    /// Approximate bytes this entry holds, for eviction accounting and MEMORY USAGE.
    pub fn mem_usage(&self) -> usize {
        std::mem::size_of::<Entry>()
            + match self {
                Entry::Str(b) => b.len(),
                Entry::Obj(o) => {
                    std::mem::size_of::<ObjEntry>() + o.key.len() + o.value.mem_usage()
                }
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_two_words() {
        assert_eq!(std::mem::size_of::<Entry>(), 16);
    }

    #[test]
    fn string_round_trip_and_expiry() {
        let mut e = Entry::string(b"key", b"value", 0, 0x123456);
        assert_eq!(e.key(), b"key");
        assert_eq!(e.as_str(), Some(&b"value"[..]));
        assert_eq!(e.expire_at(), 0);
        assert_eq!(e.lru(), 0x123456);
        e.set_expire_at(1_700_000_000_000);
        assert_eq!(e.expire_at(), 1_700_000_000_000);
        assert_eq!(e.key(), b"key");
        assert_eq!(e.as_str(), Some(&b"value"[..]));
        assert_eq!(e.lru(), 0x123456);
        e.set_expire_at(0);
        assert!(!e.has_expire());
        assert_eq!(e.as_str(), Some(&b"value"[..]));
        let long_key = vec![b'k'; 300];
        let e = Entry::string(&long_key, b"", 5, 0);
        assert_eq!(e.key(), &long_key[..]);
        assert_eq!(e.as_str(), Some(&b""[..]));
        assert!(e.is_expired(5));
        assert!(!e.is_expired(4));
    }

    #[test]
    fn strings_grow_in_place_with_spare_room() {
        let mut e = Entry::string(b"key", b"abc", 1_700_000_000_000, 0x42);
        // Small growth re-packs exactly.
        e.str_resize(5).unwrap()[3..].copy_from_slice(b"de");
        assert_eq!(e.as_str(), Some(&b"abcde"[..]));
        assert_eq!(e.mem_usage(), 16 + 12 + 1 + 3 + 5);
        // Past SPARE_FROM: room for as much again, the value's length at the end.
        e.str_resize(SPARE_FROM).unwrap();
        let v = e.as_str().unwrap();
        assert_eq!(v.len(), SPARE_FROM);
        assert_eq!(&v[..5], b"abcde");
        assert!(v[5..].iter().all(|&b| b == 0));
        assert_eq!(e.mem_usage(), 16 + 12 + 1 + 3 + 2 * SPARE_FROM + 8);
        let before = e.mem_usage();
        // Growth within the room copies nothing and zero-fills.
        e.str_resize(SPARE_FROM + 10).unwrap()[SPARE_FROM..].copy_from_slice(b"0123456789");
        assert_eq!(e.mem_usage(), before);
        assert_eq!(&e.as_str().unwrap()[SPARE_FROM..], b"0123456789");
        e.str_resize(SPARE_FROM + 4).unwrap();
        e.str_resize(SPARE_FROM + 8).unwrap();
        assert_eq!(&e.as_str().unwrap()[SPARE_FROM..], b"0123\0\0\0\0");
        // The header survives: key, expiry, access clock.
        assert_eq!(e.key(), b"key");
        assert_eq!(e.expire_at(), 1_700_000_000_000);
        assert_eq!(e.lru(), 0x42);
        e.set_lru(0x43);
        assert_eq!(e.lru(), 0x43);
        // Past the room: re-packed with new room.
        e.str_resize(3 * SPARE_FROM).unwrap();
        assert_eq!(e.as_str().unwrap().len(), 3 * SPARE_FROM);
        assert_eq!(&e.as_str().unwrap()[..5], b"abcde");
        // A changed expiry re-packs exactly, the value intact.
        e.set_expire_at(0);
        assert_eq!(e.as_str().unwrap().len(), 3 * SPARE_FROM);
        assert_eq!(e.mem_usage(), 16 + 4 + 1 + 3 + 3 * SPARE_FROM);
        assert_eq!(e.key(), b"key");
        // Spare room grows by at most 1 MiB.
        let mut big = Entry::string(b"k", b"", 0, 0);
        big.str_resize(4 * MAX_PREALLOC).unwrap();
        assert_eq!(big.mem_usage(), 16 + 4 + 1 + 1 + 5 * MAX_PREALLOC + 8);
        // Shrinking keeps the room.
        big.str_resize(3).unwrap().copy_from_slice(b"xyz");
        assert_eq!(big.as_str(), Some(&b"xyz"[..]));
        assert_eq!(big.mem_usage(), 16 + 4 + 1 + 1 + 5 * MAX_PREALLOC + 8);
        assert!(Entry::object(b"h", Value::List(Default::default()), 0, 0)
            .str_resize(1)
            .is_none());
    }
}
