//! The sorted-set value type, encoded as Redis 7 does: "listpack" (one sorted vector) while
//! small, "skiplist" once it holds more than 128 members or a member longer than 64 bytes.
//! The large encoding keeps Redis's name (OBJECT ENCODING) but is an order-statistic B+tree
//! plus a member hash index, see [`tree`]. Order is by score,
//! then member bytes. Everything addresses elements by 0-based ascending rank; score and lex
//! ranges become rank spans, so ZRANK, ZCOUNT and every range command are O(log n) on the
//! large encoding. Scores are never NaN. Reply formatting and argument parsing live in
//! `cmd::zset`.

mod tree;

use super::codec;
use std::cmp::Ordering;
pub use tree::cmp_entries;
use tree::RankTree;

/// Redis's `zset-max-listpack-entries` and `zset-max-listpack-value` defaults.
pub const LISTPACK_MAX_ENTRIES: usize = 128;
pub const LISTPACK_MAX_VALUE: usize = 64;

#[derive(Debug, Clone)]
pub enum ZSet {
    /// Small sets: (member, score) sorted; linear work over at most 128 entries.
    Listpack(Vec<(Box<[u8]>, f64)>),
    /// Large sets: Redis's "skiplist" encoding, here a B+tree with a hash index.
    Tree(Box<RankTree>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Listpack(Vec::new())
    }
}

/// A score interval; `(` bounds are exclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub minex: bool,
    pub max: f64,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    pub fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// One end of a lex range: `-`, `+`, `[x` or `(x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Box<[u8]>),
    Excl(Box<[u8]>),
}

impl LexBound {
    fn cmp_value(&self, v: &[u8]) -> Ordering {
        match self {
            LexBound::NegInf => Ordering::Greater,
            LexBound::PosInf => Ordering::Less,
            LexBound::Incl(b) | LexBound::Excl(b) => v.cmp(b),
        }
    }

    /// Redis marks `-` and `+` exclusive too.
    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Incl(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    /// Redis's test for a range that is always empty: min above max, or equal with an
    /// exclusive end (`-` and `+` count as exclusive).
    pub fn is_void(&self) -> bool {
        use LexBound::*;
        let c = match (&self.min, &self.max) {
            (NegInf, NegInf) | (PosInf, PosInf) => Ordering::Equal,
            (NegInf, _) | (_, PosInf) => Ordering::Less,
            (PosInf, _) | (_, NegInf) => Ordering::Greater,
            (Incl(a) | Excl(a), Incl(b) | Excl(b)) => a.cmp(b),
        };
        c == Ordering::Greater
            || (c == Ordering::Equal && (self.min.exclusive() || self.max.exclusive()))
    }

    pub fn gte_min(&self, v: &[u8]) -> bool {
        let c = self.min.cmp_value(v);
        if self.min.exclusive() {
            c == Ordering::Greater
        } else {
            c != Ordering::Less
        }
    }

    pub fn lte_max(&self, v: &[u8]) -> bool {
        let c = self.max.cmp_value(v);
        if self.max.exclusive() {
            c == Ordering::Less
        } else {
            c != Ordering::Greater
        }
    }
}

/// ZADD's conditions.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What ZADD did to one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddResult {
    Added,
    Updated,
    /// Present with that very score: processed, nothing changed.
    Same,
    /// A condition (NX, XX, GT, LT) skipped it.
    Skipped,
}

impl ZSet {
    /// An empty set in the encoding Redis would pick for `size` members at most
    /// `max_member_len` long.
    pub fn with_hint(size: usize, max_member_len: usize) -> ZSet {
        if size <= LISTPACK_MAX_ENTRIES && max_member_len <= LISTPACK_MAX_VALUE {
            ZSet::default()
        } else {
            ZSet::Tree(Box::default())
        }
    }

    /// Builds from (member, score) pairs already in order with distinct members, picking
    /// the encoding by size (store commands, RESTORE).
    pub fn from_sorted(items: Vec<(Box<[u8]>, f64)>) -> ZSet {
        let max_len = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        match ZSet::with_hint(items.len(), max_len) {
            ZSet::Listpack(_) => ZSet::Listpack(
                items
                    .into_iter()
                    .map(|(m, s)| (m, listpack_score(s)))
                    .collect(),
            ),
            _ => ZSet::Tree(Box::new(RankTree::from_sorted(items))),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(v) => v.len(),
            ZSet::Tree(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::Tree(_) => "skiplist",
        }
    }

    pub fn mem_usage(&self) -> usize {
        match self {
            ZSet::Listpack(v) => {
                v.capacity() * std::mem::size_of::<(Box<[u8]>, f64)>()
                    + v.iter().map(|(m, _)| m.len()).sum::<usize>()
            }
            ZSet::Tree(s) => s.mem_usage(),
        }
    }

    /// Serialized form: count, then per member its score (f64 bits, LE) and bytes, in order.
    pub fn encode(&self, out: &mut Vec<u8>) {
        codec::put_len(out, self.len());
        for (m, s) in self.iter() {
            out.extend_from_slice(&s.to_le_bytes());
            codec::put_bytes(out, m);
        }
    }

    /// The inverse of [`ZSet::encode`]; `None` for malformed input (NaN, duplicates).
    pub fn decode(mut data: &[u8]) -> Option<Self> {
        let n = codec::get_len(&mut data)?;
        let mut items: Vec<(Box<[u8]>, f64)> = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let (s, rest) = data.split_first_chunk::<8>()?;
            data = rest;
            let score = f64::from_le_bytes(*s);
            if score.is_nan() {
                return None;
            }
            items.push((codec::get_bytes(&mut data)?.into(), score));
        }
        if !data.is_empty() {
            return None;
        }
        items.sort_by(|a, b| cmp_entries(a.1, &a.0, b.1, &b.0));
        let mut seen = hashbrown::HashSet::with_capacity(items.len());
        let distinct = items.iter().all(|(m, _)| seen.insert(&**m));
        drop(seen);
        if !distinct {
            return None;
        }
        Some(ZSet::from_sorted(items))
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(v) => v.iter().find(|(m, _)| **m == *member).map(|(_, s)| *s),
            ZSet::Tree(s) => s.score(member),
        }
    }

    fn convert_to_tree(&mut self) {
        if let ZSet::Listpack(v) = self {
            *self = ZSet::Tree(Box::new(RankTree::from_sorted(std::mem::take(v))));
        }
    }

    /// Adds a member known to be absent, converting to the large encoding when it would
    /// outgrow the listpack limits.
    fn insert_new(&mut self, member: &[u8], score: f64) {
        if let ZSet::Listpack(v) = self {
            if v.len() < LISTPACK_MAX_ENTRIES && member.len() <= LISTPACK_MAX_VALUE {
                listpack_insert(v, member.into(), score);
                return;
            }
            self.convert_to_tree();
        }
        if let ZSet::Tree(s) = self {
            s.insert(member, score);
        }
    }

    fn set_score(&mut self, member: &[u8], score: f64) {
        match self {
            ZSet::Listpack(v) => {
                if let Some(i) = v.iter().position(|(m, _)| **m == *member) {
                    let (m, _) = v.remove(i);
                    listpack_insert(v, m, score);
                }
            }
            ZSet::Tree(s) => s.update(member, score),
        }
    }

    /// Sets a member's score, adding it if absent; true when it was added.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        match self.score(member) {
            Some(old) => {
                if old != score {
                    self.set_score(member, score);
                }
                false
            }
            None => {
                self.insert_new(member, score);
                true
            }
        }
    }

    /// ZADD / ZINCRBY on one member (Redis's zsetAdd): the outcome and the member's score
    /// afterwards, or `None` when the resulting score would be NaN (nothing changes).
    pub fn add(&mut self, member: &[u8], score: f64, f: AddFlags) -> Option<(AddResult, f64)> {
        if score.is_nan() {
            return None;
        }
        let Some(cur) = self.score(member) else {
            if f.xx {
                return Some((AddResult::Skipped, score));
            }
            self.insert_new(member, score);
            return Some((AddResult::Added, score));
        };
        if f.nx {
            return Some((AddResult::Skipped, cur));
        }
        let new = if f.incr { cur + score } else { score };
        if new.is_nan() {
            return None;
        }
        if (f.lt && new >= cur) || (f.gt && new <= cur) {
            return Some((AddResult::Skipped, cur));
        }
        if new == cur {
            return Some((AddResult::Same, new));
        }
        self.set_score(member, new);
        Some((AddResult::Updated, new))
    }

    /// Removes a member; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Listpack(v) => match v.iter().position(|(m, _)| **m == *member) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            ZSet::Tree(s) => s.remove(member).is_some(),
        }
    }

    /// 0-based ascending rank.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Listpack(v) => v.iter().position(|(m, _)| **m == *member),
            ZSet::Tree(s) => s.rank(member),
        }
    }

    /// The element at 0-based ascending `rank`.
    pub fn get_rank(&self, rank: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Listpack(v) => v.get(rank).map(|(m, s)| (&**m, *s)),
            ZSet::Tree(s) => s.get_rank(rank),
        }
    }

    /// Elements from 0-based `rank` on, ascending (or descending with `rev`).
    pub fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        match self {
            ZSet::Listpack(v) => Iter::Listpack {
                items: v,
                at: (rank < v.len()).then_some(rank),
                rev,
            },
            ZSet::Tree(s) => Iter::Tree(s.iter_from(rank, rev)),
        }
    }

    /// Every element, ascending.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0, false)
    }

    /// The number of leading elements for which `pred` holds (a prefix of the order).
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Listpack(v) => v.partition_point(|(m, s)| pred(*s, m)),
            ZSet::Tree(s) => s.count_while(pred),
        }
    }

    /// The ranks `[lo, hi)` whose scores fall in `r`.
    pub fn score_span(&self, r: &ScoreRange) -> (usize, usize) {
        let (lo, hi) = match self {
            ZSet::Listpack(v) => (
                v.partition_point(|(_, s)| !r.gte_min(*s)),
                v.partition_point(|(_, s)| r.lte_max(*s)),
            ),
            ZSet::Tree(s) => (
                s.count_while_score(|s| !r.gte_min(s)),
                s.count_while_score(|s| r.lte_max(s)),
            ),
        };
        (lo, hi.max(lo))
    }

    /// Where a lex range starts: the ascending rank of its first member going forward, or
    /// with `rev` of its last. Lex ranges are meant for members of equal score; on mixed
    /// scores this follows Redis: a small set is scanned linearly (as its listpack is), a
    /// large one is searched as if sorted (a descent of the tree; Redis's skip-list descent
    /// gives an answer that depends on its random levels there anyway).
    pub fn lex_first(&self, r: &LexRange, rev: bool) -> Option<usize> {
        let len = self.len();
        let (first, _) = self.get_rank(0)?;
        let (last, _) = self.get_rank(len - 1)?;
        // Redis's zslIsInLexRange.
        if r.is_void() || !r.gte_min(last) || !r.lte_max(first) {
            return None;
        }
        let at = match (self, rev) {
            (ZSet::Listpack(v), false) => v.iter().position(|(m, _)| r.gte_min(m))?,
            (ZSet::Listpack(v), true) => v.iter().rposition(|(m, _)| r.lte_max(m))?,
            (ZSet::Tree(s), false) => s.count_while(|_, m| !r.gte_min(m)),
            (ZSet::Tree(s), true) => s.count_while(|_, m| r.lte_max(m)).checked_sub(1)?,
        };
        let (m, _) = self.get_rank(at)?;
        let inside = if rev { r.gte_min(m) } else { r.lte_max(m) };
        inside.then_some(at)
    }

    /// ZLEXCOUNT: from the first member in range, the run of members up to max (a listpack
    /// walks it; the tree subtracts the ranks of the first and last, as Redis does).
    pub fn lex_count(&self, r: &LexRange) -> usize {
        let Some(first) = self.lex_first(r, false) else {
            return 0;
        };
        match self {
            ZSet::Listpack(_) => self
                .iter_from(first, false)
                .take_while(|(m, _)| r.lte_max(m))
                .count(),
            ZSet::Tree(_) => self
                .lex_first(r, true)
                .map_or(0, |last| (last + 1).saturating_sub(first)),
        }
    }

    /// Removes `count` elements from 0-based `start`, handing each to `f` in ascending
    /// order; returns how many went.
    pub fn remove_ranks(
        &mut self,
        start: usize,
        count: usize,
        mut f: impl FnMut(Box<[u8]>, f64),
    ) -> usize {
        match self {
            ZSet::Listpack(v) => {
                let start = start.min(v.len());
                let end = start.saturating_add(count).min(v.len());
                for (m, s) in v.drain(start..end) {
                    f(m, s);
                }
                end - start
            }
            ZSet::Tree(s) => s.remove_ranks(start, count, f),
        }
    }

    /// One ZSCAN step: a listpack answers everything at once (cursor 0), as in Redis; the
    /// large encoding walks its hash buckets.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Listpack(v) => {
                for (m, s) in v {
                    f(m, *s);
                }
                0
            }
            ZSet::Tree(s) => s.scan(cursor, count, f),
        }
    }
}

/// Puts a member into its place in a listpack.
fn listpack_insert(v: &mut Vec<(Box<[u8]>, f64)>, member: Box<[u8]>, score: f64) {
    let score = listpack_score(score);
    let at = v.partition_point(|(m, s)| cmp_entries(*s, m, score, &member) == Ordering::Less);
    v.insert(at, (member, score));
}

/// A listpack keeps scores as text and reads "-0" back as the integer 0: Redis's small
/// sets never hold a negative zero.
fn listpack_score(s: f64) -> f64 {
    if s == 0.0 {
        0.0
    } else {
        s
    }
}

/// Ordered iteration over either encoding.
pub enum Iter<'a> {
    Listpack {
        items: &'a [(Box<[u8]>, f64)],
        at: Option<usize>,
        rev: bool,
    },
    Tree(tree::Iter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Listpack { items, at, rev } => {
                let i = (*at)?;
                *at = if *rev {
                    i.checked_sub(1)
                } else {
                    Some(i + 1).filter(|&n| n < items.len())
                };
                let (m, s) = &items[i];
                Some((m, *s))
            }
            Iter::Tree(it) => it.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The naive model: a sorted vector.
    #[derive(Default)]
    struct Model(Vec<(Vec<u8>, f64)>);

    impl Model {
        fn sort(&mut self) {
            self.0.sort_by(|a, b| cmp_entries(a.1, &a.0, b.1, &b.0));
        }
        fn insert(&mut self, m: &[u8], s: f64) -> bool {
            let new = match self.0.iter_mut().find(|(x, _)| x == m) {
                Some(e) => {
                    e.1 = s;
                    false
                }
                None => {
                    self.0.push((m.to_vec(), s));
                    true
                }
            };
            self.sort();
            new
        }
        fn remove(&mut self, m: &[u8]) -> bool {
            let before = self.0.len();
            self.0.retain(|(x, _)| x != m);
            before != self.0.len()
        }
    }

    fn member(rng: &mut fastrand::Rng, universe: u32) -> Vec<u8> {
        // Some long members force the large encoding early.
        let n = rng.u32(0..universe);
        if n.is_multiple_of(97) {
            format!("long-member-{n}-{}", "x".repeat(60)).into_bytes()
        } else {
            format!("m{n}").into_bytes()
        }
    }

    fn score(rng: &mut fastrand::Rng) -> f64 {
        match rng.u32(0..10) {
            0 => f64::INFINITY,
            1 => f64::NEG_INFINITY,
            2..=5 => rng.i32(-20..20) as f64,
            _ => rng.f64() * 100.0 - 50.0,
        }
    }

    fn lex_bound(rng: &mut fastrand::Rng, universe: u32) -> LexBound {
        match rng.u32(0..6) {
            0 => LexBound::NegInf,
            1 => LexBound::PosInf,
            2 | 3 => LexBound::Incl(member(rng, universe).into()),
            _ => LexBound::Excl(member(rng, universe).into()),
        }
    }

    fn check_same(z: &ZSet, model: &Model) {
        assert_eq!(z.len(), model.0.len());
        let got: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(got, model.0);
        let rev: Vec<(Vec<u8>, f64)> = z
            .iter_from(z.len().saturating_sub(1), true)
            .map(|(m, s)| (m.to_vec(), s))
            .collect();
        let mut want = model.0.clone();
        want.reverse();
        assert_eq!(rev, want);
        if let ZSet::Tree(s) = z {
            s.check();
        }
    }

    fn run_random(seed: u64, ops: usize, universe: u32, start_large: bool) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut z = if start_large {
            ZSet::Tree(Box::default())
        } else {
            ZSet::default()
        };
        let mut model = Model::default();
        for op in 0..ops {
            match rng.u32(0..12) {
                0..=3 => {
                    let (m, s) = (member(&mut rng, universe), score(&mut rng));
                    assert_eq!(z.insert(&m, s), model.insert(&m, s));
                }
                4 => {
                    let m = member(&mut rng, universe);
                    assert_eq!(z.remove(&m), model.remove(&m));
                }
                5 => {
                    let m = member(&mut rng, universe);
                    let want = model.0.iter().position(|(x, _)| *x == m);
                    assert_eq!(z.rank(&m), want);
                    assert_eq!(z.score(&m), want.map(|i| model.0[i].1));
                }
                6 => {
                    let r = rng.usize(0..model.0.len() + 2);
                    let want = model.0.get(r).map(|(m, s)| (m.as_slice(), *s));
                    assert_eq!(z.get_rank(r), want);
                    let n = rng.usize(0..10);
                    let got: Vec<_> = z.iter_from(r, false).take(n).collect();
                    let want: Vec<_> = model
                        .0
                        .iter()
                        .skip(r)
                        .take(n)
                        .map(|(m, s)| (m.as_slice(), *s))
                        .collect();
                    assert_eq!(got, want);
                }
                7 => {
                    let (a, b) = (score(&mut rng), score(&mut rng));
                    let r = ScoreRange {
                        min: a.min(b),
                        minex: rng.bool(),
                        max: a.max(b),
                        maxex: rng.bool(),
                    };
                    let (lo, hi) = z.score_span(&r);
                    let want: Vec<usize> = (0..model.0.len())
                        .filter(|&i| r.gte_min(model.0[i].1) && r.lte_max(model.0[i].1))
                        .collect();
                    assert_eq!((lo..hi).collect::<Vec<_>>(), want);
                }
                8 => {
                    // Lex ranges are defined on equal scores: compare on a same-score view.
                    let r = LexRange {
                        min: lex_bound(&mut rng, universe),
                        max: lex_bound(&mut rng, universe),
                    };
                    let mut flat = ZSet::default();
                    for (m, _) in z.iter() {
                        flat.insert(m, 0.0);
                    }
                    let mut names: Vec<Vec<u8>> = model.0.iter().map(|(m, _)| m.clone()).collect();
                    names.sort();
                    let want: Vec<usize> = (0..names.len())
                        .filter(|&i| r.gte_min(&names[i]) && r.lte_max(&names[i]))
                        .collect();
                    assert_eq!(flat.lex_first(&r, false), want.first().copied());
                    assert_eq!(flat.lex_first(&r, true), want.last().copied());
                    assert_eq!(flat.lex_count(&r), want.len());
                    if matches!(flat, ZSet::Listpack(_)) {
                        // The same answers from the large encoding.
                        let mut big = ZSet::Tree(Box::default());
                        for (m, _) in flat.iter() {
                            big.insert(m, 0.0);
                        }
                        assert_eq!(big.lex_first(&r, false), want.first().copied());
                        assert_eq!(big.lex_first(&r, true), want.last().copied());
                        assert_eq!(big.lex_count(&r), want.len());
                    }
                }
                9 => {
                    let start = rng.usize(0..model.0.len() + 1);
                    let count = rng.usize(0..5);
                    let mut got = Vec::new();
                    let n = z.remove_ranks(start, count, |m, s| got.push((m.to_vec(), s)));
                    let end = (start + count).min(model.0.len());
                    let want: Vec<_> = model.0.drain(start..end).collect();
                    assert_eq!(n, want.len());
                    assert_eq!(got, want);
                }
                10 => {
                    let (m, s) = (member(&mut rng, universe), score(&mut rng));
                    let flags = AddFlags {
                        incr: rng.bool(),
                        gt: rng.bool(),
                        ..Default::default()
                    };
                    let cur = model.0.iter().find(|(x, _)| *x == m).map(|e| e.1);
                    let got = z.add(&m, s, flags);
                    let want = match cur {
                        None => {
                            model.insert(&m, s);
                            Some((AddResult::Added, s))
                        }
                        Some(c) => {
                            let new = if flags.incr { c + s } else { s };
                            if new.is_nan() {
                                None
                            } else if flags.gt && new <= c {
                                Some((AddResult::Skipped, c))
                            } else if new == c {
                                Some((AddResult::Same, c))
                            } else {
                                model.insert(&m, new);
                                Some((AddResult::Updated, new))
                            }
                        }
                    };
                    assert_eq!(got, want);
                }
                _ => {
                    let mut out = Vec::new();
                    z.encode(&mut out);
                    let back = ZSet::decode(&out).expect("round trip");
                    check_same(&back, &model);
                }
            }
            if op % 64 == 0 {
                check_same(&z, &model);
            }
        }
        check_same(&z, &model);
    }

    #[test]
    fn random_ops_match_model_small_universe() {
        for seed in 0..4 {
            run_random(seed, 3000, 60, false);
        }
    }

    #[test]
    fn random_ops_match_model_large_universe() {
        for seed in 10..13 {
            run_random(seed, 6000, 800, false);
        }
    }

    #[test]
    fn random_ops_match_model_tree_from_start() {
        for seed in 20..24 {
            run_random(seed, 4000, 100, true);
        }
    }

    #[test]
    fn encoding_switches_at_redis_limits() {
        let mut z = ZSet::default();
        for i in 0..128 {
            z.insert(format!("m{i}").as_bytes(), i as f64);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"one-more", 0.5);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.rank(b"one-more"), Some(1));
        let mut z = ZSet::default();
        z.insert(&[b'a'; 64], 1.0);
        assert_eq!(z.encoding(), "listpack");
        z.insert(&[b'b'; 65], 1.0);
        assert_eq!(z.encoding(), "skiplist");
    }

    #[test]
    fn encode_decode_round_trip_both_encodings() {
        for n in [0usize, 5, 500] {
            let mut z = ZSet::default();
            for i in 0..n {
                z.insert(format!("member:{i}").as_bytes(), (i as f64) * 0.1 - 3.0);
            }
            z.insert(b"inf", f64::INFINITY);
            let mut out = Vec::new();
            z.encode(&mut out);
            let back = ZSet::decode(&out).expect("decodes");
            assert_eq!(back.encoding(), z.encoding());
            assert!(back.iter().eq(z.iter()));
        }
        assert!(ZSet::decode(&[1, 2, 3]).is_none());
        let mut nan = Vec::new();
        codec::put_len(&mut nan, 1);
        nan.extend_from_slice(&f64::NAN.to_le_bytes());
        codec::put_bytes(&mut nan, b"x");
        assert!(ZSet::decode(&nan).is_none());
        let mut dup = Vec::new();
        codec::put_len(&mut dup, 2);
        for s in [1.0f64, 2.0] {
            dup.extend_from_slice(&s.to_le_bytes());
            codec::put_bytes(&mut dup, b"x");
        }
        assert!(ZSet::decode(&dup).is_none());
    }

    #[test]
    fn arena_compacts_after_mass_removal() {
        let mut z = ZSet::default();
        for i in 0..5000 {
            z.insert(format!("k{i:05}").as_bytes(), (i % 100) as f64);
        }
        let mut kept = Model::default();
        for i in 0..5000 {
            let m = format!("k{i:05}");
            if i % 25 == 0 {
                kept.insert(m.as_bytes(), (i % 100) as f64);
            } else {
                assert!(z.remove(m.as_bytes()));
            }
        }
        let before = z.mem_usage();
        check_same(&z, &kept);
        // Dense again: far below what 5000 slots take.
        let mut full = ZSet::default();
        for i in 0..5000 {
            full.insert(format!("k{i:05}").as_bytes(), 0.0);
        }
        assert!(
            before * 4 < full.mem_usage(),
            "{before} vs {}",
            full.mem_usage()
        );
        z.insert(b"again", 1.5);
        kept.insert(b"again", 1.5);
        check_same(&z, &kept);
    }

    /// Large enough for nodes taller than the inline levels and a deep list: every rank,
    /// score and iteration after inserts, score moves (in place and across the order),
    /// removals and rank-range removals.
    #[test]
    fn large_set_ranks_after_inserts_updates_removes() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut z = ZSet::Tree(Box::default());
        let mut model = std::collections::BTreeMap::new();
        let key = |s: f64, m: &[u8]| (s.to_bits() ^ (1 << 63), m.to_vec());
        let name = |i: u32| format!("element:{i:012}").into_bytes();
        let mut scores = vec![None; 40_000];
        for round in 0..4 {
            for _ in 0..20_000 {
                let i = rng.u32(0..40_000);
                let m = name(i);
                // Few distinct scores: ties ordered by member.
                let s = rng.u32(0..5000) as f64;
                let old = scores[i as usize].replace(s);
                assert_eq!(z.insert(&m, s), old.is_none());
                if let Some(o) = old {
                    model.remove(&key(o, &m));
                }
                model.insert(key(s, &m), (m, s));
            }
            for _ in 0..5_000 {
                let i = rng.u32(0..40_000);
                let m = name(i);
                let had = scores[i as usize].take();
                assert_eq!(z.remove(&m), had.is_some());
                if let Some(o) = had {
                    model.remove(&key(o, &m));
                }
            }
            let start = rng.usize(0..z.len());
            let mut gone = Vec::new();
            z.remove_ranks(start, 100, |m, s| gone.push((m, s)));
            for (m, s) in gone {
                model.remove(&key(s, &m));
                let i: u32 = std::str::from_utf8(&m[8..]).unwrap().parse().unwrap();
                scores[i as usize] = None;
            }
            let want: Vec<&(Vec<u8>, f64)> = model.values().collect();
            assert_eq!(z.len(), want.len(), "round {round}");
            assert!(z
                .iter()
                .map(|(m, s)| (m.to_vec(), s))
                .eq(want.iter().map(|e| (*e).clone())));
            for (r, (m, s)) in want.iter().enumerate().step_by(37) {
                assert_eq!(z.rank(m), Some(r));
                assert_eq!(z.score(m), Some(*s));
                assert_eq!(z.get_rank(r), Some((m.as_slice(), *s)));
            }
            if let ZSet::Tree(s) = &z {
                s.check();
            }
        }
    }

    #[test]
    fn scan_visits_every_member_across_resizes() {
        let mut z = ZSet::Tree(Box::default());
        for i in 0..2000 {
            z.insert(format!("k{i}").as_bytes(), i as f64);
        }
        let mut seen = hashbrown::HashSet::new();
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            cursor = z.scan(cursor, 10, |m, _| {
                seen.insert(m.to_vec());
            });
            steps += 1;
            // Grow and shrink the table while the scan is in progress.
            if steps == 20 {
                for i in 2000..6000 {
                    z.insert(format!("k{i}").as_bytes(), i as f64);
                }
            }
            if steps == 60 {
                for i in 2000..6000 {
                    z.remove(format!("k{i}").as_bytes());
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..2000 {
            assert!(seen.contains(format!("k{i}").as_bytes()), "k{i} missed");
        }
    }
}
