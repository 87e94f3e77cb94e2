//! The list value type. A small list is one compact buffer ("listpack"); past
//! [`PACK_MAX_LEN`] elements or with an element longer than [`PACK_MAX_VALUE`] bytes it
//! becomes a deque of boxed elements ("quicklist"), which keeps both ends O(1) and indexing
//! O(1). A list that shrinks to half those limits is packed again, as Redis 7.2 does, so a
//! list hovering at the limit does not flip on every push and pop.

use std::collections::{vec_deque, VecDeque};

/// Most elements a packed list holds.
pub const PACK_MAX_LEN: usize = 128;
/// Longest element a packed list holds; also keeps each length in one byte.
pub const PACK_MAX_VALUE: usize = 64;

/// Which end of a list (LEFT / RIGHT in commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

#[derive(Debug, Clone)]
pub struct List {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Pack(Pack),
    Deque(VecDeque<Box<[u8]>>),
}

impl Default for List {
    fn default() -> Self {
        List {
            repr: Repr::Pack(Pack::default()),
        }
    }
}

impl List {
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.len,
            Repr::Deque(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Deque(_) => "quicklist",
        }
    }

    pub fn mem_usage(&self) -> usize {
        std::mem::size_of::<List>()
            + match &self.repr {
                Repr::Pack(p) => p.buf.capacity(),
                Repr::Deque(d) => {
                    d.capacity() * std::mem::size_of::<Box<[u8]>>()
                        + d.iter().map(|e| e.len()).sum::<usize>()
                }
            }
    }

    /// Elements from head to tail (reversible).
    pub fn iter(&self) -> Iter<'_> {
        self.range(0, self.len())
    }

    /// Elements `start..end` (clamped to the list).
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        let end = end.min(self.len());
        let start = start.min(end);
        match &self.repr {
            Repr::Pack(p) => {
                let (a, b) = (p.offset(start), p.offset(end));
                Iter::Pack(PackIter {
                    buf: &p.buf[a..b],
                    left: end - start,
                })
            }
            Repr::Deque(d) => Iter::Deque(d.range(start..end)),
        }
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len() {
            return None;
        }
        match &self.repr {
            Repr::Pack(p) => Some(p.entry_at(p.offset(i))),
            Repr::Deque(d) => d.get(i).map(|e| &**e),
        }
    }

    pub fn push(&mut self, end: End, v: &[u8]) {
        self.make_room(1, v);
        match (&mut self.repr, end) {
            (Repr::Pack(p), End::Head) => p.insert(0, v),
            (Repr::Pack(p), End::Tail) => p.insert(p.len, v),
            (Repr::Deque(d), End::Head) => d.push_front(v.into()),
            (Repr::Deque(d), End::Tail) => d.push_back(v.into()),
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Box<[u8]>> {
        let v = match (&mut self.repr, end) {
            (Repr::Pack(p), _) if p.len == 0 => None,
            (Repr::Pack(p), End::Head) => Some(p.remove(0)),
            (Repr::Pack(p), End::Tail) => Some(p.remove(p.len - 1)),
            (Repr::Deque(d), End::Head) => d.pop_front(),
            (Repr::Deque(d), End::Tail) => d.pop_back(),
        };
        self.maybe_pack();
        v
    }

    /// Replaces element `i`; false when `i` is out of range.
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        if i >= self.len() {
            return false;
        }
        self.make_room(0, v);
        match &mut self.repr {
            Repr::Pack(p) => p.replace(i, v),
            Repr::Deque(d) => d[i] = v.into(),
        }
        self.maybe_pack();
        true
    }

    /// Inserts `v` so that it becomes element `i` (`i <= len`).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        debug_assert!(i <= self.len());
        self.make_room(1, v);
        match &mut self.repr {
            Repr::Pack(p) => p.insert(i, v),
            Repr::Deque(d) => d.insert(i, v.into()),
        }
    }

    /// Keeps elements `start..end` only (LTRIM).
    pub fn trim(&mut self, start: usize, end: usize) {
        let end = end.min(self.len());
        let start = start.min(end);
        match &mut self.repr {
            Repr::Pack(p) => p.trim(start, end),
            Repr::Deque(d) => {
                d.truncate(end);
                d.drain(..start);
            }
        }
        self.maybe_pack();
    }

    /// Removes elements equal to `v` (LREM): the first `count` from the head when `count > 0`,
    /// the last `-count` when negative, all of them when 0. Returns how many went.
    pub fn remove_matching(&mut self, v: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
        };
        // From the tail: skip the matches nearer the head so the last `limit` go.
        let mut skip = if count < 0 {
            self.iter()
                .filter(|e| *e == v)
                .count()
                .saturating_sub(limit)
        } else {
            0
        };
        let mut removed = 0;
        let mut keep = |e: &[u8]| {
            if e != v || removed == limit {
                return true;
            }
            if skip > 0 {
                skip -= 1;
                return true;
            }
            removed += 1;
            false
        };
        match &mut self.repr {
            Repr::Pack(p) => p.retain(keep),
            Repr::Deque(d) => d.retain(|e| keep(e)),
        }
        self.maybe_pack();
        removed
    }

    /// Turns a packed list into a deque when `extra` more elements, one of them `v`, would
    /// exceed what a pack holds.
    fn make_room(&mut self, extra: usize, v: &[u8]) {
        if let Repr::Pack(p) = &self.repr {
            if p.len + extra > PACK_MAX_LEN || v.len() > PACK_MAX_VALUE {
                self.repr = Repr::Deque(p.iter().map(Box::from).collect());
            }
        }
    }

    /// Packs a deque that shrank to half the pack limits.
    fn maybe_pack(&mut self) {
        if let Repr::Deque(d) = &self.repr {
            if d.len() <= PACK_MAX_LEN / 2 && d.iter().all(|e| e.len() <= PACK_MAX_VALUE / 2) {
                self.repr = Repr::Pack(Pack::from_iter(d.iter().map(|e| &**e)));
            }
        }
    }

    /// Serialized form (see `types::codec`); must round-trip through `decode`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        super::codec::put_len(out, self.len());
        for e in self.iter() {
            super::codec::put_bytes(out, e);
        }
    }

    /// The inverse of [`List::encode`]; picks the encoding a list of that content has.
    pub fn decode(mut data: &[u8]) -> Option<Self> {
        let n = super::codec::get_len(&mut data)?;
        let mut items: VecDeque<Box<[u8]>> = VecDeque::with_capacity(n.min(1024));
        for _ in 0..n {
            items.push_back(super::codec::get_bytes(&mut data)?.into());
        }
        if !data.is_empty() {
            return None;
        }
        let packable = n <= PACK_MAX_LEN && items.iter().all(|e| e.len() <= PACK_MAX_VALUE);
        let repr = if packable {
            Repr::Pack(Pack::from_iter(items.iter().map(|e| &**e)))
        } else {
            Repr::Deque(items)
        };
        Some(List { repr })
    }
}

/// Elements of a list, head to tail; `.rev()` walks from the tail.
pub enum Iter<'a> {
    Pack(PackIter<'a>),
    Deque(vec_deque::Iter<'a, Box<[u8]>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Iter::Pack(p) => p.next(),
            Iter::Deque(d) => d.next().map(|e| &**e),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Pack(p) => p.size_hint(),
            Iter::Deque(d) => d.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Pack(p) => p.next_back(),
            Iter::Deque(d) => d.next_back().map(|e| &**e),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// The compact encoding: entries laid out as `[len][bytes][len]`. The trailing length lets
/// the tail be read backwards, like a listpack's back-length; lengths fit one byte because
/// entries are at most [`PACK_MAX_VALUE`] bytes.
#[derive(Debug, Clone, Default)]
struct Pack {
    buf: Vec<u8>,
    len: usize,
}

impl Pack {
    fn from_iter<'a>(items: impl Iterator<Item = &'a [u8]>) -> Pack {
        let mut p = Pack::default();
        for e in items {
            p.append(e);
        }
        p
    }

    fn iter(&self) -> PackIter<'_> {
        PackIter {
            buf: &self.buf,
            left: self.len,
        }
    }

    /// Byte offset of entry `i` (`i == len` gives the end), walking from the nearer end.
    fn offset(&self, i: usize) -> usize {
        if i <= self.len / 2 {
            (0..i).fold(0, |at, _| at + self.buf[at] as usize + 2)
        } else {
            (i..self.len).fold(self.buf.len(), |at, _| at - self.buf[at - 1] as usize - 2)
        }
    }

    fn entry_at(&self, at: usize) -> &[u8] {
        let n = self.buf[at] as usize;
        &self.buf[at + 1..at + 1 + n]
    }

    fn append(&mut self, v: &[u8]) {
        let n = v.len() as u8;
        self.buf.push(n);
        self.buf.extend_from_slice(v);
        self.buf.push(n);
        self.len += 1;
    }

    /// Encodes `v` as one entry into `scratch`, returning the bytes to splice in.
    fn entry(v: &[u8], scratch: &mut [u8; PACK_MAX_VALUE + 2]) -> usize {
        debug_assert!(v.len() <= PACK_MAX_VALUE);
        scratch[0] = v.len() as u8;
        scratch[1..=v.len()].copy_from_slice(v);
        scratch[v.len() + 1] = v.len() as u8;
        v.len() + 2
    }

    fn insert(&mut self, i: usize, v: &[u8]) {
        if i == self.len {
            return self.append(v);
        }
        let at = self.offset(i);
        let mut e = [0u8; PACK_MAX_VALUE + 2];
        let n = Self::entry(v, &mut e);
        self.buf.splice(at..at, e[..n].iter().copied());
        self.len += 1;
    }

    fn replace(&mut self, i: usize, v: &[u8]) {
        let at = self.offset(i);
        let old = self.buf[at] as usize + 2;
        let mut e = [0u8; PACK_MAX_VALUE + 2];
        let n = Self::entry(v, &mut e);
        self.buf.splice(at..at + old, e[..n].iter().copied());
    }

    fn remove(&mut self, i: usize) -> Box<[u8]> {
        let at = self.offset(i);
        let v: Box<[u8]> = self.entry_at(at).into();
        self.buf.drain(at..at + v.len() + 2);
        self.len -= 1;
        v
    }

    fn trim(&mut self, start: usize, end: usize) {
        let (a, b) = (self.offset(start), self.offset(end));
        self.buf.truncate(b);
        self.buf.drain(..a);
        self.len = end - start;
    }

    fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        let mut out = Pack {
            buf: Vec::with_capacity(self.buf.len()),
            len: 0,
        };
        for e in self.iter() {
            if keep(e) {
                out.append(e);
            }
        }
        *self = out;
    }
}

pub struct PackIter<'a> {
    buf: &'a [u8],
    left: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let n = self.buf[0] as usize;
        let (e, rest) = self.buf.split_at(n + 2);
        self.buf = rest;
        self.left -= 1;
        Some(&e[1..=n])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for PackIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let n = self.buf[self.buf.len() - 1] as usize;
        let (rest, e) = self.buf.split_at(self.buf.len() - n - 2);
        self.buf = rest;
        self.left -= 1;
        Some(&e[1..=n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(<[u8]>::to_vec).collect()
    }

    fn from(values: &[&str]) -> List {
        let mut l = List::default();
        for v in values {
            l.push(End::Tail, v.as_bytes());
        }
        l
    }

    fn strs(values: &[&str]) -> Vec<Vec<u8>> {
        values.iter().map(|v| v.as_bytes().to_vec()).collect()
    }

    /// Every operation, on both encodings, against a `VecDeque` model.
    #[test]
    fn operations_match_a_model_in_both_encodings() {
        for n in [40, 200] {
            let mut l = List::default();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for i in 0..n {
                let v = format!("v{}", i % 7).into_bytes();
                if i % 2 == 0 {
                    l.push(End::Head, &v);
                    model.push_front(v);
                } else {
                    l.push(End::Tail, &v);
                    model.push_back(v);
                }
            }
            let encoding = if n > PACK_MAX_LEN {
                "quicklist"
            } else {
                "listpack"
            };
            assert_eq!(l.encoding(), encoding);
            assert_eq!(items(&l), Vec::from(model.clone()));
            assert_eq!(l.iter().rev().count(), n);
            assert_eq!(
                l.iter().rev().map(<[u8]>::to_vec).collect::<Vec<_>>(),
                model.iter().rev().cloned().collect::<Vec<_>>()
            );
            assert_eq!(l.get(5), Some(&model[5][..]));
            assert_eq!(l.get(n - 1), Some(&model[n - 1][..]));
            assert_eq!(l.get(n), None);
            assert!(l.set(3, b"three"));
            model[3] = b"three".to_vec();
            assert!(!l.set(n, b"nope"));
            l.insert(10, b"ten");
            model.insert(10, b"ten".to_vec());
            l.insert(l.len(), b"last");
            model.push_back(b"last".to_vec());
            assert_eq!(l.pop(End::Tail).as_deref(), Some(&b"last"[..]));
            model.pop_back();
            assert_eq!(l.pop(End::Head), model.pop_front().map(Into::into));
            assert_eq!(
                l.range(2, 6).map(<[u8]>::to_vec).collect::<Vec<_>>(),
                model.range(2..6).cloned().collect::<Vec<_>>()
            );
            assert_eq!(l.remove_matching(b"v3", 2), 2);
            for _ in 0..2 {
                let at = model.iter().position(|e| e == b"v3").unwrap();
                model.remove(at);
            }
            assert_eq!(l.remove_matching(b"v4", -1), 1);
            let at = model.iter().rposition(|e| e == b"v4").unwrap();
            model.remove(at);
            let all_v5 = model.iter().filter(|e| *e == b"v5").count();
            assert_eq!(l.remove_matching(b"v5", 0), all_v5);
            model.retain(|e| e != b"v5");
            assert_eq!(items(&l), Vec::from(model.clone()));
            assert_eq!(l.encoding(), encoding);
            l.trim(3, 9);
            let trimmed: Vec<Vec<u8>> = model.range(3..9).cloned().collect();
            assert_eq!(items(&l), trimmed);
            assert_eq!(l.len(), 6);
            assert_eq!(l.encoding(), "listpack");
        }
    }

    #[test]
    fn remove_from_tail_takes_the_last_matches() {
        let mut l = from(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", -2), 2);
        assert_eq!(items(&l), strs(&["a", "b", "c"]));
        assert_eq!(l.remove_matching(b"z", 0), 0);
    }

    #[test]
    fn encoding_follows_length_and_element_size() {
        let mut l = List::default();
        for i in 0..PACK_MAX_LEN {
            l.push(End::Tail, i.to_string().as_bytes());
        }
        assert_eq!(l.encoding(), "listpack");
        l.push(End::Head, b"one more");
        assert_eq!(l.encoding(), "quicklist");
        assert_eq!(l.get(0), Some(&b"one more"[..]));
        assert_eq!(l.get(PACK_MAX_LEN), Some(&b"127"[..]));
        while l.len() > PACK_MAX_LEN / 2 + 1 {
            l.pop(End::Tail);
        }
        assert_eq!(l.encoding(), "quicklist");
        l.pop(End::Tail);
        assert_eq!(l.encoding(), "listpack");
        assert_eq!(l.get(0), Some(&b"one more"[..]));

        let mut l = from(&["a", "b"]);
        assert!(l.set(1, &[b'y'; PACK_MAX_VALUE]));
        assert_eq!(l.encoding(), "listpack");
        assert!(l.set(1, &[b'y'; PACK_MAX_VALUE + 1]));
        assert_eq!(l.encoding(), "quicklist");
        l.pop(End::Tail);
        assert_eq!(l.encoding(), "listpack");
        assert_eq!(items(&l), strs(&["a"]));
    }

    #[test]
    fn encode_decode_round_trip() {
        for l in [
            List::default(),
            from(&["a", "", "ccc"]),
            from(
                &(0..300)
                    .map(|i| if i == 7 { "" } else { "e" })
                    .collect::<Vec<_>>(),
            ),
        ] {
            let mut buf = Vec::new();
            l.encode(&mut buf);
            let back = List::decode(&buf).expect("decodes");
            assert_eq!(items(&back), items(&l));
            assert_eq!(back.encoding(), l.encoding());
        }
        let mut big = from(&["a"]);
        big.push(End::Tail, &[b'z'; 1000]);
        let mut buf = Vec::new();
        big.encode(&mut buf);
        let back = List::decode(&buf).unwrap();
        assert_eq!(back.encoding(), "quicklist");
        assert_eq!(items(&back), items(&big));
        assert!(List::decode(&buf[..buf.len() - 1]).is_none());
        buf.push(0);
        assert!(List::decode(&buf).is_none());
    }
}
