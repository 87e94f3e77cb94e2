//! A lock shard: the slot tables it owns, its counters, and the hooks writes must fire
//! (WATCH invalidation). Every mutation goes through these methods so no hook is missed.

mod tiered;

pub use tiered::FlushJob;

use super::{Clock, Entry, SHARDS, SLOTS_PER_SHARD};
use crate::notify;
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set when a watched key is modified; EXEC then aborts.
pub type WatchFlag = Arc<AtomicBool>;

/// A client blocked on keys (BLPOP & co). A write to one of its keys wakes the first waiter
/// of that key, which re-runs its command; waiters of a key are served first come, first
/// served.
#[derive(Debug, Default)]
pub struct Waiter {
    pub notify: tokio::sync::Notify,
}

/// One slot's keys.
#[derive(Default)]
pub struct SlotTable {
    table: HashTable<Entry>,
    /// Keys with an expiry: the active expiry cycle skips slots with none.
    volatile: usize,
}

impl SlotTable {
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn volatile(&self) -> usize {
        self.volatile
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.table.iter()
    }
}

/// Counters kept under the shard lock (no atomics on the hot path); INFO sums them.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShardStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
}

pub struct Shard {
    index: usize,
    hasher: DefaultHashBuilder,
    slots: Box<[SlotTable]>,
    pub stats: ShardStats,
    keys: usize,
    volatile: usize,
    watched: HashMap<Box<[u8]>, Vec<WatchFlag>>,
    blocked: HashMap<Box<[u8]>, std::collections::VecDeque<Arc<Waiter>>>,
    /// The tier below memory, when tiered (`None`: memory is all there is).
    warm: Option<Box<tiered::WarmState>>,
    /// Keyspace notifications of what happens to keys here (expiry, eviction, new keys).
    pub events: Arc<crate::notify::Events>,
}

impl Shard {
    pub(super) fn new(index: usize, events: Arc<crate::notify::Events>) -> Shard {
        Shard {
            index,
            hasher: DefaultHashBuilder::default(),
            slots: (0..SLOTS_PER_SHARD).map(|_| SlotTable::default()).collect(),
            stats: ShardStats::default(),
            keys: 0,
            volatile: 0,
            watched: HashMap::new(),
            blocked: HashMap::new(),
            warm: None,
            events,
        }
    }

    fn local(&self, slot: u16) -> usize {
        debug_assert_eq!(slot as usize % SHARDS, self.index);
        slot as usize / SHARDS
    }

    /// The cluster slot of local table `i`.
    pub fn slot_at(&self, i: usize) -> u16 {
        (i * SHARDS + self.index) as u16
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn len(&self) -> usize {
        self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    pub fn volatile(&self) -> usize {
        self.volatile
    }

    pub fn slot(&self, slot: u16) -> &SlotTable {
        &self.slots[self.local(slot)]
    }

    /// The slot tables of this shard with their cluster slots.
    pub fn tables(&self) -> impl Iterator<Item = (u16, &SlotTable)> {
        self.slots
            .iter()
            .enumerate()
            .map(|(i, t)| (self.slot_at(i), t))
    }

    /// Finds a live key, reclaiming it if it has expired. Does not count a hit or touch the
    /// access clock: see [`Shard::get`] for reads on behalf of a client.
    pub fn peek(&mut self, slot: u16, key: &[u8], now: u64) -> Option<&mut Entry> {
        let hash = self.hash(key);
        let i = self.local(slot);
        self.peek_hashed(i, hash, key, now)
    }

    fn peek_hashed(&mut self, i: usize, hash: u64, key: &[u8], now: u64) -> Option<&mut Entry> {
        let found = self.slots[i]
            .table
            .find(hash, |e| e.key() == key)
            .map(|e| e.is_expired(now));
        let expired = match found {
            Some(expired) => expired,
            // A miss in memory may be a key the warm tier holds (loading checks expiry).
            None if self.warm.is_some() && self.load_warm(i, hash, key, now) => false,
            None => return None,
        };
        if expired {
            if let Some(old) = self.remove_hashed(i, hash, key) {
                self.removed_from_memory(key, &old);
            }
            self.stats.expired += 1;
            self.events.emit(notify::EXPIRED, "expired", key);
            self.touched(key);
            return None;
        }
        self.slots[i].table.find_mut(hash, |e| e.key() == key)
    }

    /// A live key's type and expiry without loading it from a lower tier: metadata-only
    /// reads (EXISTS, TYPE, TTL) cost no fetch. A key expired in memory is reclaimed.
    pub fn meta(&mut self, slot: u16, key: &[u8], now: u64) -> Option<(super::Kind, u64)> {
        let i = self.local(slot);
        let hash = self.hash(key);
        let in_memory = self.slots[i].table.find(hash, |e| e.key() == key).is_some();
        if in_memory || self.warm.is_none() {
            return self
                .peek_hashed(i, hash, key, now)
                .map(|e| (e.kind(), e.expire_at()));
        }
        self.warm_meta(i, key, now)
    }

    /// A client's read: counts hit/miss (keyspace_hits/misses) and touches the access clock.
    pub fn get(&mut self, slot: u16, key: &[u8], clock: &Clock) -> Option<&mut Entry> {
        let hash = self.hash(key);
        let i = self.local(slot);
        if self.peek_hashed(i, hash, key, clock.ms).is_none() {
            self.stats.misses += 1;
            self.events.emit(notify::KEY_MISS, "keymiss", key);
            return None;
        }
        self.stats.hits += 1;
        let e = self.slots[i].table.find_mut(hash, |e| e.key() == key)?;
        let lru = if clock.lfu {
            super::evict::lfu_touch(e.lru(), clock)
        } else {
            clock.lru
        };
        e.set_lru(lru);
        Some(e)
    }

    /// A read about to modify the entry in place (collections): fires the write hooks.
    pub fn get_mut(&mut self, slot: u16, key: &[u8], clock: &Clock) -> Option<&mut Entry> {
        self.peek(slot, key, clock.ms)?;
        self.touched(key);
        self.get(slot, key, clock)
    }

    pub fn exists(&mut self, slot: u16, key: &[u8], now: u64) -> bool {
        self.peek(slot, key, now).is_some()
    }

    /// Inserts or replaces; returns the previous entry (expired or not).
    pub fn insert(&mut self, slot: u16, entry: Entry) -> Option<Entry> {
        let key_hash = self.hash(entry.key());
        let i = self.local(slot);
        if self.warm.is_some() {
            // The previous entry may live in the warm tier: bring it up so it is replaced
            // (and returned) like one in memory. Before the write hook marks the key dirty.
            self.load_if_absent(i, key_hash, entry.key());
            self.mark_replaced(i, key_hash, &entry);
        }
        self.notify(entry.key());
        if self.events.flags() & (notify::NEW | notify::EXPIRED) != 0 {
            self.notify_new(i, key_hash, entry.key());
        }
        self.put_hashed(i, key_hash, entry)
    }

    /// Keyspace notifications for a key about to be (re)placed: an expired one it replaces
    /// expires first, then the key is new (as Redis's lookup, then `dbAdd`).
    #[cold]
    fn notify_new(&self, i: usize, hash: u64, key: &[u8]) {
        match self.slots[i].table.find(hash, |e| e.key() == key) {
            Some(e) if !e.is_expired(super::now_ms()) => {}
            Some(_) => {
                self.events.emit(notify::EXPIRED, "expired", key);
                self.events.emit(notify::NEW, "new", key);
            }
            None => self.events.emit(notify::NEW, "new", key),
        }
    }

    /// Inserts or replaces in table `i` without firing write hooks (the callers do).
    fn put_hashed(&mut self, i: usize, key_hash: u64, entry: Entry) -> Option<Entry> {
        let hasher = self.hasher.clone();
        let vol = entry.has_expire();
        let t = &mut self.slots[i];
        let old = match t.table.entry(
            key_hash,
            |e| e.key() == entry.key(),
            |e| hasher.hash_one(e.key()),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut o) => {
                Some(std::mem::replace(o.get_mut(), entry))
            }
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(entry);
                None
            }
        };
        let was_vol = old.as_ref().is_some_and(|o| o.has_expire());
        if old.is_none() {
            self.keys += 1;
        }
        self.adjust_volatile(i, was_vol, vol);
        old
    }

    pub fn remove(&mut self, slot: u16, key: &[u8]) -> Option<Entry> {
        let hash = self.hash(key);
        let i = self.local(slot);
        if self.warm.is_some() {
            self.load_if_absent(i, hash, key);
        }
        let old = self.remove_hashed(i, hash, key);
        if let Some(e) = &old {
            self.removed_from_memory(key, e);
            self.touched(key);
        }
        old
    }

    /// Tiered: loads `key` from the warm tier unless memory holds it (expired or not).
    fn load_if_absent(&mut self, i: usize, hash: u64, key: &[u8]) {
        if self.slots[i].table.find(hash, |e| e.key() == key).is_none() {
            // An expired warm copy is dropped by the loader, as the caller would drop it.
            self.load_warm(i, hash, key, super::now_ms());
        }
    }

    fn remove_hashed(&mut self, i: usize, hash: u64, key: &[u8]) -> Option<Entry> {
        let t = &mut self.slots[i];
        let Ok(found) = t.table.find_entry(hash, |e| e.key() == key) else {
            return None;
        };
        let (old, _) = found.remove();
        // Give memory back when a table is mostly empty (as Redis resizes its dicts down).
        let cap = t.table.capacity();
        if cap > 64 && t.table.len() * 8 < cap {
            let hasher = self.hasher.clone();
            let len = t.table.len();
            t.table.shrink_to(len * 2, |e| hasher.hash_one(e.key()));
        }
        self.keys -= 1;
        if old.has_expire() {
            self.adjust_volatile(i, true, false);
        }
        Some(old)
    }

    /// Sets (or with 0 clears) a live key's expiry. Returns false when the key is absent.
    pub fn set_expire(&mut self, slot: u16, key: &[u8], at: u64, now: u64) -> bool {
        let i = self.local(slot);
        let Some(e) = self.peek(slot, key, now) else {
            return false;
        };
        let was = e.has_expire();
        e.set_expire_at(at);
        let is = at != 0;
        self.adjust_volatile(i, was, is);
        self.touched(key);
        true
    }

    fn adjust_volatile(&mut self, i: usize, was: bool, is: bool) {
        match (was, is) {
            (false, true) => {
                self.slots[i].volatile += 1;
                self.volatile += 1;
            }
            (true, false) => {
                self.slots[i].volatile -= 1;
                self.volatile -= 1;
            }
            _ => {}
        }
    }

    /// Removes every key from memory and forgets the warm tier's state; watched keys that
    /// existed are invalidated. The store's keys go with [`super::Db::clear_all`], which
    /// calls this for every shard.
    pub(super) fn clear(&mut self) {
        if !self.watched.is_empty() {
            let keys: Vec<Box<[u8]>> = self.watched.keys().cloned().collect();
            for k in keys {
                let slot = autocache_proto::slot::key_slot(&k);
                if self
                    .slot(slot)
                    .table
                    .find(self.hash(&k), |e| e.key() == &*k)
                    .is_some()
                    || self.tier_of(slot, &k, super::now_ms()).is_some()
                {
                    self.touched(&k);
                }
            }
        }
        for t in self.slots.iter_mut() {
            *t = SlotTable::default();
        }
        self.keys = 0;
        self.volatile = 0;
        self.forget_warm();
    }

    /// Reclaims expired keys of slot table `i`; returns (checked, reclaimed).
    pub fn expire_table(&mut self, i: usize, now: u64, budget: usize) -> (usize, usize) {
        let mut checked = 0;
        let mut dead: Vec<Box<[u8]>> = Vec::new();
        for e in self.slots[i].table.iter() {
            if checked >= budget {
                break;
            }
            if e.has_expire() {
                checked += 1;
                if e.is_expired(now) {
                    dead.push(e.key().into());
                }
            }
        }
        for k in &dead {
            let hash = self.hash(k);
            if let Some(old) = self.remove_hashed(i, hash, k) {
                self.removed_from_memory(k, &old);
            }
            self.events.emit(notify::EXPIRED, "expired", k);
            self.touched(k);
        }
        self.stats.expired += dead.len() as u64;
        (checked, dead.len())
    }

    pub fn table_at(&self, i: usize) -> &SlotTable {
        &self.slots[i]
    }

    /// Registers a WATCH on `key`.
    pub fn watch(&mut self, key: &[u8], flag: WatchFlag) {
        self.watched.entry(key.into()).or_default().push(flag);
    }

    /// Drops a connection's WATCH on `key`.
    pub fn unwatch(&mut self, key: &[u8], flag: &WatchFlag) {
        if let Some(v) = self.watched.get_mut(key) {
            v.retain(|f| !Arc::ptr_eq(f, flag));
            if v.is_empty() {
                self.watched.remove(key);
            }
        }
    }

    /// Queues a blocked client on `key` (behind those already waiting).
    pub fn block(&mut self, key: &[u8], waiter: Arc<Waiter>) {
        self.blocked
            .entry(key.into())
            .or_default()
            .push_back(waiter);
    }

    /// Removes a blocked client from `key`'s queue; the new first waiter, if any, is woken
    /// so that what is left in the key can serve it.
    pub fn unblock(&mut self, key: &[u8], waiter: &Arc<Waiter>) {
        let Some(q) = self.blocked.get_mut(key) else {
            return;
        };
        q.retain(|w| !Arc::ptr_eq(w, waiter));
        match q.front() {
            Some(next) => next.notify.notify_one(),
            None => {
                self.blocked.remove(key);
            }
        }
    }

    /// The write hook: every change to `key` passes here.
    pub fn touched(&mut self, key: &[u8]) {
        self.changing(key);
        self.notify(key);
    }

    /// The write hook in two halves, for a change in place that may turn out to change
    /// nothing (SREM of a non-member): the tier's part, before the change (it records the
    /// stored copy's size)...
    pub fn changing(&mut self, key: &[u8]) {
        if self.warm.is_some() {
            self.mark_dirty(key);
        }
    }

    /// ... and the part for other clients (WATCH, blocked clients), once something changed:
    /// as Redis signals a key modified only then.
    pub fn changed(&mut self, key: &[u8]) {
        self.notify(key);
    }

    /// The write hook's part for other clients: WATCH and blocked clients.
    fn notify(&mut self, key: &[u8]) {
        if !self.watched.is_empty() {
            if let Some(flags) = self.watched.get(key) {
                for f in flags {
                    f.store(true, Ordering::Release);
                }
            }
        }
        if !self.blocked.is_empty() {
            if let Some(first) = self.blocked.get(key).and_then(|q| q.front()) {
                first.notify.notify_one();
            }
        }
    }
}
