//! One key and its value, packed to keep per-key overhead small (a headline number).
//!
//! A string key is a single allocation: `[flags][lru:3][expire:8 if set][keylen varint][key]
//! [value]`, held by a 16-byte fat pointer. Collections carry a boxed header with the key,
//! the expiry and the access clock beside the value. The table stores `Entry` (16 bytes).

use crate::types::Value;

const FLAG_EXPIRE: u8 = 1;

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
                let at = Self::str_key_at(b);
                let (klen, n) = get_varint(&b[at..]);
                Some(&b[at + n + klen..])
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
                    *self = Entry::string(
                        self.key(),
                        self.as_str().unwrap_or_default(),
                        at,
                        self.lru(),
                    );
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
}
