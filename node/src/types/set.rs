//! The set value type, encoded as Redis 7.2 does: an "intset" (sorted integers, binary
//! search) while every member is a canonical integer and there are at most 512; a "listpack"
//! (members packed in one buffer) while there are at most 128 members of at most 64 bytes;
//! else a "hashtable" ([`DenseTable`]). A set only ever moves up this list.

use super::dense::{self, DenseTable, Keyed};
use super::packlist::PackList;

/// Redis's `set-max-intset-entries`.
pub const MAX_INTSET_ENTRIES: usize = 512;
/// Redis's `set-max-listpack-entries`.
pub const MAX_LISTPACK_ENTRIES: usize = 128;
/// Redis's `set-max-listpack-value`.
pub const MAX_LISTPACK_VALUE: usize = 64;

#[derive(Debug, Clone)]
pub struct Set {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Ints(Vec<i64>),
    Pack(PackList),
    Table(DenseTable<Member>),
}

impl Default for Set {
    fn default() -> Self {
        Set {
            repr: Repr::Ints(Vec::new()),
        }
    }
}

#[derive(Debug, Clone)]
struct Member(Box<[u8]>);

impl Keyed for Member {
    fn key(&self) -> &[u8] {
        &self.0
    }

    fn heap_size(&self) -> usize {
        // The allocator rounds small allocations up to 16-byte classes.
        (self.0.len() + 15) & !15
    }
}

/// A member as stored: an intset holds numbers, the other encodings bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Elem<'_> {
    /// Runs `f` on the member's bytes (an integer's decimal text).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Elem::Int(n) => f(itoa::Buffer::new().format(*n).as_bytes()),
            Elem::Bytes(b) => f(b),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }
}

/// The integer `b` spells in canonical form (Redis's `string2ll`): no sign but a leading
/// `-`, no leading zeros, no spaces, within i64. Only such members go into an intset, so
/// "007" stays a string and round-trips as written.
pub fn canonical_int(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let n: i64 = std::str::from_utf8(b).ok()?.parse().ok()?;
    (itoa::Buffer::new().format(n).as_bytes() == b).then_some(n)
}

impl Set {
    pub fn new() -> Set {
        Set::default()
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(v) => v.len(),
            Repr::Pack(p) => p.len(),
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Ints(_) => "intset",
            Repr::Pack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(v) => canonical_int(member).is_some_and(|n| v.binary_search(&n).is_ok()),
            Repr::Pack(p) => p.find(member).is_some(),
            Repr::Table(t) => t.find(member).is_some(),
        }
    }

    /// Membership of an element of another set (integers compare without formatting).
    pub fn contains_elem(&self, e: Elem<'_>) -> bool {
        match (&self.repr, e) {
            (Repr::Ints(v), Elem::Int(n)) => v.binary_search(&n).is_ok(),
            _ => e.with_bytes(|b| self.contains(b)),
        }
    }

    /// Adds `member`; true when it is new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        if self.contains(member) {
            return false;
        }
        match &mut self.repr {
            Repr::Ints(v) => {
                if let Some(n) = canonical_int(member) {
                    let pos = v.binary_search(&n).unwrap_or_else(|p| p);
                    v.insert(pos, n);
                    if v.len() > MAX_INTSET_ENTRIES {
                        self.convert_to_table();
                    }
                    return true;
                }
                if v.len() < MAX_LISTPACK_ENTRIES && member.len() <= MAX_LISTPACK_VALUE {
                    self.convert_to_pack();
                } else {
                    self.convert_to_table();
                }
                self.insert_new(member);
            }
            Repr::Pack(p) => {
                if p.len() < MAX_LISTPACK_ENTRIES && member.len() <= MAX_LISTPACK_VALUE {
                    p.push(member);
                } else {
                    self.convert_to_table();
                    self.insert_new(member);
                }
            }
            Repr::Table(t) => t.insert_new(Member(member.into())),
        }
        true
    }

    /// Adds a member known to be absent, into a listpack or hashtable.
    fn insert_new(&mut self, member: &[u8]) {
        match &mut self.repr {
            Repr::Ints(_) => unreachable!("only called after leaving the intset encoding"),
            Repr::Pack(p) => p.push(member),
            Repr::Table(t) => t.insert_new(Member(member.into())),
        }
    }

    fn convert_to_pack(&mut self) {
        let Repr::Ints(v) = &self.repr else {
            return;
        };
        let mut p = PackList::default();
        let mut buf = itoa::Buffer::new();
        for &n in v {
            p.push(buf.format(n).as_bytes());
        }
        self.repr = Repr::Pack(p);
    }

    fn convert_to_table(&mut self) {
        let mut t = DenseTable::with_capacity(self.len() + 1);
        match &self.repr {
            Repr::Ints(v) => {
                let mut buf = itoa::Buffer::new();
                for &n in v {
                    t.insert_new(Member(buf.format(n).as_bytes().into()));
                }
            }
            Repr::Pack(p) => {
                for m in p.iter() {
                    t.insert_new(Member(m.into()));
                }
            }
            Repr::Table(_) => return,
        }
        self.repr = Repr::Table(t);
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(v) => {
                let Some(pos) = canonical_int(member).and_then(|n| v.binary_search(&n).ok()) else {
                    return false;
                };
                v.remove(pos);
                shrink_ints(v);
                true
            }
            Repr::Pack(p) => {
                let Some(s) = p.find(member) else {
                    return false;
                };
                let (start, end) = (s.start, s.end);
                p.remove_range(start, end, 1);
                true
            }
            Repr::Table(t) => t.remove(member).is_some(),
        }
    }

    /// Members in storage order (an intset's ascending).
    pub fn iter(&self) -> Box<dyn Iterator<Item = Elem<'_>> + '_> {
        match &self.repr {
            Repr::Ints(v) => Box::new(v.iter().map(|&n| Elem::Int(n))),
            Repr::Pack(p) => Box::new(p.iter().map(Elem::Bytes)),
            Repr::Table(t) => Box::new(t.iter().map(|m| Elem::Bytes(&m.0))),
        }
    }

    /// `count` distinct random members; all of them, in storage order, when `count`
    /// reaches the size.
    pub fn random_distinct(&self, count: usize) -> Vec<Elem<'_>> {
        let len = self.len();
        if count >= len {
            return self.iter().collect();
        }
        let positions = dense::distinct_positions(len, count);
        let pool = self.pick_pool();
        positions
            .into_iter()
            .map(|i| self.elem_at(&pool, i))
            .collect()
    }

    /// `count` independent random picks (repeats allowed), made lazily so that a huge count
    /// costs only what the reply itself takes.
    pub fn random_picks(&self, count: usize) -> impl Iterator<Item = Elem<'_>> + '_ {
        let len = self.len();
        let pool = self.pick_pool();
        let count = if len == 0 { 0 } else { count };
        (0..count).map(move |_| self.elem_at(&pool, fastrand::usize(..len)))
    }

    /// A listpack's members, indexed once so that picks by position need no walk each;
    /// empty for the other encodings, which index directly.
    fn pick_pool(&self) -> Vec<&[u8]> {
        match &self.repr {
            Repr::Pack(p) => p.iter().collect(),
            _ => Vec::new(),
        }
    }

    fn elem_at<'a>(&'a self, pool: &[&'a [u8]], i: usize) -> Elem<'a> {
        match &self.repr {
            Repr::Ints(v) => Elem::Int(v[i]),
            Repr::Pack(_) => Elem::Bytes(pool[i]),
            Repr::Table(t) => Elem::Bytes(&t.at(i).0),
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random(&mut self) -> Option<Vec<u8>> {
        let len = self.len();
        if len == 0 {
            return None;
        }
        let i = fastrand::usize(..len);
        Some(match &mut self.repr {
            Repr::Ints(v) => {
                let n = v.remove(i);
                shrink_ints(v);
                itoa::Buffer::new().format(n).as_bytes().to_vec()
            }
            Repr::Pack(p) => {
                let s = p.get(i).expect("index below length");
                let (start, end, member) = (s.start, s.end, s.data.to_vec());
                p.remove_range(start, end, 1);
                member
            }
            Repr::Table(t) => t.remove_at(i).0.into_vec(),
        })
    }

    /// One SSCAN step: an intset or listpack returns everything at once with cursor 0 (as
    /// Redis does); a hashtable returns about `count` members and the next cursor.
    pub fn scan(&self, cursor: u64, count: usize) -> (Vec<Elem<'_>>, u64) {
        match &self.repr {
            Repr::Table(t) => {
                let (items, next) = t.scan(cursor, count);
                (items.into_iter().map(|m| Elem::Bytes(&m.0)).collect(), next)
            }
            _ => (self.iter().collect(), 0),
        }
    }

    /// Approximate heap bytes.
    pub fn mem_usage(&self) -> usize {
        match &self.repr {
            Repr::Ints(v) => v.capacity() * std::mem::size_of::<i64>(),
            Repr::Pack(p) => p.mem_usage(),
            Repr::Table(t) => t.mem_usage(),
        }
    }

    /// Serialized form (see `types::codec`): the member count, then each member. The
    /// encoding is not stored: loading picks the most compact one the contents allow, as
    /// Redis does when it loads an RDB.
    pub fn encode(&self, out: &mut Vec<u8>) {
        super::codec::put_len(out, self.len());
        for e in self.iter() {
            e.with_bytes(|b| super::codec::put_bytes(out, b));
        }
    }

    /// The inverse of [`Set::encode`]; `None` for malformed input (truncated, trailing
    /// bytes, repeated members).
    pub fn decode(mut data: &[u8]) -> Option<Self> {
        let n = super::codec::get_len(&mut data)?;
        let mut s = Set::new();
        for _ in 0..n {
            if !s.insert(super::codec::get_bytes(&mut data)?) {
                return None;
            }
        }
        data.is_empty().then_some(s)
    }
}

/// Gives memory back once an intset has lost most of its members.
fn shrink_ints(v: &mut Vec<i64>) {
    if v.capacity() > 16 && v.len() * 4 < v.capacity() {
        v.shrink_to(v.len() * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &Set) -> Vec<Vec<u8>> {
        let mut v: Vec<_> = s.iter().map(|e| e.to_vec()).collect();
        v.sort();
        v
    }

    #[test]
    fn canonical_integers_only() {
        assert_eq!(canonical_int(b"0"), Some(0));
        assert_eq!(canonical_int(b"-12"), Some(-12));
        assert_eq!(canonical_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(canonical_int(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b"007"[..],
            b"+1",
            b"-0",
            b" 1",
            b"1 ",
            b"",
            b"9223372036854775808",
            b"1.0",
        ] {
            assert_eq!(
                canonical_int(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn intset_to_hashtable_past_512() {
        let mut s = Set::new();
        for i in 0..512 {
            assert!(s.insert(i.to_string().as_bytes()));
        }
        assert_eq!(s.encoding(), "intset");
        assert!(!s.insert(b"5"));
        assert!(s.insert(b"512"));
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 513);
        assert!(s.contains(b"0") && s.contains(b"512"));
    }

    #[test]
    fn intset_to_listpack_to_hashtable() {
        let mut s = Set::new();
        s.insert(b"1");
        s.insert(b"2");
        assert_eq!(s.encoding(), "intset");
        s.insert(b"a");
        assert_eq!(s.encoding(), "listpack");
        assert_eq!(
            members(&s),
            vec![b"1".to_vec(), b"2".to_vec(), b"a".to_vec()]
        );
        for i in 0..125 {
            s.insert(format!("m{i}").as_bytes());
        }
        assert_eq!(s.len(), 128);
        assert_eq!(s.encoding(), "listpack");
        s.insert(b"one more");
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 129);
        // Never back.
        while s.pop_random().is_some() {}
        s.insert(b"1");
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn long_member_or_large_intset_skips_listpack() {
        let mut s = Set::new();
        s.insert(b"1");
        s.insert(&[b'x'; 65]);
        assert_eq!(s.encoding(), "hashtable");
        let mut s = Set::new();
        for i in 0..128 {
            s.insert(i.to_string().as_bytes());
        }
        s.insert(b"text");
        assert_eq!(s.encoding(), "hashtable");
        let mut s = Set::new();
        s.insert(b"short");
        s.insert(&[b'y'; 65]);
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn non_canonical_numbers_are_strings() {
        let mut s = Set::new();
        s.insert(b"1");
        assert!(!s.contains(b"01"));
        assert!(s.insert(b"01"));
        assert_eq!(s.encoding(), "listpack");
        assert!(s.contains(b"01") && s.contains(b"1"));
        assert!(s.contains_elem(Elem::Int(1)));
        assert!(s.remove(b"01"));
        assert!(!s.remove(b"01"));
    }

    #[test]
    fn remove_and_pop_in_every_encoding() {
        for extra in [None, Some(&b"x"[..]), Some(&[b'z'; 100][..])] {
            let mut s = Set::new();
            for i in 0..10 {
                s.insert(i.to_string().as_bytes());
            }
            if let Some(e) = extra {
                s.insert(e);
                assert!(s.remove(e));
            }
            assert!(s.remove(b"3"));
            assert!(!s.remove(b"3"));
            assert_eq!(s.len(), 9);
            let mut popped = Vec::new();
            while let Some(m) = s.pop_random() {
                popped.push(m);
            }
            popped.sort();
            let mut want: Vec<Vec<u8>> = [0, 1, 2, 4, 5, 6, 7, 8, 9]
                .iter()
                .map(|i: &i32| i.to_string().into_bytes())
                .collect();
            want.sort();
            assert_eq!(popped, want);
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let sets: Vec<Vec<Vec<u8>>> = vec![
            vec![],
            (0..5).map(|i: i32| i.to_string().into_bytes()).collect(),
            vec![b"a".to_vec(), b"-3".to_vec()],
            (0..300).map(|i| format!("m{i}").into_bytes()).collect(),
        ];
        for ms in sets {
            let mut s = Set::new();
            for m in &ms {
                s.insert(m);
            }
            let mut buf = Vec::new();
            s.encode(&mut buf);
            let back = Set::decode(&buf).expect("decodes");
            assert_eq!(members(&back), members(&s));
            assert_eq!(back.encoding(), s.encoding());
            assert!(Set::decode(&buf[..buf.len() - 1]).is_none());
        }
    }

    #[test]
    fn random_distinct_and_picks() {
        for n in [5usize, 100, 600] {
            let mut s = Set::new();
            for i in 0..n {
                s.insert(format!("{i}").as_bytes());
            }
            let mut u: Vec<Vec<u8>> = s.random_distinct(4).iter().map(|e| e.to_vec()).collect();
            u.sort();
            u.dedup();
            assert_eq!(u.len(), 4);
            assert_eq!(s.random_distinct(n + 1).len(), n);
            let picks: Vec<Vec<u8>> = s.random_picks(2 * n).map(|e| e.to_vec()).collect();
            assert_eq!(picks.len(), 2 * n);
            assert!(picks.iter().all(|m| s.contains(m)));
        }
    }
}
