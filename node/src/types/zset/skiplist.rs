//! The large sorted-set encoding: Redis's skip list with spans (so rank lookups and rank
//! ranges are O(log n)) plus a chained hash index from member to node (O(1) ZSCORE), both
//! over one arena of nodes addressed by `u32` (the links a search walks in one array,
//! the rest of each node in a parallel one) — safe Rust, no pointers. The hash index is a
//! power-of-two bucket table that ZSCAN walks with Redis's reverse-binary cursor, so a full
//! scan returns every member that was present throughout, even across resizes.

use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::sync::OnceLock;

const MAX_LEVEL: usize = 32;
/// "No node": the end of a level, of a hash chain, or no predecessor.
const NIL: u32 = u32::MAX;
/// The header node: holds the level heads, never a member.
const HEAD: u32 = 0;
const MIN_BUCKETS: usize = 4;

#[derive(Debug, Clone, Copy, Default)]
struct Level {
    next: u32,
    /// Number of level-0 steps this link jumps (rank arithmetic).
    span: u32,
    /// The score of `next`, cached here so that a search deciding not to follow this link
    /// (and the score comparisons of those it follows) never loads the next node: on large
    /// sets each avoided load is a cache miss.
    score: f64,
}

/// Levels kept inside the node: only one node in 16 is taller. (Eight, in two lines, measured
/// slower: twice the footprint for the lower levels, where the misses are.)
const INLINE: usize = 4;

/// The inline levels of one node: the descent reads only these, one cache line per step
/// (a link's cached score decides whether to follow it without touching its target), in an
/// array of its own so that the lines a search walks are packed densely (fewer TLB and
/// cache misses than with the payload in between).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Links([Level; INLINE]);

/// The rest of a node, at the same index as its [`Links`]: read on a score tie, a hash
/// lookup, an insert next to it, or iteration.
#[derive(Debug, Clone)]
struct Node {
    member: Box<[u8]>,
    /// Levels `INLINE` and up (empty for almost every node: no allocation).
    upper: Box<[Level]>,
    score: f64,
    /// Level-0 predecessor (NIL for the first node): reverse iteration.
    prev: u32,
    /// Low 32 bits of the member's hash; picks the bucket.
    hash: u32,
    /// Next node in the same hash bucket.
    hnext: u32,
    /// Number of levels; 0 marks a free slot (and the header, which is never hashed).
    height: u32,
}

impl Node {
    fn height(&self) -> usize {
        self.height as usize
    }
}

#[derive(Debug, Clone)]
pub struct SkipList {
    links: Vec<Links>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    level: usize,
    len: usize,
    tail: u32,
    buckets: Vec<u32>,
    member_bytes: usize,
}

impl Default for SkipList {
    fn default() -> Self {
        Self::new()
    }
}

/// One process-wide hasher: clones of a set (COPY, RESTORE) hash alike, and the seed is
/// random so members cannot be chosen to collide.
fn hash_member(member: &[u8]) -> u32 {
    static STATE: OnceLock<hashbrown::DefaultHashBuilder> = OnceLock::new();
    STATE.get_or_init(Default::default).hash_one(member) as u32
}

/// Levels with p = 1/2 (Redis uses 1/4). A search is bound by cache misses on the lower
/// levels, whose nodes do not fit in cache: it follows (1 - p) / p links per level over
/// log(1/p) n levels, 1.44 ln n in all at p = 1/2 against 2.16 ln n at 1/4; the extra links
/// cost no extra misses as a node's inline levels share one cache line. One random word per
/// node: its trailing ones are the extra levels.
fn random_level() -> usize {
    (1 + fastrand::u32(..).trailing_ones() as usize).min(MAX_LEVEL)
}

/// The sort order: score, then member bytes.
pub fn cmp_entries(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    s1.partial_cmp(&s2)
        .unwrap_or(Ordering::Equal)
        .then_with(|| m1.cmp(m2))
}

impl SkipList {
    pub fn new() -> SkipList {
        let nil = Level {
            next: NIL,
            span: 0,
            score: 0.0,
        };
        let head = Node {
            member: Box::default(),
            upper: vec![nil; MAX_LEVEL - INLINE].into_boxed_slice(),
            score: 0.0,
            prev: NIL,
            hash: 0,
            hnext: NIL,
            height: 0,
        };
        SkipList {
            links: vec![Links([nil; INLINE])],
            nodes: vec![head],
            free: Vec::new(),
            level: 1,
            len: 0,
            tail: NIL,
            buckets: vec![NIL; MIN_BUCKETS],
            member_bytes: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn mem_usage(&self) -> usize {
        // Taller-than-inline nodes are one in 16, with two levels on average outside.
        std::mem::size_of::<SkipList>()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.links.capacity() * std::mem::size_of::<Links>()
            + self.len / 8 * std::mem::size_of::<Level>()
            + self.buckets.capacity() * 4
            + self.free.capacity() * 4
            + self.member_bytes
    }

    // ---- hash index ----

    fn bucket_of(&self, hash: u32) -> usize {
        hash as usize & (self.buckets.len() - 1)
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let hash = hash_member(member);
        let mut i = self.buckets[self.bucket_of(hash)];
        while i != NIL {
            let n = &self.nodes[i as usize];
            if n.hash == hash && *n.member == *member {
                return Some(i);
            }
            i = n.hnext;
        }
        None
    }

    fn hash_link(&mut self, idx: u32) {
        let b = self.bucket_of(self.nodes[idx as usize].hash);
        self.nodes[idx as usize].hnext = self.buckets[b];
        self.buckets[b] = idx;
    }

    fn hash_unlink(&mut self, idx: u32) {
        let b = self.bucket_of(self.nodes[idx as usize].hash);
        let next = self.nodes[idx as usize].hnext;
        if self.buckets[b] == idx {
            self.buckets[b] = next;
            return;
        }
        let mut i = self.buckets[b];
        while i != NIL {
            if self.nodes[i as usize].hnext == idx {
                self.nodes[i as usize].hnext = next;
                return;
            }
            i = self.nodes[i as usize].hnext;
        }
    }

    /// Rebuilds the bucket table at `size` (a power of two) in one go, so a scan cursor never
    /// sees a half-moved table. Walks the arena in slot order (sequential memory, unlike the
    /// list order).
    fn rehash(&mut self, size: usize) {
        let mask = size - 1;
        let mut buckets = vec![NIL; size];
        for (i, n) in self.nodes.iter_mut().enumerate() {
            if n.height != 0 {
                let b = n.hash as usize & mask;
                n.hnext = buckets[b];
                buckets[b] = i as u32;
            }
        }
        self.buckets = buckets;
    }

    fn grow_buckets(&mut self) {
        if self.len > self.buckets.len() {
            self.rehash(self.buckets.len() * 2);
        }
    }

    fn shrink_buckets(&mut self) {
        if self.buckets.len() > MIN_BUCKETS && self.len * 8 < self.buckets.len() {
            self.rehash((self.len * 2).next_power_of_two().max(MIN_BUCKETS));
        }
    }

    // ---- arena ----

    fn alloc(&mut self, member: Box<[u8]>, score: f64, level: usize) -> u32 {
        self.member_bytes += member.len();
        let upper = match level.checked_sub(INLINE) {
            Some(n) if n > 0 => vec![Level::default(); n].into_boxed_slice(),
            _ => Box::default(),
        };
        let node = Node {
            hash: hash_member(&member),
            member,
            upper,
            score,
            prev: NIL,
            hnext: NIL,
            height: level as u32,
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                self.links[i as usize] = Links::default();
                i
            }
            None => {
                assert!(self.nodes.len() < NIL as usize, "sorted set arena full");
                self.nodes.push(node);
                self.links.push(Links::default());
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Frees a slot and hands back what it held.
    fn release(&mut self, idx: u32) -> (Box<[u8]>, f64) {
        let n = &mut self.nodes[idx as usize];
        let member = std::mem::take(&mut n.member);
        n.upper = Box::default();
        n.height = 0;
        self.member_bytes -= member.len();
        self.free.push(idx);
        (member, n.score)
    }

    /// After many removals the arena is mostly holes: rebuild it dense (amortized O(1)).
    fn maybe_compact(&mut self) {
        if self.free.len() > 1024 && self.free.len() > 2 * self.len {
            let items: Vec<(Box<[u8]>, f64)> = self.drain_all();
            for (m, s) in items {
                self.insert(m, s);
            }
        } else {
            self.shrink_buckets();
        }
    }

    fn drain_all(&mut self) -> Vec<(Box<[u8]>, f64)> {
        let mut out = Vec::with_capacity(self.len);
        let mut x = self.links[HEAD as usize].0[0].next;
        while x != NIL {
            let n = &mut self.nodes[x as usize];
            x = self.links[x as usize].0[0].next;
            out.push((std::mem::take(&mut n.member), n.score));
        }
        *self = SkipList::new();
        out
    }

    // ---- ordered index ----

    fn next(&self, x: u32, level: usize) -> Level {
        match self.links[x as usize].0.get(level) {
            Some(l) => *l,
            None => self.nodes[x as usize].upper[level - INLINE],
        }
    }

    fn next_mut(&mut self, x: u32, level: usize) -> &mut Level {
        match self.links[x as usize].0.get_mut(level) {
            Some(l) => l,
            None => &mut self.nodes[x as usize].upper[level - INLINE],
        }
    }

    /// Whether the node `l` links to sorts before (score, member); the member is only
    /// loaded on a score tie.
    fn link_before(&self, l: Level, score: f64, member: &[u8]) -> Ordering {
        match l.score.partial_cmp(&score).unwrap_or(Ordering::Equal) {
            Ordering::Equal => (*self.nodes[l.next as usize].member).cmp(member),
            o => o,
        }
    }

    /// The rightmost node at each level that sorts before (score, member), and its rank.
    fn path_to(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let l = self.next(x, i);
                if l.next != NIL && self.link_before(l, score, member) == Ordering::Less {
                    rank[i] += l.span;
                    x = l.next;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// Inserts a member that is not present (callers check with [`SkipList::score`]).
    pub fn insert(&mut self, member: Box<[u8]>, score: f64) {
        debug_assert!(!score.is_nan());
        let (mut update, mut rank) = self.path_to(score, &member);
        let level = random_level();
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEAD;
                self.next_mut(HEAD, i).span = self.len as u32;
            }
            self.level = level;
        }
        let x = self.alloc(member, score, level);
        for i in 0..level {
            let u = update[i];
            let ul = self.next(u, i);
            *self.next_mut(x, i) = Level {
                next: ul.next,
                span: ul.span - (rank[0] - rank[i]),
                score: ul.score,
            };
            *self.next_mut(u, i) = Level {
                next: x,
                span: rank[0] - rank[i] + 1,
                score,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
            self.next_mut(u, i).span += 1;
        }
        self.nodes[x as usize].prev = if update[0] == HEAD { NIL } else { update[0] };
        match self.links[x as usize].0[0].next {
            NIL => self.tail = x,
            n => self.nodes[n as usize].prev = x,
        }
        self.len += 1;
        self.hash_link(x);
        self.grow_buckets();
    }

    /// Unlinks `x` from every level given the path to it (Redis's zslDeleteNode).
    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.next(u, i);
            if ul.next == x {
                let xl = self.next(x, i);
                *self.next_mut(u, i) = Level {
                    next: xl.next,
                    span: ul.span + xl.span - 1,
                    score: xl.score,
                };
            } else {
                self.next_mut(u, i).span -= 1;
            }
        }
        let next = self.links[x as usize].0[0].next;
        let prev = self.nodes[x as usize].prev;
        match next {
            NIL => self.tail = prev,
            n => self.nodes[n as usize].prev = prev,
        }
        while self.level > 1 && self.next(HEAD, self.level - 1).next == NIL {
            self.level -= 1;
        }
        self.len -= 1;
        self.hash_unlink(x);
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|i| self.nodes[i as usize].score)
    }

    /// Removes a member; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let idx = self.find(member)?;
        let score = self.nodes[idx as usize].score;
        let (update, _) = self.path_to(score, member);
        debug_assert_eq!(self.next(update[0], 0).next, idx);
        self.unlink(idx, &update);
        let (_, score) = self.release(idx);
        self.maybe_compact();
        Some(score)
    }

    /// Changes an existing member's score, in place when its position does not change.
    pub fn update(&mut self, member: &[u8], score: f64) {
        let Some(idx) = self.find(member) else {
            return;
        };
        let n = &self.nodes[idx as usize];
        let (old, prev, next) = (n.score, n.prev, self.links[idx as usize].0[0].next);
        let prev_ok = prev == NIL || {
            let p = &self.nodes[prev as usize];
            cmp_entries(p.score, &p.member, score, member) == Ordering::Less
        };
        let next_ok = next == NIL || {
            let m = &self.nodes[next as usize];
            cmp_entries(score, member, m.score, &m.member) == Ordering::Less
        };
        let (update, _) = self.path_to(old, member);
        if prev_ok && next_ok {
            // Same place: only the cached copies in the links to it change.
            let height = self.nodes[idx as usize].height();
            for (i, &u) in update.iter().enumerate().take(height) {
                self.next_mut(u, i).score = score;
            }
            self.nodes[idx as usize].score = score;
            return;
        }
        self.unlink(idx, &update);
        let (m, _) = self.release(idx);
        self.insert(m, score);
    }

    /// 0-based rank of a member in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let idx = self.find(member)?;
        let score = self.nodes[idx as usize].score;
        let mut rank = 0usize;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.next(x, i);
                if l.next == NIL || self.link_before(l, score, member) == Ordering::Greater {
                    break;
                }
                rank += l.span as usize;
                x = l.next;
            }
            if x == idx {
                return Some(rank - 1);
            }
        }
        None
    }

    /// How many leading elements satisfy `pred` (which must hold for a prefix of the order):
    /// the rank where a lex bound falls.
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.count_links(|l| pred(l.score, &self.nodes[l.next as usize].member))
    }

    /// [`SkipList::count_while`] for a predicate on scores alone: reads cached scores only.
    pub fn count_while_score(&self, pred: impl Fn(f64) -> bool) -> usize {
        self.count_links(|l| pred(l.score))
    }

    fn count_links(&self, follow: impl Fn(Level) -> bool) -> usize {
        let mut rank = 0usize;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.next(x, i);
                if l.next == NIL || !follow(l) {
                    break;
                }
                rank += l.span as usize;
                x = l.next;
            }
        }
        rank
    }

    /// The node at 0-based `rank`.
    fn node_at(&self, rank: usize) -> u32 {
        if rank >= self.len {
            return NIL;
        }
        let target = rank + 1;
        let mut traversed = 0usize;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.next(x, i);
                if l.next != NIL && traversed + l.span as usize <= target {
                    traversed += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
            if traversed == target {
                return x;
            }
        }
        NIL
    }

    pub fn get_rank(&self, rank: usize) -> Option<(&[u8], f64)> {
        match self.node_at(rank) {
            NIL => None,
            i => {
                let n = &self.nodes[i as usize];
                Some((&n.member, n.score))
            }
        }
    }

    /// Iterates from 0-based `rank` forward (or backward with `rev`).
    pub fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        Iter {
            list: self,
            at: self.node_at(rank),
            rev,
        }
    }

    /// Removes `count` elements starting at 0-based `start`, handing each to `f` in order.
    pub fn remove_ranks(
        &mut self,
        start: usize,
        count: usize,
        mut f: impl FnMut(Box<[u8]>, f64),
    ) -> usize {
        let mut update = [HEAD; MAX_LEVEL];
        let mut traversed = 0usize;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.next(x, i);
                if l.next != NIL && traversed + l.span as usize <= start {
                    traversed += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        let mut x = self.next(x, 0).next;
        let mut removed = 0;
        while x != NIL && removed < count {
            let next = self.next(x, 0).next;
            self.unlink(x, &update);
            let (m, s) = self.release(x);
            f(m, s);
            removed += 1;
            x = next;
        }
        self.maybe_compact();
        removed
    }

    /// One ZSCAN step over the hash buckets from `cursor`: visits whole buckets until about
    /// `count` members were seen; returns the next cursor (0 = done). Redis's dictScan
    /// cursor: increments the reversed bucket index, so buckets already visited stay visited
    /// when the table doubles or halves between calls.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        let mask = (self.buckets.len() - 1) as u64;
        let mut v = cursor;
        let mut seen = 0;
        let mut budget = count.saturating_mul(10).max(1);
        loop {
            let mut i = self.buckets[(v & mask) as usize];
            while i != NIL {
                let n = &self.nodes[i as usize];
                f(&n.member, n.score);
                seen += 1;
                i = n.hnext;
            }
            v |= !mask;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
            budget -= 1;
            if v == 0 || budget == 0 || seen >= count {
                return v;
            }
        }
    }

    /// Checks every invariant (tests): spans, back links, order, hash index.
    #[cfg(test)]
    pub fn check(&self) {
        let mut n = 0;
        let mut x = self.next(HEAD, 0).next;
        let mut prev = NIL;
        while x != NIL {
            let node = &self.nodes[x as usize];
            assert_eq!(node.prev, prev);
            if prev != NIL {
                let p = &self.nodes[prev as usize];
                assert_eq!(
                    cmp_entries(p.score, &p.member, node.score, &node.member),
                    Ordering::Less
                );
            }
            assert_eq!(self.find(&node.member), Some(x));
            assert_eq!(self.rank(&node.member), Some(n));
            n += 1;
            prev = x;
            x = self.links[x as usize].0[0].next;
        }
        assert_eq!(n, self.len);
        assert_eq!(self.tail, prev);
        for i in 0..self.level {
            let mut x = HEAD;
            let mut pos = 0usize;
            loop {
                let l = self.next(x, i);
                if l.next == NIL {
                    break;
                }
                pos += l.span as usize;
                assert_eq!(self.node_at(pos - 1), l.next);
                assert_eq!(
                    l.score.to_bits(),
                    self.nodes[l.next as usize].score.to_bits()
                );
                x = l.next;
            }
        }
    }
}

/// Walks the level-0 list from a node.
pub struct Iter<'a> {
    list: &'a SkipList,
    at: u32,
    rev: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at == NIL {
            return None;
        }
        let n = &self.list.nodes[self.at as usize];
        self.at = if self.rev {
            n.prev
        } else {
            self.list.links[self.at as usize].0[0].next
        };
        Some((&n.member, n.score))
    }
}
