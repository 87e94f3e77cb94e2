//! The large sorted-set encoding (Redis's "skiplist"): an order-statistic B+tree over
//! (score, member id) for the order, plus a chained hash index from member to id (O(1)
//! ZSCORE), both over one arena of members addressed by `u32` — safe Rust, no pointers.
//!
//! Inner nodes keep the element count under each child, so rank lookups, get-by-rank and
//! rank ranges are O(log n). A leaf keeps its scores contiguous: a search compares doubles
//! in a few cache lines and loads member bytes only on a score tie, where a skip list takes a
//! cache miss per link on a large set. The hash index is a power-of-two bucket table that
//! ZSCAN walks with Redis's reverse-binary cursor, so a full scan returns every member that
//! was present throughout, even across resizes.

use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// "No entry": the end of a hash chain or of the leaf list.
const NIL: u32 = u32::MAX;
/// Marks a free arena slot, in place of its hash chain link.
const FREE: u32 = u32::MAX - 1;
const MIN_BUCKETS: usize = 4;

/// Entries per leaf (32 scores: four cache lines) and children per inner node; picked, not
/// tuned. At 1M random members the inner nodes take about 1 MB, so mostly stay in cache.
const LEAF_CAP: usize = 32;
const LEAF_MIN: usize = LEAF_CAP / 2;
const INNER_CAP: usize = 32;
const INNER_MIN: usize = INNER_CAP / 2;
/// Inner levels: 16^8 entries at minimum fill is past the `u32` arena.
const MAX_DEPTH: usize = 10;

/// One member: the arena slot its id names. One cache line, with the bytes of members up
/// to [`INLINE_MEMBER`] long: a hash lookup or a tie on score then takes one cache miss
/// per entry, not two.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
struct Entry {
    score: f64,
    /// Low 32 bits of the member's hash; picks the bucket.
    hash: u32,
    /// Next entry in the same hash bucket; `FREE` for a free slot.
    hnext: u32,
    member: Member,
}

const INLINE_MEMBER: usize = 46;
const _: () = assert!(std::mem::size_of::<Entry>() == 64);

/// A member's bytes: inside the entry when short (the usual case), else on the heap.
#[derive(Debug, Clone)]
enum Member {
    Inline { len: u8, bytes: [u8; INLINE_MEMBER] },
    Heap(Box<[u8]>),
}

impl Default for Member {
    fn default() -> Self {
        Member::Inline {
            len: 0,
            bytes: [0; INLINE_MEMBER],
        }
    }
}

impl Member {
    fn new(m: &[u8]) -> Member {
        if m.len() <= INLINE_MEMBER {
            let mut bytes = [0; INLINE_MEMBER];
            bytes[..m.len()].copy_from_slice(m);
            Member::Inline {
                len: m.len() as u8,
                bytes,
            }
        } else {
            Member::Heap(m.into())
        }
    }

    fn from_box(m: Box<[u8]>) -> Member {
        if m.len() <= INLINE_MEMBER {
            Member::new(&m)
        } else {
            Member::Heap(m)
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Member::Inline { len, bytes } => &bytes[..*len as usize],
            Member::Heap(b) => b,
        }
    }

    fn into_box(self) -> Box<[u8]> {
        match self {
            Member::Inline { len, bytes } => bytes[..len as usize].into(),
            Member::Heap(b) => b,
        }
    }

    /// Bytes outside the entry.
    fn heap_len(&self) -> usize {
        match self {
            Member::Inline { .. } => 0,
            Member::Heap(b) => b.len(),
        }
    }
}

#[derive(Debug, Clone)]
#[repr(C, align(64))]
struct Leaf {
    /// In order; the slots past `len` hold +inf.
    scores: [f64; LEAF_CAP],
    ids: [u32; LEAF_CAP],
    len: u32,
    prev: u32,
    next: u32,
}

impl Leaf {
    fn empty() -> Leaf {
        Leaf {
            scores: [f64::INFINITY; LEAF_CAP],
            ids: [NIL; LEAF_CAP],
            len: 0,
            prev: NIL,
            next: NIL,
        }
    }

    fn len(&self) -> usize {
        self.len as usize
    }

    fn key(&self, i: usize) -> (f64, u32) {
        (self.scores[i], self.ids[i])
    }

    /// Keeps the first `n` entries; the free slots' scores go back to +inf.
    fn truncate(&mut self, n: usize) {
        self.scores[n..].fill(f64::INFINITY);
        self.len = n as u32;
    }
}

#[derive(Debug, Clone)]
#[repr(C, align(64))]
struct Inner {
    /// `(scores[i], ids[i])` is the smallest entry under `children[i]`, for `i >= 1`; slot 0
    /// is not kept up to date (the ancestors hold that key). Slots past `len` score +inf.
    scores: [f64; INNER_CAP],
    ids: [u32; INNER_CAP],
    children: [u32; INNER_CAP],
    /// Entries under each child.
    counts: [u32; INNER_CAP],
    len: u32,
}

impl Inner {
    fn empty() -> Inner {
        Inner {
            scores: [f64::INFINITY; INNER_CAP],
            ids: [NIL; INNER_CAP],
            children: [NIL; INNER_CAP],
            counts: [0; INNER_CAP],
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len as usize
    }

    /// Keeps the first `n` children; the free slots' scores go back to +inf.
    fn truncate(&mut self, n: usize) {
        self.scores[n..].fill(f64::INFINITY);
        self.len = n as u32;
    }

    fn total(&self) -> u32 {
        self.counts[..self.len()].iter().sum()
    }

    fn set_key(&mut self, i: usize, (score, id): (f64, u32)) {
        self.scores[i] = score;
        self.ids[i] = id;
    }

    /// Opens slot `at` for a child.
    fn insert(&mut self, at: usize, key: (f64, u32), child: u32, count: u32) {
        let n = self.len();
        self.scores.copy_within(at..n, at + 1);
        self.ids.copy_within(at..n, at + 1);
        self.children.copy_within(at..n, at + 1);
        self.counts.copy_within(at..n, at + 1);
        self.set_key(at, key);
        self.children[at] = child;
        self.counts[at] = count;
        self.len += 1;
    }

    fn remove(&mut self, at: usize) {
        let n = self.len();
        self.scores.copy_within(at + 1..n, at);
        self.ids.copy_within(at + 1..n, at);
        self.children.copy_within(at + 1..n, at);
        self.counts.copy_within(at + 1..n, at);
        self.truncate(n - 1);
    }
}

/// The inner nodes from the root down to a leaf, and the child taken at each.
#[derive(Clone, Copy)]
struct Path {
    node: [u32; MAX_DEPTH],
    idx: [u32; MAX_DEPTH],
}

impl Path {
    fn new() -> Path {
        Path {
            node: [NIL; MAX_DEPTH],
            idx: [0; MAX_DEPTH],
        }
    }
}

/// What a search looks for: `id` is the key's own entry (`NIL` for a member not yet in the
/// arena), so that comparing with it needs no member bytes.
#[derive(Clone, Copy)]
struct Key<'a> {
    score: f64,
    member: &'a [u8],
    id: u32,
}

#[derive(Debug, Clone)]
pub struct RankTree {
    entries: Vec<Entry>,
    free: Vec<u32>,
    leaves: Vec<Leaf>,
    free_leaves: Vec<u32>,
    inners: Vec<Inner>,
    free_inners: Vec<u32>,
    /// A leaf when `height` is 0, else an inner node.
    root: u32,
    /// Inner levels above the leaves.
    height: usize,
    len: usize,
    buckets: Vec<u32>,
    /// Member bytes on the heap (not inline).
    member_bytes: usize,
}

impl Default for RankTree {
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

/// The sort order: score, then member bytes.
pub fn cmp_entries(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    s1.partial_cmp(&s2)
        .unwrap_or(Ordering::Equal)
        .then_with(|| m1.cmp(m2))
}

/// The first index in `lo..hi` where `pred` fails (it holds on a prefix).
fn partition(mut lo: usize, mut hi: usize, pred: impl Fn(usize) -> bool) -> usize {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// How many of `scores` are below and at most `s`: branch-free over the whole node (free
/// slots hold +inf), so that it vectorizes and does not wait for the node's length to load.
fn count_lt_le(scores: &[f64], s: f64) -> (usize, usize) {
    let lt = scores.iter().map(|&x| (x < s) as usize).sum();
    let le = scores.iter().map(|&x| (x <= s) as usize).sum();
    (lt, le)
}

/// Sizes for splitting `n` items into the fewest chunks of at most `cap`, evenly.
fn chunks(n: usize, cap: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let k = n.div_ceil(cap).max(1);
    (0..k).map(move |c| c * n / k..(c + 1) * n / k)
}

impl RankTree {
    pub fn new() -> RankTree {
        RankTree {
            entries: Vec::new(),
            free: Vec::new(),
            leaves: vec![Leaf::empty()],
            free_leaves: Vec::new(),
            inners: Vec::new(),
            free_inners: Vec::new(),
            root: 0,
            height: 0,
            len: 0,
            buckets: vec![NIL; MIN_BUCKETS],
            member_bytes: 0,
        }
    }

    /// Builds from (member, score) pairs in order with distinct members: full leaves, no
    /// searching.
    pub fn from_sorted(items: Vec<(Box<[u8]>, f64)>) -> RankTree {
        RankTree::build(
            items
                .into_iter()
                .map(|(member, score)| Entry {
                    score,
                    hash: hash_member(&member),
                    hnext: NIL,
                    member: Member::from_box(member),
                })
                .collect(),
        )
    }

    /// [`RankTree::from_sorted`] from entries already made.
    fn build(entries: Vec<Entry>) -> RankTree {
        let mut t = RankTree::new();
        let n = entries.len();
        if n == 0 {
            return t;
        }
        assert!(n < FREE as usize, "sorted set arena full");
        t.entries = entries;
        debug_assert!(t.entries.windows(2).all(|w| cmp_entries(
            w[0].score,
            w[0].member.as_slice(),
            w[1].score,
            w[1].member.as_slice()
        ) == Ordering::Less));
        t.member_bytes = t.entries.iter().map(|e| e.member.heap_len()).sum();
        t.len = n;
        t.leaves.clear();
        // (node, entries under it, its smallest key) for each node of the level being built.
        let mut level: Vec<(u32, u32, (f64, u32))> = Vec::new();
        for r in chunks(n, LEAF_CAP) {
            let mut leaf = Leaf::empty();
            for (j, i) in r.clone().enumerate() {
                leaf.scores[j] = t.entries[i].score;
                leaf.ids[j] = i as u32;
            }
            leaf.len = r.len() as u32;
            let id = t.leaves.len() as u32;
            if id > 0 {
                leaf.prev = id - 1;
                t.leaves[id as usize - 1].next = id;
            }
            t.leaves.push(leaf);
            level.push((
                id,
                r.len() as u32,
                (t.entries[r.start].score, r.start as u32),
            ));
        }
        while level.len() > 1 {
            let mut up = Vec::new();
            for r in chunks(level.len(), INNER_CAP) {
                let mut node = Inner::empty();
                for (j, &(child, count, key)) in level[r.clone()].iter().enumerate() {
                    node.set_key(j, key);
                    node.children[j] = child;
                    node.counts[j] = count;
                }
                node.len = r.len() as u32;
                up.push((t.inners.len() as u32, node.total(), level[r.start].2));
                t.inners.push(node);
            }
            level = up;
            t.height += 1;
        }
        t.root = level[0].0;
        t.rehash(n.next_power_of_two().max(MIN_BUCKETS));
        t
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn mem_usage(&self) -> usize {
        std::mem::size_of::<RankTree>()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.leaves.capacity() * std::mem::size_of::<Leaf>()
            + self.inners.capacity() * std::mem::size_of::<Inner>()
            + (self.free.capacity() + self.free_leaves.capacity() + self.free_inners.capacity()) * 4
            + self.buckets.capacity() * 4
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
            let e = &self.entries[i as usize];
            if e.hash == hash && e.member.as_slice() == member {
                return Some(i);
            }
            i = e.hnext;
        }
        None
    }

    fn hash_link(&mut self, id: u32) {
        let b = self.bucket_of(self.entries[id as usize].hash);
        self.entries[id as usize].hnext = self.buckets[b];
        self.buckets[b] = id;
    }

    fn hash_unlink(&mut self, id: u32) {
        let b = self.bucket_of(self.entries[id as usize].hash);
        let next = self.entries[id as usize].hnext;
        if self.buckets[b] == id {
            self.buckets[b] = next;
            return;
        }
        let mut i = self.buckets[b];
        while i != NIL {
            if self.entries[i as usize].hnext == id {
                self.entries[i as usize].hnext = next;
                return;
            }
            i = self.entries[i as usize].hnext;
        }
    }

    /// Rebuilds the bucket table at `size` (a power of two) in one go, so a scan cursor never
    /// sees a half-moved table.
    fn rehash(&mut self, size: usize) {
        let mask = size - 1;
        let mut buckets = vec![NIL; size];
        for (i, e) in self.entries.iter_mut().enumerate() {
            if e.hnext != FREE {
                let b = e.hash as usize & mask;
                e.hnext = buckets[b];
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

    // ---- arenas ----

    fn alloc(&mut self, member: &[u8], score: f64) -> u32 {
        let e = Entry {
            score,
            hash: hash_member(member),
            hnext: NIL,
            member: Member::new(member),
        };
        self.member_bytes += e.member.heap_len();
        match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = e;
                i
            }
            None => {
                assert!(self.entries.len() < FREE as usize, "sorted set arena full");
                self.entries.push(e);
                (self.entries.len() - 1) as u32
            }
        }
    }

    /// Frees an entry already out of the tree and the hash index; hands back what it held.
    fn release(&mut self, id: u32) -> (Member, f64) {
        let e = &mut self.entries[id as usize];
        let member = std::mem::take(&mut e.member);
        e.hnext = FREE;
        self.member_bytes -= member.heap_len();
        self.free.push(id);
        (member, e.score)
    }

    fn new_leaf(&mut self) -> u32 {
        match self.free_leaves.pop() {
            Some(i) => {
                self.leaves[i as usize] = Leaf::empty();
                i
            }
            None => {
                self.leaves.push(Leaf::empty());
                (self.leaves.len() - 1) as u32
            }
        }
    }

    fn new_inner(&mut self) -> u32 {
        match self.free_inners.pop() {
            Some(i) => {
                self.inners[i as usize] = Inner::empty();
                i
            }
            None => {
                self.inners.push(Inner::empty());
                (self.inners.len() - 1) as u32
            }
        }
    }

    /// After many removals the arena is mostly holes: rebuild it dense, in order
    /// (amortized O(1)).
    fn maybe_compact(&mut self) {
        if self.free.len() > 1024 && self.free.len() > 2 * self.len {
            let mut entries = Vec::with_capacity(self.len);
            let mut at = self.first_leaf();
            while at != NIL {
                let leaf = &self.leaves[at as usize];
                for &id in &leaf.ids[..leaf.len()] {
                    let e = &mut self.entries[id as usize];
                    entries.push(Entry {
                        member: std::mem::take(&mut e.member),
                        hnext: NIL,
                        ..*e
                    });
                }
                at = leaf.next;
            }
            *self = RankTree::build(entries);
        } else {
            self.shrink_buckets();
        }
    }

    // ---- searching ----

    /// Whether the entry (`score`, `id`) sorts at or before `k`.
    fn at_or_before(&self, score: f64, id: u32, k: &Key) -> bool {
        if score != k.score {
            return score < k.score;
        }
        id == k.id || self.entries[id as usize].member.as_slice() <= k.member
    }

    /// Whether the entry (`score`, `id`) sorts before `k`.
    fn before(&self, score: f64, id: u32, k: &Key) -> bool {
        if score != k.score {
            return score < k.score;
        }
        id != k.id && self.entries[id as usize].member.as_slice() < k.member
    }

    /// The child of `n` whose range holds `k`: the number of its keys at or before `k`.
    fn child_for(&self, n: &Inner, k: &Key) -> usize {
        let keys = &n.scores[1..];
        let (lt, le) = count_lt_le(keys, k.score);
        let le = le.min(n.len() - 1);
        if lt == le {
            return lt;
        }
        partition(lt, le, |j| self.at_or_before(keys[j], n.ids[j + 1], k))
    }

    /// Where `k` goes in `leaf`: the number of its entries before `k`.
    fn leaf_pos(&self, leaf: u32, k: &Key) -> usize {
        let l = &self.leaves[leaf as usize];
        let (lt, le) = count_lt_le(&l.scores, k.score);
        let le = le.min(l.len());
        if lt == le {
            return lt;
        }
        partition(lt, le, |j| self.before(l.scores[j], l.ids[j], k))
    }

    fn leaf_index(&self, leaf: u32, id: u32) -> usize {
        let l = &self.leaves[leaf as usize];
        l.ids[..l.len()]
            .iter()
            .position(|&x| x == id)
            .expect("entry in its leaf")
    }

    /// The leaf whose range holds `k`, the path to it, and the entries in leaves before it.
    fn descend(&self, k: &Key) -> (Path, u32, usize) {
        let mut path = Path::new();
        let mut rank = 0usize;
        let mut x = self.root;
        for d in 0..self.height {
            let n = &self.inners[x as usize];
            let c = self.child_for(n, k);
            rank += n.counts[..c].iter().sum::<u32>() as usize;
            path.node[d] = x;
            path.idx[d] = c as u32;
            x = n.children[c];
        }
        (path, x, rank)
    }

    /// The leaf and slot of 0-based `rank` (< len), and the path to it.
    fn descend_rank(&self, rank: usize) -> (Path, u32, usize) {
        let mut path = Path::new();
        let mut r = rank as u32;
        let mut x = self.root;
        for d in 0..self.height {
            let n = &self.inners[x as usize];
            let mut c = 0;
            while r >= n.counts[c] {
                r -= n.counts[c];
                c += 1;
            }
            path.node[d] = x;
            path.idx[d] = c as u32;
            x = n.children[c];
        }
        (path, x, r as usize)
    }

    fn first_leaf(&self) -> u32 {
        let mut x = self.root;
        for _ in 0..self.height {
            x = self.inners[x as usize].children[0];
        }
        x
    }

    /// The entry before (or with `next`, after) slot `pos` of `leaf`.
    fn neighbor(&self, leaf: u32, pos: usize, next: bool) -> Option<(f64, u32)> {
        let l = &self.leaves[leaf as usize];
        if next {
            if pos + 1 < l.len() {
                Some(l.key(pos + 1))
            } else if l.next != NIL {
                Some(self.leaves[l.next as usize].key(0))
            } else {
                None
            }
        } else if pos > 0 {
            Some(l.key(pos - 1))
        } else if l.prev != NIL {
            let p = &self.leaves[l.prev as usize];
            Some(p.key(p.len() - 1))
        } else {
            None
        }
    }

    /// The deepest level on `path` that took a child other than the first: where the
    /// smallest key of the leaf at its end is kept (none on the leftmost path).
    fn separator_level(&self, path: &Path) -> Option<usize> {
        (0..self.height).rev().find(|&d| path.idx[d] != 0)
    }

    // ---- inserting ----

    /// Inserts a member that is not present (callers check with [`RankTree::score`]).
    pub fn insert(&mut self, member: &[u8], score: f64) {
        debug_assert!(!score.is_nan());
        let k = Key {
            score,
            member,
            id: NIL,
        };
        let (path, leaf, _) = self.descend(&k);
        let pos = self.leaf_pos(leaf, &k);
        let id = self.alloc(member, score);
        self.insert_at(&path, leaf, pos, score, id);
        self.len += 1;
        self.hash_link(id);
        self.grow_buckets();
    }

    /// Puts entry `id` at slot `pos` of `leaf`, splitting full nodes up the path.
    fn insert_at(&mut self, path: &Path, leaf: u32, pos: usize, score: f64, id: u32) {
        for d in 0..self.height {
            self.inners[path.node[d] as usize].counts[path.idx[d] as usize] += 1;
        }
        let l = &mut self.leaves[leaf as usize];
        let n = l.len();
        if n < LEAF_CAP {
            l.scores.copy_within(pos..n, pos + 1);
            l.ids.copy_within(pos..n, pos + 1);
            l.scores[pos] = score;
            l.ids[pos] = id;
            l.len += 1;
            return;
        }
        let mut right = self.split_leaf(leaf, pos, score, id);
        let mut sep = self.leaves[right as usize].key(0);
        let mut left_count = self.leaves[leaf as usize].len;
        let mut right_count = self.leaves[right as usize].len;
        for d in (0..self.height).rev() {
            let (p, i) = (path.node[d], path.idx[d] as usize);
            let node = &mut self.inners[p as usize];
            node.counts[i] = left_count;
            if node.len() < INNER_CAP {
                node.insert(i + 1, sep, right, right_count);
                return;
            }
            let rightmost =
                (0..d).all(|e| path.idx[e] + 1 == self.inners[path.node[e] as usize].len);
            let leftmost = (0..d).all(|e| path.idx[e] == 0);
            let q = self.split_inner(p, i + 1, (sep, right, right_count), rightmost, leftmost);
            left_count = self.inners[p as usize].total();
            right_count = self.inners[q as usize].total();
            sep = (
                self.inners[q as usize].scores[0],
                self.inners[q as usize].ids[0],
            );
            right = q;
        }
        let r = self.new_inner();
        let node = &mut self.inners[r as usize];
        node.children[0] = self.root;
        node.counts[0] = left_count;
        node.len = 1;
        node.insert(1, sep, right, right_count);
        self.root = r;
        self.height += 1;
        assert!(self.height < MAX_DEPTH, "sorted set too deep");
    }

    /// Splits the full `leaf` while inserting (`score`, `id`) at `pos`; returns the new right
    /// leaf. At either end of the order the split is lopsided, so that ascending (or
    /// descending) inserts fill leaves instead of leaving them half empty.
    fn split_leaf(&mut self, leaf: u32, pos: usize, score: f64, id: u32) -> u32 {
        let old = &self.leaves[leaf as usize];
        let mut scores = [0.0; LEAF_CAP + 1];
        let mut ids = [0u32; LEAF_CAP + 1];
        scores[..pos].copy_from_slice(&old.scores[..pos]);
        ids[..pos].copy_from_slice(&old.ids[..pos]);
        scores[pos] = score;
        ids[pos] = id;
        scores[pos + 1..].copy_from_slice(&old.scores[pos..]);
        ids[pos + 1..].copy_from_slice(&old.ids[pos..]);
        let keep = if pos == LEAF_CAP && old.next == NIL {
            LEAF_CAP
        } else if pos == 0 && old.prev == NIL {
            1
        } else {
            LEAF_CAP.div_ceil(2)
        };
        let next = old.next;
        let r = self.new_leaf();
        let moved = LEAF_CAP + 1 - keep;
        let rl = &mut self.leaves[r as usize];
        rl.scores[..moved].copy_from_slice(&scores[keep..]);
        rl.ids[..moved].copy_from_slice(&ids[keep..]);
        rl.len = moved as u32;
        rl.prev = leaf;
        rl.next = next;
        if next != NIL {
            self.leaves[next as usize].prev = r;
        }
        let l = &mut self.leaves[leaf as usize];
        l.scores[..keep].copy_from_slice(&scores[..keep]);
        l.ids[..keep].copy_from_slice(&ids[..keep]);
        l.truncate(keep);
        l.next = r;
        r
    }

    /// Splits the full inner node `p` while inserting a child at `at`; returns the new right
    /// node, whose slot-0 key is the separator for the parent. Lopsided at the ends of the
    /// order, as leaves are (but leaving two children, so every node has a sibling).
    fn split_inner(
        &mut self,
        p: u32,
        at: usize,
        (key, child, count): ((f64, u32), u32, u32),
        rightmost: bool,
        leftmost: bool,
    ) -> u32 {
        const N: usize = INNER_CAP + 1;
        let old = &self.inners[p as usize];
        let (mut scores, mut ids, mut children, mut counts) = ([0.0; N], [0; N], [0; N], [0; N]);
        scores[..at].copy_from_slice(&old.scores[..at]);
        ids[..at].copy_from_slice(&old.ids[..at]);
        children[..at].copy_from_slice(&old.children[..at]);
        counts[..at].copy_from_slice(&old.counts[..at]);
        (scores[at], ids[at], children[at], counts[at]) = (key.0, key.1, child, count);
        scores[at + 1..].copy_from_slice(&old.scores[at..]);
        ids[at + 1..].copy_from_slice(&old.ids[at..]);
        children[at + 1..].copy_from_slice(&old.children[at..]);
        counts[at + 1..].copy_from_slice(&old.counts[at..]);
        let keep = if at == INNER_CAP && rightmost {
            INNER_CAP - 1
        } else if at == 1 && leftmost {
            2
        } else {
            N / 2
        };
        let q = self.new_inner();
        let moved = N - keep;
        let qn = &mut self.inners[q as usize];
        qn.scores[..moved].copy_from_slice(&scores[keep..]);
        qn.ids[..moved].copy_from_slice(&ids[keep..]);
        qn.children[..moved].copy_from_slice(&children[keep..]);
        qn.counts[..moved].copy_from_slice(&counts[keep..]);
        qn.len = moved as u32;
        let pn = &mut self.inners[p as usize];
        pn.scores[..keep].copy_from_slice(&scores[..keep]);
        pn.ids[..keep].copy_from_slice(&ids[..keep]);
        pn.children[..keep].copy_from_slice(&children[..keep]);
        pn.counts[..keep].copy_from_slice(&counts[..keep]);
        pn.truncate(keep);
        q
    }

    // ---- removing ----

    /// Takes slots `pos..pos + n` out of `leaf` (reached by `path`) and rebalances; the
    /// entries stay in the arena and the hash index.
    fn remove_run(&mut self, path: &Path, leaf: u32, pos: usize, n: usize) {
        let h = self.height;
        for d in 0..h {
            self.inners[path.node[d] as usize].counts[path.idx[d] as usize] -= n as u32;
        }
        let l = &mut self.leaves[leaf as usize];
        let len = l.len();
        l.scores.copy_within(pos + n..len, pos);
        l.ids.copy_within(pos + n..len, pos);
        l.truncate(len - n);
        let left = len - n;
        if pos == 0 {
            if let Some(d) = self.separator_level(path) {
                // The leaf's smallest key changed: so does its copy up the path. An emptied
                // leaf is the first child of its parent (else the merge drops the key), and
                // the parent's second child now holds the smallest key under it.
                let l = &self.leaves[leaf as usize];
                let min = if left > 0 {
                    Some(l.key(0))
                } else if d + 1 < h {
                    Some(self.leaves[l.next as usize].key(0))
                } else {
                    None
                };
                if let Some(key) = min {
                    self.inners[path.node[d] as usize].set_key(path.idx[d] as usize, key);
                }
            }
        }
        if h > 0 && left < LEAF_MIN {
            self.rebalance_leaf(path, leaf);
        }
    }

    /// Merges an underfull leaf with a sibling, or evens the two out.
    fn rebalance_leaf(&mut self, path: &Path, leaf: u32) {
        let d = self.height - 1;
        let (p, i) = (path.node[d], path.idx[d] as usize);
        let j = i.saturating_sub(1);
        let pn = &self.inners[p as usize];
        let (a, b) = (pn.children[j], pn.children[j + 1]);
        debug_assert!(a == leaf || b == leaf);
        let (la, lb) = (self.leaves[a as usize].len(), self.leaves[b as usize].len());
        let (bl, next) = {
            let bl = &self.leaves[b as usize];
            ((bl.scores, bl.ids), bl.next)
        };
        if la + lb <= LEAF_CAP {
            let al = &mut self.leaves[a as usize];
            al.scores[la..la + lb].copy_from_slice(&bl.0[..lb]);
            al.ids[la..la + lb].copy_from_slice(&bl.1[..lb]);
            al.len = (la + lb) as u32;
            al.next = next;
            if next != NIL {
                self.leaves[next as usize].prev = a;
            }
            self.leaves[b as usize].len = 0;
            self.free_leaves.push(b);
            let pn = &mut self.inners[p as usize];
            pn.counts[j] += pn.counts[j + 1];
            pn.remove(j + 1);
            self.rebalance_inner(path, d);
            return;
        }
        let total = la + lb;
        let mut scores = [0.0; 2 * LEAF_CAP];
        let mut ids = [0u32; 2 * LEAF_CAP];
        let al = &self.leaves[a as usize];
        scores[..la].copy_from_slice(&al.scores[..la]);
        ids[..la].copy_from_slice(&al.ids[..la]);
        scores[la..total].copy_from_slice(&bl.0[..lb]);
        ids[la..total].copy_from_slice(&bl.1[..lb]);
        let na = total / 2;
        let al = &mut self.leaves[a as usize];
        al.scores[..na].copy_from_slice(&scores[..na]);
        al.ids[..na].copy_from_slice(&ids[..na]);
        al.truncate(na);
        let bl = &mut self.leaves[b as usize];
        bl.scores[..total - na].copy_from_slice(&scores[na..total]);
        bl.ids[..total - na].copy_from_slice(&ids[na..total]);
        bl.truncate(total - na);
        let pn = &mut self.inners[p as usize];
        pn.counts[j] = na as u32;
        pn.counts[j + 1] = (total - na) as u32;
        pn.set_key(j + 1, (scores[na], ids[na]));
    }

    /// After the inner node at depth `d` of `path` lost a child: collapses a root left with
    /// one child, or merges an underfull node with a sibling or evens the two out.
    fn rebalance_inner(&mut self, path: &Path, d: usize) {
        let x = path.node[d];
        if d == 0 {
            if self.inners[x as usize].len == 1 {
                self.root = self.inners[x as usize].children[0];
                self.height -= 1;
                self.free_inners.push(x);
            }
            return;
        }
        if self.inners[x as usize].len() >= INNER_MIN {
            return;
        }
        let (p, i) = (path.node[d - 1], path.idx[d - 1] as usize);
        let j = i.saturating_sub(1);
        let pn = &self.inners[p as usize];
        let (a, b) = (pn.children[j], pn.children[j + 1]);
        // Slot 0 of `b` takes its real key from the parent, so both nodes' slots line up.
        let sep = (pn.scores[j + 1], pn.ids[j + 1]);
        self.inners[b as usize].set_key(0, sep);
        let (la, lb) = (self.inners[a as usize].len(), self.inners[b as usize].len());
        let bn = self.inners[b as usize].clone();
        if la + lb <= INNER_CAP {
            let an = &mut self.inners[a as usize];
            an.scores[la..la + lb].copy_from_slice(&bn.scores[..lb]);
            an.ids[la..la + lb].copy_from_slice(&bn.ids[..lb]);
            an.children[la..la + lb].copy_from_slice(&bn.children[..lb]);
            an.counts[la..la + lb].copy_from_slice(&bn.counts[..lb]);
            an.len = (la + lb) as u32;
            self.free_inners.push(b);
            let pn = &mut self.inners[p as usize];
            pn.counts[j] += pn.counts[j + 1];
            pn.remove(j + 1);
            self.rebalance_inner(path, d - 1);
            return;
        }
        const N: usize = 2 * INNER_CAP;
        let total = la + lb;
        let (mut scores, mut ids, mut children, mut counts) = ([0.0; N], [0; N], [0; N], [0; N]);
        let an = &self.inners[a as usize];
        scores[..la].copy_from_slice(&an.scores[..la]);
        ids[..la].copy_from_slice(&an.ids[..la]);
        children[..la].copy_from_slice(&an.children[..la]);
        counts[..la].copy_from_slice(&an.counts[..la]);
        scores[la..total].copy_from_slice(&bn.scores[..lb]);
        ids[la..total].copy_from_slice(&bn.ids[..lb]);
        children[la..total].copy_from_slice(&bn.children[..lb]);
        counts[la..total].copy_from_slice(&bn.counts[..lb]);
        let na = total / 2;
        let an = &mut self.inners[a as usize];
        an.scores[..na].copy_from_slice(&scores[..na]);
        an.ids[..na].copy_from_slice(&ids[..na]);
        an.children[..na].copy_from_slice(&children[..na]);
        an.counts[..na].copy_from_slice(&counts[..na]);
        an.truncate(na);
        let (ca, cb) = (an.total(), counts[na..total].iter().sum());
        let bn = &mut self.inners[b as usize];
        bn.scores[..total - na].copy_from_slice(&scores[na..total]);
        bn.ids[..total - na].copy_from_slice(&ids[na..total]);
        bn.children[..total - na].copy_from_slice(&children[na..total]);
        bn.counts[..total - na].copy_from_slice(&counts[na..total]);
        bn.truncate(total - na);
        let pn = &mut self.inners[p as usize];
        pn.counts[j] = ca;
        pn.counts[j + 1] = cb;
        pn.set_key(j + 1, (scores[na], ids[na]));
    }

    // ---- the public operations ----

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|i| self.entries[i as usize].score)
    }

    /// The search key of a present entry.
    fn key_of<'a>(&self, id: u32, member: &'a [u8]) -> Key<'a> {
        Key {
            score: self.entries[id as usize].score,
            member,
            id,
        }
    }

    /// Removes a member; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.find(member)?;
        let (path, leaf, _) = self.descend(&self.key_of(id, member));
        let pos = self.leaf_index(leaf, id);
        self.remove_run(&path, leaf, pos, 1);
        self.len -= 1;
        self.hash_unlink(id);
        let (_, score) = self.release(id);
        self.maybe_compact();
        Some(score)
    }

    /// Changes an existing member's score, in place when its position does not change.
    pub fn update(&mut self, member: &[u8], score: f64) {
        let Some(id) = self.find(member) else {
            return;
        };
        let (path, leaf, _) = self.descend(&self.key_of(id, member));
        let pos = self.leaf_index(leaf, id);
        let k = Key { score, member, id };
        let after_prev = self
            .neighbor(leaf, pos, false)
            .is_none_or(|(s, p)| self.before(s, p, &k));
        let before_next = self
            .neighbor(leaf, pos, true)
            .is_none_or(|(s, n)| !self.at_or_before(s, n, &k));
        self.entries[id as usize].score = score;
        if after_prev && before_next {
            self.leaves[leaf as usize].scores[pos] = score;
            if pos == 0 {
                if let Some(d) = self.separator_level(&path) {
                    self.inners[path.node[d] as usize].scores[path.idx[d] as usize] = score;
                }
            }
            return;
        }
        // Moves within the tree; the arena slot and the hash index stay.
        self.remove_run(&path, leaf, pos, 1);
        let (path, leaf, _) = self.descend(&k);
        let pos = self.leaf_pos(leaf, &k);
        self.insert_at(&path, leaf, pos, score, id);
    }

    /// 0-based rank of a member in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let id = self.find(member)?;
        let (_, leaf, before) = self.descend(&self.key_of(id, member));
        Some(before + self.leaf_index(leaf, id))
    }

    /// How many leading elements satisfy `pred` (which must hold for a prefix of the order):
    /// the rank where a lex bound falls.
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.count_keys(|s, id| pred(s, self.entries[id as usize].member.as_slice()))
    }

    /// [`RankTree::count_while`] for a predicate on scores alone: reads no member.
    pub fn count_while_score(&self, pred: impl Fn(f64) -> bool) -> usize {
        self.count_keys(|s, _| pred(s))
    }

    fn count_keys(&self, pred: impl Fn(f64, u32) -> bool) -> usize {
        let mut rank = 0usize;
        let mut x = self.root;
        for _ in 0..self.height {
            let n = &self.inners[x as usize];
            let c = partition(1, n.len(), |j| pred(n.scores[j], n.ids[j])) - 1;
            rank += n.counts[..c].iter().sum::<u32>() as usize;
            x = n.children[c];
        }
        let l = &self.leaves[x as usize];
        rank + partition(0, l.len(), |j| pred(l.scores[j], l.ids[j]))
    }

    pub fn get_rank(&self, rank: usize) -> Option<(&[u8], f64)> {
        if rank >= self.len {
            return None;
        }
        let (_, leaf, pos) = self.descend_rank(rank);
        let l = &self.leaves[leaf as usize];
        Some((
            self.entries[l.ids[pos] as usize].member.as_slice(),
            l.scores[pos],
        ))
    }

    /// Iterates from 0-based `rank` forward (or backward with `rev`).
    pub fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        let (leaf, pos) = if rank < self.len {
            let (_, leaf, pos) = self.descend_rank(rank);
            (leaf, pos)
        } else {
            (NIL, 0)
        };
        Iter {
            tree: self,
            leaf,
            pos,
            rev,
        }
    }

    /// Removes `count` elements starting at 0-based `start`, handing each to `f` in order:
    /// a leaf's worth at a time.
    pub fn remove_ranks(
        &mut self,
        start: usize,
        count: usize,
        mut f: impl FnMut(Box<[u8]>, f64),
    ) -> usize {
        let count = count.min(self.len.saturating_sub(start));
        let mut removed = 0;
        while removed < count {
            let (path, leaf, pos) = self.descend_rank(start);
            let l = &self.leaves[leaf as usize];
            let n = (count - removed).min(l.len() - pos);
            let ids = l.ids;
            self.remove_run(&path, leaf, pos, n);
            self.len -= n;
            for &id in &ids[pos..pos + n] {
                self.hash_unlink(id);
                let (m, s) = self.release(id);
                f(m.into_box(), s);
            }
            removed += n;
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
                let e = &self.entries[i as usize];
                f(e.member.as_slice(), e.score);
                seen += 1;
                i = e.hnext;
            }
            v |= !mask;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
            budget -= 1;
            if v == 0 || budget == 0 || seen >= count {
                return v;
            }
        }
    }

    /// Checks every invariant (tests): node fill, counts, separator keys, leaf links, order,
    /// ranks, the arenas and the hash index.
    #[cfg(test)]
    pub fn check(&self) {
        let mut leaves = Vec::new();
        let (total, _) = self.check_node(self.root, self.height, true, (true, true), &mut leaves);
        assert_eq!(total, self.len);
        let mut prev: Option<(f64, u32)> = None;
        let mut rank = 0;
        for (i, &leaf) in leaves.iter().enumerate() {
            let l = &self.leaves[leaf as usize];
            let want_prev = if i == 0 { NIL } else { leaves[i - 1] };
            let want_next = leaves.get(i + 1).copied().unwrap_or(NIL);
            assert_eq!((l.prev, l.next), (want_prev, want_next), "leaf links");
            for pos in 0..l.len() {
                let (s, id) = l.key(pos);
                let e = &self.entries[id as usize];
                assert_ne!(e.hnext, FREE, "live entry");
                assert_eq!(e.score.to_bits(), s.to_bits());
                if let Some((ps, pid)) = prev {
                    let p = &self.entries[pid as usize];
                    assert_eq!(
                        cmp_entries(ps, p.member.as_slice(), s, e.member.as_slice()),
                        Ordering::Less,
                        "order"
                    );
                }
                let m = e.member.as_slice();
                assert_eq!(self.find(m), Some(id));
                assert_eq!(self.rank(m), Some(rank));
                assert_eq!(self.get_rank(rank), Some((m, s)));
                prev = Some((s, id));
                rank += 1;
            }
        }
        assert_eq!(self.free.len() + self.len, self.entries.len());
        assert!(self
            .free
            .iter()
            .all(|&i| self.entries[i as usize].hnext == FREE));
        let in_buckets: usize = (0..self.buckets.len())
            .map(|b| {
                let mut n = 0;
                let mut i = self.buckets[b];
                while i != NIL {
                    assert_eq!(self.bucket_of(self.entries[i as usize].hash), b);
                    n += 1;
                    i = self.entries[i as usize].hnext;
                }
                n
            })
            .sum();
        assert_eq!(in_buckets, self.len);
        assert_eq!(leaves.len() + self.free_leaves.len(), self.leaves.len());
    }

    /// Checks the subtree at `x`, `level` levels above the leaves; returns its entry count
    /// and smallest key. Nodes at either end of their level may be below the minimum fill
    /// (lopsided splits there).
    #[cfg(test)]
    fn check_node(
        &self,
        x: u32,
        level: usize,
        root: bool,
        (first, last): (bool, bool),
        leaves: &mut Vec<u32>,
    ) -> (usize, Option<(f64, u32)>) {
        if level == 0 {
            let l = &self.leaves[x as usize];
            assert!(l.len() <= LEAF_CAP);
            assert!(l.scores[l.len()..].iter().all(|&s| s == f64::INFINITY));
            if !root {
                assert!(
                    l.len() >= if first || last { 1 } else { LEAF_MIN },
                    "leaf fill"
                );
            }
            leaves.push(x);
            return (l.len(), (l.len() > 0).then(|| l.key(0)));
        }
        let n = &self.inners[x as usize];
        assert!(n.len() <= INNER_CAP && n.len() >= 2, "inner fill");
        assert!(n.scores[n.len()..].iter().all(|&s| s == f64::INFINITY));
        if !root && !first && !last {
            assert!(n.len() >= INNER_MIN, "inner fill");
        }
        let mut total = 0;
        let mut min = None;
        for j in 0..n.len() {
            let edge = (first && j == 0, last && j + 1 == n.len());
            let (c, m) = self.check_node(n.children[j], level - 1, false, edge, leaves);
            assert_eq!(n.counts[j] as usize, c, "count");
            let m = m.expect("non-empty child");
            if j == 0 {
                min = Some(m);
            } else {
                assert_eq!(
                    (n.scores[j].to_bits(), n.ids[j]),
                    (m.0.to_bits(), m.1),
                    "key"
                );
            }
            total += c;
        }
        (total, min)
    }
}

/// Walks the leaves from an entry.
pub struct Iter<'a> {
    tree: &'a RankTree,
    leaf: u32,
    pos: usize,
    rev: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.leaf == NIL {
            return None;
        }
        let leaves = &self.tree.leaves;
        let l = &leaves[self.leaf as usize];
        let item = (
            self.tree.entries[l.ids[self.pos] as usize]
                .member
                .as_slice(),
            l.scores[self.pos],
        );
        if self.rev {
            if self.pos == 0 {
                self.leaf = l.prev;
                if l.prev != NIL {
                    self.pos = leaves[l.prev as usize].len() - 1;
                }
            } else {
                self.pos -= 1;
            }
        } else {
            self.pos += 1;
            if self.pos == l.len() {
                self.leaf = l.next;
                self.pos = 0;
            }
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The model: (score as an order-preserving integer, member) -> score.
    #[derive(Default)]
    struct Model(BTreeMap<(u64, Vec<u8>), f64>);

    fn ord(s: f64) -> u64 {
        // -0.0 sorts as 0.0, as in `cmp_entries`.
        let b = (s + 0.0).to_bits();
        if b >> 63 == 1 {
            !b
        } else {
            b | 1 << 63
        }
    }

    impl Model {
        fn insert(&mut self, m: &[u8], s: f64) {
            self.0.insert((ord(s), m.to_vec()), s);
        }
        fn remove(&mut self, m: &[u8], s: f64) {
            self.0.remove(&(ord(s), m.to_vec())).expect("in model");
        }
        fn items(&self) -> Vec<(Vec<u8>, f64)> {
            self.0.iter().map(|((_, m), s)| (m.clone(), *s)).collect()
        }
    }

    fn same(t: &RankTree, model: &Model) {
        t.check();
        let want = model.items();
        let got: Vec<(Vec<u8>, f64)> = t
            .iter_from(0, false)
            .map(|(m, s)| (m.to_vec(), s))
            .collect();
        assert_eq!(got, want);
        let back: Vec<(Vec<u8>, f64)> = t
            .iter_from(t.len().wrapping_sub(1), true)
            .map(|(m, s)| (m.to_vec(), s))
            .collect();
        assert!(back.iter().eq(want.iter().rev()));
        if let (Some(first), Some(last)) = (want.first(), want.last()) {
            assert_eq!(t.rank(&first.0), Some(0));
            assert_eq!(t.rank(&last.0), Some(want.len() - 1));
            assert_eq!(t.get_rank(0), Some((&first.0[..], first.1)));
            assert_eq!(t.get_rank(want.len() - 1), Some((&last.0[..], last.1)));
        }
        assert_eq!(t.get_rank(want.len()), None);
        assert!(t.iter_from(want.len(), false).next().is_none());
    }

    fn name(i: usize) -> Vec<u8> {
        format!("m{i:06}").into_bytes()
    }

    /// Ascending and descending inserts take the lopsided splits at the ends; sizes cross
    /// leaf and inner capacities; then removals from either end merge everything back.
    #[test]
    fn sequential_inserts_fill_nodes_and_drain_from_the_ends() {
        for descending in [false, true] {
            let mut t = RankTree::new();
            let mut model = Model::default();
            let n = LEAF_CAP * INNER_CAP * 2 + 7;
            for i in 0..n {
                let s = if descending { (n - i) as f64 } else { i as f64 };
                t.insert(&name(i), s);
                model.insert(&name(i), s);
                if [1, LEAF_CAP, LEAF_CAP + 1, LEAF_CAP * INNER_CAP + 1].contains(&(i + 1)) {
                    same(&t, &model);
                }
            }
            same(&t, &model);
            assert_eq!(t.height, 2);
            // Sequential inserts leave leaves full (bar the last), not half empty.
            assert!(
                t.leaves.len() <= n / LEAF_CAP + 2,
                "{} leaves",
                t.leaves.len()
            );
            for i in 0..n {
                let i = if i % 2 == 0 { i / 2 } else { n - 1 - i / 2 };
                let s = t.remove(&name(i)).expect("present");
                model.remove(&name(i), s);
                if i % 97 == 0 {
                    same(&t, &model);
                }
            }
            same(&t, &model);
            assert_eq!((t.len(), t.height), (0, 0));
        }
    }

    /// One score for everyone: every comparison is on member bytes, and separators tie.
    #[test]
    fn equal_scores_order_by_member() {
        let mut rng = fastrand::Rng::with_seed(3);
        let mut t = RankTree::new();
        let mut model = Model::default();
        let mut ids: Vec<usize> = (0..5000).collect();
        rng.shuffle(&mut ids);
        for &i in &ids {
            t.insert(&name(i), 0.0);
            model.insert(&name(i), 0.0);
        }
        same(&t, &model);
        for i in (0..5000).step_by(7) {
            assert_eq!(t.rank(&name(i)), Some(i));
        }
        // -0.0 ties with 0.0.
        t.update(&name(10), -0.0);
        assert_eq!(t.rank(&name(10)), Some(10));
        model.remove(&name(10), 0.0);
        model.insert(&name(10), -0.0);
        rng.shuffle(&mut ids);
        for &i in &ids[..4000] {
            assert_eq!(t.remove(&name(i)), model.0.remove(&(ord(0.0), name(i))));
            if i % 50 == 0 {
                same(&t, &model);
            }
        }
        same(&t, &model);
    }

    /// Rank ranges that start mid-leaf and span many leaves, empty whole leaves, or take
    /// the first or last entries.
    #[test]
    fn remove_ranks_across_leaves() {
        let mut rng = fastrand::Rng::with_seed(5);
        let mut t = RankTree::new();
        let mut model = Model::default();
        for i in 0..20_000 {
            let s = rng.u32(0..3000) as f64;
            t.insert(&name(i), s);
            model.insert(&name(i), s);
        }
        let cases = [
            (0, 1),
            (0, LEAF_CAP),
            (5, 3 * LEAF_CAP + 3),
            (100, 2000),
            (7000, 1),
        ];
        for case in 0..45 {
            let (start, count) = cases
                .get(case)
                .copied()
                .unwrap_or_else(|| (rng.usize(0..t.len()), rng.usize(0..200)));
            remove_ranks_like_model(&mut t, &mut model, start, count);
        }
        // The first leaf under the root's second child, whose smallest key only the root
        // holds: emptied exactly, all but its last entry, and past its end.
        assert_eq!(t.height, 2);
        for extra in [0isize, -1, 5] {
            let start = t.inners[t.root as usize].counts[0] as usize;
            let (path, leaf, pos) = t.descend_rank(start);
            assert_eq!((path.idx[0], path.idx[1], pos), (1, 0, 0));
            let count = (t.leaves[leaf as usize].len() as isize + extra) as usize;
            remove_ranks_like_model(&mut t, &mut model, start, count);
        }
        let len = t.len();
        let mut got = 0;
        assert_eq!(t.remove_ranks(len - 10, 100, |_, _| got += 1), 10);
        assert_eq!(got, 10);
        let n = t.remove_ranks(0, usize::MAX, |_, _| ());
        assert_eq!((n, t.len()), (len - 10, 0));
        t.check();
        t.insert(b"again", 1.0);
        assert_eq!(t.rank(b"again"), Some(0));
        t.check();
    }

    fn remove_ranks_like_model(t: &mut RankTree, model: &mut Model, start: usize, count: usize) {
        let mut got = Vec::new();
        let n = t.remove_ranks(start, count, |m, s| got.push((m.to_vec(), s)));
        let want: Vec<(Vec<u8>, f64)> = model.items().into_iter().skip(start).take(count).collect();
        assert_eq!(n, want.len());
        assert_eq!(got, want);
        for (m, s) in &want {
            model.remove(m, *s);
        }
        t.check();
    }

    /// Score updates: in place (also a leaf's first entry, whose key the parents copy) and
    /// moves across leaves.
    #[test]
    fn updates_in_place_and_across_leaves() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut t = RankTree::new();
        let mut model = Model::default();
        let mut scores = Vec::new();
        for i in 0..3000 {
            let s = (i * 10) as f64;
            t.insert(&name(i), s);
            model.insert(&name(i), s);
            scores.push(s);
        }
        for step in 0..6000 {
            let i = rng.usize(0..3000);
            let s = if step % 2 == 0 {
                // Within the gap to the neighbours: stays in place.
                scores[i] + rng.f64() * 5.0 - 2.5
            } else {
                rng.f64() * 30000.0
            };
            if s == scores[i] {
                continue;
            }
            t.update(&name(i), s);
            model.remove(&name(i), scores[i]);
            model.insert(&name(i), s);
            scores[i] = s;
            assert_eq!(t.score(&name(i)), Some(s));
            if step % 500 == 0 {
                same(&t, &model);
            }
        }
        same(&t, &model);
    }

    #[test]
    fn from_sorted_builds_a_valid_tree() {
        for n in [
            0,
            1,
            LEAF_CAP,
            LEAF_CAP + 1,
            1000,
            LEAF_CAP * INNER_CAP + 1,
            40_000,
        ] {
            let items: Vec<(Box<[u8]>, f64)> = (0..n).map(|i| (name(i).into(), i as f64)).collect();
            let mut model = Model::default();
            for (m, s) in &items {
                model.insert(m, *s);
            }
            let mut t = RankTree::from_sorted(items);
            same(&t, &model);
            // And it keeps working: inserts into full leaves, removals.
            for i in (0..n).step_by(3) {
                t.insert(format!("x{i}").as_bytes(), i as f64 + 0.5);
                model.insert(format!("x{i}").as_bytes(), i as f64 + 0.5);
            }
            for i in (0..n).step_by(2) {
                t.remove(&name(i));
                model.remove(&name(i), i as f64);
            }
            same(&t, &model);
        }
    }
}
