//! A shard's side of the tiers (`--storage tiered`): which of its keys changed since the last
//! flush (dirty), how many live only in the warm store (cold), and the moves between them —
//! load on a miss, flush write-behind, demote instead of evicting.
//!
//! For a key K: in memory → memory is the truth; else dirty → deleted, deletion not yet
//! flushed; else the warm store's copy is the truth. A clean entry in memory equals its warm
//! copy, so dropping it loses nothing. `cold[t]` counts table t's keys held only by the warm
//! store and never undercounts, so a table with none skips the store on a miss.

use super::{Shard, SLOTS_PER_SHARD};
use crate::db::Kind;
use crate::tier::cold::{self, Pointer};
use crate::tier::{self, Op, TierError, Warm};
use autocache_proto::slot::key_slot;
use hashbrown::{HashMap, HashSet};
use parking_lot::{Condvar, Mutex};
use std::hash::BuildHasher;
use std::sync::Arc;

/// Closed while a batch built from a shard's dirty keys is being written outside the shard
/// lock. Other writers of that shard's keys (all under the shard lock) wait for it to open
/// first, so that the shard's store writes land in the order they were built. Only
/// [`Shard::start_flush`] closes it, under the shard lock: a writer that waited finds it
/// open until it lets the shard lock go.
#[derive(Default)]
pub struct Gate {
    state: Mutex<GateState>,
    opened: Condvar,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    /// The last batch through it failed (its keys go back to dirty).
    failed: bool,
}

impl Gate {
    fn close(&self) {
        self.state.lock().closed = true;
    }

    /// The batch has landed (`ok`) or failed: the shard's writers may write.
    pub fn open(&self, ok: bool) {
        *self.state.lock() = GateState {
            closed: false,
            failed: !ok,
        };
        self.opened.notify_all();
    }

    /// Until no batch of this shard is in flight; whether the last one landed.
    fn wait(&self) -> bool {
        let mut st = self.state.lock();
        while st.closed {
            self.opened.wait(&mut st);
        }
        !st.failed
    }
}

/// A shard's dirty keys encoded as one store batch, written by the flusher outside the shard
/// lock ([`Shard::start_flush`], [`Shard::finish_flush`]).
pub struct FlushJob {
    pub ops: Vec<Op>,
    /// Its change to each local table's value bytes (counted already; undone on failure).
    delta: [i64; SLOTS_PER_SHARD],
    /// Its keys with the sizes their stored copies had (a synchronous flush's only).
    keys: HashMap<Box<[u8]>, Dirty>,
    generation: u64,
    /// Closed by [`Shard::start_flush`]; the writer opens it once the batch has landed.
    pub gate: Arc<Gate>,
    pub warm: Arc<Warm>,
}

/// A key changed in memory since the last flush.
pub(super) struct Dirty {
    /// What its stored copy counted for in `bytes` when it changed (the flush replaces it by
    /// the new copy's size).
    size: u32,
    /// Its cluster slot (computed once, when it became dirty).
    slot: u16,
    /// Its new stored form, encoded when a string was written whole (SET and the like, while
    /// the entry is at hand): the flush then need not find it in memory again, a cache miss
    /// per key. Any later change of the key clears it.
    value: Option<Box<[u8]>>,
}

/// Strings whose stored form is at most this long are encoded when written (see
/// [`Dirty::value`]); longer ones are encoded by the flush, so that write-behind never holds
/// a second copy of large values in memory.
const ENCODE_EARLY: usize = 128;

impl Dirty {
    fn sized(slot: u16, size: u32) -> Dirty {
        Dirty {
            size,
            slot,
            value: None,
        }
    }
}

impl FlushJob {
    /// About the memory its encoded operations hold.
    pub fn bytes(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match op {
                Op::Put(k, v) | Op::DeleteRange(k, v) => k.capacity() + v.capacity(),
                Op::Delete(k) => k.capacity(),
            })
            .sum()
    }
}

pub(crate) struct WarmState {
    pub(super) warm: Arc<Warm>,
    /// Keys changed in memory since the last flush, with what their stored copy counted
    /// for in `bytes` when they changed (the flush replaces it by the new copy's size).
    pub(super) dirty: HashMap<Box<[u8]>, Dirty>,
    /// Keys taken by the flusher whose batch is being written (outside the shard lock): as
    /// dirty for readers until it lands. With their sizes, for dirty again if it fails.
    flushing: HashMap<Box<[u8]>, Dirty>,
    /// Store writes of this shard land in the order they were built under the shard lock:
    /// closed while the flusher's batch is in flight; other writers wait for it to open.
    gate: Arc<Gate>,
    /// Bumped by FLUSHALL: a batch in flight from before it is not put back on failure.
    generation: u64,
    /// Per local table: keys only the warm store holds.
    pub(super) cold: Box<[u64]>,
    pub(super) cold_total: u64,
    /// Per local table: bytes of the values the store holds itself ([`tier::warm_size`]),
    /// exactly as it holds them now; persisted beside the key count.
    bytes: Box<[i64]>,
    /// Keys in memory whose warm copy is a pointer into a cold segment (segment, length):
    /// when such a key changes, its bytes in that segment become garbage.
    promoted: HashMap<Box<[u8]>, (u64, u32)>,
    /// Keys a migration took out and sent, not yet acknowledged by the target: their
    /// deletion stays dirty (unflushed), so that a crash meanwhile finds them here still.
    held: HashSet<Box<[u8]>>,
}

impl WarmState {
    pub(super) fn new(warm: Arc<Warm>) -> WarmState {
        WarmState {
            warm,
            dirty: HashMap::new(),
            flushing: HashMap::new(),
            gate: Arc::new(Gate::default()),
            generation: 0,
            cold: vec![0; SLOTS_PER_SHARD].into_boxed_slice(),
            cold_total: 0,
            bytes: vec![0; SLOTS_PER_SHARD].into_boxed_slice(),
            promoted: HashMap::new(),
            held: HashSet::new(),
        }
    }

    pub(super) fn add_cold(&mut self, i: usize, n: u64) {
        self.cold[i] += n;
        self.cold_total += n;
    }

    fn sub_cold(&mut self, i: usize) {
        self.cold[i] = self.cold[i].saturating_sub(1);
        self.cold_total = self.cold_total.saturating_sub(1);
    }

    /// Changed in memory and not yet in the store (dirty, or in a batch in flight).
    pub(super) fn is_dirty(&self, key: &[u8]) -> bool {
        self.dirty.contains_key(key)
            || (!self.flushing.is_empty() && self.flushing.contains_key(key))
    }

    /// The store now holds `delta` more value bytes in table `i`.
    fn add_bytes(&mut self, i: usize, delta: i64) {
        self.bytes[i] += delta;
        self.warm.add_live_bytes(delta);
    }
}

impl Shard {
    /// Makes this shard tiered over `warm`, whose per-slot key counts and value bytes
    /// (`counts`, `bytes`, by slot) say what it already holds. Done once, before any client.
    pub fn attach_warm(&mut self, warm: Arc<Warm>, counts: &[u64], bytes: &[u64]) {
        let mut w = WarmState::new(warm);
        for i in 0..SLOTS_PER_SHARD {
            w.add_cold(i, counts[self.slot_at(i) as usize]);
            w.add_bytes(i, bytes[self.slot_at(i) as usize] as i64);
        }
        self.warm = Some(Box::new(w));
    }

    pub fn is_tiered(&self) -> bool {
        self.warm.is_some()
    }

    /// Keys of this shard in every tier (expired ones not yet reclaimed included, as DBSIZE).
    pub fn key_count(&self) -> usize {
        self.keys + self.warm.as_ref().map_or(0, |w| w.cold_total as usize)
    }

    /// Keys held only by the warm tier.
    pub fn cold_len(&self) -> usize {
        self.warm.as_ref().map_or(0, |w| w.cold_total as usize)
    }

    /// Keys changed in memory and not yet flushed.
    pub fn dirty_len(&self) -> usize {
        self.warm
            .as_ref()
            .map_or(0, |w| w.dirty.len() + w.flushing.len())
    }

    /// Keys of `slot` in every tier.
    pub fn slot_key_count(&self, slot: u16) -> usize {
        let i = self.local(slot);
        self.slots[i].len() + self.warm.as_ref().map_or(0, |w| w.cold[i] as usize)
    }

    /// Migration: the deletions of `keys` (taken out and sent to a target) are not flushed
    /// until [`Shard::release_deletions`], so a crash before the target acknowledges them
    /// finds them in the warm tier still — on the source, never on neither node.
    pub fn hold_deletions<'k>(&mut self, keys: impl IntoIterator<Item = &'k [u8]>) {
        if let Some(w) = &mut self.warm {
            w.held.extend(keys.into_iter().map(Box::from));
        }
    }

    /// The target acknowledged `keys` (or they were put back): flush them as they are now.
    pub fn release_deletions<'k>(&mut self, keys: impl IntoIterator<Item = &'k [u8]>) {
        if let Some(w) = &mut self.warm {
            for k in keys {
                w.held.remove(k);
            }
        }
    }

    /// The write hook's tier part: remember `key` for the next flush, with the size of its
    /// stored copy. The hook fires before the key's entry is replaced (a collection changed
    /// in place keeps its size in the entry), so a clean entry in memory still tells it.
    pub(super) fn mark_dirty(&mut self, key: &[u8]) {
        let Some(w) = &mut self.warm else {
            return;
        };
        if let Some(d) = w.dirty.get_mut(key) {
            // Changed again: what was encoded before is stale.
            d.value = None;
            return;
        }
        let slot = key_slot(key);
        let i = slot as usize / super::SHARDS;
        let hash = self.hash(key);
        self.mark_dirty_at(i, hash, key, None);
    }

    /// [`Shard::mark_dirty`] with the key's table and hash known, and with `value`, its new
    /// stored form when the caller has it (else the flush encodes it from memory).
    fn mark_dirty_at(&mut self, i: usize, hash: u64, key: &[u8], value: Option<Box<[u8]>>) {
        if let Some(d) = self.warm.as_mut().and_then(|w| w.dirty.get_mut(key)) {
            d.value = value;
            return;
        }
        let size = match self.slots[i].table.find(hash, |e| e.key() == key) {
            Some(e) => self.entry_warm_size(key, e),
            // Not in memory: a miss loads a stored key first, so there is none.
            None => 0,
        };
        let slot = self.slot_at(i);
        if let Some(w) = &mut self.warm {
            w.dirty.insert(key.into(), Dirty { size, slot, value });
        }
    }

    /// The write hook's tier part for a whole new entry about to replace whatever memory
    /// holds under its key (in table `i`): a string's stored form is encoded now, while it
    /// is at hand.
    pub(super) fn mark_replaced(&mut self, i: usize, hash: u64, entry: &crate::db::Entry) {
        if self.warm.is_none() {
            return;
        }
        let value = entry
            .as_str()
            .is_some_and(|v| tier::string_stored_len(v.len()) <= ENCODE_EARLY)
            .then(|| tier::encode_entry(entry).into_boxed_slice());
        self.mark_dirty_at(i, hash, entry.key(), value);
    }

    /// [`Shard::mark_dirty`] for a key whose stored copy's size the caller knows.
    fn mark_dirty_sized(&mut self, key: &[u8], size: u32) {
        if let Some(w) = &mut self.warm {
            match w.dirty.get_mut(key) {
                Some(d) => d.value = None,
                None => {
                    w.dirty
                        .insert(key.into(), Dirty::sized(key_slot(key), size));
                }
            }
        }
    }

    /// A live entry just left memory as a change (deleted, expired): remembers the size of its
    /// stored copy before the write hook runs without it.
    pub(super) fn removed_from_memory(&mut self, key: &[u8], old: &crate::db::Entry) {
        if self.warm.is_some() {
            let size = self.entry_warm_size(key, old);
            self.mark_dirty_sized(key, size);
        }
    }

    /// What the stored copy of `key`, held clean in memory as `e`, counts for: a string's is
    /// its encoding, a collection's was noted when it was loaded or flushed, a cold pointer's
    /// is nothing.
    fn entry_warm_size(&self, key: &[u8], e: &crate::db::Entry) -> u32 {
        let Some(w) = &self.warm else {
            return 0;
        };
        if !w.promoted.is_empty() && w.promoted.contains_key(key) {
            return 0;
        }
        match e.as_str() {
            Some(v) => tier::warm_size_of(key.len(), tier::string_stored_len(v.len())),
            None => e.obj_warm_len(),
        }
    }

    /// The key count and value bytes of local table `i` as a store write (its count key),
    /// with `bytes` value bytes. Held keys are still in the store: counted, so the count
    /// never undercounts.
    fn count_op(&self, i: usize, bytes: i64) -> Op {
        let w = self.warm.as_ref().expect("tiered");
        let held = w
            .held
            .iter()
            .filter(|k| key_slot(k) as usize / super::SHARDS == i)
            .count() as u64;
        let count = self.slots[i].len() as u64 + w.cold[i] + held;
        Op::Put(
            tier::count_key(self.slot_at(i)),
            tier::count_value(count, bytes.max(0) as u64),
        )
    }

    /// A miss in memory table `i`: brings `key` up from the warm tier if it lives there.
    /// Returns whether memory now holds it. An expired warm copy counts as deleted.
    pub(super) fn load_warm(&mut self, i: usize, hash: u64, key: &[u8], now: u64) -> bool {
        let warm = match &self.warm {
            Some(w) if w.cold[i] > 0 && !w.is_dirty(key) => w.warm.clone(),
            _ => return false,
        };
        let data = match warm.store.get(&tier::encode_key(self.slot_at(i), key)) {
            Ok(Some(d)) => d,
            Ok(None) => return false,
            Err(e) => {
                warm.bump(&warm.stats.read_errors, 1);
                tracing::error!("loading a key from the warm tier: {e}");
                return false;
            }
        };
        let (data, pointer) = match cold::decode_pointer(&data) {
            None => (data, None),
            Some(_) if tier::is_expired(&data, now) => (data, None),
            Some(p) => match self.fetch_cold_blocking(&warm, p) {
                Some(bytes) => (bytes, Some(p)),
                None => return false,
            },
        };
        if let Some(w) = &mut self.warm {
            w.sub_cold(i);
            if let Some(p) = pointer {
                w.promoted.insert(key.into(), (p.segment, p.len));
            }
        }
        // What the stored copy counts for: a pointer nothing, a value its size.
        let stored = match pointer {
            Some(_) => 0,
            None => tier::warm_size(key.len(), &data),
        };
        match tier::decode_entry(key, &data) {
            Some(mut e) if !e.is_expired(now) => {
                warm.bump(&warm.stats.loads, 1);
                e.set_obj_warm_len(stored);
                self.put_hashed(i, hash, e);
                true
            }
            decoded => {
                if decoded.is_none() && !tier::is_expired(&data, now) {
                    warm.bump(&warm.stats.read_errors, 1);
                    tracing::error!("{}", TierError::Corrupt);
                } else {
                    self.stats.expired += 1;
                    self.events.emit(crate::notify::EXPIRED, "expired", key);
                }
                if let Some(p) = cold::decode_pointer(&data) {
                    if let Some(c) = &warm.cold {
                        c.release(p.segment, p.len);
                    }
                }
                // Gone: the flush deletes the warm copy, WATCH sees a change as for memory.
                self.mark_dirty_sized(key, stored);
                self.touched(key);
                false
            }
        }
    }

    /// Writes this shard's dirty keys to the warm store in one batch, with the key counts and
    /// value bytes of the slots they belong to, while holding the shard lock (demotion,
    /// migration; the flusher writes outside it: [`Shard::start_flush`]). On failure the keys
    /// stay dirty for the next attempt.
    pub fn flush_dirty(&mut self) -> Result<usize, TierError> {
        let Some(w) = &self.warm else {
            return Ok(0);
        };
        if w.dirty.is_empty() {
            return Ok(0);
        }
        // After a batch in flight, whose keys may be among these.
        let _ = w.gate.wait();
        let Some(job) = self.build_flush() else {
            return Ok(0);
        };
        let res = job.warm.store.write(&job.ops);
        self.finish_flush(job, res, false)
    }

    /// Takes this shard's dirty keys into a batch for the flusher, which writes it after
    /// letting the shard lock go, opens [`FlushJob::gate`] (closed here) and hands the job to
    /// [`Shard::finish_flush`]. Until then its keys count as dirty for readers, and stay in
    /// memory (demotion skips them).
    pub fn start_flush(&mut self) -> Option<FlushJob> {
        let w = self.warm.as_ref()?;
        if w.dirty.is_empty() || !w.flushing.is_empty() {
            return None;
        }
        let mut job = self.build_flush()?;
        let w = self.warm.as_mut()?;
        w.flushing = std::mem::take(&mut job.keys);
        w.gate.close();
        Some(job)
    }

    /// The dirty keys (but held ones) as a batch, encoded from memory; their bytes are counted
    /// as written (undone if the write fails), so that any later write's counts include them.
    fn build_flush(&mut self) -> Option<FlushJob> {
        let w = self.warm.as_mut()?;
        // As many keys are likely dirty again by the next flush: sized for them at once.
        let again = HashMap::with_capacity(w.dirty.len());
        let mut dirty = std::mem::replace(&mut w.dirty, again);
        if !w.held.is_empty() {
            let (held, kept) = (&w.held, &mut w.dirty);
            dirty.retain(|k, d| {
                let hold = held.contains(k);
                if hold {
                    kept.insert(k.clone(), Dirty::sized(d.slot, d.size));
                }
                !hold
            });
        }
        if dirty.is_empty() {
            return None;
        }
        let mut ops = Vec::with_capacity(dirty.len() + 1);
        let mut tables = 0u64; // SLOTS_PER_SHARD == 64
        let mut delta = [0i64; SLOTS_PER_SHARD];
        for (key, d) in dirty.iter_mut() {
            let (old, slot) = (d.size, d.slot);
            let i = slot as usize / super::SHARDS;
            tables |= 1 << i;
            let k = tier::encode_key(slot, key);
            if !w.promoted.is_empty() {
                if let Some((seg, len)) = w.promoted.remove(key) {
                    if let Some(c) = &w.warm.cold {
                        c.release(seg, len);
                    }
                }
            }
            if let Some(v) = d.value.take() {
                let new = tier::warm_size_of(key.len(), v.len());
                delta[i] += new as i64 - old as i64;
                ops.push(Op::Put(k, v.into_vec()));
                continue;
            }
            let hash = self.hasher.hash_one(&**key);
            match self.slots[i].table.find_mut(hash, |e| e.key() == &**key) {
                Some(e) => {
                    let v = tier::encode_entry(e);
                    let new = tier::warm_size_of(key.len(), v.len());
                    e.set_obj_warm_len(new);
                    delta[i] += new as i64 - old as i64;
                    ops.push(Op::Put(k, v));
                }
                None => {
                    delta[i] -= old as i64;
                    ops.push(Op::Delete(k));
                }
            }
        }
        for (i, d) in delta.iter().enumerate() {
            w.add_bytes(i, *d);
        }
        for i in (0..SLOTS_PER_SHARD).filter(|i| tables & (1 << i) != 0) {
            let bytes = self.warm.as_ref().map_or(0, |w| w.bytes[i]);
            ops.push(self.count_op(i, bytes));
        }
        let w = self.warm.as_ref()?;
        Some(FlushJob {
            ops,
            delta,
            keys: dirty,
            generation: w.generation,
            gate: w.gate.clone(),
            warm: w.warm.clone(),
        })
    }

    /// Settles a batch once written (`res`): its keys are clean, or dirty again. `flight`:
    /// it was written outside the shard lock (its keys wait in `flushing`).
    pub fn finish_flush(
        &mut self,
        mut job: FlushJob,
        res: Result<(), TierError>,
        flight: bool,
    ) -> Result<usize, TierError> {
        let Some(w) = &mut self.warm else {
            return Ok(0);
        };
        if flight {
            job.keys = std::mem::take(&mut w.flushing);
        }
        let n = job.keys.len();
        // FLUSHALL came in between: it emptied the store and the counts after this landed.
        let current = job.generation == w.generation;
        match res {
            Ok(()) => {
                let st = &w.warm.stats;
                w.warm.bump(&st.flushed_keys, n as u64);
                w.warm.bump(&st.flush_batches, 1);
                Ok(n)
            }
            Err(e) => {
                w.warm.bump(&w.warm.stats.write_errors, 1);
                if current {
                    for (i, d) in job.delta.iter().enumerate() {
                        w.add_bytes(i, -d);
                    }
                    // What the store still holds is what they counted for before.
                    w.dirty.extend(job.keys);
                }
                Err(e)
            }
        }
    }

    /// Drops `key` from memory, leaving it to the warm tier (eviction when tiered): a dirty
    /// key is flushed first, with the rest of the shard's. Not a change of the key, so no
    /// write hook fires. Returns the bytes freed, `None` if memory does not hold it or it
    /// cannot be flushed.
    pub fn demote(&mut self, slot: u16, key: &[u8]) -> Option<usize> {
        let i = self.local(slot);
        let hash = self.hash(key);
        let w = self.warm.as_mut()?;
        if w.flushing.contains_key(key) {
            // Its batch is in flight (the flusher's, started under this lock): once it has
            // landed the store holds the key, which is then clean as far as that batch goes
            // (a change since keeps it dirty); if it failed, the key goes back to dirty and
            // stays. A deletion in flight stays in flight until its batch is settled.
            let in_memory = self.slots[i].table.find(hash, |e| e.key() == key).is_some();
            if !in_memory || !w.gate.wait() {
                return None;
            }
            w.flushing.remove(key);
        }
        if w.dirty.contains_key(key) {
            if let Err(e) = self.flush_dirty() {
                tracing::error!("flushing before demotion: {e}");
                return None;
            }
        }
        let old = self.remove_hashed(i, hash, key)?;
        let w = self.warm.as_mut()?;
        w.promoted.remove(key);
        w.add_cold(i, 1);
        w.warm.bump(&w.warm.stats.demotions, 1);
        Some(old.mem_usage())
    }

    /// Keys of `slot` held only by the warm tier and live at `now`, with their types.
    pub fn warm_keys(&self, slot: u16, now: u64) -> Vec<(Box<[u8]>, Kind)> {
        self.warm_keys_up_to(slot, now, usize::MAX)
    }

    /// The first `limit` of [`Shard::warm_keys`], in key order.
    pub fn warm_keys_up_to(&self, slot: u16, now: u64, limit: usize) -> Vec<(Box<[u8]>, Kind)> {
        let i = self.local(slot);
        let mut out = Vec::new();
        let Some(w) = &self.warm else {
            return out;
        };
        if w.cold[i] == 0 {
            return out;
        }
        let (from, to) = tier::slot_range(slot);
        let table = &self.slots[i].table;
        let res = w.warm.store.scan(&from, &to, &mut |k, v| {
            let key = &k[2..];
            if tier::is_expired(v, now) || w.is_dirty(key) {
                return true;
            }
            let hash = self.hasher.hash_one(key);
            if table.find(hash, |e| e.key() == key).is_none() {
                if let Some(kind) = tier::kind_of(v) {
                    out.push((key.into(), kind));
                }
            }
            out.len() < limit
        });
        if let Err(e) = res {
            tracing::error!("scanning the warm tier: {e}");
        }
        out
    }

    /// A random live key held only by the warm tier.
    pub fn random_warm_key(&self, now: u64) -> Option<Box<[u8]>> {
        let w = self.warm.as_ref()?;
        let start = fastrand::usize(..SLOTS_PER_SHARD);
        (0..SLOTS_PER_SHARD)
            .map(|n| (start + n) % SLOTS_PER_SHARD)
            .filter(|&i| w.cold[i] > 0)
            .find_map(|i| {
                let mut keys = self.warm_keys(self.slot_at(i), now);
                (!keys.is_empty()).then(|| keys.swap_remove(fastrand::usize(..keys.len())).0)
            })
    }

    /// The warm tier's active expiry for one slot, which also recounts its warm-only keys
    /// (the compaction filter drops expired ones without telling anyone) and its value bytes
    /// (so that a miscount cannot last). Expired keys are deleted as a read would delete them.
    pub fn sweep_warm(&mut self, slot: u16, now: u64) {
        let i = self.local(slot);
        let Some(w) = &self.warm else {
            return;
        };
        let (from, to) = tier::slot_range(slot);
        let table = &self.slots[i].table;
        // With no batch half-landed, so that the bytes it counts are the store's.
        let _ = w.gate.wait();
        let (mut live, mut dead, mut bytes) = (0u64, Vec::new(), 0i64);
        let res = w.warm.store.scan(&from, &to, &mut |k, v| {
            let key = &k[2..];
            let size = tier::warm_size(key.len(), v);
            bytes += size as i64;
            let hash = self.hasher.hash_one(key);
            if w.is_dirty(key) || table.find(hash, |e| e.key() == key).is_some() {
                return true;
            }
            if tier::is_expired(v, now) {
                if let (Some(p), Some(c)) = (cold::decode_pointer(v), &w.warm.cold) {
                    c.release(p.segment, p.len);
                }
                dead.push((Box::<[u8]>::from(key), size));
            } else {
                live += 1;
            }
            true
        });
        if let Err(e) = res {
            tracing::error!("sweeping the warm tier: {e}");
            return;
        }
        if let Some(w) = &mut self.warm {
            w.cold_total = w.cold_total - w.cold[i] + live;
            w.cold[i] = live;
            if w.bytes[i] != bytes {
                tracing::debug!(slot, counted = w.bytes[i], bytes, "recounted warm bytes");
                w.add_bytes(i, bytes - w.bytes[i]);
            }
        }
        self.stats.expired += dead.len() as u64;
        for (k, size) in &dead {
            self.mark_dirty_sized(k, *size);
            self.events.emit(crate::notify::EXPIRED, "expired", k);
            self.touched(k);
        }
    }

    /// A warm-only key's type and expiry read from its stored header (`None`: absent,
    /// expired, or deleted in memory and not yet flushed).
    pub(super) fn warm_meta(&self, i: usize, key: &[u8], now: u64) -> Option<(Kind, u64)> {
        let w = self.warm.as_ref()?;
        if w.cold[i] == 0 || w.is_dirty(key) {
            return None;
        }
        match w.warm.store.get(&tier::encode_key(self.slot_at(i), key)) {
            Ok(Some(d)) if !tier::is_expired(&d, now) => {
                Some((tier::kind_of(&d)?, tier::expire_of(&d)?))
            }
            Ok(_) => None,
            Err(e) => {
                w.warm.bump(&w.warm.stats.read_errors, 1);
                tracing::error!("reading a key's metadata from the warm tier: {e}");
                None
            }
        }
    }

    /// Which tier holds a live key, without loading it: "memory", "warm", or `None`.
    pub fn tier_of(&self, slot: u16, key: &[u8], now: u64) -> Option<&'static str> {
        let i = self.local(slot);
        let hash = self.hash(key);
        if let Some(e) = self.slots[i].table.find(hash, |e| e.key() == key) {
            return (!e.is_expired(now)).then_some("memory");
        }
        let w = self.warm.as_ref()?;
        if w.cold[i] == 0 || w.is_dirty(key) {
            return None;
        }
        match w.warm.store.get(&tier::encode_key(slot, key)) {
            Ok(Some(d)) if !tier::is_expired(&d, now) && cold::is_pointer(&d) => Some("cold"),
            Ok(Some(d)) if !tier::is_expired(&d, now) => Some("warm"),
            _ => None,
        }
    }

    /// A key's value fetched from the cold tier while the shard lock is held: only when a
    /// client's prefetch missed it (it was evicted in between) or on paths without one.
    /// Bounded by the cold tier's timeout; `None` (logged, counted) when the fetch fails.
    fn fetch_cold_blocking(&self, warm: &Warm, p: Pointer) -> Option<Vec<u8>> {
        let c = warm.cold.as_ref()?;
        match c.fetch_blocking(p) {
            Ok(bytes) => {
                c.stats
                    .promotions
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(bytes)
            }
            Err(e) => {
                warm.bump(&warm.stats.read_errors, 1);
                tracing::error!("reading a cold value: {e}");
                None
            }
        }
    }

    /// The pointer to fetch before a command may touch `key`: memory lacks it and the warm
    /// tier holds it as a live pointer into a cold segment.
    pub fn cold_pointer(&self, slot: u16, key: &[u8], now: u64) -> Option<Pointer> {
        let i = self.local(slot);
        let w = self.warm.as_ref()?;
        w.warm.cold.as_ref()?;
        if w.cold[i] == 0 || w.is_dirty(key) {
            return None;
        }
        let hash = self.hash(key);
        if self.slots[i].table.find(hash, |e| e.key() == key).is_some() {
            return None;
        }
        match w.warm.store.get(&tier::encode_key(slot, key)) {
            Ok(Some(d)) if !tier::is_expired(&d, now) => cold::decode_pointer(&d),
            _ => None,
        }
    }

    /// Brings a fetched cold value into memory (clean: its warm copy stays the pointer),
    /// unless the key changed meanwhile. Returns whether it was installed.
    pub fn install_cold(&mut self, slot: u16, key: &[u8], p: Pointer, bytes: &[u8]) -> bool {
        let now = crate::db::now_ms();
        if self.cold_pointer(slot, key, now) != Some(p) {
            return false;
        }
        let Some(e) = tier::decode_entry(key, bytes) else {
            return false;
        };
        let i = self.local(slot);
        let hash = self.hash(key);
        self.put_hashed(i, hash, e);
        if let Some(w) = &mut self.warm {
            w.sub_cold(i);
            w.promoted.insert(key.into(), (p.segment, p.len));
            w.warm.bump(&w.warm.stats.loads, 1);
            if let Some(c) = &w.warm.cold {
                c.stats
                    .promotions
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        true
    }

    /// Values of `slot` that could move to the cold tier: held by the warm tier only, live,
    /// not already cold, big enough to be worth a pointer. `(store key, value, access)`.
    pub fn cold_candidates(&self, slot: u16, now: u64, out: &mut Vec<(Vec<u8>, Vec<u8>, u32)>) {
        let i = self.local(slot);
        let Some(w) = &self.warm else {
            return;
        };
        if w.cold[i] == 0 {
            return;
        }
        let (from, to) = tier::slot_range(slot);
        let table = &self.slots[i].table;
        let res = w.warm.store.scan(&from, &to, &mut |k, v| {
            let key = &k[2..];
            if v.len() < cold::MIN_COLD_VALUE
                || cold::is_pointer(v)
                || tier::is_expired(v, now)
                || w.is_dirty(key)
                || table
                    .find(self.hasher.hash_one(key), |e| e.key() == key)
                    .is_some()
            {
                return true;
            }
            out.push((k.to_vec(), v.to_vec(), tier::lru_of(v)));
            true
        });
        if let Err(e) = res {
            tracing::error!("scanning the warm tier for cold candidates: {e}");
        }
    }

    /// Replaces warm values by pointers to where a segment now holds them, for those still
    /// unchanged (same bytes, not in memory, not dirty). `records`: (store key, the value
    /// or the pointer it must still equal, new pointer). Returns the (count, bytes) replaced.
    pub fn install_pointers(&mut self, records: &[cold::Record]) -> Result<(u64, u64), TierError> {
        let Some(w) = &self.warm else {
            return Ok((0, 0));
        };
        let mut ops = Vec::with_capacity(records.len());
        let (mut n, mut bytes) = (0, 0);
        let mut repointed = Vec::new();
        let mut delta = [0i64; SLOTS_PER_SHARD];
        let mut tables = 0u64;
        for (k, expect, p) in records {
            let key = &k[2..];
            if w.is_dirty(key) {
                continue;
            }
            let i = self.local(key_slot(key));
            let in_memory = self.slots[i]
                .table
                .find(self.hasher.hash_one(key), |e| e.key() == key)
                .is_some();
            let current = w.warm.store.get(k)?;
            if current.as_deref() != Some(&expect[..]) {
                continue;
            }
            if in_memory {
                // A fresh demotion skips keys memory holds (they are hot); a garbage-collection
                // move repoints them too (clean in memory, pointer below).
                if !cold::is_pointer(expect) {
                    continue;
                }
                repointed.push((Box::<[u8]>::from(key), p.segment, p.len));
            }
            ops.push(Op::Put(k.clone(), cold::encode_pointer(expect, *p)));
            delta[i] -= tier::warm_size(key.len(), expect) as i64;
            tables |= 1 << i;
            n += 1;
            bytes += p.len as u64;
        }
        for i in (0..SLOTS_PER_SHARD).filter(|i| tables & (1 << i) != 0) {
            let b = self.warm.as_ref().map_or(0, |w| w.bytes[i]) + delta[i];
            ops.push(self.count_op(i, b));
        }
        if !ops.is_empty() {
            let _ = w.gate.wait();
            w.warm.store.write(&ops)?;
        }
        if let Some(w) = &mut self.warm {
            for (i, d) in delta.iter().enumerate() {
                w.add_bytes(i, *d);
            }
            for (key, seg, len) in repointed {
                if let Some(e) = w.promoted.get_mut(&key) {
                    *e = (seg, len);
                }
            }
        }
        Ok((n, bytes))
    }

    /// The warm tier this shard writes behind to (none with `--storage memory`).
    pub fn warm_tier(&self) -> Option<Arc<Warm>> {
        self.warm.as_ref().map(|w| w.warm.clone())
    }

    /// FLUSHALL's tier part for this shard: it forgets its slots' state. The stored keys go
    /// with [`crate::db::Db::clear_all`]'s range deletions, written once for every shard.
    pub(super) fn forget_warm(&mut self) {
        let Some(w) = &mut self.warm else {
            return;
        };
        // A batch in flight lands before the deletions, never after.
        let _ = w.gate.wait();
        w.dirty.clear();
        w.flushing.clear();
        w.generation += 1;
        w.promoted.clear();
        if let Some(c) = &w.warm.cold {
            c.release_all();
        }
        w.cold.iter_mut().for_each(|c| *c = 0);
        w.cold_total = 0;
        let total: i64 = w.bytes.iter().sum();
        w.bytes.iter_mut().for_each(|b| *b = 0);
        w.warm.add_live_bytes(-total);
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{Clock, Entry, Keyspace};
    use crate::tier::{AppendFsync, MemoryTier, Warm, WarmStore};
    use autocache_proto::slot::key_slot;
    use std::sync::Arc;

    fn keyspace(store: &Arc<MemoryTier>) -> Keyspace {
        Keyspace::tiered(Arc::new(Warm::new(
            Box::new(store.clone()),
            AppendFsync::No,
        )))
        .unwrap()
    }

    fn set(ks: &Keyspace, key: &[u8], value: &[u8], expire_at: u64) {
        let slot = key_slot(key);
        ks.lock_shard(crate::db::shard_of(slot))
            .insert(slot, Entry::string(key, value, expire_at, 0));
    }

    fn get(ks: &Keyspace, key: &[u8]) -> Option<Vec<u8>> {
        let slot = key_slot(key);
        let clock = Clock::now(false);
        let mut s = ks.lock_shard(crate::db::shard_of(slot));
        s.get(slot, key, &clock)
            .map(|e| e.as_str().unwrap().to_vec())
    }

    fn demote(ks: &Keyspace, key: &[u8]) -> Option<usize> {
        let slot = key_slot(key);
        ks.lock_shard(crate::db::shard_of(slot)).demote(slot, key)
    }

    fn total(ks: &Keyspace) -> usize {
        (0..crate::db::SHARDS)
            .map(|i| ks.lock_shard(i).key_count())
            .sum()
    }

    #[test]
    fn demoted_keys_come_back_and_are_counted_once() {
        let store = Arc::new(MemoryTier::default());
        let ks = keyspace(&store);
        for i in 0..100 {
            set(
                &ks,
                format!("k{i}").as_bytes(),
                format!("v{i}").as_bytes(),
                0,
            );
        }
        // A dirty key is flushed on demotion; afterwards it lives in the warm tier only.
        assert!(demote(&ks, b"k1").is_some());
        assert_eq!(total(&ks), 100);
        ks.flush_dirty().unwrap();
        for i in 0..100 {
            assert!(demote(&ks, format!("k{i}").as_bytes()).is_some() || i == 1);
        }
        assert_eq!(total(&ks), 100);
        let slot = key_slot(b"k7");
        assert_eq!(
            ks.lock_shard(crate::db::shard_of(slot))
                .tier_of(slot, b"k7", 0),
            Some("warm")
        );
        assert_eq!(get(&ks, b"k7").as_deref(), Some(&b"v7"[..]));
        assert_eq!(
            ks.lock_shard(crate::db::shard_of(slot))
                .tier_of(slot, b"k7", 0),
            Some("memory")
        );
        // Overwriting and deleting warm-only keys replace them, whatever the tier.
        set(&ks, b"k8", b"new", 0);
        let s8 = key_slot(b"k8");
        assert!(ks
            .lock_shard(crate::db::shard_of(s8))
            .remove(s8, b"k9")
            .is_none());
        let s9 = key_slot(b"k9");
        let old = ks.lock_shard(crate::db::shard_of(s9)).remove(s9, b"k9");
        assert_eq!(old.unwrap().as_str(), Some(&b"v9"[..]));
        assert_eq!(total(&ks), 99);
        ks.flush_dirty().unwrap();
        // A new keyspace over the same store (a restart) serves the same data at once.
        drop(ks);
        let ks = keyspace(&store);
        assert_eq!(total(&ks), 99);
        assert_eq!(get(&ks, b"k8").as_deref(), Some(&b"new"[..]));
        assert_eq!(get(&ks, b"k9"), None);
        assert_eq!(get(&ks, b"k50").as_deref(), Some(&b"v50"[..]));
    }

    #[test]
    fn a_deletion_not_yet_flushed_hides_the_warm_copy() {
        let store = Arc::new(MemoryTier::default());
        let ks = keyspace(&store);
        set(&ks, b"a", b"1", 0);
        ks.flush_dirty().unwrap();
        demote(&ks, b"a").unwrap();
        let slot = key_slot(b"a");
        assert!(ks
            .lock_shard(crate::db::shard_of(slot))
            .remove(slot, b"a")
            .is_some());
        assert_eq!(get(&ks, b"a"), None);
        let shard = ks.lock_shard(crate::db::shard_of(slot));
        assert!(shard.warm_keys(slot, 0).is_empty());
        assert_eq!(shard.key_count(), 0);
    }

    #[test]
    fn expired_warm_keys_never_resurface() {
        let store = Arc::new(MemoryTier::default());
        let ks = keyspace(&store);
        let past = crate::db::now_ms() - 1;
        set(&ks, b"gone", b"x", past);
        set(&ks, b"kept", b"y", 0);
        ks.flush_dirty().unwrap();
        let slot = key_slot(b"gone");
        {
            let mut shard = ks.lock_shard(crate::db::shard_of(slot));
            shard.demote(slot, b"gone").unwrap();
            assert!(shard.warm_keys(slot, crate::db::now_ms()).is_empty());
            assert!(shard.random_warm_key(crate::db::now_ms()).is_none());
        }
        assert_eq!(get(&ks, b"gone"), None);
        ks.flush_dirty().unwrap();
        assert!(store
            .get(&crate::tier::encode_key(slot, b"gone"))
            .unwrap()
            .is_none());
        assert_eq!(get(&ks, b"kept").as_deref(), Some(&b"y"[..]));
    }

    #[test]
    fn the_sweep_deletes_expired_warm_keys_and_recounts() {
        let store = Arc::new(MemoryTier::default());
        let ks = keyspace(&store);
        let soon = crate::db::now_ms() + 50;
        set(&ks, b"short", b"x", soon);
        set(&ks, b"{short}long", b"y", 0);
        ks.flush_dirty().unwrap();
        demote(&ks, b"short").unwrap();
        demote(&ks, b"{short}long").unwrap();
        let slot = key_slot(b"short");
        let mut shard = ks.lock_shard(crate::db::shard_of(slot));
        assert_eq!(shard.slot_key_count(slot), 2);
        shard.sweep_warm(slot, soon + 1);
        assert_eq!(shard.slot_key_count(slot), 1);
        shard.flush_dirty().unwrap();
        assert!(store
            .get(&crate::tier::encode_key(slot, b"short"))
            .unwrap()
            .is_none());
        assert_eq!(
            store.get(&crate::tier::count_key(slot)).unwrap(),
            Some(crate::tier::count_value(1, 2 + 11 + 14 + 1))
        );
    }

    /// What the store holds in value bytes, counted the slow way.
    fn stored_bytes(store: &MemoryTier) -> u64 {
        let mut n = 0u64;
        store
            .scan(&[0, 0], &[crate::tier::META], &mut |k, v| {
                n += crate::tier::warm_size(k.len() - 2, v) as u64;
                true
            })
            .unwrap();
        n
    }

    #[test]
    fn warm_bytes_follow_writes_deletes_and_restarts() {
        use crate::types::{hash::Hash, Value};
        let store = Arc::new(MemoryTier::default());
        let ks = keyspace(&store);
        let live = |ks: &Keyspace| ks.warm().unwrap().live_bytes();
        for i in 0..50 {
            set(&ks, format!("k{i}").as_bytes(), &vec![b'x'; i * 10], 0);
        }
        let hslot = key_slot(b"h");
        let clock = Clock::now(false);
        ks.lock_shard(crate::db::shard_of(hslot)).insert(
            hslot,
            Entry::object(b"h", Value::Hash(Hash::default()), 0, 0),
        );
        ks.flush_dirty().unwrap();
        assert_eq!(live(&ks), stored_bytes(&store));
        assert!(live(&ks) > 50 * 10 * 49 / 2);
        // Overwrites (bigger, smaller), deletes, a collection changed in place, an expiry.
        set(&ks, b"k3", &[b'y'; 500], 0);
        set(&ks, b"k40", b"", 0);
        for k in ["k5", "k6", "nope"] {
            let slot = key_slot(k.as_bytes());
            ks.lock_shard(crate::db::shard_of(slot))
                .remove(slot, k.as_bytes());
        }
        {
            let mut s = ks.lock_shard(crate::db::shard_of(hslot));
            let e = s.get_mut(hslot, b"h", &clock).unwrap();
            if let Some(Value::Hash(h)) = e.value_mut() {
                h.insert(b"field", &[b'v'; 300]);
            }
        }
        set(&ks, b"k7", b"soon", crate::db::now_ms() + 1);
        ks.flush_dirty().unwrap();
        assert_eq!(live(&ks), stored_bytes(&store));
        // Demoted and read back, changed again; an expired one goes.
        for i in 0..50 {
            demote(&ks, format!("k{i}").as_bytes());
        }
        demote(&ks, b"h");
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(get(&ks, b"k7"), None);
        assert_eq!(get(&ks, b"k8").map(|v| v.len()), Some(80));
        set(&ks, b"k9", b"short", 0);
        {
            let mut s = ks.lock_shard(crate::db::shard_of(hslot));
            let e = s.get_mut(hslot, b"h", &clock).unwrap();
            if let Some(Value::Hash(h)) = e.value_mut() {
                h.insert(b"more", &[b'v'; 1000]);
            }
        }
        ks.flush_dirty().unwrap();
        assert_eq!(live(&ks), stored_bytes(&store));
        let before = live(&ks);
        // A restart reads the count back.
        drop(ks);
        let ks = keyspace(&store);
        assert_eq!(live(&ks), before);
        // FLUSHALL empties it.
        crate::db::Db::Free(&ks).clear_all();
        assert_eq!(live(&ks), 0);
        assert_eq!(stored_bytes(&store), 0);
    }

    #[test]
    fn a_store_without_byte_counts_is_counted_once_at_open() {
        let store = Arc::new(MemoryTier::default());
        let ks = keyspace(&store);
        for i in 0..20 {
            set(&ks, format!("k{i}").as_bytes(), &[b'z'; 100], 0);
        }
        ks.flush_dirty().unwrap();
        let want = stored_bytes(&store);
        drop(ks);
        // The older format: an 8-byte count only.
        let (from, to) = crate::tier::count_range();
        let mut old = Vec::new();
        store
            .scan(&from, &to, &mut |k, v| {
                old.push(crate::tier::Op::Put(k.to_vec(), v[..8].to_vec()));
                true
            })
            .unwrap();
        store.write(&old).unwrap();
        let ks = keyspace(&store);
        assert_eq!(ks.warm().unwrap().live_bytes(), want);
        assert_eq!(total(&ks), 20);
    }

    #[test]
    fn clear_empties_the_warm_tier() {
        let store = Arc::new(MemoryTier::default());
        let ks = keyspace(&store);
        set(&ks, b"a", b"1", 0);
        ks.flush_dirty().unwrap();
        demote(&ks, b"a").unwrap();
        crate::db::Db::Free(&ks).clear_all();
        assert_eq!(total(&ks), 0);
        assert_eq!(get(&ks, b"a"), None);
        assert_eq!(store.size_bytes(), 0);
    }
}
