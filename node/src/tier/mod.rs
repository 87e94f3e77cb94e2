//! The storage boundary below memory. A [`WarmStore`] is an ordered byte store with atomic
//! batches — the node's store of record in `--storage tiered` mode. This module knows no
//! engine: [`MemoryTier`] implements the trait with a `BTreeMap` (tests, engine-free builds),
//! `rocks::RocksTier` with RocksDB (feature `tiered`). The keyspace (`db`) composes memory
//! with a store; `flusher` moves dirty entries down write-behind.
//!
//! Layout: key `slot (u16 BE) ‖ key`, so a slot is one contiguous range; value
//! `version ‖ expire_at (u64 LE) ‖ access metadata (u32 LE) ‖ type tag ‖ body`, the tag and
//! body being [`Value::encode`]'s (tag 0: a string's raw bytes). Per-slot key counts live
//! under [`META`]-prefixed keys, written in the same batch as the keys they count.

pub mod cold;
pub mod demoter;
pub mod flusher;
pub mod prefetch;
#[cfg(feature = "tiered")]
pub mod rocks;
#[cfg(feature = "tiered")]
pub mod s3;

use crate::db::{Entry, Kind};
use crate::types::Value;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// First byte of metadata keys: above every slot's high byte (slots < 16384).
pub const META: u8 = 0xFF;
const META_COUNT: u8 = b'n';
/// `META 's' id (u64 BE)` → a cold segment's [`cold::SegmentInfo`].
const META_SEGMENT: u8 = b's';
/// `META 'q'` → the next segment id (u64 LE).
const META_NEXT_SEGMENT: u8 = b'q';
const FORMAT: u8 = 1;
const TAG_STRING: u8 = 0;
pub(crate) const HEADER: usize = 1 + 8 + 4;

#[derive(Debug, thiserror::Error)]
pub enum TierError {
    #[error("warm tier: {0}")]
    Engine(String),
    #[error("warm tier: corrupt value for a key")]
    Corrupt,
    #[error("cold tier: {0}")]
    Cold(String),
}

/// One change in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// Every key in `[from, to)`.
    DeleteRange(Vec<u8>, Vec<u8>),
}

/// The key an operation writes (the start of a range).
pub fn op_key(op: &Op) -> &[u8] {
    match op {
        Op::Put(k, _) | Op::Delete(k) | Op::DeleteRange(k, _) => k,
    }
}

/// An ordered, durable byte store: what the keyspace needs from the tier below memory.
pub trait WarmStore: Send + Sync + 'static {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, TierError>;
    /// Applies `ops` atomically (all or none survive a crash), logged but not yet synced.
    fn write(&self, ops: &[Op]) -> Result<(), TierError>;
    /// Visits the keys in `[from, to)` in order while `f` returns true.
    fn scan(
        &self,
        from: &[u8],
        to: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), TierError>;
    /// Makes every write so far durable (fsync of the log).
    fn sync(&self) -> Result<(), TierError>;
    /// Engine name and approximate on-disk bytes, for INFO.
    fn name(&self) -> &'static str;
    fn size_bytes(&self) -> u64;
    /// Bytes of live data (what `--warm-max-bytes` bounds); the size when unknown.
    fn live_bytes(&self) -> u64 {
        self.size_bytes()
    }
}

/// A shared store is a store (tests reopen one keyspace's store in another).
impl<T: WarmStore> WarmStore for std::sync::Arc<T> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, TierError> {
        (**self).get(key)
    }
    fn write(&self, ops: &[Op]) -> Result<(), TierError> {
        (**self).write(ops)
    }
    fn scan(
        &self,
        from: &[u8],
        to: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), TierError> {
        (**self).scan(from, to, f)
    }
    fn sync(&self) -> Result<(), TierError> {
        (**self).sync()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn size_bytes(&self) -> u64 {
        (**self).size_bytes()
    }
    fn live_bytes(&self) -> u64 {
        (**self).live_bytes()
    }
}

/// When the log is fsynced (Redis's `appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AppendFsync {
    /// After every flusher pass that wrote something.
    Always,
    /// At most once a second.
    Everysec,
    /// Left to the OS.
    No,
}

impl AppendFsync {
    pub fn name(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::Everysec => "everysec",
            AppendFsync::No => "no",
        }
    }
}

/// Counters of the tiers (INFO tiers); bumped off the hot path only.
#[derive(Debug, Default)]
pub struct TierStats {
    /// Reads that missed memory and found the key in the warm tier.
    pub loads: AtomicU64,
    /// Entries dropped from memory because the warm tier holds them.
    pub demotions: AtomicU64,
    pub flushed_keys: AtomicU64,
    pub flush_batches: AtomicU64,
    pub syncs: AtomicU64,
    pub last_sync_ms: AtomicU64,
    pub write_errors: AtomicU64,
    pub read_errors: AtomicU64,
}

/// A warm store with what the keyspace's shards share about it.
pub struct Warm {
    pub store: Box<dyn WarmStore>,
    pub stats: TierStats,
    pub fsync: AppendFsync,
    /// The cold tier below, when configured (`--s3-bucket`).
    pub cold: Option<std::sync::Arc<cold::Cold>>,
    /// Live warm bytes past which values move to the cold tier (0: never).
    pub max_bytes: u64,
    /// Bytes of the values the store holds itself (not cold pointers), by [`warm_size`]:
    /// the sum of the shards' per-slot counts, kept exact as they write. What
    /// `--warm-max-bytes` bounds (the engine's own estimate lags and overstates).
    value_bytes: AtomicI64,
}

impl Warm {
    pub fn new(store: Box<dyn WarmStore>, fsync: AppendFsync) -> Warm {
        Warm {
            store,
            stats: TierStats::default(),
            fsync,
            cold: None,
            max_bytes: 0,
            value_bytes: AtomicI64::new(0),
        }
    }

    /// Bytes of values the warm tier holds itself (INFO `warm_live_bytes`).
    pub fn live_bytes(&self) -> u64 {
        self.value_bytes.load(Relaxed).max(0) as u64
    }

    /// A shard's change to [`Warm::live_bytes`], once the store holds it.
    pub fn add_live_bytes(&self, delta: i64) {
        if delta != 0 {
            self.value_bytes.fetch_add(delta, Relaxed);
        }
    }

    /// Puts `cold` below this store, restoring its segment table from the store.
    pub fn with_cold(
        mut self,
        cold: std::sync::Arc<cold::Cold>,
        max_bytes: u64,
    ) -> Result<Warm, TierError> {
        let mut known = Vec::new();
        self.store.scan(
            &[META, META_SEGMENT],
            &[META, META_SEGMENT + 1],
            &mut |k, v| {
                if let (Some(id), Some(info)) = (segment_id(k), cold::SegmentInfo::decode(v)) {
                    known.push((id, info));
                }
                true
            },
        )?;
        cold.load_segments(known);
        if let Some(v) = self.store.get(&[META, META_NEXT_SEGMENT])? {
            if let Ok(b) = <[u8; 8]>::try_from(&v[..]) {
                cold.reserve_ids(u64::from_le_bytes(b));
            }
        }
        self.cold = Some(cold);
        self.max_bytes = max_bytes;
        Ok(self)
    }

    pub fn bump(&self, c: &AtomicU64, n: u64) {
        c.fetch_add(n, Relaxed);
    }
}

/// The keyspace `--storage` asks for: plain memory, or memory over RocksDB in
/// `<data-dir>/warm` (its data served at once: nothing is loaded before clients come).
pub fn open_keyspace(config: &crate::config::Config) -> std::io::Result<crate::db::Keyspace> {
    match config.storage {
        crate::config::Storage::Memory => Ok(crate::db::Keyspace::new()),
        crate::config::Storage::Tiered => open_tiered(config),
    }
}

#[cfg(feature = "tiered")]
fn open_tiered(config: &crate::config::Config) -> std::io::Result<crate::db::Keyspace> {
    let dir = config.data_dir.join("warm");
    std::fs::create_dir_all(&dir)?;
    let store = rocks::RocksTier::open(&dir)
        .map_err(|e| std::io::Error::other(format!("opening {}: {e}", dir.display())))?;
    let mut warm = Warm::new(Box::new(store), config.appendfsync);
    if let Some(bucket) = &config.s3_bucket {
        let cold = open_cold(config, bucket.clone()).map_err(std::io::Error::other)?;
        warm = warm
            .with_cold(cold, config.warm_max_bytes)
            .map_err(std::io::Error::other)?;
    }
    crate::db::Keyspace::tiered(std::sync::Arc::new(warm)).map_err(std::io::Error::other)
}

/// The S3 cold tier `--s3-*` describe. The bucket must exist; nothing is checked here so a
/// node starts while S3 is away (cold reads then fail with a clear error until it returns).
#[cfg(feature = "tiered")]
fn open_cold(
    config: &crate::config::Config,
    bucket: String,
) -> Result<std::sync::Arc<cold::Cold>, TierError> {
    let settings = s3::S3Settings {
        bucket,
        endpoint: config.s3_endpoint.clone(),
        region: config.s3_region.clone(),
        path_style: config.s3_path_style,
    };
    let placeholder: std::sync::Arc<dyn cold::ColdStore> =
        std::sync::Arc::new(cold::MemoryCold::default());
    let cold = cold::Cold::new(
        placeholder,
        cold::ColdConfig {
            prefix: config.s3_prefix.clone(),
            timeout: config.s3_timeout,
            segment_bytes: config.s3_segment_bytes.clamp(4096, 1 << 30) as usize,
            gc_ratio: config.s3_gc_ratio.clamp(0.0, 1.0),
        },
    )?;
    let (tx, rx) = std::sync::mpsc::channel();
    cold.handle().spawn(async move {
        let _ = tx.send(s3::S3Tier::connect(settings).await);
    });
    let s3 = rx
        .recv()
        .map_err(|_| TierError::Cold("building the S3 client failed".into()))?;
    Ok(std::sync::Arc::new(
        cold.with_store(std::sync::Arc::new(s3)),
    ))
}

#[cfg(not(feature = "tiered"))]
fn open_tiered(_config: &crate::config::Config) -> std::io::Result<crate::db::Keyspace> {
    Err(std::io::Error::other(
        "--storage tiered needs a build with the `tiered` feature (RocksDB); this one has none",
    ))
}

// ---- layout ----

/// `slot (BE) ‖ key`.
pub fn encode_key(slot: u16, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + key.len());
    k.extend_from_slice(&slot.to_be_bytes());
    k.extend_from_slice(key);
    k
}

/// The range `[from, to)` holding every key of `slot`.
pub fn slot_range(slot: u16) -> (Vec<u8>, Vec<u8>) {
    (
        slot.to_be_bytes().to_vec(),
        (slot + 1).to_be_bytes().to_vec(),
    )
}

/// Where the key count of `slot` is kept.
pub fn count_key(slot: u16) -> Vec<u8> {
    let mut k = vec![META, META_COUNT];
    k.extend_from_slice(&slot.to_be_bytes());
    k
}

/// A count key's value: the slot's key count and the bytes of its values held in the store
/// itself ([`warm_size`]).
pub fn count_value(count: u64, bytes: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(&count.to_le_bytes());
    v.extend_from_slice(&bytes.to_le_bytes());
    v
}

/// The inverse of [`count_value`]; the bytes are `None` in the older 8-byte form.
pub fn decode_count(v: &[u8]) -> Option<(u64, Option<u64>)> {
    let n = u64::from_le_bytes(v.get(..8)?.try_into().ok()?);
    match v.len() {
        8 => Some((n, None)),
        16 => Some((n, Some(u64::from_le_bytes(v[8..].try_into().ok()?)))),
        _ => None,
    }
}

/// What one stored key counts for in the warm tier's size: its store key and value, or
/// nothing for a cold pointer (its value lives in a segment).
pub fn warm_size(key_len: usize, value: &[u8]) -> u32 {
    if cold::is_pointer(value) {
        0
    } else {
        warm_size_of(key_len, value.len())
    }
}

/// [`warm_size`] of a (non-pointer) value of `value_len` bytes under a user key of `key_len`.
pub fn warm_size_of(key_len: usize, value_len: usize) -> u32 {
    (2 + key_len + value_len).min(u32::MAX as usize) as u32
}

/// The stored length of a string value of `len` bytes ([`encode_entry`]).
pub fn string_stored_len(len: usize) -> usize {
    HEADER + 1 + len
}

/// The range of every count key.
pub fn count_range() -> (Vec<u8>, Vec<u8>) {
    (vec![META, META_COUNT], vec![META, META_COUNT + 1])
}

/// The slot a count key names.
pub fn count_slot(key: &[u8]) -> Option<u16> {
    match key {
        [META, META_COUNT, hi, lo] => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

pub fn is_meta(key: &[u8]) -> bool {
    key.first() == Some(&META)
}

/// The stored form of an entry (its key is in the store key).
pub fn encode_entry(e: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + 1 + e.as_str().map_or(64, <[u8]>::len));
    out.push(FORMAT);
    out.extend_from_slice(&e.expire_at().to_le_bytes());
    out.extend_from_slice(&e.lru().to_le_bytes());
    match e.value() {
        Some(v) => v.encode(&mut out),
        None => {
            out.push(TAG_STRING);
            out.extend_from_slice(e.as_str().unwrap_or_default());
        }
    }
    out
}

/// The inverse of [`encode_entry`]; `None` for bytes it did not write.
pub fn decode_entry(key: &[u8], data: &[u8]) -> Option<Entry> {
    let expire_at = expire_of(data)?;
    let lru = u32::from_le_bytes(data[9..13].try_into().ok()?);
    let body = &data[HEADER..];
    match body.split_first()? {
        (&TAG_STRING, s) => Some(Entry::string(key, s, expire_at, lru)),
        _ => Value::decode(body).map(|v| Entry::object(key, v, expire_at, lru)),
    }
}

/// The expiry (Unix ms, 0 = none) of a stored value, read without decoding it.
pub fn expire_of(data: &[u8]) -> Option<u64> {
    if data.len() <= HEADER || data[0] != FORMAT {
        return None;
    }
    Some(u64::from_le_bytes(data[1..9].try_into().ok()?))
}

/// Where a segment's info is kept.
pub fn segment_key(id: u64) -> Vec<u8> {
    let mut k = vec![META, META_SEGMENT];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn segment_id(key: &[u8]) -> Option<u64> {
    match key {
        [META, META_SEGMENT, id @ ..] => Some(u64::from_be_bytes(id.try_into().ok()?)),
        _ => None,
    }
}

/// Where the next segment id is kept.
pub fn next_segment_key() -> Vec<u8> {
    vec![META, META_NEXT_SEGMENT]
}

/// The type of a stored value, read without decoding it.
pub fn kind_of(data: &[u8]) -> Option<Kind> {
    let tag = match *data.get(HEADER)? {
        cold::TAG_COLD if cold::is_pointer(data) => cold::pointer_tag(data),
        t => t,
    };
    Some(match tag {
        TAG_STRING => Kind::String,
        1 => Kind::Hash,
        2 => Kind::List,
        3 => Kind::Set,
        4 => Kind::ZSet,
        _ => return None,
    })
}

/// The access metadata (LRU clock or LFU counter) a stored value was written with.
pub fn lru_of(data: &[u8]) -> u32 {
    data.get(9..13)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

/// Whether a stored value is expired at `now` (unreadable values count as gone).
pub fn is_expired(data: &[u8], now: u64) -> bool {
    expire_of(data).is_none_or(|at| at != 0 && at <= now)
}

// ---- the engine-free store ----

/// A [`WarmStore`] in a `BTreeMap`: the same semantics as RocksDB without durability. Tests
/// run the tiered keyspace on it, and it documents what an engine must provide.
#[derive(Default)]
pub struct MemoryTier {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl WarmStore for MemoryTier {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, TierError> {
        Ok(self.map.lock().get(key).cloned())
    }

    fn write(&self, ops: &[Op]) -> Result<(), TierError> {
        let mut m = self.map.lock();
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    m.insert(k.clone(), v.clone());
                }
                Op::Delete(k) => {
                    m.remove(k);
                }
                Op::DeleteRange(from, to) => {
                    let doomed: Vec<Vec<u8>> = m
                        .range(from.clone()..to.clone())
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in doomed {
                        m.remove(&k);
                    }
                }
            }
        }
        Ok(())
    }

    fn scan(
        &self,
        from: &[u8],
        to: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), TierError> {
        let m = self.map.lock();
        for (k, v) in m.range(from.to_vec()..to.to_vec()) {
            if !f(k, v) {
                break;
            }
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), TierError> {
        Ok(())
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn size_bytes(&self) -> u64 {
        self.map
            .lock()
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{hash::Hash, list::List};

    #[test]
    fn entries_round_trip() {
        let s = Entry::string(b"k", b"value", 1_700_000_000_000, 0x123456);
        let back = decode_entry(b"k", &encode_entry(&s)).unwrap();
        assert_eq!(back.as_str(), Some(&b"value"[..]));
        assert_eq!(back.expire_at(), 1_700_000_000_000);
        assert_eq!(back.lru(), 0x123456);
        assert_eq!(kind_of(&encode_entry(&s)), Some(Kind::String));

        let empty = Entry::string(b"k", b"", 0, 0);
        assert_eq!(
            decode_entry(b"k", &encode_entry(&empty)).unwrap().as_str(),
            Some(&b""[..])
        );

        let mut l = List::default();
        l.push(crate::types::list::End::Tail, b"a");
        l.push(crate::types::list::End::Tail, b"b");
        let o = Entry::object(b"l", Value::List(l), 0, 7);
        let data = encode_entry(&o);
        assert_eq!(kind_of(&data), Some(Kind::List));
        let back = decode_entry(b"l", &data).unwrap();
        assert_eq!(back.kind(), Kind::List);
        assert_eq!(back.value().unwrap().len(), 2);
        assert_eq!(back.lru(), 7);

        let h = Entry::object(b"h", Value::Hash(Hash::default()), 5, 0);
        assert_eq!(kind_of(&encode_entry(&h)), Some(Kind::Hash));
        assert!(is_expired(&encode_entry(&h), 5));
        assert!(!is_expired(&encode_entry(&h), 4));
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(decode_entry(b"k", b"").is_none());
        assert!(decode_entry(b"k", &[9; 20]).is_none());
        assert!(is_expired(b"x", 0));
    }

    #[test]
    fn keys_sort_by_slot_and_meta_last() {
        let a = encode_key(1, b"zzz");
        let b = encode_key(2, b"a");
        assert!(a < b);
        let (from, to) = slot_range(1);
        assert!(from <= a && a < to && b >= to);
        assert!(count_key(0) > encode_key(16383, &[0xFF; 8]));
        assert_eq!(count_slot(&count_key(513)), Some(513));
        assert!(is_meta(&count_key(3)) && !is_meta(&a));
    }

    #[test]
    fn memory_tier_batches_and_ranges() {
        let t = MemoryTier::default();
        t.write(&[
            Op::Put(encode_key(1, b"a"), b"1".to_vec()),
            Op::Put(encode_key(1, b"b"), b"2".to_vec()),
            Op::Put(encode_key(2, b"a"), b"3".to_vec()),
        ])
        .unwrap();
        let (from, to) = slot_range(1);
        let mut seen = Vec::new();
        t.scan(&from, &to, &mut |k, _| {
            seen.push(k.to_vec());
            true
        })
        .unwrap();
        assert_eq!(seen, vec![encode_key(1, b"a"), encode_key(1, b"b")]);
        t.write(&[Op::DeleteRange(from, to), Op::Delete(encode_key(2, b"a"))])
            .unwrap();
        assert_eq!(t.size_bytes(), 0);
    }
}
