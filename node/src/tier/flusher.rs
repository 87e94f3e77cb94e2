//! Write-behind: a thread that moves dirty entries to the warm tier in batches (one per
//! shard, under that shard's lock only) every 100 ms, fsyncs the log per `appendfsync`, and
//! keeps memory under `maxmemory` by demoting. Stopping it flushes and syncs everything:
//! a clean shutdown loses nothing.

use super::AppendFsync;
use crate::server::Server;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A crash (kill -9) loses at most what the last pass had not yet written.
const PASS: Duration = Duration::from_millis(100);
/// `appendfsync always` syncs after each pass, so passes come faster.
const PASS_ALWAYS: Duration = Duration::from_millis(10);
const SYNC_EVERY: Duration = Duration::from_secs(1);

pub struct Flusher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the flusher of a tiered server (`None` for `--storage memory`).
    pub fn start(server: Arc<Server>) -> Option<Flusher> {
        server.keyspace.warm()?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("warm-flusher".into())
            .spawn(move || run(&server, &s))
            .expect("spawning the flusher thread");
        Some(Flusher {
            stop,
            thread: Some(thread),
        })
    }

    /// Final flush and sync, then the thread ends. Blocks until then.
    pub fn stop(mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(server: &Server, stop: &(Mutex<bool>, Condvar)) {
    let Some(warm) = server.keyspace.warm() else {
        return;
    };
    let period = if warm.fsync == AppendFsync::Always {
        PASS_ALWAYS
    } else {
        PASS
    };
    let mut last_sync = Instant::now();
    let mut unsynced = false;
    let mut sweep_cursor = 0u16;
    loop {
        let stopping = {
            let mut g = stop.0.lock();
            if !*g {
                stop.1.wait_for(&mut g, period);
            }
            *g
        };
        match server.keyspace.flush_dirty_outside(&server.memory) {
            Ok(n) => unsynced |= n > 0,
            Err(e) => tracing::error!("write-behind to the warm tier failed (will retry): {e}"),
        }
        let due = match warm.fsync {
            AppendFsync::Always => true,
            AppendFsync::Everysec => last_sync.elapsed() >= SYNC_EVERY,
            AppendFsync::No => false,
        };
        if unsynced && (due || stopping) {
            match warm.store.sync() {
                Ok(()) => {
                    unsynced = false;
                    warm.bump(&warm.stats.syncs, 1);
                    warm.stats.last_sync_ms.store(crate::db::now_ms(), Relaxed);
                }
                Err(e) => tracing::error!("fsync of the warm tier failed: {e}"),
            }
            last_sync = Instant::now();
        }
        if stopping {
            return;
        }
        enforce_maxmemory(server);
        sweep_cursor = sweep(server, sweep_cursor);
    }
}

/// Slots whose warm-only keys one pass checks for expiry: a full round in about 7 minutes
/// at 100 ms a pass, a small slice of the store each time.
const SWEEP_SLOTS: u16 = 4;

/// The warm tier's active expiry, a few slots a pass; returns where the next pass resumes.
fn sweep(server: &Server, from: u16) -> u16 {
    let now = crate::db::now_ms();
    let mut slot = from;
    for _ in 0..SWEEP_SLOTS {
        let mut shard = server.keyspace.lock_shard(crate::db::shard_of(slot));
        shard.sweep_warm(slot, now);
        drop(shard);
        slot = (slot + 1) % autocache_proto::slot::SLOT_COUNT as u16;
    }
    slot
}

/// Reads bring entries up without a write to trigger eviction: demote here too.
fn enforce_maxmemory(server: &Server) {
    let max = server.settings.maxmemory.load(Relaxed);
    if max > 0 && server.memory.for_eviction() > max {
        let _ = crate::cmd::free_memory(server, max);
    }
}
