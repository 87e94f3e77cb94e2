//! Used memory, as the allocator (jemalloc) counts it: what INFO reports and what maxmemory
//! is enforced against. Reading jemalloc's statistics costs a refresh, so a background tick
//! refreshes a cached value; evictions subtract what they free in between.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Memory {
    used: AtomicU64,
    peak: AtomicU64,
    /// Allocated when the server started (empty keyspace): INFO's used_memory_startup.
    startup: AtomicU64,
    /// Buffers that are not data (a cold segment being built and uploaded): reported in
    /// used_memory, left out when enforcing maxmemory, as Redis leaves out replica and AOF
    /// buffers (INFO's mem_not_counted_for_evict).
    not_counted: AtomicU64,
    /// Serializes refreshes: one that read jemalloc before a buffer was freed must not store
    /// its figure after one that read after. Otherwise the tick racing a shrinking
    /// [`NotCounted`] can leave the freed buffer in `used` with `not_counted` already lowered:
    /// memory looks over the limit until the next tick, so writes evict everything and then
    /// fail with OOM (the suspect for one such failure under the test suite's load).
    refreshing: parking_lot::Mutex<()>,
}

/// Bytes left out of maxmemory while it lives (see [`Memory::not_counted`]).
pub struct NotCounted<'m> {
    memory: &'m Memory,
    bytes: u64,
}

impl NotCounted<'_> {
    /// The buffer grew or shrank to `bytes`. Shrinking refreshes the used figure first: the
    /// cached one still holds the freed buffer, and without it until the next tick every
    /// write would find memory over the limit.
    pub fn set(&mut self, bytes: u64) {
        if bytes >= self.bytes {
            self.memory
                .not_counted
                .fetch_add(bytes - self.bytes, Relaxed);
        } else {
            self.memory.refresh();
            self.memory
                .not_counted
                .fetch_sub(self.bytes - bytes, Relaxed);
        }
        self.bytes = bytes;
    }
}

impl Drop for NotCounted<'_> {
    fn drop(&mut self) {
        self.set(0);
    }
}

/// Bytes jemalloc holds for a buffer of `capacity` bytes: its size class, not the length
/// (a 4,110-byte value takes 5,120), which is what the used-memory figure counts. jemalloc's
/// classes: 8, then multiples of 16 up to 128, then four per doubling.
pub fn size_class(capacity: usize) -> usize {
    match capacity {
        0 => 0,
        1..=8 => 8,
        9..=128 => capacity.next_multiple_of(16),
        _ => {
            let doubling = usize::BITS - 1 - (capacity - 1).leading_zeros();
            capacity.next_multiple_of(1 << (doubling - 2))
        }
    }
}

/// Bytes currently allocated by the process, fresh from jemalloc.
pub fn allocated_now() -> u64 {
    if tikv_jemalloc_ctl::epoch::advance().is_err() {
        return 0;
    }
    tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64
}

/// Resident memory of the process's own (anonymous) pages from /proc (0 where unavailable).
/// Not VmRSS: that also counts the warm tier's files, which RocksDB maps to read; their pages
/// are page cache, shared and reclaimable, and would make `used_memory_rss` and the
/// fragmentation ratio grow with the data on disk.
pub fn rss_now() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

impl Memory {
    pub fn new() -> Memory {
        let m = Memory::default();
        m.refresh();
        m.startup.store(m.used(), Relaxed);
        m
    }

    pub fn startup(&self) -> u64 {
        self.startup.load(Relaxed)
    }

    pub fn refresh(&self) {
        let _one_at_a_time = self.refreshing.lock();
        let now = allocated_now();
        self.used.store(now, Relaxed);
        self.peak.fetch_max(now, Relaxed);
    }

    /// The cached figure (at most one tick old, minus evictions since).
    pub fn used(&self) -> u64 {
        self.used.load(Relaxed)
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Relaxed)
    }

    /// What maxmemory is enforced against: used memory without the buffers that are not
    /// data.
    pub fn for_eviction(&self) -> u64 {
        self.used().saturating_sub(self.not_counted())
    }

    pub fn not_counted(&self) -> u64 {
        self.not_counted.load(Relaxed)
    }

    /// Starts leaving a buffer out of maxmemory; `set` its size as it changes. Declare the
    /// guard before the buffers, so that they are freed before it is dropped.
    pub fn not_counted_guard(&self) -> NotCounted<'_> {
        NotCounted {
            memory: self,
            bytes: 0,
        }
    }

    /// An eviction freed about `bytes`.
    pub fn freed(&self, bytes: u64) {
        let _ = self
            .used
            .fetch_update(Relaxed, Relaxed, |u| Some(u.saturating_sub(bytes)));
    }
}

/// Redis's human-readable byte counts: `1.00M`, `512.00K`, `10B`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    const K: f64 = 1024.0;
    if b < K {
        format!("{bytes}B")
    } else if b < K * K {
        format!("{:.2}K", b / K)
    } else if b < K * K * K {
        format!("{:.2}M", b / (K * K))
    } else if b < K * K * K * K {
        format!("{:.2}G", b / (K * K * K))
    } else {
        format!("{:.2}T", b / (K * K * K * K))
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_are_jemallocs() {
        let cases = [
            (0, 0),
            (1, 8),
            (8, 8),
            (9, 16),
            (128, 128),
            (129, 160),
            (256, 256),
            (257, 320),
            (1024, 1024),
            (1025, 1280),
            (4110, 5120),
            (16384, 16384),
            (16385, 20480),
        ];
        for (capacity, class) in cases {
            assert_eq!(size_class(capacity), class, "capacity {capacity}");
        }
    }
}
