//! The cold tier's engine-free half: what an object store must provide ([`ColdStore`]), the
//! pointer a warm value becomes when its bytes move to a segment, the segment format, and the
//! table of segments with their live share (what garbage collection decides on). `s3` holds
//! the S3 implementation, `demoter` the background moves; [`MemoryCold`] serves tests.
//!
//! A segment is one immutable object: `MAGIC`, then records `u16 key length ‖ store key ‖
//! u32 value length ‖ stored value`, the stored value being exactly what the warm tier held
//! (header, tag, body). A pointer keeps the warm value's header (so expiry and type stay
//! readable without a fetch) and names `(segment, offset, length, crc32)` of the value bytes.

use super::{TierError, HEADER};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// The tag byte of a pointer; the value's own tag follows it.
pub const TAG_COLD: u8 = 0x80;
const POINTER_LEN: usize = HEADER + 2 + 8 + 8 + 4 + 4;
/// Values this short stay warm: a pointer would save almost nothing.
pub const MIN_COLD_VALUE: usize = 64;
const MAGIC: &[u8; 8] = b"ACSEG001";

pub type ColdFuture<T> = Pin<Box<dyn Future<Output = Result<T, TierError>> + Send>>;

/// An object store holding immutable segments by name.
pub trait ColdStore: Send + Sync + 'static {
    fn put(&self, name: String, body: Vec<u8>) -> ColdFuture<()>;
    /// Bytes `[offset, offset + len)` of an object.
    fn get_range(&self, name: String, offset: u64, len: u64) -> ColdFuture<Vec<u8>>;
    fn get(&self, name: String) -> ColdFuture<Vec<u8>>;
    fn delete(&self, name: String) -> ColdFuture<()>;
    /// For INFO: "s3", "memory".
    fn name(&self) -> &'static str;
}

/// Where a cold value's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pointer {
    pub segment: u64,
    pub offset: u64,
    pub len: u32,
    pub crc: u32,
}

/// Whether a stored warm value is a pointer to a segment.
pub fn is_pointer(data: &[u8]) -> bool {
    data.len() == POINTER_LEN && data[HEADER] == TAG_COLD
}

/// The pointer standing for `value` (a stored warm value) once it sits in a segment.
pub fn encode_pointer(value: &[u8], p: Pointer) -> Vec<u8> {
    let mut out = Vec::with_capacity(POINTER_LEN);
    out.extend_from_slice(&value[..HEADER]);
    out.push(TAG_COLD);
    out.push(if is_pointer(value) {
        pointer_tag(value)
    } else {
        value[HEADER]
    });
    out.extend_from_slice(&p.segment.to_le_bytes());
    out.extend_from_slice(&p.offset.to_le_bytes());
    out.extend_from_slice(&p.len.to_le_bytes());
    out.extend_from_slice(&p.crc.to_le_bytes());
    out
}

pub fn decode_pointer(data: &[u8]) -> Option<Pointer> {
    if !is_pointer(data) {
        return None;
    }
    let b = &data[HEADER + 2..];
    Some(Pointer {
        segment: u64::from_le_bytes(b[0..8].try_into().ok()?),
        offset: u64::from_le_bytes(b[8..16].try_into().ok()?),
        len: u32::from_le_bytes(b[16..20].try_into().ok()?),
        crc: u32::from_le_bytes(b[20..24].try_into().ok()?),
    })
}

/// The type tag a pointer stands for.
pub fn pointer_tag(data: &[u8]) -> u8 {
    data[HEADER + 1]
}

/// Checks fetched bytes against their pointer.
pub fn verify(p: &Pointer, bytes: &[u8]) -> Result<(), TierError> {
    if bytes.len() != p.len as usize || crc32fast::hash(bytes) != p.crc {
        return Err(TierError::Cold(format!(
            "checksum mismatch in segment {:016x} at {}",
            p.segment, p.offset
        )));
    }
    Ok(())
}

/// A value bound for (or in) a segment: its store key, its stored bytes, where it lands.
pub type Record = (Vec<u8>, Vec<u8>, Pointer);

/// One record of a parsed segment object: store key, value offset, value.
pub type Parsed<'a> = (&'a [u8], u64, &'a [u8]);

/// A segment being assembled.
pub struct SegmentBuilder {
    pub id: u64,
    body: Vec<u8>,
    /// Store key, value and where the value landed.
    pub records: Vec<Record>,
}

impl SegmentBuilder {
    pub fn new(id: u64) -> SegmentBuilder {
        SegmentBuilder {
            id,
            body: MAGIC.to_vec(),
            records: Vec::new(),
        }
    }

    pub fn push(&mut self, store_key: Vec<u8>, value: Vec<u8>) {
        self.body
            .extend_from_slice(&(store_key.len() as u16).to_le_bytes());
        self.body.extend_from_slice(&store_key);
        self.body
            .extend_from_slice(&(value.len() as u32).to_le_bytes());
        let p = Pointer {
            segment: self.id,
            offset: self.body.len() as u64,
            len: value.len() as u32,
            crc: crc32fast::hash(&value),
        };
        self.body.extend_from_slice(&value);
        self.records.push((store_key, value, p));
    }

    pub fn len(&self) -> usize {
        self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn body(&self) -> Vec<u8> {
        self.body.clone()
    }
}

/// The records of a segment object: `(store key, value offset, value)`.
pub fn parse_segment(body: &[u8]) -> Result<Vec<Parsed<'_>>, TierError> {
    let bad = || TierError::Cold("malformed segment object".into());
    let mut rest = body.strip_prefix(&MAGIC[..]).ok_or_else(bad)?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (kl, r) = rest.split_first_chunk::<2>().ok_or_else(bad)?;
        let kl = u16::from_le_bytes(*kl) as usize;
        let (key, r) = r.split_at_checked(kl).ok_or_else(bad)?;
        let (vl, r) = r.split_first_chunk::<4>().ok_or_else(bad)?;
        let vl = u32::from_le_bytes(*vl) as usize;
        let offset = (body.len() - r.len()) as u64;
        let (value, r) = r.split_at_checked(vl).ok_or_else(bad)?;
        out.push((key, offset, value));
        rest = r;
    }
    Ok(out)
}

/// What the node knows of one segment: its size and how much of it pointers still use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentInfo {
    pub bytes: u64,
    pub live_bytes: u64,
    pub live_records: u64,
}

impl SegmentInfo {
    const LEN: usize = 24;

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::LEN);
        v.extend_from_slice(&self.bytes.to_le_bytes());
        v.extend_from_slice(&self.live_bytes.to_le_bytes());
        v.extend_from_slice(&self.live_records.to_le_bytes());
        v
    }

    pub fn decode(b: &[u8]) -> Option<SegmentInfo> {
        if b.len() != Self::LEN {
            return None;
        }
        let n = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Some(SegmentInfo {
            bytes: n(0),
            live_bytes: n(8),
            live_records: n(16),
        })
    }
}

/// Counters of the cold tier (INFO tiers, /metrics).
#[derive(Debug, Default)]
pub struct ColdStats {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    /// Values fetched and brought into memory.
    pub promotions: AtomicU64,
    /// Values moved from the warm tier into segments.
    pub demotions: AtomicU64,
    pub segments_written: AtomicU64,
    pub segments_deleted: AtomicU64,
    /// Total request time, microseconds (latency = this / requests).
    pub request_usec: AtomicU64,
}

/// The cold tier as the keyspace sees it: a store, its own runtime (so waiting on it never
/// starves the client runtime), the segment table and counters.
pub struct Cold {
    store: Arc<dyn ColdStore>,
    rt: Option<tokio::runtime::Runtime>,
    pub prefix: String,
    pub timeout: Duration,
    pub segment_bytes: usize,
    /// A segment whose live share falls below this is rewritten.
    pub gc_ratio: f64,
    pub stats: ColdStats,
    /// Segment id → what is known of it; ids grow, never reused.
    segments: Mutex<BTreeMap<u64, SegmentInfo>>,
    /// Segments whose info changed since it was last persisted.
    changed: Mutex<std::collections::BTreeSet<u64>>,
    next_id: AtomicU64,
    any: std::sync::atomic::AtomicBool,
}

/// Settings of the cold tier.
#[derive(Debug, Clone)]
pub struct ColdConfig {
    pub prefix: String,
    pub timeout: Duration,
    pub segment_bytes: usize,
    pub gc_ratio: f64,
}

impl Cold {
    pub fn new(store: Arc<dyn ColdStore>, config: ColdConfig) -> Result<Cold, TierError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cold-io")
            .enable_all()
            .build()
            .map_err(|e| TierError::Cold(format!("starting the cold tier's runtime: {e}")))?;
        Ok(Cold {
            store,
            rt: Some(rt),
            prefix: config.prefix,
            timeout: config.timeout,
            segment_bytes: config.segment_bytes,
            gc_ratio: config.gc_ratio,
            stats: ColdStats::default(),
            segments: Mutex::new(BTreeMap::new()),
            changed: Mutex::new(Default::default()),
            next_id: AtomicU64::new(1),
            any: Default::default(),
        })
    }

    /// The same tier over another store (the S3 client is built on this tier's runtime).
    pub fn with_store(mut self, store: Arc<dyn ColdStore>) -> Cold {
        self.store = store;
        self
    }

    pub fn store_name(&self) -> &'static str {
        self.store.name()
    }

    /// The runtime cold I/O runs on (the S3 client lives there too).
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.rt
            .as_ref()
            .expect("runtime lives until drop")
            .handle()
            .clone()
    }

    pub fn object_name(&self, segment: u64) -> String {
        format!("{}seg-{segment:016x}", self.prefix)
    }

    /// Runs a store request on the cold runtime with the timeout, counting it.
    fn spawn<T: Send + 'static>(
        &self,
        f: ColdFuture<T>,
    ) -> tokio::task::JoinHandle<Result<T, TierError>> {
        let timeout = self.timeout;
        self.stats.requests.fetch_add(1, Relaxed);
        self.handle().spawn(async move {
            match tokio::time::timeout(timeout, f).await {
                Ok(r) => r,
                Err(_) => Err(TierError::Cold(format!(
                    "cold tier request timed out after {} ms",
                    timeout.as_millis()
                ))),
            }
        })
    }

    fn account<T>(
        &self,
        r: Result<T, TierError>,
        start: std::time::Instant,
    ) -> Result<T, TierError> {
        self.stats
            .request_usec
            .fetch_add(start.elapsed().as_micros() as u64, Relaxed);
        if r.is_err() {
            self.stats.errors.fetch_add(1, Relaxed);
        }
        r
    }

    /// Blocks the calling (non-async) thread until the request finishes or times out.
    fn wait<T: Send + 'static>(&self, f: ColdFuture<T>) -> Result<T, TierError> {
        let start = std::time::Instant::now();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let job = self.spawn(f);
        self.handle().spawn(async move {
            let r = job
                .await
                .unwrap_or_else(|e| Err(TierError::Cold(format!("cold tier task: {e}"))));
            let _ = tx.send(r);
        });
        let r = rx
            .recv_timeout(self.timeout + Duration::from_secs(1))
            .unwrap_or_else(|_| Err(TierError::Cold("cold tier request timed out".into())));
        self.account(r, start)
    }

    /// The ranged GET of a pointer's bytes.
    fn range(&self, p: Pointer) -> ColdFuture<Vec<u8>> {
        self.store
            .get_range(self.object_name(p.segment), p.offset, p.len as u64)
    }

    /// Verifies fetched bytes against their pointer, counting what was read or the failure.
    fn checked(&self, p: &Pointer, bytes: Vec<u8>) -> Result<Vec<u8>, TierError> {
        match verify(p, &bytes) {
            Ok(()) => {
                self.stats.bytes_read.fetch_add(bytes.len() as u64, Relaxed);
                Ok(bytes)
            }
            Err(e) => {
                self.stats.errors.fetch_add(1, Relaxed);
                Err(e)
            }
        }
    }

    /// Fetches and verifies a cold value, from async code (a client's task).
    pub async fn fetch(&self, p: Pointer) -> Result<Vec<u8>, TierError> {
        let start = std::time::Instant::now();
        let r = match self.spawn(self.range(p)).await {
            Ok(r) => r,
            Err(e) => Err(TierError::Cold(format!("cold tier task: {e}"))),
        };
        self.account(r, start).and_then(|b| self.checked(&p, b))
    }

    /// [`Cold::fetch`] for a thread that may block.
    pub fn fetch_blocking(&self, p: Pointer) -> Result<Vec<u8>, TierError> {
        self.wait(self.range(p)).and_then(|b| self.checked(&p, b))
    }

    /// Uploads a finished segment (blocking).
    pub fn put_segment(&self, seg: &SegmentBuilder) -> Result<(), TierError> {
        let body = seg.body();
        let n = body.len() as u64;
        self.wait(self.store.put(self.object_name(seg.id), body))?;
        self.stats.bytes_written.fetch_add(n, Relaxed);
        self.stats.segments_written.fetch_add(1, Relaxed);
        Ok(())
    }

    /// A whole segment object (blocking), for garbage collection.
    pub fn get_segment(&self, id: u64) -> Result<Vec<u8>, TierError> {
        let b = self.wait(self.store.get(self.object_name(id)))?;
        self.stats.bytes_read.fetch_add(b.len() as u64, Relaxed);
        Ok(b)
    }

    pub fn delete_segment(&self, id: u64) -> Result<(), TierError> {
        self.wait(self.store.delete(self.object_name(id)))?;
        self.stats.segments_deleted.fetch_add(1, Relaxed);
        Ok(())
    }

    // ---- the segment table ----

    /// Restores the table (and the next id) from what the warm tier persisted.
    pub fn load_segments(&self, known: impl IntoIterator<Item = (u64, SegmentInfo)>) {
        let mut t = self.segments.lock();
        for (id, info) in known {
            self.any.store(true, Relaxed);
            t.insert(id, info);
            self.next_id.fetch_max(id + 1, Relaxed);
        }
    }

    /// Ids below `next` are taken (persisted by an earlier run).
    pub fn reserve_ids(&self, next: u64) {
        self.next_id.fetch_max(next, Relaxed);
    }

    pub fn new_segment(&self) -> SegmentBuilder {
        SegmentBuilder::new(self.next_id.fetch_add(1, Relaxed))
    }

    /// The next id, persisted so a restart never reuses one (an old object may remain).
    pub fn next_id(&self) -> u64 {
        self.next_id.load(Relaxed)
    }

    /// Whether any value may be cold (checked per command: an atomic, no lock).
    pub fn has_segments(&self) -> bool {
        self.any.load(Relaxed)
    }

    pub fn add_segment(&self, id: u64, info: SegmentInfo) {
        self.any.store(true, Relaxed);
        self.segments.lock().insert(id, info);
        self.changed.lock().insert(id);
    }

    pub fn remove_segment(&self, id: u64) {
        self.segments.lock().remove(&id);
        self.changed.lock().insert(id);
    }

    /// A pointer into `segment` of `len` bytes stopped being used (overwrite, delete,
    /// expiry, rewrite).
    pub fn release(&self, segment: u64, len: u32) {
        if let Some(s) = self.segments.lock().get_mut(&segment) {
            s.live_bytes = s.live_bytes.saturating_sub(len as u64);
            s.live_records = s.live_records.saturating_sub(1);
            self.changed.lock().insert(segment);
        }
    }

    /// FLUSHALL: every segment is garbage.
    pub fn release_all(&self) {
        let mut t = self.segments.lock();
        let mut c = self.changed.lock();
        for (id, s) in t.iter_mut() {
            s.live_bytes = 0;
            s.live_records = 0;
            c.insert(*id);
        }
    }

    /// Segments changed since the last call, with their info (`None`: deleted).
    pub fn take_changed(&self) -> Vec<(u64, Option<SegmentInfo>)> {
        let ids = std::mem::take(&mut *self.changed.lock());
        let t = self.segments.lock();
        ids.into_iter()
            .map(|id| (id, t.get(&id).copied()))
            .collect()
    }

    /// Puts back segments whose changes could not be persisted, for the next attempt.
    pub fn unpersisted(&self, ids: impl IntoIterator<Item = u64>) {
        self.changed.lock().extend(ids);
    }

    /// Segments to collect: live share under `gc_ratio`, emptiest first.
    pub fn gc_candidates(&self) -> Vec<u64> {
        let t = self.segments.lock();
        let mut v: Vec<(f64, u64)> = t
            .iter()
            .filter(|(_, s)| s.bytes > 0)
            .map(|(id, s)| (s.live_bytes as f64 / s.bytes as f64, *id))
            .filter(|(share, _)| *share < self.gc_ratio)
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v.into_iter().map(|(_, id)| id).collect()
    }

    /// (segments, bytes, live bytes, live records) for INFO.
    pub fn totals(&self) -> (u64, u64, u64, u64) {
        let t = self.segments.lock();
        t.values().fold((0, 0, 0, 0), |(n, b, l, r), s| {
            (n + 1, b + s.bytes, l + s.live_bytes, r + s.live_records)
        })
    }
}

impl Drop for Cold {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's async context panics; this does not.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// A [`ColdStore`] in memory, for tests; `set_down` makes every request fail as an
/// unreachable server would.
#[derive(Default)]
pub struct MemoryCold {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    down: std::sync::atomic::AtomicBool,
}

impl MemoryCold {
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Relaxed);
    }

    pub fn object_count(&self) -> usize {
        self.objects.lock().len()
    }

    fn check(&self) -> Result<(), TierError> {
        if self.down.load(Relaxed) {
            Err(TierError::Cold("store unreachable".into()))
        } else {
            Ok(())
        }
    }
}

impl ColdStore for MemoryCold {
    fn put(&self, name: String, body: Vec<u8>) -> ColdFuture<()> {
        let r = self.check().map(|()| {
            self.objects.lock().insert(name, body);
        });
        Box::pin(async move { r })
    }

    fn get_range(&self, name: String, offset: u64, len: u64) -> ColdFuture<Vec<u8>> {
        let r = self.check().and_then(|()| {
            let o = self.objects.lock();
            let body = o
                .get(&name)
                .ok_or_else(|| TierError::Cold(format!("no object {name}")))?;
            body.get(offset as usize..(offset + len) as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| TierError::Cold("range past the object's end".into()))
        });
        Box::pin(async move { r })
    }

    fn get(&self, name: String) -> ColdFuture<Vec<u8>> {
        let r = self.check().and_then(|()| {
            self.objects
                .lock()
                .get(&name)
                .cloned()
                .ok_or_else(|| TierError::Cold(format!("no object {name}")))
        });
        Box::pin(async move { r })
    }

    fn delete(&self, name: String) -> ColdFuture<()> {
        let r = self.check().map(|()| {
            self.objects.lock().remove(&name);
        });
        Box::pin(async move { r })
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Entry;
    use crate::tier::{encode_entry, expire_of, kind_of};

    #[test]
    fn pointers_keep_header_and_type() {
        let e = Entry::string(b"k", &[7u8; 100], 1234, 9);
        let v = encode_entry(&e);
        let p = Pointer {
            segment: 3,
            offset: 40,
            len: v.len() as u32,
            crc: crc32fast::hash(&v),
        };
        let ptr = encode_pointer(&v, p);
        assert!(is_pointer(&ptr) && !is_pointer(&v));
        assert_eq!(decode_pointer(&ptr), Some(p));
        assert_eq!(expire_of(&ptr), Some(1234));
        assert_eq!(kind_of(&ptr), kind_of(&v));
        assert!(verify(&p, &v).is_ok());
        let mut bad = v.clone();
        bad[20] ^= 1;
        assert!(verify(&p, &bad).is_err());
    }

    #[test]
    fn segments_round_trip() {
        let mut s = SegmentBuilder::new(5);
        s.push(b"\x00\x01a".to_vec(), b"first".to_vec());
        s.push(b"\x00\x02bb".to_vec(), vec![9; 300]);
        let body = s.body();
        let recs = parse_segment(&body).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].0, b"\x00\x01a");
        assert_eq!(recs[1].2, &[9u8; 300][..]);
        for ((_, v, p), (_, off, bytes)) in s.records.iter().zip(&recs) {
            assert_eq!(p.offset, *off);
            assert_eq!(&body[*off as usize..*off as usize + p.len as usize], &v[..]);
            assert_eq!(bytes, &&v[..]);
        }
        assert!(parse_segment(&body[..body.len() - 1]).is_err());
        assert!(parse_segment(b"garbage").is_err());
    }

    #[test]
    fn the_table_tracks_live_share() {
        let c = Cold::new(
            Arc::new(MemoryCold::default()),
            ColdConfig {
                prefix: "p/".into(),
                timeout: Duration::from_secs(1),
                segment_bytes: 1 << 20,
                gc_ratio: 0.5,
            },
        )
        .unwrap();
        c.load_segments([(
            4,
            SegmentInfo {
                bytes: 100,
                live_bytes: 100,
                live_records: 2,
            },
        )]);
        assert_eq!(c.new_segment().id, 5);
        assert!(c.gc_candidates().is_empty());
        c.release(4, 60);
        assert_eq!(c.gc_candidates(), vec![4]);
        assert_eq!(c.totals(), (1, 100, 40, 1));
        assert_eq!(c.take_changed().len(), 1);
        assert!(c.take_changed().is_empty());
        // Changes a failed write could not persist are taken again next time.
        c.release(4, 10);
        let taken = c.take_changed();
        c.unpersisted(taken.iter().map(|(id, _)| *id));
        let again = c.take_changed();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].1.map(|i| i.live_bytes), Some(30));
    }
}
