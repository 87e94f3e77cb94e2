//! The keyspace: 16384 slot tables grouped into lock shards.
//!
//! A key's slot decides its table, so per-slot work (COUNTKEYSINSLOT, migration) stays local
//! and a command whose keys share a slot takes one lock. Locks are `parking_lot` mutexes held
//! only for the duration of one command, never across an `.await`. Commands needing several
//! shards lock them in ascending order; EXEC holds all of them.

mod entry;
pub mod evict;
mod shard;

pub use entry::{Entry, Kind, Lru};
pub use shard::{FlushJob, Shard, ShardStats, SlotTable, Waiter, WatchFlag};

use autocache_proto::slot::{key_slot, SLOT_COUNT};
use parking_lot::{Mutex, MutexGuard};
use std::ops::{Deref, DerefMut};

/// Lock shards. A slot's shard is `slot % SHARDS`, so neighbouring slots spread out.
pub const SHARDS: usize = 256;
pub const SLOTS_PER_SHARD: usize = SLOT_COUNT / SHARDS;

pub fn shard_of(slot: u16) -> usize {
    slot as usize % SHARDS
}

/// What a command needs to know about "now": wall time for expiry and the access clock the
/// eviction policy keeps per key.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Unix time in milliseconds.
    pub ms: u64,
    /// Redis's 24-bit LRU clock (seconds).
    pub lru: u32,
    /// Whether access updates LFU counters instead of the LRU clock.
    pub lfu: bool,
    /// Redis's `lfu-log-factor` and `lfu-decay-time`.
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
}

impl Clock {
    pub fn now(lfu: bool) -> Clock {
        let ms = now_ms();
        Clock {
            ms,
            lru: ((ms / 1000) & 0xFF_FFFF) as u32,
            lfu,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
        }
    }

    /// The access metadata a new key starts with.
    pub fn initial_lru(&self) -> Lru {
        if self.lfu {
            evict::lfu_initial(self)
        } else {
            self.lru
        }
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Store operations past which a flush pass writes what it has collected so far (a backlog
/// is written in several batches of bounded size).
const PASS_OPS: usize = 1 << 16;

/// A flush pass's batches not yet written, and what it wrote so far.
#[derive(Default)]
struct Pass<'m> {
    jobs: Vec<(usize, FlushJob)>,
    ops: usize,
    /// Bytes of the encoded batches held, and their exclusion from maxmemory (the flusher's).
    bytes: usize,
    buffers: Option<crate::memory::NotCounted<'m>>,
    written: usize,
    failed: Option<crate::tier::TierError>,
}

pub struct Keyspace {
    shards: Box<[Mutex<Shard>]>,
    /// Keyspace notifications: the enabled classes and the pub/sub they go out on.
    pub events: std::sync::Arc<crate::notify::Events>,
    /// The warm tier memory caches, when tiered: eviction then demotes instead of deleting.
    warm: Option<std::sync::Arc<crate::tier::Warm>>,
}

impl Default for Keyspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Keyspace {
    pub fn new() -> Keyspace {
        let events = std::sync::Arc::new(crate::notify::Events::default());
        Keyspace {
            shards: (0..SHARDS)
                .map(|i| Mutex::new(Shard::new(i, events.clone())))
                .collect(),
            events,
            warm: None,
        }
    }

    /// A keyspace whose memory caches `warm` (`--storage tiered`). Its per-slot key counts
    /// and value bytes are read here, not its data: keys come up on first access. A store
    /// written before the bytes were kept has them counted once here, by a scan.
    pub fn tiered(
        warm: std::sync::Arc<crate::tier::Warm>,
    ) -> Result<Keyspace, crate::tier::TierError> {
        let mut counts = vec![0u64; SLOT_COUNT];
        let mut bytes = vec![0u64; SLOT_COUNT];
        let mut unknown = Vec::new();
        let (from, to) = crate::tier::count_range();
        warm.store.scan(&from, &to, &mut |k, v| {
            if let (Some(slot), Some((n, b))) =
                (crate::tier::count_slot(k), crate::tier::decode_count(v))
            {
                if let Some(c) = counts.get_mut(slot as usize) {
                    *c = n;
                    match b {
                        Some(b) => bytes[slot as usize] = b,
                        None => unknown.push(slot),
                    }
                }
            }
            true
        })?;
        if !unknown.is_empty() {
            tracing::info!(
                "counting the warm tier's value bytes of {} slots (once)",
                unknown.len()
            );
            let mut ops = Vec::with_capacity(unknown.len());
            for &slot in &unknown {
                let (from, to) = crate::tier::slot_range(slot);
                let mut b = 0u64;
                warm.store.scan(&from, &to, &mut |k, v| {
                    b += crate::tier::warm_size(k.len() - 2, v) as u64;
                    true
                })?;
                bytes[slot as usize] = b;
                ops.push(crate::tier::Op::Put(
                    crate::tier::count_key(slot),
                    crate::tier::count_value(counts[slot as usize], b),
                ));
            }
            warm.store.write(&ops)?;
        }
        let mut ks = Keyspace::new();
        ks.warm = Some(warm.clone());
        for s in ks.shards.iter() {
            s.lock().attach_warm(warm.clone(), &counts, &bytes);
        }
        Ok(ks)
    }

    /// Writes every shard's dirty keys to the warm tier. A shard's keys are encoded under its
    /// lock; the batches of many shards are then written as one, sorted by store key (the
    /// engine inserts sorted keys into its memtable far faster than random ones), after
    /// letting the locks go, so that serving never waits on the engine. Returns how many keys
    /// were written.
    pub fn flush_dirty(&self) -> Result<usize, crate::tier::TierError> {
        self.flush_pass(None)
    }

    /// [`Keyspace::flush_dirty`] for the flusher: the batches it holds in flight are encoded
    /// copies of data memory holds, left out of maxmemory while they live (as Redis leaves
    /// out its AOF buffer), so that a small maxmemory never refuses writes because of them.
    pub fn flush_dirty_outside(
        &self,
        memory: &crate::memory::Memory,
    ) -> Result<usize, crate::tier::TierError> {
        self.flush_pass(Some(memory))
    }

    fn flush_pass(
        &self,
        memory: Option<&crate::memory::Memory>,
    ) -> Result<usize, crate::tier::TierError> {
        let mut pass = Pass {
            buffers: memory.map(|m| m.not_counted_guard()),
            ..Pass::default()
        };
        for (i, s) in self.shards.iter().enumerate() {
            // Never block on a shard lock while holding batches in flight: a writer holding
            // that lock (EXEC holds them all) may be waiting for one of them to land.
            let mut shard = match s.try_lock() {
                Some(g) => g,
                None => {
                    self.land(&mut pass);
                    s.lock()
                }
            };
            if let Some(job) = shard.start_flush() {
                pass.ops += job.ops.len();
                pass.bytes += job.bytes();
                if let Some(b) = &mut pass.buffers {
                    b.set(pass.bytes as u64);
                }
                pass.jobs.push((i, job));
            }
            drop(shard);
            if pass.ops >= PASS_OPS {
                self.land(&mut pass);
            }
        }
        self.land(&mut pass);
        pass.failed.map_or(Ok(pass.written), Err)
    }

    /// Writes the batches collected so far as one, opens their shards' gates, and settles
    /// each with its shard.
    fn land(&self, pass: &mut Pass<'_>) {
        let jobs = std::mem::take(&mut pass.jobs);
        pass.ops = 0;
        pass.bytes = 0;
        let Some((_, first)) = jobs.first() else {
            return;
        };
        let warm = first.warm.clone();
        let mut ops: Vec<crate::tier::Op> =
            Vec::with_capacity(jobs.iter().map(|(_, j)| j.ops.len()).sum());
        let mut jobs = jobs;
        for (_, job) in jobs.iter_mut() {
            ops.append(&mut job.ops);
        }
        // Keys are distinct across shards (a slot belongs to one), so order within the batch
        // does not change what it does.
        ops.sort_unstable_by(|a, b| crate::tier::op_key(a).cmp(crate::tier::op_key(b)));
        let res = warm.store.write(&ops);
        drop(ops);
        if let Some(b) = &mut pass.buffers {
            b.set(0);
        }
        for (_, job) in &jobs {
            job.gate.open(res.is_ok());
        }
        for (i, job) in jobs {
            let res = match &res {
                Ok(()) => Ok(()),
                Err(e) => Err(crate::tier::TierError::Engine(e.to_string())),
            };
            match self.shards[i].lock().finish_flush(job, res, true) {
                Ok(k) => pass.written += k,
                Err(e) => pass.failed = Some(e),
            }
        }
    }

    pub fn is_tiered(&self) -> bool {
        self.warm.is_some()
    }

    pub fn warm(&self) -> Option<&std::sync::Arc<crate::tier::Warm>> {
        self.warm.as_ref()
    }

    pub fn lock_shard(&self, shard: usize) -> MutexGuard<'_, Shard> {
        self.shards[shard].lock()
    }

    /// Every shard, in order: EXEC and whole-keyspace commands hold them all at once.
    pub fn lock_all(&self) -> Vec<MutexGuard<'_, Shard>> {
        self.shards.iter().map(|s| s.lock()).collect()
    }
}

/// A handler's access to the keyspace: either it locks what it needs (the usual case), or it
/// runs inside EXEC where every shard is already held.
pub enum Db<'a, 'g> {
    Free(&'g Keyspace),
    Held(&'a mut [MutexGuard<'g, Shard>]),
}

/// One locked shard.
pub enum ShardRef<'a> {
    Owned(MutexGuard<'a, Shard>),
    Held(&'a mut Shard),
}

impl Deref for ShardRef<'_> {
    type Target = Shard;
    fn deref(&self) -> &Shard {
        match self {
            ShardRef::Owned(g) => g,
            ShardRef::Held(s) => s,
        }
    }
}

impl DerefMut for ShardRef<'_> {
    fn deref_mut(&mut self) -> &mut Shard {
        match self {
            ShardRef::Owned(g) => g,
            ShardRef::Held(s) => s,
        }
    }
}

/// Several locked shards, found by slot.
pub enum Multi<'a, 'g> {
    Owned(Vec<(usize, MutexGuard<'g, Shard>)>),
    Held(&'a mut [MutexGuard<'g, Shard>]),
}

impl Multi<'_, '_> {
    pub fn shard(&mut self, slot: u16) -> &mut Shard {
        let want = shard_of(slot);
        match self {
            Multi::Owned(v) => {
                let i = v
                    .binary_search_by_key(&want, |(i, _)| *i)
                    .expect("slot's shard was locked");
                &mut v[i].1
            }
            Multi::Held(all) => &mut all[want],
        }
    }

    /// The shard holding `key`, with the key's slot.
    pub fn for_key(&mut self, key: &[u8]) -> (&mut Shard, u16) {
        let slot = key_slot(key);
        (self.shard(slot), slot)
    }
}

impl<'g> Db<'_, 'g> {
    /// The same access for a shorter borrow (a script's commands, one at a time).
    pub fn reborrow(&mut self) -> Db<'_, 'g> {
        match self {
            Db::Free(ks) => Db::Free(ks),
            Db::Held(all) => Db::Held(all),
        }
    }

    /// Locks the shard of `slot`.
    pub fn lock(&mut self, slot: u16) -> ShardRef<'_> {
        match self {
            Db::Free(ks) => ShardRef::Owned(ks.lock_shard(shard_of(slot))),
            Db::Held(all) => ShardRef::Held(&mut all[shard_of(slot)]),
        }
    }

    /// Locks the shard of `key`; returns it with the key's slot.
    pub fn lock_key(&mut self, key: &[u8]) -> (ShardRef<'_>, u16) {
        let slot = key_slot(key);
        (self.lock(slot), slot)
    }

    /// Locks every shard that holds one of `keys`, in ascending order (no deadlock).
    pub fn lock_keys<'k, I>(&mut self, keys: I) -> Multi<'_, 'g>
    where
        I: IntoIterator<Item = &'k [u8]>,
    {
        match self {
            Db::Free(ks) => {
                let mut ids: Vec<usize> = keys.into_iter().map(|k| shard_of(key_slot(k))).collect();
                ids.sort_unstable();
                ids.dedup();
                Multi::Owned(ids.into_iter().map(|i| (i, ks.lock_shard(i))).collect())
            }
            Db::Held(all) => Multi::Held(&mut all[..]),
        }
    }

    /// Runs `f` on each shard in turn (one lock at a time unless inside EXEC).
    pub fn for_each_shard(&mut self, mut f: impl FnMut(&mut Shard)) {
        match self {
            Db::Free(ks) => {
                for i in 0..SHARDS {
                    f(&mut ks.lock_shard(i));
                }
            }
            Db::Held(all) => {
                for g in all.iter_mut() {
                    f(g);
                }
            }
        }
    }

    /// FLUSHALL: every shard is cleared while all are held, as Redis runs it as one command,
    /// and the warm tier loses everything in two range deletions. (A deletion per slot, 32,768
    /// operations, left as many range tombstones that every later scan of the store waded
    /// through: a SCAN after a few FLUSHALLs took seconds.)
    pub fn clear_all(&mut self) {
        // The deletions are written before any shard lets go: a write, a flush or the
        // warm tier's sweep in between would be deleted with the old keys, or count them.
        match self {
            Db::Free(ks) => {
                let mut all = ks.lock_all();
                all.iter_mut().for_each(|s| s.clear());
                if let Some(warm) = ks.warm() {
                    delete_everything(warm);
                }
            }
            Db::Held(all) => {
                all.iter_mut().for_each(|s| s.clear());
                if let Some(warm) = all.first().and_then(|s| s.warm_tier()) {
                    delete_everything(&warm);
                }
            }
        }
    }

    /// Number of keys in every tier (expired ones not yet reclaimed included, as Redis's
    /// DBSIZE).
    pub fn len(&mut self) -> usize {
        let mut n = 0;
        self.for_each_shard(|s| n += s.key_count());
        n
    }

    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }
}

/// FLUSHALL's store part: every slot's keys (they sort below the metadata) and the counts.
fn delete_everything(warm: &crate::tier::Warm) {
    let (count_from, count_to) = crate::tier::count_range();
    let ops = [
        crate::tier::Op::DeleteRange(Vec::new(), vec![crate::tier::META]),
        crate::tier::Op::DeleteRange(count_from, count_to),
    ];
    if let Err(e) = warm.store.write(&ops) {
        warm.bump(&warm.stats.write_errors, 1);
        tracing::error!("clearing the warm tier: {e}");
    }
}
