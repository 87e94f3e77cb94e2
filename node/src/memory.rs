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
}

/// Bytes currently allocated by the process, fresh from jemalloc.
pub fn allocated_now() -> u64 {
    if tikv_jemalloc_ctl::epoch::advance().is_err() {
        return 0;
    }
    tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64
}

/// Resident set size from /proc (0 where unavailable).
pub fn rss_now() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
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
