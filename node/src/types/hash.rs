//! The hash value type, encoded as Redis 7.2 does: a "listpack" (fields and values packed in
//! one buffer, searched linearly) while it has at most 128 fields and no field or value longer
//! than 64 bytes, then — once and for all — a "hashtable" (a [`DenseTable`] of field/value
//! pairs, each pair one allocation).

use super::dense::{self, DenseTable, Keyed};
use super::packlist::{self, PackList, Span};

/// Redis's `hash-max-listpack-entries`.
pub const MAX_LISTPACK_ENTRIES: usize = 128;
/// Redis's `hash-max-listpack-value`.
pub const MAX_LISTPACK_VALUE: usize = 64;

/// A field and its value, borrowed from the hash.
pub type FieldValue<'a> = (&'a [u8], &'a [u8]);

#[derive(Debug, Clone)]
pub struct Hash {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    /// Field, value, field, value, …
    Pack(PackList),
    Table(DenseTable<Pair>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash {
            repr: Repr::Pack(PackList::default()),
        }
    }
}

/// A field and its value in one allocation: `[field length][field][value]`.
#[derive(Debug, Clone)]
struct Pair(Box<[u8]>);

impl Pair {
    fn new(field: &[u8], value: &[u8]) -> Pair {
        let mut b = Vec::with_capacity(field.len() + value.len() + 3);
        packlist::put_len(&mut b, field.len());
        b.extend_from_slice(field);
        b.extend_from_slice(value);
        Pair(b.into_boxed_slice())
    }

    fn split(&self) -> (&[u8], &[u8]) {
        let (n, h) = packlist::get_len(&self.0);
        (&self.0[h..h + n], &self.0[h + n..])
    }
}

impl Keyed for Pair {
    fn key(&self) -> &[u8] {
        self.split().0
    }

    fn heap_size(&self) -> usize {
        // The allocator rounds small allocations up to 16-byte classes.
        (self.0.len() + 15) & !15
    }
}

/// The field and value spans of `field` in a packed hash.
fn pack_find<'a>(p: &'a PackList, field: &[u8]) -> Option<(Span<'a>, Span<'a>)> {
    let mut it = p.spans();
    while let Some(f) = it.next() {
        let v = it.next()?;
        if f.data == field {
            return Some((f, v));
        }
    }
    None
}

fn pack_pairs(p: &PackList) -> impl Iterator<Item = FieldValue<'_>> + '_ {
    let mut it = p.iter();
    std::iter::from_fn(move || Some((it.next()?, it.next()?)))
}

impl Hash {
    pub fn new() -> Hash {
        Hash::default()
    }

    /// An empty hash sized for `n` fields: a hashtable from the start when `n` is past the
    /// listpack limit (as Redis presizes when loading).
    fn with_capacity(n: usize) -> Hash {
        if n > MAX_LISTPACK_ENTRIES {
            Hash {
                repr: Repr::Table(DenseTable::with_capacity(n)),
            }
        } else {
            Hash::default()
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.len() / 2,
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Pack(p) => pack_find(p, field).map(|(_, v)| v.data),
            Repr::Table(t) => t.get(field).map(|p| p.split().1),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; true when the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        if field.len() > MAX_LISTPACK_VALUE || value.len() > MAX_LISTPACK_VALUE {
            self.convert();
        }
        let added = match &mut self.repr {
            Repr::Pack(p) => {
                if let Some((_, v)) = pack_find(p, field) {
                    let (start, end) = (v.start, v.end);
                    p.replace(start, end, value);
                    return false;
                }
                p.push(field);
                p.push(value);
                true
            }
            Repr::Table(t) => {
                if let Some(pos) = t.find(field) {
                    *t.at_mut(pos) = Pair::new(field, value);
                    return false;
                }
                t.insert_new(Pair::new(field, value));
                true
            }
        };
        if self.len() > MAX_LISTPACK_ENTRIES {
            self.convert();
        }
        added
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Pack(p) => {
                let Some((f, v)) = pack_find(p, field) else {
                    return false;
                };
                let (start, end) = (f.start, v.end);
                p.remove_range(start, end, 2);
                true
            }
            Repr::Table(t) => t.remove(field).is_some(),
        }
    }

    /// Moves a listpack to the hashtable encoding (no-op when already there).
    fn convert(&mut self) {
        let Repr::Pack(p) = &self.repr else {
            return;
        };
        let mut t = DenseTable::with_capacity(p.len() / 2 + 1);
        for (f, v) in pack_pairs(p) {
            t.insert_new(Pair::new(f, v));
        }
        self.repr = Repr::Table(t);
    }

    /// Field/value pairs in storage order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = FieldValue<'_>> + '_> {
        match &self.repr {
            Repr::Pack(p) => Box::new(pack_pairs(p)),
            Repr::Table(t) => Box::new(t.iter().map(Pair::split)),
        }
    }

    /// `count` distinct random pairs; all of them, in storage order, when `count` reaches
    /// the size.
    pub fn random_distinct(&self, count: usize) -> Vec<FieldValue<'_>> {
        let len = self.len();
        if count >= len {
            return self.iter().collect();
        }
        let positions = dense::distinct_positions(len, count);
        let pool = self.pick_pool();
        positions
            .into_iter()
            .map(|i| self.pair_at(&pool, i))
            .collect()
    }

    /// `count` independent random picks (repeats allowed), made lazily so that a huge count
    /// costs only what the reply itself takes.
    pub fn random_picks(&self, count: usize) -> impl Iterator<Item = FieldValue<'_>> + '_ {
        let len = self.len();
        let pool = self.pick_pool();
        let count = if len == 0 { 0 } else { count };
        (0..count).map(move |_| self.pair_at(&pool, fastrand::usize(..len)))
    }

    /// A listpack's pairs, indexed once so that picks by position need no walk each; empty
    /// for a hashtable, which indexes directly.
    fn pick_pool(&self) -> Vec<FieldValue<'_>> {
        match &self.repr {
            Repr::Pack(p) => pack_pairs(p).collect(),
            Repr::Table(_) => Vec::new(),
        }
    }

    fn pair_at<'a>(&'a self, pool: &[FieldValue<'a>], i: usize) -> FieldValue<'a> {
        match &self.repr {
            Repr::Pack(_) => pool[i],
            Repr::Table(t) => t.at(i).split(),
        }
    }

    /// One HSCAN step: a listpack returns everything at once with cursor 0 (as Redis does);
    /// a hashtable returns about `count` pairs and the next cursor.
    pub fn scan(&self, cursor: u64, count: usize) -> (Vec<FieldValue<'_>>, u64) {
        match &self.repr {
            Repr::Pack(p) => (pack_pairs(p).collect(), 0),
            Repr::Table(t) => {
                let (items, next) = t.scan(cursor, count);
                (items.into_iter().map(Pair::split).collect(), next)
            }
        }
    }

    /// Approximate heap bytes.
    pub fn mem_usage(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.mem_usage(),
            Repr::Table(t) => t.mem_usage(),
        }
    }

    /// Serialized form (see `types::codec`): the pair count, then field and value of each.
    /// The encoding is not stored: loading picks the compact one when the contents allow,
    /// as Redis does when it loads an RDB.
    pub fn encode(&self, out: &mut Vec<u8>) {
        super::codec::put_len(out, self.len());
        for (f, v) in self.iter() {
            super::codec::put_bytes(out, f);
            super::codec::put_bytes(out, v);
        }
    }

    /// The inverse of [`Hash::encode`]; `None` for malformed input (truncated, trailing
    /// bytes, repeated fields).
    pub fn decode(mut data: &[u8]) -> Option<Self> {
        let n = super::codec::get_len(&mut data)?;
        // Each pair takes at least two length words: bounds the presizing by the input.
        let mut h = Hash::with_capacity(n.min(data.len() / 16));
        for _ in 0..n {
            let f = super::codec::get_bytes(&mut data)?;
            let v = super::codec::get_bytes(&mut data)?;
            if !h.insert(f, v) {
                return None;
            }
        }
        data.is_empty().then_some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(h: &Hash) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut v: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        v.sort();
        v
    }

    #[test]
    fn listpack_until_128_fields_then_hashtable() {
        let mut h = Hash::new();
        for i in 0..128 {
            assert!(h.insert(format!("f{i}").as_bytes(), b"v"));
        }
        assert_eq!(h.encoding(), "listpack");
        assert!(!h.insert(b"f0", b"again"));
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.get(b"f0"), Some(&b"again"[..]));
        assert!(h.insert(b"f128", b"v"));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 129);
        assert_eq!(h.get(b"f0"), Some(&b"again"[..]));
        assert_eq!(h.get(b"f128"), Some(&b"v"[..]));
        // Never back, even when small again.
        for i in 0..129 {
            assert!(h.remove(format!("f{i}").as_bytes()));
        }
        assert!(h.is_empty());
        h.insert(b"a", b"b");
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn long_field_or_value_converts() {
        let mut h = Hash::new();
        h.insert(b"f", &[b'x'; 64]);
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"g", &[b'x'; 65]);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.insert(&[b'k'; 65], b"v");
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(&[b'k'; 65]), Some(&b"v"[..]));
    }

    #[test]
    fn get_set_remove_in_both_encodings() {
        for big in [false, true] {
            let mut h = Hash::new();
            if big {
                h.insert(b"big", &[b'x'; 100]);
                h.remove(b"big");
            }
            assert!(h.insert(b"a", b"1"));
            assert!(h.insert(b"b", b"2"));
            assert!(!h.insert(b"a", b"longer value"));
            assert_eq!(h.get(b"a"), Some(&b"longer value"[..]));
            assert_eq!(h.get(b"b"), Some(&b"2"[..]));
            assert!(h.contains(b"b"));
            assert!(!h.contains(b"c"));
            assert!(!h.remove(b"c"));
            assert!(h.remove(b"a"));
            assert_eq!(pairs(&h), vec![(b"b".to_vec(), b"2".to_vec())]);
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        for n in [0usize, 3, 200] {
            let mut h = Hash::new();
            for i in 0..n {
                h.insert(
                    format!("field{i}").as_bytes(),
                    format!("value{i}").as_bytes(),
                );
            }
            let mut buf = Vec::new();
            h.encode(&mut buf);
            let back = Hash::decode(&buf).expect("decodes");
            assert_eq!(pairs(&back), pairs(&h));
            assert_eq!(back.encoding(), h.encoding());
            assert!(Hash::decode(&buf[..buf.len() - 1]).is_none());
        }
        let mut dup = Vec::new();
        super::super::codec::put_len(&mut dup, 2);
        for _ in 0..2 {
            super::super::codec::put_bytes(&mut dup, b"f");
            super::super::codec::put_bytes(&mut dup, b"v");
        }
        assert!(Hash::decode(&dup).is_none());
    }

    #[test]
    fn random_distinct_and_picks() {
        for n in [5usize, 300] {
            let mut h = Hash::new();
            for i in 0..n {
                h.insert(format!("f{i}").as_bytes(), b"v");
            }
            let mut u = h.random_distinct(4);
            assert_eq!(u.len(), 4);
            u.sort();
            u.dedup();
            assert_eq!(u.len(), 4);
            assert_eq!(h.random_distinct(n + 10).len(), n);
            let picks: Vec<FieldValue<'_>> = h.random_picks(n * 3).collect();
            assert_eq!(picks.len(), n * 3);
            assert!(picks.iter().all(|(f, v)| h.get(f) == Some(*v)));
        }
    }

    #[test]
    fn mem_usage_grows_with_contents() {
        let mut h = Hash::new();
        let empty = h.mem_usage();
        for i in 0..1000 {
            h.insert(format!("f{i}").as_bytes(), &[b'v'; 40]);
        }
        assert!(h.mem_usage() > empty + 1000 * 40);
    }
}
