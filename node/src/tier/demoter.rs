//! Moves values between the warm and the cold tier in the background: when the warm tier's
//! live data passes `--warm-max-bytes`, the coldest values it alone holds go to a new
//! segment object and leave a pointer behind; segments whose live share fell below the GC
//! ratio are rewritten (their live records into a new segment) and deleted. S3 failing
//! pauses both; they resume by themselves.
//!
//! Ordering keeps every key readable at every moment: a segment is uploaded before any
//! pointer names it, a pointer is installed only if the warm value is still the one
//! uploaded, and a segment is deleted only after its live records point elsewhere.

use super::cold::{self, Cold, SegmentBuilder, SegmentInfo};
use super::{Op, TierError, Warm};
use crate::db::shard_of;
use crate::memory::size_class;
use crate::server::Server;
use autocache_proto::slot::SLOT_COUNT;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const PASS: Duration = Duration::from_millis(250);
/// After a failure (S3 away), wait this long before trying again.
const BACKOFF: Duration = Duration::from_secs(2);
/// Segments written per pass at most, so a pass stays short.
const SEGMENTS_PER_PASS: usize = 4;

pub struct Demoter {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Demoter {
    /// Starts for a tiered server with a cold tier (`None` otherwise).
    pub fn start(server: Arc<Server>) -> Option<Demoter> {
        server.keyspace.warm()?.cold.as_ref()?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("cold-demoter".into())
            .spawn(move || run(&server, &s))
            .expect("spawning the demoter thread");
        Some(Demoter {
            stop,
            thread: Some(thread),
        })
    }

    pub fn stop(mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the demoter remembers between passes.
struct State {
    cursor: u16,
}

fn run(server: &Server, stop: &(Mutex<bool>, Condvar)) {
    let Some(warm) = server.keyspace.warm() else {
        return;
    };
    let Some(cold) = warm.cold.clone() else {
        return;
    };
    let mut st = State { cursor: 0 };
    let mut resume_at = Instant::now();
    loop {
        {
            let mut g = stop.0.lock();
            if !*g {
                stop.1.wait_for(&mut g, PASS);
            }
            if *g {
                break;
            }
        }
        if Instant::now() < resume_at {
            continue;
        }
        if let Err(e) = pass(server, warm, &cold, &mut st) {
            tracing::warn!("cold tier paused for {BACKOFF:?}: {e}");
            resume_at = Instant::now() + BACKOFF;
        }
        if let Err(e) = persist(warm, &cold) {
            tracing::error!("persisting the cold segment table: {e}");
        }
    }
    let _ = persist(warm, &cold);
}

fn pass(server: &Server, warm: &Warm, cold: &Cold, st: &mut State) -> Result<(), TierError> {
    if let Some(&id) = cold.gc_candidates().first() {
        collect(server, warm, cold, id)?;
    }
    if warm.max_bytes == 0 {
        return Ok(());
    }
    // The shards' own count, exact as soon as pointers are installed (the engine's estimate
    // lags until compaction and overstates: demoting by it sent most of the data cold).
    for _ in 0..SEGMENTS_PER_PASS {
        if warm.live_bytes() <= warm.max_bytes {
            break;
        }
        if demote_one(server, warm, cold, st)? == 0 {
            break;
        }
    }
    Ok(())
}

/// Fills one segment with the coldest candidates, uploads it and points the warm tier at it.
/// Returns the bytes moved.
fn demote_one(server: &Server, warm: &Warm, cold: &Cold, st: &mut State) -> Result<u64, TierError> {
    // Whole segments (S3 bills per request): at most one segment past the need. A segment
    // is built in memory (about five times its size at the peak), so under a small
    // maxmemory it shrinks to a sixteenth of it.
    let max = server.settings.maxmemory.load(Relaxed) as usize;
    let target = match max {
        0 => cold.segment_bytes,
        _ => cold.segment_bytes.min((max / 16).max(64 << 10)),
    };
    let now = crate::db::now_ms();
    // Candidates and the segment are buffers, not data: outside maxmemory.
    let mut buffers = server.memory.not_counted_guard();
    let mut cands = Vec::new();
    // Data gathered, and what its buffers take (jemalloc's size classes: up to a quarter
    // more), which is what maxmemory must leave out.
    let (mut bytes, mut held) = (0usize, 0usize);
    for _ in 0..SLOT_COUNT {
        let slot = st.cursor;
        st.cursor = (st.cursor + 1) % SLOT_COUNT as u16;
        let before = cands.len();
        server
            .keyspace
            .lock_shard(shard_of(slot))
            .cold_candidates(slot, now, &mut cands);
        for (k, v, _) in &cands[before..] {
            bytes += k.len() + v.len();
            held += size_class(k.capacity()) + size_class(v.capacity());
        }
        let list = cands.capacity() * std::mem::size_of::<(Vec<u8>, Vec<u8>, u32)>();
        buffers.set((held + list) as u64);
        // Gather twice what fits, then keep the coldest half.
        if bytes >= 2 * target {
            break;
        }
    }
    if cands.is_empty() {
        return Ok(0);
    }
    cands.sort_by_key(|c| c.2);
    let mut seg = cold.new_segment();
    for (k, v, _) in cands {
        if seg.len() >= target && !seg.is_empty() {
            break;
        }
        seg.push(k, v);
    }
    // Its records, their expected values, the body, and the SDK's request buffers: about
    // five segments' worth, measured (INFO used_memory during a 4 MiB segment's upload).
    // Raised before the copies are made, so that the figure never trails the memory.
    let len = seg.len() as u64;
    buffers.set((held as u64 + len).max(5 * len));
    let expect: Vec<Vec<u8>> = seg.records.iter().map(|r| r.1.clone()).collect();
    let (n, moved) = publish(server, warm, cold, &seg, expect)?;
    cold.stats.demotions.fetch_add(n, Relaxed);
    Ok(moved)
}

/// Uploads `seg`, records it, and installs pointers to its records where the warm value is
/// still `expect[i]`. Returns (records, bytes) now pointing into it.
fn publish(
    server: &Server,
    warm: &Warm,
    cold: &Cold,
    seg: &SegmentBuilder,
    expect: Vec<Vec<u8>>,
) -> Result<(u64, u64), TierError> {
    cold.put_segment(seg)?;
    // Known before any pointer names it: a crash in between leaves garbage GC will find.
    // Nothing in it is live until pointers name it (INFO cold_keys counted its records
    // before they were installed, and a test waiting on it raced the installation).
    let full = SegmentInfo {
        bytes: seg.len() as u64,
        live_bytes: 0,
        live_records: 0,
    };
    cold.add_segment(seg.id, full);
    persist(warm, cold)?;
    let mut by_shard: Vec<Vec<cold::Record>> = vec![Vec::new(); crate::db::SHARDS];
    for ((k, _, p), e) in seg.records.iter().zip(expect) {
        let slot = u16::from_be_bytes([k[0], k[1]]);
        by_shard[shard_of(slot)].push((k.clone(), e, *p));
    }
    let (mut n, mut bytes) = (0, 0);
    for (i, recs) in by_shard.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
        let (a, b) = server.keyspace.lock_shard(i).install_pointers(recs)?;
        n += a;
        bytes += b;
    }
    cold.add_segment(
        seg.id,
        SegmentInfo {
            bytes: full.bytes,
            live_bytes: bytes,
            live_records: n,
        },
    );
    Ok((n, bytes))
}

/// Garbage collection of one segment: its records still pointed at move to a new segment,
/// then the object goes.
fn collect(server: &Server, warm: &Warm, cold: &Cold, id: u64) -> Result<(), TierError> {
    let mut buffers = server.memory.not_counted_guard();
    let body = cold.get_segment(id)?;
    // The old body, the new segment's records, values, body and request: as above.
    buffers.set(6 * body.len() as u64);
    let records = cold::parse_segment(&body)?;
    let mut seg = cold.new_segment();
    let mut expect = Vec::new();
    for (k, offset, v) in records {
        match warm.store.get(k)? {
            Some(cur)
                if cold::decode_pointer(&cur)
                    .is_some_and(|p| p.segment == id && p.offset == offset) =>
            {
                seg.push(k.to_vec(), v.to_vec());
                expect.push(cur);
            }
            _ => {}
        }
    }
    if !seg.is_empty() {
        publish(server, warm, cold, &seg, expect)?;
    }
    cold.delete_segment(id)?;
    cold.remove_segment(id);
    Ok(())
}

/// Writes the segment table's changes and the next segment id to the warm tier. A failed
/// write leaves them marked changed, so the next call writes them again.
fn persist(warm: &Warm, cold: &Cold) -> Result<(), TierError> {
    let changed = cold.take_changed();
    if changed.is_empty() {
        return Ok(());
    }
    let ids: Vec<u64> = changed.iter().map(|(id, _)| *id).collect();
    let mut ops: Vec<Op> = changed
        .into_iter()
        .map(|(id, info)| match info {
            Some(i) => Op::Put(super::segment_key(id), i.encode()),
            None => Op::Delete(super::segment_key(id)),
        })
        .collect();
    ops.push(Op::Put(
        super::next_segment_key(),
        cold.next_id().to_le_bytes().to_vec(),
    ));
    let written = warm.store.write(&ops);
    if written.is_err() {
        cold.unpersisted(ids);
    }
    written
}
