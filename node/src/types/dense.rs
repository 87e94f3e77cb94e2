//! The "hashtable" encoding of large hashes and sets: elements in a dense Vec (O(1) random
//! picks for SPOP/SRANDMEMBER/HRANDFIELD, cache-friendly iteration) indexed by a hashbrown
//! table of positions. Each element keeps its 64-bit hash, which also orders HSCAN/SSCAN:
//! a cursor is a hash threshold, so an iteration never misses an element that stays present,
//! however the table grows or shrinks meanwhile.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// An element stored in a [`DenseTable`], found by its key.
pub trait Keyed {
    fn key(&self) -> &[u8];
    /// Heap bytes the element holds beyond its inline size.
    fn heap_size(&self) -> usize;
}

/// The hash of a key. One seed for the whole process, so that a scan cursor stays
/// meaningful across calls (and copies of the value); random, so that clients cannot aim
/// at collisions.
pub fn hash_key(key: &[u8]) -> u64 {
    static SEED: OnceLock<DefaultHashBuilder> = OnceLock::new();
    SEED.get_or_init(DefaultHashBuilder::default).hash_one(key)
}

#[derive(Debug, Clone)]
struct Slot<T> {
    hash: u64,
    item: T,
}

#[derive(Debug, Clone)]
pub struct DenseTable<T> {
    items: Vec<Slot<T>>,
    /// Positions into `items`.
    index: HashTable<u32>,
}

impl<T: Keyed> DenseTable<T> {
    pub fn with_capacity(n: usize) -> Self {
        DenseTable {
            items: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Position of `key`, if present.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        let items = &self.items;
        self.index
            .find(hash_key(key), |&i| items[i as usize].item.key() == key)
            .map(|&i| i as usize)
    }

    pub fn get(&self, key: &[u8]) -> Option<&T> {
        self.find(key).map(|i| &self.items[i].item)
    }

    /// The element at `pos` for an update that must keep its key.
    pub fn at_mut(&mut self, pos: usize) -> &mut T {
        &mut self.items[pos].item
    }

    pub fn at(&self, pos: usize) -> &T {
        &self.items[pos].item
    }

    /// Adds an element whose key is known to be absent.
    pub fn insert_new(&mut self, item: T) {
        let hash = hash_key(item.key());
        let pos = u32::try_from(self.items.len()).expect("fewer than 2^32 elements");
        let items = &self.items;
        self.index
            .insert_unique(hash, pos, |&i| items[i as usize].hash);
        self.items.push(Slot { hash, item });
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<T> {
        let pos = self.find(key)?;
        Some(self.remove_at(pos))
    }

    /// Removes the element at `pos`; the last element takes its place.
    pub fn remove_at(&mut self, pos: usize) -> T {
        let hash = self.items[pos].hash;
        if let Ok(e) = self.index.find_entry(hash, |&i| i as usize == pos) {
            e.remove();
        }
        let last = self.items.len() - 1;
        if pos != last {
            let last_hash = self.items[last].hash;
            if let Some(i) = self.index.find_mut(last_hash, |&i| i as usize == last) {
                *i = pos as u32;
            }
        }
        let removed = self.items.swap_remove(pos).item;
        self.maybe_shrink();
        removed
    }

    /// Gives memory back once the table is mostly empty (as Redis resizes its dicts).
    fn maybe_shrink(&mut self) {
        let len = self.items.len();
        if self.items.capacity() > 64 && len * 8 < self.items.capacity() {
            self.items.shrink_to(len * 2);
            let items = &self.items;
            self.index.shrink_to(len * 2, |&i| items[i as usize].hash);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.items.iter().map(|s| &s.item)
    }

    /// One scan step from hash threshold `cursor` (0 starts): the elements with the smallest
    /// hashes >= `cursor`, in hash order, about `count` of them (never splitting elements of
    /// equal hash), and the next cursor (0 when done). Each step costs a pass over the table,
    /// so large tables return proportionally larger batches, as COUNT is only a hint.
    pub fn scan(&self, cursor: u64, count: usize) -> (Vec<&T>, u64) {
        let want = count.max(self.items.len() / 128).max(1);
        let mut heap: BinaryHeap<(u64, usize)> =
            BinaryHeap::with_capacity(want.min(self.items.len()) + 1);
        let mut left_out = false;
        for (i, s) in self.items.iter().enumerate() {
            if s.hash < cursor {
                continue;
            }
            if heap.len() < want {
                heap.push((s.hash, i));
                continue;
            }
            left_out = true;
            if heap.peek().is_some_and(|&top| (s.hash, i) < top) {
                heap.pop();
                heap.push((s.hash, i));
            }
        }
        let mut picked = heap.into_sorted_vec();
        let Some(&(last, _)) = picked.last() else {
            return (Vec::new(), 0);
        };
        if !left_out {
            return (
                picked.iter().map(|&(_, i)| &self.items[i].item).collect(),
                0,
            );
        }
        // The next cursor starts after `last`: any element left out with that same hash must
        // come now or never.
        let ties: Vec<(u64, usize)> = self
            .items
            .iter()
            .enumerate()
            .filter(|(i, s)| s.hash == last && !picked.contains(&(last, *i)))
            .map(|(i, s)| (s.hash, i))
            .collect();
        picked.extend(ties);
        let next = last.checked_add(1).unwrap_or(0);
        (
            picked.iter().map(|&(_, i)| &self.items[i].item).collect(),
            next,
        )
    }

    /// Heap bytes: the element vector, the index and what the elements hold.
    pub fn mem_usage(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<Slot<T>>()
            + self.index.allocation_size()
            + self.items.iter().map(|s| s.item.heap_size()).sum::<usize>()
    }
}

/// `count` distinct positions out of `0..size` (`count <= size`), in random order: the
/// sampling behind HRANDFIELD and SRANDMEMBER with a positive count.
pub fn distinct_positions(size: usize, count: usize) -> Vec<usize> {
    debug_assert!(count <= size);
    if count * 3 > size {
        // Most of the range is wanted: a partial shuffle of all positions.
        let mut all: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = fastrand::usize(i..size);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        // A small share: draw until enough distinct ones came up.
        let mut seen = hashbrown::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let i = fastrand::usize(..size);
            if seen.insert(i) {
                out.push(i);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Keyed for Vec<u8> {
        fn key(&self) -> &[u8] {
            self
        }
        fn heap_size(&self) -> usize {
            self.capacity()
        }
    }

    #[test]
    fn insert_find_remove_keeps_index_consistent() {
        let mut t: DenseTable<Vec<u8>> = DenseTable::with_capacity(0);
        for i in 0..1000 {
            t.insert_new(format!("k{i}").into_bytes());
        }
        for i in (0..1000).step_by(3) {
            assert_eq!(
                t.remove(format!("k{i}").as_bytes()),
                Some(format!("k{i}").into_bytes())
            );
        }
        for i in 0..1000u32 {
            let present = t.get(format!("k{i}").as_bytes()).is_some();
            assert_eq!(present, !i.is_multiple_of(3), "k{i}");
        }
        while !t.is_empty() {
            t.remove_at(0);
        }
        assert!(t.find(b"k1").is_none());
    }

    #[test]
    fn distinct_positions_are_distinct_and_in_range() {
        for (size, count) in [(10, 10), (10, 9), (100, 5), (1, 1), (5, 0)] {
            let mut p = distinct_positions(size, count);
            assert_eq!(p.len(), count);
            p.sort_unstable();
            p.dedup();
            assert_eq!(p.len(), count);
            assert!(p.iter().all(|&i| i < size));
        }
    }

    #[test]
    fn scan_visits_everything_despite_changes() {
        let mut t: DenseTable<Vec<u8>> = DenseTable::with_capacity(0);
        for i in 0..500 {
            t.insert_new(format!("m{i}").into_bytes());
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0u32;
        loop {
            let (batch, next) = t.scan(cursor, 7);
            seen.extend(batch.into_iter().cloned());
            // Grow and shrink between steps: elements present throughout must still come.
            t.insert_new(format!("extra{round}").into_bytes());
            if round.is_multiple_of(2) {
                t.remove(format!("extra{round}").as_bytes());
            }
            round += 1;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        for i in 0..500 {
            assert!(seen.contains(format!("m{i}").as_bytes()), "m{i} missed");
        }
    }
}
